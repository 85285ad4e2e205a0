"""Registration rules (RULES.md §3.4)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..russian import agree
from . import Hit, Severity, check, seconds
from .authcauses import engineer_check, on_phone_lan
from .digestrefusal import OLD_NONCE, Refusal, judged
from .regfailures import (
    KEPT, Unanswered, all_frames, answered, answered_hit, cited, given_up, group_evidence, grouped, is_server_error,
    likewise, lines, several_lines, subject, timer_f_of,
)
from .regretry import steady_interval_s
from .regrefusal import answer_details, meaning_of
from .regretryafter import retry_after_words
from .settings import setting
from .timers import estimate_s, transaction_t1_estimate_ns

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import DigestInfo, RegisterExchange, Registration



@check(
    id="reg.rejected", category="registration", severity="critical", owner="first-line",
    title={
        "en": "Registration refused",
        "ru": "Регистрация отклонена",
    },
    customer={
        "en": "{problem_en} {action_en}",
        "ru": "{problem_ru} {action_ru}",
    },
    engineer={
        "en": "{subject_en}: {exchange_en}, final {status_text} ({frames_en}). {meaning_en}.{details_en}",
        "ru": "{subject_ru}: {exchange_ru}, итог {status_text} ({frames_ru}). {meaning_ru}.{details_ru}",
    },
)
def rejected(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A registration whose last REGISTER ended with a final refusal (4xx or 6xx), explained per code: 400 malformed
    request, 403 after a digest challenge (wrong password or user name), 403 without one (an IP ACL, a network the
    account may not register from, a disabled account or a wrong domain: the operator's engineers own it), 404
    unknown user or domain, 420/421 an extension the phone requires or lacks (the option tags of the answer's
    Unsupported or Require, e.g. `outbound` of RFC 5626 or `path` of RFC 3327), a 423 not retried below Min-Expires,
    480, 482/483 a routing loop or Max-Forwards run out, challenges never answered with credentials. The engineer
    text quotes the REGISTER's Request-URI and the answer's Server, Warning and Reason headers. A refused
    de-registration (expires 0 or Contact `*`) is reported too, at minor: it does not stop the phone from signing
    in. Left to other rules: a registrar's 5xx (reg.server-error), digest credentials refused with a new challenge,
    once or again and again (reg.auth-loop), a 423 loop (reg.interval-too-brief), an attacker's REGISTERs
    (sec.bruteforce-auth, sec.scanner-detected), and a single challenge the device had not yet answered when the
    capture ended. Registrations refused the same way (the same final answer to the same kind of request, meaning
    the same) from one device (source address) by one registrar are one finding that lists their AORs: a multi-line
    phone whose account is barred gets one 403 per line, one problem.

    ## Why it matters
    A refused sign-in leaves the phone offline for the operator: no outgoing calls, no incoming calls. A refused
    de-registration leaves the old binding in place until it expires, so calls may still go to that contact.

    ## How to fix
    Per code: credentials refused, check the user name, password and realm provisioned on the device; 403 without
    a challenge, the account's allowed networks, the registrar's ACLs and the domain; 404, the registrar address
    and domain in the phone (an unknown user needs provisioning); 400, a SIP ALG rewriting the REGISTER or its
    Content-Length; 420/421, the extension named (turn it off in the phone or support it on the registrar);
    482/483, the proxies' routes for the domain. For a refused de-registration, check why the registrar refuses
    expires 0 from it.

    ## References
    RFC 3261 §10.2.2, §10.3, §20.32, §20.40, §20.43, §21.4, §22.2; RFC 3326; RFC 3327; RFC 5626; RFC 7616
    """
    from .security import attack_filter

    from .regbinding import below_min_expires

    is_attack = attack_filter(analysis)
    looping = {(loop.aor, loop.source) for loop in auth_loops(analysis)}
    failures = []
    for r in analysis.registrations:
        if r.outcome != "failed" or r.final_status is None or is_attack(r):
            continue
        if is_server_error(r.final_status):
            continue  # the registrar's own failure (RFC 3261 §21.5), not a refusal: reg.server-error
        if (r.aor, r.source) in looping:
            continue  # credentials refused: reported as reg.auth-loop, with the digest evidence
        if r.final_status == 423 and below_min_expires([e for e in r.exchanges if e.contact not in ("", "*")]):
            continue  # the 423 loop is reg.interval-too-brief's
        failure = answered(analysis, r)
        run, attempts, challenges = failure.run, failure.attempts, failure.challenges
        last_ex = run[-1] if run else None
        removal = last_ex is not None and last_ex.removes
        if r.final_status in (401, 407) and (
                (removal and last_ex is not None and last_ex.credentials is None)
                or (not removal and challenges < setting("sip.auth_loop_attempts") and attempts <= challenges)):
            continue  # a single unanswered challenge: the device may simply not have retried inside the capture
        challenged = any(e.credentials is not None for e in run) or (challenges > 0 and attempts > challenges)
        # failing the same way: the same answer to the same kind of request (a sign-in or a sign-out), meaning the
        # same (regrefusal), which the texts word alike for every registration of a group
        failures.append(((failure.status_text, removal, meaning_of(failure, challenged, removal)), failure))
    for (status_text, removal, meaning), group in grouped(failures):
        several = several_lines(group)
        if removal:
            severity = Severity.MINOR
            if several is None:
                problem_en = (f"Your phone asked to sign out of our service and the server did not accept it "
                              f"(it answered {status_text}).")
                problem_ru = (f"Ваш телефон попросил выйти из нашего сервиса, но сервер не принял запрос "
                              f"(ответил {status_text}).")
            else:
                problem_en = (f"Your equipment asked to sign {several[0]} out of our service and the server did "
                              f"not accept it (it answered {status_text}).")
                problem_ru = (f"Сервер не принял запрос на выход {several[1]} из нашего сервиса (ответил "
                              f"{status_text}).")
            action_en, action_ru = "No action is needed from you.", "От вас ничего не требуется."
        else:
            severity = Severity.CRITICAL
            if several is None:
                problem_en = f"Our system refused your phone's sign-in ('{meaning.plain_en}')."
                problem_ru = f"Наша система отклонила вход вашего телефона («{meaning.plain_ru}»)."
            else:
                problem_en = f"Our system refused the sign-in of {several[0]} ('{meaning.plain_en}')."
                problem_ru = f"Наша система отклонила вход {several[1]} («{meaning.plain_ru}»)."
            if meaning.owner == "engineering":  # our network's policy: nothing to change in the phone
                action_en, action_ru = ("We are checking your account settings.",
                                        "Мы проверяем настройки вашей учётной записи.")
            elif several is None:
                action_en = "We are checking your account settings and will update your phone."
                action_ru = "Мы проверяем настройки вашей учётной записи и обновим настройки телефона."
            else:
                action_en = "We are checking your account settings and will update your equipment."
                action_ru = "Мы проверяем настройки вашей учётной записи и обновим настройки оборудования."
        details_en, details_ru, details = answer_details(group, retry_after=True)
        yield answered_hit(group, registrar_named=False, severity=severity, owner=meaning.owner, values={
            "deregistration": removal, "cause": meaning.cause, "meaning_en": meaning.en, "meaning_ru": meaning.ru,
            "problem_en": problem_en, "problem_ru": problem_ru, "action_en": action_en, "action_ru": action_ru,
            "details_en": details_en, "details_ru": details_ru, **details})


