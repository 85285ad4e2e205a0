"""The rule engine in forked children while the streams are rated and the JSON is written (sipdiag.checks.background)
gives exactly the findings of run_checks, in the same order, and reports a failure of a child."""

from __future__ import annotations

import fcntl
import io
import json
import os
import struct
import termios
import time

import pytest

import sipdiag
from sipdiag import later
from sipdiag.checks import all_rules, background, run_checks
from sipdiag.reports.json import render_json
from tests.conftest import SAMPLES, validate_json_document


def _wait_until_taken(tokens: int) -> None:
    """Until the other process has taken every rule from the token pipe (bytes left to read: FIONREAD)."""
    deadline = time.monotonic() + 30
    while struct.unpack("i", fcntl.ioctl(tokens, termios.FIONREAD, b"\0\0\0\0"))[0] and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize(("fork", "late"), [(False, None), (True, None), (True, "child"), (True, "parent")])
def test_same_findings_as_run_checks(monkeypatch, fork: bool, late: str | None) -> None:
    """However the two processes share the rules (the late one gets none), the merged findings equal one run's,
    in the same order."""
    analysis = sipdiag.analyze(SAMPLES / "sip_alg_rewrite.pcap", rules=False)
    assert analysis.findings == ()
    monkeypatch.setattr(background, "MIN_OBJECTS", 0 if fork else 10**9)
    parent = os.getpid()
    real_take, real_rules = background._take_rules, background.rule_findings
    taken = {"parent": 0}

    def take(analysis, rules, settings, queues):
        if late == ("parent" if os.getpid() == parent else "child"):
            _wait_until_taken(queues[0])
        return real_take(analysis, rules, settings, queues)

    def counted(*args, **kwargs):
        if os.getpid() == parent:
            taken["parent"] += 1
        return real_rules(*args, **kwargs)

    monkeypatch.setattr(background, "_take_rules", take)
    monkeypatch.setattr(background, "rule_findings", counted)
    pending = background.start_checks(analysis, ignore=("media.rtcp-issues",))
    expected = run_checks(analysis, ignore=("media.rtcp-issues",))
    assert [f.rule for f in expected] == ["alg.sdp-rewritten-inconsistently", "nat.media-source-mismatch",
                                          "nat.private-sdp-address", "media.one-way-audio"]
    taken["parent"] = 0  # run_checks above counted too
    assert pending() == expected
    assert pending() is pending()  # read once
    if late == "child":
        assert taken["parent"] == len(all_rules()) - 1  # every rule but the ignored one
    elif late == "parent":
        assert taken["parent"] == 0


def test_the_json_document_is_the_same_with_findings_from_the_child(monkeypatch) -> None:
    monkeypatch.setattr(background, "MIN_OBJECTS", 0)
    full = sipdiag.analyze(SAMPLES / "nat_one_way_audio.pcap")
    bare = sipdiag.analyze(SAMPLES / "nat_one_way_audio.pcap", rules=False)
    direct, deferred = io.StringIO(), io.StringIO()
    render_json(full, direct)
    render_json(bare, deferred, findings=background.start_checks(bare))
    assert validate_json_document(deferred.getvalue()) == json.loads(direct.getvalue())
    assert [f["rule"] for f in json.loads(deferred.getvalue())["findings"]] == [
        "nat.private-sdp-address", "media.one-way-audio", "nat.media-source-mismatch", "media.rtcp-issues"]


def _started_with_a_child_that(monkeypatch, misbehave):
    """start_checks on the clean call, the rule engine's second process running `misbehave` instead of its share
    (as a whole, whether or not it got a rule before this process took them all: failing in rule_findings raced
    with the parent, and on a fast machine the child ran no rule at all)."""
    monkeypatch.setattr(background, "MIN_OBJECTS", 0)
    parent = os.getpid()
    real = background._take_rules

    def in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            misbehave()
        return real(*args, **kwargs)

    monkeypatch.setattr(background, "_take_rules", in_the_child)
    return background.start_checks(sipdiag.analyze(SAMPLES / "clean_call.pcap", rules=False))


def test_a_failing_rule_engine_in_the_child_is_reported(monkeypatch) -> None:
    def boom():
        raise ValueError("boom")

    pending = _started_with_a_child_that(monkeypatch, boom)
    with pytest.raises(RuntimeError, match="rule engine failed: ValueError: boom"):
        pending()


def test_a_child_that_dies_without_a_word_is_reported(monkeypatch) -> None:
    """Killed (OOM, a signal) before sending anything: the findings would be incomplete, so it is an error."""
    pending = _started_with_a_child_that(monkeypatch, lambda: os._exit(9))
    with pytest.raises(RuntimeError, match="rule engine failed: the rule engine's process ended without a result"):
        pending()


