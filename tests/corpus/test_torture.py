"""Every message of the RFC 4475 / RFC 5118 torture sets (and the other parser vectors in
`../shared/corpus/torture/`) parsed with `parse_sip(..., validate=True)`, one test per message.

Each entry states what the RFC says the message is and what sipdiag must read from it: the start line,
Call-ID, CSeq, top Via branch, Content-Length versus the framed body, and exactly which anomalies it raises
(none for the messages the RFCs call valid). `more` adds the message's own point where it has one.

The corpus is read in place (never copied): `../shared/corpus` from the project root, or $SIPDIAG_CORPUS
(tests/conftest.py); without it these tests are skipped with the reason.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from sipdiag.parsers.multipart import body_parts, sdp_of
from sipdiag.parsers.sip import SipMessage, parse_sip
from sipdiag.parsers.sipheaders import (
    is_rfc3261_branch,
    parse_contact,
    parse_digest,
    parse_max_forwards,
    parse_min_se,
    parse_reason,
    parse_session_expires,
    parse_via,
)
from sipdiag.parsers.sipuri import parse_name_addr, parse_uri
from tests.conftest import CORPUS

TORTURE = CORPUS / "torture"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not TORTURE.is_dir(), reason=f"torture corpus not found at {TORTURE} (set SIPDIAG_CORPUS)"),
]


def load(name: str) -> tuple[bytes, str]:
    """(SIP payload, transport) of a corpus file; the PcapPlusPlus vectors are hex dumps of whole frames."""
    data = (TORTURE / name).read_bytes()
    if not name.startswith("pcapplusplus-hex/"):
        return data, "udp"
    frame = bytes.fromhex("".join(data.decode("ascii").split()))
    ip = 14 + (8 if frame[12:14] == b"\x88\x64" else 0)  # Ethernet, optionally PPPoE session + PPP
    ip_end = ip + struct.unpack(">H", frame[ip + 2 : ip + 4])[0]
    l4 = ip + (frame[ip] & 0x0F) * 4
    if frame[ip + 9] == 17:
        return frame[l4 + 8 : ip_end], "udp"
    return frame[l4 + (frame[l4 + 12] >> 4) * 4 : ip_end], "tcp"


@dataclass(frozen=True)
class Expected:
    """What one corpus message must parse to."""

    start: tuple[str, str] | tuple[int | None, str]  # (method, Request-URI) or (status code, reason)
    call_id: str | None
    cseq: tuple[int, str] | None
    branch: str | None  # top Via
    content_length: str | None  # the header as written
    body_len: int
    anomalies: tuple[str, ...] = ()
    more: Callable[[SipMessage], None] | None = None


# --- per-message points -------------------------------------------------------------------------------------


def _wsinv(m: SipMessage) -> None:
    # RFC 4475 §3.1.1.1: LWS and folding everywhere, compact and mixed-case names
    assert m.to_tag == "1918181833n"
    assert m.from_tag == "98asjd8"
    assert parse_name_addr(m.headers.get("from")).display_name == 'J Rosenberg \\"'
    assert parse_max_forwards(m.headers.get("max-forwards")) == 68
    vias = [parse_via(v) for v in m.headers.get_all("via")]
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert m.headers.get("subject") == ""
    assert m.headers.get("newfangledheader") == "newfangled value continued newfangled value"
    assert m.headers.get("unknownheaderwithunusualvalue") == ";;,,;;,;"
    assert m.headers.get("route") == "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"
    contact = parse_contact(m.headers.get("contact"))
    assert contact.address.display_name == 'Quoted string ""'
    assert contact.q == 0.33
    assert contact.address.params == (("newparam", "newvalue"), ("secondparam", ""), ("q", "0.33"))


def _intmeth(m: SipMessage) -> None:
    # RFC 4475 §3.1.1.2: every legal token character, control characters in a quoted display name
    uri = parse_uri(m.request_uri)
    assert (uri.user, uri.password, uri.host) == (
        "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
        "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)",
        "example.com",
    )
    assert parse_name_addr(m.headers.get("to")).display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    sender = parse_name_addr(m.headers.get("from"))
    assert sender.display_name == "token1~` token2'+_ token3*%!.-"
    assert sender.param("fromparam''~+*_!.-%") == "\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"
    assert m.from_tag == "_token~1'+`*%!-."
    assert m.headers.get("extensionheader-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"


def _esc01(m: SipMessage) -> None:
    # RFC 4475 §3.1.1.3: escapes are kept as written; `C:` is Content-Type; folded Contact
    assert parse_uri(m.request_uri).user == "sips%3Auser%40example.com"
    assert m.content_type == "application/sdp"
    contact = parse_name_addr(m.headers.get("contact"))
    assert contact.uri.user == "cal%6Cer"
    assert contact.uri.params == (("%6c%72", ""), ("n%61me", "v%61lue%25%34%31"))


def _esc02(m: SipMessage) -> None:
    # RFC 4475 §3.1.1.5: RE%47IST%45R is not REGISTER; C%6Fntact is not Contact
    assert m.headers.get_all("contact") == ["<sip:alias1@host1.example.com>", "<sip:alias3@host3.example.com>"]
    assert m.headers.get("c%6fntact") == "<sip:alias2@host2.example.com>"
    assert parse_name_addr(m.headers.get("to")).display_name == "%Z%45"


def _escnull(m: SipMessage) -> None:
    assert [parse_contact(c).address.uri.user for c in m.headers.get_all("contact")] == ["%00", "%00%00"]
    assert m.headers.get("content-length") == "0"  # `L:0`


def _lwsdisp(m: SipMessage) -> None:
    assert parse_name_addr(m.headers.get("from")).display_name == "caller"


def _longreq(m: SipMessage) -> None:
    # RFC 4475 §3.1.1.7: 34 Via values written as Via, v, V, ViA, ... with LWS before the colon
    vias = m.headers.get_all("via")
    assert len(vias) == 34
    assert vias[0] == "SIP/2.0/TCP sip33.example.com"
    assert parse_via(vias[-1]).received == "192.0.2.5"
    to = parse_name_addr(m.headers.get("to"))
    assert to.uri.port == 6000
    assert to.display_name.startswith("I have a user name of extremeextremeextreme")
    assert m.from_tag == "1" + "298" * 50 + "2424"


def _dblreq(m: SipMessage) -> None:
    # RFC 4475 §3.1.1.8: the INVITE after the REGISTER in the same datagram is ignored
    assert m.raw_len == 300
    assert m.body == b""


def _semiuri(m: SipMessage) -> None:
    uri = parse_uri(m.request_uri)
    assert (uri.user, uri.host, uri.params) == ("user;par=u%40example.net", "example.com", ())
    assert m.headers.get_all("accept") == [
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    ]


def _transports(m: SipMessage) -> None:
    assert [parse_via(v).transport for v in m.headers.get_all("via")] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def _mpart01(m: SipMessage) -> None:
    parts = body_parts(m)
    assert [(kind, len(content)) for kind, content in parts] == [("text/plain", 5), ("application/octet-stream", 342)]
    assert parts[0][1] == b"Hello"
    assert parts[1][1].startswith(b"\x30\x82\x01\x52")  # DER SEQUENCE of 0x152 octets
    assert parse_via(m.headers.get("via")).rport is True
    assert m.user_agent == "SIPimp.org/0.2.5 (curses)"
    assert m.headers.get("identity").startswith("r5mwreLuyDRYBi/0TiPwEsY3rEVsk")


def _cparam01(m: SipMessage) -> None:
    # RFC 4475 §3.3.12: without <>, `;unknownparam` belongs to the Contact header, not to the URI
    contact = parse_contact(m.headers.get("contact"))
    assert (contact.address.uri.params, contact.address.params) == ((), (("unknownparam", ""),))


def _cparam02(m: SipMessage) -> None:
    contact = parse_contact(m.headers.get("contact"))
    assert (contact.address.uri.params, contact.address.params) == ((("unknownparam", ""),), ())


def _regescrt(m: SipMessage) -> None:
    contact = parse_contact(m.headers.get("contact"))  # `M:`
    assert contact.address.uri.headers == (("Route", "%3Csip:sip.example.com%3E"),)


def _unksm2(m: SipMessage) -> None:
    assert parse_name_addr(m.headers.get("to")).uri.scheme == "isbn"
    assert parse_name_addr(m.headers.get("from")).uri.scheme == "http"
    assert parse_contact(m.headers.get("contact")).address.uri_text == "name:John_Smith"


def _regaut01(m: SipMessage) -> None:
    credentials = parse_digest(m.headers.get("authorization"), credentials=True)
    assert (credentials.scheme, credentials.params) == ("NoOneKnowsThisScheme", (("opaque-data", "here"),))


def _bext01(m: SipMessage) -> None:
    assert m.headers.get_all("require") == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert m.headers.get_all("proxy-require") == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def _badbranch(m: SipMessage) -> None:
    # RFC 4475 §3.2.1: only the magic cookie: a transaction-layer matter, matched the RFC 2543 way
    assert is_rfc3261_branch(m.branch) is False


def _inv2543(m: SipMessage) -> None:
    # RFC 4475 §3.4.1: no branch, no From tag, no Content-Length (body = rest of datagram), no Max-Forwards
    assert m.from_tag is None
    assert sdp_of(m).media[0].formats == ("0",)


def _scalar02(m: SipMessage) -> None:
    assert parse_contact(m.headers.get("contact")).expires is None  # 280297596632815 > 2**32-1


def _multi01(m: SipMessage) -> None:
    assert m.headers.get_all("call-id") == ["multi01.98asdh@192.0.2.1", "multi01.98asdh@192.0.2.2"]


def _insuf(m: SipMessage) -> None:
    assert [a.detail for a in m.anomalies] == [
        "no From header (RFC 3261 §8.1.1)",
        "no To header (RFC 3261 §8.1.1)",
        "no Call-ID header (RFC 3261 §8.1.1)",
        "no Max-Forwards header (RFC 3261 §8.1.1)",
    ]


def _mismatch(m: SipMessage) -> None:
    assert m.cseq_method == "INVITE"


def _uri(host: str, port: int | None) -> Callable[[SipMessage], None]:
    def check(m: SipMessage) -> None:
        uri = parse_uri(m.request_uri)
        assert (uri.host, uri.port) == (host, port)

    return check


def _received(address: str) -> Callable[[SipMessage], None]:
    def check(m: SipMessage) -> None:
        assert parse_via(m.headers.get("via")).received == address

    return check


def _mult_ip_in_header(m: SipMessage) -> None:
    vias = [parse_via(v) for v in m.headers.get_all("via")]
    assert [(v.transport, v.host, v.port, v.received) for v in vias] == [
        ("UDP", "2001:db8::9:1", 6050, None),
        ("UDP", "192.0.2.1", None, None),
        ("TCP", "2001:db8::9:255", None, "192.0.2.200"),
    ]


def _ipv4_mapped(m: SipMessage) -> None:
    vias = [parse_via(v) for v in m.headers.get_all("via")]
    assert [(v.host, v.port) for v in vias] == [("::ffff:192.0.2.10", 19823), ("::ffff:192.0.2.2", None)]
    assert parse_contact(m.headers.get("contact")).address.uri.host == "::ffff:192.0.2.2"
    sdp = sdp_of(m)
    assert (sdp.origin.addrtype, sdp.connection.address) == ("IP6", "::ffff:192.0.2.2")


def _ipv6_in_sdp(m: SipMessage) -> None:
    sdp = sdp_of(m)
    assert [(media.media, media.port, media.connection.address) for media in sdp.media] == [
        ("audio", 6000, "2001:db8::20"),
        ("video", 6024, "2001:db8::20"),
    ]


def _mult_ip_in_sdp(m: SipMessage) -> None:
    # RFC 5118 §4.8: one media stream over IPv4, the other over IPv6, each with its own c=
    sdp = sdp_of(m)
    assert sdp.connection is None
    assert [(media.connection.addrtype, media.connection.address) for media in sdp.media] == [
        ("IP4", "192.0.2.1"),
        ("IP6", "2001:db8::1"),
    ]


def _pcap_sdp(m: SipMessage) -> None:
    sdp = sdp_of(m)
    assert [(media.media, media.proto, media.formats) for media in sdp.media] == [
        ("audio", "RTP/AVP", ("8", "96")),
        ("image", "udptl", ("t38",)),
    ]
    assert m.headers.get_all("allow")[-1] == "UPDATE"


def _non_default_port1(m: SipMessage) -> None:
    assert parse_session_expires(m.headers.get("session-expires")).delta_s == 1800
    assert parse_min_se(m.headers.get("min-se")) == 90
    assert parse_contact(m.headers.get("contact")).ob is True
    assert parse_via(m.headers.get("via")).rport is True
    assert sdp_of(m).media[0].rtcp.port == 4005


def _non_default_port2(m: SipMessage) -> None:
    via = parse_via(m.headers.get("via"))
    assert (via.rport, via.received) == (52380, "192.168.21.83")


def _req4(m: SipMessage) -> None:
    reason = parse_reason(m.headers.get("reason"))
    assert (reason.protocol, reason.cause, reason.text) == ("Q.850", 16, "NORMAL_CLEARING")


def _challenge(nonce: str, opaque: str) -> Callable[[SipMessage], None]:
    def check(m: SipMessage) -> None:
        challenge = parse_digest(m.headers.get("www-authenticate"))
        assert (challenge.scheme, challenge.realm, challenge.nonce, challenge.opaque) == (
            "Digest",
            "ims.hom",
            nonce,
            opaque,
        )
        assert (challenge.algorithm, challenge.qop, challenge.stale) == ("MD5", ("auth",), None)

    return check


TORTURE_SDP_LEN = 150  # the SDP body most RFC 4475 messages share

EXPECTED: dict[str, Expected] = {
    # RFC 4475 §3.1.1: valid messages
    "rfc4475/wsinv.dat": Expected(
        ("INVITE", "sip:vivekg@chair-dnrc.example.com;unknownparam"), "wsinv.ndaksdj@192.0.2.1", (9, "INVITE"),
        "390skdjuw", "150", 150, (), _wsinv,
    ),
    "rfc4475/intmeth.dat": Expected(
        (
            "!interesting-Method0123456789_*+`.%indeed'~",
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
            "@example.com",
        ),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{", (139122385, "!interesting-Method0123456789_*+`.%indeed'~"),
        "z9hG4bK-.!%66*_+`'~", "0", 0, (), _intmeth,
    ),
    "rfc4475/esc01.dat": Expected(
        ("INVITE", "sip:sips%3Auser%40example.com@example.net"), "esc01.239409asdfakjkn23onasd0-3234",
        (234234, "INVITE"), "z9hG4bKkdjuw", "150", 150, (), _esc01,
    ),
    "rfc4475/escnull.dat": Expected(
        ("REGISTER", "sip:example.com"), "escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd", (14398234, "REGISTER"),
        "z9hG4bKkdjuw", "0", 0, (), _escnull,
    ),
    "rfc4475/esc02.dat": Expected(
        ("RE%47IST%45R", "sip:registrar.example.com"), "esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
        (29344, "RE%47IST%45R"), "z9hG4bK209%fzsnel234", "0", 0, (), _esc02,
    ),
    "rfc4475/lwsdisp.dat": Expected(
        ("OPTIONS", "sip:user@example.com"), "lwsdisp.1234abcd@funky.example.com", (60, "OPTIONS"), "z9hG4bKkdjuw",
        "0", 0, (), _lwsdisp,
    ),
    "rfc4475/longreq.dat": Expected(
        ("INVITE", "sip:user@example.com"),
        "longreq.onereallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreally"
        "reallyreallyreallyreallyreallylongcallid",
        (3882340, "INVITE"), None, "150", 150, (), _longreq,
    ),
    # valid, and the 450 octets behind the Content-Length body (a whole INVITE) are ignored, as RFC 3261 §18.3 says
    "rfc4475/dblreq.dat": Expected(
        ("REGISTER", "sip:example.com"), "dblreq.0ha0isndaksdj99sdfafnl3lk233412", (8, "REGISTER"),
        "z9hG4bKkdjuw23492", "0", 0, ("sip.trailing-octets",), _dblreq,
    ),
    "rfc4475/semiuri.dat": Expected(
        ("OPTIONS", "sip:user;par=u%40example.net@example.com"), "semiuri.0ha0isndaksdj", (8, "OPTIONS"),
        "z9hG4bKkdjuw", "0", 0, (), _semiuri,
    ),
    "rfc4475/transports.dat": Expected(
        ("OPTIONS", "sip:user@example.com"), "transports.kijh4akdnaqjkwendsasfdj", (60, "OPTIONS"), "z9hG4bKkdjuw",
        "0", 0, (), _transports,
    ),
    "rfc4475/mpart01.dat": Expected(
        ("MESSAGE", "sip:kumiko@example.org"), "3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..", (1, "MESSAGE"),
        "z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-", "553", 553, (), _mpart01,
    ),
    "rfc4475/unreason.dat": Expected(
        (200, "= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e "
         "\u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435"),
        "unreason.1234ksdfak3j2erwedfsASdf", (35, "INVITE"), "z9hG4bK1324923", "154", 154,
    ),
    "rfc4475/noreason.dat": Expected(
        (100, ""), "noreason.asndj203insdf99223ndf", (35, "INVITE"), "z9hG4bK2398ndaoe", "0", 0,
    ),
    # RFC 4475 §3.1.2: invalid messages, each defect named
    "rfc4475/badinv01.dat": Expected(
        ("INVITE", "sip:user@example.com"), "badinv01.0ha0isndaksdjasdf3234nas", (8, "INVITE"), None, "152", 152,
        ("sip.bad-via", "sip.bad-name-addr"),
    ),
    "rfc4475/clerr.dat": Expected(
        ("INVITE", "sip:user@example.com"), "clerr.0ha0isndaksdjweiafasdk3", (8, "INVITE"), "z9hG4bK-39234-23523",
        "9999", 154, ("sip.bad-content-length",),
    ),
    "rfc4475/ncl.dat": Expected(
        ("INVITE", "sip:user@example.com"), "ncl.0ha0isndaksdj2193423r542w35", (0, "INVITE"), "z9hG4bKkdjuw",
        "-999", 152, ("sip.bad-content-length",),
    ),
    "rfc4475/scalar02.dat": Expected(
        ("REGISTER", "sip:example.com"), "scalar02.23o0pd9vanlq3wnrlnewofjas9ui32", None, "z9hG4bK342sdfoi3", "0", 0,
        ("sip.bad-cseq", "sip.bad-max-forwards", "sip.bad-expires", "sip.bad-expires"), _scalar02,
    ),
    "rfc4475/scalarlg.dat": Expected(
        (503, "Service Unavailable"), "scalarlg.noase0of0234hn2qofoaf0232aewf2394r", None, "z9hG4bKzzxdiwo34sw",
        "0", 0, ("sip.bad-cseq", "sip.bad-retry-after", "sip.bad-warning"),
    ),
    "rfc4475/quotbal.dat": Expected(
        ("INVITE", "sip:user@example.com"), "quotbal.aksdj", (8, "INVITE"), "z9hG4bKkdjuw39234", "152", 152,
        ("sip.bad-display-name",),
    ),
    "rfc4475/ltgtruri.dat": Expected(
        ("INVITE", "<sip:user@example.com>"), "ltgtruri.1@192.0.2.5", (1, "INVITE"), None, "159", 159,
        ("sip.bad-uri",),
    ),
    "rfc4475/lwsruri.dat": Expected(
        ("INVITE", "sip:user@example.com; lr"), "lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423",
        (2130706432, "INVITE"), "z9hG4bKkdjuw2395", "159", 159, ("sip.bad-start-line",),
    ),
    "rfc4475/lwsstart.dat": Expected(
        ("INVITE", "sip:user@example.com"), "lwsstart.dfknq234oi243099adsdfnawe3@example.com", (1893884, "INVITE"),
        "z9hG4bKkdjuw3923", "150", 150, ("sip.bad-start-line",),
    ),
    "rfc4475/trws.dat": Expected(
        ("OPTIONS", "sip:remote-target@example.com"), "trws.oicu34958239neffasdhr2345r", (238923, "OPTIONS"),
        "z9hG4bK299342093", "0", 0, ("sip.bad-start-line",),
    ),
    "rfc4475/escruri.dat": Expected(
        ("INVITE", "sip:user@example.com?Route=%3Csip:example.com%3E"),
        "escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5", (149209342, "INVITE"), "z9hG4bKkdjuw", "150", 150,
        ("sip.bad-uri",),
    ),
    "rfc4475/baddate.dat": Expected(
        ("INVITE", "sip:user@example.com"), "baddate.239423mnsadf3j23lj42--sedfnm234", (1392934, "INVITE"),
        "z9hG4bKkdjuw", "150", 150, ("sip.bad-date",),
    ),
    "rfc4475/regbadct.dat": Expected(
        ("REGISTER", "sip:example.com"), "regbadct.k345asrl3fdbv@10.0.0.1", (1, "REGISTER"), "z9hG4bKkdjuw", "0", 0,
        ("sip.bad-name-addr",),
    ),
    "rfc4475/badaspec.dat": Expected(
        ("OPTIONS", "sip:user@example.org"), "badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3", (3923239, "OPTIONS"),
        "z9hG4bKkdju43234", "0", 0, ("sip.bad-name-addr",),
    ),
    # this copy of baddn.dat also lacks the empty line that ends the headers (see misc/baddn.ersip-variant.dat)
    "rfc4475/baddn.dat": Expected(
        ("OPTIONS", "sip:t.watson@example.org"), "baddn.31415@c.example.com", (3923239, "OPTIONS"), "z9hG4bKkdjuw",
        "0", 0, ("sip.unterminated-headers", "sip.bad-display-name", "sip.bad-display-name"),
    ),
    "rfc4475/badvers.dat": Expected(
        ("OPTIONS", "sip:t.watson@example.org"), "badvers.31417@c.example.com", (1, "OPTIONS"), "z9hG4bKkdjuw", "0", 0,
        ("sip.unknown-protocol-version",),
    ),
    "rfc4475/mismatch01.dat": Expected(
        ("OPTIONS", "sip:user@example.com"), "mismatch01.dj0234sxdfl3", (8, "INVITE"), "z9hG4bKkdjuw", "0", 0,
        ("sip.cseq-method-mismatch",), _mismatch,
    ),
    "rfc4475/mismatch02.dat": Expected(
        ("NEWMETHOD", "sip:user@example.com"), "mismatch02.dj0234sxdfl3", (8, "INVITE"), "z9hG4bKkdjuw", "138", 138,
        ("sip.cseq-method-mismatch",), _mismatch,
    ),
    "rfc4475/bigcode.dat": Expected(
        (None, "better not break the receiver"), "bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i",
        (353494, "INVITE"), "z9hG4bK2398ndaoe", "0", 0, ("sip.bad-status-code",),
    ),
    # RFC 4475 §3.2/§3.3/§3.4: well-formed; the semantics are for transaction and application layers
    "rfc4475/badbranch.dat": Expected(
        ("OPTIONS", "sip:user@example.com"), "badbranch.sadonfo23i420jv0as0derf3j3n", (8, "OPTIONS"), "z9hG4bK", "0",
        0, (), _badbranch,
    ),
    "rfc4475/insuf.dat": Expected(
        ("INVITE", "sip:user@example.com"), None, (193942, "INVITE"), "z9hG4bKkdj.insuf", "152", 152,
        ("sip.missing-header",) * 4, _insuf,
    ),
    "rfc4475/unkscm.dat": Expected(
        ("OPTIONS", "nobodyKnowsThisScheme:totallyopaquecontent"), "unkscm.nasdfasser0q239nwsdfasdkl34",
        (3923423, "OPTIONS"), "z9hG4bKkdjuw39234", "0", 0,
    ),
    "rfc4475/novelsc.dat": Expected(
        ("OPTIONS", "soap.beep://192.0.2.103:3002"), "novelsc.asdfasser0q239nwsdfasdkl34", (3923423, "OPTIONS"),
        "z9hG4bKkdjuw39234", "0", 0,
    ),
    "rfc4475/unksm2.dat": Expected(
        ("REGISTER", "sip:example.com"), "unksm2.daksdj@hyphenated-host.example.com", (234902, "REGISTER"),
        "z9hG4bKkdjuw", "0", 0, (), _unksm2,
    ),
    "rfc4475/bext01.dat": Expected(
        ("OPTIONS", "sip:user@example.com"), "bext01.0ha0isndaksdj", (8, "OPTIONS"), "z9hG4bKkdjuw", "0", 0, (), _bext01,
    ),
    "rfc4475/invut.dat": Expected(
        ("INVITE", "sip:user@example.com"), "invut.0ha0isndaksdjadsfij34n23d", (235448, "INVITE"), "z9hG4bKkdjuw",
        "40", 40,
    ),
    "rfc4475/regaut01.dat": Expected(
        ("REGISTER", "sip:example.com"), "regaut01.0ha0isndaksdj", (9338, "REGISTER"), "z9hG4bKkdjuw", "0", 0, (),
        _regaut01,
    ),
    "rfc4475/multi01.dat": Expected(
        ("INVITE", "sip:user@company.com"), "multi01.98asdh@192.0.2.1", (5, "INVITE"), "z9hG4bKkdjuw", "154", 154,
        ("sip.multiple-values-single-header",) * 5, _multi01,
    ),
    # two Content-Length values (13 and 5): neither is trusted, the body is the rest of the datagram
    "rfc4475/mcl01.dat": Expected(
        ("OPTIONS", "sip:user@example.com"), "mcl01.fhn2323orihawfdoa3o4r52o3irsdf", (15932, "OPTIONS"),
        "z9hG4bK293423", "13", 67, ("sip.multiple-values-single-header", "sip.bad-content-length"),
    ),
    "rfc4475/bcast.dat": Expected(
        (200, "OK"), "bcast.0384840201234ksdfak3j2erwedfsASdf", (35, "INVITE"), "z9hG4bK1324923", "154", 154,
    ),
    "rfc4475/zeromf.dat": Expected(
        ("OPTIONS", "sip:user@example.com"), "zeromf.jfasdlfnm2o2l43r5u0asdfas", (39234321, "OPTIONS"),
        "z9hG4bKkdjuw2349i", "0", 0,
    ),
    "rfc4475/cparam01.dat": Expected(
        ("REGISTER", "sip:example.com"), "cparam01.70710@saturn.example.com", (2, "REGISTER"), "z9hG4bKkdjuw", "0", 0,
        (), _cparam01,
    ),
    "rfc4475/cparam02.dat": Expected(
        ("REGISTER", "sip:example.com"), "cparam02.70710@saturn.example.com", (3, "REGISTER"), "z9hG4bKkdjuw", "0", 0,
        (), _cparam02,
    ),
    "rfc4475/regescrt.dat": Expected(
        ("REGISTER", "sip:example.com"), "regescrt.k345asrl3fdbv@192.0.2.1", (14398234, "REGISTER"), "z9hG4bKkdjuw",
        "0", 0, (), _regescrt,
    ),
    "rfc4475/sdp01.dat": Expected(
        ("INVITE", "sip:user@example.com"), "sdp01.ndaksdj9342dasdd", (8, "INVITE"), "z9hG4bKkdjuw", "150", 150,
    ),
    # RFC 2543 syntax, accepted for backward compatibility; RFC 3261 §8.1.1 still wants Max-Forwards
    "rfc4475/inv2543.dat": Expected(
        ("INVITE", "sip:UserB@example.com"), "inv2543.1717@ift.client.example.com", (56, "INVITE"), None, None, 105,
        ("sip.missing-header",), _inv2543,
    ),
    # RFC 5118. The three SDP messages keep the RFC's Content-Length, counted with LF line ends (and off by one
    # in two of them), while the copies use CRLF: the octets behind Content-Length are ignored (RFC 3261 §18.3).
    "rfc5118/ipv6-good.dat": Expected(
        ("REGISTER", "sip:[2001:db8::10]"), "SSG9559905523997077@hlau_4100", (98176, "REGISTER"), "z9hG4bKas3-111",
        "0", 0, (), _uri("2001:db8::10", None),
    ),
    "rfc5118/ipv6-bad.dat": Expected(
        ("REGISTER", "sip:2001:db8::10"), "SSG9559905523997077@hlau_4100", (98176, "REGISTER"), "z9hG4bKas3-111",
        "0", 0, ("sip.bad-uri",),
    ),
    "rfc5118/port-ambiguous.dat": Expected(
        ("REGISTER", "sip:[2001:db8::10:5070]"), "SSG9559905523997077@hlau_4100", (98176, "REGISTER"),
        "z9hG4bKas3-111", "0", 0, (), _uri("2001:db8::10:5070", None),
    ),
    "rfc5118/port-unambiguous.dat": Expected(
        ("REGISTER", "sip:[2001:db8::10]:5070"), "SSG9559905523997077@hlau_4100", (98176, "REGISTER"),
        "z9hG4bKas3-111", "0", 0, (), _uri("2001:db8::10", 5070),
    ),
    "rfc5118/via-received-param-with-delim.dat": Expected(
        ("BYE", "sip:[2001:db8::10]"), "SSG9559905523997077@hlau_4100", (321, "BYE"), "z9hG4bKas3-111", "0", 0, (),
        _received("2001:db8::9:255"),
    ),
    "rfc5118/via-received-param-no-delim.dat": Expected(
        ("OPTIONS", "sip:[2001:db8::10]"), "SSG95523997077@hlau_4100", (921, "OPTIONS"), "z9hG4bKas3", "0", 0, (),
        _received("2001:db8::9:255"),
    ),
    "rfc5118/ipv6-in-sdp.dat": Expected(
        ("INVITE", "sip:user@[2001:db8::10]"), "SSG9559905523997077@hlau_4100", (8612, "INVITE"), "z9hG4bKas3-111",
        "241", 241, ("sip.trailing-octets",), _ipv6_in_sdp,
    ),
    "rfc5118/mult-ip-in-header.dat": Expected(
        ("BYE", "sip:user@host.example.net"), "997077@lau_4100", (89187, "BYE"), "z9hG4bKas3-111", "0", 0, (),
        _mult_ip_in_header,
    ),
    "rfc5118/mult-ip-in-sdp.dat": Expected(
        ("INVITE", "sip:user@[2001:db8::10]"), "SSG9559905523997077@hlau_4100", (8912, "INVITE"), "z9hG4bKas3-111",
        "181", 181, ("sip.trailing-octets",), _mult_ip_in_sdp,
    ),
    "rfc5118/ipv4-mapped-ipv6.dat": Expected(
        ("INVITE", "sip:user@example.com"), "SSG9559905523997077@hlau_4100", (612, "INVITE"), "z9hG4bKbh19", "236",
        236, ("sip.trailing-octets",), _ipv4_mapped,
    ),
    # §4.10: the ':::' form from the RFC 3261 ABNF bug is accepted (host kept as written) and reported
    "rfc5118/ipv6-bug-abnf-3-colons.dat": Expected(
        ("OPTIONS", "sip:user@[2001:db8:::192.0.2.1]"), "G9559905523997077@hlau_4100", (689, "OPTIONS"),
        "z9hG4bKas3-111", "0", 0, ("sip.bad-ipv6-reference", "sip.bad-ipv6-reference"),
        _uri("2001:db8:::192.0.2.1", None),
    ),
    "rfc5118/ipv6-correct-abnf-2-colons.dat": Expected(
        ("OPTIONS", "sip:user@[2001:db8::192.0.2.1]"), "G9559905523997077@hlau_4100", (689, "OPTIONS"),
        "z9hG4bKas3-111", "0", 0, (), _uri("2001:db8::192.0.2.1", None),
    ),
    # other parser vectors
    "misc/baddn.ersip-variant.dat": Expected(
        ("OPTIONS", "sip:t.watson@example.org"), "baddn.31415@c.example.com", (3923239, "OPTIONS"), "z9hG4bKkdjuw",
        "0", 0, ("sip.bad-display-name", "sip.bad-display-name"),
    ),
    # reSIProcate's test.dat: no SIP-Version, a line without colon, no Via/CSeq, URIs without scheme
    "misc/test.dat": Expected(
        ("INVITE", "sip:alan@jasomi.com"), "test.0ha0isndaksdj@192.0.2.1", None, None, "18", 18,
        (
            "sip.bad-start-line",
            "sip.bad-header-line",
            "sip.missing-header",
            "sip.missing-header",
            "sip.bad-uri",
            "sip.bad-uri",
        ),
    ),
    "pcapplusplus-hex/sdp.dat": Expected(
        (200, "OK"), "1450530377152201062221@10.33.6.101", (1, "INVITE"), "z9hG4bKac1450533991", "406", 406, (),
        _pcap_sdp,
    ),
    "pcapplusplus-hex/sip_non_default_port1.dat": Expected(
        ("INVITE", "sip:1006@192.168.21.83:52380"), "0c3bab2cebe34ec997a80daa4346b393", (12003, "INVITE"),
        "z9hG4bKPj93aab89581b04b2987b55a532031d712", "342", 342, (), _non_default_port1,
    ),
    "pcapplusplus-hex/sip_non_default_port2.dat": Expected(
        (200, "OK"), "0c1fb1c5-59f5-123f-1ab0-005056a58049", (108656438, "INVITE"), "z9hG4bK9jjge6H405c5a", "319", 319,
        (), _non_default_port2,
    ),
    "pcapplusplus-hex/sip_not_sdp.dat": Expected(
        ("PUBLISH", "sip:telephone1@172.16.98.101;transport=UDP"), "ZGM3MGRjZWQyMjg0MjRlMjdmZTM4YWZlODIzOGZjZDc.",
        (1, "PUBLISH"), "z9hG4bK-d8754z-a38d1e5f27dc0fb9-1---d8754z-", "273", 273,
    ),
    "pcapplusplus-hex/sip_req1.dat": Expected(
        ("INVITE", "sip:francisco@bestel.com:55060"), "12013223@200.57.7.195", (1, "INVITE"),
        "z9hG4bKff9b46fb055c0521cc24024da96cd290", "229", 229, ("sip.missing-header",),
    ),
    "pcapplusplus-hex/sip_req2.dat": Expected(
        ("CANCEL", "sip:echo@iptel.org"), "2091060b-146f-e011-809a-0019cb53db77@admind-desktop", (2, "CANCEL"),
        "z9hG4bKb26f2c0b-146f-e011-809a-0019cb53db77", "0", 0,
    ),
    # the vector ends after the last header line, without the empty line
    "pcapplusplus-hex/sip_req3.dat": Expected(
        ("ACK", "sip:admind@178.45.73.241"), "2091060b-146f-e011-809a-0019cb53db77@admind-desktop", (11, "ACK"), "0",
        None, 0, ("sip.unterminated-headers",),
    ),
    # the vector is cut inside "Content-Length"
    "pcapplusplus-hex/sip_req4.dat": Expected(
        ("BYE", "sip:sipp@10.0.2.20:5060"), "1-4247@10.0.2.20", (99791795, "BYE"), "z9hG4bKHUc1tjFS5809r", None, 0,
        ("sip.unterminated-headers", "sip.bad-header-line"), _req4,
    ),
    "pcapplusplus-hex/sip_resp1.dat": Expected(
        (100, "Trying"), "12013223@200.57.7.195", (1, "INVITE"), "z9hG4bKff9b46fb055c0521cc24024da96cd290", "0", 0,
    ),
    "pcapplusplus-hex/sip_resp2.dat": Expected(
        (180, "Ringing"), "12013223@200.57.7.195", (1, "INVITE"), "z9hG4bKff9b46fb055c0521cc24024da96cd290", "0", 0,
    ),
    "pcapplusplus-hex/sip_resp3.dat": Expected(
        (200, "Ok"), "12013223@200.57.7.195", (1, "INVITE"), "z9hG4bKff9b46fb055c0521cc24024da96cd290", "298", 298,
    ),
    "pcapplusplus-hex/sip_resp4.dat": Expected(
        (401, "Unauthorized"), "434981653", (1, "REGISTER"), "z9hG4bK758266975", "0", 0, (),
        _challenge("021fa2db5ff06518", "627f7bb95d5e2dcd"),
    ),
    "pcapplusplus-hex/sip_resp5.dat": Expected(  # over TCP
        (401, "Unauthorized"), "198676278", (1, "REGISTER"), "z9hG4bKPjEdA3euFH50yfFGylbD-3xRi65B931x1c", "0", 0, (),
        _challenge("39aec6350dece717", "4b41a11c5e861779"),
    ),
    "pcapplusplus-hex/sip_resp6.dat": Expected(
        (504, "Server Timeout"), "93803593", (1, "REGISTER"), "z9hG4bK19266132", "0", 0,
    ),
    "pcapplusplus-hex/sip_resp7.dat": Expected(
        (503, "Service Unavailable"), "1831883062", (1, "REGISTER"), "z9hG4bK2111620547", "0", 0,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_torture_message(name: str) -> None:
    expected = EXPECTED[name]
    payload, transport = load(name)
    message = parse_sip(payload, frame=7, transport=transport, validate=True)
    assert message is not None
    if isinstance(expected.start[0], str):
        assert (message.is_request, message.method, message.request_uri) == (True, *expected.start)
        assert message.status_code is None
    else:
        assert (message.is_request, message.status_code, message.reason) == (False, *expected.start)
        assert message.method is None
    assert message.call_id == expected.call_id
    assert message.cseq == expected.cseq
    assert message.branch == expected.branch
    assert message.headers.get("content-length") == expected.content_length
    assert len(message.body) == expected.body_len
    assert tuple(a.code for a in message.anomalies) == expected.anomalies
    assert {a.frame for a in message.anomalies} <= {7}
    if expected.more is not None:
        expected.more(message)


def test_every_corpus_message_has_expectations() -> None:
    """A file added to the corpus fails here until it gets its own entry above."""
    names = {
        path.relative_to(TORTURE).as_posix()
        for folder in ("rfc4475", "rfc5118", "misc", "pcapplusplus-hex")
        for path in (TORTURE / folder).glob("*.dat")
    }
    assert names == set(EXPECTED)


def test_every_corpus_message_parses_without_validation() -> None:
    """The eager parse alone never raises and reports only the framing and start-line defects."""
    eager_codes = {
        "sip.bad-start-line", "sip.bad-status-code", "sip.unknown-protocol-version", "sip.bad-header-line",
        "sip.missing-header", "sip.multiple-values-single-header", "sip.bad-cseq", "sip.cseq-method-mismatch",
        "sip.bad-content-length", "sip.trailing-octets", "sip.unterminated-headers",
    }  # fmt: skip
    for name, expected in EXPECTED.items():
        payload, transport = load(name)
        message = parse_sip(payload, transport=transport)
        assert message is not None, name
        codes = tuple(a.code for a in message.anomalies)
        assert codes == tuple(code for code in expected.anomalies if code in eager_codes), name
