"""Causes first (RULES.md §2, sipdiag.checks.causes): each symptom is linked to the finding that most likely explains
it, the call's NAT observations are folded into that cause, and the reports show causes with their symptoms under
them."""

from __future__ import annotations

import io

from click.testing import CliRunner

import sipdiag
from sipdiag.checks import Finding, Severity
from sipdiag.checks.causes import CAUSES, correlate
from sipdiag.cli import cli
from sipdiag.reports import render
from tests import causecapture
from tests.conftest import SAMPLES, validate_json_document


def rules(findings) -> list[tuple[str, int | None, tuple[int, ...]]]:
    return [(f.rule, f.cause, f.explains) for f in findings]


def test_private_sdp_address_explains_the_one_way_audio(tmp_path) -> None:
    findings = sipdiag.analyze(causecapture.private_sdp_one_way_call(tmp_path / "ow.pcap")).findings
    # nat.media-source-mismatch (the reply audio was not latched either) is a second cause of the same call
    assert rules(findings) == [("nat.private-sdp-address", None, (1,)), ("media.one-way-audio", 0, ()),
                               ("nat.media-source-mismatch", None, ()), ("media.rtcp-issues", None, ())]
    cause, symptom, _, _ = findings
    assert (cause.severity.label, cause.evidence["address"], symptom.evidence["unreachable_target"]) == (
        "major", "192.168.1.20", "192.168.1.20:40000")
    # The private Contact of the same call is folded into the cause instead of standing as its own finding.
    assert [(o["rule"], o["frames"], o.get("contact_host") or o.get("sent_by"))
            for o in cause.evidence["nat_observations"]] == [
        ("nat.private-contact", [1], "192.168.1.20"), ("nat.via-address-mismatch", [1, 3, 1604], "192.168.1.20:5060")]


def test_sip_alg_explains_the_drop_at_32_s(tmp_path) -> None:
    findings = sipdiag.analyze(causecapture.alg_call_dropped_at_32s(tmp_path / "alg.pcap")).findings
    assert rules(findings) == [("alg.sdp-rewritten-inconsistently", None, (1,)),
                               ("call.ack-timeout-32s", 0, ()),
                               ("nat.private-sdp-address", None, ()),  # the media was latched: no symptom
                               ("media.rtcp-issues", None, ()), ("nat.media-source-mismatch", None, ())]
    assert findings[1].evidence["bye_after_s"] == 32.0


def test_precedence_alg_before_nat_and_lab_samples() -> None:
    # RULES.md §2: a SIP ALG fingerprint wins over the NAT gap it leaves behind (both fired for the one-way audio).
    # The capture's 1 s of one-way media makes the symptom an information finding; the link holds all the same.
    alg = sipdiag.analyze(SAMPLES / "sip_alg_rewrite.pcap").findings
    assert rules(alg) == [("alg.sdp-rewritten-inconsistently", None, (3,)), ("nat.media-source-mismatch", None, ()),
                          ("nat.private-sdp-address", None, ()), ("media.one-way-audio", 0, ())]
    assert (alg[3].severity.label, alg[3].confidence, alg[3].evidence["one_way_s"]) == ("info", "low", 1.0)
    # Fragments of a large INVITE dropped: the INVITE timeout is the symptom.
    frag = sipdiag.analyze(SAMPLES / "fragmented_invite_dropped.pcap").findings
    assert rules(frag) == [("router.udp-fragmentation", None, (1,)), ("call.invite-timeout", 0, ())]
    # No symptom, no cause: NAT observations of a call whose audio flowed stay where they are.
    latched = sipdiag.analyze(SAMPLES / "nat_symmetric_rtp.pcap").findings
    assert rules(latched) == [("nat.private-contact", None, ()), ("nat.private-sdp-address", None, ()),
                              ("nat.via-address-mismatch", None, ()), ("nat.media-source-mismatch", None, ())]


def finding(rule: str, call_id: str | None = "c1", severity: Severity = Severity.MAJOR, confidence: str = "high",
            **evidence) -> Finding:
    return Finding(rule=rule, category=rule.split(".")[0], severity=severity, owner="engineering", title=rule,
                   call_id=call_id, frames=(1,), evidence=evidence, customer_text={}, engineer_text={},
                   confidence=confidence)


