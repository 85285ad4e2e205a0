"""Unit tests of the E-model (ITU-T G.107 as simplified by RULES.md §1.4) and the codec table.

Expected values are worked by hand in the comments; RULES.md §1.4's table of worked values is the cross-check.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from sipdiag.codecs import (
    CODECS,
    NARROWBAND,
    WIDEBAND,
    codec_info,
    static_payload_encoding,
)
from sipdiag.quality import (
    R0_NARROWBAND,
    R0_WIDEBAND,
    band_for_mos,
    burst_ratio,
    delay_impairment,
    effective_loss_pct,
    g107_rating,
    ie_eff,
    loss_delta_r,
    mos_from_r,
    quality_band,
    r_factor,
)

approx = pytest.approx


def factor_points(result) -> dict[str, float]:
    return {factor.name: factor.r_points_lost for factor in result.factors}


# ---------------------------------------------------------------------------------------------- G.107 reference


def test_g107_default_parameters_give_93_2_and_mos_4_41():
    # G.107 §7 with every Table 3 default: Ro 94.77, Is 1.41, Id 0.15 → R 93.2 (VoIPmonitor's 93.2062).
    rating = g107_rating(0.0)
    assert rating.ro == approx(94.7688, abs=1e-4)
    assert rating.is_ == approx(1.4136, abs=1e-4)
    assert rating.id == approx(0.1490, abs=1e-4)
    assert rating.r == approx(93.2062, abs=1e-4)
    assert R0_NARROWBAND == 93.2
    # Annex B: 1 + 0.035·93.2 + 93.2·33.2·6.8·7e-6 = 4.262 + 0.147286 = 4.409286
    assert mos_from_r(93.2) == approx(4.409286, abs=1e-6)
    result = r_factor(codec="PCMU", one_way_delay_ms=0)
    assert result.r_factor == approx(93.2)
    assert result.mos == approx(4.409286, abs=1e-6)
    assert round(result.mos, 2) == 4.41
    assert result.estimate is False
    assert all(points == 0 for points in factor_points(result).values())
    assert result.summary == "MOS 4.41 (excellent), R 93.2: no notable impairment."
    assert result.summary_ru == "MOS 4.41 (отлично), R 93.2: заметных ухудшений нет."


def test_mos_from_r_annex_b_and_clamps():
    assert mos_from_r(-10) == 1.0
    assert mos_from_r(0) == 1.0
    assert mos_from_r(100) == 4.5
    assert mos_from_r(129) == 4.5
    # The G.109 band limits: R 90 → 4.34, 80 → 1 + 2.8 + 80·20·20·7e-6 = 4.024, 70 → 3.60, 60 → 3.10, 50 → 2.58.
    assert [round(mos_from_r(r), 2) for r in (90, 80, 70, 60, 50)] == [4.34, 4.02, 3.6, 3.1, 2.58]
    # 50: 1 + 1.75 + 50·(−10)·50·7e-6 = 2.75 − 0.175 = 2.575
    assert mos_from_r(50) == approx(2.575)
    # Wideband: R/1.29 first, so 129 → 100 → 4.5 and 116 → 89.922…
    assert mos_from_r(129, wideband=True) == 4.5
    assert mos_from_r(116, wideband=True) == approx(mos_from_r(116 / 1.29))


# ------------------------------------------------------------------------------------------------------- delay


def test_delay_approximation_at_150_and_300_ms():
    # RULES.md §1.4: Id = 0.024·Ta + 0.11·(Ta − 177.3)·H(Ta − 177.3)
    # 150 ms: 0.024·150 = 3.6 (below the knee)
    assert delay_impairment(150) == approx(3.6)
    # 300 ms: 7.2 + 0.11·122.7 = 7.2 + 13.497 = 20.697
    assert delay_impairment(300) == approx(20.697)
    assert delay_impairment(0) == 0
    assert delay_impairment(-5) == 0


def test_delay_g107_formula_at_150_and_300_ms():
    # Idd (G.107 §7.4, mT 100, sT 1): X = log2(Ta/100); Idd = 25·((1 + X⁶)^(1/6) − 3·(1 + (X/3)⁶)^(1/6) + 2)
    # 150 ms: X = 0.58496, X⁶ = 0.040372, (1.040372)^(1/6) = 1.0066178; (X/3)⁶ = 5.5e-5 → 3·1.0000092;
    #         Idd = 25·(1.0066178 − 3.0000277 + 2) = 0.16475
    # 300 ms: X = 1.58496, X⁶ = 15.8294, (16.8294)^(1/6) = 1.600848; (X/3)⁶ = 0.021714 → 3·1.0035862;
    #         Idd = 25·(1.600848 − 3.010759 + 2) = 14.7522 (the 14.8 of RULES.md)
    assert g107_rating(150).idd == approx(0.1647, abs=2e-3)
    assert g107_rating(300).idd == approx(14.76, abs=2e-2)
    assert g107_rating(100).idd == 0
    # The whole §7.4 delay term (talker echo at TELR 65 dB + listener echo + Idd), relative to Ta = 0:
    # 150 ms → R 89.54 (approximation: 89.6), 300 ms → R 72.67 (approximation: 72.5).
    assert delay_impairment(150, model="g107") == approx(3.667, abs=1e-3)
    assert delay_impairment(300, model="g107") == approx(20.540, abs=1e-3)
    result = r_factor(codec="PCMA", one_way_delay_ms=300, delay_model="g107")
    assert result.r_factor == approx(93.2 - 20.540, abs=1e-3)
    with pytest.raises(ValueError):
        delay_impairment(100, model="cubic")


def test_g711_no_loss_small_delay():
    # Ta 50 ms: Id = 0.024·50 = 1.2 → R 92.0; MOS = 1 + 3.22 + 92·32·8·7e-6 = 4.22 + 0.164864 = 4.384864
    result = r_factor(codec="PCMU", one_way_delay_ms=50)
    assert result.r_factor == approx(92.0)
    assert result.mos == approx(4.384864)
    assert result.mos_lq == approx(4.409286, abs=1e-6)  # listening quality leaves the delay out
    assert result.mos_ceiling == approx(4.409286, abs=1e-6)
    assert factor_points(result)["delay"] == approx(1.2)
    assert result.factors[-1].explanation == "one-way delay 50 ms"
    assert result.inputs.delay_estimated is False


def test_delay_estimated_from_its_parts_when_not_measured():
    # RULES.md §1.4: network 100 + jitter buffer 50 + ptime 20 + G.711 0.125 + devices 10 = 180.125 ms
    # Id = 0.024·180.125 + 0.11·2.825 = 4.323 + 0.31075 = 4.63375
    result = r_factor(codec="PCMU", network_delay_ms=100)
    assert result.inputs.ta_ms == approx(180.125)
    assert result.inputs.delay_estimated is True
    assert result.id == approx(4.63375)
    assert result.factors[-1].explanation == (
        "estimated one-way delay 180 ms (network 100 + jitter buffer 50 + packetization 20 + codec 0.125 + devices 10)"
    )
    # Network delay unknown: the parts without it, said to be a lower bound.
    unknown = r_factor(codec="G729", jitter_buffer_ms=200)
    assert unknown.inputs.ta_ms == approx(200 + 20 + 15 + 10)
    assert "without the unknown network part" in unknown.factors[-1].explanation
    assert unknown.estimate is False  # the MOS is an estimate only for provisional codec factors


# -------------------------------------------------------------------------------------------------------- loss


def test_g711_loss_only_against_hand_calculation():
    # Ie,eff = 0 + 95·Ppl/(Ppl + Bpl), Ta = 0
    # with PLC (Bpl 25.1), 1 %: 95/26.1 = 3.63985 → R 89.560 (RULES.md: 89.6 / 4.33)
    r1 = r_factor(codec="PCMU", loss_pct=1, one_way_delay_ms=0)
    assert r1.ie_eff == approx(95 / 26.1)
    assert r1.r_factor == approx(93.2 - 95 / 26.1)
    assert round(r1.mos, 2) == 4.33
    # without PLC (Bpl 4.3), 1 %: 95/5.3 = 17.9245 → R 75.2755 (RULES.md: 75.3 / 3.83)
    no_plc = r_factor(codec="PCMU", loss_pct=1, one_way_delay_ms=0, plc=False)
    assert no_plc.inputs.bpl == 4.3
    assert no_plc.r_factor == approx(75.2755, abs=1e-4)
    assert round(no_plc.mos, 2) == 3.83
    # with PLC, 3 % random: 285/28.1 = 10.14235 → R 83.0577, MOS 4.134
    r3 = r_factor(codec="PCMA", loss_pct=3, one_way_delay_ms=0)
    assert r3.r_factor == approx(83.0577, abs=1e-4)
    assert round(r3.mos, 2) == 4.13
    assert factor_points(r3) == approx({"codec": 0, "loss": 10.14235, "burst": 0, "jitter-buffer": 0, "delay": 0})
    assert r3.summary == "MOS 4.13 (good), R 83.1: 10.1 R points lost, mostly to packet loss (10.1)."
    # RULES.md's 10 % column: 950/35.1 = 27.066 → R 66.1 / 3.41
    r10 = r_factor(codec="PCMU", loss_pct=10, one_way_delay_ms=0)
    assert (round(r10.r_factor, 1), round(r10.mos, 2)) == (66.1, 3.41)


def test_g711_bursty_loss():
    # 3 %, BurstR 2: 285/(3/2 + 25.1) = 285/26.6 = 10.71429 → R 82.4857
    # burst factor = 10.71429 − 10.14235 = 0.57194 on top of the random-loss 10.14235
    result = r_factor(codec="PCMU", loss_pct=3, burst_ratio=2, one_way_delay_ms=0)
    assert result.r_factor == approx(82.4857, abs=1e-4)
    points = factor_points(result)
    assert points["loss"] == approx(10.14235, abs=1e-5)
    assert points["burst"] == approx(0.57194, abs=1e-5)
    assert result.factors[2].explanation == "losses come in bursts (BurstR 2.0)"
    # BurstR below 1 counts as random.
    assert r_factor(codec="PCMU", loss_pct=3, burst_ratio=0.7, one_way_delay_ms=0).r_factor == approx(83.0577, abs=1e-4)


def test_g729a_known_results():
    # G.113 App. I: Ie 11, Bpl 19.0 (G.729A + VAD). RULES.md §1.4 worked values at Ta = 0:
    # 0 % → 82.2 / 4.10; 1 % → 11 + 84·1/20 = 15.2 → 78.0 / 3.95; 3 % → 11 + 252/22 = 22.4545 → 70.7 / 3.63
    assert (round(r_factor(codec="G729", one_way_delay_ms=0).r_factor, 1),
            round(r_factor(codec="G729", one_way_delay_ms=0).mos, 2)) == (82.2, 4.10)  # fmt: skip
    one = r_factor(codec="G729", loss_pct=1, one_way_delay_ms=0)
    assert one.ie_eff == approx(15.2)
    assert (round(one.r_factor, 1), round(one.mos, 2)) == (78.0, 3.95)
    three = r_factor(codec="g729a", loss_pct=3, one_way_delay_ms=0)
    assert (round(three.r_factor, 1), round(three.mos, 2)) == (70.7, 3.63)
    # 1 % at 200 ms: Id = 4.8 + 0.11·22.7 = 7.297 → R = 93.2 − 15.2 − 7.297 = 70.703, MOS 3.63
    delayed = r_factor(codec="G729", loss_pct=1, one_way_delay_ms=200)
    assert delayed.r_factor == approx(70.703)
    assert round(delayed.mos_ceiling, 2) == 4.10  # the codec's own ceiling, R 82.2
    assert factor_points(delayed) == approx({"codec": 11, "loss": 4.2, "burst": 0, "jitter-buffer": 0, "delay": 7.297})
    assert delayed.estimate is False


def test_g723_and_gsm_efr_worked_values():
    # G.723.1 6.3k (Ie 15, Bpl 16.1), 1 %: 15 + 80/17.1 = 19.678 → R 73.5; GSM-EFR (5, 10), 2 %: 5 + 180/12 = 20
    # → R 73.2 (RULES.md §1.4)
    assert round(r_factor(codec="G723", loss_pct=1, one_way_delay_ms=0).r_factor, 1) == 73.5
    assert round(r_factor(codec="GSM-EFR", loss_pct=2, one_way_delay_ms=0).r_factor, 1) == 73.2


# ------------------------------------------------------------------------------ what the loss costs (media.packet-loss)


@pytest.mark.parametrize(("codec", "loss", "delta_r", "r_with"), [
    # G.711 with PLC (Ie 0, Bpl 25.1): ΔR = 95·Ppl/(Ppl + 25.1); R = 93.2 − ΔR at Ta = 0 (RULES.md §1.4 column 1)
    ("PCMU", 1, 95 / 26.1, 89.5602),  # 3.6398: below media.delta_r.minor 5, no finding
    ("PCMU", 2, 190 / 27.1, 86.1889),  # 7.0111: minor
    ("PCMU", 3, 285 / 28.1, 83.0577),  # 10.1423: major
    ("PCMU", 5, 475 / 30.1, 77.4193),  # 15.7807: major; "G.711 with PLC tolerates ≈ 5 % (R 77)"
    ("PCMA", 10, 950 / 35.1, 66.1345),  # 27.0655: critical
    # G.729A (Ie 11, Bpl 19): ΔR = 84·Ppl/(Ppl + 19), from R 82.2 (RULES.md §1.4 column 3)
    ("G729", 1, 84 / 20, 78.0),  # 4.2: below 5
    ("G729", 2, 168 / 21, 74.2),  # 8.0: minor
    ("G729", 3, 252 / 22, 70.7455),  # 11.4545: major
    ("G729", 5, 420 / 24, 64.7),  # 17.5: major (R 64.7, not below 60)
    ("G729", 10, 840 / 29, 53.2345),  # 28.9655: critical, and R below 60
])
def test_loss_delta_r_worked_values(codec, loss, delta_r, r_with):
    result = r_factor(codec=codec, loss_pct=loss, one_way_delay_ms=0)
    assert loss_delta_r(result) == approx(delta_r, abs=1e-9)
    assert result.r_factor == approx(r_with, abs=1e-4)
    # the R of the same stream with no loss is R + ΔR, the codec's ceiling at Ta = 0
    assert result.r_factor + loss_delta_r(result) == approx(r_factor(codec=codec, one_way_delay_ms=0).r_factor)


def test_loss_delta_r_ignores_the_delay_and_counts_the_bursts():
    # The delay does not depend on the loss: G.729A with 3 % at the estimated Ta of a measured stream (50 ms buffer
    # + 20 packetization + 15 codec + 10 devices = 95 ms, Id 2.28) costs the same 11.4545 points.
    assert loss_delta_r(r_factor(codec="G729", loss_pct=3)) == approx(252 / 22, abs=1e-9)
    # Bursts go with the loss: 3 % at BurstR 2 on G.711 costs 285/(1.5 + 25.1) = 10.7143, loss + burst factors.
    bursty = r_factor(codec="PCMU", loss_pct=3, burst_ratio=2, one_way_delay_ms=0)
    assert loss_delta_r(bursty) == approx(285 / 26.6, abs=1e-9)
    assert loss_delta_r(bursty) == approx(factor_points(bursty)["loss"] + factor_points(bursty)["burst"])
    # With 1 % late discards kept, 2 % loss costs Ie,eff(3 %) − Ie,eff(1 %) = 285/28.1 − 95/26.1 = 6.5025: less
    # than 7.0111 alone, the loss comes on top of the discards' impairment (Ie,eff is concave in Ppl).
    both = r_factor(codec="PCMU", loss_pct=2, discard_pct=1, one_way_delay_ms=0)
    assert loss_delta_r(both) == approx(285 / 28.1 - 95 / 26.1, abs=1e-9)
    # no loss, no cost, whatever the discards
    assert loss_delta_r(r_factor(codec="PCMU", discard_pct=4, one_way_delay_ms=0)) == 0
    # Without PLC (Bpl 4.3): 1 % costs 95/5.3 = 17.9245 (RULES.md: R 75.3).
    assert loss_delta_r(r_factor(codec="PCMU", loss_pct=1, plc=False, one_way_delay_ms=0)) == approx(95 / 5.3)


def test_loss_delta_r_of_a_wideband_codec_is_on_its_scale():
    # G.722 (Ie,WB 13, Bpl 13), 2 %: (95 − 13)·2/(2 + 13) = 10.9333 on the 129-point scale, 8.4755 narrowband.
    result = r_factor(codec="G722", loss_pct=2, one_way_delay_ms=0)
    assert loss_delta_r(result) == approx(164 / 15, abs=1e-9)
    assert loss_delta_r(result) / 1.29 == approx(8.4755, abs=1e-4)


# --------------------------------------------------------------------------------------------- factor accounting


@pytest.mark.parametrize(
    "kwargs",
    [
        {"codec": "PCMU"},
        {"codec": "PCMU", "loss_pct": 2.1, "discard_pct": 1.2, "burst_ratio": 1.8, "network_delay_ms": 100},
        {"codec": "G729", "loss_pct": 5, "discard_pct": 3, "burst_ratio": 3.5, "one_way_delay_ms": 420},
        {"codec": "G722", "loss_pct": 1, "discard_pct": 0.5, "burst_ratio": 1.5, "network_delay_ms": 40},
        {"codec": "opus", "discard_pct": 4, "adaptive_buffer": True, "jitter_buffer_ms": 120},
        {"codec": "PCMA", "loss_pct": 80, "discard_pct": 40, "burst_ratio": 4, "advantage": 10},
        {"codec": "iLBC", "loss_pct": 1, "delay_model": "g107", "one_way_delay_ms": 250},
    ],
)
def test_factors_add_up_to_r0_minus_r(kwargs):
    result = r_factor(**kwargs)
    assert sum(factor.r_points_lost for factor in result.factors) == approx(result.r0 - result.r_factor, abs=1e-9)
    assert [factor.name for factor in result.factors][:5] == ["codec", "loss", "burst", "jitter-buffer", "delay"]
    assert result.ie_eff == approx(sum(factor_points(result)[name] for name in ("codec", "loss", "burst",
                                                                                 "jitter-buffer")))  # fmt: skip


def test_loss_and_discards_share_the_random_loss_impairment_by_count():
    # Ppl = 2.1 + 1.2 = 3.3; random Ie,eff = 95·3.3/28.4 = 11.03873; loss gets 2.1/3.3 of it = 7.02465,
    # the jitter buffer 1.2/3.3 = 4.01408; BurstR 1.8: 95·3.3/(3.3/1.8 + 25.1) = 11.63985, burst = 0.60112;
    # R = 93.2 − 11.63985 = 81.56015, MOS = 1 + 2.854605 + 81.56·21.56·18.44·7e-6 = 4.0816
    result = r_factor(codec="PCMU", loss_pct=2.1, discard_pct=1.2, burst_ratio=1.8, one_way_delay_ms=0)
    points = factor_points(result)
    assert points["loss"] == approx(7.02465, abs=1e-5)
    assert points["jitter-buffer"] == approx(4.01408, abs=1e-5)
    assert points["burst"] == approx(0.60112, abs=1e-5)
    assert result.factors[3].explanation == "1.2 % would arrive too late for a 50 ms buffer"
    assert result.summary == (
        "MOS 4.08 (good), R 81.6: 11.6 R points lost, mostly to packet loss (7.0), then packets arriving too late "
        "(jitter) (4.0)."
    )
    assert result.summary_ru == (  # media.low-mos's Russian engineer text
        "MOS 4.08 (хорошо), R 81.6: потеряно пунктов R: 11.6, больше всего из-за потери пакетов (7.0), затем из-за "
        "опоздавших пакетов (джиттер) (4.0)."
    )
    adaptive = r_factor(codec="PCMU", discard_pct=0.4, jitter_buffer_ms=73, adaptive_buffer=True)
    assert adaptive.factors[3].explanation == "0.4 % would arrive too late for an adaptive buffer (mean delay 73 ms)"


def test_advantage_factor_is_a_negative_factor():
    result = r_factor(codec="PCMU", one_way_delay_ms=0, advantage=10)
    assert result.r_factor == approx(103.2)
    assert result.mos == 4.5  # R > 100
    assert result.factors[-1].name == "advantage"
    assert result.factors[-1].r_points_lost == -10
    with pytest.raises(ValueError):
        r_factor(codec="PCMU", advantage=25)


# ---------------------------------------------------------------------------------------------------- boundaries


def test_total_loss():
    # 100 % with PLC: 9500/125.1 = 75.93925 → R 17.26075; MOS = 1 + 0.604126 − 0.427262 = 1.176864
    result = r_factor(codec="PCMU", loss_pct=100, one_way_delay_ms=0)
    assert result.r_factor == approx(93.2 - 9500 / 125.1)
    assert result.mos == approx(mos_from_r(93.2 - 9500 / 125.1))
    assert result.mos == approx(1.1769, abs=1e-4)
    assert result.band.label == "very bad"
    # Loss and discards together are capped at 100 %.
    capped = r_factor(codec="PCMU", loss_pct=70, discard_pct=50, one_way_delay_ms=0)
    assert capped.inputs.ppl_pct == 100
    assert capped.r_factor == approx(result.r_factor)


def test_negative_r_gives_mos_1():
    # No PLC, 100 %: 9500/104.3 = 91.0834; Ta 500: 12 + 0.11·322.7 = 47.497 → R = 93.2 − 91.083 − 47.497 = −45.38
    result = r_factor(codec="PCMU", loss_pct=100, plc=False, one_way_delay_ms=500)
    assert result.r_factor == approx(-45.3804, abs=1e-4)
    assert result.mos == 1.0
    assert result.mos_lq == approx(mos_from_r(93.2 - 9500 / 104.3))


def test_r_shown_stays_on_the_scale():
    # The R an engineer reads is kept within 0 and the top of the codec's scale; r_factor keeps the arithmetic.
    negative = r_factor(codec="PCMU", loss_pct=100, plc=False, one_way_delay_ms=500)
    assert (negative.r_factor, negative.r_shown) == (approx(-45.3804, abs=1e-4), 0.0)
    # As the corpus capture Asterisk_ZFONE_XLITE.pcap: 64.29 % lost in bursts (BurstR 43.93). Ie,eff =
    # 95·64.2857/(64.2857/43.93 + 25.1) = 229.9, Id 1.9 at 80 ms: R = 93.2 − 229.9 − 1.9 = −138.6.
    bursty = r_factor(codec="PCMU", loss_pct=64.2857, burst_ratio=43.93, one_way_delay_ms=80)
    assert bursty.r_factor == approx(93.2 - ie_eff(0, 64.2857, 25.1, 43.93) - 1.92)
    assert round(bursty.r_factor, 1) == -138.6 and bursty.r_shown == 0.0 and bursty.mos == 1.0
    assert bursty.summary == ("MOS 1.00 (very bad), R 0.0: all 93.2 R points lost (the impairments add up to "
                              "231.8), mostly to losses in bursts (161.6), then packet loss (68.3).")
    assert bursty.summary_ru == ("MOS 1.00 (очень плохо), R 0.0: потеряны все пункты R (93.2; ухудшения в сумме "
                                 "231.8), больше всего из-за потерь пачками (161.6), затем из-за потери пакетов "
                                 "(68.3).")
    # The advantage factor lifts R above 100, the top of Annex B's scale: shown as 100.
    lifted = r_factor(codec="PCMU", one_way_delay_ms=0, advantage=10)
    assert (lifted.r_factor, lifted.r_shown) == (approx(103.2), 100.0)
    assert lifted.summary.startswith("MOS 4.50 (excellent), R 100.0")
    # A wideband R above 100 is on the G.107.1 scale (up to 129): kept as it is.
    wideband = r_factor(codec="G722", one_way_delay_ms=0)
    assert wideband.r_shown == approx(116)
    assert r_factor(codec="G722", one_way_delay_ms=0, advantage=20).r_shown == 129.0


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="no E-model impairment values"):
        r_factor(codec="telephone-event")
    with pytest.raises(ValueError):
        r_factor(codec="PCMU", loss_pct=-1)
    with pytest.raises(ValueError):
        r_factor(codec="PCMU", loss_pct=math.nan)
    with pytest.raises(ValueError):
        r_factor(codec="PCMU", delay_model="fast")


# ---------------------------------------------------------------------------------------- estimates and wideband


def test_opus_is_an_estimate():
    # RULES.md: Opus has no G.113 value; Ie 0 / Bpl 25 on the narrowband scale, marked estimate.
    # 1 %: 95/26 = 3.65385 → R at Ta 0 = 89.546
    result = r_factor(codec="opus", loss_pct=1, one_way_delay_ms=0)
    assert result.estimate is True
    assert result.r_factor == approx(93.2 - 95 / 26)
    assert any("provisional Ie" in reason for reason in result.estimate_reasons)
    assert result.factors[0].explanation == "Opus has no coding impairment (provisional value)"
    assert result.summary == "MOS 4.33 (good, estimate), R 89.5: 3.7 R points lost, mostly to packet loss (3.7)."
    assert result.summary_ru == ("MOS 4.33 (хорошо, оценка), R 89.5: потеряно пунктов R: 3.7, больше всего из-за "
                                 "потери пакетов (3.7).")


def test_estimate_only_when_a_provisional_factor_is_used():
    # G.723.1 5.3 kbit/s: Ie 19 is standard, its Bpl is borrowed: no loss → no estimate; loss → estimate.
    g723_53 = codec_info("G723", bitrate_kbps=5.3)
    assert r_factor(codec=g723_53, one_way_delay_ms=0).estimate is False
    lossy = r_factor(codec=g723_53, loss_pct=1, one_way_delay_ms=0)
    assert lossy.estimate_reasons == ("provisional Bpl 16.1 for G.723.1 5.3 kbit/s",)
    # A calibrated replacement keeps the flags of the entry it came from.
    tuned = dataclasses.replace(codec_info("opus"), ie=5.0)
    assert r_factor(codec=tuned, one_way_delay_ms=0).r_factor == approx(88.2)


def test_wideband_codec_on_the_g107_1_scale():
    # G.722: Ie,WB 13 [P] → R_WB = 129 − 13 = 116; narrowband equivalent 116/1.29 = 89.922
    result = r_factor(codec="G722", one_way_delay_ms=0)
    assert result.r0 == R0_WIDEBAND
    assert result.inputs.scale == WIDEBAND
    assert result.r_factor == approx(116)
    assert result.r_factor_nb == approx(116 / 1.29)
    assert result.mos == approx(mos_from_r(116 / 1.29))
    assert result.estimate is True
    # Delay costs 1.29× on the wideband scale, the same after the mapping: 150 ms → 4.644 WB = 3.6 NB
    delayed = r_factor(codec="G722", one_way_delay_ms=150)
    assert delayed.id == approx(3.6 * 1.29)
    assert delayed.r_factor_nb == approx(116 / 1.29 - 3.6)
    assert "wideband scale" in delayed.factors[0].explanation


# ------------------------------------------------------------------------------------------------ stream inputs


def test_burst_ratio_from_loss_runs():
    # 30 single losses in 1000 packets: mean burst 1, random expectation 1/(1 − 0.03) → 0.97, rated as random (1.0)
    assert burst_ratio([1] * 30, 1000) == 1.0
    # 10 bursts of 3 in 1000: 3·(1 − 0.03) = 2.91; the Markov form agrees: 1/(10/970 + 10/30) = 2.91
    assert burst_ratio([3] * 10, 1000) == approx(2.91)
    assert burst_ratio({3: 10}, 1000) == approx(2.91)
    assert 1 / (10 / 970 + 10 / 30) == approx(2.91)
    # Mixed: runs 1,1,1,5 → lost 8, 4 bursts in 400: 2·(1 − 0.02) = 1.96
    assert burst_ratio([1, 1, 1, 5], 400) == approx(1.96)
    assert burst_ratio({1: 3, 5: 1}, 400, lost=8) == approx(1.96)
    # Degenerate cases are random loss.
    assert burst_ratio([], 1000) == 1.0
    assert burst_ratio([50], 50) == 1.0
    assert burst_ratio([2], 0) == 1.0


def test_effective_loss_pct():
    # (21 lost + 12 late) / 1000 = 3.3 %
    assert effective_loss_pct(21, 12, 1000) == approx(3.3)
    assert effective_loss_pct(-3, 5, 1000) == approx(0.5)  # duplicates make RFC 3550 loss negative
    assert effective_loss_pct(0, 0, 0) == 0.0
    assert effective_loss_pct(900, 300, 1000) == 100.0


def test_ie_eff_formula():
    # G.107 §7.5: 11 + 84·2/(2/1.5 + 19) = 11 + 168/20.3333 = 19.2623
    assert ie_eff(11, 2, 19, 1.5) == approx(11 + 168 / (2 / 1.5 + 19))
    assert ie_eff(11, 0, 19) == 11


def test_ie_eff_passes_95_with_bursty_loss():
    """95 is the limit of random loss only (G.107 §7.5 sets no cap): G.711 with PLC (Bpl 25.1) at 100 % random loss
    is 9500/125.1 = 75.94; at BurstR 2 it reaches 95 where Ppl·(1 − 1/2) = 25.1, at 50.2 %, and 50 % lost at
    BurstR 4 gives 95·50/(12.5 + 25.1) = 126.33. R then goes below 0: shown as 0, MOS 1."""
    assert ie_eff(0, 100, 25.1) == approx(9500 / 125.1) and ie_eff(0, 100, 25.1) < 95
    assert ie_eff(0, 50.2, 25.1, 2) == approx(95.0)
    assert ie_eff(0, 50, 25.1, 4) == approx(4750 / 37.6) and round(ie_eff(0, 50, 25.1, 4), 2) == 126.33
    bursty = r_factor(codec="PCMU", loss_pct=50, burst_ratio=4, one_way_delay_ms=0)
    assert (round(bursty.ie_eff, 2), round(bursty.r_factor, 2), bursty.r_shown, bursty.mos) == (
        126.33, -33.13, 0.0, 1.0)


# ------------------------------------------------------------------------------------------------- bands, labels


def test_quality_bands():
    assert [quality_band(r).label for r in (93.2, 85, 75, 65, 55, 40, -3)] == [
        "excellent", "good", "fair", "poor", "bad", "very bad", "very bad",
    ]  # fmt: skip
    assert quality_band(80).category == "high"
    assert quality_band(55).satisfaction == "nearly all users dissatisfied"
    assert [round(band_for_mos(m).min_mos, 2) for m in (4.41, 4.1, 3.7, 3.2, 2.6)] == [4.34, 4.02, 3.6, 3.1, 2.58]
    assert band_for_mos(mos_from_r(80)).label == "good"
    assert band_for_mos(2.5).label == "very bad"
    assert band_for_mos(1.0).label == "very bad"


# ------------------------------------------------------------------------------------------------- codec table


def test_codec_lookup_is_case_insensitive_with_aliases():
    assert codec_info("pcmu") is codec_info("PCMU")
    assert codec_info("OPUS") is codec_info("opus")
    assert codec_info("G729A") is codec_info("G729")
    assert codec_info("telephone-event") is None
    assert codec_info("H264") is None
    assert codec_info("iLBC").ptime_ms == 30  # RFC 3952 default mode
    assert codec_info("iLBC", mode_ms=20).ptime_ms == 20
    assert codec_info("iLBC", ptime_ms=40).ptime_ms == 20
    assert codec_info("iLBC", ptime_ms=60).ptime_ms == 30  # fits both modes: the default
    assert codec_info("G723", bitrate_kbps=5.3).ie == 19
    assert codec_info("G723").ie == 15


def test_static_payload_types():
    assert static_payload_encoding(0) == "PCMU"
    assert static_payload_encoding(8) == "PCMA"
    assert static_payload_encoding(9) == "G722"
    assert static_payload_encoding(18) == "G729"
    assert static_payload_encoding(101) is None
    for payload_type in (0, 3, 4, 8, 9, 15, 18):
        assert codec_info(static_payload_encoding(payload_type)) is not None


def test_codec_table_values_and_flags():
    g711 = codec_info("PCMA")
    assert (g711.ie, g711.bpl, g711.bpl_no_plc, g711.standard) == (0, 25.1, 4.3, True)
    assert (codec_info("G729").ie, codec_info("G729").bpl, codec_info("G729").standard) == (11, 19.0, True)
    assert (codec_info("G723").ie, codec_info("G723").bpl, codec_info("G723").standard) == (15, 16.1, True)
    assert (codec_info("GSM").ie, codec_info("GSM").ie_standard, codec_info("GSM").bpl_standard) == (20, True, False)
    for provisional in ("opus", "SILK", "speex", "iLBC", "G722", "AMR-WB", "AMR"):
        assert codec_info(provisional).standard is False, provisional
    assert codec_info("opus").clock_rate == 48000
    assert codec_info("G722").clock_rate == 8000  # RFC 3551 §4.5.2
    assert codec_info("G722").scale == WIDEBAND and codec_info("AMR-WB").wideband
    for entries in CODECS.values():
        for codec in entries:
            assert codec.scale in (NARROWBAND, WIDEBAND)
            assert codec.bpl > 0 and codec.ptime_ms > 0 and codec.clock_rate > 0
            assert codec.source


# ------------------------------------------------------------------------------------------ the Russian sentences


def test_every_factor_is_explained_in_russian_too():
    """The Russian HTML page's "Почему" column and factor-bar tooltips: each branch of the explanation in Russian,
    the English one unchanged beside it."""
    lossy = r_factor(codec="PCMU", loss_pct=2.1, discard_pct=1.2, burst_ratio=1.8, network_delay_ms=100)
    assert [f.explanation_in("ru") for f in lossy.factors] == [
        "G.711 μ-law: искажений кодирования нет",
        "в сети потеряно 2.1 % пакетов (Bpl 25.1, с маскированием потерь)",
        "потери идут пачками (BurstR 1.8)",
        "1.2 % пакетов опоздали бы для буфера 50 мс",
        "оценка односторонней задержки 180 мс (сеть 100 + джиттер-буфер 50 + пакетизация 20 + кодек 0.125 + "
        "устройства 10)"]
    assert [f.explanation_in("en") for f in lossy.factors] == [f.explanation for f in lossy.factors]
    assert lossy.factors[0].explanation == "G.711 μ-law has no coding impairment"
    measured = r_factor(codec="PCMA", loss_pct=1, plc=False, one_way_delay_ms=50, discard_pct=0.4,
                        jitter_buffer_ms=73, adaptive_buffer=True)
    assert [f.explanation_ru for f in measured.factors][1:] == [
        "в сети потеряно 1.0 % пакетов (Bpl 4.3, без маскирования потерь)",
        "потери случайные (BurstR 1.0)",
        "0.4 % пакетов опоздали бы для адаптивного буфера (средняя задержка 73 мс)",
        "односторонняя задержка 50 мс"]
    wideband = r_factor(codec="G722", discards_rated=False, advantage=10)
    assert [f.explanation_ru for f in wideband.factors] == [
        "G.722 64 кбит/с: искажение кодирования Ie 13 (широкополосная шкала, предварительное значение)",
        "потерь пакетов в сети нет",
        "потерь нет",
        "отбрасывание опоздавших пакетов для буфера 50 мс не оценено: метки времени RTP не следуют частоте кодека "
        "(codec.timestamp-clock-mismatch), и джиттер в единицах меток времени не имеет смысла",
        "оценка односторонней задержки 82 мс без неизвестной сетевой части (джиттер-буфер 50 + пакетизация 20 + "
        "кодек 1.5 + устройства 10)",
        "фактор ожиданий A 10 (чего пользователь ждёт от услуги)"]
    assert r_factor(codec="PCMU").factors[3].explanation_ru == "для буфера 50 мс ни один пакет не опаздывает"


def test_every_codec_is_named_in_russian_without_english_words():
    from tests.russiantext import english_runs

    named = {codec.description_in("ru"): r_factor(codec=codec).factors[0].explanation_ru
             for entries in CODECS.values() for codec in entries}
    assert {name: english_runs(text) for name, text in named.items() if english_runs(text)} == {}
    assert r_factor(codec="GSM").factors[0].explanation_ru == "GSM FR (полноскоростной): искажение кодирования Ie 20"
    assert codec_info("iLBC").description_in("ru") == "iLBC, режим 30 мс"
    assert codec_info("PCMU").description_in("ru") == codec_info("PCMU").description == "G.711 μ-law"
