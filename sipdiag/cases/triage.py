"""Triage of a filing: the main cause, a priority P1-P4 and the queue that must act, with the reason in words.

Priority from severity and reach (ITIL's impact x urgency, as support desks use it): a registration that is down or a
problem on every call is wide; one call of many is narrow.

    critical, or registrations down                      -> P1
    major on all calls (or capture-wide)                 -> P2
    major on some calls, or minor on all calls           -> P3
    anything else (minor on some calls, info, nothing)   -> P4

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


@dataclass(frozen=True, slots=True)
class Triage:
    category: str | None  # of the main cause; None when nothing above info was found
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


def triage(summary: dict[str, Any]) -> Triage:
    """Triage from a case summary (sipdiag.cases.summary.summarize)."""
    findings = summary["findings"]
    figures = summary["figures"]
    calls = figures["calls"]
    main = main_finding(findings)
    if main is None:
        return Triage(None, None, "P4", "first-line", "nothing above info was found: the capture shows no fault; "
                      "ask for a capture of a failing call, or close", 0, calls)
    rank = max(SEVERITY_RANK[f["severity"]] for f in findings)
    affected = {f["call_id"] for f in findings if SEVERITY_RANK[f["severity"]] > 0 and f.get("call_id")}
    capture_wide = any(SEVERITY_RANK[f["severity"]] > 0 and not f.get("call_id") for f in findings)
    all_calls = capture_wide or (calls > 0 and len(affected) >= calls)
    registrations_down = figures["registrations"] > 0 and figures["registrations_failed"] == figures["registrations"]
    if rank >= 3 or registrations_down:
        priority = "P1"
        why = "critical finding" if rank >= 3 else "registration down: the customer can make or take no call"
    elif rank == 2 and all_calls:
        priority, why = "P2", "major problem on every call" if calls else "major problem capture-wide"
    elif rank == 2 or (rank == 1 and all_calls):
        priority = "P3"
        why = f"major problem on {len(affected)} of {calls} calls" if rank == 2 else "minor problem on every call"
    else:
        priority, why = "P4", "minor problem on some calls"
    queue, queue_why = queue_for(main)
    reason = (f"main cause {main['rule']} ({main['severity']}, owner {main['owner']}); {why} -> {priority}; "
              f"queue {queue}: {queue_why}")
    return Triage(main["category"], main["rule"], priority, queue, reason, len(affected), calls)
