"""Capture hiccups: moments when most streams active at the time stop arriving together.

A network problem hits the streams that share its path; a gap that opens in nearly every stream at the same
moment (within ±20 ms), whatever its direction and path, is the capture's own hiccup (a busy capture host, a
mirror port dropping, a ring buffer overflow). Reporting it keeps those gaps from being blamed on the network.

Input: the arrival-gap events the engine collected (a gap longer than three times the stream's usual packet
interval) and each stream's active interval: from its earliest to its latest arrival time. Not from its first to
its last packet: when the capture's clock steps back (interfaces merged unsorted, an NTP step, a damaged record
time) the last packet can be stamped before the first, and such a reversed interval counted -1 active stream, down
to a negative `streams_active` and a share test any gap passed. A stream's gaps lie within its earliest-to-latest
span, so a stream in a gap is counted active as well. A sweep over the event boundaries counts, at every moment, the
streams in a gap and the streams active; a hiccup is a stretch where at least HICCUP_MIN_STREAMS and at least
HICCUP_SHARE of the active streams are in a gap at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .npsets import unique
from .parsers.scan import TIME_JUMP_NS

TOLERANCE_NS = 20_000_000  # gaps within ±20 ms of each other count as simultaneous
HICCUP_MIN_STREAMS = 3
HICCUP_SHARE = 0.8
GAP_FACTOR = 3.0  # a gap is an arrival interval over three times the stream's usual one
MIN_GAP_MS = 40.0  # ... and over 40 ms, so that a 10 ms stream's 30 ms wobble is not a gap


@dataclass(frozen=True, slots=True)
class CaptureHiccup:
    start_ns: int
    end_ns: int
    streams_in_gap: int  # the most streams in a gap at one moment of the stretch
    streams_active: int  # streams active at that moment

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _counts(starts: np.ndarray, ends: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How many intervals [start, end) cover each point."""
    return np.searchsorted(np.sort(starts), points, side="right") - np.searchsorted(np.sort(ends), points,
                                                                                     side="right")


def find_hiccups(gap_start: np.ndarray, gap_end: np.ndarray, active_start: np.ndarray,
                 active_end: np.ndarray) -> tuple[CaptureHiccup, ...]:
    """Stretches where most active streams are in a gap together (all times in ns). A "gap" longer than a day is
    the capture's clock jumping forward (capture.time-jump: every stream then shows it at once), not a pause."""
    real = gap_end - gap_start <= TIME_JUMP_NS
    gap_start, gap_end = gap_start[real], gap_end[real]
    if len(gap_start) < HICCUP_MIN_STREAMS:
        return ()
    lo, hi = gap_start - TOLERANCE_NS, gap_end + TOLERANCE_NS
    points = unique(np.concatenate([lo, hi]))
    in_gap = _counts(lo, hi, points)
    active = _counts(active_start, active_end + 1, points)
    hit = (in_gap >= HICCUP_MIN_STREAMS) & (in_gap >= HICCUP_SHARE * active)
    if not hit.any():
        return ()
    # stretches of consecutive hit points: each point opens the interval up to the next point
    edges = np.flatnonzero(np.diff(np.r_[0, hit.astype(np.int8), 0]))
    out = []
    for a, z in zip(edges[::2].tolist(), edges[1::2].tolist()):
        best = a + int(np.argmax(in_gap[a:z]))
        end = points[z] if z < len(points) else points[z - 1]
        out.append(CaptureHiccup(int(points[a]) + TOLERANCE_NS, int(end) - TOLERANCE_NS, int(in_gap[best]),
                                 int(active[best])))
    return tuple(out)
