"""sipdiag.rtpstats: the column-wise RTP statistics engine on hand-built packet sequences, with exact values.

Every figure here is worked out by hand from RFC 3550 (A.1, A.3, §6.4.1), RFC 4733 and Wireshark 4.0's RTP
analysis (ui/tap-rtp-analysis.c); the corpus test compares the same engine with tshark itself.
"""

from __future__ import annotations

import dataclasses
import itertools
import struct

import numpy as np
import pytest

from sipdiag.model import Datagram
from sipdiag.parsers.columns import RtpColumns
from sipdiag.rtcp import RtcpTracker, parse_rtcp
from sipdiag.rtpptcount import pt_counts
from sipdiag.rtpstats import RtpStatsEngine
from sipdiag.segments import recurrence

T0 = 1_700_000_000_000_000_000
V4 = 0xFFFF00000000
A, B = V4 | 0xC0A8010A, V4 | 0xCB007105  # 192.168.1.10, 203.0.113.5


@dataclasses.dataclass
class P:
    """One packet: arrival (ms after T0), sequence number, timestamp and the rest."""

    t_ms: float
    seq: int
    ts: int
    pt: int = 0
    marker: bool = False
    ssrc: int = 0x1111
    sport: int = 4000
    dport: int = 5000
    src: int = A
    dst: int = B
    payload_len: int = 160
    word: int = 0


def columns(packets: list[P], first_frame: int = 1) -> RtpColumns:
    n = len(packets)

    def col(f, dtype):
        return np.array([f(p) for p in packets], dtype=dtype)

    return RtpColumns(
        frame=np.arange(first_frame, first_frame + n, dtype=np.int64),
        ts_ns=col(lambda p: T0 + round(p.t_ms * 1e6), np.int64),
        src_hi=np.zeros(n, np.uint64), src_lo=col(lambda p: p.src, np.uint64),
        dst_hi=np.zeros(n, np.uint64), dst_lo=col(lambda p: p.dst, np.uint64),
        src_port=col(lambda p: p.sport, np.int32), dst_port=col(lambda p: p.dport, np.int32),
        marker=col(lambda p: p.marker, bool), payload_type=col(lambda p: p.pt, np.int16),
        sequence=col(lambda p: p.seq & 0xFFFF, np.int32), timestamp=col(lambda p: p.ts & 0xFFFFFFFF, np.int64),
        ssrc=col(lambda p: p.ssrc, np.int64), payload_len=col(lambda p: p.payload_len, np.int32),
        packet_len=col(lambda p: p.payload_len + 12, np.int32), payload_word=col(lambda p: p.word, np.int64),
    )


def fold(packets: list[P], splits: tuple[int, ...] = (), datagrams: tuple[Datagram, ...] = (),
         **finalize) -> object:
    """Run the engine over the packets, cut into batches at `splits` (packet indices)."""
    engine = RtpStatsEngine()
    for d in datagrams:
        engine.add_datagram(d)
    bounds = [0, *splits, len(packets)]
    for a, z in itertools.pairwise(bounds):
        if z > a:
            engine.add(columns(packets[a:z], first_frame=a + 1))
    return engine.finalize(**finalize)


def only(result):
    assert len(result.streams) == 1
    return result.streams[0]


def voice(n: int, *, seq0: int = 0, ts0: int = 0, pt: int = 0, step_ts: int = 160, ptime: float = 20.0,
          **kw) -> list[P]:
    return [P(i * ptime, seq0 + i, ts0 + i * step_ts, pt, **kw) for i in range(n)]


# ------------------------------------------------------------------------------------------------ basics


def test_clean_stream():
    s = only(fold(voice(50)))
    assert (s.packets, s.expected, s.lost, s.lost_wireshark, s.duplicates, s.out_of_order) == (50, 50, 0, 0, 0, 0)
    assert (s.max_delta_ms, s.max_delta_frame, s.jitter_max_ms, s.jitter_mean_ms) == (20.0, 2, 0.0, 0.0)
    assert (s.codec, s.clock_rate, s.clock_source, s.payload_types) == ("PCMU", 8000, "static", (0,))
    assert (s.first_frame, s.last_frame, s.start_ns, s.duration_s) == (1, 50, T0, 0.98)
    assert s.bytes == 50 * 172
    # IP level: (172 + 8 + 20) * 8 bits * 50 packets over 0.98 s
    assert s.bitrate_kbps == pytest.approx(50 * 200 * 8 / 0.98 / 1000)
    assert (s.late_50ms, s.late_200ms, s.late_adaptive, s.rtp_like) == (0, 0, 0, True)


def test_jitter_is_the_wireshark_wiki_example():
    # Wireshark wiki "RTP statistics": PCMA, arrivals .348411, .418358, .421891 s, timestamps 1240, 1400, 1560.
    # D(0,1) = 69.947 - 20 = 49.947 ms -> J1 = 49.947 / 16; D(1,2) = |3.533 - 20| = 16.467 -> J2 = (15 J1 + D) / 16
    packets = [P(348.411, 1, 1240, 8), P(418.358, 2, 1400, 8), P(421.891, 3, 1560, 8)]
    s = only(fold(packets))
    j1 = 49.947 / 16
    j2 = (15 * j1 + 16.467) / 16
    assert j1 == pytest.approx(3.1216875) and j2 == pytest.approx(3.95576953125)
    assert s.jitter_max_ms == pytest.approx(j2, abs=1e-9)
    assert s.jitter_last_ms == pytest.approx(j2, abs=1e-9)
    # Wireshark's running mean over the regular packets: (J1 * 0 + J1) / 1, then (M * 1 + J2) / 2
    assert s.jitter_mean_ms == pytest.approx((j1 + j2) / 2, abs=1e-9)
    assert s.max_delta_ms == pytest.approx(69.947, abs=1e-9) and s.max_delta_frame == 2


