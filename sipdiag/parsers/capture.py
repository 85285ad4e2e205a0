"""Capture files: pcap and pcapng (also gzip-compressed, also standard input), read in bounded chunks.

Formats: pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html; both byte orders, micro- and
nanosecond magic) and pcapng (draft-ietf-opsawg-pcapng: SHB, IDB, EPB, SPB, obsolete PB, ISB; several sections,
several interfaces each with its own link type, snap length and time resolution). The format is detected from the
magic, never from the file name.

Speed: real captures are 95-99 % RTP of one size, so record boundaries are found by *guess and verify* with NumPy
strided views: from a record of length L, the next K records are assumed to be of length L too and their length
fields are read at once; the chain is exact up to the first record whose length differs, where the walk goes on
from that (valid) record. A plain Python walk is the fall-back for mixed sizes. Memory stays flat: the file is read
in chunks of CHUNK_BYTES and each chunk's records are handed on as one `RecordBatch` of NumPy columns.

Damaged input never raises: a truncated last record, a record length beyond the file or garbage after the end
become named anomalies (`pcap.truncated-record`, `pcap.bad-record-length`, `pcapng.bad-block`) and the records
read before it are kept; so does a gzip stream that fails (`pcap.read-error`, naming the gzip problem). Only a file
that yields no packet at all raises: not a capture (CaptureFormatError), or a gzip stream damaged before its first
packet (DamagedGzipError).
"""

from __future__ import annotations

import gzip
import io
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from ..npsets import unique
from ..errors import CaptureFormatError, CaptureReadError, DamagedGzipError
from ..model import Anomaly
from .anomalytexts import Detail, anomaly, anomaly_with, detail

# 4 MiB: about 18 000 records of RTP, whose columns (144 KB each) stay in the cache while a batch is decoded and
# measured; 8 MiB took 10 % more of the capture process's time on the benchmark capture, 2 MiB 5 % more (the
# per-batch work of the stream statistics).
CHUNK_BYTES = 4 << 20
# A record longer than this is taken for corruption, not a packet: the largest snap length in use is 256 KiB
# (tcpdump, Wireshark), pcapng allows more only for exotic link types.
MAX_RECORD_BYTES = 1 << 22

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

# pcapng block types (draft-ietf-opsawg-pcapng §4, §11.1)
BT_IDB, BT_PB, BT_SPB, BT_NRB, BT_ISB, BT_EPB, BT_DSB = 1, 2, 3, 4, 5, 6, 0x0000000A
# Blocks with no packets that a reader skips (§10.1 block type codes): IRIG timestamp, ARINC 429, systemd journal,
# decryption secrets, the Hone project's and Sysdig's blocks, custom blocks. A type outside these (and outside the
# local-use half, bit 31 set) is damage more likely than a block from the future: it is named.
SKIPPED_BLOCKS = frozenset({7, 8, 9, BT_DSB, 0x00000BAD, 0x40000BAD, *range(0x101, 0x103), *range(0x201, 0x21A)})
# The least total length of the blocks whose fixed fields are read (§4.1-4.7: 12 octets of type, length and
# trailing length, plus the fields). A shorter block's fields would be read from the next block, or from past the
# end of the file (a traceback): its length is damaged, as a length under 12 is.
MIN_BLOCK_LENGTH = {PCAPNG_SHB: 28, BT_IDB: 20, BT_PB: 32, BT_SPB: 16, BT_ISB: 24, BT_EPB: 32, BT_DSB: 20}

# Well-known magics of other capture formats, so the error can name what the file is instead.
OTHER_FORMATS = {
    b"GMBU": "Microsoft Network Monitor",
    b"snoop\x00\x00\x00": "Solaris snoop",
    b"XCP\x00": "NetXRay/Sniffer",
}


# pcapng timestamps are 64-bit counts of an interface's unit; as nanoseconds they must fit int64 (until 2262): a
# later one is damage. MAX_TS_OFFSET_S bounds if_tsoffset (§4.2) to what a real clock correction could be.
MAX_TS_NS = 2**62  # 2116-02-20
MAX_TS_OFFSET_S = 2**32
DAMAGED_TS = -2  # a raw timestamp that does not fit 63 bits (-1 marks an SPB, which has none)


@dataclass(frozen=True, slots=True)
class Interface:
    """One capture interface: pcap has exactly one, pcapng one per IDB.

    ts_mul_ns / ts_div: a raw timestamp t becomes t * ts_mul_ns // ts_div nanoseconds (exact for the decimal
    resolutions; binary resolutions use the nearest power of two, RFC draft pcapng §4.2 if_tsresol).
    """

    index: int
    linktype: int
    snaplen: int
    ts_mul_ns: int = 1000
    ts_div: int = 1
    ts_offset_s: int = 0
    name: str = ""


