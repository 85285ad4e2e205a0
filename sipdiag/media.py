"""Binding RTP streams to calls, and the per-call media verdict (issue 5).

A stream is bound, in this order (STYLE.md G9; RULES.md §0.3):
1. `sdp`: it was sent to an address and port one side announced in an offer or answer of the call (RFC 3264),
   while the call was alive;
2. `latching`: it was sent to the source of a stream already bound to the call (symmetric RTP / comedia: a
   media relay answers to where the phone's packets came from, which behind a NAT is not the SDP address);
3. `heuristic`: its endpoints are the call's signalling hosts and its time lies within the call; among several
   such calls, the one whose SDP ports name the stream's, then the answered one set up last before it (_heuristic).
Where several calls announced the same address, the one set up last before the stream began takes it. Where the
capture's clock steps (sipdiag.clocksteps), "within the call" and "before" are by frame number: the record times
then do not order the packets.
The direction (caller->callee or callee->caller) comes from whose address it was sent to.

The verdict says what a support engineer asks first: was there audio both ways, and if not, which way is missing
and whether it was sent somewhere the other side cannot receive (a private address across a NAT, or a port whose
host or a router on the way refused it with ICMP errors to the end: sipdiag.icmprefusal).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from .addresses import address_host, join_address
from .clocksteps import NO_STEPS, ClockSteps
from .codecs import VIDEO_CLOCK
from .dtmf import DtmfEvent
from .icmp import IcmpError, reason_ru
from .icmprefusal import IcmpRefusal, refusals
from .model import Call, Negotiation
from .parties import direction_en, direction_ru, party_en, party_ru
from .parsers.sdp import HOLD_ADDRESS
from .quality import EModelResult, rate_stream
from .rtpholes import StreamHoles
from .rtpresult import RtpStatsResult, RtpStreamStats
from .rtpseries import StreamSeries
from .russian import OUTCOMES_RU, agree

# Streams and calls are matched in time with this slack: RTP may start a little before the 200 OK (early media,
# a fast answerer) and trail the BYE.
SLACK_NS = 5 * 10**9
# Fewer packets than this in a direction is "no audio" for the verdict (a handful of packets is a probe or a
# comfort-noise burst, not speech; 25 packets = 0.5 s of 20 ms audio).
MIN_AUDIO_PACKETS = 25
# With silence suppression (VAD, RFC 3389 comfort noise) a talking or silent party sends far fewer packets than
# 50 a second: a direction with at least this many packets that keep coming for most of the connected call, no more
# than MEDIA_STOPPED_S apart on average, carries audio even below MIN_AUDIO_PACKETS (the RFC 3550 A.1 probation
# of 2 sequential packets, plus one).
MIN_SPARSE_PACKETS = 3
SPARSE_SPAN_SHARE = 0.5  # ... of the time from the answer to the end of the call
# A stream does not begin before the INVITE of its call (the answerer sends once it has answered, RFC 3264 §6;
# the offerer once it has offered, §5); this much earlier is still taken for clock differences between the
# interfaces of a capture.
START_SLACK_NS = 10**9
# RTP that ends this long before the call did means media stopped mid-call (RULES.md call.media-timeout-or-hung).
MEDIA_STOPPED_S = 5.0


class StreamLike(Protocol):
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    ssrc: int
    packets: int
    media_packets: int  # packets less the RFC 6263 keep-alives (RtpStreamStats.keepalives)
    start_ns: int  # first packet's arrival
    end_ns: int  # last packet's arrival
    first_frame: int
    last_frame: int
    # the span of the media (RtpStreamStats.media_*): None in a stream of keep-alives alone
    media_start_ns: int | None
    media_end_ns: int | None
    media_first_frame: int | None
    media_last_frame: int | None
    clock_rate: int | None  # the RTP clock; VIDEO_CLOCK marks a video stream


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
    # two-way | one-way | one-way-negotiated (the SDP asked for audio one way only: sendonly, recvonly; no fault) |
    # no-rtp | not-answered
    verdict: str
    missing_direction: str | None  # for one-way (negotiated or not): caller->callee or callee->caller
    unreachable_target: str | None  # "ip:port" media was sent to that the receiver cannot be reached at
    private_target_from_public: bool  # RTP sent to a private address by a host with a public address
    stopped_early_s: float | None  # how long before the end of the call the last RTP arrived
    packets_to_callee: int
    packets_to_caller: int
    detail: str
    detail_ru: str  # the same in Russian, as a sentence for the Russian notes (counts agree when rendered)

    def text(self, lang: str) -> str:
        """`detail` in `lang` as a report shows it: "ru" is detail_ru with its counts in agreement."""
        return agree(self.detail_ru) if lang == "ru" else self.detail


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


@lru_cache(maxsize=4096)  # as is_private
def is_shared_space(ip: str) -> bool:
    """In 100.64.0.0/10, RFC 6598's shared address space: private (is_private), but the space of a carrier-grade
    NAT between the customer's router and the Internet (or of an overlay VPN, RULES.md §0.4), not of a LAN."""
    try:
        return ipaddress.ip_address(ip) in _SHARED
    except ValueError:
        return False


