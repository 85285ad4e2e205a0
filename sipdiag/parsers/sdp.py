"""SDP parser (RFC 8866, which obsoletes RFC 4566) with the attributes VoIP diagnosis reads.

Covered: origin, session- and media-level connection (media level overrides, §5.7), media lines and formats,
rtpmap/fmtp (§6.6, §6.15), ptime/maxptime (§6.4, §6.5), direction (§6.7; media level overrides session level,
sendrecv by default), rtcp (RFC 3605) and rtcp-mux (RFC 5761), SDES crypto (RFC 4568), DTLS fingerprint and
setup (RFC 8122, RFC 4145), ICE candidates and credentials (RFC 8839), BUNDLE groups (RFC 5888).

Defects become `sdp.*` anomalies on the session, never exceptions (STYLE.md G3). Static payload types are
resolved with RFC 3551 tables 4 and 5.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipdiag.model import Anomaly
from sipdiag.parsers.anomalytexts import detail
from sipdiag.parsers.sdpattributes import (
    ATTRIBUTE_READERS,
    DIRECTIONS,
    DefectLog,
    IceCandidate,
    RtpMap,
    SdpConnection,
    SdpCrypto,
    SdpFingerprint,
    SdpRtcp,
    SectionState,
    payload_type,
    read_int,
)
from sipdiag.quickbuild import quick_builder

__all__ = [
    "DEFAULT_DIRECTION", "DIRECTIONS", "HOLD_ADDRESS", "STATIC_PAYLOAD_TYPES", "IceCandidate", "RtpMap",
    "SdpConnection", "SdpCrypto", "SdpFingerprint", "SdpMedia", "SdpOrigin", "SdpRtcp", "SdpSession",
    "codec_names", "effective_address", "is_hold", "parse_sdp", "payload_type", "rtpmap_for",
]  # fmt: skip

#: RFC 3551 tables 4 and 5. G722 is 8000 on the RTP clock although it samples at 16 kHz (RFC 3551 §4.5.2).
STATIC_PAYLOAD_TYPES: dict[int, RtpMap] = {
    0: RtpMap("PCMU", 8000, 1),
    3: RtpMap("GSM", 8000, 1),
    4: RtpMap("G723", 8000, 1),
    5: RtpMap("DVI4", 8000, 1),
    6: RtpMap("DVI4", 16000, 1),
    7: RtpMap("LPC", 8000, 1),
    8: RtpMap("PCMA", 8000, 1),
    9: RtpMap("G722", 8000, 1),
    10: RtpMap("L16", 44100, 2),
    11: RtpMap("L16", 44100, 1),
    12: RtpMap("QCELP", 8000, 1),
    13: RtpMap("CN", 8000, 1),
    14: RtpMap("MPA", 90000),
    15: RtpMap("G728", 8000, 1),
    16: RtpMap("DVI4", 11025, 1),
    17: RtpMap("DVI4", 22050, 1),
    18: RtpMap("G729", 8000, 1),
    25: RtpMap("CelB", 90000),
    26: RtpMap("JPEG", 90000),
    28: RtpMap("nv", 90000),
    31: RtpMap("H261", 90000),
    32: RtpMap("MPV", 90000),
    33: RtpMap("MP2T", 90000),
    34: RtpMap("H263", 90000),
}

DEFAULT_DIRECTION = "sendrecv"
HOLD_ADDRESS = "0.0.0.0"  # RFC 2543-style hold (RFC 3264 §8.4)


@dataclass(frozen=True, slots=True)
class SdpOrigin:
    """`o=` (RFC 8866 §5.2)."""

    username: str
    sess_id: str  # numeric string, compared as text
    sess_version: int | None  # increases with each new offer (RFC 3264 §8); None when not a number
    nettype: str
    addrtype: str  # IP4 or IP6
    address: str


@dataclass(frozen=True, slots=True)
class SdpMedia:
    """One `m=` section with the session-level values it inherits already applied."""

    media: str  # audio, video, image, application, text, message
    port: int  # 0: stream rejected or disabled (RFC 3264 §6)
    port_count: int  # m=audio 49170/2 -> 2 (RFC 8866 §5.14)
    proto: str  # RTP/AVP, RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF, udptl, ...
    formats: tuple[str, ...]  # payload type numbers for RTP, format names otherwise (t38)
    connection: SdpConnection | None  # media-level c=, else the session's (RFC 8866 §5.7)
    direction: str  # media-level attribute, else session-level, else sendrecv (RFC 8866 §6.7)
    rtpmap: tuple[tuple[int, RtpMap], ...] = ()  # dict-like: dict(media.rtpmap)[96]
    fmtp: tuple[tuple[int, str], ...] = ()
    ptime_ms: int | None = None
    maxptime_ms: int | None = None
    rtcp: SdpRtcp | None = None
    rtcp_mux: bool = False
    crypto: tuple[SdpCrypto, ...] = ()
    fingerprint: SdpFingerprint | None = None  # media level, else session level
    setup: str | None = None  # DTLS role: actpass, active, passive (RFC 4145 §4)
    candidates: tuple[IceCandidate, ...] = ()
    ice_ufrag: str | None = None  # media level, else session level
    ice_pwd: str | None = None
    mid: str | None = None
    bandwidths: tuple[tuple[str, int], ...] = ()  # (bwtype, kbit/s or bit/s for TIAS)
    attributes: tuple[tuple[str, str], ...] = ()  # every a= line of the section; "" for property attributes


@dataclass(frozen=True, slots=True)
class SdpSession:
    """A parsed session description."""

    version: int | None
    origin: SdpOrigin | None
    session_name: str | None
    connection: SdpConnection | None  # session-level c=
    direction: str | None  # session-level direction attribute, None when absent
    media: tuple[SdpMedia, ...] = ()
    times: tuple[tuple[int, int], ...] = ()  # t= start/stop (NTP seconds; 0 0 = unbounded)
    bandwidths: tuple[tuple[str, int], ...] = ()
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a=group:BUNDLE 0 1
    ice_lite: bool = False
    attributes: tuple[tuple[str, str], ...] = ()  # session-level a= lines
    anomalies: tuple[Anomaly, ...] = ()


# Every SDP body of a capture makes these (sipdiag.quickbuild).
_build_media = quick_builder(SdpMedia)
_build_session = quick_builder(SdpSession)


def _parse_connection(value: str, reader: DefectLog) -> SdpConnection | None:
    parts = value.split()
    if len(parts) != 3:
        reader.defect("sdp.bad-connection:form", value=value)
        return None
    nettype, addrtype, address = parts
    ttl = count = None
    if "/" in address:
        address, *suffix = address.split("/")
        numbers = [read_int(s) for s in suffix]
        if None in numbers or len(numbers) > 2:
            reader.defect("sdp.bad-connection:suffix", value=value)
        elif addrtype.upper() == "IP4":
            ttl, count = numbers[0], (numbers[1] if len(numbers) > 1 else None)
        else:
            count = numbers[0]
    return SdpConnection(nettype, addrtype, address, ttl, count)


def _parse_media_line(value: str, reader: DefectLog) -> tuple[str, int, int, str, tuple[str, ...]] | None:
    parts = value.split()
    port_text = parts[1] if len(parts) > 1 else ""
    port_part, _slash, count_part = port_text.partition("/")
    port, count = read_int(port_part), (read_int(count_part) if count_part else 1)
    if len(parts) < 3 or port is None or count is None or port > 65535:
        reader.defect("sdp.bad-media:form", value=value)
        return None
    if len(parts) == 3:
        reader.defect("sdp.bad-media:no-formats", value=value)
    elif "RTP/" in parts[2].upper():
        bad = [f for f in parts[3:] if payload_type(f) is None]  # under an RTP profile each is one
        if bad:
            reader.defect("sdp.bad-media:payload-type", value=value, formats=", ".join(bad[:3]))
    return parts[0], port, count, parts[2], tuple(parts[3:])


def _finish_media(section: SectionState, session: SectionState) -> SdpMedia:
    media, port, count, proto, formats = section.media_line or ("", 0, 1, "", ())
    return _build_media(  # positional: this runs for every m= line
        media,
        port,
        count,
        proto,
        formats,
        section.connection or session.connection,
        section.direction or session.direction or DEFAULT_DIRECTION,
        tuple(section.rtpmap),
        tuple(section.fmtp),
        section.ptime_ms,
        section.maxptime_ms,
        section.rtcp,
        section.rtcp_mux,
        tuple(section.crypto),
        section.fingerprint or session.fingerprint,
        section.setup or session.setup,
        tuple(section.candidates),
        section.ice_ufrag or session.ice_ufrag,
        section.ice_pwd or session.ice_pwd,
        section.mid,
        tuple(section.bandwidths),
        tuple(section.attributes),
    )


def parse_sdp(body: bytes | str, *, frame: int | None = None) -> SdpSession:
    """Parse a session description; defects become `sdp.*` anomalies (recorded with `frame`).

    :param body: the SDP text (a SIP body or body part); CRLF or LF line ends.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    reader = DefectLog(frame)
    session = SectionState()
    sections: list[SectionState] = []
    current = session
    version: int | None = None
    origin: SdpOrigin | None = None
    session_name: str | None = None
    times: list[tuple[int, int]] = []
    groups: list[tuple[str, tuple[str, ...]]] = []
    ice_lite = False
    seen: set[str] = set()
    lines = (text.replace("\r\n", "\n") if "\r" in text else text).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    attributes = ATTRIBUTE_READERS
    for number, line in enumerate(lines, 1):
        kind = line[:1]
        if line[1:2] != "=" or not kind.isalpha():
            reader.defect("sdp.bad-line:form", number=number, line=line[:60])
            continue
        value = line[2:]
        if kind == "a":
            name, _colon, attr_value = value.partition(":")
            current.attributes.append((name, attr_value))
            handler = attributes.get(name) or attributes.get(name.lower())
            if handler is not None:
                handler(current, attr_value, reader)
            elif current is session:
                if name == "group":
                    semantics, *ids = attr_value.split()
                    groups.append((semantics, tuple(ids)))
                elif name == "ice-lite":
                    ice_lite = True
        elif kind == "m":
            current = SectionState(media_line=_parse_media_line(value, reader))
            sections.append(current)
        elif kind == "c":
            connection = _parse_connection(value, reader)
            if current.connection is None:
                current.connection = connection
        elif kind == "b":
            bwtype, _colon, amount_text = value.partition(":")
            amount = read_int(amount_text.strip())
            if amount is None:
                reader.defect("sdp.bad-line:bandwidth", value=value)
            else:
                current.bandwidths.append((bwtype, amount))
        elif kind == "v":
            seen.add(kind)
            version = read_int(value.strip())
            if version != 0:
                reader.defect("sdp.bad-version", value=value)
        elif kind == "o":
            seen.add(kind)
            parts = value.split()
            if len(parts) != 6:
                reader.defect("sdp.bad-origin", value=value)
            else:
                origin = SdpOrigin(parts[0], parts[1], read_int(parts[2]), parts[3], parts[4], parts[5])
        elif kind == "s":
            seen.add(kind)
            session_name = value
        elif kind == "t":
            seen.add(kind)
            parts = value.split()
            start, stop = (read_int(parts[0]), read_int(parts[1])) if len(parts) == 2 else (None, None)
            if start is None or stop is None:
                reader.defect("sdp.bad-line:timing", value=value)
            else:
                times.append((start, stop))
    for kind in "vost":
        if kind not in seen:
            reader.defect("sdp.missing-line", line=detail(f"line:{kind}"))
    media = tuple(_finish_media(section, session) for section in sections if section.media_line is not None)
    for index, item in enumerate(media, 1):
        if item.connection is None and item.port != 0:
            reader.defect("sdp.missing-connection", index=index, media=item.media)
    return _build_session(
        version=version,
        origin=origin,
        session_name=session_name,
        connection=session.connection,
        direction=session.direction,
        media=media,
        times=tuple(times),
        bandwidths=tuple(session.bandwidths),
        groups=tuple(groups),
        ice_lite=ice_lite,
        attributes=tuple(session.attributes),
        anomalies=tuple(reader.anomalies),
    )


