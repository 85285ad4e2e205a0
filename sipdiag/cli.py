"""The `sipdiag` command: a thin click layer over the library (STYLE.md G1).

Each command parses its arguments, makes one library call and hands the result to a reporter. Library errors are
turned into one `Error: …` line plus a hint, with the documented exit code, in one place (`SipdiagGroup`).
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .checks import FAIL_ON_LEVELS, rule_option
from .errors import EXIT_FINDINGS, EXIT_INPUT, SipdiagError, UsageError

FORMATS = ("terminal", "json", "html", "csv", "junit")


class CliError(click.ClickException):
    """A library error as click shows it: `Error: message`, then the hint on its own line. Both are made printable
    (sipdiag.reports.safe): they quote file names and wire text, and a newline or an ESC sequence in a file name
    would otherwise split the one error line or act on the terminal."""

    def __init__(self, message: str, exit_code: int, hint: str | None = None) -> None:
        from .reports.safe import printable

        super().__init__(printable(message) + (f"\nHint: {printable(hint)}" if hint else ""))
        self.exit_code = exit_code


class OneLineUsageError(click.UsageError):
    """click's usage error as one `Error:` line and a hint, like every other error (click prints the usage
    synopsis and a blank line first, so the error was the third line of four). Exit code 2, as click's."""

    def show(self, file=None) -> None:
        from .reports.safe import printable

        hint = ""
        if self.ctx is not None and self.ctx.command.get_help_option(self.ctx) is not None:
            hint = f"\nHint: try '{self.ctx.command_path} --help'."
        click.echo(f"Error: {printable(self.format_message())}{hint}", file=file or sys.stderr)


def _one_line(e: click.UsageError) -> OneLineUsageError:
    return e if isinstance(e, OneLineUsageError) else OneLineUsageError(e.format_message(), e.ctx)


class SipdiagGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:  # the group's own options (`sipdiag --bogus`)
            raise _one_line(e) from None

    def invoke(self, ctx: click.Context):
        _tolerant_output()
        try:
            return super().invoke(ctx)
        except click.UsageError as e:  # a sub-command's arguments, parsed while this group invokes it
            raise _one_line(e) from None
        except SipdiagError as e:
            raise CliError(str(e), e.exit_code, e.hint) from e
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)
        except click.FileError as e:  # an -o FILE (or an input click opens) that cannot be opened: exit 3, as
            # documented for a file that cannot be read or written, not click's 1 (which means findings here)
            raise CliError(f"{e.ui_filename}: cannot open ({e.message})", EXIT_INPUT,
                           "check that the folder exists and that you may write there.") from e
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as e:  # mostly writing a report (-o on a full disk, /dev/full), often only when click
            # closes the file, which names none; the readers raise typed SipdiagErrors of their own
            if e.filename:
                raise CliError(f"{e.filename}: {e.strerror or e}", EXIT_INPUT,
                               "check the path, the free space and the permissions.") from e
            raise CliError(f"cannot write the output: {e.strerror or e}", EXIT_INPUT,
                           "check the free space and the path given to -o.") from e
        except Exception as e:  # a bug, not bad input: still one line for the engineer, the trace on request
            if os.environ.get("SIPDIAG_DEBUG"):
                raise
            raise CliError(f"internal error ({type(e).__name__}: {e})", EXIT_INPUT, "run again with SIPDIAG_DEBUG=1 "
                           "to see where, and report it with the capture if you can share it.") from e


def _tolerant_output() -> None:
    """A terminal whose encoding cannot show a character (PYTHONIOENCODING=ascii, a latin-1 locale) gets it as a
    visible \\uNNNN escape instead of a UnicodeEncodeError: a Cyrillic display name or a line separator from the
    wire would otherwise end `watch`, `batch` or `case show` with an internal error. Reports written through
    `-o` are UTF-8 whatever the terminal. A UTF-8 stream is left as it is: click hands it to `-o -` itself only
    while its errors setting is the strict one click asks for (`watch` tells the report on stdout by that)."""
    import codecs
    import io

    for stream in (sys.stdout, sys.stderr):
        if (isinstance(stream, io.TextIOWrapper) and stream.errors == "strict"
                and codecs.lookup(stream.encoding).name != "utf-8"):
            stream.reconfigure(errors="backslashreplace")


