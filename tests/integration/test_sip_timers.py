"""RFC 3261 T1 in call outcomes, transaction matching and the timer rules: the run's configured T1
(sip.t1_default_ms) reaches what is built before the rules run, and a transaction retransmitted over UDP is judged
by the T1 its first retransmission gap shows (RULES.md §0.5, T1_est), which its findings give as evidence."""

from __future__ import annotations

import pytest

import sipdiag
from sipdiag.checks import all_rules
from sipdiag.checks.settings import active, merged
from sipdiag.config import load_config
from sipdiag.siptimers import SipTimers
from tests import callcapture as cc
from tests.callcapture import Script, ack_never_arrives, timer_schedule, unanswered_invite

MS = 10**6


def t1_config(tmp_path, ms: int):
    """The run's settings from a configuration file that sets T1, as `--config` reads it."""
    path = tmp_path / f"t1-{ms}.toml"
    path.write_text(f"[sip]\nt1_default_ms = {ms}\n")
    return load_config(path)


def outcome(path, settings=None) -> tuple[str, list[str]]:
    a = sipdiag.analyze(path, settings=settings)
    (call,) = a.calls
    return call.outcome, [f.rule for f in a.findings if f.rule == "call.invite-timeout"]


def test_the_configured_t1_sets_timer_b_of_a_calls_outcome(tmp_path) -> None:
    """An INVITE sent once (no retransmission shows its sender's T1) and unanswered for the 40 s the capture runs
    on: Timer B (64*T1, RFC 3261 §17.1.1.2) fired at 32 s with the default T1, so the call timed out; with T1 = 1 s
    it fires at 64 s and the call is still in progress when the capture ends. The other way round, 20 s of silence
    are no timeout by default and one with T1 = 250 ms (16 s). Before, the outcome's 32 s was fixed whatever the
    configuration said."""
    forty = unanswered_invite(tmp_path / "forty.pcap", (0.0,), end=40.0)
    assert outcome(forty) == ("timeout", ["call.invite-timeout"])
    assert outcome(forty, t1_config(tmp_path, 1000)) == ("in-progress", [])
    twenty = unanswered_invite(tmp_path / "twenty.pcap", (0.0,), end=20.0)
    assert outcome(twenty) == ("in-progress", [])
    assert outcome(twenty, t1_config(tmp_path, 250)) == ("timeout", ["call.invite-timeout"])


def test_the_invite_retransmissions_show_the_callers_t1(tmp_path) -> None:
    """A UAC at T1 = 1 s retransmits its INVITE at 1, 2, 4, 8, 16 s intervals (sends at 0, 1, 3, 7, 15, 31 s) and
    gives up at 64 s: 40 s into that, its call is in progress, not timed out (before: timed out at 32 s). Its whole
    schedule (7 sends to 63 s) is a timeout whose finding gives the estimate, 1 s, and says Timer B was judged by
    it."""
    assert timer_schedule(1.0) == (0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0)
    ringing = unanswered_invite(tmp_path / "t1-1s.pcap", timer_schedule(1.0)[:6], end=40.0)
    assert outcome(ringing) == ("in-progress", [])
    given_up = unanswered_invite(tmp_path / "t1-1s-all.pcap", timer_schedule(1.0), end=64.5)
    a = sipdiag.analyze(given_up)
    (f,) = [f for f in a.findings if f.rule == "call.invite-timeout"]
    assert (a.calls[0].outcome, f.evidence["sends"], f.evidence["t1_estimate_s"]) == ("timeout", 7, 1.0)
    assert ("sent 7 times over 63.0 s without any response (Timer A/B, T1 = 1 s by the INVITE's retransmissions, "
            "RFC 3261 §17.1.1.2)") in f.engineer_text["en"]
    assert ("отправлен 7 раз за 63.0 с без какого-либо ответа (таймеры A/B, T1 = 1 с по интервалам переотправки "
            "INVITE, RFC 3261 §17.1.1.2)") in f.engineer_text["ru"]


