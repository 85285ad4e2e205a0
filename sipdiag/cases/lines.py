"""The customer's lines in a capture and which of them cannot sign in: what a case's triage calls a registration
down ("my phone won't register": the line makes and takes no call).

A line is an AOR the customer's phones register (sipdiag.checks.security.customer_registrations: a scanner's or a
password guesser's REGISTERs are the attack's finding, not the customer's). It is down when none of its bindings
ends registered and one of them failed for good: refused (403, 404, 5xx, credentials refused: RFC 3261 §22.2 has
the phone not send them again) or unanswered until its transaction gave up (Timer F, as reg.no-response judges).

Not every registration left unaccepted is a line down, and the rules do not report these either:
- a refused sign-out (expires 0): the binding stays until it expires (RFC 3261 §10.2.2), the phone still works;
- a sign-in still under way when the capture ends: a REGISTER not yet timed out, or one answered with a request for
  another REGISTER (a digest challenge to a REGISTER without credentials or with stale=true, RFC 3261 §22.2 and
  RFC 7616 §3.3, the registrar's challenge after a proxy's was answered, §22.3, or one to credentials of an old
  nonce: sipdiag.checks.digestrefusal; 423 with Min-Expires, §10.2.8; a 3xx naming where to register, §10.2), which
  a capture cut right after the first step of a normal sign-in shows as its last answer. A phone that leaves such an
  answer without its REGISTER for Timer F (64*T1) while the capture goes on does not answer it (no password set,
  say): down. T1 is the phone's own where its REGISTER's retransmissions show another than the configured one, as
  the rules judge it (RULES.md §0.5, T1_est; reg.auth-loop for credentials refused once): a phone at T1 = 1 s
  silent 40 s after a challenge is within its 64 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..checks.digestrefusal import Refusal
    from ..model import RegisterExchange, Registration


# A line's state in a capture: it signed in (a sign-in accepted, and no later one failed for good), it is down (see
# the module's docstring), or neither: a sign-in still under way when the capture ends, or only a sign-out.
UP, DOWN, PENDING = "up", "down", "pending"


def line_states(a: Analysis) -> dict[str, str]:
    """The customer's lines (AORs) in the capture and the state of each (UP, DOWN, PENDING), in the order of their
    first REGISTER: what a verification compares line by line (sipdiag.cases.compare). Judged by the thresholds the
    analysis was made under (Analysis.settings: sip.t1_default_ms sets Timer F, unless the phone's retransmissions
    show a T1 of its own)."""
    from ..checks.security import customer_registrations
    from ..checks.settings import analysed_under

    with analysed_under(a):
        by_line: dict[str, list[Registration]] = {}
        for r in customer_registrations(a):
            by_line.setdefault(r.aor, []).append(r)
        return {aor: _state(a, regs) for aor, regs in by_line.items()}


def line_figures(a: Analysis) -> tuple[int, int]:
    """(lines, lines down): the customer's AORs that register in the capture, and those of them that cannot."""
    states = line_states(a)
    return len(states), sum(1 for s in states.values() if s == DOWN)


def _state(a: Analysis, regs: list[Registration]) -> str:
    if not any(r.outcome == "registered" for r in regs) and any(_failed(a, r) for r in regs):
        return DOWN
    # signed in: a binding ends registered, or a sign-in was accepted before a refused sign-out, which leaves the
    # binding in place until it expires (RFC 3261 §10.2.2)
    if any(r.outcome == "registered" or any(x.status is not None and 200 <= x.status < 300 and not x.removes
                                            for x in r.exchanges) for r in regs):
        return UP
    return PENDING


def _failed(a: Analysis, r: Registration) -> bool:
    """Whether the registration's last sign-in failed for good (see the module's docstring)."""
    from ..checks.digestrefusal import judged
    from ..checks.regfailures import given_up, last_run, timer_f_of

    if r.accepted or r.deregistration:
        return False
    run = last_run(r)  # the exchanges after the last accepted REGISTER, of the last one's kind
    if run and run[-1].removes:
        return False
    refusals = {id(x): refused for x, refused in judged(r.exchanges)}
    if any(_refused(x, refusals.get(id(x))) for x in run):
        return True
    if r.outcome == "unanswered":
        return given_up(a, r.transactions[-1])
    # every answer asked for another REGISTER: down when the phone left the first of them unanswered for Timer F,
    # the phone's own as reg.auth-loop judges a refusal left so: 64*T1, T1 the one its REGISTER's retransmissions
    # show where they show another than the configured one (RULES.md §0.5, T1_est)
    first = next((x for x in run if x.response_ts_ns is not None), None)
    if first is None:
        return False
    waited_ns = a.capture.clock.elapsed_ns(first.response_frame, first.response_ts_ns, a.capture.packets,
                                           a.capture.last_ts_ns or 0)
    return waited_ns is not None and waited_ns >= timer_f_of(a, r, first)[0]


def _refused(x: RegisterExchange, refused: Refusal | None) -> bool:
    """A final answer that refuses the REGISTER for good, not one asking for another REGISTER. A 401/407 does
    when it refuses the credentials sent (sipdiag.checks.digestrefusal, as reg.auth-loop judges): not the first
    step's challenge, not a stale nonce, not the registrar's challenge after a proxy's (RFC 3261 §22.3), and not
    credentials answering an old nonce, which the phone may answer again with the new one (left to Timer F)."""
    from ..checks.digestrefusal import REFUSED

    if x.status is None or 200 <= x.status < 400 or x.status == 423:
        return False
    if x.status in (401, 407):
        return refused is not None and refused.kind == REFUSED
    return True
