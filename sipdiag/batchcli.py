"""`sipdiag batch` and `sipdiag regress`: many captures at once (sipdiag.batch, sipdiag.regress)."""

from __future__ import annotations

import sys
from collections import Counter

import click

from .checks import FAIL_ON_LEVELS
from .errors import EXIT_FINDINGS, UsageError

INTERRUPTED = 130  # the shell's code for SIGINT; the partial summary is written first


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-j", "--jobs", type=click.IntRange(1, 512), help="Worker processes (default: one per core).")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run on this Dask distributed scheduler instead.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write captures/calls/findings tables here.")
@click.option("--out-format", type=click.Choice(("parquet", "csv")), default="parquet", show_default=True)
@click.option("--resume", is_flag=True, help="Complete an interrupted batch in --out (only what its journal lacks).")
@click.option("--ticket-from-name", "ticket_pattern", metavar="REGEX",
              help="File each capture under the ticket its file name gives (group 'ticket' or the first group).")
@click.option("--store", metavar="URL", envvar="SIPDIAG_STORE", help="Case store for --ticket-from-name.")
@click.option("--fail-on", type=click.Choice(FAIL_ON_LEVELS), default="never",
              show_default=True, help="Exit 1 when a capture has a finding at least this severe.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Rule thresholds in TOML for every capture, as 'analyze --config' takes them; each capture row "
                   "(column settings) and each filing records them.")
def batch(paths: tuple[str, ...], jobs: int | None, scheduler: str | None, out_dir: str | None, out_format: str,
          resume: bool, ticket_pattern: str | None, store: str | None, fail_on: str, config_path: str | None) -> None:
    """Analyse many captures in parallel and summarise them: one row per capture, per call and per finding.

    PATHS are files, folders (searched recursively for .pcap/.pcapng/.cap, gzipped too) and glob patterns. A bad
    file is reported and skipped. Ctrl-C writes what is done; run again with --resume to complete it.

    In Python: ``sipdiag.batch.analyze_many(paths, jobs=4)`` (pandas DataFrames).

    Example:

    \b
        sipdiag batch captures/ --out summary/
        sipdiag batch 'captures/**/*.pcapng' --jobs 8 --out summary/ --out-format csv
        sipdiag batch captures/ --scheduler tcp://10.0.0.5:8786 --out summary/
        sipdiag batch captures/ --ticket-from-name '(T-\\d+)' --store postgresql://support@db/sipdiag
        sipdiag batch captures/ --config strict.toml --out summary/
    """
    import gc
    import re

    from .cli import own_process

    # The heavy imports that follow (the pipeline, rich, pandas with pyarrow) make many objects: with the cyclic
    # collector on, its full passes over the growing heap took ~70 ms of the batch's serial start. The analyses
    # switch it back on for their own garbage (sipdiag.batch._run).
    if own_process() and gc.isenabled():
        gc.disable()
    from .batch import Options, analyze_many, expand
    from .cli import _config_warning
    from .config import load_config
    from .reports.safe import console

    settings = load_config(config_path, warn=_config_warning) if config_path else None  # before anything starts
    files = expand(paths)  # a path that matches nothing is an error before anything starts
    if not files:  # only folders without a capture in them: a wrong folder, not an empty summary that exits 0
        from .batch import CAPTURE_SUFFIXES

        raise UsageError(f"no capture file in {', '.join(paths)}",
                         hint=f"Folders are searched for {', '.join(s for s in CAPTURE_SUFFIXES)} files; give other "
                              f"files by name or by a glob pattern.")
    if resume and not out_dir:
        raise UsageError("--resume needs --out: the journal of the interrupted batch is there",
                         hint="sipdiag batch PATHS --out DIR --resume")
    if ticket_pattern:
        try:
            re.compile(ticket_pattern)
        except re.error as e:
            raise UsageError(f"--ticket-from-name is not a regular expression: {e}") from None
        from .cases import CaseStore

        CaseStore(store).close()  # an unknown or unreachable store stops the batch before it starts, not per row
    # The bar (and its refresh thread) starts with the first result: by then the worker pool has been forked. Rich's
    # progress module is imported then too (~55 ms): with --jobs 2 or more, in this process while the batch's master
    # warms the pipeline on the other core, not before the master is forked (sipdiag.batch._mastered).
    state: dict = {}

    def progress(done: int, total: int, rows: dict) -> None:
        import time

        now = time.monotonic()
        if "bar" not in state:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn

            columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                       TimeRemainingColumn())
            state["bar"] = Progress(*columns, console=console(sys.stderr), transient=False)
            state["bar"].start()
            state["task"] = state["bar"].add_task("analysing", total=total, rate="")
            state["start"] = (now, done - 1)
        t0, d0 = state["start"]
        rate = (done - d0) / (now - t0) if now > t0 else 0.0
        state["bar"].update(state["task"], completed=done, total=total, rate=f"{rate:.1f}/s")

    try:
        result = analyze_many(files, jobs=jobs, scheduler=scheduler, out_dir=out_dir, resume=resume,
                              options=Options(ticket_pattern, store, settings), progress=progress)
    finally:
        if "bar" in state:
            state["bar"].stop()
    written = result.save(out_dir, out_format) if out_dir else []
    overview(result, console(sys.stdout))
    from .cli import end_without_teardown

    end_without_teardown()  # the pool is shut down and the journal closed: 0.2 s of teardown saved (pandas, pool)
    for path in written:
        click.echo(f"wrote {path}", err=True)
    if result.interrupted:
        click.echo(f"Interrupted: {result.done} of {result.total} captures done"
                   + (f"; complete with: sipdiag batch ... --out {out_dir} --resume" if out_dir else ""), err=True)
        sys.exit(INTERRUPTED)
    if fail_on != "never":
        from .cases.triage import SEVERITY_RANK

        rank = SEVERITY_RANK[fail_on]
        if any(SEVERITY_RANK[s] >= rank for s in result.findings["severity"]):
            sys.exit(EXIT_FINDINGS)


