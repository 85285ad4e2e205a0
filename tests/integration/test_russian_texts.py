"""The Russian customer and engineer texts of every finding are Russian: no English prose from an English-only
value put into a Russian template (tests/russiantext.py says what counts as English prose and what Latin stays),
and grammatical: counts agree with what they count, parties are named in the case the sentence needs.
"""

from __future__ import annotations

import pytest

import sipdiag
from sipdiag.checks import REGISTRY, all_rules
from sipdiag.errors import SipdiagError
from tests import callcapture as cc
from tests.conftest import SAMPLES, corpus_captures, corpus_id
from tests.russiantext import english_runs, kept_latin, untranslated, wire_text

LAB_SAMPLES = sorted(SAMPLES.glob("*.pcap"))


def english_in(analysis: sipdiag.Analysis) -> list[str]:
    """One line per finding whose Russian texts carry English prose: the rule and the runs."""
    wire = wire_text(analysis)
    return [f"{f.rule} {kind}: {runs}" for f in analysis.findings
            for kind, runs in untranslated(f, wire).items() if runs]


def test_the_rule_flags_english_prose_and_keeps_the_latin_of_russian_technical_text() -> None:
    # the Russian note of media.one-way-audio before the fix: the English MediaVerdict.detail inside it
    assert english_runs("Вызов c-1: 825 RTP-пакетов от вызывающего, 0 от вызываемого; нет направления "
                        "callee->caller. one-way audio: the caller hears nothing (0 packets callee->caller).") == [
        "one-way audio the", "hears nothing", "packets"]
    # header names, methods, codecs, acronyms, identifiers, rule ids, settings, RFC sections: all kept
    assert english_runs("INVITE (кадр 4) на sip:100@203.0.113.10: Contact и Record-Route, 200 OK, PCMU/8000, "
                        "telephone-event, DSCP 46 (EF, RFC 3246 §2), a=rtcp-mux, c=, G.711, 64*T1, "
                        "media.oneway_report_s, qos.bufferbloat-suspected, NAT/ALG, BurstR, «UDP timeout»") == []
    # a wire value the finding's evidence names is kept; the same words not from the wire are prose
    assert english_runs("итог 486 Busy Here", keep=["Busy Here"]) == []
    assert english_runs("итог 486 Busy Here") == ["Busy Here"]


@pytest.mark.parametrize("sample", LAB_SAMPLES, ids=lambda p: p.name)
def test_lab_samples_have_no_english_prose_in_their_russian_texts(sample) -> None:
    assert english_in(sipdiag.analyze(sample)) == []


def test_corpus_captures_have_no_english_prose_in_their_russian_texts(corpus) -> None:
    found, analysed = [], 0
    for path in corpus_captures():
        try:
            analysis = sipdiag.analyze(path)
        except SipdiagError:  # not a capture sipdiag reads (a Network Monitor file): nothing to check
            continue
        analysed += 1
        found += [f"{corpus_id(path)}: {line}" for line in english_in(analysis)]
    assert analysed, f"no capture sipdiag reads under {corpus}/pcaps"
    assert found == []


def test_the_values_the_russian_templates_take_are_russian() -> None:
    one_way = {f.rule: f for f in sipdiag.analyze(SAMPLES / "firewall_one_way_audio.pcap").findings}
    assert one_way["media.one-way-audio"].evidence["detail_ru"] == (
        "Звук в одну сторону: вызывающий ничего не слышит (0 пакетов от вызываемого к вызывающему)")
    assert one_way["qos.dscp-marking"].evidence["detail_ru"] == (
        "SIP со стороны клиента вне политики: 192.168.1.10:5060 -> 203.0.113.10:5060 DSCP 0 (по умолчанию, CS0) у 3 "
        "из 3 сообщений (допустимо: 24, 26, 40). RTP со стороны клиента без метки приоритета: 192.168.1.10:6000 -> "
        "203.0.113.10:7000 DSCP 0 (по умолчанию, CS0) у 825 из 825 пакетов.")
    nat = {f.rule: f for f in sipdiag.analyze(SAMPLES / "nat_one_way_audio.pcap").findings}
    assert nat["media.one-way-audio"].evidence["detail_ru"] == (
        "Звук в одну сторону: вызывающий ничего не слышит; на 192.168.1.10:6000, частный адрес, по которому "
        "получатель недостижим с публичной стороны, отправлено пакетов: 825")
    refused = {f.rule: f for f in sipdiag.analyze(SAMPLES / "rtp_port_unreachable.pcap").findings}
    assert refused["media.one-way-audio"].evidence["detail_ru"] == (
        "Звук в одну сторону: вызываемый ничего не слышит; на 203.0.113.10:7000 отправлено пакетов: 75, и узел "
        "получателя отклонял их до конца потока ICMP-ошибками «порт недоступен» (ошибок за время вызова: 7)")
    assert refused["router.icmp-unreachable"].evidence["reason_ru"] == "порт недоступен"
    answer = {f.rule: f for f in sipdiag.analyze(SAMPLES / "answer_codec_not_offered.pcap").findings}
    assert {k: answer["codec.answer-format-issues"].evidence[k] for k in ("kind_ru", "issues_ru", "rtp_pts_ru")} == {
        "kind_ru": "в начале вызова", "rtp_pts_ru": "0, 8",
        "issues_ru": "в ответе (PCMA/8000) нет ни одного голосового формата предложения (PCMU/8000, "
                     "telephone-event/8000)"}
    rejected = {f.rule: f for f in sipdiag.analyze(SAMPLES / "codec_rejected_488.pcap").findings}
    assert rejected["codec.no-common-codec"].evidence["warning_ru"] == "см. заголовок Warning ответа"
    fragmented = {f.rule: f for f in sipdiag.analyze(SAMPLES / "fragmented_invite_dropped.pcap").findings}
    assert fragmented["router.udp-fragmentation"].evidence["detail_ru"] == (
        "Call-ID fragmented_invite_dropped-1@sdlab: SIP по UDP IP-фрагментами или больше 1300 байт: INVITE кадр 4: "
        "1680 байт IP-фрагментами (фрагментов: 2, кадры 3, 4), отправок: 7. Без ответа: INVITE кадр 4 без ответа "
        "(таймер B). Фрагментированный запрос остался без ответа: вероятно, его фрагменты отброшены после точки "
        "захвата.")


