"""Jitter-buffer simulation (RULES.md §1.3, the VoIPmonitor convention): packets that arrive too late to be
played count as lost for the listener, so effective loss = (network loss + late discards) / expected, for a
fixed 50 ms buffer, a fixed 200 ms one and an adaptive one (up to 500 ms).

Model, per stream, on the packets that have a clock (audio; not RFC 4733 events), all vectorised:
- transit_i = arrival_i - timestamp_i / clock (ms, both counted from the stream's first packet, the timestamp
  as a signed 32-bit distance; a stream longer than 2^31 ticks wraps into a resync);
- the buffer plays each packet at (fastest transit seen so far + buffer delay) after its timestamp, so a packet
  is late when delay_i = transit_i - min transit so far exceeds the delay. A transit step of more than 1 s is a
  timestamp discontinuity (sender restart): the buffer resynchronises there (a new minimum starts).
- start-up: a real playout buffer starts with the first packets, and packets that arrive ahead of their
  playout time are only buffered, never late. A sender often opens a stream with a burst (queued audio flushed
  a few ms apart, then a gap and the steady rhythm): taking the fastest transit of such a burst as the playout
  reference would make every later packet of a clean stream 'late' (LtoZ_rtpFilter_fail_2.pcap: 6 packets 1 ms
  apart, then 20 ms; RFC 3550 jitter 4.7 ms mean, yet 84 % late for 50 ms). So over the stream's first
  STARTUP_PACKETS packets the reference is the *latest* (most delayed) transit seen so far, the point by which
  the buffer has all its start-up packets, and a start-up packet is never late; after that the reference is the
  minimum of that anchor and the later transits, as above, so a path that later gets faster still moves the
  reference earlier and later delay spikes are still discarded (RFC 3611 §4.7.7 JB nominal delay is measured
  from the buffer's playout point, not from one early packet; RFC 3550 §6.4.1 counts transit from any origin).
- fixed buffers: delay 50 ms and 200 ms;
- adaptive buffer: its delay T follows the largest recent delay: after each packet T = max(delay + headroom,
  T decayed by 10 ms per second), between 20 ms and 500 ms; a packet is late when its delay exceeds T as it
  stood when the packet arrived. With H = T + r t that is a running maximum, so it vectorises too.
These are models, not any one product's buffer: the figures are estimates (RULES.md [P]).
"""

from __future__ import annotations

import numpy as np

from .rtpbatch import BatchView
from .rtpjitter import runs_of

FIXED_DELAYS_MS = (50, 200)
ADAPTIVE_FLOOR_MS = 20.0
ADAPTIVE_MAX_MS = 500.0
ADAPTIVE_HEADROOM_MS = 10.0
ADAPTIVE_DECAY_PER_MS = 0.01  # 10 ms per second
RESYNC_MS = 1000.0
# The start-up window: 10 packets, 200 ms at the common 20 ms packetisation (RFC 3551 §4.5), the depth of the
# larger fixed buffer; a start-up burst of queued audio fits in it.
STARTUP_PACKETS = 10
# Running minima and maxima restart at each stream by lifting every stream's values apart by a span larger
# than their range; transit is clipped to a quarter of it (a jump that far is a resync anyway).
_SPAN = float(1 << 22)  # ms, about 70 minutes of transit change
_CLIP = _SPAN / 4
_H_SPAN = float(1 << 32)  # ms, for the adaptive buffer's running maximum (decay included)

JB_STATE = {"jb_n": np.int64, "jb_last_transit": np.float64, "jb_min": np.float64, "jb_target": np.float64,
            "jb_t": np.float64, "late_50": np.int64, "late_200": np.int64, "late_adaptive": np.int64,
            "jb_resyncs": np.int64}


def init_jitter_buffer(cols: dict[str, np.ndarray], rows: np.ndarray) -> None:
    cols["jb_target"][rows] = ADAPTIVE_FLOOR_MS


