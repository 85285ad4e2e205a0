"""The loss a stream's receiver reports in RTCP (RFC 3550 §6.4.1 report blocks, in SRs and RRs), set against the
loss the capture saw over the same sequence numbers: what the far end lost beyond it was lost after the capture
point (RULES.md media.packet-loss, location inference).

A report block carries the receiver's cumulative number of packets lost and its extended highest sequence number
received, both counted from its own first packet (RFC 3550 A.3): between two reports of the same receiver, the
cumulative lost grows by the packets lost among the numbers the highest grew by. That difference, from the first
to the last usable report, is the far end's loss; the capture's loss over the same numbers comes from the numbers
it missed (sipdiag.rtpholes). The pitfalls, each handled here:

- cumulative lost is a signed 24-bit count, negative when duplicates outnumber losses (RFC 3550 §6.4.1, A.3;
  sipdiag.rtcp keeps the sign); a difference below zero is no loss;
- a report from before the stream's first packet in the capture, or whose highest number lies outside the numbers
  the capture saw, is about packets the capture cannot compare (an earlier session, or the stream before the
  capture began): left out;
- several receivers report on one SSRC in a conference, each counting from its own first packet: only the reports
  of the stream's own receiver (sent from the address the stream goes to) are used, one reporter's at a time;
- a receiver whose highest number did not grow between its first and last report expected no packet: no figure;
- where the capture cannot count its loss over the range (a sequence jump, a full rtpholes store), its whole loss
  bounds it, so that loss after the capture point is claimed only as far as the capture's own count allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .rtcp import ReportBlock, RtcpPacket
from .rtpholes import StreamHoles
from .rtpresult import RtpStreamStats
from .rtpseq import SEQ_MOD

MAX_FRAMES = 20  # report frames named in the evidence (the first and last always among them)


@dataclass(frozen=True, slots=True)
class FarEndLoss:
    """What the stream's receiver reported about it over the range of its first to its last usable report, and
    what the capture saw over the same sequence numbers."""

    reporter_ssrc: int
    reports: int  # report blocks used
    frames: tuple[int, ...]  # their frames (the first MAX_FRAMES - 1 and the last)
    first_seq: int  # extended highest sequence number of the first report, in the capture's numbering
    last_seq: int  # ... of the last
    lost: int  # cumulative lost of the last report less the first's, within 0 and expected
    fraction_lost_pct_max: float  # the largest fraction lost of the reports after the first (each covers an interval
    # inside the range, RFC 3550 §6.4.1)
    capture_lost: int  # the capture's loss over the same numbers (at most that, where capture_exact is False)
    capture_exact: bool  # capture_lost counted over the range; else the stream's whole loss bounds it
    other_reporters: int  # other receivers' reports about the SSRC (a conference), not used

    @property
    def expected(self) -> int:
        return self.last_seq - self.first_seq

    @property
    def loss_pct(self) -> float:
        return self.lost * 100.0 / self.expected

    @property
    def downstream_lost(self) -> int:
        """Packets the receiver lost beyond those the capture missed: lost after the capture point."""
        return max(self.lost - self.capture_lost, 0)


def report_blocks(packets: Iterable[RtcpPacket]) -> dict[int, list[tuple[RtcpPacket, ReportBlock]]]:
    """The report blocks of SRs and RRs by the SSRC they report on, in capture order."""
    out: dict[int, list[tuple[RtcpPacket, ReportBlock]]] = {}
    for p in packets:
        for b in p.blocks:
            out.setdefault(b.source_ssrc, []).append((p, b))
    return out


def far_end_loss(s: RtpStreamStats, holes: StreamHoles | None,
                 reports: Sequence[tuple[RtcpPacket, ReportBlock]]) -> FarEndLoss | None:
    """The far end's view of stream `s` from `reports` (the blocks about its SSRC), or None where its receiver
    sent fewer than two usable reports, or its highest number did not grow between them."""
    if holes is None or not reports:
        return None
    mine: dict[int, list[tuple[RtcpPacket, ReportBlock]]] = {}
    for p, b in reports:
        # The stream's receiver reports from the address the stream goes to (a conference's other receivers, or
        # a report of the sender about itself, are someone else's view), after the stream began in the capture.
        if p.src_ip == s.dst_ip and b.reporter_ssrc != s.ssrc and p.frame > s.first_frame:
            mine.setdefault(b.reporter_ssrc, []).append((p, b))
    best = None
    for reporter, blocks in mine.items():
        used = _usable(blocks, holes)
        if len(used) < 2 or used[-1][2] <= used[0][2]:
            continue
        if best is None or (used[-1][2] - used[0][2], len(used)) > (best[1][-1][2] - best[1][0][2], len(best[1])):
            best = (reporter, used)
    if best is None:
        return None
    reporter, used = best
    others = {b.reporter_ssrc for _, b in reports} - {reporter}
    (_, first, low), (_, last, high) = used[0], used[-1]
    expected = high - low
    lost = min(max(last.cumulative_lost - first.cumulative_lost, 0), expected)  # A.3: negative with duplicates
    frames = [p.frame for p, _, _ in used]
    frames = frames[: MAX_FRAMES - 1] + frames[-1:] if len(frames) > MAX_FRAMES else frames
    # The capture's own count where it has every number it missed; else its whole loss bounds the range's (never
    # more than the range holds), so that downstream loss is not claimed out of a gap in the record.
    exact = holes.complete and not s.sequence_jumps and not s.sequence_restarts
    capture = holes.lost_between(low, high) if exact else min(max(s.lost, 0), expected)
    return FarEndLoss(reporter, len(used), tuple(frames), low, high, lost,
                      max((b.fraction_lost_pct for _, b, _ in used[1:]), default=0.0), capture, exact, len(others))


def _usable(blocks: list[tuple[RtcpPacket, ReportBlock]], holes: StreamHoles) -> list[tuple[RtcpPacket,
                                                                                          ReportBlock, int]]:
    """The reports of one receiver whose highest number lies among the numbers the capture saw, each with that
    number in the capture's numbering, the highest never going back (a report delayed past a later one, or a
    receiver that started counting afresh, is left out)."""
    offset = _offset([b.highest_seq for _, b in blocks], holes)
    if offset is None:
        return []
    used: list[tuple[RtcpPacket, ReportBlock, int]] = []
    for p, b in blocks:
        ext = b.highest_seq + offset
        if holes.base - 1 <= ext <= holes.top and (not used or ext >= used[-1][2]):
            used.append((p, b, ext))
    return used


def _offset(highest: list[int], holes: StreamHoles) -> int | None:
    """How far the receiver's extended numbers lie from the capture's: a multiple of 2^16, as both unwrap the same
    16-bit numbers but count cycles from their own first packet (RFC 3550 A.1). The one that places the most
    reports among the numbers the capture saw (base - 1 for a report before the first packet's arrival there),
    the smallest of equals."""
    counts: dict[int, int] = {}
    for h in highest:
        low16 = h % SEQ_MOD
        cycle = (holes.base - 1 - low16 + SEQ_MOD - 1) // SEQ_MOD  # the first cycle at or above base - 1
        ext = low16 + cycle * SEQ_MOD
        while ext <= holes.top:
            counts[ext - h] = counts.get(ext - h, 0) + 1
            ext += SEQ_MOD
    if not counts:
        return None
    return max(counts, key=lambda k: (counts[k], -abs(k)))
