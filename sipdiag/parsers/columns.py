"""The fast path: link, IP, UDP and RTP fixed headers of a whole `RecordBatch`, decoded column-wise with NumPy.

Every record is classified into one of `Kind`; nothing here builds a Python object per packet. What the fast
path cannot finish (IP fragments, TCP, tunnels, ICMP, IPv6 extension headers, odd link types, HEP, STUN, RTCP)
is marked `RICH` and handed, record by record, to `sipdiag.parsers.net` (ARCHITECTURE.md "Two speeds").

Offsets are relative to each record's start; a field is only trusted where the record is long enough to hold it
(`caplen` check), so a snaplen-cut packet never reads its neighbour's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from ..npsets import member_of, unique
from .capture import Interface, RecordBatch, octet_view
from .linktypes import ETHERNET, IPV4, IPV6, LOOP, NULL, RAW_LINKTYPES, SLL, SLL2


class Kind(IntEnum):
    """What the fast path made of a record."""

    OTHER = 0  # IP traffic of no interest (DNS, HTTP, ...) or UDP that is neither SIP nor RTP
    NON_IP = 1  # ARP, LLDP, STP, ...
    RTP = 2  # RTP by its fixed header (RFC 3550 §5.1); bound to calls later through SDP
    SIP = 3  # a UDP payload that starts like a SIP request or status line (any port)
    RICH = 4  # needs the per-packet path
    TRUNCATED = 5  # too short for the headers its link type promises


# First four bytes of every SIP request method of RFC 3261 and its extensions, and of a status line.
# Found by content on any port (STYLE.md "What to avoid" 12).
SIP_PREFIXES = (
    b"INVI", b"ACK ", b"BYE ", b"CANC", b"REGI", b"OPTI", b"INFO", b"PRAC", b"SUBS", b"NOTI", b"PUBL", b"MESS",
    b"REFE", b"UPDA", b"SIP/",
)
SIP_PREFIX_WORDS = np.sort(np.array([int.from_bytes(p, "big") for p in SIP_PREFIXES], dtype=np.uint32))  # member_of
# Ports registered for SIP (RFC 3261 §19.1.2): any other payload on them is tried as SIP too, which catches
# extension methods the prefix list does not name (RFC 4475 §3.1.1.2).
SIP_PORTS = (5060, 5061)
HEP3_MAGIC = 0x48455033  # "HEP3"
# UDP tunnels the rich path opens: GTP-U (3GPP TS 29.281, mobile cores carrying IMS/VoLTE) and VXLAN (RFC 7348).
TUNNEL_PORTS = (2152, 4789)
# Port lookups as tables: a gather per packet instead of np.isin's sort-based search (57 ms of 1.2 s on the 1 M-packet
# benchmark capture for the SIP ports alone).
_SIP_PORT = np.zeros(65536, dtype=bool)
_SIP_PORT[list(SIP_PORTS)] = True
_TUNNEL_PORT = np.zeros(65536, dtype=bool)
_TUNNEL_PORT[list(TUNNEL_PORTS)] = True
# Registered UDP services that a V=2-looking first octet must not turn into RTP: DNS 53, DHCP 67/68, TFTP 69,
# NTP 123, NetBIOS 137/138, SNMP 161/162, IKE 500, syslog 514, SSDP 1900, IPsec NAT-T 4500, mDNS 5353, LLMNR 5355.
# Wireshark's RTP heuristic never sees them (their own dissectors take the port first); sipdiag took NetBIOS name
# queries for "L16 RTP" and bound them to calls. RTP uses dynamic ports (RFC 3550 §11, RFC 3551 §8).
SERVICE_PORTS = frozenset((53, 67, 68, 69, 123, 137, 138, 161, 162, 500, 514, 1900, 4500, 5353, 5355))
_SERVICE_PORT = np.zeros(65536, dtype=bool)
_SERVICE_PORT[sorted(SERVICE_PORTS)] = True
STUN_MAGIC_COOKIE = 0x2112A442  # RFC 5389 §6
# RTCP packet types 192-223 (RFC 5761 §4: RTP payload types 64-95 would collide with them)
RTCP_FIRST_BYTE2, RTCP_LAST_BYTE2 = 192, 223


DSCP_UNKNOWN = 255  # not a DSCP (six bits): the packet's IP header was not read for it


@dataclass(frozen=True, slots=True)
class RtpColumns:
    """RTP fixed-header fields of the records of one batch that the fast path took for RTP (RFC 3550 §5.1).

    Addresses are 128-bit values split in two uint64 (IPv4 mapped as ::ffff:a.b.c.d, RFC 4291 §2.5.5.2) so
    that IPv4 and IPv6 streams share one set of columns.
    """

    frame: np.ndarray  # int64, 1-based
    ts_ns: np.ndarray  # int64
    src_hi: np.ndarray  # uint64
    src_lo: np.ndarray  # uint64
    dst_hi: np.ndarray  # uint64
    dst_lo: np.ndarray  # uint64
    src_port: np.ndarray  # int32
    dst_port: np.ndarray  # int32
    marker: np.ndarray  # bool, M
    payload_type: np.ndarray  # int16, PT
    sequence: np.ndarray  # int32, sequence number
    timestamp: np.ndarray  # int64, RTP timestamp
    ssrc: np.ndarray  # int64, SSRC
    payload_len: np.ndarray  # int32, after CSRCs, extension and padding
    packet_len: np.ndarray  # int32, the UDP payload's length
    # uint32, the first four payload octets (after CSRCs and extension), big-endian; 0 when the payload is shorter.
    # RFC 4733 §2.3 events live there: event (8 bits), E|R|volume (8), duration (16).
    payload_word: np.ndarray
    # uint8, the DSCP of the IP header (TOS/traffic class >> 2; RFC 2474 §3), DSCP_UNKNOWN where the path that found
    # the packet did not read it (None: not read at all)
    dscp: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True, slots=True)
class UdpRows:
    """UDP payload locations of selected records (used for SIP candidates, which need no re-decoding)."""

    index: np.ndarray  # record index within the batch
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    src_port: np.ndarray
    dst_port: np.ndarray
    payload_off: np.ndarray  # absolute offset in batch.buf
    payload_len: np.ndarray
    dscp: np.ndarray | None = None  # uint8, the IP header's DSCP (qos.dscp-marking judges SIP's marking too)


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    kind: np.ndarray  # uint8 Kind per record
    rtp: RtpColumns
    sip: UdpRows
    rich: np.ndarray  # record indices for the per-packet path
    truncated: int  # records cut by the snap length (caplen < origlen)


V4_MAPPED = np.uint64(0xFFFF00000000)
# IP protocols (or IPv6 next headers) the rich path opens: TCP, ICMP, ICMPv6, GRE, IP-in-IP, IPv6-in-IP, SCTP, and
# IPv6 extension headers (hop-by-hop 0, routing 43, fragment 44, destination options 60, AH 51, ESP 50). A table
# lookup rather than np.isin's thirteen comparisons per packet.
_RICH_PROTO = np.zeros(256, dtype=bool)
_RICH_PROTO[[6, 1, 58, 47, 4, 41, 132, 0, 43, 44, 60, 51, 50]] = True


class _Gather:
    """Reads big-endian fields at per-record offsets. `np.take(mode="clip")` keeps a short record's reads inside
    the buffer (the values are then discarded by the length checks) and is twice as fast as fancy indexing.

    A gather costs the same whatever its width (the time is in reaching each record's cache line, measured 0.30 ms
    for 36 000 records at 2, 4 or 8 octets): neighbouring fields are read together, eight octets at a time
    (`u64`), and split with shifts and masks, which cost a twentieth of a gather."""

    def __init__(self, batch: RecordBatch) -> None:
        self.arr = np.frombuffer(batch.buf, dtype=np.uint8)
        # The buffer as big-endian 16-, 32- and 64-bit words starting at every octet (strided views, no copy): a
        # field is then one fancy-index gather instead of gathers of its octets and shifts (40 % less time measured).
        # Not np.take on them: take falls back to a slow element loop for unaligned strided sources.
        self.halves = octet_view(batch.buf, ">u2")
        self.words = octet_view(batch.buf, ">u4")
        self.quads = octet_view(batch.buf, ">u8")

    def u8(self, off: np.ndarray) -> np.ndarray:
        return np.take(self.arr, off, mode="clip").astype(np.int64)

    def u16(self, off: np.ndarray) -> np.ndarray:
        halves = self.halves
        if halves is None:  # a one-octet buffer
            take = np.take
            return (take(self.arr, off, mode="clip").astype(np.int64) << 8) | take(self.arr, off + 1, mode="clip")
        return halves[np.clip(off, 0, len(halves) - 1)].astype(np.int64)

    def u32(self, off: np.ndarray) -> np.ndarray:
        words = self.words
        if words is None:
            return (self.u16(off) << 16) | self.u16(off + 2)
        # Clipped like take(mode="clip"): a read past the end (a short record) gives a value the caller discards.
        return words[np.clip(off, 0, len(words) - 1)].astype(np.int64)

    def u64(self, off: np.ndarray) -> np.ndarray:
        """Eight octets at each offset as int64 (the top bit wraps to negative: split it with shifts *and* masks).
        Octets past the buffer's end read as zero, so a field that is inside a record at the very end of the buffer
        is read right (clipping the offset, as u32 does, would move the whole window)."""
        arr, quads = self.arr, self.quads
        last = len(arr) - 8
        out = (quads[np.clip(off, 0, last)].astype(np.uint64) if quads is not None
               else np.zeros(len(off), dtype=np.uint64)).view(np.int64)
        tail = np.flatnonzero(off > last)
        if len(tail):
            base = max(len(arr) - 8, 0)
            end = np.zeros(24, dtype=np.uint8)  # the buffer's last octets, then zeros
            end[:len(arr) - base] = arr[base:]
            window = octet_view(end.tobytes(), ">u8")
            out[tail] = window[np.clip(off[tail] - base, 0, 16)].astype(np.uint64).view(np.int64)
        return out


def decode_batch(batch: RecordBatch, interfaces: list[Interface]) -> DecodedBatch:
    """Classify every record of the batch and decode the RTP ones into columns."""
    n = len(batch)
    g = _Gather(batch)
    start = batch.data_off
    end = start + batch.caplen
    kind = np.full(n, Kind.RICH, dtype=np.uint8)

    # ---- link layer: the offset of the IP header and which IP version the link says follows
    l3 = np.full(n, -1, dtype=np.int64)
    ether = np.zeros(n, dtype=np.int64)
    linktypes = np.array([i.linktype for i in interfaces] + [-1], dtype=np.int64)
    lt = linktypes[np.where(batch.iface >= 0, batch.iface, len(interfaces))]
    # One link type in nearly every capture: min == max spares np.unique's sort of the whole batch (78 ms of 1.2 s).
    lo, hi = (int(lt.min()), int(lt.max())) if n else (0, 0)
    for code in ((lo,) if lo == hi else unique(lt)) if n else ():
        sel = np.flatnonzero(lt == code)
        s = start[sel]
        if code == ETHERNET:
            et, off = g.u16(s + 12), s + 14
            for _ in range(2):  # 802.1Q and QinQ (802.1ad 0x88a8, old 0x9100) tags
                tagged = np.flatnonzero((et == 0x8100) | (et == 0x88A8) | (et == 0x9100))
                if not len(tagged):
                    break
                et[tagged] = g.u16(off[tagged] + 2)
                off[tagged] += 4
        elif code == SLL:
            et, off = g.u16(s + 14), s + 16
        elif code == SLL2:
            et, off = g.u16(s), s + 20
        elif code in RAW_LINKTYPES or code in (IPV4, IPV6):
            ver = g.u8(s) >> 4
            et, off = np.where(ver == 6, 0x86DD, np.where(ver == 4, 0x0800, 0)), s
        elif code in (NULL, LOOP):
            # BSD loopback: the address family in host order (NULL) or network order (LOOP); IPv6 has several
            # values across BSDs (24, 28, 30).
            fam = g.u8(s) | g.u8(s + 3)
            et = np.where(fam == 2, 0x0800, np.where((fam == 24) | (fam == 28) | (fam == 30), 0x86DD, 0))
            off = s + 4
        else:
            continue  # unknown link type: the rich path records it
        l3[sel] = off
        ether[sel] = et
    known = l3 >= 0
    # Fix: a record shorter than its link header had its EtherType/family read from the next record's bytes
    # (a 10-byte Ethernet record came out NON_IP or IP); it is TRUNCATED, like every other cut header.
    cut = known & (l3 > end)
    kind[cut] = Kind.TRUNCATED
    known &= ~cut
    is4 = known & (ether == 0x0800)
    is6 = known & (ether == 0x86DD)
    kind[known & ~is4 & ~is6] = Kind.NON_IP
    # MPLS and PPPoE are unwrapped by the rich path.
    kind[known & ((ether == 0x8847) | (ether == 0x8864))] = Kind.RICH

    # ---- IP: the header's first 24 octets in three reads. IPv4 (RFC 791 §3.1): version/IHL, TOS, length, id,
    # flags/fragment offset | TTL, protocol, checksum, source | destination. IPv6 (RFC 8200 §3): version/traffic
    # class/flow label, payload length, next header, hop limit | source address (16 octets).
    h0 = g.u64(l3)
    h1 = g.u64(l3 + 8)
    h2 = g.u64(l3 + 16)
    vihl = (h0 >> 56) & 0xFF
    ihl = (vihl & 0x0F) * 4
    is_fragment = (h0 & 0x3FFF) != 0  # MF set or offset > 0 (RFC 791)
    proto4 = (h1 >> 48) & 0xFF
    nh6 = (h0 >> 8) & 0xFF
    ok4 = is4 & ((vihl >> 4) == 4) & (ihl >= 20) & (l3 + ihl <= end)
    ok6 = is6 & ((vihl >> 4) == 6) & (l3 + 40 <= end)
    kind[(is4 & ~ok4) | (is6 & ~ok6)] = Kind.TRUNCATED
    proto = np.where(ok4, proto4, np.where(ok6, nh6, -1))
    l4 = np.where(ok4, l3 + ihl, l3 + 40)
    simple_udp = (ok4 & ~is_fragment & (proto4 == 17)) | (ok6 & (nh6 == 17))
    # TCP, ICMP, GRE, IP-in-IP, fragments and IPv6 extension headers all take the rich path.
    ip_other = (ok4 | ok6) & ~simple_udp
    interesting = _RICH_PROTO[proto & 0xFF]  # proto is -1 only where ip_other is False
    # Fix: IPv4 fragments go to the rich path whatever their protocol: a fragmented SIP/UDP datagram (proto 17,
    # not in the list above) was classified OTHER and so never reassembled.
    kind[ip_other & ~interesting & ~(ok4 & is_fragment)] = Kind.OTHER

    # ---- UDP
    udp_ok = simple_udp & (l4 + 8 <= end)
    kind[simple_udp & ~udp_ok] = Kind.TRUNCATED
    idx = np.flatnonzero(udp_ok)
    u4 = l4[idx]
    udp = g.u64(u4)  # source port, destination port, length, checksum (RFC 768)
    sport, dport, ulen = (udp >> 48) & 0xFFFF, (udp >> 32) & 0xFFFF, (udp >> 16) & 0xFFFF
    p_off = u4 + 8
    avail = end[idx] - p_off
    # A UDP length of 0 happens with jumbograms and some offloading captures: fall back to what was captured.
    plen = np.where(ulen >= 8, np.minimum(ulen - 8, avail), avail)
    # The first two payload words serve every test below and RTP's fixed header (V/P/X/CC, M/PT, sequence,
    # timestamp): gathered once.
    head = g.u64(p_off)
    word0 = (head >> 32) & 0xFFFFFFFF
    word1 = head & 0xFFFFFFFF
    b0 = word0 >> 24
    b1 = (word0 >> 16) & 0xFF
    has4 = plen >= 4
    # Every SIP prefix starts with a capital A-U: the prefix search runs on those few payloads only.
    letter = np.flatnonzero((b0 >= 0x41) & (b0 <= 0x55))
    is_sip = has4 & ((word0 >> 16) == 0x0D0A)
    is_sip[letter] |= has4[letter] & member_of(word0[letter], SIP_PREFIX_WORDS)
    is_sip |= (plen >= 8) & (_SIP_PORT[sport] | _SIP_PORT[dport]) & (b0 >= 0x21) & (b0 < 0x7F)
    is_hep = has4 & ((word0 == HEP3_MAGIC) | (((b0 == 1) | (b0 == 2)) & ((b1 == 16) | (b1 == 40))))
    is_stun = (plen >= 20) & (word1 == STUN_MAGIC_COOKIE) & ((b0 & 0xC0) == 0)
    v2 = (b0 >> 6) == 2
    is_rtcp = v2 & (plen >= 8) & (b1 >= RTCP_FIRST_BYTE2) & (b1 <= RTCP_LAST_BYTE2)
    cc = b0 & 0x0F
    pt = b1 & 0x7F
    is_rtp = v2 & ~is_rtcp & ((pt < 64) | (pt > 95)) & (plen >= 12 + 4 * cc)
    tunnel_port = _TUNNEL_PORT[dport]
    is_rtp &= ~is_sip & ~is_hep & ~is_stun & ~tunnel_port & ~_SERVICE_PORT[sport] & ~_SERVICE_PORT[dport]
    sub = np.full(len(idx), Kind.OTHER, dtype=np.uint8)
    sub[is_rtp] = Kind.RTP
    is_tunnel = tunnel_port & ~is_sip
    sub[is_rtcp | is_hep | is_stun | is_tunnel] = Kind.RICH
    sub[is_sip] = Kind.SIP
    kind[idx] = sub

    src_hi, src_lo, dst_hi, dst_lo = _addresses(g, l3[idx], ok4[idx], h1[idx], h2[idx])
    sip_sel = np.flatnonzero(is_sip)
    sip = UdpRows(idx[sip_sel], src_hi[sip_sel], src_lo[sip_sel], dst_hi[sip_sel], dst_lo[sip_sel],
                  sport[sip_sel], dport[sip_sel], p_off[sip_sel], plen[sip_sel],
                  _dscp(h0[idx[sip_sel]], ok4[idx[sip_sel]]))
    rtp = _rtp_columns(batch, g, idx, is_rtp, p_off, plen, word0, word1, cc, src_hi, src_lo, dst_hi, dst_lo, sport,
                       dport, h0=h0, v4=ok4)
    truncated = int(np.count_nonzero(batch.caplen < batch.origlen))
    return DecodedBatch(kind, rtp, sip, np.flatnonzero(kind == Kind.RICH), truncated)


def _addresses(g: _Gather, l3: np.ndarray, v4: np.ndarray, h1: np.ndarray, h2: np.ndarray) -> tuple[np.ndarray, ...]:
    """Source and destination as 128-bit (hi, lo) pairs; IPv4 mapped (RFC 4291 §2.5.5.2). h1, h2: the IP header's
    octets 8-15 and 16-23 (an IPv4 source and destination; the first 16 octets of an IPv6 source)."""
    src4 = (h1 & 0xFFFFFFFF).astype(np.uint64) | V4_MAPPED
    dst4 = ((h2 >> 32) & 0xFFFFFFFF).astype(np.uint64) | V4_MAPPED
    zero = np.zeros(len(l3), dtype=np.uint64)
    if v4.all():
        return zero, src4, zero.copy(), dst4
    six = np.flatnonzero(~v4)
    dst_hi, dst_lo = zero.copy(), dst4
    dst_hi[six] = g.u64(l3[six] + 24).view(np.uint64)
    dst_lo[six] = g.u64(l3[six] + 32).view(np.uint64)
    return np.where(v4, zero, h1.view(np.uint64)), np.where(v4, src4, h2.view(np.uint64)), dst_hi, dst_lo


def _dscp(h0: np.ndarray, v4: np.ndarray) -> np.ndarray:
    """DSCP (RFC 2474 §3) of the selected records, from their IP header's first eight octets (h0): the upper six
    bits of the IPv4 TOS octet, or of the IPv6 traffic class (bits 4-11 of the header's first 16 bits)."""
    tos = (h0 >> 48) & 0xFFFF  # the IP header's first 16 bits
    return np.where(v4, (tos & 0xFF) >> 2, (tos >> 6) & 0x3F).astype(np.uint8)


def _rtp_columns(batch: RecordBatch, g: _Gather, idx: np.ndarray, is_rtp: np.ndarray, p_off: np.ndarray,
                 plen: np.ndarray, word0: np.ndarray, word1: np.ndarray, cc: np.ndarray, *addr_ports: np.ndarray,
                 h0: np.ndarray, v4: np.ndarray) -> RtpColumns:
    sel = np.flatnonzero(is_rtp)
    rec = idx[sel]
    dscp = _dscp(h0[rec], v4[rec])  # qos.dscp-marking reads it per stream; gathered for the RTP rows only
    off = p_off[sel]
    length = plen[sel]
    w0 = word0[sel]
    first = w0 >> 24
    hdr = 12 + 4 * cc[sel]
    # Header extension (RFC 3550 §5.3.1): 16-bit profile, 16-bit length in 32-bit words, after the CSRCs. Few
    # packets have one: read for those only.
    ext = np.flatnonzero((first & 0x10) != 0)
    if len(ext):
        at = hdr[ext]
        words = np.where(at + 4 <= length[ext], g.u16(off[ext] + at + 2), 0)
        hdr[ext] = at + 4 + 4 * words
    # Padding (RFC 3550 §5.1 P bit): the last octet counts the padding octets, itself included.
    pad = np.zeros(len(sel), dtype=np.int64)
    padded = np.flatnonzero((first & 0x20) != 0)
    if len(padded):
        o, n, r = off[padded], length[padded], rec[padded]
        complete = o + n <= batch.data_off[r] + batch.caplen[r]
        pad[padded] = np.where(complete & (n > 0), g.u8(o + n - 1), 0)
    payload_len = np.maximum(length - hdr - pad, 0)
    # SSRC and, after a 12-octet header (nearly every packet), the first payload word, in one read.
    tail = g.u64(off + 8)
    ssrc = (tail >> 32) & 0xFFFFFFFF
    word = tail & 0xFFFFFFFF
    moved = np.flatnonzero(hdr != 12)  # CSRCs or an extension: the payload starts later
    if len(moved):
        word[moved] = g.u32(off[moved] + hdr[moved])
    word[payload_len < 4] = 0
    src_hi, src_lo, dst_hi, dst_lo, sport, dport = (a[sel] for a in addr_ports)
    return RtpColumns(
        frame=batch.first_frame + rec,
        ts_ns=batch.ts_ns[rec],
        src_hi=src_hi, src_lo=src_lo, dst_hi=dst_hi, dst_lo=dst_lo,
        src_port=sport.astype(np.int32), dst_port=dport.astype(np.int32),
        marker=(w0 & 0x800000) != 0,
        payload_type=((w0 >> 16) & 0x7F).astype(np.int16),
        sequence=(w0 & 0xFFFF).astype(np.int32),
        timestamp=word1[sel],
        ssrc=ssrc,
        payload_len=payload_len.astype(np.int32),
        packet_len=length.astype(np.int32),
        payload_word=word,
        dscp=dscp,
    )


def empty_rtp() -> RtpColumns:
    e64 = np.empty(0, dtype=np.int64)
    u64 = np.empty(0, dtype=np.uint64)
    i32 = np.empty(0, dtype=np.int32)
    return RtpColumns(e64, e64, u64, u64, u64, u64, i32, i32, np.empty(0, dtype=bool), np.empty(0, dtype=np.int16),
                      i32, e64, e64, i32, i32, e64, np.empty(0, dtype=np.uint8))
