"""What a registrar's final refusal of a REGISTER means, per code (RULES.md reg.rejected): the customer's reason in
plain words, the engineer's diagnosis and who acts on it, and the headers of the answer the engineer reads.

A group of registrations (regfailures.grouped) is worded once for all its members, so the meaning is part of the
group's key: its words come from the code, whether credentials were refused and the values they quote (option tags,
Min-Expires, the expiry asked for, Max-Forwards), and registrations differing in any of these are two groups. Free
text of the answer (Server, Warning, Reason, and the Retry-After reg.server-error quotes) does not split a group: it
is quoted from its first registration, named as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .regfailures import Answered
from .regretryafter import quoted

if TYPE_CHECKING:
    from ..model import RegisterExchange

REFUSED = (401, 403, 407)  # credentials refused: a new challenge, or 403 (RULES.md reg.rejected pitfalls)
# option tags a registrar meets in a REGISTER's Require/Supported, with the RFC that defines them
_TAG_RFC = {"outbound": "RFC 5626", "path": "RFC 3327", "gruu": "RFC 5627", "sec-agree": "RFC 3329"}
RECOMMENDED_MAX_FORWARDS = 70  # RFC 3261 §8.1.1.6


@dataclass(frozen=True, slots=True)
class Meaning:
    """A refusal's meaning, the same for every registration it is the key of."""

    cause: str  # stable, for the evidence: "credentials", "barred", "not-found", "bad-extension", ...
    owner: str  # first-line (the account or the phone's provisioning) or engineering (the operator's network)
    plain_en: str  # the customer's reason in plain words
    plain_ru: str
    en: str  # the engineer's diagnosis, with its RFC sections
    ru: str


_FIRST_LINE, _ENGINEERING = "first-line", "engineering"


def meaning_of(failure: Answered, challenged: bool, removal: bool) -> Meaning:
    """The meaning of a failed registration's final answer. challenged: credentials were sent (or the device went
    on past a challenge); removal: the refused REGISTER was a de-registration."""
    status = failure.reg.final_status or 0
    refused = challenged and status in REFUSED
    if removal:
        # RFC 3261 §10.2.2: expires 0 asks to remove the binding; refusing it leaves the binding until it expires
        # (§10.3): it does not stop the phone from signing in
        return Meaning(
            "deregistration", _FIRST_LINE, "", "",
            "A de-registration (expires 0) was refused: the binding stays until it expires, so calls may still be "
            "routed to this contact" + (" (credentials were sent and refused)" if refused else "")
            + " (RFC 3261 §10.3, §22)",
            "Отмена регистрации (expires 0) отклонена: привязка остаётся до истечения срока, и вызовы могут "
            "по-прежнему направляться на этот контакт" + (" (учётные данные отправлены и отвергнуты)" if refused
                                                          else "") + " (RFC 3261 §10.3, §22)")
    if refused:
        return _credentials(status)
    last = failure.run[-1] if failure.run else None
    if status in (401, 407):
        # not refused credentials: reg.rejected keeps such a final challenge only when the phone was challenged
        # sip.auth_loop_attempts times and never tried a password (else it may still answer)
        return _UNANSWERED_CHALLENGE if failure.attempts else _refused(failure.status_text)
    if status == 403:
        # no challenge before it, every REGISTER of the run in the capture: refused before the registrar asked who
        # the phone is, for where it registers from or to (RULES.md reg.rejected pitfalls)
        barred = failure.challenges == 0 and failure.attempts == len(failure.run) > 0
        return _BARRED if barred else _FORBIDDEN
    words = _BY_CODE.get(status)
    return words(last) if words is not None else _refused(failure.status_text)


def _refused(status_text: str) -> Meaning:
    return Meaning("refused", _FIRST_LINE, f"our server answered {status_text}", f"наш сервер ответил {status_text}",
                   "The registrar refused the binding (RFC 3261 §10.3)",
                   "Регистратор отказал в привязке (RFC 3261 §10.3)")


