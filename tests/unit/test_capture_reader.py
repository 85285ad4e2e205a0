"""sipdiag.parsers.capture: pcap/pcapng/gzip/stdin reading, damaged input, and the guess-and-verify record walk
checked record by record against a plain reference walk written here."""

from __future__ import annotations

import gzip
import io
import random
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from sipdiag.errors import CaptureFormatError, CaptureReadError, DamagedGzipError
from sipdiag.parsers import capture
from sipdiag.parsers.capture import CaptureFile, InterfaceStats, read_capture
from tests import pcapwriter as pw

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000_123_456_789  # ns; the µs formats keep 1_700_000_000_123_456_000
INVITE = "INVITE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK1\nContent-Length: 0\n\n"


def frames3() -> list[bytes]:
    """Three Ethernet frames of different sizes."""
    return [pw.sip_udp_frame(INVITE), pw.sip_udp_frame(INVITE + "x"), pw.ethernet(bytes(46), 0x0806)]


def read_all(path) -> tuple[CaptureFile, list[tuple[int, int, int, int, int, bytes]]]:
    """(info, [(frame, ts_ns, caplen, origlen, iface, data), ...]) over all batches."""
    info = CaptureFile(name=str(path))
    rows = []
    for b in read_capture(path, info):
        for i in range(len(b)):
            off, cap = int(b.data_off[i]), int(b.caplen[i])
            rows.append((b.first_frame + i, int(b.ts_ns[i]), cap, int(b.origlen[i]), int(b.iface[i]),
                         bytes(b.buf[off:off + cap])))
    return info, rows


def codes(info: CaptureFile) -> list[tuple[str, int | None]]:
    return [(a.code, a.frame) for a in info.anomalies]


# --------------------------------------------------------------------------------------------------- pcap


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
@pytest.mark.parametrize("nanos", [False, True], ids=["us", "ns"])
def test_pcap_byte_order_and_resolution(tmp_path, big_endian, nanos):
    frames = frames3()
    path = tmp_path / "c.pcap"
    pw.write_pcap(path, [(T0 + i * 1_000_000_007, f) for i, f in enumerate(frames)], pw.LINKTYPE_ETHERNET,
                  nanos=nanos, big_endian=big_endian, snaplen=65535)
    info, rows = read_all(path)
    cut = 1 if nanos else 1000
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [r[1] for r in rows] == [(T0 + i * 1_000_000_007) // cut * cut for i in range(3)]
    assert [r[2] for r in rows] == [len(f) for f in frames] == [r[3] for r in rows]
    assert [r[5] for r in rows] == frames
    assert [r[4] for r in rows] == [0, 0, 0]
    assert (info.format, info.byte_order, info.nanosecond, info.compressed) == (
        "pcap", "big" if big_endian else "little", nanos, False)
    assert [(i.index, i.linktype, i.snaplen) for i in info.interfaces] == [(0, 1, 65535)]
    assert info.packets == 3 and info.anomalies == []


def test_pcap_linktype_fcs_bits_are_masked(tmp_path):
    # The upper bits of the link type field carry the FCS length (pcap draft §4, libpcap LT_FCS_LENGTH): 2 16-bit
    # words (a 4-byte Ethernet FCS) << 28, and the F bit 0x04000000 that says the length is present.
    path = tmp_path / "fcs.pcap"
    pw.write_pcap(path, [(T0, frames3()[0] + b"\x11\x22\x33\x44")], pw.LINKTYPE_ETHERNET | 0x24000000)
    info, rows = read_all(path)
    assert info.interfaces[0].linktype == pw.LINKTYPE_ETHERNET and len(rows) == 1


def test_pcap_gzip_is_detected_by_magic_not_name(tmp_path):
    frames = frames3()
    path = tmp_path / "plain-name.pcap"  # no .gz suffix on purpose
    pw.write_pcap_gz(path, [(T0 + i, f) for i, f in enumerate(frames)], pw.LINKTYPE_ETHERNET, nanos=True)
    info, rows = read_all(path)
    assert info.compressed is True and info.format == "pcap"
    assert [r[1] for r in rows] == [T0, T0 + 1, T0 + 2]
    assert [r[5] for r in rows] == frames


def test_truncated_gzip_keeps_the_records_before_the_cut(tmp_path):
    frames = [pw.sip_udp_frame(INVITE + "x" * 200 * i) for i in range(1, 30)]
    path = tmp_path / "cut.pcap.gz"
    pw.write_pcap_gz(path, [(T0 + i, f) for i, f in enumerate(frames)], pw.LINKTYPE_ETHERNET, nanos=True)
    path.write_bytes(path.read_bytes()[:-30])  # the end of the deflate stream and the gzip trailer are lost
    info, rows = read_all(path)
    assert len(rows) >= 20  # how many survive depends on zlib's block layout; before the fix: none
    assert [r[5] for r in rows] == frames[:len(rows)]
    assert [r[1] for r in rows] == [T0 + i for i in range(len(rows))]
    assert [a.code for a in info.anomalies] == ["pcap.read-error", "pcap.truncated-record"]
    assert info.anomalies[0].detail.endswith("damaged gzip stream, cut short (the compressed data ends before the "
                                             "end of the gzip stream)")
    assert info.anomalies[1].frame == len(rows) + 1


def gzip_cut_after(data: bytes, n: int) -> bytes:
    """A gzip stream (RFC 1952) of `data` cut right after the deflate data of its first `n` bytes: a sync flush
    ends the deflate data there on a byte boundary, so exactly `n` bytes can be read before the stream ends."""
    z = zlib.compressobj(wbits=31)  # 31: with the gzip header and trailer
    return z.compress(data[:n]) + z.flush(zlib.Z_SYNC_FLUSH)


@pytest.mark.parametrize("readable", [0, 2, 10, 24, 40], ids=["in-gzip-header", "in-magic", "in-pcap-header",
                                                             "header-only", "in-first-record"])
def test_gzip_damaged_before_the_first_packet_says_so(tmp_path, readable):
    """`head -c 20 x.pcap.gz`: the gzip stream ends inside its own header, inside the pcap header or before the first
    record is complete. Before: "cannot read (Compressed file ended ...)" with the hint to check the path and the
    permissions, or no error at all (a pcap.truncated-header anomaly and an empty analysis). Now the one error
    names the damaged gzip file, with its own hint."""
    path = tmp_path / "cut.pcap.gz"
    pw.write_pcap(tmp_path / "c.pcap", [(T0 + i, f) for i, f in enumerate(frames3())], pw.LINKTYPE_ETHERNET)
    data = (tmp_path / "c.pcap").read_bytes()
    path.write_bytes(gzip.compress(data, mtime=0)[:7] if readable == 0 else gzip_cut_after(data, readable))
    with pytest.raises(DamagedGzipError) as e:
        read_all(path)
    assert str(e.value) == (f"{path} is a damaged gzip file, cut short (the compressed data ends before the end of "
                            "the gzip stream): no packet could be read from it")
    assert e.value.hint.startswith("Test it with 'gzip -t FILE'.")
    assert isinstance(e.value, CaptureReadError) and e.value.exit_code == 3


def test_gzip_corrupt_in_its_first_block_says_so(tmp_path):
    z = bytearray(gzip.compress(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) * 50, mtime=0))
    z[10] = 0x00  # the deflate stream's first octet: a stored block whose lengths do not check
    path = tmp_path / "damaged.pcap.gz"
    path.write_bytes(bytes(z))
    with pytest.raises(DamagedGzipError) as e:
        read_all(path)
    assert str(e.value) == (f"{path} is a damaged gzip file, corrupt data (Error -3 while decompressing data: "
                            "invalid stored block lengths): no packet could be read from it")


