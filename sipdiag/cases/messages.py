"""The customer's message after a verification, in the product's own words (English and Russian).

Resolved: the problem is fixed and what changed. Not resolved: what is still wrong and what happens next. Not
verified: the new recording cannot show the problem gone (no call with audio, say): record again. The
problems are named by the first sentence of their customer text, which has no jargon and no third-party addresses
(the rules' texts follow RULES.md §6)."""

from __future__ import annotations

from ..reports.safe import printable
from .store import Verification

TEXTS = {
    "en": {
        "greeting": "Hello{name},",
        "resolved": "We have checked your service again after the change. The problem we found earlier is gone:",
        "resolved_none": "We have checked your service again after the change and found no problem.",
        "changed": "What is better now:",
        "one_way": "calls have sound in both directions",
        "no_rtp": "calls have sound",
        "registered": "your phone registers with our network",
        "answered": "calls are answered ({before} of {calls_before} before, {after} of {calls_after} now)",
        "mos": "the voice quality score rose from {before} to {after} (of 5)",
        "loss": "lost voice packets fell from {before}% to {after}%",
        "not_resolved": "We have checked your service again after the change. Unfortunately the problem is still "
                        "there:",
        "new": "We also found something new:",
        "next": "We have passed your ticket {ticket} to our {queue} team with priority {priority}; they will "
                "contact you with the next step.",
        "close_ok": "Your ticket {ticket} will now be closed. If the problem comes back, reply to this message.",
        "not_verified": "We have checked the new recording, but it cannot show whether the problem is fixed: it "
                        "holds no {missing}. The problem we are checking:",
        "record_again": "Please record again while you make a test call (or, for a phone that would not register, "
                        "while you restart it), and send us that recording. Your ticket {ticket} stays open until "
                        "then.",
        "bye": "Best regards,\nTechnical support",
        # a line of the customer's that cannot sign in (sipdiag.cases.lines), by what became of it; "many" for more
        # than one line
        "line_was": ("Your phone could not sign in to our network, so it could make or take no call.",
                     "{n} of your phone lines could not sign in to our network, so they could make or take no call."),
        "line_still": ("Your phone still cannot sign in to our network, so it can make or take no call.",
                       "{n} of your phone lines still cannot sign in to our network, so they can make or take no "
                       "call."),
        "line_now": ("A phone line of yours cannot sign in to our network now, so it can make or take no call.",
                     "{n} of your phone lines cannot sign in to our network now, so they can make or take no call."),
    },
    "ru": {
        "greeting": "Здравствуйте{name}!",
        "resolved": "Мы повторно проверили работу связи после изменений. Проблема, найденная ранее, устранена:",
        "resolved_none": "Мы повторно проверили работу связи после изменений и не нашли проблем.",
        "changed": "Что стало лучше:",
        "one_way": "звук в звонках слышен в обе стороны",
        "no_rtp": "в звонках есть звук",
        "registered": "ваш телефон регистрируется в нашей сети",
        "answered": "звонки проходят (раньше {before} из {calls_before}, теперь {after} из {calls_after})",
        "mos": "оценка качества голоса выросла с {before} до {after} (из 5)",
        "loss": "потери голосовых пакетов снизились с {before}% до {after}%",
        "not_resolved": "Мы повторно проверили работу связи после изменений. К сожалению, проблема сохраняется:",
        "new": "Кроме того, мы обнаружили новое:",
        "next": "Мы передали вашу заявку {ticket} группе «{queue}» с приоритетом {priority}; с вами свяжутся и "
                "сообщат следующий шаг.",
        "close_ok": "Заявка {ticket} будет закрыта. Если проблема повторится, ответьте на это письмо.",
        "not_verified": "Мы проверили новую запись, но по ней нельзя понять, устранена ли проблема: в ней нет "
                        "{missing}. Проблема, которую мы проверяем:",
        "record_again": "Пожалуйста, сделайте запись ещё раз, пока совершаете тестовый звонок (или, если телефон "
                        "не регистрировался, пока перезапускаете его), и пришлите её нам. До этого заявка {ticket} "
                        "остаётся открытой.",
        "bye": "С уважением,\nтехническая поддержка",
        "line_was": ("Ваш телефон не мог зарегистрироваться в нашей сети, поэтому не мог ни звонить, ни принимать "
                     "звонки.",
                     "Ваши линии не могли зарегистрироваться в нашей сети (линий: {n}), поэтому по ним нельзя было ни "
                     "звонить, ни принимать звонки."),
        "line_still": ("Ваш телефон по-прежнему не может зарегистрироваться в нашей сети, поэтому не может ни "
                       "звонить, ни принимать звонки.",
                       "Ваши линии по-прежнему не могут зарегистрироваться в нашей сети (линий: {n}), поэтому по ним "
                       "нельзя ни звонить, ни принимать звонки."),
        "line_now": ("Одна из ваших линий сейчас не может зарегистрироваться в нашей сети, поэтому по ней нельзя ни "
                     "звонить, ни принимать звонки.",
                     "Ваши линии сейчас не могут зарегистрироваться в нашей сети (линий: {n}), поэтому по ним нельзя "
                     "ни звонить, ни принимать звонки."),
    },
}
QUEUE_NAMES = {
    "en": {"first-line": "support", "engineering": "engineering", "network": "network", "security": "security"},
    "ru": {"first-line": "поддержки", "engineering": "инженеров", "network": "сети", "security": "безопасности"},
}


