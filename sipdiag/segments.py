"""Segment-wise NumPy operations for the RTP statistics engine.

A batch of RTP packets is put in stream order by `group_streams`: every stream's packets are one contiguous
*segment*, in frame order. The helpers here compute running values (previous packet, cumulative sums and maxima,
first-order recurrences) over all segments at once, each segment starting from the state its stream carried out
of the previous batch. Nothing loops over packets or over streams in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True, slots=True)
class Segments:
    """starts/counts: where each segment begins and how many packets it has; seg: the segment of each packet;
    ends: the position of each segment's last packet."""

    starts: np.ndarray
    counts: np.ndarray
    seg: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, starts: np.ndarray, counts: np.ndarray) -> Segments:
        seg = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
        return cls(starts, counts, seg, starts + counts - 1)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def size(self) -> int:
        return len(self.seg)

    def spread(self, per_segment: np.ndarray) -> np.ndarray:
        """A per-segment value at each packet of the segment."""
        return np.repeat(per_segment, self.counts)

    def previous(self, x: np.ndarray, carry: np.ndarray) -> np.ndarray:
        """x of the packet before, inside the segment; carry[s] (the stream's carried value) at each segment head."""
        out = np.empty_like(x)
        out[1:] = x[:-1]
        out[self.starts] = carry
        return out

    def cumsum(self, x: np.ndarray) -> np.ndarray:
        """Inclusive cumulative sum restarting at every segment head."""
        c = np.cumsum(x)
        offset = c[self.starts] - x[self.starts]
        return c - offset[self.seg]

    def last_where(self, mask: np.ndarray, *, strict: bool) -> np.ndarray:
        """The position of the last packet with mask set, at or (strict) before each packet, within its segment;
        -1 where there is none (the carried state applies)."""
        pos = np.where(mask, np.arange(len(mask), dtype=np.int64), -1)
        np.maximum.accumulate(pos, out=pos)
        if strict:
            pos = self.previous(pos, np.full(len(self.starts), -1, dtype=np.int64))
        pos[pos < self.starts[self.seg]] = -1
        return pos

    def cummax(self, x: np.ndarray, span: int) -> np.ndarray:
        """Running maximum restarting at every segment head, for integers whose range within a segment is below
        `span` (each segment is lifted above the previous one so that one global accumulate does all)."""
        lift = self.seg * np.int64(span)
        return np.maximum.accumulate(x + lift) - lift

    def cummin(self, x: np.ndarray, span: int, groups: np.ndarray | None = None) -> np.ndarray:
        """Running minimum restarting at every segment head (or at every change of `groups`, a non-decreasing
        group number), for integers whose range within a group is below `span`."""
        lower = (self.seg if groups is None else groups) * np.int64(span)
        return np.minimum.accumulate(x - lower) + lower

    def reduce_max(self, x: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(x, self.starts)

    def reduce_min(self, x: np.ndarray) -> np.ndarray:
        return np.minimum.reduceat(x, self.starts)

    def reduce_sum(self, x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, self.starts)

    def last_of(self, x: np.ndarray) -> np.ndarray:
        return x[self.ends]


# ------------------------------------------------------------------------------------------ first-order recurrence

_BLOCK = 32


@lru_cache(maxsize=8)
def _block_powers(a: float) -> tuple[np.ndarray, np.ndarray]:
    """a^-(i+1) and a^(i+1) for i < BLOCK."""
    e = np.arange(1, _BLOCK + 1, dtype=np.float64)
    return a**-e, a**e


def recurrence(b: np.ndarray, a: float) -> np.ndarray:
    """y[k] = a * y[k-1] + b[k] with y[-1] = 0, for 0 < a < 1, vectorised.

    The array is cut in blocks of 32. Inside a block y = a^(i+1) * cumsum(b * a^-(i+1)) (the weights stay
    below a^-32, about 8 for a = 15/16, so the sums keep full precision). The blocks' end values are chained
    by doubling: a^(32 * 2^k) falls below 1e-30 within six steps, so the chain is exact to double precision.
    """
    n = len(b)
    if n == 0:
        return np.empty(0)
    m = -(-n // _BLOCK)
    local = np.zeros(m * _BLOCK)
    local[:n] = b
    local = local.reshape(m, _BLOCK)
    up, down = _block_powers(a)
    local *= up
    np.cumsum(local, axis=1, out=local)
    local *= down
    ends = local[:, -1].copy()
    step, factor = 1, a**_BLOCK
    while step < m and factor > 1e-30:
        ends[step:] = ends[step:] + factor * ends[:-step]
        step *= 2
        factor *= factor
    local[1:] += ends[:-1, None] * down[None, :]
    return local.ravel()[:n]


def segmented_recurrence(b: np.ndarray, a: float, heads: np.ndarray, lengths: np.ndarray,
                         carry: np.ndarray) -> np.ndarray:
    """y[k] = a * y[k-1] + b[k] inside runs (starting at `heads`, `lengths` long), where y before a run's first
    element is carry[run]. One global recurrence, then each run's leak from the run before is replaced by its
    own carried start: y_true[k] = y[k] + a^(k - p + 1) * (carry - y[p - 1]) for a run starting at p."""
    n = len(b)
    if n == 0:
        return np.empty(0)
    y = recurrence(b, a)
    before = np.zeros(len(heads))
    before[1:] = y.take(heads[1:] - 1)
    if heads[0] > 0:
        before[0] = y[heads[0] - 1]
    step = np.arange(1, n + 1, dtype=np.int64) - np.repeat(heads, lengths)
    y += np.repeat(carry - before, lengths) * _powers(a).take(np.minimum(step, _POWERS - 1))
    return np.maximum(y, 0.0, out=y) if (b >= 0).all() else y  # no rounding below zero for a positive input


_POWERS = 2048  # a^k for k >= 2048 is 0 to double precision for a <= 15/16 (1e-57) and counts as such


@lru_cache(maxsize=8)
def _powers(a: float) -> np.ndarray:
    p = a ** np.arange(_POWERS, dtype=np.float64)
    p[-1] = 0.0
    return p
