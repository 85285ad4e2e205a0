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
            + ("Content-Type: application/sdp\n" if body else "") + f"Content-Length: {len(body)}\n\n{body}")


def frame(text: str, src, dst) -> bytes:
    return pw.sip_udp_frame(text, src=src[0], dst=dst[0], sport=src[1], dport=dst[1])


def rtp_frame(src: tuple[str, int], dst: tuple[str, int], seq: int, ssrc: int) -> bytes:
    return pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], pw.rtp_packet(seq, seq * 160, ssrc))))


def answered_call(path: Path, *, seconds: float = 4.0, drop_every: int = 0, rtp: bool = True,
                  call_id: str = "built-1", extra: tuple[tuple[int, bytes], ...] = ()) -> Path:
    """INVITE/200/ACK, `seconds` of two-way 20 ms PCMU (optionally dropping every n-th packet of the UA's
    stream), BYE/200. extra: more (ns after the INVITE, frame) records (ICMP, RTCP, ...)."""
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
    recs += [(t + offset, data) for offset, data in extra]
    recs.sort(key=lambda r: r[0])
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


def unanswered_register(path: Path, extra: tuple[tuple[int, bytes], ...] = (),
                        offsets: tuple[float, ...] = (0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)
                        ) -> Path:
    """REGISTER sent 11 times over 32 s (Timer E/F) with no response, or at `offsets` (s). extra: more (ns after the
    first REGISTER, frame) records (ICMP, ...)."""
    t = 1_700_000_000 * 10**9
    text = ("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKreg1\n"
            "Max-Forwards: 70\nFrom: <sip:100@example.com>;tag=r1\nTo: <sip:100@example.com>\nCall-ID: reg-1\n"
            "CSeq: 1 REGISTER\nContact: <sip:100@198.51.100.7:5060>\nExpires: 300\nContent-Length: 0\n\n")
    recs = [(t + int(o * 1e9), frame(text, UA, PBX)) for o in offsets] + [(t + ns, data) for ns, data in extra]
    pw.write_pcap(path, sorted(recs, key=lambda r: r[0]), pw.LINKTYPE_ETHERNET)
    return path


# ------------------------------------------------------------------------------------------ general builders

# --- calls that share a capture: each with its own RTP ports and SSRCs, records tagged with their interface ----
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
             down: tuple | None = (0, 160, 250), events: tuple = (), call_id: str = "built-sdp-1",
             drop_every: int = 0) -> Path:
    """INVITE with `offer`, final `status` with `answer`, ACK; then RTP (pt, timestamp step, packets) from the UA
    (`up`, to the answer's port) and to it (`down`); `events` = (pt, digit, at packet, packets, end copies) sent
    by the UA inside its stream (RFC 4733); BYE at the end. drop_every: every n-th packet of the UA's stream is
    lost."""
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
                if drop_every and spec is up and i % drop_every == drop_every - 1:
                    continue
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


# ------------------------------------------------------------------------- NAT, SIP ALG, router, QoS faults
T0 = 1_700_000_000 * 10**9
MS = 10**6
S = 10**9
PHONE_LAN = ("192.168.1.20", 5060)  # the phone's own socket behind the NAT
NAT_WAN = "198.51.100.20"  # the NAT router's public address


def via_sip_message(start: str, *, via: str, call_id: str, cseq: str, from_tag: str = "f1", to_tag: str | None = None,
                contact: str | None = None, body: str = "", content_length: int | None = None,
                aor: str = "100@example.com", extra_headers: str = "") -> str:
    """One SIP message as text; `via` is the whole top Via value; content_length forges a wrong length."""
    body = body.replace("\n", "\r\n")
    return (f"{start}\nVia: {via}\nMax-Forwards: 70\nFrom: <sip:{aor}>;tag={from_tag}\n"
            f"To: <sip:{aor if 'REGISTER' in cseq else '200@example.com'}>"
            f"{f';tag={to_tag}' if to_tag else ''}\nCall-ID: {call_id}\nCSeq: {cseq}\n"
            + (f"Contact: {contact}\n" if contact else "") + extra_headers
            + ("Content-Type: application/sdp\n" if body else "")
            + f"Content-Length: {len(body.encode()) if content_length is None else content_length}\n\n{body}")


# RFC 3261 §17.1.2.2 Timer E: non-INVITE sends at 0, 0.5, 1.5, 3.5, 7.5, 11.5 ... s
TIMER_E_S = (0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)


