"""`sipdiag capture` and `sipdiag watch`: live capture and incremental analysis (sipdiag.watch, sipdiag.live)."""

from __future__ import annotations

import contextlib
import signal
import sys

import click

from .checks import FAIL_ON_LEVELS, fails, rule_option
from .errors import EXIT_FINDINGS, UsageError
from .livecapture import DEFAULT_FILTER

REPORT_FORMATS = ("terminal", "json")


def _interrupt(signum, frame):  # SIGTERM ends a capture like Ctrl-C: cleanly, with the file and the analysis
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_stops():
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _report_options(f):
    for decorator in reversed((
        click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="terminal", show_default=True,
                     help="The analysis at the end: terminal, or the JSON document of 'analyze --format json'."),
        click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
                     help="Write the analysis at the end to a file instead of standard output."),
        click.option("--fail-on", type=click.Choice(FAIL_ON_LEVELS),
                     default="major", show_default=True, help="Exit 1 when a finding is at least this severe."),
        click.option("--select", multiple=True, metavar="RULE", callback=rule_option,
                      help="Run only these rules (id or prefix)."),
        click.option("--ignore", multiple=True, metavar="RULE", callback=rule_option,
                      help="Leave these rules out (id or prefix)."),
        click.option("--lang", type=click.Choice(("en", "ru")), default="en", show_default=True,
                     help="Language of the finding texts."),
    )):
        f = decorator(f)
    return f


