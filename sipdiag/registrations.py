"""Registrations (RFC 3261 §10): every REGISTER of one AOR + Contact binding, its challenges and how it ended."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .addresses import join_hostport
from .clocksteps import NO_STEPS, ClockSteps
from .model import DigestInfo, RefusalHeaders, RegisterExchange, Registration, RetryAfter, asks_removal
from .parsers.sip import SipMessage
from .parsers.sipheaders import (
    DigestChallenge, parse_contact, parse_delta_seconds, parse_digest, parse_max_forwards, parse_retry_after,
    parse_via, retry_after_head,
)
from .transactions import TxState, is_auth_challenge, is_success, receiver, sender


def contact_uri(msg: SipMessage) -> str:
    """The binding's Contact URI without parameters, `*` for remove-all, "" for a query (no Contact)."""
    value = msg.headers.get("contact")
    if not value:
        return ""
    c = parse_contact(value)
    if c is None:
        return value.strip()[:200]
    if c.star:
        return "*"
    return c.address.uri_text if c.address else value.strip()[:200]


def requested_expires(msg: SipMessage) -> int | None:
    """Contact expires= wins over the Expires header (RFC 3261 §10.2.1.1)."""
    value = msg.headers.get("contact")
    c = parse_contact(value) if value else None
    if c is not None and c.expires is not None:
        return c.expires
    return parse_delta_seconds(msg.headers.get("expires"))


def granted_expires(msg: SipMessage, contact: str) -> int | None:
    """The registrar's 2xx lists every binding with its expiry (RFC 3261 §10.3 step 8): ours, else the first."""
    values = msg.headers.get_all("contact")
    first = None
    for v in values:
        c = parse_contact(v)
        if c is None or c.address is None:
            continue
        first = c.expires if first is None else first
        if c.address.uri_text == contact and c.expires is not None:
            return c.expires
    return first if first is not None else parse_delta_seconds(msg.headers.get("expires"))


MAX_RETURNED_CONTACTS = 20
_CUT = 200
MAX_OPTION_TAGS, _TAG_CUT = 8, 40
# A Retry-After over a day is kept as a day: no overload or maintenance a registration waits out is longer (a
# binding's default lifetime is an hour, RFC 3261 §10.2.1.1), so a larger value is a misconfigured or hostile
# registrar's, quoted as written and named as capped
RETRY_AFTER_CAP_S = 86_400


def _cut(value: str | None) -> str | None:
    return value[:_CUT] if value is not None else None


def digest_info(msg: SipMessage, names: tuple[str, ...]) -> DigestInfo | None:
    """The first digest challenge or credentials of a message, from the first of `names` present."""
    for name in names:
        value = msg.headers.get(name)
        if not value:
            continue
        return _digest(name, value)
    return None


# the challenges or credentials of a message kept: one per realm and algorithm is a handful (RFC 3261 §22.3,
# RFC 8760 §2.4); a hostile message's hundred headers are not kept
MAX_DIGESTS = 4


def all_digests(msg: SipMessage, names: tuple[str, ...]) -> tuple[DigestInfo, ...]:
    """Every digest challenge or credentials of a message, the headers of `names` in that order (the first
    MAX_DIGESTS that parse)."""
    out = []
    for name in names:
        for value in msg.headers.get_all(name):
            d = _digest(name, value) if value else None
            if d is not None:
                out.append(d)
            if len(out) == MAX_DIGESTS:
                return tuple(out)
    return tuple(out)


_CREDENTIALS = ("authorization", "proxy-authorization")
_CHALLENGES = ("www-authenticate", "proxy-authenticate")


def _every(msg: SipMessage, names: tuple[str, ...], first: DigestInfo | None) -> tuple[DigestInfo, ...]:
    """all_digests of a message whose `first` (digest_info's) is known: that one alone, not parsed again, for the
    single header of nearly every message; else every one, the first the very object `first` when they match."""
    if sum(msg.headers.count(name) for name in names) <= 1:
        return (first,) if first is not None else ()
    found = all_digests(msg, names)
    return (first, *found[1:]) if first is not None and found and found[0] == first else found


def _digest(name: str, value: str) -> DigestInfo | None:
    d = parse_digest(value, credentials=name.endswith("authorization"))
    if d is None:
        return None
    if isinstance(d, DigestChallenge):
        return DigestInfo(name, _cut(d.realm), _cut(d.nonce), _cut(d.algorithm), _cut(",".join(d.qop) or None),
                          stale=d.stale)
    return DigestInfo(name, _cut(d.realm), _cut(d.nonce), _cut(d.algorithm), _cut(d.qop),
                      username=_cut(d.username), uri=_cut(d.uri))


