"""The one vocabulary of sipdiag (ARCHITECTURE.md "Model"): frozen values that each pipeline stage returns.

Every stage makes new values and never mutates an earlier stage's: that is what lets one `Analysis` be rendered
by every output (terminal, JSON, HTML, case store) without any of them re-analysing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A named defect met while reading traffic; parsers record it and go on (STYLE.md G3).

    code: stable dotted id, `layer.slug` (e.g. `pcap.truncated-record`, `sip.bad-content-length`).
    frame: 1-based frame number as Wireshark shows it, or None when not tied to one record.
    detail: one human sentence with the values that prove it.
    """

    code: str
    frame: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class Datagram:
    """A transport payload handed to the rich path: one UDP datagram (after IP reassembly), one SIP message cut
    out of a TCP stream, one WebSocket message, or one payload carried inside HEP.

    frame: the frame that completed it (the last fragment or segment); frames: every frame that carried a part.
    transport: `udp`, `tcp`, `ws` (SIP over WebSocket, RFC 7118), `tls` (decrypted by the tshark engine).
    encap: how it reached the capture point when it was wrapped: "" (plain), `hep`, `gre`, `erspan`, `ipip`, ...
    kind: what the payload looked like: `sip` (a start line; confirmed by the SIP parser), `rtcp`, `stun`, `icmp`.
    """

    frame: int
    ts_ns: int
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    transport: str
    payload: bytes
    frames: tuple[int, ...] = ()
    encap: str = ""
    kind: str = "sip"
