"""The rich path: one frame decoded fully, for the few packets the fast path hands on (ARCHITECTURE.md "Two speeds").

Link layers (Ethernet with 802.1Q/QinQ, MPLS, PPPoE, Linux SLL/SLL2, raw IP, BSD loopback), IPv4 (RFC 791) and
IPv6 with extension headers (RFC 8200 §4), fragment reassembly, tunnels seen in real captures (IP-in-IP RFC 2003,
IPv6-in-IPv4 RFC 4213, GRE RFC 2784/2890 with PPP, transparent Ethernet bridging and ERSPAN II/III, VXLAN RFC 7348),
UDP payloads classified by content (SIP, HEP, STUN, RTCP, RTP), TCP handed to the stream reassembler, ICMP errors
kept as evidence (a router answering "port unreachable" for SIP or RTP).
"""

from __future__ import annotations

import socket
import struct
from collections import Counter

from ..model import Datagram
from . import linktypes as lt
from .anomalies import AnomalyLog
from .anomalytexts import anomaly_with, detail
from .columns import (HEP3_MAGIC, RTCP_FIRST_BYTE2, RTCP_LAST_BYTE2, SERVICE_PORTS, SIP_PORTS, SIP_PREFIXES,
                      STUN_MAGIC_COOKIE)
from .hep import looks_like_hep, parse_hep
from .reassembly import FragmentReassembler
from .tcp import TcpReassembler

MAX_DEPTH = 6  # tunnels inside tunnels: deeper is a loop in damaged data
VXLAN_PORT = 4789
GTPU_PORT = 2152
# An RTP row from the rich path: (frame, ts_ns, src 16 bytes, dst 16 bytes, sport, dport, udp payload)
RtpRow = tuple[int, int, bytes, bytes, int, int, bytes]

_V4_PREFIX = b"\x00" * 10 + b"\xff\xff"


def ip16(addr: bytes) -> bytes:
    """IPv4 as an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2), IPv6 unchanged: one 16-byte form for both."""
    return _V4_PREFIX + addr if len(addr) == 4 else addr


def ntop(addr: bytes) -> str:
    return socket.inet_ntoa(addr) if len(addr) == 4 else socket.inet_ntop(socket.AF_INET6, addr)


def classify_udp(payload: bytes, sport: int, dport: int) -> str:
    """What a UDP payload is, by content; the scalar twin of the rules in `columns.decode_batch`."""
    n = len(payload)
    if n >= 4 and (payload[:4] in SIP_PREFIXES or payload[:2] == b"\r\n"):
        return "sip"
    if n >= 4 and (payload[:4] == HEP3_MAGIC.to_bytes(4, "big") or looks_like_hep(payload)):
        return "hep"
    if n >= 20 and payload[0] & 0xC0 == 0 and int.from_bytes(payload[4:8], "big") == STUN_MAGIC_COOKIE:
        return "stun"
    if n >= 8 and (sport in SIP_PORTS or dport in SIP_PORTS) and 0x21 <= payload[0] < 0x7F:
        return "sip"
    if n >= 8 and payload[0] >> 6 == 2 and RTCP_FIRST_BYTE2 <= payload[1] <= RTCP_LAST_BYTE2:
        return "rtcp"
    if (n >= 12 and payload[0] >> 6 == 2 and not 64 <= (payload[1] & 0x7F) <= 95 and n >= 12 + 4 * (payload[0] & 15)
            and sport not in SERVICE_PORTS and dport not in SERVICE_PORTS):
        return "rtp"
    return "other"


def _gtpu_payload(body: bytes) -> bytes | None:
    """The T-PDU of a GTP-U message (3GPP TS 29.281 §5.1): 8-byte header, 4 more when E, S or PN is set, then
    extension headers each `length*4` bytes long whose last octet names the next one."""
    pos = 8
    if body[0] & 0x07:
        if len(body) < 12:
            return None
        next_type = body[11]
        pos = 12
        while next_type:
            if pos >= len(body) or body[pos] == 0:
                return None
            ext_len = body[pos] * 4
            next_type = body[pos + ext_len - 1] if pos + ext_len <= len(body) else 0
            pos += ext_len
    return body[pos:]


HEP_RECENT = 256  # HEP messages remembered to recognise a relayed copy


