"""`--engine tshark` (issue 10): SIP over TLS decrypted with a key log from a real call against Kamailio, SIP over
SCTP, and the errors (no tshark, no key log, not a capture) as one `Error:` line with a hint and exit code 3."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag.cli import cli
from sipdiag.clocksteps import ClockSteps
from sipdiag.errors import CaptureFormatError, KeylogError, TsharkMissingError, UsageError
from tests import pcapwriter as pw
from tests import tlspeer
from tests.conftest import CORPUS, SAMPLES, need_tool

T0 = 1_700_000_000_000_000_000

pytestmark = pytest.mark.tshark


@pytest.fixture(scope="module")
def tls_call(tmp_path_factory) -> tlspeer.TlsCall:
    need_tool("tshark")
    why = tlspeer.missing_tools()
    if why:
        pytest.skip(why)
    return tlspeer.run_tls_call(tmp_path_factory.mktemp("tls"))


def test_tls_call_is_recovered_with_the_key_log(tls_call: tlspeer.TlsCall) -> None:
    analysis = sipdiag.analyze(tls_call.capture, engine="tshark", keylog=tls_call.keylog)
    assert [c.call_id for c in analysis.calls] == [tlspeer.CALL_ID]
    call = analysis.calls[0]
    assert (call.outcome, call.final_status) == ("answered", 200)
    assert tlspeer.HOLD_S <= call.duration_s < tlspeer.HOLD_S + 0.5
    assert [m.label for m in call.messages] == ["INVITE +SDP", "180 Ringing", "200 OK +SDP", "ACK", "BYE",
                                                "200 OK (BYE)"]
    assert {m.transport for m in call.messages} == {"tls"}
    assert analysis.sip.messages == 6
    assert analysis.sip.requests == {"INVITE": 1, "ACK": 1, "BYE": 1}
    assert analysis.sip.responses == {180: 1, 200: 2}
    assert analysis.sip.transports == {"tls": 6}
    invite = analysis.messages[0]  # the decrypted bytes, as the caller wrote them
    assert (invite.src_ip, invite.dst_ip, invite.dst_port) == (tlspeer.CALLER, tlspeer.CALLEE, tlspeer.PORT)
    assert b"\r\nUser-Agent: sipdiag-test-uac\r\n" in invite.raw[: invite.raw_len]
    assert not [a for a in analysis.anomalies if a.code == "tls.undecrypted"]


def test_tls_call_without_the_key_log_is_reported_not_invented(tls_call: tlspeer.TlsCall) -> None:
    analysis = sipdiag.analyze(tls_call.capture, engine="tshark")
    assert analysis.calls == () and analysis.sip.messages == 0
    undecrypted = [a for a in analysis.anomalies if a.code == "tls.undecrypted"]
    assert len(undecrypted) == 1
    assert f"{tlspeer.CALLEE}:{tlspeer.PORT}" in undecrypted[0].detail
    assert "no --keylog was given" in undecrypted[0].detail
    assert analysis.capture.kinds["tls"] >= 6  # at least the six SIP messages' records


def test_tls_call_on_the_command_line(tls_call: tlspeer.TlsCall) -> None:
    import json

    result = CliRunner().invoke(cli, ["analyze", str(tls_call.capture), "--engine", "tshark", "--keylog",
                                      str(tls_call.keylog), "--format", "json", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [(c["call_id"], c["outcome"], c["transport"]) for c in doc["calls"]] == [(tlspeer.CALL_ID, "answered",
                                                                                      "tls")]


def test_sip_over_sctp_is_recovered(corpus: Path) -> None:
    """RFC 4168: heplify's capture, INVITE from an ephemeral SCTP port answered 100/403 to port 5060."""
    need_tool("tshark")
    analysis = sipdiag.analyze(CORPUS / "pcaps" / "heplify" / "sip_sctp.pcap", engine="tshark")
    assert analysis.sip.transports == {"sctp": 4}
    assert analysis.sip.requests == {"INVITE": 1, "ACK": 1}
    assert analysis.sip.responses == {100: 1, 403: 1}
    assert [(c.call_id, c.outcome, c.final_status) for c in analysis.calls] == [
        ("717B2539AD2002C9152DC497@0870ffffffff", "rejected", 403)]


def test_rtp_statistics_come_from_the_project_engine() -> None:
    """tshark's RTP header fields go through sipdiag.rtpstats: the same streams, loss and jitter as native."""
    need_tool("tshark")
    sample = SAMPLES / "rtp_loss.pcap"
    native = sipdiag.analyze(sample)
    tshark = sipdiag.analyze(sample, engine="tshark")
    assert len(native.streams) > 0
    key = lambda s: (s.stats.src_ip, s.stats.src_port, s.stats.ssrc)  # noqa: E731
    ours = sorted((key(s), s.stats.packets, s.stats.lost, s.stats.jitter_max_ms, s.call_id) for s in native.streams)
    theirs = sorted((key(s), s.stats.packets, s.stats.lost, s.stats.jitter_max_ms, s.call_id) for s in tshark.streams)
    assert theirs == ours
    assert [f.rule for f in tshark.findings] == [f.rule for f in native.findings]


