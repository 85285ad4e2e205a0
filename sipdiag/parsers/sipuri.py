"""SIP URIs, name-addr values, parameters and comma lists (RFC 3261 §19.1, §20.10, §25.1).

IPv6 references follow RFC 5118 and the corrected ABNF of RFC 5954: the address sits inside `[]` in URIs and
Via sent-by, and `host` is stored without the brackets so it compares equal to a packet's IP address.

Everything here is parsed on demand (never on `parse_sip`'s hot path). The public functions are tolerant:
they return the best reading they can, or None when nothing sensible is left. The `scan_*` variants also
return the defects they met, as `(code, detail)` pairs that `sipvalidate` turns into anomalies.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ..addresses import join_hostport
from .anomalytexts import Detail, detail, joined

#: Parameters as a dict-like tuple of `(lower-case name, value)`; a parameter without `=` has the value "".
Params = tuple[tuple[str, str], ...]

#: A defect met while scanning: (anomaly code, its detail in English and Russian: sipdiag.parsers.anomalytexts).
Problem = tuple[str, Detail]

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
# RFC 3261 §25.1 token
TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
# user = 1*( unreserved / escaped / user-unreserved )
_USER_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+\Z")
# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
_PASSWORD_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*\Z")
# paramchar = param-unreserved / unreserved / escaped
_PARAMCHARS_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|%[0-9A-Fa-f]{2})+\Z")
# hname / hvalue characters (hnv-unreserved / unreserved / escaped)
_HCHARS_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|%[0-9A-Fa-f]{2})*\Z")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?\Z")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.S)
# One element of a comma list: quoted strings and <...> are kept whole; an unterminated one runs to the end
# of the value, which keeps the scan linear on hostile input.
_LIST_ELEMENT_RE = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|<[^>]*>?|[^,"<])+', re.S)


# Fast acceptance: regexes for the common, well-formed values (RFC 3261 §25.1). Each accepts a subset of
# what the scanners below accept without defects, so a match means "no defect" and only values that fail it
# pay for the detailed scan. IPv6 references always take the detailed path (their literal is checked).
_ESCAPED = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?"
_PORT = r"(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|\d{1,4})"
_PARAMCHAR = rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESCAPED})"
_HCHAR = rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESCAPED})"
_PASSWORD = rf"(?::(?:[{_UNRESERVED}&=+$,]|{_ESCAPED})*)?"
# userinfo; in addr-spec form (no <>) a URI with ';', '?' or ',' is not allowed (RFC 3261 §20)
_SIP_HEAD = rf"[Ss][Ii][Pp][Ss]?:(?:(?:[{_UNRESERVED}&=+$,;?/]|{_ESCAPED})+{_PASSWORD}@)?"
_SIP_HEAD_BARE = rf"[Ss][Ii][Pp][Ss]?:(?:(?:[{_UNRESERVED}&=+$/]|{_ESCAPED})+{_PASSWORD}@)?"
_SIP_URI_NO_HEADERS = rf"{_SIP_HEAD}{_HOST}(?::{_PORT})?(?:;{_PARAMCHAR}+(?:={_PARAMCHAR}+)?)*"
_SIP_URI = rf"{_SIP_URI_NO_HEADERS}(?:\?{_HCHAR}+={_HCHAR}*(?:&{_HCHAR}+={_HCHAR}*)*)?"
_NOT_SIP = r"(?![Ss][Ii][Pp][Ss]?:)[A-Za-z][A-Za-z0-9+.\-]*:"
_GEN_PARAMS = rf"(?:[ \t]*;[ \t]*{_TOKEN}(?:[ \t]*=[ \t]*(?:{_TOKEN}|{_QUOTED}))?)*[ \t]*"
_DISPLAY = rf"(?:{_QUOTED}|{_TOKEN}(?:[ \t]+{_TOKEN})*)"
_CLEAN_REQUEST_URI_RE = re.compile(rf"(?:{_SIP_URI_NO_HEADERS}|{_NOT_SIP}[^\s<>\"]+)\Z")
_CLEAN_NAME_ADDR_RE = re.compile(
    rf"[ \t]*(?:{_DISPLAY}[ \t]*)?<(?:{_SIP_URI}|{_NOT_SIP}[^\s<>\"]+)>{_GEN_PARAMS}\Z"
    rf"|[ \t]*(?:{_SIP_HEAD_BARE}{_HOST}(?::{_PORT})?|{_NOT_SIP}[^\s<>\";?,]+){_GEN_PARAMS}\Z"
)
CLEAN_VIA_HEAD = rf"[ \t]*[Ss][Ii][Pp][ \t]*/[ \t]*2\.0[ \t]*/[ \t]*{_TOKEN}[ \t]+{_HOST}(?::{_PORT})?{_GEN_PARAMS}\Z"


def is_clean_request_uri(text: str) -> bool:
    """True when a Request-URI is certainly well-formed (no headers, no IPv6 reference to check)."""
    return _CLEAN_REQUEST_URI_RE.match(text) is not None


def is_clean_name_addr(value: str) -> bool:
    """True when a name-addr/addr-spec value is certainly well-formed; False means "scan it"."""
    return _CLEAN_NAME_ADDR_RE.match(value) is not None


def bounded_int(text: str, limit: int) -> int | None:
    """`text` as a decimal number when it is only ASCII digits and its value is at most `limit`, else None.

    Overlong digit strings are refused before conversion: they are defects here (RFC 4475 §3.1.2.4), and
    CPython will not convert more than 4300 digits.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")  # leading zeros are allowed (RFC 4475 §3.1.1.1 "0068")
    if len(digits) > 20:
        return None
    value = int(digits or "0")
    return value if value <= limit else None


