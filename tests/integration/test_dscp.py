"""DSCP of RTP read by the fast path (IPv4 TOS, IPv6 traffic class; RFC 2474 §3) and qos.dscp-marking: unmarked
voice from the customer's side, re-marking within a stream, silence where marking is right or not judged."""

from __future__ import annotations

from pathlib import Path

import pytest

import sipdiag
from tests import callcapture as cc
from tests import pcapwriter as pw

T0, MS = cc.T0, cc.MS
LAN_UA, PBX = ("192.168.1.20", 5060), ("203.0.113.5", 5060)
UA_RTP, PBX_RTP = 40000, 50000
EF = 46 << 2  # TOS octet for DSCP 46


CS3 = 24 << 2


def _call(path: Path, *, ua=LAN_UA, tos_up=(EF,), tos_down=EF, packets: int = 100, v6: bool = False,
          v6_ua: str = "2001:db8::20", sip_tos: int = CS3) -> Path:
    """INVITE/200/ACK between `ua` and the PBX, `packets` two-way RTP; the UA's packets cycle through the TOS
    values of `tos_up`, the PBX's carry `tos_down`; SIP of both carries `sip_tos`."""
    def sip(text: str, src, dst) -> bytes:
        return pw.sip_udp_frame(text, src=src[0], dst=dst[0], sport=src[1], dport=dst[1], tos=sip_tos)

    def rtp(src, dst, seq, ssrc, tos) -> bytes:
        udp = pw.udp(src[1], dst[1], pw.rtp_packet(seq, seq * 160, ssrc))
        if v6:
            return pw.link_frame(pw.ipv6(src[0], dst[0], 17, udp, traffic_class=tos))
        return pw.link_frame(pw.ipv4(src[0], dst[0], 17, udp, tos=tos))

    ip_ua, ip_pbx = ((v6_ua, "2001:db8::5") if v6 else (ua[0], PBX[0]))
    sdp = cc.SDP.replace("IN IP4", "IN IP6" if v6 else "IN IP4")
    offer, answer = sdp.format(ip=ip_ua, port=UA_RTP), sdp.format(ip=ip_pbx, port=PBX_RTP)
    recs = [(T0, sip(cc._sip("INVITE sip:200@example.com SIP/2.0", "dscp-1", "1 INVITE", to_tag=False, body=offer),
                     (ip_ua, ua[1]), (ip_pbx, 5060))),
            (T0 + 300 * MS, sip(cc._sip("SIP/2.0 200 OK", "dscp-1", "1 INVITE", to_tag=True, body=answer),
                                (ip_pbx, 5060), (ip_ua, ua[1]))),
            (T0 + 310 * MS, sip(cc._sip("ACK sip:200@example.com SIP/2.0", "dscp-1", "1 ACK", to_tag=True,
                                        branch="b2"), (ip_ua, ua[1]), (ip_pbx, 5060)))]
    start = T0 + 320 * MS
    for i in range(packets):
        recs.append((start + i * 20 * MS, rtp((ip_ua, UA_RTP), (ip_pbx, PBX_RTP), 1000 + i, 0x1111,
                                              tos_up[i % len(tos_up)])))
        recs.append((start + i * 20 * MS + 5 * MS, rtp((ip_pbx, PBX_RTP), (ip_ua, UA_RTP), 5000 + i, 0x2222, tos_down)))
    end = start + packets * 20 * MS + 100 * MS
    recs += [(end, sip(cc._sip("BYE sip:200@example.com SIP/2.0", "dscp-1", "2 BYE", to_tag=True, branch="b3"),
                       (ip_ua, ua[1]), (ip_pbx, 5060))),
             (end + 10 * MS, sip(cc._sip("SIP/2.0 200 OK", "dscp-1", "2 BYE", to_tag=True, branch="b3"),
                                 (ip_pbx, 5060), (ip_ua, ua[1])))]
    pw.write_pcap(path, sorted(recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
    return path


def _streams(path: Path) -> dict[str, tuple]:
    return {s.stats.src_ip: (s.stats.dscp, s.stats.dscp_remarked, s.stats.packets)
            for s in sipdiag.analyze(path).streams}


def _dscp_findings(path: Path):
    return [f for f in sipdiag.analyze(path).findings if f.rule == "qos.dscp-marking"]


@pytest.mark.parametrize("v6", [False, True])
def test_the_fast_path_reads_the_dscp(tmp_path: Path, v6: bool) -> None:
    path = _call(tmp_path / "c.pcap", tos_up=(0x00, EF | 0x01), tos_down=(34 << 2) | 0x02, v6=v6)  # ECN bits set
    up, down = ("2001:db8::20", "2001:db8::5") if v6 else ("192.168.1.20", "203.0.113.5")
    assert _streams(path) == {up: (0, 50, 100), down: (34, 0, 100)}


def test_unmarked_voice_from_the_customer_side(tmp_path: Path) -> None:
    (f,) = _dscp_findings(_call(tmp_path / "unmarked.pcap", tos_up=(0,)))
    assert (f.severity.label, f.owner, f.category, f.call_id) == ("info", "first-line", "router", "dscp-1")
    assert f.evidence["unmarked"] == [
        "192.168.1.20:40000 -> 203.0.113.5:50000 DSCP 0 (default (CS0)) on 100 of 100 packets"]
    assert f.evidence["remarked"] == [] and f.evidence["expected"] == 46
    assert "EF (46)" in f.customer_text["en"] and "EF (46)" in f.customer_text["ru"]


def test_ipv6_addresses_in_brackets_wherever_a_port_follows(tmp_path: Path) -> None:
    """RFC 3986 §3.2.2: `[2001:db8::20]:40000`, never `2001:db8::20:40000` (which reads as another address), in the
    finding's evidence, the stream's label and the JSON document's messages, as the calls' addresses already are."""
    import io
    import json

    from sipdiag.reports.json import render_json

    path = _call(tmp_path / "v6.pcap", tos_up=(0,), v6=True, v6_ua="fd00::20")  # a ULA: the customer's LAN
    analysis = sipdiag.analyze(path)
    (f,) = [f for f in analysis.findings if f.rule == "qos.dscp-marking"]
    assert f.evidence["unmarked"] == [
        "[fd00::20]:40000 -> [2001:db8::5]:50000 DSCP 0 (default (CS0)) on 100 of 100 packets"]
    assert sorted(m.label for m in analysis.streams) == [
        "[2001:db8::5]:50000 -> [fd00::20]:40000 0x00002222",
        "[fd00::20]:40000 -> [2001:db8::5]:50000 0x00001111"]
    out = io.StringIO()
    render_json(analysis, out)
    (call,) = json.loads(out.getvalue())["calls"]
    assert call["caller_address"] == "[fd00::20]:5060"
    up, down = ("[fd00::20]:5060", "[2001:db8::5]:5060"), ("[2001:db8::5]:5060", "[fd00::20]:5060")
    assert [(m["src"], m["dst"]) for m in call["messages"]] == [up, down, up, up, down]  # INVITE 200 ACK BYE 200


def test_re_marking_within_a_stream(tmp_path: Path) -> None:
    (f,) = _dscp_findings(_call(tmp_path / "remarked.pcap", tos_up=(EF, EF, EF, 0)))
    assert f.evidence["unmarked"] == []
    assert f.evidence["remarked"] == [
        "192.168.1.20:40000 -> 203.0.113.5:50000 starts with DSCP 46 (EF), 25 of 100 packets carry another"]


def test_silent_when_marked_or_not_judged(tmp_path: Path) -> None:
    assert _dscp_findings(_call(tmp_path / "ef.pcap")) == []  # EF both ways
    # from a public address (the Internet resets DSCP routinely, RULES.md): not judged
    assert _dscp_findings(_call(tmp_path / "public.pcap", ua=("198.51.100.7", 5060), tos_up=(0,))) == []
    # too short to judge
    assert _dscp_findings(_call(tmp_path / "short.pcap", tos_up=(0,), packets=20)) == []


def test_lab_samples_carry_the_dscp_sipp_sends() -> None:
    from tests.conftest import SAMPLES

    a = sipdiag.analyze(SAMPLES / "clean_call.pcap")
    assert [(s.stats.dscp, s.stats.dscp_remarked) for s in a.streams] == [(0, 0), (0, 0)]  # tshark: ip.dsfield.dscp 0
    assert not [f for f in a.findings if f.rule == "qos.dscp-marking"]  # public addresses: not judged


# ------------------------------------------------------------------ SIP (RULES.md: DSCP outside the operator's policy)

def test_the_sip_message_carries_its_dscp(tmp_path: Path) -> None:
    """IPv4 TOS >> 2 and IPv6 traffic class >> 2 (RFC 2474 §3), ECN bits aside, on every SIP message."""
    for v6 in (False, True):
        path = _call(tmp_path / f"sip{v6}.pcap", sip_tos=(26 << 2) | 0x01, v6=v6)
        assert {m.dscp for m in sipdiag.analyze(path).messages} == {26}


def test_unmarked_sip_from_a_phone_whose_rtp_is_marked(tmp_path: Path) -> None:
    (f,) = _dscp_findings(_call(tmp_path / "sip0.pcap", sip_tos=0))
    assert (f.severity.label, f.call_id, f.frames) == ("info", "dscp-1", (1,))
    assert f.evidence["unmarked"] == [] and f.evidence["remarked"] == []
    assert f.evidence["sip_allowed"] == [24, 26, 40]
    assert f.evidence["sip_unmarked"] == [
        "192.168.1.20:5060 -> 203.0.113.5:5060 DSCP 0 (default (CS0)) on 3 of 3 messages (allowed: 24, 26, 40)"]
    assert "call-setup messages" in f.customer_text["en"]
    assert "one of 24, 26, 40 on SIP" in f.engineer_text["en"]


def test_sip_within_the_policy_or_not_judged_is_quiet(tmp_path: Path) -> None:
    for dscp in (24, 26, 40):
        assert _dscp_findings(_call(tmp_path / f"sip{dscp}.pcap", sip_tos=dscp << 2)) == []
    # from a public address (RULES.md: the Internet resets DSCP), and from a host whose RTP is not judged (too short)
    assert _dscp_findings(_call(tmp_path / "public.pcap", ua=("198.51.100.7", 5060), sip_tos=0)) == []
    assert _dscp_findings(_call(tmp_path / "short.pcap", sip_tos=0, packets=20)) == []


def test_the_sip_policy_is_the_operators(tmp_path: Path) -> None:
    from sipdiag.config import load_config

    config = tmp_path / "sipdiag.toml"
    config.write_text("[qos]\nsip_dscp_allowed = [40]\n", encoding="utf-8")
    path = _call(tmp_path / "cs3.pcap", sip_tos=24 << 2)
    assert _dscp_findings(path) == []
    (f,) = [f for f in sipdiag.analyze(path, settings=load_config(config)).findings if f.rule == "qos.dscp-marking"]
    assert f.evidence["sip_unmarked"] == [
        "192.168.1.20:5060 -> 203.0.113.5:5060 DSCP 24 (CS3) on 3 of 3 messages (allowed: 40)"]


def _call_remarked_later(path: Path, *, infos: int, later_tos: int) -> Path:
    """The call of `_call` (RTP marked EF both ways, SIP CS3) with `infos` INFO requests of the phone in the dialog
    during the audio, each answered 200, their IP headers carrying `later_tos`: the phone's SIP marking changes
    after its INVITE and ACK (re-provisioned mid-call, or a router on the LAN that starts re-marking)."""
    def sip(text: str, src, dst, tos: int) -> bytes:
        return pw.sip_udp_frame(text, src=src[0], dst=dst[0], sport=src[1], dport=dst[1], tos=tos)

    def rtp(src, dst, seq, ssrc) -> bytes:
        return pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], pw.rtp_packet(seq, seq * 160, ssrc)),
                                     tos=EF))

    offer, answer = cc.SDP.format(ip=LAN_UA[0], port=UA_RTP), cc.SDP.format(ip=PBX[0], port=PBX_RTP)
    recs = [(T0, sip(cc._sip("INVITE sip:200@example.com SIP/2.0", "dscp-1", "1 INVITE", to_tag=False, body=offer),
                     LAN_UA, PBX, CS3)),
            (T0 + 300 * MS, sip(cc._sip("SIP/2.0 200 OK", "dscp-1", "1 INVITE", to_tag=True, body=answer),
                                PBX, LAN_UA, CS3)),
            (T0 + 310 * MS, sip(cc._sip("ACK sip:200@example.com SIP/2.0", "dscp-1", "1 ACK", to_tag=True,
                                        branch="b2"), LAN_UA, PBX, CS3))]
    start = T0 + 320 * MS
    for i in range(100):
        recs.append((start + i * 20 * MS, rtp((LAN_UA[0], UA_RTP), (PBX[0], PBX_RTP), 1000 + i, 0x1111)))
        recs.append((start + i * 20 * MS + 5 * MS, rtp((PBX[0], PBX_RTP), (LAN_UA[0], UA_RTP), 5000 + i, 0x2222)))
    for k in range(infos):
        at = start + 1000 * MS + k * 40 * MS + 1 * MS
        cseq, branch = f"{3 + k} INFO", f"i{k}"
        recs += [(at, sip(cc._sip("INFO sip:200@example.com SIP/2.0", "dscp-1", cseq, to_tag=True, branch=branch),
                          LAN_UA, PBX, later_tos)),
                 (at + 10 * MS, sip(cc._sip("SIP/2.0 200 OK", "dscp-1", cseq, to_tag=True, branch=branch),
                                    PBX, LAN_UA, CS3))]
    pw.write_pcap(path, sorted(recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
    return path


def test_sip_marking_that_changes_after_the_messages_kept_is_judged(tmp_path: Path, monkeypatch) -> None:
    """The phone's INVITE and ACK carry CS3 (allowed), its 20 INFOs after them DSCP 0: 20 of its 22 messages are
    outside the policy (91 %). Before, the rule read only Analysis.messages, the first MESSAGE_BUDGET messages
    (5000; 3 here: INVITE, 200, ACK), and judged the phone by its two CS3 messages: no finding. Counted while the
    capture is read, every message is judged, as it is when all of them are kept."""
    import sipdiag.analysis

    path = _call_remarked_later(tmp_path / "later.pcap", infos=20, later_tos=0)
    (whole,) = _dscp_findings(path)
    monkeypatch.setattr(sipdiag.analysis, "MESSAGE_BUDGET", 3)
    capped = sipdiag.analyze(path)
    assert [m.frame for m in capped.messages] == [1, 2, 3]
    (f,) = [f for f in capped.findings if f.rule == "qos.dscp-marking"]
    first_info = next(m.frame for m in sipdiag.analyze(path, keep_messages=100).messages if m.method == "INFO")
    assert (f.severity.label, f.call_id, f.frames) == ("info", "dscp-1", (first_info,))
    assert f.evidence["unmarked"] == [] and f.evidence["remarked"] == []
    assert f.evidence["sip_unmarked"] == [
        "192.168.1.20:5060 -> 203.0.113.5:5060 DSCP 0 (default (CS0)) on 20 of 22 messages (allowed: 24, 26, 40)"]
    assert (f.evidence, f.engineer_text, f.customer_text) == (whole.evidence, whole.engineer_text,
                                                              whole.customer_text)


def test_sip_marking_counted_over_the_whole_capture_still_needs_90_percent(tmp_path: Path, monkeypatch) -> None:
    """15 INFOs at DSCP 0 after the CS3 INVITE and ACK: 15 of 17 (88 %) is below the 90 % of RULES.md, judged over
    every message however few are kept."""
    import sipdiag.analysis

    monkeypatch.setattr(sipdiag.analysis, "MESSAGE_BUDGET", 3)
    assert _dscp_findings(_call_remarked_later(tmp_path / "some.pcap", infos=15, later_tos=0)) == []


def test_without_dscp_counts_the_messages_kept_are_read(tmp_path: Path) -> None:
    """An analysis built without the counts (the live engine's) is judged from its messages, as before."""
    from dataclasses import replace

    from sipdiag.checks import run_checks

    analysis = sipdiag.analyze(_call_remarked_later(tmp_path / "kept.pcap", infos=20, later_tos=0))
    (counted,) = [f for f in analysis.findings if f.rule == "qos.dscp-marking"]
    (kept,) = run_checks(replace(analysis, sip_dscps=None, findings=()), select=("qos.dscp-marking",))
    assert kept.evidence == counted.evidence
    assert run_checks(replace(analysis, sip_dscps=None, messages=analysis.messages[:3], findings=()),
                      select=("qos.dscp-marking",)) == ()
