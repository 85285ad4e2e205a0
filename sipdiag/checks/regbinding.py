"""Registration binding rules (RULES.md §3.4): expiry handling, the Contact the registrar returns, and the NAT
mapping a binding's refreshes arrive through."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..addresses import address_host
from ..parsers.sipuri import same_uri
from . import Hit, Severity, check
from .regfailures import KEPT, all_frames, group_evidence, grouped, likewise, lines, several_lines, subject
from .settings import setting

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..clocksteps import ClockSteps
    from ..model import RegisterExchange, Registration

SHORT_EXPIRY_S = 60  # RULES.md reg.interval-too-brief (c): a requested expiry under a minute
LAPSE_TOLERANCE_S = 1.0
RAPID_SHARE = 0.10  # RULES.md reg.contact-binding-mismatch: re-REGISTER within 10 % of the granted expiry


def _ok(ex: RegisterExchange) -> bool:
    return ex.status is not None and 200 <= ex.status < 300


def _binding(ex: RegisterExchange) -> bool:
    """A REGISTER that adds or refreshes a binding (not a de-registration or a query)."""
    return ex.contact not in ("", "*") and ex.requested_expires_s != 0


@dataclass(frozen=True, slots=True)
class IntervalProblem:
    """What reg.interval-too-brief found on one registration: the first of (a), (b), (c) it shows."""

    reg: Registration
    severity: Severity
    frames: tuple[int, ...]
    values: dict[str, Any]  # kind, its figures, and problem_en/problem_ru citing this registration's frames

    @property
    def frame(self) -> int:
        """The frame that shows the fault: the retry still below Min-Expires, the late refresh, the short 2xx."""
        return self.frames[-1] if self.frames else self.reg.first_frame

    @property
    def way(self) -> tuple[Any, ...]:
        """How it failed, which registrations of a device share to be one finding: the kind and its settings (the
        Min-Expires and the expiry retried, the expiry granted and requested); not the timings of each."""
        return tuple(self.values.get(k) for k in ("kind", "min_expires_s", "granted_s", "requested_s"))


@check(
    id="reg.interval-too-brief", category="registration", severity="major", owner="first-line",
    title={
        "en": "Registration interval refused as too brief, or the binding lapses between refreshes",
        "ru": "Интервал регистрации отклонён как слишком короткий, или привязка истекает между обновлениями",
    },
    customer={
        "en": "{renewal_en} No action is needed from you: we are adjusting the renewal interval in {device_en} "
              "settings.",
        "ru": "{renewal_ru} От вас ничего не требуется: мы исправляем интервал продления в настройках "
              "{device_gen_ru}.",
    },
    engineer={
        "en": "{subject_en}: {problem_en}{likewise_en}. RFC 3261 §10.2.8: after 423 retry with Expires >= "
              "Min-Expires; §10.2.4: use the expiry the registrar granted for this contact and refresh before it "
              "(at 50-80 % of it).",
        "ru": "{subject_ru}: {problem_ru}{likewise_ru}. RFC 3261 §10.2.8: после 423 повторять с Expires >= "
              "Min-Expires; §10.2.4: использовать срок, выданный регистратором для этого контакта, и продлевать до "
              "его истечения (на 50-80 % срока).",
    },
)
def interval_too_brief(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    (a) a REGISTER refused with 423 Interval Too Brief and retried with an expiry still below Min-Expires;
    (b) a refresh arriving after the expiry the registrar granted (the binding lapsed meanwhile);
    (c) info: a very short expiry (< 60 s) requested and granted, usually a NAT keep-alive workaround.
    De-registrations (expires 0) and other devices' contacts in the 2xx are not read as ours. Registrations of
    one device (source address) with one registrar showing the same case with the same figures (Min-Expires and
    the expiry retried; the expiry granted and requested) are one finding that lists their AORs: a multi-line
    phone's one registration interval setting.

    ## Why it matters
    (a) the phone never registers; (b) between expiry and refresh incoming calls fail (404/480); (c) load on
    the registrar, and a sign of a NAT timeout problem better fixed by keep-alives.

    ## How to fix
    Set the phone's registration interval at or above the registrar's Min-Expires and make it honour the
    granted expiry (refresh at 50-80 % of it); use keep-alives rather than very short registrations.

    ## References
    RFC 3261 §10.2.1.1, §10.2.4, §10.2.8, §10.3 step 7, §20.19, §20.23, §21.4.17; RFC 5626 §4.4.1
    """
    problems = []
    for r in analysis.registrations:
        exchanges = [e for e in r.exchanges if _binding(e)]
        hit = below_min_expires(exchanges) or _lapse(exchanges, analysis.capture.clock) or _short(exchanges)
        if hit is not None:
            problem = IntervalProblem(r, *hit)
            problems.append((problem.way, problem))
    for _way, group in grouped(problems):
        head = group[0]
        subject_en, subject_ru = subject(group, registrar_named=False)
        likewise_en, likewise_ru = likewise(group)
        lines_en, lines_ru = lines(group)
        yield Hit(None, all_frames(group), {
            "aor": head.reg.aor, "source": head.reg.source, **head.values, "registrar": head.reg.registrar,
            "subject_en": subject_en, "subject_ru": subject_ru, "likewise_en": likewise_en,
            "likewise_ru": likewise_ru, "lines_en": lines_en, "lines_ru": lines_ru,
            **group_evidence(group, "problem_frames"),
            # each registration's own figures (its lapse, its frames): the texts cite the first one's
            "per_aor": [{"aor": p.reg.aor, "frames": list(p.frames),
                         **{k: v for k, v in p.values.items() if k != "kind" and not k.startswith("problem_")}}
                        for p in group[:KEPT]],
        }, severity=head.severity, texts=_customer_words(group))


