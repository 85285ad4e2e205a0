"""sipdiag regress (issue 9): the lab manifest is a suite and passes; a TOML suite with broken expectations fails
with readable JUnit entries; a bad suite is one Error line."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import SAMPLES

MANIFEST = SAMPLES / "manifest.json"


def sipdiag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, text=True, timeout=300)


def expected_cases() -> int:
    """Per capture of the manifest: calls == N, the outcomes, the registration outcomes (when any), and one
    expectation per category present or absent."""
    n = 0
    for c in json.loads(MANIFEST.read_text())["captures"]:
        n += 2 + bool(c["registrations"]) + len(c["categories_present"]) + len(c["categories_absent"])
    return n


def test_the_lab_manifest_passes_as_a_suite(tmp_path: Path) -> None:
    junit = tmp_path / "lab.xml"
    r = sipdiag("regress", str(MANIFEST), "--junit", str(junit))
    assert r.returncode == 0, r.stdout[-2000:]
    total = expected_cases()
    assert r.stdout.splitlines()[0].strip() == f"manifest: {total} of {total} expectations met"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("manifest", str(total), "0")
    cases = {(c.get("classname"), c.get("name")) for c in suite.iter("testcase")}
    assert ("nat_one_way_audio.pcap", "category nat present") in cases
    assert ("register_wrong_password.pcap", "registration outcomes ['failed']") in cases
    assert ("clean_call.pcap", "outcomes ['answered']") in cases


SUITE = """
name = "lab regressions"

[[capture]]
file = "{samples}/clean_call.pcap"
calls = 2
outcomes = ["answered"]
fire = ["media.one-way-audio"]
metrics = ["mos_min >= 4.0", "loss_pct_max <= 0.5"]

[[capture]]
file = "{samples}/nat_one_way_audio.pcap"
not_fire = ["media"]
categories_present = ["nat"]
metrics = ["one_way_calls == 0"]

[[capture]]
file = "{samples}/missing.pcap"
calls = 1
"""


def test_broken_expectations_fail_with_readable_junit(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(samples=SAMPLES))
    junit = tmp_path / "out.xml"
    r = sipdiag("regress", str(suite), "--junit", str(junit))
    assert r.returncode == 1
    root = ET.parse(junit).getroot().find("testsuite")
    assert (root.get("name"), root.get("tests"), root.get("failures")) == ("lab regressions", "9", "5")
    failures = {(c.get("classname"), c.get("name")): c.find("failure").text
                for c in root.iter("testcase") if c.find("failure") is not None}
    assert failures == {
        ("clean_call.pcap", "calls == 2"): "clean_call.pcap: expected calls == 2; calls is 1",
        ("clean_call.pcap", "fires media.one-way-audio"):
            "clean_call.pcap: expected fires media.one-way-audio; media.one-way-audio did not fire; fired: none",
        ("nat_one_way_audio.pcap", "does not fire media"):
            "nat_one_way_audio.pcap: expected does not fire media; fired: media.one-way-audio (major, "
            "nat_one_way_audio-1@sdlab)",
        ("nat_one_way_audio.pcap", "one_way_calls == 0"): "nat_one_way_audio.pcap: expected one_way_calls == 0; "
                                                          "one_way_calls is 1",
        ("missing.pcap", "capture is read"): f"missing.pcap: expected capture is read; {SAMPLES}/missing.pcap: "
                                             "no such file",
    }
    passed = {(c.get("classname"), c.get("name")) for c in root.iter("testcase") if c.find("failure") is None}
    assert ("clean_call.pcap", "mos_min >= 4.0") in passed and ("nat_one_way_audio.pcap", "category nat present") \
        in passed
    assert "FAIL" in r.stdout


def test_a_bad_suite_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[capture]]\nfile = "x.pcap"\nmetrics = ["mos >= 4"]\n')
    r = sipdiag("regress", str(bad))
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == ("Error: capture x.pcap: metric 'mos >= 4' is not 'NAME OP NUMBER' with NAME "
                                        "one of calls, answered, one_way_calls, no_rtp_calls, streams, mos_mean, "
                                        "mos_min, loss_pct_max, registrations, registrations_failed, findings, "
                                        "anomalies")
    bad.write_text("not toml [")
    r = sipdiag("regress", str(bad))
    assert r.returncode == 2 and r.stderr.startswith(f"Error: {bad} is not a valid TOML suite")
    assert "Traceback" not in r.stderr


def test_a_rule_or_category_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    """A typo in not_fire would pass for ever (nothing by that name ever fires): the suite is refused instead."""
    bad = tmp_path / "typo.toml"
    clean = SAMPLES / "clean_call.pcap"
    for entry, message in (
        ('not_fire = ["media.one-way-adio"]', "not_fire 'media.one-way-adio' names no rule"),
        ('fire = ["nat.nope"]', "fire 'nat.nope' names no rule"),
        ('categories_absent = ["medya"]', "'medya' is not a category (one of nat, router, codec, registration, "
                                          "signaling, media, security)"),
    ):
        bad.write_text(f'[[capture]]\nfile = "{clean}"\n{entry}\n')
        r = sipdiag("regress", str(bad))
        assert r.returncode == 2, r.stderr
        assert r.stderr.splitlines()[0].startswith(f"Error: capture {clean}: {message}")
    bad.write_text(f'[[capture]]\nfile = "{clean}"\nnot_fire = ["media", "call.ack"]\ncategories_absent = ["nat"]\n')
    r = sipdiag("regress", str(bad))
    assert r.returncode == 0, r.stdout + r.stderr


def test_an_internal_error_fails_its_capture_and_the_suite_goes_on(tmp_path: Path, monkeypatch) -> None:
    """A bug met while analysing one capture (not a SipdiagError) ended the run with 'Error: internal error', no
    table and no JUnit file; now that capture's 'capture is analysed' case is a JUnit error naming it (sipdiag's
    fault: a <failure> would blame the equipment under test), the others are checked."""
    from click.testing import CliRunner

    from sipdiag import analysis, cli

    real = analysis.analyze

    def analyze_or_crash(path, *args, **kwargs):
        if Path(path).name == "nat_one_way_audio.pcap":
            raise RuntimeError("a bug")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(analysis, "analyze", analyze_or_crash)
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(samples=SAMPLES))
    junit = tmp_path / "out.xml"
    r = CliRunner().invoke(cli.cli, ["regress", str(suite), "--junit", str(junit)], env={"COLUMNS": "300"})
    assert r.exit_code == 1, r.output
    root = ET.parse(junit).getroot().find("testsuite")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "3", "1")
    failures = {(c.get("classname"), c.get("name")): c.find("failure").text
                for c in root.iter("testcase") if c.find("failure") is not None}
    assert sorted(failures) == [("clean_call.pcap", "calls == 2"), ("clean_call.pcap", "fires media.one-way-audio"),
                                ("missing.pcap", "capture is read")]
    errors = {(c.get("classname"), c.get("name")): (c.find("error").get("type"), c.find("error").text)
              for c in root.iter("testcase") if c.find("error") is not None}
    assert errors == {("nat_one_way_audio.pcap", "capture is analysed"): (
        "internal-error", "nat_one_way_audio.pcap: internal error (RuntimeError: a bug); a sipdiag bug, not a fault "
                          "of the capture: please report it")}
    lines = r.stdout.splitlines()
    assert lines[0].rstrip() == ("lab regressions: 3 of 7 expectations met, 1 capture failed with an internal "
                                 "error (please report)")
    assert any("nat_one_way_audio.pcap" in line and "ERROR internal error (RuntimeError: a bug); a sipdiag bug" in line
               for line in lines), r.stdout
