"""The R factor an engineer reads stays on its scale (ITU-T G.107 Annex B: R ≤ 0 is MOS 1; G.107.1: wideband up to
129): a stream whose impairments go past the bottom of the scale is shown as R 0, in JSON, finding texts and the
HTML report, while the factors keep the arithmetic."""

from __future__ import annotations

from click.testing import CliRunner

import sipdiag
from sipdiag.cli import cli
from sipdiag.errors import CaptureFormatError, CaptureReadError
from tests import callcapture as cc
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP, Script
from tests.conftest import corpus_captures, validate_json_document

ZFONE = ("pcaps", "wireshark-wiki", "Asterisk_ZFONE_XLITE.pcap")


def test_a_stream_below_the_bottom_of_the_scale_is_shown_as_r_0(corpus, tmp_path) -> None:
    # tshark: 0xbee0f2ed lost 233 packets in a row (64.3 % in 3 runs): the E-model gives R -138.6.
    path = corpus.joinpath(*ZFONE)
    a = sipdiag.analyze(path)
    (bad,) = [m for m in a.streams if m.stats.ssrc == 0xBEE0F2ED]
    assert (round(bad.quality.r_factor, 1), bad.quality.r_shown, bad.quality.mos) == (-138.6, 0.0, 1.0)
    assert sum(f.r_points_lost for f in bad.quality.factors) == bad.quality.r0 - bad.quality.r_factor
    doc = validate_json_document(CliRunner().invoke(cli, ["analyze", str(path), "--format", "json"]).stdout)
    assert [(s["ssrc"], s["r_factor"], s["mos"]) for s in doc["streams"]] == [
        ("0xb72a7104", 90.3, 4.35), ("0xbee0f2ed", 0.0, 1.0)]
    (low,) = [f for f in doc["findings"] if f["rule"] == "media.low-mos"]
    assert low["evidence"]["r_factor"] == 0.0
    assert low["engineer_text"]["en"].split(" of call ")[1].split(": ", 1)[1] == (
        "R 0.0, MOS 1.0. MOS 1.00 (very bad), R 0.0: all 93.2 R points lost (the impairments add up to 231.8), "
        "mostly to losses in bursts (161.6), then packet loss (68.3). (ITU-T G.107 E-model; Ie/Bpl per G.113). "
        "Rated with the loss seen at the capture point: 64.3 % (RFC 3550 A.3); no usable RTCP report of the "
        "receiver on this stream to compare with.")
    out = tmp_path / "z.html"
    assert CliRunner().invoke(cli, ["analyze", str(path), "--format", "html", "-o", str(out)]).exit_code == 1
    html = out.read_text()
    assert "R factor 0.0 / 93.2" in html and "R 0.0 of 93.2" in html and "-138" not in html


def test_packet_loss_text_shows_r_0_for_a_stream_past_the_bottom(tmp_path) -> None:
    # 300 packets lost in one run out of 600 (50 %, BurstR 150): R -95.5 by the formulas.
    s = cc.call_setup(Script(), "loss-1")
    s.rtp((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.4, 12.0, drop=range(150, 450))
    s.rtp((PBX[0], PBX_RTP), (UA[0], UA_RTP), 0x2222, 0.405, 12.0, seq0=5000)
    a = sipdiag.analyze(cc.bye(s, 12.6, "loss-1").write(tmp_path / "loss.pcap"))
    (loss,) = [f for f in a.findings if f.rule == "media.packet-loss"]
    assert (round(a.streams[0].quality.r_factor, 1), loss.evidence["r_factor"]) == (-95.5, 0.0)
    # ΔR stays the arithmetic (R 91.3 without the loss, -95.5 with it); the R shown with it is 0.
    assert loss.engineer_text["en"] == (
        "Stream 198.51.100.7:40000 -> 203.0.113.5:50000 0x00001111 (caller->callee) of call loss-1: 300 of 600 "
        "packets lost (50.0 %), 1 loss runs, longest 300; MOS 1.0 (R 0.0). RFC 3550 A.3 loss; E-model impact for "
        "G.711 μ-law (Ie 0, Bpl 25.1, BurstR 150.00): the loss costs ΔR 186.8, R 91.3 without it and 0.0 with it, "
        "past the bottom of the scale; thresholds ΔR 5/10/20, critical also below R 60 (RULES.md media.packet-loss).")
    assert (loss.severity.label, loss.evidence["delta_r"], loss.evidence["r_with_loss"]) == ("critical", 186.8, 0.0)
    assert "MOS 1.0 (R 0.0)." in loss.engineer_text["ru"]


def test_no_corpus_stream_shows_an_r_off_its_scale(corpus) -> None:
    for path in corpus_captures():
        try:
            streams = sipdiag.analyze(path).streams
        except (CaptureFormatError, CaptureReadError):
            continue  # not a capture sipdiag reads (a Network Monitor file): no stream to rate
        for m in streams:
            q = m.quality
            if q is not None:
                top = 129.0 if q.inputs.scale == "wideband" else 100.0
                assert 0.0 <= q.r_shown <= top, (path.name, m.label, q.r_factor)
                assert q.summary.split(": ")[0].endswith(f"R {q.r_shown:.1f}"), q.summary
