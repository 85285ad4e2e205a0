"""sipdiag.reports.calltables: the calls and registrations tables and one call's details, rendered at 120 columns
without colour and compared line by line; hostile wire text must come out as inert text."""

from __future__ import annotations

import dataclasses
import io
import re

from rich.console import Console

from sipdiag.model import CallLeg, MediaDescription, Negotiation, Registration
from sipdiag.reports.calltables import (
    call_details,
    calls_table,
    registrations_table,
    shorten,
)
from tests.callfactory import MS, PBX, T0, UA, basic_messages, make_call, message


def make_registration(**changes) -> Registration:
    """Alice registered after one challenge, refreshing every ~590 s; `changes` override fields."""
    registration = Registration(
        aor="sip:alice@atlanta.example.com", contact="sip:alice@192.168.1.10:5060;transport=udp",
        call_id="reg-1@192.168.1.10", source=UA, registrar=PBX, user_agent="Linphone/5.2.0", attempts=3,
        challenges=1, outcome="registered", final_status=200, requested_expires_s=3600, expires_s=600,
        refresh_interval_s=590.4, deregistration=False, first_frame=1, last_frame=9, start_ns=T0, transactions=())
    return dataclasses.replace(registration, **changes)


def render(renderable, *, width: int = 120, colour: bool = False) -> str:
    console = Console(file=io.StringIO(), width=width, color_system="standard" if colour else None,
                      force_terminal=colour)
    console.print(renderable)
    return console.file.getvalue()


def lines(renderable, *, width: int = 120) -> list[str]:
    """The rendering's lines without the padding rich adds to fill the width."""
    return [line.rstrip() for line in render(renderable, width=width).splitlines()]


def text(renderable, *, width: int = 120) -> str:
    """The rendering without the padding rich adds to fill the width."""
    return "".join(line + "\n" for line in lines(renderable, width=width))


ANSWERED = make_call(basic_messages(), user_agents=("Linphone/5.2.0 (belle-sip/5.2.0)", "Asterisk PBX 20.5.0"))
BUSY = make_call(call_id="1-2871@10.0.0.5", caller="carol@example.com", callee="dave@example.com",
                 start_ns=T0 + 65_250 * MS, outcome="busy", final_status=486, final_reason="Busy Here",
                 setup_ms=300.4, answer_ms=None, duration_s=None, ended_by=None, bye_frame=None, transport="tcp")


# -------------------------------------------------------------------------------------------------- calls_table

def test_calls_table():
    assert text(calls_table([ANSWERED, BUSY])) == """\
Calls (2), 2023-11-14 UTC

                                                                       setup  answer  duration
 #  Call-ID     caller        callee        start     outcome   final     ms      ms         s  transport  user agent
 ──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────
 1  a84b4c76e…  alice@atlant  bob@biloxi.e  22:13:20  answered    200    120    2300      42.7  udp        Linphone/5.2
                a.example.co  xample.com                                                                   .0 (bel…
                m                                                                                          (+1)
 2  1-2871@10…  carol@exampl  dave@example  22:14:25  busy        486    300       -         -  tcp        -
                e.com         .com

"""


def test_calls_over_several_days_show_the_date_and_the_title_names_the_span():
    in_progress = make_call(call_id="x", outcome="in-progress", final_status=None, setup_ms=None, answer_ms=None,
                            duration_s=None, start_ns=T0 + 86_400_000 * MS)
    out = lines(calls_table([ANSWERED, in_progress]), width=160)
    assert out[0] == "Calls (2), 2023-11-14 .. 2023-11-15 UTC"
    assert out[5] == (" 1  a84b4c76e…  alice@atlanta.example.  bob@biloxi.example.com  11-14 22:13:20  answered     "
                      "  200    120    2300      42.7  udp        Linphone/5.2.0 (bel…")
    assert out[7] == (" 2  x           alice@atlanta.example.  bob@biloxi.example.com  11-15 22:13:20  in-progress  "
                      "    -      -       -         -  udp        -")


def test_no_calls():
    assert lines(calls_table([]))[:4] == [
        "Calls (0)",
        "",
        "                                                    setup  answer  duration",
        " #  Call-ID  caller  callee  start  outcome  final     ms      ms         s  transport  user agent",
    ]