def register_without_rport(path: Path, *, rport: bool = False) -> Path:
    """A phone behind a NAPT (192.168.1.20:5060 -> 198.51.100.20:40000) registers. Without rport the registrar
    answers 401 to the Via port 5060 every time and the phone retransmits for 32 s (Timer E/F); with rport the
    200 OK goes to the source port 40000 and there is nothing more to send."""
    src = (NAT_WAN, 40000)
    via = f"SIP/2.0/UDP {PHONE_LAN[0]}:{PHONE_LAN[1]};branch=z9hG4bKnr1" + (";rport" if rport else "")
    text = via_sip_message("REGISTER sip:example.com SIP/2.0", via=via, call_id="nr-1", cseq="1 REGISTER",
                       contact=f"<sip:100@{PHONE_LAN[0]}:5060>", extra_headers="Expires: 300\n")
    recs = []
    if rport:
        answered = via.replace(";rport", f";rport=40000;received={NAT_WAN}")
        ok = via_sip_message("SIP/2.0 200 OK", via=answered, call_id="nr-1", cseq="1 REGISTER", to_tag="r9",
                         contact=f"<sip:100@{PHONE_LAN[0]}:5060>;expires=300")
        recs = [(T0, frame(text, src, PBX)), (T0 + 20 * MS, frame(ok, PBX, src))]
    else:
        challenge = via_sip_message("SIP/2.0 401 Unauthorized", via=f"{via};received={NAT_WAN}", call_id="nr-1",
                                cseq="1 REGISTER", to_tag="r9",
                                extra_headers='WWW-Authenticate: Digest realm="example.com", nonce="n1"\n')
        for o in TIMER_E_S:
            at = T0 + int(o * S)
            recs += [(at, frame(text, src, PBX)), (at + 20 * MS, frame(challenge, PBX, (NAT_WAN, 5060)))]
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


def register_refreshes(path: Path, *, at_s: tuple[float, ...], ports: tuple[int, ...],
                       src_ip: str = NAT_WAN, via_host: str = PHONE_LAN[0], expires: int = 60,
                       registrar: tuple[str, int] = PBX, received: str | None = None) -> Path:
    """REGISTER refreshes of one phone (Via sent-by `via_host`:5060, rport), each from `src_ip`:port to `registrar`
    and each answered 200 OK to where it came from, with received=`received` (default: `src_ip`)."""
    recs = []
    for i, (o, port) in enumerate(zip(at_s, ports)):
        src = (src_ip, port)
        via = f"SIP/2.0/UDP {via_host}:5060;branch=z9hG4bKrf{i};rport"
        req = via_sip_message("REGISTER sip:example.com SIP/2.0", via=via, call_id="rf-1", cseq=f"{i + 1} REGISTER",
                          contact=f"<sip:100@{via_host}:5060>", extra_headers=f"Expires: {expires}\n")
        ok = via_sip_message("SIP/2.0 200 OK", via=f"{via}={port};received={received or src_ip}", call_id="rf-1",
                         cseq=f"{i + 1} REGISTER", to_tag="r9",
                         contact=f"<sip:100@{via_host}:5060>;expires={expires}")
        at = T0 + int(o * S)
        recs += [(at, frame(req, src, registrar)), (at + 20 * MS, frame(ok, registrar, src))]
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


def stun_binding(src: tuple[str, int], dst: tuple[str, int], *, response: bool, mapped: tuple[str, int],
                 txid: bytes = b"\x01" * 12) -> bytes:
    """STUN Binding request or success response (RFC 8489 §5, §14.2 XOR-MAPPED-ADDRESS)."""
    import ipaddress
    import struct

    cookie = 0x2112A442
    attrs = b""
    if response:
        ip = int(ipaddress.ip_address(mapped[0])) ^ cookie
        attrs = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, mapped[1] ^ (cookie >> 16), ip)
    msg = struct.pack("!HHI12s", 0x0101 if response else 0x0001, len(attrs), cookie, txid) + attrs
    return pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], msg)))


def sdp_body(ip: str, port: int, *, rtcp: str = "", origin: str | None = None) -> str:
    return (f"v=0\no=- 1 1 IN IP4 {origin or ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP 0\n"
            f"a=rtpmap:0 PCMU/8000\n{rtcp}")


