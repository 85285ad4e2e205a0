"""The rule engine and its first rules (issue 6, started): each rule fires on a lab capture made by real means and
stays silent on the clean call and the others; exit codes follow --fail-on; every rule is documented in full and
has its texts in English and Russian."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag.checks import LANGUAGES, REQUIRED_SECTIONS, all_rules, selected
from sipdiag.cli import cli
from tests.conftest import SAMPLES

# rule -> (capture where it fires, severity, key evidence)
FIRES = {
    "call.ack-timeout-32s": ("ack_dropped.pcap", "major", {"retransmissions": 10, "bye_after_s": 32.0,
                                                           "ended_by": "callee", "ok_frame": 6}),
    "call.invite-timeout": ("invite_timeout.pcap", "major", {"sends": 7, "span_s": 31.5, "final": "none"}),
    "media.one-way-audio": ("nat_one_way_audio.pcap", "major", {"missing": "callee->caller",
                                                                "unreachable_target": "192.168.1.10:6000"}),
    "media.packet-loss": ("rtp_loss.pcap", "major", {"lost": 7, "expected": 150, "loss_pct": 4.7,
                                                     "direction": "caller->callee"}),
}
CLEAN = ("clean_call.pcap", "nat_symmetric_rtp.pcap", "busy_486.pcap", "cancelled_487.pcap", "register_ok.pcap",
         "dtmf_rfc4733.pcap", "sip_over_tcp.pcap")


@pytest.mark.parametrize("rule", sorted(FIRES))
def test_rule_fires_with_its_evidence(rule: str) -> None:
    capture, severity, evidence = FIRES[rule]
    findings = [f for f in sipdiag.analyze(SAMPLES / capture).findings if f.rule == rule]
    assert len(findings) == 1
    (f,) = findings
    assert f.severity.label == severity
    assert {k: f.evidence[k] for k in evidence} == evidence
    assert f.frames and f.call_id
    for lang in LANGUAGES:
        assert "{" not in f.customer_text[lang] and "{" not in f.engineer_text[lang]


@pytest.mark.parametrize("capture", CLEAN)
def test_no_finding_above_info_on_working_captures(capture: str) -> None:
    assert [(f.rule, f.severity.label) for f in sipdiag.analyze(SAMPLES / capture).findings
            if f.severity > 0] == []


@pytest.mark.parametrize("rule", sorted(FIRES))
def test_rule_stays_silent_where_its_fault_is_absent(rule: str) -> None:
    for capture, *_ in (v for k, v in FIRES.items() if k != rule):
        assert rule not in [f.rule for f in sipdiag.analyze(SAMPLES / capture).findings], capture


def test_every_rule_is_documented_and_bilingual() -> None:
    rules = all_rules()
    assert len({r.id for r in rules}) == len(rules) >= 4
    for r in rules:
        assert set(r.sections()) >= set(REQUIRED_SECTIONS), r.id
        assert all(r.sections()[s] for s in REQUIRED_SECTIONS), r.id
        assert set(r.customer) == set(r.engineer) == set(LANGUAGES), r.id
        assert r.id.split(".", 1)[0] in ("call", "reg", r.category), r.id


def test_selection_by_id_prefix_and_category() -> None:
    assert selected("media.packet-loss", select=("media",))
    assert selected("call.ack-timeout-32s", select=("signaling",))
    assert not selected("media.packet-loss", select=("media",), ignore=("media.packet-loss",))
    assert not selected("media.packet-loss", select=("call",))
    only = sipdiag.analyze(SAMPLES / "rtp_loss.pcap", ignore=("media",)).findings
    assert only == ()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, check=False)


def test_exit_codes_follow_fail_on() -> None:
    assert run("analyze", str(SAMPLES / "ack_dropped.pcap")).returncode == 1
    assert run("analyze", str(SAMPLES / "ack_dropped.pcap"), "--fail-on", "critical").returncode == 0
    assert run("analyze", str(SAMPLES / "rtp_loss.pcap"), "--ignore", "media.packet-loss").returncode == 0
    assert run("analyze", str(SAMPLES / "clean_call.pcap")).returncode == 0


def test_findings_in_json_and_russian_terminal_text() -> None:
    result = run("analyze", str(SAMPLES / "ack_dropped.pcap"), "--format", "json")
    (f,) = json.loads(result.stdout)["findings"]
    assert (f["rule"], f["category"], f["severity"], f["owner"], f["call_id"]) == (
        "call.ack-timeout-32s", "signaling", "major", "engineering", "ack_dropped-1@sdlab")
    assert f["evidence"]["frames"][:2] == [6, 61] and f["evidence"]["retransmissions"] == 10
    assert set(f["customer_text"]) == {"en", "ru"}
    ru = run("analyze", str(SAMPLES / "ack_dropped.pcap"), "--lang", "ru").stdout.decode()
    assert "Ваши принятые звонки обрываются примерно через 30 секунд" in ru


def test_rules_list_and_explain() -> None:
    out = CliRunner().invoke(cli, ["rules"]).output.splitlines()
    assert out[0].split()[:4] == ["call.ack-timeout-32s", "signaling", "major", "engineering"]
    explained = CliRunner().invoke(cli, ["rules", "explain", "call.invite-timeout"]).output
    assert "What it detects" in explained and "RFC 3261 §17.1.1.2" in explained
    missing = CliRunner().invoke(cli, ["rules", "explain", "nope"])
    assert missing.exit_code == 2 and "Error: no rule 'nope'" in missing.output
