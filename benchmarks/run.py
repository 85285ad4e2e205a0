"""Time sipdiag against tshark on large captures: wall time and peak RSS of each child process.

    python benchmarks/run.py --generate 1000000                  # make benchmarks/out/gen-1000000.pcap, run 3 rounds
    python benchmarks/run.py --generate 1000000 --also-4m --json benchmarks/out/figures.json
    python benchmarks/run.py capture1.pcap capture2.pcapng --rounds 5
    python benchmarks/run.py --generate 1000000 --sipdiag-cmd true   # tshark alone (sipdiag not ready)

Both tools do a comparable job: read every packet, dissect SIP and RTP, summarise the SIP messages and the RTP
streams.

    sipdiag:  python -m sipdiag analyze FILE --format json      (stdout to /dev/null)
    tshark:   tshark -q -n -r FILE -z sip,stat -z rtp,streams   (stdout to /dev/null)

Each round runs every tool on every file once; the order of the tools alternates between rounds so neither always
runs with the warmer cache. The file is read once before the first round so the page cache holds it for all runs,
and the package is byte-compiled first (as pip does on install).
Wall time is measured around each child; peak RSS is the child's own ``ru_maxrss`` from ``os.wait4`` (KB on
Linux), which covers that process (and any children it waited for), not this runner. CPU s is the user and system
time from the same ``wait4``: the child's and that of the processes it waited for (sipdiag's capture and rules
processes). CPU s divided by the cores is the least wall time any parallel schedule of the same work could take.

The exit status is non-zero only on an error (a tool missing, a tool failing); a slow result is a figure for the
note, never a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "benchmarks" / "out"
SIPDIAG_CMD = f"{shlex.quote(sys.executable)} -m sipdiag analyze {{file}} --format json"
TSHARK_CMD = "tshark -q -n -r {file} -z sip,stat -z rtp,streams"
# analyze exits 1 when it found problems at or above --fail-on: that is a result, not an error.
OK_EXIT_CODES = {"sipdiag": {0, 1}, "tshark": {0}}


@dataclass
class Run:
    wall_s: float
    maxrss_kb: int
    exit_code: int
    cpu_s: float = 0.0


@dataclass
class ToolFigures:
    command: list[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def median_wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def min_wall_s(self) -> float:
        return min(r.wall_s for r in self.runs)

    @property
    def median_cpu_s(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max(r.maxrss_kb for r in self.runs) / 1024


class RunError(Exception):
    """A tool could not be started, or exited with an error status."""


def command_for(template: str, path: Path) -> list[str]:
    """Split a command template; ``{file}`` is replaced by the capture, or the capture is appended."""
    words = shlex.split(template)
    if any("{file}" in w for w in words):
        return [w.replace("{file}", str(path)) for w in words]
    return [*words, str(path)]


def measure(argv: list[str], tool: str) -> Run:
    """Run one child with stdout to /dev/null; wall time around it and its own peak RSS from wait4."""
    env = dict(os.environ)
    # `python -m sipdiag` must find the package of this tree even when it is not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        try:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                     cwd=ROOT, env=env)
        except OSError as e:
            raise RunError(f"cannot start {tool} ({argv[0]}): {e.strerror}") from e
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
        child.returncode = code = os.waitstatus_to_exitcode(status)  # tell Popen it is reaped
        if code not in OK_EXIT_CODES[tool]:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
            raise RunError(f"{tool} exited {code}: {' '.join(argv)}\n    " + "\n    ".join(tail))
    maxrss_kb = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes on macOS
    return Run(round(wall, 4), int(maxrss_kb), code, round(usage.ru_utime + usage.ru_stime, 3))


def warm_cache(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def compile_bytecode() -> None:
    """Byte-compile the package as `pip install` does: with PYTHONDONTWRITEBYTECODE set (as in some CI and sandbox
    images) a source checkout would otherwise recompile every module on every run, which an installed sipdiag
    never does."""
    import compileall

    compileall.compile_dir(str(ROOT / "sipdiag"), quiet=1)


def tshark_version() -> str:
    try:
        out = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout
    except OSError:
        return "not installed"
    return out.splitlines()[0].rstrip(".") if out else "unknown"


def generate(packets: int, fmt: str, reuse: bool) -> Path:
    """Write the capture from a separate process, never from this one.

    A child's ru_maxrss is a high-water mark that survives exec: a fork of a runner that had just built a 230 MB
    capture in NumPy would start with the runner's resident set and report it as the measured tool's peak. Keeping
    generation out of the runner keeps the runner small, so the peak RSS is the tool's own.
    """
    path = OUT_DIR / f"gen-{packets}.{fmt}"
    if reuse and path.exists():
        print(f"reusing {path}")
        return path
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "gencapture.py"), "--packets", str(packets),
                    "--format", fmt, "--out", str(path)], check=True)
    return path


def report(files: list[Path], figures: dict[Path, dict[str, ToolFigures]], tools: list[str]) -> str:
    lines = [f"{'file':<28} {'MB':>8} {'tool':<8} {'median s':>9} {'min s':>8} {'CPU s':>7} {'peak RSS MB':>12}"]
    for path in files:
        size = f"{path.stat().st_size / 1e6:.1f}"
        for i, tool in enumerate(tools):
            f = figures[path][tool]
            lines.append(f"{path.name if i == 0 else '':<28} {size if i == 0 else '':>8} {tool:<8} "
                         f"{f.median_wall_s:>9.3f} {f.min_wall_s:>8.3f} {f.median_cpu_s:>7.2f} "
                         f"{f.peak_rss_mb:>12.1f}")
        if {"sipdiag", "tshark"} <= set(tools):
            s, t = figures[path]["sipdiag"], figures[path]["tshark"]
            lines.append(f"{'':<28} {'':>8} tshark/sipdiag: wall {t.median_wall_s / s.median_wall_s:.2f}x, "
                         f"peak RSS {t.peak_rss_mb / s.peak_rss_mb:.2f}x")
            cores = os.cpu_count() or 1
            best = t.median_wall_s * cores / s.median_cpu_s
            lines.append(f"{'':<28} {'':>8} sipdiag CPU s / {cores} cores: {s.median_cpu_s / cores:.3f} s, the floor "
                         f"of any parallel schedule of its work (ratio at most {best:.2f}x)")
    if len(files) > 1:
        lines += ["", "peak RSS MB by file (flat memory means the same figure for every size):",
                  f"{'tool':<8} " + " ".join(f"{p.name:>22}" for p in files)]
        for tool in tools:
            lines.append(f"{tool:<8} " + " ".join(f"{figures[p][tool].peak_rss_mb:>22.1f}" for p in files))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="captures to measure")
    parser.add_argument("--generate", type=int, action="append", default=[], metavar="PACKETS",
                        help="generate a capture of about PACKETS packets into benchmarks/out/ (repeatable)")
    parser.add_argument("--also-4m", action="store_true", help="also generate and measure a 4,000,000-packet file")
    parser.add_argument("--format", choices=("pcap", "pcapng"), default="pcap", help="format of generated files")
    parser.add_argument("--reuse", action="store_true", help="reuse an already generated file of the same size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sipdiag-cmd", default=SIPDIAG_CMD, help="command template; {file} is the capture")
    parser.add_argument("--tshark-cmd", default=TSHARK_CMD, help="command template; {file} is the capture")
    parser.add_argument("--only", choices=("sipdiag", "tshark"), help="measure one tool only")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)

    sizes = args.generate + ([4_000_000] if args.also_4m else [])
    if not args.files and not sizes:
        parser.error("give capture files, or --generate PACKETS")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        print(f"Error: no such capture: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = [p.resolve() for p in args.files] + [generate(n, args.format, args.reuse) for n in sizes]
    tools = [args.only] if args.only else ["sipdiag", "tshark"]
    templates = {"sipdiag": args.sipdiag_cmd, "tshark": args.tshark_cmd}
    figures = {p: {t: ToolFigures(command_for(templates[t], p)) for t in tools} for p in files}

    for path in files:
        warm_cache(path)
    compile_bytecode()
    try:
        for round_no in range(args.rounds):
            order = tools if round_no % 2 == 0 else tools[::-1]
            for path in files:
                for tool in order:
                    run = measure(figures[path][tool].command, tool)
                    figures[path][tool].runs.append(run)
                    print(f"round {round_no + 1}/{args.rounds} {path.name} {tool}: {run.wall_s:.3f} s, "
                          f"CPU {run.cpu_s:.2f} s, {run.maxrss_kb / 1024:.1f} MB", flush=True)
    except RunError as e:
        print(f"Error: {e}", file=sys.stderr)
        print("Hint: check the command with --sipdiag-cmd/--tshark-cmd, or measure one tool with --only.",
              file=sys.stderr)
        return 2

    print()
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {tshark_version()}; "
          f"{args.rounds} rounds")
    print(report(files, figures, tools))
    if args.json:
        document = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "tshark": tshark_version(),
                     "platform": platform.platform()},
            "rounds": args.rounds,
            "files": [
                {
                    "path": str(p), "bytes": p.stat().st_size,
                    "tools": {t: {"command": f.command, "runs": [asdict(r) for r in f.runs],
                                  "median_wall_s": f.median_wall_s, "min_wall_s": f.min_wall_s,
                                  "median_cpu_s": f.median_cpu_s,
                                  "peak_rss_mb": round(f.peak_rss_mb, 1)}
                              for t, f in figures[p].items()},
                    **({"ratio_tshark_over_sipdiag": {
                        "wall": round(figures[p]["tshark"].median_wall_s / figures[p]["sipdiag"].median_wall_s, 3),
                        "peak_rss": round(figures[p]["tshark"].peak_rss_mb / figures[p]["sipdiag"].peak_rss_mb, 3),
                    }} if len(tools) == 2 else {}),
                }
                for p in files
            ],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=1) + "\n")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