@dataclass(frozen=True, slots=True)
class InterfaceStats:
    """A pcapng Interface Statistics Block: drops counted at the capture point (isb_ifdrop, isb_osdrop)."""

    interface: int
    ts_ns: int
    received: int | None
    dropped_by_interface: int | None
    dropped_by_os: int | None
    delivered: int | None


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """The records of one chunk as columns. `buf[data_off[i] : data_off[i] + caplen[i]]` is record i's packet.

    first_frame: the 1-based frame number of record 0 (frames are numbered across batches, as in Wireshark).
    """

    buf: bytes
    first_frame: int
    data_off: np.ndarray  # int64
    caplen: np.ndarray  # int64
    origlen: np.ndarray  # int64
    ts_ns: np.ndarray  # int64
    iface: np.ndarray  # int16: index into CaptureFile.interfaces

    def __len__(self) -> int:
        return len(self.data_off)


@dataclass
class CaptureFile:
    """What the reader learnt about the file while reading it (filled in as batches are produced)."""

    name: str
    format: str = ""  # "pcap" | "pcapng"
    compressed: bool = False
    nanosecond: bool = False
    byte_order: str = "little"
    interfaces: list[Interface] = field(default_factory=list)
    statistics: list[InterfaceStats] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    packets: int = 0
    bytes_read: int = 0  # (decompressed) bytes read from the start of the file


def open_stream(path: str | Path) -> tuple[BinaryIO, bool, str]:
    """Open a capture for reading: a path, or '-' for standard input; gzip is detected by its magic (RFC 1952).

    Returns the binary stream, whether it was compressed, and the display name.
    """
    name = str(path)
    try:
        raw: BinaryIO = sys.stdin.buffer if name == "-" else open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise CaptureReadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CaptureReadError(f"{name} is a folder, not a capture file") from None
    except OSError as e:
        raise CaptureReadError(f"{name}: cannot open ({e.strerror})") from None
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    head = buffered.peek(2)[:2]
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered), True, name  # type: ignore[return-value]
    return buffered, False, name


def read_capture(path: str | Path, info: CaptureFile | None = None) -> Iterator[RecordBatch]:
    """Yield the capture's records in `RecordBatch`es; `info` (if given) is filled in as reading goes on."""
    stream, compressed, name = open_stream(path)
    info = info if info is not None else CaptureFile(name=name)
    info.compressed = compressed
    try:
        head = _read_header(stream, 4, name)
        info.bytes_read = len(head)  # from the start of the file, as a pcap.read-error's detail counts them
        if len(head) < 4:
            raise CaptureFormatError(f"{name} is not a pcap or pcapng file (it is {len(head)} bytes long)")
        magic_le = struct.unpack("<I", head)[0]
        magic_be = struct.unpack(">I", head)[0]
        if magic_le == PCAPNG_SHB:
            info.format = "pcapng"
            yield from _PcapngReader(stream, info, head).batches()
        elif PCAP_MAGIC_US in (magic_le, magic_be) or PCAP_MAGIC_NS in (magic_le, magic_be):
            info.format = "pcap"
            yield from _read_pcap(stream, info, head)
        else:
            raise _not_a_capture(name, head + _peek(stream, 8))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _read_header(stream: BinaryIO, n: int, name: str) -> bytes:
    """The first bytes of the capture's file header. A gzip stream that fails here (a .gz cut inside its own header
    or first deflate block) is named as such: it was reported as an unreadable path, or as "not a pcap file"."""
    try:
        return stream.read(n)
    except (OSError, EOFError, zlib_error()) as e:
        if gzip_damage(e) is not None:
            raise damaged_gzip(name, e) from None
        raise CaptureReadError(f"{name}: cannot read ({e})") from None


def gzip_damage(e: BaseException) -> str | None:
    """What an error met while reading a gzip stream says about it, in words (RFC 1952); None for an error that
    is not the stream's own (an I/O error)."""
    damage = _gzip_damage(e)
    return damage.en if damage is not None else None


def _gzip_damage(e: BaseException) -> Detail | None:
    """gzip_damage in both languages. Python's gzip raises EOFError for a stream cut short, BadGzipFile for a bad
    CRC32 or ISIZE in the trailer (§2.3.1) or trailing garbage, zlib.error for corrupt deflate data."""
    if isinstance(e, EOFError):
        return detail("gzip:cut-short")
    if isinstance(e, (gzip.BadGzipFile, zlib_error())):
        return detail("gzip:corrupt", error=str(e))
    return None


def damaged_gzip(name: str, e: BaseException) -> DamagedGzipError:
    """The error for a gzip-compressed capture that fails before its first packet: nothing can be analysed."""
    return DamagedGzipError(f"{name} is a damaged gzip file, {gzip_damage(e)}: no packet could be read from it")


def read_stopped(offset: int, e: BaseException) -> str:
    """Where reading stopped, and why (the gzip problem if it is one): the English of a `pcap.read-error`."""
    return _read_stopped(offset, e).en


