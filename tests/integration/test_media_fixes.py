"""Media binding and media verdict fixes found on real captures (sipdiag.media, sipdiag.checks.media,
sipdiag.correlate.link_legs): each built capture shows the fault the old code got wrong, and a corpus capture
(skipped without the corpus) checks the real case."""

from __future__ import annotations

import io
from pathlib import Path

import sipdiag
from sipdiag.checks import LANGUAGES
from sipdiag.reports.json import render_json
from tests import callcapture as cc
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP, Script
from tests.conftest import validate_json_document


def findings(analysis, rule: str) -> list:
    found = [f for f in analysis.findings if f.rule == rule]
    for f in found:
        for lang in LANGUAGES:
            assert f.customer_text[lang] and f.engineer_text[lang]
            assert "{" not in f.customer_text[lang] and "{" not in f.engineer_text[lang]
    return found


def bound(analysis) -> list[tuple[int, str | None, str]]:
    """(first frame, call, bound_by) of every stream."""
    return [(m.stats.first_frame, m.call_id, m.binding.bound_by) for m in analysis.streams]


def verdict(analysis, call_id: str):
    return next(analysis.media_of(c) for c in analysis.calls if c.call_id == call_id).verdict


# ------------------------------------------------------------------------------------- 1: binding streams to calls

ANON_OFFER = ("192.0.2.99", 40002)  # the SDP addresses an anonymiser or a NAT wrote: never seen in a packet
ANON_ANSWER = ("192.0.2.98", 20000)


def anonymised_call(s: Script, call_id: str, at: float, offer_port: int, *, answered: bool = True) -> Script:
    """INVITE/200/ACK whose SDP addresses are not the hosts' (only the ports are), as in the attack capture."""
    s.sip(at, cc.sip_message("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", src=UA, to_tag=False,
                             body=cc.SDP.format(ip=ANON_OFFER[0], port=offer_port)), UA, PBX)
    if answered:
        s.sip(at + 0.3, cc.sip_message("SIP/2.0 200 OK", call_id, "1 INVITE", src=UA,
                                       body=cc.SDP.format(ip=ANON_ANSWER[0], port=ANON_ANSWER[1])), PBX, UA)
        s.sip(at + 0.31, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", call_id, "1 ACK", src=UA,
                                        branch="ack1"), UA, PBX)
    return s


def test_unanswered_call_does_not_take_the_streams_of_a_later_answered_call(tmp_path) -> None:
    # The INVITE of `ringing-1` is never answered: it has no media path (RFC 3264 §6), and its ports are not
    # the stream's. `ans-1`'s SDP names the stream's ports (behind the anonymised addresses): the stream is its.
    s = anonymised_call(Script(), "ringing-1", 0.0, 40010, answered=False)
    anonymised_call(s, "ans-1", 2.0, ANON_OFFER[1])
    s.rtp((UA[0], ANON_OFFER[1]), (PBX[0], ANON_ANSWER[1]), 0x1111, 2.4, 5)
    s.rtp((PBX[0], ANON_ANSWER[1]), (UA[0], ANON_OFFER[1]), 0x2222, 2.405, 5, seq0=5000)
    s.sip(8.0, cc.sip_message("BYE sip:x@203.0.113.5 SIP/2.0", "ans-1", "9 BYE", src=UA, branch="bye9"), UA, PBX)
    a = sipdiag.analyze(s.write(tmp_path / "bind.pcap"))
    assert bound(a) == [(5, "ans-1", "heuristic"), (6, "ans-1", "heuristic")]
    assert (verdict(a, "ans-1").verdict, verdict(a, "ringing-1").verdict) == ("two-way", "not-answered")
    assert findings(a, "media.no-rtp") == []


