"""RFC 4733 telephone events (DTMF) from the RTP columns' first payload word.

An event's packets share one RTP timestamp (the event's start, §2.3.1); the duration field grows with every
packet (§2.5.1.2); the last packets carry the E bit, and the end packet is sent three times (§2.5.1.4). So one
event per (stream, timestamp): digit, start frame, duration, whether its end was seen and how many times the end
was repeated. Events are few, so they are kept as Python objects; only the packets that can be events (a
telephone-event payload type, or by default any 4-octet payload of a dynamic type) come here.

Payload word (§2.3): event (8 bits) | E (1) | R (1) | volume (6, -dBm0) | duration (16, timestamp units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EVENT_NAMES = "0123456789*#ABCD"  # RFC 4733 §3.2, events 0-15
FLASH = 16
MAX_EVENTS = 100_000
DEFAULT_EVENT_CLOCK = 8000


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    """One RFC 4733 event. `stream` indexes RtpStatsResult.streams."""

    stream: int
    event: int
    digit: str  # "0"-"9", "*", "#", "A"-"D", "flash", or "event-N"
    start_frame: int
    start_ns: int
    end_frame: int | None  # first packet with the E bit
    duration_ms: float  # the largest duration field, in ms of the event's clock
    end_seen: bool
    end_retransmits: int  # E-bit packets after the first one (§2.5.1.4 sends the end three times)
    volume_dbm0: int  # the power level, as -dBm0
    packets: int
    heuristic: bool  # payload type taken for telephone-event by its shape, no SDP said so


def event_name(event: int) -> str:
    if event < len(EVENT_NAMES):
        return EVENT_NAMES[event]
    return "flash" if event == FLASH else f"event-{event}"


def plausible_events(word: np.ndarray) -> np.ndarray:
    """Words that look like a DTMF event: event 0-16 and the reserved bit clear."""
    return ((word >> 24) <= FLASH) & ((word & 0x400000) == 0)


# Cisco's Named Signaling Events (IANA audio/vnd.cisco.nse, encoding name X-NSE, payload type 100 by default) take
# RFC 2833's event layout with numbers of their own: 192-194 fax and modem tones and carrier loss, 199 modem relay,
# 200-202 the switch to T.38 with its ACK and NACK.
NSE_FIRST = 192


def plausible_nse(word: np.ndarray) -> np.ndarray:
    """Words that look like a Cisco NSE: event 192 or more and the reserved bit clear."""
    return ((word >> 24) >= NSE_FIRST) & ((word & 0x400000) == 0)


class DtmfTracker:
    def __init__(self) -> None:
        self.current: dict[int, list] = {}  # row -> the open event's fields
        self.closed: list[list] = []
        self.dropped = 0

    def add(self, rows: np.ndarray, timestamps: np.ndarray, words: np.ndarray, frames: np.ndarray,
            t_ns: np.ndarray, clocks: np.ndarray, heuristic: np.ndarray, ext: np.ndarray, sizes: np.ndarray) -> None:
        """Packets that carry events, in capture order within each stream (ext: extended sequence numbers; sizes:
        UDP payload bytes, for the media span of the events taken by their shape: spans)."""
        for row, ts, word, frame, t, clock, guess, seq, size in zip(
                rows.tolist(), timestamps.tolist(), words.tolist(), frames.tolist(), t_ns.tolist(), clocks.tolist(),
                heuristic.tolist(), ext.tolist(), sizes.tolist()):
            event, end, volume, duration = word >> 24, bool(word & 0x800000), (word >> 16) & 0x3F, word & 0xFFFF
            cur = self.current.get(row)
            if cur is None or cur[1] != ts or cur[2] != event:
                if cur is not None:
                    self._close(cur)
                # row, timestamp, event, start frame, start ns, end frame, duration, end retransmits, volume,
                # packets, clock, heuristic, then for `spans`: the first packet's extended sequence number, the last
                # packet's frame, ns and extended sequence number, and the bytes
                cur = self.current[row] = [row, ts, event, frame, t, None, 0, 0, volume, 0, clock, guess, seq,
                                           frame, t, seq, 0]
            cur[9] += 1
            cur[13], cur[14], cur[15] = frame, t, seq
            cur[16] += size
            cur[6] = max(cur[6], duration)
            cur[8] = volume
            if end:
                if cur[5] is None:
                    cur[5] = frame
                else:
                    cur[7] += 1

    def _close(self, cur: list) -> None:
        if len(self.closed) >= MAX_EVENTS:
            self.dropped += 1
        else:
            self.closed.append(cur)

    def events(self, stream_of_row: dict[int, int]) -> tuple[DtmfEvent, ...]:
        """All events, open ones included, in order of their first packet; not the keep-alives (keepalives)."""
        pending = self.closed + list(self.current.values())
        out = []
        for row, _ts, event, start_frame, start_ns, end_frame, duration, repeats, volume, packets, clock, guess in (
            cur[:12] for cur in sorted(pending, key=lambda c: c[3])
        ):
            if row not in stream_of_row or _keepalive(guess, duration, end_frame):
                continue
            out.append(DtmfEvent(stream_of_row[row], event, event_name(event), start_frame, start_ns, end_frame,
                                 duration * 1000 / (clock or DEFAULT_EVENT_CLOCK), end_frame is not None, repeats,
                                 volume, packets, guess))
        return tuple(out)

    def keepalives(self) -> dict[int, int]:
        """Packets per table row that were taken for an event by their shape but are RFC 6263 keep-alives (see
        _keepalive). Events past MAX_EVENTS are not counted."""
        out: dict[int, int] = {}
        for cur in (*self.closed, *self.current.values()):
            if _keepalive(cur[11], cur[6], cur[5]):
                out[cur[0]] = out.get(cur[0], 0) + cur[9]
        return out

    def spans(self) -> list[tuple]:
        """The events taken by their shape that were real (not keep-alives), for the media span (rtpspan.media_spans):
        (row, packets, bytes, (first packet's ns, frame, timestamp, ext), (last packet's ...)); all packets of an
        event carry its start timestamp (RFC 4733 §2.3.1). Events past MAX_EVENTS are not counted."""
        return [(cur[0], cur[9], cur[16], (cur[4], cur[3], cur[1], cur[12]), (cur[14], cur[13], cur[1], cur[15]))
                for cur in (*self.closed, *self.current.values())
                if cur[11] and not _keepalive(cur[11], cur[6], cur[5])]


def _keepalive(guess: bool, duration: int, end_frame: int | None) -> bool:
    """Taken for an event by its shape only, and it never lasted nor ended: a 4-byte payload of a type nobody
    negotiated that stays at duration 0 is an RFC 6263 §4.6 NAT keep-alive (an RTP packet of an unknown payload
    type, sent on a stream that has no media to send), not a key press: RFC 4733 §2.5.1.2 updates the duration in
    every packet of a real event and §2.5.1.4 ends it."""
    return guess and not duration and end_frame is None
