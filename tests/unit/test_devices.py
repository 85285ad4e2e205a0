"""The device knowledge base (sipdiag/data/devices.toml, sipdiag.devices): every sample string of an entry is won by
that entry and by no other, negative samples match nothing, versions and models are extracted, the data ships as
package data, and findings on a built call carry the device and its fix steps."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import sipdiag
from sipdiag.devices import KINDS, TOPICS, identify, knowledge_base, parse, topics_for
from tests import callcapture as cc
from tests import causecapture

ROOT = Path(__file__).resolve().parents[2]
KB = knowledge_base()
SAMPLES = [(e.id, s) for e in KB.entries for s in e.samples]


def test_the_knowledge_base_is_big_enough_and_well_formed() -> None:
    assert len(KB.entries) >= 40
    kinds = {e.kind for e in KB.entries}
    assert kinds == set(KINDS)  # phones, ATAs, routers, PBXs, SBCs, softphones and scanners all present
    for e in KB.entries:
        assert e.samples, e.id
        assert all(t in TOPICS for t, _ in e.fixes), e.id
        for p in e.patterns:
            assert set(p.groupindex) <= {"model", "version"}, e.id
    routers = [e for e in KB.entries if e.kind == "router"]
    assert all(e.fix("sip-alg") for e in routers), "every router entry says where its SIP ALG is switched off"


@pytest.mark.parametrize(("entry_id", "sample"), SAMPLES, ids=[f"{i}:{s}" for i, s in SAMPLES])
def test_every_sample_is_won_by_its_own_entry(entry_id: str, sample: str) -> None:
    device = identify(sample)
    assert device is not None, f"{sample!r} matches no entry (expected {entry_id})"
    assert device.entry.id == entry_id, f"{sample!r} is won by {device.entry.id}, not {entry_id}"
    # and matching is case-insensitive
    assert identify(sample.upper()).entry.id == entry_id or identify(sample.lower()).entry.id == entry_id


@pytest.mark.parametrize("sample", KB.negative_samples)
def test_negative_samples_match_nothing(sample: str) -> None:
    assert identify(sample) is None


def test_versions_and_models_are_extracted() -> None:
    d = identify("Yealink SIP-T46S 66.86.0.15")
    assert (d.entry.vendor, d.model, d.version, d.entry.kind, d.name) == (
        "Yealink", "T46S", "66.86.0.15", "phone", "Yealink T46S")
    d = identify("AVM FRITZ!Box 7590 154.07.29 (Jan 11 2022)")
    assert (d.entry.id, d.model, d.version, d.entry.kind) == ("avm-fritzbox", "FRITZ!Box 7590", "154.07.29", "router")
    d = identify("friendly-scanner")
    assert (d.entry.id, d.entry.kind, d.version) == ("sipvicious", "scanner", None)
    assert d.entry.fix("security")  # scanners inherit the kind's default advice
    assert identify("Asterisk PBX 18.9.0").record() == {
        "id": "asterisk", "vendor": "Digium/Sangoma", "model": "Asterisk", "kind": "pbx", "version": "18.9.0",
        "user_agent": "Asterisk PBX 18.9.0"}
    assert identify(None) is None and identify("") is None


def test_hostile_strings_are_cut_and_cheap() -> None:
    long = "Yealink SIP-T46S 66.86.0.15" + " x" * 50_000
    assert identify(long).entry.id == "yealink-phone"
    assert identify("a" * 100_000) is None
    assert identify("\x00\x01friendly-scanner\r\n").entry.id == "sipvicious"


def test_rule_topics() -> None:
    assert topics_for("alg.sdp-rewritten-inconsistently") == ("sip-alg",)
    assert topics_for("call.ack-timeout-32s") == ("sip-alg", "nat")
    assert topics_for("nat.cgnat-or-double-nat") == ("nat", "nat-timeout")  # its own entry beats the prefix
    assert topics_for("codec.anything-new") == ("codec",)
    assert topics_for("media.low-mos") == ()


def test_a_broken_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        parse({"device": [{"id": "x", "vendor": "v", "model": "m", "kind": "toaster", "patterns": ["x"],
                           "samples": ["x"]}]})
    with pytest.raises(ValueError, match="pattern"):
        parse({"device": [{"id": "x", "vendor": "v", "model": "m", "kind": "phone", "patterns": ["("],
                           "samples": ["x"]}]})


def test_the_data_file_ships_with_the_package() -> None:
    """A non-editable install carries sipdiag/data/* (pyproject's package-data), where the file lives."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "data/*" in pyproject["tool"]["setuptools"]["package-data"]["sipdiag"]
    assert (ROOT / "sipdiag" / "data" / "devices.toml").is_file()


def test_findings_carry_the_device_and_its_fix_steps(tmp_path) -> None:
    """A Yealink behind a SIP ALG: the ALG finding and the 32 s drop name the phone and say where on it to move
    off port 5060 (and, for the drop, where its keep-alive lives); the JSON record carries the device."""
    findings = sipdiag.analyze(causecapture.alg_call_dropped_at_32s(tmp_path / "alg.pcap")).findings
    alg = next(f for f in findings if f.rule == "alg.sdp-rewritten-inconsistently")
    assert alg.evidence["device"] == {"id": "yealink-phone", "vendor": "Yealink", "model": "T46S", "kind": "phone",
                                      "version": "66.86.0.15", "user_agent": "Yealink SIP-T46S 66.86.0.15",
                                      "party": "caller"}
    assert "Device of the caller: Yealink T46S (phone, firmware 66.86.0.15)." in alg.engineer_text["en"]
    assert "'Local SIP Port' away from 5060" in alg.engineer_text["en"]
    assert "Keep Alive" not in alg.engineer_text["en"]  # keep-alives are not this rule's topic
    assert "Устройство вызывающего: Yealink T46S (телефон, прошивка 66.86.0.15)." in alg.engineer_text["ru"]
    drop = next(f for f in findings if f.rule == "call.ack-timeout-32s")
    assert "'Keep Alive Interval (Seconds)' to 20-30" in drop.engineer_text["en"]
    assert "Yealink" not in alg.customer_text["en"]  # the customer text stays as the rule wrote it

    router = sipdiag.analyze(causecapture.alg_call_dropped_at_32s(
        tmp_path / "fritz.pcap", user_agent="AVM FRITZ!Box 7590 154.07.29 (Jan 11 2022)")).findings
    alg = next(f for f in router if f.rule == "alg.sdp-rewritten-inconsistently")
    assert (alg.evidence["device"]["id"], alg.evidence["device"]["kind"]) == ("avm-fritzbox", "router")
    assert "Known: has no user switch for SIP helper" in alg.engineer_text["en"]


def test_the_far_end_is_named_when_the_caller_is_unknown(tmp_path) -> None:
    """An unknown phone calling an Asterisk: the NAT finding names the PBX (where NAT handling is configured)."""
    path = causecapture.alg_call_dropped_at_32s(tmp_path / "unknown.pcap", user_agent="HomeBrew Phone 0.1")
    nat = next(f for f in sipdiag.analyze(path).findings if f.rule == "nat.private-sdp-address")
    assert (nat.evidence["device"]["id"], nat.evidence["device"]["party"]) == ("asterisk", "callee")
    assert "rtp_symmetric=yes" in nat.engineer_text["en"]


def test_device_in_json_and_terminal(tmp_path) -> None:
    import io
    import json

    from sipdiag.reports import render

    analysis = sipdiag.analyze(causecapture.alg_call_dropped_at_32s(tmp_path / "alg.pcap"))
    out = io.StringIO()
    render(analysis, "json", out)
    records = json.loads(out.getvalue())["findings"]
    assert {r["evidence"]["device"]["id"] for r in records} == {"yealink-phone"}
    out = io.StringIO()
    render(analysis, "terminal", out)
    assert re.search(r"Device: +Yealink T46S \(phone, 66\.86\.0\.15; the caller\)", out.getvalue())


def _register_lost(path, user_agent: str):
    """A REGISTER from a Zoiper over UDP that nobody answers, the capture going on 40 s (Timer F fired)."""
    phone, registrar = ("10.0.0.5", 5060), ("203.0.113.5", 5060)
    text = cc.register_text(1, "lost").replace("Content-Length", f"User-Agent: {user_agent}\nContent-Length")
    later = cc.register_text(1, "other", call_id="other-1", user="101")
    return cc.write_sip(path, [(0.0, text, phone, registrar), (40.0, later, phone, registrar),
                               (40.05, cc.register_response(1, "other", "200 OK", call_id="other-1", user="101"),
                                registrar, phone)])


def test_sip_alg_steps_only_where_the_capture_shows_an_alg(tmp_path) -> None:
    # a REGISTER lost on its way (webex.pcap: over a VPN) is no sign of a SIP ALG: the softphone is not told to
    # switch its transport to TCP/TLS to get around one; the device is still named in the evidence
    (f,) = [f for f in sipdiag.analyze(_register_lost(tmp_path / "lost.pcap", "Zoiper r33688")).findings
            if f.rule == "reg.no-response"]
    assert f.evidence["device"]["id"] == "zoiper"
    assert f.engineer_text["en"].endswith("Check routing and firewalls towards 203.0.113.5:5060, the DNS the device "
                                          "uses, and ICMP in the capture.")
    # an ALG the capture shows keeps them for the 32 s drop it causes (and for its own finding)
    findings = sipdiag.analyze(causecapture.alg_call_dropped_at_32s(tmp_path / "alg.pcap")).findings
    for rule in ("alg.sdp-rewritten-inconsistently", "call.ack-timeout-32s"):
        (f,) = [f for f in findings if f.rule == rule]
        assert "'Local SIP Port' away from 5060" in f.engineer_text["en"], rule


def test_corpus_register_lost_on_a_vpn_gets_no_transport_hint(corpus) -> None:
    # ndpi/webex.pcap: Zoiper's REGISTERs from 10.8.0.1 (a VPN) to 172.16.1.75, never answered, no ALG anywhere
    (f,) = [f for f in sipdiag.analyze(corpus / "pcaps" / "ndpi" / "webex.pcap").findings
            if f.rule == "reg.no-response"]
    assert (f.evidence["device"]["id"], f.frames) == ("zoiper", (911,))
    assert "Transport type" not in f.engineer_text["en"] and "Transport type" not in f.engineer_text["ru"]
    assert f.engineer_text["en"].endswith("and ICMP in the capture.")