@lru_cache(maxsize=4096)  # as is_private: the rules ask about the same few addresses for every call and stream
def is_loopback(ip: str | None) -> bool:
    """127.0.0.0/8 or ::1: an address that never leaves its host (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3); False for
    a host name or no address."""
    try:
        return ip is not None and ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


HOLD_ADDRESSES = ("0.0.0.0", "::")  # c= of a hold (RFC 3264 §8.4), not an address


_PRIVATE4 = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24", "169.254.0.0/16",
    "127.0.0.0/8"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 shared address space (carrier-grade NAT)
_PRIVATE6 = tuple(ipaddress.ip_network(n) for n in ("fc00::/7", "fe80::/10", "::1/128"))


@dataclass(frozen=True, slots=True)
class Axis:
    """Where calls and streams lie for binding: on the record times (ns), or, where the capture's clock steps, on
    the frame numbers, the one order a stepped clock does not break; there the slacks for clock differences are 0.
    end: the capture's last time, or its last frame."""

    by_frames: bool
    end: int

    def call_span(self, call: Call) -> tuple[int, int]:
        last = call.messages[-1] if call.messages else None
        end = (last.frame if self.by_frames else last.ts_ns) if last else self.start(call)
        # An answered call without a BYE may go on past the capture, and so may a ringing one whose answer came in
        # a provisional response (early media, RFC 3960). A ringing call without any SDP answer has no media path
        # yet (RFC 3264 §6: the answerer sends media once it has answered), so its span ends with its signalling:
        # running it to the end of the capture made it overlap, and take, every later stream (an attack capture
        # with one unanswered INVITE took the streams of the 29 answered calls after it).
        early = call.outcome == "in-progress" and any(n.answer for n in call.negotiations)
        if call.bye_frame is None and (call.outcome == "answered" or early):
            end = max(end, self.end)
        slack = 0 if self.by_frames else SLACK_NS
        return self.start(call) - slack, end + slack

    def start(self, call: Call) -> int:
        return call.start_at if self.by_frames else call.start_ns

    def stream(self, s: StreamLike) -> tuple[int, int]:
        return (s.first_frame, s.last_frame) if self.by_frames else (s.start_ns, s.end_ns)

    def time_fit(self, call: Call, s: StreamLike) -> tuple[bool, int]:
        """Sort key, larger fits better: the newest call set up before the stream began (a port reused by a later
        call belongs to that call from its setup on), else the earliest one set up after it."""
        start = self.start(call)
        started = start <= self.stream(s)[0] + (0 if self.by_frames else START_SLACK_NS)
        return started, start if started else -start


def _announced_ports(call: Call) -> dict[str, set[int]]:
    """The RTP ports each side announced in the call's offers and answers (RFC 3264), by role."""
    ports: dict[str, set[int]] = {"caller": set(), "callee": set()}
    for n in call.negotiations:
        answerer = "callee" if n.offerer == "caller" else "caller"
        for role, media in ((n.offerer, n.offer), (answerer, n.answer or ())):
            ports[role].update(m.port for m in media if m.port)
    return ports


