"""Media rules (RULES.md §3.6), from the streams bound to each call and their verdicts (sipdiag.media)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING

from ..addresses import address_host, join_address
from ..codecs import NARROWBAND, WIDEBAND
from ..correlate import leg_rule_ru
from ..media import negotiated_off
from ..parties import between_numbers, direction_en, direction_ru, party_number, party_ru
from ..quality import WIDEBAND_RATIO, EModelResult, customer_cause, loss_delta_r, shown_r
from ..rtcploss import FarEndLoss
from . import Hit, Severity, check
from .mediaquality import MIN_PACKETS_TO_GRADE
from .oneway import one_way_duration
from .settings import setting
from .streamloss import far_end_losses, loss_rating, worse_loss

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call


def loss_limits() -> tuple[tuple[float, Severity], ...]:
    """RULES.md §5 media.loss_pct (1 % minor, 3 % major, 5 % critical by default: the fixed equivalents of the ΔR
    thresholds), worst first, as the run's configuration sets them. media.packet-loss grades by them only the loss
    of a stream whose codec the E-model has no values for (`loss_rating`)."""
    return ((setting("media.loss_pct.critical"), Severity.CRITICAL), (setting("media.loss_pct.major"), Severity.MAJOR),
            (setting("media.loss_pct.minor"), Severity.MINOR))


def delta_r_limits() -> tuple[tuple[float, Severity], ...]:
    """RULES.md §5 media.delta_r (5 minor, 10 major, 20 critical R points by default), worst first, as configured:
    what the loss may cost a stream in E-model R points (`sipdiag.quality.loss_delta_r`, narrowband scale)."""
    return ((setting("media.delta_r.critical"), Severity.CRITICAL), (setting("media.delta_r.major"), Severity.MAJOR),
            (setting("media.delta_r.minor"), Severity.MINOR))


#: A loss that costs at least media.delta_r.minor and takes the stream below this R is critical whatever its ΔR
#: (RULES.md media.packet-loss "critical ΔR ≥ 20 (or R < 60)"): the bottom of G.109's "low" band, below which
#: nearly all users are dissatisfied. Narrowband scale (R/1.29 for wideband codecs, G.107.1). A codec already
#: below it without any loss (G.726 16 kbit/s, R 43) is graded by ΔR alone: the loss did not make that call bad,
#: the codec did, and media.low-mos says so.
LOSS_CRITICAL_R = 60.0


SIDE_EN = {"caller->callee": "the other party could not hear you", "callee->caller": "you could not hear the other party"}
SIDE_RU = {"caller->callee": "собеседник вас не слышал", "callee->caller": "вы не слышали собеседника"}


def side_texts(call: Call, missing: str | None) -> tuple[str, str]:
    """Who could not hear whom, for the customer (en, ru). "You" is the caller, the one who placed the call; when
    the capture does not show who called (Call.roles_known), neither party can be called "you": both are named by
    their numbers (sipdiag.parties.party_number), not by address: a customer text carries no third party's address
    (RULES.md §6)."""
    if call.roles_known or missing not in SIDE_EN:
        return SIDE_EN.get(missing or "", "?"), SIDE_RU.get(missing or "", "?")
    roles = ("callee", "caller") if missing == "caller->callee" else ("caller", "callee")
    deaf, other = (party_number(call, role) for role in roles)
    return (f"number {deaf} could not hear number {other}", f"абонент {deaf} не слышал абонента {other}")


@check(
    id="media.one-way-audio", category="media", severity="major", owner="engineering",
    title={
        "en": "Audio flows in one direction only",
        "ru": "Звук идёт только в одну сторону",
    },
    customer={
        "en": "{lead_en} We are checking it on our side{action_en}.",
        "ru": "{lead_ru} Мы проверяем это со своей стороны{action_ru}.",
    },
    engineer={
        "en": "Call {call_id}: {packets_to_callee} RTP packets {up_en}, {packets_to_caller} {down_en}; "
              "missing {missing_en}. {detail}. {duration_en}{vantage_en} Compare the SDP addresses with the observed "
              "5-tuples (latching, RFC 4961 symmetric RTP) and look for a private c= behind NAT.",
        "ru": "Вызов {call_id}: {packets_to_callee} RTP-пакетов от {caller_ru}, {packets_to_caller} от {callee_ru}; "
              "нет направления {missing_ru}. {detail_ru}. {duration_ru}{vantage_ru} Сравните адреса SDP с наблюдаемыми "
              "потоками (latching, симметричный RTP, RFC 4961) и проверьте приватный c= за NAT.",
    },
)
def one_way_audio(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An answered call whose RTP flows in one direction only, or whose packets in one direction all went to an address
    the receiver cannot be reached at (a private SDP address sent to from the public side).

    How bad it is depends on how long the audio flowed one way: the time the present direction ran while the
    other was absent or below `media.oneway_min_ratio` (10 %) of its expected packets. From
    `media.onewaytimeout_s` (15 s) on it is major; from `media.oneway_report_s` (5 s) on, minor. A shorter one is an
    information finding of low confidence: a second or two of media one way cannot tell one-way audio from a
    call hung up early (RULES.md media.one-way-audio).

    When not one SIP response of the call was captured although it was answered (known from its ACK or BYE), the
    capture point sees only part of the call's traffic (a mirror of one direction, asymmetric routing): the missing
    audio may have passed elsewhere. The finding then has medium confidence and says so, and its customer text
    tells the gap in the recording, not a fault or a router change.

    ## Why it matters
    "I can't hear them": the most common media complaint, usually NAT (private SDP address, no latching) or a SIP
    ALG rewriting the wrong fields.

    ## How to fix
    Enable symmetric RTP / latching or media anchoring on the SBC, fix the device's NAT settings (STUN, public
    address), or switch the router's SIP ALG off.

    ## References
    RFC 3264 §8.4 (hold is not one-way audio), RFC 4961, RFC 7362, RULES.md media.one-way-audio (VoIPmonitor
    onewaytimeout)
    """
    ratio, report_s, timeout_s = (setting("media.oneway_min_ratio"), setting("media.oneway_report_s"),
                                  setting("media.onewaytimeout_s"))
    limits = f"reported from {report_s:g} s, major from {timeout_s:g} s; the other direction below " \
             f"{ratio * 100:g} % of its expected packets"
    limits_ru = f"сообщается от {report_s:g} с, major от {timeout_s:g} с; другое направление ниже " \
                f"{ratio * 100:g} % ожидаемых пакетов"
    for call in analysis.calls:
        media = analysis.media_of(call)
        if media is None or media.verdict.verdict != "one-way":
            continue
        v = media.verdict
        span = one_way_duration(analysis, call, media, v.missing_direction or "", ratio)
        side_en, side_ru = side_texts(call, v.missing_direction)
        # The missing direction was refused with ICMP errors (sipdiag.icmprefusal): the refusing device is known
        # (router.icmp-unreachable names it and says who acts), so the usual SIP ALG advice would send the customer
        # to the wrong box.
        refused = any(analysis.streams[i].refusal is not None for i in media.streams
                      if analysis.streams[i].binding.direction == v.missing_direction)
        # The missing direction was sent to a private SDP address from the public side: the cause is known
        # (nat.private-sdp-address: no latching or anchoring on our side, RULES.md "<specific action from the
        # cause>"), and a router's SIP ALG is not it, so the customer is not sent to switch it off (an ALG that
        # left the SDP private is a finding of its own, alg.*, with that advice).
        private_target = not refused and v.unreachable_target is not None and any(
            join_address(s.stats.dst_ip, s.stats.dst_port) == v.unreachable_target
            for s in (analysis.streams[i] for i in media.streams) if s.binding.direction == v.missing_direction)
        # Not one SIP response of the answered call was captured: the capture point sees part of its traffic, and
        # the missing audio may have passed elsewhere; the engineer is asked to capture again before acting, so the
        # customer is not told a fault, nor to change the router, on this evidence.
        vantage = _responses_unseen(call)
        partial = vantage is not None and not refused and not private_target
        quiet = refused or private_target or partial
        values = {
            "call_id": call.call_id, "packets_to_callee": v.packets_to_callee, "packets_to_caller": v.packets_to_caller,
            "missing": v.missing_direction, "detail": v.detail, "detail_ru": v.detail_ru,
            "unreachable_target": v.unreachable_target,
            "side_en": side_en, "side_ru": side_ru, "one_way_s": span.one_way_s, "media_s": span.media_s,
            "private_target": private_target, "partial_capture": vantage is not None,
            "action_en": "" if quiet else "; if you have a router in front of the phone, please switch its SIP ALG off",
            "action_ru": "" if quiet else "; если перед телефоном стоит роутер, отключите на нём SIP ALG",
        }
        values.update(vantage_en="", vantage_ru="")
        if vantage is not None:
            values.update(
                vantage_en=f" Not one SIP response of this call was captured, though it was answered (frame "
                           f"{vantage}): this capture point misses part of the call's traffic, and the missing audio "
                           f"may have passed elsewhere; capture where both directions pass (at the phone, or both "
                           f"directions of the mirror port) before acting.",
                vantage_ru=f" Ни один SIP-ответ этого вызова не попал в захват, хотя вызов был принят (кадр "
                           f"{vantage}): точка захвата видит не весь трафик вызова, и недостающий звук мог пройти "
                           f"мимо неё; прежде чем действовать, снимите захват там, где видны оба направления (на "
                           f"телефоне или оба направления зеркального порта).")
        # The capture's clock steps within the media: the span is the senders' own, from the RTP timestamps.
        how_en = " (by the RTP timestamps: the capture's clock steps within the call)" if span.from_timestamps else ""
        how_ru = " (по RTP-меткам времени: часы захвата скачут внутри вызова)" if span.from_timestamps else ""
        if span.one_way_s >= report_s:
            severity = Severity.MAJOR if span.one_way_s >= timeout_s else Severity.MINOR
            confidence = "high" if vantage is None else "medium"
            values.update(
                lead_en="In our recording of your call the sound travelled only one way, but the recording misses "
                        "part of the call's traffic, so the other direction may have passed where we could not see "
                        "it." if partial else
                f"During your call the sound travelled only one way: {side_en}. " + (
                    "A device on its way refused it." if refused else
                    "It was sent to a private network address that the equipment announced, which cannot be "
                    "reached from the internet." if private_target else
                    "This is usually caused by a router setting (SIP ALG or a firewall)."),
                lead_ru="В нашей записи звонка звук шёл только в одну сторону, но запись содержит не весь трафик "
                        "звонка, поэтому другое направление могло пройти там, где мы его не видим." if partial else
                f"Во время звонка звук шёл только в одну сторону: {side_ru}. " + (
                    "Его отклонило устройство на пути." if refused else
                    "Он отправлялся на частный сетевой адрес, объявленный оборудованием, который недостижим из "
                    "интернета." if private_target else
                    "Обычно причина в настройке роутера (SIP ALG или межсетевой экран)."),
                duration_en=f"Audio flowed one way for {span.one_way_s:g} s{how_en} ({limits}).",
                duration_ru=f"Звук шёл в одну сторону {span.one_way_s:g} с{how_ru} ({limits_ru}).")
        else:
            # A second or two of media one way is what a call hung up at once looks like, too.
            severity, confidence = Severity.INFO, "low"
            values.update(
                lead_en=f"In the {span.one_way_s:g} s of your call that we recorded, the sound travelled only one "
                        f"way ({side_en}); that is too short to tell a fault from a call that simply ended early.",
                lead_ru=f"В записанной нами части звонка ({span.one_way_s:g} с) звук шёл только в одну сторону "
                        f"({side_ru}); этого слишком мало, чтобы отличить неисправность от звонка, который просто "
                        f"рано завершили.",
                duration_en=f"Only {span.one_way_s:g} s of media were seen one way{how_en}: too short to tell one-way "
                            f"audio from a call hung up early ({limits}).",
                duration_ru=f"В одну сторону видно лишь {span.one_way_s:g} с медиа{how_ru}: слишком мало, чтобы отличить "
                            f"одностороннюю слышимость от звонка, завершённого сразу ({limits_ru}).")
        frames = tuple(analysis.streams[i].stats.first_frame for i in media.streams)
        yield Hit(call.call_id, frames, values, severity=severity, confidence=confidence,
                  texts={"missing_en": direction_en(call, v.missing_direction),
                         "missing_ru": direction_ru(call, v.missing_direction)})


