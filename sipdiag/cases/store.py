"""The case store: tickets, the captures filed under them, their analyses and verifications, notifications.

    store = CaseStore()                                   # SQLite in the user's data directory
    store = CaseStore("postgresql://support@db/sipdiag")  # a team's shared server
    filing = store.file("T-123", "call.pcap", customer="ACME", vantage="cpe-wan")
    filing.triage.priority, filing.triage.queue           # 'P2', 'engineering'
    check = store.verify("T-123", "after.pcap")
    check.passed                                          # every earlier problem resolved

The capture file itself is never modified: it is read for its SHA-256 (which recognises the same capture filed
twice) and analysed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checks.settings import overrides
from ..errors import CaptureReadError, UsageError
from ..reports.safe import printable
from . import webhook
from .backends import Database, connect, resolve_url
from .compare import Comparison, compare
from .migrations import migrate
from .summary import summarize
from .triage import Triage, triage

if TYPE_CHECKING:
    from ..analysis import Analysis

VANTAGES = ("phone-lan", "cpe-wan", "operator-edge", "trunk")  # where the capture was taken (RULES.md §0.2)
STATUSES = ("open", "resolved", "reopened", "closed")


class UnknownTicket(UsageError):
    hint = "See 'sipdiag case list' for the tickets in the store."


@dataclass(frozen=True, slots=True)
class Filing:
    id: int
    ticket: str
    kind: str  # analysis | verification
    sha256: str
    capture_name: str
    vantage: str | None
    filed_at: str
    summary: dict[str, Any]
    triage: Triage
    duplicate_of: int | None = None  # the earlier filing of the same capture under this ticket
    seen_under: tuple[str, ...] = ()  # other tickets the same capture was filed under
    verdict: dict[str, Any] | None = None
    notification: webhook.Delivery | None = None
    # The rule thresholds it was analysed under, as their overrides of the defaults ({}: the defaults;
    # sipdiag.checks.settings.overrides); None for a filing made before the store kept them.
    settings: dict[str, Any] | None = None


# Where a verification's thresholds came from: the filing verified against (its recorded settings), the caller
# (`verify --config FILE`, or an analysis made by the caller), or the defaults for a filing that recorded none.
SETTINGS_SOURCES = ("filing", "given", "unrecorded")


@dataclass(frozen=True, slots=True)
class Verification:
    filing: Filing
    before: Filing
    comparison: Comparison
    passed: bool
    fail_on: str
    settings: dict[str, Any] = field(default_factory=dict)  # the after-capture's overrides of the defaults
    settings_source: str = "filing"  # one of SETTINGS_SOURCES

    @property
    def settings_differ(self) -> bool:
        """The capture after the fix was analysed under other thresholds than the filing it is compared with: a
        problem may then appear or vanish only because a threshold differs. False where the filing recorded none."""
        return self.before.settings is not None and self.before.settings != self.settings


@dataclass(frozen=True, slots=True)
class Case:
    ticket: str
    customer: str | None
    status: str
    priority: str | None
    queue: str | None
    category: str | None
    reason: str | None
    created_at: str
    updated_at: str
    closed_at: str | None
    filings: tuple[Filing, ...] = field(default=())

    @property
    def latest_analysis(self) -> Filing | None:
        return next((f for f in reversed(self.filings) if f.kind == "analysis"), None)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def sha256_of(path: str | Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise CaptureReadError(f"cannot read {path}: {e.strerror or e}") from None
    return digest.hexdigest(), size


class CaseStore:
    def __init__(self, url: str | None = None, *, create: bool = True) -> None:
        """create=False: refuse a SQLite store that does not exist yet (see backends.connect)."""
        self.url = resolve_url(url)
        self.db: Database = connect(self.url, create=create)
        try:
            self.schema_version = migrate(self.db)
        except BaseException:  # a store this version refuses (or Ctrl-C): not left open for the process's life
            self.db.close()
            raise

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------ filing

    def triage(self, analysis: Analysis | dict[str, Any]) -> Triage:
        """Triage an Analysis (or a case summary) without filing it."""
        return triage(analysis if isinstance(analysis, dict) else summarize(analysis))

    def file(self, ticket: str, path: str | Path, *, customer: str | None = None, vantage: str | None = None,
             analysis: Analysis | None = None, notify: str | None = None, document: dict[str, Any] | None = None,
             kind: str = "analysis", verdict: dict[str, Any] | None = None,
             settings: Mapping[str, Any] | None = None, then: Callable[[Any], None] | None = None) -> Filing:
        """File the capture at `path` and its analysis (made here unless given) under `ticket`.

        settings: the thresholds to analyse it under when no `analysis` is given (a full tree, as
        sipdiag.config.load_config returns; None: the defaults). The filing keeps those its analysis was made under
        (Analysis.settings), which a verification of the ticket analyses the capture after the fix under.

        The same capture (by SHA-256) filed again under the same ticket and the same settings is recognised: the
        earlier filing is returned with `duplicate_of` set and nothing is written. Under other settings it is
        another analysis, filed (the latest is the one a verification compares with).

        then: called with the cursor of the filing's transaction once the filing is written (verify's change of
        the ticket's status), so that both are committed or neither is.
        """
        ticket = check_ticket(ticket)
        if vantage is not None and vantage not in VANTAGES:
            raise UsageError(f"unknown vantage point {vantage!r}", hint=f"One of: {', '.join(VANTAGES)}.")
        if notify is not None:
            webhook.check_url(notify)
        sha, size = sha256_of(path)
        if analysis is None:
            from ..analysis import analyze

            analysis = analyze(path, settings=settings)
        used = _settings_text(overrides(analysis.settings))
        if document is None:
            from ..reports.json import to_document

            document = to_document(analysis)
        summary = summarize(analysis)
        result = triage(summary)
        replies = render_replies(analysis)
        now = _now()
        name = Path(str(path)).name
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO tickets (id, customer, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (id) DO NOTHING", (ticket, customer, "open", now, now))
            if self.db.dialect == "postgresql":
                # One filing of a ticket at a time: PostgreSQL's writers do not queue as SQLite's (BEGIN IMMEDIATE),
                # and two of them looking for an earlier filing of one capture before either committed both found
                # none and both filed it. The ticket's row lock makes the second wait, then see the first's filing.
                cur.execute("SELECT id FROM tickets WHERE id = ? FOR UPDATE", (ticket,))
            if kind == "analysis":
                # a filing made before settings were kept (NULL) counts as made under the defaults, as it was
                # most likely made
                earlier = cur.execute("SELECT id FROM filings WHERE ticket_id = ? AND sha256 = ? AND kind = ? "
                                      "AND COALESCE(settings, ?) = ? ORDER BY id LIMIT 1",
                                      (ticket, sha, kind, _settings_text({}), used)).one()
                if earlier is not None:
                    duplicate = earlier["id"]
                else:
                    duplicate = None
            else:
                duplicate = None
            if duplicate is None:
                cur.execute("INSERT INTO captures (sha256, size, name, first_filed_at) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT (sha256) DO NOTHING", (sha, size, name, now))
                row = cur.execute(
                    "INSERT INTO filings (ticket_id, sha256, kind, vantage, filed_at, summary, document, triage, "
                    "verdict, replies, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (ticket, sha, kind, vantage, now, _dumps(summary), _dumps(document), _dumps(result.as_dict()),
                     None if verdict is None else _dumps(verdict), _dumps(replies), used)).one()
                filing_id = row["id"]  # type: ignore[index]
                if kind == "analysis":
                    cur.execute("UPDATE tickets SET customer = COALESCE(?, customer), priority = ?, queue = ?, "
                                "category = ?, reason = ?, updated_at = ?, status = CASE WHEN status = ? THEN ? "
                                "ELSE status END WHERE id = ?",
                                (customer, result.priority, result.queue, result.category, result.reason, now,
                                 "closed", "reopened", ticket))
                if then is not None:  # the caller's change of the ticket, committed with the filing or not at all
                    then(cur)
            others = cur.execute("SELECT DISTINCT ticket_id FROM filings WHERE sha256 = ? AND ticket_id <> ? "
                                 "ORDER BY ticket_id", (sha, ticket)).all()
        filing = self._filing(duplicate if duplicate is not None else filing_id)
        filing = _replace(filing, duplicate_of=duplicate, seen_under=tuple(r["ticket_id"] for r in others))
        if notify is not None and duplicate is None:
            filing = _replace(filing, notification=self.notify(filing, notify))
        return filing

    def verify(self, ticket: str, path: str | Path, *, fail_on: str = "major", analysis: Analysis | None = None,
               vantage: str | None = None, notify: str | None = None,
               settings: Mapping[str, Any] | None = None) -> Verification:
        """Compare a capture taken after the fix with the ticket's last analysis and record the verification.

        The capture is analysed under the thresholds the last analysis was filed under (a finding must not vanish
        only because the thresholds differ), unless `settings` (a full tree, as sipdiag.config.load_config returns)
        or an `analysis` made by the caller are given; a filing made before the store kept its settings is
        verified under the defaults. `Verification.settings_source` says which.

        Passed: every earlier problem resolved, nothing new at or above `fail_on`, and no line of the customer's
        that cannot sign in. The ticket becomes `resolved`, or `reopened` with its priority raised one step
        (escalation); when nothing persists but the capture cannot show an earlier problem gone (no call with
        audio for a media problem, ...: the comparison's outcome `not-verified`), the ticket keeps its status and
        priority."""
        if notify is not None:
            webhook.check_url(notify)
        ticket = ticket.strip()  # as file() takes it: 'T-123 ' pasted from a mail is T-123
        case = self.show(ticket)
        before = case.latest_analysis
        if before is None:
            raise UsageError(f"ticket {ticket} has no analysis to verify against",
                             hint=f"File the capture of the problem first: sipdiag analyze FILE --ticket {ticket}")
        source = "given" if analysis is not None or settings is not None else \
            "unrecorded" if before.settings is None else "filing"
        if analysis is None:
            from ..analysis import analyze

            analysis = analyze(path, settings=settings if source == "given" else filed_settings(before))
        after_summary = summarize(analysis)
        comparison = compare(before.summary, after_summary, fail_on)
        passed = comparison.passed
        used = overrides(analysis.settings)
        verdict = {"passed": passed, "fail_on": fail_on, "against_filing": before.id, **comparison.as_dict(),
                   "settings": {"source": source, "overrides": used, "filed": before.settings}}

        def outcome(cur: Any) -> None:
            # in the filing's transaction: a Ctrl-C (or a lost connection) between the two left the verification
            # recorded and the ticket's status as before it
            now = _now()
            if passed:
                cur.execute("UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?", ("resolved", now, ticket))
            elif comparison.outcome == "not-verified":  # the wrong capture: no escalation, the ticket stays as it is
                cur.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (now, ticket))
            else:
                row = cur.execute("SELECT priority FROM tickets WHERE id = ?", (ticket,)).one() or {}
                raised = _raise_priority(row.get("priority"))
                cur.execute("UPDATE tickets SET status = ?, priority = ?, updated_at = ?, closed_at = NULL "
                            "WHERE id = ?", ("reopened", raised, now, ticket))

        filing = self.file(ticket, path, vantage=vantage, analysis=analysis, kind="verification", verdict=verdict,
                           then=outcome)
        if notify is not None:
            filing = _replace(filing, notification=self.notify(filing, notify))
        return Verification(filing, before, comparison, passed, fail_on, used, source)

    # ------------------------------------------------------------------------------------------------ reading

    def show(self, ticket: str) -> Case:
        ticket = ticket.strip()  # file() strips the id it files under (check_ticket): ' T-1 ' is T-1 here too
        with self.db.transaction() as cur:
            row = cur.execute("SELECT * FROM tickets WHERE id = ?", (ticket,)).one()
            if row is None:
                raise UnknownTicket(f"no ticket {ticket!r} in the case store {self.url}")
            ids = [r["id"] for r in cur.execute("SELECT id FROM filings WHERE ticket_id = ? ORDER BY id",
                                                (ticket,)).all()]
        return Case(row["id"], row["customer"], row["status"], row["priority"], row["queue"], row["category"],
                    row["reason"], row["created_at"], row["updated_at"], row["closed_at"],
                    tuple(self._filing(i) for i in ids))

    def list(self, *, open_only: bool = False, queue: str | None = None) -> list[Case]:
        """Tickets, newest activity first (without their filings)."""
        sql, params = "SELECT * FROM tickets", []
        where = []
        if open_only:
            where.append("status <> ?")
            params.append("closed")
        if queue:
            where.append("queue = ?")
            params.append(queue)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY updated_at DESC, id", params).all()
        return [Case(r["id"], r["customer"], r["status"], r["priority"], r["queue"], r["category"], r["reason"],
                     r["created_at"], r["updated_at"], r["closed_at"]) for r in rows]

    def close(self, ticket: str | None = None) -> bool:  # type: ignore[override]
        """Close a ticket; without one, close the store's connection. False when the ticket was closed already: it
        keeps the time it was closed at (closing it again overwrote it)."""
        if ticket is None:
            self.db.close()
            return False
        ticket = ticket.strip()
        self.show(ticket)
        now = _now()
        with self.db.transaction() as cur:
            cur.execute("UPDATE tickets SET status = ?, closed_at = ?, updated_at = ? WHERE id = ? AND status <> ?",
                        ("closed", now, now, ticket, "closed"))
            return cur.rowcount > 0

    def reply(self, ticket: str, *, audience: str = "customer", lang: str = "en", fmt: str = "text") -> str:
        """The ready-to-send reply for the ticket's latest analysis (rendered when it was filed)."""
        ticket = ticket.strip()
        latest = self.show(ticket).latest_analysis
        if latest is None:
            raise UsageError(f"ticket {ticket} has no analysis yet",
                             hint=f"File a capture first: sipdiag analyze FILE --ticket {ticket}")
        with self.db.transaction() as cur:
            row = cur.execute("SELECT replies FROM filings WHERE id = ?", (latest.id,)).one()
        replies = json.loads(row["replies"]) if row and row["replies"] else {}
        text = replies.get(f"{audience}.{lang}.{fmt}")
        if text is None:
            raise UsageError(f"filing #{latest.id} of ticket {ticket} has no stored {audience} reply in {lang}/{fmt}",
                             hint="It was filed by an older sipdiag; file the capture again.")
        return text

    def document(self, filing_id: int) -> dict[str, Any] | None:
        """The full analysis document (sipdiag.analysis JSON) of a filing."""
        with self.db.transaction() as cur:
            row = cur.execute("SELECT document FROM filings WHERE id = ?", (filing_id,)).one()
        return None if row is None or row["document"] is None else json.loads(row["document"])

    def _filing(self, filing_id: int) -> Filing:
        with self.db.transaction() as cur:
            r = cur.execute("SELECT f.*, c.name FROM filings f JOIN captures c ON c.sha256 = f.sha256 "
                            "WHERE f.id = ?", (filing_id,)).one()
        assert r is not None
        t = json.loads(r["triage"])
        return Filing(r["id"], r["ticket_id"], r["kind"], r["sha256"], r["name"], r["vantage"], r["filed_at"],
                      json.loads(r["summary"]), Triage(**t), verdict=json.loads(r["verdict"]) if r["verdict"] else None,
                      settings=json.loads(r["settings"]) if r["settings"] is not None else None)

    # ------------------------------------------------------------------------------------------------ webhooks

    def notify(self, filing: Filing, url: str, *, attempts: int = webhook.ATTEMPTS,
               backoff: tuple[float, ...] = webhook.BACKOFF_S) -> webhook.Delivery:
        """Post the filing to `url`; what is not delivered stays pending in the store."""
        payload = notification_payload(filing)
        with self.db.transaction() as cur:
            row = cur.execute("INSERT INTO notifications (filing_id, url, payload, status, attempts, created_at) "
                              "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                              (filing.id, url, _dumps(payload), "pending", 0, _now())).one()
        return self._deliver(row["id"], url, payload, attempts, backoff)  # type: ignore[index]

    def pending(self) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT id, filing_id, url, attempts, last_error, created_at FROM notifications "
                               "WHERE status = ? ORDER BY id", ("pending",)).all()
        return rows

    def resend_pending(self, *, attempts: int = webhook.ATTEMPTS,
                       backoff: tuple[float, ...] = webhook.BACKOFF_S) -> list[tuple[int, webhook.Delivery]]:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT id, url, payload FROM notifications WHERE status = ? ORDER BY id",
                               ("pending",)).all()
        return [(r["id"], self._deliver(r["id"], r["url"], json.loads(r["payload"]), attempts, backoff)) for r in rows]

    def _deliver(self, notification_id: int, url: str, payload: dict[str, Any], attempts: int,
                 backoff: tuple[float, ...]) -> webhook.Delivery:
        delivery = webhook.post(url, payload, attempts=attempts, backoff=backoff)
        with self.db.transaction() as cur:
            cur.execute("UPDATE notifications SET status = ?, attempts = attempts + ?, last_error = ?, "
                        "delivered_at = ? WHERE id = ?",
                        ("delivered" if delivery.delivered else "pending", delivery.attempts, delivery.error,
                         _now() if delivery.delivered else None, notification_id))
        return delivery


