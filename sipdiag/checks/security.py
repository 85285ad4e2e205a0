"""Security rules (RULES.md §3.8)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING

from ..addresses import address_host
from ..parsers.sipuri import parse_uri
from . import Hit, Severity, check
from .digestrefusal import OLD_NONCE, Refusal, challenges_of, credentials_of, judged
from .regretry import steady_interval_s
from .scanbehaviour import Scan, scan_sources
from .settings import memoised, setting

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..clocksteps import ClockSteps
    from ..model import RegisterExchange, Registration

# User-Agent strings of widespread SIP scanners and fraud tools (SIPVicious and its forks, sipcli, SIPp-based
# scanners, VaxSIPUserAgent, PortSIP's demo used by fraud kits).
SCANNER_UA = re.compile(r"friendly-scanner|sipvicious|sipcli|sip-scan|sipsak|vaxsipuseragent|pplsip|sundayddr|"
                        r"iWar|smap|cantcatchme|Ozeki|sipshock", re.IGNORECASE)


def is_scanner_ua(user_agent: str | None) -> bool:
    """Whether a User-Agent names a known scanner (SCANNER_UA). Kept per text: a capture has few distinct
    User-Agents, and the search (about 6 us a string) ran for every transaction, registration and call (0.4 s of
    a capture of 20 000 calls). A long one (a hostile header can be tens of kilobytes) is searched, not kept."""
    if not user_agent:
        return False
    if len(user_agent) > 256:
        return SCANNER_UA.search(user_agent) is not None
    return _known_scanner(user_agent)


@lru_cache(maxsize=4096)
def _known_scanner(user_agent: str) -> bool:
    return SCANNER_UA.search(user_agent) is not None


@check(
    # RULES.md: owner NETENG (rate-limit/ban: pike/fail2ban/APIBAN, ACLs), the operator's engineers (ARCHITECTURE.md
    # `owner` "engineering"); the category keeps a case in the security queue (sipdiag.cases.triage)
    id="sec.scanner-detected", category="security", severity="info", owner="engineering",
    title={
        "en": "SIP scanner probing the service",
        "ru": "SIP-сканер зондирует сервис",
    },
    # RULES.md's customer text (meant for a customer who runs their own phone system, the one a scan can reach
    # from the internet), with the source getting in said first when it did
    customer={
        "en": "Your phone system is being probed by automated attack tools from the internet{got_in_en}. "
              "{advice_en}",
        "ru": "Вашу телефонную систему сканируют автоматические средства атаки из интернета{got_in_ru}. {advice_ru}",
    },
    engineer={
        "en": "{observed_en} Block the sources (fail2ban/APIBAN/SBC ACL), rate-limit REGISTER/INVITE, and check that "
              "the probed extensions have strong passwords.",
        "ru": "{observed_ru} Заблокируйте источники (fail2ban/APIBAN/ACL на SBC), ограничьте частоту REGISTER/INVITE и "
              "проверьте стойкость паролей опрошенных номеров.",
    },
)
def scanner(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    SIP scanning (RULES.md sec.scanner-detected), by signature or by behaviour, one finding per source:
    - signature (high confidence): requests whose User-Agent names a known scanner (SIPVicious 'friendly-scanner',
      sipcli, ...): OPTIONS sweeps, REGISTER extension enumeration, INVITE probes;
    - behaviour (medium confidence), for a source without such a User-Agent: its OPTIONS, REGISTER and INVITE
      requests fail (answered 401, 403, 404, 407 or 484, or not at all) for at least
      `security.scan_distinct_users_60s` (20) user parts or `security.scan_distinct_dst_ips_60s` (10)
      destination addresses within 60 s, or for a run of as many consecutive extensions (100, 101, 102, ...)
      however slowly, and fewer of its targets (user parts, addresses) were accepted than failed. Not scans: the
      many phones an SBC or an office NAT registers, most of which sign in; a PBX trunk's calls, which ring (18x)
      and connect; a monitoring pinger, whose peers answer its OPTIONS, or which asks the same peers again and
      again at a steady pace (the pace of `security.steady_retry_min_interval_s` and
      `security.steady_retry_spread`, as a device's retries); requests to an address that sent the source
      requests of its own (a registrar pinging its registered phones). The evidence names the users tried, the
      answers (404 to some users and 401/407 to others tells which extensions exist), requests addressed to the
      bare IP address, and whether the source ever registered (RULES.md trigger (c): unsolicited INVITEs).

    Either way: info; major when a 2xx to a REGISTER or INVITE of the source follows its first request of the
    scan (the source got in).

    ## Why it matters
    Scanning precedes password brute force and toll fraud; it also loads the SBC.

    ## How to fix
    Block the source addresses, rate-limit, require strong credentials; do not answer unknown users differently
    from wrong passwords (extension enumeration).

    ## References
    RFC 3261 §22 (authentication), RULES.md sec.scanner-detected
    """
    every = chain(analysis.transactions, *(r.transactions for r in analysis.registrations),
                  *(c.transactions for c in analysis.calls))
    signed: dict[str, list[tuple[int | None, str, str]]] = {}  # source host -> (frame, method, User-Agent)
    for t in every:
        if is_scanner_ua(t.user_agent):
            signed.setdefault(address_host(t.src), []).append((t.request_frame, t.method, t.user_agent))
    for src in sorted(signed):
        yield _signature_hit(analysis, src, signed[src])
    # A source that names itself a scanner is the signature's (high confidence): its behaviour is no second finding.
    for src, scan in scan_sources(analysis).items():
        if src not in signed:
            yield _behaviour_hit(analysis, src, scan)