def test_recurrence_blocks_equal_the_loop():
    rng = np.random.default_rng(7)
    b = rng.random(1000) * 10
    y, acc = np.empty(1000), 0.0
    for k in range(1000):
        acc = 15 / 16 * acc + b[k]
        y[k] = acc
    assert np.allclose(recurrence(b, 15 / 16), y, rtol=1e-13, atol=0)


# ------------------------------------------------------------------------------------------------ sequence


def test_sequence_wrap():
    s = only(fold(voice(6, seq0=65533)))
    assert (s.packets, s.expected, s.lost, s.lost_wireshark) == (6, 6, 0, 0)


def test_loss_runs_and_burst_ratio():
    missing = {10, 20, 21, 22, 50}
    s = only(fold([p for p in voice(100) if p.seq not in missing]))
    assert (s.packets, s.expected, s.lost, s.lost_wireshark, s.loss_pct) == (95, 100, 5, 5, 5.0)
    assert (s.loss_runs, s.loss_run_max) == (3, 3)
    # G.107 two-state model: p = runs / received = 3/95, q = runs / lost = 3/5, BurstR = 1 / (p + q) = 95/60
    assert s.burst_ratio == pytest.approx(95 / 60)


def test_duplicate_is_not_a_received_packet():
    packets = voice(10)
    packets.insert(6, dataclasses.replace(packets[5], t_ms=packets[5].t_ms + 1))
    s = only(fold(packets))
    # Wireshark counts the duplicate as received: lost = expected - packets = 10 - 11
    assert (s.packets, s.expected, s.lost, s.duplicates, s.out_of_order, s.lost_wireshark) == (11, 10, 0, 1, 0, -1)


def test_reordered_packet():
    packets = voice(10)
    packets[3], packets[4] = dataclasses.replace(packets[4], t_ms=60), dataclasses.replace(packets[3], t_ms=80)
    s = only(fold(packets))
    assert (s.lost, s.out_of_order, s.duplicates, s.lost_wireshark) == (0, 1, 0, 0)
    assert s.loss_runs == 1  # the gap opened when 4 came before 3 (runs count gaps in arrival order)


def test_max_dropout_restart():
    # RFC 3550 A.1: 20000 is a jump of more than MAX_DROPOUT: not counted, bad_seq = 20001; 20001 follows it:
    # the sender restarted, a new epoch starts at 20001 (expected 20001..20009 = 9).
    packets = voice(10) + [P(200 + 20 * i, 20000 + i, 1600 + 160 * i) for i in range(10)]
    s = only(fold(packets))
    assert (s.packets, s.expected, s.lost, s.sequence_restarts, s.sequence_jumps) == (20, 19, 0, 1, 1)
    assert s.lost_wireshark == 20009 - 0 + 1 - 20  # Wireshark takes the jump for 19990 lost packets


@pytest.mark.parametrize("splits", [(), (300,), (301,), (320,), (150, 450)])
def test_restart_with_the_same_numbers_has_no_duplicates_whatever_the_batches(splits):
    """The sender restarts at the numbers it began with (a capture concatenated with itself): A.1 takes the first
    for a jump and the second for a restart. The new epoch's numbers are no copies of the old epoch's: within one
    batch they were matched against them (100 duplicates, and as many lost), across batches only the window was."""
    packets = voice(300) + voice(300, ts0=48_000)
    for i, p in enumerate(packets[300:]):
        p.t_ms = 6000 + i * 20.0
    s = only(fold(packets, splits))
    assert (s.packets, s.expected, s.lost, s.duplicates, s.out_of_order) == (600, 599, 0, 0, 0)
    assert (s.sequence_restarts, s.sequence_jumps) == (1, 1)


@pytest.mark.parametrize("splits", [(), (150,), (181,)])
@pytest.mark.parametrize(("behind", "dups"), [(40, 1), (80, 0)])
def test_duplicate_window_is_the_same_within_and_across_batches(splits, behind, dups):
    """A copy of a number `behind` the highest: a duplicate when less than WINDOW (64) behind, else a late packet,
    in one batch as across batches (in one batch any repeat was a duplicate, across batches only the window's)."""
    packets = voice(200)
    packets.insert(181, dataclasses.replace(packets[180 - behind], t_ms=packets[180].t_ms + 1))
    s = only(fold(packets, splits))
    assert (s.packets, s.duplicates, s.out_of_order, s.lost) == (201, dups, 1 - dups, 0)


def test_late_beyond_max_misorder_is_a_jump_not_a_duplicate():
    packets = voice(201)
    packets.insert(200, P(3999, 50, 50 * 160))  # 150 behind the highest: A.1 ignores it
    s = only(fold(packets))
    assert (s.packets, s.expected, s.lost, s.sequence_jumps, s.duplicates, s.sequence_restarts) == (202, 201, 0, 1, 0, 0)


def test_wireshark_counts_to_the_last_packet_not_the_highest():
    packets = voice(10) + [P(200, 5, 800)]  # a late duplicate of 5 arrives last
    s = only(fold(packets))
    assert (s.lost, s.duplicates) == (0, 1)
    assert s.lost_wireshark == (5 - 0 + 1) - 11  # expected from the last packet's number


