"""sipdiag.reports.ladder: host columns, the exact plain-text ladder (natural, squeezed, many hosts, hostile labels)
and the rich rendering of the same layout."""

from __future__ import annotations

import io

from rich.console import Console

from tests.callfactory import BASIC_LADDER, PBX, UA, basic_messages, message
from sipdiag.model import MessageRef
from sipdiag.reports.ladder import ladder_hosts, render_ladder_rich, render_ladder_text




def basic_call() -> list[MessageRef]:
    return list(basic_messages())




# ------------------------------------------------------------------------------------------------- ladder_hosts

def test_hosts_in_order_of_first_appearance():
    msgs = [message(1, 0, UA, PBX, "INVITE"), message(2, 1, PBX, "198.51.100.7:5060", "INVITE"),
            message(3, 2, "198.51.100.7:5060", PBX, status=180, reason="Ringing")]
    assert ladder_hosts(msgs) == [UA, PBX, "198.51.100.7:5060"]


def test_hosts_put_the_caller_first_when_the_capture_began_inside_the_call():
    msgs = [message(1, 0, PBX, UA, status=200, reason="OK"), message(2, 1, UA, PBX, "ACK")]
    assert ladder_hosts(msgs) == [PBX, UA]
    assert ladder_hosts(msgs, first=UA) == [UA, PBX]


def test_hosts_ignore_a_first_host_that_sent_and_received_nothing():
    assert ladder_hosts([message(1, 0, PBX, UA, "BYE")], first="10.9.9.9:5060") == [PBX, UA]


def test_ipv6_hosts_are_bracketed():
    msgs = [message(1, 0, "[2001:db8::1]:5060", "[2001:db8::2]:5080", "MESSAGE")]
    assert ladder_hosts(msgs) == ["[2001:db8::1]:5060", "[2001:db8::2]:5080"]
    assert render_ladder_text(msgs) == (
        "frame    time  [2001:db8::1]:5060  [2001:db8::2]:5080\n"
        "    1  +0.000          │─────MESSAGE──────▶│\n"
    )


# ------------------------------------------------------------------------------------------- render_ladder_text

def test_basic_call_ladder():
    assert render_ladder_text(basic_call()) == BASIC_LADDER


def test_a_width_that_fits_changes_nothing():
    assert render_ladder_text(basic_call(), width=120) == BASIC_LADDER


def test_no_messages_no_ladder():
    assert render_ladder_text([]) == ""


def test_narrow_width_uses_aliases_and_a_legend():
    assert render_ladder_text(basic_call(), width=60) == """\
H1  192.168.1.10:5060
H2  203.0.113.5:5060
frame     time  H1                H2
    1   +0.000  │──INVITE +SDP───▶│
    2   +0.010  │◀───100 Trying───│
    3   +0.120  │◀───180 Ringing──│
    4   +2.300  │◀───200 OK +SDP──│
    5   +2.800  │◀╌╌╌200 OK +SDP╌╌│   retransmission
    6   +2.810  │──────ACK───────▶│
    7  +45.000  │──────BYE───────▶│
    8  +45.020  │◀──200 OK (BYE)──│
"""


def test_labels_wrap_at_spaces_when_the_columns_are_at_their_narrowest():
    assert render_ladder_text(basic_call(), width=40) == """\
H1  192.168.1.10:5060
H2  203.0.113.5:5060
frame     time  H1        H2
    1   +0.000  │─INVITE─▶│
                │  +SDP   │
    2   +0.010  │◀───100──│
                │  Trying │
    3   +0.120  │◀───180──│
                │  Ringing│
    4   +2.300  │◀─200 OK─│
                │   +SDP  │
    5   +2.800  │◀╌200 OK╌│   retransmission
                │   +SDP  │
    6   +2.810  │──ACK───▶│
    7  +45.000  │──BYE───▶│
    8  +45.020  │◀─200 OK─│
                │   (BYE) │
"""


