"""The NAT, SIP ALG, router and QoS rules (RULES.md §3.1, §3.2, §3.7): each fires on a capture showing its fault,
with its severity and key evidence, and stays silent on one that does not."""

from __future__ import annotations


import pytest

import sipdiag
from sipdiag.checks import LANGUAGES
from tests import callcapture as cc
from tests import pcapwriter as pw
from tests.conftest import SAMPLES


def findings(path, rule: str) -> list:
    return [f for f in sipdiag.analyze(path).findings if f.rule == rule]


def only(path, rule: str):
    (f,) = findings(path, rule)
    for lang in LANGUAGES:
        assert "{" not in f.customer_text[lang] and "{" not in f.engineer_text[lang] and "?" not in f.customer_text[lang]
    return f


def evidence(f, *keys: str) -> tuple:
    return tuple(f.evidence[k] for k in keys)


# ------------------------------------------------------------------------------------------- NAT, signalling

def test_no_rport_responses_lost_behind_napt(tmp_path) -> None:
    lost = cc.register_without_rport(tmp_path / "norport.pcap")
    f = only(lost, "nat.no-rport-response-lost")
    # 11 sends over 32 s (Timer E/F), each answered with 401 to the Via port 5060 instead of the source port 40000
    assert (f.severity.label, f.frames, f.call_id) == ("critical", (1, 2), None)
    assert evidence(f, "method", "source", "sent_by", "rport", "sends", "statuses", "response_target") == (
        "REGISTER", "198.51.100.20:40000", "192.168.1.20:5060", "no", 11, "401", "198.51.100.20:5060")
    # with rport the 200 OK goes to the source port: nothing is lost
    assert findings(cc.register_without_rport(tmp_path / "rport.pcap", rport=True), "nat.no-rport-response-lost") == []


def test_via_address_and_port_observations(tmp_path) -> None:
    natted = cc.register_without_rport(tmp_path / "rport.pcap", rport=True)
    via = only(natted, "nat.via-address-mismatch")
    assert (via.severity.label, via.confidence, via.frames) == ("info", "high", (1,))
    assert evidence(via, "source", "sent_by", "private_via", "server_received") == (
        "198.51.100.20:40000", "192.168.1.20:5060", "yes", "added")
    port = only(natted, "nat.port-translated")
    assert (port.severity.label, port.confidence) == ("info", "medium")
    assert evidence(port, "source_port", "declared_port", "field", "rport") == (40000, 5060, "top Via", "yes")
    # the lab's NAT preserves the port: the Via address differs, the port does not
    symmetric = SAMPLES / "nat_symmetric_rtp.pcap"
    assert evidence(only(symmetric, "nat.via-address-mismatch"), "source", "sent_by", "server_received") == (
        "203.0.113.2:5060", "192.168.1.10:5060", "missing")
    assert findings(symmetric, "nat.port-translated") == []
    clean = cc.answered_call(tmp_path / "clean.pcap")
    assert findings(clean, "nat.via-address-mismatch") == findings(clean, "nat.port-translated") == []


def test_cgnat_and_double_nat(tmp_path) -> None:
    cgnat = only(cc.register_refreshes(tmp_path / "cgnat.pcap", at_s=(0,), ports=(5060,), src_ip="100.64.12.34"),
                 "nat.cgnat-or-double-nat")
    assert (cgnat.severity.label, cgnat.confidence, cgnat.frames) == ("minor", "medium", (1,))
    assert evidence(cgnat, "kind", "source", "inner", "field") == ("cgnat", "100.64.12.34:5060", "192.168.1.20",
                                                                   "top Via")
    double = only(cc.register_refreshes(tmp_path / "double.pcap", at_s=(0,), ports=(5060,), src_ip="192.168.0.2"),
                  "nat.cgnat-or-double-nat")
    assert (double.confidence, *evidence(double, "kind", "source", "inner")) == (
        "low", "double-nat", "192.168.0.2:5060", "192.168.1.20")
    # another address of the same /24: a multi-homed host, not a NAT
    same_lan = cc.register_refreshes(tmp_path / "lan.pcap", at_s=(0,), ports=(5060,), src_ip="192.168.1.21")
    assert findings(same_lan, "nat.cgnat-or-double-nat") == []
    # one NAT (public source, private Via): not stacked
    assert findings(SAMPLES / "nat_symmetric_rtp.pcap", "nat.cgnat-or-double-nat") == []


# ------------------------------------------------------------------------------------------------ NAT, media

