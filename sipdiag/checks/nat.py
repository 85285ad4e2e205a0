"""NAT traversal rules on the signalling (RULES.md §3.1): private addresses a UA advertises while its packets come
from a public one, Via and ports a NAT rewrote, responses lost without rport, stacked NATs. The media side is in
`natmedia`."""

from __future__ import annotations

import re

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import address_host, join_address, split_address
from ..media import is_loopback, is_private, is_shared_space
from ..parsers.sipuri import parse_name_addr
from ..parties import between_numbers, party_en, party_number, party_ru
from ..russian import PARTY_RU
from . import Hit, Severity, check, times_en
from .vias import received_of, rport_of, sent_by, top_via_head, via_paths

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Transaction
    from ..parsers.sip import SipMessage


# The usual Contact, `<sip:user@host:port;params>` (or without user or angle brackets), read without the full
# name-addr grammar; anything else (quoted display names with '<', IPv6, escapes) takes the parser.
_SIMPLE_CONTACT = re.compile(r"\s*<?sips?:(?:[^@<>\s\"]+@)?([A-Za-z0-9.\-]+)(?::\d+)?(?=[;>?\s]|$)")


def contact_host(contact: str | None) -> str | None:
    if not contact:
        return None
    m = _SIMPLE_CONTACT.match(contact)
    if m is not None:
        return m.group(1)
    na = parse_name_addr(contact)
    return na.uri.host if na is not None and na.uri is not None else None


