"""media.packet-loss graded by what the loss costs the codec (RULES.md media.packet-loss: "codec-aware via the
E-model: fire minor when loss costs ΔR ≥ 5, major ΔR ≥ 10, critical ΔR ≥ 20 (or R < 60)"), and by the fixed
media.loss_pct only where the E-model does not know the codec.

Every stream is 12 s of 20 ms packets from the caller, every n-th lost (single losses: BurstR 1), rated with the
50 ms buffer and the estimated delay of a measured stream (G.711 Ta 80 ms, Id 1.92: R 91.3 without loss; G.729A
Ta 95 ms: R 79.9; GSM full rate: R 70.8). Before, the same losses were graded by their share alone (1/3/5 %): the
comments give that old grade.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sipdiag
from sipdiag.config import load_config
from tests import callcapture as cc


def codec_call(path: Path, pt: int, rtpmap: str, drop_every: int) -> Path:
    return cc.sdp_call(path, offer=cc.sdp(cc.UA[0], cc.UA_RTP, str(pt), f"rtpmap:{pt} {rtpmap}"),
                       answer=cc.sdp(cc.PBX[0], cc.PBX_RTP, str(pt), f"rtpmap:{pt} {rtpmap}"),
                       up=(pt, 160, 600), down=(pt, 160, 600), drop_every=drop_every)


def losses(path: Path, settings=None) -> list:
    return [f for f in sipdiag.analyze(path, settings=settings).findings if f.rule == "media.packet-loss"]


def graded(findings) -> list[tuple]:
    return [(f.severity.label, f.evidence["loss_pct"], f.evidence["graded_by"], f.evidence["delta_r"],
             f.evidence["r_without_loss"], f.evidence["r_with_loss"]) for f in findings]


@pytest.mark.parametrize(("pt", "rtpmap", "drop_every", "expected"), [
    # G.711 with PLC (Bpl 25.1): ΔR = 95·Ppl/(Ppl + 25.1)
    (0, "PCMU/8000", 67, []),  # 8/600, 1.3 %: ΔR 4.9, below 5 (was minor)
    (0, "PCMU/8000", 50, [("minor", 1.8, "delta_r", 6.5, 91.3, 84.8)]),  # 11/599 (was minor)
    (0, "PCMU/8000", 33, [("major", 3.0, "delta_r", 10.1, 91.3, 81.1)]),  # 18/600 (was major)
    # 31/600, 5.2 %: "G.711 with PLC tolerates ≈ 5 % (R 77)": ΔR 16.2, R 75.1, major (was critical)
    (0, "PCMU/8000", 19, [("major", 5.2, "delta_r", 16.2, 91.3, 75.1)]),
    (0, "PCMU/8000", 10, [("critical", 9.8, "delta_r", 26.8, 91.3, 64.5)]),  # 59/599 (was critical)
    # G.729A (Ie 11, Bpl 19): ΔR = 84·Ppl/(Ppl + 19)
    (18, "G729/8000", 100, []),  # 5/599, 0.8 %: ΔR 3.5 (was nothing either)
    (18, "G729/8000", 67, [("minor", 1.3, "delta_r", 5.5, 79.9, 74.4)]),  # (was minor)
    (18, "G729/8000", 33, [("major", 3.0, "delta_r", 11.5, 79.9, 68.5)]),  # (was major)
    (18, "G729/8000", 19, [("major", 5.2, "delta_r", 18.0, 79.9, 62.0)]),  # R 62, not below 60 (was critical)
    (18, "G729/8000", 10, [("critical", 9.8, "delta_r", 28.7, 79.9, 51.2)]),  # (was critical)
    # GSM full rate (Ie 20, Bpl 10), 14/599 = 2.3 %: ΔR 14.2 is major, but R 56.6 is below 60: critical (was minor)
    (3, "GSM/8000", 40, [("critical", 2.3, "delta_r", 14.2, 70.8, 56.6)]),
    # G.722 (Ie,WB 13, Bpl 13), 1.8 %: 10.2 points on the wideband scale, 7.9 on the narrowband one (was minor)
    (9, "G722/8000", 50, [("minor", 1.8, "delta_r", 7.9, 88.0, 80.1)]),
    # G.726 16 kbit/s (Ie 50) is below R 60 without any loss (R 41.3): 2.3 % costs ΔR 15.8, major by ΔR alone; the
    # codec, not the loss, keeps it below 60 (media.low-mos tells that)
    (96, "G726-16/8000", 40, [("major", 2.3, "delta_r", 15.8, 41.3, 25.4)]),
    # No E-model values: the fixed equivalents 1/3/5 % (unchanged)
    (96, "X-FOO/8000", 100, []),
    (96, "X-FOO/8000", 50, [("minor", 1.8, "loss_pct", None, None, None)]),
    (96, "X-FOO/8000", 19, [("critical", 5.2, "loss_pct", None, None, None)]),
])
def test_loss_is_graded_by_the_r_points_it_costs_the_codec(tmp_path: Path, pt, rtpmap, drop_every, expected) -> None:
    assert graded(losses(codec_call(tmp_path / "call.pcap", pt, rtpmap, drop_every))) == expected


def test_the_engineer_text_gives_the_delta_r_and_the_codec(tmp_path: Path) -> None:
    (g729,) = losses(codec_call(tmp_path / "g729.pcap", 18, "G729/8000", 19))
    assert (g729.evidence["codec"], g729.evidence["emodel_codec"]) == ("G729", "G.729A")
    assert g729.engineer_text["en"] == (
        "Stream 198.51.100.7:40000 -> 203.0.113.5:50000 0x00001111 (caller->callee) of call built-sdp-1: 31 of 600 "
        "packets lost (5.2 %), 31 loss runs, longest 1; MOS 3.2 (R 62.0). RFC 3550 A.3 loss; E-model impact for "
        "G.729A (Ie 11, Bpl 19, BurstR 1.00): the loss costs ΔR 18.0, R 79.9 without it and 62.0 with it; "
        "thresholds ΔR 5/10/20, critical also below R 60 (RULES.md media.packet-loss).")
    assert g729.engineer_text["ru"] == (
        "Поток 198.51.100.7:40000 -> 203.0.113.5:50000 0x00001111 (caller->callee) вызова built-sdp-1: потеряно 31 "
        "из 600 пакетов (5.2 %), серий потерь 31, самая длинная 1; MOS 3.2 (R 62.0). Потери по RFC 3550 A.3; "
        "влияние по E-модели для G.729A (Ie 11, Bpl 19, BurstR 1.00): потери отнимают ΔR 18.0, R 79.9 без них и "
        "62.0 с ними; пороги ΔR 5/10/20, critical также ниже R 60 (RULES.md media.packet-loss).")
    (g722,) = losses(codec_call(tmp_path / "g722.pcap", 9, "G722/8000", 50))
    assert ("the loss costs ΔR 7.9, R 88.0 without it and 80.1 with it on the narrowband scale (R/1.29, G.107.1);"
            in g722.engineer_text["en"])
    (unknown,) = losses(codec_call(tmp_path / "foo.pcap", 96, "X-FOO/8000", 50))
    assert (unknown.evidence["emodel_codec"], unknown.evidence["loss_pct_thresholds"]) == (None, "1/3/5")
    assert unknown.engineer_text["en"].endswith(
        "RFC 3550 A.3 loss; codec X-FOO has no E-model values: thresholds 1/3/5 % (RULES.md media.packet-loss).")
    assert unknown.engineer_text["ru"].endswith(
        "Потери по RFC 3550 A.3; для кодека X-FOO нет значений E-модели: пороги 1/3/5 % (RULES.md media.packet-loss).")


def test_a_stream_across_a_clock_step_is_still_graded_by_delta_r(tmp_path: Path) -> None:
    """The capture's clock steps two days forward 5 s into the call: the stream keeps no arrival figures and no
    E-model verdict of its own (its jitter-buffer discards are unknown), but its loss is counted on sequence numbers,
    and the codec is known: 31 of 600 (5.2 %) cost G.711 16.2 R points, major (by share alone: critical)."""
    s = cc.call_setup(cc.Script(), "step-1")
    cc.two_way(s, 0.41, 12.0, drop=range(18, 600, 19))
    path = cc.bye(s, 12.6, "step-1").write(tmp_path / "step.pcap", step_at=5.0, step_s=2 * 86400)
    a = sipdiag.analyze(path)
    assert a.streams[0].quality is None
    (loss,) = [f for f in a.findings if f.rule == "media.packet-loss"]
    assert (loss.severity.label, loss.evidence["loss_pct"], loss.evidence["delta_r"], loss.evidence["mos"]) == (
        "major", 5.2, 16.2, "-")
    assert ("E-model impact for G.711 μ-law (Ie 0, Bpl 25.1, BurstR 1.00, jitter-buffer discards not rated): the "
            "loss costs ΔR 16.2, R 91.3 without it and 75.1 with it;" in loss.engineer_text["en"])


def test_a_configuration_sets_the_delta_r_levels(tmp_path: Path) -> None:
    """G.711 with 11 of 599 lost (1.8 %) costs 6.5 R points: minor by default; major where an operator's
    media.delta_r.major is 6; nothing where media.delta_r.minor is 7."""
    lossy = codec_call(tmp_path / "pcmu.pcap", 0, "PCMU/8000", 50)
    assert [f.severity.label for f in losses(lossy)] == ["minor"]
    (tmp_path / "strict.toml").write_text("[media.delta_r]\nmajor = 6\n")
    # no "has no effect" warning any more: media.packet-loss reads the key (pytest.fail would end the test)
    (major,) = losses(lossy, load_config(tmp_path / "strict.toml", warn=pytest.fail))
    assert (major.severity.label, major.evidence["delta_r"], major.evidence["delta_r_thresholds"]) == (
        "major", 6.5, "5/6/20")
    assert "thresholds ΔR 5/6/20, critical also below R 60" in major.engineer_text["en"]
    (tmp_path / "tolerant.toml").write_text("[media]\ndelta_r = { minor = 7 }\n")
    assert losses(lossy, load_config(tmp_path / "tolerant.toml", warn=pytest.fail)) == []


def test_media_loss_pct_grades_only_codecs_the_e_model_does_not_know(tmp_path: Path) -> None:
    """RULES.md §5: "loss_pct ... overridden by codec-aware ΔR rule". An operator's stricter loss_pct leaves the
    G.711 stream at its ΔR grade and changes the stream of an unknown codec."""
    (tmp_path / "strict.toml").write_text("[media.loss_pct]\nminor = 0.5\nmajor = 1.2\n")
    strict = load_config(tmp_path / "strict.toml", warn=pytest.fail)
    pcmu = codec_call(tmp_path / "pcmu.pcap", 0, "PCMU/8000", 50)
    unknown = codec_call(tmp_path / "foo.pcap", 96, "X-FOO/8000", 50)
    assert graded(losses(pcmu, strict)) == [("minor", 1.8, "delta_r", 6.5, 91.3, 84.8)]
    (foo,) = losses(unknown, strict)
    assert (foo.severity.label, foo.evidence["loss_pct_thresholds"]) == ("major", "0.5/1.2/5")
    assert "thresholds 0.5/1.2/5 % (RULES.md" in foo.engineer_text["en"]


GRADING_KEYS = ("graded_by", "loss_pct_thresholds", "delta_r_thresholds", "critical_below_r", "delta_r",
                "r_without_loss", "r_with_loss")


def test_the_evidence_says_what_graded_the_loss(tmp_path: Path) -> None:
    """The thresholds that decided the grade are given, the others null (ARCHITECTURE.md findings' evidence: the
    key values; "thresholds" held the media.loss_pct ones even where the ΔR grading decided): GSM full rate 2.3 %
    is major by ΔR 14.2, critical because it leaves R 56.6, below 60; G.729A 5.2 % major by ΔR 18.0; the unknown
    codec's 5.2 % critical by media.loss_pct 5 %."""
    def grading(path: Path) -> tuple:
        (loss,) = losses(path)
        assert "thresholds" not in loss.evidence
        return (loss.severity.label, *(loss.evidence[key] for key in GRADING_KEYS))

    assert grading(codec_call(tmp_path / "gsm.pcap", 3, "GSM/8000", 40)) == (
        "critical", "delta_r", None, "5/10/20", 60.0, 14.2, 70.8, 56.6)
    assert grading(codec_call(tmp_path / "g729.pcap", 18, "G729/8000", 19)) == (
        "major", "delta_r", None, "5/10/20", 60.0, 18.0, 79.9, 62.0)
    assert grading(codec_call(tmp_path / "foo.pcap", 96, "X-FOO/8000", 19)) == (
        "critical", "loss_pct", "1/3/5", None, None, None, None, None)
