"""sipdiag.streamgroups: a batch's RTP packets grouped by stream key, each stream's packets contiguous and in frame
order, whatever the hashes do (a clash in the 32 bits the radix sort orders by, a full 64-bit clash)."""

from __future__ import annotations

import numpy as np
import pytest

import sipdiag.streamgroups as sg
from sipdiag.parsers.columns import V4_MAPPED, RtpColumns

SSRC_SEARCH = 300_000  # keys hashed to find two streams whose hashes agree in their low 32 bits


def columns(keys: list[tuple[int, int, int, int, int]]) -> RtpColumns:
    """One packet per key (src IPv4, dst IPv4, src port, dst port, SSRC), frames 1..n."""
    n = len(keys)
    k = np.array(keys, dtype=np.int64).reshape(n, 5)
    zero = np.zeros(n, dtype=np.uint64)
    i32 = np.zeros(n, dtype=np.int32)
    return RtpColumns(frame=np.arange(1, n + 1), ts_ns=np.arange(n) * 20_000_000, src_hi=zero,
                      src_lo=k[:, 0].astype(np.uint64) | V4_MAPPED, dst_hi=zero.copy(),
                      dst_lo=k[:, 1].astype(np.uint64) | V4_MAPPED, src_port=k[:, 2].astype(np.int32),
                      dst_port=k[:, 3].astype(np.int32), marker=np.zeros(n, dtype=bool),
                      payload_type=np.zeros(n, dtype=np.int16), sequence=np.arange(n, dtype=np.int32),
                      timestamp=np.arange(n) * 160, ssrc=k[:, 4], payload_len=i32 + 160, packet_len=i32 + 172,
                      payload_word=np.zeros(n, dtype=np.int64))


def streams_of(keys: list[tuple]) -> list[list[int]]:
    """The frames of each group, groups in order of their first frame."""
    g = sg.group_streams(columns(keys))
    groups = [(g.order[s:s + c] + 1).tolist() for s, c in zip(g.starts, g.counts)]
    return sorted(groups)


def expected(keys: list[tuple]) -> list[list[int]]:
    by_key: dict[tuple, list[int]] = {}
    for frame, key in enumerate(keys, 1):
        by_key.setdefault(key, []).append(frame)
    return sorted(by_key.values())


def test_interleaved_streams_are_grouped_in_frame_order() -> None:
    a, b, c = (0x0A000001, 0x0A000002, 4000, 5000, 1), (0x0A000002, 0x0A000001, 5000, 4000, 2), \
        (0x0A000001, 0x0A000002, 4000, 5000, 3)  # c: a's addresses and ports, another SSRC
    keys = [a, b, a, c, b, a, c, c, b, a]
    assert streams_of(keys) == expected(keys) == [[1, 3, 6, 10], [2, 5, 9], [4, 7, 8]]


def test_streams_whose_hashes_share_their_low_32_bits() -> None:
    """The radix order looks at 32 bits of the hash: two streams agreeing there interleave in it, and are told
    apart by the full hash (such a pair is found here by hashing random keys)."""
    rng = np.random.default_rng(7)
    found = rng.integers(1, 1 << 32, size=(SSRC_SEARCH, 2))  # random source addresses and SSRCs
    keys = [(int(a), 0xCB007105, 40000, 50000, int(s)) for a, s in found]
    h = sg.stream_hash(sg.stream_key_columns(columns(keys)))
    low = h & np.uint64(0xFFFFFFFF)
    order = np.argsort(low, kind="stable")
    same = np.flatnonzero(low[order][1:] == low[order][:-1])
    assert len(same), "no clash among the keys searched"
    i, j = int(order[same[0]]), int(order[same[0] + 1])
    assert h[i] != h[j] and low[i] == low[j]
    x, y = keys[i], keys[j]
    keys = [x, y, x, y, y, x, (1, 2, 3, 4, 5), x]
    assert streams_of(keys) == expected(keys) == [[1, 3, 6, 8], [2, 4, 5], [7]]


def test_a_full_hash_clash_falls_back_to_exact_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sg, "_MIX", np.uint64(0))  # every key hashes to 0
    keys = [(1, 2, 3, 4, 5), (1, 2, 3, 4, 6), (1, 2, 3, 4, 5), (9, 2, 3, 4, 5), (1, 2, 3, 4, 6)]
    assert streams_of(keys) == expected(keys) == [[1, 3], [2, 5], [4]]
