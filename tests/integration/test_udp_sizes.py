"""The size of every SIP message over UDP (sipdiag.udpsizes), collected while parsing: router.udp-fragmentation judges
the large messages after the first MESSAGE_BUDGET kept in full as it judges those before (RULES.md §3.7)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import sipdiag
import sipdiag.analysis
from sipdiag.checks import run_checks
from sipdiag.config import load_config
from sipdiag.udpsizes import RECORD_ABOVE
from tests import callcapture as cc
from tests import pcapwriter as pw

T0, S = cc.T0, cc.S
UA, PBX = cc.UA, cc.PBX
RULE = "router.udp-fragmentation"


def _options(n: int) -> str:
    return cc.sip_message("OPTIONS sip:200@example.com SIP/2.0", f"opt-{n}", f"{n} OPTIONS", src=UA, to_tag=False,
                          branch=f"o{n}")


def _invite(pad: int) -> str:
    body = cc.SDP.format(ip=UA[0], port=cc.UA_RTP) + "a=x-pad:" + "p" * pad + "\n"
    return cc.sip_message("INVITE sip:200@example.com SIP/2.0", "late-1", "1 INVITE", src=UA, to_tag=False,
                          body=body)


def _late_invite(path: Path, pad: int = 1100, mtu: int | None = None) -> Path:
    """Three OPTIONS answered 200 (six messages), then a large INVITE sent until Timer B, unanswered."""
    recs: list[tuple[int, bytes]] = []
    for n in range(1, 4):
        text = _options(n)
        answer = text.replace("OPTIONS sip:200@example.com SIP/2.0", "SIP/2.0 200 OK").replace(
            "To: <sip:200@example.com>", "To: <sip:200@example.com>;tag=o")
        recs += [(T0 + n * S, cc.frame(text, UA, PBX)), (T0 + n * S + S // 20, cc.frame(answer, PBX, UA))]
    invite = pw.sip_bytes(_invite(pad))
    for k, t in enumerate((0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)):
        datagram = pw.udp(UA[1], PBX[1], invite, UA[0], PBX[0])
        packets = [pw.ipv4(UA[0], PBX[0], 17, datagram)] if mtu is None else \
            pw.fragment_ipv4(UA[0], PBX[0], 17, datagram, mtu, 50 + k)
        recs += [(T0 + int((5 + t) * S) + i, pw.link_frame(p)) for i, p in enumerate(packets)]
    pw.write_pcap(path, recs, pw.LINKTYPE_ETHERNET)
    return path


def _rule(analysis) -> list:
    return [f for f in analysis.findings if f.rule == RULE]


def test_a_large_request_after_the_messages_kept_is_judged_all_the_same(tmp_path: Path, monkeypatch) -> None:
    """Before, the rule read only Analysis.messages: an INVITE after the first MESSAGE_BUDGET messages (5000 by
    default; 2 here) went unjudged however large it was."""
    path = _late_invite(tmp_path / "late.pcap")
    (whole,) = _rule(sipdiag.analyze(path, keep_messages=100))
    (late,) = _rule(sipdiag.analyze(path, keep_messages=2))
    size = len(pw.sip_bytes(_invite(1100)))
    assert (late.severity.label, late.confidence, late.call_id, late.frames) == (
        "major", "high", "late-1", tuple(range(7, 14)))
    assert late.evidence["trigger"] == "large-fails-small-works"
    assert late.evidence["messages"] == [f"INVITE frame 7: {size} bytes in one packet, sent 7 times"]
    assert late.evidence["failed"] == ["INVITE frame 7 never answered (Timer B)"]
    assert late.evidence["answered_small"] == [f"OPTIONS frame 1 ({len(pw.sip_bytes(_options(1)))} bytes) answered 200"]
    assert (late.evidence, late.engineer_text, late.customer_text) == (
        whole.evidence, whole.engineer_text, whole.customer_text)
    # the default budget of every command reads the same way
    monkeypatch.setattr(sipdiag.analysis, "MESSAGE_BUDGET", 2)
    capped = sipdiag.analyze(path)
    assert len(capped.messages) == 2
    (default,) = _rule(capped)
    assert default.evidence == whole.evidence


def test_a_fragmented_request_after_the_messages_kept_is_named_with_its_fragments(tmp_path: Path) -> None:
    """Before, beyond the messages kept only a low-confidence "fragments-unanswered" guess named the call."""
    path = _late_invite(tmp_path / "frag.pcap", mtu=1000)
    (f,) = _rule(sipdiag.analyze(path, keep_messages=2))
    assert (f.severity.label, f.evidence["trigger"], f.frames) == ("major", "large-fails-small-works",
                                                                   tuple(range(7, 21)))
    assert f.evidence["messages"][0].startswith("INVITE frame 8: ")
    assert f.evidence["messages"][0].endswith(" bytes in 2 IP fragments (frames 7, 8), sent 7 times")


def test_without_a_size_log_the_messages_kept_are_read(tmp_path: Path) -> None:
    """An analysis built without the log (the live engine's) is judged from its messages, as before."""
    analysis = sipdiag.analyze(_late_invite(tmp_path / "kept.pcap"))
    (logged,) = _rule(analysis)
    (kept,) = run_checks(replace(analysis, udp_sizes=None, findings=()), select=(RULE,))
    assert kept.evidence == logged.evidence
    assert run_checks(replace(analysis, udp_sizes=None, messages=analysis.messages[:6], findings=()),
                      select=(RULE,)) == ()


def test_a_limit_below_the_records_reads_the_messages_kept(tmp_path: Path) -> None:
    """sip.large_udp_sip_bytes under RECORD_ABOVE: the log holds no record of a 500-byte message, the messages kept
    (Analysis.messages) do."""
    path = _late_invite(tmp_path / "low.pcap", pad=50)
    toml = tmp_path / "sipdiag.toml"
    toml.write_text("[sip]\nlarge_udp_sip_bytes = 400\n", encoding="utf-8")
    analysis = sipdiag.analyze(path, settings=load_config(toml))
    size = len(pw.sip_bytes(_invite(50)))
    assert 400 < size <= RECORD_ABOVE and analysis.udp_sizes.records == ()
    (f,) = _rule(analysis)
    assert f.evidence["messages"] == [f"INVITE frame 7: {size} bytes in one packet, sent 7 times"]
    assert f.evidence["failed"] == ["INVITE frame 7 never answered (Timer B)"]
