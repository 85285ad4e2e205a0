"""Same-length rewriting of SIP/SDP text (and other text payloads): the second pass.

Each detector below finds spans of the text and the pseudonym for each; spans are applied at once (the first
detector to claim a character wins), so a pseudonym is never rewritten again by a later detector. Every
replacement has the length of what it replaces, so Content-Length, SDP, TCP sequence numbers and IP fragment
offsets stay valid.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from .pseudonyms import Pseudonyms, kept_address
from .sipfields import Harvest

Span = tuple[int, int, str]

# Lines that name software (RFC 3261 §20.35, §20.41): the product and version identify the device for the rule
# set and the device knowledge base; only addresses the capture uses elsewhere are replaced in them.
_PRODUCT_LINE = re.compile(r"(?im)^(?:user-agent|server)[ \t]*:[^\r\n]*")
# SDP lines that describe media, not people (RFC 8866 §5): a user or host name that happens to equal a codec name
# ("L16/8000/2" as a display name) must not change them.
_SDP_MEDIA_LINES = re.compile(r"(?m)^(?:[vtrzbm]=|a=(?:rtpmap|fmtp|rtcp-fb|ptime|maxptime|sendrecv|sendonly|"
                              r"recvonly|inactive|silenceSupp|framerate|orient|type|charset|sdplang|lang|"
                              r"quality|mid|group|setup|connection|fingerprint|extmap)\b)[^\r\n]*")
_DIGEST_PARAM = re.compile(
    r'(?i)(?<![\w-])(username|realm|nonce|cnonce|response|opaque|nextnonce|rspauth)[ \t]*=[ \t]*'
    r'(?:"((?:[^"\\\r\n]|\\.)*)"|([^\s,"]+))')
# sip:/sips:/pres:/im: user[:password]@ (RFC 3261 §19.1.1; user may hold ';' only escaped in practice): the
# matches of (?i)(?<![\w+.-])(?:sips?|pres|im):([^@\s;>?"<,:/]+)(?::([^@\s;>?"<,/]*))?@, found by _uri_user_spans.
_URI_SCHEME = re.compile(r'(?i)(?<![\w+.-])(?:sips?|pres|im):')
_URI_USER_RUN = re.compile(r'[^@\s;>?"<,:/]*')
_URI_PASSWORD_RUN = re.compile(r'[^@\s;>?"<,/]*')
_TEL = re.compile(r'(?i)(?<![\w+.-])tel:([^;>\s"<,?]+)')  # RFC 3966
_NAME_ADDR_LINE = re.compile(
    r"(?im)^(?:from|to|f|t|contact|m|route|record-route|reply-to|p-asserted-identity|p-preferred-identity|"
    r"remote-party-id|referred-by|refer-to|r|b|diversion|p-called-party-id|history-info|p-associated-uri)"
    r"[ \t]*:([^\r\n]*)")
_QUOTED_DISPLAY = re.compile(r'"((?:[^"\\\r\n]|\\.)*)"(?=[ \t]*<)')
# A display name quoted with escaped quotes (`From: \"arik\" <sip:...>`, a broken client's): no quoted-string for
# the grammar, still a name.
_ESCAPED_DISPLAY = re.compile(r'\\"([^"\\\r\n]*)\\"(?=[ \t]*<)')
# A display name that is not quoted (RFC 3261 §25.1 name-addr: *(token LWS) before "<"), blanks before "<" not in
# it (_displays strips them off group 1). Possessive: the lazy ([^,<>"\s;][^,<>";]*?)[ \t]*< it replaces tried the
# blanks after every character of a name, O(n^2) in a run of blanks inside one (37 s for 250 000 blanks).
_TOKEN_DISPLAY = re.compile(r'(?:^|,)[ \t]*+([^,<>"\s;][^,<>";]*+)<')
_SDP_ORIGIN_USER = re.compile(r"(?m)^o=([^ \r\n]+) ")
_SDP_CONTACT = re.compile(r"(?m)^[pe]=([^\r\n]+)")  # phone and e-mail of the session's owner (RFC 8866 §5.6)
_OPAQUE_VALUES = re.compile(
    r"(?i)(?:inline:([A-Za-z0-9+/=]+)|urn:uuid:([0-9a-f-]{8,})|(?<![\w-])cname:([^\s\r\n]+))")
# A letter before the address is allowed: phones glue their address to a branch or tag
# ("branch=z9hG4bKnp151248737-46ea715e192.168.1.2"); such a match is replaced only when the capture uses the address.
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?!\d|\.\d)")
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{8,}")
_IPV6 = re.compile(r"(?<![\w:.])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,8}(?:\.\d{1,3}\.\d{1,3}\.\d{1,3})?)"
                   r"(?![\w:]|\.\w)")


class TextRewriter:
    """Rewrites text payloads with one run's pseudonyms and the first pass's harvest."""

    def __init__(self, pseudonyms: Pseudonyms, harvest: Harvest) -> None:
        self.p = pseudonyms
        self.harvest = harvest
        hosts = sorted(harvest.hosts, key=len, reverse=True)
        self._hosts = (re.compile(r"(?i)(?<![\w.-])(" + "|".join(map(re.escape, hosts)) + r")(?![\w-]|\.\w)")
                       if hosts else None)
        # User names written as words (not numbers: a number also stands for a CSeq, a port, a status code)
        # are replaced wherever they stand as a word: Call-IDs, SDP s=, RTCP CNAME, X- headers.
        words = sorted((u for u in harvest.users
                        if len(u) >= 3 and any(c.isalpha() for c in u)), key=len, reverse=True)
        self._words = (re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, words)) + r")(?![\w-])")
                       if words else None)
        # Numbers of six digits or more likewise (Harvest.numbers): an `X-Number-Type: 9055551212`, `orig-user=`.
        numbers = sorted(harvest.numbers(), key=len, reverse=True)
        self._numbers = (re.compile(r"(?<![\w.+-])(" + "|".join(map(re.escape, numbers)) + r")(?![\w-])")
                         if numbers else None)
        # The capture's addresses written in hex, as phones build branches, tags and dialog ids from them
        # ("branch=z9hG4bKc0a8000a052181bc...": 192.168.0.10): found inside any word, as no boundary marks them.
        self._hex_ips = {ip.packed.hex(): ip for ip in harvest.ips if not kept_address(ip)}

    def rewrite(self, data: bytes) -> bytes:
        """The payload with every identifying value replaced; always the same length."""
        text = data.decode("latin-1")
        products = [(m.start(), m.end()) for m in _PRODUCT_LINE.finditer(text)]
        quiet = products + [(m.start(), m.end()) for m in _SDP_MEDIA_LINES.finditer(text)] if (
            self._hosts or self._words or self._numbers) else products
        taken = bytearray(len(text))
        spans: list[Span] = []

        def claim(found: Iterator[Span]) -> None:
            for start, end, new in found:
                if start < end and not any(taken[start:end]) and new != text[start:end]:
                    assert len(new) == end - start, (text[start:end], new)
                    taken[start:end] = b"\x01" * (end - start)
                    spans.append((start, end, new))

        def in_product(pos: int) -> bool:
            return any(a <= pos < b for a, b in products)

        def in_quiet(pos: int) -> bool:
            return any(a <= pos < b for a, b in quiet)

        claim(self._digest(text))
        claim(self._uri_users(text))
        claim(self._displays(text))
        claim(self._sdp(text))
        claim(self._ipv4(text, in_product))
        claim(self._ipv6(text, in_product))
        claim(self._hex_addresses(text, in_product))
        claim(self._named(text, self._hosts, self.p.host, in_quiet))
        claim(self._named(text, self._words, self.p.user, in_quiet))
        claim(self._named(text, self._numbers, self.p.user, in_quiet))
        if not spans:
            return data
        out = list(text)
        for start, end, new in spans:
            out[start:end] = list(new)
        result = "".join(out).encode("latin-1")
        assert len(result) == len(data)
        return result

    # ------------------------------------------------------------------------------------------ detectors

    def _digest(self, text: str) -> Iterator[Span]:
        for m in _DIGEST_PARAM.finditer(text):
            name = m.group(1).lower()
            group = 2 if m.group(2) is not None else 3
            value, start, end = m.group(group), m.start(group), m.end(group)
            if name == "username":
                yield start, end, self.p.user(value)
            elif name == "realm":
                yield start, end, self._host_or_address(value)
            else:
                yield start, end, self.p.token(value)

    def _host_or_address(self, value: str) -> str:
        try:
            ipaddress.ip_address(value.strip("[]"))
        except ValueError:
            return self.p.host(value)
        inner = value.strip("[]")
        return value.replace(inner, self.p.ip_text(inner))

    def _uri_users(self, text: str) -> Iterator[Span]:
        for user_start, user_end, password_end in _uri_user_spans(text):
            yield user_start, user_end, self.p.user(text[user_start:user_end])
            if password_end > user_end + 1:
                yield user_end + 1, password_end, self.p.token(text[user_end + 1:password_end])
        for m in _TEL.finditer(text):
            yield m.start(1), m.end(1), self.p.user(m.group(1))

    def _displays(self, text: str) -> Iterator[Span]:
        for line in _NAME_ADDR_LINE.finditer(text):
            value, base = line.group(1), line.start(1)
            for m in _ESCAPED_DISPLAY.finditer(value):
                yield base + m.start(1), base + m.end(1), self.p.user(m.group(1))
            for m in _QUOTED_DISPLAY.finditer(value):
                yield base + m.start(1), base + m.end(1), self.p.user(m.group(1))
            for m in _TOKEN_DISPLAY.finditer(value):
                name = m.group(1).rstrip(" \t")
                yield base + m.start(1), base + m.start(1) + len(name), self.p.user(name)

    def _sdp(self, text: str) -> Iterator[Span]:
        for m in _SDP_ORIGIN_USER.finditer(text):
            if m.group(1) != "-":
                yield m.start(1), m.end(1), self.p.user(m.group(1))
        for m in _SDP_CONTACT.finditer(text):
            yield m.start(1), m.end(1), self.p.user(m.group(1))
        for m in _OPAQUE_VALUES.finditer(text):
            group = next(i for i in (1, 2, 3) if m.group(i) is not None)
            new = self.p.cname if group == 3 else self.p.token  # cname: user@host (RFC 3550 §6.5.1)
            yield m.start(group), m.end(group), new(m.group(group))

    def _ipv4(self, text: str, in_product: Callable[[int], bool]) -> Iterator[Span]:
        for m in _IPV4.finditer(text):
            try:
                addr = ipaddress.IPv4Address(m.group(1))
            except ValueError:
                continue
            glued = m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_")
            if (in_product(m.start()) or glued) and addr not in self.harvest.ips:
                continue  # a version number such as 1.6.2.0 in a User-Agent, or "V4.2.0.0"
            yield m.start(1), m.end(1), self.p.ip_text(m.group(1))

    def _ipv6(self, text: str, in_product: Callable[[int], bool]) -> Iterator[Span]:
        for m in _IPV6.finditer(text):
            candidate, end = m.group(1), m.end(1)
            if candidate.count(":") < 2:
                continue
            try:
                addr = ipaddress.IPv6Address(candidate)
            except ValueError:
                # An address written without brackets before its port ("fe80:0:0:0:21a:a0ff:fe07:32e0:5060"),
                # as some phones do against RFC 5118 §4.3.
                candidate = candidate.rsplit(":", 1)[0]
                end = m.start(1) + len(candidate)
                try:
                    addr = ipaddress.IPv6Address(candidate)
                except ValueError:
                    continue
            if in_product(m.start()) and addr not in self.harvest.ips:
                continue
            yield m.start(1), end, self.p.ip_text(candidate)

    def _hex_addresses(self, text: str, in_product: Callable[[int], bool]) -> Iterator[Span]:
        if not self._hex_ips:
            return
        for run in _HEX_RUN.finditer(text):  # every 8- and 32-digit window of each run of hex digits
            lowered = run.group().lower()
            if in_product(run.start()) or lowered.isdigit():
                continue  # a decimal number (CSeq, SSRC, session id) is no address in hex
            for size in (8, 32):
                for i in range(len(lowered) - size + 1):
                    addr = self._hex_ips.get(lowered[i:i + size])
                    if addr is not None:
                        old, new = run.group()[i:i + size], self.p.ip(addr).packed.hex()
                        yield (run.start() + i, run.start() + i + size,
                               "".join(n.upper() if o.isupper() else n for o, n in zip(old, new)))

    @staticmethod
    def _named(text: str, pattern: re.Pattern | None, pseudonym: Callable[[str], str],
               in_product: Callable[[int], bool]) -> Iterator[Span]:
        if pattern is None:
            return
        for m in pattern.finditer(text):
            if not in_product(m.start()):
                yield m.start(1), m.end(1), pseudonym(m.group(1))


def _uri_user_spans(text: str) -> Iterator[tuple[int, int, int]]:
    """(user start, user end, password end) of each URI user part followed by "@", as re.finditer gives them for
    the pattern above _URI_SCHEME (password end == user end when there is no ":password"; a password may be
    empty).

    The pattern itself, at every scheme that no "@" ends, ran over the rest of the user and password characters and
    back: in a long run of them holding many schemes ("(sip:a(sip:a...", ":" being a password character) that was
    O(n^2). Its match is decided by where those runs end (a run cannot end in the middle for "@" to follow, "@"
    being in neither), so each run's end is found once and kept for the schemes inside it."""
    resume = 0  # the end of the last match: finditer looks on from there
    user_from = user_end = password_from = password_end = -1  # the last runs measured: all of one class
    for scheme in _URI_SCHEME.finditer(text):
        if scheme.start() < resume:
            continue
        start = scheme.end()
        if not user_from <= start <= user_end:
            user_from, user_end = start, _URI_USER_RUN.match(text, start).end()  # type: ignore[union-attr]
        if user_end == start:
            continue  # no user
        after = text[user_end:user_end + 1]
        if after == "@":
            resume = user_end + 1
            yield start, user_end, user_end
        elif after == ":":
            if not password_from <= user_end + 1 <= password_end:
                password_from = user_end + 1
                password_end = _URI_PASSWORD_RUN.match(text, password_from).end()  # type: ignore[union-attr]
            if text[password_end:password_end + 1] == "@":
                resume = password_end + 1
                yield start, user_end, password_end
