"""Rule texts of a call whose INVITE the capture lacks (Call.roles_known False, RFC 3261 §12.2.1.1): the parties are
named by address in the engineer texts and by number in the customer texts (RULES.md §6), never as the caller and
the callee, which are then only the From and To of the first message seen (sipdiag.parties)."""

from __future__ import annotations

import sipdiag
from tests import callcapture as cc
from tests import pcapwriter as pw
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP

B = "the party at 203.0.113.5:5060 (sip:200@example.com)"  # the PBX: the From of the first message (a re-INVITE)
A = "the party at 198.51.100.7:5060 (sip:100@example.com)"  # the phone
B_RU = "стороны по адресу 203.0.113.5:5060 (sip:200@example.com)"
A_RU = "стороны по адресу 198.51.100.7:5060 (sip:100@example.com)"
B_TO_A = "from the party at 203.0.113.5:5060 to the party at 198.51.100.7:5060"
A_TO_B = "from the party at 198.51.100.7:5060 to the party at 203.0.113.5:5060"
PCMU = cc.SDP.format(ip=PBX[0], port=PBX_RTP), cc.SDP.format(ip=UA[0], port=UA_RTP)


def reinvite_inside(path, *, offer: str, answer: str, rtp=(), extra=()):
    """A capture that begins with the PBX's re-INVITE (B: sip:200 at 203.0.113.5:5060) carrying `offer`, the phone's
    200 OK (A: sip:100 at 198.51.100.7:5060) with `answer` and the ACK; then the RTP runs (src, dst, SSRC, payload
    type, start s, seconds), the `extra` (s, frame) records and the PBX's BYE at 20.1 s. No INVITE: either may have
    called."""
    s = cc.Script()
    s.sip(0.0, cc.sip_message(f"INVITE sip:x@{UA[0]} SIP/2.0", "mid-1", "5 INVITE", src=PBX, branch="re1",
                              caller_first=False, body=offer), PBX, UA)
    s.sip(0.05, cc.sip_message("SIP/2.0 200 OK", "mid-1", "5 INVITE", src=PBX, branch="re1", caller_first=False,
                               body=answer), UA, PBX)
    s.sip(0.06, cc.sip_message(f"ACK sip:x@{UA[0]} SIP/2.0", "mid-1", "5 ACK", src=PBX, branch="re1ack",
                               caller_first=False), PBX, UA)
    for src, dst, ssrc, pt, start, seconds in rtp:
        s.rtp(src, dst, ssrc, start, seconds, seq0=1000 + (ssrc & 0xFFF), pt=pt)
    for at, record in extra:
        s.recs.append((cc.T0 + int(at * cc.S), record))
    cc.bye(s, 20.1, "mid-1", from_callee=True)
    return s.write(path)


