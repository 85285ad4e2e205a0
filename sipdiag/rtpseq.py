"""Sequence-number accounting, column-wise: packet loss by RFC 3550 (A.1 validation, A.3 expected/lost), loss
runs, duplicates and out-of-order packets, and Wireshark 4.0's own lost figure (which engineers compare with).

RFC 3550 A.1 (without the probation: a stream here is already a validated 5-tuple + SSRC flow): relative to the
highest sequence number so far, a packet is
- in order when it advances by less than MAX_DROPOUT (a gap of u - 1 packets before it is a loss run);
- late (reordered or duplicate) when it is at most MAX_MISORDER behind;
- a jump otherwise: it is not counted, and if the next packet follows it (seq == bad_seq) the sender restarted:
  a new epoch begins there (its loss counts from then on; the epochs' figures add up).
Jumps are rare; a stream with one in a batch has that batch's sequence accounting done packet by packet in
Python (`_fold_jumps`), everything else is vectorised over all streams. Extended sequence numbers come from
unwrapping each packet against the one before it (RFC 3550 A.1's cycles).

Wireshark's figure: expected = last seq + 65536 * cycles - first seq + 1 and lost = expected - packets, where a
cycle is counted when an in-time packet's seq falls below the first seq (or is 0 after 65535) and the stream was
not already "under", which a seq above the first seq clears (ui/tap-rtp-analysis.c, 4.0).
"""

from __future__ import annotations

import numpy as np

from .rtpbatch import BatchView
from .npsets import unique
from .rtpjitter import runs_of

SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000  # RFC 3550 A.1
MAX_MISORDER = 100
# A duplicate is a late (or equal) packet whose number was received before in its epoch and that is less than
# WINDOW numbers behind the highest one before it: the same rule within a batch (sorted numbers) and across
# batches (a carried bit per number), so the figure does not depend on where the batch boundaries fall.
WINDOW = 64
NO_BAD_SEQ = -1

SEQ_STATE = {
    "last_seq": np.int64, "start_seq": np.int64, "ws_cycles": np.int64, "ws_under": np.bool_,
    "ext_last": np.int64, "max_ext": np.int64, "base_ext": np.int64, "received": np.int64,
    "closed_expected": np.int64, "closed_received": np.int64, "bad_seq": np.int64, "restarts": np.int64,
    "jumps": np.int64, "late": np.int64, "duplicates": np.int64, "late_duplicates": np.int64, "loss_runs": np.int64,
    "loss_run_max": np.int64, "window": np.uint64,
}  # fmt: skip


def init_seq(cols: dict[str, np.ndarray], rows: np.ndarray, seq: np.ndarray) -> None:
    """A new stream's state from its first packet (RFC 3550 A.1 init_seq)."""
    cols["last_seq"][rows] = seq
    cols["start_seq"][rows] = seq
    cols["ext_last"][rows] = seq
    cols["max_ext"][rows] = seq - 1  # the first packet then advances by one: in order, no gap
    cols["base_ext"][rows] = seq
    cols["bad_seq"][rows] = NO_BAD_SEQ


