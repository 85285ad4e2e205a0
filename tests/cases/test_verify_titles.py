"""A verification compares problems as the reply groups findings: by rule and title (and final status for
call.failure-response), not by rule alone.

call.ack-timeout-32s names 64*T1 of each call's UAS in its title: a capture with one UAS at T1 = 1 s (torn down
after 64 s) and one at the default 0.5 s (after 32 s) holds two problems. Fixed for the first only, the
verification said the rule "persisting" under the 32 s title, counting both calls before: the engineer could not
see that the 64 s teardown was gone (sipdiag.cases.compare)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sipdiag.cases import CaseStore
from sipdiag.cases.compare import compare
from sipdiag.cases.messages import verification_message
from sipdiag.cli import cli
from tests import callcapture as cc

RULE = "call.ack-timeout-32s"
TITLE = "Answered call torn down about {} s after answer: the ACK never arrived"
TEXT = ("Your answered calls are cut off after about {} seconds. After a call is answered your equipment must "
        "confirm it, and that confirmation does not reach us, so the call is ended automatically.")


def teardowns(path: Path, *t1s: float) -> Path:
    """One call per T1 given, 80 s apart, each answered and its 200 OK never acknowledged: the UAS retransmits it
    on its own T1's schedule and ends the call with BYE 64*T1 after it (RFC 3261 §13.3.1.4)."""
    script = cc.Script()
    for n, t1 in enumerate(t1s):
        cc.ack_never_arrives_in(script, t1, call_id=f"noack-{n}", start=80.0 * n, branch=f"c{n}")
    return script.write(path)


def test_the_64_s_teardown_gone_and_the_32_s_one_left(tmp_path: Path) -> None:
    with CaseStore(str(tmp_path / "cases.db")) as cases:
        before = cases.file("T-1", teardowns(tmp_path / "before.pcap", 1.0, 0.5))
        assert [(f["rule"], f["title"]) for f in before.summary["findings"] if f["severity"] != "info"] == [
            (RULE, TITLE.format(64)), (RULE, TITLE.format(32))]
        v = cases.verify("T-1", teardowns(tmp_path / "after.pcap", 0.5))
    c = v.comparison
    assert (c.outcome, c.new, c.unverified) == ("not-resolved", (), ())
    assert [(r.rule, r.title, r.severity_before, r.severity_after, r.count_before, r.count_after, r.category,
             r.status) for r in c.resolved + c.persisting] == [
        (RULE, TITLE.format(64), "major", None, 1, 0, "signaling", None),
        (RULE, TITLE.format(32), "major", "major", 1, 1, "signaling", None)]
    # each with its own text: the customer is told of the calls cut after about 30 seconds, not 60
    assert c.resolved[0].customer_text["en"].startswith(TEXT.format(60))
    assert c.persisting[0].customer_text["en"].startswith(TEXT.format(30))
    assert verification_message(v).splitlines()[2:4] == [
        "We have checked your service again after the change. Unfortunately the problem is still there:",
        "- " + TEXT.format(30).split(". ")[0] + "."]


def test_verify_names_each_title_on_the_command_line_and_in_json(tmp_path: Path) -> None:
    store = str(tmp_path / "cases.db")
    runner = CliRunner()
    filed = runner.invoke(cli, ["analyze", str(teardowns(tmp_path / "before.pcap", 1.0, 0.5)), "--ticket", "T-1",
                                "--store", store, "--format", "json", "-o", str(tmp_path / "before.json")])
    assert filed.exit_code == 1, filed.output  # major findings
    after = teardowns(tmp_path / "after.pcap", 0.5)
    r = runner.invoke(cli, ["verify", "T-1", str(after), "--store", store])
    assert r.exit_code == 1, r.output
    assert r.output.splitlines()[:5] == [
        "Ticket T-1: verification #2 against analysis #1: NOT RESOLVED (problems: major and above)",
        "  resolved   call.ack-timeout-32s               before major    x1  after -        x0",
        "             " + TITLE.format(64),
        "  persisting call.ack-timeout-32s               before major    x1  after major    x1",
        "             " + TITLE.format(32)]
    r = runner.invoke(cli, ["verify", "T-1", str(after), "--store", store, "--format", "json"])
    doc = json.loads(r.output)
    texts = [doc[k][0].pop("customer_text")["en"] for k in ("resolved", "persisting")]
    assert [t[:len(TEXT.format(60))] for t in texts] == [TEXT.format(60), TEXT.format(30)]
    assert (doc["resolved"], doc["persisting"], doc["new"], doc["unverified"]) == (
        [{"rule": RULE, "title": TITLE.format(64), "severity_before": "major", "severity_after": None,
          "count_before": 1, "count_after": 0, "category": "signaling", "status": None}],
        [{"rule": RULE, "title": TITLE.format(32), "severity_before": "major", "severity_after": "major",
          "count_before": 1, "count_after": 1, "category": "signaling", "status": None}], [], [])


def test_a_rule_of_one_title_is_shown_as_before(tmp_path: Path) -> None:
    """The 32 s teardown alone on both sides: one line, no title under it."""
    store = str(tmp_path / "cases.db")
    runner = CliRunner()
    capture = teardowns(tmp_path / "std.pcap", 0.5)
    assert runner.invoke(cli, ["analyze", str(capture), "--ticket", "T-2", "--store", store,
                               "-o", str(tmp_path / "std.txt")]).exit_code == 1
    r = runner.invoke(cli, ["verify", "T-2", str(capture), "--store", store])
    assert r.output.splitlines()[1:3] == [
        "  persisting call.ack-timeout-32s               before major    x1  after major    x1",
        "  figure                 before     after"]


def finding(rule: str, title: str, status: int | None = None, severity: str = "major") -> dict:
    return {"rule": rule, "category": "signaling", "severity": severity, "title": title,
            "evidence": {"frames": [1], **({"status": status} if status is not None else {})},
            "customer_text": {"en": f"{title} {status}. More.", "ru": f"{title} {status}. Ещё."}}


def summary(*findings: dict) -> dict:
    return {"figures": {"calls": 2, "answered": 0, "streams": 0, "registrations": 0}, "findings": list(findings)}


def test_problems_are_keyed_as_the_reply_groups_them() -> None:
    """call.failure-response by final status (a 403 is the account, a 480 the callee: problemkeys.SPLIT_BY_STATUS);
    reg.auth-loop by title (a loop, a single refusal). A rule under one title whose findings moved to another is
    the first resolved and the second new: the outcome is what it was (not resolved)."""
    fail = "Call set-up failed with an error response"
    loop, once = ("Registration stuck in a digest authentication loop",
                  "Registration refused: digest credentials not accepted")
    c = compare(summary(finding("call.failure-response", fail, 403), finding("call.failure-response", fail, 480),
                        finding("reg.auth-loop", loop, severity="critical")),
                summary(finding("call.failure-response", fail, 480), finding("call.failure-response", fail, 480),
                        finding("reg.auth-loop", once, severity="critical")), "minor")

    def shown(items: tuple) -> list:
        return [(r.rule, r.status, r.title, r.count_before, r.count_after, r.customer_text["en"]) for r in items]

    assert (c.outcome, shown(c.resolved), shown(c.persisting), shown(c.new)) == (
        "not-resolved",
        [("call.failure-response", 403, fail, 1, 0, f"{fail} 403. More."),
         ("reg.auth-loop", None, loop, 1, 0, f"{loop} None. More.")],
        [("call.failure-response", 480, fail, 1, 2, f"{fail} 480. More.")],
        [("reg.auth-loop", None, once, 0, 1, f"{once} None. More.")])
