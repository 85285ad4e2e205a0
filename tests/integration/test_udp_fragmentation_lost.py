"""router.udp-fragmentation (RULES.md §3.7 trigger (c)) for large messages other than a request left unanswered: a
large final response its sender had to send again and again - a 200 OK to INVITE without ACK (RFC 3261 §13.3.1.4),
a 200 OK to REGISTER while the REGISTER kept coming (§17.2.2) - and a large in-dialog request, set against smaller
messages of the same device on the same path that got through (a request answered, a response acknowledged, a
response after which its request was not retransmitted)."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from tests import callcapture as cc
from tests import pcapwriter as pw

T0, S = cc.T0, cc.S
UA, PBX = cc.UA, cc.PBX
CALL = "lost-1"
# RFC 3261 §13.3.1.4: the UAS retransmits its 2xx at T1, doubling up to T2, for 64*T1.
OK_SENDS_S = (0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)


def _msg(start: str, cseq: str, src, *, to_tag: bool = True, branch: str = "b1", body: str = "",
         caller_first: bool = True, extra: str = "") -> str:
    return cc.sip_message(start, CALL, cseq, src=src, to_tag=to_tag, branch=branch, body=body,
                          caller_first=caller_first, extra=extra)


def _big_sdp(ip: str, port: int, pad: int) -> str:
    """An SDP padded with `pad` octets of attributes (many codecs, ICE candidates, SRTP keys)."""
    return cc.SDP.format(ip=ip, port=port) + "a=x-pad:" + "p" * pad + "\n"


def _udp(text: str, src, dst, *, mtu: int | None = None, ident: int = 1) -> list[bytes]:
    datagram = pw.udp(src[1], dst[1], pw.sip_bytes(text), src[0], dst[0])
    if mtu is None:
        return [pw.link_frame(pw.ipv4(src[0], dst[0], 17, datagram))]
    return [pw.link_frame(p) for p in pw.fragment_ipv4(src[0], dst[0], 17, datagram, mtu, ident)]


class Capture:
    """SIP messages at times in seconds from T0, each in one packet or in IPv4 fragments."""

    def __init__(self) -> None:
        self.recs: list[tuple[int, bytes]] = []
        self.ident = 100

    def add(self, at: float, text: str, src, dst, *, mtu: int | None = None) -> Capture:
        self.ident += 1
        self.recs += [(T0 + int(at * S) + k, f) for k, f in enumerate(_udp(text, src, dst, mtu=mtu, ident=self.ident))]
        return self

    def write(self, path: Path) -> Path:
        pw.write_pcap(path, sorted(self.recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
        return path


def _findings(path: Path):
    return [f for f in sipdiag.analyze(path).findings if f.rule == "router.udp-fragmentation"]


def _lost_ok(path: Path, *, provisional: bool = True, mtu: int | None = 1500, ack_after: int | None = None) -> Path:
    """INVITE (small), 100 Trying and 180 Ringing, then a large 200 OK the UAS retransmits for 32 s: no ACK comes
    (or one after `ack_after` retransmissions), then its BYE."""
    invite = _msg("INVITE sip:200@example.com SIP/2.0", "1 INVITE", UA, to_tag=False,
                  body=cc.SDP.format(ip=UA[0], port=cc.UA_RTP))
    ok = _msg("SIP/2.0 200 OK", "1 INVITE", UA, body=_big_sdp(PBX[0], cc.PBX_RTP, 1300))
    cap = Capture().add(0, invite, UA, PBX)
    answer_at = 0.1
    if provisional:
        cap.add(0.05, _msg("SIP/2.0 100 Trying", "1 INVITE", UA, to_tag=False), PBX, UA)
        cap.add(0.1, _msg("SIP/2.0 180 Ringing", "1 INVITE", UA), PBX, UA)
        answer_at = 3.0
    sends = OK_SENDS_S if ack_after is None else OK_SENDS_S[:ack_after + 1]
    for t in sends:
        cap.add(answer_at + t, ok, PBX, UA, mtu=mtu)
    if ack_after is not None:
        cap.add(answer_at + sends[-1] + 0.05, _msg("ACK sip:200@example.com SIP/2.0", "1 ACK", UA, branch="a1"),
                UA, PBX)
    else:
        cap.add(answer_at + 32.1, _msg("BYE sip:100@example.com SIP/2.0", "2 BYE", PBX, branch="bye",
                                       caller_first=False), PBX, UA)
    return cap.write(path)


def _size(text: str) -> int:
    return len(pw.sip_bytes(text))


def test_a_large_200_ok_never_acknowledged_where_the_provisionals_got_through(tmp_path: Path) -> None:
    ok = _msg("SIP/2.0 200 OK", "1 INVITE", UA, body=_big_sdp(PBX[0], cc.PBX_RTP, 1300))
    trying = _msg("SIP/2.0 100 Trying", "1 INVITE", UA, to_tag=False)
    (f,) = _findings(_lost_ok(tmp_path / "ok.pcap"))
    assert (f.severity.label, f.confidence, f.call_id, f.evidence["trigger"]) == (
        "major", "high", CALL, "large-fails-small-works")
    # frames 1-3: INVITE, 100, 180; then the 200 OK in two fragments, eleven times; the BYE last
    assert f.frames == tuple(range(4, 26))
    assert f.evidence["messages"] == [
        f"200 (INVITE) frame 5: {_size(ok)} bytes in 2 IP fragments (frames 4, 5), sent 11 times"]
    assert f.evidence["failed"] == [
        "200 (INVITE) frame 5 sent 11 times, never acknowledged (no ACK, RFC 3261 §13.3.1.4)"]
    # Timer A stopped at the 100 Trying: the small responses reached the caller, the large one did not
    assert f.evidence["answered_small"] == [
        f"100 (INVITE) frame 2 ({_size(trying)} bytes) arrived: the INVITE was not retransmitted"]
    assert "Lost on the way: 200 (INVITE) frame 5 sent 11 times" in f.engineer_text["en"]
    assert ("Потеряны в пути: 200 (INVITE) кадр 5: отправок 11, ACK так и не пришёл (RFC 3261 §13.3.1.4)"
            in f.engineer_text["ru"])
    assert "pieces are being dropped" in f.customer_text["en"]


def test_the_same_200_ok_in_one_packet_fails_the_same_way(tmp_path: Path) -> None:
    (f,) = _findings(_lost_ok(tmp_path / "whole.pcap", mtu=None))
    assert (f.severity.label, f.evidence["trigger"], f.frames) == ("major", "large-fails-small-works",
                                                                   tuple(range(4, 15)))
    assert f.evidence["failed"] == [
        "200 (INVITE) frame 4 sent 11 times, never acknowledged (no ACK, RFC 3261 §13.3.1.4)"]


def test_a_fragmented_200_ok_lost_without_a_smaller_message_to_compare(tmp_path: Path) -> None:
    """Answered at once, no provisional: nothing smaller on the way back shows the path works; the fragments of a
    response sent again and again are still the likely loss."""
    (f,) = _findings(_lost_ok(tmp_path / "auto.pcap", provisional=False))
    assert (f.severity.label, f.confidence, f.evidence["trigger"]) == ("major", "medium", "fragmented-unanswered")
    assert f.evidence["answered_small"] == []
    assert f.evidence["failed"] == [
        "200 (INVITE) frame 3 sent 11 times, never acknowledged (no ACK, RFC 3261 §13.3.1.4)"]
    assert f.evidence["detail"].endswith(
        "A fragmented response was sent again and again: its fragments were likely dropped after the capture point.")
    assert f.evidence["detail_ru"].endswith(
        "Фрагментированный ответ отправлялся снова и снова: вероятно, его фрагменты отброшены после точки захвата.")


def test_a_large_200_ok_acknowledged_late_is_only_at_risk(tmp_path: Path) -> None:
    """Three copies and then the ACK: the caller got it; fragmented, it stays trigger (a)."""
    (f,) = _findings(_lost_ok(tmp_path / "late.pcap", ack_after=3))
    assert (f.severity.label, f.evidence["trigger"], f.evidence["failed"], f.evidence["answered_small"]) == (
        "minor", "fragmented", [], [])


def test_two_retransmissions_of_a_200_ok_are_not_yet_a_loss(tmp_path: Path) -> None:
    """The capture ends after two retransmissions (1.5 s): a slow ACK is still possible."""
    (f,) = _findings(_lost_ok(tmp_path / "short.pcap", mtu=None, ack_after=2))
    assert (f.severity.label, f.evidence["trigger"], f.evidence["failed"]) == ("minor", "large-unfragmented", [])


def _register(cseq: int, branch: str, auth: str | None = None) -> str:
    return cc.register_text(cseq, branch, call_id=CALL, via=f"{UA[0]}:{UA[1]}", auth=auth)


def test_a_large_200_ok_to_register_while_the_register_keeps_coming(tmp_path: Path) -> None:
    """The registrar lists many contacts in its 200 OK (RULES.md (c)); its 401 got through (the REGISTER was not
    sent again after it), the 200 OK did not: the client retransmits, the registrar answers each copy again."""
    contacts = "".join(f"Contact: <sip:100@10.0.{i}.5:5060>;expires=300\n" for i in range(30))
    challenge = cc.register_response(1, "r1", "401 Unauthorized", headers=cc.challenge("n1"), call_id=CALL,
                                     via=f"{UA[0]}:{UA[1]}")
    ok = cc.register_response(2, "r2", "200 OK", headers=contacts, call_id=CALL, via=f"{UA[0]}:{UA[1]}")
    assert _size(ok) > 1300
    cap = Capture().add(0, _register(1, "r1"), UA, PBX).add(0.02, challenge, PBX, UA)
    request = _register(2, "r2", auth=cc.credentials("n1"))
    for t in cc.TIMER_E_S:
        cap.add(1 + t, request, UA, PBX).add(1.02 + t, ok, PBX, UA)
    (f,) = _findings(cap.write(tmp_path / "reg.pcap"))
    assert (f.severity.label, f.confidence, f.call_id, f.evidence["trigger"]) == (
        "major", "high", CALL, "large-fails-small-works")
    assert f.frames == tuple(range(4, 25, 2))
    assert f.evidence["messages"] == [f"200 (REGISTER) frame 4: {_size(ok)} bytes in one packet, sent 11 times"]
    assert f.evidence["failed"] == [
        "200 (REGISTER) frame 4 sent 11 times, as the REGISTER kept being retransmitted (RFC 3261 §17.2.2)"]
    assert f.evidence["answered_small"] == [
        f"401 (REGISTER) frame 2 ({_size(challenge)} bytes) arrived: the REGISTER was not retransmitted"]
    assert ("Потеряны в пути: 200 (REGISTER) кадр 4: отправок 11, REGISTER переотправлялся снова и снова "
            "(RFC 3261 §17.2.2)") in f.engineer_text["ru"]


def test_a_large_notify_in_the_dialog_fails_where_the_small_200_ok_got_through(tmp_path: Path) -> None:
    """The PBX's NOTIFY (dialog-info XML, RFC 4235) goes unanswered until Timer F; on the same path, PBX to phone,
    the small 200 OK to the INVITE was acknowledged: before, nothing compared it and the finding stayed minor."""
    invite = _msg("INVITE sip:200@example.com SIP/2.0", "1 INVITE", UA, to_tag=False,
                  body=cc.SDP.format(ip=UA[0], port=cc.UA_RTP))
    ok = _msg("SIP/2.0 200 OK", "1 INVITE", UA, body=cc.SDP.format(ip=PBX[0], port=cc.PBX_RTP))
    xml = "<?xml version='1.0'?><dialog-info>" + "<dialog/>" * 170 + "</dialog-info>"
    notify = _msg("NOTIFY sip:100@example.com SIP/2.0", "2 NOTIFY", PBX, branch="n1", caller_first=False,
                  extra="Event: dialog\nSubscription-State: active\n")
    notify = notify.replace("Content-Length: 0\n\n",
                            f"Content-Type: application/dialog-info+xml\nContent-Length: {len(xml)}\n\n{xml}")
    cap = Capture().add(0, invite, UA, PBX).add(0.1, ok, PBX, UA)
    cap.add(0.2, _msg("ACK sip:200@example.com SIP/2.0", "1 ACK", UA, branch="a1"), UA, PBX)
    for t in cc.TIMER_E_S:
        cap.add(1 + t, notify, PBX, UA, mtu=1500)
    (f,) = _findings(cap.write(tmp_path / "notify.pcap"))
    assert (f.severity.label, f.confidence, f.evidence["trigger"]) == ("major", "high", "large-fails-small-works")
    assert f.evidence["failed"] == ["NOTIFY frame 5 never answered (Timer F)"]
    assert f.evidence["answered_small"] == [f"200 (INVITE) frame 2 ({_size(ok)} bytes) acknowledged (ACK frame 3)"]
    assert f.evidence["messages"] == [
        f"NOTIFY frame 5: {_size(notify)} bytes in 2 IP fragments (frames 4, 5), sent 11 times"]
    assert f.frames == tuple(range(4, 26))


def test_one_smaller_message_is_named_once_for_every_loss_on_its_path(tmp_path: Path) -> None:
    """Two large INVITEs of the call (the second a new attempt, CSeq 2) both time out; the OPTIONS answered on the
    same path is named once, not once per loss as before."""
    options = cc.sip_message("OPTIONS sip:200@example.com SIP/2.0", "opt-1", "1 OPTIONS", src=UA, to_tag=False,
                             branch="o1")
    answer = options.replace("OPTIONS sip:200@example.com SIP/2.0", "SIP/2.0 200 OK").replace(
        "To: <sip:200@example.com>", "To: <sip:200@example.com>;tag=o")
    cap = Capture().add(0, options, UA, PBX).add(0.05, answer, PBX, UA)
    for n, start in ((1, 1.0), (2, 40.0)):
        invite = _msg("INVITE sip:200@example.com SIP/2.0", f"{n} INVITE", UA, to_tag=False, branch=f"i{n}",
                      body=_big_sdp(UA[0], cc.UA_RTP, 1300))
        for t in (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5):
            cap.add(start + t, invite, UA, PBX)
    (f,) = _findings(cap.write(tmp_path / "twice.pcap"))
    assert f.evidence["trigger"] == "large-fails-small-works"
    assert f.evidence["failed"] == ["INVITE frame 3 never answered (Timer B)",
                                    "INVITE frame 10 never answered (Timer B)"]
    assert f.evidence["answered_small"] == [f"OPTIONS frame 1 ({_size(options)} bytes) answered 200"]
