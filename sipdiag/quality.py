"""Explainable call quality: the ITU-T G.107 E-model per stream, with what took R down.

RULES.md §1.4 fixes the working set for passive monitoring: `R = 93.2 − Id(Ta) − Ie,eff + A`, with
`Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl/BurstR + Bpl)` (G.107 §7.5), the delay term from the mouth-to-ear
delay Ta, and MOS from R by G.107 Annex B. Ppl is the effective loss: network loss plus the packets a jitter
buffer would discard as late (RULES.md §1.3). Wideband codecs are rated on the G.107.1 scale (R up to 129)
and mapped to one MOS scale with R/1.29. Codec factors come from `sipdiag.codecs`; a result computed with a
provisional ([P]) factor is an estimate.

Everything here is a pure function of a few numbers per stream: no I/O, no state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from sipdiag.codecs import NARROWBAND, WIDEBAND, Codec, codec_info
from sipdiag.qualitytexts import LANGUAGES, explain, phrase

__all__ = [
    "DELAY_MODELS", "DEVICE_DELAY_MS", "R0_NARROWBAND", "R0_WIDEBAND", "R_MAX", "WIDEBAND_RATIO", "EModelInputs",
    "EModelResult", "Factor", "G107Rating", "QualityBand", "band_for_mos", "burst_ratio", "customer_cause",
    "delay_impairment", "effective_loss_pct", "g107_rating", "ie_eff", "loss_delta_r", "mos_from_r", "quality_band",
    "r_factor", "rate_stream",
]  # fmt: skip

#: R with every G.107 default (Ro 94.77 − Is 1.41 − Id 0.15 at Ta = 0): the G.711 ceiling, MOS 4.41 (RULES.md §1.4;
#: `g107_rating()` recomputes it from the §7 formulas as 93.206).
R0_NARROWBAND = 93.2
#: Ro,WB of the wideband E-model, with Is,WB = 0 (G.107.1 §7.2, §7.3 [K]).
R0_WIDEBAND = 129.0
#: A wideband R divided by this is on the narrowband scale used by Annex B (G.107.1 Annex A, RULES.md §1.4).
WIDEBAND_RATIO = 1.29
#: The top of each R scale: Annex B gives MOS 4.5 from R 100 on (G.107), and the wideband scale ends at Ro,WB 129
#: (G.107.1). An R shown to an engineer is kept within 0 and these: the formulas go past both ends (R -138 with
#: 64 % of the packets lost in bursts), where the number means nothing more than "the bottom (top) of the scale".
R_MAX = {NARROWBAND: 100.0, WIDEBAND: R0_WIDEBAND}
#: The 95 of the Ie,eff formula (G.107 §7.5): the limit Ie,eff approaches as random loss grows (BurstR 1:
#: Ppl/(Ppl + Bpl) < 1). It is no ceiling: with bursty loss Ie,eff passes it wherever Ppl·(1 − 1/BurstR) > Bpl (G.711
#: with PLC, Bpl 25.1: from 50.2 % lost at BurstR 2), up to Ie + (95 − Ie)·100/(100/BurstR + Bpl) at 100 %, and G.107
#: sets no cap; R then falls below 0, which is shown as 0 and MOS 1 (shown_r, mos_from_r).
IE_EFF_RANDOM_LIMIT = 95.0
#: Sender and receiver processing added to the mouth-to-ear estimate (RULES.md §1.4, "~10 ms device processing").
DEVICE_DELAY_MS = 10.0
#: "approximation" (default, RULES.md §1.4: Cole & Rosenbluth, as most monitoring tools) or "g107" (the §7.4
#: Idte + Idle + Idd terms with default echo parameters, T = Ta, Tr = 2·Ta).
DELAY_MODELS = ("approximation", "g107")
#: G.107 Table 3 permits A up to 20 (multi-hop satellite).
ADVANTAGE_MAX = 20.0


# ------------------------------------------------------------------------------------------------ G.107 formulas


def mos_from_r(r: float, *, wideband: bool = False) -> float:
    """MOS-CQE from R by G.107 Annex B: 1 for R ≤ 0, 4.5 for R ≥ 100, else
    `1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶`.

    :param wideband: R is on the G.107.1 scale (0–129); it is divided by 1.29 first (G.107.1 Annex A).
    """
    if wideband:
        r /= WIDEBAND_RATIO
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def ie_eff(ie: float, ppl_pct: float, bpl: float, burst_ratio: float = 1.0) -> float:
    """Effective equipment impairment `Ie + (95 − Ie) · Ppl / (Ppl/BurstR + Bpl)` (G.107 §7.5), Ppl in percent.
    Below 95 for random loss; bursty loss takes it beyond (IE_EFF_RANDOM_LIMIT), and it is not capped.

    The same form is used on the wideband scale with Ie,WB (G.107.1 §7.5, as read in two implementations [P]).
    """
    if ppl_pct <= 0:
        return ie
    return ie + (IE_EFF_RANDOM_LIMIT - ie) * ppl_pct / (ppl_pct / burst_ratio + bpl)


# G.107 Table 3 default values, used by the full computation below.
_SLR, _RLR, _STMR, _LSTR, _DS = 8.0, 2.0, 15.0, 18.0, 3.0
_TELR, _WEPL, _QDU, _NC, _NFOR, _PS, _PR = 65.0, 110.0, 1.0, -70.0, -64.0, 35.0, 35.0
_MT, _ST = 100.0, 1.0  # delay-sensitivity class "default" (G.107 (06/2015) §7.4)


@dataclass(frozen=True, slots=True)
class G107Rating:
    """R = Ro − Is − Id (Ie = 0, A = 0) from the full G.107 §7 formulas, every Table 3 default but the delay."""

    ro: float  # basic signal-to-noise ratio (§7.2)
    is_: float  # simultaneous impairments Iolr + Ist + Iq (§7.3)
    idte: float  # talker echo (§7.4), TELR 65 dB, T = Ta
    idle: float  # listener echo (§7.4), WEPL 110 dB, Tr = 2·Ta
    idd: float  # pure delay (§7.4), mT 100 ms, sT 1

    @property
    def id(self) -> float:
        """Delay impairment Id = Idte + Idle + Idd."""
        return self.idte + self.idle + self.idd

    @property
    def r(self) -> float:
        """The rating factor R = Ro − Is − Id."""
        return self.ro - self.is_ - self.id


def g107_rating(ta_ms: float = 0.0) -> G107Rating:
    """The G.107 reference computation (§7.2–7.4 [K]) at mouth-to-ear delay `ta_ms`, assuming a symmetric path with
    the echo at the far end (T = Ta, Tr = 2·Ta). At Ta = 0 it gives Ro 94.77, Is 1.41, Id 0.15, R 93.21."""
    t, tr = ta_ms, 2 * ta_ms
    olr = _SLR + _RLR
    # Noise summation, §7.2.
    nfo = _NFOR + _RLR
    pre = _PR + 10 * math.log10(1 + 10 ** ((10 - _LSTR) / 10))
    nor = _RLR - 121 + pre + 0.008 * (pre - 35) ** 2
    nos = _PS - _SLR - _DS - 100 + 0.004 * (_PS - olr - _DS - 14) ** 2
    no = 10 * math.log10(10 ** (_NC / 10) + 10 ** (nos / 10) + 10 ** (nor / 10) + 10 ** (nfo / 10))
    ro = 15 - 1.5 * (_SLR + no)
    # Simultaneous impairments, §7.3.
    xolr = olr + 0.2 * (64 + no - _RLR)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** (1 / 8) - xolr / 8)
    stmro = -10 * math.log10(10 ** (-_STMR / 10) + math.exp(-t / 4) * 10 ** (-_TELR / 10))
    ist = (12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8) - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
           - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13) + 29)  # fmt: skip
    q = 37 - 15 * math.log10(_QDU)
    g = 1.07 + 0.258 * q + 0.0602 * q * q
    y, z = (ro - 100) / 15 + 46 / 8.4 - g / 9, 46 / 30 - g / 40
    iq = 15 * math.log10(1 + 10**y + 10**z)
    # Delay impairments, §7.4 (STMR 15 dB ≥ 9, so TERV needs no sidetone correction).
    terv = _TELR - 40 * math.log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t * t)
    roe, re = -1.5 * (no - _RLR), 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    rle = 10.5 * (_WEPL + 7) * (tr + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    idd = 0.0
    if ta_ms > _MT:
        x, k = math.log10(ta_ms / _MT) / math.log10(2), 6 * _ST
        idd = 25 * ((1 + x**k) ** (1 / k) - 3 * (1 + (x / 3) ** k) ** (1 / k) + 2)
    return G107Rating(ro=ro, is_=iolr + ist + iq, idte=idte, idle=idle, idd=idd)


def delay_impairment(ta_ms: float, *, model: str = "approximation") -> float:
    """R points the mouth-to-ear delay `ta_ms` costs on the narrowband scale, 0 at Ta = 0.

    "approximation": `0.024·Ta + 0.11·(Ta − 177.3)·H(Ta − 177.3)` (RULES.md §1.4, the sipdiag default; it
    folds in talker echo at default echo loss). "g107": the drop of `g107_rating(Ta).r` from its Ta = 0 value
    (Idte, Idle and Idd of §7.4, plus the vanishing sidetone term). Both agree within 0.9 points up to 300 ms.
    """
    if model not in DELAY_MODELS:
        raise ValueError(f"delay model must be one of {DELAY_MODELS}, not {model!r}")
    ta_ms = max(ta_ms, 0.0)
    if model == "g107":
        return _G107_AT_ZERO - g107_rating(ta_ms).r
    return 0.024 * ta_ms + (0.11 * (ta_ms - 177.3) if ta_ms > 177.3 else 0.0)


_G107_AT_ZERO = g107_rating(0.0).r


# ------------------------------------------------------------------------------------------- inputs from a stream


def effective_loss_pct(lost: int, late_discards: int, expected: int) -> float:
    """Ppl,eff of RULES.md §1.3: `(network lost + late discards) / expected`, in percent, within 0–100.

    :param lost: RFC 3550 cumulative loss (expected − received); negative values (duplicates) count as 0.
    :param late_discards: packets that arrived but too late for the simulated jitter buffer.
    :param expected: RFC 3550 expected packets; 0 or less gives 0.
    """
    if expected <= 0:
        return 0.0
    return min(100.0, 100.0 * (max(lost, 0) + max(late_discards, 0)) / expected)


def burst_ratio(loss_runs: Sequence[int] | Mapping[int, int], packets: int, lost: int | None = None) -> float:
    """BurstR: mean length of the observed loss bursts over the mean burst length random loss would give (G.107
    §7.5 definition; RULES.md §1.2). With loss probability p = lost/packets, random loss makes bursts of mean length
    1/(1 − p), so `BurstR = (lost / bursts) · (1 − p)`. This equals the two-state Markov form `1/(p' + q')` with
    p' = bursts/received and q' = bursts/lost, since every burst is one received→lost and one lost→received step.

    :param loss_runs: lengths of the runs of consecutive lost (or discarded) packets, as a list (`[1, 1, 3]`) or as
        counts per length (`{1: 2, 3: 1}`).
    :param packets: packets expected over the same stretch.
    :param lost: packets lost; defaults to the sum of the runs.
    :return: ≥ 1.0. Loss spread more evenly than random (ratio below 1) is rated as random, as VoIPmonitor does, so
        that evenness never earns a better score than G.107's random-loss case; no loss, or everything lost, gives 1.
    """
    if isinstance(loss_runs, Mapping):
        bursts = sum(count for length, count in loss_runs.items() if length > 0)
        run_total = sum(length * count for length, count in loss_runs.items() if length > 0)
    else:
        bursts = sum(1 for length in loss_runs if length > 0)
        run_total = sum(length for length in loss_runs if length > 0)
    lost = run_total if lost is None else lost
    if bursts == 0 or lost <= 0 or packets <= 0 or lost >= packets:
        return 1.0
    return max(1.0, (lost / bursts) * (1 - lost / packets))


# -------------------------------------------------------------------------------------------------- the verdict


class Factor(NamedTuple):
    """One cause of lost quality: how many R points it took, and why, in a sentence for the engineer text (in
    English and in Russian, as `summary` and `summary_ru`: sipdiag.qualitytexts)."""

    name: str  # codec, loss, burst, jitter-buffer, delay, advantage
    r_points_lost: float  # on the codec's R scale; negative for the advantage factor
    explanation: str
    explanation_ru: str

    def explanation_in(self, lang: str) -> str:
        return self.explanation_ru if lang == "ru" else self.explanation


@dataclass(frozen=True, slots=True)
class QualityBand:
    """A G.109 quality category (RULES.md §1.4 [K]) with the G.107 Annex B MOS at its lower R bound."""

    label: str  # word for customer texts: excellent, good, fair, poor, bad, very bad
    category: str  # G.109 name: best, high, medium, low, poor, not recommended
    satisfaction: str  # G.109 user satisfaction
    min_r: float
    min_mos: float


_BANDS = tuple(
    QualityBand(label, category, satisfaction, min_r, mos_from_r(min_r) if min_r > 0 else 1.0)
    for min_r, label, category, satisfaction in (
        (90.0, "excellent", "best", "very satisfied"),
        (80.0, "good", "high", "satisfied"),
        (70.0, "fair", "medium", "some users dissatisfied"),
        (60.0, "poor", "low", "many users dissatisfied"),
        (50.0, "bad", "poor", "nearly all users dissatisfied"),
        (-math.inf, "very bad", "not recommended", "not recommended"),
    )
)


def quality_band(r: float) -> QualityBand:
    """The G.109 band of a narrowband-scale R (use `EModelResult.r_factor_nb` for wideband codecs)."""
    return next(band for band in _BANDS if r >= band.min_r)


def band_for_mos(mos: float) -> QualityBand:
    """The band of a MOS: ≥ 4.34 excellent, ≥ 4.02 good, ≥ 3.60 fair, ≥ 3.10 poor, ≥ 2.58 bad, else very bad
    (the Annex B MOS at R 90, 80, 70, 60, 50)."""
    return next(band for band in _BANDS if mos >= band.min_mos)


@dataclass(frozen=True, slots=True)
class EModelInputs:
    """What `r_factor` rated, after defaults and lookups: the engineer text shows these."""

    codec: Codec
    scale: str  # narrowband (G.107) or wideband (G.107.1)
    ie: float
    bpl: float
    plc: bool  # Bpl with packet-loss concealment (False: G.711's 4.3)
    loss_pct: float  # network loss
    discard_pct: float  # late discards of the jitter-buffer model
    ppl_pct: float  # effective loss fed to Ie,eff: loss + discards, at most 100
    burst_ratio: float
    ta_ms: float  # mouth-to-ear delay used for Id
    delay_estimated: bool  # Ta composed from parts rather than measured
    delay_parts: tuple[tuple[str, float], ...]  # (part, ms) when estimated: network, jitter buffer, packetization...
    jitter_buffer_ms: float
    adaptive_buffer: bool
    delay_model: str
    advantage: float
    # False when the late discards could not be computed (the RTP clock does not fit the stream): discard_pct is 0
    # then because nothing can be said, not because nothing was late.
    discards_rated: bool = True
    ptime_ms: float | None = None  # the packetization used in the delay estimate


@dataclass(frozen=True, slots=True)
class EModelResult:
    """The E-model verdict of one stream (one direction, one jitter-buffer model).

    r_factor: R on the codec's scale (0–100 narrowband, 0–129 wideband), not clamped (may be < 0): the arithmetic
        of the factors. Show `r_shown` instead.
    r0: R without any impairment on that scale (93.2 or 129); `r0 − r_factor == sum of the factors`.
    r_factor_nb: R on the narrowband scale (R/1.29 for wideband codecs): compare it with thresholds and bands.
    mos: conversational MOS-CQE (delay included); mos_lq: listening-only MOS (the delay factor left out).
    mos_ceiling: the codec's best MOS (no loss, no delay), shown beside `mos` so that a codec-limited score is not
        read as a network fault (RULES.md media.low-mos): G.711 4.41, G.729A 4.10, G.723.1 3.95.
    ie_eff: effective equipment impairment; id: the delay impairment, both on the codec's scale.
    estimate: a provisional ([P]) value took part (see estimate_reasons): say "estimate" wherever MOS is shown.
    factors: codec, loss, burst, jitter-buffer, delay (and advantage when A ≠ 0), in that order.
    summary: one English sentence for reports; summary_ru: the same in Russian, for the Russian notes.
    """

    r_factor: float
    r0: float
    r_factor_nb: float
    mos: float
    mos_lq: float
    mos_ceiling: float
    ie_eff: float
    id: float
    inputs: EModelInputs
    estimate: bool
    estimate_reasons: tuple[str, ...]
    estimate_reasons_ru: tuple[str, ...]
    factors: tuple[Factor, ...]
    band: QualityBand
    summary: str
    summary_ru: str

    def estimate_reasons_in(self, lang: str) -> tuple[str, ...]:
        return self.estimate_reasons_ru if lang == "ru" else self.estimate_reasons

    @property
    def r_shown(self) -> float:
        """R as reports and finding texts show it: `r_factor` kept within 0 and the top of the codec's scale
        (R_MAX: 100, or 129 for wideband). Annex B rates every R ≤ 0 as MOS 1 (G.107 Annex B)."""
        return shown_r(self.r_factor, self.inputs.scale)


def shown_r(r: float, scale: str) -> float:
    """`r` within 0 and the top of `scale` (narrowband or wideband, R_MAX)."""
    return min(max(r, 0.0), R_MAX.get(scale, R_MAX[NARROWBAND]))


def r_factor(
    *,
    codec: str | Codec,
    loss_pct: float = 0.0,
    discard_pct: float = 0.0,
    burst_ratio: float = 1.0,
    one_way_delay_ms: float | None = None,
    network_delay_ms: float | None = None,
    jitter_buffer_ms: float = 50.0,
    adaptive_buffer: bool = False,
    ptime_ms: float | None = None,
    plc: bool = True,
    advantage: float = 0.0,
    delay_model: str = "approximation",
    discards_rated: bool = True,
) -> EModelResult:
    """Rate one stream with the E-model and say what took R down.

    :param codec: an rtpmap encoding name (`PCMU`, `G729`, `opus`, ...) or a `Codec` (e.g. a `dataclasses.replace`
        of a table entry with calibrated Ie/Bpl). An unknown name raises ValueError: check `codec_info()` first.
    :param loss_pct: network loss in percent (RFC 3550 lost / expected).
    :param discard_pct: packets a jitter buffer would discard as late, in percent of expected (RULES.md §1.3).
    :param burst_ratio: BurstR of the missing packets (`burst_ratio()`); values below 1 count as 1.
    :param one_way_delay_ms: the measured mouth-to-ear delay Ta, when known. Otherwise Ta is estimated as RULES.md
        §1.4 says: network + jitter buffer + packetization + codec (frame + look-ahead) + 10 ms in the devices.
    :param network_delay_ms: one-way network delay for that estimate (RTCP RTT/2, RULES.md §1.5); when None the
        network part is left out and the delay factor is a lower bound, which its explanation says.
    :param jitter_buffer_ms: nominal delay of the jitter-buffer model (50 or 200 fixed, or the simulated mean of the
        adaptive one), used in the delay estimate and in the explanation of the discards.
    :param adaptive_buffer: the discards and buffer delay come from the adaptive model (only changes the wording).
    :param ptime_ms: packetization seen in the stream; the codec's default when None.
    :param plc: the receiver conceals lost packets; False uses `Codec.bpl_no_plc` where the codec has one (G.711).
    :param advantage: advantage factor A, 0 for wirebound (G.107 §7.6; at most 20).
    :param delay_model: "approximation" (default) or "g107", see `delay_impairment`.
    :param discards_rated: False when the jitter-buffer discards are unknown: the stream's RTP timestamps do not
        follow its clock (codec.timestamp-clock-mismatch), so transit and jitter measured in timestamp units are
        meaningless (RFC 3550 §6.4.1 assumes the payload's clock). `discard_pct` must then be 0; the factor says
        "not rated" and the result is an estimate.

    How R0 − R is shared between the factors (they add up to it, to float rounding):

    - codec = Ie, the impairment at zero loss.
    - The random-loss impairment `L = Ie,eff(Ppl, BurstR = 1) − Ie` is split between *loss* and *jitter-buffer* in
      proportion to their shares of Ppl (network loss : late discards): every missing packet costs the same, and
      the split does not depend on which cause is counted first (Ie,eff is concave in Ppl, so counting one first
      would charge it more per packet).
    - burst = `Ie,eff(Ppl, BurstR) − Ie,eff(Ppl, 1)`: what the clustering of the losses costs on top.
    - delay = Id(Ta); advantage = −A.
    """
    entry = codec if isinstance(codec, Codec) else codec_info(codec, ptime_ms=ptime_ms)
    if entry is None:
        raise ValueError(f"no E-model impairment values for codec {codec!r}")
    checked = {"loss_pct": loss_pct, "discard_pct": discard_pct, "jitter_buffer_ms": jitter_buffer_ms,
               "one_way_delay_ms": one_way_delay_ms, "network_delay_ms": network_delay_ms}  # fmt: skip
    for name, value in checked.items():
        if value is not None and not value >= 0:  # also rejects NaN
            raise ValueError(f"{name} must be ≥ 0, not {value!r}")
    if not 0 <= advantage <= ADVANTAGE_MAX:
        raise ValueError(f"advantage factor A must be within 0..{ADVANTAGE_MAX:g} (G.107 Table 3), not {advantage!r}")
    if delay_model not in DELAY_MODELS:
        raise ValueError(f"delay model must be one of {DELAY_MODELS}, not {delay_model!r}")
    if not discards_rated and discard_pct:
        raise ValueError("discard_pct must be 0 when the discards are not rated")
    packetization = float(ptime_ms) if ptime_ms is not None else float(entry.ptime_ms)
    wideband = entry.scale == WIDEBAND
    r0 = R0_WIDEBAND if wideband else R0_NARROWBAND
    bpl = entry.bpl_no_plc if not plc and entry.bpl_no_plc is not None else entry.bpl
    burst = burst_ratio if burst_ratio > 1 else 1.0
    ppl = min(100.0, loss_pct + discard_pct)

    if one_way_delay_ms is not None:
        ta, parts = one_way_delay_ms, ()
    else:
        parts = ((("network", network_delay_ms),) if network_delay_ms is not None else ()) + (
            ("jitter buffer", jitter_buffer_ms),
            ("packetization", packetization),
            ("codec", entry.algorithmic_delay_ms),
            ("devices", DEVICE_DELAY_MS),
        )
        ta = sum(ms for _, ms in parts)
    # Idd,WB = 1.29 · Idd (G.107.1 §7.4 as read in a secondary implementation [P]); the same factor keeps the
    # delay's cost unchanged after R/1.29.
    delay = delay_impairment(ta, model=delay_model) * (WIDEBAND_RATIO if wideband else 1.0)

    random_eff = ie_eff(entry.ie, ppl, bpl)
    total_eff = ie_eff(entry.ie, ppl, bpl, burst)
    loss_share = loss_pct / (loss_pct + discard_pct) if loss_pct + discard_pct > 0 else 1.0
    points = {
        "codec": entry.ie,
        "loss": (random_eff - entry.ie) * loss_share,
        "burst": total_eff - random_eff,
        "jitter-buffer": (random_eff - entry.ie) * (1 - loss_share),
        "delay": delay,
    }
    r = r0 - total_eff - delay + advantage
    inputs = EModelInputs(
        codec=entry, scale=entry.scale, ie=entry.ie, bpl=bpl, plc=plc, loss_pct=loss_pct, discard_pct=discard_pct,
        ppl_pct=ppl, burst_ratio=burst, ta_ms=ta, delay_estimated=one_way_delay_ms is None, delay_parts=parts,
        jitter_buffer_ms=jitter_buffer_ms, adaptive_buffer=adaptive_buffer, delay_model=delay_model,
        advantage=advantage, discards_rated=discards_rated, ptime_ms=packetization,
    )  # fmt: skip
    factors = tuple(Factor(name, value, *(_shared_text(explain(name, inputs, lang)) for lang in LANGUAGES))
                    for name, value in points.items())
    if advantage:
        factors += (Factor("advantage", -advantage,
                           *(phrase("advantage", lang, advantage=advantage) for lang in LANGUAGES)),)

    why = [key for key, applies in (("why_ie", not entry.ie_standard), ("why_bpl", ppl > 0 and not entry.bpl_standard),
                                    ("why_discards", not discards_rated), ("why_wideband", wideband)) if applies]
    reasons, reasons_ru = ([phrase(key, lang, ie=entry.ie, bpl=bpl, codec=entry.description_in(lang),
                                   source=entry.source) for key in why] for lang in LANGUAGES)
    r_nb = r / WIDEBAND_RATIO if wideband else r
    mos = mos_from_r(r, wideband=wideband)
    band = quality_band(r_nb)
    return EModelResult(
        r_factor=r, r0=r0, r_factor_nb=r_nb, mos=mos, mos_lq=mos_from_r(r + delay, wideband=wideband),
        mos_ceiling=mos_from_r(r0 - entry.ie + advantage, wideband=wideband),
        ie_eff=total_eff, id=delay, inputs=inputs, estimate=bool(reasons), estimate_reasons=tuple(reasons),
        estimate_reasons_ru=tuple(reasons_ru),
        factors=factors, band=band, **_summary(r, r0, entry.scale, mos, band, factors, bool(reasons)),
    )  # fmt: skip


@lru_cache(maxsize=8192)
def rate_stream(codec_name: str, loss_pct: float, discard_pct: float, burst: float, ptime_ms: float | None = None,
                discards_rated: bool = True) -> EModelResult | None:
    """`r_factor` for the figures of one measured stream (50 ms fixed buffer, unknown network delay), cached: the
    many streams of a large capture with the same figures share one computation. None for a codec the E-model has
    no values for. `ptime_ms` also picks the codec mode (iLBC 20/30 ms) as `codec_info` does."""
    codec = codec_info(codec_name, ptime_ms=ptime_ms)
    if codec is None:
        return None
    return r_factor(codec=codec, loss_pct=loss_pct, discard_pct=discard_pct, burst_ratio=burst, ptime_ms=ptime_ms,
                    discards_rated=discards_rated)


def loss_delta_r(result: EModelResult) -> float:
    """R points the network loss costs the stream `result` rates, on the codec's scale (divide by WIDEBAND_RATIO for
    the narrowband scale): the R of the same stream with no packet lost minus its R, everything else equal (the
    codec's Ie and Bpl, with or without PLC, the late discards, the delay and A). RULES.md media.packet-loss grades
    the loss by this ΔR.

    The burstiness goes with the loss: sipdiag measures BurstR on the runs of lost packets (`burst_ratio`), and a
    stream with none lost has no runs, BurstR 1. So ΔR is `Ie,eff(loss + discards, BurstR) − Ie,eff(discards, 1)`
    (G.107 §7.5): the loss and burst factors of `r_factor` plus what the bursts add to the discards' cost, i.e. the
    loss and burst factors alone when nothing was discarded. The delay and the advantage do not depend on the loss.
    """
    i = result.inputs
    return result.ie_eff - ie_eff(i.ie, min(100.0, i.discard_pct), i.bpl)


# -------------------------------------------------------------------------------------------------------- texts

_CAUSES = {
    "codec": "the codec",
    "loss": "packet loss",
    "burst": "losses in bursts",
    "jitter-buffer": "packets arriving too late (jitter)",
    "delay": "delay",
}
# the same after "из-за" (genitive), and the bands' labels, for summary_ru
_CAUSES_RU = {
    "codec": "кодека",
    "loss": "потери пакетов",
    "burst": "потерь пачками",
    "jitter-buffer": "опоздавших пакетов (джиттер)",
    "delay": "задержки",
}
LABELS_RU = {"excellent": "отлично", "good": "хорошо", "fair": "удовлетворительно", "poor": "посредственно",
              "bad": "плохо", "very bad": "очень плохо"}


#: What a customer text calls each factor (the raw factor name stays in the evidence for engineers): the words a
#: caller understands, in English and Russian. "jitter-buffer" is the share of packets a jitter buffer would drop
#: as late (RULES.md §1.3; RFC 3611 §4.7.5 discarded packets), so the caller hears uneven delivery, not "jitter".
CUSTOMER_CAUSES: dict[str, dict[str, str]] = {
    "codec": {"en": "the codec (voice compression) in use", "ru": "используемый кодек (сжатие голоса)"},
    "loss": {"en": "sound packets lost on the way", "ru": "потеря пакетов звука по пути"},
    "burst": {"en": "sound packets lost several at a time", "ru": "потеря пакетов звука пачками"},
    "jitter-buffer": {"en": "uneven delivery of the sound packets", "ru": "неравномерная доставка пакетов звука"},
    "delay": {"en": "the delay before the other side hears you", "ru": "задержка, с которой собеседник вас слышит"},
    "advantage": {"en": "the expectations of the service", "ru": "ожидания от услуги"},
}


def customer_cause(name: str, lang: str = "en") -> str:
    """A factor's name (`Factor.name`) in words for a customer text: `customer_cause("jitter-buffer", "ru")` is
    "неравномерная доставка пакетов звука". An unknown name or language falls back to English, then the name."""
    words = CUSTOMER_CAUSES.get(name)
    if words is None:
        return name
    return words.get(lang, words["en"])


@lru_cache(maxsize=1024)
def _shared_text(text: str) -> str:
    """One object for equal explanations: a large capture rates thousands of distinct streams (rate_stream's cache
    held 3005 on the 4 M-packet benchmark capture), whose codec, delay and burst sentences are mostly the same."""
    return text


def _summary(r: float, r0: float, scale: str, mos: float, band: QualityBand, factors: tuple[Factor, ...],
             estimate: bool) -> dict[str, str]:
    """EModelResult's summary and summary_ru."""
    shown = shown_r(r, scale)
    head = f"MOS {mos:.2f} ({band.label}{', estimate' if estimate else ''}), R {shown:.1f}"
    head_ru = f"MOS {mos:.2f} ({LABELS_RU[band.label]}{', оценка' if estimate else ''}), R {shown:.1f}"
    causes = sorted((f for f in factors if f.r_points_lost >= 0.5), key=lambda f: -f.r_points_lost)
    if not causes:
        return {"summary": f"{head}: no notable impairment.", "summary_ru": f"{head_ru}: заметных ухудшений нет."}
    main = causes[0]
    # Below the bottom of the scale every R point is lost; the factors still say how far beyond it the stream went.
    lost = (f"all {r0:g} R points lost (the impairments add up to {r0 - r:.1f})" if r < 0 else
            f"{r0 - r:.1f} R points lost")
    lost_ru = (f"потеряны все пункты R ({r0:g}; ухудшения в сумме {r0 - r:.1f})" if r < 0 else
               f"потеряно пунктов R: {r0 - r:.1f}")
    text = f"{head}: {lost}, mostly to {_CAUSES[main.name]} ({main.r_points_lost:.1f})"
    text_ru = f"{head_ru}: {lost_ru}, больше всего из-за {_CAUSES_RU[main.name]} ({main.r_points_lost:.1f})"
    if len(causes) > 1:
        second = causes[1]
        text += f", then {_CAUSES[second.name]} ({second.r_points_lost:.1f})"
        text_ru += f", затем из-за {_CAUSES_RU[second.name]} ({second.r_points_lost:.1f})"
    return {"summary": text + ".", "summary_ru": text_ru + "."}
