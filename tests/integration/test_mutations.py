"""Seeded mutations of the lab's captures through the whole pipeline: every packet still read and counted, and the
analysis written in every report, whatever the SIP text, the SDP, the RTP header or the file's bytes hold.

A deterministic slice of the fuzzing that found the crashes test_hostile_numbers.py pins (mutated numbers, lines
dropped, doubled and swapped, separators removed, hostile header values, bytes flipped, the file cut short). Each
case is rebuilt from its seed, so a failure names the seed that reproduces it.
"""

from __future__ import annotations

import io
import random
import re
import struct

import dpkt
import pytest

import sipdiag
from sipdiag.errors import SipdiagError
from sipdiag.reports import render
from sipdiag.reports.flow import render_flow
from sipdiag.reports.reply import render_reply
from sipdiag.reports.streams import render_streams
from tests import pcapwriter as pw
from tests.conftest import SAMPLES

CASES = 48
# Seeds that crashed sipdiag before the fixes test_hostile_numbers.py pins: an m= format of 2**64 refused by the
# JSON writer (200, 296) and an m= format in superscript digits (458).
FOUND = (200, 296, 458)
NUMBERS = [b"0", b"4294967296", b"18446744073709551616", b"99999999999999999999999", b"65536", b"1e9", b"",
           "\u00b2".encode(), "\u0663".encode()]
JUNK = [b"\x00", b"\r\n", b"\r\n\r\n", b";", b",", b"<", b">", b'"', b"@", b":", b"[", b"]", b"=", b"\t",
        b"\r\n ", "й😀".encode(), b"\x1b[31m", b"\xff\xfe", b"sip:", b"[::1]", b"a=rtpmap:", b"m=audio ", b"\\"]
HEADERS = [b"Expires", b"CSeq", b"Content-Length", b"Via", b"Contact", b"Session-Expires", b"RSeq", b"RAck",
           b"Max-Forwards", b"Min-Expires", b"Reason", b"WWW-Authenticate", b"Call-ID", b"From", b"To",
           b"Record-Route", b"Content-Type"]
VALUES = [b"99999999999999999999999", b"-5", b"", b";;;;", b"<>", b"sip:[::1", b'Digest realm="\\',
          b"4294967296 INVITE", b"a=b;" * 200, b'"unterminated', b"*", b"multipart/mixed;boundary=x",
          b"SIP/2.0/UDP [::1]:99999;branch=z9hG4bK;rport=99999999999;received=::::"]


def mutate_sip(p: bytes, r: random.Random) -> bytes:
    for _ in range(r.randint(1, 4)):
        if not p:
            break
        op = r.randrange(8)
        lines = p.split(b"\r\n")
        if op == 0 and (numbers := list(re.finditer(rb"\d+", p))):
            m = r.choice(numbers)
            p = p[:m.start()] + r.choice(NUMBERS) + p[m.end():]
        elif op == 1 and len(lines) > 1:
            del lines[r.randrange(len(lines))]
            p = b"\r\n".join(lines)
        elif op == 2:
            i = r.randrange(len(lines))
            lines.insert(i, lines[i])
            p = b"\r\n".join(lines)
        elif op == 3:
            i = r.randrange(len(p) + 1)
            p = p[:i] + r.choice(JUNK) + p[i:]
        elif op == 4:
            p = p[:r.randrange(len(p) + 1)]
        elif op == 5 and len(lines) > 2:
            i, j = r.randrange(len(lines)), r.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            p = b"\r\n".join(lines)
        elif op == 6 and (seps := list(re.finditer(rb"[;:,<>@= ]", p))):
            m = r.choice(seps)
            p = p[:m.start()] + p[m.end():]
        else:
            lines[r.randrange(len(lines))] = r.choice(HEADERS) + b": " + r.choice(VALUES)
            p = b"\r\n".join(lines)
    return p


def mutated_capture(seed: int, path) -> tuple[int, bool]:
    """Write case `seed` to `path`; returns the number of records (written, or in the source when the file's
    bytes were damaged) and whether they were."""
    r = random.Random(seed)
    samples = sorted(SAMPLES.glob("*.pcap"))
    source = samples[seed % len(samples)]
    if seed % 4 == 3:  # damage the file itself: flipped bytes anywhere, maybe cut short
        data = bytearray(source.read_bytes())
        for _ in range(r.randint(1, 8)):
            data[r.randrange(24, len(data))] = r.randrange(256)
        if r.random() < 0.5:
            data = data[:r.randrange(24, len(data))]
        path.write_bytes(bytes(data))
        with source.open("rb") as f:
            return sum(1 for _ in dpkt.pcap.Reader(f)), True
    records = []
    with source.open("rb") as f:
        for ts, frame in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(frame)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP) and not ip.mf and not ip.offset:
                udp, payload = ip.data, bytes(ip.data.data)
                if payload[:1].isalpha() and r.random() < 0.5:
                    payload = mutate_sip(payload, r)
                elif len(payload) >= 12 and r.random() < 0.05:  # an RTP header byte
                    b = bytearray(payload)
                    b[r.randrange(12)] = r.randrange(256)
                    payload = bytes(b)
                frame = pw.sip_udp_frame(payload, ".".join(map(str, ip.src)), ".".join(map(str, ip.dst)),
                                         udp.sport, udp.dport)
            records.append((round(ts * 1e9), frame))
    pw.write_pcap(path, records, pw.LINKTYPE_ETHERNET)
    return len(records), False


