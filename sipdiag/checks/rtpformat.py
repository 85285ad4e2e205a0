"""Rules comparing the RTP on the wire with what the SDP negotiated (RULES.md §3.3): payload types the receiver
never accepted, timestamps on the wrong clock, a different codec each way.

They read the per-stream figures of sipdiag.rtpresult (payload types seen, clock, timestamp span) and the
offers/answers of the call; nothing here walks packets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import join_address
from ..codecs import VIDEO_CLOCK
from ..rtpclock import CN_PAYLOAD_TYPES, is_telephone_event
from ..parties import between_numbers, party_en, party_ru, spoken_direction
from . import Hit, Severity, check
from .codec import AUXILIARY

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..dtmf import DtmfEvent
    from ..media import MediaStream
    from ..model import Call, MediaDescription

RECEIVER = {"caller->callee": "callee", "callee->caller": "caller"}
# RULES.md codec.rtp-payload-not-negotiated: more than 5 packets and more than 1 % of the stream.
MIN_PACKETS, MIN_SHARE = 5, 0.01
PTIME_SLACK_MS = 5
# RULES.md codec.asymmetric-codec: each direction's codec held for more than 5 s.
ASYMMETRY_S = 5.0


def sdp_of(call: Call, role: str) -> list[MediaDescription]:
    """The accepted m= lines `role` (caller/callee) sent in the call's offers and answers, in order: what that
    side said it is willing to receive (RFC 3264 §5.1, §6.1)."""
    out = []
    for n in call.negotiations:
        out.extend(m for m in n.written_by(role) if m.port)
    return out


def receiver_sdp(call: Call, stream: MediaStream) -> list[MediaDescription]:
    """The receiving side's m= lines for the address the stream was sent to; all its lines of the stream's
    kind (90 kHz clock: video) when the stream reached it elsewhere (latching behind NAT, an ALG)."""
    role = RECEIVER.get(stream.binding.direction or "")
    if role is None:
        return []
    lines = sdp_of(call, role)
    st = stream.stats
    exact = [m for m in lines if m.address == st.dst_ip and m.port == st.dst_port]
    kind = "video" if st.clock_rate == VIDEO_CLOCK else "audio"
    return exact or [m for m in lines if m.media == kind]


def events_by_stream(analysis: Analysis) -> dict[tuple, list[DtmfEvent]]:
    """RFC 4733 events keyed by their stream's (src, sport, dst, dport, ssrc)."""
    out: dict[tuple, list[DtmfEvent]] = {}
    if analysis.rtp is not None:
        for e in analysis.rtp.dtmf:
            out.setdefault(analysis.rtp.streams[e.stream].key, []).append(e)
    return out


def event_payload_types(stream: MediaStream, events: list[DtmfEvent]) -> set[int]:
    """The payload types that carried the stream's RFC 4733 events: the dynamic types besides the main one."""
    if not events:
        return set()
    st = stream.stats
    main = st.main_payload_type  # not the first packet's type, which may be an event's
    return {pt for pt in st.payload_types if pt >= 96 and pt != main} or (
        {main} if main >= 96 and len(st.payload_types) == 1 else set())


def _accepted(lines: list[MediaDescription]) -> set[int]:
    return {pt for m in lines for pt in m.payload_types}


