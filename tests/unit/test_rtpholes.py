"""sipdiag.rtpholes: the sequence numbers the capture missed, by extended sequence number, and the capture's loss
over a range of them (what an RTCP receiver's cumulative lost grows by between two reports, RFC 3550 A.3)."""

from __future__ import annotations

import dataclasses

import pytest

from sipdiag import rtpholes
from tests.unit.test_rtpstats import P, fold, only, voice


def holes_of(packets: list[P], splits: tuple[int, ...] = ()):
    result = fold(packets, splits)
    return only(result), result.holes_of(0)


def test_runs_and_the_loss_over_a_range():
    s, h = holes_of([p for p in voice(100) if p.seq not in {10, 20, 21, 22, 50}])
    assert (h.base, h.top, h.first.tolist(), h.count.tolist(), h.complete) == (0, 99, [10, 20, 50], [1, 3, 1], True)
    assert h.lost_between(h.base - 1, h.top) == s.lost == 5  # the whole stream: RFC 3550 A.3's figure
    assert (h.lost_between(15, 21), h.lost_between(21, 60), h.lost_between(50, 99), h.lost_between(22, 49)) == (
        2, 2, 0, 0)


def test_a_late_packet_fills_its_number_and_a_duplicate_does_not():
    packets = voice(10)
    packets[3], packets[4] = dataclasses.replace(packets[4], t_ms=60), dataclasses.replace(packets[3], t_ms=80)
    packets.insert(7, dataclasses.replace(packets[6], t_ms=packets[6].t_ms + 1))  # 5 arrives twice
    s, h = holes_of(packets)
    # 4 came before 3: a run of one at 3, then 3 made up for it; the second 5 is a duplicate, no fill
    assert (h.first.tolist(), h.count.tolist()) == ([3, 3], [rtpholes.FILL, 1])
    assert (s.lost, s.duplicates, h.lost_between(-1, 9), h.lost_between(2, 3)) == (0, 1, 0, 0)


def test_numbers_across_a_wrap_are_extended():
    s, h = holes_of([p for p in voice(8, seq0=65533) if p.seq != 65536])  # 65533..65540, 0 (65536) lost
    assert (h.base, h.top, h.first.tolist(), s.lost, h.lost_between(65535, 65536)) == (65533, 65540, [65536], 1, 1)


@pytest.mark.parametrize("splits", [(1,), (2, 3, 4, 5), tuple(range(7, 400, 37))], ids=["first-alone", "singles",
                                                                                      "every-37"])
def test_split_batches_give_the_holes_of_one_batch(splits):
    packets = [p for p in voice(400) if p.seq % 23 != 5]
    packets[100], packets[101] = packets[101], packets[100]
    packets.insert(200, dataclasses.replace(packets[199], t_ms=packets[199].t_ms + 0.5))
    assert fold(packets, splits).holes == fold(packets).holes


def test_a_full_store_marks_the_streams_it_could_not_keep(monkeypatch):
    monkeypatch.setattr(rtpholes, "MAX_HOLES", 3)
    lossy = [p for p in voice(100) if p.seq % 10 != 5]
    clean = [dataclasses.replace(p, ssrc=0x2222, sport=4002) for p in voice(100)]
    # the first batch (30 packets each) holds the runs at 5, 15 and 25; the second's 7 (35 ... 95) do not fit
    result = fold(sorted(lossy + clean, key=lambda p: p.t_ms), splits=(60,))
    (a, b) = (result.holes_of(i) for i in range(2))
    assert (a.complete, a.first.tolist(), b.complete, result.dropped["holes"]) == (False, [5, 15, 25], True, 7)
