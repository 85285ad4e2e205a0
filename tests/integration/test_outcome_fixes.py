"""Call and registration outcomes read right (review on real captures): a ringing call is not a timeout, a final
response without its request still tells the outcome, a pending REGISTER is not 'never answered', refusals are
worded with the real reason phrase, a 5xx is the server's failure, and de-registrations are told apart from
sign-ins. Built captures come from tests/callcapture.py; corpus captures are checked where they show the fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag.cases.summary import summarize
from sipdiag.cli import cli
from tests import callcapture as cc
from tests.callcapture import PBX, UA, Script, sip_message
from tests.conftest import SAMPLES

PHONE, REGISTRAR = ("10.0.0.5", 5060), ("203.0.113.5", 5060)


def findings(path: Path, rule: str) -> list:
    return [f for f in sipdiag.analyze(path).findings if f.rule == rule]


def no_english_in(text: str) -> None:
    """Russian texts carry no English fragments (frames, codes, URIs and reason phrases from the wire aside)."""
    for word in ("any response", "final response", "none", "refused", "registrar", "Credentials", "REGISTERs"):
        assert word not in text, (word, text)


# ------------------------------------------------------------------------------- 1. provisional, then silence

def ringing_call(path: Path, *, provisional: tuple[str, ...], capture_s: float) -> Path:
    """INVITE, the given provisional responses, then nothing until `capture_s` (an OPTIONS ends the capture)."""
    s = Script()
    s.sip(0.0, sip_message("INVITE sip:200@example.com SIP/2.0", "ring-1", "1 INVITE", src=UA, to_tag=False), UA, PBX)
    for i, status in enumerate(provisional):
        s.sip(0.1 + i * 0.1, sip_message(f"SIP/2.0 {status}", "ring-1", "1 INVITE", src=UA,
                                         to_tag=not status.startswith("100")), PBX, UA)
    s.sip(capture_s, sip_message("OPTIONS sip:x@example.com SIP/2.0", "other-1", "1 OPTIONS", src=UA, to_tag=False,
                                 branch="opt"), UA, PBX)
    return s.write(path)


@pytest.mark.parametrize("provisional", [("100 Trying",), ("100 Trying", "183 Session Progress"), ("180 Ringing",)])
def test_a_call_still_ringing_when_the_capture_ends_is_in_progress_not_a_timeout(tmp_path, provisional) -> None:
    # RFC 3261 §17.1.1.2: a provisional response moves the client transaction to Proceeding; Timer B (32 s) no
    # longer applies, so 40 s of ringing or early media is a call in progress.
    path = ringing_call(tmp_path / "ring.pcap", provisional=provisional, capture_s=40.0)
    (call,) = sipdiag.analyze(path).calls
    assert (call.outcome, call.final_status) == ("in-progress", None)
    assert findings(path, "call.invite-timeout") == []


def test_an_invite_without_any_response_for_32_s_stays_a_timeout_in_both_languages(tmp_path) -> None:
    # No response at all for 64*T1: Timer B fired (RFC 3261 §17.1.1.2); the Russian text says so in Russian.
    path = ringing_call(tmp_path / "silent.pcap", provisional=(), capture_s=40.0)
    (call,) = sipdiag.analyze(path).calls
    assert call.outcome == "timeout"
    (f,) = findings(path, "call.invite-timeout")
    assert (f.severity.label, f.evidence["what"], f.evidence["final"]) == ("major", "any response", "none")
    assert "без какого-либо ответа" in f.engineer_text["ru"] and "итог нет" in f.engineer_text["ru"]
    no_english_in(f.engineer_text["ru"])
    # the lab capture (7 sends over 31.5 s, no response at all) stays a timeout
    a = sipdiag.analyze(SAMPLES / "invite_timeout.pcap")
    assert [c.outcome for c in a.calls] == ["timeout"]
    (f,) = [f for f in a.findings if f.rule == "call.invite-timeout"]
    assert (f.severity.label, f.evidence["sends"], f.evidence["span_s"]) == ("major", 7, 31.5)
    assert f.engineer_text["en"].endswith("final status none. Check reachability of 203.0.113.10:5060 (NAT binding "
                                          "age, fragmentation of a large INVITE, ICMP).")
    assert f.customer_text["en"] == ("Calls to 300 are not answered by the receiving equipment: it seems unreachable "
                                     "at that moment. We are checking the connection path.")


def test_an_empty_call_id_and_callee_are_named_in_the_texts_not_left_blank(tmp_path) -> None:
    # A damaged INVITE with an empty Call-ID and an empty To (the callee), never answered: the texts read
    # "Call (empty Call-ID)" and "Calls to (empty number)", not "Call : INVITE" and "Calls to  are"; the evidence
    # keeps the values as they were on the wire.
    s = Script()
    invite = sip_message("INVITE sip:200@example.com SIP/2.0", "", "1 INVITE", src=UA, to_tag=False)
    s.sip(0.0, invite.replace("To: <sip:200@example.com>", "To: "), UA, PBX)
    s.sip(40.0, sip_message("OPTIONS sip:x@example.com SIP/2.0", "other-1", "1 OPTIONS", src=UA, to_tag=False,
                            branch="opt"), UA, PBX)
    (f,) = findings(s.write(tmp_path / "empty.pcap"), "call.invite-timeout")
    assert (f.call_id, f.evidence["call_id"], f.evidence["callee"]) == ("", "", "")
    assert f.customer_text == {
        "en": "Calls to (empty number) are not answered by the receiving equipment: it seems unreachable at that "
              "moment. We are checking the connection path.",
        "ru": "Вызовы на (пустой номер) не получают ответа от принимающего оборудования: в этот момент оно, похоже, "
              "недоступно. Мы проверяем путь соединения."}
    assert f.engineer_text["en"].startswith("Call (empty Call-ID): INVITE (frame 1) to ")
    assert f.engineer_text["ru"].startswith("Вызов (пустой Call-ID): INVITE (кадр 1) на ")


def test_corpus_fuzzed_invite_without_call_id_names_it_empty(corpus) -> None:
    # ndpi/fuzz-2006-06-26-2594.pcap: the INVITE sent at frames 346, 578 and 602 lost its Call-ID and its To to
    # the fuzzer
    (f,) = [f for f in findings(corpus / "pcaps" / "ndpi" / "fuzz-2006-06-26-2594.pcap", "call.invite-timeout")
            if f.call_id == ""]
    assert (f.frames, f.evidence["callee"]) == ((346, 578, 602), "")
    assert f.customer_text["en"].startswith("Calls to (empty number) are not answered")
    assert f.engineer_text["en"].startswith("Call (empty Call-ID): INVITE (frame 602) to 212.242.33.35:5060 sent 3 "
                                            "times over 698.5 s")


def test_corpus_call_with_prack_answered_183_is_in_progress(corpus) -> None:
    # frame 1166: 100 at 1168, 183 at 1171, PRACK answered at 1175/1176, then ~32 s of nothing to the end
    a = sipdiag.analyze(corpus / "pcaps" / "heplify" / "sip_ipv4_tcp_fragmented.pcap")
    (call,) = [c for c in a.calls if c.call_id == "80e81616592e819ab25b37b77600"]
    assert (call.outcome, call.final_status) == ("in-progress", None)
    assert [f.frames for f in a.findings if f.rule == "call.invite-timeout"] == [(47,)]  # the unanswered one only


# ---------------------------------------------------------------------- 2. final response without its INVITE

@pytest.mark.parametrize(("status", "outcome"), [("200 OK", "answered"), ("486 Busy Here", "busy"),
                                                 ("404 Not Found", "rejected")])
def test_a_final_response_whose_invite_is_not_captured_gives_the_outcome(tmp_path, status, outcome) -> None:
    # RFC 3261 §13.2.2.4: a 2xx to an INVITE confirms the dialog; a non-2xx final ends the attempt (§13.2.2.3),
    # whether or not the capture began before the request.
    path = cc.single_messages(tmp_path / "resp.pcap", (
        (sip_message(f"SIP/2.0 {status}", "late-1", "1 INVITE", src=UA), PBX, UA),))
    (call,) = sipdiag.analyze(path).calls
    assert (call.outcome, call.final_status, call.final_reason) == (outcome, int(status[:3]), status[4:])


def test_corpus_200_without_its_invite_is_answered(corpus) -> None:
    (call,) = sipdiag.analyze(corpus / "pcaps" / "pcapplusplus" / "sip_resp.pcap").calls
    assert (call.call_id, call.outcome, call.final_status) == ("12013223@200.57.7.195", "answered", 200)


# ---------------------------------------------------------------------------------- 3. REGISTER still pending

def test_a_register_sent_just_before_the_capture_ends_is_not_no_response(tmp_path) -> None:
    # RFC 3261 §17.1.2.2: only Timer F (64*T1 = 32 s) ends the wait; 0.3 ms is no evidence of a lost REGISTER.
    path = cc.write_sip(tmp_path / "pending.pcap", [
        (0.0, sip_message("OPTIONS sip:x@example.com SIP/2.0", "o-1", "1 OPTIONS", src=PHONE, to_tag=False),
         PHONE, REGISTRAR),
        (1.0, cc.register_text(1, "p1"), PHONE, REGISTRAR),
        (1.0003, sip_message("OPTIONS sip:x@example.com SIP/2.0", "o-2", "1 OPTIONS", src=PHONE, to_tag=False,
                             branch="o2"), PHONE, REGISTRAR)])
    (reg,) = sipdiag.analyze(path).registrations
    assert (reg.outcome, reg.final_status) == ("unanswered", None)
    assert findings(path, "reg.no-response") == []
    # the whole Timer E schedule unanswered up to Timer F (11 sends over 31.5 s) still is 'no response'
    (f,) = findings(cc.unanswered_register(tmp_path / "lost.pcap"), "reg.no-response")
    assert (f.severity.label, f.evidence["sends"], f.frames) == ("critical", 11, (1,))


def test_corpus_register_at_the_end_of_the_capture_is_pending(corpus) -> None:
    path = corpus / "pcaps" / "zeek" / "sip-junk-before-request.pcap"
    assert [r.outcome for r in sipdiag.analyze(path).registrations] == ["unanswered"]
    assert findings(path, "reg.no-response") == []


# ------------------------------------------------------------------ 4. reason phrase, 5xx, response-only frames

def test_rejected_texts_carry_the_reason_phrase() -> None:
    (f,) = findings(SAMPLES / "register_wrong_password.pcap", "reg.rejected")
    assert findings(SAMPLES / "register_wrong_password.pcap", "reg.server-error") == []  # a 4xx is no server fault
    assert (f.severity.label, f.owner, f.confidence, f.frames) == ("critical", "first-line", "high", (3, 6))
    assert (f.evidence["status"], f.evidence["reason"], f.evidence["attempts"], f.evidence["challenges"]) == (
        403, "Forbidden", 2, 1)
    # the customer reads the reason in plain words (RULES.md reg.rejected), the engineer the answer as sent
    assert f.customer_text == {
        "en": "Our system refused your phone's sign-in ('wrong user name or password'). We are checking your "
              "account settings and will update your phone.",
        "ru": "Наша система отклонила вход вашего телефона («неверное имя пользователя или пароль»). Мы проверяем "
              "настройки вашей учётной записи и обновим настройки телефона."}
    assert f.engineer_text == {
        "en": "Registration sip:200@203.0.113.10 from 203.0.113.20:5060: 2 REGISTERs, 1 digest challenge(s), final "
              "403 Forbidden (frame 6). Credentials were sent and refused: wrong password or user name "
              "(RFC 3261 §21.4.4, §22). Request-URI sip:203.0.113.10; Server: sdlab-pbx/1.0.",
        "ru": "Регистрация sip:200@203.0.113.10 с 203.0.113.20:5060: REGISTER: 2, запросов авторизации: 1, итог "
              "403 Forbidden (кадр 6). Учётные данные отправлены и отвергнуты: неверный пароль или имя "
              "пользователя (RFC 3261 §21.4.4, §22). Request-URI sip:203.0.113.10; Server: sdlab-pbx/1.0."}


def test_a_refusal_without_reason_phrase_has_no_dangling_space(tmp_path) -> None:
    path = cc.write_sip(tmp_path / "404.pcap", [
        (0.0, cc.register_text(1, "n1"), PHONE, REGISTRAR),
        (0.1, cc.register_response(1, "n1", "404 "), REGISTRAR, PHONE)])
    (f,) = findings(path, "reg.rejected")
    assert (f.evidence["status"], f.evidence["reason"], f.evidence["status_text"]) == (404, "", "404")
    assert "final 404 (frame 2). The registrar knows no such user" in f.engineer_text["en"]
    assert "итог 404 (кадр 2). Регистратор не знает такого пользователя" in f.engineer_text["ru"]
    no_english_in(f.engineer_text["ru"])
    # a code without words of its own names the answer to the customer: "606", not "606 "
    path = cc.write_sip(tmp_path / "606.pcap", [
        (0.0, cc.register_text(1, "n1"), PHONE, REGISTRAR),
        (0.1, cc.register_response(1, "n1", "606 "), REGISTRAR, PHONE)])
    (f,) = findings(path, "reg.rejected")
    assert (f.evidence["cause"], f.customer_text["en"], f.customer_text["ru"]) == (
        "refused", "Our system refused your phone's sign-in ('our server answered 606'). We are checking your account "
                   "settings and will update your phone.",
        "Наша система отклонила вход вашего телефона («наш сервер ответил 606»). Мы проверяем настройки вашей "
        "учётной записи и обновим настройки телефона.")


def test_a_5xx_to_register_is_a_server_failure_not_a_refused_account(tmp_path) -> None:
    # RFC 3261 §21.5: 5xx means the server failed; the account and the phone's credentials are not in question.
    path = cc.write_sip(tmp_path / "503.pcap", [
        (0.0, cc.register_text(1, "s1"), PHONE, REGISTRAR),
        (0.1, cc.register_response(1, "s1", "503 Service Unavailable"), REGISTRAR, PHONE)])
    assert findings(path, "reg.rejected") == []
    (f,) = findings(path, "reg.server-error")
    assert (f.category, f.severity.label, f.owner, f.confidence, f.frames) == (
        "registration", "major", "engineering", "high", (1, 2))
    assert (f.evidence["status"], f.evidence["reason"], f.evidence["attempts"]) == (503, "Service Unavailable", 1)
    assert f.customer_text["en"] == (
        "Your phone could not sign in to our service because of a fault on our side (our server answered 503 "
        "Service Unavailable); your phone and account settings are not the cause. We are working on it; your "
        "phone will retry by itself.")
    assert f.customer_text["ru"] == (
        "Ваш телефон не смог войти в наш сервис из-за неисправности на нашей стороне (наш сервер ответил 503 "
        "Service Unavailable); настройки телефона и учётной записи здесь ни при чём. Мы устраняем проблему; "
        "телефон повторит попытку сам.")
    # no Retry-After: the registrar does not say when to retry (RFC 3261 §20.33)
    assert f.engineer_text == {
        "en": "Registration sip:100@example.com from 10.0.0.5:5060 to 203.0.113.5:5060: 1 REGISTER, 0 digest "
              "challenge(s), final 503 Service Unavailable (frame 2): the registrar or a proxy on the way is "
              "overloaded or out of service. A 5xx is a server failure, not a refusal of the account (RFC 3261 "
              "§21.5); check the registrar and the servers behind it. Request-URI sip:example.com. The answer "
              "carries no Retry-After (RFC 3261 §20.33): it does not say when to retry.",
        "ru": "Регистрация sip:100@example.com с 10.0.0.5:5060 на 203.0.113.5:5060: REGISTER: 1, запросов "
              "авторизации: 0, итог 503 Service Unavailable (кадр 2): регистратор или прокси на пути перегружен или "
              "не обслуживает запросы. Ответ 5xx означает сбой сервера, а не отказ учётной записи (RFC 3261 §21.5); "
              "проверьте регистратор и серверы за ним. Request-URI sip:example.com. В ответе нет Retry-After "
              "(RFC 3261 §20.33): он не говорит, когда повторить попытку."}
    assert (f.evidence["retry_after"], f.evidence["retry_after_s"], f.evidence["early_retries"]) == ("", None, 0)
    no_english_in(f.engineer_text["ru"])


def test_corpus_5xx_answers_without_their_register(corpus) -> None:
    path = corpus / "pcaps" / "pcapplusplus" / "sip_resp.pcap"
    assert findings(path, "reg.rejected") == []
    hits = findings(path, "reg.server-error")
    assert [(f.severity.label, f.owner, f.confidence, f.frames, f.evidence["status"], f.evidence["reason"],
             f.evidence["attempts"]) for f in hits] == [
        ("major", "engineering", "medium", (6,), 504, "Server Timeout", 0),
        ("major", "engineering", "medium", (7,), 503, "Service Unavailable", 0)]
    assert "the REGISTER is not in the capture (it began after it), only the response, final 504 Server " \
           "Timeout (frame 6)" in hits[0].engineer_text["en"]
    assert "0 REGISTER" not in hits[0].engineer_text["en"]
    # the 503 says `Retry-After: 0`, quoted; a 504 is not one to carry a Retry-After (RFC 3261 §20.33)
    assert [(f.evidence["retry_after"], f.evidence["retry_after_s"]) for f in hits] == [("", None), ("0", 0)]
    assert [f.engineer_text["en"].split("behind it.")[1] for f in hits] == [
        "", " Retry-After: 0 (0 s: the server asks for no wait, a retry at once is allowed)."]


@pytest.mark.parametrize("value, seconds, quoted", [
    ("120 (maintenance)", 120, ("Retry-After: 120 (maintenance)", "Retry-After: 120 (maintenance)")),
    ("0", 0, ("Retry-After: 0 (0 s: the server asks for no wait, a retry at once is allowed)",
              "Retry-After: 0 (0 с: сервер не просит ждать, повторить можно сразу)")),
    ("soon", None, ("Retry-After: soon (not a number of seconds: no device can honour it)",
                    "Retry-After: soon (не число секунд: выполнить его не может ни одно устройство)")),
    ("4" * 25, 86_400, (f"Retry-After: {'4' * 25} (over a day: read as 86400 s)",
                        f"Retry-After: {'4' * 25} (больше суток: принят за 86400 с)")),
    (None, None, ("", ""))])
def test_a_call_refused_5xx_quotes_its_retry_after(tmp_path, value, seconds, quoted) -> None:
    # RULES.md call.failure-response: 500/502/503/504, server or carrier failure, with its Retry-After (RFC 3261
    # §20.33): how long the far side expects to be unavailable, as written; one no phone can honour is named
    s = Script()
    s.sip(0.0, sip_message("INVITE sip:200@example.com SIP/2.0", "busy-1", "1 INVITE", src=UA, to_tag=False), UA, PBX)
    s.sip(0.05, sip_message("SIP/2.0 503 Service Unavailable", "busy-1", "1 INVITE", src=UA,
                            extra=f"Retry-After: {value}\n" if value else ""), PBX, UA)
    s.sip(0.06, sip_message("ACK sip:200@example.com SIP/2.0", "busy-1", "1 ACK", src=UA), UA, PBX)
    (f,) = findings(s.write(tmp_path / "503.pcap"), "call.failure-response")
    assert (f.severity.label, f.frames, f.evidence.get("retry_after"), f.evidence.get("retry_after_s")) == (
        "major", (2,), value, seconds)
    said_en, said_ru = (f"; the answer carries {quoted[0]}", f"; в ответе {quoted[1]}") if value else ("", "")
    assert f.engineer_text == {
        "en": "Call busy-1: final 503 Service Unavailable (frame 2) from 203.0.113.5:5060: the far side is overloaded "
              f"or a route is down{said_en} (RFC 3261 §21).",
        "ru": "Вызов busy-1: итог 503 Service Unavailable (кадр 2) от 203.0.113.5:5060: другая сторона перегружена "
              f"или маршрут недоступен{said_ru} (RFC 3261 §21)."}


# ---------------------------------------------------------------------- 5. a refused de-registration

def deregistration_refused(path: Path) -> Path:
    """Sign-in (401, credentials, 200), then 60 s later a de-registration (expires 0) refused 403."""
    nonce = "n1"
    return cc.write_sip(path, [
        (0.0, cc.register_text(1, "a1"), PHONE, REGISTRAR),
        (0.1, cc.register_response(1, "a1", "401 Unauthorized", headers=cc.challenge(nonce)), REGISTRAR, PHONE),
        (0.2, cc.register_text(2, "a2", auth=cc.credentials(nonce)), PHONE, REGISTRAR),
        (0.3, cc.register_response(2, "a2", "200 OK", headers=f"Contact: <{cc.REG_CONTACT}>;expires=300\n"),
         REGISTRAR, PHONE),
        (60.0, cc.register_text(3, "a3", expires=0, auth=cc.credentials(nonce)), PHONE, REGISTRAR),
        (60.1, cc.register_response(3, "a3", "403 Forbidden"), REGISTRAR, PHONE)])


def test_a_refused_deregistration_is_not_a_failed_sign_in(tmp_path) -> None:
    # RFC 3261 §10.2.2: expires 0 removes a binding; refusing that leaves it until it expires (§10.3). The phone
    # had signed in (frame 4): counting that exchange into the refusal, and telling the customer the phone
    # cannot sign in, is wrong.
    (f,) = findings(deregistration_refused(tmp_path / "dereg.pcap"), "reg.rejected")
    assert (f.severity.label, f.frames, f.evidence["attempts"], f.evidence["challenges"],
            f.evidence["deregistration"]) == ("minor", (5, 6), 1, 0, True)
    assert f.customer_text == {
        "en": "Your phone asked to sign out of our service and the server did not accept it (it answered 403 "
              "Forbidden). No action is needed from you.",
        "ru": "Ваш телефон попросил выйти из нашего сервиса, но сервер не принял запрос (ответил 403 Forbidden). "
              "От вас ничего не требуется."}
    assert f.engineer_text["en"] == (
        "Registration sip:100@example.com from 10.0.0.5:5060: 1 REGISTER, 0 digest challenge(s), final 403 "
        "Forbidden (frame 6). A de-registration (expires 0) was refused: the binding stays until it expires, so "
        "calls may still be routed to this contact (credentials were sent and refused) (RFC 3261 §10.3, §22). "
        "Request-URI sip:example.com.")
    no_english_in(f.engineer_text["ru"])


def test_corpus_refused_deregistration_after_a_successful_sign_in(corpus) -> None:
    (f,) = [f for f in findings(corpus / "pcaps" / "zeek" / "wireshark.pcap", "reg.rejected")
            if f.evidence["aor"] == "sip:voi18062@sip.cybercity.dk"]
    # the de-registration challenged at frame 45/46 (Contact without ;line=) and re-sent with credentials at 47
    # (with it) is one binding (RFC 3261 §19.1.4): both of its REGISTERs are counted
    assert (f.severity.label, f.frames, f.evidence["attempts"], f.evidence["challenges"], f.evidence["status"],
            f.evidence["reason"]) == ("minor", (45, 48), 2, 2, 401, "nonce has changed")
    assert "could not sign in" not in f.customer_text["en"]
    assert "sign out" in f.customer_text["en"]


# ------------------------------------------------------------------------------ 6. a de-registration is no refresh

def test_a_deregistration_is_not_counted_as_a_refresh(tmp_path) -> None:
    # RFC 3261 §10.2.4 refreshes keep a binding; §10.2.2 expires 0 removes it: 120 s between the refreshes, the
    # de-registration 5 s later does not halve the interval.
    ok = f"Contact: <{cc.REG_CONTACT}>;expires=300\n"
    path = cc.write_sip(tmp_path / "refresh.pcap", [
        (0.0, cc.register_text(1, "r1"), PHONE, REGISTRAR),
        (0.1, cc.register_response(1, "r1", "200 OK", headers=ok), REGISTRAR, PHONE),
        (120.0, cc.register_text(2, "r2"), PHONE, REGISTRAR),
        (120.1, cc.register_response(2, "r2", "200 OK", headers=ok), REGISTRAR, PHONE),
        (125.0, cc.register_text(3, "r3", expires=0), PHONE, REGISTRAR),
        (125.1, cc.register_response(3, "r3", "200 OK"), REGISTRAR, PHONE)])
    (reg,) = sipdiag.analyze(path).registrations
    assert (reg.deregistration, reg.refresh_interval_s) == (True, 120.0)
    # the accepted removal took the binding away (§10.3 step 6): de-registered, not registered, and no failure
    assert (reg.outcome, reg.accepted) == ("deregistered", True)


def test_a_refused_deregistration_stays_a_failure(tmp_path) -> None:
    (reg,) = sipdiag.analyze(deregistration_refused(tmp_path / "dereg.pcap")).registrations
    assert (reg.outcome, reg.deregistration, reg.accepted) == ("failed", True, False)


def test_corpus_deregistration_is_no_refresh(corpus) -> None:
    (reg,) = sipdiag.analyze(corpus / "pcaps" / "arkime" / "gtp-iphone.pcap").registrations
    # 200 at frames 16(401)/29 and the de-registration accepted at 102: one binding REGISTER accepted, no refresh
    assert (reg.deregistration, reg.final_status, reg.refresh_interval_s) == (True, 200, None)


def test_corpus_accepted_deregistration_reads_deregistered_everywhere(corpus) -> None:
    # frame 100 (Expires: 0) answered 200 at frame 102: the binding was removed (RFC 3261 §10.2.2), so no report
    # says "registered (de-registration)"
    path = corpus / "pcaps" / "arkime" / "gtp-iphone.pcap"
    doc = json.loads(run("analyze", "--format", "json", str(path)))
    assert [(r["outcome"], r["final_status"], r["deregistration"], r["last_frame"]) for r in doc["registrations"]] \
        == [("deregistered", 200, True, 102)]
    for lang, word in (("en", "deregistered"), ("ru", "регистрация снята")):
        terminal = run("analyze", "--lang", lang, str(path))
        assert word in terminal and "(de-registration)" not in terminal and "(снятие регистрации)" not in terminal
        html = run("analyze", "--format", "html", "--lang", lang, str(path))
        assert f'<td class="outcome-deregistered">{word}</td>' in html
    assert summarize(sipdiag.analyze(path))["figures"]["registrations_failed"] == 0


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.output


# ---------------------------------------------------------------------------------- 7. a 3xx is a redirection

NUMBER, TARGET = "4955550100", "4955550199"  # the dialled number and the 302's Contact


def redirected_call(path: Path, *, follow: str | None) -> Path:
    """INVITE to NUMBER, 302 with Contact TARGET, ACK; follow: None (no retry), "same" (a new INVITE in the same
    Call-ID, RFC 3261 §8.1.3.4), "new" (a new Call-ID to TARGET, as a B2BUA does); the retry is answered."""
    s = Script()
    contact = f"<sip:{TARGET}@gw.example.net>"
    s.sip(0.0, sip_message(f"INVITE sip:{NUMBER}@example.com SIP/2.0", "redir-1", "1 INVITE", src=UA,
                           to_tag=False, to_user=NUMBER), UA, PBX)
    s.sip(0.1, sip_message("SIP/2.0 302 Moved Temporarily", "redir-1", "1 INVITE", src=UA, to_user=NUMBER,
                           contact=contact), PBX, UA)
    s.sip(0.11, sip_message(f"ACK sip:{NUMBER}@example.com SIP/2.0", "redir-1", "1 ACK", src=UA, to_user=NUMBER),
          UA, PBX)
    if follow is not None:
        call_id, cseq, to_user = ("redir-1", 2, NUMBER) if follow == "same" else ("redir-2", 1, TARGET)
        for at, start, method, to_tag, src, dst in (
                (0.2, f"INVITE sip:{TARGET}@gw.example.net SIP/2.0", "INVITE", False, UA, PBX),
                (0.5, "SIP/2.0 200 OK", "INVITE", True, PBX, UA),
                (0.51, f"ACK sip:{TARGET}@gw.example.net SIP/2.0", "ACK", True, UA, PBX),
                (5.0, f"BYE sip:{TARGET}@gw.example.net SIP/2.0", "BYE", True, UA, PBX),
                (5.01, "SIP/2.0 200 OK", "BYE", True, PBX, UA)):
            branch = {"INVITE": "b2", "ACK": "b3", "BYE": "b4"}[method]
            number = cseq + 1 if method == "BYE" else cseq
            s.sip(at, sip_message(start, call_id, f"{number} {method}", src=UA, to_tag=to_tag, branch=branch,
                                  to_user=to_user), src, dst)
    else:
        s.sip(10.0, sip_message("OPTIONS sip:x@example.com SIP/2.0", "other-1", "1 OPTIONS", src=UA, to_tag=False,
                                branch="opt"), UA, PBX)
    return s.write(path)


@pytest.mark.parametrize("follow, outcomes", [
    ("same", [("redir-1", "answered", 200)]),
    ("new", [("redir-1", "rejected", 302), ("redir-2", "answered", 200)])])
def test_a_followed_redirect_is_no_failure(tmp_path, follow, outcomes) -> None:
    # RFC 3261 §21.3: 3xx is redirection; retried at the Contact (§8.1.3.4), in the same Call-ID or (a B2BUA) in a
    # new one, the call went on: no call.failure-response
    a = sipdiag.analyze(redirected_call(tmp_path / "redirect.pcap", follow=follow))
    assert [(c.call_id, c.outcome, c.final_status) for c in a.calls] == outcomes
    assert a.calls[0].redirect_contacts == (f"sip:{TARGET}@gw.example.net",)
    assert [f.rule for f in a.findings if f.rule == "call.failure-response"] == []


def test_an_unfollowed_redirect_is_information_not_a_refusal(tmp_path) -> None:
    a = sipdiag.analyze(redirected_call(tmp_path / "redirect.pcap", follow=None))
    assert [(c.outcome, c.final_status) for c in a.calls] == [("rejected", 302)]
    (f,) = [f for f in a.findings if f.rule == "call.failure-response"]
    assert (f.severity.label, f.confidence, f.frames, f.evidence["status"], f.evidence["redirect_to"]) == (
        "info", "medium", (2,), 302, f"sip:{TARGET}@gw.example.net")
    assert f.customer_text["en"] == (f"Your call to {NUMBER} could not be completed: the far side redirected it to "
                                     "another destination, and it was not retried there. We are checking why.")
    assert "refused" not in f.customer_text["en"] and "gw.example.net" not in f.customer_text["en"]
    assert (f"(Contact sip:{TARGET}@gw.example.net); no new INVITE to it follows in the capture"
            in f.engineer_text["en"])
    assert "перенаправила" in f.customer_text["ru"] and "нового INVITE туда в захвате нет" in f.engineer_text["ru"]
    no_english_in(f.engineer_text["ru"])


def test_corpus_redirect_followed_by_the_b2bua(corpus) -> None:
    # fax-iz-InLife-G711-GRE199.cap: call 1506 gets 302 (frame 32, Contact sip:980838615500003@nextone), the
    # B2BUA sends call 1507 from the same caller to 9997980838615500003 (frame 34), which is answered
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "fax-iz-InLife-G711-GRE199.cap")
    calls = {c.call_id: c for c in a.calls}
    redirected = calls["1506-3439110249-105821@itnxB.mydomain.com"]
    retry = calls["1507-3439110249-262672@itnxB.mydomain.com"]
    assert (redirected.outcome, redirected.final_status, redirected.redirect_contacts) == (
        "rejected", 302, ("sip:980838615500003@nextone",))
    assert (retry.outcome, retry.final_status, retry.first_frame) == ("answered", 200, 34)
    # the 404 of another call stays a refusal; the followed 302 is no finding
    assert [(f.call_id, f.severity.label, f.evidence["status"]) for f in a.findings
            if f.rule == "call.failure-response"] == [
        ("2ede-435-11242008122510-Xtec-IMG2-1@89.202.183.241", "minor", 404)]


# --------------------------------------------------------------------- 8. answered, the 2xx not in the capture

def unanswered_in_capture(path: Path, *, ack_branch: str | None, bye_from: str | None,
                          provisional: str = "100 Trying") -> Path:
    """INVITE (branch b1) and a provisional response; the 2xx, if any, is not captured. ack_branch: an ACK with
    the To tag on that branch (b1: the INVITE's own, as for a non-2xx); bye_from: "caller" or "callee" sends BYE."""
    s = Script()
    s.sip(0.0, sip_message("INVITE sip:200@example.com SIP/2.0", "mirror-1", "1 INVITE", src=UA, to_tag=False),
          UA, PBX)
    s.sip(0.1, sip_message(f"SIP/2.0 {provisional}", "mirror-1", "1 INVITE", src=UA,
                           to_tag=not provisional.startswith("100")), PBX, UA)
    if ack_branch is not None:
        s.sip(1.0, sip_message("ACK sip:200@example.com SIP/2.0", "mirror-1", "1 ACK", src=UA, branch=ack_branch),
              UA, PBX)
    if bye_from == "caller":
        s.sip(5.0, sip_message("BYE sip:200@example.com SIP/2.0", "mirror-1", "2 BYE", src=UA, branch="b3"), UA, PBX)
    elif bye_from == "callee":
        s.sip(5.0, sip_message("BYE sip:100@example.com SIP/2.0", "mirror-1", "1 BYE", src=PBX, branch="b4",
                               caller_first=False), PBX, UA)
    s.sip(10.0, sip_message("OPTIONS sip:x@example.com SIP/2.0", "other-1", "1 OPTIONS", src=UA, to_tag=False,
                            branch="opt"), UA, PBX)
    return s.write(path)


@pytest.mark.parametrize("ack_branch, bye_from, provisional, outcome, confirmed_frame", [
    # RFC 3261 §13.2.2.4: an ACK on a branch of its own acknowledges a 2xx; it confirms the dialog
    ("b2", "caller", "100 Trying", "answered", 3),
    ("b2", None, "100 Trying", "answered", 3),
    # §15: the callee may send BYE only in a confirmed dialog
    (None, "callee", "100 Trying", "answered", None),
    # §17.1.1.3: the ACK of a non-2xx reuses the INVITE's branch: no answer; the caller may BYE an early dialog (§15)
    ("b1", None, "100 Trying", "in-progress", None),
    (None, "caller", "180 Ringing", "in-progress", None)])
def test_an_answer_whose_2xx_is_not_captured(tmp_path, ack_branch, bye_from, provisional, outcome,
                                             confirmed_frame) -> None:
    path = unanswered_in_capture(tmp_path / "mirror.pcap", ack_branch=ack_branch, bye_from=bye_from,
                                 provisional=provisional)
    (call,) = sipdiag.analyze(path).calls
    assert (call.outcome, call.final_status, call.answer_ms) == (outcome, None, None)
    assert [d.confirmed_frame for d in call.dialogs if d.confirmed_frame] == (
        [confirmed_frame] if confirmed_frame else [])


def test_corpus_answered_call_whose_2xx_the_mirror_missed(corpus) -> None:
    # port-16_vlan24_200.pcap holds the INVITE (frame 5), the ACK with To tag on a new branch (16, CSeq 1: it
    # acknowledges a 2xx, RFC 3261 §13.2.2.4) and the caller's BYE (292), but no response at all: answered.
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "port-16_vlan24_200.pcap")
    (call,) = a.calls
    assert (call.outcome, call.final_status, call.ended_by, call.bye_frame) == ("answered", None, "caller", 292)
    assert [(d.state, d.created_frame, d.confirmed_frame) for d in call.dialogs] == [("terminated", 16, 16)]
    # the media checks run as for any answered call: the callee's 266 packets reach the caller's SDP address, none
    # go the other way (the capture point does see that direction: 192.168.24.50's ping to 192.168.25.51, frame 288)
    v = a.media_of(call).verdict
    assert (v.verdict, v.missing_direction, v.packets_to_callee, v.packets_to_caller) == (
        "one-way", "caller->callee", 0, 266)
    # 5.3 s of it: reported (media.oneway_report_s 5 s), minor below the 15 s of media.onewaytimeout_s
    assert [(f.rule, f.severity.label, f.frames, f.evidence["one_way_s"]) for f in a.findings] == [
        ("media.one-way-audio", "minor", (9,), 5.3)]