_SERVER_MEANING = {
    500: ("the registrar failed internally", "внутренняя ошибка регистратора"),
    502: ("a proxy on the way got an invalid answer from the next server", "прокси на пути получил неверный ответ "
          "от следующего сервера"),
    503: ("the registrar or a proxy on the way is overloaded or out of service", "регистратор или прокси на пути "
          "перегружен или не обслуживает запросы"),
    504: ("a proxy on the way got no answer in time from the next server (registrar, HSS or database)",
          "прокси на пути не дождался ответа следующего сервера (регистратора, HSS или базы данных)"),
}


@check(
    id="reg.server-error", category="registration", severity="major", owner="engineering",
    title={
        "en": "Registration failed on the server side (5xx)",
        "ru": "Регистрация не удалась из-за ошибки сервера (5xx)",
    },
    customer={
        "en": "{failed_en} because of a fault on our side (our server answered {status_text}); {device_en} and "
              "account settings are not the cause. We are working on it; {device_en} will retry by itself.",
        "ru": "{failed_ru} из-за неисправности на нашей стороне (наш сервер ответил {status_text}); настройки "
              "{device_gen_ru} и учётной записи здесь ни при чём. Мы устраняем проблему; {retries_ru}.",
    },
    engineer={
        "en": "{subject_en}: {exchange_en}, final {status_text} ({frames_en}): {meaning_en}. A 5xx is a server "
              "failure, not a refusal of the account (RFC 3261 §21.5); check the registrar and the servers behind "
              "it.{details_en}{retry_en}",
        "ru": "{subject_ru}: {exchange_ru}, итог {status_text} ({frames_ru}): {meaning_ru}. Ответ 5xx означает сбой "
              "сервера, а не отказ учётной записи (RFC 3261 §21.5); проверьте регистратор и серверы за ним."
              "{details_ru}{retry_ru}",
    },
)
def server_error(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A registration whose last REGISTER was answered with a 5xx (500, 503 Service Unavailable, 504 Server
    Time-out, ...): the registrar or a proxy on the way failed, the request itself may have been valid.
    Registrations from one device (source address) to one registrar answered with the same 5xx are one finding
    that lists their AORs. The engineer text quotes the answer's Server, Warning, Reason and Retry-After (how long
    the server asks not to be sent the request again; a value that is no number of seconds is named as such, one
    over a day is read as a day) and says whether the phone waited it out: a REGISTER to the same server sooner
    than a 5xx's Retry-After asked is named with its frame and wait. Such a retry leaves the severity at major and
    the owner with engineering: the phone is offline as long as the server fails either way.

    ## Why it matters
    The phone is not registered, but neither its credentials nor the account are the cause: the fault is the
    operator's server or the path behind it (overload, a database or HSS time-out). Phones that retry sooner than
    Retry-After asks keep an overloaded server overloaded.

    ## How to fix
    Check the registrar's health and load, the servers it depends on (database, HSS, upstream proxy) and any
    Retry-After it sends; the phone retries by itself once the server answers again. A phone that retries sooner
    than the Retry-After asks needs its registration retry timer or firmware fixed.

    ## References
    RFC 3261 §10.3, §20.33, §21.5, §21.5.4; RFC 5390
    """
    from .security import attack_filter

    is_attack = attack_filter(analysis)
    failures = [answered(analysis, r) for r in analysis.registrations
                if r.outcome == "failed" and is_server_error(r.final_status) and not is_attack(r)]
    for _status_text, group in grouped((f.status_text, f) for f in failures):  # 503 and 504 are two faults
        status = group[0].reg.final_status or 0
        meaning_en, meaning_ru = _SERVER_MEANING.get(status, ("the server failed to process the request",
                                                              "сервер не смог обработать запрос"))
        lines_en, lines_ru = lines(group)
        details_en, details_ru, details = answer_details(group, retry_after=True)
        retry_en, retry_ru, retry, cites = retry_after_words(group, analysis.capture.clock)
        yield answered_hit(group, registrar_named=True, cites=cites, values={
            "meaning_en": meaning_en, "meaning_ru": meaning_ru, "lines_en": lines_en, "lines_ru": lines_ru,
            "details_en": details_en, "details_ru": details_ru, "retry_en": retry_en, "retry_ru": retry_ru,
            **details, **retry}, texts=_server_error_words(group))


def _server_error_words(group: list) -> dict[str, str]:
    """reg.server-error's customer words for one line (the phone's) or several (their sign-in, "your equipment":
    one device registering many lines is a multi-line phone, a PBX or an SBC)."""
    several = several_lines(group)
    if several is None:
        return {"failed_en": "Your phone could not sign in to our service", "device_en": "your phone",
                "failed_ru": "Ваш телефон не смог войти в наш сервис", "device_gen_ru": "телефона",
                "retries_ru": "телефон повторит попытку сам"}
    return {"failed_en": f"The sign-in of {several[0]} to our service failed", "device_en": "your equipment",
            "failed_ru": f"Вход {several[1]} в наш сервис не удался", "device_gen_ru": "оборудования",
            "retries_ru": "оборудование повторит попытку само"}


@check(
    id="reg.no-response", category="registration", severity="critical", owner="engineering",
    title={
        "en": "REGISTER never answered",
        "ru": "REGISTER остался без ответа",
    },
    customer={
        "en": "{problem_en} Please check that {device_en} internet connection works; we are checking the path to "
              "our server.",
        "ru": "{problem_ru} Проверьте подключение {device_gen_ru} к интернету; мы проверяем путь до нашего сервера.",
    },
    engineer={
        "en": "{subject_en}: {sends} REGISTER transmission(s) without any response (Timer F, 64*T1, RFC 3261 "
              "§17.1.2.2), {frames_en}. Check routing and firewalls towards {registrar}, the DNS the device uses, "
              "and ICMP in the capture.",
        "ru": "{subject_ru}: {sends} отправок REGISTER без ответа (таймер F, 64*T1, RFC 3261 §17.1.2.2), "
              "{frames_ru}. Проверьте маршрутизацию и межсетевые экраны до {registrar}, DNS устройства и ICMP в "
              "захвате.",
    },
)
def no_response(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A registration whose last REGISTER got no response at all (not even 100 Trying). Registrations from one
    device (source address) to one registrar left unanswered are one finding that lists their AORs: the path to
    the registrar is one problem, whatever the number of lines.

    ## Why it matters
    The phone is offline and the customer sees "registration failed" or "no service".

    ## How to fix
    Find where the REGISTER is lost: routing, firewall or ACL in front of the registrar, a wrong registrar address
    or DNS record on the device.

    ## References
    RFC 3261 §10.2, §17.1.2.2 (Timer F)
    """
    from .security import attack_filter

    is_attack = attack_filter(analysis)
    clock = analysis.capture.clock
    lost = []
    for r in analysis.registrations:
        if r.outcome != "unanswered" or is_attack(r):
            continue  # registrars rightly stay silent to attackers (RULES.md reg.no-response pitfalls)
        last = r.transactions[-1]
        if last.responses:
            continue
        if not given_up(analysis, last):
            continue  # before Timer F, or before the whole Timer E schedule went out: pending, not lost
        frame = last.request_frame or r.first_frame
        lost.append((None, Unanswered(r, frame, 1 + last.request_retransmissions,
                                      transaction_t1_estimate_ns(last, clock))))
    for _kind, group in grouped(lost):
        r = group[0].reg
        subject_en, subject_ru = subject(group, registrar_named=True)
        frames_en, frames_ru = cited(group, ("first at frame", "первая в кадре"),
                                      ("first at frames", "первые в кадрах"))
        lines_en, lines_ru = lines(group)
        yield Hit(None, all_frames(group), {
            "aor": r.aor, "source": r.source, "registrar": r.registrar, "sends": sum(f.sends for f in group),
            "frame": group[0].frame, "subject_en": subject_en, "subject_ru": subject_ru,
            "frames_en": frames_en, "frames_ru": frames_ru, "lines_en": lines_en, "lines_ru": lines_ru,
            # the T1 the first REGISTER's retransmissions show (None: none), by which its Timer F was judged
            "t1_estimate_s": estimate_s(group[0].t1_estimate_ns),
            **group_evidence(group, "request_frames")}, texts=_no_response_words(group))


