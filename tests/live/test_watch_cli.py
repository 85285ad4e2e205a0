"""`sipdiag watch` and `sipdiag capture` from the command line: exact output of a replay, the JSON contract, the
written capture, HEP input, hostile headers, and the errors (usage, unknown interface, no capture rights)."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag.cli import cli
from sipdiag.live import LiveAnalyzer
from sipdiag.livecapture import can_capture
from sipdiag.parsers.livedecode import FrameDecoder
from sipdiag.parsers.scan import scan_capture
from sipdiag.model import Datagram
from sipdiag.reports.live import Dashboard
from sipdiag.watch import ReplayFeed
from tests.callcapture import calls_across_a_two_day_step, unanswered_invite_and_lost_fragment
from tests.conftest import ROOT, SAMPLES, validate_json_document
from tests.hostilecapture import UNSAFE_CHARACTERS, hostile_capture
from tests.live.hep import free_udp_port, hep3


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_watch_replay_prints_each_call_and_finding_then_the_analysis() -> None:
    result = _run("watch", "-r", str(SAMPLES / "nat_one_way_audio.pcap"), "--fast")
    assert result.exit_code == 1  # major findings, --fail-on major
    lines = result.stdout.splitlines()
    assert lines[:5] == [
        "call #1 answered 200  sip:100@203.0.113.10 -> sip:300@203.0.113.10  setup 1 ms  duration 17.0 s  "
        "streams 2 (loss max 0.0 %, jitter max 1.4 ms)  audio one-way  findings 4",
        "finding major nat.private-sdp-address (call nat_one_way_audio-1@sdlab): SDP tells the other side to send "
        "media to a private address",
        "finding major media.one-way-audio (call nat_one_way_audio-1@sdlab): Audio flows in one direction only",
        "finding major nat.media-source-mismatch (call nat_one_way_audio-1@sdlab): Audio arrives from another "
        "address than the one the SDP announced",
        "finding info media.rtcp-issues (call nat_one_way_audio-1@sdlab): RTCP missing, misrouted or never "
        "acknowledging sender reports",
    ]
    assert lines[5].startswith("Capture  ") and "Findings (4)" in result.stdout
    assert "1 call(s) seen, 1 ended; 4 call finding(s)." in result.stderr


def test_watch_json_is_the_analyze_document(tmp_path) -> None:
    sample = SAMPLES / "register_wrong_password.pcap"
    result = _run("watch", "-r", str(sample), "--speed", "1000", "--format", "json", "--fail-on", "never")
    assert result.exit_code == 0
    doc = validate_json_document(result.stdout)
    expected = json.loads(_run("analyze", str(sample), "--format", "json", "--fail-on", "never").stdout)
    for key in ("calls", "registrations", "streams"):
        assert doc[key] == expected[key], key
    assert [f["rule"] for f in doc["findings"]] == [f["rule"] for f in expected["findings"]]
    assert doc["capture"]["packets"] == expected["capture"]["packets"]
    assert result.stderr.splitlines()[1:3] == [  # the events went to stderr, the document alone to stdout
        "registration sip:200@203.0.113.10 failed 403 contact sip:200@203.0.113.20:5060",
        "finding critical reg.rejected (capture): Registration refused"]


def test_watch_links_a_capture_wide_cause_as_analyze_does(tmp_path) -> None:
    """IP fragmentation (capture-wide) explains the unanswered INVITE (RULES.md §2) in watch as in analyze. Before,
    the capture-wide finding's `explains` named itself: the terminal report recursed forever ("internal error")
    and the JSON linked the wrong findings."""
    path = str(unanswered_invite_and_lost_fragment(tmp_path / "fragment.pcap"))
    shown = _run("watch", "-r", path, "--fast")
    assert shown.exit_code == 1 and "Error" not in shown.stderr  # major findings, --fail-on major
    heads = [line.strip()[:51] for line in shown.stdout.splitlines() if line.lstrip().startswith(("MAJOR", "└─ "))]
    assert heads == ["MAJOR    router.udp-fragmentation  Large SIP over U",
                     "└─ explains MAJOR    call.invite-timeout  INVITE ne"]

    def links(doc):
        return [(f["index"], f["rule"], f["call_id"], f["evidence"]["frames"], f["cause"], f["explains"])
                for f in doc["findings"]]

    watched = validate_json_document(_run("watch", "-r", path, "--fast", "--format", "json").stdout)
    analyzed = validate_json_document(_run("analyze", path, "--format", "json").stdout)
    assert links(watched) == links(analyzed) == [
        (0, "call.invite-timeout", "cycle-1", [1, 2, 3, 4, 5, 6, 7], 1, []),
        (1, "router.udp-fragmentation", None, [8], None, [0])]


def test_watch_writes_what_it_watched(tmp_path) -> None:
    out = tmp_path / "w.pcap"
    result = _run("watch", "-r", str(SAMPLES / "dtmf_rfc4733.pcap"), "--fast", "-w", str(out), "--fail-on", "never")
    assert result.exit_code == 0
    a, b = sipdiag.analyze(SAMPLES / "dtmf_rfc4733.pcap"), sipdiag.analyze(out)
    assert b.capture.packets == a.capture.packets
    assert [(c.call_id, c.outcome) for c in b.calls] == [(c.call_id, c.outcome) for c in a.calls]
    assert [(s.stats.key, s.stats.packets) for s in b.streams] == [(s.stats.key, s.stats.packets) for s in a.streams]


def test_paced_replay_takes_the_capture_time() -> None:
    started = time.monotonic()
    result = _run("watch", "-r", str(SAMPLES / "clean_call.pcap"), "--speed", "2", "--fail-on", "never")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0 and result.stdout.startswith("call #1 answered 200")
    assert 0.8 <= elapsed < 5  # the capture spans 1.8 s: about 0.9 s at twice the speed


class _Clock:
    """sipdiag.watch's `time` for a paced replay: monotonic time passes only while it sleeps, at most `limit` s."""

    def __init__(self, limit: float) -> None:
        self.now, self.limit = 0.0, limit

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.now > self.limit:
            raise AssertionError(f"the replay waited {self.now:.0f} s")


