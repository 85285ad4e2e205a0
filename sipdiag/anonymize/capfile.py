"""Walking a pcap or pcapng file record by record and writing it back with new packet bytes.

The anonymiser keeps every packet's length, so the output is the input with packet bytes replaced: the same
record headers (timestamps, captured and original lengths), the same pcapng sections, interfaces and statistics.
pcapng metadata is written again without what names hosts, people or keys (draft-ietf-opsawg-pcapng):
- left out whole: Name Resolution Blocks (addresses paired with host names, §4.5), Decryption Secrets Blocks
  (TLS and WireGuard keys, §4.7), custom blocks (§4.8), systemd journal blocks (§4.9, logs), the other blocks
  `sipdiag analyze` skips, and blocks of local use (type bit 31): none carries packets;
- other unknown blocks keep their type and length, their body zeroed (`sipdiag analyze` still names them);
- options: only those that describe the capture and not who made it stay (OPTIONS_KEPT: time resolution and
  offset, FCS length, speeds; packet flags, drop counts, packet id and queue; the statistics' counters and
  times); comments, interface names, descriptions, addresses, filters, OS and hardware, hashes of the original
  packet, verdicts and custom options go. A Section Header Block's section length becomes "not given" (-1),
  as the section's size changes.
A damaged tail (a truncated or impossible record, and everything after it) is left out, as `sipdiag analyze`
stops there too. A gzip stream that cannot be read to its end (cut
short, a bad CRC) ends the walk where it fails, as the capture reader's `pcap.read-error` does: the records
read before are kept.

The capture layer's reader (`sipdiag.parsers.capture`) hands packets on in NumPy batches without the bytes
around them; this walker keeps those bytes, which writing needs. It opens files the same way (`open_stream`:
gzip detected by magic, '-' for standard input).
"""

from __future__ import annotations

import shutil
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import CaptureFormatError, CaptureReadError
from ..parsers.capture import (BT_EPB, BT_IDB, BT_ISB, BT_NRB, BT_PB, BT_SPB, MAX_RECORD_BYTES, PCAP_MAGIC_NS,
                               PCAP_MAGIC_US, PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_SHB, SKIPPED_BLOCKS, damaged_gzip,
                               gzip_damage, open_stream, read_stopped)

# Options kept, by block type (draft-ietf-opsawg-pcapng §4.2, §4.3, §4.6, Appendix A): IDB if_speed 8, if_tsresol
# 9, if_tzone 10, if_fcslen 13, if_tsoffset 14, if_txspeed 16, if_rxspeed 17; EPB/PB flags 2, dropcount 4,
# packetid 5, queue 6; ISB starttime 2 through usrdeliv 8. Everything else (opt_comment 1 everywhere, if_name,
# if_description, if_IPv4addr, if_IPv6addr, if_MACaddr, if_EUIaddr, if_filter, if_os, if_hardware, shb_hardware,
# shb_os, shb_userappl, epb_hash, epb_verdict, custom options) is left out.
OPTIONS_KEPT = {
    PCAPNG_SHB: frozenset(),
    BT_IDB: frozenset({8, 9, 10, 13, 14, 16, 17}),
    BT_EPB: frozenset({2, 4, 5, 6}),
    BT_PB: frozenset({2}),
    BT_ISB: frozenset({2, 3, 4, 5, 6, 7, 8}),
}


@dataclass(frozen=True, slots=True)
class Record:
    """One piece of the file: a packet (`data` not None: `head + data + tail` is the record as stored) or
    other bytes to copy (`head` only, `data` None)."""

    head: bytes
    data: bytes | None = None
    tail: bytes = b""
    frame: int = 0  # 1-based, packets only
    linktype: int = -1


@dataclass
class WalkInfo:
    format: str = ""
    compressed: bool = False
    dropped_blocks: int = 0  # name resolution blocks left out
    other_blocks_dropped: int = 0  # decryption secrets, custom, journal and local blocks left out
    blocks_blanked: int = 0  # unknown blocks whose body was zeroed
    options_dropped: int = 0
    damaged_tail: bool = False
    # Why reading stopped before the end of the file (a damaged gzip stream), worded as the capture reader's
    # pcap.read-error anomaly; None when the file was read to its end.
    read_error: str | None = None


