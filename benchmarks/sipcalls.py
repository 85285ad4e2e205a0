"""Call plans and SIP dialogs for the benchmark generator (gencapture.py).

A plan is everything random about a call, drawn once from a seeded NumPy generator: who calls whom, when each
message of the dialog is seen, the SDP offer/answer and the two RTP streams it sets up. The SIP text is then built
per message in plain Python (a call has seven messages, so this is cheap); the RTP packets are built column-wise
in gencapture.py from the stream plans.

The capture point is the PBX's switch port: UA-side packets arrive from the access router, PBX packets leave
towards it. Each call is one UDP dialog (RFC 3261 §13, §15):

    UA                         PBX
    | INVITE (SDP offer)  -->   |
    |   <--        100 Trying   |
    |   <--       180 Ringing   |   (first 18x: post-dial delay)
    |   <--  200 OK (SDP answer)|
    | ACK                 -->   |   (new transaction for a 2xx ACK, RFC 3261 §13.2.2.4)
    | <====== RTP both ways ==> |
    | BYE (either side)   -->   |
    |   <--            200 OK   |

NAT calls (a few per cent): the UA has a private address (RFC 1918) in Via, Contact and SDP, but its packets reach
the PBX from the router's public address with a mapped source port. The PBX answers to the received address and
port (RFC 3581 rport) and sends its media to the address the UA's RTP comes from (symmetric RTP, RFC 4961), which
is how a PBX with NAT handling behaves.

Only documentation and private addresses are used: 203.0.113.0/24 (the PBX), 198.51.100.0/24 (the UAs' public
addresses), 192.168.0.0/16 (behind NAT).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np

PBX_SIP_IP = "203.0.113.5"
PBX_MEDIA_IP = "203.0.113.10"
PBX_SIP_PORT = 5060
SERVER = "Asterisk PBX 18.20.1"
USER_AGENTS = (
    "Yealink SIP-T46S 66.86.0.15",
    "Grandstream GXP2170 1.0.11.23",
    "Linphone/5.2.0 (belle-sip/5.2.0)",
    "Zoiper rv2.10.19.2",
    "MicroSIP/3.21.3",
    "Cisco/SPA112-1.4.1(SR5)",
)
CODECS = {0: "PCMU", 8: "PCMA"}  # RFC 3551 static payload types, 8 kHz, 20 ms = 160 samples = 160 octets
PTIME_NS = 20_000_000
SAMPLES_PER_PACKET = 160


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """One RTP direction (RFC 3550): who sends to whom, from when, how many packets, and its numbering."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    ssrc: int
    first_seq: int  # random 16-bit start (RFC 3550 §5.1), so some streams wrap
    first_timestamp: int  # random 32-bit start
    start_ns: int  # send time of the first packet; packet k is sent at start_ns + k * 20 ms
    packets: int  # sent (before loss)
    payload_type: int
    from_ua: bool


@dataclass(frozen=True, slots=True)
class CallPlan:
    """One call: identities, addresses as seen on the wire and as written in SIP/SDP, and message times."""

    index: int
    call_id: str
    caller: str  # extension of the UA
    callee: str  # dialled number
    user_agent: str
    nat: bool
    ua_ip: str  # the UA's address as the PBX sees it (public)
    ua_port: int  # SIP source port as the PBX sees it (mapped by the NAT, else 5060)
    ua_contact_ip: str  # what the UA writes in Via/Contact/SDP (private behind NAT)
    ua_sdp_port: int  # the UA's RTP port in its SDP offer
    ua_media_port: int  # the UA's RTP port as seen (mapped behind NAT, else = ua_sdp_port)
    pbx_media_port: int
    payload_type: int
    from_tag: str
    to_tag: str
    branches: tuple[str, ...]  # INVITE, ACK, BYE
    session_id: int
    invite_ns: int
    trying_ns: int
    ringing_ns: int
    answer_ns: int
    ack_ns: int
    bye_ns: int
    bye_ok_ns: int
    bye_from_ua: bool
    streams: tuple[StreamPlan, StreamPlan]  # UA -> PBX, PBX -> UA