def test_stream_on_a_reused_sdp_port_belongs_to_the_newer_call(tmp_path) -> None:
    # `old-1` has no BYE, so it may run to the end of the capture; `new-1` offers the same ports 10 s later.
    # A stream that starts after `new-1` was set up is `new-1`'s (RFC 3264: its offer/answer names the ports now).
    s = cc.call_setup(Script(), "old-1")
    cc.two_way(s, 0.4, 4)
    cc.call_setup(s, "new-1", at=10.0)
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x3333, 10.4, 5)  # new SSRCs (RFC 3550 §8: a new session)
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x4444, 10.405, 5, seq0=7000)
    cc.bye(s, 16.0, "new-1")
    a = sipdiag.analyze(s.write(tmp_path / "reuse.pcap"))
    assert [(call, by) for _, call, by in bound(a)] == [("old-1", "sdp")] * 2 + [("new-1", "sdp")] * 2
    assert (verdict(a, "old-1").verdict, verdict(a, "new-1").verdict) == ("two-way", "two-way")


def test_attack_capture_binds_each_stream_to_the_call_that_offered_its_port(corpus) -> None:
    a = sipdiag.analyze(corpus / "pcaps" / "initconf-sip-attacks" / "SIP-212.32.250.134.pcap")
    calls = {c.call_id[:8]: c for c in a.calls}
    ringing = a.media_of(calls["970b19e8"])
    assert (calls["970b19e8"].outcome, ringing.verdict.verdict, ringing.streams) == ("in-progress", "not-answered", ())
    answered = a.media_of(calls["c5fc5704"])
    (k,) = answered.streams
    s = a.streams[k].stats
    assert (s.first_frame, f"{s.src_ip}:{s.src_port}", f"{s.dst_ip}:{s.dst_port}") == (
        2486, "206.55.185.163:4330", "156.159.141.52:5558")
    # The attacker's tool sends a 0.5 s burst and the callee nothing, as its answer asked (frame 2482 a=recvonly,
    # RFC 3264 §6.1): one way by negotiation, not a fault.
    assert (answered.verdict.verdict, answered.verdict.missing_direction) == ("one-way-negotiated", "callee->caller")
    # every answered call got its one stream (one seen from mid-call, without SDP, by its hosts); none holds several
    assert [len(a.media_of(c).streams) for c in a.calls if c.outcome == "answered"] == [1] * 49
    assert findings(a, "media.no-rtp") == []


# ---------------------------------------------------------------------------- 2: silence suppression is not silence

def suppressed_call(path: Path, *, caller_ptime: float, caller_seconds: float, call_s: float) -> Path:
    """The caller talks little (VAD, RFC 3389 comfort noise PT 13): packets `caller_ptime` apart; the callee 20 ms."""
    s = cc.call_setup(Script(), "vad-1")
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.4, caller_seconds, ptime=caller_ptime, pt=13)
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.405, call_s - 0.45, seq0=5000)
    return cc.bye(s, 0.3 + call_s, "vad-1").write(path)


def test_comfort_noise_direction_of_a_short_call_is_not_one_way(tmp_path) -> None:
    # 24 packets 80 ms apart over 1.9 s of a 2 s call: the caller's phone suppressed silence, it did send.
    a = sipdiag.analyze(suppressed_call(tmp_path / "vad.pcap", caller_ptime=0.08, caller_seconds=1.92, call_s=2.0))
    v = verdict(a, "vad-1")
    assert (v.verdict, v.packets_to_callee, v.packets_to_caller) == ("two-way", 24, 77)
    assert findings(a, "media.one-way-audio") == []
    # the lab's real one-way calls stay one-way
    samples = Path(__file__).resolve().parents[2] / "samples" / "pcaps"
    for name in ("nat_one_way_audio.pcap", "firewall_one_way_audio.pcap"):
        (f,) = findings(sipdiag.analyze(samples / name), "media.one-way-audio")
        assert (f.severity.label, f.evidence["missing"]) == ("major", "callee->caller")