def _customer_words(group: list) -> dict[str, str]:
    """reg.interval-too-brief's customer words for one line (the phone's) or several (their sign-in, "your
    equipment": one device registering many lines is a multi-line phone, a PBX or an SBC). Text-only values, named
    apart from the evidence's problem_en (the engineer's)."""
    several = several_lines(group)
    if several is None:
        return {"renewal_en": "Your phone renews its sign-in with our service at the wrong interval, so for periods "
                              "it cannot receive calls.", "device_en": "your phone's",
                "renewal_ru": "Ваш телефон продлевает регистрацию в нашем сервисе с неправильным интервалом, поэтому "
                              "временами он не может принимать звонки.", "device_gen_ru": "телефона"}
    return {"renewal_en": f"The sign-in of {several[0]} with our service is renewed at the wrong interval, so for "
                          "periods these lines cannot receive calls.", "device_en": "your equipment's",
            "renewal_ru": f"Регистрация {several[1]} в нашем сервисе продлевается с неправильным интервалом, поэтому "
                          "временами по этим линиям нельзя принимать звонки.", "device_gen_ru": "оборудования"}


def below_min_expires(exchanges: list[RegisterExchange]):
    for ex, nxt in zip(exchanges, exchanges[1:]):
        m = ex.min_expires_s
        if ex.status == 423 and m and nxt.requested_expires_s is not None and nxt.requested_expires_s < m:
            return Severity.MAJOR, tuple(f for f in (ex.frame, ex.response_frame, nxt.frame) if f), {
                "kind": "a", "min_expires_s": m, "requested_s": nxt.requested_expires_s,
                "problem_en": f"423 with Min-Expires {m} (frame {ex.response_frame}), retried with Expires "
                              f"{nxt.requested_expires_s} (frame {nxt.frame}): the registrar keeps refusing",
                "problem_ru": f"423 с Min-Expires {m} (кадр {ex.response_frame}), повтор с Expires "
                              f"{nxt.requested_expires_s} (кадр {nxt.frame}): регистратор продолжает отказывать"}
    return None


