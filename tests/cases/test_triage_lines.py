"""Triage of a customer whose own phone cannot sign in ("my phone won't register"): a line down raises the priority
even when no finding above info names it, and only a sign-in that failed for good counts (sipdiag.cases.lines): not a
refused sign-out, not a sign-in the capture's end cut short, not an attacker's REGISTERs (tests/cases/
test_triage_attacks.py, test_case_settings.py).

A capture whose only failure is credentials refused once used to get P4, "nothing above info was found": the phone
sends the digest once, is refused, and as RFC 3261 §22.2 asks does not send the same credentials again; reg.rejected
leaves a refused digest to reg.auth-loop, which needed sip.auth_loop_attempts (3) refusals. The line down then made
it P1 with no finding naming the cause; reg.auth-loop now reports credentials refused once (medium confidence), the
main cause. A challenge the phone never answers (no password set) still has no finding: the line down sets the
priority alone. A refused REGISTER (403) or one never answered for Timer F do get a critical finding (reg.rejected,
reg.no-response) and were P1 already."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from sipdiag.casecli import filing_line
from sipdiag.cases import CaseStore
from sipdiag.cases.summary import summarize
from sipdiag.cases.triage import triage
from sipdiag.checks.settings import merged
from tests import callcapture as cc

PHONE, REGISTRAR = ("198.51.100.7", 40000), ("203.0.113.5", 5060)  # the phone (10.0.0.5) behind a NAT
INFO = [("nat.port-translated", "info"), ("nat.via-address-mismatch", "info")]  # the NAT, no fault
FIRST_LINE = ("queue first-line: check the phone's account and provisioning with the customer (registrar address, "
              "user name, password)")


def sign_in(user: str = "100", *, at: float = 0.0, password: str | None = "wrong", call_id: str = "reg-b1",
            cseq: int = 1) -> list:
    """A REGISTER for sip:<user>@example.com challenged 401; with `password`, answered with credentials that are
    refused 401 again (a new challenge, not stale), and the phone stops there."""
    contact = f"sip:{user}@10.0.0.5:5060"
    kw = {"user": user, "call_id": call_id}
    out = [(at, cc.register_text(cseq, f"{call_id}a", contact=contact, **kw), PHONE, REGISTRAR),
           (at + 0.05, cc.register_response(cseq, f"{call_id}a", "401 Unauthorized", headers=cc.challenge("n1"), **kw),
            REGISTRAR, PHONE)]
    if password is not None:
        auth = cc.credentials("n1", user=user)
        out += [(at + 0.1, cc.register_text(cseq + 1, f"{call_id}b", contact=contact, auth=auth, **kw), PHONE,
                 REGISTRAR),
                (at + 0.15, cc.register_response(cseq + 1, f"{call_id}b", "401 Unauthorized",
                                                 headers=cc.challenge("n2"), **kw), REGISTRAR, PHONE)]
    return out


def registered(user: str = "101", at: float = 0.5) -> list:
    kw = {"user": user, "call_id": f"ok-{user}"}
    return [(at, cc.register_text(1, f"ok{user}", contact=f"sip:{user}@10.0.0.5:5060", **kw), PHONE, REGISTRAR),
            (at + 0.05, cc.register_response(1, f"ok{user}", "200 OK", headers=f"Contact: <sip:{user}@10.0.0.5:5060>"
                                             ";expires=300\n", **kw), REGISTRAR, PHONE)]


def triaged(path: Path, settings=None) -> tuple:
    a = sipdiag.analyze(path, settings=settings)
    summary = summarize(a)
    t = triage(summary)
    return ([(f.rule, f.severity.label) for f in a.findings],
            {k: summary["figures"].get(k) for k in ("registrations", "registrations_failed", "lines", "lines_down")},
            (t.category, t.rule, t.priority, t.queue), t.reason)


def never_answered(at: float = 0.0) -> list:
    """A phone with no password set: its REGISTER challenged 401, never answered with credentials, and again 40 s
    later (the first challenge left for more than Timer F: a line down that no rule names)."""
    return sign_in(password=None, at=at) + sign_in(password=None, at=at + 40.0, cseq=2)


AUTH_LOOP_MAIN = ("main cause reg.auth-loop (critical, owner first-line); critical finding -> P1; queue first-line: "
                  "owner first-line: an instruction to the customer or a provisioning change")


def test_credentials_refused_once_is_the_customers_line_down(tmp_path: Path) -> None:
    """The phone's credentials refused once and nothing more (the capture ends): reg.auth-loop names the line down
    as the main cause; it was "registration down, no finding names the cause"."""
    path = cc.write_sip(tmp_path / "refused-once.pcap", sign_in())
    assert triaged(path) == (
        [("reg.auth-loop", "critical"), *INFO], {"registrations": 1, "registrations_failed": 1, "lines": 1,
                                                 "lines_down": 1},
        ("registration", "reg.auth-loop", "P1", "first-line"), AUTH_LOOP_MAIN)
    with CaseStore(str(tmp_path / "cases.db")) as cases:
        assert filing_line(cases.file("T-9", path)) == ("Filed under T-9 as filing #1: P1, queue first-line, "
                                                        "main cause reg.auth-loop")


def test_a_line_down_no_finding_names(tmp_path: Path) -> None:
    path = cc.write_sip(tmp_path / "never.pcap", never_answered())
    assert triaged(path) == (
        INFO, {"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 1},
        ("registration", None, "P1", "first-line"),
        "no finding above info; registration down: the customer can make or take no call -> P1; " + FIRST_LINE)
    with CaseStore(str(tmp_path / "cases.db")) as cases:
        assert filing_line(cases.file("T-9", path)) == ("Filed under T-9 as filing #1: P1, queue first-line, "
                                                        "registration down, no finding names the cause")


def test_one_line_of_two_down_is_p2(tmp_path: Path) -> None:
    path = cc.write_sip(tmp_path / "one-of-two.pcap", registered() + never_answered(at=1.0))
    assert triaged(path) == (
        INFO, {"registrations": 2, "registrations_failed": 1, "lines": 2, "lines_down": 1},
        ("registration", None, "P2", "first-line"),
        "no finding above info; registration down for 1 of 2 lines: those make or take no call -> P2; " + FIRST_LINE)
    # the other line's credentials refused instead: a critical finding names it, P1 as for any
    refused = cc.write_sip(tmp_path / "refused-of-two.pcap", registered() + sign_in(at=1.0))
    assert triaged(refused) == (
        [("reg.auth-loop", "critical"), *INFO], {"registrations": 2, "registrations_failed": 1, "lines": 2,
                                                 "lines_down": 1},
        ("registration", "reg.auth-loop", "P1", "first-line"), AUTH_LOOP_MAIN)


def test_a_challenge_the_phone_never_answers(tmp_path: Path) -> None:
    """REGISTER -> 401, and the phone sends no credentials (no password set): a new REGISTER 40 s later is challenged
    again. Left for Timer F (64*T1: 32 s) the challenge is a line down; a capture that ends right after it shows the
    first step of a normal sign-in; with T1 at 1 s (sip.t1_default_ms, a --config) Timer F is 64 s, so 40 s is still
    under way: the summary judges by the analysis' thresholds."""
    never = cc.write_sip(tmp_path / "never.pcap", sign_in(password=None) + sign_in(password=None, at=40.0, cseq=2))
    assert triaged(never)[1:3] == ({"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 1},
                                   ("registration", None, "P1", "first-line"))
    waiting = ({"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 0},
               (None, None, "P4", "first-line"))
    assert triaged(never, merged({"sip": {"t1_default_ms": 1000}}))[1:3] == waiting
    cut = cc.write_sip(tmp_path / "cut.pcap", sign_in(password=None))
    assert triaged(cut)[1:3] == waiting


def challenged(at: float, cseq: int, t1: float) -> list:
    """A REGISTER without credentials sent at `at` and again T1 later (Timer E: the phone's T1 shows in that gap,
    RFC 3261 §17.1.2.2), challenged 401 just after; each with its own branch, as a phone sends a new REGISTER."""
    kw = {"user": "100", "call_id": "reg-slow"}
    text = cc.register_text(cseq, f"slow{cseq}", contact="sip:100@10.0.0.5:5060", **kw)
    return [(at, text, PHONE, REGISTRAR), (at + t1, text, PHONE, REGISTRAR),
            (at + t1 + 0.05, cc.register_response(cseq, f"slow{cseq}", "401 Unauthorized", headers=cc.challenge("n1"),
                                                  **kw), REGISTRAR, PHONE)]


def test_a_phone_at_t1_one_second_has_64_s_to_answer_its_challenge(tmp_path: Path) -> None:
    """The phone's REGISTERs are retransmitted 1 s after they were sent: its T1 is 1 s (RULES.md §0.5, T1_est), its
    Timer F 64 s, and 40 s after the challenge it may still answer it: its sign-in is under way, no line down, as
    the rules judge a challenge left (reg.auth-loop: sipdiag.checks.regfailures.timer_f_of). The line used to be
    down by the configured T1's 32 s, P1 for a phone no rule found a fault with. Retransmitted after 0.5 s, the
    same 40 s are more than its Timer F: down."""
    slow = cc.write_sip(tmp_path / "slow.pcap", challenged(0.0, 1, 1.0) + challenged(40.0, 2, 1.0))
    assert triaged(slow) == (
        INFO, {"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 0},
        (None, None, "P4", "first-line"),
        "nothing above info was found: the capture shows no fault; ask for a capture of a failing call, or close")
    assert summarize(sipdiag.analyze(slow))["line_states"] == {"sip:100@example.com": "pending"}
    standard = cc.write_sip(tmp_path / "standard.pcap", challenged(0.0, 1, 0.5) + challenged(40.0, 2, 0.5))
    assert triaged(standard)[1:3] == ({"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 1},
                                      ("registration", None, "P1", "first-line"))


def test_an_unanswered_register_counts_once_its_transaction_gave_up(tmp_path: Path) -> None:
    """Five sends in 7.5 s and the capture ends: the REGISTER is still waiting (reg.no-response waits for Timer F
    too). Eleven sends over 31.5 s: reg.no-response, critical, P1 as before, and the line is down."""
    text = cc.register_text(1, "u")
    short = cc.write_sip(tmp_path / "short.pcap", [(t, text, PHONE, REGISTRAR) for t in (0, 0.5, 1.5, 3.5, 7.5)])
    assert triaged(short) == (
        INFO, {"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 0},
        (None, None, "P4", "first-line"),
        "nothing above info was found: the capture shows no fault; ask for a capture of a failing call, or close")
    lost = cc.unanswered_register(tmp_path / "lost.pcap")
    assert triaged(lost)[:3] == ([("reg.no-response", "critical")],
                                 {"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 1},
                                 ("registration", "reg.no-response", "P1", "engineering"))


def test_a_refused_sign_out_is_no_registration_down(tmp_path: Path) -> None:
    """The phone signs in, then its de-registration (expires 0) is refused 403: the binding stays until it expires
    (RFC 3261 §10.2.2), the phone still works. reg.rejected reports it at minor; it used to make a P1 "registration
    down" of the capture, for its registration ended refused."""
    out = cc.register_text(2, "out", expires=0)
    path = cc.write_sip(tmp_path / "sign-out.pcap", registered("100", at=0.0) + [
        (10.0, out.replace("Call-ID: reg-b1", "Call-ID: ok-100"), PHONE, REGISTRAR),
        (10.05, cc.register_response(2, "out", "403 Forbidden", call_id="ok-100"), REGISTRAR, PHONE)])
    assert triaged(path) == (
        [("reg.rejected", "minor"), *INFO],
        {"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 0},
        ("registration", "reg.rejected", "P3", "first-line"),
        "main cause reg.rejected (minor, owner first-line); minor problem on every call -> P3; queue first-line: owner "
        "first-line: an instruction to the customer or a provisioning change")


def test_a_line_down_beside_a_minor_call_problem(tmp_path: Path) -> None:
    """A call with 2 % loss (media.packet-loss, minor, on the one call: P3) and, during it, the phone's challenge
    never answered: the line down makes it P1, and the registration is what to act on (a call's loss cannot explain
    it): first line's, not the engineers' the loss alone would go to. Its credentials refused instead, reg.auth-loop
    is the main cause."""
    def beside_the_call(name: str, register: list) -> Path:
        records = [(int(at * cc.S), cc.frame(text, src, dst)) for at, text, src, dst in register]
        return cc.answered_call(tmp_path / name, drop_every=50, extra=tuple(records))

    figures = {"registrations": 1, "registrations_failed": 1, "lines": 1, "lines_down": 1}
    assert triaged(beside_the_call("call.pcap", never_answered(at=1.0))) == (
        [("media.packet-loss", "minor"), *INFO], figures, ("registration", None, "P1", "first-line"),
        "the main finding media.packet-loss (minor) is a call's; registration down: the customer can make or take no "
        "call -> P1; " + FIRST_LINE)
    assert triaged(beside_the_call("refused.pcap", sign_in(at=1.0))) == (
        [("reg.auth-loop", "critical"), ("media.packet-loss", "minor"), *INFO], figures,
        ("registration", "reg.auth-loop", "P1", "first-line"), AUTH_LOOP_MAIN)
    alone = cc.answered_call(tmp_path / "loss.pcap", drop_every=50)
    assert triaged(alone)[2] == ("media", "media.packet-loss", "P3", "engineering")
