"""Which answers to a REGISTER refuse the digest credentials it carried (RULES.md reg.auth-loop): what reg.auth-loop
counts as refusals, and what makes a customer's line one that cannot sign in (sipdiag.cases.lines).

A 401/407 to a REGISTER with credentials is their refusal only when it challenges what they answered:
- stale=true says the credentials were right and only the nonce was old (RFC 7616 §3.3, RFC 3261 §22.4);
- a 401 asks for Authorization, a 407 for Proxy-Authorization (RFC 3261 §22.2, §22.3), each per realm: a proxy's
  407 answered, the request goes on to the registrar, whose 401 asks for its own credentials, in its realm or the
  same one. That is the next step of a two-stage sign-in, not a refusal: only a challenge of the kind and realm of
  the credentials sent, or of the challenge they answered (credentials for another realm than the one asked for:
  the realm sub-diagnosis), refuses them;
- credentials without a nonce answer no challenge: an IMS phone's first REGISTER carries its user and realm so
  (3GPP TS 24.229 §5.1.1.2.1), and the 401 to it is the first step of the sign-in.
A 403 to credentials refuses them whatever it says (RFC 3261 §21.4.4).

Credentials that answer no challenge of the capture since the last 2xx may have been refused for their nonce alone
by a server that does not say stale=true, and the phone then answers the new challenge at once: a nonce kept from
an earlier challenge, one a 2xx accepted and the phone sends again with its refresh (RFC 3261 §22.1 lets it reuse
credentials; RFC 7616 §3.3 lets the server expire the nonce), or one whose challenge the capture does not show.
Such a refusal is OLD_NONCE, which the single-refusal case of reg.auth-loop and the lines count only once the phone
has left the new challenge for Timer F.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import DigestInfo, RegisterExchange

REFUSED, OLD_NONCE = "refused", "old-nonce"
# the credentials header that answers each challenge header (RFC 3261 §22.2, §22.3)
_ANSWER = {"www-authenticate": "authorization", "proxy-authenticate": "proxy-authorization"}
_ASKED_BY = {401: "authorization", 407: "proxy-authorization"}

# (credentials header a challenge asks for, realm) -> that challenge's entries of the latest answer carrying it
Asked = dict[tuple[str, "str | None"], tuple["DigestInfo", ...]]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Credentials refused: the REGISTER, how surely (REFUSED or OLD_NONCE), the credentials refused and the
    challenge they answered (its entries, one per algorithm; () when the capture does not show it)."""

    exchange: RegisterExchange
    kind: str
    credentials: DigestInfo
    answered: tuple[DigestInfo, ...]


def credentials_of(ex: RegisterExchange) -> tuple[DigestInfo, ...]:
    return ex.all_credentials or ((ex.credentials,) if ex.credentials is not None else ())


def challenges_of(ex: RegisterExchange) -> tuple[DigestInfo, ...]:
    return ex.all_challenges or ((ex.challenge,) if ex.challenge is not None else ())


def judged(exchanges: Iterable[RegisterExchange], *, deregistrations: bool = False
           ) -> list[tuple[RegisterExchange, Refusal | None]]:
    """The REGISTER exchanges of one AOR and device in time order, each with its refusal (None: not one). Each
    credentials answer the latest challenge of their kind and realm before them, since the last 2xx.
    deregistrations: judge the credentials of de-registrations too (see refusal)."""
    asked: Asked = {}
    out: list[tuple[RegisterExchange, Refusal | None]] = []
    for ex in sorted(exchanges, key=lambda e: e.ts_ns):
        out.append((ex, refusal(ex, asked, deregistrations=deregistrations)))
        if ex.status is not None and 200 <= ex.status < 300:
            asked = {}  # its nonces answered: sent again, they are a refresh's reuse, not an answer
            continue
        challenges = challenges_of(ex)
        for key in {(_ANSWER.get(c.header, c.header), c.realm) for c in challenges}:
            asked[key] = tuple(c for c in challenges if (_ANSWER.get(c.header, c.header), c.realm) == key)
    return out


def refusal(ex: RegisterExchange, asked: Asked, *, deregistrations: bool = False) -> Refusal | None:
    """Whether the answer to `ex` refuses its credentials (see the module's docstring); `asked`: the challenges
    before it (judged). A refused de-registration is no sign-in refused (reg.rejected's, at minor) and is None,
    unless `deregistrations`: its credentials were refused all the same, which is what sec.bruteforce-auth counts
    (a guesser may send each password with Expires: 0)."""
    if ex.status not in (401, 403, 407):
        return None
    if not deregistrations and (ex.requested_expires_s == 0 or ex.contact == "*"):
        return None
    sent = [c for c in credentials_of(ex) if c.nonce]
    if not sent:
        return None
    if ex.status == 403:
        cred = sent[0]
        return Refusal(ex, REFUSED, cred, _answered(asked, cred.header, cred.realm))
    new = challenges_of(ex)
    if any(c.stale for c in new):
        return None
    wanted = _ASKED_BY[ex.status]
    realms = {c.realm for c in new if c.realm is not None}
    mine = [c for c in sent if c.header == wanted]
    cred = next((c for c in mine if c.realm in realms), None)
    if cred is not None:
        answered = _answered(asked, wanted, cred.realm)
    elif not realms:  # the answer names no realm: whatever was sent for it is refused, as far as can be told
        cred = mine[0] if mine else sent[0]
        answered = _answered(asked, wanted, cred.realm)
    else:
        again = [asked[(wanted, realm)] for realm in sorted(realms) if (wanted, realm) in asked]
        if not again:
            return None  # a challenge for what was not asked before: the next hop's (RFC 3261 §22.3)
        # asked again what the phone was asked before: its answer was refused, credentials for another realm (or
        # under the other header)
        cred, answered = (mine[0] if mine else sent[0]), again[0]
    kind = REFUSED if cred.nonce in {c.nonce for c in answered} else OLD_NONCE
    return Refusal(ex, kind, cred, answered)


def _answered(asked: Asked, header: str, realm: str | None) -> tuple[DigestInfo, ...]:
    """The challenge credentials of `header` and `realm` answer: the latest one for that realm, else the only
    realm the phone was asked for under that header (its credentials name another)."""
    if (header, realm) in asked:
        return asked[(header, realm)]
    others = [v for (h, _r), v in asked.items() if h == header]
    return others[0] if len(others) == 1 else ()
