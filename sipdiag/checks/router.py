"""Router and middlebox rules (RULES.md §3.2, §3.7): a SIP ALG, dropped fragments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..media import is_private
from . import Hit, check
from .nat import contact_host

if TYPE_CHECKING:
    from ..analysis import Analysis


@check(
    id="alg.sdp-rewritten-inconsistently", category="router", severity="major", owner="customer",
    title="A SIP ALG rewrote the addresses of the signalling but not of the SDP",
    customer={
        "en": "Your router changes the phone's call messages on the way (a feature called 'SIP ALG') and does it "
              "only halfway, which breaks the sound of calls. Please switch SIP ALG off in the router's settings "
              "and restart it.",
        "ru": "Ваш роутер изменяет служебные сообщения телефона по дороге (функция «SIP ALG») и делает это не до "
              "конца, из-за чего пропадает звук. Отключите SIP ALG в настройках роутера и перезагрузите его.",
    },
    engineer={
        "en": "Call {call_id} (frame {frame}): Contact {contact} and Via {via_host} carry the public address "
              "{source} the packet came from, while the SDP still says c= {sdp_address}: a device (no STUN) would "
              "have put its private address everywhere, so a middlebox rewrote the SIP headers but not the body - "
              "the single-capture SIP ALG fingerprint (RULES.md alg.sdp-rewritten-inconsistently).",
        "ru": "Вызов {call_id} (кадр {frame}): Contact {contact} и Via {via_host} содержат публичный адрес "
              "{source}, с которого пришёл пакет, а SDP по-прежнему указывает c= {sdp_address}: устройство без STUN "
              "указало бы свой частный адрес везде, значит промежуточное устройство переписало заголовки SIP, но не "
              "тело - признак SIP ALG по одному захвату (RULES.md alg.sdp-rewritten-inconsistently).",
    },
)
def sip_alg(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    Contact and top Via of the caller's INVITE name the public address the packet came from, while its SDP
    connection address is private: the headers were rewritten in transit, the body was not.

    ## Why it matters
    Half-rewritten messages give one-way audio and broken in-dialog routing; SIP ALGs on consumer routers are the
    most common cause of "no audio" and "calls drop after 30 s" tickets.

    ## How to fix
    Switch the router's SIP ALG (SIP helper, SIP passthrough) off; if it cannot be, move SIP to TCP/TLS or a
    non-standard port so the ALG does not see it.

    ## References
    RFC 3261 §18.2.1 (received/rport), RFC 6314, vendor guidance on disabling SIP ALG
    """
    for call in analysis.calls:
        source = call.caller_address.rsplit(":", 1)[0].strip("[]")
        host = contact_host(call.caller_contact)
        if not host or is_private(source) or host != source or call.caller_via_host != source:
            continue
        offer = next((n for n in call.negotiations if n.offerer == "caller" and n.offer), None)
        sdp = next((m.address for m in offer.offer if m.address and is_private(m.address)), None) if offer else None
        if sdp:
            yield Hit(call.call_id, (offer.offer_frame,), {
                "call_id": call.call_id, "frame": offer.offer_frame, "contact": call.caller_contact,
                "via_host": call.caller_via_host, "source": source, "sdp_address": sdp}, confidence="medium")


@check(
    id="router.udp-fragmentation", category="router", severity="major", owner="customer",
    title="Fragmented SIP over UDP never completed: fragments were dropped",
    customer={
        "en": "Some of your phone's call messages are too large to pass your router in one piece, and the pieces are "
              "being dropped, so calls fail. Please switch off SIP ALG and any 'fragment' or 'flood' protection on "
              "the router; we can also move your phone to SIP over TCP.",
        "ru": "Часть служебных сообщений телефона слишком велика, чтобы пройти через роутер целиком, и её части "
              "теряются, поэтому звонки не проходят. Отключите на роутере SIP ALG и защиту от фрагментов или "
              "«флуда»; мы также можем перевести телефон на SIP по TCP.",
    },
    engineer={
        "en": "{count} IP datagram(s) arrived only partly (first at frame {frame}: {detail}). Large SIP over UDP "
              "(RFC 3261 §18.1.1: above 1300 bytes use TCP) is fragmented and a middlebox drops the non-first "
              "fragments. Use TCP, trim the INVITE (codecs, headers), or fix the router.",
        "ru": "{count} IP-датаграмм пришли не полностью (первая в кадре {frame}: {detail}). Большой SIP по UDP "
              "(RFC 3261 §18.1.1: свыше 1300 байт - TCP) фрагментируется, и промежуточное устройство отбрасывает "
              "не первые фрагменты. Перейдите на TCP, сократите INVITE (кодеки, заголовки) или исправьте роутер.",
    },
)
def udp_fragmentation(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    IP datagrams whose fragments never all arrived at the capture point (`ip.fragments-incomplete` anomalies),
    typically large INVITEs or 200 OKs with long SDP.

    ## Why it matters
    The message is lost whole: INVITE timeouts, calls that never ring, 200 OKs retransmitted until the call drops.

    ## How to fix
    SIP over TCP (RFC 3261 §18.1.1), smaller messages, or a router that passes (or reassembles) fragments.

    ## References
    RFC 3261 §18.1.1, RFC 791 §3.2, RFC 8900
    """
    incomplete = [a for a in analysis.anomalies if a.code == "ip.fragments-incomplete"]
    if incomplete:
        frames = tuple(a.frame for a in incomplete if a.frame is not None)
        yield Hit(None, frames, {"count": len(incomplete), "frame": frames[0] if frames else "?",
                                 "detail": incomplete[0].detail})
        return
    # Captured before the dropping device (its LAN side): every fragment is here, but the fragmented request was
    # never answered. Both facts together point at the fragments, with less certainty.
    if analysis.capture.rich.get("ip-fragment", 0):
        for call in analysis.calls:
            if call.outcome == "timeout" and not any(m.status_code for m in call.messages):
                frames = tuple(m.frame for m in call.messages if m.method == "INVITE")
                yield Hit(call.call_id, frames, {
                    "count": len(frames), "frame": frames[0] if frames else "?",
                    "detail": f"the INVITE of call {call.call_id} travelled as IP fragments "
                              f"({analysis.capture.rich['ip-fragment']} fragments in the capture) and was never "
                              f"answered"}, confidence="medium")
