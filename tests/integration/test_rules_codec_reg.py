"""Codec, DTMF, SRTP and registration rules (RULES.md §3.3, §3.4): each fires on a capture showing its fault,
with its severity and evidence, and stays silent on one that does not. Built captures come from
tests/callcapture.py; lab samples and third-party corpus captures where they show the fault."""

from __future__ import annotations

from pathlib import Path

import pytest

import sipdiag
from tests import callcapture as cc
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP
from tests.conftest import SAMPLES

PHONE, REGISTRAR, PHONE_NEW_PORT = ("198.51.100.7", 40000), ("203.0.113.5", 5060), ("198.51.100.7", 40001)
TE = "rtpmap:101 telephone-event/8000"
CRYPTO = "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


def found(path: Path, rule: str) -> list:
    return [f for f in sipdiag.analyze(path).findings if f.rule == rule]


def offer(*a, **k) -> str:
    return cc.sdp(UA[0], UA_RTP, *a, **k)


def answer(*a, **k) -> str:
    return cc.sdp(PBX[0], PBX_RTP, *a, **k)


# ------------------------------------------------------------------------------------------------ codec rules

def test_answer_format_issues_on_the_lab_answer_outside_the_offer() -> None:
    (f,) = found(SAMPLES / "answer_codec_not_offered.pcap", "codec.answer-format-issues")
    assert (f.severity.label, f.evidence["clauses"], f.frames) == ("major", "a", (3, 6))
    assert f.evidence["issues"] == ("the answer (PCMA/8000) lists no voice format of the offer "
                                    "(PCMU/8000, telephone-event/8000)")
    assert found(SAMPLES / "clean_call.pcap", "codec.answer-format-issues") == []


def test_answer_format_issues_renumbered_events_and_amr_octet_align(tmp_path) -> None:
    te = cc.sdp_call(tmp_path / "te.pcap", offer=offer("0 101", TE),
                     answer=answer("0 96", "rtpmap:96 telephone-event/8000"))
    (f,) = found(te, "codec.answer-format-issues")
    assert (f.severity.label, f.evidence["clauses"], f.evidence["issues"]) == (
        "minor", "b", "telephone-event/8000 offered as payload type 101 but answered as 96")
    amr = cc.sdp_call(tmp_path / "amr.pcap", offer=offer("97", "rtpmap:97 AMR/8000", "fmtp:97 octet-align=1"),
                      answer=answer("97", "rtpmap:97 AMR/8000"), up=(97, 160, 100), down=(97, 160, 100))
    (f,) = found(amr, "codec.answer-format-issues")
    assert (f.severity.label, f.evidence["clauses"], f.evidence["issues"]) == (
        "major", "e", "AMR octet-align=1 offered, 0 answered")
    # RFC 3264 §6.1 lets an answer add formats besides offered ones
    assert found(cc.sdp_call(tmp_path / "adds.pcap", offer=offer("0"), answer=answer("0 8")),
                 "codec.answer-format-issues") == []


def test_rtp_payload_not_negotiated_on_the_lab_capture() -> None:
    hits = found(SAMPLES / "answer_codec_not_offered.pcap", "codec.rtp-payload-not-negotiated")
    assert [(f.severity.label, f.evidence["payload_type"], f.evidence["receiver"], f.evidence["accepted"],
             f.evidence["packets"], f.frames) for f in hits] == [
        ("major", 8, "caller", "0, 101", 50, (8,)),  # the PBX sends PCMA the caller never offered
        ("major", 0, "callee", "8", 50, (10,))]  # the caller sends PCMU the PBX's answer left out
    assert found(SAMPLES / "clean_call.pcap", "codec.rtp-payload-not-negotiated") == []
    assert found(SAMPLES / "dtmf_rfc4733.pcap", "codec.rtp-payload-not-negotiated") == []


def runs_call(path: Path, runs: tuple, *, offered: str, answered: str, rtpmaps: tuple[str, ...]) -> Path:
    """A call whose caller sends `runs` (tests.callcapture.Script.rtp_runs: payload types in turn) and the callee 4 s
    of PCMU; the offer lists `offered`, the answer `answered`, both with `rtpmaps`."""
    s = cc.call_setup(cc.Script(), "pt-runs", offer_sdp=offer(offered, *rtpmaps), answer_sdp=answer(answered, *rtpmaps))
    s.rtp_runs((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.4, runs)
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.405, 4.0, seq0=5000)
    return cc.bye(s, 7.0, "pt-runs").write(path)


G711 = ("rtpmap:0 PCMU/8000", "rtpmap:8 PCMA/8000", TE)


@pytest.mark.parametrize(("first", "runs"), [
    (13, ((13, 3, "cn"), (8, 200, "audio"))),  # RFC 3389 comfort noise first, a type the callee did not accept
    (101, ((101, 5, "event"), (8, 200, "audio"))),  # an RFC 4733 digit first, a type the callee accepted
], ids=["comfort-noise-first", "event-first"])
def test_rtp_payload_not_negotiated_judges_the_media_not_the_first_packet(tmp_path, first: int, runs: tuple) -> None:
    """The callee answered PCMU and events; the caller sends PCMA after a few packets of comfort noise or an event.
    The rule judged the first packet's type: comfort noise (with PCMA beside it: 'two voice types, not judged') or
    the accepted event type, and the 200 PCMA packets the callee throws away went unreported."""
    a = sipdiag.analyze(runs_call(tmp_path / "first.pcap", runs, offered="0 8 101", answered="0 101", rtpmaps=G711))
    st = a.streams[0].stats
    assert (st.payload_type, st.main_payload_type, st.codec, st.media_packets_by_type) == (
        first, 8, "PCMA", ((first, runs[0][1]), (8, 200)))
    (f,) = [f for f in a.findings if f.rule == "codec.rtp-payload-not-negotiated"]
    assert (f.severity.label, f.frames, f.evidence["payload_type"], f.evidence["codec"], f.evidence["packets"],
            f.evidence["stream_packets"], f.evidence["receiver"], f.evidence["accepted"]) == (
        "major", (4,), 8, "PCMA", 200, 200 + runs[0][1], "callee", "0, 101")
    assert f.engineer_text["en"].startswith(
        "Call pt-runs: stream 198.51.100.7:40000 -> 203.0.113.5:50000 (SSRC 0x00001111, first frame 4) carries its "
        f"media in payload type 8 (PCMA), 200 of its {200 + runs[0][1]} packets, but the callee's SDP (frame(s) 2) "
        "accepts only 0, 101.")


def test_rtp_payload_not_negotiated_quiet_when_the_media_was_accepted_after_a_few_other_packets(tmp_path) -> None:
    """The callee answered AMR and events; the caller's first 10 packets are PCMU (sent before it applied the answer),
    then 300 AMR packets with a digit. What the callee receives is the type it accepted: no finding (those 10
    packets are 200 ms at the start, not the call's audio thrown away). The rule took the first packet's type,
    PCMU, counted the AMR packets as PCMU's (AMR, a dynamic type beside the events, passed for an event type) and
    reported 310 packets of PCMU (AMR), major."""
    runs = ((0, 10, "audio"), (96, 290, "audio"), (101, 5, "event"), (96, 10, "audio"))
    path = runs_call(tmp_path / "late.pcap", runs, offered="0 96 101", answered="96 101",
                     rtpmaps=("rtpmap:0 PCMU/8000", "rtpmap:96 AMR/8000", TE))
    a = sipdiag.analyze(path)
    st = a.streams[0].stats
    assert (st.payload_type, st.main_payload_type, st.codec, st.media_packets_by_type) == (
        0, 96, "AMR", ((0, 10), (96, 300), (101, 5)))
    assert [(e.digit, e.start_frame) for e in a.rtp.dtmf] == [("1", 504)]
    assert [f.rule for f in a.findings] == []
    # and without events: 10 PCMU packets before 290 accepted PCMA
    pcma = runs_call(tmp_path / "pcma.pcap", ((0, 10, "audio"), (8, 290, "audio")), offered="0 8 101",
                     answered="8 101", rtpmaps=G711)
    assert found(pcma, "codec.rtp-payload-not-negotiated") == []


def test_timestamp_clock_mismatch_g722_stamped_at_16_khz(tmp_path) -> None:
    path = cc.sdp_call(tmp_path / "g722.pcap", offer=offer("9"), answer=answer("9"), up=(9, 320, 250),
                       down=(9, 160, 250))
    (f,) = found(path, "codec.timestamp-clock-mismatch")
    assert (f.severity.label, f.evidence["codec"], f.evidence["clock_hz"], f.evidence["observed_rate"],
            f.evidence["ratio"], f.evidence["src"]) == ("major", "G722", 8000, 16000, 2.0, "198.51.100.7:40000")


def test_timestamp_clock_mismatch_in_the_corpus(corpus) -> None:
    wiki = corpus / "pcaps" / "wireshark-wiki"
    # FreeSWITCH answers L16/11025 but stamps its packets at 8000 Hz (MOS also collapses on that call)
    (f,) = found(wiki / "sip-rtp-l16.pcap", "codec.timestamp-clock-mismatch")
    assert (f.severity.label, f.call_id, f.evidence["clock_hz"], f.evidence["observed_rate"], f.evidence["ratio"]) == (
        "minor", "1-2121@10.0.2.20", 11025, 8000, 0.73)
    for name in ("sip-rtp-g722.pcap", "sip-rtp-opus.pcap", "sip-rtp-dvi4.pcap"):  # right clocks: 8k, 48k, 8k/16k
        assert found(wiki / name, "codec.timestamp-clock-mismatch") == [], name


def test_asymmetric_codec(tmp_path) -> None:
    path = cc.sdp_call(tmp_path / "asym.pcap", offer=offer("0 8"), answer=answer("0 8"), up=(0, 160, 300),
                       down=(8, 160, 300))
    (f,) = found(path, "codec.asymmetric-codec")
    assert (f.severity.label, f.evidence["codec_to_callee"], f.evidence["codec_to_caller"],
            f.evidence["seconds_to_callee"], f.frames) == ("info", "PCMU", "PCMA", 6.0, (4, 5))
    short = cc.sdp_call(tmp_path / "short.pcap", offer=offer("0 8"), answer=answer("0 8"), up=(0, 160, 200),
                        down=(8, 160, 200))  # 4 s each way: under the 5 s of RULES.md
    assert found(short, "codec.asymmetric-codec") == []
    assert found(SAMPLES / "clean_call.pcap", "codec.asymmetric-codec") == []


# ------------------------------------------------------------------------------------------------ DTMF, SRTP

def test_dtmf_events_with_a_payload_type_not_negotiated(tmp_path) -> None:
    path = cc.sdp_call(tmp_path / "dtmf.pcap", offer=offer("0 101", TE), answer=answer("0 101", TE),
                       events=((96, 5, 50, 5, 3), (96, 7, 100, 5, 3)))
    (f,) = found(path, "dtmf.rfc4733-problem")
    assert (f.severity.label, f.evidence["variants"], f.evidence["events"]) == ("major", "b", 2)
    assert "sent as payload type 96, the receiver negotiated 101" in f.evidence["problems_en"]
    right = cc.sdp_call(tmp_path / "ok.pcap", offer=offer("0 101", TE), answer=answer("0 101", TE),
                        events=((101, 5, 50, 5, 3),))
    assert found(right, "dtmf.rfc4733-problem") == []
    assert found(SAMPLES / "dtmf_rfc4733.pcap", "dtmf.rfc4733-problem") == []


def test_rtp_keepalives_of_an_unknown_payload_type_are_not_dtmf(tmp_path) -> None:
    """A phone whose audio is recvonly keeps its NAT binding open with RTP packets of a payload type nobody
    negotiated (RFC 6263 §4.6), here 126 with a 4-byte all-zero payload, as eyeBeam does in Wireshark's
    testing.ext.pcap. Their shape is an RFC 4733 event's, but a duration that never leaves 0 and no end bit is no
    key press: it was a major 'events sent as payload type 126, the receiver negotiated 101'."""
    s = cc.call_setup(cc.Script(), "ka-1", offer_extra="", answer_extra="")
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.4, 6.0)
    for k, at in enumerate((1.0, 2.5, 4.0)):
        packet = cc.pw.rtp_packet(7 + k, 0, 0x3333, pt=126, payload=bytes(4))
        s.recs.append((cc.T0 + int(at * cc.S),
                       cc.pw.link_frame(cc.pw.ipv4(UA[0], PBX[0], 17, cc.pw.udp(UA_RTP, PBX_RTP, packet)))))
    cc.bye(s, 6.6, "ka-1")
    analysis = sipdiag.analyze(s.write(tmp_path / "keepalive.pcap"))
    assert [f for f in analysis.findings if f.rule == "dtmf.rfc4733-problem"] == []
    (call,) = analysis.calls
    media = analysis.media_of(call)
    assert (len(media.streams), media.dtmf) == (2, ())


def test_dtmf_end_packets_not_repeated_in_the_corpus(corpus) -> None:
    # The NEC/Philips gateway sends each digit's end packet once where RFC 4733 §2.5.1.4 sends it three times.
    (f,) = found(corpus / "pcaps" / "wireshark-wiki" / "SIP_DTMF2.cap", "dtmf.rfc4733-problem")
    assert (f.severity.label, f.evidence["variants"]) == ("minor", "c")
    assert f.evidence["problems_en"].startswith("7 event(s) whose end packet is sent 1 time(s) instead of 3")


