"""Shared test fixtures: where the third-party corpus is, and skips with a reason for missing tools."""

from __future__ import annotations

import json
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

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


@lru_cache(maxsize=None)
def _validator(definition: str | None):
    import jsonschema

    from sipdiag.reports.contract import load_schema

    schema = load_schema()
    if definition is not None:  # one record type of the document, e.g. "stream" for `sipdiag streams`
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def validate_json_document(doc: Any, definition: str | None = None) -> Any:
    """Check a `--format json` output against the shipped JSON Schema and return it parsed.

    doc: the document (dict) or its text/bytes as the command printed it. definition: validate against one
    record of `$defs` instead of the whole document (`"stream"`, `"finding"`, ...). Every error is listed with
    its path, so a failing test says which field broke the contract."""
    if isinstance(doc, (str, bytes)):
        doc = json.loads(doc)
    errors = sorted(_validator(definition).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "the document breaks the JSON contract:\n" + "\n".join(
        f"  {'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message[:300]}" for e in errors[:20])
    return doc
