"""Identities `sipdiag anonymize` used to leave in its output, found by an audit of the corpus: addresses glued to
or written in hex inside branches and tags (aaa.pcap, MagicJack, T38.pcap), SIP and RTCP quoted in ICMP errors
(testing.ext.pcap), PPP inside PPTP's GRE (ndpi gre.pcapng), PPP IPCP giving the subscriber's address
(nb6-startup.pcap) and the URIs of a digest challenge's `domain` (ndpi sip_hello.pcapng); then, from a second
audit: HEP's binary chunks, GTP-U/VXLAN inner packets, SCTP, other IP protocols with --drop-other, pcapng
metadata (comments, interface names and filters, OS, secrets), numbers and names outside URIs, RTCP CNAME
addresses, and the number shapes the analysis compares. Built captures, so that the tests run without the
corpus."""

from __future__ import annotations

import ipaddress
import re
import struct
import subprocess
from pathlib import Path

import dpkt

from sipdiag.anonymize import anonymize
from tests import pcapwriter as pw
from tests.conftest import need_tool
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


# --- second audit: tunnels, HEP, SCTP, pcapng metadata, numbers and names outside URIs ----------------------------

NUMBERS = """INVITE sip:9055551212@pbx.example.com SIP/2.0
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK77
From: \\"arik\\" <sip:20008909@pbx.example.com>;tag=1
To: <sip:9055551212@pbx.example.com>
Call-ID: 99@192.168.1.10
CSeq: 1 INVITE
X-Number-Type: 9055551212;type=off-net
Contact: <sip:192.168.1.10:5060;orig-user=20008909>
Alert-Info: <http://www.ringtones.example.org/ring.wav>;info=alert-internal
Max-Forwards: 70
Content-Length: 0

"""
REFUSED = """SIP/2.0 488 Not Acceptable Here
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK77
From: \\"arik\\" <sip:20008909@pbx.example.com>;tag=1
To: <sip:9055551212@pbx.example.com>;tag=2
Call-ID: 99@192.168.1.10
CSeq: 1 INVITE
Warning: 305 labpbx7 "Incompatible media format"
Content-Length: 0

"""


def test_numbers_names_and_hosts_outside_uris(tmp_path: Path) -> None:
    """A number the capture uses as a user part is replaced where it stands as a word of its own (an
    `X-Number-Type` header, a Contact's `orig-user=`); a display name written with escaped quotes
    (`\\"arik\\"`) is a display name; the warn-agent of a Warning (RFC 3261 §20.43) and the host of an http URL
    in Alert-Info are host names. Before, all five stayed."""
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [pw.sip_udp_frame(NUMBERS, UA, PBX), pw.sip_udp_frame(REFUSED, PBX, UA)])
    anonymize(src, out, key=KEY)
    text = out.read_bytes().decode("latin-1")
    for value in ("9055551212", "20008909", "arik", "labpbx7", "ringtones", "example"):
        assert value not in text, value
    number = re.search(r"INVITE sip:(\d+)@", text).group(1)
    assert f"X-Number-Type: {number};type=off-net" in text  # the same pseudonym as in the URI
    assert re.search(r'From: \\"[a-z]{4}\\" <sip:', text) and re.search(r"<http://\w{3}\.\w{9}\.\w{7}\.org/ring", text)
    assert signature(out) == signature(src)


def test_rtcp_cname_keeps_an_address_an_address(tmp_path: Path) -> None:
    """An RTCP SDES CNAME `user@host` (RFC 3550 §6.5.1) whose host is the sender's address: the address part is
    mapped as the address it is (the same pseudonym as the IP header's), not as text ("876.598.5.46")."""
    cname = f"alice@{UA}".encode()
    sdes = struct.pack("!BBHI", 0x81, 202, (8 + 2 + len(cname) + 2 + 3) // 4 - 1, 0x1234) + bytes([1, len(cname)])
    sdes += cname + bytes(-(len(sdes) + len(cname)) % 4 or 4)
    rr = struct.pack("!BBHI", 0x80, 201, 1, 0x1234)
    rtcp = rr + sdes
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [pw.ethernet(pw.ipv4(UA, PBX, pw.IPPROTO_UDP, pw.udp(4001, 4001, rtcp, UA, PBX)))])
    anonymize(src, out, key=KEY)
    (frame,) = _frames(out)
    packet = dpkt.ip.IP(frame[14:])
    new = bytes(packet.data.data)[len(rr) + 10:len(rr) + 10 + len(cname)].decode()
    user, host = new.split("@")
    assert len(user) == 5 and user != "alice" and ipaddress.ip_address(host).packed == packet.src


