"""Mid-call signalling, media quality and toll-fraud rules (RULES.md §3.5, §3.6, §3.8): each fires on a capture
that shows its fault (built with tests/callcapture.py, or a corpus capture) with its evidence, and stays silent
on one that looks alike but is healthy."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import sipdiag
from sipdiag.checks import LANGUAGES
from sipdiag.reports import render
from tests import callcapture as cc
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP, Script
from tests.conftest import validate_json_document


def only(path: Path, rule: str) -> list:
    findings = [f for f in sipdiag.analyze(path).findings if f.rule == rule]
    for f in findings:
        for lang in LANGUAGES:
            assert "{" not in f.customer_text[lang] and "{" not in f.engineer_text[lang]
    return findings


def picked(finding, *keys: str) -> dict:
    return {k: finding.evidence[k] for k in keys}


# ------------------------------------------------------------------------------------ call.session-timer-expiry

def session_call(path: Path, *, refresh: int | None, bye_at: float, from_callee: bool = True,
                 refresh_request: bool = True) -> Path:
    """Session-Expires 90 s, refresher uac; refresh re-INVITE at 45 s answered `refresh` (None: no refresh);
    refresh_request False: the capture misses the re-INVITE itself, not its response."""
    s = cc.call_setup(Script(), "st-1", offer_extra="Supported: timer\nSession-Expires: 90\n",
                      answer_extra="Require: timer\nSession-Expires: 90;refresher=uac\n")
    cc.two_way(s, 0.4, bye_at - 0.6)
    if refresh is not None:
        if refresh_request:
            s.sip(45.3, cc.sip_message("INVITE sip:200@203.0.113.5 SIP/2.0", "st-1", "2 INVITE", src=UA,
                                       branch="re1", extra="Session-Expires: 90;refresher=uac\n"), UA, PBX)
        s.sip(45.4, cc.sip_message(f"SIP/2.0 {refresh} {'OK' if refresh == 200 else 'Call Leg Does Not Exist'}",
                                   "st-1", "2 INVITE", src=UA, branch="re1"), PBX, UA)
        if refresh == 200:
            s.sip(45.41, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "st-1", "2 ACK", src=UA, branch="re1a"),
                  UA, PBX)
    return cc.bye(s, bye_at, "st-1", from_callee=from_callee).write(path)


def test_session_timer_no_refresh_bye_before_expiry(tmp_path) -> None:
    # SE 90 s: the callee gives up min(32, 90/3) = 30 s before expiry, 60 s after the answer
    (f,) = only(session_call(tmp_path / "st.pcap", refresh=None, bye_at=60.3), "call.session-timer-expiry")
    assert (f.severity.label, f.confidence, f.call_id) == ("major", "medium", "st-1")
    assert picked(f, "case", "session_expires_s", "refresher", "expected_refresh_s", "bye_after_s", "ended_by") == {
        "case": "no-refresh", "session_expires_s": 90, "refresher": "uac", "expected_refresh_s": 45.0,
        "bye_after_s": 60.0, "ended_by": "callee"}
    assert "60 seconds" in f.customer_text["en"]


def test_session_timer_refresh_failed(tmp_path) -> None:
    (f,) = only(session_call(tmp_path / "st481.pcap", refresh=481, bye_at=46.0, from_callee=False),
                "call.session-timer-expiry")
    assert (f.severity.label, f.confidence, f.evidence["case"]) == ("major", "high", "refresh-failed")
    assert "failed: 481" in f.engineer_text["en"]


def test_session_timer_refreshed_call_is_silent(tmp_path) -> None:
    path = session_call(tmp_path / "ok.pcap", refresh=200, bye_at=100.0, from_callee=False)
    assert only(path, "call.session-timer-expiry") == []
    assert only(path, "call.reinvite-failed") == []


def test_a_refresh_known_by_its_200_only_is_a_refresh(tmp_path) -> None:
    """The capture misses the refresh re-INVITE but has its 200 (CSeq 2 on the confirmed dialog's tags, RFC 3261
    §12.2.1.1): the session was refreshed 45 s after the answer, so a BYE 60 s after it is no session-timer drop.
    Before, the 200 was taken for an initial INVITE's and the rule said no refresh was sent."""
    path = session_call(tmp_path / "st.pcap", refresh=200, bye_at=60.3, refresh_request=False)
    assert only(path, "call.session-timer-expiry") == []
    assert only(path, "call.reinvite-failed") == []


def test_a_failed_refresh_known_by_its_response_only(tmp_path) -> None:
    path = session_call(tmp_path / "st481.pcap", refresh=481, bye_at=46.0, from_callee=False, refresh_request=False)
    (call,) = sipdiag.analyze(path).calls
    refused = next(m.frame for m in call.messages if m.status_code == 481)
    (f,) = only(path, "call.session-timer-expiry")
    assert (f.severity.label, f.confidence, f.evidence["case"], f.frames) == (
        "major", "high", "refresh-failed", (refused, call.bye_frame))
    assert f"The refresh INVITE (frame {refused}) failed: 481" in f.engineer_text["en"]
    (g,) = only(path, "call.reinvite-failed")
    assert (g.severity.label, g.frames, g.evidence["status"], g.evidence["purpose"]) == (
        "major", (refused, call.bye_frame), 481, "a change whose request is not in the capture")


