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
from bisect import bisect_right
from dataclasses import dataclass
from heapq import heapify, heappop, heappush

from .addresses import address_host
from .clocksteps import NO_STEPS, ClockSteps
from .dialogs import CORRELATION_HEADERS, CallBuilder
from .model import Call, CallLeg, Registration, Transaction
from .parsers.anomalies import AnomalyLog
from .parsers.sip import SipMessage
from .parsers.sipuri import same_uri
from .registrations import RegistrationBuilder, contact_uri, new_registration
from .dialogs import uri_of
from .siptimers import DEFAULT_TIMERS, SipTimers
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
    log, bounded); None drops them (a caller that only wants the calls). timers: the run's RFC 3261 T1 and T2
    (sipdiag.checks.timers.run_timers), by which transactions are kept and unanswered calls time out."""

    def __init__(self, log: AnomalyLog | None = None, timers: SipTimers = DEFAULT_TIMERS) -> None:
        self.log = log
        self.timers = timers
        self.table = TransactionTable(timers)
        self.calls: dict[str, CallBuilder] = {}
        self.registrations: dict[tuple[str, str], RegistrationBuilder] = {}
        self.registration_of: dict[int, RegistrationBuilder] = {}  # id(TxState) -> registration
        # AOR -> [(Contact, registration)], and the (AOR, Contact) keys written otherwise than their binding's
        self.contacts_of: dict[str, list[tuple[str, RegistrationBuilder]]] = {}
        self.same_binding: dict[tuple[str, str], RegistrationBuilder] = {}
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
            call = self.calls[call_id] = CallBuilder(call_id, msg, seen_from_start, caller_tag=msg.from_tag,
                                                     timers=self.timers)
        if call is not None:
            call.add(msg, tx, retransmission, self.log)
            if not msg.is_request and call.complete():
                call.built = call.build(msg.ts_ns)
            return
        self.other.setdefault(id(tx), tx)

    def _register(self, msg: SipMessage, tx: TxState, retransmission: bool) -> None:
        reg = self.registration_of.get(id(tx))
        if reg is None:
            # A registration is a binding, AOR + Contact (RFC 3261 §10), whatever the Call-IDs: a phone that
            # re-registers with a new Call-ID after a reboot keeps its one registration, two lines sent with one
            # Call-ID are two. The lab's tshark oracle counts them the same way (lab/facts.py registrations).
            aor = uri_of(msg.headers.get("to"))[0]
            key = (aor, contact_uri(msg) if msg.is_request else "")
            reg = self.registrations.get(key) or self.same_binding.get(key)
            if reg is None and msg.is_request and key[1]:
                # The registrar compares Contacts as URIs (RFC 3261 §10.3 step 7, §19.1.4): a parameter only one
                # of them carries (a phone's ;line= dropped from the REGISTER that answers a challenge) leaves
                # them one binding, not a second registration "failed" on a mere challenge.
                reg = next((r for c, r in self.contacts_of.get(aor, ()) if same_uri(c, key[1])), None)
                if reg is not None:
                    self.same_binding[key] = reg
            if reg is None and not msg.is_request:
                # A response without its REGISTER in the capture: file it under any binding of that AOR.
                reg = next((r for _, r in self.contacts_of.get(aor, ())), None)
            if reg is None:
                reg = self.registrations[key] = new_registration(msg, aor, key[1])
                self.contacts_of.setdefault(aor, []).append((key[1], reg))
            self.registration_of[id(tx)] = reg
        if msg.is_request:
            reg.add_request(msg, tx, retransmission)
        else:
            reg.add_response(msg, tx, retransmission)

    def finish(self, capture_end_ns: int, clock: ClockSteps = NO_STEPS, capture_end_frame: int | None = None
               ) -> Correlation:
        """clock, capture_end_frame: where the capture's clock stepped and its last frame (sipdiag.clocksteps).
        Calls complete before the end were built as they completed, when the steps were not all known yet (the
        capture side reports them at its end): where the clock stepped, every call is built again with them."""
        calls = link_legs([c.build(capture_end_ns, clock, capture_end_frame) if clock.stepped or not c.built
                           else c.built for c in self.calls.values()],
                          {c.call_id: c.correlation_headers for c in self.calls.values()}, clock)
        registrations = tuple(r.build(clock) for r in self.registrations.values())
        other = tuple(t.freeze() for t in self.other.values())
        return Correlation(tuple(sorted(calls, key=lambda c: c.first_frame)),
                           tuple(sorted(registrations, key=lambda r: r.first_frame)), other)


_DIGITS = re.compile(r"\D")


def number_key(uri: str) -> str:
    """The user part as digits, last 9 kept, so +7 495..., 8495... and 495... compare equal."""
    user = uri.split("@", 1)[0]
    digits = _DIGITS.sub("", user)
    return digits[-9:] if len(digits) >= 6 else user.lower()


def link_legs(calls: list[Call], headers: dict[str, dict[str, str]], clock: ClockSteps = NO_STEPS) -> list[Call]:
    """B2BUA leg correlation: first by a header naming the other leg's Call-ID; else by the same callee number,
    starts within 2 s, and one leg's callee address being the other leg's caller address (the B2BUA); else by the
    same callee number, starts within 2 s, from and to other hosts, and both answered and ended (BYE) within 1 s of
    each other (an SBC whose two sides have different addresses, RFC 7092 §3.1: a B2BUA passes the answer and the
    BYE on at once). clock: where the capture's clock stepped (sipdiag.clocksteps); two times with a step between
    their frames are not compared, so no timing rule links two calls across one (nor does a fake time keep it
    from linking others)."""
    by_id = {c.call_id: c for c in calls}
    links: dict[str, dict[str, str]] = {c.call_id: {} for c in calls}
    for call_id, found in headers.items():
        for name, value in found.items():
            other = value.split(";", 1)[0].strip()
            if other in by_id and other != call_id:
                rule = _HEADER + _header_name(name)
                links[call_id].setdefault(other, rule)
                links[other].setdefault(call_id, rule)
    ordered = sorted((c for c in calls if c.seen_from_start), key=lambda c: c.start_ns)
    _link_by_timing(ordered, links, clock)
    return [dataclasses.replace(c, legs=tuple(CallLeg(o, r) for o, r in links[c.call_id].items()))
            if links[c.call_id] else c for c in calls]


_BY_ADDRESS = "same callee, start within 2 s, through the B2BUA's address"
_BY_EVENTS = "same callee, start within 2 s, answered and ended within 1 s of each other"
_HEADER = "header "  # + the header's name
# The rules as the Russian notes name them (CallLeg.rule stays English: it is the evidence's and the reports').
_RULES_RU = {_BY_ADDRESS: "тот же вызываемый, начало в пределах 2 с, через адрес B2BUA",
             _BY_EVENTS: "тот же вызываемый, начало в пределах 2 с, ответ и завершение в пределах 1 с друг от друга"}


def leg_rule_ru(rule: str) -> str:
    """The Russian of a CallLeg.rule: "header X-CID" -> "заголовок X-CID"."""
    if rule.startswith(_HEADER):
        return "заголовок " + rule[len(_HEADER):]
    return _RULES_RU.get(rule, rule)


def _link_by_timing(ordered: list[Call], links: dict[str, dict[str, str]], clock: ClockSteps = NO_STEPS) -> None:
    """The two timing rules of link_legs over `ordered` (calls by start time). Their meaning is that of a pass over
    every pair (a, b), a before b and b starting within LEG_WINDOW_NS of a, in that order, that skips a pair whose
    calls both have a leg already and else links them by the first rule that holds:

        _BY_ADDRESS: same number, a's callee host is b's caller host, a's caller host is not b's callee host;
        _BY_EVENTS: same number, other caller hosts, other callee hosts, _together.

    Both rules compare times, the starts and for _BY_EVENTS the answers and the BYEs: each pair of those must have
    no clock step between its frames (clock.sound), else the rule does not hold (the times are the clock's error).

    That pass was O(n^2) in a burst of calls to one number (a scanner or a toll-fraud attempt: thousands of INVITEs
    a second, each rejected), and a pair without a rule that holds, or skipped, changes nothing. So for each a
    only the calls that can meet a rule are visited, in the same order: the calls from a's callee host to the same
    number (_Lane by number and caller host, those to a's own caller host jumped over), and if a was answered and
    ended, the answered and ended calls to the same number whose answer and BYE can be within LEG_EVENT_NS of a's
    (a _Lane by number, second of the answer and second of the BYE: a's and the eight around it), those to a's
    callee host and those from a's caller host jumped over; once a has a leg, the calls that have one too are
    jumped over as well (the pass skips those pairs). So a visit finds a leg, or is the first of a call that has
    none yet, or meets a call that fails the rest of a rule (answered or ended 1 to 2 s from a, or both of its hosts
    alternately a's): a burst costs about O(n log n), not O(n^2).

    (The answered and ended calls were in a _Lane per callee host, all of them visited by each such a: a number
    answered by many hosts cost O(n x hosts), 13 s for 8 000 calls in a second each to its own host; and a burst
    whose calls were answered, or ended, more than LEG_EVENT_NS apart visited every pair: 13 s for 4 000 calls.)"""
    numbers = {c.call_id: number_key(c.callee) for c in ordered}
    number = [numbers[c.call_id] for c in ordered]
    caller = [address_host(c.caller_address) for c in ordered]
    callee = [address_host(c.callee_address) for c in ordered]
    starts = [c.start_ns for c in ordered]
    answers_byes = [c.answer_and_bye() for c in ordered]
    events = [(ans.ts_ns if ans else None, bye.ts_ns if bye else None) for ans, bye in answers_byes]
    # the frames of the start, the answer and the BYE: their times are compared only where the clock is sound
    frames = [(c.start_at, ans.frame if ans else None, bye.frame if bye else None)
              for c, (ans, bye) in zip(ordered, answers_byes)]
    ended = [None not in e for e in events]
    # The LEG_EVENT_NS slots an ended call was answered and ended in: _together needs both within one slot's length
    # of the other call's, so in the same slot or the next one either way.
    slot = [(e[0] // LEG_EVENT_NS, e[1] // LEG_EVENT_NS) if done else (0, 0)  # type: ignore[operator]
            for e, done in zip(events, ended)]
    by_caller: dict[tuple[str, str], _Lane] = {}  # (number, caller host) -> calls, jumped over by callee host
    by_events: dict[tuple[str, int, int], _Lane] = {}  # (number, slots) -> ended calls, jumped over by both hosts
    places: dict[str, list[tuple[_Lane, int]]] = {}  # Call-ID -> its places in the lanes
    for k, c in enumerate(ordered):
        lane = by_caller.get((number[k], caller[k]))
        if lane is None:
            lane = by_caller[(number[k], caller[k])] = _Lane()
        place = places.setdefault(c.call_id, [])
        place.append((lane, lane.add(k, callee[k])))
        if ended[k]:
            lane = by_events.get((number[k], *slot[k]))
            if lane is None:
                lane = by_events[(number[k], *slot[k])] = _Lane()
            place.append((lane, lane.add(k, callee[k], caller[k])))
    for lane in (*by_caller.values(), *by_events.values()):
        lane.seal()

    def linked(call_id: str) -> None:
        for lane, j in places.get(call_id, ()):
            lane.drop(j)

    for call_id, found in links.items():
        if found:
            linked(call_id)
    for i, a in enumerate(ordered):
        a_id = a.call_id
        end = bisect_right(starts, starts[i] + LEG_WINDOW_NS)
        if end <= i + 1:
            continue
        visit: list[tuple[_Lane, tuple[str, ...]]] = []  # (lane, the hosts that are jumped over)
        lane = by_caller.get((number[i], callee[i]))
        if lane is not None:
            visit.append((lane, (caller[i],)))
        if ended[i]:
            answer, bye = slot[i]
            visit += [(lane, (callee[i], caller[i])) for s in (answer - 1, answer, answer + 1)
                      for t in (bye - 1, bye, bye + 1) if (lane := by_events.get((number[i], s, t))) is not None]
        queue = []
        for n, (lane, skip) in enumerate(visit):
            j = lane.seek(bisect_right(lane.rows, i), skip, bool(links[a_id]))
            if lane.rows[j] < end:
                queue.append((lane.rows[j], n, j))
        heapify(queue)
        last = -1
        while queue:
            k, n, j = heappop(queue)
            lane, skip = visit[n]
            if links[a_id] and lane.dropped(j):
                j = lane.seek(j, skip, True)  # it gained a leg after it was queued
            else:
                if k != last:  # in two lanes
                    last = k
                    b_id = ordered[k].call_id
                    if not (links[a_id] and links[b_id]):
                        started = clock.sound(frames[i][0], frames[k][0])
                        if (started and number[i] == number[k] and callee[i] == caller[k]
                                and caller[i] != callee[k]):
                            rule = _BY_ADDRESS
                        elif (started and number[i] == number[k] and caller[i] != caller[k] and callee[i] != callee[k]
                              and _together(events[i], events[k]) and clock.sound(frames[i][1], frames[k][1])
                              and clock.sound(frames[i][2], frames[k][2])):
                            rule = _BY_EVENTS
                        else:
                            rule = ""
                        if rule:
                            new = [x for x in (a_id, b_id) if not links[x]]
                            links[a_id].setdefault(b_id, rule)
                            links[b_id].setdefault(a_id, rule)
                            for x in new:
                                linked(x)
                j = lane.seek(j + 1, skip, bool(links[a_id]))
            if lane.rows[j] < end:
                heappush(queue, (lane.rows[j], n, j))


class _Lane:
    """Rows of `ordered` (ascending) with one or two hosts each, for _link_by_timing: `seek` finds the next row at or
    after an index whose hosts are not the given ones (`other` jumps over a run of rows with an equal host at once)
    and, if asked, that has no leg yet (`drop` marks a row that gained one; `up` skips those, with path compression).
    `rows` ends with a sentinel larger than any row."""

    __slots__ = ("rows", "hosts", "other", "up")

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.hosts: list[list[str]] = []  # per host kind, per row
        self.other: list[list[int]] = []  # per host kind: the next row whose host of that kind differs
        self.up: list[int] = []

    def add(self, row: int, *hosts: str) -> int:
        if not self.hosts:
            self.hosts = [[] for _ in hosts]
        self.rows.append(row)
        for column, host in zip(self.hosts, hosts):
            column.append(host)
        return len(self.rows) - 1

    def seal(self) -> None:
        n = len(self.rows)
        self.other = []
        for hosts in self.hosts:
            other = [n] * n
            for j in range(n - 2, -1, -1):
                other[j] = j + 1 if hosts[j + 1] != hosts[j] else other[j + 1]
            self.other.append(other)
        self.up = list(range(n + 1))
        self.rows.append(1 << 62)

    def drop(self, j: int) -> None:
        self.up[j] = j + 1

    def dropped(self, j: int) -> bool:
        return self.up[j] != j

    def _alive(self, j: int) -> int:
        up = self.up
        root = j
        while up[root] != root:
            root = up[root]
        while up[j] != root:
            up[j], j = root, up[j]
        return root

    def seek(self, j: int, skip: tuple[str, ...], alive: bool) -> int:
        n = len(self.rows) - 1
        kinds = tuple(zip(self.hosts, self.other, skip))
        while j < n:
            if alive:
                j = self._alive(j)
                if j >= n:
                    break
            for hosts, other, host in kinds:
                if hosts[j] == host:
                    j = other[j]
                    break
            else:
                return j
        return n


def _together(a: tuple[int | None, int | None], b: tuple[int | None, int | None]) -> bool:
    """Both answered and ended by a BYE, the answers and the BYEs within LEG_EVENT_NS of each other (a and b: the
    calls' Call.answer_and_bye_ns())."""
    (a_answer, a_bye), (b_answer, b_bye) = a, b
    if None in (a_answer, a_bye, b_answer, b_bye):
        return False
    return abs(a_answer - b_answer) <= LEG_EVENT_NS and abs(a_bye - b_bye) <= LEG_EVENT_NS  # type: ignore[operator]


def _header_name(lower: str) -> str:
    return "-".join(p.upper() if len(p) <= 3 else p.capitalize() for p in lower.split("-"))


__all__ = ["Correlation", "Correlator", "CORRELATION_HEADERS", "link_legs", "number_key"]
