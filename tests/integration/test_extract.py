"""`sipdiag extract`: a call's SIP (fragments included), RTP and RTCP copied to a new capture, read back by tshark.

Captures are built here with two calls between the same hosts at the same time (only ports and SSRCs tell their
media apart), a fragmented INVITE, RTCP on port+1, and noise; and the lab's ack_dropped sample.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from sipdiag.cli import cli
from sipdiag.extract import safe_file_name
from tests import callcapture as cc
from tests.callcapture import MS, T0, call_records
from tests import pcapwriter as pw
from tests.conftest import SAMPLES, need_tool

def arp_frame() -> bytes:
    return pw.ethernet(bytes(28), 0x0806)


@pytest.fixture
def two_calls(tmp_path: Path) -> tuple[Path, list[tuple], dict[str, int]]:
    """pcapng, two interfaces: Ethernet (ns) for SIP and call B's media, raw IPv4 (µs) for call A's media.
    Call A: fragmented INVITE, RTP both ways, RTCP; call B at the same time between the same hosts; ARP noise."""
    a, facts = call_records("call-A@example.com", 40000, 50000, (0xA1, 0xA2), T0, 50, fragment_invite=True,
                            rtcp=True, media_link="raw")
    b, _ = call_records("call-B@example.com", 40100, 50100, (0xB1, 0xB2), T0 + 50 * MS, 40)
    noise = [(0, T0 + 700 * MS + k * 100 * MS, arp_frame()) for k in range(3)]
    records = sorted(a + b + noise, key=lambda r: r[1])
    path = tmp_path / "two-calls.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 9), (pw.LINKTYPE_RAW, 6)], records)
    wanted = [r for r in records if r in a]
    return path, wanted, facts


def tshark_fields(path: Path, *fields: str, display: str | None = None) -> list[list[str]]:
    args = [need_tool("tshark"), "-n", "-r", str(path), "-T", "fields", *(x for f in fields for x in ("-e", f))]
    if display:
        args += ["-Y", display]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def invoke(*args: str):
    return CliRunner().invoke(cli, ["extract", *args])


@pytest.mark.tshark
def test_extract_built_pcapng_call(two_calls, tmp_path: Path) -> None:
    path, wanted, facts = two_calls
    assert facts == {"sip_frames": 7, "sip_messages": 5, "rtp": 100, "rtcp": 4}  # 3 INVITE fragments
    out = tmp_path / "a.pcapng"
    result = invoke(str(path), "--call", "call-A@example.com", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 111 packets (7 SIP, 100 RTP, 4 RTCP) of 1 call(s) to {out} (pcapng)\n"
    frames = tshark_fields(out, "frame.interface_id", "frame.time_epoch", "frame.len")
    assert len(frames) == 111
    # Exactly call A's records, in order, each on its own interface with its original time to the nanosecond
    # (interface 0 had ns resolution, interface 1 µs) and length.
    stored = [(iface, ts if iface == 0 else ts // 1000 * 1000, frame) for iface, ts, frame in wanted]  # µs file
    expected = [[str(iface), f"{ts // 10**9}.{ts % 10**9:09d}", str(len(frame))] for iface, ts, frame in stored]
    assert any(ts % 1000 for iface, ts, _ in stored if iface == 0)  # nanoseconds kept where the file had them
    assert frames == expected
    assert len(tshark_fields(out, "frame.number", display="sip")) == 5  # the INVITE reassembled from its fragments
    assert len(tshark_fields(out, "frame.number", display="ip.flags.mf == 1")) == 2
    assert len(tshark_fields(out, "frame.number", display="rtp")) == 100
    assert len(tshark_fields(out, "frame.number", display="rtcp")) == 4
    assert {r[0] for r in tshark_fields(out, "sip.Call-ID", display="sip")} == {"call-A@example.com"}
    assert {r[0] for r in tshark_fields(out, "rtp.ssrc", display="rtp")} == {"0x000000a1", "0x000000a2"}


@pytest.mark.tshark
def test_extract_lab_sample(tmp_path: Path) -> None:
    """ack_dropped: 122 records, of which 6 are ARP; the call is the rest (16 SIP incl. 10 retransmitted 200 OKs,
    100 RTP), with the original link type and microsecond timestamps."""
    sample = SAMPLES / "ack_dropped.pcap"
    out = tmp_path / "ack.pcap"
    result = invoke(str(sample), "--call", "#1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 116 packets (16 SIP, 100 RTP, 0 RTCP) of 1 call(s) to {out} (pcap)\n"
    assert out.read_bytes()[:4] == struct.pack("<I", 0xA1B2C3D4)
    original = tshark_fields(sample, "frame.time_epoch", "frame.len", "frame.protocols")
    kept = [r for r in original if ":arp" not in r[2]]
    assert len(original) == 122 and len(kept) == 116
    assert tshark_fields(out, "frame.time_epoch", "frame.len", "frame.protocols") == kept
    assert len(tshark_fields(out, "frame.number", display="sip")) == 16
    assert len(tshark_fields(out, "frame.number", display="sip.Status-Code == 200 && sip.CSeq.method == INVITE")) == 11
    assert len(tshark_fields(out, "frame.number", display="rtp")) == 100


@pytest.mark.tshark
def test_extract_with_findings_to_stdout(tmp_path: Path) -> None:
    """Two calls, one with 10 % loss on the UA's stream (media.packet-loss): --with-findings takes only that one;
    '-o -' writes the capture to standard output and the summary to standard error."""
    lossy, facts = call_records("lossy@example.com", 40000, 50000, (0xC1, 0xC2), T0, 100, drop_every=10)
    clean, _ = call_records("clean@example.com", 40100, 50100, (0xD1, 0xD2), T0 + 50 * MS, 100)
    path = tmp_path / "mixed.pcap"
    pw.write_pcap(path, sorted(((ts, frame) for _, ts, frame in lossy + clean)), pw.LINKTYPE_ETHERNET, nanos=True)
    proc = subprocess.run([sys.executable, "-m", "sipdiag", "extract", str(path), "--with-findings", "-o", "-"],
                          capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode() == "Wrote 195 packets (5 SIP, 190 RTP, 0 RTCP) of 1 call(s) to - (pcap)\n"
    assert facts["rtp"] == 190
    assert proc.stdout[:4] == struct.pack("<I", 0xA1B23C4D)  # nanosecond pcap, as the original
    out = tmp_path / "stdout.pcap"
    out.write_bytes(proc.stdout)
    assert {r[0] for r in tshark_fields(out, "sip.Call-ID", display="sip")} == {"lossy@example.com"}
    assert len(tshark_fields(out, "frame.number")) == 195


def test_extract_default_name_is_sanitised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -o the file is named from the Call-ID, which comes from the wire: no path, no option, no shell."""
    hostile = "../../x`$(rm -rf ~)`;\x1b[2J@evil"
    records, _ = call_records(hostile, 40000, 50000, (1, 2), T0, 5)
    path = tmp_path / "in.pcap"
    pw.write_pcap(path, [(ts, frame) for _, ts, frame in records], pw.LINKTYPE_ETHERNET)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = invoke(str(path), "--call", "#1")
    assert result.exit_code == 0, result.output
    name = f"call-x_rm_-rf_2J_evil-{safe_file_name(hostile)[-8:]}.pcap"
    assert [p.name for p in work.iterdir()] == [name]
    assert result.output == f"Wrote 15 packets (5 SIP, 10 RTP, 0 RTCP) of 1 call(s) to {name} (pcap)\n"


