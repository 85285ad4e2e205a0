"""The HTML report (`sipdiag analyze FILE --format html -o report.html`): one self-contained page for a ticket.

Rendered with Jinja2 from the templates in `sipdiag/reports/templates/` (package data). Self-contained: styles
inline, diagrams and charts as inline SVG, no script, no web font, nothing fetched when the page is opened; a
Content-Security-Policy of `default-src 'none'` makes the browser refuse anything else, so even text that got
past the escaping could not load or run anything.

Everything from the wire is hostile: autoescaping turns `<`, `&` and quotes into entities, and every value written
by the templates first goes through `safe.markup_text` (the environment's `finalize`), which shows control and
bidi-control characters as visible escapes, as the terminal does. Only the page's own markup is `Markup`.

Large captures: tables, ladders and charts are capped (`HtmlLimits`); the page says what it left out and where
to find it. This module only builds the views (numbers, texts, SVG geometry); the templates write the markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TextIO

from .. import __version__
from ..analysis import Analysis
from ..checks import Severity
from ..clocksteps import ClockSteps
from ..media import MediaStream
from ..model import REGISTRATION_OUTCOMES, Call
from .findinggroups import FindingEntry, ordered_findings
from .htmltexts import EVIDENCE_ENUMS_RU, EVIDENCE_KEYS_RU, EVIDENCE_VALUES_RU, TEXTS
from .json import iso_time
from .safe import markup_text
from .svgcharts import FactorSegment, SvgChart, factor_bar, time_chart
from .svgladder import SvgLadder, ladder_svg


@dataclass(frozen=True, slots=True)
class HtmlLimits:
    """How much one page holds; what is over a limit is left out and the page says so."""

    calls: int = 2000  # rows of the calls table
    registrations: int = 2000
    streams: int = 2000  # rows of the streams table
    findings: int = 500
    anomalies: int = 300
    ladders: int = 50  # calls drawn with their details and ladder
    ladder_messages: int = 300  # rows of one ladder
    charts: int = 60  # streams drawn with charts and E-model factors


@dataclass(frozen=True, slots=True)
class StreamView:
    n: int  # 1-based position in Analysis.streams (the streams table's number)
    stream: MediaStream
    call_n: int | None
    jitter: SvgChart | None
    loss: SvgChart | None
    factors: tuple[FactorSegment, ...]
    charted: bool


@dataclass(frozen=True, slots=True)
class CallView:
    n: int  # 1-based position in Analysis.calls: what `--call #N` selects
    call: Call
    problem: bool
    verdict: Any  # MediaVerdict | None
    streams: tuple[int, ...]  # stream numbers (1-based)
    dtmf: tuple[str, ...]
    ladder: SvgLadder | None = None


@dataclass(frozen=True, slots=True)
class FindingView:
    entry: FindingEntry
    n: int  # 1-based number in the page (anchor finding-N)
    call_n: int | None
    evidence: tuple[tuple[str, str], ...]
    customer_text: str
    engineer_text: str
    explains: tuple[tuple[int, str], ...]  # (finding number, rule)
    explained_by: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Capped:
    """Rows of one table, and how many there were in all."""

    rows: tuple[Any, ...]
    total: int

    @property
    def cut(self) -> bool:
        return len(self.rows) < self.total


def render_html(a: Analysis, out: TextIO, *, call: Call | None = None, lang: str = "en",
                limits: HtmlLimits = HtmlLimits()) -> None:
    """Write the page for `a` to `out`; with `call`, that call only (with its findings and streams); the page's
    words and the findings' texts in `lang` ("en" or "ru")."""
    template = _environment().get_template("report.html.j2")
    for chunk in template.generate(**_context(a, call, lang, limits)):
        out.write(chunk)


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined
    from markupsafe import Markup

    def finalize(value: Any) -> Any:
        # Every `{{ value }}`: wire text made printable first, then autoescaped; None shown as "-".
        if value is None:
            return "-"
        if isinstance(value, Markup) or not isinstance(value, str):
            return value
        return markup_text(value)

    env = Environment(loader=PackageLoader("sipdiag.reports", "templates"), autoescape=True, finalize=finalize,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env


def _num(value: float | int | None, fmt: str = "{:g}") -> str:
    return "-" if value is None else fmt.format(value)


# ----------------------------------------------------------------------------------------------------- context

def _context(a: Analysis, call: Call | None, lang: str, limits: HtmlLimits) -> dict[str, Any]:
    texts = TEXTS[lang]
    number = {c.call_id: n for n, c in enumerate(a.calls, 1)}
    calls = a.calls if call is None else (call,)
    findings = [f for f in a.findings if call is None or f.call_id in (None, call.call_id)]
    if call is None:
        stream_indexes = list(range(len(a.streams)))
    else:
        media = a.media_of(call)
        stream_indexes = list(media.streams) if media else []
    problem_calls = {f.call_id for f in findings if f.severity > Severity.INFO}
    views = [_call_view(a, n, c, c.call_id in problem_calls, texts) for n, c in ((number[c.call_id], c) for c in calls)]
    # Ladders for the calls an engineer opens first: those with problems, then the rest in capture order.
    drawn = sorted(views, key=lambda v: (not v.problem, v.n))[:limits.ladders]
    drawn_ns = {v.n for v in drawn}
    details = tuple(_with_ladder(v, limits, a.capture.clock) for v in views if v.n in drawn_ns)
    charted = _charted(a, stream_indexes, limits.charts)
    streams = [_stream_view(a, i, number, i in charted, lang) for i in stream_indexes[:limits.streams]]
    charts = tuple(_stream_view(a, i, number, True, lang) for i in sorted(charted))
    hiccups = a.rtp.hiccups if a.rtp else ()
    return {
        "t": texts,
        "lang": lang,
        "version": __version__,
        "iso": iso_time,
        "a": a,
        "c": a.capture,
        "one_call": call,
        "one_call_n": number.get(call.call_id) if call is not None else None,
        "first_time": iso_time(a.capture.first_ts_ns),
        "last_time": iso_time(a.capture.last_ts_ns),
        "requests": sorted(a.sip.requests.items(), key=lambda kv: -kv[1]),
        "responses": sorted(a.sip.responses.items()),
        "transports": sorted(a.sip.transports.items(), key=lambda kv: -kv[1]),
        "encapsulations": sorted((k, v) for k, v in a.sip.encapsulations.items() if k != "none"),
        "hiccups": hiccups,
        "longest_hiccup_ms": max((h.duration_ms for h in hiccups), default=0.0),
        "findings": _cap(_finding_views(findings, number, lang), len(findings), limits.findings),
        "calls": _cap(tuple((number[c.call_id], c) for c in calls), len(calls), limits.calls),
        "details": details,
        "details_total": len(views),
        "detail_ns": drawn_ns,
        "registrations": _cap(a.registrations if call is None else (), len(a.registrations) if call is None else 0,
                              limits.registrations),
        "streams": Capped(tuple(streams), len(stream_indexes)),
        "charts": charts,
        "charts_total": len(stream_indexes),
        "anomalies": _cap(a.anomalies if call is None else (), len(a.anomalies) if call is None else 0,
                          limits.anomalies),
        "severities": ("critical", "major", "minor", "info"),
        "outcomes": ("answered", "busy", "cancelled", "rejected", "timeout", "in-progress"),
        "registration_outcomes": REGISTRATION_OUTCOMES,
    }


def _cap(rows: Sequence[Any], total: int, limit: int) -> Capped:
    return Capped(tuple(rows[:limit]), total)


def _call_view(a: Analysis, n: int, call: Call, has_findings: bool, texts: dict[str, str]) -> CallView:
    media = a.media_of(call)
    verdict = media.verdict if media else None
    problem = (has_findings or call.outcome in ("rejected", "timeout")
               or (verdict is not None and verdict.verdict in ("one-way", "no-rtp")))
    dtmf: tuple[str, ...] = ()
    if media is not None:
        dtmf = tuple(texts["dtmf_event"].format(digit=e.digit, frame=e.start_frame, ms=f"{e.duration_ms:.0f}")
                     for e in media.dtmf) + tuple(texts["dtmf_info"].format(digit=digit, frame=frame)
                                                  for frame, digit, _ms in media.info_dtmf)
    return CallView(n, call, problem, verdict, tuple(i + 1 for i in media.streams) if media else (), dtmf)


def _with_ladder(view: CallView, limits: HtmlLimits, clock: ClockSteps) -> CallView:
    ladder = ladder_svg(view.call.messages, first=view.call.caller_address, max_messages=limits.ladder_messages,
                        clock=clock) if view.call.messages else None
    return CallView(view.n, view.call, view.problem, view.verdict, view.streams, view.dtmf, ladder)


def _charted(a: Analysis, indexes: Sequence[int], limit: int) -> set[int]:
    """The streams that get charts: the lowest MOS first (no MOS last), then the most loss, then the most jitter."""
    def badness(i: int) -> tuple[float, float, float]:
        m = a.streams[i]
        return (m.quality.mos if m.quality else 99.0, -m.stats.loss_pct, -(m.stats.jitter_max_ms or 0.0))

    return set(sorted(indexes, key=lambda i: (badness(i), i))[:limit])


def _stream_view(a: Analysis, i: int, number: dict[str, int], charted: bool, lang: str) -> StreamView:
    m = a.streams[i]
    jitter = loss = None
    factors: tuple[FactorSegment, ...] = ()
    if charted:
        series = m.series
        if series is not None and len(series.second):
            seconds = series.second.tolist()
            if m.stats.clock_rate:
                jitter = time_chart(seconds, series.jitter_max_ms.tolist(), kind="line", unit="ms")
            loss = time_chart(seconds, series.lost.tolist(), kind="bars", unit="lost")
        if m.quality is not None:
            factors = factor_bar(m.quality, lang=lang)
    return StreamView(i + 1, m, number.get(m.call_id) if m.call_id else None, jitter, loss, factors, charted)


def _finding_views(findings: Sequence[Any], number: dict[str, int], lang: str) -> list[FindingView]:
    entries = ordered_findings(findings)
    page_n = {e.index: n for n, e in enumerate(entries, 1)}
    return [FindingView(
        entry=e, n=page_n[e.index], call_n=number.get(e.finding.call_id) if e.finding.call_id else None,
        evidence=tuple(_evidence(e.finding, lang)),
        customer_text=_text(e.finding.customer_text, lang), engineer_text=_text(e.finding.engineer_text, lang),
        explains=tuple((page_n[i], findings[i].rule) for i in e.explains),
        explained_by=tuple((page_n[i], findings[i].rule) for i in e.explained_by),
    ) for e in entries]


def _text(texts: dict[str, str] | str, lang: str) -> str:
    if isinstance(texts, str):
        return texts
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")


EVIDENCE_CHARS = 400  # one evidence value in the page; the JSON document has it whole


def _evidence(f: Any, lang: str = "en") -> Iterator[tuple[str, str]]:
    """The evidence values to show, labelled in `lang`: not the Call-ID (the finding names its call) nor the text
    fragments the templates were filled with (`*_en`, `*_ru`: they are in the texts already). The Russian page
    shows a value's Russian fragment where the rule wrote one (`detail` as `detail_ru`), and JSON's true/false
    and the words rules write for some keys (EVIDENCE_ENUMS_RU) in Russian; a value from the wire as it is."""
    for key, value in f.evidence.items():
        if key == "call_id" or key.rsplit("_", 1)[-1] in TEXTS:
            continue
        if lang == "ru":
            label = EVIDENCE_KEYS_RU.get(key, key)
            value = f.evidence.get(f"{key}_ru", value)
        else:
            label = key
        if isinstance(value, str):
            text = value
        elif isinstance(value, (list, tuple)):
            text = ", ".join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
                             for v in value)
        else:
            text = json.dumps(value, ensure_ascii=False, default=str)
        if lang == "ru":
            text = (EVIDENCE_ENUMS_RU.get(key, {}).get(text, text) if isinstance(value, str)
                    else EVIDENCE_VALUES_RU.get(text, text))
        yield str(label), text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS - 1] + "…"

