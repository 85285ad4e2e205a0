"""Feeds for `sipdiag watch` and `sipdiag capture`: where frames come from, the loop that hands them to the live
engine, and the capture file they are written to.

Feeds (each yields RecordBatches or lists of (ts_ns, bytes, wire length) frames, an empty one about every 100 ms
when nothing arrives, so that the caller can refresh and end idle calls):
- InterfaceFeed: a packet socket with a BPF filter (sipdiag.livecapture);
- HepFeed: a UDP socket receiving HEPv2/v3 from Kamailio, OpenSIPS, FreeSWITCH, Asterisk or heplify; each
  datagram becomes a raw-IP frame (IPv4/UDP from the sender to the listening address, HEP payload inside), so
  the capture layer's own HEP decoding unwraps it and `-w` writes a capture any tool reads (the HEP packets as
  UDP; `sipdiag analyze` unwraps them again; Wireshark needs HOMER's HEP plugin);
- ReplayFeed: a capture file at its original pace (`speed` times faster; a step of the capture's clock takes no
  time), or as fast as it reads (speed None).
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .addresses import join_address
from .errors import CaptureError, OutputError, UsageError
from .live import LiveAnalyzer, LiveResult
from .livecapture import SNAPLEN, Frame, PacketSocket
from .parsers import linktypes as lt
from .parsers.capture import CaptureFile, Interface, RecordBatch, read_capture
from .parsers.livedecode import FrameDecoder, slice_batch
from .parsers.scan import step_positions

TICK_S = 0.1
PACE_AHEAD_NS = 50_000_000  # a paced replay hands on the records due within the next 50 ms of capture time


class InterfaceFeed:
    live = True
    fmt = "pcap"

    def __init__(self, iface: str, bpf: str, promisc: bool = True) -> None:
        self.socket = PacketSocket(iface, bpf, promisc)
        self.name = iface
        self.interfaces = [Interface(0, self.socket.linktype, SNAPLEN, ts_mul_ns=1, name=iface)]

    def batches(self) -> Iterator[list[Frame]]:
        while True:
            yield self.socket.read(timeout_s=TICK_S)

    def close(self) -> None:
        self.socket.close()


def parse_listen(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` (`[v6]:PORT` for IPv6) -> (host, port); host 0.0.0.0 when not given."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--hep-listen {text!r}: expected [HOST:]PORT", hint="For example --hep-listen 9060 or "
                         "--hep-listen 127.0.0.1:9060.")
    return host, int(port)


class HepFeed:
    live = True
    fmt = "pcap"

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self.sock.bind((host, port))
        except OSError as e:
            self.sock.close()
            raise CaptureError(f"cannot listen for HEP on {join_address(host, port)}: {e.strerror or e}",
                               hint="Choose a free port (ports below 1024 need root), or another address.") from None
        self.sock.setblocking(False)
        self.local = self.sock.getsockname()
        self.name = f"hep://{join_address(host, self.local[1])}"
        self.interfaces = [Interface(0, lt.RAW, SNAPLEN, ts_mul_ns=1, name=self.name)]

    def batches(self) -> Iterator[list[Frame]]:
        while True:
            frames: list[Frame] = []
            deadline = time.monotonic() + TICK_S
            while len(frames) < 4096:
                try:
                    data, sender = self.sock.recvfrom(65535)
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                        break
                    continue
                frame = udp_frame(sender[0], sender[1], self.local[0], self.local[1], data)
                frames.append((time.time_ns(), frame, len(frame)))
            yield frames

    def close(self) -> None:
        self.sock.close()


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    """A raw-IP frame (LINKTYPE_RAW) carrying `payload` in UDP; IPv6 when either address is. UDP checksum 0:
    allowed for IPv4 (RFC 768); for IPv6 it is left 0 too (the datagram was checked by our own socket)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if ":" in src or ":" in dst:
        s = socket.inet_pton(socket.AF_INET6, src if ":" in src else "::ffff:" + src)
        d = socket.inet_pton(socket.AF_INET6, dst if ":" in dst else "::ffff:" + dst)
        return struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + s + d + udp
    if dst in ("0.0.0.0", ""):
        dst = "127.0.0.1"
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src),
                         socket.inet_aton(dst))
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + udp


