"""`analyze(path) -> Analysis`: the pipeline of ARCHITECTURE.md run over one capture.

One pass over the capture: SIP-side datagrams are parsed into `SipMessage`s (few), RTP column batches are folded
into per-stream accumulators (many packets, few streams), so memory does not grow with the file.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .checks import Finding, _load_rules, run_checks
from .correlate import Correlator
from .errors import UsageError
from .model import Anomaly, Call, Datagram, Registration, Transaction
from .ingest import CaptureRead, CaptureResult, ParsedBatch, ingest
from .icmp import IcmpError, parse_icmp_error
from .later import LATER, _Later
from .media import CallMedia, MediaStream, build_media
from .rtpresult import RtpStatsResult
from .parsers.anomalies import AnomalyLog
from .parsers.scan import CaptureInfo
from .parsers.sip import SipMessage, parse_datagram
from .sipdscp import DscpLog, SipDscps
from .siptimers import DEFAULT_TIMERS, SipTimers
from .udpsizes import SizeLog, UdpSizes


@dataclass(frozen=True, slots=True)
class SipSummary:
    messages: int
    requests: dict[str, int]  # by method
    responses: dict[int, int]  # by status code: 100-699 (RFC 3261 §7.2), others are sip.bad-status-code
    transports: dict[str, int]
    encapsulations: dict[str, int]  # none, hep, gre, erspan, ipip, ...


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything one run produced; every output is rendered from this alone."""

    capture: CaptureInfo
    messages: tuple[SipMessage, ...]  # full messages, the first MESSAGE_BUDGET of them (see analyze())
    sip: SipSummary
    calls: tuple[Call, ...]
    registrations: tuple[Registration, ...]
    transactions: tuple[Transaction, ...]  # stand-alone: OPTIONS, SUBSCRIBE/NOTIFY, MESSAGE, PUBLISH, ...
    rtp_packets: int
    rtcp_packets: int
    anomalies: tuple[Anomaly, ...]
    streams: tuple[MediaStream, ...] = ()  # every RTP stream measured, bound to its call (issue 5)
    media: tuple[CallMedia, ...] = ()  # per call, in the order of `calls`: its streams, audio verdict, DTMF
    rtp: RtpStatsResult | None = None  # the raw statistics: DTMF events, RTCP reports, capture hiccups
    findings: tuple[Finding, ...] = ()  # the rule set's diagnosis, worst first (sipdiag.checks)
    # ICMP errors quoting a packet (sipdiag.icmp), forwarded by the capture side with the SIP datagrams;
    # router.icmp-unreachable reads them.
    icmp_errors: tuple[IcmpError, ...] = ()
    # The size of every SIP message over UDP, and a record of the large or fragmented ones (sipdiag.udpsizes):
    # router.udp-fragmentation judges them all, not only those in `messages`. None where no log was kept (the
    # live engine's analyses): the rule then reads `messages`.
    udp_sizes: UdpSizes | None = None
    # The DSCP of every SIP message, counted per call, flow and value (sipdiag.sipdscp): qos.dscp-marking judges
    # them all, not only those in `messages`. None where none were counted (the live engine's analyses): the rule
    # then reads `messages`.
    sip_dscps: SipDscps | None = None
    # The threshold tree the rules ran under (a full tree, sipdiag.checks.settings.merged: a --config file's),
    # None for RULES.md §5's defaults. What is computed from the analysis after its rules (the case summary and
    # triage, the reply, a batch row) reads its thresholds from here (checks.settings.analysed_under), so that
    # it counts as the findings do; `replace` keeps it, and the background rule engine's child inherits it.
    settings: Mapping[str, Any] | None = field(default=None, repr=False)
    _media_by_call: dict[str, CallMedia] = field(default_factory=dict, init=False, repr=False, compare=False)
    # What several rules derive from the same messages (e.g. the Via paths of sipdiag.checks.vias), computed
    # once per run by the first rule that asks. A cache, not state: it never changes what a rule returns.
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_media_by_call", {m.call_id: m for m in self.media})

    def media_of(self, call: Call) -> CallMedia | None:
        """The media of a call (its streams, verdict, DTMF); None for a call without any."""
        return self._media_by_call.get(call.call_id)

    def find_call(self, ref: str) -> Call:
        """A call by its Call-ID, or `#N` for the N-th call of the calls table (1-based, in capture order), or by
        the start of its Call-ID (4 characters or more, when one call matches).

        A Call-ID on the wire can be "#3" (RFC 3261 §25.1's `word` has no "#", but the parser keeps a Call-ID as it
        comes): a call whose Call-ID is exactly `ref` comes first, so that every call can be named by its Call-ID;
        else "#N" is a number of the table. Raises UsageError naming what there is when nothing matches.
        """
        for call in self.calls:
            if call.call_id == ref:
                return call
        if ref.startswith("#") and ref[1:].isascii() and ref[1:].isdigit():  # "#١" is a Call-ID, not call 1
            n = int(ref[1:])
            if 1 <= n <= len(self.calls):
                return self.calls[n - 1]
            raise UsageError(f"there is no call #{n}: the capture has {len(self.calls)} call(s)",
                             hint=f"Use #1 to #{len(self.calls)} or a Call-ID." if self.calls else
                             "The capture holds no INVITE.")
        matches = [c for c in self.calls if c.call_id.startswith(ref)] if len(ref) >= 4 else []
        if len(matches) == 1:
            return matches[0]
        raise UsageError(f"no call with Call-ID {ref!r} in the capture ({len(self.calls)} call(s))",
                         hint="See the calls table of 'sipdiag analyze FILE' for Call-IDs and #N numbers.")


