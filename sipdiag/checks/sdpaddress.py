"""SDP media address rule: an offer or answer that asks for media at a loopback address (127.0.0.0/8, ::1).

A c= line tells the other side where to send media (RFC 4566 §5.7, RFC 3264 §6). A loopback address exists only
inside the host that wrote it (RFC 1122 §3.2.1.3: it "MUST NOT appear outside a host"; RFC 4291 §2.5.3 for ::1), so
a peer on another host can never deliver RTP to it. The usual causes are a device whose own host name resolves to
127.0.0.1, a media service bound to localhost, or an external media address left empty on a PBX. 0.0.0.0 (and ::)
is not this fault: it is the RFC 2543 way to put a stream on hold (RFC 3264 §8.4).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import join_address
from ..media import HOLD_ADDRESSES, RECEIVES, is_loopback
from . import Hit, Severity, check
from .nat import FRAMES_LISTED, message_at, sdp_sender, sender_evidence, sender_texts

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call, MediaDescription, Negotiation


@check(
    id="media.loopback-sdp-address", category="media", severity="major", owner="first-line",
    title={
        "en": "SDP tells the other side to send media to a loopback address",
        "ru": "SDP просит другую сторону отправлять медиа на адрес loopback",
    },
    customer={
        "en": "A phone or phone system in your call asks for the sound to be sent to an address that exists only "
              "inside that device itself ('localhost'), which no other device can reach. {effect_en} Its network "
              "settings need correcting; we will tell you which setting if it is your equipment.",
        "ru": "Телефон или АТС в вашем звонке просит присылать звук на адрес, который существует только внутри "
              "самого этого устройства («localhost») и недоступен никакому другому устройству. {effect_ru} Его "
              "сетевые настройки нужно исправить; если это ваше оборудование, мы подскажем, какую настройку.",
    },
    engineer={
        "en": "Call {call_id}: the SDP of {sender_en} (frame {frame}) has c= {address} for m={media} port {port}: "
              "a loopback address, which never leaves its host (RFC 1122 §3.2.1.3), while {why_en} (SDP in "
              "frame(s) {frames_sdp}). {effect_engineer} The c= line must name an address the peer can send to "
              "(RFC 4566 §5.7, RFC 3264 §6): fix the device's media (RTP) address (a host name resolving to "
              "127.0.0.1, a media service bound to localhost, an empty external media address on a PBX), or anchor "
              "the media on the SBC.",
        "ru": "Вызов {call_id}: SDP {sender_ru} (кадр {frame}) указывает c= {address} для m={media}, порт {port}: это "
              "адрес loopback, который не покидает свой узел (RFC 1122 §3.2.1.3), а {why_ru} (SDP в кадрах "
              "{frames_sdp}). {effect_engineer_ru} Строка c= должна называть адрес, на который другая сторона может "
              "слать медиа (RFC 4566 §5.7, RFC 3264 §6): исправьте медиа-адрес (RTP) устройства (имя узла, "
              "указывающее на 127.0.0.1, медиасервис, привязанный к localhost, пустой внешний медиа-адрес на АТС) "
              "или включите якорение медиа на SBC.",
    },
)
def loopback_sdp_address(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An offer or answer whose c= address for a stream it receives on (port not 0, not sendonly or inactive) is a
    loopback address (127.0.0.0/8, ::1), while the call is not confined to one host: the SIP message carrying it
    came from or went to another address (high confidence), or the other side announced its own media at a network
    address (medium confidence: both parties may still run on one host). A test rig whose SIP and media all stay on
    127.0.0.1 is not reported, nor a call whose SIP stays on loopback while its RTP goes from a host to itself (both
    parties on one host). c=0.0.0.0 is a hold (RFC 3264 §8.4), not this fault.

    ## Why it matters
    The other side sends its RTP to an address that exists only inside its own host: the party that wrote it hears
    nothing (one-way or no audio), unless a media relay latches onto the address its RTP really comes from (then
    the finding is minor).

    ## How to fix
    Give the device (phone, PBX, media server) its real media address: the host name it announces must not resolve
    to 127.0.0.1, its RTP service must not be bound to localhost, and a PBX behind a NAT needs its external media
    address set. Or anchor the media on the SBC.

    ## References
    RFC 1122 §3.2.1.3, RFC 4291 §2.5.3, RFC 4566 §5.7, RFC 3264 §6, §8.4
    """
    for call in analysis.calls:
        # One finding per party and address: a re-INVITE repeats the same c= line, one fault of one device.
        found: dict[tuple[str, str], dict] = {}
        for n in call.negotiations:
            for role, frame, m, peer in _receiving_sides(n):
                if m.address is None or not is_loopback(m.address):
                    continue
                why = _not_one_host(analysis, call, frame, peer)
                if why is None:
                    continue
                party, source = sdp_sender(analysis, call, role, frame)
                entry = found.get((party, m.address))
                if entry is None:
                    found[(party, m.address)] = {"party": party, "source": source, "m": m, "frame": frame,
                                                 "why": why, "frames": [frame] if frame else []}
                elif frame and frame not in entry["frames"]:
                    entry["frames"].append(frame)
        for e in found.values():
            yield _hit(analysis, call, e)


