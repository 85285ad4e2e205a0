"""The capture side gives the same result in a second process as in this one, and its errors cross over."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipdiag.errors import CaptureFormatError
from sipdiag.ingest import CaptureResult, ingest
from tests.conftest import SAMPLES


def _collect(path: Path, parallel: bool) -> tuple[list, CaptureResult]:
    datagrams, result = [], None
    for item in ingest(path, parallel=parallel):
        if isinstance(item, CaptureResult):
            result = item
        else:
            datagrams.extend(item)
    assert result is not None
    return datagrams, result


@pytest.mark.parametrize("name", ["clean_call.pcap", "sip_over_tcp.pcap", "rtp_loss.pcap"])
def test_child_process_equals_in_process(name: str) -> None:
    here = _collect(SAMPLES / name, parallel=False)
    there = _collect(SAMPLES / name, parallel=True)
    assert there == here
    assert [d.frame for d in here[0]] == sorted(d.frame for d in here[0])


def test_child_error_reaches_the_caller(tmp_path: Path) -> None:
    bogus = tmp_path / "x.pcap"
    bogus.write_bytes(b"not a capture at all")
    with pytest.raises(CaptureFormatError, match="is not a pcap or pcapng file"):
        _collect(bogus, parallel=True)


def test_prestarted_reader_is_taken_over_by_ingest(monkeypatch) -> None:
    from sipdiag import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)  # the samples are small; any file gets a child
    path = SAMPLES / "rtp_loss.pcap"
    ingest_module.prestart(path)
    early = ingest_module._prestarted
    assert early is not None and early[0] == str(path)
    proc = early[2]
    assert _collect(path, parallel=None) == _collect(path, parallel=False)
    assert ingest_module._prestarted is None
    assert not proc.is_alive() and proc.exitcode == 0  # the early child did the reading and ended


def test_prestarted_reader_for_another_file_is_stopped(monkeypatch) -> None:
    from sipdiag import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)
    ingest_module.prestart(SAMPLES / "rtp_loss.pcap")
    proc = ingest_module._prestarted[2]
    clean = SAMPLES / "clean_call.pcap"
    assert _collect(clean, parallel=None) == _collect(clean, parallel=False)
    assert not proc.is_alive()


def test_idle_work_runs_once_while_waiting_for_the_child_and_never_in_process() -> None:
    """`idle` fills the time this process would spend waiting for the reader (analysis loads the rules and the
    device knowledge base there); in-process nothing waits, so it is not called: the caller loads on first use."""
    calls: list[int] = []
    path = SAMPLES / "rtp_loss.pcap"
    there = list(ingest(path, parallel=True, idle=lambda: calls.append(1)))
    assert calls == [1]  # a fresh child is never ready at once: at least the first read waits
    here = list(ingest(path, parallel=False, idle=lambda: calls.append(2)))
    assert calls == [1]
    assert there[-1] == here[-1]
