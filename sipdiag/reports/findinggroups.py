"""Findings in the order a report shows them: causes first, each followed by the symptoms it explains.

RULES.md §2: rules emit symptoms (media.one-way-audio, call.ack-timeout-32s) and causes (alg.*, nat.*, router.*);
the correlator links them, the report leads with the cause and attaches its symptoms. The link lives on the
finding as `cause` (on a symptom) and `explains` (on a cause). Until a run carries those links, or for findings
without them, the engine's order (worst first) stands.

A link may name the other finding by its index in `Analysis.findings`, by a rule id (the finding of that rule on
the same call, else anywhere), or be the other `Finding` (or a record with `rule` and `call_id`): all are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FindingEntry:
    """One finding as listed: its index in the findings given, the causes it is explained by, the symptoms it
    explains (indexes, in that list's order)."""

    index: int
    finding: Any
    explained_by: tuple[int, ...]
    explains: tuple[int, ...]


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "" or value == ():
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _resolve(ref: Any, findings: Sequence[Any], near: Any) -> int | None:
    """The index of the finding `ref` names (see the module docstring), None when it names none of them."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref if 0 <= ref < len(findings) else None
    for i, f in enumerate(findings):
        if f is ref:
            return i
    if isinstance(ref, str):
        rule, call_id = ref, getattr(near, "call_id", None)
    elif isinstance(ref, dict):
        rule, call_id = ref.get("rule"), ref.get("call_id", getattr(near, "call_id", None))
    else:
        rule, call_id = getattr(ref, "rule", None), getattr(ref, "call_id", getattr(near, "call_id", None))
    if not isinstance(rule, str):
        return None
    same_rule = [i for i, f in enumerate(findings) if f.rule == rule and f is not near]
    on_call = [i for i in same_rule if findings[i].call_id == call_id]
    return (on_call or same_rule or [None])[0]


def ordered_findings(findings: Sequence[Any]) -> list[FindingEntry]:
    """Every finding once: each cause (in the given order), straight after it the symptoms it explains, then
    the findings that neither explain nor are explained. A symptom with several causes follows the first."""
    explains: dict[int, list[int]] = {i: [] for i in range(len(findings))}
    explained_by: dict[int, list[int]] = {i: [] for i in range(len(findings))}

    def link(cause: int | None, symptom: int | None) -> None:
        if cause is None or symptom is None or cause == symptom:
            return
        if symptom not in explains[cause]:
            explains[cause].append(symptom)
        if cause not in explained_by[symptom]:
            explained_by[symptom].append(cause)

    for i, f in enumerate(findings):
        for ref in _as_list(getattr(f, "explains", None)):
            link(i, _resolve(ref, findings, f))
        for ref in _as_list(getattr(f, "cause", None)):
            link(_resolve(ref, findings, f), i)

    order: list[int] = []
    placed: set[int] = set()

    def place(i: int) -> None:
        if i not in placed:
            placed.add(i)
            order.append(i)

    causes = [i for i in range(len(findings)) if explains[i] and not explained_by[i]]
    causes += [i for i in range(len(findings)) if explains[i] and explained_by[i]]  # a cause of a cause: later
    for i in causes:
        place(i)
        for s in sorted(explains[i]):
            place(s)
    for i in range(len(findings)):
        place(i)
    return [FindingEntry(i, findings[i], tuple(explained_by[i]), tuple(sorted(explains[i]))) for i in order]

