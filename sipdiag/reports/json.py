"""The JSON document of ARCHITECTURE.md ("The JSON contract"), versioned by its `schema` field."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ..addresses import join_address
from ..analysis import Analysis
from ..clocksteps import NO_STEPS, ClockSteps
from ..model import Call

SCHEMA = "sipdiag.analysis/1"


def iso_time(ts_ns: int | None) -> str | None:
    """UTC, ISO 8601 with microseconds: what ticket systems and spreadsheets read without help.

    The same text as `datetime.fromtimestamp(ts_ns / 1e9, timezone.utc).isoformat(timespec="microseconds")`,
    made from the whole second's text, which is kept (a document's times fall in few seconds: a call's
    transactions, its streams) and the microseconds, rounded as datetime rounds them (half to even, the
    fraction of the float). 6.3 us -> 1 us a time, and a 1 M-packet capture's JSON has 24 000 of them."""
    if ts_ns is None:
        return None
    fraction, whole = math.modf(ts_ns / 1e9)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1.0
    elif micro < 0:  # before 1970: the fraction is negative
        micro += 1_000_000
        whole -= 1.0
    second = _SECOND_TEXT.get(whole)
    if second is None:
        t = utc_datetime(whole)
        if t is None:
            return None
        if len(_SECOND_TEXT) >= 4096:
            _SECOND_TEXT.clear()
        second = _SECOND_TEXT[whole] = t.isoformat(timespec="seconds")[:-6]  # without "+00:00"
    return f"{second}.{micro:06d}+00:00"


_SECOND_TEXT: dict[float, str] = {}  # whole seconds since the epoch -> "YYYY-MM-DDTHH:MM:SS"


def utc_datetime(seconds: float) -> datetime | None:
    """Seconds since the epoch as a UTC datetime; None where no calendar shows it (a damaged timestamp, past
    year 9999: datetime cannot hold it)."""
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def to_document(a: Analysis, *, call: Call | None = None,
                findings: Callable[[], Sequence[Any]] | None = None) -> dict[str, Any]:
    """The document; with `call`, `calls` holds that call only (the rest of the document is unchanged)."""
    return {k: list(v()) if callable(v) else v for k, v in _parts(a, call, findings).items()}


def _parts(a: Analysis, call: Call | None, findings: Callable[[], Sequence[Any]] | None = None) -> dict[str, Any]:
    """The document with its long arrays as generator functions, so a writer can stream them record by record
    (the document of a capture with thousands of calls is never held whole)."""
    c = a.capture
    return {
        "schema": SCHEMA,
        "capture": {
            "file": c.file,
            "format": c.format,
            "compressed": c.compressed,
            "link_types": list(c.link_types),
            "interfaces": c.interfaces,
            "packets": c.packets,
            "bytes": c.bytes,
            "first_time": iso_time(c.first_ts_ns),
            "last_time": iso_time(c.last_ts_ns),
            "duration_s": None if c.duration_s is None else round(c.duration_s, 6),
            "clock_steps": c.clock.count,
            "truncated_packets": c.truncated_packets,
            "sip_messages": a.sip.messages,
            "rtp_packets": a.rtp_packets,
            "rtcp_packets": a.rtcp_packets,
            "anomalies_count": len(a.anomalies),
            "packet_kinds": c.kinds,
            "interface_stats": [
                {"interface": s.interface, "time": iso_time(s.ts_ns), "received": s.received,
                 "dropped_by_interface": s.dropped_by_interface, "dropped_by_os": s.dropped_by_os,
                 "delivered": s.delivered}
                for s in c.interface_stats
            ],
        },
        "sip": {
            "messages": a.sip.messages,
            "requests": a.sip.requests,
            "responses": {str(k): v for k, v in a.sip.responses.items()},
            "transports": a.sip.transports,
            "encapsulations": a.sip.encapsulations,
        },
        "calls": lambda: (call_record(x, a) for x in (a.calls if call is None else (call,))),
        "registrations": lambda: (registration_record(r, c.clock) for r in a.registrations),
        "transactions": lambda: (transaction_record(t, c.clock) for t in a.transactions),
        "streams": lambda: (stream_record(m) for m in a.streams),
        "rtcp": [
            {"src": join_address(r.src_ip, r.src_port), "dst": join_address(r.dst_ip, r.dst_port),
             "reporter_ssrc": f"0x{r.reporter_ssrc:08x}", "source_ssrc": f"0x{r.source_ssrc:08x}", "reports": r.reports,
             "fraction_lost_pct_max": r.fraction_lost_pct_max, "fraction_lost_pct_last": r.fraction_lost_pct_last,
             "cumulative_lost_last": r.cumulative_lost_last, "jitter_max_ms": r.jitter_max_ms,
             "rtt_ms_min": r.rtt_ms_min, "rtt_ms_mean": r.rtt_ms_mean, "rtt_ms_max": r.rtt_ms_max}
            for r in (a.rtp.rtcp.summaries if a.rtp else ())
        ],
        "capture_health": {
            "interface_drops": sum((s.dropped_by_interface or 0) + (s.dropped_by_os or 0) for s in c.interface_stats),
            "hiccups": [{"start": iso_time(h.start_ns), "duration_ms": round(h.duration_ms, 3),
                         "streams_in_gap": h.streams_in_gap, "streams_active": h.streams_active}
                        for h in (a.rtp.hiccups if a.rtp else ())],
        },
        "findings": lambda: (finding_record(f, i) for i, f in enumerate(findings() if findings else a.findings)
                                if call is None or f.call_id in (None, call.call_id)),
        "anomalies": [{"code": x.code, "frame": x.frame, "detail": x.detail} for x in a.anomalies],
    }


