"""sec.scanner-detected by behaviour (RULES.md trigger (b)): one source whose requests fail for many user names or
addresses within 60 s, or for a run of consecutive extensions, without naming itself a scanner in its User-Agent.
The FP pitfalls RULES.md names stay quiet: OPTIONS pingers, an SBC or office NAT whose phones sign in (the office of
tests/integration/test_rules_sbc.py), a PBX trunk whose calls to many numbers ring and connect."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from sipdiag.config import load_config
from tests import callcapture as cc
from tests.integration.test_rules_sbc import office

PBX = ("203.0.113.5", 5060)
SCANNER = ("192.0.2.66", 5070)
TRUNK = ("198.51.100.7", 5060)


def request(method: str, uri: str, user: str, n: int, *, ua: str = "", auth: str = "") -> str:
    """An out-of-dialog request for `user` at `uri`, Call-ID and branch numbered n."""
    return (f"{method} {uri} SIP/2.0\nVia: SIP/2.0/UDP {SCANNER[0]}:{SCANNER[1]};branch=z9hG4bKs{n}\n"
            f"Max-Forwards: 70\nFrom: <sip:{user}@{PBX[0]}>;tag=f{n}\nTo: <sip:{user}@{PBX[0]}>\n"
            f"Call-ID: scan{n}\nCSeq: 1 {method}\n" + (f"User-Agent: {ua}\n" if ua else "") + auth
            + f"Contact: <sip:{user}@{SCANNER[0]}:{SCANNER[1]}>\nContent-Length: 0\n\n")


def response(req: str, status: str, headers: str = "") -> str:
    """The answer to `req`: its Via, From, Call-ID and CSeq, a To tag."""
    lines = req.split("\n")
    keep = [line for line in lines if line.split(":", 1)[0] in ("Via", "From", "Call-ID", "CSeq")]
    to = next(line for line in lines if line.startswith("To:"))
    return f"SIP/2.0 {status}\n" + "\n".join(keep[:1] + [keep[1], to + ";tag=t1"] + keep[2:]) + "\n" + headers \
        + "Content-Length: 0\n\n"


def sweep(method: str, users: range, *, every_s: float = 1.0, existing: tuple[str, ...] = (), answer: bool = True,
          ua: str = "", src=SCANNER, start: float = 0.0) -> list:
    """svwar: one request per extension at `every_s`, answered 404 (no such user) or, for `existing`, 401."""
    msgs = []
    for k, ext in enumerate(users):
        at, user = start + k * every_s, str(ext)
        req = request(method, f"sip:{user}@{PBX[0]}" if method != "REGISTER" else f"sip:{PBX[0]}", user,
                      int(start * 1000) + k, ua=ua)
        msgs.append((at, req, src, PBX))
        if answer:
            msgs.append((at + 0.01, response(req, "401 Unauthorized" if user in existing else "404 Not Found",
                                             cc.challenge(f"n{k}") if user in existing else ""), PBX, src))
    return msgs


def write(tmp_path: Path, name: str, msgs: list) -> Path:
    return cc.write_sip(tmp_path / f"{name}.pcap", sorted(msgs, key=lambda m: m[0]))


def findings(path: Path) -> list[tuple[str, str, str]]:
    return [(f.rule, f.severity.label, f.confidence) for f in sipdiag.analyze(path).findings]


def scan_finding(path: Path):
    (f,) = [f for f in sipdiag.analyze(path).findings if f.rule == "sec.scanner-detected"]
    return f


def test_a_register_sweep_answered_404_and_401_is_a_scan(tmp_path) -> None:
    """30 extensions in 29 s, no User-Agent: 27 answered 404, the 3 that exist 401 (the enumeration leak)."""
    path = write(tmp_path, "svwar", sweep("REGISTER", range(100, 130), existing=("100", "105", "110")))
    assert findings(path) == [("sec.scanner-detected", "info", "medium")]
    f = scan_finding(path)
    assert f.evidence == {
        "source": "192.0.2.66", "trigger": "users", "requests": 30, "methods": "REGISTER", "users": 30,
        "destinations": 1, "window_s": 29.0, "sample": [str(n) for n in range(100, 110)], "sequential": 30,
        "bare_ip": 30, "responses": {"401": 3, "404": 27}, "enumeration_leak": True, "accepted": 0,
        "registered": False, "frame": 1}
    assert f.frames == tuple(range(1, 61, 2))
    assert f.engineer_text["en"] == (
        "192.0.2.66: 30 failed request(s) (REGISTER) for 30 user names within 29.0 s (threshold 20), first at frame "
        "1; users tried: 100, 101, 102, 103, 104, 105, 106, 107, 108, 109; answered 401 ×3, 404 ×27. 30 of the "
        "extensions are consecutive (a sweep). Unknown users are answered 404 and existing ones 401/407: the "
        "answers tell which extensions exist. 30 request(s) name the server by its bare IP address, not a domain. "
        "Block the sources (fail2ban/APIBAN/SBC ACL), rate-limit REGISTER/INVITE, and check that the probed "
        "extensions have strong passwords.")
    assert f.engineer_text["ru"].startswith(
        "192.0.2.66: неудачные запросы (REGISTER) для 30 имён пользователей за 29.0 с (порог 20): 30, первый в "
        "кадре 1; опрошены: 100, 101")
    assert f.customer_text["en"] == (
        "Your phone system is being probed by automated attack tools from the internet. We recommend allowing access "
        "to it from our addresses only and using non-numeric SIP user names and strong passwords.")
    # RULES.md: NETENG's (rate-limit, ban, ACLs), the operator's engineers
    assert f.owner == "engineering"


def test_the_users_threshold_is_read_from_the_settings(tmp_path) -> None:
    """15 extensions 100, 102, ... (not consecutive) within 60 s: under the default 20, a scan at 15."""
    path = write(tmp_path, "fifteen", sweep("OPTIONS", range(100, 130, 2)))
    assert findings(path) == []
    toml = tmp_path / "sipdiag.toml"
    toml.write_text("[security]\nscan_distinct_users_60s = 15\n")
    warned: list[str] = []
    tuned = sipdiag.analyze(path, settings=load_config(toml, warn=warned.append)).findings
    assert warned == []  # the key has an effect now: no "has no effect" warning
    assert [(f.rule, f.evidence["trigger"], f.evidence["users"], f.evidence["sequential"]) for f in tuned] == [
        ("sec.scanner-detected", "users", 15, 0)]


def test_a_second_run_with_other_settings_on_the_same_analysis_reads_its_own_thresholds(tmp_path) -> None:
    """The scan and brute-force source tables are computed once per run and shared by the rules that ask for them;
    they depend on thresholds, so a second run on the same analysis with other settings must not read the first
    run's tables (they were kept whatever the settings)."""
    from sipdiag.checks import run_checks

    path = write(tmp_path, "fifteen", sweep("OPTIONS", range(100, 130, 2)))
    toml = tmp_path / "sipdiag.toml"
    toml.write_text("[security]\nscan_distinct_users_60s = 15\n")
    tuned = load_config(toml)
    a = sipdiag.analyze(path)  # the default 20: no scan
    assert [f.rule for f in a.findings] == []
    assert [f.rule for f in run_checks(a, settings=tuned)] == ["sec.scanner-detected"]
    assert [f.rule for f in run_checks(a)] == []  # and back


