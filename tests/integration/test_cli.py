"""The `sipdiag` command: exact output, exact `Error: …` lines and the documented exit codes."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag import __version__
from sipdiag.cli import cli
from sipdiag.errors import UsageError
from tests import callcapture as cc
from tests import pcapwriter as pw
from tests.conftest import validate_json_document

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
    doc = validate_json_document(result.output)
    assert doc["schema"] == "sipdiag.analysis/1"
    c = doc["capture"]
    assert (c["format"], c["link_types"], c["packets"], c["sip_messages"], c["rtp_packets"]) == (
        "pcap", ["ethernet"], 5, 2, 3)
    assert c["first_time"] == "2023-11-14T22:13:20.000000+00:00"
    assert c["duration_s"] == 0.06
    assert doc["sip"]["requests"] == {"INVITE": 1}
    assert doc["sip"]["responses"] == {"100": 1}
    (stream,) = doc["streams"]
    assert {k: stream[k] for k in ("src_ip", "src_port", "dst_ip", "dst_port", "ssrc", "payload_type", "codec",
                                   "packets", "lost", "first_frame", "call_id", "bound_by")} == {
        "src_ip": "192.168.1.10", "src_port": 4000, "dst_ip": "203.0.113.5", "dst_port": 5000, "ssrc": "0x00001234",
        "payload_type": 0, "codec": "PCMU", "packets": 3, "lost": 0, "first_frame": 3, "call_id": "cli-test-1",
        "bound_by": "heuristic"}


def test_analyze_terminal_summary(capture: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", str(capture)])
    assert result.exit_code == 0
    assert "Packets  5" in result.output
    assert "SIP      2 messages over udp 2" in result.output
    assert "RTP      3 packets in 1 streams; RTCP 0 packets" in result.output


def test_analyze_in_process_leaves_the_cyclic_collector_on(capture: Path) -> None:
    """As the `sipdiag` program, analyze runs with the cyclic collector off (the process ends with it); called
    in-process, it must hand the collector back on, also when the command fails."""
    import gc

    assert gc.isenabled()
    assert CliRunner().invoke(cli, ["analyze", str(capture), "--format", "json"]).exit_code == 0
    assert gc.isenabled()
    assert CliRunner().invoke(cli, ["analyze", str(capture), "--call", "no-such-call"]).exit_code == 2
    assert gc.isenabled()


def test_gzip_and_stdin_read_the_same(capture: Path, tmp_path: Path) -> None:
    gz = tmp_path / "small.pcap.gz"
    gz.write_bytes(gzip.compress(capture.read_bytes()))
    plain = validate_json_document(run("analyze", str(capture), "--format", "json").stdout)["capture"]
    zipped = validate_json_document(run("analyze", str(gz), "--format", "json").stdout)["capture"]
    piped = validate_json_document(run("analyze", "-", "--format", "json", stdin=capture.read_bytes()).stdout)[
        "capture"]
    assert zipped["compressed"] is True
    for doc in (plain, zipped, piped):
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


def test_a_file_name_with_a_newline_and_an_escape_stays_one_visible_error_line(tmp_path: Path) -> None:
    """File names are hostile too (they come from tickets and mail attachments): a newline split the error line
    in two, an ESC sequence acted on the terminal. Both are shown as visible escapes."""
    bogus = tmp_path / "call\n\x1b[2J.pcap"
    bogus.write_text("not a capture\n")
    result = run("analyze", str(bogus))
    assert result.returncode == 3
    shown = f"{tmp_path}/call\\x0a\\x1b[2J.pcap"
    assert result.stderr.decode().splitlines() == [
        f"Error: {shown} is not a pcap or pcapng file",
        "Hint: Check it with 'capinfos FILE'; convert other formats with 'editcap -F pcap IN OUT'."]


def test_a_gzip_cut_inside_its_first_block_is_exit_3_naming_the_damaged_gzip(capture: Path, tmp_path: Path) -> None:
    """`head -c 20 some.pcap.gz > cut.pcap.gz`: the error named a path to check and permissions (or the capture
    format), when the gzip file itself is cut short."""
    cut = tmp_path / "cut.pcap.gz"
    packed = io.BytesIO()
    with gzip.GzipFile(filename="small.pcap", fileobj=packed, mode="wb", mtime=0) as gz:  # named, as `gzip FILE` does
        gz.write(capture.read_bytes())
    cut.write_bytes(packed.getvalue()[:20])
    result = run("analyze", str(cut))
    assert (result.returncode, result.stdout) == (3, b"")
    assert result.stderr.decode().splitlines() == [
        f"Error: {cut} is a damaged gzip file, cut short (the compressed data ends before the end of the gzip "
        "stream): no packet could be read from it",
        "Hint: Test it with 'gzip -t FILE'. A file cut short was copied while it was still being written or its "
        "transfer was interrupted; one with corrupt data was damaged on the way: copy it again from where it was "
        "captured."]


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


@pytest.mark.parametrize("command", ["analyze", "streams", "flow", "reply"])
def test_an_output_file_that_cannot_be_opened_is_exit_3(command: str, capture: Path, tmp_path: Path) -> None:
    """README: 3 for an output file that cannot be written; click's own code for it (1) means findings here."""
    target = tmp_path / "no-such-folder" / "out.txt"
    result = run(command, str(capture), "-o", str(target))
    assert result.returncode == 3
    assert result.stderr.decode().splitlines() == [
        f"Error: {target}: cannot open (No such file or directory)",
        "Hint: check that the folder exists and that you may write there.",
    ]