def test_media_source_mismatch_latched_or_lost() -> None:
    lost = only(SAMPLES / "nat_one_way_audio.pcap", "nat.media-source-mismatch")
    assert (lost.severity.label, lost.confidence, lost.frames) == ("major", "high", (12,))
    assert evidence(lost, "role", "sdp_address", "rtp_source", "packets", "class", "latched") == (
        "caller", "192.168.1.10:6000", "203.0.113.2:6000", 825, "nat", "no")
    latched = only(SAMPLES / "nat_symmetric_rtp.pcap", "nat.media-source-mismatch")
    assert (latched.severity.label, latched.evidence["latched"]) == ("info", "yes")
    assert findings(SAMPLES / "clean_call.pcap", "nat.media-source-mismatch") == []


PHONE = ("198.51.100.30", 5060)
STUN = ((0, cc.stun_binding(("198.51.100.30", 61000), ("203.0.113.50", 3478), response=False,
                            mapped=("198.51.100.30", 40002))),
        (5 * cc.MS, cc.stun_binding(("203.0.113.50", 3478), ("198.51.100.30", 61000), response=True,
                                    mapped=("198.51.100.30", 40002))))
# the phone announces the STUN-learned 198.51.100.30:40002 but its RTP to the PBX leaves the NAT from port 61002
FLOWS = ((("198.51.100.30", 61002), (cc.PBX[0], cc.PBX_RTP), 60, 0x1111),
         ((cc.PBX[0], cc.PBX_RTP), ("198.51.100.30", 40002), 60, 0x2222))


def test_stun_mapping_mismatch(tmp_path) -> None:
    path = cc.media_call(tmp_path / "stun.pcap", caller=PHONE, offer=("198.51.100.30", 40002),
                         answer=(cc.PBX[0], cc.PBX_RTP), flows=FLOWS, extra=STUN)
    f = only(path, "nat.stun-mapping-mismatch")
    assert (f.severity.label, f.confidence, f.call_id, f.frames) == ("major", "medium", "media-1", (6,))
    assert evidence(f, "announced", "observed", "stun") == ("198.51.100.30:40002", "198.51.100.30:61002", 2)
    # the same port mismatch without any STUN in the capture is not attributed to STUN
    plain = cc.media_call(tmp_path / "nostun.pcap", caller=PHONE, offer=("198.51.100.30", 40002),
                          answer=(cc.PBX[0], cc.PBX_RTP), flows=FLOWS)
    assert findings(plain, "nat.stun-mapping-mismatch") == []
    assert only(plain, "nat.media-source-mismatch").evidence["class"] == "port"


def test_hairpin_failure(tmp_path) -> None:
    site = ("198.51.100.40", 5062)
    dead = cc.media_call(tmp_path / "hairpin.pcap", caller=site, offer=("198.51.100.40", 4000),
                         answer=("198.51.100.40", 4002), seconds=10)
    f = only(dead, "nat.hairpin-failure")
    assert (f.severity.label, f.frames) == ("major", (1, 2))
    assert evidence(f, "shared_ip", "caller_media", "callee_media", "verdict", "to_callee", "to_caller") == (
        "198.51.100.40", "198.51.100.40:4000", "198.51.100.40:4002", "no-rtp", 0, 0)
    looped = ((("198.51.100.40", 4000), ("198.51.100.40", 4002), 100, 1),
              (("198.51.100.40", 4002), ("198.51.100.40", 4000), 100, 2))
    works = cc.media_call(tmp_path / "hairpin_ok.pcap", caller=site, offer=("198.51.100.40", 4000),
                          answer=("198.51.100.40", 4002), flows=looped, seconds=10)
    assert findings(works, "nat.hairpin-failure") == []