def _ms(clock: ClockSteps, frame_from: int | None, ns_from: int, frame_to: int, ns_to: int) -> float | None:
    """ms from one record to another; None across a clock step (sipdiag.clocksteps)."""
    span = clock.elapsed_ns(frame_from, ns_from, frame_to, ns_to)
    return None if span is None else round(span / 1e6, 3)


def sdp_media_record(m) -> dict[str, Any]:
    return {"media": m.media, "address": m.address, "port": m.port, "proto": m.proto,
            "payload_types": list(m.payload_types), "codecs": list(m.codecs), "direction": m.direction,
            "ptime_ms": m.ptime_ms, "rtcp_mux": m.rtcp_mux, "srtp": m.srtp, "telephone_event": m.telephone_event}


def transaction_record(t, clock: ClockSteps = NO_STEPS) -> dict[str, Any]:
    return {
        "method": t.method, "call_id": t.call_id, "cseq": t.cseq, "branch": t.branch,
        "request_frame": t.request_frame, "time": iso_time(t.ts_ns), "src": t.src, "dst": t.dst,
        "request_retransmissions": t.request_retransmissions,
        "responses": [{"status": code, "frame": frame, "after_ms": _ms(clock, t.ts_frame, t.ts_ns, frame, ts)}
                      for code, frame, ts in t.responses],
        "response_retransmissions": t.response_retransmissions, "final_status": t.final_status,
    }


def finding_record(f, index: int | None = None) -> dict[str, Any]:
    """ARCHITECTURE.md `findings[]`: texts in every language, evidence as the rule gave it (with `device` when the
    User-Agent involved is in the knowledge base, `nat_observations` folded into a cause).

    index: the finding's position in the analysis; `cause` and `explains` are such positions (RULES.md §2: the
    finding that most likely explains this one, and the ones this one explains), so they stay valid when the
    document is cut to one call."""
    return {"index": index, "rule": f.rule, "category": f.category, "severity": f.severity.label, "owner": f.owner,
            "title": f.title, "call_id": f.call_id, "evidence": {"frames": list(f.frames), **f.evidence},
            "customer_text": f.customer_text, "engineer_text": f.engineer_text, "confidence": f.confidence,
            "cause": f.cause, "explains": list(f.explains), "device": _device(f.evidence.get("device"))}


def _device(record: Any) -> dict[str, Any] | None:
    """The device of the finding in brief (vendor, model, kind) for ticket systems; the evidence has it all."""
    if not isinstance(record, dict):
        return None
    return {"vendor": record.get("vendor"), "model": record.get("model"), "kind": record.get("kind")}


