"""RFC 6263 keep-alives in a call's RTP: packets that carry no media (an RTP packet of 0 length, of a payload type
nobody negotiated or of the media's own, §4.6; eyeBeam's 4 zero octets of an unnegotiated type: see
test_rules_codec_reg and the corpus' testing.ext.pcap). They stay in the stream's packets, sequence accounting and
deltas, as tshark's `-z rtp,streams` counts them, are counted on the stream (`keepalives`), and are left out of
its media: the loss percentage, the MOS and the call's audio verdict."""

from __future__ import annotations

import io
import json

import pytest

import sipdiag
from sipdiag.reports.streams import render_streams
from tests import callcapture as cc
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP
from tests.conftest import need_tool
from tests.corpus.test_corpus_rtp import tshark_streams

S = cc.S


def keepalive(s: cc.Script, src, dst, at: float, seq: int, ssrc: int, pt: int, ts: int | None = None,
              payload: bytes = b"") -> None:
    """An RTP packet of 0 length (RFC 6263 §4.6), or of `payload` (eyeBeam: 4 zero octets): its sequence number
    follows the stream's, its timestamp is the one a media packet would have at that time (default: `at` on an
    8 kHz clock from 0)."""
    packet = cc.pw.rtp_packet(seq, int(at * 8000) if ts is None else ts, ssrc, pt=pt, payload=payload)
    s.recs.append((cc.T0 + int(at * S), cc.pw.link_frame(cc.pw.ipv4(src[0], dst[0], 17,
                                                                      cc.pw.udp(src[1], dst[1], packet)))))


def test_keepalives_do_not_hide_one_way_audio(tmp_path) -> None:
    """The callee talks for 20 s; the caller's phone sends no audio, only a keep-alive every 2 s (payload type
    126, which nobody negotiated). Ten packets that keep coming for the whole call passed the verdict's test for
    sparse audio (silence suppression), so the call was two-way and nobody was told the callee heard nothing."""
    s = cc.call_setup(cc.Script(), "ka-oneway")
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.4, 20.0)
    for k in range(10):
        keepalive(s, (UA[0], UA_RTP), (PBX[0], PBX_RTP), 0.5 + 2 * k, 100 + k, 0x1111, 126)
    cc.bye(s, 20.6, "ka-oneway")
    a = sipdiag.analyze(s.write(tmp_path / "ka-oneway.pcap"))
    assert [(m.stats.src_port, m.stats.packets, m.stats.keepalives, m.stats.media_packets, m.stats.lost)
            for m in a.streams] == [(PBX_RTP, 1000, 0, 1000, 0), (UA_RTP, 10, 10, 0, 0)]
    verdict = a.media[0].verdict
    assert (verdict.verdict, verdict.missing_direction, verdict.packets_to_callee, verdict.packets_to_caller) == (
        "one-way", "caller->callee", 0, 1000)
    # the keep-alives' payload type was never negotiated on purpose: not codec.rtp-payload-not-negotiated (major)
    assert [(f.rule, f.severity.label) for f in a.findings] == [("media.one-way-audio", "major")]
    assert a.findings[0].evidence["one_way_s"] == 20.0


@pytest.mark.tshark
def test_keepalives_are_counted_on_the_stream_and_left_out_of_its_loss(tmp_path) -> None:
    """A 10 s PCMU stream whose phone sent two empty packets of its own payload type in a pause (RFC 6263 §4.6
    with the media's type) and lost one packet: 499 packets and 1 lost, as tshark counts them, of which 2 are
    keep-alives; the loss is 1 of the 498 media packets expected, not of 500."""
    s = cc.call_setup(cc.Script(), "ka-loss")
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.4, 10.0)
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.405, 10.0, seq0=5000, drop=(100, 250, 251))
    for i in (250, 251):
        keepalive(s, (PBX[0], PBX_RTP), (UA[0], UA_RTP), 0.405 + i * 0.02, 5000 + i, 0x2222, 0)
    cc.bye(s, 10.6, "ka-loss")
    path = s.write(tmp_path / "ka-loss.pcap")
    a = sipdiag.analyze(path)
    stream = a.streams[1].stats
    assert (stream.packets, stream.keepalives, stream.media_packets, stream.expected, stream.lost,
            round(stream.loss_pct, 4)) == (499, 2, 497, 500, 1, round(100 / 498, 4))
    assert a.media[0].verdict.packets_to_caller == 497
    out = io.StringIO()
    render_streams(a, "json", out)
    assert [(d["packets"], d["keepalives"], d["lost"]) for d in json.loads(out.getvalue())["streams"]] == [
        (500, 0, 0), (499, 2, 1)]
    out = io.StringIO()
    render_streams(a, "terminal", out)
    text = out.getvalue()
    assert "┃ packets ┃ keep-alives ┃" in text
    assert [[cell.strip() for cell in line.split("│")[5:8]] for line in text.splitlines() if "│ 0x" in line] == [
        ["500", "0", "0 (0.0%)"], ["499", "2", "1 (0.2%)"]]
    # `sipdiag streams` counts the packets tshark counts: keep-alives are RTP packets on the wire
    need_tool("tshark")
    assert sorted((t.key[1], t.packets, t.lost) for t in tshark_streams(path)) == [(UA_RTP, 500, 0),
                                                                                    (PBX_RTP, 499, 1)]