def test_gzip_damaged_after_packets_names_the_damage_in_its_anomaly(tmp_path):
    """Packets were read: the analysis goes on with them, and the pcap.read-error anomaly says which gzip problem
    stopped the reading (it showed Python's exception text alone)."""
    pw.write_pcap(tmp_path / "c.pcap", [(T0 + i, f) for i, f in enumerate(frames3())], pw.LINKTYPE_ETHERNET)
    data = (tmp_path / "c.pcap").read_bytes()
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(gzip_cut_after(data, len(data) - 10))
    info, rows = read_all(cut)
    assert len(rows) == 2
    code, detail = info.anomalies[0].code, info.anomalies[0].detail
    assert code == "pcap.read-error"  # after how many bytes depends on how gzip buffers what it inflated
    assert detail.split(": ", 1)[1] == ("damaged gzip stream, cut short (the compressed data ends before the end of "
                                        "the gzip stream)")
    bad = bytearray(gzip.compress(data, mtime=0))
    bad[-8] ^= 0xFF  # the CRC32 in the trailer (RFC 1952 §2.3.1)
    crc = tmp_path / "crc.pcap.gz"
    crc.write_bytes(bytes(bad))
    info, rows = read_all(crc)
    assert len(rows) == 3
    crc32 = zlib.crc32(data)  # gzip names the stored value, then the computed one
    assert [(a.code, a.detail) for a in info.anomalies] == [
        ("pcap.read-error", f"reading stopped after {len(data)} bytes: damaged gzip stream, corrupt data (CRC check "
                            f"failed {crc32 ^ 0xFF:#x} != {crc32:#x})")]


def test_pcapng_gzip(tmp_path):
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0, frames3()[0])])
    path = tmp_path / "c.pcapng.gz"
    path.write_bytes(gzip.compress(raw.getvalue()))
    info, rows = read_all(path)
    assert (info.format, info.compressed) == ("pcapng", True)
    assert [(r[0], r[1], r[5]) for r in rows] == [(1, T0, frames3()[0])]


def test_stdin_in_a_subprocess(tmp_path):
    path = tmp_path / "c.pcap.gz"
    pw.write_pcap_gz(path, [(T0 + i, f) for i, f in enumerate(frames3())], pw.LINKTYPE_ETHERNET, nanos=True)
    code = ("from sipdiag.parsers.capture import CaptureFile, read_capture\n"
            "info = CaptureFile('-')\n"
            "ts = [int(t) for b in read_capture('-', info) for t in b.ts_ns]\n"
            "print(info.format, info.compressed, info.packets, ts)\n")
    with open(path, "rb") as stdin:
        out = subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True, cwd=ROOT,
                             check=True).stdout
    assert out.split(" ", 3) == ["pcap", "True", "3", f"[{T0}, {T0 + 1}, {T0 + 2}]\n"]


def test_stdin_monkeypatched(tmp_path, monkeypatch):
    raw = io.BytesIO()
    pw.write_pcap(raw, [(T0, frames3()[0])], pw.LINKTYPE_ETHERNET, nanos=True)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(raw.getvalue()))))
    info, rows = read_all("-")
    assert info.name == "-" and info.format == "pcap"
    assert [(r[0], r[1], r[5]) for r in rows] == [(1, T0, frames3()[0])]
    assert not sys.stdin.buffer.closed  # the reader never closes standard input