def _signature_hit(analysis: Analysis, src: str, hits: list[tuple[int | None, str, str]]) -> Hit:
    """The finding of a source whose requests carry a scanner's User-Agent (high confidence), `hits` its requests
    as (frame, method, User-Agent)."""
    # A request whose frame is unknown (None) is counted but left out of the evidence: it showed as frame 0,
    # which no capture has (frames are numbered from 1, and JSON consumers link them). Known frames first.
    hits = sorted(hits, key=lambda h: (h[0] is None, h))
    frames = tuple(f for f, *_ in hits if f is not None)[:50]
    # `source` as every per-source security finding; `sources` too, the key JSON consumers read when one finding
    # named all the scanner sources
    values = {"source": src, "sources": src, "requests": len(hits),
              "agents": ", ".join(sorted({ua for *_, ua in hits})[:5]),
              "methods": ", ".join(sorted({m for _, m, _ in hits})),
              **({"frame": frames[0]} if frames else {})}  # the text shows '?' without it
    frame = values.get("frame", "?")
    en = [f"{values['requests']} request(s) with scanner User-Agent {values['agents']} from {src} "
          f"({values['methods']}), first at frame {frame}."]
    ru = [f"Запросов с User-Agent сканера {values['agents']} от {src} ({values['methods']}): {values['requests']}, "
          f"первый в кадре {frame}."]
    # Only answers captured (no frame known): nothing tells what came before them, so any 2xx follows.
    return _scan_hit(analysis, src, frames[0] if frames else 0, values, frames, (en, ru), "high")


def _scan_hit(analysis: Analysis, src: str, first_frame: int, values: dict, frames: tuple[int, ...],
              observed: tuple[list[str], list[str]], confidence: str) -> Hit:
    """A source's finding, by signature or by behaviour, with RULES.md's severity: "info (major if followed by
    successful auth or calls)", a 2xx to a REGISTER or INVITE of the source after `first_frame`, its first
    request of the scan. `observed`: the engineer's sentences, English and Russian."""
    en, ru = observed
    success = _success_after(analysis, src, first_frame)
    if success is None:
        return Hit(None, frames, values, severity=Severity.INFO, confidence=confidence,
                   texts={"observed_en": " ".join(en), "observed_ru": " ".join(ru), **_ADVICE["calm"]})
    values.update(success=success[1], success_frame=success[0])
    en = [*en, f"Then a 2xx to its {success[1]} (frame {success[0]}): the source got in."]
    ru = [*ru, f"Затем 2xx на его {success[2]} (кадр {success[0]}): источник прошёл."]
    return Hit(None, tuple(sorted({*frames, success[0]})), values, severity=Severity.MAJOR, confidence=confidence,
               texts={"observed_en": " ".join(en), "observed_ru": " ".join(ru), **_ADVICE["got_in"]})


_ADVICE = {
    "calm": {"got_in_en": "", "got_in_ru": "",
             "advice_en": "We recommend allowing access to it from our addresses only and using non-numeric SIP user "
                          "names and strong passwords.",
             "advice_ru": "Рекомендуем разрешить доступ к ней только с наших адресов и использовать нецифровые имена "
                          "пользователей SIP и надёжные пароли."},
    "got_in": {"got_in_en": ", and the same source then signed in or placed a call",
               "got_in_ru": ", и затем тот же источник зарегистрировался или позвонил",
               "advice_en": "Please change your SIP passwords to long, unique ones now; we also recommend allowing "
                            "access from our addresses only and using non-numeric SIP user names.",
               "advice_ru": "Срочно смените пароли SIP на длинные и уникальные; также рекомендуем разрешить доступ "
                            "только с наших адресов и использовать нецифровые имена пользователей SIP."},
}


def _behaviour_hit(analysis: Analysis, src: str, scan: Scan) -> Hit:
    """The finding of a source that scans by behaviour (sipdiag.checks.scanbehaviour): info, major when a 2xx to
    its REGISTER or INVITE follows the scan (RULES.md: "major if followed by successful auth or calls")."""
    leak = "404" in scan.responses and ("401" in scan.responses or "407" in scan.responses)
    values = {"source": src, "trigger": scan.trigger, "requests": scan.requests, "methods": ", ".join(scan.methods),
              "users": scan.users, "destinations": scan.destinations, "window_s": scan.window_s,
              "sample": list(scan.sample), "sequential": scan.sequential, "bare_ip": scan.bare_ip,
              "responses": scan.responses, "enumeration_leak": leak, "accepted": scan.accepted,
              "registered": scan.registered, "frame": scan.first_frame}
    return _scan_hit(analysis, src, scan.first_frame, values, scan.frames, _behaviour_texts(scan, values, leak),
                     "medium")


