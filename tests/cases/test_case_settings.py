"""The thresholds of a run (`analyze(path, settings=...)`, `--config FILE`) reach what is made of the analysis after
its rules: the case summary and its triage, the customer's reply, the case filing. Which REGISTERs are a password
guesser's depends on security.bruteforce_distinct_users; the summary and the reply used to count them under the
defaults, outside the rule run, while the findings had judged them under the user's thresholds: the findings named
an attack and the reply and the figures a customer whose four lines were refused (triage P1 "registration down")."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

import sipdiag
from sipdiag.cases import CaseStore
from sipdiag.cases.summary import summarize
from sipdiag.cases.triage import triage
from sipdiag.checks import background
from sipdiag.checks.settings import DEFAULTS, merged
from sipdiag.config import load_config
from sipdiag.reports import render
from sipdiag.reports.reply import reply_context, render_reply
from tests.conftest import SAMPLES
from tests.integration.test_rules_codec_reg import guesses

# Four user names refused 403, one a minute, from one source: under the defaults (5 user names or 10 failures a
# minute, RULES.md sec.bruteforce-auth) a customer's four lines refused; with the trigger at 4 user names an attack.
LOWERED = "[security]\nbruteforce_distinct_users = 4\n"
FIGURES = ("registrations", "registrations_failed")
ATTACK = ([("sec.bruteforce-auth", "major")], {k: 0 for k in FIGURES}, ("security", "sec.bruteforce-auth", "P2",
                                                                         "security"), (0, 0))
ATTACK_REPLY = (
    "Hello,\n\nWe have analysed the recording you sent us (2023-11-14).\n\nWhat we found\n\n- Someone on the internet "
    "is guessing the passwords of many accounts of our service. Please make sure that your phone's password is long "
    "and unique; our security team is looking at blocking the attacker.\n")


def four_guesses(tmp_path: Path) -> Path:
    return guesses(tmp_path / "four.pcap", (101, 102, 103, 104), every_s=60)


def config(tmp_path: Path) -> Path:
    path = tmp_path / "lowered.toml"
    path.write_text(LOWERED)
    return path


def outcome(a) -> tuple:
    """(the findings, the summary's registration figures, the triage, the reply's sign-ins: counted, accepted)."""
    summary = summarize(a)
    t = triage(summary)
    facts = reply_context(a, lang="en", fmt="text")["facts"]
    return ([(f.rule, f.severity.label) for f in a.findings], {k: summary["figures"][k] for k in FIGURES},
            (t.category, t.rule, t.priority, t.queue), (facts.registrations, facts.registered))


def customer_reply(a) -> str:
    out = io.StringIO()
    render_reply(a, out)
    return out.getvalue()


def test_under_the_defaults_the_four_refusals_are_the_customers(tmp_path: Path) -> None:
    a = sipdiag.analyze(four_guesses(tmp_path))
    assert outcome(a) == ([("reg.rejected", "critical"), ("nat.via-address-mismatch", "info")],
                          {"registrations": 4, "registrations_failed": 4},
                          ("registration", "reg.rejected", "P1", "first-line"), (4, 0))
    assert a.settings is None


def test_the_summary_and_the_reply_count_as_the_findings_under_the_users_thresholds(tmp_path: Path) -> None:
    settings = load_config(config(tmp_path))
    a = sipdiag.analyze(four_guesses(tmp_path), settings=settings)
    assert outcome(a) == ATTACK
    assert customer_reply(a).startswith(ATTACK_REPLY) and "sign-in" not in customer_reply(a)
    assert a.settings is settings and settings == merged({"security": {"bruteforce_distinct_users": 4}})
    # dataclasses.replace keeps the tree (the CLI replaces the findings of the background engine so)
    assert outcome(replace(a, findings=a.findings)) == ATTACK
    # the same capture analysed again under the defaults in the same process: each analysis its own thresholds
    assert outcome(sipdiag.analyze(four_guesses(tmp_path)))[1]["registrations"] == 4
    assert outcome(a) == ATTACK


@pytest.mark.parametrize("fork", [False, True])
def test_the_background_engine_runs_under_the_analysis_settings(tmp_path: Path, monkeypatch, fork: bool) -> None:
    """analyze(rules=False) keeps the tree for the rule engine run later (in a forked child or here): start_checks
    without settings runs the rules under the analysis' own."""
    monkeypatch.setattr(background, "MIN_OBJECTS", 0 if fork else 10**9)
    a = sipdiag.analyze(four_guesses(tmp_path), settings=load_config(config(tmp_path)), rules=False)
    assert a.findings == ()
    pending = background.start_checks(a)
    assert outcome(replace(a, findings=pending())) == ATTACK


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_the_command_line_with_config_files_and_replies_as_it_finds(tmp_path: Path) -> None:
    capture, cfg, store = four_guesses(tmp_path), config(tmp_path), str(tmp_path / "cases.db")
    # JSON: the rules run in the background while the document is written, the filing after them
    filed = run("analyze", str(capture), "--config", str(cfg), "--format", "json", "--ticket", "T-1", "--store", store)
    assert filed.returncode == 1, filed.stderr  # a major finding (--fail-on major)
    assert [f["rule"] for f in json.loads(filed.stdout)["findings"]] == ["sec.bruteforce-auth"]
    assert filed.stderr == "Filed under T-1 as filing #1: P2, queue security, main cause sec.bruteforce-auth\n"
    # the terminal report: the rules run in the pipeline
    filed = run("analyze", str(capture), "--config", str(cfg), "--ticket", "T-2", "--store", store)
    assert filed.stderr == ("Filed under T-2 as filing #2: P2, queue security, main cause sec.bruteforce-auth (the "
                            "same capture is also filed under T-1)\n")
    for ticket in ("T-1", "T-2"):
        shown = run("case", "show", ticket, "--format", "json", "--store", store)
        assert shown.returncode == 0, shown.stderr
        (filing,) = json.loads(shown.stdout)["filings"]
        assert {k: filing["figures"][k] for k in FIGURES} == {k: 0 for k in FIGURES}
        assert (filing["triage"]["priority"], filing["triage"]["queue"]) == ("P2", "security")
        replied = run("case", "reply", ticket, "--store", store)
        assert replied.stdout.startswith(ATTACK_REPLY) and "sign-in" not in replied.stdout
    replied = run("reply", str(capture), "--config", str(cfg))
    assert replied.returncode == 0, replied.stderr
    assert replied.stdout.startswith(ATTACK_REPLY) and "sign-in" not in replied.stdout
    assert "4 sign-ins of a phone" in run("reply", str(capture)).stdout  # without --config: the defaults


