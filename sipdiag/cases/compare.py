"""The closed loop: a second capture after the fix, compared with the ticket's last analysis.

Problems are compared by rule and title, as the reply groups them (sipdiag.reports.problemkeys: and by final status
for call.failure-response), not by call: a capture after the fix has other calls, other Call-IDs and frames. A
title that names a figure keeps apart what differs by it: call.ack-timeout-32s "torn down about 64 s after answer"
(a UAS at T1 = 1 s) gone while "about 32 s" remains is one problem resolved and one persisting, not one rule
persisting under either title. A problem is a finding at or above the verification's threshold (`--fail-on`, major
by default): one found before and not now is resolved (it may still be seen below the threshold: a private SDP
address that the SBC now latches is minor, no longer major, and `severity_after` shows it); one found still
persists; one that did not exist before is new. The call and quality figures are shown side by side. The findings
on an attacker's calls are left to the attack's own rule (see _by_problem).

The customer's lines are compared too, line by line (sipdiag.cases.lines): a line that could not sign in before and
still cannot persists, whether or not a finding names why (credentials refused once is no finding above info, and a
comparison by findings alone passed it); one down before and signed in now is resolved; one down now that was not
before is new. A line down is a problem whatever `--fail-on` says: the phone makes and takes no call.

A problem is unverified when the second capture holds nothing its rule could find it in: packet loss is not
"resolved" by a capture without an answered call with media, nor a registration failure by one without a
REGISTER (nor a line down by one where that line does not sign in, or only starts to). The verification then does
not pass (the ticket is not closed on it) but does not fail either: nothing persisted, the capture was the wrong
one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..checks.causes import ATTACKS
from ..reports.problemkeys import problem_key
from .lines import DOWN, UP
from .triage import SEVERITY_RANK

FIGURES = ("calls", "answered", "one_way_calls", "no_rtp_calls", "mos_mean", "mos_min", "loss_pct_max",
           "registrations", "registrations_failed", "lines", "lines_down")


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One problem (a rule's findings of one title, and of one final status for problemkeys.SPLIT_BY_STATUS) in
    the two captures: a rule whose findings have several titles makes as many changes."""

    rule: str
    title: str  # the problem's (the English one, as the filing's records keep it)
    severity_before: str | None
    severity_after: str | None
    count_before: int  # the findings of this rule and title (and status)
    count_after: int
    customer_text: dict[str, str]  # of the earlier finding for resolved ones, of the current otherwise
    category: str = ""  # the rule's (registration, media, ...); "" in a summary whose records have none
    status: int | None = None  # the final status the problem is of (SPLIT_BY_STATUS), else None


@dataclass(frozen=True, slots=True)
class LineChange:
    """A line of the customer's (an AOR its phones register) down in one of the two captures."""

    line: str | None  # the AOR; None where a summary made before line states were kept gives only counts
    before: str  # up, down, pending (a sign-in under way when the capture ended, or a sign-out only), absent
    after: str


ABSENT = "absent"  # the line does not register in that capture


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

_ANSWERED = ((("answered",),), {"en": "answered call", "ru": "отвеченного звонка"})

# Rules whose problem only an answered call can show, whatever their category asks: an ACK for a 2xx (RFC 3261
# 13.3.1.4), an in-dialog request, a re-INVITE or a session refresh (RFC 4028) exist only in an established dialog,
# and an RTP payload or clock only with audio. A busy or cancelled call "resolved" them.
RULE_EVIDENCE: dict[str, tuple[tuple[tuple[str, ...], ...], dict[str, str]]] = {
    "call.ack-timeout-32s": _ANSWERED,
    "call.in-dialog-request-misrouted": _ANSWERED,
    "call.media-timeout-or-hung": _ANSWERED,
    "call.reinvite-failed": _ANSWERED,
    "call.session-timer-expiry": _ANSWERED,
    "codec.rtp-payload-not-negotiated": EVIDENCE["media"],
    "codec.timestamp-clock-mismatch": EVIDENCE["media"],
}


