"""sec.scanner-detected on real attack captures (initconf-sip-attacks): a sweep of consecutive extensions is found
by behaviour (one finding, medium confidence); scanners that name themselves keep the one signature finding (high
confidence), with no behaviour finding beside it; a fraud source that keeps calling the same 20 gateways is no
sweep (sec.bruteforce-auth and sec.toll-fraud-attempt report it)."""

from __future__ import annotations

import pytest

import sipdiag

pytestmark = [pytest.mark.corpus]


def scans(corpus, name: str) -> list:
    path = corpus / "pcaps" / "initconf-sip-attacks" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    return [f for f in sipdiag.analyze(path).findings if f.rule == "sec.scanner-detected"]


def test_a_register_sweep_of_45_consecutive_extensions_is_found_by_behaviour(corpus) -> None:
    """SIP-Bruteforce-Single-IP: 'Cisco v11.0.0' REGISTERs for 10..54, each tried in bursts every ~30 min."""
    (f,) = scans(corpus, "SIP-Bruteforce-Single-IP.pcap")
    assert (f.severity.label, f.confidence) == ("info", "medium")
    assert {k: v for k, v in f.evidence.items() if k != "device"} == {
        "source": "199.105.226.32", "trigger": "sequential", "requests": 913, "methods": "REGISTER", "users": 45,
        "destinations": 2, "window_s": 30728.1, "sample": ["10", "11", "13", "16", "14", "17", "19", "23", "22", "25"],
        "sequential": 45, "bare_ip": 913, "responses": {"401": 800, "403": 41, "none": 72},
        "enumeration_leak": False, "accepted": 0, "registered": False, "frame": 1}


def test_self_named_scanners_keep_the_signature_finding_alone(corpus) -> None:
    (f,) = scans(corpus, "BadUserAgent-sipvicious.pcap")
    assert (f.severity.label, f.confidence, f.evidence["requests"], f.evidence["agents"]) == (
        "major", "high", 25, "friendly-scanner")
    (f,) = scans(corpus, "SIP-3700-unauthorized-401.pcap")
    assert (f.severity.label, f.confidence, f.evidence["requests"], f.evidence["agents"]) == (
        "major", "high", 17, "sipcli/v1.8")


def test_a_fraud_source_retrying_the_same_gateways_is_no_sweep(corpus) -> None:
    assert scans(corpus, "SIP-212.32.250.134.pcap") == []
