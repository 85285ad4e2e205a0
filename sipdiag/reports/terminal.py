"""The terminal report (rich). Every value from the wire goes through `safe.terminal_text`."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table

from ..addresses import join_address
from ..analysis import Analysis
from ..model import Call
from .calltables import call_details, calls_table, registrations_table
from .htmltexts import TERMINAL, word
from .streams import call_media
from .json import iso_time
from .safe import console as make_console, terminal_text as t


def render_terminal(a: Analysis, out: TextIO, *, call: Call | None = None, lang: str = "en") -> None:
    """Summary, SIP counts, calls, registrations, details of calls with problems, anomalies; with `call`, the
    summary and that call's details."""
    # A pipe or a file gets a fixed, wide layout (tickets, e-mails); a terminal its own width.
    width = None if getattr(out, "isatty", lambda: False)() else 140
    console = make_console(out, soft_wrap=False, width=width)
    w = TERMINAL[lang]
    _summary(console, a, w)
    _findings(console, a, lang, call)
    if call is not None:
        _details(console, a, call, lang)
        return
    if a.calls:
        console.print(calls_table(a.calls, CALLS_SHOWN, lang=lang))
        _more(console, w, len(a.calls) - CALLS_SHOWN, "calls", "calls")
    if a.registrations:
        console.print(registrations_table(a.registrations, lang=lang))
    problems = [c for c in a.calls if has_problem(a, c)]
    for c in problems[:DETAILS_SHOWN]:
        console.print()
        _details(console, a, c, lang)
    _more(console, w, len(problems) - DETAILS_SHOWN, "problems", "problems")
    _anomalies(console, a, w, lang)


# Lists of a report that grows with the capture stop here and say how many more there are (a capture of thousands
# of failed calls would print thousands of ladders): the calls with problems shown with their details and ladder
# (as many as the HTML page draws, HtmlLimits.ladders), the anomalies listed, the rows of the calls table (as many as
# the HTML page lists, HtmlLimits.calls: a capture of 200 000 calls printed 200 000 rows).
CALLS_SHOWN = 2000
DETAILS_SHOWN = 50
ANOMALIES_SHOWN = 50


def _more(console: Console, w: dict[str, str], left: int, what: str | None = None, where: str = "json") -> None:
    """"... 12 more calls (see --format csv or json)": `what` and `where` name TERMINAL's more_* and where_* words."""
    if left > 0:
        console.print(w["more"].format(n=left, what=w[f"more_{what}"] if what else "", where=w[f"where_{where}"]))


SEVERITY_STYLE = {"critical": "bold red", "major": "red", "minor": "yellow", "info": "dim"}


def _findings(console: Console, a: Analysis, lang: str, call: Call | None) -> None:
    """Causes first (RULES.md §2, §6): each cause with the symptoms it explains indented under it, then the
    findings nobody explains and that explain nothing; each with its evidence frames, device and both texts."""
    w = TERMINAL[lang]
    shown = {i for i, f in enumerate(a.findings) if call is None or f.call_id in (None, call.call_id)}
    if not shown:
        console.print(f"[green]{w['no_findings']}[/]" if a.calls or a.registrations else "")
        return
    console.print(f"[bold]{w['findings'].format(n=len(shown))}[/]")
    for i in finding_order(a, shown):
        _finding(console, a, i, lang, 0, shown)


def finding_order(a: Analysis, shown: set[int]) -> list[int]:
    """Top-level findings in report order: by the worst severity of their tree, causes before lone findings of the
    same severity, then as the engine ordered them (a symptom whose cause is not shown stands on its own)."""
    def worst_of(i: int) -> int:
        return max([a.findings[i].severity] + [worst_of(s) for s in a.findings[i].explains if s in shown])

    roots = [i for i in sorted(shown) if a.findings[i].cause not in shown]
    return sorted(roots, key=lambda i: (-worst_of(i), not a.findings[i].explains, i))


def _finding(console: Console, a: Analysis, i: int, lang: str, depth: int, shown: set[int]) -> None:
    f = a.findings[i]
    w = TERMINAL[lang]
    pad = "    " * depth
    lead = w["explains"] if depth else ""
    label = f.severity.label
    frames = ", ".join(map(str, f.frames[:8])) + (" ..." if len(f.frames) > 8 else "")
    where = w["finding_where"].format(call_id=t(f.call_id)) if f.call_id else ""
    tail = w["finding_tail"].format(where=where, frames=frames or "-", owner=word(w, "owner", f.owner),
                                    cause_of=w["cause_of"].format(n=len(f.explains)) if f.explains else "")
    console.print(f"{pad}{lead}[{SEVERITY_STYLE[label]}]{label.upper():8}[/] {t(f.rule)}  {t(f.title_in(lang))}"
                  f"  [dim]{tail}[/]")
    text_pad = pad + (" " * len(lead)) + "         "
    device = f.evidence.get("device")
    if isinstance(device, dict):
        version = f", {device.get('version')}" if device.get("version") else ""
        console.print(text_pad + w["device"] + w["device_text"].format(
            vendor=t(str(device.get("vendor"))), model=t(str(device.get("model"))), kind=t(str(device.get("kind"))),
            version=t(version), party=t(word(w, "party", str(device.get("party"))))))
    console.print(f"{text_pad}{w['customer']}{t(f.customer_text[lang])}")
    console.print(f"{text_pad}{w['engineer']}{t(f.engineer_text[lang])}")
    for o in f.evidence.get("nat_observations", ()):
        frames_o = ", ".join(map(str, o.get("frames", [])[:4]))
        console.print(text_pad + w["also_seen"].format(rule=t(str(o.get("rule"))), frames=frames_o))
    for s in f.explains:
        if s in shown:
            _finding(console, a, s, lang, depth + 1, shown)


