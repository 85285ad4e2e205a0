"""RTP stream integrity rules (RULES.md §3.6): sequence anomalies, sender clock drift, and RTCP that is missing,
misrouted or never sees a sender report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import Hit, Severity, check
from .mediaquality import CAPTURE_WIDE_MIN_STREAMS, CAPTURE_WIDE_SHARE, WRONG_CLOCK_PPM, audio_streams
from .settings import setting

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..clocksteps import ClockSteps
    from ..model import Call

NS = 10**9
# A new offer/answer this close to an SSRC change explains it (RFC 3550 §8.2 allows a new SSRC; a B2BUA switching
# from an announcement to the agent re-INVITEs).
SSRC_CHANGE_WINDOW_S = 2.0
# RULES.md media.clock-drift: the skew must grow beyond 100 ms over the call to matter to a jitter buffer.
SKEW_GROWTH_MS = 100.0
STEADY_FIT_MS = 20.0  # points within this RMS of the fitted line: a steady drift, not steps at silences
SAME_DRIFT_PPM = 100.0  # streams of different senders drifting alike within this: the capture's clock
TYPICAL_BUFFER_MS = 60.0  # a fixed jitter buffer of 40-60 ms (RULES.md media.high-jitter)
SR_WAIT_S = 2.0  # a receiver report sent this long after a sender report should echo it (LSR)


@check(
    id="media.sequence-anomalies", category="media", severity="minor", owner="engineering",
    title={
        "en": "RTP packets duplicated, reordered, or with sequence/SSRC/timestamp discontinuities",
        "ru": "RTP-пакеты дублируются, переставлены или идут с разрывами номеров, SSRC или меток времени",
    },
    customer={
        "en": "Some audio packets of your call arrived twice, out of order or with breaks in their numbering; this "
              "can cause clicks or short glitches. No action is needed on your side: we are checking the network "
              "path.",
        "ru": "Часть пакетов звука вашего звонка приходила дважды, не по порядку или с разрывами нумерации; это "
              "может давать щелчки и короткие сбои. С вашей стороны ничего делать не нужно: мы проверяем сетевой "
              "путь.",
    },
    engineer={
        "en": "Stream {stream} ({direction}) of call {call_id}: {summary_en}.{capture_en} RFC 3550 §5.1, §8.2, "
              "A.1 (MAX_DROPOUT 3000, MAX_MISORDER 100). Duplicates: SPAN/TAP mirroring both directions, Wi-Fi "
              "retransmissions; reordering: multi-path or LAG hashing; SSRC changes without a new offer: a "
              "media server or SBC switching sources.",
        "ru": "Поток {stream} ({direction}) вызова {call_id}: {summary_ru}.{capture_ru} RFC 3550 §5.1, §8.2, A.1 "
              "(MAX_DROPOUT 3000, MAX_MISORDER 100). Дубликаты: зеркалирование SPAN/TAP в обе стороны, повторы "
              "Wi-Fi; перестановки: несколько путей или хеширование LAG; смена SSRC без нового предложения SDP: "
              "медиасервер или SBC переключает источник.",
    },
)
def sequence_anomalies(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    Per stream: duplicates (the same sequence number twice) or reordered packets above 1 % (minor); sequence
    restarts and jumps beyond MAX_DROPOUT, timestamp jumps of over a second, timestamps before the first one, and
    an SSRC change on the same 5-tuple without a new offer/answer within 2 s (information; minor when the call's
    audio then went one-way or silent). When nearly every stream of the capture is duplicated, the capture
    (a mirror port copying both ways) is the likely cause: information, low confidence.

    ## Why it matters
    Duplicates and reordering cost jitter-buffer slots (clicks, discards); restarts and SSRC changes reset the
    receiver's state and can cut the audio if it does not latch onto the new source.

    ## How to fix
    Deduplicate the capture first (SPAN both ways); then look for multi-path or LAG hashing, Wi-Fi retries,
    media servers or SBCs switching sources without a re-INVITE.

    ## References
    RFC 3550 §5.1, §8.2, Appendix A.1; Wireshark RTP analysis ("Wrong sequence number", "Incorrect timestamp")
    """
    limit = setting("media.reorder_pct")
    calls = {c.call_id: c for c in analysis.calls}
    streams = list(audio_streams(analysis))
    owner = {m.stats.key: m.call_id for m in analysis.streams}
    duplicated = [m for m in streams if m.stats.duplicates * 2 >= m.stats.packets * 0.9]
    capture_dup = len(duplicated) >= CAPTURE_WIDE_MIN_STREAMS and len(duplicated) >= CAPTURE_WIDE_SHARE * len(
        streams)
    for m in streams:
        s = m.stats
        dup_pct = s.duplicates * 100.0 / s.packets
        reorder_pct = s.out_of_order * 100.0 / s.packets
        parts_en, parts_ru = [], []
        severity = Severity.INFO
        if dup_pct > limit:
            parts_en.append(f"{s.duplicates} duplicates ({dup_pct:.1f} %)")
            parts_ru.append(f"{s.duplicates} дубликатов ({dup_pct:.1f} %)")
            severity = Severity.MINOR
        if reorder_pct > limit:
            parts_en.append(f"{s.out_of_order} reordered packets ({reorder_pct:.1f} %)")
            parts_ru.append(f"{s.out_of_order} переставленных пакетов ({reorder_pct:.1f} %)")
            severity = Severity.MINOR
        if s.sequence_restarts or s.sequence_jumps:
            parts_en.append(f"{s.sequence_restarts} sequence restart(s), {s.sequence_jumps} jump(s) beyond 3000")
            parts_ru.append(f"перезапусков нумерации {s.sequence_restarts}, скачков больше 3000: {s.sequence_jumps}")
        if s.timestamp_jumps:
            parts_en.append(f"{s.timestamp_jumps} timestamp jump(s) of over 1 s")
            parts_ru.append(f"скачков метки времени больше 1 с: {s.timestamp_jumps}")
        if s.wrong_timestamps:
            parts_en.append(f"{s.wrong_timestamps} packet(s) with a timestamp before the first one")
            parts_ru.append(f"пакетов с меткой времени раньше первой: {s.wrong_timestamps}")
        call = calls.get(m.call_id or "")
        before = (s.src_ip, s.src_port, s.dst_ip, s.dst_port, s.previous_ssrc)
        # the same 5-tuple reused by a later call is not an SSRC change inside a call
        if (s.previous_ssrc is not None and call is not None and owner.get(before) == call.call_id
                and not _new_offer_near(call, s.first_frame, s.start_ns, analysis.capture.clock)):
            parts_en.append(f"SSRC changed from 0x{s.previous_ssrc:08x} without a new offer/answer")
            parts_ru.append(f"SSRC сменился с 0x{s.previous_ssrc:08x} без нового offer/answer")
            media = analysis.media_of(call)
            if media is not None and media.verdict.verdict in ("one-way", "no-rtp"):
                severity = Severity.MINOR
        if not parts_en:
            continue
        confidence = "high"
        if capture_dup and m in duplicated:
            severity, confidence = Severity.INFO, "low"
        yield Hit(m.call_id, (s.first_frame,), {
            "call_id": m.call_id, "stream": m.label, "direction": m.binding.direction,
            "duplicates": s.duplicates, "duplicate_pct": round(dup_pct, 1), "reordered": s.out_of_order,
            "reordered_pct": round(reorder_pct, 1), "restarts": s.sequence_restarts, "jumps": s.sequence_jumps,
            "timestamp_jumps": s.timestamp_jumps, "previous_ssrc": s.previous_ssrc,
            "summary_en": "; ".join(parts_en), "summary_ru": "; ".join(parts_ru),
            "capture_en": " Nearly every stream of the capture is duplicated: the capture (a mirror port copying "
                          "both directions) is the likely cause." if confidence == "low" else "",
            "capture_ru": " Почти все потоки захвата задвоены: вероятная причина в самом захвате (зеркальный порт, "
                          "копирующий оба направления)." if confidence == "low" else "",
        }, severity=severity, confidence=confidence)


