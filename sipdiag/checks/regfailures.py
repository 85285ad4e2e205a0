"""Registrations that fail, as the registration rules report them (RULES.md §3.4): one registration's final answer
(reg.rejected, reg.server-error, reg.no-response), and registrations grouped per device and registrar with the
words for a group (those rules, reg.auth-loop and reg.interval-too-brief).

A device's registrations that fail the same way toward one registrar are one finding: a multi-line phone whose
account is barred gets the same 403 on every line and loops on the digest of each when one wrong auth user is
provisioned for all, one problem to fix. A group of one gives the evidence and the texts one registration gives
alone; a larger one lists its AORs and the frame of each, sums the figures, and adds `aors`, `count` and the frame
list to the evidence (the keys integrators read stay, with the first registration's values).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..russian import form_for
from . import Hit, Severity
from .timers import run_timers, sends_before_timeout, transaction_t1_estimate_ns, transaction_t1_ns

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import RegisterExchange, Registration, Transaction

# Texts name the first LISTED AORs and frames of a group; the evidence keeps the first KEPT of them (and `count`
# says how many registrations there were): a PBX registering hundreds of lines gives a readable finding.
LISTED = 10
KEPT = 50


def is_server_error(status: int | None) -> bool:
    """5xx: the server failed, the request may have been valid (RFC 3261 §21.5)."""
    return status is not None and 500 <= status < 600


def given_up(analysis: Analysis, tx: Transaction) -> bool:
    """Whether an unanswered REGISTER transaction is lost, not pending: Timer F (64*T1, 32 s with the default T1,
    RFC 3261 §17.1.2.2) ended the wait for an answer before the capture ended, or the whole Timer E schedule went
    out (11 sends over UDP in 31.5 s with the default T1 and T2, which a capture cut at the last retransmission
    still shows). T1: the device's own when its retransmissions show another than the configured one (RULES.md
    §0.5, T1_est). The bar of reg.no-response, and of a line down in a case's figures (sipdiag.cases.lines)."""
    clock = analysis.capture.clock
    t1 = transaction_t1_ns(tx, clock)
    end_ns = analysis.capture.last_ts_ns or 0
    waited_ns = clock.elapsed_ns(tx.ts_frame, tx.ts_ns, analysis.capture.packets, end_ns)
    # None: how long it waited is not known (a clock step since), only its retransmissions tell
    return (waited_ns is not None and waited_ns >= 64 * t1) or (
        tx.request_retransmissions >= sends_before_timeout(True, t1) - 1)  # retransmissions: all but the first


def timer_f_of(analysis: Analysis, r: Registration, x: RegisterExchange) -> tuple[int, int | None]:
    """Timer F (64*T1, RFC 3261 §17.1.2.2) of the phone that sent the REGISTER of `x`, one of `r`'s exchanges, and
    the T1 estimate it was judged by: T1 the phone's own where that REGISTER's retransmissions show another than
    the configured one (RULES.md §0.5, T1_est; None: they show none, and the configured T1 stands). How long a
    phone may leave a challenge before it answers it with a new REGISTER: the bar of reg.auth-loop for credentials
    refused once, and of a line down in a case's figures (sipdiag.cases.lines)."""
    tx = next((t for t in r.transactions if x.frame is not None and t.request_frame == x.frame), None)
    estimate = None if tx is None else transaction_t1_estimate_ns(tx, analysis.capture.clock)
    return 64 * run_timers().t1_for(estimate), estimate


def last_run(r: Registration) -> list[RegisterExchange]:
    """The exchanges the registration's final answer concerns: those after the last accepted REGISTER, and only
    of the same kind as the last one (a de-registration is not a sign-in: RFC 3261 §10.2.2)."""
    # in capture order: after a step back of the capture's clock (capture.time-backwards) the record times would
    # put a later exchange first and make another one the last
    exchanges = sorted(r.exchanges, key=lambda e: e.frame or e.response_frame or 0)
    run: list[RegisterExchange] = []
    for ex in exchanges:
        if ex.status is not None and 200 <= ex.status < 300:
            run = []
            continue
        run.append(ex)
    if run:
        kind = run[-1].removes
        while run and run[0].removes != kind:
            run.pop(0)
    return run


def final_run(r: Registration) -> tuple[list[RegisterExchange], int, int]:
    """(the exchanges the final answer concerns, REGISTERs of them in the capture, digest challenges among them)."""
    run = last_run(r)
    return run, sum(1 for e in run if e.frame is not None), sum(1 for e in run if e.status in (401, 407))