@pytest.mark.parametrize("args", [["analyze", "--select", "media.pakcet-loss"], ["analyze", "--ignore", "medai"],
                                  ["reply", "--select", "nat.nope"],
                                  ["extract", "--with-findings", "--select", "x", "-o", "-"]])
def test_a_rule_that_does_not_exist_is_a_usage_error(args: list[str], capture: Path) -> None:
    """A mistyped rule id would run nothing and show a clean capture: it stops the command instead."""
    result = run(args[0], str(capture), *args[1:])
    option, entry = args[-2:] if args[0] != "extract" else args[-4:-2]
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        f"Error: {option} {entry!r} names no rule",
        "Hint: `sipdiag rules` lists the ids; a prefix such as `media` or `call.ack` selects several.",
    ]


@pytest.mark.parametrize("args", [
    ["--select", "media", "--ignore", "media"],
    ["--ignore", "media", "--select", "media.one-way-audio"],  # whichever option click handles first
    ["--ignore", "media", "--ignore", "nat", "--ignore", "codec", "--ignore", "router", "--ignore", "signaling",
     "--ignore", "registration", "--ignore", "security"],
])
def test_a_selection_that_leaves_no_rule_is_refused(capture: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["analyze", str(capture), *args])
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"Error: {' '.join(_ordered(args))} leaves no rule to run"
    from sipdiag.checks import run_checks
    from sipdiag.errors import UsageError

    with pytest.raises(UsageError, match="leaves no rule to run"):  # the library refuses it too
        run_checks(None, select=[a for o, a in zip(args, args[1:]) if o == "--select"],
                   ignore=[a for o, a in zip(args, args[1:]) if o == "--ignore"])


def _ordered(args: list[str]) -> list[str]:
    pairs = list(zip(args[::2], args[1::2]))
    return [x for pair in sorted(pairs, key=lambda p: p[0] != "--select") for x in pair]


def test_rule_prefixes_and_categories_still_select(capture: Path) -> None:
    for args in (["--select", "media"], ["--select", "call.ack"], ["--select", "signaling"], ["--ignore", "sec"]):
        result = CliRunner().invoke(cli, ["analyze", str(capture), "--format", "json", *args])
        assert result.exit_code == 0, (args, result.output)


