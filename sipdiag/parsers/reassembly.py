"""IP fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5) with limits, so that a fragment flood cannot eat memory.

Fragments that never complete are the evidence of a router dropping them (the classic "large INVITE lost"
fault): each incomplete datagram is reported as an anomaly `ip.fragments-incomplete` with its frames.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field

from .anomalies import AnomalyLog
from .anomalytexts import Detail, detail

MAX_PENDING = 4096  # datagrams being reassembled at once
# The payload bytes held by all pending datagrams together; it holds after every fragment stored, not only when a
# datagram starts (4096 pending datagrams filled one fragment at a time could otherwise hold 256 MiB).
MAX_PENDING_BYTES = 16 << 20
MAX_DATAGRAM = 65535 + 40  # the largest IPv4 datagram (RFC 791); IPv6 without jumbograms the same
TIMEOUT_NS = 30 * 10**9  # RFC 8200 §4.5: abandon reassembly 60 s after the first fragment; Linux uses 30 s
# Fragments that repeat a part already received (retransmitted or duplicated, or overlapping copies) whose frames are
# listed with the datagram; the others are counted. Without it, one fragment repeated 100 000 times made a list of
# 100 000 frames (the stored parts list at most ~8 k: their offsets are distinct multiples of 8 octets, RFC 791 §3.1).
MAX_COPY_FRAMES = 1024


@dataclass
class _Pending:
    first_ts: int
    parts: dict[int, bytes] = field(default_factory=dict)  # offset -> data
    offsets: list[int] = field(default_factory=list)  # the keys of parts, sorted (for the overlap test)
    frames: list[int] = field(default_factory=list)
    total: int | None = None  # known once the last fragment (MF=0) arrived
    size: int = 0
    overlap: bool = False
    copies: int = 0  # fragments that repeated or overlapped a stored part (not stored)
    first_unlisted: int | None = None  # the frame of the first copy beyond MAX_COPY_FRAMES


class FragmentReassembler:
    """Keyed by (version, src, dst, protocol, identification); one instance per run."""

    def __init__(self, log: AnomalyLog, *, max_pending: int = MAX_PENDING, max_bytes: int = MAX_PENDING_BYTES,
                 timeout_ns: int = TIMEOUT_NS) -> None:
        self.log = log
        self.max_pending = max_pending
        # At least one whole datagram: evicting every other pending datagram then always makes room for a fragment
        # (the stored parts of one datagram never overlap and end within MAX_DATAGRAM).
        self.max_bytes = max(max_bytes, MAX_DATAGRAM)
        self.timeout_ns = timeout_ns
        self.pending: dict[tuple, _Pending] = {}
        self.bytes = 0
        self.completed = 0

    def add(self, key: tuple, offset: int, more: bool, data: bytes, frame: int, ts_ns: int
            ) -> tuple[bytes, tuple[int, ...]] | None:
        """Add one fragment; return (payload, frames) when the datagram is complete."""
        self._expire(ts_ns, frame)
        # Fix: checked before an entry is made; an oversized first fragment used to leave an empty _Pending
        # (no frames) behind, and _drop (finish/expiry/eviction) then failed on p.frames[0].
        if offset + len(data) > MAX_DATAGRAM:
            self.log.add("ip.fragment-too-large", frame, offset=offset, size=len(data))
            return None
        p = self.pending.get(key)
        if p is None:
            # (`self.pending and`: with nothing pending there is nothing to evict, whatever the limit.)
            if self.pending and len(self.pending) >= self.max_pending:
                self._evict_oldest(key, frame, "evicted:datagrams")
            p = self.pending[key] = _Pending(ts_ns)
        if offset in p.parts or _overlaps(p, offset, offset + len(data)):
            # Overlaps are an attack or a broken stack (RFC 5722 forbids them for IPv6); keep the first copy.
            if p.parts.get(offset) != data:
                p.overlap = True
            p.copies += 1
            if p.copies <= MAX_COPY_FRAMES:
                p.frames.append(frame)
            elif p.first_unlisted is None:
                p.first_unlisted = frame
            return None
        while self.bytes + len(data) > self.max_bytes:
            self._evict_oldest(key, frame, "evicted:bytes")
        p.parts[offset] = data
        insort(p.offsets, offset)
        p.frames.append(frame)
        p.size += len(data)
        self.bytes += len(data)
        if not more:
            p.total = offset + len(data)
        if p.total is None or p.size < p.total:
            return None
        payload = self._assemble(p)
        del self.pending[key]
        self.bytes -= p.size
        if payload is None:
            return None
        if p.overlap:
            self.log.add("ip.fragment-overlap", frame, frames=_frames(p.frames))
        self._copies(p)
        self.completed += 1
        return payload, tuple(p.frames)

    def _assemble(self, p: _Pending) -> bytes | None:
        out = bytearray()
        for off in p.offsets:
            if off != len(out):
                return None
            out += p.parts[off]
        return bytes(out)

    def _expire(self, ts_ns: int, frame: int) -> None:
        while self.pending:
            key, p = next(iter(self.pending.items()))
            if ts_ns - p.first_ts <= self.timeout_ns:
                return
            self._drop(key, p, "ip.fragments-incomplete:timeout", timeout=self.timeout_ns // 10**9, **_incomplete(p))

    def _evict_oldest(self, keep: tuple, frame: int, why: str) -> None:
        """Drop the oldest pending datagram other than `keep` (the one the fragment of `frame` belongs to). There is
        one: with max_bytes >= MAX_DATAGRAM, `keep` alone never exceeds the budget. `why`: the limit reached, as a
        text of sipdiag.parsers.anomalytexts."""
        key = next(k for k in self.pending if k != keep)  # the oldest, or the next when `keep` is the oldest
        p = self.pending[key]
        self._drop(key, p, "ip.fragments-evicted", why=detail(why), frame=frame, frames=_frames(p.frames),
                   datagrams=self.max_pending, mib=self.max_bytes >> 20)

    def _drop(self, key: tuple, p: _Pending, text: str, **values: object) -> None:
        """Forget an unfinished datagram, recording the anomaly of sipdiag.parsers.anomalytexts `text`."""
        del self.pending[key]
        self.bytes -= p.size
        self.log.add(text, p.frames[0], **values)
        self._copies(p)

    def _copies(self, p: _Pending) -> None:
        """One anomaly per datagram whose repeated fragments went beyond the frames listed: how many there were."""
        if p.first_unlisted is not None:
            self.log.add("ip.fragment-duplicates", p.first_unlisted, copies=p.copies, frames=_frames(p.frames),
                         listed=MAX_COPY_FRAMES, rest=p.copies - MAX_COPY_FRAMES)

    def finish(self) -> None:
        """At the end of the capture every unfinished datagram is an anomaly."""
        for key, p in list(self.pending.items()):
            self._drop(key, p, "ip.fragments-incomplete:end", **_incomplete(p))


def _overlaps(p: _Pending, start: int, end: int) -> bool:
    """Does [start, end) overlap a stored part? The stored parts never overlap each other (an overlapping fragment
    is not stored), so in offset order their ends rise too, and the only candidate is the last part that starts
    before `end`: O(log n). Testing every part made a datagram of n fragments cost O(n^2), and every overlapping
    copy another n: offsets count 8-octet units (RFC 791 §3.1, RFC 8200 §4.5), so one 64 KiB datagram can come in
    8 k fragments (2.7 s to analyze a 0.5 MB capture of one such datagram)."""
    i = bisect_left(p.offsets, end) - 1
    if i < 0:
        return False
    o = p.offsets[i]
    return start < o + len(p.parts[o])


def _frames(frames: list[int]) -> str:
    return ", ".join(map(str, frames[:8])) + (" ..." if len(frames) > 8 else "")


# What a datagram lacks, by (its first fragment arrived, its last arrived): the texts of sipdiag.parsers.anomalytexts
_MISSING = {(True, False): "missing:last", (False, True): "missing:first", (False, False): "missing:both",
            (True, True): "missing:middle"}


def _incomplete(p: _Pending) -> dict[str, Detail]:
    """The values of an ip.fragments-incomplete anomaly: its fragments (Russian names one fragment in the singular,
    "фрагмент в кадре 46": a datagram of which only one fragment arrived is common), how much of it arrived
    ("1480 of 3000 bytes"; the total is known from the last fragment), and which fragments are missing."""
    frames = _frames(p.frames)
    return {
        "fragments": detail("fragments:one" if len(p.frames) == 1 else "fragments:many", frames=frames),
        "arrived": detail("arrived:of", size=p.size, total=p.total) if p.total is not None else
        detail("arrived:unknown", size=p.size),
        "missing": detail(_MISSING[0 in p.parts, p.total is not None]),
    }
