"""The loss a stream's receiver reports in RTCP (RFC 3550 §6.4.1 report blocks, in SRs and RRs), set against the
loss the capture saw over the same sequence numbers: what the far end lost beyond it was lost after the capture
point (RULES.md media.packet-loss, location inference).

A report block carries the receiver's cumulative number of packets lost and its extended highest sequence number
received, both counted from its own first packet (RFC 3550 §6.4.1, A.3): the cumulative lost of a report covers
every number from the receiver's first packet to its highest. Where the capture saw the stream begin (its call's
INVITE was captured before it, and no earlier stream of the SSRC went to the same receiver), the receiver's first
packet is the capture's first or a later one, so the last usable report's cumulative lost is the far end's loss
from the stream's first packet on, the loss before the first report included. Otherwise the receiver may have
counted packets the capture never saw (the capture began inside the call), and only what its count grew by
between its first and last usable report is compared: the packets lost among the numbers its highest grew by.
The capture's loss over the same numbers comes from the numbers it missed (sipdiag.rtpholes). The pitfalls, each
handled here:

- cumulative lost is a signed 24-bit count, negative when duplicates outnumber losses (RFC 3550 §6.4.1, A.3;
  sipdiag.rtcp keeps the sign); a count or difference below zero is no loss;
- a report from before the stream's first packet in the capture, or whose highest number lies outside the numbers
  the capture saw, is about packets the capture cannot compare (an earlier session, or the stream before the
  capture began): left out;
- several receivers report on one SSRC in a conference, each counting from its own first packet: only the reports
  of the stream's own receiver (sent from the address the stream goes to) are used, one reporter's at a time;
  where that address reports under several SSRCs (the receiver changed its own), each may have started counting
  later than the stream: none is counted from the stream's first packet;
- a stream whose sender restarted its sequence (a jump of more than MAX_DROPOUT, then sequential packets: a
  sequence restart in the capture, which counts from there on, RFC 3550 A.1): a receiver that follows A.1 counts
  afresh from the restart too, one that does not runs on, so neither is counted from the stream's first packet;
- a receiver whose highest number did not grow over the range expected no packet: no figure;
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
    """What the stream's receiver reported about it over the range (first_seq, last_seq] of sequence numbers, and
    what the capture saw over the same numbers: from the stream's first packet (from_start) or from its receiver's
    first usable report, to its last."""

    reporter_ssrc: int
    reports: int  # report blocks used
    frames: tuple[int, ...]  # their frames (the first MAX_FRAMES - 1 and the last)
    first_seq: int  # the number before the stream's first packet (from_start), else the extended highest sequence
    # number of the first report; in the capture's numbering
    last_seq: int  # extended highest sequence number of the last report
    lost: int  # cumulative lost of the last report (less the first's unless from_start), within 0 and expected
    fraction_lost_pct_max: float  # the largest fraction lost of the reports whose interval lies inside the range
    # (RFC 3550 §6.4.1: since the previous report; all of them from_start, else those after the first)
    capture_lost: int  # the capture's loss over the same numbers (at most that, where capture_exact is False)
    capture_exact: bool  # capture_lost counted over the range; else the stream's whole loss bounds it
    other_reporters: int  # other receivers' reports about the SSRC (a conference), not used
    # The range begins at the stream's first packet: the receiver's cumulative lost counts from there (RFC 3550
    # §6.4.1), so the loss before its first report is in `lost`.
    from_start: bool = False

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


def far_end_loss(s: RtpStreamStats, holes: StreamHoles | None, reports: Sequence[tuple[RtcpPacket, ReportBlock]],
                 *, seen_from_start: bool = False) -> FarEndLoss | None:
    """The far end's view of stream `s` from `reports` (the blocks about its SSRC), or None where its receiver
    sent no usable report, or its highest number did not grow over the range.

    seen_from_start: the capture saw the stream begin (the caller knows: its call's INVITE came before it, and it
    is the first stream of its SSRC to its receiver's address). The range then begins at the stream's first
    packet, and one report is enough, unless the receiver's own count may have started later (it reports under
    several SSRCs, or the stream restarted its sequence): see the module's pitfalls. Otherwise it runs from the
    first usable report to the last, and needs two."""
    if holes is None or not reports:
        return None
    mine: dict[int, list[tuple[RtcpPacket, ReportBlock]]] = {}
    for p, b in reports:
        # The stream's receiver reports from the address the stream goes to (a conference's other receivers, or
        # a report of the sender about itself, are someone else's view), after the stream began in the capture.
        if p.src_ip == s.dst_ip and b.reporter_ssrc != s.ssrc and p.frame > s.first_frame:
            mine.setdefault(b.reporter_ssrc, []).append((p, b))
    # The receiver's cumulative lost counts from its first packet (RFC 3550 §6.4.1, A.3): from the stream's first
    # when the capture saw the stream begin and nothing says the receiver started counting afresh since.
    from_start = seen_from_start and len(mine) == 1 and not s.sequence_restarts
    best = None
    for reporter, blocks in mine.items():
        used = _usable(blocks, holes)
        if not used:
            continue
        low = holes.base - 1 if from_start else used[0][2]
        if used[-1][2] <= low:
            continue
        if best is None or (used[-1][2] - low, len(used)) > (best[2][-1][2] - best[1], len(best[2])):
            best = (reporter, low, used)
    if best is None:
        return None
    reporter, low, used = best
    others = {b.reporter_ssrc for _, b in reports} - {reporter}
    (_, first, _), (_, last, high) = used[0], used[-1]
    expected = high - low
    # A.3: negative with duplicates; from the stream's start the last report's count is the range's loss whole
    lost = min(max(last.cumulative_lost - (0 if from_start else first.cumulative_lost), 0), expected)
    frames = [p.frame for p, _, _ in used]
    frames = frames[: MAX_FRAMES - 1] + frames[-1:] if len(frames) > MAX_FRAMES else frames
    # The capture's own count where it has every number it missed; else its whole loss bounds the range's (never
    # more than the range holds), so that downstream loss is not claimed out of a gap in the record.
    exact = holes.complete and not s.sequence_jumps and not s.sequence_restarts
    capture = holes.lost_between(low, high) if exact else min(max(s.lost, 0), expected)
    inside = used if from_start else used[1:]  # the first report's interval began before a range that starts at it
    return FarEndLoss(reporter, len(used), tuple(frames), low, high, lost,
                      max((b.fraction_lost_pct for _, b, _ in inside), default=0.0), capture, exact, len(others),
                      from_start)


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
