"""Making wire text safe for each output: anything from a capture is hostile (ARCHITECTURE.md, brief "Standards").

Terminal: control characters (ESC sequences could move the cursor, rewrite the screen, set the window title or
plant an OSC 8 hyperlink) are shown as visible escapes, and rich markup is escaped so `[bold]` in a User-Agent
stays text. Rich's emoji codes (`:thumbs_up:`) are markup too: every Console of the reports is made with
`emoji=False` (see `console()`), since escaping cannot reach them.

HTML: the same visible escapes, plus the few code points an HTML or XML parser rejects (noncharacters, lone
surrogates), so the page stays well-formed; Jinja2's autoescaping then turns `<`, `&` and quotes into entities.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

# C0 controls, DEL, C1 controls, and the Unicode bidi controls that can reorder what is shown (CVE-2021-42574
# "Trojan Source": the embeddings/overrides U+202A-E and isolates U+2066-9, plus the marks ALM, LRM, RLM that
# the same paper lists as able to move neutral characters).
# Lone surrogates too: no output encoding can write them, and they come from bytes that are not UTF-8 (a file name
# from a Windows share, decoded by Python's surrogateescape).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Not characters to an XML 1.0 parser (surrogates, U+FFFE/U+FFFF) or a parse error to HTML's (the noncharacters
# U+FDD0-U+FDEF, HTML Living Standard §13.2.5 "noncharacter-in-input-stream").
_NOT_MARKUP = re.compile("[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def _visible(m: re.Match[str]) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable octet kept by surrogateescape (PEP 383): the octet itself
        code -= 0xDC00
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """Replace control and bidi-control characters with visible `\\xNN` / `\\uNNNN` escapes."""
    return _UNSAFE.sub(_visible, text)


def terminal_text(text: str) -> str:
    """For rich: printable, with markup brackets escaped."""
    from rich.markup import escape

    return escape(printable(text))


def markup_text(text: str) -> str:
    """For HTML and SVG, before autoescaping: printable, and no code point that a parser would reject."""
    return _NOT_MARKUP.sub(_visible, printable(text))


def console(out: TextIO, **options: Any) -> Any:
    """A rich Console for a report: no highlighting and no emoji codes, whatever the text (wire text is escaped for
    markup by `terminal_text`, but `:name:` emoji codes are replaced even in escaped text)."""
    from rich.console import Console

    return Console(file=out, highlight=False, emoji=False, **options)
