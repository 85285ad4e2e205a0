"""Interarrival jitter and delta, column-wise, the way Wireshark 4.0 computes them (ui/tap-rtp-analysis.c,
`rtppacket_analyse`), so an engineer sees the same numbers in sipdiag and in Wireshark (RULES.md §1.1 rule 3).

Per packet i after the first, all times in ms, for packets "in time sequence" (see rtpbatch):
- delta_i = arrival_i - arrival of the last in-time packet before it;
- with a clock (see rtpclock; none for telephone-event or an unknown dynamic type), nominal_i is the timestamp
  distance from the stream's first packet, / (clock // 1000) (Wireshark divides by the integer kHz);
  D_i = |delta_i - (nominal_i - nominal of the last in-time packet with a clock)|, and
  J_i = J_{i-1} + (D_i - J_{i-1}) / 16 (RFC 3550 §6.4.1 in ms; a linear recurrence, solved in blocks);
- max jitter is the largest J over "regular" packets (no marker, not CN or after CN, in time), and
  mean jitter is Wireshark's running mean M = (M (n - 1) + J) / n, n the packet's 0-based position, updated on
  regular packets only. With k the regular packets, that mean is (1/n_K) sum_k J_k prod (n_j - 1)/n_j over the
  later updates, and the product telescopes over the packets in between to (n_k/n_K) times a factor for the
  skipped positions: G_k carries its log, so the state between batches is (S = sum J_k e^-G_k, G, n) per stream.

Rounding: the recurrence is solved over a whole batch and corrected per stream (segments.segmented_recurrence),
and S sums per batch, so the last bits of J, max and mean (about 1e-14 relative) depend on where the batch
boundaries fall and on the other streams in the batch; Wireshark's packet-by-packet loop differs from either by as
much. Exact sums would need that loop (Python speed). The JSON document carries the full double, so its last
digits differ between batchings; only a value within 1e-14 of a rule threshold could be judged differently.
"""

from __future__ import annotations

import numpy as np

from .rtpbatch import BatchView
from .segments import segmented_recurrence

JITTER_GAIN = 1 / 16  # RFC 3550 §6.4.1
TIMESTAMP_JUMP_MS = 1000.0  # a D over 1 s is a timestamp discontinuity, not jitter (sender restart, clock change)

# Carried per stream and per clock assumption ("" the real one, "c48000_" etc. the candidates of rtpclock).
JITTER_STATE = {"J": np.float64, "lastnom": np.float64, "jmax": np.float64, "S": np.float64, "Glast": np.float64,
                "nlast": np.int64}


def jitter_columns(prefix: str) -> dict[str, type]:
    return {prefix + name: dtype for name, dtype in JITTER_STATE.items()}


