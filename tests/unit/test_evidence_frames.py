"""Evidence frames are Wireshark's 1-based frame numbers: a frame a rule does not know is left out, never 0."""

from __future__ import annotations

from types import SimpleNamespace

from sipdiag.checks import REGISTRY, _load_rules, _render
from sipdiag.clocksteps import NO_STEPS
from sipdiag.checks.security import scanner
from sipdiag.model import Transaction


def _request(frame: int | None, src: str) -> Transaction:
    return Transaction(method="OPTIONS", call_id="c", cseq=1, branch="z9hG4bK1", request_frame=frame, ts_ns=0,
                       src=src, dst="198.51.100.1:5060", request_retransmissions=0, responses=(),
                       response_retransmissions=0, final_status=None, final_ts_ns=None, first_provisional_ts_ns=None,
                       in_dialog=False, user_agent="friendly-scanner")


def test_a_scanner_request_of_unknown_frame_is_counted_but_not_evidence() -> None:
    """sec.scanner-detected turned an unknown request frame into evidence frame 0 (`request_frame or 0`), and as
    it sorted first, that 0 was also the 'first at frame' of its text."""
    _load_rules()
    analysis = SimpleNamespace(transactions=[_request(None, "203.0.113.9:5060"), _request(7, "203.0.113.8:5060")],
                               registrations=[], calls=[], capture=SimpleNamespace(clock=NO_STEPS))
    # one finding per source: the one of unknown frame has no frame, the other frame 7
    known, unknown = scanner(analysis)
    assert (known.frames, known.values["requests"], known.values["frame"], known.values["source"]) == (
        (7,), 1, 7, "203.0.113.8")
    assert (unknown.frames, unknown.values["requests"], "frame" in unknown.values, unknown.values["source"]) == (
        (), 1, False, "203.0.113.9")

    [hit] = scanner(SimpleNamespace(transactions=[_request(None, "203.0.113.9:5060")], registrations=[], calls=[],
                                    capture=SimpleNamespace(clock=NO_STEPS)))
    assert (hit.frames, "frame" in hit.values) == ((), False)
    assert _render(REGISTRY["sec.scanner-detected"].engineer["en"], {**hit.values, **hit.texts}).startswith(
        "1 request(s) with scanner User-Agent friendly-scanner from 203.0.113.9 (OPTIONS), first at frame ?. ")