def test_number_pseudonyms_keep_what_the_analysis_compares() -> None:
    """The analysis takes numbers of six digits or more for the same when their last nine digits are
    (`correlate.number_key`: a redirect's Contact 980838615500003 is followed by an INVITE to
    9997980838615500003, fax-iz-InLife-G711-GRE199.cap), and counts runs of consecutive numbers as an extension
    sweep (SIP-Bruteforce-Single-IP.pcap): pseudonyms keep both."""
    from sipdiag.anonymize.pseudonyms import Originals, Pseudonyms

    p = Pseudonyms(KEY, Originals())
    p.sequences([str(n) for n in range(10, 56)] + ["100", "101", "102", "111", "112", "113"])
    sweep = [int(p.user(str(n))) for n in range(10, 56)]
    assert sweep == list(range(sweep[0], sweep[0] + 46)) and sweep[0] != 10 and 10 <= sweep[0] <= 54
    assert [int(p.user(n)) - int(p.user("100")) for n in ("101", "102")] == [1, 2]
    assert p.user("112") == "112"  # an emergency number stays, and breaks its run
    forms = ("9997980838615500003", "980838615500003", "38615500003")
    tails = {p.user(n)[-9:] for n in forms}
    assert len(tails) == 1 and tails != {"615500003"} and len({p.user(n) for n in forms}) == 3
    assert p.user("+38615500003").startswith("+386")  # a country code is kept, even inside the last nine


def test_extension_sweep_stays_a_sweep(tmp_path: Path) -> None:
    """A slow REGISTER sweep over extensions 10-40 (70 s apart, so never 10 users in one minute), each refused
    with 404: the scanner rule finds it by the run of consecutive numbers, in the copy too."""
    frames = []
    for i, ext in enumerate(range(10, 41)):
        register = (f"REGISTER sip:{PBX} SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.66:5060;branch=z9hG4bK{i}\n"
                    f"From: <sip:{ext}@{PBX}>;tag={i}\nTo: <sip:{ext}@{PBX}>\nCall-ID: sweep-{i}\nCSeq: 1 REGISTER\n"
                    f"Max-Forwards: 70\nContent-Length: 0\n\n")
        refused = (f"SIP/2.0 404 Not Found\nVia: SIP/2.0/UDP 198.51.100.66:5060;branch=z9hG4bK{i}\n"
                   f"From: <sip:{ext}@{PBX}>;tag={i}\nTo: <sip:{ext}@{PBX}>;tag=x{i}\nCall-ID: sweep-{i}\n"
                   f"CSeq: 1 REGISTER\nContent-Length: 0\n\n")
        frames += [(T0 + i * 70_000_000_000, pw.sip_udp_frame(register, "198.51.100.66", PBX)),
                   (T0 + i * 70_000_000_000 + 5_000_000, pw.sip_udp_frame(refused, PBX, "198.51.100.66"))]
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    pw.write_pcap(src, frames, pw.LINKTYPE_ETHERNET)
    anonymize(src, out, key=KEY)
    assert ("sec.scanner-detected", "info", "security") in {f for f, _n in signature(src)[0]}
    assert signature(out) == signature(src)


def _hep_frame(sip: str, node: bytes) -> bytes:
    payload = pw.sip_bytes(sip)
    hep = pw.hep3(payload, UA, PBX, 5060, 5060, T0, auth_key="s3cret-Key")
    extra = (struct.pack("!HHH", 0, 19, 6 + len(node)) + node  # node name
             + struct.pack("!HHH", 0, 17, 6 + len(b"4711@192.168.1.10")) + b"4711@192.168.1.10"  # correlation id
             + struct.pack("!HHH", 0x0B5B, 1, 10) + ipaddress.ip_address(UA).packed)  # a vendor's own chunk
    hep = hep[:4] + struct.pack("!H", len(hep) + len(extra)) + hep[6:] + extra
    return pw.ethernet(pw.ipv4("10.9.9.1", "10.9.9.2", pw.IPPROTO_UDP, pw.udp(9060, 9060, hep, "10.9.9.1",
                                                                                   "10.9.9.2")))