def test_usage_error_is_one_line_and_exit_2() -> None:
    # click's own usage errors end like ours: one Error line and a hint, exit 2 (not the synopsis first)
    cases = [
        (("analyze",), "Error: Missing argument 'CAPTURE'.", "sipdiag analyze"),
        (("analyze", "x.pcap", "--format", "yaml"),
         "Error: Invalid value for '--format': 'yaml' is not one of 'terminal', 'json', 'html', 'csv', 'junit'.",
         "sipdiag analyze"),
        (("--bogus",), "Error: No such option '--bogus'.", "sipdiag"),
        (("nosuch",), "Error: No such command 'nosuch'.", "sipdiag"),
        (("case", "list", "--limit\x1b[2J"), "Error: No such option '--limit\\x1b[2J'.", "sipdiag case list"),
    ]
    for args, error, command in cases:
        result = run(*args)
        assert result.returncode == 2, args
        assert result.stderr.decode().splitlines() == [error, f"Hint: try '{command} --help'."], args


def test_truncated_capture_reports_anomaly_and_exit_0(capture: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(capture.read_bytes()[:-50])
    result = run("analyze", str(cut), "--format", "json")
    assert result.returncode == 0
    doc = validate_json_document(result.stdout)
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


def test_analyze_shows_calls_and_registrations(tmp_path: Path) -> None:
    from tests.conftest import SAMPLES

    result = run("analyze", str(SAMPLES / "ack_dropped.pcap"))
    assert result.returncode == 1  # the lost ACK is a major finding (--fail-on major)
    out = result.stdout.decode()
    assert "Calls (1)" in out
    # The lost ACK makes the call a problem call: its details and ladder follow, retransmissions marked.
    assert "Ended        BYE from the callee, frame 121" in out
    assert out.count("retransmission") == 10
    reg = run("analyze", str(SAMPLES / "register_wrong_password.pcap")).stdout.decode()
    assert "Registrations (1)" in reg and "failed" in reg and "403" in reg


def refused_calls(path: Path, count: int, status: str, prefix: str) -> Path:
    """`count` calls a second apart (Call-IDs prefix01, prefix02, ... or prefix1 ... below 10 calls), each refused
    with `status` and acknowledged."""
    messages = []
    for n in range(1, count + 1):
        call_id = f"{prefix}{n:02d}" if count >= 10 else f"{prefix}{n}"
        messages += [
            (n, cc.sip_message("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", src=cc.UA, to_tag=False),
             cc.UA, cc.PBX),
            (n + 0.1, cc.sip_message(f"SIP/2.0 {status}", call_id, "1 INVITE", src=cc.UA), cc.PBX, cc.UA),
            (n + 0.11, cc.sip_message("ACK sip:200@example.com SIP/2.0", call_id, "1 ACK", src=cc.UA), cc.UA, cc.PBX)]
    return cc.write_sip(path, messages)


def test_the_details_of_calls_with_problems_stop_at_50_and_say_how_many_more(tmp_path: Path) -> None:
    """52 calls refused with 503: the first 50 are shown with their details and ladder, as the anomalies table stops
    at 50; then one line says how many more there are and where to see them. Before, every one was printed (a
    capture of thousands of failed calls printed thousands of ladders)."""
    result = run("analyze", str(refused_calls(tmp_path / "failed.pcap", 52, "503 Service Unavailable", "failed-")))
    lines = result.stdout.decode().splitlines()
    assert [line for line in lines if line.startswith("Call ")] == [f"Call failed-{n:02d}" for n in range(1, 51)]
    assert lines[-1] == "... 2 more calls with problems (see --call CALL-ID|#N for one, --format json)"


def test_the_calls_table_stops_at_its_limit_and_says_how_many_more(tmp_path: Path, monkeypatch) -> None:
    """The terminal's calls table lists as many calls as the HTML page (2000; 2 here) and says how many more: a
    capture of 200 000 calls printed 200 000 rows. The title still counts them all."""
    import io

    import sipdiag
    from sipdiag.reports import terminal

    monkeypatch.setattr(terminal, "CALLS_SHOWN", 2)
    out = io.StringIO()
    terminal.render_terminal(sipdiag.analyze(refused_calls(tmp_path / "busy.pcap", 3, "486 Busy Here", "busy-")), out)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Calls (3)"))
    rows = [line.split()[:2] for line in lines[start:] if line.split()[:1] in (["1"], ["2"], ["3"])]
    assert rows == [["1", "busy-1"], ["2", "busy-2"]]
    assert "... 1 more calls (see --format csv or json)" in lines


def test_analyze_one_call_by_number_and_by_id() -> None:
    from tests.conftest import SAMPLES

    by_number = validate_json_document(run("analyze", str(SAMPLES / "busy_486.pcap"), "--call", "#1", "--format",
                                            "json").stdout)
    assert [(c["call_id"], c["outcome"], c["final_status"]) for c in by_number["calls"]] == [
        ("busy_486-1@sdlab", "busy", 486)]
    by_id = validate_json_document(run("analyze", str(SAMPLES / "busy_486.pcap"), "--call", "busy_486-1@sdlab",
                                        "--format", "json").stdout)
    assert by_id["calls"] == by_number["calls"]
    missing = run("analyze", str(SAMPLES / "busy_486.pcap"), "--call", "#2")
    assert missing.returncode == 2
    assert missing.stderr.decode().splitlines()[0] == "Error: there is no call #2: the capture has 1 call(s)"


def test_a_call_id_that_looks_like_a_call_number_is_found_by_its_call_id(tmp_path: Path) -> None:
    """Calls #1 "first-1", #2 "#3" (a Call-ID as a device may send it), #3 "third-3": "#3" names the call whose
    Call-ID it is exactly; another "#N" is still the N-th call. Before, "#3" was always call number 3, and the
    call whose Call-ID is "#3" could not be named at all."""
    messages = []
    for n, call_id in enumerate(("first-1", "#3", "third-3")):
        messages += [
            (n, cc.sip_message("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", src=cc.UA, to_tag=False),
             cc.UA, cc.PBX),
            (n + 0.1, cc.sip_message("SIP/2.0 486 Busy Here", call_id, "1 INVITE", src=cc.UA), cc.PBX, cc.UA),
            (n + 0.11, cc.sip_message("ACK sip:200@example.com SIP/2.0", call_id, "1 ACK", src=cc.UA), cc.UA, cc.PBX)]
    path = cc.write_sip(tmp_path / "hash.pcap", messages)
    analysis = sipdiag.analyze(path)
    assert [analysis.find_call(ref).call_id for ref in ("#3", "#1", "#2", "third-3", "thir")] == [
        "#3", "first-1", "#3", "third-3", "third-3"]
    with pytest.raises(UsageError, match=r"^there is no call #4: the capture has 3 call\(s\)$"):
        analysis.find_call("#4")
    by_id = validate_json_document(run("analyze", str(path), "--call", "#3", "--format", "json").stdout)
    assert [(c["call_id"], c["first_frame"]) for c in by_id["calls"]] == [("#3", 4)]

def test_flow_mermaid_and_text() -> None:
    from tests.conftest import SAMPLES

    mermaid = run("flow", str(SAMPLES / "cancelled_487.pcap"), "--format", "mermaid").stdout.decode()
    assert mermaid.splitlines() == [
        "sequenceDiagram",
        "    title Call cancelled_487-1@sdlab",
        "    participant H1 as 203.0.113.20:5060",
        "    participant H2 as 203.0.113.10:5060",
        "    H1->>H2: INVITE +SDP (+0.000 s, frame 3)",
        "    H2->>H1: 100 Trying (+0.000 s, frame 4)",
        "    H2->>H1: 180 Ringing (+0.001 s, frame 5)",
        "    H1->>H2: CANCEL (+1.504 s, frame 6)",
        "    H2->>H1: 200 OK (CANCEL) (+1.504 s, frame 7)",
        "    H2->>H1: 487 Request Terminated (+1.505 s, frame 8)",
        "    H1->>H2: ACK (+1.505 s, frame 9)",
    ]
    text = run("flow", str(SAMPLES / "invite_timeout.pcap"), "--format", "text").stdout.decode().splitlines()
    assert text[0] == "Call invite_timeout-1@sdlab: sip:200@203.0.113.10 -> sip:300@203.0.113.10, timeout"
    assert sum("retransmission" in line for line in text) == 6


def test_streams_command_lists_every_stream_with_its_call() -> None:
    from tests.conftest import SAMPLES

    out = run("streams", str(SAMPLES / "nat_symmetric_rtp.pcap")).stdout.decode()
    rows = [line for line in out.splitlines() if "0x5D1A0001" in line]
    assert len(rows) == 2
    assert "sdp" in rows[0] and "latching" in rows[1] and all("#1" in r and "PCMU" in r for r in rows)
    doc = json.loads(run("streams", str(SAMPLES / "rtp_loss.pcap"), "--format", "json").stdout)
    assert sorted(doc) == ["schema", "streams"] and doc["schema"] == "sipdiag.analysis/1"
    for stream in doc["streams"]:  # the document's streams[] records, on their own
        validate_json_document(stream, "stream")
    assert sorted((s["direction"], s["packets"], s["lost"]) for s in doc["streams"]) == [
        ("callee->caller", 150, 0), ("caller->callee", 143, 7)]


STREAMS_RU_HEAD = [
    "RTP-потоки (2)",
    "┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━"
    "━━┳━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━┳━━━━━━━━━━┓",
    "┃                   ┃                   ┃            ┃       ┃        ┃          ┃        макс. ┃       "
    "макс. ┃         ср. ┃      ┃       ┃          ┃",
    "┃ источник          ┃ назначение        ┃ SSRC       ┃ кодек ┃ пакеты ┃ потеряно ┃ интервал, мс ┃ джиттер, "
    "мс ┃ джиттер, мс ┃  MOS ┃ вызов ┃ привязка ┃",
    "┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━"
    "━━╇━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━╇━━━━━━━━━━┩",
]


def test_streams_in_russian() -> None:
    """`streams --lang ru`: the table's title, headings and binding words in Russian, the figures and addresses as
    in English; --lang en is the default, and the JSON is the same in both languages."""
    from tests.conftest import SAMPLES

    sample = str(SAMPLES / "nat_symmetric_rtp.pcap")
    russian = CliRunner().invoke(cli, ["streams", sample, "--lang", "ru"])
    assert russian.exit_code == 0
    lines = [line.rstrip() for line in russian.output.splitlines()]
    assert lines[:5] == STREAMS_RU_HEAD
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines[5:7]]
    assert rows == [
        ["203.0.113.2:6000", "203.0.113.10:7000", "0x5D1A0001", "PCMU", "50", "0 (0.0%)", "20.118", "1.246", "0.401",
         "4.37", "#1", "SDP"],
        ["203.0.113.10:7000", "203.0.113.2:6000", "0x5D1A0001", "PCMU", "50", "0 (0.0%)", "20.158", "1.245", "0.408",
         "4.37", "#1", "латчинг"]]
    english = CliRunner().invoke(cli, ["streams", sample]).output
    assert english == CliRunner().invoke(cli, ["streams", sample, "--lang", "en"]).output
    assert [line.rstrip() for line in english.splitlines()][:3:2] == [
        "RTP streams (2)",
        "┃ source            ┃ destination       ┃ SSRC       ┃ codec ┃ packets ┃     lost ┃ max delta ms "
        "┃ max jitter ms ┃ mean jitter ms ┃  MOS ┃ call ┃ bound by ┃"]
    as_json = [CliRunner().invoke(cli, ["streams", sample, "--format", "json", *lang]).output
               for lang in ((), ("--lang", "ru"))]
    assert as_json[0] == as_json[1] and json.loads(as_json[0])["streams"][1]["bound_by"] == "latching"
    assert CliRunner().invoke(cli, ["streams", sample, "--lang", "de"]).exit_code == 2


