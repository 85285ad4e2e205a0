"""A small, deterministic capture writer for the tests: SIP text in, pcap/pcapng bytes out.

Every function returns ``bytes`` and composes with the others, innermost first::

    frame = ethernet(ipv4("192.168.1.10", "203.0.113.5", 17, udp(5060, 5060, sip_bytes)), vlans=(100,))
    write_pcap("call.pcap", [(1_700_000_000_000_000_000, frame)], LINKTYPE_ETHERNET)

or, for the common case, ``sip_udp_frame(text)``. Pure Python (``struct``): no scapy, so a capture built here is
byte-for-byte the same on every machine and every run. Each header is laid out as a field table in its docstring,
with the RFC (or the de-facto spec for non-IETF formats) it follows. Multi-byte fields are network byte order
(big-endian) unless a comment says otherwise.

Times are integer nanoseconds since the epoch (``ts_ns``), like everywhere in sipdiag.
"""

from __future__ import annotations

import gzip
import ipaddress
import os
import struct
from collections.abc import Iterable, Sequence
from typing import BinaryIO, NamedTuple

__all__ = [
    "LINKTYPE_NULL", "LINKTYPE_ETHERNET", "LINKTYPE_RAW", "LINKTYPE_LOOP", "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2", "LINKTYPES",
    "ETHERTYPE_IPV4", "ETHERTYPE_IPV6", "ETHERTYPE_VLAN", "ETHERTYPE_QINQ",
    "GRE_PROTO_ERSPAN_II", "GRE_PROTO_ERSPAN_III",
    "IPPROTO_IPIP", "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_GRE", "IPPROTO_IPV6", "IPPROTO_IPV6_FRAGMENT",
    "inet_checksum",
    "ethernet", "sll", "sll2", "null_loopback", "link_frame",
    "ipv4", "ipv6", "ipv6_ext_header", "ipv6_fragment_header", "fragment_ipv4", "fragment_ipv6",
    "udp", "tcp",
    "gre", "erspan_ii", "erspan_iii",
    "hep3", "ws_frame", "rtp_packet",
    "sip_bytes", "sip_udp_frame",
    "SimplePacket", "write_pcap", "write_pcap_gz", "write_pcapng",
]

# --- numbers from the registries -------------------------------------------------------------------------------

# tcpdump.org link-layer header types (LINKTYPE_*, not the platform-dependent DLT_* values).
LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in the *writer's* byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4/IPv6, version nibble tells which
LINKTYPE_LOOP = 108  # OpenBSD loopback: like NULL but the family is always big-endian
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

#: link name (as `sip_udp_frame(link=...)` takes it) -> LINKTYPE to pass to the writers
LINKTYPES = {
    "ethernet": LINKTYPE_ETHERNET,
    "raw": LINKTYPE_RAW,
    "sll": LINKTYPE_LINUX_SLL,
    "sll2": LINKTYPE_LINUX_SLL2,
    "null": LINKTYPE_NULL,
    "loop": LINKTYPE_LOOP,
}

# IEEE EtherTypes
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100  # IEEE 802.1Q C-tag
ETHERTYPE_QINQ = 0x88A8  # IEEE 802.1ad S-tag (outer tag of QinQ)
GRE_PROTO_ERSPAN_II = 0x88BE  # also ERSPAN type I (then without GRE sequence number)
GRE_PROTO_ERSPAN_III = 0x22EB

# IANA protocol numbers
IPPROTO_IPIP = 4
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
IPPROTO_IPV6_FRAGMENT = 44
IPPROTO_GRE = 47

# Address families as BSD loopback headers carry them (AF_INET is 2 everywhere; AF_INET6 differs per OS:
# 24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin; Wireshark accepts all three).
AF_INET = 2
AF_INET6_BSD = 24


# --- helpers ---------------------------------------------------------------------------------------------------

def inet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's-complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _mac(mac: str | bytes) -> bytes:
    """'02:00:00:00:00:01' (or 6 raw bytes) -> 6 bytes."""
    if isinstance(mac, bytes):
        if len(mac) != 6:
            raise ValueError(f"a MAC address has 6 octets, got {len(mac)}")
        return mac
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"bad MAC address {mac!r}")
    return raw


def _ip(addr: str | bytes, version: int | None = None) -> bytes:
    """Dotted/colon text (or packed bytes) -> packed address, checked against the IP version if given."""
    packed = addr if isinstance(addr, bytes) else ipaddress.ip_address(addr).packed
    if version == 4 and len(packed) != 4 or version == 6 and len(packed) != 16:
        raise ValueError(f"{addr!r} is not an IPv{version} address")
    return packed


