"""Transport addresses as the model writes them: `ip:port`, an IPv6 address in brackets (`[2001:db8::1]:5060`,
RFC 3986 §3.2.2), so that the last colon always separates the port.

One place for writing and reading them: calls, transactions and findings carry these strings, and every check
that compares a host with another (NAT, routing, correlation of legs) reads them back the same way.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache


def join_address(ip: str, port: int) -> str:
    """`ip:port`, with an IPv6 address in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def join_hostport(host: str, port: int | None) -> str:
    """`host[:port]` as a SIP URI or Via sent-by writes it (RFC 3261 §25.1 hostport): an IPv6 reference in
    brackets, the port only where one was given (None: the transport's default applies)."""
    if port is not None:
        return join_address(host, port)
    return f"[{host}]" if ":" in host else host


def split_address(address: str) -> tuple[str, int]:
    """(host without brackets, port; 0 where the address has none)."""
    host, sep, port = address.rpartition(":")
    if not sep or address.endswith("]") or (":" in host and not host.startswith("[")):
        # no port: a bare host or IPv6 address (its last colon is one of the address's own)
        return address.strip("[]"), 0
    return host.strip("[]"), int(port) if port.isdigit() else 0


def address_host(address: str) -> str:
    """The host of `address`, without IPv6 brackets."""
    return split_address(address)[0]


def address_port(address: str) -> int:
    """The port of `address`, 0 where it names none."""
    return split_address(address)[1]


@lru_cache(maxsize=4096)
def is_ip_literal(host: str) -> bool:
    """Whether a host is an IP address (without brackets), not a domain name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
