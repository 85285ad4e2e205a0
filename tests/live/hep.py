"""A small HEPv3 sender for the tests: what Kamailio's siptrace or heplify send to a collector (HEP3 header, then
chunks: vendor 0, type, length incl. the 6-byte chunk header, value)."""

from __future__ import annotations

import socket
import struct


def _chunk(ctype: int, value: bytes) -> bytes:
    return struct.pack("!HHH", 0, ctype, 6 + len(value)) + value


def hep3(payload: bytes, src: tuple[str, int], dst: tuple[str, int], ts_ns: int, *, proto_type: int = 1,
         ip_proto: int = 17, capture_id: int = 2001) -> bytes:
    """One HEPv3 message mirroring an IPv4 packet (src, dst) that carried `payload` (proto_type 1 = SIP)."""
    body = (_chunk(1, b"\x02") + _chunk(2, bytes([ip_proto])) + _chunk(3, socket.inet_aton(src[0]))
            + _chunk(4, socket.inet_aton(dst[0])) + _chunk(7, struct.pack("!H", src[1]))
            + _chunk(8, struct.pack("!H", dst[1])) + _chunk(9, struct.pack("!I", ts_ns // 10**9))
            + _chunk(10, struct.pack("!I", ts_ns % 10**9 // 1000)) + _chunk(11, bytes([proto_type]))
            + _chunk(12, struct.pack("!I", capture_id)) + _chunk(15, payload))
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