def test_the_callers_own_t1_wins_over_the_configured_one(tmp_path) -> None:
    """A UAC retransmitting at 0.5 s (6 sends to 15.5 s) gives up at 32 s whatever T1 the operator configured for
    peers that show none: 40 s into it the call timed out with T1 = 1 s configured as by default. The evidence
    gives the estimate in both runs; the text names it only where it is not the configured T1."""
    path = unanswered_invite(tmp_path / "t1-half.pcap", timer_schedule(0.5)[:6], end=40.0)
    (default,) = [f for f in sipdiag.analyze(path).findings if f.rule == "call.invite-timeout"]
    (slow,) = [f for f in sipdiag.analyze(path, settings=t1_config(tmp_path, 1000)).findings
               if f.rule == "call.invite-timeout"]
    assert default.evidence["t1_estimate_s"] == slow.evidence["t1_estimate_s"] == 0.5
    assert "(Timer A/B, RFC 3261 §17.1.1.2)" in default.engineer_text["en"]
    assert "(Timer A/B, T1 = 0.5 s by the INVITE's retransmissions, RFC 3261 §17.1.1.2)" in slow.engineer_text["en"]


def test_a_slow_peers_transaction_is_kept_until_its_timer_b(tmp_path) -> None:
    """The transaction table forgets a transaction 40 s after it began (64*T1 = 32 s and a margin), swept every
    2000 messages: an INVITE at T1 = 1 s still retransmits at 63 s. Swept at 45 s (2100 OPTIONS of a monitor),
    its 63 s copy made a second INVITE transaction of its own, the call's last, with no retransmission and 1.5 s
    waited: "in-progress". Kept 64*T1_est + 8 s, it is one transaction with 6 retransmissions: a timeout."""
    path = unanswered_invite(tmp_path / "keep.pcap", timer_schedule(1.0), end=64.5, keepalive=(45.0, 46.0, 2100))
    (call,) = sipdiag.analyze(path).calls
    assert [(t.method, t.request_retransmissions) for t in call.transactions] == [("INVITE", 6)]
    assert call.outcome == "timeout"


def test_the_configured_t1_sets_how_long_a_transaction_is_kept(tmp_path) -> None:
    """An INVITE sent once, 2100 OPTIONS at 45 s, and the PBX's 408 at 60 s: kept 40 s by default, the INVITE's
    transaction was gone when the 408 came, so the call lost its final response; with T1 = 1 s (kept 72 s) the 408
    answers the INVITE, and the call timed out with it."""
    path = unanswered_invite(tmp_path / "late408.pcap", (0.0,), final=(60.0, "SIP/2.0 408 Request Timeout"),
                             keepalive=(45.0, 46.0, 2100))
    (call,) = sipdiag.analyze(path, settings=t1_config(tmp_path, 1000)).calls
    assert [(t.method, t.request_frame, t.final_status) for t in call.transactions] == [("INVITE", 1, 408)]
    assert (call.outcome, call.final_status) == ("timeout", 408)
    (call,) = sipdiag.analyze(path).calls
    assert [(t.method, t.request_frame, t.final_status) for t in call.transactions] == [
        ("INVITE", 1, None), ("INVITE", None, 408)]