def test_equal_texts_and_device_records_are_one_object(tmp_path) -> None:
    """A rule that fires on every call of a large capture gives the same customer text and the same device record
    each time: a run keeps one object of each (memory on a 4 M-packet capture: 3696 customer texts, 28 distinct),
    in one process and in the forked rule engine's findings that cross the pipe pickled."""
    from benchmarks import gencapture

    path = tmp_path / "calls.pcap"
    gencapture.generate(path, calls=8, duration_s=20.0, spread=0.0, loss=0.0, nat_fraction=0.0)
    analysis = sipdiag.analyze(path, rules=False)
    for found in (run_checks(analysis), _forked(analysis)):
        rtcp = [f for f in found if f.rule == "media.rtcp-issues"]
        assert len(rtcp) == 8  # the generator sends no RTCP: one finding per 20 s call
        for lang in ("en", "ru"):
            assert len({id(f.customer_text[lang]) for f in rtcp}) == 1
        assert len({f.engineer_text["en"] for f in rtcp}) == 8  # each names its call: not shared
        devices = [f.evidence["device"] for f in rtcp]
        assert len({id(d) for d in devices}) == len({tuple(d.items()) for d in devices}) >= 1


def _forked(analysis):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(background, "MIN_OBJECTS", 0)
        return background.start_checks(analysis)()


# ------------------------------------------------------------------------------------ stage 1: before the media

def _early(path, monkeypatch, **kwargs):
    """(analysis, pending findings) of `path` with both stages forked."""
    monkeypatch.setattr(background, "MIN_OBJECTS", 0)
    early = background.EarlyRules(**kwargs)
    analysis = sipdiag.analyze(path, rules=False, early=early, **kwargs)
    assert early.started is not None  # stage 1 ran in its child
    return analysis, background.start_checks(analysis, early=early, **kwargs)


@pytest.mark.parametrize("name", ["sip_alg_rewrite.pcap", "nat_one_way_audio.pcap", "ack_dropped.pcap"])
def test_both_stages_give_the_findings_of_run_checks(monkeypatch, name: str) -> None:
    analysis, pending = _early(SAMPLES / name, monkeypatch)
    assert pending() == run_checks(analysis)
    assert pending() is pending()


def test_both_stages_keep_the_selection_and_the_settings(monkeypatch) -> None:
    from sipdiag.checks.settings import merged

    settings = merged({"media": {"oneway_report_s": 1000}})  # one-way audio that short: only noted (info)
    analysis, pending = _early(SAMPLES / "nat_one_way_audio.pcap", monkeypatch, ignore=("media.rtcp-issues",),
                               settings=settings)
    expected = run_checks(analysis, ignore=("media.rtcp-issues",), settings=settings)
    assert [(f.rule, f.severity.label) for f in pending()] == [(f.rule, f.severity.label) for f in expected] == [
        ("nat.private-sdp-address", "major"), ("nat.media-source-mismatch", "major"), ("media.one-way-audio", "info")]
    assert pending() == expected


def test_stage_one_runs_the_signalling_rules_and_puts_off_those_that_need_media(monkeypatch) -> None:
    """Run in this process on the analysis as the hook gets it: a rule that reads the streams or the calls' media
    meets NotReady and its token goes to the put-off pipe; the others give their findings on the whole analysis."""
    seen = []
    analysis = sipdiag.analyze(SAMPLES / "sip_alg_rewrite.pcap", rules=False, early=seen.append)
    (before,) = seen
    assert (before.streams, before.media, before.rtp_packets) == ((), (), 0) and before.calls == analysis.calls
    assert analysis.streams and analysis.rtp_packets > 0
    waiting = background._waiting(before)
    rules = background.selected_rules()
    later_r, later_w = os.pipe()
    done = background._take_early(waiting, rules, None, background._tokens(len(rules)), later_w)
    put_off = []
    while token := os.read(later_r, background.TOKEN):
        put_off.append(rules[int.from_bytes(token, "big")].id)
    os.close(later_r)
    assert len(done) + len(put_off) == len(rules)
    assert {"media.one-way-audio", "nat.media-source-mismatch", "media.packet-loss"} <= set(put_off)
    assert "alg.sdp-rewritten-inconsistently" not in put_off
    by_id = {rules[i].id: found for i, found in done.items()}
    alg = background.selected_rules(select=("alg.sdp-rewritten-inconsistently",))
    assert len(by_id["alg.sdp-rewritten-inconsistently"]) == 1
    assert by_id["alg.sdp-rewritten-inconsistently"] == background.rule_findings(analysis, alg)


