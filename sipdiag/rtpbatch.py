"""One RTP column batch seen stream by stream: the packets in stream order plus the per-packet values every
statistic shares (position in the stream, arrival in ms, Wireshark's "in time sequence" test, the delta to the
reference packet, the regular-packet mask, the clock).

Arrival times are kept relative to each stream's first packet (`t0_ns`) so that float milliseconds stay exact to
the nanosecond over days of capture.
"""

from __future__ import annotations

import numpy as np

from .parsers.columns import RtpColumns
from .rtpclock import CN_PAYLOAD_TYPES, STATIC_CLOCK_ARRAY
from .segments import Segments

HALF_RANGE = 1 << 31
U32 = 0xFFFFFFFF


class ColumnTable:
    """Base of the frozen dataclasses that hold NumPy columns (a stream's series, every stream's series or loss
    runs): equal when every column holds the same values. The dataclass's own __eq__ would compare arrays with ==,
    element by element, which has no truth value; and arrays are mutable, so no hash."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


class BatchView:
    """Sorted per-packet arrays of one batch (or of some of its streams, `subset`) and their shared derivations.

    rows: the table row of each segment; carry: the table's columns (the state carried from earlier batches,
    read before this batch updates them)."""

    def __init__(self, rtp: RtpColumns, order: np.ndarray, segs: Segments, rows: np.ndarray,
                 n_before: np.ndarray, carry: dict[str, np.ndarray]) -> None:
        self.rtp, self.order, self.segs, self.rows, self.n_before, self.carry = rtp, order, segs, rows, n_before, carry
        seg = segs.seg
        self.seq = rtp.sequence.take(order).astype(np.int64)
        self.ts = rtp.timestamp.take(order)
        self.t_ns = rtp.ts_ns.take(order)
        self.pt = rtp.payload_type.take(order).astype(np.int64)
        self.marker = rtp.marker.take(order)
        self.idx = np.arange(segs.size, dtype=np.int64) - np.repeat(segs.starts - n_before, segs.counts)
        self.first = self.idx == 0
        self.new = n_before == 0  # per segment: the stream starts in this batch
        t0 = segs.spread(self.seg_value("t0_ns"))
        self.t_ms = (self.t_ns - t0) * 1e-6
        # Wireshark 4.0: a packet is "in time sequence" when its timestamp is less than half the 32-bit range
        # after the stream's first timestamp; others are flagged "wrong timestamp" and skipped.
        first_ts = segs.spread(self.seg_value("first_ts"))
        self.d = (self.ts - first_ts) & U32
        self.in_time = self.d < HALF_RANGE
        edge = self.d == HALF_RANGE
        if edge.any():  # exactly half the range away: in time only when it wrapped (Wireshark's two tests)
            self.in_time |= edge & (self.ts < first_ts)
        self.all_in_time = bool(self.in_time.all())
        # The reference of each packet: the last in-time packet before it (its arrival and, for the jitter,
        # its nominal time), or the stream's carried one.
        ref_t = (self.seg_value("ws_ref_ns") - self.seg_value("t0_ns")) * 1e-6
        if self.all_in_time:
            self.ref_t = segs.previous(self.t_ms, ref_t)
        else:
            last = segs.last_where(self.in_time | self.first, strict=True)
            self.ref_t = np.where(last >= 0, self.t_ms[np.maximum(last, 0)], ref_t[seg])
        self.delta = self.t_ms - self.ref_t
        self.prev_pt = segs.previous(self.pt, self.seg_value("last_pt").astype(np.int64))
        self.cn = (self.pt == CN_PAYLOAD_TYPES[0]) | (self.pt == CN_PAYLOAD_TYPES[1])
        last_pt = self.seg_value("last_pt")
        self.prev_cn = segs.previous(self.cn, (last_pt == CN_PAYLOAD_TYPES[0]) | (last_pt == CN_PAYLOAD_TYPES[1]))
        # Wireshark's "regular" packets, the only ones in max delta, max and mean jitter: not the first, no
        # marker, not comfort noise nor the packet after it, timestamp in sequence.
        self.regular = ~(self.first | self.marker | self.cn | self.prev_cn)
        if not self.all_in_time:
            self.regular &= self.in_time
        self.clock = STATIC_CLOCK_ARRAY.take(self.pt & 0x7F)
        self.dynamic = self.pt >= 96
        self.unresolved = np.zeros(segs.size, dtype=bool)  # dynamic, no map known (set by the engine)
        # 4-octet payload of a dynamic type in the shape of an RFC 4733 event or a Cisco NSE (dtmf.plausible_nse)
        self.maybe_event = np.zeros(segs.size, dtype=bool)
        # taken for an RFC 4733 event by the DTMF shape alone (unnamed type): a keep-alive if it never lasts (dtmf)
        self.guessed_event = np.zeros(segs.size, dtype=bool)

    def seg_value(self, name: str) -> np.ndarray:
        """A carried column at each segment (the value before this batch)."""
        return self.carry[name][self.rows]

    def frames_at(self, positions: np.ndarray) -> np.ndarray:
        return self.rtp.frame.take(self.order.take(positions))

    def gather(self, name: str) -> np.ndarray:
        """Any other RtpColumns field, in stream order."""
        return getattr(self.rtp, name).take(self.order)

    def subset(self, segment_mask: np.ndarray) -> BatchView:
        """The same batch restricted to some streams (the candidate-clock passes run on those only)."""
        keep = np.flatnonzero(segment_mask)
        counts = self.segs.counts[keep]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        pos = np.concatenate([np.arange(s, s + c) for s, c in zip(self.segs.starts[keep].tolist(), counts.tolist())])
        view = BatchView(self.rtp, self.order[pos], Segments.of(starts, counts), self.rows[keep],
                         self.n_before[keep], self.carry)
        view.clock = self.clock[pos]
        view.unresolved = self.unresolved[pos]
        view.maybe_event = self.maybe_event[pos]
        return view
