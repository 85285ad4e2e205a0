"""media.packet-loss with the far end's view: the loss the stream's receiver reports in RTCP (RFC 3550 §6.4.1
report blocks), set against the loss the capture saw over the same sequence numbers (RULES.md media.packet-loss:
"when RTCP is present, the far-end receiver's view ... reveals loss *after* the capture point"; "loss reported only
in the customer's RR for operator→customer stream ⇒ downstream").

Every call: 12 s of 20 ms G.711 μ-law each way from 0.41 s, the phone's stream 0x1111 (198.51.100.7:40000 ->
203.0.113.5:50000, sequence numbers 1000-1599); the PBX (its receiver, SSRC 0x2222) reports on it from its RTCP port
at 2.5, 7.5 and 12.5 s, after packets 1099, 1349 and 1599. Rated with the 50 ms buffer and the estimated delay of a
measured stream: R 91.3 without loss, as in test_packet_loss_grading.

The capture has the call's INVITE, so it saw the stream begin: the PBX's cumulative lost counts from the stream's
first packet (RFC 3550 §6.4.1), and the last report's count is the loss over the 600 numbers 1000-1599. A capture
that began inside the call (no INVITE) compares only what the count grew by between the first and last report.
"""

from __future__ import annotations

from pathlib import Path

import sipdiag
from tests import callcapture as cc
from tests.russiantext import untranslated, wire_text

PBX_RTCP, UA_RTCP = (cc.PBX[0], cc.PBX_RTP + 1), (cc.UA[0], cc.UA_RTP + 1)
REPORTS_AT = (2.5, 7.5, 12.5)
HIGHEST = (1099, 1349, 1599)


def call(path: Path, cumulative: tuple[int, int, int], *, fraction: tuple[int, int, int] = (0, 0, 0),
         drop=(), reporter: tuple[str, int] = PBX_RTCP, highest: tuple[int, ...] = HIGHEST, codec: str = "",
         invite: bool = True) -> Path:
    """The call, the phone's stream losing the packets `drop` (indexes from 0) before the capture point, and the
    PBX's three receiver reports with those cumulative losses and fractions. codec: an rtpmap for payload type 96
    the phone sends in, instead of PCMU. invite False: the capture begins after the INVITE (with its 200 OK)."""
    sdp = {"offer_sdp": cc.sdp(cc.UA[0], cc.UA_RTP, "96", f"rtpmap:96 {codec}"),
           "answer_sdp": cc.sdp(cc.PBX[0], cc.PBX_RTP, "96", f"rtpmap:96 {codec}")} if codec else {}
    s = cc.call_setup(cc.Script(), "rr-1", **sdp)
    if not invite:
        s.recs.pop(0)
    cc.two_way(s, 0.41, 12.0, drop=drop, **({"pt": 96} if codec else {}))
    for at, cum, frac, high in zip(REPORTS_AT, cumulative, fraction, highest):
        s.rtcp(at, reporter, UA_RTCP, cc.rtcp_rr(0x2222, 0x1111, fraction_lost=frac, cumulative_lost=cum,
                                                   highest=high))
    return cc.bye(s, 12.7, "rr-1").write(path)


def losses(path: Path) -> list:
    return [f for f in sipdiag.analyze(path).findings if f.rule == "media.packet-loss"]