def bind_streams(streams: Sequence[StreamLike], calls: Sequence[Call], capture_end_ns: int,
                 axis: Axis | None = None) -> list[Binding]:
    """One Binding per stream, in the streams' order. axis: by time up to capture_end_ns unless given."""
    axis = axis or Axis(False, capture_end_ns)
    # (ip, port) announced in SDP -> [(call index, role that receives there)]
    announced: dict[tuple[str, int], list[tuple[int, str]]] = {}
    spans = [axis.call_span(c) for c in calls]
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
        start, end = axis.stream(s)
        return min(hi, end) - max(lo, start)

    for k, s in enumerate(streams):
        candidates = [(i, role) for i, role in announced.get((s.dst_ip, s.dst_port), ()) if overlap(i, s) > 0]
        if candidates:
            # Several calls announced this address (a port reused call after call): the one set up last before
            # the stream began, not the one that overlaps it longest (a call without a BYE runs to the capture's
            # end and would overlap most with every later stream).
            i, role = max(candidates, key=lambda c: (axis.time_fit(calls[c[0]], s), overlap(c[0], s)))
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
        for host in {address_host(call.caller_address), address_host(call.callee_address)}:
            by_host.setdefault(host, []).append(i)
    ports: dict[int, dict[str, set[int]]] = {}
    for k, s in enumerate(streams):
        if result[k] is None:
            near = sorted(set(by_host.get(s.src_ip, ())) | set(by_host.get(s.dst_ip, ())))
            result[k] = _heuristic(s, calls, near, overlap, ports, axis)
    return [b for b in result if b is not None]


def _heuristic(s: StreamLike, calls: Sequence[Call], near: Sequence[int], overlap,
               ports: dict[int, dict[str, set[int]]], axis: Axis) -> Binding:
    """Among the calls signalled by one of the stream's hosts and alive when it flowed, the best fit, in this
    order: the sender's and the receiver's SDP ports (RFC 3264) name the stream's ports at their signalling hosts
    (behind a NAT or an anonymiser the SDP address differs, the port often not); both signalling hosts are the
    stream's; the call was answered; it was set up last before the stream began; it overlaps the stream longest."""
    best = None
    for i in near:
        call = calls[i]
        caller, callee = address_host(call.caller_address), address_host(call.callee_address)
        hosts = {s.src_ip, s.dst_ip} & {caller, callee}
        if not hosts or overlap(i, s) <= 0:
            continue
        direction = "caller->callee" if s.src_ip == caller or s.dst_ip == callee else "callee->caller"
        sender, receiver = ("caller", "callee") if direction == "caller->callee" else ("callee", "caller")
        if i not in ports:
            ports[i] = _announced_ports(call)
        host = {"caller": caller, "callee": callee}
        hits = ((s.src_ip == host[sender] and s.src_port in ports[i][sender])
                + (s.dst_ip == host[receiver] and s.dst_port in ports[i][receiver]))
        key = (hits, len(hosts), call.outcome == "answered", axis.time_fit(call, s), overlap(i, s))
        if best is None or key > best[0]:
            best = (key, Binding(call.call_id, direction, "heuristic"))
    return best[1] if best else Binding(None, None, "none")


def _direction_to(receiver_role: str) -> str:
    return "callee->caller" if receiver_role == "caller" else "caller->callee"


def _reverse(direction: str | None) -> str | None:
    return {"caller->callee": "callee->caller", "callee->caller": "caller->callee"}.get(direction or "")


