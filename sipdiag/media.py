"""Binding RTP streams to calls, and the per-call media verdict (issue 5).

A stream is bound, in this order (STYLE.md G9; RULES.md §0.3):
1. `sdp`: it was sent to an address and port one side announced in an offer or answer of the call (RFC 3264),
   while the call was alive;
2. `latching`: it was sent to the source of a stream already bound to the call (symmetric RTP / comedia: a
   media relay answers to where the phone's packets came from, which behind a NAT is not the SDP address);
3. `heuristic`: its endpoints are the call's signalling hosts and its time lies within the call.
The direction (caller->callee or callee->caller) comes from whose address it was sent to.

The verdict says what a support engineer asks first: was there audio both ways, and if not, which way is missing
and whether it was sent somewhere the other side cannot receive (a private address across a NAT).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from .codecs import codec_info
from .dtmf import DtmfEvent
from .model import Call
from .quality import EModelResult, r_factor
from .rtpresult import RtpStatsResult, RtpStreamStats
from .rtpseries import StreamSeries

# Streams and calls are matched in time with this slack: RTP may start a little before the 200 OK (early media,
# a fast answerer) and trail the BYE.
SLACK_NS = 5 * 10**9
# Fewer packets than this in a direction is "no audio" for the verdict (a handful of packets is a probe or a
# comfort-noise burst, not speech; 25 packets = 0.5 s of 20 ms audio).
MIN_AUDIO_PACKETS = 25
# RTP that ends this long before the call did means media stopped mid-call (RULES.md call.media-timeout-or-hung).
MEDIA_STOPPED_S = 5.0


class StreamLike(Protocol):
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    ssrc: int
    packets: int
    start_ns: int  # first packet's arrival
    end_ns: int  # last packet's arrival


@dataclass(frozen=True, slots=True)
class Binding:
    """How one stream belongs to a call: `call_id` None when nothing bound it."""

    call_id: str | None
    direction: str | None  # caller->callee | callee->caller
    bound_by: str  # sdp | latching | heuristic | none


@dataclass(frozen=True, slots=True)
class MediaVerdict:
    """The call's audio in one sentence and the facts behind it."""

    call_id: str
    verdict: str  # two-way | one-way | no-rtp | not-answered
    missing_direction: str | None  # for one-way: caller->callee or callee->caller
    unreachable_target: str | None  # "ip:port" media was sent to that the receiver cannot be reached at
    private_target_from_public: bool  # RTP sent to a private address by a host with a public address
    stopped_early_s: float | None  # how long before the end of the call the last RTP arrived
    packets_to_callee: int
    packets_to_caller: int
    detail: str


@lru_cache(maxsize=4096)
def is_private(ip: str) -> bool:
    """Not reachable across the Internet (RULES.md §0.4, as Kamailio nathelper): RFC 1918, RFC 6598 CGNAT,
    192.0.0.0/24, link-local, loopback, IPv6 ULA and link-local. Documentation ranges (RFC 5737) count as
    public: the lab and examples use them for public hosts, and Python's `is_private` would call them private."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in (_PRIVATE4 if addr.version == 4 else _PRIVATE6))


_PRIVATE4 = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24", "169.254.0.0/16",
    "127.0.0.0/8"))
_PRIVATE6 = tuple(ipaddress.ip_network(n) for n in ("fc00::/7", "fe80::/10", "::1/128"))


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0].strip("[]")


def _call_span(call: Call, capture_end_ns: int) -> tuple[int, int]:
    end = call.messages[-1].ts_ns if call.messages else call.start_ns
    if call.bye_frame is None and call.outcome in ("answered", "in-progress"):
        end = max(end, capture_end_ns)
    return call.start_ns - SLACK_NS, end + SLACK_NS


def bind_streams(streams: Sequence[StreamLike], calls: Sequence[Call], capture_end_ns: int) -> list[Binding]:
    """One Binding per stream, in the streams' order."""
    # (ip, port) announced in SDP -> [(call index, role that receives there)]
    announced: dict[tuple[str, int], list[tuple[int, str]]] = {}
    spans = [_call_span(c, capture_end_ns) for c in calls]
    for i, call in enumerate(calls):
        for n in call.negotiations:
            answerer = "callee" if n.offerer == "caller" else "caller"
            for role, media in ((n.offerer, n.offer), (answerer, n.answer or ())):
                for m in media:
                    if m.address and m.port:
                        announced.setdefault((m.address, m.port), []).append((i, role))
    result: list[Binding | None] = [None] * len(streams)

    def overlap(i: int, s: StreamLike) -> int:
        lo, hi = spans[i]
        return min(hi, s.end_ns) - max(lo, s.start_ns)

    for k, s in enumerate(streams):
        candidates = [(i, role) for i, role in announced.get((s.dst_ip, s.dst_port), ()) if overlap(i, s) > 0]
        if candidates:
            i, role = max(candidates, key=lambda c: overlap(c[0], s))
            result[k] = Binding(calls[i].call_id, _direction_to(role), "sdp")
    # Latching: a stream sent to where a bound stream came from belongs to that call, the other way round.
    sources = {(s.src_ip, s.src_port): result[k] for k, s in enumerate(streams) if result[k] is not None}
    for k, s in enumerate(streams):
        if result[k] is None:
            b = sources.get((s.dst_ip, s.dst_port))
            if b is not None and b.call_id is not None:
                result[k] = Binding(b.call_id, _reverse(b.direction), "latching")
    by_host: dict[str, list[int]] = {}
    for i, call in enumerate(calls):
        for host in {_host(call.caller_address), _host(call.callee_address)}:
            by_host.setdefault(host, []).append(i)
    for k, s in enumerate(streams):
        if result[k] is None:
            near = sorted(set(by_host.get(s.src_ip, ())) | set(by_host.get(s.dst_ip, ())))
            result[k] = _heuristic(s, calls, near, overlap)
    return [b for b in result if b is not None]


