"""The calls and registrations tables of `sipdiag analyze`, and one call's details, for the terminal (rich).

Every string that came from the wire (Call-IDs, URIs, user agents, reason phrases, addresses) goes through
`safe.terminal_text`, so `[bold]` stays text and an escape sequence is shown, not executed. The views only read
the model: what they print is what the correlator decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table

from ..addresses import join_address
from ..clocksteps import NO_STEPS, ClockSteps
from ..correlate import leg_rule_ru
from ..model import Call, CallLeg, MediaDescription, Negotiation, Registration
from .htmltexts import TERMINAL, word
from .json import utc_datetime
from .ladder import render_ladder_rich
from .safe import printable, terminal_text

CALL_ID_CELLS = 10  # enough to tell calls apart by eye; `#N` or the full Call-ID (details) selects one
USER_AGENT_CELLS = 20

OUTCOME_STYLES = {
    "answered": "green",
    "busy": "yellow",
    "cancelled": "yellow",
    "rejected": "red",
    "timeout": "red",
    "in-progress": "cyan",
}
REGISTRATION_STYLES = {"registered": "green", "deregistered": "green", "failed": "red", "unanswered": "red"}
# Twelve columns must fit a 120-column terminal: one space between columns, no outer border.
_TABLE_STYLE = {"box": box.SIMPLE_HEAD, "pad_edge": False, "collapse_padding": True}


def shorten(text: str, cells: int) -> str:
    """`text` made printable and cut to `cells` terminal cells, with `…` marking the cut; escape it for rich after
    cutting (cutting an escaped string could split an escape)."""
    from rich.cells import cell_len, set_cell_size

    text = printable(text)
    if cell_len(text) <= cells:
        return text
    return set_cell_size(text, cells - 1) + "…"


def calls_table(calls: Sequence[Call], shown: int | None = None, *, lang: str = "en") -> Table:
    """One row per call: `#` (1-based position in `calls`, what `--call #N` selects), a shortened Call-ID, caller,
    callee, start (UTC), outcome (coloured), final status, setup / answer ms, duration s, transport, user agent.
    `shown`: rows for the first that many calls only (the title still counts them all). A call whose capture does
    not show who called (Call.roles_known False) has its two parties marked "(?)", explained under the table:
    they are the From and To of its first message, not its caller and callee (sipdiag.parties)."""
    w = TERMINAL[lang]
    start, day = _start_format([c.start_ns for c in calls])
    table = Table(title=w["calls"].format(n=len(calls), day=day), title_justify="left", **_TABLE_STYLE)
    # When the terminal is too narrow, rich narrows the widest foldable columns first (URIs, user agent), so the
    # numbers keep their digits and no column disappears. Units go under the names so that these columns are not
    # as wide as a one-line header.
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Call-ID", overflow="fold")
    table.add_column(w["caller"], overflow="fold")
    table.add_column(w["callee"], overflow="fold")
    table.add_column(w["start"], overflow="fold")
    table.add_column(w["outcome"], overflow="fold")
    table.add_column(w["final"], justify="right", no_wrap=True)
    table.add_column(w["setup_ms"], justify="right", no_wrap=True)
    table.add_column(w["answer_ms"], justify="right", no_wrap=True)
    table.add_column(w["duration_s"], justify="right", no_wrap=True)
    table.add_column(w["transport"], overflow="fold")
    table.add_column(w["user_agent"], overflow="fold")
    for n, c in enumerate(calls[:shown], start=1):
        table.add_row(
            str(n),
            terminal_text(shorten(c.call_id, CALL_ID_CELLS)),
            terminal_text(c.caller) + ("" if c.roles_known else w["roles_unknown_mark"]),
            terminal_text(c.callee) + ("" if c.roles_known else w["roles_unknown_mark"]),
            start(c.start_ns),
            _styled(c.outcome, OUTCOME_STYLES, w),
            number_text(c.final_status),
            number_text(c.setup_ms, "{:.0f}"),
            number_text(c.answer_ms, "{:.0f}"),
            number_text(c.duration_s, "{:.1f}"),
            terminal_text(c.transport),
            _user_agent(c.user_agents),
        )
    if not all(c.roles_known for c in calls[:shown]):
        table.caption, table.caption_justify = w["roles_unknown_rows"], "left"
    return table


def registrations_table(registrations: Sequence[Registration], *, lang: str = "en") -> Table:
    """One row per AOR + Contact binding: contact, source, outcome (coloured; a binding whose last REGISTER asked
    for expires 0 says so under it), final status, attempts, challenges, granted expiry and the median refresh
    interval."""
    w = TERMINAL[lang]
    table = Table(title=w["registrations"].format(n=len(registrations)), title_justify="left", **_TABLE_STYLE)
    table.add_column("AOR", overflow="fold")
    table.add_column(w["contact"], overflow="fold")
    table.add_column(w["source"], no_wrap=True)  # ip:port reads badly folded; the URIs fold instead
    table.add_column(w["outcome"], no_wrap=True)
    table.add_column(w["final"], justify="right", no_wrap=True)
    table.add_column(w["attempts"], justify="right", no_wrap=True)
    table.add_column(w["challenges"], justify="right", no_wrap=True)
    table.add_column(w["expires_s"], justify="right", no_wrap=True)
    table.add_column(w["refresh_s"], justify="right", no_wrap=True)
    for r in registrations:
        table.add_row(
            terminal_text(r.aor),
            terminal_text(r.contact),
            terminal_text(r.source),
            # a removal refused or unanswered says so; an accepted one reads "deregistered" already
            _styled(r.outcome, REGISTRATION_STYLES, w)
            + (w["deregistration"] if r.deregistration and r.outcome != "deregistered" else ""),
            number_text(r.final_status),
            str(r.attempts),
            str(r.challenges),
            number_text(r.expires_s),
            number_text(r.refresh_interval_s, "{:.0f}"),
        )
    return table


def call_details(call: Call, clock: ClockSteps = NO_STEPS, *, lang: str = "en") -> RenderableType:
    """One call: the facts an engineer reads first (outcome, timings, who hung up and why, user agents), the
    offer/answer exchanges, linked legs, then the ladder diagram."""
    w = TERMINAL[lang]
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    caller = terminal_text(call.caller)
    if call.caller_display:
        caller = f'"{terminal_text(call.caller_display)}" <{caller}>'
    facts.add_row(w["from"], w["at"].format(who=caller, address=terminal_text(call.caller_address)))
    facts.add_row(w["to"], w["at"].format(who=terminal_text(call.callee), address=terminal_text(call.callee_address)))
    facts.add_row(w["start_row"], w["start_text"].format(time=_utc(call.start_ns, with_date=True),
                                                         frame=call.first_frame,
                                                         transport=terminal_text(call.transport)))
    final = (w["final_status"].format(status=call.final_status) if call.final_status is not None else "") + (
        f" {terminal_text(call.final_reason)}" if call.final_reason else "")
    facts.add_row(w["outcome_row"], _styled(call.outcome, OUTCOME_STYLES, w) + final)
    facts.add_row(w["timings"], w["timings_text"].format(setup=number_text(call.setup_ms, "{:.0f}"),
                                                         answer=number_text(call.answer_ms, "{:.0f}"),
                                                         duration=number_text(call.duration_s, "{:.1f}")))
    facts.add_row(w["ended"], _ending(call, w))
    if call.user_agents:
        facts.add_row(w["user_agents"], "\n".join(terminal_text(ua) for ua in call.user_agents))
    if call.auth_challenges:
        facts.add_row(w["auth_challenges"], str(call.auth_challenges))
    if call.reinvites or call.prack:
        facts.add_row(w["in_dialog"], w["reinvites"].format(n=call.reinvites) + (w["prack"] if call.prack else ""))
    if call.refer_to:
        facts.add_row(w["transferred_to"], "\n".join(terminal_text(t) for t in call.refer_to))
    if call.legs:
        facts.add_row(w["legs"], "\n".join(_leg(leg, lang) for leg in call.legs))
    if not call.roles_known:
        facts.add_row(w["note"], w["roles_unknown"])
    elif not call.seen_from_start:
        facts.add_row(w["note"], w["not_from_start"])
    parts: list[RenderableType] = [f"[bold]{w['call'].format(call_id=terminal_text(call.call_id))}[/bold]", facts]
    # The offer/answer table ends with an empty row of its own; without it, an empty line sets the ladder apart.
    parts.append(_negotiations_table(call.negotiations, w, call.roles_known) if call.negotiations else "")
    parts.append(render_ladder_rich(call.messages, first=call.caller_address, clock=clock, lang=lang))
    return Group(*parts)


# ------------------------------------------------------------------------------------------------------ helpers

def _styled(value: str, styles: dict[str, str], w: dict[str, str]) -> str:
    """An outcome in the report's language, coloured by what it is."""
    style = styles.get(value)
    text = terminal_text(word(w, "outcome", value))
    return f"[{style}]{text}[/{style}]" if style else text


