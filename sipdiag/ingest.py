"""The capture side of the pipeline: the capture layer plus the per-stream RTP accumulators, run in this process
or, for large files, in a second process so that it works while this one parses SIP and builds calls.

    for item in ingest(path):
        list[Datagram]  -> SIP datagrams (and ICMP errors) in frame order, in batches (few)
        ParsedBatch     -> such a batch with its SIP already parsed, by a reader in a second process while this
                           one is behind (see BEHIND_BYTES)
        CaptureRead     -> once every packet is read: the capture's facts and the RTCP count, before the RTP
                           statistics are finished (the SIP side finishes its calls meanwhile)
        CaptureResult   -> last: the capture's facts, the RTCP count, the RTP statistics

Why a second process: the capture side (reading, NumPy decoding, stream statistics) and the SIP side (parsing,
correlation) each take about half of a large capture's time; on two cores they overlap. Only SIP datagrams
(a few percent of packets) and the final results cross the pipe, never RTP columns.
"""

from __future__ import annotations

import multiprocessing
import operator
import os
import stat
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .errors import SipdiagError
from .model import Datagram, build_datagram

# The capture side's modules (NumPy, the reader, the RTP engine) are imported where they run: `prestart` forks
# the reader before this process has imported them, so the child imports only what it needs while the parent
# imports the SIP side and the reports, on the other core.
if TYPE_CHECKING:
    from .parsers.scan import CaptureInfo
    from .parsers.sip import SipMessage
    from .rtpresult import RtpStatsResult

# Below this a second process costs more than it saves (fork and pipe: ~20 ms).
PARALLEL_MIN_BYTES = 32 << 20
BATCH = 128  # datagrams per message on the pipe (about 64 KiB pickled)
PIPE_BYTES = 1 << 20  # the pipe's buffer, raised from Linux's 64 KiB (to fs.pipe-max-size, 1 MiB by default)
F_SETPIPE_SZ = 1031  # fcntl command (Linux 2.6.35+)


# The reader parses a batch's SIP itself, for the analysing process, when that one has this much of the pipe still
# to read (a batch): the SIP loop (parsing, transactions, calls: ~150 us a message) is then the slower side and the
# reader has time to spare; parsing there takes ~30 us a message off the loop, and the pipe's fill level keeps the
# two sides balanced (the reader parses only while the loop is behind). Measured on the 1 M-packet benchmark
# capture, three runs each: never 3.78-4.03 s, always 4.07-4.19 s, 32-128 KiB 3.51-3.85 s (no difference between
# them beyond the noise); on a capture of 20 000 short calls 35.4 s -> 27.0 s. None: never (tests).
BEHIND_BYTES: int | None = 64 * 1024
PARSED = "parsed"  # the tag of a batch whose SIP the reader parsed


class ParsedBatch(NamedTuple):
    """A batch whose SIP the capture reader parsed (see BEHIND_BYTES): the messages in frame order, each one's
    encapsulation (Datagram.encap), and the batch's ICMP errors, which the reader leaves to the analysis."""

    messages: list[SipMessage]
    encaps: list[str]
    icmp: list[Datagram]


@dataclass(frozen=True, slots=True)
class CaptureRead:
    """Every packet is read; a CaptureResult follows once the streams' statistics are finished. Sent first so that
    the SIP side finishes its calls and starts its first rules while the capture side finishes the streams (the
    RTP engine's finalize: 0.1 s of the 1 M-packet benchmark capture, 1.1 s of one with 20 000 short calls, where
    the SIP side's own finish takes 0.9 s). A consumer that needs only the CaptureResult may skip it."""

    info: CaptureInfo
    rtcp_packets: int


@dataclass(frozen=True, slots=True)
class CaptureResult:
    info: CaptureInfo
    rtcp_packets: int
    rtp_stats: RtpStatsResult  # every stream measured (sipdiag.rtpstats), DTMF, RTCP, hiccups


def ingest(path: str | Path, *, parallel: bool | None = None, idle: Callable[[], object] | None = None
           ) -> Iterator[list[Datagram] | ParsedBatch | CaptureRead | CaptureResult]:
    """The capture side's output for `path`. parallel: None decides by the file (a regular file of at least
    PARALLEL_MIN_BYTES on a machine with two cores or more), True/False force it. A reader `prestart`ed for the
    same path is taken over. idle: called once, the first time this process would wait for the reader in a second
    process (never in-process): work the caller needs later and can do meanwhile."""
    early = _take_prestarted(path)
    if early is not None and parallel is not False:
        return _from_child(*early, idle)
    if parallel is None:
        parallel = _worth_a_process(path)
    return _from_child(*_start_child(path), idle) if parallel else _in_process(path)


_prestarted: tuple[str, object, object] | None = None  # (path, connection, process) of a reader started early


def prestart(path: str | Path) -> None:
    """Start the capture reader for `path` now, before the caller imports the rest of the pipeline (~0.2 s of
    imports that then overlap with reading). Does nothing where `ingest` would not use a second process; the
    next `ingest(path)` takes the reader over. Call it at most once before that `ingest`."""
    global _prestarted
    if _prestarted is None and _worth_a_process(path):
        _prestarted = (str(path), *_start_child(path))


def _take_prestarted(path: str | Path):
    global _prestarted
    early, _prestarted = _prestarted, None
    if early is None:
        return None
    if early[0] != str(path):  # started for another file: not ours to read
        _stop(*early[1:])
        return None
    return early[1:]


