"""Making wire text safe for each output: anything from a capture is hostile (ARCHITECTURE.md, brief "Standards").

Terminal: control characters (ESC sequences could move the cursor, rewrite the screen, set the window title) are
shown as visible escapes, and rich markup is escaped so `[bold]` in a User-Agent stays text.
"""

from __future__ import annotations

import re

# C0 controls except none, DEL, C1 controls, and the Unicode bidi overrides that can reorder what is shown
# (CVE-2021-42574 "Trojan Source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Replace control and bidi-override characters with visible `\\xNN` / `\\uNNNN` escapes."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                       text)


def terminal_text(text: str) -> str:
    """For rich: printable, with markup brackets escaped."""
    from rich.markup import escape

    return escape(printable(text))