def test_loss_only_the_receiver_reports_is_downstream(tmp_path: Path) -> None:
    """The capture sees all 600 packets; the PBX reports 6 lost of its first 100, 21 by 1349, 36 by 1599: its
    count runs from the stream's first packet, so 36 of the 600 numbers from 1000 to 1599 (6.0 %) were lost after
    the capture point, the 6 before its first report included (the difference between the reports, 30 of 500, left
    them out). G.711 at 6 % random loss: ΔR = 95 * 6 / (6 + 25.1) = 18.3, major (the capture alone: no finding)."""
    (loss,) = losses(call(tmp_path / "down.pcap", (6, 21, 36), fraction=(15, 15, 15)))
    e = loss.evidence
    assert (loss.severity.label, loss.confidence, e["lost"], e["capture_loss_pct"], e["loss_pct"], e["loss_seen_by"],
            e["location"], e["downstream_lost"], e["delta_r"], e["r_without_loss"], e["r_with_loss"]) == (
        "major", "high", 0, 0.0, 6.0, "receiver", "downstream", 36, 18.3, 91.3, 72.9)
    rr_frames = e["far_end"]["frames"]
    assert loss.frames == (4, *rr_frames) == (4, 214, 715, 1206)  # the stream's first packet (after INVITE/200/ACK)
    assert e["far_end"] == {
        "reporter_ssrc": "0x00002222", "reports": 3, "frames": rr_frames, "first_seq": 999, "last_seq": 1599,
        "expected": 600, "lost": 36, "loss_pct": 6.0, "fraction_lost_pct_max": 5.9, "capture_lost": 0,
        "capture_exact": True, "other_reporters": 0, "from_start": True}
    assert loss.engineer_text["en"] == (
        "Stream 198.51.100.7:40000 -> 203.0.113.5:50000 0x00001111 (caller->callee) of call rr-1: 0 of 600 packets "
        "lost (0.0 %), 0 loss runs, longest 0; MOS 4.37 (R 91.3). RFC 3550 A.3 loss at the capture point. The "
        f"receiver's RTCP (SSRC 0x00002222, 3 reports, frames {', '.join(map(str, rr_frames))}) counts 36 of 600 "
        "packets lost (6.0 %) from the stream's first packet (sequence number 1000) to the extended highest "
        "sequence number 1599 (RFC 3550 §6.4.1), up to 5.9 % in one report interval; the capture missed none of "
        "them: all 36 were lost after the capture point (downstream, between it and the receiver "
        "203.0.113.5:50000), reported by the receiver's RTCP; graded by the receiver's 6.0 %: E-model impact for "
        "G.711 μ-law (Ie 0, Bpl 25.1, BurstR 1.00: RTCP does not tell how the losses cluster): the loss costs ΔR "
        "18.3, R 91.3 without it and 72.9 with it; thresholds ΔR 5/10/20, critical also below R 60 (RULES.md "
        "media.packet-loss).")
    assert ("насчитывает 36 потерянных из 600 пакетов (6.0 %) от первого пакета потока (номер последовательности "
            "1000) до расширенного старшего номера последовательности 1599 (RFC 3550 §6.4.1)"
            in loss.engineer_text["ru"])
    assert ("все 36 потеряны после точки захвата (ниже по пути, между ней и получателем 203.0.113.5:50000), о чём "
            "сообщает RTCP получателя; оценка по потерям у получателя (6.0 %)" in loss.engineer_text["ru"])
    assert loss.customer_text["en"].startswith("Part of the sound of your call was lost on the way (6.0 % of it)")


def test_loss_before_the_first_report_alone_is_counted(tmp_path: Path) -> None:
    """All of the PBX's loss happened before its first report: 30 lost by 1099, none after. Its cumulative lost
    counts from the stream's first packet (RFC 3550 §6.4.1): 30 of 600 (5.0 %) lost after the capture point, ΔR
    95 * 5 / (5 + 25.1) = 15.8, major. Counted from the first report on, no loss would be left at all."""
    (loss,) = losses(call(tmp_path / "early.pcap", (30, 30, 30), fraction=(70, 0, 0)))
    e = loss.evidence
    assert (loss.severity.label, e["loss_pct"], e["loss_seen_by"], e["location"], e["downstream_lost"],
            e["delta_r"], e["far_end"]["lost"], e["far_end"]["expected"], e["far_end"]["fraction_lost_pct_max"]) == (
        "major", 5.0, "receiver", "downstream", 30, 15.8, 30, 600, 27.3)


def test_a_capture_that_began_inside_the_call_compares_the_reports_difference(tmp_path: Path) -> None:
    """Without the INVITE the capture may have begun after the stream did, and the PBX's count may include packets
    it never saw: only what the count grew by from the first report to the last is the far end's, 30 of the 500
    numbers from 1099 to 1599 (6.0 %), ΔR 18.3. A receiver whose highest number did not grow between its reports
    then expected no packet: no figure."""
    (loss,) = losses(call(tmp_path / "mid.pcap", (6, 21, 36), fraction=(15, 15, 15), invite=False))
    e = loss.evidence
    assert (loss.severity.label, e["loss_pct"], e["downstream_lost"], e["delta_r"]) == ("major", 6.0, 30, 18.3)
    assert {k: e["far_end"][k] for k in ("first_seq", "last_seq", "expected", "lost", "from_start")} == {
        "first_seq": 1099, "last_seq": 1599, "expected": 500, "lost": 30, "from_start": False}
    assert ("counts 30 of 500 packets lost (6.0 %) between the extended highest sequence numbers 1099 and 1599 "
            "(RFC 3550 §6.4.1), up to 5.9 % in one report interval; the capture missed none of them: all 30 were "
            "lost after the capture point" in loss.engineer_text["en"])
    assert losses(call(tmp_path / "stuck.pcap", (6, 21, 36), highest=(1599, 1599, 1599), invite=False)) == []