def final_response(analysis: Analysis, r: Registration) -> tuple[int, str, str]:
    """(frame of the final response, its reason phrase or "", `503 Service Unavailable` or the bare code when the
    phrase is missing or not in the capture). The phrase is from the wire: cut here, escaped by the reporters."""
    from .nat import message_at

    frame = next((f for code, f, _ in r.transactions[-1].responses if code == r.final_status), r.last_frame)
    m = message_at(analysis, frame)
    if m is not None and m.status_code != r.final_status:  # two messages in one TCP segment: the index has the first
        m = next((x for x in analysis.messages if x.frame == frame and x.status_code == r.final_status), None)
    reason = (m.reason or "").strip()[:80] if m is not None else ""
    return frame, reason, f"{r.final_status} {reason}" if reason else f"{r.final_status}"


def _frames(run: list[RegisterExchange], frame: int, fallback: int) -> tuple[int, ...]:
    """The first frame of the exchange run and the final response, once each, in order."""
    first = next((f for e in run for f in (e.frame, e.response_frame) if f is not None), fallback)
    return tuple(sorted({first, frame}))


def exchange_words(attempts: int, challenges: int, exchanges: int, several: bool = False) -> tuple[str, str]:
    """What the capture holds of the run (the runs of `several` registrations, summed), in words: REGISTERs and
    challenges, or only the response(s). exchanges: the run's, the REGISTER in the capture or not."""
    if attempts == 0:
        if several:
            return ("the REGISTERs are not in the capture (it began after them), only the responses",
                    "самих REGISTER в захвате нет (захват начат позже), есть только ответы")
        return ("the REGISTER is not in the capture (it began after it), only the response",
                "самого REGISTER в захвате нет (захват начат позже), есть только ответ")
    # "2 REGISTERs" in English; the Russian puts the figure after the word ("REGISTER: 2"), which needs no plural
    en = f"{attempts} REGISTER{'' if attempts == 1 else 's'}, {challenges} digest challenge(s)"
    ru = f"REGISTER: {attempts}, запросов авторизации: {challenges}"
    if attempts < exchanges:
        en += f", {exchanges - attempts} more answered REGISTER(s) not in the capture"
        ru += f", ещё ответов на REGISTER без самого запроса в захвате: {exchanges - attempts}"
    return en, ru


@dataclass(frozen=True, slots=True)
class Answered:
    """A failed registration's final answer, as reg.rejected and reg.server-error report it."""

    reg: Registration
    run: list[RegisterExchange]  # the exchanges the final answer concerns (last_run)
    attempts: int  # REGISTERs of the run in the capture
    challenges: int  # digest challenges among them
    frame: int  # the final response
    reason: str
    status_text: str
    frames: tuple[int, ...]  # what the registration shows alone: the run's first frame and the final response


def answered(analysis: Analysis, r: Registration) -> Answered:
    run, attempts, challenges = final_run(r)
    frame, reason, status_text = final_response(analysis, r)
    return Answered(r, run, attempts, challenges, frame, reason, status_text, _frames(run, frame, r.first_frame))


def grouped(failures: Iterable[tuple[Any, Any]]) -> list[tuple[Any, list[Any]]]:
    """(kind, failure) pairs grouped per device (the source address), registrar and kind: one finding per group.
    A failure has its registration in `.reg` and the frame its text cites in `.frame`; a group lists them in
    frame order, so its first is the one the capture shows first."""
    groups: dict[tuple[str, str, Any], list[Any]] = {}
    for kind, failure in failures:
        groups.setdefault((failure.reg.source, failure.reg.registrar, kind), []).append(failure)
    return [(kind, sorted(group, key=lambda f: f.frame)) for (_source, _registrar, kind), group in groups.items()]


def aors_of(group: list[Any]) -> list[str]:
    """The group's AORs, each once, in order (two bindings of one AOR are two registrations, one line)."""
    return list(dict.fromkeys(f.reg.aor for f in group))


def _listed(items: list[str]) -> tuple[str, str]:
    """The first LISTED items, comma-separated, and how many more there are."""
    text = ", ".join(items[:LISTED])
    more = len(items) - LISTED
    return (text + f" and {more} more", text + f" и ещё {more}") if more > 0 else (text, text)


def lines(group: list[Any]) -> tuple[str, str]:
    """The evidence's lines_en and lines_ru of a group, " for 5 lines", " для 5 линий" (nothing for one AOR), kept
    for the JSON document; the customer texts name the lines with several_lines."""
    n = len(aors_of(group))
    return ("", "") if n == 1 else (f" for {n} lines", f" для {n} линий")


# "ваша линия" by count (russian.PHRASES order): nominative singular, paucal, genitive plural, genitive singular
YOUR_LINES_RU = ("ваша линия", "ваши линии", "ваших линий", "вашей линии")


def several_lines(group: list[Any]) -> tuple[str, str] | None:
    """How a customer text names the lines of a group of several AORs, as what their sign-in is of: "5 of your
    lines" and, in the genitive the Russian texts govern it in ("вход 5 ваших линий"), "5 ваших линий", "2 ваших
    линий", "21 вашей линии". None for one AOR: that text is the phone's own. A group is what one device (source
    address) registers: a multi-line phone, an office PBX or an SBC, which the texts then call "your equipment",
    not "your phone". The possessive keeps russian.agree from re-declining the count as a nominative."""
    n = len(aors_of(group))
    if n == 1:
        return None
    return f"{n} of your lines", f"{n} {form_for(n, YOUR_LINES_RU, genitive=True)}"