def _heuristic(s: StreamLike, calls: Sequence[Call], near: Sequence[int], overlap) -> Binding:
    """Among the calls signalled by one of the stream's hosts, the one it overlaps most in time."""
    best = None
    for i in near:
        call = calls[i]
        caller, callee = _host(call.caller_address), _host(call.callee_address)
        if {s.src_ip, s.dst_ip} & {caller, callee} and overlap(i, s) > 0:
            direction = "caller->callee" if s.src_ip == caller or s.dst_ip == callee else "callee->caller"
            if best is None or overlap(i, s) > best[0]:
                best = (overlap(i, s), Binding(call.call_id, direction, "heuristic"))
    return best[1] if best else Binding(None, None, "none")


def _direction_to(receiver_role: str) -> str:
    return "callee->caller" if receiver_role == "caller" else "caller->callee"


def _reverse(direction: str | None) -> str | None:
    return {"caller->callee": "callee->caller", "callee->caller": "caller->callee"}.get(direction or "")


def media_verdict(call: Call, mine: Sequence[tuple[StreamLike, Binding]]) -> MediaVerdict:
    """The audio verdict of one call from the (stream, binding) pairs bound to it."""
    to_callee = sum(s.packets for s, b in mine if b.direction == "caller->callee")
    to_caller = sum(s.packets for s, b in mine if b.direction == "callee->caller")
    base = dict(call_id=call.call_id, packets_to_callee=to_callee, packets_to_caller=to_caller)
    private_from_public = any(is_private(s.dst_ip) and not is_private(s.src_ip) for s, _ in mine)
    if call.outcome != "answered":
        return MediaVerdict(verdict="not-answered", missing_direction=None, unreachable_target=None,
                            private_target_from_public=private_from_public, stopped_early_s=None,
                            detail=f"the call was not answered ({call.outcome})", **base)
    if to_callee < MIN_AUDIO_PACKETS and to_caller < MIN_AUDIO_PACKETS:
        return MediaVerdict(verdict="no-rtp", missing_direction=None, unreachable_target=None,
                            private_target_from_public=private_from_public, stopped_early_s=None,
                            detail="no audio in either direction", **base)
    unreachable = next((f"{s.dst_ip}:{s.dst_port}" for s, _ in mine
                        if is_private(s.dst_ip) and not is_private(s.src_ip)), None)
    # A direction whose packets all went to an address the receiver cannot be reached at is missing too.
    reach_callee = sum(s.packets for s, b in mine if b.direction == "caller->callee"
                       and not (is_private(s.dst_ip) and not is_private(s.src_ip)))
    reach_caller = sum(s.packets for s, b in mine if b.direction == "callee->caller"
                       and not (is_private(s.dst_ip) and not is_private(s.src_ip)))
    stopped = _stopped_early(call, [s for s, _ in mine])
    if reach_callee >= MIN_AUDIO_PACKETS and reach_caller >= MIN_AUDIO_PACKETS:
        detail = "audio flows both ways"
        if stopped is not None:
            detail += f", but stops {stopped:.1f} s before the call ends"
        return MediaVerdict(verdict="two-way", missing_direction=None, unreachable_target=unreachable,
                            private_target_from_public=private_from_public, stopped_early_s=stopped,
                            detail=detail, **base)
    missing = "caller->callee" if reach_callee < MIN_AUDIO_PACKETS else "callee->caller"
    who = "the callee hears nothing" if missing == "caller->callee" else "the caller hears nothing"
    sent = to_callee if missing == "caller->callee" else to_caller
    if sent >= MIN_AUDIO_PACKETS and unreachable:
        detail = f"one-way audio: {who}; {sent} packets were sent to {unreachable}, a private address the " \
                 f"receiver cannot be reached at from the public side"
    else:
        detail = f"one-way audio: {who} ({sent} packets {missing})"
    return MediaVerdict(verdict="one-way", missing_direction=missing, unreachable_target=unreachable,
                        private_target_from_public=private_from_public, stopped_early_s=stopped, detail=detail,
                        **base)


