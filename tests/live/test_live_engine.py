"""The incremental engine (sipdiag.live) against analyze(): the same calls, streams, registrations and findings
for every lab sample, and state released as calls end so that memory stays bounded on an endless feed."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

import sipdiag
from benchmarks import gencapture
from sipdiag.checks import Finding, Severity
from sipdiag.live import LiveAnalyzer, keep_findings
from sipdiag.parsers.capture import read_capture
from sipdiag.parsers.livedecode import slice_batch
from sipdiag.reports.live import Dashboard
from sipdiag.watch import ReplayFeed, run_feed
from tests.callcapture import (PBX, UA, Script, bye, call_setup, calls_across_a_two_day_step, sip_message,
                               timer_schedule, two_way, unanswered_invite, unanswered_invite_and_lost_fragment)
from tests.conftest import SAMPLES

CAPTURES = [e["file"] for e in json.loads((SAMPLES / "manifest.json").read_text())["captures"]]


def _watch(path, **kwargs):
    events = []
    _, result = run_feed(ReplayFeed(path, None), LiveAnalyzer(on_event=events.append, **kwargs))
    return result, events


def _calls(analysis):
    return [(c.call_id, c.outcome, c.final_status, c.setup_ms, c.answer_ms, c.duration_s, c.ended_by, c.transport,
             [m.label for m in c.messages]) for c in analysis.calls]


def _streams(analysis):
    return sorted((s.stats.key, s.stats.packets, s.stats.lost, s.stats.jitter_max_ms, s.stats.codec, s.call_id,
                   s.binding.bound_by, s.binding.direction) for s in analysis.streams)


@pytest.mark.parametrize("name", CAPTURES)
def test_watch_engine_equals_analyze(name: str) -> None:
    expected = sipdiag.analyze(SAMPLES / name)
    result, events = _watch(SAMPLES / name)
    got = result.analysis
    assert _calls(got) == _calls(expected)
    assert _streams(got) == _streams(expected)
    assert [(r.aor, r.contact, r.outcome, r.final_status, r.challenges, r.attempts) for r in got.registrations] == [
        (r.aor, r.contact, r.outcome, r.final_status, r.challenges, r.attempts) for r in expected.registrations]
    assert sorted((f.rule, f.call_id, f.severity, f.frames) for f in got.findings) == sorted(
        (f.rule, f.call_id, f.severity, f.frames) for f in expected.findings)
    assert [(m.call_id, m.verdict.verdict) for m in got.media] == [(m.call_id, m.verdict.verdict)
                                                                  for m in expected.media]
    # every call was announced once when it ended, with its own findings
    ended = [e.summary.call.call_id for e in events if e.kind == "call"]
    assert sorted(ended) == sorted(c.call_id for c in expected.calls)
    assert result.totals.calls == len(expected.calls)


def test_findings_of_a_call_are_announced_when_it_ends() -> None:
    _, events = _watch(SAMPLES / "nat_one_way_audio.pcap")
    assert [(e.kind, e.finding.rule if e.finding else e.summary.call.outcome) for e in events] == [
        ("call", "answered"), ("finding", "nat.private-sdp-address"), ("finding", "media.one-way-audio"),
        ("finding", "nat.media-source-mismatch"), ("finding", "media.rtcp-issues")]


def test_state_is_released_as_calls_end(tmp_path) -> None:
    """300 overlapping calls with RTP, 10 kept: what the engine holds never grows with the calls ended."""
    path = tmp_path / "calls.pcap"
    gencapture.generate(path, calls=300, duration_s=2.0, span_s=30.0, loss=0.01, seed=5)
    engine = LiveAnalyzer(keep_calls=10)
    held = []

    def tick() -> None:
        held.append((len(engine.active), len(engine.correlator.calls), len(engine.slots), len(engine.router.owner),
                     len(engine.finished), len(engine.tombstones), len(engine.correlator.table.by_key)))

    decoder, result = run_feed(_Sliced(path), engine, on_tick=tick)
    assert result.totals.calls == 300 and sum(result.totals.outcomes.values()) == 300
    assert result.totals.calls_dropped == 290 and len(result.analysis.calls) == 10
    # after the end nothing of a call is held but the 10 summaries
    assert (len(engine.active), len(engine.correlator.calls), len(engine.slots), len(engine.router.owner)) == (
        0, 0, 0, 0)
    # while running: the calls in progress are those the traffic has in progress (+ the 2 s linger), never more
    expected = sipdiag.analyze(path)
    spans = [(c.start_ns, c.messages[-1].ts_ns + 3 * 10**9) for c in expected.calls]
    concurrency = max(sum(1 for s, e in spans if s <= t <= e) for t, _ in spans)
    assert 10 <= max(h[0] for h in held) <= concurrency + 2
    assert max(h[0] for h in held) == max(h[1] for h in held) == max(h[2] for h in held)
    assert max(h[3] for h in held) <= 8 * (concurrency + 2)  # RTP and RTCP endpoints of both sides, SDP and NAT
    assert max(h[4] for h in held) == 10
    newest = {c.call_id for c in sorted(expected.calls, key=lambda c: c.first_frame)[-10:]}
    assert {c.call_id for c in result.analysis.calls} <= {c.call_id for c in expected.calls}
    assert len(newest & {c.call_id for c in result.analysis.calls}) >= 8
    assert len(result.analysis.streams) == 20


class _Sliced(ReplayFeed):
    """The file in batches of `size` records, as a live feed delivers them (a file batch is 8 MiB, ~40 k records)."""

    def __init__(self, path, size: int = 500) -> None:
        super().__init__(path, None)
        self.size = size

    def batches(self):
        for batch in super().batches():
            for i in range(0, len(batch), self.size):
                yield slice_batch(batch, i, min(i + self.size, len(batch)))


def _finding(rule: str, severity: Severity, frame: int, cause=None, explains=()) -> Finding:
    return Finding(rule, "media", severity, "engineering", rule, "c", (frame,), {}, {}, {}, "high", cause, explains)


def test_filter_keeps_cause_links() -> None:
    findings = (_finding("call.z", Severity.CRITICAL, 50), _finding("nat.x", Severity.MAJOR, 3, explains=(2,)),
                _finding("media.y", Severity.MAJOR, 10, cause=1))
    assert [(f.rule, f.cause, f.explains) for f in keep_findings(findings, lambda f: f.rule != "call.z")] == [
        ("nat.x", None, (1,)), ("media.y", 0, ())]
    kept = keep_findings(findings, lambda f: f.rule != "nat.x")
    assert [(f.rule, f.cause, f.explains) for f in kept] == [("call.z", None, ()), ("media.y", None, ())]


def test_capture_wide_cause_of_a_call_finding_is_linked_as_analyze_links_it(tmp_path) -> None:
    """The capture-wide findings and the calls' own are linked in one pass, positions of the returned tuple:
    before, the capture-wide run's links were kept after filtering it, and router.udp-fragmentation "explained"
    itself (the terminal report then recursed forever)."""
    path = unanswered_invite_and_lost_fragment(tmp_path / "fragment.pcap")
    result, _ = _watch(path)
    links = [(f.rule, f.call_id, f.frames, f.cause, f.explains) for f in result.analysis.findings]
    assert links == [("call.invite-timeout", "cycle-1", (1, 2, 3, 4, 5, 6, 7), 1, ()),
                     ("router.udp-fragmentation", None, (8,), None, (0,))]
    assert links == [(f.rule, f.call_id, f.frames, f.cause, f.explains) for f in sipdiag.analyze(path).findings]


@pytest.mark.corpus
def test_watch_links_the_fuzzed_corpus_capture_as_analyze_does(corpus) -> None:
    """ndpi's fuzzed capture: IP fragments that never completed (capture-wide) explain the five unanswered INVITEs
    in watch as in analyze; before, watch's router.udp-fragmentation explained itself among others."""
    path = corpus / "pcaps" / "ndpi" / "fuzz-2006-06-26-2594.pcap"
    result, _ = _watch(path)
    links = [(f.rule, f.call_id, f.frames, f.cause, f.explains) for f in result.analysis.findings]
    assert links == [(f.rule, f.call_id, f.frames, f.cause, f.explains) for f in sipdiag.analyze(path).findings]
    # positions after the 4 critical reg.no-response findings (the 4 REGISTERs from 192.168.1.2:5060 to
    # 212.242.33.35:5060 are one finding), which sort first; the major ones by their first frame (every timeout
    # names the INVITE it was told from, after the first lost fragment at frame 46)
    assert [(i, f.rule, f.explains) for i, f in enumerate(result.analysis.findings) if f.explains] == [
        (4, "router.udp-fragmentation", (5, 6, 7, 8, 9))]
    assert [(f.cause, f.frames[0]) for f in result.analysis.findings if f.rule == "call.invite-timeout"] == [
        (4, 223), (4, 325), (4, 346), (4, 548), (4, 617)]