def test_a_short_burst_in_a_long_call_is_still_one_way(tmp_path) -> None:
    # 10 packets in the first 0.2 s of a 10 s call: not a sender that keeps sending; the text says how few.
    a = sipdiag.analyze(suppressed_call(tmp_path / "burst.pcap", caller_ptime=0.02, caller_seconds=0.2, call_s=10.0))
    (f,) = findings(a, "media.one-way-audio")
    assert (f.severity.label, f.evidence["missing"], f.evidence["packets_to_callee"]) == ("minor", "caller->callee", 10)
    # the callee's 9.5 s of media less the first second, in which the burst's 10 packets went the other way
    assert (f.evidence["media_s"], f.evidence["one_way_s"]) == (9.5, 8.5)
    assert f.evidence["detail"] == ("one-way audio: the callee hears nothing (only 10 packets caller->callee, over "
                                    "0.2 s of the 10.0 s the call was connected)")


def test_heplify_comfort_noise_call_is_two_way(corpus) -> None:
    # tshark: 24 packets PCMA + CN caller->callee, 0 lost, over 2.0 s of a 2.15 s call; 42 the other way.
    a = sipdiag.analyze(corpus / "pcaps" / "heplify" / "sip_ipv4_tcp.pcap")
    (call,) = a.calls
    v = a.media_of(call).verdict
    assert (v.verdict, v.packets_to_callee, v.packets_to_caller) == ("two-way", 24, 42)
    assert findings(a, "media.one-way-audio") == []


# -------------------------------------------------------------------------- 3: the other leg of a B2BUA carries media

SBC_OUT, CARRIER = ("198.51.100.20", 5060), ("203.0.113.50", 5060)


def two_leg_call(path: Path) -> Path:
    """One call through an SBC captured on both sides: leg-a UA -> SBC (RTP seen), leg-b SBC -> carrier with other
    Call-ID and addresses (its RTP not at this capture point); INVITE, 200, ACK and BYE pass at once."""
    s = cc.call_setup(Script(), "leg-a")
    cc.two_way(s, 0.4, 8)
    cc.call_setup(s, "leg-b", ua=SBC_OUT, pbx=CARRIER, at=0.004)
    cc.bye(s, 9.0, "leg-a")
    s.sip(9.003, cc.sip_message("BYE sip:x@203.0.113.50 SIP/2.0", "leg-b", "9 BYE", src=SBC_OUT, branch="byeb"),
          SBC_OUT, CARRIER)
    s.sip(9.02, cc.sip_message("SIP/2.0 200 OK", "leg-b", "9 BYE", src=SBC_OUT, branch="byeb"), CARRIER, SBC_OUT)
    return s.write(path)


def test_leg_whose_other_leg_has_media_is_not_silent(tmp_path) -> None:
    a = sipdiag.analyze(two_leg_call(tmp_path / "legs.pcap"))
    legs = {c.call_id: [(leg.call_id, leg.rule) for leg in c.legs] for c in a.calls}
    rule = "same callee, start within 2 s, answered and ended within 1 s of each other"
    assert legs == {"leg-a": [("leg-b", rule)], "leg-b": [("leg-a", rule)]}
    (f,) = findings(a, "media.no-rtp")
    assert (f.severity.label, f.confidence, f.call_id, f.evidence["linked_leg"]) == ("info", "medium", "leg-b", "leg-a")
    assert ("Its media was seen on the linked leg leg-a (" + rule + "; 800 RTP packets), not at this capture point "
            "for this leg") in f.engineer_text["en"]
    assert "связанном плече leg-a" in f.engineer_text["ru"]
    assert "no sound at all" not in f.customer_text["en"] and "Other calls" not in f.engineer_text["en"]
    # the same number called twice from the same phone, answered and ended together: two calls, not two legs
    s = cc.call_setup(Script(), "one")
    cc.call_setup(s, "two", sdp_ua=(UA[0], 40100), at=0.004)
    cc.bye(s, 5.0, "one")
    cc.bye(s, 5.003, "two")
    assert [c.legs for c in sipdiag.analyze(s.write(tmp_path / "two.pcap")).calls] == [(), ()]