def _stopped_early(call: Call, streams: Sequence[StreamLike]) -> float | None:
    if call.bye_frame is None or not streams:
        return None
    bye = next((m.ts_ns for m in call.messages if m.frame == call.bye_frame), None)
    if bye is None:
        return None
    last = max(s.end_ns for s in streams)
    gap = (bye - last) / 1e9
    return round(gap, 3) if gap >= MEDIA_STOPPED_S else None


@dataclass(frozen=True, slots=True)
class MediaStream:
    """One measured RTP stream, bound (or not) to a call, with its quality."""

    stats: RtpStreamStats
    binding: Binding
    quality: EModelResult | None  # None where the codec has no E-model values (video, unknown)
    series: StreamSeries | None = None  # per-second packets, loss and jitter (bounded), for charts

    @property
    def call_id(self) -> str | None:
        return self.binding.call_id


@dataclass(frozen=True, slots=True)
class CallMedia:
    """Everything media of one call: its streams (indexes into Analysis.streams), verdict and DTMF digits."""

    call_id: str
    streams: tuple[int, ...]
    verdict: MediaVerdict
    dtmf: tuple[DtmfEvent, ...]
    info_dtmf: tuple[tuple[int, str, int | None], ...]  # SIP INFO DTMF (frame, digit, duration ms)


def stream_quality(s: RtpStreamStats) -> EModelResult | None:
    """The E-model of a stream from what was measured: network loss, the packets a 50 ms jitter buffer would
    discard, the burstiness of the loss (RULES.md §1.3, §1.4)."""
    if not s.codec or s.packets < MIN_AUDIO_PACKETS:
        return None
    expected = max(s.expected, s.packets, 1)
    # Inputs rounded to 1e-4 (far below what changes a MOS shown to two decimals) so that the many streams of
    # a large capture with the same figures share one computation.
    return _quality(s.codec, round(max(s.lost, 0) * 100.0 / expected, 4), round(s.late_50ms * 100.0 / expected, 4),
                    round(s.burst_ratio or 1.0, 4))


@lru_cache(maxsize=8192)
def _quality(codec_name: str, loss_pct: float, discard_pct: float, burst: float) -> EModelResult | None:
    codec = codec_info(codec_name)
    if codec is None:
        return None
    return r_factor(codec=codec, loss_pct=loss_pct, discard_pct=discard_pct, burst_ratio=burst)


def build_media(result: RtpStatsResult, calls: Sequence[Call], capture_end_ns: int,
                ) -> tuple[tuple[MediaStream, ...], tuple[CallMedia, ...]]:
    """Bind every RTP-like stream to its call, rate it, and give each call its verdict and DTMF."""
    kept = [k for k, s in enumerate(result.streams) if s.rtp_like]
    stats = [result.streams[k] for k in kept]
    bindings = bind_streams(stats, calls, capture_end_ns)
    streams = tuple(MediaStream(s, b, stream_quality(s), result.series_of(k))
                    for k, s, b in zip(kept, stats, bindings))
    # DTMF events name their stream by its index in result.streams; find the call that stream was bound to.
    call_of_stream = {}
    bound = iter(zip(stats, bindings))
    for k, s in enumerate(result.streams):
        if s.rtp_like:
            call_of_stream[k] = next(bound)[1].call_id
    by_call: dict[str | None, list[int]] = {}
    for i, m in enumerate(streams):
        by_call.setdefault(m.call_id, []).append(i)
    dtmf_by_call: dict[str | None, list[DtmfEvent]] = {}
    for e in result.dtmf:
        dtmf_by_call.setdefault(call_of_stream.get(e.stream), []).append(e)
    media = []
    for call in calls:
        mine = tuple(by_call.get(call.call_id, ()))
        verdict = media_verdict(call, [(streams[i].stats, streams[i].binding) for i in mine])
        media.append(CallMedia(call.call_id, mine, verdict, tuple(dtmf_by_call.get(call.call_id, ())),
                               call.info_dtmf))
    return streams, tuple(media)