def calls_across_a_clock_step(path, step_s: float):
    """Three calls; the capture's clock steps by step_s at 5 s (capture.time-jump / capture.time-backwards):
    answered at 0.3 s with 1 s of RTP, its BYE at 15 s after the step; ringing from 1 s, answered at 10 s after it,
    BYE at 12 s; a whole call from 6 to 8 s after it. An OPTIONS at 5 s is the first record after the step, one
    at 20 s the last."""
    s = call_setup(Script(), "step-1")
    two_way(s, 0.4, 1.0)
    s.sip(1.0, sip_message("INVITE sip:300@example.com SIP/2.0", "step-2", "1 INVITE", src=UA, to_tag=False,
                           to_user="300", branch="i2"), UA, PBX)
    s.sip(1.1, sip_message("SIP/2.0 180 Ringing", "step-2", "1 INVITE", src=UA, to_user="300", branch="i2"), PBX, UA)
    for at in (5.0, 20.0):
        s.sip(at, sip_message("OPTIONS sip:x@example.com SIP/2.0", f"ka-{at}", "1 OPTIONS", src=UA, to_tag=False,
                              branch=f"ka{at}"), UA, PBX)
    call_setup(s, "step-3", to_user="400", at=6.0)
    bye(s, 8.0, "step-3")
    s.sip(10.0, sip_message("SIP/2.0 200 OK", "step-2", "1 INVITE", src=UA, to_user="300", branch="i2"), PBX, UA)
    s.sip(10.01, sip_message("ACK sip:300@example.com SIP/2.0", "step-2", "1 ACK", src=UA, to_user="300",
                             branch="a2"), UA, PBX)
    bye(s, 12.0, "step-2")
    bye(s, 15.0, "step-1")
    return s.write(path, step_at=5.0, step_s=step_s)


