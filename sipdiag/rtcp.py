"""RTCP (RFC 3550 §6): sender and receiver reports with their report blocks, XR VoIP metrics (RFC 3611 §4.7),
compound packets, and the round-trip time from LSR/DLSR (RFC 3550 §6.4.1, RULES.md §1.5).

The round trip is measured with capture times, never the endpoints' clocks: an RR (or SR) report block whose
LSR equals the middle 32 bits of an SR's NTP timestamp seen in the capture gives
RTT = (arrival of the report - arrival of that SR) - DLSR: the round trip between the capture point and the
reporter (the whole RTT when the capture is taken at the SR's sender).

RTCP packets are few (one per stream every few seconds), so they are parsed one by one.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .model import Datagram

SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR = 200, 201, 202, 203, 204, 205, 206, 207
TYPE_NAMES = {SR: "SR", RR: "RR", SDES: "SDES", BYE: "BYE", APP: "APP", RTPFB: "RTPFB", PSFB: "PSFB", XR: "XR"}
XR_VOIP_METRICS = 7  # RFC 3611 §4.7
XR_UNAVAILABLE = 127  # R factor and MOS fields: "unavailable"
SR_HISTORY = 16  # SRs remembered per sender for LSR matching
MAX_PACKETS = 50_000  # parsed RTCP packets kept for the report; summaries cover all of them


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """RFC 3550 §6.4.1 report block, as sent by `reporter_ssrc` about `source_ssrc`."""

    reporter_ssrc: int
    source_ssrc: int
    fraction_lost_pct: float  # the 8-bit fraction since the previous report, in %
    cumulative_lost: int  # signed 24 bits (negative with duplicates)
    highest_seq: int  # extended highest sequence number received
    jitter: int  # interarrival jitter in the source's timestamp units
    lsr: int  # middle 32 bits of the last SR's NTP time, 0: none yet
    dlsr: int  # delay since that SR, 1/65536 s
    rtt_ms: float | None  # from LSR/DLSR and the capture times, when the SR is in the capture


@dataclass(frozen=True, slots=True)
class VoipMetrics:
    """RFC 3611 §4.7 VoIP metrics block (None where the sender marks a value unavailable)."""

    reporter_ssrc: int
    source_ssrc: int
    loss_rate_pct: float
    discard_rate_pct: float
    burst_density_pct: float
    gap_density_pct: float
    burst_duration_ms: int
    gap_duration_ms: int
    round_trip_ms: int
    end_system_delay_ms: int
    r_factor: int | None
    mos_lq: float | None
    mos_cq: float | None
    jb_nominal_ms: int
    jb_max_ms: int
    jb_abs_max_ms: int


@dataclass(frozen=True, slots=True)
class RtcpPacket:
    """One RTCP packet of a (possibly compound) datagram."""

    frame: int
    ts_ns: int
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    packet_type: str  # SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR, or the number
    ssrc: int | None
    ntp: int | None = None  # SR: 64-bit NTP timestamp
    rtp_timestamp: int | None = None
    sender_packets: int | None = None
    sender_octets: int | None = None
    blocks: tuple[ReportBlock, ...] = ()
    voip_metrics: tuple[VoipMetrics, ...] = ()


@dataclass(frozen=True, slots=True)
class RtcpSummary:
    """What `reporter_ssrc` reported about `source_ssrc` over the capture."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    reporter_ssrc: int
    source_ssrc: int
    reports: int
    fraction_lost_pct_max: float
    fraction_lost_pct_last: float
    cumulative_lost_last: int
    jitter_max: int  # timestamp units of the source
    rtt_ms_min: float | None
    rtt_ms_mean: float | None
    rtt_ms_max: float | None
    rtt_samples: int
    jitter_max_ms: float | None = None  # with the clock of the source's stream, when the capture has it


@dataclass(frozen=True, slots=True)
class RtcpResult:
    packets: tuple[RtcpPacket, ...]
    summaries: tuple[RtcpSummary, ...]
    datagrams: int
    trailing: int  # datagrams with bytes after the last RTCP packet (SRTCP's index and tag, or damage)
    dropped: int  # packets beyond MAX_PACKETS (counted in the summaries, not listed)


def parse_rtcp(payload: bytes) -> tuple[list[tuple[int, int, bytes]], bool]:
    """Split a compound datagram (RFC 3550 §6.1) into (packet type, count field, body) parts; the flag is False
    when a length runs past the end or the version is not 2."""
    parts = []
    off = 0
    while off + 4 <= len(payload):
        first, ptype, words = struct.unpack_from("!BBH", payload, off)
        end = off + 4 * (words + 1)
        if first >> 6 != 2 or end > len(payload):
            return parts, False
        body = payload[off + 4 : end]
        if first & 0x20 and body:  # padding (only the last packet of a compound may have it)
            body = body[: len(body) - body[-1]] if body[-1] <= len(body) else body
        parts.append((ptype, first & 0x1F, body))
        off = end
    return parts, off == len(payload)


def _blocks(body: bytes, off: int, count: int, reporter: int) -> list[tuple]:
    blocks = []
    for _ in range(count):
        if off + 24 > len(body):
            break
        source, lost_word, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", body, off)
        cumulative = lost_word & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 1 << 24
        blocks.append((reporter, source, (lost_word >> 24) * 100 / 256, cumulative, highest, jitter, lsr, dlsr))
        off += 24
    return blocks


