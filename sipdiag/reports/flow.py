"""`sipdiag flow`: the ladder diagram of calls, for the terminal, as plain text, or as Mermaid for a ticket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from ..clocksteps import NO_STEPS, ClockSteps
from ..model import Call
from .ladder import render_ladder_text
from .markdown import md_code
from .mermaid import render_mermaid
from .safe import printable

FLOW_FORMATS = ("terminal", "text", "mermaid")


def render_flow(calls: Sequence[Call], fmt: str, out: TextIO, *, width: int | None = None,
                clock: ClockSteps = NO_STEPS) -> None:
    """One ladder per call. Mermaid: the bare diagram for one call (paste it into a ```mermaid block); several
    calls come as fenced blocks, each under a heading, ready for a Markdown ticket. clock: where the capture's
    clock steps (Analysis.capture.clock)."""
    if not calls:
        out.write("No calls (INVITE dialogs) in this capture.\n")
        return
    if fmt == "mermaid":
        if len(calls) == 1:
            out.write(render_mermaid(calls[0], clock=clock).rstrip("\n") + "\n")
            return
        for call in calls:
            diagram = render_mermaid(call, clock=clock).rstrip()
            # the heading is Markdown, outside the fence: the Call-ID as a code span, never a link or HTML
            out.write(f"Call {md_code(call.call_id)}\n\n```mermaid\n{diagram}\n```\n\n")
        return
    if fmt == "text":
        for i, call in enumerate(calls):
            out.write(("\n" if i else "") + _heading(call) + "\n")
            out.write(render_ladder_text(call.messages, width=width, first=call.caller_address, clock=clock) + "\n")
        return
    from .ladder import render_ladder_rich
    from .safe import console as make_console

    console = make_console(out, width=width)
    for i, call in enumerate(calls):
        if i:
            console.print()
        console.print(_heading(call), markup=False)
        # crop=False: a ladder wider than the terminal wraps instead of being cut off silently.
        console.print(render_ladder_rich(call.messages, first=call.caller_address, clock=clock), crop=False)


def _heading(call: Call) -> str:
    status = f" {call.final_status}" if call.final_status else ""
    return printable(f"Call {call.call_id}: {call.caller} -> {call.callee}, {call.outcome}{status}")
