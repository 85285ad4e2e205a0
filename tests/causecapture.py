"""Built captures where one fault causes another (a SIP ALG that drops the call at 32 s, a private SDP address that
gives one-way audio), with the User-Agent of a real product: for the correlator (RULES.md §2) and the device
knowledge base. Same shape as tests/callcapture.py: SIP text through the test pcap writer."""

from __future__ import annotations

from pathlib import Path

from tests import pcapwriter as pw
from tests.callcapture import rtp_frame

CALLER_PUBLIC, CALLER_LAN, PBX = "198.51.100.7", "192.168.1.20", ("203.0.113.5", 5060)
CALLER_RTP, PBX_RTP = 40000, 50000
T0 = 1_700_000_000 * 10**9
MS = 10**6
# RFC 3261 §13.3.1.4: the UAS retransmits its 2xx at T1, doubling to T2 (0.5, 1, 2, 4, 4, ... s) for 64*T1 = 32 s.
OK_RETRANSMITS_S = (0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)


def _sdp(ip: str, port: int) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
            f"a=rtpmap:0 PCMU/8000\r\n")


def _msg(start: str, call_id: str, cseq: str, *, via_host: str, contact_host: str, to_tag: bool, branch: str,
         agent: str = "", body: str = "") -> str:
    return (f"{start}\r\nVia: SIP/2.0/UDP {via_host}:5060;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\n"
            f"From: <sip:100@example.com>;tag=f1\r\nTo: <sip:200@example.com>{';tag=t1' if to_tag else ''}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:100@{contact_host}:5060>\r\n"
            + (f"{agent}\r\n" if agent else "")
            + ("Content-Type: application/sdp\r\n" if body else "") + f"Content-Length: {len(body)}\r\n\r\n{body}")


def _frame(text: str, src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    return pw.sip_udp_frame(text, src=src[0], dst=dst[0], sport=src[1], dport=dst[1])


def alg_call_dropped_at_32s(path: Path, *, user_agent: str = "Yealink SIP-T46S 66.86.0.15",
                            server: str = "Asterisk PBX 18.9.0", call_id: str = "alg-32s-1") -> Path:
    """A caller behind a SIP ALG: its INVITE arrives from the public address with Contact and Via rewritten to
    that address but the SDP still private (alg.sdp-rewritten-inconsistently); the PBX's 200 OK is retransmitted
    ten times with no ACK and the PBX hangs up 32 s after answering (call.ack-timeout-32s). Audio flows both ways
    the whole time (the PBX latches), so nothing else is wrong."""
    caller = (CALLER_PUBLIC, 5060)
    invite = _msg("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", via_host=CALLER_PUBLIC,
                  contact_host=CALLER_PUBLIC, to_tag=False, branch="inv1", agent=f"User-Agent: {user_agent}",
                  body=_sdp(CALLER_LAN, CALLER_RTP))
    ok = _msg("SIP/2.0 200 OK", call_id, "1 INVITE", via_host=CALLER_PUBLIC, contact_host=PBX[0], to_tag=True,
              branch="inv1", agent=f"Server: {server}", body=_sdp(PBX[0], PBX_RTP))
    answered = T0 + 300 * MS
    recs = [(T0, _frame(invite, caller, PBX)), (answered, _frame(ok, PBX, caller))]
    recs += [(answered + int(s * 1e9), _frame(ok, PBX, caller)) for s in OK_RETRANSMITS_S]
    bye_at = answered + 32 * 10**9
    bye = ("BYE sip:100@198.51.100.7:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKbye1\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:200@example.com>;tag=t1\r\nTo: <sip:100@example.com>;tag=f1\r\n"
           f"Call-ID: {call_id}\r\nCSeq: 1 BYE\r\nUser-Agent: {server}\r\nContent-Length: 0\r\n\r\n")
    bye_ok = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKbye1\r\n"
              "From: <sip:200@example.com>;tag=t1\r\nTo: <sip:100@example.com>;tag=f1\r\n"
              f"Call-ID: {call_id}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n")
    recs += [(bye_at, _frame(bye, PBX, caller)), (bye_at + 20 * MS, _frame(bye_ok, caller, PBX))]
    start = answered + 20 * MS
    for i in range(int((bye_at - start) / (20 * MS))):
        at = start + i * 20 * MS
        recs.append((at, rtp_frame((CALLER_PUBLIC, CALLER_RTP), (PBX[0], PBX_RTP), 1000 + i, 0x1111)))
        recs.append((at + 5 * MS, rtp_frame((PBX[0], PBX_RTP), (CALLER_PUBLIC, CALLER_RTP), 5000 + i, 0x2222)))
    recs.sort(key=lambda r: r[0])
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


def private_sdp_one_way_call(path: Path, *, user_agent: str = "Grandstream HT802 1.0.43.11",
                             call_id: str = "nat-oneway-1", seconds: float = 16.0) -> Path:
    """A caller behind a NAT that rewrites nothing: Contact and SDP name its LAN address while its packets come
    from the public one (nat.private-contact, nat.private-sdp-address); the PBX sends its audio to the private SDP
    address, which cannot arrive, so the caller hears nothing (media.one-way-audio). 16 s of it by default: a
    major one-way audio needs media.onewaytimeout_s (15 s) of it."""
    caller = (CALLER_PUBLIC, 5060)
    invite = _msg("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", via_host=CALLER_LAN,
                  contact_host=CALLER_LAN, to_tag=False, branch="inv1", agent=f"User-Agent: {user_agent}",
                  body=_sdp(CALLER_LAN, CALLER_RTP))
    ok = _msg("SIP/2.0 200 OK", call_id, "1 INVITE", via_host=CALLER_LAN, contact_host=PBX[0], to_tag=True,
              branch="inv1", body=_sdp(PBX[0], PBX_RTP))
    ack = _msg("ACK sip:200@203.0.113.5 SIP/2.0", call_id, "1 ACK", via_host=CALLER_LAN, contact_host=CALLER_LAN,
               to_tag=True, branch="ack1")
    recs = [(T0, _frame(invite, caller, PBX)), (T0 + 300 * MS, _frame(ok, PBX, caller)),
            (T0 + 310 * MS, _frame(ack, caller, PBX))]
    start = T0 + 320 * MS
    n = int(seconds / 0.02)
    for i in range(n):
        at = start + i * 20 * MS
        recs.append((at, rtp_frame((CALLER_PUBLIC, CALLER_RTP), (PBX[0], PBX_RTP), 1000 + i, 0x1111)))
        recs.append((at + 5 * MS, rtp_frame((PBX[0], PBX_RTP), (CALLER_LAN, CALLER_RTP), 5000 + i, 0x2222)))
    end = start + n * 20 * MS + 100 * MS
    bye = _msg("BYE sip:200@203.0.113.5 SIP/2.0", call_id, "2 BYE", via_host=CALLER_LAN, contact_host=CALLER_LAN,
               to_tag=True, branch="bye1", agent=f"User-Agent: {user_agent}")
    bye_ok = _msg("SIP/2.0 200 OK", call_id, "2 BYE", via_host=CALLER_LAN, contact_host=PBX[0], to_tag=True,
                  branch="bye1")
    recs += [(end, _frame(bye, caller, PBX)), (end + 10 * MS, _frame(bye_ok, PBX, caller))]
    recs.sort(key=lambda r: r[0])
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path
