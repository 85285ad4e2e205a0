"""The top Via of the requests in a capture, as the NAT rules read it (RULES.md §3.1, Kamailio nat_uac_test 2/4/16).

A request's top Via sent-by is where its sender believes it sends from (RFC 3261 §18.2.1); the packet's source is
where it really came from at the capture point. The rules compare the two once per distinct (source, sent-by)
pair, not once per message: a phone sends the same sent-by in every request, so a capture of thousands of
requests has a handful of pairs. Only the sent-by head is parsed (cached), never the branch-bearing parameters
of every message.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ..parsers.sipheaders import parse_via

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..parsers.sip import SipMessage

# RFC 3261 §18.2.1 / §19.1.2: a sent-by without a port means 5060 (5061 for TLS); nathelper flag 16 does the same.
DEFAULT_PORTS = {"UDP": 5060, "TCP": 5060, "SCTP": 5060, "TLS": 5061, "WS": 80, "WSS": 443}
_RPORT_RE = re.compile(r";[ \t]*rport(?:[ \t]*=[ \t]*(\d*))?[ \t]*(?:;|$)", re.I)
_RECEIVED_RE = re.compile(r";[ \t]*received[ \t]*=[ \t]*([^;\s]+)", re.I)


@dataclass(frozen=True, slots=True)
class SentBy:
    """The head of a Via value: transport and sent-by host/port (port None when absent)."""

    transport: str
    host: str
    port: int | None

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.transport, 5060)

    @property
    def is_ip(self) -> bool:
        return is_ip_literal(self.host)

    @property
    def text(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


@lru_cache(maxsize=4096)
def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=8192)
def sent_by(head: str) -> SentBy | None:
    """`SIP/2.0/UDP 192.168.1.10:5060` (the Via value before its first `;`) read once per distinct text."""
    via = parse_via(head)
    if via is None or not via.host:
        return None
    return SentBy(via.transport, via.host, via.port)


def top_via_head(msg: SipMessage) -> tuple[str, str] | None:
    """(head before the first ';', the parameters after it) of the top Via; None without a Via."""
    value = msg.headers.get("via")
    if not value:
        return None
    head, _, params = value.partition(";")
    return head.strip(), params


def rport_of(params: str) -> bool | int | None:
    """RFC 3581: None without rport, True when asked for (no value), the port when a server filled it in."""
    m = _RPORT_RE.search(";" + params)
    if m is None:
        return None
    return int(m.group(1)) if m.group(1) else True


def received_of(params: str) -> str | None:
    m = _RECEIVED_RE.search(";" + params)
    return m.group(1).strip("[]") if m else None


@dataclass(frozen=True, slots=True)
class ViaPath:
    """Every request one source sent with one sent-by: the unit the NAT rules report on."""

    src_ip: str
    src_port: int
    transport: str  # of the packets: udp, tcp, tls, ws, ...
    via: SentBy
    rport: bool  # the first request asked for rport (RFC 3581)
    first_frame: int
    frames: tuple[int, ...]  # the first few requests
    requests: int
    call_id: str | None  # the first request's Call-ID
    contact_port: int | None  # Contact port of the first request that had one
    contact_host: str | None

    @property
    def source(self) -> str:
        return f"[{self.src_ip}]:{self.src_port}" if ":" in self.src_ip else f"{self.src_ip}:{self.src_port}"


FRAMES_KEPT = 5


def via_paths(analysis: Analysis) -> tuple[ViaPath, ...]:
    """The distinct (source, sent-by) pairs of the capture's requests (of the full messages kept,
    Analysis.messages), in the order first seen. Computed once per analysis and reused by every rule."""
    cached = analysis._memo.get("via_paths")
    if cached is not None:
        return cached
    groups: dict[tuple, list] = {}
    for m in analysis.messages:
        if not m.is_request:
            continue
        value = m.headers.first_values.get("via")
        if not value:
            continue
        head, _, params = value.partition(";")
        key = (m.src_ip, m.src_port, m.transport, head)
        g = groups.get(key)
        if g is None:
            groups[key] = [m, params, [m.frame], 1, None]
        else:
            g[3] += 1
            if len(g[2]) < FRAMES_KEPT:
                g[2].append(m.frame)
        g = groups[key]
        if g[4] is None and "contact" in m.headers.first_values:
            g[4] = m
    out = []
    for (src_ip, src_port, transport, head), (first, params, frames, count, with_contact) in groups.items():
        sb = sent_by(head.strip())
        if sb is None:
            continue
        host, port = _contact_hostport(with_contact) if with_contact is not None else (None, None)
        out.append(ViaPath(src_ip, src_port, transport, sb, rport_of(params) is not None, first.frame,
                           tuple(frames), count, first.call_id, port, host))
    result = analysis._memo["via_paths"] = tuple(out)
    return result


def _contact_hostport(msg: SipMessage) -> tuple[str | None, int | None]:
    from ..parsers.sipuri import parse_name_addr

    value = msg.headers.get("contact")
    na = parse_name_addr(value) if value and value.strip() != "*" else None
    if na is None or na.uri is None:
        return None, None
    return na.uri.host, na.uri.port
