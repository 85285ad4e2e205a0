"""Captures that begin or end inside a call: what the capture cannot show (who called, when the call was answered or
ended) is left unknown, not guessed, and no finding blames a side for what the capture merely cut off."""

from __future__ import annotations

import pytest

import sipdiag
from sipdiag.reports.json import to_document
from tests import callcapture as cc

NO_RTCP = ["media.rtcp-issues"]  # neither side sends RTCP in these captures (RULES.md media.rtcp-issues)


def began_inside(path, *, refresh_from_b: bool | None, bye_from_b: bool):
    """20 s of two-way RTP between the phone (A: sip:100, tag f1) and the PBX (B: sip:200, tag t1), without the
    INVITE; a session refresh (RFC 4028 §9: a re-INVITE, either side may be the refresher) at 10 s from B or A
    (None: none), then a BYE at 20.1 s from B or A."""
    s = cc.Script()
    cc.two_way(s, 0.0, 20.0)
    if refresh_from_b is not None:
        src, dst = (cc.PBX, cc.UA) if refresh_from_b else (cc.UA, cc.PBX)
        ports = (cc.PBX_RTP, cc.UA_RTP) if refresh_from_b else (cc.UA_RTP, cc.PBX_RTP)
        a_first = not refresh_from_b
        se = "Session-Expires: 90;refresher=uac\n"
        s.sip(10.0, cc.sip_message(f"INVITE sip:x@{dst[0]} SIP/2.0", "mid-1", "5 INVITE", src=src, branch="re1",
                                   caller_first=a_first, body=cc.SDP.format(ip=src[0], port=ports[0]), extra=se),
              src, dst)
        s.sip(10.05, cc.sip_message("SIP/2.0 200 OK", "mid-1", "5 INVITE", src=src, branch="re1",
                                    caller_first=a_first, body=cc.SDP.format(ip=dst[0], port=ports[1]), extra=se),
              dst, src)
        s.sip(10.06, cc.sip_message(f"ACK sip:x@{dst[0]} SIP/2.0", "mid-1", "5 ACK", src=src, branch="re1ack",
                                    caller_first=a_first), src, dst)
    cc.bye(s, 20.1, "mid-1", from_callee=bye_from_b)
    return s.write(path)


@pytest.mark.parametrize("refresh_from_b", [True, False, None])
@pytest.mark.parametrize("bye_from_b", [True, False])
def test_a_capture_begun_inside_the_call_does_not_name_the_caller(tmp_path, refresh_from_b, bye_from_b) -> None:
    # Without the INVITE nothing says which of the two tags was the caller's (RFC 3261 §12.2.1.1: each party's
    # in-dialog requests carry its own tag in From): the first request seen may be either party's.
    analysis = sipdiag.analyze(began_inside(tmp_path / "mid.pcap", refresh_from_b=refresh_from_b,
                                            bye_from_b=bye_from_b))
    (call,) = analysis.calls
    first_from_b = refresh_from_b if refresh_from_b is not None else bye_from_b
    # caller/callee stay the parties as the first message names them (From, To): so sorted, not as roles
    assert (call.caller, call.callee) == (("sip:200@example.com", "sip:100@example.com") if first_from_b else
                                          ("sip:100@example.com", "sip:200@example.com"))
    assert (call.roles_known, call.seen_from_start, call.ended_by) == (False, False, None)
    assert call.bye_frame == (2004 if refresh_from_b is not None else 2001)
    # answered (a BYE is sent only in a confirmed dialog, RFC 3261 §15), since when is not known
    assert (call.outcome, call.final_status, call.answer_ms, call.duration_s) == ("answered", None, None, None)
    assert call.reinvites == (0 if refresh_from_b is None else 1)
    (media,) = analysis.media
    assert (media.verdict.verdict, media.verdict.packets_to_callee, media.verdict.packets_to_caller) == (
        "two-way", 1000, 1000)
    assert [f.rule for f in analysis.findings] == NO_RTCP
    record = to_document(analysis)["calls"][0]
    assert (record["roles_known"], record["ended_by"]) == (False, None)


