"""The evidence of router.udp-fragmentation for one Call-ID (RULES.md §3.7): its SIP messages over UDP that travelled
in IP fragments, are larger than sip.large_udp_sip_bytes or come within 200 bytes of a path MTU the capture tells
(an ICMP "fragmentation needed" or Packet Too Big, RFC 3261 §18.1.1); which of them those sizes evidently lost - a
request unanswered until Timer B/F, a final response its sender had to send again and again - and whether smaller
messages of the same device on the same path got through.

Sizes come from `Analysis.udp_sizes` (sipdiag.udpsizes): every SIP message over UDP of the capture, not only the
messages kept in `Analysis.messages`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from ..addresses import address_host
from ..icmp import path_mtu, path_mtus
from ..udpsizes import UdpSize, UdpSizes, size_record, sizes_of
from . import Hit, Severity
from .nat import all_transactions
from .timers import (estimate_s, run_timers, sends_before_timeout, t1_ns, transaction_t1_estimate_ns,
                     transaction_t1_ns)

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..icmp import IcmpError
    from ..model import Transaction

# An Ethernet payload: a message larger than this that arrived in one packet was not seen as it crossed an Ethernet
# link (RULES.md FP pitfall: the capture host's NIC offload, GRO/LRO, reassembled it, or the capture ran on the
# sending host before the packet was fragmented).
ETHERNET_MTU = 1500
LISTED = 10  # messages named in the evidence; the count covers the rest
# RFC 3261 §18.1.1: a request within this many bytes of the path MTU MUST go over a congestion-controlled transport.
MTU_MARGIN = 200
# A final response sent this many times more, without an ACK (INVITE: the UAS retransmits until one comes, §13.3.1.4
# for a 2xx, Timer G §17.2.1 otherwise) or because the request kept coming (non-INVITE: the server answers each
# retransmission, §17.2.2), never reached the other side: after T1 + 2*T1 + 4*T1 = 3.5 s it is neither a slow ACK
# nor a race with a retransmission (the count call.ack-timeout-32s asks for).
LOST_RETRANSMISSIONS = 3


def udp_sizes(analysis: Analysis) -> UdpSizes:
    """The sizes collected while the capture was parsed; for an analysis built without them (the live engine's),
    those of the messages it kept."""
    if analysis.udp_sizes is not None:
        return analysis.udp_sizes
    sizes = analysis._memo.get("udp_sizes")
    if sizes is None:
        sizes = analysis._memo["udp_sizes"] = sizes_of(analysis.messages)
    return sizes


@dataclass
class Sized:
    """One distinct message (its retransmissions are copies of it) with its size and how it travelled."""

    msg: UdpSize
    copies: int = 1
    frames: list[int] = field(default_factory=list)  # every frame that carried a copy or a fragment of one
    mtu: IcmpError | None = None  # the report of the path MTU it comes within MTU_MARGIN bytes of
    lost: bool = False  # evidently never reached the other side (see CallSizes.failed)
    # a request's: the T1 its retransmissions show (sipdiag.siptimers; None: none), and the T1 its Timer B/F was
    # judged by (that estimate when it is another than the configured one, else the configured one)
    t1_estimate_ns: int | None = None
    judged_t1_ns: int | None = None

    @property
    def size(self) -> int:
        return self.msg.size

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
        if self.mtu is not None:
            mtu, icmp = path_mtu(self.mtu), self.mtu.frame
            how += (f", within {MTU_MARGIN} bytes of the path MTU {mtu} (ICMP frame {icmp})" if lang == "en" else
                    f", ближе {MTU_MARGIN} байт к MTU пути {mtu} (ICMP, кадр {icmp})")
        if lang == "en":
            return f"{self.label} frame {m.frame}: {self.size} bytes {how}" + (
                f", sent {sent} times" if sent > 1 else "")
        return f"{self.label} кадр {m.frame}: {self.size} байт {how}" + (f", отправок: {sent}" if sent > 1 else "")

    def failure(self, lang: str) -> str:
        """How it was evidently lost: a request never answered, a final response sent again and again."""
        m = self.msg
        if m.is_request:
            timer = "B" if m.method == "INVITE" else "F"
            # the T1 of its timer when the request's retransmissions showed another than the configured one (as
            # call.invite-timeout says it)
            note_en = note_ru = ""
            if self.judged_t1_ns is not None and self.judged_t1_ns != t1_ns():
                note_en = f", T1 = {self.judged_t1_ns / 1e9:g} s by its retransmissions"
                note_ru = f", T1 = {self.judged_t1_ns / 1e9:g} с по интервалам переотправки"
            return (f"{self.label} frame {m.frame} never answered (Timer {timer}{note_en})" if lang == "en" else
                    f"{self.label} кадр {m.frame} без ответа (таймер {timer}{note_ru})")
        if m.cseq_method == "INVITE":
            why = "§13.3.1.4" if (m.status_code or 0) < 300 else "§17.2.1, Timer G"
            return (f"{self.label} frame {m.frame} sent {self.copies} times, never acknowledged (no ACK, RFC 3261 "
                    f"{why})" if lang == "en" else
                    f"{self.label} кадр {m.frame}: отправок {self.copies}, ACK так и не пришёл (RFC 3261 {why})")
        method = m.cseq_method or "request"
        return (f"{self.label} frame {m.frame} sent {self.copies} times, as the {method} kept being retransmitted "
                f"(RFC 3261 §17.2.2)" if lang == "en" else
                f"{self.label} кадр {m.frame}: отправок {self.copies}, {method} переотправлялся снова и снова "
                f"(RFC 3261 §17.2.2)")


class Passed(NamedTuple):
    """A smaller message of the same device on the same path that evidently got through, and how that shows."""

    label: str  # the method of a request; "status (method)" of a response
    frame: int
    size: int
    how_en: str  # "answered 200", "acknowledged (ACK frame 9)", ...
    how_ru: str

    def text(self, lang: str) -> str:
        if lang == "en":
            return f"{self.label} frame {self.frame} ({self.size} bytes) {self.how_en}"
        return f"{self.label} кадр {self.frame} ({self.size} байт) {self.how_ru}"


@dataclass
class CallSizes:
    """What router.udp-fragmentation judges of one Call-ID."""

    call_id: str
    fragmented: list[Sized] = field(default_factory=list)  # trigger (a)
    # trigger (d): above the limit or within MTU_MARGIN bytes of a known path MTU, in one packet
    large: list[Sized] = field(default_factory=list)
    # messages of those two evidently lost: requests never answered (Timer B/F), final responses sent at least
    # LOST_RETRANSMISSIONS times more without an ACK or while the request kept coming
    failed: list[Sized] = field(default_factory=list)
    # trigger (c): for each failed message that has one, a smaller message of the same device on the same path that
    # got through
    answered_small: list[Passed] = field(default_factory=list)

    @property
    def frames(self) -> tuple[int, ...]:
        sized = self.fragmented + self.large
        icmp = {s.mtu.frame for s in sized if s.mtu is not None}
        return tuple(sorted({f for s in sized for f in s.frames} | icmp))


def call_sizes(analysis: Analysis, limit: int) -> list[CallSizes]:
    """One CallSizes per Call-ID with a UDP message fragmented, above `limit` bytes or within MTU_MARGIN bytes of
    its path's known MTU, in the order of its first such message; over every SIP message of the capture."""
    log = udp_sizes(analysis)
    mtus = path_mtus(analysis.icmp_errors)
    seen: dict[tuple, Sized] = {}
    by_call: dict[str, CallSizes] = {}
    for r in _records(analysis, log, limit, mtus):
        near = _near_mtu(r, mtus)
        if not r.call_id or not (r.fragments or r.size > limit or near is not None):
            continue
        copy = seen.get(r.copy_key)
        if copy is not None:  # a retransmission: byte for byte the same message again (RFC 3261 §17.1.1.2)
            copy.copies += 1
            copy.frames.extend(r.fragments or (r.frame,))
            continue
        sized = seen[r.copy_key] = Sized(r, frames=list(r.fragments or (r.frame,)), mtu=near)
        sizes = by_call.setdefault(r.call_id, CallSizes(r.call_id))
        (sizes.fragmented if r.fragments else sizes.large).append(sized)
    if not by_call:
        return []
    requests: dict[int, Transaction] = {}
    responses: dict[int, Transaction] = {}
    for t in all_transactions(analysis):
        if t.request_frame is not None:
            requests[t.request_frame] = t
        for _, frame, _ in t.responses:
            responses[frame] = t
    acks = _acks(analysis)
    for sizes in by_call.values():
        for s in sizes.fragmented + sizes.large:
            if s.msg.is_request:
                tx = requests.get(s.msg.frame)
                s.lost = tx is not None and _timed_out(analysis, tx)
                if s.lost and tx is not None:
                    s.t1_estimate_ns = transaction_t1_estimate_ns(tx, analysis.capture.clock)
                    s.judged_t1_ns = run_timers().t1_for(s.t1_estimate_ns)
            else:
                tx = responses.get(s.msg.frame)
                s.lost = tx is not None and _unacknowledged(s, tx, acks)
            if s.lost:
                sizes.failed.append(s)
    lost = {s.msg.frame for sizes in by_call.values() for s in sizes.failed}
    if not lost:
        return list(by_call.values())
    small = _passed_small(analysis, log, limit, mtus, lost, acks)
    for sizes in by_call.values():
        for s in sizes.failed:
            ok = small.get((s.msg.src_ip, s.msg.dst_ip))
            if ok is not None and ok.size < s.size and ok not in sizes.answered_small:
                sizes.answered_small.append(ok)
    return list(by_call.values())


def _records(analysis: Analysis, log: UdpSizes, limit: int, mtus: dict[tuple[str, str], IcmpError]
             ) -> list[UdpSize]:
    """The records of the capture in frame order; where a threshold lies below the size the log keeps records from
    (a limit set under it, a tiny path MTU), the kept messages' records too (the only ones known in full)."""
    floor = min([limit] + [path_mtu(e) - MTU_MARGIN for e in mtus.values()])
    if floor >= log.above:
        return list(log.records)
    known = {r.frame for r in log.records}
    more = [size_record(m) for m in analysis.messages if m.transport == "udp" and m.frame not in known]
    return sorted(list(log.records) + more, key=lambda r: r.frame)


def _near_mtu(r: UdpSize, mtus: dict[tuple[str, str], IcmpError]) -> IcmpError | None:
    """The report of the path MTU of r's path when r is within MTU_MARGIN bytes of it (RFC 3261 §18.1.1)."""
    e = mtus.get((r.src_ip, r.dst_ip))
    return e if e is not None and r.size >= path_mtu(e) - MTU_MARGIN else None


def _acks(analysis: Analysis) -> dict[tuple[str | None, int | None], int]:
    """(Call-ID, CSeq number) -> the frame of the first ACK for that INVITE (RFC 3261 §17.1.1.3, §13.2.2.4)."""
    out: dict[tuple[str | None, int | None], int] = {}
    for call in analysis.calls:
        for m in call.messages:
            if m.method == "ACK":
                out.setdefault((call.call_id, m.cseq), m.frame)
    return out


def _timed_out(analysis: Analysis, tx: Transaction) -> bool:
    """No response at all, and Timer B or F ran out (RFC 3261 §17.1.1.2, §17.1.2.2): 64*T1 passed before the capture
    ended, or the whole retransmission schedule over UDP went out (a capture cut at the last copy shows that). T1:
    the sender's own when its retransmissions show another than the configured one (RULES.md §0.5, T1_est)."""
    if tx.responses:
        return False
    clock = analysis.capture.clock
    t1 = transaction_t1_ns(tx, clock)
    if tx.request_retransmissions + 1 >= sends_before_timeout(tx.method != "INVITE", t1):
        return True
    return _waited(analysis, tx, 64 * t1)


def _waited(analysis: Analysis, tx: Transaction, ns: int) -> bool:
    """The capture went on for `ns` after the transaction's request (no clock step between)."""
    end = analysis.capture.last_ts_ns or 0
    waited = analysis.capture.clock.elapsed_ns(tx.ts_frame, tx.ts_ns, analysis.capture.packets, end)
    return waited is not None and waited >= ns


def _unacknowledged(s: Sized, tx: Transaction, acks: dict[tuple[str | None, int | None], int]) -> bool:
    """A final response sent LOST_RETRANSMISSIONS times more: to an INVITE with no ACK in the capture, to any other
    request because that request kept coming (each copy answers one, RFC 3261 §17.2.2)."""
    if (s.msg.status_code or 0) < 200 or s.copies - 1 < LOST_RETRANSMISSIONS:
        return False
    return tx.method != "INVITE" or (tx.call_id, tx.cseq) not in acks


def _passed_small(analysis: Analysis, log: UdpSizes, limit: int, mtus: dict[tuple[str, str], IcmpError],
                  lost: set[int], acks: dict[tuple[str | None, int | None], int]) -> dict[tuple[str, str], Passed]:
    """(source host, destination host) -> the first UDP message between them, in one packet, at most `limit` bytes
    and not near the path's MTU, that evidently got through: a request answered; a final response to an INVITE
    acknowledged; a response whose request was sent once while the capture went on for T1 and more (Timer A or E
    would have sent it again, RFC 3261 §17.1.1.2, §17.1.2.2) - for a provisional to an INVITE, when no final
    response came within T1 either (or it was lost), for only the provisional then stopped Timer A."""
    fragmented = {r.frame for r in log.records if r.fragments}
    t1 = t1_ns()
    clock = analysis.capture.clock

    def small(frame: int, path: tuple[str, str]) -> int | None:
        size = log.size_at(frame)
        if size is None or frame in fragmented or size > limit:
            return None
        e = mtus.get(path)
        return None if e is not None and size >= path_mtu(e) - MTU_MARGIN else size

    out: dict[tuple[str, str], Passed] = {}

    def offer(path: tuple[str, str], p: Passed) -> None:
        if path not in out or p.frame < out[path].frame:
            out[path] = p

    for t in all_transactions(analysis):
        if not t.responses or t.request_frame is None:
            continue
        there = (address_host(t.src), address_host(t.dst))
        back = (there[1], there[0])
        if (n := small(t.request_frame, there)) is not None:
            status = t.final_status or t.responses[0][0]
            offer(there, Passed(t.method, t.request_frame, n, f"answered {status}", f"получил ответ {status}"))
        invite = t.method == "INVITE"
        once = t.request_retransmissions == 0 and _waited(analysis, t, t1)
        if invite and once and t.final_frame is not None and t.final_frame not in lost:
            late = clock.elapsed_ns(t.ts_frame, t.ts_ns, t.final_frame, t.final_ts_ns or 0)
            once = late is not None and late >= t1
        for status, frame, _ in t.responses:
            if (n := small(frame, back)) is None:
                continue
            label = f"{status} ({t.method})"
            if invite and status >= 200:
                if (ack := acks.get((t.call_id, t.cseq))) is not None:
                    offer(back, Passed(label, frame, n, f"acknowledged (ACK frame {ack})",
                                       f"подтверждён (ACK, кадр {ack})"))
            elif once and (invite or status >= 200):
                offer(back, Passed(label, frame, n, f"arrived: the {t.method} was not retransmitted",
                                   f"дошёл: {t.method} не переотправлялся"))
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
    "near-path-mtu": ("Not fragmented here, but within 200 bytes of the path MTU an ICMP error reported: a little "
                      "more (a longer SDP, a header added on the way) and it is fragmented or dropped.",
                      "Здесь не фрагментированы, но ближе 200 байт к MTU пути, о котором сообщила ошибка ICMP: "
                      "чуть больше (длиннее SDP, заголовок, добавленный по дороге) - и сообщение будет "
                      "фрагментировано или отброшено."),
    "large-unfragmented": ("Not fragmented here, but at risk on a path with a smaller MTU (PPPoE 1492, VPN about "
                           "1400).",
                           "Здесь не фрагментированы, но под риском на пути с меньшим MTU (PPPoE 1492, VPN около "
                           "1400)."),
}


