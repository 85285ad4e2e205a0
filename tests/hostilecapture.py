"""A capture whose header values attack every output: HTML/SVG injection, terminal control sequences, rich markup.

Call 1 is answered with two-way RTP; its Call-ID, From display name, User-Agent and Contact carry the payloads
(the User-Agent also names a scanner, so a finding's texts carry it too). Call 2 is refused with a hostile reason
phrase (a finding quotes it). A REGISTER with hostile AOR and User-Agent fills the registrations table.
"""

from __future__ import annotations

from pathlib import Path

from tests import pcapwriter as pw

SCRIPT = "<script>alert(1)</script>"
ESC_SGR = "\x1b[31m"  # ESC [ ... m: colours the rest of the terminal red
CLEAR = "\x1b[2J"  # clears the screen
OSC8 = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # a hidden hyperlink (OSC 8, ST-terminated)
OSC_TITLE = "\x1b]0;owned\x07"  # sets the window title (BEL-terminated)
RLO = "\u202e"  # right-to-left override (Trojan Source)
RICH = "[bold red]markup[/] [link=http://evil.example]x[/link] :thumbs_up:"

CALL_ID = f"h1-{SCRIPT}-\"q\"-'a'-</svg>-{ESC_SGR}-{RLO}-:smile:@evil"
DISPLAY = f"{SCRIPT} </svg> 'a' {ESC_SGR}red{RLO}gnp.exe [bold]boss[/bold]"
USER_AGENT = f"friendly-scanner {SCRIPT} </svg> \"q\" 'a' & &amp; {CLEAR}{OSC8}{OSC_TITLE} {RLO}txt.exe {RICH}"
CONTACT = f"<sip:100@192.168.1.10:5060>;+sip.instance=\"{SCRIPT}\""
REASON = f"Forbidden {SCRIPT} </svg> {ESC_SGR}{RLO} [red]x[/red] :fire:"
AOR_USER = f"evil{SCRIPT}"

# Every control or bidi character the payloads hold: none may reach any output as itself.
UNSAFE_CHARACTERS = ("\x1b", "\x07", "\u202e", "\x9b")

UA, PBX = ("198.51.100.7", 5060), ("203.0.113.5", 5060)
UA_RTP, PBX_RTP = 40000, 50000
SDP = "v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
# The answer's codec is a dynamic payload type whose rtpmap encoding name is hostile: stream tables print it.
CODEC = f"<b>x<i>[bold]y:fire:{ESC_SGR}{RLO}"  # no "/": it ends the encoding name
ANSWER_SDP = ("v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP 96\n"
              "a=rtpmap:96 " + CODEC.replace("{", "{{").replace("}", "}}") + "/8000\n")


def _message(start: str, call_id: str, cseq: str, *, to_tag: bool, body: str = "", branch: str,
             display: str = DISPLAY, user_agent: str = USER_AGENT, from_user: str = "100") -> str:
    body = body.replace("\n", "\r\n")
    escaped_display = display.replace("\\", "\\\\").replace('"', '\\"')  # a quoted-string (RFC 3261 §25.1)
    return (f"{start}\nVia: SIP/2.0/UDP {UA[0]}:5060;branch=z9hG4bK{branch}\nMax-Forwards: 70\n"
            f"From: \"{escaped_display}\" <sip:{from_user}@example.com>;tag=f1\n"
            f"To: <sip:200@example.com>{';tag=t1' if to_tag else ''}\n"
            f"Call-ID: {call_id}\nCSeq: {cseq}\nContact: {CONTACT}\nUser-Agent: {user_agent}\n"
            + ("Content-Type: application/sdp\n" if body else "") + f"Content-Length: {len(body.encode())}\n\n{body}")


