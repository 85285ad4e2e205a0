"""Regression suites for test labs: captures with expectations, run, tabulated and written as JUnit XML.

A suite is a TOML file:

    name = "lab"
    config = "lab-thresholds.toml"      # optional: rule thresholds for every capture (as analyze --config)
    [[capture]]
    file = "clean_call.pcap"            # relative to the suite file
    calls = 1                           # number of calls
    outcomes = ["answered"]             # the calls' outcomes, in capture order
    registration_outcomes = ["registered"]  # per binding, AOR + Contact (RFC 3261 §10), in order of first frame
    fire = ["media.one-way-audio"]      # rules (ids or prefixes) that must fire
    not_fire = ["media"]                # rules (ids or prefixes) that must not fire above info
    categories_present = ["nat"]        # at least one finding of the category (any severity)
    categories_absent = ["media"]       # no finding of the category above info
    metrics = ["mos_min >= 4.0", "loss_pct_max <= 1", "registrations_failed == 0"]

The lab's manifest (samples/pcaps/manifest.json) is such a suite as it stands: its captures' `file`, `calls`
(outcomes), `registrations` (outcomes) and `categories_present`/`categories_absent` are read as the same
expectations. The lab counts registrations as sipdiag does, one per binding (lab/facts.py registrations).
The `registrations` and `registrations_failed` metrics are the customer's (cases.summary): a scanner's or a password
guesser's REGISTERs are left out, as the registration rules leave them out; `registration_outcomes` lists every
binding.

Each expectation is one JUnit test case (classname: the capture), so a CI system shows exactly which one broke.

`config` (relative to the suite file, like `file`) names the thresholds the suite's expectations were written for:
every capture is analysed under them, so the suite means the same wherever it runs. `sipdiag regress --config FILE`
overrides it for one run (trying a suite against other thresholds). The table and the JUnit file (a testsuite
property `config`) say which thresholds ran.
"""

from __future__ import annotations

import json
import operator
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from .errors import SipdiagError, UsageError

METRIC_RE = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
INTERNAL_HINT = "a sipdiag bug, not a fault of the capture: please report it"
METRICS = ("calls", "answered", "one_way_calls", "no_rtp_calls", "streams", "mos_mean", "mos_min", "loss_pct_max",
           "registrations", "registrations_failed", "findings", "anomalies")


class SuiteError(UsageError):
    hint = "See 'sipdiag regress --help' for the suite format."


@dataclass(frozen=True, slots=True)
class Expectation:
    name: str  # what is checked, as shown: "calls == 1", "fires media.one-way-audio"
    kind: str
    value: Any


@dataclass(frozen=True, slots=True)
class CaseSpec:
    file: Path
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    capture: str
    expectation: str
    passed: bool
    message: str  # why it failed (what was found instead); "" when passed
    seconds: float = 0.0
    internal: bool = False  # failed because sipdiag met a bug analysing the capture, not because of the capture


@dataclass
class Report:
    suite: str
    outcomes: list[Outcome] = field(default_factory=list)
    config: str | None = None  # the thresholds file the captures were analysed under (as given); None: defaults
    settings: dict[str, Any] = field(default_factory=dict)  # its overrides of the defaults (checks.settings)

    @property
    def failed(self) -> list[Outcome]:
        """Every outcome not passed, internal errors included (any of them fails the run)."""
        return [o for o in self.outcomes if not o.passed]

    @property
    def errors(self) -> list[Outcome]:
        """The captures whose analysis met a bug: sipdiag's fault, to be reported, not an expectation missed."""
        return [o for o in self.outcomes if o.internal]


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    specs: list[CaseSpec]
    config: Path | None  # the suite's `config`, resolved against the suite's folder


def load_suite(path: str | Path) -> tuple[str, list[CaseSpec]]:
    suite = read_suite(path)
    return suite.name, suite.specs


def read_suite(path: str | Path) -> Suite:
    from .config import settings_file_problem

    p = Path(path)
    problem = settings_file_problem(p)
    if problem:
        raise SuiteError(f"cannot read the suite {path}: {problem}")
    try:
        text = p.read_bytes()
    except OSError as e:
        raise SuiteError(f"cannot read the suite {path}: {e.strerror or e}") from None
    kind = "JSON" if p.suffix == ".json" else "TOML"
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise SuiteError(f"{path} is not a valid {kind} suite: {e}") from None
    except RecursionError:  # nested hundreds deep: both parsers recurse once per level
        raise SuiteError(f"{path} is not a valid {kind} suite: it is nested too deeply") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path} is not a suite: its top level is not a table (object)")
    entries = data.get("capture") or data.get("captures")
    if not isinstance(entries, list) or not entries:
        raise SuiteError(f"{path} lists no captures ([[capture]] tables, or 'captures' in a lab manifest)")
    name = str(data.get("name") or p.stem)
    config = data.get("config")
    if config is not None and (not isinstance(config, str) or not config or "\x00" in config):
        raise SuiteError(f"{path}: 'config' must be the path of a thresholds file, not {_what(config)}")
    return Suite(name, [_spec(p.parent, e, i) for i, e in enumerate(entries, 1)],
                 p.parent / config if config is not None else None)