def test_a_slow_sweep_of_consecutive_extensions_is_a_scan(tmp_path) -> None:
    """25 consecutive extensions, one every 10 s (svwar --delay): never 20 in a minute, still a sweep."""
    path = write(tmp_path, "slow", sweep("OPTIONS", range(200, 225), every_s=10.0))
    f = scan_finding(path)
    assert (f.severity.label, f.evidence["trigger"], f.evidence["users"], f.evidence["sequential"],
            f.evidence["window_s"], f.evidence["responses"]) == ("info", "sequential", 25, 25, 240.0, {"404": 25})


def test_an_options_sweep_of_addresses_unanswered_is_a_scan(tmp_path) -> None:
    """svmap: OPTIONS sip:100@host to 12 addresses of a range within 12 s, nobody answers."""
    msgs = []
    for k in range(12):
        dst = (f"203.0.113.{20 + k}", 5060)
        msgs.append((k * 1.0, request("OPTIONS", f"sip:100@{dst[0]}", "100", k), SCANNER, dst))
    f = scan_finding(write(tmp_path, "svmap", msgs))
    assert (f.severity.label, f.confidence, f.evidence["trigger"], f.evidence["destinations"], f.evidence["users"],
            f.evidence["responses"], f.evidence["window_s"]) == ("info", "medium", "destinations", 12, 1,
                                                                 {"none": 12}, 11.0)
    assert "to 12 addresses within 11.0 s (threshold 10)" in f.engineer_text["en"]


def test_an_invite_sweep_then_a_connected_call_is_major(tmp_path) -> None:
    """25 INVITEs to extensions answered 404 from a source that never registered, then its INVITE to an
    international number answered 200: the scan found its way in (RULES.md: major if followed by calls)."""
    msgs = sweep("INVITE", range(300, 325))
    req = request("INVITE", f"sip:0044201234567@{PBX[0]}", "0044201234567", 999)
    msgs += [(40.0, req, SCANNER, PBX), (41.0, response(req, "200 OK"), PBX, SCANNER)]
    f = scan_finding(write(tmp_path, "invite", msgs))
    assert (f.severity.label, f.evidence["trigger"], f.evidence["users"], f.evidence["registered"],
            f.evidence["success"], f.evidence["success_frame"]) == (
        "major", "users", 25, False, "INVITE to sip:0044201234567@203.0.113.5", 52)
    assert f.engineer_text["en"].endswith(
        "The source never registered: its INVITEs are unsolicited. Then a 2xx to its INVITE to "
        "sip:0044201234567@203.0.113.5 (frame 52): the source got in. Block the sources (fail2ban/APIBAN/SBC "
        "ACL), rate-limit REGISTER/INVITE, and check that the probed extensions have strong passwords.")
    assert f.customer_text["en"] == (
        "Your phone system is being probed by automated attack tools from the internet, and the same source then "
        "signed in or placed a call. Please change your SIP passwords to long, unique ones now; we also recommend "
        "allowing access from our addresses only and using non-numeric SIP user names.")