def _responses_unseen(call: Call) -> int | None:
    """The frame that shows an answered call was answered (its first ACK or BYE) when not one SIP response of
    the call was captured: the capture point then misses the responses' direction of the signalling (a one-way
    mirror, asymmetric routing, RFC 3261 §17.1.1 transactions seen from one side only). None otherwise."""
    if call.outcome != "answered" or any(m.status_code is not None for m in call.messages):
        return None
    return next((m.frame for m in call.messages if m.method in ("ACK", "BYE")), None)


@check(
    id="media.packet-loss", category="media", severity="minor", owner="engineering",
    title={
        "en": "RTP packet loss above what the codec conceals",
        "ru": "Потери RTP-пакетов больше, чем может скрыть кодек",
    },
    customer={
        "en": "Part of the sound of your call was lost on the way ({loss_pct} % of it), which makes speech choppy. "
              "If you use Wi-Fi or a busy internet connection, please try a cable; we are checking our side.",
        "ru": "Часть звука вашего звонка терялась по дороге ({loss_pct} %), из-за этого речь прерывается. Если вы "
              "пользуетесь Wi-Fi или загруженным подключением, попробуйте кабель; мы проверяем свою сторону.",
    },
    engineer={
        "en": "Stream {stream} ({direction}) of call {call_id}: {lost} of {expected} packets lost "
              "({capture_loss_pct} %), {loss_runs} loss runs, longest {loss_run_max}; MOS {mos} (R {r_factor}). "
              "RFC 3550 A.3 loss{far_end_en}; {grading_en} (RULES.md media.packet-loss).{short_en}",
        "ru": "Поток {stream} ({direction}) вызова {call_id}: потеряно {lost} из {expected} пакетов "
              "({capture_loss_pct} %), серий потерь {loss_runs}, самая длинная {loss_run_max}; MOS {mos} "
              "(R {r_factor}). Потери по RFC 3550 A.3{far_end_ru}; {grading_ru} (RULES.md "
              "media.packet-loss).{short_ru}",
    },
)
def packet_loss(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A stream bound to a call whose packet loss costs too much of its call quality for its codec: the loss before
    the capture point (RFC 3550 A.3 expected minus received, duplicates not counted as received) and, where the
    stream's receiver sends RTCP, the loss it reports (RFC 3550 §6.4.1 report blocks), which also counts what was
    lost after the capture point. Where the E-model knows the codec, the loss is graded by the R points it costs
    (ΔR: the stream's R with no packet lost minus its R, everything else equal, with the codec's Ie and Bpl and the
    burstiness of the loss, ITU-T G.107 §7.5): minor from `media.delta_r.minor` (5), major from
    `media.delta_r.major` (10), critical from `media.delta_r.critical` (20) or when the loss leaves the stream below
    R 60 (G.109: nearly all users dissatisfied). So 2 % random loss is minor on G.711 with concealment (ΔR 7.0) and
    on G.729A (ΔR 8.0), 3 % is major on both (ΔR 10.1, 11.5), and 1 % is no finding on either (ΔR 3.6, 4.2).
    Wideband codecs are compared on the narrowband scale (R/1.29, G.107.1).

    Where the E-model has no values for the codec (an unknown or unnamed payload), the fixed equivalents grade it:
    `media.loss_pct` 1 % minor, 3 % major, 5 % critical. That is all media.loss_pct does: RULES.md §5 has the
    codec-aware ΔR rule override it, so a configuration file that changes it changes the grading of those streams
    only.

    The receiver's view: its reports sent from the address the stream goes to, after the stream's first packet,
    whose extended highest sequence numbers lie among those the capture saw. A report's cumulative lost counts from
    the receiver's first packet (RFC 3550 §6.4.1, A.3). Where the capture saw the stream begin (it has the call's
    INVITE, and no earlier stream of the SSRC went to that receiver), the last report's count is the loss from the
    stream's first packet to its highest number, the loss before the first report included; otherwise (the capture
    began inside the call, the receiver reports under several SSRCs, the sender restarted its sequence) only what
    the count grew by from the first such report to the last, over the numbers its highest grew by. The capture's
    loss over the same numbers is counted from the numbers it missed. What the receiver lost beyond that was lost
    after the capture point (RULES.md: "loss reported only in the customer's RR for operator→customer stream ⇒
    downstream"). One finding per stream gives both figures, graded by the one that costs more (the receiver's loss
    rated as random: RTCP does not tell how it clusters). A cumulative lost that fell (duplicates, RFC 3550 A.3) is
    no loss. Reports from another receiver of the SSRC (a conference), from before the stream or about numbers the
    capture did not see, and a receiver whose highest number did not grow over the range give no receiver figure.
    Where the capture cannot count the range (a sequence jump in the stream, or more loss runs in the capture than
    sipdiag.rtpholes keeps), its whole loss stands for the range's, so no loss after the capture point is claimed
    out of a gap in its count. A receiver that lost fewer than the capture missed points at the capture itself
    (drops).

    A stream of fewer than 100 expected packets (2 s at 20 ms) is too short to grade: two packets lost of 25 are
    8 %, yet say little about the path. Its loss is reported as minor at most, with medium confidence. A receiver
    whose reports cover fewer than 100 packets does not displace the capture's loss over 100 or more.

    The evidence says what graded the stream: `graded_by` (delta_r or loss_pct), with `delta_r`, `r_without_loss`,
    `r_with_loss`, `delta_r_thresholds` and `critical_below_r` for the ΔR grading, `loss_pct_thresholds` for the
    fixed one (the thresholds that did not grade the stream are null); `loss_seen_by` (capture or receiver) says
    whose loss `loss_pct` is.

    ## Why it matters
    Choppy or robotic speech. How much loss hurts depends on the codec: G.711 with concealment tolerates about 5 %
    (R 77), G.729A falls to R 70.7 at 3 %, and G.726 at 32 kbit/s or G.728, rated without concealment (Bpl
    4.3), lose 16.6 R points at 1 % (RULES.md §1.4). Where the loss happens says who fixes it: before the capture
    point or after it, towards the receiver.

    ## How to fix
    Find the lossy segment (Wi-Fi, an overloaded uplink, a policer without voice priority): capture on both sides of
    the suspect link, mark voice with DSCP EF and prioritise it. Loss after the capture point lies between it and
    the receiver: capture at the receiver, or on the way to it.

    ## References
    RFC 3550 §6.4.1 and Appendix A.3, ITU-T G.107 §7.5, G.107.1, G.109, G.113, RULES.md media.packet-loss and §1.4
    """
    limits, delta_limits = loss_limits(), delta_r_limits()
    thresholds = "/".join(f"{limit:g}" for limit, _ in reversed(limits))  # minor/major/critical, as configured
    delta_thresholds = "/".join(f"{limit:g}" for limit, _ in reversed(delta_limits))
    far_ends = far_end_losses(analysis)
    for k, m in enumerate(analysis.streams):
        s = m.stats
        # A flow kept only because it went to an SDP address (sipdiag.media.build_media) failed the capture layer's
        # sequence test: its "loss" is the packets the capture did not keep (5 packets with sequence numbers 300
        # apart), not a measurement of the network (RFC 3550 A.1 probation).
        if m.call_id is None or not s.rtp_like:
            continue
        far = far_ends.get(k)
        base = loss_rating(m)
        # The capture's loss and the receiver's: the one that costs more grades the stream.
        view = worse_loss(m, far, base, short_alone=True)
        if view is None:
            continue
        by, loss_pct, rating, expected = view.seen_by, view.loss_pct, view.rating, view.expected
        # What graded the stream, plainly: the thresholds that did (the others None), and the ΔR figures where the
        # E-model did.
        values: dict = {"codec": s.codec, "graded_by": "loss_pct", "loss_pct_thresholds": thresholds,
                        "emodel_codec": None, "delta_r": None, "r_without_loss": None, "r_with_loss": None,
                        "delta_r_thresholds": None, "critical_below_r": None}
        if rating is None:
            if loss_pct < limits[-1][0]:
                continue
            severity = next(sev for limit, sev in limits if loss_pct >= limit)
            grading_en = (f"codec {s.codec} has no E-model values" if s.codec else "codec unknown") + \
                f": thresholds {thresholds} %"
            grading_ru = (f"для кодека {s.codec} нет значений E-модели" if s.codec else "кодек неизвестен") + \
                f": пороги {thresholds} %"
        else:
            # RULES.md's ΔR thresholds are narrowband R points; a wideband rating is brought to that scale first.
            scale = WIDEBAND_RATIO if rating.inputs.scale == WIDEBAND else 1.0
            delta = loss_delta_r(rating) / scale
            if delta < delta_limits[-1][0]:
                continue
            severity = next(sev for limit, sev in delta_limits if delta >= limit)
            if rating.r_factor_nb < LOSS_CRITICAL_R <= rating.r_factor_nb + delta:
                severity = Severity.CRITICAL
            codec = rating.inputs.codec
            r_with = shown_r(rating.r_factor_nb, NARROWBAND)
            r_without = shown_r(rating.r_factor_nb + delta, NARROWBAND)
            values.update(graded_by="delta_r", loss_pct_thresholds=None, emodel_codec=codec.description,
                          delta_r=round(delta, 1), r_without_loss=round(r_without, 1), r_with_loss=round(r_with, 1),
                          delta_r_thresholds=delta_thresholds, critical_below_r=LOSS_CRITICAL_R)
            nb_en = " on the narrowband scale (R/1.29, G.107.1)" if scale != 1.0 else ""
            nb_ru = " в узкополосной шкале (R/1.29, G.107.1)" if scale != 1.0 else ""
            unrated_en = ", jitter-buffer discards not rated" if not rating.inputs.discards_rated else ""
            unrated_ru = ", отбрасывания джиттер-буфера не оценены" if not rating.inputs.discards_rated else ""
            # Past the bottom of the scale R is shown as 0 (shown_r); ΔR stays the arithmetic, as low-mos's summary
            # keeps "the impairments add up to ...", and the text says why it exceeds the R there was.
            past_en = ", past the bottom of the scale" if rating.r_factor_nb < 0 else ""
            past_ru = ", за нижней границей шкалы" if rating.r_factor_nb < 0 else ""
            burst_en = ": RTCP does not tell how the losses cluster" if by == "receiver" else ""
            burst_ru = ": RTCP не говорит, как сгруппированы потери" if by == "receiver" else ""
            grading_en = (f"E-model impact for {codec.description} (Ie {rating.inputs.ie:g}, Bpl "
                          f"{rating.inputs.bpl:g}, BurstR {rating.inputs.burst_ratio:.2f}{burst_en}{unrated_en}): the "
                          f"loss costs ΔR {delta:.1f}, R {r_without:.1f} without it and {r_with:.1f} with it{past_en}"
                          f"{nb_en}; thresholds ΔR {delta_thresholds}, critical also below R {LOSS_CRITICAL_R:g}")
            grading_ru = (f"влияние по E-модели для {codec.description_in('ru')} (Ie {rating.inputs.ie:g}, Bpl "
                          f"{rating.inputs.bpl:g}, BurstR {rating.inputs.burst_ratio:.2f}{burst_ru}{unrated_ru}): "
                          f"потери отнимают ΔR {delta:.1f}, R {r_without:.1f} без них и {r_with:.1f} с ними{past_ru}"
                          f"{nb_ru}; пороги ΔR {delta_thresholds}, critical также ниже R {LOSS_CRITICAL_R:g}")
        if by == "receiver":
            grading_en = f"graded by the receiver's {loss_pct:.1f} %: {grading_en}"
            grading_ru = f"оценка по потерям у получателя ({loss_pct:.1f} %): {grading_ru}"
        # The loss share of a short stream is a small count over a small one (its binomial spread at 25 packets
        # is ±5 points): it proves loss, not how bad the path is.
        short = expected < MIN_PACKETS_TO_GRADE
        if short:
            severity = Severity.MINOR
        q = m.quality
        far_en, far_ru, location = _far_end_texts(far, s) if far is not None else ("", "", "upstream")
        yield Hit(m.call_id, (s.first_frame,) + (far.frames if far is not None else ()), {
            "call_id": m.call_id, "stream": m.label,
            "direction": m.binding.direction, "lost": s.lost, "expected": s.expected,
            "loss_pct": round(loss_pct, 1), "capture_loss_pct": round(s.loss_pct, 1), "loss_seen_by": by,
            "location": location, "downstream_lost": far.downstream_lost if far is not None else None,
            "far_end": _far_end_evidence(far) if far is not None else None,
            "loss_runs": s.loss_runs, "loss_run_max": s.loss_run_max,
            "mos": round(q.mos, 2) if q else "-", "r_factor": round(q.r_shown, 1) if q else "-",
            **values,
            "short_en": f" Only {expected} packets expected: too few to grade the loss (minor at most)."
                        if short else "",
            "short_ru": f" Ожидаемых пакетов всего {expected}: слишком мало, чтобы оценить тяжесть потерь "
                        "(не выше minor)." if short else "",
        }, severity=severity, confidence="medium" if short else "high",
            texts={"grading_en": grading_en, "grading_ru": grading_ru, "far_end_en": far_en, "far_end_ru": far_ru})


def _far_end_evidence(far: FarEndLoss) -> dict:
    return {"reporter_ssrc": f"0x{far.reporter_ssrc:08x}", "reports": far.reports, "frames": list(far.frames),
            "first_seq": far.first_seq, "last_seq": far.last_seq, "expected": far.expected, "lost": far.lost,
            "loss_pct": round(far.loss_pct, 1), "fraction_lost_pct_max": round(far.fraction_lost_pct_max, 1),
            "capture_lost": far.capture_lost, "capture_exact": far.capture_exact,
            "other_reporters": far.other_reporters, "from_start": far.from_start}


def _range_en(far: FarEndLoss) -> str:
    """The sequence numbers the receiver's figure covers, for the engineer: from the stream's first packet its
    cumulative lost counts from there (RFC 3550 §6.4.1), else the difference between two of its reports."""
    if far.from_start:
        return (f"from the stream's first packet (sequence number {far.first_seq + 1}) to the extended highest "
                f"sequence number {far.last_seq}")
    return f"between the extended highest sequence numbers {far.first_seq} and {far.last_seq}"


def _range_ru(far: FarEndLoss) -> str:
    if far.from_start:
        return (f"от первого пакета потока (номер последовательности {far.first_seq + 1}) до расширенного старшего "
                f"номера последовательности {far.last_seq}")
    return f"между расширенными старшими номерами последовательности {far.first_seq} и {far.last_seq}"


def _far_end_texts(far: FarEndLoss, s) -> tuple[str, str, str]:
    """The receiver's view for the engineer (en, ru) and where the loss happened: upstream (before the capture
    point), downstream (after it) or both (RULES.md media.packet-loss, location inference)."""
    c, d = far.capture_lost, far.downstream_lost
    at_most_en, at_most_ru = ("at most ", "не более ") if not far.capture_exact else ("", "")
    whole_en = " (the stream's whole loss: the record of its missed numbers is incomplete)" \
        if not far.capture_exact else ""
    whole_ru = " (потери всего потока: учёт пропущенных номеров неполон)" if not far.capture_exact else ""
    head_en = (f" at the capture point. The receiver's RTCP (SSRC 0x{far.reporter_ssrc:08x}, {far.reports} "
               f"report{'s' if far.reports != 1 else ''}, frames {', '.join(map(str, far.frames))}) counts {far.lost} "
               f"of {far.expected} packets lost ({far.loss_pct:.1f} %) {_range_en(far)} (RFC 3550 §6.4.1), up to "
               f"{far.fraction_lost_pct_max:.1f} % in one report interval; ")
    head_ru = (f" в точке захвата. RTCP получателя (SSRC 0x{far.reporter_ssrc:08x}, отчётов: {far.reports}, кадры "
               f"{', '.join(map(str, far.frames))}) насчитывает {far.lost} потерянных из {far.expected} пакетов "
               f"({far.loss_pct:.1f} %) {_range_ru(far)} (RFC 3550 §6.4.1), до {far.fraction_lost_pct_max:.1f} % за "
               f"один интервал отчёта; ")
    receiver = join_address(s.dst_ip, s.dst_port)
    if d and c:
        location = "both"
        tail_en = (f"the capture missed {at_most_en}{c} of them{whole_en}, lost before the capture point (upstream); "
                   f"the other {d} were lost after the capture point (downstream, between it and the receiver "
                   f"{receiver}), reported by the receiver's RTCP")
        tail_ru = (f"захват пропустил {at_most_ru}{c} из них{whole_ru}, они потеряны до точки захвата (выше по "
                   f"пути); остальные {d} потеряны после точки захвата (ниже по пути, между ней и получателем "
                   f"{receiver}), о чём сообщает RTCP получателя")
    elif d:
        location = "downstream"
        tail_en = (f"the capture missed none of them: all {d} were lost after the capture point (downstream, between "
                   f"it and the receiver {receiver}), reported by the receiver's RTCP")
        tail_ru = (f"захват не пропустил ни одного из них: все {d} потеряны после точки захвата (ниже по пути, между "
                   f"ней и получателем {receiver}), о чём сообщает RTCP получателя")
    elif far.lost < c:
        location = "upstream"
        tail_en = (f"the capture missed {at_most_en}{c} of them{whole_en}, more than the receiver lost: nothing was "
                   f"lost after the capture point, and the capture itself may have missed packets the receiver got "
                   f"(capture drops), or duplicates on the way counted as received (RFC 3550 A.3)")
        tail_ru = (f"захват пропустил {at_most_ru}{c} из них{whole_ru}, больше, чем потерял получатель: после точки "
                   f"захвата ничего не потеряно, а сам захват, возможно, пропустил пакеты, дошедшие до получателя, "
                   f"или дубликаты по пути засчитаны как принятые (RFC 3550 A.3)")
    else:
        location = "upstream"
        tail_en = (f"the capture missed {at_most_en}{c} of them{whole_en}: nothing more was lost after the capture "
                   f"point, the loss happened before it (upstream)")
        tail_ru = (f"захват пропустил {at_most_ru}{c} из них{whole_ru}: после точки захвата больше ничего не "
                   f"потеряно, потери произошли до неё (выше по пути)")
    return head_en + tail_en, head_ru + tail_ru, location


@check(
    id="media.no-rtp", category="media", severity="critical", owner="engineering",
    title={
        "en": "No audio in either direction",
        "ru": "Нет звука ни в одном направлении",
    },
    customer={
        "en": "{lead_en} We are checking the audio path between your equipment and our servers; please tell us "
              "whether this happens on every call.",
        "ru": "{lead_ru} Мы проверяем путь звука между вашим оборудованием и нашими серверами; сообщите, "
              "происходит ли это при каждом звонке.",
    },
    engineer={
        "en": "{subject}: answered (frame {answer_frame}), {length_en}, {rtp_en} at this capture "
              "point; SDP media: {media}. {vantage_en} Check that the capture covers the media ports, "
              "then the firewall/NAT for the RTP range and ICE/DTLS if used (RFC 3264, RFC 8445).",
        "ru": "{subject_ru}: отвечен (кадр {answer_frame}), {length_ru}, {rtp_ru} в точке "
              "захвата; медиа в SDP: {media_ru}. {vantage_ru} Убедитесь, что захват покрывает "
              "медиапорты, затем проверьте межсетевой экран/NAT для диапазона RTP и ICE/DTLS, если используется "
              "(RFC 3264, RFC 8445).",
    },
)
def no_rtp(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An answered call with audio negotiated (a non-zero port) and no RTP at all in either direction. A call whose
    SDP lets audio flow one way only (sendonly/recvonly, hold: RFC 3264 §6.1, §8.4) is not a sendrecv dialog
    (RULES.md): its sender need not send, and the RFC 6263 keep-alives of the other side are no audio.

    How sure that is depends on where the capture was taken (RULES.md §0.2): when the SDP media addresses of the
    call never appear in any packet of the capture, or several answered calls and not one RTP packet are seen, the
    capture point most likely does not see the media path (a signalling-only filter, an SBC port that carries SIP
    only, media relayed elsewhere, anonymised addresses). Those calls are summed up in one information finding of
    low confidence instead of a critical one each. A capture without a single RTP packet says nothing about the
    sound of its calls, even of a single one, so its silent calls are summed up the same way (the customer is not
    told "there was no sound" as a fact). A call captured on both sides of a B2BUA or SBC whose other leg
    (sipdiag.correlate.link_legs) carries RTP is not silent: its media was not at this capture point for this leg,
    an information finding of medium confidence. A call still up when the capture ends fewer than
    `media.no_rtp_report_s` (5 s) after its answer has shown neither "5 s after ACK" nor "the whole call"
    (RULES.md): information of low confidence, too short to tell. A call that switched to fax (T.38, RFC 3362) is
    not called a call without sound.

    ## Why it matters
    "The call connects but I hear nothing and they hear nothing": media blocked, both sides behind NAT without a
    relay, or direct media that bypasses the capture point.

    ## How to fix
    Make sure the capture sees the media path; open the RTP port range; anchor media on the SBC when both SDPs are
    private.

    ## References
    RFC 3264, RFC 8445, RFC 5764, RULES.md §0.2 (vantage point)
    """
    silent = []
    for call in analysis.calls:
        media = analysis.media_of(call)
        if media is None or media.verdict.verdict != "no-rtp":
            continue
        if negotiated_off(call, "caller->callee") or negotiated_off(call, "callee->caller"):
            # RULES.md media.no-rtp needs a sendrecv dialog: with audio negotiated one way only (sendonly/recvonly,
            # hold, RFC 3264 §6.1, §8.4) the side that may send need not (music on hold is optional), and the other
            # side's RFC 6263 keep-alives are no audio (sipdiag.media)
            continue
        audio = [m for n in call.negotiations for m in (n.answer or ()) if m.media == "audio" and m.port]
        if audio:  # else nothing to send RTP to: not this rule's case (hold, fax, rejected stream)
            silent.append(call)
    if not silent:
        return
    seen = _hosts_seen(analysis)
    any_rtp = any(m.stats.packets for m in analysis.streams)
    by_id = {c.call_id: c for c in analysis.calls}
    on_leg = {c.call_id: found for c in silent if (found := _leg_with_media(analysis, c, by_id)) is not None}
    rest = [c for c in silent if c.call_id not in on_leg]
    # Not one RTP packet in the capture: it says nothing about the calls' sound, even for a single call (a
    # signalling-only capture, RULES.md §0.2). With RTP elsewhere, a call whose SDP media hosts never appear in any
    # packet (and none of whose RTP was seen) is out of the capture's view the same way.
    unseen = [c for c in rest if not _media_hosts(c) & seen and not _packets(analysis, c)]
    blind = unseen if any_rtp else rest
    # Looked up once, not per silent call: a signalling-only capture of thousands of answered calls compared every
    # call with every other (a list membership of whole calls, a pass over every stream per call).
    in_blind = {id(c) for c in blind}
    with_rtp: dict[str | None, int] = {}  # call_id -> its streams that carry packets
    for m in analysis.streams:
        if m.stats.packets:
            with_rtp[m.call_id] = with_rtp.get(m.call_id, 0) + 1
    bound_with_rtp = sum(n for call_id, n in with_rtp.items() if call_id is not None)
    for call in silent:
        if id(call) in in_blind:
            continue
        values = _no_rtp_values(call, analysis)
        if call.call_id in on_leg:
            leg, packets = on_leg[call.call_id]
            values.update(
                lead_en="The sound of this call was recorded on its other leg (the connection on the other side of "
                        "our equipment), not on this one, so this leg alone does not show a sound problem.",
                lead_ru="Звук этого звонка записан на другом его плече (соединении по другую сторону нашего "
                        "оборудования), а не на этом, поэтому само это плечо не говорит о проблеме со звуком.",
                vantage_en=f"Its media was seen on the linked leg {leg.call_id} ({leg.rule}; {packets} RTP packets), "
                           f"not at this capture point for this leg: a vantage-point gap, not a silent call.",
                vantage_ru=f"Его медиа видно на связанном плече {leg.call_id} ({leg_rule_ru(leg.rule)}; RTP-пакетов: "
                           f"{packets}), но не в этой точке захвата для этого плеча: это ограничение точки захвата, "
                           f"а не вызов без звука.",
                linked_leg=leg.call_id)
            yield Hit(call.call_id, (values["answer_frame"],), values, severity=Severity.INFO, confidence="medium")
        elif (observed := _observed_s(call, analysis)) is not None and observed < setting("media.no_rtp_report_s"):
            # RULES.md media.no-rtp: no RTP ">= 5 s after ACK (or for the whole call)". A call still up when the
            # capture ends a second or two after its answer has shown neither: its media may not have begun yet.
            values.update(
                lead_en=f"Your call was recorded for only {observed:g} s after it connected, with no sound in that "
                        f"time; that is too short to tell a fault from sound that had not started yet.",
                lead_ru=f"Ваш звонок записан лишь {observed:g} с после соединения, и звука за это время не было; "
                        f"этого слишком мало, чтобы отличить неисправность от звука, который ещё не начался.",
                vantage_en=f"The capture ends {observed:g} s after the answer, before any BYE: too short to conclude "
                           f"(reported from {setting('media.no_rtp_report_s'):g} s after the answer or for a whole "
                           f"call, RULES.md media.no-rtp).",
                vantage_ru=f"Захват заканчивается через {observed:g} с после ответа, до какого-либо BYE: слишком "
                           f"мало для вывода (сообщается от {setting('media.no_rtp_report_s'):g} с после ответа или "
                           f"за весь вызов, RULES.md media.no-rtp).",
                observed_s=observed)
            yield Hit(call.call_id, (values["answer_frame"],), values, severity=Severity.INFO, confidence="low")
        elif bound_with_rtp - with_rtp.get(call.call_id, 0) > 0:
            values.update(vantage_en="Other calls of this capture carry RTP, so the capture point sees media.",
                          vantage_ru="Другие вызовы в этом захвате несут RTP, значит, точка захвата видит медиа.")
            yield Hit(call.call_id, (values["answer_frame"],), values)
        elif with_rtp.get(None):
            # RTP that no call of the capture explains proves less than another call's audio does.
            values.update(vantage_en="The capture carries RTP, but none that belongs to another call.",
                          vantage_ru="В захвате есть RTP, но ни один поток не относится к другому вызову.")
            yield Hit(call.call_id, (values["answer_frame"],), values, confidence="medium")
        else:
            values.update(vantage_en="This call's few RTP packets are the only ones of the capture.",
                          vantage_ru="Немногие RTP-пакеты этого вызова — единственные в захвате.")
            yield Hit(call.call_id, (values["answer_frame"],), values, confidence="medium")
    if blind:
        first = _no_rtp_values(blind[0], analysis)
        hosts = sorted({h for c in blind for h in _media_hosts(c)} - seen)
        answered = sum(1 for c in analysis.calls if c.outcome == "answered")
        why_en = (f"the SDP media addresses ({', '.join(hosts[:5])}{' ...' if len(hosts) > 5 else ''}) never "
                  f"appear in any packet of the capture" if hosts else
                  f"not one RTP packet in the capture ({answered} answered call{'s' if answered != 1 else ''})")
        why_ru = (f"медиаадреса из SDP ({', '.join(hosts[:5])}{' ...' if len(hosts) > 5 else ''}) не встречаются "
                  f"ни в одном пакете захвата" if hosts else
                  f"ни одного RTP-пакета в захвате (отвеченных вызовов: {answered})")
        fax = any(_fax(c) for c in blind)
        first.update(
            subject=f"{len(blind)} answered call(s), the first {blind[0].call_id}",
            subject_ru=f"{len(blind)} отвеченных вызовов, первый {blind[0].call_id}", calls=len(blind),
            call_ids=[c.call_id for c in blind[:20]], unseen_media_hosts=hosts[:20],
            lead_en=("The recording of your calls we received does not include their sound or fax data, so we "
                     "cannot judge them from it yet." if fax else
                     "The recording of your calls we received does not include their sound, so we cannot judge the "
                     "audio from it yet."),
            lead_ru=("В полученной записи ваших звонков нет ни звука, ни данных факса, поэтому оценить их по ней "
                     "пока нельзя." if fax else
                     "В полученной записи ваших звонков нет звука, поэтому оценить по ней качество звука пока "
                     "нельзя."),
            vantage_en=f"The capture may not see the media path: {why_en}; no audio problem can be concluded "
                       f"from it.",
            vantage_ru=f"Точка захвата, возможно, не видит путь медиа: {why_ru}; вывода о проблеме со звуком "
                       f"из этого сделать нельзя.")
        yield Hit(None, tuple(sorted(_no_rtp_values(c)["answer_frame"] for c in blind))[:50], first,
                  severity=Severity.INFO, confidence="low")


