"""Registrations (RFC 3261 §10): every REGISTER of one AOR + Contact binding, its challenges and how it ended."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .model import Registration
from .parsers.sip import SipMessage
from .parsers.sipheaders import parse_contact, parse_delta_seconds
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

    def add_request(self, msg: SipMessage, tx: TxState, retransmission: bool) -> None:
        self.last_frame = max(self.last_frame, msg.frame)
        if retransmission:
            return
        if tx not in self.transactions:
            self.transactions.append(tx)
        self.requested = requested_expires(msg)
        self.user_agent = self.user_agent or msg.user_agent

    def add_response(self, msg: SipMessage, tx: TxState, retransmission: bool) -> None:
        self.last_frame = max(self.last_frame, msg.frame)
        if tx not in self.transactions:
            self.transactions.append(tx)
        if not retransmission and msg.status_code and is_success(msg.status_code):
            self.granted[id(tx)] = granted_expires(msg, self.contact)
        self.user_agent = self.user_agent or None

    def build(self) -> Registration:
        txs = self.transactions
        challenges = sum(1 for t in txs for (code, _tag) in t.responses if is_auth_challenge(code))
        answered = [t for t in txs if t.final_status is not None]
        last = txs[-1]
        if last.final_status is None:
            outcome, final = "unanswered", None
        else:
            final = last.final_status
            outcome = "registered" if is_success(final) else "failed"
        successes = [t for t in answered if is_success(t.final_status or 0)]
        expires = self.granted.get(id(successes[-1])) if successes else None
        gaps = [(b.ts_ns - a.ts_ns) / 1e9 for a, b in zip(successes, successes[1:])]
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
            deregistration=self.requested == 0 or self.contact == "*",
            first_frame=self.first_frame,
            last_frame=self.last_frame,
            start_ns=self.start_ns,
            transactions=tuple(t.freeze() for t in txs),
        )


def registration_key(msg: SipMessage, aor: str) -> tuple[str, str]:
    return aor, contact_uri(msg)


def new_registration(msg: SipMessage, aor: str, contact: str) -> RegistrationBuilder:
    if msg.is_request:
        source, registrar = sender(msg), receiver(msg)
    else:
        source, registrar = receiver(msg), sender(msg)
    return RegistrationBuilder(aor, contact, msg.call_id or "", source, registrar, msg.frame, msg.ts_ns)
