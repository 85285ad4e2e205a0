"""Registration rules (RULES.md §3.4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import Hit, Severity, check

if TYPE_CHECKING:
    from ..analysis import Analysis

AUTH_LOOP_CHALLENGES = 3  # RULES.md §5 sip.auth_loop_attempts


@check(
    id="reg.rejected", category="registration", severity="critical", owner="first-line",
    title="Registration refused",
    customer={
        "en": "Your phone could not sign in to our service (the server answered {status} {reason}), so it cannot "
              "make or receive calls. {action_en}",
        "ru": "Ваш телефон не смог войти в наш сервис (сервер ответил {status} {reason}), поэтому он не может "
              "звонить и принимать звонки. {action_ru}",
    },
    engineer={
        "en": "Registration {aor} from {source}: {attempts} REGISTER, {challenges} digest challenge(s), final "
              "{status} {reason} (frame {frame}). {meaning} (RFC 3261 §10.3, §22).",
        "ru": "Регистрация {aor} с {source}: {attempts} REGISTER, запросов авторизации {challenges}, итог {status} "
              "{reason} (кадр {frame}). {meaning} (RFC 3261 §10.3, §22).",
    },
)
def rejected(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A registration whose last REGISTER ended with a final error: 403 after a digest challenge (wrong password),
    404 (unknown user), or a challenge answered again and again without success (an auth loop).

    ## Why it matters
    The phone is offline for the operator: no outgoing calls, no incoming calls.

    ## How to fix
    Check the credentials (user name, password, realm) provisioned on the device against the account; an unknown
    user needs provisioning.

    ## References
    RFC 3261 §10.3, §22.2, §21.4.4, RFC 7616
    """
    from .security import attack_filter

    is_attack = attack_filter(analysis)
    for r in analysis.registrations:
        if r.outcome != "failed" or r.final_status is None or is_attack(r):
            continue
        challenged = r.challenges > 0
        if r.final_status in (401, 407) and r.challenges < AUTH_LOOP_CHALLENGES and r.attempts <= r.challenges:
            continue  # a single unanswered challenge: the device may simply not have retried inside the capture
        meaning = ("Credentials were sent and refused: wrong password or user name" if challenged
                   and r.final_status in (401, 403, 407) else "The registrar refused the binding")
        last = r.transactions[-1]
        frame = next((f for code, f, _ in last.responses if code == r.final_status), r.last_frame)
        yield Hit(None, (r.first_frame, frame), {
            "aor": r.aor, "source": r.source, "attempts": r.attempts, "challenges": r.challenges,
            "status": r.final_status, "reason": "", "frame": frame, "meaning": meaning,
            "action_en": "Please check the user name and password in the phone's settings." if challenged else
                         "We are checking your account.",
            "action_ru": "Проверьте имя пользователя и пароль в настройках телефона." if challenged else
                         "Мы проверяем вашу учётную запись.",
        }, severity=Severity.CRITICAL)


@check(
    id="reg.no-response", category="registration", severity="critical", owner="engineering",
    title="REGISTER never answered",
    customer={
        "en": "Your phone tries to sign in to our service but gets no answer, so it cannot make or receive calls. "
              "Please check that the phone's internet connection works; we are checking the path to our server.",
        "ru": "Ваш телефон пытается войти в наш сервис, но не получает ответа, поэтому не может звонить и принимать "
              "звонки. Проверьте подключение телефона к интернету; мы проверяем путь до нашего сервера.",
    },
    engineer={
        "en": "Registration {aor} from {source} to {registrar}: {sends} REGISTER transmission(s) without any "
              "response (Timer F, 64*T1, RFC 3261 §17.1.2.2), first at frame {frame}. Check routing and firewalls "
              "towards {registrar}, the DNS the device uses, and ICMP in the capture.",
        "ru": "Регистрация {aor} с {source} на {registrar}: {sends} отправок REGISTER без ответа (таймер F, 64*T1, "
              "RFC 3261 §17.1.2.2), первая в кадре {frame}. Проверьте маршрутизацию и межсетевые экраны до "
              "{registrar}, DNS устройства и ICMP в захвате.",
    },
)
def no_response(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A registration whose last REGISTER got no response at all (not even 100 Trying).

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
    for r in analysis.registrations:
        if r.outcome != "unanswered" or is_attack(r):
            continue  # registrars rightly stay silent to attackers (RULES.md reg.no-response pitfalls)
        last = r.transactions[-1]
        if last.responses:
            continue
        yield Hit(None, (last.request_frame or r.first_frame,), {
            "aor": r.aor, "source": r.source, "registrar": r.registrar,
            "sends": 1 + last.request_retransmissions, "frame": last.request_frame or r.first_frame})