def media_verdict(call: Call, pairs: Sequence[tuple[StreamLike, Binding]], clock: ClockSteps = NO_STEPS,
                  refused: Sequence[IcmpRefusal | None] = ()) -> MediaVerdict:
    """The audio verdict of one call from the (stream, binding) pairs bound to it. clock: where the capture's
    clock steps; no span is measured across a step (sipdiag.clocksteps). refused: per pair, in their order, the
    ICMP errors that refused that stream to its end (sipdiag.icmprefusal), else None; none when not given."""
    refused = [*refused, *[None] * (len(pairs) - len(refused))]
    # (stream, binding, refusal); the audio verdict: video is not sound, and a stream of RFC 6263 keep-alives
    # alone carried none (a recvonly or held phone keeping its NAT binding open is not sending audio)
    mine = [(s, b, r) for (s, b), r in zip(pairs, refused) if s.clock_rate != VIDEO_CLOCK and s.media_packets]

    to_callee = sum(s.media_packets for s, b, _ in mine if b.direction == "caller->callee")
    to_caller = sum(s.media_packets for s, b, _ in mine if b.direction == "callee->caller")
    base = dict(call_id=call.call_id, packets_to_callee=to_callee, packets_to_caller=to_caller)
    private_from_public = any(is_private(s.dst_ip) and not is_private(s.src_ip) for s, _, _ in mine)
    if call.outcome != "answered":
        return MediaVerdict(verdict="not-answered", missing_direction=None, unreachable_target=None,
                            private_target_from_public=private_from_public, stopped_early_s=None,
                            detail=f"the call was not answered ({call.outcome})",
                            detail_ru=f"Вызов не был отвечен ({OUTCOMES_RU.get(call.outcome, call.outcome)})",
                            **base)
    connected = _connected_ns(call, [s for s, _, _ in mine], clock)

    def carries(direction: str, reachable: bool) -> bool:
        return _carries_audio([s for s, b, r in mine if b.direction == direction
                               and not (reachable and not delivered(call, s, r))], connected, clock)

    # A burst one way and nothing at all the other way is one-way audio, as it is with more packets; a few packets
    # both ways are no audio.
    burst_only = min(to_callee, to_caller) == 0 and max(to_callee, to_caller) >= MIN_SPARSE_PACKETS
    if not carries("caller->callee", False) and not carries("callee->caller", False) and not burst_only:
        up, down = "caller->callee", "callee->caller"
        detail = ("no audio in either direction" if not to_callee + to_caller else
                  f"no audio in either direction (only {to_callee} packets {direction_en(call, up)} and "
                  f"{to_caller} {direction_en(call, down)})")
        detail_ru = ("Звука нет ни в одну сторону" if not to_callee + to_caller else
                     f"Звука нет ни в одну сторону (лишь {to_callee} пакетов {direction_ru(call, up)} и "
                     f"{to_caller} {direction_ru(call, down)})")
        return MediaVerdict(verdict="no-rtp", missing_direction=None, unreachable_target=None,
                            private_target_from_public=private_from_public, stopped_early_s=None,
                            detail=detail, detail_ru=detail_ru, **base)
    unreachable = next((join_address(s.dst_ip, s.dst_port) for s, _, r in mine if not delivered(call, s, r)), None)
    # A direction whose packets all went to an address the receiver cannot be reached at is missing too.
    reach_callee = carries("caller->callee", True)
    reach_caller = carries("callee->caller", True)
    stopped = _stopped_early(call, [s for s, _, _ in mine], clock)
    if reach_callee and reach_caller:
        detail, detail_ru = "audio flows both ways", "Звук идёт в обе стороны"
        if stopped is not None:
            detail += f", but stops {stopped:.1f} s before the call ends"
            detail_ru += f", но прекращается за {stopped:.1f} с до конца вызова"
        return MediaVerdict(verdict="two-way", missing_direction=None, unreachable_target=unreachable,
                            private_target_from_public=private_from_public, stopped_early_s=stopped,
                            detail=detail, detail_ru=detail_ru, **base)
    if reach_callee == reach_caller:  # neither reaches: the one that carried nothing at all is missing
        missing = "callee->caller" if to_callee and not to_caller else "caller->callee"
    else:
        missing = "caller->callee" if not reach_callee else "callee->caller"
    # the party that hears nothing is the missing direction's receiver, named by address when the capture does
    # not show who called (sipdiag.parties)
    deaf = "callee" if missing == "caller->callee" else "caller"
    who = f"{party_en(call, deaf)} hears nothing"
    who_ru = f"{party_ru(call, deaf, 'nom')} ничего не слышит"
    missing_en, missing_ru = direction_en(call, missing), direction_ru(call, missing)
    sent = to_callee if missing == "caller->callee" else to_caller
    said = negotiated_off(call, missing)
    if said is not None:
        said_ru = negotiated_off(call, missing, "ru")
        return MediaVerdict(verdict="one-way-negotiated", missing_direction=missing, unreachable_target=unreachable,
                            private_target_from_public=private_from_public, stopped_early_s=stopped,
                            detail=f"audio flows {direction_en(call, _reverse(missing))} only, as the SDP asked "
                                   f"({said}; RFC 3264 §6.1)",
                            detail_ru=f"Звук идёт только {direction_ru(call, _reverse(missing))}, как задано в SDP "
                                      f"({said_ru}; RFC 3264 §6.1)", **base)
    lost = next(((s, r) for s, b, r in mine if b.direction == missing and not delivered(call, s, r)), None)
    if carries(missing, False) and lost is not None:
        stream, refusal = lost
        target = join_address(stream.dst_ip, stream.dst_port)
        if refusal is None:
            detail = f"one-way audio: {who}; {sent} packets were sent to {target}, a private address the " \
                     f"receiver cannot be reached at from the public side"
            detail_ru = f"Звук в одну сторону: {who_ru}; на {target}, частный адрес, по которому получатель " \
                        f"недостижим с публичной стороны, отправлено пакетов: {sent}"
        else:
            # RFC 1122 §3.2.2.1: a port unreachable from the destination host means no application received them
            by = "its host refused them" if refusal.by_receiver(stream) else f"{refusal.reporter} on the way " \
                                                                          f"rejected them"
            by_ru = "узел получателя отклонял их" if refusal.by_receiver(stream) else f"{refusal.reporter} на пути " \
                                                                             f"отклонял их"
            detail = f"one-way audio: {who}; {sent} packets were sent to {target} and {by} to the end of the " \
                     f"stream with ICMP {refusal.reason} ({refusal.count} errors during the call)"
            detail_ru = f"Звук в одну сторону: {who_ru}; на {target} отправлено пакетов: {sent}, и {by_ru} до " \
                        f"конца потока ICMP-ошибками «{reason_ru(refusal.reason)}» (ошибок за время вызова: " \
                        f"{refusal.count})"
    elif sent:
        # A few packets are not audio: say how few against the call, not "hears nothing (24 packets)".
        span = _span_ns([s for s, b, _ in mine if b.direction == missing], clock)
        detail = (f"one-way audio: {who} (only {sent} packets {missing_en}, over {span / 1e9:.1f} s of the "
                  f"{connected / 1e9:.1f} s the call was connected)" if span is not None and connected is not None
                  else f"one-way audio: {who} (only {sent} packets {missing_en})")
        detail_ru = (f"Звук в одну сторону: {who_ru} (лишь {sent} пакетов {missing_ru} за {span / 1e9:.1f} с из "
                     f"{connected / 1e9:.1f} с соединения)" if span is not None and connected is not None
                     else f"Звук в одну сторону: {who_ru} (лишь {sent} пакетов {missing_ru})")
    else:
        detail = f"one-way audio: {who} (0 packets {missing_en})"
        detail_ru = f"Звук в одну сторону: {who_ru} (0 пакетов {missing_ru})"
    return MediaVerdict(verdict="one-way", missing_direction=missing, unreachable_target=unreachable,
                        private_target_from_public=private_from_public, stopped_early_s=stopped, detail=detail,
                        detail_ru=detail_ru, **base)


