"""reg.auth-loop for credentials refused once (RULES.md reg.auth-loop; RFC 3261 §22.2): "my phone won't register".

The phone sends REGISTER, is challenged 401, answers with a wrong password and is challenged again (not stale); as
RFC 3261 §22.2 asks it does not resend the credentials just rejected, so a capture of a minute or two shows one
refusal. reg.auth-loop needed 3 refusals within 60 s (or 300 s of them) and reg.rejected leaves a refused digest to
it, so no finding named the cause. Now credentials refused with nothing accepted after them are a finding, critical
at medium confidence (high stays for RULES.md's triggers), with the sub-diagnoses read from the headers; not the
normal steps RULES.md's pitfalls name (a challenge then 200, stale=true, a proxy's 407 then the registrar's 401,
other lines of the device, a scanner's REGISTERs), nor credentials answering an old nonce the phone may still
answer anew (sipdiag.checks.digestrefusal). Captures built with tests/callcapture.py."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from sipdiag.cases.lines import line_figures
from tests import callcapture as cc
from tests.russiantext import untranslated, wire_text

PHONE, REGISTRAR = ("198.51.100.7", 40000), ("203.0.113.5", 5060)
OWN = "198.51.100.7:40000"  # the phone's own address in its Via and Contact: no NAT findings beside
R, S = cc.register_text, cc.register_response
OK = "200 OK"
PROXY_REALM = "proxy.example.com"
RFC_22_2 = ("RFC 3261 §22.2: a UAC should not resend credentials that were just rejected unless the nonce was stale; "
            "check the provisioned auth user, password and realm (RFC 7616).")
RFC_22_2_RU = ("RFC 3261 §22.2: UAC не должен повторять отвергнутые учётные данные, если nonce не устарел (stale); "
               "проверьте пользователя авторизации, пароль и realm (RFC 7616).")


def request(t: float, cseq: int, user: str = "100", **headers) -> tuple:
    """Line `user`'s REGISTER (Call-ID reg-<user>), `headers` as register_text takes them (auth, proxy_auth, ...)."""
    return (t, R(cseq, f"{user}-{cseq}", contact=f"sip:{user}@{OWN}", call_id=f"reg-{user}", via=OWN, user=user,
                 **headers), PHONE, REGISTRAR)


def answer(t: float, cseq: int, status: str, headers: str = "", user: str = "100") -> tuple:
    if status == OK:
        headers += f"Contact: <sip:{user}@{OWN}>;expires=300\n"
    return (t, S(cseq, f"{user}-{cseq}", status, headers=headers, call_id=f"reg-{user}", via=OWN, user=user),
            REGISTRAR, PHONE)


def refused_once(user: str = "100", at: float = 0.0, cseq: int = 1, *, challenge: str | None = None,
                 **credentials) -> list:
    """Line `user` signing in at `at`: challenged 401 (nonce <user>n1), its credentials (`credentials` as
    cc.credentials takes them) refused with a new challenge (<user>n2, not stale). `challenge`: both challenges'
    headers, by default cc.challenge's."""
    first = challenge.format(nonce=f"{user}n1") if challenge else cc.challenge(f"{user}n1")
    second = challenge.format(nonce=f"{user}n2") if challenge else cc.challenge(f"{user}n2")
    return [request(at, cseq, user), answer(at + 0.05, cseq, "401 Unauthorized", first, user),
            request(at + 0.1, cseq + 1, user, auth=cc.credentials(f"{user}n1", user=user, **credentials)),
            answer(at + 0.15, cseq + 1, "401 Unauthorized", second, user)]


def keepalive(t: float) -> tuple:
    """An OPTIONS from the phone at t: the capture goes on, with no REGISTER."""
    return (t, cc.sip_message("OPTIONS sip:example.com SIP/2.0", "keepalive", "1 OPTIONS", src=PHONE, to_tag=False),
            PHONE, REGISTRAR)