# -------------------------------------------------------------- 9. a proxy's 408 after a CANCEL nobody accepted

def timed_out_call(path: Path, *, cancel: bool, cancel_answer: str | None, final: str = "408 Request Timeout",
                   cancel_request: bool = True) -> Path:
    """INVITE, 100 Trying, optionally the caller's CANCEL at 34 s (answered with `cancel_answer` or not at all; the
    request itself lost at the capture point when not cancel_request), the INVITE's final response at 36.8 s and its
    ACK (all on the INVITE's branch b1, RFC 3261 §9.1, §17.1.1.3)."""
    s = Script()
    msg = "INVITE sip:200@example.com SIP/2.0"
    s.sip(0.0, sip_message(msg, "to-1", "1 INVITE", src=UA, to_tag=False), UA, PBX)
    s.sip(0.2, sip_message("SIP/2.0 100 Trying", "to-1", "1 INVITE", src=UA, to_tag=False), PBX, UA)
    if cancel:
        if cancel_request:
            s.sip(34.0, sip_message("CANCEL sip:200@example.com SIP/2.0", "to-1", "1 CANCEL", src=UA, to_tag=False),
                  UA, PBX)
        if cancel_answer:
            s.sip(34.1, sip_message(f"SIP/2.0 {cancel_answer}", "to-1", "1 CANCEL", src=UA), PBX, UA)
    s.sip(36.8, sip_message(f"SIP/2.0 {final}", "to-1", "1 INVITE", src=UA), PBX, UA)
    s.sip(36.81, sip_message("ACK sip:200@example.com SIP/2.0", "to-1", "1 ACK", src=UA), UA, PBX)
    return s.write(path)