def delivered(call: Call, s: StreamLike, refusal: IcmpRefusal | None = None) -> bool:
    """Whether the stream's packets can reach its receiver. Public -> private packets were sent where the receiver
    cannot be reached across a NAT, unless the private address is the call's own signalling host: then the capture
    was taken on that LAN side (RULES.md §0.2) and what it shows arriving there was delivered. A stream refused with
    ICMP errors to its end (`refusal`, sipdiag.icmprefusal) was discarded on the way or at its receiver's host
    (RFC 1122 §3.2.2), whatever the capture shows on the wire."""
    if refusal is not None:
        return False
    lan = (address_host(call.caller_address), address_host(call.callee_address))
    return not (is_private(s.dst_ip) and not is_private(s.src_ip) and s.dst_ip not in lan)


SENDS = ("sendrecv", "sendonly")  # RFC 3264 §6.1: the direction attribute of the SDP's own side
RECEIVES = ("sendrecv", "recvonly")


def negotiated_off(call: Call, direction: str, lang: str = "en") -> str | None:
    """Why the SDP says no audio flows in `direction` (caller->callee or callee->caller), e.g. "caller recvonly,
    callee sendonly"; None where it may flow. It may when any answered offer/answer of the call has an audio stream
    that the sender may send on (sendrecv, sendonly) and the receiver receive on (sendrecv, recvonly, not held
    with c=0.0.0.0), RFC 3264 §6.1; a call without any answered audio negotiation is not said to be one-way.
    When the capture does not show who called the parties are named by address (sipdiag.parties), in `lang`."""
    sender, receiver = ("caller", "callee") if direction == "caller->callee" else ("callee", "caller")
    said = None
    for n in call.negotiations:
        if not n.answer or (n.status is not None and n.status >= 300):
            continue
        if n.offer_frame is None:
            flows, why = _answer_alone(call, n, sender, lang)
            if flows:
                return None
            said = why or said
            continue
        sides = {n.offerer: n.offer, ("callee" if n.offerer == "caller" else "caller"): n.answer}
        for out, into in zip(sides[sender], sides[receiver]):  # m-lines pair by position (RFC 3264 §6)
            if out.media != "audio" or not out.port or not into.port:
                continue
            if out.direction in SENDS and into.direction in RECEIVES and into.address != HOLD_ADDRESS:
                return None
            said = f"{_side(call, sender, lang)} {out.direction}, {_side(call, receiver, lang)} {into.direction}" \
                + (_held(lang) if into.address == HOLD_ADDRESS else "")
    return said


