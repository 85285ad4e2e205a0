"""What makes findings one problem: the rule, the final status for the rules that split by it, and the title. The
reply groups a capture's findings so (sipdiag.reports.reply.group_problems), and a verification compares two
captures' problems so (sipdiag.cases.compare): told under one title, the calls of another would be given its
figures, and a verification would call a 64 s teardown persisting when only the 32 s one remains."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Rules whose customer text means something else for each final status (RFC 3261 §21: a 403 is the account, a 480
# the callee): one problem per status, so that "This happened in 3 of the 4 calls" is not said of a 403's text when
# one of the three was a 480.
SPLIT_BY_STATUS = ("call.failure-response",)


def problem_key(rule: str, evidence: Mapping[str, Any], title: str) -> tuple[str, Any, str]:
    """What one problem's findings share: the rule, the final status (SPLIT_BY_STATUS, else None) and the title. A
    title that names a figure of the finding differs with it (call.ack-timeout-32s: "about 32 s" under one T1, "about
    64 s" under another, 64*T1 of each call's UAS; reg.auth-loop: a loop or a refusal), and so do its texts."""
    return rule, evidence.get("status") if rule in SPLIT_BY_STATUS else None, title