def many_hosts(n: int) -> list[MessageRef]:
    """An INVITE passed along a chain of `n` proxies, refused by the last, and the refusal relayed to the first."""
    hosts = [f"10.0.0.{i}:5060" for i in range(1, n + 1)]
    msgs = [message(i + 1, i * 5, hosts[i], hosts[i + 1], "INVITE") for i in range(n - 1)]
    msgs.append(message(n, (n - 1) * 5 + 5, hosts[-1], hosts[-2], status=486, reason="Busy Here"))
    msgs.append(message(n + 1, (n - 1) * 5 + 15, hosts[-2], hosts[0], status=486, reason="Busy Here"))
    return msgs


def test_eight_hosts_fit_100_columns():
    text = render_ladder_text(many_hosts(8), width=100)
    assert text == """\
H1  10.0.0.1:5060
H2  10.0.0.2:5060
H3  10.0.0.3:5060
H4  10.0.0.4:5060
H5  10.0.0.5:5060
H6  10.0.0.6:5060
H7  10.0.0.7:5060
H8  10.0.0.8:5060
frame    time  H1         H2         H3         H4         H5         H6         H7         H8
    1  +0.000  │─INVITE──▶│          │          │          │          │          │          │
    2  +0.005  │          │─INVITE──▶│          │          │          │          │          │
    3  +0.010  │          │          │─INVITE──▶│          │          │          │          │
    4  +0.015  │          │          │          │─INVITE──▶│          │          │          │
    5  +0.020  │          │          │          │          │─INVITE──▶│          │          │
    6  +0.025  │          │          │          │          │          │─INVITE──▶│          │
    7  +0.030  │          │          │          │          │          │          │─INVITE──▶│
    8  +0.040  │          │          │          │          │          │          │◀─486 Busy│
               │          │          │          │          │          │          │    Here  │
    9  +0.050  │◀──────────────────────────486 Busy Here─────────────────────────│          │
"""
    assert max(len(line) for line in text.splitlines()) <= 100


def test_twelve_hosts_keep_readable_columns_even_past_the_width():
    # At the narrowest columns (MIN_GAP = 10) twelve hosts need 126 cells: wider than asked, but still readable.
    lines = render_ladder_text(many_hosts(12), width=80).splitlines()
    assert lines[0] == "H1   10.0.0.1:5060"
    assert lines[11] == "H12  10.0.0.12:5060"
    assert lines[12] == ("frame    time  H1        H2        H3        H4        H5        H6        H7        H8"
                         "        H9       H10       H11       H12")
    assert lines[13] == ("    1  +0.000  │─INVITE─▶│         │         │         │         │         │         │"
                         "         │         │         │         │")
    assert [line[115:] for line in lines[24:27]] == [
        "│◀───486──│",
        "│   Busy  │",
        "│   Here  │",
    ]
    assert lines[27] == ("   13  +0.070  │◀───────────────────────────────────────────486 Busy Here─────────────"
                         "─────────────────────────────│         │")
    # Every lifeline stays in its column on every row.
    for line in lines[13:24]:
        assert [i for i, ch in enumerate(line) if ch == "│"] == [15 + 10 * i for i in range(12)]


def test_a_message_to_itself_loops_on_its_lifeline():
    msgs = [message(1, 0, UA, UA, "OPTIONS"), message(2, 3, UA, PBX, "INVITE")]
    assert render_ladder_text(msgs) == (
        "frame    time  192.168.1.10:5060   203.0.113.5:5060\n"
        "    1  +0.000          │ ↻ OPTIONS        │\n"
        "    2  +0.003          │─────INVITE──────▶│\n"
    )


def test_hostile_and_wide_labels_are_shown_escaped_and_keep_the_columns_aligned():
    msgs = [message(1, 0, UA, PBX, "OPTIONS"),
            message(2, 3, PBX, UA, status=503, reason="Service Unavailable\x1b[2J;\n 試験 ok")]
    text = render_ladder_text(msgs)
    assert "\x1b" not in text
    assert text == (
        "frame    time  192.168.1.10:5060                                 203.0.113.5:5060\n"
        "    1  +0.000          │────────────────────OPTIONS────────────────────▶│\n"
        "    2  +0.003          │◀──503 Service Unavailable\\x1b[2J;\\x0a 試験 ok──│\n"
    )


