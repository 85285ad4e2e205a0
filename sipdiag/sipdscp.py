"""The DSCP of every SIP message of a capture, counted while it is parsed (qos.dscp-marking).

`Analysis.messages` keeps the first MESSAGE_BUDGET full messages only: a phone whose SIP marking changes after them
(re-provisioned, or a router that starts re-marking) would be judged by the start of the capture alone. This log
counts, for every SIP message that carries a DSCP (the IP header's, RFC 2474 §3) and a Call-ID, the messages per
call, flow (source and destination address and port) and DSCP value, with the frame of the first of them: what the
rule reads, in memory that grows with the calls and flows, not with the messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .parsers.sip import SipMessage


class DscpCount(NamedTuple):
    """The SIP messages of one call on one flow that carried one DSCP value."""

    call_id: str
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    dscp: int
    messages: int
    first_frame: int  # the frame of the first of them, in the order the parser handed them on


@dataclass(frozen=True, slots=True)
class SipDscps:
    """The counts of a capture, in the order each (call, flow, DSCP) was first seen."""

    counts: tuple[DscpCount, ...]

    def __iter__(self) -> Iterator[DscpCount]:
        return iter(self.counts)


class DscpLog:
    """Counts SIP messages by call, flow and DSCP, message by message, in the order the parser hands them on.

    `add` runs once per SIP message of the capture: one tuple, one dict look-up and an increment."""

    def __init__(self) -> None:
        # (call id, src ip, src port, dst ip, dst port, dscp) -> [messages, first frame]; a dict keeps the order
        # of first sight, which the rule's "first message outside the policy" reads
        self._counts: dict[tuple[str, str, int, str, int, int], list[int]] = {}

    def add(self, m: SipMessage) -> None:
        if m.dscp is None or not m.call_id:
            return
        key = (m.call_id, m.src_ip, m.src_port, m.dst_ip, m.dst_port, m.dscp)
        c = self._counts.get(key)
        if c is None:
            self._counts[key] = [1, m.frame]
        else:
            c[0] += 1

    def finish(self) -> SipDscps:
        return SipDscps(tuple(DscpCount(*key, n, frame) for key, (n, frame) in self._counts.items()))


def dscps_of(messages: Iterable[SipMessage]) -> SipDscps:
    """The SipDscps of messages already parsed (an analysis built without a DscpLog: the live engine's)."""
    log = DscpLog()
    for m in messages:
        log.add(m)
    return log.finish()
