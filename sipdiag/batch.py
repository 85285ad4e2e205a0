"""Batch diagnostics: many captures analysed in parallel, on all cores or on a Dask cluster, summarised as pandas
frames (issue 9).

    from sipdiag.batch import analyze_many
    result = analyze_many(["captures/"], jobs=4)          # files, folders (searched recursively) and globs
    result.captures   # one row per capture: figures, worst severity, main cause, priority, queue, error
    result.calls      # one row per call: outcome, timings, audio verdict, MOS, findings
    result.findings   # one row per finding: rule, severity, owner, call, frames, engineer text
    result.save("out/", fmt="parquet")                    # captures.parquet, calls.parquet, findings.parquet

Each capture is analysed by a worker that returns plain rows (small and picklable, whatever the capture's size).
A capture that cannot be read, or whose analysis meets a bug ("internal error (...)", as the CLI words it), is a row
with its error, never the end of the batch; the row's `error_kind` tells them apart (`unreadable`: the capture's
fault; `internal`: sipdiag's, to be reported; `filing`: analysed, but not filed under its ticket). With `out_dir`,
every finished capture is appended to a journal (`batch-journal.jsonl`, one flushed line each) before it counts as
done: an interrupted batch leaves a consistent partial summary, and `resume=True` analyses only what the journal
lacks, or holds as not filed under its ticket (the case store was unreachable): those are analysed and filed again.
"""

from __future__ import annotations

import gc
import glob
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checks import Severity
from .errors import SipdiagError, UsageError
from .reports.safe import encodable

if TYPE_CHECKING:
    import pandas as pd

    from .analysis import Analysis

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")
JOURNAL = "batch-journal.jsonl"
TABLES = ("captures", "calls", "findings")
SEVERITIES = tuple(s.label for s in sorted(Severity, reverse=True))  # critical first
# A row's `error_kind`, beside its `error` text: whose fault it is decides who acts. A capture that cannot be read is
# the customer's (take it again); an internal error is sipdiag's (report it), the capture may well be fine.
UNREADABLE, INTERNAL, FILING = "unreadable", "internal", "filing"


