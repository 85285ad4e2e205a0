"""Numbers off the wire that no field can hold: payload types beyond 7 bits, digits that are not ASCII, clock
rates of no clock, absurd durations. Each found by mutation fuzzing of the lab captures (a crash of the JSON
writer, a NaN jitter that broke the HTML charts, a 64-bit overflow in the RTP engine); each must end as an
anomaly or an unknown value, and every report must still be written."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

import sipdiag
from sipdiag.reports import render
from sipdiag.reports.svgcharts import nice_ceiling, time_chart
from sipdiag.rtpclock import SdpClocks, address_key, jitter_clock
from tests import pcapwriter as pw
from tests.callcapture import UA, PBX, UA_RTP, PBX_RTP, frame

HUGE = "18446744073709551616"  # 2**64: beyond every 64-bit field (orjson refuses it, NumPy overflows)
SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() says no
OFFER = ("v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\n"
         f"m=audio {{port}} RTP/AVP 0 {SUPERSCRIPT_TWO} {HUGE} 8 101 200\n"
         "a=rtpmap:101 telephone-event/8000\na=ptime:2020202020202020202020202020202020202020\n")
# The answer names two dynamic types: one with a clock of 160 Hz (the jitter counts in whole kHz: it would divide
# by zero), one with a rate no 64-bit column holds.
ANSWER = ("v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP 96 97\n"
          f"a=rtpmap:96 slow/160\na=rtpmap:97 big/{HUGE}99\n")
DTMF_RELAY = f"Signal=5\r\nDuration={SUPERSCRIPT_TWO}\r\n"


def _sip(start: str, cseq: str, *, to_tag: bool, body: str = "", content_type: str = "application/sdp",
         branch: str = "b1", src=UA) -> str:
    body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return (f"{start}\nVia: SIP/2.0/UDP {src[0]}:5060;branch=z9hG4bK{branch}\nMax-Forwards: 70\n"
            f"From: <sip:100@example.com>;tag=f1\nTo: <sip:200@example.com>{';tag=t1' if to_tag else ''}\n"
            f"Call-ID: numbers-1\nCSeq: {cseq}\nContact: <sip:100@{src[0]}:5060>\n"
            + (f"Content-Type: {content_type}\n" if body else "")
            + f"Content-Length: {len(body.encode())}\n\n{body}")


def _rtp(src, dst, seq: int, ssrc: int, pt: int) -> bytes:
    return pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1],
                                                            pw.rtp_packet(seq, seq * 160, ssrc, pt=pt))))


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("numbers") / "numbers.pcap"
    t, ms = 1_700_000_000 * 10**9, 10**6
    recs = [
        (t, frame(_sip("INVITE sip:200@example.com SIP/2.0", "1 INVITE", to_tag=False,
                       body=OFFER.format(ip=UA[0], port=UA_RTP)), UA, PBX)),
        (t + 300 * ms, frame(_sip("SIP/2.0 200 OK", "1 INVITE", to_tag=True,
                                  body=ANSWER.format(ip=PBX[0], port=PBX_RTP)), PBX, UA)),
        (t + 310 * ms, frame(_sip("ACK sip:200@example.com SIP/2.0", "1 ACK", to_tag=True, branch="b2"), UA, PBX)),
    ]
    for i in range(50):  # 1 s of each type from the PBX's port: type 96 on one SSRC, 97 on another
        at = t + 320 * ms + i * 20 * ms
        recs.append((at, _rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 100 + i, 0x96, 96)))
        recs.append((at + 3 * ms + (i % 3) * ms, _rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 900 + i, 0x97, 97)))
        recs.append((at + 5 * ms, _rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 500 + i, 0x11, 0)))
    end = t + 1400 * ms
    recs += [
        (end, frame(_sip("INFO sip:200@example.com SIP/2.0", "2 INFO", to_tag=True, body=DTMF_RELAY,
                         content_type="application/dtmf-relay", branch="b3"), UA, PBX)),
        (end + 10 * ms, frame(_sip("SIP/2.0 200 OK", "2 INFO", to_tag=True, branch="b3"), PBX, UA)),
        (end + 100 * ms, frame(_sip("BYE sip:200@example.com SIP/2.0", "3 BYE", to_tag=True, branch="b4"), UA, PBX)),
        (end + 110 * ms, frame(_sip("SIP/2.0 200 OK", "3 BYE", to_tag=True, branch="b4"), PBX, UA)),
    ]
    pw.write_pcap(path, sorted(recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
    return path


@pytest.fixture(scope="module")
def analysis(capture):
    return sipdiag.analyze(capture)


def test_payload_types_beyond_seven_bits_are_an_anomaly_not_a_number(analysis) -> None:
    (call,) = analysis.calls
    offer = call.negotiations[0].offer
    assert offer[0].payload_types == (0, 8, 101)  # "²", 2**64 and 200 are no RTP payload types
    (bad,) = [a for a in analysis.anomalies if a.code == "sdp.bad-media"]
    assert bad.frame == 1
    assert bad.detail.endswith(f": {SUPERSCRIPT_TWO}, {HUGE}, 200 is not an RTP payload type (0-127)")
    # a ptime of 2e39 ms (found by fuzzing over TCP: it reached the JSON writer as a 130-bit integer)
    assert offer[0].ptime_ms is None
    (ptime,) = [a for a in analysis.anomalies if a.code == "sdp.bad-attribute"]
    assert (ptime.frame, ptime.detail) == (1, "a=ptime:2020202020202020202020202020202020202020 is not a number of "
                                              "milliseconds up to 60000 (RFC 8866 §6.4)")


def test_info_dtmf_with_a_duration_in_other_digits(analysis) -> None:
    (call,) = analysis.calls
    assert call.outcome == "answered"
    assert call.info_dtmf == ((154, "5", None),)


def test_a_clock_of_no_clock_gives_no_jitter_and_no_nan(analysis) -> None:
    by_ssrc = {m.stats.ssrc: m for m in analysis.streams}
    slow, big, pcmu = by_ssrc[0x96], by_ssrc[0x97], by_ssrc[0x11]
    assert (slow.stats.codec, slow.stats.packets, slow.stats.lost) == ("slow", 50, 0)
    assert (big.stats.codec, big.stats.clock_rate, big.stats.packets) == ("big", None, 50)
    # 160 Hz counts in whole kHz as 0: no jitter is measured (before: 0/0 = NaN in the stream and its chart)
    assert (slow.stats.jitter_max_ms, slow.stats.jitter_mean_ms) == (0.0, 0.0)
    assert pcmu.stats.clock_rate == 8000 and pcmu.stats.jitter_max_ms == pytest.approx(0.0, abs=1e-9)
    for m in analysis.streams:
        assert m.series is not None and np.isfinite(m.series.jitter_max_ms).all()


@pytest.mark.parametrize("fmt", ["json", "html", "terminal", "csv", "junit"])
def test_every_report_is_written(analysis, fmt) -> None:
    out = io.StringIO()  # not a terminal: the JSON goes through orjson, which refuses integers beyond 64 bits
    render(analysis, fmt, out)
    if fmt == "json":
        doc = json.loads(out.getvalue())
        assert doc["calls"][0]["negotiations"][0]["offer"][0]["payload_types"] == [0, 8, 101]
        assert doc["calls"][0]["info_dtmf"] == [{"frame": 154, "digit": "5", "duration_ms": None}]


def test_sdp_clocks_bound_what_they_learn() -> None:
    clocks = SdpClocks()
    sdp = (f"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 96 97 98\r\na=rtpmap:96 slow/160\r\n"
           f"a=rtpmap:97 big/{HUGE}\r\na=rtpmap:{HUGE} x/8000\r\na=rtpmap:98 opus/48000/2\r\n"
           f"m=audio {'9' * 5000} RTP/AVP 96\r\na=rtpmap:96 x/8000\r\n").encode()
    assert clocks.learn(b"INVITE sip:a@b SIP/2.0\r\n\r\n" + sdp)
    key = (*address_key("192.0.2.1"), 4000)
    assert clocks.maps == {key: {96: ("slow", 0), 97: ("big", 0), 98: ("opus", 48000)}}  # 160 Hz: unknown
    assert [jitter_clock(n, r) for n, r in clocks.maps[key].values()] == [0, 0, 48000]
    assert clocks.learn(b"\r\nc=IN IP4 192.0.2.2\r\nm=audio 5000 RTP/AVP 96 97\r\na=rtpmap:96 t140/1000\r\n"
                        b"a=rtpmap:97 x/10000001\r\n")
    assert clocks.maps[(*address_key("192.0.2.2"), 5000)] == {96: ("t140", 1000), 97: ("x", 0)}


def test_charts_take_values_that_are_no_numbers() -> None:
    assert [nice_ceiling(v) for v in (math.nan, math.inf, -1.0, 0.0, 3.0)] == [1.0, 1.0, 1.0, 1.0, 5.0]
    chart = time_chart([0, 1, 2], [math.nan, 4.0, math.inf], kind="line", unit="ms")
    assert (chart.peak, chart.points) == (4.0, 3)


def test_contact_q_outside_0_to_1_is_unknown() -> None:
    from sipdiag.parsers.sipheaders import parse_contact

    values = ("1e999", "nan", "-0.5", "1.5", "0.7")
    assert [parse_contact(f"<sip:a@192.0.2.1>;q={v}").q for v in values] == [None, None, None, None, 0.7]


def test_the_json_writer_survives_an_integer_beyond_64_bits(analysis, monkeypatch) -> None:
    """Defence in depth behind the parsers' bounds: a record orjson refuses is written by the standard encoder."""
    import sipdiag.reports.json as report

    original = report.call_record

    def with_big_number(*args, **kwargs):
        record = original(*args, **kwargs)
        record["setup_ms"] = 2**70
        return record

    monkeypatch.setattr(report, "call_record", with_big_number)
    out = io.StringIO()
    render(analysis, "json", out)
    assert json.loads(out.getvalue())["calls"][0]["setup_ms"] == 2**70
