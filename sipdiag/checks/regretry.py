"""A device retrying a refused registration on its timer: the steady pace that tells a phone or PBX from a tool.

A UA whose REGISTER is refused tries again when its retry or refresh timer fires (RFC 3261 §10.2.4, §22), so its
refusals come at one interval; a password guesser's come in bursts (each user tried once or twice), or many a
second for one user. reg.auth-loop reads the pace as its trigger for loops the capture is too short to show by
its window or quiet time; sec.bruteforce-auth reads it to leave such devices to the registration rules.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from .settings import setting

if TYPE_CHECKING:
    from ..clocksteps import ClockSteps
    from ..model import RegisterExchange


def steady_interval_s(clock: ClockSteps, refusals: list[RegisterExchange], at_least: int) -> float | None:
    """The median interval in seconds between `refusals` (of one AOR from one device) when they come at a retry
    timer's steady pace, else None: at least `at_least` of them (two at least: a pace needs one interval), the
    median at least security.steady_retry_min_interval_s and each interval within security.steady_retry_spread of
    it. Intervals are taken in frame order, and none is measured across a step of the capture's clock."""
    if len(refusals) < max(at_least, 2):
        return None
    ordered = sorted(refusals, key=lambda x: x.ts_frame or 0)
    gaps = [g for a, b in zip(ordered, ordered[1:])
            if (g := clock.elapsed_ns(a.ts_frame, a.ts_ns, b.ts_frame, b.ts_ns)) is not None]
    if len(gaps) < len(ordered) - 1:
        return None
    median = statistics.median(gaps)
    spread = setting("security.steady_retry_spread")
    if median < setting("security.steady_retry_min_interval_s") * 10**9 or any(
            abs(g - median) > spread * median for g in gaps):
        return None
    return round(median / 1e9, 1)