def _worth_a_process(path: str | Path) -> bool:
    if str(path) == "-" or (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False  # let the reader raise its own error
    return stat.S_ISREG(st.st_mode) and st.st_size >= PARALLEL_MIN_BYTES


def _in_process(path: str | Path) -> Iterator[list[Datagram] | CaptureRead | CaptureResult]:
    from .parsers.scan import scan_capture
    from .rtpstats import RtpStatsEngine

    scan = scan_capture(path)
    engine = RtpStatsEngine(sound=scan.sound)
    rtcp = 0
    batch: list[Datagram] = []
    for item in scan:
        if isinstance(item, Datagram):
            if item.kind == "sip":
                engine.add_datagram(item)  # learns payload-type clocks from the SDP, as it streams past
                batch.append(item)
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            elif item.kind == "rtcp":
                engine.add_datagram(item)
                rtcp += 1
            elif item.kind == "icmp":
                # ICMP errors quoting a SIP or RTP packet (router.icmp-unreachable); few, and in frame order with
                # the SIP datagrams so that a rule can tell an error during the call from one after its BYE.
                batch.append(item)
        else:
            engine.add(item)
    if batch:
        yield batch
    assert scan.info is not None
    yield CaptureRead(scan.info, rtcp)
    yield CaptureResult(scan.info, rtcp, engine.finalize())


def _child(path: str | Path, conn) -> None:
    # Millions of small acyclic objects: reference counting frees them, the cyclic collector would only walk them
    # (see analysis.analyze); a prestarted child was forked before the parent turned it off.
    gc.disable()
    try:
        for item in _in_process(path):
            if not isinstance(item, list):
                conn.send(item)
            elif _behind(conn):
                conn.send(_parsed(item))
            else:
                # Plain tuples pickle six times faster than slotted dataclasses: the batches go as tuples.
                conn.send([_fields(d) for d in item])
    except SipdiagError as e:
        conn.send(e)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which decides
        conn.send(RuntimeError(f"capture reader failed: {type(e).__name__}: {e}"))
    finally:
        conn.close()


def _behind(conn) -> bool:
    """Whether the analysing process is behind: the pipe holds BEHIND_BYTES or more it has not read yet (FIONREAD
    counts them on either end of a Linux pipe). Where that cannot be asked, it never is."""
    if BEHIND_BYTES is None:
        return False
    try:
        import fcntl
        import termios
        from array import array

        unread = array("i", [0])
        fcntl.ioctl(conn.fileno(), termios.FIONREAD, unread)
    except (ImportError, OSError, AttributeError):
        return False
    return unread[0] >= BEHIND_BYTES


def _parsed(batch: list[Datagram]) -> tuple[str, list[tuple], list[str], list[tuple]]:
    """A batch with its SIP parsed here (PARSED, the messages' fields, each one's encapsulation, the ICMP datagrams'
    fields): parse_sip's work moves to this process, which has time to spare while the other is behind. A payload
    that is no SIP message is left out, as the SIP loop leaves it out."""
    from .parsers.sip import message_fields, parse_datagram

    messages, encaps, icmp = [], [], []
    for d in batch:
        if d.kind == "icmp":
            icmp.append(_fields(d))
        elif (msg := parse_datagram(d)) is not None:
            messages.append(message_fields(msg))
            encaps.append(d.encap)
    return PARSED, messages, encaps, icmp


def _grow_pipe(conn) -> None:
    """Ask Linux for a larger pipe buffer; where that is refused the default works, only slower."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, OSError):
        try:
            with open("/proc/sys/fs/pipe-max-size") as f:
                fcntl.fcntl(conn.fileno(), F_SETPIPE_SZ, min(PIPE_BYTES, int(f.read())))
        except (ImportError, OSError, ValueError):
            pass


# A Datagram as the plain tuple of its fields, in one C call (a fourth of a generator of getattr calls).
_fields = operator.attrgetter(*Datagram.__slots__)


def _start_child(path: str | Path):
    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    # A 1 MiB pipe lets the child run up to ~15 batches ahead instead of blocking on each one while this
    # process parses the previous batch (Linux's default 64 KiB holds one).
    _grow_pipe(child_conn)
    proc = ctx.Process(target=_child, args=(path, child_conn), daemon=True)
    proc.start()
    child_conn.close()
    return parent_conn, proc


def _stop(conn, proc) -> None:
    conn.close()
    proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()


def _from_child(parent_conn, proc, idle: Callable[[], object] | None = None
                ) -> Iterator[list[Datagram] | ParsedBatch | CaptureRead | CaptureResult]:
    try:
        while True:
            if idle is not None and not parent_conn.poll():
                idle()  # nothing to read yet: the reader is behind, this process would only wait
                idle = None
            try:
                item = parent_conn.recv()
            except EOFError:
                raise RuntimeError("the capture reader process ended without a result") from None
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, list):
                yield [build_datagram(*t) for t in item]
            elif isinstance(item, tuple):  # (PARSED, ...): see _parsed
                from .parsers.sip import message_from_fields

                yield ParsedBatch([message_from_fields(f) for f in item[1]], item[2],
                                  [build_datagram(*t) for t in item[3]])
            else:
                yield item
            if isinstance(item, CaptureResult):
                return
    finally:
        _stop(parent_conn, proc)