def _voip_metrics(body: bytes, reporter: int) -> list[VoipMetrics]:
    out = []
    off = 4  # after the XR sender SSRC
    while off + 4 <= len(body):
        block_type, _specific, words = struct.unpack_from("!BBH", body, off)
        end = off + 4 + 4 * words
        if end > len(body):
            break
        if block_type == XR_VOIP_METRICS and words == 8:
            (source, loss, discard, burst_d, gap_d, burst_ms, gap_ms, rtd, esd, _signal, _noise, _rerl, _gmin, r,
             _ext_r, mos_lq, mos_cq, _rx, _res, jb_nom, jb_max, jb_abs) = struct.unpack_from(
                "!IBBBBHHHHbbBBBBBBBBHHH", body, off + 4)
            out.append(VoipMetrics(reporter, source, loss * 100 / 256, discard * 100 / 256, burst_d * 100 / 256,
                                   gap_d * 100 / 256, burst_ms, gap_ms, rtd, esd,
                                   None if r == XR_UNAVAILABLE else r,
                                   None if mos_lq == XR_UNAVAILABLE else mos_lq / 10,
                                   None if mos_cq == XR_UNAVAILABLE else mos_cq / 10, jb_nom, jb_max, jb_abs))
        off = end
    return out


class RtcpTracker:
    """Folds RTCP datagrams in capture order; memory is bounded by MAX_PACKETS and SR_HISTORY per sender.

    sound(a, b): whether no clock step of the capture lies between frames a and b, as far as it has been read
    (sipdiag.clocksteps); a round-trip time across one is not measured. None: the clock never steps."""

    def __init__(self, sound: Callable[[int, int], bool] | None = None) -> None:
        self.sound = sound
        self.packets: list[RtcpPacket] = []
        self.dropped = 0
        self.datagrams = 0
        self.trailing = 0
        self.sr_times: dict[int, deque[tuple[int, int, int]]] = {}  # SSRC -> (NTP middle 32 bits, ns, frame)
        self.summary: dict[tuple, list] = {}

    def add(self, d: Datagram) -> None:
        self.datagrams += 1
        parts, complete = parse_rtcp(d.payload)
        if not complete:
            self.trailing += 1
        for ptype, count, body in parts:
            self._packet(d, ptype, count, body)

    def _packet(self, d: Datagram, ptype: int, count: int, body: bytes) -> None:
        ssrc = struct.unpack_from("!I", body)[0] if len(body) >= 4 else None
        fields: dict = {}
        raw_blocks: list[tuple] = []
        if ptype == SR and len(body) >= 24:
            ntp, rtp_ts, packets, octets = struct.unpack_from("!QIII", body, 4)
            fields = {"ntp": ntp, "rtp_timestamp": rtp_ts, "sender_packets": packets, "sender_octets": octets}
            history = self.sr_times.setdefault(ssrc, deque(maxlen=SR_HISTORY))
            history.append(((ntp >> 16) & 0xFFFFFFFF, d.ts_ns, d.frame))
            raw_blocks = _blocks(body, 24, count, ssrc)
        elif ptype == RR and ssrc is not None:
            raw_blocks = _blocks(body, 4, count, ssrc)
        elif ptype == XR and ssrc is not None:
            fields = {"voip_metrics": tuple(_voip_metrics(body, ssrc))}
        blocks = tuple(ReportBlock(*b, self._rtt(d, b[1], b[6], b[7])) for b in raw_blocks)
        for block in blocks:
            self._summarise(d, block)
        packet = RtcpPacket(d.frame, d.ts_ns, d.src_ip, d.src_port, d.dst_ip, d.dst_port,
                            TYPE_NAMES.get(ptype, str(ptype)), ssrc, blocks=blocks, **fields)
        if len(self.packets) < MAX_PACKETS:
            self.packets.append(packet)
        else:
            self.dropped += 1

    def _rtt(self, d: Datagram, source: int, lsr: int, dlsr: int) -> float | None:
        """RFC 3550 §6.4.1: the report's arrival less the SR's it names (LSR) less the reporter's delay (DLSR),
        both arrivals as this capture saw them."""
        if lsr == 0:
            return None  # no SR received yet (RFC 3550 §6.4.1)
        for mid32, sr_ns, sr_frame in reversed(self.sr_times.get(source, ())):
            if mid32 == lsr:
                if self.sound is not None and not self.sound(sr_frame, d.frame):
                    return None
                return (d.ts_ns - sr_ns) / 1e6 - dlsr * 1000 / 65536
        return None

    def _summarise(self, d: Datagram, b: ReportBlock) -> None:
        key = (d.src_ip, d.src_port, d.dst_ip, d.dst_port, b.reporter_ssrc, b.source_ssrc)
        s = self.summary.get(key)
        if s is None:
            # reports, fraction max, fraction last, cumulative last, jitter max, rtt min, rtt sum, rtt max, n
            s = self.summary[key] = [0, 0.0, 0.0, 0, 0, None, 0.0, None, 0]
        s[0] += 1
        s[1] = max(s[1], b.fraction_lost_pct)
        s[2], s[3] = b.fraction_lost_pct, b.cumulative_lost
        s[4] = max(s[4], b.jitter)
        if b.rtt_ms is not None:
            s[5] = b.rtt_ms if s[5] is None else min(s[5], b.rtt_ms)
            s[7] = b.rtt_ms if s[7] is None else max(s[7], b.rtt_ms)
            s[6] += b.rtt_ms
            s[8] += 1

    def result(self) -> RtcpResult:
        summaries = tuple(
            RtcpSummary(*key, s[0], s[1], s[2], s[3], s[4], s[5], s[6] / s[8] if s[8] else None, s[7], s[8])
            for key, s in self.summary.items()
        )
        return RtcpResult(tuple(self.packets), summaries, self.datagrams, self.trailing, self.dropped)
