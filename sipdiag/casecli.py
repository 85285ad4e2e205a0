"""`sipdiag case ...` and `sipdiag verify`: the command line of the case store (sipdiag.cases)."""

from __future__ import annotations

import json
import sys

import click

from .checks import FAIL_ON_LEVELS
from .errors import EXIT_FINDINGS

STORE_HELP = "Case store: a file path, sqlite:///PATH or postgresql://USER@HOST/DB (default: $SIPDIAG_STORE, else " \
             "a SQLite file in the user's data directory)."
store_option = click.option("--store", metavar="URL", envvar="SIPDIAG_STORE", help=STORE_HELP)


def _open(store: str | None):
    """The store of a `case` command: these read or update tickets already filed, so a store that does not exist
    (a mistyped --store) is an error rather than a new empty one."""
    from .cases import CaseStore

    return CaseStore(store, create=False)


def filing_line(filing) -> str:
    """One line for stderr after `analyze --ticket`: where it was filed and the triage."""
    from .reports.safe import printable as plain

    t = filing.triage
    text = (f"Filed under {plain(filing.ticket)} as filing #{filing.id}: {t.priority}, queue {t.queue}"
            + (f", main cause {t.rule}" if t.rule else ", registration down, no finding names the cause"
               if t.category == "registration" else ", nothing above info"))
    if filing.duplicate_of is not None:
        text = f"Already filed under {plain(filing.ticket)} as filing #{filing.duplicate_of} (same SHA-256); not filed again"
    if filing.seen_under:
        text += f" (the same capture is also filed under {', '.join(plain(x) for x in filing.seen_under)})"
    if filing.notification is not None and not filing.notification.delivered:
        text += f"; notification not delivered ({filing.notification.error}), kept: sipdiag case notify --pending"
    return text


# The comparison's outcomes (sipdiag.cases.compare) as the verdict line shows them.
VERDICTS = {"resolved": "RESOLVED", "not-resolved": "NOT RESOLVED", "not-verified": "NOT VERIFIED"}


@click.command()
@click.argument("ticket")
@click.argument("capture", type=click.Path(dir_okay=False))
@click.option("--fail-on", type=click.Choice(FAIL_ON_LEVELS), default="major",
              show_default=True, help="What counts as a problem: earlier ones must be gone, no new one may appear.")
@click.option("--lang", type=click.Choice(("en", "ru")), default="en", show_default=True,
              help="Language of the customer's message.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--vantage", type=click.Choice(("phone-lan", "cpe-wan", "operator-edge", "trunk")),
              help="Where the capture was taken.")
@click.option("--notify", metavar="URL", help="POST the verification as JSON to a ticket system.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Rule thresholds in TOML, as 'analyze --config' takes them (default: those the ticket's last "
                   "analysis was filed under).")
