"""Routes each SIP message to its call, registration or stand-alone transaction, then links B2BUA legs.

    correlator = Correlator()
    for msg in messages:          # frame order
        correlator.add(msg)
    result = correlator.finish(capture_end_ns)

OPTIONS keep-alives, SUBSCRIBE/NOTIFY, MESSAGE, PUBLISH and out-of-dialog INFO are kept as transactions, not
treated as calls.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .addresses import address_host
from .dialogs import CORRELATION_HEADERS, CallBuilder
from .model import Call, CallLeg, Registration, Transaction
from .parsers.anomalies import AnomalyLog
from .parsers.sip import SipMessage
from .registrations import RegistrationBuilder, contact_uri, new_registration
from .dialogs import uri_of
from .transactions import TransactionTable, TxState

# Requests that exist only inside an INVITE dialog: one without its INVITE means the capture began mid-call.
INVITE_DIALOG_METHODS = ("BYE", "ACK", "PRACK", "UPDATE", "INVITE", "CANCEL")
EXPIRE_EVERY = 2000  # messages between two sweeps of finished transactions
LEG_WINDOW_NS = 2 * 10**9  # B2BUA legs start within this of each other
# A B2BUA or SBC captured on both sides passes the answer and the BYE from one leg to the other within
# milliseconds; two calls to the same number answered and ended within this of each other are its two legs.
LEG_EVENT_NS = 10**9


@dataclass(frozen=True, slots=True)
class Correlation:
    calls: tuple[Call, ...]
    registrations: tuple[Registration, ...]
    transactions: tuple[Transaction, ...]  # stand-alone: OPTIONS, SUBSCRIBE, NOTIFY, MESSAGE, PUBLISH, INFO...


class Correlator:
    """log: where the defects of the SDP bodies that calls parse go (sipdiag.parsers.anomalies; the caller's run
    log, bounded); None drops them (a caller that only wants the calls)."""

    def __init__(self, log: AnomalyLog | None = None) -> None:
        self.log = log
        self.table = TransactionTable()
        self.calls: dict[str, CallBuilder] = {}
        self.registrations: dict[tuple[str, str], RegistrationBuilder] = {}
        self.registration_of: dict[int, RegistrationBuilder] = {}  # id(TxState) -> registration
        self.other: dict[int, TxState] = {}
        self.count = 0

    def add(self, msg: SipMessage) -> None:
        self.count += 1
        if self.count % EXPIRE_EVERY == 0:
            self.table.expire(msg.ts_ns)
        tx, retransmission = self.table.add(msg)
        call_id = msg.call_id or ""
        method = tx.method
        if method == "REGISTER":
            self._register(msg, tx, retransmission)
            return
        call = self.calls.get(call_id)
        if call is None and (method == "INVITE" or (method in INVITE_DIALOG_METHODS and msg.to_tag)):
            seen_from_start = msg.is_request and method == "INVITE" and msg.to_tag is None
            call = self.calls[call_id] = CallBuilder(call_id, msg, seen_from_start, caller_tag=msg.from_tag)
        if call is not None:
            call.add(msg, tx, retransmission, self.log)
            if not msg.is_request and call.complete():
                call.built = call.build(msg.ts_ns)
            return
        self.other.setdefault(id(tx), tx)

    def _register(self, msg: SipMessage, tx: TxState, retransmission: bool) -> None:
        reg = self.registration_of.get(id(tx))
        if reg is None:
            aor = uri_of(msg.headers.get("to"))[0]
            key = (aor, contact_uri(msg) if msg.is_request else "")
            reg = self.registrations.get(key)
            if reg is None and not msg.is_request:
                # A response without its REGISTER in the capture: file it under any binding of that AOR.
                reg = next((r for (a, _), r in self.registrations.items() if a == aor), None)
            if reg is None:
                reg = self.registrations[key] = new_registration(msg, aor, key[1])
            self.registration_of[id(tx)] = reg
        if msg.is_request:
            reg.add_request(msg, tx, retransmission)
        else:
            reg.add_response(msg, tx, retransmission)

    def finish(self, capture_end_ns: int) -> Correlation:
        calls = link_legs([c.built or c.build(capture_end_ns) for c in self.calls.values()],
                          {c.call_id: c.correlation_headers for c in self.calls.values()})
        registrations = tuple(r.build() for r in self.registrations.values())
        other = tuple(t.freeze() for t in self.other.values())
        return Correlation(tuple(sorted(calls, key=lambda c: c.first_frame)),
                           tuple(sorted(registrations, key=lambda r: r.first_frame)), other)


_DIGITS = re.compile(r"\D")


def number_key(uri: str) -> str:
    """The user part as digits, last 9 kept, so +7 495..., 8495... and 495... compare equal."""
    user = uri.split("@", 1)[0]
    digits = _DIGITS.sub("", user)
    return digits[-9:] if len(digits) >= 6 else user.lower()


def link_legs(calls: list[Call], headers: dict[str, dict[str, str]]) -> list[Call]:
    """B2BUA leg correlation: first by a header naming the other leg's Call-ID; else by the same callee number,
    starts within 2 s, and one leg's callee address being the other leg's caller address (the B2BUA); else by the
    same callee number, starts within 2 s, from and to other hosts, and both answered and ended (BYE) within 1 s of
    each other (an SBC whose two sides have different addresses, RFC 7092 §3.1: a B2BUA passes the answer and the
    BYE on at once)."""
    by_id = {c.call_id: c for c in calls}
    links: dict[str, dict[str, str]] = {c.call_id: {} for c in calls}
    for call_id, found in headers.items():
        for name, value in found.items():
            other = value.split(";", 1)[0].strip()
            if other in by_id and other != call_id:
                rule = f"header {_header_name(name)}"
                links[call_id].setdefault(other, rule)
                links[other].setdefault(call_id, rule)
    ordered = sorted((c for c in calls if c.seen_from_start), key=lambda c: c.start_ns)
    numbers = {c.call_id: number_key(c.callee) for c in ordered}
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start_ns - a.start_ns > LEG_WINDOW_NS:
                break
            if links[a.call_id] and links[b.call_id]:
                continue
            if (numbers[a.call_id] == numbers[b.call_id]
                    and address_host(a.callee_address) == address_host(b.caller_address)
                    and address_host(a.caller_address) != address_host(b.callee_address)):
                rule = "same callee, start within 2 s, through the B2BUA's address"
                links[a.call_id].setdefault(b.call_id, rule)
                links[b.call_id].setdefault(a.call_id, rule)
            elif (numbers[a.call_id] == numbers[b.call_id]
                    and address_host(a.caller_address) != address_host(b.caller_address)
                    and address_host(a.callee_address) != address_host(b.callee_address)
                    and _together(a, b)):
                rule = "same callee, start within 2 s, answered and ended within 1 s of each other"
                links[a.call_id].setdefault(b.call_id, rule)
                links[b.call_id].setdefault(a.call_id, rule)
    return [dataclasses.replace(c, legs=tuple(CallLeg(o, r) for o, r in links[c.call_id].items()))
            if links[c.call_id] else c for c in calls]


def _together(a: Call, b: Call) -> bool:
    """Both answered and ended by a BYE, the answers and the BYEs within LEG_EVENT_NS of each other."""
    (a_answer, a_bye), (b_answer, b_bye) = a.answer_and_bye_ns(), b.answer_and_bye_ns()
    if None in (a_answer, a_bye, b_answer, b_bye):
        return False
    return abs(a_answer - b_answer) <= LEG_EVENT_NS and abs(a_bye - b_bye) <= LEG_EVENT_NS


def _header_name(lower: str) -> str:
    return "-".join(p.upper() if len(p) <= 3 else p.capitalize() for p in lower.split("-"))


__all__ = ["Correlation", "Correlator", "CORRELATION_HEADERS", "link_legs", "number_key"]