def test_a_408_to_an_invite_whose_cancel_was_not_accepted_is_a_timeout(tmp_path) -> None:
    # RFC 3261 §9.2: a CANCEL takes effect when accepted (200) and the INVITE ends with 487; a proxy's 408 to a
    # CANCEL it never accepted is its own timeout for the callee (§16.6, §21.4.9): RULES.md call.invite-timeout
    for cancel_answer in (None, "408 Request Timeout"):
        path = timed_out_call(tmp_path / "timeout.pcap", cancel=True, cancel_answer=cancel_answer)
        a = sipdiag.analyze(path)
        assert [(c.outcome, c.final_status, c.cancelled_frame) for c in a.calls] == [("timeout", 408, 3)]
        (f,) = [f for f in a.findings if f.category == "signaling"]
        final_frame = 5 if cancel_answer else 4
        assert (f.rule, f.severity.label, f.frames, f.evidence["final"], f.evidence["cancel_frame"]) == (
            "call.invite-timeout", "major", (1, final_frame), 408, 3)
        assert (f"final status 408 from {PBX[0]}:{PBX[1]} (frame {final_frame}) 36.8 s after the INVITE; the "
                "caller's CANCEL (frame 3) was not accepted (RFC 3261 §9.2)") in f.engineer_text["en"]
        assert f"итог 408 от {PBX[0]}:{PBX[1]} (кадр {final_frame}) через 36.8 с после INVITE; CANCEL вызывающего " \
               "(кадр 3) не был принят" in f.engineer_text["ru"]
        no_english_in(f.engineer_text["ru"])