@pytest.mark.parametrize("step_s", [2 * 86_400.0, -2 * 86_400.0])
def test_paced_replay_goes_on_at_once_across_a_step_of_the_clock(tmp_path, monkeypatch, step_s: float) -> None:
    """`watch -r` at the capture's pace (--speed 1) of two calls in progress when the capture's clock steps two
    days at 5 s (capture.time-jump / capture.time-backwards): the step is no time to wait, so the replay takes the
    15 s the records span on either side of it (less the 50 ms handed on ahead), and reports the calls, streams and
    findings of analyze. Before, the replay waited out the two days (at --speed 1, two days), and after a step back
    handed every later record on at once, unpaced."""
    path = str(calls_across_a_two_day_step(tmp_path / "step.pcap", step_s))
    clock = _Clock(limit=60.0)
    monkeypatch.setattr("sipdiag.watch.time", clock)
    result = _run("watch", "-r", path, "--format", "json", "--fail-on", "never")
    assert result.exit_code == 0, result.exception
    assert round(clock.now, 3) == 14.95
    assert result.stderr.splitlines()[1:] == [
        "call #1 answered 200  sip:100@example.com -> sip:200@example.com  streams 2 (loss max 0.0 %, jitter max "
        "unknown)  findings 0",
        "call #2 busy 486  sip:100@example.com -> sip:300@example.com  setup 100 ms  streams 1 (loss max 0.0 %, "
        "jitter max unknown)  findings 1",
        "finding info call.failure-response (call ring-1): Call set-up failed with an error response",
        "2 call(s) seen, 2 ended; 1 call finding(s)."]
    doc = validate_json_document(result.stdout)
    expected = json.loads(_run("analyze", path, "--format", "json", "--fail-on", "never").stdout)
    for key in ("calls", "registrations", "streams", "findings", "anomalies"):
        assert doc[key] == expected[key], key
    assert [(c["call_id"], c["outcome"], c["duration_s"]) for c in doc["calls"]] == [("jump-1", "answered", None),
                                                                                    ("ring-1", "busy", None)]