@dataclass(frozen=True, slots=True)
class Options:
    """What each worker needs besides the path (picklable: it travels to pool and cluster workers)."""

    ticket_pattern: str | None = None  # a regex over the file name giving the ticket id (group 'ticket', or 1)
    store: str | None = None  # case store URL for the filings (must be reachable from the workers)
    # The rule thresholds every capture is analysed under (a full tree, sipdiag.config.load_config; None: the
    # defaults). Each capture row records them (`settings`, their overrides of the defaults as JSON), and so does
    # each filing. Out of the hash (a dict has none); equality still compares it.
    settings: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def settings_text(self) -> str:
        """The thresholds as a row records them: their overrides of the defaults, one canonical JSON text ({}:
        the defaults), which --resume compares with a journal row's."""
        from .checks.settings import overrides

        return json.dumps(overrides(self.settings), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders searched recursively for captures (by suffix); glob patterns expanded. Sorted,
    without duplicates. A path that matches nothing is a usage error naming it."""
    found: dict[str, Path] = {}
    for raw in paths:
        text = str(raw)
        p = Path(text)
        if p.is_dir():
            for q in sorted(p.rglob("*")):
                if q.is_file() and q.name.lower().endswith(CAPTURE_SUFFIXES):
                    found.setdefault(str(q), q)
        elif p.exists():
            found.setdefault(text, p)
        elif glob.has_magic(text):
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True)) if Path(m).is_file()]
            if not matches:
                raise UsageError(f"no file matches {text!r}", hint="Quote the pattern so that sipdiag expands it.")
            for m in matches:
                found.setdefault(str(m), m)
        else:
            raise UsageError(f"no such file or folder: {text}", hint="Give capture files, folders or glob patterns.")
    return sorted(found.values(), key=str)


def ticket_from_name(pattern: str, name: str) -> str | None:
    m = re.search(pattern, name)
    if m is None:
        return None
    if "ticket" in m.re.groupindex:
        return m.group("ticket")
    return m.group(1) if m.re.groups else m.group(0)


def analyze_one(path: str, options: Options = Options()) -> dict[str, Any]:
    """The rows of one capture (the worker's job). Never raises for a bad capture, nor for a bug met while
    analysing it: the error is in the row."""
    from .analysis import analyze

    started = time.perf_counter()
    settings = options.settings_text
    try:
        st = os.stat(path)
        base = {"path": path, "name": Path(path).name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "settings": settings}
    except OSError as e:  # gone (or unreadable) since the folder was listed
        base = {"path": path, "name": Path(path).name, "size": None, "mtime_ns": None, "settings": settings}
        return _error_row(base, f"{path}: cannot read ({e.strerror or e})", started, UNREADABLE)
    try:
        a = analyze(path, settings=options.settings)
        return _capture_rows(path, a, base, options, started)
    except SipdiagError as e:
        return _error_row(base, str(e), started, UNREADABLE)
    except Exception as e:  # a bug, not bad input: this capture's row names it (as the CLI words it), the batch
        # goes on; raised, it ended the whole batch (and with --jobs N came back through the pool's future)
        return _error_row(base, f"internal error ({type(e).__name__}: {e})", started, INTERNAL)


def _capture_rows(path: str, a: Analysis, base: dict[str, Any], options: Options, started: float) -> dict[str, Any]:
    from .cases.summary import summarize
    from .cases.triage import triage

    summary = summarize(a)
    t = triage(summary)
    ticket = filing_error = None
    if options.ticket_pattern:
        ticket = ticket_from_name(options.ticket_pattern, Path(path).name)
        if ticket:
            from .cases import CaseStore

            # The analysis stands even when its filing fails (a file name that gives no valid ticket id, a store
            # that went away): the row says why it was not filed, and the batch goes on.
            try:
                with CaseStore(options.store) as cases:
                    cases.file(ticket, path, analysis=a)
            except SipdiagError as e:
                filing_error, ticket = f"not filed under a ticket: {e}", None
    worst_by_call: dict[str, Severity] = {}
    count_by_call: dict[str, int] = {}
    for f in a.findings:
        if f.call_id:
            count_by_call[f.call_id] = count_by_call.get(f.call_id, 0) + 1
            worst_by_call[f.call_id] = max(f.severity, worst_by_call.get(f.call_id, f.severity))
    calls = []
    for c in a.calls:
        media = a.media_of(c)
        streams = [a.streams[i] for i in media.streams] if media else []
        mos = [s.quality.mos for s in streams if s.quality is not None]
        calls.append({
            "path": path, "call_id": c.call_id, "caller": c.caller, "callee": c.callee, "outcome": c.outcome,
            "final_status": c.final_status, "setup_ms": c.setup_ms, "answer_ms": c.answer_ms,
            "duration_s": c.duration_s, "user_agent": c.user_agents[0] if c.user_agents else None,
            "audio": media.verdict.verdict if media else None, "streams": len(streams),
            "mos_min": round(min(mos), 2) if mos else None,
            "loss_pct_max": max((s.stats.loss_pct for s in streams), default=None),
            # None for a stream the capture's clock steps within (not measured)
            "jitter_max_ms": max((s.stats.jitter_max_ms for s in streams if s.stats.jitter_max_ms is not None),
                                 default=None),
            "findings": count_by_call.get(c.call_id, 0),
            "worst_severity": worst_by_call[c.call_id].label if c.call_id in worst_by_call else None,
        })
    findings = [{"path": path, "rule": f.rule, "category": f.category, "severity": f.severity.label,
                 "owner": f.owner, "call_id": f.call_id, "title": f.title, "confidence": f.confidence,
                 "frames": " ".join(map(str, f.frames[:50])), "engineer_text": f.engineer_text.get("en", "")}
                for f in a.findings]
    by_severity = {s: sum(1 for f in findings if f["severity"] == s) for s in SEVERITIES}
    fig = summary["figures"]
    capture = {
        **_capture_base(base), "status": "ok", "error": filing_error, "packets": a.capture.packets,
        "duration_s": None if a.capture.duration_s is None else round(a.capture.duration_s, 3),
        "sip_messages": a.sip.messages, "calls": fig["calls"],
        "answered": fig["answered"], "one_way_calls": fig["one_way_calls"], "registrations": fig["registrations"],
        "registrations_failed": fig["registrations_failed"], "streams": fig["streams"], "mos_min": fig["mos_min"],
        "loss_pct_max": fig["loss_pct_max"], **{f"findings_{s}": n for s, n in by_severity.items()},
        "worst_severity": next((s for s in SEVERITIES if by_severity[s]), None), "main_cause": t.rule,
        "priority": t.priority, "queue": t.queue, "ticket": ticket, "anomalies": len(a.anomalies),
        "seconds": round(time.perf_counter() - started, 3), "error_kind": FILING if filing_error else None,
    }
    row = {**base, "capture": capture, "calls": calls, "findings": findings}
    if filing_error:
        row["unfiled"] = True  # --resume files it again: the store may be back, nothing is lost from it
    return row


def _error_row(base: dict[str, Any], error: str, started: float, kind: str) -> dict[str, Any]:
    return {**base, "capture": {**_capture_base(base), "status": "error", "error": error, "error_kind": kind,
                                "seconds": round(time.perf_counter() - started, 3)}, "calls": [], "findings": []}


def _capture_base(base: dict[str, Any]) -> dict[str, Any]:
    return {"path": base["path"], "name": base["name"], "size": base["size"], "settings": base.get("settings")}


# ------------------------------------------------------------------------------------------------ the run

@dataclass
class BatchResult:
    captures: pd.DataFrame
    calls: pd.DataFrame
    findings: pd.DataFrame
    total: int  # captures asked for
    done: int  # captures analysed (ok or error)
    interrupted: bool = False

    def save(self, out_dir: str | Path, fmt: str = "parquet") -> list[Path]:
        """captures/calls/findings as Parquet (pyarrow) or CSV; CSV cells that a spreadsheet would run as a formula
        are neutralised (OWASP CSV injection): wire values (Call-IDs, User-Agents) are hostile."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name in TABLES:
            frame = getattr(self, name)
            path = out / f"{name}.{fmt}"
            tmp = path.with_suffix(path.suffix + ".tmp")
            if fmt == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                _csv_safe(frame).to_csv(tmp, index=False)
            os.replace(tmp, path)  # a reader never sees half a file
            written.append(path)
        return written


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    from .reports.csv import cell

    out = frame.copy()
    for col in out.columns:
        out[col] = out[col].map(lambda v: cell(v) if isinstance(v, str) else v)
    return out


def analyze_many(paths: Iterable[str | Path], *, jobs: int | None = None, scheduler: str | None = None,
                 options: Options = Options(), out_dir: str | Path | None = None, resume: bool = False,
                 progress: Callable[[int, int, dict[str, Any]], None] | None = None) -> BatchResult:
    """Analyse every capture under `paths`; see the module docstring. `jobs`: worker processes (default: the
    cores); `scheduler`: a Dask scheduler address (`tcp://host:8786`), or a `distributed.Client`, instead of the
    local pool. `progress(done, total, rows)` is called after each capture. KeyboardInterrupt stops the batch
    after writing what is done; the result then has `interrupted=True`."""
    files = [str(p) for p in expand(paths)]
    journal = Path(out_dir) / JOURNAL if out_dir is not None else None
    done_rows: list[dict[str, Any]] = []
    if journal is not None:
        journal.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            done_rows = [r for r in read_journal(journal) if r["path"] in set(files)]
            done_rows = _still_current(done_rows, options.settings_text)
            if options.ticket_pattern:  # a filing that failed is tried again, with its analysis
                done_rows = [r for r in done_rows if not r.get("unfiled")]
        else:
            journal.write_text("")
        _rewrite_journal(journal, done_rows)
    finished = {r["path"] for r in done_rows}
    todo = [f for f in files if f not in finished]
    interrupted = False
    sink = _Journal(journal) if journal is not None else None
    try:
        for rows in _run(todo, jobs, scheduler, options):
            if sink is not None:
                sink.append(rows)
            done_rows.append(rows)
            if progress is not None:
                progress(len(done_rows), len(files), rows)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if sink is not None:
            sink.close()
    result = frames(done_rows, total=len(files), interrupted=interrupted)
    return result


def frames(rows: list[dict[str, Any]], *, total: int, interrupted: bool = False) -> BatchResult:
    import pandas as pd

    rows = sorted(rows, key=lambda r: r["path"])
    captures = pd.DataFrame([_encodable(r["capture"]) for r in rows], columns=_CAPTURE_COLUMNS)
    calls = pd.DataFrame([_encodable(c) for r in rows for c in r["calls"]], columns=_CALL_COLUMNS)
    findings = pd.DataFrame([_encodable(f) for r in rows for f in r["findings"]], columns=_FINDING_COLUMNS)
    return BatchResult(captures, calls, findings, total=total, done=len(rows), interrupted=interrupted)


def _encodable(record: dict[str, Any]) -> dict[str, Any]:
    """A row's text as pandas' Arrow strings (and Parquet, CSV) can hold it: a file name that is not UTF-8 comes
    with lone surrogates (surrogateescape) in path, name, ticket and error; the journal keeps the exact name."""
    return {k: encodable(v) if isinstance(v, str) else v for k, v in record.items()}


_CAPTURE_COLUMNS = ["path", "name", "size", "status", "error", "packets", "duration_s", "sip_messages", "calls",
                    "answered", "one_way_calls", "registrations", "registrations_failed", "streams", "mos_min",
                    "loss_pct_max", "findings_critical", "findings_major", "findings_minor", "findings_info",
                    "worst_severity", "main_cause", "priority", "queue", "ticket", "anomalies", "seconds",
                    "error_kind", "settings"]  # last: added after the others, a reader by position still finds them
_CALL_COLUMNS = ["path", "call_id", "caller", "callee", "outcome", "final_status", "setup_ms", "answer_ms",
                 "duration_s", "user_agent", "audio", "streams", "mos_min", "loss_pct_max", "jitter_max_ms",
                 "findings", "worst_severity"]
_FINDING_COLUMNS = ["path", "rule", "category", "severity", "owner", "call_id", "title", "confidence", "frames",
                    "engineer_text"]


def _run(todo: list[str], jobs: int | None, scheduler: Any, options: Options) -> Iterator[dict[str, Any]]:
    if not todo:
        return
    if scheduler is not None:
        yield from _run_dask(todo, scheduler, options)
        return
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        with _collecting():
            for path in todo:
                yield analyze_one(path, options)
        return
    import multiprocessing

    # fork where there is one: the workers start with the pipeline imported and the rules and the device knowledge
    # base loaded (warmed once) instead of each importing it (a spawned worker takes ~0.5 s to start): for per-call
    # captures that start-up would cost more than the work.
    if "fork" in multiprocessing.get_all_start_methods():
        yield from _mastered(todo, jobs, options)
        return
    context = multiprocessing.get_context("spawn")
    gc.freeze()
    try:
        yield from _pooled(todo, jobs, options, context, preload=True)
    finally:
        gc.unfreeze()


def _mastered(todo: list[str], jobs: int, options: Options) -> Iterator[dict[str, Any]]:
    """The rows of a forked pool run by a master process, while this one imports pandas for the summary tables.

    Why a master: warming the pipeline (~0.4 s of imports, the rules, the device knowledge base) is work one core
    does while the other idles, and pandas (0.3-0.5 s with pyarrow) is needed only at the end. In this process,
    pandas either comes last, serially, or (imported in a thread while the workers run) takes a core from them.
    Forked first, the master warms on one core while this process imports pandas on the other; the master then
    forks the workers from its warm heap and sends their rows here (a capture's rows are small). Measured on 200 lab
    captures, --jobs 2: the pool's part 1.17 s with the import beside it, 1.00 s without. (A fork server, warming a
    fresh interpreter instead, was slower: 0.88-0.96 s against 0.82-0.85 s; its start costs more than it overlaps.)"""
    import multiprocessing
    import signal

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    # not a daemon: a daemonic process may not have children, and the master's are the workers
    master = context.Process(target=_master, args=(todo, jobs, options, sender), name="sipdiag-batch-master")
    master.start()
    sender.close()
    finished = False
    try:
        _import_tables()
        while True:
            try:
                item = receiver.recv()
            except EOFError:  # the master ended without its end mark: it died (killed, out of memory)
                raise SipdiagError("the batch's master process ended before the batch did",
                                   hint="Run the batch again with --resume: what was done is in the journal.")
            if isinstance(item, str) and item == _END:
                finished = True
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        receiver.close()
        if not finished and master.is_alive():
            # This process stops early (Ctrl-C, a progress callback's exception, a consumer that stopped): the
            # master stops its pool as on Ctrl-C, the running analyses are cancelled, none is left running.
            # (SIGUSR1, not SIGINT: a batch started with SIGINT ignored, in the background, has it ignored there.)
            try:
                os.kill(master.pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass
        master.join(timeout=30)
        if master.is_alive():
            master.kill()
            master.join()


_END = "sipdiag-batch-end"  # the master's last message; rows are dicts, never this string


def _master(todo: list[str], jobs: int, options: Options, conn: Any) -> None:
    import multiprocessing
    import signal

    signal.signal(signal.SIGUSR1, _master_stopped)  # the parent's "stop": as Ctrl-C
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _master_stopped)
    try:
        _warm()
        # the objects the warm made stay out of the cyclic collections of the workers forked from here: otherwise
        # a worker's first collection walks, and so copies page by page, the inherited heap
        gc.freeze()
        for rows in _pooled(todo, jobs, options, multiprocessing.get_context("fork")):
            conn.send(rows)
        conn.send(_END)
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C, or the parent went away: _pooled stopped the pool
        pass
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            conn.send(e)
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            conn.send(RuntimeError(f"batch master failed: {type(e).__name__}: {e}"))
    finally:
        conn.close()


def _master_stopped(signum: int, frame: object) -> None:
    """Ctrl-C reaches the master and, an instant later, the parent's own "stop" (SIGUSR1) too: the first stops
    the pool; the second, raised again while the pool shuts down, cut that short and left the workers running.
    The second is handed to a handler that does nothing, not ignored (SIG_IGN): one that had already arrived,
    waiting for the interpreter to run its handler, then found SIG_IGN there, and Python printed "OSError: Signal
    10 ignored due to race condition" with a traceback on the terminal."""
    import signal

    signal.signal(signal.SIGUSR1, _stopped_already)
    signal.signal(signal.SIGINT, _stopped_already)
    raise KeyboardInterrupt


def _stopped_already(signum: int, frame: object) -> None:
    """The master's "stop" once it is stopping (see _master_stopped)."""


def _import_tables() -> None:
    try:
        import pandas  # noqa: F401
    except ImportError:  # frames() will raise it where it can be reported
        pass


def _pooled(todo: list[str], jobs: int, options: Options, context: Any, *, preload: bool = False
            ) -> Iterator[dict[str, Any]]:
    """The rows of every capture from a pool of `jobs` workers. A worker that dies (killed for memory, a crash
    in a library) breaks the whole pool, and its task cannot be told from the others then running: their
    captures are analysed again one at a time, each in a pool of its own, so that only the one that kills its
    worker becomes an error row; the rest of the batch goes on in a new pool. preload: import pandas in a thread
    once the workers are started (_preload_tables), where no master process imports it beside the pool."""
    pending = _tasks(todo, jobs)
    first = True
    while True:
        suspects: list[str] = []
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context,
                                   initializer=_worker_started)
        try:
            # at most two tasks queued per worker: an interrupt leaves little half-done work to throw away
            running = {pool.submit(analyze_task, t, options): t for t in _take(pending, 2 * jobs)}
            if first and preload:
                _preload_tables()
            first = False
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    task = running.pop(future)
                    try:
                        rows = future.result()
                    except BrokenProcessPool:
                        suspects += task
                        continue
                    if not suspects:
                        running.update({pool.submit(analyze_task, t, options): t for t in _take(pending, 1)})
                    yield from rows
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if not suspects:
            return
        for path in suspects:
            yield _alone(path, options, context)


class _collecting:
    """The cyclic collector on while captures are analysed here, whatever the caller chose: an analysis leaves
    cycles behind, and a batch of thousands would keep them all. What is alive now is frozen first, so that the
    collections walk only what the analyses make, not the imported pipeline."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        if not self.was:
            gc.freeze()
            gc.enable()

    def __exit__(self, *exc: object) -> None:
        if not self.was:
            gc.disable()


def _alone(path: str, options: Options, context: Any) -> dict[str, Any]:
    """One capture's row from a worker of its own; an error row if that worker dies too."""
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_worker_started) as pool:
        try:
            return pool.submit(analyze_task, [path], options).result()[0]
        except BrokenProcessPool:
            try:
                size = os.stat(path).st_size
            except OSError:
                size = None
            return _error_row({"path": path, "name": Path(path).name, "size": size, "mtime_ns": None,
                               "settings": options.settings_text},
                              "internal error (the process analysing this capture died: out of memory, or a "
                              "crash below Python)", started, INTERNAL)


