"""reg.auth-loop tells the customer what to do by its sub-diagnoses (RULES.md reg.auth-loop), not always to retype
the password: a digest uri other than the Request-URI (a middlebox rewrote the REGISTER: the digest can never match)
is the router's SIP ALG, owner customer (RULES.md: "CUST (ALG if uri mismatch)"), unless the capture shows the
REGISTER as the phone sent it (from its private address: the phone signs the other URI itself, its configuration is
re-sent, first-line's); credentials refused only for the old nonces they answered leave nothing to retype, the
operator looks at it (first-line, the rule's owner). Else the credentials, as before. The reply's steps follow
(sipdiag.reports.replyactions), and so does what the engineer text says to check (sipdiag.checks.authcauses).
Captures built with tests/callcapture.py."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from sipdiag.checks.authcauses import on_phone_lan
from sipdiag.media import is_private
from sipdiag.reports.replyactions import steps_for
from tests import callcapture as cc
from tests.russiantext import untranslated, wire_text

PHONE, REGISTRAR = ("198.51.100.7", 40000), ("203.0.113.5", 5060)
OWN = "198.51.100.7:40000"  # the phone's own address in its Via and Contact: no NAT findings beside
OK = "200 OK"
REWRITTEN = "sip:192.168.1.1"  # the phone's digest uri: its Request-URI before a router rewrote it
LAN_PHONE = ("192.168.1.20", 5060)
CGNAT_PHONE = ("100.64.7.20", 40000)  # the router's WAN address in RFC 6598 shared space (carrier-grade NAT)


def request(t: float, cseq: int, user: str = "100", **headers) -> tuple:
    return (t, cc.register_text(cseq, f"{user}-{cseq}", contact=f"sip:{user}@{OWN}", call_id=f"reg-{user}", via=OWN,
                                user=user, **headers), PHONE, REGISTRAR)


def answer(t: float, cseq: int, status: str, headers: str = "", user: str = "100") -> tuple:
    if status == OK:
        headers += f"Contact: <sip:{user}@{OWN}>;expires=300\n"
    return (t, cc.register_response(cseq, f"{user}-{cseq}", status, headers=headers, call_id=f"reg-{user}", via=OWN,
                                    user=user), REGISTRAR, PHONE)


def refused(user: str = "100", at: float = 0.0, refusals: int = 1, auth_user: str | None = None,
            **credentials) -> list:
    """Line `user` signing in at `at`: challenged 401, its credentials (digest user `auth_user`, by default the
    line's; `credentials` as cc.credentials takes them) refused with a new challenge `refusals` times, 10 s apart,
    each answering the latest nonce."""
    msgs = [request(at, 1, user), answer(at + 0.05, 1, "401 Unauthorized", cc.challenge(f"{user}n1"), user)]
    for k in range(1, refusals + 1):
        t = at + 10.0 * (k - 1) + 0.1
        msgs += [request(t, k + 1, user, auth=cc.credentials(f"{user}n{k}", user=auth_user or user, **credentials)),
                 answer(t + 0.05, k + 1, "401 Unauthorized", cc.challenge(f"{user}n{k + 1}"), user)]
    return msgs


def refresh_refused(user: str = "100", at: float = 0.0) -> list:
    """Line `user` signed in (nonce <user>n1 accepted), then refreshing 60 s later with that nonce (RFC 3261 §22.1)
    and refused without stale=true (new nonce <user>n2), the new challenge left unanswered."""
    return [request(at, 1, user), answer(at + 0.05, 1, "401 Unauthorized", cc.challenge(f"{user}n1"), user),
            request(at + 0.1, 2, user, auth=cc.credentials(f"{user}n1", user=user)),
            answer(at + 0.15, 2, OK, user=user),
            request(at + 60.0, 3, user, auth=cc.credentials(f"{user}n1", user=user)),
            answer(at + 60.05, 3, "401 Unauthorized", cc.challenge(f"{user}n2"), user)]


def at(msgs: list, phone: tuple[str, int]) -> list:
    """The messages with the phone at `phone` (its Via and Contact naming it too)."""
    own = f"{phone[0]}:{phone[1]}"
    return [(t, text.replace(OWN, own), phone if src == PHONE else src, phone if dst == PHONE else dst)
            for t, text, src, dst in msgs]


def on_lan(msgs: list) -> list:
    """The messages as a capture on the phone's LAN shows them: the phone at its private address LAN_PHONE, before
    the router (RULES.md §0.2: requests seen from a private source address)."""
    return at(msgs, LAN_PHONE)


def keepalive(t: float) -> tuple:
    """An OPTIONS from the phone at t: the capture goes on, with no REGISTER (past Timer F after the refusals)."""
    return (t, cc.sip_message("OPTIONS sip:example.com SIP/2.0", "keepalive", "1 OPTIONS", src=PHONE, to_tag=False),
            PHONE, REGISTRAR)


def the_loop(tmp_path: Path, name: str, msgs: list, *, russian: bool = True):
    """The capture's one finding, reg.auth-loop, its Russian texts checked for English left in them (`russian`;
    not where the diagnosis "user" is a wire value that cuts "username" in two for the check)."""
    a = sipdiag.analyze(cc.write_sip(tmp_path / f"{name}.pcap", sorted(msgs, key=lambda m: m[0])))
    (f,) = a.findings
    assert f.rule == "reg.auth-loop"
    if russian:
        assert untranslated(f, wire_text(a)) == {"customer": [], "engineer": []}
    return f


def figures(f) -> tuple:
    return f.owner, f.evidence["cause"], f.evidence["diagnosis"], f.evidence["loop"], steps_for(f)


ALG_ACTION = {
    "en": "Please switch SIP ALG (also called 'SIP Helper' or 'SIP inspection') off in the router's settings, then "
          "restart the router and the phone; there is no need to type the password again.",
    "ru": "Отключите SIP ALG (также «SIP Helper» или «SIP inspection») в настройках роутера, затем перезагрузите "
          "роутер и телефон; вводить пароль заново не нужно."}


def test_a_digest_uri_rewritten_on_the_way_is_the_routers_sip_alg(tmp_path) -> None:
    """The phone computes its digest over sip:192.168.1.1, the registrar receives Request-URI sip:example.com: the
    customer is asked to switch SIP ALG off, not to retype the password, and owns the fix."""
    f = the_loop(tmp_path, "uri-loop", refused(refusals=3, uri=REWRITTEN))
    assert figures(f) == ("customer", "alg", ["uri"], True, (("sip-alg-off",), ("registration",)))
    assert f.customer_text == {
        "en": "Your phone keeps being refused because a device on the way, most often your router with its 'SIP ALG' "
              "feature, changes the phone's sign-in requests, so our check of its password fails even when the "
              "password is right; the phone cannot make or receive calls. " + ALG_ACTION["en"],
        "ru": "Вашему телефону раз за разом отказывают во входе: устройство на пути, чаще всего роутер с функцией "
              "«SIP ALG», изменяет запросы телефона на вход, поэтому проверка пароля не проходит, даже если пароль "
              "верный; телефон не может звонить и принимать звонки. " + ALG_ACTION["ru"]}
    # refused once: the same cause and owner, "was refused"
    f = the_loop(tmp_path, "uri-once", refused(uri=REWRITTEN) + [keepalive(60.0)])
    assert figures(f) == ("customer", "alg", ["uri"], False, (("sip-alg-off",), ("registration",)))
    assert f.customer_text["en"].startswith("Your phone's sign-in was refused because a device on the way, ")
    assert f.customer_text["ru"].startswith("Вашему телефону отказано во входе: устройство на пути, ")
    # the uri goes first beside another finding: while the request is rewritten no credentials can pass
    f = the_loop(tmp_path, "uri-user", refused(refusals=3, auth_user="acct", uri=REWRITTEN), russian=False)
    assert figures(f)[:3] == ("customer", "alg", ["user", "uri"])


def test_a_phone_signing_another_uri_itself_is_its_configuration(tmp_path) -> None:
    """The same REGISTERs captured on the phone's LAN (from its private address, before the router and any ALG on
    it): the phone itself signs another URI than it requests (as aaa.pcap's Nero phone signs its own address). No
    ALG to switch off, no password to retype: its configuration is re-sent, first-line's (RULES.md: L1)."""
    f = the_loop(tmp_path, "uri-lan", on_lan(refused(refusals=3, uri=REWRITTEN)))
    assert figures(f) == ("first-line", "phone-uri", ["uri"], True, ((), ("registration",)))
    assert f.customer_text == {
        "en": "Your phone keeps being refused because it signs its sign-in requests for another address than the "
              "one it sends them to (a setting or a fault of the phone), so our check of its password fails even "
              "when the password is right; the phone cannot make or receive calls. We are re-sending your phone's "
              "configuration; there is no need to type the password again.",
        "ru": "Вашему телефону раз за разом отказывают во входе: он подписывает запросы на вход для другого адреса, "
              "чем тот, на который их отправляет (настройка или ошибка телефона), поэтому проверка пароля не "
              "проходит, даже если пароль верный; телефон не может звонить и принимать звонки. Мы повторно "
              "отправляем настройки телефона; вводить пароль заново не нужно."}
    f = the_loop(tmp_path, "uri-lan-lines",
                 on_lan(refused(refusals=3, uri=REWRITTEN) + refused("101", 0.5, 3, uri=REWRITTEN)))
    assert figures(f) == ("first-line", "phone-uri", ["uri"], True, ((), ("registration",)))
    assert f.customer_text == {
        "en": "The sign-in of 2 of your lines keeps being refused because your equipment signs their sign-in requests "
              "for another address than the one it sends them to (a setting or a fault of the equipment), so our "
              "check of their passwords fails even when they are right; these lines cannot make or receive calls. "
              "We are re-sending your equipment's configuration; there is no need to type the passwords again.",
        "ru": "Вход 2 ваших линий раз за разом отклоняется: оборудование подписывает запросы на вход для другого "
              "адреса, чем тот, на который их отправляет (настройка или ошибка оборудования), поэтому проверка "
              "паролей не проходит, даже если они верные; по этим линиям нельзя звонить и принимать звонки. Мы "
              "повторно отправляем настройки оборудования; вводить пароли заново не нужно."}


def test_a_register_from_shared_address_space_is_past_the_router(tmp_path) -> None:
    """RFC 6598's 100.64.0.0/10 is private (RULES.md §0.4), but it is the shared space between the customer's router
    and a carrier-grade NAT, not the phone's LAN: a REGISTER from there was captured after the router, whose SIP ALG
    can have rewritten it. The uri mismatch stays the ALG's (it was taken for the phone's own, first-line's). The
    other rules keep 100.64.0.0/10 private."""
    f = the_loop(tmp_path, "uri-cgnat", at(refused(refusals=3, uri=REWRITTEN), CGNAT_PHONE))
    assert (figures(f), f.evidence["source"]) == (
        ("customer", "alg", ["uri"], True, (("sip-alg-off",), ("registration",))), "100.64.7.20:40000")
    assert f.customer_text["en"].endswith(ALG_ACTION["en"]) and f.customer_text["ru"].endswith(ALG_ACTION["ru"])
    assert [on_phone_lan(a) for a in ("192.168.1.20:5060", "10.1.2.3:5060", "172.16.0.9:5060", "[fd00::5]:5060",
                                      "100.64.7.20:40000", "100.127.255.254:5060", "100.128.0.1:5060",
                                      "198.51.100.7:40000")] == [True, True, True, True, False, False, False, False]
    assert (is_private("100.64.7.20"), is_private("100.127.255.254"), is_private("100.128.0.1")) == (True, True, False)


def test_two_lines_behind_a_rewriting_router(tmp_path) -> None:
    f = the_loop(tmp_path, "uri-lines", refused(refusals=3, uri=REWRITTEN) + refused("101", 0.5, 3, uri=REWRITTEN))
    assert (figures(f), f.evidence["aors"]) == (
        ("customer", "alg", ["uri"], True, (("sip-alg-off",), ("registration",))),
        ["sip:100@example.com", "sip:101@example.com"])
    assert f.customer_text == {
        "en": "The sign-in of 2 of your lines keeps being refused because a device on the way, most often your router "
              "with its 'SIP ALG' feature, changes the sign-in requests, so our check of their passwords fails even "
              "when they are right; these lines cannot make or receive calls. Please switch SIP ALG (also called "
              "'SIP Helper' or 'SIP inspection') off in the router's settings, then restart the router and your "
              "equipment; there is no need to type the passwords again.",
        "ru": "Вход 2 ваших линий раз за разом отклоняется: устройство на пути, чаще всего роутер с функцией «SIP "
              "ALG», изменяет запросы на вход, поэтому проверка паролей не проходит, даже если они верные; по этим "
              "линиям нельзя звонить и принимать звонки. Отключите SIP ALG (также «SIP Helper» или «SIP "
              "inspection») в настройках роутера, затем перезагрузите роутер и оборудование; вводить пароли заново "
              "не нужно."}


def test_only_an_old_nonce_refused_leaves_nothing_to_retype(tmp_path) -> None:
    """A refresh reusing the nonce its sign-in was accepted with, refused without stale=true and the new challenge
    left unanswered for Timer F: nothing says the password is wrong. First-line, the rule's owner, looks at it; the
    customer has nothing to do."""
    f = the_loop(tmp_path, "old-nonce", refresh_refused() + [keepalive(100.0)])
    assert figures(f) == ("first-line", "old-nonce", ["nonce"], False, ((), ("registration",)))
    assert f.customer_text == {
        "en": "Your phone's sign-in was refused not because of its password but because it answers our server with an "
              "expired one-time sign-in code, so it cannot make or receive calls. There is nothing to type again: we "
              "are looking into it on our side and will contact you if the phone needs a change.",
        "ru": "Вашему телефону отказано во входе не из-за пароля: он отвечает нашему серверу устаревшим одноразовым "
              "кодом входа, поэтому не может звонить и принимать звонки. Вводить пароль заново не нужно: мы "
              "разбираемся с этим на нашей стороне и свяжемся с вами, если в телефоне понадобится что-то изменить."}
    f = the_loop(tmp_path, "old-nonces", refresh_refused() + refresh_refused("101", 0.5) + [keepalive(100.0)])
    assert (figures(f), f.evidence["aors"]) == (("first-line", "old-nonce", ["nonce"], False, ((), ("registration",))),
                                                ["sip:100@example.com", "sip:101@example.com"])
    assert f.customer_text == {
        "en": "The sign-in of 2 of your lines was refused not because of their passwords but because they answer our "
              "server with expired one-time sign-in codes, so these lines cannot make or receive calls. There is "
              "nothing to type again: we are looking into it on our side and will contact you if your equipment "
              "needs a change.",
        "ru": "Вход 2 ваших линий отклонён не из-за паролей: для них нашему серверу отправляются устаревшие "
              "одноразовые коды входа, поэтому по этим линиям нельзя звонить и принимать звонки. Вводить пароли "
              "заново не нужно: мы разбираемся с этим на нашей стороне и свяжемся с вами, если в оборудовании "
              "понадобится что-то изменить."}


def test_an_old_nonce_beside_a_refused_current_one_is_still_the_password(tmp_path) -> None:
    """The phone answers the new challenge after the old-nonce refusal and is refused for that nonce too: the
    credentials were refused for what they are, not for their nonce (no stale=true, RFC 7616 §3.3). The diagnosis
    names both, the old nonce and the password (it said "nonce" alone, nor was the new challenge left unanswered
    as it said), and the cause is the credentials (the text, owner and engineer's check of before)."""
    msgs = refresh_refused() + [request(60.2, 4, auth=cc.credentials("100n2")),
                                answer(60.25, 4, "401 Unauthorized", cc.challenge("100n3"))]
    f = the_loop(tmp_path, "old-and-current", msgs + [keepalive(100.0)])
    assert figures(f) == ("first-line", "credentials", ["nonce", "password"], False,
                          (("check-credentials",), ("registration",)))
    assert (f.evidence["findings_en"], f.evidence["findings_ru"]) == (
        "credentials answer nonce '100n1', which no challenge since the last accepted REGISTER gave: an old nonce, "
        "refused without stale=true (RFC 7616 §3.3); credentials answering the current nonce '100n2' were refused "
        "too, so not only the nonce: the password (or the auth user) is refused",
        "учётные данные отвечают на nonce '100n1', не выданный ни одним запросом авторизации после последней "
        "успешной регистрации: устаревший nonce, отвергнутый без stale=true (RFC 7616 §3.3); учётные данные, "
        "отвечающие на текущий nonce '100n2', тоже отвергнуты, значит дело не только в nonce: отвергнут пароль (или "
        "пользователь авторизации)")
    assert engineer_check(f) == CREDENTIALS_CHECK
    assert f.customer_text["en"] == (
        "Your phone's sign-in was refused because the user name or password it sends does not match our records, so "
        "it cannot make or receive calls. We are re-sending your phone's configuration; if you typed the details in "
        "yourself, please enter the SIP password again exactly as provided (it is case-sensitive).")


def test_the_password_and_the_provisioning_keep_their_text(tmp_path) -> None:
    for name, credentials, diagnosis in (("password", {}, ["password"]), ("realm", {"realm": "example.org"},
                                                                         ["realm"])):
        f = the_loop(tmp_path, name, refused(refusals=3, **credentials))
        assert figures(f) == ("first-line", "credentials", diagnosis, True,
                              (("check-credentials",), ("registration",))), name
        assert f.customer_text["ru"].endswith("введите SIP-пароль ещё раз точно как выдан (с учётом регистра)."), name


CREDENTIALS_CHECK = ("check the provisioned auth user, password and realm (RFC 7616)",
                     "проверьте пользователя авторизации, пароль и realm (RFC 7616)")


def engineer_check(f) -> tuple[str, str]:
    """What the engineer text says to check (English, Russian): the clause after RFC 3261 §22.2's, before the
    attempts."""
    en = f.engineer_text["en"].split("unless the nonce was stale; ", 1)[1].split(". Attempts", 1)[0]
    ru = f.engineer_text["ru"].split("если nonce не устарел (stale); ", 1)[1].split(". Попытки", 1)[0]
    return en, ru


def test_the_engineer_text_follows_the_cause(tmp_path) -> None:
    """The engineer was told to check the provisioned auth user, password and realm whatever the cause. Now: for a
    rewritten REGISTER the uri and Request-URI that differ (RFC 3261 §22.4) and the customer's router's SIP ALG;
    for a phone signing another URI on its LAN, its registrar and proxy settings; for old nonces alone, the
    registrar's nonce lifetime, stale flag and a cluster's nonces (RFC 7616 §3.3); the credentials as before."""
    f = the_loop(tmp_path, "alg", refused(refusals=3, uri=REWRITTEN))
    assert (f.evidence["cause"], engineer_check(f)) == ("alg", (
        "the digest uri sip:192.168.1.1 is not the Request-URI sip:example.com the registrar received (RFC 3261 "
        "§22.4: the uri parameter must equal the Request-URI): a middlebox rewrote one and not the other, past the "
        "phone's LAN (the REGISTER comes from 198.51.100.7:40000, after the customer's router), most often the "
        "router's SIP ALG, so no password can match; check the customer's router: switch its SIP ALG (SIP Helper, "
        "SIP inspection) off and see that the next REGISTER's uri equals its Request-URI",
        "digest uri sip:192.168.1.1 не совпадает с Request-URI sip:example.com, полученным регистратором (RFC 3261 "
        "§22.4: параметр uri должен совпадать с Request-URI): промежуточное устройство за пределами локальной сети "
        "телефона (REGISTER приходит с 198.51.100.7:40000, уже после роутера клиента), чаще всего SIP ALG роутера, "
        "переписало одно, но не другое, поэтому ни один пароль не подойдёт; проверьте роутер клиента: SIP ALG («SIP "
        "Helper», «SIP inspection») должен быть отключён, а uri следующего REGISTER совпадать с его Request-URI"))
    f = the_loop(tmp_path, "phone-uri", on_lan(refused(refusals=3, uri=REWRITTEN)))
    assert (f.evidence["cause"], engineer_check(f)) == ("phone-uri", (
        "the phone signs digest uri sip:192.168.1.1 but sends the REGISTER to Request-URI sip:example.com (RFC 3261 "
        "§22.4: the uri parameter must equal the Request-URI), as captured on its LAN (from its private address "
        "192.168.1.20:5060, before any router and SIP ALG): its own configuration, not a middlebox; provision its "
        "registrar (SIP server, domain) and outbound proxy so that it signs the URI it requests, and if they are "
        "right, check its firmware",
        "телефон подписывает digest uri sip:192.168.1.1, а отправляет REGISTER на Request-URI sip:example.com (RFC "
        "3261 §22.4: параметр uri должен совпадать с Request-URI), как видно в его локальной сети (с его частного "
        "адреса 192.168.1.20:5060, до роутера и SIP ALG): это его собственные настройки, а не промежуточное "
        "устройство; задайте ему регистратор (SIP-сервер, домен) и исходящий прокси так, чтобы он подписывал тот "
        "URI, на который отправляет запрос, а если они верны, проверьте прошивку"))
    f = the_loop(tmp_path, "old-nonce", refresh_refused() + [keepalive(100.0)])
    assert (f.evidence["cause"], engineer_check(f)) == ("old-nonce", (
        "the credentials answered nonce 100n1, which the server no longer accepts, and were refused without "
        "stale=true (RFC 7616 §3.3: a server refusing only the nonce sets stale=true), so nothing shows the password "
        "is wrong; check the registrar/SBC: its nonce lifetime against the phone's refresh interval, whether it sets "
        "stale=true for an expired nonce, and whether the nodes of a cluster share their nonces (one node refusing "
        "another's)",
        "учётные данные ответили на nonce 100n1, который сервер больше не принимает, и отвергнуты без stale=true "
        "(RFC 7616 §3.3: сервер, отвергающий только nonce, ставит stale=true), поэтому неверный пароль ничем не "
        "подтверждается; проверьте регистратор/SBC: время жизни nonce в сравнении с интервалом обновления "
        "регистрации телефона, ставит ли он stale=true для устаревшего nonce и общие ли nonce у узлов кластера (один "
        "узел отвергает nonce другого)"))
    f = the_loop(tmp_path, "credentials", refused(refusals=3))
    assert (f.evidence["cause"], engineer_check(f)) == ("credentials", CREDENTIALS_CHECK)
    # a group quotes its first line's values, as the rest of its engineer text
    f = the_loop(tmp_path, "alg-lines", refused(refusals=3, uri=REWRITTEN) + refused("101", 0.5, 3, uri="sip:10.0.0.1"))
    assert (f.evidence["aors"], engineer_check(f)[0].split(" (RFC", 1)[0]) == (
        ["sip:100@example.com", "sip:101@example.com"],
        "the digest uri sip:192.168.1.1 is not the Request-URI sip:example.com the registrar received")