def media_call(path: Path, *, caller: tuple[str, int], offer: tuple[str, int], answer: tuple[str, int],
               flows: tuple[tuple[tuple[str, int], tuple[str, int], int, int], ...] = (),
               extra: tuple[tuple[int, bytes], ...] = (), seconds: float = 4.0, call_id: str = "media-1",
               via_host: str | None = None, callee: tuple[str, int] = PBX) -> Path:
    """An answered call from `caller` (signalling address) to `callee` (the PBX) with the given SDP addresses, then
    the RTP `flows` (src, dst, packets, SSRC), 20 ms apart, and a BYE after `seconds`."""
    via = f"SIP/2.0/UDP {via_host or caller[0]}:{caller[1]};branch=z9hG4bKmc1;rport"
    contact = f"<sip:100@{via_host or caller[0]}:{caller[1]}>"
    invite = via_sip_message("INVITE sip:200@example.com SIP/2.0", via=via, call_id=call_id, cseq="1 INVITE",
                         contact=contact, body=sdp_body(*offer))
    ok = via_sip_message("SIP/2.0 200 OK", via=via, call_id=call_id, cseq="1 INVITE", to_tag="t1",
                     contact=f"<sip:200@{callee[0]}:{callee[1]}>", body=sdp_body(*answer))
    ack = via_sip_message("ACK sip:200@example.com SIP/2.0", via=via.replace("mc1", "mc2"), call_id=call_id,
                      cseq="1 ACK", to_tag="t1")
    bye = via_sip_message("BYE sip:200@example.com SIP/2.0", via=via.replace("mc1", "mc3"), call_id=call_id,
                      cseq="2 BYE", to_tag="t1")
    bye_ok = via_sip_message("SIP/2.0 200 OK", via=via.replace("mc1", "mc3"), call_id=call_id, cseq="2 BYE",
                         to_tag="t1")
    recs = [(T0, frame(invite, caller, callee)), (T0 + 300 * MS, frame(ok, callee, caller)),
            (T0 + 310 * MS, frame(ack, caller, callee))]
    start = T0 + 320 * MS
    for k, (src, dst, packets, ssrc) in enumerate(flows):
        for i in range(packets):
            recs.append((start + i * 20 * MS + k * MS, rtp_frame(src, dst, 1000 + i, ssrc)))
    end = T0 + int(seconds * S) + 400 * MS
    recs += [(end, frame(bye, caller, callee)), (end + 10 * MS, frame(bye_ok, callee, caller))]
    recs += [(T0 + offset, data) for offset, data in extra]
    recs.sort(key=lambda r: r[0])
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


REG_CONTACT = "sip:100@10.0.0.5:5060"


def register_text(cseq: int, branch: str, *, expires: int = 300, contact: str = REG_CONTACT,
                  auth: str | None = None, call_id: str = "reg-b1", via: str = "10.0.0.5:5060",
                  user: str = "100", proxy_auth: str | None = None, user_agent: str | None = None) -> str:
    """A REGISTER of sip:<user>@example.com from a phone whose own address (Via, Contact) is 10.0.0.5; `auth` its
    Authorization, `proxy_auth` its Proxy-Authorization (RFC 3261 §22.3)."""
    return (f"REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP {via};branch=z9hG4bK{branch};rport\n"
            f"Max-Forwards: 70\nFrom: <sip:{user}@example.com>;tag=r1\nTo: <sip:{user}@example.com>\n"
            f"Call-ID: {call_id}\nCSeq: {cseq} REGISTER\nContact: <{contact}>\nExpires: {expires}\n"
            + (f"User-Agent: {user_agent}\n" if user_agent else "")
            + (f"Proxy-Authorization: {proxy_auth}\n" if proxy_auth else "")
            + (f"Authorization: {auth}\n" if auth else "") + "Content-Length: 0\n\n")


def register_response(cseq: int, branch: str, status: str, *, headers: str = "", call_id: str = "reg-b1",
                      via: str = "10.0.0.5:5060", user: str = "100") -> str:
    return (f"SIP/2.0 {status}\nVia: SIP/2.0/UDP {via};branch=z9hG4bK{branch};rport\n"
            f"From: <sip:{user}@example.com>;tag=r1\nTo: <sip:{user}@example.com>;tag=s1\nCall-ID: {call_id}\n"
            f"CSeq: {cseq} REGISTER\n{headers}Content-Length: 0\n\n")


