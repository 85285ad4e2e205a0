"""TCP stream reassembly for the flows that carry SIP (RFC 3261 §18.3: framing by Content-Length) or SIP over
WebSocket (RFC 7118), with bounded buffers.

Each direction of a connection is a `_Half` that puts segments in sequence order (out-of-order segments wait,
retransmitted ones are counted and dropped, a hole that never fills is reported as `tcp.gap` and skipped), then
decides once what the stream carries: SIP, a WebSocket upgrade, or something else (then its data is dropped at once,
so a large download costs no memory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush

from sortedcontainers import SortedList

from ..model import Datagram
from .anomalies import AnomalyLog
from .columns import SIP_PORTS, SIP_PREFIXES
from .sip import sip_stream_spans
from .websocket import MAX_MESSAGE, OP_BINARY, OP_CONTINUATION, OP_TEXT, looks_like_ws_frame, parse_ws_frame

MAX_OUT_OF_ORDER = 256 << 10  # bytes waiting for a hole to fill, per direction
MAX_STREAM_BUFFER = 1 << 20  # an unframed SIP message larger than this is damage: the buffer is resynchronised
MAX_FLOWS = 20000
MAX_HTTP_HEADER = 16 << 10  # a WebSocket handshake's header block larger than this is not waited for

FIN, SYN, RST = 0x01, 0x02, 0x04
# A SIP start line anywhere in a buffer, to resynchronise after a gap or a capture that began mid-stream.
_START_LINE = re.compile(rb"(?:^|\r\n)((?:[A-Z]+ [^ \r\n]+ SIP/2\.0|SIP/2\.0 \d{3} )[^\r\n]*\r\n)")


def seq_diff(a: int, b: int) -> int:
    """a - b in 32-bit sequence space (RFC 9293 §3.4: comparisons are modulo 2**32)."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d & 0x80000000 else d


_HALF_SPACE = 1 << 31