def test_session_timer_422_loop_cites_the_422_when_its_invite_was_not_captured(tmp_path) -> None:
    """RFC 4028 §6: the capture begins after the first INVITE; its 422 Session Interval Too Small (frame 1) and
    the retry's INVITE (frame 3, refused again at 4) are the frames to cite. Before, the missing INVITE was cited
    as frame 0: the JSON broke its schema (frames are 1-based) and the engineer's Wireshark filter matched
    nothing."""
    def m(start: str, cseq: str, **kw) -> str:
        return cc.sip_message(start, "st-422", cseq, src=UA, **kw)

    path = cc.write_sip(tmp_path / "st422.pcap", [
        (0.0, m("SIP/2.0 422 Session Interval Too Small", "1 INVITE", extra="Min-SE: 1800\n"), PBX, UA),
        (0.01, m("ACK sip:200@example.com SIP/2.0", "1 ACK"), UA, PBX),
        (0.2, m("INVITE sip:200@example.com SIP/2.0", "2 INVITE", to_tag=False, branch="b2",
                extra="Session-Expires: 1800\nMin-SE: 1800\n"), UA, PBX),
        (0.3, m("SIP/2.0 422 Session Interval Too Small", "2 INVITE", branch="b2", extra="Min-SE: 3600\n"), PBX, UA),
        (0.31, m("ACK sip:200@example.com SIP/2.0", "2 ACK", branch="b2"), UA, PBX)])
    (f,) = only(path, "call.session-timer-expiry")
    assert (f.severity.label, f.frames) == ("major", (1, 3))
    assert picked(f, "case", "rejections", "min_se_s") == {"case": "422-loop", "rejections": 2, "min_se_s": 3600}
    out = io.StringIO()
    render(sipdiag.analyze(path), "json", out)
    doc = validate_json_document(out.getvalue())
    # The call's final response is the 422 to the retry (frame 4), not the first 422 (frame 1) that the caller
    # answered with a new INVITE (RFC 4028 §6).
    assert [(g["rule"], g["evidence"]["frames"]) for g in doc["findings"]] == [
        ("call.session-timer-expiry", [1, 3]), ("call.failure-response", [4])]
    (refused,) = only(path, "call.failure-response")
    assert "final 422 Session Interval Too Small (frame 4)" in refused.engineer_text["en"]

# ------------------------------------------------------------------------------ call.in-dialog-request-misrouted

NATTED_UA = ("198.51.100.7", 34567)  # the phone's NAT binding; its Contact says 192.168.1.10:5060


def misrouted_call(path: Path, target: tuple[str, int], answered: bool) -> Path:
    s = Script()
    offer = cc.SDP.format(ip="192.168.1.10", port=UA_RTP)
    s.sip(0, cc.sip_message("INVITE sip:200@example.com SIP/2.0", "mr-1", "1 INVITE", src=NATTED_UA, to_tag=False,
                            body=offer, contact="<sip:100@192.168.1.10:5060>"), NATTED_UA, PBX)
    s.sip(0.3, cc.sip_message("SIP/2.0 200 OK", "mr-1", "1 INVITE", src=NATTED_UA,
                              body=cc.SDP.format(ip=PBX[0], port=PBX_RTP)), PBX, NATTED_UA)
    s.sip(0.31, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "mr-1", "1 ACK", src=NATTED_UA, branch="a1"),
          NATTED_UA, PBX)
    s.rtp((NATTED_UA[0], 40000), (PBX[0], PBX_RTP), 0x1111, 0.4, 5)
    s.rtp((PBX[0], PBX_RTP), (NATTED_UA[0], 40000), 0x2222, 0.4, 5)
    bye = cc.sip_message("BYE sip:100@192.168.1.10:5060 SIP/2.0", "mr-1", "1 BYE", src=PBX, branch="bye1",
                         caller_first=False)
    for at in ((5.5,) if answered else (5.5, 6.0, 7.0, 9.0, 13.0, 17.0, 21.0, 25.0, 29.0, 33.0, 37.0)):
        s.sip(at, bye, PBX, target)
    if answered:
        s.sip(5.52, cc.sip_message("SIP/2.0 200 OK", "mr-1", "1 BYE", src=PBX, branch="bye1", caller_first=False),
              target, PBX)
    return s.write(path)


def test_bye_sent_to_the_private_contact_is_misrouted(tmp_path) -> None:
    (f,) = only(misrouted_call(tmp_path / "mr.pcap", ("192.168.1.10", 5060), False),
                "call.in-dialog-request-misrouted")
    assert (f.severity.label, f.call_id) == ("major", "mr-1")
    assert picked(f, "method", "target", "why", "reachable_at") == {
        "method": "BYE", "target": "192.168.1.10:5060", "why": "private", "reachable_at": None}
    assert f.evidence["outcome"] == "no response (10 retransmissions)"


def test_bye_sent_to_the_contact_port_instead_of_the_binding(tmp_path) -> None:
    (f,) = only(misrouted_call(tmp_path / "port.pcap", ("198.51.100.7", 5060), False),
                "call.in-dialog-request-misrouted")
    assert picked(f, "target", "why", "reachable_at") == {
        "target": "198.51.100.7:5060", "why": "port", "reachable_at": "198.51.100.7:34567"}


def test_bye_to_the_binding_is_not_misrouted(tmp_path) -> None:
    assert only(misrouted_call(tmp_path / "ok.pcap", NATTED_UA, True), "call.in-dialog-request-misrouted") == []


# ------------------------------------------------------------------------------------------ call.reinvite-failed

def reinvite_call(path: Path, statuses: tuple[int, ...], *, bye_at: float = 20.0, fax: bool = False,
                  hold: bool = True) -> Path:
    s = cc.call_setup(Script(), "ri-1")
    cc.two_way(s, 0.4, 19.0)
    body = (cc.SDP.format(ip=UA[0], port=UA_RTP).replace("m=audio 40000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n",
                                                        "m=image 40000 udptl t38\n") if fax else
            cc.SDP.format(ip=UA[0], port=UA_RTP) + ("a=sendonly\n" if hold else ""))
    at = 5.0
    for k, status in enumerate(statuses):
        branch = f"re{k}"
        s.sip(at, cc.sip_message("INVITE sip:200@203.0.113.5 SIP/2.0", "ri-1", f"{2 + k} INVITE", src=UA,
                                 branch=branch, body=body), UA, PBX)
        s.sip(at + 0.1, cc.sip_message(f"SIP/2.0 {status} X", "ri-1", f"{2 + k} INVITE", src=UA, branch=branch,
                                       body=cc.SDP.format(ip=PBX[0], port=PBX_RTP) if status == 200 else ""),
              PBX, UA)
        s.sip(at + 0.11, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "ri-1", f"{2 + k} ACK", src=UA,
                                        branch=branch if status != 200 else f"a{k}"), UA, PBX)
        at += 2.5
    return cc.bye(s, bye_at, "ri-1").write(path)


def test_hold_refused_with_488_is_minor(tmp_path) -> None:
    (f,) = only(reinvite_call(tmp_path / "488.pcap", (488,)), "call.reinvite-failed")
    assert (f.severity.label, f.call_id) == ("minor", "ri-1")
    assert picked(f, "method", "status", "purpose", "glare_491", "bye_after_s") == {
        "method": "INVITE", "status": 488, "purpose": "hold", "glare_491": 0, "bye_after_s": None}


