"""Whole calls as captures, built from SIP text with the test writer: for rules whose fault the lab does not make."""

from __future__ import annotations

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


# ------------------------------------------------------------------------------------------ general builders
T0 = 1_700_000_000 * 10**9
MS = 10**6


def sdp(ip: str, port: int, formats: str, *attrs: str, proto: str = "RTP/AVP") -> str:
    """An SDP body with one m= line: `formats` as on the m= line, `attrs` as a= lines (without `a=`)."""
    return (f"v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} {proto} {formats}\n"
            + "".join(f"a={a}\n" for a in attrs))


def event_payload(event: int, end: bool, duration: int) -> bytes:
    """RFC 4733 §2.3 payload: event, E bit, volume 10, duration in timestamp units."""
    return bytes([event, (0x80 if end else 0) | 10]) + duration.to_bytes(2, "big")


def sdp_call(path: Path, *, offer: str, answer: str | None, status: int = 200, up: tuple = (0, 160, 250),
             down: tuple | None = (0, 160, 250), events: tuple = (), call_id: str = "built-sdp-1") -> Path:
    """INVITE with `offer`, final `status` with `answer`, ACK; then RTP (pt, timestamp step, packets) from the UA
    (`up`, to the answer's port) and to it (`down`); `events` = (pt, digit, at packet, packets, end copies) sent
    by the UA inside its stream (RFC 4733); BYE at the end."""
    recs = [(T0, frame(_sip("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", to_tag=False, body=offer),
                       UA, PBX)),
            (T0 + 300 * MS, frame(_sip(f"SIP/2.0 {status} {'OK' if status == 200 else 'Not Acceptable Here'}",
                                       call_id, "1 INVITE", to_tag=True, body=answer or ""), PBX, UA)),
            (T0 + 310 * MS, frame(_sip("ACK sip:200@example.com SIP/2.0", call_id, "1 ACK", to_tag=True,
                                       branch="b2"), UA, PBX))]
    start = T0 + 320 * MS
    n = 0
    # packet index of the UA's stream -> the RFC 4733 packet sent in its place (same sequence space, RFC 4733 §2.3)
    event_at: dict[int, tuple[int, bytes, int, bool]] = {}
    for ev_pt, digit, at, packets, ends in events:
        for k in range(packets + ends):
            event_at[at + k] = (ev_pt, event_payload(digit, k >= packets, 160 * min(k + 1, packets)),
                                8000 + at * up[1], k == 0)
    if status == 200:
        for spec, src, dst, ssrc, delay, mine in ((up, (UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0, event_at),
                                                  (down, (PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 5, {})):
            if spec is None:
                continue
            pt, step, count = spec
            n = max(n, count)
            for i in range(count):
                if i in mine:
                    ev_pt, payload, ts, marker = mine[i]
                    packet = pw.rtp_packet(1000 + i, ts, ssrc, pt=ev_pt, marker=marker, payload=payload)
                else:
                    packet = pw.rtp_packet(1000 + i, 8000 + i * step, ssrc, pt=pt)
                recs.append((start + i * 20 * MS + delay * MS,
                             pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], packet)))))
    end = start + n * 20 * MS + 100 * MS
    recs += [(end, frame(_sip("BYE sip:200@example.com SIP/2.0", call_id, "2 BYE", to_tag=True, branch="b3"),
                         UA, PBX)),
             (end + 10 * MS, frame(_sip("SIP/2.0 200 OK", call_id, "2 BYE", to_tag=True, branch="b3"), PBX, UA))]
    recs.sort(key=lambda r: r[0])
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


REG_CONTACT = "sip:100@10.0.0.5:5060"


def register_text(cseq: int, branch: str, *, expires: int = 300, contact: str = REG_CONTACT,
                  auth: str | None = None, call_id: str = "reg-b1", via: str = "10.0.0.5:5060") -> str:
    """A REGISTER of sip:100@example.com from a phone whose own address (Via, Contact) is 10.0.0.5."""
    return (f"REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP {via};branch=z9hG4bK{branch};rport\n"
            f"Max-Forwards: 70\nFrom: <sip:100@example.com>;tag=r1\nTo: <sip:100@example.com>\nCall-ID: {call_id}\n"
            f"CSeq: {cseq} REGISTER\nContact: <{contact}>\nExpires: {expires}\n"
            + (f"Authorization: {auth}\n" if auth else "") + "Content-Length: 0\n\n")


def register_response(cseq: int, branch: str, status: str, *, headers: str = "", call_id: str = "reg-b1",
                      via: str = "10.0.0.5:5060") -> str:
    return (f"SIP/2.0 {status}\nVia: SIP/2.0/UDP {via};branch=z9hG4bK{branch};rport\n"
            f"From: <sip:100@example.com>;tag=r1\nTo: <sip:100@example.com>;tag=s1\nCall-ID: {call_id}\n"
            f"CSeq: {cseq} REGISTER\n{headers}Content-Length: 0\n\n")


def challenge(nonce: str, stale: bool = False) -> str:
    return f'WWW-Authenticate: Digest realm="example.com", nonce="{nonce}", algorithm=MD5{", stale=true" if stale else ""}\n'


def credentials(nonce: str, *, user: str = "100", realm: str = "example.com", uri: str = "sip:example.com") -> str:
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="0123456789abcdef0123456789abcdef", algorithm=MD5')


def write_sip(path: Path, messages: list[tuple[float, str, tuple[str, int], tuple[str, int]]]) -> Path:
    """SIP messages (seconds from T0, text, src, dst) as a capture."""
    pw.write_pcap(path, [(T0 + int(t * 1e9), frame(text, src, dst)) for t, text, src, dst in messages],
                  pw.LINKTYPE_ETHERNET)
    return path