def test_the_verdict_of_an_unanswered_call_names_its_outcome_in_russian() -> None:
    busy = sipdiag.analyze(SAMPLES / "busy_486.pcap")
    verdict = busy.media_of(busy.calls[0]).verdict
    assert (verdict.detail, verdict.detail_ru) == ("the call was not answered (busy)", "Вызов не был отвечен (занято)")
    assert verdict.text("ru") == "Вызов не был отвечен (занято)" and verdict.text("en") == verdict.detail


def test_icmp_reasons_and_leg_rules_have_russian_names() -> None:
    from sipdiag.correlate import leg_rule_ru
    from sipdiag.icmp import reason_of, reason_ru

    assert [reason_ru(reason_of(4, 3, code)) for code in (0, 1, 3, 4, 13, 7)] == [
        "сеть недостижима", "узел недостижим", "порт недоступен", "нужна фрагментация, но установлен DF",
        "связь административно запрещена", "адресат недостижим (код 7)"]
    assert [reason_ru(reason_of(6, t, c)) for t, c in ((1, 0), (1, 5), (2, 0), (3, 0), (4, 1))] == [
        "нет маршрута к адресату", "адрес источника не прошёл политику входа/выхода", "пакет слишком велик",
        "время жизни истекло", "тип 4"]
    assert leg_rule_ru("header X-CID") == "заголовок X-CID"
    assert leg_rule_ru("same callee, start within 2 s, through the B2BUA's address") == (
        "тот же вызываемый, начало в пределах 2 с, через адрес B2BUA")


def test_faults_the_lab_samples_lack_have_russian_values_too(tmp_path) -> None:
    # built with the rule tests' capture builders: mid-call, media-quality, SRTP and toll-fraud faults
    from tests.integration import test_rules_call_media as calls
    from tests.integration import test_rules_codec_reg as codecs

    def finding(path, rule: str):
        analysis = sipdiag.analyze(path)
        assert english_in(analysis) == []
        (f,) = [f for f in analysis.findings if f.rule == rule]
        return f

    misrouted = finding(calls.misrouted_call(tmp_path / "mr.pcap", ("192.168.1.10", 5060), False),
                        "call.in-dialog-request-misrouted")
    assert misrouted.evidence["outcome_ru"] == "нет ответа (переотправок: 10)"
    refused = finding(calls.session_call(tmp_path / "st.pcap", refresh=481, bye_at=46.0, from_callee=False),
                      "call.session-timer-expiry")
    assert "не удалось: 481." in refused.engineer_text["ru"]
    delay = finding(calls.rtcp_call(tmp_path / "far.pcap", rtt=0.5), "media.high-delay")
    assert delay.evidence["segments_ru"] == "по отчётам 0x00002222: 500.0 мс (отчётов: 4)"
    jitter = finding(calls.quality_call(tmp_path / "jit.pcap", jitter=lambda i: 0.07 if i % 2 else 0.0),
                     "media.high-jitter")
    assert jitter.evidence["clock_source_ru"] == "статической таблицы RFC 3551"
    srtp = finding(codecs.cc.sdp_call(tmp_path / "srtp.pcap", offer=codecs.offer("0", codecs.CRYPTO, proto="RTP/SAVP"),
                                      answer=codecs.answer("0")), "media.srtp-profile-mismatch")
    assert (srtp.evidence["kind_ru"], srtp.evidence["problem_ru"]) == (
        "в начале вызова", "на предложение RTP/SAVP ответили RTP/AVP")
    numbers = ["0048185422016", "01148185422016", "9011441234567890", "00972598072172", "0011611234567"]
    fraud = finding(calls.fraud_capture(tmp_path / "tf.pcap", numbers), "sec.toll-fraud-attempt")
    assert fraud.evidence["agents_ru"] == "не указан"