@check(
    id="codec.rtp-payload-not-negotiated", category="codec", severity="major", owner="engineering",
    title={
        "en": "RTP sent with a payload type the receiver did not accept",
        "ru": "RTP отправляется с типом нагрузки, который получатель не принял",
    },
    customer={
        "en": "During {call_en}, sound was sent {direction_en} in a format that side had not agreed to receive, "
              "so it was probably thrown away. No action is needed from you: we are correcting the configuration.",
        "ru": "Во время звонка звук передавался {direction_ru} в формате, который эта сторона не соглашалась "
              "принимать, поэтому он, скорее всего, отбрасывался. От вас ничего не требуется: мы исправляем "
              "настройки.",
    },
    engineer={
        "en": "Call {call_id}: stream {src} -> {dst} (SSRC {ssrc}, first frame {frame}) carries its media in "
              "payload type {payload_type} ({codec}), {packets} of its {stream_packets} packets, but "
              "{receiver_sdp_en} (frame(s) {sdp_frames}) accepts only {accepted}. The sender ignores the answer "
              "(RFC 3264 §5.1, §7: send only what the peer listed); fix the sender, or let the SBC transcode or "
              "renumber.",
        "ru": "Вызов {call_id}: поток {src} -> {dst} (SSRC {ssrc}, первый кадр {frame}) передаёт медиа с типом "
              "нагрузки {payload_type} ({codec_ru}): {packets} из {stream_packets} пакетов, а SDP {receiver_ru} "
              "(кадры: {sdp_frames}) принимает только {accepted}. Отправитель не следует ответу (RFC 3264 §5.1, §7: "
              "отправлять можно только то, что указал получатель); исправьте отправителя или включите "
              "транскодирование/перенумерацию на SBC.",
    },
)
def rtp_payload_not_negotiated(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An RTP stream whose main payload type, the one of most media packets, is absent from every SDP the receiving
    side sent in the call (the formats it said it would receive), in more than 5 packets of that type and more than
    1 % of the stream. The first packet's type does not decide: a stream may open with comfort noise, an RFC 4733
    event or a keep-alive before its codec, or with a few packets of another type before the accepted one. A
    stream of comfort noise (PT 13) alone that was not negotiated is reported as info: many receivers tolerate it.
    RFC 4733 events under the wrong number are dtmf.rfc4733-problem's. RFC 6263 keep-alives (RTP packets without
    media, of a type nobody negotiated on purpose) are not counted.

    ## Why it matters
    Receivers discard payload types they did not accept: the call sounds one-way or silent although RTP flows.

    ## How to fix
    Make the sender follow the answer (typical after a re-INVITE codec change or with asymmetric payload type
    numbering), or have the SBC transcode or renumber payload types.

    ## References
    RFC 3264 §5.1, §6.1, §7; RFC 3550 §5.1; RFC 5761 §4 (RTCP is not mistaken for RTP here)
    """
    events = events_by_stream(analysis)
    for call in analysis.calls:
        media = analysis.media_of(call)
        if media is None or not call.negotiations:
            continue
        for i in media.streams:
            stream = analysis.streams[i]
            st = stream.stats
            lines = receiver_sdp(call, stream)
            if not lines:
                continue
            accepted = _accepted(lines)
            mine = events.get(st.key, [])
            event_pts = event_payload_types(stream, mine)
            # the type of most media packets, not the first packet's: a stream may open with comfort noise, an
            # event or a keep-alive before its codec, or with a few packets of another type before the accepted one
            pt = st.main_payload_type
            if pt in accepted or pt in event_pts:
                continue
            # that type's own packets of media (sipdiag.rtpptcount), comfort noise, events and other types left out;
            # RFC 6263 §4.6 keep-alives use a type nobody negotiated on purpose (RtpStreamStats.keepalives) and carry
            # no media to discard
            packets = st.media_packets_of(pt)
            if packets <= MIN_PACKETS or packets <= MIN_SHARE * st.packets:
                continue
            direction = stream.binding.direction or ""
            # the customer text's direction: by the parties' numbers when the capture does not show who called
            spoken_en, spoken_ru = spoken_direction(call, direction)
            yield Hit(call.call_id, (st.first_frame,), {
                "call_id": call.call_id, "src": join_address(st.src_ip, st.src_port),
                "dst": join_address(st.dst_ip, st.dst_port),
                "ssrc": f"0x{st.ssrc:08X}", "frame": st.first_frame, "payload_type": pt,
                "codec": st.codec or "unknown", "codec_ru": st.codec or "кодек неизвестен", "packets": packets,
                "stream_packets": st.packets, "receiver": RECEIVER.get(direction, "?"),
                "receiver_ru": party_ru(call, RECEIVER.get(direction, "")) if direction in RECEIVER else "?",
                "direction": direction,
                "accepted": ", ".join(map(str, sorted(accepted))),
                "sdp_frames": ", ".join(map(str, _sdp_frames(call, RECEIVER.get(direction, "")))),
                "direction_en": spoken_en, "direction_ru": spoken_ru,
            }, severity=Severity.INFO if pt in CN_PAYLOAD_TYPES else None,
                confidence="high" if stream.binding.bound_by == "sdp" else "medium",
                # "your call" is the caller's: the call itself when the capture does not show who called
                texts={"receiver_sdp_en": _receiver_sdp_en(call, RECEIVER.get(direction, "?")),
                       "call_en": "your call" if call.roles_known else "the call"})


def _sdp_frames(call: Call, role: str) -> list[int]:
    frames = []
    for n in call.negotiations:
        if n.offerer == role:
            if n.offer_frame is not None:  # None: the offer is not in the capture
                frames.append(n.offer_frame)
        elif n.answer_frame is not None and n.answer:
            frames.append(n.answer_frame)
    return frames


@check(
    id="codec.timestamp-clock-mismatch", category="codec", severity="minor", owner="engineering",
    title={
        "en": "RTP timestamps on the wrong clock or packets longer than negotiated",
        "ru": "Метки времени RTP идут не с той тактовой частотой, или пакеты длиннее согласованных",
    },
    customer={
        "en": "Part of your call's audio was packaged with the wrong timing, which can make it sound choppy, "
              "robotic or at the wrong speed. No action is needed from you: we are adjusting the codec settings.",
        "ru": "Часть звука в вашем звонке была упакована с неправильной синхронизацией, из-за чего он может "
              "звучать прерывисто, «металлически» или с неверной скоростью. От вас ничего не требуется: мы "
              "настраиваем параметры кодека.",
    },
    engineer={
        "en": "Call {call_id}: stream {src} -> {dst} (SSRC {ssrc}, {codec}, first frame {frame}): {problem}. "
              "Receivers play out by timestamp: a wrong clock breaks the jitter buffer and concealment. The RTP "
              "clock is the payload format's, not the sampling rate: G.722 8000 Hz (RFC 3551 §4.5.2), Opus 48000 Hz "
              "(RFC 7587); packets must not exceed the receiver's maxptime (RFC 8866 §6.5). Fix the sender's "
              "firmware or codec setting.",
        "ru": "Вызов {call_id}: поток {src} -> {dst} (SSRC {ssrc}, {codec}, первый кадр {frame}): {problem_ru}. "
              "Получатель воспроизводит по меткам времени: неверная частота ломает джиттер-буфер и маскирование "
              "потерь. Частота RTP задаётся форматом, а не частотой дискретизации: G.722 8000 Гц (RFC 3551 "
              "§4.5.2), Opus 48000 Гц (RFC 7587); пакеты не должны превышать maxptime получателя (RFC 8866 §6.5). "
              "Исправьте прошивку или настройку кодека отправителя.",
    },
)
def timestamp_clock_mismatch(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A stream of one voice payload type (static clock, or named by SDP) whose RTP timestamps advance more than
    10 % faster or slower than its clock over at least 50 packets (e.g. G.722 stamped at 16 kHz instead of
    8000 Hz, Opus at 8 or 16 kHz instead of 48 kHz), or whose packets are longer than the receiver's a=maxptime
    (by 5 ms or more over a=ptime). The clock is the timestamp span over the arrival span, so talkspurt gaps
    (RFC 3551 §4.1, timestamps keep counting) do not matter; streams mixing payload types (events, a codec
    change) are left out.

    ## Why it matters
    Playout is driven by timestamps: a 2x clock makes the jitter buffer stretch or squeeze audio, robotic or
    choppy speech; oversize packets overflow receivers that honour maxptime.

    ## How to fix
    Correct the sender's codec implementation or settings (firmware update, G.722/Opus clock, packetization).

    ## References
    RFC 3550 §5.1; RFC 3551 §4.1, §4.5.2; RFC 7587 §4.1; RFC 8866 §6.4, §6.5
    """
    for call in analysis.calls:
        media = analysis.media_of(call)
        if media is None:
            continue
        for i in media.streams:
            stream = analysis.streams[i]
            st = stream.stats
            ratio = st.clock_ratio  # None without a clock or below 50 packets and 1 s (RULES.md)
            if (ratio is None or st.clock_source not in ("static", "sdp") or st.sequence_restarts
                    or st.wrong_timestamps or len(set(st.payload_types) - set(CN_PAYLOAD_TYPES)) != 1
                    or is_telephone_event(st.codec)):
                continue
            rate = ratio * st.clock_rate
            problem = severity = None
            if not st.clock_fits:
                problem = (f"timestamps advance at {rate:.0f} units/s over {st.duration_s:.1f} s, "
                           f"{ratio:.2f} times the {st.codec} clock of {st.clock_rate} Hz",
                           f"метки времени растут на {rate:.0f} единиц/с за {st.duration_s:.1f} с: это {ratio:.2f} "
                           f"от частоты {st.codec} ({st.clock_rate} Гц)")
                severity = Severity.MAJOR if ratio >= 1.9 or ratio <= 0.55 else None
            else:
                problem = _oversize(call, stream)
            if problem is None:
                continue
            yield Hit(call.call_id, (st.first_frame,), {
                "call_id": call.call_id, "src": join_address(st.src_ip, st.src_port),
                "dst": join_address(st.dst_ip, st.dst_port),
                "ssrc": f"0x{st.ssrc:08X}", "codec": st.codec, "frame": st.first_frame, "problem": problem[0],
                "problem_ru": problem[1],
                "clock_hz": st.clock_rate, "observed_rate": round(rate), "ratio": round(ratio, 2),
            }, severity=severity)


