"""Making wire text safe for each output: anything from a capture is hostile (ARCHITECTURE.md, brief "Standards").

Terminal: control characters (ESC sequences could move the cursor, rewrite the screen, set the window title or
plant an OSC 8 hyperlink) are shown as visible escapes, and so are bidi controls, line separators (rich breaks a
table cell at U+2028) and zero-width characters; rich markup is escaped so `[bold]` in a User-Agent stays text.
Rich's emoji codes (`:thumbs_up:`) are markup too: every Console of the reports is made with `emoji=False` (see
`console()`), since escaping cannot reach them.

HTML: the same visible escapes, plus the few code points an HTML or XML parser rejects (noncharacters, lone
surrogates), so the page stays well-formed; Jinja2's autoescaping then turns `<`, `&` and quotes into entities.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

# The Unicode bidi controls that can reorder what is shown (CVE-2021-42574 "Trojan Source": the embeddings/overrides
# U+202A-E and isolates U+2066-9, plus the marks ALM, LRM, RLM that the same paper lists as able to move neutral
# characters), as a regex character-class body: every output's own set of unsafe characters includes it.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Line and paragraph separators: mandatory line breaks (UAX #14 class BK) that rich's wrapping and Python's
# str.splitlines() honour, so a value holding one would start a new line or a forged table row.
LINE_SEPARATORS = "\u2028\u2029"
# Characters that show nothing: zero-width space, non-joiner, joiner, word joiner, the invisible operators, and the
# zero-width no-break space (a BOM): two Call-IDs that differ only by one would look the same.
INVISIBLE = "\u200b-\u200d\u2060-\u2064\ufeff"
# C0 controls, DEL, C1 controls, the three sets above.
# Lone surrogates too: no output encoding can write them, and they come from bytes that are not UTF-8 (a file name
# from a Windows share, decoded by Python's surrogateescape).
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}{LINE_SEPARATORS}{INVISIBLE}\ud800-\udfff]")
# Not characters to an XML 1.0 parser (surrogates, U+FFFE/U+FFFF) or a parse error to HTML's (the noncharacters
# U+FDD0-U+FDEF, HTML Living Standard §13.2.5 "noncharacter-in-input-stream").
_NOT_MARKUP = re.compile("[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def _visible(m: re.Match[str]) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable octet kept by surrogateescape (PEP 383): the octet itself
        code -= 0xDC00
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """Replace control, bidi-control, line-separator and zero-width characters with visible `\\xNN` / `\\uNNNN`
    escapes."""
    return _UNSAFE.sub(_visible, text)


def terminal_text(text: str) -> str:
    """For rich: printable, with markup brackets escaped."""
    from rich.markup import escape

    return escape(printable(text))


def markup_text(text: str) -> str:
    """For HTML and SVG, before autoescaping: printable, and no code point that a parser would reject."""
    return _NOT_MARKUP.sub(_visible, printable(text))


def encodable(text: str) -> str:
    """Text every UTF-8 encoder takes (a database, Parquet, a CSV file, a JSON line): a lone surrogate (an octet
    that was not UTF-8 in a file name, kept by Python's surrogateescape, PEP 383) becomes a visible \\xNN escape;
    anything else is kept as it is."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate surrogateescape never makes (a JSON "\ud800")
            return text.encode("utf-8", "backslashreplace").decode("utf-8")


def console(out: TextIO, **options: Any) -> Any:
    """A rich Console for a report: no highlighting and no emoji codes, whatever the text (wire text is escaped for
    markup by `terminal_text`, but `:name:` emoji codes are replaced even in escaped text)."""
    from rich.console import Console

    return Console(file=out, highlight=False, emoji=False, **options)