def _no_response_words(group: list) -> dict[str, str]:
    """reg.no-response's customer words for one line (the phone's) or several (their sign-in requests, "your
    equipment", as reg.server-error words them)."""
    several = several_lines(group)
    if several is None:
        return {"problem_en": "Your phone tries to sign in to our service but gets no answer, so it cannot make or "
                              "receive calls.", "device_en": "the phone's",
                "problem_ru": "Ваш телефон пытается войти в наш сервис, но не получает ответа, поэтому не может "
                              "звонить и принимать звонки.", "device_gen_ru": "телефона"}
    return {"problem_en": f"The sign-in requests of {several[0]} to our service get no answer, so these lines cannot "
                          "make or receive calls.", "device_en": "your equipment's",
            "problem_ru": f"Запросы на вход {several[1]} в наш сервис остаются без ответа, поэтому по этим линиям "
                          "нельзя звонить и принимать звонки.", "device_gen_ru": "оборудования"}


@dataclass(frozen=True, slots=True)
class AuthLoop:
    """Credentials refused for one AOR from one source with no 2xx after: again and again (a loop), or fewer times
    than a loop's triggers ask with nothing accepted after them in the capture (trigger "refused")."""

    reg: Registration  # the registration of the first refusal: its AOR, source (the device) and registrar
    refused: tuple[RegisterExchange, ...]  # the credentialed REGISTERs answered 401/407/403
    attempts: int  # REGISTERs of the run, challenged first tries included
    # "window" (N refusals within W s), "no-success" (nothing accepted for S s), "steady" (N refusals at a device's
    # retry timer's steady pace) or "refused" (none of these: credentials refused, nothing accepted after)
    trigger: str
    densest: int = 0  # the most refusals of the run within one window: the N its trigger names (fewer: no loop)
    interval_s: float = 0.0  # "steady": the median interval between the refusals
    refusals: tuple[Refusal, ...] = ()  # `refused` with the credentials refused and the challenge they answered
    tried: tuple[RegisterExchange, ...] = ()  # the REGISTERs of the run in time order (the attempts)
    # "refused": how long the capture goes on after the last refusal's answer (s, or UNKNOWN across a clock step),
    # and what the device did after it (RFC 3261 §22.2: it should not resend the credentials just rejected)
    after_s: float | str = 0.0
    stopped: bool = False  # no REGISTER for the AOR from the device after it, the capture going on for Timer F
    retried: bool = False  # REGISTERs for the AOR from the device after it, none accepted
    # "refused": the T1 the last refused REGISTER's retransmissions show (sipdiag.siptimers; None: none), by which
    # Timer F (64*T1) after its answer was judged (RULES.md §0.5, T1_est)
    t1_estimate_ns: int | None = None

    @property
    def aor(self) -> str:
        return self.reg.aor

    @property
    def source(self) -> str:
        return self.reg.source

    @property
    def is_loop(self) -> bool:
        """One of RULES.md's triggers holds (the finding's confidence is high), not only a refusal."""
        return self.trigger != "refused"

    @property
    def frame(self) -> int:
        """The last refusal (its response): the final answer the loop got, as a group's text cites it."""
        last = self.refused[-1]
        return last.response_frame or last.frame or self.reg.first_frame

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(f for e in self.refused for f in (e.frame, e.response_frame) if f is not None)


def auth_loops(analysis: Analysis) -> list[AuthLoop]:
    """RULES.md reg.auth-loop, per AOR + source: credentialed REGISTERs refused (sipdiag.checks.digestrefusal: a
    401/407 to the credentials of its kind and realm without stale=true, or a 403) at least sip.auth_loop_attempts
    times within sip.auth_loop_window_s, or at least twice with no 2xx for sip.auth_loop_no_success_s after the
    first refusal (the capture lasting that long); such a run must end challenged (401/407), not refused outright
    (that is reg.rejected). Else, whatever the capture's length and however the run ends, at least
    sip.auth_loop_attempts refusals of the same digest user at a device's steady retry pace (_steady_loop). Else
    credentials refused with a new challenge and nothing accepted after (_unaccepted)."""
    from .security import attack_filter

    is_attack = attack_filter(analysis)
    n_attempts, window_ns = setting("sip.auth_loop_attempts"), setting("sip.auth_loop_window_s") * 10**9
    quiet_ns = setting("sip.auth_loop_no_success_s") * 10**9
    end_ns = analysis.capture.last_ts_ns or 0
    clock = analysis.capture.clock  # no span across a step of the capture's clock counts (sipdiag.clocksteps)
    by_key: dict[tuple[str, str], list[RegisterExchange]] = {}
    registration_of: dict[int, Registration] = {}  # id(exchange) -> its registration
    for r in analysis.registrations:
        if not is_attack(r):
            by_key.setdefault((r.aor, r.source), []).extend(r.exchanges)
            registration_of.update((id(e), r) for e in r.exchanges)
    loops = []
    for exchanges in by_key.values():
        run: list[Refusal] = []
        tried: list[RegisterExchange] = []
        densest = 0
        found: AuthLoop | None = None
        for ex, refused in judged(exchanges):
            if ex.status is not None and 200 <= ex.status < 300:
                run, tried, densest, found = [], [], 0, None  # accepted: whatever came before was not a loop
                continue
            tried.append(ex)
            if refused is None:
                continue
            run.append(refused)
            reg = registration_of[id(run[0].exchange)]
            recent = [r for r in run
                      if (ns := clock.elapsed_ns(r.exchange.ts_frame, r.exchange.ts_ns, ex.ts_frame, ex.ts_ns))
                      is not None and ns <= window_ns]
            densest = max(densest, len(recent))
            if len(recent) >= n_attempts:
                # a device retrying every 30 s is refused 3 times a minute however long the run: the trigger
                # names that, not the run's length
                found = _loop(reg, run, tried, "window", densest)
            elif found is None or found.trigger != "window":
                found = _loop(reg, run, tried, "no-success") if len(run) >= 2 else None
        if found is not None and found.refused[-1].status not in (401, 407):
            found = None  # refused outright at the end: reg.rejected's, unless the device kept retrying (below)
        elif found is not None and found.trigger == "no-success":
            first = found.refused[0]
            quiet = clock.elapsed_ns(first.ts_frame, first.ts_ns, analysis.capture.packets, end_ns)
            if quiet is None or quiet < quiet_ns:
                found = None  # the capture ends too soon after the first refusal to say nothing was accepted (or
                # a clock step hides how soon)
        found = (found or _steady_loop(analysis, run, tried, registration_of)
                 or _unaccepted(analysis, run, tried, registration_of, densest))
        if found is not None:
            loops.append(found)
    return sorted(loops, key=lambda loop: loop.refused[0].ts_ns)


def _loop(reg: Registration, run: list[Refusal], tried: list[RegisterExchange], trigger: str, densest: int = 0,
          **more) -> AuthLoop:
    return AuthLoop(reg, tuple(r.exchange for r in run), len(tried), trigger, densest, refusals=tuple(run),
                    tried=tuple(tried), **more)


