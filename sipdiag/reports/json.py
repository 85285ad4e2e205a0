"""The JSON document of ARCHITECTURE.md ("The JSON contract"), versioned by its `schema` field."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, TextIO

from ..analysis import Analysis
from ..model import Call

SCHEMA = "sipdiag.analysis/1"


def iso_time(ts_ns: int | None) -> str | None:
    """UTC, ISO 8601 with microseconds: what ticket systems and spreadsheets read without help."""
    if ts_ns is None:
        return None
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds")


def to_document(a: Analysis, *, call: Call | None = None) -> dict[str, Any]:
    """The document; with `call`, `calls` holds that call only (the rest of the document is unchanged)."""
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
            "duration_s": round(c.duration_s, 6),
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
        "calls": [call_record(x) for x in (a.calls if call is None else (call,))],
        "registrations": [registration_record(r) for r in a.registrations],
        "transactions": [transaction_record(t) for t in a.transactions],
        "rtp_streams": [
            {"src_ip": s.src_ip, "src_port": s.src_port, "dst_ip": s.dst_ip, "dst_port": s.dst_port,
             "ssrc": f"0x{s.ssrc:08x}", "payload_type": s.payload_type, "packets": s.packets,
             "first_frame": s.first_frame}
            for s in a.rtp_streams
        ],
        "anomalies": [{"code": x.code, "frame": x.frame, "detail": x.detail} for x in a.anomalies],
    }


def _ms(ns_from: int, ns_to: int | None) -> float | None:
    return None if ns_to is None else round((ns_to - ns_from) / 1e6, 3)


def media_record(m) -> dict[str, Any]:
    return {"media": m.media, "address": m.address, "port": m.port, "proto": m.proto,
            "payload_types": list(m.payload_types), "codecs": list(m.codecs), "direction": m.direction,
            "ptime_ms": m.ptime_ms, "rtcp_mux": m.rtcp_mux, "srtp": m.srtp, "telephone_event": m.telephone_event}


def transaction_record(t) -> dict[str, Any]:
    return {
        "method": t.method, "call_id": t.call_id, "cseq": t.cseq, "branch": t.branch,
        "request_frame": t.request_frame, "time": iso_time(t.ts_ns), "src": t.src, "dst": t.dst,
        "request_retransmissions": t.request_retransmissions,
        "responses": [{"status": code, "frame": frame, "after_ms": _ms(t.ts_ns, ts)} for code, frame, ts in t.responses],
        "response_retransmissions": t.response_retransmissions, "final_status": t.final_status,
    }


def call_record(c) -> dict[str, Any]:
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
        "seen_from_start": c.seen_from_start,
        "legs": [{"call_id": leg.call_id, "rule": leg.rule} for leg in c.legs],
        "dialogs": [{"caller_tag": d.caller_tag, "callee_tag": d.callee_tag, "state": d.state,
                     "created_frame": d.created_frame, "confirmed_frame": d.confirmed_frame} for d in c.dialogs],
        "negotiations": [
            {"kind": n.kind, "offer_frame": n.offer_frame, "offerer": n.offerer,
             "offer": [media_record(m) for m in n.offer], "answer_frame": n.answer_frame,
             "answer": None if n.answer is None else [media_record(m) for m in n.answer],
             "status": n.status, "hold": n.hold}
            for n in c.negotiations
        ],
        "messages": [
            {"frame": m.frame, "after_ms": _ms(c.start_ns, m.ts_ns),
             "src": f"{m.src_ip}:{m.src_port}", "dst": f"{m.dst_ip}:{m.dst_port}", "transport": m.transport,
             "method": m.method, "status": m.status_code, "reason": m.reason, "cseq": m.cseq,
             "cseq_method": m.cseq_method, "retransmission": m.retransmission, "sdp": m.sdp}
            for m in c.messages
        ],
    }


def registration_record(r) -> dict[str, Any]:
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
        "transactions": [transaction_record(t) for t in r.transactions],
    }


def render_json(a: Analysis, out: TextIO, *, call: Call | None = None) -> None:
    """Indented and ASCII-only for a person at a terminal (no raw control or bidi characters reach the screen);
    compact UTF-8 from orjson for a pipe or a file, which is what programs read (five times faster than the
    standard encoder on a large capture; control characters are escaped as JSON requires)."""
    doc = to_document(a, call=call)
    if getattr(out, "isatty", lambda: False)():
        out.write(json.dumps(doc, indent=2, ensure_ascii=True) + "\n")
        return
    import orjson

    out.write(orjson.dumps(doc).decode("utf-8") + "\n")
