"""benchmarks/gencapture.py: a tiny capture read back with dpkt (and tshark where installed) must hold exactly the
dialogs and RTP streams the generator says it wrote."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from benchmarks import gencapture
from tests.pcapwriter import inet_checksum

dpkt = pytest.importorskip("dpkt")

ROOT = Path(__file__).resolve().parents[2]
CALLS, DURATION_S = 3, 2.0
PER_STREAM = 100  # 2 s of 20 ms packets


def read_frames(path: Path) -> list[tuple[float, bytes]]:
    with open(path, "rb") as f:
        reader = dpkt.pcapng.Reader(f) if path.suffix == ".pcapng" else dpkt.pcap.Reader(f)
        return [(float(ts), bytes(buf)) for ts, buf in reader]


def parse_sip(payload: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = payload.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, body


def decode(frames):
    """-> (sip messages as (ts, ip, udp, start line, headers, body), rtp packets as (ts, ip, udp, rtp))."""
    sip, rtp = [], []
    for ts, buf in frames:
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        assert isinstance(ip, dpkt.ip.IP)
        assert inet_checksum(bytes(buf[14:34])) == 0  # the IPv4 header checksum verifies
        udp = ip.data
        pseudo = ip.src + ip.dst + struct.pack("!xBH", 17, udp.ulen)
        assert inet_checksum(pseudo + bytes(buf[34:])) == 0  # so does the UDP checksum (RFC 768)
        if udp.sport == 5060 or udp.dport == 5060:
            sip.append((ts, ip, udp, *parse_sip(bytes(udp.data))))
        else:
            rtp.append((ts, ip, udp, dpkt.rtp.RTP(bytes(udp.data))))
    return sip, rtp


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The same 3-call capture as pcap and pcapng, with its manifest."""
    out = tmp_path_factory.mktemp("gen")
    kwargs = dict(calls=CALLS, duration_s=DURATION_S, spread=0.0, loss=0.02, seed=7)
    summary = gencapture.generate(out / "tiny.pcap", manifest=out / "tiny.json", **kwargs)
    gencapture.generate(out / "tiny.pcapng", fmt="pcapng", **kwargs)
    return summary, out / "tiny.pcap", out / "tiny.pcapng", json.loads((out / "tiny.json").read_text())


def test_summary_counts(tiny):
    summary, _, _, manifest = tiny
    dropped = sum(len(s["dropped_seqs"]) for c in manifest["calls"] for s in c["streams"])
    assert dropped > 0  # the test below needs gaps to check
    assert summary.calls == 3
    assert summary.sip_messages == 21
    assert summary.rtp_dropped == dropped
    assert summary.rtp_packets == 2 * CALLS * PER_STREAM - dropped
    assert summary.packets == 21 + 600 - dropped


def test_sip_dialogs_exact(tiny):
    _, pcap, _, manifest = tiny
    sip, _ = decode(read_frames(pcap))
    assert len(sip) == 21
    starts = Counter(m[3].split(" ")[0] if not m[3].startswith("SIP/2.0") else m[3] for m in sip)
    assert starts == {"INVITE": 3, "SIP/2.0 100 Trying": 3, "SIP/2.0 180 Ringing": 3, "SIP/2.0 200 OK": 6,
                      "ACK": 3, "BYE": 3}
    by_call = defaultdict(list)
    for _, _, _, start, headers, body in sip:
        assert int(headers["Content-Length"]) == len(body)  # exact, RFC 3261 §20.14
        by_call[headers["Call-ID"]].append((start.split(" ")[0] if not start.startswith("SIP") else start,
                                            headers["CSeq"].split(" ")[1]))
    assert sorted(by_call) == sorted(c["call_id"] for c in manifest["calls"])
    for flow in by_call.values():
        assert flow == [("INVITE", "INVITE"), ("SIP/2.0 100 Trying", "INVITE"), ("SIP/2.0 180 Ringing", "INVITE"),
                        ("SIP/2.0 200 OK", "INVITE"), ("ACK", "ACK"), ("BYE", "BYE"), ("SIP/2.0 200 OK", "BYE")]
    branches = [h["Via"].split("branch=")[1].split(";")[0] for _, _, _, s, h, _ in sip if not s.startswith("SIP")]
    assert len(set(branches)) == 9  # INVITE, ACK and BYE are three transactions per call
    from_tags = {h["From"].split("tag=")[1] for *_, h, _ in sip}
    # the UA's tag, and the PBX's in the BYEs (and their 200s) that the PBX sends: From/To swap (RFC 3261 §12.2.1.1)
    assert from_tags == {c["from_tag"] for c in manifest["calls"]} | \
        {c["to_tag"] for c in manifest["calls"] if not c["bye_from_ua"]}