def test_srtp_offer_answered_with_plain_rtp(tmp_path) -> None:
    path = cc.sdp_call(tmp_path / "srtp.pcap", offer=offer("0", CRYPTO, proto="RTP/SAVP"), answer=answer("0"))
    (f,) = found(path, "media.srtp-profile-mismatch")
    assert (f.severity.label, f.evidence["problem"], f.frames, f.confidence) == (
        "critical", "offer RTP/SAVP answered with RTP/AVP", (1, 2), "high")
    # best-effort SRTP (RTP/AVP with a=crypto) answered plainly is allowed
    best_effort = cc.sdp_call(tmp_path / "be.pcap", offer=offer("0", CRYPTO), answer=answer("0"))
    assert found(best_effort, "media.srtp-profile-mismatch") == []
    assert found(SAMPLES / "clean_call.pcap", "media.srtp-profile-mismatch") == []


# ------------------------------------------------------------------------------------------------ registration

R, S = cc.register_text, cc.register_response


def ok(cseq: int, branch: str, expires: int = 300, contact: str = cc.REG_CONTACT) -> str:
    return S(cseq, branch, "200 OK", headers=f"Contact: <{contact}>;expires={expires}\n")


def test_auth_loop_three_refusals_within_a_minute(tmp_path) -> None:
    msgs = [(0, R(1, "a0"), PHONE, REGISTRAR),
            (0.1, S(1, "a0", "401 Unauthorized", headers=cc.challenge("n0")), REGISTRAR, PHONE)]
    for k in range(1, 4):
        msgs += [(k * 10, R(k + 1, f"a{k}", auth=cc.credentials(f"n{k - 1}", user="200")), PHONE, REGISTRAR),
                 (k * 10 + 0.1, S(k + 1, f"a{k}", "401 Unauthorized", headers=cc.challenge(f"n{k}")), REGISTRAR, PHONE)]
    (f,) = found(cc.write_sip(tmp_path / "loop.pcap", msgs), "reg.auth-loop")
    assert (f.severity.label, f.evidence["refusals"], f.evidence["attempts"], f.evidence["trigger"],
            f.evidence["username"], f.evidence["nonce"], f.evidence["refused_frames"]) == (
        "critical", 3, 4, "3 refusals within 60 s", "200", "n2", "3, 5, 7")
    assert f.evidence["findings_en"] == "digest user '200' differs from the AOR user '100' (auth user vs user id)"
    assert found(tmp_path / "loop.pcap", "reg.rejected") == []  # one finding for one fault
    # RULES.md's trigger holds: a loop, at high confidence, titled as one (a single refusal is medium: see
    # tests/integration/test_auth_refused_once.py)
    assert (f.confidence, f.evidence["loop"], f.evidence["stopped"], f.title, f.titles["ru"]) == (
        "high", True, None, "Registration stuck in a digest authentication loop",
        "Регистрация зациклилась на digest-аутентификации")


def test_auth_loop_in_the_corpus(corpus) -> None:
    aaa = corpus / "pcaps" / "wireshark-wiki" / "aaa.pcap"
    (f,) = found(aaa, "reg.auth-loop")
    # voi18063: credentials refused with 403 (frame 32) and 401 (frame 122), nothing accepted for the 22 minutes
    # the capture goes on; the Nero phone computes its digest over uri sip:192.168.1.2, not its Request-URI.
    assert (f.evidence["aor"], f.evidence["refusals"], f.evidence["statuses"], f.evidence["refused_frames"],
            f.evidence["digest_uri"], f.evidence["request_uri"]) == (
        "sip:voi18063@sip.cybercity.dk", 2, "401, 403", "30, 121", "sip:192.168.1.2", "sip:sip.cybercity.dk")
    assert f.evidence["trigger"] == "no success for 300 s after the first refusal"
    assert f.frames == (30, 32, 121, 122)
    # the accounts that did register (voi18062, 35104723), each after one refused attempt, are no loop
    assert [x.evidence["aor"] for x in found(aaa, "reg.auth-loop")] == ["sip:voi18063@sip.cybercity.dk"]


def test_a_contact_parameter_dropped_on_the_challenged_register_is_one_binding(tmp_path) -> None:
    """A phone (the Nero of aaa.pcap) sends its first REGISTER with Contact sip:100@10.0.0.5:5060 and answers the
    401 with ...;line=abc: one binding under RFC 3261 §19.1.4 (a parameter in one URI only is ignored; §10.3 step
    7 compares Contacts so). It was two registrations, the first 'failed 401' on a mere challenge."""
    line = f"{cc.REG_CONTACT};line=abc"
    path = cc.write_sip(tmp_path / "line.pcap", [
        (0, R(1, "l0"), PHONE, REGISTRAR),
        (0.1, S(1, "l0", "401 Unauthorized", headers=cc.challenge("n0")), REGISTRAR, PHONE),
        (0.2, R(2, "l1", contact=line, auth=cc.credentials("n0")), PHONE, REGISTRAR),
        (0.3, ok(2, "l1", contact=line), REGISTRAR, PHONE)])
    regs = sipdiag.analyze(path).registrations
    assert [(r.contact, r.outcome, r.final_status, r.attempts, r.challenges, r.first_frame, r.last_frame)
            for r in regs] == [(cc.REG_CONTACT, "registered", 200, 2, 1, 1, 4)]
    # maddr (like user, ttl, method) in one URI only makes them differ: two bindings (§19.1.4)
    other = cc.write_sip(tmp_path / "maddr.pcap", [
        (0, R(1, "m0"), PHONE, REGISTRAR),
        (0.2, R(2, "m1", contact=f"{cc.REG_CONTACT};maddr=10.0.0.9"), PHONE, REGISTRAR)])
    assert len(sipdiag.analyze(other).registrations) == 2


def test_aaa_de_registration_answering_a_challenge_with_another_contact_form(corpus) -> None:
    """aaa.pcap frames 421/422: the de-registration of voi18062 is challenged with Contact
    <sip:voi18062@192.168.1.2:5060>, re-sent (430) with ...;line=aca6b97ca3f5e51a and refused (432): one binding,
    the one registered at frame 182, not a third registration 'failed 401' of one challenged REGISTER."""
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "aaa.pcap")
    assert [(r.aor, r.outcome, r.final_status, r.attempts, r.challenges, r.deregistration, r.first_frame,
             r.last_frame) for r in a.registrations] == [
        ("sip:voi18063@sip.cybercity.dk", "failed", 401, 4, 3, False, 19, 122),
        ("sip:voi18062@sip.cybercity.dk", "failed", 401, 6, 5, True, 143, 432),
        ("sip:35104723@sip.cybercity.dk", "registered", 200, 8, 6, False, 441, 650)]
    (refused,) = [f for f in a.findings if f.rule == "reg.rejected"]
    assert refused.frames == (421, 432)
    assert "2 REGISTERs, 2 digest challenge(s), final 401 nonce has changed (frame 432)" in \
        refused.engineer_text["en"]


def test_no_auth_loop_on_a_normal_challenge_or_a_wrong_password() -> None:
    assert found(SAMPLES / "register_ok.pcap", "reg.auth-loop") == []
    assert found(SAMPLES / "register_wrong_password.pcap", "reg.auth-loop") == []  # 401 then 403: reg.rejected


def test_interval_too_brief_423_retried_below_min_expires(tmp_path) -> None:
    msgs = [(0, R(1, "c1", expires=30), PHONE, REGISTRAR),
            (0.1, S(1, "c1", "423 Interval Too Brief", headers="Min-Expires: 60\n"), REGISTRAR, PHONE),
            (1, R(2, "c2", expires=30), PHONE, REGISTRAR),
            (1.1, S(2, "c2", "423 Interval Too Brief", headers="Min-Expires: 60\n"), REGISTRAR, PHONE)]
    path = cc.write_sip(tmp_path / "423.pcap", msgs)
    (f,) = found(path, "reg.interval-too-brief")
    assert (f.severity.label, f.evidence["kind"], f.evidence["min_expires_s"], f.evidence["requested_s"],
            f.frames) == ("major", "a", 60, 30, (1, 2, 3))
    assert found(path, "reg.rejected") == []
    # the lab phone retries with 60 s after its 423 and is accepted
    assert found(SAMPLES / "register_423_then_ok.pcap", "reg.interval-too-brief") == []


def test_interval_too_brief_refresh_after_the_granted_expiry(tmp_path) -> None:
    msgs = [(0, R(1, "d1", expires=3600), PHONE, REGISTRAR), (0.1, ok(1, "d1", 120), REGISTRAR, PHONE),
            (1800, R(2, "d2", expires=3600), PHONE, REGISTRAR), (1800.1, ok(2, "d2", 120), REGISTRAR, PHONE)]
    (f,) = found(cc.write_sip(tmp_path / "lapse.pcap", msgs), "reg.interval-too-brief")
    assert (f.severity.label, f.evidence["kind"], f.evidence["granted_s"], f.evidence["requested_s"],
            f.evidence["lapse_s"], f.frames) == ("major", "b", 120, 3600, 1679.9, (2, 3))


def test_contact_binding_mismatch_flapping(tmp_path) -> None:
    rewritten = "sip:100@198.51.100.7:40000"  # what an ALG or the registrar put in place of the phone's contact
    msgs = []
    for k in range(3):
        msgs += [(k * 5, R(k + 1, f"e{k}"), PHONE, REGISTRAR), (k * 5 + 0.1, ok(k + 1, f"e{k}", 300, rewritten),
                                                                 REGISTRAR, PHONE)]
    (f,) = found(cc.write_sip(tmp_path / "flap.pcap", msgs), "reg.contact-binding-mismatch")
    assert (f.severity.label, f.evidence["count"], f.evidence["contact"], f.evidence["returned"],
            f.evidence["rapid_refreshes"], f.evidence["ok_frames"]) == (
        "major", 3, "sip:100@10.0.0.5:5060", rewritten, 2, "2, 4, 6")
    once = cc.write_sip(tmp_path / "once.pcap", msgs[:2])
    assert [(x.severity.label, x.confidence) for x in found(once, "reg.contact-binding-mismatch")] == [("info", "low")]


def test_no_contact_binding_mismatch_when_the_contact_comes_back(corpus) -> None:
    assert found(SAMPLES / "register_ok.pcap", "reg.contact-binding-mismatch") == []
    # aaa.pcap's 200 OKs return the phone's contact with its ;line= parameter intact
    assert found(corpus / "pcaps" / "wireshark-wiki" / "aaa.pcap", "reg.contact-binding-mismatch") == []


def test_no_contact_binding_mismatch_for_a_transport_parameter_in_one_uri_only(corpus) -> None:
    # SIP_DTMF2.cap: REGISTER Contact sip:2503@192.168.105.110:5060;transport=udp, the 2xx lists it without
    # ;transport=udp: equal under RFC 3261 §19.1.4 (a parameter other than user/ttl/method/maddr in one URI only
    # is ignored), so no altered contact and no SIP ALG to blame
    path = corpus / "pcaps" / "wireshark-wiki" / "SIP_DTMF2.cap"
    analysis = sipdiag.analyze(path)
    assert [(r.aor, r.outcome, r.exchanges[0].contact, r.exchanges[0].returned_contacts)
            for r in analysis.registrations][0] == (
        "sip:2503@192.168.105.105", "registered", "sip:2503@192.168.105.110:5060;transport=udp",
        ("sip:2503@192.168.105.110:5060",))
    assert [f for f in analysis.findings if f.rule == "reg.contact-binding-mismatch"] == []


def test_binding_churn_bounds_the_nat_timeout(tmp_path) -> None:
    msgs = [(0, R(1, "g0"), PHONE, REGISTRAR), (0.1, ok(1, "g0"), REGISTRAR, PHONE),
            (30, R(2, "g1"), PHONE, REGISTRAR), (30.1, ok(2, "g1"), REGISTRAR, PHONE),
            (150, R(3, "g2"), PHONE_NEW_PORT, REGISTRAR), (150.1, ok(3, "g2"), REGISTRAR, PHONE_NEW_PORT)]
    path = cc.write_sip(tmp_path / "churn.pcap", msgs)
    (f,) = found(path, "reg.binding-churn")
    assert (f.severity.label, f.evidence["changes"], f.evidence["sent_by"], f.evidence["new_source"],
            f.evidence["lower_bound_s"], f.evidence["upper_bound_s"], f.evidence["keepalive_s"], f.frames) == (
        "major", 1, "10.0.0.5:5060", "198.51.100.7:40001", 29.9, 119.9, 14, (3, 5))
    steady = cc.write_sip(tmp_path / "steady.pcap", [(t, text, PHONE if src == PHONE_NEW_PORT else src,
                                                      PHONE if dst == PHONE_NEW_PORT else dst)
                                                     for t, text, src, dst in msgs])
    assert found(steady, "reg.binding-churn") == []


def test_binding_churn_takes_no_lower_bound_from_a_digest_retry(tmp_path) -> None:
    """The digest retry right after a 401 keeps the mapping after no idle time: it bounds nothing (it gave 'more
    than 0 s' and a 5 s keep-alive). The keep-alive is then half the upper bound (29.9 s -> 14 s)."""
    msgs = [(0, R(1, "c0"), PHONE, REGISTRAR),
            (0.05, S(1, "c0", "401 Unauthorized", headers=cc.challenge("n0")), REGISTRAR, PHONE),
            (0.0501, R(2, "c1", auth=cc.credentials("n0")), PHONE, REGISTRAR), (0.1, ok(2, "c1"), REGISTRAR, PHONE),
            (30, R(3, "c2", auth=cc.credentials("n0")), PHONE_NEW_PORT, REGISTRAR),
            (30.1, ok(3, "c2"), REGISTRAR, PHONE_NEW_PORT)]
    (f,) = found(cc.write_sip(tmp_path / "retry.pcap", msgs), "reg.binding-churn")
    assert (f.evidence["lower_bound_s"], f.evidence["upper_bound_s"], f.evidence["keepalive_s"]) == (None, 29.9, 14)
    assert "NAT UDP mapping lifetime: at most 30 s." in f.engineer_text["en"]
    assert "recommended keep-alive 14 s" in f.engineer_text["en"]


