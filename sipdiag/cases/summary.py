"""What a case keeps of an analysis: its findings as records, the figures a verification compares, the facts of
the capture. Small and plain (JSON), so that a ticket's history never depends on re-reading the capture."""

from __future__ import annotations

from collections import Counter
from statistics import mean
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..analysis import Analysis


def summarize(a: Analysis) -> dict[str, Any]:
    from ..checks.security import customer_registrations
    from ..checks.settings import analysed_under
    from ..reports.json import finding_record, iso_time
    from .lines import DOWN, line_states

    outcomes = Counter(c.outcome for c in a.calls)
    verdicts = Counter(m.verdict.verdict for m in a.media)
    mos = [s.quality.mos for s in a.streams if s.quality is not None]
    loss = [s.stats.loss_pct for s in a.streams if s.stats.packets]
    # The customer's registrations, as the registration rules and the reply count them: a scanner's or a password
    # guesser's REGISTERs are the attack's finding, not the customer's phone failing to sign in. Counted with them,
    # a scan whose REGISTERs all fail made triage's "registration down" (P1) of a capture with one minor finding,
    # and let a scan pass for the registration a verification needs to find a registration problem again
    # (compare.EVIDENCE). The batch, regress and verification figures of these names mean this too.
    # Counted under the thresholds the analysis was made under (a --config file's, Analysis.settings): which
    # REGISTERs are an attacker's depends on the brute-force and scan triggers, and the figures must count as the
    # findings did. `lines`/`lines_down`: the customer's AORs and those that cannot sign in (sipdiag.cases.lines),
    # what triage calls a registration down; a refused sign-out or a sign-in cut short by the capture's end is not.
    # `line_states`: each line's state (up, down, pending), which a verification compares line by line.
    with analysed_under(a):
        own = customer_registrations(a)
        lines = line_states(a)
    return {
        "capture": {"file": a.capture.file, "packets": a.capture.packets, "first_time": iso_time(a.capture.first_ts_ns),
                    "duration_s": None if a.capture.duration_s is None else round(a.capture.duration_s, 3)},
        "figures": {
            "calls": len(a.calls),
            "outcomes": dict(sorted(outcomes.items())),
            "answered": outcomes.get("answered", 0),
            "one_way_calls": verdicts.get("one-way", 0),
            "no_rtp_calls": verdicts.get("no-rtp", 0),
            "streams": len(a.streams),
            "mos_mean": round(mean(mos), 2) if mos else None,
            "mos_min": round(min(mos), 2) if mos else None,
            "loss_pct_max": round(max(loss), 3) if loss else None,
            "registrations": len(own),
            "registrations_failed": sum(1 for r in own if not r.accepted),
            "lines": len(lines),
            "lines_down": sum(1 for s in lines.values() if s == DOWN),
        },
        "findings": [finding_record(f) for f in a.findings],
        "line_states": lines,
    }
