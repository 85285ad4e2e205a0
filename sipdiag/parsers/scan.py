"""The capture layer's one entry point: a capture in, a stream of SIP-side datagrams and RTP column batches out.

    scan = scan_capture("call.pcap")
    for item in scan:          # per chunk: its Datagrams (SIP, RTCP, STUN, ICMP; few) in frame order, then its
        ...                    # RtpColumns (the bulk, frame order inside); chunks follow each other in file order
    scan.info                  # CaptureInfo: format, link types, packets, times, counts, anomalies

Memory is bounded by the chunk size whatever the file's size: each chunk's records are decoded, handed on and
dropped before the next chunk is read.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..clocksteps import ClockStepLog, ClockSteps
from ..model import Anomaly, Datagram, build_datagram
from .anomalies import AnomalyLog
from .anomalytexts import Detail, detail
from .capture import CaptureFile, InterfaceStats, RecordBatch, read_capture
from .columns import DSCP_UNKNOWN, Kind, RtpColumns, decode_batch
from .linktypes import linktype_name
from .net import RichPath, RtpRow


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """What the capture is: the `capture` object of the JSON contract."""

    file: str
    format: str  # pcap | pcapng
    compressed: bool
    link_types: tuple[str, ...]
    interfaces: int
    packets: int
    first_ts_ns: int | None
    last_ts_ns: int | None
    bytes: int
    truncated_packets: int  # caplen < origlen: cut by the snap length
    kinds: dict[str, int]  # packets by what the capture layer made of them
    rich: dict[str, int]  # what the rich path saw (tcp, icmp, gre, hep, ip-fragment, ...)
    interface_stats: tuple[InterfaceStats, ...]
    anomalies: tuple[Anomaly, ...]
    clock: ClockSteps = ClockSteps()  # where the record times step (sipdiag.clocksteps)

    @property
    def duration_s(self) -> float | None:
        """From the first record to the last; None when the clock steps in between (not a measurement)."""
        if self.first_ts_ns is None or self.last_ts_ns is None:
            return 0.0
        if self.clock.stepped:
            return None
        return (self.last_ts_ns - self.first_ts_ns) / 1e9


@dataclass
class CaptureScan:
    """Iterate once; `info` is complete when the iteration has ended."""

    path: str | Path
    info: CaptureInfo | None = None
    _log: AnomalyLog = field(default_factory=AnomalyLog)
    _clock: ClockStepLog = field(default_factory=ClockStepLog)

    def __iter__(self) -> Iterator[Datagram | RtpColumns]:
        self._log = AnomalyLog()  # a second pass starts afresh instead of doubling the anomalies
        clock = self._clock = ClockStepLog()
        file = CaptureFile(name=str(self.path))
        rich = RichPath(self._log)
        kinds: Counter[str] = Counter()
        first = last = None
        truncated = 0
        total_bytes = 0
        for batch in read_capture(self.path, file):
            decoded = decode_batch(batch, file.interfaces)
            counts = np.bincount(decoded.kind, minlength=len(Kind))
            for k in Kind:
                if counts[k]:
                    kinds[k.name.lower()] += int(counts[k])
            truncated += decoded.truncated
            total_bytes += int(batch.origlen.sum())
            if len(batch):
                time_steps(batch.ts_ns, batch.first_frame, last, self._log, clock)
                first = int(batch.ts_ns[0]) if first is None else first
                last = int(batch.ts_ns[-1])
            yield from batch_datagrams(batch, decoded, file.interfaces, rich)
            rtp = decoded.rtp
            if rich.rtp_rows:
                rtp = merge_rtp(rtp, rtp_rows_to_columns(rich.rtp_rows))
                rich.rtp_rows.clear()
            if len(rtp):
                yield rtp
        yield from rich.finish()
        if rich.rtp_rows:
            yield rtp_rows_to_columns(rich.rtp_rows)
        self._log.extend(file.anomalies)
        self.info = CaptureInfo(
            file=str(self.path),
            format=file.format,
            compressed=file.compressed,
            link_types=tuple(dict.fromkeys(linktype_name(i.linktype) for i in file.interfaces)),
            interfaces=len(file.interfaces),
            packets=file.packets,
            first_ts_ns=first,
            last_ts_ns=last,
            bytes=total_bytes,
            truncated_packets=truncated,
            kinds=dict(kinds),
            rich=dict(rich.counts),
            interface_stats=tuple(file.statistics),
            anomalies=self._log.anomalies(),
            clock=clock.steps(),
        )

    def sound(self, a: int, b: int) -> bool:
        """No clock step between frames a and b, as far as the scan has read (sipdiag.clocksteps)."""
        return self._clock.sound(a, b)

    def add_anomaly(self, anomaly: Anomaly) -> None:
        """Later stages (the SIP parser) report into the same bounded log while the scan runs."""
        self._log.add_anomaly(anomaly)


# A record whose time is more than a second behind the one before it, or more than a day after it: a damaged record
# header, captures of unsynchronised hosts merged, a host clock reset mid-capture. Durations and timers measured
# across such a step are not real, so the report names it. Records of several interfaces merged by dumpcap may be
# a few milliseconds out of order; that is not a step.
TIME_BACK_NS = 1_000_000_000
TIME_JUMP_NS = 86_400 * 1_000_000_000


def record_deltas(ts_ns: np.ndarray, before: int | None) -> np.ndarray:
    """Each record's time minus the time of the record before it, in one batch (`before`: the previous batch's
    last time; the first record of a feed steps by 0)."""
    return np.diff(ts_ns, prepend=ts_ns[:1] if before is None else np.array([before], dtype=ts_ns.dtype))


def step_positions(ts_ns: np.ndarray, before: int | None) -> np.ndarray:
    """The positions in one batch of the records whose time stepped (back or forward) from the record before it,
    in order: the steps time_steps names."""
    steps = record_deltas(ts_ns, before)
    return np.flatnonzero((steps < -TIME_BACK_NS) | (steps > TIME_JUMP_NS))


def time_steps(ts_ns: np.ndarray, first_frame: int, before: int | None, log: AnomalyLog,
               clock: ClockStepLog | None = None) -> None:
    """Name the backward steps and forward jumps of one batch's record times (record i is frame first_frame + i;
    `before`: the previous batch's last time), as capture.time-backwards and capture.time-jump, and give `clock`
    every step's frame (the log keeps only the first few of each)."""
    steps = record_deltas(ts_ns, before)
    # The kept steps of both kinds go into the log in frame order, the counts beyond them after: kind by kind, a
    # batch's backward steps came before its earlier jumps, so the list's order depended on the batch boundaries.
    kept: list[tuple[int, str]] = []
    rest: list[tuple[str, int]] = []
    for code, where in (("capture.time-backwards", np.flatnonzero(steps < -TIME_BACK_NS)),
                        ("capture.time-jump", np.flatnonzero(steps > TIME_JUMP_NS))):
        if len(where):
            if clock is not None:
                clock.add(where + first_frame, ts_ns[where])
            kept += [(int(i), code) for i in where[:log.keep]]
            rest.append((code, len(where) - min(len(where), log.keep)))
    for i, code in sorted(kept):
        log.add(code, first_frame + i, span=_span(abs(int(steps[i]))))
    for code, n in rest:
        log.add_first(code, [], n)