# ------------------------------------------------------------------------------------------------ timing


def test_marker_and_comfort_noise_stay_out_of_max_delta():
    packets = voice(10)
    packets += [P(200 + 500, 10, 1600 + 4000, marker=True)]  # talkspurt after 0.5 s of silence (DTX)
    packets += [P(720, 11, 5760, pt=13, payload_len=1)]  # comfort noise
    packets += [P(900, 12, 7200)]  # the packet after CN
    packets += [P(920, 13, 7360)]
    s = only(fold(packets))
    assert s.max_delta_ms == pytest.approx(20.0) and s.markers == 1
    assert (s.arrival_gap_ms, s.arrival_gap_frame) == (20.0, 2)  # the same silences are no arrival gap
    assert s.payload_types == (0, 13) and s.payload_type_changes == 0  # CN switches are not codec changes


def restarted_timestamps(n: int = 150, restart: int = 50, offset_ms: float = 0.0, **kw) -> list[P]:
    """A 20 ms stream (packet i at 20 i ms + offset) whose timestamps start at 8000 and restart at 0 at packet
    `restart`, as a Cisco gateway's do after a refused switch to T.38: the 50 packets from there are stamped before
    the stream's first (Wireshark's "wrong timestamp"), the one after them is in sequence again."""
    return [P(i * 20.0 + offset_ms, i, 8000 + i * 160 if i < restart else (i - restart) * 160, **kw)
            for i in range(n)]


@pytest.mark.parametrize("splits", [(), (50,), (1, 75, 100), (99, 100, 101)])
def test_packets_stamped_before_the_first_make_max_delta_but_no_arrival_gap(splits):
    """Wireshark's max delta runs from the last packet in time sequence (packet 49, frame 50) to the next one
    (packet 100, frame 101) across the 50 packets stamped before the first: 1020 ms, which tshark shows and we keep.
    They all arrived 20 ms apart: the arrival gap is 20 ms (first at frame 2). Before, media.burst-loss took the
    max delta for an audio hole (FAX-Call-t38-CA-TDM-SIP-FB-1.pcap: "an arrival gap of 9200 ms")."""
    s = only(fold(restarted_timestamps(), splits))
    assert (s.wrong_timestamps, s.max_delta_ms, s.max_delta_frame) == (50, pytest.approx(1020.0), 101)
    assert (s.arrival_gap_ms, s.arrival_gap_frame) == (20.0, 2)


def hole_with_keepalives_and_a_dtx_silence() -> list[P]:
    """20 ms voice, 580 to 900 ms without media but three RFC 6263 keep-alives (empty, taking sequence numbers);
    voice to 1180 ms, comfort noise at 1200 ms, 1 s of silence, a marked talkspurt from 2200 ms."""
    packets = [P(i * 20.0, i, i * 160) for i in range(30)]
    packets += [P(t, seq, 4640, payload_len=0) for seq, t in ((30, 620.0), (31, 720.0), (32, 820.0))]
    packets += [P(i * 20.0, i - 12, i * 160) for i in range(45, 60)]
    packets += [P(1200.0, 48, 9600, pt=13, payload_len=1)]
    packets += [P(i * 20.0, i - 61, i * 160, marker=i == 110) for i in range(110, 130)]
    return packets


@pytest.mark.parametrize("splits", [(), (30,), (31, 32, 33), (33,), (48, 49), tuple(range(1, 69))],
                         ids=["one", "at-keepalives", "keepalives-alone", "at-gap-end", "at-cn", "every-packet"])
def test_arrival_gap_across_batches(splits):
    """The interval between consecutive packets of media in arrival order, carried from batch to batch (the batch
    cut at the keep-alives, at the packet that ends the gap, after the comfort noise, or one batch per packet):
    the 320 ms from 580 ms (frame 30) to 900 ms (frame 34). Keep-alives are sent because no media flows (RFC 6263),
    so they fill no hole, where max delta counts them (100 ms); the silence after comfort noise and before a marked
    packet is none (RFC 3389, RFC 3551 §4.1)."""
    s = only(fold(hole_with_keepalives_and_a_dtx_silence(), splits))
    assert (s.packets, s.keepalives, s.lost, s.markers) == (69, 3, 0, 1)
    assert (s.arrival_gap_ms, s.arrival_gap_frame) == (320.0, 34)
    assert (s.max_delta_ms, s.max_delta_frame) == (pytest.approx(100.0), 32)


def test_wrong_timestamp_and_timestamp_jump():
    packets = voice(20)
    packets[10] = dataclasses.replace(packets[10], ts=(packets[0].ts - 5000) & 0xFFFFFFFF)  # before the first
    s = only(fold(packets))
    assert s.wrong_timestamps == 1
    jumped = voice(10) + [P(200 + 20 * i, 10 + i, 1600 + 8000 * 60 + 160 * i) for i in range(10)]
    s = only(fold(jumped))
    # one minute of timestamps in 20 ms: D = 60 s once; the jitter buffers resynchronise there
    assert (s.timestamp_jumps, s.jitter_buffer_resyncs, s.late_50ms) == (1, 1, 0)


def test_g722_counts_8000():
    s = only(fold(voice(20, pt=9)))
    assert (s.codec, s.clock_rate, s.jitter_max_ms) == ("G722", 8000, 0.0)


# ------------------------------------------------------------------------------------------------ jitter buffers


