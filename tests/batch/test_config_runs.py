"""`batch --config` and a regression suite's thresholds: every capture analysed under the same rule thresholds, and
the rows, filings, tables and JUnit files say which.

The capture: four user names refused 403 from one source (tests/cases/test_case_settings.py). With
security.bruteforce_distinct_users lowered to 4 it is a password guesser (sec.bruteforce-auth, queue security);
under the defaults four lines of the customer's refused (reg.rejected, first line)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from sipdiag.batch import Options, analyze_many, read_journal
from sipdiag.cases import CaseStore
from sipdiag.config import load_config
from sipdiag.regress import run_suite
from tests.cases.test_case_settings import LOWERED, four_guesses

FILED = {"security": {"bruteforce_distinct_users": 4}}
FILED_TEXT = '{"security":{"bruteforce_distinct_users":4}}'


def sipdiag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, text=True, timeout=300)


def captures(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with the capture twice, named for tickets T-1 and T-2, and the lowered thresholds."""
    d = tmp_path / "caps"
    d.mkdir()
    four = four_guesses(tmp_path)
    shutil.copy(four, d / "T-1_four.pcap")
    (d / "T-2_four.pcap").write_bytes(four.read_bytes() + b"\0")  # another SHA-256, the same packets
    cfg = tmp_path / "lowered.toml"
    cfg.write_text(LOWERED)
    return d, cfg


def causes(frame: pd.DataFrame) -> list[tuple]:
    return sorted(zip(frame["name"], frame["main_cause"], frame["queue"],
                      [None if pd.isna(s) else s for s in frame["settings"]]))


def test_batch_analyses_every_capture_under_the_settings_and_resume_keeps_to_them(tmp_path: Path) -> None:
    d, cfg = captures(tmp_path)
    out = tmp_path / "out"
    defaults = analyze_many([d], jobs=1, out_dir=out)
    assert causes(defaults.captures) == [("T-1_four.pcap", "reg.rejected", "first-line", "{}"),
                                         ("T-2_four.pcap", "reg.rejected", "first-line", "{}")]
    lowered = Options(settings=load_config(cfg))
    # --resume under other thresholds: what the journal holds was analysed under the defaults, so it is done again
    again = analyze_many([d], jobs=1, out_dir=out, resume=True, options=lowered)
    assert causes(again.captures) == [("T-1_four.pcap", "sec.bruteforce-auth", "security", FILED_TEXT),
                                      ("T-2_four.pcap", "sec.bruteforce-auth", "security", FILED_TEXT)]
    seconds = {r["name"]: r["capture"]["seconds"] for r in read_journal(out / "batch-journal.jsonl")}
    same = analyze_many([d], jobs=1, out_dir=out, resume=True, options=lowered)  # the same: nothing to do
    assert {r["name"]: r["capture"]["seconds"] for r in read_journal(out / "batch-journal.jsonl")} == seconds
    assert causes(same.captures) == causes(again.captures)
    # a journal written before rows recorded their thresholds: analysed under the defaults, kept for them
    rows = read_journal(out / "batch-journal.jsonl")
    for r in rows:
        del r["capture"]["settings"]
    (out / "batch-journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert causes(analyze_many([d], jobs=1, out_dir=out, resume=True).captures) == [
        ("T-1_four.pcap", "sec.bruteforce-auth", "security", None),
        ("T-2_four.pcap", "sec.bruteforce-auth", "security", None)]


def test_batch_on_the_command_line_with_workers_and_filings(tmp_path: Path) -> None:
    d, cfg = captures(tmp_path)
    (d / "T-3_broken.pcap").write_bytes(b"not a capture")
    out, store = tmp_path / "out", str(tmp_path / "cases.db")
    r = sipdiag("batch", str(d), "--config", str(cfg), "--jobs", "2", "--out", str(out), "--out-format", "csv",
                "--ticket-from-name", r"(T-\d+)_", "--store", store)
    assert r.returncode == 0, r.stderr
    caps = pd.read_csv(out / "captures.csv", keep_default_na=False)
    assert sorted(zip(caps["name"], caps["status"], caps["main_cause"], caps["settings"])) == [
        ("T-1_four.pcap", "ok", "sec.bruteforce-auth", FILED_TEXT),
        ("T-2_four.pcap", "ok", "sec.bruteforce-auth", FILED_TEXT),
        ("T-3_broken.pcap", "error", "", FILED_TEXT)]
    assert list(caps.columns)[-2:] == ["error_kind", "settings"]
    with CaseStore(store) as cases:
        for ticket in ("T-1", "T-2"):
            (filing,) = cases.show(ticket).filings
            assert (filing.settings, filing.triage.rule) == (FILED, "sec.bruteforce-auth")
        # and a verification of such a filing analyses under them
        assert cases.verify("T-1", d / "T-1_four.pcap").settings == FILED


