"""Identities `sipdiag anonymize` used to leave in its output, found by an audit of the corpus: addresses glued to
or written in hex inside branches and tags (aaa.pcap, MagicJack, T38.pcap), SIP and RTCP quoted in ICMP errors
(testing.ext.pcap), PPP inside PPTP's GRE (ndpi gre.pcapng), PPP IPCP giving the subscriber's address
(nb6-startup.pcap) and the URIs of a digest challenge's `domain` (ndpi sip_hello.pcapng). Built captures, so
that the tests run without the corpus."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

import dpkt

from sipdiag.anonymize import anonymize
from tests import pcapwriter as pw
from tests.integration.test_anonymize import KEY, signature

UA, PBX = "192.168.1.10", "203.0.113.5"
T0 = 1_700_000_000_000_000_000


def _write(path: Path, frames: list[bytes]) -> None:
    pw.write_pcap(path, [(T0 + i * 100_000_000, f) for i, f in enumerate(frames)], pw.LINKTYPE_ETHERNET)


def _frames(path: Path) -> list[bytes]:
    with open(path, "rb") as f:
        return [buf for _ts, buf in dpkt.pcap.Reader(f)]


INVITE = """INVITE sip:bob@pbx.example.com SIP/2.0
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKc0a8010a52181bc-46ea715e192.168.1.10;rport
From: "Alice Smith" <sip:alice@pbx.example.com>;tag=C0A8010A-77
To: <sip:bob@pbx.example.com>
Call-ID: 4711@192.168.1.10
CSeq: 1 INVITE
X-Firmware: V4.2.0.0
Max-Forwards: 70
Content-Length: 0

"""
TRYING = """SIP/2.0 100 Trying
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKc0a8010a52181bc-46ea715e192.168.1.10;rport
From: "Alice Smith" <sip:alice@pbx.example.com>;tag=C0A8010A-77
To: <sip:bob@pbx.example.com>
Call-ID: 4711@192.168.1.10
CSeq: 1 INVITE
Content-Length: 0

