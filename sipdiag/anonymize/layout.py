"""Where the addresses and payloads of one captured frame are: link, ARP, IP (also IP-in-IP), UDP/TCP/ICMP.

Offsets only; nothing is copied. The link types are those the lab and the corpus use: Ethernet with 802.1Q/QinQ
tags, PPPoE and MPLS, Linux cooked v1/v2, raw IP, BSD/OpenBSD loopback; inside IP: IP-in-IP and GRE (also ERSPAN
II/III) and PPTP's enhanced GRE carrying PPP; PPP's IPCP options (PPPoE, PPTP) name addresses too; tunnels in UDP
that `sipdiag analyze` reads (VXLAN, GTP-U), and SCTP (its chunks are walked by `frames`). HEP is told by its
content (`hep`). What is not looked into (another IP protocol, a GRE payload of another kind) is `opaque`:
`--drop-other` zeroes it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..parsers import linktypes as lt

ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
ETH_PPPOE_SESSION, ETH_MPLS, ETH_MPLS_MC, ETH_BRIDGED = 0x8864, 0x8847, 0x8848, 0x6558
ETH_ERSPAN2, ETH_ERSPAN3 = 0x88BE, 0x22EB
ETH_PPP = 0x880B  # PPP in enhanced GRE (PPTP, RFC 2637 §4.1)
PPP_IPV4, PPP_IPV6, PPP_IPCP = 0x0021, 0x0057, 0x8021  # RFC 1661, RFC 5072, RFC 1332
# IPCP options holding one IPv4 address: IP-Address (RFC 1332 §3.3), primary/secondary DNS and NBNS (RFC 1877 §1).
IPCP_ADDRESS_OPTIONS = (3, 129, 130, 131, 132)
PROTO_GRE, PROTO_SCTP, PROTO_NONE = 47, 132, 59
VXLAN_PORT, GTPU_PORT = 4789, 2152  # as sipdiag.parsers.net reads them
PROTO_ICMP, PROTO_IPIP, PROTO_TCP, PROTO_UDP, PROTO_IPV6, PROTO_ICMPV6 = 1, 4, 6, 17, 41, 58
IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options (RFC 8200 §4)
IPV6_FRAGMENT = 44


@dataclass(slots=True)
class IpLayer:
    """One IP header: where its addresses are, what it carries, and its fragment identity if it is one."""

    version: int
    off: int
    addr_len: int
    src_off: int
    dst_off: int
    proto: int
    payload_off: int
    payload_end: int  # end of the IP payload within the captured bytes
    checksum_off: int | None = None  # IPv4 header checksum
    header_end: int = 0
    frag_key: tuple | None = None  # (src, dst, id, proto) when this is a fragment
    frag_offset: int = 0  # bytes
    frag_more: bool = False


@dataclass(slots=True)
class Transport:
    """UDP, TCP or ICMP inside the innermost IP layer (the first fragment only)."""

    kind: str  # udp | tcp | icmp4 | icmp6 | sctp (checksum_off: its 4-byte CRC32c)
    off: int
    checksum_off: int
    payload_off: int
    payload_end: int
    sport: int = 0
    dport: int = 0
    seq: int = 0


@dataclass(slots=True)
class Layout:
    macs: list[int] = field(default_factory=list)  # offsets of 6-byte MAC addresses
    arp_ips: list[int] = field(default_factory=list)  # offsets of 4-byte IPv4 addresses in ARP and PPP IPCP
    ips: list[IpLayer] = field(default_factory=list)  # outer first
    transport: Transport | None = None
    quoted: IpLayer | None = None  # the IP header an ICMP error quotes
    quoted_transport: Transport | None = None
    # UDP headers carrying a tunnel (VXLAN, GTP-U), outer first, with the index in `ips` of the IP header whose
    # addresses their checksum covers: their checksums follow what changes inside.
    tunnels: list[tuple[Transport, int]] = field(default_factory=list)
    opaque: list[tuple[int, int]] = field(default_factory=list)  # payloads not looked into: (start, end)


def decode(linktype: int, data: bytes | bytearray) -> Layout:
    """The layout of one frame; what cannot be read is simply absent."""
    out = Layout()
    n = len(data)
    if linktype == lt.ETHERNET:
        _ethernet(data, 0, out, 0)
    elif linktype == lt.SLL and n >= 16:
        hlen, = struct.unpack_from("!H", data, 4)
        if hlen == 6:
            out.macs.append(6)
        _ethertype(struct.unpack_from("!H", data, 14)[0], data, 16, out)
    elif linktype == lt.SLL2 and n >= 20:
        if data[11] == 6:
            out.macs.append(12)
        _ethertype(struct.unpack_from("!H", data, 0)[0], data, 20, out)
    elif linktype in lt.RAW_LINKTYPES or linktype in (lt.IPV4, lt.IPV6):
        _ip(data, 0, out)
    elif linktype in (lt.NULL, lt.LOOP) and n >= 4:
        _ip(data, 4, out)
    return out


def _ethernet(data, pos: int, out: Layout, depth: int) -> None:
    if pos + 14 > len(data) or depth > 4:
        return
    out.macs += [pos, pos + 6]
    et, pos = struct.unpack_from("!H", data, pos + 12)[0], pos + 14
    while et in VLAN_TAGS and pos + 4 <= len(data):
        et, pos = struct.unpack_from("!H", data, pos + 2)[0], pos + 4
    _ethertype(et, data, pos, out, depth + 1)


def _ethertype(et: int, data, pos: int, out: Layout, depth: int = 0) -> None:
    if et in (ETH_IPV4, ETH_IPV6):
        _ip(data, pos, out, depth)
    elif et == ETH_PPPOE_SESSION and pos + 6 <= len(data):
        _ppp(data, pos + 6, out, depth)  # after the PPPoE session header (RFC 2516 §4)
    elif et in (ETH_MPLS, ETH_MPLS_MC):
        while pos + 4 <= len(data):  # label stack entries up to the bottom-of-stack bit (RFC 3032 §2.1)
            bottom = data[pos + 2] & 0x01
            pos += 4
            if bottom:
                _ip(data, pos, out, depth)
                break
    elif et == ETH_ARP and pos + 8 <= len(data):
        _htype, ptype, hlen, plen = struct.unpack_from("!HHBB", data, pos)
        base = pos + 8
        if base + 2 * (hlen + plen) > len(data):
            return
        if hlen == 6:
            out.macs += [base, base + hlen + plen]
        if ptype == ETH_IPV4 and plen == 4:
            out.arp_ips += [base + hlen, base + 2 * hlen + plen]
    elif et not in VLAN_TAGS and pos < len(data):
        # LLDP and CDP (switch names, management addresses, port descriptions), PPPoE discovery, 802.3 LLC
        # frames, ...: not looked into
        out.opaque.append((pos, len(data)))


def _ip(data, pos: int, out: Layout, depth: int = 0) -> None:
    layer = ip_header(data, pos)
    if layer is None:
        return
    out.ips.append(layer)
    if layer.frag_key is not None and layer.frag_offset:
        return  # a later fragment: no transport header here
    proto, p, end = layer.proto, layer.payload_off, layer.payload_end
    if proto in (PROTO_IPIP, PROTO_IPV6) and depth < 4 and layer.frag_key is None:
        _ip(data, p, out, depth + 1)
    elif proto == PROTO_GRE and depth < 4 and p + 4 <= end:
        _gre(data, p, end, out, depth + 1)
    elif proto == PROTO_UDP and p + 8 <= end:
        sport, dport, length = struct.unpack_from("!HHH", data, p)
        stop = min(end, p + length) if length >= 8 else end
        out.transport = Transport("udp", p, p + 6, p + 8, stop, sport, dport)
        inner = _udp_tunnel(data, p + 8, stop, dport) if depth < 4 else None
        if inner is not None:
            out.tunnels.append((out.transport, len(out.ips) - 1))
            out.transport = None
            kind, at = inner
            if kind == "ethernet":
                _ethernet(data, at, out, depth + 1)
            else:
                _ip(data, at, out, depth + 1)
                if len(out.ips) - 1 == out.tunnels[-1][1]:
                    out.opaque.append((at, stop))  # a tunnelled packet that could not be read
    elif proto == PROTO_TCP and p + 20 <= end:
        sport, dport, seq = struct.unpack_from("!HHI", data, p)
        hl = (data[p + 12] >> 4) * 4
        if hl >= 20 and p + hl <= end:
            out.transport = Transport("tcp", p, p + 16, p + hl, end, sport, dport, seq)
    elif proto == PROTO_SCTP and p + 12 <= end:
        sport, dport = struct.unpack_from("!HH", data, p)
        out.transport = Transport("sctp", p, p + 8, p + 12, end, sport, dport)
    elif proto not in (PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP, PROTO_TCP, PROTO_GRE, PROTO_IPIP, PROTO_IPV6,
                       PROTO_NONE) and p < end:
        out.opaque.append((p, end))  # ESP, OSPF, VRRP, ...: addresses and keys in records not read here
    elif proto in (PROTO_ICMP, PROTO_ICMPV6) and p + 8 <= end:
        kind = "icmp4" if proto == PROTO_ICMP else "icmp6"
        out.transport = Transport(kind, p, p + 2, p + 8, end)
        icmp_type = data[p]
        # Error messages quote the offending packet's IP header and first bytes (RFC 792, RFC 4443 §3).
        errors = (3, 4, 5, 11, 12) if kind == "icmp4" else (1, 2, 3, 4)
        if icmp_type in errors:
            quoted = ip_header(data, p + 8, quoted=True)
            if quoted is not None:
                out.quoted = quoted
                q = quoted.payload_off
                if quoted.proto in (PROTO_UDP, PROTO_TCP) and not quoted.frag_offset:
                    csum = q + 6 if quoted.proto == PROTO_UDP else q + 16
                    if csum + 2 <= end:
                        # The quoted payload (as much of it as the router kept: up to 576 bytes in all, RFC 1812
                        # §4.3.2.3; the whole datagram up to the minimum MTU, RFC 4443 §3.1) is SIP, RTCP or STUN
                        # like the packet's own and is rewritten like it.
                        if quoted.proto == PROTO_UDP:
                            start = q + 8
                        else:
                            start = q + max(20, (data[q + 12] >> 4) * 4) if q + 13 <= end else end
                        out.quoted_transport = Transport("udp" if quoted.proto == PROTO_UDP else "tcp",
                                                         q, csum, min(start, end), end)


def _udp_tunnel(data, pos: int, end: int, dport: int) -> tuple[str, int] | None:
    """("ip" or "ethernet", where the inner packet starts) of a VXLAN (RFC 7348 §5, I flag set) or GTP-U G-PDU
    (3GPP TS 29.281 §5.1: version 1, protocol type GTP, message type 255) datagram, as `sipdiag analyze` reads
    them; None for anything else."""
    if dport == VXLAN_PORT and pos + 16 <= end and data[pos] & 0x08:
        return "ethernet", pos + 8
    if dport != GTPU_PORT or pos + 8 > end or data[pos] >> 5 != 1 or not data[pos] & 0x10 or data[pos + 1] != 0xFF:
        return None
    at = pos + 8
    if data[pos] & 0x07:  # E, S or PN: sequence number, N-PDU number, next extension header type
        if pos + 12 > end:
            return None
        next_type, at = data[pos + 11], pos + 12
        while next_type:  # extension headers, each length*4 bytes, its last octet naming the next one
            if at >= end or data[at] == 0:
                return None
            size = data[at] * 4
            next_type = data[at + size - 1] if at + size <= end else 0
            at += size
    return ("ip", at) if at < end and data[at] >> 4 in (4, 6) else None


def _ppp(data, pos: int, out: Layout, depth: int) -> None:
    """A PPP frame (RFC 1661 §2): the address and control bytes (FF 03) when not compressed away (RFC 1662 §3.2),
    the protocol in one byte when field compression made it so (its low bit set, RFC 1661 §6.5), then IPv4, IPv6,
    or IPCP, whose Configure-Request/Ack/Nak/Reject options give the subscriber's and the DNS servers' addresses."""
    n = len(data)
    if data[pos:pos + 2] == b"\xff\x03":
        pos += 2
    if pos + 1 > n:
        return
    if data[pos] & 0x01:
        proto, pos = data[pos], pos + 1
    elif pos + 2 <= n:
        proto, pos = struct.unpack_from("!H", data, pos)[0], pos + 2
    else:
        return
    if proto in (PPP_IPV4, PPP_IPV6):
        _ip(data, pos, out, depth)
    elif proto == PPP_IPCP and pos + 4 <= n and 1 <= data[pos] <= 4:
        end = min(n, pos + struct.unpack_from("!H", data, pos + 2)[0])
        opt = pos + 4
        while opt + 2 <= end and data[opt + 1] >= 2:
            kind, length = data[opt], data[opt + 1]
            if kind in IPCP_ADDRESS_OPTIONS and length == 6 and opt + 6 <= end:
                out.arp_ips.append(opt + 2)
            opt += length


def _gre(data, pos: int, end: int, out: Layout, depth: int) -> None:
    """GRE (RFC 2784/2890) carrying IP, bridged Ethernet or ERSPAN II/III mirror traffic, or PPTP's enhanced GRE
    (version 1, RFC 2637 §4.1: key always, acknowledgment number when the A bit is set) carrying PPP. A GRE
    checksum (C bit) is not updated; mirror tunnels do not use one."""
    flags, proto = struct.unpack_from("!HH", data, pos)
    p = pos + 4 + 4 * (bool(flags & 0x8000) + bool(flags & 0x2000) + bool(flags & 0x1000))
    if flags & 0x0007 == 1 and flags & 0x0080:
        p += 4
    if proto in (ETH_IPV4, ETH_IPV6):
        _ip(data, p, out, depth)
    elif proto not in (ETH_PPP, ETH_BRIDGED, ETH_ERSPAN2, ETH_ERSPAN3):
        if p < end:
            out.opaque.append((p, end))  # keepalives, WCCP, ...: not looked into
    elif proto == ETH_PPP and p < end:
        _ppp(data, p, out, depth)
    elif proto == ETH_BRIDGED:
        _ethernet(data, p, out, depth)
    elif proto == ETH_ERSPAN2:
        _ethernet(data, p + 8 if flags & 0x1000 else p, out, depth)  # type I (no sequence) has no header
    elif proto == ETH_ERSPAN3 and p + 12 <= end:
        _ethernet(data, p + 12 + (8 if data[p + 11] & 0x01 else 0), out, depth)


def ip_header(data, pos: int, quoted: bool = False) -> IpLayer | None:
    """One IPv4/IPv6 header at `pos`; `quoted` for the truncated copy inside an ICMP error."""
    n = len(data)
    if pos >= n:
        return None
    version = data[pos] >> 4
    if version == 4 and pos + 20 <= n:
        ihl = (data[pos] & 0x0F) * 4
        total, ident, frag = struct.unpack_from("!HHH", data, pos + 2)
        if ihl < 20:
            return None
        end = n if quoted else min(n, pos + total) if total >= ihl else n
        layer = IpLayer(4, pos, 4, pos + 12, pos + 16, data[pos + 9], pos + ihl, end, pos + 10, pos + ihl)
        offset, more = (frag & 0x1FFF) * 8, bool(frag & 0x2000)
        if offset or more:
            layer.frag_key = (bytes(data[pos + 12:pos + 20]), ident, layer.proto)
            layer.frag_offset, layer.frag_more = offset, more
        return layer
    if version == 6 and pos + 40 <= n:
        plen = struct.unpack_from("!H", data, pos + 4)[0]
        end = n if quoted else min(n, pos + 40 + plen)
        layer = IpLayer(6, pos, 16, pos + 8, pos + 24, data[pos + 6], pos + 40, end, None, pos + 40)
        nh, p = layer.proto, pos + 40
        while nh in IPV6_EXTENSIONS + (IPV6_FRAGMENT,) and p + 8 <= n:
            if nh == IPV6_FRAGMENT:
                frag, ident = struct.unpack_from("!HI", data, p + 2)
                layer.frag_key = (bytes(data[pos + 8:pos + 40]), ident, data[p])
                layer.frag_offset, layer.frag_more = frag & 0xFFF8, bool(frag & 1)
                nh, p = data[p], p + 8
            else:
                nh, p = data[p], p + (data[p + 1] + 1) * 8
        layer.proto, layer.payload_off = nh, p
        if layer.frag_key is not None:
            layer.frag_key = layer.frag_key[:2] + (nh,)
        return layer
    return None
