"""Ladder (sequence) diagrams of a call's SIP messages for the terminal: one column per host, one arrow per message.

The plain-text ladder (for tickets, files, `--no-color`) and the coloured one (rich) come from one layout, so both
show the same picture. The views only read `MessageRef`s; nothing here re-analyses the capture.

    frame    time  192.168.1.10:5060   203.0.113.5:5060
        1  +0.000          │──INVITE +SDP───▶│
        2  +0.010          │◀──100 Trying────│

Many hosts: the columns narrow to fit `width` (never below `MIN_GAP`), labels that no longer fit their arrow wrap
onto the next rows, and host names too wide for their column become aliases `H1`, `H2` (the same aliases the
Mermaid diagram uses) listed above the header.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..addresses import join_address
from ..clocksteps import NO_STEPS, ClockSteps
from ..model import MessageRef
from ..transactions import is_success
from .htmltexts import TERMINAL
from .safe import printable

SOLID = "─"
DASHED = "╌"  # a retransmission is a copy of an earlier message: drawn dashed so the eye can skip it
HEAD_RIGHT = "▶"
HEAD_LEFT = "◀"
LIFELINE = "│"
SELF = "↻"  # a message a host sent to its own address (a B2BUA looping through itself)
# The narrowest distance between two lifelines when squeezing into a width: an arrow between neighbours then holds
# 7 label cells (INVITE, OPTIONS, "200 OK" fit; longer labels wrap at spaces).
MIN_GAP = 10

# Rich style names per kind of segment; the text renderer ignores them.
STYLE_HEADER = "bold"
STYLE_SUCCESS = "green"
STYLE_FAILURE = "red"
STYLE_RETRANSMISSION = "dim"
STYLE_NOTE = "dim italic"

Line = list[tuple[str, str]]  # (text, rich style or "") segments of one output line


def is_failure(code: int) -> bool:
    """4xx, 5xx, 6xx final responses (RFC 3261 §21.4-21.6)."""
    return 400 <= code < 700


def ladder_hosts(messages: Iterable[MessageRef], *, first: str | None = None) -> list[str]:
    """The ladder's columns: every `ip:port` that sent or received a message, in order of first appearance.

    :param first: the host to put leftmost, normally `Call.caller_address`, so the caller is the first column even
        when the capture began inside the call; ignored when no message involves it. Without it, the first
        message's sender comes first (for a call: the caller's INVITE).
    """
    hosts: dict[str, None] = {}
    for m in messages:
        hosts.setdefault(join_address(m.src_ip, m.src_port))
        hosts.setdefault(join_address(m.dst_ip, m.dst_port))
    if first in hosts:
        return [first, *(h for h in hosts if h != first)]
    return list(hosts)


def offset_text(m: MessageRef, first: MessageRef, clock: ClockSteps = NO_STEPS) -> str:
    """Seconds since the first message, to the millisecond: `+0.123`; `?` where the capture's clock steps between
    them (sipdiag.clocksteps), not a time."""
    ns = clock.elapsed_ns(first.frame, first.ts_ns, m.frame, m.ts_ns)
    return "?" if ns is None else f"{ns / 1e9:+.3f}"


def render_ladder_text(messages: Sequence[MessageRef], *, width: int | None = None,
                       first: str | None = None, clock: ClockSteps = NO_STEPS) -> str:
    """The ladder as plain text, one line per row, ending in a newline; "" when there are no messages.

    :param width: fit into this many columns when possible (columns narrow, labels wrap); None lays the diagram
        out as wide as its labels need.
    :param first: the leftmost host (see `ladder_hosts`).
    :param clock: where the capture's clock steps (Analysis.capture.clock): no time offset across a step.
    """
    lines = _layout(messages, width=width, first=first, clock=clock)
    return "".join("".join(text for text, _style in line).rstrip() + "\n" for line in lines)


def render_ladder_rich(messages: Sequence[MessageRef], *, first: str | None = None,
                       clock: ClockSteps = NO_STEPS, lang: str = "en") -> Any:
    """The ladder as a rich renderable, laid out for the console's width when printed: 2xx green, failures (>= 400)
    red, retransmissions dimmed, dashed and noted. Same layout as `render_ladder_text`."""
    return _RichLadder(tuple(messages), first, clock, lang)


class _RichLadder:
    """Lays out at print time, because only then is the console's width known."""

    def __init__(self, messages: tuple[MessageRef, ...], first: str | None, clock: ClockSteps, lang: str) -> None:
        self.messages = messages
        self.first = first
        self.clock = clock
        self.lang = lang

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        for line in _layout(self.messages, width=options.max_width, first=self.first, clock=self.clock,
                            lang=self.lang):
            # A ladder wider than the terminal (very many hosts) is not wrapped by rich: printed with
            # `console.print(..., crop=False)` it stays whole and the terminal folds it, no column cut off silently.
            text = Text(no_wrap=True, overflow="ignore", end="\n")
            for chunk, style in line:
                text.append(chunk, style=style or None)
            text.rstrip()
            yield text

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        def widest(width: int | None) -> int:
            return max((sum(_cells(t) for t, _s in line) for line in _layout(self.messages, width=width,
                                                                             first=self.first, clock=self.clock,
                                                                             lang=self.lang)),
                       default=0)

        return Measurement(widest(1), widest(None))


