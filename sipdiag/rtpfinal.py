"""Turning the engine's columns into `RtpStreamStats` records, once, at the end (RtpStatsEngine.finalize)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from .capturehealth import find_hiccups
from .parsers.scan import address
from .rtcp import RtcpResult
from .rtpclock import CANDIDATE_CLOCKS, CN_PAYLOAD_TYPES, is_auxiliary
from .rtpdrift import drift_ppm
from .rtpjitter import jitter_summary
from .rtpptcount import PT_SLOTS, pt_count_records, pt_counts
from .rtpresult import RtpStatsResult, RtpStreamStats
from .rtpseq import SEQ_MOD
from .rtpspan import media_spans

if TYPE_CHECKING:
    from .rtpstats import ClockFor, RtpStatsEngine


def row_address(table, row: int) -> tuple[str, int, str, int, int]:
    c = table.cols
    return (address(int(c["src_hi"][row]), int(c["src_lo"][row])), int(c["src_port"][row]),
            address(int(c["dst_hi"][row]), int(c["dst_lo"][row])), int(c["dst_port"][row]), int(c["ssrc"][row]))

# A flow is taken for RTP only when it looks like a sequence: enough packets whose sequence numbers stay close
# together (RFC 3550 A.1 probation uses MIN_SEQUENTIAL = 2; one more keeps DNS or game traffic out).
MIN_RTP_PACKETS = 3
IP_OVERHEAD = {4: 28, 6: 48}  # UDP header + IPv4/IPv6 header, as Wireshark's RTP bandwidth counts them


def rtp_like(c: dict[str, np.ndarray]) -> np.ndarray:
    """Enough packets, and sequence numbers covering about as many values as packets (random bytes spread
    over the whole 16-bit space)."""
    n = c["packets"]
    spread = np.minimum(c["seq_hi"] - c["seq_lo"], c["seq_shi"] - c["seq_slo"]) + 1
    return (n >= MIN_RTP_PACKETS) & (spread <= 2 * n + 16)


def infer_clock(ts_units: int, ns: int) -> int | None:
    """The candidate clock nearest the observed timestamp rate (units per second), within 15 %."""
    if ns <= 0 or ts_units <= 0:
        return None
    rate = ts_units / (ns / 1e9)
    best = min(CANDIDATE_CLOCKS, key=lambda r: abs(np.log(rate / r)))
    return best if abs(rate / best - 1) <= 0.15 else None


def _payload_types(c: dict[str, np.ndarray]) -> list[list[int]]:
    """The payload types seen per row, from the two 64-bit masks (usually a single bit)."""
    out = []
    for lo, hi in zip(c["pt_mask_lo"].tolist(), c["pt_mask_hi"].tolist()):
        bits, pts = lo | hi << 64, []
        while bits:
            low = bits & -bits
            pts.append(low.bit_length() - 1)
            bits ^= low
        out.append(pts)
    return out


def _previous_ssrc(c: dict[str, np.ndarray]) -> list[int | None]:
    """An SSRC change: the SSRC the same 5-tuple carried before this stream's first packet."""
    keys = ("src_hi", "src_lo", "dst_hi", "dst_lo", "src_port", "dst_port")
    order = np.lexsort([c["first_frame"]] + [c[k] for k in reversed(keys)])
    same = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        same[1:] = np.all([c[k][order][1:] == c[k][order][:-1] for k in keys], axis=0)
    out: list[int | None] = [None] * len(order)
    ssrc = c["ssrc"][order].tolist()
    for i in np.flatnonzero(same).tolist():
        out[int(order[i])] = ssrc[i - 1]
    return out