def _sent_by(msg: SipMessage) -> str | None:
    """The top Via's sent-by `host:port` (port as written; absent means the transport default)."""
    value = msg.headers.get("via")
    via = parse_via(value) if value else None
    if via is None:
        return None
    return join_hostport(via.host, via.port)


def returned_contacts(msg: SipMessage) -> tuple[str, ...]:
    """The Contact URIs a registrar's 2xx lists (RFC 3261 §10.3 step 8): every current binding of the AOR."""
    out = []
    for v in msg.headers.get_all("contact")[:MAX_RETURNED_CONTACTS]:
        c = parse_contact(v)
        if c is not None and c.address is not None:
            out.append(c.address.uri_text[:_CUT])
    return tuple(out)


def retry_after(value: str | None) -> RetryAfter | None:
    """A Retry-After (RFC 3261 §20.33) as the rules read it (reg.server-error, call.failure-response): its seconds,
    capped at RETRY_AFTER_CAP_S (digits beyond 2**32-1 too), or None for a value that is no delta-seconds (`soon`,
    `-5`, `1e3`), which no device can honour; None for no header."""
    if value is None:
        return None
    seconds = parse_retry_after(value)
    head = retry_after_head(value)
    capped = (seconds is None and head.isascii() and head.isdigit()) or (seconds or 0) > RETRY_AFTER_CAP_S
    return RetryAfter(RETRY_AFTER_CAP_S if capped else seconds, value.strip()[:_CUT], capped)


def refusal_headers(msg: SipMessage) -> RefusalHeaders:
    """What a final refusal says of itself beside its code (reg.rejected, reg.server-error): Server, the first
    Warning and Reason, the option tags of a 420 (Unsupported, RFC 3261 §20.40) or a 421 (Require, §20.32), and
    Retry-After (§20.33). Bounded: a registrar's answer is hostile input like any other."""
    name = {420: "unsupported", 421: "require"}.get(msg.status_code or 0)
    tags = tuple(t[:_TAG_CUT] for t in msg.headers.get_all(name)[:MAX_OPTION_TAGS]) if name else ()
    return RefusalHeaders(_cut(msg.headers.get("server")), _cut(msg.headers.get("warning")),
                          _cut(msg.headers.get("reason")), tags, retry_after(msg.headers.get("retry-after")))


@dataclass(eq=False)
class _Exchange:
    """A RegisterExchange while the capture is read."""

    frame: int | None
    ts_ns: int
    call_id: str
    cseq: int | None
    source: str
    destination: str
    via_sent_by: str | None = None
    request_uri: str | None = None
    contact: str = ""
    requested: int | None = None
    credentials: DigestInfo | None = None
    challenge: DigestInfo | None = None
    all_credentials: tuple[DigestInfo, ...] = ()
    all_challenges: tuple[DigestInfo, ...] = ()
    min_expires: int | None = None
    granted: int | None = None
    returned: tuple[str, ...] = ()
    max_forwards: int | None = None
    refusal: RefusalHeaders | None = None

    def freeze(self, tx: TxState) -> RegisterExchange:
        final = tx.final_status
        frame = ts = None
        if final is not None:
            hit = next(((f, t) for (code, _tag), (f, t) in tx.responses.items() if code == final), None)
            frame, ts = hit if hit else (None, None)
        return RegisterExchange(
            frame=self.frame if self.frame is not None else tx.request_frame, ts_ns=self.ts_ns,
            call_id=self.call_id, cseq=self.cseq, source=self.source, via_sent_by=self.via_sent_by,
            request_uri=self.request_uri, contact=self.contact, requested_expires_s=self.requested,
            credentials=self.credentials, status=final, response_frame=frame, response_ts_ns=ts,
            challenge=self.challenge, min_expires_s=self.min_expires, granted_expires_s=self.granted,
            returned_contacts=self.returned, max_forwards=self.max_forwards, refusal=self.refusal,
            destination=self.destination, all_credentials=self.all_credentials, all_challenges=self.all_challenges)


