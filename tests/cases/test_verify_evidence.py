"""A verification's evidence rule by rule: a problem that only an answered call can show (an ACK for a 2xx, an
in-dialog request, RTP) is not resolved by a capture of a busy or cancelled call."""

from __future__ import annotations

from pathlib import Path

from sipdiag.cases import CaseStore
from sipdiag.cases.compare import compare
from tests.conftest import SAMPLES


def test_an_ack_timeout_is_not_resolved_by_a_call_never_answered(tmp_path: Path) -> None:
    # call.ack-timeout-32s is a signalling rule, whose category asked only for a call: a cancelled call (no 2xx,
    # so no ACK for one, RFC 3261 13.3.1.4) passed the verification and resolved the ticket
    with CaseStore(str(tmp_path / "cases.db")) as cases:
        cases.file("T-1", SAMPLES / "ack_dropped.pcap")
        v = cases.verify("T-1", SAMPLES / "cancelled_487.pcap")
        assert (v.passed, v.comparison.outcome) == (False, "not-verified")
        assert [r.rule for r in v.comparison.unverified] == ["call.ack-timeout-32s"]
        assert v.comparison.missing == {"en": "answered call", "ru": "отвеченного звонка"}
        assert cases.show("T-1").status == "open"
        v = cases.verify("T-1", SAMPLES / "clean_call.pcap")  # an answered call shows it gone
        assert (v.passed, [r.rule for r in v.comparison.resolved]) == (True, ["call.ack-timeout-32s"])


def test_rules_of_answered_calls_ask_for_one_whatever_their_category() -> None:
    def finding(rule: str, category: str) -> dict:
        return {"rule": rule, "category": category, "severity": "major", "title": rule, "customer_text": {}}

    before = {"figures": {"calls": 1, "answered": 1, "streams": 2},
              "findings": [finding("call.session-timer-expiry", "signaling"),
                           finding("codec.rtp-payload-not-negotiated", "codec"),
                           finding("call.invite-timeout", "signaling")]}
    busy = {"figures": {"calls": 1, "answered": 0, "streams": 0}, "findings": []}
    c = compare(before, busy)
    assert [r.rule for r in c.unverified] == ["call.session-timer-expiry", "codec.rtp-payload-not-negotiated"]
    assert [r.rule for r in c.resolved] == ["call.invite-timeout"]  # a call answered or refused shows it gone
    assert c.missing == {"en": "answered call, answered call with audio",
                         "ru": "отвеченного звонка, отвеченного звонка со звуком"}