def test_a_narrow_terminal_keeps_every_column():
    # Rich narrows the foldable columns to a few cells; the numbers keep their digits, nothing is dropped.
    out = lines(calls_table([ANSWERED, BUSY]), width=80)
    assert out[2:8] == [
        "                                                                   tran",
        "    Call  call  call  star  outco         setup  answer  duration  spor  user",
        " #  -ID   er    ee    t     me     final     ms      ms         s  t     agent",
        " " + "─" * 78,
        " 1  a84b  alic  bob@  22:1  answe    200    120    2300      42.7  udp   Linpho",
        "    4c76  e@at  bilo  3:20  red                                          ne/5.2",
    ]


def test_outcomes_are_coloured():
    calls = [make_call(outcome=o, call_id=o) for o in ("answered", "busy", "rejected", "in-progress")]
    out = render(calls_table(calls), colour=True)
    assert "\x1b[32manswered\x1b[0m" in out
    assert "\x1b[33mbusy\x1b[0m" in out
    assert "\x1b[31mrejected\x1b[0m" in out
    assert "\x1b[36min-progress\x1b[0m" in out


HOSTILE = make_call(basic_messages()[:1], call_id="[bold]x\x1b[31m", caller="[link=http://evil]a[/link]@x",
                    caller_display="[red]Boss\x07", user_agents=("UA [blink]\x1b]0;title\x07",),
                    final_reason="OK[/]", end_reason="\u202eevil")


def test_wire_text_in_the_calls_table_is_inert():
    out = lines(calls_table([HOSTILE]))
    assert [line[:31].rstrip() for line in out[5:8]] == [
        " 1  [bold]x\\x…  [link=http:/  b",
        "                /evil]a[/lin  e",
        "                k]@x",
    ]
    assert [line[106:] for line in out[5:8]] == ["UA", "[blink]\\x1b]0", ";ti…"]
    coloured = render(calls_table([HOSTILE]), colour=True)
    # Only our own styles: bold headers, italic title, green outcome; no red, blink, link or title-setting OSC.
    assert set(re.findall(r"\x1b\[[0-9;]*m", coloured)) == {"\x1b[0m", "\x1b[1m", "\x1b[3m", "\x1b[32m"}
    assert "\x1b]" not in coloured and "\x07" not in coloured


def test_wire_text_in_the_details_is_inert():
    out = lines(call_details(HOSTILE))
    assert out[:8] == [
        "Call [bold]x\\x1b[31m",
        'From         "[red]Boss\\x07" <[link=http://evil]a[/link]@x> at 192.168.1.10:5060',
        "To           bob@biloxi.example.com at 203.0.113.5:5060",
        "Start        2023-11-14 22:13:20.000 UTC, frame 1, over udp",
        "Outcome      answered, final 200 OK[/]",
        "Timings      setup 120 ms, answer 2300 ms, duration 42.7 s",
        "Ended        BYE from the caller, frame 7, reason \\u202eevil",
        "User agents  UA [blink]\\x1b]0;title\\x07",
    ]
    coloured = render(call_details(HOSTILE), colour=True)
    assert set(re.findall(r"\x1b\[[0-9;]*m", coloured)) == {"\x1b[0m", "\x1b[1m", "\x1b[32m"}
    assert "\x1b]" not in coloured and "\x07" not in coloured and "\u202e" not in coloured


def test_shorten_counts_cells_and_marks_the_cut():
    assert shorten("short", 10) == "short"
    assert shorten("a84b4c76e66710@pc33", 10) == "a84b4c76e…"
    assert shorten("試験試験試験", 7) == "試験試…"
    assert shorten("\x1b[31mred", 10) == "\\x1b[31mr…"


# ------------------------------------------------------------------------------------------ registrations_table

