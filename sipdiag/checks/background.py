"""The rule engine on both cores, in two stages, while the last stages of an analysis run (the capture reader has
finished by then, so one core would be idle).

    early = EarlyRules(select=..., ignore=..., settings=...)
    analysis = analyze(path, rules=False, early=early)   # stage 1 starts before the streams are bound and rated
    pending = start_checks(analysis, select=..., ignore=..., settings=..., early=early)
    render_json(analysis, out, findings=pending)     # calls and streams are written while the rules run
    analysis = replace(analysis, findings=pending())

Stage 1 (EarlyRules, optional): once the calls are built, a forked child runs the rules that need no media on an
analysis whose streams and media are not made yet, while this process binds the streams to their calls and rates
them (sipdiag.media.build_media: 0.45 s of the 1 M-packet benchmark capture, with the other core idle); where the
capture reader runs in a process of its own, it starts before the reader has finished the RTP statistics
(sipdiag.ingest.CaptureRead), which that analysis then lacks too. The rules are not sorted by hand into
"signalling" and "media": a rule that touches the missing fields meets `NotReady` (they hold
sipdiag.later.LATER, which refuses every use) and is put off to stage 2, so a rule gives exactly what it
gives on the whole analysis, wherever it runs. Of the 52 rules, 34 ran in stage 1 on that capture (0.43 s of
their 0.80 s); the media rules that tried took 13 ms before giving up.

Stage 2 (start_checks): a second forked child and this process share the rest. Processes share rules by taking
them one at a time from pipes that hold one token per rule (a read of a token is atomic: two readers never get the
same one): the rules stage 1 has not taken, then the ones it put off. The child starts at once, this process joins
when the findings are asked for, after the calls and streams are written. Whoever is free takes the next rule, so
the processes finish together however the rules' costs fall (a fixed split by count left the child with 94 % of
the work on the 1 M-packet benchmark capture: the costly rules come first in the registry). The children send
their findings back pickled, by rule; this process orders the sets together by rule (`order_findings`: the same
result as one `run_checks`). Where fork is missing, or the analysis is so small that a fork costs more than the
rules, the rules run here at once.
"""

from __future__ import annotations

import gc
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..later import LATER
from . import Finding, Rule, order_findings, rule_findings, run_checks, selected_rules

if TYPE_CHECKING:
    from ..analysis import Analysis

MIN_OBJECTS = 400  # calls + streams + registrations below which the rules finish before a fork would pay off
TOKEN = 2  # bytes per rule index in the token pipe (big-endian)


class EarlyRules:
    """Stage 1: the hook `analyze(..., early=)` calls with the analysis as it stands before its streams are bound
    (sipdiag.analysis); pass the same object to start_checks, which runs the rest."""

    def __init__(self, *, select: Iterable[str] = (), ignore: Iterable[str] = (),
                 settings: Mapping[str, Any] | None = None) -> None:
        self.select, self.ignore, self.settings = tuple(select), tuple(ignore), settings
        # (rules, their tokens, the put-off tokens, the child's pid, its findings' pipe); None: not started
        self.started: tuple[list[Rule], int, int, int, int] | None = None

    def __call__(self, analysis: Analysis) -> None:
        rtp = analysis.rtp  # LATER while the capture reader finishes the streams (sipdiag.ingest.CaptureRead)
        streams = len(rtp.streams) if rtp is not None and rtp is not LATER else 0
        size = len(analysis.calls) + len(analysis.registrations) + streams
        if not hasattr(os, "fork") or size < MIN_OBJECTS or self.started is not None:
            return
        rules = selected_rules(self.select, self.ignore)
        waiting = _waiting(analysis)
        tokens = _tokens(len(rules))
        later_r, later_w = os.pipe()
        settings = self.settings
        pid, results = _fork(lambda: _take_early(waiting, rules, settings, tokens, later_w), close=(later_r,))
        os.close(later_w)  # the child's copy is the last: its end of the pipe ends the put-off rules
        self.started = (rules, tokens, later_r, pid, results)


def _waiting(analysis: Analysis) -> Analysis:
    """A copy of the analysis (with its own rule cache) whose media fields refuse every use (its `rtp` already
    does while the capture reader finishes the streams)."""
    waiting = replace(analysis)
    for name in ("streams", "media", "rtp_packets", "_media_by_call"):
        object.__setattr__(waiting, name, LATER)
    return waiting