def test_header_only_pcap_has_no_records_and_no_anomaly(tmp_path):
    path = tmp_path / "empty.pcap"
    pw.write_pcap(path, [], pw.LINKTYPE_RAW)
    info, rows = read_all(path)
    assert rows == [] and info.anomalies == [] and info.packets == 0
    assert info.interfaces[0].linktype == pw.LINKTYPE_RAW


def test_pcap_cut_inside_the_file_header(tmp_path):
    path = tmp_path / "short.pcap"
    path.write_bytes(struct.pack("<IHH", 0xA1B2C3D4, 2, 4))
    info, rows = read_all(path)
    assert rows == [] and codes(info) == [("pcap.truncated-header", None)]


# ------------------------------------------------------------------------------------------------- pcapng


def test_pcapng_shb_idb_epb_spb_isb(tmp_path):
    frames = frames3()
    path = tmp_path / "c.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 6, 1500)],
                    [(0, T0, frames[0]), pw.SimplePacket(frames[1]), (0, T0 + 2_000_000, frames[2])],
                    statistics=[(0, T0 + 5_000_000_000, 1000, 7)])
    info, rows = read_all(path)
    us = T0 // 1000 * 1000
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        (1, us, 0, frames[0]),
        (2, us, 0, frames[1]),  # an SPB has no timestamp: it takes its predecessor's
        (3, us + 2_000_000, 0, frames[2]),
    ]
    assert (info.format, info.byte_order, info.packets) == ("pcapng", "little", 3)
    assert [(i.index, i.linktype, i.snaplen, i.ts_mul_ns, i.ts_div) for i in info.interfaces] == [(0, 1, 1500, 1000, 1)]
    assert info.statistics == [InterfaceStats(0, (T0 + 5_000_000_000) // 1000 * 1000, 1000, 7, None, None)]
    assert info.anomalies == []


def test_pcapng_spb_opening_a_batch_takes_the_previous_batch_time(tmp_path, monkeypatch):
    monkeypatch.setattr(capture, "CHUNK_BYTES", 1024)  # many batches, some of them starting with an SPB
    recs: list = []
    for i in range(40):
        recs += [(0, T0 + i * 1000, bytes(100)), pw.SimplePacket(bytes(100))]
    path = tmp_path / "spb.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 9)], recs)
    _, rows = read_all(path)
    assert [r[1] for r in rows] == [T0 + i // 2 * 1000 for i in range(80)]


def test_pcapng_spb_is_cut_to_the_interface_snaplen(tmp_path):
    frame = frames3()[0]
    path = tmp_path / "spb.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 6, 64)], [pw.SimplePacket(frame)])
    _, rows = read_all(path)
    assert [(r[2], r[3], r[5]) for r in rows] == [(64, len(frame), frame[:64])]


def test_pcapng_obsolete_packet_block(tmp_path):
    # Packet Block (pcapng Appendix A): interface id (2), drops count (2), timestamp, caplen, origlen, data.
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_RAW, 9)], [(0, T0, b"\x45" + bytes(19))])
    data = b"\x46" + bytes(23)
    body = struct.pack("<HHIIII", 0, 0, (T0 + 5) >> 32, (T0 + 5) & 0xFFFFFFFF, len(data), 30) + data
    block = struct.pack("<II", 2, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    path = tmp_path / "pb.pcapng"
    path.write_bytes(raw.getvalue() + block)
    _, rows = read_all(path)
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in rows] == [(1, T0, 20, 20, b"\x45" + bytes(19)),
                                                               (2, T0 + 5, 24, 30, data)]


def test_pcapng_big_endian(tmp_path):
    path = tmp_path / "be.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_RAW, 9)], [(0, T0, b"\x45" + bytes(27))], big_endian=True)
    info, rows = read_all(path)
    assert info.byte_order == "big"
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [(1, T0, 28, b"\x45" + bytes(27))]
    assert info.interfaces[0].linktype == pw.LINKTYPE_RAW


def test_pcapng_two_interfaces_with_different_link_types_and_resolutions(tmp_path):
    eth, raw = frames3()[0], b"\x45" + bytes(39)
    path = tmp_path / "two.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 6), (pw.LINKTYPE_RAW, 9)],
                    [(0, T0, eth), (1, T0 + 1, raw), (0, T0 + 2000, eth), (1, T0 + 3, raw)])
    info, rows = read_all(path)
    us = T0 // 1000 * 1000
    assert [(r[0], r[1], r[4]) for r in rows] == [(1, us, 0), (2, T0 + 1, 1), (3, us + 2000, 0), (4, T0 + 3, 1)]
    assert [(i.linktype, i.ts_mul_ns) for i in info.interfaces] == [(1, 1000), (101, 1)]


@pytest.mark.parametrize("tsresol", [0x80 | 20, 0x80 | 30, 3, 7], ids=["2^-20", "2^-30", "ms", "100ns"])
def test_pcapng_timestamp_resolutions(tmp_path, tsresol):
    path = tmp_path / "res.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_RAW, tsresol)], [(0, T0, b"\x45" + bytes(19))])
    _, rows = read_all(path)
    units = pw._ts_units(T0, tsresol)
    if tsresol & 0x80:
        expected = units * 10**9 // (1 << (tsresol & 0x7F))
    elif tsresol <= 9:
        expected = units * 10 ** (9 - tsresol)
    else:
        expected = units // 10 ** (tsresol - 9)
    assert rows[0][1] == expected
    assert abs(expected - T0) < 10**9 // 1000  # within a millisecond of the written time