# A fragmented response sent again and again is lost the same way; the request's words would not fit it.
CONCLUSION_RESPONSE = {**CONCLUSION, "fragmented-unanswered": (
    "A fragmented response was sent again and again: its fragments were likely dropped after the capture point.",
    "Фрагментированный ответ отправлялся снова и снова: вероятно, его фрагменты отброшены после точки захвата.")}


def sizes_hit(sizes: CallSizes, limit: int, incomplete: bool) -> Hit:
    """One Call-ID's finding: the trigger that holds (RULES.md: (c), or (a) with (b), major; (a) or (d) minor)."""
    sized = sizes.fragmented + sizes.large
    near = [s.mtu for s in sized if s.mtu is not None]
    conclusion = CONCLUSION
    if sizes.answered_small:
        trigger, severity, confidence = "large-fails-small-works", Severity.MAJOR, "high"
    elif lost := [s for s in sizes.failed if s.msg.fragments]:
        trigger, severity, confidence = "fragmented-unanswered", Severity.MAJOR, "medium"
        if not lost[0].msg.is_request:
            conclusion = CONCLUSION_RESPONSE
    elif sizes.fragmented and incomplete:
        trigger, severity, confidence = "fragmented-and-incomplete", Severity.MAJOR, "medium"
    elif sizes.fragmented:
        trigger, severity, confidence = "fragmented", Severity.MINOR, "high"
    elif near:
        trigger, severity, confidence = "near-path-mtu", Severity.MINOR, "high"
    else:
        trigger, severity, confidence = "large-unfragmented", Severity.MINOR, "medium"
    listed = sized[:LISTED]
    messages = [s.text("en") for s in listed]
    messages_ru = [s.text("ru") for s in listed]
    failed = [s.failure("en") for s in sizes.failed]
    small = [p.text("en") for p in sizes.answered_small]
    small_ru = [p.text("ru") for p in sizes.answered_small]
    if near:
        what = f"in IP fragments, above {limit} bytes or within {MTU_MARGIN} bytes of the path MTU"
        what_ru = f"IP-фрагментами, больше {limit} байт или ближе {MTU_MARGIN} байт к MTU пути"
    else:
        what, what_ru = f"in IP fragments or above {limit} bytes", f"IP-фрагментами или больше {limit} байт"
    en = f"Call-ID {sizes.call_id}: SIP over UDP {what}: {'; '.join(messages)}."
    ru = f"Call-ID {sizes.call_id}: SIP по UDP {what_ru}: {'; '.join(messages_ru)}."
    unanswered = [s for s in sizes.failed if s.msg.is_request]
    unacknowledged = [s for s in sizes.failed if not s.msg.is_request]
    if unanswered:
        en += f" Unanswered: {'; '.join(s.failure('en') for s in unanswered)}."
        ru += f" Без ответа: {'; '.join(s.failure('ru') for s in unanswered)}."
    if unacknowledged:
        en += f" Lost on the way: {'; '.join(s.failure('en') for s in unacknowledged)}."
        ru += f" Потеряны в пути: {'; '.join(s.failure('ru') for s in unacknowledged)}."
    if small:
        en += f" Smaller messages of the same device on the same path got through: {'; '.join(small)}."
        ru += f" Меньшие сообщения того же устройства по тому же пути дошли: {'; '.join(small_ru)}."
    en += " " + conclusion[trigger][0]
    ru += " " + conclusion[trigger][1]
    note_en, note_ru = offload_note(sizes, "en"), offload_note(sizes, "ru")
    frames = sizes.frames
    mtu = min((path_mtu(e) for e in near), default=None)
    return Hit(sizes.call_id, frames, {
        "trigger": trigger, "count": len(sized), "frame": frames[0], "limit": limit, "path_mtu": mtu,
        "detail": en, "detail_ru": ru, "messages": messages, "failed": failed, "answered_small": small,
        # the T1 the first unanswered request's retransmissions show (None: none, or no request unanswered), by
        # which its Timer B/F was judged
        "t1_estimate_s": estimate_s(unanswered[0].t1_estimate_ns) if unanswered else None}, texts={
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