@pytest.mark.parametrize("step_s", [3 * 86_400.0, -400.0])
def test_a_step_of_the_capture_clock_ends_no_call_by_idleness(tmp_path, step_s: float) -> None:
    """Fed a record at a time, the engine sweeps after each. Idle time is counted from the first record after a
    step (sipdiag.clocksteps), so each call is ended by its BYE ("completed"), as analyze() reads it. Before, a jump
    of 3 days made the answered call idle (idle_s 300 s) and the ringing one timed out (Timer B) at the first
    record after it, and their BYEs were dropped as late messages; after a step back the capture time stood still
    at the newest time before it, so nothing was swept until the end of the capture."""
    path = calls_across_a_clock_step(tmp_path / "step.pcap", step_s)
    events = []
    _, result = run_feed(_Sliced(path, size=1), LiveAnalyzer(on_event=events.append))
    expected = sipdiag.analyze(path)
    assert _calls(result.analysis) == _calls(expected)
    # answer_ms and duration_s are unknown where the step lies between their two messages
    assert [(c.call_id, c.outcome, c.final_status, c.ended_by, c.answer_ms, c.duration_s)
            for c in result.analysis.calls] == [("step-1", "answered", 200, "caller", 300.0, None),
                                                ("step-2", "answered", 200, "caller", None, 2.0),
                                                ("step-3", "answered", 200, "caller", 300.0, 1.7)]
    ended = [(e.summary.call.call_id, e.summary.ended) for e in events if e.kind == "call"]
    assert ended == [("step-3", "completed"), ("step-2", "completed"), ("step-1", "completed")]
    assert (result.totals.late_messages, result.totals.outcomes) == (0, {"answered": 3})


