"""Ready-to-send replies: a message for the customer and a technical note for the engineer, in English or Russian,
as plain text or Markdown, rendered from the Jinja2 templates in `sipdiag/templates/reply-*.j2` (ARCHITECTURE.md:
"a ready-to-send text for the customer plus a technical note for the engineer who takes it further").

The reply never re-analyses: it groups the `Analysis`' findings (one problem per rule and title, counted over the
calls it was seen in, worst first) and hands them to the template with the steps of `replyactions`.

Wire values are hostile. The templates print every `{{ value }}` through the environment's `finalize` hook:
Markdown escapes it (`markdown.md_text`), plain text makes control characters visible (`safe.printable`); only
values the code has already made safe (`Raw`, e.g. code spans built by `markdown.md_code`) pass as they are.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TextIO

from jinja2 import Environment, PackageLoader, StrictUndefined

from .. import __version__
from ..analysis import Analysis
from ..checks import REGISTRY, Finding, Severity, all_rules
from ..checks.causes import ATTACKS
from ..checks.security import customer_registrations
from ..model import Call
from ..russian import OUTCOMES_RU, PARTY_RU, form_for
from .json import iso_time
from .markdown import md_code, md_text
from .problemkeys import problem_key
from .replyactions import CUSTOMER_STEPS, FIX_RU, OPERATOR_STEPS, steps_for
from .safe import printable

AUDIENCES = ("customer", "engineer")
FORMATS = ("text", "markdown")
# The engineer's note lists this many findings of one rule, then says how many more there are (a capture of a
# whole trunk can hold the same finding a thousand times; the JSON report has them all).
FINDINGS_PER_RULE = 10
CALLS_SHOWN = 20


class Raw(str):
    """Text the code has already made safe for the output format: printed as it is."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One distinct problem: every finding of one rule with one title (of one final status, SPLIT_BY_STATUS), worst
    first."""

    rule: str
    title: str  # in the reply's language
    category: str
    owner: str
    severity: str
    findings: tuple[Finding, ...]
    calls: int  # distinct calls of the capture it was seen in
    customer_text: str  # of the worst finding, without third parties' addresses
    fix: str  # the rule's "How to fix" in the reply's language (Russian: replyactions.FIX_RU)
    # an attack's: the findings on the calls the attacker placed, which it explains (sipdiag.checks.causes)
    explained: tuple[Finding, ...] = ()

    @property
    def explained_rules(self) -> list[str]:
        return sorted({f.rule for f in self.explained})

    @property
    def explained_calls(self) -> int:
        return len({f.call_id for f in self.explained if f.call_id})

    @property
    def occurrences(self) -> int:
        return len(self.findings)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the capture holds, for the summary lines of both replies."""

    file: str
    date: str | None  # the first packet's UTC date, ISO 8601
    calls: int
    answered: int
    two_way: int  # answered calls with audio both ways
    registrations: int
    registered: int


def render_reply(a: Analysis, out: TextIO, *, audience: str = "customer", lang: str = "en", fmt: str = "text",
                 call: Call | None = None) -> None:
    """Write the reply for `audience` in `lang` and `fmt` ('text' or 'markdown'); with `call`, about that call
    (and the findings tied to no call, as `analyze --call` shows them)."""
    if audience not in AUDIENCES or fmt not in FORMATS:
        raise ValueError(f"audience {audience!r} / format {fmt!r}")
    template = _environment(fmt).get_template(f"reply-{audience}.{lang}.j2")
    out.write(template.render(**reply_context(a, lang=lang, fmt=fmt, call=call)))


