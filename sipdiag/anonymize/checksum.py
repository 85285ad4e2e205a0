"""Internet checksum arithmetic (RFC 1071) and its incremental update (RFC 1624).

Checksums are updated, not recomputed: the update adds the difference between the old and the new bytes, so a
checksum that was right stays right, and one that was already wrong in the capture (checksum offload on the
capturing host) stays wrong by the same amount: the capture still tells what was on the wire.
"""

from __future__ import annotations

import sys


def ones_sum(data: bytes | bytearray | memoryview, odd: bool = False) -> int:
    """The 16-bit ones' complement sum of `data`; `odd` when it starts at an odd offset of the summed region."""
    if odd:
        data = b"\x00" + bytes(data)
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)) if len(data) <= 64 \
        else _sum_big(bytes(data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _sum_big(data: bytes) -> int:
    # The sum is independent of byte order (RFC 1071 §2 B): sum native 16-bit words in C, fold, and swap the
    # two bytes back on a little-endian machine.
    total = sum(memoryview(data).cast("H"))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    if sys.byteorder == "little":
        total = ((total & 0xFF) << 8) | (total >> 8)
    return total


def adjust(checksum: int, old_sum: int, new_sum: int) -> int:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), with m and m' the ones' complement sums of the old and new data."""
    total = (~checksum & 0xFFFF) + (~old_sum & 0xFFFF) + new_sum
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
