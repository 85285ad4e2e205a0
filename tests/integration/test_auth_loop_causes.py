"""reg.auth-loop tells the customer what to do by its sub-diagnoses (RULES.md reg.auth-loop), not always to retype
the password: a digest uri other than the Request-URI (a middlebox rewrote the REGISTER: the digest can never match)
is the router's SIP ALG, owner customer (RULES.md: "CUST (ALG if uri mismatch)"), unless the capture shows the
REGISTER as the phone sent it (from its private address: the phone signs the other URI itself, its configuration is
re-sent, first-line's); credentials refused only for the old nonces they answered leave nothing to retype, the
operator looks at it (first-line, the rule's owner). Else the credentials, as before. The reply's steps follow
(sipdiag.reports.replyactions). Captures built with tests/callcapture.py."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from sipdiag.reports.replyactions import steps_for
from tests import callcapture as cc
from tests.russiantext import untranslated, wire_text

PHONE, REGISTRAR = ("198.51.100.7", 40000), ("203.0.113.5", 5060)
OWN = "198.51.100.7:40000"  # the phone's own address in its Via and Contact: no NAT findings beside
OK = "200 OK"
REWRITTEN = "sip:192.168.1.1"  # the phone's digest uri: its Request-URI before a router rewrote it
LAN_PHONE = ("192.168.1.20", 5060)


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


def on_lan(msgs: list) -> list:
    """The messages as a capture on the phone's LAN shows them: the phone at its private address LAN_PHONE, before
    the router (RULES.md §0.2: requests seen from a private source address)."""
    lan = f"{LAN_PHONE[0]}:{LAN_PHONE[1]}"
    return [(t, text.replace(OWN, lan), LAN_PHONE if src == PHONE else src, LAN_PHONE if dst == PHONE else dst)
            for t, text, src, dst in msgs]


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
    diagnosis names the old nonce, but credentials were refused for the nonce they answered, so the password
    it is (the text and owner of before)."""
    msgs = refresh_refused() + [request(60.2, 4, auth=cc.credentials("100n2")),
                                answer(60.25, 4, "401 Unauthorized", cc.challenge("100n3"))]
    f = the_loop(tmp_path, "old-and-current", msgs + [keepalive(100.0)])
    assert figures(f) == ("first-line", "credentials", ["nonce"], False, (("check-credentials",), ("registration",)))
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
