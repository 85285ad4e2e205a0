"""The closed loop: a second capture after the fix, compared with the ticket's last analysis.

Problems are compared by rule (a capture after the fix has other calls, other Call-IDs and frames). A problem is a
finding at or above the verification's threshold (`--fail-on`, major by default): a rule that found a problem before
and finds none now is resolved (it may still be seen below the threshold: a private SDP address that the SBC now
latches is minor, no longer major, and `severity_after` shows it); one that still does persists; a problem that did
not exist before is new. The call and quality figures are shown side by side. The findings on an attacker's calls
are left to the attack's own rule (see _by_rule).

A problem is unverified when the second capture holds nothing its rule could find it in: packet loss is not
"resolved" by a capture without an answered call with media, nor a registration failure by one without a
REGISTER. The verification then does not pass (the ticket is not closed on it) but does not fail either: nothing
persisted, the capture was the wrong one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..checks.causes import ATTACKS
from .triage import SEVERITY_RANK

FIGURES = ("calls", "answered", "one_way_calls", "no_rtp_calls", "mos_mean", "mos_min", "loss_pct_max",
           "registrations", "registrations_failed")


@dataclass(frozen=True, slots=True)
class RuleChange:
    rule: str
    title: str
    severity_before: str | None
    severity_after: str | None
    count_before: int
    count_after: int
    customer_text: dict[str, str]  # of the earlier finding for resolved ones, of the current otherwise


# What a capture must hold for a rule of each category to find its problem again: one of the alternatives, each
# a set of figures (cases.summary) that must all be non-zero, and what to call it in the customer's language.
# Security has none: a quiet capture is an answer too.
EVIDENCE: dict[str, tuple[tuple[tuple[str, ...], ...], dict[str, str]]] = {
    "media": ((("answered", "streams"),), {"en": "answered call with audio", "ru": "отвеченного звонка со звуком"}),
    "signaling": ((("calls",),), {"en": "call", "ru": "звонка"}),
    "codec": ((("calls",),), {"en": "call", "ru": "звонка"}),
    "registration": ((("registrations",),), {"en": "registration of the phone", "ru": "регистрации телефона"}),
    "nat": ((("calls",), ("registrations",)), {"en": "call or registration", "ru": "звонка или регистрации"}),
    "router": ((("calls",), ("registrations",)), {"en": "call or registration", "ru": "звонка или регистрации"}),
}


@dataclass(frozen=True, slots=True)
class Comparison:
    resolved: tuple[RuleChange, ...]
    persisting: tuple[RuleChange, ...]
    new: tuple[RuleChange, ...]
    figures: dict[str, tuple[Any, Any]]  # name -> (before, after)
    unverified: tuple[RuleChange, ...] = ()  # earlier problems the second capture cannot show (see EVIDENCE)
    missing: dict[str, str] = field(default_factory=dict)  # by language: what the second capture lacks

    @property
    def passed(self) -> bool:
        """Every earlier problem resolved (shown so by the second capture) and nothing new at or above the
        threshold."""
        return not self.persisting and not self.new and not self.unverified

    @property
    def outcome(self) -> str:
        """resolved, not-resolved (a problem persists or a new one appeared) or not-verified (nothing persists,
        but the second capture cannot show every earlier problem gone)."""
        if self.persisting or self.new:
            return "not-resolved"
        return "not-verified" if self.unverified else "resolved"

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "resolved": [asdict(c) for c in self.resolved],
                "persisting": [asdict(c) for c in self.persisting], "new": [asdict(c) for c in self.new],
                "unverified": [asdict(c) for c in self.unverified], "missing": self.missing,
                "figures": {k: {"before": b, "after": a} for k, (b, a) in self.figures.items()}}


def _by_rule(summary: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The findings by rule, without those an attack explains: the failed calls, odd SDP and missing audio of the
    calls an attacker placed (their `cause` is a security finding, sipdiag.checks.causes) are the attack's, as in
    the customer's reply. While the attack goes on they would otherwise read as the customer's problems persisting,
    and as new ones where the attacker's calls took other paths; the attack itself is compared by its own rule."""
    findings = summary["findings"]
    out: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        cause = f.get("cause")  # positions in the same list (reports.json.finding_record); absent in old cases
        if isinstance(cause, int) and 0 <= cause < len(findings) and findings[cause]["rule"] in ATTACKS:
            continue
        out.setdefault(f["rule"], []).append(f)
    return out


def threshold_rank(fail_on: str) -> int:
    """The rank from which a finding is a problem; 'never' still compares problems from minor up."""
    return SEVERITY_RANK.get(fail_on, 1) if fail_on != "never" else 1


def _worst(items: list[dict[str, Any]]) -> dict[str, Any]:
    return max(items, key=lambda f: SEVERITY_RANK[f["severity"]])


def compare(before: dict[str, Any], after: dict[str, Any], fail_on: str = "major") -> Comparison:
    rank = threshold_rank(fail_on)
    b, a = _by_rule(before), _by_rule(after)

    def problem(items: list[dict[str, Any]]) -> bool:
        return any(SEVERITY_RANK[f["severity"]] >= rank for f in items)

    def change(rule: str) -> RuleChange:
        fb, fa = b.get(rule, []), a.get(rule, [])
        shown = _worst(fa if problem(fa) else fb or fa)
        return RuleChange(rule, shown["title"], _worst(fb)["severity"] if fb else None,
                          _worst(fa)["severity"] if fa else None, len(fb), len(fa), shown["customer_text"])

    earlier = [r for r, items in b.items() if problem(items)]
    gone = [r for r in earlier if not problem(a.get(r, []))]
    missing = {r: words for r in gone if (words := _missing(b[r][0].get("category", ""), after["figures"]))}
    lacked = list({tuple(w.items()): w for w in missing.values()}.values())  # each kind once, in rule order
    return Comparison(
        resolved=tuple(change(r) for r in gone if r not in missing),
        persisting=tuple(change(r) for r in earlier if problem(a.get(r, []))),
        new=tuple(change(r) for r, items in a.items() if problem(items) and r not in earlier),
        figures={k: (before["figures"].get(k), after["figures"].get(k)) for k in FIGURES},
        unverified=tuple(change(r) for r in gone if r in missing),
        missing={lang: ", ".join(w[lang] for w in lacked) for lang in lacked[0]} if lacked else {},
    )


def _missing(category: str, figures: dict[str, Any]) -> dict[str, str] | None:
    """What the capture lacks for a rule of `category` to find its problem (by language), or None."""
    if category not in EVIDENCE:
        return None
    alternatives, words = EVIDENCE[category]
    return None if any(all(figures.get(n) for n in needs) for needs in alternatives) else words
