"""router.udp-fragmentation per Call-ID (RULES.md §3.7): (a) SIP over UDP in IP fragments, minor; (a) with (b)
incomplete fragment sets in the capture, major; (c) a large request unanswered while a small one of the same device
on the same path is answered, major; (d) SIP over UDP above sip.large_udp_sip_bytes in one packet, minor risk."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from sipdiag.config import load_config
from tests import callcapture as cc
from tests import pcapwriter as pw

T0, S = cc.T0, cc.S
UA, PBX = cc.UA, cc.PBX
CALL = "frag-1"


def _invite(body_bytes: int, branch: str = "b1") -> str:
    """An INVITE whose SDP carries `body_bytes` more octets of attributes (many codecs, ICE, SRTP keys)."""
    pad = "a=x-pad:" + "p" * max(0, body_bytes - 10) + "\n"
    return cc._sip("INVITE sip:200@example.com SIP/2.0", CALL, "1 INVITE", to_tag=False, branch=branch,
                   body=cc.SDP.format(ip=UA[0], port=cc.UA_RTP) + pad)


def _udp(text: str, src, dst, *, mtu: int | None = None, ident: int = 1) -> list[bytes]:
    """One SIP message over UDP: one frame, or IPv4 fragments that fit `mtu` (RFC 791 §2.3)."""
    datagram = pw.udp(src[1], dst[1], pw.sip_bytes(text), src[0], dst[0])
    if mtu is None:
        return [pw.link_frame(pw.ipv4(src[0], dst[0], 17, datagram))]
    return [pw.link_frame(p) for p in pw.fragment_ipv4(src[0], dst[0], 17, datagram, mtu, ident)]


def _capture(path: Path, invite: str, *, mtu: int | None = None, answered: bool = True, lost_fragment: bool = False,
             options: bool = False) -> Path:
    recs: list[tuple[int, bytes]] = []
    at = 0.0
    if options:  # a small request of the same device on the same path, answered
        text = cc._sip("OPTIONS sip:200@example.com SIP/2.0", "opt-1", "1 OPTIONS", to_tag=False, branch="o1")
        recs += [(T0, f) for f in _udp(text, UA, PBX)]
        answer = text.replace("OPTIONS sip:200@example.com SIP/2.0", "SIP/2.0 200 OK").replace(
            "To: <sip:200@example.com>", "To: <sip:200@example.com>;tag=o")
        recs += [(T0 + S // 10, f) for f in _udp(answer, PBX, UA)]
        at = 1.0
    sends = (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5) if not answered else (0,)
    for n, t in enumerate(sends):
        recs += [(T0 + int((at + t) * S) + k, f) for k, f in enumerate(_udp(invite, UA, PBX, mtu=mtu, ident=10 + n))]
    if answered:
        ok = cc._sip("SIP/2.0 200 OK", CALL, "1 INVITE", to_tag=True, body=cc.SDP.format(ip=PBX[0], port=cc.PBX_RTP))
        ack = cc._sip("ACK sip:200@example.com SIP/2.0", CALL, "1 ACK", to_tag=True, branch="b2")
        recs += [(T0 + int((at + 0.3) * S), f) for f in _udp(ok, PBX, UA)]
        recs += [(T0 + int((at + 0.31) * S), f) for f in _udp(ack, UA, PBX)]
    if lost_fragment:  # the first fragment of another datagram whose rest never comes: (b)
        datagram = pw.udp(5060, 5060, b"X" * 1400)[:1000]
        recs.append((T0 + 40 * S, pw.link_frame(pw.ipv4(UA[0], PBX[0], 17, datagram, ident=77, mf=True))))
    pw.write_pcap(path, sorted(recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
    return path


def _findings(path: Path, settings=None):
    return [f for f in sipdiag.analyze(path, settings=settings).findings if f.rule == "router.udp-fragmentation"]


def test_a_fragmented_invite_that_got_through_is_minor(tmp_path: Path) -> None:
    invite = _invite(1500)
    size = len(pw.sip_bytes(invite))
    (f,) = _findings(_capture(tmp_path / "a.pcap", invite, mtu=1500))
    assert (f.severity.label, f.confidence, f.call_id, f.frames) == ("minor", "high", CALL, (1, 2))
    assert f.evidence["trigger"] == "fragmented" and f.evidence["limit"] == 1300
    assert f.evidence["messages"] == [f"INVITE frame 2: {size} bytes in 2 IP fragments (frames 1, 2)"]
    assert f.evidence["failed"] == [] and f.evidence["answered_small"] == []
    assert "travel split into pieces" in f.customer_text["en"]


def test_fragmented_with_incomplete_fragment_sets_is_major(tmp_path: Path) -> None:
    invite = _invite(1500)
    call, capture_wide = sorted(_findings(_capture(tmp_path / "ab.pcap", invite, mtu=1500, lost_fragment=True)),
                                key=lambda f: f.call_id is None)
    assert (capture_wide.severity.label, capture_wide.call_id, capture_wide.evidence["trigger"]) == (
        "major", None, "fragments-incomplete")
    assert (call.severity.label, call.confidence, call.call_id, call.frames) == ("major", "medium", CALL, (1, 2))
    assert call.evidence["trigger"] == "fragmented-and-incomplete"
    assert "pieces are being dropped" in call.customer_text["en"]


def test_a_large_request_fails_where_a_small_one_passes(tmp_path: Path) -> None:
    invite = _invite(1500)
    size = len(pw.sip_bytes(invite))
    (f,) = _findings(_capture(tmp_path / "c.pcap", invite, mtu=1500, answered=False, options=True))
    assert (f.severity.label, f.confidence, f.evidence["trigger"]) == ("major", "high", "large-fails-small-works")
    assert f.evidence["messages"] == [
        f"INVITE frame 4: {size} bytes in 2 IP fragments (frames 3, 4), sent 7 times"]
    assert f.evidence["failed"] == ["INVITE frame 4 never answered (Timer B)"]
    options = len(pw.sip_bytes(cc._sip("OPTIONS sip:200@example.com SIP/2.0", "opt-1", "1 OPTIONS", to_tag=False,
                                       branch="o1")))
    assert f.evidence["answered_small"] == [f"OPTIONS frame 1 ({options} bytes) answered 200"]
    assert f.frames == tuple(range(3, 17))
    # the same request in one packet (fragmented after the capture point) fails the same way
    (whole,) = _findings(_capture(tmp_path / "c1.pcap", invite, answered=False, options=True))
    assert (whole.severity.label, whole.evidence["trigger"]) == ("major", "large-fails-small-works")


def test_large_sip_over_udp_in_one_packet_is_a_minor_risk(tmp_path: Path) -> None:
    invite = _invite(1000)
    size = len(pw.sip_bytes(invite))
    assert 1300 < size <= 1500
    path = _capture(tmp_path / "d.pcap", invite)
    (f,) = _findings(path)
    assert (f.severity.label, f.confidence, f.frames) == ("minor", "medium", (1,))
    assert f.evidence["trigger"] == "large-unfragmented"
    assert f.evidence["messages"] == [f"INVITE frame 1: {size} bytes in one packet"]
    assert "Frame 1" not in f.engineer_text["en"]  # not above an Ethernet MTU: no offload note
    # the limit is the operator's: a path known to carry 1500-byte datagrams
    assert _findings(path, load_config(_toml(tmp_path, f"[sip]\nlarge_udp_sip_bytes = {size}\n"))) == []
    (strict,) = _findings(path, load_config(_toml(tmp_path, "[sip]\nlarge_udp_sip_bytes = 1000\n")))
    assert strict.evidence["limit"] == 1000 and "larger than 1000 bytes" in strict.engineer_text["en"]


def test_above_an_ethernet_mtu_in_one_packet_names_nic_offload(tmp_path: Path) -> None:
    (f,) = _findings(_capture(tmp_path / "gro.pcap", _invite(1700)))
    assert f.evidence["trigger"] == "large-unfragmented"
    assert "NIC offload (GRO/LRO) on the capture host" in f.engineer_text["en"]
    assert "GRO/LRO" in f.engineer_text["ru"]


def test_small_sip_is_quiet(tmp_path: Path) -> None:
    assert _findings(_capture(tmp_path / "small.pcap", _invite(10))) == []


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sipdiag.toml"
    path.write_text(text, encoding="utf-8")
    return path
