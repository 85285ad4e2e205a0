"""ICMP errors in the media verdict and in the owner of router.icmp-unreachable (sipdiag.icmprefusal): a stream
whose errors last to its end was not delivered (RFC 1122 §3.2.2), one whose errors stop while it goes on was (an
early-media race), and whose problem it is follows the device that refused it."""

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


def errors(reporter: str, at_s: tuple[float, ...], *, code: int = 3, phone_to_pbx: bool = True,
           ports: tuple[int, int] = (cc.UA_RTP, cc.PBX_RTP)) -> list:
    """ICMP destination unreachable (RFC 792 type 3, `code`) from `reporter` quoting the phone's RTP to the PBX
    (or the PBX's to the phone), at the given seconds; ports: the phone's and the PBX's RTP ports."""
    src, dst = ((cc.UA[0], ports[0]), (cc.PBX[0], ports[1])) if phone_to_pbx else (
        (cc.PBX[0], ports[1]), (cc.UA[0], ports[0]))
    quoted = pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], pw.rtp_packet(1000, 0, 0x1111)))
    return [(cc.T0 + int(s * cc.S), cc.icmp_error(reporter, src[0], quoted, code=code)) for s in at_s]


def call(path, icmp: list, *, step_at: float | None = None, offer_extra: str = "", sdp_ua=None):
    """10 s of RTP both ways from 0.5 s, the caller's BYE at 11 s, and the given ICMP errors; step_at: the
    capture's clock steps back 30 s there; sdp_ua: the address the phone's SDP names for its media."""
    script = cc.call_setup(cc.Script(), "icmp-verdict", offer_extra=offer_extra, sdp_ua=sdp_ua)
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
    assert [(f.rule, f.owner, f.evidence["count"]) for f in analysis.findings] == [
        ("router.icmp-unreachable", "engineering", 7)]


def test_errors_only_in_the_race_with_the_bye_leave_the_stream_delivered(tmp_path) -> None:
    analysis = sipdiag.analyze(call(tmp_path / "race.pcap", errors(cc.PBX[0], (9.2, 9.5, 9.8, 10.1, 10.4))))
    assert verdict(analysis) == ("two-way", None)
    assert analysis.findings == ()


def test_a_router_on_the_way_rejecting_to_the_end_is_one_way_audio_and_the_customers(tmp_path) -> None:
    # A firewall (not the PBX the packets were for) answers communication administratively prohibited (RFC 1812
    # type 3 code 13) until the end: the PBX hears nothing, and the firewall is the customer's to fix.
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
    assert (icmp.rule, icmp.owner, icmp.explains, one_way.rule, one_way.severity.label, one_way.cause) == (
        "router.icmp-unreachable", "customer", (1,), "media.one-way-audio", "minor", 0)
    assert one_way.evidence["one_way_s"] == 10.0
    # the refusing device is known and named by the cause: no SIP ALG advice beside it
    assert one_way.customer_text == {
        "en": "During your call the sound travelled only one way: the other party could not hear you. A device on "
              "its way refused it. We are checking it on our side.",
        "ru": "Во время звонка звук шёл только в одну сторону: собеседник вас не слышал. Его отклонило устройство "
              "на пути. Мы проверяем это со своей стороны."}
    assert icmp.customer_text == {
        "en": "A device on the way is actively rejecting your phone's audio (communication administratively "
              "prohibited). Please check the firewall rules for voice traffic on your router; we are checking our "
              "side too.",
        "ru": "Устройство на пути активно отклоняет звук вашего телефона (связь административно запрещена). "
              "Проверьте правила межсетевого экрана для голосового трафика на роутере; мы тоже проверяем свою "
              "сторону."}
    assert icmp.engineer_text["en"] == (
        "14 ICMP error(s) from 192.0.2.1 (communication administratively prohibited, type 3 code 13; first at frame "
        "5) quote RTP packets 198.51.100.7:40000 -> 203.0.113.5:50000 of call icmp-verdict. A firewall rule on the "
        "reporting device rejects this traffic: fix its ACL. (RFC 792, RFC 1122 §3.2.2.1, RFC 4443 §3.1).")