def _behaviour_texts(scan: Scan, values: dict, leak: bool) -> tuple[list[str], list[str]]:
    span = "?" if scan.window_s is None else scan.window_s
    if scan.trigger == "users":
        limit = setting("security.scan_distinct_users_60s")
        what_en = f"for {scan.users} user names within {span} s (threshold {limit})"
        what_ru = f"для {scan.users} имён пользователей за {span} с (порог {limit})"
    elif scan.trigger == "destinations":
        limit = setting("security.scan_distinct_dst_ips_60s")
        what_en = f"to {scan.destinations} addresses within {span} s (threshold {limit})"
        what_ru = f"на {scan.destinations} адресов за {span} с (порог {limit})"
    else:
        what_en = f"for {scan.sequential} consecutive extensions over {span} s"
        what_ru = f"для {scan.sequential} номеров подряд за {span} с"
    answers_en = ", ".join(f"{'no answer' if k == 'none' else k} ×{n}" for k, n in scan.responses.items())
    answers_ru = ", ".join(f"{'без ответа' if k == 'none' else k} ×{n}" for k, n in scan.responses.items())
    sample = ", ".join(scan.sample) or "none"
    en = [f"{values['source']}: {scan.requests} failed request(s) ({values['methods']}) {what_en}, first at frame "
          f"{scan.first_frame}; users tried: {sample}; answered {answers_en}."]
    ru = [f"{values['source']}: неудачные запросы ({values['methods']}) {what_ru}: {scan.requests}, первый в кадре "
          f"{scan.first_frame}; опрошены: {', '.join(scan.sample) or 'нет'}; ответы: {answers_ru}."]
    if scan.sequential and scan.trigger != "sequential":
        en.append(f"{scan.sequential} of the extensions are consecutive (a sweep).")
        ru.append(f"Номеров подряд: {scan.sequential} (перебор).")
    if leak:
        en.append("Unknown users are answered 404 and existing ones 401/407: the answers tell which extensions exist.")
        ru.append("Несуществующим пользователям отвечают 404, существующим 401/407: по ответам видно, какие номера "
                  "есть.")
    if scan.bare_ip:
        en.append(f"{scan.bare_ip} request(s) name the server by its bare IP address, not a domain.")
        ru.append(f"Запросов, адресованных серверу по IP-адресу, а не по домену: {scan.bare_ip}.")
    if "INVITE" in scan.methods and not scan.registered:
        en.append("The source never registered: its INVITEs are unsolicited.")
        ru.append("Источник ни разу не зарегистрировался: его INVITE незапрошенные.")
    return en, ru


def attack_filter(analysis: Analysis):
    """A predicate telling which registrations are an attacker's (a scanner's User-Agent, a source scanning by
    behaviour, a brute-force source): their failures are the attack's findings, not the customer's failed sign-in
    (RULES.md §2 precedence)."""
    attackers = {*bruteforce_sources(analysis), *scan_sources(analysis)}

    def is_attack(r) -> bool:
        return address_host(r.source) in attackers or is_scanner_ua(r.user_agent)

    return is_attack


def customer_registrations(analysis: Analysis) -> list[Registration]:
    """The registrations of the customer's own phones: all but those attack_filter gives to an attack, whose
    REGISTERs the attack's finding tells of. What a customer's reply and a case's figures count as sign-ins."""
    is_attack = attack_filter(analysis)
    return [r for r in analysis.registrations if not is_attack(r)]


def bruteforce_sources(analysis: Analysis) -> dict[str, dict]:
    """Sources whose REGISTERs failed authentication often enough to be an attack, with their figures; a source
    whose failures are a device's steady retries (_steady_device) is not one. Computed once per run's settings
    (sipdiag.checks.settings.memoised): the registration rules, sec.*, the Via rules, the summary and the reply
    all ask for it."""
    return memoised(analysis, "bruteforce_sources", _bruteforce_sources)


def _bruteforce_sources(analysis: Analysis) -> dict[str, dict]:
    failed = _failed_authentications(analysis)
    per_source: dict[str, dict] = {}
    for r in analysis.registrations:
        src = address_host(r.source)
        entry = per_source.setdefault(src, {"failures": 0, "users": set(), "first": None, "last": None, "frames": [],
                                              "first_frame": None, "tries": {}})
        for x in r.exchanges:
            if id(x) not in failed:
                continue
            entry["failures"] += 1
            entry["users"].add(r.aor)
            entry["first"] = x.ts_ns if entry["first"] is None else min(entry["first"], x.ts_ns)
            # the first failure by frame, whichever 50 frames are kept as evidence
            entry["first_frame"] = x.frame if entry["first_frame"] is None else min(entry["first_frame"], x.frame)
            entry["last"] = x.ts_ns if entry["last"] is None else max(entry["last"], x.ts_ns)
            if len(entry["frames"]) < 50:
                entry["frames"].append(x.frame)
            entry["tries"].setdefault((r.aor, r.source), []).append(x)  # per AOR and device, as reg.auth-loop
    out = {}
    # RULES.md sec.bruteforce-auth: ">= 10 failed auth cycles per minute, or failures across >= 5 usernames"
    per_min, users = setting("security.bruteforce_failures_per_min"), setting("security.bruteforce_distinct_users")
    for src, e in per_source.items():
        tries = e.pop("tries")
        if not e["failures"]:
            continue
        minutes = max((e["last"] - e["first"]) / 60e9, 1.0)
        if (e["failures"] / minutes >= per_min or len(e["users"]) >= users) and not _customer_devices(analysis, src,
                                                                                                       tries):
            out[src] = {**e, "rate": round(e["failures"] / minutes, 1),
                        "success": _success_after(analysis, src, e["first_frame"])}
    return out


