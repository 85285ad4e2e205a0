"""Writing records to a new capture file that keeps what the original said about them: link type, snap length,
timestamps to the nanosecond, captured and original lengths.

pcap input gives pcap output (draft-ietf-opsawg-pcap §4-5; nanosecond magic when the original had it). pcapng input
gives pcapng output (draft-ietf-opsawg-pcapng): one section, one Interface Description Block per interface of
the original (all its sections), in order, so every record keeps its interface and that interface's own link
type; times are written at nanosecond resolution (if_tsresol 9), which holds every original resolution down to
1 ns exactly (binary resolutions were converted to ns once on reading).

Written by hand rather than with dpkt: dpkt's writers take the timestamp as a float of seconds, which at today's
epoch holds about a quarter of a microsecond, so nanosecond captures would not keep their times.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

from . import __version__
from .parsers.capture import Interface

PCAP_MAGIC_US, PCAP_MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
BT_SHB, BT_IDB, BT_EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
OPT_ENDOFOPT, OPT_IF_NAME, OPT_IF_TSRESOL, OPT_SHB_USERAPPL = 0, 2, 9, 4


class CaptureWriter:
    """Records in, a pcap or pcapng file out (little-endian; every reader takes both byte orders)."""

    def __init__(self, out: BinaryIO, fmt: str, interfaces: Sequence[Interface], *, nanosecond: bool = False) -> None:
        if fmt not in ("pcap", "pcapng") or not interfaces:
            raise ValueError(f"cannot write {fmt!r} with {len(interfaces)} interface(s)")
        self.out = out
        self.fmt = fmt
        self.nanosecond = nanosecond
        self.records = 0
        if fmt == "pcap":
            iface = interfaces[0]
            magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
            out.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, iface.snaplen or 262144, iface.linktype))
            return
        out.write(_block(BT_SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
                         + _option(OPT_SHB_USERAPPL, f"sipdiag {__version__}".encode()) + _END))
        for iface in interfaces:
            options = (_option(OPT_IF_NAME, iface.name.encode()) if iface.name else b"")
            options += _option(OPT_IF_TSRESOL, bytes([9])) + _END
            out.write(_block(BT_IDB, struct.pack("<HHI", iface.linktype, 0, iface.snaplen) + options))

    def write_records(self, buf: bytes, data_off: np.ndarray, caplen: np.ndarray, origlen: np.ndarray,
                      ts_ns: np.ndarray, iface: np.ndarray) -> None:
        """Many records of one read buffer at once (`RecordBatch` columns): the record headers are built as one
        NumPy structured array, so the per-record Python work is two slices."""
        n = len(data_off)
        if not n:
            return
        caplen = caplen.astype(np.int64)
        if self.fmt == "pcap":
            hdr = np.empty(n, dtype=[("s", "<u4"), ("f", "<u4"), ("c", "<u4"), ("o", "<u4")])
            secs, frac = np.divmod(ts_ns, 1_000_000_000)
            hdr["s"], hdr["f"] = secs, frac if self.nanosecond else frac // 1000
            hdr["c"], hdr["o"] = caplen, origlen
            size, pads = 16, None
        else:
            pad = -caplen % 4
            hdr = np.empty(n, dtype=[("t", "<u4"), ("len", "<u4"), ("if", "<u4"), ("hi", "<u4"), ("lo", "<u4"),
                                     ("c", "<u4"), ("o", "<u4")])
            hdr["t"], hdr["len"], hdr["if"] = BT_EPB, 32 + caplen + pad, iface
            hdr["hi"], hdr["lo"] = ts_ns >> 32, ts_ns & 0xFFFFFFFF
            hdr["c"], hdr["o"] = caplen, origlen
            size = 28
            # each block ends with its padding and its total length again (pcapng §3.1)
            trailer = np.empty(n, dtype=[("len", "<u4")])
            trailer["len"] = hdr["len"]
            tb = trailer.tobytes()
            pads = [bytes(int(p)) + tb[4 * j: 4 * j + 4] for j, p in enumerate(pad.tolist())]
        hb = hdr.tobytes()
        parts = []
        for j, (start, length) in enumerate(zip(data_off.tolist(), caplen.tolist())):
            parts.append(hb[size * j: size * j + size])
            parts.append(buf[start: start + length])
            if pads is not None:
                parts.append(pads[j])
        self.out.write(b"".join(parts))
        self.records += n


_END = struct.pack("<HH", OPT_ENDOFOPT, 0)


def _option(code: int, value: bytes) -> bytes:
    """pcapng option (§3.5): code, length, value padded to 32 bits."""
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


def _block(block_type: int, body: bytes) -> bytes:
    """pcapng block (§3.1): type, total length, body padded to 32 bits, total length again."""
    body += bytes(-len(body) % 4)
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)