def unquote(text: str) -> str:
    """The content of a quoted-string with quoted-pairs resolved (`\\"` -> `"`); other text is returned as is.

    :param text: a value that may be enclosed in double quotes (RFC 3261 §25.1 quoted-string).
    """
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        return _QUOTED_PAIR_RE.sub(r"\1", inner) if "\\" in inner else inner
    return text


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value (RFC 3261 §7.3.1) into its elements.

    Commas inside quoted strings and `<...>` do not split; elements are stripped and empty ones dropped.
    """
    if "," not in value:
        value = value.strip()
        return [value] if value else []
    return [p for p in (m.strip() for m in _LIST_ELEMENT_RE.findall(value)) if p]


_PIECE_RES = {sep: re.compile(rf'"(?:[^"\\]|\\.)*"?|{sep}|[^{sep}"]+', re.S) for sep in ";,"}


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on `separator` (";" or ",") outside quoted strings, keeping empty pieces: `a;;b` -> ["a", "", "b"].

    An unterminated quote runs to the end of the text (linear time whatever the input).
    """
    if '"' not in text:
        return text.split(separator)
    pieces: list[str] = []
    current: list[str] = []
    for m in _PIECE_RES[separator].finditer(text):
        if m.group() == separator:
            pieces.append("".join(current))
            current = []
        else:
            current.append(m.group())
    pieces.append("".join(current))
    return pieces


def scan_params(text: str, *, token_names: bool = True) -> tuple[Params, list[Detail]]:
    """Parse `;name=value;flag` parameters (generic-param, RFC 3261 §25.1) with LWS allowed around `=`.

    Names are lower-cased (parameter names are case-insensitive, §7.3.1); quoted values are unquoted.
    :param text: the text that starts with the first `;` (leading whitespace allowed), or "".
    :param token_names: report names that are not tokens (header parameters); URI parameters are checked
        against their own character set by `scan_uri`.
    The defects carry no code: the caller files them under its own (`sip.bad-uri`, `sip.bad-via`, ...).
    """
    text = text.strip()
    if not text:
        return (), []
    problems: list[Detail] = []
    if text[0] != ";":
        problems.append(detail("params:unexpected", text=text[:40]))
        text = ";" + text
    params = []
    for piece in split_outside_quotes(text, ";")[1:]:
        name, eq, value = piece.partition("=")
        name = name.strip()
        if not name:
            problems.append(detail("params:empty"))
            continue
        if token_names and not TOKEN_RE.match(name):
            problems.append(detail("params:name", name=name))
        value = value.strip()
        if eq and not value:
            problems.append(detail("params:no-value", name=name))
        params.append((name.lower(), unquote(value)))
    return tuple(params), problems