class RichPath:
    """Per-run state of the rich path: reassemblers, counters, RTP rows waiting to be turned into columns."""

    def __init__(self, log: AnomalyLog) -> None:
        self.log = log
        self.fragments = FragmentReassembler(log)
        self.tcp = TcpReassembler(log)
        self.rtp_rows: list[RtpRow] = []
        self.counts: Counter[str] = Counter()  # what the rich path saw: tcp, icmp, gre, hep, stun, rtcp, ...
        self._unsupported_links: set[int] = set()
        self._sctp_parts: dict[tuple, dict[int, tuple[bytes, int]]] = {}  # tsn -> (user data, frame)
        self._hep_seen: dict[tuple, int] = {}  # recent HEP messages -> the frame that carried them first
        # The DSCP of the IP header read last: the innermost one when a UDP datagram is handed on (a tunnel's inner
        # header is read after its outer one), which Datagram.dscp carries for qos.dscp-marking. State rather than
        # one more argument down every layer of tunnels.
        self._dscp: int | None = None

    # ------------------------------------------------------------------------------------------- link layer

    def decode_frame(self, linktype: int, data: bytes, frame: int, ts_ns: int) -> list[Datagram]:
        out: list[Datagram] = []
        self._dscp = None
        if linktype == lt.ETHERNET:
            self._ethernet(data, frame, ts_ns, "", 0, out)
        elif linktype == lt.SLL:
            if len(data) >= 16:
                self._ethertype(struct.unpack_from("!H", data, 14)[0], data[16:], frame, ts_ns, "", 0, out)
        elif linktype == lt.SLL2:
            if len(data) >= 20:
                self._ethertype(struct.unpack_from("!H", data, 0)[0], data[20:], frame, ts_ns, "", 0, out)
        elif linktype in lt.RAW_LINKTYPES or linktype in (lt.IPV4, lt.IPV6):
            self._ip(data, frame, ts_ns, "", 0, out)
        elif linktype in (lt.NULL, lt.LOOP):
            if len(data) >= 4:
                self._ip(data[4:], frame, ts_ns, "", 0, out)
        elif linktype not in self._unsupported_links:
            self._unsupported_links.add(linktype)
            self.log.add("link.unsupported", frame, linktype=linktype, name=lt.linktype_name(linktype))
        return out

    def _ethernet(self, data: bytes, frame: int, ts_ns: int, encap: str, depth: int, out: list[Datagram]) -> None:
        if len(data) < 14:
            self.log.add("link.truncated", frame, size=len(data))
            return
        et = struct.unpack_from("!H", data, 12)[0]
        pos = 14
        while et in (0x8100, 0x88A8, 0x9100) and len(data) >= pos + 4:  # 802.1Q / QinQ tags
            et = struct.unpack_from("!H", data, pos + 2)[0]
            pos += 4
        self._ethertype(et, data[pos:], frame, ts_ns, encap, depth, out)

    def _ethertype(self, et: int, data: bytes, frame: int, ts_ns: int, encap: str, depth: int,
                   out: list[Datagram]) -> None:
        if et in (0x0800, 0x86DD):
            self._ip(data, frame, ts_ns, encap, depth, out)
        elif et == 0x8847 or et == 0x8848:  # MPLS (RFC 3032): pop labels to the bottom of the stack
            pos = 0
            while len(data) >= pos + 4:
                bottom = data[pos + 2] & 0x01
                pos += 4
                if bottom:
                    self._ip(data[pos:], frame, ts_ns, encap or "mpls", depth + 1, out)
                    return
        elif et == 0x8864 and len(data) >= 8:  # PPPoE session (RFC 2516) + PPP protocol field
            proto = struct.unpack_from("!H", data, 6)[0]
            if proto in (0x0021, 0x0057):
                self._ip(data[8:], frame, ts_ns, encap or "pppoe", depth + 1, out)

    # -------------------------------------------------------------------------------------------------- IP

    def _ip(self, data: bytes, frame: int, ts_ns: int, encap: str, depth: int, out: list[Datagram]) -> None:
        if depth > MAX_DEPTH or not data:
            return
        version = data[0] >> 4
        if version == 4:
            self._ipv4(data, frame, ts_ns, encap, depth, out)
        elif version == 6:
            self._ipv6(data, frame, ts_ns, encap, depth, out)

    def _ipv4(self, data: bytes, frame: int, ts_ns: int, encap: str, depth: int, out: list[Datagram]) -> None:
        if len(data) < 20:
            self.log.add("ip.truncated:v4", frame, size=len(data))
            return
        ihl = (data[0] & 0x0F) * 4
        total = struct.unpack_from("!H", data, 2)[0]
        ident, frag = struct.unpack_from("!HH", data, 4)
        proto = data[9]
        src, dst = data[12:16], data[16:20]
        if ihl < 20 or len(data) < ihl:
            self.log.add("ip.bad-header", frame, ihl=ihl)
            return
        self._dscp = data[1] >> 2  # TOS: DSCP and two ECN bits (RFC 2474 §3, RFC 3168 §5)
        # TSO/offloaded captures write a total length of 0: trust the captured bytes then.
        payload = data[ihl:total] if total >= ihl else data[ihl:]
        more, offset = bool(frag & 0x2000), (frag & 0x1FFF) * 8
        if more or offset:
            self.counts["ip-fragment"] += 1
            done = self.fragments.add((4, src, dst, proto, ident), offset, more, payload, frame, ts_ns)
            if done is None:
                return
            payload, frames = done
            self._l4(proto, src, dst, payload, frame, ts_ns, encap, depth, out, frames)
            return
        self._l4(proto, src, dst, payload, frame, ts_ns, encap, depth, out, ())

    def _ipv6(self, data: bytes, frame: int, ts_ns: int, encap: str, depth: int, out: list[Datagram]) -> None:
        if len(data) < 40:
            self.log.add("ip.truncated:v6", frame, size=len(data))
            return
        plen = struct.unpack_from("!H", data, 4)[0]
        nh = data[6]
        self._dscp = (data[0] & 0x0F) << 2 | data[1] >> 6  # traffic class (bits 4-11) >> 2 (RFC 8200 §7)
        src, dst = data[8:24], data[24:40]
        payload = data[40 : 40 + plen] if plen else data[40:]
        # Extension headers (RFC 8200 §4.1): hop-by-hop, routing, destination options, fragment, AH.
        fragment = None
        for _ in range(8):
            if nh in (0, 43, 60) and len(payload) >= 8:
                nh, payload = payload[0], payload[(payload[1] + 1) * 8 :]
            elif nh == 51 and len(payload) >= 8:  # AH: length in 32-bit words minus 2 (RFC 4302 §2.2)
                nh, payload = payload[0], payload[(payload[1] + 2) * 4 :]
            elif nh == 44 and len(payload) >= 8:
                off_m, ident = struct.unpack_from("!HI", payload, 2)
                fragment = (off_m & 0xFFF8, bool(off_m & 1), ident)
                nh, payload = payload[0], payload[8:]
                break
            else:
                break
        if fragment is not None:
            offset, more, ident = fragment
            self.counts["ip-fragment"] += 1
            done = self.fragments.add((6, src, dst, ident), offset, more, payload, frame, ts_ns)
            if done is None:
                return
            payload, frames = done
            # The reassembled payload may itself start with more extension headers; UDP/TCP is the common case.
            self._l4(nh, src, dst, payload, frame, ts_ns, encap, depth, out, frames)
            return
        self._l4(nh, src, dst, payload, frame, ts_ns, encap, depth, out, ())

    def _l4(self, proto: int, src: bytes, dst: bytes, payload: bytes, frame: int, ts_ns: int, encap: str,
            depth: int, out: list[Datagram], frames: tuple[int, ...]) -> None:
        if proto == 17:
            if len(payload) < 8:
                self.log.add("udp.truncated", frame, size=len(payload))
                return
            sport, dport, ulen = struct.unpack_from("!HHH", payload, 0)
            body = payload[8:ulen] if ulen >= 8 else payload[8:]
            self._udp(src, dst, sport, dport, body, frame, ts_ns, encap, depth, out, frames)
        elif proto == 6:
            self._tcp(src, dst, payload, frame, ts_ns, encap, out)
        elif proto in (1, 58):
            self._icmp(proto, src, dst, payload, frame, ts_ns, encap, out)
        elif proto == 4:
            self.counts["ipip"] += 1
            self._ip(payload, frame, ts_ns, encap or "ipip", depth + 1, out)
        elif proto == 41:
            self.counts["ipip"] += 1
            self._ip(payload, frame, ts_ns, encap or "ipip", depth + 1, out)
        elif proto == 47:
            self.counts["gre"] += 1
            self._gre(payload, frame, ts_ns, encap, depth, out)
        elif proto == 132:
            self.counts["sctp"] += 1
            self._sctp(src, dst, payload, frame, ts_ns, encap, out)

    def _gre(self, data: bytes, frame: int, ts_ns: int, encap: str, depth: int, out: list[Datagram]) -> None:
        if len(data) < 4:
            return
        flags, proto = struct.unpack_from("!HH", data, 0)
        pos = 4
        # RFC 2784/2890: C (checksum+reserved), K (key), S (sequence); version 1 (PPTP, RFC 2637) may carry A (ack).
        if flags & 0x8000:
            pos += 4
        if flags & 0x2000:
            pos += 4
        if flags & 0x1000:
            pos += 4
        if flags & 0x0007 == 1 and flags & 0x0080:
            pos += 4
        inner = data[pos:]
        name = encap or "gre"
        if proto in (0x0800, 0x86DD):
            self._ip(inner, frame, ts_ns, name, depth + 1, out)
        elif proto == 0x6558:  # transparent Ethernet bridging
            self._ethernet(inner, frame, ts_ns, name, depth + 1, out)
        elif proto == 0x88BE:  # ERSPAN type II has an 8-byte header when GRE S is set; type I has none
            self._ethernet(inner[8:] if flags & 0x1000 else inner, frame, ts_ns, encap or "erspan", depth + 1, out)
        elif proto == 0x22EB and len(inner) >= 12:  # ERSPAN type III, 12 bytes + optional 8-byte subheader (O bit)
            hdr = 12 + (8 if inner[11] & 0x01 else 0)
            self._ethernet(inner[hdr:], frame, ts_ns, encap or "erspan", depth + 1, out)
        elif proto == 0x880B:  # PPP inside (enhanced) GRE: optional address/control 0xff03, protocol field
            if inner[:2] == b"\xff\x03":
                inner = inner[2:]
            if inner[:2] in (b"\x00\x21", b"\x00\x57"):
                self._ip(inner[2:], frame, ts_ns, name, depth + 1, out)
            elif inner[:1] in (b"\x21", b"\x57"):  # protocol field compression (RFC 1661 §6.5)
                self._ip(inner[1:], frame, ts_ns, name, depth + 1, out)

    # ---------------------------------------------------------------------------------------------- UDP/TCP

    def _udp(self, src: bytes, dst: bytes, sport: int, dport: int, body: bytes, frame: int, ts_ns: int, encap: str,
             depth: int, out: list[Datagram], frames: tuple[int, ...]) -> None:
        if dport == VXLAN_PORT and len(body) >= 16 and body[0] & 0x08:  # VXLAN (RFC 7348 §5), I flag set
            self.counts["vxlan"] += 1
            self._ethernet(body[8:], frame, ts_ns, encap or "vxlan", depth + 1, out)
            return
        if dport == GTPU_PORT and len(body) >= 8 and body[0] >> 5 == 1 and body[0] & 0x10 and body[1] == 0xFF:
            inner = _gtpu_payload(body)
            if inner is not None:
                self.counts["gtp-u"] += 1
                self._ip(inner, frame, ts_ns, encap or "gtp-u", depth + 1, out)
                return
        kind = classify_udp(body, sport, dport)
        if kind == "rtp":
            self.rtp_rows.append((frame, ts_ns, ip16(src), ip16(dst), sport, dport, body))
            return
        if kind == "hep":
            self._hep(body, frame, ts_ns, out, frames)
            return
        if kind == "other":
            return
        self.counts[kind] += 1
        out.append(Datagram(frame, ts_ns, ntop(src), sport, ntop(dst), dport, "udp", body, frames or (frame,),
                            encap, kind, self._dscp))

    def _hep(self, body: bytes, frame: int, ts_ns: int, out: list[Datagram], frames: tuple[int, ...]) -> None:
        self.counts["hep"] += 1
        pkt, problem = parse_hep(body)
        if pkt is None:
            self.log.add_anomaly(anomaly_with("hep.bad-message", frame, problem or detail("hep.bad-message")))
            return
        kind = "rtcp" if pkt.proto_type == 5 else classify_udp(pkt.payload, pkt.src_port, pkt.dst_port)
        if kind in ("other", "rtp", "hep"):
            kind = "sip" if pkt.proto_type == 1 else kind
        if kind not in ("sip", "rtcp", "stun"):
            return
        if pkt.ts_ns is not None:
            # The same HEP message captured again (an agent sending to several collectors, a collector relaying it
            # on: the capture sees each hop) carries the same capture time, addresses and payload. A SIP
            # retransmission is sent again by a timer (RFC 3261 §17.1.1.2) and so has a later time: a copy is
            # not one, and counting it would double every request.
            key = (pkt.ts_ns, pkt.src_ip, pkt.src_port, pkt.dst_ip, pkt.dst_port, pkt.payload)
            first = self._hep_seen.get(key)
            if first is not None:
                self.log.add("hep.duplicate", frame, first=first)
                return
            self._hep_seen[key] = frame
            if len(self._hep_seen) > HEP_RECENT:  # copies follow within a few packets; keep memory bounded
                del self._hep_seen[next(iter(self._hep_seen))]
        transport = {6: "tcp", 17: "udp", 132: "sctp"}.get(pkt.ip_proto, "udp")
        # The time of the mirrored packet is the HEP header's; the frame is where the collector saw it.
        out.append(Datagram(frame, pkt.ts_ns if pkt.ts_ns is not None else ts_ns, pkt.src_ip, pkt.src_port,
                            pkt.dst_ip, pkt.dst_port, transport, pkt.payload, frames or (frame,), "hep", kind))

    def _tcp(self, src: bytes, dst: bytes, data: bytes, frame: int, ts_ns: int, encap: str,
             out: list[Datagram]) -> None:
        if len(data) < 20:
            self.log.add("tcp.truncated", frame, size=len(data))
            return
        self.counts["tcp"] += 1
        sport, dport, seq = struct.unpack_from("!HHI", data, 0)
        off = (data[12] >> 4) * 4
        flags = data[13]
        if off < 20:
            return
        payload = data[off:]
        if payload[:4] == HEP3_MAGIC.to_bytes(4, "big"):  # HEP over TCP: one message per segment in practice
            self._hep(payload, frame, ts_ns, out, ())
            return
        for d in self.tcp.add(frame, ts_ns, ntop(src), sport, ntop(dst), dport, seq, flags, payload):
            out.append(d if not encap else Datagram(d.frame, d.ts_ns, d.src_ip, d.src_port, d.dst_ip, d.dst_port,
                                                    d.transport, d.payload, d.frames, encap, d.kind))

    def _sctp(self, src: bytes, dst: bytes, data: bytes, frame: int, ts_ns: int, encap: str,
              out: list[Datagram]) -> None:
        """SIP over SCTP (RFC 4168): each SIP message is the user data of one DATA chunk (RFC 9260 §3.3.1)."""
        if len(data) < 12:
            return
        sport, dport = struct.unpack_from("!HH", data, 0)
        pos = 12
        while pos + 4 <= len(data):
            ctype, cflags, clen = struct.unpack_from("!BBH", data, pos)
            if clen < 4:
                break
            if ctype == 0 and clen > 16 and pos + 16 <= len(data):  # DATA, its 16-octet header captured
                tsn, stream = struct.unpack_from("!IH", data, pos + 4)
                user = data[pos + 16 : pos + clen]
                frames: tuple[int, ...] = (frame,)
                if cflags & 0x03 != 0x03:
                    # B (0x02) begins, E (0x01) ends a user message split over chunks (RFC 9260 §3.3.1).
                    key = (src, dst, sport, dport, stream)
                    if cflags & 0x02:
                        # Fix: a new message starts afresh; the parts of one whose E chunk was lost were mixed in.
                        self._sctp_parts[key] = {}
                    parts = self._sctp_parts.get(key)
                    if parts is None:
                        pos += (clen + 3) & ~3
                        continue
                    parts[tsn] = (user, frame)
                    if sum(len(u) for u, _ in parts.values()) > 65535:
                        # Fix: the limit used to skip completion but keep the parts, which then grew without
                        # bound (an endless message, or lost E chunks); past it the message is dropped.
                        del self._sctp_parts[key]
                        pos += (clen + 3) & ~3
                        continue
                    if not cflags & 0x01:
                        pos += (clen + 3) & ~3
                        continue
                    user = b"".join(parts[t][0] for t in sorted(parts))
                    # Fix: every frame that carried a part (Datagram.frames), not only the last one.
                    frames = tuple(sorted({f for _, f in parts.values()}))
                    del self._sctp_parts[key]
                if user:
                    kind = classify_udp(user, sport, dport)
                    if kind == "sip":
                        out.append(Datagram(frame, ts_ns, ntop(src), sport, ntop(dst), dport, "sctp", user, frames,
                                            encap, kind))
            pos += (clen + 3) & ~3

    def _icmp(self, proto: int, src: bytes, dst: bytes, data: bytes, frame: int, ts_ns: int, encap: str,
              out: list[Datagram]) -> None:
        self.counts["icmp"] += 1
        if len(data) < 8:
            return
        icmp_type = data[0]
        # Only errors that quote a packet matter here: v4 unreachable/time exceeded (RFC 792), v6 1-3 (RFC 4443).
        if (proto == 1 and icmp_type in (3, 11, 12)) or (proto == 58 and icmp_type in (1, 2, 3)):
            out.append(Datagram(frame, ts_ns, ntop(src), 0, ntop(dst), 0, "icmp" if proto == 1 else "icmpv6",
                                data, (frame,), encap, "icmp"))

    def finish(self) -> list[Datagram]:
        """End of capture: unfinished fragments and TCP holes become anomalies; late TCP messages are returned."""
        self.fragments.finish()
        return self.tcp.finish()
