"""sipdiag.rtcploss: the far end's loss of a stream from its receiver's RTCP report blocks (RFC 3550 §6.4.1, A.3),
set against the capture's loss over the same sequence numbers, and the pitfalls of reading it.

The stream: 600 packets of 20 ms, sequence numbers 1000-1599, from 192.168.1.10:4000 to 203.0.113.5:5000
(SSRC 0x1111), in frames 100-699; its receiver reports from 203.0.113.5:5001 as SSRC 0x2222.
"""

from __future__ import annotations

import dataclasses

from sipdiag.rtcp import ReportBlock, RtcpPacket
from sipdiag.rtcploss import far_end_loss, report_blocks
from sipdiag.rtpstats import RtpStatsEngine
from tests.unit.test_rtpstats import columns, voice

RECEIVER, OTHER = "203.0.113.5", "192.0.2.9"


def stream(drop=(), jump: bool = False, restart: bool = False):
    packets = [p for p in voice(600, seq0=1000) if p.seq - 1000 not in set(drop)]
    if jump:  # one packet 20000 numbers off (RFC 3550 A.1: ignored, counted as a jump)
        packets.insert(300, type(packets[0])(packets[300].t_ms - 1, 21000, 0))
    if restart:  # the sender's numbers 20000 on from the 300th packet (A.1: a restart, a new epoch from 21301)
        packets = [p if p.seq < 1300 else dataclasses.replace(p, seq=p.seq + 20000) for p in packets]
    engine = RtpStatsEngine()
    engine.add(columns(packets, first_frame=100))
    result = engine.finalize()
    return result.streams[0], result.holes_of(0)


def rr(frame: int, highest: int, cumulative: int, *, fraction: int = 0, src: str = RECEIVER,
       reporter: int = 0x2222, source: int = 0x1111) -> RtcpPacket:
    block = ReportBlock(reporter, source, fraction * 100 / 256, cumulative, highest, 0, 0, 0, None)
    return RtcpPacket(frame, 0, src, 5001, "192.168.1.10", 4001, "RR", reporter, blocks=(block,))


def far(packets, seen_from_start: bool = False, **kw):
    s, holes = stream(**kw)
    return far_end_loss(s, holes, report_blocks(packets).get(s.ssrc, ()), seen_from_start=seen_from_start)


def test_the_loss_between_the_first_and_the_last_report():
    """The receiver counts 6 lost by 1099 (before the range), 36 by 1599: 30 of 500; the capture missed 10 of
    those numbers (every 50th from 1110) and 2 before: 20 were lost after the capture point."""
    f = far([rr(210, 1099, 6), rr(460, 1349, 21, fraction=15), rr(710, 1599, 36, fraction=20)],
            drop=(10, 60, *range(110, 600, 50)))
    assert (f.reporter_ssrc, f.reports, f.frames, f.first_seq, f.last_seq, f.expected, f.lost, f.loss_pct) == (
        0x2222, 3, (210, 460, 710), 1099, 1599, 500, 30, 6.0)
    assert (f.capture_lost, f.capture_exact, f.downstream_lost, f.other_reporters) == (10, True, 20, 0)
    assert f.fraction_lost_pct_max == 20 * 100 / 256  # of the reports after the first: their intervals are inside


def test_a_cumulative_lost_that_falls_is_no_loss():
    """Duplicates make it negative (RFC 3550 A.3): -2 then -8 is no packet lost, not -6."""
    f = far([rr(210, 1099, -2), rr(710, 1599, -8)])
    assert (f.lost, f.downstream_lost) == (0, 0)


def test_the_receiver_counts_cycles_from_its_own_first_packet():
    """A receiver that started before a wrap the capture did not see reports one cycle more (RFC 3550 A.1): its
    numbers are brought to the capture's."""
    f = far([rr(210, 65536 + 1099, 0), rr(710, 65536 + 1599, 30)])
    assert (f.first_seq, f.last_seq, f.lost, f.downstream_lost) == (1099, 1599, 30, 30)


def test_reports_from_before_the_stream_or_about_numbers_it_did_not_carry_are_left_out():
    """A report before the stream's first packet in the capture (frame 50) and one whose highest number lies
    beyond the capture's (an earlier session's, 1700) are not the range's ends."""
    f = far([rr(50, 1000, 0), rr(210, 1099, 6), rr(460, 1700, 90), rr(710, 1599, 36)])
    assert (f.reports, f.frames, f.first_seq, f.last_seq, f.lost) == (2, (210, 710), 1099, 1599, 30)


def test_a_report_delayed_past_a_later_one_is_left_out():
    f = far([rr(210, 1099, 6), rr(460, 1349, 21), rr(470, 1300, 40), rr(710, 1599, 36)])
    assert (f.frames, f.lost) == ((210, 460, 710), 30)