def _span(ns: int) -> Detail:
    s = ns / 1e9
    return detail("span:days", days=s / 86_400) if s >= 86_400 else detail("span:seconds", seconds=s)


def scan_capture(path: str | Path) -> CaptureScan:
    """Open a capture for one pass. Raises CaptureFormatError / CaptureReadError when iteration starts."""
    return CaptureScan(path)


def address(hi: int, lo: int) -> str:
    """The text form of a (hi, lo) 128-bit column address; IPv4-mapped ones as dotted quads."""
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return socket.inet_ntoa(struct.pack("!I", lo & 0xFFFFFFFF))
    return socket.inet_ntop(socket.AF_INET6, struct.pack("!QQ", hi, lo))


def batch_datagrams(batch: RecordBatch, decoded, interfaces, rich: RichPath) -> list[Datagram]:
    """A decoded batch's SIP-side datagrams in frame order: the fast path's SIP rows, then every record the fast
    path left to the rich path (TCP, fragments, tunnels, ICMP, ...) decoded one by one."""
    datagrams = _fast_sip(batch, decoded.sip)
    for i in decoded.rich:
        iface = int(batch.iface[i])
        linktype = interfaces[iface].linktype if iface >= 0 else -1
        start = int(batch.data_off[i])
        data = batch.buf[start : start + int(batch.caplen[i])]
        datagrams += rich.decode_frame(linktype, data, batch.first_frame + int(i), int(batch.ts_ns[i]))
    datagrams.sort(key=lambda d: d.frame)
    return datagrams


