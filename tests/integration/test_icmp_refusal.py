"""ICMP errors in the media verdict (sipdiag.icmprefusal): a stream whose errors last to its end was not delivered
(RFC 1122 §3.2.2), one whose errors stop while it goes on was (an early-media race)."""

from __future__ import annotations

import sipdiag
from sipdiag.icmprefusal import IcmpRefusal
from tests import callcapture as cc
from tests import pcapwriter as pw

ROUTER = "192.0.2.1"  # a firewall between the phone and the PBX
# Linux's rate limit (net.ipv4.icmp_ratelimit): a burst of 6 errors for the first packets, then about 1 a second
BURST = tuple(0.5 + 0.02 * i for i in range(6))
# ... then every second to 10.2 s; the stream ends at 10.5 s and the BYE comes at 11 s, so the errors from 9 s on
# race it: the last one counted (8.2 s) is 2.3 s before the stream's end but 0.8 s before the race begins
TO_THE_END = BURST + tuple(1.2 + i for i in range(10))


def errors(reporter: str, at_s: tuple[float, ...], *, code: int = 3) -> list:
    """ICMP destination unreachable (RFC 792 type 3, `code`) from `reporter` quoting the phone's RTP to the PBX,
    at the given seconds."""
    src, dst = (cc.UA[0], cc.UA_RTP), (cc.PBX[0], cc.PBX_RTP)
    quoted = pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], pw.rtp_packet(1000, 0, 0x1111)))
    return [(cc.T0 + int(s * cc.S), cc.icmp_error(reporter, src[0], quoted, code=code)) for s in at_s]


def call(path, icmp: list, *, step_at: float | None = None):
    """10 s of RTP both ways from 0.5 s, the caller's BYE at 11 s, and the given ICMP errors; step_at: the
    capture's clock steps back 30 s there."""
    script = cc.call_setup(cc.Script(), "icmp-verdict")
    cc.two_way(script, 0.5, 10.0)
    cc.bye(script, 11.0, "icmp-verdict")
    script.recs += icmp
    return script.write(path, step_at=step_at, step_s=-30.0) if step_at is not None else script.write(path)


def verdict(analysis) -> tuple:
    (media,) = analysis.media
    return media.verdict.verdict, media.verdict.missing_direction


def test_errors_only_in_the_first_second_of_a_stream_leave_it_delivered(tmp_path) -> None:
    # The PBX opened its port a second late (RTP before the callee was ready): 7 errors, then 9 s of RTP without
    # one although the rate limit would have let one a second through. The audio reached it.
    analysis = sipdiag.analyze(call(tmp_path / "early.pcap", errors(cc.PBX[0], BURST + (1.4,))))
    assert verdict(analysis) == ("two-way", None)
    assert [s.refusal for s in analysis.streams] == [None, None]
    # the errors are still reported, by the host that sent them
    assert [(f.rule, f.evidence["count"]) for f in analysis.findings] == [("router.icmp-unreachable", 7)]


def test_errors_only_in_the_race_with_the_bye_leave_the_stream_delivered(tmp_path) -> None:
    analysis = sipdiag.analyze(call(tmp_path / "race.pcap", errors(cc.PBX[0], (9.2, 9.5, 9.8, 10.1, 10.4))))
    assert verdict(analysis) == ("two-way", None)
    assert analysis.findings == ()


def test_a_router_on_the_way_rejecting_to_the_end_is_one_way_audio(tmp_path) -> None:
    # A firewall (not the PBX the packets were for) answers communication administratively prohibited (RFC 1812
    # type 3 code 13) until the end: the PBX hears nothing.
    analysis = sipdiag.analyze(call(tmp_path / "router.pcap", errors(ROUTER, TO_THE_END, code=13)))
    assert verdict(analysis) == ("one-way", "caller->callee")
    assert analysis.media[0].verdict.detail == (
        "one-way audio: the callee hears nothing; 500 packets were sent to 203.0.113.5:50000 and 192.0.2.1 on the "
        "way rejected them to the end of the stream with ICMP communication administratively prohibited (14 "
        "errors during the call)")
    # the errors at 9.2 s and later race the BYE at 11 s: not counted, and the stream is judged up to 9 s
    assert [s.refusal for s in analysis.streams] == [
        IcmpRefusal(ROUTER, "communication administratively prohibited", 14, 5, 788), None]
    icmp, one_way = analysis.findings
    assert (icmp.rule, icmp.explains, one_way.rule, one_way.severity.label, one_way.cause) == (
        "router.icmp-unreachable", (1,), "media.one-way-audio", "minor", 0)
    assert one_way.evidence["one_way_s"] == 10.0


def test_errors_are_compared_with_the_stream_end_only_where_the_clock_does_not_step(tmp_path) -> None:
    # Early errors, then the clock steps back 30 s: stamped, the stream "ends" 20 s before them, which by time would
    # put them at its end. By capture order they came long before its last packet: delivered.
    early = sipdiag.analyze(call(tmp_path / "early.pcap", errors(cc.PBX[0], BURST + (1.4,)), step_at=3.0))
    assert [x.code for x in early.anomalies] == ["capture.time-backwards"]
    assert verdict(early) == ("two-way", None)
    # Errors to the end with the step before the last of them: error and stream end are on one side of the step.
    refused = sipdiag.analyze(call(tmp_path / "refused.pcap", errors(cc.PBX[0], TO_THE_END), step_at=5.0))
    assert [x.code for x in refused.anomalies] == ["capture.time-backwards"]
    assert verdict(refused) == ("one-way", "caller->callee")