def filed_settings(filing: Filing) -> dict[str, Any] | None:
    """The full threshold tree a filing was analysed under; None for the defaults, and for a filing that recorded
    none. Its overrides are checked as a configuration file's: a store written by another sipdiag version may hold
    a key this one does not know (UsageError naming it)."""
    if not filing.settings:
        return None
    from ..config import from_overrides

    try:
        return from_overrides(filing.settings, source=f"the settings of filing #{filing.id}")
    except UsageError as e:
        raise UsageError(str(e), hint="It was filed by another version of sipdiag: give the thresholds to verify "
                                      "under with --config FILE.") from None


def _settings_text(values: dict[str, Any]) -> str:
    """Overrides as the store keeps them: one canonical JSON text (sorted keys), so that equal settings compare
    equal in SQL (the duplicate check)."""
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def render_replies(analysis: Analysis) -> dict[str, str]:
    """Every ready-to-send reply of an analysis (audience.lang.format -> text): a few kilobytes, kept with the
    filing so that `sipdiag case reply` works when the capture is long gone."""
    import io

    from ..reports.reply import AUDIENCES, FORMATS, render_reply

    out = {}
    for audience in AUDIENCES:
        for lang in ("en", "ru"):
            for fmt in FORMATS:
                buf = io.StringIO()
                render_reply(analysis, buf, audience=audience, lang=lang, fmt=fmt)
                out[f"{audience}.{lang}.{fmt}"] = buf.getvalue()
    return out


