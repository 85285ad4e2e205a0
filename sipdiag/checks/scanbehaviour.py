"""Scanning told by what a source does, not by the name it gives (RULES.md sec.scanner-detected, trigger (b)).

A scanner (svmap, svwar, sippts, the fraud kits) sends OPTIONS, REGISTER or INVITE to user after user, or host after
host, and most of what it asks for does not exist: the answers are 404 (no such user), 401/407 (a user that exists
but wants a password), 403, or nothing at all. Legitimate sources that also reach many users or hosts are answered:
an SBC or an office NAT whose phones sign in (2xx), a PBX trunk whose calls ring (18x) and connect (2xx), a
monitoring pinger whose peers answer its OPTIONS (200), or, where a peer is down, one that keeps asking the same
peers on a timer (RFC 3261 §11: OPTIONS as a keepalive). So only failed probes count: a target (a user part, a
destination address) none of whose requests from the source was accepted, refused with one of REFUSALS or not
answered, and not asked again and again at a steady pace. The source is a scanner where, within 60 s, its failed
probes reach `security.scan_distinct_users_60s` (20) user parts or `security.scan_distinct_dst_ips_60s` (10)
destination addresses, and fewer of its targets were accepted than failed (as sec.bruteforce-auth's
_devices_behind: behind an SBC most phones sign in, a scan's targets mostly do not exist).

An address that sent requests to the source itself (a phone registered with it, a trunk peer pinging it back) is its
peer, not a target: a registrar's nathelper OPTIONS to thousands of registered phones is no scan.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..addresses import address_host, is_ip_literal
from ..parsers.sipuri import parse_uri
from .regretry import steady_interval_s
from .settings import memoised, setting

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..clocksteps import ClockSteps
    from ..model import Transaction

# The answers a scan's probes get (RULES.md sec.scanner-detected, engineer text "responses leaked (404 vs 401
# enumeration)"): 404 no such user, 401/407 a user that exists but wants a password (RFC 3261 §22), 403 refused,
# 484 an incomplete number (a dial plan probed digit by digit). Busy, unavailable or declined (486, 480, 603) come
# from a real endpoint: a call, not a probe.
REFUSALS = frozenset({401, 403, 404, 407, 484})
PROBED = ("OPTIONS", "REGISTER", "INVITE")
WINDOW_NS = 60 * 10**9  # RULES.md §5: security.scan_distinct_*_60s
KEEPALIVE_MIN_REQUESTS = 3  # a pace needs two intervals to be seen as steady
SEQUENTIAL_MIN = 3  # the shortest run of consecutive extensions the evidence names


@dataclass(frozen=True, slots=True)
class Probe:
    """One request of a source: whom it asked for and what came back."""

    method: str
    frame: int
    ts_frame: int | None  # the frame of ts_ns (steady_interval_s measures no interval across a clock step)
    ts_ns: int
    user: str | None  # the user part asked for: the Request-URI's, the AOR's for a REGISTER (RFC 3261 §10.2)
    dst: str  # the destination address (host)
    bare_ip: bool  # the Request-URI names a host by its IP address, no domain
    status: int | None  # final status; None: not answered (a 100 Trying is no answer)
    accepted: bool  # 2xx, or 18x to an INVITE: the target exists and took the request


@dataclass(frozen=True, slots=True)
class Scan:
    """What makes a source a scanner by behaviour, for the finding's evidence."""

    trigger: str  # "users", "destinations" (which threshold a 60 s window reached) or "sequential" (a sweep)
    users: int  # distinct user parts of the failed probes in the window
    destinations: int  # distinct destination addresses of the failed probes in the window (peers left out)
    window_s: float | None  # the span of that window; None across a step of the capture's clock
    requests: int  # the source's failed probes in the whole capture
    methods: tuple[str, ...]
    sample: tuple[str, ...]  # user parts tried in the window, the first 10 in order
    sequential: int  # the longest run of consecutive extensions that failed (100, 101, ...); 0 below SEQUENTIAL_MIN
    bare_ip: int  # failed probes whose Request-URI names the host by its IP address
    responses: dict[str, int]  # "404", "401", ..., "none": how the failed probes were answered
    accepted: int  # targets accepted (2xx, INVITE 18x)
    registered: bool  # a REGISTER from the source was accepted (never registered: RULES.md trigger (c))
    first_frame: int
    frames: tuple[int, ...]  # the window's probes, the first 50


def scan_sources(analysis: Analysis) -> dict[str, Scan]:
    """Per source host, the scan its requests make (see the module's docstring); sources that make none are left
    out. Computed once per run's settings (sipdiag.checks.settings.memoised)."""
    return memoised(analysis, "scan_sources", _scan_sources)