def test_correlation_rules_on_plain_findings() -> None:
    # Negotiation failures explain no audio before network rules (§2 point 2), whatever the order they come in.
    out = correlate([finding("media.no-rtp"), finding("alg.sdp-rewritten-inconsistently"),
                     finding("codec.rtp-payload-not-negotiated")])
    assert rules(out)[0] == ("media.no-rtp", 2, ())
    # Quality chain: low MOS <- packet loss <- QoS marking (§2 point 3).
    out = correlate([finding("media.low-mos"), finding("media.packet-loss"), finding("qos.dscp-marking",
                                                                                      severity=Severity.MINOR)])
    assert rules(out) == [("media.low-mos", 1, ()), ("media.packet-loss", 2, (0,)), ("qos.dscp-marking", None, (1,))]
    # Only the same call, or capture-wide causes.
    out = correlate([finding("media.one-way-audio", "c1"), finding("nat.private-sdp-address", "c2"),
                     finding("router.icmp-unreachable", None)])
    assert rules(out) == [("media.one-way-audio", 2, ()), ("nat.private-sdp-address", None, ()),
                          ("router.icmp-unreachable", None, (0,))]
    # Registration symptoms are tied to causes of the same AOR.
    out = correlate([finding("reg.no-response", None, aor="sip:100@example.com"),
                     finding("router.nat-binding-timeout", None, aor="sip:100@example.com"),
                     finding("reg.interval-too-brief", None, aor="sip:999@example.com")])
    assert rules(out)[0] == ("reg.no-response", 1, ())
    # A finding grouping a phone's lines (sipdiag.checks.registration) is tied to causes of any of its AORs.
    out = correlate([finding("reg.no-response", None, aor="sip:100@example.com",
                             aors=["sip:100@example.com", "sip:101@example.com"]),
                     finding("router.nat-binding-timeout", None, aor="sip:101@example.com")])
    assert rules(out) == [("reg.no-response", 1, ()), ("router.nat-binding-timeout", None, (0,))]
    # A private Contact explains an unanswered INVITE only as the callee's registration, not as the call's own.
    out = correlate([finding("call.invite-timeout"), finding("nat.private-contact", severity=Severity.MINOR)])
    assert rules(out)[0] == ("call.invite-timeout", None, ())

    class Call:
        call_id, caller, callee = "c1", "100@example.com", "200@example.com"

    class Capture:
        calls = (Call,)

    out = correlate([finding("call.invite-timeout"), finding("nat.private-contact", None, Severity.MINOR,
                                                             aor="sip:200@example.com")], Capture)
    assert rules(out)[0] == ("call.invite-timeout", 1, ())
    # An escalated NAT observation is a finding in its own right and is not folded.
    out = correlate([finding("media.one-way-audio"), finding("nat.private-sdp-address"),
                     finding("nat.private-contact", severity=Severity.MAJOR)])
    assert [f.rule for f in out] == ["media.one-way-audio", "nat.private-sdp-address", "nat.private-contact"]


def test_the_table_names_the_catalog_symptoms_and_future_rules() -> None:
    assert {"call.ack-timeout-32s", "media.one-way-audio", "media.no-rtp", "reg.no-response", "call.invite-timeout",
            "call.session-timer-expiry", "media.low-mos"} <= set(CAUSES)
    assert "alg.*" in CAUSES["call.ack-timeout-32s"] and "nat.no-rport-response-lost" in CAUSES["call.ack-timeout-32s"]


def test_terminal_shows_causes_first_with_symptoms_under_them(tmp_path) -> None:
    analysis = sipdiag.analyze(causecapture.alg_call_dropped_at_32s(tmp_path / "alg.pcap"))
    out = io.StringIO()
    render(analysis, "terminal", out)
    lines = [line for line in out.getvalue().splitlines() if "alg." in line or "call.ack" in line
             or "nat.private-sdp" in line]
    heads = [line for line in lines if line.lstrip().startswith(("MAJOR", "MINOR", "└─"))]
    assert heads[0].startswith("MAJOR    alg.sdp-rewritten-inconsistently")
    assert heads[1].startswith("    └─ explains MAJOR    call.ack-timeout-32s")
    assert heads[2].startswith("MINOR    nat.private-sdp-address")
    one_way = io.StringIO()
    render(sipdiag.analyze(causecapture.private_sdp_one_way_call(tmp_path / "ow.pcap")), "terminal", one_way)
    text = one_way.getvalue()
    assert text.index("nat.private-sdp-address") < text.index("└─ explains MAJOR    media.one-way-audio")
    assert "Also seen: nat.private-contact (frames 1)" in text


def test_json_records_carry_the_links(tmp_path) -> None:
    path = causecapture.alg_call_dropped_at_32s(tmp_path / "alg.pcap")
    result = CliRunner().invoke(cli, ["analyze", str(path), "--format", "json", "--call", "#1"])
    doc = validate_json_document(result.output)
    assert doc["schema"] == "sipdiag.analysis/1"
    assert [(r["index"], r["rule"], r["cause"], r["explains"]) for r in doc["findings"]] == [
        (0, "alg.sdp-rewritten-inconsistently", None, [1]), (1, "call.ack-timeout-32s", 0, []),
        (2, "nat.private-sdp-address", None, []), (3, "media.rtcp-issues", None, []),
        (4, "nat.media-source-mismatch", None, [])]


def test_attack_sources_are_read_as_hosts_also_at_the_end_of_a_cut_list() -> None:
    """sec.scanner-detected quotes at most ten sources and ends a longer list with ' ...'; the tenth was read as
    '5.6.7.8 ...' and its calls were not linked to the attack. IPv6 sources come without brackets, as
    `address_host` gives a caller's address."""
    from types import SimpleNamespace

    from sipdiag.checks.causes import _attack_sources

    scanner = SimpleNamespace(evidence={"sources": "192.0.2.1, 2001:db8::1, 198.51.100.9 ..."})
    assert _attack_sources(scanner) == {"192.0.2.1", "2001:db8::1", "198.51.100.9"}
    guesser = SimpleNamespace(evidence={"source": "203.0.113.5"})
    assert _attack_sources(guesser) == {"203.0.113.5"}