@pytest.mark.parametrize("payload", [b"", bytes(4)], ids=["empty", "eyebeam-4-zero-octets"])
def test_a_keepalive_of_an_unnamed_type_leaves_the_stream_its_codec(tmp_path, payload: bytes) -> None:
    """19 s of PCMU, then one RFC 6263 §4.6 keep-alive of payload type 126, which nobody named, at the end of the
    media. Taken for a second, unknown codec, the keep-alive's type decided the stream's clock: no codec, no MOS
    for 950 packets of PCMU. eyeBeam's keep-alive carries 4 zero octets, the shape of an RFC 4733 event (digit 0,
    duration 0, no end) that never lasts: no codec either."""
    s = cc.call_setup(cc.Script(), "ka-codec")
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.4, 20.0, seq0=5000)
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 1.0, 19.0)
    keepalive(s, (UA[0], UA_RTP), (PBX[0], PBX_RTP), 20.1, 1950, 0x1111, 126, ts=int(19.1 * 8000), payload=payload)
    cc.bye(s, 20.6, "ka-codec")
    a = sipdiag.analyze(s.write(tmp_path / "ka-codec.pcap"))
    assert [(m.stats.src_port, m.stats.payload_types, m.stats.codec, m.stats.clock_rate, m.stats.packets,
             m.stats.keepalives, round(m.quality.mos, 2)) for m in a.streams] == [
        (PBX_RTP, (0,), "PCMU", 8000, 1000, 0, 4.37), (UA_RTP, (0, 126), "PCMU", 8000, 951, 1, 4.37)]
    assert a.media[0].verdict.verdict == "two-way"


def test_an_empty_packet_of_the_named_telephone_event_type_is_no_key_press(tmp_path) -> None:
    """A telephone-event payload is 4 octets (RFC 4733 §2.3): an empty packet of the negotiated event type is an
    RFC 6263 §4.6 keep-alive, not digit '0' (its missing payload was read as the zero word: event 0, duration 0,
    no end), which made a DTMF event without an end packet."""
    offer = cc.sdp(UA[0], UA_RTP, "0 101", "rtpmap:0 PCMU/8000", "rtpmap:101 telephone-event/8000")
    answer = cc.sdp(PBX[0], PBX_RTP, "0 101", "rtpmap:0 PCMU/8000", "rtpmap:101 telephone-event/8000")
    s = cc.call_setup(cc.Script(), "ev-empty", offer_sdp=offer, answer_sdp=answer)
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.4, 10.0, seq0=5000)
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.4, 10.0)
    keepalive(s, (UA[0], UA_RTP), (PBX[0], PBX_RTP), 10.5, 1500, 0x1111, 101, ts=int(10.4 * 8000))
    cc.bye(s, 11.0, "ev-empty")
    a = sipdiag.analyze(s.write(tmp_path / "ev-empty.pcap"))
    assert [(m.stats.src_port, m.stats.packets, m.stats.keepalives) for m in a.streams] == [
        (PBX_RTP, 500, 0), (UA_RTP, 501, 1)]
    assert a.media[0].dtmf == ()
    assert [f.rule for f in a.findings] == []


def test_keepalives_do_not_stretch_a_burst_of_audio_over_the_call(tmp_path) -> None:
    """The callee talks for 20 s; the caller's phone sends a burst of 5 PCMU packets (0.1 s) and then keeps its NAT
    binding open with an empty RTP packet of its own type every 2 s (RFC 6263 §4.6). Measured from its first packet
    to its last keep-alive, the stream lasted 20 s: 5 packets every 5 s passed the verdict's test for sparse audio
    (silence suppression), so the call was two-way, and the stream reported 20 s at 0.4 kbit/s. Its media lasted
    0.08 s (frames of the burst only): 5 packets of 200 octets at IP level, 100 kbit/s over 4 intervals."""
    s = cc.call_setup(cc.Script(), "ka-burst")
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.4, 20.0, seq0=5000)
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.5, 0.1, seq0=1)
    for k in range(10):
        keepalive(s, (UA[0], UA_RTP), (PBX[0], PBX_RTP), 2.5 + 2 * k, 6 + k, 0x1111, 0)
    cc.bye(s, 20.6, "ka-burst")
    a = sipdiag.analyze(s.write(tmp_path / "ka-burst.pcap"))
    verdict = a.media[0].verdict
    assert (verdict.verdict, verdict.missing_direction, verdict.packets_to_callee, verdict.packets_to_caller) == (
        "one-way", "caller->callee", 5, 1000)
    assert verdict.detail == ("one-way audio: the callee hears nothing (only 5 packets caller->callee, over 0.1 s of "
                              "the 20.3 s the call was connected)")
    assert [(f.rule, f.severity.label) for f in a.findings] == [("media.one-way-audio", "major")]
    caller = a.streams[1].stats
    assert (caller.src_port, caller.packets, caller.keepalives, caller.first_frame, caller.last_frame) == (
        UA_RTP, 15, 10, 10, 1018)
    assert (caller.duration_s, round(caller.bitrate_kbps, 6)) == (0.08, 100.0)
    assert (caller.media_first_frame, caller.media_last_frame, caller.media_sequence_span) == (10, 18, 4)
    out = io.StringIO()
    render_streams(a, "json", out)
    assert [(d["first_frame"], d["last_frame"], d["media_first_frame"], d["media_last_frame"], d["duration_s"],
             d["keepalives"]) for d in json.loads(out.getvalue())["streams"]] == [
        (4, 1017, 4, 1017, 19.98, 0), (10, 1018, 10, 18, 0.08, 10)]
