"""The manifest of the lab's captures (``samples/pcaps/manifest.json``): entries and checks.

An entry is the scenario's description plus the facts tshark reads from its capture
(:mod:`lab.facts`); :func:`check` compares those facts with the scenario's declared ground truth
first, so the manifest never records a capture that does not show what its scenario claims.
"""

from __future__ import annotations

import json
from pathlib import Path

from .scenarios import SCENARIOS, Expect, Scenario

SCHEMA = 1
FACT_KEYS = ("messages", "calls", "registrations", "rtp", "dtmf", "fragments", "icmp", "scanner")
# Fields that differ between two runs of the same deterministic scenario (timing only).
VOLATILE_CALL_FIELDS = ("bye_after_final_s",)

CATEGORY_RULE = ("categories_present: at least one finding of the category (any severity) must be "
                 "reported for the capture; categories_absent: no finding of the category above "
                 "'info'. Categories in neither list are not judged.")


def check(expect: Expect, facts: dict) -> list[str]:
    """Differences between declared ground truth and the capture's facts (empty when they agree)."""
    problems: list[str] = []
    got_calls = {c["call_id"]: c for c in facts["calls"]}
    if len(got_calls) != len(expect.calls):
        problems.append(f"{len(got_calls)} calls in the capture, expected {len(expect.calls)}")
    for want in expect.calls:
        got = got_calls.get(want["call_id"])
        if got is None:
            problems.append(f"call {want['call_id']} not in the capture")
            continue
        problems += _diff(f"call {want['call_id']}", want, got)
    if expect.registrations is not None:
        regs = facts["registrations"]
        if len(regs) != len(expect.registrations):
            problems.append(f"{len(regs)} registrations in the capture, expected {len(expect.registrations)}")
        for want, got in zip(expect.registrations, regs, strict=False):
            problems += _diff(f"registration {got['aor']} contact {got['contact'] or '-'}", want, got)
    got_rtp = {(f["src"], f["dst"], f["payload_type"]): f for f in facts["rtp"]}
    want_rtp = {(f["src"], f["dst"], f["payload_type"]): f for f in expect.rtp}
    if set(got_rtp) != set(want_rtp):
        problems.append(f"RTP flows {sorted(got_rtp)}, expected {sorted(want_rtp)}")
    for key, want in want_rtp.items():
        got = got_rtp.get(key)
        if got is None:
            continue
        n = got["packets"]
        if "packets" in want and n != want["packets"]:
            problems.append(f"RTP {key}: {n} packets, expected {want['packets']}")
        if not want.get("min_packets", 0) <= n <= want.get("max_packets", n):
            problems.append(f"RTP {key}: {n} packets, expected {want['min_packets']}..{want['max_packets']}")
    if expect.fragments is None:
        if facts["fragments"] is not None:
            problems.append(f"unexpected IP fragments {facts['fragments']}")
    elif facts["fragments"] is None:
        problems.append("no IP fragments in the capture")
    else:
        problems += _diff("fragments", expect.fragments, facts["fragments"])
    if facts["dtmf"] != expect.dtmf:
        problems.append(f"DTMF {facts['dtmf']!r}, expected {expect.dtmf!r}")
    if facts["icmp"] != expect.icmp:
        problems.append(f"ICMP {facts['icmp']}, expected {expect.icmp}")
    if expect.scanner is None:
        if facts["scanner"] is not None:
            problems.append(f"unexpected scanner traffic {facts['scanner']}")
    elif facts["scanner"] is None:
        problems.append("no scanner traffic in the capture")
    else:
        problems += _diff("scanner", expect.scanner, facts["scanner"])
    return problems


def _diff(what: str, want: dict, got: dict) -> list[str]:
    return [f"{what}: {k} = {got.get(k)!r}, expected {v!r}" for k, v in want.items() if got.get(k) != v]


def entry(scenario: Scenario, facts: dict, file_name: str, capture_point: str) -> dict:
    """The manifest entry: description and ground truth, with figures read from the capture."""
    return {
        "file": file_name,
        "scenario": scenario.name,
        "description": scenario.description,
        "vantage": scenario.vantage,
        "capture_point": capture_point,
        "fault": scenario.fault,
        **{k: facts[k] for k in FACT_KEYS},
        "categories_present": list(scenario.expect.present),
        "categories_absent": list(scenario.expect.absent),
        "notes": scenario.notes,
    }


def comparable(facts_or_entry: dict) -> dict:
    """The facts of an entry without run-to-run timing, for comparing a regenerated capture."""
    out = {k: facts_or_entry[k] for k in FACT_KEYS}
    out["calls"] = [{k: v for k, v in c.items() if k not in VOLATILE_CALL_FIELDS} for c in out["calls"]]
    return out


def load(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"schema": SCHEMA, "captures": []}


def update(path: Path, entries: list[dict]) -> None:
    """Insert or replace entries (by scenario) and write the manifest in scenario-table order."""
    doc = load(path)
    by_name = {e["scenario"]: e for e in doc["captures"]}
    by_name.update({e["scenario"]: e for e in entries})
    order = {s.name: i for i, s in enumerate(SCENARIOS)}
    doc = {
        "schema": SCHEMA,
        "generator": "python -m lab.run (real sipp peers, netns NAT router, tcpdump); facts read with tshark",
        "category_rule": CATEGORY_RULE,
        "captures": sorted(by_name.values(), key=lambda e: order.get(e["scenario"], len(order))),
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