def test_fax_call_captured_on_both_sides_of_the_sbc(corpus) -> None:
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")
    by_id = {c.call_id[:9]: c for c in a.calls}
    assert [leg.call_id for leg in by_id["SD4909701"].legs] == [by_id["00e9d4a50"].call_id]
    (f,) = findings(a, "media.no-rtp")
    assert (f.severity.label, f.confidence, f.call_id, f.frames) == (
        "info", "medium", by_id["SD4909701"].call_id, (48,))
    assert "Its media was seen on the linked leg 00e9d4a5" in f.engineer_text["en"]


# ------------------------------------------------------------------ 4: a capture without RTP does not say "no sound"

def test_single_call_of_a_signalling_only_capture_is_information(tmp_path) -> None:
    s = cc.call_setup(Script(), "sig-1")
    a = sipdiag.analyze(cc.bye(s, 8.0, "sig-1").write(tmp_path / "sig.pcap"))
    (f,) = findings(a, "media.no-rtp")
    assert (f.severity.label, f.confidence, f.call_id, f.evidence["calls"]) == ("info", "low", None, 1)
    assert f.customer_text["en"].startswith("The recording of your calls we received does not include their sound")
    assert "no sound at all" not in f.customer_text["en"]
    assert "not one RTP packet in the capture (1 answered call)" in f.engineer_text["en"]
    assert "ни одного RTP-пакета в захвате (отвеченных вызовов: 1)" in f.engineer_text["ru"]


def test_fax_call_without_media_in_the_capture_is_not_called_soundless(tmp_path) -> None:
    s = cc.call_setup(Script(), "fax-1")
    t38 = cc.SDP.format(ip=UA[0], port=UA_RTP).replace("m=audio 40000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n",
                                                        "m=image 40000 udptl t38\n")
    s.sip(3.0, cc.sip_message("INVITE sip:200@203.0.113.5 SIP/2.0", "fax-1", "2 INVITE", src=UA, branch="re1",
                              body=t38), UA, PBX)
    s.sip(3.1, cc.sip_message("SIP/2.0 200 OK", "fax-1", "2 INVITE", src=UA, branch="re1",
                              body=t38.replace(UA[0], PBX[0]).replace("40000", "50000")), PBX, UA)
    s.sip(3.11, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "fax-1", "2 ACK", src=UA, branch="a1"), UA, PBX)
    a = sipdiag.analyze(cc.bye(s, 20.0, "fax-1").write(tmp_path / "fax.pcap"))
    (f,) = findings(a, "media.no-rtp")
    assert (f.severity.label, f.confidence) == ("info", "low")
    assert f.customer_text["en"].startswith("The recording of your calls we received does not include their sound "
                                            "or fax data")
    assert f.customer_text["ru"].startswith("В полученной записи ваших звонков нет ни звука, ни данных факса")


def test_corpus_signalling_only_calls_are_information(corpus) -> None:
    for name, frame in (("sngrep/ipv6frag.pcap", 26), ("wireshark-wiki/T38.pcap", 8), ("sngrep/ipip.pcap", 3),
                        ("suricata-verify/sip-body-frames__public-cloudshark-sip-s0.pcap", 4)):
        (f,) = findings(sipdiag.analyze(corpus / "pcaps" / name), "media.no-rtp")
        assert (name, f.severity.label, f.confidence, f.frames) == (name, "info", "low", (frame,))
        assert "no sound at all" not in f.customer_text["en"]
        if name.endswith("T38.pcap"):
            assert "sound or fax data" in f.customer_text["en"]


# --------------------------------------------------------------------------- 5: a short stream that SDP names counts

