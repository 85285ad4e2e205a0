"""Transactions and calls against tshark on the whole corpus (issue 4): per capture, the Call-IDs, the INVITE
transactions (INVITE requests that are not retransmissions) and the final responses by status code.

Where the two differ, the difference is named with its reason: sipdiag finds SIP tshark's port-based dissector
misses (HEP, non-standard ports) or matches retransmissions by branch where tshark's resend heuristic does not.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

import sipdiag
from tests.conftest import corpus_captures, corpus_id, need_tool
from tests.corpus.test_corpus_capture import DECODE_AS, NOT_A_CAPTURE

pytestmark = [pytest.mark.corpus, pytest.mark.tshark]

CAPTURES = [p for p in corpus_captures() if corpus_id(p) not in NOT_A_CAPTURE]

# Captures whose SIP tshark does not see at all or only partly (see test_corpus_capture.DELIBERATE).
SIP_TSHARK_MISSES = {
    "hep-wireshark/hep.pcap", "hep-wireshark/hep3_compressed.pcapng",
    "initconf-sip-attacks/SIP-Bruteforce-Single-IP.pcap", "pcapplusplus/sip_reqs.pcap",
    "ndpi/fuzz-2006-06-26-2594.pcap",
}


@lru_cache(maxsize=None)
def tshark_facts(path: Path) -> tuple[int, int, dict[int, int]]:
    """(distinct Call-IDs, INVITE requests not marked resent, final responses by code) as tshark sees them."""
    tshark = need_tool("tshark")
    extra = DECODE_AS.get(corpus_id(path), [])
    fields = subprocess.run(
        [tshark, "-n", "-r", str(path), *extra, "-Y", "sip", "-T", "fields", "-E", "occurrence=a", "-E",
         "aggregator=|", "-e", "sip.Call-ID", "-e", "sip.Method", "-e", "sip.resend"],
        capture_output=True, text=True, check=False).stdout
    call_ids: set[str] = set()
    invites = 0
    for line in fields.splitlines():
        cid, methods, resends = (line.split("\t") + ["", "", ""])[:3]
        call_ids.update(c for c in cid.split("|") if c)
        for method, resend in zip(methods.split("|"), resends.split("|") or [""] * 9):
            if method == "INVITE" and resend != "1":
                invites += 1
    stat = subprocess.run([tshark, "-n", "-q", "-r", str(path), *extra, "-z", "sip,stat"],
                          capture_output=True, text=True, check=False).stdout
    finals = {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"SIP (\d{3}) .*?:\s+(\d+) Packets", stat)
              if int(m.group(1)) >= 200}
    return len(call_ids), invites, finals


def sipdiag_facts(analysis) -> tuple[int, int, dict[int, int]]:
    transactions = [t for c in analysis.calls for t in c.transactions]
    transactions += [t for r in analysis.registrations for t in r.transactions]
    transactions += list(analysis.transactions)
    call_ids = {t.call_id for t in transactions if t.call_id}
    invites = sum(1 for t in transactions if t.method == "INVITE" and t.request_frame is not None)
    finals = {code: n for code, n in analysis.sip.responses.items() if code >= 200}
    return len(call_ids), invites, finals


# (Call-IDs, INVITE transactions) where sipdiag's count is right and tshark's differs, with the reason.
DELIBERATE: dict[str, str] = {}


@pytest.mark.parametrize("path", CAPTURES, ids=[corpus_id(p) for p in CAPTURES])
def test_call_ids_invites_and_final_responses_match_tshark(path: Path, corpus: Path) -> None:
    name = corpus_id(path)
    analysis = sipdiag.analyze(path, keep_messages=False)
    ours = sipdiag_facts(analysis)
    theirs = tshark_facts(path)
    if name in SIP_TSHARK_MISSES:
        assert ours[0] >= theirs[0] and ours[1] >= theirs[1]
        return
    assert ours[2] == theirs[2], "final responses by code"
    assert ours[0] == theirs[0], "distinct Call-IDs"
    if name in DELIBERATE:
        assert ours[1] != theirs[1], DELIBERATE[name]
    else:
        assert ours[1] == theirs[1], "INVITE transactions"


def test_corpus_outcomes_of_known_calls(corpus: Path) -> None:
    """Exact call facts on captures whose story the corpus index tells."""
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "MagicJack-_short_call.pcap")
    # INVITE challenged with 401, re-sent with credentials, 183 with early media, answered, the far end hangs up.
    assert [(c.outcome, c.final_status, c.auth_challenges, c.ended_by, c.setup_ms, c.answer_ms, c.duration_s)
            for c in a.calls] == [("answered", 200, 1, "callee", 6989.191, 15727.328, 4.076)]
    assert [m.frame for m in a.calls[0].messages] == [46, 47, 48, 49, 50, 51, 54, 925, 953, 1324, 1329]
    a = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "SIP_DTMF2.cap")
    # Two calls (the answered one's INVITE is captured on two hops, frames 14 and 16), REGISTERs apart.
    assert [(c.call_id, c.outcome, c.final_status) for c in a.calls] == [
        ("5514@192.168.105.110", "rejected", 603), ("25672@192.168.105.110", "answered", 200)]


def test_a_callees_reinvite_is_in_the_callers_dialog(corpus: Path) -> None:
    """Asterisk_ZFONE_XLITE.pcap: X-Lite's INVITE (frames 15, 18 after a 401) is answered (23); Asterisk re-INVITEs
    it (1036, From its tag, To the caller's, RFC 3261 §12.2.1.1), answered 1039 and ACKed 1040. One dialog; before,
    the 200 made a second one of the caller's tag with itself, confirmed at 1039."""
    (call,) = sipdiag.analyze(corpus / "pcaps" / "wireshark-wiki" / "Asterisk_ZFONE_XLITE.pcap").calls
    assert [(d.caller_tag, d.callee_tag, d.state, d.created_frame, d.confirmed_frame) for d in call.dialogs] == [
        ("40580753", "as0b1a917b", "terminated", 20, 23)]
    assert [(t.cseq, t.request_frame, t.final_status, t.in_dialog) for t in call.transactions
            if t.method == "INVITE"] == [(1, 15, 401, False), (2, 18, 200, False), (102, 1036, 200, True)]


def test_an_sbc_tag_that_holds_a_via_branch_names_its_own_leg(corpus: Path) -> None:
    """heplify/erspan_sip_ipv4_udp.pcapng: the SBC (192.168.1.222 inside, 101.231.48.19 outside) keeps the Call-ID
    on its outer leg and writes its From tag there as "00E4EF38-", the inner caller's tag and the inner INVITE's
    Via branch (frame 25, from frame 21's tag and branch; tshark reads the same tags). The outer callee's re-INVITE
    (45) and its 200 (50) carry it in To. Two dialogs, one per leg; before, the outer leg's was filed under the
    inner caller's tag and the 200 of frame 50 made a third, of the inner caller's tag with the outer one."""
    calls = {c.call_id: c for c in sipdiag.analyze(corpus / "pcaps" / "heplify" / "erspan_sip_ipv4_udp.pcapng").calls}
    call = calls["ddd141f1d982d8989fb73db754a8fbb7@192.168.1.191"]
    outer = "00E4EF38-44ff2eb19c8ae9a0ef659ad5b8c55fc1z9hG4bKcb284c3e49cc680dd3278276563f7846"
    assert sorted((d.caller_tag, d.callee_tag, d.created_frame, d.confirmed_frame) for d in call.dialogs) == [
        (outer, "beee28-0-16e4-5af571ed-a536c5d-5af571ed", 27, 31),
        ("44ff2eb19c8ae9a0ef659ad5b8c55fc1", "2DEF4136-5AF5016E0001A273-EFEFE700", 28, 32)]
    assert [(n.kind, n.offer_frame, n.offerer, n.answer_frame) for n in call.negotiations] == [
        ("initial", 21, "caller", 32), ("initial", 25, "caller", 31), ("re-invite", 45, "callee", 50),
        ("re-invite", 47, "callee", 49)]


def test_notifies_whose_to_tag_holds_control_bytes_are_anomalies(corpus: Path) -> None:
    """heplify/erspan_sip_ipv4_udp.pcapng: three NOTIFYs of the PBX (22, 40, 91) carry a To tag mangled at its end
    (the SBC's "00E4EF38-" tag, then bytes 0x18 0x01, 0x0C 0x01, 0x0E 0x01 and, in 91, octets that are not UTF-8);
    the SBC answers each 481 (23, 41, 93) with the tag copied. A tag is a token (RFC 3261 §25.1): each message is a
    sip.control-in-identifier, its tag quoted escaped. Before, only 91 and 93 raised anything (sip.bad-utf8)."""
    a = sipdiag.analyze(corpus / "pcaps" / "heplify" / "erspan_sip_ipv4_udp.pcapng")
    inner = "00E4EF38-{}z9hG4bK-{}"
    tags = {22: inner.format("be36b0-0-16e4-5af571ec-66d24646-5af571ec", "5af571e&Sy\\x18\\x01"),
            40: inner.format("be86d8-0-16e4-5af571f6-170f597e-5af571f6", "5af571f~\\x0cpO\\x01"),
            91: inner.format("beb360-0-16e4-5af57200-4240db83-5af57200", "5af5720\ufffd\\x0e\ufffdb\\x01")}
    codes = {22: "0x18, 0x01", 40: "0x0C, 0x01", 91: "0x0E, 0x01"}
    assert [(x.frame, x.detail) for x in a.anomalies if x.code == "sip.control-in-identifier"] == [
        (frame, f"To tag '{tags[request]}' holds control character(s) {codes[request]}; it must be a token "
                "(RFC 3261 §25.1): the message was mangled or forged")
        for request, response in ((22, 23), (40, 41), (91, 93)) for frame in (request, response)]
    statuses = {m.frame: m.method or m.status_code for m in a.messages}
    assert [statuses[f] for f in (22, 23, 40, 41, 91, 93)] == ["NOTIFY", 481] * 3
