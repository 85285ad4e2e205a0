"""Matching requests and responses into transactions (RFC 3261 §17), counting retransmissions.

Key: the top Via branch with the CSeq method (RFC 3261 §17.1.3, §17.2.3). ACK for a non-2xx final response and
the INVITE share a branch (§17.1.1.3): such an ACK belongs to the INVITE's transaction. ACK for a 2xx is a
transaction of its own (§13.2.2.4), and so is CANCEL (same branch, method CANCEL, §9.1). Peers that do not put
the RFC 3261 magic cookie in their branch (RFC 2543) are matched by Call-ID, CSeq and From tag instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from itertools import count

from .addresses import join_address
from .clocksteps import NO_STEP, LastStep
from .model import Transaction, build_transaction
from .parsers.scan import TIME_BACK_NS, TIME_JUMP_NS
from .parsers.sip import SipMessage
from .parsers.sipheaders import is_rfc3261_branch
from .siptimers import DEFAULT_TIMERS, KEEP_MARGIN_NS, SipTimers


def is_provisional(code: int) -> bool:
    """1xx (RFC 3261 §21.1)."""
    return 100 <= code < 200


def is_success(code: int) -> bool:
    return 200 <= code < 300


def is_redirect(code: int) -> bool:
    """3xx (RFC 3261 §21.3): the request is to be retried at the Contact URIs, not refused."""
    return 300 <= code < 400


def is_final(code: int) -> bool:
    return 200 <= code < 700


def is_auth_challenge(code: int) -> bool:
    """401 from a UAS/registrar, 407 from a proxy (RFC 3261 §22.2, §22.3)."""
    return code in (401, 407)


@dataclass(eq=False)  # identity, not field-by-field equality: builders look transactions up by identity
class TxState:
    """A transaction while the capture is read; frozen into a `Transaction` at the end."""

    method: str
    cseq: int | None
    branch: str | None
    call_id: str | None
    request_frame: int | None
    ts_ns: int
    src: str
    dst: str
    in_dialog: bool
    request_retransmissions: int = 0
    responses: dict[tuple[int, str | None], tuple[int, int]] = field(default_factory=dict)
    response_retransmissions: int = 0
    final_status: int | None = None
    final_ts_ns: int | None = None
    final_reason: str | None = None
    first_provisional_ts_ns: int | None = None
    ack_frame: int | None = None  # the ACK for a non-2xx final response, same branch (§17.1.1.3)
    user_agent: str | None = None
    request_uri: str | None = None
    # the frames of ts_ns, final_ts_ns and first_provisional_ts_ns: a time is compared with another only where no
    # clock step lies between their frames (sipdiag.clocksteps)
    ts_frame: int | None = None
    final_frame: int | None = None
    first_provisional_frame: int | None = None
    # (frame, ts_ns) of the request's first two retransmissions over UDP: their gaps from the first send show the
    # sender's T1 (RFC 3261 §17.1.1.2 Timer A, §17.1.2.2 Timer E; sipdiag.siptimers)
    retransmitted: tuple[tuple[int, int], ...] = ()
    # the tie-break of its entry in its table's sweep queue (TransactionTable._due); an entry with another is stale
    queued: int = -1

    def freeze(self) -> Transaction:
        return build_transaction(
            method=self.method,
            call_id=self.call_id,
            cseq=self.cseq,
            branch=self.branch,
            request_frame=self.request_frame,
            ts_ns=self.ts_ns,
            src=self.src,
            dst=self.dst,
            request_retransmissions=self.request_retransmissions,
            responses=tuple((code, fr, ts) for (code, _tag), (fr, ts) in self.responses.items()),
            response_retransmissions=self.response_retransmissions,
            final_status=self.final_status,
            final_ts_ns=self.final_ts_ns,
            first_provisional_ts_ns=self.first_provisional_ts_ns,
            in_dialog=self.in_dialog,
            user_agent=self.user_agent,
            request_uri=self.request_uri,
            ts_frame=self.ts_frame,
            final_frame=self.final_frame,
            first_provisional_frame=self.first_provisional_frame,
            retransmitted=self.retransmitted,
        )


def _user_agent(msg: SipMessage) -> str | None:
    """A request's User-Agent (RFC 3261 §20.41), cut to 200 characters: it comes from the wire."""
    ua = msg.headers.first_values.get("user-agent")
    return ua[:200] if ua else None


def _request_uri(msg: SipMessage) -> str | None:
    """A request's Request-URI (RFC 3261 §8.1.1.1), cut to 200 characters: it comes from the wire."""
    return msg.request_uri[:200] if msg.request_uri else None


def sender(msg: SipMessage) -> str:
    return join_address(msg.src_ip, msg.src_port)


def receiver(msg: SipMessage) -> str:
    return join_address(msg.dst_ip, msg.dst_port)


# Transports where a response may reach the client on another connection than its request's (RFC 3261 §18.2.2).
CONNECTION_TRANSPORTS = frozenset({"tcp", "tls", "sctp", "ws"})