# ------------------------------------------------------------ registrations failing alike: one finding per device

PHONE_A, PHONE_B, OTHER_REGISTRAR = ("10.0.0.5", 5060), ("10.0.0.6", 5060), ("203.0.113.6", 5060)


def line(t: float, user: str, phone: tuple[str, int], registrar: tuple[str, int] = REGISTRAR,
         status: str | None = None) -> list:
    """One line of a multi-line phone registering: its REGISTER at t, and the registrar's `status` 0.05 s later
    (None: never answered)."""
    own = f"{phone[0]}:{phone[1]}"
    kw = {"call_id": f"reg-{user}", "via": own, "user": user}
    msgs = [(t, R(1, user, contact=f"sip:{user}@{own}", **kw), phone, registrar)]
    return msgs + ([(t + 0.05, S(1, user, status, **kw), registrar, phone)] if status else [])


def two_phones(path: Path) -> Path:
    """Phone A: lines 100-102 refused 403 (interleaved with B's), 104 refused 403 by another registrar, 103 never
    answered. Phone B: lines 200-201 refused 403, 202 refused 404, 203-204 never answered. An OPTIONS 38 s
    later ends the capture after Timer F (RFC 3261 §17.1.2.2)."""
    forbidden, unknown = "403 Forbidden", "404 Not Found"
    msgs = [*line(0.0, "100", PHONE_A, status=forbidden), *line(0.2, "101", PHONE_A, status=forbidden),
            *line(0.4, "200", PHONE_B, status=forbidden), *line(0.6, "102", PHONE_A, status=forbidden),
            *line(0.8, "201", PHONE_B, status=forbidden), *line(1.0, "202", PHONE_B, status=unknown),
            *line(1.2, "104", PHONE_A, OTHER_REGISTRAR, status=forbidden),
            *line(2.0, "203", PHONE_B), *line(2.1, "204", PHONE_B), *line(2.2, "103", PHONE_A),
            (40.0, cc.sip_message("OPTIONS sip:x@example.com SIP/2.0", "o-1", "1 OPTIONS", src=PHONE_A,
                                  to_tag=False), PHONE_A, REGISTRAR)]
    return cc.write_sip(path, msgs)


# reg.rejected's words per final answer (RULES.md reg.rejected): the engineer's diagnosis and the customer's
# reason in plain words, English and Russian
BARRED = (
    "Refused before any digest challenge, so not for the credentials: an IP ACL or a network the account may not "
    "register from, a disabled account, or a domain the registrar does not serve; check the source address against "
    "the account's allowed networks and the registrar's ACLs, and the domain (RFC 3261 §21.4.4)",
    "Отказ до какого-либо запроса авторизации, то есть не из-за учётных данных: ACL по IP-адресу или сеть, из "
    "которой учётной записи нельзя регистрироваться, отключённая учётная запись или домен, который регистратор не "
    "обслуживает; сверьте адрес источника с разрешёнными сетями учётной записи и ACL регистратора, а также домен "
    "(RFC 3261 §21.4.4)")
NOT_FOUND = (
    "The registrar knows no such user or domain: check the registrar address and the domain provisioned in the "
    "phone against the account (the Request-URI's domain must be one the registrar serves, the AOR one of its "
    "users) (RFC 3261 §10.3 steps 1, 3)",
    "Регистратор не знает такого пользователя или домена: сверьте адрес регистратора и домен, заданные в телефоне, "
    "с учётной записью (домен Request-URI должен обслуживаться регистратором, AOR — быть его пользователем) "
    "(RFC 3261 §10.3, шаги 1 и 3)")
NOT_ALLOWED = ("sign-in from your phone is not allowed", "вход с вашего телефона не разрешён")
# the customer's second sentence: the account and the phone's settings are ours to fix, or (engineering) our
# network's policy, nothing to change in the phone
UPDATE = ("We are checking your account settings and will update your phone.",
          "Мы проверяем настройки вашей учётной записи и обновим настройки телефона.")
CHECKING = ("We are checking your account settings.", "Мы проверяем настройки вашей учётной записи.")


def refusal_texts(reason: tuple[str, str], action: tuple[str, str], lines: tuple[str, str] | None = None
                  ) -> dict[str, str]:
    """reg.rejected's customer text for a refused sign-in (RULES.md): the reason in plain words, then the action;
    lines: how a group names its lines, ('3 of your lines', '3 ваших линий'), whose sign-in it is rather than the
    phone's."""
    if lines is None:
        return {"en": f"Our system refused your phone's sign-in ('{reason[0]}'). {action[0]}",
                "ru": f"Наша система отклонила вход вашего телефона («{reason[1]}»). {action[1]}"}
    return {"en": f"Our system refused the sign-in of {lines[0]} ('{reason[0]}'). {action[0]}",
            "ru": f"Наша система отклонила вход {lines[1]} («{reason[1]}»). {action[1]}"}


def grouping(findings: list) -> list[tuple]:
    return [(f.evidence["source"], f.evidence["registrar"], f.evidence.get("status"), f.evidence["aors"],
             f.evidence["count"], f.frames, f.severity.label) for f in findings]


def test_registrations_failing_alike_are_one_finding_per_device_registrar_and_answer(tmp_path) -> None:
    path = two_phones(tmp_path / "two-phones.pcap")
    a, b, reg, other = "10.0.0.5:5060", "10.0.0.6:5060", "203.0.113.5:5060", "203.0.113.6:5060"
    aors = [f"sip:{u}@example.com" for u in ("100", "101", "102", "200", "201", "202", "103", "203", "204", "104")]
    rejected = found(path, "reg.rejected")
    assert grouping(rejected) == [
        (a, reg, 403, aors[0:3], 3, (1, 2, 3, 4, 7, 8), "critical"),
        (b, reg, 403, aors[3:5], 2, (5, 6, 9, 10), "critical"),
        (b, reg, 404, [aors[5]], 1, (11, 12), "critical"),  # phone B failing a second way: its own finding
        (a, other, 403, [aors[9]], 1, (13, 14), "critical")]  # another registrar: its own finding
    assert [f.evidence["final_frames"] for f in rejected] == [[2, 4, 8], [6, 10], [12], [14]]
    group, single = rejected[0], rejected[2]
    assert (group.evidence["aor"], group.evidence["frame"], group.evidence["attempts"],
            group.evidence["challenges"], group.confidence) == (aors[0], 2, 3, 0, "high")
    # refused without a challenge: the registrar's policy on where the lines register from, the engineers'
    assert (group.owner, group.evidence["cause"], single.owner, single.evidence["cause"]) == (
        "engineering", "barred", "first-line", "not-found")
    assert group.engineer_text["en"] == (
        "Registrations of 3 AORs from 10.0.0.5:5060 to 203.0.113.5:5060 (sip:100@example.com, sip:101@example.com, "
        f"sip:102@example.com): 3 REGISTERs, 0 digest challenge(s), final 403 Forbidden (frames 2, 4, 8). {BARRED[0]}. "
        "First registration (sip:100@example.com): Request-URI sip:example.com.")
    assert group.engineer_text["ru"] == (
        "Регистрации 3 AOR с 10.0.0.5:5060 на 203.0.113.5:5060 (sip:100@example.com, sip:101@example.com, "
        "sip:102@example.com): REGISTER: 3, запросов авторизации: 0, итог 403 Forbidden (кадры 2, 4, 8). "
        f"{BARRED[1]}. Первая регистрация (sip:100@example.com): Request-URI sip:example.com.")
    assert group.customer_text == refusal_texts(NOT_ALLOWED, CHECKING, ("3 of your lines", "3 ваших линий"))
    # a registration failing alone is worded for itself
    assert single.engineer_text["en"] == (
        "Registration sip:202@example.com from 10.0.0.6:5060: 1 REGISTER, 0 digest challenge(s), final 404 Not "
        f"Found (frame 12). {NOT_FOUND[0]}. Request-URI sip:example.com.")
    assert single.customer_text == refusal_texts(("the account or domain set in your phone was not found",
                                                  "учётная запись или домен, заданные в телефоне, не найдены"), UPDATE)
    lost = found(path, "reg.no-response")
    assert grouping(lost) == [(b, reg, None, aors[7:9], 2, (15, 16), "critical"),
                              (a, reg, None, [aors[6]], 1, (17,), "critical")]
    assert [(f.evidence["sends"], f.evidence["request_frames"]) for f in lost] == [(2, [15, 16]), (1, [17])]
    assert lost[0].engineer_text["en"].startswith(
        "Registrations of 2 AORs from 10.0.0.6:5060 to 203.0.113.5:5060 (sip:203@example.com, sip:204@example.com): "
        "2 REGISTER transmission(s) without any response (Timer F, 64*T1, RFC 3261 §17.1.2.2), first at frames 15, "
        "16. Check routing")
    assert lost[0].customer_text == {
        "en": "The sign-in requests of 2 of your lines to our service get no answer, so these lines cannot make or "
              "receive calls. Please check that your equipment's internet connection works; we are checking the path "
              "to our server.",
        "ru": "Запросы на вход 2 ваших линий в наш сервис остаются без ответа, поэтому по этим линиям нельзя звонить "
              "и принимать звонки. Проверьте подключение оборудования к интернету; мы проверяем путь до нашего "
              "сервера."}
    assert lost[1].engineer_text["en"].startswith(
        "Registration sip:103@example.com from 10.0.0.5:5060 to 203.0.113.5:5060: 1 REGISTER transmission(s) "
        "without any response (Timer F, 64*T1, RFC 3261 §17.1.2.2), first at frame 17. Check routing")
    assert lost[1].customer_text["en"].startswith("Your phone tries to sign in to our service but gets no answer")


def test_a_large_group_lists_its_first_lines_and_counts_the_rest(tmp_path) -> None:
    # a PBX whose 12 extensions all get 503: one server fault, one finding; 504 for one more is another answer
    msgs = [m for k in range(12) for m in line(k * 0.1, str(300 + k), PHONE_A, status="503 Service Unavailable")]
    path = cc.write_sip(tmp_path / "pbx.pcap", msgs + line(2.0, "399", PHONE_A, status="504 Server Time-out"))
    group, other = found(path, "reg.server-error")
    assert (group.evidence["count"], len(group.evidence["aors"]), group.evidence["final_frames"],
            group.evidence["status"], group.severity.label) == (12, 12, list(range(2, 25, 2)), 503, "major")
    assert (other.evidence["count"], other.evidence["status"], other.frames) == (1, 504, (25, 26))
    assert group.engineer_text["en"].startswith(
        "Registrations of 12 AORs from 10.0.0.5:5060 to 203.0.113.5:5060 (sip:300@example.com, "
        + ", ".join(f"sip:{u}@example.com" for u in range(301, 310)) + " and 2 more): 12 REGISTERs, 0 digest "
        "challenge(s), final 503 Service Unavailable (frames 2, 4, 6, 8, 10, 12, 14, 16, 18, 20 and 2 more): ")
    assert "(кадры 2, 4, 6, 8, 10, 12, 14, 16, 18, 20 и ещё 2)" in group.engineer_text["ru"]
    # none of the 503s says when to retry (RFC 3261 §20.33); a 504 is not one to carry a Retry-After
    assert group.engineer_text["en"].endswith(
        "First registration (sip:300@example.com): Request-URI sip:example.com. The answers carry no Retry-After "
        "(RFC 3261 §20.33): they do not say when to retry.")
    assert group.engineer_text["ru"].endswith(
        "Первая регистрация (sip:300@example.com): Request-URI sip:example.com. В ответах нет Retry-After "
        "(RFC 3261 §20.33): они не говорят, когда повторить попытку.")
    assert other.engineer_text["en"].endswith("check the registrar and the servers behind it. Request-URI "
                                              "sip:example.com.")
    assert group.customer_text == {
        "en": "The sign-in of 12 of your lines to our service failed because of a fault on our side (our server "
              "answered 503 Service Unavailable); your equipment and account settings are not the cause. We are "
              "working on it; your equipment will retry by itself.",
        "ru": "Вход 12 ваших линий в наш сервис не удался из-за неисправности на нашей стороне (наш сервер ответил "
              "503 Service Unavailable); настройки оборудования и учётной записи здесь ни при чём. Мы устраняем "
              "проблему; оборудование повторит попытку само."}
    # one line alone: the phone's own words
    assert other.customer_text == {
        "en": "Your phone could not sign in to our service because of a fault on our side (our server answered 504 "
              "Server Time-out); your phone and account settings are not the cause. We are working on it; your "
              "phone will retry by itself.",
        "ru": "Ваш телефон не смог войти в наш сервис из-за неисправности на нашей стороне (наш сервер ответил 504 "
              "Server Time-out); настройки телефона и учётной записи здесь ни при чём. Мы устраняем проблему; "
              "телефон повторит попытку сам."}