def test_rtp_streams_follow_sdp_and_lose_only_what_the_manifest_says(tiny):
    _, pcap, _, manifest = tiny
    sip, rtp = decode(read_frames(pcap))
    # Media addresses from the SDP: offer in the INVITE (the UA), answer in the 200 OK to the INVITE (the PBX).
    sdp_media = {}
    for _, _, _, start, headers, body in sip:
        if headers.get("Content-Type") == "application/sdp":
            text = body.decode()
            addr = text.split("c=IN IP4 ")[1].split("\r\n")[0]
            port, *pts = text.split("m=audio ")[1].split("\r\n")[0].replace("RTP/AVP ", "").split(" ")
            role = "ua" if start.startswith("INVITE") else "pbx"
            sdp_media[(headers["Call-ID"], role)] = (addr, int(port), int(pts[0]))
    streams = defaultdict(list)
    for ts, ip, udp, packet in rtp:
        key = (dpkt.utils.inet_to_str(ip.src), udp.sport, dpkt.utils.inet_to_str(ip.dst), udp.dport, packet.ssrc)
        streams[key].append((ts, packet))
    assert len(streams) == 6
    for call in manifest["calls"]:
        ua_addr, ua_port, ua_pt = sdp_media[(call["call_id"], "ua")]
        pbx_addr, pbx_port, pbx_pt = sdp_media[(call["call_id"], "pbx")]
        assert ua_pt == pbx_pt == call["payload_type"]  # the answer keeps the offer's first codec
        up, down = call["streams"]
        assert (up["src_ip"], up["src_port"], up["dst_ip"], up["dst_port"]) == (ua_addr, ua_port, pbx_addr, pbx_port)
        assert (down["src_ip"], down["src_port"], down["dst_ip"], down["dst_port"]) == \
            (pbx_addr, pbx_port, ua_addr, ua_port)
        for plan in (up, down):
            packets = [p for _, p in streams[(plan["src_ip"], plan["src_port"], plan["dst_ip"], plan["dst_port"],
                                              plan["ssrc"])]]
            assert plan["packets"] == PER_STREAM
            assert len(packets) == PER_STREAM - len(plan["dropped_seqs"]) == plan["packets_captured"]
            expected = [(plan["first_seq"] + k) & 0xFFFF for k in range(PER_STREAM)]
            assert [p.seq for p in packets] == [s for s in expected if s not in plan["dropped_seqs"]]
            for p in packets:
                k = (p.seq - plan["first_seq"]) & 0xFFFF
                assert p.ts == (plan["first_timestamp"] + 160 * k) & 0xFFFFFFFF
                assert (p.version, p.pt, p.m, len(p.data)) == (2, call["payload_type"], int(k == 0), 160)


def test_first_call_pbx_stream_wraps_its_sequence_number(tiny):
    _, _, _, manifest = tiny
    first = manifest["calls"][0]["streams"][1]
    assert first["first_seq"] == 65536 - PER_STREAM // 2


def test_times_sorted_and_calls_overlap(tiny):
    summary, pcap, _, manifest = tiny
    times = [ts for ts, _ in read_frames(pcap)]
    assert times == sorted(times)
    calls = sorted((c["invite_ns"], c["bye_ok_ns"]) for c in manifest["calls"])
    assert calls[1][0] < calls[0][1]  # the second call starts before the first ends
    assert summary.first_ns == calls[0][0]


def test_pcapng_holds_the_same_packets(tiny):
    _, pcap, pcapng, _ = tiny
    a, b = read_frames(pcap), read_frames(pcapng)
    assert [buf for _, buf in a] == [buf for _, buf in b]
    assert max(abs(ta - tb) for (ta, _), (tb, _) in zip(a, b, strict=True)) < 2e-6  # µs vs ns resolution


def test_same_seed_same_bytes_and_no_loss_gives_full_streams(tmp_path):
    paths = [tmp_path / "a.pcap", tmp_path / "b.pcap"]
    for path in paths:
        gencapture.generate(path, calls=2, duration_s=0.5, spread=0.0, loss=0.0, seed=3)
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert len(digests) == 1
    _, rtp = decode(read_frames(paths[0]))
    assert Counter(p.ssrc for *_, p in rtp) == {ssrc: 25 for ssrc in {p.ssrc for *_, p in rtp}}
    assert len(rtp) == 2 * 2 * 25


