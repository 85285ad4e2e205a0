"""Every committed lab capture shows, read by tshark, exactly what samples/pcaps/manifest.json claims.

Two independent readings, neither using sipdiag: the lab's tshark fact reader (lab/facts.py: SIP
messages, calls, registrations, RTP flows, DTMF, fragments, ICMP, scanner), and tshark's own
statistics taps (``-z sip,stat``, ``-z rtp,streams``, ``-z io,stat``) counted here. The manifest's
ground truth is also checked against the scenario table (lab/scenarios.py) it was made from.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from lab import facts, manifest
from lab.scenarios import BY_NAME, CATEGORIES, SCENARIOS

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "pcaps"
MANIFEST = SAMPLES / "manifest.json"

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None,
                       reason="tshark not installed (Debian package tshark, see requirements-apt.txt)"),
]

DOC = json.loads(MANIFEST.read_text())
ENTRIES = DOC["captures"]
IDS = [e["scenario"] for e in ENTRIES]
# "a few hundred KB in all"; the two one-way audio captures hold 16.5 s of G.711 each (about 575 KB of it):
# media.one-way-audio is major only after 15 s of one-way audio (RULES.md media.one-way-audio).
SAMPLES_BUDGET_BYTES = 1_000_000


def test_manifest_has_one_capture_per_scenario_and_nothing_else():
    assert DOC["schema"] == 1
    assert IDS == [s.name for s in SCENARIOS]
    assert [e["file"] for e in ENTRIES] == [f"{s.name}.pcap" for s in SCENARIOS]
    on_disk = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))
    assert on_disk == sorted(e["file"] for e in ENTRIES)
    total = sum((SAMPLES / e["file"]).stat().st_size for e in ENTRIES)
    assert total < SAMPLES_BUDGET_BYTES, f"samples/pcaps holds {total} bytes"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_tshark_reads_exactly_the_manifest_facts(entry):
    found = facts.read(SAMPLES / entry["file"])
    for key in manifest.FACT_KEYS:
        assert found[key] == entry[key], key


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_manifest_agrees_with_the_scenario_table(entry):
    scenario = BY_NAME[entry["scenario"]]
    assert manifest.check(scenario.expect, entry) == []
    assert entry["vantage"] == scenario.vantage
    assert entry["categories_present"] == list(scenario.expect.present)
    assert entry["categories_absent"] == list(scenario.expect.absent)
    assert set(entry["categories_present"]) | set(entry["categories_absent"]) <= set(CATEGORIES)
    for call in entry["calls"]:
        assert call["outcome"] in ("answered", "busy", "cancelled", "rejected", "timeout", "in-progress")
    for reg in entry["registrations"]:
        assert reg["outcome"] in ("registered", "failed", "unanswered")


def _tshark_stats(pcap) -> str:
    argv = ["tshark", "-n", "-q", "-r", str(pcap), "-o", "rtp.heuristic_rtp:TRUE", "-z", "sip,stat",
            "-z", "rtp,streams",
            "-z", "io,stat,0,ip.flags.mf==1 || ip.frag_offset>0,ip.flags.mf==1 && ip.frag_offset==0"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _parse_sip_stat(text: str) -> tuple[Counter, Counter]:
    statuses, methods = Counter(), Counter()
    section = text[text.index("SIP Statistics"):]
    for code, n in re.findall(r"^\s+SIP (\d{3}) .*?:\s+(\d+) Packets", section, re.M):
        statuses[int(code)] += int(n)
    methods_part = section[section.index("List of SIP Request methods"):]
    for method, n in re.findall(r"^\s+([A-Z]+)\s+:\s+(\d+) Packets", methods_part, re.M):
        methods[method] += int(n)
    return statuses, methods


STREAM_LINE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x[0-9A-Fa-f]+\s+"
                         r".+?\s+(\d+)\s+(-?\d+) \(", re.M)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_tshark_statistics_taps_agree_with_the_manifest(entry):
    text = _tshark_stats(SAMPLES / entry["file"])
    # SIP: requests per method and responses per status code, retransmissions included.
    statuses, methods = _parse_sip_stat(text)
    want_statuses = Counter()
    for key, n in entry["messages"]["responses"].items():
        want_statuses[int(key.split()[0])] += n
    assert statuses == want_statuses
    assert methods == Counter(entry["messages"]["requests"])
    # RTP: one tshark stream per direction (src -> dst), its packets and the loss in its sequence.
    streams = {(f"{s}:{sp}", f"{d}:{dp}"): (int(n), int(lost))
               for s, sp, d, dp, n, lost in STREAM_LINE.findall(text)}
    by_direction = defaultdict(list)
    for flow in entry["rtp"]:
        by_direction[(flow["src"], flow["dst"])].append(flow)
    want = {}
    for key, flows in by_direction.items():
        packets = sum(f["packets"] for f in flows)
        span = max(f["last_seq"] for f in flows) - min(f["first_seq"] for f in flows) + 1
        want[key] = (packets, span - packets)
    assert streams == want
    # IP fragments: all fragments, and first fragments (offset 0 with More Fragments set).
    row = re.findall(r"^\|\s+[\d.]+ <> [\d.]+ \|\s+(\d+) \|\s+\d+ \|\s+(\d+) \|", text, re.M)
    all_frags, first_frags = (int(x) for x in row[-1]) if row else (0, 0)
    frag = entry["fragments"]
    assert (all_frags, first_frags) == ((frag["fragments"], frag["first_fragments"]) if frag else (0, 0))
