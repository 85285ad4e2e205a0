"""sipdiag.quickbuild: the models made for every SIP message, built without their frozen __init__, are the same
objects as the class's constructor makes."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, dataclass, field, fields, replace
from pathlib import Path

import pytest

from sipdiag import model
from sipdiag.analysis import analyze
from sipdiag.parsers import sdp as sdp_module
from sipdiag.parsers import sip as sip_module
from sipdiag.parsers.sdp import SdpMedia, SdpSession
from sipdiag.parsers.sip import Headers, SipMessage, parse_sip
from sipdiag.quickbuild import _slow_builder, quick_builder

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "pcaps"


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    count: int = 3
    tags: list = field(default_factory=list)
    cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)


@pytest.mark.parametrize("make", [quick_builder, _slow_builder], ids=["quick", "fallback"])
def test_a_builder_takes_every_field_and_fills_defaults_and_factories(make) -> None:
    build = make(Sample)
    one = build("a")
    assert type(one) is Sample
    assert (one.name, one.count, one.tags, one.cache) == ("a", 3, [], {})
    assert one == Sample("a")
    other = build("a")
    assert one.tags is not other.tags and one.cache is not other.cache  # a fresh value from each factory
    full = build("b", 5, ["x"], {"k": 1})  # init=False fields are passed too
    assert (full.name, full.count, full.tags, full.cache) == ("b", 5, ["x"], {"k": 1})
    assert build(name="c", count=1) == Sample("c", 1)
    with pytest.raises(TypeError):
        build()  # a field without a default
    with pytest.raises(TypeError):
        build("a", nope=1)


def test_what_a_builder_makes_is_frozen_hashable_and_pickles_as_the_class() -> None:
    build = quick_builder(model.Datagram)
    datagram = build(7, 1_000, "192.0.2.1", 5060, "192.0.2.2", 5060, "udp", b"OPTIONS", (7,), "", "sip", 46)
    made = model.Datagram(7, 1_000, "192.0.2.1", 5060, "192.0.2.2", 5060, "udp", b"OPTIONS", (7,), "", "sip", 46)
    assert type(datagram) is model.Datagram and isinstance(datagram, model.Datagram)
    assert datagram == made and hash(datagram) == hash(made) and repr(datagram) == repr(made)
    with pytest.raises(FrozenInstanceError):
        datagram.frame = 8  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(datagram)) == made
    assert copy.deepcopy(datagram) == made
    assert replace(datagram, frame=8).frame == 8


def test_only_a_slots_dataclass_of_its_own_fields_gets_a_builder() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class Child(Sample):
        extra: int = 0

    for cls in (NoSlots, Child, int):
        with pytest.raises(TypeError):
            quick_builder(cls)


def _by_constructor(obj):
    """`obj` made again the ordinary way, from the values of its init fields."""
    cls = type(obj)
    return cls(**{f.name: getattr(obj, f.name) for f in fields(cls) if f.init})


def test_the_pipeline_builds_the_same_objects_as_the_constructors() -> None:
    # every model the pipeline makes with a builder, compared with the constructor's object field by field
    analysis = analyze(str(SAMPLES / "clean_call.pcap"))
    assert analysis.calls and analysis.messages
    call = analysis.calls[0]
    assert type(call) is model.Call
    assert call == _by_constructor(call)
    assert {f.name: getattr(call, f.name) for f in fields(call)} == {
        f.name: getattr(_by_constructor(call), f.name) for f in fields(call)}
    for item in (*call.transactions, *call.dialogs, *call.negotiations,
                 *(m for n in call.negotiations for m in (*n.offer, *(n.answer or ())))):
        assert type(item) in (model.Transaction, model.Dialog, model.Negotiation, model.MediaDescription)
        assert item == _by_constructor(item)
    for message in analysis.messages:
        assert type(message) is SipMessage and type(message.headers) is Headers
        again = Headers(message.headers.items)
        assert message.headers == again and message.headers.first_values == again.first_values
        assert message == _by_constructor(message)
    with_sdp = [m for m in analysis.messages if m.body]
    assert with_sdp
    session = sdp_module.parse_sdp(with_sdp[0].body)
    assert type(session) is SdpSession and session == _by_constructor(session)
    assert all(type(m) is SdpMedia and m == _by_constructor(m) for m in session.media)


def test_the_hot_paths_use_the_builders() -> None:
    # the point of the module: these are not the classes' own (slow) constructors
    for builder, cls in ((sip_module._build_message, SipMessage), (sip_module._build_headers, Headers),
                         (sdp_module._build_media, SdpMedia), (sdp_module._build_session, SdpSession),
                         (model.build_datagram, model.Datagram), (model.build_call, model.Call),
                         (model.build_transaction, model.Transaction)):
        assert builder is not cls and builder.__init__ is not cls.__init__
        assert builder.__name__ == f"_Quick{cls.__name__}"


def test_a_message_caches_its_identifiers_in_slots() -> None:
    message = parse_sip(b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                        b"From: <sip:a@example.com>;tag=x\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\n"
                        b"CSeq: 4 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    assert message is not None
    assert (message._cseq, message._from_tag, message._to_tag, message._branch) == (False, False, False, False)
    assert (message.cseq, message.from_tag, message.to_tag, message.branch) == ((4, "INVITE"), "x", None, "z9hG4bK1")
    assert (message._cseq, message._from_tag, message._to_tag, message._branch) == ((4, "INVITE"), "x", None,
                                                                                     "z9hG4bK1")
    assert not hasattr(message, "__dict__") and "_memo" not in SipMessage.__slots__
    # the caches are not part of what a message is
    assert message == replace(message) and "_branch" not in repr(message)


def test_a_field_named_like_the_generated_code_gets_the_fallback() -> None:
    @dataclass(frozen=True, slots=True)
    class Odd:
        _cls: int
        _default_x: int = 2

    build = quick_builder(Odd)
    assert build.__name__ == "build"  # the fallback's function, not a generated class
    assert build(1) == Odd(1, 2) and type(build(1)) is Odd
