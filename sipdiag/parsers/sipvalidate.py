"""Grammar checks of SIP header values (RFC 3261 §25.1), kept off `parse_sip`'s eager path.

`validate_sip(message)` checks the Request-URI and the header values the diagnosis relies on (From, To,
Contact, Via, Route/Record-Route/Path/Service-Route, Max-Forwards, Expires, Retry-After, session timer,
Warning, Date, Call-ID, Content-Type, multipart bodies) and returns the defects as anomalies;
`parse_sip(..., validate=True)` appends them to the message. Each anomaly names the header and quotes the
offending value, so a support engineer can point at the device that wrote it.

Well-formed values are accepted by one regex each (`is_clean_*`); only the others are scanned in detail.
Covered: what RFC 4475 §3.1.2 calls invalid and RFC 5118 §4.2/§4.10 call wrong. Application-level semantics
(unknown schemes, Max-Forwards 0, unknown Require options) are left to later stages.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sipdiag.addresses import is_ip_literal
from sipdiag.model import Anomaly
from sipdiag.parsers.anomalytexts import anomaly_with, detail
from sipdiag.parsers.multipart import MULTIPART_PREFIX, split_multipart
from sipdiag.parsers.sip import SipMessage
from sipdiag.parsers.sipheaders import (
    is_clean_via,
    parse_delta_seconds,
    parse_max_forwards,
    parse_min_se,
    parse_retry_after,
    parse_session_expires,
    parse_sip_date,
    parse_warning,
    scan_via,
)
from sipdiag.parsers.sipnames import KNOWN_SPELLINGS, header_display_name
from sipdiag.parsers.sipuri import (
    TOKEN_RE,
    Problem,
    bounded_int,
    is_clean_name_addr,
    is_clean_request_uri,
    scan_name_addr,
    scan_uri,
    split_list,
)

# Call-ID = word [ "@" word ] (RFC 3261 §25.1)
_WORD = r"""[A-Za-z0-9\-.!%*_+`'~()<>:\\"/\[\]?{}]+"""
_CALL_ID_RE = re.compile(rf"{_WORD}(?:@{_WORD})?\Z")
_MEDIA_TYPE_RE = re.compile(r"\s*[A-Za-z0-9\-.!%*_+`'~]+/[A-Za-z0-9\-.!%*_+`'~]+\s*(?:;.*)?\Z", re.S)
_EMPTY_ELEMENT_RE = re.compile(r"^\s*,|,\s*,|,\s*$")
_WHITESPACE_RE = re.compile(r"\s")
_KNOWN_NAMES = frozenset(KNOWN_SPELLINGS.values())  # canonical names known to be tokens
_QVALUE_RE = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\Z")  # RFC 3261 §20.10
_EXPIRES_PARAM_RE = re.compile(r";[ \t]*expires[ \t]*=[ \t]*([^;\s]*)", re.I)
_Q_PARAM_RE = re.compile(r";[ \t]*q[ \t]*=[ \t]*([^;\s]*)", re.I)


