"""The top Via of the requests in a capture, as the NAT rules read it (RULES.md §3.1, Kamailio nat_uac_test 2/4/16).

A request's top Via sent-by is where its sender believes it sends from (RFC 3261 §18.2.1); the packet's source is
where it really came from at the capture point. The rules compare the two once per distinct (source, sent-by)
pair, not once per message: a phone sends the same sent-by in every request, so a capture of thousands of
requests has a handful of pairs. Only the sent-by head is parsed (cached), never the branch-bearing parameters
of every message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ..addresses import is_ip_literal, join_address, join_hostport
from ..parsers.sipheaders import parse_via
from .security import bruteforce_sources, is_scanner_ua

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
        return join_hostport(self.host, self.port)


# The usual shape of a Via head, read without the full grammar (RFC 3261 §20.42; RFC 5118 brackets for IPv6);
# anything else goes through sipheaders.parse_via.
_HEAD_RE = re.compile(r"SIP/2\.0/([A-Za-z]+) +([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?\Z")
_CONTACT_RE = re.compile(r"[^<]*<?sips?:(?:[^@;>]*@)?([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?[;>?]?",
                         re.I)


@lru_cache(maxsize=8192)
def sent_by(head: str) -> SentBy | None:
    """`SIP/2.0/UDP 192.168.1.10:5060` (the Via value before its first `;`) read once per distinct text."""
    m = _HEAD_RE.match(head)
    if m is not None:
        port = int(m.group(3)) if m.group(3) else None
        if port is None or port <= 65535:
            return SentBy(m.group(1).upper(), m.group(2).strip("[]"), port)
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
    hops: int = 1  # Via values of the first request: 1 = straight from the UA, more = through a proxy
    dst_ip: str = ""  # where the first request went

    @property
    def source(self) -> str:
        return join_address(self.src_ip, self.src_port)


FRAMES_KEPT = 5


def via_paths(analysis: Analysis) -> tuple[ViaPath, ...]:
    """The distinct (source, sent-by) pairs of the capture's requests (of the full messages kept,
    Analysis.messages) that belong to a call or a registration, in the order first seen, leaving out known
    scanners (their User-Agent) and password guessers. Computed once per analysis and reused by every rule."""
    cached = analysis._memo.get("via_paths")
    if cached is not None:
        return cached
    groups: dict[tuple, list] = {}
    # Requests of calls and registrations only: stand-alone OPTIONS are mostly probes from the Internet, whose
    # Via names whatever the prober likes; a NATed phone's keepalives come with its REGISTERs anyway.
    dialogs = {c.call_id for c in analysis.calls} | {r.call_id for r in analysis.registrations}
    attackers = bruteforce_sources(analysis)  # a password guesser's requests are the attack's evidence
    for m in analysis.messages:
        if not m.is_request:
            continue
        present = m.headers.first_values
        value = present.get("via")
        if not value or present.get("call-id") not in dialogs:
            continue
        head, _, params = value.partition(";")
        key = (m.src_ip, m.src_port, m.transport, head)
        g = groups.get(key)
        if g is None:
            # A scanner's requests (spoofed or loopback Via, one per probe) say nothing about a customer's NAT.
            ua = m.headers.first_values.get("user-agent")
            groups[key] = [m, params, [m.frame], 1, None, is_scanner_ua(ua)]
        else:
            g[3] += 1
            if len(g[2]) < FRAMES_KEPT:
                g[2].append(m.frame)
        g = groups[key]
        if g[4] is None and "contact" in m.headers.first_values:
            g[4] = m
    out = []
    for (src_ip, src_port, transport, head), (first, params, frames, count, with_contact, scan) in groups.items():
        if scan or src_ip in attackers:
            continue
        sb = sent_by(head.strip())
        if sb is None:
            continue
        host, port = _contact_hostport(with_contact) if with_contact is not None else (None, None)
        out.append(ViaPath(src_ip, src_port, transport, sb, rport_of(params) is not None, first.frame,
                           tuple(frames), count, first.call_id, port, host, len(first.headers.get_all("via")),
                           first.dst_ip))
    result = analysis._memo["via_paths"] = tuple(out)
    return result


def _contact_hostport(msg: SipMessage) -> tuple[str | None, int | None]:
    from ..parsers.sipuri import parse_name_addr

    value = msg.headers.get("contact")
    m = _CONTACT_RE.match(value) if value else None
    if m is not None and (m.group(2) is None or int(m.group(2)) <= 65535):
        return m.group(1).strip("[]"), int(m.group(2)) if m.group(2) else None
    na = parse_name_addr(value) if value and value.strip() != "*" else None
    if na is None or na.uri is None:
        return None, None
    return na.uri.host, na.uri.port