def test_corpus_multi_line_phone_refused_on_every_line_is_one_finding(corpus) -> None:
    # wireuploaded.pcap: an Aastra 480i registers its 4 lines with 192.168.60.240, each refused 403 Forbidden
    (f,) = found(corpus / "pcaps" / "wireshark-wiki" / "wireuploaded.pcap", "reg.rejected")
    aors = [f"sip:{user}@192.168.60.240:5060" for user in ("210", "210E210.1", "210E210.2", "210E210.3")]
    assert (f.severity.label, f.evidence["aors"], f.evidence["count"], f.evidence["final_frames"], f.frames,
            f.evidence["source"], f.evidence["registrar"], f.evidence["status"]) == (
        "critical", aors, 4, [725, 727, 740, 747], (722, 725, 726, 727, 739, 740, 746, 747), "192.168.60.76:5060",
        "192.168.60.240:5060", 403)
    # no line was challenged: refused for where it registers from (or to), the engineers' (RULES.md reg.rejected)
    assert (f.owner, f.evidence["cause"], f.evidence["server"], f.evidence["request_uri"]) == (
        "engineering", "barred", "Wave/10.5.3009.2136", "sip:192.168.60.240:5060")
    assert f.engineer_text["en"] == (
        f"Registrations of 4 AORs from 192.168.60.76:5060 to 192.168.60.240:5060 ({', '.join(aors)}): 4 REGISTERs, 0 "
        f"digest challenge(s), final 403 Forbidden (frames 725, 727, 740, 747). {BARRED[0]}. First registration "
        f"({aors[0]}): Request-URI sip:192.168.60.240:5060; Server: Wave/10.5.3009.2136.")
    assert f.customer_text == refusal_texts(NOT_ALLOWED, CHECKING, ("4 of your lines", "4 ваших линий"))


def test_corpus_fuzzed_registers_group_only_where_device_and_registrar_agree(corpus) -> None:
    # fuzz-2006-06-26-2594.pcap: a fuzzed copy of a Danish phone's traffic; 7 REGISTERs whose answers the fuzzing
    # broke (or that never had one). 4 go from 192.168.1.2:5060 to 212.242.33.35:5060; the others carry a
    # mangled source address, source port or registrar address and stay on their own.
    lost = found(corpus / "pcaps" / "ndpi" / "fuzz-2006-06-26-2594.pcap", "reg.no-response")
    assert [(f.evidence["source"], f.evidence["registrar"], f.evidence["count"], f.evidence["request_frames"])
            for f in lost] == [
        ("192.168.1.52:5060", "212.242.33.35:5060", 1, [19]),
        ("192.168.1.2:5060", "212.242.33.35:5060", 4, [121, 453, 524, 648]),
        ("192.168.1.2:20932", "212.242.33.35:5060", 1, [169]),
        ("192.168.1.2:5060", "212.234.33.35:5060", 1, [639])]
    assert lost[1].evidence["aors"] == ["sip:voi18063@sip.cybercity.dk", "sip:35104723@sip.cybebcity.dk",
                                        "sip:35104723@sip.cybercity.dk", ""]


# ------------------------------------------------------------ reg.rejected: what each final answer means

KAMAILIO = "Server: kamailio (5.6.2 (x86_64/linux))\n"


def refused(status: str, headers: str = "", *, challenged: bool = False, request_headers: str = "",
            lines: tuple[str, ...] = ("100",), start: float = 0.0) -> list:
    """PHONE_A's `lines`, one a second from `start`, each registering with REGISTRAR and refused with `status` and
    the response `headers`; challenged: a 401 first, then the REGISTER with credentials. request_headers replace
    the REGISTER's Max-Forwards line (and may add more)."""
    own = f"{PHONE_A[0]}:{PHONE_A[1]}"
    msgs: list = []
    for k, user in enumerate(lines):
        t, kw = start + k, {"call_id": f"reg-{user}", "via": own, "user": user}

        def register(cseq: int, branch: str, **extra) -> str:
            text = R(cseq, branch, contact=f"sip:{user}@{own}", **kw, **extra)
            return text.replace("Max-Forwards: 70\n", request_headers) if request_headers else text

        cseq = 1
        if challenged:
            msgs += [(t, register(1, f"c{user}"), PHONE_A, REGISTRAR),
                     (t + 0.05, S(1, f"c{user}", "401 Unauthorized", headers=cc.challenge("n1"), **kw), REGISTRAR,
                      PHONE_A)]
            t, cseq = t + 0.2, 2
        credentials = {"auth": cc.credentials("n1", user=user)} if challenged else {}
        msgs += [(t, register(cseq, f"r{user}", **credentials), PHONE_A, REGISTRAR),
                 (t + 0.05, S(cseq, f"r{user}", status, headers=headers, **kw), REGISTRAR, PHONE_A)]
    return msgs


def refused_capture(path: Path, *args, **kw) -> Path:
    return cc.write_sip(path, refused(*args, **kw))


def the_refusal(path: Path) -> tuple:
    """The capture's one finding (reg.rejected) and its owner, cause, frames and the answer's headers."""
    (f,) = sipdiag.analyze(path).findings
    assert (f.rule, f.severity.label) == ("reg.rejected", "critical")
    return f, (f.owner, f.evidence["cause"], f.frames, f.evidence["request_uri"], f.evidence["server"],
               f.evidence["warning"], f.evidence["reason_header"], f.evidence["option_tags"])


SUBJECT = ("Registration sip:100@example.com from 10.0.0.5:5060: 1 REGISTER, 0 digest challenge(s), final",
           "Регистрация sip:100@example.com с 10.0.0.5:5060: REGISTER: 1, запросов авторизации: 0, итог")


def test_rejected_400_points_at_a_rewritten_or_malformed_register(tmp_path) -> None:
    warning = '399 sip.example.com "Bad Content-Length"'
    f, figures = the_refusal(refused_capture(tmp_path / "400.pcap", "400 Bad Request",
                                             KAMAILIO + f"Warning: {warning}\n"))
    assert figures == ("first-line", "malformed", (1, 2), "sip:example.com", "kamailio (5.6.2 (x86_64/linux))",
                       warning, "", [])
    assert f.customer_text == refusal_texts(("the request from your phone could not be read",
                                             "запрос телефона не удалось прочитать"), UPDATE)
    assert f.engineer_text == {
        "en": f"{SUBJECT[0]} 400 Bad Request (frame 2). The registrar could not parse the REGISTER: look for a SIP "
              "ALG rewriting it on the way (compare the REGISTER as sent and as received) and a wrong "
              "Content-Length (RFC 3261 §21.4.1, §20.14). Request-URI sip:example.com; Server: kamailio (5.6.2 "
              f"(x86_64/linux)); Warning: {warning}.",
        "ru": f"{SUBJECT[1]} 400 Bad Request (кадр 2). Регистратор не смог разобрать REGISTER: ищите SIP ALG, "
              "переписывающий запрос по пути (сравните REGISTER при отправке и при получении), и неверный "
              "Content-Length (RFC 3261 §21.4.1, §20.14). Request-URI sip:example.com; Server: kamailio (5.6.2 "
              f"(x86_64/linux)); Warning: {warning}."}


def test_rejected_403_without_a_challenge_is_the_networks_policy_not_the_password(tmp_path) -> None:
    # RULES.md reg.rejected: a 403 no challenge preceded was not about credentials; an IP ACL or a network the
    # account may not register from is the operator's engineers' to check (owner NETENG for ACLs)
    warning = '399 sbc.example.com "Source address not allowed"'
    f, figures = the_refusal(refused_capture(tmp_path / "acl.pcap", "403 Forbidden",
                                             KAMAILIO + f"Warning: {warning}\n"))
    assert figures == ("engineering", "barred", (1, 2), "sip:example.com", "kamailio (5.6.2 (x86_64/linux))",
                       warning, "", [])
    assert f.customer_text == refusal_texts(NOT_ALLOWED, CHECKING)
    assert f.engineer_text == {
        "en": f"{SUBJECT[0]} 403 Forbidden (frame 2). {BARRED[0]}. Request-URI sip:example.com; Server: kamailio "
              f"(5.6.2 (x86_64/linux)); Warning: {warning}.",
        "ru": f"{SUBJECT[1]} 403 Forbidden (кадр 2). {BARRED[1]}. Request-URI sip:example.com; Server: kamailio "
              f"(5.6.2 (x86_64/linux)); Warning: {warning}."}


def test_rejected_403_after_a_challenge_is_the_password(tmp_path) -> None:
    f, figures = the_refusal(refused_capture(tmp_path / "password.pcap", "403 Forbidden", KAMAILIO,
                                             challenged=True))
    assert figures == ("first-line", "credentials", (1, 4), "sip:example.com", "kamailio (5.6.2 (x86_64/linux))",
                       "", "", [])
    assert f.customer_text == refusal_texts(("wrong user name or password", "неверное имя пользователя или пароль"),
                                            UPDATE)
    assert f.engineer_text == {
        "en": "Registration sip:100@example.com from 10.0.0.5:5060: 2 REGISTERs, 1 digest challenge(s), final 403 "
              "Forbidden (frame 4). Credentials were sent and refused: wrong password or user name (RFC 3261 "
              "§21.4.4, §22). Request-URI sip:example.com; Server: kamailio (5.6.2 (x86_64/linux)).",
        "ru": "Регистрация sip:100@example.com с 10.0.0.5:5060: REGISTER: 2, запросов авторизации: 1, итог 403 "
              "Forbidden (кадр 4). Учётные данные отправлены и отвергнуты: неверный пароль или имя пользователя "
              "(RFC 3261 §21.4.4, §22). Request-URI sip:example.com; Server: kamailio (5.6.2 (x86_64/linux))."}


def test_rejected_404_is_an_unknown_user_or_domain(tmp_path) -> None:
    reason = 'SIP;cause=404;text="Unknown user"'  # RFC 3326 Reason in a response (RFC 6432)
    f, figures = the_refusal(refused_capture(tmp_path / "404.pcap", "404 Not Found", f"Reason: {reason}\n"))
    assert figures == ("first-line", "not-found", (1, 2), "sip:example.com", "", "", reason, [])
    assert f.customer_text == refusal_texts(("the account or domain set in your phone was not found",
                                             "учётная запись или домен, заданные в телефоне, не найдены"), UPDATE)
    assert f.engineer_text == {
        "en": f"{SUBJECT[0]} 404 Not Found (frame 2). {NOT_FOUND[0]}. Request-URI sip:example.com; Reason: {reason}.",
        "ru": f"{SUBJECT[1]} 404 Not Found (кадр 2). {NOT_FOUND[1]}. Request-URI sip:example.com; Reason: {reason}."}


def test_rejected_420_names_the_unsupported_option_tags(tmp_path) -> None:
    # a phone requiring SIP outbound (RFC 5626) and Path (RFC 3327) of a registrar that supports neither: the 420
    # lists them in Unsupported (RFC 3261 §20.40)
    f, figures = the_refusal(refused_capture(tmp_path / "420.pcap", "420 Bad Extension",
                                             KAMAILIO + "Unsupported: outbound, path\n",
                                             request_headers="Max-Forwards: 70\nRequire: outbound, path\n"))
    assert figures == ("first-line", "bad-extension", (1, 2), "sip:example.com",
                       "kamailio (5.6.2 (x86_64/linux))", "", "", ["outbound", "path"])
    assert f.customer_text == refusal_texts(("your phone asked for a feature our system does not support",
                                             "телефон запросил функцию, которую наша система не поддерживает"), UPDATE)
    assert f.engineer_text == {
        "en": f"{SUBJECT[0]} 420 Bad Extension (frame 2). The registrar does not support an extension the REGISTER "
              "requires (Require, Proxy-Require): its Unsupported header names outbound (RFC 5626), path (RFC 3327); "
              "turn that requirement off in the phone or enable the extension on the registrar (RFC 3261 §20.40, "
              "§21.4.15). Request-URI sip:example.com; Server: kamailio (5.6.2 (x86_64/linux)).",
        "ru": f"{SUBJECT[1]} 420 Bad Extension (кадр 2). Регистратор не поддерживает расширение, которого требует "
              "REGISTER (Require, Proxy-Require): его заголовок Unsupported называет outbound (RFC 5626), path "
              "(RFC 3327); отключите это требование в телефоне или включите расширение на регистраторе (RFC 3261 "
              "§20.40, §21.4.15). Request-URI sip:example.com; Server: kamailio (5.6.2 (x86_64/linux))."}


def test_rejected_lines_group_only_where_the_answer_means_the_same(tmp_path) -> None:
    # lines 100 and 101 refused 420 for outbound are one finding; 102 refused 420 for path is another problem
    # (regfailures.grouped: a group's texts are worded once, so what the answer means is part of its key)
    path = cc.write_sip(tmp_path / "420s.pcap", refused("420 Bad Extension", "Unsupported: outbound\n",
                                                        lines=("100", "101"))
                        + refused("420 Bad Extension", "Unsupported: path\n", lines=("102",), start=2.0))
    outbound, path_tag = found(path, "reg.rejected")
    assert [(f.evidence["aors"], f.evidence["option_tags"], f.frames) for f in (outbound, path_tag)] == [
        (["sip:100@example.com", "sip:101@example.com"], ["outbound"], (1, 2, 3, 4)),
        (["sip:102@example.com"], ["path"], (5, 6))]
    assert "its Unsupported header names outbound (RFC 5626); turn" in outbound.engineer_text["en"]
    assert outbound.engineer_text["en"].endswith(" First registration (sip:100@example.com): Request-URI "
                                                 "sip:example.com.")
    # the sign-in of the lines, not "your phone's sign-in for 2 lines"; the account is ours to fix, in the equipment
    assert outbound.customer_text == refusal_texts(
        ("your phone asked for a feature our system does not support",
         "телефон запросил функцию, которую наша система не поддерживает"),
        ("We are checking your account settings and will update your equipment.",
         "Мы проверяем настройки вашей учётной записи и обновим настройки оборудования."),
        ("2 of your lines", "2 ваших линий"))


