"""Arrival gaps: the longest a stream's receiver went without audio, and the gap events of capture health.

Wireshark's max delta (RtpStatsEngine._fold_delta, kept exact for the tshark agreement) is measured from the last
*regular* packet, one whose RTP timestamp is in sequence. After a timestamp discontinuity (a gateway that restarts
its timestamps below the stream's first one, as a Cisco gateway does after a refused switch to T.38 fax) every
packet is "out of sequence" and max delta grows across them: 9.2 s over 446 packets that came every 20 ms. That is
no hole in the audio. The arrival gap here is the interval between consecutive packets of media in capture
(arrival) order, whatever their timestamps, and the capture-health hiccups read its gap events: a hiccup is a moment
when no packet arrived.

Counted:
- packets of media only (rtpspan: not an RFC 6263 keep-alive, the empty packets and the shape-guessed events that
  may be ones): a keep-alive is sent because no media flows (RFC 6263 §1) and plays nothing, so it fills no hole;
- as in max delta, an interval that ends a silence is not a gap: one that ends at a marked packet (a talkspurt's
  first, RFC 3551 §4.1) or at a comfort-noise packet, or that follows one (RFC 3389: the sender is silent on
  purpose). Silence suppression is not loss.

Across a step of the capture's clock the interval is no measurement: a step back gives a negative one (never the
largest, never a gap event) and the stream's arrival figures, this one with them, are dropped where the clock steps
within it (RtpStreamStats.across_clock_step); a step forward of more than a day is no hiccup (find_hiccups).

The stream's last packet of media before the batch is the media span's (rtpspan: m_n, m_last_ns): the fold runs
before fold_media_span moves it on.
"""

from __future__ import annotations

import numpy as np

from .capturehealth import GAP_FACTOR, MIN_GAP_MS
from .rtpbatch import BatchView
from .rtpseries import GapStore
from .segments import Segments

MIN_INTERVAL_SAMPLES = 10  # intervals before a stream's own mean interval is trusted for gap events

# Per stream: the largest arrival gap in ms and the frame that ended it; whether its last packet of media was comfort
# noise; the sum and number of the intervals counted (the usual interval gap events are measured against).
GAP_STATE = {"gap_ms": np.float64, "gap_frame": np.int64, "gap_last_cn": np.bool_, "gap_sum": np.float64,
             "gap_n": np.int64}


def fold_arrival_gap(b: BatchView, cols: dict[str, np.ndarray], media: np.ndarray, gaps: GapStore) -> None:
    """Fold the intervals between a batch's packets of media (`media` per packet, stream order) into each stream's
    largest arrival gap, and record those over GAP_FACTOR times the stream's usual interval in `gaps`."""
    if media.all():  # the usual batch: no keep-alive, the batch's own segments
        at, segs, rows = None, b.segs, b.rows
    else:
        at = np.flatnonzero(media)
        if not len(at):
            return
        seg = b.segs.seg.take(at)
        heads = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
        segs = Segments.of(heads, np.diff(np.append(heads, len(at))))
        rows = b.rows.take(seg.take(heads))

    def pick(x: np.ndarray) -> np.ndarray:
        return x if at is None else x.take(at)

    t_ns, cn = pick(b.t_ns), pick(b.cn)
    prev_cn = segs.previous(cn, cols["gap_last_cn"][rows])
    before = segs.previous(t_ns, cols["m_last_ns"][rows])
    interval = (t_ns - before) * 1e-6
    counted = ~(pick(b.marker) | cn | prev_cn)
    counted[segs.starts[cols["m_n"][rows] == 0]] = False  # the stream's first packet of media: no interval
    interval = np.where(counted, interval, 0.0)
    top = segs.reduce_max(interval)
    better = top > cols["gap_ms"][rows]
    if better.any():
        hit = np.where(interval == segs.spread(top), np.arange(segs.size), segs.size)
        first_hit = np.minimum.reduceat(hit, segs.starts)[better]
        cols["gap_ms"][rows[better]] = top[better]
        cols["gap_frame"][rows[better]] = b.frames_at(first_hit if at is None else at.take(first_hit))
    total, count = segs.reduce_sum(interval), segs.reduce_sum(counted)
    n0, s0 = cols["gap_n"][rows], cols["gap_sum"][rows]
    usual = np.where(n0 >= MIN_INTERVAL_SAMPLES, s0 / np.maximum(n0, 1), (s0 + total) / np.maximum(n0 + count, 1))
    gap = np.flatnonzero(interval > segs.spread(np.maximum(GAP_FACTOR * usual, MIN_GAP_MS)))
    if len(gap):
        gaps.add(rows.take(segs.seg.take(gap)), before.take(gap), t_ns.take(gap))
    cols["gap_sum"][rows] = s0 + total
    cols["gap_n"][rows] = n0 + count
    cols["gap_last_cn"][rows] = segs.last_of(cn)
