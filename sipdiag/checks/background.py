"""The rule engine on both cores while the JSON document is written (the capture reader has finished by then, so
one core is idle during the last stage).

    pending = start_checks(analysis, select=..., ignore=..., settings=...)
    render_json(analysis, out, findings=pending)     # calls and streams are written while the rules run
    analysis = replace(analysis, findings=pending())

A forked child and this process share the rules by taking them one at a time from a pipe that holds one token per
rule (a read of a token is atomic: two readers never get the same one): the child starts at once, this process
joins when the findings are asked for, after the calls and streams are written. Whoever is free takes the next
rule, so the two finish together however the rules' costs fall (a fixed split by count left the child with 94 %
of the work on the 1 M-packet benchmark capture: the costly rules come first in the registry). The child sends
its findings back pickled, by rule; this process orders the two sets together by rule (`order_findings`: the
same result as one `run_checks`). Where fork is missing, or the analysis is so small that a fork costs more than
the rules, the rules run here at once.
"""

from __future__ import annotations

import gc
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import Finding, Rule, order_findings, rule_findings, run_checks, selected_rules

if TYPE_CHECKING:
    from ..analysis import Analysis

MIN_OBJECTS = 400  # calls + streams + registrations below which the rules finish before a fork would pay off
TOKEN = 2  # bytes per rule index in the token pipe (big-endian)


def start_checks(analysis: Analysis, *, select: Iterable[str] = (), ignore: Iterable[str] = (),
                 settings: Mapping[str, Any] | None = None) -> Callable[[], tuple[Finding, ...]]:
    """The findings of run_checks(analysis, ...), as a callable that gives them when asked. settings: as
    run_checks' (None = the analysis' own, `Analysis.settings`, which the forked child inherits with the rest)."""
    select, ignore = tuple(select), tuple(ignore)
    size = len(analysis.calls) + len(analysis.streams) + len(analysis.registrations)
    if not hasattr(os, "fork") or size < MIN_OBJECTS:
        found = run_checks(analysis, select=select, ignore=ignore, settings=settings)
        return lambda: found
    rules = selected_rules(select, ignore)
    tokens_r, tokens_w = os.pipe()
    # Every token is written before the fork (a few hundred bytes: far below the pipe's capacity), then the
    # write end is closed: an empty pipe then reads as end of file, meaning no rule is left.
    os.write(tokens_w, b"".join(i.to_bytes(TOKEN, "big") for i in range(len(rules))))
    os.close(tokens_w)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never flushes the parent's buffered output (os._exit)
        try:
            gc.disable()  # short-lived: reference counting frees what it makes (see analysis.analyze)
            os.close(read_fd)
            try:
                data = pickle.dumps((True, _take_rules(analysis, rules, settings, tokens_r)),
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
            try:
                own = _take_rules(analysis, rules, settings, tokens_r)
            finally:
                os.close(tokens_r)
            # Read as it is unpickled, not into one bytes object first: on a large capture the pickled findings
            # are megabytes (2.5 MB on the 4 M-packet benchmark capture) that would sit beside the findings made
            # of them, at this process's peak.
            with os.fdopen(read_fd, "rb") as pipe:
                try:
                    ok, value = pickle.load(pipe)
                except (EOFError, pickle.UnpicklingError, ValueError):  # nothing, or cut short
                    ok, value = False, "the rule engine's process ended without a result"
            os.waitpid(pid, 0)
            if not ok:
                raise RuntimeError(f"rule engine failed: {value}")
            by_rule = {**value, **own}
            if len(by_rule) != len(rules):
                raise RuntimeError(f"rule engine failed: {len(rules) - len(by_rule)} rule(s) were not run")
            result.append(order_findings([f for i in range(len(rules)) for f in by_rule[i]], analysis))
        return result[0]

    return findings


def _take_rules(analysis: Analysis, rules: list[Rule], settings: Mapping[str, Any] | None,
                tokens: int) -> dict[int, list[Finding]]:
    """Run rules taken from the token pipe until it is empty; their findings by rule index."""
    from .deviceinfo import DeviceIndex

    devices = DeviceIndex(analysis)
    shared: dict[Any, Any] = {}
    out: dict[int, list[Finding]] = {}
    while True:
        token = os.read(tokens, TOKEN)
        if not token:
            return out
        i = int.from_bytes(token, "big")
        out[i] = rule_findings(analysis, (rules[i],), settings, devices, shared)
