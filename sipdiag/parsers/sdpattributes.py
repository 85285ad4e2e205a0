"""SDP attribute values and the readers that fill them (RFC 8866 §6; RFC 3605, 4568, 8122, 8839), used by
`sdp.parse_sdp`; import the values from `sipdiag.parsers.sdp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from sipdiag.model import Anomaly
from sipdiag.parsers.anomalytexts import anomaly
from sipdiag.parsers.sipuri import bounded_int

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")  # RFC 8866 §6.7


class RtpMap(NamedTuple):
    """One `a=rtpmap` (or static payload type): (encoding, clock rate, channels). A NamedTuple: it is built
    for every rtpmap line, and is used as the plain triple it is.
    """

    encoding: str  # as written: PCMU, opus, telephone-event, ...
    clock_rate: int | None  # RTP timestamp rate in Hz; None when the rtpmap line lacked it
    channels: int | None = None  # audio channels when given; None means the default (1)


@dataclass(frozen=True, slots=True)
class SdpConnection:
    """`c=` (RFC 8866 §5.7); multicast TTL and address count split off the address."""

    nettype: str
    addrtype: str
    address: str
    ttl: int | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class SdpRtcp:
    """`a=rtcp:port [nettype addrtype address]` (RFC 3605)."""

    port: int
    address: str | None = None
    addrtype: str | None = None


@dataclass(frozen=True, slots=True)
class SdpCrypto:
    """`a=crypto:tag suite key-params [session-params]` (RFC 4568 §9.1), SDES-SRTP."""

    tag: int
    suite: str  # AES_CM_128_HMAC_SHA1_80, ...
    key_params: str  # "inline:base64key|lifetime|MKI:len", several joined by ';'
    session_params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SdpFingerprint:
    """`a=fingerprint:hash-func fingerprint` (RFC 8122 §5), DTLS-SRTP."""

    hash_function: str  # lower-case: sha-256, sha-1, ...
    fingerprint: str


@dataclass(frozen=True, slots=True)
class IceCandidate:
    """`a=candidate:` (RFC 8839 §5.1)."""

    foundation: str
    component: int  # 1 RTP, 2 RTCP
    transport: str  # upper-case: UDP, TCP
    priority: int
    address: str
    port: int
    type: str  # host, srflx, prflx, relay
    related_address: str | None = None
    related_port: int | None = None
    extensions: tuple[tuple[str, str], ...] = ()  # generation, ufrag, network-id, tcptype, ...


class SectionState:
    """Attribute state of one section (session or media) while its lines are read."""

    __slots__ = (
        "connection", "direction", "fingerprint", "setup", "ice_ufrag", "ice_pwd", "bandwidths", "attributes",
        "rtpmap", "fmtp", "crypto", "candidates", "ptime_ms", "maxptime_ms", "rtcp", "rtcp_mux", "mid", "media_line",
    )  # fmt: skip

    def __init__(self, media_line: tuple[str, int, int, str, tuple[str, ...]] | None = None) -> None:
        self.media_line = media_line
        self.connection: SdpConnection | None = None
        self.direction: str | None = None
        self.fingerprint: SdpFingerprint | None = None
        self.setup: str | None = None
        self.ice_ufrag: str | None = None
        self.ice_pwd: str | None = None
        self.bandwidths: list[tuple[str, int]] = []
        self.attributes: list[tuple[str, str]] = []
        self.rtpmap: list[tuple[int, RtpMap]] = []
        self.fmtp: list[tuple[int, str]] = []
        self.crypto: list[SdpCrypto] = []
        self.candidates: list[IceCandidate] = []
        self.ptime_ms: int | None = None
        self.maxptime_ms: int | None = None
        self.rtcp: SdpRtcp | None = None
        self.rtcp_mux = False
        self.mid: str | None = None


class DefectLog:
    """Collects anomalies for one parse (no module-level state)."""

    def __init__(self, frame: int | None) -> None:
        self.frame = frame
        self.anomalies: list[Anomaly] = []

    def defect(self, key: str, /, **values: object) -> None:
        """Record the `sdp.*` anomaly of the text `key` of sipdiag.parsers.anomalytexts."""
        self.anomalies.append(anomaly(key, self.frame, **values))


def read_int(text: str) -> int | None:
    """A non-negative SDP number (at most 64 bits, as o= versions may be), else None."""
    # Hot path: short plain numbers (ports, payload types, clock rates) need none of bounded_int's guards.
    if len(text) < 19 and text.isdigit() and text.isascii():
        return int(text)
    return bounded_int(text, 2**64 - 1)


def payload_type(fmt: str) -> int | None:
    """An m= line format as an RTP payload type: a number of 7 bits (RFC 3550 §5.1; RFC 8866 §5.14 under an RTP
    profile), else None (`t38`, 200, 2**64, digits other than ASCII)."""
    return bounded_int(fmt, 127)


def _rtpmap(section: SectionState, value: str, reader: DefectLog) -> None:
    pt_text, _sp, spec = value.strip().partition(" ")
    pieces = spec.strip().split("/")
    pt = read_int(pt_text)
    clock = read_int(pieces[1]) if len(pieces) > 1 else None
    channels = read_int(pieces[2]) if len(pieces) > 2 else None
    if pt is None or not pieces[0] or clock is None or (len(pieces) > 2 and channels is None):
        reader.defect("sdp.bad-rtpmap", value=value)
    if pt is not None and pieces[0]:
        section.rtpmap.append((pt, RtpMap(pieces[0], clock, channels)))


def _fmtp(section: SectionState, value: str, reader: DefectLog) -> None:
    pt_text, _sp, params = value.partition(" ")
    pt = read_int(pt_text)
    if pt is None:
        reader.defect("sdp.bad-fmtp", value=value)
    else:
        section.fmtp.append((pt, params.strip()))


MAX_PTIME_MS = 60_000  # a packet of a minute's media: beyond that a ptime is a damaged or hostile value


def _milliseconds(value: str, what: str, reader: DefectLog) -> int | None:
    try:
        ms = float(value)
    except ValueError:  # "twenty"
        ms = -1.0
    if not 0 <= ms <= MAX_PTIME_MS:  # also "nan", "1e999" and digits beyond any packet
        reader.defect("sdp.bad-attribute:milliseconds", name=what, value=value[:40], limit=MAX_PTIME_MS)
        return None
    return int(ms)


def _ptime(section: SectionState, value: str, reader: DefectLog) -> None:
    section.ptime_ms = _milliseconds(value, "ptime", reader)


def _maxptime(section: SectionState, value: str, reader: DefectLog) -> None:
    section.maxptime_ms = _milliseconds(value, "maxptime", reader)


def _rtcp(section: SectionState, value: str, reader: DefectLog) -> None:
    parts = value.split()
    port = read_int(parts[0]) if parts else None
    if port is None or len(parts) not in (1, 4):
        reader.defect("sdp.bad-attribute:rtcp", value=value)
    else:
        section.rtcp = SdpRtcp(port, parts[3] if len(parts) == 4 else None, parts[2] if len(parts) == 4 else None)


def _rtcp_mux(section: SectionState, value: str, reader: DefectLog) -> None:
    section.rtcp_mux = True


def _crypto(section: SectionState, value: str, reader: DefectLog) -> None:
    parts = value.split()
    tag = read_int(parts[0]) if parts else None
    if tag is None or len(parts) < 3:
        reader.defect("sdp.bad-attribute:crypto", value=value)
    else:
        section.crypto.append(SdpCrypto(tag, parts[1], parts[2], tuple(parts[3:])))


def _fingerprint(section: SectionState, value: str, reader: DefectLog) -> None:
    parts = value.split()
    if len(parts) != 2:
        reader.defect("sdp.bad-attribute:fingerprint", value=value)
    else:
        section.fingerprint = SdpFingerprint(parts[0].lower(), parts[1])


def _candidate(section: SectionState, value: str, reader: DefectLog) -> None:
    candidate = _parse_candidate(value)
    if candidate is None:
        reader.defect("sdp.bad-attribute:candidate", value=value[:80])
    else:
        section.candidates.append(candidate)


def _text(slot: str, *, lower: bool = False) -> Callable[[SectionState, str, DefectLog], None]:
    """A reader that stores the stripped attribute value (lower-cased for enumerations) in `slot`."""

    def read(section: SectionState, value: str, reader: DefectLog) -> None:
        value = value.strip()
        setattr(section, slot, value.lower() if lower else value)

    return read


def _direction(direction: str) -> Callable[[SectionState, str, DefectLog], None]:
    """A reader for the property attribute `a=<direction>`."""

    def read(section: SectionState, value: str, reader: DefectLog) -> None:
        section.direction = direction

    return read


# a= attributes read into fields (names compared in lower case); the others are only kept in `attributes`
ATTRIBUTE_READERS: dict[str, Callable[[SectionState, str, DefectLog], None]] = {
    "rtpmap": _rtpmap,
    "fmtp": _fmtp,
    "ptime": _ptime,
    "maxptime": _maxptime,
    "rtcp": _rtcp,
    "rtcp-mux": _rtcp_mux,
    "crypto": _crypto,
    "fingerprint": _fingerprint,
    "setup": _text("setup", lower=True),
    "ice-ufrag": _text("ice_ufrag"),
    "ice-pwd": _text("ice_pwd"),
    "mid": _text("mid"),
    "candidate": _candidate,
} | {direction: _direction(direction) for direction in DIRECTIONS}


def _parse_candidate(value: str) -> IceCandidate | None:
    parts = value.split()
    if len(parts) < 8 or parts[6].lower() != "typ":
        return None
    component, priority, port = read_int(parts[1]), read_int(parts[3]), read_int(parts[5])
    if component is None or priority is None or port is None:
        return None
    extras = parts[8:]
    pairs = tuple(zip(extras[0::2], extras[1::2]))
    found = dict(pairs)
    related_port = read_int(found.get("rport", "")) if "rport" in found else None
    rest = tuple((k, v) for k, v in pairs if k not in ("raddr", "rport"))
    return IceCandidate(
        parts[0], component, parts[2].upper(), priority, parts[4], port, parts[7].lower(), found.get("raddr"),
        related_port, rest,
    )  # fmt: skip
