"""Grouping RTP column batches by stream (src, dst, ports, SSRC) without one Python object per packet.

Each packet's 7-column key is hashed into one uint64 and the batch is put in hash order with one stable argsort:
every stream's packets are then contiguous and still in frame order, ready for `np.*.reduceat` statistics. The
grouping is verified column by column; a hash collision (never seen, but possible) falls back to exact keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .parsers.columns import RtpColumns

_MIX = np.uint64(0x100000001B3)  # FNV-1 64-bit prime: an odd multiplier spreads every input bit upwards


@dataclass(frozen=True, slots=True)
class StreamGroups:
    """order: packet indices, stream by stream, frame order inside each; starts: where each stream begins in
    `order`; counts: packets per stream. Stream j is `order[starts[j] : starts[j] + counts[j]]`."""

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    hashes: np.ndarray  # uint64 key hash of each stream (exact-key fallback groups get 0)

    @property
    def first(self) -> np.ndarray:
        """Index of each stream's first packet in the batch."""
        return self.order[self.starts]

    def __len__(self) -> int:
        return len(self.starts)


KEY_NAMES = ("src_hi", "src_lo", "dst_hi", "dst_lo", "src_port", "dst_port", "ssrc")


def stream_key_columns(rtp: RtpColumns) -> tuple[np.ndarray, ...]:
    return (rtp.src_hi, rtp.src_lo, rtp.dst_hi, rtp.dst_lo, rtp.src_port.astype(np.uint64),
            rtp.dst_port.astype(np.uint64), rtp.ssrc.astype(np.uint64))