def test_hep_is_rewritten_chunk_by_chunk(tmp_path: Path) -> None:
    """HEPv3 (sipdiag analyze reads it): the mirrored packet's addresses in their binary chunks get the same
    pseudonyms as in the SIP text, the node name and key keep only their shape, the correlation id is rewritten
    like the Call-ID it repeats, a vendor's chunk is zeroed, the UDP checksum follows. Before, only the text was
    rewritten: the binary addresses stayed, and the analysis saw the text's host differ from the header's."""
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [_hep_frame(INVITE, b"homer-node-7"), _hep_frame(TRYING.replace("100 Trying", "180 Ringing"),
                                                                   b"homer-node-7")])
    anonymize(src, out, key=KEY)
    data = out.read_bytes()
    for value in (ipaddress.ip_address(UA).packed, ipaddress.ip_address(PBX).packed, b"homer", b"s3cret",
                  b"192.168.1.10", b"alice"):
        assert value not in data, value
    from sipdiag.parsers.hep import parse_hep

    for frame in _frames(out):
        udp = dpkt.ip.IP(frame[14:]).data
        packet, problem = parse_hep(bytes(udp.data))
        assert problem is None
        via = re.search(rb"Via: SIP/2.0/UDP ([\d.]+):", packet.payload).group(1).decode()
        assert packet.src_ip == via or packet.dst_ip == via
        assert packet.correlation_id == re.search(rb"Call-ID: (\S+)", packet.payload).group(1).decode()
        ip = dpkt.ip.IP(frame[14:])
        assert pw.inet_checksum(ip.src + ip.dst + struct.pack("!BBH", 0, 17, len(ip.data)) + bytes(ip.data)) == 0
    assert signature(out) == signature(src)


def _gtpu(inner_ip: bytes, teid: int = 0x10) -> bytes:
    """A GTP-U G-PDU (3GPP TS 29.281 §5.1): version 1, PT 1, no optional fields, type 255, length, TEID."""
    return struct.pack("!BBHI", 0x30, 0xFF, len(inner_ip), teid) + inner_ip


def test_gtpu_and_vxlan_inner_packets_are_rewritten(tmp_path: Path) -> None:
    """GTP-U (an IMS phone's SIP over IPv6 inside the mobile tunnel, gtp-iphone.pcap) and VXLAN, both read by
    sipdiag analyze: the inner packet's addresses and SIP are replaced like any other; the outer UDP checksum
    follows the inner changes. Before, the inner IPv6 address stayed in the header and in the text."""
    phone, pcscf = "fd00:183:1:1:1886:9040:8605:32b8", "fd01::183"
    sip = INVITE.replace("192.168.1.10", f"[{phone}]")
    inner = pw.ipv6(phone, pcscf, pw.IPPROTO_UDP, pw.udp(5060, 5060, pw.sip_bytes(sip), phone, pcscf))
    gtp = pw.ethernet(pw.ipv4("10.200.1.1", "10.200.1.2", pw.IPPROTO_UDP,
                               pw.udp(2152, 2152, _gtpu(inner), "10.200.1.1", "10.200.1.2")))
    vxlan_inner = pw.sip_udp_frame(INVITE, UA, PBX)
    vxlan = pw.ethernet(pw.ipv4("10.200.1.3", "10.200.1.4", pw.IPPROTO_UDP,
                                 pw.udp(49152, 4789, struct.pack("!II", 0x08000000, 0x000100) + vxlan_inner,
                                        "10.200.1.3", "10.200.1.4")))
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [gtp, vxlan])
    anonymize(src, out, key=KEY)
    data = out.read_bytes()
    for value in (ipaddress.ip_address(phone).packed, ipaddress.ip_address(UA).packed, b"fd00:183", b"alice",
                  b"192.168.1.10"):
        assert value not in data, value
    for frame in _frames(out):
        ip = dpkt.ip.IP(frame[14:])
        assert pw.inet_checksum(ip.src + ip.dst + struct.pack("!BBH", 0, 17, len(ip.data)) + bytes(ip.data)) == 0
    gtp_out = dpkt.ip6.IP6(_frames(out)[0][14 + 20 + 8 + 8:])
    assert f"[{ipaddress.ip_address(gtp_out.src)}]".encode() in bytes(gtp_out.data.data)
    assert signature(out) == signature(src)