def _side(call: Call, role: str, lang: str) -> str:
    """A party in negotiated_off's reason: its role as the data names it ("caller recvonly"), in Russian in words
    ("вызывающий recvonly": the SDP attribute stays as written); by address when the capture does not show who
    called (sipdiag.parties)."""
    if lang != "en":
        return party_ru(call, role, "nom")
    return role if call.roles_known else party_en(call, role)


def _held(lang: str) -> str:
    return f" with c={HOLD_ADDRESS}" if lang == "en" else f" с c={HOLD_ADDRESS}"


def _answer_alone(call: Call, n: Negotiation, sender: str, lang: str = "en") -> tuple[bool, str | None]:
    """negotiated_off for an answer whose offer is not in the capture: (audio may flow from `sender`, why not).
    The answer tells the directions alone, as it may only narrow the offer's (RFC 3264 §6.1: sendrecv answers
    sendrecv, sendonly answers recvonly or sendrecv, recvonly answers sendonly or sendrecv); the offer's c= is
    unknown, and not taken for a hold."""
    answerer = "callee" if n.offerer == "caller" else "caller"
    why = None
    for m in n.answer or ():
        if m.media != "audio" or not m.port:
            continue
        if answerer == sender and m.direction in SENDS or (
                answerer != sender and m.direction in RECEIVES and m.address != HOLD_ADDRESS):
            return True, None
        why = f"{_side(call, answerer, lang)} {m.direction}" + (_held(lang) if m.address == HOLD_ADDRESS else "") \
            + (" in its answer to an offer the capture lacks" if lang == "en"
               else " в ответе на предложение, которого нет в записи")
    return False, why


def _span_ns(streams: Sequence[StreamLike], clock: ClockSteps = NO_STEPS) -> int | None:
    """From the first packet of media of the streams to their last (streams with media_packets; RFC 6263
    keep-alives around the media do not stretch a burst over the call); None across a clock step."""
    if not streams:
        return 0
    if not clock.sound(min(s.media_first_frame for s in streams), max(s.media_last_frame for s in streams)):
        return None
    return max(s.media_end_ns for s in streams) - min(s.media_start_ns for s in streams)


def _connected_ns(call: Call, streams: Sequence[StreamLike], clock: ClockSteps = NO_STEPS) -> int | None:
    """From the answer (the first 2xx to the INVITE, else the call's start) to the BYE, else to the last message or
    RTP packet of the call; None across a clock step."""
    answer, bye = call.answer_and_bye()
    start = (call.start_at, call.start_ns) if answer is None else (answer.frame, answer.ts_ns)
    if bye is not None:
        end = (bye.frame, bye.ts_ns)
    else:
        end = max([(m.frame, m.ts_ns) for m in call.messages] + [(s.last_frame, s.end_ns) for s in streams] + [start],
                  key=lambda e: e[1])
    if not clock.sound(start[0], end[0]):
        return None
    return max(end[1] - start[1], 0)


def _carries_audio(streams: Sequence[StreamLike], connected_ns: int | None, clock: ClockSteps = NO_STEPS) -> bool:
    """Whether one direction's streams carry audio: MIN_AUDIO_PACKETS packets, or fewer that keep coming for most of
    the connected call (silence suppression: VAD and RFC 3389 comfort noise send a few packets a second or less;
    a short call sends few). A burst at the start of a long call does not; nor do a few packets whose spread cannot
    be measured (a clock step)."""
    packets = sum(s.media_packets for s in streams)
    if packets >= MIN_AUDIO_PACKETS:
        return True
    if packets < MIN_SPARSE_PACKETS or connected_ns is None or connected_ns <= 0:
        return False
    span = _span_ns(streams, clock)
    return span is not None and span >= SPARSE_SPAN_SHARE * connected_ns and \
        span / (packets - 1) <= MEDIA_STOPPED_S * 1e9


