"""Whole calls as captures, built from SIP text with the test writer: for rules whose fault the lab does not make."""

from __future__ import annotations

import struct
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
# ------------------------------------------------------------------------------------- scripted calls (mid-call)

T0 = 1_700_000_000 * 10**9
S = 10**9


def sip_message(start: str, call_id: str, cseq: str, *, src: tuple[str, int], to_tag: bool = True,
                branch: str = "b1", body: str = "", extra: str = "", caller_first: bool = True,
                to_user: str = "200", contact: str | None = None) -> str:
    """A SIP message of the call between 100 (tag f1) and `to_user` (tag t1); `extra` headers as lines.
    caller_first False: a request from the callee (From/To swapped, RFC 3261 §12.2.1.1)."""
    body = body.replace("\n", "\r\n")
    a, b = f"<sip:100@example.com>;tag=f1", f"<sip:{to_user}@example.com>" + (";tag=t1" if to_tag else "")
    frm, to = (a, b) if caller_first else (b, a)
    contact = contact or f"<sip:x@{src[0]}:{src[1]}>"
    return (f"{start}\nVia: SIP/2.0/UDP {src[0]}:{src[1]};branch=z9hG4bK{branch}\nMax-Forwards: 70\n"
            f"From: {frm}\nTo: {to}\nCall-ID: {call_id}\nCSeq: {cseq}\nContact: {contact}\n{extra}"
            + ("Content-Type: application/sdp\n" if body else "") + f"Content-Length: {len(body)}\n\n{body}")


class Script:
    """A capture assembled event by event (times in seconds from T0), written sorted by time."""

    def __init__(self) -> None:
        self.recs: list[tuple[int, bytes]] = []

    def sip(self, at: float, text: str, src, dst) -> Script:
        self.recs.append((T0 + int(at * S), frame(text, src, dst)))
        return self

    def rtp(self, src, dst, ssrc: int, start: float, seconds: float, *, seq0: int = 1000, ptime: float = 0.02,
            drop=(), dup=(), swap=(), jitter=None, rate: float = 1.0, pt: int = 0) -> Script:
        """20 ms packets; drop/dup: packet indexes lost / sent twice; swap: indexes sent after the next one;
        jitter(i) -> extra delay in s; rate: the sender's clock against real time (1.001 = 1000 ppm fast)."""
        n = int(seconds / ptime)
        per = int(8000 * ptime)
        drop, dup, swap = set(drop), set(dup), set(swap)
        for i in range(n):
            if i in drop:
                continue
            at = start + i * ptime + (jitter(i) if jitter else 0.0) + (ptime * 1.5 if i in swap else 0.0)
            payload = pw.rtp_packet(seq0 + i, int(i * per * rate), ssrc, pt=pt)
            data = pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], payload)))
            self.recs.append((T0 + int(at * S), data))
            if i in dup:
                self.recs.append((T0 + int(at * S) + 1000, data))
        return self

    def rtcp(self, at: float, src, dst, payload: bytes) -> Script:
        self.recs.append((T0 + int(at * S), pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1],
                                                                                            payload)))))
        return self

    def write(self, path: Path) -> Path:
        self.recs.sort(key=lambda r: r[0])
        pw.write_pcap(path, self.recs, pw.LINKTYPE_ETHERNET)
        return path


def rtcp_sr(ssrc: int, at: float, blocks: bytes = b"", count: int = 0) -> bytes:
    """RFC 3550 §6.4.1 sender report; its NTP time is the capture time `at` (s after T0) on a 1970-based clock."""
    seconds = T0 // S + int(at) + 2_208_988_800
    ntp = seconds << 32 | int((at % 1) * (1 << 32))
    body = struct.pack("!IQIII", ssrc, ntp, 0, 100, 16000) + blocks
    return struct.pack("!BBH", 0x80 | count, 200, len(body) // 4) + body


def lsr_of(at: float) -> int:
    """The middle 32 bits of the NTP time rtcp_sr puts in an SR sent at `at`."""
    seconds = T0 // S + int(at) + 2_208_988_800
    return ((seconds << 32 | int((at % 1) * (1 << 32))) >> 16) & 0xFFFFFFFF


def rtcp_rr(reporter: int, source: int, *, lsr: int = 0, dlsr_s: float = 0.0, jitter: int = 0) -> bytes:
    block = struct.pack("!IIIIII", source, 0, 1000, jitter, lsr, int(dlsr_s * 65536))
    return struct.pack("!BBHI", 0x81, 201, 7, reporter) + block


def call_setup(script: Script, call_id: str, *, ua=UA, pbx=PBX, offer_extra: str = "", answer_extra: str = "",
               to_user: str = "200", answer: bool = True, sdp_ua=None, at: float = 0.0) -> Script:
    """INVITE / 200 OK / ACK at `at` (answer at +0.3 s), SDP with the UA's and PBX's RTP ports."""
    ua_media = sdp_ua or (ua[0], UA_RTP)
    offer = SDP.format(ip=ua_media[0], port=ua_media[1])
    script.sip(at, sip_message(f"INVITE sip:{to_user}@example.com SIP/2.0", call_id, "1 INVITE", src=ua,
                               to_tag=False, body=offer, extra=offer_extra, to_user=to_user), ua, pbx)
    if answer:
        script.sip(at + 0.3, sip_message("SIP/2.0 200 OK", call_id, "1 INVITE", src=ua, body=SDP.format(
            ip=pbx[0], port=PBX_RTP), extra=answer_extra, to_user=to_user, contact=f"<sip:200@{pbx[0]}:5060>"),
            pbx, ua)
        script.sip(at + 0.31, sip_message(f"ACK sip:{to_user}@{pbx[0]} SIP/2.0", call_id, "1 ACK", src=ua,
                                          branch="ack1", to_user=to_user), ua, pbx)
    return script


def two_way(script: Script, start: float, seconds: float, **kw) -> Script:
    script.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, start, seconds, **kw)
    return script.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, start + 0.005, seconds, seq0=5000)


def bye(script: Script, at: float, call_id: str, *, from_callee: bool = False, reason: str = "",
        cseq: int = 9) -> Script:
    src, dst = (PBX, UA) if from_callee else (UA, PBX)
    extra = f"Reason: {reason}\n" if reason else ""
    script.sip(at, sip_message(f"BYE sip:x@{dst[0]} SIP/2.0", call_id, f"{cseq} BYE", src=src, branch=f"bye{cseq}",
                               caller_first=not from_callee, extra=extra), src, dst)
    return script.sip(at + 0.02, sip_message("SIP/2.0 200 OK", call_id, f"{cseq} BYE", src=src, branch=f"bye{cseq}",
                                             caller_first=not from_callee), dst, src)