def _config_warning(line: str) -> None:
    """A --config key that is valid but no rule reads (sipdiag.config.NOT_READ): said, not an error."""
    click.echo(f"Warning: {line}", err=True)


@click.group(cls=SipdiagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="sipdiag")
def cli() -> None:
    """SIP/VoIP diagnostics from packet captures.

    Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 usage error, 3 unreadable input.
    """


@cli.command()
@click.argument("capture", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True,
              help="Output format: json (the versioned document, see 'sipdiag schema'), csv (one table for a "
                   "spreadsheet), junit (JUnit XML for CI: a testcase per call and per capture-wide finding).")
@click.option("--csv-table", type=click.Choice(("calls", "findings")), default=None,
              help="With --format csv: the table to write, one row per call (default) or per finding.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="Write the report to a file instead of standard output.")
@click.option("--call", "call_ref", metavar="CALL-ID|#N", help="Only this call: its Call-ID or #N from the calls table.")
@click.option("--fail-on", type=click.Choice(FAIL_ON_LEVELS), default="major",
              show_default=True, help="Exit 1 when a finding is at least this severe.")
@click.option("--select", multiple=True, metavar="RULE", callback=rule_option,
              help="Run only these rules (id or prefix, repeatable).")
@click.option("--ignore", multiple=True, metavar="RULE", callback=rule_option,
              help="Leave these rules out (id or prefix, repeatable).")
@click.option("--lang", type=click.Choice(("en", "ru")), default="en", show_default=True,
              help="Language of the customer and engineer texts.")
@click.option("--ticket", metavar="ID", help="File the capture and its analysis under this ticket (case store).")
@click.option("--customer", metavar="NAME", help="With --ticket: the customer's name.")
@click.option("--vantage", type=click.Choice(("phone-lan", "cpe-wan", "operator-edge", "trunk")),
              help="With --ticket: where the capture was taken.")
@click.option("--notify", metavar="URL", help="With --ticket: POST the filing as JSON to a ticket system.")
@click.option("--store", metavar="URL", envvar="SIPDIAG_STORE",
              help="Case store for --ticket (default: $SIPDIAG_STORE, else SQLite in the user's data directory).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Rule thresholds in TOML (RULES.md §5); only the keys given change. "
                   "docs/config-defaults.toml lists them all.")
@click.option("--engine", type=click.Choice(("native", "tshark")), default="native", show_default=True,
              help="Who dissects the capture: native (sipdiag's own reader, fast) or tshark (Wireshark through "
                   "pyshark, slow: SIP over TLS with --keylog, encapsulations only Wireshark opens).")
@click.option("--keylog", metavar="FILE",
              help="With --engine tshark: TLS key log (SSLKEYLOGFILE format) to decrypt SIP over TLS.")
def analyze(capture: str, fmt: str, csv_table: str | None, output, call_ref: str | None, fail_on: str,
            select: tuple[str, ...], ignore: tuple[str, ...], lang: str, ticket: str | None, customer: str | None,
            vantage: str | None, notify: str | None, store: str | None, config_path: str | None, engine: str,
            keylog: str | None) -> None:
    """Analyze a pcap/pcapng capture (also gzip-compressed, or '-' for standard input).

    Prints the capture summary, the calls and registrations, and the details of calls with problems.

    In Python: ``sipdiag.analyze(path)`` (``engine="tshark", keylog=...`` for --engine/--keylog); one call:
    ``analysis.find_call("#2")``; a format: ``sipdiag.reports.render(analysis, "csv", out, csv_table="findings")``;
    the HTML page: ``sipdiag.reports.html.render_html(analysis, file)``.

    Example:

    \b
        sipdiag analyze samples/pcaps/clean_call.pcap
        sipdiag analyze call.pcapng --format json > call.json
        sipdiag analyze call.pcapng --call '#2'
        sipdiag analyze call.pcapng --config sipdiag.toml
        sipdiag analyze call.pcapng --format csv --csv-table findings -o findings.csv
        sipdiag analyze call.pcapng --format junit --fail-on minor -o junit.xml
        sipdiag analyze call.pcapng --format html -o report.html
        sipdiag analyze sips.pcapng --engine tshark --keylog sslkeys.log
    """
    if csv_table is not None and fmt != "csv":
        raise UsageError("--csv-table applies to --format csv only",
                         hint="Add --format csv, or leave --csv-table out.")
    from .config import load_config
    from .ingest import prestart

    # before the capture: a bad file fails fast
    settings = load_config(config_path, warn=_config_warning) if config_path else None
    if (customer is not None or vantage is not None or notify is not None) and ticket is None:
        raise UsageError("--customer, --vantage and --notify file a capture: they need --ticket",
                         hint="sipdiag analyze FILE --ticket T-123 --customer NAME")
    if ticket is not None and capture == "-":
        raise UsageError("a capture from standard input cannot be filed under a ticket",
                         hint="Save it to a file first; the case keeps its SHA-256 and name.")
    cases = None
    if ticket is not None:  # a bad ticket id, --notify address or case store fails before the capture is read
        from .cases import CaseStore
        from .cases.store import check_ticket
        from .cases.webhook import check_url

        ticket = check_ticket(ticket)  # "" too: an empty --ticket filed nothing, silently
        if notify is not None:
            check_url(notify)
        cases = CaseStore(store)
        click.get_current_context().call_on_close(cases.close)  # closed with the command, however it ends
    if engine == "native":
        prestart(capture)  # the reader works on the other core while the rest of the pipeline is imported
    # Run as the `sipdiag` program, one analysis per process ended by os._exit: the cyclic collector has nothing
    # to win. Left on, it wakes once analyze() has re-enabled it and walks every object the analysis made (~50 ms
    # on the 1 M-packet benchmark capture, twice) while the report is written. Called in-process (click's test
    # runner, a program embedding the command), the collector is switched back on when the command ends.
    import gc

    if gc.isenabled():
        gc.disable()
        if not _console:
            click.get_current_context().call_on_close(gc.enable)
    from .analysis import analyze as run_analysis
    from .reports import render

    from .checks import fails

    # The rule engine runs on both cores, its first stage while the streams are bound to calls and rated
    # (sipdiag.checks.background); JSON is written calls and streams first, while the rest of the rules run.
    from dataclasses import replace

    from .checks.background import EarlyRules, start_checks

    early = EarlyRules(select=select, ignore=ignore, settings=settings)
    analysis = run_analysis(capture, select=select, ignore=ignore, settings=settings, rules=False, engine=engine,
                            keylog=keylog, early=early)
    call = analysis.find_call(call_ref) if call_ref else None
    pending = start_checks(analysis, select=select, ignore=ignore, settings=settings, early=early)
    if fmt != "json":  # the other reports start with the findings
        analysis = replace(analysis, findings=pending())
    render(analysis, fmt, output, call=call, lang=lang, fail_on=fail_on, csv_table=csv_table or "calls",
           findings=pending if fmt == "json" else None)
    if fmt == "json":
        analysis = replace(analysis, findings=pending())
    if cases is not None:
        from .casecli import filing_line

        filing = cases.file(ticket, capture, customer=customer, vantage=vantage, analysis=analysis, notify=notify)
        click.echo(filing_line(filing), err=True)
    # Done: the report file (-o) is closed by click's context before main() sees the exit, the reader and
    # rule-engine processes are joined, the case store is closed.
    end_without_teardown()
    if fails((f for f in analysis.findings if call is None or f.call_id in (None, call.call_id)), fail_on):
        sys.exit(EXIT_FINDINGS)


@cli.command()
@click.argument("capture", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--call", "call_ref", metavar="CALL-ID|#N", help="Only this call (default: every call).")
@click.option("--format", "fmt", type=click.Choice(("terminal", "text", "mermaid")), default="terminal",
              show_default=True, help="terminal (colours), text (plain), mermaid (sequenceDiagram for a ticket).")
@click.option("--width", type=click.IntRange(40, 1000), default=None, help="Line width (default: the terminal's).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Write to a file.")
def flow(capture: str, call_ref: str | None, fmt: str, width: int | None, output) -> None:
    """Draw the ladder diagram of calls: hosts as columns, messages with time offsets, retransmissions marked.

    In Python: ``sipdiag.reports.flow.render_flow(calls, "mermaid", sys.stdout)``.

    Example:

    \b
        sipdiag flow samples/pcaps/ack_dropped.pcap
        sipdiag flow call.pcap --call '#1' --format mermaid > ladder.mmd
    """
    from .analysis import analyze as run_analysis
    from .reports.flow import render_flow

    analysis = run_analysis(capture)
    calls = [analysis.find_call(call_ref)] if call_ref else list(analysis.calls)
    render_flow(calls, fmt, output, width=width, clock=analysis.capture.clock)


@cli.command()
@click.argument("capture", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(("terminal", "json")), default="terminal", show_default=True,
              help="Output format.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Write to a file.")
@click.option("--lang", type=click.Choice(("en", "ru")), default="en", show_default=True,
              help="Language of the table (as analyze --lang; the JSON is the same in both).")
def streams(capture: str, fmt: str, output, lang: str) -> None:
    """List every RTP stream like 'tshark -z rtp,streams': packets, loss, max delta, jitter, MOS, and the call
    each one belongs to (bound through SDP, symmetric-RTP latching or a heuristic).

    In Python: ``sipdiag.analyze(path).streams``.

    Example:

    \b
        sipdiag streams samples/pcaps/rtp_loss.pcap
        sipdiag streams samples/pcaps/rtp_loss.pcap --lang ru
    """
    from .analysis import analyze as run_analysis
    from .reports.streams import render_streams

    render_streams(run_analysis(capture), fmt, output, lang=lang)


@cli.command()
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Write to a file.")
def schema(output) -> None:
    """Print the JSON Schema (draft 2020-12) of 'analyze --format json': the contract a ticket system or a test
    lab validates the document against; its version is the document's 'schema' field.

    In Python: ``sipdiag.reports.contract.load_schema()``.

    Example:

    \b
        sipdiag schema > sipdiag.analysis-1.schema.json
    """
    from .reports.contract import schema_text

    output.write(schema_text())


@cli.command()
@click.argument("capture", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--audience", type=click.Choice(("customer", "engineer")), default="customer", show_default=True,
              help="customer: a message in plain words; engineer: a technical note with evidence.")
@click.option("--lang", type=click.Choice(("en", "ru")), default="en", show_default=True, help="Language.")
@click.option("--format", "fmt", type=click.Choice(("text", "markdown")), default="text", show_default=True,
              help="Plain text (e-mail) or Markdown (ticket systems); wire values are escaped for it.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Write to a file.")
@click.option("--call", "call_ref", metavar="CALL-ID|#N", help="Only this call (and findings tied to no call).")
@click.option("--select", multiple=True, metavar="RULE", callback=rule_option,
              help="Run only these rules (id or prefix, repeatable).")
@click.option("--ignore", multiple=True, metavar="RULE", callback=rule_option,
              help="Leave these rules out (id or prefix, repeatable).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Rule thresholds in TOML (RULES.md §5), as 'analyze --config' takes them.")
def reply(capture: str, audience: str, lang: str, fmt: str, output, call_ref: str | None, select: tuple[str, ...],
          ignore: tuple[str, ...], config_path: str | None) -> None:
    """Write a ready-to-send reply: for the customer (what we found, what to do, what we will do) or for the
    engineer (findings with frames and Wireshark filters, calls, what to change, capture facts).

    In Python: ``sipdiag.reports.reply.render_reply(analysis, sys.stdout, audience="customer", lang="ru")``.

    Example:

    \b
        sipdiag reply samples/pcaps/ack_dropped.pcap --lang ru
        sipdiag reply call.pcap --audience engineer --format markdown -o note.md
        sipdiag reply call.pcap --config sipdiag.toml
    """
    from .analysis import analyze as run_analysis
    from .config import load_config
    from .reports.reply import render_reply

    # the reply counts the customer's sign-ins by the thresholds its findings were judged by (Analysis.settings)
    settings = load_config(config_path, warn=_config_warning) if config_path else None
    analysis = run_analysis(capture, select=select, ignore=ignore, settings=settings)
    call = analysis.find_call(call_ref) if call_ref else None
    render_reply(analysis, output, audience=audience, lang=lang, fmt=fmt, call=call)


@cli.command()
@click.argument("capture", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--call", "call_refs", multiple=True, metavar="CALL-ID|#N",
              help="The call to extract: its Call-ID or #N from the calls table (repeatable).")
@click.option("--with-findings", is_flag=True, help="Every call with a finding at or above --min-severity.")
@click.option("--min-severity", type=click.Choice(("info", "minor", "major", "critical")), default="minor",
              show_default=True, help="With --with-findings: the least severe finding that selects a call.")
@click.option("-o", "--output", metavar="FILE",
              help="Output file, '-' for standard output (default: call-<Call-ID>.pcap or <capture>-findings.pcap).")
@click.option("--select", multiple=True, metavar="RULE", callback=rule_option,
              help="With --with-findings: only these rules count.")
@click.option("--ignore", multiple=True, metavar="RULE", callback=rule_option,
              help="With --with-findings: these rules do not count.")
def extract(capture: str, call_refs: tuple[str, ...], with_findings: bool, min_severity: str, output: str | None,
            select: tuple[str, ...], ignore: tuple[str, ...]) -> None:
    """Write the packets of a call to a new capture, ready to attach to a ticket: its SIP (retransmissions,
    fragments and TCP segments included) and the RTP and RTCP of its streams, with the original link type and
    timestamps (pcap stays pcap, pcapng stays pcapng with its interfaces).

    In Python: ``sipdiag.extract.extract_calls(path, analysis, [analysis.find_call("#1")], "call.pcap")``.

    Example:

    \b
        sipdiag extract samples/pcaps/ack_dropped.pcap --call '#1' -o ack.pcap
        sipdiag extract trunk.pcapng --with-findings
        sipdiag extract call.pcap --call '#2' -o - | wireshark -k -i -
    """
    from .analysis import analyze as run_analysis
    from .checks import Severity
    from .errors import UsageError
    from .extract import calls_with_findings, capture_format, default_output, extract_calls

    if not call_refs and not with_findings:
        raise UsageError("say which calls to extract", hint="Give --call CALL-ID|#N (repeatable) or --with-findings.")
    if capture == "-":
        raise UsageError("extract reads the capture twice and cannot take it from standard input",
                         hint="Save it to a file first, then run 'sipdiag extract FILE --call ID'.")
    analysis = run_analysis(capture, select=select, ignore=ignore)
    calls = [analysis.find_call(ref) for ref in call_refs]
    if with_findings:
        calls += calls_with_findings(analysis, Severity.parse(min_severity))
    calls = list({c.call_id: c for c in calls}.values())
    if not calls:
        click.echo(f"No call has a finding at or above {min_severity}: nothing written.", err=True)
        return
    target = output or default_output(capture, calls, with_findings and not call_refs, capture_format(capture))
    result = extract_calls(capture, analysis, calls, target)
    click.echo(f"Wrote {result.packets} packets ({result.sip} SIP, {result.rtp} RTP, {result.rtcp} RTCP) of "
               f"{len(result.calls)} call(s) to {target} ({result.format})", err=target == "-")


@cli.command()
@click.argument("capture", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Where to write the anonymised capture (same format as the input, uncompressed).")
@click.option("--key", metavar="TEXT", help="Key for the pseudonyms: the same key gives the same pseudonyms "
              "(default: a random key per run).")
@click.option("--drop-payload", is_flag=True, help="Zero RTP payloads (the voice); headers and statistics stay.")
@click.option("--drop-other", is_flag=True, help="Zero the payloads of protocols other than SIP, RTP, RTCP and "
              "STUN (DNS, DHCP, HTTP, TLS, ...), which are not looked into otherwise.")
def anonymize(capture: str, output: str, key: str | None, drop_payload: bool, drop_other: bool) -> None:
    """Write a copy of a capture that is safe to share: addresses, host names, user names, phone numbers and
    digest credentials replaced by consistent pseudonyms of the same length and class (private addresses
    stay private), checksums updated. The analysis of the copy finds the same problems.

    In Python: ``sipdiag.anonymize.anonymize(path, output, key=b"...")``.

    Example:

    \b
        sipdiag anonymize call.pcap -o call-anon.pcap
        sipdiag anonymize call.pcapng -o shared.pcapng --key ticket-4711 --drop-payload
    """
    from .anonymize import anonymize as run_anonymize
    from .reports.anonymized import render_anonymize_summary

    result = run_anonymize(capture, output, key=key.encode("utf-8") if key is not None else None,
                           drop_payload=drop_payload, drop_other=drop_other)
    render_anonymize_summary(result, sys.stderr)


@cli.group(invoke_without_command=True)
@click.option("--thresholds", is_flag=True, help="Under each rule, the thresholds it reads and their values.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Show the thresholds as this configuration sets them (implies --thresholds).")
@click.pass_context
def rules(ctx: click.Context, thresholds: bool, config_path: str | None) -> None:
    """List the rules: id, category, default severity, default owner, title.

    In Python: ``sipdiag.checks.all_rules()``; thresholds: ``sipdiag.config.settings_read_by(rule.func)``.

    Example:

    \b
        sipdiag rules
        sipdiag rules --config sipdiag.toml
        sipdiag rules explain call.ack-timeout-32s
    """
    if ctx.invoked_subcommand is None:
        from .checks import all_rules
        from .checks.settings import active
        from .config import load_config, lookup, settings_read_by

        effective = load_config(config_path, warn=_config_warning) if config_path else None
        for r in all_rules():
            with active(effective):  # a title that names a figure of the configuration (64*T1) gives this one's
                title = r.title
            click.echo(f"{r.id:28} {r.category:12} {r.severity.label:9} {r.owner:12} {title}")
            if thresholds or effective is not None:
                for path in settings_read_by(r.func):
                    value, default = lookup(path, effective) if effective else lookup(path), lookup(path)
                    click.echo(f"    {path} = {value}" + (f"  (default {default})" if value != default else ""))


@rules.command("explain")
@click.argument("rule_id")
def explain(rule_id: str) -> None:
    """Print a rule's documentation: what it detects, why it matters, how to fix, references.

    Example:

    \b
        sipdiag rules explain media.one-way-audio
    """
    from .checks import REGISTRY, all_rules
    from .errors import UsageError

    all_rules()
    rule = REGISTRY.get(rule_id)
    if rule is None:
        raise UsageError(f"no rule {rule_id!r}", hint="'sipdiag rules' lists them.")
    click.echo(f"{rule.id}: {rule.title}\ncategory {rule.category}, default severity {rule.severity.label}, "
               f"default owner {rule.owner}\n")
    for heading, text in rule.sections().items():
        click.echo(f"{heading}\n{text}\n")


from .casecli import case, verify  # noqa: E402 - the case store's commands live in their own module

from .batchcli import batch, regress  # noqa: E402
from .livecli import capture, watch  # noqa: E402 - live capture and the incremental analysis

cli.add_command(verify)
cli.add_command(case)
cli.add_command(batch)
cli.add_command(regress)
cli.add_command(capture)
cli.add_command(watch)


# Set by a command whose work is complete once it returns (its output written and closed, its child processes
# joined): the process then ends without tearing down the interpreter. Freeing a large analysis object by object
# (hundreds of thousands of small objects) took 0.18 s of a 2.3 s run on a 1 M-packet capture, for nothing.
_quick_exit = False
_console = False  # set by main(): the process is the `sipdiag` program and ends with the command


def own_process() -> bool:
    """Whether this process is the `sipdiag` program (main()), not a caller running the command in-process."""
    return _console


def end_without_teardown() -> None:
    """Called by a command once nothing is left open but its click-managed output file: main() then ends the
    process without freeing the heap object by object."""
    global _quick_exit
    _quick_exit = True


def main() -> None:
    """Console-script entry point."""
    global _console
    _console = True
    try:
        cli(prog_name="sipdiag")
    except SipdiagError as e:  # raised outside a command (should not happen), still one line
        from .reports.safe import printable

        click.echo(f"Error: {printable(str(e))}", err=True)
        sys.exit(EXIT_INPUT)
    except SystemExit as e:  # click ends every run with SystemExit (standalone mode)
        if not _quick_exit:
            raise
        _exit_now(e.code)


def _exit_now(code: object) -> None:
    """Flush what is buffered and end the process at once with `code` (SystemExit's convention)."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        click.echo(str(code), err=True)
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`| head`): what it took is all it wanted
        pass
    os._exit(status)
