"""The capture layer for frames that arrive a few at a time (live capture, paced replay): the same column-wise
decoding (`columns.decode_batch`) and rich path (`net.RichPath`) as `scan_capture`, fed batch by batch instead of
from a file, with the capture's facts available at any moment.

    decoder = FrameDecoder([Interface(0, linktype=1, snaplen=262144)], name="eth0")
    batch = decoder.batch_of([(ts_ns, frame_bytes, wire_len), ...])   # or a RecordBatch read from a file
    datagrams, rtp = decoder.decode(batch)    # SIP-side Datagrams in frame order, RTP columns
    ...
    datagrams, rtp = decoder.finish()         # TCP messages still buffered; fragments left over become anomalies
    decoder.info()                            # CaptureInfo so far

`scan_capture` stays as it is (one pass over a file, its loop tuned for that); this is its twin for a feed, so a
live packet goes through exactly the decoding a file's packet does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..model import Datagram
from .anomalies import AnomalyLog
from ..clocksteps import ClockStepLog
from .capture import Interface, InterfaceStats, RecordBatch
from .columns import Kind, RtpColumns, decode_batch, empty_rtp
from .linktypes import linktype_name
from .net import RichPath
from .scan import CaptureInfo, batch_datagrams, merge_rtp, rtp_rows_to_columns, time_steps

Frame = tuple[int, bytes, int]  # (ts_ns, captured bytes, length on the wire)


class FrameDecoder:
    """Per-feed state of the capture layer: frame numbering, the rich path's reassemblers, counters."""

    def __init__(self, interfaces: list[Interface], *, name: str, fmt: str = "pcap") -> None:
        self.interfaces = interfaces  # a file reader's list grows as pcapng IDBs are read: kept by reference
        self.name = name
        self.format = fmt
        self.log = AnomalyLog()
        self.clock = ClockStepLog()
        self.rich = RichPath(self.log)
        self.kinds: Counter[str] = Counter()
        self.packets = 0
        self.bytes = 0
        self.truncated = 0
        self.first_ts_ns: int | None = None
        self.last_ts_ns: int | None = None
        self.statistics: list[InterfaceStats] = []

    @property
    def next_frame(self) -> int:
        return self.packets + 1

    def batch_of(self, frames: Sequence[Frame], iface: int = 0) -> RecordBatch:
        """Frames as one RecordBatch numbered after the frames decoded so far."""
        buf = b"".join(f[1] for f in frames)
        caplen = np.fromiter((len(f[1]) for f in frames), np.int64, len(frames))
        data_off = np.zeros(len(frames), np.int64)
        if len(frames) > 1:
            np.cumsum(caplen[:-1], out=data_off[1:])
        return RecordBatch(buf, self.next_frame, data_off, caplen,
                           np.fromiter((f[2] for f in frames), np.int64, len(frames)),
                           np.fromiter((f[0] for f in frames), np.int64, len(frames)),
                           np.full(len(frames), iface, np.int16))

    def decode(self, batch: RecordBatch) -> tuple[list[Datagram], RtpColumns]:
        """Decode one batch whose first_frame is `next_frame` (frames are numbered across the feed)."""
        n = len(batch)
        if not n:
            return [], empty_rtp()
        decoded = decode_batch(batch, self.interfaces)
        counts = np.bincount(decoded.kind, minlength=len(Kind))
        for k in Kind:
            if counts[k]:
                self.kinds[k.name.lower()] += int(counts[k])
        self.truncated += decoded.truncated
        self.bytes += int(batch.origlen.sum())
        self.packets += n
        time_steps(batch.ts_ns, batch.first_frame, self.last_ts_ns, self.log, self.clock)
        if self.first_ts_ns is None:
            self.first_ts_ns = int(batch.ts_ns[0])
        self.last_ts_ns = int(batch.ts_ns[-1])
        datagrams = batch_datagrams(batch, decoded, self.interfaces, self.rich)
        return datagrams, self._with_rich_rtp(decoded.rtp)

    def finish(self) -> tuple[list[Datagram], RtpColumns]:
        """End of the feed: TCP messages still buffered; unfinished fragments and TCP holes become anomalies."""
        return self.rich.finish(), self._with_rich_rtp(empty_rtp())

    def _with_rich_rtp(self, rtp: RtpColumns) -> RtpColumns:
        if self.rich.rtp_rows:
            rtp = merge_rtp(rtp, rtp_rows_to_columns(self.rich.rtp_rows))
            self.rich.rtp_rows.clear()
        return rtp

    def info(self) -> CaptureInfo:
        """The capture's facts so far (the `capture` object of the JSON contract)."""
        return CaptureInfo(
            file=self.name,
            format=self.format,
            compressed=False,
            link_types=tuple(dict.fromkeys(linktype_name(i.linktype) for i in self.interfaces)),
            interfaces=len(self.interfaces),
            packets=self.packets,
            first_ts_ns=self.first_ts_ns,
            last_ts_ns=self.last_ts_ns,
            bytes=self.bytes,
            truncated_packets=self.truncated,
            kinds=dict(self.kinds),
            rich=dict(self.rich.counts),
            interface_stats=tuple(self.statistics),
            anomalies=self.log.anomalies(),
            clock=self.clock.steps(),
        )


def slice_batch(batch: RecordBatch, start: int, stop: int) -> RecordBatch:
    """Records [start, stop) of a batch, numbered as they were (the buffer is shared, not copied)."""
    return RecordBatch(batch.buf, batch.first_frame + start, batch.data_off[start:stop], batch.caplen[start:stop],
                       batch.origlen[start:stop], batch.ts_ns[start:stop], batch.iface[start:stop])