def test_the_ack_timeout_of_a_uas_at_t1_one_second(tmp_path) -> None:
    """A UAS at T1 = 1 s retransmits its 200 OK (1, 2, 4, 4, ... s) and sends BYE 64 s after it (RFC 3261
    §13.3.1.4): the ACK timeout, judged against its own T1 (RULES.md: "non-default T1 (e.g. 1 s ⇒ 64 s; use
    T1_est)"). Before, 64 s was 32 s off the fixed 32 s: no finding. Title and texts say 64 s, not "32 s"."""
    path = ack_never_arrives(tmp_path / "noack-1s.pcap", 1.0)
    (f,) = [f for f in sipdiag.analyze(path).findings if f.rule == "call.ack-timeout-32s"]
    assert (f.evidence["bye_after_s"], f.evidence["retransmissions"], f.evidence["t1_estimate_s"]) == (64.0, 17, 1.0)
    assert f.title == "Answered call torn down about 64 s after answer: the ACK never arrived"
    assert f.title_in("ru") == "Отвеченный вызов разорван примерно через 64 с после ответа: ACK так и не пришёл"
    assert f.customer_text["en"].startswith("Your answered calls are cut off after about 60 seconds.")
    assert f.customer_text["ru"].startswith("Ваши принятые звонки обрываются примерно через 60 секунд.")
    assert "(64*T1 = 64 s, T1 = 1 s by the 2xx retransmissions, RFC 3261 §13.3.1.4)" in f.engineer_text["en"]
    assert "(64*T1 = 64 с, T1 = 1 с по интервалам переотправки 2xx, RFC 3261 §13.3.1.4)" in f.engineer_text["ru"]
    # configured as the network's T1, the same: the text then has nothing to add about where T1 came from
    (f,) = [f for f in sipdiag.analyze(path, settings=t1_config(tmp_path, 1000)).findings
            if f.rule == "call.ack-timeout-32s"]
    assert f.title == "Answered call torn down about 64 s after answer: the ACK never arrived"
    assert "(64*T1 = 64 s, RFC 3261 §13.3.1.4)" in f.engineer_text["en"]


def test_the_ack_timeout_title_names_the_configured_64_t1() -> None:
    """Outside a finding (`sipdiag rules`, the rules reference) the title gives 64*T1 of the active settings."""
    (rule,) = [r for r in all_rules() if r.id == "call.ack-timeout-32s"]
    assert rule.title == "Answered call torn down about 32 s after answer: the ACK never arrived"
    with active(merged({"sip": {"t1_default_ms": 1000}})):
        assert rule.title == "Answered call torn down about 64 s after answer: the ACK never arrived"
        assert rule.title_in("ru") == "Отвеченный вызов разорван примерно через 64 с после ответа: ACK так и не пришёл"


def test_a_uas_at_the_default_t1_times_out_at_32_s_whatever_the_configuration(tmp_path) -> None:
    """The 200 OK retransmitted at 0.5 s shows the UAS's T1: its BYE at 32 s is the ACK timeout with T1 = 1 s
    configured too (before: no finding, the configured 64 s being 32 s off)."""
    path = ack_never_arrives(tmp_path / "noack-half.pcap", 0.5)
    (f,) = [f for f in sipdiag.analyze(path, settings=t1_config(tmp_path, 1000)).findings
            if f.rule == "call.ack-timeout-32s"]
    assert (f.evidence["bye_after_s"], f.evidence["t1_estimate_s"]) == (32.0, 0.5)
    assert f.title == "Answered call torn down about 32 s after answer: the ACK never arrived"
    assert "(64*T1 = 32 s, T1 = 0.5 s by the 2xx retransmissions, RFC 3261 §13.3.1.4)" in f.engineer_text["en"]


def test_sipdiag_rules_gives_the_ack_timeout_title_of_the_configuration(tmp_path) -> None:
    """`sipdiag rules --config FILE` shows the rules as that configuration runs them: the title's 64*T1 too."""
    from click.testing import CliRunner

    from sipdiag.cli import cli

    (tmp_path / "t1.toml").write_text("[sip]\nt1_default_ms = 1000\n")
    for args, seconds in ((["rules"], 32), (["rules", "--config", str(tmp_path / "t1.toml")], 64)):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0
        (line,) = [line for line in result.output.splitlines() if line.startswith("call.ack-timeout-32s")]
        assert line.endswith(f"Answered call torn down about {seconds} s after answer: the ACK never arrived")