def _sctp(sport: int, dport: int, chunks: list[bytes]) -> bytes:
    from dpkt.crc32c import cksum

    packet = struct.pack("!HHII", sport, dport, 0x1111, 0) + b"".join(c + bytes(-len(c) % 4) for c in chunks)
    return packet[:8] + struct.pack("<I", cksum(packet)) + packet[12:]


def _sctp_data(tsn: int, user: bytes, ppid: int = 0) -> bytes:
    return struct.pack("!BBHIHHI", 0, 0x03, 16 + len(user), tsn, 0, 0, ppid) + user


def test_sctp_sip_and_init_addresses(tmp_path: Path) -> None:
    """SIP over SCTP (RFC 4168, sip_sctp.pcap): the DATA chunk's SIP is rewritten, the addresses an INIT lists
    (RFC 9260 §3.3.2.1) are mapped, the CRC32c stays right; with --drop-other the state cookie and the user data
    of other protocols are zeroed, without it they stay. Before, SCTP was not looked into at all."""
    from dpkt.crc32c import cksum

    init_params = (struct.pack("!HH4s", 5, 8, ipaddress.ip_address(UA).packed)
                   + struct.pack("!HH4s", 5, 8, ipaddress.ip_address("192.168.7.7").packed))
    init = struct.pack("!BBHIIHHI", 1, 0, 20 + len(init_params), 0x2222, 65536, 10, 10, 1) + init_params
    cookie = b"cookie with 192.168.1.10 inside"
    init_ack = struct.pack("!BBHIIHHI", 2, 0, 24 + len(cookie), 0x3333, 65536, 10, 10, 1) + struct.pack(
        "!HH", 7, 4 + len(cookie)) + cookie
    diameter = _sctp_data(2, b"\x01\x00\x00\x40" + b"subscriber 262011234567890 at ims.example.net", ppid=46)
    packets = [_sctp(5060, 5060, [init]), _sctp(5060, 5060, [init_ack]),
               _sctp(5060, 5060, [_sctp_data(1, pw.sip_bytes(INVITE))]), _sctp(3868, 3868, [diameter])]
    src = tmp_path / "in.pcap"
    _write(src, [pw.ethernet(pw.ipv4(UA, PBX, 132, p)) for p in packets])
    for drop, kept in ((False, True), (True, False)):
        out = tmp_path / f"out-{drop}.pcap"
        anonymize(src, out, key=KEY, drop_other=drop)
        data = out.read_bytes()
        for value in (ipaddress.ip_address(UA).packed, ipaddress.ip_address("192.168.7.7").packed, b"alice",
                      b"pbx.example.com"):
            assert value not in data, value
        assert (b"cookie with" in data, b"262011234567890" in data) == (kept, kept)
        for frame in _frames(out):
            sctp = bytearray(frame[14 + 20:])
            stored = bytes(sctp[8:12])
            sctp[8:12] = bytes(4)
            assert struct.unpack("<I", stored)[0] == cksum(bytes(sctp))
        assert signature(out) == signature(src)


