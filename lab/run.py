"""Run lab scenarios: real sipp peers across a real NAT router, captured with tcpdump.

Usage (as root, from the project root)::

    python -m lab.run --list
    python -m lab.run --scenario clean_call --out /tmp/lab
    python -m lab.run --all --out samples/pcaps        # regenerates the committed fixtures (~3 min)

For each scenario a fresh lab network is built (``lab/netns.py``), the scenario's faults are
applied with iptables/nft, tcpdump captures on the scenario's vantage interface, the sipp peers
(and scanners) run, and everything is torn down. The capture is then read with tshark
(``lab/facts.py``); if it does not show the scenario's declared ground truth the run fails,
otherwise ``<out>/<scenario>.pcap`` is written and its entry in ``<out>/manifest.json`` replaced.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from . import facts as facts_mod
from . import manifest, media, sipp
from .netns import PBX_IP, PHONE_IP, ROUTER_LAN_IP, ROUTER_WAN_IP, VANTAGES, Lab, LabError, wait_for_text
from .scenarios import BY_NAME, CI_SCENARIOS, SCENARIOS, SSRC, Party, Scenario

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REQUIRED_TOOLS = ("ip", "iptables", "nft", "tcpdump", "sipp", "tshark", "ethtool")


class ScenarioFailed(RuntimeError):
    """A scenario's capture does not show what the scenario declares, or a peer failed."""


def missing_requirements() -> list[str]:
    """What this machine lacks to run the lab (empty when it can)."""
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if os.geteuid() != 0:
        missing.insert(0, "root (network namespaces)")
    return missing


def why_not_runnable() -> str | None:
    """Why the lab cannot run here (a missing tool, not root, no network namespaces), or None when it can."""
    missing = missing_requirements()
    if missing:
        return f"the lab needs {', '.join(missing)} (see requirements-apt.txt)"
    probe = f"sdlab-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _media_action(party: Party, work: Path) -> str:
    m = party.media
    if m is None:
        return ""
    ssrc = SSRC[party.role]
    audio = media.write_audio(work / f"{party.role}_audio.pcap", m.packets, ssrc, m.payload_type)
    parts = []
    if m.delay_ms:
        parts.append(f'<pause milliseconds="{m.delay_ms}"/>')
    parts.append(sipp.play_pcap(audio))
    if m.dtmf:
        gap_ms = 200
        dtmf = media.write_dtmf(work / f"{party.role}_dtmf.pcap", m.dtmf, ssrc,
                                seq0=1000 + m.packets,
                                ts0=8000 + (m.packets * media.PTIME_MS + gap_ms) * 8)
        parts.append(f'<pause milliseconds="{m.packets * media.PTIME_MS + gap_ms}"/>')
        parts.append(sipp.play_pcap(dtmf))
    return "\n  ".join(parts)


def _start_party(lab: Lab, party: Party, work: Path, name: str) -> subprocess.Popen:
    pdir = work / f"{name}_{party.role}"
    pdir.mkdir()
    values = dict(party.values, media_action=_media_action(party, pdir))
    scenario_xml = sipp.render(party.template, pdir, values)
    inject = sipp.write_injection(pdir / "inject.csv", party.inject) if party.inject else None
    argv = sipp.command(scenario_xml, party.local_ip, remote=party.remote, media_port=party.media_port,
                        call_id=party.call_id, transport=party.transport, calls=party.calls,
                        inject=inject, extra=party.extra)
    (pdir / "command.txt").write_text(" ".join(argv) + "\n")
    return lab.spawn(party.role, argv, pdir / "sipp.log", cwd=pdir)


def _wait_listening(lab: Lab, role: str, transport: str, timeout: float = 5.0) -> None:
    flag = "-Hltn" if transport.startswith("t") else "-Hlun"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = lab.exec(role, ["ss", flag, "sport = :5060"], check=False).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise ScenarioFailed(f"the {role} sipp did not start listening on 5060")


def _apply_rules(lab: Lab, sc: Scenario) -> None:
    for role, tool, rule in sc.rules:
        if tool == "iptables":
            lab.iptables(role, *rule)
        elif tool == "nft":
            lab.nft(role, str(rule))
        elif tool == "sysctl":
            lab.exec(role, ["sysctl", "-q", "-w", *rule])
        else:
            raise ValueError(f"unknown rule tool {tool}")


Recorder = Callable[[str, Path], tuple[list[str], str]]  # (interface, pcap) -> (argv, text it logs when ready)


def tcpdump(iface: str, pcap: Path) -> tuple[list[str], str]:
    """The lab's own recorder."""
    return ["tcpdump", "-i", iface, "-w", str(pcap), "-U", "-s", "0", "-n", "-Z", "root", "--immediate-mode"], \
        "listening on"


