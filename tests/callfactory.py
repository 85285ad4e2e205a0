"""MessageRef builders shared by the view tests (ladder, Mermaid, call tables)."""

from __future__ import annotations

import dataclasses

from sipdiag.model import Call, MessageRef

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
MS = 1_000_000
UA, PBX = "192.168.1.10:5060", "203.0.113.5:5060"


def message(frame: int, ms: float, src: str, dst: str, method: str | None = None, status: int | None = None,
            reason: str | None = None, *, cseq_method: str = "INVITE", retransmission: bool = False,
            sdp: bool = False) -> MessageRef:
    """A MessageRef from `ip:port` strings ([v6]:port for IPv6), `ms` after T0."""
    src_ip, src_port = src.rsplit(":", 1)
    dst_ip, dst_port = dst.rsplit(":", 1)
    return MessageRef(frame=frame, ts_ns=T0 + int(ms * MS), src_ip=src_ip.strip("[]"), src_port=int(src_port),
                      dst_ip=dst_ip.strip("[]"), dst_port=int(dst_port), transport="udp", method=method,
                      status_code=status, reason=reason, cseq=1, cseq_method=method or cseq_method,
                      retransmission=retransmission, sdp=sdp)


def basic_messages() -> tuple[MessageRef, ...]:
    """INVITE/100/180/200/ACK/BYE/200 with the 200 OK to the INVITE retransmitted once."""
    return (
        message(1, 0, UA, PBX, "INVITE", sdp=True),
        message(2, 10, PBX, UA, status=100, reason="Trying"),
        message(3, 120, PBX, UA, status=180, reason="Ringing"),
        message(4, 2300, PBX, UA, status=200, reason="OK", sdp=True),
        message(5, 2800, PBX, UA, status=200, reason="OK", sdp=True, retransmission=True),
        message(6, 2810, UA, PBX, "ACK"),
        message(7, 45000, UA, PBX, "BYE"),
        message(8, 45020, PBX, UA, status=200, reason="OK", cseq_method="BYE"),
    )


BASIC_LADDER = """\
frame     time  192.168.1.10:5060   203.0.113.5:5060
    1   +0.000          │───INVITE +SDP───▶│
    2   +0.010          │◀────100 Trying───│
    3   +0.120          │◀───180 Ringing───│
    4   +2.300          │◀───200 OK +SDP───│
    5   +2.800          │◀╌╌╌200 OK +SDP╌╌╌│          retransmission
    6   +2.810          │───────ACK───────▶│
    7  +45.000          │───────BYE───────▶│
    8  +45.020          │◀───200 OK (BYE)──│
"""


def make_call(messages: tuple[MessageRef, ...] = (), **changes) -> Call:
    """An answered call from Alice to Bob, ended by Alice's BYE; `changes` override fields."""
    call = Call(call_id="a84b4c76e66710@pc33.atlanta.example.com", caller="alice@atlanta.example.com",
                callee="bob@biloxi.example.com", caller_display=None, start_ns=T0, first_frame=1,
                caller_address=UA, callee_address=PBX, outcome="answered", final_status=200, final_reason="OK",
                setup_ms=120.0, answer_ms=2300.0, duration_s=42.7, ended_by="caller", end_reason=None,
                transport="udp", user_agents=(), auth_challenges=0, reinvites=0, prack=False, refer_to=(),
                cancelled_frame=None, bye_frame=7, seen_from_start=True, messages=messages, transactions=(),
                dialogs=(), negotiations=())
    return dataclasses.replace(call, **changes)