def overview(result, console) -> None:
    """Top findings, worst calls, errors, and the captures by priority, as tables."""
    from rich.table import Table

    from .batch import INTERNAL
    from .reports.safe import terminal_text as t

    caps, calls, findings = result.captures, result.calls, result.findings
    ok = int((caps["status"] == "ok").sum()) if len(caps) else 0
    unfiled = caps[(caps["status"] == "ok") & caps["error"].notna()] if len(caps) else caps
    # An internal error is sipdiag's fault, not the capture's: counted as "could not be read" it sent the engineer
    # after a damaged capture. (A row from an older journal has no error_kind: it counts as unreadable, as it did.)
    internal = caps[(caps["status"] == "error") & (caps["error_kind"] == INTERNAL)] if len(caps) else caps
    unreadable = result.done - ok - len(internal)
    console.print(f"{result.done} of {result.total} captures analysed: {ok} read, {unreadable} could not be read"
                  + (f", {len(internal)} failed with an internal error (please report)" if len(internal) else "")
                  + f"; {len(calls)} calls, {len(findings)} findings"
                  + (f"; {len(unfiled)} not filed under a ticket" if len(unfiled) else ""))
    if len(findings):
        top = Table(title="Top findings", title_justify="left")
        for col in ("rule", "severity", "owner", "findings", "captures"):
            top.add_column(col)
        grouped = findings.groupby(["rule", "severity", "owner"]).agg(n=("path", "size"), caps=("path", "nunique"))
        grouped = grouped.reset_index().sort_values(["n", "rule"], ascending=[False, True]).head(10)
        for _, r in grouped.iterrows():
            top.add_row(t(r["rule"]), r["severity"], r["owner"], str(r["n"]), str(r["caps"]))
        console.print(top)
    bad = calls[calls["worst_severity"].isin(["critical", "major"]) | (calls["audio"] == "one-way")] \
        if len(calls) else calls
    if len(bad):
        worst = Table(title="Worst calls", title_justify="left")
        for col in ("capture", "call", "outcome", "audio", "MOS", "worst", "findings"):
            worst.add_column(col)
        order = {"critical": 0, "major": 1, "minor": 2, "info": 3}
        bad = bad.assign(_o=bad["worst_severity"].map(order).fillna(4)).sort_values(["_o", "mos_min"]).head(10)
        for _, r in bad.iterrows():
            worst.add_row(t(r["path"].rsplit("/", 1)[-1]), t(str(r["call_id"])[:40]), r["outcome"], str(r["audio"]),
                          "" if r["mos_min"] != r["mos_min"] or r["mos_min"] is None else f"{r['mos_min']:.2f}",
                          str(r["worst_severity"] or ""), str(r["findings"]))
        console.print(worst)
    if len(calls):
        agents = Counter(a for a in calls["user_agent"] if isinstance(a, str))
        if agents:
            dev = Table(title="By device (User-Agent)", title_justify="left")
            for col in ("device", "calls", "calls with major+"):
                dev.add_column(col)
            majors = Counter(a for a, w in zip(calls["user_agent"], calls["worst_severity"])
                             if isinstance(a, str) and w in ("critical", "major"))
            for agent, n in agents.most_common(10):
                dev.add_row(t(agent[:60]), str(n), str(majors.get(agent, 0)))
            console.print(dev)
    errors = caps[caps["status"] == "error"] if len(caps) else caps
    for _, r in errors.iterrows():
        if r["error_kind"] == INTERNAL:
            console.print(f"sipdiag failed on {t(r['path'])}: {t(str(r['error']))}; please report it (with the "
                          "capture if you can share it)")
        else:
            console.print(f"could not read {t(r['path'])}: {t(str(r['error']))}")
    for _, r in unfiled.iterrows():
        console.print(f"{t(r['path'])}: {t(str(r['error']))}")