def test_safe_file_name() -> None:
    assert safe_file_name("abc-1@host") == f"abc-1_host-{zlib.crc32(b'abc-1@host'):08x}"
    assert safe_file_name("plain.id_1") == "plain.id_1"
    assert safe_file_name("-rf").startswith("rf-")
    assert safe_file_name("...").startswith("call-")
    assert len(safe_file_name("x" * 500)) == 60 + 9


def test_extract_unknown_call(two_calls, tmp_path: Path) -> None:
    path, _, _ = two_calls
    result = invoke(str(path), "--call", "nope", "-o", str(tmp_path / "x.pcap"))
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "Error: no call with Call-ID 'nope' in the capture (2 call(s))",
        "Hint: See the calls table of 'sipdiag analyze FILE' for Call-IDs and #N numbers."]
    assert not (tmp_path / "x.pcap").exists()


def test_extract_call_number_out_of_range(two_calls) -> None:
    path, _, _ = two_calls
    result = invoke(str(path), "--call", "#7")
    assert result.exit_code == 2
    assert result.output.splitlines() == ["Error: there is no call #7: the capture has 2 call(s)",
                                          "Hint: Use #1 to #2 or a Call-ID."]
    # other scripts' digits (fullwidth, Arabic-Indic) are no call number: int() reads them, the engineer did not
    for ref in ("#\uff11", "#\u0661"):
        result = invoke(str(path), "--call", ref)
        assert result.exit_code == 2
        assert result.output.splitlines()[0] == f"Error: no call with Call-ID {ref!r} in the capture (2 call(s))"


