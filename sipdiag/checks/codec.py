"""Codec and offer/answer rules (RULES.md §3.3)."""

from __future__ import annotations

from functools import lru_cache

from collections.abc import Iterator
from typing import TYPE_CHECKING

# formats with no voice of their own: RULES.md codec.no-common-codec leaves them out of "a codec in common"
from ..rtpclock import AUXILIARY_ENCODINGS as AUXILIARY
from . import Hit, Severity, check

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import MediaDescription

NOT_ACCEPTABLE = (488, 606, 415)  # Not Acceptable Here / Not Acceptable / Unsupported Media Type


@lru_cache(maxsize=1024)  # a capture has a few distinct codec strings, read for every call by several rules
def format_key(codec: str) -> tuple[str, str]:
    """`PCMU/8000` -> ("PCMU", "8000"); an unresolved dynamic type ("96") -> ("#96", ""). Names compare
    case-insensitively (RFC 4855 §3: media subtype names are case-insensitive)."""
    name, _, rest = codec.partition("/")
    if not rest and name.isdigit():
        return "#" + name, ""
    return name.upper(), rest.split("/", 1)[0]


def voice_formats(m: MediaDescription) -> dict[tuple[str, str], int]:
    """The voice formats of an m= line, key -> payload type (the first one listing it)."""
    out: dict[tuple[str, str], int] = {}
    for pt, codec in zip(m.payload_types, m.codecs):
        key = format_key(codec)
        if key[0] not in AUXILIARY:
            out.setdefault(key, pt)
    return out


