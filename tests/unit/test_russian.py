"""Russian counts agree with their nouns in the rendered texts (sipdiag.russian)."""

from __future__ import annotations

import pytest

from sipdiag.russian import PHRASES, agree, fill, form_for


@pytest.mark.parametrize(("text", "expected"), [
    ("1 отвеченных вызовов и ни одного RTP-пакета", "1 отвеченный вызов и ни одного RTP-пакета"),
    ("2 отвеченных вызовов", "2 отвеченных вызова"),
    ("5 отвеченных вызова", "5 отвеченных вызовов"),  # whatever form the template wrote
    ("21 пакетов", "21 пакет"),
    ("24 пакетов подряд", "24 пакета подряд"),
    ("11 пакетов, 12 событий, 14 раз", "11 пакетов, 12 событий, 14 раз"),  # 11-14 take the genitive plural
    ("111 пакет", "111 пакетов"),
    ("101 вызовов", "101 вызов"),
    ("3 раз", "3 раза"),
    # the nouns the templates count since the grammar audit: brute force, toll fraud, ALG, fragments, one-way audio
    ("2 неудачных авторизаций REGISTER для 21 имён", "2 неудачные авторизации REGISTER для 21 имени"),
    ("441 неудачных авторизаций для 1 имён", "441 неудачная авторизация для 1 имени"),
    ("21 разных направлений за 10 минут", "21 разное направление за 10 минут"),
    ("1 RTP-пакетов от вызывающего, лишь 3 RTP-пакетов", "1 RTP-пакет от вызывающего, лишь 3 RTP-пакета"),
    ("несёт 22 октетов тела, на 1 октетов", "несёт 22 октета тела, на 1 октет"),
    ("пришло 1481 байт из 3001 байт, 1482 байт", "пришло 1481 байт из 3001 байта, 1482 байта"),
    # after a preposition that governs the genitive, the singular is genitive too
    ("потеряно 3 из 21 пакетов", "потеряно 3 из 21 пакета"),
    ("из 22 пакета", "из 22 пакетов"),
    ("после 1 отправок", "после 1 отправки"),
    # left as written: fractions, numbers that are not counts of the noun, a template's own "(ов)" hedge
    ("получено 1,5 пакетов", "получено 1,5 пакетов"),
    ("кадр 5, поток 0x1", "кадр 5, поток 0x1"),
    ("5 запрос(ов) с 10.0.0.1", "5 запрос(ов) с 10.0.0.1"),
    ("версия 2.1 пакетов", "версия 2.1 пакетов"),
])
def test_agreement(text: str, expected: str) -> None:
    assert agree(text) == expected


def test_every_count_picks_the_form_russian_grammar_gives() -> None:
    packet = next(p for p in PHRASES if p[0] == "пакет")
    assert [form_for(n, packet) for n in (0, 1, 2, 4, 5, 11, 12, 14, 20, 21, 22, 25, 111, 1001)] == [
        "пакетов", "пакет", "пакета", "пакета", "пакетов", "пакетов", "пакетов", "пакетов", "пакетов", "пакет",
        "пакета", "пакетов", "пакетов", "пакет"]
    assert [form_for(n, packet, genitive=True) for n in (1, 2, 21, 11)] == ["пакета", "пакетов", "пакета", "пакетов"]


def test_a_finding_text_is_in_agreement(tmp_path) -> None:
    """End to end: a rule's Russian texts pass through the agreement (the packet-loss note counts packets)."""
    import sipdiag
    from tests import callcapture

    lossy = callcapture.answered_call(tmp_path / "lossy.pcap", seconds=4.04, drop_every=50)
    (finding,) = [f for f in sipdiag.analyze(lossy).findings if f.rule == "media.packet-loss"]
    assert (finding.evidence["lost"], finding.evidence["expected"]) == (4, 201)
    assert "потеряно 4 из 201 пакета (2.0 %)" in finding.engineer_text["ru"]  # the template says "пакетов"
    assert "4 of 201 packets lost" in finding.engineer_text["en"]


def test_the_tail_of_an_address_port_or_identifier_is_no_count() -> None:
    """'203.0.113.10:7000 вызова' names a port, then the call: it became 'вызовов' (router.icmp-unreachable's
    Russian engineer text). A count stands on its own: after a space, a bracket or the start."""
    assert agree("пакеты RTP 203.0.113.2:6000 -> 203.0.113.10:7000 вызова x") == \
        "пакеты RTP 203.0.113.2:6000 -> 203.0.113.10:7000 вызова x"
    assert agree("в 12:30 пакетов нет; id-5 пакета; /2 вызова; a@3 вызова") == \
        "в 12:30 пакетов нет; id-5 пакета; /2 вызова; a@3 вызова"
    assert agree("5 вызов, (21 пакетов), из 21 пакетов") == "5 вызовов, (21 пакет), из 21 пакета"


@pytest.mark.parametrize(("template", "values", "expected"), [
    ("пришло {size} из {total} байт", {"size": 1481, "total": 3001}, "пришло 1481 из 3001 байта"),
    ("пришло {size} из {total} байт", {"size": 2, "total": 22}, "пришло 2 из 22 байт"),
    ("размер пропуска {n} байт", {"n": 21}, "размер пропуска 21 байт"),
    ("({n} октетов)", {"n": 3}, "(3 октета)"),
    # a count that is not a number keeps the phrase as written; a value's own words are not touched
    ("{n} байт", {"n": "?"}, "? байт"),
    ("{line!r}: {n} пакетов", {"line": "1 пакетов", "n": 1}, "'1 пакетов': 1 пакет"),
])
def test_fill_agrees_the_templates_counts_only(template: str, values: dict, expected: str) -> None:
    assert fill(template, **values) == expected


def test_agree_keeps_its_results_and_skips_texts_without_a_digit() -> None:
    # a finding's Russian fragments repeat across findings: each distinct text is agreed once
    agree.cache_clear()
    text = "звонящий ждал 21 отвеченных вызовов"
    assert agree(text) == "звонящий ждал 21 отвеченный вызов"
    assert agree(text) == "звонящий ждал 21 отвеченный вызов"
    assert agree.cache_info().hits == 1
    plain = "вызывающий абонент"
    assert agree(plain) is plain  # no digit, no count: the text itself
    # any Unicode digit still starts a count, as in the pattern (a fullwidth or Arabic-Indic digit is \d)
    assert agree("٣ вызовов") == agree.__wrapped__("٣ вызовов")