def _new_offer_near(call: Call, frame: int, ts_ns: int, clock: ClockSteps) -> bool:
    """An offer or answer of the call within SSRC_CHANGE_WINDOW_S of record `frame`; one across a step of the
    capture's clock may be, and is taken to be (the change is then not blamed on the sender)."""
    times = {m.frame: m.ts_ns for m in call.messages}
    return any(not clock.sound(f, frame) or abs(times.get(f, 0) - ts_ns) <= SSRC_CHANGE_WINDOW_S * NS
               for n in call.negotiations for f in (n.offer_frame, n.answer_frame) if f)


@check(
    id="media.clock-drift", category="media", severity="minor", owner="first-line",
    title={
        "en": "Sender's audio clock runs fast or slow",
        "ru": "Аудиочасы отправителя спешат или отстают",
    },
    customer={
        "en": "The audio clock of one device in your call runs slightly {fast_slow_en}, which causes periodic "
              "clicks or short gaps. We will check the device's firmware; please tell us its model.",
        "ru": "Звуковой тактовый генератор одного из устройств в вашем звонке идёт немного {fast_slow_ru}, из-за "
              "этого бывают периодические щелчки или короткие пропуски. Мы проверим прошивку устройства; сообщите "
              "нам его модель.",
    },
    engineer={
        "en": "Stream {stream} ({direction}) of call {call_id}: RTP timestamps advance {drift_abs_ppm} ppm "
              "{faster_slower_en} than the {clock_rate} Hz clock against the capture's time (least-squares fit over "
              "{duration_s} s, RMS residual {residual_ms} ms); the skew grows by {skew_growth_ms} ms over the "
              "stream, so a {buffer_ms} ms jitter buffer under/overflows about every {buffer_period_s} s.{capture_en} "
              "Wireshark computes the same skew (tap-rtp-analysis.c); RFC 3550 §6.4.1. Collect the device model "
              "and firmware; gateways: check TDM clock sync.",
        "ru": "Поток {stream} ({direction}) вызова {call_id}: метки времени RTP растут на {drift_abs_ppm} ppm "
              "{fast_slow_ru}, чем часы {clock_rate} Гц, относительно времени захвата (МНК за {duration_s} с, СКО "
              "остатка {residual_ms} мс); рассогласование растёт на {skew_growth_ms} мс за поток, и джиттер-буфер "
              "{buffer_ms} мс переполняется/опустошается примерно каждые {buffer_period_s} с.{capture_ru} Wireshark "
              "считает тот же skew (tap-rtp-analysis.c); RFC 3550 §6.4.1. Узнайте модель и прошивку устройства; "
              "для шлюзов проверьте синхронизацию TDM.",
    },
)
def clock_drift(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A stream whose RTP timestamps, fitted by least squares against the arrival times, advance more than 500 ppm
    faster or slower than the payload's nominal clock, enough for the skew to grow by over 100 ms in the stream.
    Streams with timestamp jumps or sequence restarts are left out, and so are rates 5 % or more off (a wrong
    nominal clock: codec.timestamp-clock-mismatch). When the streams of different senders drift alike, the
    capture host's clock is suspected (low confidence).

    ## Why it matters
    The receiver's jitter buffer slowly fills or drains and then has to drop or insert audio: periodic clicks and
    gaps, worse the longer the call.

    ## How to fix
    Device firmware (sound-card clock), gateway clock synchronisation (TDM), or an adaptive jitter buffer that
    compensates drift.

    ## References
    Wireshark tap-rtp-analysis.c (skew); RFC 3550 §5.1, §6.4.1
    """
    limit = setting("media.drift_ppm")
    fits = []
    for m in audio_streams(analysis):
        s = m.stats
        if s.clock_drift_ppm is None or s.timestamp_jumps or s.sequence_restarts or not s.clock_rate:
            continue
        fits.append(m)
    by_sender: dict[int, float] = {m.stats.ssrc: m.stats.clock_drift_ppm for m in fits}
    values = list(by_sender.values())
    capture_clock = (len(values) >= 2 and all(abs(v) > limit for v in values)
                     and max(values) - min(values) <= SAME_DRIFT_PPM)
    for m in fits:
        s = m.stats
        drift = s.clock_drift_ppm
        growth = abs(drift) * 1e-6 * s.duration_s * 1000
        if abs(drift) <= limit or growth <= SKEW_GROWTH_MS or abs(drift) >= WRONG_CLOCK_PPM:
            continue
        steady = s.clock_fit_residual_ms is not None and s.clock_fit_residual_ms <= STEADY_FIT_MS
        confidence = "low" if capture_clock else "high" if steady else "medium"
        fast = drift > 0
        yield Hit(m.call_id, (s.first_frame,), {
            "call_id": m.call_id, "stream": m.label, "direction": m.binding.direction,
            "drift_ppm": round(drift), "clock_rate": s.clock_rate, "duration_s": round(s.duration_s, 1),
            "residual_ms": s.clock_fit_residual_ms, "skew_growth_ms": round(growth),
            "buffer_ms": int(TYPICAL_BUFFER_MS), "buffer_period_s": round(TYPICAL_BUFFER_MS / (abs(drift) * 1e-3)),
            "fast_slow_en": "fast" if fast else "slow", "fast_slow_ru": "быстрее" if fast else "медленнее",
            "faster_slower_en": "faster" if fast else "slower", "drift_abs_ppm": abs(round(drift)),
            "capture_en": " Streams of different senders drift alike: the capture host's clock is the likely cause."
                          if capture_clock else "",
            "capture_ru": " Потоки разных отправителей уходят одинаково: вероятная причина в часах хоста захвата."
                          if capture_clock else "",
        }, confidence=confidence)


@check(
    id="media.rtcp-issues", category="media", severity="minor", owner="engineering",
    title={
        "en": "RTCP missing, misrouted or never acknowledging sender reports",
        "ru": "RTCP отсутствует, идёт не туда или не подтверждает отчёты отправителя",
    },
    customer={
        "en": "Part of the quality reporting between the systems in your call is missing. Your call is not "
              "directly affected; no action is needed on your side.",
        "ru": "В вашем звонке часть служебных отчётов о качестве между системами отсутствует. На сам звонок это "
              "напрямую не влияет; с вашей стороны ничего делать не нужно.",
    },
    engineer={
        "en": "Call {call_id}: {summary_en}. RTCP should accompany every RTP sender at least every 5 s "
              "(randomised 0.5-1.5x, RFC 3550 §6.2); a=rtcp (RFC 3605) and a=rtcp-mux (RFC 5761) say where it goes; "
              "LSR 0 means no sender report arrived (§6.4.1). Some platforms time calls out on RTCP; check the "
              "media relay's RTCP forwarding and the firewall rule for RTP port + 1.",
        "ru": "Вызов {call_id}: {summary_ru}. RTCP должен сопровождать каждого отправителя RTP не реже раза в 5 с "
              "(случайно 0.5-1.5x, RFC 3550 §6.2); куда его слать, говорят a=rtcp (RFC 3605) и a=rtcp-mux "
              "(RFC 5761); LSR 0 значит, что отчёт отправителя (SR) не доходил (§6.4.1). Некоторые платформы "
              "завершают вызовы по RTCP; проверьте пересылку RTCP на медиарелее и правило межсетевого экрана для "
              "порта RTP + 1.",
    },
)
def rtcp_issues(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    Per call with RTP for at least `media.rtcp_missing_s` (15 s, three RTCP intervals): an RTP sender that sends
    no RTCP while the other does (minor); RTCP sent to RTP port + 1 although both sides agreed on rtcp-mux
    (minor); receiver reports that never echo the sender reports the other side sent (LSR always 0: the SR path is
    broken, minor). A call whose two sides send no RTCP at all is information of low confidence: RTCP may be
    switched off by policy.

    ## Why it matters
    RTCP carries the far end's view of loss and jitter and the round trip; some SBCs and PBXs end calls on RTCP
    timeouts; a broken RTCP path often shows a NAT or firewall that also hurts RTP.

    ## How to fix
    Open and forward RTP port + 1 (or use rtcp-mux consistently), make the media relay pass RTCP, honour a=rtcp.

    ## References
    RFC 3550 §6.2, §6.4, §11; RFC 3605; RFC 5761; RFC 3611
    """
    if analysis.rtp is None:
        return
    need_s = setting("media.rtcp_missing_s")
    packets = analysis.rtp.rtcp.packets
    by_ssrc: dict[int, list] = {}
    by_source: dict[tuple[str, int], list] = {}
    for p in packets:
        if p.ssrc is not None:
            by_ssrc.setdefault(p.ssrc, []).append(p)
        by_source.setdefault((p.src_ip, p.src_port), []).append(p)
    calls = {c.call_id: c for c in analysis.calls}
    per_call: dict[str, list] = {}
    for m in audio_streams(analysis):
        if m.binding.direction and (m.stats.duration_s or 0) >= need_s:  # None: a clock step, not known
            per_call.setdefault(m.call_id, []).append(m)
    for call_id, streams in per_call.items():
        senders = {}  # direction -> RTCP packets of that direction's RTP sender
        for m in streams:
            s = m.stats
            mine = by_ssrc.get(s.ssrc, []) + by_source.get((s.src_ip, s.src_port), []) + \
                by_source.get((s.src_ip, s.src_port + 1), [])
            senders.setdefault(m.binding.direction, {}).update({(p.frame, p.packet_type): p for p in mine})
        if len(senders) < 2:
            continue  # one-way audio: media.one-way-audio tells it
        issues_en, issues_ru, severity, frames = [], [], Severity.INFO, []
        silent = [d for d, ps in senders.items() if not ps]
        if len(silent) == 2:
            issues_en.append("neither side sends RTCP (switched off by policy, or filtered)")
            issues_ru.append("ни одна сторона не шлёт RTCP (отключён политикой или отфильтрован)")
        elif silent:
            (d,) = silent
            issues_en.append(f"the {d} RTP sender sends no RTCP while the other side does")
            issues_ru.append(f"отправитель RTP {d} не шлёт RTCP, а другая сторона шлёт")
            severity = Severity.MINOR
        call = calls.get(call_id)
        mux = call is not None and _rtcp_mux_agreed(call)
        for d, ps in senders.items():
            if not ps:
                continue
            stream = next(m for m in streams if m.binding.direction == d)
            plus_one = [p for p in ps.values() if p.dst_port == stream.stats.dst_port + 1]
            if mux and plus_one:
                issues_en.append(f"{d} RTCP goes to port {plus_one[0].dst_port} (RTP port + 1) although rtcp-mux "
                                 f"was agreed")
                issues_ru.append(f"RTCP {d} идёт на порт {plus_one[0].dst_port} (порт RTP + 1), хотя rtcp-mux "
                                 f"согласован")
                severity = Severity.MINOR
                frames.append(plus_one[0].frame)
        unanswered = _sr_never_echoed(senders, streams)
        if unanswered is not None:
            reporter_dir, sr_frame = unanswered
            issues_en.append(f"the {reporter_dir} side's receiver reports all carry LSR 0 although the other side "
                             f"sent sender reports (first at frame {sr_frame}): its SRs do not arrive")
            issues_ru.append(f"отчёты получателя стороны {reporter_dir} всегда несут LSR 0, хотя другая сторона "
                             f"слала отчёты отправителя (первый в кадре {sr_frame}): её SR не доходят")
            severity = Severity.MINOR
            frames.append(sr_frame)
        if not issues_en:
            continue
        first = min(m.stats.first_frame for m in streams)
        yield Hit(call_id, tuple(sorted(set(frames))) or (first,), {
            "call_id": call_id, "summary_en": "; ".join(issues_en), "summary_ru": "; ".join(issues_ru),
            "rtcp_packets": {d: len(ps) for d, ps in senders.items()}, "rtcp_mux": mux,
        }, severity=severity, confidence="low" if len(silent) == 2 else "high")


def _rtcp_mux_agreed(call: Call) -> bool:
    """The last answered audio offer/answer has a=rtcp-mux on both sides (RFC 5761 §5.1.1)."""
    for n in reversed(call.negotiations):
        if n.answer:
            offer = [m for m in n.offer if m.media == "audio" and m.port]
            answer = [m for m in n.answer if m.media == "audio" and m.port]
            if n.offer_frame is None:  # the offer is not in the capture: an answer has it only if offered (§5.1.1)
                return bool(answer) and answer[0].rtcp_mux
            return bool(offer and answer) and offer[0].rtcp_mux and answer[0].rtcp_mux
    return False


def _sr_never_echoed(senders: dict, streams: list) -> tuple[str, int] | None:
    """(direction of the reporter, frame of the first SR) when one side sent SRs and every report block the other
    side sent about that SSRC, SR_WAIT_S or more after the first SR, has LSR 0."""
    ssrc_of = {m.binding.direction: m.stats.ssrc for m in streams}
    for d, ps in senders.items():
        other = next((o for o in senders if o != d), None)
        if other is None or d not in ssrc_of:
            continue
        srs = sorted((p for p in ps.values() if p.packet_type == "SR"), key=lambda p: p.ts_ns)
        if not srs:
            continue
        blocks = [(p.ts_ns, b) for p in senders[other].values() for b in p.blocks if b.source_ssrc == ssrc_of[d]
                  and p.ts_ns >= srs[0].ts_ns + SR_WAIT_S * NS]
        if blocks and all(b.lsr == 0 for _, b in blocks):
            return other, srs[0].frame
    return None