def _observed_s(call, analysis: Analysis) -> float | None:
    """Seconds from the call's answer to the end of the capture when the capture ends before the call does (no
    BYE seen), else None: a call that ended was watched whole. None too where the capture's clock steps in between
    (sipdiag.clocksteps): the span is unknown, not short."""
    answer, bye = call.answer_and_bye()
    capture = analysis.capture
    if answer is None or bye is not None or capture.last_ts_ns is None:
        return None
    if not capture.clock.sound(answer.frame, capture.packets):
        return None
    return round(max(capture.last_ts_ns - answer.ts_ns, 0) / 1e9, 1)


def _fax(call) -> bool:
    """The call switched to fax: T.38 over UDPTL (an image m-line, RFC 3362) was offered in it."""
    return any(m.media == "image" for n in call.negotiations for m in n.offer + (n.answer or ()))


def _packets(analysis: Analysis, call) -> tuple[int, int]:
    """RTP packets of the call caller->callee and callee->caller (below the verdict's audio threshold here)."""
    media = analysis.media_of(call)
    if media is None:
        return 0, 0
    return media.verdict.packets_to_callee, media.verdict.packets_to_caller


def _leg_with_media(analysis: Analysis, call, by_id: dict):
    """(leg, RTP packets) of the first leg linked to the call (a B2BUA/SBC captured on both sides, sipdiag.correlate
    link_legs) whose streams carry RTP, else None."""
    for leg in call.legs:
        other = by_id.get(leg.call_id)
        media = analysis.media_of(other) if other is not None else None
        packets = sum(analysis.streams[i].stats.media_packets for i in media.streams) if media is not None else 0
        if packets:
            return leg, packets
    return None