def _check_reports(a) -> None:
    """Every report is written, and not empty."""
    for fmt in ("terminal", "json", "html", "csv", "junit"):
        out = io.StringIO()
        render(a, fmt, out)
        assert out.getvalue()


@pytest.mark.parametrize("seed", [*range(CASES), *FOUND])
def test_mutated_capture_is_read_whole_and_reported(seed, tmp_path) -> None:
    path = tmp_path / f"mutation-{seed}.pcap"
    records, damaged_bytes = mutated_capture(seed, path)
    try:
        a = sipdiag.analyze(path)
    except SipdiagError as e:  # only a file whose header was damaged may be refused, and then as not a capture
        assert damaged_bytes and e.exit_code == 3, e
        return
    assert a.sip.messages <= a.capture.packets
    if not damaged_bytes:
        assert a.capture.packets == records  # nothing silently dropped
    elif a.capture.packets != records:  # a record header damaged or the file cut: named by the reader
        assert any(x.code.startswith("pcap.") for x in a.anomalies), a.anomalies
    _check_reports(a)
    for fmt in ("terminal", "mermaid"):
        render_flow(a.calls, fmt, io.StringIO())
    for fmt in ("terminal", "json"):
        render_streams(a, fmt, io.StringIO())
    for audience in ("customer", "engineer"):
        render_reply(a, io.StringIO(), audience=audience, lang="ru" if seed % 2 else "en",
                     fmt="markdown" if seed % 3 else "text")


# pcapng block fields set to values a damaged file holds: every block-type, length, interface, timestamp, length
# and option word near a block's start (pcapng §3-4), one to three per case.
BLOCK_VALUES = (0, 1, 4, 12, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFC, 65535, 0x10000000)


@pytest.mark.parametrize("seed", range(24))
def test_pcapng_with_damaged_block_fields(seed, tmp_path) -> None:
    r = random.Random(seed)
    source = sorted(SAMPLES.glob("*.pcap"))[seed % 7]
    with source.open("rb") as f:
        records = [(0, round(ts * 1e9), bytes(frame)) for ts, frame in dpkt.pcap.Reader(f)]
    clean = tmp_path / "clean.pcapng"
    pw.write_pcapng(clean, [(pw.LINKTYPE_ETHERNET, 9)], records, statistics=[(0, records[-1][1], len(records), 0)])
    data = bytearray(clean.read_bytes())
    blocks, pos = [], 0
    while pos + 8 <= len(data):
        blen = struct.unpack_from("<I", data, pos + 4)[0]
        blocks.append((pos, blen))
        pos += blen
    local_use = set()  # packet blocks retyped into the local-use half (bit 31): §10.1 has readers skip those
    for _ in range(r.randint(1, 3)):
        pos, blen = r.choice(blocks)
        field = r.randrange(min(blen, 40) // 4) * 4
        value = r.choice(BLOCK_VALUES + (blen + r.choice((-8, -4, 4, 8)),))
        if field == 0 and value >= 0x80000000 and struct.unpack_from("<I", data, pos)[0] == 6:
            local_use.add(pos)
        struct.pack_into("<I", data, pos + field, value)
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(bytes(data))
    try:
        a = sipdiag.analyze(path)
    except SipdiagError as e:  # the section header itself damaged: not a capture
        assert e.exit_code == 3 and blocks[0][0] == 0
        return
    assert a.capture.packets <= len(records) + 1  # a damaged length may split one block, never invent many
    # a packet short is a named one, or a block the format says to skip
    assert a.capture.packets == len(records) - len(local_use) or any(x.code.startswith("pcapng.")
                                                                      for x in a.anomalies)
    _check_reports(a)


def _udp_payloads(path) -> list[bytes]:
    with open(path, "rb") as f:
        # Ethernet (14 octets), IPv4 (its IHL), UDP (8): the lab samples hold no other kind of frame
        return [frame[14 + (frame[14] & 0x0F) * 4 + 8:] for _, frame in dpkt.pcap.Reader(f)]


def test_the_mutations_change_sip_text(tmp_path) -> None:
    """The cases are not the samples again: about half of the SIP messages of a rebuilt capture are changed."""
    samples = sorted(SAMPLES.glob("*.pcap"))
    original = _udp_payloads(samples[0])  # ack_dropped.pcap: SIP and RTP over UDP only
    assert mutated_capture(0, tmp_path / "m0.pcap") == (len(original), False)
    rebuilt = _udp_payloads(tmp_path / "m0.pcap")
    sip = [i for i, p in enumerate(original) if p[:1].isalpha()]
    changed = [i for i in sip if rebuilt[i] != original[i]]
    assert 0.25 * len(sip) <= len(changed) <= 0.75 * len(sip)
    assert struct.unpack("<I", (tmp_path / "m0.pcap").read_bytes()[:4])[0] == 0xA1B2C3D4
