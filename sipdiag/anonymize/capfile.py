"""Walking a pcap or pcapng file record by record and writing it back with new packet bytes.

The anonymiser keeps every packet's length, so the output is the input with packet bytes replaced: the same
record headers (timestamps, captured and original lengths), the same pcapng sections, interfaces, statistics,
options and comments. Two things are left out on purpose: pcapng Name Resolution Blocks (they pair addresses
with host names, draft-ietf-opsawg-pcapng §4.5) and a damaged tail (a truncated or impossible record, and
everything after it, as `sipdiag analyze` stops there too).

The capture layer's reader (`sipdiag.parsers.capture`) hands packets on in NumPy batches without the bytes
around them; this walker keeps those bytes, which writing needs. It opens files the same way (`open_stream`:
gzip detected by magic, '-' for standard input).
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import CaptureFormatError
from ..parsers.capture import (BT_EPB, BT_IDB, BT_NRB, BT_PB, BT_SPB, MAX_RECORD_BYTES, PCAP_MAGIC_NS,
                               PCAP_MAGIC_US, PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_SHB, open_stream)


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
    damaged_tail: bool = False


def spool(path: str) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """A path the two passes can read twice: standard input is copied to a temporary file first."""
    if path != "-":
        return Path(path), None
    tmp = tempfile.TemporaryDirectory(prefix="sipdiag-anon-")
    target = Path(tmp.name) / "stdin.capture"
    stream, _compressed, _name = open_stream("-")
    with open(target, "wb") as out:
        shutil.copyfileobj(stream, out)
    return target, tmp


def walk(path: str | Path, info: WalkInfo | None = None) -> Iterator[Record]:
    """Every record of the capture in file order (gzip is decompressed; the output is never compressed)."""
    info = info if info is not None else WalkInfo()
    stream, compressed, name = open_stream(path)
    info.compressed = compressed
    try:
        head = stream.read(4)
        if len(head) < 4:
            raise CaptureFormatError(f"{name} is not a pcap or pcapng file (it is {len(head)} bytes long)")
        le, be = struct.unpack("<I", head)[0], struct.unpack(">I", head)[0]
        if le == PCAPNG_SHB:
            info.format = "pcapng"
            yield from _pcapng(stream, head, info)
        elif PCAP_MAGIC_US in (le, be) or PCAP_MAGIC_NS in (le, be):
            info.format = "pcap"
            yield from _pcap(stream, head, info)
        else:
            raise CaptureFormatError(f"{name} is not a pcap or pcapng file")
    finally:
        stream.close()


def _read(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def _pcap(stream: BinaryIO, magic: bytes, info: WalkInfo) -> Iterator[Record]:
    rest = _read(stream, 20)
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
        header = _read(stream, 16)
        if not header:
            return
        if len(header) < 16:
            info.damaged_tail = True
            return
        caplen = struct.unpack_from(e + "I", header, 8)[0]
        if caplen > limit:
            info.damaged_tail = True
            return
        data = _read(stream, caplen)
        if len(data) < caplen:
            info.damaged_tail = True
            return
        yield Record(header, data, b"", frame, linktype)
        frame += 1


def _pcapng(stream: BinaryIO, first: bytes, info: WalkInfo) -> Iterator[Record]:
    e = "<"
    linktypes: list[int] = []
    frame = 1
    pending = first
    while True:
        head = pending + _read(stream, 8 - len(pending))
        pending = b""
        if not head:
            return
        if len(head) < 8:
            info.damaged_tail = True
            return
        btype = struct.unpack(e + "I", head[:4])[0]
        if btype == PCAPNG_SHB:
            bom = _read(stream, 4)
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
        body = _read(stream, length - len(head))
        if len(body) < length - len(head):
            info.damaged_tail = True
            return
        block = head + body
        if btype == BT_IDB:
            linktypes.append(struct.unpack_from(e + "H", block, 8)[0])
            yield Record(block)
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
        else:
            yield Record(block)