def test_registrations_table():
    registrations = [
        make_registration(),
        make_registration(aor="sip:bob@biloxi.example.com", contact="*", source="10.0.0.7:5062", outcome="failed",
                          final_status=403, attempts=2, challenges=2, expires_s=None, refresh_interval_s=None),
        make_registration(aor="sip:carol@example.com", contact="sip:carol@10.0.0.8", outcome="unanswered",
                          final_status=None, attempts=7, challenges=0, expires_s=None, refresh_interval_s=None),
        make_registration(expires_s=0, deregistration=True, refresh_interval_s=None),
    ]
    assert text(registrations_table(registrations)) == """\
Registrations (4)

                                                                                                       expires  refresh
 AOR              contact           source             outcome            final  attempts  challenges        s        s
 ──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────
 sip:alice@atlan  sip:alice@192.16  192.168.1.10:5060  registered           200         3           1      600      590
 ta.example.com   8.1.10:5060;tran
                  sport=udp
 sip:bob@biloxi.  *                 10.0.0.7:5062      failed               403         2           2        -        -
 example.com
 sip:carol@examp  sip:carol@10.0.0  192.168.1.10:5060  unanswered             -         7           0        -        -
 le.com           .8
 sip:alice@atlan  sip:alice@192.16  192.168.1.10:5060  registered           200         3           1        0        -
 ta.example.com   8.1.10:5060;tran                     (de-registration)
                  sport=udp

"""


def test_registration_outcomes_are_coloured_and_wire_text_is_inert():
    registrations = [make_registration(aor="[bold]sip:x\x1b[2J", outcome="failed", contact="[/]")]
    out = lines(registrations_table(registrations))
    assert out[5].startswith(" [bold]sip:x\\x1b[2J  [/]      192.168.1.10:5060  failed")
    coloured = render(registrations_table(registrations), colour=True)
    assert "\x1b[31mfailed\x1b[0m" in coloured
    assert "\x1b[2J" not in coloured


# ------------------------------------------------------------------------------------------------- call_details

OFFER = MediaDescription(media="audio", address="192.168.1.10", port=4000, proto="RTP/AVP", payload_types=(0, 8, 101),
                         codecs=("PCMU/8000", "PCMA/8000", "telephone-event/8000"), direction="sendrecv",
                         ptime_ms=20, rtcp_mux=False, srtp=False, telephone_event=101)
ANSWER = MediaDescription(media="audio", address="203.0.113.5", port=30000, proto="RTP/AVP", payload_types=(0, 101),
                          codecs=("PCMU/8000", "telephone-event/8000"), direction="sendrecv", ptime_ms=20,
                          rtcp_mux=False, srtp=False, telephone_event=101)
VIDEO = MediaDescription(media="video", address=None, port=0, proto="RTP/AVP", payload_types=(96,),
                         codecs=("H264/90000",), direction="sendrecv", ptime_ms=None, rtcp_mux=False, srtp=False,
                         telephone_event=None)
HOLD = MediaDescription(media="audio", address="2001:db8::10", port=4000, proto="RTP/SAVP", payload_types=(0,),
                        codecs=("PCMU/8000",), direction="sendonly", ptime_ms=None, rtcp_mux=True, srtp=True,
                        telephone_event=None)