def group_streams(rtp: RtpColumns) -> StreamGroups:
    cols = stream_key_columns(rtp)
    h = np.zeros(len(rtp), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in cols:
            h = (h ^ c) * _MIX
            h ^= h >> np.uint64(29)
    order = np.argsort(h, kind="stable")
    sorted_h = h[order]
    groups = _groups(sorted_h, order)
    if _verified(cols, groups):
        return groups
    keys = np.stack([c.astype(np.uint64) for c in cols], axis=1)
    order = np.lexsort(keys.T[::-1])
    sorted_keys = keys[order]
    change = np.flatnonzero((sorted_keys[1:] != sorted_keys[:-1]).any(axis=1)) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    return StreamGroups(order, starts, np.diff(np.append(starts, len(order))), np.zeros(len(starts), np.uint64))


def _groups(sorted_hash: np.ndarray, order: np.ndarray) -> StreamGroups:
    if not len(order):
        empty = np.empty(0, dtype=np.int64)
        return StreamGroups(order, empty, empty, np.empty(0, dtype=np.uint64))
    starts = np.concatenate([[0], np.flatnonzero(sorted_hash[1:] != sorted_hash[:-1]) + 1]).astype(np.int64)
    return StreamGroups(order, starts, np.diff(np.append(starts, len(order))), sorted_hash[starts])


def _verified(cols: tuple[np.ndarray, ...], g: StreamGroups) -> bool:
    """Every packet carries the same key as the first packet of its group."""
    if not len(g):
        return True
    group_of = np.repeat(np.arange(len(g)), g.counts)
    heads = g.first
    return all((c[g.order] == c[heads][group_of]).all() for c in cols)


class StreamTable:
    """Per-stream accumulators as NumPy columns, one row per stream, merged chunk by chunk without a Python loop
    over streams: each chunk's groups find their rows by binary search on the stream hashes.

    Subclasses (the media stage) add their own columns; this one keeps the key, packets, first frame and payload
    type, and the sequence-number spread used to tell RTP from look-alike UDP.
    """

    MIN_ROWS = 1024  # rows allocated at first; the table doubles when full

    def __init__(self) -> None:
        self.rows = 0
        self.sorted_hash = np.empty(0, dtype=np.uint64)  # hashes of the rows, sorted
        self.sorted_row = np.empty(0, dtype=np.int64)  # the row of each sorted hash
        self.cols: dict[str, np.ndarray] = {}
        self.exact: dict[tuple, int] = {}  # rows of streams whose hash collided: looked up by exact key

    def _grow(self, n: int) -> None:
        need = self.rows + n
        size = len(self.cols["packets"]) if self.cols else 0
        if need <= size:
            return
        new_size = max(need, size * 2, self.MIN_ROWS)
        for name, dtype in self.column_types().items():
            old = self.cols.get(name)
            arr = np.zeros(new_size, dtype=dtype)
            if old is not None:
                arr[: self.rows] = old[: self.rows]
            self.cols[name] = arr

    def column_types(self) -> dict[str, type]:
        return {"src_hi": np.uint64, "src_lo": np.uint64, "dst_hi": np.uint64, "dst_lo": np.uint64,
                "src_port": np.int32, "dst_port": np.int32, "ssrc": np.int64, "packets": np.int64,
                "first_frame": np.int64, "payload_type": np.int16, "seq_lo": np.int64, "seq_hi": np.int64,
                "seq_slo": np.int64, "seq_shi": np.int64}

    def rows_of(self, rtp: RtpColumns, g: StreamGroups) -> np.ndarray:
        """The table row of each group of a batch, creating rows for streams not seen before."""
        first = g.first
        keys = stream_key_columns(rtp)
        rows = np.full(len(g), -1, dtype=np.int64)
        if len(self.sorted_hash):
            pos = np.minimum(np.searchsorted(self.sorted_hash, g.hashes), len(self.sorted_hash) - 1)
            present = (self.sorted_hash[pos] == g.hashes) & (g.hashes != 0)
        else:
            pos = np.zeros(len(g), dtype=np.int64)
            present = np.zeros(len(g), dtype=bool)
        candidate = np.where(present, self.sorted_row[pos] if len(self.sorted_row) else 0, 0)
        same = present.copy()
        if present.any():
            # The same hash must mean the same key; a hash collision is looked up by exact key instead.
            for name, col in zip(KEY_NAMES, keys):
                same &= self.cols[name][candidate] == col[first].astype(self.cols[name].dtype)
        rows[same] = candidate[same]
        fresh = np.flatnonzero(~present & (g.hashes != 0))
        if len(fresh):
            # The groups of one batch have distinct hashes, so each fresh group is one new row.
            self._grow(len(fresh))
            rows[fresh] = np.arange(self.rows, self.rows + len(fresh))
            self.rows += len(fresh)
            self._init_rows(rows[fresh], rtp, first[fresh], keys)
            merged_h = np.concatenate([self.sorted_hash, g.hashes[fresh]])
            merged_r = np.concatenate([self.sorted_row, rows[fresh]])
            order = np.argsort(merged_h, kind="stable")
            self.sorted_hash, self.sorted_row = merged_h[order], merged_r[order]
        for j in np.flatnonzero(rows < 0).tolist():  # collisions and exact-key groups: never seen in practice
            key = tuple(int(c[first[j]]) for c in keys)
            row = self.exact.get(key)
            if row is None:
                self._grow(1)
                row = self.exact[key] = self.rows
                self.rows += 1
                self._init_rows(np.array([row]), rtp, first[[j]], keys)
            rows[j] = row
        return rows

    def _init_rows(self, rows: np.ndarray, rtp: RtpColumns, first: np.ndarray, keys) -> None:
        c = self.cols
        for name, col in zip(KEY_NAMES, keys):
            c[name][rows] = col[first]
        c["first_frame"][rows] = rtp.frame[first]
        c["payload_type"][rows] = rtp.payload_type[first]
        c["seq_lo"][rows] = 1 << 20
        c["seq_slo"][rows] = 1 << 20
        c["seq_hi"][rows] = -1
        c["seq_shi"][rows] = -1

    def add(self, rtp: RtpColumns) -> tuple[StreamGroups, np.ndarray]:
        """Fold one batch in; returns its grouping and the table row of each group, for subclasses."""
        g = group_streams(rtp)
        rows = self.rows_of(rtp, g)
        c = self.cols
        c["packets"][rows] += g.counts  # rows are distinct within a batch
        seq = rtp.sequence.astype(np.int64)[g.order]
        shifted = (seq + 32768) & 0xFFFF  # the same spread measured across the 65535 -> 0 wrap
        c["seq_lo"][rows] = np.minimum(c["seq_lo"][rows], np.minimum.reduceat(seq, g.starts))
        c["seq_hi"][rows] = np.maximum(c["seq_hi"][rows], np.maximum.reduceat(seq, g.starts))
        c["seq_slo"][rows] = np.minimum(c["seq_slo"][rows], np.minimum.reduceat(shifted, g.starts))
        c["seq_shi"][rows] = np.maximum(c["seq_shi"][rows], np.maximum.reduceat(shifted, g.starts))
        return g, rows

    def column(self, name: str) -> np.ndarray:
        return self.cols[name][: self.rows] if self.cols else np.empty(0, dtype=self.column_types()[name])