def test_sparse_stream_to_the_sdp_address_counts(tmp_path) -> None:
    # 5 packets kept of 300 (sequence numbers 75 apart, as a capture that kept a sample): fails the capture layer's
    # sequence test, but it went to the caller's SDP address (RFC 3264), so it is this call's RTP.
    s = cc.call_setup(Script(), "opus-1")
    kept = {0, 75, 150, 225, 299}
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.4, 6.0, drop=set(range(300)) - kept)
    a = sipdiag.analyze(cc.bye(s, 6.6, "opus-1").write(tmp_path / "sparse.pcap"))
    assert [(m.stats.packets, m.call_id, m.binding.bound_by, m.binding.direction) for m in a.streams] == [
        (5, "opus-1", "sdp", "callee->caller")]
    v = verdict(a, "opus-1")
    assert (v.verdict, v.missing_direction, v.packets_to_caller) == ("one-way", "caller->callee", 5)
    assert findings(a, "media.no-rtp") == []
    # its "loss" is the packets the capture did not keep, not the network's
    assert findings(a, "media.packet-loss") == []
    assert not any("no RTP at all" in f.engineer_text["en"] for f in a.findings)


def test_opus_sample_capture_has_its_stream(corpus) -> None:
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "sip-rtp-opus-hybrid.pcap")
    assert [(m.stats.first_frame, m.stats.packets, m.stats.payload_type, f"{m.stats.src_ip}:{m.stats.src_port}",
             f"{m.stats.dst_ip}:{m.stats.dst_port}", m.binding.bound_by) for m in a.streams] == [
        (3, 5, 99, "10.0.2.15:24196", "10.0.2.20:6000", "sdp")]
    assert findings(a, "media.no-rtp") == []
    assert not any("no RTP at all" in f.engineer_text["en"] for f in a.findings)


# ------------------------------------------------------------- 6: the answer to an INVITE the capture does not hold

MEDIA_SERVER = ("203.0.113.77", 52000)  # where the PBX re-anchors the media (its announcement or MOH server)


def two_calls_one_reanchored(path: Path) -> Path:
    """Two calls of one phone through the PBX, set up 1 s apart, each on its own ports. 3 s in, the phone's re-INVITE
    of `reanchor-1` (on a new port, 40002) is lost at the capture point; the PBX's 200 OK moves the call's media to
    its media server (RFC 3264 §8). 5 s of RTP follow between the new port and the media server."""
    s = cc.call_setup(Script(), "reanchor-1")
    cc.two_way(s, 0.32, 2.0)
    other = {"ua": (UA[0], 40100), "pbx": (PBX[0], 50100)}
    s.sip(1.0, cc.sip_message("INVITE sip:201@example.com SIP/2.0", "other-1", "1 INVITE", src=UA, to_tag=False,
                              to_user="201", body=cc.SDP.format(ip=UA[0], port=40100)), UA, PBX)
    s.sip(1.3, cc.sip_message("SIP/2.0 200 OK", "other-1", "1 INVITE", src=UA, to_user="201",
                              body=cc.SDP.format(ip=PBX[0], port=50100)), PBX, UA)
    s.sip(1.31, cc.sip_message("ACK sip:201@203.0.113.5 SIP/2.0", "other-1", "1 ACK", src=UA, to_user="201",
                               branch="ack1"), UA, PBX)
    s.rtp(other["ua"], other["pbx"], 0x3333, 1.32, 8.0)
    s.rtp(other["pbx"], other["ua"], 0x4444, 1.325, 8.0, seq0=7000)
    s.sip(3.0, cc.sip_message("SIP/2.0 200 OK", "reanchor-1", "2 INVITE", src=UA, branch="re2",
                              body=cc.SDP.format(ip=MEDIA_SERVER[0], port=MEDIA_SERVER[1])), PBX, UA)
    s.sip(3.01, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "reanchor-1", "2 ACK", src=UA, branch="ack2"),
          UA, PBX)
    s.rtp((UA[0], 40002), MEDIA_SERVER, 0x5555, 3.05, 5.0, seq0=2000)
    s.rtp(MEDIA_SERVER, (UA[0], 40002), 0x6666, 3.055, 5.0, seq0=9000)
    cc.bye(s, 9.5, "reanchor-1")
    return cc.bye(s, 9.6, "other-1").write(path)


