"""`--engine tshark` (issue 10): SIP over TLS decrypted with a key log from a real call against Kamailio, SIP over
SCTP, and the errors (no tshark, no key log, not a capture) as one `Error:` line with a hint and exit code 3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag.cli import cli
from sipdiag.errors import CaptureFormatError, KeylogError, TsharkMissingError, UsageError
from tests import tlspeer
from tests.conftest import CORPUS, SAMPLES, need_tool

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