# ------------------------------------------------------------------------------------------------ grammar
# A count before a verb or before a noun sipdiag.russian does not count ("1 продлений пришли", "7 IP-датаграмм
# пришли", "2 UDP-запрос(ов) ... указывают"), and a role put into a Russian sentence in English or in a case the
# sentence does not allow ("callee отправил BYE", "BYE от вызываемый", "сторона caller объявила"): each text below
# read so before it was fixed.

def rule_texts(path, rule: str, lang_key: str = "engineer") -> list[str]:
    return [(f.engineer_text if lang_key == "engineer" else f.customer_text)["ru"]
            for f in sipdiag.analyze(path).findings if f.rule == rule]


def test_counts_that_a_verb_follows_are_written_as_a_figure_after_the_noun() -> None:
    churn = SAMPLES / "nat_port_churn.pcap"
    assert rule_texts(churn, "reg.binding-churn") == [
        "Регистрация sip:100@203.0.113.10 (Call-ID nat_port_churn-1@sdlab): продлений, пришедших с нового адреса, "
        "хотя Via sent-by телефона оставался 192.168.1.10:5060: 1, первое: 203.0.113.2:34125 (кадр 5) -> "
        "203.0.113.2:46654 (кадр 9). Время жизни UDP-трансляции NAT: не больше 35 с. RFC 4787 REQ-5 требует не "
        "меньше 120 с; рекомендуемый keep-alive 17 с (способы исправления — в router.nat-binding-timeout)."]
    assert rule_texts(churn, "nat.port-translated") == [
        "UDP-запросов с 203.0.113.2:34125, указывающих порт 5060 в верхнем Via, но выходящих из NAT с порта 34125: "
        "2 (первый: кадр 3); UA запросил rport. Ответы должны идти на порт источника (RFC 3581), запросы - на "
        "привязку NAT, а привязке нужны keepalive (router.nat-binding-timeout)."]
    assert rule_texts(churn, "nat.via-address-mismatch")[0].startswith(
        "Запросов от 203.0.113.2:34125 с адресом 192.168.1.10:5060 (частный адрес) в верхнем Via: 3 (портов "
        "источника: 2; первый: кадр 3); между UA и точкой захвата есть NAT (nat_uac_test 2/4). Ответы на эти "
        "запросы не содержат received=")
    assert rule_texts(SAMPLES / "fragmented_invite_dropped.pcap", "router.udp-fragmentation")[0].startswith(
        "Call-ID fragmented_invite_dropped-1@sdlab: SIP по UDP IP-фрагментами или больше 1300 байт: INVITE кадр 4: "
        "1680 байт IP-фрагментами (фрагментов: 2, кадры 3, 4), отправок: 7. Без ответа: INVITE кадр 4 без ответа "
        "(таймер B). Фрагментированный запрос остался без ответа")
    refused = SAMPLES / "rtp_port_unreachable.pcap"
    assert rule_texts(refused, "router.icmp-unreachable")[0].startswith(
        "ICMP-ошибок от 203.0.113.10, цитирующих пакеты RTP 203.0.113.2:6000 -> 203.0.113.10:7000 вызова "
        "rtp_port_unreachable-1@sdlab: 7 (порт недоступен, тип 3 код 3; первая в кадре 9). ")
    # "За 1 с звонка, которые мы записали": the relative clause does not agree with a figure in seconds
    assert rule_texts(refused, "media.one-way-audio", "customer") == [
        "В записанной нами части звонка (1 с) звук шёл только в одну сторону (собеседник вас не слышал); этого "
        "слишком мало, чтобы отличить неисправность от звонка, который просто рано завершили. Мы проверяем это со "
        "своей стороны."]
    assert rule_texts(SAMPLES / "sipvicious_scan.pcap", "sec.scanner-detected")[0].startswith(
        "Запросов с User-Agent сканера friendly-scanner от 203.0.113.20 (OPTIONS, REGISTER): 12, первый в кадре 3. ")


