"""The lab's own captures (samples/pcaps): every call's outcome and final status and every registration's outcome
equal the ground truth the lab wrote into manifest.json (issue 4)."""

from __future__ import annotations

import json

import pytest

import sipdiag
from tests.conftest import SAMPLES

MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())
CAPTURES = MANIFEST["captures"]


@pytest.mark.parametrize("entry", CAPTURES, ids=[c["file"] for c in CAPTURES])
def test_calls_and_registrations_equal_the_manifest(entry: dict) -> None:
    analysis = sipdiag.analyze(SAMPLES / entry["file"])
    calls = {c.call_id: (c.outcome, c.final_status, c.caller.split(":", 1)[-1].split("@")[0],
                         c.callee.split(":", 1)[-1].split("@")[0], c.transport) for c in analysis.calls}
    expected = {c["call_id"]: (c["outcome"], c["final_status"], c["caller"], c["callee"], c["transport"])
                for c in entry.get("calls", [])}
    assert calls == expected
    registrations = sorted((r.aor, r.outcome, r.final_status, r.challenges) for r in analysis.registrations)
    assert registrations == sorted((r["aor"], r["outcome"], r["final_status"], r["challenges"])
                                   for r in entry.get("registrations", []))


def test_clean_call_timings_and_negotiation() -> None:
    (call,) = sipdiag.analyze(SAMPLES / "clean_call.pcap").calls
    assert (call.setup_ms, call.answer_ms, call.duration_s, call.ended_by) == (1.417, 307.782, 1.508, "caller")
    assert [m.label for m in call.messages] == ["INVITE +SDP", "100 Trying", "180 Ringing", "200 OK +SDP", "ACK",
                                                "BYE", "200 OK (BYE)"]
    (neg,) = call.negotiations
    assert (neg.kind, neg.offerer, neg.offer[0].address, neg.offer[0].port, neg.offer[0].codecs) == (
        "initial", "caller", "203.0.113.20", 6000, ("PCMU/8000", "telephone-event/8000"))
    assert (neg.answer[0].address, neg.answer[0].port, neg.status) == ("203.0.113.10", 7000, 200)
    assert [(d.state, d.confirmed_frame) for d in call.dialogs] == [("terminated", 6)]


def test_ack_dropped_counts_the_200_ok_retransmissions() -> None:
    (call,) = sipdiag.analyze(SAMPLES / "ack_dropped.pcap").calls
    invite = next(t for t in call.transactions if t.method == "INVITE")
    # RFC 3261 §13.3.1.4: the UAS retransmits 2xx at T1, 2*T1, ... capped at T2 until 64*T1; then sends BYE.
    assert (invite.final_status, invite.response_retransmissions) == (200, 10)
    assert not any(m.method == "ACK" for m in call.messages)
    assert (call.ended_by, call.duration_s) == ("callee", 32.044)


def test_invite_timeout_sees_the_whole_timer_a_schedule() -> None:
    (call,) = sipdiag.analyze(SAMPLES / "invite_timeout.pcap").calls
    (invite,) = call.transactions
    assert (call.outcome, invite.request_retransmissions, invite.responses) == ("timeout", 6, ())


def test_register_423_then_ok() -> None:
    (reg,) = sipdiag.analyze(SAMPLES / "register_423_then_ok.pcap").registrations
    assert [t.final_status for t in reg.transactions] == [423, 401, 200]
    # 423 Interval Too Brief names Min-Expires 60 (RFC 3261 §10.3 step 7); the phone asks for 60 and gets it.
    assert (reg.attempts, reg.challenges, reg.outcome, reg.requested_expires_s, reg.expires_s) == (
        3, 1, "registered", 60, 60)