def stream_record(m) -> dict[str, Any]:
    """One RTP stream (ARCHITECTURE.md `streams[]`): the measured figures, its call, its quality."""
    s, q = m.stats, m.quality
    return {
        "src_ip": s.src_ip, "src_port": s.src_port, "dst_ip": s.dst_ip, "dst_port": s.dst_port,
        "ssrc": f"0x{s.ssrc:08x}", "payload_type": s.payload_type, "main_payload_type": s.main_payload_type,
        "payload_types": list(s.payload_types),
        "codec": s.codec, "clock_rate": s.clock_rate, "clock_source": s.clock_source,
        "first_frame": s.first_frame, "last_frame": s.last_frame, "start": iso_time(s.start_ns),
        "media_first_frame": s.media_first_frame, "media_last_frame": s.media_last_frame,
        "media_start": iso_time(s.media_start_ns),
        "duration_s": s.duration_s, "packets": s.packets, "keepalives": s.keepalives, "expected": s.expected,
        "lost": s.lost,
        "loss_pct": s.loss_pct, "duplicates": s.duplicates, "out_of_order": s.out_of_order,
        "loss_runs": s.loss_runs, "loss_run_max": s.loss_run_max, "burst_ratio": s.burst_ratio,
        "max_delta_ms": s.max_delta_ms, "arrival_gap_ms": s.arrival_gap_ms,
        "arrival_gap_frame": s.arrival_gap_frame, "jitter_mean_ms": s.jitter_mean_ms, "jitter_max_ms": s.jitter_max_ms,
        "bitrate_kbps": s.bitrate_kbps, "markers": s.markers, "payload_type_changes": s.payload_type_changes,
        "timestamp_jumps": s.timestamp_jumps, "dscp": s.dscp, "dscp_remarked": s.dscp_remarked, "previous_ssrc": None if s.previous_ssrc is None else
        f"0x{s.previous_ssrc:08x}",
        "jitter_buffer": {"late_50ms": s.late_50ms, "late_200ms": s.late_200ms, "late_adaptive": s.late_adaptive,
                          "effective_loss_pct_50ms": s.effective_loss_pct_50ms,
                          "effective_loss_pct_200ms": s.effective_loss_pct_200ms,
                          "effective_loss_pct_adaptive": s.effective_loss_pct_adaptive},
        "mos": None if q is None else round(q.mos, 2),
        "r_factor": None if q is None else round(q.r_shown, 1),
        "mos_estimate": None if q is None else q.estimate,
        "quality_factors": [] if q is None else [
            {"name": f.name, "r_points": round(f.r_points_lost, 2), "explanation": f.explanation} for f in q.factors],
        "call_id": m.binding.call_id, "direction": m.binding.direction, "bound_by": m.binding.bound_by,
    }


def media_record(a: Analysis, call) -> dict[str, Any] | None:
    media = a.media_of(call)
    if media is None:
        return None
    v = media.verdict
    return {
        "verdict": v.verdict, "missing_direction": v.missing_direction, "unreachable_target": v.unreachable_target,
        "private_target_from_public": v.private_target_from_public, "stopped_early_s": v.stopped_early_s,
        "packets_to_callee": v.packets_to_callee, "packets_to_caller": v.packets_to_caller, "detail": v.detail,
        "dtmf": [{"digit": e.digit, "frame": e.start_frame, "duration_ms": e.duration_ms, "end_seen": e.end_seen,
                  "end_retransmits": e.end_retransmits, "heuristic": e.heuristic} for e in media.dtmf],
        "info_dtmf": [{"frame": f, "digit": d, "duration_ms": ms} for f, d, ms in media.info_dtmf],
    }