def test_loss_both_see_is_one_finding_without_a_downstream_claim(tmp_path: Path) -> None:
    """Every 20th packet lost before the capture point (30 of 600, 5.0 %): the PBX counts 5 lost by 1099, 17 by
    1349 and 30 by 1599, the same 30 of 600 numbers the capture missed. One finding, graded by the capture's own
    loss (ΔR 15.8 both ways: the capture's figure is kept), nothing downstream."""
    (loss,) = losses(call(tmp_path / "same.pcap", (5, 17, 30), fraction=(12, 12, 12), drop=range(8, 600, 20)))
    e = loss.evidence
    assert (loss.severity.label, e["lost"], e["capture_loss_pct"], e["loss_pct"], e["loss_seen_by"], e["location"],
            e["downstream_lost"], e["delta_r"]) == ("major", 30, 5.0, 5.0, "capture", "upstream", 0, 15.8)
    assert (e["far_end"]["lost"], e["far_end"]["expected"], e["far_end"]["capture_lost"]) == (30, 600, 30)
    assert len(loss.frames) == 4
    text = loss.engineer_text["en"]
    assert ("counts 30 of 600 packets lost (5.0 %) from the stream's first packet (sequence number 1000) to the "
            "extended highest sequence number 1599 (RFC 3550 §6.4.1), up to 4.7 % in one report interval; the "
            "capture missed 30 of them: nothing more was lost after the capture point, the loss happened before it "
            "(upstream); E-model impact for G.711 μ-law (Ie 0, Bpl 25.1, BurstR 1.00): the loss costs ΔR 15.8,"
            in text)
    assert "downstream" not in text and "graded by the receiver" not in text


def test_loss_on_both_sides_of_the_capture_point(tmp_path: Path) -> None:
    """The capture misses 30 of the 600 numbers (every 20th); the PBX counts 45 lost over them: 15 more after the
    capture point. Graded by the receiver's 7.5 % (ΔR 95 * 7.5 / (7.5 + 25.1) = 21.9, critical)."""
    (loss,) = losses(call(tmp_path / "both.pcap", (5, 25, 45), drop=range(8, 600, 20)))
    e = loss.evidence
    assert (loss.severity.label, e["capture_loss_pct"], e["loss_pct"], e["loss_seen_by"], e["location"],
            e["downstream_lost"], e["delta_r"]) == ("critical", 5.0, 7.5, "receiver", "both", 15, 21.9)
    assert ("the capture missed 30 of them, lost before the capture point (upstream); the other 15 were lost after "
            "the capture point (downstream, between it and the receiver 203.0.113.5:50000)" in loss.engineer_text["en"])


def test_a_codec_without_e_model_values_is_graded_by_the_larger_share(tmp_path: Path) -> None:
    """media.loss_pct (1/3/5 %) where the E-model does not know the codec: the capture's 2.0 % (12 of 600, every
    50th from the 26th) would be minor; the receiver's 32 of 600 (5.3 %) is critical."""
    (loss,) = losses(call(tmp_path / "foo.pcap", (2, 17, 32), drop=range(25, 600, 50), codec="X-FOO/8000"))
    e = loss.evidence
    assert (loss.severity.label, e["graded_by"], e["capture_loss_pct"], e["loss_pct"], e["loss_seen_by"],
            e["location"], e["downstream_lost"]) == ("critical", "loss_pct", 2.0, 5.3, "receiver", "both", 20)
    assert ("graded by the receiver's 5.3 %: codec X-FOO has no E-model values: thresholds 1/3/5 % (RULES.md "
            "media.packet-loss)." in loss.engineer_text["en"])


