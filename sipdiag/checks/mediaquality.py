"""Media quality rules (RULES.md §3.6): bursts and gaps, jitter, mouth-to-ear delay — per stream (or per call for
the delay), from the statistics the RTP engine computed (sipdiag.rtpresult) and the RTCP reports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..codecs import VIDEO_CLOCK, codec_info
from ..quality import DEVICE_DELAY_MS
from . import UNKNOWN, Hit, Severity, check
from .settings import setting

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..media import MediaStream
    from ..rtpresult import RtpStreamStats

MIN_PACKETS = 25  # sipdiag.media.MIN_AUDIO_PACKETS: fewer is a probe or a burst, not a stream to judge
DEFAULT_INTERVAL_MS = 20.0  # RFC 3551 §4.5: the default packetization of the common voice codecs
# Share of a capture's streams that must show the same impairment before the capture itself is suspected (a busy
# capture host stamps every stream's packets late; a network problem hits the streams on its path).
CAPTURE_WIDE_SHARE = 0.8
CAPTURE_WIDE_MIN_STREAMS = 3
WRONG_CLOCK_PPM = 50_000.0  # timestamps 5 % off the nominal clock: a wrong clock (codec.timestamp-clock-mismatch)
IMPLAUSIBLE_JITTER_MS = 1000.0
# RtpStreamStats.clock_source as the Russian notes say where the jitter's clock came from
CLOCK_SOURCES_RU = {"static": "статической таблицы RFC 3551", "sdp": "SDP", "caller": "SDP вызова",
                    "inferred": "оценки по меткам времени", "none": "неизвестного источника"}


def interval_ms(m: MediaStream) -> float:
    """The stream's packet interval from its sequence span and duration (ptime, or the DTX-free average); the
    default where the duration is not known (a clock step within the stream)."""
    ptime = m.stats.arrival_ptime_ms
    return DEFAULT_INTERVAL_MS if ptime is None else round(ptime, 1)


# Fewer expected packets than this (2 s at 20 ms) are too few to grade a stream: BurstR of a few dozen packets is
# noise (one run decides it), and so is their loss share (media.packet-loss); VoIPmonitor likewise trusts no MOS
# under 100 packets (RULES.md media.low-mos).
MIN_PACKETS_TO_GRADE = 100


def late_discards(s: RtpStreamStats) -> int:
    """The packets a fixed 50 ms jitter buffer would discard as late (RULES.md §1.3); none where a timestamp
    discontinuity (a jump, or timestamps before the first one) throws the buffer model off for the rest of the
    stream (sequence-anomalies reports it): its discards are not the network's."""
    return 0 if s.timestamp_jumps or s.wrong_timestamps else s.late_50ms or 0


def audio_streams(analysis: Analysis) -> Iterator[MediaStream]:
    """Audio streams bound to a call, with a known payload and enough packets to judge, of a call that did not
    negotiate hold (a heuristic binding can take other UDP for RTP; an unknown payload type is not judged)."""
    held = {c.call_id for c in analysis.calls if any(n.hold for n in c.negotiations)}
    for m in analysis.streams:
        s = m.stats
        if (m.call_id is not None and m.call_id not in held and s.media_packets >= MIN_PACKETS and s.codec is not None
                and s.clock_rate != VIDEO_CLOCK):
            yield m


def _in_hiccup(analysis: Analysis, m: MediaStream) -> bool:
    """A capture hiccup (most streams silent at once: the capture's own drop) during the stream's life."""
    if analysis.rtp is None:
        return False
    return any(h.start_ns < m.stats.end_ns and h.end_ns > m.stats.start_ns for h in analysis.rtp.hiccups)


