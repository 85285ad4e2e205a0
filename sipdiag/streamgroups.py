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

    @property
    def first(self) -> np.ndarray:
        """Index of each stream's first packet in the batch."""
        return self.order[self.starts]

    def __len__(self) -> int:
        return len(self.starts)


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
    groups = _groups(h[order], order)
    if _verified(cols, groups):
        return groups
    keys = np.stack([c.astype(np.uint64) for c in cols], axis=1)
    order = np.lexsort(keys.T[::-1])
    sorted_keys = keys[order]
    change = np.flatnonzero((sorted_keys[1:] != sorted_keys[:-1]).any(axis=1)) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    return StreamGroups(order, starts, np.diff(np.append(starts, len(order))))


def _groups(sorted_hash: np.ndarray, order: np.ndarray) -> StreamGroups:
    if not len(order):
        empty = np.empty(0, dtype=np.int64)
        return StreamGroups(order, empty, empty)
    starts = np.concatenate([[0], np.flatnonzero(sorted_hash[1:] != sorted_hash[:-1]) + 1]).astype(np.int64)
    return StreamGroups(order, starts, np.diff(np.append(starts, len(order))))


def _verified(cols: tuple[np.ndarray, ...], g: StreamGroups) -> bool:
    """Every packet carries the same key as the first packet of its group."""
    if not len(g):
        return True
    group_of = np.repeat(np.arange(len(g)), g.counts)
    heads = g.first
    return all((c[g.order] == c[heads][group_of]).all() for c in cols)
