"""Structured SIP header values, parsed on demand (RFC 3261 §20 and the extensions named per function).

Each `parse_*` takes one header value (one element of a comma list where the header is a list, as
`Headers.get_all` returns them) and gives a frozen value, or None when the value does not follow its grammar.
Numbers outside their legal range count as not following it (RFC 4475 §3.1.2.4/§3.1.2.5): the raw text stays
available in `SipMessage.headers`, and `sipvalidate` reports the defect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple

from sipdiag.parsers.anomalytexts import detail, joined
from sipdiag.parsers.sipuri import (
    CLEAN_VIA_HEAD,
    TOKEN_RE,
    NameAddr,
    Params,
    Problem,
    bounded_int,
    get_param,
    scan_hostport,
    scan_name_addr,
    scan_params,
    split_outside_quotes,
    unquote,
)

MAX_DELTA_SECONDS = 2**32 - 1  # delta-seconds, CSeq: 32-bit unsigned (RFC 3261 §8.1.1.5, §20.19)
MAX_FORWARDS_LIMIT = 255  # RFC 3261 §20.22 / RFC 4475 §3.1.2.4
MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7

_VIA_RE = re.compile(r"\s*([^\s/;]+)\s*/\s*([^\s/;]+)\s*/\s*([^\s/;]+)\s*(.*)\Z", re.S)
_AUTH_SCHEME_RE = re.compile(r"\s*([^\s,=]+)\s*(.*)\Z", re.S)
_WARNING_RE = re.compile(r'\s*(\d{3})\s+(\S+)\s+("(?:[^"\\]|\\.)*")\s*\Z', re.S)
_DATE_RE = re.compile(
    r"\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
    r"(\d{2}):(\d{2}):(\d{2}) GMT\s*\Z"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def is_rfc3261_branch(branch: str | None) -> bool:
    """True when a Via branch carries the RFC 3261 magic cookie and more (§8.1.1.7); `z9hG4bK` alone or no
    branch means an RFC 2543 peer whose transactions are matched the old way (RFC 4475 §3.2.1, §3.4.1).
    """
    return branch is not None and branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE)


def parse_delta_seconds(value: str | None) -> int | None:
    """`delta-seconds` (Expires, Min-Expires, Min-SE, Retry-After, expires=): 0..2**32-1, else None."""
    if value is None:
        return None
    return bounded_int(value.strip(), MAX_DELTA_SECONDS)


def parse_max_forwards(value: str | None) -> int | None:
    """Max-Forwards: 0..255 (RFC 3261 §20.22; leading zeros allowed, RFC 4475 §3.1.1.1), else None."""
    number = parse_delta_seconds(value)
    return number if number is not None and number <= MAX_FORWARDS_LIMIT else None


def retry_after_head(value: str) -> str:
    """The delta-seconds part of a Retry-After as written, before its comment and parameters (RFC 3261 §20.33:
    `delta-seconds [comment] *(;retry-param)`), stripped."""
    return value.split(";", 1)[0].split("(", 1)[0].strip()


def parse_retry_after(value: str) -> int | None:
    """Retry-After seconds (RFC 3261 §20.33), else None."""
    return parse_delta_seconds(retry_after_head(value))


class CSeq(NamedTuple):
    """CSeq (RFC 3261 §20.16): sequence number and method. A NamedTuple because it *is* the pair that keys
    transactions with the branch (`msg.cseq == (1, "INVITE")`).
    """

    number: int  # 0..2**32-1
    method: str


def parse_cseq(value: str | None) -> CSeq | None:
    """`CSeq: 4711 INVITE` -> CSeq(4711, "INVITE"); None when malformed or the number exceeds 2**32-1."""
    if value is None:
        return None
    parts = value.split()
    if len(parts) != 2 or not TOKEN_RE.match(parts[1]):
        return None
    number = parse_delta_seconds(parts[0])
    return None if number is None else CSeq(number, parts[1])


@dataclass(frozen=True, slots=True)
class Via:
    """One Via header value (RFC 3261 §20.42), with RFC 3581 rport and RFC 5118 IPv6 forms."""

    protocol: str  # "SIP/2.0" (LWS around the slashes removed)
    transport: str  # upper-case: UDP, TCP, TLS, SCTP, WS, WSS, or any other token
    host: str  # sent-by host; IPv6 without []
    port: int | None  # sent-by port, None when absent (default 5060/5061)
    params: Params = ()

    def param(self, name: str) -> str | None:
        """Via parameter `name` (lower-case): value, "" when present without value, None when absent."""
        return get_param(self.params, name)

    @property
    def branch(self) -> str | None:
        """Transaction id (RFC 3261 §8.1.1.7)."""
        return get_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        """Source address the next hop saw (§18.2.1); the optional [] of RFC 5118 §4.5 removed."""
        received = get_param(self.params, "received")
        if received and received.startswith("[") and received.endswith("]"):
            return received[1:-1]
        return received

    @property
    def rport(self) -> bool | int | None:
        """RFC 3581: None when absent, True when requested without value, the port number when filled in."""
        rport = get_param(self.params, "rport")
        if rport is None:
            return None
        port = bounded_int(rport, 65535)
        return True if port is None else port

    @property
    def maddr(self) -> str | None:
        """Multicast/override address the response goes to (RFC 3261 §18.2.2)."""
        return get_param(self.params, "maddr")


def scan_via(value: str, what: str = "Via") -> tuple[Via | None, list[Problem]]:
    """Parse one Via value and list its defects; see `parse_via`."""
    m = _VIA_RE.match(value)
    if not m:
        return None, [("sip.bad-via", detail("sip.bad-via:form", what=what, value=value.strip()[:60]))]
    name, version, transport, rest = m.groups()
    sent_by, semi, params_text = rest.partition(";")
    problems: list[Problem] = []
    sent_by = sent_by.strip()
    if not sent_by:
        return None, [("sip.bad-via", detail("sip.bad-via:no-sent-by", what=what, value=value.strip()[:60]))]
    host_problems: list[Problem] = []
    host, port = scan_hostport(sent_by, host_problems, what)
    problems.extend(("sip.bad-via" if code == "sip.bad-uri" else code, text) for code, text in host_problems)
    params, param_problems = scan_params(semi + params_text)
    problems.extend(("sip.bad-via", joined(what, d)) for d in param_problems)
    via = Via(f"{name}/{version}".upper(), transport.upper(), host or "", port, params)
    return via, problems


_CLEAN_VIA_RE = re.compile(CLEAN_VIA_HEAD)
_VIA_RECEIVED_RE = re.compile(r";[ \t]*received[ \t]*=[ \t]*([^;\s]*)", re.I)
_VIA_RPORT_RE = re.compile(r";[ \t]*rport[ \t]*=[ \t]*([^;\s]*)", re.I)
_IPV4_RE = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\Z")


def is_clean_via(value: str) -> bool:
    """True when a Via value is certainly well-formed (SIP/2.0, hostname or IPv4 sent-by, token parameters,
    IPv4 `received`, numeric `rport`); False means "scan it" with `scan_via`.
    """
    if _CLEAN_VIA_RE.match(value) is None or '=""' in value:  # branch="" is a defect scan_via reports
        return False
    received = _VIA_RECEIVED_RE.search(value)
    if received is not None and _IPV4_RE.match(received.group(1)) is None:
        return False
    rport = _VIA_RPORT_RE.search(value)
    return rport is None or bounded_int(rport.group(1), 65535) is not None


def parse_via(value: str) -> Via | None:
    """Parse one Via value: `SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bK74;rport;received=192.0.2.1`.

    LWS around the slashes and `=` is allowed (RFC 4475 §3.1.1.1). None when the value has no
    `protocol/version/transport sent-by` head.
    """
    return scan_via(value)[0]


@dataclass(frozen=True, slots=True)
class Contact:
    """One Contact value (RFC 3261 §20.10) with the registration (RFC 3261 §10) and outbound (RFC 5626) fields."""

    star: bool  # the `*` of a REGISTER removing all bindings
    address: NameAddr | None  # None for `*`
    expires: int | None  # expires= parameter (0..2**32-1), None when absent or out of range
    q: float | None  # q= preference 0..1
    sip_instance: str | None  # +sip.instance, unquoted: "<urn:uuid:...>" (RFC 5626 §4.1)
    reg_id: int | None  # reg-id (RFC 5626 §4.2)
    ob: bool  # `ob` URI parameter: the registrar supports outbound (RFC 5626 §5.4)


def parse_contact(value: str) -> Contact | None:
    """Parse one Contact value, e.g. `<sip:alice@192.0.2.4;ob>;expires=3600;+sip.instance="<urn:uuid:..>";reg-id=1`."""
    if value.strip() == "*":
        return Contact(True, None, None, None, None, None, False)
    address = scan_name_addr(value, "Contact")[0]
    if address is None:
        return None
    q_text = address.param("q")
    try:
        q = float(q_text) if q_text else None
    except ValueError:
        q = None
    if q is not None and not 0 <= q <= 1:  # a qvalue is 0 to 1 (RFC 3261 §20.10, §25.1); also nan, inf
        q = None
    reg_id = address.param("reg-id")
    ob = address.uri is not None and address.uri.param("ob") is not None
    return Contact(
        False,
        address,
        parse_delta_seconds(address.param("expires")),
        q if q is not None and 0.0 <= q <= 1.0 else None,
        address.param("+sip.instance"),
        bounded_int(reg_id, MAX_DELTA_SECONDS) if reg_id else None,
        ob,
    )


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """WWW-Authenticate / Proxy-Authenticate (RFC 3261 §20.44, §22; RFC 2617/7616 parameters)."""

    scheme: str  # "Digest" as written; other schemes keep only `params`
    realm: str | None
    nonce: str | None
    opaque: str | None
    algorithm: str | None  # MD5 when absent (RFC 2617 §3.2.1)
    qop: tuple[str, ...]  # offered quality of protection: ("auth",), ("auth", "auth-int"), or ()
    stale: bool | None  # stale=TRUE: retry with the new nonce, the password was right
    domain: str | None
    params: Params = ()  # every auth-param, names lower-case, values unquoted


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """Authorization / Proxy-Authorization (RFC 3261 §20.7, §22; RFC 2617/7616 parameters)."""

    scheme: str
    username: str | None
    realm: str | None
    nonce: str | None
    uri: str | None
    response: str | None
    algorithm: str | None
    qop: str | None  # the chosen qop
    nc: str | None  # nonce count, 8 hex digits
    cnonce: str | None
    opaque: str | None
    params: Params = ()


def _auth_params(text: str) -> Params:
    """`name=value, name="quoted, value"` (RFC 3261 §25.1 auth-param), names lower-case, values unquoted."""
    params = []
    for piece in split_outside_quotes(text, ","):
        name, equals, value = piece.partition("=")
        name = name.strip()
        if equals and name:
            params.append((name.lower(), unquote(value.strip())))
    return tuple(params)


def parse_digest(value: str, *, credentials: bool | None = None) -> DigestChallenge | DigestCredentials | None:
    """Parse a challenge (WWW-/Proxy-Authenticate) or credentials (Authorization/Proxy-Authorization).

    :param credentials: True for Authorization headers, False for challenges; None decides by content
        (a `username` or `response` parameter means credentials).
    Returns None for an empty value; unknown schemes give their scheme and `params` only (RFC 4475 §3.3.7).
    """
    m = _AUTH_SCHEME_RE.match(value)
    if not m or not m.group(1):
        return None
    scheme = m.group(1)
    params = _auth_params(m.group(2))
    if credentials is None:
        credentials = any(name in ("username", "response") for name, _ in params)
    get = dict(reversed(params)).get  # first occurrence wins
    if credentials:
        return DigestCredentials(
            scheme,
            get("username"),
            get("realm"),
            get("nonce"),
            get("uri"),
            get("response"),
            get("algorithm"),
            get("qop"),
            get("nc"),
            get("cnonce"),
            get("opaque"),
            params,
        )
    stale = get("stale")
    qop = get("qop")
    return DigestChallenge(
        scheme,
        get("realm"),
        get("nonce"),
        get("opaque"),
        get("algorithm"),
        tuple(q.strip() for q in qop.split(",") if q.strip()) if qop else (),
        None if stale is None else stale.lower() == "true",
        get("domain"),
        params,
    )


@dataclass(frozen=True, slots=True)
class SessionExpires:
    """Session-Expires (RFC 4028 §4): session interval and who refreshes."""

    delta_s: int
    refresher: str | None  # "uac", "uas", or None when not chosen yet
    params: Params = ()


def parse_session_expires(value: str) -> SessionExpires | None:
    """`Session-Expires: 1800;refresher=uac` -> SessionExpires(1800, "uac"); None when malformed."""
    head, semi, rest = value.partition(";")
    delta = parse_delta_seconds(head)
    if delta is None:
        return None
    params, _ = scan_params(semi + rest)
    refresher = get_param(params, "refresher")
    return SessionExpires(delta, refresher.lower() if refresher else None, params)


def parse_min_se(value: str) -> int | None:
    """Min-SE seconds (RFC 4028 §5), parameters ignored; None when malformed."""
    return parse_delta_seconds(value.split(";", 1)[0])


@dataclass(frozen=True, slots=True)
class Reason:
    """One Reason value (RFC 3326): `Q.850;cause=16;text="Normal call clearing"` or `SIP;cause=200`."""

    protocol: str  # "SIP", "Q.850", ... as written
    cause: int | None
    text: str | None
    params: Params = ()


def parse_reason(value: str) -> Reason | None:
    """Parse one Reason value; None when there is no protocol token."""
    protocol, semi, rest = value.partition(";")
    protocol = protocol.strip()
    if not TOKEN_RE.match(protocol):
        return None
    params, _ = scan_params(semi + rest)
    cause = get_param(params, "cause")
    return Reason(
        protocol,
        bounded_int(cause, MAX_DELTA_SECONDS) if cause else None,
        get_param(params, "text"),
        params,
    )


@dataclass(frozen=True, slots=True)
class SipWarning:
    """One Warning value (RFC 3261 §20.43): `399 proxy.example.com "Unknown codec"`."""

    code: int  # 3 digits, 3xx defined by RFC 3261 §20.43
    agent: str  # host[:port] or pseudonym
    text: str  # unquoted


def parse_warning(value: str) -> SipWarning | None:
    """Parse one Warning value; None unless it is `3DIGIT SP agent SP quoted-string`."""
    m = _WARNING_RE.match(value)
    if not m:
        return None
    return SipWarning(int(m.group(1)), m.group(2), unquote(m.group(3)))


def parse_sip_date(value: str) -> datetime | None:
    """Date header (RFC 3261 §20.17: RFC 1123 form, always GMT) as an aware UTC datetime, else None."""
    m = _DATE_RE.match(value)
    if not m:
        return None
    _wkday, day, month, year, hour, minute, second = m.groups()
    try:
        return datetime(
            int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second), tzinfo=timezone.utc
        )
    except ValueError:
        return None
