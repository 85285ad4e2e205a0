"""The JSON Schema (draft 2020-12) of the analysis document (ARCHITECTURE.md, "The JSON contract").

The schema is a file shipped in the package (`sipdiag/data/analysis.schema.json`), so that the ticket system and
the test lab can validate what they read without importing sipdiag. It is closed: every record the document
holds lists its fields (`additionalProperties: false`), so renaming or adding a field in `reports/json.py`
without changing the schema fails the tests (STYLE.md G12: a field rename is a breaking change). Its `schema`
constant is the document's `SCHEMA` version; a breaking change makes both `sipdiag.analysis/2`.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

SCHEMA_FILE = ("data", "analysis.schema.json")


def schema_text() -> str:
    """The schema as shipped (what `sipdiag schema` prints)."""
    return files("sipdiag").joinpath(*SCHEMA_FILE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The schema as a dict, for `jsonschema.Draft202012Validator(load_schema())`."""
    return json.loads(schema_text())