def challenge(nonce: str, stale: bool = False, *, realm: str = "example.com", proxy: bool = False,
              algorithm: str = "MD5", qop: str | None = None) -> str:
    """A 401's WWW-Authenticate, or with `proxy` a 407's Proxy-Authenticate (RFC 3261 §22.3)."""
    name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    return (f'{name}: Digest realm="{realm}", nonce="{nonce}", algorithm={algorithm}'
            + (f', qop="{qop}"' if qop else "") + f'{", stale=true" if stale else ""}\n')


def credentials(nonce: str, *, user: str = "100", realm: str = "example.com", uri: str = "sip:example.com",
                algorithm: str = "MD5", qop: str | None = None) -> str:
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="0123456789abcdef0123456789abcdef", algorithm={algorithm}'
            + (f", qop={qop}, nc=00000001, cnonce=\"c0ffee\"" if qop else ""))


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
    a, b = "<sip:100@example.com>;tag=f1", f"<sip:{to_user}@example.com>" + (";tag=t1" if to_tag else "")
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
            drop=(), dup=(), swap=(), jitter=None, rate: float = 1.0, pt: int = 0, stamp=None) -> Script:
        """20 ms packets; drop/dup: packet indexes lost / sent twice; swap: indexes sent after the next one;
        jitter(i) -> extra delay in s; rate: the sender's clock against real time (1.001 = 1000 ppm fast);
        stamp(i) -> the RTP timestamp of packet i (default: from the clock and `rate`)."""
        n = int(seconds / ptime)
        per = int(8000 * ptime)
        drop, dup, swap = set(drop), set(dup), set(swap)
        for i in range(n):
            if i in drop:
                continue
            at = start + i * ptime + (jitter(i) if jitter else 0.0) + (ptime * 1.5 if i in swap else 0.0)
            payload = pw.rtp_packet(seq0 + i, int(i * per * rate) if stamp is None else stamp(i), ssrc, pt=pt)
            data = pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1], payload)))
            self.recs.append((T0 + int(at * S), data))
            if i in dup:
                self.recs.append((T0 + int(at * S) + 1000, data))
        return self

    def rtp_runs(self, src, dst, ssrc: int, start: float, runs: tuple[tuple[int, int, str], ...], *,
                 seq0: int = 1000) -> Script:
        """One stream of 20 ms packets whose payload type changes: `runs` of (payload type, packets, kind), kind
        "audio" (160 octets), "cn" (RFC 3389 §3: a noise level alone) or "event" (one RFC 4733 digit 1 stamped at
        its start, §2.5.1, its last three packets the end, §2.5.1.4); sequence numbers and timestamps run on across
        runs."""
        i = 0
        for pt, count, kind in runs:
            for k in range(count):
                ts, marker, payload = (i + k) * 160, False, b"\xff" * 160
                if kind == "cn":
                    payload = bytes([40])
                elif kind == "event":
                    ts, marker = i * 160, k == 0
                    payload = event_payload(1, k >= count - 3, 160 * min(k + 1, count - 2))
                packet = pw.rtp_packet(seq0 + i + k, ts, ssrc, pt=pt, marker=marker, payload=payload)
                self.udp(start + (i + k) * 0.02, src, dst, packet)
            i += count
        return self

    def udp(self, at: float, src, dst, payload: bytes) -> Script:
        self.recs.append((T0 + int(at * S), pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1],
                                                                                            payload)))))
        return self

    def rtcp(self, at: float, src, dst, payload: bytes) -> Script:
        return self.udp(at, src, dst, payload)

    def write(self, path: Path, *, step_at: float | None = None, step_s: float = 0.0) -> Path:
        """Sorted by time; step_at: the capture's clock steps by step_s (negative: back) at that time, so the
        records from then on are stamped step_s off (capture.time-backwards / capture.time-jump), in order."""
        self.recs.sort(key=lambda r: r[0])
        recs = self.recs if step_at is None else [
            (ts + int(step_s * S) if ts >= T0 + int(step_at * S) else ts, data) for ts, data in self.recs]
        pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
        return path


