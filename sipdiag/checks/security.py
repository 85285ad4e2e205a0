"""Security rules (RULES.md §3.8)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING

from . import Hit, check

if TYPE_CHECKING:
    from ..analysis import Analysis

# User-Agent strings of widespread SIP scanners and fraud tools (SIPVicious and its forks, sipcli, SIPp-based
# scanners, VaxSIPUserAgent, PortSIP's demo used by fraud kits).
SCANNER_UA = re.compile(r"friendly-scanner|sipvicious|sipcli|sip-scan|sipsak|vaxsipuseragent|pplsip|sundayddr|"
                        r"iWar|smap|cantcatchme|Ozeki|sipshock", re.IGNORECASE)


@check(
    id="sec.scanner-detected", category="security", severity="major", owner="security",
    title="SIP scanner probing the service",
    customer={
        "en": "We saw automated probing of your phone service from the internet. Your calls are not affected; please "
              "make sure your phone's password is long and not the default.",
        "ru": "Мы зафиксировали автоматическое сканирование вашего телефонного сервиса из интернета. На звонки это не "
              "влияет; убедитесь, что пароль телефона длинный и не заводской.",
    },
    engineer={
        "en": "{requests} request(s) with scanner User-Agent {agents} from {sources} ({methods}), first at frame "
              "{frame}. Block the sources (fail2ban/APIBAN/SBC ACL), rate-limit REGISTER/INVITE, and check that the "
              "probed extensions have strong passwords.",
        "ru": "{requests} запрос(ов) с User-Agent сканера {agents} с {sources} ({methods}), первый в кадре {frame}. "
              "Заблокируйте источники (fail2ban/APIBAN/ACL на SBC), ограничьте частоту REGISTER/INVITE и проверьте "
              "стойкость паролей опрошенных номеров.",
    },
)
def scanner(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    Requests whose User-Agent names a known scanner (SIPVicious 'friendly-scanner', sipcli, ...): OPTIONS sweeps,
    REGISTER extension enumeration, INVITE probes.

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
    hits = [(t.request_frame or 0, t.src, t.method, t.user_agent) for t in every
            if t.user_agent and SCANNER_UA.search(t.user_agent)]
    if hits:
        hits.sort()
        sources = sorted({src.rsplit(":", 1)[0] for _, src, _, _ in hits})
        yield Hit(None, tuple(f for f, *_ in hits[:50]), {
            "requests": len(hits), "agents": ", ".join(sorted({ua for *_, ua in hits})[:5]),
            "sources": ", ".join(sources[:10]) + (" ..." if len(sources) > 10 else ""),
            "methods": ", ".join(sorted({m for _, _, m, _ in hits})), "frame": hits[0][0]})


# RULES.md §5 security.bruteforce_failures_per_min; distinct user names probed from one source (enumeration).
BRUTEFORCE_FAILURES_PER_MIN = 10
ENUMERATION_DISTINCT_USERS = 10


def attack_filter(analysis: Analysis):
    """A predicate telling which registrations are an attacker's (a scanner's User-Agent, a brute-force source):
    their failures are the attack's findings, not the customer's failed sign-in (RULES.md §2 precedence)."""
    attackers = bruteforce_sources(analysis)

    def is_attack(r) -> bool:
        return r.source.rsplit(":", 1)[0] in attackers or bool(r.user_agent and SCANNER_UA.search(r.user_agent))

    return is_attack


def bruteforce_sources(analysis: Analysis) -> dict[str, dict]:
    """Sources whose REGISTERs failed authentication often enough to be an attack, with their figures."""
    per_source: dict[str, dict] = {}
    for r in analysis.registrations:
        src = r.source.rsplit(":", 1)[0]
        entry = per_source.setdefault(src, {"failures": 0, "users": set(), "first": None, "last": None, "frames": []})
        for t in r.transactions:
            if t.final_status in (401, 403, 407, 404) and t.request_frame is not None:
                entry["failures"] += 1
                entry["users"].add(r.aor)
                entry["first"] = t.ts_ns if entry["first"] is None else min(entry["first"], t.ts_ns)
                entry["last"] = t.ts_ns if entry["last"] is None else max(entry["last"], t.ts_ns)
                if len(entry["frames"]) < 50:
                    entry["frames"].append(t.request_frame)
    out = {}
    for src, e in per_source.items():
        if not e["failures"]:
            continue
        minutes = max((e["last"] - e["first"]) / 60e9, 1.0)
        if e["failures"] / minutes >= BRUTEFORCE_FAILURES_PER_MIN or len(e["users"]) >= ENUMERATION_DISTINCT_USERS:
            out[src] = {**e, "rate": round(e["failures"] / minutes, 1)}
    return out


@check(
    id="sec.bruteforce-auth", category="security", severity="critical", owner="security",
    title="Password guessing or extension enumeration against the registrar",
    customer={
        "en": "Someone on the internet is trying many passwords against your phone account. Please change the "
              "phone's password to a long, unique one; we are blocking the attacker.",
        "ru": "Кто-то из интернета перебирает пароли к вашей телефонной учётной записи. Смените пароль телефона на "
              "длинный и уникальный; мы блокируем атакующего.",
    },
    engineer={
        "en": "{source}: {failures} failed REGISTER authentications ({rate}/min) for {users} user name(s), first at "
              "frame {frame}. Block the source (fail2ban/SBC ACL), rate-limit REGISTER, answer unknown users like "
              "wrong passwords, and rotate any password that may have been guessed.",
        "ru": "{source}: {failures} неудачных авторизаций REGISTER ({rate}/мин) для {users} имён, первая в кадре "
              "{frame}. Заблокируйте источник (fail2ban/ACL SBC), ограничьте частоту REGISTER, отвечайте на "
              "неизвестных пользователей так же, как на неверный пароль, и смените пароли, которые могли подобрать.",
    },
)
def bruteforce(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    One source whose REGISTERs fail authentication at a high rate (≥ 10 a minute) or for many user names (≥ 10):
    password guessing or extension enumeration.

    ## Why it matters
    A guessed password leads to toll fraud; the failed attempts also hide the customer's own registration
    problems.

    ## How to fix
    Block and rate-limit the source, use long unique passwords, answer unknown users and wrong passwords alike.

    ## References
    RFC 3261 §22, RFC 7616, RULES.md sec.bruteforce-auth
    """
    for src, e in bruteforce_sources(analysis).items():
        yield Hit(None, tuple(sorted(e["frames"])), {
            "source": src, "failures": e["failures"], "rate": e["rate"], "users": len(e["users"]),
            "frame": min(e["frames"]) if e["frames"] else "?"})