def suite_settings(suite: Suite, warn=None) -> dict[str, Any] | None:
    """The thresholds the suite's `config` names (a full tree), None without one. A file that cannot be read or is
    no valid configuration is one usage error, as `analyze --config` gives it."""
    from .config import load_config

    if suite.config is None:
        return None
    if not suite.config.is_file():
        raise SuiteError(f"the suite's config {suite.config} is not a file",
                         hint="'config' names a TOML file of rule thresholds, relative to the suite file.")
    return load_config(suite.config, warn=warn)


def _spec(base: Path, e: dict[str, Any], index: int) -> CaseSpec:
    if not isinstance(e, dict) or "file" not in e:
        raise SuiteError(f"capture #{index} of the suite has no 'file'")
    file = e["file"]
    if not isinstance(file, str) or not file or "\x00" in file:
        raise SuiteError(f"capture #{index} of the suite: 'file' must be a path, not {_what(file)}")
    out: list[Expectation] = []
    calls = e.get("calls")
    if isinstance(calls, list):  # a lab manifest: the calls with their outcomes
        outcomes = [c.get("outcome") if isinstance(c, dict) else _bad(file, "calls", "a list of tables") for c in calls]
        out.append(Expectation(f"calls == {len(calls)}", "metric", ("calls", "==", float(len(calls)))))
        out.append(Expectation(f"outcomes {outcomes}", "outcomes", outcomes))
    elif calls is not None:
        if not isinstance(calls, int) or isinstance(calls, bool) or calls < 0:  # `calls = true` passed as 1
            _bad(file, "calls", "a number of calls (or a lab manifest's list of calls)")
        out.append(Expectation(f"calls == {calls}", "metric", ("calls", "==", float(calls))))
    registrations = e.get("registrations")
    if isinstance(registrations, list) and registrations:  # a lab manifest: registration outcomes
        outcomes = [r.get("outcome") if isinstance(r, dict) else _bad(file, "registrations", "a list of tables")
                    for r in registrations]
        out.append(Expectation(f"registration outcomes {outcomes}", "registrations", outcomes))
    elif "registration_outcomes" in e:
        wanted = _strings(e, "registration_outcomes")
        out.append(Expectation(f"registration outcomes {wanted}", "registrations", wanted))
    if "outcomes" in e:
        wanted = _strings(e, "outcomes")
        out.append(Expectation(f"outcomes {wanted}", "outcomes", wanted))
    for rule in _strings(e, "fire"):
        out.append(Expectation(f"fires {_known_rule(e, 'fire', rule)}", "fire", rule))
    for rule in _strings(e, "not_fire"):
        out.append(Expectation(f"does not fire {_known_rule(e, 'not_fire', rule)}", "not_fire", rule))
    for cat in _strings(e, "categories_present"):
        out.append(Expectation(f"category {_known_category(e, cat)} present", "present", cat))
    for cat in _strings(e, "categories_absent"):
        out.append(Expectation(f"category {_known_category(e, cat)} absent", "absent", cat))
    for text in _strings(e, "metrics"):
        m = METRIC_RE.match(str(text))
        if m is None or m.group(1) not in METRICS:
            raise SuiteError(f"capture {e['file']}: metric {text!r} is not 'NAME OP NUMBER' with NAME one of "
                             f"{', '.join(METRICS)}")
        out.append(Expectation(f"{m.group(1)} {m.group(2)} {m.group(3)}", "metric",
                               (m.group(1), m.group(2), float(m.group(3)))))
    return CaseSpec(base / str(e["file"]), tuple(out))


def _strings(e: dict[str, Any], key: str) -> list[str]:
    """A list of strings from the suite ('fire = "media"' was taken letter by letter, an integer raised)."""
    value = e.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _bad(e["file"], key, "a list of strings")
    return value


def _bad(file: str, key: str, wanted: str) -> NoReturn:
    raise SuiteError(f"capture {file}: '{key}' must be {wanted}")


def _what(value: Any) -> str:
    return f"{type(value).__name__} {str(value)[:40]!r}" if not isinstance(value, str) else repr(value[:40])


def _known_rule(e: dict[str, Any], key: str, rule: Any) -> str:
    """A mistyped rule in `not_fire` would pass for ever, and in `fire` fail with no clue why: both are refused."""
    from .checks import names_a_rule

    if not isinstance(rule, str) or not names_a_rule(rule):
        raise SuiteError(f"capture {e['file']}: {key} {rule!r} names no rule ('sipdiag rules' lists the ids)")
    return rule


def _known_category(e: dict[str, Any], cat: Any) -> str:
    from .checks import CATEGORIES

    if cat not in CATEGORIES:
        raise SuiteError(f"capture {e['file']}: {cat!r} is not a category (one of {', '.join(CATEGORIES)})")
    return cat


