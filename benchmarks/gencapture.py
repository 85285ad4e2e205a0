"""Generate a large, deterministic SIP + RTP capture for the benchmark (and for load tests of the capture reader).

    python benchmarks/gencapture.py --packets 1000000 --out benchmarks/out/1m.pcap
    python benchmarks/gencapture.py --calls 3 --duration 2 --format pcapng --out tiny.pcapng --manifest tiny.json

What it writes (Ethernet link type): N calls between UAs and a PBX, each a full UDP dialog (INVITE with SDP,
100, 180, 200 with SDP, ACK, BYE, 200; see sipcalls.py), overlapping in time, with two-way G.711 RTP
(PCMU or PCMA, 20 ms, 160-octet payload, RFC 3550/3551) between the SDP-announced addresses and ports,
a few ms of seeded arrival jitter, ~0.5 % seeded loss, and a few per cent of the calls from behind a NAT.
Everything comes from one seeded ``numpy.random.Generator``: the same arguments give the same bytes.

Why it is fast: the RTP packets (97-99 % of the file) are never Python objects. Their header fields are NumPy
columns (one row per packet), written into a structured array whose memory layout *is* the pcap/pcapng record
(record header + Ethernet + IPv4 + UDP + RTP + payload), checksums included, then written out in chunks with the
few SIP messages spliced in at their time positions. Memory stays at a few hundred MB for any size: the per-packet
columns are ~24 octets a packet, the record bytes exist one chunk at a time.

``--manifest`` writes the ground truth as JSON (per call: Call-ID, NAT, codec, times; per stream: addresses, SSRC,
first sequence number, packets sent and captured, the sequence numbers dropped), for tests and for checking
sipdiag's figures against what was generated.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the sibling module importable
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sipcalls
else:
    from . import sipcalls

SIP_MESSAGES_PER_CALL = 7
DEFAULT_START_NS = 1_700_000_000 * 1_000_000_000  # 2023-11-14T22:13:20Z, fixed for determinism
CONCURRENCY = 150  # calls in progress at once, on average, when the span is derived from the call count
CHUNK = 1 << 18  # packets per written chunk: ~60 MB of records
MAX_JITTER_NS = 18_000_000  # below the 20 ms packet spacing, so a stream's packets never reorder
BASE_DELAY_NS = 1_000_000

PBX_MAC = bytes.fromhex("020000bb0001")
ROUTER_MAC = bytes.fromhex("020000aa0001")
ETH_IPV4 = 0x0800
TOS_EF = 0xB8  # DSCP EF (46) << 2: what phones and PBXs mark RTP with (RFC 3246)
TTL_PBX, TTL_UA = 64, 57  # UA packets have crossed a few routers when the PBX port sees them
RTP_PAYLOAD = 160
FRAME_LEN = 14 + 20 + 8 + 12 + RTP_PAYLOAD  # 214

# One RTP frame, as a NumPy record; '>' fields are network byte order. The record header in front of it is the
# file format's (little-endian, as written below).
FRAME_FIELDS = [
    ("eth_dst", "u1", (6,)), ("eth_src", "u1", (6,)), ("eth_type", ">u2"),          # Ethernet II
    ("ip_vihl", "u1"), ("ip_tos", "u1"), ("ip_len", ">u2"), ("ip_id", ">u2"),       # IPv4, RFC 791
    ("ip_frag", ">u2"), ("ip_ttl", "u1"), ("ip_proto", "u1"), ("ip_sum", ">u2"),
    ("ip_src", ">u4"), ("ip_dst", ">u4"),
    ("udp_sport", ">u2"), ("udp_dport", ">u2"), ("udp_len", ">u2"), ("udp_sum", ">u2"),  # RFC 768
    ("rtp_vpxcc", "u1"), ("rtp_mpt", "u1"), ("rtp_seq", ">u2"),                     # RFC 3550 §5.1
    ("rtp_ts", ">u4"), ("rtp_ssrc", ">u4"),
    ("payload", "u1", (RTP_PAYLOAD,)),
]
PCAP_RECORD = np.dtype([("ts_sec", "<u4"), ("ts_usec", "<u4"), ("caplen", "<u4"), ("origlen", "<u4"),
                        *FRAME_FIELDS])
# pcapng Enhanced Packet Block without options: the 214-octet frame is padded to 216.
PCAPNG_RECORD = np.dtype([("block_type", "<u4"), ("block_len", "<u4"), ("iface", "<u4"), ("ts_high", "<u4"),
                          ("ts_low", "<u4"), ("caplen", "<u4"), ("origlen", "<u4"), *FRAME_FIELDS,
                          ("pad", "u1", (2,)), ("block_len_end", "<u4")])
assert PCAP_RECORD.itemsize == 16 + FRAME_LEN and PCAPNG_RECORD.itemsize == 28 + FRAME_LEN + 2 + 4


@dataclass(frozen=True)
class Summary:
    path: str
    format: str
    calls: int
    nat_calls: int
    packets: int
    sip_messages: int
    rtp_packets: int
    rtp_dropped: int
    bytes: int
    seconds: float
    first_ns: int
    last_ns: int


# --- payloads --------------------------------------------------------------------------------------------------

PAYLOAD_ROWS = 50  # one second of distinct 20 ms frames, then repeated


def _payload_table(rng: np.random.Generator) -> np.ndarray:
    """Low-level noise frames, rows 0..49 PCMU, 50..99 PCMA (G.711: small magnitudes only, like a quiet line).

    µ-law codes magnitude 0..3 as 0xFF-m (positive) / 0x7F-m (negative); A-law as (sign | m) XOR 0x55, i.e.
    0xD5^m / 0x55^m (ITU-T G.711 tables 1a/2a)."""
    magnitude = rng.integers(0, 4, size=(2, PAYLOAD_ROWS, RTP_PAYLOAD), dtype=np.uint8)
    positive = rng.random((2, PAYLOAD_ROWS, RTP_PAYLOAD)) < 0.5
    ulaw = np.where(positive[0], 0xFF - magnitude[0], 0x7F - magnitude[0])
    alaw = np.where(positive[1], 0xD5 ^ magnitude[1], 0x55 ^ magnitude[1])
    return np.concatenate([ulaw, alaw]).astype(np.uint8)


def _word_sums(rows: np.ndarray) -> np.ndarray:
    """Sum of the big-endian 16-bit words of each row (the payload's share of the UDP checksum)."""
    return (rows[:, 0::2].astype(np.int64) * 256 + rows[:, 1::2]).sum(axis=1)


def _fold(total: np.ndarray) -> np.ndarray:
    """One's-complement fold of 32-bit-or-less sums to 16 bits (RFC 1071), then complement."""
    for _ in range(3):
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


# --- RTP columns -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamTable:
    """Per-stream constants as NumPy columns (index = stream number = 2 * call + (0 up, 1 down))."""

    src_ip: np.ndarray
    dst_ip: np.ndarray
    src_port: np.ndarray
    dst_port: np.ndarray
    ssrc: np.ndarray
    first_seq: np.ndarray
    first_ts: np.ndarray
    payload_type: np.ndarray
    from_ua: np.ndarray
    ip_id0: np.ndarray
    payload_offset: np.ndarray
    start_ns: np.ndarray
    packets: np.ndarray


def _stream_table(plans: list[sipcalls.CallPlan], rng: np.random.Generator) -> StreamTable:
    streams = [s for call in plans for s in call.streams]
    col = lambda f, dt: np.array([f(s) for s in streams], dtype=dt)  # noqa: E731
    count = len(streams)
    return StreamTable(
        src_ip=col(lambda s: sipcalls.ip_to_int(s.src_ip), np.int64),
        dst_ip=col(lambda s: sipcalls.ip_to_int(s.dst_ip), np.int64),
        src_port=col(lambda s: s.src_port, np.int64),
        dst_port=col(lambda s: s.dst_port, np.int64),
        ssrc=col(lambda s: s.ssrc, np.int64),
        first_seq=col(lambda s: s.first_seq, np.int64),
        first_ts=col(lambda s: s.first_timestamp, np.int64),
        payload_type=col(lambda s: s.payload_type, np.int64),
        from_ua=col(lambda s: s.from_ua, bool),
        ip_id0=rng.integers(0, 1 << 16, size=count),
        payload_offset=rng.integers(0, PAYLOAD_ROWS, size=count),
        start_ns=col(lambda s: s.start_ns, np.int64),
        packets=col(lambda s: s.packets, np.int64),
    )


def _rtp_columns(table: StreamTable, rng: np.random.Generator, loss: float, jitter_ms: float):
    """Every RTP packet sent, as columns: arrival time, stream, index k within the stream; then the seeded loss
    is applied and the survivors are sorted by arrival time. Returns (ts_ns, stream, k, dropped_stream, dropped_k).

    Packet k of a stream is sent at start + k * 20 ms and arrives after a base delay plus a gamma-distributed
    jitter (mean ``jitter_ms``, clipped below 18 ms so a stream never reorders)."""
    counts = table.packets
    total = int(counts.sum())
    stream = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    first_index = np.cumsum(counts) - counts
    k = (np.arange(total, dtype=np.int64) - np.repeat(first_index, counts)).astype(np.int32)
    if jitter_ms > 0:
        jitter = rng.gamma(2.0, jitter_ms * 1e6 / 2.0, size=total)
        jitter = np.minimum(jitter, MAX_JITTER_NS).astype(np.int64)
    else:
        jitter = np.zeros(total, dtype=np.int64)
    ts = table.start_ns[stream] + k.astype(np.int64) * sipcalls.PTIME_NS + BASE_DELAY_NS + jitter
    del jitter
    kept = rng.random(total) >= loss
    dropped_stream, dropped_k = stream[~kept], k[~kept]
    ts, stream, k = ts[kept], stream[kept], k[kept]
    order = np.argsort(ts, kind="stable")
    return ts[order], stream[order], k[order], dropped_stream, dropped_k


def _rtp_records(dtype: np.dtype, ts: np.ndarray, stream: np.ndarray, k: np.ndarray, table: StreamTable,
                 payloads: np.ndarray, payload_sums: np.ndarray, nanos: bool) -> np.ndarray:
    """Fill the records of one chunk of RTP packets, all columns at once."""
    m = len(ts)
    rec = np.zeros(m, dtype=dtype)
    k64 = k.astype(np.int64)
    if dtype is PCAP_RECORD:
        rec["ts_sec"] = ts // 1_000_000_000
        rec["ts_usec"] = ts % 1_000_000_000 if nanos else ts % 1_000_000_000 // 1000
    else:
        rec["block_type"] = 6
        rec["block_len"] = rec["block_len_end"] = PCAPNG_RECORD.itemsize
        rec["ts_high"] = ts >> 32  # the interface's if_tsresol is 9: units are nanoseconds
        rec["ts_low"] = ts & 0xFFFFFFFF
    rec["caplen"] = rec["origlen"] = FRAME_LEN

    up = table.from_ua[stream]
    macs = np.frombuffer(ROUTER_MAC + PBX_MAC, dtype=np.uint8).reshape(2, 6)
    rec["eth_src"] = macs[np.where(up, 0, 1)]
    rec["eth_dst"] = macs[np.where(up, 1, 0)]
    rec["eth_type"] = ETH_IPV4

    src, dst = table.src_ip[stream], table.dst_ip[stream]
    ttl = np.where(up, TTL_UA, TTL_PBX)
    ident = (table.ip_id0[stream] + k64) & 0xFFFF
    ip_len, udp_len = 20 + 8 + 12 + RTP_PAYLOAD, 8 + 12 + RTP_PAYLOAD
    rec["ip_vihl"], rec["ip_tos"], rec["ip_len"], rec["ip_frag"], rec["ip_proto"] = 0x45, TOS_EF, ip_len, 0x4000, 17
    rec["ip_id"], rec["ip_ttl"], rec["ip_src"], rec["ip_dst"] = ident, ttl, src, dst
    addr_sum = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
    rec["ip_sum"] = _fold((0x45 << 8 | TOS_EF) + ip_len + ident + 0x4000 + (ttl << 8 | 17) + addr_sum)

    sport, dport = table.src_port[stream], table.dst_port[stream]
    rec["udp_sport"], rec["udp_dport"], rec["udp_len"] = sport, dport, udp_len

    seq = (table.first_seq[stream] + k64) & 0xFFFF
    rtp_ts = (table.first_ts[stream] + k64 * sipcalls.SAMPLES_PER_PACKET) & 0xFFFFFFFF
    ssrc = table.ssrc[stream]
    mpt = table.payload_type[stream] | np.where(k64 == 0, 0x80, 0)  # marker on the first packet (RFC 3551 §4.1)
    rec["rtp_vpxcc"], rec["rtp_mpt"], rec["rtp_seq"], rec["rtp_ts"], rec["rtp_ssrc"] = 0x80, mpt, seq, rtp_ts, ssrc

    row = np.where(table.payload_type[stream] == 8, PAYLOAD_ROWS, 0) + (table.payload_offset[stream] + k64) % \
        PAYLOAD_ROWS
    rec["payload"] = payloads[row]
    udp_sum = _fold(addr_sum + 17 + udp_len                                  # pseudo-header (RFC 768)
                    + sport + dport + udp_len                                # UDP header, checksum field 0
                    + (0x80 << 8 | mpt) + seq + (rtp_ts >> 16) + (rtp_ts & 0xFFFF) + (ssrc >> 16) + (ssrc & 0xFFFF)
                    + payload_sums[row])
    rec["udp_sum"] = np.where(udp_sum == 0, 0xFFFF, udp_sum)  # 0 would mean "no checksum"
    return rec


# --- SIP frames ------------------------------------------------------------------------------------------------

def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    return int(_fold(np.frombuffer(data, dtype=">u2").sum(dtype=np.int64)))


def _udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes, ident: int, from_ua: bool) -> bytes:
    """Ethernet / IPv4 (DF) / UDP with both checksums, for one SIP message."""
    src_b, dst_b = struct.pack("!I", sipcalls.ip_to_int(src)), struct.pack("!I", sipcalls.ip_to_int(dst))
    length = 8 + len(payload)
    udp_sum = _checksum(src_b + dst_b + struct.pack("!xBHHHHH", 17, length, sport, dport, length, 0) + payload)
    udp_header = struct.pack("!HHHH", sport, dport, length, udp_sum or 0xFFFF)
    ip_header = struct.pack("!BBHHHBBH4s4s", 0x45, 0x68, 20 + length, ident, 0x4000, TTL_UA if from_ua else TTL_PBX,
                            17, 0, src_b, dst_b)  # TOS 0x68: DSCP CS3/AF31 family, common for SIP
    ip_header = ip_header[:10] + struct.pack("!H", _checksum(ip_header)) + ip_header[12:]
    eth = (PBX_MAC + ROUTER_MAC) if from_ua else (ROUTER_MAC + PBX_MAC)
    return eth + struct.pack("!H", ETH_IPV4) + ip_header + udp_header + payload