def _scan_sources(analysis: Analysis) -> dict[str, Scan]:
    probed = list(_probed(analysis))
    hosts: dict[str, str] = {}  # "ip:port" -> ip: a source sends from a few ports
    for t, _uri in probed:
        if t.src not in hosts:
            hosts[t.src] = address_host(t.src)
    # Every trigger counts distinct users or destinations of failed probes, so a source needs at least as many
    # failed requests as the lower threshold: only those sources are looked at closely (their users parsed, their
    # keepalives and windows found). On a busy capture, whose sources are phones and trunks that mostly get
    # answers, that spared three quarters of this rule's time (0.21 s -> 0.05 s of the rules' 0.77 s on 2000 calls).
    need = min(setting("security.scan_distinct_users_60s"), setting("security.scan_distinct_dst_ips_60s"))
    failing = Counter(hosts[t.src] for t, _uri in probed if t.request_frame is not None and _failed(t))
    candidates = {src for src, n in failing.items() if n >= need}
    if not candidates:
        return {}
    users: dict[str | None, str | None] = {}
    per_source: dict[str, list[Probe]] = {}
    for t, uri in probed:
        src = hosts[t.src]
        if src in candidates:
            if uri not in users:
                users[uri] = _user(uri)
            probe = _probe(t, users[uri])
            if probe is not None:
                per_source.setdefault(src, []).append(probe)
    if not per_source:
        return {}
    peers = _peers(analysis)
    registered = {address_host(r.source) for r in analysis.registrations
                  if any(x.status is not None and 200 <= x.status < 300 for x in r.exchanges)}
    out = {}
    for src, probes in per_source.items():
        scan = _scan(analysis.capture.clock, probes, peers.get(src, set()), src in registered)
        if scan is not None:
            out[src] = scan
    return out


def _probed(analysis: Analysis):
    """(transaction, what names the user it asks for) of every OPTIONS, REGISTER and INVITE sent outside a dialog:
    the Request-URI; a REGISTER's names the registrar's domain, so its registration's AOR, the To (RFC 3261
    §10.2)."""
    for t in analysis.transactions:
        if t.method == "OPTIONS" and not t.in_dialog:
            yield t, t.request_uri
    for r in analysis.registrations:
        for t in r.transactions:
            if t.method == "REGISTER":
                yield t, r.aor
    for call in analysis.calls:
        for t in call.transactions:
            if t.method == "INVITE" and not t.in_dialog:
                yield t, t.request_uri or call.callee


def _user(uri: str | None) -> str | None:
    parsed = parse_uri(uri) if uri else None
    return parsed.user if parsed is not None and parsed.user else None


def _accepted(t: Transaction) -> bool:
    """2xx, or 18x to an INVITE: the target exists and took the request."""
    codes = [code for code, _frame, _ts in t.responses]
    return any(200 <= c < 300 for c in codes) or (t.method == "INVITE" and any(100 < c < 200 for c in codes))


def _failed(t: Transaction) -> bool:
    """A failed probe: not accepted, and refused with one of REFUSALS or not answered."""
    return not _accepted(t) and (t.final_status is None or t.final_status in REFUSALS)


def _probe(t: Transaction, user: str | None) -> Probe | None:
    if t.request_frame is None:  # only its answers were captured: whom it asked for is unknown
        return None
    uri = parse_uri(t.request_uri) if t.request_uri else None
    return Probe(t.method, t.request_frame, t.ts_frame, t.ts_ns, user, address_host(t.dst),
                 bool(uri is not None and uri.host and is_ip_literal(uri.host.strip("[]"))), t.final_status,
                 _accepted(t))


def _peers(analysis: Analysis) -> dict[str, set[str]]:
    """Per host, the hosts that sent it requests: its peers (registered phones, trunk peers), not targets."""
    out: dict[str, set[str]] = {}
    every = [analysis.transactions, *(r.transactions for r in analysis.registrations),
             *(c.transactions for c in analysis.calls)]
    for transactions in every:
        for t in transactions:
            out.setdefault(address_host(t.dst), set()).add(address_host(t.src))
    return out