def get_param(params: Params, name: str) -> str | None:
    """The value of the first parameter `name` (lower-case), "" for a flag, None when absent."""
    for key, value in params:
        if key == name:
            return value
    return None


@dataclass(frozen=True, slots=True)
class SipUri:
    """A URI as used in SIP: a full SIP/SIPS URI (RFC 3261 §19.1), a tel URI (RFC 3966), or any other scheme
    (RFC 3261 §19.1.1 absoluteURI, e.g. `http:`, `urn:`), of which only the scheme and `text` are known.
    """

    scheme: str  # lower-case
    user: str | None  # as on the wire, %-escapes kept (compare unescaped, §19.1.4); tel: the number
    password: str | None
    host: str | None  # IPv6 without the [] of the reference (RFC 5118), so it compares to packet addresses
    port: int | None
    params: Params = ()  # uri-parameters: transport, user, maddr, lr, ob, ...
    headers: tuple[tuple[str, str], ...] = ()  # the `?name=value&...` part, names as written
    text: str = ""  # the URI as received

    def param(self, name: str) -> str | None:
        """URI parameter `name` (lower-case): its value, "" when present without value, None when absent."""
        return get_param(self.params, name)

    @property
    def hostport(self) -> str | None:
        """`host[:port]` with IPv6 references re-bracketed, as it would appear in a URI."""
        if self.host is None:
            return None
        return join_hostport(self.host, self.port)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A `name-addr` or `addr-spec` header value (From, To, Contact, Route, Refer-To, ...; RFC 3261 §20.10)."""

    display_name: str | None  # unquoted, quoted-pairs resolved; None when absent
    uri: SipUri | None  # None when the URI could not be read at all (e.g. no scheme)
    params: Params = ()  # header parameters after the URI (tag, expires, q, ...)
    uri_text: str = ""  # the URI text as written, also when `uri` is None

    def param(self, name: str) -> str | None:
        """Header parameter `name` (lower-case); "" for a flag, None when absent."""
        return get_param(self.params, name)

    @property
    def tag(self) -> str | None:
        """The `tag` parameter (RFC 3261 §19.3), None when absent."""
        return get_param(self.params, "tag")


def scan_hostport(hostport: str, problems: list[Problem], what: str) -> tuple[str | None, int | None]:
    """Split `host[:port]` (IPv6 references in [], RFC 5118) and append its defects to `problems`.

    :param what: how to name the value in defect texts.
    """
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            problems.append(("sip.bad-uri", detail("sip.bad-uri:unclosed-ipv6", what=what, hostport=hostport)))
            return hostport[1:] or None, None
        host, rest = hostport[1:close], hostport[close + 1 :]
        check_ipv6_literal(host, problems, what)
        if not rest:
            return host, None
        if rest[0] != ":":
            problems.append(("sip.bad-uri", detail("sip.bad-uri:after-ipv6", what=what, rest=rest)))
            return host, None
        return host, _scan_port(rest[1:], problems, what)
    if hostport.count(":") > 1:
        problems.append(("sip.bad-uri", detail("sip.bad-uri:bare-ipv6", what=what, hostport=hostport)))
        return hostport, None
    host, colon, port_text = hostport.partition(":")
    if not host:
        problems.append(("sip.bad-uri", detail("sip.bad-uri:no-host", what=what)))
    elif not _HOSTNAME_RE.match(host):
        problems.append(("sip.bad-uri", detail("sip.bad-uri:host", what=what, host=host)))
    return host or None, _scan_port(port_text, problems, what) if colon else None


def _scan_port(text: str, problems: list[Problem], what: str) -> int | None:
    port = bounded_int(text, 65535)
    if port is not None:
        return port
    problems.append(("sip.bad-uri", detail("sip.bad-uri:port", what=what, port=text)))
    return None


def check_ipv6_literal(host: str, problems: list[Problem], what: str) -> None:
    """Record a defect when `host` (from inside `[]`) is not an IPv6 address (RFC 4291 §2.2, RFC 5954)."""
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        if ":::" in host:
            problems.append(("sip.bad-ipv6-reference",
                             detail("sip.bad-ipv6-reference:triple-colon", what=what, host=host)))
        else:
            problems.append(("sip.bad-ipv6-reference", detail("sip.bad-ipv6-reference:invalid", what=what, host=host)))


def scan_uri(text: str, what: str = "URI") -> tuple[SipUri | None, list[Problem]]:
    """Parse a URI and list its defects; see `parse_uri`.

    :param text: the URI, without surrounding `<>`.
    :param what: how to name the URI in defect texts (e.g. "Request-URI", "From").
    """
    problems: list[Problem] = []
    uri_text = text.strip()
    if uri_text.startswith("<") and uri_text.endswith(">"):
        problems.append(("sip.bad-uri", detail("sip.bad-uri:bracketed", what=what, uri=uri_text)))
        uri_text = uri_text[1:-1]
    if any(c in uri_text for c in " \t\r\n"):
        problems.append(("sip.bad-uri", detail("sip.bad-uri:whitespace", what=what, uri=uri_text)))
    scheme, colon, rest = uri_text.partition(":")
    if not colon or not _SCHEME_RE.match(scheme):
        problems.append(("sip.bad-uri", detail("sip.bad-uri:no-scheme", what=what, uri=uri_text)))
        return None, problems
    scheme = scheme.lower()
    if scheme not in ("sip", "sips"):
        return _other_uri(scheme, rest, text, problems), problems

    user = password = None
    at = rest.find("@")
    if at >= 0:
        user, colon, password_text = rest[:at].partition(":")
        password = password_text if colon else None
        if not user or not _USER_RE.match(user):
            problems.append(("sip.bad-uri", detail("sip.bad-uri:user", what=what, user=user)))
        if password is not None and not _PASSWORD_RE.match(password):
            problems.append(("sip.bad-uri", detail("sip.bad-uri:password", what=what)))
        rest = rest[at + 1 :]
    # host[:port] ends at the first ';' or '?' after any IPv6 reference
    start = rest.find("]") + 1 if rest.startswith("[") else 0
    ends = [i for i in (rest.find(";", start), rest.find("?", start)) if i >= 0]
    end = min(ends) if ends else len(rest)
    host, port = scan_hostport(rest[:end], problems, what)
    rest = rest[end:]
    headers_text = None
    question = rest.find("?")
    if question >= 0:
        rest, headers_text = rest[:question], rest[question + 1 :]
    params, param_problems = scan_params(rest, token_names=False)
    problems.extend(("sip.bad-uri", joined(what, d)) for d in param_problems)
    for name, value in params:
        if not _PARAMCHARS_RE.match(name) or (value and not _PARAMCHARS_RE.match(value)):
            problems.append(("sip.bad-uri", detail("sip.bad-uri:parameter", what=what, name=name)))
    headers: list[tuple[str, str]] = []
    if headers_text is not None:
        for item in headers_text.split("&"):
            name, _eq, value = item.partition("=")
            if not name or not _HCHARS_RE.match(name) or not _HCHARS_RE.match(value):
                problems.append(("sip.bad-uri", detail("sip.bad-uri:header", what=what, item=item)))
            headers.append((name, value))
    return SipUri(scheme, user, password, host, port, params, tuple(headers), text), problems


def _other_uri(scheme: str, rest: str, text: str, problems: list[Problem]) -> SipUri:
    """tel: (RFC 3966) and generic absolute URIs; `//authority` gives host and port when present."""
    if scheme == "tel":
        number, _semi, params_text = rest.partition(";")
        params, _ = scan_params(";" + params_text) if params_text else ((), [])
        return SipUri(scheme, number, None, None, None, params, (), text)
    host = port = None
    if rest.startswith("//"):
        authority = rest[2:].split("/", 1)[0].rpartition("@")[2]
        scratch: list[Problem] = []  # a foreign scheme's authority is not ours to judge
        host, port = scan_hostport(authority, scratch, "")
    return SipUri(scheme, None, None, host, port, (), (), text)


def parse_uri(text: str) -> SipUri | None:
    """Parse a SIP, SIPS, tel or other absolute URI; None when it has no scheme.

    IPv6 references (`sip:[2001:db8::10]:5070`, RFC 5118) give `host="2001:db8::10"`, `port=5070`;
    `sip:[2001:db8::10:5070]` is a host without port (RFC 5118 §4.3).
    """
    return scan_uri(text)[0]


def scan_name_addr(value: str, what: str = "header") -> tuple[NameAddr | None, list[Problem]]:
    """Parse `[display-name] <URI> *(;param)` or `addr-spec *(;param)` and list its defects; see
    `parse_name_addr`.

    :param value: one header value (one element of a comma list), unfolded.
    :param what: how to name the value in defect texts (usually the header name).
    """
    problems: list[Problem] = []
    text = value.strip()
    if not text:
        return None, [("sip.bad-name-addr", detail("sip.bad-name-addr:empty", what=what))]
    display: str | None = None
    rest = text
    if text[0] == '"':
        m = _QUOTED_RE.match(text)
        if m:
            display = unquote(m.group())
            rest = text[m.end() :].lstrip()
        else:
            problems.append(("sip.bad-display-name", detail("sip.bad-display-name:unclosed", what=what)))
            lt = text.find("<")
            display = text[1:lt] if lt >= 0 else text[1:]
            rest = text[lt:] if lt >= 0 else ""
        if not rest.startswith("<"):
            problems.append(("sip.bad-name-addr", detail("sip.bad-name-addr:no-uri", what=what)))
    else:
        lt = text.find("<")
        if lt > 0:
            display = text[:lt].strip()
            if not all(TOKEN_RE.match(word) for word in display.split()):
                problems.append(("sip.bad-display-name",
                                 detail("sip.bad-display-name:unquoted", what=what, display=display)))
            rest = text[lt:]
    if rest.startswith("<"):
        gt = rest.find(">")
        inner, after = (rest[1:gt], rest[gt + 1 :]) if gt >= 0 else (rest[1:], "")
        if gt < 0:
            problems.append(("sip.bad-name-addr", detail("sip.bad-name-addr:unclosed", what=what)))
        uri_text = inner.strip()
        if uri_text != inner:
            problems.append(("sip.bad-name-addr", detail("sip.bad-name-addr:whitespace", what=what, inner=inner)))
    else:
        # addr-spec form: every ';' parameter belongs to the header, not the URI (RFC 3261 §20)
        uri_text, semi, after = rest.partition(";")
        after = semi + after
        uri_text = uri_text.strip()
        if "?" in uri_text or "," in uri_text:
            problems.append(("sip.bad-name-addr", detail("sip.bad-name-addr:addr-spec", what=what, uri=uri_text)))
    uri, uri_problems = scan_uri(uri_text, what) if uri_text else \
        (None, [("sip.bad-uri", detail("sip.bad-uri:empty", what=what))])
    problems.extend(uri_problems)
    params, param_problems = scan_params(after)
    problems.extend(("sip.bad-name-addr", joined(what, d)) for d in param_problems)
    return NameAddr(display, uri, params, uri_text), problems


def parse_name_addr(value: str) -> NameAddr | None:
    """Parse a From/To/Contact/Route-style value: `"Display" <sip:user@host;uri-param>;tag=x` or the bare
    `sip:user@host;tag=x` form (RFC 3261 §20.10), tolerant of the defects `scan_name_addr` reports.

    Returns None only for an empty value.
    """
    return scan_name_addr(value)[0]


# RFC 3261 §19.1.4: user, ttl, method and maddr in only one URI never match; any other parameter (transport too)
# in only one URI is ignored, and a parameter in both must match.
STRICT_PARAMS = ("user", "ttl", "method", "maddr")


def same_uri(a: str, b: str) -> bool:
    """RFC 3261 §19.1.4 URI equality, the parts registrars rewrite: scheme, user, host (no case), port (absent is
    not 5060), and URI parameters (user/ttl/method/maddr must agree; others, transport too, when both carry them)."""
    ua, ub = parse_uri(a), parse_uri(b)
    if ua is None or ub is None:
        return a.strip().lower() == b.strip().lower()
    if (ua.scheme, ua.user, (ua.host or "").lower(), ua.port) != (ub.scheme, ub.user, (ub.host or "").lower(), ub.port):
        return False
    pa = {k.lower(): (v or "").lower() for k, v in ua.params}
    pb = {k.lower(): (v or "").lower() for k, v in ub.params}
    for name in set(pa) | set(pb):
        if name in pa and name in pb:
            if pa[name] != pb[name]:
                return False
        elif name in STRICT_PARAMS:
            return False
    return True