def _credentials(status: int) -> Meaning:
    # a 403 to credentials says authorization will not help (RFC 3261 §21.4.4); a new 401/407 challenge, that
    # these credentials did not (§22.2, §22.3)
    refs = "RFC 3261 §21.4.4, §22" if status == 403 else "RFC 3261 §22.2, §22.3"
    return Meaning(
        "credentials", _FIRST_LINE, "wrong user name or password", "неверное имя пользователя или пароль",
        f"Credentials were sent and refused: wrong password or user name ({refs})",
        f"Учётные данные отправлены и отвергнуты: неверный пароль или имя пользователя ({refs})")

_UNANSWERED_CHALLENGE = Meaning(
    "unanswered-challenge", _FIRST_LINE, "your phone did not send its password", "телефон не отправил пароль",
    "The phone was challenged and never answered with credentials: no password provisioned, or a digest it cannot "
    "compute (algorithm, realm) (RFC 3261 §22.2)",
    "Телефон получал запросы авторизации и ни разу не ответил учётными данными: пароль не задан или телефон не "
    "может вычислить digest (алгоритм, realm) (RFC 3261 §22.2)")

_BARRED = Meaning(
    "barred", _ENGINEERING, "sign-in from your phone is not allowed", "вход с вашего телефона не разрешён",
    "Refused before any digest challenge, so not for the credentials: an IP ACL or a network the account may not "
    "register from, a disabled account, or a domain the registrar does not serve; check the source address "
    "against the account's allowed networks and the registrar's ACLs, and the domain (RFC 3261 §21.4.4)",
    "Отказ до какого-либо запроса авторизации, то есть не из-за учётных данных: ACL по IP-адресу или сеть, из "
    "которой учётной записи нельзя регистрироваться, отключённая учётная запись или домен, который регистратор не "
    "обслуживает; сверьте адрес источника с разрешёнными сетями учётной записи и ACL регистратора, а также домен "
    "(RFC 3261 §21.4.4)")

_FORBIDDEN = Meaning(
    "forbidden", _FIRST_LINE, "sign-in from your phone is not allowed", "вход с вашего телефона не разрешён",
    "Forbidden, and the capture does not show whether credentials were refused: a wrong password, a disabled "
    "account, an IP ACL or a domain the registrar does not serve (RFC 3261 §21.4.4)",
    "Запрет, и по захвату не видно, отвергнуты ли учётные данные: неверный пароль, отключённая учётная запись, ACL "
    "по IP-адресу или домен, который регистратор не обслуживает (RFC 3261 §21.4.4)")


def _malformed(_last: RegisterExchange | None) -> Meaning:
    return Meaning(
        "malformed", _FIRST_LINE, "the request from your phone could not be read",
        "запрос телефона не удалось прочитать",
        "The registrar could not parse the REGISTER: look for a SIP ALG rewriting it on the way (compare the "
        "REGISTER as sent and as received) and a wrong Content-Length (RFC 3261 §21.4.1, §20.14)",
        "Регистратор не смог разобрать REGISTER: ищите SIP ALG, переписывающий запрос по пути (сравните REGISTER при "
        "отправке и при получении), и неверный Content-Length (RFC 3261 §21.4.1, §20.14)")


def _not_found(_last: RegisterExchange | None) -> Meaning:
    return Meaning(
        "not-found", _FIRST_LINE, "the account or domain set in your phone was not found",
        "учётная запись или домен, заданные в телефоне, не найдены",
        "The registrar knows no such user or domain: check the registrar address and the domain provisioned in the "
        "phone against the account (the Request-URI's domain must be one the registrar serves, the AOR one of its "
        "users) (RFC 3261 §10.3 steps 1, 3)",
        "Регистратор не знает такого пользователя или домена: сверьте адрес регистратора и домен, заданные в "
        "телефоне, с учётной записью (домен Request-URI должен обслуживаться регистратором, AOR — быть его "
        "пользователем) (RFC 3261 §10.3, шаги 1 и 3)")


def _tags(last: RegisterExchange | None) -> str:
    """The option tags of the answer, each with its RFC where known: `outbound (RFC 5626), path (RFC 3327)`."""
    tags = last.refusal.option_tags if last is not None and last.refusal is not None else ()
    return ", ".join(f"{t} ({_TAG_RFC[t.lower()]})" if t.lower() in _TAG_RFC else t for t in tags)