def _steady_loop(analysis: Analysis, run: list[Refusal], tried: list[RegisterExchange],
                 registration_of: dict[int, Registration]) -> AuthLoop | None:
    """The run as a loop of a device retrying the same credentials on its timer: sip.auth_loop_attempts refusals
    or more of one digest user and realm at a steady pace (regretry.steady_interval_s). Such a device shows its
    loop whatever the capture's length: retrying every 31-59 s it is never refused 3 times within 60 s, and a
    capture shorter than 300 s cannot show the quiet time. Nor does it matter that it is refused with 403: it
    retries past the refusal (RFC 3261 §21.4.4: the request should not be repeated), the same wrong password."""
    if not run or len({(r.credentials.username, r.credentials.realm) for r in run}) != 1:
        return None
    interval = steady_interval_s(analysis.capture.clock, [r.exchange for r in run], setting("sip.auth_loop_attempts"))
    if interval is None:
        return None
    return _loop(registration_of[id(run[0].exchange)], run, tried, "steady", interval_s=interval)


def _unaccepted(analysis: Analysis, run: list[Refusal], tried: list[RegisterExchange],
                registration_of: dict[int, Registration], densest: int) -> AuthLoop | None:
    """Credentials refused with a new challenge (401/407), fewer times than a loop's triggers ask, and no 2xx for
    the AOR from the device after them in the capture: "my phone won't register". A phone that, as RFC 3261 §22.2
    asks, does not resend the credentials just rejected is refused once and stops: that single refusal is the whole
    story, and the line stays down until its credentials are fixed. Not when refused with 403 at the end (reg.
    rejected's, RFC 3261 §21.4.4), nor for credentials answering an old nonce (digestrefusal.OLD_NONCE: perhaps
    refused for the nonce alone) while the capture ends less than Timer F (64*T1) after the new challenge: the phone
    may yet answer it. T1 is the phone's own when the retransmissions of its refused REGISTER show another than the
    configured one (RULES.md §0.5, T1_est)."""
    if not run or run[-1].exchange.status not in (401, 407):
        return None
    last = run[-1].exchange
    clock, end_frame, end_ns = analysis.capture.clock, analysis.capture.packets, analysis.capture.last_ts_ns or 0
    answered_frame = last.response_frame if last.response_ts_ns is not None else last.ts_frame
    answered_ns = last.response_ts_ns if last.response_ts_ns is not None else last.ts_ns
    after = clock.elapsed_ns(answered_frame, answered_ns, end_frame, end_ns)
    # Timer F of the phone: 64*T1, T1 its own when its REGISTER's retransmissions show another (RULES.md §0.5)
    timer_f, estimate = timer_f_of(analysis, registration_of[id(last)], last)
    if run[-1].kind == OLD_NONCE and (after is None or after < timer_f):
        return None
    later = tried[next(i for i, e in enumerate(tried) if e is last) + 1:]
    # stopped: no REGISTER again for as long as a transaction may last (Timer F): a phone answering a challenge,
    # or retrying at once, would have
    stopped = not later and after is not None and after >= timer_f
    return _loop(registration_of[id(run[0].exchange)], run, tried, "refused", densest,
                 after_s=seconds(clock, answered_frame, answered_ns, end_frame, end_ns), stopped=stopped,
                 retried=bool(later), t1_estimate_ns=estimate)


def _challenge_words(challenges: tuple[DigestInfo, ...]) -> tuple[str, str]:
    """A challenge as the attempt list quotes it: realm, nonce, algorithm and stale=true when set."""
    if not challenges:
        return "", ""
    c = challenges[0]
    words = [f"realm {c.realm or '-'}", f"nonce {c.nonce or '-'}"]
    # one challenge per algorithm (RFC 8760 §2.4); MD5 alone is the default (RFC 2617 §3.2.1), not worth a word
    algorithms = list(dict.fromkeys(x.algorithm or "MD5" for x in challenges))
    if algorithms != ["MD5"] and algorithms != ["md5"]:
        words.append("algorithm " + " | ".join(algorithms))
    if any(x.stale for x in challenges):
        words.append("stale=true")
    return f" ({', '.join(words)})", f" ({', '.join(words)})"


ATTEMPTS_LISTED = 6


def _attempt_words(loop: AuthLoop) -> tuple[str, str]:
    """The attempts of the loop's AOR (RULES.md reg.auth-loop engineer text: realm, username, uri, nonce), the last
    ATTEMPTS_LISTED: each REGISTER's credentials and what answered it."""
    from .digestrefusal import challenges_of

    refused = {id(r.exchange): r.credentials for r in loop.refusals}
    en: list[str] = []
    ru: list[str] = []
    for ex in loop.tried[-ATTEMPTS_LISTED:]:
        cred = refused.get(id(ex), ex.credentials)
        if ex.frame is None:
            where_en, where_ru = f"answer frame {ex.response_frame}", f"ответ кадр {ex.response_frame}"
        else:
            where_en, where_ru = f"frame {ex.frame}", f"кадр {ex.frame}"
        if cred is None:
            sent_en, sent_ru = "no credentials", "без учётных данных"
        else:
            sent_en = sent_ru = (f"username {cred.username or '-'}, realm {cred.realm or '-'}, uri {cred.uri or '-'}, "
                                 f"nonce {cred.nonce or '-'}")
        challenge_en, challenge_ru = _challenge_words(challenges_of(ex))
        if ex.status is None:
            got_en, got_ru = "no answer", "нет ответа"
        else:
            got_en, got_ru = f"{ex.status}{challenge_en}", f"{ex.status}{challenge_ru}"
        en.append(f"{where_en} ({sent_en}) -> {got_en}")
        ru.append(f"{where_ru} ({sent_ru}) -> {got_ru}")
    total = len(loop.tried)
    if total > ATTEMPTS_LISTED:
        return (f"the last {ATTEMPTS_LISTED} of {total}: " + "; ".join(en),
                f"последние {ATTEMPTS_LISTED} из {total}: " + "; ".join(ru))
    return "; ".join(en), "; ".join(ru)


