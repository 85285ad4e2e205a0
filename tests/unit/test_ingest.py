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
