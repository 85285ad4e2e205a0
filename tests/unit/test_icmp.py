"""ICMP errors as router.icmp-unreachable reads them (sipdiag.icmp): the quoted flow and the reason; which stream
they refused to its end (sipdiag.icmprefusal); the path MTU router.udp-fragmentation reads from them."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from sipdiag.clocksteps import NO_STEPS, ClockSteps
from sipdiag.icmp import IcmpError, parse_icmp_error, path_mtu, path_mtus
from sipdiag.icmprefusal import IcmpRefusal, Limiters, refusals
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


def test_the_next_hop_mtu_of_fragmentation_needed_and_packet_too_big() -> None:
    """RFC 1191 §4: the low 16 bits of the second word (0 from a router older than it); RFC 4443 §3.2: all 32."""
    quoted = pw.ipv4("198.51.100.7", "203.0.113.5", 17, pw.udp(5060, 5060, b"x" * 1460), df=True)[:28]
    needed = parse_icmp_error(_datagram(struct.pack("!BBHHH", 3, 4, 0, 0, 1400) + quoted))
    assert (needed.reason, needed.mtu, needed.flow) == ("fragmentation needed and DF set", 1400,
                                                        ("198.51.100.7", 5060, "203.0.113.5", 5060))
    assert parse_icmp_error(_datagram(struct.pack("!BBHHH", 3, 4, 0, 0, 0) + quoted)).mtu is None
    assert parse_icmp_error(_datagram(struct.pack("!BBHHH", 3, 3, 0, 0, 1400) + quoted)).mtu is None
    quoted6 = pw.ipv6("2001:db8::7", "2001:db8::5", 17, pw.udp(5060, 5060, b"x" * 1400))[:48]
    too_big = parse_icmp_error(_datagram(struct.pack("!BBHI", 2, 0, 0, 1400) + quoted6, "icmpv6"))
    assert (too_big.version, too_big.reason, too_big.mtu) == (6, "packet too big", 1400)


def test_the_smallest_mtu_reported_for_a_path_is_its_path_mtu() -> None:
    def error(frame: int, mtu: int | None, src: str = "198.51.100.7", version: int = 4) -> IcmpError:
        return IcmpError(frame, 0, "192.0.2.1", version, 3, 4, "x", 17, src, 5060, "203.0.113.5", 5060, mtu)

    known = path_mtus([error(1, 1492), error(2, None), error(3, 1400), error(4, 1450), error(5, 1300, src="10.0.0.9")])
    assert {path: (e.frame, path_mtu(e)) for path, e in known.items()} == {
        ("198.51.100.7", "203.0.113.5"): (3, 1400), ("10.0.0.9", "203.0.113.5"): (5, 1300)}
    # a host never believes less than 68 octets (RFC 1191 §3), nor an IPv6 node less than 1280 (RFC 8201 §4)
    assert (path_mtu(error(6, 40)), path_mtu(error(7, 1000, version=6))) == (68, 1280)


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
    # after its last packet answers no packet of it (a stray, or a use of the 5-tuple the capture did not keep). The
    # new stream is refused as Linux's rate limiter lets it be: a burst of 6, then one a second to its end.
    old, new = _Stream(10, 500, int(10e9)), _Stream(600, 1000, int(40e9))
    found = [_error(11, 0.5), _error(12, 0.6), _error(13, 0.7), _error(550, 30.0)] + [
        _error(601 + i, 31.9 + 0.02 * i) for i in range(6)] + [_error(650 + 40 * i, 33.0 + i) for i in range(7)]
    assert refusals([old, new], [None, None], found, NO_STEPS) == [
        None, IcmpRefusal("203.0.113.5", "port unreachable", 13, 601, 890)]
    # an error of TCP (a SIP flow with the same ports) is not the RTP stream's
    assert refusals([new], [None], [replace(e, proto=6) for e in found], NO_STEPS) == [None]


def test_a_reporters_limiter_earns_back_a_token_a_second_up_to_its_burst() -> None:
    # Linux's inet_peer_xrlim_allow (net/ipv4/inetpeer.c): a burst of 6 errors to a host empties the bucket (0.1 of
    # a token earned back meanwhile); 5 minutes later it is full again, so the next errors are a fresh burst.
    burst = [_error(20 + i, 0.5 + 0.02 * i) for i in range(6)]
    later = [_error(100 + i, 300.0 + 0.02 * i) for i in range(3)]
    sent = Limiters(burst + later, NO_STEPS)
    assert [sent.ready(e) for e in burst + later] == [True] * 5 + [False] + [True] * 3
    # from a packet after the burst up to the next error: 0.85 s after its last error the limiter has earned back
    # 0.95 of a token, 0.95 s after it 1.05
    assert [sent.ready(later[0], (50, int(s * 1e9))) for s in (1.45, 1.55)] == [False, True]
    # the errors to another host spend another bucket
    other = [replace(e, src_ip="198.51.100.9") for e in burst]
    assert [Limiters(burst + other, NO_STEPS).ready(e) for e in other] == [True] * 5 + [False]
    # across a clock step the time between two errors is unknown: nothing earned back
    stepped = Limiters(burst + later, ClockSteps((60,), 1))
    assert [stepped.ready(e) for e in later] == [False] * 3
