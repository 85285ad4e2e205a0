"""DTMF rule (RULES.md §3.3 dtmf.rfc4733-problem): RFC 4733 telephone-event negotiation and event streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import join_address
from ..dtmf import FLASH
from ..rtpclock import is_telephone_event
from . import Hit, Severity, check
from .codec import format_key, voice_formats
from .rtpformat import event_payload_types, events_by_stream, receiver_sdp

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..clocksteps import ClockSteps
    from ..model import Call, MediaDescription

END_REPEATS = 2  # RFC 4733 §2.5.1.4: the final packet is sent three times (two repeats)
OVERLAP_SLACK_NS = 20 * 10**6  # one packet interval of tolerance before calling two events overlapping
OPEN_AT_END_NS = 10**9  # an event begun this close to the end of its stream may simply be cut by the capture


def _event_clocks(m: MediaDescription) -> set[str]:
    return {format_key(c)[1] for c in m.codecs if is_telephone_event(c)}


def _negotiation_problems(call: Call) -> list[tuple[str, Severity, str, str]]:
    """(a) telephone-event on one side only, (e) its clock differs from the voice codec's; in the latest answer."""
    out: list[tuple[str, Severity, str, str]] = []
    n = next((n for n in reversed(call.negotiations) if n.answer), None)
    if n is None:
        return out
    for offered, answered in zip(n.offer, n.answer or ()):
        if offered.media != "audio" or not offered.port or not answered.port:
            continue
        if (offered.telephone_event is None) != (answered.telephone_event is None) and not call.info_dtmf:
            side = "offer" if offered.telephone_event is not None else "answer"
            side_ru = "предложении" if side == "offer" else "ответе"
            frame = n.offer_frame if side == "offer" else n.answer_frame
            # Only in the offer: the answerer cannot take events. Only in the answer: legal (RFC 3264 §6.1 lets
            # an answer add formats), the offerer just did not ask for events: an observation.
            out.append(("a", Severity.MINOR if side == "offer" else Severity.INFO,
                        f"telephone-event only in the {side} (frame {frame}): key presses fall back to in-band tones "
                        "or are lost",
                        f"telephone-event есть только в {side_ru} (кадр {frame}): нажатия уходят тонами в голосе или "
                        "теряются"))
        voice = list(voice_formats(answered))
        clocks = _event_clocks(answered)
        if voice and clocks and voice[0][1] and voice[0][1] not in clocks:
            out.append(("e", Severity.MINOR,
                        f"telephone-event/{'/'.join(sorted(clocks))} with {voice[0][0]}/{voice[0][1]} in the answer "
                        f"(frame {n.answer_frame}): the event clock must be the audio clock",
                        f"telephone-event/{'/'.join(sorted(clocks))} при {voice[0][0]}/{voice[0][1]} в ответе (кадр "
                        f"{n.answer_frame}): частота событий должна совпадать с частотой звука"))
    return out


