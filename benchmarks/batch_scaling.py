"""Scaling of `sipdiag batch`: the same folder of lab-style captures with --jobs 1 and --jobs N, in one run.

    python benchmarks/batch_scaling.py                    # 200 captures (copies of samples/pcaps), jobs 1 vs 2
    python benchmarks/batch_scaling.py --kind call        # 200 one-call captures of a 60 s call (gencapture)
    python benchmarks/batch_scaling.py --captures 400 --jobs 2 --rounds 3

--kind lab: the folder (benchmarks/out/batch-lab-N/) holds N copies of the lab's captures under distinct names (one
short call each: a few milliseconds of analysis, so the fixed start-up of the command weighs heavily);
--kind call: N per-call captures as an operator collects them, one 60 s G.711 call each (about 6000 packets),
generated with distinct seeds. Each round runs both settings, alternating which goes first; the figure is the
ratio of the medians, wall time around the child. CPU s is the child's user and system time with its workers' (from
wait4): the same work spread over N cores cannot take less than CPU s / N of wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "pcaps"


def make_folder(n: int, kind: str) -> Path:
    folder = ROOT / "benchmarks" / "out" / f"batch-{kind}-{n}"
    if folder.is_dir() and len(list(folder.glob("*.pcap"))) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    samples = sorted(SAMPLES.glob("*.pcap"))
    for i in range(n):
        if kind == "lab":
            shutil.copy(samples[i % len(samples)], folder / f"{i:04d}-{samples[i % len(samples)].name}")
        else:
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gencapture.py"), "--calls", "1",
                            "--duration", "60", "--spread", "0", "--seed", str(i + 1),
                            "--out", str(folder / f"call-{i:04d}.pcap")], check=True, stdout=subprocess.DEVNULL)
    return folder


def run(folder: Path, jobs: int) -> tuple[float, float]:
    """(wall s, CPU s) of one `sipdiag batch`."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "sipdiag", "batch", str(folder), "--jobs", str(jobs), "--out",
                                  out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"Error: sipdiag batch --jobs {jobs} exited {child.returncode}")
        return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captures", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kind", choices=("lab", "call"), default="lab")
    args = parser.parse_args()
    folder = make_folder(args.captures, args.kind)
    import compileall

    compileall.compile_dir(str(ROOT / "sipdiag"), quiet=1)  # as installed by pip (see run.py)
    times: dict[int, list[float]] = {1: [], args.jobs: []}
    cpu: dict[int, list[float]] = {1: [], args.jobs: []}
    for r in range(args.rounds):
        for jobs in ((1, args.jobs) if r % 2 == 0 else (args.jobs, 1)):
            t, c = run(folder, jobs)
            times[jobs].append(t)
            cpu[jobs].append(c)
            print(f"round {r + 1}/{args.rounds} --jobs {jobs}: {t:.2f} s, CPU {c:.2f} s", flush=True)
    one, many = statistics.median(times[1]), statistics.median(times[args.jobs])
    cpu_many = statistics.median(cpu[args.jobs])
    cores = min(args.jobs, os.cpu_count() or 1)
    print(f"{args.captures} {args.kind} captures: --jobs 1 {one:.2f} s (CPU {statistics.median(cpu[1]):.2f} s), "
          f"--jobs {args.jobs} {many:.2f} s (CPU {cpu_many:.2f} s), ratio {many / one:.2f}; "
          f"floor of --jobs {args.jobs} on {cores} cores: {cpu_many / cores:.2f} s, ratio {cpu_many / cores / one:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
