"""Reporters: each renders an `Analysis` to a stream and never re-analyses anything (STYLE.md G13)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # importing a reporter (reports.safe, for one) must not import the whole pipeline
    from ..analysis import Analysis
    from ..model import Call


def render(analysis: Analysis, fmt: str, out: TextIO, *, call: Call | None = None, lang: str = "en",
           fail_on: str = "major", csv_table: str = "calls", findings=None) -> None:
    """Render `analysis` in format `fmt` ('terminal', 'json', 'html', 'csv' or 'junit') to `out`; with `call`, that
    call only; texts of findings in `lang` (JSON carries every language). csv_table: 'calls' or 'findings';
    fail_on: the severity that fails a JUnit testcase ('never': none). findings: JSON only, a callable giving the
    findings once the rest is written (sipdiag.checks.background)."""
    if fmt == "html":
        from .html import render_html

        render_html(analysis, out, call=call, lang=lang)
    elif fmt == "json":
        from .json import render_json

        render_json(analysis, out, call=call, findings=findings)
    elif fmt == "csv":
        from .csv import render_csv

        render_csv(analysis, out, table=csv_table, call=call, lang=lang)
    elif fmt == "junit":
        from .junit import render_junit

        render_junit(analysis, out, fail_on=fail_on, call=call, lang=lang)
    else:
        from .terminal import render_terminal

        render_terminal(analysis, out, call=call, lang=lang)
