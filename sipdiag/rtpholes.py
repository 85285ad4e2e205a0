"""Which sequence numbers of each stream the capture missed: its loss runs and the late packets that filled them,
by extended sequence number (RFC 3550 A.1), so that the capture's loss over any range of sequence numbers can be
counted afterwards: the range an RTCP receiver report covers (sipdiag.rtcploss), whose loss the far end counts
over its own extended highest sequence numbers (RFC 3550 §6.4.1, A.3).

The stream's own figures (RtpStreamStats.lost) are totals; the range of a report is a part of the stream. A loss
run is recorded where an in-order packet skips numbers (its `gap` in sipdiag.rtpseq), a fill where a late packet
that is no duplicate arrives: lost over (a, b] = the run numbers within it less the fills within it, which over
the whole stream is RFC 3550 A.3's expected - received (duplicates not counted as received).

Loss is rare next to packets, so the store is small; it is bounded all the same (MAX_HOLES entries in all). A
stream whose entries did not all fit is marked incomplete, never silently counted short.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rtpbatch import BatchView, ColumnTable
from .npsets import unique

MAX_HOLES = 200_000  # runs and fills in all (~4 MB)
FILL = -1  # the count of a fill entry: one late packet that made up for a number counted lost


@dataclass(frozen=True, slots=True, eq=False)
class StreamHoles:
    """One stream's missed sequence numbers. base/top: the extended sequence numbers of its first packet and the
    highest one received (the capture's numbering: the first packet's number, unwrapped from there); first/count:
    a run of `count` numbers lost from `first` on, or (count FILL) a late packet that arrived with number
    `first`. complete: every entry of the stream was kept (MAX_HOLES)."""

    base: int
    top: int
    first: np.ndarray  # int64
    count: np.ndarray  # int32
    complete: bool

    def lost_between(self, low: int, high: int) -> int:
        """Packets with extended sequence numbers in (low, high] the capture never received: what an RTCP
        receiver's cumulative lost would grow by between reports of highest numbers low and high, had it sat at the
        capture point (RFC 3550 A.3)."""
        runs = self.count > 0
        start = self.first[runs]
        end = start + self.count[runs] - 1
        overlap = np.minimum(end, high) - np.maximum(start, low + 1) + 1
        fills = self.first[self.count == FILL]
        filled = int(np.count_nonzero((fills > low) & (fills <= high)))
        return max(int(overlap[overlap > 0].sum()) - filled, 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamHoles):
            return NotImplemented
        return (self.base, self.top, self.complete) == (other.base, other.top, other.complete) and \
            np.array_equal(self.first, other.first) and np.array_equal(self.count, other.count)

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside


@dataclass(frozen=True, slots=True, eq=False)
class HoleTable(ColumnTable):
    """Every stream's entries in one set of columns, sorted by stream then sequence number (cheap to pickle across
    the capture process's pipe, as sipdiag.rtpseries.SeriesTable)."""

    first: np.ndarray  # int64
    count: np.ndarray  # int32
    bounds: np.ndarray  # int64: stream i's entries are [bounds[i], bounds[i + 1])
    base: np.ndarray  # int64 per stream
    top: np.ndarray  # int64 per stream
    complete: np.ndarray  # bool per stream

    def of(self, stream: int) -> StreamHoles:
        if not 0 <= stream < len(self.bounds) - 1:
            raise IndexError(stream)
        a, z = int(self.bounds[stream]), int(self.bounds[stream + 1])
        return StreamHoles(int(self.base[stream]), int(self.top[stream]), self.first[a:z], self.count[a:z],
                           bool(self.complete[stream]))



class HoleStore:
    """Collects the entries batch by batch (RtpStatsEngine.add), bounded by MAX_HOLES."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0
        self.dropped = 0
        self.incomplete: set[int] = set()  # table rows some of whose entries were dropped

    def add(self, b: BatchView, gap: np.ndarray, ext: np.ndarray, fill: np.ndarray) -> None:
        """gap: the numbers each packet skipped (sipdiag.rtpseq: lost just before it); ext: each packet's extended
        sequence number; fill: the late packets that were no duplicate."""
        runs, fills = np.flatnonzero(gap > 0), np.flatnonzero(fill)
        if not len(runs) and not len(fills):
            return
        seg = b.segs.seg
        rows = np.concatenate([b.rows[seg[runs]], b.rows[seg[fills]]]).astype(np.int64)
        if self.count + len(rows) > MAX_HOLES:
            self.dropped += len(rows)
            self.incomplete.update(unique(rows).tolist())
            return
        self.count += len(rows)
        self.parts.append((rows, np.concatenate([ext[runs] - gap[runs], ext[fills]]).astype(np.int64),
                           np.concatenate([gap[runs], np.full(len(fills), FILL)]).astype(np.int32)))

    def table(self, stream_of_row: dict[int, int], base: np.ndarray, top: np.ndarray) -> HoleTable:
        """The entries stream by stream (streams numbered as in the result); base/top: each row's first and
        highest extended sequence number."""
        n = len(stream_of_row)
        rows_in_order = np.empty(n, dtype=np.int64)
        rows_in_order[list(stream_of_row.values())] = list(stream_of_row)
        complete = np.array([r not in self.incomplete for r in rows_in_order.tolist()], dtype=bool)
        if self.parts:
            row, first, count = (np.concatenate(c) for c in zip(*self.parts))
        else:
            row, first, count = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
        remap = np.full(max(stream_of_row, default=-1) + 1, -1, dtype=np.int64)
        remap[list(stream_of_row)] = list(stream_of_row.values())
        stream = remap[row] if len(row) else row
        order = np.lexsort((count, first, stream))
        bounds = np.searchsorted(stream[order], np.arange(n + 1)).astype(np.int64)
        return HoleTable(first[order], count[order], bounds, base[rows_in_order].astype(np.int64),
                         top[rows_in_order].astype(np.int64), complete)