def gap_and_cut_capture(path: Path) -> Path:
    """A call over TCP whose second segment comes after 20 bytes lost before the capture point (tcp.gap, frame 2),
    in a file that ends 10 bytes into the header of a third record (pcap.truncated-record)."""
    invite = pw.sip_bytes("INVITE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10;branch=z9hG4bK2\n"
                          "From: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>\nCall-ID: gap-1\n"
                          "CSeq: 1 INVITE\nMax-Forwards: 70\nContent-Length: 0\n\n")
    ok = pw.sip_bytes("SIP/2.0 200 OK\nVia: SIP/2.0/TCP 192.168.1.10;branch=z9hG4bK2\nl: 0\n\n")
    bye = pw.sip_bytes("BYE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10;branch=z9hG4bK3\n"
                       "From: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>;tag=b\nCall-ID: gap-1\n"
                       "CSeq: 2 BYE\nMax-Forwards: 70\nContent-Length: 0\n\n")

    def segment(seq: int, payload: bytes) -> bytes:
        tcp = pw.tcp(5060, 5060, seq, payload, src="192.168.1.10", dst="203.0.113.5")
        return pw.ethernet(pw.ipv4("192.168.1.10", "203.0.113.5", 6, tcp))

    t0 = 1_700_000_000_000_000_000
    after_gap = 1 + len(invite) + 20  # the first 20 bytes of the 200 OK never reached the capture point
    pw.write_pcap(path, [(t0, segment(1, invite)), (t0 + 10**6, segment(after_gap, ok[20:] + bye))],
                  pw.LINKTYPE_ETHERNET)
    with open(path, "ab") as f:
        f.write(bytes(10))
    return path


