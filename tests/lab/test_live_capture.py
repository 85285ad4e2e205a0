"""Live capture in the lab (issue 10): `sipdiag capture` records a lab scenario on the vantage interface while the
sipp peers run, and the analysis it prints equals the scenario's ground truth in the manifest; sipp on loopback
mirrored as HEPv3 (a small sender in the test, like heplify) to `sipdiag watch --hep-listen` gives the calls sipp
made.

Needs root, iproute2, iptables, nft, tcpdump, sipp, tshark and ethtool (the lab's requirements); skips with the
reason otherwise. About 30 s.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from lab import run
from lab.scenarios import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "pcaps"
COMMITTED = {e["scenario"]: e for e in json.loads((SAMPLES / "manifest.json").read_text())["captures"]}
sys.path.insert(0, str(ROOT))
from tests.live.hep import free_udp_port, hep3  # noqa: E402


WHY_NOT = run.why_not_runnable()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")]


def _recorder(report: Path, command: list[str], ready: str):
    """The lab's recorder for a sipdiag command that captures on the vantage interface into a pcap and writes its
    JSON report on Ctrl-C."""
    def recorder(iface: str, pcap: Path) -> tuple[list[str], str]:
        return ([sys.executable, "-m", "sipdiag", *command, "-i", iface, "-w", str(pcap), "--format", "json",
                 "-o", str(report), "--fail-on", "never"], f"{ready} {iface}")
    return recorder


def _assert_equals_manifest(name: str, report: Path, pcap: Path) -> None:
    doc = json.loads(report.read_text())
    entry = COMMITTED[name]
    assert [(c["call_id"], c["outcome"], c["final_status"], c["transport"]) for c in doc["calls"]] == [
        (c["call_id"], c["outcome"], c["final_status"], c["transport"]) for c in entry["calls"]]
    assert sorted((r["aor"], r["outcome"], r["final_status"], r["challenges"]) for r in doc["registrations"]) == \
        sorted((r["aor"], r["outcome"], r["final_status"], r["challenges"]) for r in entry.get("registrations", []))
    # every RTP packet the scenario sent past the capture point was recorded and measured
    streams = {(f"{s['src_ip']}:{s['src_port']}", f"{s['dst_ip']}:{s['dst_port']}"): s["packets"]
               for s in doc["streams"]}
    assert streams == {(f["src"], f["dst"]): f["packets"] for f in entry["rtp"]}
    # categories the scenario must (not) show
    categories = {f["category"] for f in doc["findings"]}
    assert set(entry["categories_present"]) <= categories
    assert not [f["rule"] for f in doc["findings"]
                if f["category"] in entry["categories_absent"] and f["severity"] != "info"]
    # the recorder stopped on SIGINT and still wrote a capture that tshark reads (the lab's oracle)
    from lab import facts

    assert not run.manifest.check(BY_NAME[name].expect, facts.read(pcap))


@pytest.mark.parametrize("name", ["clean_call", "nat_one_way_audio", "register_wrong_password"])
def test_sipdiag_capture_of_a_lab_scenario_equals_its_manifest(tmp_path, name) -> None:
    pcap, report = tmp_path / f"{name}.pcap", tmp_path / f"{name}.json"
    run.capture(BY_NAME[name], pcap, tmp_path, recorder=_recorder(report, ["capture"], "Capturing on"))
    _assert_equals_manifest(name, report, pcap)


@pytest.mark.parametrize("name", ["clean_call", "nat_one_way_audio"])
def test_sipdiag_watch_on_a_lab_interface_equals_the_manifest(tmp_path, name) -> None:
    """`watch -i` on the vantage interface while the scenario runs: the report it writes on Ctrl-C has the
    manifest's calls, outcomes, registrations and RTP flows, and its -w capture is the one tshark reads as the
    scenario."""
    pcap, report = tmp_path / f"{name}.pcap", tmp_path / f"{name}.json"
    run.capture(BY_NAME[name], pcap, tmp_path, recorder=_recorder(report, ["watch"], "Watching"))
    _assert_equals_manifest(name, report, pcap)


class _HepMirror(threading.Thread):
    """Mirrors SIP on loopback ports as HEPv3 to a collector: a packet socket on lo, like heplify."""

    def __init__(self, ports: set[int], collector: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.ports, self.collector = ports, collector
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind(("lo", 0x0003))
        self.sock.settimeout(0.2)
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] == 4 or len(data) < 42 or data[12:14] != b"\x08\x00" or data[23] != 17:
                continue  # outgoing copy on lo, or not IPv4/UDP
            ihl = (data[14] & 0x0F) * 4
            sport, dport = struct.unpack_from("!HH", data, 14 + ihl)
            if sport not in self.ports and dport not in self.ports:
                continue
            src, dst = socket.inet_ntoa(data[26:30]), socket.inet_ntoa(data[30:34])
            self.out.sendto(hep3(data[14 + ihl + 8:], (src, sport), (dst, dport), time.time_ns()), self.collector)
            self.sent += 1


def test_sipp_on_loopback_mirrored_as_hep_gives_its_calls(tmp_path) -> None:
    port = free_udp_port()
    watch = subprocess.Popen([sys.executable, "-m", "sipdiag", "watch", "--hep-listen", f"127.0.0.1:{port}",
                              "--duration", "12", "--format", "json", "--fail-on", "never"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mirror = _HepMirror({5070, 5071}, ("127.0.0.1", port))
    mirror.start()
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    uas = uac = None
    try:
        assert watch.stderr.readline().startswith("Watching hep://")
        uas = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", "5070", "-m", "3", "-nostdin"], cwd=work, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.5)
        uac = subprocess.run(["sipp", "127.0.0.1:5070", "-sn", "uac", "-i", "127.0.0.1", "-p", "5071", "-m", "3",
                              "-r", "5", "-d", "300", "-s", "300", "-cid_str", "hep-%u-%p@sipp", "-nostdin",
                              "-trace_err"], cwd=work, capture_output=True, text=True, timeout=30)
        assert uac.returncode == 0, uac.stdout[-2000:]
        uas.wait(10)
        stdout, stderr = watch.communicate(timeout=30)
    finally:
        mirror.stop.set()
        for p in (uas, watch):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert watch.returncode == 0, stderr
    doc = json.loads(stdout)
    calls = [(c["outcome"], c["final_status"], c["caller"].split("@")[0], c["callee"].split("@")[0])
             for c in doc["calls"]]
    assert calls == [("answered", 200, "sip:sipp", "sip:300")] * 3
    assert all(c["call_id"].startswith("hep-") for c in doc["calls"])
    # every mirrored datagram arrived and was counted (sipp uac/uas: INVITE, 180, 200, ACK, BYE, 200 per call; on a
    # loaded machine sipp may retransmit a request after Timer A's 500 ms, RFC 3261 §17.1.1.2: more, never fewer)
    assert doc["capture"]["packets"] == mirror.sent >= 3 * 6
