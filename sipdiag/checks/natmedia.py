"""NAT rules on the media path (RULES.md §3.1): RTP that does not come from where the SDP said, STUN-learned
addresses a symmetric NAT makes useless, and same-site calls that need the router to hairpin.

Each rule reads the call's offer/answer (what each party announced) beside the streams bound to the call (what
really arrived): one pass over the calls, a handful of streams each, no per-packet work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import join_address
from ..media import HOLD_ADDRESSES, MediaStream, is_loopback, is_private
from .. import parties
from ..russian import PARTY_RU
from . import Hit, Severity, check
from .nat import same_ip
from .settings import setting
from .vias import via_paths

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call

# RULES.md nat.media-source-mismatch: at least this many packets from the unexpected source (a few packets are a
# probe, an early-media announcement or an ICE check, not the call's audio).
MISMATCH_MIN_PACKETS = 50


def announced(call: Call) -> dict[str, set[tuple[str, int]]]:
    """Every (address, port) each party offered or answered during the call (re-INVITEs included). A loopback
    address is left out: media never comes from it across a network, and that SDP is a fault of its own
    (media.loopback-sdp-address), not a sign of NAT."""
    out: dict[str, set[tuple[str, int]]] = {"caller": set(), "callee": set()}
    for n in call.negotiations:
        for role, descriptions in ((n.offerer, n.offer), (n.answerer, n.answer or ())):
            for m in descriptions:
                if m.address and m.port and m.address not in HOLD_ADDRESSES and not is_loopback(m.address) \
                        and role in out:
                    out[role].add((m.address, m.port))
    return out


def _streams(analysis: Analysis, call: Call) -> list[MediaStream]:
    media = analysis.media_of(call)
    return [analysis.streams[i] for i in media.streams] if media is not None else []


def _sender(direction: str | None) -> str | None:
    return {"caller->callee": "caller", "callee->caller": "callee"}.get(direction or "")


_CLASSES = {
    # (en, ru): what the mismatch means (RULES.md nat.media-source-mismatch a/b/c)
    "port": ("same address, another port: a port-translating NAT or a UA that does not send from its receive port",
             "тот же адрес, другой порт: NAT с трансляцией портов или UA, который отправляет не со своего порта "
             "приёма"),
    "nat": ("another address while the SDP one is private: the party is behind a NAT",
            "другой адрес при частном адресе в SDP: сторона находится за NAT"),
    "rewritten": ("another public address: a relay or an ALG wrote a wrong address into the SDP",
                  "другой публичный адрес: медиасервер или ALG записал в SDP неверный адрес"),
}


@check(
    id="nat.media-source-mismatch", category="nat", severity="major", owner="engineering",
    title={
        "en": "Audio arrives from another address than the one the SDP announced",
        "ru": "Звук приходит не с того адреса, который объявлен в SDP",
    },
    customer={
        "en": "The sound from {party_en} reaches us from a different network address than announced. {effect_en}",
        "ru": "Звук от {party_ru} приходит к нам с другого сетевого адреса, чем было объявлено. {effect_ru}",
    },
    engineer={
        "en": "Call {call_id}: {role_en} announced {sdp_address} (frame {sdp_frame}) but its {packets} RTP packets "
              "come from {rtp_source} (first at frame {frame}): {class_en}. {latch_en} Enable symmetric RTP / "
              "latching on the SBC (Asterisk rtp_symmetric, comedia) and symmetric RTP on the UA (RFC 4961).",
        "ru": "Вызов {call_id}: SDP {role_ru} (кадр {sdp_frame}) объявляет {sdp_address}, но RTP {role_ru} приходит "
              "с {rtp_source} (пакетов: {packets}, первый в кадре {frame}): {class_ru}. {latch_ru} Включите "
              "симметричный RTP / latching на SBC (Asterisk rtp_symmetric, comedia) и симметричный RTP на UA (RFC "
              "4961).",
    },
)
def media_source_mismatch(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    In an answered call, at least 50 RTP packets from one party arrive from an address:port none of its offers or
    answers announced. The mismatch is classified (other port only; other address with a private SDP address;
    other public address), and the reverse stream tells whether the far end latched onto the real source
    (info) or kept sending to the SDP address (major: that audio is lost behind the NAT). A port-only difference
    on a private address (the party's own LAN, non-symmetric RTP) is info. A stream that began after the answer
    to an offer of the party's that the capture lacks (a lost re-INVITE) is not judged: that offer may have
    announced its source.

    ## Why it matters
    Without latching the reply audio goes to an address the party does not receive on: one-way audio. With
    latching audio works but depends on the relay's symmetric-RTP setting.

    ## How to fix
    Symmetric RTP / latching (comedia) or media anchoring on the SBC; symmetric RTP on the device; switch off a
    SIP ALG that writes wrong addresses.

    ## References
    RFC 4961; RFC 7362; RFC 3550 §8.1; RFC 3264
    """
    for call in analysis.calls:
        if call.outcome != "answered":
            continue
        streams = _streams(analysis, call)
        if not streams:
            continue
        ann = announced(call)
        sdp_frames = {}
        unknown_from: dict[str, int] = {}  # role -> the answer to an offer of its that the capture lacks
        for n in call.negotiations:
            if n.offer_frame is not None:
                sdp_frames.setdefault(n.offerer, n.offer_frame)
            elif n.answer_frame is not None:
                unknown_from.setdefault(n.offerer, n.answer_frame)
            if n.answer_frame:
                sdp_frames.setdefault(n.answerer, n.answer_frame)
        reported: set[str] = set()
        for s in streams:
            role = _sender(s.binding.direction)
            st = s.stats
            if role is None or role in reported or not ann[role] or st.packets < MISMATCH_MIN_PACKETS:
                continue
            since = unknown_from.get(role)
            if since is not None and st.first_frame > since:
                continue  # the party's SDP then is not in the capture: it may have announced this source
            if any(same_ip(a, st.src_ip) and p == st.src_port for a, p in ann[role]):
                continue
            same_host = [(a, p) for a, p in ann[role] if same_ip(a, st.src_ip)]
            sdp_address, sdp_port = same_host[0] if same_host else sorted(ann[role])[0]
            klass = "port" if same_host else ("nat" if is_private(sdp_address) else "rewritten")
            back = [r.stats for r in streams if _sender(r.binding.direction) not in (None, role)]
            latched = any(same_ip(r.dst_ip, st.src_ip) and r.dst_port == st.src_port for r in back)
            to_sdp = [r for r in back if any(same_ip(r.dst_ip, a) and r.dst_port == p for a, p in ann[role])]
            reported.add(role)
            # Only the port differs and the address is private: the capture is on the party's own network, where
            # sending from another port than the one received on is legal (RFC 3550 §11) and loses nothing.
            benign = klass == "port" and is_private(sdp_address)
            # "your phone" is the caller's: without knowing who called, the party by its address (sipdiag.parties)
            party_en = ("your phone" if role == "caller" else "the other party") if call.roles_known else \
                parties.party_en(call, role)
            party_ru = ("вашего телефона" if role == "caller" else "собеседника") if call.roles_known else \
                parties.party_ru(call, role)
            if latched:
                latch_en = "The reverse stream is sent to that observed source (latched), so audio flows."
                latch_ru = "Обратный поток отправляется на наблюдаемый источник (latching), поэтому звук идёт."
            elif to_sdp:
                target = join_address(sdp_address, sdp_port)
                latch_en = (f"The reverse stream ({to_sdp[0].packets} packets) is sent to the SDP address "
                            f"{target}, not to the observed source: that direction is lost.")
                latch_ru = (f"Обратный поток ({to_sdp[0].packets} пакетов) отправляется на адрес из SDP "
                            f"{target}, а не на наблюдаемый источник: это направление теряется.")
            else:
                latch_en = "No reverse stream to the observed source is in the capture (no latching seen)."
                latch_ru = "Обратного потока на наблюдаемый источник в захвате нет (latching не видно)."
            yield Hit(call.call_id, (st.first_frame,), {
                "call_id": call.call_id, "role": role, "role_ru": parties.party_ru(call, role),
                "sdp_address": join_address(sdp_address, sdp_port),
                "sdp_frame": sdp_frames.get(role, "?"), "rtp_source": join_address(st.src_ip, st.src_port),
                "packets": st.packets, "frame": st.first_frame, "class": klass,
                "class_en": _CLASSES[klass][0], "class_ru": _CLASSES[klass][1],
                "latched": "yes" if latched else "no", "latch_en": latch_en, "latch_ru": latch_ru,
                "party_en": party_en, "party_ru": party_ru,
                "effect_en": "Our system follows the real address, so the call works; no action is needed."
                             if latched or benign else "We are enabling a setting on our side so the reply sound follows "
                                             "the same path.",
                "effect_ru": "Наша система следует за реальным адресом, звонок работает; ничего делать не нужно."
                             if latched or benign else "Мы включаем настройку на своей стороне, чтобы ответный звук шёл тем "
                                             "же путём.",
            }, severity=Severity.INFO if latched or benign else None,
                confidence="high" if latched or to_sdp else "medium", texts={"role_en": parties.party_en(call, role)})