def test_a_408_without_cancel_names_its_frame(tmp_path) -> None:
    a = sipdiag.analyze(timed_out_call(tmp_path / "timeout.pcap", cancel=False, cancel_answer=None))
    (f,) = [f for f in a.findings if f.category == "signaling"]
    assert (f.rule, f.severity.label, f.frames, f.evidence["cancel_frame"]) == ("call.invite-timeout", "major", (1, 3),
                                                                               None)
    # The proxy that sent the 408 is reachable: the advice points beyond it (RFC 3261 §16.6), not at it.
    assert f.engineer_text["en"].endswith(
        f"final status 408 from {PBX[0]}:{PBX[1]} (frame 3) 36.8 s after the INVITE. {PBX[0]}:{PBX[1]} answered, so "
        "it is reachable: its next hop toward the callee did not answer (Timer C or B at the proxy, RFC 3261 §16.6). "
        "Check the callee's registration and the path from that proxy to it.")
    assert f.engineer_text["ru"].endswith(
        f"{PBX[0]}:{PBX[1]} ответил, значит, он доступен: не ответил его следующий узел в сторону вызываемого (таймер C "
        "или B на прокси, RFC 3261 §16.6). Проверьте регистрацию вызываемого и путь от этого прокси до него.")
    no_english_in(f.engineer_text["ru"])
    # The customer reads the number called, never the far side's host (RULES.md §6).
    assert f.customer_text["en"].startswith("Calls to 200 are not answered by the receiving equipment")
    assert f.customer_text["ru"].startswith("Вызовы на 200 не получают ответа")


