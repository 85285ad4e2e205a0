"""The capture layer against the third-party corpus, with capinfos and tshark as independent oracles (issue 2).

Every capture: read without a traceback, packet count equal to capinfos's; SIP message count equal to tshark's
where tshark decodes the SIP, and the named deliberate differences where sipdiag finds SIP that a default tshark
misses (or tshark counts what is not a SIP message).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import sipdiag
from sipdiag.errors import CaptureFormatError
from tests.conftest import CORPUS, corpus_captures, corpus_id, need_tool

pytestmark = [pytest.mark.corpus, pytest.mark.tshark]

CAPTURES = corpus_captures()
NOT_A_CAPTURE = {"wireshark-wiki/c07-sip-r2.cap"}  # Microsoft Network Monitor format

# tshark needs to be told where SIP is on a port it does not associate with SIP.
DECODE_AS = {"heplify/sip_ipv4_tcp_fragmented.pcap": ["-d", "tcp.port==6060,sip"]}

# Where sipdiag's count differs from a default tshark's on purpose: (sipdiag's count, why).
DELIBERATE = {
    "hep-wireshark/hep.pcap": (6, "HEPv3 on UDP 9060: Wireshark 4.0 has no HEP dissector, sipdiag unwraps it"),
    "hep-wireshark/hep3_compressed.pcapng": (7, "HEPv3 carrying SIP over TCP: no HEP dissector in Wireshark 4.0; "
                                                "each of the 7 messages is captured three times (agent, then relayed "
                                                "twice) with one HEP time: 14 copies named hep.duplicate"),
    "initconf-sip-attacks/SIP-Bruteforce-Single-IP.pcap": (
        2645, "frames 1974-1979 are REGISTER/401 between port 1293 and 5060; tshark gives port 1293 to another "
              "dissector, sipdiag finds SIP by content"),
    "pcapplusplus/sip_reqs.pcap": (4, "frame 4's BYE is malformed past its start line; tshark leaves it out of "
                                      "sip,stat, sipdiag keeps it with anomalies"),
}


def _tshark_sip_count(path: Path, extra: list[str]) -> int:
    out = subprocess.run([need_tool("tshark"), "-n", "-q", "-r", str(path), *extra, "-z", "sip,stat"],
                         capture_output=True, text=True, check=False).stdout
    m = re.search(r"Number of SIP messages: (\d+)", out)
    return int(m.group(1)) if m else 0


def _capinfos_packets(path: Path) -> int:
    out = subprocess.run([need_tool("capinfos"), "-c", "-M", str(path)], capture_output=True, text=True,
                         check=False).stdout
    m = re.search(r"Number of packets:\s+(\d+)", out)
    assert m, out
    return int(m.group(1))


@pytest.mark.parametrize("path", CAPTURES, ids=[corpus_id(p) for p in CAPTURES])
def test_packets_and_sip_messages_match_the_oracles(path: Path, corpus: Path) -> None:
    name = corpus_id(path)
    if name in NOT_A_CAPTURE:
        with pytest.raises(CaptureFormatError, match="is not a pcap or pcapng file"):
            sipdiag.analyze(path)
        return
    analysis = sipdiag.analyze(path)
    assert analysis.capture.packets == _capinfos_packets(path)
    tshark = _tshark_sip_count(path, DECODE_AS.get(name, []))
    if name in DELIBERATE:
        expected, why = DELIBERATE[name]
        assert analysis.sip.messages == expected, why
        assert expected != tshark, f"no longer a deliberate difference: {why}"
    elif name == "ndpi/fuzz-2006-06-26-2594.pcap":
        # A fuzzed capture: tshark rejects messages whose mutated bytes break its heuristics; sipdiag reads every
        # one it can and records the defects. It must find at least what tshark finds.
        assert analysis.sip.messages >= tshark
    else:
        assert analysis.sip.messages == tshark


def test_netmon_file_names_its_format(corpus: Path) -> None:
    with pytest.raises(CaptureFormatError) as e:
        sipdiag.analyze(CORPUS / "pcaps" / "wireshark-wiki" / "c07-sip-r2.cap")
    assert "Microsoft Network Monitor" in str(e.value)
    assert e.value.hint and "editcap" in e.value.hint