def build_result(engine: RtpStatsEngine, clock_for: ClockFor | None, infer_clocks: bool) -> RtpStatsResult:
    t = engine.table
    c = {name: t.column(name) for name in t.column_types()}
    rows = np.argsort(c["first_frame"], kind="stable")
    stream_of_row = {int(r): i for i, r in enumerate(rows.tolist())}
    expected = c["closed_expected"] + c["max_ext"] - c["base_ext"] + 1
    received = c["closed_received"] + c["received"]
    lost = np.maximum(expected - (received - c["duplicates"]), 0)
    runs = c["loss_runs"]
    unique = np.maximum(received - c["duplicates"], 1)
    keepalives = c["empty"].copy()
    for row, packets in engine.dtmf.keepalives().items():
        keepalives[row] += packets
    # Keep-alives take sequence numbers like media (RFC 6263 §4.6: "incremented by one for each packet"), so they
    # stay in the sequence accounting (dropping them would leave gaps counted as lost); the loss percentage is of
    # the media the stream was expected to carry, the keep-alives not counted.
    media_expected = expected - keepalives
    with np.errstate(divide="ignore", invalid="ignore"):
        burst = np.where((lost > 0) & (runs > 0), 1 / (runs / unique + runs / np.maximum(lost, 1)), np.nan)
        share = 100 / np.where(media_expected > 0, media_expected, np.inf)
    # Duration, bit rate, timestamp and sequence span are the media's (rtpspan: keep-alives left out); a stream of
    # keep-alives alone carried no media (0 s). Records of interfaces merged a few ms out of order (not a clock step)
    # may put the last packet before the first: a duration is never negative. Across a real step the figures are
    # dropped (sipdiag.media.build_media).
    span = media_spans(c, engine.dtmf.spans())
    media = span["n"] > 0
    duration = np.where(media, np.maximum(span["last_ns"] - span["first_ns"], 0), 0) / 1e9
    v4 = (c["src_hi"] == 0) & ((c["src_lo"] >> np.uint64(32)) == 0xFFFF)
    wire = span["bytes"] + span["n"] * np.where(v4, IP_OVERHEAD[4], IP_OVERHEAD[6])
    bitrate = np.where(duration > 0, wire * 8 / np.where(duration > 0, duration, 1) / 1000, 0.0)
    mean, top, last = (a.copy() for a in jitter_summary(c))
    pts = _payload_types(c)
    main, clock, codec, source = _clocks(engine, c, rows, pts, clock_for, infer_clocks, mean, top, last)
    cols = {
        "payload_type": c["payload_type"], "first_frame": c["first_frame"], "last_frame": c["last_frame"],
        "start_ns": c["t0_ns"], "end_ns": c["t_last_ns"], "duration_s": duration, "packets": c["packets"],
        "expected": expected, "lost": lost, "loss_pct": lost * share,
        "lost_wireshark": c["last_seq"] + SEQ_MOD * c["ws_cycles"] - c["start_seq"] + 1 - c["packets"],
        "duplicates": c["duplicates"], "out_of_order": np.maximum(c["late"] - c["late_duplicates"], 0),
        "sequence_restarts": c["restarts"], "sequence_jumps": c["jumps"], "loss_runs": runs,
        "loss_run_max": c["loss_run_max"], "max_delta_ms": c["max_delta"], "arrival_gap_ms": c["gap_ms"],
        "jitter_mean_ms": mean,
        "jitter_max_ms": top, "jitter_last_ms": last, "markers": c["markers"],
        "payload_type_changes": c["pt_changes"], "timestamp_jumps": c["ts_jumps"], "wrong_timestamps": c["wrong_ts"],
        "bytes": c["bytes"], "bitrate_kbps": bitrate, "late_50ms": c["late_50"], "late_200ms": c["late_200"],
        "late_adaptive": c["late_adaptive"], "effective_loss_pct_50ms": (lost + c["late_50"]) * share,
        "effective_loss_pct_200ms": (lost + c["late_200"]) * share,
        "effective_loss_pct_adaptive": (lost + c["late_adaptive"]) * share,
        "jitter_buffer_resyncs": c["jb_resyncs"], "keepalives": keepalives,
    }
    drift, residual = drift_ppm(c, np.array([clock.get(r) or 0 for r in range(len(c["packets"]))], dtype=np.float64))
    like = rtp_like(c)
    previous = _previous_ssrc(c)
    names: dict[tuple[int, int], str] = {}

    def name(hi: int, lo: int) -> str:
        text = names.get((hi, lo))
        if text is None:
            text = names[(hi, lo)] = address(hi, lo)
        return text

    order = rows.tolist()
    src_hi, src_lo, dst_hi, dst_lo = (c[k][rows].tolist() for k in ("src_hi", "src_lo", "dst_hi", "dst_lo"))
    per_row = {
        "src_ip": [name(h, lo) for h, lo in zip(src_hi, src_lo)], "src_port": c["src_port"][rows].tolist(),
        "dst_ip": [name(h, lo) for h, lo in zip(dst_hi, dst_lo)], "dst_port": c["dst_port"][rows].tolist(),
        "ssrc": c["ssrc"][rows].tolist(), "payload_types": [tuple(pts[r]) for r in order],
        "main_payload_type": [main[r] for r in order], "media_packets_by_type": pt_count_records(c, rows),
        "codec": [codec[r] for r in order], "clock_rate": [clock[r] for r in order],
        "clock_source": [source[r] for r in order],
        "burst_ratio": [None if np.isnan(b) else b for b in burst[rows].tolist()],
        "max_delta_frame": [f or None for f in c["max_delta_frame"][rows].tolist()],
        "arrival_gap_frame": [f or None for f in c["gap_frame"][rows].tolist()],
        "previous_ssrc": [previous[r] for r in order], "rtp_like": like[rows].tolist(),
        "timestamp_span": np.where(media, (span["last_ts"] - span["first_ts"]) & 0xFFFFFFFF, 0)[rows].tolist(),
        "media_sequence_span": np.where(media, span["last_ext"] - span["first_ext"], 0)[rows].tolist(),
        **{f"media_{name}": [v if m else None for v, m in zip(span[key][rows].tolist(), media[rows].tolist())]
           for name, key in (("first_frame", "first_frame"), ("last_frame", "last_frame"),
                             ("start_ns", "first_ns"), ("end_ns", "last_ns"))},
        "dscp": [None if v < 0 else v for v in c["dscp"][rows].tolist()],
        "dscp_remarked": c["dscp_other"][rows].tolist(),
        "clock_drift_ppm": [None if np.isnan(v) else round(v, 1) for v in drift[rows].tolist()],
        "clock_fit_residual_ms": [None if np.isnan(v) else round(v, 2) for v in residual[rows].tolist()],
        **{k: v[rows].tolist() for k, v in cols.items()},
    }
    streams = list(map(RtpStreamStats._make, zip(*(per_row[f] for f in RtpStreamStats._fields))))
    gap_rows, gap_start, gap_end = engine.gaps.arrays()
    keep = like[gap_rows] if len(gap_rows) else np.zeros(0, dtype=bool)
    hiccups = find_hiccups(gap_start[keep], gap_end[keep], c["t_min_ns"][like], c["t_max_ns"][like])
    changes = tuple((stream_of_row[row], *change) for row, log in sorted(engine.pt_change_log.items())
                    for change in log)
    dropped = {"series": engine.series.dropped if engine.series is not None else 0, "gaps": engine.gaps.dropped,
               "dtmf": engine.dtmf.dropped, "holes": engine.holes.dropped}
    series = engine.series.table(stream_of_row) if engine.series is not None and stream_of_row else None
    holes = engine.holes.table(stream_of_row, c["base_ext"], c["max_ext"]) if stream_of_row else None
    return RtpStatsResult(tuple(streams), engine.dtmf.events(stream_of_row), _rtcp_in_ms(engine, streams), hiccups,
                          changes, dropped, series, holes)