def test_the_details_say_the_caller_is_not_known(tmp_path) -> None:
    from rich.console import Console

    from sipdiag.reports.calltables import call_details

    analysis = sipdiag.analyze(began_inside(tmp_path / "mid.pcap", refresh_from_b=True, bye_from_b=False))
    console = Console(width=200, record=True, color_system=None)
    console.print(call_details(analysis.calls[0]))
    text = console.export_text()
    assert "BYE from the unknown side, frame 2004" in text
    assert ("the capture began inside this call: its INVITE was not captured, so which party called is not known "
            "(From and To are those of its first message)") in text


def test_the_tagless_100_trying_of_an_uncaptured_invite_still_names_the_caller(tmp_path) -> None:
    # The INVITE was lost at the capture point, its 100 Trying was not: a response without a To tag answers the
    # initial INVITE (RFC 3261 §8.2.6.2, §12.1.1), and its From tag is the caller's.
    s = cc.Script()
    s.sip(0.0, cc.sip_message("SIP/2.0 100 Trying", "lost-1", "1 INVITE", src=cc.UA, to_tag=False), cc.PBX, cc.UA)
    s.sip(0.3, cc.sip_message("SIP/2.0 200 OK", "lost-1", "1 INVITE", src=cc.UA,
                              body=cc.SDP.format(ip=cc.PBX[0], port=cc.PBX_RTP)), cc.PBX, cc.UA)
    s.sip(0.31, cc.sip_message("ACK sip:200@example.com SIP/2.0", "lost-1", "1 ACK", src=cc.UA, branch="ack1"),
          cc.UA, cc.PBX)
    cc.two_way(s, 0.4, 5.0)
    cc.bye(s, 5.5, "lost-1", from_callee=True)
    (call,) = sipdiag.analyze(s.write(tmp_path / "lost.pcap")).calls
    assert (call.caller, call.roles_known, call.seen_from_start, call.outcome, call.final_status, call.ended_by) == (
        "sip:100@example.com", True, False, "answered", 200, "callee")


def test_a_capture_ended_inside_the_call_blames_nobody(tmp_path) -> None:
    # INVITE/200/ACK and 20 s of RTP both ways, then the capture stops: the call was up to the end, no one hung up,
    # and its duration is the span up to the capture's last record.
    s = cc.call_setup(cc.Script(), "end-1")
    cc.two_way(s, 0.41, 20.0)
    analysis = sipdiag.analyze(s.write(tmp_path / "end.pcap"))
    (call,) = analysis.calls
    assert (call.roles_known, call.outcome, call.final_status, call.answer_ms, call.duration_s, call.ended_by,
            call.bye_frame) == (True, "answered", 200, 300.0, 20.095, None, None)
    assert analysis.media[0].verdict.verdict == "two-way"
    assert [f.rule for f in analysis.findings] == NO_RTCP


def began_inside_one_way(path):
    """20 s of RTP from the phone (A: sip:100 at 198.51.100.7:5060) to the PBX (B: sip:200 at 203.0.113.5:5060),
    none back, then a BYE from A: no INVITE, so which of them called is not known."""
    s = cc.Script()
    s.rtp((cc.UA[0], cc.UA_RTP), (cc.PBX[0], cc.PBX_RTP), 0x1111, 0.0, 20.0)
    cc.bye(s, 20.1, "mid-1")
    return s.write(path)


