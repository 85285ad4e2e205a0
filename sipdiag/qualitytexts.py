"""Why each E-model factor took what it took (sipdiag.quality `Factor.explanation`), in English and Russian.

One sentence per factor for the engineer: the HTML page's "Why" column and the tooltips of its factor bar, in the
page's language. Both languages come from one set of branches and differ only in their phrase tables, so a new
case cannot be added to one language and forgotten in the other. The Russian phrases keep the E-model's symbols
(Ie, Bpl, BurstR: ITU-T G.107, G.113) as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .quality import EModelInputs

LANGUAGES = ("en", "ru")

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "codec_clean": "{codec} has no coding impairment",
        "codec_ie": "{codec} coding impairment Ie {ie:g}",
        "noted": "{text} ({notes})",
        "wideband": "wideband scale",
        "provisional": "provisional value",
        "loss_none": "no packets lost in the network",
        "loss": "{pct} % of packets lost in the network (Bpl {bpl:g}, {concealment})",
        "plc": "with loss concealment",
        "no_plc": "without loss concealment",
        "burst_none": "no losses",
        "burst_random": "losses are random (BurstR 1.0)",
        "burst": "losses come in bursts (BurstR {burst:.1f})",
        # a jitter buffer as the three sentences below name it
        "buffer_adaptive": "an adaptive buffer (mean delay {ms:g} ms)",
        "buffer_fixed": "a {ms:g} ms buffer",
        "late_unrated": "late discards for {buffer} not rated: the RTP timestamps do not follow the codec clock "
                        "(codec.timestamp-clock-mismatch), so jitter in timestamp units is meaningless",
        "late_none": "no packet arrives too late for {buffer}",
        "late": "{pct} % would arrive too late for {buffer}",
        "delay": "one-way delay {ta:.0f} ms",
        "delay_estimated": "estimated one-way delay {ta:.0f} ms ({parts})",
        "delay_no_network": "estimated one-way delay {ta:.0f} ms without the unknown network part ({parts})",
        "advantage": "advantage factor A {advantage:g} (expectation of the service)",
        "achieved": "R {r:.1f} of {r0:g}",
        # why a result is an estimate (EModelResult.estimate_reasons)
        "why_ie": "provisional Ie {ie:g} for {codec} ({source})",
        "why_bpl": "provisional Bpl {bpl:g} for {codec}",
        "why_discards": "jitter-buffer discards not rated: the RTP timestamps do not follow the codec clock",
        "why_wideband": "wideband scale (G.107.1) with loss and delay terms not verified in the Recommendation",
    },
    "ru": {
        "codec_clean": "{codec}: искажений кодирования нет",
        "codec_ie": "{codec}: искажение кодирования Ie {ie:g}",
        "noted": "{text} ({notes})",
        "wideband": "широкополосная шкала",
        "provisional": "предварительное значение",
        "loss_none": "потерь пакетов в сети нет",
        "loss": "в сети потеряно {pct} % пакетов (Bpl {bpl:g}, {concealment})",
        "plc": "с маскированием потерь",
        "no_plc": "без маскирования потерь",
        "burst_none": "потерь нет",
        "burst_random": "потери случайные (BurstR 1.0)",
        "burst": "потери идут пачками (BurstR {burst:.1f})",
        # in the genitive: every sentence below names the buffer after "для"
        "buffer_adaptive": "адаптивного буфера (средняя задержка {ms:g} мс)",
        "buffer_fixed": "буфера {ms:g} мс",
        "late_unrated": "отбрасывание опоздавших пакетов для {buffer} не оценено: метки времени RTP не следуют "
                        "частоте кодека (codec.timestamp-clock-mismatch), и джиттер в единицах меток времени не "
                        "имеет смысла",
        "late_none": "для {buffer} ни один пакет не опаздывает",
        "late": "{pct} % пакетов опоздали бы для {buffer}",
        "delay": "односторонняя задержка {ta:.0f} мс",
        "delay_estimated": "оценка односторонней задержки {ta:.0f} мс ({parts})",
        "delay_no_network": "оценка односторонней задержки {ta:.0f} мс без неизвестной сетевой части ({parts})",
        "advantage": "фактор ожиданий A {advantage:g} (чего пользователь ждёт от услуги)",
        "achieved": "R {r:.1f} из {r0:g}",
        "why_ie": "предварительное значение Ie {ie:g} для {codec} ({source})",
        "why_bpl": "предварительное значение Bpl {bpl:g} для {codec}",
        "why_discards": "отбрасывание опоздавших пакетов в джиттер-буфере не оценено: метки времени RTP не следуют "
                        "частоте кодека",
        "why_wideband": "широкополосная шкала (G.107.1), члены потерь и задержки которой в Рекомендации не "
                        "проверены",
    },
}

# The parts of an estimated mouth-to-ear delay (sipdiag.quality r_factor's `delay_parts` names them in English).
DELAY_PARTS_RU = {"network": "сеть", "jitter buffer": "джиттер-буфер", "packetization": "пакетизация",
                  "codec": "кодек", "devices": "устройства"}


def phrase(key: str, lang: str, **values: object) -> str:
    return PHRASES[lang][key].format(**values)


def pct(value: float) -> str:
    return f"{value:.1f}" if value >= 0.1 or value == 0 else f"{value:.2g}"


def explain(name: str, inputs: EModelInputs, lang: str) -> str:
    """Why factor `name` (codec, loss, burst, jitter-buffer, delay) took its R points, in `lang`."""
    codec = inputs.codec
    if name == "codec":
        text = phrase("codec_clean" if codec.ie == 0 else "codec_ie", lang, codec=codec.description_in(lang),
                      ie=codec.ie)
        notes = [phrase(note, lang) for note, applies in (("wideband", codec.wideband),
                                                          ("provisional", not codec.ie_standard)) if applies]
        return phrase("noted", lang, text=text, notes=", ".join(notes)) if notes else text
    if name == "loss":
        if inputs.loss_pct == 0:
            return phrase("loss_none", lang)
        return phrase("loss", lang, pct=pct(inputs.loss_pct), bpl=inputs.bpl,
                      concealment=phrase("plc" if inputs.plc else "no_plc", lang))
    if name == "burst":
        if inputs.ppl_pct == 0:
            return phrase("burst_none", lang)
        if inputs.burst_ratio <= 1:
            return phrase("burst_random", lang)
        return phrase("burst", lang, burst=inputs.burst_ratio)
    if name == "jitter-buffer":
        buffer = phrase("buffer_adaptive" if inputs.adaptive_buffer else "buffer_fixed", lang,
                        ms=inputs.jitter_buffer_ms)
        if not inputs.discards_rated:
            return phrase("late_unrated", lang, buffer=buffer)
        if inputs.discard_pct == 0:
            return phrase("late_none", lang, buffer=buffer)
        return phrase("late", lang, pct=pct(inputs.discard_pct), buffer=buffer)
    # delay
    if not inputs.delay_estimated:
        return phrase("delay", lang, ta=inputs.ta_ms)
    names = DELAY_PARTS_RU if lang == "ru" else {}
    parts = " + ".join(f"{names.get(part, part)} {ms:g}" for part, ms in inputs.delay_parts)
    network = bool(inputs.delay_parts) and inputs.delay_parts[0][0] == "network"
    return phrase("delay_estimated" if network else "delay_no_network", lang, ta=inputs.ta_ms, parts=parts)