@check(
    id="codec.no-common-codec", category="codec", severity="major", owner="first-line",
    title={
        "en": "Offer/answer failed: no codec both sides accept",
        "ru": "Согласование offer/answer не удалось: нет кодека, который принимают обе стороны",
    },
    customer={
        "en": "Your call could not be connected because your phone and the other side have no voice format in "
              "common. Please allow G.711 (PCMA/PCMU) in the phone's settings; we will check the account's codec "
              "list.",
        "ru": "Звонок не соединился: у вашего телефона и другой стороны нет общего формата передачи голоса. "
              "Разрешите в настройках телефона G.711 (PCMA/PCMU); мы проверим список кодеков в вашей учётной "
              "записи.",
    },
    engineer={
        "en": "Call {call_id}: {status} {reason} (frame {frame}) to an offer of {offered} (frame {offer_frame}); "
              "{warning}. Align the codec lists (device, account profile, SBC policy) or transcode "
              "(RFC 3264 §6, RFC 3261 §21.4.26).",
        "ru": "Вызов {call_id}: {status} {reason} (кадр {frame}) на предложение {offered_ru} (кадр {offer_frame}); "
              "{warning_ru}. Согласуйте списки кодеков (устройство, профиль, политика SBC) или включите "
              "транскодирование (RFC 3264 §6, RFC 3261 §21.4.26).",
    },
)
def no_common_codec(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A call rejected with 488 Not Acceptable Here, 606 Not Acceptable or 415, the answers to an offer nothing in
    which is acceptable.

    ## Why it matters
    The call never connects; typically a device offering only G.729/Opus to a trunk that takes G.711 only.

    ## How to fix
    Put a codec both sides support in the device's and the account's lists, or transcode on the SBC.

    ## References
    RFC 3264 §6, RFC 3261 §21.4.26, §21.6.4
    """
    for call in analysis.calls:
        if call.final_status not in NOT_ACCEPTABLE:
            continue
        offer = next((n for n in call.negotiations if n.offer), None)
        frame = next((m.frame for m in call.messages if m.status_code == call.final_status), call.first_frame)
        yield Hit(call.call_id, (offer.offer_frame, frame) if offer else (frame,), {
            "call_id": call.call_id, "status": call.final_status, "reason": call.final_reason or "",
            "frame": frame, "offer_frame": offer.offer_frame if offer else "-",
            "offered": ", ".join(c for m in offer.offer for c in m.codecs) if offer else "nothing",
            "offered_ru": ", ".join(c for m in offer.offer for c in m.codecs) if offer else "ничего",
            "warning": "see the Warning header of the response", "warning_ru": "см. заголовок Warning ответа",
        })


# Negotiation.kind as the Russian notes name the offer/answer exchange
NEGOTIATION_KINDS_RU = {"initial": "в начале вызова", "re-invite": "в re-INVITE", "update": "в UPDATE",
                        "prack": "в PRACK"}

# RFC 4867 §8.1 AMR/AMR-WB defaults: bandwidth-efficient (octet-align=0); RFC 7261 / RFC 4856 G.729 annexb=yes.
AMR_NAMES = ("AMR", "AMR-WB")


def _fmtp(m: MediaDescription, pt: int) -> dict[str, str]:
    text = next((t for p, t in m.fmtp if p == pt), "")
    params = {}
    for part in text.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            params[name.strip().lower()] = value.strip().lower()
    return params


def _fmtp_conflicts(offered: MediaDescription, answered: MediaDescription) -> list[tuple[str, str]]:
    """Incompatible a=fmtp between the offer's and the answer's entry of the same codec (RFC 4867 §8, §8.3.1;
    G.729 Annex B, RFC 4856), each in English and Russian."""
    out = []
    offer_formats = voice_formats(offered)
    for key, apt in voice_formats(answered).items():
        opt = offer_formats.get(key)
        if opt is None:
            continue
        o, a = _fmtp(offered, opt), _fmtp(answered, apt)
        if key[0] in AMR_NAMES:
            if o.get("octet-align", "0") != a.get("octet-align", "0"):
                out.append((f"{key[0]} octet-align={o.get('octet-align', '0')} offered, "
                            f"{a.get('octet-align', '0')} answered",
                            f"{key[0]} octet-align={o.get('octet-align', '0')} в предложении, "
                            f"{a.get('octet-align', '0')} в ответе"))
            modes_o, modes_a = o.get("mode-set"), a.get("mode-set")
            if modes_o and modes_a and not set(modes_o.split(",")) & set(modes_a.split(",")):
                out.append((f"{key[0]} mode-set {modes_o} offered, {modes_a} answered: no mode in common",
                            f"{key[0]} mode-set {modes_o} в предложении, {modes_a} в ответе: общих режимов нет"))
        elif key[0] == "G729" and o.get("annexb") == "no" and a.get("annexb") == "yes":
            # An answer may decline Annex B (annexb=no to the default yes); turning it on against an offer that
            # excluded it sends comfort-noise frames the offerer refused.
            out.append(("G729 annexb=no offered, annexb=yes answered",
                        "G729 annexb=no в предложении, annexb=yes в ответе"))
    return out


def format_issues(offered: MediaDescription, answered: MediaDescription) -> list[tuple[str, Severity, str, str]]:
    """(clause, severity, description, its Russian) for each way the answer of one m= line breaks RFC 3264 §6.1."""
    issues: list[tuple[str, Severity, str, str]] = []
    offer_formats, answer_formats = voice_formats(offered), voice_formats(answered)
    if answer_formats and not set(answer_formats) & set(offer_formats):
        issues.append(("a", Severity.MAJOR, f"the answer ({', '.join(answered.codecs)}) lists no voice format of "
                                            f"the offer ({', '.join(offered.codecs)})",
                       f"в ответе ({', '.join(answered.codecs)}) нет ни одного голосового формата предложения "
                       f"({', '.join(offered.codecs)})"))
    offer_by_pt = dict(zip(offered.payload_types, offered.codecs))
    offer_pt_of = {format_key(c): pt for pt, c in reversed(list(zip(offered.payload_types, offered.codecs)))}
    for pt, codec in zip(answered.payload_types, answered.codecs):
        key = format_key(codec)
        mine = offer_by_pt.get(pt)
        if mine is not None and format_key(mine) != key and not key[0].startswith("#") \
                and not format_key(mine)[0].startswith("#"):
            issues.append(("c", Severity.MAJOR, f"payload type {pt} is {mine} in the offer but {codec} in the answer",
                           f"тип нагрузки {pt} в предложении — {mine}, а в ответе — {codec}"))
        elif pt >= 96 and mine is None and key in offer_pt_of and not key[0].startswith("#"):
            issues.append(("b", Severity.MINOR, f"{codec} offered as payload type {offer_pt_of[key]} but answered "
                                                f"as {pt}",
                           f"{codec} предложен как тип нагрузки {offer_pt_of[key]}, а в ответе — как {pt}"))
    for side, side_ru, m in (("offer", "предложение", offered), ("answer", "ответ", answered)):
        for pt, codec in m.static_redefined:
            issues.append(("d", Severity.MINOR, f"the {side} redefines static payload type {pt} as {codec}",
                           f"{side_ru} переопределяет статический тип нагрузки {pt} как {codec}"))
    issues.extend(("e", Severity.MAJOR, en, ru) for en, ru in _fmtp_conflicts(offered, answered))
    return issues


@check(
    id="codec.answer-format-issues", category="codec", severity="major", owner="engineering",
    title={
        "en": "The SDP answer breaks the offer/answer rules for audio formats",
        "ru": "SDP-ответ нарушает правила offer/answer для аудиоформатов",
    },
    customer={
        "en": "The two systems in your call described the voice format in ways that do not fit together, which can "
              "cause silence or noise on the line. No action is needed from you: we are correcting the "
              "configuration on our side.",
        "ru": "Две системы в вашем звонке описали формат голоса несовместимым образом, из-за чего возможны тишина "
              "или шум на линии. От вас ничего не требуется: мы исправляем настройки со своей стороны.",
    },
    engineer={
        "en": "Call {call_id}, {kind} offer/answer: offer frame {offer_frame} ({offered}), answer frame "
              "{answer_frame} ({answered}): {issues}. RTP payload types seen: {rtp_pts}. RFC 3264 §6.1: the answer "
              "must list at least one offered format, should reuse the offered payload type numbers and must not "
              "remap a number; fmtp parameters must be compatible (RFC 4867 §8 for AMR). Fix the answering side "
              "(usually a B2BUA/PBX) or let the SBC normalise the SDP.",
        "ru": "Вызов {call_id}, обмен offer/answer ({kind_ru}): предложение в кадре {offer_frame} ({offered}), ответ "
              "в кадре {answer_frame} ({answered}): {issues_ru}. Типы нагрузки RTP: {rtp_pts_ru}. RFC 3264 §6.1: ответ "
              "должен содержать хотя бы один предложенный формат, должен сохранять номера типов нагрузки и не "
              "может переназначать номер; параметры fmtp должны быть совместимы (RFC 4867 §8 для AMR). "
              "Исправьте отвечающую сторону (обычно B2BUA/АТС) или нормализуйте SDP на SBC.",
    },
)
def answer_format_issues(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    An SDP answer that breaks RFC 3264 §6.1 for an accepted stream: (a) none of the offered voice formats in the
    answer, (b) an offered dynamic codec answered under another payload type number, (c) one payload type number
    meaning different codecs in offer and answer, (d) a static payload type redefined by a=rtpmap, (e) fmtp
    parameters that cannot interwork (AMR octet-align or disjoint mode-set, G.729 annexb).
    An answer that *adds* formats besides offered ones, names differing only in case and static types without
    rtpmap are allowed and not reported.

    ## Why it matters
    The offerer may discard or misdecode what it receives: silence, noise or one-way audio, and DTMF lost when
    the telephone-event number differs.

    ## How to fix
    Fix the answering side's offer/answer handling (PBX, B2BUA), or have the SBC renumber payload types and
    align fmtp; for AMR use the same octet-align on both sides.

    ## References
    RFC 3264 §6.1, §8.3.2; RFC 3551 §6; RFC 4867 §8; RFC 8866 §6.6, §6.15
    """
    for call in analysis.calls:
        for n in call.negotiations:
            if not n.answer:
                continue
            found: list[tuple[str, Severity, str, str]] = []
            pair = None
            for offered, answered in zip(n.offer, n.answer):
                if not offered.port or not answered.port or "RTP" not in answered.proto.upper():
                    continue  # rejected (port 0, RFC 3264 §6) or not RTP (T.38 udptl)
                issues = format_issues(offered, answered)
                if issues:
                    found.extend(issues)
                    pair = pair or (offered, answered)
            if not found or pair is None:
                continue
            media = analysis.media_of(call)
            pts = ", ".join(map(str, sorted({pt for i in (media.streams if media else ())
                                             for pt in analysis.streams[i].stats.payload_types})))
            yield Hit(call.call_id, (n.offer_frame, n.answer_frame or n.offer_frame), {
                "call_id": call.call_id, "kind": n.kind, "kind_ru": NEGOTIATION_KINDS_RU.get(n.kind, n.kind),
                "offer_frame": n.offer_frame,
                "answer_frame": n.answer_frame, "offered": ", ".join(pair[0].codecs),
                "answered": ", ".join(pair[1].codecs), "clauses": "".join(sorted({c for c, _, _, _ in found})),
                "issues": "; ".join(en for _, _, en, _ in found), "issues_ru": "; ".join(ru for _, _, _, ru in found),
                "rtp_pts": pts or "none", "rtp_pts_ru": pts or "нет",
            }, severity=max(sev for _, sev, _, _ in found))
