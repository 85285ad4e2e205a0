"""A real capture begun inside a call (it starts with the call's ACK): which party called is not known, and the
one-way audio finding names the parties by address and URI, not "the caller" (sipdiag.parties)."""

from __future__ import annotations

import pytest

import sipdiag

pytestmark = [pytest.mark.corpus]


def test_one_way_audio_of_a_call_seen_from_its_ack_names_no_caller(corpus) -> None:
    path = corpus / "pcaps" / "initconf-sip-attacks" / "SIP-212.32.250.134.pcap"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    analysis = sipdiag.analyze(path)
    (call,) = [c for c in analysis.calls if c.call_id == "52e79179-ab4b-420e-82d1-c6f768257240"]
    assert (call.roles_known, call.ended_by, call.caller_address, call.callee_address) == (
        False, None, "206.55.185.163:44166", "156.159.141.71:5060")
    (finding,) = [f for f in analysis.findings if f.rule == "media.one-way-audio" and f.call_id == call.call_id]
    a = "206.55.185.163:44166 (sip:303@131.243.171.158)"
    b = "156.159.141.71:5060 (sip:901148185422016@131.243.171.158)"
    # the customer reads the parties' numbers, not their addresses (RULES.md §6)
    assert finding.customer_text["en"].startswith(
        "In the 0.6 s of your call that we recorded, the sound travelled only one way (number 303 could not hear "
        "number 901148185422016); ")
    assert finding.customer_text["ru"].startswith(
        "В записанной нами части звонка (0.6 с) звук шёл только в одну сторону (абонент 303 не слышал абонента "
        "901148185422016); ")
    for text in finding.customer_text.values():
        assert "156.159.141.71" not in text and "206.55.185.163" not in text
    assert (f"one-way audio: the party at {a} hears nothing (0 packets from the party at 156.159.141.71:5060 to the "
            f"party at 206.55.185.163:44166)") in finding.engineer_text["en"]
    assert f"Device of the party at {a}: Cisco Unified Border Element" in finding.engineer_text["en"]
    assert f"Звук в одну сторону: сторона по адресу {a} ничего не слышит" in finding.engineer_text["ru"]
    assert f"Устройство стороны по адресу {a}: Cisco" in finding.engineer_text["ru"]
    for text in (*finding.customer_text.values(), *finding.engineer_text.values()):
        assert "caller" not in text and "вызывающ" not in text and "вызываем" not in text


def test_a_decline_seen_without_its_invite_names_no_callee(corpus) -> None:
    # Two calls of which the capture holds only a 603 and its ACK: the To party declined an INVITE of the From
    # party, but whether the call's first or a re-INVITE (RFC 3261 §14.1) is not shown.
    path = corpus / "pcaps" / "initconf-sip-attacks" / "SIP-212.32.250.134.pcap"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    analysis = sipdiag.analyze(path)
    unknown = {c.call_id: c for c in analysis.calls if not c.roles_known}
    declined = [f for f in analysis.findings if f.rule == "call.failure-response" and f.call_id in unknown]
    assert [(f.call_id, f.evidence["frame"]) for f in declined] == [
        ("fd316506-42d8-4b79-b827-02708c12ef9c", 2784), ("1e94e268-0bb2-4a03-885f-c6ae6e98607c", 4085)]
    b = "158.153.39.147:5060 (sip:901148185422016@128.3.91.36)"
    for f in declined:
        assert f.customer_text == {
            "en": "The call to 901148185422016, or a change to a call already in progress, could not be made: "
                  "901148185422016 declined. No action is needed.",
            "ru": "Звонок на 901148185422016 или изменение уже идущего звонка не удалось совершить: абонент "
                  "901148185422016 отклонил запрос. Ничего делать не нужно."}
        assert f"from 158.153.39.147:5060: the party at {b} declined (RFC 3261 §21). The capture holds no INVITE" \
            in f.engineer_text["en"]
        assert f"от 158.153.39.147:5060: сторона по адресу {b} отклонила запрос (RFC 3261 §21). В записи нет" \
            in f.engineer_text["ru"]
