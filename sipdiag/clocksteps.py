"""Where the capture's clock stepped, so that no figure is measured across a step.

The capture layer names a record whose time is more than a second behind the one before it, or more than a day
after it (capture.time-backwards, capture.time-jump: sipdiag.parsers.scan.time_steps). Two record times are
comparable only when no such step lies between the two records: a duration, a delay or an interval measured across
one is the clock's error, not a measurement. `ClockSteps` keeps the frame numbers of the steps, so that every stage
downstream asks by frame, the one order a broken clock does not change:

    clock = analysis.capture.clock
    clock.sound(invite_frame, bye_frame)                  # no step between them: their times can be subtracted
    clock.elapsed_ns(invite_frame, invite_ns, bye_frame, bye_ns)   # bye_ns - invite_ns, or None across a step

What measures an age while the capture is still being read (how long a call has been idle, how long ago a
transaction ended) cannot wait for a later record: it counts from the newest step instead, `LastStep.since`.

Memory is bounded: at most STEP_BUDGET step frames are kept. A capture whose clock steps more often than that
(every record of a damaged file) is `unusable`: no two different frames are comparable, and nothing grows with the
file. A capture without any step answers every question with "sound", whatever the frames (None included), so a
normal capture measures exactly as before.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

# Step frames kept before the clock is called unusable: 32 KiB of frame numbers, small to pickle across the
# capture process's pipe (sipdiag.ingest).
STEP_BUDGET = 4096


@dataclass(frozen=True, slots=True)
class LastStep:
    """The newest step of the capture's clock so far: the frame and time of the first record after it (frame 0:
    none yet)."""

    frame: int = 0
    ns: int = 0

    def since(self, frame: int | None, ts_ns: int) -> int:
        """The time from which an age that began at record `frame` (time ts_ns) is measured: ts_ns, unless the
        step came after that record; then the step's time, so that an age never spans a step (a forward jump of
        days is no idle time, a step back no negative one). A record of unknown frame is taken at its time."""
        return ts_ns if frame is None or frame >= self.frame else self.ns


NO_STEP = LastStep()


@dataclass(frozen=True, slots=True)
class ClockSteps:
    """The capture's clock steps. frames: sorted frame numbers whose record time stepped from the record before
    it (empty when unusable); count: every step, also those past STEP_BUDGET; last: the newest one (kept when
    unusable too)."""

    frames: tuple[int, ...] = ()
    count: int = 0
    # derived from the frames (and their times) for ages measured while reading: no part of what a clock is
    last: LastStep = field(default=NO_STEP, compare=False)

    @property
    def stepped(self) -> bool:
        return self.count > 0

    @property
    def unusable(self) -> bool:
        """Too many steps to keep their frames: no two different records' times are comparable."""
        return self.count > len(self.frames)

    def sound(self, a: int | None, b: int | None) -> bool:
        """No clock step between frames a and b (in either order): their record times can be subtracted. A frame
        that is not known (None) is sound only in a capture without any step."""
        if not self.count:
            return True
        if a is None or b is None:
            return False
        lo, hi = (a, b) if a <= b else (b, a)
        if lo == hi:
            return True
        if self.unusable:
            return False
        # a step at frame s lies between s-1 and s: it separates lo and hi when lo < s <= hi
        i = bisect_right(self.frames, lo)
        return i == len(self.frames) or self.frames[i] > hi

    def elapsed_ns(self, a_frame: int | None, a_ns: int, b_frame: int | None, b_ns: int) -> int | None:
        """b_ns - a_ns, the time from record a to record b; None when a clock step lies between them."""
        return b_ns - a_ns if self.sound(a_frame, b_frame) else None


NO_STEPS = ClockSteps()  # a capture whose clock never steps (the default where none is given)


class ClockStepLog:
    """Collects the step frames of a capture batch by batch (NumPy arrays, no per-record work), bounded."""

    def __init__(self, budget: int = STEP_BUDGET) -> None:
        self.budget = budget
        self.parts: list[np.ndarray] = []
        self.count = 0
        self.last = NO_STEP

    def add(self, frames: np.ndarray, times: np.ndarray) -> None:
        """The frames (any order) whose time stepped in one batch, and those records' times."""
        if not len(frames):
            return
        newest = int(np.argmax(frames))
        if int(frames[newest]) > self.last.frame:
            self.last = LastStep(int(frames[newest]), int(times[newest]))
        self.count += len(frames)
        if self.count > self.budget:
            self.parts = []  # unusable: the positions are no longer worth keeping
        else:
            self.parts.append(np.asarray(frames, dtype=np.int64))

    def sound(self, a: int, b: int) -> bool:
        """ClockSteps.sound over the steps collected so far: for a consumer that measures while the capture is
        read (RTCP round trips), between frames already read."""
        lo, hi = (a, b) if a <= b else (b, a)
        if not self.count or lo == hi:
            return True
        if self.count > self.budget:
            return False
        return not any(np.any((part > lo) & (part <= hi)) for part in self.parts)

    def steps(self) -> ClockSteps:
        if not self.count:
            return ClockSteps()
        if self.count > self.budget:
            return ClockSteps((), self.count, self.last)
        return ClockSteps(tuple(np.sort(np.concatenate(self.parts)).tolist()), self.count, self.last)