def _frame(text: str, src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    return pw.sip_udp_frame(text, src=src[0], dst=dst[0], sport=src[1], dport=dst[1])


def _rtp(src: tuple[str, int], dst: tuple[str, int], seq: int, ssrc: int, pt: int = 0) -> bytes:
    return pw.link_frame(pw.ipv4(src[0], dst[0], 17, pw.udp(src[1], dst[1],
                                                            pw.rtp_packet(seq, seq * 160, ssrc, pt=pt))))


def hostile_capture(path: Path) -> Path:
    """Write the capture (see the module docstring) to `path`: 2 calls, 1 registration, 2 RTP streams."""
    t = 1_700_000_000 * 10**9
    ms = 10**6
    invite = _message("INVITE sip:200@example.com SIP/2.0", CALL_ID, "1 INVITE", to_tag=False, branch="h1",
                      body=SDP.format(ip=UA[0], port=UA_RTP))
    ok = _message("SIP/2.0 200 OK", CALL_ID, "1 INVITE", to_tag=True, branch="h1",
                  body=ANSWER_SDP.format(ip=PBX[0], port=PBX_RTP))
    recs = [(t, _frame(invite, UA, PBX)), (t + 300 * ms, _frame(ok, PBX, UA)),
            (t + 310 * ms, _frame(_message("ACK sip:200@example.com SIP/2.0", CALL_ID, "1 ACK", to_tag=True,
                                           branch="h2"), UA, PBX))]
    start = t + 320 * ms
    for i in range(150):  # 3 s of 20 ms PCMU both ways; every 10th packet of the caller's stream lost
        at = start + i * 20 * ms
        if i % 10 != 5:  # and the caller's packets arrive 0-6 ms late (jitter)
            recs.append((at + (i % 4) * 2 * ms, _rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 1000 + i, 0x1111)))
        recs.append((at + 5 * ms, _rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 5000 + i, 0x2222, pt=96)))
    end = start + 150 * 20 * ms + 100 * ms
    recs += [(end, _frame(_message("BYE sip:200@example.com SIP/2.0", CALL_ID, "2 BYE", to_tag=True, branch="h3"),
                          UA, PBX)),
             (end + 10 * ms, _frame(_message("SIP/2.0 200 OK", CALL_ID, "2 BYE", to_tag=True, branch="h3"),
                                    PBX, UA))]
    # Call 2: refused with a hostile reason phrase.
    t2 = end + 1000 * ms
    recs += [(t2, _frame(_message("INVITE sip:200@example.com SIP/2.0", "h2-refused", "1 INVITE", to_tag=False,
                                  branch="h4"), UA, PBX)),
             (t2 + 20 * ms, _frame(_message(f"SIP/2.0 403 {REASON}", "h2-refused", "1 INVITE", to_tag=True,
                                            branch="h4"), PBX, UA)),
             (t2 + 30 * ms, _frame(_message("ACK sip:200@example.com SIP/2.0", "h2-refused", "1 ACK", to_tag=True,
                                            branch="h4"), UA, PBX))]
    # A registration with a hostile AOR.
    t3 = t2 + 1000 * ms
    register = (f"REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP {UA[0]}:5060;branch=z9hG4bKr1\n"
                f"Max-Forwards: 70\nFrom: <sip:{AOR_USER}@example.com>;tag=r1\nTo: <sip:{AOR_USER}@example.com>\n"
                f"Call-ID: reg-h1\nCSeq: 1 REGISTER\nContact: {CONTACT}\nUser-Agent: {USER_AGENT}\nExpires: 300\n"
                f"Content-Length: 0\n\n")
    registered = register.replace("REGISTER sip:example.com SIP/2.0", "SIP/2.0 200 OK").replace(
        "To: <sip:" + AOR_USER + "@example.com>", "To: <sip:" + AOR_USER + "@example.com>;tag=rr")
    recs += [(t3, _frame(register, UA, PBX)), (t3 + 20 * ms, _frame(registered, PBX, UA))]
    recs.sort(key=lambda r: r[0])
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


# A Call-ID and a To tag mangled as heplify's erspan capture shows them (control bytes where a token or word is due,
# RFC 3261 §25.1): sip.control-in-identifier. ESC [ 2 J would clear a terminal, 0x18 0x01 are the erspan bytes.
MANGLED_CALL_ID = "mangled-\x18\x01\x1b[2J-1@pbx"
MANGLED_TAG = "t9\x18\x01"
# A Call-ID holding no control character but line and paragraph separators (rich breaks a table cell at them, a
# forged row) and zero-width characters (the Call-ID would look like another one).
SEPARATED_CALL_ID = "sep-\u2028FORGED\u2029-\u200b\u200d\u2060\ufeff-1@pbx"


def mangled_identifiers_capture(path: Path, *, call_id: str = MANGLED_CALL_ID, tag: str = MANGLED_TAG) -> Path:
    """INVITE (frame 1), 200 (2), ACK (3), BYE (4), 200 (5) of one call with `call_id` (MANGLED_CALL_ID); the
    callee's To tag is `tag` (MANGLED_TAG, frames 2-5)."""
    ms = 10**6
    t = 1_700_000_000 * 10**9

    def message(start: str, cseq: str, branch: str, *, to_tag: bool) -> str:
        return (f"{start}\nVia: SIP/2.0/UDP {UA[0]}:5060;branch=z9hG4bK{branch}\nMax-Forwards: 70\n"
                f"From: <sip:100@example.com>;tag=f1\nTo: <sip:200@example.com>{';tag=' + tag if to_tag else ''}"
                f"\nCall-ID: {call_id}\nCSeq: {cseq}\nContent-Length: 0\n\n")

    flow = [("INVITE sip:200@example.com SIP/2.0", "1 INVITE", "m1", False, UA, PBX),
            ("SIP/2.0 200 OK", "1 INVITE", "m1", True, PBX, UA),
            ("ACK sip:200@example.com SIP/2.0", "1 ACK", "m2", True, UA, PBX),
            ("BYE sip:200@example.com SIP/2.0", "2 BYE", "m3", True, UA, PBX),
            ("SIP/2.0 200 OK", "2 BYE", "m3", True, PBX, UA)]
    recs = [(t + i * 100 * ms, _frame(message(start, cseq, branch, to_tag=to_tag), src, dst))
            for i, (start, cseq, branch, to_tag, src, dst) in enumerate(flow)]
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path
