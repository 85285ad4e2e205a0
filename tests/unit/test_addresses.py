"""Transport addresses as the model writes them (`ip:port`, IPv6 in brackets, RFC 3986 §3.2.2) and reads back:
one helper for the correlator, the media binding, the checks and the ladders."""

from __future__ import annotations

import pytest

from sipdiag.addresses import address_host, address_port, join_address, join_hostport, split_address


@pytest.mark.parametrize("ip, port, text", [
    ("192.0.2.1", 5060, "192.0.2.1:5060"),
    ("2001:db8::1", 5061, "[2001:db8::1]:5061"),
    ("-", 0, "-:0"),
])
def test_join_and_split_round_trip(ip: str, port: int, text: str) -> None:
    assert join_address(ip, port) == text
    assert split_address(text) == (ip, port)


@pytest.mark.parametrize("text, host, port", [
    ("2001:db8::1", "2001:db8::1", 0),      # a bare IPv6 address: its last group is not a port
    ("[2001:db8::1]", "2001:db8::1", 0),
    ("198.51.100.7", "198.51.100.7", 0),
    ("proxy.example.net:x", "proxy.example.net", 0),
    ("", "", 0),
])
def test_addresses_without_a_port(text: str, host: str, port: int) -> None:
    assert (address_host(text), address_port(text)) == (host, port)


@pytest.mark.parametrize("host, port, text", [
    ("proxy.example.net", None, "proxy.example.net"),  # no port written: the transport's default applies
    ("proxy.example.net", 5080, "proxy.example.net:5080"),
    ("2001:db8::1", None, "[2001:db8::1]"),  # RFC 3261 §25.1: an IPv6reference is always in brackets
    ("2001:db8::1", 5060, "[2001:db8::1]:5060"),
])
def test_hostport_as_a_uri_or_via_writes_it(host: str, port: int | None, text: str) -> None:
    assert join_hostport(host, port) == text
