"""Collects the anomalies of one run, bounded: a flood of one defect (a fragment attack, a damaged file) keeps the
first occurrences with their frames and counts the rest, so memory cannot grow with hostile input."""

from __future__ import annotations

from collections import Counter

from ..model import Anomaly

KEEP_PER_CODE = 50


class AnomalyLog:
    """Append-only per run; `anomalies()` returns the kept ones plus one summary line per code that overflowed."""

    def __init__(self, keep_per_code: int = KEEP_PER_CODE) -> None:
        self.keep = keep_per_code
        self.kept: list[Anomaly] = []
        self.counts: Counter[str] = Counter()

    def add(self, code: str, frame: int | None, detail: str, detail_ru: str = "") -> None:
        self.counts[code] += 1
        if self.counts[code] <= self.keep:
            self.kept.append(Anomaly(code, frame, detail, detail_ru))

    def add_first(self, code: str, items: list[tuple[int | None, str]], total: int) -> None:
        """`total` occurrences of `code` of which `items` (frame, detail) are the first few: a vectorised check
        finds a flood at once and must not loop over it to count it."""
        for frame, detail in items[: self.keep]:
            self.add(code, frame, detail)
        self.counts[code] += total - min(len(items), self.keep)

    def extend(self, anomalies: list[Anomaly] | tuple[Anomaly, ...]) -> None:
        for a in anomalies:
            self.add(a.code, a.frame, a.detail, a.detail_ru)

    def anomalies(self) -> tuple[Anomaly, ...]:
        extra = [
            Anomaly(code, None, f"{n - self.keep} more '{code}' anomalies not listed one by one ({n} in all)")
            for code, n in sorted(self.counts.items())
            if n > self.keep
        ]
        return tuple(self.kept) + tuple(extra)

    def total(self) -> int:
        return sum(self.counts.values())