def test_hairpin_failure_of_a_late_offer_names_each_partys_sdp_frame(tmp_path) -> None:
    # The phone's INVITE carries no SDP: the PBX offers in its 200 OK (frame 2), the phone answers in the ACK
    # (frame 3), RFC 3261 §13.2.1. Each party's media goes with its own frame, not the caller's with the offer's.
    site = ("198.51.100.40", 5062)
    s = cc.Script()
    s.sip(0.0, cc.sip_message("INVITE sip:200@example.com SIP/2.0", "late-1", "1 INVITE", src=site, to_tag=False),
          site, cc.PBX)
    s.sip(0.3, cc.sip_message("SIP/2.0 200 OK", "late-1", "1 INVITE", src=site,
                              body=cc.sdp_body("198.51.100.40", 4002)), cc.PBX, site)
    s.sip(0.31, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "late-1", "1 ACK", src=site, branch="ack1",
                               body=cc.sdp_body("198.51.100.40", 4000)), site, cc.PBX)
    s.sip(10.4, cc.sip_message("BYE sip:200@203.0.113.5 SIP/2.0", "late-1", "2 BYE", src=site, branch="bye1"),
          site, cc.PBX)
    (call,) = (a := sipdiag.analyze(s.write(tmp_path / "late.pcap"))).calls
    assert [(n.offerer, n.offer_frame, n.answer_frame) for n in call.negotiations] == [("callee", 2, 3)]
    (f,) = [f for f in a.findings if f.rule == "nat.hairpin-failure"]
    assert evidence(f, "caller_media", "caller_frame", "callee_media", "callee_frame", "offer_frame",
                    "answer_frame") == ("198.51.100.40:4000", 3, "198.51.100.40:4002", 2, 2, 3)
    assert f.engineer_text == {
        "en": "Call late-1: both parties announce the same public address 198.51.100.40 in their SDP (caller "
              "198.51.100.40:4000, frame 3; callee 198.51.100.40:4002, frame 2), so RTP must loop back through "
              "their NAT; 10.1 s after the answer the audio is missing both ways (0 packets to the callee, 0 to the "
              "caller). RFC 4787 REQ-9 requires hairpinning; anchor media on the SBC for same-address calls (e.g. "
              "direct_media=no) or let the phones use host candidates (ICE).",
        "ru": "Вызов late-1: обе стороны объявляют в SDP один и тот же публичный адрес 198.51.100.40 (вызывающий "
              "198.51.100.40:4000, кадр 3; вызываемый 198.51.100.40:4002, кадр 2), поэтому RTP должен вернуться "
              "через их NAT; через 10.1 с после ответа звук отсутствует в обе стороны (0 пакетов к вызываемому, 0 к "
              "вызывающему). RFC 4787 REQ-9 требует hairpinning; якорьте медиа на SBC для вызовов с одного адреса "
              "(например, direct_media=no) или используйте host-кандидаты (ICE)."}


# ------------------------------------------------------------------------------------------------- SIP ALG

ALG_VIA = "SIP/2.0/UDP 203.0.113.200:5060;branch=z9hG4bKcl1;rport"


def _alg_invite(body: str, declared: int | None) -> str:
    return cc.via_sip_message("INVITE sip:200@example.com SIP/2.0", via=ALG_VIA, call_id="cl-1", cseq="1 INVITE",
                          contact="<sip:100@203.0.113.200:5060>", body=body, content_length=declared)


def test_content_length_mismatch(tmp_path) -> None:
    # the ALG rewrote c= and a=rtcp (192.168.1.10 -> 203.0.113.200, +1 octet each) but not o= or Content-Length
    rewritten = cc.sdp_body("203.0.113.200", 6000, rtcp="a=rtcp:6001 IN IP4 203.0.113.200\n", origin="192.168.1.10")
    original = cc.sdp_body("192.168.1.10", 6000, rtcp="a=rtcp:6001 IN IP4 192.168.1.10\n", origin="192.168.1.10")
    declared = len(original.replace("\n", "\r\n").encode())
    src = ("203.0.113.200", 5060)
    f = only(cc.single_messages(tmp_path / "cl.pcap", ((_alg_invite(rewritten, declared), src, cc.PBX),)),
             "alg.content-length-mismatch")
    assert (f.severity.label, f.confidence, f.frames, f.category) == ("major", "high", (1,), "router")
    assert evidence(f, "declared", "actual", "delta", "rewritten") == (
        declared, declared + 2, "+2", "192.168.1.10 -> 203.0.113.200 x2")
    # a shorter public address: the body ends before Content-Length does
    shrunk = cc.sdp_body("198.51.100.7", 6000, origin="192.168.100.100")
    long_decl = len(cc.sdp_body("192.168.100.100", 6000).replace("\n", "\r\n").encode())
    short = cc.via_sip_message("INVITE sip:200@example.com SIP/2.0", via=ALG_VIA.replace("203.0.113.200", "198.51.100.7"),
                           call_id="cl-2", cseq="1 INVITE", body=shrunk, content_length=long_decl)
    g = only(cc.single_messages(tmp_path / "short.pcap", ((short, ("198.51.100.7", 5060), cc.PBX),)),
             "alg.content-length-mismatch")
    assert evidence(g, "delta", "rewritten") == ("-3", "192.168.100.100 -> 198.51.100.7 x1")
    honest = cc.single_messages(tmp_path / "ok.pcap", ((_alg_invite(rewritten, None), src, cc.PBX),))
    assert findings(honest, "alg.content-length-mismatch") == []