def call_record(c, a: Analysis | None = None) -> dict[str, Any]:
    media = a.media_of(c) if a is not None else None
    clock = a.capture.clock if a is not None else NO_STEPS
    return {
        "call_id": c.call_id,
        "caller": c.caller,
        "callee": c.callee,
        "caller_display": c.caller_display,
        "start": iso_time(c.start_ns),
        "first_frame": c.first_frame,
        "caller_address": c.caller_address,
        "callee_address": c.callee_address,
        "outcome": c.outcome,
        "final_status": c.final_status,
        "final_reason": c.final_reason,
        "setup_ms": c.setup_ms,
        "answer_ms": c.answer_ms,
        "duration_s": c.duration_s,
        "ended_by": c.ended_by,
        "end_reason": c.end_reason,
        "transport": c.transport,
        "user_agents": list(c.user_agents),
        "auth_challenges": c.auth_challenges,
        "reinvites": c.reinvites,
        "prack": c.prack,
        "refer_to": list(c.refer_to),
        "info_dtmf": [{"frame": f, "digit": d, "duration_ms": ms} for f, d, ms in c.info_dtmf],
        "seen_from_start": c.seen_from_start,
        "roles_known": c.roles_known,
        "legs": [{"call_id": leg.call_id, "rule": leg.rule} for leg in c.legs],
        "dialogs": [{"caller_tag": d.caller_tag, "callee_tag": d.callee_tag, "state": d.state,
                     "created_frame": d.created_frame, "confirmed_frame": d.confirmed_frame} for d in c.dialogs],
        "negotiations": [
            {"kind": n.kind, "offer_frame": n.offer_frame, "offerer": n.offerer,
             "offer": [sdp_media_record(m) for m in n.offer], "answer_frame": n.answer_frame,
             "answer": None if n.answer is None else [sdp_media_record(m) for m in n.answer],
             "status": n.status, "hold": n.hold}
            for n in c.negotiations
        ],
        "messages": [
            {"frame": m.frame, "after_ms": _ms(clock, c.start_at, c.start_ns, m.frame, m.ts_ns),
             "src": join_address(m.src_ip, m.src_port), "dst": join_address(m.dst_ip, m.dst_port),
             "transport": m.transport,
             "method": m.method, "status": m.status_code, "reason": m.reason, "cseq": m.cseq,
             "cseq_method": m.cseq_method, "retransmission": m.retransmission, "sdp": m.sdp}
            for m in c.messages
        ],
        # indexes into the document's top-level `streams` (each stream is described once)
        "streams": list(media.streams) if media else [],
        "media": media_record(a, c) if a is not None else None,
    }


def registration_record(r, clock: ClockSteps = NO_STEPS) -> dict[str, Any]:
    return {
        "aor": r.aor,
        "contact": r.contact,
        "call_id": r.call_id,
        "source": r.source,
        "registrar": r.registrar,
        "user_agent": r.user_agent,
        "outcome": r.outcome,
        "final_status": r.final_status,
        "attempts": r.attempts,
        "challenges": r.challenges,
        "requested_expires_s": r.requested_expires_s,
        "expires_s": r.expires_s,
        "refresh_interval_s": r.refresh_interval_s,
        "deregistration": r.deregistration,
        "start": iso_time(r.start_ns),
        "first_frame": r.first_frame,
        "last_frame": r.last_frame,
        "transactions": [transaction_record(t, clock) for t in r.transactions],
    }


def render_json(a: Analysis, out: TextIO, *, call: Call | None = None,
                findings: Callable[[], Sequence[Any]] | None = None) -> None:
    """Indented and ASCII-only for a person at a terminal (no raw control or bidi characters reach the screen);
    compact UTF-8 from orjson for a pipe or a file, which is what programs read (five times faster than the
    standard encoder; control characters are escaped as JSON requires), written record by record.

    findings: when given, called for the findings (instead of `a.findings`) only once the calls and streams are
    written: the rule engine can run on the other core meanwhile (sipdiag.checks.background)."""
    if getattr(out, "isatty", lambda: False)():  # a person reads it: the whole document at once
        out.write(json.dumps(to_document(a, call=call, findings=findings), indent=2, ensure_ascii=True) + "\n")
        return
    import orjson

    def dumps(value: Any) -> str:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # an integer beyond 64 bits that a parser let through, or a lone surrogate (a file name
            # that is not UTF-8): still valid JSON, never a crash; ASCII, so the surrogate goes as a \u escape
            return json.dumps(value, separators=(",", ":"), default=str)

    out.write("{")
    for n, (key, value) in enumerate(_parts(a, call, findings).items()):
        out.write(("," if n else "") + dumps(key) + ":")
        if callable(value):
            out.write("[")
            for i, record in enumerate(value()):
                out.write(("," if i else "") + dumps(record))
            out.write("]")
        else:
            out.write(dumps(value))
    out.write("}\n")