def _receiving_sides(n: Negotiation) -> Iterator[tuple[str, int | None, MediaDescription, MediaDescription | None]]:
    """(role, frame, m= line, the other side's m= line at the same position) of every stream of an offer/answer that
    its writer receives on: RFC 3264 §6 answers m= lines one for one, in the offer's order."""
    answer = n.answer or ()
    for i, m in enumerate(n.offer):
        if m.port and m.direction in RECEIVES:
            yield n.offerer, n.offer_frame, m, answer[i] if i < len(answer) else None
    for i, m in enumerate(answer):
        if m.port and m.direction in RECEIVES:
            yield n.answerer, n.answer_frame, m, n.offer[i] if i < len(n.offer) else None


def _not_one_host(analysis: Analysis, call: Call, frame: int | None, peer: MediaDescription | None
                  ) -> tuple[str, ...] | None:
    """Why a loopback c= cannot be reached by the peer: ("sip", src, dst) when the message that carried it crossed
    the network, ("peer", address) when the peer announced its own media at a network address; None when all
    stays on one host as far as the capture shows (a test rig on 127.0.0.1, or SIP on loopback and the call's RTP
    sent by a host to itself)."""
    msg = message_at(analysis, frame)
    if msg is not None and not (is_loopback(msg.src_ip) and is_loopback(msg.dst_ip)):
        return ("sip", join_address(msg.src_ip, msg.src_port), join_address(msg.dst_ip, msg.dst_port))
    if peer is not None and peer.port and peer.address and peer.address not in HOLD_ADDRESSES \
            and not is_loopback(peer.address) and not _to_itself(analysis, call):
        return ("peer", join_address(peer.address, peer.port))
    return None


def _to_itself(analysis: Analysis, call: Call) -> bool:
    """Some RTP of the call went from an address to the same address: both parties run on one host (the SIP
    already stays on loopback here), where a loopback c= is reachable."""
    media = analysis.media_of(call)
    return media is not None and any(analysis.streams[i].stats.src_ip == analysis.streams[i].stats.dst_ip
                                     for i in media.streams)


def _hit(analysis: Analysis, call: Call, e: dict) -> Hit:
    m, party, why = e["m"], e["party"], e["why"]
    media = analysis.media_of(call)
    # Audio seen reaching that party: a relay latched onto its real address, or both ends share one host.
    received = 0 if media is None or party == "other" else (
        media.verdict.packets_to_caller if party == "caller" else media.verdict.packets_to_callee)
    unanswered = media is None or media.verdict.verdict == "not-answered"
    effect = _EFFECT["unanswered" if unanswered else "reached" if received else "lost"]
    if why[0] == "sip":
        why_en, why_ru = f"its SIP went from {why[1]} to {why[2]}", f"его SIP шёл с {why[1]} на {why[2]}"
    else:
        why_en = f"the other side announced its media at {why[1]}, a network address"
        why_ru = f"другая сторона объявила своё медиа на сетевом адресе {why[1]}"
    frames = e["frames"][:FRAMES_LISTED]
    return Hit(call.call_id, tuple(frames) or (call.first_frame,), {
        "call_id": call.call_id, "role": party, "frame": e["frame"],
        **sender_evidence(party, e["source"]),
        "frames_sdp": ", ".join(map(str, frames)), "address": m.address, "media": m.media, "port": m.port,
        "why_en": why_en, "why_ru": why_ru, "rtp_to_party": received,
        "effect_en": effect[0], "effect_ru": effect[1], "effect_engineer": effect[2].format(received=received),
        "effect_engineer_ru": effect[3].format(received=received),
    }, severity=Severity.MINOR if received else None, confidence="high" if why[0] == "sip" else "medium",
        texts=sender_texts(call, party, e["source"]))


# (customer en, customer ru, engineer en, engineer ru) per what the capture shows of the audio to that party
_EFFECT = {
    "lost": ("So the sound sent to it could not arrive.", "Поэтому звук, отправленный ему, не мог дойти.",
             "No audio reached this party at this capture point (see media.no-rtp / media.one-way-audio).",
             "Звук к этому участнику в точке захвата не виден (см. media.no-rtp / media.one-way-audio)."),
    "unanswered": ("The call was not answered, so no sound was lost this time, but it will be on answered calls.",
                   "Звонок не был отвечен, поэтому в этот раз звук не потерялся, но в отвеченных звонках он "
                   "потеряется.",
                   "The call was not answered: no audio was due yet, but an answered call loses what is sent to this "
                   "party.",
                   "Вызов не был отвечен: звук ещё не должен был идти, но в отвеченном вызове всё, что отправлено "
                   "этому участнику, потеряется."),
    "reached": ("This time the sound reached it anyway.", "В этот раз звук всё же дошёл.",
                "Audio did reach this party ({received} packets): a media relay latched onto its real address, or "
                "both parties run on one host; the SDP is wrong all the same.",
                "Звук к этому участнику всё же дошёл ({received} пакетов): медиа-релей привязался к его настоящему "
                "адресу, или обе стороны работают на одном узле; SDP всё равно ошибочен."),
}
