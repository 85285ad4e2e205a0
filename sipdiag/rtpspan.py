"""The span of a stream's media: from its first packet of media to its last, RFC 6263 keep-alives left out.

Keep-alives (RtpStreamStats.keepalives) are RTP packets on the wire and stay in every figure tshark's
`-z rtp,streams` gives (packets, sequence accounting, deltas), but they carry no media: a phone that sent one packet
of audio and then a keep-alive every 15 s for minutes did not send minutes of audio at 0.0 kbit/s. The media's
duration, bit rate, RTP timestamp span and sequence span (over which the packet time and the sender's clock are
measured) are taken from the first to the last packet of media, as the loss, the MOS and the audio verdict count
the media packets only.

Most keep-alives are known when they arrive: a packet without payload (RFC 6263 §4.6 "an RTP packet of 0
length"). A 4-octet packet of an unnamed dynamic type in an RFC 4733 event's shape is one only if its "event" never
lasted nor ended (dtmf._keepalive), which the end tells: such packets go to the DtmfTracker instead, which keeps
each event's first and last packet, and the events that were real widen the span at the end (`media_spans`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .rtpbatch import BatchView

# Per stream: media packets so far, and the first and last one's arrival, frame, RTP timestamp and extended sequence
# number (capture order), and the media's UDP payload bytes.
SPAN_STATE = {"m_n": np.int64, "m_bytes": np.int64, **{f"m_{end}_{what}": np.int64 for end in ("first", "last")
                                                       for what in ("ns", "frame", "ts", "ext")}}
SPAN_FIELDS = ("ns", "frame", "ts", "ext")


def fold_media_span(b: BatchView, cols: dict[str, np.ndarray], media: np.ndarray, ext: np.ndarray) -> None:
    """Fold a batch's packets of media (`media` per packet in stream order; `ext`: their extended sequence numbers)
    into each stream's span."""
    if not media.any():
        return
    segs, rows = b.segs, b.rows
    first = np.minimum.reduceat(np.where(media, np.arange(segs.size), segs.size), segs.starts)
    last = segs.last_where(media, strict=False)[segs.ends]
    has = last >= 0
    values = {"ns": b.t_ns, "ts": b.ts, "ext": ext}
    fresh = has & (cols["m_n"][rows] == 0)
    for end, at, sel in (("first", first, fresh), ("last", last, has)):
        pos = at[sel]
        for what in SPAN_FIELDS:
            cols[f"m_{end}_{what}"][rows[sel]] = b.frames_at(pos) if what == "frame" else values[what][pos]
    cols["m_n"][rows] += segs.reduce_sum(media)
    cols["m_bytes"][rows] += segs.reduce_sum(np.where(media, b.gather("packet_len"), 0))


def media_spans(cols: dict[str, np.ndarray], events: Iterable[tuple]) -> dict[str, np.ndarray]:
    """Per table row, the media span's columns (`first_ns`, `last_frame`, ..., `n`, `bytes`) with the packets of the
    shape-guessed RFC 4733 events that were real (DtmfTracker.spans: row, packets, bytes, then the first and the
    last packet's ns, frame, ts, ext) added. A row without media has n == 0 and the other values undefined."""
    out = {f"{end}_{what}": cols[f"m_{end}_{what}"].copy() for end in ("first", "last") for what in SPAN_FIELDS}
    out["n"], out["bytes"] = cols["m_n"].copy(), cols["m_bytes"].copy()
    for row, packets, size, first, last in events:
        empty = out["n"][row] == 0
        for end, packet, wider in (("first", first, empty or first[1] < out["first_frame"][row]),
                                   ("last", last, empty or last[1] > out["last_frame"][row])):
            if wider:
                for what, value in zip(SPAN_FIELDS, packet):
                    out[f"{end}_{what}"][row] = value
        out["n"][row] += packets
        out["bytes"][row] += size
    return out
