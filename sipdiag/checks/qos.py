"""Quality-of-service rules (RULES.md §3.7): voice not marked for priority (DSCP), and queueing delay that builds
up on a saturated link during a call.

The DSCP of each RTP stream comes from the capture layer's fast path (the IP header's TOS / traffic class, read
column-wise with the RTP header): the first packet's value and how many packets carried another one. The DSCP of a
SIP message over UDP comes with the message (SipMessage.dscp), and is counted for every message of the capture
while it is read (Analysis.sip_dscps, sipdiag.sipdscp).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import join_address
from ..sipdscp import dscps_of
from . import Hit, Severity, check
from .settings import setting

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..rtcp import RtcpPacket

# RULES.md qos.bufferbloat-suspected: the raised RTT must last this long (RTCP gives one sample every ~5 s, so
# this is two reports in a row at the least).
BLOAT_MIN_S = 5.0
# A ramp, not a step (a route change): some sample lies between a quarter and three quarters of the rise on the
# way up, or the raised samples themselves vary by this share of the rise.
RAMP_SPREAD = 0.25
# A round trip beyond this is an LSR matched to the wrong SR (or a broken reporter), not a queue.
MAX_RTT_MS = 10_000


def _rtt_series(packets: tuple[RtcpPacket, ...]) -> dict[tuple, list[tuple[int, float, int, int]]]:
    """(reporter ip, reporter SSRC, source SSRC) -> [(capture time, RTT ms, jitter in source units, frame)]."""
    series: dict[tuple, list[tuple[int, float, int, int]]] = {}
    for p in packets:
        for b in p.blocks:
            if b.rtt_ms is not None and 0 <= b.rtt_ms <= MAX_RTT_MS:
                series.setdefault((p.src_ip, b.reporter_ssrc, b.source_ssrc), []).append(
                    (p.ts_ns, b.rtt_ms, b.jitter, p.frame))
    return series


def _ramp(samples: list[tuple[int, float, int, int]], low: float, peak_i: int, rise: float, raised: list) -> bool:
    lo, hi = low + RAMP_SPREAD * rise, low + (1 - RAMP_SPREAD) * rise
    if any(lo < s[1] < hi for s in samples[: peak_i + 1]):
        return True
    values = [s[1] for s in raised]
    return max(values) - min(values) >= RAMP_SPREAD * rise


@check(
    id="qos.bufferbloat-suspected", category="router", severity="minor", owner="customer",
    title={
        "en": "Delay builds up during the call: a saturated internet link with oversized buffers",
        "ru": "Задержка растёт во время вызова: перегруженный интернет-канал со слишком большими буферами",
    },
    customer={
        "en": "Call quality drops when your internet line is busy, for example during large uploads or backups. "
              "Switching on your router's 'Smart Queue' or QoS feature, or giving your phones priority, will fix "
              "this.",
        "ru": "Качество звонков падает, когда ваш интернет-канал загружен, например при больших выгрузках или "
              "резервном копировании. Включите на роутере функцию «Smart Queue» или QoS либо дайте телефонам "
              "приоритет.",
    },
    engineer={
        "en": "Call {call_id}: the RTCP round trip to {reporter} (SSRC {reporter_ssrc} about {source_ssrc}) rose from "
              "{rtt_min_ms} ms to {rtt_peak_ms} ms (+{rise_ms} ms, threshold {threshold_ms}) and stayed above "
              "min+{threshold_ms} for {raised_s} s (frames {frame} to {last_frame}), ramp-shaped; reported jitter "
              "{jitter_en}. RTT series ms: {series}. Queueing on a saturated link: enable SQM (fq_codel/CAKE, "
              "RFC 8290), prioritise voice, shape the uplink to ~90 % of the line rate.",
        "ru": "Вызов {call_id}: круговая задержка RTCP до {reporter} (SSRC {reporter_ssrc} о {source_ssrc}) выросла с "
              "{rtt_min_ms} до {rtt_peak_ms} мс (+{rise_ms} мс, порог {threshold_ms}) и держалась выше "
              "min+{threshold_ms} {raised_s} с (кадры {frame}-{last_frame}), нарастая плавно; джиттер в отчётах "
              "{jitter_ru}. Ряд RTT, мс: {series}. Очередь на загруженном канале: включите SQM (fq_codel/CAKE, "
              "RFC 8290), дайте приоритет голосу, ограничьте исходящий канал ~90 % скорости линии.",
    },
)
def bufferbloat_suspected(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A call whose RTCP round trip (LSR/DLSR against the capture's own SR times, RULES.md §1.5) climbs more than
    qos.bufferbloat_rtt_rise_ms above its minimum and stays there for at least 5 s, rising as a ramp rather than
    one step (a step is a route change). Rising jitter in the same reports raises the confidence. Major when the
    one-way estimate at the peak (RTT/2) passes media.mouth_to_ear_ms.major.

    ## Why it matters
    Buffers in a modem or router that fill under an upload add hundreds of milliseconds of delay and jitter to
    the voice packets queued behind the data: talk-over, choppy audio, late packets discarded.

    ## How to fix
    Smart queue management on the router (fq_codel, CAKE), voice priority, uplink shaping below the line rate.

    ## References
    RFC 3550 §6.4.1; RFC 7567; RFC 8290; bufferbloat.net on VoIP
    """
    if analysis.rtp is None or not analysis.rtp.rtcp.packets:
        return
    threshold = setting("qos.bufferbloat_rtt_rise_ms")
    major_ms = setting("media.mouth_to_ear_ms.major")
    call_of_ssrc = {s.stats.ssrc: s.call_id for s in analysis.streams if s.call_id}
    reported: set[str] = set()
    for (reporter, reporter_ssrc, source_ssrc), samples in _rtt_series(analysis.rtp.rtcp.packets).items():
        call_id = call_of_ssrc.get(source_ssrc) or call_of_ssrc.get(reporter_ssrc)
        if len(samples) < 3 or call_id in reported:
            continue
        low = min(s[1] for s in samples)
        peak_i = max(range(len(samples)), key=lambda i: samples[i][1])
        rise = samples[peak_i][1] - low
        if rise <= threshold:
            continue
        # the longest-lasting run of consecutive samples above min + threshold
        runs: list[list] = [[]]
        for s in samples:
            if s[1] > low + threshold:
                runs[-1].append(s)
            elif runs[-1]:
                runs.append([])
        # how long a run lasted is not known across a step of the capture's clock (sipdiag.clocksteps)
        clock = analysis.capture.clock
        best = max(runs, key=lambda r: r[-1][0] - r[0][0] if r and clock.sound(r[0][3], r[-1][3]) else -1)
        if len(best) < 2 or not clock.sound(best[0][3], best[-1][3]) or \
                (best[-1][0] - best[0][0]) / 1e9 < BLOAT_MIN_S:
            continue
        if not _ramp(samples, low, peak_i, rise, best):
            continue
        base_jitter = min(s[2] for s in samples)
        jitter_up = max(s[2] for s in best) > base_jitter
        reported.add(call_id)
        peak = samples[peak_i][1]
        yield Hit(call_id, (best[0][3], best[-1][3]), {
            "call_id": call_id or "?", "reporter": reporter, "reporter_ssrc": f"0x{reporter_ssrc:08x}",
            "source_ssrc": f"0x{source_ssrc:08x}", "rtt_min_ms": round(low, 1), "rtt_peak_ms": round(peak, 1),
            "rise_ms": round(rise, 1), "threshold_ms": threshold,
            "raised_s": round((best[-1][0] - best[0][0]) / 1e9, 1), "frame": best[0][3], "last_frame": best[-1][3],
            "series": ", ".join(f"{s[1]:.0f}" for s in samples[:20]),
            "jitter_rising": "yes" if jitter_up else "no",
            "jitter_en": "rose with it" if jitter_up else "did not rise",
            "jitter_ru": "рос вместе с ней" if jitter_up else "не рос",
        }, severity=Severity.MAJOR if peak / 2 > major_ms else None, confidence="medium" if jitter_up else "low")


