"""Unit tests of the SIP parser: message framing, header container, structured header values, validation."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from sipdiag.model import Anomaly
from sipdiag.parsers.multipart import body_parts, sdp_of
from sipdiag.parsers.sip import Headers, frame_sip_stream, parse_sip
from sipdiag.parsers.sipheaders import (
    CSeq,
    DigestChallenge,
    DigestCredentials,
    is_rfc3261_branch,
    parse_contact,
    parse_cseq,
    parse_delta_seconds,
    parse_digest,
    parse_max_forwards,
    parse_min_se,
    parse_reason,
    parse_retry_after,
    parse_session_expires,
    parse_sip_date,
    parse_via,
    parse_warning,
)
from sipdiag.parsers.sipnames import canonical_header_name, header_display_name
from sipdiag.parsers.sipuri import SipUri, parse_name_addr, parse_uri, split_list
from sipdiag.parsers.sipvalidate import validate_sip


def sip(*lines: str, body: str = "") -> bytes:
    """A message from header lines joined with CRLF, the empty line, then the body."""
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


INVITE_HEAD = (
    "INVITE sip:bob@example.com SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776asdhds;rport",
    "Max-Forwards: 70",
    'From: "Alice" <sip:alice@example.com>;tag=1928301774',
    "To: <sip:bob@example.com>",
    "Call-ID: a84b4c76e66710@pc33.example.com",
    "CSeq: 314159 INVITE",
    "Contact: <sip:alice@192.0.2.4>",
)


def invite(*extra: str, body: str = "", content_length: bool = True) -> bytes:
    length = (f"Content-Length: {len(body.encode())}",) if content_length else ()
    return sip(*INVITE_HEAD, *extra, *length, body=body)


def codes(message) -> list[str]:
    return [a.code for a in message.anomalies]


# --- start line ------------------------------------------------------------------------------------------------


def test_request_fields_and_addressing() -> None:
    message = parse_sip(
        invite(), frame=12, ts_ns=1_700_000_000_123_456_789, src=("192.0.2.4", 5060), dst=("198.51.100.1", 5062)
    )
    assert (message.is_request, message.method, message.request_uri, message.version) == (
        True,
        "INVITE",
        "sip:bob@example.com",
        "SIP/2.0",
    )
    assert (message.status_code, message.reason) == (None, None)
    assert (message.frame, message.ts_ns) == (12, 1_700_000_000_123_456_789)
    assert (message.src_ip, message.src_port, message.dst_ip, message.dst_port) == (
        "192.0.2.4",
        5060,
        "198.51.100.1",
        5062,
    )
    assert message.transport == "udp"
    assert message.anomalies == ()
    assert message.call_id == "a84b4c76e66710@pc33.example.com"
    assert message.cseq == CSeq(314159, "INVITE") == (314159, "INVITE")
    assert message.cseq_method == "INVITE"
    assert (message.from_tag, message.to_tag) == ("1928301774", None)
    assert message.branch == "z9hG4bK776asdhds"


def test_response_fields() -> None:
    message = parse_sip(
        sip(
            "SIP/2.0 486 Busy Here",
            "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK776asdhds",
            "From: <sip:alice@example.com>;tag=1928301774",
            "To: <sip:bob@example.com>;tag=a6c85cf",
            "Call-ID: a84b4c76e66710",
            "CSeq: 314159 INVITE",
            "Server: Asterisk PBX 18.2.0",
            "Content-Length: 0",
        )
    )
    assert (message.is_request, message.method, message.request_uri) == (False, None, None)
    assert (message.status_code, message.reason) == (486, "Busy Here")
    assert message.cseq_method == "INVITE"
    assert message.to_tag == "a6c85cf"
    assert message.user_agent == "Asterisk PBX 18.2.0"
    assert message.anomalies == ()


@pytest.mark.parametrize(
    ("line", "status", "reason", "version", "expected"),
    [
        ("SIP/2.0 100 ", 100, "", "SIP/2.0", []),
        ("SIP/2.0 180 Ringing  ", 180, "Ringing  ", "SIP/2.0", []),
        ("sip/2.0 200 OK", 200, "OK", "SIP/2.0", []),  # SIP-Version is case-insensitive (RFC 3261 §7.1)
        ("SIP/2.0 100", 100, "", "SIP/2.0", ["sip.bad-start-line"]),
        ("SIP/2.0  200 OK", 200, "OK", "SIP/2.0", ["sip.bad-start-line"]),
        ("SIP/2.0 700 Strange", 700, "Strange", "SIP/2.0", ["sip.bad-status-code"]),
        ("SIP/2.0 20 OK", None, "OK", "SIP/2.0", ["sip.bad-status-code"]),
        ("SIP/3.0 200 OK", 200, "OK", "SIP/3.0", ["sip.unknown-protocol-version"]),
        ("SIP/2 200 OK", 200, "OK", "SIP/2", ["sip.bad-version"]),
    ],
)
def test_status_line_variants(line: str, status: int | None, reason: str, version: str, expected: list[str]) -> None:
    message = parse_sip(sip(line, "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1", "To: <sip:b@h>",
                            "Call-ID: c", "CSeq: 1 OPTIONS", "Content-Length: 0"))  # fmt: skip
    assert (message.status_code, message.reason, message.version) == (status, reason, version)
    assert codes(message) == expected


def test_request_line_whitespace_defects_keep_the_values() -> None:
    lws_start = parse_sip(invite().replace(b"INVITE sip:bob@example.com SIP/2.0", b"INVITE  sip:bob@example.com SIP/2.0"))
    assert (lws_start.method, lws_start.request_uri, codes(lws_start)) == (
        "INVITE",
        "sip:bob@example.com",
        ["sip.bad-start-line"],
    )
    lws_uri = parse_sip(invite().replace(b"sip:bob@example.com SIP", b"sip:bob@example.com ;lr SIP"))
    assert (lws_uri.request_uri, lws_uri.version) == ("sip:bob@example.com ;lr", "SIP/2.0")
    assert lws_uri.anomalies[0].detail == "Request-URI 'sip:bob@example.com ;lr' contains whitespace (RFC 4475 §3.1.2.8)"


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\r\n\r\n",  # RFC 5626 keep-alive ping
        b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        bytes.fromhex("8000a1b2000000640000abcd") + bytes(160),  # RTP
        bytes.fromhex("000100002112a442") + bytes(12),  # STUN binding request
        b"hello world",
    ],
)
def test_not_sip_gives_none(payload: bytes) -> None:
    assert parse_sip(payload) is None


def test_leading_crlf_is_skipped_silently() -> None:
    payload = b"\r\n\r\n" + invite()
    message = parse_sip(payload)
    assert (message.method, message.anomalies, message.raw_len) == ("INVITE", (), len(payload))
    assert message.raw is payload


def test_junk_before_the_start_line() -> None:
    message = parse_sip(b"garbage\x00\x01\r\n" + invite(), frame=3)
    assert message.method == "INVITE"
    assert message.anomalies == (
        Anomaly("sip.junk-before-message", 3, "11 octets before the start line were skipped"),
    )


def test_request_line_without_version_is_still_sip() -> None:
    message = parse_sip(b"INVITE sip:alan@jasomi.com\r\nCall-ID: x\r\n\r\n")
    assert (message.method, message.request_uri, message.version) == ("INVITE", "sip:alan@jasomi.com", "")
    assert codes(message)[0] == "sip.bad-start-line"


# --- headers ---------------------------------------------------------------------------------------------------


def test_compact_forms_are_expanded() -> None:
    message = parse_sip(
        sip(
            "REFER sip:bob@example.com SIP/2.0",
            "v: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK74bf9",
            "f: <sip:alice@example.com>;tag=1",
            "t: <sip:bob@example.com>",
            "i: 9876@192.0.2.4",
            "m: <sip:alice@192.0.2.4>",
            "k: replaces",
            "s: transfer",
            "r: <sip:carol@example.com>",
            "b: <sip:alice@example.com>",
            "o: refer",
            "u: refer, talk",
            "x: 1800",
            "a: *;audio",
            "j: *;video",
            "d: proxy",
            "e: gzip",
            "y: abc",
            "c: text/plain",
            "Max-Forwards: 70",
            "CSeq: 1 REFER",
            "l: 0",
        )
    )
    assert [name for name, _ in message.headers.items] == [
        "via", "from", "to", "call-id", "contact", "supported", "subject", "refer-to", "referred-by", "event",
        "allow-events", "session-expires", "accept-contact", "reject-contact", "request-disposition",
        "content-encoding", "identity", "content-type", "max-forwards", "cseq", "content-length",
    ]  # fmt: skip
    assert message.anomalies == ()
    assert message.call_id == "9876@192.0.2.4"
    assert message.headers.get_all("allow-events") == ["refer", "talk"]


def test_header_lookup_accepts_any_spelling() -> None:
    message = parse_sip(invite("ALLOW: INVITE, BYE", "user-AGENT: Linphone/5.2"))
    headers = message.headers
    for name in ("Call-ID", "call-id", "CALL-ID", "i", "I", " Call-ID "):
        assert headers.get(name) == "a84b4c76e66710@pc33.example.com"
    assert headers.get_all("Allow") == ["INVITE", "BYE"]
    assert message.user_agent == "Linphone/5.2"
    assert "cseq" in headers and "CSeq" in headers and "Subject" not in headers
    assert headers.get("subject") is None
    assert headers.get_all("subject") == []
    assert headers.count("via") == 1


def test_headers_are_immutable_values() -> None:
    message = parse_sip(invite())
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.headers.items = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.method = "BYE"  # type: ignore[misc]
    assert Headers((("via", "a"),)) == Headers((("via", "a"),))


def test_folded_lines_are_joined_with_one_space() -> None:
    message = parse_sip(
        invite(
            "Subject: I know you're there,",
            "         pick up the phone",
            "\t and talk to me!",
            "Supported:",
            "  timer,  100rel",
        )
    )
    assert message.headers.get("subject") == "I know you're there, pick up the phone and talk to me!"
    assert message.headers.get_all("supported") == ["timer", "100rel"]
    assert message.anomalies == ()


def test_folding_after_long_runs_of_blanks() -> None:
    # RFC 3261 §7.3.1: the blanks before and after the line break of a fold become one SP; blanks elsewhere stay.
    message = parse_sip(
        invite(
            "Subject: a" + " " * 2000 + "\t",
            "\t" * 500 + "b" + " " * 3000 + "c",
            "X-Padding: d" + " \t" * 1000 + "e",
            "X-Lines: f  ",
            "  ",
            "  g",
        )
    )
    assert message.headers.get("subject") == "a b" + " " * 3000 + "c"
    assert message.headers.get("x-padding") == "d" + " \t" * 1000 + "e"
    assert message.headers.get("x-lines") == "f  g"  # two folds, two SPs
    assert message.headers.get("cseq") == "314159 INVITE" and message.anomalies == ()


def test_a_folded_message_with_300000_blanks_in_one_value() -> None:
    """The folding pattern used to be tried at every position of a run of blanks not followed by a line break and
    ran to the run's end each time: O(n^2) in the run, minutes here (a header block over TCP can be ~1 MB)."""
    message = parse_sip(invite("Subject: folded", " line", "X-Padding: a" + " " * 300_000 + "b"), transport="tcp")
    assert message.headers.get("subject") == "folded line"
    assert message.headers.get("x-padding") == "a" + " " * 300_000 + "b"
    assert message.headers.get("content-length") == "0" and message.anomalies == ()


