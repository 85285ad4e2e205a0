"""Set operations on plain NumPy arrays that leave `numpy.ma` unimported.

NumPy 2's `np.unique(a)` without return_index/return_inverse/return_counts asks `np.ma.is_masked(a)`, and
`np.isin` on arrays it cannot look up in a table (a wide value range) calls it; the first use in a process
imports numpy.ma, 13-31 ms on the machines measured (its import builds signatures with `inspect`). No sipdiag
array is masked: every `sipdiag analyze` paid that in its reading process, and every batch worker in its first
capture, for nothing. These give the same results on the arrays sipdiag has (1-D, integer or float without NaN).
"""

from __future__ import annotations

import numpy as np


def unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: `np.unique(values)` for a 1-D array."""
    ordered = np.sort(np.asarray(values).ravel())
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def member_of(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Whether each of `values` is in `table` (sorted, distinct, non-empty): `np.isin(values, table)`, by a binary
    search per value."""
    at = np.searchsorted(table, values)
    np.minimum(at, len(table) - 1, out=at)
    return table[at] == values