# Full SipMessages kept in Analysis.messages. Calls keep every message as a small MessageRef whatever the
# capture's size; the full text of the first MESSAGE_BUDGET messages is kept for the views that show it.
MESSAGE_BUDGET = 5000
# ICMP errors kept: a router rejecting every RTP packet of a long call sends thousands; the first ones prove it.
ICMP_BUDGET = 2000


ENGINES = ("native", "tshark")


def analyze(path: str | Path, *, keep_messages: bool | int = True, select: tuple[str, ...] = (),
            ignore: tuple[str, ...] = (), settings: Mapping[str, Any] | None = None, rules: bool = True,
            engine: str = "native", keylog: str | Path | None = None,
            early: Callable[[Analysis], object] | None = None) -> Analysis:
    """Read the capture at `path` ('-' for standard input) and return its Analysis.

    engine: `native` (sipdiag's own capture layer, fast) or `tshark` (Wireshark's dissection through pyshark,
    slow and thorough: SIP over TLS with `keylog`, encapsulations only Wireshark opens; sipdiag.tsharkengine).
    keylog: a TLS key log file (SSLKEYLOGFILE format) for the tshark engine.

    rules: False leaves `findings` empty, for a caller that runs the rule engine itself
    (sipdiag.checks.background runs it on the other core while the JSON document is written).
    early: with rules=False, called once with the analysis as it stands when its calls are built, before the RTP
    streams are bound to them and rated (`streams` and `media` empty, `rtp_packets` 0, and `rtp` sipdiag.later.LATER
    when the capture side has not finished the RTP statistics yet, which the native engine's has not): the rule
    engine's first stage starts there (sipdiag.checks.background.EarlyRules).

    select/ignore: rule ids or prefixes (`media`, `call.ack-timeout-32s`) to run or leave out.
    settings: rule thresholds (a full tree, see sipdiag.checks.settings.merged); None = RULES.md §5 defaults. Kept
    in `Analysis.settings` (with rules=False too, for the rule engine run later): the summary and the reply made
    from the analysis judge by the same thresholds as its findings.
    keep_messages: True keeps the first MESSAGE_BUDGET full SipMessages in `Analysis.messages`, an int keeps
    that many, False none; calls always keep every message as a `MessageRef`, so memory stays bounded. The rules
    that read header details (Via/rport, Content-Length, two-point ALG comparison) read the kept messages: every
    command keeps the default so that its findings equal the library's.

    Raises CaptureFormatError (not a capture) or CaptureReadError (cannot be read); with the tshark engine also
    TsharkMissingError, KeylogError, TsharkFailedError; damage inside a capture is never raised: it is reported
    in `Analysis.anomalies`.
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}", hint=f"Use one of: {', '.join(ENGINES)}.")
    if keylog is not None and engine != "tshark":
        raise UsageError("--keylog needs --engine tshark: only Wireshark's dissection decrypts TLS",
                         hint="sipdiag analyze FILE --engine tshark --keylog KEYS.log")
    if engine == "tshark":
        from .tsharkengine import ingest_tshark

        source = ingest_tshark(path, keylog=keylog)  # checks tshark, the key log and the file before the run
    else:
        source = None
    # The run makes hundreds of thousands of small acyclic objects; the cyclic collector would walk them over and
    # over (measured: 40 % of the run on a 1 M-packet capture). Reference counting still frees them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        # The rules are loaded while this process would wait for the reader: here they run here. With `early` the
        # rule engine forks (sipdiag.checks.background), and only the rules' modules, which it reads before the
        # fork, are loaded: the device knowledge base (~35 ms) is loaded by the processes whose findings need it,
        # on the other core.
        idle = _load_checks if rules else _load_rules if early else None
        analysis = _analyze(path, keep_messages, source, idle, run_timers_of(settings), settings,
                            None if rules else early)
        if not rules:
            return analysis
        return replace(analysis, findings=run_checks(analysis, select=select, ignore=ignore,
                                                           settings=settings))
    finally:
        if gc_was_enabled:
            gc.enable()


def _load_checks() -> None:
    """Load what the checks need on first use (the rule modules, the device knowledge base with its patterns:
    about 0.1 s), while the capture reader in the other process is still ahead of this one."""
    from .devices import knowledge_base

    _load_rules()
    knowledge_base()


def run_timers_of(settings: Mapping[str, Any] | None) -> SipTimers:
    """The RFC 3261 T1 and T2 of `settings` (None: the defaults), for the transactions and call outcomes built
    while the capture is read, before the rules run under those settings (sipdiag.checks.timers)."""
    from .checks.settings import active
    from .checks.timers import run_timers

    with active(settings):
        return run_timers()


def _analyze(path: str | Path, keep_messages: bool | int, source=None, idle=None,
             timers: SipTimers = DEFAULT_TIMERS, settings: Mapping[str, Any] | None = None,
             early: Callable[[Analysis], object] | None = None) -> Analysis:
    messages: list[SipMessage] = []
    budget = MESSAGE_BUDGET if keep_messages is True else int(keep_messages)
    encaps: Counter[str] = Counter()
    sip = _SipCounter()
    log = AnomalyLog()  # the SIP and SDP parsers' anomalies, bounded: a flood of bad SIP cannot eat memory
    correlator = Correlator(log, timers)
    result: CaptureResult | None = None
    icmp: list[IcmpError] = []
    sizes = SizeLog()
    dscps = DscpLog()

    def take(msg: SipMessage, encap: str) -> None:
        # one SIP message, whichever process parsed it (see ingest.BEHIND_BYTES)
        sip.add(msg)
        encaps[encap or "none"] += 1
        log.extend(msg.anomalies)
        correlator.add(msg)
        sizes.add(msg)
        dscps.add(msg)
        if len(messages) < budget:
            messages.append(msg)

    def take_icmp(d: Datagram) -> None:
        # an ICMP error quoting a SIP or RTP packet, whichever process sent it; the first ICMP_BUDGET are kept
        if len(icmp) < ICMP_BUDGET and (error := parse_icmp_error(d)) is not None:
            icmp.append(error)

    analysis: Analysis | None = None

    def made(read: CaptureRead | CaptureResult, rtp: RtpStatsResult | _Later) -> Analysis:
        """The analysis as far as the SIP side goes (its calls finished), its streams not bound yet; the early rules
        start on it. rtp: LATER when the capture reader is still finishing the streams (CaptureRead)."""
        info = read.info
        correlation = correlator.finish(info.last_ts_ns or 0, info.clock, info.packets)
        so_far = Analysis(
            capture=info,
            messages=tuple(messages),
            sip=sip.summary(encaps),
            calls=correlation.calls,
            registrations=correlation.registrations,
            transactions=correlation.transactions,
            rtp_packets=0,
            rtcp_packets=read.rtcp_packets,
            anomalies=info.anomalies + log.anomalies(),
            rtp=rtp,  # type: ignore[arg-type]
            icmp_errors=tuple(icmp),
            udp_sizes=sizes.finish(),
            sip_dscps=dscps.finish(),
            settings=settings,
        )
        if early is not None:
            early(so_far)
        return so_far

    for item in source if source is not None else ingest(path, idle=idle):
        if isinstance(item, CaptureResult):
            result = item
            continue
        if isinstance(item, CaptureRead):  # every SIP message is in: finish the calls while the reader finishes
            analysis = made(item, LATER)   # the streams (sipdiag.ingest.CaptureRead)
            continue
        if isinstance(item, ParsedBatch):  # the capture reader parsed these while this process was behind
            for error in item.icmp:
                take_icmp(error)
            for msg, encap in zip(item.messages, item.encaps):
                take(msg, encap)
            continue
        for d in item:
            if d.kind == "icmp":
                take_icmp(d)
                continue
            msg = parse_datagram(d)
            if msg is not None:
                take(msg, d.encap)
    assert result is not None
    info = result.info
    # a source without a CaptureRead (the tshark engine) gives everything at once
    analysis = made(result, result.rtp_stats) if analysis is None else replace(analysis, rtp=result.rtp_stats)
    streams, media = build_media(result.rtp_stats, analysis.calls, info.last_ts_ns or 0, info.clock, info.packets,
                                 icmp)
    return replace(analysis, streams=streams, media=media, rtp_packets=sum(m.stats.packets for m in streams))


class _SipCounter:
    def __init__(self) -> None:
        self.messages = 0
        self.requests: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()
        self.transports: Counter[str] = Counter()

    def add(self, m: SipMessage) -> None:
        self.messages += 1
        if m.is_request:
            self.requests[m.method or "?"] += 1
        elif m.status_code is not None and 100 <= m.status_code <= 699:
            # Only a code of the six classes is a response's status (RFC 3261 §7.2, §21): a status line with
            # "000", "099" or "700" is a malformed message, named by the parser (sip.bad-status-code) and counted
            # among the messages, as one with no three-digit code is, but not as a response of that code.
            self.responses[m.status_code] += 1
        self.transports[m.transport] += 1

    def summary(self, encaps: Counter[str]) -> SipSummary:
        return SipSummary(self.messages, dict(self.requests), dict(sorted(self.responses.items())),
                          dict(self.transports), dict(encaps))