@dataclass(eq=False)
class RegistrationBuilder:
    aor: str
    contact: str
    call_id: str
    source: str
    registrar: str
    first_frame: int
    start_ns: int
    user_agent: str | None = None
    transactions: list[TxState] = field(default_factory=list)
    last_frame: int = 0
    requested: int | None = None
    granted: dict[int, int | None] = field(default_factory=dict)  # id(tx) -> granted expires
    exchanges: dict[int, _Exchange] = field(default_factory=dict)  # id(tx) -> what the rules compare

    def _exchange(self, msg: SipMessage, tx: TxState) -> _Exchange:
        ex = self.exchanges.get(id(tx))
        if ex is None:
            ex = self.exchanges[id(tx)] = _Exchange(tx.request_frame, tx.ts_ns, msg.call_id or "", tx.cseq,
                                                    tx.src, tx.dst)
        return ex

    def add_request(self, msg: SipMessage, tx: TxState, retransmission: bool) -> None:
        self.last_frame = max(self.last_frame, msg.frame)
        if retransmission:
            return
        if tx not in self.transactions:
            self.transactions.append(tx)
        self.requested = requested_expires(msg)
        self.user_agent = self.user_agent or msg.user_agent
        ex = self._exchange(msg, tx)
        ex.frame, ex.ts_ns = msg.frame, msg.ts_ns
        ex.via_sent_by, ex.request_uri = _sent_by(msg), _cut(msg.request_uri)
        ex.contact, ex.requested = contact_uri(msg), self.requested
        ex.credentials = digest_info(msg, _CREDENTIALS)
        ex.all_credentials = _every(msg, _CREDENTIALS, ex.credentials)
        ex.max_forwards = parse_max_forwards(msg.headers.get("max-forwards"))

    def add_response(self, msg: SipMessage, tx: TxState, retransmission: bool) -> None:
        self.last_frame = max(self.last_frame, msg.frame)
        if tx not in self.transactions:
            self.transactions.append(tx)
        code = msg.status_code or 0
        if not retransmission and code:
            ex = self._exchange(msg, tx)
            if is_success(code):
                self.granted[id(tx)] = ex.granted = granted_expires(msg, self.contact)
                ex.returned = returned_contacts(msg)
            elif is_auth_challenge(code):
                ex.challenge = digest_info(msg, _CHALLENGES)
                ex.all_challenges = _every(msg, _CHALLENGES, ex.challenge)
            elif code == 423:  # Interval Too Brief (RFC 3261 §10.3 step 7, §21.4.17)
                ex.min_expires = parse_delta_seconds(msg.headers.get("min-expires"))
            if code >= 300 and not is_auth_challenge(code):
                # not kept for challenges: they are the bulk of an attack's answers, and carry the digest instead
                ex.refusal = refusal_headers(msg)
        self.user_agent = self.user_agent or None

    def build(self, clock: ClockSteps = NO_STEPS) -> Registration:
        """clock: where the capture's clock steps; no refresh interval is measured across a step."""
        txs = self.transactions
        challenges = sum(1 for t in txs for (code, _tag) in t.responses if is_auth_challenge(code))
        answered = [t for t in txs if t.final_status is not None]
        last = txs[-1]
        # the last REGISTER asked to remove the binding: its 2xx removed it (RFC 3261 §10.2.2, §10.3 step 6)
        removal = asks_removal(self.requested, self.contact)
        if last.final_status is None:
            outcome, final = "unanswered", None
        else:
            final = last.final_status
            outcome = "failed" if not is_success(final) else "deregistered" if removal else "registered"
        successes = [t for t in answered if is_success(t.final_status or 0)]
        expires = self.granted.get(id(successes[-1])) if successes else None
        # A de-registration (expires 0, RFC 3261 §10.2.2) removes the binding: it is not a refresh (§10.2.4), so
        # the refresh interval is read between accepted REGISTERs that add or refresh it.
        refreshes = [t for t in successes if not self._removes(t)]
        gaps = [ns / 1e9 for a, b in zip(refreshes, refreshes[1:])
                if (ns := clock.elapsed_ns(a.ts_frame, a.ts_ns, b.ts_frame, b.ts_ns)) is not None]
        return Registration(
            aor=self.aor,
            contact=self.contact,
            call_id=self.call_id,
            source=self.source,
            registrar=self.registrar,
            user_agent=self.user_agent,
            attempts=sum(1 for t in txs if t.request_frame is not None),
            challenges=challenges,
            outcome=outcome,
            final_status=final,
            requested_expires_s=self.requested,
            expires_s=expires,
            refresh_interval_s=round(statistics.median(gaps), 3) if gaps else None,
            deregistration=removal,
            first_frame=self.first_frame,
            last_frame=self.last_frame,
            start_ns=self.start_ns,
            transactions=tuple(t.freeze() for t in txs),
            exchanges=tuple(self.exchanges[id(t)].freeze(t) for t in txs if id(t) in self.exchanges),
        )

    def _removes(self, tx: TxState) -> bool:
        """The REGISTER of `tx` asked to remove the binding: expires 0 or Contact `*` (RFC 3261 §10.2.2)."""
        ex = self.exchanges.get(id(tx))
        return ex is not None and ex.frame is not None and asks_removal(ex.requested, ex.contact)


def registration_key(msg: SipMessage, aor: str) -> tuple[str, str]:
    return aor, contact_uri(msg)


def new_registration(msg: SipMessage, aor: str, contact: str) -> RegistrationBuilder:
    if msg.is_request:
        source, registrar = sender(msg), receiver(msg)
    else:
        source, registrar = receiver(msg), sender(msg)
    return RegistrationBuilder(aor, contact, msg.call_id or "", source, registrar, msg.frame, msg.ts_ns)
