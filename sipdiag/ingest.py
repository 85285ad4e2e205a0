"""The capture side of the pipeline: the capture layer plus the per-stream RTP accumulators, run in this process
or, for large files, in a second process so that it works while this one parses SIP and builds calls.

    for item in ingest(path):
        list[Datagram]  -> SIP datagrams in frame order, in batches (few)
        CaptureResult   -> last: the capture's facts, the RTP streams, the RTCP count

Why a second process: the capture side (reading, NumPy decoding, stream statistics) and the SIP side (parsing,
correlation) each take about half of a large capture's time; on two cores they overlap. Only SIP datagrams
(a few percent of packets) and the final results cross the pipe, never RTP columns.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SipdiagError
from .model import Datagram
from .parsers.columns import RtpColumns
from .parsers.scan import CaptureInfo, address, scan_capture
from .streamgroups import group_streams, stream_key_columns

# Below this a second process costs more than it saves (fork and pipe: ~20 ms).
PARALLEL_MIN_BYTES = 32 << 20
BATCH = 512  # datagrams per message on the pipe


@dataclass(frozen=True, slots=True)
class RtpStreamCount:
    """One RTP flow (src, dst, SSRC) as the capture layer counted it; measured fully by the media stage."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    ssrc: int
    payload_type: int
    packets: int
    first_frame: int


# A flow is taken for RTP only when it looks like a sequence: enough packets whose sequence numbers stay close
# together (RFC 3550 A.1 probation uses MIN_SEQUENTIAL = 2; a few more keep DNS or game traffic out).
MIN_RTP_PACKETS = 3


class _StreamCounter:
    """Packets per (src, dst, ports, SSRC), folded batch by batch so no per-packet state is kept."""

    def __init__(self) -> None:
        # key -> [packets, first frame, payload type, min seq, max seq, min shifted seq, max shifted seq]
        self.counts: dict[tuple, list[int]] = {}

    def add(self, rtp: RtpColumns) -> None:
        g = group_streams(rtp)
        first = g.first
        seq = rtp.sequence.astype(np.int64)[g.order]
        shifted = (seq + 32768) & 0xFFFF  # the same spread measured across the 65535 -> 0 wrap
        lo, hi = np.minimum.reduceat(seq, g.starts), np.maximum.reduceat(seq, g.starts)
        slo, shi = np.minimum.reduceat(shifted, g.starts), np.maximum.reduceat(shifted, g.starts)
        cols = [c[first].tolist() for c in stream_key_columns(rtp)]
        frames = rtp.frame[first].tolist()
        pts = rtp.payload_type[first].tolist()
        for j, (key, c) in enumerate(zip(zip(*cols), g.counts.tolist())):
            entry = self.counts.get(key)
            if entry is None:
                self.counts[key] = [c, frames[j], pts[j], int(lo[j]), int(hi[j]), int(slo[j]), int(shi[j])]
            else:
                entry[0] += c
                entry[3], entry[4] = min(entry[3], int(lo[j])), max(entry[4], int(hi[j]))
                entry[5], entry[6] = min(entry[5], int(slo[j])), max(entry[6], int(shi[j]))

    def streams(self) -> tuple[RtpStreamCount, ...]:
        out = []
        for (sh, sl, dh, dl, sp, dp, ssrc), (n, first, pt, lo, hi, slo, shi) in self.counts.items():
            spread = min(hi - lo, shi - slo) + 1
            # Real RTP: sequence numbers cover about as many values as packets (loss widens it, duplicates
            # narrow it); random bytes spread over the whole 16-bit space.
            if n >= MIN_RTP_PACKETS and spread <= 2 * n + 16:
                out.append(RtpStreamCount(address(sh, sl), sp, address(dh, dl), dp, ssrc, pt, n, first))
        return tuple(sorted(out, key=lambda s: s.first_frame))


@dataclass(frozen=True, slots=True)
class CaptureResult:
    info: CaptureInfo
    rtp_streams: tuple[RtpStreamCount, ...]
    rtcp_packets: int


def ingest(path: str | Path, *, parallel: bool | None = None) -> Iterator[list[Datagram] | CaptureResult]:
    """The capture side's output for `path`. parallel: None decides by the file (a regular file of at least
    PARALLEL_MIN_BYTES on a machine with two cores or more), True/False force it."""
    if parallel is None:
        parallel = _worth_a_process(path)
    return _in_child(path) if parallel else _in_process(path)


def _worth_a_process(path: str | Path) -> bool:
    if str(path) == "-" or (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False  # let the reader raise its own error
    return stat.S_ISREG(st.st_mode) and st.st_size >= PARALLEL_MIN_BYTES


def _in_process(path: str | Path) -> Iterator[list[Datagram] | CaptureResult]:
    scan = scan_capture(path)
    streams = _StreamCounter()
    rtcp = 0
    batch: list[Datagram] = []
    for item in scan:
        if isinstance(item, Datagram):
            if item.kind == "sip":
                batch.append(item)
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            elif item.kind == "rtcp":
                rtcp += 1
        else:
            streams.add(item)
    if batch:
        yield batch
    assert scan.info is not None
    yield CaptureResult(scan.info, streams.streams(), rtcp)


def _child(path: str | Path, conn) -> None:
    try:
        for item in _in_process(path):
            conn.send(item)
    except SipdiagError as e:
        conn.send(e)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which decides
        conn.send(RuntimeError(f"capture reader failed: {type(e).__name__}: {e}"))
    finally:
        conn.close()


def _in_child(path: str | Path) -> Iterator[list[Datagram] | CaptureResult]:
    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(path, child_conn), daemon=True)
    proc.start()
    child_conn.close()
    try:
        while True:
            try:
                item = parent_conn.recv()
            except EOFError:
                raise RuntimeError("the capture reader process ended without a result") from None
            if isinstance(item, BaseException):
                raise item
            yield item
            if isinstance(item, CaptureResult):
                return
    finally:
        parent_conn.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