@dataclass(frozen=True, slots=True)
class Comparison:
    resolved: tuple[RuleChange, ...]
    persisting: tuple[RuleChange, ...]
    new: tuple[RuleChange, ...]
    figures: dict[str, tuple[Any, Any]]  # name -> (before, after)
    unverified: tuple[RuleChange, ...] = ()  # earlier problems the second capture cannot show (see EVIDENCE)
    missing: dict[str, str] = field(default_factory=dict)  # by language: what the second capture lacks
    # The customer's lines down before or after (see the module's docstring): signed in now, still down, down now
    # only, and down before but not shown signing in by the second capture.
    lines_resolved: tuple[LineChange, ...] = ()
    lines_persisting: tuple[LineChange, ...] = ()
    lines_new: tuple[LineChange, ...] = ()
    lines_unverified: tuple[LineChange, ...] = ()

    @property
    def passed(self) -> bool:
        """Every earlier problem resolved (shown so by the second capture), nothing new at or above the threshold,
        and no line of the customer's down."""
        return self.outcome == "resolved"

    @property
    def outcome(self) -> str:
        """resolved, not-resolved (a problem persists or a new one appeared, a line is down) or not-verified
        (nothing persists, but the second capture cannot show every earlier problem gone)."""
        if self.persisting or self.new or self.lines_persisting or self.lines_new:
            return "not-resolved"
        return "not-verified" if self.unverified or self.lines_unverified else "resolved"

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "resolved": [asdict(c) for c in self.resolved],
                "persisting": [asdict(c) for c in self.persisting], "new": [asdict(c) for c in self.new],
                "unverified": [asdict(c) for c in self.unverified], "missing": self.missing,
                "figures": {k: {"before": b, "after": a} for k, (b, a) in self.figures.items()},
                "lines": {"resolved": [asdict(c) for c in self.lines_resolved],
                          "persisting": [asdict(c) for c in self.lines_persisting],
                          "new": [asdict(c) for c in self.lines_new],
                          "unverified": [asdict(c) for c in self.lines_unverified]}}


Key = tuple[str, Any, str]  # problemkeys.problem_key: rule, status (SPLIT_BY_STATUS) or None, title


def _by_problem(summary: dict[str, Any]) -> dict[Key, list[dict[str, Any]]]:
    """The findings by problem (problemkeys.problem_key: rule, status, title), without those an attack explains:
    the failed calls, odd SDP and missing audio of the calls an attacker placed (their `cause` is a security
    finding, sipdiag.checks.causes) are the attack's, as in the customer's reply. While the attack goes on they
    would otherwise read as the customer's problems persisting, and as new ones where the attacker's calls took
    other paths; the attack itself is compared by its own rule."""
    findings = summary["findings"]
    out: dict[Key, list[dict[str, Any]]] = {}
    for f in findings:
        cause = f.get("cause")  # positions in the same list (reports.json.finding_record); absent in old cases
        if isinstance(cause, int) and 0 <= cause < len(findings) and findings[cause]["rule"] in ATTACKS:
            continue
        out.setdefault(problem_key(f["rule"], f.get("evidence") or {}, f["title"]), []).append(f)
    return out


def threshold_rank(fail_on: str) -> int:
    """The rank from which a finding is a problem; 'never' still compares problems from minor up."""
    return SEVERITY_RANK.get(fail_on, 1) if fail_on != "never" else 1


def _worst(items: list[dict[str, Any]]) -> dict[str, Any]:
    return max(items, key=lambda f: SEVERITY_RANK[f["severity"]])


