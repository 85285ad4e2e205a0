"""RFC 3261 transaction timers of a run, and T1 estimated from the retransmissions a capture shows.

T1 (§17.1.1.1, 500 ms by default, larger on satellite links and some mobile cores) sets every schedule: a client
retransmits a request over UDP after T1, 2*T1, 4*T1, ... (Timer A of an INVITE, §17.1.1.2; Timer E of a non-INVITE
request, capped at T2, §17.1.2.2), a UAS its 2xx on the same schedule as Timer E (§13.3.1.4), and each gives up
after 64*T1 (Timer B, Timer F, the 2xx's ACK wait). `SipTimers` holds the run's configured T1 and T2
(sip.t1_default_ms, sip.t2_ms: sipdiag.checks.timers reads them from the settings); the transaction layer
(sipdiag.transactions) and the call outcomes (sipdiag.dialogs) are given it when the run starts, as the rules read
it from the active settings.

RULES.md §0.5: "Rules must estimate T1 from the first retransmission gap (T1_est) and expect give-up at 64·T1_est,
because some operators use T1 ≠ 500 ms". The configured T1 is the default for a transaction whose capture shows no
usable gap (a single send, TCP, a step of the capture's clock); a transaction retransmitted over UDP shows its
sender's own T1 in the gap between its first send and its first retransmission (`estimate_t1_ns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .clocksteps import NO_STEPS, ClockSteps

NS_PER_MS = 10**6
# An estimate below this is no timer: a copy of the packet captured twice (a SPAN port or two interfaces merged)
# arrives microseconds after the first and is matched as a retransmission. RFC 3261 §17.1.1.1 lets closed networks
# use a T1 below 500 ms (NOT RECOMMENDED); none uses one below 100 ms, where 64*T1 would be 6.4 s.
MIN_T1_NS = 100 * NS_PER_MS
# The second gap of a schedule doubles the first (Timer A, Timer E and the 2xx below T2): a second gap outside
# these bounds means the capture missed a copy (0, 1.5, 3.5 s: the one at 0.5 s lost, which would read as T1 =
# 1.5 s) or the copies are no schedule of RFC 3261. The first gap is then no estimate.
DOUBLING = (1.5, 2.5)
# An estimate within this share of the configured T1 is that T1 seen through the path's jitter (0.51 s for 0.5 s):
# the configured value is kept, so that a capture of standard peers is judged exactly as before. Further off, the
# peer runs a T1 of its own (1 s, 2 s) and the rules judge its timeouts against it.
SAME_T1 = 0.25
# How long past its timeout a transaction's matching state is kept: 32 s + 8 s = 40 s with the default T1, long
# enough for a late response or retransmission (RFC 3261 §17.1.1.2 Timer B, §17.2.1 Timer H).
KEEP_MARGIN_NS = 8 * 10**9


class _Sends(Protocol):
    """A transaction as sipdiag.transactions.TxState and sipdiag.model.Transaction hold it."""

    method: str
    request_frame: int | None
    ts_frame: int | None
    ts_ns: int
    retransmitted: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class SipTimers:
    """The run's configured T1 and T2, in ns (RFC 3261 Table 4 defaults)."""

    t1_ns: int = 500 * NS_PER_MS
    t2_ns: int = 4000 * NS_PER_MS

    @property
    def timeout_ns(self) -> int:
        """64*T1: Timer B (§17.1.1.2), Timer F (§17.1.2.2), the UAS's wait for the ACK of its 2xx (§13.3.1.4)."""
        return 64 * self.t1_ns

    @property
    def keep_ns(self) -> int:
        """How long the transaction layer keeps a transaction's matching state after it ended (or began)."""
        return self.timeout_ns + KEEP_MARGIN_NS

    def t1_for(self, estimate_ns: int | None) -> int:
        """The T1 to judge a transaction by: its estimate when it shows another T1 than the configured one (see
        SAME_T1), else the configured one."""
        if estimate_ns is None or abs(estimate_ns - self.t1_ns) <= SAME_T1 * self.t1_ns:
            return self.t1_ns
        return estimate_ns

    def estimate_t1_ns(self, gaps: Sequence[int | None]) -> int | None:
        """T1 from the gaps between the first copies of a retransmitted message (first send to first
        retransmission, then to the second; None: across a step of the capture's clock), rounded to the ms; None
        when they show no T1 (see MIN_T1_NS, DOUBLING). A T1 above T2 is no configuration of RFC 3261 (T2 caps the
        intervals that start at T1), so the gap is then no estimate either (a user or an application sending the
        same request again)."""
        if not gaps or gaps[0] is None:
            return None
        first = gaps[0]
        if not MIN_T1_NS <= first <= self.t2_ns:
            return None
        if len(gaps) > 1 and gaps[1] is not None and not DOUBLING[0] * first <= gaps[1] <= DOUBLING[1] * first:
            return None
        return round(first / NS_PER_MS) * NS_PER_MS

    def sends_before_timeout(self, capped: bool, t1_ns: int | None = None) -> int:
        """How many times a client sends a request over UDP before its transaction times out (64*T1): the first
        send, then retransmissions at intervals that start at T1 and double, for a non-INVITE request (Timer E,
        `capped`) up to T2 (§17.1.2.2), for an INVITE (Timer A) without a cap (§17.1.1.2). With T1 = 0.5 s and
        T2 = 4 s: 7 sends of an INVITE (0, 0.5, 1.5, ... 31.5 s), 11 of a non-INVITE request (0, 0.5, 1.5, 3.5,
        7.5, 11.5, ... 31.5 s). t1_ns: the transaction's T1 (t1_for), default the configured one."""
        t1 = self.t1_ns if t1_ns is None else t1_ns
        t2, end = self.t2_ns, 64 * t1
        sends, at, interval = 1, 0, t1
        while at + interval < end:  # at most 6 doublings: 64*T1 is reached by then
            at += interval
            sends += 1
            interval *= 2
            if capped and interval >= t2:  # from here on every interval is T2: count them, do not step through them
                return sends + (end - 1 - at) // t2
        return sends

    def request_t1_estimate_ns(self, tx: _Sends, clock: ClockSteps = NO_STEPS) -> int | None:
        """The T1 of a request's sender, estimated from its first retransmissions over UDP (only those are
        recorded, sipdiag.transactions): Timer A or E starts at the sender's T1 (§17.1.1.2, §17.1.2.2). None when
        the capture shows no usable gap: no retransmission, or the request seen only after its response (its
        time is then not the transaction's)."""
        if not tx.retransmitted or tx.request_frame is None or tx.request_frame != tx.ts_frame:
            return None
        return self.estimate_t1_ns(copy_gaps(((tx.ts_frame, tx.ts_ns), *tx.retransmitted), clock))

    def request_t1_ns(self, tx: _Sends, clock: ClockSteps = NO_STEPS) -> int:
        """The T1 a request's transaction is judged by (t1_for of its estimate)."""
        return self.t1_for(self.request_t1_estimate_ns(tx, clock))


def copy_gaps(copies: Sequence[tuple[int | None, int]], clock: ClockSteps = NO_STEPS) -> list[int | None]:
    """The gaps between the first three of `copies` ((frame, ts_ns), in capture order): None across a clock step."""
    return [clock.elapsed_ns(a[0], a[1], b[0], b[1]) for a, b in zip(copies[:2], copies[1:3])]


DEFAULT_TIMERS = SipTimers()
