"""Reporters: each renders an `Analysis` to a stream and never re-analyses anything (STYLE.md G13)."""

from __future__ import annotations

from typing import TextIO

from ..analysis import Analysis
from ..model import Call


def render(analysis: Analysis, fmt: str, out: TextIO, *, call: Call | None = None, lang: str = "en") -> None:
    """Render `analysis` in format `fmt` ('terminal', 'json' or 'html') to `out`; with `call`, that call only; texts
    of findings in `lang` on the terminal and in HTML (JSON carries every language)."""
    if fmt == "html":
        from .html import render_html

        render_html(analysis, out, call=call, lang=lang)
    elif fmt == "json":
        from .json import render_json

        render_json(analysis, out, call=call)
    else:
        from .terminal import render_terminal

        render_terminal(analysis, out, call=call, lang=lang)
