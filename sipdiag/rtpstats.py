"""The RTP stream statistics engine: RTP column batches in, one `RtpStreamStats` per stream out, without one
Python object per packet (ARCHITECTURE.md "Two speeds").

    engine = RtpStatsEngine()
    for item in scan_capture(path):
        if isinstance(item, RtpColumns):
            engine.add(item)                 # fold a batch: O(1) state per stream carried to the next one
        else:
            engine.add_datagram(item)        # SDP (payload-type clocks) from SIP, RTCP reports
    result = engine.finalize()               # RtpStatsResult: streams, DTMF events, RTCP, capture hiccups

Each batch is grouped by stream (streamgroups), and every statistic is computed over all streams at once on the
grouped columns, each stream starting from the state its row of the table carried out of the batch before:
jitter and delta (rtpjitter), sequence accounting (rtpseq), arrival gaps (rtpgap), jitter buffers (jitterbuffer),
per-second series (rtpseries), the sequence numbers missed (rtpholes); only DTMF events, RTCP packets and the rare
sequence jumps are handled one by one.

Clocks: static payload types have theirs; a dynamic type gets its clock from the SDP seen so far (rtpclock),
as a single-pass Wireshark does. For a dynamic type nobody named, the jitter is kept for each candidate clock
(8, 16, 48, 90 kHz) besides the no-clock figure; `finalize(clock_for=...)` or the timestamps' own rate (the
"inferred" clock) picks one at the end. The clock must be known while folding (the filter is non-linear and the
packets are gone afterwards), hence the candidates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .dtmf import DtmfTracker, plausible_events, plausible_nse
from .jitterbuffer import JB_STATE, fold_jitter_buffer, init_jitter_buffer
from .model import Datagram
from .parsers.columns import RtpColumns
from .parsers.sdp import STATIC_PAYLOAD_TYPES
from .rtcp import RtcpTracker
from .rtpbatch import BatchView
from .rtpclock import (
    CANDIDATE_CLOCKS,
    STATIC_CLOCKS,
    ClockResolver,
    SdpClocks,
    is_telephone_event,
    jitter_clock,
)
from .rtpdrift import DRIFT_STATE, fold_drift
from .rtpfinal import build_result
from .rtpgap import GAP_STATE, fold_arrival_gap
from .rtpholes import HoleStore
from .rtpjitter import fold_jitter, jitter_columns
from .rtpptcount import PT_COUNT_STATE, fold_pt_counts, pt_counts
from .rtpresult import RtpStatsResult
from .rtpseq import SEQ_MOD, SEQ_STATE, fold_sequence, init_seq
from .rtpseries import GapStore, SeriesStore
from .rtpspan import SPAN_STATE, fold_media_span
from .segments import Segments
from .streamgroups import StreamTable

ClockFor = Callable[[str, int, str, int, int], "int | None"]
MAX_PT_CHANGES = 16  # payload-type changes recorded per stream (all are counted)
INFER_TOLERANCE = 0.15  # an inferred clock must be within 15 % of a candidate

_ENGINE_STATE = {
    "t0_ns": np.int64, "t_last_ns": np.int64, "last_frame": np.int64, "first_ts": np.int64, "ws_ref_ns": np.int64,
    "last_pt": np.int64, "bytes": np.int64, "markers": np.int64, "pt_changes": np.int64, "wrong_ts": np.int64,
    "ts_jumps": np.int64, "max_delta": np.float64, "max_delta_frame": np.int64, "pt_mask_lo": np.uint64,
    "pt_mask_hi": np.uint64, "cand": np.bool_, "infer_ts": np.int64, "infer_ns": np.int64, "last_ts": np.int64,
    "dscp": np.int16, "dscp_other": np.int64,  # the first packet's DSCP (-1 unknown); packets marked otherwise
    # the earliest and the latest arrival time: the first and the last packet's unless the capture's clock steps
    "t_min_ns": np.int64, "t_max_ns": np.int64,
    "empty": np.int64,  # packets without payload: RFC 6263 keep-alives (RtpStreamStats.keepalives)
}  # fmt: skip


def _prefix(rate: int) -> str:
    return f"c{rate}_"


COLUMNS: dict[str, type] = {**_ENGINE_STATE, **SEQ_STATE, **JB_STATE, **DRIFT_STATE, **SPAN_STATE,
                             **GAP_STATE, **PT_COUNT_STATE, **jitter_columns("")}
for _rate in CANDIDATE_CLOCKS:
    COLUMNS.update(jitter_columns(_prefix(_rate)))


class RtpStatsTable(StreamTable):
    """The StreamTable with every accumulator of the engine as a column."""

    def column_types(self) -> dict[str, type]:
        return {**super().column_types(), **COLUMNS}

    def _init_rows(self, rows: np.ndarray, rtp: RtpColumns, first: np.ndarray, keys) -> None:
        super()._init_rows(rows, rtp, first, keys)
        c = self.cols
        c["t0_ns"][rows] = c["t_min_ns"][rows] = c["t_max_ns"][rows] = rtp.ts_ns[first]
        c["ws_ref_ns"][rows] = rtp.ts_ns[first]
        c["first_ts"][rows] = rtp.timestamp[first]
        c["last_pt"][rows] = rtp.payload_type[first]
        dscp = rtp.dscp[first].astype(np.int16) if rtp.dscp is not None else np.full(len(rows), -1, np.int16)
        c["dscp"][rows] = np.where(dscp > 63, -1, dscp)
        init_seq(c, rows, rtp.sequence[first].astype(np.int64))
        init_jitter_buffer(c, rows)


class RtpStatsEngine:
    """Folds RTP batches (and SIP/RTCP datagrams) in capture order; `finalize` builds the records.

    clocks: where dynamic payload types get their encoding and clock (default: an SdpClocks fed by
    `add_datagram`); guess_events: take 4-octet payloads of an unnamed dynamic type for RFC 4733 events;
    series/jitter_buffers: collect the per-second series and run the jitter-buffer models; sound: whether no step
    of the capture's clock lies between two frames (RtcpTracker)."""

    def __init__(self, *, clocks: ClockResolver | None = None, guess_events: bool = True, series: bool = True,
                 jitter_buffers: bool = True, sound: Callable[[int, int], bool] | None = None) -> None:
        self.table = RtpStatsTable()
        self.clocks = clocks if clocks is not None else SdpClocks()
        self.guess_events = guess_events
        self.jitter_buffers = jitter_buffers
        self.series = SeriesStore() if series else None
        self.gaps = GapStore()
        self.holes = HoleStore()
        self.dtmf = DtmfTracker()
        self.rtcp = RtcpTracker(sound)
        self.encodings: dict[tuple[int, int], tuple[int, tuple[str, int] | None]] = {}  # (row, pt) -> (version, enc)
        self.pt_change_log: dict[int, list[tuple[int, int, int]]] = {}

    # ------------------------------------------------------------------------------------------- datagrams

    def add_datagram(self, d: Datagram) -> None:
        """SIP: learn payload-type maps from its SDP (when the resolver learns); RTCP: parse the reports."""
        if d.kind == "rtcp":
            self.rtcp.add(d)
        elif d.kind == "sip" and hasattr(self.clocks, "learn"):
            self.clocks.learn(d.payload)

    # ------------------------------------------------------------------------------------------- RTP batches

    def add(self, rtp: RtpColumns) -> None:
        if not len(rtp):
            return
        g, rows = self.table.add(rtp)
        c = self.table.cols
        segs = Segments.of(g.starts, g.counts)
        b = BatchView(rtp, g.order, segs, rows, c["packets"][rows] - g.counts, c)
        events = self._resolve(b) if b.dynamic.any() else None
        if b.unresolved.any():
            wanted = np.logical_or.reduceat(b.unresolved, segs.starts)
            fresh = rows[wanted & ~c["cand"][rows]]
            for rate in CANDIDATE_CLOCKS:  # until now every clock assumption saw the same packets
                for name in jitter_columns(""):
                    c[_prefix(rate) + name][fresh] = c[name][fresh]
            c["cand"][rows[wanted]] = True
        candidates = c["cand"][rows]
        jitter = fold_jitter(b, b.clock, c)
        if candidates.any():
            sub = b.subset(candidates)
            guessed = sub.unresolved & ~sub.maybe_event
            for rate in CANDIDATE_CLOCKS:
                fold_jitter(sub, np.where(guessed, rate, sub.clock), c, _prefix(rate))
        self._fold_delta(b)
        fold_drift(b, c)
        lost, ext, fill = fold_sequence(b, c)
        self.holes.add(b, lost, ext, fill)
        if events is not None:  # after the sequence: the events' packets take part in the media span
            self._add_events(b, *events, ext)
        # RFC 6263 keep-alives are no media: empty packets, and those events that may turn out to be keep-alives,
        # which the DtmfTracker gives back at the end if they were not (rtpspan)
        has_payload = b.gather("payload_len") > 0
        media = has_payload & ~b.guessed_event
        fold_arrival_gap(b, c, media, self.gaps)  # before the media span moves each stream's last packet of media on
        fold_media_span(b, c, media, ext)
        # the packets that may name the codec: an unnamed type's event-shaped ones are events or keep-alives (the
        # types named for events, comfort noise or RED are left out by their name at the end: rtpfinal._main_type)
        fold_pt_counts(b, c, has_payload & ~(b.unresolved & b.maybe_event))
        if self.jitter_buffers:
            fold_jitter_buffer(b, c)
        self._fold_counts(b)
        if self.series is not None:
            self.series.add(b, lost, jitter)
        # the state the next batch starts from
        last_in = segs.last_where(b.in_time, strict=False)[segs.ends]
        has = last_in >= 0
        c["ws_ref_ns"][rows[has]] = b.t_ns[last_in[has]]
        c["last_pt"][rows] = segs.last_of(b.pt)
        c["last_ts"][rows] = segs.last_of(b.ts)
        c["t_last_ns"][rows] = segs.last_of(b.t_ns)
        c["t_min_ns"][rows] = np.minimum(c["t_min_ns"][rows], segs.reduce_min(b.t_ns))
        c["t_max_ns"][rows] = np.maximum(c["t_max_ns"][rows], segs.reduce_max(b.t_ns))
        c["last_frame"][rows] = b.frames_at(segs.ends)

    def _resolve(self, b: BatchView) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Clocks of the dynamic payload types, per (stream, type) pair, and the RFC 4733 event packets: their
        positions, payload words, clocks and whether the SDP named their type (for _add_events), or None."""
        c = self.table.cols
        pos = np.flatnonzero(b.dynamic)
        key = b.rows[b.segs.seg[pos]] * 128 + b.pt[pos]
        pairs, inverse = np.unique(key, return_inverse=True)
        version = self.clocks.version
        rate = np.zeros(len(pairs), dtype=np.int64)
        event_rate = np.full(len(pairs), -1, dtype=np.int64)
        known = np.zeros(len(pairs), dtype=bool)
        for j, k in enumerate(pairs.tolist()):
            cached = self.encodings.get(k)
            if cached is None or cached[0] != version:
                row, pt = divmod(k, 128)
                src = (int(c["src_hi"][row]), int(c["src_lo"][row]), int(c["src_port"][row]))
                dst = (int(c["dst_hi"][row]), int(c["dst_lo"][row]), int(c["dst_port"][row]))
                cached = self.encodings[k] = (version, self.clocks.encoding(src, dst, pt) or
                                              (cached[1] if cached else None))
            if cached[1] is not None:
                name, r = cached[1]
                known[j] = True
                rate[j] = jitter_clock(name, r)
                event_rate[j] = r if is_telephone_event(name) else -1
        b.clock[pos] = rate[inverse]
        length = b.rtp.payload_len[b.order[pos]]
        # An empty packet of a type nobody named is an RFC 6263 §4.6 keep-alive: it names no codec, so it sets no
        # clock candidates going and no clock is inferred from it (its stream keeps its media's codec); with no
        # clock it stays out of the jitter, as a telephone-event does.
        b.unresolved[pos] = ~known[inverse] & (length > 0)
        word = b.rtp.payload_word[b.order[pos]]
        dtmf_shape = (length == 4) & plausible_events(word)
        # Cisco's NSE (X-NSE) share the 4-octet layout with events of their own (192 up): in-band signalling of
        # fax and modem tones, never media, nor DTMF
        b.maybe_event[pos] = dtmf_shape | ((length == 4) & plausible_nse(word))
        # An event payload is 4 octets (RFC 4733 §2.3): a shorter packet of the named event type carries no event
        # (an empty one is an RFC 6263 §4.6 keep-alive, whose missing word would read as digit '0')
        named_event = (event_rate[inverse] >= 0) & (length >= 4)
        guessed = self.guess_events & b.unresolved[pos] & dtmf_shape
        b.guessed_event[pos] = guessed
        self._fold_inference(b, pos)
        events = np.flatnonzero(named_event | guessed)
        if not len(events):
            return None
        return pos[events], word[events], np.maximum(event_rate[inverse][events], 0), named_event[events]

    def _add_events(self, b: BatchView, at: np.ndarray, words: np.ndarray, clocks: np.ndarray, named: np.ndarray,
                    ext: np.ndarray) -> None:
        """The event packets _resolve found, to the DtmfTracker, with their sequence numbers and sizes (rtpspan)."""
        self.dtmf.add(b.rows[b.segs.seg[at]], b.ts[at], words, b.frames_at(at), b.t_ns[at], clocks, ~named, ext[at],
                      b.rtp.packet_len[b.order[at]])

    def _fold_inference(self, b: BatchView, pos: np.ndarray) -> None:
        """Timestamp advance over arrival time between consecutive packets of an unnamed dynamic type: the
        ratio is the sender's clock, used when nobody names the type."""
        sel = pos[b.unresolved[pos] & ~b.maybe_event[pos] & ~b.first[pos]]
        if not len(sel):
            return
        c = self.table.cols
        seg = b.segs.seg[sel]
        head = sel == b.segs.starts[seg]  # its packet before is the carried one
        row = b.rows[seg]
        before = np.maximum(sel - 1, 0)
        prev_seq = np.where(head, c["last_seq"][row], b.seq[before])
        prev_ts = np.where(head, c["last_ts"][row], b.ts[before])
        prev_ns = np.where(head, c["t_last_ns"][row], b.t_ns[before])
        follows = (b.prev_pt[sel] == b.pt[sel]) & (((b.seq[sel] - prev_seq) & (SEQ_MOD - 1)) == 1)
        step = (b.ts[sel] - prev_ts) & 0xFFFFFFFF
        ok = follows & (step < (1 << 24))
        np.add.at(c["infer_ts"], row[ok], step[ok])
        np.add.at(c["infer_ns"], row[ok], (b.t_ns[sel] - prev_ns)[ok])

    def _fold_delta(self, b: BatchView) -> None:
        """Max delta (Wireshark: over regular packets, with its frame), for the tshark agreement. What a receiver
        went without, and the capture-health gap events, are the arrival gaps (rtpgap)."""
        c, segs, rows = self.table.cols, b.segs, b.rows
        delta = np.where(b.regular, b.delta, 0.0)
        top = segs.reduce_max(delta)
        better = top > c["max_delta"][rows]
        if better.any():
            hit = b.regular & (delta == segs.spread(top))
            first_hit = np.minimum.reduceat(np.where(hit, np.arange(segs.size), segs.size), segs.starts)
            c["max_delta"][rows[better]] = top[better]
            c["max_delta_frame"][rows[better]] = b.frames_at(first_hit[better])

    def _fold_counts(self, b: BatchView) -> None:
        c, segs, rows = self.table.cols, b.segs, b.rows
        if b.rtp.dscp is not None:
            # Re-marking inside a stream (RULES.md qos.dscp-marking): packets whose DSCP is not the first packet's.
            dscp = b.rtp.dscp.take(b.order).astype(np.int16)
            first = segs.spread(c["dscp"][rows])
            c["dscp_other"][rows] += segs.reduce_sum((dscp != first) & (dscp <= 63) & (first >= 0))
        c["bytes"][rows] += segs.reduce_sum(b.gather("packet_len"))
        # An RTP packet that carries no payload at all (after CSRCs, extension and padding) has no media in any
        # format: RFC 6263 §4.6 keeps a NAT binding open with such packets ("an RTP packet of 0 length"), of a
        # payload type nobody negotiated or of the media's own.
        c["empty"][rows] += segs.reduce_sum(b.gather("payload_len") == 0)
        c["markers"][rows] += segs.reduce_sum(b.marker)
        if not b.all_in_time:
            c["wrong_ts"][rows] += segs.reduce_sum(~b.in_time)
        switched = b.pt != b.prev_pt  # never at a stream's first packet (its carried type is its own)
        one = np.uint64(1)
        if switched.any():  # the set of payload types seen: one bit each, 0-63 and 64-127
            low = b.pt < 64
            bits = np.left_shift(one, (b.pt & 63).astype(np.uint64))
            c["pt_mask_lo"][rows] |= np.bitwise_or.reduceat(np.where(low, bits, 0), segs.starts)
            c["pt_mask_hi"][rows] |= np.bitwise_or.reduceat(np.where(low, 0, bits), segs.starts)
        else:  # one type per stream in this batch
            pt = b.pt.take(segs.starts)
            bits = np.left_shift(one, (pt & 63).astype(np.uint64))
            low = pt < 64
            c["pt_mask_lo"][rows[low]] |= bits[low]
            c["pt_mask_hi"][rows[~low]] |= bits[~low]
            return
        change = switched & ~(b.cn | b.prev_cn)
        if change.any():
            c["pt_changes"][rows] += segs.reduce_sum(change)
            at = np.flatnonzero(change)
            for row, frame, old, new in zip(rows[segs.seg[at]].tolist(), b.frames_at(at).tolist(),
                                            b.prev_pt[at].tolist(), b.pt[at].tolist()):
                log = self.pt_change_log.setdefault(row, [])
                if len(log) < MAX_PT_CHANGES:
                    log.append((frame, old, new))

    # ------------------------------------------------------------------------------------------- the end

    def finalize(self, *, clock_for: ClockFor | None = None, infer_clocks: bool = True) -> RtpStatsResult:
        """Build the records. clock_for(src_ip, src_port, dst_ip, dst_port, payload_type) -> clock rate | None
        names the clock of a dynamic type that no SDP named while folding (0: no clock, e.g. telephone-event);
        otherwise (infer_clocks) the candidate nearest the timestamps' own rate is taken."""
        return build_result(self, clock_for, infer_clocks)

    def codec_of(self, row: int, pt: int) -> tuple[str | None, int | None, str]:
        """(encoding name, clock rate, source) of a payload type of a row, as known at the end."""
        if pt < 96:
            static = STATIC_PAYLOAD_TYPES.get(pt)
            return (static.encoding if static else None), STATIC_CLOCKS.get(pt), "static"
        cached = self.encodings.get(row * 128 + pt)
        if cached is not None and cached[1] is not None:
            return cached[1][0], cached[1][1], "sdp"
        return None, None, "none"

    def carried_media(self, row: int, pt: int) -> bool:
        """Whether a payload type of a row may be the stream's codec: static, named by an SDP, or unnamed with
        packets of media counted (rtpptcount, which leaves out empty and 4-octet event-shaped packets of an unnamed
        type). An unnamed dynamic type seen only in those is RFC 6263 §4.6 keep-alives, or RFC 4733 events or Cisco
        NSE guessed by their shape, never the codec; one past the count's slots is not taken either."""
        return pt < 96 or self.codec_of(row, pt)[0] is not None or pt_counts(self.table.cols, row).get(pt, 0) > 0
