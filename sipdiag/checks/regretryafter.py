"""A registrar's 5xx Retry-After and whether the device waited it out, as reg.server-error reports them (RULES.md
reg.rejected: "5xx server-side (honour Retry-After)").

A server that answers 503 (or 500) with Retry-After says how long it expects to be unavailable (RFC 3261 §20.33);
after a 503 the client SHOULD NOT send that server any other request for that long (§21.5.4). A device whose next
REGISTER to the same server comes sooner ignores it, and an overloaded registrar whose devices all do so stays
overloaded: the weakness of the 503 mechanism RFC 5390 describes. The next REGISTER is read per server (the
request's destination): one to another server is the failover §21.5.4 asks for, not a retry too soon. No wait is
measured across a step of the capture's clock (sipdiag.clocksteps): such a retry is neither early nor late.

The phone stays offline for as long as the server fails whether or not it waits, and the server's failure is the
cause: a retry too soon is named with its frames and the fix (the phone's retry timer) and leaves the finding's
severity and owner as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .regfailures import KEPT, Answered, cited, is_server_error

if TYPE_CHECKING:
    from ..clocksteps import ClockSteps
    from ..model import RegisterExchange, Registration, RetryAfter


WITH_RETRY_AFTER = (500, 503)  # the server errors RFC 3261 §20.33 gives a Retry-After to
# A retry is too soon only when it came more than this before the Retry-After ran out: a phone's timer counts whole
# seconds, and the capture point may see the 5xx a little after the phone does (captured at the registrar)
MARGIN_NS = 10**9


@dataclass(frozen=True, slots=True)
class Retry:
    """The device's next REGISTER to a server after that server's 5xx with a Retry-After."""

    frame: int  # the REGISTER
    answer_frame: int | None  # the 5xx before it
    status: int
    asked_s: int  # the 5xx's Retry-After
    waited_ns: int  # from the 5xx to the REGISTER

    @property
    def early(self) -> bool:
        return self.waited_ns < self.asked_s * 10**9 - MARGIN_NS

    @property
    def waited_s(self) -> float:
        return round(self.waited_ns / 1e9, 1)


def _asked_s(ex: RegisterExchange) -> int | None:
    """The seconds a 5xx's Retry-After asks the device to wait: None for another answer, none or 0 (no wait), or a
    value that is no number of seconds."""
    after = ex.refusal.retry_after if ex.refusal is not None else None
    if not is_server_error(ex.status) or after is None or not after.seconds:
        return None
    return after.seconds


def retries(r: Registration, run: list[RegisterExchange], clock: ClockSteps) -> list[Retry]:
    """The device's next REGISTER after each 5xx of `run` (the exchanges its final answer concerns) that asked it
    to wait, to the same server, in the order the capture shows them."""
    in_run = {id(ex) for ex in run}
    waiting: dict[str, tuple[RegisterExchange, int]] = {}  # server -> its 5xx not retried yet, and the wait asked
    out = []
    for ex in r.exchanges:  # in frame order
        answer, asked = waiting.pop(ex.destination, (None, 0))
        # a REGISTER the capture holds only the answer of was sent at a time it does not show: no wait is read
        if answer is not None and ex.frame is not None and answer.response_ts_ns is not None:
            ns = clock.elapsed_ns(answer.response_frame, answer.response_ts_ns, ex.frame, ex.ts_ns)
            if ns is not None:
                out.append(Retry(ex.frame, answer.response_frame, answer.status or 0, asked, ns))
        if id(ex) in in_run and (seconds := _asked_s(ex)) is not None:
            waiting[ex.destination] = (ex, seconds)
    return out


def quoted(after: RetryAfter) -> tuple[str, str]:
    """A Retry-After as the engineer reads it: as written, and what is wrong with a value no device can honour
    as asked (RFC 3261 §20.33: delta-seconds)."""
    if after.seconds is None:
        return (f"Retry-After: {after.text} (not a number of seconds: no device can honour it)",
                f"Retry-After: {after.text} (не число секунд: выполнить его не может ни одно устройство)")
    if after.capped:
        return (f"Retry-After: {after.text} (over a day: read as {after.seconds} s)",
                f"Retry-After: {after.text} (больше суток: принят за {after.seconds} с)")
    if after.seconds == 0:  # valid delta-seconds (RFC 3261 §20.33), but it asks for no wait: said, not left to guess
        return (f"Retry-After: {after.text} (0 s: the server asks for no wait, a retry at once is allowed)",
                f"Retry-After: {after.text} (0 с: сервер не просит ждать, повторить можно сразу)")
    return f"Retry-After: {after.text}", f"Retry-After: {after.text}"


def retry_after_words(group: list[Answered], clock: ClockSteps
                      ) -> tuple[str, str, dict[str, Any], tuple[int, ...]]:
    """The engineer's sentence on how the group's device retried (sooner than a 5xx's Retry-After asked, or it
    waited each time; or the group's final 500s or 503s carry none, so it could not), "" when the capture shows
    no retry after one; the evidence (the first registration's final Retry-After as written and in seconds, the
    retries sooner than asked and their frames); and the frames the sentence cites: the first retry sooner than
    asked and the 5xx before it."""
    finals = [f.run[-1].refusal.retry_after if f.run and f.run[-1].refusal is not None else None for f in group]
    after = finals[0]
    seen = [x for f in group for x in retries(f.reg, f.run, clock)]
    early = sorted((x for x in seen if x.early), key=lambda x: x.frame)
    evidence = {"retry_after": after.text if after is not None else "",
                "retry_after_s": after.seconds if after is not None else None,
                "early_retries": len(early), "early_retry_frames": [x.frame for x in early][:KEPT]}
    if early:
        x = early[0]
        frames_en, frames_ru = cited(early, ("frame", "кадр"), ("frames", "кадры"))
        en = (f" The phone did not wait out Retry-After: REGISTERs sooner than asked: {len(early)} ({frames_en}), the "
              f"first {x.waited_s} s after the {x.status} of frame {x.answer_frame}, which asked for {x.asked_s} s. A "
              "client should send that server nothing for that long (RFC 3261 §21.5.4): retrying sooner keeps an "
              "overloaded server overloaded (RFC 5390); check the phone's registration retry timer and firmware.")
        ru = (f" Телефон не выждал Retry-After: REGISTER раньше срока: {len(early)} ({frames_ru}), первый через "
              f"{x.waited_s} с после {x.status} в кадре {x.answer_frame}, который просил {x.asked_s} с. Клиенту "
              "следует ничего не отправлять этому серверу в течение этого времени (RFC 3261 §21.5.4): повторы раньше "
              "срока не дают перегруженному серверу восстановиться (RFC 5390); проверьте таймер повтора регистрации "
              "и прошивку телефона.")
        return en, ru, evidence, tuple(f for f in (x.answer_frame, x.frame) if f is not None)
    if seen:
        return (" The phone waited out Retry-After before each retry (RFC 3261 §21.5.4).",
                " Телефон выжидал Retry-After перед каждым повтором (RFC 3261 §21.5.4).", evidence, ())
    # RFC 3261 §20.33 gives a Retry-After to a 500 and a 503 only: a 502's or 504's lack of one says nothing
    if any(a is not None for a in finals) or group[0].reg.final_status not in WITH_RETRY_AFTER:
        return "", "", evidence, ()
    if len(group) == 1:
        return (" The answer carries no Retry-After (RFC 3261 §20.33): it does not say when to retry.",
                " В ответе нет Retry-After (RFC 3261 §20.33): он не говорит, когда повторить попытку.", evidence, ())
    return (" The answers carry no Retry-After (RFC 3261 §20.33): they do not say when to retry.",
            " В ответах нет Retry-After (RFC 3261 §20.33): они не говорят, когда повторить попытку.", evidence, ())
