"""sipdiag.npsets: NumPy's unique and isin without numpy.ma (its first use costs 13-31 ms a process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sipdiag.npsets import member_of, unique

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "pcaps"


@pytest.mark.parametrize("dtype", [np.uint32, np.int64, np.uint64, np.float64])
@pytest.mark.parametrize("size", [0, 1, 2, 7, 1000])
def test_unique_equals_numpy(dtype: type, size: int) -> None:
    values = np.random.default_rng(size).integers(0, 50, size).astype(dtype)
    got = unique(values)
    assert got.dtype == values.dtype
    assert got.tolist() == np.unique(values).tolist()


def test_member_of_equals_isin_on_either_side_of_the_table() -> None:
    table = np.sort(np.array([0x494E5649, 0x41434B20, 0x5349502F, 7], dtype=np.uint32))
    values = np.array([0, 7, 8, 0x41434B20, 0x41434B21, 0x5349502F, 0xFFFFFFFF, 0x494E5649], dtype=np.uint32)
    assert member_of(values, table).tolist() == np.isin(values, table).tolist()
    assert member_of(values, table).tolist() == [False, True, False, True, False, True, False, True]
    assert member_of(values[:0], table).tolist() == []


def test_an_analysis_leaves_numpy_ma_unimported() -> None:
    """What this module is for: a whole analysis (reading, RTP statistics, rules) in one process imports no
    numpy.ma. np.isin in the SIP detection of every batch of packets imported it before."""
    probe = ("import sys; from sipdiag.analysis import analyze; a = analyze(sys.argv[1]);"
             " print(len(a.calls), len(a.streams), 'numpy.ma' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", probe, str(SAMPLES / "clean_call.pcap")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "2", "False"]
