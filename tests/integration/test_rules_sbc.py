"""Many devices behind one source address: an office SBC or edge proxy forwarding every phone's REGISTER from its
one address (RFC 3327, RFC 5626), a PBX trunk placing everybody's calls. The rules keyed on the source address
must not take such a source for one attacker (RULES.md sec.bruteforce-auth, FP pitfalls: "NATed offices"), and
the failing phones' findings must still name each phone's AOR. Real attacks (initconf-sip-attacks) stay found:
tests/integration/test_check_fixes.py, tests/corpus."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from tests import callcapture as cc

SBC, REGISTRAR, CARRIER = ("198.51.100.20", 5060), ("203.0.113.5", 5060), ("203.0.113.9", 5060)
PHONES = 30


def _via_sbc(text: str, branch: str) -> str:
    """The REGISTER or its answer as the SBC forwards it: its own Via on top of the phone's (RFC 3261 §16.6
    step 8), so the registrar answers the SBC (§18.2.2)."""
    return text.replace("Via: ", f"Via: SIP/2.0/UDP {SBC[0]}:{SBC[1]};branch=z9hG4bKsbc{branch}\nVia: ", 1)


def phone(n: int, *, refusal: str | None = None, retries: tuple[float, ...] = (), fresh_call_ids: bool = False,
          stale_refresh_at: float | None = None) -> list:
    """Phone n of the office (extension 200+n, private address 192.168.10.(10+n)) signing in through the SBC at
    n * 2 s: challenged (401, RFC 3261 §22.2), then its credentials accepted (200) or answered `refusal` (403: a
    wrong password), again after each of `retries` (s) on its one Call-ID (RFC 3261 §10.2), or a new one each try
    (`fresh_call_ids`, as a tool starts one). `stale_refresh_at`: the refresh at that time carries the old nonce and
    is challenged with stale=true, then accepted (RFC 7616 §3.3)."""
    user, own = str(200 + n), f"192.168.10.{10 + n}:5060"
    contact, start = f"sip:{user}@{own}", n * 2.0
    ok = f"Contact: <{contact}>;expires=300\n"
    msgs, cseq = [], 1
    tries = [start + sum(retries[:k]) for k in range(len(retries) + 1)]
    for k, at in enumerate(tries):
        kw = {"call_id": f"ph{user}-{k}" if fresh_call_ids else f"ph{user}", "via": own, "user": user}
        nonce, b = f"{user}n{k}", f"{user}-{k}"
        msgs += _exchange(at, cseq, b + "a", kw, contact, None, "401 Unauthorized", cc.challenge(nonce))
        msgs += _exchange(at + 0.1, cseq + 1, b + "b", kw, contact, cc.credentials(nonce, user=user),
                          refusal or "200 OK", "" if refusal else ok)
        cseq += 2
    if stale_refresh_at is not None:
        kw = {"call_id": f"ph{user}", "via": own, "user": user}
        msgs += _exchange(stale_refresh_at + start, cseq, f"{user}-sa", kw, contact,
                          cc.credentials(f"{user}n0", user=user), "401 Unauthorized",
                          cc.challenge(f"{user}s", stale=True))
        msgs += _exchange(stale_refresh_at + start + 0.1, cseq + 1, f"{user}-sb", kw, contact,
                          cc.credentials(f"{user}s", user=user), "200 OK", ok)
    return msgs


def _exchange(at: float, cseq: int, branch: str, kw: dict, contact: str, auth: str | None, status: str,
              headers: str) -> list:
    return [(at, _via_sbc(cc.register_text(cseq, branch, contact=contact, auth=auth, **kw), branch), SBC,
             REGISTRAR),
            (at + 0.05, _via_sbc(cc.register_response(cseq, branch, status, headers=headers, **kw), branch),
             REGISTRAR, SBC)]


def office(tmp_path: Path, name: str, failing: dict[int, dict]) -> Path:
    """The 30 phones through the SBC; `failing`: phone -> phone()'s arguments of those that fail."""
    msgs = [m for n in range(PHONES) for m in phone(n, **failing.get(n, {}))]
    return cc.write_sip(tmp_path / f"{name}.pcap", sorted(msgs, key=lambda m: m[0]))


def rules(path: Path) -> list[tuple[str, str]]:
    return [(f.rule, f.severity.label) for f in sipdiag.analyze(path).findings]


WRONG = (1, 7, 13, 19, 25)  # five phones with a wrong password: sec.bruteforce-auth's 5 user names


def test_an_sbc_forwarding_an_office_with_a_few_wrong_passwords_is_not_password_guessing(tmp_path) -> None:
    """Five of the 30 phones refused 403 after the challenge, one of them retrying a minute later: the SBC was
    taken for a password guesser across 5 user names, critical because the other phones' 200s followed, and the
    five phones' refusals were left out as the attack's. Most of its AORs sign in and each refused one fails as
    one device does: the failing phones are one reg.rejected naming each AOR."""
    failing = {n: {"refusal": "403 Forbidden"} for n in WRONG}
    failing[7]["retries"] = (60,)
    path = office(tmp_path, "office", failing)
    assert rules(path) == [("reg.rejected", "critical")]
    (f,) = sipdiag.analyze(path).findings
    aors = [f"sip:{200 + n}@example.com" for n in (1, 13, 19, 25, 7)]  # by final answer: 207's came last
    assert (f.evidence["source"], f.evidence["aors"], f.evidence["status"], f.evidence["cause"], f.owner) == (
        "198.51.100.20:5060", aors, 403, "credentials", "first-line")
    assert f.engineer_text["en"].startswith(
        "Registrations of 5 AORs from 198.51.100.20:5060 to 203.0.113.5:5060 (sip:201@example.com, "
        "sip:213@example.com, sip:219@example.com")


