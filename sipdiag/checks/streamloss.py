"""The loss a stream's quality is judged by: the one the capture saw, or the one its receiver reports in RTCP
(sipdiag.rtcploss), whichever costs the stream more. media.packet-loss grades the loss by it and media.low-mos
rates the stream with it, so that both rules speak of the same figure.

The capture sees the packets lost before the capture point; the receiver's RTCP report blocks count those and the
ones lost after it, on the way to the receiver (RFC 3550 §6.4.1; RULES.md media.packet-loss: "loss reported only
in the customer's RR ... ⇒ downstream"). The listener hears what reached the receiver. Where the E-model knows the
codec, the view whose loss costs more R points (ΔR, `sipdiag.quality.loss_delta_r`: ITU-T G.107 §7.5 with the
codec's Ie and Bpl of G.113 Appendix I) is the one kept; the receiver's loss is rated as random (BurstR 1), since
a report block counts the packets lost, not how they cluster. Where it does not, the larger share is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..codecs import codec_info
from ..quality import EModelResult, loss_delta_r, r_factor, rate_stream
from ..rtcploss import FarEndLoss, far_end_loss, report_blocks
from .mediaquality import MIN_PACKETS_TO_GRADE

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..media import MediaStream


@dataclass(frozen=True, slots=True)
class LossView:
    """One view of a stream's loss: whose it is, its share, the rating with it, over how many packets."""

    seen_by: str  # capture | receiver
    loss_pct: float  # lost / expected, in percent: the capture's over the stream, the receiver's over its range
    rating: EModelResult | None  # the stream rated with this loss; None for a codec the E-model has no values for
    expected: int  # packets the share is of


def loss_rating(m: MediaStream) -> EModelResult | None:
    """The E-model rating media.packet-loss grades a stream's loss by: its own (`MediaStream.quality`), or, where
    that is missing although the E-model knows the codec (the capture's clock steps within the stream, so its
    jitter-buffer discards are unknown), the loss alone with the discards not rated. None for a codec the E-model
    has no values for: the loss is then graded by media.loss_pct."""
    if m.quality is not None:
        return m.quality
    s = m.stats
    if not s.codec or codec_info(s.codec) is None:
        return None
    expected = max(s.expected - s.keepalives, s.media_packets, 1)
    return rate_stream(s.codec, round(max(s.lost, 0) * 100.0 / expected, 4), 0.0, round(s.burst_ratio or 1.0, 4),
                       None, False)


def far_rating(base: EModelResult, loss_pct: float) -> EModelResult:
    """The stream's rating `base` with the receiver's loss in place of the capture's, as random loss (BurstR 1: a
    report block counts packets lost, not how they cluster); everything else equal (the codec's Ie and Bpl, the
    concealment, the jitter-buffer discards, the delay)."""
    i = base.inputs
    return r_factor(codec=i.codec, loss_pct=round(loss_pct, 4), discard_pct=i.discard_pct, burst_ratio=1.0,
                    ptime_ms=i.ptime_ms, plc=i.plc, discards_rated=i.discards_rated)


def worse_loss(m: MediaStream, far: FarEndLoss | None, base: EModelResult | None, *,
               short_alone: bool) -> LossView | None:
    """The view of the stream's loss that costs it more: the capture's (rated `base`) or its receiver's (`far`), of
    those that saw any loss; the capture's of equals. None where neither saw a packet lost.

    A share of fewer than MIN_PACKETS_TO_GRADE packets is a small count over a small one (2 of 25 is 8 %): it
    never displaces a share of enough packets, and is a view of its own only where `short_alone` (media.packet-loss
    reports it, minor at most; media.low-mos rates no stream by it)."""
    s = m.stats
    seen = [LossView("capture", s.loss_pct, base, s.expected)] if s.lost > 0 else []
    if far is not None and far.lost > 0:
        seen.append(LossView("receiver", far.loss_pct, far_rating(base, far.loss_pct) if base is not None else None,
                             far.expected))
    enough = [v for v in seen if v.expected >= MIN_PACKETS_TO_GRADE]
    if enough or not short_alone:
        seen = enough
    if not seen:
        return None
    if base is None:
        return max(seen, key=lambda v: v.loss_pct)
    return max(seen, key=lambda v: loss_delta_r(v.rating))


def far_end_losses(analysis: Analysis) -> dict[int, FarEndLoss]:
    """The receiver's view of each stream bound to a call whose receiver reports on it (sipdiag.rtcploss), by the
    stream's index in Analysis.streams; computed once per analysis for the rules that read it.

    The receiver's cumulative lost counts from the stream's first packet where the capture saw the stream begin:
    its call's initial INVITE was captured before it (Call.seen_from_start), and no stream of the same SSRC went to
    the same receiver address earlier in the capture (a stream moved to another port by a re-INVITE keeps its SSRC
    and sequence, and its receiver's count runs on)."""
    memo = getattr(analysis, "_memo", None)  # a stand-in analysis without one (tests) computes it every time
    cached = memo.get("far_end_losses") if memo is not None else None
    if cached is not None:
        return cached
    out: dict[int, FarEndLoss] = {}
    reports = report_blocks(analysis.rtp.rtcp.packets) if analysis.rtp is not None else {}
    if reports:
        calls = {c.call_id: c for c in analysis.calls}
        first_to: dict[tuple[int, str], int] = {}  # (SSRC, receiver address) -> the first frame of its streams
        for m in analysis.streams:
            key = (m.stats.ssrc, m.stats.dst_ip)
            first_to[key] = min(first_to.get(key, m.stats.first_frame), m.stats.first_frame)
        for k, m in enumerate(analysis.streams):
            s, call = m.stats, calls.get(m.call_id) if m.call_id is not None else None
            if call is None or s.ssrc not in reports:
                continue
            from_start = (call.seen_from_start and s.first_frame > call.first_frame
                          and first_to[(s.ssrc, s.dst_ip)] == s.first_frame)
            far = far_end_loss(s, m.holes, reports[s.ssrc], seen_from_start=from_start)
            if far is not None:
                out[k] = far
    if memo is not None:
        memo["far_end_losses"] = out
    return out