def _failed_authentications(analysis: Analysis) -> set[int]:
    """The REGISTER exchanges (by id) whose answers are failed authentications, judged per AOR and device (source
    address and port) in time order as reg.auth-loop judges them (sipdiag.checks.digestrefusal):
    - credentials refused: a 403, or a 401/407 challenging again the kind and realm they were sent for, without
      stale=true. Not a failure: the registrar's 401 after a proxy's 407 was answered (the next step of a two-stage
      sign-in, RFC 3261 §22.3), a challenge with stale=true (RFC 7616 §3.3), credentials without a nonce (an IMS
      first REGISTER, 3GPP TS 24.229). A refused de-registration counts here (not for reg.auth-loop): a guesser
      may try each password with Expires: 0. A REGISTER without credentials answered 401/407
      is the first step of the digest exchange (RFC 3261 §22.2), no failure either, as the rule always had it;
    - credentials answering an old nonce refused (digestrefusal.OLD_NONCE) count too: a guesser replaying a nonce
      it was given once, or answering a challenge the capture does not show, fails as surely as one answering the
      latest, and the capture cannot tell which password was tried. Only where the device then answered each new
      challenge at once and was accepted (_renewed) was the refusal the server renewing its nonce without saying
      stale=true, the refresh of a working phone (many of them behind an SBC), not a failure;
    - credentials answered 404 (the user is unknown) count as they always did: 404 for unknown users against
      401 for existing ones is the extension enumeration RULES.md sec.bruteforce-auth names (credential-less
      REGISTERs answered so are the scanner's, sec.scanner-detected, and were never counted here)."""
    per_device: dict[tuple[str, str], list[RegisterExchange]] = {}
    for r in analysis.registrations:
        per_device.setdefault((r.aor, r.source), []).extend(r.exchanges)
    failed: set[int] = set()
    for exchanges in per_device.values():
        judgements = judged(exchanges, deregistrations=True)
        for i, (x, refused) in enumerate(judgements):
            if x.credentials is None or x.frame is None:
                continue  # no credentials tried, or the request not captured (its frame is the evidence)
            if x.status == 404 or (refused is not None and (refused.kind != OLD_NONCE or not _renewed(judgements, i))):
                failed.add(id(x))
    return failed


def _renewed(judgements: list[tuple[RegisterExchange, Refusal | None]], i: int) -> bool:
    """Whether the old-nonce refusal at `i` of an AOR's judged exchanges (digestrefusal.judged) only renewed the
    nonce: each REGISTER after it answers a nonce of the challenge just before it, none of them refused for the
    current nonce (a proxy's and a registrar's old nonces are renewed one after the other, RFC 3261 §22.3), until
    one is accepted (2xx). A guesser replaying an old nonce answers no new challenge, and one answering it with a
    wrong password is refused for it."""
    before = judgements[i][0]
    for x, refused in judgements[i + 1:]:
        given = {c.nonce for c in challenges_of(before) if c.nonce}
        if not given & {c.nonce for c in credentials_of(x)}:
            return False
        if x.status is not None and 200 <= x.status < 300:
            return True
        if x.status not in (401, 407) or (refused is not None and refused.kind != OLD_NONCE):
            return False
        before = x
    return False


def _customer_devices(analysis: Analysis, src: str, tries: dict[tuple[str, str], list]) -> bool:
    """Whether the failed authentications of `src` are clearly a customer's devices failing to sign in, not a
    guesser (RULES.md sec.bruteforce-auth, FP pitfalls: "a misconfigured legitimate device retrying wrong
    credentials (see reg.auth-loop: same user, steady cadence); NATed offices"): one device retrying on its timers
    (_steady_device), or the devices behind one address, an SBC, an edge proxy (RFC 3327, RFC 5626) or an office's
    NAT, most of which sign in (_devices_behind). `tries`: the refused credentialed REGISTERs per (AOR, device:
    the source address and port).

    Only clear evidence counts; anything else leaves the source to sec.bruteforce-auth as before. Either way: no
    scanner User-Agent (sec.scanner-detected), no 404 to its REGISTERs (a registrar telling unknown users from
    wrong passwords, the enumeration RULES.md names) but for one deleted line (_deleted_line), and no 2xx for an
    AOR after its refusals: the capture cannot tell a corrected password from a guessed one, and a guessed one is
    the critical finding."""
    clock = analysis.capture.clock
    refused_from: dict[str, int] = {}  # AOR -> the frame of its first refusal
    for (aor, _device), refusals in tries.items():
        first = min(x.frame for x in refusals)
        refused_from[aor] = min(refused_from.get(aor, first), first)
    unknown: dict[tuple[str, str], list[RegisterExchange]] = {}  # (AOR, device) -> its REGISTERs answered 404
    registered: set[str] = set()  # AORs accepted (2xx)
    for r in analysis.registrations:
        if address_host(r.source) != src:
            continue
        if any(is_scanner_ua(t.user_agent) for t in r.transactions):
            return False
        for x in r.exchanges:
            if x.status == 404:
                unknown.setdefault((r.aor, r.source), []).append(x)
            elif x.status is not None and 200 <= x.status < 300:
                if r.aor in refused_from and (x.response_frame or x.frame or 0) > refused_from[r.aor]:
                    return False
                registered.add(r.aor)
    if unknown and not _deleted_line(clock, unknown, registered):
        return False
    return _steady_device(clock, tries, unknown) or _devices_behind(clock, tries, registered - set(refused_from))