def test_the_called_pbx_refusing_to_the_end_is_engineerings(tmp_path) -> None:
    analysis = sipdiag.analyze(call(tmp_path / "pbx.pcap", errors(cc.PBX[0], TO_THE_END)))
    assert verdict(analysis) == ("one-way", "caller->callee")
    icmp, one_way = analysis.findings
    assert (icmp.owner, icmp.customer_text["en"], one_way.cause) == (
        "engineering", "Our equipment refused the audio from your phone. Nothing needs changing on your side: we are "
                       "fixing it on our side.", 0)


def test_a_customers_phone_refusing_its_own_audio_stays_the_customers(tmp_path) -> None:
    # The phone (a Yealink by its User-Agent: the knowledge base's kind "phone") refuses the PBX's RTP itself.
    path = call(tmp_path / "phone.pcap", errors(cc.UA[0], TO_THE_END, phone_to_pbx=False),
                offer_extra="User-Agent: Yealink SIP-T46S 66.86.0.15\n")
    analysis = sipdiag.analyze(path)
    assert verdict(analysis) == ("one-way", "callee->caller")
    (icmp,) = [f for f in analysis.findings if f.rule == "router.icmp-unreachable"]
    assert (icmp.owner, icmp.evidence["reporter"], icmp.evidence["flow"]) == (
        "customer", "198.51.100.7", "203.0.113.5:50000 -> 198.51.100.7:40000")
    assert icmp.customer_text["en"].startswith("A device on the way is actively rejecting your phone's audio")
    assert "The refusing host is the flow's own destination (the call's caller), on the customer's side." in \
        icmp.engineer_text["en"]


def test_the_nat_in_front_of_a_phone_refusing_its_audio_stays_the_customers(tmp_path) -> None:
    # The phone's SDP names its private address while it signals from the NAT's public one: behind a NAT, on the
    # customer's LAN. The PBX's RTP (latched to the public address) is refused there by the NAT itself.
    path = call(tmp_path / "nat.pcap", errors(cc.UA[0], TO_THE_END, phone_to_pbx=False),
                sdp_ua=("192.168.1.20", cc.UA_RTP))
    analysis = sipdiag.analyze(path)
    assert verdict(analysis) == ("one-way", "callee->caller")
    (icmp,) = [f for f in analysis.findings if f.rule == "router.icmp-unreachable"]
    assert (icmp.owner, icmp.evidence["reporter"]) == ("customer", "198.51.100.7")
    assert icmp.customer_text["en"].startswith("A device on the way is actively rejecting your phone's audio")


def test_a_registrar_host_refusing_registrations_is_engineerings(tmp_path) -> None:
    # The registrar's host answers every REGISTER with port unreachable: its SIP service is down. A flow of no call,
    # whose sides the registration tells: the phone registers, the refusing host is the registrar.
    quoted = pw.ipv4(cc.UA[0], cc.PBX[0], 17, pw.udp(5060, 5060, b"REGISTER sip:example.com SIP/2.0\r\n"))
    refused = tuple((int((s + 0.001) * cc.S), cc.icmp_error(cc.PBX[0], cc.UA[0], quoted))
                    for s in (0, 0.5, 1.5, 3.5))
    analysis = sipdiag.analyze(cc.unanswered_register(tmp_path / "register.pcap", extra=refused))
    (icmp,) = [f for f in analysis.findings if f.rule == "router.icmp-unreachable"]
    assert (icmp.owner, icmp.call_id, icmp.evidence["kind"], icmp.evidence["count"]) == ("engineering", None, "SIP", 4)
    assert icmp.customer_text["en"] == (
        "Our equipment refused the call signalling from your phone. Nothing needs changing on your side: we are "
        "fixing it on our side.")
    assert "The refusing host is the flow's own destination, on the operator's side." in icmp.engineer_text["en"]


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


