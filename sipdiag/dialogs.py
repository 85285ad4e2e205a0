"""From SIP messages to calls: transactions → dialogs → calls (RFC 3261 §12-§17), read in one pass.

Each Call-ID that carries an INVITE is a call. Its messages are kept as `MessageRef`s (small, so a capture of any
size keeps them all), its transactions, dialogs (forks apart), offer/answer negotiations (RFC 3264) and the
timings support engineers quote: post-dial delay (INVITE to first 18x), answer time, duration, who hung up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .clocksteps import NO_STEPS, ClockSteps
from .model import (
    Call,
    MediaDescription,
    MessageRef,
    build_call,
    build_dialog,
    build_media_description,
    build_negotiation,
    other_role,
)
from .parsers.anomalies import AnomalyLog
from .parsers.multipart import sdp_of
from .parsers.sdp import (
    STATIC_PAYLOAD_TYPES,
    SdpMedia,
    SdpSession,
    codec_names,
    effective_address,
    is_hold,
    payload_type,
    rtpmap_for,
)
from .parsers.sip import SipMessage
from .parsers.sipheaders import (
    SessionExpires,
    is_rfc3261_branch,
    parse_contact,
    parse_min_se,
    parse_session_expires,
)
from .parsers.sipuri import bounded_int, parse_name_addr
from .siptimers import DEFAULT_TIMERS, SipTimers
from .transactions import TxState, is_auth_challenge, is_provisional, is_redirect, is_success, receiver, sender

# Requests sent only in a dialog: BYE (RFC 3261 §15.1.1), PRACK (RFC 3262 §4), UPDATE (RFC 3311 §5.1).
IN_DIALOG_ONLY = ("BYE", "PRACK", "UPDATE")
BUSY = (486, 600)  # Busy Here, Busy Everywhere
TIMEOUT_STATUS = (408,)  # Request Timeout: a proxy's Timer C/B fired for the callee


def _round(ns: int | None, unit: float, digits: int) -> float | None:
    """A span in ns as `unit`s (1e6: ms, 1e9: s); None stays None (a span across a clock step)."""
    return None if ns is None else round(ns / unit, digits)


# Remembered by value: a registration's AOR is read from the To of each of its REGISTERs, which repeats (a phone
# re-registers with the same To, RFC 3261 §10.2.1), and an initial INVITE's To, without a tag yet, repeats from
# call to call of one callee. Parsing a name-addr costs 15-35 us; a registrar's capture has thousands of them.
@lru_cache(maxsize=4096)
def uri_of(value: str | None) -> tuple[str, str | None]:
    """(`scheme:user@host[:port]` of a From/To value without parameters, display name); the raw text (cut) when
    it does not parse. The AOR of a registration is this form of its To (RFC 3261 §10.2)."""
    if not value:
        return "", None
    na = parse_name_addr(value)
    if na is None or na.uri is None:
        return value.strip()[:200], None
    u = na.uri
    if u.host is None:
        return u.text or na.uri_text, na.display_name
    return f"{u.scheme}:" + (f"{u.user}@{u.hostport}" if u.user else u.hostport or ""), na.display_name


def media_descriptions(sdp: SdpSession) -> tuple[MediaDescription, ...]:
    out = []
    for m in sdp.media:
        pts = tuple(pt for f in m.formats if (pt := payload_type(f)) is not None)
        codecs = []
        event_pt = None
        for pt in pts:
            rm = rtpmap_for(m, pt)
            if rm is None:
                codecs.append(str(pt))
                continue
            codecs.append(f"{rm.encoding}/{rm.clock_rate}")
            if rm.encoding.lower() == "telephone-event" and event_pt is None:
                event_pt = pt
        if not pts:
            codecs = codec_names(m)
        out.append(build_media_description(
            media=m.media, address=effective_address(m), port=m.port, proto=m.proto, payload_types=pts,
            codecs=tuple(codecs), direction=m.direction, ptime_ms=m.ptime_ms, rtcp_mux=m.rtcp_mux,
            srtp="SAVP" in m.proto or bool(m.crypto) or m.fingerprint is not None, telephone_event=event_pt,
            fmtp=tuple((pt, text[:200]) for pt, text in m.fmtp), maxptime_ms=m.maxptime_ms,
            crypto_suites=tuple(c.suite[:60] for c in m.crypto), fingerprint=m.fingerprint is not None,
            static_redefined=_static_redefined(m),
        ))
    return tuple(out)


# Names devices write for a static type that mean the same payload format (G.729 Annex A/B decode as G.729).
_STATIC_ALIASES = {"G729A": "G729", "G729B": "G729", "G729AB": "G729", "G.729": "G729", "G.711U": "PCMU",
                   "G.711A": "PCMA", "G.722": "G722"}


def _static_redefined(m: SdpMedia) -> tuple[tuple[int, str], ...]:
    """a=rtpmap lines that give a static payload type (RFC 3551 table 4) another encoding or clock."""
    out = []
    for pt, rm in m.rtpmap:
        static = STATIC_PAYLOAD_TYPES.get(pt)
        if static is not None and (_STATIC_ALIASES.get(rm.encoding.upper(), rm.encoding.upper()) != static.encoding or
                                   (rm.clock_rate and rm.clock_rate != static.clock_rate)):
            out.append((pt, f"{rm.encoding}/{rm.clock_rate}"))
    return tuple(out)


def _holds(sdp: SdpSession) -> bool:
    return any(is_hold(m) for m in sdp.media if m.port != 0) if sdp.media else False


@dataclass(eq=False)
class _Offer:
    """One offer/answer while the capture is read. frame 0: no offer seen (yet): with no answer either, the offer of
    an offerless INVITE still to come in its 2xx; with an answer, the INVITE itself is not in the capture
    (_answer_only)."""

    kind: str
    frame: int
    offerer: str
    offer: tuple[MediaDescription, ...]
    hold: bool
    tx: TxState
    answer_frame: int | None = None
    answer: tuple[MediaDescription, ...] | None = None
    answer_hold: bool = False  # _holds of the answer: its hold, should it turn out to have been the offer

    @property
    def answer_only(self) -> bool:
        return self.frame == 0 and self.answer is not None

    def answer_was_offer(self) -> None:
        """The SDP taken for the answer of an INVITE not in the capture was the offer (the INVITE had none, RFC 3261
        §13.2.1): its writer, the other party, offered; the answer is still to come (the ACK)."""
        self.frame, self.offer, self.hold = self.answer_frame or 0, self.answer or (), self.answer_hold
        self.offerer = other_role(self.offerer)
        self.answer_frame = self.answer = None


@dataclass
class _DialogState:
    caller_tag: str | None
    callee_tag: str | None
    state: str
    created_frame: int
    confirmed_frame: int | None = None
    # The CSeq number of the INVITE whose 2xx (or its ACK, which has the INVITE's number: RFC 3261 §13.2.2.4)
    # confirmed the dialog: a later INVITE of the caller in it has a higher one (§12.2.1.1).
    confirmed_cseq: int | None = None


@dataclass(eq=False)
class CallBuilder:
    """A call while the capture is read."""

    call_id: str
    first: SipMessage
    seen_from_start: bool
    caller_tag: str | None = None
    # The From tags of the initial INVITEs other than caller_tag: a B2BUA or SBC that keeps the Call-ID on its other
    # leg, captured on both sides, sends that leg's INVITE with a From tag of its own (RFC 3261 §12: a dialog is the
    # Call-ID and both tags, so each leg is a dialog of its own under the one call); so does a UA that retries a
    # challenged INVITE under a new From tag (§8.1.3.5 asks for the same one).
    leg_caller_tags: set[str] = field(default_factory=set)
    messages: list[MessageRef] = field(default_factory=list)
    transactions: list[TxState] = field(default_factory=list)
    initial_invites: list[TxState] = field(default_factory=list)
    dialogs: dict[tuple[str | None, str | None], _DialogState] = field(default_factory=dict)
    offers: list[_Offer] = field(default_factory=list)
    user_agents: dict[str, None] = field(default_factory=dict)
    auth_challenges: int = 0
    prack: bool = False
    refer_to: list[str] = field(default_factory=list)
    cancel_frame: int | None = None
    bye_frame: int | None = None
    bye_ts_ns: int | None = None
    bye_from_tag: str | None = None
    # The BYE and CANCEL transactions (by method) whose response alone set bye_* or cancel_frame (the capture lacks
    # the request, or has it later): should the request follow, it takes their place (see _answered_only).
    answered_only: dict[str, TxState] = field(default_factory=dict)
    end_reason: str | None = None
    last_ts_ns: int = 0
    last_frame: int | None = None  # the frame of last_ts_ns
    correlation_headers: dict[str, str] = field(default_factory=dict)
    built: Call | None = None  # the Call, once complete; dropped when a later message arrives
    timers: SipTimers = DEFAULT_TIMERS  # the run's T1 and T2 (sip.t1_default_ms, sip.t2_ms)
    info_dtmf: list[tuple[int, str, int | None]] = field(default_factory=list)
    caller_contact: str | None = None
    caller_via_host: str | None = None
    session_expires: SessionExpires | None = None
    min_se_s: int | None = None
    redirect_contacts: tuple[str, ...] = ()
    # Whether the capture shows which party called (roles_known): set by a message of the initial INVITE
    # transaction, or of its CANCEL, without a To tag (see _tells_caller).
    caller_seen: bool = False

    def complete(self) -> bool:
        """Nothing the end of the capture could change: the BYE was answered, or the call failed and was ACKed.
        Such calls are built while the capture is still being read (the build then costs no waiting)."""
        if self.bye_frame is not None:
            return any(t.method == "BYE" and t.final_status is not None for t in self.transactions)
        invite = self.initial_invites[-1] if self.initial_invites else None
        return invite is not None and invite.final_status is not None and invite.final_status >= 300 and (
            invite.ack_frame is not None)

    @property
    def reinvites(self) -> int:
        """The INVITEs sent in a dialog (RFC 3261 §14): with their request in the capture, or only their responses
        (answers_in_dialog)."""
        return sum(1 for t in self.transactions if t.method == "INVITE" and t.in_dialog)

    def answers_in_dialog(self, msg: SipMessage, tx: TxState) -> bool:
        """Whether the request of `msg`, a response whose request the capture does not hold, was sent in a dialog
        (carried a To tag, RFC 3261 §12.2), from what the response and the call so far show.

        A UAS copies a request's To tag into its responses and adds a tag of its own only to a request outside a
        dialog (§8.2.6.2); tags are random (§19.3). So a response whose From and To tags are those of a dialog the
        call already has answers a request in that dialog (the callee's requests have the two the other way round,
        §12.2.1.1). Not for CANCEL, whose 200 carries the INVITE's tag (§9.2); and the To tag alone says nothing:
        every final response to an initial INVITE has one. An INVITE's own responses share its dialog's tags too
        (a 180 then the 200), so an INVITE is in a dialog only when that dialog was confirmed before (a re-INVITE is
        sent only in a confirmed dialog, §14.1) and, if the caller sent it, its CSeq is above the one of the INVITE
        that confirmed it (§12.2.1.1: the numbers of a dialog's requests grow; an initial INVITE retried after a
        401/407 or a 3xx has a higher CSeq as well, but in no confirmed dialog). Some responses need no dialog to
        tell: 491 is sent only to a request in a dialog (§14.2, §21.4.27), and BYE, PRACK and UPDATE are sent only
        in one (§15.1.1, RFC 3262 §4, RFC 3311 §5.1)."""
        method = tx.method
        if method in IN_DIALOG_ONLY or msg.status_code == 491:
            return True
        from_tag, to_tag = msg.from_tag, msg.to_tag
        if method == "CANCEL" or from_tag is None or to_tag is None or from_tag == to_tag:
            return False
        by_caller = self.dialogs.get((from_tag, to_tag))
        by_callee = self.dialogs.get((to_tag, from_tag))
        if method != "INVITE":
            return by_caller is not None or by_callee is not None
        if by_callee is not None and by_callee.confirmed_frame is not None:
            return True
        return (by_caller is not None and by_caller.confirmed_frame is not None and tx.cseq is not None
                and by_caller.confirmed_cseq is not None and tx.cseq > by_caller.confirmed_cseq)

    def _dialog_key(self, msg: SipMessage, to_tag: str) -> tuple[str | None, str]:
        """(caller's tag, callee's tag) of the dialog a message with To tag `to_tag` belongs to: the callee's requests
        in the dialog (a re-INVITE, its ACK) and their responses carry the caller's tag in To and the callee's in
        From (RFC 3261 §12.2.1.1); any other message of the call has the callee's tag in To. Taken the caller's way
        round, a callee's re-INVITE made a dialog of the caller's tag with itself. The caller's tag is that of the
        message's leg (leg_caller_tags); filed under caller_tag, another leg's dialog took the first leg's tag, and
        the 200 to its callee's re-INVITE made a dialog of the two legs' caller tags."""
        if self.is_caller_tag(to_tag) and msg.from_tag is not None and msg.from_tag != to_tag:
            return to_tag, msg.from_tag
        return (msg.from_tag if msg.from_tag in self.leg_caller_tags else self.caller_tag), to_tag

    def is_caller_tag(self, tag: str | None) -> bool:
        """The tag of the caller's side of one of the call's dialogs (caller_tag, leg_caller_tags)."""
        return tag == self.caller_tag or tag in self.leg_caller_tags

    def role_of(self, msg: SipMessage) -> str:
        """caller or callee: who sent this message, by its tags (From tag = caller's in the caller's requests)."""
        if msg.is_request:
            return "caller" if self.is_caller_tag(msg.from_tag) else "callee"
        return "callee" if self.is_caller_tag(msg.from_tag) else "caller"

    def add(self, msg: SipMessage, tx: TxState, retransmission: bool, log: AnomalyLog | None = None) -> None:
        """log: receives the SDP body's defects (`sdp.*` anomalies), once per message (not per retransmission)."""
        self.built = None
        if msg.ts_ns >= self.last_ts_ns:
            self.last_ts_ns, self.last_frame = msg.ts_ns, msg.frame
        sdp = sdp_of(msg) if msg.body and not retransmission else None
        if sdp is not None and sdp.anomalies and log is not None:
            log.extend(sdp.anomalies)
        self.messages.append(MessageRef(
            msg.frame, msg.ts_ns, msg.src_ip, msg.src_port, msg.dst_ip, msg.dst_port, msg.transport, msg.method,
            msg.status_code, msg.reason, tx.cseq, tx.method if not msg.is_request else msg.method,
            retransmission, bool(msg.body) and (sdp is not None or msg.content_type == "application/sdp"),
        ))
        if retransmission:
            return
        ua = msg.user_agent
        if ua:
            self.user_agents.setdefault(ua[:200], None)
        if tx not in self.transactions:
            self.transactions.append(tx)
        if not self.caller_seen and _tells_caller(msg, tx):
            self.caller_seen = True
        if not msg.is_request and tx.request_frame is None and not tx.in_dialog:
            # decided before this response changes the dialogs (a 2xx confirms one): by each response until one
            # tells (a re-INVITE's 100 Trying may lack the To tag its 200 has)
            tx.in_dialog = self.answers_in_dialog(msg, tx)
        if msg.is_request:
            self._request(msg, tx, sdp)
        else:
            self._response(msg, tx, sdp)

    def _request(self, msg: SipMessage, tx: TxState, sdp: SdpSession | None) -> None:
        method = msg.method
        if method == "INVITE":
            if msg.to_tag is None:
                if self.caller_tag is None:
                    self.caller_tag = msg.from_tag
                elif msg.from_tag is not None and msg.from_tag != self.caller_tag:
                    self.leg_caller_tags.add(msg.from_tag)
                if tx not in self.initial_invites:
                    self.initial_invites.append(tx)
                if self.caller_contact is None:
                    contact = msg.headers.get("contact")
                    self.caller_contact = contact[:200] if contact else None
                    via = msg.headers.get("via")
                    self.caller_via_host = _via_host(via) if via else None
                present = msg.headers.first_values
                for name in CORRELATION_HEADERS:
                    value = present.get(name)
                    if value:
                        self.correlation_headers[name] = value.strip()
            late = next((o for o in self.offers if o.tx is tx and o.answer_only), None)
            if late is not None:
                # the request after a response that carried SDP (records of two interfaces merged out of order)
                late.kind = "initial" if msg.to_tag is None else "re-invite"
                if sdp is None:
                    late.answer_was_offer()
                else:
                    late.frame, late.offer, late.hold = msg.frame, media_descriptions(sdp), _holds(sdp)
            elif sdp is not None:
                kind = "initial" if msg.to_tag is None else "re-invite"
                self.offers.append(_Offer(kind, msg.frame, self.role_of(msg), media_descriptions(sdp), _holds(sdp), tx))
            else:
                # An offerless INVITE: the 2xx carries the offer and the ACK the answer (RFC 3261 §13.2.1).
                self.offers.append(_Offer("initial" if msg.to_tag is None else "re-invite", 0, "", (), False, tx))
        elif method in ("UPDATE", "PRACK") and sdp is not None:
            self.offers.append(_Offer(method.lower(), msg.frame, self.role_of(msg), media_descriptions(sdp),
                                      _holds(sdp), tx))
        elif method == "ACK" and sdp is not None:
            self._ack_answer(msg, sdp)
        if method == "ACK" and msg.to_tag is not None and self._acks_2xx(msg):
            # The 2xx may be missing from the capture (a mirror of one direction): its ACK confirms the dialog.
            key = self._dialog_key(msg, msg.to_tag)
            d = self.dialogs.get(key)
            if d is None:
                d = self.dialogs[key] = _DialogState(*key, "early", msg.frame)
            if d.confirmed_frame is None:
                cseq = msg.cseq
                d.state, d.confirmed_frame = "confirmed", msg.frame
                d.confirmed_cseq = cseq.number if cseq else None
        if method == "PRACK":
            self.prack = True
        elif method == "CANCEL" and (self.cancel_frame is None or self.answered_only.get(method) is tx):
            self.cancel_frame = msg.frame
            self.end_reason = msg.headers.get("reason") or self.end_reason
            self.answered_only.pop(method, None)
        elif method == "BYE" and (self.bye_frame is None or self.answered_only.get(method) is tx):
            self.bye_frame, self.bye_ts_ns, self.bye_from_tag = msg.frame, msg.ts_ns, msg.from_tag
            self.end_reason = msg.headers.get("reason")
            self.answered_only.pop(method, None)
        elif method == "REFER":
            target = msg.headers.get("refer-to")
            if target:
                self.refer_to.append(target.strip()[:300])
        elif method == "INFO" and msg.body:
            digit = info_dtmf(msg.content_type, msg.body)
            if digit is not None:
                self.info_dtmf.append((msg.frame, *digit))

    def _ack_answer(self, msg: SipMessage, sdp: SdpSession) -> None:
        """An ACK carries SDP only as the answer to the offer an offerless INVITE got in its 2xx (RFC 3261 §13.2.1):
        that of the INVITE with the ACK's CSeq number (§13.2.2.4) still unanswered, the one whose request went the
        way the ACK goes (a spiral, one INVITE passing the capture point twice, is a transaction per hop, each
        ACKed), else the latest (the two parties number their requests apart); without any INVITE of that number,
        the last INVITE offer still unanswered. Where the INVITE is not in the capture, the 2xx's SDP, taken for
        an answer, was that offer; where the 2xx is not, the offer is unknown."""
        cseq = msg.cseq
        numbered = [o for o in self.offers if o.kind in ("initial", "re-invite") and cseq is not None
                    and o.tx.cseq == cseq.number]
        if numbered:
            open_ = [o for o in numbered if o.answer is None or o.answer_only]
            way = (sender(msg), receiver(msg))
            mine = next((o for o in reversed(open_) if (o.tx.src, o.tx.dst) == way), open_[-1] if open_ else None)
        else:
            mine = next((o for o in reversed(self.offers)
                         if o.answer is None and o.frame and o.kind in ("initial", "re-invite")), None)
        if mine is None:
            return
        if mine.answer_only:
            mine.answer_was_offer()
        elif mine.frame == 0:  # an offerless INVITE whose 2xx is not in the capture (a mirror of one direction)
            mine.offerer = other_role(self.role_of(msg))
        mine.answer_frame, mine.answer = msg.frame, media_descriptions(sdp)

    def _response(self, msg: SipMessage, tx: TxState, sdp: SdpSession | None) -> None:
        code = msg.status_code or 0
        if tx.request_frame is None and tx.method in ("BYE", "CANCEL"):
            self._answered_only(msg, tx)
        if tx.method == "INVITE":
            if is_auth_challenge(code):
                self.auth_challenges += 1
            elif is_success(code) and not tx.in_dialog and self.session_expires is None:
                value = msg.headers.get("session-expires")  # RFC 4028 §4: the 2xx fixes interval and refresher
                self.session_expires = parse_session_expires(value) if value else None
            elif code == 422:  # Session Interval Too Small (RFC 4028 §6)
                value = msg.headers.get("min-se")
                self.min_se_s = parse_min_se(value) if value else self.min_se_s
            elif is_redirect(code) and not tx.in_dialog:  # where the UAC may retry (RFC 3261 §8.1.3.4)
                self.redirect_contacts = redirect_targets(msg)
            to_tag = msg.to_tag
            if to_tag is not None and (is_provisional(code) and code != 100 or is_success(code)):
                key = self._dialog_key(msg, to_tag)
                d = self.dialogs.get(key)
                if d is None:
                    d = self.dialogs[key] = _DialogState(*key, "early", msg.frame)
                if is_success(code) and d.confirmed_frame is None:
                    d.state, d.confirmed_frame, d.confirmed_cseq = "confirmed", msg.frame, tx.cseq
        if sdp is not None:
            offer = next((o for o in reversed(self.offers) if o.tx is tx), None)
            if offer is None:
                if tx.method == "INVITE" and tx.request_frame is None and code != 100 and (
                        is_provisional(code) or is_success(code)):
                    self.offers.append(self._answer_only(msg, tx, sdp))
            elif offer.frame == 0 and offer.answer is None:  # the offer of an offerless INVITE
                offer.frame, offer.offerer = msg.frame, self.role_of(msg)
                offer.offer, offer.hold = media_descriptions(sdp), _holds(sdp)
            elif offer.answer is None or (is_success(code) and offer.answer_frame is not None
                                          and offer.answer_frame < msg.frame and not _reliable(offer)):
                offer.answer_frame, offer.answer = msg.frame, media_descriptions(sdp)
                offer.answer_hold = _holds(sdp)

    def _answered_only(self, msg: SipMessage, tx: TxState) -> None:
        """A response to a BYE or a CANCEL the capture does not hold (yet): the request was sent, and its response's
        frame (and time) stand for the request's, about a round trip after it. A request that comes later (capture
        points merged, clocks apart) is recorded in its place (_request), with its own frame and Reason (RFC 3326).

        A BYE ends the call (RFC 3261 §15.1.1: its sender ends the session when it sends it, whatever the answer);
        the response's From is the BYE's (§8.2.6.2), so it tells who hung up. Without it the call ran to the end of
        the capture, no one hung up and its dialog stayed confirmed.

        A CANCEL is sent by the caller only, to give up its pending INVITE (§9.1); any response to it (200 when it
        matched the INVITE's transaction, 481 when it matched none, §9.2) shows the caller gave up, as the request
        would. What the CANCEL achieved is still told by the INVITE's final response and the CANCEL's own
        (_outcome, _cancel_accepted). Without it, an INVITE left without a final response was "in-progress"
        though the caller had given up, a 408 after an accepted CANCEL a rejection, and the call's end named no
        CANCEL."""
        if tx.method == "BYE" and self.bye_frame is None:
            self.bye_frame, self.bye_ts_ns, self.bye_from_tag = msg.frame, msg.ts_ns, msg.from_tag
        elif tx.method == "CANCEL" and self.cancel_frame is None:
            self.cancel_frame = msg.frame
        else:
            return
        self.answered_only[tx.method] = tx

    def _answer_only(self, msg: SipMessage, tx: TxState, sdp: SdpSession) -> _Offer:
        """The SDP of a response to an INVITE that is not in the capture (the capture began during the call, or the
        request was lost at the capture point), taken for the answer of the party that sent it, to an offer of the
        other party the capture lacks (RFC 3261 §13.2.1: an INVITE with an offer is answered in its response). A
        re-INVITE's answer is the session from then on (RFC 3264 §8): without it, the media it moved were no
        longer the call's. Should an ACK with SDP follow, it was the offer (_Offer.answer_was_offer)."""
        kind = "re-invite" if tx.in_dialog else "initial"
        return _Offer(kind, 0, other_role(self.role_of(msg)), (), False, tx, msg.frame, media_descriptions(sdp),
                      _holds(sdp))

    # ------------------------------------------------------------------------------------------------ result

    def build(self, capture_end_ns: int, clock: ClockSteps = NO_STEPS, capture_end_frame: int | None = None) -> Call:
        """The call as the capture shows it up to capture_end_ns (the time of record capture_end_frame). Its
        timings are None where a clock step lies between the two messages they measure from and to."""
        first = self.first
        invite = self.initial_invites[-1] if self.initial_invites else None
        first_invite = self.initial_invites[0] if self.initial_invites else None
        start_ns = first_invite.ts_ns if first_invite else first.ts_ns
        caller, caller_display = uri_of(first.headers.get("from"))
        callee, _ = uri_of(first.headers.get("to"))
        if not first.is_request:
            caller_address, callee_address = receiver(first), sender(first)
        else:
            caller_address, callee_address = sender(first), receiver(first)
        if first_invite is not None:
            caller_address, callee_address = first_invite.src, first_invite.dst
        outcome, final_status, final_reason = self._outcome(invite, capture_end_ns, clock, capture_end_frame)
        setup_ms = answer_ms = duration_s = None
        answer_ts = answer_frame = None
        if invite is not None and first_invite is not None:
            prov = next((t for t in self.initial_invites if t.first_provisional_ts_ns), None)
            if prov is not None:
                setup_ms = _round(clock.elapsed_ns(first_invite.ts_frame, first_invite.ts_ns,
                                                   prov.first_provisional_frame, prov.first_provisional_ts_ns or 0),
                                  1e6, 3)
            if invite.final_status is not None and is_success(invite.final_status):
                answer_ts, answer_frame = invite.final_ts_ns, invite.final_frame
                answer_ms = _round(clock.elapsed_ns(first_invite.ts_frame, first_invite.ts_ns, answer_frame,
                                                    answer_ts or 0), 1e6, 3)
        if answer_ts is not None:
            if self.bye_ts_ns is not None:
                end, end_frame = self.bye_ts_ns, self.bye_frame
            elif capture_end_frame is not None or capture_end_ns >= self.last_ts_ns:
                # the capture's last record, by frame after every message of the call: across a step of the clock
                # after the last message the duration is unknown (elapsed_ns: None), not the span up to that
                # message, which comparing record times would pick after a step back
                end, end_frame = capture_end_ns, capture_end_frame
            else:
                end, end_frame = self.last_ts_ns, self.last_frame
            duration_s = _round(clock.elapsed_ns(answer_frame, answer_ts, end_frame, end), 1e9, 3)
        ended_by = None
        if self.bye_frame is not None and self.caller_seen:
            ended_by = "caller" if self.is_caller_tag(self.bye_from_tag) else "callee"
        transports = {m.transport for m in self.messages}
        negotiations = tuple(
            build_negotiation(o.kind, o.frame or None, o.offerer, o.offer, o.answer_frame, o.answer, o.tx.final_status,
                        o.hold)
            for o in self.offers if o.frame or o.answer is not None
        )
        return build_call(
            call_id=self.call_id,
            caller=caller,
            callee=callee,
            caller_display=caller_display,
            start_ns=start_ns,
            first_frame=self.messages[0].frame,
            caller_address=caller_address,
            callee_address=callee_address,
            outcome=outcome,
            final_status=final_status,
            final_reason=final_reason,
            setup_ms=setup_ms,
            answer_ms=answer_ms,
            duration_s=duration_s,
            ended_by=ended_by,
            end_reason=self.end_reason,
            transport="/".join(sorted(transports)),
            user_agents=tuple(self.user_agents),
            auth_challenges=self.auth_challenges,
            reinvites=self.reinvites,
            prack=self.prack,
            refer_to=tuple(self.refer_to),
            cancelled_frame=self.cancel_frame,
            bye_frame=self.bye_frame,
            seen_from_start=self.seen_from_start,
            messages=tuple(sorted(self.messages, key=lambda m: m.frame)),
            transactions=tuple(t.freeze() for t in self.transactions),
            dialogs=tuple(build_dialog(self.call_id, d.caller_tag, d.callee_tag,
                                 "terminated" if self.bye_frame and d.state == "confirmed" else d.state,
                                 d.created_frame, d.confirmed_frame) for d in self.dialogs.values()),
            negotiations=negotiations,
            info_dtmf=tuple(self.info_dtmf),
            caller_contact=self.caller_contact,
            caller_via_host=self.caller_via_host,
            session_expires_s=self.session_expires.delta_s if self.session_expires else None,
            session_refresher=self.session_expires.refresher if self.session_expires else None,
            min_se_s=self.min_se_s,
            redirect_contacts=self.redirect_contacts,
            start_frame=first_invite.ts_frame if first_invite else first.frame,
            roles_known=self.caller_seen,
        )

    def _outcome(self, invite: TxState | None, capture_end_ns: int, clock: ClockSteps = NO_STEPS,
                 capture_end_frame: int | None = None) -> tuple[str, int | None, str | None]:
        """The call's outcome from its last initial INVITE transaction (after any auth challenge)."""
        if invite is None:
            # The capture began inside the call. A final response to an initial INVITE whose request was not
            # captured still tells how it ended: a 2xx confirms the dialog (RFC 3261 §13.2.2.4, §12.1.2), a BYE or
            # a re-INVITE (also one known only by its responses: its failure is no failure of the call) means it
            # had been answered, and a non-2xx final is that failure (§13.2.2.3).
            finals = [t for t in self.transactions if t.method == "INVITE" and t.request_frame is None
                      and t.final_status is not None and not t.in_dialog]
            ok = next((t for t in finals if is_success(t.final_status or 0)), None)
            if ok is not None:
                return "answered", ok.final_status, ok.final_reason
            if self.bye_frame or self.reinvites:
                return "answered", None, None
            if finals:
                return self._final(finals[-1].final_status or 0, finals[-1].final_reason)
            return "in-progress", None, None
        code = invite.final_status
        if code is None:
            if self._confirmed():
                return "answered", None, None
            if self.cancel_frame is not None:
                return "cancelled", None, None
            # A provisional response moves the INVITE client transaction to Proceeding, where Timer B no longer
            # applies (RFC 3261 §17.1.1.2, figure 5): the call is still ringing or in early media, not lost.
            if any(is_provisional(status) for status, _tag in invite.responses):
                return "in-progress", None, None
            # Timer B fired, or the whole Timer A schedule went out unanswered (7 sends over UDP in 31.5 s,
            # RFC 3261 §17.1.1.2; 7 whatever T1 is), which a capture cut at the last retransmission still shows.
            # Across a clock step the time waited is unknown: only the retransmissions tell.
            waited = clock.elapsed_ns(invite.ts_frame, invite.ts_ns, capture_end_frame, capture_end_ns)
            if (waited is not None and waited >= self.timer_b_ns(invite, clock)) or invite.request_retransmissions >= 6:
                return "timeout", None, None
            return "in-progress", None, None
        return self._final(code, invite.final_reason)

    def timer_b_ns(self, invite: TxState, clock: ClockSteps = NO_STEPS) -> int:
        """64*T1 of the INVITE's sender (RFC 3261 §17.1.1.2): the run's T1, or the one its retransmissions show
        (RULES.md §0.5: a UAC at T1 = 1 s retransmits at 0, 1, 3, 7 s and gives up at 64 s, not 32 s)."""
        return 64 * self.timers.request_t1_ns(invite, clock)

    def _acks_2xx(self, msg: SipMessage) -> bool:
        """An ACK on a branch of its own acknowledges a 2xx (RFC 3261 §13.2.2.4): the ACK of a non-2xx reuses the
        INVITE's branch (§17.1.1.3), on each hop the INVITE was captured at. Without the INVITE, or with RFC 2543
        branches, it tells nothing."""
        invite_branches = {t.branch for t in self.initial_invites}
        return bool(invite_branches) and is_rfc3261_branch(msg.branch) and msg.branch not in invite_branches and all(
            is_rfc3261_branch(b) for b in invite_branches)

    def _confirmed(self) -> bool:
        """The dialog was confirmed though the INVITE's 2xx is not in the capture: a 2xx was acknowledged (see
        _acks_2xx) or answered on another hop, or the callee sent BYE, which it may only in a confirmed dialog
        (RFC 3261 §15)."""
        if self.bye_frame is not None and not self.is_caller_tag(self.bye_from_tag):
            return True
        return any(d.confirmed_frame is not None for d in self.dialogs.values())

    def _cancel_accepted(self) -> bool:
        return any(t.method == "CANCEL" and t.final_status is not None and is_success(t.final_status)
                   for t in self.transactions)

    def _final(self, code: int, reason: str | None) -> tuple[str, int | None, str | None]:
        """The outcome a final response to the initial INVITE gives the call (RFC 3261 §21). A 3xx (§21.3) ends the
        INVITE as "rejected" (the contract has no "redirected"; final_status tells it): a retry in this Call-ID
        is the call's next initial INVITE, in a new one another call (call.failure-response tells them apart)."""
        if is_success(code):
            return "answered", code, reason
        if code in BUSY:
            return "busy", code, reason
        # A CANCEL takes effect when the UAS accepts it (200) and ends the INVITE with 487 (RFC 3261 §9.2); a 408
        # to a CANCEL nobody accepted is the far side's own timeout (§16.6 Timer C, §21.4.9), not the caller's.
        if code in TIMEOUT_STATUS and not self._cancel_accepted():
            return "timeout", code, reason
        if code == 487 or self.cancel_frame is not None:
            return "cancelled", code, reason
        return "rejected", code, reason