def test_drop_other_zeroes_other_ip_protocols(tmp_path: Path) -> None:
    """--drop-other zeroes what is not looked into: an IP protocol other than UDP, TCP, ICMP, SCTP and the
    tunnels (here OSPF, whose Hello names routers by address), a GRE payload of another kind, the first fragment
    of a datagram that is not SIP, a frame that is not IP or ARP (LLDP, wireuploaded.pcap)."""
    ospf = struct.pack("!BBH4s4sHHQ", 2, 1, 44, ipaddress.ip_address("192.168.1.1").packed, bytes(4), 0, 0, 0)
    ospf += ipaddress.ip_address("255.255.255.0").packed + bytes(8) + ipaddress.ip_address(UA).packed * 2
    keepalive = struct.pack("!HH", 0, 0x88B5) + b"router 192.168.1.1"
    lldp = pw.ethernet(b"\x02\x07\x04" + b"\x00\x11\x22\x33\x44\x55" + b"\x10\x0c\x05\x01"
                       + ipaddress.ip_address("192.168.60.3").packed + b"\x02\x00\x00\x03\xe9\x00", ethertype=0x88CC)
    answer = bytes(range(7, 250)) * 8  # a large DNS answer, say: fragmented
    fragments = pw.fragment_ipv4(PBX, UA, pw.IPPROTO_UDP, pw.udp(53, 40000, answer, PBX, UA), 600, 77)
    src = tmp_path / "in.pcap"
    _write(src, [pw.ethernet(pw.ipv4(UA, "224.0.0.5", 89, ospf)), pw.ethernet(pw.ipv4(UA, PBX, 47, keepalive))]
           + [pw.ethernet(f) for f in fragments] + [lldp])
    for drop in (False, True):
        out = tmp_path / f"out-{drop}.pcap"
        result = anonymize(src, out, key=KEY, drop_other=drop)
        first, second, *rest, switch = _frames(out)
        assert (switch[14:] == bytes(len(lldp) - 14)) == drop  # LLDP: a switch's management address
        assert (first[14 + 20:] == bytes(len(ospf)), second[14 + 24:] == bytes(len(keepalive) - 4)) == (drop, drop)
        head = dpkt.ip.IP(rest[0][14:])
        assert (bytes(head.data)[8:] == bytes(len(head.data) - 8)) == drop  # the first fragment's payload
        datagram = b"".join(bytes(dpkt.ip.IP(f[14:]).data) for f in rest)
        assert pw.inet_checksum(head.src + head.dst + struct.pack("!BBH", 0, 17, len(datagram)) + datagram) == 0
        assert result.other_payloads_dropped == (4 if drop else 0)


def _pcapng_block(btype: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def _options(*options: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack("<HH", c, len(v)) + v + bytes(-len(v) % 4) for c, v in options) + bytes(4)


def test_pcapng_metadata_that_names_hosts_and_keys_is_left_out(tmp_path: Path) -> None:
    """pcapng metadata (draft-ietf-opsawg-pcapng): comments, the capturing host's OS and hardware, interface
    names, descriptions, addresses and capture filters, packet hashes, name resolution, decryption secrets and
    custom blocks are left out; time resolution, packet flags and statistics counters stay. tshark reads the
    copy, and its analysis is the original's. Before, everything but name resolution blocks was copied."""
    frame = pw.sip_udp_frame(INVITE, UA, PBX)
    shb = _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, 4096) + _options(
        (1, b"captured at ACME HQ by bob"), (2, b"Dell PowerEdge R640 SN 7Q2X"), (3, b"Linux 5.15 acme-sbc-01"),
        (4, b"capture-tool 1.0")))
    idb = _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535) + _options(
        (2, b"eth0-acme"), (3, b"uplink to carrier"), (4, ipaddress.ip_address(UA).packed + bytes(4)),
        (6, b"\x00\x11\x22\x33\x44\x55"), (9, b"\x09"), (11, b"\x00host 172.16.168.24"), (12, b"Ubuntu 22.04"),
        (15, b"Intel X710")))
    ts = T0
    epb = _pcapng_block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame
                        + bytes(-len(frame) % 4) + _options((1, b"alice's first call"), (2, struct.pack("<I", 1)),
                                                            (3, b"\x02" + bytes(16))))
    nrb = _pcapng_block(4, struct.pack("<HH4s", 1, 4 + 16, ipaddress.ip_address(PBX).packed) + b"pbx.example.com\x00"
                        + bytes(4))
    dsb = _pcapng_block(0x0A, struct.pack("<II", 0x544c534b, 40) + b"CLIENT_RANDOM 00112233 deadbeefcafe....")
    custom = _pcapng_block(0x00000BAD, struct.pack("<I", 32473) + b"acme secret note")
    isb = _pcapng_block(5, struct.pack("<III", 0, ts >> 32, ts & 0xFFFFFFFF) + _options(
        (1, b"stats by bob"), (4, struct.pack("<Q", 1)), (5, struct.pack("<Q", 0))))
    src, out = tmp_path / "in.pcapng", tmp_path / "out.pcapng"
    src.write_bytes(shb + idb + nrb + dsb + epb + custom + isb)
    result = anonymize(src, out, key=KEY)
    data = out.read_bytes()
    for value in (b"ACME", b"acme", b"bob", b"Dell", b"Linux", b"capture-tool", b"eth0", b"carrier", b"172.16",
                  b"Ubuntu", b"Intel", b"alice", b"CLIENT_RANDOM", b"pbx.example.com", b"\x00\x11\x22\x33\x44\x55",
                  ipaddress.ip_address(UA).packed):
        assert value not in data, value
    assert (result.name_resolution_blocks_dropped, result.other_blocks_dropped, result.options_dropped) == (1, 2, 14)
    with open(out, "rb") as f:
        ((when, buf),) = list(dpkt.pcapng.Reader(f))
    assert struct.unpack_from("<q", data, 16)[0] == -1  # the section length: not given
    assert len(buf) == len(frame) and abs(when * 1e9 - ts) < 1000  # if_tsresol kept: nanoseconds
    assert struct.pack("<HHI", 2, 4, 1) in data  # epb_flags kept
    assert struct.pack("<HHQ", 4, 8, 1) in data  # isb_ifrecv kept
    assert signature(out) == signature(src)
    need_tool("tshark")
    listed = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.number"], capture_output=True,
                            text=True)
    assert listed.returncode == 0 and listed.stdout.split() == ["1"]