def test_jitter_buffers_discard_late_packets():
    packets = voice(50)
    packets[10] = dataclasses.replace(packets[10], t_ms=packets[10].t_ms + 100)  # 100 ms late
    packets[30] = dataclasses.replace(packets[30], t_ms=packets[30].t_ms + 60)  # 60 ms late
    packets.sort(key=lambda p: p.t_ms)
    s = only(fold(packets))
    # fixed 50 ms: both late; fixed 200 ms: none; adaptive: the first (target 20 ms) is late and raises the
    # target to 110 ms, which has decayed to 110 - 0.01 * (660 - 300) = 106.4 ms when the second arrives
    assert (s.late_50ms, s.late_200ms, s.late_adaptive) == (2, 0, 1)
    assert (s.lost, s.out_of_order) == (0, 2)
    assert (s.effective_loss_pct_50ms, s.effective_loss_pct_200ms, s.effective_loss_pct_adaptive) == (4.0, 0.0, 2.0)


# ------------------------------------------------------------------------------------------------ clocks


SDP = (
    "INVITE sip:b@203.0.113.5 SIP/2.0\r\nContent-Type: application/sdp\r\n\r\n"
    "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n"
)


def sip(text: str) -> Datagram:
    return Datagram(1, T0, "192.168.1.10", 5060, "203.0.113.5", 5060, "udp", text.encode())


def opus(n: int = 200, seed: int = 3) -> list[P]:
    rng = np.random.default_rng(seed)
    return [P(20 * i + float(rng.normal(0, 2)), i, 960 * i, 111, payload_len=60) for i in range(n)]


def test_dynamic_clock_from_sdp_unknown_candidates_and_caller():
    with_sdp = only(fold(opus(), datagrams=(sip(SDP),)))
    assert (with_sdp.codec, with_sdp.clock_rate, with_sdp.clock_source) == ("opus", 48000, "sdp")
    assert with_sdp.jitter_mean_ms > 0.5
    unknown = only(fold(opus(), infer_clocks=False))  # as tshark without the SDP: no clock, no jitter
    assert (unknown.clock_rate, unknown.clock_source, unknown.jitter_max_ms, unknown.jitter_mean_ms) == (
        None, "none", 0.0, 0.0)
    inferred = only(fold(opus()))  # 960 ticks per 20 ms: 48 kHz
    caller = only(fold(opus(), clock_for=lambda *key: 48000))
    for s, how in ((inferred, "inferred"), (caller, "caller")):
        assert (s.clock_rate, s.clock_source) == (48000, how)
        assert (s.jitter_mean_ms, s.jitter_max_ms, s.jitter_last_ms) == pytest.approx(
            (with_sdp.jitter_mean_ms, with_sdp.jitter_max_ms, with_sdp.jitter_last_ms), rel=1e-12)


def test_candidates_start_from_the_state_before_the_first_dynamic_packet():
    packets = voice(20, ptime=20) + [P(400 + 20 * i + (i % 3), 20 + i, 19200 + 960 * i, 111) for i in range(40)]
    known = only(fold(packets, datagrams=(sip(SDP),)))
    guessed = only(fold(packets, splits=(7, 20, 33), clock_for=lambda *key: 48000))
    assert guessed.jitter_mean_ms == pytest.approx(known.jitter_mean_ms, rel=1e-12)
    assert guessed.jitter_max_ms == pytest.approx(known.jitter_max_ms, rel=1e-12)


# ------------------------------------------------------------------------------------------------ DTMF


def event(digit: int, end: bool, volume: int, duration: int) -> int:
    return digit << 24 | (0x80 if end else 0) << 16 | volume << 16 | duration


def dtmf_call() -> list[P]:
    packets = voice(10, pt=111, step_ts=960)
    ts = 9600
    for i, (end, duration) in enumerate([(False, 960), (False, 1920), (False, 2880), (False, 3840),
                                         (True, 4800), (True, 4800), (True, 4800)]):
        packets.append(P(200 + 20 * i, 10 + i, ts, 101, marker=i == 0, payload_len=4,
                         word=event(5, end, 10, duration)))
    return packets


def test_rfc4733_event_named_by_the_sdp():
    result = fold(dtmf_call(), datagrams=(sip(SDP),))
    (e,) = result.dtmf
    assert (e.digit, e.event, e.start_frame, e.end_frame, e.end_seen, e.end_retransmits) == ("5", 5, 11, 15, True, 2)
    assert (e.duration_ms, e.volume_dbm0, e.packets, e.heuristic) == (100.0, 10, 7, False)  # 4800 / 48 kHz
    s = only(result)
    assert (s.codec, s.payload_types, s.payload_type_changes) == ("opus", (101, 111), 1)
    assert result.payload_type_changes == ((0, 11, 111, 101),)


def test_rfc4733_event_by_its_shape_without_sdp():
    (e,) = fold(dtmf_call()).dtmf
    # no SDP: the 4-octet payloads of a dynamic type are taken for events; their clock defaults to 8000
    assert (e.digit, e.end_retransmits, e.heuristic, e.duration_ms) == ("5", 2, True, 600.0)


def test_event_without_end():
    packets = [P(20 * i, i, 0, 101, payload_len=4, word=event(11, False, 3, 160 * (i + 1))) for i in range(4)]
    (e,) = fold(packets).dtmf
    assert (e.digit, e.end_seen, e.end_frame, e.duration_ms) == ("#", False, None, 80.0)


BV32_SDP = SDP.replace("111 101", "107").replace("a=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/48000",
                                                 "a=rtpmap:107 BV32/16000")


