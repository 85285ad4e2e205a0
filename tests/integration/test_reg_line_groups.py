"""The customer texts of registrations that one device (a multi-line phone, an office PBX, an SBC: one source
address) registers for several lines and that fail alike (sipdiag.checks.regfailures.grouped): the sign-in is the
lines', "the sign-in of 5 of your lines", not "your phone's sign-in for 5 lines", and the Russian count agrees with
its noun in the genitive the sentence governs ("вход 2 ваших линий", "вход 21 вашей линии")."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import sipdiag
from sipdiag.checks.regfailures import several_lines
from tests import callcapture as cc

DEVICE, REGISTRAR = ("10.0.0.5", 5060), ("203.0.113.5", 5060)
OWN = f"{DEVICE[0]}:{DEVICE[1]}"
CHECKING = ("We are checking your account settings.", "Мы проверяем настройки вашей учётной записи.")


def users(count: int) -> list[str]:
    """The lines' user parts: 100, 102, 104, ... (an office's extensions, not the consecutive sweep of an
    enumerating scanner, sec.scanner-detected)."""
    return [str(100 + 2 * k) for k in range(count)]


def register(user: str, *, expires: int = 300) -> str:
    return cc.register_text(1, f"b{user}", contact=f"sip:{user}@{OWN}", expires=expires, call_id=f"reg-{user}",
                            via=OWN, user=user)


def lines_refused(path, count: int, status: str | None, *, expires: int = 300):
    """`count` lines of DEVICE registering with REGISTRAR (expires 0: signing out) one every 3.5 s, fewer than
    sec.scanner-detected's 20 user names a minute, each answered `status`; None: never answered, each REGISTER
    retransmitted on Timer E until Timer F (RFC 3261 §17.1.2.2)."""
    msgs = []
    for k, user in enumerate(users(count)):
        at = k * 3.5
        if status is None:
            msgs += [(at + o, register(user), DEVICE, REGISTRAR) for o in cc.TIMER_E_S]
            continue
        msgs.append((at, register(user, expires=expires), DEVICE, REGISTRAR))
        msgs.append((at + 0.05, cc.register_response(1, f"b{user}", status, call_id=f"reg-{user}", via=OWN,
                                                     user=user), REGISTRAR, DEVICE))
    return cc.write_sip(path, sorted(msgs, key=lambda m: m[0]))


def finding(path, rule: str, count: int):
    (f,) = [f for f in sipdiag.analyze(path).findings if f.rule == rule]
    assert (f.evidence["count"], len(f.evidence["aors"])) == (count, min(count, 50))
    return f


@pytest.mark.parametrize(("count", "ru"), [(2, "2 ваших линий"), (4, "4 ваших линий"), (5, "5 ваших линий"),
                                           (11, "11 ваших линий"), (21, "21 вашей линии"), (22, "22 ваших линий"),
                                           (101, "101 вашей линии"), (111, "111 ваших линий")])
def test_several_lines_in_the_genitive(count: int, ru: str) -> None:
    group = [SimpleNamespace(reg=SimpleNamespace(aor=f"sip:{100 + k}@example.com")) for k in range(count)]
    assert several_lines(group) == (f"{count} of your lines", ru)


def test_one_line_is_the_phones_own() -> None:
    # two bindings of one AOR are one line: the text stays the phone's
    group = [SimpleNamespace(reg=SimpleNamespace(aor="sip:100@example.com"))] * 2
    assert several_lines(group) is None


def test_refused_sign_in_of_21_lines(tmp_path) -> None:
    f = finding(lines_refused(tmp_path / "21.pcap", 21, "403 Forbidden"), "reg.rejected", 21)
    assert f.customer_text == {
        "en": "Our system refused the sign-in of 21 of your lines ('sign-in from your phone is not allowed'). "
              f"{CHECKING[0]}",
        "ru": "Наша система отклонила вход 21 вашей линии («вход с вашего телефона не разрешён»). "
              f"{CHECKING[1]}"}


def test_refused_sign_in_of_5_lines_the_first_line_fixes(tmp_path) -> None:
    f = finding(lines_refused(tmp_path / "5.pcap", 5, "404 Not Found"), "reg.rejected", 5)
    assert f.customer_text == {
        "en": "Our system refused the sign-in of 5 of your lines ('the account or domain set in your phone was not "
              "found'). We are checking your account settings and will update your equipment.",
        "ru": "Наша система отклонила вход 5 ваших линий («учётная запись или домен, заданные в телефоне, не "
              "найдены»). Мы проверяем настройки вашей учётной записи и обновим настройки оборудования."}


def test_refused_sign_out_of_3_lines(tmp_path) -> None:
    f = finding(lines_refused(tmp_path / "out.pcap", 3, "403 Forbidden", expires=0), "reg.rejected", 3)
    assert (f.severity.label, f.evidence["deregistration"]) == ("minor", True)
    assert f.customer_text == {
        "en": "Your equipment asked to sign 3 of your lines out of our service and the server did not accept it (it "
              "answered 403 Forbidden). No action is needed from you.",
        "ru": "Сервер не принял запрос на выход 3 ваших линий из нашего сервиса (ответил 403 Forbidden). От вас "
              "ничего не требуется."}


def test_server_error_for_22_lines(tmp_path) -> None:
    f = finding(lines_refused(tmp_path / "503.pcap", 22, "503 Service Unavailable"), "reg.server-error", 22)
    assert f.customer_text == {
        "en": "The sign-in of 22 of your lines to our service failed because of a fault on our side (our server "
              "answered 503 Service Unavailable); your equipment and account settings are not the cause. We are "
              "working on it; your equipment will retry by itself.",
        "ru": "Вход 22 ваших линий в наш сервис не удался из-за неисправности на нашей стороне (наш сервер ответил "
              "503 Service Unavailable); настройки оборудования и учётной записи здесь ни при чём. Мы устраняем "
              "проблему; оборудование повторит попытку само."}


def test_no_response_for_21_lines(tmp_path) -> None:
    f = finding(lines_refused(tmp_path / "lost.pcap", 21, None), "reg.no-response", 21)
    assert f.customer_text == {
        "en": "The sign-in requests of 21 of your lines to our service get no answer, so these lines cannot make or "
              "receive calls. Please check that your equipment's internet connection works; we are checking the path "
              "to our server.",
        "ru": "Запросы на вход 21 вашей линии в наш сервис остаются без ответа, поэтому по этим линиям нельзя "
              "звонить и принимать звонки. Проверьте подключение оборудования к интернету; мы проверяем путь до "
              "нашего сервера."}
    # the evidence keeps its keys and values (the JSON document), the count agreed after "для"
    assert (f.evidence["lines_en"], f.evidence["lines_ru"]) == (" for 21 lines", " для 21 линии")
