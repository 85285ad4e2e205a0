"""The JSON contract (issue 7): the document of `analyze --format json` against the JSON Schema shipped in the
package; the schema is closed (a renamed or added field fails), its enums are the contract's vocabularies, and its
version is the document's."""

from __future__ import annotations

import copy
import fnmatch
import io
import json
import re
import tomllib

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag.cli import cli
from sipdiag.errors import CaptureFormatError
from sipdiag.reports.contract import SCHEMA_FILE, load_schema, schema_text
from sipdiag.reports.json import SCHEMA, render_json, to_document
from tests import callcapture as cc
from tests import pcapwriter as pw
from tests.conftest import ROOT, SAMPLES, corpus_captures, corpus_id, validate_json_document

MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())
LAB = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


def test_the_schema_is_draft_2020_12_and_versioned_like_the_document() -> None:
    import jsonschema

    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"] == {"const": SCHEMA, "description": "the contract's name and version"}
    assert schema["title"] == SCHEMA == "sipdiag.analysis/1"
    doc = validate_json_document(to_document(sipdiag.analyze(SAMPLES / "clean_call.pcap")))
    assert doc["schema"] == schema["properties"]["schema"]["const"]
    other = dict(doc, schema="sipdiag.analysis/2")
    with pytest.raises(AssertionError, match="schema: 'sipdiag.analysis/1' was expected"):
        validate_json_document(other)


def test_the_contract_vocabularies_are_enums() -> None:
    """ARCHITECTURE.md's fixed vocabularies, exactly."""
    d = load_schema()["$defs"]
    assert d["category"]["enum"] == ["nat", "router", "codec", "registration", "signaling", "media", "security"]
    assert d["severity"]["enum"] == ["critical", "major", "minor", "info"]
    assert d["owner"]["enum"] == ["customer", "first-line", "engineering", "security"]
    assert d["call"]["properties"]["outcome"]["enum"] == [
        "answered", "busy", "cancelled", "rejected", "timeout", "in-progress"]
    # "deregistered": an accepted removal (RFC 3261 §10.2.2), a value added to ARCHITECTURE.md's three
    assert d["registration"]["properties"]["outcome"]["enum"] == ["registered", "deregistered", "failed", "unanswered"]
    from sipdiag.checks import CATEGORIES, OWNERS
    from sipdiag.model import CALL_OUTCOMES, REGISTRATION_OUTCOMES

    assert (tuple(d["category"]["enum"]), tuple(d["owner"]["enum"])) == (CATEGORIES, OWNERS)
    assert tuple(d["call"]["properties"]["outcome"]["enum"]) == CALL_OUTCOMES
    assert tuple(d["registration"]["properties"]["outcome"]["enum"]) == REGISTRATION_OUTCOMES


def test_sipdiag_schema_prints_the_shipped_file() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.output == schema_text()
    assert json.loads(result.output) == load_schema()