@pytest.mark.parametrize(("gaps", "expected"), [
    ((500 * MS, 1000 * MS), 500 * MS),  # Timer A at the default T1
    ((1000 * MS,), 1000 * MS),  # one retransmission: its gap alone
    ((1003 * MS, 2001 * MS), 1003 * MS),  # rounded to the ms, as measured
    ((1500 * MS, 2000 * MS), None),  # 0, 1.5, 3.5 s: the copy at 0.5 s was lost, no doubling
    ((1000 * MS, 1000 * MS), None),  # a steady 1 s: no RFC 3261 schedule
    ((200_000, 500 * MS), None),  # a copy captured twice, 0.2 ms apart: no timer
    ((5000 * MS, 10_000 * MS), None),  # above T2: a request sent again, not retransmitted by a timer
    ((None, 1000 * MS), None),  # across a step of the capture's clock
    ((), None),
])
def test_the_t1_estimate_of_the_first_gaps(gaps, expected) -> None:
    assert SipTimers().estimate_t1_ns(gaps) == expected


def test_an_estimate_near_the_configured_t1_is_that_t1() -> None:
    """Within 25 % of the configured T1 the gap is that T1 seen through the path's jitter: a capture of standard
    peers is judged exactly as before."""
    timers = SipTimers()
    assert [timers.t1_for(e) for e in (None, 510 * MS, 620 * MS, 1000 * MS, 300 * MS)] == [
        500 * MS, 500 * MS, 500 * MS, 1000 * MS, 300 * MS]
    assert SipTimers(t1_ns=1000 * MS).sends_before_timeout(capped=False) == 7
    assert SipTimers().sends_before_timeout(capped=True, t1_ns=1000 * MS) == 18


# --------------------------------------------------------------------- every rule judged by 64*T1 gives its T1
# Rules whose verdict depends on a transaction's timeout (Timer B/F, 64*T1) give `t1_estimate_s`: the T1 the
# retransmissions they judged show (RULES.md §0.5, T1_est), None when they show none or no timer judged the finding.

def _rule(path, rule: str, settings=None) -> list:
    return [f for f in sipdiag.analyze(path, settings=settings).findings if f.rule == rule]


def _large_invite_unanswered(path, t1: float):
    """An OPTIONS answered 200, then a 1500-byte INVITE (one packet) sent on the Timer A schedule of `t1` until
    its Timer B and never answered (frames 3-9): router.udp-fragmentation (c), large fails where small passes."""
    script = Script()
    options = cc.sip_message("OPTIONS sip:200@example.com SIP/2.0", "opt-1", "1 OPTIONS", src=cc.UA, to_tag=False,
                             branch="o1")
    script.sip(0.0, options, cc.UA, cc.PBX)
    script.sip(0.05, cc.sip_message("SIP/2.0 200 OK", "opt-1", "1 OPTIONS", src=cc.UA, branch="o1"), cc.PBX, cc.UA)
    body = cc.SDP.format(ip=cc.UA[0], port=cc.UA_RTP) + "a=x-pad:" + "p" * 1200 + "\n"
    invite = cc.sip_message("INVITE sip:200@example.com SIP/2.0", "big-1", "1 INVITE", src=cc.UA, to_tag=False,
                            body=body)
    for at in timer_schedule(t1):
        script.sip(1.0 + at, invite, cc.UA, cc.PBX)
    return script.write(path)


@pytest.mark.parametrize(("t1", "estimate", "failed"), [
    (1.0, 1.0, "INVITE frame 3 never answered (Timer B, T1 = 1 s by its retransmissions)"),
    (0.5, 0.5, "INVITE frame 3 never answered (Timer B)")])
def test_udp_fragmentation_gives_the_t1_of_the_unanswered_request(tmp_path, t1, estimate, failed) -> None:
    """The large INVITE is lost when its Timer B ran out: the finding gives the T1 its retransmissions show, and
    the failure names it where it is not the configured one (as call.invite-timeout does)."""
    (f,) = _rule(_large_invite_unanswered(tmp_path / "big.pcap", t1), "router.udp-fragmentation")
    assert (f.evidence["trigger"], f.evidence["failed"], f.evidence["t1_estimate_s"]) == (
        "large-fails-small-works", [failed], estimate)
    ru = "INVITE кадр 3 без ответа (таймер B, T1 = 1 с по интервалам переотправки)"
    assert (ru in f.engineer_text["ru"]) == (t1 == 1.0)


