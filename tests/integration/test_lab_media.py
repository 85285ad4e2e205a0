"""Media on the lab's captures (issue 5): every RTP flow the manifest lists is measured with its packet count,
bound to its call, and the audio verdict tells one-way audio, loss and clean calls apart, with the direction."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import sipdiag
from tests.conftest import SAMPLES

MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())
CAPTURES = MANIFEST["captures"]


@pytest.mark.parametrize("entry", CAPTURES, ids=[c["file"] for c in CAPTURES])
def test_every_manifest_rtp_flow_is_measured_and_bound(entry: dict) -> None:
    analysis = sipdiag.analyze(SAMPLES / entry["file"])
    got = {(f"{m.stats.src_ip}:{m.stats.src_port}", f"{m.stats.dst_ip}:{m.stats.dst_port}"): m.stats.packets
           for m in analysis.streams}
    expected: Counter[tuple[str, str]] = Counter()
    for flow in entry.get("rtp", []):  # audio and RFC 4733 events of one SSRC are one stream
        expected[(flow["src"], flow["dst"])] += flow["packets"]
    assert got == dict(expected)
    call_ids = {c["call_id"] for c in entry.get("calls", [])}
    assert {m.call_id for m in analysis.streams} <= call_ids


VERDICTS = {
    "clean_call.pcap": ("two-way", None, None),
    "nat_one_way_audio.pcap": ("one-way", "callee->caller", "192.168.1.10:6000"),
    "nat_symmetric_rtp.pcap": ("two-way", None, None),
    "firewall_one_way_audio.pcap": ("one-way", "callee->caller", None),
    "sip_alg_rewrite.pcap": ("one-way", "callee->caller", None),
    "rtp_loss.pcap": ("two-way", None, None),
    "busy_486.pcap": ("not-answered", None, None),
}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_audio_verdicts(name: str) -> None:
    analysis = sipdiag.analyze(SAMPLES / name)
    (media,) = analysis.media
    v = media.verdict
    assert (v.verdict, v.missing_direction, v.unreachable_target) == VERDICTS[name]


def test_symmetric_rtp_is_bound_by_latching() -> None:
    analysis = sipdiag.analyze(SAMPLES / "nat_symmetric_rtp.pcap")
    bound = sorted((m.binding.direction, m.binding.bound_by) for m in analysis.streams)
    # The phone's RTP goes to the PBX's SDP address; the PBX answers to where it came from (the NAT's port).
    assert bound == [("callee->caller", "latching"), ("caller->callee", "sdp")]


def test_rtp_loss_is_measured_in_the_right_direction_and_lowers_mos() -> None:
    analysis = sipdiag.analyze(SAMPLES / "rtp_loss.pcap")
    by_direction = {m.binding.direction: m for m in analysis.streams}
    lossy, clean = by_direction["caller->callee"], by_direction["callee->caller"]
    assert (lossy.stats.packets, lossy.stats.lost, clean.stats.lost) == (143, 7, 0)
    assert lossy.quality is not None and clean.quality is not None
    assert lossy.quality.mos < clean.quality.mos
    assert [f.name for f in lossy.quality.factors if f.r_points_lost > 0][0] == "loss"


def test_rfc4733_digits_per_call() -> None:
    analysis = sipdiag.analyze(SAMPLES / "dtmf_rfc4733.pcap")
    (media,) = analysis.media
    assert "".join(e.digit for e in media.dtmf) == "159#"
    assert all(e.end_seen for e in media.dtmf)


def test_sip_info_dtmf_on_the_corpus(corpus) -> None:
    (call,) = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "DTMFsipinfo.pcap").calls
    assert call.info_dtmf == ((17, "1", 180), (19, "3", 180), (29, "4", 180), (31, "2", 180))
