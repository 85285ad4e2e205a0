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
from sipdiag.checks import ID_PREFIXES, LANGUAGES, REQUIRED_SECTIONS, Hit, all_rules, selected
from sipdiag.cli import cli
from tests.conftest import SAMPLES, validate_json_document

# rule -> (capture where it fires, severity, key evidence)
FIRES = {
    "call.ack-timeout-32s": ("ack_dropped.pcap", "major", {"retransmissions": 10, "bye_after_s": 32.0,
                                                           "ended_by": "callee", "ok_frame": 6}),
    "call.invite-timeout": ("invite_timeout.pcap", "major", {"sends": 7, "span_s": 31.5, "final": "none"}),
    "media.one-way-audio": ("nat_one_way_audio.pcap", "major", {"missing": "callee->caller",
                                                                "unreachable_target": "192.168.1.10:6000"}),
    "media.packet-loss": ("rtp_loss.pcap", "major", {"lost": 7, "expected": 150, "loss_pct": 4.7,
                                                     "direction": "caller->callee"}),
    "nat.private-contact": ("nat_symmetric_rtp.pcap", "minor", {"contact_host": "192.168.1.10",
                                                                "source": "203.0.113.2:5060"}),
    "codec.no-common-codec": ("codec_rejected_488.pcap", "major", {"status": 488}),
    "codec.answer-format-issues": ("answer_codec_not_offered.pcap", "major", {"clauses": "a", "rtp_pts": "0, 8"}),
    "reg.rejected": ("register_wrong_password.pcap", "critical", {"status": 403, "challenges": 1, "attempts": 2}),
    "alg.sdp-rewritten-inconsistently": ("sip_alg_rewrite.pcap", "major", {"source": "203.0.113.2",
                                                                           "sdp_address": "192.168.1.10"}),
    "router.udp-fragmentation": ("fragmented_invite_dropped.pcap", "major",
                                 {"count": 1, "trigger": "fragmented-unanswered"}),
    # probing only, nothing accepted from the scanner: info (RULES.md "major if followed by successful auth")
    "sec.scanner-detected": ("sipvicious_scan.pcap", "info", {"requests": 12, "agents": "friendly-scanner",
                                                              "source": "203.0.113.20"}),
    "router.icmp-unreachable": ("rtp_port_unreachable.pcap", "major", {"count": 7, "kind": "RTP",
                                                                       "reporter": "203.0.113.10"}),
    "reg.no-response": ("register_no_response.pcap", "critical", {"sends": 11}),
    "sec.bruteforce-auth": ("register_bruteforce.pcap", "major", {"failures": 10, "rate": 10.0}),
    "reg.binding-churn": ("nat_port_churn.pcap", "major", {"changes": 1, "upper_bound_s": 35.0}),
}
CLEAN = ("clean_call.pcap", "busy_486.pcap", "cancelled_487.pcap", "register_ok.pcap",
         "dtmf_rfc4733.pcap", "sip_over_tcp.pcap")


@pytest.mark.parametrize("rule", sorted(FIRES))
def test_rule_fires_with_its_evidence(rule: str) -> None:
    capture, severity, evidence = FIRES[rule]
    findings = [f for f in sipdiag.analyze(SAMPLES / capture).findings if f.rule == rule]
    assert len(findings) == 1
    (f,) = findings
    assert f.severity.label == severity
    assert {k: f.evidence[k] for k in evidence} == evidence
    assert f.frames
    assert (f.call_id is None) == (f.category in ("registration", "security"))
    for lang in LANGUAGES:
        assert "{" not in f.customer_text[lang] and "{" not in f.engineer_text[lang]


@pytest.mark.parametrize("capture", CLEAN)
def test_no_finding_above_info_on_working_captures(capture: str) -> None:
    assert [(f.rule, f.severity.label) for f in sipdiag.analyze(SAMPLES / capture).findings
            if f.severity > 0] == []


