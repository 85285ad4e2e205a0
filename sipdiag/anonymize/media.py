"""Payloads other than SIP that carry identities or addresses: RTP (voice), RTCP SDES, STUN addresses."""

from __future__ import annotations

import ipaddress
import struct
import zlib

from .pseudonyms import Pseudonyms

STUN_COOKIE = 0x2112A442  # RFC 5389 §6
# STUN attributes holding a transport address (RFC 5389 §15, RFC 5780 §7, RFC 8656 §18): type -> XOR-ed?
STUN_ADDRESSES = {0x0001: False, 0x0020: True, 0x8020: True, 0x0012: True, 0x0016: True, 0x8023: False,
                  0x802B: False, 0x802C: False}
STUN_FINGERPRINT = 0x8028
# RTCP SDES items (RFC 3550 §6.5) that name a person or host: CNAME, NAME, EMAIL, PHONE, LOC, NOTE (not TOOL).
SDES_PERSONAL = {1, 2, 3, 4, 5, 7}


def is_rtcp(payload: bytes) -> bool:
    """RTCP: version 2 and packet type 200-207 (RFC 3550 §6.4; RFC 5761 §4 tells it from RTP)."""
    return len(payload) >= 8 and payload[0] >> 6 == 2 and 200 <= payload[1] <= 207


def is_rtp(payload: bytes) -> bool:
    return len(payload) >= 12 and payload[0] >> 6 == 2 and not (192 <= payload[1] <= 223)


def is_stun(payload: bytes) -> bool:
    return (len(payload) >= 20 and payload[0] >> 6 == 0
            and struct.unpack_from("!I", payload, 4)[0] == STUN_COOKIE
            and struct.unpack_from("!H", payload, 2)[0] + 20 <= len(payload))


def drop_rtp_payload(payload: bytes) -> bytes:
    """The RTP packet with its media zeroed: the header, CSRCs, header extension and padding count stay, so
    every statistic (sequence, timestamp, SSRC, marker, sizes) is unchanged (RFC 3550 §5.1, §5.3.1)."""
    cc = payload[0] & 0x0F
    start = 12 + 4 * cc
    if payload[0] & 0x10 and start + 4 <= len(payload):
        start += 4 + 4 * struct.unpack_from("!H", payload, start + 2)[0]
    end = len(payload)
    if payload[0] & 0x20 and end > start:
        end -= 1
    if start >= end:
        return payload
    return payload[:start] + bytes(end - start) + payload[end:]


def rewrite_rtcp(payload: bytes, p: Pseudonyms) -> bytes:
    """SDES items that name a user or host (CNAME is often `user@address`) replaced, lengths kept."""
    out = bytearray(payload)
    pos = 0
    while pos + 4 <= len(out) and out[pos] >> 6 == 2:
        count, ptype = out[pos] & 0x1F, out[pos + 1]
        length = (struct.unpack_from("!H", out, pos + 2)[0] + 1) * 4
        end = min(len(out), pos + length)
        if ptype == 202:
            item = pos + 4
            for _ in range(count):
                item += 4  # SSRC/CSRC
                while item + 2 <= end and out[item] != 0:
                    kind, n = out[item], out[item + 1]
                    text = bytes(out[item + 2:item + 2 + n])
                    if kind in SDES_PERSONAL and len(text) == n and all(32 <= c < 127 for c in text):
                        # CNAME and EMAIL are user@host (RFC 3550 §6.5.1, §6.5.3): the host stays an address
                        value = text.decode("ascii")
                        new = p.cname(value) if kind in (1, 3) else p.token(value)
                        out[item + 2:item + 2 + n] = new.encode("ascii")
                    item += 2 + n
                item = (item + 4) & ~3  # the null item and padding to a 32-bit boundary
        pos += length
    return bytes(out)


def rewrite_stun(payload: bytes, p: Pseudonyms) -> bytes:
    """Address attributes mapped like the IP headers (XOR-ed ones decoded and encoded again, RFC 5389 §15.2);
    FINGERPRINT recomputed. MESSAGE-INTEGRITY cannot be (it needs the ICE password) and is left as it was."""
    out = bytearray(payload)
    tid = bytes(out[8:20])
    end = 20 + struct.unpack_from("!H", out, 2)[0]
    pos = 20
    while pos + 4 <= end:
        atype, alen = struct.unpack_from("!HH", out, pos)
        value = pos + 4
        if atype in STUN_ADDRESSES and alen >= 8 and value + alen <= end:
            family, size = out[value + 1], (4 if out[value + 1] == 1 else 16)
            if family in (1, 2) and alen >= 4 + size:
                mask = struct.pack("!I", STUN_COOKIE) + (tid if size == 16 else b"")
                raw = bytes(out[value + 4:value + 4 + size])
                xored = STUN_ADDRESSES[atype]
                plain = bytes(a ^ b for a, b in zip(raw, mask)) if xored else raw
                new = p.ip(ipaddress.ip_address(plain)).packed
                out[value + 4:value + 4 + size] = bytes(a ^ b for a, b in zip(new, mask)) if xored else new
        elif atype == STUN_FINGERPRINT and alen == 4 and value + 4 <= len(out):
            struct.pack_into("!I", out, value, (zlib.crc32(bytes(out[:pos])) ^ 0x5354554E) & 0xFFFFFFFF)
        pos = value + ((alen + 3) & ~3)
    return bytes(out)
