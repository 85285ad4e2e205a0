"""The `sipdiag` command: a thin click layer over the library (STYLE.md G1).

Each command parses its arguments, makes one library call and hands the result to a reporter. Library errors are
turned into one `Error: …` line plus a hint, with the documented exit code, in one place (`SipdiagGroup`).
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .errors import EXIT_FINDINGS, EXIT_INPUT, SipdiagError

FORMATS = ("terminal", "json")


class CliError(click.ClickException):
    """A library error as click shows it: `Error: message`, then the hint on its own line."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SipdiagGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SipdiagError as e:
            text = str(e) + (f"\nHint: {e.hint}" if e.hint else "")
            raise CliError(text, e.exit_code) from e
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as e:  # a bug, not bad input: still one line for the engineer, the trace on request
            if os.environ.get("SIPDIAG_DEBUG"):
                raise
            raise CliError(f"internal error ({type(e).__name__}: {e})\nHint: run again with SIPDIAG_DEBUG=1 "
                           f"to see where, and report it with the capture if you can share it.", EXIT_INPUT) from e


@click.group(cls=SipdiagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="sipdiag")
def cli() -> None:
    """SIP/VoIP diagnostics from packet captures.

    Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 usage error, 3 unreadable input.
    """


@cli.command()
@click.argument("capture", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True,
              help="Output format.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="Write the report to a file instead of standard output.")
@click.option("--call", "call_ref", metavar="CALL-ID|#N", help="Only this call: its Call-ID or #N from the calls table.")
@click.option("--fail-on", type=click.Choice(("critical", "major", "minor", "info", "never")), default="major",
              show_default=True, help="Exit 1 when a finding is at least this severe.")
@click.option("--select", multiple=True, metavar="RULE", help="Run only these rules (id or prefix, repeatable).")
@click.option("--ignore", multiple=True, metavar="RULE", help="Leave these rules out (id or prefix, repeatable).")
@click.option("--lang", type=click.Choice(("en", "ru")), default="en", show_default=True,
              help="Language of the customer and engineer texts.")
def analyze(capture: str, fmt: str, output, call_ref: str | None, fail_on: str, select: tuple[str, ...],
            ignore: tuple[str, ...], lang: str) -> None:
    """Analyze a pcap/pcapng capture (also gzip-compressed, or '-' for standard input).

    Prints the capture summary, the calls and registrations, and the details of calls with problems.

    In Python: ``sipdiag.analyze(path)``; one call: ``analysis.find_call("#2")``.

    Example:

    \b
        sipdiag analyze samples/pcaps/clean_call.pcap
        sipdiag analyze call.pcapng --format json > call.json
        sipdiag analyze call.pcapng --call '#2'
    """
    from .ingest import prestart

    prestart(capture)  # the reader works on the other core while the rest of the pipeline is imported
    from .analysis import analyze as run_analysis
    from .reports import render

    from .checks import Severity, worst

    analysis = run_analysis(capture, keep_messages=False, select=select, ignore=ignore)
    call = analysis.find_call(call_ref) if call_ref else None
    render(analysis, fmt, output, call=call, lang=lang)
    top = worst(f for f in analysis.findings if call is None or f.call_id in (None, call.call_id))
    if fail_on != "never" and top is not None and top >= Severity.parse(fail_on):
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

    analysis = run_analysis(capture, keep_messages=False)
    calls = [analysis.find_call(call_ref)] if call_ref else list(analysis.calls)
    render_flow(calls, fmt, output, width=width)


@cli.command()
@click.argument("capture", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(("terminal", "json")), default="terminal", show_default=True,
              help="Output format.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Write to a file.")
def streams(capture: str, fmt: str, output) -> None:
    """List every RTP stream like 'tshark -z rtp,streams': packets, loss, max delta, jitter, MOS, and the call
    each one belongs to (bound through SDP, symmetric-RTP latching or a heuristic).

    In Python: ``sipdiag.analyze(path).streams``.

    Example:

    \b
        sipdiag streams samples/pcaps/rtp_loss.pcap
    """
    from .analysis import analyze as run_analysis
    from .reports.streams import render_streams

    render_streams(run_analysis(capture, keep_messages=False), fmt, output)


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
@click.pass_context
def rules(ctx: click.Context) -> None:
    """List the rules: id, category, default severity, owner, title.

    In Python: ``sipdiag.checks.all_rules()``.

    Example:

    \b
        sipdiag rules
        sipdiag rules explain call.ack-timeout-32s
    """
    if ctx.invoked_subcommand is None:
        from .checks import all_rules

        for r in all_rules():
            click.echo(f"{r.id:28} {r.category:12} {r.severity.label:9} {r.owner:12} {r.title}")


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
               f"owner {rule.owner}\n")
    for heading, text in rule.sections().items():
        click.echo(f"{heading}\n{text}\n")


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="sipdiag")
    except SipdiagError as e:  # raised outside a command (should not happen), still one line
        click.echo(f"Error: {e}", err=True)
        sys.exit(EXIT_INPUT)