def _rtcp_in_ms(engine: RtpStatsEngine, streams: list[RtpStreamStats]) -> RtcpResult:
    """The far end's jitter in ms, with the clock of the stream it reports on (its SSRC)."""
    rtcp = engine.rtcp.result()
    clocks: dict[int, int] = {}
    for s in streams:
        if s.clock_rate:
            clocks.setdefault(s.ssrc, s.clock_rate)
    summaries = tuple(replace(r, jitter_max_ms=r.jitter_max * 1000 / clocks[r.source_ssrc])
                      if r.source_ssrc in clocks else r for r in rtcp.summaries)
    return replace(rtcp, summaries=summaries)


def _main_type(engine: RtpStatsEngine, c: dict[str, np.ndarray], row: int, pt: int, pts: list[int]) -> int:
    """The stream's codec: of the types that may be one, the one that carried most of its packets of media (the
    earliest of equals), as tshark names a stream's payload; the first packet's type where none may be.

    Not a codec where another type is: RFC 4733 events, RFC 3389 comfort noise (PT 13, 19 or named CN), RFC 2198
    RED, FEC and Cisco NSE named so (rtpclock.is_auxiliary), and a dynamic type nobody named that came in empty or
    4-octet event-shaped packets only: RFC 6263 §4.6 keep-alives, or events or NSE guessed by their shape
    (RtpStatsEngine._resolve), even when one came first (eyeBeam's PT 126 keep-alives of 4 zero octets took the
    codec of its BV32 stream; a Cisco gateway's three NSE packets at a fax tone that of its PCMA stream)."""
    if len(pts) == 1:
        return pts[0]
    media = [p for p in pts if p not in CN_PAYLOAD_TYPES and not is_auxiliary(engine.codec_of(row, p)[0])
             and engine.carried_media(row, p)]
    if not media:
        return pt
    counts = pt_counts(c, row)
    # by packets, then by when the type first carried media, then the first packet's type (the types beyond the
    # table's slots, or whose packets were all empty, count none)
    order = {p: i for i, p in enumerate(counts)}
    return max(media, key=lambda p: (counts.get(p, 0), -order.get(p, PT_SLOTS), p == pt))


