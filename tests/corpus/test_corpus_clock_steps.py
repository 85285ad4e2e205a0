"""The corpus captures whose record times step at (nearly) every record (sipdiag.clocksteps): no duration, delay or
round trip is measured across a step, no stream duration is negative, and the streams of testing.ext.pcap bind to
its call by frame order through the SDP (tshark -Y sdp: offer 192.168.1.87 audio 5062 / video 5064, answer
192.168.1.36 audio 42098 / video 44612)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import sipdiag
from sipdiag.clocksteps import ClockSteps
from sipdiag.media import Binding
from sipdiag.reports.json import render_json
from tests.conftest import validate_json_document

pytestmark = pytest.mark.corpus

CALL = "c3eF6f58-363323Cd-8058EB88-10305830@192.168.1.87"


def document(analysis) -> dict:
    out = io.StringIO()
    render_json(analysis, out)
    return validate_json_document(out.getvalue())


def test_testing_ext_has_no_fake_timings_and_its_streams_bind_to_its_call(corpus: Path) -> None:
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "testing.ext.pcap")
    clock = a.capture.clock
    assert (clock.count, clock.frames == tuple(range(2, 337)), clock.unusable) == (335, True, False)
    assert a.capture.duration_s is None
    (call,) = a.calls
    assert (call.call_id, call.outcome, call.setup_ms, call.answer_ms, call.duration_s) == (
        CALL, "answered", None, None, None)
    assert [(m.stats.first_frame, m.stats.last_frame, m.stats.packets, m.stats.keepalives, m.stats.duration_s,
             m.stats.jitter_max_ms, m.binding) for m in a.streams] == [
        # audio to the offer's 5062: one BV32 packet (frame 5), then three PT 126 keep-alives (RFC 6263 §4.6)
        (5, 262, 4, 3, None, None, Binding(CALL, "callee->caller", "sdp")),
        (8, 332, 283, 0, None, None, Binding(CALL, "caller->callee", "sdp")),  # video to the answer's 44612
        (18, 274, 6, 0, None, None, Binding(CALL, "callee->caller", "sdp")),  # video to the offer's 5064
    ]
    # tshark names the audio PT=BV32: offer and answer say a=rtpmap:107 BV32/16000; the keep-alives' 4 zero octets
    # of PT 126 (an RFC 4733 event's shape, but nobody named 126 for audio) are not the stream's codec
    assert [(m.stats.payload_types, m.stats.codec, m.stats.clock_rate, m.stats.clock_source) for m in a.streams] == [
        ((107, 126), "BV32", 16000, "sdp"), ((0, 126), "H264", 90000, "sdp"), ((125,), "H264", 90000, "sdp")]
    # The caller offered audio sendonly and sent none; the callee (recvonly) sent one BV32 packet before its answer
    # and then only keep-alives. Counted as audio, the keep-alives made it one-way audio (info, low confidence);
    # there is no audio either way, and with audio negotiated one way only that is no media.no-rtp either.
    verdict = a.media[0].verdict
    assert (verdict.verdict, verdict.packets_to_callee, verdict.packets_to_caller) == ("no-rtp", 0, 1)
    assert [(r.reports, r.rtt_ms_min, r.rtt_samples) for r in a.rtp.rtcp.summaries] == [(11, None, 0), (3, None, 0)]
    assert [(f.rule, f.severity.name, f.confidence) for f in a.findings] == [
        # MINOR: telephone-event/8000 beside BV32/16000; the PT 126 keep-alives are no events (RFC 6263 §4.6)
        ("dtmf.rfc4733-problem", "MINOR", "high"), ("qos.dscp-marking", "INFO", "high")]
    doc = document(a)
    assert (doc["capture"]["duration_s"], doc["capture"]["clock_steps"]) == (None, 335)
    assert [m["after_ms"] for m in doc["calls"][0]["messages"]] == [0.0] + [None] * 6
    assert [(s["duration_s"], s["packets"], s["keepalives"]) for s in doc["streams"]] == [
        (None, 4, 3), (None, 283, 0), (None, 6, 0)]
    # the audio's media is its one BV32 packet; its keep-alives run to frame 262
    assert [(s["first_frame"], s["last_frame"], s["media_first_frame"], s["media_last_frame"]) for s in doc["streams"]
            ] == [(5, 262, 5, 5), (8, 332, 8, 332), (18, 274, 18, 274)]


def test_sip_ipv6_call_has_no_53_year_duration(corpus: Path) -> None:
    a = sipdiag.analyze(corpus / "pcaps" / "heplify" / "sip_ipv6.pcap")
    assert a.capture.clock == ClockSteps((2, 3, 4, 5, 6), 5)
    (call,) = a.calls
    assert (call.outcome, call.setup_ms, call.answer_ms, call.duration_s) == ("answered", None, None, None)
    assert [f.rule for f in a.findings] == ["media.no-rtp"]
    # the length is unknown, and the texts say so (they said "None s long")
    text = a.findings[0].engineer_text
    assert "answered (frame 3), of unknown length, no RTP in either direction" in text["en"]
    assert "отвечен (кадр 3), длительность неизвестна, RTP нет ни в одну сторону" in text["ru"]
    doc = document(a)
    assert doc["capture"]["duration_s"] is None
    assert [m["after_ms"] for m in doc["calls"][0]["messages"]] == [0.0] + [None] * 5
