"""RFC 3261 transaction timers as the rules judge them (RULES.md §0.5), from the run's T1 and T2 (sip.t1_default_ms,
sip.t2_ms): a network configured with a larger T1 (RFC 3261 §17.1.1.1 allows one, e.g. 1 s on satellite links and
some mobile cores) gives up after 64*T1 = 64 s, not 32 s, and retransmits on its own schedule.

The configured T1 is the default: a transaction retransmitted over UDP shows its sender's own T1 in its first
retransmission gap, and RULES.md §0.5 asks the rules to expect its give-up at 64*T1_est (sipdiag.siptimers,
`transaction_t1_ns`). The transaction layer (sipdiag.transactions) and the call outcomes (sipdiag.dialogs) are
built before any rule runs: analyze() hands them `run_timers()` of the run's settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..clocksteps import NO_STEPS, ClockSteps
from ..siptimers import SipTimers
from .settings import setting

if TYPE_CHECKING:
    from ..model import Transaction

NS_PER_MS = 10**6


def t1_ns() -> int:
    # at least 1 ns: a zero T1 would make every schedule endless (the configuration refuses it; this is the guard)
    return max(1, round(setting("sip.t1_default_ms") * NS_PER_MS))


def t2_ns() -> int:
    return max(1, round(setting("sip.t2_ms") * NS_PER_MS))


def run_timers() -> SipTimers:
    """The active settings' T1 and T2, for what is built outside the rules (transactions, call outcomes)."""
    return SipTimers(t1_ns(), t2_ns())


def timeout_ns() -> int:
    """64*T1: Timer B of an INVITE client transaction (§17.1.1.2), Timer F of a non-INVITE one (§17.1.2.2), and how
    long a UAS retransmits its 2xx without an ACK before it ends the session with a BYE (§13.3.1.4)."""
    return 64 * t1_ns()


def timeout_s() -> float:
    return timeout_ns() / 1e9


def sends_before_timeout(capped: bool, t1: int | None = None) -> int:
    """How many times a client sends a request over UDP before its transaction times out (64*T1): the first send,
    then retransmissions at intervals that start at T1 and double, for a non-INVITE request (Timer E, `capped`) up
    to T2 (§17.1.2.2), for an INVITE (Timer A) without a cap (§17.1.1.2). With T1 = 0.5 s and T2 = 4 s: 7 sends of
    an INVITE (0, 0.5, 1.5, ... 31.5 s), 11 of a non-INVITE request (0, 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s).
    t1: a transaction's own T1 in ns (transaction_t1_ns), default the configured one."""
    return run_timers().sends_before_timeout(capped, t1)


def transaction_t1_estimate_ns(t: Transaction, clock: ClockSteps = NO_STEPS) -> int | None:
    """The T1 a request's sender shows in its first retransmission gap over UDP (RFC 3261 §17.1.1.2, §17.1.2.2);
    None when the capture shows none (sipdiag.siptimers)."""
    return run_timers().request_t1_estimate_ns(t, clock)


def transaction_t1_ns(t: Transaction, clock: ClockSteps = NO_STEPS) -> int:
    """The T1 a request's transaction is judged by: its estimate when that is another T1 than the configured one,
    else the configured one (sipdiag.siptimers.SipTimers.t1_for)."""
    return run_timers().request_t1_ns(t, clock)


def estimate_s(estimate_ns: int | None) -> float | None:
    """An estimate of T1 as the evidence gives it: seconds (3 digits: whole ms), None when there is none."""
    return None if estimate_ns is None else round(estimate_ns / 1e9, 3)
