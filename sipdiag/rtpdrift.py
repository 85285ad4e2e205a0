"""Sender clock drift: how fast a stream's RTP timestamps advance against the capture's clock.

RULES.md media.clock-drift: the least-squares slope of the RTP timestamp against the arrival time is the sender's
real sampling rate (Wireshark accumulates the same sums for its skew estimate, ui/tap-rtp-analysis.c). Against the
nominal clock of the payload type it gives the drift in ppm: positive when the sender's clock runs fast (it puts
more samples in a second than the clock says, so its packets arrive ever earlier than their timestamps promise).
Silence suppression does not bias it (the timestamps go on advancing while nothing is sent, RFC 3550 §5.1).

Per stream only six sums are carried between batches (n, Σx, Σy, Σx², Σxy, Σy² with x the arrival in ms since the
stream's first packet and y the timestamp advance since its first timestamp), folded column-wise per batch.
"""

from __future__ import annotations

import numpy as np

from .rtpbatch import BatchView

DRIFT_STATE = {"dr_n": np.int64, "dr_x": np.float64, "dr_y": np.float64, "dr_xx": np.float64, "dr_xy": np.float64,
               "dr_yy": np.float64}
MIN_FIT_PACKETS = 50  # fewer points than a second of 20 ms audio give no useful slope
MIN_FIT_SPAN_MS = 5_000.0  # the drift of a shorter stream is lost in its jitter


def fold_drift(b: BatchView, cols: dict[str, np.ndarray]) -> None:
    """Add the batch's (arrival, timestamp) points to each stream's sums. Left out: packets whose timestamp is not
    in sequence (Wireshark's "wrong timestamp") and RFC 4733 events, whose timestamp stays on the event's start
    (their clock is 0, or, unnamed, they look like events)."""
    use = b.in_time & ((b.clock != 0) | (b.unresolved & ~b.maybe_event))
    if not use.any():
        return
    segs, rows = b.segs, b.rows
    x = np.where(use, b.t_ms, 0.0)
    y = np.where(use, b.d.astype(np.float64), 0.0)
    cols["dr_n"][rows] += segs.reduce_sum(use.astype(np.int64))
    cols["dr_x"][rows] += segs.reduce_sum(x)
    cols["dr_y"][rows] += segs.reduce_sum(y)
    cols["dr_xx"][rows] += segs.reduce_sum(x * x)
    cols["dr_xy"][rows] += segs.reduce_sum(x * y)
    cols["dr_yy"][rows] += segs.reduce_sum(y * y)


def drift_ppm(cols: dict[str, np.ndarray], clock: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (fitted timestamp rate / nominal clock - 1) in ppm, and the RMS distance of the points from the
    fitted line in ms (small for a steady drift, large when the skew moves in steps, e.g. a sender that counts a
    silence wrong); NaN without a clock or with too few points."""
    n = cols["dr_n"].astype(np.float64)
    sxx = cols["dr_xx"] - cols["dr_x"] ** 2 / np.maximum(n, 1)
    sxy = cols["dr_xy"] - cols["dr_x"] * cols["dr_y"] / np.maximum(n, 1)
    span_ms = np.sqrt(np.maximum(sxx, 0) * 12 / np.maximum(n, 1))  # the spread of a uniform fill of the span
    ok = (n >= MIN_FIT_PACKETS) & (span_ms >= MIN_FIT_SPAN_MS) & (clock > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_per_s = sxy / sxx * 1000.0
        syy = cols["dr_yy"] - cols["dr_y"] ** 2 / np.maximum(n, 1)
        residual_units = np.sqrt(np.maximum(syy - sxy * sxy / sxx, 0) / np.maximum(n, 1))
        safe = np.where(clock > 0, clock, 1)
        return (np.where(ok, (rate_per_s / safe - 1.0) * 1e6, np.nan),
                np.where(ok, residual_units * 1000.0 / safe, np.nan))