def test_batch_config_errors_are_one_line_before_anything_starts(tmp_path: Path) -> None:
    d, _ = captures(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[media]\nloss_pct = 3\n")
    r = sipdiag("batch", str(d), "--config", str(bad), "--out", str(tmp_path / "out"))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines() == ["Error: bad.toml: 'media.loss_pct' must be a table, not a number",
                                     "Hint: Write it as loss_pct = { minor = 1, major = 3, critical = 5 } or under "
                                     "[media.loss_pct]."]
    assert not (tmp_path / "out").exists()


SUITE = """
name = "guessers"
{config}
[[capture]]
file = "four.pcap"
fire = ["sec.bruteforce-auth"]
not_fire = ["reg"]
metrics = ["registrations == 0"]
"""


def test_a_suite_names_its_thresholds(tmp_path: Path) -> None:
    four_guesses(tmp_path)
    (tmp_path / "lowered.toml").write_text(LOWERED)
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(config='config = "lowered.toml"'))
    report = run_suite(suite)
    assert (report.failed, report.config, report.settings) == ([], str(tmp_path / "lowered.toml"), FILED)
    junit = tmp_path / "out.xml"
    r = sipdiag("regress", str(suite), "--junit", str(junit))
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[0].strip() == "guessers: 3 of 3 expectations met"
    assert r.stdout.splitlines()[-1] == (f"Thresholds: {tmp_path / 'lowered.toml'}: "
                                         "security.bruteforce_distinct_users = 4")
    props = ET.parse(junit).getroot().find("testsuite").find("properties")
    assert [(p.get("name"), p.get("value")) for p in props] == [
        ("config", str(tmp_path / "lowered.toml")), ("settings", "security.bruteforce_distinct_users = 4")]
    # --config for one run instead of the suite's: under the defaults the expectations fail
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("")
    r = sipdiag("regress", str(suite), "--config", str(defaults))
    assert r.returncode == 1
    assert r.stdout.splitlines()[0].strip() == "guessers: 0 of 3 expectations met"
    assert r.stdout.splitlines()[-1] == f"Thresholds: {defaults}: the defaults"
    # a suite without a config: the defaults, and no word about thresholds
    suite.write_text(SUITE.format(config=""))
    r = sipdiag("regress", str(suite), "--junit", str(junit))
    assert r.returncode == 1 and r.stdout.splitlines()[0].strip() == "guessers: 0 of 3 expectations met"
    assert "Thresholds" not in r.stdout
    assert ET.parse(junit).getroot().find("testsuite").find("properties") is None


def test_a_suites_config_errors_are_one_line(tmp_path: Path) -> None:
    four_guesses(tmp_path)
    suite = tmp_path / "suite.toml"
    for config, error, hint in [
            ('config = "nowhere.toml"', f"the suite's config {tmp_path / 'nowhere.toml'} is not a file",
             "'config' names a TOML file of rule thresholds, relative to the suite file."),
            ("config = 4", f"{suite}: 'config' must be the path of a thresholds file, not int '4'",
             "See 'sipdiag regress --help' for the suite format."),
            ('config = "bad.toml"', "bad.toml is not valid TOML: Expected ']' at the end of a table declaration "
                                    "(at line 1, column 5)",
             "Fix the line named; docs/config-defaults.toml lists every key with its default.")]:
        (tmp_path / "bad.toml").write_text("[sip\n")
        suite.write_text(SUITE.format(config=config))
        r = sipdiag("regress", str(suite))
        assert (r.returncode, r.stdout) == (2, ""), config
        assert r.stderr.splitlines() == [f"Error: {error}", f"Hint: {hint}"], config