def _bad_extension(last: RegisterExchange | None) -> Meaning:
    tags = _tags(last)
    named_en = f"its Unsupported header names {tags}" if tags else "its answer names none (no Unsupported header)"
    named_ru = f"его заголовок Unsupported называет {tags}" if tags else "ответ их не называет (нет заголовка " \
                                                                         "Unsupported)"
    return Meaning(
        "bad-extension", _FIRST_LINE, "your phone asked for a feature our system does not support",
        "телефон запросил функцию, которую наша система не поддерживает",
        f"The registrar does not support an extension the REGISTER requires (Require, Proxy-Require): {named_en}; "
        "turn that requirement off in the phone or enable the extension on the registrar (RFC 3261 §20.40, "
        "§21.4.15)",
        f"Регистратор не поддерживает расширение, которого требует REGISTER (Require, Proxy-Require): {named_ru}; "
        "отключите это требование в телефоне или включите расширение на регистраторе (RFC 3261 §20.40, §21.4.15)")


def _extension_required(last: RegisterExchange | None) -> Meaning:
    tags = _tags(last)
    named_en = f"its Require header names {tags}" if tags else "its answer names none (no Require header)"
    named_ru = f"его заголовок Require называет {tags}" if tags else "ответ их не называет (нет заголовка Require)"
    return Meaning(
        "extension-required", _FIRST_LINE, "our system requires a feature your phone did not offer",
        "наша система требует функцию, которую телефон не предложил",
        f"The registrar requires an extension the REGISTER does not list in Supported: {named_en}; enable it in the "
        "phone or stop requiring it on the registrar (RFC 3261 §20.32, §21.4.16)",
        f"Регистратор требует расширение, которого нет в Supported запроса REGISTER: {named_ru}; включите его в "
        "телефоне или перестаньте требовать его на регистраторе (RFC 3261 §20.32, §21.4.16)")


def _interval_too_brief(last: RegisterExchange | None) -> Meaning:
    # reg.interval-too-brief takes a 423 the phone retried below Min-Expires; this one was not retried so
    minimum = last.min_expires_s if last is not None else None
    asked = last.requested_expires_s if last is not None else None
    asked_en, asked_ru = (f"the phone asked for {asked} s, ", f"телефон запросил {asked} с, ") if asked else ("", "")
    if minimum:
        limit_en = f"{asked_en}the registrar's minimum is {minimum} s (Min-Expires); set the phone's interval to at " \
                   f"least {minimum} s"
        limit_ru = f"{asked_ru}минимум регистратора {minimum} с (Min-Expires); задайте в телефоне интервал не меньше " \
                   f"{minimum} с"
    else:
        limit_en = f"{asked_en}the answer carries no Min-Expires (RFC 3261 §20.23 requires it)"
        limit_ru = f"{asked_ru}в ответе нет Min-Expires (его требует RFC 3261 §20.23)"
    return Meaning(
        "interval-too-brief", _FIRST_LINE, "the renewal interval set in your phone is too short",
        "интервал обновления регистрации в телефоне слишком короткий",
        f"The registration interval is too short: {limit_en} (RFC 3261 §10.2.8, §10.3 step 7, §21.4.17)",
        f"Интервал регистрации слишком короткий: {limit_ru} (RFC 3261 §10.2.8, §10.3, шаг 7, §21.4.17)")


def _loop(_last: RegisterExchange | None) -> Meaning:
    return Meaning(
        "loop", _FIRST_LINE, "your phone's sign-in request went round in a loop on its way",
        "запрос телефона на вход зациклился по пути",
        "The REGISTER came back to a proxy it had already passed, a routing loop: check that the domain the phone "
        "registers to (Request-URI) is one the registrar serves, and the routes the proxies have for it "
        "(RFC 3261 §16.3 step 4, §21.4.20)",
        "REGISTER вернулся на прокси, через который уже прошёл, — петля маршрутизации: проверьте, что домен, в "
        "котором регистрируется телефон (Request-URI), обслуживается регистратором, и маршруты прокси для него "
        "(RFC 3261 §16.3, шаг 4, §21.4.20)")


