"""docs/RULES-REFERENCE.md and docs/config-defaults.toml are generated from the code (STYLE.md G14): regenerating
them gives the committed files, byte for byte. Other branches add rules: after a merge, regenerate and commit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sipdiag.checks import all_rules
from sipdiag.tools import rulesdoc
from tests.conftest import ROOT

FIX = f"run '{rulesdoc.COMMAND}' from the repository root and commit the result"


@pytest.mark.parametrize("name", [rulesdoc.REFERENCE, rulesdoc.DEFAULTS_FILE])
def test_the_committed_file_is_what_the_code_generates(name: str) -> None:
    committed = ROOT / "docs" / name
    assert committed.is_file(), f"docs/{name} is missing: {FIX}"
    assert committed.read_text(encoding="utf-8") == rulesdoc.outputs()[name], (
        f"docs/{name} is out of step with the rule metadata / thresholds: {FIX}")


def test_the_generator_is_deterministic_and_complete() -> None:
    first, second = rulesdoc.reference(), rulesdoc.reference(list(reversed(all_rules())))
    assert first == second  # the order rules were registered in does not matter
    for rule in all_rules():
        assert f"### `{rule.id}`" in first
        for heading in ("What it detects", "Why it matters", "How to fix", "References"):
            assert rule.sections()[heading].splitlines()[0] in first
    assert ("| Thresholds | `media.delta_r.critical` = 20, `media.delta_r.major` = 10, `media.delta_r.minor` = 5, "
            "`media.loss_pct.critical` = 5, `media.loss_pct.major` = 3, `media.loss_pct.minor` = 1 |" in first)
    assert "| `call.ack-timeout-32s` | `alg.*`, `call.in-dialog-request-misrouted`" in first


def test_check_mode_names_the_stale_file_and_the_command(tmp_path) -> None:
    (tmp_path / rulesdoc.REFERENCE).write_text("# old\n")
    result = subprocess.run([sys.executable, "-m", "sipdiag.tools.rulesdoc", "--check", "--docs", str(tmp_path)],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{tmp_path / rulesdoc.REFERENCE} is out of step with the code: run '{rulesdoc.COMMAND}' and commit it",
        f"{tmp_path / rulesdoc.DEFAULTS_FILE} is out of step with the code: run '{rulesdoc.COMMAND}' and commit it"]
    assert subprocess.run([sys.executable, "-m", "sipdiag.tools.rulesdoc", "--docs", str(tmp_path)],
                          capture_output=True, check=False, cwd=ROOT).returncode == 0
    assert (tmp_path / rulesdoc.REFERENCE).read_text() == rulesdoc.outputs()[rulesdoc.REFERENCE]