def test_keepalives_of_an_unnamed_type_in_event_shape_leave_the_stream_its_codec():
    """eyeBeam (Wireshark's testing.ext.pcap): BV32 named by the SDP, then RFC 6263 §4.6 keep-alives of payload
    type 126, which nobody named, with 4 zero octets: an RFC 4733 event's shape (digit 0, duration 0, no end), so
    their type was taken for an unnamed codec whose clock decides the stream's: codec None, clock None."""
    packets = voice(10, pt=107, step_ts=320) + [P(1200 + 1000 * k, 10 + k, 0, 126, payload_len=4) for k in range(3)]
    s = only(fold(packets, datagrams=(sip(BV32_SDP),)))
    assert (s.payload_types, s.codec, s.clock_rate, s.clock_source, s.packets, s.keepalives) == (
        (107, 126), "BV32", 16000, "sdp", 13, 3)
    assert fold(packets, datagrams=(sip(BV32_SDP),)).dtmf == ()


def test_keepalives_before_and_after_the_media_are_outside_its_span():
    """An empty RTP packet (RFC 6263 §4.6) 5 s before 1 s of PCMU, then eyeBeam's 4-octet keep-alives of type 126
    every 15 s for 45 s more: the stream on the wire spans 51 s (frames 1-55, as tshark lists it), its media 0.98 s
    (frames 2-51). Over 51 s its 50 packets of 200 octets at IP level (172 of RTP, 28 of UDP/IPv4) made 1.6 kbit/s
    instead of G.711's 80, and the packet time was read over 54 sequence steps instead of 49."""
    packets = [P(0, 0, 0, payload_len=0)] + [P(5000 + 20 * i, 1 + i, 160 * i) for i in range(50)] + [
        P(6000 + 15000 * k, 51 + k, 0, 126, payload_len=4) for k in range(4)]
    s = only(fold(packets))
    assert (s.packets, s.keepalives, s.media_packets, s.expected, s.lost, s.codec) == (55, 5, 50, 55, 0, "PCMU")
    assert (s.first_frame, s.last_frame, s.start_ns, s.end_ns) == (1, 55, T0, T0 + 51 * 10**9)
    assert (s.duration_s, round(s.bitrate_kbps, 4), s.timestamp_span, s.timestamp_ptime_ms) == (
        0.98, round(50 * 200 * 8 / 0.98 / 1000, 4), 49 * 160, 20.0)
    assert (s.media_first_frame, s.media_last_frame, s.media_start_ns, s.media_end_ns) == (
        2, 51, T0 + 5 * 10**9, T0 + 5980 * 10**6)
    assert (s.media_sequence_span, round(s.arrival_ptime_ms, 9)) == (49, 20.0)
    split = only(fold(packets, splits=(1, 2, 30, 51, 53)))  # the span carried from batch to batch
    assert split[split._fields.index("media_first_frame"):] == s[s._fields.index("media_first_frame"):]
    assert (split.duration_s, split.bitrate_kbps, split.timestamp_span) == (s.duration_s, s.bitrate_kbps, 49 * 160)


def test_real_events_of_an_unnamed_type_are_in_the_media_span():
    """A key press at the end of the media, of a type no SDP named (taken for an RFC 4733 event by its shape, and it
    lasted and ended): events are no keep-alives, so the span runs to its last packet. Its packets all carry the
    event's start timestamp (RFC 4733 §2.3.1)."""
    packets = voice(50) + [P(1000 + 20 * j, 50 + j, 8000, 101, payload_len=4, word=event(5, j >= 4, 10, 160 * (j + 1)))
                           for j in range(7)]
    s = only(fold(packets))
    assert (s.packets, s.keepalives, s.duration_s, s.timestamp_span) == (57, 0, 1.12, 8000)
    assert round(s.bitrate_kbps, 4) == round((50 * 200 + 7 * 44) * 8 / 1.12 / 1000, 4)
    assert (s.media_first_frame, s.media_last_frame, s.media_sequence_span) == (1, 57, 56)
    assert only(fold(packets, splits=(50, 53)))[-5:] == s[-5:]  # the event's packets in two batches


def test_a_stream_of_keepalives_alone_has_no_media_span():
    s = only(fold([P(15000 * k, k, 0, 126, payload_len=k % 2 * 4) for k in range(4)]))
    assert (s.packets, s.keepalives, s.media_packets, s.first_frame, s.last_frame) == (4, 4, 0, 1, 4)
    assert (s.duration_s, s.bitrate_kbps, s.timestamp_span) == (0.0, 0.0, 0)
    assert (s.media_first_frame, s.media_last_frame, s.media_start_ns, s.media_sequence_span) == (None, None, None, 0)
    assert (s.timestamp_ptime_ms, s.arrival_ptime_ms) == (None, None)


def test_unnamed_events_leave_a_static_stream_its_codec():
    """PCMU with RFC 4733 events of a type no SDP named (taken for events by their shape): the stream is PCMU at
    8 kHz, as tshark names it; the events' type decided the clock and left it without codec or clock."""
    packets = voice(10) + [P(200 + 20 * i, 10 + i, 1600, 101, payload_len=4, word=event(5, i >= 4, 10, 160 * (i + 1)))
                           for i in range(7)] + [P(340 + 20 * i, 17 + i, 2720 + 160 * i) for i in range(10)]
    result = fold(packets)
    s = only(result)
    assert (s.payload_types, s.codec, s.clock_rate, s.clock_source) == ((0, 101), "PCMU", 8000, "static")
    assert [(e.digit, e.heuristic) for e in result.dtmf] == [("5", True)]