def _stopped_early(call: Call, streams: Sequence[StreamLike], clock: ClockSteps = NO_STEPS) -> float | None:
    if call.bye_frame is None or not streams:
        return None
    bye = next((m for m in call.messages if m.frame == call.bye_frame), None)
    if bye is None:
        return None
    last = max(streams, key=lambda s: s.end_ns)
    gap = clock.elapsed_ns(last.last_frame, last.end_ns, bye.frame, bye.ts_ns)
    return round(gap / 1e9, 3) if gap is not None and gap >= MEDIA_STOPPED_S * 1e9 else None


@dataclass(frozen=True, slots=True)
class MediaStream:
    """One measured RTP stream, bound (or not) to a call, with its quality."""

    stats: RtpStreamStats
    binding: Binding
    quality: EModelResult | None  # None where the codec has no E-model values (video, unknown)
    series: StreamSeries | None = None  # per-second packets, loss and jitter (bounded), for charts
    refusal: IcmpRefusal | None = None  # ICMP errors that refused the stream to its end (sipdiag.icmprefusal)
    # the sequence numbers the capture missed (sipdiag.rtpholes): its loss over the range an RTCP report covers
    holes: StreamHoles | None = None

    @property
    def call_id(self) -> str | None:
        return self.binding.call_id

    @property
    def label(self) -> str:
        """`src -> dst 0xSSRC`, the stream as evidence and reports name it (IPv6 addresses in brackets)."""
        s = self.stats
        return f"{join_address(s.src_ip, s.src_port)} -> {join_address(s.dst_ip, s.dst_port)} 0x{s.ssrc:08x}"


@dataclass(frozen=True, slots=True)
class CallMedia:
    """Everything media of one call: its streams (indexes into Analysis.streams), verdict and DTMF digits."""

    call_id: str
    streams: tuple[int, ...]
    verdict: MediaVerdict
    dtmf: tuple[DtmfEvent, ...]
    info_dtmf: tuple[tuple[int, str, int | None], ...]  # SIP INFO DTMF (frame, digit, duration ms)


def stream_quality(s: RtpStreamStats, sdp_ptime_ms: float | None = None) -> EModelResult | None:
    """The E-model of a stream from what was measured: network loss, the packets a 50 ms jitter buffer would
    discard, the burstiness of the loss (RULES.md §1.3, §1.4), and the packetization in the delay estimate: the
    stream's measured packet time, else `sdp_ptime_ms` (the SDP a=ptime), else the codec's default (G.107 §7.4
    counts the packetization in the mouth-to-ear delay Ta; a 40 ms stream is not rated as a 20 ms one). None
    where the capture's clock steps within the stream: its jitter buffer discards are not known."""
    if not s.codec or s.media_packets < MIN_AUDIO_PACKETS or s.clock_stepped:
        return None
    expected = max(s.expected - s.keepalives, s.media_packets, 1)  # the media expected (keep-alives: not media)
    # The RTP clock fits the stream when its timestamps advance at the clock's rate against arrival time, the test
    # of codec.timestamp-clock-mismatch (10 % over at least 50 packets and 1 s) or a 5 % drift fit. When it does
    # not (an L16 stream stamped at 8000 Hz under an 11025 Hz rtpmap), transit and jitter in timestamp units
    # grow with time and every packet looks late: RFC 3550 §6.4.1 jitter needs the payload's clock. The discards
    # are then not rated rather than blamed on the network (the mismatch finding reports the fault).
    clock_ok = s.clock_fits and not (s.clock_drift_ppm is not None and abs(s.clock_drift_ppm) >= 50_000)
    # Measured packet time: from the timestamps (exact), or the arrival interval when the clock is wrong. Only
    # without talkspurt gaps (one marker bit at most, RFC 3551 §4.1): silence suppression stretches both means
    # beyond the packet time.
    ptime = None
    if s.markers <= 1 and not s.timestamp_jumps and not s.sequence_restarts:
        ptime = s.timestamp_ptime_ms if clock_ok and s.clock_rate and s.timestamp_span else s.arrival_ptime_ms
        ptime = round(ptime, 1) if ptime is not None and 2.5 <= ptime <= 200 else None
    if ptime is None and sdp_ptime_ms:
        ptime = float(sdp_ptime_ms)
    # Inputs rounded to 1e-4 (far below what changes a MOS shown to two decimals) so that the many streams of
    # a large capture with the same figures share one computation.
    discard = round(s.late_50ms * 100.0 / expected, 4) if clock_ok else 0.0
    return rate_stream(s.codec, round(max(s.lost, 0) * 100.0 / expected, 4), discard, round(s.burst_ratio or 1.0, 4),
                       ptime, clock_ok)


