"""`analyze(path) -> Analysis`: the pipeline of ARCHITECTURE.md run over one capture.

One pass over the capture: SIP-side datagrams are parsed into `SipMessage`s (few), RTP column batches are folded
into per-stream accumulators (many packets, few streams), so memory does not grow with the file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model import Anomaly, Datagram
from .parsers.columns import RtpColumns
from .parsers.scan import CaptureInfo, address, scan_capture
from .parsers.sip import SipMessage, parse_sip


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
    messages: tuple[SipMessage, ...]
    sip: SipSummary
    rtp_packets: int
    rtcp_packets: int
    rtp_streams: tuple[RtpStreamCount, ...]
    anomalies: tuple[Anomaly, ...]


# A flow is taken for RTP only when it looks like a sequence: enough packets whose sequence numbers stay close
# together (RFC 3550 A.1 probation uses MIN_SEQUENTIAL = 2; a few more keep DNS or game traffic out).
MIN_RTP_PACKETS = 3


class _StreamCounter:
    """Packets per (src, dst, ports, SSRC), folded batch by batch so no per-packet state is kept."""

    def __init__(self) -> None:
        # key -> [packets, first frame, payload type, min seq, max seq, min shifted seq, max shifted seq]
        self.counts: dict[tuple, list[int]] = {}

    def add(self, rtp: RtpColumns) -> None:
        keys = np.empty(len(rtp), dtype=[("sh", "u8"), ("sl", "u8"), ("dh", "u8"), ("dl", "u8"), ("sp", "i4"),
                                         ("dp", "i4"), ("ssrc", "i8")])
        keys["sh"], keys["sl"], keys["dh"], keys["dl"] = rtp.src_hi, rtp.src_lo, rtp.dst_hi, rtp.dst_lo
        keys["sp"], keys["dp"], keys["ssrc"] = rtp.src_port, rtp.dst_port, rtp.ssrc
        uniq, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        seq = rtp.sequence.astype(np.int64)
        shifted = (seq + 32768) & 0xFFFF  # the same spread measured across the 65535 -> 0 wrap
        lo, hi = np.full(len(uniq), 1 << 20), np.full(len(uniq), -1)
        slo, shi = lo.copy(), hi.copy()
        np.minimum.at(lo, inverse, seq)
        np.maximum.at(hi, inverse, seq)
        np.minimum.at(slo, inverse, shifted)
        np.maximum.at(shi, inverse, shifted)
        for j, (key, i, c) in enumerate(zip(uniq.tolist(), first.tolist(), counts.tolist())):
            entry = self.counts.get(key)
            if entry is None:
                self.counts[key] = [c, int(rtp.frame[i]), int(rtp.payload_type[i]), int(lo[j]), int(hi[j]),
                                    int(slo[j]), int(shi[j])]
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


def analyze(path: str | Path) -> Analysis:
    """Read the capture at `path` ('-' for standard input) and return its Analysis.

    Raises CaptureFormatError (not a capture) or CaptureReadError (cannot be read); damage inside a capture is
    never raised: it is reported in `Analysis.anomalies`.
    """
    scan = scan_capture(path)
    messages: list[SipMessage] = []
    streams = _StreamCounter()
    rtcp = 0
    encaps: Counter[str] = Counter()
    for item in scan:
        if isinstance(item, Datagram):
            if item.kind == "sip":
                msg = parse_sip(item.payload, frame=item.frame, ts_ns=item.ts_ns, src=(item.src_ip, item.src_port),
                                dst=(item.dst_ip, item.dst_port), transport=item.transport)
                if msg is not None:
                    messages.append(msg)
                    encaps[item.encap or "none"] += 1
            elif item.kind == "rtcp":
                rtcp += 1
        else:
            streams.add(item)
    info = scan.info
    assert info is not None
    rtp_streams = streams.streams()
    anomalies = list(info.anomalies)
    for m in messages:
        anomalies.extend(m.anomalies)
    return Analysis(
        capture=info,
        messages=tuple(messages),
        sip=_summarise_sip(messages, encaps),
        rtp_packets=sum(st.packets for st in rtp_streams),
        rtcp_packets=rtcp,
        rtp_streams=rtp_streams,
        anomalies=tuple(anomalies),
    )


def _summarise_sip(messages: list[SipMessage], encaps: Counter[str]) -> SipSummary:
    requests: Counter[str] = Counter()
    responses: Counter[int] = Counter()
    transports: Counter[str] = Counter()
    for m in messages:
        if m.is_request:
            requests[m.method or "?"] += 1
        elif m.status_code is not None:
            responses[m.status_code] += 1
        transports[m.transport] += 1
    return SipSummary(len(messages), dict(requests), dict(sorted(responses.items())), dict(transports), dict(encaps))
