"""Incremental analysis of an endless feed (`sipdiag watch`): the pipeline of `analyze()` run call by call, with
memory bounded by the calls in progress, not by the calls seen.

    engine = LiveAnalyzer(on_event=print)
    for batch in feed:                       # live capture, HEP, a replayed file (sipdiag.watch.run_feed)
        datagrams, rtp = decoder.decode(batch)   # parsers.livedecode.FrameDecoder
        engine.records(batch.first_frame, batch.ts_ns)   # every record's time: capture time, gaps of the feed
        engine.add(datagrams, rtp)           # SIP parsed and correlated, RTP routed to its call's statistics
        engine.sweep()                       # ended calls summarised, checked and released
    result = engine.finish(decoder.info())   # LiveResult: the Analysis of the kept calls, and the totals

A call ends when nothing can change it any more (BYE answered; a failed INVITE ACKed: `CallBuilder.complete`) and
LINGER_NS of capture time has passed, so that its last RTP and retransmissions still reach it; an unanswered INVITE
ends 64*T1 + 4 s after its last message (Timer B has fired, RFC 3261 §17.1.1.2; the run's T1, or the INVITE's own
shown by its retransmissions: 36 s with the default T1); an answered call without BYE ends after `idle_s` with
neither SIP nor RTP.

Ages (idle time, the linger, tombstones) follow the rule by which the file analysis measures time: two record times
are subtracted only where no step of the capture's clock lies between the two records (sipdiag.clocksteps, the
steps the capture layer names; `ClockSteps.elapsed_ns` is None across one, and at the end of a capture an INVITE's
wait across a step is unknown, `CallBuilder._outcome`). The file analysis can leave such a time unknown because it
ends every call at the end of the capture; the live engine has to decide now, so it counts what it does know: the
time on the clock after the step. A call last heard of before a step is idle from the first record after it
(`LastStep.since`), a lower bound of the real idle time. So a forward jump of days ends no call, and after a step
back idle time still grows on the new clock and ends a silent call after `idle_s` of it: no call lives forever.
Capture time ("now") is the newest record's, whatever it carries (records, add), so that it and a call's last
activity, SIP or RTP, are on the same side of any step: taken from the newest SIP-side record, a call whose RTP
went on across a step to the end of a batch was aged across it (two days idle after a step back of two days).
The age a dashboard shows for a call in progress (`active_calls`) keeps to the same rule: the time known to have
passed since the call's first record (sipdiag.liveclock), the stretches of the clock on either side of a step
summed, at least, not `now - start` (two days after a forward jump of two days).

Nor is idle time counted across a gap of the feed (`records`): a stretch of at least `idle_s` in which not one
record arrived is no time a call was seen idle. It is a forward step of the capture's clock shorter than the day
the capture layer takes for one (an NTP correction, a resumed VM) or time the feed was not recording, and ending
every open call at the first record after it lost their BYEs; a live feed counts real silence with the wall clock
instead (watch.run_feed).

When a call ends, it is built like `analyze()` builds it, its RTP statistics are finalised and bound to it
(`media.build_media`), the rule set runs on its own small `Analysis`, and what is kept is a `CallSummary` (the
Call, its streams, its findings); its SipMessages, transactions and per-stream accumulators are released. Its
Call-ID is remembered for the transaction table's keep time (40 s with the default T1) so that a late
retransmission does not start a phantom call.

RTP is routed to calls through SDP: a packet belongs to the call whose offer or answer names its destination or its
source (address, port), which covers symmetric RTP behind NAT; the routing is vectorised (one sorted table of
endpoints, `searchsorted` per batch), and RTP of no call is counted, not kept.

What stays bounded on an endless feed: calls in progress (with their messages, capped at MESSAGES_PER_CALL), the
last `keep_calls` finished calls (older ones only counted in the totals), the last KEEP_OTHER stand-alone
transactions and non-call messages, registrations per binding (a binding's REGISTERs are summarised every
REG_EXCHANGES), ICMP errors (ICMP_BUDGET), anomalies (AnomalyLog).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .analysis import ICMP_BUDGET, Analysis, _SipCounter, run_timers_of
from .checks import Finding, order_findings, rule_findings, run_checks, selected_rules
from .clocksteps import NO_STEP, ClockSteps, LastStep
from .correlate import Correlator, link_legs
from .dialogs import CallBuilder
from .icmp import IcmpError, parse_icmp_error
from .liveclock import KnownAge, KnownClock, Reading, age
from .media import CallMedia, MediaStream, build_media
from .model import Call, Datagram, Registration
from .parsers.anomalies import AnomalyLog
from .parsers.columns import RtpColumns
from .parsers.scan import CaptureInfo, record_deltas
from .parsers.sip import SipMessage, parse_sip
from .rtproute import RtpRouter, address_key, take_rows
from .rtpstats import RtpStatsEngine, RtpStatsTable
from .transactions import TxState

LINGER_NS = 2 * 10**9
# Past Timer B (64*T1 of the run's T1, or of the INVITE's own: CallBuilder.timer_b_ns): 36 s with the default T1.
IDLE_UNANSWERED_MARGIN_NS = 4 * 10**9
IDLE_ANSWERED_S = 300.0
KEEP_CALLS = 1000
MESSAGES_PER_CALL = 500
KEEP_OTHER = 500
REG_EXCHANGES = 16
SWEEP_EVERY_NS = 10**9


@dataclass(frozen=True, slots=True)
class CallSummary:
    """A finished call as the live engine keeps it: what the reports need, none of the working state."""

    number: int  # 1-based, in order of the calls' first message
    call: Call
    streams: tuple[MediaStream, ...]
    media: CallMedia | None
    findings: tuple[Finding, ...]
    ended: str  # completed | timeout | idle | end-of-capture
    # The call's findings before linking (no cause/explains, NAT observations not folded): LiveAnalyzer.finish
    # links them again together with the capture-wide findings, as analyze() links one run's findings.
    unlinked: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """What the dashboard hears about: kind `call` (a call ended: `summary`), `finding` (`finding`), `registration`
    (a binding's outcome changed: `registration`)."""

    kind: str
    summary: CallSummary | None = None
    finding: Finding | None = None
    registration: Registration | None = None


@dataclass
class Totals:
    """Everything counted since the start, kept or not."""

    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)  # by rule
    severities: Counter[str] = field(default_factory=Counter)
    calls_dropped: int = 0  # finished calls summarised in the totals only (past keep_calls)
    late_messages: int = 0  # retransmissions that arrived after their call was released
    rtp_unrouted: int = 0  # RTP packets of no known call
    other_dropped: int = 0  # stand-alone transactions counted only


