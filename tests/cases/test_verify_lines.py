"""A verification compares the customer's lines too: a line that could not sign in and still cannot is not fixed.

It compared by findings only: a phone that never answers its challenge (no finding above info; triage's
"registration down", P1) and still does after the fix "passed", and the customer was told the problem was gone.
A line down before and signed in after is resolved; down before and not signing in at all after is unverified; down
only after is new (sipdiag.cases.compare)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sipdiag.cases import CaseStore
from sipdiag.cases.compare import LineChange, compare
from sipdiag.cases.messages import verification_message
from tests import callcapture as cc
from tests.cases.test_triage_lines import registered, sign_in
from tests.conftest import SAMPLES

LINE = "sip:100@example.com"
OTHER = "sip:101@example.com"


def refused(tmp_path: Path, name: str, user: str = "100") -> Path:
    """A phone with no password set: its REGISTER challenged and never answered with credentials, then again 40 s
    later (sipdiag.cases.lines: down once Timer F passed), and no finding above info. (Credentials refused once
    were such a line before reg.auth-loop named that case.)"""
    return cc.write_sip(tmp_path / name, sign_in(user, password=None, call_id=f"reg-{name}")
                        + sign_in(user, password=None, at=40.0, cseq=2, call_id=f"reg-{name}"))


def lines(v) -> tuple:
    c = v.comparison
    return (c.outcome, v.passed, c.lines_resolved, c.lines_persisting, c.lines_new, c.lines_unverified)


def test_a_line_still_down_is_not_fixed(store_url: str, tmp_path: Path) -> None:
    with CaseStore(store_url) as cases:
        before = cases.file("T-1", refused(tmp_path, "before.pcap"))
        assert (before.triage.priority, before.summary["line_states"]) == ("P1", {LINE: "down"})
        v = cases.verify("T-1", refused(tmp_path, "after.pcap"))
        assert lines(v) == ("not-resolved", False, (), (LineChange(LINE, "down", "down"),), (), ())
        assert v.comparison.persisting == v.comparison.new == ()  # no finding above info on either side
        case = cases.show("T-1")
        assert (case.status, case.priority) == ("reopened", "P1")
        assert case.filings[-1].verdict["lines"] == {
            "resolved": [], "persisting": [{"line": LINE, "before": "down", "after": "down"}], "new": [],
            "unverified": []}
    assert verification_message(v, queue=case.queue, priority=case.priority).splitlines()[2:7] == [
        "We have checked your service again after the change. Unfortunately the problem is still there:",
        "- Your phone still cannot sign in to our network, so it can make or take no call.",
        "",
        "We have passed your ticket T-1 to our support team with priority P1; they will contact you with the next "
        "step.",
        ""]
    assert verification_message(v, lang="ru").splitlines()[3] == (
        "- Ваш телефон по-прежнему не может зарегистрироваться в нашей сети, поэтому не может ни звонить, ни "
        "принимать звонки.")


def test_a_line_down_before_and_up_after_is_fixed(store_url: str, tmp_path: Path) -> None:
    with CaseStore(store_url) as cases:
        cases.file("T-2", refused(tmp_path, "before.pcap"))
        v = cases.verify("T-2", cc.write_sip(tmp_path / "after.pcap", registered("100", at=0.0)))
        assert lines(v) == ("resolved", True, (LineChange(LINE, "down", "up"),), (), (), ())
        assert cases.show("T-2").status == "resolved"
    assert verification_message(v).splitlines()[2:8] == [
        "We have checked your service again after the change. The problem we found earlier is gone:",
        "- Your phone could not sign in to our network, so it could make or take no call.",
        "",
        "What is better now:",
        "- your phone registers with our network",
        ""]


def test_a_capture_where_the_line_does_not_sign_in_cannot_show_it_fixed(store_url: str, tmp_path: Path) -> None:
    """A call only, or the phone's sign-in only begun (a challenge the capture ends on): not verified, the ticket
    keeps its status and priority, and the customer is asked to record again."""
    with CaseStore(store_url) as cases:
        cases.file("T-3", refused(tmp_path, "before.pcap"))
        v = cases.verify("T-3", SAMPLES / "clean_call.pcap")
        assert lines(v) == ("not-verified", False, (), (), (), (LineChange(LINE, "down", "absent"),))
        assert v.comparison.missing == {"en": "registration of the phone", "ru": "регистрации телефона"}
        begun = cc.write_sip(tmp_path / "begun.pcap", sign_in(password=None))
        w = cases.verify("T-3", begun)
        assert lines(w) == ("not-verified", False, (), (), (), (LineChange(LINE, "down", "pending"),))
        case = cases.show("T-3")
        assert (case.status, case.priority) == ("open", "P1")
    assert verification_message(v).splitlines()[2:4] == [
        "We have checked the new recording, but it cannot show whether the problem is fixed: it holds no "
        "registration of the phone. The problem we are checking:",
        "- Your phone could not sign in to our network, so it could make or take no call."]


def test_a_line_down_after_only_is_new(store_url: str, tmp_path: Path) -> None:
    """Line 100 signed in before; after, it does and line 101 cannot: 101 is new, the verification fails."""
    with CaseStore(store_url) as cases:
        cases.file("T-4", cc.write_sip(tmp_path / "before.pcap", registered("100", at=0.0)))
        after = cc.write_sip(tmp_path / "after.pcap", registered("100", at=0.0)
                             + sign_in("101", at=1.0, password=None, call_id="reg-101")
                             + sign_in("101", at=41.0, password=None, cseq=2, call_id="reg-101"))
        v = cases.verify("T-4", after)
        assert lines(v) == ("not-resolved", False, (), (), (LineChange(OTHER, "absent", "down"),), ())
        assert cases.show("T-4").status == "reopened"
    assert verification_message(v).splitlines()[2:6] == [
        "We have checked your service again after the change. Unfortunately the problem is still there:",
        "",
        "We also found something new:",
        "- A phone line of yours cannot sign in to our network now, so it can make or take no call."]


def test_one_line_fixed_and_another_down_is_not_resolved(tmp_path: Path) -> None:
    with CaseStore(str(tmp_path / "cases.db")) as cases:
        cases.file("T-5", refused(tmp_path, "before.pcap"))
        after = cc.write_sip(tmp_path / "after.pcap", registered("100", at=0.0)
                             + sign_in("101", at=1.0, password=None, call_id="reg-101")
                             + sign_in("101", at=41.0, password=None, cseq=2, call_id="reg-101"))
        v = cases.verify("T-5", after)
        assert lines(v) == ("not-resolved", False, (LineChange(LINE, "down", "up"),), (),
                            (LineChange(OTHER, "absent", "down"),), ())


def finding(rule: str, category: str, severity: str = "critical") -> dict:
    return {"rule": rule, "category": category, "severity": severity, "title": rule,
            "customer_text": {"en": f"{rule} text. More.", "ru": f"{rule} текст. Ещё."}}


def summary(states: dict | None, down: int | None = None, findings: tuple = ()) -> dict:
    figures = {"calls": 0, "answered": 0, "streams": 0, "registrations": 2, "registrations_failed": 2}
    if down is not None:
        figures |= {"lines": 2, "lines_down": down}
    out = {"figures": figures, "findings": list(findings)}
    if states is not None:
        out["line_states"] = states
    return out


@pytest.mark.parametrize("before, after, expected", [
    # line by line
    (summary({LINE: "down", OTHER: "up"}, 1), summary({LINE: "down", OTHER: "down"}, 2),
     ("not-resolved", (), ((LINE, "down", "down"),), ((OTHER, "up", "down"),), ())),
    (summary({LINE: "down", OTHER: "down"}, 2), summary({LINE: "up"}, 0),
     ("not-verified", ((LINE, "down", "up"),), (), (), ((OTHER, "down", "absent"),))),
    # a filing made before line states were kept: by the counts of lines down
    (summary(None, 1), summary({LINE: "down"}, 1), ("not-resolved", (), ((None, "down", "down"),), (), ())),
    (summary(None, 1), summary({LINE: "up"}, 0), ("resolved", ((None, "down", "up"),), (), (), ())),
    (summary(None, 1), summary({LINE: "pending"}, 0), ("not-verified", (), (), (), ((None, "down", "absent"),))),
    (summary(None, 0), summary({LINE: "down"}, 1), ("not-resolved", (), (), ((None, "absent", "down"),), ())),
    # older still (no count of lines down: its failed registrations were not all lines down): findings only
    (summary(None), summary({LINE: "down"}, 1), ("resolved", (), (), (), ())),
])
def test_lines_compared(before: dict, after: dict, expected: tuple) -> None:
    c = compare(before, after)

    def shown(items: tuple) -> tuple:
        return tuple((x.line, x.before, x.after) for x in items)

    assert (c.outcome, shown(c.lines_resolved), shown(c.lines_persisting), shown(c.lines_new),
            shown(c.lines_unverified)) == expected
    assert c.figures["lines_down"] == (before["figures"].get("lines_down"), after["figures"]["lines_down"])


def test_a_line_is_a_problem_whatever_fail_on_says() -> None:
    assert compare(summary({LINE: "down"}, 1), summary({LINE: "down"}, 1), "critical").outcome == "not-resolved"
    assert compare(summary({LINE: "down"}, 1), summary({LINE: "down"}, 1), "never").outcome == "not-resolved"


def test_a_registration_finding_tells_of_the_line_already(tmp_path: Path) -> None:
    """A refused REGISTER (reg.rejected, critical) persisting: its text tells the customer; the line is not said
    twice. With no registration finding the line's sentence stands alone (test_a_line_still_down_is_not_fixed)."""
    from sipdiag.cases.store import Filing, Verification
    from sipdiag.cases.triage import Triage

    before = summary({LINE: "down"}, 1, (finding("reg.rejected", "registration"),))
    c = compare(before, before)
    assert [(r.rule, r.category) for r in c.persisting] == [("reg.rejected", "registration")]
    t = Triage("registration", "reg.rejected", "P1", "first-line", "", 0, 0)
    filing = Filing(2, "T-6", "verification", "0" * 64, "x.pcap", None, "", before, t)
    v = Verification(filing, filing, c, c.passed, "major")
    assert verification_message(v).splitlines()[2:5] == [
        "We have checked your service again after the change. Unfortunately the problem is still there:",
        "- reg.rejected text.", ""]


