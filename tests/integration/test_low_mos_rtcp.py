"""media.low-mos rates the loss media.packet-loss grades by: where the stream's receiver reports in RTCP more loss
than the capture saw (RFC 3550 §6.4.1: lost after the capture point), the listener heard that, and the E-model is
computed with it (ITU-T G.107 §7.5, G.711's Ie 0 and Bpl 25.1 of G.113 Appendix I), as random loss; the finding
says which loss it rated. RULES.md media.low-mos: R < 70 minor, < 60 major, < 50 critical.

The calls of test_packet_loss_rtcp: 12 s of G.711 μ-law each way, the phone's stream (sequence numbers 1000-1599)
reported on by the PBX at 2.5, 7.5 and 12.5 s; R 91.3 without loss (the 50 ms buffer and the estimated delay:
93.2 - Id 1.92). The capture has the INVITE: the PBX's count runs from the stream's first packet.
"""

from __future__ import annotations

from pathlib import Path

import sipdiag
from tests.integration.test_packet_loss_rtcp import call
from tests.russiantext import untranslated, wire_text

STREAM = "198.51.100.7:40000 -> 203.0.113.5:50000 0x00001111"
KEYS = ("r_factor", "mos", "loss_seen_by", "loss_pct", "capture_loss_pct", "receiver_loss_pct", "downstream_lost",
        "main_factor")


def low_mos(path: Path) -> list:
    return [f for f in sipdiag.analyze(path).findings if f.rule == "media.low-mos"]


def figures(finding) -> tuple:
    return (finding.severity.label, *(finding.evidence[key] for key in KEYS))


def test_loss_after_the_capture_point_lowers_the_rating(tmp_path: Path) -> None:
    """The capture sees all 600 packets (R 91.3, MOS 4.37: no finding by its figures); the PBX counts 78 of them
    lost (13.0 %). ΔR = 95 * 13 / (13 + 25.1) = 32.4: R 58.9, MOS 3.04, major."""
    (low,) = low_mos(call(tmp_path / "down.pcap", (13, 45, 78)))
    assert figures(low) == ("major", 58.9, 3.04, "receiver", 13.0, 0.0, 13.0, 78, "loss")
    assert low.evidence["far_end"]["lost"] == 78 and low.evidence["far_end"]["expected"] == 600
    rr_frames = low.evidence["far_end"]["frames"]
    assert low.frames == (4, *rr_frames) == (4, 214, 715, 1206)
    assert low.engineer_text["en"] == (
        f"Stream {STREAM} (caller->callee) of call rr-1: R 58.9, MOS 3.04. MOS 3.04 (bad), R 58.9: 34.3 R points "
        "lost, mostly to packet loss (32.4), then delay (1.9). (ITU-T G.107 E-model; Ie/Bpl per G.113). Rated with "
        "the loss the receiver reports in RTCP (SSRC 0x00002222, RFC 3550 §6.4.1): 78 of 600 packets (13.0 %), "
        "against 0.0 % at the capture point, 78 of them lost after it (downstream); as random loss, since RTCP does "
        "not tell how the losses cluster.")
    assert low.engineer_text["ru"].endswith(
        "Оценка по потерям, о которых сообщает RTCP получателя (SSRC 0x00002222, RFC 3550 §6.4.1): 78 из 600 пакетов "
        "(13.0 %) против 0.0 % в точке захвата; 78 из них потеряны после неё (ниже по пути); как случайные потери, "
        "поскольку RTCP не говорит, как они сгруппированы.")
    assert low.customer_text["en"] == ("The sound of your call was of poor quality (our estimate: 3.04 out of 5). "
                                       "The main cause is sound packets lost on the way.")