def _is_v6(addr: str | bytes) -> bool:
    return len(_ip(addr)) == 16


# --- link layers -----------------------------------------------------------------------------------------------

def ethernet(
    payload: bytes,
    ethertype: int = ETHERTYPE_IPV4,
    src_mac: str | bytes = "02:00:00:00:00:01",
    dst_mac: str | bytes = "02:00:00:00:00:02",
    vlans: Sequence[int | tuple[int, int]] = (),
) -> bytes:
    """Ethernet II frame (LINKTYPE_ETHERNET 1), optionally VLAN-tagged; no FCS (captures usually have none).

    ====================  ======  =====================================================
    field                 octets  value
    ====================  ======  =====================================================
    destination MAC       6       dst_mac
    source MAC            6       src_mac
    per tag: TPID         2       0x88a8 for the outer tag of a stack (802.1ad), else 0x8100 (802.1Q)
    per tag: TCI          2       PCP (3 bits) | DEI (1 bit) | VLAN id (12 bits)
    EtherType             2       ethertype
    ====================  ======  =====================================================

    vlans: outermost first; each an id or ``(id, pcp)``.
    """
    tags = b""
    for i, tag in enumerate(vlans):
        vid, pcp = (tag, 0) if isinstance(tag, int) else tag
        tpid = ETHERTYPE_QINQ if len(vlans) > 1 and i == 0 else ETHERTYPE_VLAN
        tags += struct.pack("!HH", tpid, (pcp & 0x7) << 13 | (vid & 0xFFF))
    return _mac(dst_mac) + _mac(src_mac) + tags + struct.pack("!H", ethertype) + payload


def sll(
    payload: bytes,
    protocol: int = ETHERTYPE_IPV4,
    packet_type: int = 0,
    hatype: int = 1,
    src_mac: str | bytes = "02:00:00:00:00:01",
) -> bytes:
    """Linux "cooked" capture v1 header (LINKTYPE_LINUX_SLL 113, tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html).

    ====================  ======  =====================================================
    packet type           2       0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us
    ARPHRD type           2       hatype (1 = Ethernet)
    link-layer addr len   2       6
    link-layer address    8       src_mac, zero-padded to 8
    protocol type         2       EtherType of the payload
    ====================  ======  =====================================================
    """
    addr = _mac(src_mac)
    return struct.pack("!HHH8sH", packet_type, hatype, len(addr), addr, protocol) + payload


def sll2(
    payload: bytes,
    protocol: int = ETHERTYPE_IPV4,
    ifindex: int = 1,
    packet_type: int = 0,
    hatype: int = 1,
    src_mac: str | bytes = "02:00:00:00:00:01",
) -> bytes:
    """Linux "cooked" capture v2 header (LINKTYPE_LINUX_SLL2 276, tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html).

    ====================  ======  =====================================================
    protocol type         2       EtherType of the payload
    reserved              2       0
    interface index       4       ifindex
    ARPHRD type           2       hatype
    packet type           1       as in SLL v1
    link-layer addr len   1       6
    link-layer address    8       src_mac, zero-padded to 8
    ====================  ======  =====================================================
    """
    addr = _mac(src_mac)
    return struct.pack("!HHIHBB8s", protocol, 0, ifindex, hatype, packet_type, len(addr), addr) + payload


def null_loopback(payload: bytes, family: int = AF_INET, big_endian: bool = False) -> bytes:
    """BSD loopback header: a 4-byte address family (LINKTYPE_NULL 0 / LINKTYPE_LOOP 108).

    LINKTYPE_NULL stores the family in the byte order of the host that wrote the file (so little-endian for a
    little-endian pcap); LINKTYPE_LOOP always stores it big-endian: pass ``big_endian=True`` for LOOP.
    """
    return struct.pack(">I" if big_endian else "<I", family) + payload


def link_frame(ip_packet: bytes, link: str = "ethernet", **link_kwargs) -> bytes:
    """Put an IPv4/IPv6 packet behind the named link layer (a key of LINKTYPES); the version nibble picks the
    EtherType / address family. Extra keyword arguments go to the link-layer function (e.g. ``vlans=(10,)``)."""
    v6 = ip_packet[0] >> 4 == 6
    ethertype = ETHERTYPE_IPV6 if v6 else ETHERTYPE_IPV4
    if link == "ethernet":
        return ethernet(ip_packet, ethertype, **link_kwargs)
    if link == "raw":
        return ip_packet
    if link == "sll":
        return sll(ip_packet, ethertype, **link_kwargs)
    if link == "sll2":
        return sll2(ip_packet, ethertype, **link_kwargs)
    if link in ("null", "loop"):
        return null_loopback(ip_packet, AF_INET6_BSD if v6 else AF_INET, big_endian=link == "loop")
    raise ValueError(f"unknown link {link!r}; one of {sorted(LINKTYPES)}")


