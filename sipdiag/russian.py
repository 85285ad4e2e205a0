"""Russian number agreement for the rendered texts: "1 отвеченный вызов", "2 пакета", "5 пакетов".

The Russian templates put a count before a noun in one fixed form ("{packets} пакетов"); Russian picks the form by
the count's last digits (1 and 21 take the singular, 2-4 and 22-24 the paucal, the rest and 11-14 the genitive
plural), and after a preposition that governs the genitive ("из 21 пакета") the singular is genitive too. A text
for a customer that says "1 отвеченных вызовов" reads as machine-made, so the rendered text is brought into
agreement here for the nouns the templates count, whatever form the template wrote.

A count that a verb or an adjective follows ("1 продлений пришли") is not agreed here: the templates write such a
count as a figure after its noun ("продлений, пришедших с нового адреса: 1"). The words the Russian texts and
reports share for the parties (in the genitive) and the outcomes are here too.
"""

from __future__ import annotations

import re
from functools import lru_cache

# (nominative singular, paucal 2-4, genitive plural, genitive singular) of the phrases the templates count
PHRASES: tuple[tuple[str, str, str, str], ...] = (
    ("отвеченный вызов", "отвеченных вызова", "отвеченных вызовов", "отвеченного вызова"),
    ("переставленный пакет", "переставленных пакета", "переставленных пакетов", "переставленного пакета"),
    ("неудачная авторизация", "неудачные авторизации", "неудачных авторизаций", "неудачной авторизации"),
    ("разное направление", "разных направления", "разных направлений", "разного направления"),
    ("RTP-пакет", "RTP-пакета", "RTP-пакетов", "RTP-пакета"),
    ("вызов", "вызова", "вызовов", "вызова"),
    ("пакет", "пакета", "пакетов", "пакета"),
    ("запрос", "запроса", "запросов", "запроса"),
    ("ответ", "ответа", "ответов", "ответа"),
    ("отказ", "отказа", "отказов", "отказа"),
    ("дубликат", "дубликата", "дубликатов", "дубликата"),
    ("поток", "потока", "потоков", "потока"),
    ("адрес", "адреса", "адресов", "адреса"),
    ("источник", "источника", "источников", "источника"),
    ("отправка", "отправки", "отправок", "отправки"),
    ("переотправка", "переотправки", "переотправок", "переотправки"),
    ("замена", "замены", "замен", "замены"),
    ("попытка", "попытки", "попыток", "попытки"),
    ("цифра", "цифры", "цифр", "цифры"),
    ("серия", "серии", "серий", "серии"),
    ("регистрация", "регистрации", "регистраций", "регистрации"),
    ("линия", "линии", "линий", "линии"),
    ("событие", "события", "событий", "события"),
    ("направление", "направления", "направлений", "направления"),
    ("имя", "имени", "имён", "имени"),
    ("октет", "октета", "октетов", "октета"),
    ("байт", "байта", "байт", "байта"),
    ("раз", "раза", "раз", "раза"),
)

# The parties a Russian text names, in the genitive that every place names them in: "BYE от вызываемого", "SDP
# вызывающего", "устройство источника" (a template that needs a subject says "со стороны вызываемого" or "BYE от
# вызываемого" rather than keep a nominative table beside this one).
PARTY_RU = {"caller": "вызывающего", "callee": "вызываемого", "registrant": "регистрирующегося устройства",
            "source": "источника", "device": "устройства"}

# The outcomes of calls and registrations (sipdiag.model CALL_OUTCOMES, REGISTRATION_OUTCOMES) as the Russian
# reports show them: "Вызов не был отвечен (отменён)", not "(cancelled)".
OUTCOMES_RU = {"answered": "отвечен", "busy": "занято", "cancelled": "отменён", "rejected": "отклонён",
               "timeout": "нет ответа", "in-progress": "не завершён", "registered": "зарегистрирован",
               "deregistered": "регистрация снята",
               "failed": "отказ", "unanswered": "без ответа"}

# Who acts on a finding (sipdiag.checks OWNERS) and how sure the rule is (RULES.md §0.1), as the Russian reports
# show them beside a finding.
OWNERS_RU = {"customer": "клиент", "first-line": "первая линия", "engineering": "инженеры",
             "security": "безопасность"}
CONFIDENCE_RU = {"high": "высокая", "medium": "средняя", "low": "низкая"}