def test_a_scanner_user_agent_gives_the_signature_finding_alone(tmp_path) -> None:
    """The same sweep from friendly-scanner: one finding, the signature's (high confidence), info as nothing got
    in (tests/integration/test_rules_scan_signature.py)."""
    path = write(tmp_path, "named", sweep("REGISTER", range(100, 130), ua="friendly-scanner"))
    assert findings(path) == [("sec.scanner-detected", "info", "high")]
    assert scan_finding(path).engineer_text["en"].startswith(
        "30 request(s) with scanner User-Agent friendly-scanner from 192.0.2.66 (REGISTER), first at frame 1.")


def test_an_options_pinger_is_no_scan(tmp_path) -> None:
    """An SBC pinging its 30 trunk peers every 30 s (RFC 3261 §11), each answering 200; then the same with 12 of
    them down, pinged unanswered at the same steady pace."""
    def pings(down: int) -> list:
        msgs = []
        for rnd in range(4):
            for k in range(30):
                dst, n = (f"203.0.113.{20 + k}", 5060), rnd * 100 + k
                req = request("OPTIONS", f"sip:ping@{dst[0]}", "ping", n)
                at = rnd * 30.0 + k * 0.1
                msgs.append((at, req, SCANNER, dst))
                if k >= down:
                    msgs.append((at + 0.02, response(req, "200 OK"), dst, SCANNER))
        return msgs
    assert findings(write(tmp_path, "pinger", pings(0))) == []
    assert findings(write(tmp_path, "pinger-down", pings(12))) == []


def test_an_office_signing_in_through_its_sbc_is_no_scan(tmp_path) -> None:
    """The 30 phones of test_rules_sbc's office, extensions 200-229 in 58 s from the SBC's one address: each is
    challenged 401, then signs in."""
    assert findings(office(tmp_path, "office", {})) == []


def test_a_trunk_calling_many_numbers_is_no_scan(tmp_path) -> None:
    """A PBX trunk placing 25 calls to 25 numbers within 50 s: they ring (180) and connect, a few are busy or
    unknown numbers (486, 404)."""
    msgs = []
    for k in range(25):
        number = f"0201234{k:04d}"
        req = request("INVITE", f"sip:{number}@{PBX[0]}", number, k)
        status = "404 Not Found" if k in (3, 17) else "486 Busy Here" if k % 5 == 4 else "200 OK"
        msgs += [(k * 2.0, req, TRUNK, PBX), (k * 2.0 + 0.5, response(req, "180 Ringing"), PBX, TRUNK)]
        msgs.append((k * 2.0 + 1.0, response(req, status), PBX, TRUNK))
    rules = [r for r, _severity, _confidence in findings(write(tmp_path, "trunk", msgs))]
    assert "sec.scanner-detected" not in rules


def test_a_source_with_fewer_failed_requests_than_a_threshold_is_not_looked_at_closely(tmp_path, monkeypatch) -> None:
    """Every trigger counts distinct users or addresses of failed probes, so a source with fewer failed requests
    than the lower threshold (10 addresses) cannot be a scanner: the trunk's 25 calls, 2 of them refused, are not
    parsed for their users (on a busy capture of answered calls this rule took 0.21 s of the rules' 0.77 s). The
    sweep of 10 unanswered addresses, at that threshold, still is."""
    from sipdiag.checks import run_checks, scanbehaviour

    msgs = []
    for k in range(25):
        number = f"0201234{k:04d}"
        req = request("INVITE", f"sip:{number}@{PBX[0]}", number, k)
        msgs += [(k * 2.0, req, TRUNK, PBX), (k * 2.0 + 0.5, response(req, "180 Ringing"), PBX, TRUNK),
                 (k * 2.0 + 1.0, response(req, "404 Not Found" if k in (3, 17) else "200 OK"), PBX, TRUNK)]
    trunk = sipdiag.analyze(write(tmp_path, "trunk", msgs), rules=False)
    parsed: list[str] = []
    real = scanbehaviour.parse_uri
    monkeypatch.setattr(scanbehaviour, "parse_uri", lambda text: parsed.append(text) or real(text))
    assert [f.rule for f in run_checks(trunk, select=("sec.scanner-detected",))] == []
    assert parsed == []
    hosts = [(f"192.0.2.{k}", 5060) for k in range(1, 11)]
    sweep10 = [(k * 1.0, request("OPTIONS", f"sip:{h[0]}", "100", k), SCANNER, h) for k, h in enumerate(hosts)]
    found = run_checks(sipdiag.analyze(write(tmp_path, "sweep10", sweep10), rules=False),
                       select=("sec.scanner-detected",))
    assert [(f.rule, f.evidence["trigger"], f.evidence["destinations"]) for f in found] == [
        ("sec.scanner-detected", "destinations", 10)]
    assert len(parsed) == 20  # its 10 requests: the user, then the host of each Request-URI
