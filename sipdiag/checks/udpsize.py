"""The evidence of router.udp-fragmentation for one Call-ID (RULES.md §3.7): its SIP messages over UDP that travelled
in IP fragments or are larger than sip.large_udp_sip_bytes, which of its requests those sizes left unanswered, and
whether smaller requests of the same device on the same path were answered.

The capture layer tells each kept SIP message (Analysis.messages) its size (the UDP payload, `len(raw)`) and the
frames of the IP fragments it was reassembled from (`SipMessage.fragments`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..addresses import address_host
from . import Hit, Severity
from .nat import all_transactions, message_at
from .timers import sends_before_timeout, timeout_ns

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Transaction
    from ..parsers.sip import SipMessage

# An Ethernet payload: a message larger than this that arrived in one packet was not seen as it crossed an Ethernet
# link (RULES.md FP pitfall: the capture host's NIC offload, GRO/LRO, reassembled it, or the capture ran on the
# sending host before the packet was fragmented).
ETHERNET_MTU = 1500
LISTED = 10  # messages named in the evidence; the count covers the rest


@dataclass
class Sized:
    """One distinct message (its retransmissions are copies of it) with its size and how it travelled."""

    msg: SipMessage
    size: int
    copies: int = 1
    frames: list[int] = field(default_factory=list)  # every frame that carried a copy or a fragment of one

    @property
    def label(self) -> str:
        m = self.msg
        return m.method or f"{m.status_code} ({m.cseq_method or '?'})"

    def text(self, lang: str) -> str:
        m, sent = self.msg, self.copies
        if m.fragments:
            frames = ", ".join(map(str, m.fragments))
            how = (f"in {len(m.fragments)} IP fragments (frames {frames})" if lang == "en" else
                   f"IP-фрагментами (фрагментов: {len(m.fragments)}, кадры {frames})")
        else:
            how = "in one packet" if lang == "en" else "одним пакетом"
        if lang == "en":
            return f"{self.label} frame {m.frame}: {self.size} bytes {how}" + (
                f", sent {sent} times" if sent > 1 else "")
        return f"{self.label} кадр {m.frame}: {self.size} байт {how}" + (f", отправок: {sent}" if sent > 1 else "")


@dataclass
class CallSizes:
    """What router.udp-fragmentation judges of one Call-ID."""

    call_id: str
    fragmented: list[Sized] = field(default_factory=list)  # trigger (a)
    large: list[Sized] = field(default_factory=list)  # trigger (d): above the limit, in one packet
    failed: list[Sized] = field(default_factory=list)  # requests of those two never answered (Timer B/F)
    # trigger (c): (method, frame, size, status) of a smaller request of the same device on the same path that was
    # answered, for each failed request that has one
    answered_small: list[tuple[str, int, int, int]] = field(default_factory=list)

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(sorted({f for s in self.fragmented + self.large for f in s.frames}))


def call_sizes(analysis: Analysis, limit: int) -> list[CallSizes]:
    """One CallSizes per Call-ID with a UDP message fragmented or above `limit` bytes, in the order of its first
    such message; from the messages kept (Analysis.messages)."""
    seen: dict[tuple, Sized] = {}
    by_call: dict[str, CallSizes] = {}
    for m in analysis.messages:
        size = len(m.raw)
        if m.transport != "udp" or not m.call_id or not (m.fragments or size > limit):
            continue
        key = (m.src_ip, m.src_port, m.dst_ip, m.dst_port, bytes(m.raw))
        copy = seen.get(key)
        if copy is not None:  # a retransmission: byte for byte the same message again (RFC 3261 §17.1.1.2)
            copy.copies += 1
            copy.frames.extend(m.fragments or (m.frame,))
            continue
        sized = seen[key] = Sized(m, size, frames=list(m.fragments or (m.frame,)))
        sizes = by_call.setdefault(m.call_id, CallSizes(m.call_id))
        (sizes.fragmented if m.fragments else sizes.large).append(sized)
    if not by_call:
        return []
    requests = {t.request_frame: t for t in all_transactions(analysis) if t.request_frame is not None}
    small = _answered_small(analysis, limit)
    for sizes in by_call.values():
        for s in sizes.fragmented + sizes.large:
            tx = requests.get(s.msg.frame) if s.msg.is_request else None
            if tx is None or not _timed_out(analysis, tx):
                continue
            sizes.failed.append(s)
            ok = small.get((address_host(tx.src), address_host(tx.dst)))
            if ok is not None and ok[2] < s.size:
                sizes.answered_small.append(ok)
    return list(by_call.values())


def _timed_out(analysis: Analysis, tx: Transaction) -> bool:
    """No response at all, and Timer B or F ran out (RFC 3261 §17.1.1.2, §17.1.2.2): 64*T1 passed before the capture
    ended, or the whole retransmission schedule over UDP went out (a capture cut at the last copy shows that)."""
    if tx.responses:
        return False
    if tx.request_retransmissions + 1 >= sends_before_timeout(tx.method != "INVITE"):
        return True
    end = analysis.capture.last_ts_ns or 0
    waited = analysis.capture.clock.elapsed_ns(tx.ts_frame, tx.ts_ns, analysis.capture.packets, end)
    return waited is not None and waited >= timeout_ns()


def _answered_small(analysis: Analysis, limit: int) -> dict[tuple[str, str], tuple[str, int, int, int]]:
    """(source host, destination host) -> the first answered UDP request between them that was kept, at most
    `limit` bytes and in one packet: (method, frame, size, first response status)."""
    out: dict[tuple[str, str], tuple[str, int, int, int]] = {}
    for t in all_transactions(analysis):
        if not t.responses or t.request_frame is None:
            continue
        path = (address_host(t.src), address_host(t.dst))
        if path in out:
            continue
        m = message_at(analysis, t.request_frame)
        if m is not None and m.transport == "udp" and not m.fragments and len(m.raw) <= limit:
            out[path] = (t.method, t.request_frame, len(m.raw), t.final_status or t.responses[0][0])
    return out


def offload_note(sizes: CallSizes, lang: str) -> str:
    """RULES.md FP pitfalls: a message above an Ethernet MTU that arrived in one packet; SIP over IPv6."""
    notes = []
    big = [s for s in sizes.large if s.size > ETHERNET_MTU]
    if big:
        s = big[0]
        notes.append(
            f"Frame {s.msg.frame} ({s.size} bytes) is larger than an Ethernet MTU ({ETHERNET_MTU}) yet arrived in one "
            "packet: NIC offload (GRO/LRO) on the capture host may have merged its fragments, or the capture ran on "
            "the sending host before it was fragmented - check the interface MTU." if lang == "en" else
            f"Кадр {s.msg.frame} ({s.size} байт) больше MTU проводной сети ({ETHERNET_MTU}), но пришёл одним пакетом: "
            "фрагменты могла склеить разгрузка сетевой карты (GRO/LRO) на узле захвата, или захват шёл на "
            "отправителе до фрагментации - проверьте MTU интерфейса.")
    if any(":" in s.msg.src_ip for s in sizes.fragmented + sizes.large):
        notes.append("Over IPv6 only the source fragments (RFC 8200 §5): look for ICMPv6 Packet Too Big."
                     if lang == "en" else
                     "В IPv6 фрагментирует только отправитель (RFC 8200 §5): ищите сообщения ICMPv6 типа 2 "
                     "(пакет слишком велик).")
    return " ".join(notes)


# What each trigger means (RULES.md router.udp-fragmentation (a)-(d)), in English and Russian.
CONCLUSION = {
    "large-fails-small-works": ("Large messages fail where small ones pass: the path drops fragments or large "
                                "datagrams.",
                                "Большие сообщения теряются, а маленькие проходят: путь отбрасывает фрагменты или "
                                "большие датаграммы."),
    "fragmented-unanswered": ("A fragmented request was never answered: its fragments were likely dropped after the "
                              "capture point.",
                              "Фрагментированный запрос остался без ответа: вероятно, его фрагменты отброшены после "
                              "точки захвата."),
    "fragmented-and-incomplete": ("Fragments of other datagrams in this capture never completed: the path drops "
                                  "fragments.",
                                  "Фрагменты других датаграмм в этом захвате так и не собрались: путь отбрасывает "
                                  "фрагменты."),
    "fragmented": ("They got through here, but any firewall or NAT on the path that drops fragments loses them whole.",
                   "Здесь они прошли, но любой межсетевой экран или NAT на пути, отбрасывающий фрагменты, потеряет "
                   "их целиком."),
    "large-unfragmented": ("Not fragmented here, but at risk on a path with a smaller MTU (PPPoE 1492, VPN about "
                           "1400).",
                           "Здесь не фрагментированы, но под риском на пути с меньшим MTU (PPPoE 1492, VPN около "
                           "1400)."),
}


def sizes_hit(sizes: CallSizes, limit: int, incomplete: bool) -> Hit:
    """One Call-ID's finding: the trigger that holds (RULES.md: (c), or (a) with (b), major; (a) or (d) minor)."""
    if sizes.answered_small:
        trigger, severity, confidence = "large-fails-small-works", Severity.MAJOR, "high"
    elif any(s.msg.fragments for s in sizes.failed):
        trigger, severity, confidence = "fragmented-unanswered", Severity.MAJOR, "medium"
    elif sizes.fragmented and incomplete:
        trigger, severity, confidence = "fragmented-and-incomplete", Severity.MAJOR, "medium"
    elif sizes.fragmented:
        trigger, severity, confidence = "fragmented", Severity.MINOR, "high"
    else:
        trigger, severity, confidence = "large-unfragmented", Severity.MINOR, "medium"
    listed = (sizes.fragmented + sizes.large)[:LISTED]
    messages = [s.text("en") for s in listed]
    messages_ru = [s.text("ru") for s in listed]
    failed = [f"{s.label} frame {s.msg.frame} never answered (Timer {'B' if s.msg.method == 'INVITE' else 'F'})"
              for s in sizes.failed]
    failed_ru = [f"{s.label} кадр {s.msg.frame} без ответа (таймер {'B' if s.msg.method == 'INVITE' else 'F'})"
                 for s in sizes.failed]
    small = [f"{m} frame {f} ({n} bytes) answered {st}" for m, f, n, st in sizes.answered_small]
    small_ru = [f"{m} кадр {f} ({n} байт) получил ответ {st}" for m, f, n, st in sizes.answered_small]
    en = f"Call-ID {sizes.call_id}: SIP over UDP in IP fragments or above {limit} bytes: {'; '.join(messages)}."
    ru = f"Call-ID {sizes.call_id}: SIP по UDP IP-фрагментами или больше {limit} байт: {'; '.join(messages_ru)}."
    if failed:
        en += f" Unanswered: {'; '.join(failed)}."
        ru += f" Без ответа: {'; '.join(failed_ru)}."
    if small:
        en += f" Smaller requests of the same device on the same path were answered: {'; '.join(small)}."
        ru += f" Меньшие запросы того же устройства по тому же пути получили ответ: {'; '.join(small_ru)}."
    en += " " + CONCLUSION[trigger][0]
    ru += " " + CONCLUSION[trigger][1]
    note_en, note_ru = offload_note(sizes, "en"), offload_note(sizes, "ru")
    frames = sizes.frames
    return Hit(sizes.call_id, frames, {
        "trigger": trigger, "count": len(sizes.fragmented) + len(sizes.large), "frame": frames[0], "limit": limit,
        "detail": en, "detail_ru": ru, "messages": messages, "failed": failed, "answered_small": small}, texts={
        "summary_en": en + (f" {note_en}" if note_en else ""), "summary_ru": ru + (f" {note_ru}" if note_ru else ""),
        **customer_words(dropped=severity == Severity.MAJOR, fragmented=bool(sizes.fragmented))},
        severity=severity, confidence=confidence)


