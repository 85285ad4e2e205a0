"""Routing RTP column batches to calls by their SDP endpoints (sipdiag.live): (address, port) -> the call that
announced it in an offer or answer, looked up for a whole batch at once.

Each endpoint is hashed into one uint64 and kept in a sorted table; a batch's destination and source endpoints are
hashed the same way and found with `searchsorted`, the full key compared to rule out hash collisions. Destination
first: RTP is sent to the address the receiver's SDP named; then source: a peer doing symmetric RTP (RFC 4961)
sends from the port its SDP named, to wherever the other side's packets came from (behind NAT, not the SDP's).
"""

from __future__ import annotations

import ipaddress

import numpy as np

from .parsers.columns import RtpColumns


def address_key(ip: str) -> tuple[int, int] | None:
    """An address as the RTP columns hold it: (hi, lo) of its 128-bit form, IPv4 mapped (RFC 4291 §2.5.5.2)."""
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return None
    value = int(a) | (0xFFFF << 32) if a.version == 4 else int(a)
    return value >> 64, value & 0xFFFFFFFFFFFFFFFF


_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9)


def _endpoint_hash(hi: np.ndarray, lo: np.ndarray, port: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return (hi * _M1) ^ (lo * _M2) ^ (port.astype(np.uint64) * _M3)


class RtpRouter:
    """(address, port) -> active call slot, looked up for whole RTP batches at once."""

    def __init__(self) -> None:
        self.owner: dict[tuple[int, int, int], int] = {}
        self._dirty = True
        self._hash = np.empty(0, np.uint64)
        self._keys = np.empty((0, 3), np.uint64)
        self._slots = np.empty(0, np.int64)

    def set(self, key: tuple[int, int, int], slot: int) -> None:
        if self.owner.get(key) != slot:
            self.owner[key] = slot
            self._dirty = True

    def drop(self, key: tuple[int, int, int], slot: int) -> None:
        if self.owner.get(key) == slot:
            del self.owner[key]
            self._dirty = True

    def _table(self) -> None:
        keys = np.array(list(self.owner), dtype=np.uint64).reshape(-1, 3)
        h = _endpoint_hash(keys[:, 0], keys[:, 1], keys[:, 2])
        order = np.argsort(h)
        self._hash, self._keys = h[order], keys[order]
        self._slots = np.fromiter(self.owner.values(), np.int64, len(self.owner))[order]
        self._dirty = False

    def route(self, rtp: RtpColumns) -> np.ndarray:
        """The slot of each packet (by destination, else by source), -1 where no call claims it."""
        if self._dirty:
            self._table()
        out = np.full(len(rtp), -1, np.int64)
        if not len(self._hash):
            return out
        for hi, lo, port in ((rtp.dst_hi, rtp.dst_lo, rtp.dst_port), (rtp.src_hi, rtp.src_lo, rtp.src_port)):
            h = _endpoint_hash(hi, lo, port)
            pos = np.minimum(np.searchsorted(self._hash, h), len(self._hash) - 1)
            k = self._keys[pos]
            hit = ((self._hash[pos] == h) & (k[:, 0] == hi) & (k[:, 1] == lo)
                   & (k[:, 2] == port.astype(np.uint64)) & (out < 0))
            out[hit] = self._slots[pos[hit]]
        return out

    def lookup(self, ip: str, port: int) -> int | None:
        key = address_key(ip)
        return self.owner.get((key[0], key[1], port)) if key else None


def take_rows(rtp: RtpColumns, idx: np.ndarray) -> RtpColumns:
    """The rows `idx` of every column."""
    return RtpColumns(**{name: None if (col := getattr(rtp, name)) is None else col[idx]
                         for name in RtpColumns.__slots__})
