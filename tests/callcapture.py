"""Whole calls as captures, built from SIP text with the test writer: for rules whose fault the lab does not make."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

from tests import pcapwriter as pw

UA, PBX = ("198.51.100.7", 5060), ("203.0.113.5", 5060)
UA_RTP, PBX_RTP = 40000, 50000
SDP = "v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"


def _sip(start: str, call_id: str, cseq: str, *, to_tag: bool, body: str = "", branch: str = "b1") -> str:
    body = body.replace("\n", "\r\n")
    return (f"{start}\nVia: SIP/2.0/UDP {UA[0]}:5060;branch=z9hG4bK{branch}\nMax-Forwards: 70\n"
            f"From: <sip:100@example.com>;tag=f1\nTo: <sip:200@example.com>{';tag=t1' if to_tag else ''}\n"
            f"Call-ID: {call_id}\nCSeq: {cseq}\nContact: <sip:100@{UA[0]}:5060>\n"
            + (f"Content-Type: application/sdp\n" if body else "") + f"Content-Length: {len(body)}\n\n{body}")


def frame(text: str, src, dst) -> bytes:
    return pw.sip_udp_frame(text, src=src[0], dst=dst[0], sport=src[1], dport=dst[1])


def rtp_frame(src: tuple[str, int], dst: tuple[str, int], seq: int, ssrc: int) -> bytes:
    return pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], pw.rtp_packet(seq, seq * 160, ssrc))))


def answered_call(path: Path, *, seconds: float = 4.0, drop_every: int = 0, rtp: bool = True,
                  call_id: str = "built-1") -> Path:
    """INVITE/200/ACK, `seconds` of two-way 20 ms PCMU (optionally dropping every n-th packet of the UA's
    stream), BYE/200."""
    t = 1_700_000_000 * 10**9
    ms = 10**6
    offer = SDP.format(ip=UA[0], port=UA_RTP)
    answer = SDP.format(ip=PBX[0], port=PBX_RTP)
    recs = [(t, frame(_sip("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", to_tag=False, body=offer), UA, PBX)),
            (t + 300 * ms, frame(_sip("SIP/2.0 200 OK", call_id, "1 INVITE", to_tag=True, body=answer), PBX, UA)),
            (t + 310 * ms, frame(_sip("ACK sip:200@example.com SIP/2.0", call_id, "1 ACK", to_tag=True,
                                      branch="b2"), UA, PBX))]
    start = t + 320 * ms
    n = int(seconds / 0.02)
    if rtp:
        for i in range(n):
            at = start + i * 20 * ms
            if not (drop_every and i % drop_every == 0):
                recs.append((at, rtp_frame((UA[0], UA_RTP), (PBX[0], PBX_RTP), 1000 + i, 0x1111)))
            recs.append((at + 5 * ms, rtp_frame((PBX[0], PBX_RTP), (UA[0], UA_RTP), 5000 + i, 0x2222)))
    end = start + n * 20 * ms + 100 * ms
    recs += [(end, frame(_sip("BYE sip:200@example.com SIP/2.0", call_id, "2 BYE", to_tag=True, branch="b3"),
                         UA, PBX)),
             (end + 10 * ms, frame(_sip("SIP/2.0 200 OK", call_id, "2 BYE", to_tag=True, branch="b3"), PBX, UA))]
    recs.sort(key=lambda r: r[0])
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


def unanswered_register(path: Path) -> Path:
    """REGISTER sent 11 times over 32 s (Timer E/F) with no response."""
    t = 1_700_000_000 * 10**9
    text = ("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKreg1\n"
            "Max-Forwards: 70\nFrom: <sip:100@example.com>;tag=r1\nTo: <sip:100@example.com>\nCall-ID: reg-1\n"
            "CSeq: 1 REGISTER\nContact: <sip:100@198.51.100.7:5060>\nExpires: 300\nContent-Length: 0\n\n")
    offsets = (0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)
    pw.write_pcap(path, [(t + int(o * 1e9), frame(text, UA, PBX)) for o in offsets], pw.LINKTYPE_ETHERNET)
    return path



# --- calls that share a capture: each with its own RTP ports and SSRCs, records tagged with their interface ----
T0 = 1_700_000_000 * 10**9
MS = 10**6


def _link_frame(text: str, src, dst) -> bytes:
    return pw.sip_udp_frame(text, src=src[0], dst=dst[0], sport=src[1], dport=dst[1])


def _udp_frame(src, dst, payload: bytes, link: str) -> bytes:
    return pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], payload)), link)


def rtcp_sender_report(ssrc: int) -> bytes:
    """An RTCP sender report without report blocks (RFC 3550 §6.4.1): 28 octets, length 6 words."""
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, 0xE8000000, 0, 160, 50, 8000)


def call_records(call_id: str, ua_rtp: int, pbx_rtp: int, ssrcs: tuple[int, int], start_ns: int, packets: int,
                 *, fragment_invite: bool = False, rtcp: bool = False, media_link: str = "ethernet",
                 drop_every: int = 0) -> tuple[list[tuple[int, int, bytes]], dict[str, int]]:
    """One answered call between UA and PBX as (interface, ts_ns, frame) records, and what it holds (SIP frames
    and messages, RTP and RTCP packets). SIP is on interface 0 (Ethernet); media on interface 1 when
    media_link="raw" (raw IPv4), else on 0. fragment_invite: the INVITE is padded and sent as IPv4 fragments
    (RFC 791 §2.3); rtcp: two sender reports each way on port+1 (RFC 3550 §11); drop_every: the UA's RTP loses
    every n-th packet."""
    media_iface = 1 if media_link == "raw" else 0
    invite = _sip("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", to_tag=False,
                  body=SDP.format(ip=UA[0], port=ua_rtp))
    recs: list[tuple[int, int, bytes]] = []
    facts: Counter[str] = Counter()
    if fragment_invite:
        invite = invite.replace("Max-Forwards: 70\n", "Max-Forwards: 70\nX-Padding: " + "p" * 900 + "\n")
        datagram = pw.udp(UA[1], PBX[1], pw.sip_bytes(invite), UA[0], PBX[0])
        pieces = pw.fragment_ipv4(UA[0], PBX[0], 17, datagram, mtu=576, ident=0x4242)
        recs += [(0, start_ns + i * 1000, pw.link_frame(piece)) for i, piece in enumerate(pieces)]
        facts["sip_frames"] += len(pieces)
    else:
        recs.append((0, start_ns, _link_frame(invite, UA, PBX)))
        facts["sip_frames"] += 1
    answer = _sip("SIP/2.0 200 OK", call_id, "1 INVITE", to_tag=True, body=SDP.format(ip=PBX[0], port=pbx_rtp))
    recs.append((0, start_ns + 300 * MS + 3, _link_frame(answer, PBX, UA)))  # + 3 ns: kept where the file has ns
    recs.append((0, start_ns + 310 * MS, _link_frame(_sip("ACK sip:200@example.com SIP/2.0", call_id, "1 ACK",
                                                          to_tag=True, branch="b2"), UA, PBX)))
    t = start_ns + 320 * MS
    ua_media, pbx_media = (UA[0], ua_rtp), (PBX[0], pbx_rtp)
    for i in range(packets):
        at = t + i * 20 * MS
        if not (drop_every and i % drop_every == 0):
            recs.append((media_iface, at, _udp_frame(ua_media, pbx_media, pw.rtp_packet(1000 + i, i * 160, ssrcs[0]),
                                                     media_link)))
            facts["rtp"] += 1
        recs.append((media_iface, at + 5 * MS + 7, _udp_frame(pbx_media, ua_media,
                                                              pw.rtp_packet(5000 + i, i * 160, ssrcs[1]), media_link)))
        facts["rtp"] += 1
    if rtcp:
        ua_rtcp, pbx_rtcp = (UA[0], ua_rtp + 1), (PBX[0], pbx_rtp + 1)
        for k in (10, 30):
            at = t + k * 20 * MS + 11 * MS
            recs.append((media_iface, at, _udp_frame(ua_rtcp, pbx_rtcp, rtcp_sender_report(ssrcs[0]), media_link)))
            recs.append((media_iface, at + MS, _udp_frame(pbx_rtcp, ua_rtcp, rtcp_sender_report(ssrcs[1]),
                                                          media_link)))
            facts["rtcp"] += 2
    end = t + packets * 20 * MS + 100 * MS
    recs.append((0, end, _link_frame(_sip("BYE sip:200@example.com SIP/2.0", call_id, "2 BYE", to_tag=True,
                                          branch="b3"), UA, PBX)))
    recs.append((0, end + 10 * MS, _link_frame(_sip("SIP/2.0 200 OK", call_id, "2 BYE", to_tag=True, branch="b3"),
                                               PBX, UA)))
    facts["sip_frames"] += 4
    facts["sip_messages"] = 5
    return recs, dict(facts)