def _clocks(engine: RtpStatsEngine, c: dict[str, np.ndarray], rows: np.ndarray, all_pts: list[list[int]],
            clock_for: ClockFor | None, infer_clocks: bool, mean: np.ndarray, top: np.ndarray, last: np.ndarray
            ) -> tuple[dict[int, int], dict[int, int | None], dict[int, str | None], dict[int, str]]:
    """Per row: the main payload type, the clock the jitter figures use, the codec name and where the clock came
    from. For a stream whose dynamic type nobody named while folding, the caller's clock or the inferred one picks a
    candidate's jitter (written into mean/top/last)."""
    mains: dict[int, int] = {}
    clock: dict[int, int | None] = {}
    codec: dict[int, str | None] = {}
    source: dict[int, str] = {}
    first = c["payload_type"].tolist()
    for row in rows.tolist():
        main = mains[row] = _main_type(engine, c, row, first[row], all_pts[row])
        name_, rate, src = engine.codec_of(row, main)
        if c["cand"][row] and name_ is None:
            src_ip, src_port, dst_ip, dst_port, _ssrc = row_address(engine.table, row)
            rate = clock_for(src_ip, src_port, dst_ip, dst_port, main) if clock_for is not None else None
            src = "caller" if rate is not None else "none"
            if rate is None and infer_clocks:
                rate = infer_clock(int(c["infer_ts"][row]), int(c["infer_ns"][row]))
                src = "inferred" if rate is not None else "none"
            if rate in CANDIDATE_CLOCKS:
                mean[row], top[row], last[row] = (a[row] for a in jitter_summary(c, f"c{rate}_"))
            else:
                rate = None
        codec[row], clock[row], source[row] = name_, rate or None, src if rate else "none"
    return mains, clock, codec, source