@pytest.mark.parametrize("chunk", [capture.CHUNK_BYTES, 64, 100], ids=["default", "64", "100"])
def test_pcapng_two_sections_keep_their_own_byte_order_and_interfaces(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(capture, "CHUNK_BYTES", chunk)
    """The second section is big-endian, with its own IDB (raw IP, ns): its interface 0 is global interface 1,
    and the records of the first section keep the first section's byte order and interface (one chunk holds both)."""
    raw = io.BytesIO()
    eth = frames3()[0]
    ip = pw.ipv4("10.0.0.1", "10.0.0.2", 17, pw.udp(1, 2, b"abcd"))
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 6)], [(0, T0, eth), (0, T0 + 1000, eth)])
    pw.write_pcapng(raw, [(pw.LINKTYPE_RAW, 9)], [(0, T0 + 5, ip)], big_endian=True)
    path = tmp_path / "sections.pcapng"
    path.write_bytes(raw.getvalue())
    info, rows = read_all(path)
    us = T0 // 1000 * 1000
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows] == [
        (1, us, len(eth), 0, eth), (2, us + 1000, len(eth), 0, eth), (3, T0 + 5, len(ip), 1, ip)]
    assert [(i.index, i.linktype) for i in info.interfaces] == [(0, 1), (1, 101)]
    assert info.anomalies == [] and info.packets == 3


def test_pcapng_unknown_interface_id_is_an_anomaly(tmp_path):
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_RAW, 9)], [(0, T0, b"\x45" + bytes(19))])
    data = bytearray(raw.getvalue())
    epb = data.rfind(struct.pack("<I", 6))  # the EPB's block type
    struct.pack_into("<I", data, epb + 8, 3)  # interface id 3: no such IDB
    path = tmp_path / "badif.pcapng"
    path.write_bytes(bytes(data))
    info, rows = read_all(path)
    assert [(r[0], r[4]) for r in rows] == [(1, -1)]
    assert [a.code for a in info.anomalies] == ["pcapng.unknown-interface"]


@pytest.mark.parametrize("chunk", [capture.CHUNK_BYTES, 4096, 700], ids=["default", "4k", "700"])
def test_pcapng_damage_counted_over_the_capture_whatever_the_chunk(tmp_path, monkeypatch, chunk):
    """The column-wise checks of a batch (captured length, timestamp, interface id) were named once per batch, with
    that batch's count: how many anomalies and what counts depended on where the CHUNK_BYTES boundaries fell, i.e.
    on the file's size. One anomaly per defect for the capture: its first frame and the total."""
    monkeypatch.setattr(capture, "CHUNK_BYTES", chunk)
    recs = records_for([214] * 60)
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 9)], [(0, ts, f) for ts, f in recs])
    data = bytearray(raw.getvalue())
    epbs = _epb_offsets(bytes(data))
    blen = struct.unpack_from("<I", data, epbs[0] + 4)[0]
    for i in range(4, 60, 10):  # frames 5, 15, ..., 55: six, far apart
        struct.pack_into("<I", data, epbs[i] + 20, blen)  # captured length beyond the block
        struct.pack_into("<II", data, epbs[i + 1] + 12, 0x7FFFFFFF, 0)  # past 2116
        struct.pack_into("<I", data, epbs[i + 2] + 8, 3)  # no such interface
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(bytes(data))
    info, rows = read_all(path)
    assert len(rows) == 60
    assert sorted((a.code, a.detail) for a in info.anomalies) == [
        ("pcapng.bad-caplen", f"frame 5: captured length {blen} beyond its block of {blen} octets; cut to the "
                              "block (6 such in the capture)"),
        ("pcapng.bad-timestamp", "frame 6: timestamp beyond the year 2116 (a damaged block); 6 such in the capture "
                                 "take their predecessor's time"),
        ("pcapng.unknown-interface", "frame 7 refers to an interface no IDB described (6 such frames in the "
                                     "capture); their link type is unknown")]