@check(
    id="media.burst-loss", category="media", severity="minor", owner="engineering",
    title={
        "en": "Audio lost in bursts or long gaps that concealment cannot hide",
        "ru": "Звук теряется пачками или долгими провалами, которые не скрыть маскированием потерь",
    },
    customer={
        "en": "The sound of your call dropped out in short bursts (up to {longest_gap_ms} ms at a time). This "
              "usually comes from Wi-Fi interference or an overloaded internet line: if you can, try the phone on a "
              "cable. We are checking our side.",
        "ru": "Звук в вашем звонке пропадал короткими провалами (до {longest_gap_ms} мс подряд). Обычно причина в "
              "помехах Wi-Fi или перегруженном интернет-канале: по возможности подключите телефон кабелем. Мы "
              "проверяем свою сторону.",
    },
    engineer={
        "en": "Stream {stream} ({direction}) of call {call_id}: {summary_en}. Packet interval {interval_ms} ms; "
              "loss {loss_pct} % in {loss_runs} run(s), BurstR {burst_ratio}; longest arrival gap {arrival_gap_ms} "
              "ms (frame {arrival_gap_frame}; Wireshark's max delta {max_delta_ms} ms).{capture_en} Concealment "
              "(G.711 App. I) mutes after about 60 ms; G.107 Ie,eff grows with BurstR; RFC 3611 §4.7 Gmin 16.",
        "ru": "Поток {stream} ({direction}) вызова {call_id}: {summary_ru}. Интервал пакетов {interval_ms} мс; "
              "потери {loss_pct} %, серий потерь: {loss_runs}, BurstR {burst_ratio}; наибольший разрыв в приходе "
              "пакетов {arrival_gap_ms} мс (кадр {arrival_gap_frame}; «Max Delta» в Wireshark {max_delta_ms} мс)."
              "{capture_ru} Маскирование потерь (G.711, приложение I) глушит звук примерно после 60 мс; Ie,eff по "
              "G.107 растёт с BurstR; RFC 3611 §4.7 Gmin 16.",
    },
)
def burst_loss(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A stream that lost at least 3 packets in a row (60 ms at 20 ms packets), whose loss is bursty (BurstR ≥ 2 with
    at least 1 % loss), or with an arrival gap of 200 ms or more while packets were lost or late (for a 50 ms
    jitter buffer, not counted after a timestamp discontinuity, as in media.high-jitter). The arrival gap is the
    longest interval between consecutive packets of media in arrival order, whatever their RTP timestamps: RFC 6263
    keep-alives fill no gap; marker-bit and comfort-noise packets end a silence, so silence suppression does not
    count as one. Wireshark's max delta is shown beside it: measured from the last packet whose timestamp is in
    sequence, it also spans packets stamped out of sequence (a gateway restarting its timestamps) that arrived
    in time. Major when a single dropout lasts `media.burst_major_gap_ms` (1 s) or bursty loss reaches 3 %.

    ## Why it matters
    Concealment hides isolated lost packets but not runs of them: words go missing. Bursty loss costs more MOS
    than the same loss spread out (G.107 BurstR).

    ## How to fix
    Find the lossy segment: Wi-Fi (roaming, background scans: periodic gaps), an overloaded uplink, a policer;
    capture on both sides of the suspect link; prioritise voice (DSCP EF).

    ## References
    ITU-T G.107 (BurstR), G.711 Appendix I; RFC 3611 §4.7; RFC 3550 A.3; Wireshark RTP analysis (max delta)
    """
    run_limit, gap_limit = setting("media.burst_run_packets"), setting("media.max_gap_ms")
    major_gap, loss_minor, loss_major = (setting("media.burst_major_gap_ms"), setting("media.loss_pct.minor"),
                                         setting("media.loss_pct.major"))
    for m in audio_streams(analysis):
        s = m.stats
        step = interval_ms(m)
        burst = s.burst_ratio or 1.0
        run_gap = s.loss_run_max * step
        bursty = burst >= 2 and s.loss_pct >= loss_minor and s.expected >= MIN_PACKETS_TO_GRADE
        # An arrival gap with nothing lost and nothing late is a sender that paused: silence suppression whose
        # sender sets no marker bit (RFC 3551 §4.1 asks for one), not the network. Across a clock step the arrival
        # gaps are not known (None).
        gap = s.arrival_gap_ms is not None and s.arrival_gap_ms >= gap_limit and (s.lost > 0 or late_discards(s) > 0)
        if s.loss_run_max < run_limit and not bursty and not gap:
            continue
        longest = round(max(run_gap + step if s.loss_run_max else 0.0, s.arrival_gap_ms if gap else 0.0))
        severity = Severity.MAJOR if longest >= major_gap or (bursty and s.loss_pct >= loss_major) else \
            Severity.MINOR
        parts_en, parts_ru = [], []
        if s.loss_run_max >= run_limit:
            parts_en.append(f"{s.loss_run_max} consecutive packets lost ({round(run_gap)} ms of audio)")
            parts_ru.append(f"подряд потеряно пакетов: {s.loss_run_max} ({round(run_gap)} мс звука)")
        if bursty:
            parts_en.append(f"bursty loss (BurstR {burst:.1f})")
            parts_ru.append(f"потери пачками (BurstR {burst:.1f})")
        if gap:
            parts_en.append(f"an arrival gap of {round(s.arrival_gap_ms)} ms")
            parts_ru.append(f"разрыв в приходе пакетов {round(s.arrival_gap_ms)} мс")
        hiccup = _in_hiccup(analysis, m)
        confidence = "low" if hiccup else "high"
        yield Hit(m.call_id, (s.arrival_gap_frame or s.first_frame,), {
            "call_id": m.call_id, "stream": m.label, "direction": m.binding.direction,
            "loss_run_max": s.loss_run_max, "interval_ms": step, "longest_gap_ms": longest,
            "burst_ratio": round(burst, 2), "loss_pct": round(s.loss_pct, 1), "loss_runs": s.loss_runs,
            "max_delta_ms": UNKNOWN if s.max_delta_ms is None else round(s.max_delta_ms, 1),
            "max_delta_frame": s.max_delta_frame,
            "arrival_gap_ms": UNKNOWN if s.arrival_gap_ms is None else round(s.arrival_gap_ms, 1),
            "arrival_gap_frame": s.arrival_gap_frame,
            "summary_en": "; ".join(parts_en), "summary_ru": "; ".join(parts_ru),
            "capture_en": " The capture itself paused while this stream ran (a capture hiccup): part of the loss "
                          "may be the capture's." if hiccup else "",
            "capture_ru": " Во время потока захват сам прерывался (сбой захвата): часть потерь может быть его."
                          if hiccup else "",
        }, severity=severity, confidence=confidence)


@check(
    id="media.high-jitter", category="media", severity="minor", owner="engineering",
    title={
        "en": "Audio packets arrive at irregular intervals (high jitter)",
        "ru": "Пакеты звука приходят через неравные промежутки (высокий джиттер)",
    },
    customer={
        "en": "The audio packets of your call arrived at irregular intervals (about {jitter_mean_ms} ms of "
              "variation), which your phone has to smooth out with extra delay or by dropping late sound. This "
              "usually means a busy connection or unstable Wi-Fi: please try a cable and avoid large uploads "
              "during calls.",
        "ru": "Пакеты звука вашего звонка приходили неравномерно (разброс около {jitter_mean_ms} мс), и телефону "
              "приходится сглаживать это задержкой или отбрасывать опоздавший звук. Обычно это загруженное "
              "подключение или нестабильный Wi-Fi: попробуйте кабель и не запускайте большие загрузки во время "
              "звонков.",
    },
    engineer={
        "en": "Stream {stream} ({direction}) of call {call_id}: {summary_en} (RFC 3550 §6.4.1 jitter with clock "
              "{clock_rate} Hz from {clock_source}, Wireshark's mean/max convention; late discards of a fixed 50 ms "
              "buffer, RULES.md §1.3).{capture_en} Look for queueing on the path (uplink saturation, Wi-Fi), "
              "compare with the RTT (qos.bufferbloat-suspected).",
        "ru": "Поток {stream} ({direction}) вызова {call_id}: {summary_ru} (джиттер по RFC 3550 §6.4.1 с частотой "
              "{clock_rate} Гц из {clock_source_ru}, среднее/максимум как в Wireshark; отбрасывание опоздавших в "
              "фиксированном буфере 50 мс, RULES.md §1.3).{capture_ru} Ищите очереди на пути (перегрузка канала, "
              "Wi-Fi), сравните с RTT (qos.bufferbloat-suspected).",
    },
)
def high_jitter(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A stream whose interarrival jitter (RFC 3550, in ms with the stream's RTP clock) averages 30 ms or more (50 ms:
    major) or peaks at 100 ms, or of which a fixed 50 ms jitter buffer would discard 1 % (3 %: major) as late; also
    when the far end's RTCP receiver reports carry such a jitter for it. When nearly every stream of the capture
    shows it, the capture host's time stamping is suspected (low confidence); a clock not announced in SDP
    (inferred or unknown) gives medium confidence.

    ## Why it matters
    The receiver must either wait (delay) or drop late packets (choppy audio); J ≈ 30 ms already means frequent
    deviations beyond a 50 ms buffer.

    ## How to fix
    Find the queue: uplink saturation (bufferbloat), Wi-Fi, a congested core link; give voice priority (DSCP EF
    with QoS on the bottleneck) or use an adaptive jitter buffer.

    ## References
    RFC 3550 §6.4.1 and A.8; Wireshark tap-rtp-analysis.c; VoIPmonitor jitter-buffer simulation; RULES.md §1.1, §1.3
    """
    mean_minor, mean_major = setting("media.jitter_mean_ms.minor"), setting("media.jitter_mean_ms.major")
    max_minor = setting("media.jitter_max_ms.minor")
    late_minor, late_major = setting("media.late_discard_pct.minor"), setting("media.late_discard_pct.major")
    far = _far_end_jitter(analysis)
    found = []
    judged = 0
    for m in audio_streams(analysis):
        s = m.stats
        if not s.clock_rate or abs(s.clock_drift_ppm or 0) >= WRONG_CLOCK_PPM:
            continue  # without the right clock the jitter is meaningless (codec.timestamp-clock-mismatch)
        if s.clock_stepped:
            continue  # the capture's clock steps within the stream: no jitter was measured
        judged += 1
        late_pct = late_discards(s) * 100.0 / max(s.expected, s.packets, 1)
        rr = far.get(s.ssrc)
        major = s.jitter_mean_ms >= mean_major or late_pct >= late_major or (rr is not None and rr >= mean_major)
        minor = (s.jitter_mean_ms >= mean_minor or s.jitter_max_ms >= max_minor or late_pct >= late_minor
                 or (rr is not None and rr >= mean_minor))
        if major or minor:
            found.append((m, late_pct, rr, Severity.MAJOR if major else Severity.MINOR))
    capture_wide = len(found) >= CAPTURE_WIDE_MIN_STREAMS and len(found) >= CAPTURE_WIDE_SHARE * judged
    for m, late_pct, rr, severity in found:
        s = m.stats
        summary_en = (f"mean jitter {s.jitter_mean_ms:.1f} ms, max {s.jitter_max_ms:.1f} ms, "
                      f"{late_pct:.1f} % late for a 50 ms buffer")
        summary_ru = (f"средний джиттер {s.jitter_mean_ms:.1f} мс, максимум {s.jitter_max_ms:.1f} мс, "
                      f"{late_pct:.1f} % опоздавших для буфера 50 мс")
        if rr is not None:
            summary_en += f"; the far end's RTCP reports up to {rr:.1f} ms"
            summary_ru += f"; RTCP дальней стороны сообщает до {rr:.1f} мс"
        confidence = "low" if capture_wide else "high" if s.clock_source in ("static", "sdp") else "medium"
        yield Hit(m.call_id, (s.first_frame,), {
            "call_id": m.call_id, "stream": m.label, "direction": m.binding.direction,
            "jitter_mean_ms": round(s.jitter_mean_ms, 1), "jitter_max_ms": round(s.jitter_max_ms, 1),
            "late_50ms_pct": round(late_pct, 1), "far_end_jitter_ms": round(rr, 1) if rr is not None else None,
            "clock_rate": s.clock_rate, "clock_source": s.clock_source,
            "clock_source_ru": CLOCK_SOURCES_RU.get(s.clock_source, s.clock_source), "summary_en": summary_en,
            "summary_ru": summary_ru,
            "capture_en": " Nearly every stream of the capture shows it: the capture host's time stamping (a busy "
                          "host or VM) may be the cause." if capture_wide else "",
            "capture_ru": " Это видно почти во всех потоках захвата: причиной может быть отметка времени на самом "
                          "хосте захвата (загруженный хост или ВМ)." if capture_wide else "",
        }, severity=severity, confidence=confidence)


def _far_end_jitter(analysis: Analysis) -> dict[int, float]:
    """The largest jitter in ms the far end's receiver reports gave for each SSRC (RFC 3550 §6.4.1). A report of a
    second or more is left out: no call survives that, it is a reporter counting with the wrong clock."""
    out: dict[int, float] = {}
    if analysis.rtp is not None:
        for r in analysis.rtp.rtcp.summaries:
            if r.jitter_max_ms is not None and r.jitter_max_ms < IMPLAUSIBLE_JITTER_MS:
                out[r.source_ssrc] = max(out.get(r.source_ssrc, 0.0), r.jitter_max_ms)
    return out


@check(
    id="media.high-delay", category="media", severity="minor", owner="engineering",
    title={
        "en": "Mouth-to-ear delay too high",
        "ru": "Слишком большая задержка «рот-ухо»",
    },
    customer={
        "en": "There is a noticeable delay (about {ta_ms} ms) before the other person hears you, which makes "
              "people talk over each other. No action is needed on your side: we are checking the network route.",
        "ru": "Есть заметная задержка (около {ta_ms} мс), прежде чем собеседник вас слышит, из-за чего вы "
              "перебиваете друг друга. С вашей стороны ничего делать не нужно: мы проверяем сетевой маршрут.",
    },
    engineer={
        "en": "Call {call_id}: estimated mouth-to-ear delay {ta_ms} ms ({direction}) = network {network_ms} ms "
              "(RTCP round trip {rtt_ms} ms / 2, {segments}) + jitter buffer {jitter_buffer_ms} ms + packetization "
              "{packetization_ms} ms + {codec} {codec_ms} ms + devices {devices_ms} ms. An estimate: RTT/2 assumes "
              "a symmetric path (RULES.md §1.4, §1.5). ITU-T G.114: 150 ms preferred, 400 ms planning limit; "
              "check the route (peering, satellite or long-haul hops) and bufferbloat.",
        "ru": "Вызов {call_id}: оценка задержки «рот-ухо» {ta_ms} мс ({direction}) = сеть {network_ms} мс "
              "(RTT по RTCP {rtt_ms} мс / 2, {segments_ru}) + джиттер-буфер {jitter_buffer_ms} мс + пакетизация "
              "{packetization_ms} мс + {codec} {codec_ms} мс + устройства {devices_ms} мс. Это оценка: RTT/2 "
              "предполагает симметричный путь (RULES.md §1.4, §1.5). ITU-T G.114: желательно 150 мс, предел "
              "планирования 400 мс; проверьте маршрут (пиринг, спутниковые или дальние участки) и очереди в "
              "переполненных буферах (qos.bufferbloat-suspected).",
    },
)
def high_delay(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A call whose estimated mouth-to-ear delay exceeds 150 ms (250 ms major, 400 ms critical). Only when RTCP gives
    a round trip: each receiver report that echoes a sender report seen in the capture measures the round trip
    between the capture point and the reporter (RFC 3550 §6.4.1 LSR/DLSR with capture times); the segments of the
    two directions add up to the end-to-end RTT. One-way network delay = RTT/2, plus the receiver's jitter buffer
    (2 x mean jitter, at least 20 ms), the packet interval, the codec's frame and look-ahead and 10 ms in the
    devices (G.114-style budget). Reported as an estimate (medium confidence).

    ## Why it matters
    Beyond 150 ms conversation suffers; beyond 250 ms people talk over each other (ITU-T G.114; the E-model's
    delay term grows fast past 177 ms).

    ## How to fix
    Check the route (peering, long-haul or satellite hops, tromboning through a far media relay), bufferbloat on
    the customer uplink (qos.bufferbloat-suspected), oversized jitter buffers.

    ## References
    ITU-T G.114, G.107 §7.4; RFC 3550 §6.4.1; RULES.md §1.4 (Ta), §1.5 (RTT from RTCP)
    """
    limits = ((setting("media.mouth_to_ear_ms.critical"), Severity.CRITICAL),
              (setting("media.mouth_to_ear_ms.major"), Severity.MAJOR),
              (setting("media.mouth_to_ear_ms.minor"), Severity.MINOR))
    if analysis.rtp is None:
        return
    rtt_by_ssrc: dict[int, list] = {}  # stream SSRC -> [(reporter, mean RTT ms, samples, first frame)]
    for r in analysis.rtp.rtcp.summaries:
        if r.rtt_samples and r.rtt_ms_mean is not None:
            rtt_by_ssrc.setdefault(r.source_ssrc, []).append((r.reporter_ssrc, r.rtt_ms_mean, r.rtt_samples))
    if not rtt_by_ssrc:
        return
    by_call: dict[str, list[MediaStream]] = {}
    for m in audio_streams(analysis):
        by_call.setdefault(m.call_id, []).append(m)
    for call_id, streams in by_call.items():
        segments: dict[int, tuple[float, int]] = {}  # reporter -> (mean RTT, samples)
        for m in streams:
            for reporter, rtt, n in rtt_by_ssrc.get(m.stats.ssrc, ()):
                old = segments.get(reporter)
                segments[reporter] = (rtt, n) if old is None else ((old[0] * old[1] + rtt * n) / (old[1] + n),
                                                                   old[1] + n)
        if not segments:
            continue
        rtt = sum(max(v, 0.0) for v, _ in segments.values())
        worst = None
        for m in streams:
            codec = codec_info(m.stats.codec) if m.stats.codec else None
            if codec is None or m.stats.clock_stepped:
                continue  # no jitter buffer to estimate without the stream's jitter
            parts = {"network_ms": rtt / 2, "jitter_buffer_ms": max(2 * m.stats.jitter_mean_ms, 20.0),
                     "packetization_ms": interval_ms(m), "codec_ms": codec.algorithmic_delay_ms,
                     "devices_ms": DEVICE_DELAY_MS}
            ta = sum(parts.values())
            if worst is None or ta > worst[0]:
                worst = (ta, m, codec, parts)
        if worst is None:
            continue
        ta, m, codec, parts = worst
        severity = next((sev for limit, sev in limits if ta > limit), None)
        if severity is None:
            continue
        yield Hit(call_id, (m.stats.first_frame,), {
            "call_id": call_id, "ta_ms": round(ta), "direction": m.binding.direction, "rtt_ms": round(rtt, 1),
            "segments": ", ".join(f"reporter 0x{rep:08x}: {v:.1f} ms over {n} report(s)"
                                  for rep, (v, n) in sorted(segments.items())),
            "segments_ru": ", ".join(f"по отчётам 0x{rep:08x}: {v:.1f} мс (отчётов: {n})"
                                     for rep, (v, n) in sorted(segments.items())),
            "codec": codec.description, **{k: round(v, 1) for k, v in parts.items()},
        }, severity=severity, confidence="medium")