def test_name_spelling_with_lws_before_the_colon() -> None:
    message = parse_sip(invite().replace(b"Max-Forwards: 70", b"Max-Forwards   :   70"))
    assert message.headers.get("max-forwards") == "70"
    assert message.anomalies == ()


def test_comma_lists_are_split_where_the_grammar_allows() -> None:
    message = parse_sip(
        invite(
            "Via: SIP/2.0/UDP proxy1.example.com;branch=z9hG4bK1, SIP/2.0/TCP proxy2.example.com;branch=z9hG4bK2",
            'Contact: "Bell, Alexander" <sip:a.g.bell@example.com>;expires=60, <sip:agb@192.0.2.9,x>',
            "Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>",
            'WWW-Authenticate: Digest realm="a, b", nonce="x", qop="auth,auth-int"',
            "Date: Sat, 13 Nov 2010 23:29:00 GMT",
            "P-Asserted-Identity: <sip:+15551234@example.com>, <tel:+15551234>",
        )
    )
    headers = message.headers
    assert headers.get_all("via") == [
        "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776asdhds;rport",
        "SIP/2.0/UDP proxy1.example.com;branch=z9hG4bK1",
        "SIP/2.0/TCP proxy2.example.com;branch=z9hG4bK2",
    ]
    assert headers.get_all("contact") == [
        "<sip:alice@192.0.2.4>",
        '"Bell, Alexander" <sip:a.g.bell@example.com>;expires=60',
        "<sip:agb@192.0.2.9,x>",
    ]
    assert headers.get_all("route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert headers.get_all("www-authenticate") == ['Digest realm="a, b", nonce="x", qop="auth,auth-int"']
    assert headers.get_all("date") == ["Sat, 13 Nov 2010 23:29:00 GMT"]
    assert headers.get_all("p-asserted-identity") == ["<sip:+15551234@example.com>", "<tel:+15551234>"]
    assert [name for name, _ in headers.items].count("via") == 2  # items keep the wire lines


def test_get_gives_the_first_list_element() -> None:
    message = parse_sip(
        invite().replace(b"Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776asdhds;rport",
                         b"Via: SIP/2.0/UDP edge.example.com;branch=z9hG4bKtop, SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK2")
    )  # fmt: skip
    assert message.headers.get("via") == "SIP/2.0/UDP edge.example.com;branch=z9hG4bKtop"
    assert message.branch == "z9hG4bKtop"


def test_split_list_edge_cases() -> None:
    assert split_list("") == []
    assert split_list("*") == ["*"]
    assert split_list(" a ,, b ,") == ["a", "b"]
    assert split_list('"unterminated, <sip:x>') == ['"unterminated, <sip:x>']  # the quote runs to the end
    assert split_list("<sip:a@b, c") == ["<sip:a@b, c"]
    assert split_list('"a \\" b, c" <sip:x>, <sip:y>') == ['"a \\" b, c" <sip:x>', "<sip:y>"]


def test_header_names() -> None:
    assert canonical_header_name("l") == "content-length"
    assert canonical_header_name("X-Custom") == "x-custom"
    assert header_display_name("call-id") == "Call-ID"
    assert header_display_name("record-route") == "Record-Route"


def test_broken_header_line_is_reported_and_skipped() -> None:
    message = parse_sip(invite("Foobar roobar", "Bad Name: x", ": no name"), frame=5)
    assert message.anomalies == (
        Anomaly("sip.bad-header-line", 5, "not a 'name: value' header line: 'Foobar roobar'"),
        Anomaly("sip.bad-header-line", 5, "not a 'name: value' header line: 'Bad Name: x'"),
        Anomaly("sip.bad-header-line", 5, "not a 'name: value' header line: ': no name'"),
    )
    assert message.headers.get("content-length") == "0"


def test_missing_and_repeated_mandatory_headers() -> None:
    message = parse_sip(sip("BYE sip:bob@example.com SIP/2.0", "Call-ID: x", "Call-ID: y", "CSeq: 2 BYE"))
    assert codes(message) == [
        "sip.missing-header",
        "sip.missing-header",
        "sip.missing-header",
        "sip.missing-header",
        "sip.multiple-values-single-header",
    ]
    assert message.anomalies[-1].detail == "2 Call-ID headers ('x', 'y') where one is allowed (RFC 4475 §3.3.8)"
    assert message.call_id == "x"


@pytest.mark.parametrize(
    ("cseq", "expected", "anomalies"),
    [
        ("1 INVITE", (1, "INVITE"), []),
        ("0009\t INVITE", (9, "INVITE"), []),
        ("4294967295 INVITE", (4294967295, "INVITE"), []),
        ("4294967296 INVITE", None, ["sip.bad-cseq"]),
        ("INVITE", None, ["sip.bad-cseq"]),
        ("1 BYE", (1, "BYE"), ["sip.cseq-method-mismatch"]),
        ("-1 INVITE", None, ["sip.bad-cseq"]),
    ],
)
def test_cseq(cseq: str, expected: tuple[int, str] | None, anomalies: list[str]) -> None:
    message = parse_sip(invite().replace(b"CSeq: 314159 INVITE", f"CSeq: {cseq}".encode()))
    assert message.cseq == expected
    assert codes(message) == anomalies


def test_non_utf8_header_text() -> None:
    message = parse_sip(invite().replace(b'"Alice"', b'"Andr\xe9"'))
    assert codes(message) == ["sip.bad-utf8"]
    assert message.headers.get("from").startswith('"Andr\ufffd"')


def test_bare_lf_line_ends_are_accepted() -> None:
    message = parse_sip(invite(body="v=0\r\n").replace(b"\r\n", b"\n"))
    assert message.call_id == "a84b4c76e66710@pc33.example.com"
    assert message.body == b"v=0\n"


# --- body framing ----------------------------------------------------------------------------------------------


def test_body_is_cut_at_content_length() -> None:
    message = parse_sip(invite(body="v=0\r\n") + b"\r\n\r\n")  # trailing whitespace: no anomaly
    assert (message.body, message.anomalies) == (b"v=0\r\n", ())


def test_octets_after_the_body_are_reported() -> None:
    payload = invite(body="v=0\r\n") + b"junk"
    message = parse_sip(payload, frame=9)
    assert message.body == b"v=0\r\n"
    assert message.raw_len == len(payload) - 4
    assert message.anomalies == (
        Anomaly("sip.trailing-octets", 9, "4 octets after the Content-Length body were ignored (RFC 3261 §18.3)"),
    )


def test_content_length_larger_than_the_body() -> None:
    payload = invite(body="v=0\r\n").replace(b"Content-Length: 5", b"Content-Length: 500")
    message = parse_sip(payload)
    assert message.body == b"v=0\r\n"
    assert message.anomalies[0].detail == (
        "Content-Length 500 but only 5 octets follow the headers (message truncated or length wrong, RFC 4475 §3.1.2.2)"
    )


@pytest.mark.parametrize("value", ["abc", "-1", "5 5", "0x10"])
def test_content_length_not_a_number(value: str) -> None:
    message = parse_sip(invite(body="v=0\r\n").replace(b"Content-Length: 5", f"Content-Length: {value}".encode()))
    assert message.body == b"v=0\r\n"
    assert codes(message) == ["sip.bad-content-length"]


def test_missing_content_length_over_udp_and_tcp() -> None:
    payload = invite(body="v=0\r\n", content_length=False)
    udp = parse_sip(payload)
    assert (udp.body, udp.anomalies) == (b"v=0\r\n", ())
    tcp = parse_sip(payload, transport="tcp", frame=4)
    assert tcp.anomalies == (
        Anomaly("sip.missing-content-length", 4, "no Content-Length over tcp (RFC 3261 §18.3, §20.14)"),
    )


def notify(*, via: str = "z9hG4bKn1", from_tag: str = "f1", to_tag: str = "t1", call_id: str = "n1@host",
           extra: tuple[str, ...] = ()) -> bytes:
    return sip("NOTIFY sip:100@192.0.2.4 SIP/2.0", f"Via: SIP/2.0/UDP 192.0.2.9;branch={via}",
               f"From: <sip:pbx@example.com>;tag={from_tag}", f"To: <sip:100@example.com>;tag={to_tag}",
               f"Call-ID: {call_id}", "CSeq: 7 NOTIFY", "Max-Forwards: 70", *extra, "Content-Length: 0")


def test_control_characters_in_the_identifiers_are_an_anomaly() -> None:
    """RFC 3261 §25.1: a tag and a branch are a token, a Call-ID word [@ word]; a control character in one is a
    mangled message (heplify's erspan capture: NOTIFYs whose To tag ends in 0x18 0x01). Each identifier is named,
    quoted escaped (repr) and its controls listed; the whole value is read, also past U+001C-U+001F, where the tag
    the correlator matches on stops (Python's \\s). Before, nothing was reported on the eager path."""
    message = parse_sip(notify(via="z9hG4bKab\x01cd", from_tag="ab\x1ccd", call_id="n1\x7f@host",
                               to_tag="00E4EF38-5af571e&Sy\x18\x01"), frame=22)
    assert [(a.code, a.frame, a.detail) for a in message.anomalies] == [
        ("sip.control-in-identifier", 22, "Call-ID 'n1\\x7f@host' holds control character(s) 0x7F; it must be a "
                                          "word [@ word] (RFC 3261 §25.1): the message was mangled or forged"),
        ("sip.control-in-identifier", 22, "From tag 'ab\\x1ccd' holds control character(s) 0x1C; it must be a "
                                          "token (RFC 3261 §25.1): the message was mangled or forged"),
        ("sip.control-in-identifier", 22, "To tag '00E4EF38-5af571e&Sy\\x18\\x01' holds control character(s) "
                                          "0x18, 0x01; it must be a token (RFC 3261 §25.1): the message was mangled "
                                          "or forged"),
        ("sip.control-in-identifier", 22, "Via branch 'z9hG4bKab\\x01cd' holds control character(s) 0x01; it must "
                                          "be a token (RFC 3261 §25.1): the message was mangled or forged"),
    ]
    # still parsed and correlated on what it says
    assert (message.method, message.call_id, message.to_tag, message.branch) == (
        "NOTIFY", "n1\x7f@host", "00E4EF38-5af571e&Sy\x18\x01", "z9hG4bKab\x01cd")


def test_a_long_mangled_identifier_is_quoted_cut() -> None:
    (anomaly,) = parse_sip(notify(to_tag="x" * 130 + "\x01")).anomalies
    assert anomaly.detail == (f"To tag '{'x' * 120}...' holds control character(s) 0x01; it must be a token "
                              "(RFC 3261 §25.1): the message was mangled or forged")


@pytest.mark.parametrize("extra", [
    ("User-Agent: phone\x01 1.0",),  # a control character elsewhere: not an identifier's
    ("Subject: tab\tinside",),  # HTAB is LWS (RFC 3261 §25.1), no control character of a value
])
def test_control_characters_outside_the_identifiers_are_not_theirs(extra: tuple[str, ...]) -> None:
    assert parse_sip(notify(extra=extra)).anomalies == ()


def test_headers_without_empty_line() -> None:
    message = parse_sip("\r\n".join(INVITE_HEAD).encode())
    assert codes(message) == ["sip.unterminated-headers"]
    assert message.headers.get("contact") == "<sip:alice@192.0.2.4>"
    assert message.body == b""


def test_frame_sip_stream() -> None:
    first = invite(body="v=0\r\n")
    second = sip("SIP/2.0 200 OK", "Call-ID: x", "l: 3", body="abc")
    third = invite(body="v=0\r\no=- 1 1 IN IP4 192.0.2.4\r\n")
    data = b"\r\n\r\n" + first + b"\r\n" + second + third[:-10]
    messages, consumed = frame_sip_stream(data)
    assert messages == [first, second]
    assert consumed == 4 + len(first) + 2 + len(second)
    assert frame_sip_stream(data[consumed:] + third[-10:]) == ([third], len(third))
    assert frame_sip_stream(b"\r\n") == ([], 2)
    assert frame_sip_stream(b"INVITE sip:x SIP/2.0\r\nVia: x") == ([], 0)
    no_length = sip("OPTIONS sip:x SIP/2.0", "Call-ID: y")
    assert frame_sip_stream(no_length + no_length) == ([no_length, no_length], 2 * len(no_length))
    lf_message = b"SIP/2.0 200 OK\nCall-ID: z\nl: 2\n\nok"
    assert frame_sip_stream(lf_message + b"SIP/2.0 100 Trying\n") == ([lf_message], len(lf_message))


# --- URIs and address headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "user", "password", "host", "port", "params", "headers"),
    [
        ("sip:alice@atlanta.com", "sip", "alice", None, "atlanta.com", None, (), ()),
        ("sips:alice:secretword@atlanta.com;transport=tcp", "sips", "alice", "secretword", "atlanta.com", None,
         (("transport", "tcp"),), ()),
        ("sip:+1-212-555-1212:1234@gateway.com;user=phone", "sip", "+1-212-555-1212", "1234", "gateway.com", None,
         (("user", "phone"),), ()),
        ("sip:alice@192.0.2.4:5070;lr;maddr=239.255.255.1", "sip", "alice", None, "192.0.2.4", 5070,
         (("lr", ""), ("maddr", "239.255.255.1")), ()),
        ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", "sip", None, None, "atlanta.com", None,
         (("method", "REGISTER"),), (("to", "alice%40atlanta.com"),)),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent", "sip", "alice", None, "atlanta.com", None, (),
         (("subject", "project%20x"), ("priority", "urgent"))),
        ("SIP:[2001:db8::10]:5070;transport=udp", "sip", None, None, "2001:db8::10", 5070, (("transport", "udp"),), ()),
        ("sip:[2001:db8::10:5070]", "sip", None, None, "2001:db8::10:5070", None, (), ()),
        ("sip:bob@[::ffff:192.0.2.2]", "sip", "bob", None, "::ffff:192.0.2.2", None, (), ()),
        ("tel:+1-201-555-0123;phone-context=example.com", "tel", "+1-201-555-0123", None, None, None,
         (("phone-context", "example.com"),), ()),
        ("urn:service:sos", "urn", None, None, None, None, (), ()),
        ("soap.beep://192.0.2.103:3002", "soap.beep", None, None, "192.0.2.103", 3002, (), ()),
    ],
)  # fmt: skip
def test_parse_uri(text, scheme, user, password, host, port, params, headers) -> None:
    uri = parse_uri(text)
    assert uri == SipUri(scheme, user, password, host, port, params, headers, text)