def fold_sequence(b: BatchView, cols: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold one batch; returns the loss-run length closed by each packet (for the per-second series), each
    packet's extended sequence number (unwrapped against the packet before it; for the media span, rtpspan) and
    the late packets that were no duplicate, which made up for a number counted lost (for rtpholes)."""
    segs, seg, rows = b.segs, b.segs.seg, b.rows
    prev_seq = segs.previous(b.seq, b.seg_value("last_seq"))
    _fold_wireshark(b, cols, prev_seq)
    step = ((b.seq - prev_seq + SEQ_MOD // 2) & (SEQ_MOD - 1)) - SEQ_MOD // 2
    ext = segs.cumsum(step) + segs.spread(b.seg_value("ext_last"))
    max_before = b.seg_value("max_ext")
    step[segs.starts] = 1
    # in-order batches (the usual case): the running maximum before a packet is the packet before it
    running = ext if (step > 0).all() else segs.cummax(ext, 1 << 42)
    ahead = np.maximum(segs.previous(running, max_before), segs.spread(max_before))
    d = ext - ahead
    in_order = (d >= 0) & (d < MAX_DROPOUT)
    late = (d < 0) & (d > -MAX_MISORDER)
    gap = np.where(in_order & (d > 1), d - 1, 0)
    jump = ~in_order & ~late
    jumped = np.zeros(len(segs), dtype=bool)
    if jump.any():
        jumped[unique(seg[jump])] = True
    ok = ~jumped
    cols["received"][rows[ok]] += segs.counts[ok]
    new_max = np.maximum(max_before, segs.reduce_max(ext))
    cols["max_ext"][rows[ok]] = new_max[ok]
    cols["late"][rows[ok]] += segs.reduce_sum(late)[ok]
    runs = segs.reduce_sum(gap > 0)
    cols["loss_runs"][rows[ok]] += runs[ok]
    cols["loss_run_max"][rows[ok]] = np.maximum(cols["loss_run_max"][rows[ok]], segs.reduce_max(gap)[ok])
    cols["ext_last"][rows] = segs.last_of(ext)
    cols["last_seq"][rows] = segs.last_of(b.seq)
    dup = _fold_duplicates(b, cols, ext, d, in_order, late, max_before, ok)
    fill = late & ~dup & segs.spread(ok)
    for s in np.flatnonzero(jumped).tolist():
        gap[segs.starts[s] : segs.ends[s] + 1] = _fold_jumps(cols, int(rows[s]), ext[segs.starts[s] : segs.ends[s] + 1])
    return gap, ext, fill


def _fold_wireshark(b: BatchView, cols: dict[str, np.ndarray], prev_seq: np.ndarray) -> None:
    segs, seg, rows = b.segs, b.segs.seg, b.rows
    counted = ~b.first if b.all_in_time else b.in_time & ~b.first
    start = segs.spread(b.seg_value("start_seq"))
    below = b.seq < start
    zero = b.seq == 0
    if zero.any():
        below |= zero & (prev_seq == SEQ_MOD - 1)
    below &= counted
    under = b.seg_value("ws_under")
    if under.any():  # streams already under: a packet above the first seq clears it
        above = counted & (b.seq > start)
        cols["ws_under"][rows] = under & ~np.logical_or.reduceat(above, segs.starts)
    if not below.any():
        return
    # streams with a packet below the first seq (a wrap, usually): the under/cycle automaton on those only
    sel = np.flatnonzero(segs.spread(np.logical_or.reduceat(below, segs.starts)))
    heads, lengths = runs_of(seg[sel])
    sseg = seg[sel][heads]
    srows = rows[sseg]
    low = below[sel]
    event = low | (counted[sel] & (b.seq[sel] > start[sel]))
    last = np.where(event, np.arange(len(sel)), -1)
    np.maximum.accumulate(last, out=last)
    run_head = np.repeat(heads, lengths)
    before = np.empty_like(last)
    before[1:] = last[:-1]
    before[heads] = -1
    before[before < run_head] = -1
    carried = under[sseg]  # before this batch
    was_under = np.where(before >= 0, low[np.maximum(before, 0)], np.repeat(carried, lengths))
    cols["ws_cycles"][srows] += np.add.reduceat(low & ~was_under, heads)
    final = last[heads + lengths - 1]
    final_ok = final >= heads
    cols["ws_under"][srows] = np.where(final_ok, low[np.maximum(final, 0)], carried)


def _fold_jumps(cols: dict[str, np.ndarray], row: int, ext: np.ndarray) -> np.ndarray:
    """RFC 3550 A.1 packet by packet for one stream's packets of a batch that holds a jump."""
    top, base, received = int(cols["max_ext"][row]), int(cols["base_ext"][row]), int(cols["received"][row])
    bad, late, runs, run_max = int(cols["bad_seq"][row]), 0, 0, int(cols["loss_run_max"][row])
    # duplicates as _fold_duplicates counts them, with the epochs: a restart empties the window (the sender's new
    # numbers are no copies of the old ones), a jump that A.1 does not count is no duplicate
    window, dups, late_dups, full = int(cols["window"][row]), 0, 0, (1 << WINDOW) - 1
    gaps = np.zeros(len(ext), dtype=np.int64)
    for i, e in enumerate(ext.tolist()):
        u = (e - top) & (SEQ_MOD - 1)
        if u < MAX_DROPOUT:
            if u > 1:
                gaps[i] = u - 1
                runs += 1
                run_max = max(run_max, u - 1)
            if u == 0 and window & 1:
                dups += 1
            window = ((window << u) | 1) & full if u < WINDOW else 1
            top += u
            received += 1
        elif u <= SEQ_MOD - MAX_MISORDER:
            if (e & (SEQ_MOD - 1)) == bad:  # two sequential packets: the sender restarted (A.1)
                cols["closed_expected"][row] += top - base + 1
                cols["closed_received"][row] += received
                cols["restarts"][row] += 1
                top = base = e
                received, bad, window = 1, NO_BAD_SEQ, 1
            else:
                bad = (e + 1) & (SEQ_MOD - 1)
                cols["jumps"][row] += 1
        else:
            late += 1
            received += 1
            back = SEQ_MOD - u
            if back < WINDOW:
                if window >> back & 1:
                    dups += 1
                    late_dups += 1
                window |= 1 << back
    cols["window"][row] = window
    cols["duplicates"][row] += dups
    cols["late_duplicates"][row] += late_dups
    cols["max_ext"][row], cols["base_ext"][row], cols["received"][row], cols["bad_seq"][row] = top, base, received, bad
    cols["late"][row] += late
    cols["loss_runs"][row] += runs
    cols["loss_run_max"][row] = run_max
    # unwrap the next batch against the epoch's highest number, so the two stay within one cycle of each other
    last = int(cols["ext_last"][row])
    cols["ext_last"][row] = top + (((last - top) + SEQ_MOD // 2) & (SEQ_MOD - 1)) - SEQ_MOD // 2
    return gaps


def _fold_duplicates(b: BatchView, cols: dict[str, np.ndarray], ext: np.ndarray, d: np.ndarray,
                     in_order: np.ndarray, late: np.ndarray, old_top: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """A packet is a duplicate when its sequence number was received before (earlier in this batch, or in the
    carried window of the WINDOW numbers below the highest one) and it is less than WINDOW numbers behind the
    highest one before it. Returns which packets are. Only the streams `ok` (with no jump in this batch: those
    _fold_jumps counts, epoch by epoch)."""
    segs, seg, rows = b.segs, b.segs.seg, b.rows
    top = cols["max_ext"][rows]  # after this batch (for the streams ok)
    window = b.seg_value("window")
    candidate = (late & (d > -WINDOW)) | (in_order & (d == 0))
    if not ok.all():
        candidate &= segs.spread(ok)
    dup = np.zeros(segs.size, dtype=bool)
    if candidate.any():
        streams = np.zeros(len(segs), dtype=bool)
        streams[seg[candidate]] = True
        pos = np.flatnonzero(segs.spread(streams))
        key_seg, key_ext = seg[pos], ext[pos] & (SEQ_MOD - 1)
        order = np.lexsort((pos, key_ext, key_seg))
        same = np.zeros(len(pos), dtype=bool)
        same[1:] = (key_seg[order][1:] == key_seg[order][:-1]) & (key_ext[order][1:] == key_ext[order][:-1])
        repeat = np.zeros(segs.size, dtype=bool)
        repeat[pos[order][same]] = True
        first_seen = candidate & ~repeat
        back = (segs.spread(old_top) - ext) & (SEQ_MOD - 1)
        in_window = first_seen & (back < WINDOW)
        bit = np.left_shift(np.uint64(1), np.minimum(back, WINDOW - 1).astype(np.uint64))
        carried = in_window & ((segs.spread(window) & bit) != 0)
        dup = (repeat & candidate) | carried  # a packet A.1 did not count (a jump) is not a duplicate
        cols["duplicates"][rows] += segs.reduce_sum(dup)
        cols["late_duplicates"][rows] += segs.reduce_sum(dup & late)
    # the window after this batch: shift the carried one up by the advance, add this batch's numbers
    advance = (top - old_top) & (SEQ_MOD - 1)
    shifted = np.where(advance < WINDOW, window << np.minimum(advance, WINDOW - 1).astype(np.uint64), np.uint64(0))
    back = (segs.spread(top) - ext) & (SEQ_MOD - 1)
    bits = np.where(back < WINDOW, np.left_shift(np.uint64(1), np.minimum(back, WINDOW - 1).astype(np.uint64)),
                    np.uint64(0))
    cols["window"][rows[ok]] = (shifted | np.bitwise_or.reduceat(bits, segs.starts))[ok]
    return dup