def reply_context(a: Analysis, *, lang: str, fmt: str, call: Call | None = None) -> dict[str, Any]:
    """Everything the templates read."""
    findings = [f for f in a.findings if call is None or f.call_id in (None, call.call_id)]
    calls = (call,) if call is not None else a.calls
    number = {c.call_id: n for n, c in enumerate(a.calls, 1)}
    # The findings on calls an attacker placed (linked to a security finding by sipdiag.checks.causes) are the
    # attack's traffic, not the customer's problems: told as problems of their own, a toll-fraud run's failed
    # calls had the customer check the numbers dialled and switch off SIP ALG. They go under the attack.
    attacks = {i: f.rule for i, f in enumerate(a.findings) if f.rule in ATTACKS}
    explained: dict[str, list[Finding]] = {}
    for f in findings:
        if f.cause in attacks:
            explained.setdefault(attacks[f.cause], []).append(f)
    own = [f for f in findings if f.cause not in attacks]
    problems = group_problems([f for f in own if f.severity > Severity.INFO], lang, set(number), explained)
    notes = group_problems([f for f in own if f.severity == Severity.INFO], lang, set(number), explained)
    customer_steps, operator_steps = _steps(problems, lang)
    by_severity = {s.label: sum(1 for f in findings if f.severity == s) for s in reversed(Severity)}
    md = fmt == "markdown"
    # The engineer's note details the calls with findings; when there are none, every call (what was checked).
    with_findings = {f.call_id for f in findings}
    shown = [c for c in calls if c.call_id in with_findings] or list(calls)
    return {
        "md": md,
        "version": __version__,
        "facts": _facts(a, calls),
        "capture": a.capture,
        "sip": a.sip,
        "a": a,
        "problems": problems,
        "notes": notes,
        "customer_steps": customer_steps,
        # one "How to fix" per rule, though a rule's findings may make several problems (SPLIT_BY_STATUS)
        "fixes": list(dict.fromkeys((p.rule, p.fix) for p in problems)),
        "operator_steps": operator_steps,
        "findings_count": len(findings),
        "by_severity": {k: v for k, v in by_severity.items() if v},
        "problem_calls": len({f.call_id for f in findings if f.call_id in number and f.severity > Severity.INFO}),
        "calls": [_call_view(a, c, number[c.call_id], md, lang) for c in shown[:CALLS_SHOWN]],
        "calls_more": max(len(shown) - CALLS_SHOWN, 0),
        "calls_total": len(calls),
        "per_rule": FINDINGS_PER_RULE,
        "call_no": number,
        "time": iso_time,
    }


def _problem_key(f: Finding, lang: str) -> tuple[str, object, str]:
    """What one problem's findings share (sipdiag.reports.problemkeys): the rule, the final status
    (SPLIT_BY_STATUS) and the title in the reply's language. Told under the first one's title, the other calls
    were given its seconds (call.ack-timeout-32s under two T1 values)."""
    return problem_key(f.rule, f.evidence, f.title_in(lang))


def group_problems(findings: Sequence[Finding], lang: str, call_ids: set[str],
                   explained: dict[str, list[Finding]] | None = None) -> list[Problem]:
    """One Problem per rule and title (and final status for SPLIT_BY_STATUS), in the order of each one's worst
    finding (the findings come worst first).
    explained: by attack rule, the findings it explains (left out of `findings`)."""
    by_rule: dict[tuple[str, object, str], list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(_problem_key(f, lang), []).append(f)
    problems = []
    for (rule, _, title), group in by_rule.items():
        first = group[0]
        problems.append(Problem(
            rule=rule, title=title, category=first.category, owner=first.owner,
            severity=max(f.severity for f in group).label, findings=tuple(group),
            calls=len({f.call_id for f in group if f.call_id in call_ids}),
            customer_text=without_addresses(first.customer_text[lang]), fix=_fix(rule, lang),
            explained=tuple((explained or {}).get(rule, ()))))
    return problems


def _steps(problems: Iterable[Problem], lang: str) -> tuple[list[str], list[str]]:
    """One step per distinct remedy, in the order of the problems (worst first)."""
    customer: dict[str, None] = {}
    operator: dict[str, None] = {}
    for p in problems:
        for f in p.findings:
            mine, ours = steps_for(f)
            customer.update(dict.fromkeys(mine))
            operator.update(dict.fromkeys(ours))
    if problems and not customer:
        customer["tell-us"] = None
    return [CUSTOMER_STEPS[k][lang] for k in customer], [OPERATOR_STEPS[k][lang] for k in operator]


def _fix(rule_id: str, lang: str) -> str:
    all_rules()
    rule = REGISTRY.get(rule_id)
    english = " ".join((rule.sections().get("How to fix", "") if rule else "").split())
    return FIX_RU.get(rule_id, english) if lang == "ru" else english


def _facts(a: Analysis, calls: Sequence[Call]) -> Facts:
    answered = [c for c in calls if c.outcome == "answered"]
    two_way = sum(1 for c in answered if (m := a.media_of(c)) is not None and m.verdict.verdict == "two-way")
    # "Sign-ins of your phone": a scanner's or a password guesser's REGISTERs are the attack's (its finding tells
    # of them), not the customer's phone failing to sign in while "our service was working".
    own = customer_registrations(a)
    # The day of the calls the reply is about, else of the sign-ins, else of the capture: a stray record with a
    # damaged time (1970, or a clock set later) must not give the customer another day than their calls'.
    starts = [c.start_ns for c in calls] or [r.start_ns for r in own]
    first = iso_time(min(starts) if starts else a.capture.first_ts_ns)
    return Facts(file=a.capture.file, date=first[:10] if first else None, calls=len(calls), answered=len(answered),
                 two_way=two_way, registrations=len(own), registered=sum(1 for r in own if r.accepted))


# ------------------------------------------------------------------------------------------ the engineer's note
def _call_view(a: Analysis, c: Call, number: int, md: bool, lang: str) -> dict[str, Any]:
    media = a.media_of(c)
    streams = [a.streams[i] for i in media.streams] if media else []
    # A command line the engineer can paste: the capture's name quoted for the shell (it may hold spaces).
    extract = f"sipdiag extract {shlex.quote(a.capture.file)} --call '#{number}' -o call-{number}.pcap"
    return {"call": c, "number": number, "filter": wireshark_filter(f"sip.Call-ID == {display_string(c.call_id)}", md),
            "verdict": media.verdict.text(lang) if media else None, "streams": streams, "extract": extract}


def finding_view(f: Finding, md: bool) -> dict[str, Any]:
    """A finding as the engineer's note shows it: frames, a display filter for them, the evidence values."""
    evidence = [(k, _value(v)) for k, v in f.evidence.items()
                if k not in ("call_id", "frames", "detail") and not re.search(r"_(en|ru|engineer)$", k)
                and v not in (None, "", [], ())]
    return {"f": f, "frames": frame_list(f.frames),
            "filter": wireshark_filter(f"frame.number in {{{frame_set(f.frames)}}}", md) if f.frames else None,
            "evidence": evidence}


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v)


def frame_runs(frames: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive frame numbers as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for n in sorted(set(frames)):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def frame_set(frames: Iterable[int]) -> str:
    """The members of a Wireshark set: comma-separated, runs as ranges (`6, 61, 108..109`); Wireshark 4.0
    requires the commas (wireshark-filter(4), "Membership operator")."""
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in frame_runs(frames))


def frame_list(frames: Iterable[int]) -> str:
    """For people: `6, 61, 108-109`."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in frame_runs(frames))


def display_string(value: str) -> str:
    """A Wireshark display-filter string literal: backslash and quote escaped, control characters as `\\xNN`
    (which the filter reads back as those bytes)."""
    return '"' + printable(value.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def wireshark_filter(text: str, md: bool) -> Raw:
    return Raw(md_code(text) if md else printable(text))


# ------------------------------------------------------------------------------------ customer-safe wording
# Hosts after a user part (`300@203.0.113.10:5060` -> `300`) and bare IP addresses: the customer text must not
# carry other parties' addresses (ARCHITECTURE.md "Checks").
_URI_HOST = re.compile(r"(?:sips?:)?([^\s@:;<>]+)@[\w.\-\[\]:]+")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b")
_IPV6 = re.compile(r"\[?(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}\]?(?::\d+)?")


def without_addresses(text: str) -> str:
    text = _URI_HOST.sub(r"\1", text)
    text = _IPV4.sub("…", text)
    return _IPV6.sub(lambda m: m.group() if m.group().count(":") < 3 else "…", text)


# ------------------------------------------------------------------------------------------ templates
def plural_en(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """Russian number agreement: 1, 21 звонок; 2-4, 22 звонка; 5-20, 11-14 звонков (sipdiag.russian.form_for)."""
    return f"{n} {form_for(n, (one, few, many, one))}"


def _heading(text: str, level: int, md: bool) -> str:
    """A heading: `## text` (level 2, 3) or `**text**` (level 0) in Markdown, the bare line in plain text."""
    if not md:
        return printable(text)
    return f"{'#' * level} {md_text(text)}" if level else f"**{md_text(text)}**"


@lru_cache(maxsize=None)
def _environment(fmt: str) -> Environment:
    md = fmt == "markdown"

    def finalize(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, Raw):
            return value
        return md_text(value) if md else printable(str(value))

    # autoescape stays off: it would HTML-escape; the per-format escaping is `finalize`.
    env = Environment(loader=PackageLoader("sipdiag", "templates"), autoescape=False, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True, undefined=StrictUndefined, finalize=finalize)
    env.globals.update(plural_en=plural_en, plural_ru=plural_ru, finding_view=lambda f: finding_view(f, md),
                       code=lambda v: Raw(md_code(v) if md else printable(str(v))),
                       h=lambda text, level=0: Raw(_heading(text, level, md)),
                       # the Russian note names outcomes and parties in Russian ("BYE от вызываемого")
                       outcome_ru=lambda outcome: OUTCOMES_RU.get(outcome, outcome),
                       party_ru=lambda party: PARTY_RU.get(party, party))
    return env
