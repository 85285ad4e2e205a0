"""Media security rule (RULES.md §3.3 media.srtp-profile-mismatch): SRTP on one side, plain RTP on the other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import Hit, check
from .codec import NEGOTIATION_KINDS_RU

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import MediaDescription

NOT_ACCEPTABLE = (488, 606)


def secure_profile(m: MediaDescription) -> bool:
    """RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP(F): the profile itself requires SRTP (RFC 3711 §7, RFC 5764 §8)."""
    return "SAVP" in m.proto.upper()


def _mismatch(offered: MediaDescription, answered: MediaDescription) -> tuple[str, str] | None:
    """What the answer of one m= line gets wrong, in English and Russian; None when nothing."""
    if not offered.port or not answered.port:
        return None
    if secure_profile(offered) != secure_profile(answered):
        return (f"offer {offered.proto} answered with {answered.proto}",
                f"на предложение {offered.proto} ответили {answered.proto}")
    if offered.crypto_suites and answered.crypto_suites and secure_profile(answered) \
            and not set(offered.crypto_suites) & set(answered.crypto_suites):
        return (f"a=crypto suites offered {', '.join(offered.crypto_suites)}, answered "
                f"{', '.join(answered.crypto_suites)}: none in common",
                f"наборы a=crypto в предложении {', '.join(offered.crypto_suites)}, в ответе "
                f"{', '.join(answered.crypto_suites)}: общих нет")
    if secure_profile(answered) and not answered.crypto_suites and not answered.fingerprint \
            and (offered.crypto_suites or offered.fingerprint):
        return (f"answer {answered.proto} without keys (no a=crypto, no a=fingerprint)",
                f"ответ {answered.proto} без ключей (нет ни a=crypto, ни a=fingerprint)")
    return None


@check(
    id="media.srtp-profile-mismatch", category="media", severity="critical", owner="first-line",
    title={
        "en": "Encrypted (SRTP) and plain RTP media disagree",
        "ru": "Стороны расходятся в шифровании медиа: SRTP против открытого RTP",
    },
    customer={
        "en": "Your phone and the other side disagree on whether the call's sound is encrypted, so the call fails "
              "or has no sound. We are aligning the encryption setting; if your phone has an 'SRTP' or 'media "
              "encryption' option, please set it as your provider's instructions say.",
        "ru": "Ваш телефон и другая сторона расходятся в том, шифровать ли звук звонка, поэтому звонок не проходит "
              "или идёт без звука. Мы согласуем настройку шифрования; если в телефоне есть параметр «SRTP» или "
              "«шифрование медиа», установите его по инструкции провайдера.",
    },
    engineer={
        "en": "Call {call_id}, {kind} offer frame {offer_frame}{answer}: {problem}. Align the media security policy "
              "of the device, the account and the SBC: SDES (RFC 4568) needs a common a=crypto suite such as "
              "AES_CM_128_HMAC_SHA1_80 under RTP/SAVP; DTLS-SRTP (RFC 5763/5764) needs UDP/TLS/RTP/SAVP(F) and "
              "a=fingerprint on both sides.",
        "ru": "Вызов {call_id}, предложение ({kind_ru}) в кадре {offer_frame}{answer_ru}: {problem_ru}. Согласуйте "
              "политику защиты медиа на устройстве, в учётной записи и на SBC: для SDES (RFC 4568) нужен общий "
              "набор a=crypto, например AES_CM_128_HMAC_SHA1_80, с профилем RTP/SAVP; для DTLS-SRTP "
              "(RFC 5763/5764) — UDP/TLS/RTP/SAVP(F) и a=fingerprint с обеих сторон.",
    },
)
def srtp_profile_mismatch(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    Per offer/answer and m= line: a secure profile (RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF) answered with plain
    RTP/AVP or the reverse; SDES a=crypto suites with nothing in common; a secure answer without keys; an offer
    that requires SRTP rejected with 488/606 (medium confidence: the rejection may have another reason).
    "Best effort" SRTP (RTP/AVP with a=crypto answered plainly, RFC 5939 capability negotiation) is allowed.
    Without the keys, decryption failures cannot be verified from a capture.

    ## Why it matters
    The call is rejected, or connects with no audio because one side discards what the other sends.

    ## How to fix
    Set the same media encryption policy on the phone, the account profile and the SBC (SRTP required,
    optional or off), with a common crypto suite.

    ## References
    RFC 3711; RFC 4568 §6.1, §7.1; RFC 5763; RFC 5764 §8; RFC 3264 §6
    """
    for call in analysis.calls:
        for n in call.negotiations:
            problem = None
            confidence = "high"
            if n.answer:
                problem = next((p for o, a in zip(n.offer, n.answer) if (p := _mismatch(o, a))), None)
            elif n.status in NOT_ACCEPTABLE and any(secure_profile(m) and m.port for m in n.offer) \
                    and not any(not secure_profile(m) and m.port and m.media == "audio" for m in n.offer):
                problem = (f"an offer requiring SRTP was rejected with {n.status}",
                           f"предложение, требующее SRTP, отклонено ответом {n.status}")
                confidence = "medium"
            if problem is None:
                continue
            frames = (n.offer_frame,) + ((n.answer_frame,) if n.answer_frame else ())
            yield Hit(call.call_id, frames, {
                "call_id": call.call_id, "kind": n.kind, "kind_ru": NEGOTIATION_KINDS_RU.get(n.kind, n.kind),
                "offer_frame": n.offer_frame, "answer_frame": n.answer_frame,
                "problem": problem[0], "problem_ru": problem[1],
                "answer": f", answer frame {n.answer_frame}" if n.answer_frame else "",
                "answer_ru": f", ответ в кадре {n.answer_frame}" if n.answer_frame else "",
            }, confidence=confidence)
            break