def _digest_findings(loop: AuthLoop) -> list[tuple[str, str, str]]:
    """Sub-diagnoses read from the headers (RULES.md reg.auth-loop), each (what is wrong, in English, in Russian):
    "realm" (credentials for another realm than the challenge's), "user" (auth user vs AOR user), "uri" (digest uri
    vs Request-URI), "nonce" (an old nonce answered), "algorithm", "qop", else "password"; "password" after
    "nonce" too where credentials answering the current nonce were refused as well. Judged on the last refusal
    against the challenge its credentials answer, but the nonce on every refusal."""
    out: list[tuple[str, str, str]] = []
    last = loop.refusals[-1]
    cred, answered = last.credentials, last.answered
    aor_user = loop.aor.split(":", 1)[-1].split("@", 1)[0]
    if answered and cred.realm not in {c.realm for c in answered}:
        asked = answered[0].realm
        out.append(("realm", f"credentials for realm {cred.realm!r} answer a challenge for realm {asked!r}",
                    f"учётные данные для realm {cred.realm!r} в ответ на запрос realm {asked!r}"))
    if cred.username and cred.username != aor_user:
        out.append(("user", f"digest user {cred.username!r} differs from the AOR user {aor_user!r} (auth user vs "
                            "user id)",
                    f"пользователь digest {cred.username!r} не совпадает с пользователем AOR {aor_user!r}"))
    request_uri = last.exchange.request_uri
    if cred.uri and request_uri and cred.uri.lower() != request_uri.lower():
        out.append(("uri", f"digest uri {cred.uri!r} is not the Request-URI {request_uri!r} (RFC 7616 §3.4.6: "
                           "the server may refuse it; a rewriting middlebox makes it never match)",
                    f"digest uri {cred.uri!r} не совпадает с Request-URI {request_uri!r} (RFC 7616 §3.4.6)"))
    # an old nonce (digestrefusal.OLD_NONCE): the credentials answer a nonce other than the one the challenge
    # before them gave, or none a challenge since the last 2xx gave (a refresh reusing the nonce accepted before);
    # a server refusing only the nonce says stale=true (RFC 7616 §3.3). A registrar that repeats its nonce is
    # answered rightly with it again.
    old = [r for r in loop.refusals if r.kind == OLD_NONCE]
    if old:
        nonce = old[-1].credentials.nonce
        if old[-1].answered:
            given = old[-1].answered[0].nonce
            out.append(("nonce", f"credentials answer nonce {nonce!r}, not {given!r} of the challenge before them: "
                                 "an old nonce (RFC 7616 §3.3)",
                        f"учётные данные отвечают на nonce {nonce!r}, а не на {given!r} из предшествующего запроса "
                        "авторизации: устаревший nonce (RFC 7616 §3.3)"))
        else:
            # the new challenge is left unanswered only where no REGISTER of the AOR follows the refusal: one
            # answering it (refused too: the password, below) would belie the words
            last_tried = loop.tried[-1] if loop.tried else None
            unanswered_en, unanswered_ru = (", and the new challenge left unanswered",
                                            ", а новый запрос авторизации остался без ответа") \
                if last_tried is old[-1].exchange else ("", "")
            out.append(("nonce", f"credentials answer nonce {nonce!r}, which no challenge since the last accepted "
                                 f"REGISTER gave: an old nonce, refused without stale=true{unanswered_en} (RFC 7616 "
                                 "§3.3)",
                        f"учётные данные отвечают на nonce {nonce!r}, не выданный ни одним запросом авторизации после "
                        f"последней успешной регистрации: устаревший nonce, отвергнутый без stale=true{unanswered_ru} "
                        "(RFC 7616 §3.3)"))
    algorithms = list(dict.fromkeys(c.algorithm or "MD5" for c in answered))
    if answered and (cred.algorithm or "MD5").upper() not in {a.upper() for a in algorithms}:
        # RFC 8760 §2.4: a server may offer one challenge per algorithm, the phone answers one of them
        offered = " or ".join(algorithms)
        out.append(("algorithm", f"server asks for {offered}, the phone answers {cred.algorithm or 'MD5'}",
                    f"сервер требует {offered.replace(' or ', ' или ')}, телефон отвечает {cred.algorithm or 'MD5'}"))
    qops = list(dict.fromkeys(q.strip() for c in answered for q in (c.qop or "").split(",") if q.strip()))
    if answered and (cred.qop not in qops if qops else cred.qop):
        # RFC 7616 §3.4: the qop chosen must be one the server offered (RFC 2617 §3.2.2: and should be sent when
        # it offered one); none offered, none may be sent
        offered_en, offered_ru = ("qop " + ", ".join(qops), "qop " + ", ".join(qops)) if qops else ("no qop",
                                                                                                  "без qop")
        chosen_en, chosen_ru = (f"qop {cred.qop}", f"qop {cred.qop}") if cred.qop else ("without qop", "без qop")
        out.append(("qop", f"server offers {offered_en}, the phone answers {chosen_en} (RFC 7616 §3.4)",
                    f"сервер предлагает {offered_ru}, телефон отвечает {chosen_ru} (RFC 7616 §3.4)"))
    if not out:
        out.append(("password", "realm, user and URI are consistent: the password is the likely cause",
                    "realm, пользователь и URI согласованы: вероятная причина — пароль"))
    elif [code for code, _, _ in out] == ["nonce"] and (current := [r for r in loop.refusals if r.kind != OLD_NONCE]):
        # beside the old nonce, credentials answering the nonce the challenge before them gave were refused too
        # (without stale=true, RFC 7616 §3.3): refused for what they are, not for their nonce
        nonce = current[-1].credentials.nonce
        out.append(("password", f"credentials answering the current nonce {nonce!r} were refused too, so not only "
                                "the nonce: the password (or the auth user) is refused",
                    f"учётные данные, отвечающие на текущий nonce {nonce!r}, тоже отвергнуты, значит дело не только "
                    "в nonce: отвергнут пароль (или пользователь авторизации)"))
    return out


def _trigger_words(group: list[AuthLoop]) -> tuple[str, str]:
    """Why the loop is one (RULES.md reg.auth-loop): its own trigger, or for a group what held on each AOR. The
    Russian words agree with their counts here, as the evidence keeps them ("4 отказа", not "4 отказов")."""
    en, ru = _trigger_phrases(group)
    return en, agree(ru)


def _trigger_phrases(group: list[AuthLoop]) -> tuple[str, str]:
    window_s, quiet_s = setting("sip.auth_loop_window_s"), setting("sip.auth_loop_no_success_s")
    if not group[0].is_loop:
        return _refused_phrases(group)
    if len(group) == 1:
        loop = group[0]
        if loop.trigger == "window":
            return f"{loop.densest} refusals within {window_s} s", f"{loop.densest} отказов за {window_s} с"
        if loop.trigger == "steady":
            return (f"{len(loop.refused)} refusals at a steady pace, one every {loop.interval_s} s",
                    f"{len(loop.refused)} отказов с ровным интервалом, раз в {loop.interval_s} с")
        return (f"no success for {quiet_s} s after the first refusal",
                f"нет успеха {quiet_s} с после первого отказа")
    en: list[str] = []
    ru: list[str] = []
    windows = [loop.densest for loop in group if loop.trigger == "window"]
    if windows:
        en.append(f"at least {min(windows)} refusals within {window_s} s")
        ru.append(f"не менее {min(windows)} отказов за {window_s} с")
    steady = [loop for loop in group if loop.trigger == "steady"]
    if steady:
        fewest = min(len(loop.refused) for loop in steady)
        lo, hi = min(loop.interval_s for loop in steady), max(loop.interval_s for loop in steady)
        every = f"{lo}" if lo == hi else f"{lo}-{hi}"
        en.append(f"at least {fewest} refusals at a steady pace, one every {every} s")
        ru.append(f"не менее {fewest} отказов с ровным интервалом, раз в {every} с")
    if len(windows) + len(steady) < len(group):
        en.append(f"no success for {quiet_s} s after its first refusal")
        ru.append(f"нет успеха {quiet_s} с после первого отказа")
    return "each AOR: " + " or ".join(en), "у каждого AOR: " + " или ".join(ru)


def _refused_phrases(group: list[AuthLoop]) -> tuple[str, str]:
    """The trigger of credentials refused below a loop's triggers: how often, and what the device did after (RFC
    3261 §22.2: not resend the credentials just rejected)."""
    n, window_s = setting("sip.auth_loop_attempts"), setting("sip.auth_loop_window_s")
    if len(group) > 1:
        return (f"each AOR: fewer than {n} refusals within {window_s} s, nothing accepted after them",
                f"у каждого AOR: менее {n} отказов за {window_s} с, после них ничего не принято")
    loop = group[0]
    count = len(loop.refused)
    en = "refused once" if count == 1 else f"{count} refusals, at most {loop.densest} within {window_s} s"
    ru = "один отказ" if count == 1 else f"{count} отказов, не более {loop.densest} за {window_s} с"
    if loop.retried:
        return (f"{en}; its later REGISTERs were not accepted in the capture either",
                f"{ru}; последующие REGISTER в захвате тоже не приняты")
    if loop.stopped:
        return (f"{en}; then the device sent no REGISTER for this AOR in the {loop.after_s} s the capture goes on",
                f"{ru}; затем устройство не отправило для этого AOR ни одного REGISTER за {loop.after_s} с до конца "
                "захвата")
    return f"{en}; the capture ends {loop.after_s} s after it", f"{ru}; захват заканчивается через {loop.after_s} с"


