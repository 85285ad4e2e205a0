"""Router and middlebox rules (RULES.md §3.2, §3.7): a SIP ALG, dropped fragments, NAT bindings that expire
between refreshes, routers and firewalls that answer SIP or RTP with ICMP errors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .. import parties
from ..addresses import address_host, join_address, split_address
from ..icmp import reason_ru
from ..icmprefusal import ICMP_MIN_ERRORS, Limiters, during_call
from ..media import is_private
from ..model import other_role
from . import Hit, check
from .nat import contact_host, message_at
from .settings import setting
from .sides import customer_party, registration_side
from .timers import estimate_s, transaction_t1_estimate_ns
from .udpsize import call_sizes, customer_words, sizes_hit, udp_sizes
from .vias import top_via_head

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call, Transaction


@check(
    id="alg.sdp-rewritten-inconsistently", category="router", severity="major", owner="customer",
    title={
        "en": "A SIP ALG rewrote the addresses of the signalling but not of the SDP",
        "ru": "SIP ALG переписал адреса в сигнализации, но не в SDP",
    },
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
        source = address_host(call.caller_address)
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
    title={
        "en": "Large SIP over UDP travels in IP fragments, which are dropped or at risk",
        "ru": "Большой SIP по UDP идёт IP-фрагментами, которые теряются или могут теряться",
    },
    customer={
        "en": "{lead_en} {action_en}",
        "ru": "{lead_ru} {action_ru}",
    },
    engineer={
        "en": "{summary_en} RFC 3261 §18.1.1: a request larger than {limit} bytes when the path MTU is unknown, or "
              "within 200 bytes of it, MUST go over a congestion-controlled transport such as TCP; RFC 4787 REQ-14 "
              "requires NATs to pass fragments. Use TCP/TLS, trim the messages (codecs, headers), or fix the "
              "device that drops the fragments.",
        "ru": "{summary_ru} RFC 3261 §18.1.1: запрос больше {limit} байт при неизвестном MTU пути или ближе 200 "
              "байт к нему ДОЛЖЕН идти по транспорту с управлением перегрузкой, например TCP; RFC 4787 REQ-14 "
              "требует от NAT пропускать фрагменты. Перейдите на TCP/TLS, сократите сообщения (кодеки, "
              "заголовки) или исправьте устройство, отбрасывающее фрагменты.",
    },
)
def udp_fragmentation(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    (b) IP datagrams whose fragments never all arrived at the capture point (`ip.fragments-incomplete`
    anomalies), once for the capture: major. Then, per Call-ID, its SIP messages over UDP that (a) travelled in IP
    fragments, or (d) are larger than sip.large_udp_sip_bytes (1300) in one packet, or within 200 bytes of the path
    MTU an ICMP "fragmentation needed" or Packet Too Big of the same path reported (RFC 1191, RFC 8201). Such a
    message is evidently lost when it is a request unanswered until Timer B/F, or a final response sent at least 3
    times more: to an INVITE without an ACK (a 200 OK the UAS retransmits for 32 s), to another request because that
    request kept coming (a 200 OK to REGISTER listing many contacts). Major when (c) such a message was lost while a
    smaller one of the same device on the same path got through (a request answered; a response acknowledged, or
    after which its request was not retransmitted), when a fragmented message was lost, or when (a) meets (b) in
    the same capture; minor otherwise (fragmented, or only at risk). A message larger than an Ethernet MTU that
    arrived whole is named: NIC offload (GRO/LRO) on the capture host shows merged fragments so. Every SIP message
    over UDP of the capture is judged, not only those kept in full.

    ## Why it matters
    Fragments are dropped by firewalls ("drop fragmented packets"), SIP ALGs that cannot reassemble and NATs that
    break RFC 4787 REQ-14: the message is lost whole - INVITE timeouts, calls that never ring, 200 OKs
    retransmitted until the call drops - while small messages (OPTIONS, REGISTER) pass.

    ## How to fix
    SIP over TCP (RFC 3261 §18.1.1), smaller messages, or a router that passes (or reassembles) fragments.

    ## References
    RFC 3261 §18.1.1, §13.3.1.4, §17.2.2, RFC 4787 §11 (REQ-14), RFC 8085 §3.2, RFC 791 §3.2, RFC 1191,
    RFC 8200 §5, RFC 8201, RFC 8900
    """
    limit = int(setting("sip.large_udp_sip_bytes"))
    incomplete = [a for a in analysis.anomalies if a.code == "ip.fragments-incomplete"]
    if incomplete:
        frames = tuple(a.frame for a in incomplete if a.frame is not None)
        frame = frames[0] if frames else "?"
        yield Hit(None, frames, {
            "trigger": "fragments-incomplete", "count": len(incomplete), "frame": frame, "limit": limit,
            "path_mtu": None, "detail": incomplete[0].detail, "detail_ru": incomplete[0].detail_ru,
            "messages": [], "failed": [], "answered_small": [], "t1_estimate_s": None}, texts={
            "summary_en": f"{len(incomplete)} IP datagram(s) arrived only partly (first at frame {frame}: "
                          f"{incomplete[0].detail}): a device before the capture point dropped fragments.",
            "summary_ru": f"IP-датаграмм, пришедших не полностью: {len(incomplete)} (первая в кадре {frame}: "
                          f"{incomplete[0].detail_ru}): устройство до точки захвата отбросило фрагменты.",
            **customer_words(dropped=True)})
    judged = set()
    for sizes in call_sizes(analysis, limit):
        judged.add(sizes.call_id)
        yield sizes_hit(sizes, limit, bool(incomplete))
    # Where sizes are not known (an analysis of the live engine, which keeps some messages of each call and no size
    # log), a call that timed out unanswered in a capture with fragments still points at them, with less certainty.
    fragments = analysis.capture.rich.get("ip-fragment", 0)
    if not fragments:
        return
    known = udp_sizes(analysis)
    for call in analysis.calls:
        invites = tuple(m.frame for m in call.messages if m.method == "INVITE" and m.transport == "udp")
        if call.call_id in judged or not invites or known.size_at(invites[0]) is not None or \
                call.outcome != "timeout" or any(m.status_code for m in call.messages):
            continue
        detail = (f"the INVITE of call {call.call_id} was never answered in a capture with {fragments} IP fragments "
                  f"(its size is not known: beyond the messages kept)")
        detail_ru = (f"INVITE вызова {call.call_id} не получил ответа в захвате с IP-фрагментами (фрагментов: "
                     f"{fragments}; размер неизвестен: сообщение за пределами сохранённых)")
        yield Hit(call.call_id, invites, {
            "trigger": "fragments-unanswered", "count": len(invites), "frame": invites[0], "limit": limit,
            "path_mtu": None,
            "detail": detail, "detail_ru": detail_ru, "messages": [], "failed": [], "answered_small": [],
            # the call timed out by Timer B of its INVITE (sipdiag.dialogs): the T1 its retransmissions show
            "t1_estimate_s": _invite_t1_estimate_s(analysis, call)}, texts={
            "summary_en": f"Call {call.call_id}: {detail}.", "summary_ru": f"Вызов {call.call_id}: {detail_ru}.",
            **customer_words(dropped=True)}, confidence="low")