@pytest.mark.parametrize("final", ["408 Request Timeout", "487 Request Terminated"])
def test_an_accepted_cancel_is_the_callers_choice(tmp_path, final) -> None:
    # the CANCEL was accepted (200): the caller gave up, whatever the INVITE was ended with; no timeout finding
    a = sipdiag.analyze(timed_out_call(tmp_path / "cancel.pcap", cancel=True, cancel_answer="200 OK", final=final))
    assert [(c.outcome, c.final_status) for c in a.calls] == [("cancelled", int(final[:3]))]
    assert [f.rule for f in a.findings if f.rule == "call.invite-timeout"] == []


@pytest.mark.parametrize(("cancel_answer", "outcome", "signaling"), [
    ("200 OK", "cancelled", []),
    ("408 Request Timeout", "timeout", [("call.invite-timeout", (1, 4), 3)]),
])
def test_a_cancel_known_by_its_response_is_the_callers(tmp_path, cancel_answer: str, outcome: str,
                                                         signaling) -> None:
    """The capture lost the caller's CANCEL but has its response (frame 3), then the proxy's 408 to the INVITE.
    The response shows the CANCEL was sent (RFC 3261 §9.1, §9.2): accepted (200), the call was cancelled, the
    caller's choice; not accepted (a proxy's own 408), the INVITE timed out and the finding names the CANCEL as
    one that was. Before, cancelled_frame stayed None: the accepted CANCEL's call was "rejected" 408 and the
    timeout's finding named no CANCEL; the call's end read "no BYE or CANCEL seen"."""
    path = timed_out_call(tmp_path / "lost-cancel.pcap", cancel=True, cancel_answer=cancel_answer,
                          cancel_request=False)
    a = sipdiag.analyze(path)
    assert [(c.outcome, c.final_status, c.cancelled_frame, c.end_reason) for c in a.calls] == [
        (outcome, 408, 3, None)]
    assert [(f.rule, f.frames, f.evidence["cancel_frame"]) for f in a.findings if f.category == "signaling"] == (
        signaling)
    if signaling:
        (f,) = [f for f in a.findings if f.category == "signaling"]
        assert (f"final status 408 from {PBX[0]}:{PBX[1]} (frame 4) 36.8 s after the INVITE; the caller's CANCEL "
                "(frame 3) was not accepted (RFC 3261 §9.2)") in f.engineer_text["en"]
    shown = CliRunner().invoke(cli, ["analyze", str(path), "--call", "#1", "--fail-on", "never"]).stdout
    assert [line.split(None, 1)[1].rstrip() for line in shown.splitlines() if line.startswith("Ended ")] == [
        "CANCEL from the caller, frame 3"]