# ------------------------------------------------------------------------------------------------ main payload type

NSE_194 = event(194, True, 0, 0)  # Cisco NSE 194 (back to voice) with the end bit: 0xC2800000, as on the wire


def pcma(n: int, seq0: int, t0: float) -> list[P]:
    return [P(t0 + 20 * i, seq0 + i, 160 * (seq0 + i), 8) for i in range(n)]


@pytest.mark.parametrize("splits", [(), (1,), (2, 3, 4, 40)], ids=["one-batch", "first-alone", "singles"])
@pytest.mark.parametrize(("first", "payload_len", "word"), [(100, 4, NSE_194), (99, 20, 0)], ids=["nse", "red"])
def test_a_few_packets_of_another_type_first_leave_the_stream_its_codec(splits, first, payload_len, word):
    """Three packets of a type nobody named, then 60 of PCMA: the stream is PCMA at 8 kHz, as tshark names its
    payload, and MOS has a codec. Wireshark's FAX-Call-t38-CA-TDM-SIP-FB-1.pcap: a Cisco gateway's NSE 194 (PT 100,
    sent three times) at the fax tone; ndpi's fuzz-2006-06-26-2594.pcap: an RFC 2198 RED packet of PT 99. The first
    unnamed type with a packet not in a DTMF event's shape was the main one: no codec, no clock."""
    packets = [P(20 * k, k, 0, first, payload_len=payload_len, word=word) for k in range(3)] + pcma(60, 3, 60)
    result = fold(packets, splits)
    s = only(result)
    assert (s.payload_type, s.payload_types, s.codec, s.clock_rate, s.clock_source) == (
        first, (8, first), "PCMA", 8000, "static")
    assert (s.packets, s.keepalives, result.dtmf) == (63, 0, ())  # an NSE is no DTMF event, nor a keep-alive


NSE_SDP = SDP.replace("111 101\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/48000",
                      "8 100\r\na=rtpmap:100 X-NSE/8000\r\na=fmtp:100 192-194,200-202")


@pytest.mark.parametrize("datagrams", [(), (sip(NSE_SDP),)], ids=["by-shape", "named-x-nse"])
def test_cisco_nse_are_never_the_codec(datagrams):
    """Six Cisco NSE packets (192 at a fax tone, then 194, each sent three times), then four of PCMA: NSE are
    in-band signals in RFC 2833's layout (IANA audio/vnd.cisco.nse), not media, however many: PCMA."""
    nse = [P(20 * k, k, 0, 100, payload_len=4, word=event(192 if k < 3 else 194, True, 0, 0)) for k in range(6)]
    result = fold(nse + pcma(4, 6, 120), datagrams=datagrams)
    s = only(result)
    assert (s.payload_types, s.codec, s.clock_rate, s.clock_source, result.dtmf) == (
        (8, 100), "PCMA", 8000, "static", ())


def test_the_codec_is_the_type_with_most_media_packets_not_the_first():
    """5 packets of PCMU, then 40 of PCMA (an SSRC kept across a codec change): PCMA. Comfort noise (RFC 3389),
    however many its packets, and RFC 4733 events named by the SDP never are the codec."""
    packets = voice(5) + pcma(40, 5, 100)
    assert (only(fold(packets)).codec, only(fold(packets, (3, 7))).codec) == ("PCMA", "PCMA")
    silence = voice(5) + [P(100 + 20 * i, 5 + i, 800 + 160 * i, 13, payload_len=1) for i in range(50)]
    assert (only(fold(silence)).payload_types, only(fold(silence)).codec) == ((0, 13), "PCMU")
    events = [P(20 * i, i, 0, 101, payload_len=4, word=event(5, i >= 30, 10, 960 * (i + 1))) for i in range(33)]
    opus_after = [P(700 + 20 * i, 33 + i, 960 * i, 111, payload_len=60) for i in range(10)]
    s = only(fold(events + opus_after, datagrams=(sip(SDP),)))
    assert (s.payload_types, s.codec, s.clock_rate, s.clock_source) == ((101, 111), "opus", 48000, "sdp")


def test_packets_per_payload_type_are_a_bounded_table():
    """The first four types a stream carried media under get a slot (in the order of their first packet of media),
    the packets of any later type are counted together; empty packets (RFC 6263 keep-alives) and event-shaped ones
    of an unnamed type count for none. The same counts whatever the batches."""
    types = [0, 0, 3, 96, 0, 8, 18, 9, 9, 4, 0, 96, 8, 8]
    packets = [P(10 * i, i, 80 * i, pt, payload_len=40) for i, pt in enumerate(types)]
    packets.insert(2, P(15, 100, 0, 0, payload_len=0))  # a keep-alive of PCMU's type, and an event's shape:
    packets.insert(4, P(25, 101, 0, 97, payload_len=4, word=event(1, False, 10, 160)))
    for splits in ((), (1,), (3, 4, 5, 9, 12), tuple(range(1, 16))):
        engine = RtpStatsEngine()
        for a, z in itertools.pairwise([0, *splits, len(packets)]):
            engine.add(columns(packets[a:z], first_frame=a + 1))
        assert pt_counts(engine.table.cols, 0) == {0: 4, 3: 1, 96: 2, 8: 3}, splits
        assert engine.table.cols["pt_other"][0] == 4, splits  # 18, 9, 9, 4


# ------------------------------------------------------------------------------------------------ batches


