"""How much media it takes to grade a stream, and whose fault a low score is (RULES.md media.packet-loss,
media.low-mos: "very short calls ... require >= 10 s of media"; "report the codec ceiling separately so a
codec-limited score is not misread as a network fault"; G.107.1 wideband on the narrowband scale)."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from tests import callcapture as cc


def findings(path: Path, *rules: str) -> list:
    return [f for f in sipdiag.analyze(path).findings if f.rule in rules]


def codec_call(path: Path, pt: int, rtpmap: str, *, drop_every: int = 0) -> Path:
    """12 s of 20 ms audio both ways in one codec (the answer echoes the offer)."""
    return cc.sdp_call(path, offer=cc.sdp(cc.UA[0], cc.UA_RTP, str(pt), f"rtpmap:{pt} {rtpmap}"),
                       answer=cc.sdp(cc.PBX[0], cc.PBX_RTP, str(pt), f"rtpmap:{pt} {rtpmap}"),
                       up=(pt, 160, 600), down=(pt, 160, 600), drop_every=drop_every)


def test_a_short_stream_loss_is_minor_at_most_and_gets_no_mos_finding(tmp_path: Path) -> None:
    # 1 s of audio, every 6th packet of the caller's lost: 8 of 49 expected (16.3 %), critical by share alone.
    short = cc.answered_call(tmp_path / "short.pcap", seconds=1.0, drop_every=6)
    (loss,) = findings(short, "media.packet-loss", "media.low-mos")
    assert (loss.rule, loss.severity.label, loss.confidence, loss.evidence["lost"], loss.evidence["expected"]) == (
        "media.packet-loss", "minor", "medium", 8, 49)
    assert loss.engineer_text["en"].endswith(
        "(RULES.md media.packet-loss). Only 49 packets expected: too few to grade the loss (minor at most).")
    assert loss.engineer_text["ru"].endswith(
        "Ожидаемых пакетов всего 49: слишком мало, чтобы оценить тяжесть потерь (не выше minor).")
    # The same loss over 12 s is graded: critical, and the stream's MOS is rated.
    long = cc.answered_call(tmp_path / "long.pcap", seconds=12, drop_every=6)
    assert [(f.rule, f.severity.label, f.confidence) for f in findings(long, "media.packet-loss", "media.low-mos")] \
        == [("media.packet-loss", "critical", "high"), ("media.low-mos", "major", "high")]


def test_mos_needs_ten_seconds_of_media(tmp_path: Path) -> None:
    # 8 s, 100+ packets, 16.7 % loss: still below media.min_media_for_verdict_s, so no MOS verdict.
    eight = cc.answered_call(tmp_path / "eight.pcap", seconds=8, drop_every=6)
    assert [(f.rule, f.severity.label) for f in findings(eight, "media.packet-loss", "media.low-mos")] == [
        ("media.packet-loss", "critical")]


def test_a_codec_limited_score_is_minor_and_names_the_codec(tmp_path: Path) -> None:
    # G.726 at 16 kbit/s: Ie 50 (G.113), MOS 2.13 with no loss at all. The network cost only the default delay.
    lows = findings(codec_call(tmp_path / "g726.pcap", 96, "G726-16/8000"), "media.low-mos", "media.packet-loss")
    assert [(f.severity.label, f.evidence["direction"], f.evidence["codec_limited"], f.evidence["main_factor"],
             f.evidence["mos"], f.evidence["mos_ceiling"]) for f in lows] == [
        ("minor", "caller->callee", True, "codec", 2.13, 2.22), ("minor", "callee->caller", True, "codec", 2.13, 2.22)]
    assert lows[0].engineer_text["en"].endswith(
        "The codec G726-16 alone limits the stream to MOS 2.22; the network cost 1.9 R points: offer a better codec "
        "first.")
    assert lows[0].customer_text["en"] == (
        "The sound of your call was of poor quality (our estimate: 2.13 out of 5). The main cause is the codec "
        "(voice compression) in use, not the network.")
    assert lows[0].customer_text["ru"].endswith("Главная причина: используемый кодек (сжатие голоса), а не сеть.")


def test_a_low_bitrate_codec_with_network_loss_keeps_the_severity_of_its_score(tmp_path: Path) -> None:
    # The same codec with 10 % loss one way: R 10 on that stream, a network fault on top of the codec's ceiling.
    lows = findings(codec_call(tmp_path / "g726l.pcap", 96, "G726-16/8000", drop_every=10), "media.low-mos")
    assert [(f.severity.label, f.evidence["direction"], f.evidence["codec_limited"], f.evidence["r_factor"])
            for f in lows] == [("critical", "caller->callee", False, 10.0), ("minor", "callee->caller", True, 41.3)]
    assert lows[0].evidence["codec_en"] == ""


def test_wideband_scores_are_graded_on_the_narrowband_scale(tmp_path: Path) -> None:
    # G.722 with 8.2 % loss: R 81.8 on the wideband scale (0-129) is 63.4 on the narrowband one (G.107.1: R/1.29),
    # below the minor limit 70. Compared on the wrong scale it passed as fine.
    path = codec_call(tmp_path / "g722.pcap", 9, "G722/8000", drop_every=12)
    lows = findings(path, "media.low-mos")
    assert [(f.severity.label, f.evidence["direction"], f.evidence["r_factor"], f.evidence["codec_limited"])
            for f in lows] == [("minor", "caller->callee", 81.8, False)]
    # Without loss G.722 rates R 88 on the narrowband scale: no finding.
    assert findings(codec_call(tmp_path / "g722ok.pcap", 9, "G722/8000"), "media.low-mos") == []


def test_scanner_test_calls_of_half_a_second_are_not_graded(corpus) -> None:
    # Four 0.4-0.6 s streams of a SIP scanner's test calls lost 2-3 of 22-30 packets each: 6.7-10.7 %. Before,
    # four critical packet-loss findings and two low-MOS findings (R 56.3 major, R 69.2 minor).
    path = corpus / "pcaps" / "initconf-sip-attacks" / "SIP-212.32.250.134.pcap"
    got = findings(path, "media.packet-loss", "media.low-mos")
    assert sorted((f.rule, f.severity.label, f.confidence, f.evidence["lost"], f.evidence["expected"])
                  for f in got) == [
        ("media.packet-loss", "minor", "medium", 2, 22), ("media.packet-loss", "minor", "medium", 2, 25),
        ("media.packet-loss", "minor", "medium", 2, 30), ("media.packet-loss", "minor", "medium", 3, 28)]