def analysed(tmp_path: Path, name: str, msgs: list):
    return sipdiag.analyze(cc.write_sip(tmp_path / f"{name}.pcap", sorted(msgs, key=lambda m: m[0])))


def rules(a) -> list[tuple[str, str, str]]:
    return [(f.rule, f.severity.label, f.confidence) for f in a.findings]


def the_finding(a):
    (f,) = [f for f in a.findings if f.rule == "reg.auth-loop"]
    return f


def test_credentials_refused_once_then_the_phone_stops(tmp_path) -> None:
    a = analysed(tmp_path, "once", refused_once() + [keepalive(90.0)])
    assert rules(a) == [("reg.auth-loop", "critical", "medium")]  # not reg.rejected: one finding for one fault
    f = the_finding(a)
    trigger = "refused once; then the device sent no REGISTER for this AOR in the 89.8 s the capture goes on"
    assert (f.frames, f.evidence["refusals"], f.evidence["attempts"], f.evidence["statuses"], f.evidence["trigger"],
            f.evidence["loop"], f.evidence["stopped"], f.evidence["diagnosis"], f.evidence["refused_frames"],
            f.evidence["final_frames"]) == ((3, 4), 1, 2, "401", trigger, False, True, ["password"], "3", [4])
    assert (f.title, f.titles["ru"]) == ("Registration refused: digest credentials not accepted",
                                         "Регистрация отклонена: учётные данные digest не приняты")
    assert f.customer_text == {
        "en": "Your phone's sign-in was refused because the user name or password it sends does not match our "
              "records, so it cannot make or receive calls. We are re-sending your phone's configuration; if you "
              "typed the details in yourself, please enter the SIP password again exactly as provided (it is "
              "case-sensitive).",
        "ru": "Вашему телефону отказано во входе: имя пользователя или пароль, которые он отправляет, не совпадают с "
              "нашими данными, поэтому он не может звонить и принимать звонки. Мы повторно отправляем настройки "
              "телефона; если вы вводили данные сами, введите SIP-пароль ещё раз точно как выдан (с учётом "
              "регистра)."}
    assert f.engineer_text == {
        "en": f"Registration sip:100@example.com from {OWN}: a credentialed REGISTER refused (401), none accepted "
              f"after it ({trigger}); frames 3. Last credentials: username 100, realm example.com, uri "
              "sip:example.com, nonce 100n1. Findings: realm, user and URI are consistent: the password is the likely "
              f"cause. {RFC_22_2} Attempts: frame 1 (no credentials) -> 401 (realm example.com, nonce 100n1); frame 3 "
              "(username 100, realm example.com, uri sip:example.com, nonce 100n1) -> 401 (realm example.com, nonce "
              "100n2).",
        "ru": f"Регистрация sip:100@example.com с {OWN}: отклонён REGISTER с учётными данными (401), после него ни "
              "один не принят (один отказ; затем устройство не отправило для этого AOR ни одного REGISTER за 89.8 с "
              "до конца захвата); кадры 3. Последние данные: username 100, realm example.com, uri sip:example.com, "
              "nonce 100n1. Выводы: realm, пользователь и URI согласованы: вероятная причина — пароль. "
              f"{RFC_22_2_RU} Попытки: кадр 1 (без учётных данных) -> 401 (realm example.com, nonce 100n1); кадр 3 "
              "(username 100, realm example.com, uri sip:example.com, nonce 100n1) -> 401 (realm example.com, nonce "
              "100n2)."}
    assert untranslated(f, wire_text(a)) == {"customer": [], "engineer": []}
    # the capture cut right after the refusal: the same finding, which says so
    cut = the_finding(analysed(tmp_path, "cut", refused_once()))
    assert (cut.confidence, cut.evidence["stopped"], cut.evidence["trigger"]) == (
        "medium", False, "refused once; the capture ends 0.0 s after it")