def _refused_words(refusals: int, statuses: str, span_s: float | str, trigger: tuple[str, str]) -> tuple[str, str]:
    """What was refused, for the engineer: the loop's count and span, or a single refusal as one."""
    if refusals == 1:
        return (f"a credentialed REGISTER refused ({statuses}), none accepted after it ({trigger[0]})",
                f"отклонён REGISTER с учётными данными ({statuses}), после него ни один не принят ({trigger[1]})")
    return (f"{refusals} credentialed REGISTERs refused ({statuses}) over {span_s} s, none accepted ({trigger[0]})",
            f"отклонено REGISTER с учётными данными: {refusals} ({statuses}) за {span_s} с, ни один не принят "
            f"({trigger[1]})")


def _cause(codes: tuple[str, ...], loop: AuthLoop) -> str:
    """What the customer is told to do about the loop, by its sub-diagnoses (RULES.md reg.auth-loop, `codes` from
    _digest_findings):
    - "alg": the digest uri is not the Request-URI the server received, a middlebox rewrote it and the digest can
      never match whatever password is typed (strong ALG evidence: RULES.md's owner CUST, the router's SIP ALG);
    - "phone-uri": the same mismatch in a REGISTER captured as the phone sent it, from a private address (RULES.md
      §0.2: the capture is on the phone's LAN, before the router and any ALG on it; not from RFC 6598's shared
      space, which lies past the router: authcauses.on_phone_lan): the phone itself signs another URI than it
      requests (aaa.pcap's Nero phone signs its own address), its settings or firmware, first-line's (RULES.md:
      L1, provisioning); switching an ALG off would change nothing;
    - "old-nonce": the only finding is an old nonce and every refusal answered one (digestrefusal.OLD_NONCE): no
      credentials were refused for the nonce they answered, so nothing tells the password is wrong; the phone's
      nonce handling or the server's nonce lifetime, ours to look at (RULES.md names no owner of its own for it:
      the rule's, first-line, who collect the phone's firmware and hand the server's side to the engineers);
    - "credentials": anything else, the credentials provisioned or typed (RULES.md: L1 / CUST typed credentials).
    The uri first: while the signed URI is not the requested one no credentials can pass, right or wrong."""
    if "uri" in codes:
        return "phone-uri" if on_phone_lan(loop.refusals[-1].exchange.source) else "alg"
    if codes == ("nonce",) and all(r.kind == OLD_NONCE for r in loop.refusals):
        return "old-nonce"
    return "credentials"


# the owner of each cause where it is not the rule's (first-line): RULES.md reg.auth-loop "CUST (ALG if uri mismatch)"
_CAUSE_OWNER = {"alg": "customer"}


def _customer_words(group: list[AuthLoop], cause: str = "credentials") -> dict[str, str]:
    """The customer's text, in the singular for one line and in the plural for several (each has its own
    credentials); a loop "keeps being refused", credentials refused once or twice "were refused". What it asks
    follows the cause (_cause): the router's SIP ALG, the phone's configuration resent for the URI it signs, nothing
    to retype for an old nonce, else the password."""
    several = several_lines(group)
    loop = group[0].is_loop
    if cause == "alg":
        return _alg_words(several, loop)
    if cause == "phone-uri":
        return _phone_uri_words(several, loop)
    if cause == "old-nonce":
        return _old_nonce_words(several, loop)
    if several is None:  # one line (perhaps with two bindings, two contacts of one AOR): the phone's one password
        problem_en = ("Your phone keeps being refused because" if loop else
                      "Your phone's sign-in was refused because")
        problem_ru = ("Вашему телефону раз за разом отказывают во входе:" if loop else
                      "Вашему телефону отказано во входе:")
        return {
            "problem_en": f"{problem_en} the user name or password it sends does not match our records, so it "
                          "cannot make or receive calls.",
            "problem_ru": f"{problem_ru} имя пользователя или пароль, которые он отправляет, не совпадают с нашими "
                          "данными, поэтому он не может звонить и принимать звонки.",
            "action_en": "We are re-sending your phone's configuration; if you typed the details in yourself, please "
                         "enter the SIP password again exactly as provided (it is case-sensitive).",
            "action_ru": "Мы повторно отправляем настройки телефона; если вы вводили данные сами, введите SIP-пароль "
                         "ещё раз точно как выдан (с учётом регистра)."}
    refused_en, refused_ru = _lines_refused(loop)
    return {
        "problem_en": f"The sign-in of {several[0]} {refused_en} because the user names or passwords sent "
                      "for them do not match our records, so these lines cannot make or receive calls.",
        "problem_ru": f"Вход {several[1]} {refused_ru}: имена пользователей или пароли, которые для них "
                      "отправляются, не совпадают с нашими данными, поэтому по этим линиям нельзя звонить и "
                      "принимать звонки.",
        "action_en": "We are re-sending your equipment's configuration; if you typed the details in yourself, please "
                     "enter the SIP passwords of these lines again exactly as provided (they are case-sensitive).",
        "action_ru": "Мы повторно отправляем настройки оборудования; если вы вводили данные сами, введите SIP-пароли "
                     "этих линий ещё раз точно как выданы (с учётом регистра)."}


def _phone_refused(loop: bool) -> tuple[str, str]:
    """The start of a customer text on one line's refusal (English, Russian): a loop, or a refusal or two."""
    if loop:
        return "Your phone keeps being refused", "Вашему телефону раз за разом отказывают во входе"
    return "Your phone's sign-in was refused", "Вашему телефону отказано во входе"


def _lines_refused(loop: bool) -> tuple[str, str]:
    """What happens to several lines' sign-in, in a customer text (English, Russian)."""
    return ("keeps being refused", "раз за разом отклоняется") if loop else ("was refused", "отклонён")


def _alg_words(several: tuple[str, str] | None, loop: bool) -> dict[str, str]:
    """The customer's text where a middlebox rewrites the REGISTER (the digest uri is not the Request-URI): the
    router's SIP ALG to switch off, no password to retype (RULES.md reg.auth-loop, owner CUST)."""
    if several is None:
        problem_en, problem_ru = _phone_refused(loop)
        return {
            "problem_en": f"{problem_en} because a device on the way, most often your router with its 'SIP ALG' "
                          "feature, changes the phone's sign-in requests, so our check of its password fails even "
                          "when the password is right; the phone cannot make or receive calls.",
            "problem_ru": f"{problem_ru}: устройство на пути, чаще всего роутер с функцией «SIP ALG», изменяет "
                          "запросы телефона на вход, поэтому проверка пароля не проходит, даже если пароль верный; "
                          "телефон не может звонить и принимать звонки.",
            "action_en": "Please switch SIP ALG (also called 'SIP Helper' or 'SIP inspection') off in the router's "
                         "settings, then restart the router and the phone; there is no need to type the password "
                         "again.",
            "action_ru": "Отключите SIP ALG (также «SIP Helper» или «SIP inspection») в настройках роутера, затем "
                         "перезагрузите роутер и телефон; вводить пароль заново не нужно."}
    refused_en, refused_ru = _lines_refused(loop)
    return {
        "problem_en": f"The sign-in of {several[0]} {refused_en} because a device on the way, most often your "
                      "router with its 'SIP ALG' feature, changes the sign-in requests, so our check of their "
                      "passwords fails even when they are right; these lines cannot make or receive calls.",
        "problem_ru": f"Вход {several[1]} {refused_ru}: устройство на пути, чаще всего роутер с функцией «SIP ALG», "
                      "изменяет запросы на вход, поэтому проверка паролей не проходит, даже если они верные; по этим "
                      "линиям нельзя звонить и принимать звонки.",
        "action_en": "Please switch SIP ALG (also called 'SIP Helper' or 'SIP inspection') off in the router's "
                     "settings, then restart the router and your equipment; there is no need to type the passwords "
                     "again.",
        "action_ru": "Отключите SIP ALG (также «SIP Helper» или «SIP inspection») в настройках роутера, затем "
                     "перезагрузите роутер и оборудование; вводить пароли заново не нужно."}