def _steady_device(clock: ClockSteps, tries: dict[tuple[str, str], list],
                   unknown: dict[tuple[str, str], list[RegisterExchange]]) -> bool:
    """Whether every refused AOR of every device was retried as a device retries it (_device_retries): at a retry
    timer's steady pace, with the one Call-ID and credentials it keeps, binding one Contact; and each device names
    one host in its Contacts (its own address, or its private one behind the office's NAT, where each phone has a
    port of its own): one device, not a tool writing whatever Contact it likes. `unknown`: its REGISTERs answered
    404 per (AOR, device), one deleted line."""
    for refusals in tries.values():  # a loop, not all(): settings_read_by finds the helpers a rule calls by name
        if not _device_retries(clock, refusals):
            return False
    hosts: dict[str, set[str]] = {}
    for (_aor, device), refusals in chain(tries.items(), unknown.items()):
        hosts.setdefault(device, set()).add(_contact_host(refusals[0].contact))
    return all(len(named) == 1 for named in hosts.values())


def _devices_behind(clock: ClockSteps, tries: dict[tuple[str, str], list], signed_in: set[str]) -> bool:
    """Whether the refusals of one address are those of the many devices an SBC, a PBX trunk or an office's NAT
    carries (every phone's REGISTER from the one address; a proxy keeps each phone's Contact, RFC 3327), a few of
    which fail, not a guesser's. `signed_in`: its AORs accepted (2xx) and never refused.
    - more of its AORs signed in than were refused: a guesser's user names mostly fail; behind an SBC most phones
      answer the challenge and register (RFC 3261 §22.2), only the few with a wrong password do not;
    - each refused AOR as one device fails (_one_device: one Call-ID, digest user and Contact, RFC 3261 §10.2),
      no refusal sooner than security.steady_retry_min_interval_s (5 s) after the one before: a device retries
      on a timer (RFC 3261 §10.2.4, RFC 5626 §4.5), a dictionary many times a second. Its pace need not be steady
      (a back-off doubles it, and a phone refused 403 may try only once, RFC 3261 §21.4.4)."""
    if len(signed_in) <= len({aor for aor, _device in tries}):
        return False
    for refusals in tries.values():  # a loop, not all(): settings_read_by finds the helpers a rule calls by name
        if not (_one_device(refusals) and _paced(clock, refusals)):
            return False
    return True


def _paced(clock: ClockSteps, refusals: list[RegisterExchange]) -> bool:
    """Whether no refusal came sooner than security.steady_retry_min_interval_s after the one before (in frame
    order; an interval across a step of the capture's clock is not measured)."""
    ordered = sorted(refusals, key=lambda x: x.ts_frame or 0)
    least = setting("security.steady_retry_min_interval_s") * 10**9
    gaps = (clock.elapsed_ns(a.ts_frame, a.ts_ns, b.ts_frame, b.ts_ns) for a, b in zip(ordered, ordered[1:]))
    return all(g is None or g >= least for g in gaps)


def _deleted_line(clock: ClockSteps, unknown: dict[tuple[str, str], list[RegisterExchange]],
                  registered: set[str]) -> bool:
    """Whether a source's 404s (`unknown`: its REGISTERs answered 404 per AOR and device) are one line deleted at
    the registrar but still provisioned on a customer's device (reg.rejected's), not the enumeration RULES.md
    names (404 for unknown users against 401 for existing ones, across user names): a single AOR answered 404
    again and again as a device retries (_device_retries), from a source that registers other AORs (a PBX whose
    other lines work)."""
    aors = {aor for aor, _device in unknown}
    return (len(aors) == 1 and bool(registered - aors)
            and all(_device_retries(clock, answered) for answered in unknown.values()))


def _device_retries(clock: ClockSteps, refusals: list[RegisterExchange]) -> bool:
    """Whether one AOR's refused REGISTERs from one device (source address and port) are a device's retries, by
    what a device shows and a guesser cycling through a few user names at a steady pace does not:
    - a retry timer's steady pace: at least security.steady_retry_min_failures (3) refusals, the intervals
      between them no shorter than security.steady_retry_min_interval_s (5 s) at the median and none further from
      the median than security.steady_retry_spread (25 %) (RFC 3261 §10.2.4, §22), not an enumeration (each user
      tried once or twice in a burst) nor a dictionary (one user tried many times a second);
    - one Contact bound, and one digest user: a device sends the credentials it was provisioned with, a tool
      tries user names (an auth user other than the AOR's is no sign: trunks and PBX lines often have one);
    - one Call-ID for all of them (RFC 3261 §10.2: all registrations from a UAC SHOULD use the same Call-ID for
      registrations sent to a particular registrar, its CSeq counting up): the guessers of initconf-sip-attacks
      and the lab's sipp guesser start a new Call-ID for every try (SIP-Bruteforce-Single-IP sends two sets of
      credentials in each, so a Call-ID shared by some refusals is not enough).
    One Contact shared by several AORs is no sign either way: Asterisk registers its trunks with Contact user
    "s"."""
    return _one_device(refusals) and steady_interval_s(clock, refusals,
                                                       setting("security.steady_retry_min_failures")) is not None


def _one_device(refusals: list[RegisterExchange]) -> bool:
    """Whether one AOR's refused REGISTERs keep what one device keeps: one Contact, one digest user and one
    Call-ID (RFC 3261 §10.2)."""
    users = {x.credentials.username for x in refusals if x.credentials is not None}
    return len({x.contact for x in refusals}) == 1 and len(users) <= 1 and len({x.call_id for x in refusals}) == 1


def _contact_host(contact: str) -> str:
    """The host a Contact URI names (the whole value where it is no URI)."""
    uri = parse_uri(contact) if contact not in ("", "*") else None
    return uri.host.lower() if uri is not None and uri.host else contact