def _show(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


class _Defects:
    """Defects of one message, at most one per (kind, header) so a broken header yields one line, not ten."""

    def __init__(self) -> None:
        self.found: list[Problem] = []
        self._seen: set[tuple[str, str]] = set()
        self.contacts = 0  # Contact values seen, and whether one was `*` (RFC 3261 §10.2.2)
        self.star_contact = False

    def add(self, where: str, problems: list[Problem]) -> None:
        """Record `problems` found in header `where`, keeping the first of each kind there."""
        for code, text in problems:
            if (code, where) not in self._seen:
                self._seen.add((code, where))
                self.found.append((code, text))


def validate_sip(message: SipMessage) -> tuple[Anomaly, ...]:
    """Check the grammar of the Request-URI and of the header values sipdiag reads; return the defects,
    at most one per defect kind and header.

    Codes: `sip.bad-uri`, `sip.bad-ipv6-reference`, `sip.bad-name-addr`, `sip.bad-display-name`, `sip.bad-via`,
    `sip.bad-max-forwards`, `sip.bad-expires`, `sip.bad-retry-after`, `sip.bad-session-expires`,
    `sip.bad-warning`, `sip.bad-date`, `sip.bad-call-id`, `sip.bad-content-type`, `sip.bad-header-name`,
    `sip.bad-multipart`.
    """
    defects = _Defects()
    headers = message.headers
    request_uri = message.request_uri
    # A Request-URI with whitespace was already reported as `sip.bad-start-line` by parse_sip.
    if message.is_request and request_uri and not is_clean_request_uri(request_uri):
        if not _WHITESPACE_RE.search(request_uri):
            defects.add("request-uri", _request_uri_problems(request_uri))
    for name, value in headers.items:
        check = _VALUE_CHECKS.get(name)
        if check is not None:
            check(name, value, defects)
        elif name not in _KNOWN_NAMES and not TOKEN_RE.match(name):
            defects.add(name, [("sip.bad-header-name", detail("sip.bad-header-name", name=_show(name)))])
    if defects.star_contact and defects.contacts > 1:
        defects.add("contact", [("sip.bad-name-addr", detail("sip.bad-name-addr:star"))])
    _check_body(message, defects)
    return tuple(anomaly_with(code, message.frame, text) for code, text in defects.found)


def _request_uri_problems(request_uri: str) -> list[Problem]:
    uri, found = scan_uri(request_uri, "Request-URI")
    if uri is not None and uri.scheme in ("sip", "sips") and uri.headers:
        found.append(("sip.bad-uri", detail("sip.bad-uri:request-uri-headers", uri=_show(request_uri))))
    return found


def _check_address(name: str, value: str, defects: _Defects) -> None:
    """From, To: one name-addr or addr-spec."""
    if not is_clean_name_addr(value):
        defects.add(name, scan_name_addr(value, header_display_name(name))[1])


def _check_routes(name: str, value: str, defects: _Defects) -> None:
    """Route, Record-Route, Path, Service-Route: comma lists of name-addr (RFC 3261 §20.30, §20.34)."""
    label = header_display_name(name)
    for element in split_list(value):
        found = [] if is_clean_name_addr(element) else scan_name_addr(element, label)[1]
        if "<" not in element:
            found.append(("sip.bad-name-addr", detail("sip.bad-name-addr:route", label=label, element=_show(element))))
        defects.add(name, found)


def _check_contacts(name: str, value: str, defects: _Defects) -> None:
    elements = split_list(value)
    defects.contacts += len(elements)
    for element in elements:
        if element == "*":
            defects.star_contact = True
            continue
        found = [] if is_clean_name_addr(element) else scan_name_addr(element, "Contact")[1]
        params_start = element.rfind(">") + 1  # header parameters follow the URI
        expires = _EXPIRES_PARAM_RE.search(element, params_start)
        if expires is not None and parse_delta_seconds(expires.group(1)) is None:
            found.append(("sip.bad-expires", detail("sip.bad-expires:contact", value=_show(expires.group(1)))))
        q = _Q_PARAM_RE.search(element, params_start)
        if q is not None and _QVALUE_RE.match(q.group(1)) is None:
            found.append(("sip.bad-name-addr", detail("sip.bad-name-addr:q", value=_show(q.group(1)))))
        defects.add(name, found)


def _check_vias(name: str, value: str, defects: _Defects) -> None:
    if _EMPTY_ELEMENT_RE.search(value):
        defects.add(name, [("sip.bad-via", detail("sip.bad-via:empty-element", value=_show(value)))])
    for element in split_list(value):
        if is_clean_via(element):
            continue
        via, found = scan_via(element)
        if via is not None:
            received = via.received
            if received is not None and not is_ip_literal(received):
                found.append(("sip.bad-via", detail("sip.bad-via:received", value=_show(received))))
            rport = via.param("rport")
            if rport and bounded_int(rport, 65535) is None:
                found.append(("sip.bad-via", detail("sip.bad-via:rport", value=_show(rport))))
            if via.param("branch") == "":
                found.append(("sip.bad-via", detail("sip.bad-via:branch")))
        defects.add(name, found)




def _scalar_check(code: str, accept: Callable[[str], object], rfc: str) -> Callable[[str, str, _Defects], None]:
    """A check that reports `code` (its text in sipdiag.parsers.anomalytexts names the rule broken, `rfc` where
    the rule is written) when `accept(value)` gives None (the parse_* functions' "malformed")."""

    def check(name: str, value: str, defects: _Defects) -> None:
        if accept(value) is None:
            defects.add(name, [(code, detail(code, header=header_display_name(name), value=_show(value), rfc=rfc))])

    return check


def _check_warnings(name: str, value: str, defects: _Defects) -> None:
    for element in split_list(value):
        if parse_warning(element) is None:
            defects.add(name, [("sip.bad-warning", detail("sip.bad-warning", value=_show(element)))])


_VALUE_CHECKS: dict[str, Callable[[str, str, _Defects], None]] = {
    "from": _check_address,
    "to": _check_address,
    "contact": _check_contacts,
    "route": _check_routes,
    "record-route": _check_routes,
    "path": _check_routes,
    "service-route": _check_routes,
    "via": _check_vias,
    "warning": _check_warnings,
    "max-forwards": _scalar_check("sip.bad-max-forwards", parse_max_forwards, "RFC 3261 §20.22"),
    "expires": _scalar_check("sip.bad-expires", parse_delta_seconds, "RFC 3261 §20.19"),
    "min-expires": _scalar_check("sip.bad-expires", parse_delta_seconds, "RFC 3261 §20.23"),
    "retry-after": _scalar_check("sip.bad-retry-after", parse_retry_after, "RFC 3261 §20.33"),
    "session-expires": _scalar_check("sip.bad-session-expires", parse_session_expires, "RFC 4028 §4"),
    "min-se": _scalar_check("sip.bad-session-expires", parse_min_se, "RFC 4028 §5"),
    "date": _scalar_check("sip.bad-date", parse_sip_date, "RFC 3261 §20.17"),
    "call-id": _scalar_check("sip.bad-call-id", _CALL_ID_RE.match, "RFC 3261 §20.8"),
    "content-type": _scalar_check("sip.bad-content-type", _MEDIA_TYPE_RE.match, "RFC 3261 §20.15"),
}


def _check_body(message: SipMessage, defects: _Defects) -> None:
    content_type = message.headers.get("content-type")
    if content_type and content_type.lstrip().lower().startswith(MULTIPART_PREFIX) and message.body:
        if split_multipart(message.body, content_type) is None:
            defects.add("body", [("sip.bad-multipart", detail("sip.bad-multipart", content_type=_show(content_type)))])