def test_a_non_editable_install_ships_the_schema() -> None:
    """pyproject's package data covers the file (an editable install would find it whatever pyproject says)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["sipdiag"]
    assert any(fnmatch.fnmatch("/".join(SCHEMA_FILE), p) for p in patterns), patterns
    assert (ROOT / "sipdiag" / "/".join(SCHEMA_FILE)).is_file()


@pytest.mark.parametrize("name", LAB)
def test_every_lab_sample_validates(name: str) -> None:
    """`analyze --format json` as a program reads it (compact, record by record), for every lab capture."""
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLES / name), "--format", "json"])
    doc = validate_json_document(result.output)
    truth = next(c for c in MANIFEST["captures"] if c["file"] == name)
    assert [(c["call_id"], c["outcome"], c["final_status"]) for c in doc["calls"]] == [
        (c["call_id"], c["outcome"], c["final_status"]) for c in truth["calls"]]
    assert len(doc["registrations"]) == len(truth["registrations"])
    assert doc["capture"]["file"] == str(SAMPLES / name)
    assert result.exit_code == (1 if any(f["severity"] in ("critical", "major") for f in doc["findings"]) else 0)


def test_the_indented_terminal_document_validates_too() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    analysis = sipdiag.analyze(SAMPLES / "nat_one_way_audio.pcap")
    render_json(analysis, out)
    assert out.getvalue().startswith('{\n  "schema": "sipdiag.analysis/1",')
    doc = validate_json_document(out.getvalue())
    assert [f["rule"] for f in doc["findings"]] == [f.rule for f in analysis.findings]
    assert "media.one-way-audio" in {f["rule"] for f in doc["findings"]}


@pytest.fixture(scope="module")
def document() -> dict:
    """rtp_loss: a call with its negotiation, two streams and a packet-loss finding."""
    doc = to_document(sipdiag.analyze(SAMPLES / "rtp_loss.pcap"))
    return json.loads(json.dumps(doc))


@pytest.mark.parametrize(("path", "old", "new"), [
    (("capture",), "packets", "packet_count"),
    (("calls", 0), "outcome", "result"),
    (("calls", 0, "negotiations", 0, "offer", 0), "codecs", "codec_list"),
    (("streams", 0), "loss_pct", "loss_percent"),
    (("findings", 0), "severity", "level"),
    ((), "findings", "problems"),
])
def test_renaming_a_field_breaks_validation(document: dict, path: tuple, old: str, new: str) -> None:
    doc = copy.deepcopy(document)
    record = doc
    for key in path:
        record = record[key]
    record[new] = record.pop(old)
    where = "/".join(map(str, path)) or "(document)"
    with pytest.raises(AssertionError) as e:
        validate_json_document(doc)
    assert f"{where}: '{old}' is a required property" in str(e.value)
    assert f"{where}: Additional properties are not allowed ('{new}' was unexpected)" in str(e.value)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("severity", "warning", "'warning' is not one of ['critical', 'major', 'minor', 'info']"),
    ("category", "sip", "'sip' is not one of ['nat', 'router', 'codec'"),
    ("owner", "L1", "'L1' is not one of ['customer', 'first-line', 'engineering', 'security']"),
    ("confidence", "certain", "'certain' is not one of ['low', 'medium', 'high']"),
    ("call_id", 7, "7 is not of type 'string', 'null'"),
    ("evidence", {"lost": 7}, "'frames' is a required property"),
])
def test_finding_values_outside_the_contract_fail(document: dict, field: str, value, message: str) -> None:
    doc = copy.deepcopy(document)
    doc["findings"][0][field] = value
    with pytest.raises(AssertionError, match=f"findings/0(/{field})?: " + re.escape(message)):
        validate_json_document(doc)


def test_call_and_registration_outcomes_outside_the_contract_fail(document: dict) -> None:
    doc = copy.deepcopy(document)
    doc["calls"][0]["outcome"] = "failed"
    with pytest.raises(AssertionError, match="calls/0/outcome: 'failed' is not one of"):
        validate_json_document(doc)
    registration = validate_json_document(CliRunner().invoke(
        cli, ["analyze", str(SAMPLES / "register_ok.pcap"), "--format", "json"]).output)
    registration["registrations"][0]["outcome"] = "answered"
    with pytest.raises(AssertionError, match="registrations/0/outcome: 'answered' is not one of"):
        validate_json_document(registration)


def test_the_finding_links_and_device(document: dict) -> None:
    """`index`, `cause`, `explains` (findings correlated causes first) and `device` (the device knowledge base) are
    in every finding record, typed."""
    doc = copy.deepcopy(document)
    finding = doc["findings"][0]
    assert {"index", "cause", "explains", "device"} <= set(finding)
    doc["findings"].append(dict(finding, rule="media.low-mos", severity="minor"))
    finding.update(cause=None, explains=[1], device={"vendor": "Yealink", "model": "T46U", "kind": "phone"})
    doc["findings"][1].update(cause=0, explains=[], device=None)
    validate_json_document(doc)
    for key, bad, message in (("cause", "0", "findings/1/cause: '0' is not of type 'integer', 'null'"),
                              ("explains", [1, 1], "findings/1/explains: \\[1, 1\\] has non-unique elements"),
                              ("explains", [-1], "findings/1/explains/0: -1 is less than the minimum of 0"),
                              ("device", {"vendor": "Yealink", "model": "T46U", "kind": "phone", "firmware": "66"},
                               "findings/1/device: .*'firmware' was unexpected"),
                              ("device", {"vendor": "Yealink"}, "findings/1/device: .*'model' is a required")):
        broken = copy.deepcopy(doc)
        broken["findings"][1][key] = bad
        with pytest.raises(AssertionError, match=message):
            validate_json_document(broken)


def test_one_call_document_validates() -> None:
    doc = validate_json_document(CliRunner().invoke(
        cli, ["analyze", str(SAMPLES / "ack_dropped.pcap"), "--call", "#1", "--format", "json"]).output)
    assert [c["call_id"] for c in doc["calls"]] == ["ack_dropped-1@sdlab"]
    assert [f["rule"] for f in doc["findings"]] == ["call.ack-timeout-32s"]


def test_capture_hiccups_across_a_clock_step_keep_to_the_contract(tmp_path) -> None:
    """Four RTP streams pause together at 1 s; the last packet of three is stamped 5 s before the first (the
    capture's clock stepped back). All four streams ran at 1 s: before, `streams_active` came out 1 here (and
    negative on other such captures, which the schema's minimum 0 refuses)."""
    recs = []
    for k in range(4):
        src, dst = (f"10.0.0.{k + 1}", 20000 + 2 * k), ("10.0.1.1", 30000 + 2 * k)
        recs += [(cc.T0 + i * 20 * cc.MS + k * cc.MS, cc.rtp_frame(src, dst, i, 0x1000 + k)) for i in range(100)
                 if not 50 <= i < 65]
        if k < 3:
            recs.append((cc.T0 - 5 * cc.S + k * cc.MS, cc.rtp_frame(src, dst, 100, 0x1000 + k)))
    path = tmp_path / "step.pcap"
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    out = io.StringIO()
    render_json(sipdiag.analyze(path), out)
    doc = validate_json_document(out.getvalue())
    assert doc["capture_health"]["hiccups"] == [
        {"start": "2023-11-14T22:13:20.983000+00:00", "duration_ms": 317.0, "streams_in_gap": 4, "streams_active": 4}]


def test_status_codes_outside_100_699_are_named_not_counted_as_responses(tmp_path) -> None:
    """RFC 3261 §7.2, §21: a Status-Code's first digit is its class, 1-6. A status line with "099", "000" or "700"
    is a malformed message (sip.bad-status-code), like one whose code is not three digits: counted among the
    messages, not among the responses. Before, "099" and "000" were counted as responses 99 and 0, whose keys
    "99" and "0" break the document's three-digit pattern."""
    def response(start: str) -> tuple[str, tuple[str, int], tuple[str, int]]:
        return cc.sip_message(start, "z-1", "1 OPTIONS", src=cc.UA), cc.PBX, cc.UA

    path = cc.single_messages(tmp_path / "codes.pcap", (
        (cc.sip_message("OPTIONS sip:200@example.com SIP/2.0", "z-1", "1 OPTIONS", src=cc.UA, to_tag=False), cc.UA,
         cc.PBX),
        response("SIP/2.0 099 Early"), response("SIP/2.0 000 Zero"), response("SIP/2.0 700 Strange"),
        response("SIP/2.0 200 OK")))
    analysis = sipdiag.analyze(path)
    assert [(a.code, a.frame, a.detail) for a in analysis.anomalies] == [
        ("sip.bad-status-code", 2, "status code 099 is outside 100-699 (RFC 3261 §7.2)"),
        ("sip.bad-status-code", 3, "status code 000 is outside 100-699 (RFC 3261 §7.2)"),
        ("sip.bad-status-code", 4, "status code 700 is outside 100-699 (RFC 3261 §7.2)")]
    out = io.StringIO()
    render_json(analysis, out)
    doc = validate_json_document(out.getvalue())
    assert doc["sip"] == {"messages": 5, "requests": {"OPTIONS": 1}, "responses": {"200": 1},
                          "transports": {"udp": 5}, "encapsulations": {"none": 5}}


@pytest.mark.corpus
def test_every_corpus_capture_validates(corpus) -> None:
    """Third-party captures (odd link types, damaged files, clocks that go backwards) keep to the contract."""
    paths, checked, not_captures = corpus_captures(), 0, []
    for path in paths:
        try:
            analysis = sipdiag.analyze(path, keep_messages=False)
        except CaptureFormatError:
            not_captures.append(path)  # e.g. a Network Monitor file: exit 3, no document
            continue
        out = io.StringIO()
        render_json(analysis, out)
        try:
            validate_json_document(out.getvalue())
        except AssertionError as e:
            raise AssertionError(f"{corpus_id(path)}: {e}") from None
        checked += 1
    assert checked == len(paths) - len(not_captures) > 0
    assert len(not_captures) <= 2, [corpus_id(p) for p in not_captures]
