"""`analyze --format junit`: JUnit XML for the test lab's regression runs in CI (ARCHITECTURE.md, "The test lab").

One <testsuite> per capture; one <testcase> per call, failed when a finding at or above --fail-on names that
call; one <testcase> per capture-wide finding (registration, security, router rules: no call), failed when it is
at or above --fail-on. Test names are stable from run to run (`call #1 <Call-ID>`, the rule id), so CI can follow
a call's history; what changes (outcome, texts, frames) goes into the failure and <system-out>.

The layout is the one Jenkins, GitLab and pytest's --junitxml share. Wire text reaches the file through
ElementTree, which escapes markup; characters XML 1.0 forbids (§2.2: C0 controls but tab, LF, CR) are removed,
and so are C1 controls and bidi controls, which XML allows but which act on a terminal or reorder a CI page.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import PurePath
from typing import TextIO

from ..analysis import Analysis
from ..checks import Finding, Severity
from ..model import Call
from .safe import BIDI_CONTROLS

_NOT_XML = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff{BIDI_CONTROLS}]")


def xml_text(text: str) -> str:
    """Text XML 1.0 can carry and a terminal or browser shows as it is (markup is escaped by ElementTree)."""
    return _NOT_XML.sub("", text)


def render_junit(a: Analysis, out: TextIO, *, fail_on: str = "major", call: Call | None = None,
                 lang: str = "en") -> None:
    """Write the JUnit document. fail_on: critical, major, minor, info or never (nothing fails)."""
    threshold = None if fail_on == "never" else Severity.parse(fail_on)
    calls = a.calls if call is None else (call,)
    number = {c.call_id: i for i, c in enumerate(a.calls, 1)}
    shown = {c.call_id for c in calls}
    by_call: dict[str, list[Finding]] = {}
    wide: list[Finding] = []
    for f in a.findings:
        if call is not None and f.call_id not in (None, call.call_id):
            continue  # the findings `analyze --call` reports and sets the exit code with
        if f.call_id in shown:
            by_call.setdefault(f.call_id, []).append(f)
        else:  # no call, or a Call-ID that is not an INVITE call of the capture
            wide.append(f)

    name = "stdin" if a.capture.file == "-" else a.capture.file
    classname = re.sub(r"[^\w-]", "_", PurePath(name).name) or "capture"
    suite = ET.Element("testsuite", name=xml_text(name))
    props = ET.SubElement(suite, "properties")
    for key, value in (("capture", name), ("packets", str(a.capture.packets)), ("fail_on", fail_on)):
        ET.SubElement(props, "property", name=key, value=xml_text(value))
    failures = 0
    for c in calls:
        case = ET.SubElement(suite, "testcase", classname=f"{classname}.calls",
                             name=xml_text(f"call #{number[c.call_id]} {c.call_id}"))
        failures += _outcome(case, by_call.get(c.call_id, []), threshold, lang,
                             f"{c.caller} -> {c.callee}: {c.outcome}"
                             + (f", {c.final_status} {c.final_reason or ''}".rstrip() if c.final_status else ""))
    seen: dict[str, int] = {}
    for f in wide:
        seen[f.rule] = seen.get(f.rule, 0) + 1
        case = ET.SubElement(suite, "testcase", classname=f"{classname}.capture",
                             name=f.rule + (f" #{seen[f.rule]}" if seen[f.rule] > 1 else ""))
        failures += _outcome(case, [f], threshold, lang, None)
    tests = len(calls) + len(wide)
    for key, value in (("tests", tests), ("failures", failures), ("errors", 0), ("skipped", 0)):
        suite.set(key, str(value))
    root = ET.Element("testsuites", name="sipdiag", tests=str(tests), failures=str(failures), errors="0")
    root.append(suite)
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


def _outcome(case: ET.Element, findings: list[Finding], threshold: Severity | None, lang: str,
             summary: str | None) -> int:
    """Fail the testcase with the findings at or above the threshold; the others go to <system-out>."""
    failing = [f for f in findings if threshold is not None and f.severity >= threshold]
    passing = [f for f in findings if f not in failing]
    if failing:
        worst = max(failing, key=lambda f: f.severity)
        failure = ET.SubElement(case, "failure", type=worst.severity.label,
                                message=xml_text("; ".join(f"{f.severity.label} {f.rule}: {f.title_in(lang)}"
                                                           for f in failing)))
        failure.text = xml_text("\n\n".join(_describe(f, lang) for f in failing))
    lines = [summary] if summary else []
    lines += [_describe(f, lang) for f in passing]
    if lines:
        ET.SubElement(case, "system-out").text = xml_text("\n\n".join(lines))
    return 1 if failing else 0


LABELS = {
    "en": ("call", "owner", "frames", "customer", "engineer"),
    "ru": ("звонок", "ответственный", "кадры", "клиенту", "инженеру"),
}


def _describe(f: Finding, lang: str) -> str:
    call, owner, frames_label, customer, engineer = LABELS[lang]
    frames = ", ".join(map(str, f.frames[:20])) + (" ..." if len(f.frames) > 20 else "")
    return (f"[{f.severity.label}] {f.rule}: {f.title_in(lang)}\n"
            f"{call}: {f.call_id or '-'}; {owner}: {f.owner}; {frames_label}: {frames or '-'}\n"
            f"{customer}: {f.customer_text[lang]}\n"
            f"{engineer}: {f.engineer_text[lang]}")