def rich_stream(seed: int = 11) -> list[P]:
    """Wrap, loss, a duplicate, reordering, markers, comfort noise, events, a restart and jittery arrivals."""
    rng = np.random.default_rng(seed)
    packets = []
    seq, ts = 65400, 4_294_960_000
    t = 0.0
    for i in range(600):
        t += 20 + float(rng.normal(0, 3))
        if i in (100, 101, 102, 333):  # lost
            seq, ts = seq + 1, ts + 160
            continue
        if i == 400:  # sender restart
            seq += 30000
        pt, marker, word, plen, stamp = 0, i % 97 == 0, 0, 160, ts
        if 200 <= i < 206:  # an event: its packets keep the timestamp of its start (RFC 4733 §2.3.1)
            pt, word, plen, stamp = 101, event(7, i >= 204, 9, 160 * (i - 199)), 4, ts - 160 * (i - 200)
        if 250 <= i < 253:
            pt, plen = 13, 1
        packets.append(P(t, seq, stamp, pt, marker, payload_len=plen, word=word))
        if i == 150:
            packets.append(dataclasses.replace(packets[-1], t_ms=t + 0.5))  # duplicate
        seq, ts = seq + 1, ts + 160
    packets[300], packets[301] = packets[301], packets[300]  # reordered
    packets[300].t_ms, packets[301].t_ms = packets[301].t_ms, packets[300].t_ms
    other = [dataclasses.replace(p, ssrc=0x2222, sport=4002, t_ms=p.t_ms + 3) for p in packets[::2]]
    return sorted(packets + other, key=lambda p: p.t_ms)


def assert_same(a, b):
    assert len(a.streams) == len(b.streams)
    for x, y in zip(a.streams, b.streams):
        for name, vx, vy in zip(x._fields, x, y):
            if isinstance(vx, float):
                assert vx == pytest.approx(vy, rel=1e-9, abs=1e-12), name
            else:
                assert vx == vy, name
    assert a.dtmf == b.dtmf and a.payload_type_changes == b.payload_type_changes and a.series == b.series


@pytest.mark.parametrize("splits", [(1,), (2, 3, 4, 5), (150, 151, 152, 301, 302, 603), tuple(range(7, 900, 37))],
                         ids=["first-alone", "singles", "at-events", "every-37"])
def test_split_batches_give_the_result_of_one_batch(splits):
    packets = rich_stream()
    one = fold(packets)
    assert_same(fold(packets, splits), one)
    s = next(s for s in one.streams if s.ssrc == 0x1111)
    assert (s.sequence_restarts, s.duplicates, s.out_of_order, s.lost) == (1, 1, 1, 4)
    assert [(e.digit, one.streams[e.stream].ssrc, e.packets) for e in one.dtmf] == [("7", 0x1111, 6), ("7", 0x2222, 3)]


def test_series_per_second():
    missing = {10, 20, 21, 22, 50}
    result = fold([p for p in voice(100) if p.seq not in missing])
    series = result.series_of(0)
    assert series.second.tolist() == [0, 1]
    assert series.packets.tolist() == [46, 49]
    assert series.lost.tolist() == [4, 1]


# ------------------------------------------------------------------------------------------------ streams


def test_ssrc_change_on_the_same_five_tuple():
    packets = voice(10) + [dataclasses.replace(p, ssrc=0x2222, t_ms=p.t_ms + 200, seq=p.seq + 500) for p in voice(10)]
    first, second = fold(packets).streams
    assert (first.ssrc, first.previous_ssrc, second.ssrc, second.previous_ssrc) == (0x1111, None, 0x2222, 0x1111)


def four_streams(gapped: set[int]) -> list[P]:
    """Four 2 s voice streams 1 ms apart; those in `gapped` are silent from 1.0 s to 1.3 s."""
    out = []
    for k in range(4):
        for p in voice(100, ssrc=0x100 + k, sport=4000 + 2 * k):
            if k in gapped and 1000 <= p.t_ms < 1300:
                continue
            out.append(dataclasses.replace(p, t_ms=p.t_ms + k))
    return sorted(out, key=lambda p: p.t_ms)


def test_capture_hiccup_hits_every_stream_at_once():
    streams = four_streams
    (h,) = fold(streams({0, 1, 2, 3})).hiccups
    assert (h.streams_in_gap, h.streams_active) == (4, 4)
    assert 980 <= (h.start_ns - T0) / 1e6 <= 1000 and 1300 <= (h.end_ns - T0) / 1e6 <= 1320
    assert fold(streams({0})).hiccups == ()


@pytest.mark.parametrize("splits", [(), (150, 390)])
def test_capture_hiccup_counts_the_streams_active_across_a_clock_step(splits):
    """A stream is active from its earliest to its latest arrival: when the capture's clock steps back and the
    last packets of streams 0-2 are stamped 5 s before the first, they still ran at 1 s. Before, their intervals
    were reversed and counted -1 each: (4 in gap, 1 active) with all four paused, and with three of four paused a
    hiccup (3 in gap, 1 active) that is none (3 of 4 is under HICCUP_SHARE)."""
    def streams(gapped: set[int]) -> list[P]:
        return four_streams(gapped) + [P(-5000.0 + k, 100, 16000, ssrc=0x100 + k, sport=4000 + 2 * k)
                                       for k in range(3)]

    (h,) = fold(streams({0, 1, 2, 3}), splits).hiccups
    assert (h.start_ns - T0, h.end_ns - T0, h.streams_in_gap, h.streams_active) == (983_000_000, 1_300_000_000, 4, 4)
    assert fold(streams({0, 1, 2}), splits).hiccups == ()


