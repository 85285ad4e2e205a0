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

import sipdiag
from lab import facts, manifest
from lab.scenarios import BY_NAME, CATEGORIES, SCENARIOS
from sipdiag.regress import run_suite
from tests import callcapture as cc

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


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_sipdiag_counts_the_manifest_registrations(entry):
    # one registration per binding (AOR + Contact) on both sides, in the same order
    got = [(r.aor, r.contact, r.outcome) for r in sipdiag.analyze(SAMPLES / entry["file"]).registrations]
    assert got == [(r["aor"], r["contact"], r["outcome"]) for r in entry["registrations"]]


PHONE, REGISTRAR = ("10.0.0.5", 5060), ("203.0.113.5", 5060)


def _bindings_not_call_ids(path: Path) -> Path:
    """Line 100 registered, then again with a new Call-ID (the phone rebooted): one binding. Lines 101 and 102
    sent with one Call-ID (a phone that keeps one for all its lines): two bindings, 101 accepted, 102 refused."""
    msgs = []
    for t, user, call_id, cseq, status in ((0, "100", "boot-1", 1, "200 OK"), (60, "100", "boot-2", 1, "200 OK"),
                                           (61, "101", "shared", 1, "200 OK"),
                                           (62, "102", "shared", 2, "403 Forbidden")):
        kw = {"call_id": call_id, "user": user}
        branch = f"{call_id}-{cseq}"
        msgs += [(t, cc.register_text(cseq, branch, contact=f"sip:{user}@10.0.0.5:5060", **kw), PHONE, REGISTRAR),
                 (t + 0.05, cc.register_response(cseq, branch, status, **kw), REGISTRAR, PHONE)]
    return cc.write_sip(path, msgs)


def test_a_registration_is_a_binding_for_the_lab_and_for_sipdiag(tmp_path):
    path = _bindings_not_call_ids(tmp_path / "bindings.pcap")
    found = facts.read(path)["registrations"]
    assert [(r["call_id"], r["aor"], r["contact"], r["outcome"], r["final_status"], r["requests"], r["statuses"])
            for r in found] == [
        ("boot-1", "sip:100@example.com", "sip:100@10.0.0.5:5060", "registered", 200, 2, [200, 200]),
        ("shared", "sip:101@example.com", "sip:101@10.0.0.5:5060", "registered", 200, 1, [200]),
        ("shared", "sip:102@example.com", "sip:102@10.0.0.5:5060", "failed", 403, 1, [403])]
    assert [(r.aor, r.contact, r.outcome) for r in sipdiag.analyze(path).registrations] == [
        (r["aor"], r["contact"], r["outcome"]) for r in found]
    # the manifest's registrations are what `sipdiag regress` expects of the capture: all met
    suite = tmp_path / "manifest.json"
    suite.write_text(json.dumps({"captures": [{"file": path.name, "calls": [], "registrations": found}]}))
    report = run_suite(suite)
    assert [(o.expectation, o.passed) for o in report.outcomes] == [
        ("calls == 0", True), ("outcomes []", True),
        ("registration outcomes ['registered', 'registered', 'failed']", True)]


def _tel_lines(path: Path) -> Path:
    """A phone registering two numbers as tel: URIs (RFC 3966) with one Contact, 201 accepted and 202 refused, and a
    third written without angle brackets (`To: tel:+15550203`, its tag a header parameter), accepted; then a call
    From tel:+15550201 To tel:+15550300."""
    contact = "sip:phone@10.0.0.5:5060"
    msgs = []
    for t, to, status in ((0, "<tel:+15550201>", "200 OK"), (1, "<tel:+15550202;phone-context=example.com>",
                                                              "403 Forbidden"), (2, "tel:+15550203", "200 OK")):
        kw = {"call_id": f"tel-{t}", "user": "x"}
        text = cc.register_text(1, f"t{t}", contact=contact, **kw)
        answer = cc.register_response(1, f"t{t}", status, **kw)
        msgs += [(t, text.replace("<sip:x@example.com>", to), PHONE, REGISTRAR),
                 (t + 0.05, answer.replace("<sip:x@example.com>", to), REGISTRAR, PHONE)]
    invite = cc.sip_message("INVITE sip:+15550300@example.com SIP/2.0", "tel-call", "1 INVITE", src=PHONE,
                            to_tag=False, body=cc.SDP.format(ip=PHONE[0], port=40000))
    invite = invite.replace("<sip:100@example.com>", "<tel:+15550201>").replace("<sip:200@example.com>",
                                                                                "<tel:+15550300>")
    return cc.write_sip(path, msgs + [(3.0, invite, PHONE, REGISTRAR)])


def test_tel_uris_are_the_aors_and_parties_as_written(tmp_path):
    # tshark gives a tel: URI no user or host: read from them, every tel: line was "sip:None@None", and two lines
    # with one Contact one binding; the AOR is the tel: URI with its parameters, as sipdiag keeps it
    path = _tel_lines(tmp_path / "tel.pcap")
    found = facts.read(path)
    assert [(r["aor"], r["contact"], r["outcome"], r["final_status"]) for r in found["registrations"]] == [
        ("tel:+15550201", "sip:phone@10.0.0.5:5060", "registered", 200),
        ("tel:+15550202;phone-context=example.com", "sip:phone@10.0.0.5:5060", "failed", 403),
        ("tel:+15550203", "sip:phone@10.0.0.5:5060", "registered", 200)]
    assert [(r.aor, r.contact, r.outcome) for r in sipdiag.analyze(path).registrations] == [
        (r["aor"], r["contact"], r["outcome"]) for r in found["registrations"]]
    # a call's parties: the number of a tel: URI, as the user part of a sip: one
    assert [(c["caller"], c["callee"]) for c in found["calls"]] == [("+15550201", "+15550300")]


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


CYBERCITY = [("sip:voi18063@sip.cybercity.dk", "failed"), ("sip:voi18062@sip.cybercity.dk", "failed"),
             ("sip:35104723@sip.cybercity.dk", "registered")]


# the challenged REGISTERs lack the ;line= their credentialed retries carry: one binding per line (§19.1.4)
@pytest.mark.parametrize("capture", ["wireshark-wiki/aaa.pcap", "zeek/wireshark.pcap"])
def test_the_lab_and_sipdiag_count_corpus_bindings_alike(corpus, capture):
    found = facts.read(corpus / "pcaps" / capture)["registrations"]
    assert [(r["aor"], r["outcome"]) for r in found] == CYBERCITY
    assert [(r.aor, r.contact, r.outcome) for r in sipdiag.analyze(corpus / "pcaps" / capture).registrations] == [
        (r["aor"], r["contact"], r["outcome"]) for r in found]
