"""Mid-call signalling rules (RULES.md §3.5): what happens to an answered call after the ACK — session refreshes
(RFC 4028), in-dialog requests that cannot reach their target, failed re-INVITEs/UPDATEs, and media that stops
while the dialog goes on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import address_host, address_port, join_address
from ..media import is_private
from ..parties import direction_en, direction_ru, ender_en, ender_ru
from ..transactions import is_success
from . import Hit, Severity, check, times_en
from .settings import setting
from .timers import estimate_s, sends_before_timeout, transaction_t1_estimate_ns, transaction_t1_ns

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call, Transaction
    from ..parsers.scan import CaptureInfo

NS = 10**9
# RFC 3261 §17.1.1.2 / §17.1.2.2: a client transaction gives up 64*T1 (32 s with the default T1) after its request,
# having sent it on the Timer A (INVITE) or Timer E schedule over UDP: sipdiag.checks.timers, as configured, or the
# sender's own T1 when its retransmissions show another (RULES.md §0.5, T1_est: _timeout_s).
# RFC 4028 §10: the side that does not refresh sends BYE min(32 s, SE/3) before the session expires; a BYE within
# this many seconds of that instant (or of the expiry itself) is taken as the timer's.
SESSION_BYE_TOLERANCE_S = 5.0
# A BYE this soon after a failed re-INVITE/UPDATE is the consequence of the failure (the UA gives up on the call).
DROP_AFTER_FAILURE_S = 10.0
GLARE_LOOP = 4  # RULES.md call.reinvite-failed: more than three 491 Request Pending in a row
HUNG_DIALOG_S = 60.0  # RULES.md call.media-timeout-or-hung (b): no BYE this long after the media stopped
REFRESH_METHODS = ("INVITE", "UPDATE")  # RFC 4028 §7: a session is refreshed with a re-INVITE or an UPDATE


def _answer_ns(call: Call) -> int | None:
    return call.start_ns + int(call.answer_ms * 1e6) if call.answer_ms is not None else None


def _bye_ns(call: Call) -> int | None:
    """The BYE's time: the answer plus the duration, which ends at the BYE (sipdiag.dialogs); else looked up."""
    if call.bye_frame is None:
        return None
    answer = _answer_ns(call)
    if answer is not None and call.duration_s is not None:
        return answer + round(call.duration_s * NS)
    return next((m.ts_ns for m in call.messages if m.frame == call.bye_frame), None)


def _failed(t: Transaction, capture: CaptureInfo, capture_end_ns: int | None = None) -> bool:
    """Failed or given up: a final status of 3xx-6xx other than an auth challenge (the UA retries with
    credentials), or no final response although the request was retransmitted or its timeout has passed before
    the end of the capture (capture_end_ns: its last record's time, unless given; unknown across a clock step)."""
    if t.final_status is not None:
        return t.final_status >= 300 and t.final_status not in (401, 407)
    waited = _waited_ns(t, capture, capture_end_ns)
    return t.request_retransmissions >= 2 or (waited is not None and waited / NS >= _timeout_s(t, capture))


def _timeout_s(t: Transaction, capture: CaptureInfo) -> float:
    """64*T1 of the request's transaction, in s: the configured T1, or its sender's own (transaction_t1_ns)."""
    return 64 * transaction_t1_ns(t, capture.clock) / NS


def _waited_ns(t: Transaction, capture: CaptureInfo, capture_end_ns: int | None = None) -> int | None:
    """How long the capture runs on after the request (to capture_end_ns, else its last record); None across a
    clock step (sipdiag.clocksteps)."""
    end = (capture.last_ts_ns or 0) if capture_end_ns is None else capture_end_ns
    return capture.clock.elapsed_ns(t.ts_frame, t.ts_ns, capture.packets, end)


def _sound(analysis: Analysis, *frames: int | None) -> bool:
    """No step of the capture's clock between the first and the last of `frames` (sipdiag.clocksteps): the times
    of the records between can be compared."""
    known = [f for f in frames if f is not None]
    return not analysis.capture.clock.stepped or (len(known) == len(frames) and
                                                  analysis.capture.clock.sound(min(known), max(known)))


def _shown_at(t: Transaction) -> int:
    """The frame that shows a transaction: its request; when the capture began after the request, the response
    the finding is about (its final one: the 422, the refresh's error), else its first. Evidence cites frames that
    exist (1-based, as Wireshark numbers them), never a stand-in 0."""
    if t.request_frame is not None:
        return t.request_frame
    return next((frame for code, frame, _ in t.responses if code == t.final_status), t.responses[0][1])


def _outcome(t: Transaction, ru: bool = False) -> str:
    if t.final_status is not None:
        return str(t.final_status)
    if ru:
        return f"нет ответа (переотправок: {t.request_retransmissions})"
    return f"no response ({t.request_retransmissions} retransmissions)"


def _s(ns: int) -> float:
    return round(ns / NS, 1)