def capture(sc: Scenario, pcap: Path, work: Path, recorder: Recorder = tcpdump) -> None:
    """Build the lab, run the scenario, capture it, tear everything down. recorder: the capture program (tcpdump;
    the live-capture tests pass `sipdiag capture`), stopped with SIGINT at the end."""
    timeout = 60.0 if sc.slow else 25.0
    missing = [argv[0] for argv in sc.scans if shutil.which(argv[0]) is None]
    if missing:
        raise ScenarioFailed(f"{sc.name} needs {', '.join(missing)} (pip install sipvicious)")
    with Lab() as lab:
        _apply_rules(lab, sc)
        role, iface = VANTAGES[sc.vantage]
        tlog = work / "tcpdump.log"
        argv, ready = recorder(iface, pcap)
        dump = lab.spawn(role, argv, tlog, cwd=PROJECT_ROOT)
        if not wait_for_text(tlog, ready, timeout=15.0):
            raise ScenarioFailed(f"{argv[0]} did not start: {tlog.read_text()}")
        relay = None
        if sc.alg_relay:
            relay = lab.spawn("router", [sys.executable, "-m", "lab.alg_relay", "--lan", ROUTER_LAN_IP,
                                         "--wan", ROUTER_WAN_IP, "--phone", f"{PHONE_IP}:5060",
                                         "--upstream", f"{PBX_IP}:5060", "--seconds", str(timeout)],
                              work / "alg_relay.log", cwd=PROJECT_ROOT)
            _wait_listening(lab, "router", "u1")
        server = client = None
        if sc.server:
            server = _start_party(lab, sc.server, work, "server")
            _wait_listening(lab, "pbx", sc.server.transport)
        for i, argv in enumerate(sc.scans):
            scan = lab.spawn("peer", list(argv), work / f"scan{i}.log", cwd=work)
            try:
                scan.wait(timeout)
            except subprocess.TimeoutExpired:
                lab.stop(scan)
                raise ScenarioFailed(f"{argv[0]} did not finish within {timeout} s") from None
        if sc.client:
            client = _start_party(lab, sc.client, work, "client")
            try:
                rc = client.wait(timeout)
            except subprocess.TimeoutExpired:
                raise ScenarioFailed(f"the caller did not finish within {timeout} s (see {work})") from None
            if rc != sc.client.expect_rc:
                raise ScenarioFailed(f"the caller's sipp exited {rc} (see {work})")
        if server is not None:
            try:
                server.wait(5.0)
            except subprocess.TimeoutExpired:
                lab.stop(server)
        time.sleep(0.3)  # let the last packets reach the capture
        if relay is not None:
            lab.stop(relay)
        lab.stop(dump, signal.SIGINT, timeout=30.0)  # a recorder may analyse what it wrote before it exits


def run_scenario(sc: Scenario, out_dir: Path, keep_work: bool = False) -> dict:
    """Capture one scenario into ``out_dir`` and return its manifest entry."""
    work = Path(tempfile.mkdtemp(prefix=f"sdlab-{sc.name}-"))
    pcap = work / f"{sc.name}.pcap"
    try:
        capture(sc, pcap, work)
        found = facts_mod.read(pcap)
        problems = manifest.check(sc.expect, found)
        if problems:
            raise ScenarioFailed(f"{sc.name}: capture differs from its ground truth (work dir {work}):\n  "
                                 + "\n  ".join(problems))
        role, iface = VANTAGES[sc.vantage]
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pcap, out_dir / pcap.name)
        return manifest.entry(sc, found, pcap.name, f"{role}:{iface}")
    except BaseException:
        keep_work = True  # a failed run keeps its sipp logs and capture for the report
        raise
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.run", description=__doc__.split("\n")[0])
    sel = parser.add_mutually_exclusive_group(required=True)
    sel.add_argument("--scenario", action="append", choices=sorted(BY_NAME),
                     help="scenario to run (repeatable)")
    sel.add_argument("--all", action="store_true", help="every scenario")
    sel.add_argument("--ci", action="store_true",
                     help=f"the set the CI lab test rebuilds: {', '.join(CI_SCENARIOS)}")
    sel.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "lab" / "out", help="output folder")
    parser.add_argument("--keep-work", action="store_true", help="keep sipp logs and rendered scenarios")
    args = parser.parse_args(argv)
    if args.list:
        for sc in SCENARIOS:
            print(f"{sc.name:28} {sc.vantage:14} {sc.description}")
        return 0
    missing = missing_requirements()
    if missing:
        print(f"Error: the lab needs {', '.join(missing)}", file=sys.stderr)
        return 2
    names = [s.name for s in SCENARIOS] if args.all else (list(CI_SCENARIOS) if args.ci else args.scenario)
    entries, failed = [], []
    for name in names:
        started = time.monotonic()
        try:
            entries.append(run_scenario(BY_NAME[name], args.out, args.keep_work))
            print(f"ok    {name} ({time.monotonic() - started:.1f} s)", flush=True)
        except (ScenarioFailed, LabError) as exc:
            failed.append(name)
            print(f"FAIL  {name}: {exc}", flush=True)
    if entries:
        manifest.update(args.out / "manifest.json", entries)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