def test_a_forward_step_under_a_day_ends_no_call_by_idleness(tmp_path) -> None:
    """A call with 9.6 s of two-way RTP whose capture clock steps 2 hours forward at 5 s (an NTP correction, a
    resumed VM), fed a record at a time. The analysis names no step (capture.time-jump is more than a day) and
    reads one answered call ended by its BYE; the first record after the jump is an OPTIONS of no call. Before, the
    sweep took the 2 hours for idle time there (idle_s 300 s): the call ended "idle", its later RTP went to no call
    and its BYE was dropped as a late message (duration 4.695 s instead of analyze's 7209.9 s, no BYE). The feed recorded nothing in those 2 hours, so they are no time
    the call was seen idle."""
    s = call_setup(Script(), "jump-1")
    two_way(s, 0.41, 9.6)
    for at in (5.0, 13.0):  # the first record after the jump, and the last one, after the BYE's linger
        s.sip(at, sip_message("OPTIONS sip:x@example.com SIP/2.0", f"ka-{at}", "1 OPTIONS", src=UA, to_tag=False,
                              branch=f"ka{at}"), UA, PBX)
    bye(s, 10.2, "jump-1")
    path = s.write(tmp_path / "jump.pcap", step_at=5.0, step_s=7200.0)
    expected = sipdiag.analyze(path)
    assert expected.capture.clock.count == 0
    events = []
    _, result = run_feed(_Sliced(path, size=1), LiveAnalyzer(on_event=events.append))
    assert _calls(result.analysis) == _calls(expected)
    assert [(c.call_id, c.outcome, c.duration_s, c.ended_by) for c in result.analysis.calls] == [
        ("jump-1", "answered", 7209.9, "caller")]
    # the RTP went on reaching the call (the jitter, 2 hours of arrival against 20 ms of timestamps, differs in the
    # last bits with the batch sizes)
    assert [(*k[:3], round(k[3], 6), *k[4:]) for k in _streams(result.analysis)] == [
        (*k[:3], round(k[3], 6), *k[4:]) for k in _streams(expected)]
    assert [(e.summary.call.call_id, e.summary.ended, e.summary.call.outcome, e.summary.call.ended_by)
            for e in events if e.kind == "call"] == [("jump-1", "completed", "answered", "caller")]
    assert (result.totals.late_messages, result.totals.rtp_unrouted, result.totals.outcomes) == (
        0, 0, {"answered": 1})


@pytest.mark.parametrize("step_s", [2 * 86_400.0, -2 * 86_400.0])
def test_calls_whose_rtp_goes_on_across_a_step_are_aged_on_one_clock(tmp_path, step_s: float) -> None:
    """An answered call and a ringing one with early media, their RTP going on across a two-day step of the
    capture's clock, fed 10 records (about 100 ms of their traffic) at a time as a live feed or a paced replay
    hands them on. Capture time is the newest record's, RTP included, so a call's age and "now" are on one clock
    and watch reads what analyze() reads: each call ended by its BYE or its 486, and the 486's finding. Before,
    capture time was the newest SIP-side record's: in the batch of the keepalive just before a step back, it was
    two days ahead of the calls' RTP after the step, so the answered call ended "idle" and the ringing one
    "timeout"; their later RTP went to no call and their BYE and 486 started two more calls (four, no finding)."""
    path = calls_across_a_two_day_step(tmp_path / "step.pcap", step_s)
    expected = sipdiag.analyze(path)
    assert expected.capture.clock.frames == (657,)  # the step is named: no time is measured across it
    events = []
    _, result = run_feed(_Sliced(path, size=10), LiveAnalyzer(on_event=events.append))
    assert _calls(result.analysis) == _calls(expected)
    assert _streams(result.analysis) == _streams(expected)
    # the duration is unknown: the step lies between the 200 OK and the BYE
    assert [(c.call_id, c.outcome, c.final_status, c.setup_ms, c.answer_ms, c.duration_s, c.ended_by)
            for c in result.analysis.calls] == [("jump-1", "answered", 200, None, 300.0, None, "caller"),
                                                ("ring-1", "busy", 486, 100.0, None, None, None)]
    assert [(f.rule, f.call_id, f.frames) for f in result.analysis.findings] == [
        (f.rule, f.call_id, f.frames) for f in expected.findings] == [("call.failure-response", "ring-1", (1447,))]
    assert [(m.call_id, m.verdict.verdict) for m in result.analysis.media] == [("jump-1", "two-way"),
                                                                               ("ring-1", "not-answered")]
    assert sorted((e.summary.call.call_id, e.summary.ended) for e in events if e.kind == "call") == [
        ("jump-1", "completed"), ("ring-1", "completed")]
    assert (result.totals.calls, result.totals.late_messages, result.totals.rtp_unrouted, result.totals.outcomes) == (
        2, 0, 0, {"answered": 1, "busy": 1})


def _ages(path) -> list[tuple[int, list[tuple[str, int, bool]]]]:
    """At each tick of a feed of 10 records at a time: capture time's frame, and each call in progress with the
    age a dashboard shows (in ns) and whether it is a lower bound."""
    engine = LiveAnalyzer()
    seen: list = []
    run_feed(_Sliced(path, size=10), engine, on_tick=lambda: seen.append((engine.now_frame, [
        (call.call_id, round(age.seconds * 1e9), age.at_least) for _, call, _, age in engine.active_calls()])))
    return seen