def test_an_address_still_guessing_through_the_office_shape_is_password_guessing(tmp_path) -> None:
    # a new Call-ID for every try of a refused user name: a tool, not a phone (RFC 3261 §10.2)
    fresh = {n: {"refusal": "403 Forbidden", "retries": (60,), "fresh_call_ids": n == 7} for n in WRONG}
    assert rules(office(tmp_path, "fresh", fresh)) == [("sec.bruteforce-auth", "critical")]
    # one user name refused again 2 s later: faster than any device's retry timer, a dictionary
    fast = {n: {"refusal": "403 Forbidden", "retries": (2,) if n == 7 else ()} for n in WRONG}
    assert rules(office(tmp_path, "fast", fast)) == [("sec.bruteforce-auth", "critical")]
    # most user names refused: 16 of the 30 fail, 14 sign in
    most = {n: {"refusal": "403 Forbidden"} for n in range(16)}
    (f,) = sipdiag.analyze(office(tmp_path, "most", most)).findings
    assert (f.rule, f.severity.label, f.evidence["source"], f.evidence["failures"], f.evidence["users"]) == (
        "sec.bruteforce-auth", "critical", "198.51.100.20", 16, 16)
    # a refused AOR accepted later: a corrected password cannot be told from a guessed one
    later = {n: {"refusal": "403 Forbidden"} for n in WRONG}
    msgs = [m for n in range(PHONES) for m in phone(n, **later.get(n, {}))]
    msgs += _exchange(200.0, 9, "late", {"call_id": "ph201", "via": "192.168.10.11:5060", "user": "201"},
                      "sip:201@192.168.10.11:5060", cc.credentials("201n0", user="201"), "200 OK",
                      "Contact: <sip:201@192.168.10.11:5060>;expires=300\n")
    path = cc.write_sip(tmp_path / "later.pcap", sorted(msgs, key=lambda m: m[0]))
    assert rules(path) == [("sec.bruteforce-auth", "critical")]


def test_stale_nonces_at_the_office_refreshes_are_no_failed_authentication(tmp_path) -> None:
    """Every phone's refresh carries its old nonce and is challenged with stale=true, then accepted: the password
    was right (RFC 7616 §3.3). Counted as 30 failed authentications for 30 user names followed by 2xx, the SBC
    was a critical sec.bruteforce-auth; it is a working office."""
    path = office(tmp_path, "stale", {n: {"stale_refresh_at": 120.0} for n in range(PHONES)})
    a = sipdiag.analyze(path)
    assert [f.rule for f in a.findings] == []
    assert sum(r.outcome == "registered" for r in a.registrations) == PHONES


def invite(k: int, number: str, final: str) -> list:
    """Call k of the PBX trunk to `number`: INVITE, 100, then `final` (ACKed: RFC 3261 §17.1.1.3)."""
    cid, src = f"trunk-{k}", ("198.51.100.30", 5060)
    at = k * 3.0
    msg = cc.sip_message
    return [(at, msg(f"INVITE sip:{number}@example.com SIP/2.0", cid, "1 INVITE", src=src, to_tag=False,
                     branch=f"t{k}", to_user=number), src, CARRIER),
            (at + 0.05, msg("SIP/2.0 100 Trying", cid, "1 INVITE", src=src, to_tag=False, branch=f"t{k}",
                            to_user=number), CARRIER, src),
            (at + 1.0, msg(f"SIP/2.0 {final}", cid, "1 INVITE", src=src, branch=f"t{k}", to_user=number),
             CARRIER, src),
            (at + 1.05, msg(f"ACK sip:{number}@example.com SIP/2.0", cid, "1 ACK", src=src, branch=f"t{k}",
                            to_user=number), src, CARRIER)]


def test_a_pbx_trunk_calling_many_numbers_with_a_few_404_is_not_a_scan(tmp_path) -> None:
    """40 calls of an office's PBX trunk to 40 numbers within 2 minutes, 3 of them unknown (404), the others
    busy: no security finding (sec.scanner-detected is the scanners' User-Agents; RULES.md names "an office NAT
    with many legitimate phones" among its pitfalls), the 404s named per number."""
    unknown = (5, 17, 33)
    msgs = [m for k in range(40)
            for m in invite(k, f"41555501{k:02d}", "404 Not Found" if k in unknown else "486 Busy Here")]
    path = cc.write_sip(tmp_path / "trunk.pcap", msgs)
    findings = sipdiag.analyze(path).findings
    assert {f.rule for f in findings} == {"call.failure-response"} and len(findings) == 40
    assert [(f.severity.label, f.evidence["callee"]) for f in findings if f.severity.label != "info"] == [
        ("minor", f"41555501{k:02d}") for k in unknown]