def test_corpus_408_after_an_unaccepted_cancel(corpus) -> None:
    # aaa.pcap: INVITE (frames 223/225/227), 100 Trying (228), the caller's CANCEL 34 s later (247, retransmitted,
    # never accepted), 408 to the INVITE (252) and later to the CANCEL (274)
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "aaa.pcap")
    call = next(c for c in a.calls if c.call_id == "105090259-446faf7a@192.168.1.2")
    assert (call.outcome, call.final_status, call.cancelled_frame) == ("timeout", 408, 247)
    (f,) = [f for f in a.findings if f.call_id == call.call_id]
    assert (f.rule, f.severity.label, f.frames, f.evidence["target"], f.evidence["sends"], f.evidence["final"],
            f.evidence["cancel_frame"]) == (
        "call.invite-timeout", "major", (223, 225, 227, 252), "200.68.120.81:5060", 3, 408, 247)
    assert ("final status 408 from 200.68.120.81:5060 (frame 252) 36.8 s after the INVITE; the caller's CANCEL "
            "(frame 247) was not accepted") in f.engineer_text["en"]


def test_corpus_invite_unanswered_over_tcp_is_not_a_reachability_problem(corpus) -> None:
    # sip_ipv4_tcp_fragmented.pcap: the INVITE of frame 47 goes over TCP to 10.186.205.131:6060, whose TCP
    # acknowledges it (frame 48) and which answers other INVITEs on that connection; no SIP response follows in the
    # 124 s the capture goes on. TCP delivers or breaks the connection (no Timer A, no fragments to lose): the
    # advice was reachability, NAT binding age and fragmentation, as for UDP.
    (f,) = findings(corpus / "pcaps" / "heplify" / "sip_ipv4_tcp_fragmented.pcap", "call.invite-timeout")
    assert (f.call_id, f.frames, f.evidence["target"], f.evidence["sends"]) == (
        "85b939c9-8f01-4f54-8042-a2338185f4cb", (47,), "10.186.205.131:6060", 1)
    assert f.engineer_text["en"] == (
        "Call 85b939c9-8f01-4f54-8042-a2338185f4cb: INVITE (frame 47) to 10.186.205.131:6060 sent once over 0.0 s "
        "without any response (Timer B, no retransmission over TCP, RFC 3261 §17.1.1.2); final status none. Over TCP "
        "the INVITE is sent once and delivered unless the connection fails: 10.186.205.131:6060 took it and did not "
        "answer, or the connection broke. Check the SIP service at 10.186.205.131:6060 (overload, a hung process) "
        "and the connection's resets.")
    assert "фрагментация" not in f.engineer_text["ru"] and "По TCP INVITE отправляется один раз" in \
        f.engineer_text["ru"]
    # nor is the customer told the equipment "seems unreachable": the call reached it over the connection
    assert f.customer_text == {
        "en": "Calls to 699810 are not answered by the receiving equipment: the call was sent to it, but it did not "
              "respond. We are checking that equipment.",
        "ru": "Вызовы на 699810 не получают ответа от принимающего оборудования: вызов был ему передан, но оно не "
              "ответило. Мы проверяем это оборудование."}
    # over UDP the path stays the suspect
    (udp,) = findings(SAMPLES / "invite_timeout.pcap", "call.invite-timeout")
    assert udp.engineer_text["en"].endswith("Check reachability of 203.0.113.10:5060 (NAT binding age, "
                                            "fragmentation of a large INVITE, ICMP).")