def _no_rtp_values(call, analysis: Analysis | None = None) -> dict:
    answer_frame = next((m.frame for m in call.messages if m.status_code and 200 <= m.status_code < 300
                         and m.cseq_method == "INVITE"), call.first_frame)
    to_callee, to_caller = _packets(analysis, call) if analysis is not None else (0, 0)
    # "your call" is the caller's: without its INVITE the capture does not show who called (sipdiag.parties), and
    # the customer text names the call by its parties' numbers (no third party's address, RULES.md §6)
    between_en, between_ru = between_numbers(call)
    call_en, call_ru = ("Your call", "Звонок") if call.roles_known else (
        f"The call {between_en}", f"Звонок {between_ru}")
    if to_callee or to_caller:
        rtp_en = (f"only {to_callee + to_caller} RTP packets ({to_callee} {direction_en(call, 'caller->callee')}, "
                  f"{to_caller} {direction_en(call, 'callee->caller')}), too few to carry audio,")
        rtp_ru = (f"лишь {to_callee + to_caller} RTP-пакетов ({to_callee} от {party_ru(call, 'caller')}, "
                  f"{to_caller} от {party_ru(call, 'callee')}), слишком мало для звука,")
        lead_en, lead_ru = (f"{call_en} connected but almost no sound got through.",
                            f"{call_ru} соединился, но звука почти не было.")
    else:
        rtp_en, rtp_ru = "no RTP in either direction", "RTP нет ни в одну сторону"
        lead_en, lead_ru = (f"{call_en} connected but there was no sound at all.",
                            f"{call_ru} соединился, но звука не было совсем.")
    if _fax(call):  # T.38 (RFC 3362): a fax call, whose media is not sound
        fax_en, fax_ru = ("Your fax call", "Факсовый звонок") if call.roles_known else (
            f"The fax call {between_en}", f"Факсовый звонок {between_ru}")
        lead_en = f"{fax_en} connected, but neither sound nor fax data was seen on it."
        lead_ru = f"{fax_ru} соединился, но на нём не было видно ни звука, ни данных факса."
    lines = [m for n in call.negotiations for m in n.offer + (n.answer or ()) if m.port]
    return {"call_id": call.call_id, "subject": f"Call {call.call_id}", "subject_ru": f"Вызов {call.call_id}",
            "lead_en": lead_en, "lead_ru": lead_ru, "rtp_en": rtp_en, "rtp_ru": rtp_ru,
            "answer_frame": answer_frame, "duration_s": call.duration_s,
            # no duration where the capture's clock steps between the answer and the end (sipdiag.clocksteps)
            "length_en": f"{call.duration_s} s long" if call.duration_s is not None else "of unknown length",
            "length_ru": f"длительность {call.duration_s} с" if call.duration_s is not None
            else "длительность неизвестна",
            # an m= without any c= (RFC 8866 §5.7 requires one) is named by its port alone
            "media": ", ".join(join_address(m.address, m.port) if m.address else f"port {m.port} (no c=)"
                               for m in lines),
            "media_ru": ", ".join(join_address(m.address, m.port) if m.address else f"порт {m.port} (без c=)"
                                  for m in lines)}