class ReplayFeed:
    live = False

    def __init__(self, path: str | Path, speed: float | None) -> None:
        self.path = path
        self.speed = speed
        self.file = CaptureFile(name=str(path))
        self.interfaces = self.file.interfaces
        self.name = str(path)

    @property
    def fmt(self) -> str:
        return self.file.format or "pcap"

    def batches(self) -> Iterator[RecordBatch]:
        if self.speed is None:
            yield from read_capture(self.path, self.file)
            return
        # The pace is the capture's clock, and a step of it (capture.time-jump, capture.time-backwards) is no time
        # of the capture, as the analysis measures no time across one (sipdiag.clocksteps): the record after a step
        # is due at once and the pace goes on from it, on the clock after the step. Paced across the step instead,
        # a jump of two days would be waited out (for two days at --speed 1), and after a step back every later
        # record would be overdue and handed on at once.
        anchor = (0.0, 0)  # (wall time, capture time) the pace counts from: the first record's, then each step's
        before: int | None = None
        for batch in read_capture(self.path, self.file):
            if not len(batch):
                continue
            restarts = set(step_positions(batch.ts_ns, before).tolist()) | ({0} if before is None else set())
            before = int(batch.ts_ns[-1])
            bounds = sorted(restarts | {0, len(batch)})
            for lo, hi in zip(bounds, bounds[1:]):
                if lo in restarts:
                    anchor = (time.monotonic(), int(batch.ts_ns[lo]))
                yield from self._paced(batch, lo, hi, anchor)

    def _paced(self, batch: RecordBatch, lo: int, hi: int, anchor: tuple[float, int]) -> Iterator[RecordBatch]:
        """Records [lo, hi) of a batch (no step of the clock among them) as they fall due, `speed` times faster than
        captured from `anchor` on; an empty slice while waiting."""
        start_wall, start_ts = anchor
        ts = batch.ts_ns[lo:hi]
        i = 0
        while i < len(ts):
            now_ts = start_ts + int((time.monotonic() - start_wall) * 1e9 * self.speed)
            j = int(np.searchsorted(ts, now_ts + PACE_AHEAD_NS, side="right"))
            if j > i:
                yield slice_batch(batch, lo + i, lo + j)
                i = j
            else:
                wait = (int(ts[i]) - now_ts) / 1e9 / self.speed
                time.sleep(min(max(wait, 0.0), TICK_S))
                yield slice_batch(batch, lo + i, lo + i)  # a tick: refresh, end idle calls

    def close(self) -> None:
        pass