class _SeqIndex:
    """The sequence numbers of the segments waiting in one direction, sorted (sortedcontainers.SortedList: an
    insertion or a removal anywhere in O(log n)), so that the segment nearest to a sequence number and those behind
    it are found by bisection instead of a pass over all of them: one pass per hole made a flow of n one-byte holes
    cost O(n^2) (up to 256 Ki segments wait, MAX_OUT_OF_ORDER).

    Sequence space is a circle (RFC 9293 §3.4): `nearest` and `behind` take the keys in the order of their signed
    distance from a reference, which starts at the reference's antipode."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys = SortedList()

    def add(self, key: int) -> None:
        self.keys.add(key)

    def remove(self, key: int) -> None:
        self.keys.remove(key)

    def _first_from(self, key: int) -> int | None:
        i = self.keys.bisect_left(key)
        return self.keys[i] if i < len(self.keys) else None

    def _arc(self, lo: int, hi: int) -> list[int]:
        """The keys from lo up to hi (excluded) going round the circle."""
        between = self.keys.irange
        if lo <= hi:
            return list(between(lo, hi, inclusive=(True, False)))
        return list(between(lo, None)) + list(between(None, hi, inclusive=(True, False)))

    def nearest(self, ref: int) -> int:
        """The key with the smallest seq_diff(key, ref) (negative ones first); there must be one."""
        start = (ref + _HALF_SPACE) & 0xFFFFFFFF
        key = self._first_from(start)
        return self._first_from(0) if key is None else key  # type: ignore[return-value]

    def behind(self, ref: int) -> list[int]:
        """The keys with seq_diff(key, ref) < 0."""
        return self._arc((ref + _HALF_SPACE) & 0xFFFFFFFF, ref)

    def passed(self, start: int, length: int) -> list[int]:
        """The keys strictly inside (start, start + length): behind start + length, not behind start."""
        if length <= 1:
            return []
        return self._arc((start + 1) & 0xFFFFFFFF, (start + length) & 0xFFFFFFFF)


@dataclass
class _Half:
    src: str
    sport: int
    dst: str
    dport: int
    next_seq: int | None = None
    # seq -> (data, frame, ts, rank); rank: the order of arrival, which decides between overlapping segments
    out_of_order: dict[int, tuple[bytes, int, int, int]] = field(default_factory=dict)
    ooo_index: _SeqIndex | None = None  # the keys of out_of_order, made with the first one
    ooo_rank: int = 0
    ooo_bytes: int = 0
    buf: bytearray = field(default_factory=bytearray)
    # (end offset in buf, frame, ts) of each piece of buf, to name the frames a message came in
    pieces: list[tuple[int, int, int]] = field(default_factory=list)
    mode: str = "new"  # new | sip | resync | ws-handshake | ws | other | closed
    ws_parts: list[bytes] = field(default_factory=list)
    ws_frames: list[int] = field(default_factory=list)
    retransmissions: int = 0


class TcpReassembler:
    """One per run. `add()` takes a segment and returns the complete SIP payloads it finished."""

    def __init__(self, log: AnomalyLog) -> None:
        self.log = log
        self.halves: dict[tuple, _Half] = {}
        self.segments = 0
        self.retransmissions = 0
        # (frame, time) of the segment being added; None while finish() reads what follows holes at the end
        self._arrived: tuple[int, int] | None = None

    def add(self, frame: int, ts_ns: int, src: str, sport: int, dst: str, dport: int, seq: int, flags: int,
            payload: bytes) -> list[Datagram]:
        self.segments += 1
        self._arrived = (frame, ts_ns)
        key = (src, sport, dst, dport)
        half = self.halves.get(key)
        if half is not None and half.mode == "closed":
            # Fix: a closed half is kept (see _close) so that a retransmission of its last segments -- typically
            # the one that carried FIN with the last message -- is counted, not read as a new stream and
            # its message emitted a second time. Anything else is a new connection on the same ports.
            d_closed = seq_diff(seq, half.next_seq) if half.next_seq is not None else 1
            if not flags & SYN and (not payload or d_closed + len(payload) <= 0):
                if payload:
                    half.retransmissions += 1
                    self.retransmissions += 1
                return []
            del self.halves[key]
            half = None
        if half is None:
            if len(self.halves) >= MAX_FLOWS:
                self.halves.pop(next(iter(self.halves)))
            half = self.halves[key] = _Half(src, sport, dst, dport)
        if flags & SYN:
            half.next_seq = (seq + 1) & 0xFFFFFFFF
            seq = half.next_seq
        if half.mode == "other" or not payload:
            if flags & (FIN | RST):
                self._close(key, half)
            return []
        if half.next_seq is None:
            half.next_seq = seq  # the capture began mid-connection
        out: list[Datagram] = []
        d = seq_diff(seq, half.next_seq)
        if d < 0:
            if d + len(payload) <= 0:
                half.retransmissions += 1
                self.retransmissions += 1
                return out
            payload = payload[-d:]  # partly new: keep what was not seen yet
            seq = half.next_seq
            d = 0
        if d > 0:
            if seq not in half.out_of_order:
                half.out_of_order[seq] = (payload, frame, ts_ns, half.ooo_rank)
                half.ooo_rank += 1
                if half.ooo_index is None:
                    half.ooo_index = _SeqIndex()
                half.ooo_index.add(seq)
                half.ooo_bytes += len(payload)
            if half.ooo_bytes > MAX_OUT_OF_ORDER:
                self._skip_gap(half, frame)
                out += self._drain(half)
            return out
        self._append(half, payload, frame, ts_ns)
        out += self._drain(half)
        if flags & (FIN | RST):
            self._close(key, half)
        return out

    def finish(self) -> list[Datagram]:
        """At the end of the capture, holes that never filled are gaps; what follows them is still read."""
        out: list[Datagram] = []
        self._arrived = None
        for half in self.halves.values():
            while half.out_of_order and half.mode != "other":
                self._skip_gap(half, None)
                out += self._drain(half)
        return out

    # ---------------------------------------------------------------------------------------------- internals

    def _close(self, key: tuple, half: _Half) -> None:
        if half.out_of_order:
            return  # keep it: the missing segments may still come (reordered FIN)
        if half.buf and half.mode == "sip":
            self.log.add("tcp.incomplete-message", half.pieces[-1][1] if half.pieces else None,
                         size=len(half.buf), src=half.src, sport=half.sport)
        # Keep the (emptied) half with its sequence number instead of dropping it: see add() on "closed".
        half.mode = "closed"
        half.buf.clear()
        half.pieces.clear()
        half.ws_parts, half.ws_frames = [], []

    def _skip_gap(self, half: _Half, frame: int | None) -> None:
        nxt = half.ooo_index.nearest(half.next_seq)  # type: ignore[arg-type,union-attr]
        missing = seq_diff(nxt, half.next_seq)
        first_frame = half.out_of_order[nxt][1]
        self.log.add("tcp.gap", first_frame, missing=missing, src=half.src, sport=half.sport, dst=half.dst,
                     dport=half.dport, frame=first_frame)
        half.next_seq = nxt
        # Data before the hole can no longer complete a message: drop it and find the next start line.
        half.buf.clear()
        half.pieces.clear()
        if half.mode == "sip":
            half.mode = "resync"

    def _append(self, half: _Half, data: bytes, frame: int, ts_ns: int) -> None:
        half.buf += data
        half.pieces.append((len(half.buf), frame, ts_ns))
        half.next_seq = (half.next_seq + len(data)) & 0xFFFFFFFF  # type: ignore[operator]

    def _drain(self, half: _Half) -> list[Datagram]:
        ooo = half.out_of_order
        if not ooo:
            return self._process(half)
        index = half.ooo_index
        assert index is not None and half.next_seq is not None
        # The stored segments that start before the expected sequence number, by arrival (rank): they are dropped,
        # or the first of them that reaches past it gives the bytes from there. Only these are visited (found by
        # bisection, and those passed by each append), not every stored segment after every append: that made a
        # flow with n holes or n waiting segments cost O(n^2).
        behind = [(ooo[s][3], s) for s in index.behind(half.next_seq)]
        heapify(behind)
        while ooo:
            nxt = half.next_seq
            item = ooo.pop(nxt, None)
            if item is not None:
                index.remove(nxt)
            else:
                # A stored segment may also overlap the expected sequence number.
                while behind:
                    s = heappop(behind)[1]
                    d = seq_diff(s, nxt)
                    if d >= 0:
                        continue  # ahead again: only after a SYN moved next_seq half the sequence space away
                    data, fr, ts, _ = ooo.pop(s)
                    index.remove(s)
                    half.ooo_bytes -= len(data)
                    if d + len(data) > 0:
                        item = (data[-d:], fr, ts, 0)
                        half.ooo_bytes += len(data[-d:])
                        break
                if item is None:
                    break
            data, fr, ts, _ = item
            half.ooo_bytes -= len(data)
            self._append(half, data, fr, ts)
            for s in index.passed(nxt, len(data)):
                heappush(behind, (ooo[s][3], s))
        return self._process(half)

    def _process(self, half: _Half) -> list[Datagram]:
        if half.mode == "new":
            half.mode = self._classify(half)
            if half.mode == "new":  # undecided until more data arrives (see _classify)
                return []
        if half.mode == "other":
            half.buf.clear()
            half.pieces.clear()
            half.out_of_order.clear()
            half.ooo_index = None
            half.ooo_bytes = 0
            return []
        if half.mode == "resync":
            m = _START_LINE.search(half.buf)
            if m is None:
                self._consume(half, max(0, len(half.buf) - 64))
                return []
            self._consume(half, m.start(1))
            half.mode = "sip"
        if half.mode == "ws-handshake":
            end = half.buf.find(b"\r\n\r\n")
            if end < 0:
                return []
            self._consume(half, end + 4)
            half.mode = "ws"
        if half.mode == "ws":
            return self._ws_messages(half)
        return self._sip_messages(half, "tcp")

    def _classify(self, half: _Half) -> str:
        head = bytes(half.buf[:16])
        if head[:4] in SIP_PREFIXES or head.startswith(b"\r\n"):
            return "sip"
        if head.startswith(b"GET ") or head.startswith(b"HTTP/1.1 101"):
            # Fix: decide on the whole HTTP header block. Judged on the first segment's first 2 KiB, a handshake
            # with large cookies (split over segments, Upgrade after the cut) made the stream "other" and every
            # SIP message over that WebSocket was lost.
            end = half.buf.find(b"\r\n\r\n", 0, MAX_HTTP_HEADER)
            if end < 0 and len(half.buf) < MAX_HTTP_HEADER:
                return "new"
            text = bytes(half.buf[: end if end >= 0 else MAX_HTTP_HEADER]).lower()
            if b"upgrade: websocket" in text or b"websocket" in text and head.startswith(b"HTTP/1.1 101"):
                return "ws-handshake"
            return "other"
        if looks_like_ws_frame(half.buf):
            frame = parse_ws_frame(half.buf)
            if frame is None or frame.payload[:4] in SIP_PREFIXES:
                return "ws"
        if half.sport in SIP_PORTS or half.dport in SIP_PORTS:
            return "resync"
        if _START_LINE.search(half.buf[:4096]):
            return "resync"
        return "other"

    def _consume(self, half: _Half, n: int) -> list[int]:
        """Drop the first n bytes of the buffer; return the frames that carried them."""
        frames = []
        start = 0
        keep = []
        for end, fr, ts in half.pieces:
            if start < n:
                frames.append(fr)
            if end > n:
                keep.append((end - n, fr, ts))
            start = end
        del half.buf[:n]
        half.pieces = keep
        return frames

    def _sip_messages(self, half: _Half, transport: str) -> list[Datagram]:
        out: list[Datagram] = []
        spans, consumed, missing_length = sip_stream_spans(half.buf)
        for start, end in spans:
            pieces = self._pieces_between(half, start, end)
            last_frame, last_ts = self._completed(pieces)
            out.append(Datagram(last_frame, last_ts, half.src, half.sport, half.dst, half.dport, transport,
                                bytes(half.buf[start:end]), tuple(sorted({fr for _, fr, _ in pieces}))))
        if missing_length:
            self.log.add("sip.missing-content-length:stream", out[-1].frame if out else None, src=half.src,
                         sport=half.sport)
        if consumed:
            self._consume(half, consumed)
        if len(half.buf) > MAX_STREAM_BUFFER:
            self.log.add("tcp.unframed-data", half.pieces[-1][1] if half.pieces else None, size=len(half.buf),
                         src=half.src, sport=half.sport)
            self._consume(half, len(half.buf))
            half.mode = "resync"
        return out

    def _completed(self, pieces: list[tuple[int, int, int]]) -> tuple[int, int]:
        """(frame, time) of the segment that completed a message (Datagram.frame), as tshark places a reassembled
        PDU: its last-*arriving* piece (pieces[-1] is the last in sequence order, after reordering an earlier
        frame), or the segment being added when that is later. A message whose segments all came before a hole
        is complete only once the hole fills: given its own last frame, it went to the SIP side ahead of the
        message before it in the stream (frames are put in order), and where a batch of the capture ended
        decided which messages of other flows it overtook."""
        _, frame, ts = max(pieces, key=lambda p: p[1])
        if self._arrived is not None and self._arrived[0] > frame:
            return self._arrived
        return frame, ts

    def _pieces_between(self, half: _Half, start: int, end: int) -> list[tuple[int, int, int]]:
        out = []
        prev = 0
        for e, fr, ts in half.pieces:
            if e > start and prev < end:
                out.append((e, fr, ts))
            prev = e
        return out

    def _ws_messages(self, half: _Half) -> list[Datagram]:
        out: list[Datagram] = []
        while True:
            frame = parse_ws_frame(half.buf)
            if frame is None:
                if len(half.buf) > MAX_MESSAGE:
                    self.log.add("ws.bad-frame", half.pieces[-1][1] if half.pieces else None, src=half.src,
                                 sport=half.sport, limit=MAX_MESSAGE)
                    half.mode = "other"
                    half.buf.clear()
                    half.pieces.clear()
                return out
            pieces = self._pieces_between(half, 0, frame.length)
            self._consume(half, frame.length)
            if frame.opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
                half.ws_parts.append(frame.payload)
                half.ws_frames += [fr for _, fr, _ in pieces]
                if frame.fin:
                    msg = b"".join(half.ws_parts)
                    frames = tuple(sorted(set(half.ws_frames)))
                    half.ws_parts, half.ws_frames = [], []
                    # the segment that completed it, not the last in sequence order (see _completed)
                    last = self._completed(pieces) if pieces else (frames[-1] if frames else 0, 0)
                    out.append(Datagram(last[0], last[1], half.src, half.sport, half.dst, half.dport, "ws", msg,
                                        frames))