@pytest.mark.parametrize("step_s", [2 * 86_400.0, -2 * 86_400.0])
def test_the_age_of_a_call_in_progress_is_the_time_known_on_either_side_of_a_step(tmp_path, step_s: float) -> None:
    """The calls of test_calls_whose_rtp_goes_on_across_a_step_are_aged_on_one_clock, as a dashboard shows them
    in progress. Across the step their age is the time known to have passed (sipdiag.liveclock): the stretches of
    the clock before and after the step (sipdiag.clocksteps measures nothing across one), at least: the same
    capture without the step, less the difference between the records on either side of it, which is the clock's
    error. Before, it was now - start: two days after the jump forward, 0 after the step back."""
    steady = calls_across_a_two_day_step(tmp_path / "steady.pcap", 0.0)
    ts = next(read_capture(steady)).ts_ns
    lost = int(ts[656] - ts[655])  # frames 657 (the first record on the new clock) and 656
    assert lost == 5_000_000
    stepped, exact = _ages(calls_across_a_two_day_step(tmp_path / "step.pcap", step_s)), _ages(steady)
    assert [frame for frame, _ in stepped] == [frame for frame, _ in exact]
    assert [rows for frame, rows in stepped if frame < 657] == [rows for frame, rows in exact if frame < 657]
    assert [rows for frame, rows in stepped if frame >= 657] == [
        [(call_id, ns - lost, True) for call_id, ns, _ in rows] for frame, rows in exact if frame >= 657]
    # the last tick with both calls in progress: the BYE answered, the 486 ACKed, each lingering
    assert stepped[-2] == (1660, [("jump-1", 12_515_000_000, True), ("ring-1", 11_515_000_000, True)])
    assert exact[-2] == (1660, [("jump-1", 12_520_000_000, False), ("ring-1", 11_520_000_000, False)])


@pytest.mark.parametrize("step_s", [2 * 86_400.0, -2 * 86_400.0])
def test_the_dashboard_shows_a_calls_age_across_a_step_as_at_least_the_known_time(tmp_path, step_s: float) -> None:
    """The "since s" column of `sipdiag watch`'s calls in progress at the last tick of both calls of
    calls_across_a_two_day_step: `>=13` and `>=12`, at least the 12.515 and 11.515 s known (the time across the step
    is not), where now - start showed 172813 and 172812 after the jump forward and 0 after the step back."""
    path = calls_across_a_two_day_step(tmp_path / "step.pcap", step_s)
    engine = LiveAnalyzer()
    view = Dashboard(engine, io.StringIO(), "step.pcap")
    engine.on_event = view
    shown: list[str] = []

    def tick() -> None:
        if engine.now_frame == 1660:
            out = io.StringIO()
            Console(file=out, width=100, emoji=False).print(view.render().renderables[1])  # the calls in progress
            shown.append(out.getvalue())

    run_feed(_Sliced(path, size=10), engine, on_tick=tick)
    view.close()
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in shown[-1].splitlines() if line.startswith("│")]
    assert rows == [["1", "sip:100@example.com", "sip:200@example.com", "answered 200", ">=13", "1200"],
                    ["2", "sip:100@example.com", "sip:300@example.com", "busy 486", ">=12", "450"]]


def test_an_unanswered_call_at_t1_two_seconds_is_held_until_its_timer_b(tmp_path) -> None:
    """A UAC at T1 = 2 s: sends at 0, 2, 6, 14, 30, 62, 126 s, Timer B at 128 s; a monitor's OPTIONS every 2 s keep
    the capture's time going, fed a record at a time. The engine ended an unanswered call 36 s after its last
    message (past Timer B of T1 = 0.5 s), so at 98 s while its sender was still retransmitting: the copy at 126 s
    went to a tombstone. It now waits 64*T1 + 4 s of the INVITE's own T1 (its retransmission gaps) and reads the
    call as analyze() does."""
    path = unanswered_invite(tmp_path / "t1-2s.pcap", timer_schedule(2.0), end=140.0, keepalive=(1.0, 139.0, 69))
    expected = sipdiag.analyze(path)
    events = []
    _, result = run_feed(_Sliced(path, size=1), LiveAnalyzer(on_event=events.append))
    assert _calls(result.analysis) == _calls(expected)
    assert [m.label for m in result.analysis.calls[0].messages] == ["INVITE +SDP"] * 7
    assert [(e.summary.call.outcome, e.summary.ended) for e in events if e.kind == "call"] == [
        ("timeout", "end-of-capture")]
    assert result.totals.late_messages == 0
