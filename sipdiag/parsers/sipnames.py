"""The SIP header-name vocabulary: compact forms, canonical names, which headers are lists and which are
single-valued (RFC 3261 §7.3, §20; the IANA "Header Fields" registry).

Canonical names are lower-case with compact forms expanded (STYLE.md G6): `i` -> `call-id`, `V` -> `via`.
"""

from __future__ import annotations

import sys

#: Compact header forms (RFC 3261 §7.3.3 and the IANA registry: RFC 3841, 3892, 3515, 6665, 4028, 8224).
COMPACT_FORMS = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

#: Headers whose grammar is a comma list (`x *(COMMA x)`), so one line may carry several values (§7.3.1).
#: Not here: Authorization/WWW-Authenticate (commas separate parameters), Date, From, To, Call-ID, ...
LIST_HEADERS = frozenset(
    {
        "accept", "accept-contact", "accept-encoding", "accept-language", "accept-resource-priority",
        "alert-info", "allow", "allow-events", "call-info", "contact", "content-encoding", "content-language",
        "diversion", "error-info", "history-info", "in-reply-to", "p-asserted-identity", "p-associated-uri",
        "p-preferred-identity", "path", "proxy-require", "reason", "record-route", "reject-contact", "request-disposition",
        "require", "resource-priority", "route", "security-client", "security-server", "security-verify",
        "service-route", "supported", "unsupported", "via", "warning",
    }
)  # fmt: skip

#: Headers that may appear once; a second one is a defect (RFC 3261 §7.3.1, RFC 4475 §3.3.8/§3.3.9).
SINGLE_VALUE_HEADERS = frozenset(
    {
        "call-id", "content-length", "content-type", "cseq", "date", "event", "expires", "from", "max-forwards",
        "mime-version", "min-expires", "min-se", "rack", "refer-to", "replaces", "rseq", "session-expires",
        "subscription-state", "to",
    }
)  # fmt: skip

_HEADER_DISPLAY = {
    "call-id": "Call-ID", "cseq": "CSeq", "max-forwards": "Max-Forwards", "min-se": "Min-SE", "mime-version":
    "MIME-Version", "rack": "RAck", "rseq": "RSeq", "www-authenticate": "WWW-Authenticate",
}  # fmt: skip

#: Header names as devices usually spell them -> canonical name; `parse_sip` looks these up before it
#: falls back to lower() and the checks.
_USUAL_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
    "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition",
    "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Diversion",
    "Error-Info", "Event", "Expires", "From", "History-Info", "Identity", "In-Reply-To", "Max-Forwards",
    "MIME-Version", "Min-Expires", "Min-SE", "Organization", "P-Asserted-Identity", "P-Charging-Vector",
    "P-Preferred-Identity", "Path", "Priority", "Privacy", "Proxy-Authenticate", "Proxy-Authorization",
    "Proxy-Require", "RAck", "Reason", "Record-Route", "Refer-To", "Referred-By", "Remote-Party-ID", "Replaces",
    "Require", "Retry-After", "Route", "RSeq", "Server", "Service-Route", "Session-Expires", "SIP-ETag",
    "SIP-If-Match", "Subject", "Subscription-State", "Supported", "Timestamp", "To", "Unsupported", "User-Agent",
    "Via", "Warning", "WWW-Authenticate",
)  # fmt: skip
# Interned: every spelling of a name gives the one str object, which every message's header items then share
# (and sipdiag.parsers.sip.message_from_fields gives back to the messages a pipe carried).
KNOWN_SPELLINGS = {
    spelling: sys.intern(name.lower())
    for name in _USUAL_NAMES
    for spelling in (name, name.lower(), name.upper(), "-".join(p.capitalize() for p in name.split("-")))
} | {letter: sys.intern(full) for compact, full in COMPACT_FORMS.items() for letter in (compact, compact.upper())}


def header_display_name(name: str) -> str:
    """The usual spelling of a canonical header name for texts: `call-id` -> `Call-ID`, `via` -> `Via`."""
    return _HEADER_DISPLAY.get(name) or "-".join(part.capitalize() for part in name.split("-"))


def canonical_header_name(name: str) -> str:
    """Lower-case, compact form expanded: `i` -> `call-id`, `Via ` -> `via` (RFC 3261 §7.3.3)."""
    key = name.strip().lower()
    return COMPACT_FORMS.get(key, key)