def test_only_the_streams_own_receiver_counts_in_a_conference():
    """Another member of a conference reports on the same SSRC from its own address, counting from its own first
    packet: its 100 lost are its own view, not this stream's receiver's."""
    member = {"src": OTHER, "reporter": 0x3333}
    f = far([rr(205, 1050, 0, **member), rr(210, 1099, 6), rr(705, 1599, 100, **member), rr(710, 1599, 6)])
    assert (f.reporter_ssrc, f.lost, f.downstream_lost, f.other_reporters) == (0x2222, 0, 0, 1)


def test_of_two_reporters_at_the_receiver_the_longest_range_counts():
    """The receiver changed its SSRC (0x2222, then 0x4444): each counts from its own first packet; the one whose
    reports cover more numbers is used."""
    f = far([rr(210, 1099, 0), rr(300, 1189, 9), rr(400, 1289, 0, reporter=0x4444), rr(710, 1599, 3, reporter=0x4444)])
    assert (f.reporter_ssrc, f.expected, f.lost, f.other_reporters) == (0x4444, 310, 3, 1)


def test_no_figure_without_two_reports_or_without_expected_packets():
    assert far([rr(710, 1599, 30)]) is None  # one report: no range
    assert far([rr(210, 1599, 0), rr(710, 1599, 30)]) is None  # the highest did not grow: zero expected
    assert far([rr(210, 1099, 0, source=0x9999), rr(710, 1599, 30, source=0x9999)]) is None  # another SSRC


def test_where_the_capture_cannot_count_the_range_its_whole_loss_bounds_it():
    """A stream with a sequence jump: its numbers are not counted over a range, so the capture's whole loss (4)
    stands for the range's: at least 26 of the receiver's 30 were lost downstream, never more claimed."""
    f = far([rr(210, 1099, 0), rr(710, 1599, 30)], drop=(1, 2, 3, 500), jump=True)
    assert (f.capture_exact, f.capture_lost, f.downstream_lost) == (False, 4, 26)


# ------------------------------------------------------------------------ a stream whose start the capture saw


def test_from_the_streams_start_the_loss_before_the_first_report_counts():
    """RFC 3550 §6.4.1: the cumulative lost counts from the receiver's first packet, so the first report (6 lost by
    1099) already covers the loss before it. Where the capture saw the stream begin, the range runs from its first
    packet (1000): 36 of 600 lost, not the 30 of 500 between the reports; the capture missed 12 of those numbers
    (the 11th, the 61st, then every 50th from the 111th), so 24 were lost after the capture point. The first
    report's interval lies inside the range: its fraction counts."""
    f = far([rr(210, 1099, 6, fraction=25), rr(460, 1349, 21, fraction=15), rr(710, 1599, 36, fraction=20)],
            drop=(10, 60, *range(110, 600, 50)), seen_from_start=True)
    assert (f.from_start, f.reports, f.frames, f.first_seq, f.last_seq, f.expected, f.lost, f.loss_pct) == (
        True, 3, (210, 460, 710), 999, 1599, 600, 36, 6.0)
    assert (f.capture_lost, f.capture_exact, f.downstream_lost) == (12, True, 24)
    assert f.fraction_lost_pct_max == 25 * 100 / 256


def test_from_the_streams_start_one_report_is_enough():
    """One report covers the stream from its first packet to its highest number: 30 of 600, all downstream;
    without the start, one report gives no range (test_no_figure_without_two_reports_or_without_expected_packets)."""
    f = far([rr(710, 1599, 30)], seen_from_start=True)
    assert (f.from_start, f.first_seq, f.last_seq, f.expected, f.lost, f.downstream_lost) == (
        True, 999, 1599, 600, 30, 30)
    f = far([rr(210, 1099, -3), rr(710, 1599, -6)], seen_from_start=True)  # duplicates (A.3): no loss
    assert (f.lost, f.downstream_lost) == (0, 0)


def test_a_receiver_that_may_have_counted_afresh_is_counted_between_its_reports():
    """The capture saw the stream begin, but the receiver's address reports under two SSRCs (it changed its own,
    and the second may have started counting later), or the sender restarted its sequence (RFC 3550 A.1: a
    receiver that follows A.1 counts afresh from there): only what the count grew by between the reports."""
    f = far([rr(210, 1099, 0), rr(300, 1189, 9), rr(400, 1289, 0, reporter=0x4444), rr(710, 1599, 3, reporter=0x4444)],
            seen_from_start=True)
    assert (f.from_start, f.reporter_ssrc, f.first_seq, f.expected, f.lost) == (False, 0x4444, 1289, 310, 3)
    f = far([rr(600, 21499, 12), rr(690, 21589, 15)], restart=True, seen_from_start=True)
    assert (f.from_start, f.first_seq, f.last_seq, f.expected, f.lost) == (False, 21499, 21589, 90, 3)