def test_parties_are_named_in_russian_and_in_the_case_the_sentence_needs(tmp_path) -> None:
    from tests.integration import test_rules_call_media as calls

    assert "ACK в точке захвата не виден; BYE от вызываемого (кадр 121) через 32.0 с после первого 200 OK (64*T1" \
        in rule_texts(SAMPLES / "ack_dropped.pcap", "call.ack-timeout-32s")[0]
    # the same capture cut before the BYE: "nobody отправил BYE (кадр None) через None с" in both languages
    cut = first_frames(SAMPLES / "ack_dropped.pcap", tmp_path / "no_bye.pcap", 120)
    (ack,) = [f for f in sipdiag.analyze(cut).findings if f.rule == "call.ack-timeout-32s"]
    assert "ACK в точке захвата не виден; BYE в захвате нет (64*T1 = 32 с" in ack.engineer_text["ru"]
    assert "no ACK seen at this capture point; no BYE in the capture (64*T1 = 32 s" in ack.engineer_text["en"]
    assert rule_texts(SAMPLES / "nat_one_way_audio.pcap", "nat.media-source-mismatch")[0].startswith(
        "Вызов nat_one_way_audio-1@sdlab: SDP вызывающего (кадр 3) объявляет 192.168.1.10:6000, но RTP вызывающего "
        "приходит с 203.0.113.2:6000 (пакетов: 825, первый в кадре 12): ")
    assert [t[t.index("пакетов, а SDP"):t.index(" Отправитель")] for t in rule_texts(
        SAMPLES / "answer_codec_not_offered.pcap", "codec.rtp-payload-not-negotiated")] == [
        "пакетов, а SDP вызывающего (кадры: 3) принимает только 0, 101.",
        "пакетов, а SDP вызываемого (кадры: 6) принимает только 8."]
    timeout = calls.media_call(tmp_path / "to.pcap", ua_stops=10, pbx_stops=10, bye_at=41, end_at=42)
    assert "; BYE от вызываемого (кадр 964) через 40.7 с после ответа, Reason: " in rule_texts(
        timeout, "call.media-timeout-or-hung")[0]
    (session,) = [f for f in sipdiag.analyze(calls.session_call(tmp_path / "st.pcap", refresh=None, bye_at=60.3)
                                             ).findings if f.rule == "call.session-timer-expiry"]
    assert session.evidence["detail_ru"] == (
        "Session-Expires 90 с, refresher uac (2xx, кадр 2); обновление ожидалось через 45.0 с после ответа. "
        "Обновление не отправлялось. BYE от вызываемого (кадр 5972) через 60.0 с после ответа.")


def first_frames(src, dst, n: int):
    """The first `n` records of the classic pcap `src` written to `dst` (a capture that ends earlier)."""
    import struct

    data = src.read_bytes()
    out, pos = bytearray(data[:24]), 24  # the global header, then (16-octet header, incl_len octets) per record
    for _ in range(n):
        size = 16 + struct.unpack_from("<I", data, pos + 8)[0]
        out += data[pos:pos + size]
        pos += size
    dst.write_bytes(bytes(out))
    return dst


def test_counted_nouns_of_the_corpus_captures_agree(corpus) -> None:
    attacks = corpus / "pcaps" / "initconf-sip-attacks"
    # "441 неудачных авторизаций", "94 неудачных авторизаций": authorisations, names and destinations now agree
    assert rule_texts(attacks / "SIP-Bruteforce-Single-IP.pcap", "sec.bruteforce-auth")[0].startswith(
        "199.105.226.32: 441 неудачная авторизация REGISTER (1.0/мин) для 86 имён, первая в кадре 3. ")
    gateway = attacks / "SIP-212.32.250.134.pcap"
    assert rule_texts(gateway, "sec.bruteforce-auth")[0].startswith(
        "206.55.185.163: 94 неудачные авторизации REGISTER (1.3/мин) для 52 имён, первая в кадре 3. ")
    # "из них 48 соединились" (1 соединились, 21 соединились) and "до 2 разных за 170 с"
    assert rule_texts(gateway, "sec.toll-fraud-attempt", "customer")[0].startswith(
        "Мы зафиксировали попытки международных звонков через вашу учётную запись или оборудование (всего 475), "
        "похожие на несанкционированные, из них соединились: 48. ")
    assert "номеров: 1 (01148185422016, 901148185422016), наибольшее число разных наборов за 170 с: 2; отвечено 48" \
        in rule_texts(gateway, "sec.toll-fraud-attempt")[0]
    # "3 пакета подряд потеряно", "потери 10.7 % в 1 серии(ях)"
    (burst,) = [f for f in sipdiag.analyze(gateway).findings if f.rule == "media.burst-loss"]
    assert burst.evidence["summary_ru"] == "подряд потеряно пакетов: 3 (59 мс звука)"
    assert "Интервал пакетов 19.7 мс; потери 10.7 %, серий потерь: 1, BurstR 2.68;" in burst.engineer_text["ru"]
    # "фрагменты кадров 46 не собрались": one fragment of the datagram arrived
    (fragments,) = [f for f in sipdiag.analyze(corpus / "pcaps" / "ndpi" / "fuzz-2006-06-26-2594.pcap").findings
                    if f.rule == "router.udp-fragmentation"]
    assert fragments.evidence["detail_ru"] == (
        "датаграмма (фрагмент в кадре 46) не собралась за 30 с: пришло 20 из 61460 байт (нет первого фрагмента); "
        "остальное потеряно до точки захвата")
    # the evidence's Russian fragments agree as the texts do: "2 отвеченных вызовов" in evidence["subject_ru"]
    (blind,) = [f for f in sipdiag.analyze(corpus / "pcaps" / "geunhyung-an" / "sip-call.pcap").findings
                if f.rule == "media.no-rtp"]
    assert blind.evidence["subject_ru"] == "2 отвеченных вызова, первый J2zOKUsppRImaMotsK6FaXbNz7EvRS0B"