@click.command()
@click.argument("suite", type=click.Path(dir_okay=False))
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Rule thresholds in TOML for every capture, as 'analyze --config' takes them, instead of the "
                   "suite's own 'config'.")
def regress(suite: str, junit_path: str | None, config_path: str | None) -> None:
    """Run a regression suite: captures with expectations (calls and outcomes, rules that must or must not fire,
    categories, metric bounds). Prints a table; exit 1 when any expectation fails.

    SUITE is a TOML suite (see sipdiag.regress) or a lab manifest (samples/pcaps/manifest.json). The captures are
    analysed under the thresholds file the suite names ('config = "FILE"', relative to the suite), or --config's.

    Example:

    \b
        sipdiag regress samples/pcaps/manifest.json --junit lab.xml
        sipdiag regress lab-suite.toml
        sipdiag regress lab-suite.toml --config strict.toml
    """
    from rich.table import Table

    from .cli import _config_warning
    from .config import describe, load_config
    from .regress import INTERNAL_HINT, junit_xml, run_suite
    from .reports.safe import console
    from .reports.safe import terminal_text as t

    settings = load_config(config_path, warn=_config_warning) if config_path else None
    report = run_suite(suite, settings=settings, config=config_path, warn=_config_warning)
    errors = len(report.errors)
    table = Table(title=f"{t(report.suite)}: {len(report.outcomes) - len(report.failed)} of {len(report.outcomes)} "
                        "expectations met"
                        + (f", {errors} capture{'s' * (errors != 1)} failed with an internal error (please report)"
                           if errors else ""),
                  title_justify="left")
    for col in ("capture", "expectation", "result"):
        table.add_column(col)
    for o in report.outcomes:
        result = "ok" if o.passed else f"[red]ERROR[/red] {t(o.message)}; {INTERNAL_HINT}" if o.internal \
            else f"[red]FAIL[/red] {t(o.message)}"
        table.add_row(t(o.capture), t(o.expectation), result)
    console(sys.stdout).print(table)
    if report.config:  # a line of its own: wrapped into the title, a long path split it over three
        from .reports.safe import printable

        click.echo(f"Thresholds: {printable(report.config)}: {printable(describe(report.settings))}")
    if junit_path:
        try:
            with open(junit_path, "w", encoding="utf-8") as f:
                f.write(junit_xml(report))
        except OSError as e:
            raise UsageError(f"cannot write {junit_path}: {e.strerror or e}") from None
    if report.failed:
        sys.exit(EXIT_FINDINGS)
