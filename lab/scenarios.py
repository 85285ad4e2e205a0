"""The lab's scenarios: who calls whom, which fault the router (or PBX) has, where we capture, and
the ground truth each capture must show.

Each :class:`Scenario` is data only; ``lab/run.py`` runs it. The declared ground truth
(:class:`Expect`) is checked against what tshark reads from the capture before a manifest entry is
written, so a scenario that does not produce what it claims fails loudly instead of shipping a
wrong fixture. Categories are the finding categories of ARCHITECTURE.md; in the manifest
``categories_present`` means at least one finding of that category (any severity) must be
reported, ``categories_absent`` means none above ``info``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .netns import LAN_NET, PBX_IP, PEER_IP, PHONE_IP, ROUTER_LAN_IP, ROUTER_WAN_IP
from .sipp import sdp

CATEGORIES = ("nat", "router", "codec", "registration", "signaling", "media", "security")

PHONE_USER, PEER_USER, CALLEE = "100", "200", "300"
PASSWORD = "s3cret-100"
NONCE = "5d1ab0c0ffee"
PHONE_MEDIA, PEER_MEDIA, PBX_MEDIA = 6000, 6000, 7000
SSRC = {"phone": 0x5D1A0001, "peer": 0x5D1A0002, "pbx": 0x5D1A0003}
AUDIO_PACKETS = 50  # 1 s of 20 ms G.711 per direction keeps every capture near 25 KB
TALK_MS = 1500
# The one-way audio scenarios play 16.5 s of RTP: media.one-way-audio is major only once audio
# has flowed one way for media.onewaytimeout_s (15 s, RULES.md); a second of it cannot tell
# one-way audio from a call hung up early.
ONE_WAY_PACKETS = 825
ONE_WAY_TALK_MS = ONE_WAY_PACKETS * 20 + 500
# 1.5 s of the phone's RTP against the PBX's ICMP rate limit (1 s per error after a burst of 6): the
# 7th error comes a second after the burst, half a second before the audio ends, never near the edge.
UNREACHABLE_PACKETS = 75
# The phone's idle time before its registration refresh: past conntrack's 30 s UDP timeout, inside the
# 60 s the registrar grants (a refresh at 58 % of it, RFC 3261 §10.2.4 leaves the moment to the UA).
CHURN_IDLE_MS = 35000
# A password sprayer's list: extensions 100-109, each with the commonest weak password, the extension number
# itself. One guess per extension: sipdiag keys a registration by AOR and Contact (ARCHITECTURE.md), the lab's
# oracle by Call-ID, so two guesses for one extension would count as one registration there and two here.
GUESSES = tuple((str(ext), str(ext)) for ext in range(100, 110))


@dataclass(frozen=True)
class Media:
    """RTP a sipp party sends with play_pcap_audio (None in a Party: it sends none, or echoes)."""

    packets: int = AUDIO_PACKETS
    payload_type: int = 0
    dtmf: str = ""  # RFC 4733 digits sent after the audio
    delay_ms: int = 0  # wait before playing (lets the peer's RTP open the NAT binding first)


@dataclass(frozen=True)
class Party:
    """One sipp instance."""

    role: str  # namespace role (netns.ROLES)
    template: str  # file in lab/scenarios/
    local_ip: str
    values: dict = field(default_factory=dict)
    remote: str | None = None  # "ip:port" for a client
    media: Media | None = None
    media_port: int = 6000
    transport: str = "u1"
    call_id: str | None = None  # sipp -cid_str
    extra: tuple[str, ...] = ()
    expect_rc: int = 0  # sipp's exit code: 1 ("failed call") where the call ends on timer B
    calls: int = 1  # sipp -m: the calls (for a UAS: requests starting a scenario) before it exits
    inject: tuple[tuple[str, ...], ...] = ()  # sipp -inf rows, one a call: [field0], [field1]...


@dataclass(frozen=True)
class Expect:
    """Declared ground truth. ``calls``/``registrations`` list the keys to check per item; RTP flows
    give ``packets`` exactly or ``min_packets``/``max_packets`` where the fault is random."""

    calls: tuple[dict, ...] = ()
    registrations: tuple[dict, ...] | None = ()  # None: as captured (a scanner's many REGISTERs)
    rtp: tuple[dict, ...] = ()
    fragments: dict | None = None
    dtmf: str = ""
    icmp: dict = field(default_factory=dict)
    scanner: dict | None = None
    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    vantage: str  # netns.VANTAGES
    expect: Expect
    server: Party | None = None
    client: Party | None = None
    # Faults made by real means: (role, tool, rule) with tool "iptables" (argv), "nft" (ruleset) or "sysctl"
    # (("key=value",): a per-namespace kernel setting).
    rules: tuple[tuple[str, str, object], ...] = ()
    alg_relay: bool = False
    scans: tuple[tuple[str, ...], ...] = ()  # commands run in the peer namespace
    notes: str = ""
    slow: bool = False  # lasts 64*T1 or more

    @property
    def fault(self) -> list[str]:
        out = []
        for role, tool, rule in self.rules:
            text = " ".join(rule) if isinstance(rule, tuple) else " ".join(str(rule).split())
            out.append(f"{role}: {tool} {text}")
        return out


def _flow(src: str, dst: str, pt: int = 0, packets: int | None = AUDIO_PACKETS, **kw) -> dict:
    flow = {"src": src, "dst": dst, "payload_type": pt}
    if packets is not None:
        flow["packets"] = packets
    flow.update(kw)
    return flow


def _call(name: str, caller: str, outcome: str, final_status: int | None, **kw) -> dict:
    return {"call_id": f"{name}-1@sdlab", "caller": caller, "callee": CALLEE, "outcome": outcome,
            "final_status": final_status, **kw}


def _caller(name: str, template: str = "uac_call.xml", *, role: str = "peer",
            ua_ip: str | None = None, sdp_ip: str | None = None, offer: tuple[int, ...] | str = (0, 101),
            media: Media | None = Media(), remote: str = f"{PBX_IP}:5060", transport: str = "u1",
            expect_rc: int = 0, **values) -> Party:
    """A calling phone: the public peer, or the phone behind the NAT (``role="phone"``)."""
    local_ip = PHONE_IP if role == "phone" else PEER_IP
    ua_ip = ua_ip or local_ip
    user = PHONE_USER if role == "phone" else PEER_USER
    base = {"caller": user, "callee": CALLEE, "domain": PBX_IP, "ua_ip": ua_ip, "tag": name,
            "contact_params": "", "talk_ms": TALK_MS,
            "offer": offer if isinstance(offer, str) else sdp(sdp_ip or ua_ip, 1001, list(offer))}
    base.update(values)
    return Party(role=role, template=template, local_ip=local_ip, values=base, remote=remote,
                 media=media, media_port=PHONE_MEDIA if role == "phone" else PEER_MEDIA,
                 call_id=f"{name}-%u@sdlab", transport=transport, expect_rc=expect_rc)


def _pbx(name: str, template: str = "uas_answer.xml", *, answer: tuple[int, ...] = (0, 101),
         media: Media | None = Media(), echo: bool = False, transport: str = "u1", calls: int = 1,
         **values) -> Party:
    """The PBX: plays its RTP to the caller's SDP address, or (``echo``) latches (sipp -rtp_echo)."""
    base = {"callee": CALLEE, "caller": PHONE_USER, "domain": PBX_IP, "tag": name, "ring_ms": 300,
            "answer": sdp(PBX_IP, 2002, list(answer))}
    base.update(values)
    return Party(role="pbx", template=template, local_ip=PBX_IP, values=base, media=media,
                 media_port=PBX_MEDIA, transport=transport, extra=("-rtp_echo",) if echo else (),
                 calls=calls)


