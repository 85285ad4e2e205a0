"""A verification analyses the capture after the fix under the thresholds the ticket's analysis was filed under.

The store used to keep no record of them, and `verify` had no --config: a case filed with `analyze --config` was
verified under the defaults, so a finding could "disappear" (and others appear) only because the thresholds
differed. The capture here is four user names refused 403 from one source: with security.bruteforce_distinct_users
lowered to 4 a password guesser (sec.bruteforce-auth, major), under the defaults four lines of the customer's
refused (reg.rejected, critical). Verified with the same capture, nothing changed: the attack persists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sipdiag
from sipdiag.cases import CaseStore
from sipdiag.cases.summary import summarize
from sipdiag.cases.triage import triage
from sipdiag.checks.settings import merged, overrides
from sipdiag.config import load_config
from tests.cases.test_case_settings import LOWERED, config, four_guesses
from tests.conftest import SAMPLES

FILED = {"security": {"bruteforce_distinct_users": 4}}
FOUR = ["sip:101@example.com", "sip:102@example.com", "sip:103@example.com", "sip:104@example.com"]


def changes(v) -> tuple:
    c = v.comparison
    return (c.outcome, [r.rule for r in c.resolved], [r.rule for r in c.persisting], [r.rule for r in c.new],
            [x.line for x in c.lines_new])


def test_overrides_are_what_differs_from_the_defaults() -> None:
    assert overrides(None) == overrides(merged({})) == {}
    tree = merged({"security": {"bruteforce_distinct_users": 4, "home_country_codes": [44]},
                   "media": {"loss_pct": {"minor": 2}}, "sip": {"t2_ms": 4000}})
    assert overrides(tree) == {"security": {"bruteforce_distinct_users": 4, "home_country_codes": [44]},
                               "media": {"loss_pct": {"minor": 2}}}
    assert merged(overrides(tree)) == tree


def test_verify_analyses_under_the_settings_the_ticket_was_filed_under(store_url: str, tmp_path: Path) -> None:
    capture = four_guesses(tmp_path)
    with CaseStore(store_url) as cases:
        filed = cases.file("T-1", capture, settings=load_config(config(tmp_path)))
        assert [f["rule"] for f in filed.summary["findings"]] == ["sec.bruteforce-auth"]
        v = cases.verify("T-1", capture)
        # the same capture, the same thresholds: the attack persists, nothing resolved, nothing new
        assert changes(v) == ("not-resolved", [], ["sec.bruteforce-auth"], [], [])
        assert (v.settings_source, v.settings, v.settings_differ) == ("filing", FILED, False)
        # explicitly under the defaults: the attack "resolved", four refused lines of the customer's new
        w = cases.verify("T-1", capture, settings=merged({}))
        assert changes(w) == ("not-resolved", ["sec.bruteforce-auth"], [], ["reg.rejected"], FOUR)
        assert (w.settings_source, w.settings, w.settings_differ) == ("given", {}, True)
        case = cases.show("T-1")
        # every filing keeps its own thresholds (the store's JSON, read back), the verdicts where they came from
        assert [(f.kind, f.settings) for f in case.filings] == [("analysis", FILED), ("verification", FILED),
                                                               ("verification", {})]
        assert [f.verdict["settings"] for f in case.filings[1:]] == [
            {"source": "filing", "overrides": FILED, "filed": FILED},
            {"source": "given", "overrides": {}, "filed": FILED}]
        # an analysis made by the caller is verified as it is
        a = sipdiag.analyze(capture, settings=merged(FILED))
        x = cases.verify("T-1", capture, analysis=a)
        assert changes(x)[:3] == ("not-resolved", [], ["sec.bruteforce-auth"])
        assert (x.settings_source, x.settings_differ) == ("given", False)


def test_the_same_capture_under_other_settings_is_another_analysis(store_url: str, tmp_path: Path) -> None:
    """Filed again under the same thresholds it is a duplicate, as before; under others it is filed, and becomes
    the analysis a verification compares with (it used to be dropped as a duplicate: the verification compared
    with the first filing, under the thresholds nobody meant any more)."""
    capture = four_guesses(tmp_path)
    with CaseStore(store_url) as cases:
        first = cases.file("T-2", capture)
        assert (first.settings, [f["rule"] for f in first.summary["findings"]]) == (
            {}, ["reg.rejected", "nat.via-address-mismatch"])
        assert cases.file("T-2", capture, settings=merged({})).duplicate_of == first.id
        second = cases.file("T-2", capture, settings=merged(FILED))
        assert (second.duplicate_of, second.settings, second.triage.queue) == (None, FILED, "security")
        assert cases.file("T-2", capture, settings=merged(FILED)).duplicate_of == second.id
        assert cases.show("T-2").priority == "P2"  # the latest analysis' triage: the attack's
        assert changes(cases.verify("T-2", capture)) == ("not-resolved", [], ["sec.bruteforce-auth"], [], [])


def _version_2_store(url: str, capture: Path) -> None:
    """A store as sipdiag wrote it before filings kept their settings (schema 2), with one analysis of `capture`
    made under the defaults."""
    from sipdiag.cases import migrations
    from sipdiag.cases.backends import connect
    from sipdiag.cases.store import _dumps, sha256_of

    db = connect(url)
    original = migrations.MIGRATIONS
    migrations.MIGRATIONS = original[:2]
    try:
        assert migrations.migrate(db) == 2
        summary = json.loads(_dumps(summarize(sipdiag.analyze(capture))))
        sha, size = sha256_of(capture)
        with db.transaction() as cur:
            cur.execute("INSERT INTO tickets (id, status, created_at, updated_at) VALUES (?, ?, ?, ?)",
                        ("T-old", "open", "2026-01-01", "2026-01-01"))
            cur.execute("INSERT INTO captures (sha256, size, name, first_filed_at) VALUES (?, ?, ?, ?)",
                        (sha, size, capture.name, "2026-01-01"))
            cur.execute("INSERT INTO filings (ticket_id, sha256, kind, filed_at, summary, triage, replies) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", ("T-old", sha, "analysis", "2026-01-01", _dumps(summary),
                                                         _dumps(triage(summary).as_dict()), "{}"))
    finally:
        migrations.MIGRATIONS = original
        db.close()


def test_a_version_2_store_is_migrated_and_its_filings_verified_under_the_defaults(store_url: str,
                                                                                   tmp_path: Path) -> None:
    capture = SAMPLES / "nat_one_way_audio.pcap"
    _version_2_store(store_url, capture)
    with CaseStore(store_url) as cases:
        assert cases.schema_version == 3
        (old,) = cases.show("T-old").filings
        assert old.settings is None  # not recorded
        # filed again under the defaults: recognised, as it was (an old filing counts as made under them)
        assert cases.file("T-old", capture).duplicate_of == old.id
        v = cases.verify("T-old", SAMPLES / "nat_symmetric_rtp.pcap")
        assert (v.comparison.outcome, v.settings_source, v.settings, v.settings_differ) == (
            "resolved", "unrecorded", {}, False)
        assert cases.show("T-old").filings[-1].settings == {}
    with CaseStore(store_url) as cases:  # opened again: nothing left to migrate
        assert cases.schema_version == 3


def sipdiag_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_verify_on_the_command_line_says_which_thresholds(tmp_path: Path) -> None:
    capture, cfg, store = four_guesses(tmp_path), config(tmp_path), str(tmp_path / "cases.db")
    filed = sipdiag_cli("analyze", str(capture), "--config", str(cfg), "--ticket", "T-1", "--store", store)
    assert filed.returncode == 1, filed.stderr
    shown = sipdiag_cli("case", "show", "T-1", "--store", store)
    assert shown.stdout.splitlines()[-2:] == ["      thresholds: security.bruteforce_distinct_users = 4",
                                              "      major    sec.bruteforce-auth                "]
    assert json.loads(sipdiag_cli("case", "show", "T-1", "--format", "json", "--store",
                                  store).stdout)["filings"][0]["settings"] == FILED
    r = sipdiag_cli("verify", "T-1", str(capture), "--store", store)
    assert r.returncode == 1 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[:2] == ["Ticket T-1: verification #2 against analysis #1: NOT RESOLVED (problems: major and above)",
                         "  persisting sec.bruteforce-auth                before major    x1  after major    x1"]
    assert "Thresholds: security.bruteforce_distinct_users = 4, as analysis #1 was analysed under" in lines
    # the same file given: said so; the defaults given: said so, and warned
    r = sipdiag_cli("verify", "T-1", str(capture), "--store", store, "--config", str(cfg))
    assert ("Thresholds: lowered.toml (--config): security.bruteforce_distinct_users = 4, as analysis #1 was "
            "analysed under") in r.stdout.splitlines() and r.stderr == ""
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("# nothing changed\n")
    r = sipdiag_cli("verify", "T-1", str(capture), "--store", store, "--config", str(defaults), "--format", "json")
    doc = json.loads(r.stdout)
    assert (r.returncode, doc["resolved"][0]["rule"], [c["rule"] for c in doc["new"]]) == (
        1, "sec.bruteforce-auth", ["reg.rejected"])
    assert doc["settings"] == {"source": "given", "overrides": {}, "filed": FILED, "differ": True,
                               "config": str(defaults)}
    assert r.stderr == ("Warning: the thresholds differ from those of the analysis verified against: a problem may "
                        "appear or vanish only because of them.\n")


def test_verify_config_errors_are_one_line(tmp_path: Path) -> None:
    capture, store = four_guesses(tmp_path), str(tmp_path / "cases.db")
    assert sipdiag_cli("analyze", str(capture), "--ticket", "T-1", "--store", store).returncode == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[security]\nbruteforce_users = 4\n")
    r = sipdiag_cli("verify", "T-1", str(capture), "--store", store, "--config", str(bad))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines() == [
        "Error: bad.toml: unknown key 'security.bruteforce_users'",
        "Hint: Known keys in [security]: bruteforce_distinct_users, bruteforce_failures_per_min, "
        "fraud_distinct_intl_dest_10min, home_country_codes, scan_distinct_dst_ips_60s, scan_distinct_users_60s, "
        "steady_retry_min_failures, steady_retry_min_interval_s, steady_retry_spread (docs/config-defaults.toml "
        "lists every key with its default)."]
    r = sipdiag_cli("verify", "T-1", str(capture), "--store", store, "--config", str(tmp_path / "missing.toml"))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines()[0].startswith("Error: Invalid value for '--config': File ")
    with CaseStore(store) as cases:
        assert [f.kind for f in cases.show("T-1").filings] == ["analysis"]  # nothing verified, nothing filed
        # settings a later sipdiag wrote, with a key this one does not know: said, and --config is the way out
        with cases.db.transaction() as cur:
            cur.execute("UPDATE filings SET settings = ? WHERE id = ?", ('{"sip":{"t3_ms":5000}}', 1))
    r = sipdiag_cli("verify", "T-1", str(capture), "--store", store)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines() == [
        "Error: the settings of filing #1: unknown key 'sip.t3_ms'",
        "Hint: It was filed by another version of sipdiag: give the thresholds to verify under with --config FILE."]
    cfg = tmp_path / "lowered.toml"
    cfg.write_text(LOWERED)
    r = sipdiag_cli("verify", "T-1", str(capture), "--store", store, "--config", str(cfg))
    assert r.returncode == 1 and "Thresholds: lowered.toml (--config): security.bruteforce_distinct_users = 4; " \
        "analysis #1 was analysed under sip.t3_ms = 5000" in r.stdout


def test_a_filing_under_the_defaults_is_verified_under_the_defaults(tmp_path: Path) -> None:
    store = str(tmp_path / "cases.db")
    sipdiag_cli("analyze", str(SAMPLES / "nat_one_way_audio.pcap"), "--ticket", "T-1", "--store", store)
    r = sipdiag_cli("verify", "T-1", str(SAMPLES / "nat_symmetric_rtp.pcap"), "--store", store)
    assert r.returncode == 0, r.stderr
    assert "Thresholds: the defaults, as analysis #1 was analysed under" in r.stdout.splitlines()
