"""Record times that step back or leap forward are named (capture.time-backwards, capture.time-jump): durations
measured across them are not real, and a report that shows a 53-year call must say why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sipdiag
from sipdiag.parsers import capture
from sipdiag.parsers.anomalies import AnomalyLog
from sipdiag.parsers.scan import time_steps
from tests import pcapwriter as pw
from tests.conftest import CORPUS

S = 1_000_000_000
DAY = 86_400 * S


def codes(log: AnomalyLog) -> list[tuple[str, int | None, str]]:
    return [(a.code, a.frame, a.detail) for a in log.anomalies()]


def test_steps_within_a_batch_and_across_batches() -> None:
    log = AnomalyLog()
    # frames 10..14: 5 ms back (interfaces merged: not a step), 2 s back, 3 days forward, then steady
    ts = np.array([100 * S, 100 * S - 5_000_000, 98 * S, 98 * S + 3 * DAY, 98 * S + 3 * DAY + 20_000_000])
    time_steps(ts, 10, None, log)
    assert codes(log) == [
        ("capture.time-backwards", 12, "the record time goes back 1.995 s from the record before it: durations "
                                       "across it are not real"),
        ("capture.time-jump", 13, "the record time goes forward 3.0 days from the record before it: durations "
                                  "across it are not real"),
    ]
    # the next batch starts 2 days after the last record of this one: its first record is the step
    later = AnomalyLog()
    time_steps(np.array([ts[-1] + 2 * DAY]), 15, int(ts[-1]), later)
    assert [(c, f) for c, f, _ in codes(later)] == [("capture.time-jump", 15)]


def test_a_flood_of_steps_is_counted_not_listed() -> None:
    log = AnomalyLog(keep_per_code=3)
    ts = np.tile(np.array([0, 10 * S]), 5000)  # back 10 s every other record
    time_steps(ts, 1, None, log)
    kept = codes(log)
    assert [(c, f) for c, f, _ in kept[:3]] == [("capture.time-backwards", 3), ("capture.time-backwards", 5),
                                                  ("capture.time-backwards", 7)]
    assert kept[3] == ("capture.time-backwards", None,
                       "4996 more 'capture.time-backwards' anomalies not listed one by one (4999 in all)")


def test_a_capture_with_a_clock_reset_names_it(tmp_path: Path) -> None:
    frame = pw.sip_udp_frame("OPTIONS sip:a@example.com SIP/2.0\nCall-ID: t\nCSeq: 1 OPTIONS\n"
                             "Via: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK1\nFrom: <sip:b@example.com>;tag=1\n"
                             "To: <sip:a@example.com>\nMax-Forwards: 70\nContent-Length: 0\n\n")
    path = tmp_path / "reset.pcap"
    base = 1_700_000_000 * S
    pw.write_pcap(path, [(base, frame), (base + S, frame), (base - 3600 * S, frame)], pw.LINKTYPES["ethernet"],
                  nanos=True)
    analysis = sipdiag.analyze(path)
    assert [(a.code, a.frame) for a in analysis.capture.anomalies] == [("capture.time-backwards", 3)]


def test_the_corpus_capture_whose_clock_leaps_decades() -> None:
    path = CORPUS / "pcaps" / "heplify" / "sip_ipv6.pcap"
    if not path.is_file():
        import pytest

        pytest.skip(f"corpus capture {path} is absent (../shared/corpus)")
    anomalies = sipdiag.analyze(path).capture.anomalies
    assert [(a.code, a.frame) for a in anomalies] == [("capture.time-jump", f) for f in (2, 3, 4, 5, 6)]
    assert anomalies[0].detail.startswith("the record time goes forward 2327.8 days")


@pytest.mark.parametrize("chunk", [capture.CHUNK_BYTES, 700], ids=["default", "700"])
def test_steps_are_listed_in_frame_order_whatever_the_batches(tmp_path: Path, monkeypatch, chunk) -> None:
    """A batch's backward steps were logged before its forward jumps: with one batch, a jump at frame 2 came after
    a step back at frame 9, with a batch of a few records before it. The list is in frame order for any batching."""
    monkeypatch.setattr(capture, "CHUNK_BYTES", chunk)
    frame = pw.sip_udp_frame("OPTIONS sip:a@example.com SIP/2.0\nCall-ID: t\nCSeq: 1 OPTIONS\n"
                             "Via: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK1\nFrom: <sip:b@example.com>;tag=1\n"
                             "To: <sip:a@example.com>\nMax-Forwards: 70\nContent-Length: 0\n\n")
    base = 1_700_000_000 * S
    times = [base, base + 3 * DAY] + [base + 3 * DAY + i * S for i in range(1, 7)] + [base + 10 * S, base + 11 * S]
    path = tmp_path / "steps.pcap"
    pw.write_pcap(path, [(t, frame) for t in times], pw.LINKTYPES["ethernet"], nanos=True)
    analysis = sipdiag.analyze(path)
    assert [(a.code, a.frame) for a in analysis.anomalies if a.code.startswith("capture.")] == [
        ("capture.time-jump", 2), ("capture.time-backwards", 9)]