# --- IP --------------------------------------------------------------------------------------------------------

def ipv4(
    src: str,
    dst: str,
    proto: int,
    payload: bytes,
    ident: int = 0,
    df: bool = False,
    mf: bool = False,
    frag_offset: int = 0,
    ttl: int = 64,
    tos: int = 0,
    total_length: int | None = None,
) -> bytes:
    """IPv4 header without options (RFC 791 §3.1), header checksum computed.

    ====================  ======  =====================================================
    version | IHL         1       0x45 (IHL = 5 words: no options)
    type of service       1       tos (DSCP << 2 | ECN; 0xb8 = EF for RTP)
    total length          2       20 + len(payload), or total_length to forge a bad one
    identification        2       ident
    flags | frag offset   2       0 | DF | MF, then the offset in 8-octet units (frag_offset is in octets)
    TTL                   1       ttl
    protocol              1       proto (17 UDP, 6 TCP, 47 GRE, 4 IP-in-IP)
    header checksum       2       RFC 1071 over the header
    source, destination   4 + 4   src, dst
    ====================  ======  =====================================================
    """
    if frag_offset % 8:
        raise ValueError("an IPv4 fragment offset is a multiple of 8 octets (RFC 791)")
    length = 20 + len(payload) if total_length is None else total_length
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_offset // 8)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, length, ident & 0xFFFF, flags, ttl, proto, 0,
                         _ip(src, 4), _ip(dst, 4))
    checksum = inet_checksum(header)
    return header[:10] + struct.pack("!H", checksum) + header[12:] + payload