def _scan(clock: ClockSteps, probes: list[Probe], peers: set[str], registered: bool) -> Scan | None:
    ok_users = {p.user for p in probes if p.accepted and p.user is not None}
    ok_dsts = {p.dst for p in probes if p.accepted}
    keepalives = _keepalives(clock, probes)
    failed = []
    for p in probes:
        if p.accepted or (p.status is not None and p.status not in REFUSALS):
            continue
        if (p.method, p.user, p.dst) in keepalives:
            continue
        failed.append(p)
    failed_users = {p.user for p in failed if p.user is not None} - ok_users
    failed_dsts = {p.dst for p in failed if p.dst not in peers} - ok_dsts
    # a source whose targets mostly answer is an SBC, an office NAT, a trunk or a pinger (the module's docstring)
    if not failed or len(ok_users) + len(ok_dsts) >= len(failed_users) + len(failed_dsts):
        return None
    failed = [p for p in failed if p.user in failed_users or p.dst in failed_dsts]
    failed.sort(key=lambda p: p.frame if clock.stepped else (p.ts_ns, p.frame))
    users_at, users_most = _densest(clock, failed, lambda p: p.user if p.user in failed_users else None)
    dsts_at, dsts_most = _densest(clock, failed, lambda p: p.dst if p.dst in failed_dsts else None)
    sweep = _sequential(list(failed_users))
    if users_most >= setting("security.scan_distinct_users_60s"):
        trigger, window = "users", failed[users_at[0]:users_at[1] + 1]
    elif dsts_most >= setting("security.scan_distinct_dst_ips_60s"):
        trigger, window = "destinations", failed[dsts_at[0]:dsts_at[1] + 1]
    elif len(sweep) >= setting("security.scan_distinct_users_60s"):
        # RULES.md's "sequential extension enumeration": a sweep as long as the users threshold, however slow
        # (svwar's --delay, a tool spreading its probes to stay under a rate limit)
        trigger, window = "sequential", [p for p in failed if p.user in sweep]
    else:
        return None
    tried = list(dict.fromkeys(p.user for p in window if p.user in failed_users))
    span = clock.elapsed_ns(window[0].frame, window[0].ts_ns, window[-1].frame, window[-1].ts_ns)
    return Scan(
        trigger=trigger, users=len(tried), destinations=len({p.dst for p in window if p.dst in failed_dsts}),
        window_s=None if span is None else round(span / 1e9, 1), requests=len(failed),
        methods=tuple(m for m in PROBED if any(p.method == m for p in failed)), sample=tuple(tried[:10]),
        sequential=len(sweep) if len(sweep) >= SEQUENTIAL_MIN else 0, bare_ip=sum(p.bare_ip for p in failed),
        responses=dict(sorted(Counter(str(p.status) if p.status else "none" for p in failed).items())),
        accepted=len(ok_users | ok_dsts), registered=registered, first_frame=min(p.frame for p in failed),
        frames=tuple(sorted(p.frame for p in window))[:50])


def _keepalives(clock: ClockSteps, probes: list[Probe]) -> set[tuple]:
    """(method, user, destination) of the failed requests a source repeats at a steady pace: a pinger's to a peer
    that is down (RFC 3261 §11), a device retrying its refused registration on its timer (RFC 3261 §10.2.4, as
    sec.bruteforce-auth's _steady_device), not a scan's one-off probes."""
    failed: dict[tuple, list[Probe]] = {}
    for p in probes:
        if not p.accepted and (p.status is None or p.status in REFUSALS):
            failed.setdefault((p.method, p.user, p.dst), []).append(p)
    out = set()
    for key, repeated in failed.items():
        if steady_interval_s(clock, repeated, KEEPALIVE_MIN_REQUESTS) is not None:
            out.add(key)
    return out


def _densest(clock: ClockSteps, probes: list[Probe], key) -> tuple[tuple[int, int], int]:
    """The window of at most 60 s (no step of the capture's clock inside) with the most distinct keys (None:
    not counted): its (first, last) index in `probes` and that count. Two pointers over the ordered probes."""
    best, at, lo = 0, (0, 0), 0
    counts: dict[str, int] = {}
    for hi, p in enumerate(probes):
        k = key(p)
        if k is not None:
            counts[k] = counts.get(k, 0) + 1
        while lo < hi and (p.ts_ns - probes[lo].ts_ns > WINDOW_NS or not clock.sound(probes[lo].frame, p.frame)):
            old = key(probes[lo])
            if old is not None:
                counts[old] -= 1
                if not counts[old]:
                    del counts[old]
            lo += 1
        if len(counts) > best:
            best, at = len(counts), (lo, hi)
    return at, best


def _sequential(users: list[str]) -> set[str]:
    """The longest run of consecutive numbers among the numeric user parts (an extension sweep: 100, 101, ...),
    as the user parts tried (leading zeros kept apart: 0100 is not 100)."""
    numbers: dict[int, str] = {}
    for u in users:
        if u.isascii() and u.isdigit() and len(u) <= 15 and (u == "0" or not u.startswith("0")):
            numbers[int(u)] = u
    best: list[int] = []
    run: list[int] = []
    for n in sorted(numbers):
        run = run + [n] if run and n == run[-1] + 1 else [n]
        if len(run) > len(best):
            best = run
    return {numbers[n] for n in best}