@pytest.mark.parametrize("args, message", [
    ((), "Error: say what to watch: one of -i IFACE, --hep-listen [HOST:]PORT or -r FILE"),
    (("-r", "samples/pcaps/clean_call.pcap", "--hep-listen", "9060"),
     "Error: say what to watch: one of -i IFACE, --hep-listen [HOST:]PORT or -r FILE"),
    (("--hep-listen", "9060", "--fast"), "Error: --fast and --speed apply to -r FILE only"),
    (("--hep-listen", "host:port"), "Error: --hep-listen 'host:port': expected [HOST:]PORT"),
])
def test_watch_usage_errors(args, message) -> None:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = _run("watch", *args)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == message and result.stderr.splitlines()[1].startswith("Hint: ")


def test_hostile_headers_stay_inert_in_lines_and_dashboard(tmp_path) -> None:
    path = hostile_capture(tmp_path / "hostile.pcap")
    result = _run("watch", "-r", str(path), "--fast")
    for ch in UNSAFE_CHARACTERS:
        assert ch not in result.stdout and ch not in result.stderr
    assert "\\x1b[31m" in result.stdout  # shown, not obeyed
    # the dashboard, with the hostile calls still in progress and then ended
    feed = ReplayFeed(path, None)
    engine = LiveAnalyzer()
    screen = io.StringIO()
    view = Dashboard(engine, screen, "hostile.pcap")
    engine.on_event = view
    decoder = FrameDecoder(feed.interfaces, name="hostile")
    for batch in feed.batches():
        engine.add(*decoder.decode(batch))
    assert engine.active
    first = view.render()
    engine.sweep(engine.now_ns + 10**12, force=True)
    view.close()
    from rich.console import Console

    rendered = io.StringIO()
    Console(file=rendered, width=200, force_terminal=True, emoji=False).print(first)
    text = rendered.getvalue() + screen.getvalue()
    for ch in ("\u202e", "\x07", "\x9b", "\x1b]"):
        assert ch not in text
    assert "\x1b[2J" not in text and "[bold]boss" not in text.replace("\\[bold]", "")
    assert "\\x1b[31m" in text and "\\u202e" in text