def sipdiag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_verify_on_the_command_line(tmp_path: Path) -> None:
    store = str(tmp_path / "cases.db")
    assert sipdiag("analyze", str(refused(tmp_path, "before.pcap")), "--ticket", "T-1", "--store",
                   store).returncode == 0  # no finding at or above major: the exit code is the findings'
    r = sipdiag("verify", "T-1", str(refused(tmp_path, "after.pcap")), "--store", store)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines()[:2] == [
        "Ticket T-1: verification #2 against analysis #1: NOT RESOLVED (problems: major and above)",
        "  persisting line sip:100@example.com           before down         after down"]
    assert "  lines_down             1          1" in r.stdout.splitlines()
    r = sipdiag("verify", "T-1", str(refused(tmp_path, "again.pcap")), "--store", store, "--format", "json")
    doc = json.loads(r.stdout)
    assert (r.returncode, doc["outcome"], doc["passed"], doc["persisting"]) == (1, "not-resolved", False, [])
    assert doc["lines"]["persisting"] == [{"line": LINE, "before": "down", "after": "down"}]
    assert doc["figures"]["lines_down"] == {"before": 1, "after": 1}
    fixed = cc.write_sip(tmp_path / "fixed.pcap", registered("100", at=0.0))
    r = sipdiag("verify", "T-1", str(fixed), "--store", store)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[:2] == [
        "Ticket T-1: verification #4 against analysis #1: RESOLVED (problems: major and above)",
        "  resolved   line sip:100@example.com           before down         after up"]


def test_a_line_name_from_the_wire_is_shown_escaped(tmp_path: Path) -> None:
    """The AOR is the phone's own text: a control sequence in it reaches the terminal escaped."""
    store = str(tmp_path / "cases.db")
    evil = "1\x1b[2J"
    records = [(at, text.replace("sip:100@example.com", f"sip:{evil}@example.com"), src, dst)
               for at, text, src, dst in sign_in(call_id="reg-evil")]
    path = cc.write_sip(tmp_path / "evil.pcap", records)
    sipdiag("analyze", str(path), "--ticket", "T-9", "--store", store)
    r = sipdiag("verify", "T-9", str(path), "--store", store)
    assert "\x1b" not in r.stdout
    assert "  persisting line sip:1\\x1b[2J@example.com" in r.stdout
