"""Shared test fixtures: where the third-party corpus is, and skips with a reason for missing tools."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("SIPDIAG_CORPUS", ROOT.parent / "shared" / "corpus"))
SAMPLES = ROOT / "samples" / "pcaps"


def corpus_captures() -> list[Path]:
    """Every capture file of the corpus (not the TLS key material beside one of them)."""
    root = CORPUS / "pcaps"
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".pem")


def corpus_id(path: Path) -> str:
    return str(path.relative_to(CORPUS / "pcaps"))


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"third-party corpus not found at {CORPUS} (set SIPDIAG_CORPUS)")
    return CORPUS


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/test.sh installs it as root)")
    return path