def ipv6(
    src: str,
    dst: str,
    next_header: int,
    payload: bytes,
    hop_limit: int = 64,
    ext_headers: bytes = b"",
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    """IPv6 fixed header (RFC 8200 §3) followed by ``ext_headers`` (already chained) and the payload.

    ====================  ======  =====================================================
    version|TC|flow label 4       6 (4 bits) | traffic_class (8) | flow_label (20)
    payload length        2       len(ext_headers) + len(payload)
    next header           1       next_header: the first extension header's type when ext_headers is given
    hop limit             1       hop_limit
    source, destination   16+16   src, dst
    ====================  ======  =====================================================
    """
    first = 6 << 28 | (traffic_class & 0xFF) << 20 | (flow_label & 0xFFFFF)
    return struct.pack("!IHBB16s16s", first, len(ext_headers) + len(payload), next_header, hop_limit,
                       _ip(src, 6), _ip(dst, 6)) + ext_headers + payload


def ipv6_ext_header(next_header: int, data: bytes = b"") -> bytes:
    """A Hop-by-Hop, Routing or Destination Options header (RFC 8200 §4.3-4.6): next header (1), header length
    in 8-octet units not counting the first 8 (1), then ``data`` padded with a PadN option to a multiple of 8."""
    body = data
    pad = (-(2 + len(body))) % 8
    if pad == 1:
        body += b"\x00"  # Pad1 option
    elif pad > 1:
        body += bytes([1, pad - 2]) + bytes(pad - 2)  # PadN option
    return struct.pack("!BB", next_header, (2 + len(body)) // 8 - 1) + body


def ipv6_fragment_header(next_header: int, frag_offset: int, more: bool, ident: int) -> bytes:
    """IPv6 Fragment header (RFC 8200 §4.5), 8 octets.

    ====================  ======  =====================================================
    next header           1       type of the fragmentable part (17 UDP, ...)
    reserved              1       0
    offset | res | M      2       offset in 8-octet units (13 bits) << 3 | M flag
    identification        4       ident
    ====================  ======  =====================================================
    """
    if frag_offset % 8:
        raise ValueError("an IPv6 fragment offset is a multiple of 8 octets (RFC 8200 §4.5)")
    return struct.pack("!BBHI", next_header, 0, (frag_offset // 8) << 3 | int(more), ident & 0xFFFFFFFF)


def fragment_ipv4(src: str, dst: str, proto: int, payload: bytes, mtu: int, ident: int, **ip_kwargs) -> list[bytes]:
    """Split an IP payload (e.g. a whole UDP datagram) into IPv4 fragments that fit ``mtu`` (RFC 791 §2.3):
    every fragment but the last carries a multiple of 8 octets and MF; offsets count octets of the payload."""
    chunk = (mtu - 20) // 8 * 8
    if chunk <= 0:
        raise ValueError(f"MTU {mtu} leaves no room for data after a 20-octet header")
    pieces = [payload[i:i + chunk] for i in range(0, len(payload), chunk)] or [b""]
    return [
        ipv4(src, dst, proto, piece, ident=ident, mf=i < len(pieces) - 1, frag_offset=i * chunk, **ip_kwargs)
        for i, piece in enumerate(pieces)
    ]


def fragment_ipv6(src: str, dst: str, next_header: int, payload: bytes, mtu: int, ident: int,
                  **ip_kwargs) -> list[bytes]:
    """Split an upper-layer payload into IPv6 fragments with Fragment headers (RFC 8200 §4.5): each packet is
    40 (fixed header) + 8 (Fragment header) + data, data a multiple of 8 octets except in the last fragment."""
    chunk = (mtu - 40 - 8) // 8 * 8
    if chunk <= 0:
        raise ValueError(f"MTU {mtu} leaves no room for data after the IPv6 and Fragment headers")
    pieces = [payload[i:i + chunk] for i in range(0, len(payload), chunk)] or [b""]
    return [
        ipv6(src, dst, IPPROTO_IPV6_FRAGMENT, piece,
             ext_headers=ipv6_fragment_header(next_header, i * chunk, i < len(pieces) - 1, ident), **ip_kwargs)
        for i, piece in enumerate(pieces)
    ]


def _pseudo_header(src: str, dst: str, proto: int, length: int) -> bytes:
    """The pseudo-header a UDP/TCP checksum covers: RFC 768 / RFC 793 §3.1 for IPv4, RFC 8200 §8.1 for IPv6."""
    if _is_v6(src):
        return _ip(src, 6) + _ip(dst, 6) + struct.pack("!IxxxB", length, proto)
    return _ip(src, 4) + _ip(dst, 4) + struct.pack("!xBH", proto, length)


# --- transport -------------------------------------------------------------------------------------------------

def udp(sport: int, dport: int, payload: bytes, src: str | None = None, dst: str | None = None) -> bytes:
    """UDP header (RFC 768): source port, destination port, length (8 + payload), checksum.

    The checksum is computed over the pseudo-header when ``src`` and ``dst`` are given (a computed 0 is sent as
    0xFFFF); otherwise it is 0, which means "no checksum" for IPv4 (IPv6 requires one, RFC 8200 §8.1: give the
    addresses when building IPv6 traffic).
    """
    length = 8 + len(payload)
    checksum = 0
    if src is not None and dst is not None:
        checksum = inet_checksum(_pseudo_header(src, dst, IPPROTO_UDP, length)
                                 + struct.pack("!HHHH", sport, dport, length, 0) + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, checksum) + payload


_TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}


def tcp(
    sport: int,
    dport: int,
    seq: int,
    payload: bytes,
    ack: int = 0,
    flags: str = "PA",
    window: int = 65535,
    src: str | None = None,
    dst: str | None = None,
) -> bytes:
    """TCP header without options (RFC 9293 §3.1), checksum computed when ``src``/``dst`` are given, else 0.

    ====================  ======  =====================================================
    source/dest port      2 + 2   sport, dport
    sequence number       4       seq
    acknowledgment        4       ack
    data offset | flags   2       5 words << 12 | CWR ECE URG ACK PSH RST SYN FIN (flags "SAPRFUEC" letters)
    window                2       window
    checksum              2       pseudo-header + segment, or 0
    urgent pointer        2       0
    ====================  ======  =====================================================
    """
    bits = 0
    for letter in flags:
        bits |= _TCP_FLAGS[letter.upper()]
    header = struct.pack("!HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 12 | bits,
                         window, 0, 0)
    if src is not None and dst is not None:
        checksum = inet_checksum(_pseudo_header(src, dst, IPPROTO_TCP, len(header) + len(payload)) + header + payload)
        header = header[:16] + struct.pack("!H", checksum) + header[18:]
    return header + payload


# --- tunnels ---------------------------------------------------------------------------------------------------

def gre(payload: bytes, protocol: int = ETHERTYPE_IPV4, key: int | None = None, seq: int | None = None,
        checksum: bool = False) -> bytes:
    """GRE header (RFC 2784 §2.1, Key and Sequence Number from RFC 2890 §2); carry it in IPv4 proto 47.

    ====================  ======  =====================================================
    C|R|K|S|... |Ver      2       C 0x8000, K 0x2000, S 0x1000; version 0
    protocol type         2       EtherType of the payload (0x0800, 0x88BE ERSPAN II, 0x22EB ERSPAN III)
    checksum, reserved1   2 + 2   only if C: RFC 1071 over GRE header and payload
    key                   4       only if K
    sequence number       4       only if S
    ====================  ======  =====================================================
    """
    bits = (0x8000 if checksum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    optional = b""
    if key is not None:
        optional += struct.pack("!I", key)
    if seq is not None:
        optional += struct.pack("!I", seq)
    if not checksum:
        return struct.pack("!HH", bits, protocol) + optional + payload
    unsummed = struct.pack("!HHHH", bits, protocol, 0, 0) + optional + payload
    return struct.pack("!HHHH", bits, protocol, inet_checksum(unsummed), 0) + optional + payload


def erspan_ii(payload_ethernet_frame: bytes, session_id: int = 1, seq: int = 0, vlan: int = 0, cos: int = 0,
              index: int = 0) -> bytes:
    """ERSPAN type II (draft-foschiano-erspan §4.2) inside GRE with a sequence number, protocol 0x88BE.

    Returns the GRE packet; put it in ``ipv4(..., proto=47, payload=...)``. The ERSPAN header (8 octets):

    ====================  ======  =====================================================
    Ver | VLAN            2       1 (4 bits) | original VLAN (12 bits)
    COS|En|T|Session ID   2       COS (3) | encapsulation type En (2, 0 = untagged) | T (1) | session (10)
    Reserved | Index      4       0 (12 bits) | index (20 bits)
    ====================  ======  =====================================================
    """
    header = struct.pack("!HHI", 1 << 12 | (vlan & 0xFFF), (cos & 7) << 13 | (session_id & 0x3FF),
                         index & 0xFFFFF)
    return gre(header + payload_ethernet_frame, GRE_PROTO_ERSPAN_II, seq=seq)


def erspan_iii(payload_ethernet_frame: bytes, session_id: int = 1, seq: int = 0, vlan: int = 0, cos: int = 0,
               timestamp: int = 0, hw_id: int = 0, granularity: int = 0) -> bytes:
    """ERSPAN type III (draft-foschiano-erspan §4.3) inside GRE with a sequence number, protocol 0x22EB.

    Returns the GRE packet. The ERSPAN header (12 octets, no platform-specific subheader: O = 0):

    ====================  ======  =====================================================
    Ver | VLAN            2       2 (4 bits) | original VLAN (12 bits)
    COS|BSO|T|Session ID  2       COS (3) | BSO (2) | T (1) | session (10)
    timestamp             4       timestamp, in units set by Gra
    SGT                   2       0
    P|FT|Hw ID|D|Gra|O    2       P 0 | frame type 0 = Ethernet (5) | hw_id (6) | D 0 | granularity (2) | O 0
    ====================  ======  =====================================================
    """
    header = struct.pack("!HHIHH", 2 << 12 | (vlan & 0xFFF), (cos & 7) << 13 | (session_id & 0x3FF),
                         timestamp & 0xFFFFFFFF, 0, (hw_id & 0x3F) << 4 | (granularity & 3) << 1)
    return gre(header + payload_ethernet_frame, GRE_PROTO_ERSPAN_III, seq=seq)


# HEPv3 chunk types (vendor 0, generic), from the HEP/EEP spec (github.com/sipcapture/HEP, "HEP3 Network Protocol
# Specification"): each chunk is vendor id (2) | type id (2) | length incl. these 6 octets (2) | value.
HEP_IP_FAMILY, HEP_IP_PROTO, HEP_IPV4_SRC, HEP_IPV4_DST, HEP_IPV6_SRC, HEP_IPV6_DST = 1, 2, 3, 4, 5, 6
HEP_SRC_PORT, HEP_DST_PORT, HEP_TS_SEC, HEP_TS_USEC, HEP_PROTO_TYPE, HEP_CAPTURE_ID = 7, 8, 9, 10, 11, 12
HEP_AUTH_KEY, HEP_PAYLOAD = 14, 15


def _hep_chunk(type_id: int, value: bytes, vendor_id: int = 0) -> bytes:
    return struct.pack("!HHH", vendor_id, type_id, 6 + len(value)) + value


def hep3(
    payload: bytes,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    ts_ns: int,
    proto_type: int = 1,
    ip_proto: int = IPPROTO_UDP,
    capture_id: int = 2001,
    auth_key: str | bytes | None = None,
) -> bytes:
    """A HEPv3 packet (the UDP payload sent to a collector, usually port 9060).

    ====================  ======  =====================================================
    "HEP3"                4       magic
    total length          2       of the whole packet, header included
    chunk 1  ip family    1       2 (AF_INET) or 10 (AF_INET6, Linux value as the spec uses)
    chunk 2  ip proto     1       ip_proto (17 UDP, 6 TCP)
    chunk 3/4 or 5/6      4 / 16  source, destination address
    chunk 7/8             2 + 2   source, destination port
    chunk 9/10            4 + 4   timestamp seconds, microseconds
    chunk 11 proto type   1       proto_type (1 SIP, 5 RTCP, 100 log, ...)
    chunk 12 capture id   4       capture_id
    chunk 14 auth key     n       only if auth_key
    chunk 15 payload      n       the captured payload (the SIP message)
    ====================  ======  =====================================================
    """
    v6 = _is_v6(src)
    secs, usecs = divmod(ts_ns // 1000, 1_000_000)
    chunks = [
        _hep_chunk(HEP_IP_FAMILY, bytes([10 if v6 else 2])),
        _hep_chunk(HEP_IP_PROTO, bytes([ip_proto])),
        _hep_chunk(HEP_IPV6_SRC if v6 else HEP_IPV4_SRC, _ip(src)),
        _hep_chunk(HEP_IPV6_DST if v6 else HEP_IPV4_DST, _ip(dst)),
        _hep_chunk(HEP_SRC_PORT, struct.pack("!H", sport)),
        _hep_chunk(HEP_DST_PORT, struct.pack("!H", dport)),
        _hep_chunk(HEP_TS_SEC, struct.pack("!I", secs)),
        _hep_chunk(HEP_TS_USEC, struct.pack("!I", usecs)),
        _hep_chunk(HEP_PROTO_TYPE, bytes([proto_type])),
        _hep_chunk(HEP_CAPTURE_ID, struct.pack("!I", capture_id)),
    ]
    if auth_key is not None:
        chunks.append(_hep_chunk(HEP_AUTH_KEY, auth_key.encode() if isinstance(auth_key, str) else auth_key))
    chunks.append(_hep_chunk(HEP_PAYLOAD, payload))
    body = b"".join(chunks)
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def ws_frame(payload: bytes, opcode: int = 1, fin: bool = True, mask_key: bytes | None = None) -> bytes:
    """A WebSocket frame (RFC 6455 §5.2); client-to-server frames must be masked (pass a 4-byte mask_key).

    ====================  ======  =====================================================
    FIN|RSV1-3|opcode     1       FIN 0x80 | opcode (1 text, 2 binary, 0 continuation, 8 close, 9 ping, 10 pong)
    MASK|payload len      1       MASK 0x80 | 0-125, or 126 (16-bit length follows) or 127 (64-bit follows)
    extended length       0/2/8   the length when it is over 125 / over 65535
    masking key           0/4     mask_key
    payload               n       XOR-ed with the key, octet i with key[i % 4] (§5.3)
    ====================  ======  =====================================================
    """
    first = (0x80 if fin else 0) | (opcode & 0x0F)
    mask_bit = 0x80 if mask_key is not None else 0
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, mask_bit | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if mask_key is None:
        return header + payload
    if len(mask_key) != 4:
        raise ValueError("a WebSocket masking key has 4 octets")
    masked = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
    return header + mask_key + masked


def rtp_packet(
    seq: int,
    ts: int,
    ssrc: int,
    pt: int = 0,
    marker: bool = False,
    payload: bytes = b"\xff" * 160,
    csrcs: Sequence[int] = (),
    extension: tuple[int, bytes] | None = None,
    padding: int = 0,
) -> bytes:
    """An RTP packet (RFC 3550 §5.1; header extension §5.3.1; padding: P bit and a count in the last octet).

    ====================  ======  =====================================================
    V|P|X|CC              1       2 << 6 | P << 5 | X << 4 | len(csrcs)
    M|PT                  1       marker << 7 | pt (0 PCMU, 8 PCMA, RFC 3551)
    sequence number       2       seq (mod 2^16)
    timestamp             4       ts (mod 2^32)
    SSRC                  4       ssrc
    CSRC list             4 each  csrcs
    extension             4 + n   only if extension=(profile, data): profile (2) | length in words (2) | data
    payload               n       payload (default: 20 ms of PCMU silence)
    padding               n       padding octets, the last one holds the count (padding >= 1)
    ====================  ======  =====================================================
    """
    if len(csrcs) > 15:
        raise ValueError("at most 15 CSRCs fit in CC")
    first = 2 << 6 | (0x20 if padding else 0) | (0x10 if extension is not None else 0) | len(csrcs)
    packet = struct.pack("!BBHII", first, (0x80 if marker else 0) | (pt & 0x7F), seq & 0xFFFF, ts & 0xFFFFFFFF,
                         ssrc & 0xFFFFFFFF)
    packet += b"".join(struct.pack("!I", c) for c in csrcs)
    if extension is not None:
        profile, data = extension
        data += bytes(-len(data) % 4)  # the extension is a whole number of 32-bit words
        packet += struct.pack("!HH", profile, len(data) // 4) + data
    packet += payload
    if padding:
        if not 1 <= padding <= 255:
            raise ValueError("padding is 1..255 octets including the count octet")
        packet += bytes(padding - 1) + bytes([padding])
    return packet


# --- SIP convenience -------------------------------------------------------------------------------------------

def sip_bytes(text: str | bytes) -> bytes:
    """SIP text -> wire bytes. A str has its line ends normalised to CRLF (RFC 3261 §7: CRLF ends every line), so
    tests can write messages as ordinary triple-quoted strings; bytes are taken as they are (for malformed tests)."""
    if isinstance(text, bytes):
        return text
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def sip_udp_frame(
    text: str | bytes,
    src: str = "192.168.1.10",
    dst: str = "203.0.113.5",
    sport: int = 5060,
    dport: int = 5060,
    link: str = "ethernet",
    ident: int = 0,
    tos: int = 0,
    **link_kwargs,
) -> bytes:
    """One SIP message over UDP over IPv4 or IPv6 (picked from ``src``) behind ``link`` (a key of LINKTYPES:
    write the capture with ``LINKTYPES[link]``). The UDP checksum is computed. ``tos``: the IPv4 TOS octet or the
    IPv6 traffic class (DSCP << 2). Extra keyword arguments go to the link layer (e.g. ``vlans=(100,)``)."""
    datagram = udp(sport, dport, sip_bytes(text), src, dst)
    if _is_v6(src):
        packet = ipv6(src, dst, IPPROTO_UDP, datagram, traffic_class=tos)
    else:
        packet = ipv4(src, dst, IPPROTO_UDP, datagram, ident=ident, tos=tos)
    return link_frame(packet, link, **link_kwargs)


# --- file writers ----------------------------------------------------------------------------------------------

Record = tuple[int, bytes] | tuple[int, bytes, int]


def _open_dst(dst: str | os.PathLike | BinaryIO):
    """(file object, whether we opened it and so must close it)."""
    if hasattr(dst, "write"):
        return dst, False
    return open(dst, "wb"), True


def _cut(frame: bytes, orig_len: int | None, snaplen: int) -> tuple[bytes, int]:
    """Apply the snap length: the data kept is at most snaplen octets; orig_len is what was on the wire. A caller
    who passes orig_len > len(frame) has cut the frame already (a truncated record on purpose)."""
    wire = len(frame) if orig_len is None else orig_len
    return frame[:snaplen], wire


def write_pcap(
    dst: str | os.PathLike | BinaryIO,
    records: Iterable[Record],
    linktype: int,
    nanos: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
) -> None:
    """Write a classic libpcap file (draft-ietf-opsawg-pcap §4-5).

    File header (24 octets): magic 0xA1B2C3D4 (µs) or 0xA1B23C4D (ns) in the file's byte order, version 2.4,
    thiszone 0, sigfigs 0, snaplen, linktype. Each record: ts seconds (4), ts µs/ns (4), captured length (4),
    original length (4), data.

    records: ``(ts_ns, frame)`` or ``(ts_ns, frame, orig_len)``.
    """
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out, owned = _open_dst(dst)
    try:
        out.write(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for record in records:
            ts_ns, frame = record[0], record[1]
            data, wire = _cut(frame, record[2] if len(record) > 2 else None, snaplen)
            secs, frac_ns = divmod(ts_ns, 1_000_000_000)
            frac = frac_ns if nanos else frac_ns // 1000
            out.write(struct.pack(order + "IIII", secs, frac, len(data), wire) + data)
    finally:
        if owned:
            out.close()


def write_pcap_gz(dst: str | os.PathLike | BinaryIO, records: Iterable[Record], linktype: int, **kwargs) -> None:
    """``write_pcap`` through gzip (Wireshark and tcpdump read .pcap.gz directly). mtime is fixed at 0 so the
    output is byte-for-byte deterministic."""
    out, owned = _open_dst(dst)
    try:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            write_pcap(gz, records, linktype, **kwargs)
    finally:
        if owned:
            out.close()


class SimplePacket(NamedTuple):
    """A Simple Packet Block for write_pcapng (pcapng §4.4): no interface id (always interface 0), no timestamp."""

    data: bytes
    orig_len: int | None = None


# pcapng block types and option codes (draft-ietf-opsawg-pcapng §4, §11)
_BT_SHB, _BT_IDB, _BT_SPB, _BT_ISB, _BT_EPB = 0x0A0D0D0A, 0x00000001, 0x00000003, 0x00000005, 0x00000006
_OPT_ENDOFOPT, _OPT_IF_NAME, _OPT_IF_TSRESOL, _OPT_IF_TSOFFSET = 0, 2, 9, 14
_OPT_ISB_IFRECV, _OPT_ISB_IFDROP = 4, 5


def _ts_units(ts_ns: int, tsresol: int) -> int:
    """ns -> units of the interface's resolution: if_tsresol is 10^-n seconds, or 2^-n when its top bit is set."""
    if tsresol & 0x80:
        return ts_ns * (1 << (tsresol & 0x7F)) // 1_000_000_000
    if tsresol <= 9:
        return ts_ns // 10 ** (9 - tsresol)
    return ts_ns * 10 ** (tsresol - 9)


def write_pcapng(
    dst: str | os.PathLike | BinaryIO,
    interfaces: Sequence[tuple[int, int] | tuple[int, int, int] | tuple[int, int, int, int]],
    records: Iterable[tuple | SimplePacket],
    statistics: Iterable[tuple[int, int, int, int]] = (),
    big_endian: bool = False,
    snaplen: int = 262144,
) -> None:
    """Write a pcapng file (draft-ietf-opsawg-pcapng): one Section Header Block, one Interface Description Block
    per interface, the packets, then the Interface Statistics Blocks.

    interfaces: ``(linktype, tsresol_exp10)``, ``(linktype, tsresol_exp10, snaplen)`` or ``(linktype,
        tsresol_exp10, snaplen, tsoffset_s)``; tsresol 6 = µs, 9 = ns (written as the if_tsresol option every time,
        even for the default 6); tsoffset_s: the if_tsoffset option (seconds added to every time, §4.2).
    records: Enhanced Packet Blocks ``(iface_index, ts_ns, frame[, orig_len])``, or ``SimplePacket(frame[,
        orig_len])`` for a Simple Packet Block (interface 0, no timestamp).
    statistics: ``(iface_index, ts_ns, ifrecv, ifdrop)`` -> ISB with isb_ifrecv and isb_ifdrop options.

    Every block is: block type (4) | total length (4) | body padded to 32 bits | total length (4).
    """
    order = ">" if big_endian else "<"

    def block(block_type: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        total = 12 + len(body)
        return struct.pack(order + "II", block_type, total) + body + struct.pack(order + "I", total)

    def option(code: int, value: bytes) -> bytes:
        return struct.pack(order + "HH", code, len(value)) + value + bytes(-len(value) % 4)

    end_of_options = struct.pack(order + "HH", _OPT_ENDOFOPT, 0)
    resolutions = []
    snaplens = []
    out, owned = _open_dst(dst)
    try:
        # SHB: byte-order magic, version 1.0, section length -1 (not given)
        out.write(block(_BT_SHB, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)))
        for iface in interfaces:
            linktype, tsresol = iface[0], iface[1]
            if_snaplen = iface[2] if len(iface) > 2 else snaplen
            resolutions.append(tsresol)
            snaplens.append(if_snaplen)
            options = option(_OPT_IF_TSRESOL, bytes([tsresol]))
            if len(iface) > 3:
                options += option(_OPT_IF_TSOFFSET, struct.pack(order + "q", iface[3]))
            options += end_of_options
            out.write(block(_BT_IDB, struct.pack(order + "HHI", linktype, 0, if_snaplen) + options))
        for record in records:
            if isinstance(record, SimplePacket):
                data, wire = _cut(record.data, record.orig_len, snaplens[0])
                out.write(block(_BT_SPB, struct.pack(order + "I", wire) + data))
                continue
            iface_index, ts_ns, frame = record[0], record[1], record[2]
            data, wire = _cut(frame, record[3] if len(record) > 3 else None, snaplens[iface_index])
            units = _ts_units(ts_ns, resolutions[iface_index])
            out.write(block(_BT_EPB, struct.pack(order + "IIIII", iface_index, units >> 32, units & 0xFFFFFFFF,
                                                 len(data), wire) + data))
        for iface_index, ts_ns, ifrecv, ifdrop in statistics:
            units = _ts_units(ts_ns, resolutions[iface_index])
            options = (option(_OPT_ISB_IFRECV, struct.pack(order + "Q", ifrecv))
                       + option(_OPT_ISB_IFDROP, struct.pack(order + "Q", ifdrop)) + end_of_options)
            out.write(block(_BT_ISB, struct.pack(order + "III", iface_index, units >> 32, units & 0xFFFFFFFF)
                            + options))
    finally:
        if owned:
            out.close()