def _success_after(analysis: Analysis, src: str, first_failure: int) -> tuple[int, str, str] | None:
    """(frame, what in English, what in Russian) of the first 2xx to a REGISTER or INVITE from `src` after frame
    `first_failure`: after its first failed authentication a guessed password (RULES.md sec.bruteforce-auth,
    critical), after its first probe a scanner that got in (sec.scanner-detected, major). By frame, so a clock step
    cannot reorder them."""
    found: list[tuple[int, str, str]] = []
    for r in analysis.registrations:
        if address_host(r.source) != src:
            continue
        found += [(x.response_frame, f"REGISTER for {r.aor}", f"REGISTER для {r.aor}") for x in r.exchanges
                  if x.status is not None and 200 <= x.status < 300 and x.response_frame
                  and x.response_frame > first_failure]
    for call in analysis.calls:
        if address_host(call.caller_address) != src:
            continue
        found += [(m.frame, f"INVITE to {call.callee}", f"INVITE на {call.callee}") for m in call.messages
                  if m.status_code and 200 <= m.status_code < 300 and m.cseq_method == "INVITE"
                  and m.frame > first_failure][:1]
    return min(found) if found else None


# Whose passwords the customer is told are guessed: one user name is their phone's account; many (86 in a real
# attack) are the accounts of the service, theirs perhaps among them, not "your phone account".
_ATTACKED_ACCOUNTS = {
    True: {"attack_customer_en": "trying many passwords against your phone account",
           "attack_customer_ru": "перебирает пароли к вашей телефонной учётной записи",
           "advice_customer_en": "Please change the phone's password to a long, unique one",
           "advice_customer_ru": "Смените пароль телефона на длинный и уникальный"},
    False: {"attack_customer_en": "guessing the passwords of many accounts of our service",
            "attack_customer_ru": "подбирает пароли ко многим учётным записям нашего сервиса",
            "advice_customer_en": "Please make sure that your phone's password is long and unique",
            "advice_customer_ru": "Убедитесь, что пароль вашего телефона длинный и уникальный"},
}