def test_rejected_challenges_never_answered_are_a_missing_password_not_a_wrong_one(tmp_path) -> None:
    # 3 REGISTERs without credentials, each challenged (sip.auth_loop_attempts): the phone never tried a password
    msgs = [m for k in range(3) for m in ((k * 20.0, R(k + 1, f"u{k}"), PHONE_A, REGISTRAR),
                                          (k * 20.0 + 0.05, S(k + 1, f"u{k}", "401 Unauthorized",
                                                              headers=cc.challenge(f"n{k}")), REGISTRAR, PHONE_A))]
    f, figures = the_refusal(cc.write_sip(tmp_path / "unanswered.pcap", msgs))
    assert figures == ("first-line", "unanswered-challenge", (1, 6), "sip:example.com", "", "", "", [])
    assert f.customer_text == refusal_texts(("your phone did not send its password", "телефон не отправил пароль"),
                                            UPDATE)
    assert f.engineer_text == {
        "en": "Registration sip:100@example.com from 10.0.0.5:5060: 3 REGISTERs, 3 digest challenge(s), final 401 "
              "Unauthorized (frame 6). The phone was challenged and never answered with credentials: no password "
              "provisioned, or a digest it cannot compute (algorithm, realm) (RFC 3261 §22.2). Request-URI "
              "sip:example.com.",
        "ru": "Регистрация sip:100@example.com с 10.0.0.5:5060: REGISTER: 3, запросов авторизации: 3, итог 401 "
              "Unauthorized (кадр 6). Телефон получал запросы авторизации и ни разу не ответил учётными данными: "
              "пароль не задан или телефон не может вычислить digest (алгоритм, realm) (RFC 3261 §22.2). "
              "Request-URI sip:example.com."}
    # one challenge the capture ends on is no refusal: the phone may answer it after
    assert found(cc.write_sip(tmp_path / "one.pcap", msgs[:2]), "reg.rejected") == []


def test_rejected_482_and_483_are_routing_loops(tmp_path) -> None:
    f, figures = the_refusal(refused_capture(tmp_path / "482.pcap", "482 Loop Detected", KAMAILIO))
    assert figures == ("first-line", "loop", (1, 2), "sip:example.com", "kamailio (5.6.2 (x86_64/linux))", "", "",
                       [])
    reason = (("your phone's sign-in request went round in a loop on its way",
               "запрос телефона на вход зациклился по пути"))
    assert f.customer_text == refusal_texts(reason, UPDATE)
    assert f.engineer_text == {
        "en": f"{SUBJECT[0]} 482 Loop Detected (frame 2). The REGISTER came back to a proxy it had already passed, a "
              "routing loop: check that the domain the phone registers to (Request-URI) is one the registrar "
              "serves, and the routes the proxies have for it (RFC 3261 §16.3 step 4, §21.4.20). Request-URI "
              "sip:example.com; Server: kamailio (5.6.2 (x86_64/linux)).",
        "ru": f"{SUBJECT[1]} 482 Loop Detected (кадр 2). REGISTER вернулся на прокси, через который уже прошёл, — "
              "петля маршрутизации: проверьте, что домен, в котором регистрируется телефон (Request-URI), "
              "обслуживается регистратором, и маршруты прокси для него (RFC 3261 §16.3, шаг 4, §21.4.20). "
              "Request-URI sip:example.com; Server: kamailio (5.6.2 (x86_64/linux))."}
    # a phone starting its REGISTERs with Max-Forwards 5: the hops run out before the registrar
    f, figures = the_refusal(refused_capture(tmp_path / "483.pcap", "483 Too Many Hops",
                                             request_headers="Max-Forwards: 5\n"))
    assert figures == ("first-line", "too-many-hops", (1, 2), "sip:example.com", "", "", "", [])
    assert f.customer_text == refusal_texts(("your phone's sign-in request passed through too many servers",
                                             "запрос телефона на вход прошёл через слишком много серверов"), UPDATE)
    assert f.engineer_text == {
        "en": f"{SUBJECT[0]} 483 Too Many Hops (frame 2). Max-Forwards reached 0 before the REGISTER got to the "
              "registrar (the captured REGISTER carried Max-Forwards 5, below the 70 RFC 3261 §8.1.1.6 recommends): "
              "a routing loop or too long a chain of proxies; check the routes for the domain the phone registers "
              "to (Request-URI) (RFC 3261 §16.3 step 3, §20.22, §21.4.21). Request-URI sip:example.com.",
        "ru": f"{SUBJECT[1]} 483 Too Many Hops (кадр 2). Max-Forwards дошёл до 0 раньше, чем REGISTER попал к "
              "регистратору (в захваченном REGISTER Max-Forwards 5, меньше 70, рекомендуемых RFC 3261 §8.1.1.6): "
              "петля маршрутизации или слишком длинная цепочка прокси; проверьте маршруты для домена, в котором "
              "регистрируется телефон (Request-URI) (RFC 3261 §16.3, шаг 3, §20.22, §21.4.21). Request-URI "
              "sip:example.com."}


# ------------------------------------------------------------ reg.server-error: Retry-After and the phone's retries

def unavailable(answers: list[tuple[float, tuple[str, int], str]]) -> list:
    """PHONE_A's line 100 registering at each (t, server, headers): the REGISTER at t, that server's 503 Service
    Unavailable with `headers` 0.5 s later."""
    own = f"{PHONE_A[0]}:{PHONE_A[1]}"
    kw = {"call_id": "reg-100", "via": own, "user": "100"}
    msgs: list = []
    for k, (t, server, headers) in enumerate(answers):
        msgs += [(t, R(k + 1, f"u{k}", contact=f"sip:100@{own}", **kw), PHONE_A, server),
                 (t + 0.5, S(k + 1, f"u{k}", "503 Service Unavailable", headers=headers, **kw), server, PHONE_A)]
    return msgs


def the_server_error(path: Path) -> tuple:
    """The capture's one finding (reg.server-error) and its frames and Retry-After evidence."""
    (f,) = sipdiag.analyze(path).findings
    assert (f.rule, f.severity.label, f.owner) == ("reg.server-error", "major", "engineering")
    return f, (f.frames, f.evidence["retry_after"], f.evidence["retry_after_s"], f.evidence["early_retries"],
               f.evidence["early_retry_frames"])


UNAVAILABLE = (
    "Registration sip:100@example.com from 10.0.0.5:5060 to 203.0.113.5:5060: {n} REGISTERs, 0 digest challenge(s), "
    "final 503 Service Unavailable (frame {frame}): the registrar or a proxy on the way is overloaded or out of "
    "service. A 5xx is a server failure, not a refusal of the account (RFC 3261 §21.5); check the registrar and the "
    "servers behind it. Request-URI sip:example.com; ",
    "Регистрация sip:100@example.com с 10.0.0.5:5060 на 203.0.113.5:5060: REGISTER: {n}, запросов авторизации: 0, "
    "итог 503 Service Unavailable (кадр {frame}): регистратор или прокси на пути перегружен или не обслуживает "
    "запросы. Ответ 5xx означает сбой сервера, а не отказ учётной записи (RFC 3261 §21.5); проверьте регистратор и "
    "серверы за ним. Request-URI sip:example.com; ")


def test_server_error_names_a_phone_retrying_sooner_than_retry_after(tmp_path) -> None:
    # a 503 storm: the registrar asks for 60 s without requests (RFC 3261 §21.5.4), the phone retries after 2.5 s,
    # twice, then waits 59.5 s (a timer of whole seconds: not too soon): the two retries too soon are named, with the
    # 503 the first did not wait out; the phone stays offline as long as the registrar fails either way, so the
    # finding stays major and engineering's
    overloaded = KAMAILIO + "Retry-After: 60 (overload)\n"
    path = cc.write_sip(tmp_path / "storm.pcap", unavailable([(t, REGISTRAR, overloaded) for t in (0, 3, 6, 66)]))
    f, figures = the_server_error(path)
    assert figures == ((1, 2, 3, 8), "60 (overload)", 60, 2, [3, 5])
    assert f.evidence["server"] == "kamailio (5.6.2 (x86_64/linux))"
    assert f.engineer_text == {
        "en": UNAVAILABLE[0].format(n=4, frame=8) + "Server: kamailio (5.6.2 (x86_64/linux)); Retry-After: 60 "
              "(overload). The phone did not wait out Retry-After: REGISTERs sooner than asked: 2 (frames 3, 5), the "
              "first 2.5 s after the 503 of frame 2, which asked for 60 s. A client should send that server nothing "
              "for that long (RFC 3261 §21.5.4): retrying sooner keeps an overloaded server overloaded (RFC 5390); "
              "check the phone's registration retry timer and firmware.",
        "ru": UNAVAILABLE[1].format(n=4, frame=8) + "Server: kamailio (5.6.2 (x86_64/linux)); Retry-After: 60 "
              "(overload). Телефон не выждал Retry-After: REGISTER раньше срока: 2 (кадры 3, 5), первый через 2.5 с "
              "после 503 в кадре 2, который просил 60 с. Клиенту следует ничего не отправлять этому серверу в течение "
              "этого времени (RFC 3261 §21.5.4): повторы раньше срока не дают перегруженному серверу восстановиться "
              "(RFC 5390); проверьте таймер повтора регистрации и прошивку телефона."}
    assert f.customer_text["en"] == (
        "Your phone could not sign in to our service because of a fault on our side (our server answered 503 Service "
        "Unavailable); your phone and account settings are not the cause. We are working on it; your phone will "
        "retry by itself.")


def test_server_error_a_failover_to_another_server_is_no_retry_too_soon(tmp_path) -> None:
    # RFC 3261 §21.5.4: after a 503 the client SHOULD try another server, and send the one that answered nothing for
    # its Retry-After: 2 s later to the second registrar, 64.5 s later to the first again, waited out
    path = cc.write_sip(tmp_path / "failover.pcap", unavailable([
        (0, REGISTRAR, "Retry-After: 60\n"), (2, OTHER_REGISTRAR, "Retry-After: 60\n"),
        (65, REGISTRAR, "Retry-After: 60\n")]))
    f, figures = the_server_error(path)
    assert figures == ((1, 6), "60", 60, 0, [])
    assert f.engineer_text == {
        "en": UNAVAILABLE[0].format(n=3, frame=6) + "Retry-After: 60. The phone waited out Retry-After before each "
                                                    "retry (RFC 3261 §21.5.4).",
        "ru": UNAVAILABLE[1].format(n=3, frame=6) + "Retry-After: 60. Телефон выжидал Retry-After перед каждым "
                                                    "повтором (RFC 3261 §21.5.4)."}


@pytest.mark.parametrize("value, seconds, named", [
    ("soon", None, ("not a number of seconds: no device can honour it",
                    "не число секунд: выполнить его не может ни одно устройство")),
    ("9" * 30, 86_400, ("over a day: read as 86400 s", "больше суток: принят за 86400 с"))])
def test_server_error_names_a_retry_after_no_phone_can_honour(tmp_path, value, seconds, named) -> None:
    # a hostile or misconfigured registrar's Retry-After is quoted as written and named; the phone's retry 2.5 s
    # later is too soon only for a number of seconds it could have waited
    path = cc.write_sip(tmp_path / "odd.pcap", unavailable([(0, REGISTRAR, f"Retry-After: {value}\n"),
                                                           (3, REGISTRAR, f"Retry-After: {value}\n")]))
    f, figures = the_server_error(path)
    early = (1, [3]) if seconds else (0, [])
    assert figures == ((1, 2, 3, 4) if seconds else (1, 4), value, seconds, *early)
    assert f.engineer_text["en"].startswith(UNAVAILABLE[0].format(n=2, frame=4) + f"Retry-After: {value} "
                                            f"({named[0]}).")
    assert f.engineer_text["ru"].startswith(UNAVAILABLE[1].format(n=2, frame=4) + f"Retry-After: {value} "
                                            f"({named[1]}).")
    assert f.engineer_text["en"].endswith(
        f"({named[0]})." + (" The phone did not wait out Retry-After: REGISTERs sooner than asked: 1 (frame 3), the "
                            "first 2.5 s after the 503 of frame 2, which asked for 86400 s. A client should send that "
                            "server nothing for that long (RFC 3261 §21.5.4): retrying sooner keeps an overloaded "
                            "server overloaded (RFC 5390); check the phone's registration retry timer and firmware."
                            if seconds else ""))


def test_server_error_reads_no_wait_across_a_step_of_the_capture_clock(tmp_path) -> None:
    # the clock jumps two days between the 503 and the next REGISTER: the wait is not known (sipdiag.clocksteps), not
    # two days and 2.5 s, waited out
    s = cc.Script()
    for t, text, src, dst in unavailable([(0, REGISTRAR, "Retry-After: 60\n"), (3, REGISTRAR, "Retry-After: 60\n")]):
        s.sip(t, text, src, dst)
    f, figures = the_server_error(s.write(tmp_path / "step.pcap", step_at=1.0, step_s=2 * 86_400.0))
    assert figures == ((1, 4), "60", 60, 0, [])
    assert f.engineer_text["en"].endswith(". Request-URI sip:example.com; Retry-After: 60.")


def looping(t: float, user: str, phone: tuple[str, int], auth_user: str, every: float = 10, refusals: int = 3,
            *, gaps: tuple[float, ...] = (), contact: str | None = None) -> list:
    """One line signing in at t with digest user `auth_user`: challenged, then its credentials refused (401 with a
    new nonce) `refusals` times, `every` seconds apart (or `gaps`, one a refusal); Contact `contact`, by default the
    phone's own address."""
    own = f"{phone[0]}:{phone[1]}"
    kw = {"call_id": f"reg-{user}", "via": own, "user": user}
    msgs = []
    for k in range(refusals + 1):
        at = t + (sum(gaps[:k]) if gaps else k * every)
        auth = cc.credentials(f"{user}n{k - 1}", user=auth_user) if k else None
        msgs += [(at, R(k + 1, f"{user}-{k}", contact=contact or f"sip:{user}@{own}", auth=auth, **kw), phone,
                  REGISTRAR),
                 (at + 0.05, S(k + 1, f"{user}-{k}", "401 Unauthorized", headers=cc.challenge(f"{user}n{k}"), **kw),
                  REGISTRAR, phone)]
    return msgs


