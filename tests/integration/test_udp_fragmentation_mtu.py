"""router.udp-fragmentation (RULES.md §3.7 trigger (d)): SIP over UDP "within 200 bytes of a known path MTU" (RFC 3261
§18.1.1), the path MTU known from an ICMP "fragmentation needed" (RFC 1191 §4) or ICMPv6 Packet Too Big (RFC 4443
§3.2, RFC 8201) that quotes a packet of the same path."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from tests import callcapture as cc
from tests import pcapwriter as pw

T0, S = cc.T0, cc.S
UA, PBX = cc.UA, cc.PBX
ROUTER = "192.0.2.1"
CALL = "mtu-1"


def _invite(size: int, src=UA) -> str:
    """An INVITE of exactly `size` octets on the wire (its SDP padded)."""
    def text(pad: int) -> str:
        body = cc.SDP.format(ip=src[0], port=cc.UA_RTP) + "a=x-pad:" + "p" * pad + "\n"
        return cc.sip_message("INVITE sip:200@example.com SIP/2.0", CALL, "1 INVITE", src=src, to_tag=False,
                              body=body)
    pad = size - len(pw.sip_bytes(text(0)))
    while len(pw.sip_bytes(text(pad))) > size:  # a longer Content-Length value took an octet of the pad
        pad -= 1
    assert len(pw.sip_bytes(text(pad))) == size
    return text(pad)


def _capture(path: Path, invite: str, *, icmp: bytes | None, v6: tuple[tuple[str, int], tuple[str, int]] | None = None
             ) -> Path:
    """The INVITE, answered 200 and acknowledged, and `icmp` half a second later."""
    ua, pbx = v6 or (UA, PBX)
    ok = cc.sip_message("SIP/2.0 200 OK", CALL, "1 INVITE", src=ua, body=cc.SDP.format(ip=pbx[0], port=cc.PBX_RTP))
    ack = cc.sip_message("ACK sip:200@example.com SIP/2.0", CALL, "1 ACK", src=ua, branch="a1")
    recs = [(T0, cc.frame(invite, ua, pbx)), (T0 + S // 10, cc.frame(ok, pbx, ua)),
            (T0 + S // 5, cc.frame(ack, ua, pbx))]
    if icmp is not None:
        recs.append((T0 + S // 2, icmp))
    pw.write_pcap(path, sorted(recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
    return path


def _quoted(src, dst, size: int = 1460) -> bytes:
    """The IPv4 packet a router could not forward: DF set, `size` octets of UDP payload (RFC 1191 §3)."""
    return pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], b"x" * size), df=True)


def _findings(path: Path):
    return [f for f in sipdiag.analyze(path).findings if f.rule == "router.udp-fragmentation"]


def test_within_200_bytes_of_the_path_mtu_an_icmp_error_reported(tmp_path: Path) -> None:
    """1250 bytes is under the 1300 of an unknown path, but the path UA -> PBX carries 1400 (RFC 3261 §18.1.1)."""
    icmp = cc.icmp_error(ROUTER, UA[0], _quoted(UA, PBX), code=4, mtu=1400)
    (f,) = _findings(_capture(tmp_path / "near.pcap", _invite(1250), icmp=icmp))
    assert (f.severity.label, f.confidence, f.call_id, f.frames) == ("minor", "high", CALL, (1, 4))
    assert (f.evidence["trigger"], f.evidence["path_mtu"], f.evidence["limit"]) == ("near-path-mtu", 1400, 1300)
    assert f.evidence["messages"] == [
        "INVITE frame 1: 1250 bytes in one packet, within 200 bytes of the path MTU 1400 (ICMP frame 4)"]
    assert f.evidence["detail"] == (
        f"Call-ID {CALL}: SIP over UDP in IP fragments, above 1300 bytes or within 200 bytes of the path MTU: INVITE "
        "frame 1: 1250 bytes in one packet, within 200 bytes of the path MTU 1400 (ICMP frame 4). Not fragmented "
        "here, but within 200 bytes of the path MTU an ICMP error reported: a little more (a longer SDP, a header "
        "added on the way) and it is fragmented or dropped.")
    assert f.evidence["detail_ru"].startswith(
        f"Call-ID {CALL}: SIP по UDP IP-фрагментами, больше 1300 байт или ближе 200 байт к MTU пути: INVITE кадр 1: "
        "1250 байт одним пакетом, ближе 200 байт к MTU пути 1400 (ICMP, кадр 4).")
    # exactly 200 bytes below is within 200 bytes; one byte less is not
    (edge,) = _findings(_capture(tmp_path / "edge.pcap", _invite(1200), icmp=icmp))
    assert edge.evidence["trigger"] == "near-path-mtu"
    assert _findings(_capture(tmp_path / "below.pcap", _invite(1199), icmp=icmp)) == []


def test_a_path_mtu_speaks_for_its_own_path_only(tmp_path: Path) -> None:
    invite = _invite(1250)
    assert _findings(_capture(tmp_path / "none.pcap", invite, icmp=None)) == []
    # the other direction (PBX -> UA) is another path
    back = cc.icmp_error(ROUTER, PBX[0], _quoted(PBX, UA), code=4, mtu=1400)
    assert _findings(_capture(tmp_path / "back.pcap", invite, icmp=back)) == []
    # a port unreachable tells no MTU; nor does a "fragmentation needed" from a router older than RFC 1191 (MTU 0)
    port = cc.icmp_error(ROUTER, UA[0], _quoted(UA, PBX), code=3, mtu=1400)
    assert _findings(_capture(tmp_path / "port.pcap", invite, icmp=port)) == []
    old = cc.icmp_error(ROUTER, UA[0], _quoted(UA, PBX), code=4, mtu=0)
    assert _findings(_capture(tmp_path / "old.pcap", invite, icmp=old)) == []


def test_a_message_above_the_limit_names_the_path_mtu_too(tmp_path: Path) -> None:
    icmp = cc.icmp_error(ROUTER, UA[0], _quoted(UA, PBX), code=4, mtu=1400)
    (f,) = _findings(_capture(tmp_path / "above.pcap", _invite(1350), icmp=icmp))
    assert (f.evidence["trigger"], f.evidence["path_mtu"], f.frames) == ("near-path-mtu", 1400, (1, 4))
    assert f.evidence["messages"] == [
        "INVITE frame 1: 1350 bytes in one packet, within 200 bytes of the path MTU 1400 (ICMP frame 4)"]


def test_an_ipv6_packet_too_big_below_1280_counts_as_1280(tmp_path: Path) -> None:
    """RFC 8201 §4: a node never lowers its path MTU estimate below the IPv6 minimum link MTU, 1280."""
    ua, pbx = ("2001:db8::7", 5060), ("2001:db8:1::5", 5060)
    quoted = pw.ipv6(ua[0], pbx[0], 17, pw.udp(ua[1], pbx[1], b"x" * 1400, ua[0], pbx[0]))
    icmp = cc.icmpv6_too_big("2001:db8:ff::1", ua[0], quoted, mtu=1000)
    (f,) = _findings(_capture(tmp_path / "v6.pcap", _invite(1100, src=ua), icmp=icmp, v6=(ua, pbx)))
    assert (f.evidence["trigger"], f.evidence["path_mtu"], f.frames) == ("near-path-mtu", 1280, (1, 4))
    assert f.evidence["messages"] == [
        "INVITE frame 1: 1100 bytes in one packet, within 200 bytes of the path MTU 1280 (ICMP frame 4)"]
    assert "look for ICMPv6 Packet Too Big" in f.engineer_text["en"]
    assert _findings(_capture(tmp_path / "v6small.pcap", _invite(1079, src=ua), icmp=icmp, v6=(ua, pbx))) == []
