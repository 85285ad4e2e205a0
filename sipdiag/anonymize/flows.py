"""SIP that spans several packets: TCP streams and IP fragments, rewritten as a whole and cut back.

The text of a SIP-over-TCP stream, or of a fragmented UDP datagram, is put together from its packets, rewritten
once (so a value split across two segments or fragments is still found), and each packet gets back its own
byte range of the result. Pseudonyms have the length of the originals, so every segment keeps its sequence
number and length and every fragment its offset (RFC 793 §3.3, RFC 791 §3.2): nothing is re-segmented.

A hole in a stream (segments lost before the capture point, or a sequence number that jumps) is a gap, as the
analyzer's reassembler (`sipdiag.parsers.tcp`) treats it: the bytes on either side are separate runs, each
rewritten on its own. Only captured bytes are held, so memory follows the capture, not the sequence numbers.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from ..parsers.sip import parse_sip, sip_stream_spans
from ..parsers.tcp import seq_diff
from .checksum import ones_sum

SIP_MARK = b"SIP/2.0"
MAX_UNMARKED_FLOW = 1 << 20  # bytes kept of a TCP flow before SIP is seen in it; then it is let go


@dataclass(slots=True)
class Piece:
    frame: int
    start: int  # position in the stream / datagram
    data: bytes


@dataclass
class Assembly:
    """The pieces of one TCP direction or one fragmented datagram."""

    pieces: list[Piece] = field(default_factory=list)
    size: int = 0
    sip: bool = False
    complete: bool = False  # fragments: offset 0 through the last fragment all present
    base_seq: int | None = None
    udp: bool = False  # fragments: the datagram is UDP, its first 8 bytes the UDP header

    def add(self, frame: int, start: int, data: bytes) -> None:
        self.pieces.append(Piece(frame, start, data))
        self.size += len(data)
        if SIP_MARK in data:
            self.sip = True

    def runs(self) -> list[tuple[int, bytearray]]:
        """The assembled bytes as contiguous runs `(position, bytes)` in stream order, later pieces overwriting
        earlier ones. What lies between two runs was not captured and takes no memory: one buffer from position 0
        to the last byte made a sequence number jump of 2**31 (one damaged or spoofed segment) a 2 GiB allocation,
        three times over, for a capture of 300 bytes."""
        extents: list[list[int]] = []
        for a, b in sorted((p.start, p.start + len(p.data)) for p in self.pieces if p.data):
            if extents and a <= extents[-1][1]:  # overlapping or adjacent: one run
                extents[-1][1] = max(extents[-1][1], b)
            else:
                extents.append([a, b])
        starts = [a for a, _b in extents]
        out = [(a, bytearray(b - a)) for a, b in extents]
        for p in self.pieces:
            if p.data:
                a, buf = out[bisect_right(starts, p.start) - 1]
                buf[p.start - a:p.start - a + len(p.data)] = p.data
        return out


class Flows:
    """TCP streams (by direction) and fragmented datagrams met in the first pass."""

    def __init__(self) -> None:
        self.tcp: dict[tuple, Assembly] = {}
        self.fragments: dict[tuple, Assembly] = {}
        self._dropped: set[tuple] = set()

    def add_segment(self, key: tuple, frame: int, seq: int, data: bytes) -> None:
        if not data or key in self._dropped:
            return
        flow = self.tcp.setdefault(key, Assembly())
        if flow.base_seq is None:
            flow.base_seq = seq
        rel = seq_diff(seq, flow.base_seq)  # modulo 2**32 (RFC 9293 §3.4), as the analyzer's reassembler does
        if rel < 0:
            # Before the first segment seen: a retransmission of what came before the capture, or a new connection
            # on the same addresses and ports whose initial sequence number is below the old one's (a phone
            # registering again over a new connection, gtp-iphone.pcap). Kept as the new start of the stream (a run
            # of its own when it does not touch the rest), so that its SIP is rewritten too.
            for piece in flow.pieces:
                piece.start -= rel
            flow.base_seq, rel = seq, 0
        flow.add(frame, rel, data)
        if not flow.sip and flow.size > MAX_UNMARKED_FLOW:
            del self.tcp[key]
            self._dropped.add(key)

    def add_fragment(self, key: tuple, frame: int, offset: int, more: bool, data: bytes, udp: bool) -> None:
        datagram = self.fragments.setdefault(key, Assembly())
        datagram.add(frame, offset, data)
        datagram.udp = datagram.udp or (offset == 0 and udp)
        if not more:
            datagram.base_seq = offset + len(data)  # the datagram's length, once the last fragment is seen

    def messages(self) -> list[bytes]:
        """The SIP messages of TCP streams and fragmented datagrams, for the first pass's harvest."""
        found: list[bytes] = []
        for flow in self.tcp.values():
            if not flow.sip:
                continue
            for _start, buf in flow.runs():
                data = bytes(buf)
                spans, _consumed, _missing = sip_stream_spans(data)
                found += [data[s:e] for s, e in spans]
        for datagram in self.fragments.values():
            runs = datagram.runs()
            if datagram.udp and runs and runs[0][0] == 0:  # the first fragment's run: UDP header, then SIP
                found.append(bytes(runs[0][1][8:]))
        return [m for m in found if parse_sip(m) is not None]

    def patches(self, rewrite: Callable[[bytes], bytes]) -> tuple[dict[int, bytes], dict[int, tuple[int, int]]]:
        """The new bytes of every segment/fragment that changes (by frame: the new payload, whole), and for
        the first fragment of a UDP datagram the checksum sums (old, new) of what changed in the others."""
        new_payloads: dict[int, bytes] = {}
        extra: dict[int, tuple[int, int]] = {}
        for flow in self.tcp.values():
            if flow.sip:
                self._cut(flow, rewrite, 0, new_payloads)
        for datagram in self.fragments.values():
            if not datagram.sip:
                continue
            skip = 8 if datagram.udp else 0
            changed = self._cut(datagram, rewrite, skip, new_payloads)
            first = next((p for p in datagram.pieces if p.start == 0), None)
            if datagram.udp and first is not None:
                old_sum = new_sum = 0
                for piece, new in changed:
                    if piece.start == 0:
                        continue  # the first fragment's own changes are counted when it is written
                    old_sum = _add(old_sum, ones_sum(piece.data, piece.start % 2 == 1))
                    new_sum = _add(new_sum, ones_sum(new, piece.start % 2 == 1))
                extra[first.frame] = (old_sum, new_sum)
        return new_payloads, extra

    @staticmethod
    def _cut(assembly: Assembly, rewrite: Callable[[bytes], bytes], skip: int,
             out: dict[int, bytes]) -> list[tuple[Piece, bytes]]:
        runs = assembly.runs()
        starts = [a for a, _buf in runs]
        new = []
        for a, buf in runs:
            keep = max(0, skip - a)  # the first `skip` bytes of the datagram (its UDP header) are not text
            new.append(bytes(buf[:keep]) + rewrite(bytes(buf[keep:])) if keep < len(buf) else bytes(buf))
        changed = []
        for piece in assembly.pieces:
            if not piece.data:
                continue
            i = bisect_right(starts, piece.start) - 1
            at = piece.start - starts[i]  # where the piece lies in its run
            if runs[i][1][at:at + len(piece.data)] == piece.data:
                replacement = new[i][at:at + len(piece.data)]
            else:  # a retransmission with other bytes than the stream kept: rewritten on its own
                keep = max(0, skip - piece.start)
                replacement = piece.data[:keep] + rewrite(piece.data[keep:])
            if replacement != piece.data:
                out[piece.frame] = replacement
                changed.append((piece, replacement))
        return changed


def _add(a: int, b: int) -> int:
    total = a + b
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total
