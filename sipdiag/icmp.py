"""ICMP and ICMPv6 errors that quote a UDP/TCP packet (RFC 792, RFC 1122 §3.2.2, RFC 4443 §3): which router said
what about which flow.

An error quotes the IP header of the offending packet and at least its first 8 octets (RFC 792), which hold the
UDP/TCP ports; routers following RFC 1812 §4.3.2.3 quote more. That is enough to name the SIP or RTP flow a
firewall or router rejected.
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .model import Datagram

# RFC 792 type 3 codes, as a support engineer reads them.
UNREACHABLE_CODES = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed and DF set",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "communication administratively prohibited",
}
# RFC 4443 §3.1 Destination Unreachable codes.
UNREACHABLE6_CODES = {
    0: "no route to destination",
    1: "communication administratively prohibited",
    3: "address unreachable",
    4: "port unreachable",
    5: "source address failed ingress/egress policy",
    6: "reject route to destination",
}


# The reasons above as the Russian notes name them (the English names stay the evidence's and the English texts').
REASONS_RU = {
    "network unreachable": "сеть недостижима",
    "host unreachable": "узел недостижим",
    "protocol unreachable": "протокол недоступен",
    "port unreachable": "порт недоступен",
    "fragmentation needed and DF set": "нужна фрагментация, но установлен DF",
    "network administratively prohibited": "сеть административно запрещена",
    "host administratively prohibited": "узел административно запрещён",
    "communication administratively prohibited": "связь административно запрещена",
    "no route to destination": "нет маршрута к адресату",
    "address unreachable": "адрес недостижим",
    "source address failed ingress/egress policy": "адрес источника не прошёл политику входа/выхода",
    "reject route to destination": "маршрут к адресату отвергнут",
    "time exceeded": "время жизни истекло",
    "parameter problem": "ошибка в параметрах",
    "packet too big": "пакет слишком велик",
}
_NUMBERED_RU = ((re.compile(r"destination unreachable \(code (\d+)\)"), "адресат недостижим (код {})"),
                (re.compile(r"type (\d+)"), "тип {}"))


@dataclass(frozen=True, slots=True)
class IcmpError:
    """One ICMP error and the 5-tuple of the packet it quotes."""

    frame: int
    ts_ns: int
    reporter: str  # the router or host that sent the error (outer source)
    version: int  # 4 or 6
    icmp_type: int
    icmp_code: int
    reason: str  # "port unreachable", "packet too big", ...
    proto: int  # quoted packet's protocol (17 UDP, 6 TCP)
    src_ip: str  # quoted packet: who sent it ...
    src_port: int
    dst_ip: str  # ... to whom
    dst_port: int
    # "fragmentation needed" (RFC 792 type 3 code 4) and ICMPv6 Packet Too Big (RFC 4443 §3.2): the MTU of the next
    # hop, which the quoted packet did not fit (RFC 1191 §4, RFC 8201 §4); None for other errors and for a router
    # older than RFC 1191, which leaves the field 0
    mtu: int | None = None

    @property
    def flow(self) -> tuple[str, int, str, int]:
        return self.src_ip, self.src_port, self.dst_ip, self.dst_port


def _ntop(addr: bytes) -> str:
    return socket.inet_ntoa(addr) if len(addr) == 4 else socket.inet_ntop(socket.AF_INET6, addr)


def reason_of(version: int, icmp_type: int, code: int) -> str:
    if version == 4:
        if icmp_type == 3:
            return UNREACHABLE_CODES.get(code, f"destination unreachable (code {code})")
        return {11: "time exceeded", 12: "parameter problem"}.get(icmp_type, f"type {icmp_type}")
    if icmp_type == 1:
        return UNREACHABLE6_CODES.get(code, f"destination unreachable (code {code})")
    return {2: "packet too big", 3: "time exceeded"}.get(icmp_type, f"type {icmp_type}")


def reason_ru(reason: str) -> str:
    """The Russian of a reason_of() text: "port unreachable" -> "порт недоступен"."""
    if reason in REASONS_RU:
        return REASONS_RU[reason]
    for pattern, text in _NUMBERED_RU:
        if m := pattern.fullmatch(reason):
            return text.format(m[1])
    return reason


def parse_icmp_error(d: Datagram) -> IcmpError | None:
    """The error in a `kind == "icmp"` datagram (transport `icmp` or `icmpv6`, payload = the ICMP message);
    None when it quotes no readable UDP/TCP header. Never raises on damaged input."""
    data = d.payload
    if len(data) < 8:
        return None
    icmp_type, code = data[0], data[1]
    inner = data[8:]  # RFC 792 / RFC 4443: type, code, checksum, 4 unused (or MTU) octets, then the quote
    version = 6 if d.transport == "icmpv6" else 4
    if inner[:1] and inner[0] >> 4 == 4 and len(inner) >= 20:
        ihl = (inner[0] & 0x0F) * 4
        proto = inner[9]
        src, dst = inner[12:16], inner[16:20]
        l4 = inner[ihl:]
    elif inner[:1] and inner[0] >> 4 == 6 and len(inner) >= 40:
        proto = inner[6]  # extension headers in quotes are rare; a fragment header makes the ports unreadable
        src, dst = inner[8:24], inner[24:40]
        l4 = inner[40:]
    else:
        return None
    if proto not in (6, 17) or len(l4) < 4:
        return None
    sport, dport = struct.unpack_from("!HH", l4, 0)
    return IcmpError(d.frame, d.ts_ns, d.src_ip, version, icmp_type, code, reason_of(version, icmp_type, code),
                     proto, _ntop(src), sport, _ntop(dst), dport, _next_hop_mtu(version, icmp_type, code, data))


def _next_hop_mtu(version: int, icmp_type: int, code: int, data: bytes) -> int | None:
    if version == 4 and icmp_type == 3 and code == 4:
        return struct.unpack_from("!H", data, 6)[0] or None  # RFC 1191 §4: the low 16 bits of the unused word
    if version == 6 and icmp_type == 2:
        return struct.unpack_from("!I", data, 4)[0]  # RFC 4443 §3.2: the whole second word
    return None


# The least path MTU a host may believe: 68 octets for IPv4 (RFC 791, RFC 1191 §3), 1280 for IPv6, below which a
# Packet Too Big does not lower its estimate (RFC 8201 §4).
MIN_PATH_MTU = {4: 68, 6: 1280}


def path_mtus(errors: Iterable[IcmpError]) -> dict[tuple[str, str], IcmpError]:
    """(source host, destination host) -> the error reporting the smallest MTU for packets from one to the other:
    what the capture knows of each path's MTU (RFC 1191, RFC 8201). A report below the protocol's least MTU is taken
    as that least value (IcmpError.mtu is left as sent)."""
    out: dict[tuple[str, str], IcmpError] = {}
    for e in errors:
        if e.mtu is None:
            continue
        path = (e.src_ip, e.dst_ip)
        known = out.get(path)
        if known is None or path_mtu(e) < path_mtu(known):
            out[path] = e
    return out


def path_mtu(e: IcmpError) -> int:
    """The path MTU an error with an MTU tells: its MTU, at least the protocol's least one."""
    return max(e.mtu or 0, MIN_PATH_MTU[e.version])
