"""Triage of a filing: the main cause, a priority P1-P4 and the queue that must act, with the reason in words.

Priority from severity and reach (ITIL's impact x urgency, as support desks use it): a registration that is down or a
problem on every call is wide; one call of many is narrow.

    critical, or every line of the customer down             -> P1
    major on all calls (or capture-wide), or some lines down -> P2
    major on some calls, or minor on all calls               -> P3
    anything else (minor on some calls, info, nothing)       -> P4

A line down (sipdiag.cases.lines: an AOR of the customer's that cannot sign in, refused or unanswered for good)
raises the priority whatever the findings say: "my phone won't register" is an outage of that line even when no rule
names its cause, e.g. a digest challenge the phone leaves unanswered for Timer F (no password set). Credentials
refused, even once by a phone that as RFC 3261 §22.2 asks does not send them again, are reg.auth-loop's. When the
lines down set the priority and no finding can explain them (none above info, or the main one is a call's), the
registration is the triage's subject (category "registration", no rule) and first line's: the phone's account and
provisioning are checked with the customer. A capture-wide main finding (a registration, NAT or router one) stays the
main cause with its queue: it may be why the phone cannot sign in.

Queue: who must act (the finding's owner, ARCHITECTURE.md): an instruction to the customer or a provisioning change
is first line's; a router/QoS problem on the operator's side is the network team's; attacks are security's; the
rest is engineering's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..checks import Severity

SEVERITY_RANK = {s.label: int(s) for s in Severity}  # finding records carry the label
QUEUES = ("first-line", "engineering", "network", "security")
NETWORK_CATEGORIES = ("router",)
REGISTRATION_DOWN = "registration down: the customer can make or take no call"


@dataclass(frozen=True, slots=True)
class Triage:
    # of the main cause; "registration" for a line down that no finding above info explains; None for nothing found
    category: str | None
    rule: str | None
    priority: str  # P1..P4
    queue: str  # first-line | engineering | network | security
    reason: str
    affected_calls: int
    calls: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def main_finding(findings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The finding to act on: a cause before its symptoms (a finding that `explains` others, or that no other
    explains), then the most severe, then the most frequent rule, then the earliest."""
    problems = [f for f in findings if SEVERITY_RANK[f["severity"]] > 0]
    if not problems:
        return None
    counts: dict[str, int] = {}
    for f in problems:
        counts[f["rule"]] = counts.get(f["rule"], 0) + 1

    def key(item: tuple[int, dict[str, Any]]) -> tuple:
        index, f = item
        is_cause = bool(f.get("explains")) or f.get("cause") is None
        return (not is_cause, -SEVERITY_RANK[f["severity"]], -counts[f["rule"]], index)

    return min(enumerate(problems), key=key)[1]


def queue_for(finding: dict[str, Any]) -> tuple[str, str]:
    owner, category = finding.get("owner"), finding.get("category")
    if owner == "security" or category == "security":
        return "security", "an attack or abuse: the security team blocks and reviews it"
    if owner in ("customer", "first-line"):
        return "first-line", f"owner {owner}: an instruction to the customer or a provisioning change"
    if category in NETWORK_CATEGORIES:
        return "network", f"a {category} problem on the operator's side: the network team"
    return "engineering", f"owner {owner}: a platform or configuration change"


def lines_down(figures: dict[str, Any]) -> tuple[int, int]:
    """(the customer's lines, those down) of a summary's figures (sipdiag.cases.lines). A summary made before
    these figures has its registrations, every failed one counted as down."""
    if "lines_down" in figures:
        return figures["lines"], figures["lines_down"]
    return figures["registrations"], figures["registrations_failed"]


def triage(summary: dict[str, Any]) -> Triage:
    """Triage from a case summary (sipdiag.cases.summary.summarize)."""
    findings = summary["findings"]
    figures = summary["figures"]
    calls = figures["calls"]
    main = main_finding(findings)
    affected = {f["call_id"] for f in findings if SEVERITY_RANK[f["severity"]] > 0 and f.get("call_id")}
    priority, why = _by_findings(findings, main, calls, affected)
    lines, down = lines_down(figures)
    if down:
        by_lines, why_lines = (("P1", REGISTRATION_DOWN) if down == lines else
                               ("P2", f"registration down for {down} of {lines} lines: those make or take no call"))
        if by_lines < priority:  # "P1" < "P2": the lines down weigh more than the findings
            priority, why = by_lines, why_lines
            if main is None or main.get("call_id"):
                # Nothing found explains a phone that cannot sign in (a call's problem cannot): the registration is
                # what to act on, first line's to check with the customer.
                about = ("no finding above info" if main is None else
                         f"the main finding {main['rule']} ({main['severity']}) is a call's")
                return Triage("registration", None, priority, "first-line", f"{about}; {why} -> {priority}; queue "
                              "first-line: check the phone's account and provisioning with the customer (registrar "
                              "address, user name, password)", len(affected), calls)
    if main is None:
        return Triage(None, None, "P4", "first-line", "nothing above info was found: the capture shows no fault; "
                      "ask for a capture of a failing call, or close", 0, calls)
    queue, queue_why = queue_for(main)
    reason = (f"main cause {main['rule']} ({main['severity']}, owner {main['owner']}); {why} -> {priority}; "
              f"queue {queue}: {queue_why}")
    return Triage(main["category"], main["rule"], priority, queue, reason, len(affected), calls)


def _by_findings(findings: list[dict[str, Any]], main: dict[str, Any] | None, calls: int,
                 affected: set[str]) -> tuple[str, str]:
    """The priority the findings give, and why."""
    if main is None:
        return "P4", "nothing above info"
    rank = max(SEVERITY_RANK[f["severity"]] for f in findings)
    capture_wide = any(SEVERITY_RANK[f["severity"]] > 0 and not f.get("call_id") for f in findings)
    all_calls = capture_wide or (calls > 0 and len(affected) >= calls)
    if rank >= 3:
        return "P1", "critical finding"
    if rank == 2 and all_calls:
        return "P2", "major problem on every call" if calls else "major problem capture-wide"
    if rank == 2:
        return "P3", f"major problem on {len(affected)} of {calls} calls"
    if rank == 1 and all_calls:
        return "P3", "minor problem on every call"
    return "P4", "minor problem on some calls"