def test_failed_reinvite_followed_by_bye_is_major(tmp_path) -> None:
    (f,) = only(reinvite_call(tmp_path / "500.pcap", (500,), bye_at=7.0), "call.reinvite-failed")
    assert (f.severity.label, f.evidence["status"], f.evidence["bye_after_s"]) == ("major", 500, 1.9)


def test_glare_loop_of_491(tmp_path) -> None:
    (f,) = only(reinvite_call(tmp_path / "491.pcap", (491, 491, 491, 491, 200)), "call.reinvite-failed")
    assert (f.severity.label, f.evidence["glare_491"], f.evidence["status"]) == ("major", 4, 491)


def test_declined_t38_is_information(tmp_path) -> None:
    (f,) = only(reinvite_call(tmp_path / "t38.pcap", (488,), fax=True), "call.reinvite-failed")
    assert (f.severity.label, f.evidence["purpose"]) == ("info", "a switch to T.38 fax")


def test_one_491_then_success_is_normal(tmp_path) -> None:
    assert only(reinvite_call(tmp_path / "ok.pcap", (491, 200)), "call.reinvite-failed") == []


# RFC 3261 §17.1.1.2 Timer A: an INVITE over UDP is sent at these seconds until Timer B fires at 32 s
TIMER_A = (0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)


def unanswered_reinvite(path: Path, sends: tuple[float, ...], *, method: str = "INVITE", end: float | None = None,
                        bye_at: float | None = None) -> Path:
    """INVITE/200/ACK (frames 1-3), a hold re-INVITE (or UPDATE) from the caller at 5 s sent at 5 s + `sends` and
    never answered (frames 4...), the caller's BYE at bye_at; end: the capture runs on to then (an OPTIONS from
    elsewhere)."""
    s = cc.call_setup(Script(), "nr-1")
    body = cc.SDP.format(ip=UA[0], port=UA_RTP) + "a=sendonly\n"
    for at in sends:
        s.sip(5.0 + at, cc.sip_message(f"{method} sip:200@203.0.113.5 SIP/2.0", "nr-1", f"2 {method}", src=UA,
                                       branch="nr2", body=body), UA, PBX)
    if bye_at is not None:
        cc.bye(s, bye_at, "nr-1")
    if end is not None:
        s.sip(end, cc.sip_message("OPTIONS sip:ka@203.0.113.5 SIP/2.0", "ka-1", "1 OPTIONS", src=("192.0.2.9", 5060),
                                  to_tag=False), ("192.0.2.9", 5060), PBX)
    return s.write(path)


_TIMED_OUT = "got no response within 32 s ({n} retransmissions): its transaction timed out ({timer})"
_CUT = ("got no response in the {waited} s the capture runs on after it ({n} retransmissions): the capture ended "
        "before its 32 s timeout (Timer B, RFC 3261 §17.1.1.2) could fire, so how it ended is not shown")
_LEAD = {
    "change-timeout": "Putting your call on hold, transferring it or a similar change did not succeed because no "
                      "answer to the request came back. We are investigating the configuration.",
    "drop-timeout": "Your call was ended when it tried to change (hold, transfer or a similar step) and no answer to "
                    "the request came back. We are investigating the configuration.",
    "change-unanswered": "A change to your call (hold, transfer or a similar step) had not been answered yet when the "
                         "recording stopped, so whether it failed is not known. If it happens again, please keep the "
                         "recording running for at least a minute after the change.",
    "drop-unanswered": "Your call was ended while a change to it (hold, transfer or a similar step) was still waiting "
                       "for an answer. We are investigating the configuration.",
}


@pytest.mark.parametrize(("sends", "kw", "expected"), [
    # the capture runs on past Timer B: the re-INVITE timed out; nothing refused it
    (TIMER_A, {"end": 40.0}, ("minor", "high", (4,), "timeout", "change-timeout",
                              _TIMED_OUT.format(n=6, timer="Timer B, RFC 3261 §17.1.1.2") + "; the call went on")),
    # a capture cut at the last retransmission of the whole Timer A schedule shows it as well
    (TIMER_A, {}, ("minor", "high", (4,), "timeout", "change-timeout",
                   _TIMED_OUT.format(n=6, timer="Timer B, RFC 3261 §17.1.1.2") + "; the call went on")),
    # the caller ends the dialog on the timeout (RFC 3261 §12.2.1.2, §8.1.3.1: a timeout is a 408)
    (TIMER_A, {"bye_at": 37.2}, ("major", "high", (4, 11), "timeout", "drop-timeout",
                                 _TIMED_OUT.format(n=6, timer="Timer B, RFC 3261 §17.1.1.2")
                                 + "; the call was ended 32.2 s after the INVITE (BYE frame 11)")),
    # an UPDATE's transaction is a non-INVITE one: Timer F (§17.1.2.2)
    ((0.0, 0.5, 1.5, 3.5, 7.5, 11.5), {"method": "UPDATE", "end": 40.0}, (
        "minor", "high", (4,), "timeout", "change-timeout",
        _TIMED_OUT.format(n=5, timer="Timer F, RFC 3261 §17.1.2.2") + "; the call went on")),
    # the capture ends 4 s after it: unanswered so far, how it ended is not shown (low confidence)
    (TIMER_A[:4], {"end": 9.0}, ("minor", "low", (4,), "capture-ended", "change-unanswered",
                                 _CUT.format(waited=4.0, n=3))),
    (TIMER_A[:4], {"bye_at": 10.0}, ("major", "low", (4, 8), "capture-ended", "drop-unanswered",
                                     _CUT.format(waited=5.0, n=3)
                                     + "; the call was ended 5.0 s after the INVITE (BYE frame 8)")),
])
def test_an_unanswered_reinvite_is_not_a_refused_one(tmp_path, sends, kw, expected) -> None:
    """A re-INVITE whose response is not in the capture was not refused (RFC 3261 §17.1.1.2). Before, every such
    finding told the customer "the request was refused", kept high confidence when the capture ended 4 s after the
    request, and a BYE sent when Timer B fired (32 s on) was not seen as the call ending with it."""
    severity, confidence, frames, case, lead, result = expected
    method = kw.get("method", "INVITE")
    (f,) = only(unanswered_reinvite(tmp_path / "nr.pcap", sends, **kw), "call.reinvite-failed")
    assert "refused" not in f.customer_text["en"] + f.engineer_text["en"]
    assert "отклон" not in f.customer_text["ru"] + f.engineer_text["ru"]
    assert f.customer_text["en"] == _LEAD[lead]
    assert f.engineer_text["en"] == (f"Call nr-1: {method} for hold (frame 4) {result} "
                                     "(RFC 3261 §14, §14.1; RFC 3264 §8).")
    assert (f.severity.label, f.confidence, f.frames, f.evidence["status"], f.evidence["no_response"]) == (
        severity, confidence, frames, None, case)


