"""sec.scanner-detected on real attack captures (initconf-sip-attacks): a sweep of consecutive extensions is found
by behaviour (one finding, medium confidence); scanners that name themselves keep the signature finding (high
confidence, one per source), with no behaviour finding beside it; a fraud source that keeps calling the same 20
gateways is no sweep (sec.bruteforce-auth and sec.toll-fraud-attempt report it)."""

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
    """One signature finding per source, info: none of the sources got a 2xx to a REGISTER or INVITE."""
    assert [(f.severity.label, f.confidence, f.evidence["source"], f.evidence["requests"], f.frames[:3],
             f.evidence["agents"]) for f in scans(corpus, "BadUserAgent-sipvicious.pcap")] == [
        ("info", "high", "27.53.138.51", 4, (1, 6, 17), "friendly-scanner"),
        ("info", "high", "7.17.254.188", 3, (2, 9, 19), "friendly-scanner"),
        ("info", "high", "167.39.178.78", 2, (3, 18), "friendly-scanner"),
        ("info", "high", "7.17.254.165", 8, (4, 5, 10), "friendly-scanner"),
        ("info", "high", "167.39.178.73", 3, (7, 11, 14), "friendly-scanner"),
        ("info", "high", "171.217.27.159", 1, (8,), "friendly-scanner"),
        ("info", "high", "75.225.19.2", 1, (20,), "friendly-scanner"),
        ("info", "high", "207.236.89.0", 1, (22,), "friendly-scanner"),
        ("info", "high", "171.217.27.156", 1, (25,), "friendly-scanner"),
        ("info", "high", "146.38.187.119", 1, (26,), "friendly-scanner")]
    # its INVITEs are all refused (401): the toll-fraud finding is major, the scan info
    (f,) = scans(corpus, "SIP-3700-unauthorized-401.pcap")
    assert (f.severity.label, f.confidence, f.evidence["source"], f.evidence["requests"], f.evidence["agents"]) == (
        "info", "high", "40.129.198.250", 17, "sipcli/v1.8")


def test_a_fraud_source_retrying_the_same_gateways_is_no_sweep(corpus) -> None:
    assert scans(corpus, "SIP-212.32.250.134.pcap") == []