# A transaction's matching state is kept 64*T1 = 32 s after it ended (RFC 3261 §17.1.1.2 Timer B, §17.2.1
# Timer H: the longest a retransmission of it can still arrive), and a margin, then dropped so memory stays flat:
# SipTimers.keep_ns, 40 s with the default T1 (KEEP_NS); 64*T1 of the run's T1, or of a transaction's own when its
# retransmissions show a larger one (a peer at T1 = 1 s retransmits until 63 s).
KEEP_NS = DEFAULT_TIMERS.keep_ns
# An INVITE client transaction in Proceeding has no timer of its own (RFC 3261 §17.1.1.2): it rings until a final
# response, which a proxy's Timer C (more than 3 min, §16.6) forces, and a proxy's provisional responses restart
# it. A ringing INVITE is kept this long after its last 18x (not its 100 Trying: a flood of INVITEs that only a
# 100 answers must not hold memory for minutes).
RINGING_KEEP_NS = 200 * 10**9


class TransactionTable:
    """One per run. `add(msg)` returns the message's transaction and whether the message is a retransmission."""

    def __init__(self, timers: SipTimers = DEFAULT_TIMERS) -> None:
        self.timers = timers  # the run's T1 and T2 (sip.t1_default_ms, sip.t2_ms: sipdiag.checks.timers)
        self.by_key: dict[tuple, TxState] = {}
        # The last step of the capture's clock between two messages (the capture layer's thresholds,
        # sipdiag.parsers.scan.time_steps): the frame of the message after it and that message's time. The scan's
        # own step log is not at hand here (it may run in another process, sipdiag.ingest).
        self.last_ns: int | None = None
        self.step = NO_STEP
        # The sweep's queue, a min-heap of (a time no later than the transaction's _last_ns, a tie-break, its key):
        # one entry a live transaction (TxState.queued names it), pushed when it begins and again when a response
        # makes it older (a ringing INVITE's answer: its age then runs from the answer, not from 160 s after its
        # last 18x); one made younger keeps its entry, which the sweep moves when it comes due. Rebuilt when the
        # clock stepped (a step changes every age). A sweep pops only what has aged past the cutoff: it used to
        # scan every live transaction every EXPIRE_EVERY messages, which made a 30 s capture of 20 000 calls spend
        # 2.6 s of its 38 s there.
        self._due: list[tuple[int, int, tuple]] = []
        self._due_step = NO_STEP
        self._tie = count()

    def expire(self, now_ns: int) -> None:
        """Forget transactions that ended (or began) more than their keep time ago (_keep_ns); their callers keep
        the TxState. Age is never measured across a clock step (sipdiag.clocksteps): a transaction last heard of
        before the last step is aged from the step on. A forward jump of days used to drop every open transaction
        at the next sweep, so an INVITE's final response after it made a transaction of its own and the call lost
        it."""
        cutoff = now_ns - self.timers.keep_ns
        if self._due_step is not self.step:
            self._due = []
            for k, tx in self.by_key.items():
                tx.queued = tie = next(self._tie)
                self._due.append((self._last_ns(tx), tie, k))
            heapify(self._due)
            self._due_step = self.step
        due, by_key = self._due, self.by_key
        again = []
        while due and due[0][0] < cutoff:
            _, tie, k = heappop(due)
            tx = by_key.get(k)
            if tx is None or tx.queued != tie:
                continue  # stale: the transaction was dropped, or was queued anew
            last = self._last_ns(tx)
            if last >= cutoff:
                again.append((last, tie, k))  # younger than when queued: due later
            elif not tx.retransmitted or last + self._keep_ns(tx) < now_ns:
                del by_key[k]
            else:
                again.append((last, tie, k))  # kept for its own, longer keep time: looked at again next sweep
        for entry in again:
            heappush(due, entry)

    def _queue(self, key: tuple, tx: TxState, last: int | None = None) -> None:
        tx.queued = tie = next(self._tie)
        heappush(self._due, (self._last_ns(tx) if last is None else last, tie, key))

    def _keep_ns(self, tx: TxState) -> int:
        """The run's keep time, longer for a transaction whose retransmissions show a larger T1 than the run's
        (never shorter: a smaller estimate would only risk splitting a late response from its request). Its gaps
        are measured only when no clock step came after its first send (the table knows the newest step only)."""
        timers = self.timers
        if tx.ts_frame is None or tx.ts_frame < self.step.frame:
            return timers.keep_ns
        return max(timers.keep_ns, 64 * timers.request_t1_ns(tx) + KEEP_MARGIN_NS)

    def _last_ns(self, tx: TxState) -> int:
        """When the transaction ended (or began), in the clock of the messages since the last step."""
        if tx.final_ts_ns is not None:
            ts, frame = tx.final_ts_ns, tx.final_frame
        elif tx.method == "INVITE" and (ringing := [r for (code, _tag), r in tx.responses.items() if code > 100]):
            # still ringing: kept RINGING_KEEP_NS after its last 18x (the run's keep time is taken off by expire)
            frame, ts = max(ringing, key=lambda r: r[0])
            return self.step.since(frame, ts) + RINGING_KEEP_NS - self.timers.keep_ns
        else:
            ts, frame = tx.ts_ns, tx.ts_frame
        return self.step.since(frame, ts)

    def key(self, msg: SipMessage, method: str) -> tuple:
        branch = msg.branch
        # The request's (sender, receiver): a capture taken at two points (before and after a router, an SBC
        # mirror port) sees the same request on each hop; each hop is its own transaction, not a retransmission.
        if msg.is_request:
            hop = (msg.src_ip, msg.src_port, msg.dst_ip, msg.dst_port)
        else:
            hop = (msg.dst_ip, msg.dst_port, msg.src_ip, msg.src_port)
        if msg.transport in CONNECTION_TRANSPORTS:
            # Fix: over a connection the server sends its responses on the request's connection or, when that is
            # gone, on a new one to the top Via's sent-by port (RFC 3261 §18.2.2, RFC 4168 §5 for SCTP): the
            # client's ephemeral port is no part of the hop (an SCTP INVITE from :57098 answered to :5060 was
            # left unanswered and its call "in-progress").
            hop = (hop[0], hop[2], hop[3])
        if is_rfc3261_branch(branch):
            # RFC 3261 §17.1.3 needs only branch + method; the Call-ID is added so that a response that does not
            # belong to the dialog (a broken or spoofed peer reusing a branch) is not taken for the request's.
            return (branch, method, msg.call_id, hop)
        cseq = msg.cseq
        return ("rfc2543", msg.call_id, cseq.number if cseq else None, method, msg.from_tag, hop)

    def add(self, msg: SipMessage) -> tuple[TxState, bool]:
        if self.last_ns is not None and not -TIME_BACK_NS <= msg.ts_ns - self.last_ns <= TIME_JUMP_NS:
            self.step = LastStep(msg.frame, msg.ts_ns)
        self.last_ns = msg.ts_ns
        if msg.is_request:
            return self._request(msg)
        return self._response(msg)

    def _request(self, msg: SipMessage) -> tuple[TxState, bool]:
        method = msg.method or "?"
        if method == "ACK":
            invite = self.by_key.get(self.key(msg, "INVITE"))
            if invite is not None and invite.final_status is not None and invite.final_status >= 300:
                if invite.ack_frame is None:
                    invite.ack_frame = msg.frame
                    return invite, False
                return invite, True
        key = self.key(msg, method)
        tx = self.by_key.get(key)
        if tx is not None:
            if tx.request_frame is None:  # the response came first in the capture (merged interfaces, skew)
                # What only the request carries is recorded now: its User-Agent (sec.scanner-detected), and its To
                # tag, which tells whether it was sent in a dialog (RFC 3261 §12.2) better than the response's
                # evidence (sipdiag.dialogs) did.
                tx.request_frame = msg.frame
                tx.user_agent = _user_agent(msg)
                tx.request_uri = _request_uri(msg)
                tx.in_dialog = msg.to_tag is not None
                return tx, False
            tx.request_retransmissions += 1
            if len(tx.retransmitted) < 2 and msg.transport == "udp":  # Timer A/E retransmit over UDP only
                tx.retransmitted += ((msg.frame, msg.ts_ns),)
            return tx, True
        cseq = msg.cseq
        tx = TxState(method, cseq.number if cseq else None, msg.branch, msg.call_id, msg.frame, msg.ts_ns,
                     sender(msg), receiver(msg), msg.to_tag is not None, ts_frame=msg.frame,
                     user_agent=_user_agent(msg), request_uri=_request_uri(msg))
        self.by_key[key] = tx
        self._queue(key, tx)
        return tx, False

    def _response(self, msg: SipMessage) -> tuple[TxState, bool]:
        method = msg.cseq_method or "?"
        key = self.key(msg, method)
        tx = self.by_key.get(key)
        if tx is None:
            cseq = msg.cseq
            # A response whose request is not in the capture: the transaction still exists, seen from its end.
            # Whether that request was sent in a dialog the call's dialogs tell (CallBuilder.answers_in_dialog).
            tx = TxState(method, cseq.number if cseq else None, msg.branch, msg.call_id, None, msg.ts_ns,
                         receiver(msg), sender(msg), False, ts_frame=msg.frame)
            self.by_key[key] = tx
        code = msg.status_code or 0
        rkey = (code, msg.to_tag)
        if rkey in tx.responses:
            tx.response_retransmissions += 1
            return tx, True
        before = self._last_ns(tx) if tx.queued >= 0 else None
        tx.responses[rkey] = (msg.frame, msg.ts_ns)
        if is_provisional(code):
            if tx.first_provisional_ts_ns is None and code != 100:
                tx.first_provisional_ts_ns, tx.first_provisional_frame = msg.ts_ns, msg.frame
        elif is_final(code) and tx.final_status is None:
            tx.final_status, tx.final_ts_ns, tx.final_reason, tx.final_frame = code, msg.ts_ns, msg.reason, msg.frame
        after = self._last_ns(tx)
        if before is None or after < before:  # a new transaction, or one the response made older
            self._queue(key, tx, after)
        return tx, False
