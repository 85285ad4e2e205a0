"""The RTP statistics engine's output: one frozen record per stream, built once at the end from the table's
columns, and the whole result (streams, DTMF events, RTCP, capture hiccups).

Units are in the names (ARCHITECTURE.md): `_ms`, `_s`, `_pct`, `_kbps`, `_ns`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .capturehealth import CaptureHiccup
from .dtmf import DtmfEvent
from .rtcp import RtcpResult
from .rtpholes import HoleTable, StreamHoles
from .rtpseries import SeriesTable, StreamSeries

# Whether a stream's RTP timestamps follow its payload's clock (RFC 3550 §5.1): measured over at least 50 packets and
# 1 s, a rate more than 10 % off is a clock mismatch (RULES.md codec.timestamp-clock-mismatch).
CLOCK_DEVIATION, CLOCK_MIN_PACKETS, CLOCK_MIN_S = 0.10, 50, 1.0


class RtpStreamStats(NamedTuple):
    """One RTP stream: (src, dst, SSRC) in one direction (RULES.md §0.3). A NamedTuple, not a dataclass: a large
    capture has tens of thousands and they cross the capture process's pipe (a fifth of the construction cost).

    Loss follows RFC 3550 A.1/A.3: expected from the extended highest sequence number, restarts after a jump
    of MAX_DROPOUT start a new epoch; `lost` counts packets never received (a duplicate does not make up for a
    lost packet), `lost_wireshark` is Wireshark 4.0's figure (expected - packets, duplicates counted).
    Delta and jitter follow Wireshark 4.0 (RULES.md §1.1 rule 3): see sipdiag.rtpjitter.
    """

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    ssrc: int
    payload_type: int  # of the first packet (tshark's; it may be comfort noise, an RFC 4733 event, a keep-alive)
    # the main payload type, the one of most media packets (rtpfinal._main_type): the one `codec` names and the
    # rules judge the stream's media by; payload_type in a stream of one type
    main_payload_type: int
    payload_types: tuple[int, ...]  # every payload type seen
    codec: str | None  # encoding of main_payload_type
    clock_rate: int | None  # the clock the jitter was computed with; None: no clock, no jitter
    clock_source: str  # static | sdp | caller | inferred | none
    first_frame: int
    last_frame: int
    start_ns: int
    end_ns: int
    # The figures measured on arrival times (duration, arrival deltas, jitter, bit rate, jitter buffer, timestamp
    # against arrival) are None where the capture's clock steps between the stream's first and last packet: see
    # across_clock_step.
    duration_s: float | None  # of the media (media_start_ns to media_end_ns), not of its keep-alives
    packets: int
    expected: int
    lost: int
    loss_pct: float
    lost_wireshark: int
    duplicates: int
    out_of_order: int  # late packets that are not duplicates
    sequence_restarts: int  # RFC 3550 A.1 restarts (two sequential packets after a jump)
    sequence_jumps: int  # packets ignored as a jump of more than MAX_DROPOUT
    loss_runs: int  # gaps in the sequence (bursts of consecutive lost packets)
    loss_run_max: int  # the longest one, in packets
    burst_ratio: float | None  # G.107 BurstR = 1/(p+q) of the two-state loss model; None without loss
    max_delta_ms: float | None  # Wireshark's: from the last regular packet, timestamp order included
    max_delta_frame: int | None
    # The longest interval between consecutive packets of media in arrival order, keep-alives and the ends of a
    # silence (marker bit, comfort noise) left out, and the frame that ended it (sipdiag.rtpgap): how long the
    # receiver went without audio, where max delta also spans packets whose timestamps are out of sequence.
    arrival_gap_ms: float | None
    arrival_gap_frame: int | None
    jitter_mean_ms: float | None
    jitter_max_ms: float | None
    jitter_last_ms: float | None  # the running J at the last packet (what an RTCP RR would carry)
    markers: int
    payload_type_changes: int  # changes between payload types other than comfort noise
    timestamp_jumps: int | None  # timestamp vs arrival discontinuities over 1 s
    wrong_timestamps: int  # timestamps before the first one (Wireshark's "Incorrect timestamp")
    bytes: int  # RTP bytes (UDP payloads)
    bitrate_kbps: float | None  # of the media, IP level (RTP + UDP 8 + IP 20/40 octets per packet) over the duration
    late_50ms: int | None  # packets a fixed 50 ms jitter buffer would discard as late (RULES.md §1.3)
    late_200ms: int | None
    late_adaptive: int | None
    effective_loss_pct_50ms: float | None  # (lost + late) / expected
    effective_loss_pct_200ms: float | None
    effective_loss_pct_adaptive: float | None
    jitter_buffer_resyncs: int | None
    previous_ssrc: int | None  # the SSRC this 5-tuple carried before this one (an SSRC change), if any
    rtp_like: bool  # passes the capture layer's sequence test (enough packets, sequence numbers close together)
    # RTP timestamp units from the first packet of media to the last (mod 2^32; sipdiag.rtpspan): over duration_s it
    # is the sender's clock, which codec.timestamp-clock-mismatch compares with the payload format's (RFC 3550 §5.1).
    timestamp_span: int = 0
    # DSCP of the stream's first packet (RFC 2474; None where the IP header was not read, e.g. inside a tunnel), and
    # how many of its packets carried another DSCP (re-marking on the way, qos.dscp-marking)
    dscp: int | None = None
    dscp_remarked: int = 0
    # the sender's clock against the capture's: least-squares timestamp rate / nominal clock - 1, in ppm (positive:
    # runs fast); None without a clock or with too little media to fit (sipdiag.rtpdrift)
    clock_drift_ppm: float | None = None
    clock_fit_residual_ms: float | None = None  # RMS distance from that fit: small for a steady drift
    # Of `packets`, the RFC 6263 keep-alives: packets that carry no media (no payload at all, or the 4 octets of an
    # unnegotiated type that never lasted as an RFC 4733 event). They are RTP packets on the wire and stay in every
    # figure tshark's `-z rtp,streams` gives (packets, sequence accounting, deltas); the media figures leave them
    # out: media_packets, loss_pct, the MOS and the call's audio verdict (sipdiag.media).
    keepalives: int = 0
    # The span of the media (sipdiag.rtpspan): the first and the last packet that is no keep-alive, capture order; None
    # in a stream of keep-alives alone. duration_s, bitrate_kbps and timestamp_span are measured over it, as the loss
    # and the MOS count the media packets; first_frame..last_frame and start_ns..end_ns are the stream on the wire.
    media_first_frame: int | None = None
    media_last_frame: int | None = None
    media_start_ns: int | None = None
    media_end_ns: int | None = None
    # extended sequence numbers from the first packet of media to the last: the packet intervals duration_s and
    # timestamp_span cover (keep-alives inside the span take sequence numbers like media, RFC 6263 §4.6)
    media_sequence_span: int = 0
    # (payload type, packets of media) in the order the types first carried media (sipdiag.rtpptcount): empty and
    # event-shaped packets of an unnamed type left out; bounded to rtpptcount.PT_SLOTS types, a further type counts
    # none
    media_packets_by_type: tuple[tuple[int, int], ...] = ()

    @property
    def key(self) -> tuple[str, int, str, int, int]:
        return self.src_ip, self.src_port, self.dst_ip, self.dst_port, self.ssrc

    @property
    def media_packets(self) -> int:
        """The packets that carried media: all of them but the keep-alives."""
        return self.packets - self.keepalives

    def media_packets_of(self, payload_type: int) -> int:
        """The packets of media of one payload type (0 for a type past the count's slots)."""
        return dict(self.media_packets_by_type).get(payload_type, 0)

    @property
    def codec_label(self) -> str:
        """The codec's name, or the main payload type's number where no SDP or static table names it."""
        return self.codec or str(self.main_payload_type)

    @property
    def clock_ratio(self) -> float | None:
        """How fast the RTP timestamps advanced against arrival time, in units of the payload's clock: 1.0 when
        they follow it (RFC 3550 §5.1), 2.0 for a sender stamping a 16 kHz clock under an 8 kHz rtpmap. None
        without a clock, over fewer than CLOCK_MIN_PACKETS packets or CLOCK_MIN_S seconds, or across a clock step."""
        if not self.clock_rate or self.packets < CLOCK_MIN_PACKETS or self.duration_s is None or \
                self.duration_s < CLOCK_MIN_S:
            return None
        return self.timestamp_span / self.duration_s / self.clock_rate

    @property
    def clock_fits(self) -> bool:
        """The timestamps follow the payload's clock, or the stream is too short to tell."""
        ratio = self.clock_ratio
        return ratio is None or abs(ratio - 1) <= CLOCK_DEVIATION

    @property
    def clock_stepped(self) -> bool:
        """The capture's clock steps within the stream: its arrival figures are None (across_clock_step)."""
        return self.duration_s is None

    def across_clock_step(self) -> RtpStreamStats:
        """This stream where the capture's clock steps between its first and last packet: what was measured on
        arrival times is not a measurement, so it is None (sequence numbers, RTP timestamps, packets, loss and
        duplicates do not depend on the capture's clock and stay)."""
        return self._replace(**dict.fromkeys(ARRIVAL_FIGURES))

    @property
    def arrival_ptime_ms(self) -> float | None:
        """Arrival time per sequence number over the media's span: the packet time, or an average stretched by
        silence suppression; None without two packets of media or across a clock step."""
        if self.media_sequence_span < 1 or not self.duration_s:
            return None
        return self.duration_s * 1000.0 / self.media_sequence_span

    @property
    def timestamp_ptime_ms(self) -> float | None:
        """Audio per packet from the timestamps (units per sequence number over the clock: 320 at 8000 Hz is
        40 ms); the packet time only where no talkspurt gaps stretch it (one marker bit at most, RFC 3551 §4.1)."""
        if not self.clock_rate or self.media_sequence_span < 1 or self.markers > 1:
            return None
        return self.timestamp_span * 1000.0 / self.clock_rate / self.media_sequence_span


# RtpStreamStats fields measured on the capture's arrival times (None across a clock step)
ARRIVAL_FIGURES = (
    "duration_s", "max_delta_ms", "max_delta_frame", "arrival_gap_ms", "arrival_gap_frame", "jitter_mean_ms",
    "jitter_max_ms", "jitter_last_ms", "timestamp_jumps", "bitrate_kbps", "late_50ms", "late_200ms", "late_adaptive",
    "effective_loss_pct_50ms", "effective_loss_pct_200ms", "effective_loss_pct_adaptive", "jitter_buffer_resyncs",
    "clock_drift_ppm", "clock_fit_residual_ms",
)


@dataclass(frozen=True, slots=True)
class RtpStatsResult:
    streams: tuple[RtpStreamStats, ...]  # in order of their first packet
    dtmf: tuple[DtmfEvent, ...]
    rtcp: RtcpResult
    hiccups: tuple[CaptureHiccup, ...]
    payload_type_changes: tuple[tuple[int, int, int, int], ...]  # (stream, frame, from PT, to PT), first few each
    dropped: dict[str, int]  # what the bounded stores did not keep: series, gaps, dtmf
    series: SeriesTable | None = None  # per-second packets, loss and jitter of every stream (bounded)
    holes: HoleTable | None = None  # the sequence numbers each stream's capture missed (bounded, rtpholes)

    def series_of(self, stream: int) -> StreamSeries | None:
        """The per-second series of streams[stream]."""
        return self.series.of(stream) if self.series is not None else None

    def holes_of(self, stream: int) -> StreamHoles | None:
        """The sequence numbers the capture missed of streams[stream]."""
        return self.holes.of(stream) if self.holes is not None else None

    def stream(self, src_ip: str, src_port: int, dst_ip: str, dst_port: int, ssrc: int) -> RtpStreamStats | None:
        for s in self.streams:
            if s.key == (src_ip, src_port, dst_ip, dst_port, ssrc):
                return s
        return None