class Poison(Mapping):
    """A section of DEFAULTS that fails the test when read: a threshold taken from the defaults outside the tree
    the analysis was made under."""

    def __init__(self, section: str) -> None:
        self.section = section

    def __getitem__(self, key: str):
        raise AssertionError(f"default threshold {self.section}.{key} read instead of the analysis' own")

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@pytest.mark.parametrize("name", ["four", "sipvicious_scan.pcap", "register_bruteforce.pcap",
                                  "nat_one_way_audio.pcap", "register_no_response.pcap"])
def test_nothing_made_of_an_analysis_reads_the_default_thresholds(tmp_path: Path, monkeypatch, name: str) -> None:
    """Every output made from an analysis after its rules (summary, triage, replies, every report format, a case
    filing) reads the thresholds it was made under, never the defaults: with those poisoned, none fails."""
    path = four_guesses(tmp_path) if name == "four" else SAMPLES / name
    settings = merged({"security": {"bruteforce_distinct_users": 4}})
    expected = summarize(sipdiag.analyze(path, settings=settings))
    a = sipdiag.analyze(path, settings=settings)  # nothing computed from it yet but its findings
    for section in list(DEFAULTS):
        monkeypatch.setitem(DEFAULTS, section, Poison(section))
    assert summarize(a) == expected
    triage(expected)
    for audience in ("customer", "engineer"):
        for lang in ("en", "ru"):
            for fmt in ("text", "markdown"):
                render_reply(a, io.StringIO(), audience=audience, lang=lang, fmt=fmt)
    for fmt in ("terminal", "json", "html", "csv", "junit"):
        render(a, fmt, io.StringIO())
    with CaseStore(str(tmp_path / "cases.db")) as cases:
        assert cases.file("T-1", path, analysis=a).summary == json.loads(json.dumps(expected))