def effective_address(media: SdpMedia) -> str | None:
    """Where the peer wants this stream sent: the media-level c= address, else the session-level one."""
    return media.connection.address if media.connection is not None else None


def is_hold(media: SdpMedia) -> bool:
    """True when the stream is put on hold: sendonly/inactive (RFC 3264 §8.4), or c=0.0.0.0 the RFC 2543 way.

    With ICE (candidates or ice-ufrag present) 0.0.0.0 is only the placeholder of a trickle-ICE offer
    (RFC 8840 §4.1.1), not hold.
    """
    if media.direction in ("sendonly", "inactive"):
        return True
    return effective_address(media) == HOLD_ADDRESS and not (media.candidates or media.ice_ufrag)


def rtpmap_for(media: SdpMedia, payload_type: int) -> RtpMap | None:
    """The encoding of a payload type: the section's a=rtpmap, else the RFC 3551 static assignment."""
    for pt, rtpmap in media.rtpmap:
        if pt == payload_type:
            return rtpmap
    return STATIC_PAYLOAD_TYPES.get(payload_type)


def codec_names(media: SdpMedia) -> list[str]:
    """Encoding names in the order of the m= line (`["PCMA", "telephone-event"]`); a format that cannot be
    resolved (dynamic type without rtpmap, non-RTP format such as `t38`) is given as written.
    """
    names = []
    for fmt in media.formats:
        pt = payload_type(fmt)
        rtpmap = rtpmap_for(media, pt) if pt is not None else None
        names.append(rtpmap.encoding if rtpmap is not None else fmt)
    return names
