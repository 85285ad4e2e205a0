"""Nothing is measured across a step of the capture's clock (sipdiag.clocksteps): a call whose BYE was stamped after
the clock stepped back has no duration and no finding that needs one, a stream across a step has no duration,
jitter or MOS (never a negative duration) and is bound to its call by frame order, a round trip across a step is
not one. The steps themselves are kept by frame, in bounded memory."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest

import sipdiag
from sipdiag.clocksteps import ClockStepLog, ClockSteps, LastStep
from sipdiag.correlate import EXPIRE_EVERY
from sipdiag.live import LiveAnalyzer
from sipdiag.liveclock import KEEP, KnownAge, KnownClock, Reading, age
from sipdiag.media import Binding
from sipdiag.parsers.anomalies import AnomalyLog
from sipdiag.parsers.scan import time_steps
from sipdiag.reports.json import render_json
from sipdiag.watch import ReplayFeed, run_feed
from tests.callcapture import (PBX, PBX_RTP, SDP, UA, UA_RTP, Script, bye, call_setup, lsr_of, rtcp_rr, rtcp_sr,
                               sip_message, two_way)
from tests.conftest import validate_json_document

S = 1_000_000_000


def document(analysis) -> dict:
    out = io.StringIO()
    render_json(analysis, out)
    return validate_json_document(out.getvalue())


def test_steps_are_kept_by_frame_and_compared_by_frame() -> None:
    log = ClockStepLog()
    # frames 10..14: 2 s back at 12, 3 days forward at 13; frame 15 (next batch) 2 days forward
    ts = np.array([100 * S, 100 * S - 5_000_000, 98 * S, 98 * S + 3 * 86_400 * S, 98 * S + 3 * 86_400 * S + 1])
    time_steps(ts, 10, None, AnomalyLog(), log)
    time_steps(np.array([ts[-1] + 2 * 86_400 * S]), 15, int(ts[-1]), AnomalyLog(), log)
    clock = log.steps()
    assert clock == ClockSteps((12, 13, 15), 3)
    assert (clock.stepped, clock.unusable) == (True, False)
    # a step at frame s lies between s-1 and s
    assert [clock.sound(a, b) for a, b in ((10, 11), (11, 12), (12, 11), (12, 12), (13, 14), (14, 15), (1, 30))] == [
        True, False, False, True, True, False, False]
    assert clock.elapsed_ns(13, 5, 14, 12) == 7
    assert clock.elapsed_ns(11, 5, 13, 12) is None
    assert clock.sound(None, 14) is False
    assert ClockSteps().sound(None, None) is True  # no step: every span is measured, as before
    # the newest step, for ages measured while reading: from before it they count from the record after it
    after = int(ts[-1]) + 2 * 86_400 * S
    assert clock.last == LastStep(15, after)
    assert [clock.last.since(f, 7) for f in (14, 15, 16, None)] == [after, 7, 7, 7]
    assert ClockSteps().last.since(1, 7) == 7


def test_the_known_clock_sums_the_stretches_between_steps_and_reads_a_record_by_frame() -> None:
    """sipdiag.liveclock: a record's known time is its time less the steps before it (the same steps time_steps
    names: back more than a second, forward more than a day), so the age between two records is the time on each
    stretch of the clock between them, at least where a step lies between them. A record is read with the steps
    before its own frame, also one of an earlier batch handed on late; one older than the KEEP steps kept, with the
    steps before the oldest kept."""
    day = 86_400 * S
    clock = KnownClock()
    # frames 1-5: 0, 1 s, then a jump of two days and a second (frame 3), 2 s later a step back of three days
    # less a second (frame 5): on the known clock 0, 1, 1, 3, 3 s
    clock.records(1, np.array([0, S, 2 * day + 2 * S, 2 * day + 4 * S, -day + 5 * S], dtype=np.int64))
    assert (clock.offset_ns, clock.steps) == (-day + 2 * S, 2)
    start = clock.reading(1, 0)
    assert [clock.reading(f, t) for f, t in ((2, S), (3, 2 * day + 2 * S), (5, -day + 5 * S))] == [
        Reading(S, 0), Reading(S, 1), Reading(3 * S, 2)]
    assert [str(age(start, clock.reading(f, t))) for f, t in ((2, S), (4, 2 * day + 4 * S), (5, -day + 5 * S))] == [
        "1", ">=3", ">=3"]
    # a later batch, 60 s on; frame 4 handed on late (a TCP segment) is still read with the one step before it
    clock.records(6, np.array([-day + 65 * S], dtype=np.int64))
    assert age(start, clock.reading(6, -day + 65 * S)) == KnownAge(63.0, True)
    assert clock.reading(4, 2 * day + 4 * S) == Reading(3 * S, 1)
    # a clock stepping back and forth at every record: the newest KEEP steps are kept, the older ones summed
    clock.records(7, np.array([(k % 2) * 3 * day for k in range(1, KEEP + 11)], dtype=np.int64))
    assert (clock.steps, len(clock._frames)) == (KEEP + 12, KEEP)
    # frame 5, older than the oldest step kept (frame 17): read with the 12 steps before that one, not its own 2
    assert (clock.reading(5, -day + 5 * S).steps, clock.reading(17, 3 * day).steps) == (12, 13)
    assert KnownClock().reading(9, 7 * S) == Reading(7 * S, 0)  # no records read: every time as it is


def test_a_clock_stepping_at_every_record_is_unusable_in_bounded_memory() -> None:
    log = ClockStepLog(budget=100)
    ts = np.tile(np.array([0, 10 * S]), 100_000)  # back 10 s every other record
    for start in range(0, len(ts), 10_000):
        time_steps(ts[start : start + 10_000], start + 1, int(ts[start - 1]) if start else None, AnomalyLog(), log)
    assert (log.count, log.parts) == (99_999, [])
    clock = log.steps()
    assert clock == ClockSteps((), 99_999)
    assert clock.last == LastStep(199_999, 0)  # kept when the frames are not
    assert (clock.unusable, clock.sound(5, 5), clock.sound(5, 6)) == (True, True, False)
    assert len(pickle.dumps(clock)) < 100  # crosses the capture process's pipe (sipdiag.ingest)


def ack_never_arrives(path: Path, *, step: bool) -> Path:
    """INVITE, 180, a 200 OK retransmitted for 32 s (no ACK), an OPTIONS at 90 s and the callee's BYE at 100.3 s;
    with `step`, the clock steps back 68 s at the BYE, which is then stamped 32 s after the 200 OK."""
    s = Script()
    s.sip(0.0, sip_message("INVITE sip:200@example.com SIP/2.0", "clk-1", "1 INVITE", src=UA, to_tag=False,
                           body=SDP.format(ip=UA[0], port=UA_RTP)), UA, PBX)
    s.sip(0.1, sip_message("SIP/2.0 180 Ringing", "clk-1", "1 INVITE", src=UA), PBX, UA)
    ok = sip_message("SIP/2.0 200 OK", "clk-1", "1 INVITE", src=UA, body=SDP.format(ip=PBX[0], port=PBX_RTP),
                     contact=f"<sip:200@{PBX[0]}:5060>")
    for at in (0.3, 0.8, 1.8, 3.8, 7.8, 11.8, 15.8, 19.8, 23.8, 27.8, 31.8):  # RFC 3261 §13.3.1.4
        s.sip(at, ok, PBX, UA)
    s.sip(90.0, sip_message("OPTIONS sip:200@example.com SIP/2.0", "ka-1", "1 OPTIONS", src=UA, to_tag=False,
                            branch="ka1"), UA, PBX)
    bye(s, 100.3, "clk-1", from_callee=True)
    return s.write(path, step_at=100.3 if step else None, step_s=-68.0)


def test_a_bye_after_the_clock_stepped_back_gives_no_duration_and_no_32_s_teardown(tmp_path: Path) -> None:
    a = sipdiag.analyze(ack_never_arrives(tmp_path / "step.pcap", step=True))
    assert [(x.code, x.frame) for x in a.anomalies] == [("capture.time-backwards", 15)]
    assert a.capture.clock == ClockSteps((15,), 1)
    (call,) = a.calls
    # INVITE -> 180 -> 200 lie before the step: measured; 200 -> BYE lies across it: not
    assert (call.outcome, call.setup_ms, call.answer_ms, call.duration_s, call.bye_frame) == (
        "answered", 100.0, 300.0, None, 15)
    # the BYE is stamped 32.0 s after the 200 OK: not call.ack-timeout-32s
    assert [f.rule for f in a.findings] == ["media.no-rtp"]
    doc = document(a)
    assert doc["capture"]["duration_s"] is None and doc["capture"]["clock_steps"] == 1
    assert doc["calls"][0]["duration_s"] is None
    assert [m["after_ms"] for m in doc["calls"][0]["messages"]] == [
        0.0, 100.0, 300.0, 800.0, 1800.0, 3800.0, 7800.0, 11800.0, 15800.0, 19800.0, 23800.0, 27800.0, 31800.0,
        None, None]
    # the same call with a clock that does not step
    same = sipdiag.analyze(ack_never_arrives(tmp_path / "steady.pcap", step=False))
    assert (same.calls[0].duration_s, [f.rule for f in same.findings]) == (100.0, ["media.no-rtp"])


@pytest.mark.parametrize("step_s", [-3600.0, 2 * 86_400.0])
def test_a_call_without_bye_running_across_a_step_to_the_capture_end_has_no_duration(tmp_path: Path,
                                                                                      step_s: float) -> None:
    # answered at 0.3 s, RTP both ways until 12.4 s, no BYE, the clock steps at 5 s: the call ran to the capture's
    # end across the step, so its duration is unknown. After a step back the capture's end is stamped before the
    # ACK and the duration was the 200 -> ACK span (0.01 s).
    script = call_setup(Script(), "nobye-1")
    two_way(script, 0.41, 12.0)
    (call,) = sipdiag.analyze(script.write(tmp_path / "nobye.pcap", step_at=5.0, step_s=step_s)).calls
    assert (call.outcome, call.answer_ms, call.duration_s, call.bye_frame) == ("answered", 300.0, None, None)
    steady = call_setup(Script(), "nobye-1")
    two_way(steady, 0.41, 12.0)
    assert sipdiag.analyze(steady.write(tmp_path / "steady.pcap")).calls[0].duration_s == 12.095


def stream_call(path: Path, step_s: float) -> Path:
    """INVITE, 200 OK at 0.3 s, ACK, 20 s of RTP both ways from 0.5 s, BYE at 21 s; the clock steps at 10 s."""
    script = call_setup(Script(), "clk-2")
    two_way(script, 0.5, 20.0)  # 1000 packets each way
    bye(script, 21.0, "clk-2")
    return script.write(path, step_at=10.0, step_s=step_s)


@pytest.mark.parametrize(("step_s", "code"), [(-3600.0, "capture.time-backwards"),
                                              (2 * 86_400.0, "capture.time-jump")])
def test_streams_across_a_step_have_no_timings_and_bind_by_frame(tmp_path: Path, step_s: float,
                                                                  code: str) -> None:
    a = sipdiag.analyze(stream_call(tmp_path / "stream.pcap", step_s))
    assert [(x.code, x.frame) for x in a.anomalies] == [(code, 954)]
    (call,) = a.calls
    assert (call.outcome, call.answer_ms, call.duration_s) == ("answered", 300.0, None)
    assert [(m.stats.first_frame, m.stats.last_frame, m.stats.packets, m.stats.lost, m.stats.duration_s,
             m.stats.jitter_max_ms, m.stats.max_delta_ms, m.stats.late_50ms, m.quality, m.series, m.binding)
            for m in a.streams] == [
        (4, 2002, 1000, 0, None, None, None, None, None, None, Binding("clk-2", "caller->callee", "sdp")),
        (5, 2003, 1000, 0, None, None, None, None, None, None, Binding("clk-2", "callee->caller", "sdp")),
    ]
    (media,) = a.media
    assert (media.verdict.verdict, media.verdict.stopped_early_s) == ("two-way", None)
    assert a.findings == ()  # no jitter, gap, clock-rate or timestamp finding from a stepped clock
    doc = document(a)
    assert [(s["duration_s"], s["jitter_max_ms"], s["call_id"]) for s in doc["streams"]] == [
        (None, None, "clk-2"), (None, None, "clk-2")]


@pytest.mark.parametrize("step_s", [-3600.0, 2 * 86_400.0])
def test_watch_measures_across_a_step_as_analyze_does(tmp_path: Path, step_s: float) -> None:
    path = stream_call(tmp_path / "stream.pcap", step_s)
    _, result = run_feed(ReplayFeed(path, None), LiveAnalyzer())
    a = result.analysis
    assert [(c.answer_ms, c.duration_s) for c in a.calls] == [(300.0, None)]
    assert [(m.stats.duration_s, m.stats.jitter_max_ms, m.binding) for m in a.streams] == [
        (None, None, Binding("clk-2", "caller->callee", "sdp")),
        (None, None, Binding("clk-2", "callee->caller", "sdp")),
    ]
    assert a.findings == ()


@pytest.mark.parametrize(("step", "rtt_ms"), [(False, 120.0), (True, None)])
def test_an_rtcp_round_trip_across_a_step_is_not_measured(tmp_path: Path, step: bool, rtt_ms: float | None) -> None:
    script = Script()
    script.rtcp(1.0, (PBX[0], PBX_RTP + 1), (UA[0], UA_RTP + 1), rtcp_sr(0x2222, 1.0))
    script.rtcp(1.62, (UA[0], UA_RTP + 1), (PBX[0], PBX_RTP + 1), rtcp_rr(0x1111, 0x2222, lsr=lsr_of(1.0),
                                                                            dlsr_s=0.5))
    a = sipdiag.analyze(script.write(tmp_path / "rtcp.pcap", step_at=1.5 if step else None, step_s=-30.0))
    assert a.rtp is not None
    (summary,) = a.rtp.rtcp.summaries
    rtt = summary.rtt_ms_min if summary.rtt_ms_min is None else round(summary.rtt_ms_min, 1)
    assert (rtt, summary.rtt_samples) == (rtt_ms, 0 if step else 1)


def ringing_across_a_jump(path: Path, step: bool, answer_at: float = 4.0) -> Path:
    """INVITE and 180 Ringing, then (after the clock jumps two days forward at 0.5 s) enough OPTIONS keep-alives
    of another phone for the correlator to sweep its finished transactions, spread over 1 s to answer_at - 2 s, then
    the 200 OK at answer_at, ACK, BYE 6 s later."""
    script = Script()
    script.sip(0.0, sip_message("INVITE sip:200@example.com SIP/2.0", "jump-1", "1 INVITE", src=UA, to_tag=False,
                                body=SDP.format(ip=UA[0], port=UA_RTP)), UA, PBX)
    script.sip(0.1, sip_message("SIP/2.0 180 Ringing", "jump-1", "1 INVITE", src=UA), PBX, UA)
    phone = ("198.51.100.9", 5060)
    for i in range(EXPIRE_EVERY // 2):
        at = 1.0 + i * (answer_at - 3.0) / (EXPIRE_EVERY // 2)
        script.sip(at, sip_message("OPTIONS sip:pbx@203.0.113.5 SIP/2.0", f"ka-{i}", "1 OPTIONS", src=phone,
                                   to_tag=False, branch=f"ka{i}"), phone, PBX)
        script.sip(at + 0.001, sip_message("SIP/2.0 200 OK", f"ka-{i}", "1 OPTIONS", src=phone, branch=f"ka{i}"),
                   PBX, phone)
    script.sip(answer_at, sip_message("SIP/2.0 200 OK", "jump-1", "1 INVITE", src=UA, contact=f"<sip:200@{PBX[0]}:5060>",
                                body=SDP.format(ip=PBX[0], port=PBX_RTP)), PBX, UA)
    script.sip(answer_at + 0.01, sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "jump-1", "1 ACK", src=UA,
                                             branch="ack1"), UA, PBX)
    bye(script, answer_at + 6.0, "jump-1")
    return script.write(path, step_at=0.5 if step else None, step_s=2 * 86_400.0)


def test_an_open_transaction_is_not_expired_across_a_forward_jump(tmp_path: Path) -> None:
    """The transaction table forgets transactions KEEP_NS after they ended or began, swept by record time: a jump
    of two days made the ringing INVITE look two days old, so it was dropped and its 200 OK, arriving after the
    jump, made a transaction of its own (request unknown): the call's INVITE never got a final response."""
    a = sipdiag.analyze(ringing_across_a_jump(tmp_path / "jump.pcap", step=True))
    assert [(x.code, x.frame) for x in a.anomalies] == [("capture.time-jump", 3)]
    (call,) = a.calls
    assert [(t.method, t.request_frame, t.final_status, t.final_frame) for t in call.transactions] == [
        ("INVITE", 1, 200, 2003), ("ACK", 2004, None, None), ("BYE", 2005, 200, 2006)]
    assert (call.outcome, call.final_status, call.answer_ms, call.duration_s) == ("answered", 200, None, 6.0)
    assert [f.rule for f in a.findings] == ["media.no-rtp"]
    # the same call with a clock that does not step: the answer time is measured too
    same = sipdiag.analyze(ringing_across_a_jump(tmp_path / "steady.pcap", step=False))
    (call,) = same.calls
    assert (call.outcome, call.final_status, call.answer_ms, call.duration_s) == ("answered", 200, 4000.0, 6.0)
    assert [f.rule for f in same.findings] == ["media.no-rtp"]


def test_a_call_ringing_longer_than_the_transaction_keep_time_keeps_its_answer(tmp_path: Path) -> None:
    """An INVITE in Proceeding has no client timer (RFC 3261 §17.1.1.2): a phone may ring a minute. The table's
    sweep (every EXPIRE_EVERY messages, KEEP_NS 40 s) aged the ringing INVITE from its start and dropped it at 58 s,
    so its 200 OK at 61 s made a transaction of its own and the call never got its final response."""
    a = sipdiag.analyze(ringing_across_a_jump(tmp_path / "ring.pcap", step=False, answer_at=61.0))
    (call,) = a.calls
    assert [(t.method, t.request_frame, t.final_status, t.final_frame) for t in call.transactions] == [
        ("INVITE", 1, 200, 2003), ("ACK", 2004, None, None), ("BYE", 2005, 200, 2006)]
    assert (call.outcome, call.final_status, call.answer_ms, call.duration_s) == ("answered", 200, 61000.0, 6.0)
