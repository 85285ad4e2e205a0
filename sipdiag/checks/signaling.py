"""Call signalling rules (RULES.md §3.5): what a ladder shows an engineer, decided from the transactions."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import join_address
from ..correlate import number_key
from ..registrations import retry_after
from ..parties import called_party, ender_en, ender_ru, party_en, party_ru
from ..siptimers import copy_gaps
from ..transactions import is_redirect
from . import UNKNOWN, Hit, check, span_s, times_en
from .regretryafter import quoted
from .settings import setting
from .timers import estimate_s, run_timers, timeout_ns, transaction_t1_estimate_ns, transaction_t1_ns

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call, RetryAfter

# RFC 3261 §13.3.1.4: the UAS retransmits its 2xx until ACK, for 64*T1; three copies already rule out a slow ACK.
MIN_2XX_RETRANSMISSIONS = 3


def _final_frame(call: Call, status: int) -> int:
    """The frame of the call's final response: the first copy of `status` to its last initial INVITE (the attempt
    whose answer is the call's outcome), not the first message of that status (a 422 or 401 to an earlier attempt
    the caller retried, RFC 4028 §6, RFC 3261 §22.2)."""
    for t in reversed(call.transactions):
        if t.method == "INVITE" and not t.in_dialog and t.final_status == status:
            frame = next((f for code, f, _ in t.responses if code == status), None)
            if frame is not None:
                return frame
    return next((m.frame for m in call.messages if m.status_code == status), call.first_frame)


def _timeout_title() -> dict[str, str]:
    """The ack-timeout title's figures outside a finding (`sipdiag rules`, the rules reference): the configured
    64*T1 (32 s with the default T1). A finding's are its call's (ack_timeout's texts)."""
    return _timeout_words(timeout_ns())


def _timeout_words(timeout: int) -> dict[str, str]:
    """64*T1 (ns) as the ack-timeout texts say it: to 0.1 s for the engineer and the title ("32", "64", "25.6";
    "32.3" for the T1 = 0.504 s a UAS's 2xx gaps show), to the nearest 10 s for the customer from 20 s on ("about 30
    seconds" for 32 s, "about 60" for 64 s)."""
    seconds = timeout / 1e9
    about = round(seconds / 10) * 10 if seconds >= 20 else round(seconds)
    return {"timeout_s": f"{round(seconds, 1):g}", "timeout_about_s": f"{about}"}


@check(
    id="call.ack-timeout-32s", category="signaling", severity="major", owner="engineering",
    # The id keeps "32s" (the JSON contract's); the title and texts give the 64*T1 of the call's UAS.
    title={
        "en": "Answered call torn down about {timeout_s} s after answer: the ACK never arrived",
        "ru": "Отвеченный вызов разорван примерно через {timeout_s} с после ответа: ACK так и не пришёл",
    },
    title_values=_timeout_title,
    customer={
        "en": "Your answered calls are cut off after about {timeout_about_s} seconds. After a call is answered your "
              "equipment must confirm it, and that confirmation does not reach us, so the call is ended "
              "automatically. This is nearly always the router's 'SIP ALG' feature or a firewall: please switch SIP "
              "ALG off and restart the router.",
        "ru": "Ваши принятые звонки обрываются примерно через {timeout_about_s} секунд. После ответа ваше "
              "оборудование должно подтвердить соединение, но это подтверждение до нас не доходит, и звонок "
              "завершается автоматически. Почти всегда причина в функции роутера «SIP ALG» или в межсетевом экране: "
              "отключите SIP ALG и перезагрузите роутер.",
    },
    engineer={
        "en": "Call {call_id}: 200 OK (frame {ok_frame}) retransmitted {retransmissions} times over {span_s} s with "
              "no ACK seen at this capture point; {bye_en} (64*T1 = {timeout_s} s{t1_note_en}, RFC 3261 §13.3.1.4). "
              "Check where the ACK goes: the 2xx Contact and Record-Route (§13.2.2.4, §12.2.1.1), NAT/ALG on the "
              "caller side.",
        "ru": "Вызов {call_id}: 200 OK (кадр {ok_frame}) переотправлен {retransmissions} раз за {span_s} с, ACK в "
              "точке захвата не виден; {bye_ru} (64*T1 = {timeout_s} с{t1_note_ru}, RFC 3261 §13.3.1.4). Проверьте, "
              "куда уходит ACK: Contact ответа и Record-Route (§13.2.2.4, §12.2.1.1), NAT/ALG на стороне "
              "вызывающего.",
    },
)
def ack_timeout(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An INVITE answered with 2xx whose 2xx is retransmitted (T1 doubling, capped at T2) without any ACK in the capture,
    and a BYE about 64*T1 after the first 2xx. T1 is the UAS's own when the gaps of its 2xx retransmissions show
    another than `sip.t1_default_ms` (RULES.md: T1_est; 1 s gives 64 s), else the configured one.

    ## Why it matters
    Every answered call drops after about 32 s (64*T1): the classic symptom of an ACK that cannot reach the UAS
    (private or rewritten Contact, a SIP ALG, a firewall), and the customer's "calls drop after 30 seconds".

    ## How to fix
    Find where the ACK goes (2xx Contact and Record-Route); fix Contact handling at the SBC or switch off the
    customer router's SIP ALG; make proxies Record-Route so in-dialog requests follow the signalling path.

    ## References
    RFC 3261 §13.3.1.4, §13.2.2.4, §12.2.1.1, §17.2.1
    """
    # The UAS gives up 64*T1 after its first 2xx (§13.3.1.4): a BYE within sip.ack_timeout_tolerance_s of that, plus
    # the 4 s more this rule has allowed since its first version, is the timeout's.
    timers, tolerance = run_timers(), setting("sip.ack_timeout_tolerance_s") + 4
    for call in analysis.calls:
        invite = next((t for t in reversed(call.transactions) if t.method == "INVITE" and not t.in_dialog
                       and t.final_status is not None and 200 <= t.final_status < 300), None)
        if invite is None or invite.response_retransmissions < MIN_2XX_RETRANSMISSIONS:
            continue
        if any(m.method == "ACK" and not m.retransmission and m.cseq == invite.cseq for m in call.messages):
            continue
        ok_frame = next(frame for code, frame, _ in invite.responses if code == invite.final_status)
        copies = [m for m in call.messages if m.status_code == invite.final_status and m.cseq == invite.cseq
                  and m.cseq_method == "INVITE"]
        bye = next((m for m in call.messages if m.frame == call.bye_frame), None)
        clock = analysis.capture.clock
        if bye is not None and not clock.sound(ok_frame, bye.frame):
            continue  # a clock step between the 2xx and the BYE: whether it came 32 s later is not known
        # T1 of the UAS, the party whose timer ends the call: RULES.md asks for the give-up at 64*T1_est. Its 2xx
        # retransmissions start at its T1 and double (§13.3.1.4), as a client's Timer A/E retransmissions of a
        # request do (§17.1.1.2, §17.1.2.2), and they are what this rule is about: the first gap between the copies
        # of the first 2xx's hop gives it (the INVITE's retransmissions, if any, would give the UAC's).
        hop = (copies[0].src_ip, copies[0].src_port, copies[0].dst_ip, copies[0].dst_port)
        estimate = timers.estimate_t1_ns(copy_gaps([(m.frame, m.ts_ns) for m in copies
                                                    if (m.src_ip, m.src_port, m.dst_ip, m.dst_port) == hop], clock))
        t1 = timers.t1_for(estimate)
        timeout = 64 * t1 / 1e9
        first_ok = invite.final_ts_ns or copies[0].ts_ns
        bye_after = round((bye.ts_ns - first_ok) / 1e9, 1) if bye else None
        if bye_after is not None and abs(bye_after - timeout) > tolerance:
            continue  # a hang-up at another time: not the ACK timeout (RULES.md FP pitfalls)
        # 64*T1 (of the run's T1 or the UAS's) words the texts and the title; the evidence is the estimate
        words = {**_timeout_words(64 * t1), **_t1_note(t1, timers.t1_ns, "the 2xx retransmissions",
                                                        "интервалам переотправки 2xx")}
        yield Hit(call.call_id, tuple(m.frame for m in copies) + ((bye.frame,) if bye else ()), {
            "call_id": call.call_id, "ok_frame": ok_frame, "retransmissions": invite.response_retransmissions,
            "span_s": span_s(clock, copies[0], copies[-1]), "bye_frame": call.bye_frame,
            "bye_after_s": bye_after, "ended_by": call.ended_by or "nobody",
            # a capture that ends before the BYE says so ("nobody sent BYE (frame None)" before); the Russian names
            # the party in the genitive ("BYE от вызываемого"), not by the English role as its subject
            "bye_en": f"{ender_en(call)} sent BYE (frame {call.bye_frame}) {bye_after} s after the first 200 OK"
                      if bye else "no BYE in the capture",
            "bye_ru": f"BYE от {ender_ru(call)} (кадр {call.bye_frame}) через {bye_after} с "
                      "после первого 200 OK" if bye else "BYE в захвате нет",
            # the T1 the 2xx gaps show (None: none shown), whether or not it differs from the configured one
            "t1_estimate_s": estimate_s(estimate),
        }, texts=words)


def _t1_note(t1: int, configured: int, shown_by_en: str, shown_by_ru: str) -> dict[str, str]:
    """The words a timer's text adds when it was judged by the T1 a peer's retransmissions show instead of the
    configured one (sipdiag.siptimers.SipTimers.t1_for): nothing when it is the configured one."""
    if t1 == configured:
        return {"t1_note_en": "", "t1_note_ru": ""}
    return {"t1_note_en": f", T1 = {t1 / 1e9:g} s by {shown_by_en}",
            "t1_note_ru": f", T1 = {t1 / 1e9:g} с по {shown_by_ru}"}


@check(
    id="call.invite-timeout", category="signaling", severity="major", owner="engineering",
    title={
        "en": "INVITE never answered (Timer B, 408)",
        "ru": "INVITE остался без ответа (таймер B, 408)",
    },
    customer={
        "en": "Calls to {callee} are not answered by the receiving equipment: {silence_customer_en}",
        "ru": "Вызовы на {callee} не получают ответа от принимающего оборудования: {silence_customer_ru}",
    },
    engineer={
        "en": "Call {call_id}: INVITE (frame {invite_frame}) to {target} sent {sends_en} over {span_s} s without "
              "{what} ({timers_en}{t1_note_en}, RFC 3261 §17.1.1.2); final status {final}{final_detail}. {advice_en}",
        "ru": "Вызов {call_id}: INVITE (кадр {invite_frame}) на {target} отправлен {sends} раз за {span_s} с без "
              "{what_ru} ({timers_ru}{t1_note_ru}, RFC 3261 §17.1.1.2); итог {final_ru}{final_detail_ru}. "
              "{advice_ru}",
    },
)
def invite_timeout(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A call whose outcome is a timeout: the INVITE was retransmitted without any response until Timer B (64*T1: 32 s
    by default, 64 s when its retransmissions show its sender's T1 = 1 s, RULES.md T1_est), or a proxy answered 408
    Request Timeout, also when the caller had sent a CANCEL the proxy never accepted (a CANCEL takes effect with 200
    and 487, RFC 3261 §9.2).

    ## Why it matters
    The call never rings: the callee (or the next hop) is unreachable, often a lost NAT binding or a dropped large
    INVITE.

    ## How to fix
    Check the path to the target: keep-alives shorter than the NAT binding timeout, SIP over TCP or smaller INVITEs
    when fragments are dropped, firewall rules that answer with ICMP. Over TCP or TLS, which deliver the INVITE or
    break the connection, check the SIP service at the target and the connection's resets.

    ## References
    RFC 3261 §17.1.1.2 (Timers A/B), §16.6 (Timer C), §21.4.9 (408)
    """
    clock = analysis.capture.clock
    configured = run_timers().t1_ns
    for call in analysis.calls:
        if call.outcome != "timeout":
            continue
        # The INVITE that went unanswered is one the capture holds: a response whose request it lacks (lost at the
        # capture point, or its branch mangled) makes a transaction of its own (RFC 3261 §17.1.3 matches by
        # branch), which has no sends and no frame to tell of.
        invite = next((t for t in reversed(call.transactions) if t.method == "INVITE" and not t.in_dialog
                       and t.request_frame is not None), None)
        if invite is None:
            continue
        sends = [m for m in call.messages if m.method == "INVITE" and m.cseq == invite.cseq]
        final = next((m for m in call.messages if m.status_code == call.final_status and m.cseq == invite.cseq
                      and m.cseq_method == "INVITE"), None) if call.final_status else None
        detail_en = detail_ru = ""
        advice_en = (f"Check reachability of {invite.dst} (NAT binding age, fragmentation of a large INVITE, "
                     "ICMP).")
        advice_ru = (f"Проверьте доступность {invite.dst} (возраст NAT-привязки, фрагментация большого INVITE, "
                     "ICMP).")
        silence_en = "it seems unreachable at that moment. We are checking the connection path."
        silence_ru = "в этот момент оно, похоже, недоступно. Мы проверяем путь соединения."
        if final is None and sends and sends[0].transport != "udp":
            # A reliable transport (TCP, TLS, WebSocket, SCTP) delivers the INVITE or breaks the connection, and the
            # UAC does not retransmit it (Timer A is for unreliable ones, RFC 3261 §17.1.1.2; §18.1.1 has no
            # fragmentation on them): the silence is the peer's application, not the path.
            transport = sends[0].transport.upper()
            advice_en = (f"Over {transport} the INVITE is sent once and delivered unless the connection fails: "
                         f"{invite.dst} took it and did not answer, or the connection broke. Check the SIP service at "
                         f"{invite.dst} (overload, a hung process) and the connection's resets.")
            advice_ru = (f"По {transport} INVITE отправляется один раз и доставляется, если соединение не рвётся: "
                         f"{invite.dst} получил его и не ответил, или соединение оборвалось. Проверьте SIP-сервис на "
                         f"{invite.dst} (перегрузка, зависший процесс) и сбросы соединения.")
            # the customer is not told of an unreachable path either: the equipment was sent the call
            silence_en = "the call was sent to it, but it did not respond. We are checking that equipment."
            silence_ru = "вызов был ему передан, но оно не ответило. Мы проверяем это оборудование."
        if final is not None:  # a proxy's 408: the next hop's timer fired for the callee (RFC 3261 §16.6, §21.4.9)
            after = clock.elapsed_ns(invite.ts_frame, invite.ts_ns, final.frame, final.ts_ns)
            after_s = UNKNOWN if after is None else round(after / 1e9, 1)
            source = join_address(final.src_ip, final.src_port)
            # The proxy that answered is reachable: the silence is beyond it, toward the callee.
            advice_en = (f"{source} answered, so it is reachable: its next hop toward the callee did not answer "
                         "(Timer C or B at the proxy, RFC 3261 §16.6). Check the callee's registration and the "
                         "path from that proxy to it.")
            advice_ru = (f"{source} ответил, значит, он доступен: не ответил его следующий узел в сторону "
                         "вызываемого (таймер C или B на прокси, RFC 3261 §16.6). Проверьте регистрацию вызываемого и "
                         "путь от этого прокси до него.")
            detail_en = f" from {source} (frame {final.frame}) {after_s} s after the INVITE"
            detail_ru = f" от {source} (кадр {final.frame}) через {after_s} с после INVITE"
            if call.cancelled_frame is not None:
                detail_en += f"; the caller's CANCEL (frame {call.cancelled_frame}) was not accepted (RFC 3261 §9.2)"
                detail_ru += f"; CANCEL вызывающего (кадр {call.cancelled_frame}) не был принят (RFC 3261 §9.2)"
        yield Hit(call.call_id, tuple(m.frame for m in sends) + ((final.frame,) if final else ()), {
            "call_id": call.call_id, "callee": called_party(call.callee), "invite_frame": invite.request_frame,
            "target": invite.dst, "sends": len(sends), "sends_en": times_en(len(sends)),
            "span_s": span_s(clock, sends[0], sends[-1]) if sends else 0,
            # each language's template gets its own words: no English inside the Russian text
            "what": "any response" if not invite.responses else "a final response",
            "what_ru": "какого-либо ответа" if not invite.responses else "окончательного ответа",
            "final": call.final_status or "none",
            "final_ru": call.final_status or "нет",
            "final_detail": detail_en, "final_detail_ru": detail_ru, "cancel_frame": call.cancelled_frame,
            "advice_en": advice_en, "advice_ru": advice_ru,
            "silence_customer_en": silence_en, "silence_customer_ru": silence_ru,
            # the INVITE's transport ("udp", "tcp", "tls", ...): over a reliable one there are no retransmissions
            # to lose, so what the operator checks differs (sipdiag.reports.replyactions)
            "transport": sends[0].transport if sends else None,
            # the T1 the INVITE's first retransmission gap shows (None: none), by which Timer B was judged when it
            # is another than the configured one (sipdiag.dialogs: the call's outcome)
            "t1_estimate_s": estimate_s(transaction_t1_estimate_ns(invite, clock)),
        }, texts={**_invite_timers(sends[0].transport if sends else "udp"),
                  **_t1_note(transaction_t1_ns(invite, clock), configured, "the INVITE's retransmissions",
                             "интервалам переотправки INVITE")})


def _invite_timers(transport: str) -> dict[str, str]:
    """The INVITE client transaction's timers the engineer text names: Timer A (retransmissions) runs only over an
    unreliable transport, Timer B (the wait for an answer) over any (RFC 3261 §17.1.1.2)."""
    if transport == "udp":
        return {"timers_en": "Timer A/B", "timers_ru": "таймеры A/B"}
    return {"timers_en": f"Timer B, no retransmission over {transport.upper()}",
            "timers_ru": f"таймер B, без повторных отправок по {transport.upper()}"}


# What a final status means for the person who called (RFC 3261 §21): user outcomes are info, the rest says who
# must act. 488/606/415 belong to codec.no-common-codec, 408 to call.invite-timeout.
USER_OUTCOMES = {486: "the callee was busy", 600: "the callee was busy everywhere", 603: "the callee declined",
                 487: "the caller gave up before an answer"}
EXPLAINED = {403: "forbidden: the account may not call this number (barring, credit, wrong credentials)",
             404: "the number does not exist on the far side", 480: "the callee is not available (not registered)",
             484: "the number is incomplete", 401: "authentication was required and not completed",
             407: "proxy authentication was required and not completed", 410: "the number is no longer in use",
             503: "the far side is overloaded or a route is down", 500: "the far side failed internally",
             502: "a gateway on the way got a bad answer", 504: "a gateway on the way timed out"}
HANDLED_ELSEWHERE = (408, 415, 488, 606)


@check(
    id="call.failure-response", category="signaling", severity="minor", owner="first-line",
    title={
        "en": "Call set-up failed with an error response",
        "ru": "Вызов не установлен: получен ответ с ошибкой",
    },
    customer={
        "en": "{opening_en}: {said_en}. {action_en}",
        "ru": "{opening_ru}: {said_ru}. {action_ru}",
    },
    engineer={
        "en": "Call {call_id}: final {status} {reason} (frame {frame}) from {responder}{warning}: {meaning_en}"
              "{detail_en} (RFC 3261 §21).{unseen_en}",
        "ru": "Вызов {call_id}: итог {status} {reason} (кадр {frame}) от {responder}{warning}: {meaning_ru}"
              "{detail_ru} (RFC 3261 §21).{unseen_ru}",
    },
)
def failure_response(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A call whose INVITE ended with a 3xx-6xx response, classified: user outcomes (busy, decline, cancel) are
    information; refusals (403, 404, 480, 484) point at the account or the number; 5xx at the far side or a route.
    A 3xx is a redirection, not a refusal: nothing when the redirect was followed (a later INVITE of the same
    Call-ID, or a new call from the same caller to the Contact's number within 64*T1, 32 s by default, e.g. through
    a B2BUA; T1 the caller's own when its INVITE's retransmissions show another, RULES.md T1_est); information when
    the capture shows no new attempt. A 5xx's Retry-After, how long the far side expects to be unavailable, is
    quoted (a value that is no number of seconds named as such, one over a day read as a day).
    A capture that holds only the final response and its ACK, not the INVITE, does not show which party called nor
    whether that INVITE set the call up or changed a call already up (a re-INVITE, whose failure leaves the call
    up); the finding then names the parties by address and says so.

    ## Why it matters
    "My calls to X fail": the status code usually says who must act.

    ## How to fix
    403: check barring, credit and credentials of the account; 404/484: the dialled number and the routing;
    480: the callee is not registered; 5xx: the route or the far side's capacity; an unfollowed 3xx: make the
    caller's side follow redirects, or the far side answer instead of redirecting.

    ## References
    RFC 3261 §8.1.3.4, §20.33, §21.3, §21.4, §21.5, §21.6
    """
    from . import Severity

    later: _CallsByCaller | None = None  # built at the first 3xx: most captures have none
    for call in analysis.calls:
        status = call.final_status
        if call.outcome not in ("busy", "cancelled", "rejected") or status is None or status in HANDLED_ELSEWHERE:
            continue
        if status in (401, 407) and call.auth_challenges and call.outcome != "rejected":
            continue
        frame = _final_frame(call, status)
        redirect = is_redirect(status)  # RFC 3261 §21.3: redirection, not a refusal
        detail_en = detail_ru = ""
        extra: dict[str, object] = {}
        if redirect:
            later = later or _calls_by_caller(analysis.calls)
            # the caller's T1, which its INVITE's retransmissions may show (RULES.md §0.5, T1_est), bounds the wait
            # for the redirected INVITE
            invite = next((t for t in reversed(call.transactions) if t.method == "INVITE" and not t.in_dialog
                           and t.request_frame is not None), None)
            estimate = None if invite is None else transaction_t1_estimate_ns(invite, analysis.capture.clock)
            if _redirect_followed(call, frame, later, 64 * run_timers().t1_for(estimate)):
                continue
            targets = ", ".join(call.redirect_contacts)
            # the T1 the INVITE's retransmissions show (None: none), by which the wait for a new INVITE was judged
            extra = {"redirect_to": targets, "t1_estimate_s": estimate_s(estimate)}
            detail_en = (f" (Contact {targets or 'none'}); no new INVITE to it follows in the capture: the caller's "
                         f"side did not follow the redirect (RFC 3261 §8.1.3.4), or did so out of this capture's sight")
            detail_ru = (f" (Contact {targets or 'нет'}); нового INVITE туда в захвате нет: сторона вызывающего не "
                         f"выполнила перенаправление (RFC 3261 §8.1.3.4) или сделала это вне точки захвата")
        elif status >= 500 and (after := _retry_after(analysis, frame)) is not None:
            quote_en, quote_ru = quoted(after)
            detail_en, detail_ru = f"; the answer carries {quote_en}", f"; в ответе {quote_ru}"
            extra = {"retry_after": after.text, "retry_after_s": after.seconds}
        user = status in USER_OUTCOMES
        meaning = (REDIRECTED if redirect else USER_OUTCOMES.get(status) or EXPLAINED.get(status)
                   or f"the far side refused the call ({status})")
        meaning_ru = (REDIRECTED_RU if redirect
                      else _RU.get(status, f"другая сторона отклонила вызов ({status})"))
        meaning, meaning_ru, texts = _set_up_or_change(call, status, meaning, meaning_ru)
        severity = Severity.INFO if user or redirect else Severity.MAJOR if status >= 500 else Severity.MINOR
        yield Hit(call.call_id, (frame,), {
            "call_id": call.call_id, "callee": called_party(call.callee), "status": status,
            "reason": call.final_reason or "", "frame": frame, "responder": call.callee_address, "warning": "",
            "meaning_en": meaning, "meaning_ru": meaning_ru, "detail_en": detail_en, "detail_ru": detail_ru,
            "action_en": "No action is needed." if user else "We are checking why.",
            "action_ru": "Ничего делать не нужно." if user else "Мы выясняем причину.",
            **extra,
        }, severity=severity, confidence="medium" if redirect else "high", texts=texts)


def _set_up_or_change(call: Call, status: int, meaning_en: str, meaning_ru: str) -> tuple[str, str, dict[str, str]]:
    """The wording of a failed INVITE by what the capture shows. With its INVITE (roles known): "your call to X",
    the callee refused. Without it, only the final response and its ACK: a response copies the request's From and
    To (RFC 3261 §8.2.6.2), so the From party sent the INVITE and the To party refused it, but the INVITE may as
    well have been a re-INVITE of a call already up, by either party (§14.1: its failure leaves the call up, and
    its final response carries both tags as the initial INVITE's does; a re-INVITE is told only by a dialog seen
    before it, sipdiag.dialogs answers_in_dialog). Then "the call to X, or a change to a call already up" and the
    parties by address (sipdiag.parties), not "the callee declined"; the customer's text by their numbers (it
    carries no third party's address, RULES.md §6). Returns the meaning in English and Russian and the rest of the
    wording (texts alone: the evidence holds the call and status it restates)."""
    number = called_party(call.callee)
    if call.roles_known:
        return meaning_en, meaning_ru, {"opening_en": f"Your call to {number} could not be completed",
                                        "opening_ru": f"Ваш звонок на {number} не удалось совершить",
                                        "said_en": meaning_en, "said_ru": meaning_ru,
                                        "unseen_en": "", "unseen_ru": ""}
    said_en, said_ru = meaning_en, meaning_ru
    if status in _UNSEEN_OUTCOMES:
        en, ru_party, ru_number = _UNSEEN_OUTCOMES[status]
        meaning_en = en.format(callee=party_en(call, "callee"), caller=party_en(call, "caller"))
        meaning_ru = ru_party.format(callee=party_ru(call, "callee", "nom"), caller=party_ru(call, "caller", "nom"))
        caller = called_party(call.caller)
        said_en = en.format(callee=number, caller=caller)
        said_ru = ru_number.format(callee=number, caller=caller)
    return meaning_en, meaning_ru, {
        "opening_en": f"The call to {number}, or a change to a call already in progress, could not be made",
        "opening_ru": f"Звонок на {number} или изменение уже идущего звонка не удалось совершить",
        "said_en": said_en, "said_ru": said_ru,
        "unseen_en": " The capture holds no INVITE of this call, only its final response: which party called, and "
                     "whether this answered the call's initial INVITE or a re-INVITE (whose failure leaves the call "
                     "up, RFC 3261 §14.1), is not shown.",
        "unseen_ru": " В записи нет ни одного INVITE этого вызова, только окончательный ответ: кто звонил и был ли "
                     "это ответ на начальный INVITE вызова или на re-INVITE (чья неудача не завершает вызов, "
                     "RFC 3261 §14.1), не видно.",
    }


# USER_OUTCOMES and the explained refusals that name a role, for a call whose caller is not known: the To party of
# the response refused the INVITE of its From party. English; Russian of the party by address (sipdiag.parties:
# "сторона", feminine) and of the party by number, for the customer ("абонент", masculine).
_UNSEEN_OUTCOMES = {
    486: ("{callee} was busy", "{callee} была занята", "абонент {callee} был занят"),
    600: ("{callee} was busy everywhere", "{callee} была занята на всех устройствах",
          "абонент {callee} был занят на всех устройствах"),
    603: ("{callee} declined", "{callee} отклонила запрос", "абонент {callee} отклонил запрос"),
    487: ("{caller} cancelled it before an answer", "{caller} отменила запрос до ответа",
          "абонент {caller} отменил запрос до ответа"),
    480: ("{callee} is not available (not registered)", "{callee} недоступна (не зарегистрирована)",
          "абонент {callee} недоступен (не зарегистрирован)"),
}


def _retry_after(analysis: Analysis, frame: int) -> RetryAfter | None:
    """The Retry-After of the final response at `frame` (RFC 3261 §20.33: how long a 5xx's server expects to be
    unavailable), when the message is among those kept."""
    from .nat import message_at

    m = message_at(analysis, frame)
    return retry_after(m.headers.get("retry-after")) if m is not None else None


REDIRECTED = "the far side redirected it to another destination, and it was not retried there"
REDIRECTED_RU = "другая сторона перенаправила его по другому адресу, и повторного вызова туда не было"


# caller number -> the calls it placed, seen from their start: (start, callee number, Call-ID), by start
_CallsByCaller = dict[str, list[tuple[int, str, str]]]


def _calls_by_caller(calls: tuple[Call, ...]) -> _CallsByCaller:
    out: _CallsByCaller = {}
    for c in calls:
        if c.seen_from_start:
            out.setdefault(number_key(c.caller), []).append((c.start_ns, number_key(c.callee), c.call_id))
    for placed in out.values():
        placed.sort()
    return out


def _redirect_followed(call: Call, frame: int, later: _CallsByCaller, follow_ns: int) -> bool:
    """A 3xx to the last initial INVITE was followed (RFC 3261 §8.1.3.4) by a new call (another Call-ID, as a
    B2BUA sends it) from the same caller number to a Contact's number or the same callee number (a UAC keeps the
    To), starting within follow_ns (64*T1 of the caller) after the 3xx (a UAC acts on a 3xx at once, RFC 3261
    §8.1.3.4; 64*T1 bounds the wait for the new INVITE). A retry in the same Call-ID is that call's last initial
    INVITE, so the call's outcome is already the retry's. A window of the caller's calls by start time, not every
    call of the capture: a flood of redirected calls stays linear."""
    at = next((m.ts_ns for m in call.messages if m.frame == frame), call.start_ns)
    targets = {number_key(c) for c in call.redirect_contacts if "@" in c} | {number_key(call.callee)}
    placed = later.get(number_key(call.caller), [])
    for start, callee, call_id in placed[bisect_left(placed, (at,)):]:
        if start > at + follow_ns:
            return False
        if call_id != call.call_id and callee in targets:
            return True
    return False


_RU = {486: "абонент был занят", 600: "абонент занят на всех устройствах", 603: "абонент отклонил вызов",
       487: "звонивший положил трубку до ответа", 403: "вызов запрещён (ограничения, баланс или учётные данные)",
       404: "номер не существует на стороне получателя", 480: "абонент недоступен (не зарегистрирован)",
       484: "номер набран не полностью", 401: "требовалась авторизация, и она не завершена",
       407: "требовалась авторизация прокси, и она не завершена", 410: "номер больше не используется",
       503: "другая сторона перегружена или маршрут недоступен", 500: "внутренняя ошибка на другой стороне",
       502: "шлюз на пути получил неверный ответ", 504: "шлюз на пути не дождался ответа"}