def test_every_rule_has_a_russian_title_without_english_prose() -> None:
    """A Russian report heads each finding with its rule's title: Russian, not the English one copied."""
    rules = all_rules()
    assert len(rules) == 52
    assert [r.id for r in rules if set(r.titles) != {"en", "ru"} or r.titles["ru"] == r.titles["en"]] == []
    assert {r.id: english_runs(r.titles["ru"]) for r in rules if english_runs(r.titles["ru"])} == {}
    # `sipdiag rules`, the JSON document: English as before; a title that names a figure of the configuration
    # (64*T1) gives the configured one, and reg.auth-loop's what it covers (a finding's says loop or refusal)
    assert [r.id for r in rules if r.title != r.titles["en"]] == ["call.ack-timeout-32s", "reg.auth-loop"]
    ack = next(r for r in rules if r.id == "call.ack-timeout-32s")
    assert (ack.title, ack.title_in("ru")) == ("Answered call torn down about 32 s after answer: the ACK never arrived",
                                               "Отвеченный вызов разорван примерно через 32 с после ответа: ACK так и "
                                               "не пришёл")
    auth = next(r for r in rules if r.id == "reg.auth-loop")
    assert (auth.title, auth.title_in("ru")) == (
        "Registration refused for its digest credentials, once or in a loop",
        "Регистрация отклонена из-за учётных данных digest, однократно или в цикле")
    assert english_runs(auth.title_in("ru")) == []


NAT_ONE_WAY = SAMPLES / "nat_one_way_audio.pcap"
# the findings of the sample, worst first, with their Russian titles
NAT_ONE_WAY_TITLES_RU = [
    ("major", "nat.private-sdp-address", "SDP просит другую сторону отправлять медиа на частный адрес"),
    ("major", "media.one-way-audio", "Звук идёт только в одну сторону"),
    ("major", "nat.media-source-mismatch", "Звук приходит не с того адреса, который объявлен в SDP"),
    ("info", "media.rtcp-issues", "RTCP отсутствует, идёт не туда или не подтверждает отчёты отправителя"),
]


def test_russian_outputs_head_findings_with_the_russian_title(tmp_path) -> None:
    """The Russian HTML page, the Russian engineer's note, and the other outputs `--lang ru` translates (terminal,
    CSV findings, JUnit) show a finding's Russian title and never its English one; JSON keeps `title` English."""
    import json
    import xml.etree.ElementTree as ET

    from click.testing import CliRunner

    from sipdiag.cli import cli

    english = [REGISTRY[rule].title for _, rule, _ in NAT_ONE_WAY_TITLES_RU]
    russian = [title for _, _, title in NAT_ONE_WAY_TITLES_RU]

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, [*args, str(NAT_ONE_WAY), "--lang", "ru"])
        assert result.exit_code in (0, 1), result.output
        return result.output

    page = tmp_path / "ru.html"
    run("analyze", "--format", "html", "-o", str(page))
    root = ET.parse(page).getroot()
    assert [" ".join("".join(span.itertext()).split()) for span in root.iter("{http://www.w3.org/1999/xhtml}span")
            if span.get("class") == "title"] == russian
    note = run("reply", "--audience", "engineer")
    assert [line for line in note.splitlines() if line.startswith(("- MAJOR", "- INFO"))] == [
        f"- {severity.upper()} {rule}: {title} (категория {rule.split('.')[0]}, ответственный engineering; случаев: "
        f"1, звонков: 1)" for severity, rule, title in NAT_ONE_WAY_TITLES_RU]
    terminal = run("analyze")
    assert all(title in terminal for title in russian)
    csv_rows = run("analyze", "--format", "csv", "--csv-table", "findings").lstrip("\ufeff").splitlines()
    assert [row.split(",")[5] for row in csv_rows[1:3]] == russian[:2]  # titles without a comma, unquoted
    junit = run("analyze", "--format", "junit")
    assert "major media.one-way-audio: Звук идёт только в одну сторону" in junit
    for output in (page.read_text(), note, terminal, "\n".join(csv_rows), junit):
        assert [title for title in english if title in output] == []
    document = json.loads(CliRunner().invoke(cli, ["analyze", str(NAT_ONE_WAY), "--format", "json"]).output)
    assert [f["title"] for f in document["findings"]] == english


