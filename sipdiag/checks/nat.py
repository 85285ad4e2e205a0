"""NAT traversal rules (RULES.md §3.1): private addresses a UA advertises while its packets come from a public one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..media import is_private
from ..parsers.sipuri import parse_name_addr
from . import Hit, Severity, check

if TYPE_CHECKING:
    from ..analysis import Analysis


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0].strip("[]")


def contact_host(contact: str | None) -> str | None:
    na = parse_name_addr(contact) if contact else None
    return na.uri.host if na is not None and na.uri is not None else None


@check(
    id="nat.private-contact", category="nat", severity="minor", owner="engineering",
    title="Contact advertises a private address from behind a NAT",
    customer={
        "en": "Your phone announces its private home-network address to us, so calls to you may not reach it. We "
              "are adjusting this on our side; no action is needed from you for now.",
        "ru": "Ваш телефон сообщает нам свой внутренний адрес домашней сети, поэтому входящие звонки могут до него "
              "не доходить. Мы исправляем это со своей стороны; от вас пока ничего не требуется.",
    },
    engineer={
        "en": "Call {call_id}: INVITE (frame {frame}) from public {source} carries Contact {contact} (private "
              "{contact_host}); in-dialog requests sent to it cannot arrive (RFC 3261 §12.2.1.1). Enable NAT "
              "traversal on the SBC (contact aliasing/fix_nated_contact, RFC 3581 rport, RFC 5626 outbound).",
        "ru": "Вызов {call_id}: INVITE (кадр {frame}) с публичного {source} содержит Contact {contact} (частный "
              "{contact_host}); запросы внутри диалога по нему не дойдут (RFC 3261 §12.2.1.1). Включите обход NAT "
              "на SBC (подмена Contact, rport по RFC 3581, outbound по RFC 5626).",
    },
)
def private_contact(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An INVITE whose Contact names a private (RFC 1918/6598) host while the packet came from a public address: the
    caller is behind a NAT and does not know it (no STUN, no outbound).

    ## Why it matters
    The callee's in-dialog requests (ACK, BYE, re-INVITE) and later inbound calls go to the Contact and are lost
    unless the SBC replaces it with the observed address.

    ## How to fix
    Contact handling on the SBC/registrar (alias the observed address), or STUN/outbound on the device.

    ## References
    RFC 3261 §12.2.1.1, RFC 3581, RFC 5626, RULES.md §0.4
    """
    for call in analysis.calls:
        host = contact_host(call.caller_contact)
        source = _host(call.caller_address)
        if host and is_private(host) and not is_private(source):
            yield Hit(call.call_id, (call.first_frame,), {
                "call_id": call.call_id, "frame": call.first_frame, "source": call.caller_address,
                "contact": call.caller_contact, "contact_host": host})


@check(
    id="nat.private-sdp-address", category="nat", severity="minor", owner="engineering",
    title="SDP tells the other side to send media to a private address",
    customer={
        "en": "Your phone asks for the sound to be sent to its private home-network address, which the internet "
              "cannot reach. {effect_en}",
        "ru": "Ваш телефон просит присылать звук на свой внутренний адрес домашней сети, недоступный из интернета. "
              "{effect_ru}",
    },
    engineer={
        "en": "Call {call_id}: the {role}'s SDP (frame {frame}) has c= {address}:{port} (private) while its signalling "
              "comes from public {source}. {effect_engineer} Fix: media latching/anchoring on the SBC (comedia, "
              "RFC 4961 symmetric RTP) or STUN/ICE on the device (RFC 8445).",
        "ru": "Вызов {call_id}: SDP стороны {role} (кадр {frame}) указывает c= {address}:{port} (частный), а "
              "сигнализация идёт с публичного {source}. {effect_engineer} Решение: latching/якорение медиа на SBC "
              "(comedia, симметричный RTP по RFC 4961) или STUN/ICE на устройстве (RFC 8445).",
    },
)
def private_sdp_address(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An offer or answer whose c= address is private while the party's SIP comes from a public address.

    ## Why it matters
    The far end sends RTP to an unroutable address: one-way or no audio, unless a media relay latches onto the
    address the RTP really comes from (then it works, and the finding is minor).

    ## How to fix
    Symmetric RTP/latching on the SBC or media relay; STUN/ICE or a correct public address on the device; switch off
    a SIP ALG that rewrites only part of the message.

    ## References
    RFC 1918, RFC 6598, RFC 3264, RFC 4961, RFC 8445
    """
    for call in analysis.calls:
        media = analysis.media_of(call)
        for n in call.negotiations:
            answerer = "callee" if n.offerer == "caller" else "caller"
            for role, descriptions, frame in ((n.offerer, n.offer, n.offer_frame),
                                              (answerer, n.answer or (), n.answer_frame)):
                source = _host(call.caller_address if role == "caller" else call.callee_address)
                for m in descriptions:
                    if not (m.address and m.port and is_private(m.address) and not is_private(source)):
                        continue
                    lost = (media is not None and media.verdict.unreachable_target == f"{m.address}:{m.port}")
                    yield Hit(call.call_id, (frame,) if frame else (call.first_frame,), {
                        "call_id": call.call_id, "role": role, "frame": frame, "address": m.address, "port": m.port,
                        "source": call.caller_address if role == "caller" else call.callee_address,
                        "effect_en": "So you could not hear the other party." if lost else
                                     "Our system worked around it this time.",
                        "effect_ru": "Поэтому вы не слышали собеседника." if lost else
                                     "В этот раз наша система это обошла.",
                        "effect_engineer": "Media sent there was lost (see media.one-way-audio)." if lost else
                                           "Media was latched to the observed address, so audio flowed.",
                    }, severity=Severity.MAJOR if lost else None)
                    break
