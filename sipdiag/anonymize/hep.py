"""HEP (Homer Encapsulation Protocol) messages rewritten in place: the mirrored packet's addresses, the agent's
names and keys, and the carried SIP or RTCP, every chunk keeping its length.

`sipdiag analyze` reads HEPv2 and HEPv3 (`sipdiag.parsers.hep`, whose docstring lists the chunks): the addresses
it takes the mirrored packet's source and destination from are mapped like IP headers, so that the analysis of
the copy sees the same hosts in the HEP header as in the (rewritten) SIP text. HEPv3 chunks (vendor 0):
- 3/4 IPv4 and 5/6 IPv6 source/destination: mapped addresses; 20/21 source/destination MAC: mapped MACs;
- 15 payload: rewritten like a UDP payload (SIP text, RTCP, STUN; `--drop-other` zeroes anything else);
- 16 compressed payload: inflated, rewritten, deflated again; when the new stream does not fit in the chunk
  (deflate rarely gives the same size twice) the chunk is zeroed, and `sipdiag analyze` reports that message
  as `hep.bad-message` (docs/anonymize.md);
- 14 authentication key, 17 correlation id (a Call-ID) and other printable chunks (node and group names): the
  correlation id rewritten as SIP text is (so it still equals the payload's Call-ID), the others keep only their
  length and character classes;
- numbers (family, protocol, ports, times, capture id, VLAN, ...) stay; any other binary chunk, and every
  vendor's own chunk, is zeroed (it is read by nobody here and may hold anything).
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from collections.abc import Callable

from ..parsers.hep import HEP3_MAGIC, MAX_INFLATED
from .pseudonyms import Pseudonyms

# Chunks that are numbers (RFC-less HEPv3 spec, "HEP3 Network Protocol Specification"): family, protocol, ports,
# seconds, microseconds, protocol type, capture id, keep-alive timer, VLAN id, Ethernet type, TCP flags, TOS,
# MOS, R-factor, jitter, ...
NUMERIC_CHUNKS = frozenset({1, 2, 7, 8, 9, 10, 11, 12, 13, 18, 22, 23, 24, 25, 26, 28, 29, 32, 33})
ADDRESS_CHUNKS, MAC_CHUNKS = frozenset({3, 4, 5, 6}), frozenset({20, 21})
PAYLOAD, COMPRESSED, AUTH_KEY, CORRELATION = 15, 16, 14, 17


def rewrite_hep(payload: bytes, p: Pseudonyms, text: Callable[[bytes], bytes],
                inner: Callable[[bytes], bytes]) -> bytes:
    """The HEP message with every chunk rewritten (same length). `text` rewrites SIP text, `inner` a carried
    packet's payload as the frame rewriter does a UDP payload's."""
    out = bytearray(payload)
    if payload[:4] == HEP3_MAGIC:
        _v3(out, p, text, inner)
    else:
        _v2(out, p, inner)
    return bytes(out)


def _v3(out: bytearray, p: Pseudonyms, text: Callable[[bytes], bytes], inner: Callable[[bytes], bytes]) -> None:
    if len(out) < 6:
        return
    total = min(len(out), struct.unpack_from("!H", out, 4)[0])
    pos = 6
    while pos + 6 <= total:
        vendor, ctype, clen = struct.unpack_from("!HHH", out, pos)
        if clen < 6 or pos + clen > total:
            break
        start, end = pos + 6, pos + clen
        value = bytes(out[start:end])
        new = value
        if vendor != 0:
            new = bytes(len(value))
        elif ctype in ADDRESS_CHUNKS and len(value) in (4, 16):
            new = p.ip(ipaddress.ip_address(value)).packed
        elif ctype in MAC_CHUNKS and len(value) == 6:
            new = p.mac(value)
        elif ctype == PAYLOAD:
            new = inner(value)
        elif ctype == COMPRESSED:
            new = _compressed(value, inner)
        elif ctype == CORRELATION and _printable(value):
            new = text(value)
        elif ctype not in NUMERIC_CHUNKS:
            new = p.token(value.decode("ascii")).encode("ascii") if _printable(value) else bytes(len(value))
        out[start:end] = new
        pos = end


def _v2(out: bytearray, p: Pseudonyms, inner: Callable[[bytes], bytes]) -> None:
    version, hlen, family = out[0], out[1], out[2]
    size = 4 if family == 2 else 16
    if 8 + 2 * size > len(out):
        return
    for at in (8, 8 + size):
        out[at:at + size] = p.ip(ipaddress.ip_address(bytes(out[at:at + size]))).packed
    start = hlen + (12 if version == 2 else 0)
    if start < len(out):
        out[start:] = inner(bytes(out[start:]))


def _compressed(value: bytes, inner: Callable[[bytes], bytes]) -> bytes:
    try:
        inflater = zlib.decompressobj()
        plain = inflater.decompress(value, MAX_INFLATED)
    except zlib.error:
        return bytes(len(value))
    if inflater.unconsumed_tail or not inflater.eof:
        return bytes(len(value))
    new = inner(plain)
    if new == plain:
        return value
    packed = zlib.compress(new, 9)
    # The chunk keeps its length: the inflater stops at the end of the stream, so zeros after it are not read.
    return packed + bytes(len(value) - len(packed)) if len(packed) <= len(value) else bytes(len(value))


def _printable(value: bytes) -> bool:
    return bool(value) and all(32 <= c < 127 for c in value)