def build_media(result: RtpStatsResult, calls: Sequence[Call], capture_end_ns: int, clock: ClockSteps = NO_STEPS,
                capture_end_frame: int = 0, icmp: Sequence[IcmpError] = ()
                ) -> tuple[tuple[MediaStream, ...], tuple[CallMedia, ...]]:
    """Bind every RTP-like stream to its call, rate it, and give each call its verdict and DTMF.

    clock, capture_end_frame: where the capture's clock steps and its last frame (sipdiag.clocksteps). A stream the
    clock steps within keeps no arrival figures (RtpStreamStats.across_clock_step), and streams are bound to calls
    by frame order instead of time wherever the clock steps at all. icmp: the capture's ICMP errors; a stream they
    refused to its end counts as not delivered (sipdiag.icmprefusal)."""
    # A flow that failed the capture layer's sequence test is still RTP when it was sent to an address and port the
    # SDP of a call announced (RFC 3264) and has MIN_SPARSE_PACKETS packets: a capture that kept only some packets
    # of a stream (5 packets, sequence numbers 300 apart) or a short stream must not read as "no RTP at all".
    # (address, port) -> the a=ptime its SDP asked for: the packet time the receiver there wants (RFC 4566 §6)
    sdp = {(m.address, m.port): m.ptime_ms for c in calls for n in c.negotiations for m in n.offer + (n.answer or ())
           if m.address and m.port}
    kept = [k for k, s in enumerate(result.streams)
            if s.rtp_like or (s.packets >= MIN_SPARSE_PACKETS and (s.dst_ip, s.dst_port) in sdp)]
    stats = [s if clock.sound(s.first_frame, s.last_frame) else s.across_clock_step()
             for s in (result.streams[k] for k in kept)]
    axis = Axis(True, capture_end_frame) if clock.stepped else Axis(False, capture_end_ns)
    bindings = bind_streams(stats, calls, capture_end_ns, axis)
    refused: list[IcmpRefusal | None] = [None] * len(stats)
    if icmp:
        byes = {c.call_id: c.answer_and_bye()[1] for c in calls}
        refused = refusals(stats, [byes.get(b.call_id) if b.call_id else None for b in bindings], icmp, clock)
    streams = tuple(MediaStream(s, b, stream_quality(s, sdp.get((s.dst_ip, s.dst_port))),
                                None if s.clock_stepped else result.series_of(k),  # per-second bins of arrival time
                                r, result.holes_of(k))  # by sequence number: sound across a clock step
                    for k, s, b, r in zip(kept, stats, bindings, refused))
    # DTMF events name their stream by its index in result.streams; find the call that stream was bound to.
    call_of_stream = {k: b.call_id for k, b in zip(kept, bindings)}
    by_call: dict[str | None, list[int]] = {}
    for i, m in enumerate(streams):
        by_call.setdefault(m.call_id, []).append(i)
    dtmf_by_call: dict[str | None, list[DtmfEvent]] = {}
    for e in result.dtmf:
        dtmf_by_call.setdefault(call_of_stream.get(e.stream), []).append(e)
    media = []
    for call in calls:
        mine = tuple(by_call.get(call.call_id, ()))
        verdict = media_verdict(call, [(streams[i].stats, streams[i].binding) for i in mine], clock,
                                [streams[i].refusal for i in mine])
        media.append(CallMedia(call.call_id, mine, verdict, tuple(dtmf_by_call.get(call.call_id, ())),
                               call.info_dtmf))
    return streams, tuple(media)