def test_refused_once_then_accepted_with_new_credentials(tmp_path) -> None:
    """The customer types the password again a minute later: challenged, accepted. Nothing to report, and the line
    is up."""
    later = [request(60.0, 3), answer(60.05, 3, "401 Unauthorized", cc.challenge("100n3")),
             request(60.1, 4, auth=cc.credentials("100n3")), answer(60.15, 4, OK)]
    a = analysed(tmp_path, "then-ok", refused_once() + later)
    assert (rules(a), line_figures(a)) == ([], (1, 0))


def two_stage(proxy_realm: str = PROXY_REALM) -> list:
    """RFC 3261 §22.3: the outbound proxy challenges 407 (nonce p1), the phone answers with Proxy-Authorization and
    the registrar behind it challenges 401 for its own realm example.com (nonce r1)."""
    return [request(0.0, 1),
            answer(0.05, 1, "407 Proxy Authentication Required", cc.challenge("p1", realm=proxy_realm, proxy=True)),
            request(0.1, 2, proxy_auth=cc.credentials("p1", realm=proxy_realm)),
            answer(0.15, 2, "401 Unauthorized", cc.challenge("r1"))]


def test_a_proxy_407_then_the_registrar_401_is_no_refusal(tmp_path) -> None:
    """The registrar's 401 after the proxy's credentials is the second stage of the sign-in, whatever the realms:
    no finding, and a capture cut there (the phone about to answer the registrar) no line down, which it was."""
    proxy = cc.credentials("p1", realm=PROXY_REALM)
    full = two_stage() + [request(0.2, 3, proxy_auth=proxy, auth=cc.credentials("r1")), answer(0.25, 3, OK)]
    for name, msgs in (("two-stage", full), ("cut", two_stage()), ("same-realm", two_stage("example.com"))):
        a = analysed(tmp_path, name, msgs)
        assert (rules(a), line_figures(a)) == ([], (1, 0)), name
    # the registrar refusing its own credentials is a refusal, one (the 401 to the proxy's credentials is none):
    # reg.auth-loop's, where reg.rejected took the three challenges for credentials refused
    refused = two_stage() + [request(0.2, 3, proxy_auth=proxy, auth=cc.credentials("r1")),
                             answer(0.25, 3, "401 Unauthorized", cc.challenge("r2"))]
    a = analysed(tmp_path, "registrar-refuses", refused + [keepalive(60.0)])
    assert (rules(a), line_figures(a)) == ([("reg.auth-loop", "critical", "medium")], (1, 1))
    f = the_finding(a)
    assert (f.evidence["refusals"], f.evidence["attempts"], f.evidence["refused_frames"], f.evidence["realm"],
            f.evidence["nonce"], f.evidence["diagnosis"]) == (1, 3, "5", "example.com", "r1", ["password"])
    assert f.evidence["attempts_en"] == (
        "frame 1 (no credentials) -> 407 (realm proxy.example.com, nonce p1); frame 3 (username 100, realm "
        "proxy.example.com, uri sip:example.com, nonce p1) -> 401 (realm example.com, nonce r1); frame 5 (username "
        "100, realm example.com, uri sip:example.com, nonce r1) -> 401 (realm example.com, nonce r2)")


def test_three_refusals_within_a_minute_stay_a_loop(tmp_path) -> None:
    msgs = refused_once() + [
        m for k in (1, 2) for m in (request(k * 20.0, 2 * k + 2, auth=cc.credentials(f"100n{k + 1}")),
                                    answer(k * 20.0 + 0.05, 2 * k + 2, "401 Unauthorized",
                                           cc.challenge(f"100n{k + 2}")))]
    f = the_finding(analysed(tmp_path, "loop", msgs))
    assert (f.severity.label, f.confidence, f.evidence["loop"], f.evidence["refusals"], f.evidence["trigger"],
            f.evidence["refused_frames"], f.title) == (
        "critical", "high", True, 3, "3 refusals within 60 s", "3, 5, 7",
        "Registration stuck in a digest authentication loop")
    assert f.customer_text["en"].startswith("Your phone keeps being refused because the user name or password")