def _lapse(exchanges: list[RegisterExchange], clock: ClockSteps):
    for ex, nxt in zip(exchanges, exchanges[1:]):  # in request order: the next REGISTER is the refresh
        if not (_ok(ex) and ex.granted_expires_s and ex.response_ts_ns):
            continue
        if not clock.sound(ex.response_frame, nxt.ts_frame):
            continue  # a clock step between: how late the refresh came is not known
        granted = ex.granted_expires_s or 0
        gap_s = (nxt.ts_ns - (ex.response_ts_ns or ex.ts_ns)) / 1e9
        lapse = gap_s - granted
        if lapse >= LAPSE_TOLERANCE_S:
            requested = ex.requested_expires_s
            shorter = requested is not None and granted < requested
            why_en = f" (requested {requested} s, granted only {granted} s)" if shorter else ""
            why_ru = f" (запрошено {requested} с, выдано {granted} с)" if shorter else ""
            return Severity.MAJOR, tuple(f for f in (ex.response_frame, nxt.frame) if f), {
                "kind": "b", "granted_s": granted, "requested_s": requested, "refresh_after_s": round(gap_s, 1),
                "lapse_s": round(lapse, 1),
                "problem_en": f"200 OK (frame {ex.response_frame}) granted {granted} s{why_en}, the next REGISTER "
                              f"came {gap_s:.1f} s later (frame {nxt.frame}): unregistered for {lapse:.1f} s",
                "problem_ru": f"200 OK (кадр {ex.response_frame}) выдал {granted} с{why_ru}, следующий REGISTER "
                              f"через {gap_s:.1f} с (кадр {nxt.frame}): без регистрации {lapse:.1f} с"}
    return None


def _short(exchanges: list[RegisterExchange]):
    ex = next((e for e in exchanges if _ok(e) and e.requested_expires_s is not None
               and 0 < e.requested_expires_s < SHORT_EXPIRY_S and e.granted_expires_s), None)
    if ex is None:
        return None
    return Severity.INFO, tuple(f for f in (ex.frame, ex.response_frame) if f), {
        "kind": "c", "requested_s": ex.requested_expires_s, "granted_s": ex.granted_expires_s,
        "problem_en": f"Expires {ex.requested_expires_s} s requested and {ex.granted_expires_s} s granted "
                      f"(frame {ex.response_frame}): very short registrations, usually to keep a NAT mapping open",
        "problem_ru": f"запрошено Expires {ex.requested_expires_s} с, выдано {ex.granted_expires_s} с (кадр "
                      f"{ex.response_frame}): очень короткая регистрация, обычно чтобы держать NAT открытым"}