@store_option
def verify(ticket: str, capture: str, fail_on: str, lang: str, fmt: str, vantage: str | None, notify: str | None,
           config_path: str | None, store: str | None) -> None:
    """Verify a fix: compare a capture taken after it with the ticket's last analysis.

    Shows problems resolved, persisting and new (a customer's line that cannot sign in among them), the call and
    quality figures before and after, the thresholds used, and the message for the customer. A problem is a rule's
    findings of one title, as the reply groups them: a rule whose findings have several titles (an ACK timeout
    after 64 s and one after 32 s) makes several, each title named under its line. The capture is
    analysed under the thresholds the last analysis was filed under (its 'analyze --config'), or those of --config.
    Exit 0 when every earlier problem is resolved, nothing new is at or above --fail-on and no line is down, else 1.
    The verification is recorded; the ticket becomes 'resolved', or 'reopened' with its priority raised.

    Example:

    \b
        sipdiag analyze before.pcap --ticket T-123 --config strict.toml
        sipdiag verify T-123 after.pcap --lang ru
    """
    from collections import Counter

    from .cases.messages import verification_message
    from .cli import _config_warning
    from .config import load_config
    from .errors import UsageError
    from .reports.safe import printable as plain

    if capture == "-":  # as `analyze --ticket`: the filing keeps the capture's SHA-256 and name, a pipe has neither
        raise UsageError("a capture from standard input cannot be filed under a ticket",
                         hint="Save it to a file first; the case keeps its SHA-256 and name.")
    settings = load_config(config_path, warn=_config_warning) if config_path else None  # a bad file fails first
    with _open(store) as cases:
        v = cases.verify(ticket, capture, fail_on=fail_on, vantage=vantage, notify=notify, settings=settings)
        case = cases.show(ticket)
    message = verification_message(v, lang=lang, customer=case.customer, queue=case.queue, priority=case.priority)
    shown = settings_line(v, config_path)
    if fmt == "json":
        click.echo(json.dumps({"ticket": case.ticket, "filing": v.filing.id, "against_filing": v.before.id,
                               "passed": v.passed, "fail_on": fail_on, **v.comparison.as_dict(),
                               "status": case.status, "priority": case.priority, "customer_message": message,
                               "settings": {"source": v.settings_source, "overrides": v.settings,
                                            "filed": v.before.settings, "differ": v.settings_differ,
                                            "config": config_path}},
                              ensure_ascii=_at_terminal(), indent=2))
    else:
        c = v.comparison
        click.echo(f"Ticket {plain(case.ticket)}: verification #{v.filing.id} against analysis #{v.before.id}: "
                   + VERDICTS[c.outcome] + f" (problems: {fail_on} and above)")
        if c.unverified or c.lines_unverified:
            click.echo(f"  the capture holds no {c.missing['en']}: it cannot show the problems below gone")
        changes = (("resolved", c.resolved), ("persisting", c.persisting), ("new", c.new),
                   ("unverified", c.unverified))
        # a rule whose findings make several problems (several titles: a 64 s and a 32 s ACK timeout; statuses):
        # each named under its line, or the engineer could not tell which of them is gone and which remains
        rules = Counter(r.rule for _, items in changes for r in items)
        for label, items in changes:
            for r in items:
                click.echo(f"  {label:10} {r.rule:34} before {r.severity_before or '-':8} x{r.count_before}  "
                           f"after {r.severity_after or '-':8} x{r.count_after}")
                if rules[r.rule] > 1:
                    status = f"final status {r.status}: " if r.status is not None else ""
                    click.echo(f"  {'':10} {status}{plain(r.title)}")
        for label, lines in (("resolved", c.lines_resolved), ("persisting", c.lines_persisting),
                             ("new", c.lines_new), ("unverified", c.lines_unverified)):
            for x in lines:  # the AOR is wire text: shown escaped
                name = f"line {plain(x.line)}" if x.line is not None else "a line (not named by the filing)"
                click.echo(f"  {label:10} {name:34} before {x.before:8}     after {x.after}")
        click.echo("  figure                 before     after")
        for name, (b, a) in c.figures.items():
            click.echo(f"  {name:22} {str(b):10} {a}")
        click.echo(shown)
        click.echo(f"Ticket is now {case.status}, priority {case.priority}, queue {case.queue}.\n")
        click.echo(message, nl=False)
    if v.settings_differ:
        click.echo("Warning: the thresholds differ from those of the analysis verified against: a problem may "
                   "appear or vanish only because of them.", err=True)
    if v.filing.notification is not None and not v.filing.notification.delivered:
        click.echo(f"Warning: notification not delivered ({v.filing.notification.error}); kept, re-send with "
                   "'sipdiag case notify --pending'.", err=True)
    if not v.passed:
        sys.exit(EXIT_FINDINGS)


def settings_line(v, config_path: str | None) -> str:
    """Which thresholds the capture after the fix was analysed under, and whether they are the filing's."""
    from pathlib import Path

    from .config import describe
    from .reports.safe import printable as plain

    used, filed, against = describe(v.settings), v.before.settings, f"analysis #{v.before.id}"
    if v.settings_source == "unrecorded":
        return (f"Thresholds: {used} ({against} was filed by an older sipdiag, which did not record its thresholds; "
                "give them with --config FILE if they were others)")
    if v.settings_source == "filing":
        return f"Thresholds: {used}, as {against} was analysed under"
    given = f"{plain(Path(config_path).name)} (--config)" if config_path else "given"
    if filed is None:
        return f"Thresholds: {given}: {used}; {against} did not record its own"
    if v.settings_differ:
        return f"Thresholds: {given}: {used}; {against} was analysed under {describe(filed)}"
    return f"Thresholds: {given}: {used}, as {against} was analysed under"


@click.group()
def case() -> None:
    """Tickets in the case store: show, list, reply, close, notify.

    Example:

    \b
        sipdiag analyze call.pcap --ticket T-123 --customer "ACME Ltd"
        sipdiag case list --open
        sipdiag case show T-123
        sipdiag case reply T-123 --lang ru
        sipdiag case close T-123
    """


