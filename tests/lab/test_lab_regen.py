"""The lab itself works: it rebuilds a few scenarios end to end and their captures show, read by
tshark, the same ground truth as the committed samples.

Needs root, iproute2, iptables, nft, tcpdump, sipp, tshark and ethtool, and a kernel that lets
us create network namespaces; skips with the reason otherwise. About 70 s (the fragmented INVITE
lasts 64*T1 = 32 s by RFC 3261 §17.1.1.2, the one-way audio call 17 s).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lab import manifest, run
from lab.scenarios import BY_NAME, CI_SCENARIOS

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "pcaps"
MANIFEST = SAMPLES / "manifest.json"


WHY_NOT = run.why_not_runnable()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")]

COMMITTED = {e["scenario"]: e for e in json.loads(MANIFEST.read_text())["captures"]}


def _our_namespaces() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in listed.splitlines() if line.startswith(f"sdlab-{os.getpid()}-")]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    entries = {name: run.run_scenario(BY_NAME[name], out) for name in CI_SCENARIOS}
    return out, entries


@pytest.mark.parametrize("name", CI_SCENARIOS)
def test_rebuilt_capture_shows_the_committed_ground_truth(regenerated, name):
    out, entries = regenerated
    new, old = entries[name], COMMITTED[name]
    assert (out / f"{name}.pcap").stat().st_size > 0
    assert manifest.comparable(new) == manifest.comparable(old)
    for new_call, old_call in zip(new["calls"], old["calls"], strict=True):
        if old_call["bye_after_final_s"] is None:
            assert new_call["bye_after_final_s"] is None
        else:
            assert abs(new_call["bye_after_final_s"] - old_call["bye_after_final_s"]) <= 0.3


def test_lab_tears_everything_down(regenerated):
    assert _our_namespaces() == []