def unanswered_invite_and_lost_fragment(path: Path) -> Path:
    """An INVITE and its Timer A retransmissions (RFC 3261 §17.1.1.2) that nobody answers, then the first
    fragment of a UDP datagram whose other fragments never come: router.udp-fragmentation (capture-wide)
    explains call.invite-timeout (RULES.md §2)."""
    text = sip_message("INVITE sip:200@example.com SIP/2.0", "cycle-1", "1 INVITE", src=UA, to_tag=False)
    script = Script()
    for at in (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5):
        script.sip(at, text, UA, PBX)
    datagram = pw.udp(5060, 5060, b"X" * 1400)[:1000]
    script.recs.append((T0 + 40 * S, pw.link_frame(pw.ipv4(UA[0], PBX[0], 17, datagram, ident=77, mf=True))))
    return script.write(path)


def timer_schedule(t1: float, timeout_s: float | None = None, cap: float | None = None) -> tuple[float, ...]:
    """The send times (s from the first) of a message retransmitted over UDP with `t1` (RFC 3261 §17.1.1.2 Timer A;
    with `cap`, T2, §17.1.2.2 Timer E and the 2xx of §13.3.1.4) before its 64*T1 (or `timeout_s`) runs out."""
    end = 64 * t1 if timeout_s is None else timeout_s
    out, at, interval = [0.0], 0.0, t1
    while at + interval < end:
        at += interval
        out.append(at)
        interval = min(interval * 2, cap) if cap else interval * 2
    return tuple(out)


def keepalives(script: Script, start: float, end: float, count: int) -> Script:
    """`count` OPTIONS from a monitor to the PBX between `start` and `end` s, unanswered: stand-alone transactions
    that make the correlator sweep its transaction table (every EXPIRE_EVERY messages) at those times."""
    monitor = ("192.0.2.50", 5060)
    for i in range(count):
        script.sip(start + (end - start) * i / count,
                   sip_message("OPTIONS sip:pbx@example.com SIP/2.0", f"ka-{i}", "1 OPTIONS", src=monitor,
                               to_tag=False, branch=f"ka{i}"), monitor, PBX)
    return script


def unanswered_invite(path: Path, sends: tuple[float, ...], *, end: float | None = None, call_id: str = "slow-1",
                      final: tuple[float, str] | None = None, keepalive: tuple[float, float, int] | None = None
                      ) -> Path:
    """An INVITE from the UA sent at `sends` (s) and never answered by a provisional response; end: an OPTIONS
    from a monitor then, the capture's last record; final: (at, status line) from the PBX; keepalive: (start, end,
    count) of OPTIONS from the monitor (`keepalives`)."""
    text = sip_message("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", src=UA, to_tag=False,
                       body=SDP.format(ip=UA[0], port=UA_RTP))
    script = Script()
    for at in sends:
        script.sip(at, text, UA, PBX)
    if final is not None:
        script.sip(final[0], sip_message(final[1], call_id, "1 INVITE", src=UA), PBX, UA)
    if keepalive is not None:
        keepalives(script, *keepalive)
    if end is not None:
        monitor = ("192.0.2.50", 5060)
        script.sip(end, sip_message("OPTIONS sip:pbx@example.com SIP/2.0", "ka-end", "1 OPTIONS", src=monitor,
                                    to_tag=False, branch="kaend"), monitor, PBX)
    return script.write(path)


def ack_never_arrives(path: Path, t1: float, *, call_id: str = "noack-1", bye_after: float | None = None) -> Path:
    """INVITE answered 200 OK at 0.3 s, the 200 OK retransmitted by a UAS whose T1 is `t1` (doubling, capped at
    T2 = 4 s, RFC 3261 §13.3.1.4) without any ACK, and the callee's BYE 64*T1 (or `bye_after` s) after the first
    200 OK."""
    return ack_never_arrives_in(Script(), t1, call_id=call_id, bye_after=bye_after).write(path)


def ack_never_arrives_in(script: Script, t1: float, *, call_id: str = "noack-1", bye_after: float | None = None,
                         start: float = 0.0, branch: str = "b1") -> Script:
    """ack_never_arrives's call added to `script`, its INVITE at `start` s (with Via branch `branch`): several
    such calls in one capture."""
    script.sip(start, sip_message("INVITE sip:200@example.com SIP/2.0", call_id, "1 INVITE", src=UA, to_tag=False,
                                  branch=branch, body=SDP.format(ip=UA[0], port=UA_RTP)), UA, PBX)
    ok = sip_message("SIP/2.0 200 OK", call_id, "1 INVITE", src=UA, branch=branch,
                     body=SDP.format(ip=PBX[0], port=PBX_RTP), contact=f"<sip:200@{PBX[0]}:5060>")
    for at in timer_schedule(t1, cap=4.0):
        script.sip(start + 0.3 + at, ok, PBX, UA)
    return bye(script, start + 0.3 + (64 * t1 if bye_after is None else bye_after), call_id, from_callee=True)


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