def subject(group: list[Any], registrar_named: bool) -> tuple[str, str]:
    """What an engineer text is about: one registration by its AOR, a group by its device, registrar and AORs."""
    r = group[0].reg
    if len(group) == 1:
        to_en, to_ru = (f" to {r.registrar}", f" на {r.registrar}") if registrar_named else ("", "")
        return f"Registration {r.aor} from {r.source}{to_en}", f"Регистрация {r.aor} с {r.source}{to_ru}"
    aors = aors_of(group)
    listed_en, listed_ru = _listed([aor or "-" for aor in aors])
    n = len(aors)
    if n == len(group):
        en, ru = f"Registrations of {n} AORs", f"Регистрации {n} AOR"
    else:  # an AOR registered with two contacts
        en, ru = f"{len(group)} registrations of {n} AOR{'s' if n > 1 else ''}", f"{len(group)} регистраций {n} AOR"
    return (f"{en} from {r.source} to {r.registrar} ({listed_en})",
            f"{ru} с {r.source} на {r.registrar} ({listed_ru})")


def cited(group: list[Any], one: tuple[str, str], several: tuple[str, str]) -> tuple[str, str]:
    """The frame each registration's text cites (the first LISTED), after the words for one frame or several."""
    en, ru = _listed([str(f.frame) for f in group])
    words = one if len(group) == 1 else several
    return f"{words[0]} {en}", f"{words[1]} {ru}"


def likewise(group: list[Any]) -> tuple[str, str]:
    """After the first registration's details in an engineer text: the others of the group failed alike, at the
    frame each one's own text would cite; nothing for a group of one."""
    if len(group) == 1:
        return "", ""
    en, ru = _listed([str(f.frame) for f in group[1:]])
    if len(group) == 2:
        return f"; the other registration likewise (frame {en})", f"; у другой регистрации так же (кадр {ru})"
    return f"; the other registrations likewise (frames {en})", f"; у остальных регистраций так же (кадры {ru})"


def group_evidence(group: list[Any], frames_key: str) -> dict[str, Any]:
    """Evidence every finding of these rules adds: its AORs, how many registrations, the frame each one's text
    cites (the lists cut at KEPT, `count` the whole)."""
    return {"aors": aors_of(group)[:KEPT], "count": len(group), frames_key: [f.frame for f in group][:KEPT]}


def all_frames(group: list[Any]) -> tuple[int, ...]:
    """The frames every registration of the group shows alone, once each, in order, the first KEPT."""
    return tuple(sorted({n for f in group for n in f.frames}))[:KEPT]


def answered_hit(group: list[Answered], *, registrar_named: bool, values: dict[str, Any],
                 severity: Severity | None = None, owner: str | None = None, cites: tuple[int, ...] = (),
                 texts: dict[str, str] | None = None) -> Hit:
    """The finding of registrations answered alike: the first one's answer, the figures summed, and the rule's
    own `values`. A group of one gives the evidence and texts a registration gives alone; `cites`: more frames the
    rule's own words cite, shown with them; `texts`: values for the texts alone (Hit.texts)."""
    first = group[0]
    r = first.reg
    attempts, challenges = sum(f.attempts for f in group), sum(f.challenges for f in group)
    exchange_en, exchange_ru = exchange_words(attempts, challenges, sum(len(f.run) for f in group), len(group) > 1)
    subject_en, subject_ru = subject(group, registrar_named)
    frames_en, frames_ru = cited(group, ("frame", "кадр"), ("frames", "кадры"))
    frames = all_frames(group)
    return Hit(None, tuple(sorted({*frames, *cites})) if cites else frames, {
        "aor": r.aor, "source": r.source, "registrar": r.registrar, "attempts": attempts, "challenges": challenges,
        "status": r.final_status or 0, "reason": first.reason, "status_text": first.status_text, "frame": first.frame,
        "exchange_en": exchange_en, "exchange_ru": exchange_ru, **values,
        "subject_en": subject_en, "subject_ru": subject_ru, "frames_en": frames_en, "frames_ru": frames_ru,
        **group_evidence(group, "final_frames"),
    }, severity=severity, owner=owner,
        confidence="high" if all(f.attempts == len(f.run) for f in group) else "medium", texts=texts)


@dataclass(frozen=True, slots=True)
class Unanswered:
    """A registration whose last REGISTER got no response, as reg.no-response reports it."""

    reg: Registration
    frame: int  # the last REGISTER's first transmission
    sends: int  # its transmissions
    t1_estimate_ns: int | None = None  # the T1 its retransmissions show (sipdiag.siptimers), None: none

    @property
    def frames(self) -> tuple[int, ...]:
        return (self.frame,)