def test_udp_fragmentation_without_an_unanswered_request_has_no_t1(tmp_path) -> None:
    """A large INVITE answered 486: only at risk (d), judged by no timer."""
    invite = cc.sip_message("INVITE sip:200@example.com SIP/2.0", "big-1", "1 INVITE", src=cc.UA, to_tag=False,
                            body=cc.SDP.format(ip=cc.UA[0], port=cc.UA_RTP) + "a=x-pad:" + "p" * 1200 + "\n")
    path = cc.write_sip(tmp_path / "busy.pcap", [
        (0.0, invite, cc.UA, cc.PBX),
        (0.1, cc.sip_message("SIP/2.0 486 Busy Here", "big-1", "1 INVITE", src=cc.UA), cc.PBX, cc.UA)])
    (f,) = _rule(path, "router.udp-fragmentation")
    assert (f.evidence["trigger"], f.evidence["failed"], f.evidence["t1_estimate_s"]) == (
        "large-unfragmented", [], None)


def _refresh_unanswered(path, sends: tuple[float, ...], status: int | None = None):
    """An answered call with Session-Expires 90 s (refresher uac) whose refresh re-INVITE at 45 s is sent at 45 s +
    `sends` and never answered (or answered `status`), then the callee's BYE at 60.3 s."""
    s = cc.call_setup(Script(), "st-1", offer_extra="Supported: timer\nSession-Expires: 90\n",
                      answer_extra="Require: timer\nSession-Expires: 90;refresher=uac\n")
    cc.two_way(s, 0.4, 59.7)
    refresh = cc.sip_message("INVITE sip:200@203.0.113.5 SIP/2.0", "st-1", "2 INVITE", src=cc.UA, branch="re1",
                             extra="Session-Expires: 90;refresher=uac\n")
    for at in sends:
        s.sip(45.0 + at, refresh, cc.UA, cc.PBX)
    if status is not None:
        s.sip(45.0 + sends[-1] + 0.1, cc.sip_message(f"SIP/2.0 {status} Call Leg Does Not Exist", "st-1",
                                                      "2 INVITE", src=cc.UA, branch="re1"), cc.PBX, cc.UA)
    return cc.bye(s, 60.3, "st-1", from_callee=True).write(path)


@pytest.mark.parametrize(("sends", "status", "estimate"), [
    (timer_schedule(1.0)[:5], None, 1.0),  # 0, 1, 3, 7, 15 s: its sender's T1 is 1 s
    (timer_schedule(0.5)[:5], None, 0.5),
    ((0.0,), 481, None)])  # refused, not timed out
def test_session_timer_expiry_gives_the_t1_of_the_failed_refresh(tmp_path, sends, status, estimate) -> None:
    (f,) = _rule(_refresh_unanswered(tmp_path / "st.pcap", sends, status), "call.session-timer-expiry")
    assert (f.evidence["case"], f.evidence["t1_estimate_s"]) == ("refresh-failed", estimate)


