"""How long a one-way call's audio flowed one way (RULES.md media.one-way-audio), for the rule's severity.

RULES.md: RTP observed A->B while B->A is absent or below `oneway_min_ratio` (10 %) of the packets expected
(duration / ptime) "for >= 5 s (report) / >= 15 s (onewaytimeout, major)". The one-way duration is the time the
present direction ran (its first to its last packet) less the whole seconds in which the other direction delivered
at least that share of its packets. A packet sent to an address its receiver cannot be reached at, or of a stream
refused with ICMP errors to its end (sipdiag.media `delivered`), does not count as delivered.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..codecs import VIDEO_CLOCK
from ..media import CallMedia, MediaStream, delivered
from .mediaquality import DEFAULT_INTERVAL_MS

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call
    from ..rtpresult import RtpStreamStats

NS = 10**9


@dataclass(frozen=True, slots=True)
class OneWay:
    media_s: float  # how long the present direction ran: its first to its last packet
    one_way_s: float  # of that, how long the other direction was absent or below the ratio
    # True: the capture's clock steps within the media (sipdiag.clocksteps), so the times are the senders' own,
    # from the RTP timestamps, not arrival times
    from_timestamps: bool = False


def one_way_duration(analysis: Analysis, call: Call, media: CallMedia, missing: str, min_ratio: float) -> OneWay:
    """The one-way duration of `call`, whose audio in direction `missing` (caller->callee or callee->caller) is
    missing, with `min_ratio` the share of expected packets below which a direction counts as absent."""
    # audio streams that carried media: not video, not RFC 6263 keep-alives alone (as the verdict, sipdiag.media)
    audio = [m for m in (analysis.streams[i] for i in media.streams)
             if m.stats.clock_rate != VIDEO_CLOCK and m.stats.media_packets]
    present = [m.stats for m in audio if m.binding.direction not in (missing, None)]
    if not present:
        return OneWay(0.0, 0.0)
    other = [m for m in audio if m.binding.direction == missing and delivered(call, m.stats, m.refusal)]
    if not analysis.capture.clock.sound(min(s.first_frame for s in present), max(s.last_frame for s in present)):
        return _from_timestamps(present, other, min_ratio)
    start, end = min(s.start_ns for s in present), max(s.end_ns for s in present)
    span_s = (end - start) / NS
    covered = min(_covered_seconds(other, (start, end), min_ratio), math.ceil(span_s))
    return OneWay(round(span_s, 1), round(max(span_s - covered, 0.0), 1))


def _from_timestamps(present: Sequence[RtpStreamStats], other: Sequence[MediaStream], min_ratio: float) -> OneWay:
    """The one-way duration where the capture's clock steps within the media: arrival times measure the clock's
    error there, the RTP timestamps do not (RFC 3550 §5.1: they advance with the sender's sampling clock). The
    present direction ran as long as its longest stream's packets times their packet time (from the
    timestamps); the other direction's packets cannot be placed in seconds, so they cover at most as many seconds as
    they could fill at the ratio."""
    span_s = max(s.media_packets * _ptime_ms(s) / 1000.0 for s in present)
    covered = _covered_seconds(other, None, min_ratio)
    return OneWay(round(span_s, 1), round(max(span_s - covered, 0.0), 1), from_timestamps=True)


def _ptime_ms(s: RtpStreamStats) -> float:
    """Audio per packet from the stream's RTP timestamps (not its arrival interval, which lost packets and silence
    stretch), else RFC 3551's 20 ms default."""
    ptime = s.timestamp_ptime_ms
    return ptime if ptime is not None and 2.5 <= ptime <= 200 else DEFAULT_INTERVAL_MS


def _covered_seconds(other: Sequence[MediaStream], window: tuple[int, int] | None, min_ratio: float) -> int:
    """Whole seconds of window (start_ns, end_ns) in which the streams delivered at least `min_ratio` of the packets
    their packet time makes (50 a second at 20 ms: 5 with the 10 % default). window None: the packets cannot be
    placed in time (a clock step), so they count as packed into the fewest seconds."""
    if not other:
        return 0
    # RULES.md: expected = duration / ptime, with the packet time of the direction's main stream.
    need = max(min_ratio * 1000.0 / _ptime_ms(max(other, key=lambda m: m.stats.media_packets).stats), 1e-9)
    per_second: Counter[int] = Counter()
    unplaced = 0
    for m in other:
        s, series = m.stats, m.series
        if series is None or window is None:  # no per-second series kept (sipdiag.rtpseries bounds), or no clock
            unplaced += s.media_packets
            continue
        start_ns, end_ns = window
        # Series seconds count from the stream's own first packet: shift them to the nearest second of the
        # present direction's (a stream that began 5 ms earlier falls into its first second, not before it).
        offset = round((s.start_ns - start_ns) / NS)
        for second, packets in zip(series.second.tolist(), series.packets.tolist()):
            bin_ = offset + second
            if 0 <= bin_ * NS <= end_ns - start_ns:
                per_second[bin_] += packets
    covered = sum(1 for packets in per_second.values() if packets >= need)
    # Packets without a per-second series: at most this many more seconds can they have covered (never overstates
    # the one-way duration).
    return covered + int(unplaced // math.ceil(need))
