"""ICMP errors as router.icmp-unreachable reads them (sipdiag.icmp): the quoted flow and the reason; which stream
they refused to its end (sipdiag.icmprefusal)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from sipdiag.clocksteps import NO_STEPS
from sipdiag.icmp import IcmpError, parse_icmp_error
from sipdiag.icmprefusal import IcmpRefusal, refusals
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


@dataclass(frozen=True)
class _Stream:
    first_frame: int
    last_frame: int
    end_ns: int
    src_ip: str = "198.51.100.7"
    src_port: int = 40000
    dst_ip: str = "203.0.113.5"
    dst_port: int = 50000


def _error(frame: int, s: float) -> IcmpError:
    return IcmpError(frame, int(s * 1e9), "203.0.113.5", 4, 3, 3, "port unreachable", 17, "198.51.100.7", 40000,
                     "203.0.113.5", 50000)


def test_errors_of_a_five_tuple_belong_to_the_stream_that_began_last_before_them() -> None:
    # An ICMP error quotes no SSRC (RFC 792): after a re-INVITE the same 5-tuple carries a new stream, which takes
    # the errors from its first packet on. The first stream drew none after its start and was delivered: the one 20 s
    # after its last packet answers no packet of it (a stray, or a use of the 5-tuple the capture did not keep).
    old, new = _Stream(10, 500, int(10e9)), _Stream(600, 1000, int(40e9))
    found = [_error(11, 0.5), _error(12, 0.6), _error(13, 0.7), _error(550, 30.0)] + [
        _error(610 + 40 * i, 32.0 + i) for i in range(8)]
    assert refusals([old, new], [None, None], found, NO_STEPS) == [
        None, IcmpRefusal("203.0.113.5", "port unreachable", 8, 610, 890)]
    # an error of TCP (a SIP flow with the same ports) is not the RTP stream's
    assert refusals([new], [None], [replace(e, proto=6) for e in found], NO_STEPS) == [None]