@pytest.mark.parametrize("splits", [(), (150, 290)])
def test_packets_stamped_out_of_sequence_are_no_capture_hiccup(splits):
    """Three of four streams pause from 1.0 to 1.3 s: 3 of 4 is under HICCUP_SHARE. The fourth arrived every 20 ms
    throughout; its packets from 0.8 s to 1.8 s were stamped before its first (restarted_timestamps), so its max
    delta spans them, which made it a stream in a gap and the capture a hiccup of (4 in gap, 4 active). Capture
    health goes by arrival gaps: a hiccup is a moment when no packet arrived."""
    packets = [p for p in four_streams({0, 1, 2}) if p.ssrc != 0x103]
    packets += restarted_timestamps(100, restart=40, offset_ms=3.0, ssrc=0x103, sport=4006)  # stream 3's place
    packets.sort(key=lambda p: p.t_ms)
    result = fold(packets, splits)
    assert result.hiccups == ()
    (s,) = [s for s in result.streams if s.ssrc == 0x103]
    assert (s.wrong_timestamps, s.max_delta_ms, s.arrival_gap_ms) == (50, pytest.approx(1020.0), 20.0)


# ------------------------------------------------------------------------------------------------ RTCP


def rtcp(frame: int, t_ms: float, payload: bytes, src: str = "203.0.113.5") -> Datagram:
    return Datagram(frame, T0 + round(t_ms * 1e6), src, 5001, "192.168.1.10", 4001, "udp", payload, kind="rtcp")


def sender_report(ssrc: int, ntp: int, blocks: bytes = b"", count: int = 0) -> bytes:
    body = struct.pack("!IQIII", ssrc, ntp, 1234, 50, 8000) + blocks
    return struct.pack("!BBH", 0x80 | count, 200, len(body) // 4) + body


def report_block(source: int, fraction: int, lost: int, highest: int, jitter: int, lsr: int, dlsr: int) -> bytes:
    return struct.pack("!IIIIII", source, fraction << 24 | (lost & 0xFFFFFF), highest, jitter, lsr, dlsr)


def test_rtcp_reports_and_round_trip():
    tracker = RtcpTracker()
    ntp = (3_900_000_000 << 32) | 0x80000000  # .5 s
    sdes = struct.pack("!BBHI", 0x81, 202, 1, 0xAAAA)  # one chunk, no items (padding-free)
    tracker.add(rtcp(1, 0, sender_report(0xAAAA, ntp) + sdes))
    lsr = (ntp >> 16) & 0xFFFFFFFF
    block = report_block(0xAAAA, 64, -2, 70000, 80, lsr, 0x8000)  # DLSR 0.5 s
    rr = struct.pack("!BBHI", 0x81, 201, 7, 0xBBBB) + block
    tracker.add(rtcp(2, 620, rr, src="192.168.1.10"))
    result = tracker.result()
    assert [p.packet_type for p in result.packets] == ["SR", "SDES", "RR"]
    (b,) = result.packets[2].blocks
    assert (b.fraction_lost_pct, b.cumulative_lost, b.highest_seq, b.jitter) == (25.0, -2, 70000, 80)
    assert b.rtt_ms == pytest.approx(620 - 500)  # arrival of the RR - arrival of the SR - DLSR
    (s,) = result.summaries
    assert (s.reporter_ssrc, s.source_ssrc, s.reports, s.rtt_ms_min, s.rtt_samples) == (0xBBBB, 0xAAAA, 1, b.rtt_ms, 1)
    assert (result.datagrams, result.trailing) == (2, 0)


def test_rtcp_xr_voip_metrics_and_trailing_bytes():
    metrics = struct.pack("!IBBBBHHHHbbBBBBBBBBHHH", 0xAAAA, 13, 0, 64, 0, 120, 0, 150, 40, -20, -70, 127, 16, 93,
                          127, 41, 127, 0, 0, 40, 80, 200)
    xr_body = struct.pack("!I", 0xBBBB) + struct.pack("!BBH", 7, 0, 8) + metrics
    xr = struct.pack("!BBH", 0x80, 207, len(xr_body) // 4) + xr_body
    parts, complete = parse_rtcp(xr + b"\x00\x00\x00\x01tag")  # an SRTCP-like trailer
    assert [p[0] for p in parts] == [207] and not complete
    tracker = RtcpTracker()
    tracker.add(rtcp(1, 0, xr))
    (m,) = tracker.result().packets[0].voip_metrics
    assert (m.source_ssrc, m.loss_rate_pct, m.burst_density_pct, m.round_trip_ms, m.r_factor, m.mos_lq, m.mos_cq) == (
        0xAAAA, 13 * 100 / 256, 25.0, 150, 93, 4.1, None)
    assert (m.jb_nominal_ms, m.jb_max_ms, m.jb_abs_max_ms) == (40, 80, 200)


def test_engine_takes_rtcp_and_sdp_datagrams():
    engine = RtpStatsEngine()
    engine.add_datagram(sip(SDP))
    engine.add(columns(opus(20)))
    rr = struct.pack("!BBHI", 0x81, 201, 7, 0xBBBB) + report_block(0x1111, 0, 0, 19, 480, 0, 0)
    engine.add_datagram(rtcp(30, 400, rr))
    result = engine.finalize()
    assert result.rtcp.datagrams == 1 and only(result).clock_source == "sdp"
    (summary,) = result.rtcp.summaries
    assert (summary.jitter_max, summary.jitter_max_ms) == (480, 10.0)  # at the opus stream's 48 kHz