# ---------------------------------------------------------------------------------------------- errors


def test_missing_tshark_is_one_error_line_with_a_hint(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no tshark anywhere
    with pytest.raises(TsharkMissingError):
        sipdiag.analyze(SAMPLES / "clean_call.pcap", engine="tshark")
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "clean_call.pcap"), "--engine", "tshark"])
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == ("Error: --engine tshark needs Wireshark's tshark, which is not "
                                             "installed (not found on the PATH)")
    assert "apt-get install tshark" in result.output
    assert "Traceback" not in result.output


def test_missing_key_log_is_a_clear_error(tmp_path: Path) -> None:
    need_tool("tshark")
    missing = tmp_path / "nokeys.log"
    with pytest.raises(KeylogError):
        sipdiag.analyze(SAMPLES / "clean_call.pcap", engine="tshark", keylog=missing)
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "clean_call.pcap"), "--engine", "tshark",
                                      "--keylog", str(missing)])
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == f"Error: {missing}: no such TLS key log file"
    assert "SSLKEYLOGFILE" in result.output


def test_key_log_needs_the_tshark_engine(tmp_path: Path) -> None:
    keys = tmp_path / "keys.log"
    keys.write_text("")
    with pytest.raises(UsageError):
        sipdiag.analyze(SAMPLES / "clean_call.pcap", keylog=keys)
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "clean_call.pcap"), "--keylog", str(keys)])
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == "Error: --keylog needs --engine tshark: only Wireshark's dissection " \
                                            "decrypts TLS"


def test_not_a_capture_gives_the_native_engines_error(tmp_path: Path) -> None:
    need_tool("tshark")
    text = tmp_path / "notes.txt"
    text.write_text("INVITE is not a capture\n" * 10)
    with pytest.raises(CaptureFormatError) as native:
        sipdiag.analyze(text)
    with pytest.raises(CaptureFormatError) as tshark:
        sipdiag.analyze(text, engine="tshark")
    assert str(tshark.value) == str(native.value)
    assert "is not a pcap or pcapng file" in str(tshark.value)
    result = CliRunner().invoke(cli, ["analyze", str(text), "--engine", "tshark"])
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == f"Error: {native.value}"


def test_standard_input_needs_the_native_engine() -> None:
    need_tool("tshark")
    with pytest.raises(UsageError, match="not standard input"):
        sipdiag.analyze("-", engine="tshark")


def test_the_engine_leaves_no_sigchld_handler_behind() -> None:
    """pyshark installs a SIGCHLD watcher whose wakeup pipe nobody drains: every later child exit printed
    'Exception ignored when trying to write to the signal wakeup fd: BlockingIOError' (22 times for 300 children).
    The engine releases it after each run; a second run still works."""
    need_tool("tshark")
    script = (
        "import subprocess, sipdiag\n"
        f"first = sipdiag.analyze({str(SAMPLES / 'clean_call.pcap')!r}, engine='tshark')\n"
        "for _ in range(300):\n"
        "    subprocess.run(['true'])\n"
        f"second = sipdiag.analyze({str(SAMPLES / 'clean_call.pcap')!r}, engine='tshark')\n"
        "print(len(first.calls), len(second.calls))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1 1"
    assert "wakeup fd" not in r.stderr and "BlockingIOError" not in r.stderr


def test_a_clean_tshark_run_is_not_called_a_crash_when_its_exit_is_noticed_late(monkeypatch) -> None:
    """CI failed once in about 500 tshark runs with 'tshark could not read ...: Running as user "root" ...': tshark
    had exited cleanly, but pyshark's clean-up killed it before asyncio's child watcher had handled SIGCHLD, and
    the kill's poll (CPython's Popen.send_signal) reaped it; the watcher then reported status 255. Made certain
    here: the watcher handles SIGCHLD 0.3 s late and a kill waits until the child has exited. The engine now waits
    for tshark's exit status before pyshark cleans up, so nothing is killed and the run stands."""
    import asyncio
    import asyncio.subprocess
    import time

    need_tool("tshark")
    late = asyncio.SafeChildWatcher._sig_chld
    monkeypatch.setattr(asyncio.SafeChildWatcher, "_sig_chld",
                        lambda self: self._loop.call_later(0.3, late, self) if self._loop else None)
    kill = asyncio.subprocess.Process.kill

    def kill_once_exited(self):
        time.sleep(0.3)  # tshark has closed its output: let it become a zombie the kill's poll can reap
        return kill(self)

    monkeypatch.setattr(asyncio.subprocess.Process, "kill", kill_once_exited)
    for _ in range(3):
        analysis = sipdiag.analyze(SAMPLES / "clean_call.pcap", engine="tshark")
        assert [(c.outcome, c.final_status) for c in analysis.calls] == [("answered", 200)]
        assert [a.code for a in analysis.anomalies] == []


def test_tsharks_root_warning_is_not_given_as_the_reason_it_stopped() -> None:
    from sipdiag.tsharkengine import _last_error_line

    root = 'TShark seems to have crashed.\nLast error line: Running as user "root" and group "root". This could be ' \
           'dangerous.\nTry rerunning in debug mode'
    cut = "crashed.\nLast error line: tshark: The file \"x\" appears to have been cut short in the middle of a packet."
    assert _last_error_line(Exception(root)) == "it exited with an error"
    assert _last_error_line(Exception(cut)) == \
        'tshark: The file "x" appears to have been cut short in the middle of a packet.'


# ------------------------------------------------------------------------------- damaged and odd input (fuzzing)

def _run_cli(*args: str) -> subprocess.CompletedProcess:
    # a child process: pyshark's 'Exception ignored' traceback is printed when the capture object is collected,
    # which only a real process's standard error shows
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])