def _media_hosts(call) -> set[str]:
    return {m.address for n in call.negotiations for m in n.offer + (n.answer or ()) if m.port and m.address}


def _hosts_seen(analysis: Analysis) -> set[str]:
    """Every IP address some packet of the capture came from or went to (SIP, RTP, RTCP)."""
    seen: set[str] = set()
    for call in analysis.calls:
        for m in call.messages:
            seen.add(m.src_ip)
            seen.add(m.dst_ip)
    for t in chain(analysis.transactions, *(r.transactions for r in analysis.registrations)):
        seen.add(address_host(t.src))
        seen.add(address_host(t.dst))
    for m in analysis.streams:
        seen.add(m.stats.src_ip)
        seen.add(m.stats.dst_ip)
    if analysis.rtp is not None:
        for p in analysis.rtp.rtcp.packets:
            seen.add(p.src_ip)
            seen.add(p.dst_ip)
    return seen


def r_limits() -> tuple[tuple[float, Severity], ...]:
    """RULES.md §5 media.r_factor (below 70 minor, 60 major, 50 critical by default), worst first, as configured."""
    return ((setting("media.r_factor.critical"), Severity.CRITICAL), (setting("media.r_factor.major"), Severity.MAJOR),
            (setting("media.r_factor.minor"), Severity.MINOR))