def _epb_offsets(data: bytes) -> list[int]:
    """Offsets of the EPBs of a little-endian pcapng file written by pw.write_pcapng (walked block by block)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        if btype == 6:
            out.append(pos)
        pos += blen
    return out


def test_pcapng_captured_length_beyond_its_block_is_cut_and_named(tmp_path):
    """A damaged EPB claiming more captured octets than its block holds: its data stops at its block (the next
    block is not read as its bytes) and the next packet is read as it is."""
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0, f) for f in frames3()])
    data = bytearray(raw.getvalue())
    first = _epb_offsets(bytes(data))[0]
    blen = struct.unpack_from("<I", data, first + 4)[0]
    struct.pack_into("<I", data, first + 20, 0xFFFFFFFF)  # captured length
    path = tmp_path / "caplen.pcapng"
    path.write_bytes(bytes(data))
    info, rows = read_all(path)
    assert [(r[0], r[2]) for r in rows] == [(1, blen - 32), (2, len(frames3()[1])), (3, len(frames3()[2]))]
    assert rows[0][5] == frames3()[0] + bytes(blen - 32 - len(frames3()[0]))  # its own octets and padding only
    assert rows[1][5] == frames3()[1]
    assert [(a.code, a.detail) for a in info.anomalies] == [
        ("pcapng.bad-caplen", f"frame 1: captured length 4294967295 beyond its block of {blen} octets; cut to "
                              f"the block (1 such in the capture)")]


def test_pcapng_timestamp_beyond_2116_takes_its_predecessors_time(tmp_path):
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0 + i, f) for i, f in enumerate(frames3())])
    data = bytearray(raw.getvalue())
    second, third = _epb_offsets(bytes(data))[1:]
    struct.pack_into("<II", data, second + 12, 0xFFFFFFFF, 0xFFFFFFFF)  # all ones: -1 as signed, not an SPB
    struct.pack_into("<II", data, third + 12, 0x7FFFFFFF, 0)  # 2**62 ns and more: past 2116
    path = tmp_path / "ts.pcapng"
    path.write_bytes(bytes(data))
    info, rows = read_all(path)
    assert [r[1] for r in rows] == [T0, T0, T0]
    assert [(a.code, a.detail) for a in info.anomalies] == [
        ("pcapng.bad-timestamp", "frame 2: timestamp beyond the year 2116 (a damaged block); 2 such in the "
                                 "capture take their predecessor's time")]


def test_pcapng_absurd_tsoffset_and_statistics_time(tmp_path):
    """if_tsoffset of -2**63 s overflowed the conversion (a traceback); an ISB dated past year 9999 broke the JSON
    report. The offset is ignored and named, the statistics keep their counts with no time."""
    import sipdiag
    from sipdiag.reports.json import iso_time, to_document

    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 6)], [(0, T0, frames3()[0])],
                    statistics=[(0, 2**63 - 1000, 10, 2)])
    data = bytearray(raw.getvalue())
    idb = data.find(struct.pack("<I", 1), 28)  # the IDB after the 28-octet SHB
    # replace the IDB's if_tsresol option (code 9, length 1, padded) by if_tsoffset (code 14, length 8)
    opt = data.find(struct.pack("<HH", 9, 1), idb)
    body = struct.pack("<HHq", 14, 8, -(2**63)) + struct.pack("<HH", 0, 0)
    idb_len = struct.unpack_from("<I", data, idb + 4)[0]
    new_idb = data[idb:opt] + body
    new_idb += struct.pack("<I", len(new_idb) + 4)
    struct.pack_into("<I", new_idb, 4, len(new_idb))
    data[idb:idb + idb_len] = new_idb
    isb = data.rfind(struct.pack("<I", 5))
    struct.pack_into("<II", data, isb + 12, 0xFFFFFFF0, 0)  # microseconds far past year 9999
    path = tmp_path / "offset.pcapng"
    path.write_bytes(bytes(data))
    a = sipdiag.analyze(path)
    assert a.capture.packets == 1 and a.capture.first_ts_ns == T0 // 1000 * 1000
    assert [x.code for x in a.anomalies if x.code.startswith("pcapng")] == ["pcapng.bad-option"]
    (stats,) = to_document(a)["capture"]["interface_stats"]
    assert (stats["time"], stats["received"], stats["dropped_by_interface"]) == (None, 10, 2)
    assert iso_time(2**63 * 1000) is None


def _block(btype: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def test_pcapng_blocks_without_packets_are_skipped_and_unknown_ones_named(tmp_path):
    """§10.1: NRB, DSB, local-use blocks carry no packets and are skipped in silence; a type no version defines is
    named (a packet block whose type was damaged would otherwise vanish without a word), as is an NRB that is not
    well formed."""
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0 + i, f) for i, f in enumerate(frames3())])
    data = raw.getvalue()
    first_epb = _epb_offsets(data)[0]
    nrb = _block(4, struct.pack("<HH", 1, 8) + bytes([192, 0, 2, 1]) + b"pbx\0" + struct.pack("<HH", 0, 0)
                 + struct.pack("<HH", 1, 4) + b"note" + struct.pack("<HH", 0, 0))  # a record, its end, a comment
    dsb = _block(0x0A, struct.pack("<II", 0x544C534B, 4) + b"keys")
    local = _block(0x80000001, b"vendor data")
    good = data[:first_epb] + nrb + dsb + local + data[first_epb:]
    path = tmp_path / "extra.pcapng"
    path.write_bytes(good)
    info, rows = read_all(path)
    assert (len(rows), info.anomalies) == (3, [])
    unknown = _block(0xFFFF, b"x" * 40)
    broken_nrb = _block(4, struct.pack("<HH", 1, 8) + bytes(8))  # no nrb_record_end
    path.write_bytes(data[:first_epb] + unknown + broken_nrb + data[first_epb:])
    info, rows = read_all(path)
    assert len(rows) == 3
    at = first_epb
    assert [(a.code, a.detail) for a in info.anomalies] == [
        ("pcapng.unknown-block", f"block at offset {at} has type 0xffff, which no pcapng version defines: skipped "
                                 f"(damage, if it was a packet)"),
        ("pcapng.bad-block", f"name resolution block at offset {at + len(unknown)} has no end of records (a damaged "
                             f"block: a packet block's type overwritten?)"),
    ]


def test_pcapng_packet_block_damaged_into_decryption_secrets_is_named(tmp_path):
    """An EPB whose type reads 0x0A is skipped as a Decryption Secrets Block (§4.7), whose secrets length is then
    the EPB's timestamp: far more than the block holds. The packet is not read, and no longer vanishes unnamed."""
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0 + i, f) for i, f in enumerate(frames3())])
    data = bytearray(raw.getvalue())
    second = _epb_offsets(bytes(data))[1]
    struct.pack_into("<I", data, second, 0x0A)
    path = tmp_path / "dsb.pcapng"
    path.write_bytes(bytes(data))
    info, rows = read_all(path)
    assert [r[5] for r in rows] == [frames3()[0], frames3()[2]]
    assert [(a.code, a.detail) for a in info.anomalies] == [
        ("pcapng.bad-block", f"decryption secrets block at offset {second} claims {(T0 + 1) >> 32} octets of "
                             f"secrets, more than the block holds (a damaged block: a packet block's type "
                             f"overwritten?)")]