def test_realm_mismatch_in_a_single_refusal(tmp_path) -> None:
    """The phone answers the challenge for realm example.com with credentials for example.org (a misprovisioned
    domain) and is challenged for example.com again: a refusal (not another realm's stage), named for the realm."""
    f = the_finding(analysed(tmp_path, "realm", refused_once(realm="example.org")))
    assert (f.confidence, f.evidence["diagnosis"], f.evidence["realm"]) == ("medium", ["realm"], "example.org")
    assert ("Findings: credentials for realm 'example.org' answer a challenge for realm 'example.com'. RFC 3261"
            in f.engineer_text["en"])
    assert ("Выводы: учётные данные для realm 'example.org' в ответ на запрос realm 'example.com'. RFC 3261"
            in f.engineer_text["ru"])


def test_algorithm_and_qop_of_a_single_refusal(tmp_path) -> None:
    """RFC 8760, RFC 7616 §3.4: the registrar asks for SHA-256 with qop auth, the phone answers MD5 without qop. A
    registrar offering SHA-256 and MD5 (one challenge each, RFC 8760 §2.4) answered in MD5 with qop auth is no
    algorithm mismatch: the password it is."""
    sha = cc.challenge("{nonce}", algorithm="SHA-256", qop="auth")
    f = the_finding(analysed(tmp_path, "sha", refused_once(challenge=sha)))
    assert (f.evidence["diagnosis"], f.evidence["findings_en"], f.evidence["findings_ru"]) == (
        ["algorithm", "qop"],
        "server asks for SHA-256, the phone answers MD5; server offers qop auth, the phone answers without qop "
        "(RFC 7616 §3.4)",
        "сервер требует SHA-256, телефон отвечает MD5; сервер предлагает qop auth, телефон отвечает без qop "
        "(RFC 7616 §3.4)")
    both = sha + cc.challenge("{nonce}", qop="auth")
    f = the_finding(analysed(tmp_path, "both", refused_once(challenge=both, qop="auth")))
    assert f.evidence["diagnosis"] == ["password"]
    assert f.evidence["attempts_en"].startswith(
        "frame 1 (no credentials) -> 401 (realm example.com, nonce 100n1, algorithm SHA-256 | MD5); ")


def test_stale_and_old_nonces_are_not_a_refusal_of_the_password(tmp_path) -> None:
    """stale=true says the password was right (RFC 7616 §3.3): the phone answers the new nonce, accepted, or the
    capture ends first; neither is a finding nor a line down. A refresh reusing the nonce its sign-in was accepted
    with, refused without stale=true, is answered anew at once by a working phone: a capture cut there shows no
    fault (the line was counted down), one going on for Timer F without the phone answering shows the refusal,
    named for the old nonce, not the password."""
    stale = [request(0.0, 1, auth=cc.credentials("old")), answer(0.05, 1, "401 Unauthorized",
                                                                 cc.challenge("n1", stale=True))]
    for name, msgs in (("stale-ok", stale + [request(0.1, 2, auth=cc.credentials("n1")), answer(0.15, 2, OK)]),
                       ("stale-cut", stale)):
        a = analysed(tmp_path, name, msgs)
        assert (rules(a), line_figures(a)) == ([], (1, 0)), name
    refresh = [request(0.0, 1), answer(0.05, 1, "401 Unauthorized", cc.challenge("n1")),
               request(0.1, 2, auth=cc.credentials("n1")), answer(0.15, 2, OK),
               request(60.0, 3, auth=cc.credentials("n1")), answer(60.05, 3, "401 Unauthorized", cc.challenge("n2"))]
    a = analysed(tmp_path, "refresh-cut", refresh)
    assert (rules(a), line_figures(a)) == ([], (1, 0))
    a = analysed(tmp_path, "refresh-left", refresh + [keepalive(100.0)])
    assert (rules(a), line_figures(a)) == ([("reg.auth-loop", "critical", "medium")], (1, 1))
    f = the_finding(a)
    assert (f.evidence["refused_frames"], f.evidence["diagnosis"], f.evidence["findings_en"]) == (
        "5", ["nonce"], "credentials answer nonce 'n1', which no challenge since the last accepted REGISTER gave: an "
                        "old nonce, refused without stale=true, and the new challenge left unanswered (RFC 7616 §3.3)")