@pytest.mark.parametrize(("count", "private", "public", "expected"), [
    (1, "192.168.100.100", "198.51.100.7", "Это ровно 1 замена частного 192.168.100.100 на публичный 198.51.100.7 "
                                           "(публичный адрес короче на 3 октета): "),
    (2, "192.168.1.10", "203.0.113.200", "Это ровно 2 замены частного 192.168.1.10 на публичный 203.0.113.200 "
                                         "(публичный адрес длиннее на 1 октет): "),
    (5, "10.0.0.1", "203.0.113.200", "Это ровно 5 замен частного 10.0.0.1 на публичный 203.0.113.200 (публичный "
                                     "адрес длиннее на 5 октетов): "),
])
def test_the_content_length_fingerprint_agrees_with_its_counts(tmp_path, count, private, public, expected) -> None:
    """alg.content-length-mismatch's Russian evidence names `count` rewrites of the private address and by how
    much the address changed: "1 замена", "2 замены", "5 замен"; "на 1 октет", "на 3 октета", "на 5 октетов"; the
    length change is the address's, which fits a single rewrite too (not "(каждая …)" of one)."""
    from tests.integration import test_rules_nat_router as nat

    def body(address: str) -> str:  # `count` occurrences of the address: c= and then extra attribute lines
        return cc.sdp_body(address, 6000, origin=private) + f"a=x-relay:{address}\n" * (count - 1)

    declared = len(body(private).replace("\n", "\r\n").encode())
    invite = cc.via_sip_message("INVITE sip:200@example.com SIP/2.0", via=nat.ALG_VIA.replace("203.0.113.200", public),
                                call_id="cl-1", cseq="1 INVITE", contact=f"<sip:100@{public}:5060>",
                                body=body(public), content_length=declared)
    (f,) = [f for f in sipdiag.analyze(cc.single_messages(tmp_path / "cl.pcap", ((invite, (public, 5060), cc.PBX),)))
            .findings if f.rule == "alg.content-length-mismatch"]
    assert f.evidence["rewritten"] == f"{private} -> {public} x{count}"
    assert f.evidence["fingerprint_ru"] == expected + "SIP ALG переписал тело, не исправив Content-Length. "
    assert expected in f.engineer_text["ru"]


def test_built_faults_read_as_russian(tmp_path) -> None:
    from tests.integration import test_dscp as dscp
    from tests.integration import test_rules_call_media as calls
    from tests.integration import test_rules_codec_reg as codecs
    from tests.integration import test_rules_nat_router as nat

    def finding(path, rule: str):
        (f,) = [f for f in sipdiag.analyze(path).findings if f.rule == rule]
        return f

    fraud = finding(calls.fraud_capture(tmp_path / "tf.pcap", [f"00481854220{k:02d}" for k in range(21)],
                                        answered=True), "sec.toll-fraud-attempt")
    assert fraud.evidence["why_ru"] == "21 разное направление за 10 минут (порог 5)"
    assert fraud.evidence["connected_ru"] == ", из них соединились: 21"
    stun = finding(cc.media_call(tmp_path / "stun.pcap", caller=nat.PHONE, offer=("198.51.100.30", 40002),
                                 answer=(cc.PBX[0], cc.PBX_RTP), flows=nat.FLOWS, extra=nat.STUN),
                   "nat.stun-mapping-mismatch")
    assert stun.engineer_text["ru"].startswith(
        "Вызов media-1, медиа: объявленный публичный адрес вызывающего 198.51.100.30:40002 получен через STUN "
        "(STUN-пакетов в захвате: 2), но пакеты вызывающего приходят с 198.51.100.30:61002 (кадр 6): ")
    # "с 4 изменением(ями)" and the English "(absent)", "SDP line", "body: ... octets" inside the Russian text
    lan = cc.via_sip_message("INVITE sip:200@example.com SIP/2.0",
                             via="SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKmt1;rport", call_id="mt-1",
                             cseq="1 INVITE", contact="<sip:100@192.168.1.10:5060>",
                             body=cc.sdp_body("192.168.1.10", 6000))
    wan = cc.via_sip_message("INVITE sip:200@example.com SIP/2.0", via="SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bKmt1",
                             call_id="mt-1", cseq="1 INVITE", body="v=0\n")
    moved = finding(cc.single_messages(tmp_path / "mt.pcap", ((lan, ("192.168.1.10", 5060), cc.PBX),
                                                              (wan, ("203.0.113.2", 5060), cc.PBX))),
                    "alg.message-modified-in-transit")
    assert moved.evidence["changes_ru"] == "; ".join((
        "contact: <sip:100@192.168.1.10:5060> -> (нет)", "content-length: 115 -> 5",
        "via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKmt1;rport -> SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bKmt1",
        "тело: октетов было 115, стало 5, содержимое другое"))
    assert "и изменений сверх ожидаемой трансляции IP/портов: 4 (contact: " in moved.engineer_text["ru"]
    assert "не меняет тело, contact, content-length, via: " in moved.engineer_text["ru"]
    msgs = []
    for k in range(3):
        msgs += [(k * 5, codecs.R(k + 1, f"e{k}"), codecs.PHONE, codecs.REGISTRAR),
                 (k * 5 + 0.1, codecs.ok(k + 1, f"e{k}", 300, "sip:100@198.51.100.7:40000"), codecs.REGISTRAR,
                  codecs.PHONE)]
    assert "; ответов 2xx, в которых вместо него только sip:100@198.51.100.7:40000 (равного ему URI по RFC 3261 " \
        "§19.1.4 нет): 3 (2, 4, 6); " in finding(cc.write_sip(tmp_path / "flap.pcap", msgs),
                                                 "reg.contact-binding-mismatch").engineer_text["ru"]
    remarked = finding(dscp._call(tmp_path / "rm.pcap", tos_up=(dscp.EF, dscp.EF, dscp.EF, 0)), "qos.dscp-marking")
    assert remarked.evidence["detail_ru"] == (
        "Перемаркировка внутри потока: 192.168.1.20:40000 -> 203.0.113.5:50000 начинается с DSCP 46 (EF), пакетов с "
        "другой меткой: 25 из 100.")
    # "получатель согласовал для telephone-event none"
    events = finding(cc.sdp_call(tmp_path / "dtmf.pcap", offer=codecs.offer("0 101", codecs.TE),
                                 answer=codecs.answer("0"), events=((96, 5, 50, 5, 3),)), "dtmf.rfc4733-problem")
    assert events.evidence["problems_ru"] == (
        "telephone-event есть только в предложении (кадр 1): нажатия уходят тонами в голосе или теряются; 1 событие "
        "от 198.51.100.7:40000 с типом нагрузки 96, получатель telephone-event не согласовал (первое в кадре 104)")