# -------------------------------------------------------------------------------------------- damaged input


def write_eth(path: Path, n: int = 3, **kw) -> bytes:
    pw.write_pcap(path, [(T0 + i, frames3()[i % 3]) for i in range(n)], pw.LINKTYPE_ETHERNET, **kw)
    return path.read_bytes()


def test_truncated_last_record_keeps_the_earlier_records(tmp_path):
    path = tmp_path / "t.pcap"
    data = write_eth(path)
    path.write_bytes(data[:-10])
    info, rows = read_all(path)
    assert [r[0] for r in rows] == [1, 2]
    assert codes(info) == [("pcap.truncated-record", 3)]
    assert "record 3 claims 60 bytes but the file ends after 50" in info.anomalies[0].detail


def test_file_ending_inside_a_record_header(tmp_path):
    path = tmp_path / "t.pcap"
    data = write_eth(path, n=2)
    path.write_bytes(data + b"\x00" * 7)
    info, rows = read_all(path)
    assert [r[0] for r in rows] == [1, 2]
    assert codes(info) == [("pcap.truncated-record", 3)]
    assert "ends 7 bytes into the header of record 3" in info.anomalies[0].detail


def test_record_length_beyond_the_file(tmp_path):
    path = tmp_path / "t.pcap"
    data = write_eth(path, n=2)
    path.write_bytes(data + struct.pack("<IIII", 1, 0, 0x7FFFFFF0, 0x7FFFFFF0) + b"\x00" * 100)
    info, rows = read_all(path)
    assert [r[0] for r in rows] == [1, 2]
    assert codes(info) == [("pcap.bad-record-length", 3)]
    assert info.anomalies[0].detail.startswith(f"at file offset {len(data)} a record header claims 2147483632 bytes")


def test_garbage_after_the_end_is_a_bad_record_length(tmp_path):
    path = tmp_path / "t.pcap"
    data = write_eth(path, n=3)
    path.write_bytes(data + b"\xde\xad\xbe\xef" * 16)
    info, rows = read_all(path)
    assert [r[5] for r in rows] == frames3()
    assert codes(info) == [("pcap.bad-record-length", 4)]


def test_pcapng_garbage_after_the_end_is_a_bad_block(tmp_path):
    path = tmp_path / "t.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0 + i, f) for i, f in enumerate(frames3())])
    path.write_bytes(path.read_bytes() + b"\x01\x02\x03\x04\xde\xad\xbe\xef" * 4)
    info, rows = read_all(path)
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [a.code for a in info.anomalies] == ["pcapng.bad-block"]
    assert "claims length 4022250974: damage or garbage after frame 3" in info.anomalies[0].detail


@pytest.mark.parametrize("btype, blen", [(1, 16), (2, 28), (3, 12), (5, 20), (6, 16), (6, 28)],
                         ids=["idb", "pb", "spb", "isb", "epb16", "epb28"])
def test_pcapng_block_shorter_than_its_fields_is_a_bad_length(tmp_path, btype, blen):
    """A block too short for its own fixed fields (§4.2-4.6) has a damaged length, as one under 12 octets has. At
    the end of the file its fields were read past the end (an internal error); an SPB of 12 octets was a packet of
    -4 captured octets, in silence."""
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0 + i, f) for i, f in enumerate(frames3())])
    data = raw.getvalue()
    path = tmp_path / "short.pcapng"
    path.write_bytes(data + struct.pack("<II", btype, blen) + bytes(blen - 12) + struct.pack("<I", blen))
    info, rows = read_all(path)
    assert [r[5] for r in rows] == frames3()
    assert [(a.code, a.detail) for a in info.anomalies] == [
        ("pcapng.bad-block", f"block at offset {len(data)} claims length {blen}: damage or garbage after frame 3; "
                             f"the rest ({blen} bytes in this chunk and anything after) was not read")]


def test_pcapng_short_packet_block_inside_the_file_does_not_read_the_next_block(tmp_path):
    """An EPB of 16 octets before the last packet: its header was read from the next block (a fourth packet made
    of that block's octets, under the second's captured length); the walk stops there, named."""
    raw = io.BytesIO()
    pw.write_pcapng(raw, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0 + i, f) for i, f in enumerate(frames3())])
    data = raw.getvalue()
    last = _epb_offsets(data)[2]
    path = tmp_path / "short.pcapng"
    path.write_bytes(data[:last] + struct.pack("<II", 6, 16) + bytes(4) + struct.pack("<I", 16) + data[last:])
    info, rows = read_all(path)
    assert [r[5] for r in rows] == frames3()[:2]
    assert [(a.code, a.detail) for a in info.anomalies] == [
        ("pcapng.bad-block", f"block at offset {last} claims length 16: damage or garbage after frame 2; the rest "
                             f"({len(data) - last + 16} bytes in this chunk and anything after) was not read")]