def test_one_way_audio_of_a_call_begun_inside_names_the_parties_by_address(tmp_path) -> None:
    # The receiver that hears nothing is sure (the party at 198.51.100.7:5060), whether it called is not: the texts
    # name both parties by address and URI, not "the caller" or "you" (sipdiag.parties).
    analysis = sipdiag.analyze(began_inside_one_way(tmp_path / "mid.pcap"))
    (call,) = analysis.calls
    assert (call.roles_known, call.ended_by) == (False, None)
    (media,) = analysis.media
    # the structure keeps the names of the first message's From and To (JSON missing_direction)
    assert (media.verdict.verdict, media.verdict.missing_direction) == ("one-way", "callee->caller")
    assert (media.verdict.detail, media.verdict.detail_ru) == (
        "one-way audio: the party at 198.51.100.7:5060 (sip:100@example.com) hears nothing (0 packets from the "
        "party at 203.0.113.5:5060 to the party at 198.51.100.7:5060)",
        "Звук в одну сторону: сторона по адресу 198.51.100.7:5060 (sip:100@example.com) ничего не слышит (0 "
        "пакетов от стороны 203.0.113.5:5060 к стороне 198.51.100.7:5060)")
    (finding,) = [f for f in analysis.findings if f.rule == "media.one-way-audio"]
    a = "198.51.100.7:5060 (sip:100@example.com)"
    b = "203.0.113.5:5060 (sip:200@example.com)"
    assert finding.customer_text == {
        # by their numbers: a customer text carries no third party's address (RULES.md §6)
        "en": "During your call the sound travelled only one way: number 100 could not hear number 200. This is "
              "usually caused by a router setting (SIP ALG or a firewall). We are checking it on our side; if you "
              "have a router in front of the phone, please switch its SIP ALG off.",
        "ru": "Во время звонка звук шёл только в одну сторону: абонент 100 не слышал абонента 200. Обычно причина в "
              "настройке роутера (SIP ALG или межсетевой экран). Мы проверяем это со своей стороны; если перед "
              "телефоном стоит роутер, отключите на нём SIP ALG."}
    back_en = "from the party at 203.0.113.5:5060 to the party at 198.51.100.7:5060"
    back_ru = "от стороны 203.0.113.5:5060 к стороне 198.51.100.7:5060"
    assert finding.engineer_text == {
        "en": f"Call mid-1: 1000 RTP packets from the party at 198.51.100.7:5060 to the party at 203.0.113.5:5060, "
              f"0 {back_en}; missing {back_en}. one-way audio: the party at {a} hears nothing (0 packets "
              f"{back_en}). Audio flowed one way for 20 s (reported from 5 s, major from 15 s; the other direction "
              f"below 10 % of its expected packets). Compare the SDP addresses with the observed 5-tuples "
              f"(latching, RFC 4961 symmetric RTP) and look for a private c= behind NAT.",
        "ru": f"Вызов mid-1: 1000 RTP-пакетов от стороны по адресу {a}, 0 от стороны по адресу {b}; нет "
              f"направления {back_ru}. Звук в одну сторону: сторона по адресу {a} ничего не слышит (0 пакетов "
              f"{back_ru}). Звук шёл в одну сторону 20 с (сообщается от 5 с, major от 15 с; другое направление "
              f"ниже 10 % ожидаемых пакетов). Сравните адреса SDP с наблюдаемыми потоками (latching, симметричный "
              f"RTP, RFC 4961) и проверьте приватный c= за NAT."}
    # the evidence keeps its structural names; the party names are the texts' alone
    assert (finding.evidence["missing"], "missing_en" in finding.evidence) == ("callee->caller", False)


def test_the_details_of_a_call_begun_inside_say_nothing_of_a_caller(tmp_path) -> None:
    from rich.console import Console

    from sipdiag.reports.calltables import call_details

    analysis = sipdiag.analyze(began_inside_one_way(tmp_path / "mid.pcap"))
    console = Console(width=200, record=True, color_system=None)
    console.print(call_details(analysis.calls[0]))
    text = console.export_text()
    assert "Ended    BYE from the unknown side, frame 1001" in text
    assert "From     sip:100@example.com at 198.51.100.7:5060" in text
    assert " caller " not in text and " callee " not in text