def _oversize(call: Call, stream: MediaStream) -> tuple[str, str] | None:
    """Packets longer than the receiver's maxptime (RULES.md: 5 ms over ptime *and* over maxptime); measured only
    on streams without talkspurt gaps (one marker at most), where timestamps per packet are the packet length.
    In English and Russian."""
    ptime = stream.stats.timestamp_ptime_ms
    if ptime is None:
        return None
    for m in receiver_sdp(call, stream):
        if m.maxptime_ms and ptime > m.maxptime_ms and ptime >= (m.ptime_ms or 0) + PTIME_SLACK_MS:
            return (f"packets carry {ptime:.0f} ms of audio, more than the receiver's maxptime {m.maxptime_ms} ms"
                    + (f" (ptime {m.ptime_ms} ms)" if m.ptime_ms else ""),
                    f"пакеты несут по {ptime:.0f} мс звука, больше maxptime получателя {m.maxptime_ms} мс"
                    + (f" (ptime {m.ptime_ms} мс)" if m.ptime_ms else ""))
    return None


@check(
    id="codec.asymmetric-codec", category="codec", severity="info", owner="first-line",
    title={
        "en": "Each direction of the call uses a different codec",
        "ru": "В двух направлениях вызова используются разные кодеки",
    },
    customer={
        "en": "{call_en} used one voice format in one direction and another in the other. This is allowed and "
              "usually harmless; no action is needed unless you noticed poor sound or recording problems.",
        "ru": "{in_call_ru} в одну сторону использовался один формат голоса, а в другую — другой. Это "
              "допустимо и обычно безвредно; действий не требуется, если вы не заметили плохого звука или "
              "проблем с записью.",
    },
    engineer={
        "en": "Call {call_id}: {up_en} {codec_to_callee} for {seconds_to_callee} s (frame {frame_to_callee}), "
              "{down_en} {codec_to_caller} for {seconds_to_caller} s (frame {frame_to_caller}). Legal under "
              "RFC 3264 §6.1/§7, but some gateways, recorders and transcoders assume one codec; quality must be "
              "rated per direction. Align codec preferences if a device misbehaves.",
        "ru": "Вызов {call_id}: от {caller_ru} {codec_to_callee} в течение {seconds_to_callee} с (кадр "
              "{frame_to_callee}), от {callee_ru} {codec_to_caller} в течение {seconds_to_caller} с (кадр "
              "{frame_to_caller}). Допустимо по RFC 3264 §6.1/§7, но некоторые шлюзы, системы записи и "
              "транскодеры рассчитывают на один кодек; качество оценивается по направлениям. Согласуйте "
              "приоритеты кодеков, если устройство работает неправильно.",
    },
)
def asymmetric_codec(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An answered call whose longest voice stream in each direction uses a different codec (comfort noise and
    DTMF events aside), both held for more than 5 s.

    ## Why it matters
    Legal, but recorders, lawful intercept, some gateways and transcoders assume one codec; when one-way or
    garbled audio is reported this is a lead. Quality has to be rated per direction.

    ## How to fix
    Nothing when the call works; otherwise put the same preferred codec first on both sides.

    ## References
    RFC 3264 §6.1, §7
    """
    for call in analysis.calls:
        media = analysis.media_of(call)
        if media is None or call.outcome != "answered":
            continue
        longest: dict[str, MediaStream] = {}
        for i in media.streams:
            stream = analysis.streams[i]
            codec = stream.stats.codec
            if not codec or codec.upper() in AUXILIARY or stream.binding.direction not in RECEIVER:
                continue
            best = longest.get(stream.binding.direction)
            if best is None or (stream.stats.duration_s or 0) > (best.stats.duration_s or 0):
                longest[stream.binding.direction] = stream
        up, down = longest.get("caller->callee"), longest.get("callee->caller")
        if up is None or down is None or up.stats.codec.upper() == down.stats.codec.upper():
            continue
        # how long each codec was used is not known where the capture's clock steps within the stream (None)
        if min(up.stats.duration_s or 0, down.stats.duration_s or 0) <= ASYMMETRY_S:
            continue
        yield Hit(call.call_id, (up.stats.first_frame, down.stats.first_frame), {
            "call_id": call.call_id, "codec_to_callee": up.stats.codec, "codec_to_caller": down.stats.codec,
            "seconds_to_callee": round(up.stats.duration_s, 1), "seconds_to_caller": round(down.stats.duration_s, 1),
            "frame_to_callee": up.stats.first_frame, "frame_to_caller": down.stats.first_frame,
        }, texts=_asymmetric_call(call))


def _asymmetric_call(call: Call) -> dict[str, str]:
    """How codec.asymmetric-codec's customer text names the call: "your call" is the caller's, so the call by its
    parties' numbers when the capture does not show who called (RULES.md §6: no third party's address)."""
    if call.roles_known:
        return {"call_en": "Your call", "in_call_ru": "В вашем звонке"}
    between_en, between_ru = between_numbers(call)
    return {"call_en": f"The call {between_en}", "in_call_ru": f"В звонке {between_ru}"}


def _receiver_sdp_en(call: Call, receiver: str) -> str:
    """"the callee's SDP"; "the SDP of the party at …" when the capture does not show who called."""
    if receiver not in ("caller", "callee"):
        return f"the {receiver}'s SDP"
    return f"the {receiver}'s SDP" if call.roles_known else f"the SDP of {party_en(call, receiver)}"