def test_pcapng_truncated_last_block(tmp_path):
    path = tmp_path / "t.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 9)], [(0, T0 + i, f) for i, f in enumerate(frames3())])
    path.write_bytes(path.read_bytes()[:-20])
    info, rows = read_all(path)
    assert [r[0] for r in rows] == [1, 2]
    assert codes(info) == [("pcapng.truncated-block", 3)]


def test_snaplen_cut_packet_keeps_its_original_length(tmp_path):
    path = tmp_path / "snap.pcap"
    frame = frames3()[0]
    pw.write_pcap(path, [(T0, frame), (T0 + 1, frames3()[2])], pw.LINKTYPE_ETHERNET, snaplen=64)
    info, rows = read_all(path)
    assert [(r[2], r[3]) for r in rows] == [(64, len(frame)), (60, 60)]
    assert rows[0][5] == frame[:64]
    assert info.interfaces[0].snaplen == 64 and info.anomalies == []


def test_not_a_capture(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is a text file, not a capture\n")
    with pytest.raises(CaptureFormatError) as e:
        read_all(path)
    assert str(e.value) == f"{path} is not a pcap or pcapng file"


def test_gzip_of_something_else_is_not_a_capture(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"hello world, definitely not pcap"))
    with pytest.raises(CaptureFormatError, match="is not a pcap or pcapng file"):
        read_all(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    with pytest.raises(CaptureFormatError) as e:
        read_all(path)
    assert str(e.value) == f"{path} is not a pcap or pcapng file (it is 0 bytes long)"


def test_netmon_file_is_named(tmp_path):
    path = tmp_path / "trace.cap"
    path.write_bytes(b"GMBU" + bytes(200))
    with pytest.raises(CaptureFormatError) as e:
        read_all(path)
    assert str(e.value) == (f"{path} is not a pcap or pcapng file (it looks like a Microsoft Network Monitor "
                            f"capture, which is not supported)")
    assert "editcap" in e.value.hint


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CaptureReadError, match="no such file"):
        read_all(tmp_path / "nope.pcap")
    with pytest.raises(CaptureReadError, match="is a folder, not a capture file"):
        read_all(tmp_path)


# ------------------------------------------------------------------- guess-and-verify walk vs a plain walk


def reference_pcap(data: bytes, e: str = "<") -> list[tuple[int, int, int]]:
    """A plain walk: (frame, ts_ns, caplen) of each complete record of a µs pcap of byte order e."""
    out, pos, frame = [], 24, 1
    while pos + 16 <= len(data):
        sec, usec, cap, _orig = struct.unpack_from(e + "IIII", data, pos)
        if pos + 16 + cap > len(data):
            break
        out.append((frame, sec * 10**9 + usec * 1000, cap))
        pos += 16 + cap
        frame += 1
    return out


def reference_pcapng(data: bytes, e: str = "<") -> list[tuple[int, int, int]]:
    """A plain block walk of a pcapng of byte order e with one ns interface: EPBs only."""
    out, pos, frame = [], 0, 1
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from(e + "II", data, pos)
        if btype == 6:
            _if, hi, lo, cap, _orig = struct.unpack_from(e + "IIIII", data, pos + 8)
            out.append((frame, hi << 32 | lo, cap))
            frame += 1
        pos += blen
    return out


def mixed_sizes(seed: int) -> list[int]:
    """Runs of equal sizes (RTP-like) broken by odd sizes, including runs shorter than 4 and one-off breaks."""
    rnd = random.Random(seed)
    sizes: list[int] = []
    for _ in range(40):
        run = rnd.choice([1, 2, 3, 4, 5, 17, 64, 65, 300])
        size = rnd.choice([54, 60, 214, 215, 1514, rnd.randrange(40, 1600)])
        sizes += [size] * run
        if rnd.random() < 0.5:
            sizes.append(rnd.randrange(40, 1600))  # a SIP message or RTCP in the middle of the RTP
    return sizes


def records_for(sizes: list[int]) -> list[tuple[int, bytes]]:
    # Each frame's content starts with its own index, so a wrongly placed boundary cannot go unnoticed.
    return [(T0 + i * 20_000_000 + i, struct.pack(">I", i) + bytes(n - 4)) for i, n in enumerate(sizes)]


@pytest.mark.parametrize("chunk", [capture.CHUNK_BYTES, 4096, 1 << 16], ids=["default", "4k", "64k"])
@pytest.mark.parametrize(("seed", "big_endian"), [(1, False), (2, False), (3, True)])
def test_guess_and_verify_pcap_walk_matches_a_plain_walk(tmp_path, monkeypatch, seed, big_endian, chunk):
    monkeypatch.setattr(capture, "CHUNK_BYTES", chunk)
    recs = records_for(mixed_sizes(seed))
    path = tmp_path / "mixed.pcap"
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET, big_endian=big_endian)
    info, rows = read_all(path)
    ref = reference_pcap(path.read_bytes(), ">" if big_endian else "<")
    assert len(ref) == len(recs)
    assert [(r[0], r[1], r[2]) for r in rows] == ref
    assert [struct.unpack(">I", r[5][:4])[0] for r in rows] == list(range(len(recs)))
    assert info.packets == len(recs) and info.anomalies == []


