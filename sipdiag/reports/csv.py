"""`analyze --format csv`: one table per file, for a spreadsheet (RFC 4180 CSV, UTF-8 with a byte-order mark).

A spreadsheet user expects one rectangle with one header row, to sort and filter: two tables stacked in one file
break that (and every CSV importer), so `--csv-table calls` (the default: one row per call, with the number,
worst severity and rules of its findings) and `--csv-table findings` (one row per finding, with its call's #N
and Call-ID to look it up) are two files. Column names are the JSON document's field names.

Anything from the wire is hostile here too: a cell a spreadsheet would read as a formula (OWASP "CSV Injection":
it begins with =, +, -, @, tab or CR) gets a leading apostrophe, so `=HYPERLINK(...)` in a display name stays
text; control characters other than line feed and tab are shown as visible escapes (an ESC sequence must not
reach a terminal that prints the file), and so are bidi controls, line separators and zero-width characters;
quoting is left to the csv module. Numbers the analysis computed are written as numbers.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from ..analysis import Analysis
from ..checks import Finding, Severity
from ..model import Call
from .json import iso_time
from .safe import BIDI_CONTROLS, INVISIBLE, LINE_SEPARATORS

TABLES = ("calls", "findings")
CALL_COLUMNS = (
    "number", "call_id", "start", "caller_display", "caller", "callee", "caller_address", "callee_address",
    "outcome", "final_status", "final_reason", "setup_ms", "answer_ms", "duration_s", "ended_by", "end_reason",
    "transport", "user_agents", "audio", "streams", "mos_min", "loss_pct_max", "jitter_max_ms", "findings",
    "worst_severity", "rules",
)
FINDING_COLUMNS = (
    "severity", "rule", "category", "owner", "confidence", "title", "call", "call_id", "frames", "customer_text",
    "engineer_text", "evidence",
)
# OWASP CSV Injection: Excel, LibreOffice and Google Sheets evaluate a cell that begins with one of these (tab and
# CR because some importers strip them and then meet the character after).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# C0 controls but tab and line feed (legal inside a quoted cell), DEL, C1 controls, bidi controls (CVE-2021-42574),
# line separators and zero-width characters: what `safe.printable` shows as escapes, but the cell's own line breaks.
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}{LINE_SEPARATORS}{INVISIBLE}]")
BOM = "\ufeff"  # without it Excel reads UTF-8 as the local code page (cp1251 on a Russian Windows): mojibake


def cell(value: Any) -> Any:
    """One value as a safe cell: None empty, booleans true/false, numbers as they are, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    quote = "'" if text.startswith(FORMULA_TRIGGERS) else ""
    return quote + _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else
                               f"\\u{ord(m.group()):04x}", text)


def render_csv(a: Analysis, out: TextIO, *, table: str = "calls", call: Call | None = None, lang: str = "en") -> None:
    """Write table `table` ('calls' or 'findings'); with `call`, that call only (and, for findings, the
    capture-wide ones); finding texts in `lang`."""
    if table not in TABLES:
        raise ValueError(f"no CSV table {table!r}")
    number = {c.call_id: i for i, c in enumerate(a.calls, 1)}
    findings = [f for f in a.findings if call is None or f.call_id in (None, call.call_id)]
    if table == "calls":
        columns, rows = CALL_COLUMNS, _call_rows(a, a.calls if call is None else (call,), number, findings)
    else:
        columns, rows = FINDING_COLUMNS, _finding_rows(findings, number, lang)
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 §2: CRLF line breaks
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row[c]) for c in columns])


def _call_rows(a: Analysis, calls: Iterable[Call], number: dict[str, int], findings: list[Finding],
               ) -> Iterator[dict[str, Any]]:
    by_call: dict[str, list[Finding]] = {}
    for f in findings:
        if f.call_id is not None:
            by_call.setdefault(f.call_id, []).append(f)
    for c in calls:
        media = a.media_of(c)
        streams = [a.streams[i] for i in media.streams] if media else []
        mos = [m.quality.mos for m in streams if m.quality is not None]
        mine = by_call.get(c.call_id, [])
        yield {
            "number": number[c.call_id], "call_id": c.call_id, "start": iso_time(c.start_ns),
            "caller_display": c.caller_display, "caller": c.caller, "callee": c.callee,
            "caller_address": c.caller_address, "callee_address": c.callee_address, "outcome": c.outcome,
            "final_status": c.final_status, "final_reason": c.final_reason, "setup_ms": c.setup_ms,
            "answer_ms": c.answer_ms, "duration_s": c.duration_s, "ended_by": c.ended_by, "end_reason": c.end_reason,
            "transport": c.transport, "user_agents": " | ".join(c.user_agents),
            "audio": media.verdict.verdict if media else None, "streams": len(streams),
            "mos_min": round(min(mos), 2) if mos else None,
            "loss_pct_max": round(max(m.stats.loss_pct for m in streams), 2) if streams else None,
            "jitter_max_ms": _max_known(m.stats.jitter_max_ms for m in streams),
            "findings": len(mine),
            "worst_severity": Severity(max(f.severity for f in mine)).label if mine else None,
            "rules": " ".join(dict.fromkeys(f.rule for f in mine)),
        }


def _max_known(values: Iterable[float | None]) -> float | None:
    """The largest figure that was measured (None: a stream the capture's clock steps within), rounded."""
    return max((round(v, 3) for v in values if v is not None), default=None)


def _finding_rows(findings: list[Finding], number: dict[str, int], lang: str) -> Iterator[dict[str, Any]]:
    for f in findings:
        yield {
            "severity": f.severity.label, "rule": f.rule, "category": f.category, "owner": f.owner,
            "confidence": f.confidence, "title": f.title_in(lang),
            "call": f"#{number[f.call_id]}" if f.call_id in number else None, "call_id": f.call_id,
            "frames": " ".join(map(str, f.frames)), "customer_text": f.customer_text[lang],
            "engineer_text": f.engineer_text[lang],
            "evidence": json.dumps(f.evidence, ensure_ascii=False, default=str, sort_keys=True),
        }
