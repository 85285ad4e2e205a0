"""A case's registration figures and triage count the customer's registrations: a scanner's REGISTERs are the
attack's finding (sec.scanner-detected), not a registration of the customer's that is down."""

from __future__ import annotations

from pathlib import Path

import sipdiag
from sipdiag.cases.summary import summarize
from sipdiag.cases.triage import triage
from tests import callcapture as cc
from tests.integration.test_rules_scan import sweep

PHONE = "198.51.100.7:5060"  # the customer's phone: the call's UA, whose REGISTER the registrar refuses


def capture(path: Path, *, refused_phone: bool) -> Path:
    """A call with 2 % loss on the phone's stream (media.packet-loss, minor) and, during it, svwar's REGISTERs for
    100-104 (friendly-scanner, each answered 404); with refused_phone, the phone's own REGISTER answered 403."""
    records = [(int(at * cc.S), cc.frame(text, src, dst))
               for at, text, src, dst in sweep("REGISTER", range(100, 105), ua="friendly-scanner")]
    if refused_phone:
        register = cc.register_text(1, "p1", via=PHONE, contact=f"sip:100@{PHONE}")
        refused = cc.register_response(1, "p1", "403 Forbidden", via=PHONE)
        records += [(6 * cc.S, cc.frame(register, cc.UA, cc.PBX)), (6 * cc.S + 10**7, cc.frame(refused, cc.PBX, cc.UA))]
    return cc.answered_call(path, drop_every=50, extra=tuple(records))


def figures_and_triage(path: Path) -> tuple:
    a = sipdiag.analyze(path)
    summary = summarize(a)
    t = triage(summary)
    return ([(f.rule, f.severity.label) for f in a.findings],
            {k: summary["figures"][k] for k in ("calls", "answered", "registrations", "registrations_failed")},
            (t.rule, t.priority, t.queue, t.affected_calls, t.calls), t.reason)


def test_a_scanners_failed_registers_are_no_registration_down(tmp_path) -> None:
    """Five REGISTERs, none accepted, all the scanner's: counted, they made "registration down" (P1) of a capture
    whose only problem is a minor loss on its one call."""
    assert figures_and_triage(capture(tmp_path / "scan.pcap", refused_phone=False)) == (
        [("media.packet-loss", "minor"), ("sec.scanner-detected", "info")],
        {"calls": 1, "answered": 1, "registrations": 0, "registrations_failed": 0},
        ("media.packet-loss", "P3", "engineering", 1, 1),
        "main cause media.packet-loss (minor, owner engineering); minor problem on every call -> P3; queue "
        "engineering: owner engineering: a platform or configuration change")


def test_the_customers_refused_register_beside_a_scan_still_counts(tmp_path) -> None:
    """The phone's REGISTER refused 403 is the customer's one registration, and it failed; the scanner's five are
    not counted with it."""
    assert figures_and_triage(capture(tmp_path / "both.pcap", refused_phone=True)) == (
        [("reg.rejected", "critical"), ("media.packet-loss", "minor"), ("sec.scanner-detected", "info")],
        {"calls": 1, "answered": 1, "registrations": 1, "registrations_failed": 1},
        ("reg.rejected", "P1", "engineering", 1, 1),
        "main cause reg.rejected (critical, owner engineering); critical finding -> P1; queue engineering: owner "
        "engineering: a platform or configuration change")