def redirect_targets(msg: SipMessage) -> tuple[str, ...]:
    """The Contact URIs of a 3xx (RFC 3261 §8.1.3.4, §21.3), the first 5, each cut at 200 characters."""
    out = []
    for value in msg.headers.get_all("contact")[:5]:
        c = parse_contact(value)
        if c is not None and c.address is not None:
            out.append(c.address.uri_text[:200])
    return tuple(out)


def _via_host(via: str) -> str | None:
    """The sent-by host of a Via value (`SIP/2.0/UDP host:port;params`), brackets of IPv6 removed."""
    parts = via.split(None, 1)
    if len(parts) < 2:
        return None
    hostport = parts[1].split(";", 1)[0].strip()
    if hostport.startswith("["):
        return hostport[1 : hostport.find("]")] if "]" in hostport else None
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport


_DTMF_DIGITS = set("0123456789*#ABCDabcd")


def info_dtmf(content_type: str | None, body: bytes) -> tuple[str, int | None] | None:
    """A digit sent in a SIP INFO body: `application/dtmf-relay` (`Signal=5` / `Duration=160`, the Cisco form
    most devices use) or `application/dtmf` (the digit alone). Neither is an RFC; both are de facto."""
    text = body[:200].decode("ascii", "replace")
    if content_type == "application/dtmf-relay":
        fields = {}
        for line in text.replace("\r", "").split("\n"):
            name, _, value = line.partition("=")
            fields[name.strip().lower()] = value.strip()
        signal = fields.get("signal", "")
        duration = fields.get("duration", "")
        if signal[:1] in _DTMF_DIGITS or signal in ("10", "11"):
            digit = {"10": "*", "11": "#"}.get(signal, signal[:1].upper())
            return digit, bounded_int(duration, 2**31 - 1)  # ms; non-ASCII digits or an absurd value: unknown
    elif content_type == "application/dtmf":
        digit = text.strip()[:1]
        if digit in _DTMF_DIGITS:
            return digit.upper(), None
    return None