def spool(path: str) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """A path the two passes can read twice: standard input is copied to a temporary file first, as it comes
    (still compressed: a damaged gzip stream is then found by the walks, which keep what precedes the damage)."""
    if path != "-":
        return Path(path), None
    tmp = tempfile.TemporaryDirectory(prefix="sipdiag-anon-")
    target = Path(tmp.name) / "stdin.capture"
    with open(target, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    return target, tmp


def walk(path: str | Path, info: WalkInfo | None = None) -> Iterator[Record]:
    """Every record of the capture in file order (gzip is decompressed; the output is never compressed)."""
    info = info if info is not None else WalkInfo()
    stream, compressed, name = open_stream(path)
    info.compressed = compressed
    read = _Reader(stream, info)
    try:
        head = read(4)
        if read.error is not None:  # damaged in its first block: as `sipdiag analyze` says it
            raise _unreadable(name, read.error)
        if len(head) < 4:
            raise CaptureFormatError(f"{name} is not a pcap or pcapng file (it is {len(head)} bytes long)")
        le, be = struct.unpack("<I", head)[0], struct.unpack(">I", head)[0]
        if le == PCAPNG_SHB:
            info.format, damage = "pcapng", "is cut short or damaged inside its first section header block"
            records = _pcapng(read, head, info)
        elif PCAP_MAGIC_US in (le, be) or PCAP_MAGIC_NS in (le, be):
            info.format, damage = "pcap", "ends inside its 24-byte pcap header"
            records = _pcap(read, head, info)
        else:
            raise CaptureFormatError(f"{name} is not a pcap or pcapng file")
        first = next(records, None)
        if first is None:
            # The file ends (or cannot be read) inside its file header (pcap) or first section header block
            # (pcapng, draft-ietf-opsawg-pcapng §4.1): what could be written would be no capture at all, not even
            # an empty one (an empty output file, "written" with exit 0, was refused by sipdiag itself).
            if read.error is not None:
                raise _unreadable(name, read.error)
            raise CaptureFormatError(f"{name} {damage} (after {read.offset} bytes): there is no packet to "
                                     f"anonymise", hint="The file was cut short (copied while it was still being "
                                     "written?): copy it again from where it was captured.")
        yield first
        yield from records
    finally:
        stream.close()


def _unreadable(name: str, error: Exception) -> CaptureReadError:
    return damaged_gzip(name, error) if gzip_damage(error) is not None else \
        CaptureReadError(f"{name}: cannot read ({error})")


class _Reader:
    """`read(n)`: up to n bytes, fewer only at the end of the data. A gzip stream cut short (EOFError) or with a
    bad CRC or length in its trailer (BadGzipFile, RFC 1952 §2.3.1) or damaged inside (zlib.error) ends the data
    there, as the capture reader's `_read_chunks` does: `info.read_error` says why and after how many bytes.
    read1() in a loop, because GzipFile.read(n) drops what it decompressed in a call that then fails."""

    def __init__(self, stream: BinaryIO, info: WalkInfo) -> None:
        self.stream, self.info = stream, info
        self.offset = 0  # bytes delivered (decompressed)
        self.error: Exception | None = None

    def __call__(self, n: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while size < n and self.error is None:
            try:
                piece = self.stream.read1(n - size)
            except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
                self.error = e
                self.info.read_error = read_stopped(self.offset + size, e)
                break
            if not piece:
                break
            parts.append(piece)
            size += len(piece)
        self.offset += size
        return b"".join(parts)


def _pcap(read: _Reader, magic: bytes, info: WalkInfo) -> Iterator[Record]:
    rest = read(20)
    if len(rest) < 20:
        info.damaged_tail = True
        return
    e = "<" if struct.unpack("<I", magic)[0] in (PCAP_MAGIC_US, PCAP_MAGIC_NS) else ">"
    snaplen, linktype = struct.unpack(e + "II", rest[12:20])
    yield Record(magic + rest)
    linktype &= 0xFFFF  # the upper bits carry the FCS length (pcap draft §4)
    limit = max(MAX_RECORD_BYTES, snaplen if snaplen < (1 << 28) else 0)
    frame = 1
    while True:
        header = read(16)
        if not header:
            return
        if len(header) < 16:
            info.damaged_tail = True
            return
        caplen = struct.unpack_from(e + "I", header, 8)[0]
        if caplen > limit:
            info.damaged_tail = True
            return
        data = read(caplen)
        if len(data) < caplen:
            info.damaged_tail = True
            return
        yield Record(header, data, b"", frame, linktype)
        frame += 1


def _pcapng(read: _Reader, first: bytes, info: WalkInfo) -> Iterator[Record]:
    e = "<"
    linktypes: list[int] = []
    frame = 1
    pending = first
    while True:
        head = pending + read(8 - len(pending))
        pending = b""
        if not head:
            return
        if len(head) < 8:
            info.damaged_tail = True
            return
        btype = struct.unpack(e + "I", head[:4])[0]
        if btype == PCAPNG_SHB:
            bom = read(4)
            if len(bom) < 4:
                info.damaged_tail = True
                return
            e = "<" if struct.unpack("<I", bom)[0] == PCAPNG_BYTE_ORDER_MAGIC else ">"
            length = struct.unpack(e + "I", head[4:8])[0]
            head += bom
            linktypes = []
        else:
            length = struct.unpack(e + "I", head[4:8])[0]
        if length < 12 or length % 4 or length > MAX_RECORD_BYTES + 64:
            info.damaged_tail = True
            return
        body = read(length - len(head))
        if len(body) < length - len(head):
            info.damaged_tail = True
            return
        block = head + body
        if btype == PCAPNG_SHB:
            # section length (§4.1) -1: not given, as leaving options out changes it
            block = _options_rewritten(block[:16] + struct.pack(e + "q", -1) + block[24:], 24, btype, e, info)
            yield Record(block)
        elif btype == BT_IDB:
            linktypes.append(struct.unpack_from(e + "H", block, 8)[0])
            yield Record(_options_rewritten(block, 16, btype, e, info))
        elif btype == BT_ISB:
            yield Record(_options_rewritten(block, 20, btype, e, info))
        elif btype in (BT_EPB, BT_PB):
            if btype == BT_EPB:
                iface = struct.unpack_from(e + "I", block, 8)[0]
            else:
                iface = struct.unpack_from(e + "H", block, 8)[0]
            caplen = struct.unpack_from(e + "I", block, 20)[0]
            if 28 + caplen + 4 > length:
                info.damaged_tail = True
                return
            lt = linktypes[iface] if iface < len(linktypes) else -1
            block = _options_rewritten(block, min(length - 4, 28 + ((caplen + 3) & ~3)), btype, e, info)
            yield Record(block[:28], block[28:28 + caplen], block[28 + caplen:], frame, lt)
            frame += 1
        elif btype == BT_SPB:
            origlen = struct.unpack_from(e + "I", block, 8)[0]
            caplen = min(origlen, length - 16)
            lt = linktypes[0] if linktypes else -1
            yield Record(block[:12], block[12:12 + caplen], block[12 + caplen:], frame, lt)
            frame += 1
        elif btype == BT_NRB:
            info.dropped_blocks += 1
        elif btype in SKIPPED_BLOCKS or btype >= 0x80000000:
            info.other_blocks_dropped += 1
        else:
            info.blocks_blanked += 1
            yield Record(block[:8] + bytes(length - 12) + block[-4:])


def _options_rewritten(block: bytes, start: int, btype: int, e: str, info: WalkInfo) -> bytes:
    """The block with only the options of OPTIONS_KEPT[btype] (options begin at `start`), its two length fields
    set to its new length. Options that run past the block are all left out."""
    keep = OPTIONS_KEPT[btype]
    end = len(block) - 4
    pos, kept, dropped = start, [], 0
    while pos + 4 <= end:
        code, size = struct.unpack_from(e + "HH", block, pos)
        if code == 0:  # opt_endofopt
            break
        stop = pos + 4 + ((size + 3) & ~3)
        if stop > end:
            dropped += 1
            break
        if code in keep:
            kept.append(block[pos:stop])
        else:
            dropped += 1
        pos = stop
    if not dropped:
        return block
    info.options_dropped += dropped
    options = b"".join(kept) + (struct.pack(e + "HH", 0, 0) if kept else b"")
    length = start + len(options) + 4
    return block[:4] + struct.pack(e + "I", length) + block[8:start] + options + struct.pack(e + "I", length)