def _bye_unanswered(path, t1: float):
    """An answered call from a phone behind a NAT (binding 198.51.100.7:34567, Contact 192.168.1.10:5060) whose
    PBX sends its BYE to the private Contact on the Timer E schedule of `t1` (capped at T2 = 4 s) until Timer F,
    unanswered: call.in-dialog-request-misrouted."""
    natted = ("198.51.100.7", 34567)
    s = Script()
    s.sip(0, cc.sip_message("INVITE sip:200@example.com SIP/2.0", "mr-1", "1 INVITE", src=natted, to_tag=False,
                            body=cc.SDP.format(ip="192.168.1.10", port=cc.UA_RTP),
                            contact="<sip:100@192.168.1.10:5060>"), natted, cc.PBX)
    s.sip(0.3, cc.sip_message("SIP/2.0 200 OK", "mr-1", "1 INVITE", src=natted,
                              body=cc.SDP.format(ip=cc.PBX[0], port=cc.PBX_RTP)), cc.PBX, natted)
    s.sip(0.31, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "mr-1", "1 ACK", src=natted, branch="a1"),
          natted, cc.PBX)
    bye = cc.sip_message("BYE sip:100@192.168.1.10:5060 SIP/2.0", "mr-1", "1 BYE", src=cc.PBX, branch="bye1",
                         caller_first=False)
    for at in timer_schedule(t1, cap=4.0):
        s.sip(5.5 + at, bye, cc.PBX, ("192.168.1.10", 5060))
    return s.write(path)


@pytest.mark.parametrize(("t1", "outcome", "estimate"), [
    (1.0, "no response (17 retransmissions)", 1.0), (0.5, "no response (10 retransmissions)", 0.5)])
def test_a_misrouted_request_gives_the_t1_it_timed_out_by(tmp_path, t1, outcome, estimate) -> None:
    (f,) = _rule(_bye_unanswered(tmp_path / "mr.pcap", t1), "call.in-dialog-request-misrouted")
    assert (f.evidence["method"], f.evidence["why"], f.evidence["outcome"], f.evidence["t1_estimate_s"]) == (
        "BYE", "private", outcome, estimate)


def _invite_to_an_idle_binding(path, t1: float):
    """A phone registered from its NAT binding 198.51.100.20:40000 at 0 s (200 OK), then 60 s idle, the PBX's
    INVITE to that binding sent on the Timer A schedule of `t1` and never answered (the mapping expired):
    router.nat-binding-timeout (2). The capture ends 64.5*T1 after the INVITE."""
    binding = (cc.NAT_WAN, 40000)
    via = f"SIP/2.0/UDP {cc.PHONE_LAN[0]}:5060;branch=z9hG4bKrf0;rport"
    register = cc.via_sip_message("REGISTER sip:example.com SIP/2.0", via=via, call_id="rf-1", cseq="1 REGISTER",
                                  contact=f"<sip:100@{cc.PHONE_LAN[0]}:5060>", extra_headers="Expires: 300\n")
    ok = cc.via_sip_message("SIP/2.0 200 OK", via=f"{via}=40000;received={cc.NAT_WAN}", call_id="rf-1",
                            cseq="1 REGISTER", to_tag="r9", contact=f"<sip:100@{cc.PHONE_LAN[0]}:5060>;expires=300")
    s = Script().sip(0.0, register, binding, cc.PBX).sip(0.02, ok, cc.PBX, binding)
    invite = cc.sip_message(f"INVITE sip:100@{cc.NAT_WAN}:40000 SIP/2.0", "in-1", "1 INVITE", src=cc.PBX,
                            to_tag=False, to_user="100", body=cc.SDP.format(ip=cc.PBX[0], port=cc.PBX_RTP))
    for at in timer_schedule(t1):
        s.sip(60.0 + at, invite, cc.PBX, binding)
    s.sip(60.0 + 64.5 * t1, cc.sip_message("OPTIONS sip:pbx@example.com SIP/2.0", "ka-end", "1 OPTIONS",
                                           src=("192.0.2.50", 5060), to_tag=False, branch="kaend"),
          ("192.0.2.50", 5060), cc.PBX)
    return s.write(path)


