"""The Russian customer and engineer texts of every finding are Russian: no English prose from an English-only
value put into a Russian template (tests/russiantext.py says what counts as English prose and what Latin stays).
"""

from __future__ import annotations

import pytest

import sipdiag
from sipdiag.errors import SipdiagError
from tests.conftest import SAMPLES, corpus_captures, corpus_id
from tests.russiantext import english_runs, untranslated, wire_text

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
        "Звук в одну сторону: вызывающий ничего не слышит (0 пакетов callee->caller)")
    assert one_way["qos.dscp-marking"].evidence["detail_ru"] == (
        "RTP со стороны клиента без метки приоритета: 192.168.1.10:6000 -> 203.0.113.10:7000 DSCP 0 (по умолчанию, "
        "CS0) у 825 из 825 пакетов.")
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
        "INVITE вызова fragmented_invite_dropped-1@sdlab шёл IP-фрагментами (фрагментов в захвате: 14) и не "
        "получил ответа")


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