@dataclass(frozen=True, slots=True)
class LiveResult:
    analysis: Analysis  # the kept calls, the registrations, every finding of the run (kept calls and capture-wide)
    totals: Totals


@dataclass(eq=False)
class _ActiveCall:
    number: int
    slot: int  # its key in the RTP router
    builder: CallBuilder
    engine: RtpStatsEngine
    messages: list[SipMessage] = field(default_factory=list)
    endpoints: set[tuple[int, int, int]] = field(default_factory=set)
    last_ns: int = 0  # the time of its newest record (by frame), and that frame
    last_frame: int = 0
    rtp_packets: int = 0
    completed_ns: int | None = None
    completed_frame: int = 0
    start: Reading = Reading(0, 0)  # its first record on the known clock (liveclock): the age a dashboard shows

    def heard(self, frame: int, ts_ns: int) -> None:
        if frame >= self.last_frame:
            self.last_frame, self.last_ns = frame, ts_ns


class _SmallTable(RtpStatsTable):
    """The RTP statistics table of one call: it grows from 8 rows instead of 1024 (a call has a few streams)."""

    MIN_ROWS = 8


def _new_engine() -> RtpStatsEngine:
    engine = RtpStatsEngine()
    engine.table = _SmallTable()
    return engine


class LiveAnalyzer:
    """The incremental engine. on_event: called with each LiveEvent as it happens (from the feeding thread)."""

    def __init__(self, *, select: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
                 settings: Mapping[str, Any] | None = None, keep_calls: int = KEEP_CALLS,
                 idle_s: float = IDLE_ANSWERED_S, on_event: Callable[[LiveEvent], None] | None = None) -> None:
        self.select, self.ignore, self.settings = select, ignore, settings
        self.keep_calls = keep_calls
        self.idle_ns = int(idle_s * 1e9)
        self.on_event = on_event or (lambda e: None)
        self.sip_anomalies = AnomalyLog()  # the SIP and SDP parsers', as analyze() keeps them
        # the run's T1 and T2, as analyze() gives them to its correlator (sipdiag.checks.timers)
        self.timers = run_timers_of(settings)
        self.correlator = Correlator(self.sip_anomalies, self.timers)
        # a Call-ID is remembered as long as the transaction table keeps a transaction (SipTimers.keep_ns, 40 s
        # with the default T1): no retransmission comes later than that
        self.tombstone_ns = self.timers.keep_ns
        self.router = RtpRouter()
        self.active: dict[str, _ActiveCall] = {}
        self.slots: dict[int, _ActiveCall] = {}
        self.finished: deque[CallSummary] = deque(maxlen=keep_calls)
        self.tombstones: dict[str, tuple[int, int]] = {}  # Call-ID -> (frame, time) of the newest record when it ended
        self.totals = Totals()
        self.sip = _SipCounter()
        self.encaps: Counter[str] = Counter()
        self.other_messages: deque[SipMessage] = deque(maxlen=KEEP_OTHER)
        self.icmp: deque[IcmpError] = deque(maxlen=ICMP_BUDGET)
        self.rtcp_packets = 0
        self.reg_done: dict[tuple[str, str], Registration] = {}
        self.reg_seen: dict[tuple[str, str], tuple] = {}  # binding -> (outcome, status, attempts) last reported
        self.reported: set[tuple[str, str | None, str]] = set()  # capture-wide findings already announced
        # The capture's facts so far (run_feed sets the decoder's): rules read its counters and anomalies.
        self.capture_info: Callable[[], CaptureInfo] = _no_capture
        self.now_ns = 0  # the capture time: the newest record's, of any kind (by frame; after a step, the new clock)
        self.now_frame = 0
        self.gap = NO_STEP  # the newest gap of the feed (records): ages count from its first record, as from a step
        self.known = KnownClock()  # the steps of the capture's clock as read (records): the ages a dashboard shows
        self._last_record_ns: int | None = None
        self._next_slot = 0
        self._last_sweep_ns = 0

    # ------------------------------------------------------------------------------------------------- input

    def add(self, datagrams: Iterable[Datagram], rtp: RtpColumns | None = None) -> None:
        """One chunk of the feed, in capture order: its SIP-side datagrams, then its RTP columns."""
        for d in datagrams:
            self._now(d.frame, d.ts_ns)
            if d.kind == "icmp":
                if (error := parse_icmp_error(d)) is not None:
                    self.icmp.append(error)
            elif d.kind == "rtcp":
                self.rtcp_packets += 1
                slot = self.router.lookup(d.src_ip, d.src_port)
                slot = slot if slot is not None else self.router.lookup(d.dst_ip, d.dst_port)
                if slot is not None and slot in self.slots:
                    self.slots[slot].engine.add_datagram(d)
            elif d.kind == "sip":
                self._sip(d)
        if rtp is not None and len(rtp):
            newest = int(np.argmax(rtp.frame))
            self._now(int(rtp.frame[newest]), int(rtp.ts_ns[newest]))
            self._rtp(rtp)

    def _now(self, frame: int, ts_ns: int) -> None:
        """Capture time is the time of the newest record by frame (the one order a stepped clock keeps), so that
        it is on the clock of the newest step, as every call's last activity is."""
        if frame >= self.now_frame:
            self.now_frame, self.now_ns = frame, ts_ns

    def records(self, first_frame: int, ts_ns: np.ndarray) -> None:
        """The times of every record of one batch of the feed (frames first_frame, first_frame + 1, ...), SIP and
        RTP or not, before its datagrams are added. The newest of them is capture time (also a record that is
        neither SIP nor RTP). A record more than `idle_s` after the one before it ends a gap in which the feed
        delivered nothing: no call was seen idle in it (see sweep)."""
        if not len(ts_ns):
            return
        self._now(first_frame + len(ts_ns) - 1, int(ts_ns[-1]))
        self.known.records(first_frame, ts_ns)
        before = self._last_record_ns
        gaps = np.flatnonzero(record_deltas(ts_ns, before) >= self.idle_ns)
        if len(gaps):
            i = int(gaps[-1])
            self.gap = LastStep(first_frame + i, int(ts_ns[i]))
        self._last_record_ns = int(ts_ns[-1])

    def _sip(self, d: Datagram) -> None:
        msg = parse_sip(d.payload, frame=d.frame, ts_ns=d.ts_ns, src=(d.src_ip, d.src_port),
                        dst=(d.dst_ip, d.dst_port), transport=d.transport, dscp=d.dscp,
                        fragments=d.ip_fragments)
        if msg is None:
            return
        call_id = msg.call_id or ""
        if call_id in self.tombstones:
            self.totals.late_messages += 1
            return
        self.sip.add(msg)
        self.sip_anomalies.extend(msg.anomalies)
        self.encaps[d.encap or "none"] += 1
        self.correlator.add(msg)
        builder = self.correlator.calls.get(call_id)
        if builder is None:
            self.other_messages.append(msg)
            return
        live = self.active.get(call_id)
        if live is None:
            self.totals.calls += 1
            self._next_slot += 1
            live = self.active[call_id] = _ActiveCall(self.totals.calls, self._next_slot, builder, _new_engine(),
                                                      start=self.known.reading(msg.frame, msg.ts_ns))
            self.slots[live.slot] = live
        if len(live.messages) < MESSAGES_PER_CALL:
            live.messages.append(msg)
        live.heard(msg.frame, msg.ts_ns)
        live.engine.add_datagram(d)  # the payload-type clocks of its SDP
        if msg.body:
            self._endpoints(live)
        live.completed_ns, live.completed_frame = (msg.ts_ns, msg.frame) if builder.complete() else (None, 0)

    def _endpoints(self, live: _ActiveCall) -> None:
        slot = live.slot
        for offer in live.builder.offers:
            for md in offer.offer + (offer.answer or ()):
                if not md.address or not md.port:
                    continue
                key = address_key(md.address)
                if key is None:
                    continue
                for port in (md.port, md.port + 1):  # RTP and RTCP (RFC 3550 §11)
                    ep = (key[0], key[1], port)
                    live.endpoints.add(ep)
                    self.router.set(ep, slot)

    def _rtp(self, rtp: RtpColumns) -> None:
        owner = self.router.route(rtp)
        self.totals.rtp_unrouted += int((owner < 0).sum())
        if not (owner >= 0).any():
            return
        order = np.argsort(owner, kind="stable")
        sorted_owner = owner[order]
        start = int(np.searchsorted(sorted_owner, 0))
        slots, starts = np.unique(sorted_owner[start:], return_index=True)
        bounds = list(starts + start) + [len(order)]
        for j, slot in enumerate(slots.tolist()):
            live = self.slots.get(slot)
            if live is None:
                continue
            idx = order[bounds[j]: bounds[j + 1]]
            live.engine.add(take_rows(rtp, idx))
            live.rtp_packets += len(idx)
            live.heard(int(rtp.frame[idx[-1]]), int(rtp.ts_ns[idx[-1]]))

    # ------------------------------------------------------------------------------------------------- ending

    def sweep(self, now_ns: int | None = None, *, force: bool = False) -> None:
        """End the calls that are over at `now_ns` (capture time; default: the newest record's). Times before the
        newest step of the capture's clock, or the newest gap of the feed (records), count from the first record
        after it (LastStep.since)."""
        now = self.now_ns if now_ns is None else now_ns
        # a capture time behind the last sweep's (the clock stepped back) sweeps at once
        if not force and 0 <= now - self._last_sweep_ns < SWEEP_EVERY_NS:
            return
        self._last_sweep_ns = now
        since = self._since()
        clock = self.capture_info().clock
        for call_id, live in list(self.active.items()):
            b = live.builder
            invite = b.initial_invites[-1] if b.initial_invites else None
            idle = now - since(live.last_frame, live.last_ns)
            if live.completed_ns is not None and now - since(live.completed_frame, live.completed_ns) >= LINGER_NS:
                self._end(call_id, self._build(b, live.completed_ns), "completed")
            elif (invite is None or invite.final_status is None) and idle >= self._idle_unanswered_ns(b, invite, clock):
                self._end(call_id, self._build(b, now), "timeout")
            elif idle >= self.idle_ns:
                self._end(call_id, self._build(b, live.last_ns), "idle")
        for call_id, (frame, ended) in list(self.tombstones.items()):
            if now - since(frame, ended) > self.tombstone_ns:
                del self.tombstones[call_id]
        self._prune(now, since)

    def _idle_unanswered_ns(self, b: CallBuilder, invite: TxState | None, clock: ClockSteps) -> int:
        """How long an unanswered call stays idle before it ends: past Timer B of its INVITE (64*T1: its gaps
        between retransmissions reach 32*T1), 36 s with the default T1."""
        timer_b = self.timers.timeout_ns if invite is None else b.timer_b_ns(invite, clock)
        return timer_b + IDLE_UNANSWERED_MARGIN_NS

    def _since(self) -> Callable[[int | None, int], int]:
        """LastStep.since of the newer of the capture clock's newest step and the feed's newest gap."""
        return max(self.capture_info().clock.last, self.gap, key=lambda step: step.frame).since

    def _build(self, b: CallBuilder, end_ns: int) -> Call:
        """The call up to end_ns, as analyze() builds it: no timing across a step of the capture's clock (the steps
        read so far, sipdiag.clocksteps); one built when it completed, before a step was read, is built again."""
        info = self.capture_info()
        if b.built is not None and not info.clock.stepped:
            return b.built
        return b.build(end_ns, info.clock, info.packets)

    def _end(self, call_id: str, call: Call, how: str, end_ns: int | None = None) -> None:
        live = self.active.pop(call_id)
        self.correlator.calls.pop(call_id, None)
        slot = live.slot
        self.slots.pop(slot, None)
        for ep in live.endpoints:
            self.router.drop(ep, slot)
        self.tombstones[call_id] = (self.now_frame, self.now_ns)
        result = live.engine.finalize()
        end = end_ns if end_ns is not None else max(live.last_ns, call.start_ns)
        info = self.capture_info()
        icmp = tuple(e for e in self.icmp if call.start_ns <= e.ts_ns <= end + LINGER_NS) if self.icmp else ()
        streams, media = build_media(result, (call,), end, info.clock, info.packets, icmp)
        mini = Analysis(capture=info, messages=tuple(live.messages), sip=self.sip.summary(Counter()),
                        calls=(call,), registrations=(), transactions=(), rtp_packets=live.rtp_packets,
                        rtcp_packets=0, anomalies=info.anomalies + self.sip_anomalies.anomalies(), streams=streams, media=media, rtp=result,
                        icmp_errors=icmp, settings=self.settings)
        raw = rule_findings(mini, selected_rules(self.select, self.ignore), self.settings)
        every = order_findings(raw, mini)  # = run_checks(mini, ...), keeping the unlinked findings too
        # The call's own findings stay with it; capture-wide ones (a run of anomalies, a scanner) are announced
        # once here and found again by the final run over the whole (LiveAnalyzer.finish).
        findings = keep_findings(every, lambda f: f.call_id == call.call_id)
        unlinked = tuple(f for f in raw if f.call_id == call.call_id)
        for f in every:
            if f.call_id is None and (f.rule, None, f.title) not in self.reported:
                self.reported.add((f.rule, None, f.title))
                self.on_event(LiveEvent("finding", finding=f))
        summary = CallSummary(live.number, call, streams, media[0] if media else None, findings, how, unlinked)
        if len(self.finished) == self.finished.maxlen:
            self.totals.calls_dropped += 1
        self.finished.append(summary)
        self.totals.outcomes[call.outcome] += 1
        for f in findings:
            self.totals.findings[f.rule] += 1
            self.totals.severities[f.severity.label] += 1
        self.on_event(LiveEvent("call", summary=summary))
        for f in findings:
            self.on_event(LiveEvent("finding", finding=f))

    def _prune(self, now: int, since: Callable[[int | None, int], int], final: bool = False) -> None:
        c = self.correlator
        if len(c.other) > 2 * KEEP_OTHER:
            drop = list(c.other)[: len(c.other) - KEEP_OTHER]
            for k in drop:
                del c.other[k]
            self.totals.other_dropped += len(drop)
        live_tx = {id(tx) for tx in c.table.by_key.values()}
        if len(c.registration_of) > len(live_tx) + 64:
            c.registration_of = {k: v for k, v in c.registration_of.items() if k in live_tx}
        for key, builder in list(c.registrations.items()):
            txs = builder.transactions
            if not txs or txs[-1].final_status is None or (
                    now - since(txs[-1].final_frame, txs[-1].final_ts_ns or 0) < LINGER_NS and not final):
                continue
            seen = (len(txs), txs[-1].final_status)
            if self.reg_seen.get(key) != seen:
                self.reg_seen[key] = seen
                self._registration_changed(builder.build())
            if len(txs) >= REG_EXCHANGES:
                # Summarised: the next REGISTER of this binding starts a new builder (memory stays flat).
                self.reg_done[key] = builder.build()
                del c.registrations[key]
                c.registration_of = {k: v for k, v in c.registration_of.items() if v is not builder}
                self.reg_seen.pop(key, None)

    def _registration_changed(self, reg: Registration) -> None:
        self.on_event(LiveEvent("registration", registration=reg))
        mini = Analysis(capture=_no_capture(), messages=(), sip=self.sip.summary(Counter()), calls=(),
                        registrations=(reg,), transactions=(), rtp_packets=0, rtcp_packets=0, anomalies=(),
                        settings=self.settings)
        for f in run_checks(mini, select=self.select, ignore=self.ignore, settings=self.settings):
            key = (f.rule, reg.aor, reg.contact)
            if key not in self.reported:
                self.reported.add(key)
                self.on_event(LiveEvent("finding", finding=f))

    # ------------------------------------------------------------------------------------------------- views

    def active_calls(self) -> list[tuple[int, Call, int, KnownAge]]:
        """(number, call as it stands, RTP packets, age) of every call in progress, oldest first (for a dashboard).
        The age is the time known to have passed since the call's first record (liveclock): across a step of the
        capture's clock, the time on either side of it, at least, not now - start (two days after a forward jump
        of two days, nothing after a step back)."""
        now = self.known.reading(self.now_frame, self.now_ns)
        return [(live.number, live.builder.build(self.now_ns), live.rtp_packets, age(live.start, now))
                for live in self.active.values()]

    def active_streams(self, limit: int = 20) -> list[tuple[int, str, int, str, int, int, int]]:
        """(call number, src, sport, dst, dport, ssrc, packets) of the RTP streams of calls in progress."""
        from .parsers.scan import address

        out = []
        for live in self.active.values():
            t = live.engine.table
            for r in range(t.rows):
                c = t.cols
                out.append((live.number, address(int(c["src_hi"][r]), int(c["src_lo"][r])), int(c["src_port"][r]),
                            address(int(c["dst_hi"][r]), int(c["dst_lo"][r])), int(c["dst_port"][r]),
                            int(c["ssrc"][r]), int(c["packets"][r])))
                if len(out) >= limit:
                    return out
        return out

    def registrations(self) -> list[Registration]:
        """Every binding's latest state: the ones in progress built now, the summarised ones as last seen."""
        current = {key: b.build() for key, b in self.correlator.registrations.items() if b.transactions}
        merged = {**self.reg_done, **current}
        return sorted(merged.values(), key=lambda r: r.first_frame)

    # ------------------------------------------------------------------------------------------------- end

    def finish(self, info: CaptureInfo) -> LiveResult:
        """End of the feed: every call still in progress is ended as `analyze()` ends it at the end of a
        capture; returns the Analysis of the kept calls with every finding, and the totals."""
        end = info.last_ts_ns or self.now_ns
        for call_id, live in list(self.active.items()):
            b = live.builder
            self._end(call_id, self._build(b, end) if live.completed_ns is not None and b.built else
                      b.build(end, info.clock, info.packets), "end-of-capture", end)
        self._prune(end, info.clock.last.since, final=True)
        kept = sorted(self.finished, key=lambda s: s.call.first_frame)
        calls = link_legs([s.call for s in kept], {}, info.clock)
        streams: list[MediaStream] = []
        media: list[CallMedia] = []
        for s in kept:
            base = len(streams)
            streams.extend(s.streams)
            if s.media is not None:
                media.append(replace(s.media, streams=tuple(base + i for i in s.media.streams)))
        regs = tuple(self.registrations())
        c = self.correlator
        analysis = Analysis(
            capture=info,
            messages=tuple(self.other_messages),
            sip=self.sip.summary(self.encaps),
            calls=tuple(calls),
            registrations=regs,
            transactions=tuple(t.freeze() for t in c.other.values()),
            rtp_packets=sum(m.stats.packets for m in streams),
            rtcp_packets=self.rtcp_packets,
            anomalies=info.anomalies + self.sip_anomalies.anomalies(),
            streams=tuple(streams),
            media=tuple(media),
            rtp=None,
            icmp_errors=tuple(self.icmp),
            settings=self.settings,  # what is made of the result (a reply, a case) judges by the run's thresholds
        )
        # Capture-wide rules (registrations, scanners, anomalies) on the whole; the calls' findings are the ones
        # each call's own run gave (with its RTP statistics). Both are linked symptom -> cause in one pass, as
        # analyze() links one run's findings (RULES.md §2): a capture-wide finding explains a call's (IP
        # fragmentation an unanswered INVITE, an attack the attacker's calls), and the links are positions in
        # this very tuple. Filtering an already linked list instead left positions of the unfiltered one.
        wide = [f for f in rule_findings(analysis, selected_rules(self.select, self.ignore), self.settings)
                if f.call_id is None]
        findings = order_findings(wide + [f for s in kept for f in s.unlinked], analysis)
        return LiveResult(replace(analysis, findings=findings), self.totals)


def keep_findings(findings: tuple[Finding, ...], keep: Callable[[Finding], bool]) -> tuple[Finding, ...]:
    """The findings `keep` accepts, order kept, cause/explains positions moved (links to dropped ones removed)."""
    kept = [i for i, f in enumerate(findings) if keep(f)]
    new = {old: pos for pos, old in enumerate(kept)}
    return tuple(replace(findings[i], cause=new.get(findings[i].cause) if findings[i].cause is not None else None,
                         explains=tuple(new[j] for j in findings[i].explains if j in new)) for i in kept)


def _no_capture() -> CaptureInfo:
    return CaptureInfo("live", "live", False, (), 0, 0, None, None, 0, 0, {}, {}, (), ())
