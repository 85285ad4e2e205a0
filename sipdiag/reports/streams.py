"""RTP streams for the terminal: a table like `tshark -z rtp,streams` with the call, the binding and the MOS, and
per-call media lines with a sparkline of jitter and loss over time. Wire text goes through `terminal_text`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..addresses import join_address
from ..analysis import Analysis
from ..media import MediaStream
from ..model import Call
from ..rtpresult import RtpStreamStats
from .calltables import number_text
from .htmltexts import TERMINAL
from .safe import printable, terminal_text as t

BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 40


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """Values squeezed into `width` cells (the largest of each group), drawn with eight bar heights."""
    if not len(values):
        return ""
    step = max(1, -(-len(values) // width))
    groups = [max(values[i : i + step]) for i in range(0, len(values), step)]
    top = max(groups) or 1.0
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] if v > 0 else " " for v in groups)


def packets_text(s: RtpStreamStats, lang: str = "en") -> str:
    """The packets of a stream as tshark counts them, and how many of them were RFC 6263 keep-alives: "4 packets
    (3 keep-alives)"."""
    w = TERMINAL[lang]
    if not s.keepalives:
        return w["packets_n"].format(n=s.packets)
    return w["keepalives"].format(n=s.packets, k=s.keepalives, s="" if s.keepalives == 1 else "s")


def stream_label(m: MediaStream) -> str:
    return printable(m.label)


def streams_table(a: Analysis, lang: str = "en") -> Table:
    """Every measured stream, in order of its first packet (what `sipdiag streams` prints), with its headings and
    words in `lang`."""
    w = TERMINAL[lang]
    call_no = {c.call_id: i for i, c in enumerate(a.calls, 1)}
    table = Table(title=w["streams"].format(n=len(a.streams)), title_justify="left")
    # packets as tshark counts them; of those, the RFC 6263 keep-alives in a column of their own where any stream
    # has some (a capture without any shows tshark's columns only)
    keepalives = any(m.stats.keepalives for m in a.streams)
    for name, justify in (("source", "left"), ("destination", "left"), ("ssrc", "left"), ("codec", "left"),
                          ("packets", "right"), *((("keepalives", "right"),) if keepalives else ()),
                          ("lost", "right"), ("max_delta", "right"), ("max_jitter", "right"),
                          ("mean_jitter", "right"), ("mos", "right"), ("call", "right"), ("bound_by", "left")):
        table.add_column(w[f"streams_{name}"], justify=justify)
    for m in a.streams:
        s, q = m.stats, m.quality
        lost = f"{s.lost} ({s.loss_pct:.1f}%)"
        table.add_row(
            t(join_address(s.src_ip, s.src_port)), t(join_address(s.dst_ip, s.dst_port)), f"0x{s.ssrc:08X}",
            t(s.codec_label),
            str(s.packets), *((str(s.keepalives),) if keepalives else ()),
            f"[red]{lost}[/]" if s.lost > 0 else lost, number_text(s.max_delta_ms, "{:.3f}"),
            number_text(s.jitter_max_ms, "{:.3f}"), number_text(s.jitter_mean_ms, "{:.3f}"),
            "-" if q is None else f"{q.mos:.2f}{'*' if q.estimate else ''}",
            f"#{call_no[m.call_id]}" if m.call_id in call_no else "-",
            w[f"bound_{m.binding.bound_by}"],
        )
    return table


def call_media(a: Analysis, call: Call, *, lang: str = "en") -> RenderableType | None:
    """The media part of a call's details: the verdict, then each stream with its figures and sparklines."""
    media = a.media_of(call)
    if media is None:
        return None
    w = TERMINAL[lang]
    v = media.verdict
    colour = {"two-way": "green", "one-way": "red", "no-rtp": "red"}.get(v.verdict, "yellow")
    parts: list[RenderableType] = [Text.assemble((w["media"], "bold"), (printable(v.text(lang)), colour))]
    for i in media.streams:
        m = a.streams[i]
        s, q = m.stats, m.quality
        head = (f"  {m.binding.direction or '?'} ({m.binding.bound_by}): {stream_label(m)}, {s.codec_label}, "
                + w["stream_figures"].format(packets=packets_text(s, lang), lost=s.lost, pct=f"{s.loss_pct:.1f}")
                + (w["jitter_max"].format(ms=f"{s.jitter_max_ms:.1f}") if s.jitter_max_ms is not None else
                   w["jitter_unknown"]))
        if q is not None:
            head += f", MOS {q.mos:.2f}" + (w["estimate"] if q.estimate else "")
        parts.append(Text(printable(head)))
        if m.series is not None and len(m.series.second):
            jitter = [0.0] * (int(m.series.second.max()) + 1)
            lost = [0.0] * len(jitter)
            for sec, j, l in zip(m.series.second.tolist(), m.series.jitter_max_ms.tolist(), m.series.lost.tolist()):
                jitter[sec], lost[sec] = float(j), float(l)
            parts.append(Text(w["jitter_line"].format(spark=sparkline(jitter)), style="cyan"))
            if any(lost):
                parts.append(Text(w["loss_line"].format(spark=sparkline(lost)), style="red"))
        if q is not None and q.factors:
            parts.append(Text("    " + printable(q.summary_ru if lang == "ru" else q.summary), style="dim"))
    for e in media.dtmf:
        parts.append(Text(w["dtmf_event"].format(digit=printable(e.digit), frame=e.start_frame,
                                                 ms=f"{e.duration_ms:.0f}") + ("" if e.end_seen else w["dtmf_no_end"])))
    for frame, digit, ms in media.info_dtmf:
        parts.append(Text(w["dtmf_info"].format(digit=printable(digit), frame=frame)
                          + (w["dtmf_info_ms"].format(ms=ms) if ms else "")))
    return Group(*parts)


def render_streams(a: Analysis, fmt: str, out, *, lang: str = "en") -> None:
    """`sipdiag streams`: the table in `lang`, or the `streams` array of the JSON document (language-neutral, as
    `analyze --format json`)."""
    if fmt == "json":
        import json

        from .json import SCHEMA, stream_record

        out.write(json.dumps({"schema": SCHEMA, "streams": [stream_record(m) for m in a.streams]},
                             indent=2 if getattr(out, "isatty", lambda: False)() else None) + "\n")
        return
    from .safe import console as make_console

    width = None if getattr(out, "isatty", lambda: False)() else 160
    make_console(out, width=width).print(streams_table(a, lang))