# prepositions after which a count and its noun stand in the genitive
GENITIVE = frozenset(("из", "от", "до", "без", "более", "менее", "около", "свыше", "кроме", "для", "после"))

_FORM = {form: i for i, forms in enumerate(PHRASES) for form in forms}
_PATTERN = re.compile(
    # not a count: the tail of an address, port, time or identifier ("203.0.113.10:7000 вызова", "id-5 пакета")
    r"(?<![\w.,:/@-])(?P<n>\d+)\s+(?P<phrase>"
    + "|".join(sorted(map(re.escape, _FORM), key=len, reverse=True))
    + r")(?![А-Яа-яЁё(])(?![.,]\d)"  # "запрос(ов)" is a template's own hedge: left as written
)
_WORD_BEFORE = re.compile(r"([А-Яа-яЁё]+)\s+$")
_DIGIT = re.compile(r"\d")  # what _PATTERN's count starts with (\d: any Unicode digit, as there)


def form_for(n: int, forms: tuple[str, str, str, str], genitive: bool = False) -> str:
    """The form of `forms` that agrees with the count n (genitive: after a preposition that governs it)."""
    last, last2 = n % 10, n % 100
    if last == 1 and last2 != 11:
        return forms[3] if genitive else forms[0]
    if genitive:
        return forms[2]
    if 2 <= last <= 4 and not 12 <= last2 <= 14:
        return forms[1]
    return forms[2]


@lru_cache(maxsize=8192)
def agree(text: str) -> str:
    """`text` with every counted phrase of PHRASES in the form its count asks for.

    Kept per text: a finding's Russian texts and fragments go through here (eight a finding of media.no-rtp), and
    most fragments repeat across findings (a party's name, a direction); a text without a digit has no count."""
    if _DIGIT.search(text) is None:
        return text

    def fix(m: re.Match) -> str:
        before = _WORD_BEFORE.search(text, max(m.start() - 24, 0), m.start())  # the word before the count
        genitive = before is not None and before.group(1).lower() in GENITIVE
        return f"{m.group('n')} {form_for(int(m.group('n')), PHRASES[_FORM[m.group('phrase')]], genitive)}"

    return _PATTERN.sub(fix, text)


# a count field of a template and the counted phrase after it: "{missing} байт"
_FIELD_COUNT = re.compile(
    r"\{(?P<field>\w+)\}(?P<space>\s+)(?P<phrase>"
    + "|".join(sorted(map(re.escape, _FORM), key=len, reverse=True))
    + r")(?![А-Яа-яЁё(])"
)


@lru_cache(maxsize=1024)
def _counted(template: str) -> tuple[str, tuple[tuple[str, str, tuple[str, str, str, str], bool, str], ...]]:
    """`template` with the phrase after each `{field}` count made a field of its own ("{missing} {_form0}"), and
    for each: (that field, the count's field, the phrase's forms, genitive, the phrase as written). Templates are
    few and constant: each is read once."""
    slots: list[tuple[str, str, tuple[str, str, str, str], bool, str]] = []

    def slot(m: re.Match) -> str:
        before = _WORD_BEFORE.search(template, max(m.start() - 24, 0), m.start())
        genitive = before is not None and before.group(1).lower() in GENITIVE
        name = f"_form{len(slots)}"
        slots.append((name, m.group("field"), PHRASES[_FORM[m.group("phrase")]], genitive, m.group("phrase")))
        return f"{{{m.group('field')}}}{m.group('space')}{{{name}}}"

    return _FIELD_COUNT.sub(slot, template), tuple(slots)


def fill(template: str, **values: object) -> str:
    """`template.format(**values)` with each counted phrase of PHRASES that follows an integer field in the form
    that integer asks for ("{n} байт" with n=3: "3 байта"), as `agree` would bring it. Unlike `agree` on the
    rendered text, only the template's own words change: a value quoted from the wire ("1 пакетов" in a header)
    is written as it came."""
    text, slots = _counted(template)
    if slots:
        values = dict(values)
        for name, field, forms, genitive, written in slots:
            n = values[field]
            # a count that is not a number (a size not known) keeps the phrase as the template wrote it
            values[name] = form_for(n, forms, genitive) if isinstance(n, int) and not isinstance(n, bool) else written
    return text.format(**values)