# A worker's task: small captures go several together. A lab capture takes ~4 ms to analyse: one per task, the
# workers waited on this process to hand out the next one (measured: --jobs 2 took 0.61 of --jobs 1's loop, and
# slower than --jobs 1 while this process imported pandas). Big captures still go one per task.
TASK_BYTES = 4 << 20
TASK_FILES = 16


def _tasks(todo: list[str], jobs: int = 1) -> Iterator[list[str]]:
    """The tasks for a pool of `jobs` workers. Tasks shrink towards the end (guided self-scheduling: at most the
    files left over twice the workers): with 16 files to the last tasks, one worker still ran its last 8-16
    captures (70 ms of lab captures) while the others had nothing left; small last tasks end the workers
    together."""
    task: list[str] = []
    size = 0
    left = len(todo)
    limit = _task_files(left, jobs)
    for path in todo:
        try:
            size += os.stat(path).st_size
        except OSError:
            size += TASK_BYTES  # its error row is made by the worker; alone, it delays nothing
        task.append(path)
        left -= 1
        if size >= TASK_BYTES or len(task) >= limit:
            yield task
            task, size = [], 0
            limit = _task_files(left, jobs)
    if task:
        yield task


def _task_files(left: int, jobs: int) -> int:
    return max(1, min(TASK_FILES, -(-left // (2 * jobs))))


def analyze_task(paths: list[str], options: Options = Options()) -> list[dict[str, Any]]:
    """The rows of several captures, in order (a pool worker's job)."""
    global _working
    _working = True
    try:
        return [analyze_one(p, options) for p in paths]
    finally:
        _working = False


_working = False  # in a pool worker: whether it runs a task now


def _worker_started() -> None:
    """A pool worker's start. The cyclic collector on: an analysis leaves cycles behind (see _collecting).
    Ctrl-C reaches every process of the batch's group: a worker running a task stops it (the KeyboardInterrupt goes
    back to the pool as the task's outcome); an idle one ignores it and ends when its pool shuts down. Raised there,
    in the wait for a task, it escaped multiprocessing's bootstrap as a traceback on the terminal."""
    import signal

    gc.enable()
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a batch started with it ignored keeps it so
        signal.signal(signal.SIGINT, _worker_interrupted)


def _worker_interrupted(signum: int, frame: object) -> None:
    if _working:
        raise KeyboardInterrupt


def _preload_tables() -> None:
    """Import pandas (0.25-0.4 s, and pyarrow with it) in a thread while spawned workers analyse (where there is no
    fork, hence no master process to overlap it with, see _mastered): this process only waits on them meanwhile,
    and the summary tables need pandas at the end, when nothing else could overlap it. Started once the pool has
    started its workers: a fork during an import would hand a worker the import lock held by a thread that does
    not exist there."""
    import threading

    threading.Thread(target=_import_tables, name="sipdiag-preload-pandas", daemon=True).start()


def _warm() -> None:
    """Import and load what every analysis needs, so that forked workers inherit it."""
    from . import analysis  # noqa: F401
    from .cases import summary, triage  # noqa: F401
    from .checks import _load_rules
    from .devices import knowledge_base

    _load_rules()
    knowledge_base()


def _take(it: Iterator, n: int) -> list:
    out = []
    for _ in range(n):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def _run_dask(todo: list[str], scheduler: Any, options: Options) -> Iterator[dict[str, Any]]:
    from distributed import Client, as_completed

    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout="20s") if own else scheduler
    except (OSError, TimeoutError) as e:
        raise SipdiagError(f"cannot reach the Dask scheduler {scheduler}: {e}",
                           hint="Start one with 'dask scheduler' and workers with 'dask worker ADDRESS'.") from None
    try:
        futures = client.map(analyze_one, todo, options=options, pure=False)
        for future in as_completed(futures):
            yield future.result()
    finally:
        if own:
            client.close()


# ------------------------------------------------------------------------------------------------ journal

class _Journal:
    """Each capture's line is written and flushed when it is done (an interrupt or a killed process keeps it: the
    kernel has it); the fsync that survives a power cut is grouped, at most every SYNC_EVERY_S, and at the end.
    A power cut thus costs at most that much work again on --resume; a torn line is ignored."""

    SYNC_EVERY_S = 0.5

    def __init__(self, path: Path) -> None:
        self.f = open(path, "a", encoding="utf-8")
        self.synced = time.monotonic()

    def append(self, rows: dict[str, Any]) -> None:
        self.f.write(json.dumps(rows, default=str) + "\n")
        self.f.flush()
        if time.monotonic() - self.synced >= self.SYNC_EVERY_S:
            os.fsync(self.f.fileno())
            self.synced = time.monotonic()

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The captures a journal holds; a torn last line (a crash mid-write) is ignored, a capture listed twice
    counts once (the later line)."""
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows[row["path"]] = row
    return list(rows.values())


def _rewrite_journal(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _still_current(rows: list[dict[str, Any]], settings: str = "{}") -> list[dict[str, Any]]:
    """Journal rows whose file has not changed since (size and mtime) and that were analysed under the same
    thresholds (a row from before rows recorded them was made under the defaults): a changed capture, or one the
    interrupted batch analysed under another --config, is analysed again."""
    out = []
    for r in rows:
        try:
            st = os.stat(r["path"])
        except OSError:
            continue
        same = (r.get("capture") or {}).get("settings") or "{}"
        if st.st_size == r.get("size") and st.st_mtime_ns == r.get("mtime_ns") and same == settings:
            out.append(r)
    return out