def rtcp_rr(reporter: int, source: int, *, lsr: int = 0, dlsr_s: float = 0.0, jitter: int = 0,
            fraction_lost: int = 0, cumulative_lost: int = 0, highest: int = 1000) -> bytes:
    """RFC 3550 §6.4.2 receiver report with one block about `source`: fraction_lost the 8-bit fraction (lost in the
    interval * 256 / expected), cumulative_lost a signed count written as 24 bits (negative with duplicates, A.3),
    highest the extended highest sequence number received."""
    lost_word = (fraction_lost & 0xFF) << 24 | (cumulative_lost & 0xFFFFFF)
    block = struct.pack("!IIIIII", source, lost_word, highest, jitter, lsr, int(dlsr_s * 65536))
    return struct.pack("!BBHI", 0x81, 201, 7, reporter) + block


def call_setup(script: Script, call_id: str, *, ua=UA, pbx=PBX, offer_extra: str = "", answer_extra: str = "",
               to_user: str = "200", answer: bool = True, sdp_ua=None, at: float = 0.0, offer_sdp: str | None = None,
               answer_sdp: str | None = None) -> Script:
    """INVITE / 200 OK / ACK at `at` (answer at +0.3 s), SDP with the UA's and PBX's RTP ports (or the bodies
    `offer_sdp` / `answer_sdp` as given)."""
    ua_media = sdp_ua or (ua[0], UA_RTP)
    offer = offer_sdp or SDP.format(ip=ua_media[0], port=ua_media[1])
    script.sip(at, sip_message(f"INVITE sip:{to_user}@example.com SIP/2.0", call_id, "1 INVITE", src=ua,
                               to_tag=False, body=offer, extra=offer_extra, to_user=to_user), ua, pbx)
    if answer:
        body = answer_sdp or SDP.format(ip=pbx[0], port=PBX_RTP)
        script.sip(at + 0.3, sip_message("SIP/2.0 200 OK", call_id, "1 INVITE", src=ua, body=body, extra=answer_extra,
                                         to_user=to_user, contact=f"<sip:200@{pbx[0]}:5060>"), pbx, ua)
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
def calls_across_a_two_day_step(path: Path, step_s: float) -> Path:
    """Two calls in progress when the capture's clock steps by step_s (two days: capture.time-jump, or back:
    capture.time-backwards) at 5 s, their RTP going on across it: jump-1 answered at 0.3 s with two-way RTP until
    12.4 s, BYE at 12.5 s; ring-1 ringing with early media (183 with SDP, RTP from the PBX) from 1 s, refused 486 at
    10.3 s. A keepalive OPTIONS just before the step (4.99 s) and one after the BYE's linger (15 s)."""
    s = call_setup(Script(), "jump-1")
    two_way(s, 0.41, 12.0)
    ring_ua, ring_pbx = (UA[0], UA_RTP + 100), (PBX[0], PBX_RTP + 100)
    s.sip(1.0, sip_message("INVITE sip:300@example.com SIP/2.0", "ring-1", "1 INVITE", src=UA, to_tag=False,
                           to_user="300", branch="r1", body=SDP.format(ip=ring_ua[0], port=ring_ua[1])), UA, PBX)
    s.sip(1.1, sip_message("SIP/2.0 183 Session Progress", "ring-1", "1 INVITE", src=UA, to_user="300", branch="r1",
                           body=SDP.format(ip=ring_pbx[0], port=ring_pbx[1])), PBX, UA)
    s.rtp(ring_pbx, ring_ua, 0x3333, 1.2, 9.0)
    s.sip(10.3, sip_message("SIP/2.0 486 Busy Here", "ring-1", "1 INVITE", src=UA, to_user="300", branch="r1"),
          PBX, UA)
    s.sip(10.31, sip_message("ACK sip:300@example.com SIP/2.0", "ring-1", "1 ACK", src=UA, to_user="300",
                             branch="r1"), UA, PBX)
    for at in (4.99, 15.0):
        s.sip(at, sip_message("OPTIONS sip:x@example.com SIP/2.0", f"ka-{at}", "1 OPTIONS", src=UA, to_tag=False,
                              branch=f"ka{at}"), UA, PBX)
    bye(s, 12.5, "jump-1")
    return s.write(path, step_at=5.0, step_s=step_s)


