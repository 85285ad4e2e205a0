"""RTP clock rates: which clock a packet's timestamp counts in, for jitter, skew and the jitter-buffer model.

Static payload types (RFC 3551 tables 4 and 5) have fixed clocks; dynamic ones (96-127) get theirs from the
`a=rtpmap` of the SDP that set the stream up (RFC 8866 §6.6). `SdpClocks` learns those maps from SDP bodies as
the capture streams past, the way a single-pass Wireshark does: an SDP announces where its author receives media
(c= address, m= port), and packets from or to that endpoint use its map from then on.

Conventions copied from Wireshark's RTP analysis (ui/tap-rtp-analysis.c, 4.0) so that the figures agree:
- the clock table below (G.722 counts 8000 although it samples 16 kHz, RFC 3551 §4.5.2);
- a dynamic type named `telephone-event` has no clock for jitter: its timestamp stays on the event's start
  (RFC 4733 §2.3.1), so the packets are left out of the jitter;
- a dynamic type with no known map has no clock either (no jitter), until an SDP tells it.
"""

from __future__ import annotations

import re
import socket
from functools import lru_cache
from typing import Protocol

import numpy as np

# Wireshark 4.0 clock_map (RFC 3551; IANA RTP parameters). Other static types: no clock (no jitter).
STATIC_CLOCKS: dict[int, int] = {
    0: 8000, 1: 8000, 2: 8000, 3: 8000, 4: 8000, 5: 8000, 6: 16000, 7: 8000, 8: 8000, 9: 8000, 10: 44100,
    11: 44100, 12: 8000, 13: 8000, 14: 90000, 15: 8000, 16: 11025, 17: 22050, 18: 8000, 19: 8000, 25: 90000,
    26: 90000, 28: 90000, 31: 90000, 32: 90000, 33: 90000, 34: 90000,
}  # fmt: skip
STATIC_CLOCK_ARRAY = np.zeros(128, dtype=np.int64)
for _pt, _rate in STATIC_CLOCKS.items():
    STATIC_CLOCK_ARRAY[_pt] = _rate

CN_PAYLOAD_TYPES = (13, 19)  # comfort noise (RFC 3389) and its old number
# Formats that carry no voice of their own: RFC 4733 events, comfort noise (RFC 3389), redundancy (RFC 2198),
# FEC (RFC 5109); upper case (RFC 4855 §3: media subtype names are case-insensitive).
AUXILIARY_ENCODINGS = ("TELEPHONE-EVENT", "CN", "RED", "ULPFEC")
# Cisco's Named Signaling Events (IANA audio/vnd.cisco.nse): in-band fax and modem signalling (dtmf.plausible_nse)
NSE_ENCODING = "X-NSE"
FIRST_DYNAMIC_PT = 96
# Clock rates of dynamic encodings by name, for a map that names the encoding without a rate (Wireshark's
# mimetype_and_clock_map; IANA media types).
DYNAMIC_CLOCKS_BY_NAME: dict[str, int] = {
    "amr": 8000, "amr-wb": 16000, "evrc": 8000, "evrcb": 8000, "evrcwb": 16000, "evs": 16000, "g7221": 16000,
    "g726-16": 8000, "g726-24": 8000, "g726-32": 8000, "g726-40": 8000, "g729d": 8000, "g729e": 8000,
    "gsm-efr": 8000, "h263-1998": 90000, "h263-2000": 90000, "h264": 90000, "mp4v-es": 90000, "opus": 48000,
    "red": 1000, "t140": 1000, "telephone-event": 8000, "ilbc": 8000, "speex": 8000, "vp8": 90000, "vp9": 90000,
}  # fmt: skip
# Rates tried for a dynamic type nobody has named yet (RtpStatsEngine keeps a jitter for each; the caller or
# the timestamps pick one at the end).
CANDIDATE_CLOCKS = (8000, 16000, 48000, 90000)


def is_telephone_event(name: str | None) -> bool:
    """RFC 4733 events (`telephone-event/8000`); Wireshark matches the name's prefix, case-insensitively."""
    return name is not None and name.lower().startswith("telephone-event")


def is_auxiliary(name: str | None) -> bool:
    """An encoding that travels beside a stream's codec and never is it: events, comfort noise, RED, FEC, NSE."""
    return name is not None and (is_telephone_event(name) or name.upper() in (*AUXILIARY_ENCODINGS, NSE_ENCODING))


