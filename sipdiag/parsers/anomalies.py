"""Collects the anomalies of one run, bounded: a flood of one defect (a fragment attack, a damaged file) keeps the
first occurrences with their frames and counts the rest, so memory cannot grow with hostile input."""

from __future__ import annotations

from collections import Counter

from ..model import Anomaly
from .anomalytexts import anomaly, anomaly_with, detail, kind_of

KEEP_PER_CODE = 50


class AnomalyLog:
    """Append-only per run; `anomalies()` returns the kept ones plus one summary line per code that overflowed."""

    def __init__(self, keep_per_code: int = KEEP_PER_CODE) -> None:
        self.keep = keep_per_code
        self.kept: list[Anomaly] = []
        self.counts: Counter[str] = Counter()

    def add(self, key: str, frame: int | None, /, **values: object) -> None:
        """Record an anomaly of the text `key` of sipdiag.parsers.anomalytexts (its code is the key up to its
        variant) with `values`. The detail is written, in both languages, only for an anomaly that is kept: a
        flood of one defect costs a count each, not two sentences."""
        code = kind_of(key)
        self.counts[code] += 1
        if self.counts[code] <= self.keep:
            self.kept.append(anomaly(key, frame, **values))

    def add_anomaly(self, a: Anomaly) -> None:
        """Record an anomaly made elsewhere (a parser's, with its detail in both languages)."""
        self.counts[a.code] += 1
        if self.counts[a.code] <= self.keep:
            self.kept.append(a)

    def add_first(self, key: str, items: list[tuple[int | None, dict[str, object]]], total: int) -> None:
        """`total` occurrences of `key`'s code of which `items` (frame, the text's values) are the first few: a
        vectorised check finds a flood at once and must not loop over it to count it."""
        for frame, values in items[: self.keep]:
            self.add(key, frame, **values)
        self.counts[kind_of(key)] += total - min(len(items), self.keep)

    def extend(self, anomalies: list[Anomaly] | tuple[Anomaly, ...]) -> None:
        for a in anomalies:
            self.add_anomaly(a)

    def anomalies(self) -> tuple[Anomaly, ...]:
        extra = [
            anomaly_with(code, None, detail("more", more=n - self.keep, code=code, total=n))
            for code, n in sorted(self.counts.items())
            if n > self.keep
        ]
        return tuple(self.kept) + tuple(extra)

    def total(self) -> int:
        return sum(self.counts.values())
