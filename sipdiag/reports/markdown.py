"""Making wire text inert in Markdown (CommonMark 0.31, GitHub Flavored Markdown), for replies pasted into tickets.

A SIP header is attacker-controlled: a Call-ID like ``x](javascript:alert(1))`` or a User-Agent holding ``<img
onerror=…>`` or an ESC sequence must reach the ticket as the text it is, never as a link, an image, HTML or a
terminal command. Two ways out, both built on `safe.printable` (control and bidi characters become visible
``\\xNN`` escapes first, so nothing invisible survives):

- `md_text`: prose. Every ASCII punctuation character CommonMark gives a meaning inline is backslash-escaped
  (CommonMark §2.4: any ASCII punctuation may be escaped), and so are the characters that open a block at the
  start of a line (``#``, ``-``, ``+``, ``=``, ``>``, ``1.``).
- `md_code`: a code span, for values an engineer copies (Call-IDs, display filters). Inside a code span nothing
  is parsed (§6.1); the fence is one backtick longer than the longest backtick run inside, so a backtick in the
  value cannot close it.
"""

from __future__ import annotations

import re

from .safe import printable

# Inline meaning anywhere: escapes, code, emphasis, links/images, autolinks/HTML, entities, GFM strikethrough and
# table cells. Parentheses are escaped too, so that a stray "](" never reaches a renderer with a lenient parser.
_INLINE = re.compile(r"([\\`*_\[\]<>!&~|#()])")
# Block meaning at the start of a line (a value may be printed first on its line or after a list marker): a list
# item (`- `, `+ `, `1. `, `1) `: a marker needs a space or the end after it, CommonMark §5.2), a thematic break or
# setext underline (`---`, `===`). `>`, `#`, `*` and `_` are escaped everywhere already.
_LINE_START = re.compile(r"^\s*(?:(?P<bullet>[-+])(?:\s|$)|\d{1,9}(?P<ordered>[.)])(?:\s|$)"
                         r"|(?P<rule>[-=])(?P=rule)*\s*$)")


def one_line(text: object) -> str:
    """Line breaks inside a value would start new Markdown blocks: they become visible escapes too."""
    return printable(str(text))


def md_text(value: object) -> str:
    """A wire value (or a text holding wire values) as inert Markdown prose."""
    text = _INLINE.sub(r"\\\1", one_line(value))
    m = _LINE_START.match(text)
    if m is None:
        return text
    at = next(m.start(g) for g in ("bullet", "ordered", "rule") if m.group(g))
    return text[:at] + "\\" + text[at:]


def md_code(value: object) -> str:
    """A wire value as a code span: shown verbatim (control characters made visible), never parsed."""
    text = one_line(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # A span that begins or ends with a backtick needs a space of padding, which the renderer strips (§6.1).
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