def test_a_customers_pbx_that_registers_its_trunk_refusing_audio_stays_the_customers(tmp_path) -> None:
    # The called PBX is an Asterisk (the knowledge base's kind "pbx") on a public address, no NAT: by its kind alone
    # it would be the operator's. It registers its trunk with the operator's registrar in the same capture
    # (RFC 6140): a customer's PBX, so its refusing the audio is the customer's to fix.
    trunk = "SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKtrunk1"
    registrar = ("192.0.2.50", 5060)
    register = cc.via_sip_message("REGISTER sip:voip.example.net SIP/2.0", via=trunk, call_id="trunk-1",
                                  cseq="1 REGISTER", contact="<sip:pbx@203.0.113.5:5060>", aor="pbx@example.net",
                                  extra_headers="Expires: 300\n")
    ok = cc.via_sip_message("SIP/2.0 200 OK", via=trunk, call_id="trunk-1", cseq="1 REGISTER", to_tag="r1",
                            contact="<sip:pbx@203.0.113.5:5060>;expires=300", aor="pbx@example.net")
    extra = [(cc.T0 - cc.S, cc.frame(register, cc.PBX, registrar)), (cc.T0 - cc.S + 20 * cc.MS,
                                                                       cc.frame(ok, registrar, cc.PBX))]
    script = cc.call_setup(cc.Script(), "icmp-verdict", answer_extra="Server: Asterisk PBX 18.20.0\n")
    cc.two_way(script, 0.5, 10.0)
    cc.bye(script, 11.0, "icmp-verdict")
    script.recs += errors(cc.PBX[0], TO_THE_END) + extra
    analysis = sipdiag.analyze(script.write(tmp_path / "trunk.pcap"))
    assert [(r.aor, r.outcome) for r in analysis.registrations] == [("sip:pbx@example.net", "registered")]
    assert verdict(analysis) == ("one-way", "caller->callee")
    (icmp,) = [f for f in analysis.findings if f.rule == "router.icmp-unreachable"]
    assert icmp.owner == "customer"
    assert "The refusing host is the flow's own destination (the call's callee), on the customer's side." in \
        icmp.engineer_text["en"]
    # without its registration the same Asterisk is taken for the operator's
    script = cc.call_setup(cc.Script(), "icmp-verdict", answer_extra="Server: Asterisk PBX 18.20.0\n")
    cc.two_way(script, 0.5, 10.0)
    cc.bye(script, 11.0, "icmp-verdict")
    script.recs += errors(cc.PBX[0], TO_THE_END)
    (icmp,) = [f for f in sipdiag.analyze(script.write(tmp_path / "pbx.pcap")).findings
               if f.rule == "router.icmp-unreachable"]
    assert icmp.owner == "engineering"


def short_call(path, seconds: float, icmp_at: tuple[float, ...], *, by_phone: bool = False):
    """`seconds` of RTP both ways from 0.5 s, the caller's BYE 0.1 s after it, and port unreachables from the PBX
    for the phone's RTP (by_phone: from the phone for the PBX's) at the given seconds: a call shorter than the BYE's
    race (2 s) and the tail (2 s)."""
    script = cc.call_setup(cc.Script(), "icmp-short")
    cc.two_way(script, 0.5, seconds)
    cc.bye(script, 0.6 + seconds, "icmp-short")
    script.recs += errors(cc.UA[0], icmp_at, phone_to_pbx=False) if by_phone else errors(cc.PBX[0], icmp_at)
    return script.write(path)


def test_a_race_at_the_start_of_a_short_call_leaves_it_delivered(tmp_path) -> None:
    # RTP sent before the PBX opened its port: 3 errors for the first 3 packets, then 3 s of RTP without one. No
    # error raced the BYE, so the stream is judged to its end (not only up to 2 s before the BYE, where the start's
    # errors looked like a refusal to the end).
    analysis = sipdiag.analyze(short_call(tmp_path / "short.pcap", 3.0, (0.5, 0.52, 0.54)))
    assert verdict(analysis) == ("two-way", None)
    assert [s.refusal for s in analysis.streams] == [None, None]
    assert [(f.rule, f.owner, f.evidence["count"]) for f in analysis.findings] == [
        ("router.icmp-unreachable", "engineering", 3)]


def test_a_race_within_the_rate_limiters_burst_leaves_a_two_second_call_delivered(tmp_path) -> None:
    # 3 errors of Linux's burst of 6 spent, then 1.9 s of RTP without one: a port still refused would have drawn
    # an error for the next packet at once.
    analysis = sipdiag.analyze(short_call(tmp_path / "short.pcap", 2.0, (0.5, 0.52, 0.54)))
    assert verdict(analysis) == ("two-way", None)
    assert [s.refusal for s in analysis.streams] == [None, None]