def _hep_watch(tmp_path, sample, extra=()):
    port = free_udp_port()
    out = tmp_path / "hep.pcap"
    proc = subprocess.Popen([sys.executable, "-m", "sipdiag", "watch", "--hep-listen", f"127.0.0.1:{port}",
                             "--duration", "6", "--format", "json", "--fail-on", "never", "-w", str(out), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr.readline().startswith("Watching hep://127.0.0.1:")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for d in scan_capture(sample):
                if isinstance(d, Datagram) and d.kind == "sip":
                    s.sendto(hep3(d.payload, (d.src_ip, d.src_port), (d.dst_ip, d.dst_port), d.ts_ns),
                             ("127.0.0.1", port))
                    time.sleep(0.002)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    return validate_json_document(stdout), out, stderr


@pytest.mark.parametrize("name", ["clean_call.pcap", "busy_486.pcap", "register_wrong_password.pcap"])
def test_hep_listen_finds_the_calls_of_the_mirrored_sip(tmp_path, name) -> None:
    doc, out, _ = _hep_watch(tmp_path, SAMPLES / name)
    expected = sipdiag.analyze(SAMPLES / name)
    assert [(c["call_id"], c["outcome"], c["final_status"], c["setup_ms"], c["answer_ms"]) for c in doc["calls"]] == [
        (c.call_id, c.outcome, c.final_status, c.setup_ms, c.answer_ms) for c in expected.calls]
    assert [(r["aor"], r["outcome"], r["challenges"]) for r in doc["registrations"]] == [
        (r.aor, r.outcome, r.challenges) for r in expected.registrations]
    # -w wrote the HEP datagrams as UDP: analyse it again, the same SIP comes out, marked as HEP
    again = sipdiag.analyze(out)
    assert [(c.call_id, c.outcome) for c in again.calls] == [(c.call_id, c.outcome) for c in expected.calls]
    assert again.sip.encapsulations == {"hep": expected.sip.messages}


def test_capture_unknown_interface_is_one_error_line(tmp_path) -> None:
    result = _run("capture", "-i", "nosuch0", "-c", "1", "-w", str(tmp_path / "x.pcap"))
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: there is no interface named 'nosuch0'"
    assert lines[1].startswith("Hint: Interfaces on this host: ") and "lo" in lines[1]
    assert "Traceback" not in result.output


def test_capture_bad_filter_is_a_usage_error(tmp_path) -> None:
    result = _run("capture", "-i", "lo", "--filter", "udp and bogus", "-c", "1", "-w", str(tmp_path / "x.pcap"))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == ("Error: the capture filter does not compile: Failed to compile filter "
                                             "expression 'udp and bogus' (syntax error in filter expression)")


def test_capture_options_exclude_each_other(tmp_path) -> None:
    result = _run("capture", "-i", "lo", "--duration", "1", "-c", "1", "-w", str(tmp_path / "x.pcap"))
    assert result.exit_code == 2 and result.stderr.startswith("Error: --duration and --count are alternatives")


def _without_rights() -> list[str]:
    """A command prefix that drops CAP_NET_RAW (root keeps its uid but loses the capability), or skips."""
    if os.geteuid() == 0 and shutil.which("setpriv"):
        return ["setpriv", "--bounding-set=-net_raw,-net_admin", "--inh-caps=-net_raw,-net_admin"]
    if os.geteuid() != 0 and not can_capture():
        return []
    pytest.skip("cannot make a process without capture rights here (needs root and setpriv, or a plain user)")


def test_capture_without_rights_says_how_to_get_them(tmp_path) -> None:
    proc = subprocess.run([*_without_rights(), sys.executable, "-m", "sipdiag", "capture", "-i", "lo", "-c", "1",
                           "-w", str(tmp_path / "x.pcap")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [
        "Error: no permission to capture on lo (capturing needs root or CAP_NET_RAW)",
        "Hint: Run it as root (sudo sipdiag ...), or give the Python interpreter the right once: sudo setcap "
        "cap_net_raw,cap_net_admin+eip $(readlink -f $(which python3))"]
    assert not (tmp_path / "x.pcap").exists()


def _netns_with_interface(name: str) -> str:
    """A network namespace holding an interface `d0` (one end of a veth pair: the kernel here has no dummy
    driver), up; skipped without root and iproute2."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to make a network namespace")
    ns = f"sdtest-{name}-{os.getpid()}"
    for cmd in (["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1"],
                ["ip", "-n", ns, "link", "set", "d0", "up"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            pytest.skip(f"cannot make a network namespace here: {r.stderr.strip()}")
    return ns


@pytest.mark.parametrize(("promisc", "expected"), [(True, "1"), (False, "0")])
def test_live_capture_puts_the_interface_into_promiscuous_mode(promisc: bool, expected: str) -> None:
    """As tcpdump does (and not with --no-promisc): on a mirror port the calls are addressed to other hosts' MACs.
    The mode is the socket's membership: it ends with the socket."""
    ns = _netns_with_interface("promisc")
    script = (
        "from pathlib import Path\n"
        "from sipdiag.livecapture import PacketSocket, DEFAULT_FILTER\n"
        "flags = lambda: int(Path('/sys/class/net/d0/flags').read_text(), 16)\n"
        f"s = PacketSocket('d0', DEFAULT_FILTER, promisc={promisc})\n"
        "during = (flags() & 0x100) != 0\n"  # IFF_PROMISC
        "s.close()\n"
        "print(int(during), int((flags() & 0x100) != 0))\n"
    )
    try:
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", script], capture_output=True,
                           text=True, timeout=60, cwd=ROOT)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [expected, "0"]