@check(
    id="call.session-timer-expiry", category="signaling", severity="major", owner="engineering",
    title={
        "en": "Call ended by the session timer: the periodic refresh failed or never came",
        "ru": "Вызов завершён таймером сеанса: периодическое обновление не удалось или так и не пришло",
    },
    customer={
        "en": "{lead_en} No action is needed on your side: we are correcting this setting.",
        "ru": "{lead_ru} С вашей стороны ничего делать не нужно: мы исправляем эту настройку.",
    },
    engineer={
        "en": "Call {call_id}: {detail_en} RFC 4028 §7-§10: the refresher must send a "
              "re-INVITE/UPDATE at SE/2, the other side tears the session down min(32 s, SE/3) before expiry. "
              "Check the SBC's session-timer policy, the device's timer support and whether in-dialog requests "
              "reach the refresher's peer (NAT, SIP ALG).",
        "ru": "Вызов {call_id}: {detail_ru} RFC 4028 §7-§10: refresher обязан "
              "прислать re-INVITE/UPDATE на SE/2, другая сторона завершает сеанс за min(32 с, SE/3) до истечения. "
              "Проверьте политику таймера сеанса на SBC, поддержку таймера в устройстве и доходят ли запросы "
              "внутри диалога (NAT, SIP ALG).",
    },
)
def session_timer_expiry(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An answered call whose 2xx set a session timer (RFC 4028 Session-Expires) and that ended by it: the refresh
    re-INVITE/UPDATE failed (an error, 491 loops, no response) and a BYE followed; or no refresh came at all and
    a BYE arrived when the non-refreshing side gives up (min(32 s, SE/3) before expiry) or at expiry. Also a call
    refused after repeated 422 Session Interval Too Small.

    ## Why it matters
    Calls drop at a fixed length (often 15 or 30 minutes, 1.5 minutes with the minimum 90 s interval): the
    refresher does not refresh, or its refresh does not reach the other side (private Contact, SIP ALG).

    ## How to fix
    Align the session-timer policy of the SBC and the devices (who refreshes, interval, `Supported: timer`); make
    sure in-dialog requests reach the peer (Record-Route, Contact fixing); or disable session timers on the leg
    that cannot refresh.

    ## References
    RFC 4028 §4, §5, §6 (422), §7-§10; RFC 3261 §12.2
    """
    for call in analysis.calls:
        invites = [t for t in call.transactions if t.method == "INVITE" and not t.in_dialog]
        too_small = [t for t in invites if t.final_status == 422]
        # RFC 4028 §6: after a 422 the UAC retries once with an interval of at least Min-SE; a call refused with
        # 422 in the end, or refused twice, is a loop between incompatible timer policies
        if call.final_status == 422 or len(too_small) >= 2:
            refused = call.final_status == 422
            yield Hit(call.call_id, tuple(_shown_at(t) for t in too_small), {
                "call_id": call.call_id, "case": "422-loop", "min_se_s": call.min_se_s, "rejections": len(too_small),
                "t1_estimate_s": None,  # refused, not timed out
                **_SESSION_LEADS["refused" if refused else "slow"],
                "detail_en": f"The INVITE was refused {len(too_small)} time(s) with 422 Session Interval Too Small "
                             f"(Min-SE {call.min_se_s}){'' if refused else ' before it was accepted'}.",
                "detail_ru": f"INVITE отклонён {len(too_small)} раз с 422 Session Interval Too Small "
                             f"(Min-SE {call.min_se_s}){'' if refused else ', затем принят'}.",
            }, severity=Severity.MAJOR if refused else Severity.MINOR)
            continue
        se = call.session_expires_s
        answer, bye = _answer_ns(call), _bye_ns(call)
        if call.outcome != "answered" or not se or answer is None or bye is None:
            continue
        if not _sound(analysis, call.start_at, call.bye_frame):
            continue  # when the BYE came is not known: the clock steps in the call
        refreshes = [t for t in call.transactions if t.in_dialog and t.method in REFRESH_METHODS
                     and answer < t.ts_ns < bye]
        ok = [t for t in refreshes if t.final_status is not None and is_success(t.final_status)]
        last_ok = max((t.final_ts_ns or t.ts_ns for t in ok), default=answer)
        failed = [t for t in refreshes if t.ts_ns >= last_ok and _failed(t, analysis.capture,
                                                                          analysis.capture.last_ts_ns or bye)]
        since = (bye - last_ok) / NS
        give_up = se - min(32.0, se / 3)
        frames: tuple[int, ...]
        estimate = None
        if failed:
            case, confidence = "refresh-failed", "high"
            first = failed[0]
            if first.final_status is None:  # failed by its timeout (_failed): the T1 it was judged by
                estimate = transaction_t1_estimate_ns(first, analysis.capture.clock)
            what_en = (f"The refresh {first.method} (frame {_shown_at(first)}) failed: {_outcome(first)}"
                       + (f", {len(failed)} attempts." if len(failed) > 1 else "."))
            what_ru = (f"Обновление {first.method} (кадр {_shown_at(first)}) не удалось: {_outcome(first, ru=True)}"
                       + (f", попыток {len(failed)}." if len(failed) > 1 else "."))
            frames = tuple(_shown_at(t) for t in failed) + (call.bye_frame,)  # bye is known: so is its frame
        elif not refreshes and (abs(since - give_up) <= SESSION_BYE_TOLERANCE_S
                                or abs(since - se) <= SESSION_BYE_TOLERANCE_S):
            case = "no-refresh"
            # a platform's maximum call length may fall on the same instant: the Reason says which it was
            confidence = "high" if call.end_reason and "timer" in call.end_reason.lower() else "medium"
            what_en, what_ru = "No refresh was sent.", "Обновление не отправлялось."
            frames = (call.bye_frame,)
        else:
            continue
        ok_frame = next((frame for code, frame, _ in invites[-1].responses if is_success(code)), "?") if invites \
            else "?"
        refresher = call.session_refresher or "not chosen"
        reason = f" (Reason: {call.end_reason})" if call.end_reason else ""
        minutes = (bye - answer) / NS / 60
        length_en = f"{round(minutes)} minutes" if minutes >= 1.5 else f"{round(minutes * 60)} seconds"
        length_ru = f"{round(minutes)} мин." if minutes >= 1.5 else f"{round(minutes * 60)} с"
        yield Hit(call.call_id, frames, {
            "call_id": call.call_id, "case": case, "session_expires_s": se, "refresher": refresher,
            "ok_frame": ok_frame, "expected_refresh_s": round(se / 2, 1), "bye_frame": call.bye_frame,
            "bye_after_s": _s(bye - answer), "ended_by": call.ended_by, "reason": call.end_reason,
            "lead_en": f"Your longer calls are being cut after about {length_en} because a periodic check between "
                       f"the systems that the call is still up does not succeed.",
            "lead_ru": f"Ваши длинные звонки обрываются примерно через {length_ru}, потому что периодическая "
                       f"проверка между системами, что звонок ещё идёт, не проходит.",
            "detail_en": f"Session-Expires {se} s, refresher {refresher} (2xx frame {ok_frame}); a refresh was due "
                         f"{round(se / 2, 1)} s after the answer. {what_en} The {ender_en(call)} sent BYE (frame "
                         f"{call.bye_frame}) {_s(bye - answer)} s after the answer{reason}.",
            "detail_ru": f"Session-Expires {se} с, refresher {call.session_refresher or 'не выбран'} (2xx, кадр "
                         f"{ok_frame}); обновление "
                         f"ожидалось через {round(se / 2, 1)} с после ответа. {what_ru} BYE от "
                         f"{ender_ru(call)} (кадр {call.bye_frame}) через "
                         f"{_s(bye - answer)} с после ответа{reason}.",
            # the T1 the failed refresh's retransmissions show (None: none, or it was answered), by which its
            # timeout was judged
            "t1_estimate_s": estimate_s(estimate),
        }, confidence=confidence)


_SESSION_LEADS = {
    "refused": {"lead_en": "Your call could not be set up because the two systems could not agree how often to check "
                           "that a call is still up.",
                "lead_ru": "Ваш звонок не удалось установить: две системы не договорились, как часто проверять, "
                           "что звонок ещё идёт."},
    "slow": {"lead_en": "Setting up your call took several attempts because the two systems disagreed how often to "
                        "check that a call is still up.",
             "lead_ru": "Установка звонка потребовала нескольких попыток: системы не договорились, как часто "
                        "проверять, что звонок ещё идёт."},
}


@check(
    id="call.in-dialog-request-misrouted", category="signaling", severity="major", owner="engineering",
    title={
        "en": "In-dialog request sent to a target it cannot reach",
        "ru": "Запрос внутри диалога отправлен на недостижимый адрес",
    },
    customer={
        "en": "Messages needed to hold, transfer or hang up your calls cannot reach your phone. No action is "
              "needed on your side: we are fixing how our system addresses your phone.",
        "ru": "Сообщения, нужные для удержания, перевода и завершения ваших звонков, не доходят до вашего "
              "телефона. С вашей стороны ничего делать не нужно: мы исправляем адресацию телефона в нашей системе.",
    },
    engineer={
        "en": "Call {call_id}: {method} (frame {frame}) from {source} went to {target}, {why_en}; outcome: "
              "{outcome}. In-dialog requests follow the remote target (Contact) and the route set (Record-Route, "
              "RFC 3261 §12.2.1.1): Record-Route on the NAT-aware proxy and rewrite the target to the source "
              "address (Kamailio add_contact_alias/handle_ruri_alias, Asterisk rewrite_contact=yes), or switch "
              "off a SIP ALG that rewrites the Contact.",
        "ru": "Вызов {call_id}: {method} (кадр {frame}) от {source} ушёл на {target}, {why_ru}; итог: {outcome_ru}. "
              "Запросы внутри диалога идут на удалённую цель (Contact) по набору маршрутов (Record-Route, RFC 3261 "
              "§12.2.1.1): добавьте Record-Route на прокси, знающем о NAT, и подменяйте цель на адрес источника "
              "(Kamailio add_contact_alias/handle_ruri_alias, Asterisk rewrite_contact=yes) или отключите SIP ALG, "
              "переписывающий Contact.",
    },
)
def in_dialog_request_misrouted(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An in-dialog request (BYE, re-INVITE, UPDATE, INFO, NOTIFY, REFER, ACK for a 2xx) that failed (no response
    until its timeout, 408 or 481) and was sent where its receiver cannot be reached: to a private address by a
    host with a public one, or over UDP to a port the receiver never sent from (the Contact port instead of its NAT
    binding). An ACK counts when it went to a private address and the 2xx went on being retransmitted.

    ## Why it matters
    Hang-ups do not arrive (hung calls, over-billing), hold and transfer fail, calls drop after 32 s when the ACK
    is lost.

    ## How to fix
    Record-Route on the proxy that knows about the NAT, and send in-dialog requests to the address and port the
    device's requests came from (contact aliasing, rewrite_contact); switch off SIP ALGs that rewrite Contact.

    ## References
    RFC 3261 §12.2.1.1, §16.6, §20.30; RFC 3581 (rport); RFC 5626
    """
    for call in analysis.calls:
        failed = [t for t in call.transactions if t.in_dialog and t.method not in ("ACK", "CANCEL")
                  and t.request_frame is not None and (t.final_status in (408, 481) or (
                      t.final_status is None and _failed(t, analysis.capture)))]
        if failed:
            ports: dict[str, set[int]] = {}  # host -> ports its SIP came from (UDP): where it is reachable
            transport = {}
            for m in call.messages:
                transport[m.frame] = m.transport
                if m.transport == "udp":
                    ports.setdefault(m.src_ip, set()).add(m.src_port)
            hit = next((_misrouted_hit(call, t.method, t.request_frame, t.src, t.dst, why,
                                       (_outcome(t), _outcome(t, ru=True)),
                                       None if t.final_status is not None else
                                       transaction_t1_estimate_ns(t, analysis.capture.clock))
                        for t in failed if (why := _unreachable(t.src, t.dst, ports, transport.get(t.request_frame)))),
                       None)
            if hit is not None:
                yield hit
                continue
        invite = next((t for t in reversed(call.transactions) if t.method == "INVITE" and not t.in_dialog
                       and t.final_status is not None and is_success(t.final_status)), None)
        if invite is None or invite.response_retransmissions < 3:
            continue
        ack = next((m for m in call.messages if m.method == "ACK" and m.cseq == invite.cseq
                    and not m.retransmission and is_private(m.dst_ip) and not is_private(m.src_ip)), None)
        if ack is not None:
            yield _misrouted_hit(call, "ACK", ack.frame, join_address(ack.src_ip, ack.src_port),
                                 join_address(ack.dst_ip, ack.dst_port), "private",
                                 (f"the 2xx was retransmitted {times_en(invite.response_retransmissions)} after it",
                                  f"2xx после него переотправлен {invite.response_retransmissions} раз"))


def _unreachable(src: str, dst: str, ports: dict[str, set[int]], transport: str | None) -> str | None:
    if is_private(address_host(dst)) and not is_private(address_host(src)):
        return "private"
    seen = ports.get(address_host(dst))
    if transport == "udp" and seen and len(seen) == 1 and address_port(dst) not in seen:
        return "port"
    return None


def _misrouted_hit(call: Call, method: str, frame: int, src: str, dst: str, why: str,
                   outcome: tuple[str, str], t1_estimate_ns: int | None = None) -> Hit:
    """outcome: what became of the request, in English and Russian; t1_estimate_ns: the T1 the retransmissions of
    a request failed by its timeout show (sipdiag.siptimers), by which that timeout was judged."""
    seen = sorted({join_address(m.src_ip, m.src_port) for m in call.messages if m.src_ip == address_host(dst)})
    if why == "private":
        why_en = "a private address the sender (on the public side) cannot reach"
        why_ru = "приватный адрес, недостижимый для отправителя с публичной стороны"
    else:
        why_en = f"a port its receiver never sent from (its SIP came from {', '.join(seen)}: the NAT binding)"
        why_ru = f"порт, с которого получатель никогда не отправлял (его SIP шёл с {', '.join(seen)}: NAT-привязка)"
    return Hit(call.call_id, (frame,), {
        "call_id": call.call_id, "method": method, "frame": frame, "source": src, "target": dst, "why": why,
        "why_en": why_en, "why_ru": why_ru, "outcome": outcome[0], "outcome_ru": outcome[1],
        "reachable_at": ", ".join(seen) or None,
        # None: none shown, or the request was answered (408, 481) or is the ACK, judged by no timer
        "t1_estimate_s": estimate_s(t1_estimate_ns),
    })


@check(
    id="call.reinvite-failed", category="signaling", severity="minor", owner="engineering",
    title={
        "en": "Mid-call re-INVITE or UPDATE failed",
        "ru": "Не удался re-INVITE или UPDATE во время вызова",
    },
    customer={
        "en": "{lead_en} {action_en}",
        "ru": "{lead_ru} {action_ru}",
    },
    engineer={
        "en": "Call {call_id}: {method} for {purpose} (frame {frame}) {result_en}{glare_en}{after_en} "
              "(RFC 3261 §14, §14.1; RFC 3264 §8).",
        "ru": "Вызов {call_id}: {method} для {purpose_ru} (кадр {frame}) {result_ru}{glare_ru}{after_ru} "
              "(RFC 3261 §14, §14.1; RFC 3264 §8).",
    },
)
def reinvite_failed(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An in-dialog re-INVITE or UPDATE (hold, resume, codec change, T.38, session refresh) answered with an error
    (488, 491, 500, 408, 481, ...) or never answered, and glare loops of more than three 491 Request Pending in a
    row. A re-INVITE or UPDATE whose request the capture does not hold counts by its final response (what it
    asked for is then unknown). One 491 followed by a successful retry is normal and not reported. Major when the
    call ends within 10 s of the failure, minor when it goes on; information when a T.38 fax offer is declined
    (the call continues in audio, as designed).

    A request with no response in the capture was not refused: when the capture runs on 64*T1 after it (32 s with
    the default `sip.t1_default_ms`; or holds its whole retransmission schedule), its transaction timed out (Timer B
    for a re-INVITE, Timer F for an UPDATE, RFC 3261 §17.1.1.2, §17.1.2.2), and a BYE up to 10 s after that timeout
    (or before it, while the request was unanswered) ended the call with it.
    When the capture ends before the timer could fire (or its clock steps in between), the request counts only if
    it was retransmitted at least twice unanswered, and at low confidence: the texts say that the capture does not
    show how it ended (the answer may have come after the capture stopped), not that the far end refused it.

    ## Why it matters
    Hold, transfer and fax fail; a failed session refresh ends the call.

    ## How to fix
    Compare the offer with the answer (codec lists, SRTP, T.38 support); for 491 loops check that both sides wait
    the random 2.1-4 s / 0-2 s of §14.1 before retrying; for no response see whether in-dialog requests reach the
    peer (NAT, SIP ALG).

    ## References
    RFC 3261 §14, §14.1, §21.4.27; RFC 3264 §8, §8.4; RFC 3311 (UPDATE)
    """
    for call in analysis.calls:
        # with their request, or known by their final response only (the capture began after the request, or
        # missed it): how that ended is in the capture, what it asked for is not
        mid = sorted((t for t in call.transactions if t.in_dialog and t.method in REFRESH_METHODS
                      and (t.request_frame is not None or t.final_status is not None)), key=lambda t: t.ts_ns)
        if not mid:
            continue
        offers = {n.offer_frame: n for n in call.negotiations}
        glare = longest = 0
        failure = None
        for t in mid:
            if t.final_status == 491:
                glare += 1
                longest = max(longest, glare)
                continue
            if t.final_status is not None and is_success(t.final_status):
                glare = 0
                continue
            if failure is None and _failed(t, analysis.capture):
                failure = t
        last = mid[-1]
        if failure is None and last.final_status == 491:
            failure = last  # the last try was refused and not repeated
        if failure is None and longest < GLARE_LOOP:
            continue
        t = failure or next(t for t in mid if t.final_status == 491)
        frame = _shown_at(t)
        n = offers.get(t.request_frame or -1)
        fax = n is not None and any(m.media == "image" for m in n.offer)
        purpose, purpose_ru = _purpose(n, call, t)
        bye = _bye_ns(call)
        done = t.final_ts_ns or t.ts_ns
        answered = t.final_status is not None
        # An unanswered request fails when its timer fires, 64*T1 after it: a BYE until 10 s after that, or before
        # it while the request waited (RFC 3261 §12.2.1.2: a UAC ends the dialog on a timeout), came with it.
        # Across a clock step it is not known whether the BYE followed the failure at once.
        window = DROP_AFTER_FAILURE_S + (0 if answered else _timeout_s(t, analysis.capture))
        dropped = bye is not None and 0 <= (bye - done) / NS <= window and _sound(
            analysis, t.final_frame if t.final_ts_ns else t.ts_frame, call.bye_frame)
        unanswered = None if answered else _unanswered(t, analysis.capture)
        if fax and t.final_status in (415, 488, 606):
            severity, lead = Severity.INFO, "fax"
        elif dropped:
            severity, lead = Severity.MAJOR, "drop"
        else:
            severity, lead = (Severity.MINOR if longest < GLARE_LOOP else Severity.MAJOR), "change"
        if unanswered is None:
            result_en, result_ru = f"was answered {t.final_status}", f"получил ответ {t.final_status}"
            after_en, after_ru = "; the call went on", "; вызов продолжился"
            later_en, later_ru = "later", ""
        else:
            case, result_en, result_ru = unanswered
            lead += "-timeout" if case == "timeout" else "-unanswered"
            # after an unanswered request that did not time out in the capture, "went on" would be a guess
            after_en, after_ru = ("; the call went on", "; вызов продолжился") if case == "timeout" else ("", "")
            later_en, later_ru = f"after the {t.method}", f" после {t.method}"
        if dropped and bye is not None:
            after_en = f"; the call was ended {_s(bye - done)} s {later_en} (BYE frame {call.bye_frame})"
            after_ru = f"; вызов завершён через {_s(bye - done)} с{later_ru} (BYE, кадр {call.bye_frame})"
        yield Hit(call.call_id, (frame,) + ((call.bye_frame,) if dropped and call.bye_frame else ()), {
            "call_id": call.call_id, "method": t.method, "frame": frame, "status": t.final_status,
            "purpose": purpose, "purpose_ru": purpose_ru, "glare_491": longest,
            "no_response": unanswered[0] if unanswered else None,
            "result_en": result_en, "result_ru": result_ru,
            "glare_en": f"; {longest} x 491 Request Pending in a row (glare loop)" if longest >= GLARE_LOOP else "",
            "glare_ru": f"; {longest} x 491 Request Pending подряд (цикл glare)" if longest >= GLARE_LOOP else "",
            "bye_after_s": _s(bye - done) if dropped and bye is not None else None,
            "after_en": after_en, "after_ru": after_ru,
            # the T1 an unanswered request's retransmissions show (None: none, or answered), by which its timeout
            # was judged
            "t1_estimate_s": None if answered else estimate_s(transaction_t1_estimate_ns(t, analysis.capture.clock)),
            **_LEADS[lead],
        }, severity=severity, confidence="low" if unanswered and unanswered[0] != "timeout" else "high")


def _unanswered(t: Transaction, capture: CaptureInfo) -> tuple[str, str, str]:
    """(case, English, Russian) of what became of a request the capture shows no final response to: "timeout" when
    the capture runs on past its timer (64*T1, 32 s with the default T1: Timer B of an INVITE client transaction,
    RFC 3261 §17.1.1.2; Timer F of a non-INVITE one, §17.1.2.2) or holds the request's whole retransmission schedule,
    "capture-ended" when it ends before, "clock-step" when a step of its clock lies between (the time waited is
    unknown). Only a timeout is a failure the capture shows; in the other two the answer may have come after the
    capture stopped."""
    timer, section = ("Timer B", "§17.1.1.2") if t.method == "INVITE" else ("Timer F", "§17.1.2.2")
    n = t.request_retransmissions
    waited = _waited_ns(t, capture)
    t1 = transaction_t1_ns(t, capture.clock)
    timeout = 64 * t1 / NS
    # a capture cut at the last retransmission of the whole schedule (sipdiag.dialogs counts an INVITE so too)
    # shows the timeout as well: the timer fires before the next retransmission would have gone out
    if n >= sends_before_timeout(t.method != "INVITE", t1) - 1 or (
            waited is not None and waited / NS >= timeout):
        return ("timeout",
                f"got no response within {timeout:g} s ({n} retransmissions): its transaction timed out ({timer}, "
                f"RFC 3261 {section})",
                f"остался без ответа в течение {timeout:g} с ({n} переотправок): транзакция завершилась по "
                f"таймауту ({timer}, RFC 3261 {section})")
    if waited is not None:
        return ("capture-ended",
                f"got no response in the {_s(waited)} s the capture runs on after it ({n} retransmissions): the "
                f"capture ended before its {timeout:g} s timeout ({timer}, RFC 3261 {section}) could fire, so how it "
                "ended is not shown",
                f"остался без ответа: после него захват длится ещё только {_s(waited)} с ({n} переотправок) и "
                f"закончился раньше, чем мог истечь таймаут {timeout:g} с ({timer}, RFC 3261 {section}), поэтому "
                "чем закончилась транзакция, не видно")
    return ("clock-step",
            f"got no response ({n} retransmissions); the capture's clock steps after it, so whether its {timeout:g} s "
            f"timeout ({timer}, RFC 3261 {section}) fired is not known",
            f"остался без ответа ({n} переотправок); часы захвата после него скачут, поэтому неизвестно, истёк ли "
            f"его таймаут {timeout:g} с ({timer}, RFC 3261 {section})")


_LEADS = {
    "fax": {"lead_en": "Your call could not switch to the fax mode the other side does not support; the call itself "
                       "continued.", "action_en": "No action is needed unless you were sending a fax.",
            "lead_ru": "Звонок не смог перейти в режим факса, который другая сторона не поддерживает; сам звонок "
                       "продолжился.", "action_ru": "Ничего делать не нужно, если вы не отправляли факс."},
    "drop": {"lead_en": "Your call was ended when it tried to change (hold, transfer or a similar step) and the "
                        "change was refused.", "action_en": "We are investigating the configuration.",
             "lead_ru": "Ваш звонок завершился при попытке изменения (удержание, перевод или подобное), потому что "
                        "изменение было отклонено.", "action_ru": "Мы проверяем настройки."},
    "change": {"lead_en": "Putting your call on hold, transferring it or a similar change did not succeed because "
                          "the request was refused.", "action_en": "We are investigating the configuration.",
               "lead_ru": "Удержание, перевод звонка или подобное изменение не удалось: запрос был отклонён.",
               "action_ru": "Мы проверяем настройки."},
    # no response at all: the request timed out (nothing refused it) ...
    "drop-timeout": {
        "lead_en": "Your call was ended when it tried to change (hold, transfer or a similar step) and no answer "
                   "to the request came back.", "action_en": "We are investigating the configuration.",
        "lead_ru": "Ваш звонок завершился при попытке изменения (удержание, перевод или подобное): ответ на "
                   "запрос так и не пришёл.", "action_ru": "Мы проверяем настройки."},
    "change-timeout": {
        "lead_en": "Putting your call on hold, transferring it or a similar change did not succeed because no "
                   "answer to the request came back.", "action_en": "We are investigating the configuration.",
        "lead_ru": "Удержание, перевод звонка или подобное изменение не удалось: ответ на запрос так и не "
                   "пришёл.", "action_ru": "Мы проверяем настройки."},
    # ... or the capture stopped before it could (or its clock jumped): how it ended is not known
    "drop-unanswered": {
        "lead_en": "Your call was ended while a change to it (hold, transfer or a similar step) was still waiting "
                   "for an answer.", "action_en": "We are investigating the configuration.",
        "lead_ru": "Ваш звонок завершился, пока изменение (удержание, перевод или подобное) ещё ждало ответа.",
        "action_ru": "Мы проверяем настройки."},
    "change-unanswered": {
        "lead_en": "A change to your call (hold, transfer or a similar step) had not been answered yet when the "
                   "recording stopped, so whether it failed is not known.",
        "action_en": "If it happens again, please keep the recording running for at least a minute after the change.",
        "lead_ru": "На изменение звонка (удержание, перевод или подобное) ещё не было ответа, когда запись "
                   "остановилась, поэтому неизвестно, удалось ли оно.",
        "action_ru": "Если это повторится, пожалуйста, продолжайте запись ещё хотя бы минуту после изменения."},
}


def _purpose(n, call: Call, t: Transaction) -> tuple[str, str]:
    if t.request_frame is None:  # its offer, if any, went with the request
        return "a change whose request is not in the capture", "изменения, запрос которого не попал в захват"
    if n is None:
        if call.session_expires_s:
            return "a session refresh (no SDP)", "обновления сеанса (без SDP)"
        return "a change without SDP", "изменения без SDP"
    if any(m.media == "image" for m in n.offer):
        return "a switch to T.38 fax", "перехода на факс T.38"
    if n.hold:
        return "hold", "удержания"
    return "a media change (resume, codec or address)", "изменения медиа (снятие с удержания, кодек, адрес)"


@check(
    id="call.media-timeout-or-hung", category="signaling", severity="major", owner="engineering",
    title={
        "en": "Media stopped during the call (RTP timeout, hung dialog, one direction lost)",
        "ru": "Медиапоток прервался во время вызова (тайм-аут RTP, зависший диалог, пропало одно направление)",
    },
    customer={
        "en": "{lead_en} We are checking whether your router closes the audio path during pauses or hold; if your "
              "phone is on Wi-Fi, please try a cable.",
        "ru": "{lead_ru} Мы проверяем, не закрывает ли ваш роутер путь звука во время пауз или удержания; если "
              "телефон подключён по Wi-Fi, попробуйте кабель.",
    },
    engineer={
        "en": "Call {call_id}: {what_en} Last RTP {up_en} {last_to_callee_s} s, {down_en} "
              "{last_to_caller_s} s after the answer; {end_en}. No hold was negotiated and no RTCP followed the "
              "stop. RFC 3550 §6.3.5 (participant timeout), RFC 3264 §8.4; timeouts rtptimeout {rtptimeout_s} s, "
              "onewaytimeout {onewaytimeout_s} s.",
        "ru": "Вызов {call_id}: {what_ru} Последний RTP от {caller_ru} через {last_to_callee_s} с, от {callee_ru} "
              "через {last_to_caller_s} с после ответа; {end_ru}. Удержание не согласовывалось, RTCP после "
              "остановки не было. RFC 3550 §6.3.5 (таймаут участника), RFC 3264 §8.4; таймауты rtptimeout "
              "{rtptimeout_s} с, onewaytimeout {onewaytimeout_s} с.",
    },
)
def media_timeout_or_hung(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    In an answered call that had audio: (a) RTP in both directions stopped at least `rtptimeout` (30 s) before
    the BYE — the BYE of a media-monitoring element; (b) RTP stopped and no BYE came for over 60 s while the
    capture went on — a hung dialog; (c) one direction stopped at least `onewaytimeout` (15 s) before the other
    and before the end of the call. Calls that negotiated hold (sendonly/recvonly/inactive, c=0.0.0.0) are left
    out, and so is a sender whose RTCP goes on after its RTP stops (silence suppression without comfort noise).

    ## Why it matters
    Audio disappears mid-call and the call is then cut or left hanging: a NAT pinhole closed during a pause or
    hold, Wi-Fi roaming, an address change, or a lost BYE that keeps billing running.

    ## How to fix
    Keep NAT bindings open during silence (comfort noise, RTP keep-alives, shorter UDP timeouts off), anchor
    media on the SBC, check BYE delivery and the SBC's media timeouts.

    ## References
    RFC 3550 §6.3.5; RFC 3264 §8.4; RFC 3389 (comfort noise); VoIPmonitor rtptimeout/onewaytimeout
    """
    rtptimeout, oneway = setting("media.rtptimeout_s"), setting("media.onewaytimeout_s")
    capture_end = analysis.capture.last_ts_ns or 0
    rtcp_after: dict[str, list[int]] | None = None
    for call in analysis.calls:
        media = analysis.media_of(call)
        answer = _answer_ns(call)
        if media is None or answer is None or media.verdict.verdict not in ("two-way", "one-way"):
            continue
        if any(n.hold or any(m.direction != "sendrecv" for m in n.offer + (n.answer or ())) for n in
               call.negotiations):
            continue  # hold and one-way media by design (RFC 3264 §8.4)
        last: dict[str, int] = {}
        sources: dict[str, set[str]] = {}
        for i in media.streams:
            m = analysis.streams[i]
            if m.binding.direction and m.stats.media_packets >= 25:
                d = m.binding.direction
                last[d] = max(last.get(d, 0), m.stats.end_ns)
                sources.setdefault(d, set()).add(m.stats.src_ip)
        if not last:
            continue
        bye = _bye_ns(call)
        if not _sound(analysis, call.start_at, call.bye_frame or analysis.capture.packets,
                      *(analysis.streams[i].stats.last_frame for i in media.streams)):
            continue  # when media stopped, against the answer and the end, is not known: the clock steps
        end = bye if bye is not None else capture_end
        stop = max(last.values())
        case = None
        if bye is not None and (bye - stop) / NS >= rtptimeout:
            case, stopped = "rtp-timeout", set(last)
        elif bye is None and (capture_end - stop) / NS >= HUNG_DIALOG_S:
            case, stopped = "hung", set(last)
        elif len(last) == 2:
            early = min(last, key=last.get)
            if (stop - last[early]) / NS >= oneway and (end - last[early]) / NS >= oneway:
                case, stopped = "one-direction", {early}
        if case is None or not _confirmed(call):
            continue  # no ACK: the call ends by the ACK timeout (call.ack-timeout-32s), not by its media
        if rtcp_after is None:
            rtcp_after = _rtcp_senders(analysis)
        # a sender whose RTCP goes on after its RTP stopped is silent (DTX), not cut off
        if any(any(t > last[d] + 5 * NS for src in sources[d] for t in rtcp_after.get(src, ())) for d in stopped):
            continue
        yield Hit(call.call_id, (call.bye_frame,) if call.bye_frame else (call.first_frame,),
                  _timeout_values(call, case, last, answer, bye, capture_end, stopped, rtptimeout, oneway),
                  confidence="high" if case != "rtp-timeout" or _says_timeout(call.end_reason) else "medium")


def _confirmed(call: Call) -> bool:
    """The 2xx of the initial INVITE was acknowledged (RFC 3261 §13.2.2.4): the dialog is confirmed."""
    invite = next((t for t in reversed(call.transactions) if t.method == "INVITE" and not t.in_dialog), None)
    return invite is not None and any(m.method == "ACK" and m.cseq == invite.cseq for m in call.messages)


def _says_timeout(reason: str | None) -> bool:
    return bool(reason) and any(w in reason.lower() for w in ("rtp", "media", "timeout"))


def _rtcp_senders(analysis: Analysis) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    if analysis.rtp is not None:
        for p in analysis.rtp.rtcp.packets:
            out.setdefault(p.src_ip, []).append(p.ts_ns)
    return out


def _timeout_values(call: Call, case: str, last: dict[str, int], answer: int, bye: int | None, capture_end: int,
                    stopped: set[str], rtptimeout: float, oneway: float) -> dict:
    stop = max(last[d] for d in stopped)
    if case == "rtp-timeout":
        what_en = f"RTP stopped in both directions {_s(bye - stop)} s before the BYE."
        what_ru = f"RTP остановился в обе стороны за {_s(bye - stop)} с до BYE."
        lead_en = "The sound of your call stopped and the call was then ended automatically."
        lead_ru = "Звук в вашем звонке пропал, и затем звонок был завершён автоматически."
    elif case == "hung":
        what_en = f"RTP stopped in both directions and no BYE followed in the {_s(capture_end - stop)} s the " \
                  f"capture went on (hung dialog)."
        what_ru = f"RTP остановился в обе стороны, и BYE не последовало за {_s(capture_end - stop)} с до конца " \
                  f"захвата (зависший диалог)."
        lead_en = "The sound of your call stopped but the call was not ended, so it may still be counted as running."
        lead_ru = "Звук в вашем звонке пропал, но звонок не был завершён и может всё ещё считаться идущим."
    else:
        (d,) = stopped
        went_on = _s(max(last.values()) - stop)
        what_en = f"RTP {direction_en(call, d)} stopped while the other direction went on for {went_on} s."
        what_ru = f"RTP {direction_ru(call, d)} остановился, а другое направление шло ещё {went_on} с."
        lead_en = "During your call the sound stopped in one direction while the other still worked."
        lead_ru = "Во время звонка звук пропал в одну сторону, в другую он ещё шёл."
    if bye is not None:
        end_en = f"BYE from the {ender_en(call)} (frame {call.bye_frame}) {_s(bye - answer)} s after the answer" + (
            f", Reason: {call.end_reason}" if call.end_reason else ", no Reason header")
        end_ru = f"BYE от {ender_ru(call)} (кадр {call.bye_frame}) через " \
                 f"{_s(bye - answer)} с после ответа" + (
            f", Reason: {call.end_reason}" if call.end_reason else ", без заголовка Reason")
    else:
        end_en, end_ru = "no BYE in the capture", "BYE в захвате нет"
    return {
        "call_id": call.call_id, "case": case, "stopped": sorted(stopped),
        "last_to_callee_s": _s(last["caller->callee"] - answer) if "caller->callee" in last else "-",
        "last_to_caller_s": _s(last["callee->caller"] - answer) if "callee->caller" in last else "-",
        "silence_s": _s((bye if bye is not None else capture_end) - stop) if case != "one-direction" else
        _s(max(last.values()) - stop), "bye_frame": call.bye_frame, "ended_by": call.ended_by,
        "reason": call.end_reason, "what_en": what_en, "what_ru": what_ru, "end_en": end_en, "end_ru": end_ru,
        "lead_en": lead_en, "lead_ru": lead_ru, "rtptimeout_s": rtptimeout, "onewaytimeout_s": oneway,
    }
