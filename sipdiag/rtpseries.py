"""Bounded per-stream time series (packets, lost and the largest jitter in each second, for charts) and the
arrival-gap events that the capture-health check reads.

Both are collected batch by batch as a few compact arrays (one entry per stream-second, one per gap), merged at
the end. Memory is bounded: at most MAX_SECONDS seconds per stream and MAX_ENTRIES entries in all; gap events
stop at MAX_GAPS. What is dropped is counted, never silently lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rtpbatch import BatchView, ColumnTable

MAX_SECONDS = 3600  # the first hour of each stream
MAX_ENTRIES = 200_000  # stream-seconds in all (~3.4 MB): charts need no more, and memory stays flat
MAX_GAPS = 200_000


@dataclass(frozen=True, slots=True, eq=False)
class StreamSeries(ColumnTable):
    """One stream's seconds that saw packets: second i counts from the stream's first packet."""

    second: np.ndarray  # int32
    packets: np.ndarray  # int32
    lost: np.ndarray  # int32: packets of the loss runs that ended in that second
    jitter_max_ms: np.ndarray  # float32: largest running jitter in that second (0: no clock)



class SeriesStore:
    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.entries = 0
        self.dropped = 0

    def add(self, b: BatchView, lost: np.ndarray, jitter: np.ndarray) -> None:
        seg = b.segs.seg
        second = (b.t_ms * 0.001).astype(np.int64)  # whole seconds since the stream's first packet
        key = seg * MAX_SECONDS + second
        keep = (second >= 0) & (second < MAX_SECONDS)
        if not keep.all():
            key, lost, jitter, seg, second = key[keep], lost[keep], jitter[keep], seg[keep], second[keep]
        if not len(key):
            return
        head = np.empty(len(key), dtype=bool)
        head[0] = True
        np.not_equal(key[1:], key[:-1], out=head[1:])
        heads = np.flatnonzero(head)
        if self.entries + len(heads) > MAX_ENTRIES:
            self.dropped += len(heads)
            return
        self.entries += len(heads)
        self.parts.append((b.rows[seg[heads]].astype(np.int32), second[heads].astype(np.int32),
                           np.diff(np.append(heads, len(key))).astype(np.int32),
                           np.add.reduceat(lost, heads).astype(np.int32),
                           np.maximum.reduceat(jitter, heads).astype(np.float32)))

    def table(self, stream_of_row: dict[int, int]) -> SeriesTable:
        """Merge the batches' entries (a second cut by a batch boundary is summed) into one table, stream by
        stream (streams numbered as in the result)."""
        if not self.parts:
            e32 = np.empty(0, dtype=np.int32)
            return SeriesTable(e32, e32, e32, e32, np.empty(0, dtype=np.float32),
                               np.zeros(len(stream_of_row) + 1, dtype=np.int64))
        row, second, packets, lost, jitter = (np.concatenate(c) for c in zip(*self.parts))
        remap = np.full(max(stream_of_row) + 1, -1, dtype=np.int64)
        remap[list(stream_of_row)] = list(stream_of_row.values())
        stream = remap[row]
        key = stream * MAX_SECONDS + second
        order = np.argsort(key, kind="stable")
        key = key[order]
        head = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        stream = stream[order][head].astype(np.int32)
        bounds = np.searchsorted(stream, np.arange(len(stream_of_row) + 1)).astype(np.int64)
        return SeriesTable(stream, second[order][head], np.add.reduceat(packets[order], head).astype(np.int32),
                           np.add.reduceat(lost[order], head).astype(np.int32),
                           np.maximum.reduceat(jitter[order], head).astype(np.float32), bounds)


@dataclass(frozen=True, slots=True, eq=False)
class SeriesTable(ColumnTable):
    """Every stream's series in one set of columns, sorted by stream then second (cheap to pickle across the
    capture process's pipe, unlike thousands of small arrays)."""

    stream: np.ndarray  # int32, index into RtpStatsResult.streams
    second: np.ndarray
    packets: np.ndarray
    lost: np.ndarray
    jitter_max_ms: np.ndarray

    bounds: np.ndarray  # int64: stream i's entries are [bounds[i], bounds[i + 1])

    def of(self, stream: int) -> StreamSeries:
        if not 0 <= stream < len(self.bounds) - 1:
            raise IndexError(stream)
        a, z = int(self.bounds[stream]), int(self.bounds[stream + 1])
        return StreamSeries(self.second[a:z], self.packets[a:z], self.lost[a:z], self.jitter_max_ms[a:z])



class GapStore:
    """Arrival gaps longer than a stream's usual interval: (row, start, end) in capture time."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0
        self.dropped = 0

    def add(self, rows: np.ndarray, start_ns: np.ndarray, end_ns: np.ndarray) -> None:
        if not len(rows):
            return
        if self.count + len(rows) > MAX_GAPS:
            self.dropped += len(rows)
            return
        self.count += len(rows)
        self.parts.append((rows.astype(np.int64), start_ns.astype(np.int64), end_ns.astype(np.int64)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.parts:
            e = np.empty(0, dtype=np.int64)
            return e, e, e
        rows, start, end = (np.concatenate(c) for c in zip(*self.parts))
        return rows, start, end