def test_every_rule_is_documented_and_bilingual() -> None:
    rules = all_rules()
    assert len({r.id for r in rules}) == len(rules) >= 17
    for r in rules:
        assert set(r.sections()) >= set(REQUIRED_SECTIONS), r.id
        assert all(r.sections()[s] for s in REQUIRED_SECTIONS), r.id
        assert set(r.customer) == set(r.engineer) == set(LANGUAGES), r.id
        assert r.id.split(".", 1)[0] in (*ID_PREFIXES, r.category), r.id


def test_a_hit_may_override_the_owner_with_one_of_the_json_contracts() -> None:
    # ARCHITECTURE.md findings[].owner: customer, first-line, engineering, security (a queue name is none of them)
    assert Hit(None, (), {}, owner="engineering").owner == "engineering"
    with pytest.raises(ValueError, match="unknown owner 'network'"):
        Hit(None, (), {}, owner="network")


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
    (f,) = validate_json_document(result.stdout)["findings"]
    assert (f["rule"], f["category"], f["severity"], f["owner"], f["call_id"]) == (
        "call.ack-timeout-32s", "signaling", "major", "engineering", "ack_dropped-1@sdlab")
    assert f["evidence"]["frames"][:2] == [6, 61] and f["evidence"]["retransmissions"] == 10
    assert set(f["customer_text"]) == {"en", "ru"}
    ru = run("analyze", str(SAMPLES / "ack_dropped.pcap"), "--lang", "ru").stdout.decode()
    assert "Ваши принятые звонки обрываются примерно через 30 секунд" in ru


def test_rules_list_and_explain() -> None:
    out = CliRunner().invoke(cli, ["rules"]).output.splitlines()
    assert [line.split()[:4] for line in out[:2]] == [
        ["alg.content-length-mismatch", "router", "major", "customer"],
        ["alg.message-modified-in-transit", "router", "major", "customer"]]
    explained = CliRunner().invoke(cli, ["rules", "explain", "call.invite-timeout"]).output
    assert "What it detects" in explained and "RFC 3261 §17.1.1.2" in explained
    missing = CliRunner().invoke(cli, ["rules", "explain", "nope"])
    assert missing.exit_code == 2 and "Error: no rule 'nope'" in missing.output


MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())


@pytest.mark.parametrize("entry", MANIFEST["captures"], ids=[c["file"] for c in MANIFEST["captures"]])
def test_categories_equal_the_manifest(entry: dict) -> None:
    """The lab's ground truth: each category it names is reported, none it excludes is above info."""
    findings = sipdiag.analyze(SAMPLES / entry["file"]).findings
    assert set(entry["categories_present"]) <= {f.category for f in findings}
    assert not set(entry["categories_absent"]) & {f.category for f in findings if f.severity > 0}


def test_private_sdp_address_is_major_when_the_audio_was_lost() -> None:
    one_way = [f for f in sipdiag.analyze(SAMPLES / "nat_one_way_audio.pcap").findings
               if f.rule == "nat.private-sdp-address"]
    latched = [f for f in sipdiag.analyze(SAMPLES / "nat_symmetric_rtp.pcap").findings
               if f.rule == "nat.private-sdp-address"]
    assert [(f.severity.label, f.evidence["address"], f.evidence["role"]) for f in one_way] == [
        ("major", "192.168.1.10", "caller")]
    # the c= address and the m= port as the SDP gives them, not "c= ip:port" (ambiguous for an IPv6 address)
    assert "has c= 192.168.1.10 (private), m= port 6000, while" in one_way[0].engineer_text["en"]
    assert "указывает c= 192.168.1.10 (частный), порт m= 6000, а" in one_way[0].engineer_text["ru"]
    assert [f.severity.label for f in latched] == ["minor"]