def test_the_calls_are_finished_and_stage_one_starts_before_the_rtp_statistics_are() -> None:
    """The capture side sends a CaptureRead once every packet is read, then finishes the streams' statistics: the
    SIP side finishes its calls and hands stage 1 its analysis in between, with `rtp` LATER. A rule that reads the
    RTP statistics (media.rtcp-issues looks there for RTCP reports, this call has none) is put off; the analysis at
    the end is the one a source without CaptureRead (the tshark engine) gives."""
    from sipdiag.analysis import _analyze
    from sipdiag.ingest import CaptureRead, CaptureResult, _in_process
    from sipdiag.reports.json import to_document

    path = SAMPLES / "nat_one_way_audio.pcap"
    events: list = []

    def source(announce: bool):
        for item in _in_process(path):
            if isinstance(item, CaptureResult):
                events.append("rtp statistics taken")
            if announce or not isinstance(item, CaptureRead):
                yield item

    def hook(analysis) -> None:
        events.append(("stage 1", analysis.rtp is later.LATER, len(analysis.calls), analysis.rtcp_packets))
        seen.append(analysis)

    seen: list = []
    announced = _analyze(path, True, source(True), early=hook)
    assert events == [("stage 1", True, 1, 0), "rtp statistics taken"]
    events.clear()
    at_once = _analyze(path, True, source(False), early=hook)
    assert events == ["rtp statistics taken", ("stage 1", False, 1, 0)]
    assert announced == at_once and to_document(announced) == to_document(at_once)
    assert announced.rtp is not None and announced.rtp.streams and announced.streams

    rules = background.selected_rules()
    later_r, later_w = os.pipe()
    done = background._take_early(background._waiting(seen[0]), rules, None, background._tokens(len(rules)),
                                  later_w)
    put_off = set()
    while token := os.read(later_r, background.TOKEN):
        put_off.add(rules[int.from_bytes(token, "big")].id)
    os.close(later_r)
    assert "media.rtcp-issues" in put_off and "nat.private-contact" not in put_off
    assert len(done) + len(put_off) == len(rules)
    with pytest.raises(later.NotReady):
        seen[0].rtp.rtcp


@pytest.mark.parametrize("use", [len, bool, iter, str, repr, int, float, hash, lambda x: x == 0, lambda x: x < 1,
                                 lambda x: x + 1, lambda x: f"{x}", lambda x: x.get("c"), lambda x: x[0],
                                 lambda x: "c" in x])
def test_what_stage_one_lacks_refuses_every_use(use) -> None:
    with pytest.raises(later.NotReady):
        use(later.LATER)


def test_a_failing_stage_one_is_reported(monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise ValueError("early boom")

    monkeypatch.setattr(background, "_take_early", boom)
    analysis, pending = _early(SAMPLES / "clean_call.pcap", monkeypatch)
    with pytest.raises(RuntimeError, match="rule engine failed: ValueError: early boom"):
        pending()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_the_command_forks_both_stages_on_a_large_capture_and_finds_what_run_checks_finds(tmp_path, fmt) -> None:
    """`sipdiag analyze` on 150 calls (150 + 300 streams: over MIN_OBJECTS, so both stages run in children), in
    JSON (findings written last) and in CSV (findings first): the findings of one run_checks in this process."""
    import csv
    import subprocess
    import sys
    from collections import Counter

    from benchmarks import gencapture

    path = tmp_path / "calls.pcap"
    gencapture.generate(path, calls=150, duration_s=6.0, spread=0.2, nat_fraction=0.1)
    analysis = sipdiag.analyze(path)
    assert len(analysis.calls) + len(analysis.streams) >= background.MIN_OBJECTS
    expected = [(f.rule, f.severity.label, f.call_id, f.engineer_text["en"]) for f in analysis.findings]
    # 15 calls from behind a NAT (signalling rules, stage 1) and 6 lossy streams (a media rule, stage 2)
    assert sorted(Counter(e[0] for e in expected).items()) == [
        ("media.packet-loss", 6), ("nat.media-source-mismatch", 15), ("nat.port-translated", 15),
        ("nat.private-contact", 15), ("nat.private-sdp-address", 15), ("nat.via-address-mismatch", 15)]
    args = ["--format", "csv", "--csv-table", "findings"] if fmt == "csv" else ["--format", "json"]
    r = subprocess.run([sys.executable, "-m", "sipdiag", "analyze", str(path), *args, "--fail-on", "never"],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode("utf-8-sig")
    if fmt == "json":
        found = [(f["rule"], f["severity"], f["call_id"], f["engineer_text"]["en"])
                 for f in json.loads(text)["findings"]]
    else:
        found = [(row["rule"], row["severity"], row["call_id"] or None, row["engineer_text"])
                 for row in csv.DictReader(io.StringIO(text))]
    assert found == expected


def test_a_rule_that_fails_on_stage_one_s_placeholders_runs_again_in_stage_two(monkeypatch) -> None:
    """Whatever a rule raises on the analysis without media (a TypeError from a placeholder it handed on, say), it
    is put off, not an error: stage 2 runs it on the whole analysis, where it gives its findings."""
    from dataclasses import replace

    from sipdiag.checks import REGISTRY

    all_rules()
    rule = REGISTRY["media.one-way-audio"]

    def touchy(analysis):
        if isinstance(analysis.streams, later._Later):
            raise TypeError("not a tuple")
        return rule.func(analysis)

    monkeypatch.setitem(REGISTRY, rule.id, replace(rule, func=touchy))
    analysis, pending = _early(SAMPLES / "nat_one_way_audio.pcap", monkeypatch)
    assert [f.rule for f in pending()] == [f.rule for f in run_checks(analysis)] == [
        "nat.private-sdp-address", "media.one-way-audio", "nat.media-source-mismatch", "media.rtcp-issues"]