def compare(before: dict[str, Any], after: dict[str, Any], fail_on: str = "major") -> Comparison:
    rank = threshold_rank(fail_on)
    b, a = _by_problem(before), _by_problem(after)

    def problem(items: list[dict[str, Any]]) -> bool:
        return any(SEVERITY_RANK[f["severity"]] >= rank for f in items)

    def change(key: Key) -> RuleChange:
        rule, status, title = key
        fb, fa = b.get(key, []), a.get(key, [])
        shown = _worst(fa if problem(fa) else fb or fa)
        return RuleChange(rule, title, _worst(fb)["severity"] if fb else None,
                          _worst(fa)["severity"] if fa else None, len(fb), len(fa), shown["customer_text"],
                          shown.get("category", ""), status)

    earlier = [k for k, items in b.items() if problem(items)]
    gone = [k for k in earlier if not problem(a.get(k, []))]
    missing = {k: words for k in gone if (words := _missing(k[0], b[k][0].get("category", ""), after["figures"]))}
    lines = _lines(before, after)
    words = list(missing.values()) + ([EVIDENCE["registration"][1]] if lines[UNVERIFIED] else [])
    lacked = list({tuple(w.items()): w for w in words}.values())  # each kind once, in rule order
    return Comparison(
        resolved=tuple(change(k) for k in gone if k not in missing),
        persisting=tuple(change(k) for k in earlier if problem(a.get(k, []))),
        new=tuple(change(k) for k, items in a.items() if problem(items) and k not in earlier),
        figures={k: (before["figures"].get(k), after["figures"].get(k)) for k in FIGURES},
        unverified=tuple(change(k) for k in gone if k in missing),
        missing={lang: ", ".join(w[lang] for w in lacked) for lang in lacked[0]} if lacked else {},
        lines_resolved=lines[RESOLVED], lines_persisting=lines[PERSISTING], lines_new=lines[NEW],
        lines_unverified=lines[UNVERIFIED],
    )


RESOLVED, PERSISTING, NEW, UNVERIFIED = range(4)


def _lines(before: dict[str, Any], after: dict[str, Any]) -> tuple[tuple[LineChange, ...], ...]:
    """The lines down in either capture, by what became of them (indexed RESOLVED, PERSISTING, NEW, UNVERIFIED).
    Line by line where both summaries name their lines' states. Else (a filing made before they were kept) by the
    counts of lines down, one change with no line named for each kind that applies; a summary older than those
    counts (its failed registrations were no lines down: a sign-in cut short by the capture's end failed too) is
    compared by its findings alone, as it was."""
    out: tuple[list[LineChange], ...] = ([], [], [], [])
    sb, sa = before.get("line_states"), after.get("line_states")
    if isinstance(sb, dict) and isinstance(sa, dict):
        for line, was in sb.items():
            if was == DOWN:
                now = sa.get(line, ABSENT)
                kind = PERSISTING if now == DOWN else RESOLVED if now == UP else UNVERIFIED
                out[kind].append(LineChange(line, was, now))
        for line, now in sa.items():
            if now == DOWN and sb.get(line) != DOWN:
                out[NEW].append(LineChange(line, sb.get(line, ABSENT), now))
    elif "lines_down" in before["figures"] and "lines_down" in after["figures"]:
        down_before, down_after = before["figures"]["lines_down"], after["figures"]["lines_down"]
        up_after = (sum(1 for s in sa.values() if s == UP) if isinstance(sa, dict)
                    else after["figures"]["lines"] - down_after)
        if down_before and down_after:
            out[PERSISTING].append(LineChange(None, DOWN, DOWN))
        elif down_before:
            out[RESOLVED if up_after else UNVERIFIED].append(LineChange(None, DOWN, UP if up_after else ABSENT))
        elif down_after:
            out[NEW].append(LineChange(None, ABSENT, DOWN))
    return tuple(tuple(x) for x in out)


def _missing(rule: str, category: str, figures: dict[str, Any]) -> dict[str, str] | None:
    """What the capture lacks for `rule` (of `category`) to find its problem (by language), or None."""
    evidence = RULE_EVIDENCE.get(rule) or EVIDENCE.get(category)
    if evidence is None:
        return None
    alternatives, words = evidence
    return None if any(all(figures.get(n) for n in needs) for needs in alternatives) else words