@case.command("show")
@click.argument("ticket")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@store_option
def case_show(ticket: str, fmt: str, store: str | None) -> None:
    """A ticket: status, triage, and every capture filed under it with its findings."""
    from .reports.safe import printable as plain

    with _open(store) as cases:
        c = cases.show(ticket)
    if fmt == "json":
        click.echo(json.dumps(_case_record(c, with_filings=True), ensure_ascii=_at_terminal(), indent=2))
        return
    click.echo(f"Ticket {plain(c.ticket)}  customer {plain(c.customer or '-')}  status {c.status}  "
               f"priority {c.priority or '-'}  queue {c.queue or '-'}")
    if c.reason:
        click.echo(f"Triage: {plain(c.reason)}")
    for f in c.filings:
        verdict = ""
        if f.verdict is not None:  # verdicts filed before `outcome` existed have passed only
            verdict = "  " + VERDICTS[f.verdict.get("outcome") or ("resolved" if f.verdict.get("passed")
                                                                    else "not-resolved")]
        fig = f.summary["figures"]
        click.echo(f"  #{f.id} {f.kind:12} {f.filed_at[:19]}  {plain(f.capture_name)}  sha256 {f.sha256[:12]}  "
                   f"vantage {f.vantage or '-'}  calls {fig['calls']}  {f.triage.priority}{verdict}")
        if f.settings:  # the defaults, or not recorded (filed by an older sipdiag): nothing to say
            from .config import describe

            click.echo(f"      thresholds: {plain(describe(f.settings))}")
        for finding in f.summary["findings"]:
            if finding["severity"] != "info":
                click.echo(f"      {finding['severity']:8} {finding['rule']:34} {plain(finding['call_id'] or '')}")


@case.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only tickets that are not closed.")
@click.option("--queue", type=click.Choice(("first-line", "engineering", "network", "security")))
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@store_option
def case_list(open_only: bool, queue: str | None, fmt: str, store: str | None) -> None:
    """Tickets, most recently changed first."""
    from .reports.safe import printable as plain

    with _open(store) as cases:
        items = cases.list(open_only=open_only, queue=queue)
    if fmt == "json":
        click.echo(json.dumps([_case_record(c) for c in items], ensure_ascii=_at_terminal(), indent=2))
        return
    for c in items:
        click.echo(f"{plain(c.ticket):16} {c.status:9} {c.priority or '-':3} {c.queue or '-':12} "
                   f"{c.category or '-':12} {c.updated_at[:19]}  {plain(c.customer or '')}")


@case.command("reply")
@click.argument("ticket")
@click.option("--lang", type=click.Choice(("en", "ru")), default="en", show_default=True)
@click.option("--audience", type=click.Choice(("customer", "engineer")), default="customer", show_default=True)
@click.option("--format", "fmt", type=click.Choice(("text", "markdown")), default="text", show_default=True)
@store_option
def case_reply(ticket: str, lang: str, audience: str, fmt: str, store: str | None) -> None:
    """The ready-to-send message for the ticket's latest analysis (as 'sipdiag reply' wrote it when filed)."""
    with _open(store) as cases:
        click.echo(cases.reply(ticket, audience=audience, lang=lang, fmt=fmt), nl=False)


@case.command("close")
@click.argument("ticket")
@store_option
def case_close(ticket: str, store: str | None) -> None:
    """Close a ticket (a later filing under it reopens it)."""
    from .reports.safe import printable as plain

    with _open(store) as cases:
        if not cases.close(ticket):
            closed_at = cases.show(ticket).closed_at or "-"
            click.echo(f"Ticket {plain(ticket.strip())} was already closed ({closed_at[:19]}).")
            return
    click.echo(f"Ticket {plain(ticket.strip())} closed.")


@case.command("notify")
@click.option("--pending", is_flag=True, required=True, help="Re-send every notification not yet delivered.")
@store_option
def case_notify(pending: bool, store: str | None) -> None:
    """Re-send the notifications a ticket system did not accept. Exit 1 when some are still pending."""
    with _open(store) as cases:
        results = cases.resend_pending()
    failed = 0
    for nid, d in results:
        click.echo(f"notification #{nid}: " + ("delivered" if d.delivered else f"still pending ({d.error})"))
        failed += not d.delivered
    if not results:
        click.echo("No pending notifications.")
    if failed:
        sys.exit(EXIT_FINDINGS)


def _case_record(c, *, with_filings: bool = False) -> dict:
    record = {"ticket": c.ticket, "customer": c.customer, "status": c.status, "priority": c.priority,
              "queue": c.queue, "category": c.category, "reason": c.reason, "created_at": c.created_at,
              "updated_at": c.updated_at, "closed_at": c.closed_at}
    if with_filings:
        record["filings"] = [{"id": f.id, "kind": f.kind, "filed_at": f.filed_at, "capture": f.capture_name,
                              "sha256": f.sha256, "vantage": f.vantage, "triage": f.triage.as_dict(),
                              "figures": f.summary["figures"], "findings": f.summary["findings"],
                              "verdict": f.verdict, "settings": f.settings} for f in c.filings]
    return record


def _at_terminal() -> bool:
    """JSON for a person at a terminal is ASCII (\\u escapes), as analyze's: C1 controls and bidi overrides in a
    customer name or ticket text would otherwise reach the screen raw. A pipe or a file gets UTF-8."""
    return sys.stdout.isatty()