def test_call_details_of_an_answered_call():
    call = make_call(
        basic_messages(), caller_display="Alice", user_agents=ANSWERED.user_agents,
        end_reason='Q.850;cause=16;text="Normal call clearing"', auth_challenges=1, reinvites=1, prack=True,
        refer_to=("sip:carol@example.com",), legs=(CallLeg(call_id="b2b-7f3a@pbx", rule="header X-CID"),),
        negotiations=(
            Negotiation(kind="initial", offer_frame=1, offerer="caller", offer=(OFFER, VIDEO), answer_frame=4,
                        answer=(ANSWER,), status=200, hold=False),
            Negotiation(kind="re-invite", offer_frame=9, offerer="caller", offer=(HOLD,), answer_frame=None,
                        answer=None, status=None, hold=True),
        ))
    assert text(call_details(call)) == """\
Call a84b4c76e66710@pc33.atlanta.example.com
From             "Alice" <alice@atlanta.example.com> at 192.168.1.10:5060
To               bob@biloxi.example.com at 203.0.113.5:5060
Start            2023-11-14 22:13:20.000 UTC, frame 1, over udp
Outcome          answered, final 200 OK
Timings          setup 120 ms, answer 2300 ms, duration 42.7 s
Ended            BYE from the caller, frame 7, reason Q.850;cause=16;text="Normal call clearing"
User agents      Linphone/5.2.0 (belle-sip/5.2.0)
                 Asterisk PBX 20.5.0
Auth challenges  1
In dialog        1 re-INVITE(s), reliable provisional responses (PRACK)
Transferred to   sip:carol@example.com
Legs             b2b-7f3a@pbx (header X-CID)
Offer/answer

 kind              offer            answer   status  offered media                    answered media
 ──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────
 initial           frame 1, caller  frame 4     200  audio 192.168.1.10:4000 RTP/AVP  audio 203.0.113.5:30000 RTP/AVP
                                                     PCMU/8000, PCMA/8000,            PCMU/8000, telephone-event/8000
                                                     telephone-event/8000 sendrecv    sendrecv ptime 20 DTMF 101
                                                     ptime 20 DTMF 101
                                                     video -:0 RTP/AVP H264/90000
                                                     sendrecv (rejected)
 re-invite (hold)  frame 9, caller  none          -  audio [2001:db8::10]:4000        -
                                                     RTP/SAVP PCMU/8000 sendonly
                                                     rtcp-mux SRTP

frame     time  192.168.1.10:5060   203.0.113.5:5060
    1   +0.000          │───INVITE +SDP───▶│
    2   +0.010          │◀────100 Trying───│
    3   +0.120          │◀───180 Ringing───│
    4   +2.300          │◀───200 OK +SDP───│
    5   +2.800          │◀╌╌╌200 OK +SDP╌╌╌│          retransmission
    6   +2.810          │───────ACK───────▶│
    7  +45.000          │───────BYE───────▶│
    8  +45.020          │◀───200 OK (BYE)──│
"""


def test_an_answer_whose_offer_is_not_captured_has_no_offer_frame():
    call = make_call(basic_messages(), negotiations=(
        Negotiation(kind="re-invite", offer_frame=None, offerer="caller", offer=(), answer_frame=4,
                    answer=(ANSWER,), status=200, hold=False),))
    shown = lines(call_details(call))
    start = shown.index("Offer/answer")
    assert shown[start + 4].split() == ["re-invite", "not", "captured,", "caller", "frame", "4", "200", "-", "audio",
                                        "203.0.113.5:30000", "RTP/AVP", "PCMU/8000,"]


def test_call_details_of_a_rejected_call_seen_from_its_middle():
    msgs = (message(1, 0, UA, PBX, "INVITE", sdp=True), message(2, 300, PBX, UA, status=486, reason="Busy Here"),
            message(3, 305, UA, PBX, "ACK"))
    call = make_call(msgs, outcome="rejected", final_status=486, final_reason="Busy Here", setup_ms=None,
                     answer_ms=None, duration_s=None, ended_by=None, bye_frame=None, seen_from_start=False)
    assert text(call_details(call)) == """\
Call a84b4c76e66710@pc33.atlanta.example.com
From     alice@atlanta.example.com at 192.168.1.10:5060
To       bob@biloxi.example.com at 203.0.113.5:5060
Start    2023-11-14 22:13:20.000 UTC, frame 1, over udp
Outcome  rejected, final 486 Busy Here
Timings  setup - ms, answer - ms, duration - s
Ended    no BYE or CANCEL seen
Note     the capture began inside this call: its INVITE was not captured

frame    time  192.168.1.10:5060   203.0.113.5:5060
    1  +0.000          │───INVITE +SDP───▶│
    2  +0.300          │◀──486 Busy Here──│
    3  +0.305          │───────ACK───────▶│
"""
    assert "\x1b[31m◀──486 Busy Here──\x1b[0m" in render(call_details(call), colour=True)


def test_call_details_of_a_cancelled_call():
    call = make_call(outcome="cancelled", final_status=487, final_reason="Request Terminated", bye_frame=None,
                     cancelled_frame=4, ended_by="caller", answer_ms=None, duration_s=None)
    assert lines(call_details(call))[4:7] == [
        "Outcome  cancelled, final 487 Request Terminated",
        "Timings  setup 120 ms, answer - ms, duration - s",
        "Ended    CANCEL from the caller, frame 4",
    ]
