"""WebSocket framing (RFC 6455 §5.2) for SIP over WebSocket (RFC 7118): each SIP message travels in one WebSocket
message, text or binary, masked from the client."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1 << 20  # a SIP message over WebSocket is far smaller; bigger is damage or not SIP


@dataclass(frozen=True, slots=True)
class WsFrame:
    fin: bool
    opcode: int
    payload: bytes  # unmasked
    length: int  # bytes of the frame on the wire (header + payload)


def parse_ws_frame(buf: bytes | bytearray, pos: int = 0) -> WsFrame | None:
    """Decode the frame starting at buf[pos]; None if it has not fully arrived yet."""
    if len(buf) - pos < 2:
        return None
    b0, b1 = buf[pos], buf[pos + 1]
    length = b1 & 0x7F
    hdr = 2
    if length == 126:
        if len(buf) - pos < 4:
            return None
        length = struct.unpack_from("!H", buf, pos + 2)[0]
        hdr = 4
    elif length == 127:
        if len(buf) - pos < 10:
            return None
        length = struct.unpack_from("!Q", buf, pos + 2)[0]
        hdr = 10
    masked = bool(b1 & 0x80)
    key = b""
    if masked:
        if len(buf) - pos < hdr + 4:
            return None
        key = bytes(buf[pos + hdr : pos + hdr + 4])
        hdr += 4
    if len(buf) - pos < hdr + length:
        return None
    payload = bytes(buf[pos + hdr : pos + hdr + length])
    if masked and payload:
        payload = unmask(payload, key)
    return WsFrame(bool(b0 & 0x80), b0 & 0x0F, payload, hdr + length)


def unmask(payload: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte masking key repeated (RFC 6455 §5.3), vectorised."""
    data = np.frombuffer(payload, dtype=np.uint8)
    mask = np.resize(np.frombuffer(key, dtype=np.uint8), len(data))
    return (data ^ mask).tobytes()


def looks_like_ws_frame(buf: bytes | bytearray) -> bool:
    """A plausible first frame: FIN set, no reserved bits, a data or control opcode."""
    return len(buf) >= 2 and buf[0] in (0x81, 0x82, 0x88, 0x89, 0x8A, 0x01, 0x02)