# ------------------------------------------------------------------------------------------------ reports
# `--lang ru` translates the reports' own words too, not only the findings' texts: the terminal report's labels,
# headings, columns, outcomes and media lines, and the HTML page's evidence, DTMF and E-model notes.

def shown_as_is(analysis: sipdiag.Analysis) -> list[str]:
    """The passages a Russian report shows in Latin by design: wire values (the file's name, Call-IDs, URIs, user
    agents, reason phrases) and the findings' kept Latin (tests/russiantext.py)."""
    wire = wire_text(analysis)
    keep = [analysis.capture.file, *REGISTRY]
    for c in analysis.calls:
        keep += [c.call_id, c.caller, c.callee, c.final_reason or "", c.end_reason or "", *c.user_agents]
        keep += [m.label for m in c.messages]  # the ladder's arrows: "100 Trying"
    for r in analysis.registrations:
        keep += [r.aor, r.contact]
    return keep + [k for f in analysis.findings for k in kept_latin(f, wire)]


def identifiers(analysis: sipdiag.Analysis) -> set[str]:
    """sipdiag's identifiers a Russian report shows as they are, as in the JSON document: the capture's format and
    link types, transports, rule categories, SDP media types, how a stream was bound to its call; and the product."""
    return {analysis.capture.format, *analysis.capture.link_types, *analysis.sip.transports, "sipdiag", "audio",
            *{f.category for f in analysis.findings}, *{m.binding.bound_by for m in analysis.streams}}


def english_words(text: str, analysis: sipdiag.Analysis) -> list[str]:
    return [run for run in english_runs(text, shown_as_is(analysis)) if run not in identifiers(analysis)]


def russian_terminal(sample: str) -> str:
    import io
    import re

    from sipdiag.reports.terminal import render_terminal

    class Wide(io.StringIO):  # a terminal as wide as the longest line: nothing wraps inside a word
        def isatty(self) -> bool:
            return True

    out = Wide()
    render_terminal(sipdiag.analyze(SAMPLES / sample), out, lang="ru")
    return re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # the colours


REPORT_SAMPLES = ["nat_one_way_audio.pcap", "register_wrong_password.pcap", "rtp_loss.pcap", "sipvicious_scan.pcap",
                  "ack_dropped.pcap"]


@pytest.mark.parametrize("sample", REPORT_SAMPLES)
def test_the_russian_terminal_report_has_no_english_labels(sample, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "3000")
    analysis = sipdiag.analyze(SAMPLES / sample)
    assert [(run, line.strip()[:60]) for line in russian_terminal(sample).splitlines()
            for run in english_words(line, analysis)] == []