class CaptureSink:
    """The records of a feed written to a pcap (nanosecond) file, or pcapng when the feed has several interfaces;
    opened at the first batch, when the feed's interfaces are known. ring_bytes: keep only the newest that many
    bytes of records in memory and write them at close (an in-memory ring: nothing reaches the disk before the
    end, and the file holds whole records)."""

    def __init__(self, path: str | Path, interfaces: list[Interface], *, ring_bytes: int | None = None) -> None:
        self.path = Path(path)
        self.interfaces = interfaces
        self.ring_bytes = ring_bytes
        self.ring: deque[tuple[int, bytes, int, int]] = deque()  # (ts_ns, data, origlen, iface)
        self.ring_size = 0
        self.dropped = 0
        self.records = 0
        self._out: BinaryIO | None = None
        self._writer = None

    def _open(self):
        from .capturewriter import CaptureWriter

        try:
            self._out = open(self.path, "wb")
        except OSError as e:
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        fmt = "pcapng" if len(self.interfaces) > 1 else "pcap"
        self._writer = CaptureWriter(self._out, fmt, self.interfaces, nanosecond=True)

    def write(self, batch: RecordBatch) -> None:
        if not len(batch):
            return
        if self.ring_bytes is None:
            if self._writer is None:
                self._open()
            self._writer.write_records(batch.buf, batch.data_off, batch.caplen, batch.origlen, batch.ts_ns,
                                       batch.iface)
            self.records += len(batch)
            return
        for off, cap, orig, ts, iface in zip(batch.data_off.tolist(), batch.caplen.tolist(), batch.origlen.tolist(),
                                             batch.ts_ns.tolist(), batch.iface.tolist()):
            self.ring.append((ts, batch.buf[off: off + cap], orig, iface))
            self.ring_size += cap + 16
            while self.ring_size > self.ring_bytes and len(self.ring) > 1:
                self.ring_size -= len(self.ring.popleft()[1]) + 16
                self.dropped += 1

    def close(self) -> None:
        if self.ring_bytes is not None:
            if self._writer is None:
                self._open()
            frames = list(self.ring)
            buf = b"".join(f[1] for f in frames)
            caplen = np.fromiter((len(f[1]) for f in frames), np.int64, len(frames))
            off = np.zeros(len(frames), np.int64)
            if len(frames) > 1:
                np.cumsum(caplen[:-1], out=off[1:])
            self._writer.write_records(buf, off, caplen, np.fromiter((f[2] for f in frames), np.int64, len(frames)),
                                       np.fromiter((f[0] for f in frames), np.int64, len(frames)),
                                       np.fromiter((f[3] for f in frames), np.int64, len(frames)))
            self.records = len(frames)
            self.ring.clear()
        elif self._writer is None:
            self._open()  # nothing captured: still an empty, valid capture file
        if self._out is not None:
            self._out.close()


def run_feed(feed, analyzer: LiveAnalyzer | None, *, sink: CaptureSink | None = None,
             duration_s: float | None = None, count: int | None = None,
             on_tick: Callable[[], None] | None = None) -> tuple[FrameDecoder, LiveResult | None]:
    """Feed everything to the decoder (and the analyzer) until the feed ends, `duration_s` or `count` frames, or
    Ctrl-C / SIGTERM (KeyboardInterrupt): each ends cleanly, the records so far are written and analysed."""
    decoder = FrameDecoder(feed.interfaces, name=feed.name, fmt=feed.fmt)
    if analyzer is not None:
        analyzer.capture_info = decoder.info
    stop_at = time.monotonic() + duration_s if duration_s is not None else None
    last_wall = time.monotonic()
    try:
        for item in feed.batches():
            batch = decoder.batch_of(item) if isinstance(item, list) else item
            if count is not None and decoder.packets + len(batch) > count:
                batch = slice_batch(batch, 0, count - decoder.packets)
            if len(batch):
                if sink is not None:
                    sink.write(batch)
                datagrams, rtp = decoder.decode(batch)
                if analyzer is not None:
                    analyzer.records(batch.first_frame, batch.ts_ns)
                    analyzer.add(datagrams, rtp)
                last_wall = time.monotonic()
            if analyzer is not None:
                # Live feeds: time goes on while nothing arrives; capture time then advances with the clock.
                idle_ns = int((time.monotonic() - last_wall) * 1e9) if feed.live else 0
                analyzer.sweep(analyzer.now_ns + idle_ns)
            if on_tick is not None:
                on_tick()
            if (stop_at is not None and time.monotonic() >= stop_at) or (count is not None
                                                                          and decoder.packets >= count):
                break
    except KeyboardInterrupt:
        pass
    finally:
        feed.close()
        if sink is not None:
            sink.close()
    datagrams, rtp = decoder.finish()
    if analyzer is None:
        return decoder, None
    analyzer.add(datagrams, rtp)
    return decoder, analyzer.finish(decoder.info())