def test_corpus_attacks_and_registration_failures(corpus) -> None:
    def rules(name: str) -> list[tuple[str, str]]:
        return sorted((f.rule, f.severity.label) for f in sipdiag.analyze(corpus / "pcaps" / name).findings)

    # ten friendly-scanner sources sending OPTIONS, nothing accepted: one info finding each
    assert rules("initconf-sip-attacks/BadUserAgent-sipvicious.pcap") == [("sec.scanner-detected", "info")] * 10
    brute = sipdiag.analyze(corpus / "pcaps" / "initconf-sip-attacks" / "SIP-Bruteforce-Single-IP.pcap").findings
    # 441 REGISTERs that carried credentials (Authorization) refused, for 86 user names, from one source; the
    # credential-less first REGISTERs their 401 challenges answer are no failed authentication (RFC 3261 §22)
    assert [(f.rule, f.evidence["source"], f.evidence["failures"], f.evidence["users"]) for f in brute[:1]] == [
        ("sec.bruteforce-auth", "199.105.226.32", 441, 86)]
    # its user names are extensions 10..54 in turn: a sweep, found by behaviour (tests/corpus/test_corpus_scanners.py)
    assert [(f.rule, f.severity.label, f.evidence["trigger"]) for f in brute[1:]] == [
        ("sec.scanner-detected", "info", "sequential")]
    aaa = [f for f in sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "aaa.pcap").findings
           if f.category == "registration"]
    # voi18063's credentials are refused (403, then 401) and nothing is accepted for the rest of the capture: an
    # auth loop (tests/integration/test_rules_codec_reg.py has its evidence); voi18062's de-registration is refused.
    assert [(f.rule, f.evidence["aor"], f.evidence["status"]) for f in aaa] == [
        ("reg.auth-loop", "sip:voi18063@sip.cybercity.dk", 401),
        ("reg.rejected", "sip:voi18062@sip.cybercity.dk", 401)]


def test_built_captures_for_faults_the_lab_does_not_make(tmp_path) -> None:
    from tests import callcapture

    def found(path):
        return sorted((f.rule, f.severity.label) for f in sipdiag.analyze(path).findings)

    assert found(callcapture.answered_call(tmp_path / "ok.pcap")) == []
    silent = callcapture.answered_call(tmp_path / "silent.pcap", rtp=False)
    # A capture without a single RTP packet says nothing about the sound of its one call: information, not
    # "there was no sound at all" as a critical fact (a signalling-only capture, RULES.md §0.2).
    assert found(silent) == [("media.no-rtp", "info")]
    # 1 in 6 lost: 16.7 %, over 12 s (a quality verdict needs media.min_media_for_verdict_s of media)
    lossy = callcapture.answered_call(tmp_path / "lossy.pcap", seconds=12, drop_every=6)
    (mos,) = [f for f in sipdiag.analyze(lossy).findings if f.rule == "media.low-mos"]
    # 16.6 % random loss on G.711 with concealment: R 53.6 (below 60: major), MOS 2.76, loss the main factor.
    assert (mos.severity.label, mos.evidence["direction"], mos.evidence["r_factor"], mos.evidence["mos"]) == (
        "major", "caller->callee", 53.6, 2.76)
    # the customer reads the cause in words, the engineer keeps the factor's name
    assert (mos.evidence["main_cause_en"], mos.evidence["main_factor"]) == (
        "The main cause is sound packets lost on the way.", "loss")
    assert "Главная причина: потеря пакетов звука по пути." in mos.customer_text["ru"]
    assert ("media.packet-loss", "critical") in found(lossy)
    (reg,) = sipdiag.analyze(callcapture.unanswered_register(tmp_path / "reg.pcap")).findings
    assert (reg.rule, reg.severity.label, reg.evidence["sends"], reg.evidence["registrar"]) == (
        "reg.no-response", "critical", 11, "203.0.113.5:5060")


def test_failure_responses_are_classified(corpus) -> None:
    busy = sipdiag.analyze(SAMPLES / "busy_486.pcap").findings
    assert [(f.rule, f.severity.label, f.evidence["status"], f.evidence["meaning_en"]) for f in busy] == [
        ("call.failure-response", "info", 486, "the callee was busy")]
    aaa = [f for f in sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "aaa.pcap").findings
           if f.rule == "call.failure-response"]
    assert sorted((f.severity.label, f.evidence["status"]) for f in aaa) == [
        ("minor", 403), ("minor", 403), ("minor", 480)]
    assert "not registered" in next(f for f in aaa if f.evidence["status"] == 480).engineer_text["en"]
