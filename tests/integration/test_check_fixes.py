"""Regressions found by a review of the NAT, device and security rules on real captures: each test fails on the
code before the fix. The corpus captures are read in place (never copied into the project)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import sipdiag
from sipdiag.checks import LANGUAGES
from tests.conftest import SAMPLES

PCAPS = Path("/work/shared/corpus/pcaps")
needs_corpus = pytest.mark.skipif(not PCAPS.is_dir(), reason=f"the shared corpus ({PCAPS}) is not on this machine")


def rules_of(path: Path, *rules: str) -> list:
    return [f for f in sipdiag.analyze(path).findings if f.rule in rules]


def clean_texts(f) -> None:
    for lang in LANGUAGES:
        for text in (f.customer_text[lang], f.engineer_text[lang]):
            assert "{" not in text and "  " not in text and "()" not in text


@needs_corpus
def test_loopback_addresses_are_no_nat_evidence() -> None:
    # A loopback sent-by (127.0.0.1 of a test rig) or a replay on lo never crossed a NAT (RFC 1122 §3.2.1.3):
    # no double NAT, no "NAT between the UA and the capture point".
    assert rules_of(PCAPS / "hep-wireshark" / "hep.pcap", "nat.cgnat-or-double-nat") == []
    for name in ("sip-tcp-method.pcap", "sip-body-large.pcap"):
        assert rules_of(PCAPS / "suricata-verify" / name, "nat.via-address-mismatch", "nat.port-translated",
                        "nat.cgnat-or-double-nat") == []


@needs_corpus
def test_a_proxied_contact_is_no_port_translation() -> None:
    # RFC 3261 §18.2.1 / RFC 3581: only the UA's own message (one Via, its own Contact) tells which port it sent
    # from; a proxy forwarding another host's Contact (IPv6 ULA, an OpenSIPS in front of a WebSocket client) is no
    # evidence.
    assert rules_of(PCAPS / "sngrep" / "ipv6frag.pcap", "nat.port-translated") == []
    assert rules_of(PCAPS / "heplify" / "sip_tcp_websocket.pcap", "nat.port-translated") == []


def test_port_translation_still_seen_behind_napt(tmp_path) -> None:
    from tests import callcapture as cc
    (f,) = rules_of(cc.register_without_rport(tmp_path / "rport.pcap", rport=True), "nat.port-translated")
    assert (f.evidence["field"], f.evidence["declared_port"], f.evidence["source_port"]) == ("top Via", 5060, 40000)
    assert "в верхнем Via" in f.engineer_text["ru"] and "top Via" not in f.engineer_text["ru"]


@needs_corpus
def test_private_sdp_address_without_rtp_is_one_neutral_finding() -> None:
    findings = rules_of(PCAPS / "heplify" / "erspan_sip_ipv4_udp.pcapng", "nat.private-sdp-address")
    call = "bf3880-0-16e4-5af571fa-38bc4ba4-5af571fa@101.231.48.19"
    mine = [f for f in findings if f.call_id == call]
    # one finding for the caller's c=192.168.8.53 (INVITE and its resend after 407); the SBC's inside address in
    # frames 55/63/79/98 comes from private hosts (RFC 3264 §5: c= is the sender's), so it is no NAT finding
    assert [(f.frames, f.evidence["role"], f.evidence["address"], f.evidence["source"], f.evidence["media"])
            for f in mine] == [((53, 61), "caller", "192.168.8.53", "180.173.83.248:53221", "unknown")]
    (f,) = mine
    clean_texts(f)
    assert f.severity.label == "minor"
    # no RTP was captured: the texts must not claim that latching worked
    assert "latched" not in f.engineer_text["en"] and "worked around" not in f.customer_text["en"]
    assert f.customer_text["en"].endswith("This can stop you from hearing the other party; we are checking it.")
    assert f.customer_text["ru"].endswith("Из-за этого вы можете не слышать собеседника; мы это проверяем.")
    assert "The capture shows no RTP reaching this party" in f.engineer_text["en"]
    assert "SDP вызывающего (кадр 53)" in f.engineer_text["ru"]
    assert "(SDP в кадрах 53, 61)" in f.engineer_text["ru"]


def test_private_sdp_address_latched_when_rtp_flowed() -> None:
    (f,) = rules_of(SAMPLES / "nat_symmetric_rtp.pcap", "nat.private-sdp-address")
    assert (f.severity.label, f.evidence["media"]) == ("minor", "latched")
    assert "Media was latched to the observed address, so audio flowed." in f.engineer_text["en"]


@needs_corpus
@pytest.mark.parametrize(("name", "call", "party", "device"), [
    ("suricata-verify/sip-body-frames__public-cloudshark-sip-s0.pcap", "12013223@200.57.7.195", "callee", "X-Lite"),
    ("wireshark-wiki/sip-rtp-g711.pcap", "1-1966@10.0.2.20", "callee", "FreeSWITCH"),
    ("wireshark-wiki/sip-rtp-g711.pcap", "1-1968@10.0.2.20", "callee", "FreeSWITCH"),
    ("wireshark-wiki/sip-rtp-opus-hybrid.pcap", "1-4237@10.0.2.20", "callee", "FreeSWITCH"),
])
def test_device_of_the_party_that_sent_the_header(name: str, call: str, party: str, device: str) -> None:
    # The User-Agent/Server is only in the callee's responses (RFC 3261 §20.35, §20.41): never the caller's
    findings = [f for f in sipdiag.analyze(PCAPS / name).findings if f.call_id == call and "device" in f.evidence]
    assert findings
    for f in findings:
        assert f.evidence["device"]["party"] == party and device in f.evidence["device"]["user_agent"]
        assert "Device of the caller" not in f.engineer_text["en"]


def test_enumeration_is_no_password_guessing() -> None:
    # svwar's REGISTERs carry no Authorization: 404/401 differential is enumeration (sec.scanner-detected),
    # not failed authentications (RFC 3261 §22)
    findings = [f.rule for f in sipdiag.analyze(SAMPLES / "sipvicious_scan.pcap").findings]
    assert findings == ["sec.scanner-detected"]


@needs_corpus
def test_real_bruteforce_still_found() -> None:
    (f,) = rules_of(PCAPS / "initconf-sip-attacks" / "SIP-Bruteforce-Single-IP.pcap", "sec.bruteforce-auth")
    assert (f.severity.label, f.evidence["source"], f.evidence["failures"], f.evidence["users"]) == (
        "major", "199.105.226.32", 441, 86)  # no 2xx follows: major (RULES.md sec.bruteforce-auth)
    # the customer is not told of a block nobody has confirmed; only password guessing is in the title now
    assert f.title == "Password guessing against the registrar"
    assert f.customer_text["en"].endswith("our security team is looking at blocking the attacker.")
    assert f.customer_text["ru"].endswith("наша служба безопасности рассматривает блокировку атакующего.")
    # 86 user names attacked: the accounts of the service, not "your phone account"
    assert f.customer_text["en"].startswith(
        "Someone on the internet is guessing the passwords of many accounts of our service. Please make sure")
    assert f.customer_text["ru"].startswith(
        "Кто-то из интернета подбирает пароли ко многим учётным записям нашего сервиса. Убедитесь")


@needs_corpus
def test_fraud_calls_are_explained_by_the_attack() -> None:
    findings = sipdiag.analyze(PCAPS / "initconf-sip-attacks" / "SIP-212.32.250.134.pcap").findings
    (fraud,) = [i for i, f in enumerate(findings) if f.rule == "sec.toll-fraud-attempt"]
    of_calls = [f for f in findings if f.call_id is not None]
    assert of_calls and all(f.cause == fraud for f in of_calls)
    assert Counter(f.rule for f in of_calls)["call.failure-response"] == 406
    assert len(findings[fraud].explains) == len(of_calls)
    text = findings[fraud].customer_text
    assert "We have restricted" not in text["en"] and "Мы ограничили" not in text["ru"]
    assert text["en"].endswith("we recommend restricting international calling on your account until it is "
                               "secured.")
    assert text["ru"].endswith("мы рекомендуем ограничить международную связь для вашей учётной записи, пока она "
                               "не защищена.")


@needs_corpus
def test_scanner_calls_are_explained_by_the_scanner() -> None:
    findings = sipdiag.analyze(PCAPS / "initconf-sip-attacks" / "SIP-3700-unauthorized-401.pcap").findings
    failures = [f for f in findings if f.rule == "call.failure-response"]
    assert failures and all(findings[f.cause].category == "security" for f in failures)


def test_scanner_found_when_the_response_is_recorded_before_its_request(tmp_path) -> None:
    """Captures merged from two interfaces can hold a response before its request: the transaction was made from
    the response and the request, arriving second, only gave its frame, not its User-Agent, so the scanner's
    OPTIONS went unseen."""
    from tests.callcapture import PBX, sip_message, write_sip
    scanner = ("192.0.2.66", 5070)
    probe = sip_message("OPTIONS sip:100@203.0.113.5 SIP/2.0", "scan-1", "1 OPTIONS", src=scanner, to_tag=False,
                        extra="User-Agent: friendly-scanner\n")
    reply = sip_message("SIP/2.0 404 Not Found", "scan-1", "1 OPTIONS", src=scanner)
    path = write_sip(tmp_path / "merged.pcap", [(1.0, reply, PBX, scanner), (1.0, probe, scanner, PBX)])
    (f,) = rules_of(path, "sec.scanner-detected")
    assert (f.frames, f.evidence["requests"], f.evidence["agents"], f.evidence["sources"], f.evidence["methods"]) == (
        (2,), 1, "friendly-scanner", "192.0.2.66", "OPTIONS")
