"""reports.json.iso_time: the text datetime gives, built from a kept whole-second text (6.3 us -> 1.9 us a time)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from sipdiag.reports import json as json_report
from sipdiag.reports.json import iso_time


def _by_datetime(ts_ns: int) -> str | None:
    try:
        t = datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return t.isoformat(timespec="microseconds")


def test_iso_time_is_the_datetime_text_to_the_microsecond() -> None:
    rng = random.Random(7)
    edges = [0, 1, -1, 499, 500, 501, 1500, -500, -1500, 999_999_499, 999_999_500, 999_999_999, 10**9, -10**9,
             1_732_421_234_123_456_789, 2**63 - 1, -2**63, 253_402_300_799_999_999_000, 253_402_300_800 * 10**9]
    # around whole seconds (microsecond carries both ways), then anywhere
    near = [rng.randrange(1_700_000_000, 1_700_000_020) * 10**9 + rng.choice((-1, 1)) * rng.randrange(0, 2000)
            for _ in range(20_000)]
    anywhere = [rng.randrange(-2**62, 2**62) for _ in range(20_000)]
    for ts in edges + near + anywhere:
        assert iso_time(ts) == _by_datetime(ts), ts
    assert iso_time(None) is None
    assert iso_time(1_732_421_234_123_456_789) == "2024-11-24T04:07:14.123457+00:00"


def test_the_kept_second_texts_stay_bounded() -> None:
    for second in range(5000):
        iso_time(second * 10**9)
    assert 0 < len(json_report._SECOND_TEXT) <= 4096