def test_the_reinvite_timeout_follows_the_configured_t1(tmp_path) -> None:
    """A re-INVITE sent once and unanswered for the 35 s the capture runs on: past Timer B (64*T1 = 32 s) by
    default; with T1 = 1 s (RFC 3261 §17.1.1.1) Timer B fires at 64 s, so the capture ended before it could, and
    one send is no failure. Before, 32 s was fixed whatever sip.t1_default_ms said."""
    from sipdiag.config import load_config

    path = unanswered_reinvite(tmp_path / "nr.pcap", (0.0,), end=40.0)
    (f,) = only(path, "call.reinvite-failed")
    assert (f.evidence["no_response"], f.confidence, f.evidence["t1_estimate_s"]) == ("timeout", "high", None)
    assert _TIMED_OUT.format(n=0, timer="Timer B, RFC 3261 §17.1.1.2") in f.engineer_text["en"]
    (tmp_path / "t1.toml").write_text("[sip]\nt1_default_ms = 1000\n")
    assert [f for f in sipdiag.analyze(path, settings=load_config(tmp_path / "t1.toml")).findings
            if f.rule == "call.reinvite-failed"] == []


def test_the_reinvite_timeout_follows_the_senders_own_t1(tmp_path) -> None:
    """A re-INVITE sent 5 times and unanswered for the 35 s the capture runs on. Retransmitted at 0.5, 1, 2, 4 s
    it is past its sender's Timer B (32 s), with T1 = 1 s configured too; retransmitted at 1, 2, 4, 8 s its sender
    runs T1 = 1 s, so Timer B fires at 64 s: the capture ended before it could (RULES.md §0.5, T1_est). Before,
    the second was a timeout at 32 s."""
    from sipdiag.config import load_config

    (tmp_path / "t1.toml").write_text("[sip]\nt1_default_ms = 1000\n")
    path = unanswered_reinvite(tmp_path / "nr.pcap", TIMER_A[:5], end=40.0)
    (f,) = [f for f in sipdiag.analyze(path, settings=load_config(tmp_path / "t1.toml")).findings
            if f.rule == "call.reinvite-failed"]
    assert (f.evidence["no_response"], f.confidence, f.evidence["t1_estimate_s"]) == ("timeout", "high", 0.5)
    assert _TIMED_OUT.format(n=4, timer="Timer B, RFC 3261 §17.1.1.2") in f.engineer_text["en"]
    (f,) = only(unanswered_reinvite(tmp_path / "slow.pcap", tuple(2 * t for t in TIMER_A[:5]), end=40.0),
                "call.reinvite-failed")
    assert (f.evidence["no_response"], f.confidence, f.evidence["t1_estimate_s"]) == ("capture-ended", "low", 1.0)
    assert _CUT.format(waited=35.0, n=4).replace("32 s", "64 s") in f.engineer_text["en"]


def test_an_unanswered_reinvite_in_russian(tmp_path) -> None:
    # the capture-ended and timeout cases read as Russian sentences, counts agreeing ("3 переотправки")
    (f,) = only(unanswered_reinvite(tmp_path / "cut.pcap", TIMER_A[:4], end=9.0), "call.reinvite-failed")
    assert f.engineer_text["ru"] == (
        "Вызов nr-1: INVITE для удержания (кадр 4) остался без ответа: после него захват длится ещё только 4.0 с "
        "(3 переотправки) и закончился раньше, чем мог истечь таймаут 32 с (Timer B, RFC 3261 §17.1.1.2), поэтому "
        "чем закончилась транзакция, не видно (RFC 3261 §14, §14.1; RFC 3264 §8).")
    (f,) = only(unanswered_reinvite(tmp_path / "late.pcap", TIMER_A, end=40.0), "call.reinvite-failed")
    assert f.engineer_text["ru"] == (
        "Вызов nr-1: INVITE для удержания (кадр 4) остался без ответа в течение 32 с (6 переотправок): транзакция "
        "завершилась по таймауту (Timer B, RFC 3261 §17.1.1.2); вызов продолжился (RFC 3261 §14, §14.1; RFC 3264 §8).")


def test_a_reinvite_retransmitted_once_when_the_capture_ends_is_no_finding(tmp_path) -> None:
    # 1.5 s without a response, one retransmission: nothing shows the request failed
    assert only(unanswered_reinvite(tmp_path / "nr.pcap", TIMER_A[:2], end=6.5), "call.reinvite-failed") == []


def test_declined_t38_in_the_corpus(corpus) -> None:
    path = corpus / "pcaps" / "wireshark-wiki" / "FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"
    assert sorted((f.severity.label, f.evidence["status"], f.evidence["purpose"]) for f in
                  only(path, "call.reinvite-failed")) == [("info", 488, "a switch to T.38 fax")] * 2


# ------------------------------------------------------------------------------------- call.media-timeout-or-hung

def media_call(path: Path, *, ua_stops: float, pbx_stops: float, bye_at: float | None, end_at: float,
               hold: bool = False) -> Path:
    s = cc.call_setup(Script(), "mt-1")
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.4, ua_stops - 0.4)
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.4, pbx_stops - 0.4, seq0=5000)
    if hold:
        s.sip(ua_stops, cc.sip_message("INVITE sip:200@203.0.113.5 SIP/2.0", "mt-1", "2 INVITE", src=UA,
                                       branch="h1", body=cc.SDP.format(ip=UA[0], port=UA_RTP) + "a=sendonly\n"),
              UA, PBX)
        s.sip(ua_stops + 0.1, cc.sip_message("SIP/2.0 200 OK", "mt-1", "2 INVITE", src=UA, branch="h1",
                                             body=cc.SDP.format(ip=PBX[0], port=PBX_RTP) + "a=recvonly\n"),
              PBX, UA)
    if bye_at is not None:
        cc.bye(s, bye_at, "mt-1", from_callee=True, reason='Q.850;cause=102;text="RTP timeout"')
    # something else goes on in the capture until end_at (a keep-alive)
    s.sip(end_at, cc.sip_message("OPTIONS sip:ping@203.0.113.5 SIP/2.0", "ka-1", "1 OPTIONS", src=UA,
                                 branch="ka", to_tag=False), UA, PBX)
    return s.write(path)