# ------------------------------------------------------------ 10. a re-INVITE whose request is not in the capture

def reinvite_answers(path: Path, answers: tuple[tuple[str, int], ...], *, initial: bool, bye_at: float | None,
                     bye_cseq: int = 9) -> Path:
    """Optionally the initial INVITE (CSeq 1) answered and ACKed; then, for each (status line, CSeq), only the
    response to a caller's re-INVITE and its ACK (a 2xx's on a branch of its own, RFC 3261 §13.2.2.4; a non-2xx's
    on the INVITE's, §17.1.1.3), 2 s apart from 2.0 s; the caller's BYE at bye_at."""
    s = Script()
    if initial:
        cc.call_setup(s, "re-1")
    for k, (status, cseq) in enumerate(answers):
        at, branch = 2.0 + 2 * k, f"re{cseq}"
        s.sip(at, sip_message(f"SIP/2.0 {status}", "re-1", f"{cseq} INVITE", src=UA, branch=branch), PBX, UA)
        s.sip(at + 0.01, sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "re-1", f"{cseq} ACK", src=UA,
                                     branch=f"ack{cseq}" if status.startswith("2") else branch), UA, PBX)
    if bye_at is not None:
        cc.bye(s, bye_at, "re-1", cseq=bye_cseq)
    return s.write(path)