def test_a_capture_cut_short_gives_what_tshark_read_plus_named_anomalies(tmp_path: Path) -> None:
    """tshark exits with status 2 on a file cut inside a packet; that ended in 'internal error' and pyshark's
    traceback three times over. What it read before the cut now stands, as in the native engine."""
    need_tool("tshark")
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((SAMPLES / "clean_call.pcap").read_bytes()[:20000])
    native = sipdiag.analyze(cut)
    tshark = sipdiag.analyze(cut, engine="tshark")
    assert [a.code for a in native.anomalies] == ["pcap.truncated-record"]
    assert [a.code for a in tshark.anomalies] == ["tshark.stopped-early", "pcap.truncated-record"]
    assert "appears to have been cut short in the middle of a packet" in tshark.anomalies[0].detail
    assert [(c.call_id, c.outcome) for c in tshark.calls] == [(c.call_id, c.outcome) for c in native.calls]
    assert len(tshark.calls) == 1
    stats = lambda a: sorted((s.stats.ssrc, s.stats.packets, s.stats.lost) for s in a.streams)  # noqa: E731
    assert stats(tshark) == stats(native) and len(stats(native)) == 2
    r = _run_cli("analyze", str(cut), "--engine", "tshark", "--format", "json")
    assert r.returncode == 0 and r.stderr == ""


def test_a_file_tshark_refuses_is_one_error_line_not_a_traceback(tmp_path: Path) -> None:
    """A pcap that says it is version 1.x: the native reader reads it, tshark does not. That is tshark's failure,
    an error with tshark's own words (not an empty analysis), and nothing else on standard error."""
    need_tool("tshark")
    old = tmp_path / "v1.pcap"
    data = bytearray((SAMPLES / "register_ok.pcap").read_bytes())
    data[4:6] = b"\x01\x00"  # major version 1
    old.write_bytes(bytes(data))
    assert len(sipdiag.analyze(old).registrations) == 1
    r = _run_cli("analyze", str(old), "--engine", "tshark")
    assert r.returncode == 3
    assert r.stderr.splitlines() == [
        f"Error: tshark could not read {old}: (pcap: major version 1 unsupported)",
        "Hint: Run 'tshark -r FILE' to see tshark's own message; the default --engine native may still read the file."]


def test_times_beyond_what_a_capture_holds_take_their_predecessors(tmp_path: Path) -> None:
    """An if_tsoffset of 10^10 s: the native reader ignores it (pcapng.bad-option), tshark applies it, and its
    times (year 2286) overflowed the 64-bit columns (internal error). They take the time before them, named."""
    need_tool("tshark")
    path = tmp_path / "offset.pcapng"
    frames = [pw.ethernet(pw.ipv4("192.0.2.1", "192.0.2.2", 17, pw.udp(40000, 50000, pw.rtp_packet(i, 160 * i, 7))))
              for i in range(20)]
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 6, 262144, 10**10)],
                    [(0, T0 + i * 20_000_000, f) for i, f in enumerate(frames)])
    native = sipdiag.analyze(path)
    tshark = sipdiag.analyze(path, engine="tshark")
    assert [a.code for a in native.anomalies] == ["pcapng.bad-option"]
    assert [(a.code, a.frame) for a in tshark.anomalies] == [("tshark.bad-timestamp", 1), ("pcapng.bad-option", None)]
    assert [(s.stats.packets, s.stats.lost) for s in tshark.streams] == [(20, 0)]