@check(
    id="dtmf.rfc4733-problem", category="codec", severity="minor", owner="first-line",
    title={
        "en": "DTMF (RFC 4733 telephone-event) negotiated or sent wrongly",
        "ru": "DTMF (telephone-event по RFC 4733) согласован или передаётся неправильно",
    },
    customer={
        "en": "Key presses during your call (for menus or voicemail) may not be understood by the other side. "
              "We are changing the DTMF setting on your line to RFC 2833/4733; if your phone has a 'DTMF mode' "
              "option, please set it to 'RFC 2833'.",
        "ru": "Нажатия клавиш во время звонка (в голосовом меню или почте) могут не распознаваться другой стороной. "
              "Мы переводим настройку DTMF на вашей линии в режим RFC 2833/4733; если в телефоне есть параметр "
              "«режим DTMF», установите «RFC 2833».",
    },
    engineer={
        "en": "Call {call_id}: {problems_en}. Align the DTMF mode end to end (RFC 4733 events with the negotiated "
              "payload type and the audio clock, end packet sent three times), or let the SBC interwork "
              "RFC 4733 with SIP INFO or in-band.",
        "ru": "Вызов {call_id}: {problems_ru}. Согласуйте режим DTMF на всём пути (события RFC 4733 с "
              "согласованным типом нагрузки и частотой звука, конечный пакет трижды) или включите на SBC "
              "преобразование RFC 4733 в SIP INFO или тоны.",
    },
)
def rfc4733_problem(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    (a) telephone-event in the offer but not the answer while no SIP INFO DTMF is used (only in the answer: info,
    an answer may add formats);
    (b) events sent with a payload type the receiver did not negotiate for telephone-event (major);
    (c) DTMF events without an end packet, whose end packet is not repeated (RFC 4733 sends it three times),
    or that overlap; (d) digits sent both as RFC 4733 events and as SIP INFO (doubled digits at IVRs);
    (e) a telephone-event clock other than the voice codec's (telephone-event/8000 with Opus/48000).
    In-band tones cannot be told from speech here and are not judged.

    ## Why it matters
    IVRs and voicemail do not react to key presses, or see each digit twice; in-band fallback is unreliable
    through compressed codecs (G.729, AMR, Opus).

    ## How to fix
    Set the same DTMF mode on the device and the account (RFC 2833/4733 preferred); make the SBC interwork
    RFC 4733 and SIP INFO when one side supports only one; fix devices that send events wrongly.

    ## References
    RFC 4733 §2.3, §2.5.1.4, §3.2; RFC 3264 §6.1; Wireshark RTP event dissector (timestamps stay on the
    event start, RFC 4733 §2.2.1)
    """
    events = events_by_stream(analysis)
    for call in analysis.calls:
        media = analysis.media_of(call)
        problems = _negotiation_problems(call)
        frames: list[int] = []
        for i in (media.streams if media else ()):
            stream = analysis.streams[i]
            mine = events.get(stream.stats.key, [])
            if not mine:
                continue
            frames.append(mine[0].start_frame)
            problems.extend(_stream_problems(call, stream, mine, analysis.capture.clock))
        if media is not None and media.dtmf and call.info_dtmf:
            problems.append(("d", Severity.MINOR,
                             f"{len(media.dtmf)} RFC 4733 event(s) and {len(call.info_dtmf)} SIP INFO digit(s) "
                             "in the same call: digits may be doubled",
                             f"{len(media.dtmf)} событий RFC 4733 и {len(call.info_dtmf)} цифр SIP INFO в одном "
                             "вызове: цифры могут удваиваться"))
        if not problems:
            continue
        yield Hit(call.call_id, tuple(sorted(set(frames))) or (call.first_frame,), {
            "call_id": call.call_id, "variants": "".join(sorted({p[0] for p in problems})),
            "problems_en": "; ".join(p[2] for p in problems), "problems_ru": "; ".join(p[3] for p in problems),
            "events": len(media.dtmf) if media else 0,
        }, severity=max(p[1] for p in problems))


def _stream_problems(call: Call, stream, mine, clock: ClockSteps) -> list[tuple[str, Severity, str, str]]:
    """clock: where the capture's clock steps; event times are not compared across a step."""
    out: list[tuple[str, Severity, str, str]] = []
    st = stream.stats
    used = event_payload_types(stream, mine)
    lines = receiver_sdp(call, stream)
    negotiated = {m.telephone_event for m in lines if m.telephone_event is not None}
    if lines and used and not used & negotiated:
        pts = ", ".join(map(str, sorted(used)))
        want = ", ".join(map(str, sorted(negotiated))) or "none"
        sender = join_address(st.src_ip, st.src_port)
        out.append(("b", Severity.MAJOR,
                    f"{len(mine)} event(s) from {sender} sent as payload type {pts}, the receiver "
                    f"negotiated {want} for telephone-event (first at frame {mine[0].start_frame})",
                    f"{len(mine)} событий от {sender} с типом нагрузки {pts}, "
                    + (f"получатель согласовал для telephone-event {want}" if negotiated else
                       "получатель telephone-event не согласовал")
                    + f" (первое в кадре {mine[0].start_frame})"))
    keys = [e for e in mine if e.event <= FLASH]  # DTMF and flash; fax/modem tones (RFC 4734) behave otherwise
    no_end = [e for e in keys if not e.end_seen and clock.sound(e.start_frame, st.last_frame)
              and st.end_ns - e.start_ns > OPEN_AT_END_NS]
    single = [e for e in keys if e.end_seen and e.end_retransmits < END_REPEATS]
    overlap = [b for a, b in zip(mine, mine[1:]) if clock.sound(a.start_frame, b.start_frame)
               and b.start_ns + OVERLAP_SLACK_NS < a.start_ns + int(a.duration_ms * 1e6)]
    if no_end:
        loss = f" (the stream lost {st.lost} packets)" if st.lost else ""
        loss_ru = f" (в потоке потеряно пакетов: {st.lost})" if st.lost else ""
        out.append(("c", Severity.MINOR,
                    f"{len(no_end)} event(s) without an end packet, digits {''.join(e.digit for e in no_end[:10])}, "
                    f"first at frame {no_end[0].start_frame}{loss}",
                    f"{len(no_end)} событий без конечного пакета, цифры {''.join(e.digit for e in no_end[:10])}, "
                    f"первое в кадре {no_end[0].start_frame}{loss_ru}"))
    if single:
        out.append(("c", Severity.MINOR,
                    f"{len(single)} event(s) whose end packet is sent {single[0].end_retransmits + 1} time(s) "
                    f"instead of 3, first at frame {single[0].start_frame}",
                    f"{len(single)} событий с конечным пакетом, отправленным {single[0].end_retransmits + 1} раз "
                    f"вместо 3, первое в кадре {single[0].start_frame}"))
    if overlap:
        out.append(("c", Severity.MINOR,
                    f"{len(overlap)} event(s) starting before the previous one ended, first at frame "
                    f"{overlap[0].start_frame}",
                    f"событий, начавшихся до окончания предыдущего: {len(overlap)}, первое в кадре "
                    f"{overlap[0].start_frame}"))
    return out
