"""When ICMP errors mean a flow was refused, and when they mean its packets never reached anyone: shared by the
media verdict (sipdiag.media) and router.icmp-unreachable.

Every error the capture layer forwards (sipdiag.parsers.net: Destination Unreachable, Time Exceeded, Parameter
Problem, Packet Too Big) is sent for a datagram that was discarded (RFC 792, RFC 1122 §3.2.2, RFC 4443 §2.4); a port
unreachable from the destination host says that no application there received it (RFC 1122 §3.2.2.1).

Errors are rate-limited (RFC 1812 §4.3.2.8, RFC 4443 §2.4 (f)): Linux answers a burst of 6 per destination, then
about one a second (net.ipv4.icmp_ratelimit 1000 ms), so most refused packets of a stream get no error of their own.
The burst refills as the limiter rests (Limiters), so errors of an earlier call do not use up a later call's.
A stream is therefore judged by when its errors stop, not by how many of its packets they name: errors that go on to
(about) the stream's end refused all of it; errors that stop while the stream goes on were a race at its start (RTP
sent before the receiver opened its port, early media) and the rest was delivered.

RTP may still be in flight when the BYE closes a port: errors from ICMP_RACE_NS before the BYE on are that race
and are not counted (before_race), except those that show the port refused from the stream's first packet on
(refused_from_start): a race needs a port that was open, and in a call shorter than the race every error lies
within it, so a stream refused to its end would otherwise never be found.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .clocksteps import ClockSteps
    from .icmp import IcmpError
    from .model import MessageRef

# RULES.md router.icmp-unreachable: at least this many errors for one flow (one can be a race or a stray).
ICMP_MIN_ERRORS = 3
# RTP may still be in flight when a BYE or re-INVITE closes its port: errors that late are a normal race.
ICMP_RACE_NS = 2 * 10**9
# A refusal lasts to the stream's end when its last error came at most this long before the stream's last packet:
# at the Linux rate limit of about one error a second per destination (after the burst of 6) a port still refused
# draws an error at least every second, so 2 s of RTP without one means the port opened, while a shorter silence is
# the rate limit's.
REFUSAL_TAIL_NS = 2 * 10**9
# Linux's per-destination burst (XRLIM_BURST_FACTOR): while the limiter holds a token for a host (Limiters: it
# holds up to this many, one earned back a second), a port still refused answers its next packet at once. A token
# left to the reporter for the sender, then the stream going on this long without an error (a few packets and a
# round trip), mean the port opened: the race of RTP sent before the receiver was ready (early media, the first
# packets after the 200 OK), however short the call.
ICMP_BURST = 6
BURST_QUIET_NS = 5 * 10**8
# net.ipv4.icmp_ratelimit (1000 ms): the time the limiter takes to earn back the token an error costs (Limiters).
ICMP_RATELIMIT_NS = 10**9


class StreamSpan(Protocol):
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    start_ns: int
    end_ns: int
    first_frame: int
    last_frame: int


@dataclass(frozen=True, slots=True)
class IcmpRefusal:
    """The ICMP errors that refused a stream to its end: who sent the last one, why, and how many came during the
    call (not in the race with its BYE)."""

    reporter: str
    reason: str
    count: int
    first_frame: int
    last_frame: int

    def by_receiver(self, s: StreamSpan) -> bool:
        """The stream's own destination host refused it (its port closed or its host firewall), not a router on the
        way."""
        return self.reporter == s.dst_ip


def before_race(e: IcmpError, bye: MessageRef, clock: ClockSteps) -> bool:
    """The error came while the call was up, not in the race with its BYE: more than ICMP_RACE_NS before the BYE
    by time where no clock step lies between the two (sipdiag.clocksteps), else by capture order (frames), which a
    step does not change: across a step the times are the clock's error, so an error before the BYE is not taken
    for a race, nor one after it for an error during the call."""
    if clock.sound(e.frame, bye.frame):
        return e.ts_ns < bye.ts_ns - ICMP_RACE_NS
    return e.frame < bye.frame


class Limiters:
    """The token bucket of each reporter's rate limiter for each host its errors went to, replayed over the
    capture's errors: Linux's inet_peer_xrlim_allow (net/ipv4/inetpeer.c) earns a token a jiffy up to
    XRLIM_BURST_FACTOR (6) times the rate limit, and an error may go out while it holds one rate limit's worth,
    which the error takes. In seconds: one token a second up to ICMP_BURST, one an error. A limiter is taken for
    full before the capture's first error to its host (inet_getpeer starts a new peer's bucket full); an error it had no
    full token for (a reporter faster than Linux's limit) empties it rather than putting it in debt. Across a clock
    step the time between two errors is unknown: the bucket earns nothing there (sipdiag.clocksteps)."""

    FULL = ICMP_BURST * ICMP_RATELIMIT_NS

    def __init__(self, errors: Sequence[IcmpError], clock: ClockSteps) -> None:
        self._clock = clock
        by_host: dict[tuple[str, str], list[IcmpError]] = {}
        for e in errors:
            by_host.setdefault((e.reporter, e.src_ip), []).append(e)
        # per (reporter, host it sent to): its errors' frames and times in capture order, and the tokens each left
        self._sent: dict[tuple[str, str], tuple[list[int], list[int], list[int]]] = {}
        for key, sent in by_host.items():
            sent.sort(key=lambda e: e.frame)
            left: list[int] = []
            for k, e in enumerate(sent):
                held = self.FULL if not k else self._refilled(left[-1], sent[k - 1].frame, sent[k - 1].ts_ns,
                                                              e.frame, e.ts_ns)
                left.append(max(0, held - ICMP_RATELIMIT_NS))
            self._sent[key] = ([e.frame for e in sent], [e.ts_ns for e in sent], left)

    def _refilled(self, tokens: int, a_frame: int, a_ns: int, b_frame: int, b_ns: int) -> int:
        """The tokens (ns of ICMP_RATELIMIT_NS) held at record b, given those held at record a."""
        rest = self._clock.elapsed_ns(a_frame, a_ns, b_frame, b_ns)
        return min(self.FULL, tokens + max(0, rest or 0))

    def ready(self, e: IcmpError, since: tuple[int, int] | None = None) -> bool:
        """e's reporter had a token for every packet to e's host that came after e (since None: right after e took
        its own), or from `since` (frame, ns) up to e: the tokens after its last error before e, refilled up to
        `since` when that error came before it (the bucket only fills between errors). A packet refused then
        answered at once, so a run of them drew one error each."""
        frames, times, left = self._sent[(e.reporter, e.src_ip)]
        at = bisect_left(frames, e.frame + 1 if since is None else e.frame) - 1
        if at < 0:
            return True
        held = left[at]
        if since is not None and frames[at] < since[0]:
            held = self._refilled(held, frames[at], times[at], *since)
        return held >= ICMP_RATELIMIT_NS


def refused_from_start(s: StreamSpan, errors: Sequence[IcmpError], clock: ClockSteps,
                       sent: Limiters) -> list[IcmpError]:
    """The errors (in capture order) that show the stream's port refused from its first packet on: the first came
    at most BURST_QUIET_NS after that packet (a round trip), each next one at most BURST_QUIET_NS after the one
    before, and each while its reporter held a token for every packet since the one before (Limiters.ready): every
    packet that could draw an error drew one, so the port was never open in between. None of them can be in the
    race with the BYE, which needs a port that was open until the call ended. After the burst the rate limiter
    hides whether the port opened and closed again (about one error a second either way): from there on, errors
    close to the BYE may be its race. Errors before the stream's first packet (an earlier use of its 5-tuple) are
    skipped; a clock step ends the run (times across it cannot be compared)."""
    run: list[IcmpError] = []
    at = (s.first_frame, s.start_ns)
    for e in errors:
        if e.frame <= s.first_frame:
            continue
        gap = clock.elapsed_ns(*at, e.frame, e.ts_ns)
        if gap is None or gap > BURST_QUIET_NS or not sent.ready(e, at):
            break
        run.append(e)
        at = (e.frame, e.ts_ns)
    return run


def during_call(s: StreamSpan, errors: Sequence[IcmpError], bye: MessageRef | None, clock: ClockSteps,
                sent: Limiters) -> list[IcmpError]:
    """The errors for stream s (in capture order) that came during the call, not in the race with its BYE (bye:
    the BYE of its call, or None): before that race (before_race), or before the BYE among those that refused it
    from its first packet (refused_from_start)."""
    if bye is None:
        return list(errors)
    lead = {id(e) for e in refused_from_start(s, errors, clock, sent) if e.frame < bye.frame}
    return [e for e in errors if id(e) in lead or before_race(e, bye, clock)]


def refusals(streams: Sequence[StreamSpan], byes: Sequence[MessageRef | None], errors: Sequence[IcmpError],
             clock: ClockSteps) -> list[IcmpRefusal | None]:
    """Per stream (byes: the BYE of each stream's call, or None), the refusal that lasted to its end, else None.

    An error quotes a 5-tuple, not an SSRC (RFC 792: the IP header and 8 octets): it belongs to the stream of that
    5-tuple that began last before it in capture order (a new SSRC after a re-INVITE takes the errors from then on).
    """
    out: list[IcmpRefusal | None] = [None] * len(streams)
    by_flow: dict[tuple[str, int, str, int], list[IcmpError]] = {}
    for e in errors:
        if e.proto == 17:  # RTP is UDP
            by_flow.setdefault(e.flow, []).append(e)
    if not by_flow:
        return out
    flows: dict[tuple[str, int, str, int], list[int]] = {}
    for k, s in enumerate(streams):
        key = (s.src_ip, s.src_port, s.dst_ip, s.dst_port)
        if key in by_flow:
            flows.setdefault(key, []).append(k)
    sent = Limiters(errors, clock)
    for key, ks in flows.items():
        ks.sort(key=lambda k: streams[k].first_frame)
        starts = [streams[k].first_frame for k in ks]
        mine: dict[int, list[IcmpError]] = {}
        for e in sorted(by_flow[key], key=lambda e: e.frame):
            at = bisect_left(starts, e.frame) - 1  # the last stream whose first packet came before the error
            if at >= 0:
                mine.setdefault(ks[at], []).append(e)
        for k, found in mine.items():
            out[k] = refusal(streams[k], found, byes[k], clock, sent)
    return out


def refusal(s: StreamSpan, errors: Sequence[IcmpError], bye: MessageRef | None, clock: ClockSteps,
            sent: Limiters) -> IcmpRefusal | None:
    """The refusal of stream s by its errors (in capture order, each after the stream's first packet), when at least
    ICMP_MIN_ERRORS came during the call and the last of them at most REFUSAL_TAIL_NS before the stream ended, and
    not while the reporter's limiter still had a token for the host (sent: Limiters) and the stream went on
    BURST_QUIET_NS without an error.

    Errors in the race with the BYE (during_call) are not counted either way; when some came, the stream is judged
    up to where that race begins: ICMP_RACE_NS before the BYE, or, when errors that refused it from its first
    packet came later than that (a call shorter than the race), its first error in the race, up to which it went
    without one. Without any, the stream's packets up to its end went without an error: in a call shorter than the
    race and the tail (REFUSAL_TAIL_NS), judging it only up to where the race begins took errors at its start for
    a refusal to its end. Where the capture's clock steps between the last error and that end, their times cannot
    be compared: only an error after the stream's last packet in capture order shows the refusal at its end."""
    answering = [e for e in errors if _answers(e, s, clock)]
    kept = during_call(s, answering, bye, clock, sent)
    if len(kept) < ICMP_MIN_ERRORS:
        return None
    last = kept[-1]
    end_frame, end_ns = s.last_frame, s.end_ns
    if (bye is not None and len(kept) < len(answering) and clock.sound(s.last_frame, bye.frame)
            and bye.ts_ns - ICMP_RACE_NS < end_ns):
        end_frame, end_ns = bye.frame, bye.ts_ns - ICMP_RACE_NS
        raced = next((e for e in answering if e.frame > last.frame), None)
        if end_ns < last.ts_ns and raced is not None:  # the last counted one refused it from its first packet
            end_frame, end_ns = raced.frame, raced.ts_ns
    gap = clock.elapsed_ns(last.frame, last.ts_ns, end_frame, end_ns)
    if not (last.frame > s.last_frame if gap is None else gap <= REFUSAL_TAIL_NS):
        return None
    if gap is not None and gap > BURST_QUIET_NS and sent.ready(last):
        return None  # its limiter had errors left, yet the stream's next packets drew none: the port opened
    reason = Counter(e.reason for e in kept).most_common(1)[0][0]
    return IcmpRefusal(last.reporter, reason, len(kept), kept[0].frame, last.frame)


def _answers(e: IcmpError, s: StreamSpan, clock: ClockSteps) -> bool:
    """The error can answer one of the stream's packets: it came before the stream's last packet, or at most
    REFUSAL_TAIL_NS after it (an error answers a packet within a round trip; a later one quotes a later use of the
    5-tuple). Across a clock step the capture order alone places it."""
    if e.frame <= s.last_frame:
        return True
    late = clock.elapsed_ns(s.last_frame, s.end_ns, e.frame, e.ts_ns)
    return late is None or late <= REFUSAL_TAIL_NS