def test_negative_times_keep_their_sign_in_the_fraction() -> None:
    from types import SimpleNamespace

    from sipdiag.tsharkengine import _ts_ns

    assert _ts_ns(SimpleNamespace(sniff_timestamp="-5.300000000")) == -5_300_000_000
    assert _ts_ns(SimpleNamespace(sniff_timestamp="1700000000.000000123")) == 1_700_000_000_000_000_123
    assert _ts_ns(SimpleNamespace(sniff_timestamp="10000000000000.5")) is None  # year 318857


def test_icmp_inside_an_sflow_sample_is_not_an_icmp_error(tmp_path: Path) -> None:
    """sFlow (UDP 6343) carries sampled packet headers: tshark lists their protocols (eth:ip:icmp) in
    frame.protocols but not as layers of the packet, and the engine's ICMP reader indexed a layer that was not
    there (IndexError, internal error). A sampled header is not traffic: nothing comes of it."""
    need_tool("tshark")
    invite = pw.sip_bytes("INVITE sip:bob@10.0.0.2 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\n"
                          "Call-ID: sflow@10.0.0.1\nCSeq: 1 INVITE\nContent-Length: 0\n\n")
    quoted = pw.ipv4("10.0.0.1", "10.0.0.2", 17, pw.udp(5060, 5060, invite, "10.0.0.1", "10.0.0.2"))
    icmp = struct.pack(">BBHI", 3, 3, 0, 0) + quoted  # port unreachable quoting the INVITE (RFC 792)
    icmp = icmp[:2] + struct.pack(">H", pw.inet_checksum(icmp)) + icmp[4:]
    sampled = pw.ethernet(pw.ipv4("10.0.0.2", "10.0.0.1", 1, icmp))
    # sFlow v5 (sflow.org/sflow_version_5.txt): a flow sample holding one raw packet header record (format 1)
    header = struct.pack(">IIII", 1, len(sampled), 4, len(sampled)) + sampled + bytes(-len(sampled) % 4)
    record = struct.pack(">II", 1, len(header)) + header
    sample_body = struct.pack(">IIIIIIII", 1, 1, 256, 1000, 0, 1, 2, 1) + record
    sample = struct.pack(">II", 1, len(sample_body)) + sample_body
    datagram = struct.pack(">II4sIIII", 5, 1, bytes([192, 0, 2, 1]), 0, 1, 1000, 1) + sample
    frame = pw.ethernet(pw.ipv4("192.0.2.1", "192.0.2.9", 17, pw.udp(6343, 6343, datagram)))
    path = tmp_path / "sflow.pcap"
    pw.write_pcap(path, [(T0, frame)], pw.LINKTYPE_ETHERNET, nanos=True)
    a = sipdiag.analyze(path, engine="tshark")
    assert (a.capture.packets, a.sip.messages, a.icmp_errors, a.anomalies) == (1, 0, (), ())


def test_a_pipe_is_refused_by_the_tshark_engine_at_once(tmp_path: Path) -> None:
    """The engine reads the file twice (the record walk, then tshark): a FIFO waited for a writer forever, or, with
    one, was read up by the walk and then called 'a directory' by pyshark."""
    need_tool("tshark")
    fifo = tmp_path / "live.pcap"
    os.mkfifo(fifo)
    r = _run_cli("analyze", str(fifo), "--engine", "tshark")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"Error: --engine tshark reads a capture file twice; {fifo} is not a regular file (a pipe or a device)",
        "Hint: Save the capture to a file first, or use --engine native."]


@pytest.mark.parametrize(("step_s", "code", "detail"), [
    (-3600.0, "capture.time-backwards", "the record time goes back 3599.985 s from the record before it"),
    (2 * 86_400.0, "capture.time-jump", "the record time goes forward 2.0 days from the record before it")])
def test_clock_steps_are_named_as_the_native_engine_names_them(tmp_path: Path, step_s: float, code: str,
                                                               detail: str) -> None:
    """The tshark engine kept the capture's clock steps for the timings but named none of them: the same
    capture.time-backwards / capture.time-jump anomaly as the native engine, at the same frame."""
    from tests import callcapture as cc

    need_tool("tshark")
    script = cc.call_setup(cc.Script(), "tsk-step")
    cc.two_way(script, 0.5, 4.0)  # 200 packets each way
    cc.bye(script, 5.0, "tsk-step")
    path = script.write(tmp_path / "step.pcap", step_at=2.0, step_s=step_s)
    native = sipdiag.analyze(path)
    tshark = sipdiag.analyze(path, engine="tshark")
    expected = [(code, 154, f"{detail}: durations across it are not real")]
    assert [(a.code, a.frame, a.detail) for a in native.anomalies] == expected
    assert [(a.code, a.frame, a.detail) for a in tshark.anomalies] == expected
    assert tshark.capture.clock == native.capture.clock == ClockSteps((154,), 1)
    assert (tshark.calls[0].duration_s, native.calls[0].duration_s) == (None, None)