def test_extract_output_not_writable(two_calls, tmp_path: Path) -> None:
    path, _, _ = two_calls
    target = tmp_path / "missing" / "a.pcap"
    result = invoke(str(path), "--call", "#1", "-o", str(target))
    assert result.exit_code == 3
    assert result.output.splitlines() == [
        f"Error: cannot write {target}: No such file or directory",
        "Hint: Check that the folder exists and that you may write there, or give another path with -o."]
    result = invoke(str(path), "--call", "#1", "-o", str(tmp_path))
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == f"Error: cannot write {tmp_path}: it is a folder"


def test_extract_needs_a_call_and_a_file(two_calls) -> None:
    path, _, _ = two_calls
    result = invoke(str(path))
    assert result.exit_code == 2
    assert result.output.splitlines() == ["Error: say which calls to extract",
                                          "Hint: Give --call CALL-ID|#N (repeatable) or --with-findings."]
    result = invoke("-", "--call", "#1")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == \
        "Error: extract reads the capture twice and cannot take it from standard input"


def test_extract_with_findings_when_there_are_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = cc.answered_call(tmp_path / "clean.pcap")
    monkeypatch.chdir(tmp_path)
    result = invoke(str(path), "--with-findings")
    assert result.exit_code == 0
    assert result.output == "No call has a finding at or above minor: nothing written.\n"
    assert list(tmp_path.iterdir()) == [path]



def stepped_call(script: cc.Script, call_id: str, at: float, ssrcs: tuple[int, int]) -> cc.Script:
    """A call from `at` between the same sockets as every other: RTP both ways from at+0.5 s for 20 s, RTCP from the
    caller at at+2, +7, +12 and +17 s, BYE at at+21 s."""
    cc.call_setup(script, call_id, at=at)
    script.rtp((cc.UA[0], cc.UA_RTP), (cc.PBX[0], cc.PBX_RTP), ssrcs[0], at + 0.5, 20.0)
    script.rtp((cc.PBX[0], cc.PBX_RTP), (cc.UA[0], cc.UA_RTP), ssrcs[1], at + 0.505, 20.0)
    for t in (2.0, 7.0, 12.0, 17.0):
        script.rtcp(at + t, (cc.UA[0], cc.UA_RTP + 1), (cc.PBX[0], cc.PBX_RTP + 1), cc.rtcp_sr(ssrcs[0], at + t))
    return cc.bye(script, at + 21.0, call_id)


@pytest.mark.parametrize(("mine_at", "other_at", "step_at"), [
    (0.0, 40.0, 10.0),  # within the call: its RTCP after the step is stamped up to 18 s before its INVITE
    (30.0, 0.0, 25.0),  # before it: the other call's RTCP is stamped within the call (0 to 21 s)
])
def test_extract_across_a_clock_step_takes_the_calls_frames(tmp_path: Path, mine_at: float, other_at: float,
                                                            step_at: float) -> None:
    """Two calls between the same sockets, the capture's clock stepping back 30 s (capture.time-backwards) within
    the call extracted or before it: its RTCP is chosen by frame, not by the stamped times, so the extracted call
    holds exactly its own SIP, RTP and RTCP records, none of the other call's."""
    from sipdiag.parsers.capture import read_capture

    mine = stepped_call(cc.Script(), "ext-1", mine_at, (0x1111, 0x2222))
    wanted = {data for _, data in mine.recs}
    script = stepped_call(mine, "ext-2", other_at, (0x3333, 0x4444))
    path = script.write(tmp_path / "stepped.pcap", step_at=step_at, step_s=-30.0)
    step = T0 + int(step_at * cc.S)
    expected = [((ts - 30 * cc.S if ts >= step else ts) // 1000 * 1000, data)  # stamped as written, a µs pcap
                for ts, data in script.recs if data in wanted]
    assert len(expected) == len(wanted) == 2009  # every record of the call is told apart by its bytes
    out = tmp_path / "call.pcap"
    result = invoke(str(path), "--call", "ext-1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 2009 packets (5 SIP, 2000 RTP, 4 RTCP) of 1 call(s) to {out} (pcap)\n"
    got = [(int(b.ts_ns[i]), b.buf[b.data_off[i]:b.data_off[i] + b.caplen[i]]) for b in read_capture(out)
           for i in range(len(b))]
    assert got == expected