def _read_stopped(offset: int, e: BaseException) -> Detail:
    """The detail of a `pcap.read-error` anomaly, in both languages."""
    damage = _gzip_damage(e)
    if damage is not None:
        return detail("pcap.read-error:gzip", offset=offset, damage=damage)
    return detail("pcap.read-error", offset=offset, error=str(e))


def _peek(stream: BinaryIO, n: int) -> bytes:
    try:
        return stream.read(n)
    except (OSError, EOFError, zlib_error()):  # gzip.BadGzipFile is an OSError
        return b""


def _not_a_capture(name: str, head: bytes) -> CaptureFormatError:
    for magic, what in OTHER_FORMATS.items():
        if magic and head.startswith(magic):
            return CaptureFormatError(
                f"{name} is not a pcap or pcapng file (it looks like a {what} capture, which is not supported)",
                hint="Convert it with 'editcap -F pcapng IN OUT' (Wireshark's editcap reads it) and analyse the result.",
            )
    return CaptureFormatError(f"{name} is not a pcap or pcapng file")


def _read_chunks(stream: BinaryIO, info: CaptureFile) -> Iterator[bytes]:
    # Fix: a chunk is gathered with read1() so that what was read before an error is kept. GzipFile.read(n)
    # raises EOFError on a truncated .gz and drops everything it decompressed in that call: a capture copied
    # while still being written lost all its records (up to CHUNK_BYTES of them), not just the last one.
    while True:
        parts: list[bytes] = []
        size = 0
        error: Exception | None = None
        try:
            while size < CHUNK_BYTES:
                piece = stream.read1(CHUNK_BYTES - size)
                if not piece:
                    break
                parts.append(piece)
                size += len(piece)
        except (OSError, EOFError, gzip.BadGzipFile, zlib_error()) as e:
            error = e
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if data:
            info.bytes_read += len(data)
            yield data
        if error is not None:
            # Every record in the data before the error has been counted by now (the reader walked it before
            # asking for more): with none, there is nothing to analyse, and the damaged .gz is the error.
            if info.packets == 0 and gzip_damage(error) is not None:
                raise damaged_gzip(info.name, error)
            info.anomalies.append(anomaly_with("pcap.read-error", None, _read_stopped(info.bytes_read, error)))
            return
        if size < CHUNK_BYTES:
            return


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


# ---------------------------------------------------------------------------------------------------------- pcap


def _read_pcap(stream: BinaryIO, info: CaptureFile, head: bytes) -> Iterator[RecordBatch]:
    rest = _read_header(stream, 20, info.name)  # a plain file cut inside its header is an anomaly, not an error
    info.bytes_read += len(rest)
    if len(rest) < 20:
        info.anomalies.append(anomaly("pcap.truncated-header", None))
        return
    le = struct.unpack("<I", head)[0] in (PCAP_MAGIC_US, PCAP_MAGIC_NS)
    e = "<" if le else ">"
    magic = struct.unpack(e + "I", head)[0]
    _vmaj, _vmin, _zone, _sig, snaplen, linktype = struct.unpack(e + "HHiIII", rest)
    info.byte_order = "little" if le else "big"
    info.nanosecond = magic == PCAP_MAGIC_NS
    # The link type field's upper bits hold the FCS length (pcap draft §4, LinkType and additional information).
    # Fix: the link type is the low 16 bits (libpcap LT_LINKTYPE); the old mask 0x0FFFFFFF kept the F bit
    # (0x04000000, "FCS length present"), so an Ethernet capture with FCS was an unknown link type.
    info.interfaces.append(
        Interface(0, linktype & 0xFFFF, snaplen, ts_mul_ns=1 if info.nanosecond else 1000)
    )
    max_len = max(MAX_RECORD_BYTES, snaplen if snaplen < (1 << 28) else 0)
    ts_mul = 1 if info.nanosecond else 1000
    leftover = b""
    base = 24  # file offset of leftover[0], for anomaly details
    frame = 1
    stopped = False
    # A chunk ends inside a record. Joining that partial record to the next chunk copies the whole chunk (4 MiB);
    # on a plain file it is cheaper to step back and read the partial record again with the next chunk.
    rewind = not info.compressed and stream.seekable()
    for data in _read_chunks(stream, info):
        buf = leftover + data if leftover else data
        starts, end, bad = _walk_fixed_header(buf, e, max_len)
        if len(starts):
            batch = _pcap_batch(buf, starts, e, ts_mul, frame)
            frame += len(batch)
            info.packets += len(batch)
            yield batch
        if bad is not None:
            _bad_record(info, frame, base + bad, buf, bad, e)
            stopped = True
            break
        base += end
        leftover = buf[end:]
        # Only after a full chunk (more may follow) and when this one held a complete record (else a record
        # longer than a chunk would be read again forever).
        if leftover and rewind and end and len(data) == CHUNK_BYTES:
            stream.seek(-len(leftover), io.SEEK_CUR)
            info.bytes_read -= len(leftover)
            leftover = b""
    if not stopped and leftover:
        if len(leftover) < 16:
            cut = anomaly("pcap.truncated-record:header", frame, left=len(leftover), frame=frame)
        else:
            caplen = struct.unpack_from(e + "I", leftover, 8)[0]
            cut = anomaly("pcap.truncated-record:data", frame, frame=frame, caplen=caplen, left=len(leftover) - 16)
        info.anomalies.append(cut)