def test_rtp_timeout_disconnect(tmp_path) -> None:
    (f,) = only(media_call(tmp_path / "to.pcap", ua_stops=10, pbx_stops=10, bye_at=41, end_at=42),
                "call.media-timeout-or-hung")
    assert (f.severity.label, f.confidence, f.call_id) == ("major", "high", "mt-1")
    assert picked(f, "case", "silence_s", "ended_by", "reason") == {
        "case": "rtp-timeout", "silence_s": 31.0, "ended_by": "callee", "reason": 'Q.850;cause=102;text="RTP timeout"'}


def test_hung_dialog_without_bye(tmp_path) -> None:
    (f,) = only(media_call(tmp_path / "hung.pcap", ua_stops=10, pbx_stops=10, bye_at=None, end_at=80),
                "call.media-timeout-or-hung")
    assert (f.evidence["case"], f.evidence["silence_s"]) == ("hung", 70.0)


def test_one_direction_stops_mid_call(tmp_path) -> None:
    (f,) = only(media_call(tmp_path / "one.pcap", ua_stops=5, pbx_stops=30, bye_at=30.2, end_at=31),
                "call.media-timeout-or-hung")
    assert picked(f, "case", "stopped", "last_to_callee_s") == {
        "case": "one-direction", "stopped": ["caller->callee"], "last_to_callee_s": 4.7}


def test_hold_is_not_a_media_timeout(tmp_path) -> None:
    path = media_call(tmp_path / "hold.pcap", ua_stops=5, pbx_stops=30, bye_at=30.2, end_at=31, hold=True)
    assert only(path, "call.media-timeout-or-hung") == []


def test_media_until_the_bye_is_fine(tmp_path) -> None:
    path = media_call(tmp_path / "ok.pcap", ua_stops=30, pbx_stops=30, bye_at=30.2, end_at=31)
    assert only(path, "call.media-timeout-or-hung") == []


# ------------------------------------------------------------------------------------------- media quality rules

def quality_call(path: Path, seconds: float = 20.0, **rtp) -> Path:
    """An answered call; the UA's stream gets `rtp` (drop/dup/swap/jitter/rate), the PBX's stays clean."""
    s = cc.call_setup(Script(), "q-1")
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.4, seconds, **rtp)
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.405, seconds, seq0=5000)
    return cc.bye(s, seconds + 0.6, "q-1").write(path)


def test_burst_loss_fires_on_runs_and_not_on_isolated_drops(tmp_path) -> None:
    # five bursts of 5 packets (100 ms each) in 1000 packets: 2.5 % loss, all in runs
    runs = [i for start in (100, 300, 500, 700, 900) for i in range(start, start + 5)]
    (f,) = only(quality_call(tmp_path / "burst.pcap", drop=runs), "media.burst-loss")
    assert (f.severity.label, f.confidence, f.evidence["direction"]) == ("minor", "high", "caller->callee")
    assert picked(f, "loss_run_max", "longest_gap_ms", "loss_runs", "loss_pct", "interval_ms") == {
        "loss_run_max": 5, "longest_gap_ms": 120, "loss_runs": 5, "loss_pct": 2.5, "interval_ms": 20.0}
    # the same loss spread out, one packet at a time: concealment hides it
    assert only(quality_call(tmp_path / "spread.pcap", drop=range(20, 1000, 40)), "media.burst-loss") == []


def test_a_dropout_of_a_second_is_major(tmp_path) -> None:
    (f,) = only(quality_call(tmp_path / "gap.pcap", drop=range(400, 460)), "media.burst-loss")
    assert (f.severity.label, f.evidence["loss_run_max"], f.evidence["longest_gap_ms"]) == ("major", 60, 1220)


def test_timestamps_restarted_below_the_first_are_no_dropout(tmp_path) -> None:
    """After 6 s the sender's timestamps restart 2 s below the first (as a gateway's after a refused switch to T.38)
    and pass it again 2 s later; every packet came 20 ms after the one before and one was lost. Wireshark's max
    delta spans the out-of-sequence packets (2020 ms), which made a major "arrival gap of 2020 ms"; the arrival gap
    is 40 ms (the lost packet), one packet lost is no burst."""
    def stamp(i: int) -> int:
        return 16000 + i * 160 if i < 300 else (i - 300) * 160

    path = quality_call(tmp_path / "restart.pcap", drop=(700,), stamp=stamp)
    (m,) = [m for m in sipdiag.analyze(path).streams if m.stats.ssrc == 0x1111]
    assert (m.stats.lost, m.stats.wrong_timestamps, round(m.stats.max_delta_ms), m.stats.arrival_gap_ms) == (
        1, 100, 2020, 40.0)
    assert only(path, "media.burst-loss") == []


def test_high_jitter(tmp_path) -> None:
    # every other packet 70 ms late: mean jitter far above 30 ms and many late for a 50 ms buffer
    (f,) = only(quality_call(tmp_path / "jit.pcap", jitter=lambda i: 0.07 if i % 2 else 0.0), "media.high-jitter")
    assert (f.severity.label, f.confidence, f.evidence["direction"], f.evidence["clock_rate"]) == (
        "major", "high", "caller->callee", 8000)
    assert f.evidence["jitter_mean_ms"] >= 50 and f.evidence["late_50ms_pct"] > 3
    assert only(quality_call(tmp_path / "calm.pcap", jitter=lambda i: 0.002 * (i % 3)), "media.high-jitter") == []