def only_the_final_response(path, status: str):
    """A call of which the capture holds only the PBX's final response to an INVITE of the phone (both tags: a
    UAS adds its tag to a final response, RFC 3261 §12.1.1) and the phone's ACK: the INVITE itself was not
    captured, and may have been the call's first or a re-INVITE of a call already up (§14.1)."""
    s = cc.Script()
    s.sip(0.0, cc.sip_message(f"SIP/2.0 {status}", "fail-1", "7 INVITE", src=cc.UA), cc.PBX, cc.UA)
    s.sip(0.05, cc.sip_message("ACK sip:200@example.com SIP/2.0", "fail-1", "7 ACK", src=cc.UA), cc.UA, cc.PBX)
    return s.write(path)


@pytest.mark.parametrize(("status", "said_en", "said_ru", "meaning_en", "meaning_ru"), [
    ("603 Decline", "200 declined", "абонент 200 отклонил запрос",
     "the party at 203.0.113.5:5060 (sip:200@example.com) declined",
     "сторона по адресу 203.0.113.5:5060 (sip:200@example.com) отклонила запрос"),
    ("487 Request Terminated", "100 cancelled it before an answer", "абонент 100 отменил запрос до ответа",
     "the party at 198.51.100.7:5060 (sip:100@example.com) cancelled it before an answer",
     "сторона по адресу 198.51.100.7:5060 (sip:100@example.com) отменила запрос до ответа"),
    ("404 Not Found", "the number does not exist on the far side", "номер не существует на стороне получателя",
     "the number does not exist on the far side", "номер не существует на стороне получателя"),
])
def test_a_failure_response_without_its_invite_names_no_callee(tmp_path, status, said_en, said_ru, meaning_en,
                                                                meaning_ru) -> None:
    # The response's From party sent the INVITE and its To party refused it (a response copies the request's From
    # and To, RFC 3261 §8.2.6.2); whether that INVITE set the call up or changed one already up is not shown.
    analysis = sipdiag.analyze(only_the_final_response(tmp_path / "fail.pcap", status))
    (call,) = analysis.calls
    assert (call.roles_known, call.outcome, call.final_status) == (
        False, "cancelled" if status.startswith("487") else "rejected", int(status[:3]))
    (finding,) = [f for f in analysis.findings if f.rule == "call.failure-response"]
    assert finding.customer_text == {
        "en": f"The call to 200, or a change to a call already in progress, could not be made: {said_en}. "
              + ("We are checking why." if status.startswith("404") else "No action is needed."),
        "ru": f"Звонок на 200 или изменение уже идущего звонка не удалось совершить: {said_ru}. "
              + ("Мы выясняем причину." if status.startswith("404") else "Ничего делать не нужно.")}
    assert finding.engineer_text == {
        "en": f"Call fail-1: final {status} (frame 1) from 203.0.113.5:5060: {meaning_en} (RFC 3261 §21). The "
              f"capture holds no INVITE of this call, only its final response: which party called, and whether "
              f"this answered the call's initial INVITE or a re-INVITE (whose failure leaves the call up, RFC 3261 "
              f"§14.1), is not shown.",
        "ru": f"Вызов fail-1: итог {status} (кадр 1) от 203.0.113.5:5060: {meaning_ru} (RFC 3261 §21). В записи "
              f"нет ни одного INVITE этого вызова, только окончательный ответ: кто звонил и был ли это ответ на "
              f"начальный INVITE вызова или на re-INVITE (чья неудача не завершает вызов, RFC 3261 §14.1), не "
              f"видно."}


def _terminal(renderable) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