def test_a_negative_cumulative_lost_is_no_loss(tmp_path: Path) -> None:
    """RFC 3550 A.3: the cumulative number lost is expected - received, duplicates counted as received, so it goes
    negative with duplicates: a signed 24-bit field. 0, -3, -6 (0xFFFFFA) is no loss; read unsigned it would be
    16777210 lost over 500 numbers."""
    assert losses(call(tmp_path / "dups.pcap", (0, -3, -6))) == []


def test_reports_that_do_not_describe_the_stream_give_no_finding(tmp_path: Path) -> None:
    """6 % reported lost, but by another receiver of the SSRC (a conference member at 192.0.2.9), or with highest
    numbers the capture never saw (a receiver counting another stream): no finding. (Without the highest number
    growing: test_a_capture_that_began_inside_the_call_compares_the_reports_difference.)"""
    assert losses(call(tmp_path / "other.pcap", (6, 21, 36), reporter=("192.0.2.9", 7001))) == []
    assert losses(call(tmp_path / "unseen.pcap", (6, 21, 36), highest=(30099, 30349, 30599))) == []


def test_the_russian_texts_have_no_english_prose(tmp_path: Path) -> None:
    """Each wording of where the loss happened (downstream, the same as the capture's, both sides, fewer than the
    capture's) in the Russian engineer text."""
    cases = {"down": ((6, 21, 36), ()), "same": ((5, 17, 30), range(8, 600, 20)),
             "both": ((5, 25, 45), range(8, 600, 20)), "fewer": ((0, 5, 10), range(8, 600, 20))}
    for name, (cumulative, drop) in cases.items():
        path = call(tmp_path / f"{name}.pcap", cumulative, drop=drop)
        analysis = sipdiag.analyze(path)
        (loss,) = [f for f in analysis.findings if f.rule == "media.packet-loss"]
        assert untranslated(loss, wire_text(analysis)) == {"customer": [], "engineer": []}, name
    assert ("захват пропустил 30 из них, больше, чем потерял получатель: после точки захвата ничего не потеряно"
            in loss.engineer_text["ru"])


def test_a_receiver_range_too_short_to_grade_does_not_displace_the_captures_loss(tmp_path: Path) -> None:
    """The capture misses every 10th packet (60 of 600, 10.0 %: ΔR 27.1, critical). The PBX's reports stop at 1049:
    25 of 50 lost (50 %), too few packets to grade a path by (a small count over a small one). The capture's figure
    grades the stream; the receiver's is still given, with the 20 it lost after the capture point."""
    (loss,) = losses(call(tmp_path / "short.pcap", (5, 15, 25), highest=(1029, 1039, 1049), drop=range(5, 600, 10)))
    e = loss.evidence
    assert (loss.severity.label, loss.confidence, e["loss_seen_by"], e["loss_pct"], e["delta_r"], e["location"],
            e["downstream_lost"], e["far_end"]["expected"], e["far_end"]["loss_pct"]) == (
        "critical", "high", "capture", 10.0, 27.1, "both", 20, 50, 50.0)
    assert "Only 50 packets expected" not in loss.engineer_text["en"]


def test_an_earlier_stream_of_the_ssrc_to_the_receiver_keeps_the_reports_difference(tmp_path: Path) -> None:
    """The phone's SSRC first went to another port of the PBX (50 packets, 950-999, as before a re-INVITE moved
    it): the PBX's count may run from there, so the stream to 50000 is compared over what the count grew by
    between the reports, 30 of 500, not from its own first packet."""
    s = cc.call_setup(cc.Script(), "rr-1")
    s.rtp((cc.UA[0], cc.UA_RTP), (cc.PBX[0], cc.PBX_RTP + 10), 0x1111, 0.41, 1.0, seq0=950)
    cc.two_way(s, 1.41, 12.0)
    for at, cum, high in zip((3.5, 8.5, 13.5), (6, 21, 36), HIGHEST):
        s.rtcp(at, PBX_RTCP, UA_RTCP, cc.rtcp_rr(0x2222, 0x1111, cumulative_lost=cum, highest=high))
    (loss,) = losses(cc.bye(s, 13.7, "rr-1").write(tmp_path / "moved.pcap"))
    assert {k: loss.evidence["far_end"][k] for k in ("first_seq", "expected", "lost", "from_start")} == {
        "first_seq": 1099, "expected": 500, "lost": 30, "from_start": False}