def first_sentence(text: str) -> str:
    for end in (". ", "! ", "? "):
        if end in text:
            return text.split(end, 1)[0] + end.strip()
    return text


def problems(changes, lines, key: str, lang: str) -> list[str]:
    """The items of a list of problems: the first sentence of each rule's customer text, then the customer's lines
    down (TEXTS[lang][key]) unless a registration rule among them tells of it already. A line down with no finding
    above info to name it (credentials refused once) has only this sentence."""
    items = [f"- {first_sentence(r.customer_text.get(lang, ''))}" for r in changes]
    if lines and not any(r.category == "registration" for r in changes):
        one, many = TEXTS[lang][key]
        items.append("- " + (one if len(lines) == 1 or lines[0].line is None else many.format(n=len(lines))))
    return items


def improvements(v: Verification, lang: str) -> list[str]:
    """What the figures say got better, in plain words."""
    t, f = TEXTS[lang], v.comparison.figures
    out = []

    def went(name: str) -> tuple:
        return f.get(name, (None, None))

    b, a = went("one_way_calls")
    if b and a == 0:
        out.append(t["one_way"])
    b, a = went("no_rtp_calls")
    if b and a == 0:
        out.append(t["no_rtp"])
    b, a = went("registrations_failed")
    if (b and a == 0 and went("registrations")[1]) or v.comparison.lines_resolved:
        out.append(t["registered"])
    (ab, aa), (cb, ca) = went("answered"), went("calls")
    if cb and ca and ab is not None and aa is not None and aa / ca > ab / cb:
        out.append(t["answered"].format(before=ab, calls_before=cb, after=aa, calls_after=ca))
    b, a = went("mos_min")
    if b is not None and a is not None and a - b >= 0.3:
        out.append(t["mos"].format(before=b, after=a))
    b, a = went("loss_pct_max")
    if b and a is not None and a < b / 2:
        out.append(t["loss"].format(before=b, after=a))
    return out


def verification_message(v: Verification, *, lang: str = "en", customer: str | None = None,
                         queue: str | None = None, priority: str | None = None) -> str:
    t = TEXTS[lang]
    # the customer's name comes from the ticket system or the command line: shown, never acted on by a terminal
    name = f", {printable(customer)}" if customer else ""
    lines = [t["greeting"].format(name=name), ""]
    c = v.comparison
    if c.outcome == "not-verified":
        lines.append(t["not_verified"].format(missing=c.missing.get(lang, "")))
        lines += problems(c.unverified, c.lines_unverified, "line_was", lang)
        lines += ["", t["record_again"].format(ticket=v.filing.ticket)]
    elif v.passed:
        if c.resolved or c.lines_resolved:
            lines.append(t["resolved"])
            lines += problems(c.resolved, c.lines_resolved, "line_was", lang)
            better = improvements(v, lang)
            if better:
                lines += ["", t["changed"]] + [f"- {item}" for item in better]
        else:
            lines.append(t["resolved_none"])
        lines += ["", t["close_ok"].format(ticket=v.filing.ticket)]
    else:
        lines.append(t["not_resolved"])
        lines += problems(c.persisting, c.lines_persisting, "line_still", lang)
        if c.new or c.lines_new:
            lines += ["", t["new"]]
            lines += problems(c.new, c.lines_new, "line_now", lang)
        lines += ["", t["next"].format(ticket=v.filing.ticket, queue=QUEUE_NAMES[lang].get(queue or "", queue or ""),
                                       priority=priority or "?")]
    lines += ["", t["bye"]]
    return "\n".join(lines) + "\n"