def notification_payload(filing: Filing) -> dict[str, Any]:
    """What a ticket system receives: the event, the ticket, the triage, the figures and the findings in brief."""
    return {
        "event": "verification" if filing.kind == "verification" else "filing",
        "ticket": filing.ticket, "filing": filing.id, "filed_at": filing.filed_at,
        "capture": {"name": filing.capture_name, "sha256": filing.sha256, "vantage": filing.vantage},
        "triage": filing.triage.as_dict(),
        "figures": filing.summary["figures"],
        "findings": [{k: f[k] for k in ("rule", "category", "severity", "owner", "title", "call_id")}
                     for f in filing.summary["findings"]],
        "verdict": filing.verdict,
    }


def _raise_priority(priority: str | None) -> str:
    """Escalation after a failed verification: one step more urgent (P1 stays P1)."""
    if not priority or not priority.startswith("P") or not priority[1:].isdigit():
        return "P2"
    return f"P{max(1, int(priority[1:]) - 1)}"


def check_ticket(ticket: str) -> str:
    """The ticket id, stripped; UsageError for an empty, overlong or unprintable one."""
    ticket = ticket.strip()
    # C0 and C1 controls, DEL, bidi controls and lone surrogates (octets that were not UTF-8): a ticket id is shown
    # in terminals, mails and the ticket system, and the store must be able to encode it.
    if not ticket or len(ticket) > 200 or printable(ticket) != ticket:
        raise UsageError(f"bad ticket id {ticket[:40]!r}", hint="A ticket id is printable text, e.g. T-123.")
    return ticket


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _replace(filing: Filing, **changes: Any) -> Filing:
    from dataclasses import replace

    return replace(filing, **changes)