@check(
    id="nat.stun-mapping-mismatch", category="nat", severity="major", owner="engineering",
    title={
        "en": "A symmetric NAT makes the address the phone learned with STUN useless",
        "ru": "Симметричный NAT делает бесполезным адрес, который телефон узнал через STUN",
    },
    customer={
        "en": "Your router changes the network ports your phone uses in a way that breaks the phone's automatic "
              "address detection{effect_en}. We will switch your phone to rely on our servers' handling instead.",
        "ru": "Ваш роутер меняет сетевые порты телефона так, что автоматическое определение адреса на телефоне "
              "перестаёт работать{effect_ru}. Мы переключим телефон на обработку этого нашими серверами.",
    },
    engineer={
        "en": "{where_en}: {role_en} announced its public address {announced} (STUN-learned: the capture holds "
              "{stun} STUN packet(s)), but its packets arrive from {observed} (frame {frame}): the NAT maps each "
              "destination to a new port (address/port-dependent mapping, RFC 4787 §4.1, violating REQ-1). Use "
              "latching/anchoring or TURN/ICE (RFC 8445) and disable STUN on the UA.",
        "ru": "{where_ru}: объявленный публичный адрес {role_ru} {announced} получен через STUN (STUN-пакетов в "
              "захвате: {stun}), но пакеты {role_ru} приходят с {observed} (кадр {frame}): NAT выдаёт каждому "
              "получателю новый порт (зависящее от адреса/порта отображение, RFC 4787 §4.1, нарушение REQ-1). "
              "Используйте latching/якорение или TURN/ICE (RFC 8445) и отключите STUN на UA.",
    },
)
def stun_mapping_mismatch(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A capture with STUN traffic in which a party announces a public address - the same IP its packets really
    come from, so not a private address a NAT rewrote - with another port than the one its RTP (major) or SIP
    (minor) arrives from: the port was learned with STUN towards one destination and the NAT mapped the flow to
    the operator to a different port. The STUN payloads themselves (XOR-MAPPED-ADDRESS) are not yet handed to
    the analysis, so the mapping is inferred and the confidence is medium.

    ## Why it matters
    The far end sends media to the STUN-learned port, which the NAT does not map to the phone: one-way or no
    audio, unless the SBC latches onto the real source.

    ## How to fix
    Server-side NAT handling (latching/anchoring) or TURN/ICE; turn STUN off on the phone; a router with
    endpoint-independent mapping.

    ## References
    RFC 4787 §4.1 (REQ-1, REQ-2); RFC 8489; RFC 8445
    """
    stun = analysis.capture.rich.get("stun", 0)
    if not stun:
        return
    media_found = False
    for call in analysis.calls:
        streams = _streams(analysis, call)
        ann = announced(call)
        for s in streams:
            role = _sender(s.binding.direction)
            st = s.stats
            if role is None or st.packets < MISMATCH_MIN_PACKETS or is_private(st.src_ip):
                continue
            public = [(a, p) for a, p in ann[role] if same_ip(a, st.src_ip)]
            if not public or any(p == st.src_port for _a, p in public):
                continue
            media_found = True
            yield Hit(call.call_id, (st.first_frame,), {
                "call_id": call.call_id, "role": role, "role_ru": parties.party_ru(call, role),
                "announced": join_address(*public[0]),
                "observed": join_address(st.src_ip, st.src_port), "frame": st.first_frame, "stun": stun,
                "packets": st.packets, "where_en": f"Call {call.call_id}, media",
                "where_ru": f"Вызов {call.call_id}, медиа",
                "effect_en": ", so the sound of calls is lost", "effect_ru": ", и звук в звонках теряется",
            }, confidence="medium", texts={"role_en": parties.party_en(call, role)})
            break
    if media_found:
        return
    for p in via_paths(analysis):
        if p.transport != "udp" or not p.via.is_ip or is_private(p.src_ip) or not same_ip(p.via.host, p.src_ip) \
                or p.via.effective_port == p.src_port:
            continue
        yield Hit(None, p.frames, {
            "role": "device", "role_ru": PARTY_RU["device"], "announced": p.via.text, "observed": p.source,
            "frame": p.first_frame, "stun": stun,
            "where_en": "Signalling", "where_ru": "Сигнализация", "effect_en": "", "effect_ru": "",
        }, severity=Severity.MINOR, confidence="medium", texts={"role_en": "the device"})


@check(
    id="nat.hairpin-failure", category="nat", severity="major", owner="customer",
    title={
        "en": "A call between two phones at the same site has no audio: the router does not hairpin",
        "ru": "Вызов между двумя телефонами одной площадки без звука: роутер не пускает звук обратно в ту же сеть "
              "(NAT loopback)",
    },
    customer={
        "en": "Calls between phones at the same site have no sound because your router does not pass the sound "
              "back into your own network. Please enable 'NAT loopback' (or 'hairpin NAT') on your router; we can "
              "also route these calls' sound through our servers.",
        "ru": "В звонках между телефонами на одной площадке нет звука, потому что роутер не возвращает звук обратно "
              "в вашу же сеть. Включите на роутере «NAT loopback» (или «hairpin NAT»); мы также можем пустить звук "
              "таких звонков через наши серверы.",
    },
    engineer={
        "en": "Call {call_id}: both parties announce the same public address {shared_ip} in their SDP "
              "({caller_sdp_en}, frame {caller_frame}; {callee_sdp_en}, frame {callee_frame}), so RTP must loop "
              "back through their NAT; {duration_s} s after the answer the audio is {verdict_en} ({to_callee} packets "
              "{to_callee_en}, {to_caller} {to_caller_en}). RFC 4787 REQ-9 requires hairpinning; anchor media on the "
              "SBC for same-address calls (e.g. direct_media=no) or let the phones use host candidates (ICE).",
        "ru": "Вызов {call_id}: обе стороны объявляют в SDP один и тот же публичный адрес {shared_ip} "
              "({caller_sdp_ru}, кадр {caller_frame}; {callee_sdp_ru}, кадр {callee_frame}), поэтому RTP "
              "должен вернуться через их NAT; через {duration_s} с после ответа звук {verdict_ru} ({to_callee} пакетов "
              "{to_callee_ru}, {to_caller} {to_caller_ru}). RFC 4787 REQ-9 требует hairpinning; якорьте медиа на SBC "
              "для вызовов с одного адреса (например, direct_media=no) или используйте host-кандидаты (ICE).",
    },
)
def hairpin_failure(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An answered call whose offer and answer both put the same public address in `c=` (two phones behind one NAT
    that learned their public address with STUN or had it written in by an ALG), so media is not anchored and
    must hairpin through the router, and at least 5 s after the answer (media.oneway_report_s) the audio is not
    two-way.

    ## Why it matters
    Many routers do not hairpin (loop traffic from the inside to their own public address back inside): the
    same-site call has no audio, while calls to outside numbers work.

    ## How to fix
    Enable NAT loopback/hairpin on the router, or anchor media on the SBC for calls whose parties share a public
    address, or let the phones use their host addresses (ICE).

    ## References
    RFC 4787 §6 (REQ-9); RFC 8445
    """
    report_s = setting("media.oneway_report_s")
    for call in analysis.calls:
        media = analysis.media_of(call)
        if call.outcome != "answered" or media is None or media.verdict.verdict not in ("one-way", "no-rtp"):
            continue
        if call.duration_s is not None and call.duration_s < report_s:
            continue
        for n in call.negotiations:
            if not n.answer:
                continue
            offer = next(((m.address, m.port) for m in n.offer if m.media == "audio" and m.port and m.address), None)
            answer = next(((m.address, m.port) for m in n.answer if m.media == "audio" and m.port and m.address),
                          None)
            if offer is None or answer is None or offer[0] in HOLD_ADDRESSES or is_private(offer[0]) \
                    or not same_ip(offer[0], answer[0]):
                continue
            # each party's media with the frame of its own SDP: the callee offers in a 2xx to an INVITE without
            # SDP, the caller answers in the ACK (RFC 3261 §13.2.1, RFC 3264 §4)
            caller, callee = (offer, answer) if n.offerer == "caller" else (answer, offer)
            frames = (n.offer_frame, n.answer_frame) if n.offerer == "caller" else (n.answer_frame, n.offer_frame)
            v = media.verdict
            yield Hit(call.call_id, tuple(f for f in (n.offer_frame, n.answer_frame) if f), {
                "call_id": call.call_id, "shared_ip": offer[0], "caller_media": join_address(*caller),
                "callee_media": join_address(*callee), "offer_frame": n.offer_frame, "answer_frame": n.answer_frame,
                "caller_frame": frames[0], "callee_frame": frames[1],
                "verdict_en": {"no-rtp": "missing both ways"}.get(v.verdict, "one-way only"),
                "verdict_ru": {"no-rtp": "отсутствует в обе стороны"}.get(v.verdict, "только в одну сторону"),
                "verdict": v.verdict, "to_callee": v.packets_to_callee, "to_caller": v.packets_to_caller,
                "duration_s": round(call.duration_s, 1) if call.duration_s is not None else "?",
            }, confidence="medium", texts=_hairpin_texts(call, join_address(*caller), join_address(*callee)))
            break


def _hairpin_texts(call: Call, caller_media: str, callee_media: str) -> dict[str, str]:
    """The parties of nat.hairpin-failure's text with what each announced ("caller 203.0.113.9:4000") and the
    receivers of its packet counts ("to the callee"); by address when the capture does not show who called
    (sipdiag.parties). Text-only: the evidence holds caller_media and callee_media."""
    out: dict[str, str] = {}
    for role, media in (("caller", caller_media), ("callee", callee_media)):
        if call.roles_known:
            out[f"{role}_sdp_en"] = f"{role} {media}"
            out[f"{role}_sdp_ru"] = f"{parties.party_ru(call, role, 'nom')} {media}"
        else:
            out[f"{role}_sdp_en"] = f"{parties.party_en(call, role)}: {media}"
            out[f"{role}_sdp_ru"] = f"{parties.party_ru(call, role, 'nom')}: {media}"
        out[f"to_{role}_en"] = f"to {parties.party_en(call, role)}"
        out[f"to_{role}_ru"] = f"к {parties.party_ru(call, role, 'dat')}"
    return out