def _too_many_hops(last: RegisterExchange | None) -> Meaning:
    sent = last.max_forwards if last is not None else None
    if sent is None:
        sent_en = sent_ru = ""
    else:
        low = sent < RECOMMENDED_MAX_FORWARDS
        sent_en = f" (the captured REGISTER carried Max-Forwards {sent}" + (
            f", below the {RECOMMENDED_MAX_FORWARDS} RFC 3261 §8.1.1.6 recommends)" if low else ")")
        sent_ru = f" (в захваченном REGISTER Max-Forwards {sent}" + (
            f", меньше {RECOMMENDED_MAX_FORWARDS}, рекомендуемых RFC 3261 §8.1.1.6)" if low else ")")
    return Meaning(
        "too-many-hops", _FIRST_LINE, "your phone's sign-in request passed through too many servers",
        "запрос телефона на вход прошёл через слишком много серверов",
        f"Max-Forwards reached 0 before the REGISTER got to the registrar{sent_en}: a routing loop or too long a "
        "chain of proxies; check the routes for the domain the phone registers to (Request-URI) (RFC 3261 §16.3 "
        "step 3, §20.22, §21.4.21)",
        f"Max-Forwards дошёл до 0 раньше, чем REGISTER попал к регистратору{sent_ru}: петля маршрутизации или "
        "слишком длинная цепочка прокси; проверьте маршруты для домена, в котором регистрируется телефон "
        "(Request-URI) (RFC 3261 §16.3, шаг 3, §20.22, §21.4.21)")


def _unavailable(_last: RegisterExchange | None) -> Meaning:
    return Meaning(
        "unavailable", _FIRST_LINE, "the service was temporarily unavailable", "сервис был временно недоступен",
        "The registrar cannot take the binding for now (the account or the location service is temporarily "
        "unavailable); the phone should retry later (RFC 3261 §21.4.18)",
        "Регистратор временно не может принять привязку (учётная запись или служба местоположения временно "
        "недоступны); телефон должен повторить попытку позже (RFC 3261 §21.4.18)")


_BY_CODE: dict[int, Callable[[RegisterExchange | None], Meaning]] = {
    400: _malformed, 404: _not_found, 420: _bad_extension, 421: _extension_required, 423: _interval_too_brief,
    480: _unavailable, 482: _loop, 483: _too_many_hops,
}


def answer_details(group: list[Answered], retry_after: bool = False) -> tuple[str, str, dict[str, Any]]:
    """The engineer's sentence on the group's first answer (Request-URI, Server, Warning, Reason: the domain the
    phone registered to and what the registrar says of its refusal; with retry_after, its Retry-After too, RFC 3261
    §20.33), "" when the capture has none, and the evidence keys of them."""
    first = group[0]
    last = first.run[-1] if first.run else None
    refusal = last.refusal if last is not None else None
    values = {
        "request_uri": (last.request_uri if last is not None else None) or "",
        "server": (refusal.server if refusal is not None else None) or "",
        "warning": (refusal.warning if refusal is not None else None) or "",
        "reason_header": (refusal.reason if refusal is not None else None) or "",
    }
    parts = ([f"Request-URI {values['request_uri']}"] if values["request_uri"] else []) + [
        f"{name}: {values[key]}" for name, key in (("Server", "server"), ("Warning", "warning"),
                                                   ("Reason", "reason_header")) if values[key]]
    parts_en, parts_ru = list(parts), list(parts)
    if retry_after and refusal is not None and refusal.retry_after is not None:
        en, ru = quoted(refusal.retry_after)
        parts_en.append(en)
        parts_ru.append(ru)
    evidence = {**values, "option_tags": list(refusal.option_tags) if refusal is not None else []}
    if not parts_en:
        return "", "", evidence
    said_en, said_ru = "; ".join(parts_en), "; ".join(parts_ru)
    if len(group) == 1:
        return f" {said_en}.", f" {said_ru}.", evidence
    aor = first.reg.aor
    return f" First registration ({aor}): {said_en}.", f" Первая регистрация ({aor}): {said_ru}.", evidence
