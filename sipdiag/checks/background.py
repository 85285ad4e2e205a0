"""The rule engine on both cores while the JSON document is written (the capture reader has finished by then, so
one core is idle during the last stage).

    pending = start_checks(analysis, select=..., ignore=..., settings=...)
    render_json(analysis, out, findings=pending)     # calls and streams are written while the rules run
    analysis = replace(analysis, findings=pending())

A forked child runs the first CHILD_SHARE of the rules on its copy of the analysis (copy-on-write: nothing is
copied up front) and sends their findings back pickled; this process writes the calls and streams, runs the other
rules when the findings are asked for, and orders the two lists together (`order_findings`: the same result as one
`run_checks`). Where fork is missing, or the analysis is so small that a fork costs more than the rules, the rules
run here at once.
"""

from __future__ import annotations

import gc
import math
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import Finding, order_findings, rule_findings, run_checks, selected_rules

if TYPE_CHECKING:
    from ..analysis import Analysis

MIN_OBJECTS = 400  # calls + streams + registrations below which the rules finish before a fork would pay off
# The child's share of the rules (by count, in registry order). This process writes the calls and streams first
# (on the 1 M-packet benchmark: 0.17 s against 0.39 s of rules), so it takes the smaller part.
CHILD_SHARE = 0.7


def start_checks(analysis: Analysis, *, select: Iterable[str] = (), ignore: Iterable[str] = (),
                 settings: Mapping[str, Any] | None = None) -> Callable[[], tuple[Finding, ...]]:
    select, ignore = tuple(select), tuple(ignore)
    size = len(analysis.calls) + len(analysis.streams) + len(analysis.registrations)
    if not hasattr(os, "fork") or size < MIN_OBJECTS:
        found = run_checks(analysis, select=select, ignore=ignore, settings=settings)
        return lambda: found
    rules = selected_rules(select, ignore)
    split = math.ceil(len(rules) * CHILD_SHARE)
    theirs, mine = rules[:split], rules[split:]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never flushes the parent's buffered output (os._exit)
        try:
            gc.disable()  # short-lived: reference counting frees what it makes (see analysis.analyze)
            os.close(read_fd)
            try:
                data = pickle.dumps((True, rule_findings(analysis, theirs, settings)),
                                    protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
                data = pickle.dumps((False, f"{type(e).__name__}: {e}"))
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(data)
        finally:
            os._exit(0)
    os.close(write_fd)
    result: list[tuple[Finding, ...]] = []

    def findings() -> tuple[Finding, ...]:
        if not result:
            own = rule_findings(analysis, mine, settings)
            with os.fdopen(read_fd, "rb") as pipe:
                data = pipe.read()
            os.waitpid(pid, 0)
            ok, value = pickle.loads(data) if data else (False, "the rule engine's process ended without a result")
            if not ok:
                raise RuntimeError(f"rule engine failed: {value}")
            result.append(order_findings(value + own, analysis))
        return result[0]

    return findings
