"""Codec and offer/answer rules (RULES.md §3.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import Hit, check

if TYPE_CHECKING:
    from ..analysis import Analysis

NOT_ACCEPTABLE = (488, 606, 415)  # Not Acceptable Here / Not Acceptable / Unsupported Media Type


def _names(codecs: tuple[str, ...]) -> set[str]:
    """Encoding names without clock, upper-case, leaving out RFC 4733 events and comfort noise."""
    names = {c.split("/", 1)[0].upper() for c in codecs}
    return names - {"TELEPHONE-EVENT", "CN"}


@check(
    id="codec.no-common-codec", category="codec", severity="major", owner="first-line",
    title="Offer/answer failed: no codec both sides accept",
    customer={
        "en": "Your call could not be connected because your phone and the other side have no voice format in "
              "common. Please allow G.711 (PCMA/PCMU) in the phone's settings; we will check the account's codec "
              "list.",
        "ru": "Звонок не соединился: у вашего телефона и другой стороны нет общего формата передачи голоса. "
              "Разрешите в настройках телефона G.711 (PCMA/PCMU); мы проверим список кодеков в вашей учётной "
              "записи.",
    },
    engineer={
        "en": "Call {call_id}: {status} {reason} (frame {frame}) to an offer of {offered} (frame {offer_frame}); "
              "{warning}. Align the codec lists (device, account profile, SBC policy) or transcode "
              "(RFC 3264 §6, RFC 3261 §21.4.26).",
        "ru": "Вызов {call_id}: {status} {reason} (кадр {frame}) на предложение {offered} (кадр {offer_frame}); "
              "{warning}. Согласуйте списки кодеков (устройство, профиль, политика SBC) или включите "
              "транскодирование (RFC 3264 §6, RFC 3261 §21.4.26).",
    },
)
def no_common_codec(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A call rejected with 488 Not Acceptable Here, 606 Not Acceptable or 415, the answers to an offer nothing in
    which is acceptable.

    ## Why it matters
    The call never connects; typically a device offering only G.729/Opus to a trunk that takes G.711 only.

    ## How to fix
    Put a codec both sides support in the device's and the account's lists, or transcode on the SBC.

    ## References
    RFC 3264 §6, RFC 3261 §21.4.26, §21.6.4
    """
    for call in analysis.calls:
        if call.final_status not in NOT_ACCEPTABLE:
            continue
        offer = next((n for n in call.negotiations if n.offer), None)
        frame = next((m.frame for m in call.messages if m.status_code == call.final_status), call.first_frame)
        yield Hit(call.call_id, (offer.offer_frame, frame) if offer else (frame,), {
            "call_id": call.call_id, "status": call.final_status, "reason": call.final_reason or "",
            "frame": frame, "offer_frame": offer.offer_frame if offer else "-",
            "offered": ", ".join(c for m in offer.offer for c in m.codecs) if offer else "nothing",
            "warning": "see the Warning header of the response",
        })


@check(
    id="codec.answer-not-in-offer", category="codec", severity="major", owner="engineering",
    title="The answer chose a codec that was not offered",
    customer={
        "en": "The other side answered your call with a voice format your phone did not offer, so sound may be "
              "missing or garbled in one direction. We are correcting this on our side.",
        "ru": "Другая сторона ответила на ваш звонок форматом голоса, который ваш телефон не предлагал, поэтому "
              "звук в одну сторону может пропадать или искажаться. Мы исправляем это со своей стороны.",
    },
    engineer={
        "en": "Call {call_id}: offer (frame {offer_frame}) {offered}; answer (frame {answer_frame}) {answered}: "
              "{foreign} not in the offer, which RFC 3264 §6.1 forbids. RTP payload types on the wire: {rtp_pts}.",
        "ru": "Вызов {call_id}: предложение (кадр {offer_frame}) {offered}; ответ (кадр {answer_frame}) {answered}: "
              "{foreign} нет в предложении, что запрещено RFC 3264 §6.1. Типы нагрузки RTP: {rtp_pts}.",
    },
)
def answer_not_in_offer(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An SDP answer whose media line lists a codec the offer did not contain.

    ## Why it matters
    The offerer may not decode what it receives: one-way or garbled audio, or RTP with a payload type it drops.

    ## How to fix
    Fix the answerer (PBX/SBC codec negotiation): the answer must be a subset of the offer.

    ## References
    RFC 3264 §6.1, RFC 8866 §5.14
    """
    for call in analysis.calls:
        for n in call.negotiations:
            if not n.answer:
                continue
            for offered, answered in zip(n.offer, n.answer):
                foreign = _names(answered.codecs) - _names(offered.codecs)
                if answered.port and foreign:
                    media = analysis.media_of(call)
                    pts = sorted({pt for i in (media.streams if media else ())
                                  for pt in analysis.streams[i].stats.payload_types})
                    yield Hit(call.call_id, (n.offer_frame, n.answer_frame or n.offer_frame), {
                        "call_id": call.call_id, "offer_frame": n.offer_frame, "answer_frame": n.answer_frame,
                        "offered": ", ".join(offered.codecs), "answered": ", ".join(answered.codecs),
                        "foreign": ", ".join(sorted(foreign)), "rtp_pts": ", ".join(map(str, pts)) or "none"})
                    break
