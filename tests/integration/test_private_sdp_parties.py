"""nat.private-sdp-address names the phone whose SDP it is: "your phone" is the caller's (sipdiag.parties), so a
private c= in the callee's answer is the other party's phone, and what it did to the sound is the other party not
hearing you, not you not hearing them (RFC 3264 §5: the c= line is where its sender wants to receive)."""

from __future__ import annotations

import sipdiag
from tests import callcapture as cc
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP

PRIVATE = ("10.20.30.40", PBX_RTP)


def _callee_private(path, *, lost: bool):
    """The phone (100) calls 200, whose 200 OK announces c=10.20.30.40 from the public 203.0.113.5; the phone's RTP
    goes to that private address (lost: nothing of it reaches the callee) or to the callee's public one
    (latching); the callee's RTP reaches the phone."""
    s = cc.call_setup(cc.Script(), "priv-1", answer_sdp=cc.SDP.format(ip=PRIVATE[0], port=PRIVATE[1]))
    s.rtp((UA[0], UA_RTP), PRIVATE if lost else (PBX[0], PBX_RTP), 0x1111, 0.4, 10.0)
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.405, 10.0, seq0=5000)
    return cc.bye(s, 10.6, "priv-1").write(path)


def _finding(path):
    a = sipdiag.analyze(path)
    assert [c.roles_known for c in a.calls] == [True]
    (found,) = [f for f in a.findings if f.rule == "nat.private-sdp-address"]
    return found


def test_private_address_in_the_callees_answer_is_the_other_partys_phone(tmp_path) -> None:
    f = _finding(_callee_private(tmp_path / "lost.pcap", lost=True))
    assert (f.evidence["role"], f.evidence["media"], f.severity.label) == ("callee", "lost", "major")
    assert f.customer_text == {
        "en": "The other party's phone asks for the sound to be sent to its private home-network address, which the "
              "internet cannot reach. So the other party could not hear you.",
        "ru": "Телефон собеседника просит присылать звук на свой внутренний адрес домашней сети, недоступный из "
              "интернета. Поэтому собеседник вас не слышал."}
    # the engineer text names it as the data does
    assert f.engineer_text["en"].startswith("Call priv-1: the SDP of the callee (frame 2) has c= 10.20.30.40 ")


def test_private_address_in_the_callees_answer_worked_around(tmp_path) -> None:
    f = _finding(_callee_private(tmp_path / "latched.pcap", lost=False))
    assert (f.evidence["role"], f.evidence["media"], f.severity.label) == ("callee", "latched", "minor")
    assert f.customer_text == {
        "en": "The other party's phone asks for the sound to be sent to its private home-network address, which the "
              "internet cannot reach. Our system worked around it this time.",
        "ru": "Телефон собеседника просит присылать звук на свой внутренний адрес домашней сети, недоступный из "
              "интернета. В этот раз наша система это обошла."}


def test_private_address_in_the_callers_offer_is_your_phone(tmp_path) -> None:
    s = cc.call_setup(cc.Script(), "priv-2", offer_sdp=cc.SDP.format(ip="192.168.1.20", port=UA_RTP))
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.4, 10.0)
    s.rtp((PBX[0], PBX_RTP), ("192.168.1.20", UA_RTP), 0x2222, 0.405, 10.0, seq0=5000)
    f = _finding(cc.bye(s, 10.6, "priv-2").write(tmp_path / "caller.pcap"))
    assert (f.evidence["role"], f.evidence["media"]) == ("caller", "lost")
    assert f.customer_text == {
        "en": "Your phone asks for the sound to be sent to its private home-network address, which the internet "
              "cannot reach. So you could not hear the other party.",
        "ru": "Ваш телефон просит присылать звук на свой внутренний адрес домашней сети, недоступный из интернета. "
              "Поэтому вы не слышали собеседника."}


def test_private_address_from_another_leg_is_a_phone_of_your_call(tmp_path) -> None:
    # a re-INVITE's 200 OK with the private c= comes from 198.51.100.99, neither party's signalling address (a
    # B2BUA's other leg under the same Call-ID): a phone of the customer's call, not "your phone"
    leg = ("198.51.100.99", 5060)
    s = cc.call_setup(cc.Script(), "priv-3")
    s.sip(1.0, cc.sip_message(f"INVITE sip:x@{PBX[0]} SIP/2.0", "priv-3", "2 INVITE", src=UA, branch="re1",
                              body=cc.SDP.format(ip=UA[0], port=UA_RTP)), UA, PBX)
    s.sip(1.05, cc.sip_message("SIP/2.0 200 OK", "priv-3", "2 INVITE", src=UA, branch="re1",
                               body=cc.SDP.format(ip="10.1.1.1", port=PBX_RTP)), leg, UA)
    s.sip(1.06, cc.sip_message(f"ACK sip:x@{PBX[0]} SIP/2.0", "priv-3", "2 ACK", src=UA, branch="re1ack"), UA, PBX)
    f = _finding(cc.bye(s, 20.1, "priv-3").write(tmp_path / "leg.pcap"))
    assert (f.evidence["role"], f.evidence["media"]) == ("other", "unknown")
    assert f.customer_text == {
        "en": "A phone of your call asks for the sound to be sent to its private home-network address, which the "
              "internet cannot reach. This can stop it from hearing the other party; we are checking it.",
        "ru": "Телефон в вашем звонке просит присылать звук на свой внутренний адрес домашней сети, недоступный из "
              "интернета. Из-за этого он может не слышать собеседника; мы это проверяем."}