def outcome_and_rules(path: Path) -> tuple:
    a = sipdiag.analyze(path)
    (call,) = a.calls
    return ((call.outcome, call.final_status, call.reinvites, call.ended_by),
            [(t.cseq, t.request_frame, t.final_status, t.in_dialog) for t in call.transactions if t.method == "INVITE"],
            [(f.rule, f.severity.label, f.frames, f.evidence.get("status"), f.evidence.get("purpose"))
             for f in a.findings if f.category == "signaling"])


UNKNOWN_CHANGE = "a change whose request is not in the capture"


@pytest.mark.parametrize("status", ["491 Request Pending", "488 Not Acceptable Here"])
@pytest.mark.parametrize(("bye_at", "severity"), [(20.0, "minor"), (6.0, "major")])
def test_a_failed_reinvite_known_by_its_response_is_no_initial_invite(tmp_path, status, bye_at, severity) -> None:
    # The initial INVITE (frame 1) was answered (2) and ACKed (3); the re-INVITE is missing, its 4xx (4) is not:
    # its CSeq 2 is above the confirmed dialog's 1, its tags are the dialog's (RFC 3261 §12.2.1.1, §8.2.6.2), so it
    # answered a request in the dialog. The call stays answered 200, its failure is the re-INVITE's: reported with
    # the response's frame (the request's purpose is unknown), major when the BYE follows within 10 s.
    path = reinvite_answers(tmp_path / "re.pcap", ((status, 2),), initial=True, bye_at=bye_at)
    assert outcome_and_rules(path) == (
        ("answered", 200, 1, "caller"), [(1, 1, 200, False), (2, None, int(status[:3]), True)],
        [("call.reinvite-failed", severity, (4,) + ((6,) if severity == "major" else ()), int(status[:3]),
          UNKNOWN_CHANGE)])


@pytest.mark.parametrize(("answers", "bye_cseq", "expected"), [
    # only the 200 of the re-INVITE, then the BYE: its response alone cannot tell it from an initial INVITE's (an
    # INVITE retried after a 401 also has CSeq 2, and every final response has a To tag): the call was answered
    # either way, a dialog can be re-INVITEd only once confirmed (§14.1); nor can it tell whether its From tag is
    # the caller's (a callee's re-INVITE has the callee's, §12.2.1.1): who sent the BYE is not known
    ((("200 OK", 2),), 3, (("answered", 200, 0, None), [(2, None, 200, False)], [])),
    # that 200 confirmed the dialog: the 488 to CSeq 3 on its tags answers a re-INVITE in it, a failure of the
    # re-INVITE (frame 3), not of the call
    ((("200 OK", 2), ("488 Not Acceptable Here", 3)), 4, (
        ("answered", 200, 1, None), [(2, None, 200, False), (3, None, 488, True)],
        [("call.reinvite-failed", "minor", (3,), 488, UNKNOWN_CHANGE)])),
])
def test_a_capture_that_begins_with_a_reinvites_answer(tmp_path, answers, bye_cseq, expected) -> None:
    path = reinvite_answers(tmp_path / "mid.pcap", answers, initial=False, bye_at=20.0, bye_cseq=bye_cseq)
    assert outcome_and_rules(path) == expected


def test_a_capture_that_begins_with_a_491_is_no_refused_call(tmp_path) -> None:
    # 491 Request Pending is sent only to a request in a dialog (RFC 3261 §14.2, §21.4.27): the call was answered
    # before the capture began, its re-INVITE was refused. Before, the call was "rejected 491" and
    # call.failure-response said the far side refused it.
    path = reinvite_answers(tmp_path / "glare.pcap", (("491 Request Pending", 2),), initial=False, bye_at=None)
    assert outcome_and_rules(path) == (
        ("answered", None, 1, None), [(2, None, 491, True)],
        [("call.reinvite-failed", "minor", (1,), 491, UNKNOWN_CHANGE)])


def test_a_timeout_is_told_from_the_invite_captured_not_a_response_without_its_request(tmp_path) -> None:
    # ndpi/fuzz-2006-06-26-2594.pcap: a provisional response to an INVITE the capture lacks (its request lost, or
    # its branch mangled) came after the captured INVITE timed out. The finding named that request-less
    # transaction: "INVITE (frame None) ... sent 0 times over 0 s". It is told from the INVITE that was sent.
    sends = [(t, sip_message("INVITE sip:200@example.com SIP/2.0", "lost-1", "1 INVITE", src=UA, to_tag=False),
              UA, PBX) for t in (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)]  # Timer A doubling
    trying = sip_message("SIP/2.0 100 Trying", "lost-1", "2 INVITE", src=UA, to_tag=False, branch="other")
    path = cc.write_sip(tmp_path / "stray.pcap", sends + [(33.0, trying, PBX, UA), (40.0, trying, PBX, UA)])
    (call,) = sipdiag.analyze(path).calls
    assert call.outcome == "timeout"
    (f,) = findings(path, "call.invite-timeout")
    assert (f.evidence["invite_frame"], f.evidence["sends"], f.evidence["span_s"], f.frames) == (
        1, 7, 31.5, (1, 2, 3, 4, 5, 6, 7))
    assert "INVITE (frame 1) to 203.0.113.5:5060 sent 7 times over 31.5 s without any response" in \
        f.engineer_text["en"]
    # a single send is "sent once", not "sent 1 times"
    one = cc.write_sip(tmp_path / "once.pcap", sends[:1] + [(40.0, trying, PBX, UA)])
    (f,) = findings(one, "call.invite-timeout")
    assert "INVITE (frame 1) to 203.0.113.5:5060 sent once over 0.0 s without any response" in f.engineer_text["en"]
    assert "отправлен 1 раз за 0.0 с" in f.engineer_text["ru"]
