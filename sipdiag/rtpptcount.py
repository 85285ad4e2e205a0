"""Packets of media per payload type of each stream, for its main type (rtpfinal._clocks): the codec is the type
that carried most of the stream's media, as tshark's `-z rtp,streams` names a stream's payload from its packets.

The first type a stream sends need not be its codec: a Cisco gateway's three NSE packets (PT 100) at a fax tone, one
RFC 2198 RED packet or a few comfort-noise packets may come before thousands of PCMA packets.

Bounded per stream: the first PT_SLOTS payload types a stream carried media under get a slot each (the type and its
packets); the packets of any further type are counted together (`pt_other`). A voice stream carries two or three
(the codec, RFC 4733 events, RFC 3389 comfort noise). Each batch is folded with NumPy over all its streams at once.
"""

from __future__ import annotations

import numpy as np

from .rtpbatch import BatchView

PT_SLOTS = 4
PT_COUNT_STATE: dict[str, type] = {
    **{f"pt{k}": np.int16 for k in range(PT_SLOTS)},  # a slot's payload type, valid when its count is > 0
    **{f"pt{k}_n": np.int64 for k in range(PT_SLOTS)},
    "pt_other": np.int64,  # packets of media of the types that found no free slot
}


def fold_pt_counts(b: BatchView, cols: dict[str, np.ndarray], media: np.ndarray) -> None:
    """Count a batch's packets of media (`media` per packet, in stream order) per (stream, payload type)."""
    if not media.any():
        return
    rows, pts, first, counts = _pairs(b, media)
    slot_pt = np.stack([cols[f"pt{k}"][rows] for k in range(PT_SLOTS)], axis=1)
    used = np.stack([cols[f"pt{k}_n"][rows] for k in range(PT_SLOTS)], axis=1) > 0
    match = used & (slot_pt == pts[:, None])
    slot = np.where(match.any(axis=1), match.argmax(axis=1), -1)
    fresh = np.flatnonzero(slot < 0)
    if len(fresh):
        # Slots fill in order and never empty: a stream's new types take the next free ones in the order their
        # first packet came, so that of two types with as many packets the earlier one is the main one.
        fresh = fresh[np.lexsort((first[fresh], rows[fresh]))]
        r = rows[fresh]
        head = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        rank = np.arange(len(fresh)) - np.repeat(head, np.diff(np.r_[head, len(fresh)]))
        slot[fresh] = used[fresh].sum(axis=1) + rank
    over = slot >= PT_SLOTS
    np.add.at(cols["pt_other"], rows[over], counts[over])
    for k in range(PT_SLOTS):  # one (row, slot) pair per (stream, type): plain fancy indexing adds once each
        sel = slot == k
        cols[f"pt{k}"][rows[sel]] = pts[sel]
        cols[f"pt{k}_n"][rows[sel]] += counts[sel]


def _pairs(b: BatchView, media: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The (stream, payload type) pairs of a batch's packets of media: their rows, types, where their first packet
    comes (compared within a row only) and packets. A stream changes type seldom: the runs of one type are few, and
    only those are sorted."""
    pos = np.flatnonzero(media)
    key = b.segs.seg[pos] * 128 + b.pt[pos]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    pairs, first, inverse = np.unique(key[start], return_index=True, return_inverse=True)
    counts = np.bincount(inverse, weights=np.diff(np.r_[start, len(key)]), minlength=len(pairs)).astype(np.int64)
    return b.rows[pairs // 128], pairs % 128, start[first], counts


def pt_counts(cols: dict[str, np.ndarray], row: int) -> dict[int, int]:
    """A row's packets of media per payload type, in the order the types first carried media (slots only)."""
    return {int(cols[f"pt{k}"][row]): int(cols[f"pt{k}_n"][row]) for k in range(PT_SLOTS)
            if cols[f"pt{k}_n"][row] > 0}


def pt_count_records(cols: dict[str, np.ndarray], rows: np.ndarray) -> list[tuple[tuple[int, int], ...]]:
    """pt_counts of each of `rows`, as (type, packets) pairs, column by column (tens of thousands of streams)."""
    slots = [(cols[f"pt{k}"][rows].tolist(), cols[f"pt{k}_n"][rows].tolist()) for k in range(PT_SLOTS)]
    return [tuple((pt[i], n[i]) for pt, n in slots if n[i] > 0) for i in range(len(rows))]