RFC_22_2 = ("RFC 3261 §22.2: a UAC should not resend credentials that were just rejected unless the nonce was stale; "
            "check the provisioned auth user, password and realm (RFC 7616).")


def test_digest_loops_of_one_device_alike_are_one_finding(tmp_path) -> None:
    # Phone A, a PBX provisioned with one auth user ("pbx") for its extensions 100-102: one fault on three lines.
    # Phone B sends "pbx" for its line 200 (another device: its own finding) and its own user for line 201 (there
    # the password is wrong: another diagnosis, its own finding). Retries every 10 s: 9 failures a minute from A
    # stay under sec.bruteforce-auth's 10, which would take the source for a password guesser.
    msgs = [*looping(0.0, "100", PHONE_A, "pbx"), *looping(0.2, "101", PHONE_A, "pbx"),
            *looping(0.4, "200", PHONE_B, "pbx"), *looping(0.6, "102", PHONE_A, "pbx"),
            *looping(0.8, "201", PHONE_B, "201")]
    path = cc.write_sip(tmp_path / "pbx-loops.pcap", sorted(msgs, key=lambda m: m[0]))
    a, b, reg = "10.0.0.5:5060", "10.0.0.6:5060", "203.0.113.5:5060"
    aors = [f"sip:{u}@example.com" for u in ("100", "101", "102")]
    loops = found(path, "reg.auth-loop")
    assert grouping(loops) == [
        (a, reg, 401, aors, 3, (11, 12, 13, 14, 17, 18, 21, 22, 23, 24, 27, 28, 31, 32, 33, 34, 37, 38), "critical"),
        (b, reg, 401, ["sip:200@example.com"], 1, (15, 16, 25, 26, 35, 36), "critical"),
        (b, reg, 401, ["sip:201@example.com"], 1, (19, 20, 29, 30, 39, 40), "critical")]
    assert [(f.evidence["diagnosis"], f.evidence["final_frames"]) for f in loops] == [
        (["user"], [32, 34, 38]), (["user"], [36]), (["password"], [40])]
    group, single = loops[0], loops[2]
    # the first line's digest fields in the keys integrators read, every line's in per_aor
    assert (group.evidence["aor"], group.evidence["username"], group.evidence["nonce"], group.evidence["refusals"],
            group.evidence["attempts"], group.evidence["refused_frames"]) == (
        aors[0], "pbx", "100n2", 9, 12, "11, 13, 17, 21, 23, 27, 31, 33, 37")
    assert [(x["aor"], x["username"], x["nonce"], x["refusals"], x["frames"]) for x in group.evidence["per_aor"]] == [
        (aors[0], "pbx", "100n2", 3, [11, 21, 31]), (aors[1], "pbx", "101n2", 3, [13, 23, 33]),
        (aors[2], "pbx", "102n2", 3, [17, 27, 37])]
    assert group.engineer_text["en"] == (
        f"Registrations of 3 AORs from {a} to {reg} ({', '.join(aors)}): 9 credentialed REGISTERs refused (401) over "
        "20.6 s, none accepted (each AOR: at least 3 refusals within 60 s); frames 11, 13, 17, 21, 23, 27, 31, 33, "
        "37. Last credentials of sip:100@example.com: username pbx, realm example.com, uri sip:example.com, nonce "
        "100n2. Findings: digest user 'pbx' differs from the AOR user '100' (auth user vs user id); the other "
        f"registrations likewise (frames 34, 38). {RFC_22_2} Attempts of sip:100@example.com: frame 1 (no "
        "credentials) -> 401 (realm example.com, nonce 100n0); frame 11 (username pbx, realm example.com, uri "
        "sip:example.com, nonce 100n0) -> 401 (realm example.com, nonce 100n1); frame 21 (username pbx, realm "
        "example.com, uri sip:example.com, nonce 100n1) -> 401 (realm example.com, nonce 100n2); frame 31 (username "
        "pbx, realm example.com, uri sip:example.com, nonce 100n2) -> 401 (realm example.com, nonce 100n3).")
    assert group.engineer_text["ru"].startswith(
        f"Регистрации 3 AOR с {a} на {reg} ({', '.join(aors)}): отклонено REGISTER с учётными данными: 9 (401) "
        "за 20.6 с, ни один не принят (у каждого AOR: не менее 3 отказов за 60 с); кадры 11, 13, 17, 21, 23, 27, 31, "
        "33, 37. Последние данные для sip:100@example.com: username pbx, realm example.com, uri sip:example.com, "
        "nonce 100n2. Выводы: пользователь digest 'pbx' не совпадает с пользователем AOR '100'; у остальных "
        "регистраций так же (кадры 34, 38). RFC 3261 §22.2:")
    assert group.customer_text == {
        "en": "The sign-in of 3 of your lines keeps being refused because the user names or passwords sent for them "
              "do not match our records, so these lines cannot make or receive calls. We are re-sending your "
              "equipment's configuration; if you typed the details in yourself, please enter the SIP passwords of "
              "these lines again exactly as provided (they are case-sensitive).",
        "ru": "Вход 3 ваших линий раз за разом отклоняется: имена пользователей или пароли, которые для них "
              "отправляются, не совпадают с нашими данными, поэтому по этим линиям нельзя звонить и принимать "
              "звонки. Мы повторно отправляем настройки оборудования; если вы вводили данные сами, введите SIP-пароли "
              "этих линий ещё раз точно как выданы (с учётом регистра)."}
    # a line looping alone reads as it always did
    assert single.engineer_text["en"] == (
        f"Registration sip:201@example.com from {b}: 3 credentialed REGISTERs refused (401) over 20.1 s, none "
        "accepted (3 refusals within 60 s); frames 19, 29, 39. Last credentials: username 201, realm example.com, "
        "uri sip:example.com, nonce 201n2. Findings: realm, user and URI are consistent: the password is the likely "
        f"cause. {RFC_22_2} Attempts: frame 9 (no credentials) -> 401 (realm example.com, nonce 201n0); frame 19 "
        "(username 201, realm example.com, uri sip:example.com, nonce 201n0) -> 401 (realm example.com, nonce 201n1); "
        "frame 29 (username 201, realm example.com, uri sip:example.com, nonce 201n1) -> 401 (realm example.com, "
        "nonce 201n2); frame 39 (username 201, realm example.com, uri sip:example.com, nonce 201n2) -> 401 (realm "
        "example.com, nonce 201n3).")
    assert "ни один не принят (3 отказа за 60 с); кадры 19, 29, 39. Последние данные: username 201" in \
        single.engineer_text["ru"]
    assert single.customer_text == {
        "en": "Your phone keeps being refused because the user name or password it sends does not match our records, "
              "so it cannot make or receive calls. We are re-sending your phone's configuration; if you typed the "
              "details in yourself, please enter the SIP password again exactly as provided (it is case-sensitive).",
        "ru": "Вашему телефону раз за разом отказывают во входе: имя пользователя или пароль, которые он отправляет, "
              "не совпадают с нашими данными, поэтому он не может звонить и принимать звонки. Мы повторно отправляем "
              "настройки телефона; если вы вводили данные сами, введите SIP-пароль ещё раз точно как выдан (с учётом "
              "регистра)."}
    assert found(path, "reg.rejected") == [] and found(path, "sec.bruteforce-auth") == []


def test_digest_loops_caught_by_either_trigger_are_one_finding(tmp_path) -> None:
    # line 100 refused 3 times in 30 s, line 101 twice 100 s apart and nothing accepted for 300 s after
    msgs = [*looping(0.0, "100", PHONE_A, "pbx"), *looping(0.2, "101", PHONE_A, "pbx", every=100, refusals=2),
            (420.0, cc.sip_message("OPTIONS sip:x@example.com SIP/2.0", "o-1", "1 OPTIONS", src=PHONE_A,
                                   to_tag=False), PHONE_A, REGISTRAR)]
    (f,) = found(cc.write_sip(tmp_path / "two-triggers.pcap", sorted(msgs, key=lambda m: m[0])), "reg.auth-loop")
    assert (f.evidence["aors"], f.evidence["refusals"], f.evidence["span_s"], f.evidence["final_frames"],
            f.frames) == (["sip:100@example.com", "sip:101@example.com"], 5, 190.2, [10, 14], tuple(range(5, 15)))
    assert (f.evidence["trigger"], f.evidence["trigger_ru"]) == (
        "each AOR: at least 3 refusals within 60 s or no success for 300 s after its first refusal",
        "у каждого AOR: не менее 3 отказов за 60 с или нет успеха 300 с после первого отказа")
    assert "; the other registration likewise (frame 14). RFC 3261" in f.engineer_text["en"]
    assert "; у другой регистрации так же (кадр 14). RFC 3261" in f.engineer_text["ru"]
    assert f.customer_text["en"].startswith("The sign-in of 2 of your lines keeps being refused because the user ")
    assert f.customer_text["ru"].startswith("Вход 2 ваших линий раз за разом отклоняется: имена")


def retrying(t: float, user: str, phone: tuple[str, int], gaps: tuple[float, ...], *,
             refusal: str = "401 Unauthorized", auth_users: tuple[str, ...] = (), fresh_call_ids: bool = False,
             contact: str | None = None) -> list:
    """Line `user` of the device at `phone` signing in at t and again after each of `gaps` (s), as a phone retries
    on its timer: each try challenged (401), then its credentials answered 0.1 s later with `refusal` (a 401 with a
    new nonce, 403 or 404). One Call-ID with CSeq counting up (RFC 3261 §10.2), or a new Call-ID each try
    (`fresh_call_ids`, as a tool starts one); the digest user is the line's, or the next of `auth_users` each try;
    Contact `contact`, by default the line's user at the device's own address."""
    own = f"{phone[0]}:{phone[1]}"
    contact = contact or f"sip:{user}@{own}"
    msgs = []
    for k in range(len(gaps) + 1):
        at, cseq = t + sum(gaps[:k]), 1 if fresh_call_ids else 2 * k + 1
        kw = {"call_id": f"reg-{user}-{k}" if fresh_call_ids else f"reg-{user}", "via": own, "user": user}
        auth = cc.credentials(f"{user}n{k}", user=auth_users[k % len(auth_users)] if auth_users else user)
        final = cc.challenge(f"{user}m{k}") if refusal.startswith("401") else ""
        msgs += [(at, R(cseq, f"{user}-{k}a", contact=contact, **kw), phone, REGISTRAR),
                 (at + 0.05, S(cseq, f"{user}-{k}a", "401 Unauthorized", headers=cc.challenge(f"{user}n{k}"), **kw),
                  REGISTRAR, phone),
                 (at + 0.1, R(cseq + 1, f"{user}-{k}b", contact=contact, auth=auth, **kw), phone, REGISTRAR),
                 (at + 0.15, S(cseq + 1, f"{user}-{k}b", refusal, headers=final, **kw), REGISTRAR, phone)]
    return msgs


def test_a_phone_retrying_a_wrong_password_steadily_is_a_loop_in_a_short_capture(tmp_path) -> None:
    """A phone retrying its wrong password every 40-50 s, caught in a capture of 2.5 minutes, was never refused 3
    times within 60 s nor watched for 300 s: one reg.rejected. Its 4 refusals of one digest user at a steady pace
    (median 45 s, each within 25 %) make it the loop an engineer calls it, whether the registrar re-challenges
    (401) or refuses outright (403) each try."""
    for refusal, code, statuses in (("401 Unauthorized", 401, "401"), ("403 Forbidden", 403, "403")):
        path = cc.write_sip(tmp_path / f"steady-{code}.pcap", retrying(0.0, "100", PHONE, (45, 40, 50),
                                                                      refusal=refusal))
        assert rules(path) == [("reg.auth-loop", "critical")], refusal
        (f,) = found(path, "reg.auth-loop")
        assert (f.evidence["source"], f.evidence["refusals"], f.evidence["attempts"], f.evidence["statuses"],
                f.evidence["status"], f.evidence["refused_frames"], f.evidence["span_s"], f.evidence["diagnosis"],
                f.evidence["trigger"], f.evidence["trigger_ru"]) == (
            "198.51.100.7:40000", 4, 8, statuses, code, "3, 7, 11, 15", 135.1, ["password"],
            "4 refusals at a steady pace, one every 45.0 s", "4 отказа с ровным интервалом, раз в 45.0 с")
        assert (f"Registration sip:100@example.com from 198.51.100.7:40000: 4 credentialed REGISTERs refused "
                f"({statuses}) over 135.1 s, none accepted (4 refusals at a steady pace, one every 45.0 s); frames "
                "3, 7, 11, 15.") in f.engineer_text["en"]
    # not a device's steady retries: two tries are no pace, 20 s then 55 s is no timer, and a digest user changed
    # between tries is a reprovisioned phone: no loop, but credentials refused with nothing accepted after them, at
    # medium confidence (they were reg.rejected's, which now leaves every refused digest to reg.auth-loop)
    for name, msgs, refused, trigger, diagnosis in (
            ("twice", retrying(0.0, "100", PHONE, (45,)), "3, 7", "2 refusals, at most 2 within 60 s", ["password"]),
            ("uneven", retrying(0.0, "100", PHONE, (20, 55)), "3, 7, 11", "3 refusals, at most 2 within 60 s",
             ["password"]),
            ("reprovisioned", retrying(0.0, "100", PHONE, (45, 45, 45), auth_users=("100", "100", "1000", "1000")),
             "3, 7, 11, 15", "4 refusals, at most 2 within 60 s", ["user"])):
        path = cc.write_sip(tmp_path / f"{name}.pcap", msgs)
        assert rules(path) == [("reg.auth-loop", "critical")], name
        (f,) = found(path, "reg.auth-loop")
        assert (f.confidence, f.evidence["loop"], f.evidence["refused_frames"], f.evidence["trigger"],
                f.evidence["diagnosis"]) == ("medium", False, refused, trigger + "; the capture ends 0.0 s after it",
                                             diagnosis), name