PHONE_RTP = f"{PHONE_IP}:{PHONE_MEDIA}"
WAN_RTP = f"{ROUTER_WAN_IP}:{PHONE_MEDIA}"  # MASQUERADE keeps the source port when it is free
PEER_RTP = f"{PEER_IP}:{PEER_MEDIA}"
PBX_RTP = f"{PBX_IP}:{PBX_MEDIA}"
NO_NAT_FAULTS = ("nat", "router", "codec", "registration", "signaling", "media", "security")


def _absent(*present_or_unsure: str) -> tuple[str, ...]:
    return tuple(c for c in CATEGORIES if c not in present_or_unsure)


# A video phone's offer: audio and video with SRTP keys and many codecs -- about 1.6 KB of INVITE,
# more than one 1500-byte Ethernet MTU, so UDP sends it as two IP fragments (RFC 3261 §18.1.1
# would have it sent over TCP; many phones do not).
def _big_offer(address: str) -> str:
    base = sdp(address, 1001, [0, 8, 9, 18, 101])
    crypto = "".join(f"a=crypto:{i} AES_CM_128_HMAC_SHA1_{n} inline:{'S' * 40}\n"
                     for i, n in ((1, 80), (2, 32)))
    video = (
        "m=video [media_port+2] RTP/AVP 96 97 98 99\n"
        "a=rtpmap:96 H264/90000\na=fmtp:96 profile-level-id=42e01f;packetization-mode=1;"
        "max-mbps=108000;max-fs=3600\n"
        "a=rtpmap:97 H264/90000\na=fmtp:97 profile-level-id=42e01f;packetization-mode=0;"
        "max-mbps=108000;max-fs=3600\n"
        "a=rtpmap:98 VP8/90000\na=fmtp:98 max-fr=30;max-fs=3600\n"
        "a=rtpmap:99 H263-1998/90000\na=fmtp:99 CIF=1;QCIF=1;SQCIF=1\n"
        "a=rtcp-fb:* nack\na=rtcp-fb:* nack pli\na=rtcp-fb:* ccm fir\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset\n"
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\n"
        "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\n"
        "a=ssrc:3735928559 cname:sdlab-videophone-100@192.168.1.10\n"
        "a=ssrc:3735928559 msid:sdlab-stream sdlab-video\n"
        "a=framerate:30\na=content:main\na=label:sdlab-video-1\n"
        "a=sendrecv\n"
    )
    return base + crypto + video


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="clean_call",
        description="Two-way G.711 call between public hosts, no NAT: the reference for 'no problem'.",
        vantage="operator-edge",
        client=_caller("clean_call"),
        server=_pbx("clean_call", caller=PEER_USER),
        expect=Expect(
            calls=(_call("clean_call", PEER_USER, "answered", 200, acked=True, bye_from="caller"),),
            rtp=(_flow(PEER_RTP, PBX_RTP), _flow(PBX_RTP, PEER_RTP)),
            absent=NO_NAT_FAULTS),
    ),
    Scenario(
        name="nat_one_way_audio",
        description="Phone behind the NAT router puts its private address in Contact and SDP; the PBX "
                    "sends its RTP to the SDP address (no latching), which is unreachable: one-way audio.",
        vantage="operator-edge",
        client=_caller("nat_one_way_audio", role="phone", media=Media(packets=ONE_WAY_PACKETS),
                       talk_ms=ONE_WAY_TALK_MS),
        server=_pbx("nat_one_way_audio", media=Media(packets=ONE_WAY_PACKETS)),
        expect=Expect(
            calls=(_call("nat_one_way_audio", PHONE_USER, "answered", 200, acked=True,
                         caller_contact=f"sip:{PHONE_USER}@{PHONE_IP}:5060"),),
            rtp=(_flow(WAN_RTP, PBX_RTP, packets=ONE_WAY_PACKETS),
                 _flow(PBX_RTP, PHONE_RTP, packets=ONE_WAY_PACKETS)),
            present=("nat",), absent=("router", "codec", "registration", "signaling", "security")),
        notes="Phone RTP arrives from the router's public address 203.0.113.2; the PBX's RTP goes to "
              "192.168.1.10 and never reaches the phone (the ISP gateway drops it).",
    ),
    Scenario(
        name="nat_symmetric_rtp",
        description="Same NATed phone with private Contact/SDP, but the PBX uses symmetric RTP "
                    "(latching, RFC 4961): it sends to where the phone's RTP came from, audio works.",
        vantage="cpe-wan",
        client=_caller("nat_symmetric_rtp", role="phone"),
        server=_pbx("nat_symmetric_rtp", media=None, echo=True),
        expect=Expect(
            calls=(_call("nat_symmetric_rtp", PHONE_USER, "answered", 200, acked=True),),
            rtp=(_flow(WAN_RTP, PBX_RTP), _flow(PBX_RTP, WAN_RTP)),
            present=("nat",), absent=("router", "codec", "registration", "signaling", "media", "security")),
        notes="The PBX echoes the phone's RTP (sipp -rtp_echo) to its observed source: both directions "
              "flow through the router; the nat finding is informational (private SDP, mitigated).",
    ),
    Scenario(
        name="codec_rejected_488",
        description="Caller offers only G.729; the PBX supports G.711 only and answers 488 Not "
                    "Acceptable Here with Warning 305 (RFC 3261 §21.4.26).",
        vantage="operator-edge",
        client=_caller("codec_rejected_488", "uac_reject.xml", offer=(18, 101), media=None,
                       final_status=488),
        server=_pbx("codec_rejected_488", "uas_reject.xml", media=None, final_status=488,
                    final_reason="Not Acceptable Here", ringing="",
                    extra_headers='\nWarning: 305 sdlab-pbx "Incompatible media format"'),
        expect=Expect(
            calls=(_call("codec_rejected_488", PEER_USER, "rejected", 488, acked=True),),
            present=("codec",), absent=_absent("codec", "signaling")),
    ),
    Scenario(
        name="answer_codec_not_offered",
        description="Caller offers PCMU; the PBX answers with PCMA, which was not offered (RFC 3264 "
                    "§6.1), and sends PCMA RTP while the caller sends PCMU.",
        vantage="operator-edge",
        client=_caller("answer_codec_not_offered", offer=(0, 101)),
        server=_pbx("answer_codec_not_offered", answer=(8,), media=Media(payload_type=8),
                    caller=PEER_USER),
        expect=Expect(
            calls=(_call("answer_codec_not_offered", PEER_USER, "answered", 200, acked=True),),
            rtp=(_flow(PEER_RTP, PBX_RTP, 0), _flow(PBX_RTP, PEER_RTP, 8)),
            present=("codec",), absent=("nat", "router", "registration", "signaling", "security")),
    ),
    Scenario(
        name="busy_486",
        description="Callee busy: 100, 180, then 486 Busy Here, ACKed.",
        vantage="operator-edge",
        client=_caller("busy_486", "uac_reject.xml", media=None, final_status=486),
        server=_pbx("busy_486", "uas_reject.xml", media=None, final_status=486,
                    final_reason="Busy Here", extra_headers="",
                    ringing='<send><![CDATA[\n\n      SIP/2.0 180 Ringing\n      [last_Via:]\n'
                            '      [last_From:]\n      [last_To:];tag=busy_486-to\n'
                            '      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n\n'
                            '    ]]></send>\n  <pause milliseconds="800"/>'),
        expect=Expect(
            calls=(_call("busy_486", PEER_USER, "busy", 486, acked=True),),
            absent=_absent("signaling")),
    ),
    Scenario(
        name="cancelled_487",
        description="Caller hangs up while it rings: CANCEL, 200 (CANCEL), 487 Request Terminated, ACK.",
        vantage="operator-edge",
        client=_caller("cancelled_487", "uac_cancel.xml", media=None, ring_ms=1500),
        server=_pbx("cancelled_487", "uas_cancel.xml", media=None),
        expect=Expect(
            calls=(_call("cancelled_487", PEER_USER, "cancelled", 487, acked=True),),
            absent=_absent("signaling")),
    ),
    Scenario(
        name="invite_timeout",
        description="No response at all: the PBX host drops the caller's SIP (an operator ACL, iptables "
                    "on the PBX). Seven INVITEs (timer A), then timer B = 64*T1 = 32 s (RFC 3261 §17.1.1.2).",
        vantage="operator-edge",
        client=_caller("invite_timeout", "uac_timeout.xml", media=None, expect_rc=1),
        rules=(("pbx", "iptables", ("-A", "INPUT", "-s", PEER_IP, "-p", "udp", "--dport", "5060",
                                    "-j", "DROP")),),
        expect=Expect(
            calls=(_call("invite_timeout", PEER_USER, "timeout", None, invites_sent=7),),
            present=("signaling",), absent=("nat", "codec", "registration", "media")),
        slow=True,
    ),
    Scenario(
        name="register_ok",
        description="REGISTER with digest authentication: 401 challenge, then 200 OK with the right "
                    "password (checked by the registrar, RFC 2617 digest).",
        vantage="operator-edge",
        client=_caller("register_ok", "uac_register.xml", media=None, user=PEER_USER,
                       password=PASSWORD, expires=300, final_status=200),
        server=_pbx("register_ok", "uas_registrar.xml", media=None, user=PEER_USER, password=PASSWORD,
                    nonce=NONCE, expires=300, contact_host=f"{PEER_IP}:5060"),
        expect=Expect(
            registrations=({"aor": f"sip:{PEER_USER}@{PBX_IP}", "outcome": "registered",
                            "final_status": 200, "challenges": 1},),
            absent=NO_NAT_FAULTS),
    ),
    Scenario(
        name="register_wrong_password",
        description="REGISTER with a wrong password: 401 challenge, then 403 Forbidden.",
        vantage="operator-edge",
        client=_caller("register_wrong_password", "uac_register.xml", media=None, user=PEER_USER,
                       password="wrong-password", expires=300, final_status=403),
        server=_pbx("register_wrong_password", "uas_registrar.xml", media=None, user=PEER_USER,
                    password=PASSWORD, nonce=NONCE, expires=300, contact_host=f"{PEER_IP}:5060"),
        expect=Expect(
            registrations=({"aor": f"sip:{PEER_USER}@{PBX_IP}", "outcome": "failed",
                            "final_status": 403, "challenges": 1},),
            present=("registration",), absent=("nat", "router", "codec", "media", "security")),
    ),
    Scenario(
        name="register_423_then_ok",
        description="REGISTER asking for 30 s gets 423 Interval Too Brief (Min-Expires: 60); the retry "
                    "with 60 s is challenged and accepted.",
        vantage="operator-edge",
        client=_caller("register_423_then_ok", "uac_register_423.xml", media=None, user=PEER_USER,
                       password=PASSWORD, brief_expires=30, expires=60),
        server=_pbx("register_423_then_ok", "uas_registrar_423.xml", media=None, user=PEER_USER,
                    password=PASSWORD, nonce=NONCE, expires=60, contact_host=f"{PEER_IP}:5060"),
        expect=Expect(
            registrations=({"aor": f"sip:{PEER_USER}@{PBX_IP}", "outcome": "registered",
                            "final_status": 200, "challenges": 1, "statuses": [423, 401, 200]},),
            absent=("nat", "router", "codec", "media", "security")),
    ),
    Scenario(
        name="ack_dropped",
        description="The router drops the phone's ACK (nft rule on the payload 'ACK '): the PBX "
                    "retransmits its 200 OK (T1 doubling to T2) and, after 64*T1 = 32 s without ACK, "
                    "hangs up with BYE (RFC 3261 §13.3.1.4).",
        vantage="operator-edge",
        client=_caller("ack_dropped", "uac_call_remote_bye.xml", role="phone", ua_ip=ROUTER_WAN_IP,
                       bye_timeout_ms=45000),
        server=_pbx("ack_dropped", "uas_ack_lost.xml", media=None, echo=True),
        # The first 4 bytes of the UDP payload (@th,64,32: after the 8-byte UDP header) are "ACK ".
        rules=(("router", "nft", "table ip sdlab_fault {\n chain forward_ack {\n"
                                 "  type filter hook forward priority 0; policy accept;\n"
                                 "  udp dport 5060 @th,64,32 0x41434b20 counter drop\n }\n}\n"),),
        expect=Expect(
            calls=(_call("ack_dropped", PHONE_USER, "answered", 200, acked=False, bye_from="callee",
                         final_responses_sent=11),),
            rtp=(_flow(WAN_RTP, PBX_RTP), _flow(PBX_RTP, WAN_RTP)),
            present=("signaling",), absent=("nat", "codec", "registration", "security")),
        notes="The phone advertises the router's public address (as a phone with STUN or a configured "
              "public IP does), so only the dropped ACK is wrong. 200 OK sent at 0, 0.5, 1.5, 3.5, 7.5, "
              "11.5, ... 31.5 s (11 times), BYE from the PBX at 32 s.",
        slow=True,
    ),
    Scenario(
        name="firewall_one_way_audio",
        description="Router firewall drops inbound UDP to the phone's RTP ports (iptables FORWARD): the "
                    "phone sends audio but receives none. Captured on the LAN side.",
        vantage="phone-lan",
        client=_caller("firewall_one_way_audio", role="phone", media=Media(packets=ONE_WAY_PACKETS),
                       talk_ms=ONE_WAY_TALK_MS),
        server=_pbx("firewall_one_way_audio", media=None, echo=True),
        rules=(("router", "iptables", ("-A", "FORWARD", "-i", "wan0", "-o", "lan0", "-p", "udp",
                                       "--dport", "6000:6999", "-j", "DROP")),),
        expect=Expect(
            calls=(_call("firewall_one_way_audio", PHONE_USER, "answered", 200, acked=True),),
            rtp=(_flow(PHONE_RTP, PBX_RTP, packets=ONE_WAY_PACKETS),),
            present=("media",), absent=("codec", "registration", "signaling", "security")),
        notes="The PBX latches and sends its RTP back to 203.0.113.2:6000; the router drops it before "
              "the LAN, so the LAN capture holds RTP in one direction only.",
    ),
    Scenario(
        name="rtp_loss",
        description="Router drops 5 % of the phone's outgoing RTP at random (iptables statistic match).",
        vantage="operator-edge",
        client=_caller("rtp_loss", role="phone", ua_ip=ROUTER_WAN_IP, media=Media(packets=150),
                       talk_ms=3500),
        server=_pbx("rtp_loss", media=Media(packets=150, delay_ms=200)),
        rules=(("router", "iptables", ("-A", "FORWARD", "-i", "lan0", "-o", "wan0", "-p", "udp",
                                       "--sport", "6000", "-m", "statistic", "--mode", "random",
                                       "--probability", "0.05", "-j", "DROP")),),
        expect=Expect(
            calls=(_call("rtp_loss", PHONE_USER, "answered", 200, acked=True),),
            rtp=(_flow(WAN_RTP, PBX_RTP, packets=None, min_packets=125, max_packets=149),
                 _flow(PBX_RTP, WAN_RTP, packets=150)),
            present=("media",), absent=("nat", "codec", "registration", "signaling", "security")),
        notes="Random loss: the packet count differs between runs; the manifest holds this capture's.",
    ),
    Scenario(
        name="fragmented_invite_dropped",
        description="A large INVITE (video offer with SRTP keys, about 1.6 KB) leaves the phone as two IP "
                    "fragments; the router drops non-first fragments at ingress (nft, prerouting "
                    "priority -450, before conntrack defragments), so no INVITE reaches the PBX.",
        vantage="phone-lan",
        client=_caller("fragmented_invite_dropped", "uac_timeout.xml", role="phone", media=None,
                       offer=_big_offer(PHONE_IP), expect_rc=1),
        server=_pbx("fragmented_invite_dropped", media=None),
        # Priority -450 runs before conntrack's defragmentation (-400, NF_IP_PRI_CONNTRACK_DEFRAG):
        # a non-zero fragment offset means "not the first fragment".
        rules=(("router", "nft", "table ip sdlab_fault {\n chain prerouting_frag {\n"
                                 "  type filter hook prerouting priority -450; policy accept;\n"
                                 "  iifname \"lan0\" ip frag-off & 0x1fff != 0 counter drop\n }\n}\n"),),
        expect=Expect(
            calls=(_call("fragmented_invite_dropped", PHONE_USER, "timeout", None, invites_sent=7),),
            fragments={"datagrams": 7, "fragments": 14, "first_fragments": 7,
                       "fragments_per_datagram": [2], "sources": [PHONE_IP]},
            present=("router",), absent=("codec", "registration", "media", "security")),
        slow=True,
    ),
    Scenario(
        name="sip_over_tcp",
        description="Clean two-way call with SIP over TCP (RFC 3261 §18), public hosts.",
        vantage="operator-edge",
        client=_caller("sip_over_tcp", transport="t1"),
        server=_pbx("sip_over_tcp", caller=PEER_USER, transport="t1"),
        expect=Expect(
            calls=(_call("sip_over_tcp", PEER_USER, "answered", 200, acked=True, transport="tcp"),),
            rtp=(_flow(PEER_RTP, PBX_RTP), _flow(PBX_RTP, PEER_RTP)),
            absent=NO_NAT_FAULTS),
    ),
    Scenario(
        name="sip_alg_rewrite",
        description="A SIP ALG on the router rewrites Via and Contact to the public address but leaves "
                    "the SDP private; the PBX sends RTP to the private SDP address: one-way audio.",
        vantage="cpe-wan",
        client=_caller("sip_alg_rewrite", role="phone", remote=f"{ROUTER_LAN_IP}:5060"),
        server=_pbx("sip_alg_rewrite"),
        alg_relay=True,
        expect=Expect(
            calls=(_call("sip_alg_rewrite", PHONE_USER, "answered", 200, acked=True,
                         caller_contact=f"sip:{PHONE_USER}@{ROUTER_WAN_IP}:5060"),),
            rtp=(_flow(WAN_RTP, PBX_RTP),),
            present=("router",), absent=("codec", "registration", "security")),
        notes="The ALG is lab/alg_relay.py, a user-space relay in the router namespace that the phone "
              "uses as its outbound proxy; on the WAN side its messages look like a kernel ALG's. The "
              "PBX's RTP to 192.168.1.10 never reaches the router, so the WAN capture has one RTP "
              "direction.",
    ),
    Scenario(
        name="dtmf_rfc4733",
        description="Call with RFC 4733 telephone-events: the caller sends digits 1, 5, 9 and # after "
                    "a second of audio, on the same SSRC.",
        vantage="operator-edge",
        client=_caller("dtmf_rfc4733", media=Media(dtmf="159#"), talk_ms=3000),
        server=_pbx("dtmf_rfc4733", caller=PEER_USER),
        expect=Expect(
            calls=(_call("dtmf_rfc4733", PEER_USER, "answered", 200, acked=True),),
            rtp=(_flow(PEER_RTP, PBX_RTP), _flow(PEER_RTP, PBX_RTP, 101, packets=32),
                 _flow(PBX_RTP, PEER_RTP)),
            dtmf="159#",
            absent=NO_NAT_FAULTS),
        notes="Each digit: 5 updates every 20 ms then the end packet 3 times (RFC 4733 §2.5.1.4).",
    ),
    Scenario(
        name="sipvicious_scan",
        description="SIPVicious from the Internet: svmap (OPTIONS fingerprinting) and svwar (extension "
                    "enumeration with REGISTER, extensions 100-109) against the PBX.",
        vantage="operator-edge",
        server=_pbx("sipvicious_scan", "uas_scan_target.xml", media=None, known_re="10[01]",
                    nonce=NONCE, calls=1000),
        scans=(("sipvicious_svmap", "-p", "5060", "-P", "5070", "-t", "0.05", PBX_IP),
               ("sipvicious_svwar", "-p", "5060", "-P", "5071", "-t", "0.05", "-e100-109",
                PBX_IP)),
        expect=Expect(
            registrations=None,
            scanner={"sources": [PEER_IP], "extensions_challenged": ["100", "101"]},
            present=("security",), absent=("nat", "router", "codec", "media")),
        notes="The PBX answers OPTIONS with 200, REGISTER for 100/101 with 401 and for other "
              "extensions with 404: svwar reports 100 and 101 as existing (reqauth).",
    ),
    Scenario(
        name="rtp_port_unreachable",
        description="The PBX host rejects RTP to its media ports (iptables REJECT with ICMP port unreachable, "
                    "as a host firewall or a media server that is not listening does): the phone's audio is "
                    "answered by ICMP errors, the PBX's audio reaches the phone: one-way audio.",
        vantage="operator-edge",
        client=_caller("rtp_port_unreachable", role="phone", ua_ip=ROUTER_WAN_IP,
                       media=Media(packets=UNREACHABLE_PACKETS), talk_ms=3500),
        server=_pbx("rtp_port_unreachable", media=Media(delay_ms=200)),
        rules=(("pbx", "iptables", ("-A", "INPUT", "-p", "udp", "--dport", "7000:7999", "-j", "REJECT",
                                    "--reject-with", "icmp-port-unreachable")),),
        expect=Expect(
            calls=(_call("rtp_port_unreachable", PHONE_USER, "answered", 200, acked=True, bye_from="caller"),),
            rtp=(_flow(WAN_RTP, PBX_RTP, packets=UNREACHABLE_PACKETS), _flow(PBX_RTP, WAN_RTP)),
            icmp={"3/3": 7},
            # media is not judged: both RTP directions are on the wire, only the ICMP errors tell that the
            # phone's audio is refused.
            present=("router",), absent=_absent("router", "media")),
        notes="The PBX's kernel rate-limits its ICMP errors per destination (net.ipv4.icmp_ratelimit 1 s, "
              "burst of 6): 6 errors for the first RTP packets, a 7th a second later, none for the other "
              "68 packets. The phone advertises the router's public address, so no NAT finding applies; "
              "the BYE comes 2 s after the last error (errors closer to it are the normal race).",
    ),
    Scenario(
        name="register_no_response",
        description="The registrar never answers: the PBX host drops SIP from the registering phone "
                    "(iptables on the PBX, an operator ACL). Eleven REGISTERs on the Timer E schedule, then "
                    "Timer F = 64*T1 = 32 s (RFC 3261 §17.1.2.2).",
        vantage="operator-edge",
        # sipp's own cap on UDP retransmissions (-max_retrans) would otherwise end the transaction before
        # the eleventh transmission; Timer F, not sipp, must decide.
        client=replace(_caller("register_no_response", "uac_register_timeout.xml", media=None, user=PEER_USER,
                               expires=300, expect_rc=1), extra=("-max_retrans", "12")),
        rules=(("pbx", "iptables", ("-A", "INPUT", "-s", PEER_IP, "-p", "udp", "--dport", "5060",
                                    "-j", "DROP")),),
        expect=Expect(
            registrations=({"aor": f"sip:{PEER_USER}@{PBX_IP}", "outcome": "unanswered",
                            "final_status": None, "challenges": 0, "requests": 11, "statuses": []},),
            present=("registration",), absent=_absent("registration")),
        slow=True,
    ),
    Scenario(
        name="register_bruteforce",
        description="Password guessing from the Internet: a host tries ten user name/password pairs "
                    "(extensions 100-109, each with its number as password) within a second; every "
                    "REGISTER is challenged (401) and its credentials refused (403).",
        vantage="operator-edge",
        client=replace(
            _caller("register_bruteforce", "uac_register_guess.xml", media=None, expires=3600,
                    user_agent="sdlab-phone/1.0"),
            calls=len(GUESSES), inject=GUESSES, extra=("-au", "[field0]", "-ap", "[field1]")),
        server=_pbx("register_bruteforce", "uas_registrar.xml", media=None, user=PHONE_USER,
                    password=PASSWORD, nonce=NONCE, expires=300, contact_host=f"{PHONE_IP}:5060",
                    calls=len(GUESSES)),
        expect=Expect(
            registrations=tuple({"aor": f"sip:{user}@{PBX_IP}", "outcome": "failed", "final_status": 403,
                                 "challenges": 1, "requests": 2, "statuses": [401, 403]}
                                for user, _ in GUESSES),
            present=("security",), absent=_absent("security")),
        notes="sipp sends the guesses at its default rate of 10 calls a second (one Call-ID each), "
              "User-Agent sdlab-phone/1.0 (no scanner signature). The registrar knows only extension "
              "100 and answers every user alike (401, then 403), as RULES.md recommends; no guess is "
              "right. The guesser's refused sign-ins are the attack's finding, not the customer's "
              "failed registration.",
    ),
    Scenario(
        name="nat_port_churn",
        description="The router's NAT picks a random public port for each new mapping (MASQUERADE --random) "
                    "and forgets an idle UDP mapping after 30 s (Linux conntrack's default for a flow without "
                    "a stream): the phone refreshes its registration after 35 s of silence from the same "
                    "socket, and the refresh reaches the registrar from a new public port.",
        vantage="operator-edge",
        client=_caller("nat_port_churn", "uac_register_refresh.xml", role="phone", media=None,
                       user=PHONE_USER, password=PASSWORD, expires=60, refresh_ms=CHURN_IDLE_MS),
        # Two exchanges (the registration, the refresh): sipp forgets the first after 2 s (-deadcall_wait),
        # so the refresh is a new call answered where it came from.
        server=replace(_pbx("nat_port_churn", "uas_registrar_rport.xml", media=None, user=PHONE_USER,
                            password=PASSWORD, nonce=NONCE, expires=60, contact_host=f"{PHONE_IP}:5060",
                            calls=2), extra=("-deadcall_wait", "2000")),
        rules=(("router", "sysctl", ("net.netfilter.nf_conntrack_udp_timeout=30",)),
               ("router", "iptables", ("-t", "nat", "-I", "POSTROUTING", "1", "-s", LAN_NET, "-o", "wan0",
                                       "-j", "MASQUERADE", "--random"))),
        expect=Expect(
            registrations=({"aor": f"sip:{PHONE_USER}@{PBX_IP}", "outcome": "registered", "final_status": 200,
                            "challenges": 1, "requests": 3, "statuses": [401, 200, 200]},),
            present=("nat", "registration", "router"), absent=_absent("nat", "registration", "router")),
        notes="Each REGISTER exchange lasts well under 2 s, so conntrack keeps the mapping for "
              "nf_conntrack_udp_timeout (30 s), not the 120 s of a stream. The public ports are random: they "
              "differ from run to run. The phone's Via and Contact are private (192.168.1.10:5060); the "
              "registrar answers each request where it came from but, as sipp copies the Via, without "
              "received=/rport= values (RFC 3581 §4): the nat findings are informational.",
        slow=True,
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}
# Rebuilt by the CI lab test: fast, deterministic, and covering NAT, registration and fragments.
CI_SCENARIOS = ("clean_call", "nat_one_way_audio", "register_wrong_password", "fragmented_invite_dropped")
