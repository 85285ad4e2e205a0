"""Wire text never drives the terminal: `analyze`, `flow` and `streams` on a capture whose Call-ID, From display
name, User-Agent, reason phrase and codec name carry escape sequences (SGR, clear screen, OSC 8 hyperlinks, OSC
window titles), bidi overrides and rich markup (tags and `:emoji:` codes). Each must come out as visible, inert
text: no control or bidi character in the output, every tag and emoji code still written as it was sent."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from sipdiag.cli import cli
from tests.hostilecapture import SEPARATED_CALL_ID, hostile_capture, mangled_identifiers_capture

# Anything a terminal acts on: C0 controls but newline, DEL, C1 controls (0x9b is an 8-bit CSI), bidi controls; and
# what breaks a line or shows nothing: line and paragraph separators, zero-width characters.
TERMINAL_ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                             "\u2028\u2029\u200b-\u200d\u2060-\u2064\ufeff]")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_capture(tmp_path_factory.mktemp("hostile") / "hostile.pcap")


def run(*args: str, colour: bool = False) -> tuple[int, str]:
    # FORCE_COLOR makes rich write its own styles (as at a colour terminal): wire text must stay inert there too.
    result = CliRunner().invoke(cli, list(args), env={"FORCE_COLOR": "1"} if colour else {"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def squeeze(text: str) -> str:
    """The output without whitespace: a long value folded over lines of a two-column grid reads whole again."""
    return "".join(text.split())


def assert_inert(output: str, *, colour: bool) -> None:
    if colour:
        # Only rich's own SGR styles (ESC [ digits ; m); wire escapes are shown as the text "\x1b".
        sequences = set(re.findall(r"\x1b\[[0-9;]*m", output))
        assert sequences and sequences <= {f"\x1b[{n}m" for n in ("0", "1", "2", "3", "31", "32", "33", "36", "1;31",
                                                                 "2;3", "3;2")} | {"\x1b[1;31m", "\x1b[2m"}, sequences
        output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    found = sorted({f"U+{ord(c):04X} {unicodedata.name(c, 'control')}" for c in TERMINAL_ACTIVE.findall(output)})
    assert found == [], found
    assert "👍" not in output and "🔥" not in output and "😄" not in output  # emoji codes stay codes


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_analyze_shows_hostile_headers_as_text(capture: Path, colour: bool) -> None:
    code, out = run("analyze", str(capture), colour=colour)
    assert code == 1  # critical/major findings (packet loss, scanner)
    assert_inert(out, colour=colour)
    plain = squeeze(re.sub(r"\x1b\[[0-9;]*m", "", out))
    # The call's details (a two-column grid, so folded values read whole without whitespace):
    for shown in (
        "Call h1-<script>alert(1)</script>-\"q\"-'a'-</svg>-\\x1b[31m-\\u202e-:smile:@evil",
        "From \"<script>alert(1)</script> </svg> 'a' \\x1b[31mred\\u202egnp.exe [bold]boss[/bold]\" "
        "<sip:100@example.com> at 198.51.100.7:5060",
        "User agents friendly-scanner <script>alert(1)</script> </svg> \"q\" 'a' & &amp; "
        "\\x1b[2J\\x1b]8;;http://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\\\x1b]0;owned\\x07 \\u202etxt.exe "
        "[bold red]markup[/] [link=http://evil.example]x[/link] :thumbs_up:",
        "Outcome rejected, final 403 Forbidden <script>alert(1)</script> </svg> \\x1b[31m\\u202e [red]x[/red] :fire:",
    ):
        assert squeeze(shown) in plain, shown
    # A finding's engineer text quotes the reason phrase; the customer text is in the chosen language.
    assert squeeze("final 403 Forbidden <script>alert(1)</script> </svg> \\x1b[31m\\u202e [red]x[/red] :fire: "
                   "(frame 292)") in plain


def test_analyze_in_russian_and_for_one_call_stays_inert(capture: Path) -> None:
    code, out = run("analyze", str(capture), "--lang", "ru", "--call", "#2")
    assert code == 1
    assert_inert(out, colour=False)
    plain = squeeze(out)
    # the Russian report's own labels are Russian too; the wire text in them stays escaped
    assert squeeze("Клиенту: Ваш звонок на 200 не удалось совершить: вызов запрещён (ограничения, баланс или учётные "
                   "данные). Мы выясняем причину.") in plain
    assert squeeze("Инженеру: Вызов h2-refused: итог 403 Forbidden <script>alert(1)</script> </svg> \\x1b[31m\\u202e "
                   "[red]x[/red] :fire: (кадр 292)") in plain
    assert squeeze("Итог отклонён, код 403 Forbidden <script>alert(1)</script> </svg> \\x1b[31m\\u202e "
                   "[red]x[/red] :fire:") in plain
    assert "h1-<script>" not in out  # --call '#2' shows that call only


@pytest.mark.parametrize("fmt", ["terminal", "text"])
@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_flow_shows_hostile_headers_as_text(capture: Path, fmt: str, colour: bool) -> None:
    code, out = run("flow", str(capture), "--format", fmt, "--width", "300", colour=colour)
    assert code == 0
    assert_inert(out, colour=colour and fmt == "terminal")
    lines = re.sub(r"\x1b\[[0-9;]*m", "", out).splitlines()
    assert lines[0] == ("Call h1-<script>alert(1)</script>-\"q\"-'a'-</svg>-\\x1b[31m-\\u202e-:smile:@evil: "
                        "sip:100@example.com -> sip:200@example.com, answered 200")
    assert "Call h2-refused: sip:100@example.com -> sip:200@example.com, rejected 403" in lines
    refusal = next(line for line in lines if line.startswith("  292  +0.020"))
    assert "◀──403 Forbidden <script>alert(1)</script> </svg> \\x1b[31m\\u202e [red]x[/red] :fire:──│" in refusal


def test_flow_mermaid_has_no_control_characters(capture: Path) -> None:
    code, out = run("flow", str(capture), "--format", "mermaid")
    assert code == 0
    assert_inert(out, colour=False)
    assert "Call h1-#lt;script#gt;alert(1)#lt;/script#gt;-#quot;q#quot;-'a'-#lt;/svg#gt;-[31m--:smile:@evil" in out
    # Two calls: each diagram under a Markdown heading, outside its fence, that names the call by its Call-ID as a
    # code span (it was written raw: a `<script>` or a `[text](link)` in a Call-ID became HTML or a link in a ticket)
    assert [line for line in out.splitlines() if line.startswith("Call ")] == [
        "Call `h1-<script>alert(1)</script>-\"q\"-'a'-</svg>-\\x1b[31m-\\u202e-:smile:@evil`", "Call `h2-refused`"]


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_streams_shows_a_hostile_codec_name_as_text(capture: Path, colour: bool) -> None:
    code, out = run("streams", str(capture), colour=colour)
    assert code == 0
    assert_inert(out, colour=colour)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    rows = [line for line in plain.splitlines() if "0x0000" in line]
    assert len(rows) == 2
    assert "│ 0x00001111 │ PCMU " in rows[0] and "│ 15 (10.0%) │" in rows[0]
    assert "│ 0x00002222 │ <b>x<i>[bold]" in rows[1]  # the tag is shown, not applied (the cell is cut after it)


def anomaly_rows(out: str, title: str = "Anomalies (") -> list[tuple[str, str, str]]:
    """(code, frame, detail) of each row of the Anomalies table (`title`: its title in the report's language), a
    detail folded over lines read whole."""
    rows: list[list[str]] = []
    table = out[out.index(title):]
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) != 3:
            continue
        if cells[0]:
            rows.append(cells)
        else:  # the detail goes on
            rows[-1][2] += " " + cells[2]
    return [(code, frame, detail) for code, frame, detail in rows]


def test_mangled_identifiers_are_shown_escaped_with_their_anomaly(tmp_path: Path) -> None:
    """A Call-ID and a To tag holding control bytes (ESC [ 2 J would clear the screen; 0x18 0x01 as in heplify's
    erspan capture): the call is shown under its Call-ID written out as escapes, and each message's
    sip.control-in-identifier anomaly quotes the Call-ID and the tag the same way."""
    capture = mangled_identifiers_capture(tmp_path / "mangled.pcap")
    code, out = run("analyze", str(capture))
    assert code == 0
    assert_inert(out, colour=False)
    assert "Call mangled-\\x18\\x01\\x1b[2J-1@pbx\n" in out
    call_id = ("Call-ID 'mangled-\\x18\\x01\\x1b[2J-1@pbx' holds control character(s) 0x18, 0x01, 0x1B; it must be a "
               "word [@ word] (RFC 3261 §25.1): the message was mangled or forged")
    tag = ("To tag 't9\\x18\\x01' holds control character(s) 0x18, 0x01; it must be a token (RFC 3261 §25.1): the "
           "message was mangled or forged")
    assert anomaly_rows(out) == [("sip.control-in-identifier", str(frame), detail)
                                 for frame in range(1, 6) for detail in ((call_id,) if frame == 1 else (call_id, tag))]


@pytest.mark.parametrize("fmt", ["terminal", "text"])
def test_line_separators_and_zero_width_characters_are_shown_as_escapes(tmp_path: Path, fmt: str) -> None:
    """A Call-ID holding U+2028/U+2029 (rich breaks a table cell there, so a value could forge a row) and
    zero-width characters (it would look like another Call-ID): written out as escapes in analyze and flow."""
    capture = mangled_identifiers_capture(tmp_path / "separated.pcap", call_id=SEPARATED_CALL_ID, tag="t9")
    shown = "sep-\\u2028FORGED\\u2029-\\u200b\\u200d\\u2060\\ufeff-1@pbx"
    code, out = run("analyze", str(capture)) if fmt == "terminal" else run("flow", str(capture), "--format", fmt)
    assert code == 0
    assert_inert(out, colour=False)
    assert (f"Call {shown}\n" if fmt == "terminal" else
            f"Call {shown}: sip:100@example.com -> sip:200@example.com, answered 200\n") in out


def test_mangled_identifiers_are_shown_escaped_in_the_russian_anomalies(tmp_path: Path) -> None:
    """The same anomalies in the Russian report: their details in Russian, the Call-ID and the tag quoted as the
    English detail quotes them (written out as escapes)."""
    capture = mangled_identifiers_capture(tmp_path / "mangled.pcap")
    code, out = run("analyze", str(capture), "--lang", "ru")
    assert code == 0
    assert_inert(out, colour=False)
    call_id = ("Call-ID 'mangled-\\x18\\x01\\x1b[2J-1@pbx' содержит управляющие символы 0x18, 0x01, 0x1B, а по "
               "грамматике должен быть word [@ word] (RFC 3261 §25.1): сообщение искажено или подделано")
    tag = ("тег To 't9\\x18\\x01' содержит управляющие символы 0x18, 0x01, а по грамматике должен быть token "
           "(RFC 3261 §25.1): сообщение искажено или подделано")
    assert anomaly_rows(out, "Аномалии (") == [("sip.control-in-identifier", str(frame), detail)
                                               for frame in range(1, 6)
                                               for detail in ((call_id,) if frame == 1 else (call_id, tag))]


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_the_russian_anomalies_show_hostile_values_as_text(capture: Path, colour: bool) -> None:
    """A Call-ID carrying markup, an escape sequence, a bidi override and an emoji code, quoted in the Russian
    detail of its anomaly: shown as the text it was sent as."""
    code, out = run("analyze", str(capture), "--lang", "ru", colour=colour)
    assert code == 1
    assert_inert(out, colour=colour)
    rows = anomaly_rows(re.sub(r"\x1b\[[0-9;]*m", "", out), "Аномалии (")
    assert [(code, frame) for code, frame, _ in rows] == [("sip.control-in-identifier", str(frame))
                                                         for frame in (1, 2, 3, 289, 290)]
    assert squeeze(rows[0][2]) == squeeze(
        "Call-ID 'h1-<script>alert(1)</script>-\"q\"-\\'a\\'-</svg>-\\x1b[31m-\\u202e-:smile:@evil' содержит "
        "управляющие символы 0x1B, а по грамматике должен быть word [@ word] (RFC 3261 §25.1): сообщение искажено "
        "или подделано")