def _bad_record(info: CaptureFile, frame: int, file_off: int, buf: bytes, off: int, e: str) -> None:
    caplen = struct.unpack_from(e + "I", buf, off + 8)[0]
    remaining = len(buf) - off
    info.anomalies.append(anomaly("pcap.bad-record-length", frame, offset=file_off, caplen=caplen, before=frame - 1,
                                  remaining=remaining))


def _walk_fixed_header(buf: bytes, e: str, max_len: int) -> tuple[np.ndarray, int, int | None]:
    """Find the starts of the complete pcap records in buf (16-byte header, caplen at +8).

    Returns (starts, end, bad): the record start offsets, the offset after the last complete record, and the
    offset of a record whose length is impossible (None if none).
    """
    n = len(buf)
    unpack = struct.Struct(e + "I").unpack_from
    dt = np.dtype(e + "u4")
    runs = _Runs()
    pos = 0
    prev_len = -1
    guess = -1  # the length of the current run of equal records, tried first at every position
    misses = 0
    while pos + 16 <= n:
        caplen = -1
        if guess >= 0:
            stride = 16 + guess
            k = min(WINDOW, (n - pos) // stride)
            if k >= 2:
                # Guess that the next k records have the run's length; read their length fields in one view.
                lens = np.ndarray((k,), dtype=dt, buffer=buf, offset=pos + 8, strides=(stride,))
                m = _leading(lens, guess)
                if m:
                    runs.add(pos, stride, m)
                    pos += stride * m
                    misses = 0
                    if m == k:
                        continue
                    # lens[m] is the length field of the record that broke the run (a SIP packet between RTP ones,
                    # usually), read already: step over it below and try the guess again after it, instead of a
                    # window that fails at once and a read of the same field (half the walk's time went there on
                    # the benchmark capture: a break every 70 records).
                    caplen = int(lens[m])
                else:
                    misses += 1
                    if misses > 1:  # two odd records in a row: stop guessing until a length repeats
                        guess = -1
        if caplen < 0:
            caplen = unpack(buf, pos + 8)[0]
        if caplen > max_len:
            return runs.offsets(), pos, pos
        stride = 16 + caplen
        if pos + stride > n:
            break
        runs.add(pos, stride, 1)
        if caplen == prev_len:
            guess = caplen
        prev_len = caplen
        pos += stride
    return runs.offsets(), pos, None


# Records verified per guess: a strided view of their length fields costs about the same for 2 or 256 records
# (measured 1.3 us), and a run of RTP is broken by a SIP packet about every 70 records on the benchmark capture;
# 256 took the least time there (128: +5 %, 512: +13 %; the struct windows of 48 records before: +83 %).
WINDOW = 256


def _leading(values: np.ndarray, expected: int) -> int:
    """How many values at the start equal `expected`."""
    differ = values != expected
    i = int(differ.argmax())
    return i if i or differ[0] else len(values)


class _Runs:
    """Record starts kept as runs of (first offset, stride, count), expanded into one array at the end."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.strides: list[int] = []
        self.counts: list[int] = []

    def add(self, start: int, stride: int, count: int) -> None:
        if self.counts and self.strides[-1] == stride and self.starts[-1] + stride * self.counts[-1] == start:
            self.counts[-1] += count
        else:
            self.starts.append(start)
            self.strides.append(stride)
            self.counts.append(count)

    def __len__(self) -> int:
        return sum(self.counts)

    def lengths(self) -> np.ndarray:
        """The stride (block length) of every record, in the order of offsets()."""
        return np.repeat(np.array(self.strides, dtype=np.int64), np.array(self.counts, dtype=np.int64))

    def offsets(self) -> np.ndarray:
        if not self.counts:
            return np.empty(0, dtype=np.int64)
        counts = np.array(self.counts, dtype=np.int64)
        first = np.repeat(np.array(self.starts, dtype=np.int64), counts)
        step = np.repeat(np.array(self.strides, dtype=np.int64), counts)
        index = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        return first + index * step


def octet_view(buf: bytes, dtype: str) -> np.ndarray | None:
    """`buf` as `dtype` values starting at every octet (a strided view, no copy; None if buf is shorter than one).

    A multi-octet field at any offset is then one element: reading a column of fields is one gather whatever
    their alignment, instead of gathering their octets one by one and shifting them together."""
    count = len(buf) - np.dtype(dtype).itemsize + 1
    return np.ndarray((count,), dtype=dtype, buffer=buf, strides=(1,)) if count > 0 else None


def _u32_fields(buf: bytes, starts: np.ndarray, offsets: range, e: str) -> list[np.ndarray]:
    """32-bit fields at starts + each of `offsets` (inside the records' headers), one int64 column per offset
    (contiguous: a column of a 2-D array is strided, and slows every later operation on it). Two neighbouring
    fields are read as one 64-bit value and split: a gather costs the same at any width (the time is in reaching
    each record), so this halves the gathers (measured 0.56 against 1.14 ms for the four fields of 36 000 pcap
    record headers)."""
    if not len(starts):
        return [np.empty(0, dtype=np.int64) for _ in offsets]
    out: list[np.ndarray] = []
    words = octet_view(buf, e + "u4")
    pairs = octet_view(buf, e + "u8")
    j = 0
    while j < len(offsets):
        if j + 1 < len(offsets) and offsets[j + 1] == offsets[j] + 4:
            both = pairs[starts + offsets[j]].astype(np.uint64).view(np.int64)
            high, low = (both >> 32) & 0xFFFFFFFF, both & 0xFFFFFFFF
            # the first field is the high half in big-endian order, the low half in little-endian order
            out += (high, low) if e == ">" else (low, high)
            j += 2
        else:
            out.append(words[starts + offsets[j]].astype(np.int64))
            j += 1
    return out


def _pcap_batch(buf: bytes, starts: np.ndarray, e: str, ts_mul: int, frame: int) -> RecordBatch:
    hdr = _u32_fields(buf, starts, range(0, 16, 4), e)
    ts_ns = hdr[0] * 1_000_000_000 + hdr[1] * ts_mul
    caplen = hdr[2]
    origlen = np.maximum(hdr[3], caplen)
    return RecordBatch(buf, frame, starts + 16, caplen, origlen, ts_ns, np.zeros(len(starts), dtype=np.int16))


# -------------------------------------------------------------------------------------------------------- pcapng


class _PcapngReader:
    """Block walker for pcapng. Sections may change byte order (each SHB has its own byte-order magic)."""

    def __init__(self, stream: BinaryIO, info: CaptureFile, head: bytes) -> None:
        self.stream = stream
        self.info = info
        self.head = head
        self.e = "<"
        self.section_ifaces: list[int] = []  # section-local interface id -> global index
        self.frame = 1
        # Set by _walk when it stopped at the start of a new section (see there).
        self.section_break = False
        # The time of the last record handed on, for an SPB that opens a batch (it takes its predecessor's time).
        self.last_ts = 0
        # The anomalies found column-wise per batch, counted over the capture (see _counted).
        self.counted: dict[str, tuple[int, dict[str, object], int]] = {}

    def batches(self) -> Iterator[RecordBatch]:
        leftover = self.head
        base = 0
        for data in _read_chunks(self.stream, self.info):
            buf = leftover + data
            end = 0
            while True:
                end, batch, bad = self._walk(buf, base, end)
                if batch is not None:
                    yield batch
                if bad:
                    return
                # A new section starts at `end`: walk it separately (one batch never spans two sections).
                if not self.section_break:
                    break
            base += end
            leftover = buf[end:]
        if leftover:
            self.info.anomalies.append(anomaly("pcapng.truncated-block", self.frame, offset=base, left=len(leftover)))

    def _walk(self, buf: bytes, base: int, start: int = 0) -> tuple[int, RecordBatch | None, bool]:
        n = len(buf)
        pos = start
        self.section_break = False
        epbs = _Runs()
        prev_len = -1
        rows: list[tuple[int, int, int, int, int]] = []  # SPB/PB: (data_off, caplen, origlen, ts_raw, iface)
        # Records are kept in file order: EPB runs as arrays, SPB/PB as rows, merged by their offset.
        while pos + 12 <= n:
            btype, blen = struct.unpack_from(self.e + "II", buf, pos)
            if btype == PCAPNG_SHB:
                if pos > start:
                    # Fix: a batch must not span two sections. _batch decodes EPB headers with self.e and maps
                    # their interface ids through self.section_ifaces *when the batch is built*, so the records
                    # of the previous section were decoded with the new section's byte order and interfaces.
                    # End this batch here; batches() walks on from this SHB.
                    self.section_break = True
                    break
                # The byte order of a new section is read from its own byte-order magic (§4.1).
                if pos + 12 > n:
                    break
                bom = buf[pos + 8 : pos + 12]
                if bom == b"\x4d\x3c\x2b\x1a":
                    self.e = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    self.e = ">"
                else:
                    self._anomaly("pcapng.bad-block:byte-order", offset=base + pos)
                    return pos, self._batch(buf, epbs, rows), True
                blen = struct.unpack_from(self.e + "I", buf, pos + 4)[0]
                self.info.byte_order = "little" if self.e == "<" else "big"
            if blen < MIN_BLOCK_LENGTH.get(btype, 12) or blen % 4 or blen > MAX_RECORD_BYTES + 64:
                self._anomaly("pcapng.bad-block:length", offset=base + pos, length=blen,
                              frame=self.frame + len(epbs) + len(rows) - 1, rest=n - pos)
                return pos, self._batch(buf, epbs, rows), True
            if pos + blen > n:
                break
            if btype == BT_EPB:
                k = min(WINDOW, (n - pos) // blen)
                if blen == prev_len and k >= 2:
                    # Guess the next k blocks are EPBs of this length: their (type, length) pairs as one 64-bit
                    # value each, in one strided view. The first is this block, so m >= 1.
                    e = self.e
                    pairs = np.ndarray((k,), dtype=e + "u8", buffer=buf, offset=pos, strides=(blen,))
                    m = _leading(pairs, BT_EPB | blen << 32 if e == "<" else BT_EPB << 32 | blen)
                    epbs.add(pos, blen, m)
                    pos += blen * m
                    continue
                epbs.add(pos, blen, 1)
                prev_len = blen
            else:
                prev_len = -1
                self._other_block(buf, pos, btype, blen, base, rows)
            pos += blen
        return pos, self._batch(buf, epbs, rows), False

    def _anomaly(self, key: str, **values: object) -> None:
        """Record the anomaly of the text `key` of sipdiag.parsers.anomalytexts (not tied to one frame)."""
        self.info.anomalies.append(anomaly(key, None, **values))

    def _counted(self, key: str, n: int, **values: object) -> None:
        """Record `n` frames with the defect of `key`; `values` describe the first of them. One anomaly per key for
        the whole capture, naming its first frame and the total: a count per batch would depend on where the
        CHUNK_BYTES boundaries fall, i.e. on the file's size, not on the capture. The anomaly keeps its place in
        the list (that of the first occurrence) and is rewritten with the new total."""
        seen = self.counted.get(key)
        if seen is None:
            self.counted[key] = (len(self.info.anomalies), values, n)
            self.info.anomalies.append(anomaly(key, None, **values, n=n))
            return
        index, first, total = seen
        self.counted[key] = (index, first, total + n)
        self.info.anomalies[index] = anomaly(key, None, **first, n=total + n)

    def _other_block(self, buf: bytes, pos: int, btype: int, blen: int, base: int, rows: list) -> None:
        e = self.e
        if btype == PCAPNG_SHB:
            self.section_ifaces = []
        elif btype == BT_IDB:
            linktype, _res, snaplen = struct.unpack_from(e + "HHI", buf, pos + 8)
            mul, div, off, name = _idb_options(self._options("block:idb", buf, pos, 16, blen, base), e)
            if abs(off) > MAX_TS_OFFSET_S:
                self._anomaly("pcapng.bad-option:tsoffset", interface=len(self.info.interfaces), offset=off)
                off = 0
            idx = len(self.info.interfaces)
            self.info.interfaces.append(Interface(idx, linktype, snaplen, mul, div, off, name))
            self.section_ifaces.append(idx)
        elif btype in (BT_SPB, BT_PB):
            # SPB (§4.4) has no interface id nor timestamp: it belongs to interface 0 of the section.
            # The obsolete PB (Appendix A) is laid out like an EPB with a 16-bit interface id.
            if btype == BT_SPB:
                origlen = struct.unpack_from(e + "I", buf, pos + 8)[0]
                iface = self._global_iface(0)
                snap = self.info.interfaces[iface].snaplen if iface >= 0 else 0
                caplen = min(origlen, snap or origlen, blen - 16)
                rows.append((pos + 12, caplen, origlen, -1, iface, pos))
            else:
                local, _drops, hi, lo, caplen, origlen = struct.unpack_from(e + "HHIIII", buf, pos + 8)
                if caplen > blen - 32:  # as an EPB's (see _batch)
                    self._anomaly("pcapng.bad-caplen:block", offset=base + pos, caplen=caplen, size=blen)
                    caplen = max(blen - 32, 0)
                raw = (hi << 32) | lo
                rows.append((pos + 28, caplen, origlen, raw if raw < 1 << 63 else DAMAGED_TS, self._global_iface(local),
                             pos))
        elif btype == BT_ISB:
            local, hi, lo = struct.unpack_from(e + "III", buf, pos + 8)
            iface = self._global_iface(local)
            if iface < 0:  # statistics of an interface no IDB described: nothing to attach them to (§4.6)
                self._anomaly("pcapng.bad-block:statistics", offset=base + pos, interface=local)
                return
            stats = _isb_options(self._options("block:isb", buf, pos, 20, blen, base), e)
            ts = self._ts_ns(iface, (hi << 32) | lo)
            self.info.statistics.append(InterfaceStats(iface, ts, stats.get(4), stats.get(5), stats.get(7), stats.get(8)))
        elif btype == BT_NRB:
            if not _records_end(buf, pos + 8, pos + blen - 4, e):
                self._anomaly("pcapng.bad-block:name-resolution", offset=base + pos)
        elif btype == BT_DSB:
            # §4.7: secrets type (4), secrets length (4), the secrets, options. Checked like the NRB: an EPB whose
            # type was damaged into 0x0A (its timestamp then read as the secrets' length) was skipped in silence.
            length = struct.unpack_from(e + "I", buf, pos + 12)[0]
            if 20 + length > blen:
                self._anomaly("pcapng.bad-block:decryption-secrets", offset=base + pos, length=length)
        elif btype not in SKIPPED_BLOCKS and btype < 0x80000000:
            self._anomaly("pcapng.unknown-block", offset=base + pos, type=btype)
        # Other blocks carry no packets: skipped by their length (§3.1 allows that).

    def _options(self, kind: str, buf: bytes, pos: int, skip: int, blen: int, base: int) -> list[tuple[int, bytes]]:
        """The options of the block at pos (they start `skip` octets in); one running past the block is named.
        `kind`: the block's kind, a text of sipdiag.parsers.anomalytexts ("block:idb")."""
        options, how, _end = _tlv(buf, pos + skip, pos + blen - 4, self.e)
        if how == "overrun":
            self._anomaly("pcapng.bad-option:overrun", block=detail(kind), offset=base + pos)
        return options

    def _global_iface(self, local: int) -> int:
        if 0 <= local < len(self.section_ifaces):
            return self.section_ifaces[local]
        return -1

    def _ts_ns(self, iface: int, raw: int) -> int:
        if iface < 0:
            return raw * 1000
        i = self.info.interfaces[iface]
        return raw * i.ts_mul_ns // i.ts_div + i.ts_offset_s * 1_000_000_000

    def _batch(self, buf: bytes, epbs: _Runs, rows: list) -> RecordBatch | None:
        starts = epbs.offsets()
        if not len(starts) and not rows:
            return None
        e = self.e
        if len(starts):
            hdr = _u32_fields(buf, starts, range(8, 28, 4), e)
            local = hdr[0]
            raw_ts = (hdr[1] << 32) | hdr[2]
            raw_ts[raw_ts < 0] = DAMAGED_TS  # the top bit set: beyond 64-bit signed (and -1 is the SPB's mark)
            caplen = hdr[3]
            origlen = hdr[4]
            # An EPB's captured length must fit its block (28 octets of header, the data, padding, options, the
            # 4-octet trailer; pcapng §4.3): beyond it, the next blocks would be read as this packet's bytes.
            room = epbs.lengths() - 32
            over = np.flatnonzero(caplen > room)
            if len(over):
                first = int(over[0]) + sum(r[5] < starts[over[0]] for r in rows)  # SPB/PB blocks before it count
                self._counted("pcapng.bad-caplen:frames", len(over), frame=self.frame + first,
                              caplen=int(caplen[over[0]]), size=int(room[over[0]]) + 32)
                caplen = np.minimum(caplen, room)
            data_off = starts + 28
            order_key = starts
        else:
            local = raw_ts = caplen = origlen = data_off = order_key = np.empty(0, dtype=np.int64)
        table = np.array(self.section_ifaces + [-1], dtype=np.int64)
        iface = table[np.where((local >= 0) & (local < len(self.section_ifaces)), local, len(self.section_ifaces))]
        if rows:
            r = np.array(rows, dtype=np.int64)
            data_off = np.concatenate([data_off, r[:, 0]])
            caplen = np.concatenate([caplen, r[:, 1]])
            origlen = np.concatenate([origlen, r[:, 2]])
            raw_ts = np.concatenate([raw_ts, r[:, 3]])
            iface = np.concatenate([iface, r[:, 4]])
            order_key = np.concatenate([order_key, r[:, 5]])
            order = np.argsort(order_key, kind="stable")
            data_off, caplen, origlen, raw_ts, iface = (a[order] for a in (data_off, caplen, origlen, raw_ts, iface))
            rows.clear()
        ts_ns = self._convert_ts(raw_ts, iface)
        if (iface < 0).any():
            unknown = np.flatnonzero(iface < 0)
            self._counted("pcapng.unknown-interface", len(unknown), frame=self.frame + int(unknown[0]))
        origlen = np.maximum(origlen, caplen)
        batch = RecordBatch(buf, self.frame, data_off, caplen, origlen, ts_ns, iface.astype(np.int16))
        self.frame += len(batch)
        self.info.packets += len(batch)
        return batch

    def _convert_ts(self, raw: np.ndarray, iface: np.ndarray) -> np.ndarray:
        """Nanoseconds of the raw timestamps (-1: an SPB's, none). A timestamp beyond MAX_TS_NS (a damaged block:
        year 2116 and later, where nanoseconds would overflow 64 bits) is named and takes its predecessor's time,
        as an SPB does."""
        ifaces = unique(iface).tolist()
        damaged = raw == DAMAGED_TS
        for i in ifaces:
            if i < 0:
                # no IDB, so no resolution (named as pcapng.unknown-interface): read as microseconds, and a value
                # those would overflow takes its predecessor's time too, without a second anomaly
                raw = np.where((iface == i) & (raw > MAX_TS_NS // 1000), -1, raw)
                continue
            spec = self.info.interfaces[i]
            limit = (MAX_TS_NS - spec.ts_offset_s * 1_000_000_000) * spec.ts_div // spec.ts_mul_ns
            if limit < 2**63:  # else every 63-bit value converts within range
                damaged |= (iface == i) & (raw > limit)
        if damaged.any():
            first = int(np.flatnonzero(damaged)[0])
            self._counted("pcapng.bad-timestamp", int(damaged.sum()), frame=self.frame + first)
            raw = np.where(damaged, -1, raw)
        out = raw * 1000
        for i in ifaces:
            if i < 0:
                continue
            spec = self.info.interfaces[i]
            sel = iface == i
            if spec.ts_div == 1:
                out[sel] = raw[sel] * spec.ts_mul_ns
            elif spec.ts_div <= 1 << 32:
                # Fix: raw * ts_mul_ns overflows int64 for binary resolutions (mul 10**9, e.g. 2**-20: raw is
                # about 2**50 today). Whole units and the remainder separately: exact, no overflow.
                whole, rem = np.divmod(raw[sel], spec.ts_div)
                out[sel] = whole * spec.ts_mul_ns + rem * spec.ts_mul_ns // spec.ts_div
            else:  # finer than 2**-32 s (or 10**-19 s): exotic; Python integers, exact
                out[sel] = [int(r) * spec.ts_mul_ns // spec.ts_div for r in raw[sel].tolist()]
            if spec.ts_offset_s:
                out[sel] += spec.ts_offset_s * 1_000_000_000
        # A raw value of -1 marks an SPB, which has no timestamp (§4.4): it takes its predecessor's time.
        missing = raw < 0
        if missing.any():
            idx = np.where(missing, 0, np.arange(len(raw)))
            np.maximum.accumulate(idx, out=idx)
            out = np.where(missing, out[idx], out)
            # Fix: the predecessor of an SPB that opens a batch is the previous batch's last record (this was 0,
            # i.e. 1970, in the middle of a capture whenever a chunk boundary fell just before an SPB).
            out[missing & (idx == 0) & missing[0]] = self.last_ts
        if len(out):
            self.last_ts = int(out[-1])
        return out


def _tlv(buf: bytes, pos: int, end: int, e: str) -> tuple[list[tuple[int, bytes]], str, int]:
    """The (code, value) entries of a pcapng option list or NRB record list (§3.5, §4.5: code and length in 16
    bits, the value padded to 32 bits) from pos, how the walk ended and where: `end` at the end marker (code 0;
    the position after it), `overrun` at an entry whose value runs past the block (its bytes would be the next
    block's), `out` when the block ran out first."""
    entries = []
    while pos + 4 <= end:
        code, length = struct.unpack_from(e + "HH", buf, pos)
        if code == 0:
            return entries, "end", pos + 4
        if pos + 4 + length > end:
            return entries, "overrun", pos
        entries.append((code, buf[pos + 4 : pos + 4 + length]))
        pos += 4 + ((length + 3) & ~3)
    return entries, "out", pos


def _idb_options(options: list[tuple[int, bytes]], e: str) -> tuple[int, int, int, str]:
    mul, div, offset, name = 1000, 1, 0, ""
    for code, value in options:
        if code == 9 and value:  # if_tsresol
            res = value[0]
            if res & 0x80:  # a negative power of two
                mul, div = 1_000_000_000, 1 << (res & 0x7F)
            else:
                exp = res & 0x7F
                mul, div = (10 ** (9 - exp), 1) if exp <= 9 else (1, 10 ** (exp - 9))
        elif code == 14 and len(value) == 8:  # if_tsoffset, seconds
            offset = struct.unpack(e + "q", value)[0]
        elif code == 2:  # if_name
            name = value.decode("utf-8", "replace")
    return mul, div, offset, name


def _records_end(buf: bytes, pos: int, end: int, e: str) -> bool:
    """Whether an NRB body is well formed (§4.5): records up to nrb_record_end, then options that end at
    opt_endofopt or exactly at the block's end."""
    _records, how, pos = _tlv(buf, pos, end, e)
    if how != "end":
        return False
    _options, how, pos = _tlv(buf, pos, end, e)
    return how == "end" or (how == "out" and pos == end)


def _isb_options(options: list[tuple[int, bytes]], e: str) -> dict[int, int]:
    out = {}
    for code, value in options:
        if code in (4, 5, 6, 7, 8) and len(value) == 8:  # isb_ifrecv, ifdrop, filteraccept, osdrop, usrdeliv
            out[code] = struct.unpack(e + "Q", value)[0]
    return out
