"""`analyze(path) -> Analysis`: the pipeline of ARCHITECTURE.md run over one capture.

One pass over the capture: SIP-side datagrams are parsed into `SipMessage`s (few), RTP column batches are folded
into per-stream accumulators (many packets, few streams), so memory does not grow with the file.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .correlate import Correlator
from .errors import UsageError
from .model import Anomaly, Call, Datagram, Registration, Transaction
from .parsers.columns import RtpColumns
from .parsers.scan import CaptureInfo, address, scan_capture
from .parsers.sip import SipMessage, parse_sip
from .streamgroups import group_streams, stream_key_columns


@dataclass(frozen=True, slots=True)
class RtpStreamCount:
    """One RTP flow (src, dst, SSRC) as the capture layer counted it; measured fully by the media stage."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    ssrc: int
    payload_type: int
    packets: int
    first_frame: int


@dataclass(frozen=True, slots=True)
class SipSummary:
    messages: int
    requests: dict[str, int]  # by method
    responses: dict[int, int]  # by status code
    transports: dict[str, int]
    encapsulations: dict[str, int]  # none, hep, gre, erspan, ipip, ...


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything one run produced; every output is rendered from this alone."""

    capture: CaptureInfo
    messages: tuple[SipMessage, ...]  # full messages, the first MESSAGE_BUDGET of them (see analyze())
    sip: SipSummary
    calls: tuple[Call, ...]
    registrations: tuple[Registration, ...]
    transactions: tuple[Transaction, ...]  # stand-alone: OPTIONS, SUBSCRIBE/NOTIFY, MESSAGE, PUBLISH, ...
    rtp_packets: int
    rtcp_packets: int
    rtp_streams: tuple[RtpStreamCount, ...]
    anomalies: tuple[Anomaly, ...]

    def find_call(self, ref: str) -> Call:
        """A call by its Call-ID, or `#N` for the N-th call of the calls table (1-based, in capture order).

        Raises UsageError naming what there is when nothing matches.
        """
        if ref.startswith("#") and ref[1:].isdigit():
            n = int(ref[1:])
            if 1 <= n <= len(self.calls):
                return self.calls[n - 1]
            raise UsageError(f"there is no call #{n}: the capture has {len(self.calls)} call(s)",
                             hint=f"Use #1 to #{len(self.calls)} or a Call-ID." if self.calls else
                             "The capture holds no INVITE.")
        for call in self.calls:
            if call.call_id == ref:
                return call
        matches = [c for c in self.calls if c.call_id.startswith(ref)] if len(ref) >= 4 else []
        if len(matches) == 1:
            return matches[0]
        raise UsageError(f"no call with Call-ID {ref!r} in the capture ({len(self.calls)} call(s))",
                         hint="See the calls table of 'sipdiag analyze FILE' for Call-IDs and #N numbers.")


# A flow is taken for RTP only when it looks like a sequence: enough packets whose sequence numbers stay close
# together (RFC 3550 A.1 probation uses MIN_SEQUENTIAL = 2; a few more keep DNS or game traffic out).
MIN_RTP_PACKETS = 3


class _StreamCounter:
    """Packets per (src, dst, ports, SSRC), folded batch by batch so no per-packet state is kept."""

    def __init__(self) -> None:
        # key -> [packets, first frame, payload type, min seq, max seq, min shifted seq, max shifted seq]
        self.counts: dict[tuple, list[int]] = {}

    def add(self, rtp: RtpColumns) -> None:
        g = group_streams(rtp)
        first = g.first
        seq = rtp.sequence.astype(np.int64)[g.order]
        shifted = (seq + 32768) & 0xFFFF  # the same spread measured across the 65535 -> 0 wrap
        lo, hi = np.minimum.reduceat(seq, g.starts), np.maximum.reduceat(seq, g.starts)
        slo, shi = np.minimum.reduceat(shifted, g.starts), np.maximum.reduceat(shifted, g.starts)
        cols = [c[first].tolist() for c in stream_key_columns(rtp)]
        frames = rtp.frame[first].tolist()
        pts = rtp.payload_type[first].tolist()
        for j, (key, c) in enumerate(zip(zip(*cols), g.counts.tolist())):
            entry = self.counts.get(key)
            if entry is None:
                self.counts[key] = [c, frames[j], pts[j], int(lo[j]), int(hi[j]), int(slo[j]), int(shi[j])]
            else:
                entry[0] += c
                entry[3], entry[4] = min(entry[3], int(lo[j])), max(entry[4], int(hi[j]))
                entry[5], entry[6] = min(entry[5], int(slo[j])), max(entry[6], int(shi[j]))

    def streams(self) -> tuple[RtpStreamCount, ...]:
        out = []
        for (sh, sl, dh, dl, sp, dp, ssrc), (n, first, pt, lo, hi, slo, shi) in self.counts.items():
            spread = min(hi - lo, shi - slo) + 1
            # Real RTP: sequence numbers cover about as many values as packets (loss widens it, duplicates
            # narrow it); random bytes spread over the whole 16-bit space.
            if n >= MIN_RTP_PACKETS and spread <= 2 * n + 16:
                out.append(RtpStreamCount(address(sh, sl), sp, address(dh, dl), dp, ssrc, pt, n, first))
        return tuple(sorted(out, key=lambda s: s.first_frame))


# Full SipMessages kept in Analysis.messages. Calls keep every message as a small MessageRef whatever the
# capture's size; the full text of the first MESSAGE_BUDGET messages is kept for the views that show it.
MESSAGE_BUDGET = 5000


def analyze(path: str | Path, *, keep_messages: bool | int = True) -> Analysis:
    """Read the capture at `path` ('-' for standard input) and return its Analysis.

    keep_messages: True keeps the first MESSAGE_BUDGET full SipMessages in `Analysis.messages`, an int keeps
    that many, False none; calls always keep every message as a `MessageRef`, so memory stays bounded.

    Raises CaptureFormatError (not a capture) or CaptureReadError (cannot be read); damage inside a capture is
    never raised: it is reported in `Analysis.anomalies`.
    """
    # The run makes hundreds of thousands of small acyclic objects; the cyclic collector would walk them over and
    # over (measured: 40 % of the run on a 1 M-packet capture). Reference counting still frees them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(path, keep_messages)
    finally:
        if gc_was_enabled:
            gc.enable()


def _analyze(path: str | Path, keep_messages: bool | int) -> Analysis:
    scan = scan_capture(path)
    messages: list[SipMessage] = []
    budget = MESSAGE_BUDGET if keep_messages is True else int(keep_messages)
    correlator = Correlator()
    streams = _StreamCounter()
    rtcp = 0
    encaps: Counter[str] = Counter()
    sip = _SipCounter()
    for item in scan:
        if isinstance(item, Datagram):
            if item.kind == "sip":
                msg = parse_sip(item.payload, frame=item.frame, ts_ns=item.ts_ns, src=(item.src_ip, item.src_port),
                                dst=(item.dst_ip, item.dst_port), transport=item.transport)
                if msg is not None:
                    sip.add(msg)
                    encaps[item.encap or "none"] += 1
                    for a in msg.anomalies:  # into the run's bounded log: a flood of bad SIP cannot eat memory
                        scan.add_anomaly(a.code, a.frame, a.detail)
                    correlator.add(msg)
                    if len(messages) < budget:
                        messages.append(msg)
            elif item.kind == "rtcp":
                rtcp += 1
        else:
            streams.add(item)
    info = scan.info
    assert info is not None
    rtp_streams = streams.streams()
    correlation = correlator.finish(info.last_ts_ns or 0)
    return Analysis(
        capture=info,
        messages=tuple(messages),
        sip=sip.summary(encaps),
        calls=correlation.calls,
        registrations=correlation.registrations,
        transactions=correlation.transactions,
        rtp_packets=sum(st.packets for st in rtp_streams),
        rtcp_packets=rtcp,
        rtp_streams=rtp_streams,
        anomalies=info.anomalies,
    )


class _SipCounter:
    def __init__(self) -> None:
        self.messages = 0
        self.requests: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()
        self.transports: Counter[str] = Counter()

    def add(self, m: SipMessage) -> None:
        self.messages += 1
        if m.is_request:
            self.requests[m.method or "?"] += 1
        elif m.status_code is not None:
            self.responses[m.status_code] += 1
        self.transports[m.transport] += 1

    def summary(self, encaps: Counter[str]) -> SipSummary:
        return SipSummary(self.messages, dict(self.requests), dict(sorted(self.responses.items())),
                          dict(self.transports), dict(encaps))