@check(
    id="reg.contact-binding-mismatch", category="registration", severity="major", owner="customer",
    title={
        "en": "The registrar's 200 OK does not list the phone's own Contact",
        "ru": "В 200 OK регистратора нет собственного Contact телефона",
    },
    customer={
        "en": "Your phone keeps signing in again because the confirmation it receives looks altered, so incoming "
              "calls can be missed. This is usually caused by the router's 'SIP ALG' feature: please switch it off "
              "in the router settings and restart the phone.",
        "ru": "Ваш телефон снова и снова входит в сервис, потому что подтверждение приходит к нему изменённым, и "
              "входящие звонки могут теряться. Обычно причина — функция роутера «SIP ALG»: отключите её в "
              "настройках роутера и перезапустите телефон.",
    },
    engineer={
        "en": "Registration {aor} from {source}: REGISTER Contact {contact}; {count} 2xx ({ok_frames}) list only "
              "{returned}, no URI equal under RFC 3261 §19.1.4; {flapping_en}. §10.2.4: the UA takes its expiry from "
              "its own contact in the 2xx and, finding none, often treats the registration as failed. Disable the "
              "ALG, or keep NAT data out of band on the registrar (received/Path/alias, e.g. Kamailio "
              "fix_nated_register) instead of rewriting the Contact.",
        "ru": "Регистрация {aor} с {source}: Contact в REGISTER {contact}; ответов 2xx, в которых вместо него "
              "только {returned} (равного ему URI по RFC 3261 §19.1.4 нет): {count} ({ok_frames}); {flapping_ru}. "
              "§10.2.4: UA берёт срок из своего контакта в 2xx и, не найдя его, часто считает регистрацию "
              "неудачной. Отключите ALG или храните данные NAT отдельно на регистраторе (received/Path/alias, "
              "например fix_nated_register в Kamailio), не переписывая Contact.",
    },
)
def contact_binding_mismatch(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    A successful REGISTER whose 2xx lists contacts, none equal to the Contact the phone registered (RFC 3261
    §19.1.4: a `received` header parameter does not matter; a rewritten host or port does). Major when it
    happens on two consecutive refreshes and the phone re-registers within 10 % of the granted expiry
    (flapping); otherwise info, since some registrars rewrite by design (Asterisk rewrite_contact).

    ## Why it matters
    The phone does not find its binding, considers itself unregistered and re-registers in a loop, or shows
    "not registered"; incoming calls are missed.

    ## How to fix
    Switch off the SIP ALG on the customer's router; on the registrar keep NAT information out of the
    Contact (received/Path/alias) or make sure the rewritten contact is what the phone expects.

    ## References
    RFC 3261 §10.2.4, §10.3 step 8, §19.1.4; Kamailio nathelper fix_nated_register / received_avp
    """
    for r in analysis.registrations:
        mismatched: list[RegisterExchange] = []
        best: list[RegisterExchange] = []
        rapid = 0
        exchanges = [e for e in r.exchanges if _binding(e)]
        for i, ex in enumerate(exchanges):
            if not _ok(ex) or not ex.returned_contacts:
                continue
            if any(same_uri(ex.contact, c) for c in ex.returned_contacts):
                mismatched = []
                continue
            mismatched.append(ex)
            nxt = exchanges[i + 1] if i + 1 < len(exchanges) else None
            if nxt is not None and ex.granted_expires_s and ex.response_ts_ns and \
                    analysis.capture.clock.sound(ex.response_frame, nxt.ts_frame) and \
                    (nxt.ts_ns - ex.response_ts_ns) / 1e9 < RAPID_SHARE * ex.granted_expires_s:
                rapid += 1
            if len(mismatched) > len(best):
                best = list(mismatched)
        if not best:
            continue
        flapping = len(best) >= 2 and rapid >= 1
        last = best[-1]
        yield Hit(None, tuple(f for e in best[:20] for f in (e.frame, e.response_frame) if f), {
            "aor": r.aor, "source": r.source, "contact": last.contact, "count": len(best),
            "returned": ", ".join(last.returned_contacts[:5]),
            "ok_frames": ", ".join(str(e.response_frame) for e in best[:10]), "rapid_refreshes": rapid,
            "flapping_en": ("the phone re-registered within 10 % of the granted expiry: the binding flaps" if flapping
                            else "no re-registration loop seen (the registrar may rewrite by design)"),
            "flapping_ru": ("телефон перерегистрировался в пределах 10 % выданного срока: привязка «мигает»"
                            if flapping else "цикла перерегистрации не видно (регистратор может переписывать "
                                             "контакт намеренно)"),
        }, severity=Severity.MAJOR if flapping else Severity.INFO, confidence="high" if flapping else "low")


MIN_IDLE_S = 1.0  # an unchanged mapping after a shorter gap says nothing about the NAT's timeout


@check(
    id="reg.binding-churn", category="registration", severity="major", owner="customer",
    title={
        "en": "The phone's public address or port changes between registration refreshes",
        "ru": "Публичный адрес или порт телефона меняется между обновлениями регистрации",
    },
    customer={
        "en": "Your router forgets the connection to our service after a short idle time, so incoming calls can "
              "be missed. We will make your phone send small keep-alive messages more often; if your router has a "
              "'UDP timeout' setting, please set it to at least 180 seconds.",
        "ru": "Ваш роутер «забывает» соединение с нашим сервисом после короткого простоя, поэтому входящие звонки "
              "могут теряться. Мы настроим телефон отправлять короткие keep-alive сообщения чаще; если в роутере "
              "есть параметр «UDP timeout», установите его не меньше 180 секунд.",
    },
    engineer={
        "en": "Registration {aor} (Call-ID {call_id}): {changes} refresh(es) arrived from a new source while the "
              "phone's Via sent-by stayed {sent_by}: {detail_en}. NAT UDP mapping lifetime: {bounds_en}. RFC 4787 "
              "REQ-5 asks for at least 120 s; recommended keep-alive {keepalive_s} s (see router.nat-binding-timeout "
              "for fixes).",
        "ru": "Регистрация {aor} (Call-ID {call_id}): продлений, пришедших с нового адреса, хотя Via sent-by "
              "телефона оставался {sent_by}: {changes}, первое: {detail_ru}. Время жизни UDP-трансляции NAT: "
              "{bounds_ru}. RFC 4787 REQ-5 требует не меньше 120 с; рекомендуемый keep-alive {keepalive_s} с (способы "
              "исправления — в router.nat-binding-timeout).",
    },
)
def binding_churn(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    Successive REGISTERs of one registration (same AOR and Call-ID, CSeq increasing) arriving from a different
    source port or address while the phone's own Via sent-by is unchanged: the NAT in front of it made a new
    mapping. Each change after an idle gap g bounds the NAT's UDP timeout from above (timeout <= g), each
    unchanged mapping after g' of at least a second from below (timeout > g'); the recommended keep-alive is half
    the lower bound, else half the upper one, at most `nat.recommended_keepalive_s`. A new Call-ID or a CSeq going back (reboot) and a new
    Via port (the phone opened a new socket) are not churn.

    ## Why it matters
    Between the mapping's loss and the next refresh the phone is unreachable: inbound calls fail while
    outbound ones work.

    ## How to fix
    Send keep-alives (CRLF, OPTIONS or STUN, RFC 5626) more often than the lower bound / 2 (typically 15-25 s),
    raise the router's UDP timeout (RFC 4787 REQ-5: at least 2 min), or let the server ping the NAT.

    ## References
    RFC 4787 §4.3 REQ-5, REQ-6; RFC 5626 §4.4; RFC 3261 §10.2.4, §18.2.1; Kamailio nathelper NAT pinging
    """
    groups: dict[tuple[str, str], list[RegisterExchange]] = {}
    for r in analysis.registrations:
        for e in r.exchanges:
            if e.frame is not None and e.via_sent_by:
                groups.setdefault((r.aor, e.call_id), []).append(e)
    for (aor, call_id), exchanges in groups.items():
        exchanges.sort(key=lambda e: e.ts_ns)
        changes: list[tuple[RegisterExchange, RegisterExchange, float]] = []
        kept: list[float] = []
        for prev, cur in zip(exchanges, exchanges[1:]):
            if cur.via_sent_by != prev.via_sent_by or (cur.cseq or 0) <= (prev.cseq or 0):
                continue  # a new socket or a restarted phone, not the NAT
            if not analysis.capture.clock.sound(prev.response_frame if prev.response_ts_ns else prev.ts_frame,
                                                cur.ts_frame):
                continue  # how long the binding was idle is not known across a clock step
            idle = (cur.ts_ns - (prev.response_ts_ns or prev.ts_ns)) / 1e9
            if cur.source != prev.source:
                changes.append((prev, cur, idle))
            else:
                kept.append(idle)
        if not changes:
            continue
        hi = min(g for *_, g in changes)
        # A REGISTER answered at once (the digest retry right after its 401 challenge, RFC 3261 §22.2) left the
        # mapping no idle time: "more than 0 s" bounds nothing, and it made the keep-alive advice 5 s.
        lo_candidates = [g for g in kept if MIN_IDLE_S <= g < hi]
        lo = max(lo_candidates) if lo_candidates else None
        # Keep-alives well inside what is known to hold: half the lower bound, else half the upper one (RFC 5626
        # §4.4.1 sends them well before the mapping can expire), never above the configured interval.
        keepalive = min(setting("nat.recommended_keepalive_s"), max(int((lo if lo is not None else hi) // 2), 5))
        prev, cur, _ = changes[0]
        ip_changed = any(address_host(p.source) != address_host(c.source) for p, c, _ in changes)
        detail_en = f"{prev.source} (frame {prev.frame}) -> {cur.source} (frame {cur.frame})" + (
            "; the public address changed too (a WAN reconnect or a second uplink can do this)" if ip_changed else "")
        detail_ru = f"{prev.source} (кадр {prev.frame}) -> {cur.source} (кадр {cur.frame})" + (
            "; сменился и публичный адрес (переподключение WAN или второй канал)" if ip_changed else "")
        bounds_en = (f"more than {lo:.0f} s and at most {hi:.0f} s" if lo is not None else f"at most {hi:.0f} s")
        bounds_ru = (f"больше {lo:.0f} с и не больше {hi:.0f} с" if lo is not None else f"не больше {hi:.0f} с")
        yield Hit(None, tuple(f for p, c, _ in changes[:20] for f in (p.frame, c.frame) if f), {
            "aor": aor, "call_id": call_id, "changes": len(changes), "sent_by": cur.via_sent_by,
            "first_source": prev.source, "new_source": cur.source, "upper_bound_s": round(hi, 1),
            "lower_bound_s": round(lo, 1) if lo is not None else None, "keepalive_s": keepalive,
            "detail_en": detail_en, "detail_ru": detail_ru, "bounds_en": bounds_en, "bounds_ru": bounds_ru,
        }, confidence="medium" if ip_changed else "high")