def run_suite(path: str | Path, *, settings: Mapping[str, Any] | None = None, config: str | None = None,
              warn=None) -> Report:
    """Run the suite at `path`. settings: thresholds for this run instead of the suite's own `config` (a full tree,
    sipdiag.config.load_config), `config` the name to report them by; warn: as load_config's, for the suite's."""
    import time

    from .analysis import analyze
    from .cases.summary import summarize
    from .checks import Severity, selected
    from .checks.settings import overrides

    suite = read_suite(path)
    if settings is None and suite.config is not None:
        settings, config = suite_settings(suite, warn), str(suite.config)
    if settings is not None and config is None:
        config = "(given)"
    report = Report(suite.name, config=config if settings is not None else None, settings=overrides(settings))
    for spec in suite.specs:
        label = spec.file.name
        started = time.perf_counter()
        try:
            a = analyze(spec.file, settings=settings)
            summary = summarize(a)
        except SipdiagError as e:
            report.outcomes.append(Outcome(label, "capture is read", False, f"{e}", 0.0))
            continue
        except Exception as e:  # a bug, not bad input: this capture's test case fails naming it (as the CLI words
            # it) and the suite goes on; raised, it ended the run with no table and no JUnit file for the others
            report.outcomes.append(Outcome(label, "capture is analysed", False,
                                           f"internal error ({type(e).__name__}: {e})", 0.0, internal=True))
            continue
        figures = {**summary["figures"], "findings": len(a.findings), "anomalies": len(a.anomalies)}
        elapsed = time.perf_counter() - started
        for x in spec.expectations:
            passed, message = _check(x, a, figures, Severity, selected)
            report.outcomes.append(Outcome(label, x.name, passed, message, round(elapsed / len(spec.expectations), 4)))
    return report


def _check(x: Expectation, a, figures: dict[str, Any], Severity, selected) -> tuple[bool, str]:
    above_info = [f for f in a.findings if f.severity > Severity.INFO]
    if x.kind == "metric":
        metric, op, number = x.value
        got = figures.get(metric)
        if got is None:
            return False, f"{metric} is not known for this capture (no value)"
        return (True, "") if OPS[op](got, number) else (False, f"{metric} is {got}")
    if x.kind == "outcomes":
        got = [c.outcome for c in a.calls]
        return (True, "") if got == x.value else (False, f"outcomes are {got}")
    if x.kind == "registrations":
        got = [r.outcome for r in a.registrations]
        return (True, "") if got == x.value else (False, f"registration outcomes are {got}")
    if x.kind == "fire":
        hits = [f for f in a.findings if selected(f.rule, (x.value,))]
        return (True, "") if hits else (False, f"{x.value} did not fire; fired: {_rules(a.findings)}")
    if x.kind == "not_fire":
        hits = [f for f in above_info if selected(f.rule, (x.value,))]
        return (True, "") if not hits else (False, "fired: " + _rules(hits))
    if x.kind == "present":
        hits = [f for f in a.findings if f.category == x.value]
        return (True, "") if hits else (False, f"no {x.value} finding; categories found: "
                                                 f"{sorted({f.category for f in a.findings}) or 'none'}")
    if x.kind == "absent":
        hits = [f for f in above_info if f.category == x.value]
        return (True, "") if not hits else (False, "found: " + _rules(hits))
    raise AssertionError(x.kind)


def _rules(findings) -> str:
    return ", ".join(f"{f.rule} ({f.severity.label}{', ' + f.call_id if f.call_id else ''})" for f in findings) \
        or "none"


def junit_xml(report: Report) -> str:
    """JUnit XML: one testsuite, one testcase per (capture, expectation); failures carry what was found. An
    internal error is a JUnit <error> (the test could not run), not a <failure> (the equipment under test missed an
    expectation): CI shows it apart, and nobody goes after the device for sipdiag's bug."""
    import xml.etree.ElementTree as ET

    from .reports.junit import xml_text as clean  # what XML 1.0 cannot carry, as `--format junit` does

    suite = ET.Element("testsuite", name=clean(report.suite), tests=str(len(report.outcomes)),
                       failures=str(len(report.failed) - len(report.errors)), errors=str(len(report.errors)),
                       time=f"{sum(o.seconds for o in report.outcomes):.3f}")
    if report.config is not None:  # the thresholds the expectations were checked under (JUnit's properties)
        from .config import describe

        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="config", value=clean(report.config))
        ET.SubElement(properties, "property", name="settings", value=clean(describe(report.settings)))
    for o in report.outcomes:
        case = ET.SubElement(suite, "testcase", classname=clean(o.capture), name=clean(o.expectation),
                             time=f"{o.seconds:.3f}")
        if o.internal:
            error = ET.SubElement(case, "error", message=clean(o.message[:500]), type="internal-error")
            error.text = clean(f"{o.capture}: {o.message}; {INTERNAL_HINT}")
        elif not o.passed:
            failure = ET.SubElement(case, "failure", message=clean(o.message[:500]), type="expectation")
            failure.text = clean(f"{o.capture}: expected {o.expectation}; {o.message}")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