def single_messages(path: Path, messages: tuple[tuple[str, tuple[str, int], tuple[str, int]], ...]) -> Path:
    """Each (SIP text, src, dst) as one UDP frame, 10 ms apart."""
    pw.write_pcap(path, [(T0 + i * 10 * MS, frame(text, src, dst)) for i, (text, src, dst) in enumerate(messages)],
                  pw.LINKTYPE_ETHERNET)
    return path


def icmp_error(reporter: str, to: str, quoted: bytes, icmp_type: int = 3, code: int = 3, mtu: int = 0) -> bytes:
    """ICMP error (RFC 792) from `reporter` to `to`, quoting the IP header + first 8 octets of `quoted`; `mtu`: the
    Next-Hop MTU of a "fragmentation needed" (code 4, RFC 1191 §4), in the low 16 bits of the second word."""
    import struct

    body = struct.pack("!BBHHH", icmp_type, code, 0, 0, mtu) + quoted[:28]
    body = body[:2] + struct.pack("!H", pw.inet_checksum(body)) + body[4:]
    return pw.link_frame(pw.ipv4(reporter, to, 1, body))


def icmpv6_too_big(reporter: str, to: str, quoted: bytes, mtu: int) -> bytes:
    """ICMPv6 Packet Too Big (RFC 4443 §3.2) from `reporter` to `to`: the MTU in the second word, then as much of
    `quoted` (an IPv6 packet) as fits the minimum MTU; the checksum covers the pseudo-header (RFC 4443 §2.3)."""
    import struct

    body = struct.pack("!BBHI", 2, 0, 0, mtu) + quoted[:1280 - 48]
    checksum = pw.inet_checksum(pw._pseudo_header(reporter, to, 58, len(body)) + body)
    body = body[:2] + struct.pack("!H", checksum) + body[4:]
    return pw.link_frame(pw.ipv6(reporter, to, 58, body))


def rtcp_sr_ntp(ssrc: int, ntp: int) -> bytes:
    """RTCP sender report without report blocks (RFC 3550 §6.4.1)."""
    import struct

    return struct.pack("!BBHIQIII", 0x80, 200, 6, ssrc, ntp, 0, 0, 0)


def rtcp_rr_dlsr(ssrc: int, source: int, lsr: int, dlsr: int, jitter: int) -> bytes:
    """RTCP receiver report with one block about `source` (RFC 3550 §6.4.2)."""
    import struct

    return struct.pack("!BBHIIIIIII", 0x81, 201, 7, ssrc, source, 0, 0, jitter, lsr, dlsr)


def rtcp_round_trips(rtts_ms: tuple[float, ...], *, every_s: float = 4.0, jitters: tuple[int, ...] = ()
                     ) -> tuple[tuple[int, bytes], ...]:
    """SRs from the PBX's stream (SSRC 0x2222) and the phone's RRs about it, so that the capture measures the
    given round trips (RULES.md §1.5: RTT = (t_RR - t_SR) - DLSR), as (ns after the INVITE, frame) records."""
    out = []
    dlsr_s = 1.0
    for k, rtt in enumerate(rtts_ms):
        at = int((1 + k * every_s) * S)
        ntp = ((3_900_000_000 + k * 4) << 32) | 0x80000000
        mid = (ntp >> 16) & 0xFFFFFFFF
        sr = pw.link_frame(pw.ipv4(PBX[0], UA[0], 17, pw.udp(PBX_RTP + 1, UA_RTP + 1, rtcp_sr_ntp(0x2222, ntp))))
        jitter = jitters[k] if k < len(jitters) else 40
        rr = pw.link_frame(pw.ipv4(UA[0], PBX[0], 17, pw.udp(
            UA_RTP + 1, PBX_RTP + 1, rtcp_rr_dlsr(0x1111, 0x2222, mid, int(dlsr_s * 65536), jitter))))
        out += [(at, sr), (at + int((dlsr_s + rtt / 1000) * S), rr)]
    return tuple(out)
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