"""


def test_address_glued_to_a_branch_or_written_in_hex_is_replaced(tmp_path: Path) -> None:
    """Phones build branches and tags from their address: glued after letters ("...715e192.168.1.10") or in hex
    (c0a8010a = 192.168.1.10). Both are replaced, the same way in the request and in the response, so the
    transaction still matches; a version number glued to a letter ("V4.2.0.0"), no address of the capture, stays."""
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [pw.sip_udp_frame(INVITE, UA, PBX), pw.sip_udp_frame(TRYING, PBX, UA)])
    anonymize(src, out, key=KEY)
    text = out.read_bytes().decode("latin-1")
    assert "192.168.1.10" not in text and "c0a8010a" not in text.lower()
    assert "alice" not in text.lower() and "example" not in text
    assert "X-Firmware: V4.2.0.0\r\n" in text
    branches = [line for line in text.split("\r\n") if line.startswith("Via:")]
    assert len(branches) == 2 and branches[0] == branches[1]
    assert signature(out) == signature(src)


def _icmp_unreachable(quoted_ip_packet: bytes) -> bytes:
    """ICMP destination unreachable, port unreachable (RFC 792), quoting the whole datagram as Linux does."""
    body = struct.pack("!BBHI", 3, 3, 0, 0) + quoted_ip_packet
    return body[:2] + struct.pack("!H", pw.inet_checksum(body)) + body[4:]


def test_sip_quoted_in_an_icmp_error_is_rewritten_like_the_request(tmp_path: Path) -> None:
    """An INVITE refused with port unreachable: the ICMP error quotes it whole. Its text is rewritten like the
    INVITE's own, so the quote is again exactly the (anonymised) packet it refers to, and the ICMP checksum
    stays right. Before, only the quoted addresses changed: user, display name, host and address stayed."""
    invite_ip = pw.ipv4(UA, PBX, pw.IPPROTO_UDP, pw.udp(5060, 5060, pw.sip_bytes(INVITE), UA, PBX))
    icmp = pw.ipv4(PBX, UA, 1, _icmp_unreachable(invite_ip))
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [pw.ethernet(invite_ip), pw.ethernet(icmp)])
    anonymize(src, out, key=KEY)
    text = out.read_bytes().decode("latin-1")
    for value in ("alice", "Alice Smith", "pbx.example.com", "192.168.1.10", "c0a8010a"):
        assert value.lower() not in text.lower(), value
    first, second = _frames(out)
    assert second[14 + 20 + 8:] == first[14:]  # the quote is the anonymised INVITE, byte for byte
    assert pw.inet_checksum(second[14 + 20:]) == 0  # the ICMP checksum covers the quote


def test_pptp_gre_carrying_ppp_is_looked_into(tmp_path: Path) -> None:
    """PPTP (RFC 2637 §4.1): enhanced GRE, version 1, with key, sequence and acknowledgment numbers, carrying
    PPP (FF 03, protocol 0x0021) then the tunnelled IPv4 packet. Its addresses and its SIP are replaced, its IP
    and UDP checksums updated."""
    inner = pw.ipv4(UA, PBX, pw.IPPROTO_UDP, pw.udp(5060, 5060, pw.sip_bytes(INVITE), UA, PBX))
    ppp = b"\xff\x03\x00\x21" + inner
    gre = struct.pack("!HHHHII", 0x3081, 0x880B, len(ppp), 7, 1, 0) + ppp
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [pw.ethernet(pw.ipv4("198.51.100.7", "198.51.100.9", 47, gre))])
    anonymize(src, out, key=KEY)
    data = out.read_bytes()
    for address in (UA, PBX, "198.51.100.7", "198.51.100.9"):
        assert ipaddress.ip_address(address).packed not in data, address
    assert b"alice" not in data and b"192.168.1.10" not in data
    (frame,) = _frames(out)
    tunnelled = dpkt.ip.IP(frame[14 + 20 + 16 + 4:])
    assert len(tunnelled) == len(inner) and pw.inet_checksum(bytes(tunnelled)[:20]) == 0
    pseudo = tunnelled.src + tunnelled.dst + struct.pack("!BBH", 0, 17, len(tunnelled.data))
    assert pw.inet_checksum(pseudo + bytes(tunnelled.data)) == 0


def _pppoe(payload: bytes) -> bytes:
    """A PPPoE session frame (RFC 2516 §4): version/type 0x11, code 0, session id, length."""
    return pw.ethernet(struct.pack("!BBHH", 0x11, 0, 0x1b3d, len(payload)) + payload, ethertype=0x8864)


def test_ppp_ipcp_addresses_are_replaced_like_the_ip_headers(tmp_path: Path) -> None:
    """An IPCP Configure-Ack (RFC 1332) gives the subscriber its public address and the DNS servers (RFC 1877);
    the same address is then the source of the subscriber's SIP. Both places get the same pseudonym."""
    subscriber, dns1, dns2 = "95.136.242.54", "109.0.66.10", "109.0.66.20"
    options = b"".join(struct.pack("!BB4s", kind, 6, ipaddress.ip_address(a).packed)
                       for kind, a in ((3, subscriber), (129, dns1), (131, dns2)))
    ipcp = b"\x80\x21" + struct.pack("!BBH", 2, 1, 4 + len(options)) + options
    sip = pw.ipv4(subscriber, PBX, pw.IPPROTO_UDP, pw.udp(5060, 5060, pw.sip_bytes(INVITE), subscriber, PBX))
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [_pppoe(ipcp), _pppoe(b"\x00\x21" + sip)])
    anonymize(src, out, key=KEY)
    data = out.read_bytes()
    for address in (subscriber, dns1, dns2):
        assert ipaddress.ip_address(address).packed not in data, address
    first, second = _frames(out)
    given = first[14 + 6 + 2 + 4 + 2:][:4]
    assert given == dpkt.ip.IP(second[14 + 6 + 2:]).src  # one pseudonym for the subscriber


def test_digest_domain_uris_are_replaced(tmp_path: Path) -> None:
    """A challenge's `domain` lists the URIs of its protection space (RFC 7616 §3.3): their hosts, named nowhere
    else in the capture, are host names like any other."""
    challenge = """SIP/2.0 401 Unauthorized
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK1
From: <sip:alice@192.168.1.10>;tag=1
To: <sip:alice@192.168.1.10>;tag=2
Call-ID: r1
CSeq: 1 REGISTER
WWW-Authenticate: Digest realm="Huawei",nonce="18c8db50",domain="sip:sbc.carrier.net sip:core.carrier.org"
Content-Length: 0

"""
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [pw.sip_udp_frame(challenge, PBX, UA)])
    anonymize(src, out, key=KEY)
    text = out.read_bytes().decode("latin-1")
    assert "carrier" not in text and "Huawei" not in text
    assert 'domain="sip:' in text and ".net sip:" in text and '.org"' in text
