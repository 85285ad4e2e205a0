"""sec.bruteforce-auth counts as failed authentications the answers that refuse the credentials they answer
(sipdiag.checks.digestrefusal, as reg.auth-loop judges them), not every 401/407 to a REGISTER that carried some: a
proxy's 407 then the registrar's 401 for its own realm is the next step of a two-stage sign-in (RFC 3261 §22.3),
and a challenge that only renews a nonce the phone then answers at once is no refusal of its password (RFC 7616
§3.3). A phone signing in so a few times a minute was a password guesser, critical since its 2xx "followed the
failures". A guesser, answering each challenge with another password or replaying an old nonce, still is one.
Captures built with tests/callcapture.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import sipdiag
from tests import callcapture as cc

PHONE, REGISTRAR = ("198.51.100.7", 40000), ("203.0.113.5", 5060)
OWN = "198.51.100.7:40000"  # the phone's own address in its Via and Contact: no NAT findings beside
PROXY_REALM = "proxy.example.com"
OK = "200 OK"
EVERY_S, SIGN_INS = 4.0, 15  # a sign-in every 4 s for a minute: 15 a minute, past the rate trigger's 10


def request(t: float, cseq: int, **headers) -> tuple:
    """Line 100's REGISTER (one Call-ID, CSeq counting up, RFC 3261 §10.2), `headers` as register_text takes them
    (auth, proxy_auth)."""
    return (t, cc.register_text(cseq, f"b{cseq}", contact=f"sip:100@{OWN}", call_id="reg-100", via=OWN, **headers),
            PHONE, REGISTRAR)


def answer(t: float, cseq: int, status: str, headers: str = "") -> tuple:
    if status == OK:
        headers += f"Contact: <sip:100@{OWN}>;expires=300\n"
    return (t, cc.register_response(cseq, f"b{cseq}", status, headers=headers, call_id="reg-100", via=OWN),
            REGISTRAR, PHONE)


def proxy_challenge(nonce: str) -> str:
    return cc.challenge(nonce, realm=PROXY_REALM, proxy=True)


def proxy_credentials(nonce: str) -> str:
    return cc.credentials(nonce, realm=PROXY_REALM)


def guessed(nonce: str, k: int) -> str:
    """Credentials for line 100 answering `nonce` with the k-th password tried (another digest response each)."""
    return cc.credentials(nonce).replace("0123456789abcdef0123456789abcdef", f"{k:032x}")


def two_stage_sign_ins() -> list:
    """The phone signing in SIGN_INS times, EVERY_S apart, through an outbound proxy (RFC 3261 §22.3): REGISTER,
    the proxy's 407 (realm proxy.example.com), Proxy-Authorization, the registrar's 401 (realm example.com), both
    credentials, 200."""
    msgs = []
    for k in range(SIGN_INS):
        t, cseq = k * EVERY_S, 3 * k + 1
        proxy = proxy_credentials(f"p{k}")
        msgs += [request(t, cseq),
                 answer(t + 0.05, cseq, "407 Proxy Authentication Required", proxy_challenge(f"p{k}")),
                 request(t + 0.1, cseq + 1, proxy_auth=proxy),
                 answer(t + 0.15, cseq + 1, "401 Unauthorized", cc.challenge(f"r{k}")),
                 request(t + 0.2, cseq + 2, proxy_auth=proxy, auth=cc.credentials(f"r{k}")),
                 answer(t + 0.25, cseq + 2, OK)]
    return msgs


def renewed_refreshes() -> list:
    """The phone signed in (two-stage, nonces p0 and r0), then refreshing SIGN_INS times, EVERY_S apart, with the
    nonces it was accepted with (RFC 3261 §22.1 lets it reuse them); the proxy and then the registrar renew theirs
    without stale=true (407, 401), the phone answers each new nonce at once and is accepted."""
    msgs = [request(0.0, 1), answer(0.05, 1, "407 Proxy Authentication Required", proxy_challenge("p0")),
            request(0.1, 2, proxy_auth=proxy_credentials("p0")),
            answer(0.15, 2, "401 Unauthorized", cc.challenge("r0")),
            request(0.2, 3, proxy_auth=proxy_credentials("p0"), auth=cc.credentials("r0")), answer(0.25, 3, OK)]
    for k in range(1, SIGN_INS + 1):
        t, cseq = k * EVERY_S, 3 * k + 1
        old_proxy, new_proxy = proxy_credentials(f"p{k - 1}"), proxy_credentials(f"p{k}")
        msgs += [request(t, cseq, proxy_auth=old_proxy, auth=cc.credentials(f"r{k - 1}")),
                 answer(t + 0.05, cseq, "407 Proxy Authentication Required", proxy_challenge(f"p{k}")),
                 request(t + 0.1, cseq + 1, proxy_auth=new_proxy, auth=cc.credentials(f"r{k - 1}")),
                 answer(t + 0.15, cseq + 1, "401 Unauthorized", cc.challenge(f"r{k}")),
                 request(t + 0.2, cseq + 2, proxy_auth=new_proxy, auth=cc.credentials(f"r{k}")),
                 answer(t + 0.25, cseq + 2, OK)]
    return msgs


def analysed(tmp_path: Path, name: str, msgs: list):
    return sipdiag.analyze(cc.write_sip(tmp_path / f"{name}.pcap", sorted(msgs, key=lambda m: m[0])))


@pytest.mark.parametrize("name", ["two-stage", "renewed"])
def test_a_phone_signing_in_through_a_proxy_again_and_again_guesses_no_password(tmp_path, name: str) -> None:
    """15 two-stage sign-ins in a minute: each the proxy's 407 answered, then the registrar's 401 answered, then
    200. The 401 to the Proxy-Authorization counted as a failed authentication: 15 failures a minute, then a 2xx,
    a critical sec.bruteforce-auth against a working phone. Nor are 15 refreshes a minute whose old nonces the
    proxy and the registrar renew (each answered at once, accepted) 30 failures."""
    a = analysed(tmp_path, name, two_stage_sign_ins() if name == "two-stage" else renewed_refreshes())
    assert [(f.rule, f.severity.label) for f in a.findings] == []
    # one binding, signed in (or refreshed) 15 times past the sign-in, 3 REGISTERs and 2 challenges each
    sign_ins = SIGN_INS if name == "two-stage" else SIGN_INS + 1
    assert [(r.outcome, r.attempts, r.challenges) for r in a.registrations] == [
        ("registered", 3 * sign_ins, 2 * sign_ins)]


def guesses(nonce, send=request) -> list:
    """A REGISTER without credentials and its 401, then 12 passwords 3 s apart, the k-th answering nonce(k), each
    refused with a new challenge; `send` makes the REGISTERs (request's arguments)."""
    msgs = [send(0.0, 1), answer(0.05, 1, "401 Unauthorized", cc.challenge("n0"))]
    for k in range(12):
        t, cseq = 3.0 * k + 0.1, k + 2
        msgs += [send(t, cseq, auth=guessed(nonce(k), k)),
                 answer(t + 0.05, cseq, "401 Unauthorized", cc.challenge(f"n{k + 1}"))]
    return msgs


def the_guesser(a) -> tuple:
    (f,) = [f for f in a.findings if f.rule == "sec.bruteforce-auth"]
    return (f.severity.label, f.evidence["source"], f.evidence["failures"], f.evidence["users"], f.evidence["rate"],
            f.evidence["frame"], f.frames[:4], len(f.frames))


def test_a_guesser_answering_each_challenge_with_another_password_is_still_found(tmp_path) -> None:
    """The same user, 12 passwords in 33 s, each answering the registrar's latest nonce and refused with a new
    challenge: 12 failures (the credential-less REGISTER's 401 is no failure), 12 a minute. Its REGISTERs keep one
    Call-ID, but 3 s apart they are no device's retry timer."""
    a = analysed(tmp_path, "guesser", guesses(lambda k: f"n{k}"))
    assert [(f.rule, f.severity.label) for f in a.findings] == [("sec.bruteforce-auth", "major")]
    assert the_guesser(a) == ("major", "198.51.100.7", 12, 1, 12.0, 3, (3, 5, 7, 9), 12)


def test_a_guesser_replaying_an_old_nonce_still_fails(tmp_path) -> None:
    """Credentials answering an old nonce (digestrefusal.OLD_NONCE) count: a guesser that keeps the first nonce it
    was given and tries 12 passwords with it, never answering the new challenges, fails 12 times. It is the answer
    of each new challenge, accepted, that makes an old-nonce refusal a renewal (above)."""
    msgs = guesses(lambda k: "n0")
    a = analysed(tmp_path, "replayer", msgs)
    assert [(f.rule, f.severity.label) for f in a.findings] == [("sec.bruteforce-auth", "major")]
    assert the_guesser(a) == ("major", "198.51.100.7", 12, 1, 12.0, 3, (3, 5, 7, 9), 12)
    # the one whose last guess is accepted got in: critical, the 11 refused guesses before it the failures
    msgs[-1] = answer(33.15, 13, OK)
    a = analysed(tmp_path, "replayer-in", msgs)
    assert [(f.rule, f.severity.label) for f in a.findings] == [("sec.bruteforce-auth", "critical")]
    assert the_guesser(a) == ("critical", "198.51.100.7", 11, 1, 11.0, 3, (3, 5, 7, 9), 12)


def test_a_guesser_trying_passwords_with_de_registrations_still_fails(tmp_path) -> None:
    """A refused de-registration is no sign-in refused for reg.auth-loop (reg.rejected's, at minor), but its
    credentials were refused all the same: a guesser sending each password in a REGISTER with Expires: 0 (which
    would remove no binding if it were right, and so goes unnoticed by the line) fails 12 times."""
    def deregister(t: float, cseq: int, auth: str | None = None) -> tuple:  # as request, with Expires: 0
        return (t, cc.register_text(cseq, f"b{cseq}", contact=f"sip:100@{OWN}", call_id="reg-100", via=OWN,
                                    expires=0, auth=auth), PHONE, REGISTRAR)

    a = analysed(tmp_path, "deregistering", guesses(lambda k: f"n{k}", send=deregister))
    assert the_guesser(a) == ("major", "198.51.100.7", 12, 1, 12.0, 3, (3, 5, 7, 9), 12)