@pytest.mark.parametrize("t1", [1.0, 0.5])
def test_nat_binding_timeout_gives_the_t1_of_the_unanswered_invite(tmp_path, t1) -> None:
    """The INVITE's call timed out by Timer B of the INVITE's own T1 (sipdiag.dialogs): the finding gives it. The
    REGISTER case is judged by no timer: None."""
    (f,) = _rule(_invite_to_an_idle_binding(tmp_path / "idle.pcap", t1), "router.nat-binding-timeout")
    assert (f.call_id, f.evidence["new_binding"], f.evidence["expired_after_s"], f.evidence["t1_estimate_s"]) == (
        "in-1", "none", 60.0, t1)
    moved = cc.register_refreshes(tmp_path / "moved.pcap", at_s=(0, 30, 90), ports=(40000, 40000, 41000))
    (f,) = _rule(moved, "router.nat-binding-timeout")
    assert (f.evidence["new_binding"], f.evidence["t1_estimate_s"]) == (f"{cc.NAT_WAN}:41000", None)


NUMBER, TARGET = "4955550100", "4955550199"  # the dialled number and the 302's Contact


def _redirected(path, t1: float, follow_after: float | None):
    """An INVITE to NUMBER sent on the Timer A schedule of `t1` three times (0, T1, 3*T1), then 302 with Contact
    TARGET and the ACK; follow_after: a new call (another Call-ID, as a B2BUA sends it) from the same caller to
    TARGET that many seconds after the 302, answered; None: none (the capture runs on 100 s)."""
    s = Script()
    invite = cc.sip_message(f"INVITE sip:{NUMBER}@example.com SIP/2.0", "redir-1", "1 INVITE", src=cc.UA,
                            to_tag=False, to_user=NUMBER)
    for at in timer_schedule(t1)[:3]:
        s.sip(at, invite, cc.UA, cc.PBX)
    moved = 3 * t1 + 0.1
    s.sip(moved, cc.sip_message("SIP/2.0 302 Moved Temporarily", "redir-1", "1 INVITE", src=cc.UA, to_user=NUMBER,
                                contact=f"<sip:{TARGET}@gw.example.net>"), cc.PBX, cc.UA)
    s.sip(moved + 0.01, cc.sip_message(f"ACK sip:{NUMBER}@example.com SIP/2.0", "redir-1", "1 ACK", src=cc.UA,
                                       to_user=NUMBER), cc.UA, cc.PBX)
    if follow_after is None:
        s.sip(100.0, cc.sip_message("OPTIONS sip:x@example.com SIP/2.0", "other-1", "1 OPTIONS", src=cc.UA,
                                    to_tag=False, branch="opt"), cc.UA, cc.PBX)
        return s.write(path)
    at = moved + follow_after
    for dt, start, method, to_tag, src, dst, cseq in (
            (0.0, f"INVITE sip:{TARGET}@gw.example.net SIP/2.0", "INVITE", False, cc.UA, cc.PBX, 1),
            (0.3, "SIP/2.0 200 OK", "INVITE", True, cc.PBX, cc.UA, 1),
            (0.31, f"ACK sip:{TARGET}@gw.example.net SIP/2.0", "ACK", True, cc.UA, cc.PBX, 1),
            (5.0, f"BYE sip:{TARGET}@gw.example.net SIP/2.0", "BYE", True, cc.UA, cc.PBX, 2),
            (5.01, "SIP/2.0 200 OK", "BYE", True, cc.PBX, cc.UA, 2)):
        s.sip(at + dt, cc.sip_message(start, "redir-2", f"{cseq} {method}", src=cc.UA, to_tag=to_tag,
                                      branch=f"r2{method}", to_user=TARGET), src, dst)
    return s.write(path)


@pytest.mark.parametrize(("t1", "follow_after", "estimate"), [
    (1.0, None, 1.0), (0.5, None, 0.5),
    (0.5, 40.0, 0.5)])  # 40 s after the 302 is past 64*T1 = 32 s: not taken for the redirect's retry
def test_an_unfollowed_redirect_gives_the_callers_t1(tmp_path, t1, follow_after, estimate) -> None:
    (f,) = _rule(_redirected(tmp_path / "redir.pcap", t1, follow_after), "call.failure-response")
    assert (f.call_id, f.severity.label, f.evidence["status"], f.evidence["redirect_to"],
            f.evidence["t1_estimate_s"]) == ("redir-1", "info", 302, f"sip:{TARGET}@gw.example.net", estimate)


