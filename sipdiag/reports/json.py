"""The JSON document of ARCHITECTURE.md ("The JSON contract"), versioned by its `schema` field."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, TextIO

from ..analysis import Analysis

SCHEMA = "sipdiag.analysis/1"


def iso_time(ts_ns: int | None) -> str | None:
    """UTC, ISO 8601 with microseconds: what ticket systems and spreadsheets read without help."""
    if ts_ns is None:
        return None
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds")


def to_document(a: Analysis) -> dict[str, Any]:
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
        "rtp_streams": [
            {"src_ip": s.src_ip, "src_port": s.src_port, "dst_ip": s.dst_ip, "dst_port": s.dst_port,
             "ssrc": f"0x{s.ssrc:08x}", "payload_type": s.payload_type, "packets": s.packets,
             "first_frame": s.first_frame}
            for s in a.rtp_streams
        ],
        "anomalies": [{"code": x.code, "frame": x.frame, "detail": x.detail} for x in a.anomalies],
    }


def render_json(a: Analysis, out: TextIO) -> None:
    # ensure_ascii keeps hostile bytes from the wire as \u escapes, never raw control characters.
    json.dump(to_document(a), out, indent=2, ensure_ascii=True)
    out.write("\n")
