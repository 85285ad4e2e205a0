"""Quality-estimate fixes found on real captures: the fixed jitter buffer's start-up anchor, the measured
packetization in the E-model delay, no jitter-driven MOS from a wrong RTP clock, customer words for the causes.

Exact figures are worked out by hand from RFC 3550 (transit, §6.4.1), RFC 3611 §4.7 (jitter-buffer discards) and
ITU-T G.107 (E-model; delay approximation of RULES.md §1.4, 0.024·Ta below 177.3 ms); G.711 has Ie 0 (G.113).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import sipdiag
from sipdiag.checks import Severity
from sipdiag.media import stream_quality
from sipdiag.quality import customer_cause, mos_from_r, r_factor
from tests import callcapture as cc
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP, Script
from tests.conftest import CORPUS
from tests.unit.test_rtpstats import P, fold, only, voice

PCAPS = CORPUS / "pcaps"


def corpus(name: str) -> Path:
    path = PCAPS / name
    if not path.is_file():
        pytest.skip(f"third-party corpus capture {name} not found under {PCAPS} (set SIPDIAG_CORPUS)")
    return path


def stream_of(analysis, ssrc: int):
    return next(m for m in analysis.streams if m.stats.ssrc == ssrc)


def factor(quality, name: str):
    return next(f for f in quality.factors if f.name == name)


# ------------------------------------------------------------------ 1. fixed buffer anchored on a start-up burst


def startup_burst(n: int = 50) -> list[P]:
    """The opening of LtoZ_rtpFilter_fail_2.pcap: 6 packets (20 ms of audio each) 1 ms apart, then a 134 ms gap,
    then the steady 20 ms rhythm. Transit relative to packet 0: packet 5 is 5 - 100 = -95 ms, packet 6 is
    139 - 120 = +19 ms and every later one stays at +19."""
    burst = [P(float(i), i, 160 * i) for i in range(6)]
    return burst + [P(139.0 + 20 * (i - 6), i, 160 * i) for i in range(6, n)]


def test_startup_burst_is_not_late():
    # Before the fix the 50 ms buffer took packet 5's -95 ms transit as its playout reference: every packet from
    # 6 on was 114 ms "late", 44 of 50. A real buffer only stores an early burst (RFC 3611 §4.7: discards are
    # packets arriving after their playout time); the start-up reference is the latest transit of the window.
    s = only(fold(startup_burst()))
    assert (s.late_50ms, s.late_200ms, s.late_adaptive) == (0, 0, 0)
    # the same when a batch boundary falls inside the start-up window (the state carries the running maximum)
    s = only(fold(startup_burst(), splits=(3, 7)))
    assert (s.late_50ms, s.late_200ms, s.late_adaptive) == (0, 0, 0)


def test_late_packet_after_startup_burst_is_still_discarded():
    # a packet 80 ms later than the steady +19 ms transit (99 ms from the reference 19 ms) is late for 50 ms, not
    # for 200 ms; the adaptive target (20 ms floor) misses it too
    packets = startup_burst()
    packets[30] = dataclasses.replace(packets[30], t_ms=packets[30].t_ms + 80)
    packets.sort(key=lambda p: p.t_ms)
    s = only(fold(packets))
    assert (s.late_50ms, s.late_200ms, s.late_adaptive) == (1, 0, 1)


def test_late_packet_right_after_startup_window_is_discarded():
    # packet 10 is the first after the 10-packet window: its delay counts against the start-up anchor
    packets = voice(50)
    packets[10] = dataclasses.replace(packets[10], t_ms=packets[10].t_ms + 100)
    packets.sort(key=lambda p: p.t_ms)
    assert only(fold(packets)).late_50ms == 1


def test_corpus_startup_burst_has_no_low_mos():
    # LtoZ_rtpFilter_fail_2.pcap frame 33: was late_50ms 41/49 (83.7 %), R 18.2, MOS 1.2, media.low-mos critical;
    # the stream is clean (RFC 3550 jitter 4.66 ms mean, 12.0 ms max, tshark agrees), so no discard, R 93.2 -
    # 0.024 * 80 = 91.28, MOS 4.37
    a = sipdiag.analyze(corpus("wireshark-wiki/LtoZ_rtpFilter_fail_2.pcap"))
    m = stream_of(a, 0xF91BB4E9)
    assert (m.stats.first_frame, m.stats.late_50ms, m.stats.late_200ms) == (33, 0, 0)
    assert round(m.stats.jitter_mean_ms, 2) == 4.66
    assert (round(m.quality.r_factor, 2), round(m.quality.mos, 2)) == (91.28, 4.37)
    assert [f.rule for f in a.findings if f.rule in ("media.low-mos", "media.high-jitter")] == []


# ------------------------------------------------------------------------ 2. measured packetization in the delay


def call_with_ptime(path: Path, ptime: float, answer_extra: str = "") -> Path:
    script = cc.call_setup(Script(), "ptime-1", answer_extra=answer_extra)
    script.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.5, 4.0, ptime=ptime)
    return cc.bye(script, 4.8, "ptime-1").write(path)


def test_measured_40ms_packetization_in_delay(tmp_path):
    # 320 timestamp units at 8000 Hz per sequence number: 40 ms packets. Ta = 50 + 40 + 0.125 + 10 = 100.125 ms,
    # R = 93.2 - 0.024 * 100.125 = 90.797 (was Ta 80.125 with the default 20 ms: R 91.277)
    a = sipdiag.analyze(call_with_ptime(tmp_path / "ptime40.pcap", 0.04))
    q = stream_of(a, 0x1111).quality
    assert q.inputs.ptime_ms == 40.0
    assert dict(q.inputs.delay_parts)["packetization"] == 40.0
    assert factor(q, "delay").explanation == ("estimated one-way delay 100 ms without the unknown network part "
                                              "(jitter buffer 50 + packetization 40 + codec 0.125 + devices 10)")
    assert round(q.r_factor, 3) == 90.797


def test_sdp_ptime_then_codec_default_when_not_measurable(tmp_path):
    # with talkspurt gaps (several marker bits, RFC 3551 §4.1) the mean interval is not the packet time: the SDP
    # a=ptime is used, else the codec's default (RFC 3551 §4.5: 20 ms for G.711)
    a = sipdiag.analyze(call_with_ptime(tmp_path / "ptime30.pcap", 0.03))
    stats = stream_of(a, 0x1111).stats
    assert stream_quality(stats).inputs.ptime_ms == 30.0
    gapped = stats._replace(markers=5)
    assert stream_quality(gapped, sdp_ptime_ms=30).inputs.ptime_ms == 30.0
    assert stream_quality(gapped).inputs.ptime_ms == 20.0


@pytest.mark.parametrize(("name", "ssrc", "ptime", "ta"), [
    ("asterisk-testsuite/40msalaw.pcap", 0xD500CA81, 40.0, 100),  # 826 packets in 33 s, tshark mean delta 39.999
    ("sipp/g711a.pcap", 0xDEE0EE8F, 30.0, 90),  # 240 samples per packet
])
def test_corpus_packetization(name, ssrc, ptime, ta):
    q = stream_of(sipdiag.analyze(corpus(name)), ssrc).quality
    assert q.inputs.ptime_ms == ptime
    assert factor(q, "delay").explanation == (
        f"estimated one-way delay {ta} ms without the unknown network part (jitter buffer 50 + packetization "
        f"{ptime:g} + codec 0.125 + devices 10)")


# ---------------------------------------------------------------------------- 3. a wrong RTP clock is not jitter


def test_wrong_clock_discards_not_rated():
    q = r_factor(codec="PCMU", discards_rated=False)
    assert factor(q, "jitter-buffer").r_points_lost == 0.0
    assert factor(q, "jitter-buffer").explanation.startswith("late discards for a 50 ms buffer not rated")
    assert q.estimate and q.estimate_reasons == (
        "jitter-buffer discards not rated: the RTP timestamps do not follow the codec clock",)
    with pytest.raises(ValueError):
        r_factor(codec="PCMU", discard_pct=5.0, discards_rated=False)


def test_corpus_l16_clock_mismatch_gives_no_jitter_mos():
    # sip-rtp-l16.pcap frame 872: L16 stamped at 8000 Hz under an 11025 Hz rtpmap, packets every 32 ms. Was
    # late_50ms 360/366, R 0.3, MOS 1.0 'jitter', media.low-mos critical. Transit in the wrong clock's units grows
    # with time (RFC 3550 §6.4.1 needs the payload's clock): the discards are not rated; the clock fault stays
    # reported by codec.timestamp-clock-mismatch (minor). Ta = 50 + 32 + 0 + 10 = 92 ms: R 93.2 - 2.208 = 90.992
    a = sipdiag.analyze(corpus("wireshark-wiki/sip-rtp-l16.pcap"))
    m = stream_of(a, 0x043DA985)
    assert (m.stats.first_frame, m.stats.clock_rate) == (872, 11025)
    q = m.quality
    assert (q.inputs.discards_rated, q.inputs.discard_pct, q.inputs.ptime_ms) == (False, 0.0, 32.0)
    assert (round(q.r_factor, 3), round(q.mos, 2), q.estimate) == (90.992, round(mos_from_r(90.992), 2), True)
    assert [f.rule for f in a.findings if f.rule == "media.low-mos"] == []
    mismatch = [f for f in a.findings if f.rule == "codec.timestamp-clock-mismatch"]
    assert [(f.severity, f.evidence["ssrc"], f.evidence["ratio"]) for f in mismatch] == [(Severity.MINOR, "0x043DA985",
                                                                                           0.73)]


# -------------------------------------------------------------------------------- 4. customer words for causes


def test_customer_cause_words():
    assert [customer_cause(n) for n in ("codec", "loss", "burst", "jitter-buffer", "delay")] == [
        "the codec (voice compression) in use", "sound packets lost on the way",
        "sound packets lost several at a time", "uneven delivery of the sound packets",
        "the delay before the other side hears you"]
    assert [customer_cause(n, "ru") for n in ("codec", "loss", "burst", "jitter-buffer", "delay")] == [
        "используемый кодек (сжатие голоса)", "потеря пакетов звука по пути", "потеря пакетов звука пачками",
        "неравномерная доставка пакетов звука", "задержка, с которой собеседник вас слышит"]
    # the raw name stays available to engineers; an unknown one is shown as is
    assert (customer_cause("jitter-buffer", "de"), customer_cause("other")) == (
        "uneven delivery of the sound packets", "other")