# ------------------------------------------------------------------------------------------------------- layout

@dataclass(frozen=True, slots=True)
class _Arrow:
    """One message ready to draw: the columns it joins, its label (printable), its rich style."""

    src: int
    dst: int
    label: str
    style: str
    retransmission: bool

    @property
    def span(self) -> int:
        """Column gaps the arrow crosses; a message to itself gets one gap to the right for its label."""
        return max(1, abs(self.dst - self.src))


def _layout(messages: Sequence[MessageRef], *, width: int | None, first: str | None,
            clock: ClockSteps = NO_STEPS, lang: str = "en") -> list[Line]:
    """The ladder's lines as styled segments: the legend (aliases only), the header, then each message's rows;
    the margin's headings and the retransmission note in `lang`."""
    if not messages:
        return []
    w = TERMINAL[lang]
    frame_head, time_head, note = w["ladder_frame"], w["ladder_time"], w["retransmission"]
    hosts = ladder_hosts(messages, first=first)
    column = {h: i for i, h in enumerate(hosts)}
    arrows = [_Arrow(column[join_address(m.src_ip, m.src_port)], column[join_address(m.dst_ip, m.dst_port)],
                     printable(m.label), _message_style(m), m.retransmission) for m in messages]
    frames = [str(m.frame) for m in messages]
    offsets = [offset_text(m, messages[0], clock) for m in messages]
    frame_w = max(len(frame_head), *map(len, frames))
    time_w = max(len(time_head), *map(len, offsets))
    margin_w = frame_w + 2 + time_w + 2
    note_w = len("  " + note) if any(a.retransmission for a in arrows) else 0

    names = [printable(h) for h in hosts]
    legend: list[Line] = []
    gap = _choose_gap(names, arrows, width, margin_w + note_w)
    if gap < _names_gap(names):
        # Host names do not fit their columns any more: print short aliases (as in the Mermaid diagram) and a legend.
        alias_w = len(f"H{len(names)}")
        legend = [[(f"{f'H{i + 1}':<{alias_w}}", STYLE_HEADER), (f"  {name}", "")] for i, name in enumerate(names)]
        names = [f"H{i + 1}" for i in range(len(names))]
        gap = _choose_gap(names, arrows, width, margin_w + note_w)

    pad = (_cells(names[0]) - 1) // 2  # room left of the first lifeline for its centred name
    xs = [pad + i * gap for i in range(len(hosts))]
    right_overhang = (_cells(names[-1]) - 1) - (_cells(names[-1]) - 1) // 2  # the last name, right of its line
    loop_room = gap if any(a.src == a.dst for a in arrows) else 0  # a loop on the last host draws right of it
    canvas_w = xs[-1] + 1 + max(right_overhang, loop_room)

    header = _Canvas(canvas_w)
    for x, name in zip(xs, names, strict=True):
        header.put(x - (_cells(name) - 1) // 2, name, STYLE_HEADER)
    lines = [*legend, [(f"{frame_head:>{frame_w}}  {time_head:>{time_w}}  ", ""), *header.segments()]]

    for arrow, frame, offset in zip(arrows, frames, offsets, strict=True):
        rows = _draw(arrow, xs, gap, canvas_w)
        for i, row in enumerate(rows):
            margin = f"{frame:>{frame_w}}  {offset:>{time_w}}  " if i == 0 else " " * margin_w
            line = [(margin, ""), *row.segments()]
            if i == 0 and arrow.retransmission:
                line.append(("  " + note, STYLE_NOTE))
            lines.append(line)
    return lines


def _message_style(m: MessageRef) -> str:
    """2xx green, failures red (what an engineer looks for first), retransmissions dimmed."""
    colour = ""
    if m.status_code is not None and is_success(m.status_code):
        colour = STYLE_SUCCESS
    elif m.status_code is not None and is_failure(m.status_code):
        colour = STYLE_FAILURE
    return f"{colour} {STYLE_RETRANSMISSION}".strip() if m.retransmission else colour


def _names_gap(names: list[str]) -> int:
    """Lifeline distance at which centred host names keep a space between them."""
    return max(map(_cells, names)) + 2


def _choose_gap(names: list[str], arrows: list[_Arrow], width: int | None, extra_w: int) -> int:
    """The distance between lifelines: wide enough for every label with two dashes each side and for the host
    names; narrowed to fit `width` (margin and notes `extra_w` included), but never below `MIN_GAP`: past that
    the labels would be unreadable, and a too-wide ladder is better than that."""
    # An arrow crossing k gaps has k*gap - 1 cells between its lifelines: label + 2x2 dashes + the head.
    labels = max(-(-(_cells(a.label) + 6) // a.span) for a in arrows)
    natural = max(MIN_GAP, labels, _names_gap(names))
    if width is None or len(names) == 1:
        return natural
    first, last = _cells(names[0]) - 1, _cells(names[-1]) - 1
    fixed = extra_w + first // 2 + 1 + (last - last // 2)
    return max(MIN_GAP, min(natural, (width - fixed) // (len(names) - 1)))


def _draw(arrow: _Arrow, xs: list[int], gap: int, canvas_w: int) -> list[_Canvas]:
    """The rows of one message: the arrow with the label's first line, then one row per wrapped line."""
    fill = DASHED if arrow.retransmission else SOLID
    if arrow.src == arrow.dst:
        # Drawn as "↻ label" right of the lifeline, within one gap.
        start = xs[arrow.src] + 2
        body = [f"{SELF} {part}" if i == 0 else f"  {part}"
                for i, part in enumerate(_wrap(arrow.label, max(1, gap - 5)))]
        rows = []
        for text in body:
            row = _Canvas(canvas_w, xs)
            row.put(start, text, arrow.style)
            rows.append(row)
        return rows
    lo, hi = sorted((xs[arrow.src], xs[arrow.dst]))
    shaft = hi - lo - 1
    rightward = arrow.dst > arrow.src
    body_x = lo + 1 if rightward else lo + 2  # the cells between the lifelines that are not the head
    body_w = shaft - 1
    # Natural widths leave two dashes each side of the label; squeezed ones keep at least one dash before the head.
    parts = _wrap(arrow.label, max(1, body_w - 1))
    rows = []
    for i, part in enumerate(parts):
        row = _Canvas(canvas_w, xs)
        if i == 0:
            row.put(lo + 1, HEAD_LEFT + fill * (shaft - 1) if not rightward else fill * (shaft - 1) + HEAD_RIGHT,
                    arrow.style)
        # Centred; an odd cell goes to the head's side, so a squeezed label keeps a dash next to the head.
        spare = body_w - _cells(part)
        row.put(body_x + (spare // 2 if rightward else spare - spare // 2), part, arrow.style)
        rows.append(row)
    return rows


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap in terminal cells; a word longer than `width` is cut into pieces.

    Each character is measured once: the widths of the line being filled and of the rest of a word being cut are
    kept, not measured again after every piece or word (a reason phrase of one long word, RFC 3261 §25.1
    Reason-Phrase, made that O(n^2 / width): 5 s for 60 000 characters in one datagram, ~25 min for 1 MB over
    TCP)."""
    lines: list[str] = []
    current = ""
    current_w = 0
    for word in text.split(" "):
        word_w = _cells(word)
        if word_w > width:
            if current:
                lines.append(current)
                current = ""
            pieces, word, word_w = _cut(word, width)
            lines += pieces
        if not current:
            current, current_w = word, word_w
        elif current_w + 1 + word_w <= width:
            current += " " + word
            current_w += 1 + word_w
        else:
            lines.append(current)
            current, current_w = word, word_w
    if current or not lines:
        lines.append(current)
    return lines


def _cut(word: str, width: int) -> tuple[list[str], str, int]:
    """Cut the longest prefixes that fit `width` cells (at least one character each, so wrapping progresses) off
    `word` while more than `width` cells are left; return the pieces, the rest and the rest's width."""
    cells = [_char_cells(ch) for ch in word]
    left = sum(cells)
    pieces = []
    start = 0
    while left > width:
        used, i = 0, start
        while used + cells[i] <= width:  # ends: more than `width` cells are left from `start`
            used += cells[i]
            i += 1
        end = max(start + 1, i)
        pieces.append(word[start:end])
        left -= sum(cells[start:end])
        start = end
    return pieces, word[start:], left


def _char_cells(ch: str) -> int:
    """Terminal cells of one character: 0 for combining and format characters, 2 for East Asian wide ones."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _cells(text: str) -> int:
    return sum(map(_char_cells, text))


class _Canvas:
    """One row of cells; a wide character takes its cell and leaves "" in the next, a zero-width one joins the
    previous cell, so joining the cells gives a string of exactly the row's width."""

    def __init__(self, width: int, lifelines: Iterable[int] = ()) -> None:
        self.cells = [" "] * width
        self.styles = [""] * width
        for x in lifelines:
            self.cells[x] = LIFELINE

    def put(self, x: int, text: str, style: str) -> None:
        for ch in text:
            w = _char_cells(ch)
            if w == 0:
                if x > 0:
                    self.cells[x - 1] += ch
                continue
            self._grow(x + w)
            self.cells[x], self.styles[x] = ch, style
            if w == 2:
                self.cells[x + 1], self.styles[x + 1] = "", style
            x += w

    def _grow(self, width: int) -> None:
        if width > len(self.cells):
            self.cells += [" "] * (width - len(self.cells))
            self.styles += [""] * (width - len(self.styles))

    def segments(self) -> Line:
        """Runs of equally styled cells."""
        out: Line = []
        for cell, style in zip(self.cells, self.styles, strict=True):
            if out and out[-1][1] == style:
                out[-1] = (out[-1][0] + cell, style)
            else:
                out.append((cell, style))
        return out