def test_message_modified_in_transit(tmp_path) -> None:
    lan = cc.via_sip_message("INVITE sip:200@example.com SIP/2.0", via="SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKmt1;rport",
                         call_id="mt-1", cseq="1 INVITE", contact="<sip:100@192.168.1.10:5060>",
                         body=cc.sdp_body("192.168.1.10", 6000))
    # the copy after the router: Via and Contact rewritten, rport dropped, c= rewritten, o= left alone
    wan = cc.via_sip_message("INVITE sip:200@example.com SIP/2.0", via="SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bKmt1",
                         call_id="mt-1", cseq="1 INVITE", contact="<sip:100@203.0.113.2:5060>",
                         body=cc.sdp_body("203.0.113.2", 6000, origin="192.168.1.10"))
    inside, outside = ("192.168.1.10", 5060), ("203.0.113.2", 5060)
    f = only(cc.single_messages(tmp_path / "mt.pcap", ((lan, inside, cc.PBX), (wan, outside, cc.PBX))),
             "alg.message-modified-in-transit")
    assert (f.severity.label, f.confidence, f.frames, f.call_id) == ("major", "high", (1, 2), "mt-1")
    assert evidence(f, "before_hop", "after_hop", "count", "fields") == (
        "192.168.1.10:5060 -> 203.0.113.5:5060", "203.0.113.2:5060 -> 203.0.113.5:5060", 4,
        "SDP, contact, content-length, via")
    assert "SDP c=IN IP4 192.168.1.10 -> c=IN IP4 203.0.113.2" in f.evidence["changes"]
    # only the addresses of the packets changed (plain NAT, no ALG): the same bytes on both sides
    plain = cc.single_messages(tmp_path / "nat.pcap", ((lan, inside, cc.PBX), (lan, outside, cc.PBX)))
    assert findings(plain, "alg.message-modified-in-transit") == []


# ------------------------------------------------------------------------------------------- router and QoS

def test_nat_binding_timeout(tmp_path) -> None:
    # refreshes at 0 and 30 s keep port 40000; after 60 s idle the next one comes from 41000 (same Via socket)
    moved = cc.register_refreshes(tmp_path / "moved.pcap", at_s=(0, 30, 90), ports=(40000, 40000, 41000))
    f = only(moved, "router.nat-binding-timeout")
    assert (f.severity.label, f.confidence, f.frames, f.call_id) == ("major", "high", (3, 5), None)
    assert evidence(f, "old_binding", "new_binding", "expired_after_s", "alive_s", "expires") == (
        "198.51.100.20:40000", "198.51.100.20:41000", 60.0, 30.0, 60)
    assert "violates the 120 s minimum of RFC 4787 REQ-5" in f.engineer_text["en"]
    kept = cc.register_refreshes(tmp_path / "kept.pcap", at_s=(0, 30, 90), ports=(40000, 40000, 40000))
    assert findings(kept, "router.nat-binding-timeout") == []


def _with_icmp(path):
    """router.icmp-unreachable as `analyze` finds it: the capture side forwards ICMP errors with the SIP."""
    analysis = sipdiag.analyze(path)
    assert all(e.frame for e in analysis.icmp_errors)
    return [f for f in analysis.findings if f.rule == "router.icmp-unreachable"]


def _port_unreachable(at_s: tuple[float, ...]) -> tuple:
    quoted = pw.ipv4(cc.UA[0], cc.PBX[0], 17, pw.udp(cc.UA_RTP, cc.PBX_RTP, pw.rtp_packet(1000, 0, 0x1111)))
    return tuple((int(s * cc.S), cc.icmp_error(cc.PBX[0], cc.UA[0], quoted)) for s in at_s)


def test_icmp_unreachable(tmp_path) -> None:
    rejected = cc.answered_call(tmp_path / "icmp.pcap", extra=_port_unreachable((0.5, 1.0, 1.5)))
    (f,) = _with_icmp(rejected)
    assert (f.severity.label, f.call_id, f.frames) == ("major", "built-1", (23, 74, 125))
    assert evidence(f, "count", "reporter", "reason", "icmp_type", "icmp_code", "kind", "flow") == (
        3, "203.0.113.5", "port unreachable", 3, 3, "RTP", "198.51.100.7:40000 -> 203.0.113.5:50000")
    # errors racing the BYE (within 2 s of it) are the normal end of a call
    race = cc.answered_call(tmp_path / "race.pcap", extra=_port_unreachable((3.0, 3.5, 4.0)))
    assert _with_icmp(race) == []