def number_text(value: float | None, fmt: str = "{}") -> str:
    """A figure for a table: "-" where there is none (not measured: no answer, a clock step across it)."""
    return "-" if value is None else fmt.format(value)


def _user_agent(agents: tuple[str, ...]) -> str:
    """The first user agent, shortened; `(+N)` says how many more the call saw (the details list them all)."""
    if not agents:
        return "-"
    more = f" (+{len(agents) - 1})" if len(agents) > 1 else ""
    return terminal_text(shorten(agents[0], USER_AGENT_CELLS)) + more


def _utc(ts_ns: int, *, with_date: bool) -> str:
    t = utc_datetime(ts_ns // 1_000_000_000)
    if t is None:  # a damaged timestamp no calendar shows
        return "????-??-?? ??:??:??.???" if with_date else "??:??:??.???"
    ms = ts_ns // 1_000_000 % 1000
    return t.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S") + f".{ms:03d}"


def _start_seconds(ts_ns: int, *, with_date: bool) -> str:
    """The calls table's start: to the second (the details show milliseconds) and without the year (the title
    has it), to leave room for the URIs."""
    return _utc(ts_ns, with_date=with_date)[5 if with_date else 0:-4]


def _start_format(starts: list[int]) -> tuple[Callable[[int], str], str]:
    """How the start column prints times, and what the title adds: the time of day when every call began on one
    UTC day (the title names the day), month-day and time when they span days (the title names the first and
    last day)."""
    days = sorted({_utc(ts, with_date=True)[:10] for ts in starts})
    if not days:
        return (lambda ts: ""), ""
    if len(days) == 1:
        return (lambda ts: _start_seconds(ts, with_date=False)), f", {days[0]} UTC"
    return (lambda ts: _start_seconds(ts, with_date=True)), f", {days[0]} .. {days[-1]} UTC"


def _ending(call: Call, w: dict[str, str]) -> str:
    """Who ended the call, with the frame and the Reason header (RFC 3326) when there was one."""
    if call.bye_frame is not None:
        who = word(w, "party", call.ended_by) if call.ended_by else w["unknown_side"]
        text = w["bye_from"].format(who=terminal_text(who), frame=call.bye_frame)
    elif call.cancelled_frame is not None:
        # a CANCEL is the caller's (RFC 3261 §9.1), but one seen without the call's INVITE may cancel a re-INVITE
        # of either party
        who = word(w, "party", call.ended_by or "caller") if call.ended_by or call.roles_known else w["unknown_side"]
        text = w["cancel_from"].format(who=terminal_text(who), frame=call.cancelled_frame)
    else:
        text = w["no_bye"]
    return text + (w["end_reason"].format(reason=terminal_text(call.end_reason)) if call.end_reason else "")


def _leg(leg: CallLeg, lang: str) -> str:
    return f"{terminal_text(leg.call_id)} ({terminal_text(leg_rule_ru(leg.rule) if lang == 'ru' else leg.rule)})"


def _media(m: MediaDescription, w: dict[str, str]) -> str:
    """`audio 192.168.1.10:4000 RTP/AVP PCMU/8000, PCMA/8000 sendrecv ptime 20 rtcp-mux SRTP DTMF 101`."""
    text = (f"{m.media} {join_address(m.address or '-', m.port)} {m.proto} {', '.join(m.codecs) or '-'} {m.direction}"
            + (f" ptime {m.ptime_ms}" if m.ptime_ms is not None else "")
            + (" rtcp-mux" if m.rtcp_mux else "") + (" SRTP" if m.srtp else "")
            + (f" DTMF {m.telephone_event}" if m.telephone_event is not None else "")
            + (w["rejected"] if m.port == 0 else ""))
    return terminal_text(text)


def _negotiations_table(negotiations: tuple[Negotiation, ...], w: dict[str, str], roles_known: bool = True) -> Table:
    """The call's offers and answers. The offerer is named by its role as the call's From and To columns are: marked
    (?) when the capture does not show who called (the role is then the From or To of the first message)."""
    mark = "" if roles_known else w["roles_unknown_mark"]
    table = Table(title=w["offer_answer"], title_justify="left", **_TABLE_STYLE)
    table.add_column(w["kind"], no_wrap=True)
    table.add_column(w["offer"], no_wrap=True)
    table.add_column(w["answer"], no_wrap=True)
    table.add_column(w["status"], justify="right")
    table.add_column(w["offered_media"], overflow="fold")
    table.add_column(w["answered_media"], overflow="fold")
    for n in negotiations:
        table.add_row(
            terminal_text(word(w, "kind", n.kind)) + (w["hold"] if n.hold else ""),
            (w["at_frame"].format(frame=n.offer_frame) if n.offer_frame is not None else w["not_captured"])
            + f", {terminal_text(word(w, 'role', n.offerer))}{mark}",
            w["at_frame"].format(frame=n.answer_frame) if n.answer_frame is not None else w["none"],
            number_text(n.status),
            "\n".join(_media(m, w) for m in n.offer) or "-",
            "\n".join(_media(m, w) for m in n.answer) if n.answer else "-",
        )
    return table