def _phone_uri_words(several: tuple[str, str] | None, loop: bool) -> dict[str, str]:
    """The customer's text where the phone itself signs another URI than it requests (seen on its LAN): its
    configuration, which we re-send; no password to retype, no ALG to switch off."""
    if several is None:
        problem_en, problem_ru = _phone_refused(loop)
        return {
            "problem_en": f"{problem_en} because it signs its sign-in requests for another address than the one it "
                          "sends them to (a setting or a fault of the phone), so our check of its password fails even "
                          "when the password is right; the phone cannot make or receive calls.",
            "problem_ru": f"{problem_ru}: он подписывает запросы на вход для другого адреса, чем тот, на который их "
                          "отправляет (настройка или ошибка телефона), поэтому проверка пароля не проходит, даже если "
                          "пароль верный; телефон не может звонить и принимать звонки.",
            "action_en": "We are re-sending your phone's configuration; there is no need to type the password again.",
            "action_ru": "Мы повторно отправляем настройки телефона; вводить пароль заново не нужно."}
    refused_en, refused_ru = _lines_refused(loop)
    return {
        "problem_en": f"The sign-in of {several[0]} {refused_en} because your equipment signs their sign-in "
                      "requests for another address than the one it sends them to (a setting or a fault of the "
                      "equipment), so our check of their passwords fails even when they are right; these lines "
                      "cannot make or receive calls.",
        "problem_ru": f"Вход {several[1]} {refused_ru}: оборудование подписывает запросы на вход для другого "
                      "адреса, чем тот, на который их отправляет (настройка или ошибка оборудования), поэтому "
                      "проверка паролей не проходит, даже если они верные; по этим линиям нельзя звонить и "
                      "принимать звонки.",
        "action_en": "We are re-sending your equipment's configuration; there is no need to type the passwords "
                     "again.",
        "action_ru": "Мы повторно отправляем настройки оборудования; вводить пароли заново не нужно."}


def _old_nonce_words(several: tuple[str, str] | None, loop: bool) -> dict[str, str]:
    """The customer's text where only old nonces were refused (the one-time codes of the digest exchange, RFC 7616
    §3.3): nothing tells the password is wrong, nothing to retype; the operator looks at it."""
    if several is None:
        problem_en, problem_ru = _phone_refused(loop)
        return {
            "problem_en": f"{problem_en} not because of its password but because it answers our server with an "
                          "expired one-time sign-in code, so it cannot make or receive calls.",
            "problem_ru": f"{problem_ru} не из-за пароля: он отвечает нашему серверу устаревшим одноразовым кодом "
                          "входа, поэтому не может звонить и принимать звонки.",
            "action_en": "There is nothing to type again: we are looking into it on our side and will contact you if "
                         "the phone needs a change.",
            "action_ru": "Вводить пароль заново не нужно: мы разбираемся с этим на нашей стороне и свяжемся с вами, "
                         "если в телефоне понадобится что-то изменить."}
    refused_en, refused_ru = _lines_refused(loop)
    return {
        "problem_en": f"The sign-in of {several[0]} {refused_en} not because of their passwords but because they "
                      "answer our server with expired one-time sign-in codes, so these lines cannot make or receive "
                      "calls.",
        "problem_ru": f"Вход {several[1]} {refused_ru} не из-за паролей: для них нашему серверу отправляются "
                      "устаревшие одноразовые коды входа, поэтому по этим линиям нельзя звонить и принимать звонки.",
        "action_en": "There is nothing to type again: we are looking into it on our side and will contact you if "
                     "your equipment needs a change.",
        "action_ru": "Вводить пароли заново не нужно: мы разбираемся с этим на нашей стороне и свяжемся с вами, "
                     "если в оборудовании понадобится что-то изменить."}


_TITLES = {  # the title's words: a loop, credentials refused below a loop's triggers, and the rule's in general
    "loop": ("stuck in a digest authentication loop", "зациклилась на digest-аутентификации"),
    "refused": ("refused: digest credentials not accepted", "отклонена: учётные данные digest не приняты"),
    "rule": ("refused for its digest credentials, once or in a loop",
             "отклонена из-за учётных данных digest, однократно или в цикле"),
}


def _auth_title() -> dict[str, str]:
    """The title outside a finding (`sipdiag rules`, the rules reference): the rule's; a finding's says which."""
    en, ru = _TITLES["rule"]
    return {"how_en": en, "how_ru": ru}


