"""The rule engine in a forked child while the JSON is written (sipdiag.checks.background) gives exactly the
findings of run_checks, in the same order, and reports a failure of the child."""

from __future__ import annotations

import io
import json
import os

import pytest

import sipdiag
from sipdiag.checks import background, run_checks
from sipdiag.reports.json import render_json
from tests.conftest import SAMPLES, validate_json_document


@pytest.mark.parametrize(("fork", "share"), [(False, 0.7), (True, 0.7), (True, 0.0), (True, 0.3), (True, 1.0)])
def test_same_findings_as_run_checks(monkeypatch, fork: bool, share: float) -> None:
    """Whichever share of the rules the child runs, the merged findings equal one run's, in the same order."""
    analysis = sipdiag.analyze(SAMPLES / "sip_alg_rewrite.pcap", rules=False)
    assert analysis.findings == ()
    monkeypatch.setattr(background, "MIN_OBJECTS", 0 if fork else 10**9)
    monkeypatch.setattr(background, "CHILD_SHARE", share)
    pending = background.start_checks(analysis, ignore=("media.rtcp-issues",))
    expected = run_checks(analysis, ignore=("media.rtcp-issues",))
    assert [f.rule for f in expected] == ["alg.sdp-rewritten-inconsistently", "media.one-way-audio",
                                          "nat.media-source-mismatch", "nat.private-sdp-address"]
    assert pending() == expected
    assert pending() is pending()  # read once


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