def test_credentials_without_a_nonce_answer_no_challenge(tmp_path) -> None:
    """An IMS phone's first REGISTER carries Authorization with its user and realm and an empty nonce (3GPP TS
    24.229 §5.1.1.2.1): the 401 to it is the first step of the sign-in. A capture cut there is no refusal and no line
    down (it was one)."""
    ims = 'Digest username="100", realm="example.com", nonce="", uri="sip:example.com", response=""'
    a = analysed(tmp_path, "ims", [request(0.0, 1, auth=ims), answer(0.05, 1, "401 Unauthorized",
                                                                      cc.challenge("n1"))])
    assert (rules(a), line_figures(a)) == ([], (1, 0))


def test_lines_sharing_a_device_are_judged_each(tmp_path) -> None:
    """Line 101 of the device signs in, line 100 is refused: 101's 200 does not clear 100's refusal. Two lines
    refused are one finding of the device, in the plural."""
    ok_101 = [request(0.5, 1, "101"), answer(0.55, 1, OK, user="101")]
    f = the_finding(analysed(tmp_path, "one-of-two", refused_once() + ok_101))
    assert (f.evidence["aors"], f.evidence["refused_frames"]) == (["sip:100@example.com"], "3")
    a = analysed(tmp_path, "two", refused_once() + refused_once("101", at=0.5))
    assert rules(a) == [("reg.auth-loop", "critical", "medium")]
    f = the_finding(a)
    assert (f.evidence["aors"], f.evidence["refused_frames"], f.evidence["trigger"], f.evidence["trigger_ru"]) == (
        ["sip:100@example.com", "sip:101@example.com"], "3, 7",
        "each AOR: fewer than 3 refusals within 60 s, nothing accepted after them",
        "у каждого AOR: менее 3 отказов за 60 с, после них ничего не принято")
    assert f.customer_text["en"].startswith("The sign-in of 2 of your lines was refused because the user names ")
    assert f.customer_text["ru"].startswith("Вход 2 ваших линий отклонён: имена пользователей или пароли")


def test_a_scanners_refused_register_is_not_the_customers(tmp_path) -> None:
    msgs = [(t, m.replace("Content-Length: 0", "User-Agent: friendly-scanner\nContent-Length: 0"), src, dst)
            for t, m, src, dst in refused_once()]
    a = analysed(tmp_path, "scanner", msgs)
    assert (rules(a), line_figures(a)) == ([("sec.scanner-detected", "info", "high")], (0, 0))


def test_a_retry_after_the_refusal_is_named(tmp_path) -> None:
    """The phone sends its credentials again with the new nonce, and the capture ends before the answer: still no
    2xx, the refusal stands, and the text says the phone went on."""
    f = the_finding(analysed(tmp_path, "retry", refused_once() + [request(1.0, 3, auth=cc.credentials("100n2"))]))
    assert (f.evidence["refusals"], f.evidence["attempts"], f.evidence["stopped"], f.evidence["trigger"],
            f.evidence["trigger_ru"]) == (
        1, 3, False, "refused once; its later REGISTERs were not accepted in the capture either",
        "один отказ; последующие REGISTER в захвате тоже не приняты")
    assert f.evidence["attempts_en"].endswith(
        "; frame 5 (username 100, realm example.com, uri sip:example.com, nonce 100n2) -> no answer")
