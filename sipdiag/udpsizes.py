"""The size of every SIP message over UDP, collected while the capture is parsed (router.udp-fragmentation).

`Analysis.messages` keeps the first MESSAGE_BUDGET full messages only; a large INVITE or 200 OK after them would go
unjudged. This log keeps, for every SIP message over UDP, its frame and size (12 octets a message, in two arrays),
and for the few that matter - those travelling in IP fragments or larger than RECORD_ABOVE - a compact `UdpSize`
with what the rule quotes and compares: flow, Call-ID, method or status, the frames of its fragments, and a digest
of its octets that tells a retransmission (the same message again, RFC 3261 §17.1.1.2) from a new message.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .parsers.sip import SipMessage

# RFC 8085 §3.2: without path MTU discovery a UDP sender keeps below EMTU_S, 576 octets for IPv4 (RFC 1122
# §3.3.3); less the 20-octet IPv4 and 8-octet UDP headers. A message at most this large never needs fragmenting,
# so no threshold of the rule (sip.large_udp_sip_bytes, 200 bytes below a path MTU) sensibly lies under it: a
# record is kept only above it (about a third of the messages of a call: INVITEs and answers with SDP).
RECORD_ABOVE = 576 - 20 - 8


class UdpSize(NamedTuple):
    """One SIP message over UDP as router.udp-fragmentation reads it (a NamedTuple: one is made per large message)."""

    frame: int  # the frame that completed it (its last fragment)
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    call_id: str | None
    method: str | None  # requests
    status_code: int | None  # responses
    cseq_method: str | None
    size: int  # the UDP payload, octets
    fragments: tuple[int, ...]  # the frames of its IP fragments; () when one packet carried it
    digest: int  # CRC-32 of its octets: copies of one message share it (with flow and size)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    @property
    def copy_key(self) -> tuple:
        """What retransmissions of one message share: the same octets on the same flow."""
        return self.src_ip, self.src_port, self.dst_ip, self.dst_port, self.size, self.digest


def size_record(m: SipMessage) -> UdpSize:
    raw = m.raw
    return UdpSize(m.frame, m.src_ip, m.src_port, m.dst_ip, m.dst_port, m.call_id, m.method, m.status_code,
                   m.cseq_method, len(raw), m.fragments, zlib.crc32(raw))


@dataclass(frozen=True, slots=True)
class UdpSizes:
    """Every SIP message over UDP of a capture: `frames` and `sizes` (ascending by frame), and the `records` of the
    fragmented ones and of those above `above` octets, in capture order."""

    frames: array
    sizes: array
    records: tuple[UdpSize, ...]
    above: int = RECORD_ABOVE

    def size_at(self, frame: int | None) -> int | None:
        """The size of the SIP message over UDP that frame completed; None for a frame that completed none."""
        if frame is None:
            return None
        i = bisect_left(self.frames, frame)
        return self.sizes[i] if i < len(self.frames) and self.frames[i] == frame else None


class SizeLog:
    """Collects UdpSizes message by message, in the order the parser hands them on."""

    def __init__(self, above: int = RECORD_ABOVE) -> None:
        self.above = above
        self.frames = array("Q")
        self.sizes = array("I")
        self.records: list[UdpSize] = []
        self._sorted = True
        # Addresses, ports, Call-IDs and methods repeat from message to message: one object each, not one per record
        # (a third of a record's memory).
        self._shared: dict[object, object] = {}

    def add(self, m: SipMessage) -> None:
        if m.transport != "udp":
            return
        size = len(m.raw)
        if self.frames and m.frame < self.frames[-1]:
            self._sorted = False
        self.frames.append(m.frame)
        self.sizes.append(size)
        if m.fragments or size > self.above:
            r = size_record(m)
            share = self._shared.setdefault
            self.records.append(UdpSize(
                r.frame, share(r.src_ip, r.src_ip), share(r.src_port, r.src_port), share(r.dst_ip, r.dst_ip),
                share(r.dst_port, r.dst_port), share(r.call_id, r.call_id), share(r.method, r.method), r.status_code,
                share(r.cseq_method, r.cseq_method), size, r.fragments, r.digest))

    def finish(self) -> UdpSizes:
        frames, sizes = self.frames, self.sizes
        if not self._sorted:  # out of frame order (merged interfaces): size_at bisects by frame
            pairs = sorted(zip(frames, sizes))
            frames, sizes = array("Q", (f for f, _ in pairs)), array("I", (s for _, s in pairs))
        return UdpSizes(frames, sizes, tuple(self.records), self.above)


def sizes_of(messages: Iterable[SipMessage]) -> UdpSizes:
    """The UdpSizes of messages already parsed (an analysis built without a SizeLog: the live engine's), with a
    record for every one of them: they are in memory anyway."""
    log = SizeLog(above=0)
    for m in sorted(messages, key=lambda m: m.frame):
        log.add(m)
    return log.finish()