def test_the_answer_of_a_lost_reinvite_binds_the_media_it_moved(tmp_path) -> None:
    # The 200 OK (frame 376) answers an offer the capture lacks: its SDP is the PBX's side of the call from then on
    # (RFC 3264 §8). The phone's stream to the media server is bound by it, the reverse one by latching (sent to
    # that stream's source). Before, that SDP was dropped: both streams went by the heuristic to `other-1`, the
    # call set up last before them, and `reanchor-1` looked silent for its last 7 s.
    a = sipdiag.analyze(two_calls_one_reanchored(tmp_path / "reanchor.pcap"))
    (call, _) = a.calls
    assert [(n.kind, n.offer_frame, n.offerer, n.answer_frame, n.status, [(m.address, m.port) for m in n.answer])
            for n in call.negotiations] == [("initial", 1, "caller", 2, 200, [(PBX[0], PBX_RTP)]),
                                            ("re-invite", None, "caller", 376, 200, [MEDIA_SERVER])]
    assert [(m.stats.first_frame, m.label, m.call_id, m.binding.direction, m.binding.bound_by) for m in a.streams] == [
        (4, "198.51.100.7:40000 -> 203.0.113.5:50000 0x00001111", "reanchor-1", "caller->callee", "sdp"),
        (5, "203.0.113.5:50000 -> 198.51.100.7:40000 0x00002222", "reanchor-1", "callee->caller", "sdp"),
        (108, "198.51.100.7:40100 -> 203.0.113.5:50100 0x00003333", "other-1", "caller->callee", "sdp"),
        (110, "203.0.113.5:50100 -> 198.51.100.7:40100 0x00004444", "other-1", "callee->caller", "sdp"),
        (383, "198.51.100.7:40002 -> 203.0.113.77:52000 0x00005555", "reanchor-1", "caller->callee", "sdp"),
        (384, "203.0.113.77:52000 -> 198.51.100.7:40002 0x00006666", "reanchor-1", "callee->caller", "latching")]
    assert [(v.call_id, v.verdict.verdict, v.verdict.detail) for v in a.media] == [
        ("reanchor-1", "two-way", "audio flows both ways"), ("other-1", "two-way", "audio flows both ways")]
    # The phone's new port 40002 was in its lost offer: no "audio from another address than announced".
    assert [(f.rule, f.call_id) for f in a.findings] == []


def mid_call(path: Path, answer: str, *, rtp: tuple = ()) -> Path:
    """A capture that begins during a call: the PBX's 200 OK (frame 1) to a re-INVITE of the phone's that the capture
    lacks, with `answer` as its SDP, the ACK, then the RTP `rtp` (src, dst, SSRC, pt) for 6 s and the phone's BYE."""
    s = Script()
    s.sip(0.0, cc.sip_message("SIP/2.0 200 OK", "mid-1", "5 INVITE", src=UA, branch="re5", body=answer), PBX, UA)
    s.sip(0.01, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "mid-1", "5 ACK", src=UA, branch="ack5"), UA, PBX)
    for k, (src, dst, ssrc, pt) in enumerate(rtp):
        s.rtp(src, dst, ssrc, 0.05 + k * 0.005, 6.0, seq0=1000 + 4000 * k, pt=pt)
    return cc.bye(s, 6.5, "mid-1").write(path)