def test_sequence_anomalies(tmp_path) -> None:
    (f,) = only(quality_call(tmp_path / "dup.pcap", dup=range(0, 1000, 20), swap=range(5, 1000, 25)),
                "media.sequence-anomalies")
    assert (f.severity.label, f.evidence["direction"]) == ("minor", "caller->callee")
    assert picked(f, "duplicates", "duplicate_pct", "reordered") == {
        "duplicates": 50, "duplicate_pct": 4.8, "reordered": 40}
    assert only(quality_call(tmp_path / "ok.pcap", dup=(3,)), "media.sequence-anomalies") == []


def test_clock_drift(tmp_path) -> None:
    # 1000 ppm fast over 200 s: the skew grows by 200 ms
    (f,) = only(quality_call(tmp_path / "drift.pcap", seconds=200, rate=1.001), "media.clock-drift")
    assert (f.severity.label, f.confidence, f.evidence["direction"]) == ("minor", "high", "caller->callee")
    assert picked(f, "drift_ppm", "skew_growth_ms", "buffer_period_s", "fast_slow_en") == {
        "drift_ppm": 1000, "skew_growth_ms": 200, "buffer_period_s": 60, "fast_slow_en": "fast"}
    # the comparative in the engineer's text: it read "advance 1000 ppm fast than the 8000 Hz clock"
    assert "RTP timestamps advance 1000 ppm faster than the 8000 Hz clock against" in f.engineer_text["en"]
    assert "runs slightly fast, which causes" in f.customer_text["en"]
    (slow,) = only(quality_call(tmp_path / "slow.pcap", seconds=200, rate=0.999), "media.clock-drift")
    assert "RTP timestamps advance 1000 ppm slower than" in slow.engineer_text["en"]
    assert "метки времени RTP растут на 1000 ppm медленнее, чем часы 8000 Гц" in slow.engineer_text["ru"]
    # 200 ppm: below the 500 ppm threshold
    assert only(quality_call(tmp_path / "ok.pcap", seconds=200, rate=1.0002), "media.clock-drift") == []


def rtcp_call(path: Path, *, rtt: float, both_sides: bool = True, echo: bool = True) -> Path:
    """20 s of two-way RTP; the UA sends SRs every 5 s, the PBX answers each with an RR echoing it after
    `rtt` s (DLSR 0), and sends its own SRs when both_sides."""
    s = cc.call_setup(Script(), "rc-1")
    cc.two_way(s, 0.4, 20)
    ua_rtcp, pbx_rtcp = (UA[0], UA_RTP + 1), (PBX[0], PBX_RTP + 1)
    for at in (2.0, 7.0, 12.0, 17.0):
        s.rtcp(at, ua_rtcp, pbx_rtcp, cc.rtcp_sr(0x1111, at))
        if both_sides:
            s.rtcp(at + rtt, pbx_rtcp, ua_rtcp, cc.rtcp_sr(0x2222, at + rtt, cc.rtcp_rr(
                0x2222, 0x1111, lsr=cc.lsr_of(at) if echo else 0)[8:], count=1))
    return cc.bye(s, 20.6, "rc-1").write(path)


def test_high_delay_from_the_rtcp_round_trip(tmp_path) -> None:
    (f,) = only(rtcp_call(tmp_path / "far.pcap", rtt=0.5), "media.high-delay")
    # 500 ms RTT: 250 network + 20 buffer + 20 packets + 0.125 G.711 + 10 devices = 300 ms
    assert (f.severity.label, f.confidence, f.call_id) == ("major", "medium", "rc-1")
    assert picked(f, "ta_ms", "rtt_ms", "network_ms", "jitter_buffer_ms", "packetization_ms") == {
        "ta_ms": 300, "rtt_ms": 500.0, "network_ms": 250.0, "jitter_buffer_ms": 20.0, "packetization_ms": 20.0}
    assert only(rtcp_call(tmp_path / "near.pcap", rtt=0.04), "media.high-delay") == []


def test_rtcp_issues(tmp_path) -> None:
    (f,) = only(rtcp_call(tmp_path / "oneside.pcap", rtt=0.04, both_sides=False), "media.rtcp-issues")
    assert (f.severity.label, f.confidence, f.evidence["rtcp_packets"]) == (
        "minor", "high", {"caller->callee": 4, "callee->caller": 0})
    assert "sends no RTCP" in f.engineer_text["en"]
    (lsr,) = only(rtcp_call(tmp_path / "nolsr.pcap", rtt=0.04, echo=False), "media.rtcp-issues")
    assert lsr.severity.label == "minor" and "LSR 0" in lsr.engineer_text["en"]
    assert only(rtcp_call(tmp_path / "ok.pcap", rtt=0.04), "media.rtcp-issues") == []
    (none,) = only(quality_call(tmp_path / "nortcp.pcap"), "media.rtcp-issues")
    assert (none.severity.label, none.confidence) == ("info", "low")


# -------------------------------------------------------------------------------------------- media.no-rtp

def test_no_rtp_where_the_capture_does_not_see_media(corpus) -> None:
    """A gateway's capture with anonymised SDP addresses: the SDP media hosts never appear in a packet, but each
    answered call's RTP is there from the NATed addresses, on the SDP ports (bound by port, RFC 3264): not one
    answered call is silent. (It used to say 43 silent calls: their streams had all gone to one unanswered call.)"""
    path = corpus / "pcaps" / "initconf-sip-attacks" / "SIP-212.32.250.134.pcap"
    assert only(path, "media.no-rtp") == []


def test_no_rtp_in_several_calls_of_a_signalling_only_capture(tmp_path) -> None:
    s = Script()
    for k in range(3):
        cc.call_setup(s, f"sig-{k}", at=k * 10.0)
        cc.bye(s, k * 10.0 + 8, f"sig-{k}")
    (f,) = only(s.write(tmp_path / "sig.pcap"), "media.no-rtp")
    assert (f.severity.label, f.confidence, f.evidence["calls"]) == ("info", "low", 3)


def test_no_rtp_stays_critical_where_other_calls_have_media(tmp_path) -> None:
    s = cc.call_setup(Script(), "m-1")
    cc.two_way(s, 0.4, 5)
    cc.bye(s, 6, "m-1")
    cc.call_setup(s, "silent-1", at=10.0)
    cc.bye(s, 18, "silent-1")
    (f,) = only(s.write(tmp_path / "mixed.pcap"), "media.no-rtp")
    assert (f.severity.label, f.confidence, f.call_id) == ("critical", "high", "silent-1")


