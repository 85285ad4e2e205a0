"""The time known to have passed between two records of a feed still being read, for the ages `sipdiag watch`
shows (how long a call has been in progress), on a capture whose clock steps.

sipdiag.clocksteps subtracts two record times only where no step of the capture's clock lies between them: a step's
own difference (a forward jump of two days, a step back) is the clock's error, not time that passed, and the real
time across it is unknown, only at least 0. The file analysis leaves such a duration unknown (`elapsed_ns` is None):
a call's duration across a step is reported as unknown. A dashboard cannot show "unknown" for every call in progress
when the clock stepped (all of them would read so until they end), and `now - start` across a forward jump of two
days reads two days. What is known is the time on each stretch of the clock, the record-to-record differences on
either side of each step: their sum from one record to a later one is the time known to have passed, exact where no
step lies between the two records and a lower bound where one does (shown as such, `>=`). It is what the live engine
already counts for idle time after a step (`LastStep.since`), with the stretch before the step added, which a shown
age has no reason to forget.

The sum is kept as an offset: a record's known time is its time less the steps of the clock before it (the sum of
their differences). The capture layer names the steps (`scan.step_positions`, the same steps `ClockSteps` holds);
KnownClock keeps the offset after the newest record read, and the frame and offset of the newest KEEP steps, so
that a record is read with the steps before its own frame: the first message of a call in a batch whose later
records stepped, or a datagram the decoder hands on late (a TCP segment, the last fragment of a datagram). A
record older than the oldest step kept is read with the steps before that one: on a clock stepping that often
(a damaged capture, `ClockSteps.unusable`) no age is sound anyway. Memory: KEEP steps.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from .parsers.scan import record_deltas, step_positions


@dataclass(frozen=True, slots=True)
class Reading:
    """Where a record stands on the known clock: its time less the steps before it, and how many steps those were."""

    known_ns: int
    steps: int


@dataclass(frozen=True, slots=True)
class KnownAge:
    """The time known to have passed between two records: exact, or (a step of the clock between them) at least."""

    seconds: float
    at_least: bool

    def __str__(self) -> str:
        return f"{'>=' if self.at_least else ''}{self.seconds:.0f}"


def age(since: Reading, now: Reading) -> KnownAge:
    return KnownAge(max(now.known_ns - since.known_ns, 0) / 1e9, now.steps != since.steps)


KEEP = 64  # the newest steps kept by frame


class KnownClock:
    """The steps of a feed's clock as its batches are read (records), to read a record's known time (reading)."""

    def __init__(self) -> None:
        self.offset_ns = 0  # the steps' differences summed, after the newest record read
        self.steps = 0
        self._last_ns: int | None = None  # the newest record's time
        self._frames: list[int] = []  # the newest KEEP steps' frames,
        self._offsets: list[int] = []  # the offset after each,
        self._base = (0, 0)  # and the offset and steps before the oldest of them

    def records(self, first_frame: int, ts_ns: np.ndarray) -> None:
        """The times of every record of one batch (frames first_frame, first_frame + 1, ...), in feed order."""
        if not len(ts_ns):
            return
        at = step_positions(ts_ns, self._last_ns)
        if len(at):
            offsets = self.offset_ns + np.cumsum(record_deltas(ts_ns, self._last_ns)[at])
            self._frames += (at + first_frame).tolist()
            self._offsets += offsets.tolist()
            self.offset_ns, self.steps = int(offsets[-1]), self.steps + len(at)
            if (drop := len(self._frames) - KEEP) > 0:
                self._base = (self._offsets[drop - 1], self._base[1] + drop)
                del self._frames[:drop], self._offsets[:drop]
        self._last_ns = int(ts_ns[-1])

    def reading(self, frame: int, ts_ns: int) -> Reading:
        """The known time of the record `frame` (time ts_ns)."""
        k = bisect_right(self._frames, frame)
        offset, steps = (self._offsets[k - 1], self._base[1] + k) if k else self._base
        return Reading(ts_ns - offset, steps)