def start_checks(analysis: Analysis, *, select: Iterable[str] = (), ignore: Iterable[str] = (),
                 settings: Mapping[str, Any] | None = None, early: EarlyRules | None = None
                 ) -> Callable[[], tuple[Finding, ...]]:
    """The findings of run_checks(analysis, ...), as a callable that gives them when asked. settings: as
    run_checks' (None = the analysis' own, `Analysis.settings`, which the forked child inherits with the rest).
    early: the EarlyRules the analysis was made with (same select, ignore and settings), whose stage 1 may be
    running: its findings are merged, and what it left is run here."""
    select, ignore = tuple(select), tuple(ignore)
    if early is not None and early.started is not None:
        rules, tokens, later, first, first_results = early.started
        early.started = None
        queues: tuple[int, ...] = (tokens, later)
        children = [(first, first_results)]
    else:
        size = len(analysis.calls) + len(analysis.streams) + len(analysis.registrations)
        if not hasattr(os, "fork") or size < MIN_OBJECTS:
            found = run_checks(analysis, select=select, ignore=ignore, settings=settings)
            return lambda: found
        rules = selected_rules(select, ignore)
        queues, children = (_tokens(len(rules)),), []
    children.append(_fork(lambda: _take_rules(analysis, rules, settings, queues),
                          close=tuple(results for _, results in children)))
    result: list[tuple[Finding, ...]] = []

    def findings() -> tuple[Finding, ...]:
        if not result:
            try:
                by_rule = _take_rules(analysis, rules, settings, queues)
            finally:
                for fd in queues:
                    os.close(fd)
            for pid, results in children:
                by_rule.update(_receive(pid, results))
            if len(by_rule) != len(rules):
                raise RuntimeError(f"rule engine failed: {len(rules) - len(by_rule)} rule(s) were not run")
            result.append(order_findings([f for i in range(len(rules)) for f in by_rule[i]], analysis))
        return result[0]

    return findings


def _tokens(n: int) -> int:
    """The read end of a pipe holding the tokens of rules 0..n-1. Every token is written before a fork (a few
    hundred bytes: far below the pipe's capacity), then the write end is closed: an empty pipe then reads as end of
    file, meaning no rule is left."""
    tokens_r, tokens_w = os.pipe()
    os.write(tokens_w, b"".join(i.to_bytes(TOKEN, "big") for i in range(n)))
    os.close(tokens_w)
    return tokens_r


def _fork(work: Callable[[], dict[int, list[Finding]]], close: tuple[int, ...] = ()) -> tuple[int, int]:
    """(pid, read end of its findings' pipe) of a child that runs `work` and sends back its findings by rule."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never flushes the parent's buffered output (os._exit)
        try:
            gc.disable()  # short-lived: reference counting frees what it makes (see analysis.analyze)
            for fd in (read_fd, *close):
                os.close(fd)
            try:
                data = pickle.dumps((True, work()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
                data = pickle.dumps((False, f"{type(e).__name__}: {e}"))
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(data)
        finally:
            os._exit(0)
    os.close(write_fd)
    return pid, read_fd


def _receive(pid: int, read_fd: int) -> dict[int, list[Finding]]:
    # Read as it is unpickled, not into one bytes object first: on a large capture the pickled findings are
    # megabytes (2.5 MB on the 4 M-packet benchmark capture) that would sit beside the findings made of them, at
    # this process's peak.
    with os.fdopen(read_fd, "rb") as pipe:
        try:
            ok, value = pickle.load(pipe)
        except (EOFError, pickle.UnpicklingError, ValueError):  # nothing, or cut short
            ok, value = False, "the rule engine's process ended without a result"
    os.waitpid(pid, 0)
    if not ok:
        raise RuntimeError(f"rule engine failed: {value}")
    return value


def _take_early(analysis: Analysis, rules: list[Rule], settings: Mapping[str, Any] | None, tokens: int,
                later: int) -> dict[int, list[Finding]]:
    """Stage 1: run rules taken from `tokens` on the analysis without media; the token of a rule that needs media
    goes to `later`, whose write end is closed before the findings are sent (stage 2 reads it to its end, then
    this child's findings)."""
    from .deviceinfo import DeviceIndex

    devices = DeviceIndex(analysis)
    shared: dict[Any, Any] = {}
    out: dict[int, list[Finding]] = {}
    try:
        while token := os.read(tokens, TOKEN):
            i = int.from_bytes(token, "big")
            try:
                out[i] = rule_findings(analysis, (rules[i],), settings, devices, shared)
            except Exception:  # noqa: BLE001 - NotReady, or what a rule did with a placeholder: stage 2 runs it
                # on the whole analysis, where it gives its findings, or raises as it would in run_checks
                os.write(later, token)
    finally:
        os.close(later)
    return out


def _take_rules(analysis: Analysis, rules: list[Rule], settings: Mapping[str, Any] | None,
                queues: tuple[int, ...]) -> dict[int, list[Finding]]:
    """Run rules taken from the token pipes, each to its end in turn; their findings by rule index."""
    from .deviceinfo import DeviceIndex

    devices = DeviceIndex(analysis)
    shared: dict[Any, Any] = {}
    out: dict[int, list[Finding]] = {}
    for tokens in queues:
        while token := os.read(tokens, TOKEN):
            i = int.from_bytes(token, "big")
            out[i] = rule_findings(analysis, (rules[i],), settings, devices, shared)
    return out