def refreshing(user: str, phone: tuple[str, int], steps: list[tuple[float, int, str | None]]) -> list:
    """One line's REGISTERs: at each step's time, asking for its expiry, answered 0.05 s later with 423 (Min-Expires
    60), 200 (granting 120 s) or not at all (None)."""
    own = f"{phone[0]}:{phone[1]}"
    kw, contact = {"call_id": f"reg-{user}", "via": own, "user": user}, f"sip:{user}@{own}"
    answers = {423: ("423 Interval Too Brief", "Min-Expires: 60\n"),
               200: ("200 OK", f"Contact: <{contact}>;expires=120\n")}
    msgs = []
    for k, (t, expires, answer) in enumerate(steps, 1):
        msgs.append((t, R(k, f"{user}-{k}", contact=contact, expires=expires, **kw), phone, REGISTRAR))
        if answer:
            status, headers = answers[answer]
            msgs.append((t + 0.05, S(k, f"{user}-{k}", status, headers=headers, **kw), REGISTRAR, phone))
    return msgs


def test_interval_faults_of_one_device_alike_are_one_finding(tmp_path) -> None:
    # Phone A: lines 100-101 retry 30 s after 423 Min-Expires 60 (one finding), line 102 retries 45 s (other
    # figures: its own); lines 300-301 ask 3600 s, are granted 120 s and refresh after 1800 s (one finding), and
    # 301's third REGISTER is never answered. Phone B: line 200 as 100 (another device: its own finding).
    loop = [(0, 30, 423), (1, 30, 423)]
    msgs = [*refreshing("100", PHONE_A, loop), *refreshing("101", PHONE_A, [(t + 0.2, e, a) for t, e, a in loop]),
            *refreshing("102", PHONE_A, [(0.4, 30, 423), (1.4, 45, 423)]),
            *refreshing("200", PHONE_B, [(t + 0.6, e, a) for t, e, a in loop]),
            *refreshing("300", PHONE_A, [(2, 3600, 200), (1802, 3600, 200)]),
            *refreshing("301", PHONE_A, [(2.2, 3600, 200), (1802.2, 3600, 200), (3602.2, 3600, None)]),
            (3650.0, cc.sip_message("OPTIONS sip:x@example.com SIP/2.0", "o-1", "1 OPTIONS", src=PHONE_A,
                                    to_tag=False), PHONE_A, REGISTRAR)]
    path = cc.write_sip(tmp_path / "intervals.pcap", sorted(msgs, key=lambda m: m[0]))
    findings = sipdiag.analyze(path).findings
    a, b, reg = "10.0.0.5:5060", "10.0.0.6:5060", "203.0.113.5:5060"
    brief = [f for f in findings if f.rule == "reg.interval-too-brief"]
    assert [(f.evidence["source"], f.evidence["registrar"], f.evidence["kind"], f.evidence["aors"],
             f.evidence["count"], f.evidence["problem_frames"], f.frames, f.severity.label) for f in brief] == [
        (a, reg, "a", ["sip:100@example.com", "sip:101@example.com"], 2, [9, 11], (1, 2, 3, 4, 9, 11), "major"),
        (a, reg, "a", ["sip:102@example.com"], 1, [13], (5, 6, 13), "major"),  # retried with 45 s, not 30
        (b, reg, "a", ["sip:200@example.com"], 1, [15], (7, 8, 15), "major"),
        (a, reg, "b", ["sip:300@example.com", "sip:301@example.com"], 2, [21, 23], (18, 20, 21, 23), "major")]
    loop, lapse = brief[0], brief[3]
    assert (loop.evidence["min_expires_s"], loop.evidence["requested_s"], lapse.evidence["granted_s"],
            lapse.evidence["requested_s"], lapse.evidence["lapse_s"]) == (60, 30, 120, 3600, 1680.0)
    assert [(x["aor"], x["frames"], x["lapse_s"]) for x in lapse.evidence["per_aor"]] == [
        ("sip:300@example.com", [18, 21], 1680.0), ("sip:301@example.com", [20, 23], 1680.0)]
    assert loop.engineer_text["en"] == (
        f"Registrations of 2 AORs from {a} to {reg} (sip:100@example.com, sip:101@example.com): 423 with Min-Expires "
        "60 (frame 2), retried with Expires 30 (frame 9): the registrar keeps refusing; the other registration "
        "likewise (frame 11). RFC 3261 §10.2.8: after 423 retry with Expires >= Min-Expires; §10.2.4: use the expiry "
        "the registrar granted for this contact and refresh before it (at 50-80 % of it).")
    assert lapse.engineer_text["ru"].startswith(
        f"Регистрации 2 AOR с {a} на {reg} (sip:300@example.com, sip:301@example.com): 200 OK (кадр 18) выдал 120 с "
        "(запрошено 3600 с, выдано 120 с), следующий REGISTER через 1800.0 с (кадр 21): без регистрации 1680.0 с; у "
        "другой регистрации так же (кадр 23). RFC 3261 §10.2.8:")
    assert loop.customer_text == {
        "en": "The sign-in of 2 of your lines with our service is renewed at the wrong interval, so for periods these "
              "lines cannot receive calls. No action is needed from you: we are adjusting the renewal interval in "
              "your equipment's settings.",
        "ru": "Регистрация 2 ваших линий в нашем сервисе продлевается с неправильным интервалом, поэтому временами "
              "по этим линиям нельзя принимать звонки. От вас ничего не требуется: мы исправляем интервал продления "
              "в настройках оборудования."}
    # a registration alone reads as it always did
    assert brief[1].engineer_text["en"].startswith(
        "Registration sip:102@example.com from 10.0.0.5:5060: 423 with Min-Expires 60 (frame 6), retried with Expires "
        "45 (frame 13): the registrar keeps refusing. RFC 3261 §10.2.8")
    assert brief[1].customer_text["en"].startswith("Your phone renews its sign-in with our service at the wrong")
    # 301's lost REGISTER is explained by the lapses the finding groups, though its first AOR is 300's
    (lost,) = [f for f in findings if f.rule == "reg.no-response"]
    assert (lost.evidence["aor"], findings[lost.cause] if lost.cause is not None else None) == (
        "sip:301@example.com", lapse)


@pytest.mark.parametrize("capture", ["clean_call.pcap", "register_ok.pcap", "dtmf_rfc4733.pcap",
                                     "register_423_then_ok.pcap"])
def test_new_rules_quiet_on_working_lab_captures(capture: str) -> None:
    mine = ("codec.answer-format-issues", "codec.rtp-payload-not-negotiated", "codec.timestamp-clock-mismatch",
            "codec.asymmetric-codec", "dtmf.rfc4733-problem", "media.srtp-profile-mismatch", "reg.auth-loop",
            "reg.interval-too-brief", "reg.contact-binding-mismatch", "reg.binding-churn")
    assert [f.rule for f in sipdiag.analyze(SAMPLES / capture).findings if f.rule in mine] == []


# ------------------------------------------------------------------------------------------ sec.bruteforce-auth

def guesses(path: Path, users: tuple[int, ...], *, every_s: float, success: int | None = None) -> Path:
    """From one source, a REGISTER with credentials refused 403 for each user, `every_s` apart (slower than the
    10 a minute of the rate trigger); `success`: then that user's credentials are accepted (200)."""
    src, registrar = ("198.51.100.66", 5060), ("203.0.113.10", 5060)
    messages = []
    for k, user in enumerate(users + ((success,) if success is not None else ())):
        at, ok = k * every_s, k == len(users)
        text = cc.register_text(k + 1, f"g{k}", auth=cc.credentials(f"n{k}", user=str(user)), call_id=f"g-{k}")
        reply = cc.register_response(k + 1, f"g{k}", "200 OK" if ok else "403 Forbidden", call_id=f"g-{k}",
                                     headers="Contact: <sip:100@10.0.0.5:5060>;expires=300\n" if ok else "")
        messages += [(at, text.replace("sip:100@example.com", f"sip:{user}@example.com"), src, registrar),
                     (at + 0.05, reply.replace("sip:100@example.com", f"sip:{user}@example.com"), registrar, src)]
    return cc.write_sip(path, messages)


def test_bruteforce_across_five_user_names_at_any_rate_and_critical_once_one_gets_in(tmp_path) -> None:
    """RULES.md sec.bruteforce-auth: failures across >= 5 user names (security.bruteforce_distinct_users) even at
    one a minute; major, critical when a 2xx from the same source follows. It used to need 10 user names (or 10 a
    minute) and was always critical."""
    four = guesses(tmp_path / "four.pcap", (101, 102, 103, 104), every_s=60)
    assert found(four, "sec.bruteforce-auth") == []
    (f,) = found(guesses(tmp_path / "five.pcap", (101, 102, 103, 104, 105), every_s=60), "sec.bruteforce-auth")
    assert (f.severity.label, f.frames) == ("major", (1, 3, 5, 7, 9))
    assert {k: f.evidence[k] for k in ("source", "failures", "users", "rate")} == {
        "source": "198.51.100.66", "failures": 5, "users": 5, "rate": 1.2}
    assert "success" not in f.evidence and "One of the attempts" not in f.customer_text["en"]
    (f,) = found(guesses(tmp_path / "in.pcap", (101, 102, 103, 104, 105), every_s=60, success=103),
                 "sec.bruteforce-auth")
    assert (f.severity.label, f.frames, f.evidence["success"], f.evidence["success_frame"]) == (
        "critical", (1, 3, 5, 7, 9, 12), "REGISTER for sip:103@example.com", 12)
    assert "Then a 2xx to its REGISTER for sip:103@example.com (frame 12): the source got in" in \
        f.engineer_text["en"]
    assert "Затем 2xx на его REGISTER для sip:103@example.com (кадр 12)" in f.engineer_text["ru"]
    # five user names are many accounts of the service, not the customer's one phone account
    assert f.customer_text == {
        "en": "Someone on the internet is guessing the passwords of many accounts of our service. One of the attempts "
              "succeeded. Please make sure that your phone's password is long and unique; our security team is "
              "looking at blocking the attacker.",
        "ru": "Кто-то из интернета подбирает пароли ко многим учётным записям нашего сервиса. Одна из попыток "
              "удалась. Убедитесь, что пароль вашего телефона длинный и уникальный; наша служба безопасности "
              "рассматривает блокировку атакующего."}


def test_bruteforce_against_one_user_name_speaks_of_the_phone_account(tmp_path) -> None:
    # 12 guesses for one user name, 3 s apart: past the rate trigger (10 a minute), one account attacked
    (f,) = found(guesses(tmp_path / "one.pcap", (101,) * 12, every_s=3), "sec.bruteforce-auth")
    assert (f.severity.label, f.evidence["users"], f.evidence["failures"]) == ("major", 1, 12)
    assert f.customer_text == {
        "en": "Someone on the internet is trying many passwords against your phone account. Please change the "
              "phone's password to a long, unique one; our security team is looking at blocking the attacker.",
        "ru": "Кто-то из интернета перебирает пароли к вашей телефонной учётной записи. Смените пароль телефона на "
              "длинный и уникальный; наша служба безопасности рассматривает блокировку атакующего."}


# RULES.md sec.bruteforce-auth, FP pitfalls: "a misconfigured legitimate device retrying wrong credentials (see
# reg.auth-loop: same user, steady cadence); NATed offices". A customer's PBX with 8 lines refused every 30 s fails
# 19 times a minute for 8 user names, past both triggers; its steady retries make it a device, not a guesser.
LINES = tuple(str(u) for u in range(100, 108))


def pbx_retrying(*, every: float = 30, refusals: int = 6, **per_line: dict) -> list:
    """PHONE_A, a PBX, signing in its LINES 0.25 s apart with wrong passwords, each line's credentials refused
    `refusals` times `every` s apart (3 minutes by default); `per_line`: looping's arguments for a line."""
    return [m for k, user in enumerate(LINES)
            for m in looping(k * 0.25, user, PHONE_A, user, every=every, refusals=refusals, **per_line.get(user, {}))]


def rules(path: Path) -> list[tuple[str, str]]:
    return [(f.rule, f.severity.label) for f in sipdiag.analyze(path).findings]


def bruteforce_figures(path: Path) -> tuple:
    (f,) = found(path, "sec.bruteforce-auth")
    return (f.severity.label, f.evidence["source"], f.evidence["failures"], f.evidence["users"], f.evidence["rate"],
            f.frames[:3])


def signed_in(t: float, user: str, *, cseq: int = 1, nonce: str = "x") -> list:
    """Line `user` of PHONE_A, a PBX, signing in at t with the right password (its credentials accepted, 200)."""
    own = f"{PHONE_A[0]}:{PHONE_A[1]}"
    kw = {"call_id": f"reg-{user}", "via": own, "user": user}
    return [(t, R(cseq, f"ok-{user}-{cseq}", contact=f"sip:{user}@{own}", auth=cc.credentials(nonce, user=user),
                  **kw), PHONE_A, REGISTRAR),
            (t + 0.05, S(cseq, f"ok-{user}-{cseq}", "200 OK", headers=f"Contact: <sip:{user}@{own}>;expires=300\n",
                         **kw), REGISTRAR, PHONE_A)]