@pytest.mark.parametrize(("lang", "caption"), [
    ("en", "(?) the capture began inside the call: which party called is not known, the caller and callee columns "
           "show the From and To of its first message"),
    ("ru", "(?) запись началась посреди вызова: кто звонил, неизвестно, в столбцах «кто звонит» и «кому» From и To "
           "его первого записанного сообщения"),
])
def test_the_calls_table_marks_the_parties_of_a_call_begun_inside(tmp_path, lang, caption) -> None:
    from sipdiag.reports.calltables import calls_table

    analysis = sipdiag.analyze(began_inside_one_way(tmp_path / "mid.pcap"))
    text = _terminal(calls_table(analysis.calls, lang=lang))
    assert " 1  mid-1    sip:100@example.com (?)  sip:200@example.com (?)  22:13:40  " in text
    assert " ".join(text.split()).endswith(caption)  # under the table, folded to its width


def test_a_cancel_seen_without_the_calls_invite_is_from_no_named_side(tmp_path) -> None:
    # A CANCEL with both tags cancels a re-INVITE (RFC 3261 §9.1), which either party may send: not "the caller's"
    from sipdiag.reports.calltables import call_details

    s = cc.Script()
    s.sip(0.0, cc.sip_message("INVITE sip:x@198.51.100.7 SIP/2.0", "can-1", "5 INVITE", src=cc.PBX, branch="re1",
                              caller_first=False), cc.PBX, cc.UA)
    s.sip(0.5, cc.sip_message("CANCEL sip:x@198.51.100.7 SIP/2.0", "can-1", "5 CANCEL", src=cc.PBX, branch="re1",
                              caller_first=False), cc.PBX, cc.UA)
    (call,) = sipdiag.analyze(s.write(tmp_path / "cancel.pcap")).calls
    assert (call.roles_known, call.cancelled_frame, call.ended_by) == (False, 2, None)
    assert "Ended      CANCEL from the unknown side, frame 2\n" in _terminal(call_details(call))
    assert "Завершение  CANCEL от неизвестной стороны, кадр 2\n" in _terminal(call_details(call, lang="ru"))


@pytest.mark.parametrize(("lang", "note", "ended"), [
    ("en", "(?) The capture began inside this call: which party called is not known, the two columns show the From "
           "and To of its first message captured.", "<th>Ended</th><td class=\"wire\">BYE from the unknown side, "
                                                     "frame 1001</td>"),
    ("ru", "(?) Запись началась посреди этого вызова: кто звонил, неизвестно, в двух столбцах From и To его первого "
           "записанного сообщения.", "<th>Завершение</th><td class=\"wire\">BYE от стороны: неизвестна, кадр "
                                     "1001</td>"),
])
def test_the_html_report_marks_the_parties_of_a_call_begun_inside(tmp_path, lang, note, ended) -> None:
    import io

    from sipdiag.reports import render

    analysis = sipdiag.analyze(began_inside_one_way(tmp_path / "mid.pcap"))
    out = io.StringIO()
    render(analysis, "html", out, lang=lang)
    page = out.getvalue()
    assert ('<td class="wire">sip:100@example.com (?)</td>\n<td class="wire">sip:200@example.com (?)</td>'
            in page)
    assert f'<p class="note">{note}</p>' in page
    assert ended in page


@pytest.mark.parametrize(("lang", "line"), [
    ("en", "- #1 mid-1: sip:100@example.com → sip:200@example.com (From → To of the first message captured: which "
           "party called is not known), answered, "),
    ("ru", "- #1 mid-1: sip:100@example.com → sip:200@example.com (From → To первого записанного сообщения: кто "
           "звонил, неизвестно), отвечен, "),
])
def test_the_engineer_reply_says_the_caller_of_a_call_begun_inside_is_not_known(tmp_path, lang, line) -> None:
    import io

    from sipdiag.reports.reply import render_reply

    analysis = sipdiag.analyze(began_inside_one_way(tmp_path / "mid.pcap"))
    out = io.StringIO()
    render_reply(analysis, out, audience="engineer", lang=lang)
    assert line in out.getvalue()
