"""Memory of `sipdiag watch` over a long replay: does the resident set stay flat while calls end and are released?

    python benchmarks/gencapture.py --packets 1000000 --out /tmp/gen-1m.pcap      # 2000 calls, ~234 MB
    python benchmarks/watch_memory.py /tmp/gen-1m.pcap [--keep-calls 1000] [--json out.json]

Runs what `sipdiag watch -r FILE --fast` runs (ReplayFeed as fast as the file reads -> FrameDecoder ->
LiveAnalyzer), in this process, and after every batch of records (the engine's tick) samples the resident set
(VmRSS of /proc/self/status) with the packets fed and the calls ended so far. Prints the RSS at 25/50/75/100 % of
the packets and the growth from 25 % to 100 %: flat means memory does not grow with the calls finished (the ones
in progress and the newest --keep-calls summaries are all that is held).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sipdiag.live import LiveAnalyzer  # noqa: E402
from sipdiag.watch import ReplayFeed, run_feed  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(path: str, keep_calls: int) -> dict:
    engine = LiveAnalyzer(keep_calls=keep_calls)
    samples: list[tuple[int, int, int, float]] = []  # (packets fed, calls ended, calls in progress, RSS MiB)

    def tick() -> None:
        samples.append((engine.capture_info().packets, sum(engine.totals.outcomes.values()), len(engine.active),
                        rss_mib()))

    started = time.perf_counter()
    decoder, result = run_feed(ReplayFeed(path, None), engine, on_tick=tick)
    elapsed = time.perf_counter() - started
    total = decoder.packets
    marks = {}
    for pct in (25, 50, 75, 100):
        want = total * pct // 100
        marks[pct] = next(s for s in samples if s[0] >= want)
    return {
        "file": path, "packets": total, "seconds": round(elapsed, 2), "packets_per_s": round(total / elapsed),
        "calls": result.totals.calls, "calls_kept": len(result.analysis.calls), "keep_calls": keep_calls,
        "findings": len(result.analysis.findings),
        "at": {str(p): {"packets": s[0], "calls_ended": s[1], "calls_in_progress": s[2], "rss_mib": round(s[3], 1)}
               for p, s in marks.items()},
        "peak_rss_mib": round(peak_mib(), 1),
        "max_rss_after_25pct_mib": round(max(s[3] for s in samples if s[0] >= marks[25][0]), 1),
        "samples": [[s[0], s[1], s[2], round(s[3], 1)] for s in samples],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("capture")
    parser.add_argument("--keep-calls", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write the figures and every sample here")
    args = parser.parse_args(argv)
    r = run(args.capture, args.keep_calls)
    print(f"{r['file']}: {r['packets']} packets, {r['calls']} calls, {r['seconds']} s "
          f"({r['packets_per_s']} packets/s), {r['calls_kept']} calls kept, {r['findings']} findings")
    print(f"{'at':>5} {'packets':>9} {'ended':>6} {'active':>6} {'RSS MiB':>8}")
    for pct, m in r["at"].items():
        print(f"{pct + '%':>5} {m['packets']:>9} {m['calls_ended']:>6} {m['calls_in_progress']:>6} {m['rss_mib']:>8}")
    a, b = r["at"]["25"]["rss_mib"], r["at"]["100"]["rss_mib"]
    print(f"RSS 25% -> 100%: {b - a:+.1f} MiB ({(b - a) / a * 100:+.1f} %); peak {r['peak_rss_mib']} MiB; "
          f"highest sample after 25 %: {r['max_rss_after_25pct_mib']} MiB")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