def silent_call_among_others(path: Path, *, end: str, at: float) -> Path:
    """A call with two-way RTP, then a silent call answered at 10.3 s. end: "bye" ends it by a BYE at `at`;
    "capture" leaves it up and ends the capture with an OPTIONS at `at`."""
    s = cc.call_setup(Script(), "m-1")
    cc.two_way(s, 0.4, 5)
    cc.bye(s, 6, "m-1")
    cc.call_setup(s, "silent-1", at=10.0)
    if end == "bye":
        cc.bye(s, at, "silent-1")
    else:
        s.sip(at, cc.sip_message("OPTIONS sip:200@example.com SIP/2.0", "opt-1", "1 OPTIONS", src=UA, to_tag=False),
              UA, PBX)
    return s.write(path)


@pytest.mark.parametrize("end, at, expected", [
    # RULES.md media.no-rtp: ">= 5 s after ACK (or for the whole call)"
    ("capture", 12.3, ("info", "low", 2.0)),  # still up, 2 s watched: too short to tell
    ("capture", 15.2, ("info", "low", 4.9)),
    ("capture", 15.3, ("critical", "high", None)),  # 5 s after the answer without a packet
    ("bye", 12.3, ("critical", "high", None)),  # the whole call, short as it was, without a packet
])
def test_no_rtp_needs_five_seconds_after_the_answer_or_the_whole_call(tmp_path, end, at, expected) -> None:
    (f,) = only(silent_call_among_others(tmp_path / "short.pcap", end=end, at=at), "media.no-rtp")
    assert (f.severity.label, f.confidence, f.evidence.get("observed_s")) == expected
    assert f.call_id == "silent-1"
    if expected[0] == "info":
        assert f.customer_text["en"].startswith(
            f"Your call was recorded for only {expected[2]:g} s after it connected, with no sound in that time; "
            f"that is too short to tell a fault from sound that had not started yet.")
        assert f"The capture ends {expected[2]:g} s after the answer, before any BYE: too short to conclude" \
            in f.engineer_text["en"]
        assert f"Захват заканчивается через {expected[2]:g} с после ответа" in f.engineer_text["ru"]


# ------------------------------------------------------------------------------------ media.loopback-sdp-address

def test_a_loopback_answer_address_is_the_cause_of_the_one_way_audio(tmp_path) -> None:
    """The PBX answers c=IN IP4 127.0.0.1 (RFC 1122 §3.2.1.3: 127/8 never leaves a host) to a caller across the
    network: the caller's RTP cannot reach it and only the PBX's audio flows. It was a one-way audio without a
    cause."""
    path = cc.media_call(tmp_path / "lo.pcap", caller=UA, offer=(UA[0], UA_RTP), answer=("127.0.0.1", PBX_RTP),
                         flows=(((PBX[0], PBX_RTP), (UA[0], UA_RTP), 800, 0x2222),))  # 16 s: one-way, major
    findings = sipdiag.analyze(path).findings
    assert [(f.rule, f.severity.label, f.confidence) for f in findings] == [
        ("media.loopback-sdp-address", "major", "high"), ("media.one-way-audio", "major", "high")]
    lo, one_way = findings
    assert (one_way.cause, lo.explains) == (0, (1,))
    assert picked(lo, "role", "address", "port", "media", "frame", "frames_sdp", "rtp_to_party") == {
        "role": "callee", "address": "127.0.0.1", "port": PBX_RTP, "media": "audio", "frame": 2, "frames_sdp": "2",
        "rtp_to_party": 0}
    assert lo.engineer_text["en"].startswith(
        "Call media-1: the SDP of the callee (frame 2) has c= 127.0.0.1 for m=audio port 50000: a loopback address, "
        "which never leaves its host (RFC 1122 §3.2.1.3), while its SIP went from 203.0.113.5:5060 to "
        "198.51.100.7:5060 (SDP in frame(s) 2). No audio reached this party at this capture point")
    assert "а его SIP шёл с 203.0.113.5:5060 на 198.51.100.7:5060" in lo.engineer_text["ru"]
    assert "127.0.0.1" not in lo.customer_text["en"] + lo.customer_text["ru"]  # no address for the customer
    # not also a NAT fault (a "private home-network address"): the loopback has its own rule
    assert only(path, "nat.private-sdp-address") == []


def test_a_loopback_address_worked_around_by_a_relay_is_minor(tmp_path) -> None:
    path = cc.media_call(tmp_path / "latched.pcap", caller=UA, offer=(UA[0], UA_RTP),
                         answer=("127.0.0.1", PBX_RTP),
                         flows=(((UA[0], UA_RTP), (PBX[0], PBX_RTP), 200, 0x1111),
                                ((PBX[0], PBX_RTP), (UA[0], UA_RTP), 200, 0x2222)))
    (lo,) = only(path, "media.loopback-sdp-address")
    assert (lo.severity.label, lo.evidence["rtp_to_party"]) == ("minor", 200)
    assert "Audio did reach this party (200 packets)" in lo.engineer_text["en"]


def test_loopback_on_one_host_and_hold_are_not_reported(tmp_path) -> None:
    """A test rig whose SIP and media all stay on 127.0.0.1 is not at fault; c=0.0.0.0 is a hold (RFC 3264 §8.4)."""
    rig = cc.media_call(tmp_path / "rig.pcap", caller=("127.0.0.1", 5062), callee=("127.0.0.1", 5060),
                        offer=("127.0.0.1", UA_RTP), answer=("127.0.0.1", PBX_RTP),
                        flows=((("127.0.0.1", UA_RTP), ("127.0.0.1", PBX_RTP), 200, 0x1111),
                               (("127.0.0.1", PBX_RTP), ("127.0.0.1", UA_RTP), 200, 0x2222)))
    assert [(f.rule, f.severity.label) for f in sipdiag.analyze(rig).findings if f.severity > 0] == []
    assert only(rig, "media.loopback-sdp-address") == []
    held = cc.media_call(tmp_path / "held.pcap", caller=UA, offer=(UA[0], UA_RTP), answer=("0.0.0.0", PBX_RTP),
                         flows=(((PBX[0], PBX_RTP), (UA[0], UA_RTP), 200, 0x2222),))
    assert only(held, "media.loopback-sdp-address") == []


