"""Inputs that are not captures, from fuzzing them (about 530 runs): configuration files, regression suites, case
store files, --notify addresses, ticket and file names, and report outputs. Each bad one ends in one clear
`Error:` line and its exit code; none reaches a traceback ('internal error'), a hang, or the terminal raw."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

CLEAN = str(SAMPLES / "clean_call.pcap")


def sipdiag(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, errors="surrogateescape")


def error_lines(r: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    return r.stderr.splitlines()


@pytest.mark.parametrize("text, error", [
    ("[media]\nmax_gap_ms = " + "9" * 400 + "\n",
     "Error: c.toml: 'media.max_gap_ms' must be a finite number, not an integer of 1329 bits"),
    ("x = " + "[" * 1000 + "]" * 1000 + "\n",
     "Error: c.toml is not a configuration: its tables or arrays are nested too deeply"),
])
def test_configuration_numbers_and_nesting(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "c.toml").write_text(text)
    r = sipdiag("analyze", CLEAN, "--config", str(tmp_path / "c.toml"))
    assert r.returncode == 2 and error_lines(r)[0] == error


@pytest.mark.parametrize("command, what", [(("analyze", CLEAN, "--config"), "configuration"), (("regress",), "suite")])
def test_a_pipe_or_a_huge_file_as_configuration_or_suite(tmp_path: Path, command: tuple, what: str) -> None:
    """A FIFO waited for a writer for ever; /dev/zero (or a capture given by mistake) was read whole."""
    fifo, huge = tmp_path / "settings.toml", tmp_path / "huge.toml"
    os.mkfifo(fifo)
    with open(huge, "wb") as f:
        f.truncate(11 << 20)  # sparse: 11 MB that take no disk
    for path, problem in ((fifo, "not a regular file (a pipe or a device)"),
                          (huge, f"{11 << 20} bytes is too large for it (a few KB are usual)")):
        r = sipdiag(*command, str(path))
        shown = path.name if what == "configuration" else path  # the suite's message names its whole path
        assert r.returncode == 2
        assert error_lines(r)[0] == f"Error: cannot read the {what} {shown}: {problem}"


@pytest.mark.parametrize("entry, error", [
    ("calls = true", "'calls' must be a number of calls (or a lab manifest's list of calls)"),  # passed as 1
    ('fire = "media"', "'fire' must be a list of strings"),  # was taken letter by letter
    ("outcomes = 3", "'outcomes' must be a list of strings"),  # TypeError
    ("calls = [1]", "'calls' must be a list of tables"),  # AttributeError
])
def test_suite_values_of_the_wrong_type(tmp_path: Path, entry: str, error: str) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(f'[[capture]]\nfile = "{CLEAN}"\n{entry}\n')
    r = sipdiag("regress", str(suite))
    assert r.returncode == 2 and error_lines(r)[0] == f"Error: capture {CLEAN}: {error}"


def test_suite_documents_that_are_not_suites(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    r = sipdiag("regress", str(tmp_path / "list.json"))
    assert (r.returncode, error_lines(r)[0]) == (2, f"Error: {tmp_path / 'list.json'} is not a suite: its top "
                                                    "level is not a table (object)")
    r = sipdiag("regress", str(tmp_path / "deep.json"))
    assert (r.returncode, error_lines(r)[0]) == (2, f"Error: {tmp_path / 'deep.json'} is not a valid JSON suite: "
                                                    "it is nested too deeply")


def test_a_capture_whose_name_is_not_utf8(tmp_path: Path) -> None:
    """A file copied from a Windows share: 'latén' in Latin-1. The terminal and JSON reports raised
    UnicodeEncodeError on the name; it is shown with the octet escaped."""
    name = os.fsdecode(b"lat\xe9n.pcap")
    shutil.copy(CLEAN, tmp_path / name)
    r = sipdiag("analyze", name, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "lat\\xe9n.pcap" in r.stdout
    r = sipdiag("analyze", name, "--format", "json", cwd=tmp_path)
    assert r.returncode == 0 and '"file":"lat\\udce9n.pcap"' in r.stdout


def test_a_damaged_store_file_with_an_intact_header(tmp_path: Path) -> None:
    store = tmp_path / "cases.db"
    assert sipdiag("analyze", CLEAN, "--ticket", "T-1", "--store", str(store)).returncode == 0
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(store.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page + 8: page * 2] = b"\xa5" * (page - 8)  # the second page's cells: garbage
    store.write_bytes(bytes(data))
    r = sipdiag("case", "show", "T-1", "--store", str(store))
    assert r.returncode == 3
    assert error_lines(r) == [f"Error: cannot read or write the case store {store}: database disk image is malformed",
                              "Hint: The file is damaged: restore it from a backup, or check it with 'sqlite3 FILE "
                              "\"PRAGMA integrity_check\"'."]


@pytest.mark.parametrize("url", ["bogus", "http://[::1", "file:///etc/passwd", "", "http://x/\x1b[2J"])
def test_a_bad_notify_address_fails_before_anything_is_filed(tmp_path: Path, url: str) -> None:
    """It used to fail after the filing was written: no 'Filed under' line, the notification never sent (a rerun
    is a duplicate), and its pending row broke every later 'case notify --pending'."""
    store = tmp_path / "cases.db"
    r = sipdiag("analyze", CLEAN, "--ticket", "T-1", "--notify", url, "--store", str(store))
    assert r.returncode == 2
    assert error_lines(r)[0].startswith("Error: --notify needs an http:// or https:// address, not ")
    assert "\x1b" not in r.stderr
    if store.exists():  # nothing filed (the store is made, empty, by the first filing only)
        r = sipdiag("case", "list", "--store", str(store))
        assert r.returncode == 0 and "T-1" not in r.stdout


def test_an_empty_ticket_is_refused_not_ignored(tmp_path: Path) -> None:
    r = sipdiag("analyze", CLEAN, "--ticket", "", "--store", str(tmp_path / "cases.db"))
    assert (r.returncode, error_lines(r)[0]) == (2, "Error: bad ticket id ''")


def test_ticket_ids_and_customer_names_that_cannot_be_shown_or_stored(tmp_path: Path) -> None:
    store = str(tmp_path / "cases.db")
    for ticket in (os.fsdecode(b"T-\xff"), "T-\u202eevil", "T-\x9b31m"):  # not UTF-8, bidi override, C1 CSI
        r = sipdiag("analyze", CLEAN, "--ticket", ticket, "--store", store)
        assert r.returncode == 2 and error_lines(r)[0].startswith("Error: bad ticket id")
    r = sipdiag("analyze", CLEAN, "--ticket", "T-5", "--customer", os.fsdecode(b"A\xff"), "--store", store)
    assert r.returncode == 0, r.stderr
    r = sipdiag("case", "show", "T-5", "--store", store, "--format", "json")
    assert '"customer": "A\\\\xff"' in r.stdout


def test_a_customer_name_reaches_the_verification_message_escaped(tmp_path: Path) -> None:
    """The customer's name (from the ticket system) greets the customer in the verification message, printed by
    `verify` and sent in its JSON: an OSC sequence (sets the window title) and a bidi override in it are shown as
    escapes (they went out raw)."""
    store = str(tmp_path / "cases.db")
    r = sipdiag("analyze", CLEAN, "--ticket", "T-7", "--customer", "ACME\x1b]0;pwned\x07\u202e", "--store", store)
    assert r.returncode == 0, r.stderr
    greeting = "Hello, ACME\\x1b]0;pwned\\x07\\u202e,"
    text = sipdiag("verify", "T-7", CLEAN, "--store", store)
    assert text.returncode == 0, text.stderr
    assert greeting + "\n" in text.stdout and "\x1b" not in text.stdout and "\u202e" not in text.stdout
    doc = json.loads(sipdiag("verify", "T-7", CLEAN, "--store", store, "--format", "json").stdout)
    assert doc["customer_message"].startswith(greeting + "\n\n")


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_terminal_that_cannot_show_every_character(tmp_path: Path, encoding: str) -> None:
    """PYTHONIOENCODING=ascii or a latin-1 terminal: what it cannot show comes as a \\uNNNN escape, not as an
    internal error (`batch` wrote rich's ellipsis for a long Call-ID straight to the terminal's encoding)."""
    from tests.hostilecapture import hostile_capture

    (tmp_path / "caps").mkdir()
    hostile_capture(tmp_path / "caps" / "hostile.pcap")
    r = subprocess.run([sys.executable, "-m", "sipdiag", "batch", str(tmp_path / "caps"), "--jobs", "1"],
                       capture_output=True, timeout=120, env={**os.environ, "PYTHONIOENCODING": encoding})
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("ascii")  # every character beyond ASCII written as an escape
    assert out.splitlines()[0] == "1 of 1 captures analysed: 1 read, 0 could not be read; 2 calls, 6 findings"
    assert "| hostile.pcap | h1-<script\\u2026 | answered | two-way | 3.32 | critical | 4        |" in out


def test_the_ticket_systems_reason_phrase_reaches_no_terminal_raw() -> None:
    from sipdiag.cases.webhook import post

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(400, "\x1b]0;pwned\x07EVIL")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        d = post(f"http://127.0.0.1:{server.server_port}/", {"event": "filing"}, attempts=1)
    finally:
        server.shutdown()
    assert (d.delivered, d.error) == (False, "HTTP 400 \\x1b]0;pwned\\x07EVIL")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_report_that_cannot_be_written_is_one_error_line() -> None:
    for args in (("analyze", CLEAN, "--format", "json"), ("schema",)):
        r = sipdiag(*args, "-o", "/dev/full")
        assert r.returncode == 3
        assert error_lines(r) == ["Error: cannot write the output: No space left on device",
                                  "Hint: check the free space and the path given to -o."]
