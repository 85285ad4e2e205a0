"""The tshark engine as the native engine's oracle on the whole corpus (issue 10): per capture, the same calls
(Call-IDs), outcomes and final statuses, the same registrations, and the same number of SIP messages.

Both engines share everything after the capture layer (SIP parser, correlation, media, rules), so a difference
is a difference in what the capture layer found: which SIP messages, from which packets, with which bytes.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

import sipdiag
from sipdiag.errors import CaptureFormatError
from tests.conftest import CORPUS, corpus_captures, corpus_id, need_tool
from tests.corpus.test_corpus_capture import NOT_A_CAPTURE

pytestmark = [pytest.mark.corpus, pytest.mark.tshark]

# Captures whose SIP a default tshark cannot see: the native engine has a heuristic Wireshark 4.0 lacks.
NOT_COMPARED = {
    "hep-wireshark/hep.pcap": "HEPv3 on UDP 9060: Wireshark 4.0 has no HEP dissector, the native engine unwraps it",
    "hep-wireshark/hep3_compressed.pcapng": "HEPv3 (gzip-compressed payloads): no HEP dissector in Wireshark 4.0",
    "heplify/sip_ipv4_tcp_fragmented.pcap": "SIP on TCP port 6060: tshark needs 'decode as' (-d tcp.port==6060,sip), "
                                            "the native engine finds SIP by content on any port",
}

# Where the engines differ and tshark is the odd one: (native's value, tshark's value, why).
MESSAGE_EXCEPTIONS = {
    "initconf-sip-attacks/SIP-Bruteforce-Single-IP.pcap": (
        2645, 2639, "frames 1974-1979 are REGISTER/401 between port 1293 and 5060; tshark gives port 1293 to "
                    "another dissector, the native engine finds SIP by content"),
    "ndpi/fuzz-2006-06-26-2594.pcap": (
        60, 51, "a fuzzed capture: tshark drops messages whose mutated bytes break its SIP heuristics (e.g. "
                "'REGIStER', a Call-ID with a bad byte); the native engine reads them and records anomalies"),
}
CALL_EXCEPTIONS = {
    # The calls tshark misses are the fuzzed messages above; every call it finds the native engine finds alike.
    "ndpi/fuzz-2006-06-26-2594.pcap": "calls of the messages tshark drops (see MESSAGE_EXCEPTIONS)",
}
# Registrations only the native engine has, made of the messages tshark misses (see MESSAGE_EXCEPTIONS).
REGISTRATION_EXCEPTIONS = {
    "initconf-sip-attacks/SIP-Bruteforce-Single-IP.pcap": [("sip:39@128.3.98.212", "failed", 401)],
}

CAPTURES = [p for p in corpus_captures() if corpus_id(p) not in NOT_A_CAPTURE]
COMPARED = [p for p in CAPTURES if corpus_id(p) not in NOT_COMPARED]


@lru_cache(maxsize=None)
def facts(path: Path, engine: str) -> tuple[dict[str, tuple[str, int | None]], list[tuple], int]:
    """(calls by Call-ID -> (outcome, final status), registrations, SIP messages); each engine runs once per file."""
    analysis = sipdiag.analyze(path, engine=engine, keep_messages=False, rules=False)
    calls = {c.call_id: (c.outcome, c.final_status) for c in analysis.calls}
    registrations = sorted((r.aor, r.outcome, r.final_status) for r in analysis.registrations)
    return calls, registrations, analysis.sip.messages


@pytest.mark.parametrize("path", COMPARED, ids=[corpus_id(p) for p in COMPARED])
def test_engines_agree_on_calls_and_outcomes(path: Path, corpus: Path) -> None:
    need_tool("tshark")
    name = corpus_id(path)
    native_calls, native_regs, native_msgs = facts(path, "native")
    tshark_calls, tshark_regs, tshark_msgs = facts(path, "tshark")
    if name in MESSAGE_EXCEPTIONS:
        ours, theirs, why = MESSAGE_EXCEPTIONS[name]
        assert (native_msgs, tshark_msgs) == (ours, theirs), why
    else:
        assert tshark_msgs == native_msgs
    if name in CALL_EXCEPTIONS:
        assert tshark_calls.items() <= native_calls.items(), CALL_EXCEPTIONS[name]
        assert len(tshark_calls) < len(native_calls), f"no longer an exception: {CALL_EXCEPTIONS[name]}"
        return
    assert tshark_calls == native_calls
    if name in REGISTRATION_EXCEPTIONS:
        assert Counter(native_regs) - Counter(tshark_regs) == Counter(REGISTRATION_EXCEPTIONS[name])
        assert Counter(tshark_regs) <= Counter(native_regs)
        return
    assert tshark_regs == native_regs


def test_the_comparison_covers_the_corpus(corpus: Path) -> None:
    """Every capture is compared but the named ones; the exception lists name files that still exist."""
    names = {corpus_id(p) for p in CAPTURES}
    assert set(NOT_COMPARED) | set(MESSAGE_EXCEPTIONS) | set(CALL_EXCEPTIONS) | set(REGISTRATION_EXCEPTIONS) <= names
    assert len(COMPARED) == len(CAPTURES) - len(NOT_COMPARED)
    assert len(COMPARED) >= 80


def test_a_netmon_file_is_refused_alike(corpus: Path) -> None:
    """NetMon 2.x (tshark reads it, sipdiag does not): both engines give the same 'not a pcap' error."""
    need_tool("tshark")
    path = CORPUS / "pcaps" / "wireshark-wiki" / "c07-sip-r2.cap"
    with pytest.raises(CaptureFormatError) as native:
        sipdiag.analyze(path)
    with pytest.raises(CaptureFormatError) as tshark:
        sipdiag.analyze(path, engine="tshark")
    assert str(tshark.value) == str(native.value)