def _fast_sip(batch: RecordBatch, rows) -> list[Datagram]:
    out = []
    buf = batch.buf
    first = batch.first_frame
    names: dict[tuple[int, int], str] = {}  # a batch's SIP comes from few hosts: format each address once

    def name(hi: int, lo: int) -> str:
        text = names.get((hi, lo))
        if text is None:
            text = names[(hi, lo)] = address(hi, lo)
        return text

    dscps = rows.dscp.tolist() if rows.dscp is not None else [None] * len(rows.index)
    for i, sh, sl, dh, dl, sp, dp, off, ln, ts, dscp in zip(
        rows.index.tolist(), rows.src_hi.tolist(), rows.src_lo.tolist(), rows.dst_hi.tolist(), rows.dst_lo.tolist(),
        rows.src_port.tolist(), rows.dst_port.tolist(), rows.payload_off.tolist(), rows.payload_len.tolist(),
        batch.ts_ns[rows.index].tolist(), dscps,
    ):
        frame = first + i
        out.append(build_datagram(frame, ts, name(sh, sl), sp, name(dh, dl), dp, "udp", buf[off : off + ln], (frame,),
                                  "", "sip", dscp))
    return out


def rtp_rows_to_columns(rows: list[RtpRow]) -> RtpColumns:
    """RTP found by the rich path (inside tunnels, reassembled fragments) as columns like the fast path's."""
    n = len(rows)
    frame = np.fromiter((r[0] for r in rows), np.int64, n)
    ts = np.fromiter((r[1] for r in rows), np.int64, n)
    src = np.frombuffer(b"".join(r[2] for r in rows), dtype=">u8").reshape(n, 2).astype(np.uint64)
    dst = np.frombuffer(b"".join(r[3] for r in rows), dtype=">u8").reshape(n, 2).astype(np.uint64)
    sport = np.fromiter((r[4] for r in rows), np.int32, n)
    dport = np.fromiter((r[5] for r in rows), np.int32, n)
    fields = [_rtp_fields(r[6]) for r in rows]
    col = lambda i, dt: np.fromiter((f[i] for f in fields), dt, n)  # noqa: E731
    return RtpColumns(frame, ts, src[:, 0].copy(), src[:, 1].copy(), dst[:, 0].copy(), dst[:, 1].copy(), sport, dport,
                      col(0, bool), col(1, np.int16), col(2, np.int32), col(3, np.int64), col(4, np.int64),
                      col(5, np.int32), col(6, np.int32), col(7, np.int64),
                      np.full(n, DSCP_UNKNOWN, dtype=np.uint8))  # tunnelled/reassembled: outer header not kept


def _rtp_fields(p: bytes) -> tuple[bool, int, int, int, int, int, int, int]:
    """RFC 3550 §5.1 fixed header: marker, payload type, sequence, timestamp, SSRC, payload length, packet length,
    and the first four payload octets as a big-endian word (0 when the payload is shorter)."""
    b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", p, 0)
    hdr = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10 and len(p) >= hdr + 4:
        hdr += 4 + 4 * struct.unpack_from("!H", p, hdr + 2)[0]
    pad = p[-1] if b0 & 0x20 and p else 0
    payload_len = max(len(p) - hdr - pad, 0)
    word = int.from_bytes(p[hdr : hdr + 4], "big") if payload_len >= 4 else 0
    return bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, payload_len, len(p), word


def merge_rtp(a: RtpColumns, b: RtpColumns) -> RtpColumns:
    """Concatenate two column sets and put them back in frame order."""
    if not len(a):
        return b
    names = [k for k in RtpColumns.__slots__ if getattr(a, k) is not None and getattr(b, k) is not None]
    cols = {k: np.concatenate([getattr(a, k), getattr(b, k)]) for k in names}
    order = np.argsort(cols["frame"], kind="stable")
    return RtpColumns(**{k: v[order] for k, v in cols.items()})