def both_ways(pt_a: int, pt_b: int, seconds: float):
    """RTP from A to B with payload type pt_a and from B to A with pt_b, from 0.2 s for `seconds`."""
    return (((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, pt_a, 0.2, seconds),
            ((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, pt_b, 0.205, seconds))


def finding(analysis, rule: str):
    (call,) = analysis.calls
    assert (call.roles_known, call.caller, call.callee) == (False, "sip:200@example.com", "sip:100@example.com")
    (found,) = [f for f in analysis.findings if f.rule == rule]
    return found


def test_no_rtp_of_a_call_begun_inside(tmp_path) -> None:
    # 10 packets each way at the start of a 20 s call: no audio either way (sipdiag.media: too few, not a burst one
    # way only), the call's packets the only RTP of the capture
    a = sipdiag.analyze(reinvite_inside(tmp_path / "mid.pcap", offer=PCMU[0], answer=PCMU[1],
                                        rtp=both_ways(0, 0, 0.2)))
    assert a.media[0].verdict.verdict == "no-rtp"
    f = finding(a, "media.no-rtp")
    tail_en = ("We are checking the audio path between your equipment and our servers; please tell us whether this "
               "happens on every call.")
    tail_ru = ("Мы проверяем путь звука между вашим оборудованием и нашими серверами; сообщите, происходит ли это "
               "при каждом звонке.")
    assert f.customer_text == {
        "en": f"The call between 200 and 100 connected but almost no sound got through. {tail_en}",
        "ru": f"Звонок между абонентами 200 и 100 соединился, но звука почти не было. {tail_ru}"}
    assert f.engineer_text == {
        "en": f"Call mid-1: answered (frame 2), of unknown length, only 20 RTP packets (10 {B_TO_A}, 10 {A_TO_B}), "
              f"too few to carry audio, at this capture point; SDP media: 203.0.113.5:50000, 198.51.100.7:40000. "
              f"This call's few RTP packets are the only ones of the capture. Check that the capture covers the "
              f"media ports, then the firewall/NAT for the RTP range and ICE/DTLS if used (RFC 3264, RFC 8445).",
        "ru": f"Вызов mid-1: отвечен (кадр 2), длительность неизвестна, лишь 20 RTP-пакетов (10 от {B_RU}, 10 от "
              f"{A_RU}), слишком мало для звука, в точке захвата; медиа в SDP: 203.0.113.5:50000, "
              f"198.51.100.7:40000. Немногие RTP-пакеты этого вызова — единственные в захвате. Убедитесь, что "
              f"захват покрывает медиапорты, затем проверьте межсетевой экран/NAT для диапазона RTP и ICE/DTLS, "
              f"если используется (RFC 3264, RFC 8445)."}


def test_no_rtp_of_a_fax_call_begun_inside(tmp_path) -> None:
    # a T.38 stream (RFC 3362) offered beside the audio: a fax call, "your fax call" only when the caller is known
    def fax(ip: str, port: int) -> str:
        return cc.SDP.format(ip=ip, port=port) + f"m=image {port + 2} udptl t38\n"

    a = sipdiag.analyze(reinvite_inside(tmp_path / "mid.pcap", offer=fax(PBX[0], PBX_RTP), answer=fax(UA[0], UA_RTP),
                                        rtp=both_ways(0, 0, 0.2)))
    f = finding(a, "media.no-rtp")
    assert f.customer_text == {
        "en": "The fax call between 200 and 100 connected, but neither sound nor fax data was seen on it. We are "
              "checking the audio path between your equipment and our servers; please tell us whether this happens "
              "on every call.",
        "ru": "Факсовый звонок между абонентами 200 и 100 соединился, но на нём не было видно ни звука, ни данных "
              "факса. Мы проверяем путь звука между вашим оборудованием и нашими серверами; сообщите, происходит ли "
              "это при каждом звонке."}


def test_hairpin_failure_of_a_call_begun_inside(tmp_path) -> None:
    shared = cc.SDP.format(ip="203.0.113.50", port=PBX_RTP), cc.SDP.format(ip="203.0.113.50", port=UA_RTP)
    a = sipdiag.analyze(reinvite_inside(tmp_path / "mid.pcap", offer=shared[0], answer=shared[1], rtp=(
        ((UA[0], UA_RTP), ("203.0.113.50", PBX_RTP), 0x1111, 0, 0.2, 19.0),)))
    f = finding(a, "nat.hairpin-failure")
    assert f.engineer_text == {
        "en": f"Call mid-1: both parties announce the same public address 203.0.113.50 in their SDP ({B}: "
              f"203.0.113.50:50000, frame 1; {A}: 203.0.113.50:40000, frame 2), so RTP must loop back through their "
              f"NAT; ? s after the answer the audio is one-way only (0 packets to {A}, 950 to {B}). RFC 4787 REQ-9 "
              f"requires hairpinning; anchor media on the SBC for same-address calls (e.g. direct_media=no) or let "
              f"the phones use host candidates (ICE).",
        "ru": "Вызов mid-1: обе стороны объявляют в SDP один и тот же публичный адрес 203.0.113.50 (сторона по "
              "адресу 203.0.113.5:5060 (sip:200@example.com): 203.0.113.50:50000, кадр 1; сторона по адресу "
              "198.51.100.7:5060 (sip:100@example.com): 203.0.113.50:40000, кадр 2), поэтому RTP должен вернуться "
              "через их NAT; через ? с после ответа звук только в одну сторону (0 пакетов к стороне по адресу "
              "198.51.100.7:5060 (sip:100@example.com), 950 к стороне по адресу 203.0.113.5:5060 "
              "(sip:200@example.com)). RFC 4787 REQ-9 требует hairpinning; якорьте медиа на SBC для вызовов с "
              "одного адреса (например, direct_media=no) или используйте host-кандидаты (ICE)."}
    # the evidence keeps the data's names
    assert (f.evidence["caller_media"], f.evidence["callee_media"]) == ("203.0.113.50:50000", "203.0.113.50:40000")


def test_private_and_loopback_sdp_of_a_call_begun_inside(tmp_path) -> None:
    a = sipdiag.analyze(reinvite_inside(tmp_path / "mid.pcap", offer=cc.SDP.format(ip="10.20.30.40", port=PBX_RTP),
                                        answer=cc.SDP.format(ip="127.0.0.1", port=UA_RTP)))
    private = finding(a, "nat.private-sdp-address")
    assert private.engineer_text["en"].startswith(
        f"Call mid-1: the SDP of {B} (frame 1) has c= 10.20.30.40 (private), m= port 50000, while its signalling ")
    assert private.engineer_text["ru"].startswith(
        f"Вызов mid-1: SDP {B_RU} (кадр 1) указывает c= 10.20.30.40 (частный), порт m= 50000, а сигнализация ")
    loopback = finding(a, "media.loopback-sdp-address")
    assert loopback.engineer_text["en"].startswith(
        f"Call mid-1: the SDP of {A} (frame 2) has c= 127.0.0.1 for m=audio port 40000: a loopback address")
    assert loopback.engineer_text["ru"].startswith(
        f"Вызов mid-1: SDP {A_RU} (кадр 2) указывает c= 127.0.0.1 для m=audio, порт 40000: это адрес loopback")
    # the evidence keeps the structural names (JSON)
    assert [(f.evidence["role"], f.evidence["party_en"], f.evidence["party_ru"]) for f in (private, loopback)] == [
        ("caller", "caller", "вызывающего"), ("callee", "callee", "вызываемого")]
    # neither phone is "your phone": by their numbers (RULES.md §6); no RTP here, so the effect is not known
    assert private.customer_text == {
        "en": "The phone of number 200 asks for the sound to be sent to its private home-network address, which "
              "the internet cannot reach. This can stop number 200 from hearing number 100; we are checking it.",
        "ru": "Телефон абонента 200 просит присылать звук на свой внутренний адрес домашней сети, недоступный из "
              "интернета. Из-за этого абонент 200 может не слышать абонента 100; мы это проверяем."}


def test_private_sdp_address_that_lost_the_sound_of_a_call_begun_inside(tmp_path) -> None:
    # B's SDP names 10.20.30.40: A's RTP sent there is lost (B hears nothing), B's reaches A
    a = sipdiag.analyze(reinvite_inside(
        tmp_path / "mid.pcap", offer=cc.SDP.format(ip="10.20.30.40", port=PBX_RTP), answer=PCMU[1], rtp=(
            ((UA[0], UA_RTP), ("10.20.30.40", PBX_RTP), 0x1111, 0, 0.2, 19.0),
            ((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0, 0.2, 19.0))))
    f = finding(a, "nat.private-sdp-address")
    assert (f.severity.label, f.evidence["media"], f.evidence["effect_en"], f.evidence["effect_ru"]) == (
        "major", "lost", "So number 200 could not hear number 100.", "Поэтому абонент 200 не слышал абонента 100.")
    assert f.customer_text == {
        "en": "The phone of number 200 asks for the sound to be sent to its private home-network address, which "
              "the internet cannot reach. So number 200 could not hear number 100.",
        "ru": "Телефон абонента 200 просит присылать звук на свой внутренний адрес домашней сети, недоступный из "
              "интернета. Поэтому абонент 200 не слышал абонента 100."}


def test_private_sdp_address_of_another_leg_of_a_call_begun_inside(tmp_path) -> None:
    # the 200 OK with the private c= comes from 198.51.100.99, neither party's signalling address (a B2BUA's other
    # leg under the same Call-ID): a phone of the call, named by neither number
    leg = ("198.51.100.99", 5060)
    s = cc.Script()
    s.sip(0.0, cc.sip_message(f"INVITE sip:x@{UA[0]} SIP/2.0", "mid-1", "5 INVITE", src=PBX, branch="re1",
                              caller_first=False, body=PCMU[0]), PBX, UA)
    s.sip(0.05, cc.sip_message("SIP/2.0 200 OK", "mid-1", "5 INVITE", src=PBX, branch="re1", caller_first=False,
                               body=cc.SDP.format(ip="10.1.1.1", port=UA_RTP)), leg, PBX)
    s.sip(0.06, cc.sip_message(f"ACK sip:x@{UA[0]} SIP/2.0", "mid-1", "5 ACK", src=PBX, branch="re1ack",
                               caller_first=False), PBX, UA)
    f = finding(sipdiag.analyze(cc.bye(s, 20.1, "mid-1", from_callee=True).write(tmp_path / "mid.pcap")),
                "nat.private-sdp-address")
    assert (f.evidence["role"], f.evidence["media"]) == ("other", "unknown")
    assert f.customer_text == {
        "en": "A phone of the call between 200 and 100 asks for the sound to be sent to its private home-network "
              "address, which the internet cannot reach. This can stop it from hearing the other party; we are "
              "checking it.",
        "ru": "Телефон в звонке между абонентами 200 и 100 просит присылать звук на свой внутренний адрес домашней "
              "сети, недоступный из интернета. Из-за этого он может не слышать собеседника; мы это проверяем."}


def test_codec_texts_of_a_call_begun_inside(tmp_path) -> None:
    # B offers PCMU and PCMA, A answers PCMA alone; B sends PCMU (RFC 3264 §5.1: not what A accepted), A sends PCMA
    offer = cc.sdp(PBX[0], PBX_RTP, "0 8", "rtpmap:0 PCMU/8000", "rtpmap:8 PCMA/8000")
    answer = cc.sdp(UA[0], UA_RTP, "8", "rtpmap:8 PCMA/8000")
    a = sipdiag.analyze(reinvite_inside(tmp_path / "mid.pcap", offer=offer, answer=answer, rtp=both_ways(8, 0, 19.0)))
    f = finding(a, "codec.asymmetric-codec")
    assert f.customer_text == {
        "en": "The call between 200 and 100 used one voice format in one direction and another in the other. This "
              "is allowed and usually harmless; no action is needed unless you noticed poor sound or recording "
              "problems.",
        "ru": "В звонке между абонентами 200 и 100 в одну сторону использовался один формат голоса, а в другую — "
              "другой. Это допустимо и обычно безвредно; действий не требуется, если вы не заметили плохого звука "
              "или проблем с записью."}
    assert f.engineer_text["en"].startswith(
        f"Call mid-1: {B_TO_A} PCMU for 19.0 s (frame 5), {A_TO_B} PCMA for 19.0 s (frame 4). Legal under ")
    assert f.engineer_text["ru"].startswith(
        f"Вызов mid-1: от {B_RU} PCMU в течение 19.0 с (кадр 5), от {A_RU} PCMA в течение 19.0 с (кадр 4). ")
    f = finding(a, "codec.rtp-payload-not-negotiated")
    # by their numbers: a customer text carries no third party's address (RULES.md §6)
    assert f.customer_text == {
        "en": "During the call, sound was sent from number 200 to number 100 in a format that side had not agreed "
              "to receive, so it was probably thrown away. No action is needed from you: we are correcting the "
              "configuration.",
        "ru": "Во время звонка звук передавался от абонента 200 к абоненту 100 в формате, который эта сторона не "
              "соглашалась принимать, поэтому он, скорее всего, отбрасывался. От вас ничего не требуется: мы "
              "исправляем настройки."}
    assert f"but the SDP of {A} (frame(s) 2) accepts only 8." in f.engineer_text["en"]


def test_icmp_refusal_by_a_party_of_a_call_begun_inside(tmp_path) -> None:
    # the phone refuses the PBX's RTP (port unreachable, RFC 792) five times during the call
    quoted = pw.ipv4(PBX[0], UA[0], 17, pw.udp(PBX_RTP, UA_RTP, pw.rtp_packet(1000, 0, 0x2222)))
    a = sipdiag.analyze(reinvite_inside(tmp_path / "mid.pcap", offer=PCMU[0], answer=PCMU[1],
                                        rtp=both_ways(0, 0, 19.0),
                                        extra=[(1.0 + i, cc.icmp_error(UA[0], PBX[0], quoted)) for i in range(5)]))
    f = finding(a, "router.icmp-unreachable")
    assert f"The refusing host is the flow's own destination ({A}), on the operator's side." in f.engineer_text["en"]
    assert ("Отклоняет сам узел назначения потока (сторона по адресу 198.51.100.7:5060 (sip:100@example.com)), на "
            "стороне оператора.") in f.engineer_text["ru"]


def test_sdp_directions_of_a_call_begun_inside(tmp_path) -> None:
    # B puts A on hold (sendonly, answered recvonly: RFC 3264 §8.4): audio one way by design, the reason naming the
    # parties by address
    offer = cc.sdp(PBX[0], PBX_RTP, "0", "rtpmap:0 PCMU/8000", "sendonly")
    answer = cc.sdp(UA[0], UA_RTP, "0", "rtpmap:0 PCMU/8000", "recvonly")
    a = sipdiag.analyze(reinvite_inside(tmp_path / "mid.pcap", offer=offer, answer=answer, rtp=(
        ((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0, 0.2, 19.0),)))
    (media,) = a.media
    assert (media.verdict.verdict, media.verdict.detail, media.verdict.detail_ru) == (
        "one-way-negotiated",
        f"audio flows {B_TO_A} only, as the SDP asked ({A} recvonly, {B} sendonly; RFC 3264 §6.1)",
        "Звук идёт только от стороны 203.0.113.5:5060 к стороне 198.51.100.7:5060, как задано в SDP (сторона по "
        "адресу 198.51.100.7:5060 (sip:100@example.com) recvonly, сторона по адресу 203.0.113.5:5060 "
        "(sip:200@example.com) sendonly; RFC 3264 §6.1)")


def test_the_offerer_of_a_call_begun_inside_is_marked(tmp_path) -> None:
    from rich.console import Console

    from sipdiag.reports.calltables import call_details

    a = sipdiag.analyze(reinvite_inside(tmp_path / "mid.pcap", offer=PCMU[0], answer=PCMU[1]))
    console = Console(width=200, record=True, color_system=None)
    console.print(call_details(a.calls[0]))
    assert "frame 1, caller (?)" in console.export_text()
