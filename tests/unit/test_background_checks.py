"""The rule engine in a forked child while the JSON is written (sipdiag.checks.background) gives exactly the
findings of run_checks, in the same order, and reports a failure of the child."""

from __future__ import annotations

import io
import json
import os
import time

import pytest

import sipdiag
from sipdiag.checks import background, run_checks
from sipdiag.reports.json import render_json
from tests.conftest import SAMPLES, validate_json_document


@pytest.mark.parametrize(("fork", "slow"), [(False, None), (True, None), (True, "child"), (True, "parent")])
def test_same_findings_as_run_checks(monkeypatch, fork: bool, slow: str | None) -> None:
    """However the two processes share the rules (the slow one takes few), the merged findings equal one run's,
    in the same order."""
    analysis = sipdiag.analyze(SAMPLES / "sip_alg_rewrite.pcap", rules=False)
    assert analysis.findings == ()
    monkeypatch.setattr(background, "MIN_OBJECTS", 0 if fork else 10**9)
    parent = os.getpid()
    real = background.rule_findings
    taken = {"parent": 0}

    def paced(*args, **kwargs):
        here = "parent" if os.getpid() == parent else "child"
        if here == "parent":
            taken["parent"] += 1
        if here == slow:
            time.sleep(0.02)
        return real(*args, **kwargs)

    monkeypatch.setattr(background, "rule_findings", paced)
    pending = background.start_checks(analysis, ignore=("media.rtcp-issues",))
    if slow == "parent":
        time.sleep(0.5)  # the child has taken every rule by the time the findings are asked for
    expected = run_checks(analysis, ignore=("media.rtcp-issues",))
    assert [f.rule for f in expected] == ["alg.sdp-rewritten-inconsistently", "media.one-way-audio",
                                          "nat.media-source-mismatch", "nat.private-sdp-address"]
    assert pending() == expected
    assert pending() is pending()  # read once
    if slow == "child":
        assert taken["parent"] > 25  # of 49: the parent, not slowed, took most
    elif slow == "parent":
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
        "nat.private-sdp-address", "media.one-way-audio", "nat.media-source-mismatch"]


def test_a_failing_rule_engine_in_the_child_is_reported(monkeypatch) -> None:
    monkeypatch.setattr(background, "MIN_OBJECTS", 0)

    parent = os.getpid()
    real = background.rule_findings

    def broken_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            raise ValueError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(background, "rule_findings", broken_in_the_child)
    pending = background.start_checks(sipdiag.analyze(SAMPLES / "clean_call.pcap", rules=False))
    with pytest.raises(RuntimeError, match="rule engine failed: ValueError: boom"):
        pending()
