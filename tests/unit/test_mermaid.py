"""sipdiag.reports.mermaid: whole sequenceDiagram texts, and wire text that tries to break out of Mermaid."""

from __future__ import annotations

import pytest

from sipdiag.reports.mermaid import mermaid_text, render_mermaid
from tests.callfactory import PBX, UA, basic_messages, make_call, message

BASIC = """\
sequenceDiagram
    title Call a84b4c76e66710@pc33.atlanta.example.com
    participant H1 as 192.168.1.10:5060
    participant H2 as 203.0.113.5:5060
    H1->>H2: INVITE +SDP (+0.000 s, frame 1)
    H2->>H1: 100 Trying (+0.010 s, frame 2)
    H2->>H1: 180 Ringing (+0.120 s, frame 3)
    H2->>H1: 200 OK +SDP (+2.300 s, frame 4)
    H2-->>H1: 200 OK +SDP (retransmission, +2.800 s, frame 5)
    H1->>H2: ACK (+2.810 s, frame 6)
    H1->>H2: BYE (+45.000 s, frame 7)
    H2->>H1: 200 OK (BYE) (+45.020 s, frame 8)
"""


def test_call_diagram():
    assert render_mermaid(make_call(basic_messages())) == BASIC


def test_bare_messages_have_no_title_and_a_given_title_wins():
    msgs = basic_messages()[:2]
    assert render_mermaid(msgs) == """\
sequenceDiagram
    participant H1 as 192.168.1.10:5060
    participant H2 as 203.0.113.5:5060
    H1->>H2: INVITE +SDP (+0.000 s, frame 1)
    H2->>H1: 100 Trying (+0.010 s, frame 2)
"""
    assert render_mermaid(make_call(msgs), title="Ticket 4711").splitlines()[1] == "    title Ticket 4711"


def test_the_caller_is_the_first_participant_even_when_the_capture_began_inside_the_call():
    msgs = (message(10, 0, PBX, UA, status=200, reason="OK", sdp=True, retransmission=True),
            message(11, 5, UA, PBX, "ACK"))
    assert render_mermaid(make_call(msgs, seen_from_start=False), title="") == """\
sequenceDiagram
    participant H1 as 192.168.1.10:5060
    participant H2 as 203.0.113.5:5060
    H2-->>H1: 200 OK +SDP (retransmission, +0.000 s, frame 10)
    H1->>H2: ACK (+0.005 s, frame 11)
"""


def test_many_hosts_ipv6_and_a_message_to_itself():
    b2bua, v6a, v6b = "10.0.0.1:5060", "[2001:db8::1]:5060", "[2001:db8::2]:5060"
    msgs = (message(1, 0, v6a, b2bua, "INVITE"), message(2, 1, b2bua, b2bua, "OPTIONS"),
            message(3, 2, b2bua, v6b, "INVITE"))
    assert render_mermaid(msgs) == """\
sequenceDiagram
    participant H1 as [2001:db8::1]:5060
    participant H2 as 10.0.0.1:5060
    participant H3 as [2001:db8::2]:5060
    H1->>H2: INVITE (+0.000 s, frame 1)
    H2->>H2: OPTIONS (+0.001 s, frame 2)
    H2->>H3: INVITE (+0.002 s, frame 3)
"""


def test_no_messages():
    assert render_mermaid(()) == "sequenceDiagram\n"


def test_hostile_reason_phrase_and_call_id_stay_text():
    hostile = 'a;b#c "q" <script>alert(1)</script> 50%% & more\r\nX\x1b[31m\u202eevil\x00'
    msgs = (message(1, 0, UA, PBX, "INVITE"), message(2, 5, PBX, UA, status=603, reason=hostile))
    text = render_mermaid(make_call(msgs, call_id="x;y#z\n%%{init: {'theme': 'dark'}}%%"))
    assert text == """\
sequenceDiagram
    title Call x#59;y#35;z #37;#37;{init: {'theme': 'dark'}}#37;#37;
    participant H1 as 192.168.1.10:5060
    participant H2 as 203.0.113.5:5060
    H1->>H2: INVITE (+0.000 s, frame 1)
    H2->>H1: 603 a#59;b#35;c #quot;q#quot; #lt;script#gt;alert(1)#lt;/script#gt; 50#37;#37; #amp; more X[31mevil \
(+0.005 s, frame 2)
"""
    # One statement per line: nothing from the wire started a line of its own.
    assert len(text.splitlines()) == 6


@pytest.mark.parametrize(("wire", "escaped"), [
    (";", "#59;"),
    ("#", "#35;"),
    ('"', "#quot;"),
    ("<br/>", "#lt;br/#gt;"),
    ("&amp;", "#amp;amp#59;"),
    ("%%", "#37;#37;"),
    ("#9829;", "#35;9829#59;"),  # an entity code from the wire is shown as written, not decoded
    ("line\nbreak\r\n\tand  tabs", "line break and tabs"),
    ("nul\x00 esc\x1b del\x7f c1\x85x", "nul esc del c1 x"),
    ("bidi\u202eoverride\u2066", "bidioverride"),
    ("marks\u061c\u200eA\u200fL\u200eR", "marksALR"),  # ALM, LRM, RLM move neutral characters (Trojan Source)
    ("wrap:text", "wrap#58;text"),  # Mermaid would take `wrap:` as a layout directive and drop it
    (":nowrap:text", ":nowrap#58;text"),
    ("NoWrap:text", "NoWrap#58;text"),
    ("a wrap: b", "a wrap: b"),
    ("end", "end"),
    ("INVITE->>B: x", "INVITE-#gt;#gt;B: x"),
])
def test_mermaid_text(wire: str, escaped: str):
    assert mermaid_text(wire) == escaped