# The first lines of a 40-column ladder of an INVITE refused with 486, before the reason phrase's lines.
REFUSED_40 = """\
H1  192.168.1.10:5060
H2  203.0.113.5:5060
frame    time  H1                     H2
    1  +0.000  │───────INVITE────────▶│
    2  +0.005  │◀─────────486─────────│
"""


def test_a_reason_phrase_of_long_words_is_cut_into_pieces_of_the_column_width():
    msgs = [message(1, 0, UA, PBX, "INVITE"), message(2, 5, PBX, UA, status=486, reason="B" * 30 + "試験" * 5 + " Here")]
    assert render_ladder_text(msgs, width=40) == REFUSED_40 + """\
               │  BBBBBBBBBBBBBBBBBBBB│
               │  BBBBBBBBBB試験試験試│
               │    験試験試験 Here   │
"""


def test_a_reason_phrase_of_one_200000_character_word():
    """Cutting a word re-measured the rest of it after every piece: O(n^2 / width), minutes for this one (a reason
    phrase can be ~1 MB over TCP); each character is measured once now."""
    msgs = [message(1, 0, UA, PBX, "INVITE"), message(2, 5, PBX, UA, status=486, reason="B" * 200_000)]
    assert render_ladder_text(msgs, width=40) == REFUSED_40 + "               │  BBBBBBBBBBBBBBBBBBBB│\n" * 10_000


def test_time_offsets_align_and_may_be_negative_when_the_clock_steps_back():
    msgs = [message(1, 0, UA, PBX, "INVITE"), message(2, -2, PBX, UA, status=100, reason="Trying"),
            message(3, 3_600_000, UA, PBX, "BYE")]
    assert [line[:16] for line in render_ladder_text(msgs).splitlines()] == [
        "frame       time",
        "    1     +0.000",
        "    2     -0.002",
        "    3  +3600.000",
    ]


# ------------------------------------------------------------------------------------------- render_ladder_rich

def rich_output(renderable, *, width: int, colour: bool = False, crop: bool = True) -> str:
    console = Console(file=io.StringIO(), width=width, color_system="standard" if colour else None,
                      force_terminal=colour, highlight=False)
    console.print(renderable, crop=crop)
    return console.file.getvalue()


def test_rich_ladder_has_the_text_layout_at_the_console_width():
    for width in (120, 60):
        assert rich_output(render_ladder_rich(basic_call()), width=width) == render_ladder_text(basic_call(),
                                                                                                width=width)


def test_rich_ladder_wider_than_the_console_is_whole_when_printed_without_cropping():
    # At 40 columns the retransmission note ends past the width; `console.print(..., crop=False)` keeps it.
    assert rich_output(render_ladder_rich(basic_call()), width=40, crop=False) == render_ladder_text(basic_call(),
                                                                                                     width=40)


def test_rich_ladder_colours_success_green_failure_red_and_dims_retransmissions():
    msgs = [*basic_call()[:5], message(6, 3000, UA, PBX, "INVITE"), message(7, 3010, PBX, UA, status=486,
                                                                          reason="Busy Here")]
    out = rich_output(render_ladder_rich(msgs), width=120, colour=True)
    assert "\x1b[1m192.168.1.10:5060\x1b[0m" in out
    assert "│\x1b[32m◀───200 OK +SDP───\x1b[0m│" in out
    assert "│\x1b[2;32m◀╌╌╌200 OK +SDP╌╌╌\x1b[0m│" in out
    assert "\x1b[2;3m  retransmission\x1b[0m" in out
    assert "│\x1b[31m◀──486 Busy Here──\x1b[0m│" in out
    assert "│◀────100 Trying───│" in out  # provisional responses and requests keep the default colour
    assert "│─────INVITE──────▶│" in out


def test_rich_ladder_measures_between_its_narrowest_and_natural_width():
    console = Console(file=io.StringIO(), width=200)
    measurement = console.measure(render_ladder_rich(basic_call()))
    assert (measurement.minimum, measurement.maximum) == (44, 68)