def test_loss_on_both_sides_of_the_capture_point_is_rated_as_the_receiver_counts_it(tmp_path: Path) -> None:
    """The capture misses every 20th packet (30 of 600, 5.0 %: R 75.5, no finding by its figures); the PBX counts
    78 lost, 48 of them after the capture point: rated with its 13.0 %, major, as media.packet-loss grades it."""
    path = call(tmp_path / "both.pcap", (30, 55, 78), drop=range(8, 600, 20))
    analysis = sipdiag.analyze(path)
    (low,) = [f for f in analysis.findings if f.rule == "media.low-mos"]
    assert figures(low) == ("major", 58.9, 3.04, "receiver", 13.0, 5.0, 13.0, 48, "loss")
    (loss,) = [f for f in analysis.findings if f.rule == "media.packet-loss"]
    assert (loss.evidence["loss_seen_by"], loss.evidence["loss_pct"], loss.evidence["r_with_loss"]) == (
        "receiver", 13.0, 58.9)
    assert ("78 of 600 packets (13.0 %), against 5.0 % at the capture point, 48 of them lost after it (downstream);"
            in low.engineer_text["en"])
    assert untranslated(low, wire_text(analysis)) == {"customer": [], "engineer": []}


def test_bursty_loss_at_the_capture_point_costs_more_than_the_same_count_at_random(tmp_path: Path) -> None:
    """10 runs of 4 packets lost before the capture point (40 of 600, 6.7 %, BurstR 3.73): R 67.7, MOS 3.49,
    minor. The PBX counts the same 40, which rated as random loss would cost ΔR 19.9 instead of 23.6: the capture's
    figure is kept, and the text says both."""
    burst = [i for r in range(10) for i in range(20 + r * 55, 24 + r * 55)]
    (low,) = low_mos(call(tmp_path / "bursty.pcap", (4, 20, 40), drop=burst))
    assert figures(low) == ("minor", 67.7, 3.49, "capture", 6.7, 6.7, 6.7, 0, "loss")
    assert low.frames == (4,)
    assert low.engineer_text["en"].endswith(
        "(ITU-T G.107 E-model; Ie/Bpl per G.113). Rated with the loss seen at the capture point: 6.7 % (RFC 3550 "
        "A.3); the receiver's RTCP (SSRC 0x00002222) reports 6.7 %, which costs no more.")
    assert low.engineer_text["ru"].endswith(
        "Оценка по потерям в точке захвата: 6.7 % (RFC 3550 A.3); RTCP получателя (SSRC 0x00002222) сообщает о "
        "6.7 %, что обходится не дороже.")


def test_a_receiver_range_too_short_to_grade_does_not_rate_the_stream(tmp_path: Path) -> None:
    """The capture misses every 10th packet (60 of 600, 10.0 %): R 64.2, MOS 3.32, minor. The PBX's reports stop at
    1049: 25 of 50 lost (50 %) is a small count over a small one; the capture's figure rates the stream."""
    (low,) = low_mos(call(tmp_path / "short.pcap", (5, 15, 25), highest=(1029, 1039, 1049), drop=range(5, 600, 10)))
    assert figures(low) == ("minor", 64.2, 3.32, "capture", 10.0, 10.0, 50.0, 20, "loss")
    assert low.engineer_text["en"].endswith(
        "Rated with the loss seen at the capture point: 10.0 % (RFC 3550 A.3); the receiver's RTCP (SSRC "
        "0x00002222) reports 50.0 % over only 50 packets, too few to rate the stream by.")


def test_without_rtcp_the_capture_loss_is_rated_and_said_to_be(tmp_path: Path) -> None:
    """The PBX's reports come from another address (a conference member's view, not this stream's receiver's):
    the capture's 10.0 % rates the stream, and the text says no usable report of the receiver was there."""
    (low,) = low_mos(call(tmp_path / "none.pcap", (5, 15, 25), drop=range(5, 600, 10), reporter=("192.0.2.9", 7001)))
    assert figures(low) == ("minor", 64.2, 3.32, "capture", 10.0, 10.0, None, None, "loss")
    assert low.evidence["far_end"] is None
    assert low.engineer_text["en"].endswith(
        "Rated with the loss seen at the capture point: 10.0 % (RFC 3550 A.3); no usable RTCP report of the "
        "receiver on this stream to compare with.")
    assert low.engineer_text["ru"].endswith(
        "Оценка по потерям в точке захвата: 10.0 % (RFC 3550 A.3); пригодных для сравнения отчётов RTCP получателя "
        "об этом потоке нет.")
