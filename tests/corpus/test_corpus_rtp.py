"""The RTP statistics engine against tshark, stream by stream (issue 5).

For every RTP stream `tshark -z rtp,streams` reports, with the RTP heuristic on, in the third-party corpus and in
the lab's own captures (samples/pcaps), sipdiag's engine must give the same packets, lost (exactly), max delta,
max jitter and mean jitter (within 1 % or 0.01 ms). tshark is Wireshark 4.0; its `rtp.heuristic_rtp`
preference is gone from the preference list there (`-o rtp.heuristic_rtp:TRUE` is still taken as an obsolete
alias), so the heuristic is switched on the documented way, `--enable-heuristic rtp_udp`.

tshark reads the capture once, as the engine does, and learns dynamic payload types from the SDP it has seen; the
engine runs with `infer_clocks=False` here, so that a dynamic type no SDP names has no clock and no jitter, as in
tshark (sipdiag's default infers the clock from the timestamps: see the opus pair below).

sipdiag's `lost` counts packets never received (RFC 3550 A.1/A.3 with duplicates counted once); tshark's is
expected - packets, so a duplicate lowers it by one. sipdiag reports that figure too (`lost_wireshark`), and it
must equal tshark's everywhere except where tshark does not see the packets as RTP at all. The named deliberate
differences are below, each with the reason; a difference that disappears fails the test too, so the table stays
true.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

import sipdiag
from sipdiag.parsers.columns import RtpColumns
from sipdiag.parsers.scan import scan_capture
from sipdiag.rtpresult import RtpStatsResult, RtpStreamStats
from sipdiag.rtpstats import RtpStatsEngine
from tests.conftest import CORPUS, ROOT, SAMPLES, corpus_captures, corpus_id, need_tool

pytestmark = [pytest.mark.tshark]

NOT_A_CAPTURE = {"wireshark-wiki/c07-sip-r2.cap"}  # Microsoft Network Monitor format
CAPTURES = [p for p in corpus_captures() if corpus_id(p) not in NOT_A_CAPTURE] + sorted(SAMPLES.glob("*.pcap"))
TSHARK_OPTIONS = ["-n", "-q", "--enable-heuristic", "rtp_udp", "-z", "rtp,streams"]

Key = tuple[str, int, str, int, int]


@dataclass(frozen=True)
class Deliberate:
    fields: frozenset[str]  # the figures that differ from tshark's
    reason: str


DUPLICATES = ("tshark counts the duplicates as received packets (lost = expected - packets, here below zero); "
              "sipdiag counts them once, so lost = tshark's lost + duplicates, and lost_wireshark equals tshark's")
DELIBERATE: dict[tuple[str, Key], Deliberate] = {
    ("sipp/dtmf_2833_1.pcap", ("192.168.0.3", 49176, "192.168.0.1", 10000, 0x0E05384E)): Deliberate(
        frozenset({"lost"}), "the RFC 4733 end packet is sent three times, two of them as exact duplicates "
                             "(same sequence number): " + DUPLICATES),
    ("wireshark-wiki/testing.ext.pcap", ("192.168.1.36", 44612, "192.168.1.87", 5064, 0x96ED8530)): Deliberate(
        frozenset({"lost"}), "two H.264 packets are captured twice: " + DUPLICATES),
    ("wireshark-wiki/FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", ("10.35.60.100", 15580, "10.23.1.52", 16756, 0x0EAF0EAF)):
        Deliberate(frozenset({"packets", "lost", "lost_wireshark", "max_delta", "max_jitter", "mean_jitter"}),
                   "after the re-INVITE to T.38 (m=image udptl) tshark dissects the port as UDPTL because the SDP "
                   "says so, and stops counting; the gateway keeps sending PCMA RTP (V=2, PT 8, the same SSRC) "
                   "for 2010 more packets, which sipdiag, classifying by the RTP header, keeps counting"),
}

_LINE = re.compile(r"^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-F]{8})\s+(.*?)\s+(\d+)\s+(-?\d+)\s+"
                   r"\((-?[\d.]+)%\)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)")


@dataclass(frozen=True)
class TsharkStream:
    key: Key
    payload: str
    packets: int
    lost: int
    max_delta: float
    max_jitter: float
    mean_jitter: float


def tshark_streams(path: Path) -> list[TsharkStream]:
    out = subprocess.run([need_tool("tshark"), "-r", str(path), *TSHARK_OPTIONS], capture_output=True, text=True,
                         check=False).stdout
    streams = []
    for line in out.splitlines():
        m = _LINE.match(line)
        if m:
            g = m.groups()
            streams.append(TsharkStream((g[0], int(g[1]), g[2], int(g[3]), int(g[4], 16)), g[5], int(g[6]),
                                        int(g[7]), float(g[11]), float(g[14]), float(g[13])))
    return streams


def sipdiag_stats(path: Path, **finalize) -> RtpStatsResult:
    """The engine fed the way the capture side feeds it (ingest): RTP batches, SIP and RTCP datagrams."""
    engine = RtpStatsEngine()
    for item in scan_capture(path):
        if isinstance(item, RtpColumns):
            engine.add(item)
        else:
            engine.add_datagram(item)
    return engine.finalize(**finalize)


def close(ours: float, theirs: float) -> bool:
    """Within 1 % or 0.01 ms; tshark prints three decimals, so half a unit of the last one is allowed on top."""
    return abs(ours - theirs) <= max(0.01, 0.01 * abs(theirs)) + 0.0005


def differences(s: RtpStreamStats, t: TsharkStream) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for name, ours, theirs in (("packets", s.packets, t.packets), ("lost", s.lost, t.lost),
                               ("lost_wireshark", s.lost_wireshark, t.lost)):
        if ours != theirs:
            out[name] = (ours, theirs)
    for name, ours, theirs in (("max_delta", s.max_delta_ms, t.max_delta), ("max_jitter", s.jitter_max_ms,
                               t.max_jitter), ("mean_jitter", s.jitter_mean_ms, t.mean_jitter)):
        if not close(ours, theirs):
            out[name] = (round(ours, 3), theirs)
    return out


def compared(path: Path) -> list[tuple[TsharkStream, RtpStreamStats | None, dict[str, tuple]]]:
    """Every stream tshark reports in `path`, sipdiag's stream of the same key (None when it has none), and the
    figures in which they differ."""
    ours = {s.key: s for s in sipdiag_stats(path, infer_clocks=False).streams}
    return [(t, s, differences(s, t) if s is not None else {}) for t in tshark_streams(path) for s in [ours.get(t.key)]]


def name_of(path: Path) -> str:
    return corpus_id(path) if path.is_relative_to(CORPUS) else str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", [pytest.param(p, id=name_of(p), marks=[pytest.mark.corpus] * p.is_relative_to(CORPUS))
                                  for p in CAPTURES])
def test_every_tshark_stream_agrees(path: Path) -> None:
    name = name_of(path)
    streams = compared(path)
    theirs = [t for t, _, _ in streams]
    problems = []
    for t, s, found in streams:
        if s is None:
            problems.append(f"{t.key} {t.payload}: tshark's stream is not among sipdiag's")
            continue
        named = DELIBERATE.get((name, t.key))
        if named is None:
            if found:
                problems.append(f"{t.key} {t.payload}: {found}")
            continue
        if set(found) != named.fields:
            problems.append(f"{t.key}: the named difference changed: differs in {sorted(found)}, "
                            f"named {sorted(named.fields)} ({named.reason})")
        if "lost" in named.fields and "packets" not in named.fields:
            assert s.lost == t.lost + s.duplicates, named.reason
    for (file, key), named in DELIBERATE.items():
        if file == name and key not in {t.key for t in theirs}:
            problems.append(f"{key}: named deliberate difference, but tshark reports no such stream")
    assert not problems, "\n".join(problems)


@pytest.mark.corpus
def test_named_differences_are_in_the_corpus() -> None:
    files = {name_of(p) for p in CAPTURES}
    if not corpus_captures():
        pytest.skip(f"third-party corpus not found at {CORPUS} (set SIPDIAG_CORPUS)")
    assert {file for file, _ in DELIBERATE} <= files


# ------------------------------------------------------------------------------------------------ the opus pair

OPUS_KEY = ("10.24.17.53", 12668, "10.24.17.123", 16596, 0x3760BFAA)


@pytest.mark.corpus
@pytest.mark.parametrize(("file", "lost", "packets"), [("opus_fec_rtp.pcapng", 0, 3000),
                                                         ("opus_fec_dropped.pcapng", 29, 2971)])
def test_opus_pair(corpus: Path, file: str, lost: int, packets: int) -> None:
    path = corpus / "pcaps" / "asterisk-testsuite" / file
    s = sipdiag_stats(path).stream(*OPUS_KEY)
    assert s is not None
    assert (s.packets, s.expected, s.lost, s.lost_wireshark, s.duplicates) == (packets, 3000, lost, lost, 0)
    assert (s.loss_runs, s.loss_run_max) == (lost, min(lost, 1))  # single packets dropped
    # no SDP in these captures: the 960 ticks per 20 ms give the Opus clock (RFC 7587: always 48 kHz)
    assert (s.payload_type, s.codec, s.clock_rate, s.clock_source) == (107, None, 48000, "inferred")


# ------------------------------------------------------------------------------------- the codec: most media packets


@pytest.mark.corpus
@pytest.mark.parametrize(("file", "key", "payload_types"), [
    # a Cisco gateway's NSE 194 (PT 100, 3 packets at the fax tone) before 2981 PCMA and 163 CN packets
    ("wireshark-wiki/FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", ("10.23.1.52", 16756, "10.35.60.100", 15580, 0x17D90134),
     (8, 13, 100)),
    # one RFC 2198 RED packet (PT 99, nobody named it) first, then two PCMA packets
    ("ndpi/fuzz-2006-06-26-2594.pcap", ("192.168.1.2", 30000, "212.242.33.36", 40392, 0x3796CB71), (8, 99)),
], ids=["fax-nse", "fuzz-red"])
def test_the_codec_is_the_payload_type_of_most_media_packets(corpus: Path, file: str, key: Key,
                                                             payload_types: tuple[int, ...]) -> None:
    s = sipdiag_stats(corpus / "pcaps" / file).stream(*key)
    assert s is not None
    assert (s.payload_types, s.codec, s.clock_rate, s.clock_source) == (payload_types, "PCMA", 8000, "static")


@pytest.mark.corpus
def test_the_fax_calls_pcma_stream_is_rated_as_g711(corpus: Path) -> None:
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")
    (m,) = [m for m in a.streams if m.stats.ssrc == 0x17D90134]
    q = m.quality
    assert q is not None
    # no loss; the jitter-buffer discards are not rated, the timestamps restart after the refused T.38 switch
    assert (round(q.mos, 2), q.estimate, q.factors[0].explanation) == (
        4.37, True, "G.711 A-law has no coding impairment")


@pytest.mark.corpus
def test_the_fax_calls_restarted_timestamps_are_no_audio_dropout(corpus: Path) -> None:
    """After the refused switch to T.38 the gateway restarts its PCMA timestamps at 0, below the stream's first:
    446 packets, which came every 20 ms, are stamped out of sequence, and Wireshark's max delta (tshark agrees:
    test_rtp_streams_equal_tshark) spans them, 9199.842 ms to frame 4049. That was a major media.burst-loss "arrival
    gap of 9200 ms". The longest arrival gap is the gateway's real 286 ms pause at the re-INVITE (frame 3149), with no
    packet lost across it; the 6 packets late for a 50 ms buffer are not counted after a timestamp restart."""
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "FAX-Call-t38-CA-TDM-SIP-FB-1.pcap")
    (m,) = [m for m in a.streams if m.stats.ssrc == 0x17D90134]
    s = m.stats
    assert (s.wrong_timestamps, round(s.max_delta_ms, 3), s.max_delta_frame) == (446, 9199.842, 4049)
    assert (round(s.arrival_gap_ms, 3), s.arrival_gap_frame, s.lost, s.late_50ms) == (286.074, 3149, 0, 6)
    assert [(f.rule, f.severity.label) for f in a.findings if f.evidence.get("stream") == m.label] == [
        ("media.sequence-anomalies", "info")]


def tshark_dscp(path: Path) -> dict[Key, tuple[int, int]]:
    """Per RTP stream (one IP layer, IPv4 or IPv6): the first packet's DSCP and how many packets carry another."""
    out = subprocess.run([need_tool("tshark"), "-r", str(path), "-n", "--enable-heuristic", "rtp_udp", "-Y", "rtp",
                          "-T", "fields", "-E", "separator=|", "-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport",
                          "-e", "ip.dst", "-e", "ipv6.dst", "-e", "udp.dstport", "-e", "rtp.ssrc",
                          "-e", "ip.dsfield.dscp", "-e", "ipv6.tclass.dscp"],
                         capture_output=True, text=True, check=False).stdout
    streams: dict[Key, list[int]] = {}
    for line in out.splitlines():
        src4, src6, sport, dst4, dst6, dport, ssrc, d4, d6 = line.split("|")
        if "," in src4 + src6 + sport + ssrc or not ssrc:  # tunnelled (two IP layers) or two RTP headers
            continue
        key = (src4 or src6, int(sport), dst4 or dst6, int(dport), int(ssrc, 16))
        streams.setdefault(key, []).append(int(d4 or d6))
    return {k: (v[0], sum(1 for d in v if d != v[0])) for k, v in streams.items()}


@pytest.mark.parametrize("path", [pytest.param(p, id=name_of(p), marks=[pytest.mark.corpus] * p.is_relative_to(CORPUS))
                                  for p in CAPTURES])
def test_dscp_equals_tshark(path: Path) -> None:
    theirs = tshark_dscp(path)
    ours = {s.key: (s.dscp, s.dscp_remarked) for s in sipdiag_stats(path).streams if s.dscp is not None}
    wrong = {k: (v, theirs[k]) for k, v in ours.items() if k in theirs and theirs[k] != v}
    assert not wrong, wrong  # 175 streams of the corpus and lab compared; DSCP 0, 1, 3, 4, 10, 40, 45, 46 seen