def _details(console: Console, a: Analysis, call: Call, lang: str = "en") -> None:
    console.print(call_details(call, a.capture.clock, lang=lang), crop=False)
    media = call_media(a, call, lang=lang)
    if media is not None:
        console.print(media, crop=False)


def has_problem(a: Analysis, call: Call) -> bool:
    """Calls worth opening without being asked: failed or unanswered, one-way or silent audio, lossy streams,
    or transactions that had to be retransmitted (a lost ACK, an unreachable peer). The rule set (issue 6)
    refines this with findings."""
    if call.outcome in ("rejected", "timeout"):
        return True
    if any(f.call_id == call.call_id and f.severity > 0 for f in a.findings):
        return True
    media = a.media_of(call)
    if media is not None and (media.verdict.verdict in ("one-way", "no-rtp") or media.verdict.stopped_early_s):
        return True
    if media is not None and any(a.streams[i].stats.loss_pct >= 1.0 for i in media.streams):
        return True
    return any(t.request_retransmissions >= 2 or t.response_retransmissions >= 2 for t in call.transactions)


def _summary(console: Console, a: Analysis, w: dict[str, str]) -> None:
    c = a.capture
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row(w["capture"], t(c.file))
    summary.add_row(w["format"], w["format_text"].format(format=c.format, gzip=" (gzip)" if c.compressed else "",
                                                         link_types=", ".join(c.link_types)))
    summary.add_row(w["packets"], w["packets_cut"].format(packets=c.packets, cut=c.truncated_packets)
                    if c.truncated_packets else str(c.packets))
    summary.add_row(w["time"], f"{iso_time(c.first_ts_ns) or '-'} .. {iso_time(c.last_ts_ns) or '-'} "
                               + (w["duration"].format(s=f"{c.duration_s:.3f}") if c.duration_s is not None else
                                  w["duration_unknown"].format(n=c.clock.count)))
    summary.add_row("SIP", w["sip_text"].format(n=a.sip.messages, transports=_counts(a.sip.transports))
                    + (w["carried_in"].format(encapsulations=_counts(a.sip.encapsulations))
                       if set(a.sip.encapsulations) - {"none"} else ""))
    summary.add_row("RTP", w["rtp_text"].format(packets=a.rtp_packets, streams=len(a.streams), rtcp=a.rtcp_packets))
    for s in c.interface_stats:
        summary.add_row(w["capture_drops"], w["capture_drops_text"].format(
            interface=s.interface, received=s.received, interface_drops=s.dropped_by_interface,
            os_drops=s.dropped_by_os))
    hiccups = a.rtp.hiccups if a.rtp else ()
    if hiccups:
        # Gaps that hit (nearly) every stream at once are the capture point's, not the network's.
        worst = max(hiccups, key=lambda h: h.duration_ms)
        summary.add_row(w["capture_gaps"], w["capture_gaps_text"].format(
            n=len(hiccups), ms=f"{worst.duration_ms:.0f}", at=iso_time(worst.start_ns)))
    for r in (a.rtp.rtcp.summaries if a.rtp else ()):
        rtt = w["rtt"].format(ms=f"{r.rtt_ms_mean:.0f}") if r.rtt_ms_mean is not None else ""
        sender = join_address(r.src_ip, r.src_port)
        summary.add_row("RTCP", t(w["rtcp_text"].format(sender=sender, reports=r.reports, ssrc=f"{r.source_ssrc:08x}",
                                                        loss=f"{r.fraction_lost_pct_max:.1f}", rtt=rtt)))
    console.print(summary)
    if a.sip.messages:
        table = Table(title=w["sip_messages"], title_justify="left")
        table.add_column(w["request_response"])
        table.add_column(w["count"], justify="right")
        for method, n in sorted(a.sip.requests.items(), key=lambda kv: -kv[1]):
            table.add_row(t(method), str(n))
        for code, n in a.sip.responses.items():
            table.add_row(str(code), str(n))
        console.print(table)


def _anomalies(console: Console, a: Analysis, w: dict[str, str], lang: str) -> None:
    """The anomalies table; each detail in `lang` (sipdiag.parsers.anomalytexts), wire values escaped."""
    if a.anomalies:
        table = Table(title=w["anomalies"].format(n=len(a.anomalies)), title_justify="left")
        table.add_column(w["code"])
        table.add_column(w["frame"], justify="right")
        table.add_column(w["detail"])
        for x in a.anomalies[:ANOMALIES_SHOWN]:
            table.add_row(t(x.code), str(x.frame or ""), t(x.text(lang)))
        console.print(table)
        _more(console, w, len(a.anomalies) - ANOMALIES_SHOWN)


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{t(k)} {v}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "-"