def _tells_caller(msg: SipMessage, tx: TxState) -> bool:
    """Whether `msg` shows which party called: its From tag is the caller's. Only the initial INVITE transaction and
    its CANCEL are sent outside a dialog, without a To tag (RFC 3261 §8.1.1.2, §9.1; a response copies the request's
    To and From, §8.2.6.2, and the UAS adds its tag only to responses that make a dialog, §12.1.1). Every other
    message of a call carries both tags, the sender's in From (§12.2.1.1) — in a request of either party: when the
    capture began inside the call (no INVITE), the tags tell the two parties apart but not which of them called, and
    the first request seen may as well be the callee's (a BYE, a session refresh, RFC 4028 §9). A response without
    a To tag to a request known to be in a dialog (a re-INVITE's 100 Trying of a device that drops it) tells
    nothing."""
    return msg.to_tag is None and msg.from_tag is not None and tx.method in ("INVITE", "CANCEL") and not tx.in_dialog


def _reliable(offer: _Offer) -> bool:
    """An answer already taken from a reliable provisional response is final (RFC 3262 §5)."""
    return offer.kind == "prack"


# Headers by which B2BUAs and SBCs name the other leg's Call-ID (Asterisk, FreeSWITCH, Kamailio, Cisco, Sonus).
CORRELATION_HEADERS = ("x-cid", "x-call-id", "x-orig-call-id", "x-original-call-id", "x-leg-call-id",
                       "x-b2bua-call-id", "x-fs-call-id")
