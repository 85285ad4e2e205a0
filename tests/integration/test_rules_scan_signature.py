"""sec.scanner-detected by signature (a scanner's User-Agent, RULES.md trigger (a)): one finding per source, each
with its own evidence, frames and severity, as the behaviour findings (tests/integration/test_rules_scan.py):
"info (major if followed by successful auth or calls)"."""

from __future__ import annotations

import sipdiag
from tests.integration.test_rules_scan import PBX, SCANNER, request, response, sweep, write

OTHER = ("198.51.100.99", 5060)  # a second scanner


def scans(path) -> list[tuple]:
    return [(f.rule, f.severity.label, f.owner, f.confidence, f.frames, f.evidence)
            for f in sipdiag.analyze(path).findings]


def evidence(source: str, requests: int, frame: int, **more) -> dict:
    return {"source": source, "sources": source, "requests": requests, "agents": "friendly-scanner",
            "methods": "REGISTER", "frame": frame, **more,
            "device": {"id": "sipvicious", "vendor": "SIPVicious", "model": "svmap/svwar/svcrack", "kind": "scanner",
                       "version": None, "user_agent": "friendly-scanner", "party": "source"}}


def test_a_scanner_source_with_no_success_is_info(tmp_path) -> None:
    """svwar REGISTERs for 100-104, all answered 404: probing, nothing got in."""
    path = write(tmp_path, "probe", sweep("REGISTER", range(100, 105), ua="friendly-scanner"))
    assert scans(path) == [("sec.scanner-detected", "info", "engineering", "high", (1, 3, 5, 7, 9),
                            evidence("192.0.2.66", 5, 1))]
    (f,) = sipdiag.analyze(path).findings
    # RULES.md sec.scanner-detected's customer text
    assert f.customer_text == {
        "en": "Your phone system is being probed by automated attack tools from the internet. We recommend allowing "
              "access to it from our addresses only and using non-numeric SIP user names and strong passwords.",
        "ru": "Вашу телефонную систему сканируют автоматические средства атаки из интернета. Рекомендуем разрешить "
              "доступ к ней только с наших адресов и использовать нецифровые имена пользователей SIP и надёжные "
              "пароли."}


def got_in(start: float, src=SCANNER, user: str = "100") -> list:
    """The scanner's REGISTER for `user` accepted (200) at `start`, sent from (Via, Contact) `src`."""
    req = request("REGISTER", f"sip:{PBX[0]}", user, 900 + int(start), ua="friendly-scanner").replace(
        f"{SCANNER[0]}:{SCANNER[1]}", f"{src[0]}:{src[1]}")
    return [(start, req, src, PBX), (start + 0.01, response(req, "200 OK", "Expires: 3600\n"), PBX, src)]


def test_a_scanner_source_then_a_200_to_its_register_is_major(tmp_path) -> None:
    path = write(tmp_path, "in", sweep("REGISTER", range(100, 105), ua="friendly-scanner") + got_in(10.0))
    assert scans(path) == [("sec.scanner-detected", "major", "engineering", "high", (1, 3, 5, 7, 9, 11, 12),
                            evidence("192.0.2.66", 6, 1, success="REGISTER for sip:100@203.0.113.5",
                                     success_frame=12))]
    (f,) = sipdiag.analyze(path).findings
    assert f.engineer_text["en"].startswith(
        "6 request(s) with scanner User-Agent friendly-scanner from 192.0.2.66 (REGISTER), first at frame 1. Then a "
        "2xx to its REGISTER for sip:100@203.0.113.5 (frame 12): the source got in. Block the sources")
    assert f.customer_text == {
        "en": "Your phone system is being probed by automated attack tools from the internet, and the same source "
              "then signed in or placed a call. Please change your SIP passwords to long, unique ones now; we also "
              "recommend allowing access from our addresses only and using non-numeric SIP user names.",
        "ru": "Вашу телефонную систему сканируют автоматические средства атаки из интернета, и затем тот же источник "
              "зарегистрировался или позвонил. Срочно смените пароли SIP на длинные и уникальные; также рекомендуем "
              "разрешить доступ только с наших адресов и использовать нецифровые имена пользователей SIP."}


def test_two_scanner_sources_are_two_findings(tmp_path) -> None:
    """Each source's evidence, frames and severity are its own: the one that got in is major, the other info."""
    msgs = (sweep("REGISTER", range(100, 103), ua="friendly-scanner")
            + sweep("REGISTER", range(200, 203), ua="friendly-scanner", src=OTHER, start=5.0)
            + got_in(10.0, OTHER, "201"))
    assert scans(write(tmp_path, "two", msgs)) == [
        ("sec.scanner-detected", "major", "engineering", "high", (7, 9, 11, 13, 14),
         evidence("198.51.100.99", 4, 7, success="REGISTER for sip:201@203.0.113.5", success_frame=14)),
        ("sec.scanner-detected", "info", "engineering", "high", (1, 3, 5), evidence("192.0.2.66", 3, 1))]


def test_a_scan_that_got_in_is_the_engineers_and_its_case_the_security_queue(tmp_path) -> None:
    """RULES.md: sec.scanner-detected is NETENG's (rate-limit, ban, ACLs), the operator's engineers; its category
    still puts its case in the security team's queue (sipdiag.cases.triage)."""
    from sipdiag.cases.summary import summarize
    from sipdiag.cases.triage import triage

    a = sipdiag.analyze(write(tmp_path, "in", sweep("REGISTER", range(100, 105), ua="friendly-scanner")
                              + got_in(10.0)))
    t = triage(summarize(a))
    assert [(f.rule, f.severity.label, f.owner) for f in a.findings] == [
        ("sec.scanner-detected", "major", "engineering")]
    assert (t.rule, t.queue, t.reason) == (
        "sec.scanner-detected", "security", "main cause sec.scanner-detected (major, owner engineering); major "
        "problem capture-wide -> P2; queue security: an attack or abuse: the security team blocks and reviews it")


def test_each_user_agent_is_searched_for_a_scanner_s_name_once(tmp_path, monkeypatch) -> None:
    """The scanner pattern runs once per distinct User-Agent, not once per transaction, registration and call (it
    was 0.4 s of a capture of 20 000 calls); a hostile User-Agent too long to keep is searched each time. The
    answers are the pattern's."""
    from sipdiag.checks import security

    searched: list[str] = []
    pattern = security.SCANNER_UA

    class Counting:
        def search(self, text: str):
            searched.append(text)
            return pattern.search(text)

    security._known_scanner.cache_clear()
    monkeypatch.setattr(security, "SCANNER_UA", Counting())
    path = write(tmp_path, "probe", sweep("REGISTER", range(100, 130), ua="friendly-scanner"))
    assert [f.rule for f in sipdiag.analyze(path).findings] == ["sec.scanner-detected"]
    assert searched == ["friendly-scanner"]
    monkeypatch.setattr(security, "SCANNER_UA", pattern)
    security._known_scanner.cache_clear()
    long = "x" * 300 + " sipvicious"
    for agent in ("friendly-scanner", "FRIENDLY-SCANNER", "Yealink SIP-T46S", "", None, long, "x" * 300):
        assert security.is_scanner_ua(agent) is bool(agent and pattern.search(agent))
    assert security._known_scanner.cache_info().currsize == 3  # the two long ones were not kept