def fold_jitter_buffer(b: BatchView, cols: dict[str, np.ndarray]) -> None:
    audio = b.clock != 0
    if audio.all():
        pos, heads, lengths = None, b.segs.starts, b.segs.counts
        rows, t, d, clock = b.rows, b.t_ms, b.d, b.clock
    else:
        pos = np.flatnonzero(audio)
        if not len(pos):
            return
        heads, lengths = runs_of(b.segs.seg[pos])
        rows = b.rows[b.segs.seg[pos][heads]]
        t, d, clock = b.t_ms[pos], b.d[pos], b.clock[pos]
    ts_ms = np.where(d >= 1 << 31, d - (1 << 32), d) * (1000.0 / clock)
    transit = np.clip(t - ts_ms, -_CLIP, _CLIP)
    seen = cols["jb_n"][rows] > 0
    prev = np.empty_like(transit)
    prev[1:] = transit[:-1]
    prev[heads] = np.where(seen, cols["jb_last_transit"][rows], transit[heads])
    resync = np.abs(transit - prev) > RESYNC_MS
    run = np.repeat(np.arange(len(heads), dtype=np.float64), lengths)
    # ordinal of each packet in its stream, to find the start-up window (see the module docstring)
    k = np.repeat(cols["jb_n"][rows], lengths) + (np.arange(len(transit)) - np.repeat(heads, lengths))
    startup = k < STARTUP_PACKETS
    # running maximum of the start-up transits (jb_min carries it while a stream is still in start-up)
    s_lift = run * _SPAN
    smax = np.maximum.accumulate(np.where(startup, transit, -np.inf) + s_lift) - s_lift
    smax = np.maximum(smax, np.repeat(np.where(seen, cols["jb_min"][rows], -np.inf), lengths))
    # the running minimum sees the start-up window as one value, its latest transit, at its last packet
    w = np.where(startup, np.where(k == STARTUP_PACKETS - 1, smax, np.inf), transit)
    if resync.any():
        group = np.cumsum(resync) + run * len(resync)  # a new group at every run and every resync
        in_first = np.cumsum(resync) == np.repeat(np.cumsum(resync)[heads] - resync[heads], lengths)
        lift = np.unique(group, return_inverse=True)[1] * _SPAN
    else:
        in_first = True
        lift = run * _SPAN
    lowest = np.minimum.accumulate(w - lift) + lift
    carried = np.where(seen & ~resync[heads] & ~startup[heads], cols["jb_min"][rows], np.inf)
    lowest = np.where(in_first, np.minimum(lowest, np.repeat(carried, lengths)), lowest)
    lowest = np.where(startup, smax, lowest)
    delay = transit - lowest
    cols["late_50"][rows] += np.add.reduceat(delay > FIXED_DELAYS_MS[0], heads)
    cols["late_200"][rows] += np.add.reduceat(delay > FIXED_DELAYS_MS[1], heads)
    # adaptive: H_i = max(x_i + r t_i, H_{i-1}) with t counted from the run's first packet; late when the
    # delay exceeds the target as it stood when the packet arrived: max(floor, H_{i-1} - r t_i)
    t_head = np.repeat(t[heads], lengths)
    r_t = (t - t_head) * ADAPTIVE_DECAY_PER_MS
    h_carried = cols["jb_target"][rows] + (cols["jb_t"][rows] - t[heads]) * ADAPTIVE_DECAY_PER_MS
    h_lift = run * _H_SPAN
    h = np.maximum.accumulate(np.minimum(delay + ADAPTIVE_HEADROOM_MS, ADAPTIVE_MAX_MS) + r_t + h_lift) - h_lift
    h = np.maximum(h, np.repeat(h_carried, lengths))
    h_before = np.empty_like(h)
    h_before[1:] = h[:-1]
    h_before[heads] = h_carried
    late = delay > np.maximum(h_before - r_t, ADAPTIVE_FLOOR_MS)
    cols["late_adaptive"][rows] += np.add.reduceat(late, heads)
    ends = heads + lengths - 1
    cols["jb_target"][rows] = np.maximum(h[ends] - r_t[ends], ADAPTIVE_FLOOR_MS)
    cols["jb_t"][rows] = t[ends]
    cols["jb_min"][rows] = lowest[ends]
    cols["jb_last_transit"][rows] = transit[ends]
    cols["jb_n"][rows] += lengths
    cols["jb_resyncs"][rows] += np.add.reduceat(resync, heads)