def test_tcp_connection_reusing_the_ports_with_a_lower_sequence_number(tmp_path: Path) -> None:
    """A phone that registers again over a new TCP connection from the same port (gtp-iphone.pcap): the new
    connection's initial sequence number is below the old one's. Its SIP is rewritten like the first one's;
    before, it was taken for a retransmission from before the capture and copied as it was."""
    from tests.integration.test_anonymize import TCP_OPTIONS, _tcp_capture, _tcp_payloads

    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _tcp_capture(src, [(3_000_000_000, TCP_OPTIONS), (2_000_000_000, TCP_OPTIONS)])
    anonymize(src, out, key=KEY)
    (seq1, first), (seq2, second) = _tcp_payloads(out)
    assert (seq1, seq2) == (3_000_000_000, 2_000_000_000) and first == second != TCP_OPTIONS
    assert b"alice" not in first and b"192.168.1.10" not in first


def test_router_advertisement_prefix_and_dns_servers(tmp_path: Path) -> None:
    """A Router Advertisement (gtp-iphone.pcap: the IMS phone's network) names the prefix its addresses are made
    from (RFC 4861 §4.6.2), the router's MAC (§4.6.1) and DNS servers (RFC 8106 §5.1): all mapped, the ICMPv6
    checksum updated. Before, only Neighbor Solicitation/Advertisement were looked into."""
    router, prefix, dns = "fe80::36f8:76a:3:c", "fd00:183:1:1::", "fd00:183:1:1::53"
    mac = b"\x00\x1b\x21\x0a\x0b\x0c"
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
    ra += struct.pack("!BB6s", 1, 1, mac)
    ra += struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 86400, 14400, 0, ipaddress.ip_address(prefix).packed)
    ra += struct.pack("!BBHI16s", 25, 3, 0, 3600, ipaddress.ip_address(dns).packed)
    pseudo = (ipaddress.ip_address(router).packed + ipaddress.ip_address("ff02::1").packed
              + struct.pack("!I3xB", len(ra), 58))
    ra = ra[:2] + struct.pack("!H", pw.inet_checksum(pseudo + ra)) + ra[4:]
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    _write(src, [pw.ethernet(pw.ipv6(router, "ff02::1", 58, ra))])
    anonymize(src, out, key=KEY)
    data = out.read_bytes()
    for value in (prefix, dns, router):
        assert ipaddress.ip_address(value).packed not in data, value
    assert mac not in data and mac[:3] in data  # the vendor's OUI stays
    ip = dpkt.ip6.IP6(_frames(out)[0][14:])
    body = bytes(ip.data)
    assert pw.inet_checksum(ip.src + ip.dst + struct.pack("!I3xB", len(body), 58) + body) == 0