@check(
    id="reg.auth-loop", category="registration", severity="critical", owner="first-line",
    title={
        "en": "Registration {how_en}",
        "ru": "Регистрация {how_ru}",
    },
    title_values=_auth_title,
    customer={
        "en": "{problem_en} {action_en}",
        "ru": "{problem_ru} {action_ru}",
    },
    engineer={
        "en": "{subject_en}: {refused_en}; frames {refused_frames}. Last credentials{of_en}: username {username}, "
              "realm {realm}, uri {digest_uri}, nonce {nonce}. Findings: {findings_en}{likewise_en}. RFC 3261 "
              "§22.2: a UAC should not resend credentials that were just rejected unless the nonce was stale; "
              "{check_en}. Attempts{of_en}: {attempts_en}.",
        "ru": "{subject_ru}: {refused_ru}; кадры {refused_frames}. Последние данные{of_ru}: username {username}, realm "
              "{realm}, uri {digest_uri}, nonce {nonce}. Выводы: {findings_ru}{likewise_ru}. RFC 3261 §22.2: UAC не "
              "должен повторять отвергнутые учётные данные, если nonce не устарел (stale); {check_ru}. "
              "Попытки{of_ru}: {attempts_ru}.",
    },
)
def auth_loop(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    For one AOR and source, REGISTERs carrying Authorization/Proxy-Authorization whose credentials were refused
    (a 401/407 challenging again the kind and realm they were sent for, without stale=true, or a 403) with no 2xx
    after. A loop, at high confidence: refused at least sip.auth_loop_attempts (3) times within
    sip.auth_loop_window_s (60 s), or at least twice with nothing accepted for sip.auth_loop_no_success_s (300 s)
    after the first refusal, the last one a new challenge (a final 403 is reg.rejected's); or, in a capture of any
    length and whatever the last answer, at least sip.auth_loop_attempts refusals of the same digest user at a
    device's steady retry pace (the median interval at least `security.steady_retry_min_interval_s`, 5 s, each
    within `security.steady_retry_spread`, 25 %, of it): a phone retrying a wrong password every 45 s, caught in
    a two-minute capture. Fewer refusals, at medium confidence: credentials refused with a new challenge and
    nothing accepted after them in the capture, "my phone won't register": a phone that, as RFC 3261 §22.2 asks,
    does not resend credentials just rejected is refused once and stops, and that refusal is the whole story.
    Not a refusal: one challenge then 200 (RFC 3261 §22), a challenge with stale=true (RFC 7616 §3.3), the
    registrar's 401 after a proxy's 407 was answered (two-stage, RFC 3261 §22.3: credentials for one realm or
    header answered by a challenge for another), credentials without a nonce (an IMS first REGISTER), refused
    de-registrations and attackers' brute force (sec.bruteforce-auth). Credentials answering an old nonce (one a
    2xx accepted, reused by a refresh), perhaps refused for the nonce alone, count on their own only once the
    phone has left the new challenge for Timer F (64*T1). The finding quotes the digest fields and the last
    attempts (credentials, answer, challenge) and names inconsistencies: realm, auth user vs AOR user, digest uri
    vs Request-URI, an old nonce answered, algorithm, qop. The loops of one device (source address) toward one
    registrar with the same inconsistencies (or none: the password) are one finding that lists their AORs and
    quotes the first one's digest fields: a multi-line phone provisioned with one wrong auth user loops on each
    line, one problem; its lines refused fewer times are another such finding. The customer is asked to retype
    the password unless the sub-diagnoses say otherwise: where the digest uri is not the Request-URI (a rewriting
    middlebox) to switch the router's SIP ALG off, owner customer (RULES.md: CUST for the ALG), unless the
    REGISTER comes from a private address (captured on the phone's LAN, before any ALG: the phone signs the other
    URI itself, its configuration is re-sent, owner first-line), not one of RFC 6598's shared space (100.64.0.0/10,
    past the router); where the only finding is an old nonce and every refusal answered one, to retype nothing
    (the nonce handling is the operator's to look at). Credentials answering the current nonce refused beside an
    old one are the password too. The engineer is told what to check by the same cause: the router's SIP ALG, the
    phone's registrar and proxy settings, the registrar's nonce lifetime and stale flag, else the credentials. A
    source failing for as many user names, or as fast, as sec.bruteforce-auth counts is that rule's, not a loop,
    unless its failures are its devices' steady retries (see that rule): a PBX retrying its lines on a timer.

    ## Why it matters
    The phone never registers: no incoming calls, and usually no outgoing ones.

    ## How to fix
    Re-provision the credentials (auth user, password, realm); if the digest uri differs from the Request-URI
    at the registrar, look for a SIP ALG or proxy rewriting the request, or, where the phone itself signs another
    URI, correct its registrar and outbound proxy settings; if only old nonces are refused without stale=true,
    check the registrar's nonce lifetime, its stale flag and whether a cluster's nodes share nonces.

    ## References
    RFC 3261 §22.1-§22.4, §20.7, §20.27, §20.44; RFC 2617 §3.2.1, §3.2.2; RFC 7616 §3.3, §3.4, §3.4.6; RFC 8760
    """
    loops = auth_loops(analysis)
    found = {id(loop): _digest_findings(loop) for loop in loops}
    # failing the same way: the same inconsistencies of the digest (or none: the password), fixed once in the
    # device's provisioning; the values differ per line (each AOR has its own user), the diagnosis does not. A loop
    # and a line refused once are two findings: their texts (and confidence) differ, as do two causes for the
    # customer (_cause: the text and the owner; old nonces alone or beside a refused current one).
    keyed = []
    for loop in loops:
        codes = tuple(code for code, _, _ in found[id(loop)])
        keyed.append(((codes, loop.is_loop, _cause(codes, loop)), loop))
    for (codes, is_loop, cause), group in grouped(keyed):
        head = group[0]
        refused = sorted((e for loop in group for e in loop.refused), key=lambda e: e.ts_ns)
        first, last = refused[0], refused[-1]
        statuses = ", ".join(map(str, sorted({e.status for e in refused if e.status is not None})))
        subject_en, subject_ru = subject(group, registrar_named=False)
        trigger_en, trigger_ru = _trigger_words(group)
        likewise_en, likewise_ru = likewise(group)
        span_s = seconds(analysis.capture.clock, first.ts_frame, first.ts_ns,
                         last.response_frame if last.response_ts_ns else last.ts_frame,
                         last.response_ts_ns or last.ts_ns)
        refused_en, refused_ru = _refused_words(len(refused), statuses, span_s, (trigger_en, trigger_ru))
        attempts_en, attempts_ru = _attempt_words(head)
        credentials = _credentials(head)
        # what the engineer checks follows the cause, as the customer's text does (authcauses)
        check_en, check_ru = engineer_check(cause, source=head.source, digest_uri=credentials["digest_uri"],
                                            request_uri=credentials["request_uri"], nonce=credentials["nonce"])
        several = len(group) > 1
        how_en, how_ru = _TITLES["loop" if is_loop else "refused"]
        yield Hit(None, all_frames(group), {
            "aor": head.aor, "source": head.source, "refusals": len(refused),
            "attempts": sum(loop.attempts for loop in group),
            "statuses": statuses, "status": head.refused[-1].status,
            "span_s": span_s, "trigger": trigger_en, "trigger_ru": trigger_ru,
            "refused_en": refused_en, "refused_ru": refused_ru,
            # not a loop: fewer refusals than a loop's triggers ask; stopped: the device sent no REGISTER after them
            # for Timer F, as RFC 3261 §22.2 has it (None for a loop)
            "loop": is_loop, "stopped": None if is_loop else all(loop.stopped for loop in group),
            # the T1 the first line's last refused REGISTER shows by its retransmissions (None: none, or a loop,
            # which no timer judges), by which its Timer F was judged
            "t1_estimate_s": None if is_loop else estimate_s(head.t1_estimate_ns),
            "refused_frames": ", ".join(str(e.frame) for e in refused[:20]),
            **credentials, "findings_en": "; ".join(en for _, en, _ in found[id(head)]),
            "findings_ru": "; ".join(ru for _, _, ru in found[id(head)]),
            "attempts_en": attempts_en, "attempts_ru": attempts_ru,
            "registrar": head.reg.registrar, "diagnosis": list(codes),
            "subject_en": subject_en, "subject_ru": subject_ru,
            "of_en": f" of {head.aor}" if several else "", "of_ru": f" для {head.aor}" if several else "",
            "likewise_en": likewise_en, "likewise_ru": likewise_ru, **_customer_words(group, cause),
            # what the customer is asked (_cause): "alg", "phone-uri", "old-nonce" or "credentials", as
            # reg.rejected's cause
            "cause": cause, "check_en": check_en, "check_ru": check_ru,
            **group_evidence(group, "final_frames"),
            # each AOR's own digest fields: the texts quote the first one's
            "per_aor": [{"aor": loop.aor, "refusals": len(loop.refused),
                         "frames": [e.frame for e in loop.refused[:20]], **_credentials(loop)}
                        for loop in group[:KEPT]],
        }, confidence="high" if is_loop else "medium", owner=_CAUSE_OWNER.get(cause),
            texts={"how_en": how_en, "how_ru": how_ru})


def _credentials(loop: AuthLoop) -> dict[str, str]:
    """The digest fields of the credentials the loop's last refusal refused, "-" for those missing."""
    last = loop.refusals[-1]
    cred = last.credentials
    return {"username": cred.username or "-", "realm": cred.realm or "-", "digest_uri": cred.uri or "-",
            "request_uri": last.exchange.request_uri or "-", "nonce": cred.nonce or "-"}
