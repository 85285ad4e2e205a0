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
from tests.callcapture import ack_never_arrives, timer_schedule, unanswered_invite

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
