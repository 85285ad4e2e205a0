"""`--engine tshark`: the capture side of the pipeline from Wireshark's dissection, through pyshark.

    for item in ingest_tshark(path, keylog="keys.log"):
        list[Datagram]  -> SIP messages (and RTCP, ICMP errors) as tshark dissected them, in frame order
        CaptureResult   -> last: the capture's facts, the RTCP count, the RTP statistics

It yields what `sipdiag.ingest.ingest` yields, so `analyze(path, engine="tshark")` runs the same correlation,
media binding and rules. It exists for what only Wireshark decodes: SIP over TLS decrypted with a key log file
(SSLKEYLOGFILE / NSS key log format), and encapsulations the native reader does not open. It is also the
independent oracle of the native engine in the tests (tests/corpus/test_corpus_engines.py).

Two tshark runs, both through `pyshark.FileCapture` with a display filter so that pyshark builds objects only
for the packets that matter (pyshark costs about 0.3 ms a packet, ARCHITECTURE.md "Two speeds"):

1. signalling: `sip || rtcp || icmp || icmpv6 || tls.app_data` with the raw bytes (`-x`): each SIP layer's bytes
   are the message as tshark reassembled (TCP, IP fragments, SCTP) or decrypted (TLS) it;
2. media: `rtp` with the RTP heuristic on (the native engine finds RTP by content too) and only the IP/UDP/RTP
   layers in the JSON (`-j`); the RTP header fields become `RtpColumns` and go through the project's own
   statistics engine (sipdiag.rtpstats), so loss and jitter are computed exactly as for the native engine.

The file facts (format, packets, times, interface statistics) come from the native reader's record walk (no
dissection): it rejects a non-capture with the same error as the native engine before tshark is started.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .clocksteps import ClockStepLog
from .errors import CaptureReadError, KeylogError, TsharkFailedError, TsharkMissingError, UsageError
from .ingest import BATCH, CaptureResult
from .model import Datagram
from .parsers.anomalies import AnomalyLog
from .parsers.anomalytexts import detail
from .parsers.capture import MAX_TS_NS, CaptureFile, read_capture
from .parsers.columns import DSCP_UNKNOWN, RtpColumns
from .parsers.linktypes import linktype_name
from .parsers.scan import CaptureInfo, time_steps
from .rtpstats import RtpStatsEngine

SIGNALLING_FILTER = "sip || rtcp || icmp || icmpv6 || tls.app_data"
RTP_FILTER = "rtp && !icmp && !icmpv6"  # an ICMP error quotes the RTP header of the packet it rejects
# Layers kept in the media run's JSON: the rest of each packet's tree is never sent through the pipe.
RTP_LAYERS = "frame ip ipv6 udp rtp"
# The signalling run needs the SIP layer's bytes (`sip_raw`, always there with `-x`), not its parsed header tree:
# leaving the tree out halves the JSON of a SIP-heavy capture.
SIGNALLING_LAYERS = "frame ip ipv6 udp tcp sctp icmp icmpv6"
# The RTP and RTCP heuristics on: RTP that no SDP in the capture announced is still measured (the native engine
# classifies it by its fixed header, sipdiag.parsers.columns).
HEURISTICS = ["--enable-heuristic", "rtp_udp", "--enable-heuristic", "rtcp_udp"]
TSHARK_EXIT_WAIT_S = 10  # tshark has closed its output; how long its exit may take before it is killed
RTP_CHUNK = 4096  # RTP packets per column batch handed to the statistics engine
# Transports that carry SIP, innermost last in `frame.protocols` (RFC 3261 §18, RFC 4168 SCTP, RFC 7118 WebSocket).
TRANSPORT_LAYERS = ("udp", "tcp", "sctp")
# Ports where undecrypted TLS is taken for SIP: 5061 (SIPS, RFC 3261 §26.2) and 5060 (a phone told to use TLS on
# the SIP port). Other TLS (HTTPS to a provisioning server, ...) is none of sipdiag's business.
SIP_TLS_PORTS = (5060, 5061)
# ICMP types that quote a packet: v4 unreachable, time exceeded, parameter problem (RFC 792); v6 1-3 (RFC 4443).
ICMP_ERRORS = {"icmp": (3, 11, 12), "icmpv6": (1, 2, 3)}
ENCAP_LAYERS = (("erspan", "erspan"), ("gre", "gre"), ("gtp", "gtp-u"), ("vxlan", "vxlan"), ("mpls", "mpls"),
                ("pppoes", "pppoe"))
V4_MAPPED = 0xFFFF00000000  # IPv4 as ::ffff:a.b.c.d in the 128-bit address columns (RFC 4291 §2.5.5.2)


def ingest_tshark(path: str | Path, *, keylog: str | Path | None = None) -> Iterator[list[Datagram] | CaptureResult]:
    """The capture side's output for `path`, dissected by tshark. keylog: a TLS key log file (SSLKEYLOGFILE
    format) for SIP over TLS.

    Raises TsharkMissingError (no tshark), KeylogError (key log unreadable), CaptureFormatError (not a capture),
    TsharkFailedError (tshark could not read it), before the first item is produced."""
    name = str(path)
    if name == "-":
        raise UsageError("--engine tshark reads a capture file, not standard input",
                         hint="Save the capture to a file first, or use --engine native.")
    _check_regular(name)
    tshark = _find_tshark()
    prefs: dict[str, str] = {}
    if keylog is not None:
        prefs["tls.keylog_file"] = str(_check_keylog(Path(keylog)))
    log = AnomalyLog()
    file, info_base = _file_facts(path, log)  # raises CaptureFormatError / CaptureReadError like the native engine
    signalling = _Signalling(log)
    stopped = _run(tshark, path, signalling.add, display_filter=SIGNALLING_FILTER, include_raw=True, prefs=prefs,
                   extra=["-j", SIGNALLING_LAYERS])
    _fail_unless_damaged(path, stopped, file)
    datagrams = sorted(signalling.datagrams, key=lambda d: d.frame)
    engine = RtpStatsEngine(sound=info_base["clock"].sound)
    media = _Media(engine, datagrams, log)
    stopped = _run(tshark, path, media.add, display_filter=RTP_FILTER, prefs=prefs, extra=["-j", RTP_LAYERS]) \
        or stopped
    _fail_unless_damaged(path, stopped, file)
    if stopped:
        log.add("tshark.stopped-early", None, why=stopped)
    media.finish()
    signalling.report_undecrypted(keylog is not None)
    log.extend(file.anomalies)

    def produce() -> Iterator[list[Datagram] | CaptureResult]:
        out = [d for d in datagrams if d.kind in ("sip", "icmp")]
        for start in range(0, len(out), BATCH):
            yield out[start : start + BATCH]
        kinds = {k: v for k, v in {"sip": signalling.sip_frames, "rtp": media.packets, "rtcp": signalling.rtcp,
                                   "icmp": signalling.icmp, "tls": signalling.tls_frames}.items() if v}
        other = file.packets - sum(kinds.values())
        if other > 0:
            kinds["other"] = other
        info = CaptureInfo(**info_base, kinds=kinds, rich=dict(signalling.encaps), anomalies=log.anomalies())
        yield CaptureResult(info, signalling.rtcp, engine.finalize())

    return produce()


# ---------------------------------------------------------------------------------------------- set-up


def _find_tshark() -> str:
    from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path

    try:
        return get_process_path()
    except TSharkNotFoundException:
        raise TsharkMissingError("--engine tshark needs Wireshark's tshark, which is not installed (not found "
                                 "on the PATH)") from None


def _check_keylog(path: Path) -> Path:
    if not path.is_file():
        raise KeylogError(f"{path}: no such TLS key log file")
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as e:
        raise KeylogError(f"{path}: cannot read the TLS key log ({e.strerror})") from None
    return path.resolve()


def _check_regular(name: str) -> None:
    """tshark reads the file after the native record walk: a FIFO or a device would be read up by the walk (or
    wait for a writer), and pyshark then calls it a directory. Refused up front, with what to do instead."""
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return  # missing or unreadable: the reader says so, as for the native engine
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UsageError(f"--engine tshark reads a capture file twice; {name} is not a regular file (a pipe or a "
                         f"device)", hint="Save the capture to a file first, or use --engine native.")


def _fail_unless_damaged(path: str | Path, stopped: str | None, file: CaptureFile) -> None:
    """tshark stopped with an error. Where the native walk found the file damaged (a record cut short, an
    impossible length), that is the damage: what tshark read stands, named beside the walk's anomalies
    (`tshark.stopped-early`). A file the walk read whole but tshark refuses is tshark's failure: an error, not
    an empty result."""
    if stopped is not None and not file.anomalies:
        raise TsharkFailedError(f"tshark could not read {path}: {stopped}")


def _file_facts(path: str | Path, log: AnomalyLog) -> tuple[CaptureFile, dict[str, Any]]:
    """The record walk of the native reader: format, link types, packets, times, sizes (no dissection); the steps
    of the record times go to `log` as the native engine names them (capture.time-backwards, capture.time-jump)."""
    file = CaptureFile(name=str(path))
    first = last = None
    total = truncated = 0
    clock = ClockStepLog()
    for batch in read_capture(path, file):
        if len(batch):
            time_steps(batch.ts_ns, batch.first_frame, last, log, clock)
            first = int(batch.ts_ns[0]) if first is None else first
            last = int(batch.ts_ns[-1])
        total += int(batch.origlen.sum())
        truncated += int(np.count_nonzero(batch.caplen < batch.origlen))
    return file, dict(file=str(path), format=file.format, compressed=file.compressed,
                      link_types=tuple(dict.fromkeys(linktype_name(i.linktype) for i in file.interfaces)),
                      interfaces=len(file.interfaces), packets=file.packets, first_ts_ns=first, last_ts_ns=last,
                      bytes=total, truncated_packets=truncated, interface_stats=tuple(file.statistics),
                      clock=clock.steps())


def _run(tshark: str, path: str | Path, sink, *, display_filter: str, prefs: dict[str, str],
         include_raw: bool = False, extra: list[str] | None = None) -> str | None:
    """One tshark pass through pyshark, every matching packet to `sink`. JSON output (`use_json`) because it is
    the one pyshark output that carries the raw bytes of each layer (`include_raw`), which the SIP parser needs;
    pyshark's JSON reader keeps repeated layers (two SIP messages in one TCP segment) as duplicates.

    Returns None, or tshark's last error line when it exited with an error (a damaged file: the packets before
    the damage have reached `sink`)."""
    import pyshark
    from pyshark.capture.capture import TSharkCrashException

    cap = pyshark.FileCapture(str(path), display_filter=display_filter, use_json=True, include_raw=include_raw,
                              keep_packets=False, override_prefs=prefs or None, tshark_path=tshark,
                              custom_parameters=HEURISTICS + (extra or []))
    stopped = None
    try:
        cap.eventloop.run_until_complete(_packets_then_exit(cap, sink))
    except TSharkCrashException as e:
        stopped = _last_error_line(e)
    except FileNotFoundError as e:
        raise CaptureReadError(f"{path}: {e}") from None
    finally:
        try:
            cap.close()
        except TSharkCrashException as e:  # the exit status is checked again when the capture is closed
            stopped = stopped or _last_error_line(e)
            # pyshark keeps the process listed after that exception, and its __del__ would raise it once more
            # (an 'Exception ignored' traceback on standard error)
            getattr(cap, "_running_processes", set()).clear()
        _release_child_watcher()
    return stopped


async def _packets_then_exit(cap, sink) -> None:
    """Every packet to `sink`, then tshark's exit status before pyshark's clean-up. pyshark's own loop (iterating
    the capture, or `close_tshark=True`) cleans up the moment tshark's output ends: a process whose exit asyncio's
    child watcher has not yet handled is killed, and the kill first polls the process (CPython's
    Popen.send_signal), which reaps it behind the watcher's back. The watcher then reports 'Unknown child process
    pid N, will report returncode 255', and pyshark calls a clean run of tshark a crash. Seen about once in 500
    runs on a busy machine; waiting for the status closes that window."""
    await cap.packets_from_tshark(sink, close_tshark=False)
    for process in tuple(getattr(cap, "_running_processes", ())):
        try:
            await asyncio.wait_for(process.wait(), TSHARK_EXIT_WAIT_S)
        except TimeoutError:  # tshark closed its output but lives on: pyshark's clean-up kills it
            pass


def _last_error_line(e: Exception) -> str:
    """tshark's own message from pyshark's exception ('... Last error line: tshark: The file ... appears to have
    been cut short ...'), without pyshark's advice."""
    text = str(e)
    line = text.partition("Last error line:")[2].strip().splitlines()
    line = line[0].strip() if line else ""
    # Run as root, tshark's first line of standard error is a warning about it, not a reason for stopping
    if line in ("", "None") or line.startswith("Running as user"):
        return "it exited with an error"
    return line


def _release_child_watcher() -> None:
    """Undo what pyshark does to the process: in the main thread it installs asyncio's SafeChildWatcher, a SIGCHLD
    handler on its event loop whose wakeup pipe nobody drains once the loop has stopped. Every later child exit
    (a batch worker, sipp, tcpdump) then wrote into the full pipe: 'Exception ignored when trying to write to the
    signal wakeup fd: BlockingIOError' on standard error. Closing the watcher removes the handler and the wakeup
    fd; the default (thread-based) watcher comes back, and the next FileCapture installs its own again."""
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # child watchers are deprecated from Python 3.12
        try:
            watcher = asyncio.get_child_watcher()
        except (AttributeError, RuntimeError, NotImplementedError):  # no child watchers (Windows, 3.14+)
            return
        if isinstance(watcher, asyncio.SafeChildWatcher):
            watcher.close()
            asyncio.set_child_watcher(None)


# ---------------------------------------------------------------------------------------------- packets


def _layers(pkt, name: str) -> list:
    """Every instance of a layer, outermost first (pyshark keeps repeats of one name as `duplicate_layers`)."""
    out = []
    for layer in pkt.layers:
        if layer.layer_name == name:
            out.append(layer)
            out.extend(layer.duplicate_layers)
    return out


def _value(layer, name: str) -> str | None:
    """A field's value as tshark printed it; the first one when the field repeats."""
    try:
        field = layer.get_field(name)
    except AttributeError:
        return None
    if isinstance(field, list):  # a repeated field (`ip.addr` twice): the first
        field = field[0] if field else None
    return None if field is None else str(field)  # a LayerFieldsContainer is the field's text


def _raw(pkt, name: str) -> list[bytes]:
    """The bytes of every instance of layer `name` (`name_raw` of tshark's `-x` JSON: [hex, offset, length, ...],
    a list of those when the layer repeats)."""
    out: list[bytes] = []
    for layer in pkt.layers:
        if layer.layer_name != name + "_raw":
            continue
        for one in (layer, *layer.duplicate_layers):
            v = one.value
            if isinstance(v, list) and v and isinstance(v[0], str):
                v = v[0]
            if isinstance(v, str):
                out.append(bytes.fromhex(v))
    return out


def _ts_ns(pkt) -> int | None:
    """The packet's time in ns since the epoch; None beyond the year 2116 either way (a damaged pcapng if_tsoffset
    or if_tsresol: the native reader names and ignores those, tshark applies them), which 64-bit columns and
    the reports cannot hold."""
    text = str(pkt.sniff_timestamp)
    sec, _, frac = text.lstrip("-").partition(".")
    try:
        ns = int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
    except ValueError:
        return None
    ns = -ns if text.startswith("-") else ns  # -5.3 s is -5 s and -0.3 s, not -5 s and +0.3 s
    return ns if -MAX_TS_NS <= ns <= MAX_TS_NS else None


class _Times:
    """Packet times for one run: an impossible one (see _ts_ns) takes its predecessor's, as in the native reader,
    and is named once per run."""

    def __init__(self, log: AnomalyLog) -> None:
        self.log = log
        self.last = 0
        self.named = False

    def of(self, pkt) -> int:
        ts = _ts_ns(pkt)
        if ts is None:
            if not self.named:
                self.named = True
                self.log.add("tshark.bad-timestamp", int(pkt.number), time=str(pkt.sniff_timestamp)[:40])
            return self.last
        self.last = ts
        return ts


def _hexbytes(text: str | None) -> bytes:
    return bytes.fromhex(text.replace(":", "")) if text else b""


class _Path:
    """Where the n-th occurrence of a protocol sits in `frame.protocols` (e.g. `eth:ethertype:ip:udp:sip`)."""

    def __init__(self, pkt) -> None:
        self.pkt = pkt
        self.protocols = _value(pkt.frame_info, "frame.protocols").split(":")

    def before(self, index: int, names: tuple[str, ...]) -> tuple[str, int] | None:
        """The last of `names` before position `index`, with its occurrence number among its own name."""
        for i in range(index - 1, -1, -1):
            if self.protocols[i] in names:
                name = self.protocols[i]
                return name, self.protocols[:i].count(name)
        return None

    def endpoint(self, index: int) -> tuple[str, str, str, int, int] | None:
        """(transport, src, dst, sport, dport) of the protocol at `index`."""
        l4 = self.before(index, TRANSPORT_LAYERS)
        l3 = self.before(index, ("ip", "ipv6"))
        if l4 is None or l3 is None:
            return None
        try:
            ip = _layers(self.pkt, l3[0])[l3[1]]
            t = _layers(self.pkt, l4[0])[l4[1]]
        except IndexError:  # the JSON holds fewer instances than frame.protocols names (a layer tshark cut)
            return None
        src, dst = _value(ip, f"{l3[0]}.src"), _value(ip, f"{l3[0]}.dst")
        sport, dport = _value(t, f"{l4[0]}.srcport"), _value(t, f"{l4[0]}.dstport")
        if None in (src, dst, sport, dport):
            return None
        return l4[0], src, dst, int(sport), int(dport)

    def encap(self, index: int) -> str:
        below = self.protocols[:index]
        for layer, name in ENCAP_LAYERS:
            if layer in below:
                return name
        return "ipip" if below.count("ip") + below.count("ipv6") > 1 else ""


class _Signalling:
    """Collects SIP messages, RTCP datagrams, ICMP errors and undecrypted TLS flows from the first run."""

    def __init__(self, log: AnomalyLog) -> None:
        self.log = log
        self.datagrams: list[Datagram] = []
        self.sip_frames = self.rtcp = self.icmp = self.tls_frames = 0
        self.encaps: Counter[str] = Counter()
        self.tls_flows: dict[tuple[str, int, str, int], list[int]] = {}  # flow -> [first frame, records]
        self.times = _Times(log)

    def add(self, pkt) -> None:
        path = _Path(pkt)
        protos = path.protocols
        frame, ts = int(pkt.number), self.times.of(pkt)
        icmp_at = next((i for i, p in enumerate(protos) if p in ICMP_ERRORS), None)
        if icmp_at is not None:
            # What follows an ICMP header is the quoted packet it rejects, not traffic: never taken for SIP.
            self._icmp(pkt, path, icmp_at, frame, ts)
            return
        sips = [i for i, p in enumerate(protos) if p == "sip"]
        if sips:
            self._sip(pkt, path, sips, frame, ts)
        elif "rtcp" in protos:
            self._rtcp(pkt, path, protos.index("rtcp"), frame, ts)
        elif "tls" in protos:
            self._tls(path, protos.index("tls"), frame)

    def _sip(self, pkt, path: _Path, sips: list[int], frame: int, ts: int) -> None:
        payloads = _raw(pkt, "sip")
        at = path.endpoint(sips[0])
        if at is None or not payloads:
            self.log.add("tshark.sip-without-bytes", frame)
            return
        proto, src, dst, sport, dport = at
        below = path.protocols[: sips[0]]
        transport = "ws" if "websocket" in below else "tls" if "tls" in below else proto
        encap = path.encap(sips[0])
        if encap:
            self.encaps[encap] += 1
        self.sip_frames += 1
        for payload in payloads:
            self.datagrams.append(Datagram(frame, ts, src, sport, dst, dport, transport, payload, (frame,), encap))

    def _rtcp(self, pkt, path: _Path, index: int, frame: int, ts: int) -> None:
        at = path.endpoint(index)
        udp = path.before(index, ("udp",))
        if at is None or udp is None:
            return
        payload = _hexbytes(_value(_layers(pkt, "udp")[udp[1]], "udp.payload"))
        if payload:
            _, src, dst, sport, dport = at
            self.rtcp += 1
            self.datagrams.append(Datagram(frame, ts, src, sport, dst, dport, "udp", payload, (frame,),
                                           path.encap(index), "rtcp"))

    def _icmp(self, pkt, path: _Path, index: int, frame: int, ts: int) -> None:
        name = path.protocols[index]
        self.icmp += 1
        layers = _layers(pkt, name)
        if not layers:  # named in frame.protocols inside another protocol's tree (sFlow's sampled headers)
            return
        icmp_type = _value(layers[0], f"{name}.type")
        if icmp_type is None or int(icmp_type) not in ICMP_ERRORS[name]:
            return
        l3 = path.before(index, ("ip", "ipv6"))
        raw = _raw(pkt, name)
        if l3 is None or not raw:
            return
        ips = _layers(pkt, l3[0])
        if l3[1] >= len(ips):
            return
        ip = ips[l3[1]]
        # The ICMP message from its type octet on, as the native engine hands it to sipdiag.icmp.
        self.datagrams.append(Datagram(frame, ts, _value(ip, f"{l3[0]}.src") or "", 0, _value(ip, f"{l3[0]}.dst")
                                       or "", 0, name, raw[0], (frame,), path.encap(index), "icmp"))

    def _tls(self, path: _Path, index: int, frame: int) -> None:
        at = path.endpoint(index)
        if at is None or not (set(at[3:]) & set(SIP_TLS_PORTS)):
            return
        self.tls_frames += 1
        _, src, dst, sport, dport = at
        key = min((src, sport, dst, dport), (dst, dport, src, sport))
        entry = self.tls_flows.setdefault(key, [frame, 0])
        entry[1] += 1

    def report_undecrypted(self, had_keylog: bool) -> None:
        """One `tls.undecrypted` anomaly per TLS flow on a SIP port whose application data stayed encrypted."""
        for (a, ap, b, bp), (first, records) in self.tls_flows.items():
            why = detail("undecrypted:keylog" if had_keylog else "undecrypted:no-keylog")
            self.log.add("tls.undecrypted", first, a=a, a_port=ap, b=b, b_port=bp, frames=records, why=why)


class _Media:
    """RTP header fields from the second run, in chunks of RtpColumns, into the statistics engine; the SIP and
    RTCP datagrams of the first run are fed in frame order beside them (SDP clocks, RTCP reports)."""

    def __init__(self, engine: RtpStatsEngine, datagrams: list[Datagram], log: AnomalyLog) -> None:
        self.engine = engine
        self.times = _Times(log)
        self.pending = [d for d in datagrams if d.kind in ("sip", "rtcp")]
        self.next = 0
        self.rows: list[tuple] = []
        self.packets = 0

    def add(self, pkt) -> None:
        protos = _value(pkt.frame_info, "frame.protocols").split(":")
        rtp_at = protos.index("rtp") if "rtp" in protos else -1
        l3_name = next((p for p in reversed(protos[:rtp_at]) if p in ("ip", "ipv6")), None)
        udps, rtps = _layers(pkt, "udp"), _layers(pkt, "rtp")
        if l3_name is None or not udps or not rtps:
            return
        ips = _layers(pkt, l3_name)
        ip, udp, rtp = ips[-1], udps[-1], rtps[0]
        v = lambda layer, f: _value(layer, f)  # noqa: E731
        try:
            src = _address(v(ip, f"{l3_name}.src"))
            dst = _address(v(ip, f"{l3_name}.dst"))
            udp_len = int(v(udp, "udp.length"))
            payload = _hexbytes(v(rtp, "rtp.payload"))
            # Without a payload field (a codec dissector took it), the length after the fixed header and CSRCs.
            payload_len = len(payload) if payload else max(udp_len - 8 - 12 - 4 * int(v(rtp, "rtp.cc") or 0), 0)
            row = (int(pkt.number), self.times.of(pkt), src >> 64, src & 0xFFFFFFFFFFFFFFFF, dst >> 64,
                   dst & 0xFFFFFFFFFFFFFFFF, int(v(udp, "udp.srcport")), int(v(udp, "udp.dstport")),
                   v(rtp, "rtp.marker") in ("1", "True"), int(v(rtp, "rtp.p_type")), int(v(rtp, "rtp.seq")),
                   int(v(rtp, "rtp.timestamp")), int(v(rtp, "rtp.ssrc"), 16), payload_len, max(udp_len - 8, 0),
                   int.from_bytes(payload[:4], "big") if len(payload) >= 4 else 0, _dscp(ips, l3_name, v))
        except (TypeError, ValueError):
            return  # a field tshark left out (a cut packet): not measurable
        self.rows.append(row)
        self.packets += 1
        if len(self.rows) >= RTP_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        last = self.rows[-1][0]
        while self.next < len(self.pending) and self.pending[self.next].frame <= last:
            self.engine.add_datagram(self.pending[self.next])
            self.next += 1
        self.engine.add(_columns(self.rows))
        self.rows = []

    def finish(self) -> None:
        self._flush()
        for d in self.pending[self.next :]:
            self.engine.add_datagram(d)
        self.next = len(self.pending)


def _address(text: str | None) -> int:
    ip = ipaddress.ip_address(str(text))
    return (V4_MAPPED | int(ip)) if ip.version == 4 else int(ip)


def _dscp(ips: list, name: str, v) -> int:
    """DSCP of the IP header (RFC 2474 §3); unknown inside a tunnel, as in the native engine."""
    if len(ips) != 1:
        return DSCP_UNKNOWN
    field = v(ips[0], "ip.dsfield") if name == "ip" else v(ips[0], "ipv6.tclass")
    try:
        return (int(field, 16) >> 2) & 0x3F
    except (TypeError, ValueError):
        return DSCP_UNKNOWN


_COLUMN_TYPES = (np.int64, np.int64, np.uint64, np.uint64, np.uint64, np.uint64, np.int32, np.int32, bool, np.int16,
                 np.int32, np.int64, np.int64, np.int32, np.int32, np.int64, np.uint8)


def _columns(rows: list[tuple]) -> RtpColumns:
    cols = [np.array(c, dtype=t) for c, t in zip(zip(*rows), _COLUMN_TYPES)]
    order = np.argsort(cols[0], kind="stable")
    return RtpColumns(*(c[order] for c in cols))

