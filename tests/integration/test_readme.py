"""The README's library example runs as written, and its CLI section names every command."""

from __future__ import annotations

import contextlib
import io
import os
import re

from click.testing import CliRunner

from sipdiag.cli import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _run(code: str) -> list[str]:
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    return out.getvalue().splitlines()


def test_library_examples_run() -> None:
    library, cases = re.findall(r"```python\n(.*?)```", README, re.S)
    lines = _run(library)
    assert lines[0] == "109 ('ethernet',)"
    assert lines[2] == ("clean_call-1@sdlab sip:200@203.0.113.10 sip:300@203.0.113.10 answered 200 1.417 307.782 "
                        "1.508 caller")
    assert _run(cases) == ["P2 engineering nat.private-sdp-address",
                           "True ['nat.private-sdp-address', 'media.one-way-audio', 'nat.media-source-mismatch']",
                           "resolved"]


def test_every_command_is_in_the_readme_with_help() -> None:
    for name, command in cli.commands.items():
        assert f"sipdiag {name}" in README, name
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output, name