def _hex(rng: np.random.Generator, n: int, digits: int) -> list[str]:
    values = rng.integers(0, 1 << (4 * digits), size=n, dtype=np.uint64)
    return [format(int(v), f"0{digits}x") for v in values]


def plan_calls(
    calls: int,
    rtp_packets_per_stream: np.ndarray,
    rng: np.random.Generator,
    span_ns: int,
    start_ns: int,
    nat_fraction: float = 0.03,
    jitter_margin_ns: int = 0,
) -> list[CallPlan]:
    """Draw ``calls`` call plans. rtp_packets_per_stream: packets per direction for each call (both directions
    of a call send the same number). Calls start spread uniformly over ``span_ns`` from ``start_ns`` (so they
    overlap); all randomness comes from ``rng`` in a fixed order, so a seed gives the same plans every time."""
    invite = start_ns + np.sort(rng.integers(0, max(1, span_ns), size=calls))
    trying = invite + rng.integers(2_000_000, 30_000_000, size=calls)  # 2-30 ms
    ringing = invite + rng.integers(60_000_000, 400_000_000, size=calls)  # post-dial delay 60-400 ms
    answer = ringing + rng.integers(500_000_000, 3_000_000_000, size=calls)  # rings 0.5-3 s
    rtt = rng.integers(10_000_000, 60_000_000, size=calls)
    ack = answer + rtt
    pbx_rtp_start = answer + rng.integers(5_000_000, 30_000_000, size=calls)
    ua_rtp_start = ack + rng.integers(1_000_000, 20_000_000, size=calls)
    last_rtp = np.maximum(pbx_rtp_start, ua_rtp_start) + (rtp_packets_per_stream - 1) * PTIME_NS + jitter_margin_ns
    bye = last_rtp + rng.integers(20_000_000, 200_000_000, size=calls)
    bye_ok = bye + rtt
    bye_from_ua = rng.random(calls) < 0.5
    payload_types = np.where(rng.random(calls) < 0.5, 0, 8)
    n_nat = int(round(calls * nat_fraction))
    nat = np.zeros(calls, dtype=bool)
    nat[rng.choice(calls, size=n_nat, replace=False)] = True
    ua_host = rng.integers(1, 200, size=calls)  # 198.51.100.1-199: directly reachable UAs
    nat_router = rng.integers(200, 255, size=calls)  # 198.51.100.200-254: NAT routers
    private_host = rng.integers(2, 254, size=calls)
    nat_sip_port = rng.integers(1024, 65536, size=calls)
    nat_rtp_port = rng.integers(1024, 65536, size=calls)
    caller_ext = rng.integers(100, 1000, size=calls)
    callee = rng.integers(100, 200, size=calls)  # +1 202 555-0100..0199: numbers reserved for fiction
    agents = rng.integers(0, len(USER_AGENTS), size=calls)
    ssrc = rng.integers(1, 1 << 32, size=(calls, 2), dtype=np.uint64)
    first_seq = rng.integers(0, 1 << 16, size=(calls, 2))
    first_ts = rng.integers(0, 1 << 32, size=(calls, 2), dtype=np.uint64)
    session_ids = rng.integers(1_000_000, 9_999_999, size=calls)
    ids = _hex(rng, calls, 16)
    tags = _hex(rng, 2 * calls, 8)
    branches = _hex(rng, 3 * calls, 12)

    plans = []
    for i in range(calls):
        n = int(rtp_packets_per_stream[i])
        seq = [int(s) for s in first_seq[i]]
        if i == 0:
            # The first call's PBX stream always wraps its sequence number (RFC 3550 §A.1 extended sequence),
            # so every capture, even a tiny test one, exercises the wrap.
            seq[1] = (65536 - max(1, n // 2)) & 0xFFFF
        is_nat = bool(nat[i])
        ua_ip = f"198.51.100.{int(nat_router[i] if is_nat else ua_host[i])}"
        contact_ip = f"192.168.{1 + i % 250}.{int(private_host[i])}" if is_nat else ua_ip
        # Even RTP ports (RFC 3550 §11), unique per call among up to 20000 concurrent calls.
        ua_sdp_port = 20000 + 2 * ((i * 7919) % 20000)
        pbx_port = 10000 + 2 * (i % 20000)
        ua_media_port = int(nat_rtp_port[i]) if is_nat else ua_sdp_port
        pt = int(payload_types[i])
        up = StreamPlan(ua_ip, ua_media_port, PBX_MEDIA_IP, pbx_port, int(ssrc[i, 0]), seq[0], int(first_ts[i, 0]),
                        int(ua_rtp_start[i]), n, pt, True)
        down = StreamPlan(PBX_MEDIA_IP, pbx_port, ua_ip, ua_media_port, int(ssrc[i, 1]), seq[1],
                          int(first_ts[i, 1]), int(pbx_rtp_start[i]), n, pt, False)
        cid = ids[i]
        plans.append(CallPlan(
            index=i,
            call_id=f"{cid[:8]}-{cid[8:12]}-{cid[12:]}-{i:08x}@{contact_ip}",  # the index makes it unique
            caller=str(int(caller_ext[i])),
            callee=f"+1202555{int(callee[i]):04d}",
            user_agent=USER_AGENTS[int(agents[i])],
            nat=is_nat,
            ua_ip=ua_ip,
            ua_port=int(nat_sip_port[i]) if is_nat else 5060,
            ua_contact_ip=contact_ip,
            ua_sdp_port=ua_sdp_port,
            ua_media_port=ua_media_port,
            pbx_media_port=pbx_port,
            payload_type=pt,
            from_tag=tags[2 * i],
            to_tag=f"as{tags[2 * i + 1]}",
            branches=tuple(f"z9hG4bK{b}" for b in branches[3 * i:3 * i + 3]),
            session_id=int(session_ids[i]),
            invite_ns=int(invite[i]), trying_ns=int(trying[i]), ringing_ns=int(ringing[i]),
            answer_ns=int(answer[i]), ack_ns=int(ack[i]), bye_ns=int(bye[i]), bye_ok_ns=int(bye_ok[i]),
            bye_from_ua=bool(bye_from_ua[i]),
            streams=(up, down),
        ))
    return plans


# --- SIP text --------------------------------------------------------------------------------------------------

def _sdp(user: str, session_id: int, ip: str, port: int, payload_types: tuple[int, ...]) -> str:
    """An audio offer or answer (RFC 8866 syntax, RFC 3264 offer/answer); DTMF as telephone-event (RFC 4733)."""
    lines = [
        "v=0",
        f"o={user} {session_id} {session_id} IN IP4 {ip}",
        "s=SIP Call",
        f"c=IN IP4 {ip}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(map(str, payload_types))} 101",
        *[f"a=rtpmap:{pt} {CODECS[pt]}/8000" for pt in payload_types],
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return "\r\n".join(lines) + "\r\n"


def _message(start_line: str, headers: list[tuple[str, str]], body: str = "", content_type: str = "") -> bytes:
    """Start line, headers, Content-Type when there is a body, and an exact Content-Length (octets of the body,
    RFC 3261 §20.14), CRLF line ends."""
    body_bytes = body.encode()
    if body:
        headers = [*headers, ("Content-Type", content_type)]
    headers = [*headers, ("Content-Length", str(len(body_bytes)))]
    head = start_line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode() + body_bytes


def dialog_messages(call: CallPlan) -> list[tuple[int, bool, bytes]]:
    """The seven messages of the call as ``(ts_ns, from_ua, sip_bytes)``, in time order."""
    domain = PBX_SIP_IP
    ua_hostport = f"{call.ua_contact_ip}:5060"
    pbx_contact = f"<sip:{call.callee}@{PBX_SIP_IP}:{PBX_SIP_PORT}>"
    from_ = f'"{call.caller}" <sip:{call.caller}@{domain}>;tag={call.from_tag}'
    to = f"<sip:{call.callee}@{domain}>"
    to_tagged = f"{to};tag={call.to_tag}"
    invite_via = f"SIP/2.0/UDP {ua_hostport};branch={call.branches[0]};rport"
    # RFC 3581 §4: the server fills rport with the source port, and received when the address differs (NAT).
    received = f";received={call.ua_ip}" if call.nat else ""
    answered_via = invite_via.replace(";rport", f";rport={call.ua_port}{received}")
    common = [("Call-ID", call.call_id)]
    pts = (call.payload_type, 8 if call.payload_type == 0 else 0)
    offer = _sdp(call.caller, call.session_id, call.ua_contact_ip, call.ua_sdp_port, pts)
    answer = _sdp("-", call.session_id + 1, PBX_MEDIA_IP, call.pbx_media_port, (call.payload_type,))
    allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY"

    invite = _message(f"INVITE sip:{call.callee}@{domain} SIP/2.0", [
        ("Via", invite_via), ("Max-Forwards", "70"), ("From", from_), ("To", to), *common,
        ("CSeq", "1 INVITE"), ("Contact", f"<sip:{call.caller}@{ua_hostport}>"), ("Allow", allow),
        ("Supported", "replaces, timer"), ("User-Agent", call.user_agent),
    ], offer, "application/sdp")

    def response(status: str, to_header: str, cseq: str, extra=(), body: str = "") -> bytes:
        return _message(f"SIP/2.0 {status}", [
            ("Via", answered_via), ("From", from_), ("To", to_header), *common, ("CSeq", cseq), *extra,
            ("Server", SERVER),
        ], body, "application/sdp")

    trying = response("100 Trying", to, "1 INVITE")
    ringing = response("180 Ringing", to_tagged, "1 INVITE", [("Contact", pbx_contact)])
    ok = response("200 OK", to_tagged, "1 INVITE", [("Contact", pbx_contact), ("Allow", allow),
                                                    ("Supported", "replaces, timer")], answer)
    ack = _message(f"ACK sip:{call.callee}@{PBX_SIP_IP}:{PBX_SIP_PORT} SIP/2.0", [
        ("Via", f"SIP/2.0/UDP {ua_hostport};branch={call.branches[1]};rport"), ("Max-Forwards", "70"),
        ("From", from_), ("To", to_tagged), *common, ("CSeq", "1 ACK"), ("User-Agent", call.user_agent),
    ])
    if call.bye_from_ua:
        bye_via = f"SIP/2.0/UDP {ua_hostport};branch={call.branches[2]};rport"
        bye = _message(f"BYE sip:{call.callee}@{PBX_SIP_IP}:{PBX_SIP_PORT} SIP/2.0", [
            ("Via", bye_via), ("Max-Forwards", "70"), ("From", from_), ("To", to_tagged), *common,
            ("CSeq", "2 BYE"), ("User-Agent", call.user_agent),
        ])
        bye_ok = _message("SIP/2.0 200 OK", [
            ("Via", bye_via.replace(";rport", f";rport={call.ua_port}{received}")), ("From", from_),
            ("To", to_tagged), *common, ("CSeq", "2 BYE"), ("Server", SERVER),
        ])
    else:
        # The PBX's own request in the dialog: its From/To are swapped and it uses its own CSeq space (§12.2.1.1).
        bye_via = f"SIP/2.0/UDP {PBX_SIP_IP}:{PBX_SIP_PORT};branch={call.branches[2]};rport"
        pbx_from = f"{to};tag={call.to_tag}"
        pbx_to = f'"{call.caller}" <sip:{call.caller}@{domain}>;tag={call.from_tag}'
        bye = _message(f"BYE sip:{call.caller}@{ua_hostport} SIP/2.0", [
            ("Via", bye_via), ("Max-Forwards", "70"), ("From", pbx_from), ("To", pbx_to), *common,
            ("CSeq", "102 BYE"), ("User-Agent", SERVER),
        ])
        bye_ok = _message("SIP/2.0 200 OK", [
            ("Via", bye_via), ("From", pbx_from), ("To", pbx_to), *common, ("CSeq", "102 BYE"),
            ("User-Agent", call.user_agent),
        ])
    return [
        (call.invite_ns, True, invite),
        (call.trying_ns, False, trying),
        (call.ringing_ns, False, ringing),
        (call.answer_ns, False, ok),
        (call.ack_ns, True, ack),
        (call.bye_ns, call.bye_from_ua, bye),
        (call.bye_ok_ns, not call.bye_from_ua, bye_ok),
    ]


def ip_to_int(addr: str) -> int:
    return int(ipaddress.IPv4Address(addr))
