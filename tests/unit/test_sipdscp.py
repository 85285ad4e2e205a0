"""The DSCP counts of SIP messages (sipdiag.sipdscp): one count per call, flow and DSCP value, in the order each was
first seen, whatever the number of messages."""

from __future__ import annotations

from sipdiag.parsers.sip import parse_sip
from sipdiag.sipdscp import DscpCount, DscpLog, dscps_of
from tests import callcapture as cc
from tests import pcapwriter as pw

T0 = cc.T0
UA, PBX = cc.UA, cc.PBX
INFO = cc.sip_message("INFO sip:200@example.com SIP/2.0", "call-1", "2 INFO", src=UA)
OTHER = cc.sip_message("OPTIONS sip:200@example.com SIP/2.0", "call-2", "1 OPTIONS", src=UA, to_tag=False)


def _parsed(text: str, frame: int, dscp: int | None, *, src=UA, dst=PBX):
    return parse_sip(pw.sip_bytes(text), frame=frame, ts_ns=T0, src=src, dst=dst, transport="udp", dscp=dscp)


def test_the_log_counts_per_call_flow_and_dscp_with_the_first_frame() -> None:
    log = DscpLog()
    for frame in range(1, 1001):  # a thousand messages of one call on one flow: two counts, not a thousand
        log.add(_parsed(INFO, frame, 24 if frame < 3 else 0))
    log.add(_parsed(INFO, 1001, 0, src=PBX, dst=UA))  # the other direction: a flow of its own
    log.add(_parsed(OTHER, 1002, 0))  # another call
    log.add(_parsed(INFO, 1003, None))  # no DSCP known (not read from an IP header): not counted
    assert list(log.finish()) == [
        DscpCount("call-1", UA[0], UA[1], PBX[0], PBX[1], 24, 2, 1),
        DscpCount("call-1", UA[0], UA[1], PBX[0], PBX[1], 0, 998, 3),
        DscpCount("call-1", PBX[0], PBX[1], UA[0], UA[1], 0, 1, 1001),
        DscpCount("call-2", UA[0], UA[1], PBX[0], PBX[1], 0, 1, 1002)]


def test_the_counts_of_messages_already_parsed() -> None:
    assert dscps_of([_parsed(INFO, 4, 46), _parsed(INFO, 2, 46)]).counts == (
        DscpCount("call-1", UA[0], UA[1], PBX[0], PBX[1], 46, 2, 4),)