def test_uri_helpers() -> None:
    uri = parse_uri("sip:bob@[2001:db8::1]:5061;transport=tls;lr")
    assert uri.hostport == "[2001:db8::1]:5061"
    assert (uri.param("transport"), uri.param("lr"), uri.param("maddr")) == ("tls", "", None)
    assert parse_uri("sip:bob@example.com").hostport == "example.com"
    assert parse_uri("alice@example.com") is None


@pytest.mark.parametrize(
    ("value", "display", "uri_text", "params"),
    [
        ('"Alice" <sip:alice@example.com>;tag=88sja8x', "Alice", "sip:alice@example.com", (("tag", "88sja8x"),)),
        ('"A \\"quoted\\" \\\\ name" <sip:a@b>', 'A "quoted" \\ name', "sip:a@b", ()),
        ("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8", "Anonymous", "sip:c8oqz84zk7z@privacy.org",
         (("tag", "hyh8"),)),
        ("sip:+12125551212@server.phone2net.com;tag=887s", None, "sip:+12125551212@server.phone2net.com",
         (("tag", "887s"),)),
        ("<sip:alice@example.com;transport=tcp>;expires=60", None, "sip:alice@example.com;transport=tcp",
         (("expires", "60"),)),
        ('<sip:a@b> ; +sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>" ; reg-id = 1', None, "sip:a@b",
         (("+sip.instance", "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"), ("reg-id", "1"))),
        ("Mr Watson<sip:watson@example.org>", "Mr Watson", "sip:watson@example.org", ()),
    ],
)  # fmt: skip
def test_parse_name_addr(value, display, uri_text, params) -> None:
    address = parse_name_addr(value)
    assert (address.display_name, address.uri_text, address.params) == (display, uri_text, params)
    assert address.uri == parse_uri(uri_text)