def _invite_t1_estimate_s(analysis: Analysis, call: Call) -> float | None:
    """The T1 the retransmissions of a call's last initial INVITE show (s; None: none), by which Timer B of its
    outcome "timeout" was judged (sipdiag.dialogs, RFC 3261 §17.1.1.2; RULES.md §0.5, T1_est)."""
    invite = next((t for t in reversed(call.transactions) if t.method == "INVITE" and not t.in_dialog
                   and t.request_frame is not None), None)
    return None if invite is None else estimate_s(transaction_t1_estimate_ns(invite, analysis.capture.clock))


def _sent_by_port(analysis: Analysis, tx: Transaction) -> str | None:
    msg = message_at(analysis, tx.request_frame)
    head = top_via_head(msg) if msg is not None else None
    return head[0] if head else None


@check(
    id="router.nat-binding-timeout", category="router", severity="major", owner="customer",
    title={
        "en": "The router forgets the phone's connection before the next refresh: incoming calls are lost",
        "ru": "Роутер забывает соединение телефона до следующего обновления: входящие вызовы теряются",
    },
    customer={
        "en": "Your router closes the phone's connection to our service after a short time without traffic, so "
              "incoming calls cannot reach the phone until it reconnects. We are enabling more frequent keep-alive "
              "messages on your phone; if your router has a 'UDP session timeout' setting, please set it to 180 "
              "seconds or more.",
        "ru": "Ваш роутер закрывает соединение телефона с нашим сервисом после короткого простоя, и входящие звонки "
              "не доходят до телефона, пока он не переподключится. Мы включаем на телефоне более частые "
              "keep-alive-сообщения; если в роутере есть настройка «UDP session timeout», установите 180 секунд или "
              "больше.",
    },
    engineer={
        "en": "{evidence_en} Measured: the NAT mapping lived at most {expired_after_s} s{alive_en}; the registrar "
              "granted {expires} s{req5_en}. RFC 4787 REQ-5 requires >= 120 s (5 min recommended) and REQ-6 refreshes "
              "only on outbound traffic: set UA keepalives to 15-25 s (RFC 5626 CRLF/STUN) or a shorter "
              "registration interval, server-side NAT pings (Kamailio natping_interval with sipping, Asterisk "
              "qualify_frequency), or raise the router's UDP timeout to >= 180 s.",
        "ru": "{evidence_ru} Измерено: отображение NAT жило не более {expired_after_s} с{alive_ru}; регистратор "
              "выдал {expires} с{req5_ru}. RFC 4787 REQ-5 требует >= 120 с (рекомендуется 5 мин), а REQ-6 продлевает "
              "его только исходящим трафиком: настройте keepalive на UA 15-25 с (RFC 5626 CRLF/STUN) или более "
              "короткий интервал регистрации, NAT-пинги с сервера (Kamailio natping_interval с sipping, Asterisk "
              "qualify_frequency) или увеличьте UDP-таймаут роутера до >= 180 с.",
    },
)
def nat_binding_timeout(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    (1) A device whose REGISTER refresh of an accepted binding, after an idle gap of at least
    nat.recommended_keepalive_s, arrives from the same public address but a new source port - while its Via
    sent-by (its own socket) stayed the same: the NAT dropped the old mapping during the gap and made a new one.
    (2) An INVITE sent to a device's registered binding after an idle gap that gets no response at all (Timer B),
    the binding having gone silent. The evidence bounds the NAT timeout: below the gap that lost the mapping,
    above the longest gap it survived.

    ## Why it matters
    Between the expiry and the next refresh the registrar's binding points at a port the NAT no longer maps:
    incoming calls are lost ("outbound works, inbound does not").

    ## How to fix
    Keepalives every 15-25 s from the phone (or a shorter registration interval), NAT pings from the server, or a
    router UDP timeout of at least 180 s.

    ## References
    RFC 4787 §4.3 (REQ-5, REQ-6); RFC 5626 §3.5, §4.4; RFC 6314; Kamailio nathelper natping; Linux conntrack
    UDP timeouts (30 s unreplied, 120 s stream)
    """
    min_gap = setting("nat.recommended_keepalive_s")
    req5 = setting("nat.rfc4787_min_mapping_s")
    by_aor: dict[str, list[tuple[Transaction, int | None]]] = {}
    # address -> (registered at, aor, expires, frame of the 2xx)
    bindings: dict[str, list[tuple[int, str, int | None, int | None]]] = {}
    clock = analysis.capture.clock  # no idle time is measured across a step of the capture's clock
    for r in analysis.registrations:
        for tx in r.transactions:
            if tx.request_frame is not None:
                by_aor.setdefault(r.aor, []).append((tx, r.expires_s))
            if tx.final_status is not None and 200 <= tx.final_status < 300 and tx.final_ts_ns is not None:
                bindings.setdefault(tx.src, []).append((tx.final_ts_ns, r.aor, r.expires_s, tx.final_frame))
    reported: set[str] = set()
    for aor, items in by_aor.items():
        items.sort(key=lambda item: item[0].ts_ns)
        alive = 0.0
        for (a, expires), (b, _e) in zip(items, items[1:]):
            if a.final_status is None or not 200 <= a.final_status < 300:
                continue  # only a binding the registrar accepted can expire in the NAT (not a guesser's probe)
            a_ip, a_port = split_address(a.src)
            b_ip, b_port = split_address(b.src)
            if a_ip != b_ip or not clock.sound(a.final_frame if a.final_ts_ns else a.ts_frame, b.ts_frame):
                continue
            idle = (b.ts_ns - (a.final_ts_ns or a.ts_ns)) / 1e9
            if a_port == b_port:
                alive = max(alive, idle)
                continue
            if idle < min_gap or aor in reported:
                continue
            via_a, via_b = _sent_by_port(analysis, a), _sent_by_port(analysis, b)
            same_socket = via_a is not None and via_a == via_b
            reported.add(aor)
            yield Hit(None, (a.request_frame, b.request_frame), _values(
                f"REGISTER refreshes of {aor}: frame {a.request_frame} came from {a.src}, the next one (frame "
                f"{b.request_frame}, {idle:.0f} s later) from {b.src}"
                + (f" although the UA kept its socket (Via {via_b})" if same_socket else "") + ".",
                f"Обновления REGISTER для {aor}: кадр {a.request_frame} пришёл с {a.src}, следующий (кадр "
                f"{b.request_frame}, через {idle:.0f} с) - с {b.src}"
                + (f", хотя UA не менял сокет (Via {via_b})" if same_socket else "") + ".",
                idle, alive, expires, req5, aor=aor, old_binding=a.src, new_binding=b.src,
                frame=b.request_frame, t1_estimate_s=None), confidence="high" if same_socket else "medium")
    for call in analysis.calls:
        if call.outcome != "timeout" or any(m.status_code for m in call.messages):
            continue
        earlier = [b for b in bindings.get(call.callee_address, ()) if b[0] <= call.start_ns]
        if not earlier:
            continue
        registered_ns, aor, expires, registered_frame = max(earlier)
        if not clock.sound(registered_frame, call.start_at):
            continue
        idle = (call.start_ns - registered_ns) / 1e9
        if idle < min_gap or aor in reported:
            continue
        reported.add(aor)
        yield Hit(call.call_id, (call.first_frame,), _values(
            f"Call {call.call_id}: the INVITE (frame {call.first_frame}) to {aor}'s registered binding "
            f"{call.callee_address}, {idle:.0f} s after its last registration, got no response at all.",
            f"Вызов {call.call_id}: INVITE (кадр {call.first_frame}) на зарегистрированную привязку {aor} "
            f"{call.callee_address} через {idle:.0f} с после последней регистрации не получил никакого ответа.",
            idle, 0.0, expires, req5, aor=aor, old_binding=call.callee_address, new_binding="none",
            # the call timed out unanswered by Timer B of its INVITE: the T1 it was judged by (the REGISTER case
            # above is judged by no timer: None)
            frame=call.first_frame, t1_estimate_s=_invite_t1_estimate_s(analysis, call)), confidence="medium")


def _values(evidence_en: str, evidence_ru: str, idle: float, alive: float, expires: int | None, req5: int,
            **extra) -> dict:
    below = idle < req5
    return {
        **extra, "evidence_en": evidence_en, "evidence_ru": evidence_ru, "expired_after_s": round(idle, 1),
        "alive_s": round(alive, 1) if alive else None,
        "alive_en": f" and survived {alive:.0f} s" if alive else "",
        "alive_ru": f" и пережило {alive:.0f} с" if alive else "",
        "expires": expires if expires is not None else "?",
        "req5_en": f"; a mapping lost within {idle:.0f} s violates the {req5} s minimum of RFC 4787 REQ-5" if below
                   else "",
        "req5_ru": f"; потеря отображения за {idle:.0f} с нарушает минимум {req5} с из RFC 4787 REQ-5" if below
                   else "",
    }


@check(
    id="router.icmp-unreachable", category="router", severity="major", owner="customer",
    title={
        "en": "A router or firewall rejects the phone's SIP or audio with ICMP errors",
        "ru": "Роутер или межсетевой экран отвергает SIP или звук телефона ICMP-ошибками",
    },
    customer={"en": "{refused_en} {action_en}", "ru": "{refused_ru} {action_ru}"},
    engineer={
        "en": "{count} ICMP error(s) from {reporter} ({reason}, type {icmp_type} code {icmp_code}; first at frame "
              "{frame}) quote {kind} packets {flow}{during_en}. {meaning_en}{side_en} (RFC 792, RFC 1122 §3.2.2.1, "
              "RFC 4443 §3.1).",
        "ru": "ICMP-ошибок от {reporter}, цитирующих пакеты {kind} {flow}{during_ru}: {count} ({reason_ru}, тип "
              "{icmp_type} код {icmp_code}; первая в кадре {frame}). {meaning_ru}{side_ru} (RFC 792, RFC 1122 "
              "§3.2.2.1, RFC 4443 §3.1).",
    },
)
def icmp_unreachable(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    At least three ICMP/ICMPv6 errors quoting the same SIP or RTP flow while its call or transaction was active:
    port unreachable (nothing listens: SIP service down, RTP port closed), administratively prohibited (a
    firewall rule), net/host unreachable (routing), fragmentation needed (path MTU). RTP errors within 2 s of the
    call's BYE are the normal race and are ignored (where the capture's clock steps between an error and the BYE,
    capture order tells them apart: those after the BYE are the race), except those before the BYE that show the
    port refused from the stream's first packet (every packet drawing an error while the rate limit allowed one):
    a race needs a port that was open, and in a call shorter than 2 s every error would otherwise be ignored.
    Reads `Analysis.icmp_errors`, which stays empty until the capture side forwards ICMP datagrams.

    ## Why it matters
    The packets named are not delivered: one-way or no audio for RTP, failed registrations and calls for SIP.
    The error names the device that refused them.

    Whose problem it is follows the device that refused: a router or firewall on the way (the reporter is not the
    flow's destination) is taken for the customer's, as is a destination that is the customer's device
    (sipdiag.checks.sides: behind a NAT, a phone, ATA or router by its User-Agent, a registering device). A
    destination that refuses the packets sent to it itself and is the operator's side (a PBX or SBC by its
    User-Agent or Server, a registrar, or, where nothing tells, the far end of the phone whose packets were
    refused) makes the finding engineering's, and the customer is told that nothing needs changing on their side.

    ## How to fix
    Open the voice ports on the firewall that sends the errors (customer side), fix routing, or bring the SIP
    service or the media port back on the host that refuses (operator side); for fragmentation-needed, see
    router.udp-fragmentation.

    ## References
    RFC 792; RFC 1122 §3.2.2.1; RFC 4443 §3.1, §3.2; RFC 1191
    """
    errors = analysis.icmp_errors
    if not errors:
        return
    by_flow: dict[tuple, list] = {}
    for e in errors:
        by_flow.setdefault((e.proto, *e.flow), []).append(e)
    flows = {k: v for k, v in by_flow.items() if len(v) >= ICMP_MIN_ERRORS}
    if not flows:
        return
    rtp = {(17, s.stats.src_ip, s.stats.src_port, s.stats.dst_ip, s.stats.dst_port): s for s in analysis.streams}
    sip: dict[tuple, str | None] = {}
    for call in analysis.calls:
        for m in call.messages:
            sip.setdefault((17 if m.transport == "udp" else 6, m.src_ip, m.src_port, m.dst_ip, m.dst_port),
                           call.call_id)
    clock = analysis.capture.clock
    calls = {c.call_id: c for c in analysis.calls}
    byes = {c.call_id: bye for c in analysis.calls if (bye := c.answer_and_bye()[1]) is not None}
    sent = Limiters(errors, clock)
    for key, found in flows.items():
        stream = rtp.get(key)
        if stream is not None:
            kind, call_id = "RTP", stream.call_id
            found = during_call(stream.stats, found, byes.get(call_id) if call_id else None, clock, sent)
            # the party the stream was sent to
            receiver = {"caller->callee": "callee", "callee->caller": "caller"}.get(stream.binding.direction or "")
        elif key in sip:
            kind, call_id = "SIP", sip[key]
            receiver = _role_of(calls[call_id], key[3]) if call_id else None  # key: proto, src, sport, dst, dport
        elif key[2] in (5060, 5061) or key[4] in (5060, 5061):
            kind, call_id, receiver = "SIP", None, None
        else:
            continue
        if len(found) < ICMP_MIN_ERRORS:
            continue
        first = found[0]
        reason = Counter(e.reason for e in found).most_common(1)[0][0]
        meaning_en, meaning_ru = _icmp_meaning(first)
        what_en, what_ru = ("audio", "звук") if kind == "RTP" else ("call signalling", "сигнализацию звонков")
        values = {
            "count": len(found), "reporter": first.reporter, "reason": reason, "reason_ru": reason_ru(reason),
            "icmp_type": first.icmp_type,
            "icmp_code": first.icmp_code, "frame": first.frame, "kind": kind,
            "flow": f"{join_address(first.src_ip, first.src_port)} -> {join_address(first.dst_ip, first.dst_port)}",
            "during_en": f" of call {call_id}" if call_id else "", "during_ru": f" вызова {call_id}" if call_id else "",
            "what_en": what_en, "what_ru": what_ru, "meaning_en": meaning_en, "meaning_ru": meaning_ru,
            "side_en": "", "side_ru": "",
            "refused_en": f"A device on the way is actively rejecting your phone's {what_en} ({reason}).",
            "refused_ru": f"Устройство на пути активно отклоняет {what_ru} вашего телефона "
                          f"({reason_ru(reason)}).",
            "action_en": "Please check the firewall rules for voice traffic on your router; we are checking our side "
                         "too.",
            "action_ru": "Проверьте правила межсетевого экрана для голосового трафика на роутере; мы тоже проверяем "
                         "свою сторону.",
        }
        owner = None
        if first.reporter == first.dst_ip:  # the destination host refuses what was sent to it: not a router between
            call = calls.get(call_id) if call_id else None
            operator = _operator_side(analysis, call, receiver, first.dst_ip, first.src_ip)
            values.update(_refused_by_destination(call, receiver, operator, what_en, what_ru))
            owner = "engineering" if operator else None
        yield Hit(call_id, tuple(e.frame for e in found[:10]), values, owner=owner)


def _role_of(call: Call, host: str) -> str | None:
    """Which party of the call signals from `host` (the callee first: a request's destination), or None."""
    if address_host(call.callee_address) == host:
        return "callee"
    return "caller" if address_host(call.caller_address) == host else None


def _operator_side(analysis: Analysis, call: Call | None, receiver: str | None, dst: str, src: str) -> bool:
    """Whether the destination that refused a flow is the operator's side (sipdiag.checks.sides): it is known to be,
    or nothing says that it is the customer's while the sender is not known to be the operator's. The texts speak
    to the owner of the sending phone ("your phone's audio"); the far end it sent to is then the operator's."""
    if call is not None and receiver is not None:
        sender = other_role(receiver)
        to, by = customer_party(analysis, call, receiver), customer_party(analysis, call, sender)
    else:  # a flow of no call (a REGISTER, an OPTIONS): only registrations tell the sides
        to, by = registration_side(analysis, dst), registration_side(analysis, src)
    return not to if to is not None else by is not False


def _refused_by_destination(call: Call | None, receiver: str | None, operator: bool, what_en: str,
                            what_ru: str) -> dict[str, str]:
    """The texts of a refusal by the flow's own destination: the engineer's names the side (by address when the
    capture does not show who called, sipdiag.parties); the customer, when it is the operator's, is told it is ours
    to fix and not asked to check their router."""
    party_en = party_ru = ""
    if receiver in parties.ROLES:
        party_en = f" (the call's {receiver})" if parties.roles_known(call) else \
            f" ({parties.party_en(call, receiver)})"
        party_ru = f" ({parties.party_ru(call, receiver, 'nom')})"
    out = {
        "side_en": f" The refusing host is the flow's own destination{party_en}, on the "
                   f"{'operator' if operator else 'customer'}'s side.",
        "side_ru": f" Отклоняет сам узел назначения потока{party_ru}, на стороне "
                   f"{'оператора' if operator else 'клиента'}.",
    }
    if operator:
        out.update(refused_en=f"Our equipment refused the {what_en} from your phone.",
                   refused_ru=f"Наше оборудование отклонило {what_ru} от вашего телефона.",
                   action_en="Nothing needs changing on your side: we are fixing it on our side.",
                   action_ru="С вашей стороны ничего менять не нужно: мы исправляем это на своей стороне.")
    return out


def _icmp_meaning(e) -> tuple[str, str]:
    port = (e.version == 4 and e.icmp_type == 3 and e.icmp_code == 3) or (e.version == 6 and e.icmp_type == 1
                                                                          and e.icmp_code == 4)
    prohibited = (e.version == 4 and e.icmp_type == 3 and e.icmp_code in (9, 10, 13)) or (
        e.version == 6 and e.icmp_type == 1 and e.icmp_code in (1, 5, 6))
    mtu = (e.version == 4 and e.icmp_type == 3 and e.icmp_code == 4) or (e.version == 6 and e.icmp_type == 2)
    if port:
        return ("Nothing listens on the destination port: the service is down or the media port was already "
                "closed.", "На порту назначения никто не слушает: сервис не работает или медиапорт уже закрыт.")
    if prohibited:
        return ("A firewall rule on the reporting device rejects this traffic: fix its ACL.",
                "Правило межсетевого экрана на сообщившем устройстве отклоняет этот трафик: исправьте его ACL.")
    if mtu:
        return ("The packets are too large for the path with DF set: see router.udp-fragmentation (path MTU).",
                "Пакеты слишком велики для пути при установленном DF: см. router.udp-fragmentation (MTU пути).")
    return ("The destination cannot be routed from the reporting device: check routing.",
            "Назначение недостижимо с сообщившего устройства: проверьте маршрутизацию.")