def customer_words(*, dropped: bool, fragmented: bool = True) -> dict[str, str]:
    """The customer text's lead and action: pieces dropped (calls fail), or split / at risk only."""
    if dropped:
        return {
            "lead_en": "Some of your phone's call messages are too large to pass your router in one piece, and the "
                       "pieces are being dropped, so calls fail.",
            "lead_ru": "Часть служебных сообщений телефона слишком велика, чтобы пройти через роутер целиком, и её "
                       "части теряются, поэтому звонки не проходят.",
            "action_en": "Please switch off SIP ALG and any 'fragment' or 'flood' protection on the router; we can "
                         "also move your phone to SIP over TCP.",
            "action_ru": "Отключите на роутере SIP ALG и защиту от фрагментов или «флуда»; мы также можем перевести "
                         "телефон на SIP по TCP."}
    return {
        "lead_en": "Some of your phone's call messages are too large for your internet connection and travel split "
                   "into pieces, which some routers drop." if fragmented else
                   "Some of your phone's call messages are larger than is safe for their connection type: on some "
                   "connections they would be split into pieces, which some routers drop.",
        "lead_ru": "Часть служебных сообщений телефона слишком велика для вашего подключения и идёт по частям, "
                   "которые некоторые роутеры отбрасывают." if fragmented else
                   "Часть служебных сообщений телефона больше безопасного для их типа соединения размера: на "
                   "некоторых подключениях они разбились бы на части, которые некоторые роутеры отбрасывают.",
        "action_en": "We can move your phone to SIP over TCP, which avoids this.",
        "action_ru": "Мы можем перевести телефон на SIP по TCP, где этой проблемы нет."}
