"""HEP (Homer Encapsulation Protocol) v2 and v3: SIP and RTCP mirrored by Kamailio, OpenSIPS, FreeSWITCH, Asterisk
and heplify to a collector, sniffed by content on any UDP/TCP port.

HEPv3 (EEP): "HEP3", total length, then chunks of (vendor id 16, type id 16, length 16 incl. the 6-byte chunk
header, value). Generic chunk types (vendor 0): 1 IP family, 2 IP protocol, 3/4 IPv4 src/dst, 5/6 IPv6 src/dst,
7/8 ports, 9/10 timestamp s/µs, 11 protocol type (1 SIP, 5 RTCP, 8 ...), 12 capture id, 14 auth key, 15 payload,
16 compressed payload (zlib), 17 correlation id.
HEPv2: 4-byte header (version 2, length, family, protocol), ports and addresses, then seconds, µs, capture id.
"""

from __future__ import annotations

import socket
import struct
import zlib
from dataclasses import dataclass

from .anomalytexts import Detail, detail

HEP3_MAGIC = b"HEP3"
PROTO_SIP = 1
PROTO_RTCP = 5
MAX_INFLATED = 65535  # octets a compressed payload chunk may inflate to (RFC 3261 §18.1.1: the largest UDP SIP message)


@dataclass(frozen=True, slots=True)
class HepPacket:
    """One decoded HEP message: the mirrored packet's addresses, time and payload."""

    version: int
    family: int  # 2 IPv4, 10 IPv6
    ip_proto: int  # 17 UDP, 6 TCP, 132 SCTP
    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int
    ts_ns: int | None
    proto_type: int  # 1 SIP, 5 RTCP, ...
    capture_id: int | None
    correlation_id: str | None
    payload: bytes


def looks_like_hep(payload: bytes) -> bool:
    """HEPv3 by its magic; HEPv2 by version 1/2, header length 16 (IPv4) or 40 (IPv6) and a known family."""
    if payload[:4] == HEP3_MAGIC:
        return True
    return len(payload) >= 16 and payload[0] in (1, 2) and payload[1] in (16, 40) and payload[2] in (2, 10)


def parse_hep(payload: bytes) -> tuple[HepPacket | None, Detail | None]:
    """Return (packet, None), or (None, what is damaged: a `hep.bad-message` detail) when the message is damaged."""
    if payload[:4] == HEP3_MAGIC:
        return _parse_v3(payload)
    return _parse_v2(payload)


def _parse_v3(data: bytes) -> tuple[HepPacket | None, Detail | None]:
    if len(data) < 6:
        return None, detail("hep.bad-message:short")
    total = struct.unpack_from("!H", data, 4)[0]
    if total > len(data):
        return None, detail("hep.bad-message:length", total=total, present=len(data))
    fields: dict[int, bytes] = {}
    pos = 6
    while pos + 6 <= total:
        vendor, ctype, clen = struct.unpack_from("!HHH", data, pos)
        if clen < 6 or pos + clen > total:
            return None, detail("hep.bad-message:chunk", type=ctype, offset=pos, length=clen)
        if vendor == 0:
            fields[ctype] = data[pos + 6 : pos + clen]
        pos += clen

    def num(t: int, size: int = 4) -> int | None:
        # HEPv3 chunks have fixed widths (family/proto 1 octet, ports 2, times 4, ...): a longer one is damage
        # (a 17-octet "port" read as 2**128 reached the JSON's addresses).
        v = fields.get(t)
        return int.from_bytes(v, "big") if v and len(v) <= size else None

    family = num(1) or 2
    if family == 10 and len(fields.get(5, b"")) == 16 and len(fields.get(6, b"")) == 16:
        src, dst = socket.inet_ntop(socket.AF_INET6, fields[5]), socket.inet_ntop(socket.AF_INET6, fields[6])
    elif 3 in fields and 4 in fields and len(fields[3]) == 4 and len(fields[4]) == 4:
        src, dst = socket.inet_ntoa(fields[3]), socket.inet_ntoa(fields[4])
    else:
        return None, detail("hep.bad-message:addresses")
    payload = fields.get(15)
    if payload is None and 16 in fields:
        try:
            # Bounded: a SIP message is at most 65 535 octets on UDP (RFC 3261 §18.1.1); a 60 KB chunk that inflates
            # to 60 MB is a bomb, not a message.
            inflater = zlib.decompressobj()
            payload = inflater.decompress(fields[16], MAX_INFLATED)
            if inflater.unconsumed_tail:
                return None, detail("hep.bad-message:inflates-too-much", limit=MAX_INFLATED)
        except zlib.error:
            return None, detail("hep.bad-message:no-inflate")
    if payload is None:
        return None, detail("hep.bad-message:no-payload")
    sec, usec = num(9), num(10)
    ts = sec * 10**9 + (usec or 0) * 1000 if sec is not None else None
    corr = fields.get(17)
    return HepPacket(3, family, num(2) or 17, src, dst, num(7, 2) or 0, num(8, 2) or 0, ts, num(11) or 0, num(12),
                     corr.decode("utf-8", "replace") if corr else None, payload), None


def _parse_v2(data: bytes) -> tuple[HepPacket | None, Detail | None]:
    version, hlen, family, proto = data[0], data[1], data[2], data[3]
    if family == 2 and len(data) >= 16:
        sport, dport = struct.unpack_from("!HH", data, 4)
        src, dst = socket.inet_ntoa(data[8:12]), socket.inet_ntoa(data[12:16])
    elif family == 10 and len(data) >= 40:
        sport, dport = struct.unpack_from("!HH", data, 4)
        src, dst = socket.inet_ntop(socket.AF_INET6, data[8:24]), socket.inet_ntop(socket.AF_INET6, data[24:40])
    else:
        return None, detail("hep.bad-message:v2-family", version=version, family=family)
    pos = hlen
    ts = cid = None
    if version == 2:
        if len(data) < pos + 12:
            return None, detail("hep.bad-message:v2-time")
        sec, usec, cid = struct.unpack_from("<IIH", data, pos)  # written in host (little-endian) order
        ts = sec * 10**9 + usec * 1000
        pos += 12
    return HepPacket(version, family, proto, src, dst, sport, dport, ts, PROTO_SIP, cid, None, data[pos:]), None