def test_nat_calls_have_private_sdp_and_public_sources(tmp_path):
    path, manifest_path = tmp_path / "nat.pcap", tmp_path / "nat.json"
    gencapture.generate(path, calls=2, duration_s=0.2, spread=0.0, loss=0.0, nat_fraction=1.0,
                        manifest=manifest_path)
    manifest = json.loads(manifest_path.read_text())
    sip, rtp = decode(read_frames(path))
    for call in manifest["calls"]:
        assert call["nat"] is True
        assert call["ua_contact_ip"].startswith("192.168.") and call["ua_ip"].startswith("198.51.100.")
        invite = next(m for m in sip if m[3].startswith("INVITE") and m[4]["Call-ID"] == call["call_id"])
        assert dpkt.utils.inet_to_str(invite[1].src) == call["ua_ip"]
        assert f"c=IN IP4 {call['ua_contact_ip']}" in invite[5].decode()
        trying = next(m for m in sip if m[3] == "SIP/2.0 100 Trying" and m[4]["Call-ID"] == call["call_id"])
        assert trying[4]["Via"].endswith(f";rport={call['ua_port']};received={call['ua_ip']}")
        up = call["streams"][0]
        assert up["src_ip"] == call["ua_ip"] and up["src_port"] != call["ua_sdp_port"]
    assert len(rtp) == 2 * 2 * 10


def test_cli_writes_pcapng_and_prints_a_summary(tmp_path):
    out = tmp_path / "cli.pcapng"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gencapture.py"), "--calls", "1",
                             "--duration", "0.1", "--spread", "0", "--loss", "0", "--format", "pcapng",
                             "--out", str(out)], capture_output=True, text=True, check=True)
    assert result.stdout.startswith(f"{out}: 17 packets (7 SIP, 10 RTP, 0 RTP dropped), 1 calls (0 behind NAT)")
    assert out.read_bytes()[:4] == bytes.fromhex("0a0d0d0a")


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (apt-get install tshark)")
def test_tshark_sees_the_dialogs_and_streams(tiny):
    _, pcap, _, manifest = tiny
    out = subprocess.run(["tshark", "-q", "-n", "-r", str(pcap), "-z", "sip,stat", "-z", "rtp,streams"],
                         capture_output=True, text=True, check=True).stdout
    assert "Number of SIP messages: 21" in out
    assert "Number of resent SIP messages: 0" in out
    rows = [line.split() for line in out.splitlines() if "g711" in line]
    assert len(rows) == 6
    expected = sorted((format(s["ssrc"], "#010X").replace("0X", "0x"), s["packets_captured"])
                      for c in manifest["calls"] for s in c["streams"])
    assert sorted((r[6], int(r[8])) for r in rows) == expected


# --- the runner (benchmarks/run.py), with stand-in commands so it runs anywhere -----------------------------------

def test_runner_measures_each_child_and_writes_json(tiny, tmp_path):
    _, pcap, pcapng, _ = tiny
    figures = tmp_path / "figures.json"
    sleeper = f"{sys.executable} -c 'import sys, time; b = bytearray(64 << 20); time.sleep(0.05)' {{file}}"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), str(pcap), str(pcapng),
                             "--rounds", "2", "--sipdiag-cmd", sleeper, "--tshark-cmd", "true", "--json",
                             str(figures)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    document = json.loads(figures.read_text())
    assert document["rounds"] == 2
    assert [Path(f["path"]).name for f in document["files"]] == ["tiny.pcap", "tiny.pcapng"]
    for entry in document["files"]:
        sipdiag, tshark = entry["tools"]["sipdiag"], entry["tools"]["tshark"]
        assert tshark["command"] == ["true", entry["path"]]
        assert len(sipdiag["runs"]) == len(tshark["runs"]) == 2
        # ru_maxrss is the child's own: the 64 MiB it allocated, not the runner's memory
        assert 64 <= sipdiag["peak_rss_mb"] < 200
        # `true` itself takes a few MB; a fork counts what it shares with the runner until the exec (measured
        # 20.1 MB once on a busy machine): far below the 64 MiB the other child holds, which is what tells them apart
        assert tshark["peak_rss_mb"] < 48
        assert min(r["wall_s"] for r in sipdiag["runs"]) >= 0.05
        assert set(entry["ratio_tshark_over_sipdiag"]) == {"wall", "peak_rss"}
    assert "peak RSS MB by file" in result.stdout


def test_runner_fails_only_on_an_error(tiny):
    _, pcap, _, _ = tiny
    runner = [sys.executable, str(ROOT / "benchmarks" / "run.py"), str(pcap), "--rounds", "1"]
    findings = subprocess.run([*runner, "--sipdiag-cmd", "sh -c 'exit 1'", "--tshark-cmd", "true"],
                              capture_output=True, text=True)
    assert findings.returncode == 0  # analyze's exit 1 means "findings", a result
    broken = subprocess.run([*runner, "--sipdiag-cmd", "true", "--tshark-cmd", "sh -c 'echo boom >&2; exit 2'"],
                            capture_output=True, text=True)
    assert broken.returncode == 2
    assert broken.stderr.startswith("Error: tshark exited 2: sh -c echo boom >&2; exit 2 ")
    assert "boom" in broken.stderr
