"""What `sipdiag watch` shows while it runs: a rich Live dashboard at a terminal (calls in progress, registrations,
RTP streams, the latest ended calls and findings), plain lines elsewhere (a pipe, a log file, a test).

Everything from the wire goes through `safe.printable` (plain lines) or `safe.terminal_text` (rich): a hostile
header cannot move the cursor, retitle the window or inject markup.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TextIO

from ..live import LiveAnalyzer, LiveEvent
from .safe import console, printable, terminal_text

REFRESH_S = 0.25
RECENT = 8


def event_line(e: LiveEvent) -> str:
    """One plain line for an event (wire text made printable)."""
    if e.kind == "call" and e.summary is not None:
        s, c = e.summary, e.summary.call
        parts = [f"call #{s.number} {c.outcome}" + (f" {c.final_status}" if c.final_status else ""),
                 f"{printable(c.caller)} -> {printable(c.callee)}"]
        if c.setup_ms is not None:
            parts.append(f"setup {c.setup_ms:.0f} ms")
        if c.duration_s is not None:
            parts.append(f"duration {c.duration_s:.1f} s")
        if s.streams:
            loss = max(m.stats.loss_pct for m in s.streams)
            jitter = max((m.stats.jitter_max_ms for m in s.streams if m.stats.jitter_max_ms is not None), default=None)
            parts.append(f"streams {len(s.streams)} (loss max {loss:.1f} %, jitter max "
                         + ("unknown)" if jitter is None else f"{jitter:.1f} ms)"))
        if s.media is not None and s.media.verdict.verdict not in ("two-way", "not-answered"):
            parts.append(f"audio {printable(s.media.verdict.verdict)}")
        parts.append(f"findings {len(s.findings)}")
        return "  ".join(parts)
    if e.kind == "finding" and e.finding is not None:
        f = e.finding
        where = f"call {printable(f.call_id)}" if f.call_id else "capture"
        return f"finding {f.severity.label} {f.rule} ({where}): {printable(f.title)}"
    if e.kind == "registration" and e.registration is not None:
        r = e.registration
        return (f"registration {printable(r.aor)} {r.outcome}" + (f" {r.final_status}" if r.final_status else "")
                + (f" expires {r.expires_s} s" if r.expires_s is not None else "")
                + f" contact {printable(r.contact)}")
    return e.kind


class PlainEvents:
    """Events as lines, flushed at once (a pipe reader sees them as they happen)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, e: LiveEvent) -> None:
        self.out.write(event_line(e) + "\n")
        self.out.flush()

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass


class Dashboard:
    """The rich Live view; `tick()` redraws at most every REFRESH_S."""

    def __init__(self, engine: LiveAnalyzer, out: TextIO, source: str) -> None:
        from rich.live import Live

        self.engine = engine
        self.source = source
        self.started = time.monotonic()
        self.recent_calls: deque[LiveEvent] = deque(maxlen=RECENT)
        self.recent_findings: deque[LiveEvent] = deque(maxlen=RECENT)
        self.console = console(out)
        self.live = Live(console=self.console, auto_refresh=False, transient=False, redirect_stdout=False)
        self.live.start()
        self._drawn = 0.0

    def __call__(self, e: LiveEvent) -> None:
        (self.recent_findings if e.kind == "finding" else self.recent_calls).append(e)

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._drawn >= REFRESH_S:
            self._drawn = now
            self.live.update(self.render(), refresh=True)

    def close(self) -> None:
        self.live.update(self.render(), refresh=True)
        self.live.stop()

    def render(self):
        from rich.console import Group
        from rich.table import Table

        e = self.engine
        t = e.totals
        head = (f"[bold]sipdiag watch[/bold] {terminal_text(self.source)}  "
                f"{time.monotonic() - self.started:.0f} s  calls {t.calls} (in progress {len(e.active)}, "
                f"ended {sum(t.outcomes.values())})  findings {sum(t.findings.values())}  "
                f"RTP of no call {t.rtp_unrouted}   [dim]Ctrl-C: stop and report[/dim]")
        calls = Table(title="Calls in progress", title_justify="left", expand=True)
        for col in ("#", "caller", "callee", "state", "since s", "RTP"):
            calls.add_column(col)
        for number, call, rtp, age in e.active_calls()[-12:]:
            state = call.outcome + (f" {call.final_status}" if call.final_status else "")
            # `>=12`: the capture's clock stepped since the call began; the time across the step is unknown
            calls.add_row(str(number), terminal_text(call.caller), terminal_text(call.callee), state, str(age),
                          str(rtp))
        streams = Table(title="RTP streams of calls in progress", title_justify="left", expand=True)
        for col in ("call", "from", "to", "SSRC", "packets"):
            streams.add_column(col)
        for number, src, sport, dst, dport, ssrc, packets in e.active_streams(10):
            streams.add_row(f"#{number}", f"{src}:{sport}", f"{dst}:{dport}", f"0x{ssrc:08x}", str(packets))
        regs = Table(title="Registrations", title_justify="left", expand=True)
        for col in ("AOR", "contact", "outcome", "status", "expires"):
            regs.add_column(col)
        for r in e.registrations()[-8:]:
            regs.add_row(terminal_text(r.aor), terminal_text(r.contact), r.outcome, str(r.final_status or ""),
                         str(r.expires_s if r.expires_s is not None else ""))
        ended = Table(title="Ended calls", title_justify="left", expand=True, show_header=False)
        ended.add_column("")
        for ev in self.recent_calls:
            ended.add_row(terminal_text(event_line(ev)))
        found = Table(title="Findings", title_justify="left", expand=True, show_header=False)
        found.add_column("")
        for ev in self.recent_findings:
            style = {"critical": "bold red", "major": "red", "minor": "yellow"}.get(ev.finding.severity.label, "")
            found.add_row(f"[{style}]{terminal_text(event_line(ev))}[/{style}]" if style else
                          terminal_text(event_line(ev)))
        return Group(head, calls, streams, regs, ended, found)