@check(
    id="sec.bruteforce-auth", category="security", severity="major", owner="security",
    title={
        "en": "Password guessing against the registrar",
        "ru": "Подбор пароля к регистратору",
    },
    customer={
        "en": "Someone on the internet is {attack_customer_en}.{compromise_customer_en} "
              "{advice_customer_en}; our security team is looking at blocking the attacker.",
        "ru": "Кто-то из интернета {attack_customer_ru}.{compromise_customer_ru} "
              "{advice_customer_ru}; наша служба безопасности рассматривает блокировку атакующего.",
    },
    engineer={
        "en": "{source}: {failures} failed REGISTER authentications ({rate}/min) for {users} user name(s), first at "
              "frame {frame}.{compromise_en} Block the source (fail2ban/SBC ACL), rate-limit REGISTER, answer "
              "unknown users like wrong passwords, and rotate any password that may have been guessed.",
        "ru": "{source}: {failures} неудачных авторизаций REGISTER ({rate}/мин) для {users} имён, первая в кадре "
              "{frame}.{compromise_ru} Заблокируйте источник (fail2ban/ACL SBC), ограничьте частоту REGISTER, "
              "отвечайте на неизвестных пользователей так же, как на неверный пароль, и смените пароли, которые "
              "могли подобрать.",
    },
)
def bruteforce(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    One source whose REGISTERs fail authentication at a high rate (`security.bruteforce_failures_per_min`, 10 a
    minute) or for many user names (`security.bruteforce_distinct_users`, 5): password guessing or extension
    enumeration. A failed authentication is credentials refused as reg.auth-loop judges them, per AOR and device: a
    403, or a 401/407 challenging again the kind and realm they answered, without stale=true (RFC 3261 §22,
    RFC 7616 §3.3), also when they answered an old nonce (a guesser replaying one still fails), or credentials
    answered 404 (unknown users told from existing ones). Not one: a REGISTER without credentials challenged, the
    registrar's 401 after a proxy's 407 was answered (the next step of a two-stage sign-in, RFC 3261 §22.3), a
    challenge with stale=true (the password was right, only the nonce had expired), an old nonce renewed that the
    device answered anew at once and got accepted with, credentials without a nonce, a refused de-registration.
    Major; critical when a 2xx to a REGISTER or INVITE from the same source follows the failures (the
    source got in: a guessed password, or a target that does not ask for one). Not a customer's device retrying
    wrong credentials on its timer (a PBX's trunk lines, an office of phones behind one NAT after a password
    change): where every refused AOR of each device (source address and port) was refused at least
    `security.steady_retry_min_failures` (3) times at a steady pace (the median interval at least
    `security.steady_retry_min_interval_s`, 5 s, each within `security.steady_retry_spread`, 25 %, of it), each
    AOR with one Contact, one digest user and one Call-ID for its retries (RFC 3261 §10.2; a guesser
    cycling through a few user names starts a new one for every try), each device naming one host in its
    Contacts, with no scanner User-Agent, no 404 to its REGISTERs and no 2xx for a refused AOR, the failures are
    reg.auth-loop's. A 404 counts for a device only as a deleted line: a single AOR answered 404 at such a steady
    pace from a source that registers other AORs (reg.rejected's). Nor the many devices an SBC, an edge proxy
    (RFC 3327, RFC 5626) or an office's NAT forwards from one address, a few with a wrong password: where more of
    the source's AORs register (2xx, never refused) than are refused, and each refused AOR keeps one Contact, one
    digest user and one Call-ID, no refusal sooner than `security.steady_retry_min_interval_s` (5 s) after the one
    before, with the same conditions on User-Agents, 404s and 2xx as above, its AORs' refusals are the
    registration rules' (reg.rejected, reg.auth-loop), each named by its AOR. Anything less clear stays here.

    ## Why it matters
    A guessed password leads to toll fraud; the failed attempts also hide the customer's own registration
    problems.

    ## How to fix
    Block and rate-limit the source, use long unique passwords, answer unknown users and wrong passwords alike.

    ## References
    RFC 3261 §22, RFC 7616, RULES.md sec.bruteforce-auth
    """
    for src, e in bruteforce_sources(analysis).items():
        users = len(e["users"])
        values = {"source": src, "failures": e["failures"], "rate": e["rate"], "users": users,
                  "frame": e["first_frame"], "compromise_en": "", "compromise_ru": "",
                  "compromise_customer_en": "", "compromise_customer_ru": "",
                  **_ATTACKED_ACCOUNTS[users == 1]}
        frames = sorted(e["frames"])
        if e["success"] is not None:
            frame, what, what_ru = e["success"]
            values.update(
                success=what, success_frame=frame,
                compromise_en=f" Then a 2xx to its {what} (frame {frame}): the source got in (a guessed password, or a "
                              f"target that does not ask for one).",
                compromise_ru=f" Затем 2xx на его {what_ru} (кадр {frame}): источник прошёл (подобранный пароль или "
                              f"цель, которая пароль не спрашивает).",
                compromise_customer_en=" One of the attempts succeeded.",
                compromise_customer_ru=" Одна из попыток удалась.")
            frames = sorted(frames + [frame])
        yield Hit(None, tuple(frames), values,
                  severity=Severity.CRITICAL if e["success"] is not None else None)


# International access codes a dial string may start with (ITU-T E.164 Annex: 00 in most of the world, 011 in
# the NANP, 0011 in Australia, 810 in Russia's old plan), behind an optional outside-line digit (9 or 0, a PBX's)
# and an optional NANP carrier access code (101XXXX) that fraud tools prepend to get around barring.
INTERNATIONAL = re.compile(r"^(?:[09])?(?:101\d{4})?(?:0011|011|00|810)([1-9]\d{6,14})$")
# Premium-rate ranges of the two plans fraud tools try most (NANP 1-900, 09xx in the UK/EU numbering plans).
PREMIUM = re.compile(r"^(?:[09])?(?:\+?1)?900\d{7}$|^09\d{8,10}$")
E164 = re.compile(r"^\+([1-9]\d{6,14})$")
FRAUD_WINDOW_S = 600  # RULES.md §5 security.fraud_distinct_intl_dest_10min: the window of the count


def dialled_number(uri: str) -> str:
    """The user part of a request/To URI without visual separators (RFC 3966 §5.1.1), as dialled."""
    user = uri.split(":", 1)[-1].split("@", 1)[0].split(";", 1)[0]
    return user.translate(_VISUAL_SEPARATORS)


_VISUAL_SEPARATORS = str.maketrans("", "", "-.() ")


def fraud_destination(number: str, *, attacker: bool, home: tuple[str, ...]) -> str | None:
    """The E.164 digits of an international or premium destination, or None. A `+` number is international
    only when it is outside the home country codes; without a configured home, only an attacker's count (a
    trunk dialling E.164 numbers at home would otherwise look like fraud)."""
    if m := INTERNATIONAL.match(number):
        return m.group(1)
    if PREMIUM.match(number):
        return number.lstrip("+")
    if m := E164.match(number):
        digits = m.group(1)
        if home:
            return None if any(digits.startswith(h) for h in home) else digits
        return digits if attacker else None
    return None


@check(
    id="sec.toll-fraud-attempt", category="security", severity="major", owner="security",
    title={
        "en": "Calls to international or premium numbers that look like toll fraud",
        "ru": "Вызовы на международные или платные номера, похожие на телефонное мошенничество",
    },
    customer={
        "en": "We detected {attempts} attempt(s) to place international calls through {target_en} that look "
              "unauthorised{connected_en}. Please change your phone and voicemail passwords now and contact us: we "
              "recommend restricting international calling on your account until it is secured.",
        "ru": "Мы зафиксировали попытки международных звонков через {target_ru} (всего {attempts}), похожие на "
              "несанкционированные{connected_ru}. Смените пароли телефонов и голосовой почты прямо сейчас и "
              "свяжитесь с нами: мы рекомендуем ограничить международную связь для вашей учётной записи, пока она "
              "не защищена.",
    },
    engineer={
        "en": "{source}: {attempts} INVITE(s) to international/premium destinations, {distinct} distinct dial "
              "strings for {numbers} number(s) ({examples}), up to {densest} distinct within {window_s} s; "
              "{answered} answered{answered_time_en}; {why_en}. User-Agent {agents}; targets {targets}. Block the "
              "source, bar international destinations on the account until it is secured and reset its "
              "credentials; the answered calls' durations give the exposure.",
        "ru": "{source}: INVITE на международные/платные направления: {attempts}; разных наборов: {distinct}, "
              "номеров: {numbers} ({examples}), наибольшее число разных наборов за {window_s} с: {densest}; "
              "отвечено {answered}{answered_time_ru}; {why_ru}. User-Agent {agents_ru}; цели {targets_ru}. Заблокируйте источник, "
              "закройте международные направления для учётной записи до её защиты и смените учётные данные; ущерб "
              "оценивается по длительности отвеченных вызовов.",
    },
)
def toll_fraud(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    INVITEs to international or premium-rate destinations that look like fraud (RULES.md sec.toll-fraud-attempt):
    from one source, at least `security.fraud_distinct_intl_dest_10min` (5) distinct such dial strings within
    10 minutes (prefix variations such as 00, 011, 9011, 101XXXX011 count apart: trying them is the fraud tools'
    signature), or any such INVITE from a source that is guessing passwords or identifies as a scanner. Critical
    when one of the calls is answered: the fraud is active. International means an access code (00, 011, 0011,
    810, behind an optional 9/0 outside line) or a `+` number outside `security.home_country_codes`.

    ## Why it matters
    Toll fraud costs real money by the minute, usually through a hacked PBX or SIP account or an open gateway,
    often at night and in bursts.

    ## How to fix
    Block the source, bar international and premium destinations on the account until it is secured, reset its
    credentials, and require authentication on every gateway that can reach the PSTN.

    ## References
    RFC 3261 §26 (security considerations), §22; SIPVicious/sippts documentation; RULES.md sec.toll-fraud-attempt
    """
    threshold = setting("security.fraud_distinct_intl_dest_10min")
    home = tuple(str(c).lstrip("+") for c in setting("security.home_country_codes"))
    attackers = set(bruteforce_sources(analysis))
    per_source: dict[str, list] = {}
    for call in analysis.calls:
        if not call.seen_from_start:
            continue
        number = dialled_number(call.callee)
        if fraud_destination(number, attacker=True, home=home) is None:
            continue  # not international for anybody (most calls stop here)
        source = address_host(call.caller_address)
        ua = call.user_agents[0] if call.user_agents else ""
        scanner = is_scanner_ua(ua)
        dest = fraud_destination(number, attacker=source in attackers or scanner, home=home)
        if dest is not None:
            per_source.setdefault(source, []).append((call.start_ns, number, dest, call, scanner))
    clock = analysis.capture.clock
    for source, attempts in per_source.items():
        # in frame order where the capture's clock steps: its times then do not order the calls
        attempts.sort(key=lambda a: a[3].start_at if clock.stepped else a[0])
        most, window = _densest(attempts, clock)
        attack = source in attackers or any(a[4] for a in attempts)
        if most < threshold and not attack:
            continue
        answered = [a[3] for a in attempts if a[3].outcome == "answered"]
        why_en, why_ru = [], []
        if most >= threshold:
            why_en.append(f"{most} distinct destinations within 10 minutes (threshold {threshold})")
            why_ru.append(f"{most} разных направлений за 10 минут (порог {threshold})")
        if source in attackers:
            why_en.append("the same source is guessing passwords (sec.bruteforce-auth)")
            why_ru.append("тот же источник подбирает пароли (sec.bruteforce-auth)")
        if any(a[4] for a in attempts):
            why_en.append("the caller identifies as a scanner")
            why_ru.append("вызывающий представляется сканером")
        targets = sorted({a[3].callee_address for a in attempts})
        agents = sorted({ua for a in attempts for ua in a[3].user_agents[:1]})
        numbers = sorted({a[2] for a in attempts})
        frames = [c.first_frame for c in answered[:25]] + [a[3].first_frame for a in attempts[:25]]
        yield Hit(None, tuple(sorted(set(frames)))[:50], {
            "source": source, "attempts": len(attempts), "distinct": len({a[1] for a in attempts}),
            "numbers": len(numbers), "examples": ", ".join(sorted({a[1] for a in attempts})[:5]),
            "destinations": numbers[:20], "window_s": window, "answered": len(answered),
            "answered_s": round(sum(c.duration_s or 0 for c in answered), 1), "densest": most,
            "answered_time_en": f" ({round(sum(c.duration_s or 0 for c in answered))} s in all)" if answered else "",
            "answered_time_ru": f" (всего {round(sum(c.duration_s or 0 for c in answered))} с)" if answered else "",
            "why_en": "; ".join(why_en), "why_ru": "; ".join(why_ru),
            "agents": ", ".join(agents[:3]) or "none", "agents_ru": ", ".join(agents[:3]) or "не указан",
            "targets": ", ".join(targets[:5]) + (f" and {len(targets) - 5} more" if len(targets) > 5 else ""),
            "targets_ru": ", ".join(targets[:5]) + (f" и ещё {len(targets) - 5}" if len(targets) > 5 else ""),
            "target_en": "your account or equipment", "target_ru": "вашу учётную запись или оборудование",
            "connected_en": f", {len(answered)} of them connected" if answered else "",
            "connected_ru": f", из них соединились: {len(answered)}" if answered else "",
        }, severity=Severity.CRITICAL if answered else Severity.MAJOR,
            confidence="high" if attack or answered else "medium")


def _densest(attempts: list, clock: ClockSteps) -> tuple[int, int]:
    """The most distinct dial strings in any 10-minute window (two pointers over the sorted attempts), and the
    span in seconds of that window; a window does not span a step of the capture's clock."""
    best, span, lo = 0, 0, 0
    counts: dict[str, int] = {}
    for hi, (t, number, _dest, call, _scanner) in enumerate(attempts):
        counts[number] = counts.get(number, 0) + 1
        while t - attempts[lo][0] > FRAUD_WINDOW_S * 10**9 or not clock.sound(attempts[lo][3].start_at,
                                                                                call.start_at):
            old = attempts[lo][1]
            counts[old] -= 1
            if not counts[old]:
                del counts[old]
            lo += 1
        if len(counts) > best:
            best, span = len(counts), round((t - attempts[lo][0]) / 1e9)
    return best, span