def stepped_icmp_call(path, errors_at: tuple[float, ...], step_at: float):
    """A call with RTP both ways from 0.5 s to 20.5 s and the caller's BYE at 21 s; port-unreachable errors quote
    the caller's RTP at `errors_at`; the capture's clock steps back 30 s at `step_at` (capture.time-backwards)."""
    script = cc.call_setup(cc.Script(), "icmp-step")
    cc.two_way(script, 0.5, 20.0)
    cc.bye(script, 21.0, "icmp-step")
    script.recs += [(cc.T0 + ns, data) for ns, data in _port_unreachable(errors_at)]
    return script.write(path, step_at=step_at, step_s=-30.0)


def test_icmp_unreachable_across_a_clock_step_by_capture_order(tmp_path) -> None:
    """Across a clock step the ICMP errors and the BYE are ordered by frame, not by their stamped times."""
    # errors 14 s before the BYE, which is stamped 16 s before them: during the call, not the race with the BYE
    during = sipdiag.analyze(stepped_icmp_call(tmp_path / "during.pcap", (5.0, 6.0, 7.0), 10.0))
    assert [(x.code, x.frame) for x in during.anomalies] == [("capture.time-backwards", 957)]
    (f,) = [f for f in during.findings if f.rule == "router.icmp-unreachable"]
    assert (f.call_id, f.frames, f.evidence["count"]) == ("icmp-step", (455, 556, 657), 3)
    # errors after the BYE, stamped 29 s before it: the race at the end of the call
    after = sipdiag.analyze(stepped_icmp_call(tmp_path / "after.pcap", (21.5, 22.0, 22.5), 21.3))
    assert ([(x.code, x.frame) for x in after.anomalies], after.calls[0].bye_frame) == (
        [("capture.time-backwards", 2006)], 2004)
    assert [f.rule for f in after.findings if f.rule == "router.icmp-unreachable"] == []


def test_bufferbloat_suspected(tmp_path) -> None:
    ramp = (40, 45, 80, 150, 210, 240, 230, 120, 50)  # RTT ms every 4 s: an upload fills the buffer and drains
    jitter = (40, 40, 80, 200, 400, 480, 460, 200, 50)
    path = cc.answered_call(tmp_path / "bloat.pcap", seconds=40,
                            extra=cc.rtcp_round_trips(ramp, jitters=jitter))
    f = only(path, "qos.bufferbloat-suspected")
    assert (f.severity.label, f.confidence, f.call_id, f.category) == ("minor", "medium", "built-1", "router")
    assert evidence(f, "rtt_min_ms", "rtt_peak_ms", "rise_ms", "raised_s", "jitter_rising") == (
        40.0, 240.0, 200.0, 12.1, "yes")
    # a step that stays (a route change) is not queueing; neither is a steady RTT
    step = cc.answered_call(tmp_path / "step.pcap", seconds=40,
                            extra=cc.rtcp_round_trips((40, 40, 40, 240, 240, 240, 240, 240, 240)))
    flat = cc.answered_call(tmp_path / "flat.pcap", seconds=40, extra=cc.rtcp_round_trips((40,) * 9))
    assert findings(step, "qos.bufferbloat-suspected") == findings(flat, "qos.bufferbloat-suspected") == []


@pytest.mark.parametrize("capture", ["clean_call.pcap", "sip_over_tcp.pcap", "register_ok.pcap",
                                     "dtmf_rfc4733.pcap", "rtp_loss.pcap"])
def test_silent_on_working_lab_captures(capture: str) -> None:
    ours = ("nat.", "alg.", "router.", "qos.")
    assert [f.rule for f in sipdiag.analyze(SAMPLES / capture).findings if f.rule.startswith(ours)] == []


def test_shared_space_on_both_ends_is_an_overlay_not_cgnat(tmp_path) -> None:
    """RULES.md nat.cgnat-or-double-nat, FP pitfalls: Tailscale numbers its nodes in 100.64.0.0/10 and a subnet
    router masquerades the LAN behind it, so a phone's private Via arrives from a 100.64/10 source there too. A
    carrier-grade NAT translates towards the Internet: a 100.64/10 source reaching a 100.64/10 server is the
    overlay (or an operator network numbered in that space), one NAT, not two."""
    overlay = cc.register_refreshes(tmp_path / "overlay.pcap", at_s=(0,), ports=(5060,), src_ip="100.101.7.9",
                                    registrar=("100.88.1.2", 5060))
    assert findings(overlay, "nat.cgnat-or-double-nat") == []
    # the same phone behind the same address, registering with a server on the Internet: CGNAT (or overlay exit)
    internet = only(cc.register_refreshes(tmp_path / "internet.pcap", at_s=(0,), ports=(5060,),
                                          src_ip="100.101.7.9"), "nat.cgnat-or-double-nat")
    assert evidence(internet, "kind", "source", "inner") == ("cgnat", "100.101.7.9:5060", "192.168.1.20")