def test_from_tag_is_found_after_the_uri() -> None:
    message = parse_sip(invite().replace(b'"Alice" <sip:alice@example.com>;tag=1928301774',
                                         b'"x;tag=no>" <sip:alice@example.com;tag=uri>;tag=real'))  # fmt: skip
    assert message.from_tag == "real"


# --- Via, CSeq, Contact, digest, timers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "transport", "host", "port", "branch", "received", "rport"),
    [
        ("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds", "UDP", "pc33.atlanta.com", None, "z9hG4bK776asdhds",
         None, None),
        ("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKa", "UDP", "10.0.0.1", 5060, "z9hG4bKa", None, True),
        ("SIP/2.0/UDP 10.0.0.1:5060;received=203.0.113.9;rport=40112;branch=z9hG4bKb", "UDP", "10.0.0.1", 5060,
         "z9hG4bKb", "203.0.113.9", 40112),
        ("SIP / 2.0 / tcp  [2001:db8::9:1]:6050 ; branch = z9hG4bKc ; received=[2001:db8::9:255]", "TCP",
         "2001:db8::9:1", 6050, "z9hG4bKc", "2001:db8::9:255", None),
        ("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKd;rport", "WSS", "df7jal23ls0d.invalid", None, "z9hG4bKd",
         None, True),
    ],
)  # fmt: skip
def test_parse_via(value, transport, host, port, branch, received, rport) -> None:
    via = parse_via(value)
    assert (via.protocol, via.transport, via.host, via.port) == ("SIP/2.0", transport, host, port)
    assert (via.branch, via.received, via.rport) == (branch, received, rport)


