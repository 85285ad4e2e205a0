"""The `sipdiag` command: exact output, exact `Error: …` lines and the documented exit codes."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sipdiag import __version__
from sipdiag.cli import cli
from tests import pcapwriter as pw

INVITE = """INVITE sip:bob@203.0.113.5 SIP/2.0
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK-1
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: cli-test-1
CSeq: 1 INVITE
Content-Length: 0

"""
TRYING = """SIP/2.0 100 Trying
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK-1
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: cli-test-1
CSeq: 1 INVITE
Content-Length: 0

"""


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """Two SIP messages and three RTP packets of one stream, on Ethernet."""
    records = [
        (1_700_000_000_000_000_000, pw.sip_udp_frame(INVITE)),
        (1_700_000_000_010_000_000, pw.sip_udp_frame(TRYING, src="203.0.113.5", dst="192.168.1.10")),
    ]
    for i in range(3):
        rtp = pw.rtp_packet(seq=100 + i, ts=160 * i, ssrc=0x1234)
        frame = pw.link_frame(pw.ipv4("192.168.1.10", "203.0.113.5", 17, pw.udp(4000, 5000, rtp)))
        records.append((1_700_000_000_020_000_000 + i * 20_000_000, frame))
    path = tmp_path / "small.pcap"
    pw.write_pcap(path, records, pw.LINKTYPE_ETHERNET)
    return path


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """The real console entry point, as an engineer runs it."""
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], input=stdin, capture_output=True, check=False)


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"sipdiag, version {__version__}\n"


def test_analyze_json_summary(capture: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", str(capture), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == "sipdiag.analysis/1"
    c = doc["capture"]
    assert (c["format"], c["link_types"], c["packets"], c["sip_messages"], c["rtp_packets"]) == (
        "pcap", ["ethernet"], 5, 2, 3)
    assert c["first_time"] == "2023-11-14T22:13:20.000000+00:00"
    assert c["duration_s"] == 0.06
    assert doc["sip"]["requests"] == {"INVITE": 1}
    assert doc["sip"]["responses"] == {"100": 1}
    assert doc["rtp_streams"] == [{"src_ip": "192.168.1.10", "src_port": 4000, "dst_ip": "203.0.113.5",
                                   "dst_port": 5000, "ssrc": "0x00001234", "payload_type": 0, "packets": 3,
                                   "first_frame": 3}]


def test_analyze_terminal_summary(capture: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", str(capture)])
    assert result.exit_code == 0
    assert "Packets  5" in result.output
    assert "SIP      2 messages over udp 2" in result.output
    assert "RTP      3 packets in 1 streams; RTCP 0 packets" in result.output


def test_gzip_and_stdin_read_the_same(capture: Path, tmp_path: Path) -> None:
    gz = tmp_path / "small.pcap.gz"
    gz.write_bytes(gzip.compress(capture.read_bytes()))
    plain = json.loads(run("analyze", str(capture), "--format", "json").stdout)["capture"]
    zipped = json.loads(run("analyze", str(gz), "--format", "json").stdout)["capture"]
    piped = json.loads(run("analyze", "-", "--format", "json", stdin=capture.read_bytes()).stdout)["capture"]
    assert zipped["compressed"] is True
    for doc in (zipped, piped):
        assert (doc["packets"], doc["sip_messages"], doc["rtp_packets"]) == (5, 2, 3)


def test_not_a_capture_is_exit_3_with_one_error_line(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a capture at all\n")
    result = run("analyze", str(bogus))
    assert result.returncode == 3
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert lines[0] == f"Error: {bogus} is not a pcap or pcapng file"
    assert lines[1].startswith("Hint: Check it with 'capinfos FILE'")
    assert b"Traceback" not in result.stderr


def test_missing_file_is_exit_3(tmp_path: Path) -> None:
    result = run("analyze", str(tmp_path / "nope.pcap"))
    assert result.returncode == 3
    assert result.stderr.decode().splitlines()[0] == f"Error: {tmp_path / 'nope.pcap'}: no such file"


def test_empty_file_is_exit_3(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    result = run("analyze", str(empty))
    assert result.returncode == 3
    assert result.stderr.decode().splitlines()[0] == f"Error: {empty} is not a pcap or pcapng file (it is 0 bytes long)"


def test_usage_error_is_exit_2() -> None:
    result = run("analyze")
    assert result.returncode == 2
    assert "Error: Missing argument 'CAPTURE'." in result.stderr.decode()
    result = run("analyze", "x.pcap", "--format", "yaml")
    assert result.returncode == 2


def test_truncated_capture_reports_anomaly_and_exit_0(capture: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(capture.read_bytes()[:-50])
    result = run("analyze", str(cut), "--format", "json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["capture"]["packets"] == 4
    assert [a["code"] for a in doc["anomalies"]] == ["pcap.truncated-record"]
    assert doc["anomalies"][0]["frame"] == 5


def test_hostile_header_text_is_inert_in_the_terminal(tmp_path: Path) -> None:
    """Wire text quoted in an anomaly carries an OSC escape sequence and rich markup: both are shown as text."""
    evil = INVITE.replace("Max-Forwards: 70", "X-Evil\x1b]0;pwned\x07 [bold]x[/bold] no colon", 1)
    path = tmp_path / "evil.pcap"
    pw.write_pcap(path, [(0, pw.sip_udp_frame(evil))], pw.LINKTYPE_ETHERNET)
    result = run("analyze", str(path))
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "\x1b" not in out and "\x07" not in out
    assert "[bold]x[/bold]" in out  # markup would have been swallowed and rendered as a bold 'x'
    assert "sip.bad-header-line" in out