@check(
    id="nat.private-contact", category="nat", severity="minor", owner="engineering",
    title={
        "en": "Contact advertises a private address from behind a NAT",
        "ru": "Устройство за NAT указывает в Contact частный адрес",
    },
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
        source = address_host(call.caller_address)
        if host and is_private(host) and not is_private(source):
            yield Hit(call.call_id, (call.first_frame,), {
                "call_id": call.call_id, "frame": call.first_frame, "source": call.caller_address,
                "contact": call.caller_contact, "contact_host": host})


@check(
    id="nat.private-sdp-address", category="nat", severity="minor", owner="engineering",
    title={
        "en": "SDP tells the other side to send media to a private address",
        "ru": "SDP просит другую сторону отправлять медиа на частный адрес",
    },
    customer={
        "en": "{phone_en} asks for the sound to be sent to its private home-network address, which the internet "
              "cannot reach. {effect_en}",
        "ru": "{phone_ru} просит присылать звук на свой внутренний адрес домашней сети, недоступный из интернета. "
              "{effect_ru}",
    },
    engineer={
        "en": "Call {call_id}: the SDP of {sender_en} (frame {frame}) has c= {address} (private), m= port {port}, "
              "while its signalling comes from public {source} (SDP in frame(s) {frames_sdp}). {effect_engineer} Fix: "
              "media latching/anchoring on the SBC (comedia, RFC 4961 symmetric RTP) or STUN/ICE on the device "
              "(RFC 8445).",
        "ru": "Вызов {call_id}: SDP {sender_ru} (кадр {frame}) указывает c= {address} (частный), порт m= {port}, "
              "а сигнализация идёт с публичного {source} (SDP в кадрах {frames_sdp}). {effect_engineer_ru} Решение: "
              "latching/якорение медиа на SBC (comedia, симметричный RTP по RFC 4961) или STUN/ICE на устройстве "
              "(RFC 8445).",
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
        # One finding per party and address: an offer resent after a 407 and every re-INVITE repeat the same c=
        # line, which is one fault of one device (its frames are listed). Keyed on the party and address.
        found: dict[tuple[str, str], list] = {}
        for n in call.negotiations:
            for role, descriptions, frame in ((n.offerer, n.offer, n.offer_frame),
                                              (n.answerer, n.answer or (), n.answer_frame)):
                role, source = sdp_sender(analysis, call, role, frame)
                for m in descriptions:
                    # A loopback c= is no NAT's doing and reaches nobody, NAT or not: media.loopback-sdp-address.
                    if not (m.address and m.port and is_private(m.address) and not is_private(address_host(source))) \
                            or is_loopback(m.address):
                        continue
                    entry = found.get((role, m.address))
                    if entry is None:
                        found[(role, m.address)] = [role, m, frame, source, [frame] if frame else []]
                    elif frame and frame not in entry[4]:
                        entry[4].append(frame)
                    break
        for role, m, frame, source, frames in found.values():
            lost = (media is not None and media.verdict.unreachable_target == join_address(m.address, m.port))
            # Latching (RFC 4961 symmetric RTP) can only be said to have worked when RTP was seen reaching that
            # party; a capture without the call's RTP (media.no-rtp) cannot tell either way.
            received = 0 if media is None or role == "other" else (
                media.verdict.packets_to_caller if role == "caller" else media.verdict.packets_to_callee)
            effect = "lost" if lost else "latched" if received else "unknown"
            phone_en, phone_ru, effect_en, effect_ru = _customer_party(call, role, effect)
            yield Hit(call.call_id, tuple(frames[:FRAMES_LISTED]) or (call.first_frame,), {
                "call_id": call.call_id, "role": role, "frame": frame,
                **sender_evidence(role, source),
                "frames_sdp": ", ".join(str(f) for f in frames[:FRAMES_LISTED]), "address": m.address,
                "port": m.port, "source": source, "rtp_to_party": received, "media": effect,
                "effect_en": effect_en, "effect_ru": effect_ru,
                "effect_engineer": _SDP_EFFECT[effect][2], "effect_engineer_ru": _SDP_EFFECT[effect][3],
            }, severity=Severity.MAJOR if lost else None,
                texts={**sender_texts(call, role, source), "phone_en": phone_en, "phone_ru": phone_ru})


FRAMES_LISTED = 20
# (customer en, customer ru, engineer en, engineer ru) per what the capture shows of the media
_SDP_EFFECT = {
    "lost": ("So you could not hear the other party.", "Поэтому вы не слышали собеседника.",
             "Media sent there was lost (see media.one-way-audio).",
             "Медиа, отправленное туда, потерялось (см. media.one-way-audio)."),
    "latched": ("Our system worked around it this time.", "В этот раз наша система это обошла.",
                "Media was latched to the observed address, so audio flowed.",
                "Медиа привязано (latching) к наблюдаемому адресу, поэтому звук прошёл."),
    "unknown": ("This can stop you from hearing the other party; we are checking it.",
                "Из-за этого вы можете не слышать собеседника; мы это проверяем.",
                "The capture shows no RTP reaching this party, so it cannot tell whether media got there.",
                "В захвате не видно RTP к этому участнику, поэтому по нему не определить, дошло ли медиа."),
}


def _customer_party(call, role: str, effect: str) -> tuple[str, str, str, str]:
    """nat.private-sdp-address's customer words (en, ru) for the phone whose SDP it is and for what that did to
    the sound. "Your phone" and "you" are the caller's (as everywhere, sipdiag.parties): the callee's SDP is the
    other party's phone, whose private address stops the other party from hearing you, and a B2BUA's other leg is a
    phone of your call. When the capture does not show who called, the phone is named by its number and the party
    it could not hear by theirs (RULES.md §6: no third party's address), and a B2BUA's other leg as a phone of the
    call between the two numbers."""
    if call.roles_known and role == "caller":
        return "Your phone", "Ваш телефон", _SDP_EFFECT[effect][0], _SDP_EFFECT[effect][1]
    if call.roles_known and role == "callee":
        me_en, me_ru, other_en, other_ru = "the other party", "собеседник", "you", "вас"
        phone_en, phone_ru = "The other party's phone", "Телефон собеседника"
    elif role == "other":
        if call.roles_known:
            phone_en, phone_ru = "A phone of your call", "Телефон в вашем звонке"
        else:
            between_en, between_ru = between_numbers(call)
            phone_en, phone_ru = f"A phone of the call {between_en}", f"Телефон в звонке {between_ru}"
        me_en, me_ru, other_en, other_ru = "it", "он", "the other party", "собеседника"
    else:
        me, other = party_number(call, role), party_number(call, "callee" if role == "caller" else "caller")
        me_en, me_ru, other_en, other_ru = f"number {me}", f"абонент {me}", f"number {other}", f"абонента {other}"
        phone_en, phone_ru = f"The phone of number {me}", f"Телефон абонента {me}"
    # Russian puts the personal pronoun object before the verb ("собеседник вас не слышал"), a noun after it
    lost_ru = f"{me_ru} {other_ru} не слышал" if other_ru == "вас" else f"{me_ru} не слышал {other_ru}"
    may_ru = f"{me_ru} может {other_ru} не слышать" if other_ru == "вас" else f"{me_ru} может не слышать {other_ru}"
    effects = {"lost": (f"So {me_en} could not hear {other_en}.", f"Поэтому {lost_ru}."),
               "latched": _SDP_EFFECT["latched"][:2],
               "unknown": (f"This can stop {me_en} from hearing {other_en}; we are checking it.",
                           f"Из-за этого {may_ru}; мы это проверяем.")}
    return phone_en, phone_ru, *effects[effect]


def sender_evidence(party: str, source: str) -> dict[str, str]:
    """The evidence's party_en and party_ru of the party sdp_sender found: its role ("caller", "вызывающего") as
    the call's data names it, or a B2BUA's other leg by its address. The texts name it with sender_texts."""
    if party == "other":
        return {"party_en": f"party at {source} on another leg of the call",
                "party_ru": f"участника с адресом {source} на другом плече вызова"}
    return {"party_en": party, "party_ru": PARTY_RU.get(party, party)}


def sender_texts(call, party: str, source: str) -> dict[str, str]:
    """The texts' name of the party sdp_sender found, {sender_en} and {sender_ru} (genitive): "the caller",
    "вызывающего"; the party by address when the capture does not show who called (sipdiag.parties); a B2BUA's
    other leg by its address. Text-only values: the evidence keeps `role` and its own party_en/party_ru."""
    if party == "other":
        return {"sender_en": f"the party at {source} on another leg of the call",
                "sender_ru": f"участника с адресом {source} на другом плече вызова"}
    return {"sender_en": party_en(call, party), "sender_ru": party_ru(call, party)}


def sdp_sender(analysis: Analysis, call, role: str, frame: int | None) -> tuple[str, str]:
    """The party (caller, callee, other) and "ip:port" that really sent the SDP of `frame`: a B2BUA or an SBC seen
    on both legs under one Call-ID sends offers and answers from its inside address too, which are not the
    caller's or callee's SDP (RFC 3264 §5: the c= line is the sender's). Falls back to the negotiation's role when
    the message is gone."""
    msg = message_at(analysis, frame)
    if msg is None:
        return role, call.caller_address if role == "caller" else call.callee_address
    sender = join_address(msg.src_ip, msg.src_port)
    if sender == call.caller_address:
        return "caller", sender
    if sender == call.callee_address:
        return "callee", sender
    return "other", sender  # a B2BUA's other leg under the same Call-ID: neither the caller nor the callee


# ------------------------------------------------------------------------------------ where requests come from
# nathelper's nat_uac_test flags 2, 4, 16 and 128 (RULES.md §3.1), read once per (source, sent-by) pair.

_WEB_TRANSPORTS = ("ws", "wss")  # RFC 7118 §5.2: the Via host of a WebSocket client is a random .invalid name


def _call_ids(analysis: Analysis) -> frozenset[str]:
    ids = analysis._memo.get("call_ids")
    if ids is None:
        ids = analysis._memo["call_ids"] = frozenset(c.call_id for c in analysis.calls)
    return ids


def same_ip(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _received_by_destination(analysis: Analysis, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], bool]:
    """For responses sent to each (ip, port) of `wanted`: did their top Via carry received= (RFC 3261 §18.2.1)?"""
    out: dict[tuple[str, int], bool] = {}
    for m in analysis.messages:
        if m.is_request or (m.dst_ip, m.dst_port) not in wanted:
            continue
        head = top_via_head(m)
        key = (m.dst_ip, m.dst_port)
        out[key] = out.get(key, False) or (head is not None and received_of(head[1]) is not None)
    return out


def _per_host(paths, received):
    """One entry per (source IP, sent-by host): a NAT that gives every REGISTER a new port is one observation.
    Yields ((first path, requests, distinct source ports), whether the server added received=)."""
    groups: dict[tuple[str, str], list] = {}
    for p in paths:
        g = groups.get((p.src_ip, p.via.host))
        answered = received.get((p.src_ip, p.src_port))
        if g is None:
            groups[(p.src_ip, p.via.host)] = [p, p.requests, {p.src_port}, answered]
        else:
            g[1] += p.requests
            g[2].add(p.src_port)
            g[3] = answered if g[3] is None else g[3] and (answered is not False)
    for p, requests, ports, answered in groups.values():
        yield (p, requests, len(ports)), answered


@check(
    id="nat.via-address-mismatch", category="nat", severity="info", owner="engineering",
    title={
        "en": "Requests name another address in their Via than the one they come from",
        "ru": "В Via запросов указан не тот адрес, с которого они приходят",
    },
    customer={
        "en": "Your phone reaches us through a router that translates its network address. This by itself is not "
              "a fault; no action is needed.",
        "ru": "Ваш телефон подключается к нам через роутер, который подменяет его сетевой адрес. Само по себе это не "
              "неисправность; ничего делать не нужно.",
    },
    engineer={
        "en": "{requests} request(s) from {source} ({source_ports} source port(s); first: frame {frame}) carry top Via "
              "sent-by {sent_by}{private_en}: "
              "there is a NAT between the UA and the capture point (nat_uac_test 2/4). Responses to them {received_en}. "
              "The edge must answer to the source address (RFC 3261 §18.2.2 received, RFC 3581 rport) and route "
              "requests to the learned binding.",
        "ru": "Запросов от {source} с адресом {sent_by}{private_ru} в верхнем Via: {requests} (портов источника: "
              "{source_ports}; первый: кадр {frame}); между UA и точкой захвата есть NAT (nat_uac_test 2/4). "
              "Ответы на эти запросы {received_ru}. "
              "Граница сети должна отвечать на адрес источника (RFC 3261 §18.2.2 received, RFC 3581 rport) и "
              "направлять запросы на выученную привязку.",
    },
)
def via_address_mismatch(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    Requests whose top Via sent-by host is an IP address other than the packet's source address, in particular a
    private one arriving from a public address (Kamailio nat_uac_test flags 2 and 4). Reported once per source
    and sent-by; FQDN sent-by values are not resolved and are skipped, as are WebSocket clients.

    ## Why it matters
    It shows a NAT between the device and the capture point: an observation the causes (lost responses, missed
    inbound calls, one-way audio) are explained with, not a fault by itself. It also says whether the server
    added `received=` to its responses, as RFC 3261 §18.2.1 requires in that case.

    ## How to fix
    Nothing by itself. The edge must send responses to the source (received/rport) and requests to the binding
    it learned; a server that omits `received=` needs fixing.

    ## References
    RFC 3261 §18.2.1, §18.2.2; RFC 3581; Kamailio nathelper nat_uac_test (flags 2, 4); RULES.md §0.4
    """
    # Loopback and link-local addresses on either side (a replay on lo, a UA bound to 127.0.0.1) never cross a
    # NAT (RFC 1122 §3.2.1.3, RFC 3927 §2.6.2): a sent-by that differs from such a source is a test rig or a
    # multi-homed host, not address translation.
    found = [p for p in via_paths(analysis)
             if p.transport not in _WEB_TRANSPORTS and p.via.is_ip and not same_ip(p.via.host, p.src_ip)
             and not _local(p.src_ip) and not _local(p.via.host)]
    if not found:
        return
    received = _received_by_destination(analysis, {(p.src_ip, p.src_port) for p in found})
    calls = _call_ids(analysis)
    for (p, requests, ports), answered in _per_host(found, received):
        private = is_private(p.via.host) and not is_private(p.src_ip)
        yield Hit(p.call_id if p.call_id in calls else None, p.frames, {
            "source": p.source, "sent_by": p.via.text, "requests": requests, "frame": p.first_frame,
            "source_ports": ports,
            "private_via": "yes" if is_private(p.via.host) else "no",
            "private_en": " (a private address)" if private else "",
            "private_ru": " (частный адрес)" if private else "",
            "server_received": {True: "added", False: "missing", None: "no response seen"}[answered],
            "received_en": {True: "carry received= as they should", False: "lack received= (RFC 3261 §18.2.1 "
                            "requires it: a server defect)", None: "were not seen"}[answered],
            "received_ru": {True: "содержат received=, как положено", False: "не содержат received= (этого "
                            "требует RFC 3261 §18.2.1: дефект сервера)", None: "в захвате не видны"}[answered],
        }, confidence="high" if private else "medium")


@check(
    id="nat.port-translated", category="nat", severity="info", owner="engineering",
    title={
        "en": "A NAT changes the port the device sends SIP from",
        "ru": "NAT меняет порт, с которого устройство отправляет SIP",
    },
    customer={
        "en": "Your router changes the network port your phone uses to reach us. This is normal for home routers; "
              "no action is needed.",
        "ru": "Ваш роутер меняет сетевой порт, через который телефон обращается к нам. Для домашних роутеров это "
              "нормально; ничего делать не нужно.",
    },
    engineer={
        "en": "{requests} UDP request(s) from {source} (first: frame {frame}) name port {declared_port} in their "
              "{field}, but leave the NAT from port {source_port}; the UA {rport_en} rport. Responses must go to the "
              "source port (RFC 3581), requests to the NAT binding, and the binding needs keepalives "
              "(router.nat-binding-timeout).",
        "ru": "UDP-запросов с {source}, указывающих порт {declared_port} в {field_ru}, но выходящих из NAT с порта "
              "{source_port}: {requests} (первый: кадр {frame}); UA {rport_ru} rport. Ответы должны идти на порт "
              "источника (RFC 3581), запросы - на привязку NAT, а привязке нужны keepalive "
              "(router.nat-binding-timeout).",
    },
)
def port_translated(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    SIP over UDP whose source port differs from the top Via sent-by port (5060 when absent; nat_uac_test flag 16),
    or, with less weight, from the Contact port (flag 128, which can be legitimate without NAT). TCP/TLS are left
    out: their source port is ephemeral by design.

    ## Why it matters
    A port-translating NAT (NAPT) is in the path: responses sent to the Via port and requests sent to the Contact
    port are lost unless the server uses the observed port (rport) and the binding is kept open.

    ## How to fix
    Nothing by itself; make sure rport is used (phone setting or force_rport on the edge) and keepalives are on.

    ## References
    RFC 3581; RFC 4787 §4.1; Kamailio nathelper nat_uac_test (flags 16, 128)
    """
    calls = _call_ids(analysis)
    seen: set[str] = set()
    for p in via_paths(analysis):
        # Only a request the UA sent itself says which port it sent from: with one Via the sent-by is the UA's
        # own (RFC 3261 §18.2.1, RFC 3581 §4 compare it with the source port). A proxied request (more Vias)
        # carries the originator's Contact, whose port is another host's, and loopback replays cross no NAT.
        if p.transport != "udp" or p.src_ip in seen or p.hops != 1 or _local(p.src_ip) \
                or (p.via.is_ip and _local(p.via.host)):
            continue
        if p.via.effective_port != p.src_port:
            field, declared, confidence = "top Via", p.via.effective_port, "medium"
        elif p.contact_port is not None and p.contact_port != p.src_port and p.contact_host \
                and (same_ip(p.contact_host, p.src_ip) or same_ip(p.contact_host, p.via.host)):
            # flag 128: the Contact names the UA itself (the source address, or the sent-by it knows itself
            # by) with another port than the packet left the NAT from. A Contact naming another host is not
            # the sender's port at all (a B2BUA or proxy forwarding it unchanged): no evidence.
            field, declared, confidence = "Contact", p.contact_port, "low"
        else:
            continue
        seen.add(p.src_ip)  # once per NAT: its other ports say the same
        yield Hit(p.call_id if p.call_id in calls else None, p.frames, {
            "source": p.source, "source_port": p.src_port, "declared_port": declared, "field": field,
            "field_ru": "верхнем Via" if field == "top Via" else "Contact",
            "requests": p.requests, "frame": p.first_frame, "rport": "yes" if p.rport else "no",
            "rport_en": "asked for" if p.rport else "did not ask for",
            "rport_ru": "запросил" if p.rport else "не запросил",
        }, confidence=confidence)


def all_transactions(analysis: Analysis) -> Iterator[Transaction]:
    """Every transaction of the capture: of its calls, its registrations and the stand-alone ones."""
    for c in analysis.calls:
        yield from c.transactions
    for r in analysis.registrations:
        yield from r.transactions
    yield from analysis.transactions


def message_at(analysis: Analysis, frame: int | None) -> SipMessage | None:
    """The full message of a frame, when it is among the messages kept (Analysis.messages, frame order)."""
    if frame is None:
        return None
    # By frame, built once per run (Analysis._memo): messages cut out of TCP streams are handed on when their stream
    # ends, out of frame order, and a frame beyond the messages kept was looked for message by message, per call
    # (0.46 s of a 2000-call capture's rules).
    by_frame = analysis._memo.get("messages_by_frame")
    if by_frame is None:
        by_frame = analysis._memo["messages_by_frame"] = {m.frame: m for m in reversed(analysis.messages)}  # the first
    return by_frame.get(frame)


# A request retransmitted this often although its responses left the server (RULES.md: >= 3 retransmissions).
RPORT_MIN_RETRANSMISSIONS = 3


@check(
    id="nat.no-rport-response-lost", category="nat", severity="major", owner="first-line",
    title={
        "en": "Responses go to the Via port behind the NAT and never reach the phone",
        "ru": "Ответы уходят на порт из Via за NAT и не доходят до телефона",
    },
    customer={
        "en": "Our replies to your phone are lost on the way back through your router, so {effect_en}. We are "
              "changing a setting of your phone so that replies take the same path its requests use; please "
              "restart the phone when we ask you to.",
        "ru": "Наши ответы вашему телефону теряются на обратном пути через роутер, поэтому {effect_ru}. Мы меняем "
              "настройку телефона, чтобы ответы шли тем же путём, что и его запросы; перезагрузите телефон, когда "
              "мы попросим.",
    },
    engineer={
        "en": "{method} (frame {frame}) from {source} with top Via {sent_by} ({rport_en}) was sent "
              "{sends_en}; the server answered {statuses} (first at frame {response_frame}) to {response_target}, "
              "not to the source port, so the UA never got them. {why_en} Enable rport (\"NAT traversal\") on the "
              "UA or force it on the edge (Asterisk force_rport, FreeSWITCH NDLB-force-rport, Kamailio "
              "force_rport()).",
        "ru": "{method} (кадр {frame}) с {source} с верхним Via {sent_by} ({rport_ru}) отправлен {sends} раз; "
              "сервер ответил {statuses} (первый ответ в кадре {response_frame}) на {response_target}, а не на порт "
              "источника, и UA их не получил. {why_ru} Включите rport («NAT traversal») на UA или принудительно на "
              "границе (Asterisk force_rport, FreeSWITCH NDLB-force-rport, Kamailio force_rport()).",
    },
)
def no_rport_response_lost(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A UDP request retransmitted at least three times while the server's responses to it (same branch) left for
    the right IP address but another port than the request came from: without `rport` the server answers to the
    Via port (RFC 3261 §18.2.2), which the NAT has no binding for. Also when `rport` was asked for and the
    server still did not answer to the source port (it ignores RFC 3581 §4). Needs both directions at the
    server's side of the NAT.

    ## Why it matters
    The phone never sees any response: REGISTER never succeeds (critical), INVITEs time out (major).

    ## How to fix
    Turn on rport / "NAT traversal" on the phone, or force rport on the edge for everyone (Asterisk
    `force_rport=yes`, FreeSWITCH `NDLB-force-rport`, Kamailio `force_rport()`).

    ## References
    RFC 3581 §3, §4; RFC 3261 §18.2.2; RULES.md §0.5 (Timer A/E)
    """
    lost: list[Transaction] = []
    orphans: dict[tuple[str | None, str], list[Transaction]] = {}
    for tx in all_transactions(analysis):
        if tx.request_frame is None:
            if tx.responses and tx.branch:
                orphans.setdefault((tx.branch, tx.method), []).append(tx)
        elif not tx.responses and tx.request_retransmissions >= RPORT_MIN_RETRANSMISSIONS and tx.branch:
            lost.append(tx)
    calls = _call_ids(analysis)
    for tx in lost:
        src_ip, src_port = split_address(tx.src)
        for answer in orphans.get((tx.branch, tx.method), ()):
            dst_ip, dst_port = split_address(answer.src)  # a response-only transaction's src is where responses went
            msg = message_at(analysis, tx.request_frame)
            head = top_via_head(msg) if msg is not None else None
            via = sent_by(head[0]) if head else None
            if via is None or msg is None or msg.transport != "udp" or dst_port == src_port:
                continue
            received = received_of(head[1])
            if not (same_ip(dst_ip, src_ip) or (received and same_ip(dst_ip, received))):
                continue
            rport = rport_of(head[1]) is not None
            if not rport and via.effective_port == src_port:
                continue  # port-preserving NAT: the Via port is the source port, nothing is lost
            register = tx.method == "REGISTER"
            yield Hit(tx.call_id if tx.call_id in calls else None, (tx.request_frame, answer.responses[0][1]), {
                "method": tx.method, "frame": tx.request_frame, "source": tx.src, "sent_by": via.text,
                "rport": "yes" if rport else "no", "sends": tx.request_retransmissions + 1,
                "sends_en": times_en(tx.request_retransmissions + 1),
                "statuses": ", ".join(str(code) for code, _f, _t in answer.responses),
                "response_frame": answer.responses[0][1], "response_target": answer.src,
                "rport_en": "rport asked for" if rport else "no rport",
                "rport_ru": "rport запрошен" if rport else "без rport",
                "why_en": "The server ignores the rport the UA asked for (RFC 3581 §4)." if rport else
                          "Without rport the server answers to the Via port (RFC 3261 §18.2.2), which has no NAT "
                          "binding.",
                "why_ru": "Сервер игнорирует rport, запрошенный UA (RFC 3581 §4)." if rport else
                          "Без rport сервер отвечает на порт из Via (RFC 3261 §18.2.2), для которого в NAT нет "
                          "привязки.",
                "effect_en": "the phone cannot register" if register else "your calls cannot be set up",
                "effect_ru": "телефон не может зарегистрироваться" if register else "звонки не устанавливаются",
            }, severity=Severity.CRITICAL if register else None)
            break


def _local(ip: str) -> bool:
    """Loopback and link-local: a test rig or the host itself, never a NAT's outside."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return True
    return addr.is_loopback or addr.is_link_local


def _other_network(outside: str, inside: str) -> bool:
    """A NAT joins two networks: its outside address is not in the inside /24 (IPv4; NAT66 is left out)."""
    try:
        a, b = ipaddress.ip_address(outside), ipaddress.ip_address(inside)
    except ValueError:
        return False
    return a.version == b.version == 4 and ipaddress.ip_network(f"{inside}/24", strict=False) != \
        ipaddress.ip_network(f"{outside}/24", strict=False)


def _second_nat(analysis: Analysis, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], tuple[str, str]]:
    """For each private (ip, port) of `wanted`, the first sign that another NAT lies beyond the capture point, as
    (kind, public address): a response's top Via received= naming a public address (the server saw the request
    arrive from there, RFC 3261 §18.2.1), else a public address its requests went to or its responses came from
    (a private source reaches a public host only through a NAT). Neither: the peer is inside the same private
    network, and the one translation seen is all there is (an enterprise NAT, a VPN concentrator)."""
    received: dict[tuple[str, int], str] = {}
    peer: dict[tuple[str, int], str] = {}
    for m in analysis.messages:
        if m.is_request:
            key, other = (m.src_ip, m.src_port), m.dst_ip
        else:
            key, other = (m.dst_ip, m.dst_port), m.src_ip
            head = top_via_head(m) if key in wanted and key not in received else None
            addr = received_of(head[1]) if head is not None else None
            if addr is not None and not is_private(addr) and not _local(addr):
                received[key] = addr
        if key in wanted and key not in peer and not is_private(other) and not _local(other):
            peer[key] = other
    out = {key: ("peer", addr) for key, addr in peer.items()}
    out.update((key, ("received", addr)) for key, addr in received.items())
    return out


@check(
    id="nat.cgnat-or-double-nat", category="nat", severity="minor", owner="customer",
    title={
        "en": "Carrier-grade or double NAT between the device and us",
        "ru": "Операторский (CGNAT) или двойной NAT между устройством и нами",
    },
    customer={
        "en": "Your connection passes through {kind_customer_en}, which makes incoming calls less reliable. If you "
              "have two routers, set the provider's modem to 'bridge mode'; otherwise ask your internet provider "
              "for a public address.",
        "ru": "Ваше подключение проходит через {kind_customer_ru}, из-за чего входящие звонки менее надёжны. Если у "
              "вас два роутера, переведите модем провайдера в режим «мост»; иначе попросите у провайдера "
              "публичный адрес.",
    },
    engineer={
        "en": "{kind_en}: requests from {source} (frame {frame}) carry {inner} in their {field}. {detail_en} Timeouts "
              "of stacked NATs compound (the shortest wins) and inbound pinholes are impossible: keep outbound flows "
              "alive (UDP keepalive <= 20 s) or use SIP over TCP/TLS with RFC 5626 keepalives (RFC 6598, RFC 6888).",
        "ru": "{kind_ru}: запросы с {source} (кадр {frame}) содержат {inner} в {field_ru}. {detail_ru} Таймауты "
              "последовательных NAT складываются (побеждает кратчайший), входящие «дыры» невозможны: держите "
              "исходящие потоки живыми (UDP keepalive <= 20 с) или используйте SIP по TCP/TLS с keepalive по "
              "RFC 5626 (RFC 6598, RFC 6888).",
    },
)
def cgnat_or_double_nat(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    Two NATs in the path, from what the requests say about themselves: the source seen at the capture point is
    in 100.64.0.0/10 (the CPE's WAN address is carrier-grade NAT space) or is itself private while the Via/Contact
    name another private address (a second router behind the first); or the Via/Contact name a 100.64.0.0/10
    address while the packet arrives from a public one (an integrated router/ATA reporting its shared WAN
    address). Once per source address; only requests with one Via whose Contact agrees with it (straight from
    the device), and for double NAT only when the two private addresses lie in different /24 networks (same
    network: a multi-homed host) and something shows a second NAT beyond the capture point: the requests go to,
    or the responses come from, a public address, or the server's Via received= names one. A private source
    talking to a private server shows one translation inside one network (an enterprise NAT, a VPN concentrator
    such as an OpenVPN server's 10.8.0.1), not two. A 100.64.0.0/10 source talking to a 100.64.0.0/10 server is
    an overlay VPN (Tailscale) or a network numbered in shared space, not carrier-grade NAT: not reported.

    ## Why it matters
    Stacked NATs compound binding timeouts, forbid port forwarding and break hairpinning: inbound calls are missed
    and registrations lapse more easily.

    ## How to fix
    Put the provider's modem in bridge mode or remove the second router; ask the ISP for a public IPv4 address or
    IPv6; otherwise short keepalives or SIP over TCP/TLS with RFC 5626 outbound.

    ## References
    RFC 6598; RFC 6888; RFC 4787 REQ-5; Kamailio nat_addr_mode (100.64.0.0/10); RULES.md §0.4 (CGNAT-or-overlay)
    """
    seen: set[str] = set()
    calls = _call_ids(analysis)
    beyond: dict[tuple[str, int], tuple[str, str]] | None = None
    for p in via_paths(analysis):
        # Only requests straight from the device (one Via) whose Contact agrees with its Via: a proxy's requests
        # carry the originator's Contact, and a device naming two addresses is multi-homed, not behind two NATs.
        if p.src_ip in seen or p.transport in _WEB_TRANSPORTS or p.hops != 1 or not p.via.is_ip \
                or (p.contact_host and not same_ip(p.contact_host, p.via.host)) or _local(p.src_ip):
            continue
        for field, field_ru, inner in (("top Via", "верхнем Via", p.via.host),):
            # A loopback or link-local sent-by (a test rig, a replay, a UA bound to 127.0.0.1) is no address a NAT
            # translated from: RFC 3261 §18.2.1 compares sent-by with the source only to add received=, and a
            # loopback address never leaves its host (RFC 1122 §3.2.1.3), so it says nothing about NAT.
            if same_ip(inner, p.src_ip) or _local(inner):
                continue
            if is_shared_space(p.src_ip) and is_shared_space(p.dst_ip):
                # Both ends in shared space: a carrier-grade NAT translates towards the Internet, so two 100.64/10
                # hosts talking directly are an overlay VPN (Tailscale numbers its nodes there, and a subnet router
                # masquerades the LAN behind it: one NAT) or an operator's own network numbered in that space, not
                # CGNAT (RULES.md §0.4 and the rule's FP pitfalls).
                continue
            if is_shared_space(p.src_ip):
                kind = "cgnat"
            elif is_private(p.src_ip) and is_private(inner) and _other_network(p.src_ip, inner):
                # One translation (inner -> source) is seen; a second one needs a public host beyond the capture
                # point. A private peer means one NAT (or a VPN concentrator) inside one network.
                if beyond is None:
                    beyond = _second_nat(analysis, {(q.src_ip, q.src_port) for q in via_paths(analysis)
                                                    if is_private(q.src_ip)})
                if (p.src_ip, p.src_port) not in beyond:
                    continue
                kind = "double-nat"
            elif is_shared_space(inner) and not is_private(p.src_ip):
                kind = "cgnat"
            else:
                continue
            seen.add(p.src_ip)
            cgnat = kind == "cgnat"
            # Double NAT stays low: the private Via in another /24 may also be a multi-homed device (a VPN and a LAN
            # interface) that names the address it did not send from, behind a single NAT.
            second = beyond.get((p.src_ip, p.src_port)) if beyond is not None and not cgnat else None
            yield Hit(p.call_id if p.call_id in calls else None, p.frames, {
                "kind": kind, "source": p.source, "inner": inner, "field": field, "field_ru": field_ru,
                "frame": p.first_frame,
                "kind_en": "Carrier-grade NAT (or a 100.64/10 overlay VPN)" if cgnat else "Double NAT",
                "kind_ru": "NAT оператора (CGNAT, или оверлейная VPN в 100.64/10)" if cgnat else "Двойной NAT",
                "kind_customer_en": "your provider's shared address" if cgnat else "two address-translating routers",
                "kind_customer_ru": "общий адрес провайдера" if cgnat else "два роутера, подменяющих адреса",
                "detail_en": (f"{p.src_ip if is_shared_space(p.src_ip) else inner} is in 100.64.0.0/10 (RFC 6598 "
                              "shared space): the router's WAN side is itself behind the provider's NAT.") if cgnat else
                             (f"The packet's source {p.src_ip} is private too, and {_beyond_en(second)}, so "
                              f"the capture is between two NATs: the inner one translated {inner} to {p.src_ip}."),
                "detail_ru": (f"{p.src_ip if is_shared_space(p.src_ip) else inner} входит в 100.64.0.0/10 (общее "
                              "пространство RFC 6598): WAN роутера сам находится за NAT провайдера.") if cgnat else
                             (f"Источник пакета {p.src_ip} тоже частный, а {_beyond_ru(second)}, значит "
                              f"захват сделан между двумя NAT: внутренний транслировал {inner} в {p.src_ip}."),
                # what shows the NAT beyond the capture point: received (the server's received=) or peer
                "second_nat": second[0] if second else None, "public_address": second[1] if second else None,
            }, confidence="medium" if cgnat else "low")
            break


def _beyond_en(second: tuple[str, str]) -> str:
    kind, addr = second
    return (f"the server saw its requests arrive from the public address {addr} (Via received=)" if kind == "received"
            else f"it talks to the public address {addr}, which a private source reaches only through a NAT")


def _beyond_ru(second: tuple[str, str]) -> str:
    kind, addr = second
    return (f"сервер видел его запросы приходящими с публичного адреса {addr} (Via received=)" if kind == "received"
            else f"он обменивается с публичным адресом {addr}, до которого частный адрес доходит только через NAT")
