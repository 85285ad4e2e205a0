"""nat.cgnat-or-double-nat needs two translations (RULES.md §0.4, nat.cgnat-or-double-nat): a private source whose
Via names another private network shows one NAT before the capture point; a second one needs a public host
beyond it (the request goes to, or the response comes from, a public address, or the server's received= names
one). A private peer means one NAT or a VPN concentrator inside one network: the corpus review found the rule
firing on an OpenVPN tunnel address (10.8.0.1) and on operator-internal traffic (10.35.40.x / 10.35.60.x)."""

from __future__ import annotations

import sipdiag
from tests import callcapture as cc
from tests.conftest import CORPUS

RULE = "nat.cgnat-or-double-nat"


def double_nat(path) -> list:
    return [f for f in sipdiag.analyze(path).findings if f.rule == RULE]


def test_a_private_registrar_means_one_nat(tmp_path) -> None:
    # 192.168.1.20 (Via) translated to 192.168.0.2, registering with 10.20.30.40: all inside one private network
    inside = cc.register_refreshes(tmp_path / "inside.pcap", at_s=(0,), ports=(5060,), src_ip="192.168.0.2",
                                   registrar=("10.20.30.40", 5060))
    assert double_nat(inside) == []


def test_a_public_registrar_or_received_shows_the_second_nat(tmp_path) -> None:
    public = cc.register_refreshes(tmp_path / "public.pcap", at_s=(0,), ports=(5060,), src_ip="192.168.0.2")
    (f,) = double_nat(public)
    assert (f.severity.label, f.confidence, f.evidence["second_nat"], f.evidence["public_address"]) == (
        "minor", "low", "peer", "203.0.113.5")
    assert f.engineer_text["en"].startswith(
        "Double NAT: requests from 192.168.0.2:5060 (frame 1) carry 192.168.1.20 in their top Via. The packet's "
        "source 192.168.0.2 is private too, and it talks to the public address 203.0.113.5, which a private source "
        "reaches only through a NAT, so the capture is between two NATs: the inner one translated 192.168.1.20 to "
        "192.168.0.2.")
    assert f.engineer_text["ru"].startswith(
        "Двойной NAT: запросы с 192.168.0.2:5060 (кадр 1) содержат 192.168.1.20 в верхнем Via. Источник пакета "
        "192.168.0.2 тоже частный, а он обменивается с публичным адресом 203.0.113.5, до которого частный адрес "
        "доходит только через NAT, значит захват сделан между двумя NAT: внутренний транслировал 192.168.1.20 в "
        "192.168.0.2.")
    # The server's received= names the public address it saw: the second NAT's outside, whoever the peer is.
    seen = cc.register_refreshes(tmp_path / "seen.pcap", at_s=(0,), ports=(5060,), src_ip="192.168.0.2",
                                 registrar=("10.20.30.40", 5060), received="198.51.100.20")
    (f,) = double_nat(seen)
    assert (f.evidence["second_nat"], f.evidence["public_address"]) == ("received", "198.51.100.20")
    assert "and the server saw its requests arrive from the public address 198.51.100.20 (Via received=), so " \
           "the capture is between two NATs" in f.engineer_text["en"]


def test_corpus_vpn_and_same_site_translations_are_not_double_nat(corpus) -> None:
    pcaps = CORPUS / "pcaps"
    # tshark: REGISTERs from 10.8.0.1:64538 (an OpenVPN server's tunnel address) with Via/Contact 10.133.206.47 to
    # the registrar 172.16.1.75, a private address: the VPN concentrator's one translation.
    assert double_nat(pcaps / "ndpi" / "webex.pcap") == []
    # The same INVITE seen twice (frames 23/24): 10.35.60.72 -> 10.35.60.100, then 10.35.40.25 -> 10.35.40.200, both
    # ends translated inside one operator network; no public address anywhere on that path.
    assert double_nat(pcaps / "wireshark-wiki" / "FAX-Call-t38-CA-TDM-SIP-FB-1.pcap") == []
    # REGISTERs from 172.29.38.91 with Via 10.231.142.84 to 10.239.156.235, answered from there with rport=5060 and
    # no received=: one translation inside the carrier's private network.
    assert double_nat(pcaps / "ndpi" / "sip_hello.pcapng") == []