def _sip_frames(plans: list[sipcalls.CallPlan]) -> list[tuple[int, bytes]]:
    frames = []
    for call in plans:
        for n, (ts, from_ua, message) in enumerate(sipcalls.dialog_messages(call)):
            ident = (call.index * SIP_MESSAGES_PER_CALL + n) & 0xFFFF
            if from_ua:
                frame = _udp_frame(call.ua_ip, sipcalls.PBX_SIP_IP, call.ua_port, sipcalls.PBX_SIP_PORT, message,
                                   ident, True)
            else:
                frame = _udp_frame(sipcalls.PBX_SIP_IP, call.ua_ip, sipcalls.PBX_SIP_PORT, call.ua_port, message,
                                   ident, False)
            frames.append((ts, frame))
    frames.sort(key=lambda item: item[0])
    return frames


# --- file framing ----------------------------------------------------------------------------------------------

def _file_header(fmt: str, nanos: bool) -> bytes:
    if fmt == "pcap":
        return struct.pack("<IHHiIII", 0xA1B23C4D if nanos else 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    # pcapng: SHB (with shb_userappl) + one Ethernet IDB with if_name and if_tsresol = 9 (nanoseconds)
    appl = b"sipdiag benchmarks/gencapture.py"
    appl_opt = struct.pack("<HH", 4, len(appl)) + appl + bytes(-len(appl) % 4)
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + appl_opt + struct.pack("<HH", 0, 0)
    name = b"eth0"
    idb_body = (struct.pack("<HHI", 1, 0, 262144) + struct.pack("<HH", 2, len(name)) + name
                + struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0))
    return b"".join(struct.pack("<II", bt, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
                    for bt, body in ((0x0A0D0D0A, shb_body), (1, idb_body)))


def _sip_record(fmt: str, ts_ns: int, frame: bytes, nanos: bool) -> bytes:
    if fmt == "pcap":
        secs, frac = divmod(ts_ns, 1_000_000_000)
        return struct.pack("<IIII", secs, frac if nanos else frac // 1000, len(frame), len(frame)) + frame
    padded = frame + bytes(-len(frame) % 4)
    total = 32 + len(padded)
    return (struct.pack("<IIIIIII", 6, total, 0, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(frame), len(frame))
            + padded + struct.pack("<I", total))


# --- sizing ----------------------------------------------------------------------------------------------------

def _packets_per_stream(rng: np.random.Generator, calls: int, packets: int | None, duration_s: float | None,
                        spread: float, loss: float) -> np.ndarray:
    """RTP packets per direction for each call: from ``duration_s`` (mean call length) if given, else chosen so
    the whole file has about ``packets`` packets. Call lengths vary uniformly by ±spread around the mean."""
    factor = rng.uniform(1 - spread, 1 + spread, size=calls) if spread > 0 else np.ones(calls)
    if duration_s is not None:
        mean = duration_s * 1e9 / sipcalls.PTIME_NS
    else:
        mean = max(1.0, (packets - SIP_MESSAGES_PER_CALL * calls) / (2 * calls * (1 - loss)))
        factor = factor / factor.mean()  # hit the requested total closely whatever the draw
    return np.maximum(1, np.rint(factor * mean)).astype(np.int64)


def generate(
    out: str | Path,
    packets: int | None = None,
    calls: int | None = None,
    duration_s: float | None = None,
    fmt: str = "pcap",
    seed: int = 1,
    loss: float = 0.005,
    jitter_ms: float = 2.0,
    nat_fraction: float = 0.03,
    spread: float = 0.5,
    span_s: float | None = None,
    nanos: bool = False,
    start_ns: int = DEFAULT_START_NS,
    manifest: str | Path | None = None,
) -> Summary:
    """Write the capture to ``out`` and return what was written. See the module docstring.

    packets: approximate total (calls default to packets // 500: ~5 s calls, 1.4 % SIP as in real captures).
    calls, duration_s: set the size directly instead (duration_s is the mean call length in seconds).
    span_s: the window over which calls start (default: enough for ~150 concurrent calls).
    nanos: classic pcap with nanosecond timestamps (pcapng is always written with if_tsresol = 9).
    """
    if fmt not in ("pcap", "pcapng"):
        raise ValueError(f"format must be pcap or pcapng, not {fmt!r}")
    if calls is None:
        if packets is None:
            raise ValueError("give --packets, or --calls (with --duration)")
        calls = max(1, packets // 500)
    if packets is None and duration_s is None:
        duration_s = 5.0
    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    per_stream = _packets_per_stream(rng, calls, packets, duration_s, spread, loss)
    mean_duration_ns = int(per_stream.mean() * sipcalls.PTIME_NS)
    span_ns = int(span_s * 1e9) if span_s is not None else max(mean_duration_ns,
                                                                calls * mean_duration_ns // CONCURRENCY)
    plans = sipcalls.plan_calls(calls, per_stream, rng, span_ns, start_ns, nat_fraction,
                                jitter_margin_ns=BASE_DELAY_NS + MAX_JITTER_NS)
    table = _stream_table(plans, rng)
    payloads = _payload_table(rng)
    payload_sums = _word_sums(payloads)
    ts, stream, k, dropped_stream, dropped_k = _rtp_columns(table, rng, loss, jitter_ms)
    sip = _sip_frames(plans)

    dtype = PCAP_RECORD if fmt == "pcap" else PCAPNG_RECORD
    sip_ts = np.array([t for t, _ in sip], dtype=np.int64)
    insert_at = np.searchsorted(ts, sip_ts, side="right")  # a SIP message goes after RTP of the same instant
    total_rtp = len(ts)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    j = 0
    with open(out, "wb") as f:
        f.write(_file_header(fmt, nanos))
        for a in range(0, total_rtp, CHUNK):
            b = min(a + CHUNK, total_rtp)
            raw = _rtp_records(dtype, ts[a:b], stream[a:b], k[a:b], table, payloads, payload_sums,
                               nanos).view(np.uint8)
            size = dtype.itemsize
            cursor = a
            while j < len(sip) and insert_at[j] < b:
                f.write(raw[(cursor - a) * size:(insert_at[j] - a) * size])
                f.write(_sip_record(fmt, *sip[j], nanos))
                cursor = int(insert_at[j])
                j += 1
            f.write(raw[(cursor - a) * size:])
        for ts_ns, frame in sip[j:]:
            f.write(_sip_record(fmt, ts_ns, frame, nanos))

    summary = Summary(
        path=str(out), format=fmt, calls=calls, nat_calls=sum(p.nat for p in plans),
        packets=total_rtp + len(sip), sip_messages=len(sip), rtp_packets=total_rtp, rtp_dropped=len(dropped_k),
        bytes=out.stat().st_size, seconds=round(time.perf_counter() - began, 3),
        first_ns=int(min(ts[0] if total_rtp else sip_ts[0], sip_ts[0])),
        last_ns=int(max(ts[-1] if total_rtp else sip_ts[-1], sip_ts[-1])),
    )
    if manifest is not None:
        _write_manifest(manifest, summary, plans, dropped_stream, dropped_k, table,
                        dict(seed=seed, loss=loss, jitter_ms=jitter_ms, nat_fraction=nat_fraction, spread=spread))
    return summary


def _write_manifest(path, summary: Summary, plans, dropped_stream, dropped_k, table: StreamTable, params) -> None:
    """Ground truth as JSON: per call and per stream, including the sequence numbers that were dropped."""
    dropped: dict[int, list[int]] = {}
    for s, k in zip(dropped_stream.tolist(), dropped_k.tolist(), strict=True):
        dropped.setdefault(s, []).append((int(table.first_seq[s]) + k) & 0xFFFF)
    calls = []
    for call in plans:
        record = {key: value for key, value in asdict(call).items() if key != "streams"}
        record["codec"] = sipcalls.CODECS[call.payload_type]
        record["streams"] = []
        for direction, plan in enumerate(call.streams):
            lost = dropped.get(2 * call.index + direction, [])
            record["streams"].append({**asdict(plan), "packets_captured": plan.packets - len(lost),
                                      "dropped_seqs": lost})
        calls.append(record)
    document = {"generator": "benchmarks/gencapture.py", "params": params, "summary": asdict(summary),
                "calls": calls}
    Path(path).write_text(json.dumps(document, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, help="approximate total packets (e.g. 1000000)")
    parser.add_argument("--calls", type=int, help="number of calls (default: packets // 500)")
    parser.add_argument("--duration", type=float, help="mean call length in seconds (instead of --packets)")
    parser.add_argument("--format", choices=("pcap", "pcapng"), default="pcap")
    parser.add_argument("--out", required=True, help="output file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--loss", type=float, default=0.005, help="fraction of RTP packets dropped (0.005)")
    parser.add_argument("--jitter-ms", type=float, default=2.0, help="mean arrival jitter in ms (2.0)")
    parser.add_argument("--nat", type=float, default=0.03, help="fraction of calls from behind a NAT (0.03)")
    parser.add_argument("--spread", type=float, default=0.5, help="call length varies by ± this fraction (0.5)")
    parser.add_argument("--span", type=float, help="seconds over which calls start (default: ~150 concurrent)")
    parser.add_argument("--nanos", action="store_true", help="pcap with nanosecond timestamps")
    parser.add_argument("--manifest", help="write the ground truth (calls, streams, drops) as JSON here")
    args = parser.parse_args(argv)
    if args.packets is None and args.calls is None:
        parser.error("give --packets N, or --calls N [--duration S]")
    summary = generate(args.out, packets=args.packets, calls=args.calls, duration_s=args.duration,
                       fmt=args.format, seed=args.seed, loss=args.loss, jitter_ms=args.jitter_ms,
                       nat_fraction=args.nat, spread=args.spread, span_s=args.span, nanos=args.nanos,
                       manifest=args.manifest)
    print(f"{summary.path}: {summary.packets} packets ({summary.sip_messages} SIP, {summary.rtp_packets} RTP, "
          f"{summary.rtp_dropped} RTP dropped), {summary.calls} calls ({summary.nat_calls} behind NAT), "
          f"{summary.bytes / 1e6:.1f} MB, {(summary.last_ns - summary.first_ns) / 1e9:.1f} s of traffic, "
          f"written in {summary.seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
