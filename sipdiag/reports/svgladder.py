"""A call's ladder (sequence) diagram laid out for SVG: the geometry in Python, the markup in the HTML templates.

The same picture as the terminal ladder (`sipdiag.reports.ladder`): one column per `ip:port` in the same order
(`ladder_hosts`, the caller first), one arrow per message with its frame and time offset in the margin, 2xx green,
failures red, retransmissions dashed and dimmed, a message a host sent to itself drawn as a loop. Host names too
wide for their column become the aliases `H1`, `H2`, ... of the text and Mermaid ladders, listed under the diagram.

Only numbers and printable text leave this module: the template escapes the text (autoescaping) when it writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..addresses import join_address
from ..clocksteps import NO_STEPS, ClockSteps
from ..model import MessageRef
from ..transactions import is_success
from .ladder import is_failure, ladder_hosts, offset_text
from .safe import markup_text

# The page draws ladder text in a 12 px monospace font; one character is about 7.2 px wide there (DejaVu Sans
# Mono, Liberation Mono). 7.5 leaves a little room for fonts that run wider.
CHAR_PX = 7.5
ROW_PX = 24  # one message per row: the label above its arrow
HEADER_PX = 34  # host names above the first row
MIN_GAP_PX = 110  # an arrow between neighbours holds "200 OK +SDP" at that distance
MAX_GAP_PX = 320  # wider labels are cut (the full label is the arrow's tooltip)
LOOP_PX = 28  # width of the loop of a message a host sent to itself
HEAD_PX = 7  # arrowhead length
NAME_SPACE_PX = 24  # between two host names (bold text runs wider than CHAR_PX)


@dataclass(frozen=True, slots=True)
class SvgHost:
    x: float
    name: str  # what the header shows: the address, or its alias
    address: str  # the full `ip:port` (tooltip)


@dataclass(frozen=True, slots=True)
class SvgArrow:
    """One message: a horizontal arrow at `y` from `x1` to `x2` (a loop right of `x1` when `loop`)."""

    y: float
    x1: float
    x2: float
    loop: bool
    head: str  # the arrowhead polygon's points, "x,y x,y x,y"
    label: str  # as drawn (cut with "…" when longer than the arrow)
    title: str  # tooltip: the full label, frame, time, addresses
    label_x: float
    frame: int
    offset: str  # "+0.123"
    kind: str  # success | failure | request | other: the CSS class that colours it
    retransmission: bool


@dataclass(frozen=True, slots=True)
class SvgLadder:
    width: float
    height: float
    frame_x: float  # right edge of the frame column
    time_x: float  # right edge of the time column
    top: float  # lifelines start here
    bottom: float
    hosts: tuple[SvgHost, ...]
    arrows: tuple[SvgArrow, ...]
    legend: tuple[tuple[str, str], ...]  # (alias, address) when the header shows aliases
    shown: int  # messages drawn
    total: int  # messages of the call


def _px(text: str) -> float:
    return len(text) * CHAR_PX


def _cut(text: str, width_px: float) -> str:
    """`text` cut to fit `width_px`, ending in "…" when cut."""
    fits = int(width_px // CHAR_PX)
    if len(text) <= fits:
        return text
    return text[: max(1, fits - 1)] + "…"


def _kind(m: MessageRef) -> str:
    if m.status_code is None:
        return "request"
    if is_success(m.status_code):
        return "success"
    if is_failure(m.status_code):
        return "failure"
    return "other"


def ladder_svg(messages: Sequence[MessageRef], *, first: str | None = None, max_messages: int = 300,
               clock: ClockSteps = NO_STEPS) -> SvgLadder:
    """Lay out the ladder of `messages` (capture order): at most `max_messages` rows, the first ones, with
    `shown`/`total` telling the page to say so. `first` is the leftmost host (normally the caller's address)."""
    total = len(messages)
    messages = messages[:max_messages]
    hosts = ladder_hosts(messages, first=first)
    column = {h: i for i, h in enumerate(hosts)}
    labels = [markup_text(m.label) for m in messages]
    names = [markup_text(h) for h in hosts]
    frames = [str(m.frame) for m in messages]
    offsets = [offset_text(m, messages[0], clock) for m in messages]

    # Columns: wide enough for the longest label over one gap (with room for the head), within MIN..MAX_GAP_PX.
    widest_label = max((_px(label) / max(1, abs(column[_dst(m)] - column[_src(m)]))
                        for m, label in zip(messages, labels, strict=True)), default=0.0)
    gap = min(MAX_GAP_PX, max(MIN_GAP_PX, widest_label + 3 * HEAD_PX))
    widest_name = max(map(_px, names), default=0.0)
    legend: tuple[tuple[str, str], ...] = ()
    if widest_name + NAME_SPACE_PX > gap:
        if widest_name + NAME_SPACE_PX <= MAX_GAP_PX:
            gap = widest_name + NAME_SPACE_PX
        else:  # an IPv6 address with a port does not fit any sensible column: aliases and a legend
            legend = tuple((f"H{i + 1}", name) for i, name in enumerate(names))
            names = [alias for alias, _ in legend]
    frame_w = max(map(_px, frames + ["frame"]))
    time_w = max(map(_px, offsets + ["time"]))
    frame_x = 4 + frame_w
    time_x = frame_x + 12 + time_w
    first_x = time_x + 16 + max(_px(names[0]) / 2 if names else 0, LOOP_PX / 2)
    xs = [first_x + i * gap for i in range(len(hosts))]
    loop_room = LOOP_PX + max((_px(label) for m, label in zip(messages, labels, strict=True)
                               if _src(m) == _dst(m)), default=0.0) + 8
    right = max((xs[-1] + _px(names[-1]) / 2 + 8) if xs else time_x,
                (xs[-1] + loop_room) if any(_src(m) == _dst(m) for m in messages) else 0.0)

    arrows = []
    for row, (m, label, frame, offset) in enumerate(zip(messages, labels, frames, offsets, strict=True)):
        y = HEADER_PX + 12 + row * ROW_PX + ROW_PX * 0.65
        x1, x2 = xs[column[_src(m)]], xs[column[_dst(m)]]
        title = (f"{label} (frame {frame}, {offset} s, {_src(m)} -> {_dst(m)}"
                 + (", retransmission)" if m.retransmission else ")"))
        if x1 == x2:
            head = f"{x1 + 1:.1f},{y + 6:.1f} {x1 + 1 + HEAD_PX:.1f},{y + 2:.1f} {x1 + 1 + HEAD_PX:.1f},{y + 10:.1f}"
            arrows.append(SvgArrow(y, x1, x1 + LOOP_PX, True, head, label, title, x1 + LOOP_PX + 6, m.frame, offset,
                                   _kind(m), m.retransmission))
            continue
        direction = 1 if x2 > x1 else -1
        tip = x2 - direction * 1
        head = (f"{tip:.1f},{y:.1f} {tip - direction * HEAD_PX:.1f},{y - 4:.1f} "
                f"{tip - direction * HEAD_PX:.1f},{y + 4:.1f}")
        shown = _cut(label, abs(x2 - x1) - 2 * HEAD_PX)
        arrows.append(SvgArrow(y, x1, tip - direction * HEAD_PX, False, head, shown, title, (x1 + x2) / 2, m.frame,
                               offset, _kind(m), m.retransmission))
    bottom = HEADER_PX + 12 + len(messages) * ROW_PX + 8
    return SvgLadder(
        width=round(right + 4, 1), height=bottom + 4, frame_x=frame_x, time_x=time_x, top=HEADER_PX, bottom=bottom,
        hosts=tuple(SvgHost(x, name, address) for x, name, address in zip(xs, names, map(markup_text, hosts),
                                                                          strict=True)),
        arrows=tuple(arrows), legend=legend, shown=len(messages), total=total,
    )


def _src(m: MessageRef) -> str:
    return join_address(m.src_ip, m.src_port)


def _dst(m: MessageRef) -> str:
    return join_address(m.dst_ip, m.dst_port)
