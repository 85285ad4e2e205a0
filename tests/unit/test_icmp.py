"""ICMP errors as router.icmp-unreachable reads them (sipdiag.icmp): the quoted flow and the reason."""

from __future__ import annotations

import struct

from sipdiag.icmp import parse_icmp_error
from sipdiag.model import Datagram
from tests import pcapwriter as pw


def _datagram(payload: bytes, transport: str = "icmp") -> Datagram:
    return Datagram(7, 1_000, "203.0.113.1", 0, "198.51.100.7", 0, transport, payload, (7,), "", "icmp")


def test_port_unreachable_quotes_the_udp_flow() -> None:
    quoted = pw.ipv4("198.51.100.7", "203.0.113.5", 17, pw.udp(40000, 50000, b"\x80" * 20))[:28]
    e = parse_icmp_error(_datagram(struct.pack("!BBHI", 3, 3, 0, 0) + quoted))
    assert (e.frame, e.reporter, e.version, e.reason, e.proto, e.flow) == (
        7, "203.0.113.1", 4, "port unreachable", 17, ("198.51.100.7", 40000, "203.0.113.5", 50000))


def test_icmpv6_prohibited_and_damaged_input() -> None:
    quoted = pw.ipv6("2001:db8::7", "2001:db8::5", 17, pw.udp(5060, 5060, b"OPTIONS"))[:48]
    e = parse_icmp_error(_datagram(struct.pack("!BBHI", 1, 1, 0, 0) + quoted, "icmpv6"))
    assert (e.version, e.reason, e.flow) == (6, "communication administratively prohibited",
                                             ("2001:db8::7", 5060, "2001:db8::5", 5060))
    assert parse_icmp_error(_datagram(b"\x03\x03\x00")) is None  # shorter than the ICMP header
    assert parse_icmp_error(_datagram(struct.pack("!BBHI", 3, 13, 0, 0) + b"\x45" + bytes(10))) is None
