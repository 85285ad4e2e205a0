"""SIP message parser: start line, headers, body framing (RFC 3261 §7, §18.3; RFC 4475 and RFC 5118 torture sets).

`parse_sip` is on the rich path of every capture (ARCHITECTURE.md "Two speeds"), so its eager part is lean:
start line, header split with compact forms expanded and folding undone, Content-Length framing, body slice,
and the defects met on the way (missing or repeated mandatory headers, CSeq). Header values are kept as text;
their structure (URIs, Via, digest, Contact, SDP) is parsed on demand by `sipuri`, `sipheaders` and `sdp`, and
`sipvalidate.validate_sip` (or `parse_sip(..., validate=True)`) checks their grammar.

Parsing never aborts on bad traffic (STYLE.md G3): defects become `sip.*` anomalies on the message. Among them
the one header-value check that stays eager, as the call's and transaction's identity rests on those values:
`sip.control-in-identifier`, a control character in the Call-ID, a From/To tag or the top Via branch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from sipdiag.model import Anomaly, Datagram
from sipdiag.parsers.anomalytexts import Detail, anomaly, anomaly_with, detail
from sipdiag.parsers.sipheaders import MAX_DELTA_SECONDS, CSeq, parse_cseq
from sipdiag.parsers.sipnames import (
    COMPACT_FORMS,
    KNOWN_SPELLINGS,
    LIST_HEADERS,
    SINGLE_VALUE_HEADERS,
    canonical_header_name,
    header_display_name,
)
from sipdiag.parsers.sipuri import TOKEN_RE, bounded_int, split_list
from sipdiag.quickbuild import quick_builder

#: Transports that are byte streams: there Content-Length is the only framing (RFC 3261 §18.3).
STREAM_TRANSPORTS = frozenset({"tcp", "tls"})

_REQUIRED_IN_REQUEST = ("via", "from", "to", "call-id", "cseq", "max-forwards")  # RFC 3261 §8.1.1
_REQUIRED_IN_RESPONSE = ("via", "from", "to", "call-id", "cseq")  # RFC 3261 §8.2.6.2

# The line break of LWS with one (RFC 3261 §7.3.1, §25.1: LWS = [*WSP CRLF] 1*WSP): see _unfold.
_FOLD_RE = re.compile(r"\r?\n[ \t]+")
_HEADER_START = re.compile(r"[!%'*+\-.0-9A-Z_`a-z~]+[ \t]*:")  # field-name (a token, §25.1) HCOLON
_VERSION_RE = re.compile(r"SIP/\d+\.\d+\Z", re.I)
_SCHEME_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_TAG_RE = re.compile(r";[ \t]*tag[ \t]*=[ \t]*([^;,\s>]+)", re.I)
_BRANCH_RE = re.compile(r";[ \t]*branch[ \t]*=[ \t]*([^;,\s]+)", re.I)
_STREAM_CL_RE = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\S*)")
# Control characters (CTL, RFC 5234 B.1) but the HTAB, CR and LF of line framing and LWS. A tag and a branch are a
# token, a Call-ID is word [ "@" word ] (RFC 3261 §25.1): none of them may hold one (see _identifier_controls).
_CTL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A tag's or branch's value up to the next delimiter of the grammar (";", ",", ">", LWS): unlike _TAG_RE's \s,
# which also stops at U+001C-U+001F, it reaches every control character of a mangled value.
_TAG_VALUE_RE = re.compile(r";[ \t]*tag[ \t]*=[ \t]*([^;,> \t\r\n]*)", re.I)
_BRANCH_VALUE_RE = re.compile(r";[ \t]*branch[ \t]*=[ \t]*([^;,> \t\r\n]*)", re.I)
_JUNK_SCAN_LIMIT = 1024  # how far a start line is looked for behind junk


@dataclass(frozen=True, slots=True)
class Headers:
    """The header section of a SIP message (STYLE.md G6).

    items: (canonical lower-case name, value) in wire order; values are unfolded and stripped, one entry per
    header line as received (a line carrying `Via: a, b` stays one entry; `get_all` splits it).
    """

    items: tuple[tuple[str, str], ...]
    _first: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_first", dict(reversed(self.items)))  # first occurrence of each name wins

    def get(self, name: str) -> str | None:
        """The first value of header `name` (any case, compact form accepted), or None.

        For comma-list headers (LIST_HEADERS) this is the first list element: `get("via")` is the top Via.
        """
        # Callers mostly pass the canonical name already: one dict probe before normalising (hot path).
        value = self._first.get(name)
        key = name
        if value is None:
            key = canonical_header_name(name)
            value = self._first.get(key)
        if value is not None and "," in value and key in LIST_HEADERS:
            values = split_list(value)
            return values[0] if values else ""
        return value

    @property
    def first_values(self) -> dict[str, str]:
        """First value of each header by canonical lower-case name, as received (comma lists not split): for
        callers that probe many canonical names at once. Read-only by convention."""
        return self._first

    def get_all(self, name: str) -> list[str]:
        """Every value of header `name` in wire order, always a list; comma lists split where the grammar
        allows (never inside quotes or `<>`), empty elements dropped.
        """
        key = canonical_header_name(name)
        if key in LIST_HEADERS:
            values: list[str] = []
            for item_name, value in self.items:
                if item_name == key:
                    values.extend(split_list(value))
            return values
        return [value for item_name, value in self.items if item_name == key]

    def count(self, name: str) -> int:
        """How many header lines named `name` there are (not split)."""
        key = canonical_header_name(name)
        return sum(1 for item_name, _ in self.items if item_name == key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_header_name(name) in self._first


@dataclass(frozen=True, slots=True)
class SipMessage:
    """One SIP request or response (ARCHITECTURE.md "Model").

    raw is the payload the message was read from (not copied); the message itself is `raw[:raw_len]` minus any
    leading CRLF keep-alive or junk (see the `sip.junk-before-message` anomaly).
    """

    is_request: bool
    method: str | None  # request method as written (methods are case-sensitive); None for responses
    request_uri: str | None  # as written; None for responses
    status_code: int | None  # responses: 100..699; None for requests and for an unreadable code
    reason: str | None  # reason phrase (UTF-8), "" when empty; None for requests
    version: str  # "SIP/2.0" (upper-case); "" when a request line lacks it
    headers: Headers
    body: bytes  # framed by Content-Length when present (RFC 3261 §18.3)
    frame: int = 0  # 1-based frame number (the frame that completed the message)
    ts_ns: int = 0
    src_ip: str = ""
    src_port: int = 0
    dst_ip: str = ""
    dst_port: int = 0
    transport: str = "udp"  # udp, tcp, tls, ws, wss, sctp
    anomalies: tuple[Anomaly, ...] = ()
    raw_len: int = 0  # octets of `raw` consumed: leading CRLFs/junk, start line, headers, body
    raw: bytes = b""
    # From the packet that carried it (model.Datagram): the IP header's DSCP (None when not known: TCP, HEP), and
    # the frames of the IP fragments a UDP datagram was reassembled from (() when one packet carried it).
    dscp: int | None = None
    fragments: tuple[int, ...] = ()
    # The identifiers correlation reads several times per message (CSeq, tags, branch), computed once on first
    # use; False until then (never a value of theirs). A cache, not state: it never changes what a property
    # returns. Four slots rather than a dict: 32 octets a message instead of about 230 (a capture's messages are
    # all kept), and a read is one attribute load.
    _cseq: CSeq | None | bool = field(default=False, init=False, repr=False, compare=False)
    _from_tag: str | None | bool = field(default=False, init=False, repr=False, compare=False)
    _to_tag: str | None | bool = field(default=False, init=False, repr=False, compare=False)
    _branch: str | None | bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def call_id(self) -> str | None:
        """Call-ID (RFC 3261 §20.8), None when missing."""
        return self.headers.get("call-id")

    @property
    def cseq(self) -> CSeq | None:
        """(number, method) from CSeq, a NamedTuple; None when missing or malformed (see `sip.bad-cseq`)."""
        value = self._cseq
        if value is False:
            value = parse_cseq(self.headers.get("cseq"))
            _set_cseq(self, value)
        return value  # type: ignore[return-value]

    @property
    def cseq_method(self) -> str | None:
        """The CSeq method, also when the number is unreadable; None when CSeq is missing or empty."""
        value = self.headers.get("cseq")
        parts = value.split() if value else ()
        return parts[1] if len(parts) >= 2 else None

    @property
    def from_tag(self) -> str | None:
        """The From tag (RFC 3261 §19.3), None when absent (RFC 2543 peers, RFC 4475 §3.4.1)."""
        value = self._from_tag
        if value is False:
            value = _header_tag(self.headers.get("from"))
            _set_from_tag(self, value)
        return value  # type: ignore[return-value]

    @property
    def to_tag(self) -> str | None:
        """The To tag: None in out-of-dialog requests and in responses from a UAS that set none."""
        value = self._to_tag
        if value is False:
            value = _header_tag(self.headers.get("to"))
            _set_to_tag(self, value)
        return value  # type: ignore[return-value]

    @property
    def branch(self) -> str | None:
        """The branch parameter of the top Via (RFC 3261 §8.1.1.7), None when absent."""
        value = self._branch
        if value is False:
            via = self.headers.get("via")
            m = _BRANCH_RE.search(via) if via else None
            value = m.group(1) if m else None
            _set_branch(self, value)
        return value  # type: ignore[return-value]

    @property
    def content_type(self) -> str | None:
        """The media type of the body, lower-case, without parameters: `application/sdp`, `multipart/mixed`."""
        value = self.headers.get("content-type")
        return None if value is None else value.split(";", 1)[0].strip().lower()

    @property
    def user_agent(self) -> str | None:
        """User-Agent, or Server for responses that carry it instead (RFC 3261 §20.41, §20.35)."""
        return self.headers.get("user-agent") or self.headers.get("server")


# The caches' stores: the slots' own descriptors, as SipMessage.__setattr__ refuses every store (frozen).
_set_cseq = SipMessage._cseq.__set__  # type: ignore[attr-defined]
_set_from_tag = SipMessage._from_tag.__set__  # type: ignore[attr-defined]
_set_to_tag = SipMessage._to_tag.__set__  # type: ignore[attr-defined]
_set_branch = SipMessage._branch.__set__  # type: ignore[attr-defined]
_build_headers = quick_builder(Headers)
_build_message = quick_builder(SipMessage)


def _headers(items: tuple[tuple[str, str], ...]) -> Headers:
    """`Headers(items)` without the frozen __init__ (sipdiag.quickbuild): its first-value map made as
    Headers.__post_init__ makes it."""
    return _build_headers(items, dict(reversed(items)))


def _header_tag(value: str | None) -> str | None:
    if value is None:
        return None
    # tag= sits after the URI: after '>' in name-addr form; in addr-spec form every ';' parameter is the header's
    m = _TAG_RE.search(value, value.rfind(">") + 1)
    return m.group(1) if m else None


# The start line: (is_request, method, request_uri, version, status_code, reason, problems)
_StartLine = tuple[bool, str | None, str | None, str, int | None, str | None, list[tuple[str, Detail]]]


def _check_version(version: str, problems: list[tuple[str, Detail]]) -> str:
    if version == "SIP/2.0":
        return version
    if not _VERSION_RE.match(version):
        problems.append(("sip.bad-version", detail("sip.bad-version", version=version)))
        return version
    version = version.upper()  # "The SIP-Version string is case-insensitive" (RFC 3261 §7.1)
    if version != "SIP/2.0":
        problems.append(("sip.unknown-protocol-version", detail("sip.unknown-protocol-version", version=version)))
    return version


def _parse_start_line(line: str) -> _StartLine | None:
    """Read a request or status line; None when the line is not SIP at all."""
    if line[:4].upper() == "SIP/":
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "SIP/2.0" and len(code := parts[1]) == 3 and "100" <= code <= "699":
            if code.isascii() and code.isdigit():
                return False, None, None, "SIP/2.0", int(code), parts[2], []
        return _parse_status_line(line)
    parts = line.split(" ")
    if len(parts) == 3 and parts[2] == "SIP/2.0" and parts[1] and TOKEN_RE.match(parts[0]):
        return True, parts[0], parts[1], "SIP/2.0", None, None, []
    return _parse_request_line(line)


def _parse_status_line(line: str) -> _StartLine:
    problems: list[tuple[str, Detail]] = []
    tokens = line.split(None, 2)
    version = _check_version(tokens[0], problems)
    code_text = tokens[1] if len(tokens) > 1 else ""
    reason = tokens[2] if len(tokens) > 2 else ""
    if line != f"{tokens[0]} {code_text} {reason}":
        problems.append(("sip.bad-start-line", detail("sip.bad-start-line:status", line=line[:80])))
    code: int | None = None
    if len(code_text) == 3 and code_text.isascii() and code_text.isdigit():
        code = int(code_text)
        if not 100 <= code <= 699:
            # quoted as received: "099", not 99
            problems.append(("sip.bad-status-code", detail("sip.bad-status-code:range", code=code_text)))
    else:
        problems.append(("sip.bad-status-code", detail("sip.bad-status-code:digits", code=code_text[:20])))
    return False, None, None, version, code, reason, problems


def _parse_request_line(line: str) -> _StartLine | None:
    tokens = line.split()
    if len(tokens) < 2 or not TOKEN_RE.match(tokens[0]):
        return None
    problems: list[tuple[str, Detail]] = []
    method, last = tokens[0], tokens[-1]
    if last[:4].upper() == "SIP/" and len(tokens) >= 3:
        stripped = line.strip()
        uri = stripped[len(method) : len(stripped) - len(last)].strip()
        version = _check_version(last, problems)
        if len(tokens) > 3:
            problems.append(("sip.bad-start-line", detail("sip.bad-start-line:uri-whitespace", uri=uri)))
        elif line != f"{method} {uri} {last}":
            problems.append(("sip.bad-start-line", detail("sip.bad-start-line:separators")))
        return True, method, uri, version, None, None, problems
    if len(tokens) == 2 and _SCHEME_PREFIX_RE.match(tokens[1]) and method.isupper():
        problems.append(("sip.bad-start-line", detail("sip.bad-start-line:no-version", line=line[:80])))
        return True, method, tokens[1], "", None, None, problems
    return None


def _find_start_line(payload: bytes, start: int) -> tuple[int, int, _StartLine] | None:
    """Look for a start line (with SIP-Version) behind junk: (line start, line end, parsed line) or None."""
    limit = min(len(payload), start + _JUNK_SCAN_LIMIT)
    if b"SIP/" not in payload[start:limit] and b"sip/" not in payload[start:limit]:
        return None
    pos = payload.find(b"\n", start) + 1
    while 0 < pos < limit:
        eol = payload.find(b"\n", pos)
        end = eol if eol >= 0 else len(payload)
        parsed = _parse_start_line(payload[pos:end].rstrip(b"\r").decode("utf-8", "replace"))
        if parsed is not None and parsed[3]:
            return pos, end, parsed
        pos = eol + 1
    return None


def parse_sip(
    payload: bytes,
    *,
    frame: int = 0,
    ts_ns: int = 0,
    src: tuple[str, int] | None = None,
    dst: tuple[str, int] | None = None,
    transport: str = "udp",
    validate: bool = False,
    dscp: int | None = None,
    fragments: tuple[int, ...] = (),
) -> SipMessage | None:
    """Parse one SIP message from a datagram or from a message cut out of a stream by `frame_sip_stream`.

    :param payload: the transport payload; leading CRLFs are skipped (RFC 3261 §7.5).
    :param frame: 1-based frame number recorded on the message and its anomalies.
    :param src: (ip, port) the payload came from; dst likewise.
    :param transport: `udp`, `tcp`, `tls`, `ws`, ...; over `tcp`/`tls` a missing Content-Length is a defect.
    :param validate: also check the grammar of header values (`sipvalidate.validate_sip`); slower.
    :param dscp, fragments: recorded on the message (the IP header's DSCP, the frames of its IP fragments).
    :returns: the message, or None when the payload does not start with a SIP request or status line.
    """
    anomalies: list[Anomaly] = []
    size = len(payload)
    start = 0
    if size and payload[0] in b"\r\n":
        start = size - len(payload.lstrip(b"\r\n"))
    eol = payload.find(b"\n", start)
    if eol < 0:
        eol = size
    first = payload[start:eol]
    if first[-1:] == b"\r":
        first = first[:-1]
    start_line = _parse_start_line(first.decode("utf-8", "replace"))
    if start_line is None:
        found = _find_start_line(payload, start)
        if found is None:
            return None
        junk, eol, start_line = found
        anomalies.append(anomaly("sip.junk-before-message", frame, size=junk - start))
    is_request, method, request_uri, version, status_code, reason, problems = start_line
    for code, text in problems:
        anomalies.append(anomaly_with(code, frame, text))

    # Header section: up to the first empty line (CRLF CRLF, or LF LF: bare LF line ends are accepted as well),
    # whichever comes first: a header section in bare LFs followed by a body in CRLFs (seen from a HEP generator)
    # must not take the body for headers.
    crlf = True
    separator = payload.find(b"\r\n\r\n", eol - 1)
    lf_separator = payload.find(b"\n\n", eol, separator if separator >= 0 else size)
    if lf_separator >= 0:
        head_end, body_start, crlf = lf_separator, lf_separator + 2, False
    elif separator >= 0:
        head_end, body_start = separator, separator + 4
    else:
        head_end = body_start = size
        anomalies.append(
            anomaly("sip.unterminated-headers", frame)
        )
    raw_head = payload[eol + 1 : head_end]
    try:
        head = raw_head.decode("utf-8")
    except UnicodeDecodeError:
        head = raw_head.decode("utf-8", "replace")
        anomalies.append(anomaly("sip.bad-utf8", frame))
    # Fast path: every line a `Name: value` line with a usual spelling; anything else (folding, odd names,
    # broken lines) goes through the careful reader, which also records the defects.
    items: list[tuple[str, str]] = []
    if head and crlf and head.count("\n") != head.count("\r\n"):  # a bare LF among CRLF lines
        items = _read_header_lines(head, crlf, anomalies, frame)
    elif head:
        append = items.append
        known = KNOWN_SPELLINGS.get
        for line in head.split("\r\n") if crlf else head.split("\n"):
            name, colon, value = line.partition(":")
            key = known(name)
            if key is None:
                key = name.rstrip(" \t").lower()
                if not key or " " in key or "\t" in key:
                    items = _read_header_lines(head, crlf, anomalies, frame)
                    break
                if len(key) == 1:
                    key = COMPACT_FORMS.get(key, key)
            if not colon:
                items = _read_header_lines(head, crlf, anomalies, frame)
                break
            append((key, value.strip()))
    headers = _headers(tuple(items))
    first_values = headers._first

    for name in _REQUIRED_IN_REQUEST if is_request else _REQUIRED_IN_RESPONSE:
        if name not in first_values:
            anomalies.append(anomaly("sip.missing-header", frame, name=header_display_name(name)))
    repeated = _repeated_single_headers(items) if len(first_values) != len(items) else {}
    for name, values in repeated.items():
        anomalies.append(anomaly("sip.multiple-values-single-header", frame, count=len(values),
                                 name=header_display_name(name), values=", ".join(repr(v[:40]) for v in values)))
    cseq = first_values.get("cseq")
    if cseq is not None:
        cseq_parts = cseq.split()
        if (
            len(cseq_parts) != 2
            or bounded_int(cseq_parts[0], MAX_DELTA_SECONDS) is None
            or not TOKEN_RE.match(cseq_parts[1])
        ):
            anomalies.append(anomaly("sip.bad-cseq", frame, cseq=cseq[:60]))
        if is_request and method is not None and len(cseq_parts) == 2 and cseq_parts[1] != method:
            anomalies.append(anomaly("sip.cseq-method-mismatch", frame, cseq=cseq[:60], method=method))

    # Body framing (RFC 3261 §18.3)
    available = size - body_start
    body_end = size
    length_text = first_values.get("content-length")
    if length_text is None:
        if transport in STREAM_TRANSPORTS:
            anomalies.append(anomaly("sip.missing-content-length", frame, transport=transport))
    elif "content-length" in repeated and len(set(repeated["content-length"])) > 1:
        anomalies.append(anomaly("sip.bad-content-length:conflicting", frame, size=available))
    elif not (length_text.isascii() and length_text.isdigit()):
        anomalies.append(anomaly("sip.bad-content-length:not-a-number", frame, value=length_text[:40]))
    elif (length := bounded_int(length_text, available)) is None:
        anomalies.append(anomaly("sip.bad-content-length:short", frame, value=length_text[:40], size=available))
    else:
        body_end = body_start + length
        if body_end < size and payload[body_end:].strip():
            anomalies.append(anomaly("sip.trailing-octets", frame, size=size - body_end))
    if _CTL_RE.search(head):  # one scan of the header text: the identifiers are looked at only when it finds one
        anomalies.extend(_identifier_controls(headers, frame))
    # positional: a keyword costs ~0.05 us on this hot path
    message = _build_message(
        is_request, method, request_uri, status_code, reason, version, headers, payload[body_start:body_end],
        frame, ts_ns, src[0] if src else "", src[1] if src else 0, dst[0] if dst else "", dst[1] if dst else 0,
        transport, tuple(anomalies), body_end, payload, dscp, fragments,
    )  # fmt: skip
    if validate:
        from sipdiag.parsers.sipvalidate import validate_sip  # noqa: PLC0415 - sipvalidate imports this module

        extra = validate_sip(message)
        if extra:
            message = replace(message, anomalies=message.anomalies + extra)
    return message


def parse_datagram(d: Datagram) -> SipMessage | None:
    """`parse_sip` of a datagram's payload with what the datagram knows of it (the analysis' SIP loop, and the
    capture reader's when it parses for that loop: both must give the same message)."""
    return parse_sip(d.payload, frame=d.frame, ts_ns=d.ts_ns, src=(d.src_ip, d.src_port), dst=(d.dst_ip, d.dst_port),
                     transport=d.transport, dscp=d.dscp, fragments=d.ip_fragments)


# A message as plain values for a pipe (sipdiag.ingest: the capture reader parses for the analysing process when
# that one is behind). Plain tuples, not the dataclasses: pickle takes a frozen slots dataclass through Python-level
# __getstate__, and a NamedTuple through its class, 14 us a message more than a tuple measured; the receiver builds
# the objects again with the quick builders. The identifier caches go along computed: correlation reads them all.
MessageFields = tuple


def message_fields(m: SipMessage) -> MessageFields:
    cseq = m.cseq
    return (m.is_request, m.method, m.request_uri, m.status_code, m.reason, m.version, m.headers.items, m.body,
            m.frame, m.ts_ns, m.src_ip, m.src_port, m.dst_ip, m.dst_port, m.transport, m.anomalies, m.raw_len, m.raw,
            m.dscp, m.fragments, None if cseq is None else tuple(cseq), m.from_tag, m.to_tag, m.branch)


def message_from_fields(f: MessageFields) -> SipMessage:
    """The message `message_fields` gave, equal in every field (caches included)."""
    canonical = _CANONICAL_NAMES.get
    # one str object per known header name, as parse_sip's own messages share them (pickle copies them per batch:
    # 12 names of 50 octets a message on a capture that keeps 140 000 messages)
    items = tuple([(canonical(name, name), value) for name, value in f[6]])
    cseq = f[20]
    return _build_message(*f[:6], _headers(items), *f[7:20], None if cseq is None else CSeq(*cseq), *f[21:])


_CANONICAL_NAMES = {name: name for name in KNOWN_SPELLINGS.values()}  # interned there: one object a name


# the identifiers _identifier_controls names, in both languages (Call-ID is the header's name in both)
_LABELS = {"From tag": detail("label:from-tag"), "To tag": detail("label:to-tag"),
           "Via branch": detail("label:via-branch")}


def _identifier_controls(headers: Headers, frame: int) -> list[Anomaly]:
    """`sip.control-in-identifier`: the Call-ID, the From or To tag or the top Via's branch holds a control character,
    which the grammar of each forbids (RFC 3261 §25.1: a tag and a branch are a token, a Call-ID a word [@ word]).
    Such a message was mangled on its way or at the capture point (a mirror or tunnel that cut or overwrote it) or
    forged: its identifiers match no dialog or transaction of the ones it seems to belong to (a NOTIFY answered 481
    because its To tag is garbage). One anomaly per identifier, its value quoted with repr (so escaped; cut at 120
    characters, a mangled tag runs long) and the control characters named by code."""
    found = []
    values = [("Call-ID", headers.get("call-id"))]
    for name, label in (("from", "From tag"), ("to", "To tag")):
        value = headers.get(name)
        # the tag is a header parameter: after the URI's '>' in name-addr form (as _header_tag reads it)
        m = _TAG_VALUE_RE.search(value, value.rfind(">") + 1) if value else None
        values.append((label, m.group(1) if m else None))
    via = headers.get("via")
    m = _BRANCH_VALUE_RE.search(via) if via else None
    values.append(("Via branch", m.group(1) if m else None))
    for label, value in values:
        controls = _CTL_RE.findall(value) if value else ()
        if controls:
            codes = ", ".join(f"0x{ord(c):02X}" for c in dict.fromkeys(controls))
            shown = repr(value if len(value) <= 120 else value[:120] + "...")
            found.append(anomaly("sip.control-in-identifier:call-id" if label == "Call-ID" else
                                 "sip.control-in-identifier:token", frame, label=_LABELS.get(label, label),
                                 value=shown, codes=codes))
    return found


def _read_header_lines(head: str, crlf: bool, anomalies: list[Anomaly], frame: int) -> list[tuple[str, str]]:
    """The careful header reader: undo folding (RFC 3261 §7.3.1), expand compact forms, record broken lines."""
    if "\n " in head or "\n\t" in head:
        head = _unfold(head)
    lines = head.split("\r\n") if crlf else head.split("\n")
    if crlf and head.count("\n") != len(lines) - 1:
        # A bare LF among CRLF line ends (a device or an ALG that rewrote one line; RFC 3261 §7 wants CRLF): where
        # a header follows it, it ends the line, as Wireshark reads it, so that header is not swallowed by the one
        # before. Elsewhere (inside a display name, say) it stays in the value, for the reports to show escaped.
        anomalies.append(anomaly("sip.bare-lf", frame))
        split: list[str] = []
        for line in lines:
            first, *rest = line.split("\n")
            split.append(first)
            for part in rest:
                if _HEADER_START.match(part):
                    split.append(part)
                else:
                    split[-1] += "\n" + part
        lines = split
    items: list[tuple[str, str]] = []
    for line in lines:
        name, colon, value = line.partition(":")
        key = name.rstrip(" \t").lower()
        if colon and key and " " not in key and "\t" not in key:
            items.append((COMPACT_FORMS.get(key, key) if len(key) == 1 else key, value.strip()))
        elif line.strip():
            anomalies.append(anomaly("sip.bad-header-line", frame, line=line[:80]))
    return items


def _unfold(head: str) -> str:
    """Replace each LWS with a line break, [ \\t]* CR? LF [ \\t]+ (RFC 3261 §7.3.1: a folded header line is its
    value continued; §25.1 LWS), by one SP.

    This is re.sub(r"[ \\t]*\\r?\\n[ \\t]+", " ", head), without its cost: that pattern, tried at every position of
    a run of spaces or tabs not followed by a line break, ran to the run's end each time, O(n^2) in the run (18 s
    for 60 000 spaces in one datagram; hours for a header block of ~1 MB over TCP). The line breaks are found
    alone, and the blanks before each are stripped off the text between it and the previous fold, which is where
    the leftmost match began."""
    parts = _FOLD_RE.split(head)
    return " ".join([part.rstrip(" \t") for part in parts[:-1]] + parts[-1:])


def _repeated_single_headers(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Values of the SINGLE_VALUE_HEADERS that occur more than once."""
    values: dict[str, list[str]] = {}
    for name, value in items:
        if name in SINGLE_VALUE_HEADERS:
            values.setdefault(name, []).append(value)
    return {name: found for name, found in values.items() if len(found) > 1}


def sip_stream_spans(data: bytes | bytearray) -> tuple[list[tuple[int, int]], int, bool]:
    """Find the complete SIP messages in a stream buffer (TCP/TLS, RFC 3261 §18.3), framed by Content-Length.

    Keep-alives between messages (RFC 5626 §3.5.1: CRLFCRLF ping, CRLF pong) are skipped; LF-only line ends are
    accepted as parse_sip accepts them. A message whose body has not fully arrived is left in the buffer. A
    missing Content-Length counts as 0, an unreadable or absurd one too (the message then carries the
    `sip.missing-content-length`/`sip.bad-content-length` anomaly when parsed).

    :returns: (spans, consumed, missing): the (start, end) of each complete message, how many bytes the caller
        may drop, and whether a message without Content-Length was met.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    size = len(data)
    missing = False
    while True:
        while data.startswith(b"\r\n", pos) or data.startswith(b"\n", pos):
            pos += 2 if data.startswith(b"\r\n", pos) else 1
        if pos >= size:
            return spans, pos, missing
        head_end, separator = data.find(b"\r\n\r\n", pos), 4
        bare_lf = data.find(b"\n\n", pos, head_end if head_end >= 0 else size)
        if bare_lf >= 0:  # LF-only line ends
            head_end, separator = bare_lf, 2
        if head_end < 0:
            return spans, pos, missing
        m = _STREAM_CL_RE.search(data, pos, head_end + 1)
        if m is None:
            missing = True
        digits = m.group(1) if m else b""
        length = int(digits) if digits.isdigit() and len(digits) <= 12 else 0  # an absurd length frames as 0
        end = head_end + separator + length
        if end > size:
            return spans, pos, missing
        spans.append((pos, end))
        pos = end


def frame_sip_stream(data: bytes) -> tuple[list[bytes], int]:
    """The complete SIP messages of a stream buffer as bytes, and how many bytes they used (see
    `sip_stream_spans`): the caller drops `data[:consumed]` and keeps the rest for the next segment."""
    spans, consumed, _missing = sip_stream_spans(data)
    return [data[a:b] for a, b in spans], consumed