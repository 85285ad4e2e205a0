"""Grouping RTP column batches by stream (src, dst, ports, SSRC) without one Python object per packet.

Each packet's 7-column key is hashed into one uint64 and the batch is put in hash order with one stable argsort:
every stream's packets are then contiguous and still in frame order, ready for `np.*.reduceat` statistics. The
grouping is verified column by column; a hash collision (never seen, but possible) falls back to exact keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .npsets import unique
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


def stream_hash(cols: tuple[np.ndarray, ...]) -> np.ndarray:
    """One uint64 per packet from its key columns (see stream_key_columns)."""
    h = np.zeros(len(cols[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in cols:
            h = (h ^ c) * _MIX
            h ^= h >> np.uint64(29)
    return h


def group_streams(rtp: RtpColumns) -> StreamGroups:
    cols = stream_key_columns(rtp)
    h = stream_hash(cols)
    order = _radix_order(h)
    groups = _groups(h[order], order)
    if groups is None:  # two streams share the hash's low 32 bits: sorted on all 64
        order = np.argsort(h, kind="stable")
        groups = _groups(h[order], order)
        assert groups is not None
    if _verified(cols, groups):
        return groups
    keys = np.stack([c.astype(np.uint64) for c in cols], axis=1)
    order = np.lexsort(keys.T[::-1])
    sorted_keys = keys[order]
    change = np.flatnonzero((sorted_keys[1:] != sorted_keys[:-1]).any(axis=1)) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    return StreamGroups(order, starts, np.diff(np.append(starts, len(order))), np.zeros(len(starts), np.uint64))


def _radix_order(h: np.ndarray) -> np.ndarray:
    """A stable order of the packets by the low 32 bits of their hashes: two stable sorts of 16-bit keys, which
    NumPy does by radix sort (measured 0.53 ms against 1.70 ms for one stable sort of the 64-bit hashes, 36 000
    packets). Packets of one stream are then contiguous and in frame order, unless two streams share those 32 bits
    (about one batch in 400 000 with 150 streams): `_groups` then finds a group with two hashes."""
    low = (h & np.uint64(0xFFFF)).astype(np.uint16)
    high = ((h >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.uint16)
    by_low = np.argsort(low, kind="stable")
    return by_low[np.argsort(high[by_low], kind="stable")]


def _groups(sorted_hash: np.ndarray, order: np.ndarray) -> StreamGroups | None:
    """The groups of equal hashes in `order`; None if a hash appears in two places (an order by part of the hash
    that two streams share)."""
    if not len(order):
        empty = np.empty(0, dtype=np.int64)
        return StreamGroups(order, empty, empty, np.empty(0, dtype=np.uint64))
    starts = np.concatenate([[0], np.flatnonzero(sorted_hash[1:] != sorted_hash[:-1]) + 1]).astype(np.int64)
    hashes = sorted_hash[starts]
    if len(hashes) > 1 and len(unique(hashes)) != len(hashes):
        return None
    return StreamGroups(order, starts, np.diff(np.append(starts, len(order))), hashes)


def _verified(cols: tuple[np.ndarray, ...], g: StreamGroups) -> bool:
    """Every packet carries the same key as its neighbour within its group (so as the group's first packet). A
    column that is zero throughout (the upper halves of IPv4-mapped addresses) agrees without a look."""
    if len(g) == 0 or len(g.order) < 2:
        return True
    inner = np.ones(len(g.order) - 1, dtype=bool)  # pairs of neighbours in the same group
    inner[g.starts[1:] - 1] = False
    for c in cols:
        if not c.any():
            continue
        ordered = c[g.order]
        if ((ordered[1:] != ordered[:-1]) & inner).any():
            return False
    return True


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
        # New rows in the order the streams first appear (not the groups' hash order): row numbers then do not
        # depend on how the capture was cut into batches, nor does anything kept per row in row order.
        fresh = fresh[np.argsort(first[fresh], kind="stable")]
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
