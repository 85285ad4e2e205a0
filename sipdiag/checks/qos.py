"""Quality-of-service rules (RULES.md §3.7): queueing delay that builds up on a saturated link during a call.

qos.dscp-marking is not here: neither the SIP datagrams nor the RTP columns carry the IP header's DSCP/TOS byte
into the analysis yet (sipdiag.parsers.scan builds SIP datagrams and sipdiag.parsers.columns the RTP columns
without it), so there is nothing to judge the marking by.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import Hit, Severity, check
from .settings import setting

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..rtcp import RtcpPacket

# RULES.md qos.bufferbloat-suspected: the raised RTT must last this long (RTCP gives one sample every ~5 s, so
# this is two reports in a row at the least).
BLOAT_MIN_S = 5.0
# A ramp, not a step (a route change): some sample lies between a quarter and three quarters of the rise on the
# way up, or the raised samples themselves vary by this share of the rise.
RAMP_SPREAD = 0.25
# A round trip beyond this is an LSR matched to the wrong SR (or a broken reporter), not a queue.
MAX_RTT_MS = 10_000


def _rtt_series(packets: tuple[RtcpPacket, ...]) -> dict[tuple, list[tuple[int, float, int, int]]]:
    """(reporter ip, reporter SSRC, source SSRC) -> [(capture time, RTT ms, jitter in source units, frame)]."""
    series: dict[tuple, list[tuple[int, float, int, int]]] = {}
    for p in packets:
        for b in p.blocks:
            if b.rtt_ms is not None and 0 <= b.rtt_ms <= MAX_RTT_MS:
                series.setdefault((p.src_ip, b.reporter_ssrc, b.source_ssrc), []).append(
                    (p.ts_ns, b.rtt_ms, b.jitter, p.frame))
    return series


def _ramp(samples: list[tuple[int, float, int, int]], low: float, peak_i: int, rise: float, raised: list) -> bool:
    lo, hi = low + RAMP_SPREAD * rise, low + (1 - RAMP_SPREAD) * rise
    if any(lo < s[1] < hi for s in samples[: peak_i + 1]):
        return True
    values = [s[1] for s in raised]
    return max(values) - min(values) >= RAMP_SPREAD * rise


@check(
    id="qos.bufferbloat-suspected", category="router", severity="minor", owner="customer",
    title="Delay builds up during the call: a saturated internet link with oversized buffers",
    customer={
        "en": "Call quality drops when your internet line is busy, for example during large uploads or backups. "
              "Switching on your router's 'Smart Queue' or QoS feature, or giving your phones priority, will fix "
              "this.",
        "ru": "Качество звонков падает, когда ваш интернет-канал загружен, например при больших выгрузках или "
              "резервном копировании. Включите на роутере функцию «Smart Queue» или QoS либо дайте телефонам "
              "приоритет.",
    },
    engineer={
        "en": "Call {call_id}: the RTCP round trip to {reporter} (SSRC {reporter_ssrc} about {source_ssrc}) rose from "
              "{rtt_min_ms} ms to {rtt_peak_ms} ms (+{rise_ms} ms, threshold {threshold_ms}) and stayed above "
              "min+{threshold_ms} for {raised_s} s (frames {frame} to {last_frame}), ramp-shaped; reported jitter "
              "{jitter_en}. RTT series ms: {series}. Queueing on a saturated link: enable SQM (fq_codel/CAKE, "
              "RFC 8290), prioritise voice, shape the uplink to ~90 % of the line rate.",
        "ru": "Вызов {call_id}: круговая задержка RTCP до {reporter} (SSRC {reporter_ssrc} о {source_ssrc}) выросла с "
              "{rtt_min_ms} до {rtt_peak_ms} мс (+{rise_ms} мс, порог {threshold_ms}) и держалась выше "
              "min+{threshold_ms} {raised_s} с (кадры {frame}-{last_frame}), нарастая плавно; джиттер в отчётах "
              "{jitter_ru}. Ряд RTT, мс: {series}. Очередь на загруженном канале: включите SQM (fq_codel/CAKE, "
              "RFC 8290), дайте приоритет голосу, ограничьте исходящий канал ~90 % скорости линии.",
    },
)
def bufferbloat_suspected(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A call whose RTCP round trip (LSR/DLSR against the capture's own SR times, RULES.md §1.5) climbs more than
    qos.bufferbloat_rtt_rise_ms above its minimum and stays there for at least 5 s, rising as a ramp rather than
    one step (a step is a route change). Rising jitter in the same reports raises the confidence. Major when the
    one-way estimate at the peak (RTT/2) passes media.mouth_to_ear_ms.major.

    ## Why it matters
    Buffers in a modem or router that fill under an upload add hundreds of milliseconds of delay and jitter to
    the voice packets queued behind the data: talk-over, choppy audio, late packets discarded.

    ## How to fix
    Smart queue management on the router (fq_codel, CAKE), voice priority, uplink shaping below the line rate.

    ## References
    RFC 3550 §6.4.1; RFC 7567; RFC 8290; bufferbloat.net on VoIP
    """
    if analysis.rtp is None or not analysis.rtp.rtcp.packets:
        return
    threshold = setting("qos.bufferbloat_rtt_rise_ms")
    major_ms = setting("media.mouth_to_ear_ms.major")
    call_of_ssrc = {s.stats.ssrc: s.call_id for s in analysis.streams if s.call_id}
    reported: set[str] = set()
    for (reporter, reporter_ssrc, source_ssrc), samples in _rtt_series(analysis.rtp.rtcp.packets).items():
        call_id = call_of_ssrc.get(source_ssrc) or call_of_ssrc.get(reporter_ssrc)
        if len(samples) < 3 or call_id in reported:
            continue
        low = min(s[1] for s in samples)
        peak_i = max(range(len(samples)), key=lambda i: samples[i][1])
        rise = samples[peak_i][1] - low
        if rise <= threshold:
            continue
        # the longest-lasting run of consecutive samples above min + threshold
        runs: list[list] = [[]]
        for s in samples:
            if s[1] > low + threshold:
                runs[-1].append(s)
            elif runs[-1]:
                runs.append([])
        best = max(runs, key=lambda r: r[-1][0] - r[0][0] if r else -1)
        if len(best) < 2 or (best[-1][0] - best[0][0]) / 1e9 < BLOAT_MIN_S:
            continue
        if not _ramp(samples, low, peak_i, rise, best):
            continue
        base_jitter = min(s[2] for s in samples)
        jitter_up = max(s[2] for s in best) > base_jitter
        reported.add(call_id)
        peak = samples[peak_i][1]
        yield Hit(call_id, (best[0][3], best[-1][3]), {
            "call_id": call_id or "?", "reporter": reporter, "reporter_ssrc": f"0x{reporter_ssrc:08x}",
            "source_ssrc": f"0x{source_ssrc:08x}", "rtt_min_ms": round(low, 1), "rtt_peak_ms": round(peak, 1),
            "rise_ms": round(rise, 1), "threshold_ms": threshold,
            "raised_s": round((best[-1][0] - best[0][0]) / 1e9, 1), "frame": best[0][3], "last_frame": best[-1][3],
            "series": ", ".join(f"{s[1]:.0f}" for s in samples[:20]),
            "jitter_rising": "yes" if jitter_up else "no",
            "jitter_en": "rose with it" if jitter_up else "did not rise",
            "jitter_ru": "рос вместе с ней" if jitter_up else "не рос",
        }, severity=Severity.MAJOR if peak / 2 > major_ms else None, confidence="medium" if jitter_up else "low")