@check(
    id="media.low-mos", category="media", severity="minor", owner="engineering",
    title={
        "en": "Estimated listening quality below target",
        "ru": "Расчётное качество восприятия речи ниже целевого",
    },
    customer={
        "en": "The sound of your call was of poor quality (our estimate: {mos} out of 5). {main_cause_en}",
        "ru": "Качество звука вашего звонка было низким (наша оценка: {mos} из 5). {main_cause_ru}",
    },
    engineer={
        "en": "Stream {stream} ({direction}) of call {call_id}: R {r_factor}, MOS {mos}{estimate}. {summary} "
              "(ITU-T G.107 E-model; Ie/Bpl per G.113). {loss_en}{codec_en}",
        "ru": "Поток {stream} ({direction}) вызова {call_id}: R {r_factor}, MOS {mos}{estimate_ru}. {summary_ru} "
              "(E-модель ITU-T G.107; Ie/Bpl по G.113). {loss_ru}{codec_ru}",
    },
)
def low_mos(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A stream whose E-model rating is below R 70 (MOS about 3.6), with the factors that took it down. Only streams
    with at least `media.min_media_for_verdict_s` (10 s) of media and 100 expected packets are rated: a shorter one
    is too little to judge a call's quality by (RULES.md media.low-mos; VoIPmonitor gives no MOS under 100
    packets). Wideband codecs are compared on the narrowband scale (R/1.29, G.107.1). The R shown stays within 0 and
    the top of the codec's scale (100, wideband 129): past the bottom, G.107 Annex B gives MOS 1 whatever the
    number, and the summary says how far the impairments add up instead.

    The loss rated is the one media.packet-loss grades by: the capture's, or, where the stream's receiver reports
    on it in RTCP (RFC 3550 §6.4.1) over at least 100 packets and its loss costs more R points (ΔR with the codec's
    Ie and Bpl, G.107 §7.5, G.113 Appendix I), the receiver's, which also counts the packets lost after the capture
    point: what the listener heard. The receiver's is rated as random loss (RTCP does not tell how the losses
    cluster), everything else as measured. The finding says which loss it rated (`loss_seen_by`: capture or
    receiver) and gives both figures.

    When the codec alone keeps the stream below target (G.726 at 16 kbit/s: Ie 50, MOS 2.1 at best) and the
    network cost less than `media.delta_r.minor` R points, the score is the codec's ceiling, not a network fault
    (RULES.md: "report the codec ceiling separately"): the finding is minor, names the ceiling, and the codec is its
    main factor.

    ## Why it matters
    Users notice: choppy, robotic or delayed speech. The factors say whether loss, bursts, jitter-buffer discards,
    the codec or delay is to blame.

    ## How to fix
    Act on the largest factor: loss and bursts in the network, jitter (buffer or QoS), a low-bitrate codec (offer
    G.711 or a wideband codec first), delay. Loss the receiver reports beyond the capture's lies between the
    capture point and the receiver: capture there.

    ## References
    ITU-T G.107, G.107.1, G.113, RULES.md §1.4
    """
    limits = r_limits()
    min_s, delta_minor = setting("media.min_media_for_verdict_s"), setting("media.delta_r.minor")
    far_ends = far_end_losses(analysis)
    for k, m in enumerate(analysis.streams):
        base, s = m.quality, m.stats
        if base is None or m.call_id is None or s.duration_s < min_s or s.expected < MIN_PACKETS_TO_GRADE:
            continue
        # The loss media.packet-loss grades by: where the receiver's RTCP counts more loss than the capture saw
        # (lost after the capture point), the listener heard that, not the capture's figure. A receiver's range of
        # fewer packets than a stream must have to be rated is as little to judge by.
        far = far_ends.get(k)
        view = worse_loss(m, far, base, short_alone=False)
        q = view.rating if view is not None and view.rating is not None else base
        if q.r_factor_nb >= limits[-1][0]:
            continue
        severity = next(sev for limit, sev in limits if q.r_factor_nb < limit)
        top = max(q.factors, key=lambda f: f.r_points_lost) if q.factors else None
        codec_points = sum(f.r_points_lost for f in q.factors if f.name == "codec")
        scale = WIDEBAND_RATIO if q.inputs.scale == WIDEBAND else 1.0  # factors are on the codec's scale
        # R points the path took (loss, bursts, discards, delay), narrowband: all but the codec and the advantage.
        network = sum(f.r_points_lost for f in q.factors if f.name not in ("codec", "advantage")) / scale
        codec_limited = codec_points > 0 and network < delta_minor
        values = {
            "call_id": m.call_id, "stream": m.label,
            "direction": m.binding.direction, "r_factor": round(q.r_shown, 1), "mos": round(q.mos, 2),
            "estimate": " (estimate)" if q.estimate else "", "summary": q.summary,
            "estimate_ru": " (оценка)" if q.estimate else "", "summary_ru": q.summary_ru,
            # the customer reads the factor in words; the engineer keeps its name
            "main_cause_en": f"The main cause is {customer_cause(top.name, 'en')}." if top else "",
            "main_cause_ru": f"Главная причина: {customer_cause(top.name, 'ru')}." if top else "",
            "main_factor": top.name if top else None,
            "codec": s.codec, "mos_ceiling": round(q.mos_ceiling, 2), "codec_limited": codec_limited,
            "codec_en": "", "codec_ru": "",
            # which loss the rating used, and both figures (RFC 3550 A.3 at the capture point, §6.4.1 the receiver's)
            "loss_seen_by": "receiver" if q is not base else "capture", "loss_pct": round(q.inputs.loss_pct, 1),
            "capture_loss_pct": round(base.inputs.loss_pct, 1),
            "receiver_loss_pct": round(far.loss_pct, 1) if far is not None else None,
            "downstream_lost": far.downstream_lost if far is not None else None,
            "far_end": _far_end_evidence(far) if far is not None else None,
        }
        if codec_limited:
            severity = Severity.MINOR
            values["main_factor"] = "codec"
            values["main_cause_en"] = f"The main cause is {customer_cause('codec', 'en')}, not the network."
            values["main_cause_ru"] = f"Главная причина: {customer_cause('codec', 'ru')}, а не сеть."
            values["codec_en"] = (f" The codec {s.codec} alone limits the stream to MOS {q.mos_ceiling:.2f}; the "
                                  f"network cost {network:.1f} R points: offer a better codec first.")
            values["codec_ru"] = (f" Один лишь кодек {s.codec} ограничивает поток оценкой MOS {q.mos_ceiling:.2f}; "
                                  f"сеть отняла {network:.1f} пунктов R: предлагайте первым кодек получше.")
        loss_en, loss_ru = _rated_loss_texts(q, base, far)
        frames = (s.first_frame,) + (far.frames if q is not base and far is not None else ())
        yield Hit(m.call_id, frames, values, severity=severity, texts={"loss_en": loss_en, "loss_ru": loss_ru})


def _rated_loss_texts(q: EModelResult, base: EModelResult, far: FarEndLoss | None) -> tuple[str, str]:
    """Which loss media.low-mos rated the stream with (en, ru): the capture's (`base`) or its receiver's (`q`, as
    random loss), and the other figure beside it."""
    cap = base.inputs.loss_pct
    if q is not base and far is not None:
        d = far.downstream_lost
        after_en = f", {d} of them lost after it (downstream)" if d else ""
        after_ru = f"; {d} из них потеряны после неё (ниже по пути)" if d else ""
        return (f"Rated with the loss the receiver reports in RTCP (SSRC 0x{far.reporter_ssrc:08x}, RFC 3550 "
                f"§6.4.1): {far.lost} of {far.expected} packets ({far.loss_pct:.1f} %), against {cap:.1f} % at the "
                f"capture point{after_en}; as random loss, since RTCP does not tell how the losses cluster.",
                f"Оценка по потерям, о которых сообщает RTCP получателя (SSRC 0x{far.reporter_ssrc:08x}, RFC 3550 "
                f"§6.4.1): {far.lost} из {far.expected} пакетов ({far.loss_pct:.1f} %) против {cap:.1f} % в точке "
                f"захвата{after_ru}; как случайные потери, поскольку RTCP не говорит, как они сгруппированы.")
    head_en = f"Rated with the loss seen at the capture point: {cap:.1f} % (RFC 3550 A.3)"
    head_ru = f"Оценка по потерям в точке захвата: {cap:.1f} % (RFC 3550 A.3)"
    if far is None:
        return (f"{head_en}; no usable RTCP report of the receiver on this stream to compare with.",
                f"{head_ru}; пригодных для сравнения отчётов RTCP получателя об этом потоке нет.")
    who_en = f"the receiver's RTCP (SSRC 0x{far.reporter_ssrc:08x}) reports {far.loss_pct:.1f} %"
    who_ru = f"RTCP получателя (SSRC 0x{far.reporter_ssrc:08x}) сообщает о {far.loss_pct:.1f} %"
    if far.lost > 0 and far.expected < MIN_PACKETS_TO_GRADE:
        return (f"{head_en}; {who_en} over only {far.expected} packets, too few to rate the stream by.",
                f"{head_ru}; {who_ru} лишь на {far.expected} пакетах: слишком мало, чтобы оценивать по ним.")
    return f"{head_en}; {who_en}, which costs no more.", f"{head_ru}; {who_ru}, что обходится не дороже."