def test_parse_via_rejects_a_value_without_sent_protocol() -> None:
    assert parse_via(";") is None
    assert parse_via("192.0.2.1;branch=z9hG4bK1") is None


def test_parse_cseq_and_branch_predicate() -> None:
    assert parse_cseq("101 ACK") == CSeq(101, "ACK")
    assert parse_cseq("101") is None
    assert parse_cseq(None) is None
    assert is_rfc3261_branch("z9hG4bK776asdhds") is True
    assert is_rfc3261_branch("z9hG4bK") is False
    assert is_rfc3261_branch("390skdjuw") is False
    assert is_rfc3261_branch(None) is False


def test_parse_contact() -> None:
    contact = parse_contact(
        '<sip:alice@192.0.2.4:5060;transport=tcp;ob>;expires=3600;q=0.7;'
        '+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1'
    )
    assert (contact.star, contact.expires, contact.q, contact.reg_id, contact.ob) == (False, 3600, 0.7, 1, True)
    assert contact.sip_instance == "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"
    assert contact.address.uri.host == "192.0.2.4"
    plain = parse_contact("sip:bob@192.0.2.5;expires=0")
    assert (plain.expires, plain.q, plain.sip_instance, plain.reg_id, plain.ob) == (0, None, None, None, False)
    assert parse_contact("*").star is True
    assert parse_contact("<sip:a@b>;expires=99999999999;q=7").expires is None


