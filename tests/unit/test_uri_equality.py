"""Unit tests of the RFC 3261 §19.1.4 URI comparison (parsers/sipuri.same_uri) that reg.contact-binding-mismatch
and the registrations' bindings (sipdiag.correlate) use."""

from __future__ import annotations

import pytest

from sipdiag.parsers.sipuri import same_uri


@pytest.mark.parametrize("a, b, equal", [
    # transport is no user/ttl/method/maddr parameter: in one URI only it is ignored, in both it must match
    ("sip:2503@192.168.105.110:5060;transport=udp", "sip:2503@192.168.105.110:5060", True),
    ("sip:2503@192.168.105.110:5060", "sip:2503@192.168.105.110:5060;transport=UDP", True),
    ("sip:2503@192.168.105.110:5060;transport=udp", "sip:2503@192.168.105.110:5060;transport=UDP", True),
    ("sip:2503@192.168.105.110:5060;transport=udp", "sip:2503@192.168.105.110:5060;transport=tcp", False),
    # maddr, user, ttl, method in only one URI never match
    ("sip:100@10.0.0.5:5060;maddr=10.0.0.1", "sip:100@10.0.0.5:5060", False),
    ("sip:100@10.0.0.5:5060", "sip:100@10.0.0.5:5060;maddr=10.0.0.1", False),
    ("sip:100@10.0.0.5:5060;user=phone", "sip:100@10.0.0.5:5060", False),
    ("sip:100@10.0.0.5:5060;ttl=15", "sip:100@10.0.0.5:5060", False),
    ("sip:100@10.0.0.5:5060;method=INVITE", "sip:100@10.0.0.5:5060", False),
    # any other parameter in one URI only is ignored, in both it must match
    ("sip:100@10.0.0.5:5060;line=9c7d", "sip:100@10.0.0.5:5060", True),
    ("sip:100@10.0.0.5:5060;line=9c7d", "sip:100@10.0.0.5:5060;line=aca6", False),
    # host without case, port absent is not 5060, a rewritten host or port differs
    ("sip:100@EXAMPLE.com:5060", "sip:100@example.com:5060", True),
    ("sip:100@10.0.0.5", "sip:100@10.0.0.5:5060", False),
    ("sip:100@10.0.0.5:5060", "sip:100@198.51.100.7:40000", False),
])
def test_same_uri_rfc3261_19_1_4(a: str, b: str, equal: bool) -> None:
    assert same_uri(a, b) is equal
    assert same_uri(b, a) is equal