def test_a_private_address_in_the_answer_of_a_lost_reinvite(tmp_path) -> None:
    # The PBX's answer names a private address from its public signalling address: the SDP rules read the answer
    # alone as they read any. Before, a call whose only SDP was that answer had none: no finding at all.
    answer = cc.sdp("10.20.30.40", PBX_RTP, "0", "rtpmap:0 PCMU/8000")
    a = sipdiag.analyze(mid_call(tmp_path / "private.pcap", answer))
    assert [(f.rule, f.severity.label, f.call_id, f.frames) for f in a.findings] == [
        ("nat.private-sdp-address", "minor", "mid-1", (1,)), ("media.no-rtp", "info", None, (1,))]
    f = a.findings[0]
    assert (f.evidence["role"], f.evidence["address"], f.evidence["source"], f.evidence["media"]) == (
        "callee", "10.20.30.40", "203.0.113.5:5060", "unknown")
    # the JSON contract: an offer the capture lacks has no frame (null) and no m= lines
    out = io.StringIO()
    render_json(a, out)
    (call,) = validate_json_document(out.getvalue())["calls"]
    assert [(n["kind"], n["offer_frame"], n["offerer"], n["offer"], n["answer_frame"], n["status"])
            for n in call["negotiations"]] == [("initial", None, "caller", [], 1, 200)]


def test_rtp_outside_the_answer_of_a_lost_reinvite(tmp_path) -> None:
    # The answer accepts PCMA (8) only; the phone keeps sending PCMU (0) to it (RFC 3264 §5.1, §7). Before, the
    # call had no SDP, its streams were bound by the heuristic and no codec rule could judge them.
    answer = cc.sdp(PBX[0], PBX_RTP, "8", "rtpmap:8 PCMA/8000")
    a = sipdiag.analyze(mid_call(tmp_path / "codec.pcap", answer, rtp=(
        ((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0), ((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 8))))
    assert [(m.stats.first_frame, m.call_id, m.binding.direction, m.binding.bound_by) for m in a.streams] == [
        (3, "mid-1", "caller->callee", "sdp"), (4, "mid-1", "callee->caller", "latching")]
    assert [(f.rule, f.severity.label, f.call_id, f.frames) for f in a.findings] == [
        ("codec.rtp-payload-not-negotiated", "major", "mid-1", (3,)),
        ("codec.asymmetric-codec", "info", "mid-1", (3, 4))]
    f = a.findings[0]
    assert (f.evidence["payload_type"], f.evidence["receiver"], f.evidence["accepted"], f.evidence["sdp_frames"]) == (
        0, "callee", "8", "1")


def test_hold_answered_in_a_lost_reinvite_is_one_way_by_design(tmp_path) -> None:
    # The PBX answers recvonly: the phone put it on hold (its sendonly offer is lost; RFC 3264 §6.1, §8.4: a
    # recvonly answer answers sendonly or sendrecv). Audio flows to the PBX only, as asked. Before, it was
    # "one-way audio: the caller hears nothing" (media.one-way-audio).
    answer = cc.sdp(PBX[0], PBX_RTP, "0", "rtpmap:0 PCMU/8000", "recvonly")
    phone_to_pbx = ((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0)
    a = sipdiag.analyze(mid_call(tmp_path / "hold.pcap", answer, rtp=(phone_to_pbx,)))
    assert [(m.stats.first_frame, m.call_id, m.binding.direction, m.binding.bound_by) for m in a.streams] == [
        (3, "mid-1", "caller->callee", "sdp")]
    assert [(v.verdict.verdict, v.verdict.missing_direction, v.verdict.detail) for v in a.media] == [
        # the capture begins with the answer: which party called is not known (Call.roles_known), the parties are
        # named by their addresses
        ("one-way-negotiated", "callee->caller", "audio flows from the party at 198.51.100.7:5060 to the party at "
         "203.0.113.5:5060 only, as the SDP asked (the party at 203.0.113.5:5060 (sip:200@example.com) recvonly in "
         "its answer to an offer the capture lacks; RFC 3264 §6.1)")]
    assert a.media[0].verdict.detail_ru == (
        "Звук идёт только от стороны 198.51.100.7:5060 к стороне 203.0.113.5:5060, как задано в SDP (сторона по "
        "адресу 203.0.113.5:5060 (sip:200@example.com) recvonly в ответе на предложение, которого нет в записи; "
        "RFC 3264 §6.1)")
    assert [f.rule for f in a.findings] == []
