"""Keyed, consistent, shape-keeping pseudonyms for the values `sipdiag anonymize` replaces.

Every pseudonym is derived with HMAC-SHA256 under one key per run (random unless `--key` is given), so the same
value always gets the same pseudonym within a run and, with the same key, across runs. Every pseudonym has the
*same text length* as the original, which keeps SIP Content-Length, TCP sequence numbers and IP fragment offsets
valid without re-framing anything (see docs/anonymize.md).

What each kind keeps, so that the analysis of the anonymised capture finds the same problems:
- IPv4: the class. RFC 1918 / RFC 6598 / link-local / 192.0.0.0/24 addresses stay in their block, public
  addresses go to public space outside every special-purpose block (RFC 6890), loopback, multicast, broadcast
  and unspecified stay as they are. Each octet keeps its number of digits, so the dotted text keeps its length.
- IPv6: the class (ULA fc00::/7 RFC 4193, link-local fe80::/10, global), zero groups stay zero and every other
  group keeps its number of significant hex digits, so any text form (compressed or not) keeps its length.
- Telephone numbers: length, a leading `+` or international prefix with the country code (ITU-T E.164), else
  the first digit; well-known emergency numbers stay as they are. Two numbers with the same last nine digits get
  pseudonyms with the same last nine digits (the analysis matches "+7 495...", "8495..." and "495..." by them:
  `sipdiag.correlate.number_key`), and a run of consecutive numbers (an extension sweep) becomes a run of
  consecutive pseudonyms (the scanner rule counts sweeps).
- Names (user parts, display names, host labels, digest values): length and the class of each character.
Pseudonyms never equal a value the capture holds (`Originals`), so an original value cannot reappear as another
value's pseudonym, and two values never share one (collisions are retried).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import re
import string
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from ..errors import SipdiagError

IPAddress = IPv4Address | IPv6Address

# Emergency and other service numbers classify calls (dial plans route them specially) and identify nobody.
EMERGENCY_NUMBERS = frozenset({"112", "911", "999", "000"})
# sipdiag.correlate.number_key: numbers of at least 6 digits are the same number when their last 9 digits are.
NUMBER_KEY_MIN, NUMBER_KEY_DIGITS = 6, 9
# The shortest run of consecutive numbers kept consecutive (checks.scanbehaviour.SEQUENTIAL_MIN).
SEQUENCE_MIN = 3
# International call prefixes seen in toll fraud (RULES.md sec.toll-fraud-attempt), longest first.
INTERNATIONAL_PREFIXES = ("9011", "0011", "011", "00")
# ITU-T E.164 country codes of one and two digits; every other code has three (E.164 Annex to ITU OB 1125).
_CC1 = {"1", "7"}
_CC2 = {"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
        "86", "90", "91", "92", "93", "94", "95", "98"}
# Host names that are not anybody's: kept as they are.
KEPT_HOSTS = frozenset({"localhost", "invalid", "localdomain"})

_HEX = "0123456789abcdef"
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")

# First octets of public pseudonyms by digit count: outside 0/8, 10/8, 100/8 (part RFC 6598), 127/8, 169/8
# (part link-local), 172/8 (part RFC 1918), 192/8, 198/8 and 203/8 (documentation and special blocks), 224/3.
_PUBLIC_FIRST = {
    1: tuple(range(1, 10)),
    2: tuple(range(11, 100)),
    3: tuple(o for o in range(101, 224) if o not in (127, 169, 172, 192, 198, 203)),
}
_V4_KEEP = tuple(ipaddress.ip_network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/3"))
# (block, how many leading octets stay, allowed values of the first changed octet or None for any)
_V4_PRIVATE = (
    (ipaddress.ip_network("10.0.0.0/8"), 1, None),
    (ipaddress.ip_network("172.16.0.0/12"), 1, range(16, 32)),
    (ipaddress.ip_network("192.168.0.0/16"), 2, None),
    (ipaddress.ip_network("100.64.0.0/10"), 1, range(64, 128)),
    (ipaddress.ip_network("169.254.0.0/16"), 2, None),
    (ipaddress.ip_network("192.0.0.0/24"), 3, None),
)
_V6_KEEP = tuple(ipaddress.ip_network(n) for n in ("::/127", "ff00::/8"))
# IPv6 prefixes whose last 32 bits are an IPv4 address, written dotted (RFC 4291 §2.5.5, RFC 6052).
_V6_EMBEDS_V4 = tuple(ipaddress.ip_network(n) for n in ("::ffff:0:0/96", "64:ff9b::/96", "::/96"))


class PseudonymSpaceError(SipdiagError):
    """Too many distinct values of one shape to give each its own same-length pseudonym."""

    hint = "This capture cannot be anonymised with same-length pseudonyms; split it with 'editcap -c' and retry."


@dataclass
class Originals:
    """Every value of the capture a pseudonym must not be equal to (filled in by the first pass)."""

    ips: set[IPAddress] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # user parts, display names, digest values, ...
    labels: set[str] = field(default_factory=set)  # host name labels, lower-case
    macs: set[bytes] = field(default_factory=set)


class Pseudonyms:
    """The per-run mapping. Not thread-safe; one instance per anonymisation run."""

    def __init__(self, key: bytes, originals: Originals | None = None) -> None:
        self._key = key
        self.originals = originals or Originals()
        self._ips: dict[IPAddress, IPAddress] = {}
        self._ips_used: set[IPAddress] = set()
        self._names: dict[tuple[str, str], str] = {}
        self._names_used: set[tuple[str, str]] = set()
        self._macs: dict[bytes, bytes] = {}
        self._macs_used: set[bytes] = set()
        # The last nine digits of every original number: a tail's pseudonym is never one of them, so no number's
        # pseudonym is taken for another original number by the analysis.
        self._tails = {_digits(n)[-NUMBER_KEY_DIGITS:] for n in self.originals.names if _is_number(n)}

    # ------------------------------------------------------------------------------------------ randomness

    def _stream(self, kind: str, value: str | bytes, attempt: int) -> bytes:
        data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        out = b""
        block = 0
        while len(out) < 64:
            msg = kind.encode() + b"\x00" + data + b"\x00" + attempt.to_bytes(4, "big") + block.to_bytes(2, "big")
            out += hmac.new(self._key, msg, hashlib.sha256).digest()
            block += 1
        return out

    @staticmethod
    def _pick(rnd: bytes, i: int, n: int) -> int:
        """A value below n from 2 random bytes at i (the small modulo bias does not matter here)."""
        j = (2 * i) % (len(rnd) - 1)
        return int.from_bytes(rnd[j:j + 2], "big") % n

    # ------------------------------------------------------------------------------------------ addresses

    def ip(self, addr: IPAddress) -> IPAddress:
        """The pseudonym of an address (same version, same class, same text length)."""
        done = self._ips.get(addr)
        if done is not None:
            return done
        if addr.version == 4:
            new = self._search(addr, self._ipv4_candidate)
        else:
            new = self._ipv6(addr)
        self._ips[addr] = new
        self._ips_used.add(new)
        return new

    def _search(self, addr, make):
        if make(addr, 0) == addr and kept_address(addr):
            return addr  # loopback, multicast, unspecified, broadcast
        for attempt in range(64):
            candidate = make(addr, attempt)
            if candidate != addr and candidate not in self._ips_used and candidate not in self.originals.ips:
                return candidate
        # A small block nearly full (every 10.0.0.x of one digit in use, say): every candidate of the shape in
        # turn, first those that are not another original address, then any not yet given out.
        shapes = list(_ipv4_shapes(addr)) if addr.version == 4 else []
        for avoid_originals in (True, False):
            for candidate in shapes:
                if candidate != addr and candidate not in self._ips_used and not (
                        avoid_originals and candidate in self.originals.ips):
                    return candidate
        raise PseudonymSpaceError(f"no free same-length pseudonym left for {addr}")

    def _ipv4_candidate(self, addr: IPv4Address, attempt: int) -> IPv4Address:
        if any(addr in net for net in _V4_KEEP) or addr == IPv4Address("255.255.255.255"):
            return addr
        octets = [int(o) for o in str(addr).split(".")]
        rnd = self._stream("ip4", addr.packed, attempt)
        keep, first_range = 0, None
        for net, kept, allowed in _V4_PRIVATE:
            if addr in net:
                keep, first_range = kept, allowed
                break
        out = octets[:keep]
        for i in range(keep, 4):
            digits = len(str(octets[i]))
            if keep == 0 and i == 0:
                choices = _PUBLIC_FIRST[digits]
            else:
                lo, hi = {1: (0, 9), 2: (10, 99), 3: (100, 255)}[digits]
                if i == 3 and octets[3] not in (0, 255):  # not a network or broadcast address
                    lo, hi = max(lo, 1), min(hi, 254)
                if i == keep and first_range is not None:
                    lo, hi = max(lo, first_range.start), min(hi, first_range.stop - 1)
                choices = range(lo, hi + 1)
            out.append(choices[self._pick(rnd, i, len(choices))])
        return IPv4Address(".".join(map(str, out)))

    def _ipv6(self, addr: IPv6Address) -> IPv6Address:
        if any(addr in net for net in _V6_KEEP) or addr.is_multicast:
            return addr
        for net in _V6_EMBEDS_V4:
            if addr in net and int(addr) & 0xFFFFFFFF:
                v4 = self.ip(IPv4Address(int(addr) & 0xFFFFFFFF))
                return IPv6Address(int(net.network_address) | int(v4))
        return self._search(addr, self._ipv6_candidate)

    def _ipv6_candidate(self, addr: IPv6Address, attempt: int) -> IPv6Address:
        groups = [int(addr.packed[i:i + 2].hex(), 16) for i in range(0, 16, 2)]
        rnd = self._stream("ip6", addr.packed, attempt)
        if addr in ipaddress.ip_network("fe80::/10"):
            keep = 4  # the link-local prefix; the interface identifier (often from the MAC) is replaced
        elif addr in ipaddress.ip_network("fc00::/7"):
            keep = 1  # fc/fd kept; the high byte is not zero, so the group keeps its four digits
            groups[0] = (groups[0] & 0xFF00) | self._pick(rnd, 0, 256)
        elif 0x2000 <= groups[0] <= 0x3FFF:
            keep = 1  # global unicast: into 2400::-2fff:: (allocated to the RIRs), away from 2001:db8::/32, 2002::/16
            groups[0] = 0x2400 + self._pick(rnd, 0, 0x0C00)
        else:
            keep = 1
        for i in range(keep, 8):
            if groups[i]:
                digits = len(f"{groups[i]:x}")
                lo = 1 if digits == 1 else 16 ** (digits - 1)
                groups[i] = lo + self._pick(rnd, i, 16 ** digits - lo)
        return IPv6Address(b"".join(g.to_bytes(2, "big") for g in groups))

    def ip_text(self, text: str) -> str:
        """The pseudonym of an address written as text, in the same layout (and so the same length)."""
        addr = ipaddress.ip_address(text)
        new = self.ip(addr)
        if addr.version == 4:
            return str(new)
        return _render_ipv6_like(text, new)

    def mac(self, mac: bytes) -> bytes:
        """A MAC address: group (multicast/broadcast) addresses kept; the vendor OUI of a universal address kept
        (it names the device maker, as the User-Agent does), the rest replaced (IEEE 802 §8.2)."""
        if mac[0] & 0x01 or mac == b"\x00" * 6:
            return mac
        done = self._macs.get(mac)
        if done is not None:
            return done
        keep = 1 if mac[0] & 0x02 else 3
        for attempt in range(64):
            new = mac[:keep] + self._stream("mac", mac, attempt)[:6 - keep]
            if new not in self._macs_used and new not in self.originals.macs:
                break
        self._macs[mac] = new
        self._macs_used.add(new)
        return new

    # ------------------------------------------------------------------------------------------ names

    def user(self, text: str) -> str:
        """A SIP/tel user part, display name or SDP user: numbers keep their dial-plan shape, names their
        character classes; `%XX` escapes are kept."""
        if text in EMERGENCY_NUMBERS or not text:
            return text
        if _is_number(text):
            digits = _digits(text)
            keep = _kept_digits(text)
            if keep >= len(digits):
                return text  # nothing but a country code or one digit: identifies nobody
            if len(digits) < NUMBER_KEY_MIN:
                return self._name("number", text, text, lambda rnd: _number(text, keep, rnd))
            # The last nine digits get their own pseudonym, the same in every number that ends with them; the
            # digits before them (kept prefix aside) are drawn for the whole number.
            tail = digits[-NUMBER_KEY_DIGITS:]
            kept_in_tail = max(0, keep - (len(digits) - len(tail)))
            new_tail = self._name("tail", f"{kept_in_tail}:{tail}", tail,
                                  lambda rnd: _number(tail, kept_in_tail, rnd), reserved=self._tails)
            return self._name("number", text, text, lambda rnd: _number(text, keep, rnd, new_tail))
        return self._name("user", text, text, lambda rnd: _classes(text, rnd, hex_keep=False))

    def sequences(self, users) -> None:
        """Give each run of consecutive numbers among `users` (the capture's user parts) a run of consecutive
        pseudonyms of the same length, before any other number is given one: an extension sweep (10, 11, 12, ...)
        stays a sweep for the scanner rule (RULES.md sec.scanner-detected). Numbers as the rule reads them:
        digits only, no leading zero, at most 15 digits; emergency numbers stay and so break a run."""
        numbers = sorted({int(u) for u in users if u.isascii() and u.isdigit() and len(u) <= 15
                          and (u == "0" or not u.startswith("0")) and u not in EMERGENCY_NUMBERS})
        runs: list[list[int]] = []
        for n in numbers:
            if runs and n == runs[-1][-1] + 1 and len(str(n)) == len(str(runs[-1][0])):
                runs[-1].append(n)
            else:
                runs.append([n])
        for run in runs:
            if len(run) < SEQUENCE_MIN:
                continue
            size, digits = len(run), len(str(run[0]))
            lo, hi = (10 ** (digits - 1) if digits > 1 else 0), 10 ** digits - size
            if hi < lo:
                continue
            start = None
            # First a window that holds no original number; when the sweep fills most of its shape (10-99), one
            # that only avoids the pseudonyms already given out.
            for avoid_originals, attempt in itertools.product((True, False), range(64)):
                rnd = self._stream("run", str(run[0]), attempt)
                first = lo + int.from_bytes(rnd[:8], "big") % (hi - lo + 1)
                window = [str(first + i) for i in range(size)]
                if first != run[0] and not any(
                        ("number", w) in self._names_used or w in EMERGENCY_NUMBERS
                        or (avoid_originals and w in self.originals.names) for w in window):
                    start = first
                    break
            if start is None:
                continue  # numbers of the run get pseudonyms one by one
            for i, n in enumerate(run):
                self._names[("number", str(n))] = str(start + i)
                self._names_used.add(("number", str(start + i)))

    def token(self, text: str) -> str:
        """An opaque value (nonce, cnonce, response, opaque, key, UUID): hex stays hex, other characters keep
        their class."""
        if not text:
            return text
        return self._name("token", text, text, lambda rnd: _classes(text, rnd, hex_keep=True))

    def cname(self, text: str) -> str:
        """An RTCP SDES CNAME or EMAIL, or an SDP `cname:`: `user@host` (RFC 3550 §6.5.1), its host a numeric
        address or a domain name, mapped part by part (so an address stays an address, the same as in the IP
        headers); a value without "@" that is an address or a domain name likewise; anything else (WebRTC's
        random CNAMEs) keeps its length and character classes."""
        user, at, host = text.rpartition("@")
        if at:
            return (self.user(user) if user else "") + "@" + self._address_or_host(host)
        return self._address_or_host(text)

    def _address_or_host(self, text: str) -> str:
        try:
            ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            if "." in text and re.fullmatch(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\.?", text) and any(
                    c.isalpha() for c in text.rsplit(".", 1)[-1]):
                return self.host(text)
            return self.token(text)
        inner = text.strip("[]")
        return text.replace(inner, self.ip_text(inner))

    def host(self, text: str) -> str:
        """A host or domain name, label by label (so `pbx.example.com` and `example.com` stay related); the top
        level domain of a dotted name is kept, as are `localhost` and `.invalid`."""
        if not text or text.lower() in KEPT_HOSTS:
            return text
        labels = text.split(".")
        out = []
        for i, label in enumerate(labels):
            last = i == len(labels) - 1
            if not label or label.lower() in KEPT_HOSTS or (last and len(labels) > 1 and label.isalpha()):
                out.append(label)
                continue
            key = label.lower()
            lower = self._name("label", key, key, lambda rnd, key=key: _classes(key, rnd, hex_keep=False),
                               reserved=self.originals.labels)
            out.append("".join(n.upper() if o.isupper() else n for o, n in zip(label, lower)))
        return ".".join(out)

    def _name(self, kind: str, key: str, text: str, make, reserved: set[str] | None = None) -> str:
        done = self._names.get((kind, key))
        if done is not None:
            return done
        reserved = self.originals.names if reserved is None else reserved
        if not _has_randomisable(text):
            return text  # punctuation only: nothing to hide
        new = None
        for attempt in range(128):
            candidate = make(self._stream(kind, key, attempt))
            if candidate == text and _has_randomisable(text):
                continue
            if (kind, candidate) not in self._names_used and candidate not in reserved \
                    and candidate not in EMERGENCY_NUMBERS:
                new = candidate
                break
        if new is None:
            new = self._exhaustive(kind, text, reserved)
        self._names[(kind, key)] = new
        self._names_used.add((kind, new))
        return new

    def _exhaustive(self, kind: str, text: str, reserved: set[str]) -> str:
        """Every same-shape string in turn, for short values whose space is (nearly) all in use: two-digit
        extensions 00-99 all registered, one-letter labels. First one that is no original value; if the
        capture holds every value of the shape, one that is not given out yet (then a pseudonym can equal
        another original value: nothing of that length could not)."""
        alphabets = [_alphabet(c) for c in text]
        size = 1
        for a in alphabets:
            size *= len(a) if a else 1
        if size > 1 << 20:
            raise PseudonymSpaceError(f"no free same-length pseudonym left for a {kind} of {len(text)} characters")
        for avoid_originals in (True, False):
            for i in range(size):
                out, rest = [], i
                for c, a in zip(text, alphabets):
                    if a:
                        out.append(a[rest % len(a)])
                        rest //= len(a)
                    else:
                        out.append(c)
                candidate = "".join(out)
                if candidate != text and (kind, candidate) not in self._names_used \
                        and candidate not in EMERGENCY_NUMBERS and not (avoid_originals and candidate in reserved):
                    return candidate
        raise PseudonymSpaceError(f"no free same-length pseudonym left for a {kind} of {len(text)} characters")



def kept_address(addr: IPAddress) -> bool:
    if addr.version == 4:
        return any(addr in net for net in _V4_KEEP) or addr == IPv4Address("255.255.255.255")
    return any(addr in net for net in _V6_KEEP) or addr.is_multicast


def _alphabet(c: str) -> str:
    if not c.isascii():
        return string.ascii_lowercase
    if c.isdigit():
        return string.digits
    if c.islower():
        return string.ascii_lowercase
    if c.isupper():
        return string.ascii_uppercase
    return ""


def _ipv4_shapes(addr: IPv4Address):
    """Every address of the block and digit counts of `addr` (see Pseudonyms._ipv4_candidate)."""
    octets = [int(o) for o in str(addr).split(".")]
    keep, first_range = 0, None
    for net, kept, allowed in _V4_PRIVATE:
        if addr in net:
            keep, first_range = kept, allowed
            break
    ranges = []
    for i in range(keep, 4):
        lo, hi = {1: (0, 9), 2: (10, 99), 3: (100, 255)}[len(str(octets[i]))]
        if keep == 0 and i == 0:
            ranges.append([o for o in _PUBLIC_FIRST[len(str(octets[0]))]])
            continue
        if i == keep and first_range is not None:
            lo, hi = max(lo, first_range.start), min(hi, first_range.stop - 1)
        ranges.append(list(range(lo, hi + 1)))
    for combo in itertools.product(*ranges):
        yield IPv4Address(".".join(map(str, octets[:keep] + list(combo))))


def _has_randomisable(text: str) -> bool:
    return any(c.isalnum() or not c.isascii() for c in text)


def _kept_digits(text: str) -> int:
    """How many leading digits of a number keep their value: international prefix + country code, or the
    first digit (trunk prefix, outside-line digit)."""
    digits = "".join(c for c in text if c.isdigit())
    prefix = 0
    if text.lstrip().startswith("+"):
        prefix = 0
    else:
        for p in INTERNATIONAL_PREFIXES:
            if digits.startswith(p) and len(digits) > len(p) + 3:
                prefix = len(p)
                break
        else:
            return min(1, len(digits))
    rest = digits[prefix:]
    cc = 1 if rest[:1] in _CC1 else 2 if rest[:2] in _CC2 else 3
    return min(len(digits), prefix + cc)


def _is_number(text: str) -> bool:
    return any(c.isdigit() for c in text) and all(c.isdigit() or c in "+-.() " for c in text)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _number(text: str, keep: int, rnd: bytes, tail: str = "") -> str:
    """`text` with its digits after the first `keep` drawn from `rnd`, its last len(tail) digits `tail`."""
    out = []
    seen = 0
    total = sum(c.isdigit() for c in text)
    for i, c in enumerate(text):
        if c.isdigit():
            seen += 1
            if seen > total - len(tail):
                out.append(tail[seen - 1 - (total - len(tail))])
            else:
                out.append(c if seen <= keep else str(Pseudonyms._pick(rnd, i, 10)))
        else:
            out.append(c)
    return "".join(out)


def _classes(text: str, rnd: bytes, *, hex_keep: bool) -> str:
    is_hex = hex_keep and all(c in string.hexdigits for c in text)
    upper_hex = is_hex and any(c in "ABCDEF" for c in text)
    escapes = {i for m in _PERCENT_ESCAPE.finditer(text) for i in range(m.start(), m.end())}
    out = []
    for i, c in enumerate(text):
        r = Pseudonyms._pick(rnd, i, 1 << 16)
        if i in escapes:
            out.append(c)
        elif not c.isascii():
            # Text is handled as Latin-1-decoded bytes: a byte of a UTF-8 sequence (Cyrillic display names)
            # becomes an ASCII letter, so the value keeps its length in bytes and stays valid UTF-8.
            out.append(string.ascii_lowercase[r % 26])
        elif is_hex:
            h = _HEX[r % 16]
            out.append(h.upper() if upper_hex else h)
        elif c.isdigit():
            out.append(str(r % 10))
        elif c.islower():
            out.append(string.ascii_lowercase[r % 26])
        elif c.isupper():
            out.append(string.ascii_uppercase[r % 26])
        else:
            out.append(c)
    return "".join(out)


def _render_ipv6_like(original: str, new: IPv6Address) -> str:
    """Write `new` in the layout of `original`: the same `::` position, the same width and letter case of every
    written group, a dotted IPv4 tail where the original has one. Zero groups stay zero and other groups keep
    their significant digits (see Pseudonyms._ipv6_candidate), so every group fits."""
    groups = [new.packed[i:i + 2].hex() for i in range(0, 16, 2)]
    tail_v4 = "." in original
    head, _, tail = original.rpartition(":") if tail_v4 else (original, "", "")
    if tail_v4:
        v4 = str(IPv4Address(new.packed[12:]))
        head = head + ":"
    n_groups = 6 if tail_v4 else 8
    if "::" in head:
        left, right = head.split("::", 1)
    else:
        left, right = head, None
    left_parts = [p for p in left.split(":")] if left else []
    if right is None:
        left_parts = [p for p in left_parts if p != ""] if tail_v4 else left_parts
        right_parts: list[str] = []
    else:
        right_parts = [p for p in right.split(":") if p != ""]
    upper = any(c.isupper() for c in original)
    out_left = [_group_like(p, groups[i], upper) for i, p in enumerate(left_parts[:n_groups])]
    start = n_groups - len(right_parts)
    out_right = [_group_like(p, groups[start + i], upper) for i, p in enumerate(right_parts)]
    if right is None:
        text = ":".join(out_left)
    else:
        text = ":".join(out_left) + "::" + ":".join(out_right)
    if tail_v4:
        text = (text if text.endswith(":") else text + ":") + v4
    return text


def _group_like(written: str, value_hex: str, upper: bool) -> str:
    value = (value_hex.lstrip("0") or "0").rjust(len(written), "0")
    return value.upper() if upper else value