def _exit_for(findings, fail_on: str) -> None:
    if fails(findings, fail_on):
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.option("-i", "--interface", "iface", required=True, metavar="IFACE", help="The interface to capture on.")
@click.option("--filter", "bpf", default=DEFAULT_FILTER, show_default=False, metavar="BPF",
              help="Capture filter (pcap-filter syntax). Default: all UDP (SIP on any port, RTP/RTCP, HEP), ICMP, "
                   "IP fragments and TCP except ports 22/80/443/445/3389.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="S", help="Stop after S seconds.")
@click.option("-c", "--count", type=click.IntRange(min=1), metavar="N", help="Stop after N packets.")
@click.option("--no-promisc", "no_promisc", is_flag=True,
              help="Do not put the interface into promiscuous mode (tcpdump -p); by default it is, so that a "
                   "mirror (SPAN) port's traffic to other hosts is seen.")
@click.option("-w", "--write", "out_file", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The capture file (pcap, nanosecond timestamps).")
@click.option("--ring", metavar="SIZE",
              help="Keep only the newest SIZE of packets (e.g. 50M), in memory, written to FILE at the end.")
@_report_options
def capture(iface: str, bpf: str, duration: float | None, count: int | None, no_promisc: bool, out_file: str,
            ring: str | None, fmt: str, output, fail_on: str, select: tuple[str, ...], ignore: tuple[str, ...],
            lang: str) -> None:
    """Capture SIP, RTP/RTCP, ICMP and IP fragments from an interface into a file, then analyse it as
    'sipdiag analyze' does. Ctrl-C (or SIGTERM) stops the capture cleanly: the file is written and analysed.
    Needs capture rights: root, or CAP_NET_RAW (sudo setcap cap_net_raw,cap_net_admin+eip on the interpreter).

    In Python: ``sipdiag.watch.run_feed(InterfaceFeed(iface, bpf), None, sink=CaptureSink(path, feed.interfaces))``
    then ``sipdiag.analyze(path)``.

    Example:

    \b
        sudo sipdiag capture -i eth0 --duration 60 -w call.pcap
        sudo sipdiag capture -i eth0 --ring 50M -w last50M.pcap --format json > analysis.json
        sudo sipdiag capture -i eth0 --filter 'udp port 5060 or udp portrange 10000-20000' -c 100000 -w x.pcap
    """
    from .livecapture import parse_size
    from .watch import CaptureSink, InterfaceFeed, run_feed

    if duration is not None and count is not None:
        raise UsageError("--duration and --count are alternatives", hint="Give one of them (or neither: Ctrl-C).")
    ring_bytes = parse_size(ring) if ring else None
    feed = InterfaceFeed(iface, bpf, promisc=not no_promisc)
    sink = CaptureSink(out_file, feed.interfaces, ring_bytes=ring_bytes)
    click.echo(f"Capturing on {iface} into {out_file}" + (f" (ring of the newest {ring})" if ring else "")
               + "; Ctrl-C stops.", err=True)
    with _sigterm_stops():
        decoder, _ = run_feed(feed, None, sink=sink, duration_s=duration, count=count)
    click.echo(f"{decoder.packets} packets captured, {sink.records} written to {out_file}"
               + (f" ({sink.dropped} older ones left the ring)" if sink.dropped else "") + ".", err=True)
    from .analysis import analyze as run_analysis
    from .reports import render

    analysis = run_analysis(out_file, select=select, ignore=ignore)
    render(analysis, fmt, output, lang=lang, fail_on=fail_on)
    _exit_for(analysis.findings, fail_on)


@click.command()
@click.option("-i", "--interface", "iface", metavar="IFACE", help="Watch live traffic on this interface.")
@click.option("--filter", "bpf", default=DEFAULT_FILTER, metavar="BPF", help="With -i: the capture filter.")
@click.option("--no-promisc", "no_promisc", is_flag=True,
              help="With -i: do not put the interface into promiscuous mode (tcpdump -p); by default it is, so that a "
                   "mirror (SPAN) port's traffic to other hosts is seen.")
@click.option("--hep-listen", "hep", metavar="[HOST:]PORT",
              help="Receive HEPv2/v3 on this UDP port (from Kamailio, OpenSIPS, FreeSWITCH, Asterisk, heplify).")
@click.option("-r", "--read", "replay", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Replay a capture file at its original pace.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="With -r: replay this many times faster than captured.")
@click.option("--fast", is_flag=True, help="With -r: replay as fast as the file reads.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="S", help="Stop after S seconds.")
@click.option("-w", "--write", "out_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write what was watched to FILE (pcap; for HEP input the HEP datagrams as UDP).")
@click.option("--keep-calls", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Ended calls kept for the report at the end (older ones are only counted).")
@click.option("--idle", "idle_s", type=click.FloatRange(min=1), default=300, show_default=True, metavar="S",
              help="End an answered call without BYE after S seconds with neither SIP nor RTP.")
@_report_options
def watch(iface: str | None, bpf: str, no_promisc: bool, hep: str | None, replay: str | None, speed: float, fast: bool,
          duration: float | None, out_file: str | None, keep_calls: int, idle_s: float, fmt: str, output,
          fail_on: str, select: tuple[str, ...], ignore: tuple[str, ...], lang: str) -> None:
    """Watch calls as they happen: calls in progress, registrations, RTP streams and findings as they are found.
    Each call is analysed when it ends (BYE answered, INVITE failed, timeout) and then released, so memory
    stays flat however long it runs. At a terminal a live dashboard, otherwise one line per ended call, finding
    and registration change. On exit (Ctrl-C, SIGTERM, --duration, end of -r) the analysis of the ended calls
    (the newest --keep-calls of them) is printed like 'sipdiag analyze' prints it.

    In Python: ``sipdiag.watch.run_feed(ReplayFeed(path, None), sipdiag.live.LiveAnalyzer(on_event=print))``.

    Example:

    \b
        sudo sipdiag watch -i eth0 -w session.pcap
        sipdiag watch --hep-listen 9060
        sipdiag watch -r samples/pcaps/ack_dropped.pcap --speed 10
        sipdiag watch -r big.pcap --fast --format json > analysis.json
    """
    from .live import LiveAnalyzer
    from .reports import render
    from .reports.live import Dashboard, PlainEvents
    from .watch import CaptureSink, HepFeed, InterfaceFeed, ReplayFeed, parse_listen, run_feed

    sources = [s for s in (iface, hep, replay) if s]
    if len(sources) != 1:
        raise UsageError("say what to watch: one of -i IFACE, --hep-listen [HOST:]PORT or -r FILE",
                         hint="sipdiag watch -i eth0 | --hep-listen 9060 | -r capture.pcap")
    if (fast or speed != 1.0) and not replay:
        raise UsageError("--fast and --speed apply to -r FILE only", hint="Leave them out for live input.")
    if iface:
        feed = InterfaceFeed(iface, bpf, promisc=not no_promisc)
    elif hep:
        feed = HepFeed(*parse_listen(hep))
    else:
        feed = ReplayFeed(replay, None if fast else speed)
    sink = CaptureSink(out_file, feed.interfaces) if out_file else None
    report_to_stdout = getattr(output, "name", None) == "<stdout>"
    to_terminal = report_to_stdout and sys.stdout.isatty()
    # The live view goes where the report does not: a JSON document on stdout stays one document.
    view = (Dashboard(None, sys.stdout if fmt == "terminal" else sys.stderr, feed.name)  # type: ignore[arg-type]
            if to_terminal or (fmt == "json" and sys.stderr.isatty())
            else PlainEvents(sys.stderr if fmt == "json" or not report_to_stdout else sys.stdout))
    engine = LiveAnalyzer(select=select, ignore=ignore, keep_calls=keep_calls, idle_s=idle_s, on_event=view)
    if isinstance(view, Dashboard):
        view.engine = engine
    else:
        click.echo(f"Watching {feed.name}; Ctrl-C stops and reports.", err=True)
    try:
        with _sigterm_stops():
            _, result = run_feed(feed, engine, sink=sink, duration_s=duration, on_tick=view.tick)
    finally:
        view.close()
    t = result.totals
    click.echo(f"{t.calls} call(s) seen, {sum(t.outcomes.values())} ended"
               + (f", {t.calls_dropped} older ones counted only" if t.calls_dropped else "")
               + f"; {sum(t.findings.values())} call finding(s)"
               + (f"; {t.late_messages} late retransmission(s)" if t.late_messages else "")
               + (f"; written to {out_file}" if out_file else "") + ".", err=True)
    render(result.analysis, fmt, output, lang=lang, fail_on=fail_on)
    _exit_for(result.analysis.findings, fail_on)
