"""What identifies people and hosts in SIP and SDP text, found with the project's parsers (first pass).

The second pass (`textrewrite`) replaces values in the text with regular expressions; this module tells it
which host names and user names the capture holds, so that they are also found where no grammar says where to
look (a Call-ID's host part, a `Warning` text, an `X-` header), and tells the pseudonym maker which values a
pseudonym must never be equal to.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ..parsers.sdp import parse_sdp
from ..parsers.sip import SipMessage
from ..parsers.sipheaders import parse_digest, parse_via
from ..parsers.sipuri import parse_name_addr, parse_uri
from .pseudonyms import Originals

# Headers whose values are name-addr/addr-spec (RFC 3261 §20, RFC 3325, RFC 3515, RFC 3892, RFC 5806, RFC 7044).
NAME_ADDR_HEADERS = (
    "from", "to", "contact", "route", "record-route", "reply-to", "p-asserted-identity", "p-preferred-identity",
    "remote-party-id", "referred-by", "refer-to", "diversion", "p-called-party-id", "history-info", "path",
    "service-route", "p-associated-uri",
)
AUTH_HEADERS = ("authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate",
                "authentication-info")
DIGEST_TOKENS = ("nonce", "cnonce", "response", "opaque", "nextnonce", "rspauth")
# RFC 3261 §25.1 hostname: labels of letters, digits and '-', the last one starting with a letter.
_HOSTNAME = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$")
# Warning values (RFC 3261 §20.43): warn-code, warn-agent (the host adding it, a hostport or a pseudonym), text.
_WARNING = re.compile(r'(?:^|,)[ \t]*\d{3}[ \t]+([^\s",]+)[ \t]+"')
# Hosts of other URLs in headers: Alert-Info and Call-Info (RFC 3261 §20.4, §20.9), Error-Info, ... (RFC 3986 §3.2).
_URL_HOST = re.compile(r'(?i)\b(?:https?|ftp|wss?)://(?:[^@/\s<>"]*@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)')
# Single-label names that are protocol words: never taken for a host name to replace everywhere.
PROTOCOL_WORDS = frozenset({
    "sip", "sips", "tel", "udp", "tcp", "tls", "sctp", "ws", "wss", "digest", "md5", "auth", "in", "ip4", "ip6",
    "rtp", "avp", "audio", "video", "invite", "ack", "bye", "cancel", "register", "options", "info", "update",
    "prack", "subscribe", "notify", "refer", "message", "publish", "user", "phone", "lr", "transport", "null",
    "none", "unknown", "anonymous", "true", "false",
})


@dataclass
class Harvest:
    """Values found in the capture's SIP, by kind (originals, never pseudonyms)."""

    hosts: set[str] = field(default_factory=set)  # host names (not addresses), as written
    users: set[str] = field(default_factory=set)  # user parts, tel numbers, digest user names, SDP o= users
    displays: set[str] = field(default_factory=set)  # display names, unquoted
    tokens: set[str] = field(default_factory=set)  # digest nonce/cnonce/response/opaque
    realms: set[str] = field(default_factory=set)
    ips: set = field(default_factory=set)  # ipaddress objects, from packet headers and SIP/SDP text

    def add_host(self, host: str | None) -> None:
        if not host:
            return
        host = host.strip("[]")
        try:
            self.ips.add(ipaddress.ip_address(host))
        except ValueError:
            if _HOSTNAME.match(host) and ("." in host or (len(host) >= 3 and host.lower() not in PROTOCOL_WORDS)):
                self.hosts.add(host.rstrip("."))

    def add_uri(self, text: str | None) -> None:
        uri = parse_uri(text) if text else None
        if uri is None:
            return
        if uri.user:
            self.users.add(uri.user)
        if uri.password:
            self.tokens.add(uri.password)
        self.add_host(uri.host)
        self.add_host(uri.param("maddr"))

    def add_message(self, message: SipMessage) -> None:
        """Everything identifying in one parsed SIP message."""
        self.add_uri(message.request_uri)
        headers = message.headers
        for name in NAME_ADDR_HEADERS:
            for value in headers.get_all(name):
                addr = parse_name_addr(value)
                if addr is None:
                    continue
                if addr.display_name:
                    self.displays.add(addr.display_name.replace('\\"', "").strip('"'))  # also \"name\"
                self.add_uri(addr.uri_text or None)
        for value in headers.get_all("via"):
            via = parse_via(value)
            if via is not None:
                self.add_host(via.host)
                self.add_host(via.received)
                self.add_host(via.maddr)
        for value in headers.get_all("warning"):
            for m in _WARNING.finditer(value):
                self.add_host(_without_port(m.group(1)))
        for _name, value in headers.items:
            if "//" in value:
                for m in _URL_HOST.finditer(value):
                    self.add_host(m.group(1))
        call_id = message.call_id
        if call_id and "@" in call_id:
            self.add_host(call_id.rsplit("@", 1)[1])
        for name in AUTH_HEADERS:
            for value in headers.get_all(name):
                self._add_auth(value)
        if message.body and b"v=0" in message.body[:64]:
            self._add_sdp(message.body)

    def _add_auth(self, value: str) -> None:
        digest = parse_digest(value)
        if digest is None:
            return
        params = dict(digest.params)
        if params.get("username"):
            self.users.add(params["username"])
        realm = params.get("realm")
        if realm:
            self.realms.add(realm)
            self.add_host(realm)
        for name in DIGEST_TOKENS:
            if params.get(name):
                self.tokens.add(params[name])
        self.add_uri(params.get("uri"))
        for uri in (params.get("domain") or "").split():  # the protection space's URIs (RFC 7616 §3.3)
            self.add_uri(uri)

    def _add_sdp(self, body: bytes) -> None:
        sdp = parse_sdp(body)
        if sdp.origin is not None:
            if sdp.origin.username and sdp.origin.username != "-":
                self.users.add(sdp.origin.username)
            self.add_host(sdp.origin.address)
        connections = [sdp.connection] + [m.connection for m in sdp.media]
        for c in connections:
            if c is not None:
                self.add_host(getattr(c, "address", None))
        for m in sdp.media:
            for cand in m.candidates:
                self.add_host(getattr(cand, "address", None))
                self.add_host(getattr(cand, "related_address", None))

    def numbers(self) -> list[str]:
        """The user parts that are telephone numbers of six digits or more (a leading "+" allowed): replaced
        wherever they stand as a word (an `X-Number-Type: 9055551212` header, a Contact's `orig-user=`
        parameter). Shorter ones are left where no grammar says they are a user: they are also ports, CSeq
        numbers and status codes."""
        return [u for u in self.users if re.fullmatch(r"\+?\d{6,}", u)]

    def originals(self, macs: set[bytes]) -> Originals:
        """What a pseudonym must never be equal to."""
        labels = {label.lower() for host in self.hosts | self.realms for label in host.split(".")}
        names = self.users | self.displays | self.tokens | self.realms
        return Originals(ips=set(self.ips), names=names, labels=labels, macs=set(macs))


def _without_port(hostport: str) -> str:
    if hostport.startswith("["):
        return hostport[1:hostport.find("]")] if "]" in hostport else hostport
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport
