"""The rule engine (issue 6): a rule is a small function with its metadata beside it (STYLE.md G10, G11).

    @check(id="call.ack-timeout-32s", category="signaling", severity="major", owner="engineering",
           title={"en": "Answered call torn down ...", "ru": "Отвеченный вызов разорван ..."},
           customer={"en": "...", "ru": "..."}, engineer={"en": "...", "ru": "..."})
    def ack_timeout(analysis):
        '''## What it detects ... ## Why it matters ... ## How to fix ... ## References ...'''
        yield hit(call_id=..., frames=(...), values={...})

Rules read the finished `Analysis` and yield `Hit`s (evidence); the engine turns them into `Finding`s with the
rule's metadata and the texts rendered from templates in English and Russian. Selection by id or prefix
(`--select media --ignore media.packet-loss`) as flake8 selects codes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..clocksteps import ClockSteps
    from .deviceinfo import DeviceIndex

CATEGORIES = ("nat", "router", "codec", "registration", "signaling", "media", "security")
OWNERS = ("customer", "first-line", "engineering", "security")
LANGUAGES = ("en", "ru")


class Severity(IntEnum):
    """ARCHITECTURE.md: a clean call yields nothing above info."""

    INFO = 0
    MINOR = 1
    MAJOR = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True, slots=True)
class Hit:
    """What a rule found: the evidence. `values` fill the text templates; `severity` and `owner` override the
    rule's defaults (a fault the rule sees on either side of the network is the customer's on theirs and the
    operator's on its own)."""

    call_id: str | None
    frames: tuple[int, ...]
    values: dict[str, Any]
    severity: Severity | None = None
    confidence: str = "high"  # low | medium | high (RULES.md §0.1)
    owner: str | None = None  # one of OWNERS (ARCHITECTURE.md `findings[].owner`)
    # more values for the texts alone, not evidence: a wording of what the evidence already holds (a direction
    # named by the parties' addresses, sipdiag.parties)
    texts: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.owner is not None and self.owner not in OWNERS:
            raise ValueError(f"unknown owner {self.owner!r}: one of {', '.join(OWNERS)}")


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnosed problem (ARCHITECTURE.md `findings[]`)."""

    rule: str
    category: str
    severity: Severity
    owner: str
    title: str
    call_id: str | None
    frames: tuple[int, ...]
    evidence: dict[str, Any]
    customer_text: dict[str, str]  # by language
    engineer_text: dict[str, str]
    confidence: str
    # Causes first (RULES.md §2, sipdiag.checks.causes): positions in the run's findings tuple of the finding that
    # most likely explains this one, and of the findings this one explains.
    cause: int | None = None
    explains: tuple[int, ...] = ()
    # The rule's title by language; `title` is the English one (the JSON document's `title` since version 1).
    titles: dict[str, str] = field(default_factory=dict)

    def title_in(self, lang: str) -> str:
        """The title in `lang`; the English `title` for a finding made without titles (a test's, a rule's that
        has none in that language)."""
        return self.titles.get(lang) or self.title


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str
    severity: Severity
    owner: str
    titles: dict[str, str]  # by language, as the texts
    customer: dict[str, str]
    engineer: dict[str, str]
    func: Callable[[Analysis], Iterable[Hit]] = field(repr=False)
    doc: str = ""
    # What fills the placeholders of a title that names a figure of the run's configuration ("about {timeout_s} s"
    # for 64*T1): called under the active settings. A finding's title is filled from its hit's texts first.
    title_values: Callable[[], dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def title(self) -> str:
        """The English title (`sipdiag rules`, docs/RULES-REFERENCE.md, the JSON document's `title`)."""
        return self.title_in("en")

    def title_in(self, lang: str, texts: Mapping[str, Any] | None = None) -> str:
        """The title in `lang`, its placeholders filled from `texts` (a finding's), else from title_values."""
        template = self.titles[lang]
        if self.title_values is None:
            return template
        return _render(template, {**self.title_values(), **(texts or {})}, lang)

    def sections(self) -> dict[str, str]:
        """The docstring's `## Heading` sections: what it detects, why it matters, how to fix, references."""
        parts = re.split(r"^\s*## +(.+?)\s*$", self.doc, flags=re.M)
        return {parts[i].strip(): _dedent(parts[i + 1]) for i in range(1, len(parts) - 1, 2)}


# RULES.md's ids use these short prefixes beside the categories: call.* (signaling), reg.* (registration),
# alg.* (router: SIP ALG), qos.* (router), dtmf.* (codec), sec.* (security).
ID_PREFIXES = ("call", "reg", "alg", "qos", "dtmf", "sec")
REQUIRED_SECTIONS = ("What it detects", "Why it matters", "How to fix", "References")
REGISTRY: dict[str, Rule] = {}


def check(*, id: str, category: str, severity: str, owner: str, title: dict[str, str], customer: dict[str, str],
          engineer: dict[str, str], title_values: Callable[[], dict[str, Any]] | None = None) -> Callable:
    """Register a rule. Its id is `category.slug`; its title and texts exist in every language of LANGUAGES (a
    Russian report heads a finding with its Russian title, as it gives its Russian texts). title_values: what
    fills the title's placeholders outside a finding (Rule.title_values)."""
    if category not in CATEGORIES or owner not in OWNERS or id.split(".", 1)[0] not in CATEGORIES + ID_PREFIXES:
        raise ValueError(f"rule {id}: unknown category or owner")
    if not all(isinstance(texts, dict) and set(texts) == set(LANGUAGES) for texts in (title, customer, engineer)):
        raise ValueError(f"rule {id}: title and texts needed in {LANGUAGES}")

    def register(func: Callable[[Analysis], Iterable[Hit]]) -> Callable:
        REGISTRY[id] = Rule(id, category, Severity.parse(severity), owner, title, customer, engineer, func,
                            func.__doc__ or "", title_values)
        return func

    return register


def selected(rule_id: str, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> bool:
    """Prefix selection on the dotted id or the category (`media`, `call.ack`, `signaling`)."""
    rule = REGISTRY.get(rule_id)
    names = (rule_id, rule.category) if rule else (rule_id,)

    def matches(prefixes: Iterable[str]) -> bool:
        return any(n == p or n.startswith(p.rstrip(".") + ".") or (p and n.startswith(p)) for p in prefixes
                   for n in names)

    select, ignore = tuple(select), tuple(ignore)
    return (not select or matches(select)) and not matches(ignore)


def run_checks(analysis: Analysis, *, select: Iterable[str] = (), ignore: Iterable[str] = (),
               settings: Mapping[str, Any] | None = None) -> tuple[Finding, ...]:
    """Every selected rule over the analysis; findings ordered by severity (worst first), then frame.

    settings: the threshold tree the rules read with `setting()` (sipdiag.checks.settings); None = the analysis'
    own (`Analysis.settings`: the defaults for an analysis made without). Run with another tree, the findings are
    that tree's: `replace(analysis, findings=..., settings=tree)` keeps the analysis telling what they were judged by.
    Findings carry the device involved (sipdiag.devices) and are linked symptom -> cause (sipdiag.checks.causes)."""
    rules = selected_rules(select, ignore)
    return order_findings(rule_findings(analysis, rules, settings), analysis)


def selected_rules(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[Rule]:
    """The rules to run, in registry order (the order their findings are collected in). Raises UsageError for a
    select or ignore entry that names no rule (see check_selection)."""
    _load_rules()
    select, ignore = tuple(select), tuple(ignore)
    check_selection(select, ignore)
    return [rule for rule in REGISTRY.values() if selected(rule.id, select, ignore)]


def rule_option(ctx: Any, param: Any, value: tuple[str, ...]) -> tuple[str, ...]:
    """click callback of the --select and --ignore options: a rule that does not exist stops the command before
    the capture is read or taken (exit 2, see check_selection). The option click handles second sees the first's
    value in ctx.params, so a --select that --ignore takes whole is refused too."""
    params = getattr(ctx, "params", {})
    if param.name == "select":
        check_selection(value, params.get("ignore", ()))
    else:
        check_selection(params.get("select", ()), value)
    return value


def check_selection(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> None:
    """Raise UsageError when an entry of `select` or `ignore` matches no rule id and no category: a mistyped id
    would otherwise run nothing (or leave nothing out) and the capture would look clean."""
    from ..errors import UsageError

    for option, entries in (("--select", select), ("--ignore", ignore)):
        for entry in entries:
            if not names_a_rule(entry):
                raise UsageError(f"{option} {entry!r} names no rule",
                                 hint="`sipdiag rules` lists the ids; a prefix such as `media` or `call.ack` "
                                      "selects several.")
    select, ignore = tuple(select), tuple(ignore)
    if ignore and not any(selected(rule_id, select, ignore) for rule_id in REGISTRY):
        # every rule left out: the report would say "no findings" of a capture nothing looked at
        given = " ".join([*(f"--select {e}" for e in select), *(f"--ignore {e}" for e in ignore)])
        raise UsageError(f"{given} leaves no rule to run",
                         hint="`sipdiag rules` lists the ids; leave out only what you do not want checked.")


def names_a_rule(entry: str) -> bool:
    """Whether `entry` (a rule id, a prefix of one, or a category) selects at least one rule."""
    _load_rules()
    return any(selected(rule_id, (entry,)) for rule_id in REGISTRY)


def rule_findings(analysis: Analysis, rules: Iterable[Rule], settings: Mapping[str, Any] | None = None,
                  devices: DeviceIndex | None = None, shared: dict[Any, Any] | None = None) -> list[Finding]:
    """The findings of `rules`, unordered: in the rules' order, each rule's in the order it gave them. Run in
    parts (sipdiag.checks.background runs them on two cores), the parts' lists concatenated in rule order equal
    one run's list, so `order_findings` gives the same result. devices: the analysis's DeviceIndex when the
    caller runs rules one at a time (it is built once per analysis); shared: that caller's one dict for
    `_finding`'s equal texts and device records. settings: as run_checks', None = the analysis' own."""
    from .deviceinfo import DeviceIndex
    from .settings import active

    findings = []
    devices = devices if devices is not None else DeviceIndex(analysis)
    shared = shared if shared is not None else {}
    with active(settings if settings is not None else getattr(analysis, "settings", None)):
        for rule in rules:
            for hit in rule.func(analysis):
                findings.append(_finding(rule, hit, devices, shared))
    return findings


def order_findings(findings: list[Finding], analysis: Analysis) -> tuple[Finding, ...]:
    """Worst first, then by first frame, then rule id (a stable sort: ties keep the rules' order), linked symptom
    -> cause (sipdiag.checks.causes)."""
    from .causes import correlate

    ordered = sorted(findings, key=lambda f: (-f.severity, f.frames[0] if f.frames else 0, f.rule))
    return correlate(ordered, analysis)


def _finding(rule: Rule, hit: Hit, devices: DeviceIndex, shared: dict[Any, Any]) -> Finding:
    """A rule's hit as a finding: texts rendered from the evidence, the device involved added to the evidence and
    its fix steps to the engineer text when the knowledge base has them for the rule's topic.

    shared: one dict for a run's findings, through which equal customer texts and equal device records are one
    object each. A rule that fires on every stream of a large capture repeats the same customer text thousands of
    times (measured: 3696 customer texts, 28 distinct, on the 4 M-packet benchmark capture), and the findings
    cross a pipe pickled (sipdiag.checks.background), where pickle keeps one copy of an object met twice."""
    from .deviceinfo import with_device

    from ..parties import party_values
    from ..russian import agree

    values = {k: v for k, v in hit.values.items()}
    # the parties' names ({caller_en}, {up_ru}, ...: by address when the capture does not show who called) fill the
    # texts but are no evidence: they restate the call (sipdiag.parties)
    call = devices.call(hit.call_id) if hit.call_id is not None else None
    texts = {**party_values(call), **values} if call is not None else values
    if hit.texts:
        texts = {**texts, **hit.texts}
    titles = rule.titles  # the rule's one dict: pickled once per run (see `shared`)
    if rule.title_values is not None:  # a figure of the finding's in the title: one dict per distinct title
        filled = {lang: rule.title_in(lang, texts) for lang in titles}
        titles = shared.setdefault(("titles", rule.id, *filled.values()), filled)
    engineer = {lang: _render(t, texts, lang) for lang, t in rule.engineer.items()}
    found = devices.device_for(hit)
    topics = devices.topics(rule.id) if found is not None else ()
    evidence, engineer = with_device(topics, values, engineer, found, shared, call)
    customer = {lang: _render(t, texts, lang) for lang, t in rule.customer.items()}
    for texts in (customer, engineer):  # "1 отвеченный вызов", not the template's "1 отвеченных вызовов"
        if "ru" in texts:
            texts["ru"] = agree(texts["ru"])
    # the Russian fragments the texts were filled with are evidence too (the JSON document carries them): agreed
    # as the texts are, so that evidence["subject_ru"] does not say "1 отвеченных вызовов" where the text does not
    evidence = {k: agree(v) if k.endswith("_ru") and isinstance(v, str) else v for k, v in evidence.items()}
    customer = {lang: shared.setdefault(text, text) for lang, text in customer.items()}
    return Finding(
        rule=rule.id, category=rule.category, severity=hit.severity if hit.severity is not None else rule.severity,
        owner=hit.owner if hit.owner is not None else rule.owner, title=titles["en"], call_id=hit.call_id,
        frames=hit.frames, evidence=evidence,
        customer_text=customer,
        engineer_text=engineer,
        confidence=hit.confidence,
        titles=titles,
    )


# What evidence says of a figure that was not measured: a span across a step of the capture's clock
# (sipdiag.clocksteps); the text shows it as a template shows a value the rule did not give.
UNKNOWN = "?"


def times_en(n: int) -> str:
    """"once" or "N times": an English count of sends (the Russian templates' "N раз" agrees by sipdiag.russian)."""
    return "once" if n == 1 else f"{n} times"


def seconds(clock: ClockSteps, a_frame: int | None, a_ns: int, b_frame: int | None, b_ns: int,
            digits: int = 1) -> float | str:
    """Seconds from record a to record b, rounded; UNKNOWN where the capture's clock steps between them."""
    ns = clock.elapsed_ns(a_frame, a_ns, b_frame, b_ns)
    return UNKNOWN if ns is None else round(ns / 1e9, digits)


def span_s(clock: ClockSteps, a: Any, b: Any, digits: int = 1) -> float | str:
    """seconds() from record a to record b, each with `frame` and `ts_ns` (a MessageRef)."""
    return seconds(clock, a.frame, a.ts_ns, b.frame, b.ts_ns, digits)


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return "?"


# Identifiers from the wire that the texts quote and that a damaged or hostile message can leave empty: "Calls to
# are not answered", "Call : INVITE" read as broken texts. The text names the empty value; the evidence keeps it.
EMPTY_IDENTIFIERS: dict[str, dict[str, str]] = {
    "call_id": {"en": "(empty Call-ID)", "ru": "(пустой Call-ID)"},
    "callee": {"en": "(empty number)", "ru": "(пустой номер)"},  # the Request-URI's user part (called_party)
    "aor": {"en": "(empty AOR)", "ru": "(пустой AOR)"},
    "contact": {"en": "(empty Contact)", "ru": "(пустой Contact)"},
}


def _render(template: str, values: dict[str, Any], lang: str = "en") -> str:
    """str.format with the evidence; a value the template names but the rule did not give shows as '?', an empty
    wire identifier as EMPTY_IDENTIFIERS names it in `lang`."""
    filled = _Values(values)
    for key, names in EMPTY_IDENTIFIERS.items():
        if filled.get(key) == "":
            filled[key] = names.get(lang, names["en"])
    return template.format_map(filled)


def _dedent(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines()]
    return "\n".join(lines)


def _load_rules() -> None:
    """Import the rule modules (they register themselves); lazily, so `sipdiag --help` stays light."""
    from . import (  # noqa: F401
        alg, codec, dtmf, media, mediaquality, midcall, nat, natmedia, qos, regbinding, registration, router,
        rtpformat, rtpstream, sdpaddress, security, signaling, srtp,
    )


def all_rules() -> list[Rule]:
    _load_rules()
    return sorted(REGISTRY.values(), key=lambda r: r.id)


def worst(findings: Iterable[Finding]) -> Severity | None:
    severities = [f.severity for f in findings]
    return max(severities) if severities else None


# The --fail-on levels of every command: a severity, or `never`.
FAIL_ON_LEVELS = ("critical", "major", "minor", "info", "never")


def fails(findings: Iterable[Finding], fail_on: str) -> bool:
    """Whether a finding is at least as severe as `fail_on` (one of FAIL_ON_LEVELS; `never`: never)."""
    top = worst(findings)
    return fail_on != "never" and top is not None and top >= Severity.parse(fail_on)


__all__ = ["CATEGORIES", "FAIL_ON_LEVELS", "OWNERS", "UNKNOWN", "Finding", "Hit", "Rule", "Severity", "all_rules",
           "check", "fails", "run_checks", "seconds", "selected", "span_s", "worst"]
