"""RTP sources for sipp's ``play_pcap_audio``: small pcap files of RTP written here, not recorded.

sipp replays the UDP payloads of such a file with the file's own timing, from the call's media
port to the address and port of the peer's SDP. Writing the files ourselves keeps every capture
deterministic: a known number of packets, fixed SSRC, sequence numbers and timestamps.

- :func:`write_audio` -- G.711 mu-law or A-law (RTP/AVP payload types 0 and 8, RFC 3551), 20 ms
  packets of 160 bytes; the audio is a quiet 400 Hz tone so the payload is not constant.
- :func:`write_dtmf` -- RFC 4733 telephone-event packets (payload type 101) for a digit string,
  each event sent as 100 ms of updates plus the end packet three times (RFC 4733 §2.5.1.4).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

PTIME_MS = 20
SAMPLES_PER_PACKET = 160  # 8000 Hz * 20 ms (RFC 3551 §4.5.14 PCMU)

# Addresses inside the template pcap are placeholders: sipp replaces them with the call's own.
_SRC, _DST = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def _linear_to_ulaw(sample: int) -> int:
    """ITU-T G.711 mu-law encoding of a 16-bit linear sample."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), clip) + bias
    exponent = 7
    for exp_mask in (0x4000, 0x2000, 0x1000, 0x800, 0x400, 0x200, 0x100):
        if sample & exp_mask:
            break
        exponent -= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _linear_to_alaw(sample: int) -> int:
    """ITU-T G.711 A-law encoding of a 16-bit linear sample."""
    sign = 0x80 if sample >= 0 else 0
    sample = min(abs(sample), 32767) >> 3
    if sample < 32:
        code = sample >> 1
    else:
        exponent = sample.bit_length() - 5
        code = (exponent << 4) | ((sample >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


ENCODERS = {0: _linear_to_ulaw, 8: _linear_to_alaw}


def _tone(n_samples: int, pt: int = 0, freq: float = 400.0, amplitude: int = 4000) -> bytes:
    encode = ENCODERS[pt]
    return bytes(encode(int(amplitude * math.sin(2 * math.pi * freq * i / 8000)))
                 for i in range(n_samples))


def _rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF,
                       ssrc) + payload


def _ip_udp(payload: bytes, sport: int = 6000, dport: int = 6000) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, _SRC, _DST)
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + udp


def _write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in packets:
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            frame = _ip_udp(data)
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)


def write_audio(path: Path, packets: int, ssrc: int, pt: int = 0, seq0: int = 1000,
                ts0: int = 8000) -> Path:
    """``packets`` G.711 packets (PT 0 PCMU or 8 PCMA), one every 20 ms: ``packets * 20`` ms."""
    audio = _tone(SAMPLES_PER_PACKET * 10, pt)  # 200 ms of tone, repeated
    frames = []
    for i in range(packets):
        chunk = audio[(i % 10) * SAMPLES_PER_PACKET:(i % 10 + 1) * SAMPLES_PER_PACKET]
        frames.append((i * PTIME_MS / 1000, _rtp(pt, seq0 + i, ts0 + i * SAMPLES_PER_PACKET, ssrc,
                                                 chunk, marker=(i == 0))))
    _write_pcap(path, frames)
    return path


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def write_dtmf(path: Path, digits: str, ssrc: int, seq0: int = 5000, ts0: int = 80000,
               gap_ms: int = 200) -> Path:
    """RFC 4733 events for ``digits``: per digit 5 updates (every 20 ms) and 3 end packets.

    All packets of one event carry the event's start timestamp and growing duration (RFC 4733
    §2.5.1.2); the first has the marker bit set (§2.5.1.3). Volume 10 (-10 dBm0).
    """
    frames, seq, t_ms, ts = [], seq0, 0, ts0
    for digit in digits:
        event = DTMF_EVENTS[digit]
        for k in range(1, 6):
            payload = struct.pack("!BBH", event, 10, k * SAMPLES_PER_PACKET)
            frames.append((t_ms / 1000, _rtp(101, seq, ts, ssrc, payload, marker=(k == 1))))
            seq, t_ms = seq + 1, t_ms + PTIME_MS
        for _ in range(3):
            payload = struct.pack("!BBH", event, 0x80 | 10, 5 * SAMPLES_PER_PACKET)
            frames.append((t_ms / 1000, _rtp(101, seq, ts, ssrc, payload)))
            seq = seq + 1
        t_ms += gap_ms
        ts += (5 * PTIME_MS + gap_ms) * 8
    _write_pcap(path, frames)
    return path
