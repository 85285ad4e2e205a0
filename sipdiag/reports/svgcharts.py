"""Charts of a stream over time (jitter, loss) and of its E-model factors, laid out for SVG in the HTML report.

The series are the per-second figures the RTP engine keeps (`sipdiag.rtpseries.StreamSeries`): seconds since the
stream's first packet, with the largest running jitter and the packets lost in each. A long stream is drawn at
one point per couple of pixels (the largest value of each group of seconds, so a spike is never averaged away).
Only numbers and our own words leave this module; the template writes the markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..quality import EModelResult
from ..qualitytexts import phrase

CHART_W = 560
CHART_H = 150
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 12, 26
_SECOND_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # x or y in the SVG
    label: str


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    title: str


@dataclass(frozen=True, slots=True)
class SvgChart:
    """One time chart: a line (`polylines`, broken where seconds without packets leave a gap) or `bars`."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    polylines: tuple[str, ...]  # "x,y x,y ..." each
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    peak: float  # largest value drawn
    peak_second: int | None
    points: int  # seconds drawn (after grouping)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at or above `value` (1 for nothing to show)."""
    if not 0 < value < math.inf:  # nothing, or no number (NaN, infinite)
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        if value <= m * exp * (1 + 1e-9):
            return m * exp
    return 10 * exp


def _number(v: float) -> str:
    return f"{v:g}" if v >= 1 or v == 0 else f"{v:.2g}"


def _group(seconds: Sequence[int], values: Sequence[float], per: int) -> tuple[list[int], list[float]]:
    """Seconds grouped `per` at a time: the group's first second and its largest value."""
    if per <= 1:
        return list(seconds), list(values)
    out_s: list[int] = []
    out_v: list[float] = []
    for s, v in zip(seconds, values, strict=True):
        key = s // per * per
        if out_s and out_s[-1] == key:
            out_v[-1] = max(out_v[-1], v)
        else:
            out_s.append(key)
            out_v.append(v)
    return out_s, out_v


def time_chart(seconds: Sequence[int], values: Sequence[float], *, kind: str, unit: str,
               width: int = CHART_W, height: int = CHART_H) -> SvgChart:
    """A chart of `values` per second (`seconds` ascending, seconds without packets absent).

    :param kind: "line" (jitter: a line broken at gaps) or "bars" (loss: one bar per second with losses).
    :param unit: appended to the bars' tooltips ("lost packets").
    """
    left, right, top, bottom = PAD_LEFT, width - PAD_RIGHT, PAD_TOP, height - PAD_BOTTOM
    span = (max(seconds) + 1) if len(seconds) else 1
    per = max(1, math.ceil(span / ((right - left) / 2)))  # at most one point every 2 px
    # a value that is no number (NaN, infinite) has nothing to draw: 0, like a second without the event
    secs, vals = _group([int(s) for s in seconds], [v if math.isfinite(v := float(x)) else 0.0 for x in values], per)
    top_value = nice_ceiling(max(vals, default=0.0))

    def x_of(second: float) -> float:
        return left + (right - left) * second / span

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * min(value, top_value) / top_value

    polylines: list[str] = []
    bars: list[Bar] = []
    if kind == "line":
        run: list[str] = []
        prev = None
        for s, v in zip(secs, vals, strict=True):
            if prev is not None and s - prev > per and run:  # a gap: seconds without packets
                polylines.append(" ".join(run))
                run = []
            run.append(f"{x_of(s + per / 2):.1f},{y_of(v):.1f}")
            prev = s
        if run:
            polylines.append(" ".join(run if len(run) > 1 else run * 2))
    else:
        w = max(1.0, (right - left) * per / span - 0.5)
        for s, v in zip(secs, vals, strict=True):
            if v > 0:
                y = y_of(v)
                label = f"{s} s" if per == 1 else f"{s}-{s + per - 1} s"
                bars.append(Bar(round(x_of(s), 1), round(y, 1), round(w, 1), round(bottom - y, 1),
                                f"{label}: {_number(v)} {unit}"))
    step = next((st for st in _SECOND_STEPS if span / st <= 8), _SECOND_STEPS[-1] * math.ceil(span / 8 / 3600))
    x_ticks = tuple(Tick(round(x_of(s), 1), f"{s} s") for s in range(0, span + 1, step))
    y_ticks = tuple(Tick(round(y_of(v), 1), _number(v)) for v in (0.0, top_value / 2, top_value))
    peak = max(vals, default=0.0)
    peak_second = secs[vals.index(peak)] if vals and peak > 0 else None
    return SvgChart(width, height, left, right, top, bottom, tuple(polylines), tuple(bars), x_ticks, y_ticks,
                    peak, peak_second, len(secs))


@dataclass(frozen=True, slots=True)
class FactorSegment:
    name: str  # achieved (the R that is left), codec, loss, burst, jitter-buffer, delay
    x: float
    w: float
    points: float
    explanation: str


def factor_bar(q: EModelResult, *, width: float = 520.0, lang: str = "en") -> tuple[FactorSegment, ...]:
    """R0 as one bar: the R the stream kept, then what each E-model factor took (G.107 §7: R = R0 - Is - Id -
    Ie,eff + A). Factors under 0.05 R points are left out; the advantage factor (a gain) is not drawn. The
    explanations in `lang`."""
    r0 = q.r0
    parts = [("achieved", max(0.0, min(q.r_factor, r0)), phrase("achieved", lang, r=q.r_shown, r0=r0))]
    parts += [(f.name, f.r_points_lost, f.explanation_in(lang)) for f in q.factors if f.r_points_lost >= 0.05]
    total = sum(p for _, p, _ in parts) or 1.0
    scale = width / max(total, r0)
    segments = []
    x = 0.0
    for name, points, explanation in parts:
        w = points * scale
        segments.append(FactorSegment(name, round(x, 1), round(w, 1), points, explanation))
        x += w
    return tuple(segments)