ANOMALIES_RU = [
    "Аномалии (2)",
    "┏━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━"
    "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓",
    "┃ код                   ┃ кадр ┃ описание                                                                   "
    "                               ┃",
    "┡━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━"
    "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩",
    "│ tcp.gap               │    2 │ пропуск в потоке TCP 192.168.1.10:5060 -> 203.0.113.5:5060 перед кадром 2: "
    "размер пропуска 20 байт        │",
    "│                       │      │ (данные потеряны до точки захвата); после пропуска поток синхронизирован "
    "заново                           │",
    "│ pcap.truncated-record │    3 │ обрезанная последняя запись: файл обрывается после 10 байт заголовка "
    "записи 3                             │",
    "└───────────────────────┴──────┴────────────────────────────────────────────────────────────────────────────"
    "───────────────────────────────┘",
]


def test_the_russian_report_gives_the_anomalies_in_russian(tmp_path: Path) -> None:
    """`analyze --lang ru`: a TCP gap and a truncated last record with their details in Russian; the JSON keeps
    the English `detail` of its contract, and nothing else, whatever --lang."""
    capture = gap_and_cut_capture(tmp_path / "gap.pcap")
    result = CliRunner().invoke(cli, ["analyze", str(capture), "--lang", "ru"])
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines[lines.index("Аномалии (2)"):] == ANOMALIES_RU
    doc = json.loads(CliRunner().invoke(cli, ["analyze", str(capture), "--format", "json", "--lang", "ru"]).output)
    assert doc["anomalies"] == [
        {"code": "tcp.gap", "frame": 2, "detail": "20 bytes missing from 192.168.1.10:5060 -> 203.0.113.5:5060 "
                                                  "before frame 2 (lost before the capture point); the stream is "
                                                  "resynchronised after the hole"},
        {"code": "pcap.truncated-record", "frame": 3, "detail": "the file ends 10 bytes into the header of record 3"}]
    english = CliRunner().invoke(cli, ["analyze", str(capture)]).output
    assert "│ pcap.truncated-record │     3 │ the file ends 10 bytes into the header of record 3" in english


def test_an_internal_error_is_one_line_not_a_traceback(monkeypatch, capture: Path) -> None:
    import sipdiag.analysis

    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(sipdiag.analysis, "analyze", broken)
    result = CliRunner().invoke(cli, ["analyze", str(capture)])
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == "Error: internal error (ValueError: boom)"
    assert "Traceback" not in result.output