# The clock rates an SDP may name: the jitter counts in whole kHz (Wireshark's integer division), so a rate below
# 1 kHz would divide by zero; above 10 MHz no payload format counts (RFC 3551 §4: 8 to 90 kHz in use). Another rate
# in an a=rtpmap (damaged or hostile) is learnt as unknown (0).
MIN_CLOCK, MAX_CLOCK = 1000, 10_000_000


def jitter_clock(name: str | None, rate: int | None) -> int:
    """The clock Wireshark uses for a dynamic type's jitter: 0 for telephone-event or an unknown type."""
    if name is None or is_telephone_event(name):
        return 0
    if rate:
        return rate
    return DYNAMIC_CLOCKS_BY_NAME.get(name.lower(), 0)


class ClockResolver(Protocol):
    """What the engine asks about a dynamic payload type of a stream (addresses as 128-bit (hi, lo) ints, the
    fast path's form). Returns (encoding name, clock rate) or None when unknown. `version` changes whenever
    the answers may have changed (a new SDP), so the engine asks again."""

    version: int

    def encoding(self, src: tuple[int, int, int], dst: tuple[int, int, int], pt: int) -> tuple[str, int] | None: ...


_V4_MAPPED = 0xFFFF00000000


@lru_cache(maxsize=65536)
def address_key(text: str) -> tuple[int, int] | None:
    """An address as the fast path's (hi, lo) pair (IPv4 mapped into IPv6, RFC 4291 §2.5.5.2)."""
    try:
        if ":" not in text:
            return 0, _V4_MAPPED | int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):  # not an address (an FQDN, a fuzzed byte)
        return None
    return value >> 64, value & 0xFFFFFFFFFFFFFFFF


# The three SDP lines that matter here, one pattern: c= address, m= port, a=rtpmap:PT name/rate (RFC 8866).
_SDP_LINES = re.compile(
    rb"^(?:c=IN IP[46] ([^\s/]+)|m=[a-z]+ (\d+)|a=rtpmap: *(\d+) +([^/\s]+)(?:/(\d+))?)", re.MULTILINE)
MAX_ENDPOINTS = 100_000  # bounded memory on a capture with millions of calls: the oldest maps are dropped


class SdpClocks:
    """Payload-type maps per media endpoint, learnt from SDP bodies (RFC 8866 c=, m=, a=rtpmap) in capture
    order. A later SDP for the same endpoint replaces the earlier map, as a re-INVITE does."""

    def __init__(self) -> None:
        self.version = 0
        self.maps: dict[tuple[int, int, int], dict[int, tuple[str, int]]] = {}

    def learn(self, payload: bytes) -> bool:
        """Read the SDP in a SIP message's bytes, if any; True when a map was learnt."""
        body = payload.find(b"\nm=")
        if body < 0:
            return False
        body = payload.rfind(b"\nv=", 0, body)
        session_addr = None
        learnt: list[list] = []  # [address or None, port, {pt: (name, rate)}] per m= section
        for addr, port, pt, name, rate in _SDP_LINES.findall(payload, max(body, 0)):
            if addr:
                key = address_key(addr.decode("ascii", "replace"))
                if learnt:
                    learnt[-1][0] = key
                else:
                    session_addr = key
            elif port:
                learnt.append([None, int(port) if len(port) <= 5 else 0, {}])  # an absurd port: no endpoint
            elif learnt and len(pt) <= 3 and int(pt) < 128:  # a payload type is 7 bits (RFC 3550 §5.1)
                clock = int(rate) if rate and len(rate) <= 8 else 0  # no 64-bit overflow: at most 8 digits
                learnt[-1][2][int(pt)] = (name.decode("ascii", "replace"),
                                          clock if MIN_CLOCK <= clock <= MAX_CLOCK else 0)
        changed = False
        for addr, port, rtpmap in learnt:
            addr = addr or session_addr
            if addr is None or port == 0 or not rtpmap:
                continue
            key = (addr[0], addr[1], port)
            if self.maps.get(key) != rtpmap:
                self.maps.pop(key, None)
                self.maps[key] = rtpmap
                changed = True
        while len(self.maps) > MAX_ENDPOINTS:
            del self.maps[next(iter(self.maps))]
        if changed:
            self.version += 1
        return changed

    def encoding(self, src: tuple[int, int, int], dst: tuple[int, int, int], pt: int) -> tuple[str, int] | None:
        """The source endpoint's map first, then the destination's (Wireshark finds the conversation of a
        packet from its source address and port first)."""
        for key in (src, dst):
            rtpmap = self.maps.get(key)
            if rtpmap is not None and pt in rtpmap:
                return rtpmap[pt]
        return None
