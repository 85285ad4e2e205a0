"""The clock test and the timestamp packet time of one RTP stream (sipdiag.rtpresult.RtpStreamStats), shared by
codec.timestamp-clock-mismatch and the E-model's packetization and discard rating (sipdiag.media)."""

from __future__ import annotations

from sipdiag.rtpresult import RtpStreamStats


def stream(**kw) -> RtpStreamStats:
    """A 10 s G.711 stream of 500 packets, 20 ms each, its timestamps at 8000 Hz; `kw` changes fields."""
    base = {f: 0 for f in RtpStreamStats._fields if f not in RtpStreamStats._field_defaults}
    base.update(src_ip="192.0.2.1", dst_ip="192.0.2.2", payload_types=(0,), codec="PCMU", clock_rate=8000,
                clock_source="static", duration_s=10.0, packets=500, expected=500, timestamp_span=499 * 160,
                media_sequence_span=499, rtp_like=True)
    base.update(kw)
    return RtpStreamStats(**base)


def test_a_stream_that_follows_its_clock() -> None:
    s = stream()
    assert round(s.clock_ratio, 3) == 0.998 and s.clock_fits
    assert s.timestamp_ptime_ms == 20.0


def test_a_16_khz_clock_under_an_8_khz_rtpmap_and_frozen_timestamps_do_not_fit() -> None:
    assert stream(timestamp_span=499 * 320).clock_ratio == 1.996
    assert not stream(timestamp_span=499 * 320).clock_fits
    # timestamps that never advance: the E-model then rates no late discards (they would all look late)
    assert stream(timestamp_span=0).clock_ratio == 0.0 and not stream(timestamp_span=0).clock_fits


def test_too_short_to_tell_or_gaps_in_the_talk() -> None:
    assert stream(packets=49).clock_ratio is None and stream(packets=49).clock_fits
    assert stream(duration_s=0.9).clock_ratio is None
    assert stream(clock_rate=0).clock_ratio is None and stream(clock_rate=0).timestamp_ptime_ms is None
    # talkspurts (two marker bits, RFC 3551 §4.1) stretch timestamps per packet beyond the packet time
    assert stream(markers=2).timestamp_ptime_ms is None
    assert stream(expected=1, media_sequence_span=0).timestamp_ptime_ms is None