def runs_of(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heads and lengths of the runs of equal values in a non-decreasing array."""
    if not len(seg):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    head = np.empty(len(seg), dtype=bool)
    head[0] = True
    np.not_equal(seg[1:], seg[:-1], out=head[1:])
    heads = np.flatnonzero(head)
    return heads, np.diff(np.append(heads, len(seg)))


def fold_jitter(b: BatchView, clock: np.ndarray, cols: dict[str, np.ndarray], prefix: str = "") -> np.ndarray:
    """Fold one batch into the jitter state of `prefix`; returns J at every packet that updated it (0 elsewhere).

    A stream's first packet goes through the filter too: its D is 0 against itself and J stays 0, as Wireshark
    starts it; it is never regular, so it stays out of max and mean."""
    segs, rows = b.segs, b.rows
    has = clock != 0
    khz = np.where(has, clock // 1000, 1)
    nominal = b.d / khz  # the first packet's d is 0
    carried_nominal = cols[prefix + "lastnom"][rows]
    if has.all() and b.all_in_time:  # the usual batch: every packet updates
        ref_nominal = segs.previous(nominal, carried_nominal)
        diff = np.abs(b.delta - (nominal - ref_nominal))
        heads, lengths, run_rows, jpos = segs.starts, segs.counts, rows, None
    else:
        jit = has & b.in_time
        if not jit.any():
            return np.zeros(segs.size)
        last = segs.last_where(jit | b.first, strict=True)
        ref_nominal = np.where(last >= 0, nominal.take(np.maximum(last, 0)), segs.spread(carried_nominal))
        jpos = np.flatnonzero(jit)
        jseg = segs.seg.take(jpos)
        diff = np.abs(b.delta.take(jpos) - (nominal.take(jpos) - ref_nominal.take(jpos)))
        heads, lengths = runs_of(jseg)
        run_rows = rows.take(jseg.take(heads))
        nominal = nominal.take(jpos)
    ends = heads + lengths - 1
    jitter = segmented_recurrence(diff * JITTER_GAIN, 1 - JITTER_GAIN, heads, lengths, cols[prefix + "J"][run_rows])
    cols[prefix + "J"][run_rows] = jitter.take(ends)
    # the nominal time of each stream's last update is the next batch's reference (a first packet's is 0)
    cols[prefix + "lastnom"][run_rows] = nominal.take(ends)
    if not prefix:
        cols["ts_jumps"][run_rows] += np.add.reduceat(diff > TIMESTAMP_JUMP_MS, heads)
    if jpos is None:
        _fold_max_mean(b, b.regular, None, jitter, heads, lengths, run_rows, cols, prefix)
        return jitter
    _fold_max_mean(b, b.regular.take(jpos), jpos, jitter, heads, lengths, run_rows, cols, prefix)
    out = np.zeros(segs.size)
    out[jpos] = jitter
    return out


def _fold_max_mean(b: BatchView, stat: np.ndarray, jpos: np.ndarray | None, jitter: np.ndarray,
                   heads: np.ndarray, lengths: np.ndarray, run_rows: np.ndarray, cols: dict[str, np.ndarray],
                   prefix: str) -> None:
    """Max and Wireshark's running mean over the regular packets with a clock (`stat`, among the filtered
    packets `jpos`, or all packets of the batch when jpos is None)."""
    if not stat.any():
        return
    if not stat.all():
        spos = np.flatnonzero(stat)
        js = jitter.take(spos)
        run = np.repeat(np.arange(len(heads)), lengths).take(spos)
        heads, lengths = runs_of(run)
        run_rows = run_rows.take(run.take(heads))
        sidx = b.idx.take(spos if jpos is None else jpos.take(spos))
    else:
        js = jitter
        sidx = b.idx if jpos is None else b.idx.take(jpos)
    ends = heads + lengths - 1
    n_carried = cols[prefix + "nlast"][run_rows]
    g_carried = cols[prefix + "Glast"][run_rows]
    # log of the product over the positions skipped since the previous update: (n - 1) / n_prev, telescoped
    prev = np.empty_like(sidx)
    prev[1:] = sidx[:-1]
    prev[heads] = n_carried
    gap = (prev > 0) & (sidx - 1 > prev)
    if gap.any():
        inc = np.zeros(len(sidx))
        inc[gap] = np.log((sidx[gap] - 1) / prev[gap])
        c = np.cumsum(inc)
        g = c - np.repeat(c.take(heads) - inc.take(heads), lengths) + np.repeat(g_carried, lengths)
        cols[prefix + "S"][run_rows] += np.add.reduceat(js * np.exp(-g), heads)
        cols[prefix + "Glast"][run_rows] = g.take(ends)
    else:  # every packet since the last update was regular (the usual case): G did not move
        cols[prefix + "S"][run_rows] += np.add.reduceat(js, heads) * np.exp(-g_carried)
    cols[prefix + "nlast"][run_rows] = sidx.take(ends)
    cols[prefix + "jmax"][run_rows] = np.maximum(cols[prefix + "jmax"][run_rows], np.maximum.reduceat(js, heads))


def jitter_summary(cols: dict[str, np.ndarray], prefix: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, max, last) jitter in ms per row."""
    n = cols[prefix + "nlast"]
    mean = np.where(n > 0, np.exp(cols[prefix + "Glast"]) * cols[prefix + "S"] / np.maximum(n, 1), 0.0)
    return mean, cols[prefix + "jmax"], cols[prefix + "J"]