def test_the_russian_terminal_report_reads_as_russian(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "3000")
    lines = [line.rstrip() for line in russian_terminal("nat_one_way_audio.pcap").splitlines()]
    for expected in (
            "Формат  pcap, канальный уровень: ethernet",
            "SIP     сообщений: 7, транспорт: udp 7",
            "RTP     пакетов: 1650, потоков: 2; пакетов RTCP: 0",
            "Сообщения SIP",
            "Проблемы (4)",
            "         Также: nat.private-contact (кадры 3)",
            "Вызовы (1), 2026-11-23 UTC",
            "Вызов nat_one_way_audio-1@sdlab",
            'От          "100" <sip:100@203.0.113.10> (203.0.113.2:5060)',
            "Начало      2026-11-23 09:35:23.532 UTC, кадр 3, udp",
            "Итог        отвечен, код 200 OK",
            "Время       установление 1 мс, ответ 308 мс, длительность 17.0 с",
            "Завершение  BYE от вызывающего, кадр 1662",
            "Предложение/ответ SDP",
            "кадр    время  203.0.113.2:5060  203.0.113.10:5060",
            "Медиа        Звук в одну сторону: вызывающий ничего не слышит; на 192.168.1.10:6000, частный адрес, по "
            "которому получатель недостижим с публичной стороны, отправлено пакетов: 825",
            "  callee->caller (sdp): 203.0.113.10:7000 -> 192.168.1.10:6000 0x5d1a0003, PCMU, пакетов: 825, потеряно 0 "
            "(0.0%), джиттер до 1.4 мс, MOS 4.37",
            "    MOS 4.37 (отлично), R 91.3: потеряно пунктов R: 1.9, больше всего из-за задержки (1.9)."):
        assert expected in lines
    heads = [line for line in lines if line.startswith(("MAJOR", "    └─"))]
    assert heads[0].endswith("(вызов nat_one_way_audio-1@sdlab, кадры 3, инженеры, объясняет: 1)")
    assert heads[1].startswith("    └─ объясняет MAJOR    media.one-way-audio  Звук идёт только в одну сторону")
    assert sum(line.lstrip().startswith(("Клиенту:    ", "Инженеру:   ")) for line in lines) == 8
    calls = next(line for line in lines if line.startswith(" #")).split()
    assert calls == ["#", "Call-ID", "кто", "звонит", "кому", "начало", "итог", "код", "мс", "мс", "с", "транспорт",
                     "устройство"]
    registration = [line.rstrip() for line in russian_terminal("register_wrong_password.pcap").splitlines()]
    assert "Регистрации (1)" in registration
    assert next(line for line in registration if line.startswith(" AOR")).split() == [
        "AOR", "Contact", "источник", "итог", "код", "попытки", "пароля", "с", "с"]


def russian_page(sample: str) -> tuple[sipdiag.Analysis, "ET.Element"]:
    import io
    import xml.etree.ElementTree as ET

    from sipdiag.reports.html import render_html

    analysis = sipdiag.analyze(SAMPLES / sample)
    page = io.StringIO()
    render_html(analysis, page, lang="ru")
    return analysis, ET.fromstring(page.getvalue())


XHTML = "{http://www.w3.org/1999/xhtml}"


def page_words(root) -> list[str]:
    """The page's own words: every text but the wire values (class `wire`), the monospaced identifiers (class
    `mono`, `<code>`), the styles and the drawings."""
    texts: list[str] = []

    def walk(e) -> None:
        classes = (e.get("class") or "").split()
        if e.tag in (XHTML + "style", XHTML + "code", "{http://www.w3.org/2000/svg}svg") or {"wire", "mono"} & set(
                classes):
            return
        texts.append(e.text or "")
        for child in e:
            walk(child)
            texts.append(child.tail or "")

    walk(root)
    return [t for t in texts if t.strip()]


@pytest.mark.parametrize("sample", REPORT_SAMPLES + ["dtmf_rfc4733.pcap"])
def test_the_russian_html_page_has_no_english_words_of_its_own(sample) -> None:
    analysis, root = russian_page(sample)
    assert [run for text in page_words(root) for run in english_words(text, analysis)] == []
    # the evidence: Russian labels, and the values the rules wrote in Russian too
    evidence = [(" ".join("".join(dt.itertext()).split()), " ".join("".join(dd.itertext()).split()))
                for details in root.iter(XHTML + "details") for dl in details.iter(XHTML + "dl")
                for dt, dd in zip(dl.iter(XHTML + "dt"), dl.iter(XHTML + "dd"), strict=True)]
    assert [key for key, _ in evidence if english_runs(key)] == []
    wire = wire_text(analysis)
    # the device knowledge base is English by design (tests/russiantext.py); other findings' records: identifiers
    assert [value for key, value in evidence if key not in ("устройство", "другие признаки NAT")
            and english_words(value, analysis)
            and value not in wire] == []


def test_the_russian_html_page_translates_evidence_dtmf_and_owners() -> None:
    analysis, root = russian_page("nat_one_way_audio.pcap")
    text = ["".join(e.itertext()) for e in root.iter()]
    assert "Звук в одну сторону: вызывающий ничего не слышит; на 192.168.1.10:6000, частный адрес, по которому " \
        "получатель недостижим с публичной стороны, отправлено пакетов: 825" in text  # evidence `detail`, in Russian
    assert "нет направления" in text and "латчинг" in text
    assert "инженеры; категория nat; уверенность высокая" in text
    _, dtmf = russian_page("dtmf_rfc4733.pcap")
    (row,) = [tr for tr in dtmf.iter(XHTML + "tr") if [th.text for th in tr.iter(XHTML + "th")] == ["DTMF"]]
    assert "".join(row.find(XHTML + "td").itertext()).startswith("1 (кадр ")


def test_an_estimated_mos_says_why_in_russian() -> None:
    from sipdiag.codecs import codec_info
    from sipdiag.quality import r_factor

    lossy = r_factor(codec=codec_info("G723", bitrate_kbps=5.3), loss_pct=1, one_way_delay_ms=0)
    assert lossy.estimate_reasons_in("en") == ("provisional Bpl 16.1 for G.723.1 5.3 kbit/s",)
    assert lossy.estimate_reasons_in("ru") == (
        f"предварительное значение Bpl 16.1 для {codec_info('G723', bitrate_kbps=5.3).description_in('ru')}",)