def test_a_redirect_is_followed_within_64_t1_of_the_callers_own_t1(tmp_path) -> None:
    """A caller at T1 = 1 s (its INVITE retransmitted at 1 and 3 s) waits up to 64 s for its new INVITE: a new call
    to the Contact 40 s after the 302 followed it. Before, the window was 64*T1 of the configured T1 (32 s) and
    the redirect was reported as not followed."""
    assert _rule(_redirected(tmp_path / "slow.pcap", 1.0, 40.0), "call.failure-response") == []


def _refused_after_retransmissions(t1: float, end: float) -> list:
    """A REGISTER challenged 401, its credentials sent on the Timer E schedule of `t1` three times (0, T1, 3*T1
    after 0.1 s) before the registrar refuses them with a new challenge; then nothing from the phone but an
    OPTIONS at `end` s."""
    from tests.integration.test_auth_refused_once import answer, keepalive, request

    sends = tuple(0.1 + at for at in timer_schedule(t1)[:3])
    return ([request(0.0, 1), answer(0.05, 1, "401 Unauthorized", cc.challenge("100n1"))]
            + [request(at, 2, auth=cc.credentials("100n1")) for at in sends]
            + [answer(sends[-1] + 0.05, 2, "401 Unauthorized", cc.challenge("100n2")), keepalive(end)])


@pytest.mark.parametrize(("t1", "stopped"), [(1.0, False), (0.5, True)])
def test_credentials_refused_once_are_judged_by_the_phones_own_timer_f(tmp_path, t1, stopped) -> None:
    """The capture goes on 40 s after the refusal without a REGISTER: past the phone's Timer F (64*T1 = 32 s) when
    its retransmissions show T1 = 0.5 s, so it stopped (RFC 3261 §22.2); not yet when they show T1 = 1 s (Timer F
    at 64 s), which the texts then say as "the capture ends". Before, 64*T1 was the configured T1's whatever the
    phone showed. The finding gives the T1 its retransmissions show."""
    msgs = _refused_after_retransmissions(t1, 0.0)
    refused_at = msgs[-2][0]
    msgs[-1] = (refused_at + 40.0,) + msgs[-1][1:]
    path = cc.write_sip(tmp_path / "refused.pcap", sorted(msgs, key=lambda m: m[0]))
    (f,) = _rule(path, "reg.auth-loop")
    trigger = ("refused once; then the device sent no REGISTER for this AOR in the 40.0 s the capture goes on"
               if stopped else "refused once; the capture ends 40.0 s after it")
    assert (f.confidence, f.evidence["loop"], f.evidence["stopped"], f.evidence["trigger"],
            f.evidence["t1_estimate_s"]) == ("medium", False, stopped, trigger, t1)


def test_an_auth_loop_is_judged_by_no_timer(tmp_path) -> None:
    """Three refusals within 60 s, the last one's credentials retransmitted at T1 = 1 s: a loop by RULES.md's
    window, which no timer judges: no T1 in its evidence."""
    from tests.integration.test_auth_refused_once import answer, request

    msgs = _refused_after_retransmissions(1.0, 50.0)[:-1]
    msgs += [m for k in (1, 2) for m in (request(k * 20.0, 2 * k + 2, auth=cc.credentials(f"100n{k + 1}")),
                                         answer(k * 20.0 + 0.05, 2 * k + 2, "401 Unauthorized",
                                                cc.challenge(f"100n{k + 2}")))]
    (f,) = _rule(cc.write_sip(tmp_path / "loop.pcap", sorted(msgs, key=lambda m: m[0])), "reg.auth-loop")
    assert (f.evidence["loop"], f.evidence["trigger"], f.evidence["t1_estimate_s"]) == (
        True, "3 refusals within 60 s", None)