def test_a_refusal_to_the_end_of_a_short_call_is_still_found(tmp_path) -> None:
    # The burst of 6, then one a second to the end: the errors from 1.5 s on race the BYE at 3.6 s, and the stream
    # is judged up to 1.6 s, where its last counted error (1.5 s) is.
    analysis = sipdiag.analyze(short_call(tmp_path / "short.pcap", 3.0, BURST + (1.5, 2.5)))
    assert verdict(analysis) == ("one-way", "caller->callee")
    assert [s.refusal for s in analysis.streams] == [
        IcmpRefusal(cc.PBX[0], "port unreachable", 7, 5, 111), None]


def test_a_call_refused_from_its_first_packet_is_found_however_short(tmp_path) -> None:
    # 1.2 s of RTP (0.5 s to 1.7 s), the BYE at 1.8 s: every error lies within 2 s of it. The PBX refused the first
    # 6 packets one by one (Linux's burst: each packet that could draw an error drew one), so its port was never
    # open and none of them is the race with the BYE. The error at 1.6 s, after the burst, could be (the limiter
    # hides a port that opened and closed again): not counted, and the stream went without another error up to it.
    analysis = sipdiag.analyze(short_call(tmp_path / "short.pcap", 1.2, BURST + (1.6,)))
    assert verdict(analysis) == ("one-way", "caller->callee")
    assert [s.refusal for s in analysis.streams] == [IcmpRefusal(cc.PBX[0], "port unreachable", 6, 5, 20), None]
    icmp, one_way = analysis.findings
    assert (icmp.rule, icmp.owner, icmp.evidence["count"], icmp.evidence["reporter"], icmp.evidence["flow"],
            one_way.rule, one_way.cause) == (
        "router.icmp-unreachable", "engineering", 6, cc.PBX[0], "198.51.100.7:40000 -> 203.0.113.5:50000",
        "media.one-way-audio", 0)
    assert icmp.engineer_text["en"].startswith(
        "6 ICMP error(s) from 203.0.113.5 (port unreachable, type 3 code 3; first at frame 5) quote RTP packets "
        "198.51.100.7:40000 -> 203.0.113.5:50000 of call icmp-short.")
    # a call that ends before the limiter lets another error through (1 s of RTP): the burst alone refused it
    analysis = sipdiag.analyze(short_call(tmp_path / "shorter.pcap", 1.0, BURST))
    assert verdict(analysis) == ("one-way", "caller->callee")
    assert [s.refusal for s in analysis.streams] == [IcmpRefusal(cc.PBX[0], "port unreachable", 6, 5, 20), None]


def test_errors_only_around_the_bye_of_a_short_call_are_its_race(tmp_path) -> None:
    # The phone, hanging up, closed its RTP port 0.35 s before it sent the BYE at 1.8 s: it refuses the PBX's last
    # 0.25 s of RTP after 0.95 s of it without an error (the port was open), then once more after the BYE. The BYE's
    # race, however short the call.
    race = tuple(1.45 + 0.02 * i for i in range(6)) + (1.85,)
    analysis = sipdiag.analyze(short_call(tmp_path / "race.pcap", 1.2, race, by_phone=True))
    assert verdict(analysis) == ("two-way", None)
    assert [s.refusal for s in analysis.streams] == [None, None]
    assert analysis.findings == ()


def test_an_early_media_race_in_a_call_shorter_than_the_bye_race_leaves_it_delivered(tmp_path) -> None:
    # 3 errors for the first 3 packets (the PBX's port not yet open), then 1.1 s of RTP without one while the
    # limiter had 3 errors left: delivered. The 3 errors are no race with the BYE (the port was not open before
    # them), so they are reported, as in a longer call.
    analysis = sipdiag.analyze(short_call(tmp_path / "early.pcap", 1.2, (0.5, 0.52, 0.54)))
    assert verdict(analysis) == ("two-way", None)
    assert [s.refusal for s in analysis.streams] == [None, None]
    assert [(f.rule, f.owner, f.evidence["count"]) for f in analysis.findings] == [
        ("router.icmp-unreachable", "engineering", 3)]
    # ... and still when the BYE's race follows: the stream went 1 s without an error before the race's
    analysis = sipdiag.analyze(short_call(tmp_path / "both.pcap", 1.2, (0.5, 0.52, 0.54, 1.6, 1.62, 1.64)))
    assert verdict(analysis) == ("two-way", None)
    assert [s.refusal for s in analysis.streams] == [None, None]


LATER = 300.0  # the second call of `two_calls` begins 5 minutes after the first
LATER_PORTS = (40002, 50002)