# RULES.md qos.dscp-marking: "≥ 90 % of RTP packets with DSCP ≠ 46"; a stream shorter than this says little.
DSCP_MIN_PACKETS = 50
DSCP_UNMARKED_SHARE = 0.9
DSCP_NAMES = {0: "default (CS0)", 8: "CS1", 24: "CS3", 26: "AF31", 34: "AF41", 40: "CS5", 46: "EF", 48: "CS6"}
DSCP_NAMES_RU = {**DSCP_NAMES, 0: "по умолчанию, CS0"}  # the Default PHB of RFC 2474 §4.1


def _dscp_name(value: int, names: dict[int, str] = DSCP_NAMES) -> str:
    name = names.get(value)
    return f"{value} ({name})" if name else str(value)


@check(
    id="qos.dscp-marking", category="router", severity="info", owner="first-line",
    title={
        "en": "Voice packets not marked for priority (DSCP), or re-marked on the way",
        "ru": "Голосовые пакеты не помечены как приоритетные (DSCP) или перемаркированы по пути",
    },
    customer={
        "en": "{lead_en} If your router has a QoS or priority setting, give priority to your phones or to traffic "
              "marked EF (46); we will also check the phone's settings.",
        "ru": "{lead_ru} Если в роутере есть настройка QoS или приоритета, дайте приоритет телефонам или трафику с "
              "меткой EF (46); мы также проверим настройки телефона.",
    },
    engineer={
        "en": "Call {call_id}: {detail_en} Expected DSCP {expected} on RTP (EF, RFC 3246; RFC 4594 maps telephony to "
              "EF) and one of {sip_allowed} on SIP (RFC 4594 signaling CS5 = 40; CS3 = 24 and AF31 = 26 are common). "
              "Fix: set the phone's RTP DSCP/ToS to 46 (ToS 0xB8, 184) and its SIP DSCP to the operator's class in "
              "its QoS/VLAN settings, trust or re-mark voice on the customer's switch/router uplink, check the "
              "managed access for bleaching.",
        "ru": "Вызов {call_id}: {detail_ru} Ожидается DSCP {expected} на RTP (EF, RFC 3246; RFC 4594 относит "
              "телефонию к EF) и одно из {sip_allowed} на SIP (RFC 4594: сигнализация CS5 = 40; часто CS3 = 24 и "
              "AF31 = 26). Исправление: задайте в телефоне DSCP/ToS для RTP 46 (ToS 0xB8, 184) и для SIP - класс "
              "оператора в настройках QoS/VLAN, доверяйте метке или перемаркируйте голос на коммутаторе/роутере "
              "клиента, проверьте, не сбрасывает ли метку управляемый доступ.",
    },
)
def dscp_marking(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An answered call whose audio leaves the customer's network without priority marking: an RTP stream sent from
    a private address (the capture saw it on the customer's side, where marking matters) of which at least 90 %
    of the packets carry a DSCP other than qos.rtp_dscp (46, EF). And, at any vantage point, a stream whose
    packets change DSCP mid-way (at least 10 % re-marked): a switch or router in the path re-marks voice. And, from a
    host whose RTP is judged so (the customer's side), SIP over UDP of the call with a DSCP outside
    qos.sip_dscp_allowed (24 CS3, 26 AF31, 40 CS5: policies differ, RFC 4594 names CS5) on at least 90 % of a
    flow's messages.

    ## Why it matters
    Marking only matters where a queue builds up - the customer's uplink and Wi-Fi (WMM) queues: unmarked voice
    waits behind bulk traffic there, which shows as jitter and loss. Info on its own; minor when the same stream
    also shows loss or jitter at the minor level. On the public Internet DSCP is routinely reset, so streams from
    public addresses are not judged for marking (nor SIP from public addresses).

    ## How to fix
    Provision the phone's RTP DSCP (46 / ToS 0xB8) and its SIP DSCP (the operator's class), give voice priority on
    the customer's router (QoS, or trust DSCP), and on managed access trust or re-mark voice at the edge; find the
    re-marking hop by capturing on both sides of it.

    ## References
    RFC 2474 §3, RFC 3246, RFC 4594 §4.2, RULES.md qos.dscp-marking
    """
    expected = int(setting("qos.rtp_dscp"))
    allowed = sorted({int(v) for v in setting("qos.sip_dscp_allowed")})
    sip_flows = _sip_flows(analysis, allowed)
    loss_minor = float(setting("media.loss_pct.minor"))
    jitter_minor = float(setting("media.jitter_mean_ms.minor"))
    from ..media import is_private

    for call in analysis.calls:
        media = analysis.media_of(call)
        if media is None or call.outcome != "answered":
            continue
        unmarked, remarked, frames, quality = [], [], [], False
        unmarked_ru, remarked_ru = [], []
        judged: set[str] = set()  # the customer-side hosts whose RTP marking is judged: their SIP's is too
        for i in media.streams:
            st = analysis.streams[i].stats
            if st.dscp is None or st.packets < DSCP_MIN_PACKETS:
                continue
            if is_private(st.src_ip):
                judged.add(st.src_ip)
            flow = f"{join_address(st.src_ip, st.src_port)} -> {join_address(st.dst_ip, st.dst_port)}"
            other_share = st.dscp_remarked / st.packets
            not_expected = st.dscp_remarked if st.dscp == expected else st.packets - st.dscp_remarked
            if is_private(st.src_ip) and not_expected / st.packets >= DSCP_UNMARKED_SHARE:
                unmarked.append(f"{flow} DSCP {_dscp_name(st.dscp)} on {not_expected} of {st.packets} packets")
                unmarked_ru.append(f"{flow} DSCP {_dscp_name(st.dscp, DSCP_NAMES_RU)} у {not_expected} из "
                                   f"{st.packets} пакетов")
                frames.append(st.first_frame)
                quality |= st.loss_pct >= loss_minor or (st.jitter_mean_ms or 0) >= jitter_minor
            if other_share >= 0.1:
                remarked.append(f"{flow} starts with DSCP {_dscp_name(st.dscp)}, {st.dscp_remarked} of {st.packets} "
                                "packets carry another")
                remarked_ru.append(f"{flow} начинается с DSCP {_dscp_name(st.dscp, DSCP_NAMES_RU)}, пакетов с другой "
                                   f"меткой: {st.dscp_remarked} из {st.packets}")
                frames.append(st.first_frame)
        sip = [f for f in sip_flows.get(call.call_id, ()) if f[0] in judged]
        frames += [f[3] for f in sip]
        sip, sip_ru = [f[1] for f in sip], [f[2] for f in sip]
        if not unmarked and not remarked and not sip:
            continue
        en = ru = ""
        if sip:
            en = f"SIP from the customer's side outside the policy: {'; '.join(sip)}. "
            ru = f"SIP со стороны клиента вне политики: {'; '.join(sip_ru)}. "
        if unmarked:
            en += f"RTP from the customer's side not marked: {'; '.join(unmarked)}."
            ru += f"RTP со стороны клиента без метки приоритета: {'; '.join(unmarked_ru)}."
        if remarked:
            en += (" " if en else "") + f"Re-marked within the stream: {'; '.join(remarked)}."
            ru += (" " if ru else "") + f"Перемаркировка внутри потока: {'; '.join(remarked_ru)}."
        voice = bool(unmarked or remarked)
        yield Hit(call.call_id, tuple(sorted(set(frames))), {
            "call_id": call.call_id, "expected": expected, "unmarked": unmarked, "remarked": remarked,
            "sip_allowed": allowed, "sip_unmarked": sip, "detail_en": en.rstrip(), "detail_ru": ru.rstrip()},
            severity=Severity.MINOR if quality else None, texts={
            "sip_allowed": ", ".join(map(str, allowed)),
            "lead_en": "The sound from your phone is not marked as urgent traffic, so other data on your network "
                       "(downloads, video) can delay it." if voice else
                       "Your phone's call-setup messages are not marked as urgent traffic the way our network "
                       "expects, so other data on your network can delay them.",
            "lead_ru": "Звук с вашего телефона не помечен как срочный трафик, поэтому другие данные в вашей сети "
                       "(загрузки, видео) могут его задерживать." if voice else
                       "Служебные сообщения вызовов вашего телефона не помечены как срочный трафик так, как ожидает "
                       "наша сеть, поэтому другие данные в вашей сети могут их задерживать."})


def _sip_flows(analysis: Analysis, allowed: list[int]) -> dict[str, list[tuple[str, str, str, int]]]:
    """Call-ID -> (source host, English, Russian, first frame) of its SIP flows from a private address of whose
    messages at least 90 % carry a DSCP outside `allowed`; over every SIP message of the capture (the counts of
    Analysis.sip_dscps, else, for an analysis built without them, of the messages kept)."""
    from ..media import is_private

    counts: dict[tuple, list] = {}  # (call id, host, flow) -> [messages, outside the policy, its first frame, DSCP]
    private: dict[str, bool] = {}
    # in the order each (call, flow, DSCP) was first seen: a flow's first DSCP outside the policy is that of its
    # first message outside it
    for c in analysis.sip_dscps if analysis.sip_dscps is not None else dscps_of(analysis.messages):
        if (inside := private.get(c.src_ip)) is None:
            inside = private[c.src_ip] = is_private(c.src_ip)
        if not inside:
            continue
        flow = f"{join_address(c.src_ip, c.src_port)} -> {join_address(c.dst_ip, c.dst_port)}"
        n = counts.setdefault((c.call_id, c.src_ip, flow), [0, 0, None, None])
        n[0] += c.messages
        if c.dscp not in allowed:
            n[1] += c.messages
            if n[2] is None:
                n[2], n[3] = c.first_frame, c.dscp
    out: dict[str, list[tuple[str, str, str, int]]] = {}
    policy = ", ".join(map(str, allowed))
    for (call_id, host, flow), (n, outside, frame, dscp) in counts.items():
        if outside / n >= DSCP_UNMARKED_SHARE:
            out.setdefault(call_id, []).append((
                host, f"{flow} DSCP {_dscp_name(dscp)} on {outside} of {n} messages (allowed: {policy})",
                f"{flow} DSCP {_dscp_name(dscp, DSCP_NAMES_RU)} у {outside} из {n} сообщений (допустимо: {policy})",
                frame))
    return out