@pytest.mark.parametrize("source", ["plain", "gzip"])
def test_pcap_records_across_chunk_boundaries(tmp_path, monkeypatch, source):
    """A plain file steps back to re-read the record a chunk ends in; a gzip stream carries it over instead.
    Both give the same records, also for a record longer than a chunk (read in one piece, never re-read forever)
    and for a last record cut short (the anomaly names it)."""
    monkeypatch.setattr(capture, "CHUNK_BYTES", 1000)
    sizes = [300, 450, 2500, 60, 999, 1000, 5000, 80] + [214] * 40
    recs = records_for(sizes)
    raw = io.BytesIO()
    pw.write_pcap(raw, recs, pw.LINKTYPE_ETHERNET)
    data = raw.getvalue()[:-100]  # the last record loses its end
    path = tmp_path / "chunks.pcap"
    path.write_bytes(gzip.compress(data) if source == "gzip" else data)
    info, rows = read_all(path)
    assert [r[2] for r in rows] == sizes[:-1]
    assert [struct.unpack(">I", r[5][:4])[0] for r in rows] == list(range(len(sizes) - 1))
    assert [(a.code, a.frame) for a in info.anomalies] == [("pcap.truncated-record", len(sizes))]
    assert "claims 214 bytes but the file ends after 114" in info.anomalies[0].detail


def test_guess_and_verify_one_odd_record_inside_a_long_run(tmp_path):
    sizes = [214] * 500
    sizes[123] = 215  # one record differs deep inside the verified window
    sizes[124] = 213  # and the next one too, which puts the following records back on the 214 grid
    recs = records_for(sizes)
    path = tmp_path / "odd.pcap"
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    _, rows = read_all(path)
    assert [(r[0], r[1], r[2]) for r in rows] == reference_pcap(path.read_bytes())
    assert [r[2] for r in rows] == sizes


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
@pytest.mark.parametrize("chunk", [capture.CHUNK_BYTES, 4096], ids=["default", "4k"])
def test_guess_and_verify_pcapng_walk_matches_a_plain_walk(tmp_path, monkeypatch, chunk, big_endian):
    monkeypatch.setattr(capture, "CHUNK_BYTES", chunk)
    recs = records_for(mixed_sizes(7))
    path = tmp_path / "mixed.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 9)], [(0, ts, f) for ts, f in recs], big_endian=big_endian)
    info, rows = read_all(path)
    ref = reference_pcapng(path.read_bytes(), ">" if big_endian else "<")
    assert len(ref) == len(recs)
    assert [(r[0], r[1], r[2]) for r in rows] == ref
    assert [struct.unpack(">I", r[5][:4])[0] for r in rows] == list(range(len(recs)))
    assert info.anomalies == []


def test_pcapng_run_broken_by_another_block_type(tmp_path):
    """EPBs of one length with an SPB and an ISB of the same total length among them: the run check must look at
    the block type too, and the records stay in file order."""
    frame = bytes(60)
    recs = [(0, T0 + i, frame) for i in range(10)]
    recs.insert(6, pw.SimplePacket(bytes(76)))  # SPB total = 16 + 76 = 92 = EPB total 32 + 60
    path = tmp_path / "spb.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 9)], recs)
    _, rows = read_all(path)
    assert [(r[0], r[2]) for r in rows] == [(i + 1, 76 if i == 6 else 60) for i in range(11)]
    assert [r[1] for r in rows] == [T0 + i for i in range(6)] + [T0 + 5] + [T0 + i for i in range(6, 10)]


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (Debian package tshark)")
def test_frame_times_match_tshark(tmp_path):
    recs = records_for(mixed_sizes(4)[:300])
    path = tmp_path / "t.pcapng"
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 9)], [(0, ts, f) for ts, f in recs])
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e",
                          "frame.time_epoch", "-e", "frame.cap_len"], capture_output=True, text=True,
                         check=True).stdout
    theirs = [(int(n), int(t.replace(".", "")), int(c)) for n, t, c in (line.split("\t") for line in out.splitlines())]
    _, rows = read_all(path)
    assert [(r[0], r[1], r[2]) for r in rows] == theirs


def test_octet_view_reads_a_field_at_every_offset() -> None:
    buf = bytes(range(1, 8))
    words = capture.octet_view(buf, ">u4")
    assert words.tolist() == [0x01020304, 0x02030405, 0x03040506, 0x04050607]
    assert capture.octet_view(buf, "<u2").tolist() == [0x0201, 0x0302, 0x0403, 0x0504, 0x0605, 0x0706]
    assert capture.octet_view(b"\x01\x02\x03", ">u4") is None and capture.octet_view(b"", ">u2") is None


def test_pcapng_option_running_past_its_block_is_named_and_not_read(tmp_path):
    """An if_name whose length runs past its IDB would take the next block's bytes as the name."""
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = _block(1, struct.pack("<HHI", pw.LINKTYPE_ETHERNET, 0, 65535) + struct.pack("<HH", 2, 200) + b"eth0")
    frame = frames3()[0]
    epb = _block(6, struct.pack("<IIIII", 0, 0, 1, len(frame), len(frame)) + frame)
    path = tmp_path / "option.pcapng"
    path.write_bytes(shb + idb + epb)
    info, rows = read_all(path)
    assert [(r[0], r[5]) for r in rows] == [(1, frame)]
    assert info.interfaces[0].name == ""
    assert [(a.code, a.detail) for a in info.anomalies] == [
        ("pcapng.bad-option", f"interface description block at offset {len(shb)}: an option runs past the block's "
                              f"end; it and the options after it are ignored")]