def two_calls(path, seconds: float, icmp_at: tuple[float, ...]):
    """The call of `call`, refused by the PBX to its end (TO_THE_END: the PBX's limiter sends the phone's host 16
    errors), then LATER a second call between the same hosts on other RTP ports: `seconds` of RTP both ways from
    0.5 s after its INVITE, its caller's BYE 0.1 s after it, and port unreachables from the PBX for the phone's RTP
    at the given seconds from its INVITE."""
    script = cc.call_setup(cc.Script(), "icmp-first")
    cc.two_way(script, 0.5, 10.0)
    cc.bye(script, 11.0, "icmp-first")
    ua, pbx = (cc.UA[0], LATER_PORTS[0]), (cc.PBX[0], LATER_PORTS[1])
    cc.call_setup(script, "icmp-later", at=LATER, offer_sdp=cc.SDP.format(ip=ua[0], port=ua[1]),
                  answer_sdp=cc.SDP.format(ip=pbx[0], port=pbx[1]))
    script.rtp(ua, pbx, 0x3333, LATER + 0.5, seconds)
    script.rtp(pbx, ua, 0x4444, LATER + 0.505, seconds, seq0=5000)
    cc.bye(script, LATER + 0.6 + seconds, "icmp-later")
    script.recs += errors(cc.PBX[0], TO_THE_END) + errors(cc.PBX[0], tuple(LATER + s for s in icmp_at),
                                                          ports=LATER_PORTS)
    return script.write(path)


def by_call(analysis) -> list[tuple]:
    return [(m.call_id, m.verdict.verdict, m.verdict.missing_direction) for m in analysis.media]


def findings_by_call(analysis) -> list[tuple]:
    return [(f.rule, f.owner, f.call_id, f.evidence.get("count"), f.explains, f.cause) for f in analysis.findings]


FIRST_CALL_REFUSED = IcmpRefusal(cc.PBX[0], "port unreachable", 14, 5, 788)


def test_errors_of_an_earlier_call_leave_a_later_calls_race_in_a_fresh_burst(tmp_path) -> None:
    # The PBX's limiter spent its burst for the phone's host in the first call; 5 minutes later it has refilled
    # (one error a second, up to 6: net/ipv4/inetpeer.c inet_peer_xrlim_allow). The second call's 3 errors at its
    # start leave it 3, and 1.9 s of RTP without another error mean the PBX's port opened: an early-media race, not
    # the refusal to the end that a burst spent by the first call would have made of it.
    analysis = sipdiag.analyze(two_calls(tmp_path / "race.pcap", 2.0, (0.5, 0.52, 0.54)))
    assert by_call(analysis) == [("icmp-first", "one-way", "caller->callee"), ("icmp-later", "two-way", None)]
    assert [s.refusal for s in analysis.streams] == [FIRST_CALL_REFUSED, None, None, None]
    assert findings_by_call(analysis) == [
        ("router.icmp-unreachable", "engineering", "icmp-first", 14, (2,), None),
        ("router.icmp-unreachable", "engineering", "icmp-later", 3, (), None),
        ("media.one-way-audio", "engineering", "icmp-first", None, (), 0)]


def test_errors_of_an_earlier_call_leave_a_later_call_refused_from_its_first_packet_found(tmp_path) -> None:
    # The second call (1.2 s of RTP) is refused from its first packet: a fresh burst of 6 errors one after another,
    # each while the limiter had a token left, so none of them races its BYE (refused_from_start), as in a call
    # alone (test_a_call_refused_from_its_first_packet_is_found_however_short).
    analysis = sipdiag.analyze(two_calls(tmp_path / "refused.pcap", 1.2, BURST + (1.6,)))
    assert by_call(analysis) == [("icmp-first", "one-way", "caller->callee"),
                                 ("icmp-later", "one-way", "caller->callee")]
    assert [s.refusal for s in analysis.streams] == [
        FIRST_CALL_REFUSED, None, IcmpRefusal(cc.PBX[0], "port unreachable", 6, 1026, 1041), None]
    assert findings_by_call(analysis) == [
        ("router.icmp-unreachable", "engineering", "icmp-first", 14, (2,), None),
        ("router.icmp-unreachable", "engineering", "icmp-later", 6, (3,), None),
        ("media.one-way-audio", "engineering", "icmp-first", None, (), 0),
        ("media.one-way-audio", "engineering", "icmp-later", None, (), 1)]
