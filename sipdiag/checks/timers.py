"""RFC 3261 transaction timers as the rules judge them (RULES.md §0.5), from the run's T1 and T2 (sip.t1_default_ms,
sip.t2_ms): a network configured with a larger T1 (RFC 3261 §17.1.1.1 allows one, e.g. 1 s on satellite links and
some mobile cores) gives up after 64*T1 = 64 s, not 32 s, and retransmits on its own schedule.

The transaction layer (sipdiag.transactions) and the call outcomes (sipdiag.dialogs) keep RFC 3261's defaults: they
are built before any rule runs, outside the run's configuration.
"""

from __future__ import annotations

from .settings import setting

NS_PER_MS = 10**6


def t1_ns() -> int:
    # at least 1 ns: a zero T1 would make every schedule endless (the configuration refuses it; this is the guard)
    return max(1, round(setting("sip.t1_default_ms") * NS_PER_MS))


def t2_ns() -> int:
    return max(1, round(setting("sip.t2_ms") * NS_PER_MS))


def timeout_ns() -> int:
    """64*T1: Timer B of an INVITE client transaction (§17.1.1.2), Timer F of a non-INVITE one (§17.1.2.2), and how
    long a UAS retransmits its 2xx without an ACK before it ends the session with a BYE (§13.3.1.4)."""
    return 64 * t1_ns()


def timeout_s() -> float:
    return timeout_ns() / 1e9


def sends_before_timeout(capped: bool) -> int:
    """How many times a client sends a request over UDP before its transaction times out (64*T1): the first send,
    then retransmissions at intervals that start at T1 and double, for a non-INVITE request (Timer E, `capped`) up
    to T2 (§17.1.2.2), for an INVITE (Timer A) without a cap (§17.1.1.2). With T1 = 0.5 s and T2 = 4 s: 7 sends of
    an INVITE (0, 0.5, 1.5, ... 31.5 s), 11 of a non-INVITE request (0, 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s)."""
    t1, t2, end = t1_ns(), t2_ns(), timeout_ns()
    sends, at, interval = 1, 0, t1
    while at + interval < end:  # at most 6 doublings: 64*T1 is reached by then
        at += interval
        sends += 1
        interval *= 2
        if capped and interval >= t2:  # from here on every interval is T2: count them, do not step through them
            return sends + (end - 1 - at) // t2
    return sends
