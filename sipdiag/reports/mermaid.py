"""A call's ladder as Mermaid `sequenceDiagram` text, ready to paste into a ticket or a Markdown page.

Everything from the wire is escaped for Mermaid's lexer (packages/mermaid/src/diagrams/sequence/parser/
sequenceDiagram.jison): `;` ends a statement and `#` starts a comment, so both become entity codes (`#59;`,
`#35;`); `%%` starts a comment anywhere on a line; `<`, `>`, `&` and quotes would reach the browser as HTML (a
`<br>` or a `<script>` in a reason phrase), so they become `#lt;` `#gt;` `#amp;` `#quot;`. Control characters
(a newline would start a new statement) are removed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from ..addresses import join_address
from ..clocksteps import NO_STEPS, ClockSteps
from ..model import Call, MessageRef
from .ladder import ladder_hosts, offset_text
from .safe import BIDI_CONTROLS

# Mermaid decodes `#name;` and `#<decimal>;` back to the character (docs/syntax/sequenceDiagram.md, "Entity codes
# to escape characters").
_ENTITIES = {
    "#": "#35;",
    ";": "#59;",
    "%": "#37;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
}
# Whitespace that would split the statement over lines: kept as one space so words stay apart.
_LINE_BREAKS = "\t\n\v\f\r\x85\u2028\u2029"
# A message or participant text that starts with `wrap:` / `nowrap:` (optionally after a `:`) is taken by Mermaid as
# a layout directive and cut off; escaping its colon keeps the text as written.
_WRAP_DIRECTIVE = re.compile(r"^(:?(?:no)?wrap):", re.IGNORECASE)
INDENT = "    "
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def mermaid_text(text: str) -> str:
    """Text from the wire made inert inside a Mermaid sequence diagram statement (see the module docstring): line
    breaks become spaces, other control and bidi-override characters are dropped, markup characters become
    Mermaid entity codes."""
    out = []
    for ch in text:
        if ch in _LINE_BREAKS:
            out.append(" ")
        elif unicodedata.category(ch) == "Cc" or _BIDI.match(ch):
            continue  # NUL, ESC, DEL, C1; bidi controls could make the diagram's text read differently
        else:
            out.append(_ENTITIES.get(ch, ch))
    cleaned = " ".join("".join(out).split())
    return _WRAP_DIRECTIVE.sub(r"\1#58;", cleaned)


def render_mermaid(call_or_messages: Call | Sequence[MessageRef], *, title: str | None = None,
                   clock: ClockSteps = NO_STEPS) -> str:
    """A `sequenceDiagram`: one participant per `ip:port` (aliases `H1`, `H2`, ... as in the text ladder), one
    arrow per message labelled with its time offset and frame; retransmissions dashed (`-->>`).

    :param call_or_messages: a `Call` (its caller is the first participant, its Call-ID the default title) or the
        messages to draw, in capture order.
    :param title: the diagram's title; None: `Call <Call-ID>` for a call, none for bare messages.
    """
    if isinstance(call_or_messages, Call):
        messages: Sequence[MessageRef] = call_or_messages.messages
        first: str | None = call_or_messages.caller_address
        if title is None:
            title = f"Call {call_or_messages.call_id}"
    else:
        messages, first = call_or_messages, None
    lines = ["sequenceDiagram"]
    if title:
        lines.append(f"{INDENT}title {mermaid_text(title)}")
    hosts = ladder_hosts(messages, first=first)
    alias = {host: f"H{i + 1}" for i, host in enumerate(hosts)}
    lines += [f"{INDENT}participant {alias[host]} as {mermaid_text(host)}" for host in hosts]
    for m in messages:
        src, dst = alias[join_address(m.src_ip, m.src_port)], alias[join_address(m.dst_ip, m.dst_port)]
        arrow = "-->>" if m.retransmission else "->>"
        facts = (("retransmission, " if m.retransmission else "")
                 + f"{offset_text(m, messages[0], clock)} s, frame {m.frame}")
        lines.append(f"{INDENT}{src}{arrow}{dst}: {mermaid_text(m.label)} ({facts})")
    return "\n".join(lines) + "\n"