def test_parse_digest_challenge() -> None:
    challenge = parse_digest(
        'Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth,auth-int", '
        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=TRUE, algorithm=MD5'
    )
    assert challenge == DigestChallenge(
        "Digest", "atlanta.com", "f84f1cec41e6cbe5aea9c8e88d359", "", "MD5", ("auth", "auth-int"), True,
        "sip:ss1.carrier.com",
        (("realm", "atlanta.com"), ("domain", "sip:ss1.carrier.com"), ("qop", "auth,auth-int"),
         ("nonce", "f84f1cec41e6cbe5aea9c8e88d359"), ("opaque", ""), ("stale", "TRUE"), ("algorithm", "MD5")),
    )  # fmt: skip


def test_parse_digest_credentials() -> None:
    credentials = parse_digest(
        'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
        'uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", '
        'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    assert isinstance(credentials, DigestCredentials)
    assert (credentials.username, credentials.realm, credentials.uri, credentials.qop, credentials.nc) == (
        "bob", "biloxi.com", "sip:bob@biloxi.com", "auth", "00000001",
    )  # fmt: skip
    assert (credentials.cnonce, credentials.response, credentials.algorithm) == (
        "0a4f113b",
        "6629fae49393a05397450978507c4ef1",
        None,
    )
    assert parse_digest("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", credentials=True).scheme == "Basic"
    assert parse_digest("") is None


def test_scalar_headers() -> None:
    assert parse_delta_seconds("3600") == 3600
    assert parse_delta_seconds(" 0 ") == 0
    assert parse_delta_seconds("4294967296") is None
    assert parse_delta_seconds("1e3") is None
    assert parse_max_forwards("0068") == 68
    assert parse_max_forwards("256") is None
    assert parse_retry_after("120 (I'm in a meeting);duration=3600") == 120
    session_expires = parse_session_expires("1800 ; refresher=UAC")
    assert (session_expires.delta_s, session_expires.refresher) == (1800, "uac")
    assert parse_session_expires("90").refresher is None
    assert parse_session_expires("soon") is None
    assert parse_min_se("90;lr") == 90


def test_reason_warning_date() -> None:
    reason = parse_reason('SIP ;cause=200 ;text="Call completed elsewhere"')
    assert (reason.protocol, reason.cause, reason.text) == ("SIP", 200, "Call completed elsewhere")
    warning = parse_warning('307 isi.edu "Session parameter \'foo\' not understood"')
    assert (warning.code, warning.agent, warning.text) == (307, "isi.edu", "Session parameter 'foo' not understood")
    assert parse_warning('1812 overture "In Progress"') is None
    assert parse_sip_date("Sat, 13 Nov 2010 23:29:00 GMT") == datetime(2010, 11, 13, 23, 29, tzinfo=timezone.utc)
    assert parse_sip_date("Fri, 01 Jan 2010 16:00:00 EST") is None
    assert parse_sip_date("Fri, 31 Feb 2010 16:00:00 GMT") is None


# --- validation ------------------------------------------------------------------------------------------------


def test_validation_of_a_clean_message_adds_nothing() -> None:
    message = parse_sip(
        invite(
            "Record-Route: <sip:p1.example.com;lr>",
            "Route: <sip:p2.example.com;lr>",
            "Expires: 120",
            "Session-Expires: 1800;refresher=uac",
            "Min-SE: 90",
            "Date: Sat, 13 Nov 2010 23:29:00 GMT",
            "Warning: 399 sbc.example.com \"Codec downgraded\"",
            "Content-Type: application/sdp",
        ),
        validate=True,
    )
    assert message.anomalies == ()


def test_validation_reports_one_anomaly_per_kind_and_header() -> None:
    message = parse_sip(
        invite(
            "Route: sip:p1.example.com;lr",
            "Expires: soon",
            "Max-Forwards: 300",
            "Contact: <sip:b@c>;expires=-1, <sip:c@d>;q=2",
            "Via: SIP/2.0/UDP 192.0.2.9;received=host.example.com;rport=x",
            "Bad@Name: 1",
            "Call-ID: has space",
        ),
        frame=2,
        validate=True,
    )
    assert [(a.code, a.detail) for a in message.anomalies[2:]] == [
        ("sip.bad-name-addr", "Route: 'sip:p1.example.com;lr' must be a name-addr in <> (RFC 3261 §20.30)"),
        ("sip.bad-expires", "Expires 'soon' is not delta-seconds 0..2**32-1 (RFC 3261 §20.19)"),
        ("sip.bad-max-forwards", "Max-Forwards '300' is not 0..255 (RFC 3261 §20.22)"),
        ("sip.bad-expires", "Contact expires='-1' is not delta-seconds 0..2**32-1 (RFC 3261 §20.10)"),
        ("sip.bad-name-addr", "Contact q='2' is not a qvalue 0..1 (RFC 3261 §20.10)"),
        # one anomaly per kind and header: the bad rport of the same Via is not repeated
        ("sip.bad-via", "Via: received='host.example.com' is not an IP address (RFC 3261 §18.2.1)"),
        ("sip.bad-header-name", "header name 'bad@name' is not a token (RFC 3261 §7.3.1)"),
        ("sip.bad-call-id", "Call-ID 'has space' is not word[@word] (RFC 3261 §20.8)"),
    ]
    assert {a.frame for a in message.anomalies} == {2}


def test_star_contact_must_stand_alone() -> None:
    register = invite().replace(b"INVITE sip:bob@example.com", b"REGISTER sip:example.com").replace(
        b"CSeq: 314159 INVITE", b"CSeq: 2 REGISTER"
    )
    alone = parse_sip(register.replace(b"Contact: <sip:alice@192.0.2.4>", b"Contact: *"), validate=True)
    assert alone.anomalies == ()
    mixed = parse_sip(register.replace(b"Contact: <sip:alice@192.0.2.4>", b"Contact: *, <sip:a@b>"), validate=True)
    assert [a.detail for a in mixed.anomalies] == [
        "Contact: '*' combined with other Contact values (RFC 3261 §10.2.2)"
    ]


def test_validate_sip_returns_only_the_header_defects() -> None:
    message = parse_sip(invite("To: Watson, Thomas <sip:t.watson@example.org>"), frame=8)
    assert validate_sip(message) == (
        Anomaly(
            "sip.bad-display-name",
            8,
            "To: display name 'Watson, Thomas' has non-token characters and must be quoted (RFC 3261 §25.1)",
        ),
    )


# --- bodies ----------------------------------------------------------------------------------------------------

SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.4\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
ISUP = b"\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\x06\x0d\x03\x80\x90\xa2"


def test_plain_sdp_body() -> None:
    message = parse_sip(invite("Content-Type: application/sdp", body=SDP), frame=4)
    assert body_parts(message) == [("application/sdp", SDP.encode())]
    sdp = sdp_of(message)
    assert sdp.media[0].port == 4000
    assert parse_sip(invite()).headers.get("content-type") is None
    assert body_parts(parse_sip(invite())) == []
    assert sdp_of(parse_sip(invite())) is None


def test_multipart_sdp_and_isup() -> None:
    body = (
        b"--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + SDP.encode() + b"\r\n"
        b"--unique-boundary-1\r\nContent-Type: application/ISUP; version=itu-t92+\r\n"
        b"Content-Disposition: signal; handling=optional\r\n\r\n" + ISUP + b"\r\n"
        b"--unique-boundary-1--\r\n"
    )
    payload = sip(*INVITE_HEAD, 'Content-Type: multipart/mixed; boundary="unique-boundary-1"',
                  f"Content-Length: {len(body)}") + body  # fmt: skip
    message = parse_sip(payload, validate=True)
    assert message.content_type == "multipart/mixed"
    assert body_parts(message) == [("application/sdp", SDP.encode()), ("application/isup", ISUP)]
    assert sdp_of(message).media[0].formats == ("0",)
    assert message.anomalies == ()


def test_nested_multipart_is_flattened() -> None:
    inner = b"--in\r\nContent-Type: text/plain\r\n\r\nhello\r\n--in\r\nContent-Type: text/html\r\n\r\n<b>hi</b>\r\n--in--"
    body = (
        b"preamble\r\n--out\r\nContent-Type: multipart/alternative;boundary=in\r\n\r\n" + inner + b"\r\n"
        b"--out\r\n\r\nimplicit text/plain\r\n--out--\r\nepilogue"
    )
    payload = sip(*INVITE_HEAD, "Content-Type: multipart/mixed;boundary=out", f"Content-Length: {len(body)}") + body
    assert body_parts(parse_sip(payload)) == [
        ("text/plain", b"hello"),
        ("text/html", b"<b>hi</b>"),
        ("text/plain", b"implicit text/plain"),
    ]


def test_multipart_with_a_wrong_boundary() -> None:
    body = b"--other\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--other--\r\n"
    payload = sip(*INVITE_HEAD, "Content-Type: multipart/mixed;boundary=expected", f"Content-Length: {len(body)}") + body
    message = parse_sip(payload, validate=True)
    assert codes(message) == ["sip.bad-multipart"]
    assert body_parts(message) == [("multipart/mixed", body)]


def test_a_bare_lf_among_crlf_lines_ends_the_line() -> None:
    """One line ended by a bare LF (a device or an ALG that rewrote it): the header after it is its own, as
    Wireshark reads it, not the tail of the one before; the defect is named. Folding still joins lines."""
    payload = invite("User-Agent: phone/1.0\nAllow: INVITE, ACK", "Subject: one\r\n two").replace(
        b"phone/1.0\r\nAllow", b"phone/1.0\nAllow")
    message = parse_sip(payload, frame=3)
    assert message.headers.get("user-agent") == "phone/1.0"
    assert message.headers.get_all("allow") == ["INVITE", "ACK"]
    assert message.headers.get("subject") == "one two"
    assert message.anomalies == (Anomaly("sip.bare-lf", 3, "a header line ends with a bare LF while the others end "
                                                          "with CRLF (RFC 3261 §7)"),)
    assert codes(parse_sip(invite("User-Agent: phone/1.0", "Subject: one\r\n two"), frame=3)) == []


def test_a_bare_lf_before_no_header_stays_in_the_value() -> None:
    """Inside a display name (no `Name:` after it) a bare LF stays in the value: the reports show it escaped, and
    the From header is not cut in the middle of its quoted string."""
    payload = invite().replace(b'From: "Alice"', b'From: "Alice\nsecond line"')
    message = parse_sip(payload, frame=4)
    assert parse_name_addr(message.headers.get("from")).display_name == "Alice\nsecond line"
    assert codes(message) == ["sip.bare-lf"]


def test_headers_in_bare_lfs_then_a_body_in_crlfs() -> None:
    """A HEP generator's INVITE: header lines end in LF, the SDP body in CRLF. The first empty line (LF LF) ends the
    headers; the body is not read as header lines (the CRLF CRLF at its end used to be taken for the end of them)."""
    body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5072 RTP/AVP 0\r\n\r\n"
    head = "\n".join(INVITE_HEAD + ("Content-Type: application/sdp",
                                    f"Content-Length: {len(body)}"))
    message = parse_sip((head + "\n\n" + body).encode(), frame=5)
    assert message.body == body.encode()
    assert message.headers.get("call-id") == "a84b4c76e66710@pc33.example.com"
    assert message.headers.get("content-type") == "application/sdp"
    assert codes(message) == []