def test_a_pbx_retrying_wrong_passwords_steadily_is_a_digest_loop_not_password_guessing(tmp_path) -> None:
    # line 108 signs in with the right password: a device may register some lines successfully
    own = f"{PHONE_A[0]}:{PHONE_A[1]}"
    path = cc.write_sip(tmp_path / "pbx.pcap", sorted(pbx_retrying() + signed_in(2.0, "108"), key=lambda m: m[0]))
    assert rules(path) == [("reg.auth-loop", "critical")]
    (loop,) = found(path, "reg.auth-loop")
    aors = [f"sip:{u}@example.com" for u in LINES]
    assert grouping([loop]) == [(own, "203.0.113.5:5060", 401, aors, 8, tuple(range(19, 69)), "critical")]
    assert (loop.evidence["refusals"], loop.evidence["diagnosis"], loop.evidence["span_s"]) == (48, ["password"],
                                                                                                151.8)
    # refused 3 times a minute on its 30 s timer, 6 times in all: the trigger names the 3 (it said "at least 6")
    assert (loop.evidence["trigger"], loop.evidence["trigger_ru"]) == (
        "each AOR: at least 3 refusals within 60 s", "у каждого AOR: не менее 3 отказов за 60 с")
    assert ("48 credentialed REGISTERs refused (401) over 151.8 s, none accepted (each AOR: at least 3 refusals "
            "within 60 s); frames 19, 21, 23") in loop.engineer_text["en"]


def test_a_pbx_retrying_its_lines_every_45_s_is_one_loop_in_a_short_capture(tmp_path) -> None:
    # 8 lines refused 4 times each, 45 s apart, in 3 minutes: sec.bruteforce-auth leaves the PBX to the
    # registration rules (a device's steady retries), where no loop trigger held (2 refusals a minute, no 300 s of
    # quiet) and its lines were one grouped reg.rejected
    path = cc.write_sip(tmp_path / "pbx45.pcap", sorted(pbx_retrying(every=45, refusals=4), key=lambda m: m[0]))
    assert rules(path) == [("reg.auth-loop", "critical")]
    (loop,) = found(path, "reg.auth-loop")
    assert (loop.evidence["aors"], loop.evidence["refusals"], loop.evidence["span_s"], loop.evidence["trigger"],
            loop.evidence["trigger_ru"]) == (
        [f"sip:{u}@example.com" for u in LINES], 32, 136.8,
        "each AOR: at least 4 refusals at a steady pace, one every 45.0 s",
        "у каждого AOR: не менее 4 отказов с ровным интервалом, раз в 45.0 с")
    assert [(x["aor"], x["refusals"]) for x in loop.evidence["per_aor"]] == [(f"sip:{u}@example.com", 4)
                                                                           for u in LINES]


def test_the_pbx_lines_tried_once_each_in_a_burst_are_password_guessing(tmp_path) -> None:
    # the same 8 user names, each challenged and its credentials refused once, all within 2 s: an enumeration
    path = cc.write_sip(tmp_path / "burst.pcap", sorted(pbx_retrying(every=0.1, refusals=1), key=lambda m: m[0]))
    assert rules(path) == [("sec.bruteforce-auth", "major")]
    assert bruteforce_figures(path) == ("major", "10.0.0.5", 8, 8, 8.0, (3, 7, 11))


def test_one_user_tried_thirty_times_in_ten_seconds_is_password_guessing(tmp_path) -> None:
    # a dictionary against line 100: 30 refusals 1/3 s apart, far below any device's retry timer
    path = cc.write_sip(tmp_path / "dictionary.pcap", looping(0.0, "100", PHONE_A, "100", every=1 / 3, refusals=30))
    assert rules(path) == [("sec.bruteforce-auth", "major")]
    assert bruteforce_figures(path) == ("major", "10.0.0.5", 30, 1, 30.0, (3, 5, 7))


def test_a_nated_office_retrying_after_a_password_change_is_one_digest_loop_per_phone(tmp_path) -> None:
    # 5 phones behind the office's NAT (one public address, a port each, private Contacts), each retrying on its
    # own timer of about 20 s (17 to 23 s: within 25 % of the median): one loop per phone, no guesser
    nat, gaps = "198.51.100.7", (20, 18, 22, 19.5, 21, 20.5, 17, 23, 20)
    msgs = [m for k in range(5)
            for m in looping(k * 0.5, str(200 + k), (nat, 40000 + k), str(200 + k), refusals=9,
                             gaps=gaps[k:] + gaps[:k], contact=f"sip:{200 + k}@192.168.1.{10 + k}:5060")]
    path = cc.write_sip(tmp_path / "office.pcap", sorted(msgs, key=lambda m: m[0]))
    assert rules(path) == [("reg.auth-loop", "critical")] * 5
    assert sorted((f.evidence["source"], f.evidence["aors"], f.evidence["refusals"], f.evidence["trigger"])
                  for f in found(path, "reg.auth-loop")) == [
        (f"{nat}:{40000 + k}", [f"sip:{200 + k}@example.com"], 9, "4 refusals within 60 s") for k in range(5)]


GUESSER, NAMES = ("192.0.2.66", 5060), ("100", "101", "102", "103", "104")


def test_a_slow_guesser_cycling_through_a_few_user_names_is_password_guessing(tmp_path) -> None:
    """A tool trying 5 user names in turn from one socket, one try every 6 s (each name every 30 s, 4 rounds), one
    Contact per name, has a device's steady pace: it was taken for a PBX retrying its lines, one grouped
    reg.auth-loop. A device keeps its registration's Call-ID and sends the digest user it was provisioned with;
    this tool starts a new Call-ID for every try, as the guessers of initconf-sip-attacks do, or tries a second
    digest user on each name."""
    for name, kw in (("new-call-ids", lambda u: {"fresh_call_ids": True}),
                     ("auth-users", lambda u: {"auth_users": (u, "admin")})):
        msgs = [m for k, u in enumerate(NAMES) for m in retrying(k * 6.0, u, GUESSER, (30, 30, 30), **kw(u))]
        path = cc.write_sip(tmp_path / f"{name}.pcap", sorted(msgs, key=lambda m: m[0]))
        assert rules(path) == [("sec.bruteforce-auth", "major")], name
        assert bruteforce_figures(path) == ("major", "192.0.2.66", 20, 5, 10.5, (3, 7, 11)), name


def test_a_pbx_registering_trunks_under_one_contact_and_their_own_auth_users_stays_a_device(tmp_path) -> None:
    # Asterisk registering 6 trunks of the operator with their accounts' auth users (not the numbers) and its
    # default Contact user "s", refused every 30 s after a password change, each trunk keeping its Call-ID: a
    # device's retries (one grouped loop naming the auth user), not the guesser above
    trunks = [f"41555501{n:02d}" for n in range(6)]
    msgs = [m for k, u in enumerate(trunks)
            for m in retrying(k * 0.25, u, PHONE_A, (30, 30, 30), auth_users=(f"acct{k}",),
                              contact="sip:s@10.0.0.5:5060")]
    path = cc.write_sip(tmp_path / "trunks.pcap", sorted(msgs, key=lambda m: m[0]))
    assert rules(path) == [("reg.auth-loop", "critical")]
    (loop,) = found(path, "reg.auth-loop")
    assert (loop.evidence["aors"], loop.evidence["refusals"], loop.evidence["diagnosis"], loop.evidence["trigger"],
            loop.evidence["username"]) == ([f"sip:{u}@example.com" for u in trunks], 24, ["user"],
                                           "each AOR: at least 3 refusals within 60 s", "acct0")


def test_a_pbx_line_deleted_at_the_registrar_is_a_refused_registration_not_enumeration(tmp_path) -> None:
    """The PBX's lines 100-105 retry a wrong password every 30 s, line 107 was deleted on our side (its credentials
    answered 404 on each try, RFC 3261 §10.3) and line 108 registers. The 404 made the PBX a guesser, critical
    because line 108's 2xx followed: the 404-against-401 enumeration RULES.md names is across user names, not one
    line answered 404 on a device's timer by a registrar that accepts the host's other lines."""
    good = signed_in(2.0, "108")
    wrong = [m for k, u in enumerate(("100", "101", "102", "103", "104", "105"))
             for m in retrying(k * 0.25, u, PHONE_A, (30, 30, 30))]
    deleted = retrying(1.75, "107", PHONE_A, (30, 30, 30), refusal="404 Not Found")

    def capture(name: str, msgs: list) -> Path:
        return cc.write_sip(tmp_path / f"{name}.pcap", sorted(msgs, key=lambda m: m[0]))

    path = capture("deleted", wrong + deleted + good)
    assert rules(path) == [("reg.auth-loop", "critical"), ("reg.rejected", "critical")]
    (loop,) = found(path, "reg.auth-loop")
    assert (loop.evidence["aors"], loop.evidence["refusals"], loop.evidence["trigger"]) == (
        [f"sip:{u}@example.com" for u in ("100", "101", "102", "103", "104", "105")], 24,
        "each AOR: at least 3 refusals within 60 s")
    (refused,) = found(path, "reg.rejected")
    assert (refused.evidence["source"], refused.evidence["aors"], refused.evidence["status"], refused.frames) == (
        "10.0.0.5:5060", ["sip:107@example.com"], 404, (25, 114))
    assert refused.engineer_text["en"] == (
        "Registration sip:107@example.com from 10.0.0.5:5060: 8 REGISTERs, 4 digest challenge(s), final 404 Not Found "
        f"(frame 114). {NOT_FOUND[0]}. Request-URI sip:example.com.")
    # a host whose other lines never register, or two lines answered 404, is still the enumeration
    assert rules(capture("no-line-registers", wrong + deleted)) == [("sec.bruteforce-auth", "major")]
    two = retrying(1.5, "106", PHONE_A, (30, 30, 30), refusal="404 Not Found")
    assert rules(capture("two-deleted", wrong + deleted + two + good)) == [("sec.bruteforce-auth", "critical")]


def _with_user_agent(msgs: list, agent: str) -> list:
    return [(t, text.replace("Max-Forwards: 70\n", f"Max-Forwards: 70\nUser-Agent: {agent}\n"), src, dst)
            for t, text, src, dst in msgs]


def test_steady_retries_are_a_device_only_when_nothing_else_says_guesser(tmp_path) -> None:
    def verdict(name: str, msgs: list) -> list[tuple[str, str]]:
        return rules(cc.write_sip(tmp_path / f"{name}.pcap", sorted(msgs, key=lambda m: m[0])))

    assert verdict("asterisk", _with_user_agent(pbx_retrying(), "Asterisk PBX 18.20.0")) == [
        ("reg.auth-loop", "critical")]
    # a scanner's User-Agent (SIPVicious's) makes it a guesser whatever its pace
    # (the scanner finding is info: nothing of the source was accepted, RULES.md sec.scanner-detected)
    assert verdict("scanner", _with_user_agent(pbx_retrying(), "friendly-scanner")) == [
        ("sec.bruteforce-auth", "major"), ("sec.scanner-detected", "info")]
    # one line retried 12 s then 48 s after the one before: no timer's steady pace
    assert verdict("uneven", pbx_retrying(**{"103": {"gaps": (30, 30, 12, 48, 30, 30)}})) == [
        ("sec.bruteforce-auth", "major")]
    # one line names another host in its Contact: not one device
    assert verdict("contact", pbx_retrying(**{"105": {"contact": "sip:105@192.0.2.77:5060"}})) == [
        ("sec.bruteforce-auth", "major")]
    # two retries per line are too few to show a timer
    assert verdict("short", pbx_retrying(refusals=2)) == [("sec.bruteforce-auth", "major")]
    # line 100's credentials accepted after their refusals: a guessed password cannot be told from a corrected one,
    # and a guessed one is critical
    assert verdict("accepted", pbx_retrying() + signed_in(190.0, "100", cseq=8, nonce="100n6")) == [
        ("sec.bruteforce-auth", "critical")]


def test_a_refusal_after_a_step_back_of_the_clock_is_still_the_last_answer(tmp_path) -> None:
    # the clock steps back an hour between the 401 and the REGISTER with credentials (capture.time-backwards): the
    # exchanges are taken in capture order, so the run is challenge, credentials, 403 (frames 1-4); by record time
    # the 401 exchange sorted after the refusal and the run lost it (frames 3, 4)
    msgs = refused("403 Forbidden", challenged=True)
    msgs[2:] = [(t - 3600, text, src, dst) for t, text, src, dst in msgs[2:]]
    a = sipdiag.analyze(cc.write_sip(tmp_path / "back.pcap", msgs))
    assert [x.code for x in a.anomalies] == ["capture.time-backwards"]
    (f,) = a.findings
    assert (f.rule, f.owner, f.evidence["cause"], f.frames) == ("reg.rejected", "first-line", "credentials", (1, 4))


def test_rejected_480_quotes_when_the_registrar_asks_to_retry(tmp_path) -> None:
    # RFC 3261 §20.33: a 480 (as a 404, 486, 503, 600, 603) may say when to retry; the engineer reads it
    f, figures = the_refusal(refused_capture(tmp_path / "480.pcap", "480 Temporarily Unavailable",
                                             "Retry-After: 120\n"))
    assert figures[:2] == ("first-line", "unavailable")
    assert f.engineer_text["en"].endswith("(RFC 3261 §21.4.18). Request-URI sip:example.com; Retry-After: 120.")
    assert f.engineer_text["ru"].endswith("(RFC 3261 §21.4.18). Request-URI sip:example.com; Retry-After: 120.")
