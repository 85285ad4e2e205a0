"""Every anomaly kind has its detail in Russian (sipdiag.parsers.anomalytexts), and no anomaly is made without it:
a kind added to a parser with an English text only fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import sipdiag
from sipdiag.parsers.anomalytexts import KINDS, TEXTS, Detail, detail, fields, kind_of
from tests.russiantext import english_runs

PACKAGE = Path(sipdiag.__file__).parent
# an anomaly code as the parsers write it: layer.slug (STYLE.md G3), with a TEXTS variant after a colon
CODE = re.compile(r"(?:pcap|pcapng|capture|link|ip|udp|tcp|ws|hep|tls|tshark|sip|sdp)\.[a-z0-9-]+(?::[a-z0-9-]+)?")
# Latin the Russian details keep besides tests/russiantext.py's: the grammar rules of RFC 3261 §25.1 that a value
# breaks, named as the RFC names them ("не является token"), a parameter's name, the file formats and tools by their
# names, and sipdiag's own options
KEPT_LATIN = ("token", "word", "name-addr", "delta-seconds", "qvalue", "sent-by", "type/subtype", "boundary", "gzip",
              "pcap", "pcapng", "Ethernet", "tshark", "--engine tshark", "--keylog")
# a form of a line or value as the RFC writes it, quoted: 'SIP/2.0 SP code SP reason', 'type=value'
QUOTED_FORM = re.compile(r"'[^'А-Яа-яЁё]*'")


class _Cut:
    """A field's value where a text is read for English prose: a cut (tests/russiantext.py), whatever its format."""

    def __format__(self, spec: str) -> str:
        return " | "

    def __repr__(self) -> str:
        return " | "


def kinds_in_source() -> dict[str, set[str]]:
    """{anomaly code or TEXTS key written in sipdiag's source: the modules it is in}. A tshark field name looked up
    in a layer (v(layer, "udp.length")) is a call's second argument and is not one."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lookups = {id(arg) for node in ast.walk(tree) if isinstance(node, ast.Call) for arg in node.args[1:]}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value) \
                    and id(node) not in lookups:
                found.setdefault(node.value, set()).add(path.relative_to(PACKAGE).as_posix())
    return found


def test_every_anomaly_kind_has_a_russian_text() -> None:
    """Each kind's texts: the Russian fills the same fields as the English and is Russian (no English prose
    besides the RFCs' grammar names and the forms they quote)."""
    assert len(KINDS) >= 60
    for kind in sorted(KINDS):
        keys = [k for k in TEXTS if kind_of(k) == kind]
        assert keys, kind
        for key in keys:
            en, ru = TEXTS[key]
            assert ru and fields(ru) == fields(en), key
            cut = ru.format(**dict.fromkeys(fields(ru), _Cut()))
            assert re.search("[А-Яа-яЁё]", cut), key
            assert english_runs(QUOTED_FORM.sub(" | ", cut), KEPT_LATIN) == [], key


def test_every_clause_has_a_russian_text() -> None:
    """The clauses details embed (a parameter's defect, a HEP message's damage, a span of time) are Russian too."""
    for key in (k for k in TEXTS if kind_of(k) not in KINDS):
        en, ru = TEXTS[key]
        assert ru and fields(ru) == fields(en), key
        cut = ru.format(**dict.fromkeys(fields(ru), _Cut()))
        assert english_runs(QUOTED_FORM.sub(" | ", cut), KEPT_LATIN) == [], key


def test_every_anomaly_the_source_makes_is_a_kind_with_its_texts() -> None:
    """A code or a text key written anywhere in sipdiag (a parser's, a check's that looks for it) is a kind of
    TEXTS: a new kind cannot be recorded, or looked for, without its Russian detail."""
    written = kinds_in_source()
    assert {"tcp.gap", "pcap.truncated-record:header", "sip.bad-uri", "sdp.bad-line:form"} <= set(written)
    unknown = {code: sorted(where) for code, where in written.items()
               if kind_of(code) not in KINDS or (":" in code and code not in TEXTS)}
    assert unknown == {}


def test_every_text_is_filled_with_its_fields_where_it_is_used() -> None:
    """Where a parser names a text (anomaly("tcp.gap", frame, missing=...), log.add, detail, defect), it gives
    exactly the text's fields: a field left out or misnamed would fail only when that defect is first met."""
    makers = {"anomaly", "detail", "add", "defect", "_anomaly"}
    checked = 0
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "func", None) and getattr(node.func, "id", getattr(node.func, "attr", None))
            if name not in makers or not node.args or not isinstance(node.args[0], ast.Constant) \
                    or node.args[0].value not in TEXTS or any(k.arg is None for k in node.keywords):
                continue
            key = node.args[0].value
            given = {k.arg for k in node.keywords}
            assert given == fields(TEXTS[key][0]), f"{path.name}:{node.lineno} {key}"
            checked += 1
    assert checked >= 100


def test_anomalies_are_made_only_from_the_texts() -> None:
    """No module builds an Anomaly from a sentence of its own: every one comes through sipdiag.parsers.anomalytexts
    (anomaly, anomaly_with) with both languages."""
    makers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Anomaly":
                makers.add(path.relative_to(PACKAGE).as_posix())
    assert makers == {"parsers/anomalytexts.py"}


@pytest.mark.parametrize(("n", "bytes_ru", "octets_ru"), [
    (1, "1 байт", "1 октет"), (2, "2 байта", "2 октета"), (5, "5 байт", "5 октетов"), (11, "11 байт", "11 октетов"),
    (21, "21 байт", "21 октет"), (22, "22 байта", "22 октета")])
def test_counts_agree_with_their_nouns(n: int, bytes_ru: str, octets_ru: str) -> None:
    assert detail("tcp.truncated", size=n) == Detail(f"TCP header cut at {n} bytes",
                                                     f"обрезанный заголовок TCP: {bytes_ru}")
    assert detail("sip.trailing-octets", size=n).ru == \
        f"данные после тела длиной Content-Length отброшены ({octets_ru}, RFC 3261 §18.3)"


def test_a_wire_value_is_quoted_as_it_came() -> None:
    """The agreement touches the template's own words only: a header value that holds "1 пакетов" stays so."""
    line = "X-Note 1 пакетов"
    assert detail("sip.bad-header-line", line=line).ru == \
        "строка заголовка не соответствует форме 'name: value': 'X-Note 1 пакетов'"