def test_loopback_sip_with_rtp_sent_by_a_host_to_itself_is_one_host(tmp_path) -> None:
    """SIP on 127.0.0.1 both ways, the caller's media announced at a network address, the answer at 127.0.0.1:
    with RTP going from that network address to itself both parties run on one host, where 127.0.0.1 is reachable.
    Without that RTP the capture cannot tell, and the finding stays (medium confidence)."""
    host = "192.168.6.199"
    lo_ = ("127.0.0.1", 5062), ("127.0.0.1", 5060)

    def rig(name: str, flows: tuple) -> Path:
        return cc.media_call(tmp_path / name, caller=lo_[0], callee=lo_[1], offer=(host, UA_RTP),
                             answer=("127.0.0.1", PBX_RTP), flows=flows)

    same_host = rig("same.pcap", (((host, PBX_RTP), (host, UA_RTP), 200, 0x2222),))
    assert only(same_host, "media.loopback-sdp-address") == []
    unknown = rig("unknown.pcap", ())
    (lo,) = only(unknown, "media.loopback-sdp-address")
    assert (lo.severity.label, lo.confidence) == ("major", "medium")


def test_the_h263_corpus_capture_is_one_host_and_too_short_for_a_silent_call(corpus) -> None:
    """Wireshark's h263-over-rtp.pcap: eyeBeam on 127.0.0.1 offers 192.168.6.199 and is answered c=IN IP4
    127.0.0.1; the callee's video goes from 192.168.6.199 to 192.168.6.199, so both run on one host and the
    loopback answer is reachable (it was a major media.loopback-sdp-address). The capture ends 1.2 s after the
    answer with no audio and no BYE: too short to call it a silent call (media.no-rtp was critical)."""
    path = corpus / "pcaps" / "wireshark-wiki" / "h263-over-rtp.pcap"
    if not path.is_file():
        pytest.skip(f"corpus capture {path} is absent")
    findings = sipdiag.analyze(path).findings
    assert [(f.rule, f.severity.label, f.confidence, f.cause, f.explains) for f in findings] == [
        ("dtmf.rfc4733-problem", "minor", "high", None, ()),
        ("media.no-rtp", "info", "low", None, ())]
    assert picked(findings[1], "answer_frame", "observed_s") == {"answer_frame": 3, "observed_s": 1.2}


# ----------------------------------------------------------------------------------------- sec.toll-fraud-attempt

def fraud_capture(path: Path, numbers: list[str], *, answered: bool = False) -> Path:
    s = Script()
    for k, number in enumerate(numbers):
        cc.call_setup(s, f"tf-{k}", to_user=number, at=k * 20.0, answer=answered)
        if not answered:
            s.sip(k * 20.0 + 0.1, cc.sip_message("SIP/2.0 403 Forbidden", f"tf-{k}", "1 INVITE", src=UA,
                                                 to_user=number), PBX, UA)
    return s.write(path)


def test_toll_fraud_distinct_international_destinations(tmp_path) -> None:
    numbers = ["0048185422016", "01148185422016", "9011441234567890", "00972598072172", "0011611234567", "+4930123456"]
    (f,) = only(fraud_capture(tmp_path / "tf.pcap", numbers), "sec.toll-fraud-attempt")
    # the + number does not count without home country codes (it may be a domestic E.164 number)
    assert (f.severity.label, f.confidence, f.call_id) == ("major", "medium", None)
    assert picked(f, "source", "attempts", "distinct", "densest", "answered") == {
        "source": "198.51.100.7", "attempts": 5, "distinct": 5, "densest": 5, "answered": 0}
    # four international numbers and domestic ones: below the threshold of 5
    assert only(fraud_capture(tmp_path / "ok.pcap", numbers[:4] + ["0301234567", "84951234567"]),
                "sec.toll-fraud-attempt") == []


@pytest.mark.parametrize(("home", "distinct"), [('["+44"]', 6), ("[44, 1]", 6), ('["+49"]', 5), ("[49]", 5)])
def test_home_country_codes_from_a_configuration_file(tmp_path, home: str, distinct: int) -> None:
    """The + number counts as international unless its country code is at home, written "+49" or 49."""
    from sipdiag.config import load_config

    numbers = ["0048185422016", "01148185422016", "9011441234567890", "00972598072172", "0011611234567", "+4930123456"]
    (tmp_path / "home.toml").write_text(f"[security]\nhome_country_codes = {home}\n")
    settings = load_config(tmp_path / "home.toml")
    findings = sipdiag.analyze(fraud_capture(tmp_path / "tf.pcap", numbers), settings=settings).findings
    (f,) = [f for f in findings if f.rule == "sec.toll-fraud-attempt"]
    assert picked(f, "attempts", "distinct") == {"attempts": distinct, "distinct": distinct}


def test_answered_fraud_is_critical(tmp_path) -> None:
    numbers = ["0048185422016", "0048185422017", "0048185422018", "0048185422019", "0048185422010"]
    (f,) = only(fraud_capture(tmp_path / "tf.pcap", numbers, answered=True), "sec.toll-fraud-attempt")
    assert (f.severity.label, f.evidence["answered"]) == ("critical", 5)


def test_toll_fraud_in_the_corpus(corpus) -> None:
    attacks = corpus / "pcaps" / "initconf-sip-attacks"
    # sipcli probing one Israeli number with 011, 9011 and 101XXXX011 prefixes: major (nothing connected)
    (probe,) = only(attacks / "SIP-3700-unauthorized-401.pcap", "sec.toll-fraud-attempt")
    assert (probe.severity.label, probe.evidence["source"], probe.evidence["attempts"],
            probe.evidence["numbers"], probe.evidence["densest"]) == ("major", "40.129.198.250", 11, 2, 6)
    # an Internet-facing gateway: 475 INVITEs to a Polish number from the source that also guesses passwords,
    # 48 of them answered by two open gateways: active fraud
    (active,) = only(attacks / "SIP-212.32.250.134.pcap", "sec.toll-fraud-attempt")
    assert (active.severity.label, active.evidence["source"], active.evidence["attempts"],
            active.evidence["answered"], active.evidence["destinations"]) == (
        "critical", "206.55.185.163", 475, 48, ["48185422016"])
