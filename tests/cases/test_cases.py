"""The case store (issue 8) on SQLite and on a real PostgreSQL server: filing, triage, the closed loop, concurrency,
crash consistency, webhooks against real local HTTP servers, and the command line."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from sipdiag.cases import CaseStore, UnknownTicket
from sipdiag.cases.store import sha256_of
from tests.conftest import SAMPLES, validate_json_document

ONE_WAY = SAMPLES / "nat_one_way_audio.pcap"
SYMMETRIC = SAMPLES / "nat_symmetric_rtp.pcap"
CLEAN = SAMPLES / "clean_call.pcap"


def sipdiag(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_filing_triage_and_duplicates(store_url: str) -> None:
    with CaseStore(store_url) as cases:
        f = cases.file("T-1", ONE_WAY, customer="ACME", vantage="cpe-wan")
        assert (f.kind, f.ticket, f.capture_name, f.vantage) == ("analysis", "T-1", "nat_one_way_audio.pcap", "cpe-wan")
        assert f.sha256 == sha256_of(ONE_WAY)[0]
        t = f.triage
        assert (t.category, t.rule, t.priority, t.queue, t.affected_calls, t.calls) == (
            "nat", "nat.private-sdp-address", "P2", "engineering", 1, 1)
        assert "major problem on every call" in t.reason
        assert [x["rule"] for x in f.summary["findings"]] == [
            "nat.private-sdp-address", "media.one-way-audio", "nat.media-source-mismatch", "media.rtcp-issues"]
        assert f.summary["figures"]["one_way_calls"] == 1
        again = cases.file("T-1", ONE_WAY)
        assert again.duplicate_of == f.id and again.id == f.id
        elsewhere = cases.file("T-2", ONE_WAY)
        assert elsewhere.duplicate_of is None and elsewhere.id != f.id and elsewhere.seen_under == ("T-1",)
        case = cases.show("T-1")
        assert (case.customer, case.status, case.priority, case.queue) == ("ACME", "open", "P2", "engineering")
        assert [x.id for x in case.filings] == [f.id]  # the duplicate was not filed again
        assert cases.document(f.id)["schema"] == "sipdiag.analysis/1"


def test_triage_of_a_clean_call_and_of_a_registration_down(store_url: str) -> None:
    with CaseStore(store_url) as cases:
        clean = cases.file("T-clean", CLEAN).triage
        assert (clean.rule, clean.priority, clean.queue) == (None, "P4", "first-line")
        assert "nothing above info" in clean.reason
    reg = CaseStore(store_url).triage({"figures": {"calls": 0, "registrations": 2, "registrations_failed": 2},
                                       "findings": [{"rule": "reg.rejected", "category": "registration",
                                                     "severity": "major", "owner": "first-line", "call_id": None}]})
    assert (reg.priority, reg.queue) == ("P1", "first-line")
    assert "registration down" in reg.reason


def test_closed_loop_resolved_then_persisting(store_url: str) -> None:
    with CaseStore(store_url) as cases:
        before = cases.file("T-7", ONE_WAY, customer="ACME")
        ok = cases.verify("T-7", SYMMETRIC)
        assert ok.passed and ok.before.id == before.id
        assert [(c.rule, c.severity_before, c.severity_after) for c in ok.comparison.resolved] == [
            ("nat.private-sdp-address", "major", "minor"), ("media.one-way-audio", "major", None),
            ("nat.media-source-mismatch", "major", "info")]
        assert ok.comparison.persisting == () and ok.comparison.new == ()
        assert ok.comparison.figures["one_way_calls"] == (1, 0)
        assert cases.show("T-7").status == "resolved"
        bad = cases.verify("T-7", ONE_WAY)
        assert not bad.passed
        assert [c.rule for c in bad.comparison.persisting] == ["nat.private-sdp-address", "media.one-way-audio",
                                                               "nat.media-source-mismatch"]
        case = cases.show("T-7")
        assert (case.status, case.priority) == ("reopened", "P1")  # escalated one step from P2
        assert [f.kind for f in case.filings] == ["analysis", "verification", "verification"]
        assert [f.verdict["passed"] for f in case.filings[1:]] == [True, False]
        cases.close("T-7")
        assert cases.show("T-7").status == "closed"
        assert [c.ticket for c in cases.list(open_only=True)] == []
        cases.file("T-7", CLEAN)  # new evidence on a closed ticket reopens it
        assert cases.show("T-7").status == "reopened"
        with pytest.raises(UnknownTicket, match="no ticket 'T-404'"):
            cases.show("T-404")


def test_a_capture_that_cannot_show_the_problem_does_not_resolve_it(store_url: str, tmp_path: Path) -> None:
    """Packet loss is not 'resolved' by a capture with no answered call in it (a registration only), nor a
    registration failure by one with no REGISTER: the verdict is not-verified, the ticket keeps its status and
    priority (no escalation either), and the customer is asked to record again."""
    with CaseStore(store_url) as cases:
        cases.file("T-8", SAMPLES / "rtp_loss.pcap")
        v = cases.verify("T-8", SAMPLES / "register_ok.pcap")
        c = v.comparison
        assert (v.passed, c.outcome) == (False, "not-verified")
        assert [r.rule for r in c.unverified] == ["media.packet-loss"] and c.resolved == c.persisting == ()
        assert c.missing == {"en": "answered call with audio", "ru": "отвеченного звонка со звуком"}
        case = cases.show("T-8")
        assert (case.status, case.priority) == ("open", "P2")
        assert case.filings[-1].verdict["outcome"] == "not-verified"
        ok = cases.verify("T-8", CLEAN)  # a capture with a call: now it can tell
        assert (ok.passed, ok.comparison.outcome, [r.rule for r in ok.comparison.resolved]) == (
            True, "resolved", ["media.packet-loss"])
        cases.file("T-9", SAMPLES / "register_wrong_password.pcap")
        reg = cases.verify("T-9", CLEAN)
        assert reg.comparison.outcome == "not-verified"
        assert reg.comparison.missing["en"] == "registration of the phone"
    from sipdiag.cases.messages import verification_message

    assert verification_message(v).splitlines()[2:4] == [
        "We have checked the new recording, but it cannot show whether the problem is fixed: it holds no answered "
        "call with audio. The problem we are checking:",
        "- Part of the sound of your call was lost on the way (4.7 % of it), which makes speech choppy."]
    if not store_url.startswith("postgres"):  # the command line, once
        store = str(tmp_path / "cli.db")
        sipdiag("analyze", str(SAMPLES / "rtp_loss.pcap"), "--ticket", "T-1", "--store", store)
        r = sipdiag("verify", "T-1", str(SAMPLES / "register_ok.pcap"), "--store", store)
        assert r.returncode == 1
        assert r.stdout.splitlines()[:3] == [
            "Ticket T-1: verification #2 against analysis #1: NOT VERIFIED (problems: major and above)",
            "  the capture holds no answered call with audio: it cannot show the problems below gone",
            "  unverified media.packet-loss                  before major    x1  after -        x0"]
        assert "NOT VERIFIED" in sipdiag("case", "show", "T-1", "--store", store).stdout


def test_unverified_names_each_kind_of_missing_evidence_once() -> None:
    from sipdiag.cases.compare import compare

    def finding(rule: str, category: str) -> dict:
        return {"rule": rule, "category": category, "severity": "major", "title": rule, "customer_text": {}}

    before = {"figures": {"calls": 1, "answered": 1, "streams": 2, "registrations": 1},
              "findings": [finding("media.packet-loss", "media"), finding("nat.private-contact", "nat"),
                           finding("alg.sip-alg", "router"), finding("reg.rejected", "registration"),
                           finding("sec.scanner", "security")]}
    empty = {"figures": {"calls": 0, "answered": 0, "streams": 0, "registrations": 0}, "findings": []}
    c = compare(before, empty)
    assert c.outcome == "not-verified"
    assert [r.rule for r in c.unverified] == ["media.packet-loss", "nat.private-contact", "alg.sip-alg",
                                              "reg.rejected"]
    assert [r.rule for r in c.resolved] == ["sec.scanner"]  # a quiet capture answers for an attack
    assert c.missing == {"en": "answered call with audio, call or registration, registration of the phone",
                         "ru": "отвеченного звонка со звуком, звонка или регистрации, регистрации телефона"}
    registered = {"figures": {**empty["figures"], "registrations": 1}, "findings": []}
    assert [r.rule for r in compare(before, registered).unverified] == ["media.packet-loss"]


def test_an_attackers_calls_are_compared_under_the_attack(tmp_path: Path) -> None:
    """While a toll-fraud attack goes on, the refused calls the attacker placed are the attack's (as in the reply),
    not the customer's problems persisting or new; a refused call of the customer's own still counts."""
    import sipdiag
    from sipdiag.cases.compare import compare
    from sipdiag.cases.summary import summarize
    from tests.integration.test_rules_call_media import fraud_capture

    numbers = ["0048185422016", "01148185422016", "9011441234567890", "00972598072172", "0011611234567"]
    before = summarize(sipdiag.analyze(fraud_capture(tmp_path / "before.pcap", numbers)))
    assert [(f["rule"], f["cause"]) for f in before["findings"]] == [
        ("sec.toll-fraud-attempt", None)] + [("call.failure-response", 0)] * 5
    still = summarize(sipdiag.analyze(fraud_capture(tmp_path / "still.pcap", [n + "9" for n in numbers])))
    c = compare(before, still, "minor")
    assert ([r.rule for r in c.persisting], c.new, c.resolved, c.outcome) == (
        ["sec.toll-fraud-attempt"], (), (), "not-resolved")
    assert (c.persisting[0].count_before, c.persisting[0].count_after) == (1, 1)
    own = summarize(sipdiag.analyze(fraud_capture(tmp_path / "own.pcap", numbers[:1])))  # one call: no attack
    c = compare(before, own, "minor")
    assert ([r.rule for r in c.resolved], [r.rule for r in c.new]) == (["sec.toll-fraud-attempt"],
                                                                      ["call.failure-response"])


def test_closed_loop_on_the_command_line(tmp_path: Path) -> None:
    store = str(tmp_path / "cases.db")
    filed = sipdiag("analyze", str(ONE_WAY), "--ticket", "T-123", "--customer", "ACME", "--vantage", "cpe-wan",
                    "--store", store, "--format", "json")
    assert filed.returncode == 1  # the analysis found major problems (--fail-on major)
    assert validate_json_document(filed.stdout)["schema"] == "sipdiag.analysis/1"  # stdout stays the report
    assert filed.stderr.strip() == ("Filed under T-123 as filing #1: P2, queue engineering, main cause "
                                    "nat.private-sdp-address")
    ok = sipdiag("verify", "T-123", str(SYMMETRIC), "--store", store, "--lang", "ru")
    assert ok.returncode == 0, ok.stderr
    assert "RESOLVED" in ok.stdout and "Звук в звонках слышен в обе стороны".lower() in ok.stdout.lower()
    assert "Заявка T-123 будет закрыта" in ok.stdout
    bad = sipdiag("verify", "T-123", str(ONE_WAY), "--store", store, "--format", "json")
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert (doc["passed"], doc["status"], doc["priority"]) == (False, "reopened", "P1")
    assert [c["rule"] for c in doc["persisting"]] == ["nat.private-sdp-address", "media.one-way-audio",
                                                      "nat.media-source-mismatch"]
    listed = sipdiag("case", "list", "--open", "--queue", "engineering", "--store", store)
    assert listed.returncode == 0 and listed.stdout.split()[:4] == ["T-123", "reopened", "P1", "engineering"]
    shown = sipdiag("case", "show", "T-123", "--store", store)
    assert "#2 verification" in shown.stdout and "RESOLVED" in shown.stdout and "NOT RESOLVED" in shown.stdout
    assert sipdiag("case", "close", "T-123", "--store", store).stdout == "Ticket T-123 closed.\n"
    assert sipdiag("case", "list", "--open", "--store", store).stdout == ""


def test_command_line_errors(tmp_path: Path) -> None:
    store = str(tmp_path / "cases.db")
    r = sipdiag("analyze", str(CLEAN), "--customer", "ACME", "--store", store)
    assert r.returncode == 2 and r.stderr.startswith("Error: --customer, --vantage and --notify file a capture")
    # a store that does not exist is not a new empty one for the commands that read it: a mistyped --store
    # listed no tickets, as if there were none, and left a stray file behind
    for args in (["case", "list"], ["case", "show", "T-1"], ["case", "reply", "T-1"], ["case", "close", "T-1"],
                 ["case", "notify", "--pending"], ["verify", "T-1", str(CLEAN)]):
        r = sipdiag(*args, "--store", f"sqlite:///{store}")
        assert (r.returncode, r.stdout) == (3, ""), args
        assert r.stderr.splitlines() == [
            f"Error: no case store at {store}",
            "Hint: Check --store / SIPDIAG_STORE. A store is made by the first filing: 'sipdiag analyze CAPTURE "
            "--ticket ID' or 'sipdiag batch --ticket-from-name'."], args
        assert not Path(store).exists()
    # verify cannot file a capture from a pipe, and says so before it reads it
    assert sipdiag("analyze", str(CLEAN), "--ticket", "T-1", "--store", store).returncode == 0
    r = subprocess.run([sys.executable, "-m", "sipdiag", "verify", "T-1", "-", "--store", store],
                       stdin=open(CLEAN, "rb"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "Error: a capture from standard input cannot be filed under a ticket",
        "Hint: Save it to a file first; the case keeps its SHA-256 and name."]
    r = sipdiag("case", "show", "T-404", "--store", store)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"Error: no ticket 'T-404' in the case store {store}",
                                     "Hint: See 'sipdiag case list' for the tickets in the store."]
    r = sipdiag("verify", "T-404", str(CLEAN), "--store", store)
    assert r.returncode == 2 and "no ticket 'T-404'" in r.stderr
    r = sipdiag("case", "list", "--store", "postgresql://nobody:secret@127.0.0.1:1/none")
    assert r.returncode == 3 and r.stderr.startswith("Error: cannot connect to the case store "
                                                     "postgresql://nobody@127.0.0.1:1/none")
    assert "secret" not in r.stderr and "Traceback" not in r.stderr
    r = sipdiag("case", "list", "--store", "mysql://x/y")
    assert r.returncode == 3 and r.stderr.startswith("Error: unknown case store 'mysql://x/y'")
    # analyze with --ticket: a bad ticket id or store stops it before the capture is read (no report printed)
    r = sipdiag("analyze", str(CLEAN), "--ticket", "T-1", "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert (r.returncode, r.stdout) == (3, "") and r.stderr.startswith("Error: cannot connect to the case store")
    r = sipdiag("analyze", str(CLEAN), "--ticket", "T-\x1b[2J", "--store", store)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines() == ["Error: bad ticket id 'T-\\x1b[2J'",
                                     "Hint: A ticket id is printable text, e.g. T-123."]


# -------------------------------------------------------------------------------------------- concurrency, crashes

WRITERS, FILINGS_EACH = 4, 5


def _writer(url: str, n: int, captures: list[str], barrier) -> None:
    barrier.wait()
    with CaseStore(url) as cases:
        for i in range(FILINGS_EACH):
            # every writer files into the shared ticket (its own capture again and again: one filing, the rest
            # recognised as duplicates even while others write) and into tickets of its own
            cases.file("T-shared", captures[n % len(captures)], customer=f"w{n}")
            cases.file(f"T-{n}-{i}", captures[i % len(captures)])


def test_concurrent_writers_lose_nothing(store_url: str, tmp_path: Path) -> None:
    # distinct captures (distinct SHA-256) so that no filing is a duplicate of another
    captures = []
    for n in range(WRITERS):
        path = tmp_path / f"c{n}.pcap"
        path.write_bytes(CLEAN.read_bytes() + bytes([n]))  # a trailing byte: same calls, another hash
        captures.append(str(path))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=_writer, args=(store_url, n, captures, barrier)) for n in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    with CaseStore(store_url) as cases:
        tickets = {c.ticket for c in cases.list()}
        assert tickets == {"T-shared"} | {f"T-{n}-{i}" for n in range(WRITERS) for i in range(FILINGS_EACH)}
        shared = cases.show("T-shared")
        assert sorted(f.sha256 for f in shared.filings) == sorted(sha256_of(c)[0] for c in captures)
        assert all(len(cases.show(f"T-{n}-{i}").filings) == 1 for n in range(WRITERS) for i in range(FILINGS_EACH))


def test_concurrent_creation_of_a_new_sqlite_store(tmp_path: Path) -> None:
    url = str(tmp_path / "new" / "cases.db")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_writer, args=(url, n, [str(CLEAN)], barrier)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with CaseStore(url) as cases:
        assert len(cases.list()) == 1 + 3 * FILINGS_EACH
        assert cases.schema_version == 3
        assert len(cases.show("T-shared").filings) == 1  # one capture: filed once, 14 duplicates recognised


_CRASH = """
import os, sys
from sipdiag.cases import CaseStore
store = CaseStore(sys.argv[1])
with store.db.transaction() as cur:
    cur.execute("INSERT INTO tickets (id, status, created_at, updated_at) VALUES (?, ?, ?, ?)",
                ("T-crash", "open", "x", "x"))
    os._exit(9)  # the process dies mid-write, before COMMIT
"""


def test_a_crash_mid_write_leaves_the_store_consistent(store_url: str) -> None:
    with CaseStore(store_url) as cases:
        cases.file("T-1", CLEAN)
    r = subprocess.run([sys.executable, "-c", _CRASH, store_url], capture_output=True, timeout=60)
    assert r.returncode == 9
    with CaseStore(store_url) as cases:
        assert [c.ticket for c in cases.list()] == ["T-1"]
        assert len(cases.show("T-1").filings) == 1
        cases.file("T-2", ONE_WAY)  # and it is writable again
        assert {c.ticket for c in cases.list()} == {"T-1", "T-2"}


# -------------------------------------------------------------------------------------------- webhooks

class _Receiver:
    """A real HTTP server on localhost that fails the first `fail_first` posts with 503, then accepts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[dict] = []
        self.attempts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                if outer.attempts <= outer.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.received.append({"event": self.headers["X-Sipdiag-Event"],
                                        "content_type": self.headers["Content-Type"], "body": json.loads(body)})
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_delivers_after_the_server_recovers(store_url: str) -> None:
    receiver = _Receiver(fail_first=2)
    try:
        with CaseStore(store_url) as cases:
            f = cases.file("T-5", ONE_WAY, notify=receiver.url)
            assert f.notification.delivered and f.notification.attempts == 3
            assert receiver.attempts == 3 and len(receiver.received) == 1
            got = receiver.received[0]
            assert got["event"] == "filing" and got["content_type"] == "application/json; charset=utf-8"
            body = got["body"]
            assert (body["ticket"], body["filing"], body["triage"]["priority"], body["triage"]["queue"]) == (
                "T-5", f.id, "P2", "engineering")
            assert [x["rule"] for x in body["findings"]] == [
                "nat.private-sdp-address", "media.one-way-audio", "nat.media-source-mismatch", "media.rtcp-issues"]
            assert cases.pending() == []
            v = cases.verify("T-5", SYMMETRIC, notify=receiver.url)
            assert v.filing.notification.delivered
            assert receiver.received[-1]["body"]["event"] == "verification"
            assert receiver.received[-1]["body"]["verdict"]["passed"] is True
    finally:
        receiver.stop()


def test_undelivered_notifications_are_kept_and_resent(store_url: str, tmp_path: Path) -> None:
    receiver = _Receiver()
    url = receiver.url
    receiver.stop()  # nothing listens there now
    with CaseStore(store_url) as cases:
        f = cases.file("T-6", ONE_WAY, notify=url)
        d = f.notification
        assert not d.delivered and d.attempts == 4 and "Connection refused" in d.error
        pending = cases.pending()
        assert [(p["filing_id"], p["url"], p["attempts"]) for p in pending] == [(f.id, url, 4)]
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    recovered = _ReceiverOnPort(port)  # the ticket system is back, on the same address
    try:
        r = sipdiag("case", "notify", "--pending", "--store", store_url)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"notification #{pending[0]['id']}: delivered\n"
        assert [x["body"]["ticket"] for x in recovered.received] == ["T-6"]
        with CaseStore(store_url) as cases:
            assert cases.pending() == []
        assert sipdiag("case", "notify", "--pending", "--store", store_url).stdout == "No pending notifications.\n"
    finally:
        recovered.stop()


class _ReceiverOnPort(_Receiver):
    def __init__(self, port: int) -> None:
        self.received = []
        self.attempts = 0
        self.fail_first = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append({"body": json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


def test_case_reply_is_the_reply_of_the_latest_analysis(tmp_path: Path) -> None:
    store = str(tmp_path / "cases.db")
    sipdiag("analyze", str(ONE_WAY), "--ticket", "T-8", "--store", store, "-o", os.devnull)
    for lang in ("en", "ru"):
        for audience in ("customer", "engineer"):
            stored = sipdiag("case", "reply", "T-8", "--lang", lang, "--audience", audience, "--store", store)
            fresh = sipdiag("reply", str(ONE_WAY), "--lang", lang, "--audience", audience)
            assert stored.returncode == fresh.returncode == 0, stored.stderr
            assert stored.stdout == fresh.stdout and stored.stdout
    md = sipdiag("case", "reply", "T-8", "--format", "markdown", "--store", store)
    assert md.stdout == sipdiag("reply", str(ONE_WAY), "--format", "markdown").stdout
    r = sipdiag("case", "reply", "T-404", "--store", store)
    assert r.returncode == 2 and r.stderr.startswith("Error: no ticket 'T-404'")


def test_a_version_1_store_is_migrated_on_open(tmp_path: Path) -> None:
    from sipdiag.cases import migrations
    from sipdiag.cases.backends import connect

    path = tmp_path / "old.db"
    db = connect(str(path))
    first = migrations.MIGRATIONS[:1]
    original = migrations.MIGRATIONS
    migrations.MIGRATIONS = first
    try:
        assert migrations.migrate(db) == 1
        with db.transaction() as cur:  # a filing written by the version-1 sipdiag
            cur.execute("INSERT INTO tickets (id, status, created_at, updated_at) VALUES (?, ?, ?, ?)",
                        ("T-old", "open", "2026-01-01", "2026-01-01"))
            cur.execute("INSERT INTO captures (sha256, size, name, first_filed_at) VALUES (?, ?, ?, ?)",
                        ("0" * 64, 1, "old.pcap", "2026-01-01"))
            cur.execute("INSERT INTO filings (ticket_id, sha256, kind, filed_at, summary, triage) "
                        "VALUES (?, ?, ?, ?, ?, ?)", ("T-old", "0" * 64, "analysis", "2026-01-01",
                                                      json.dumps({"figures": {"calls": 0}, "findings": []}),
                                                      json.dumps({"category": None, "rule": None, "priority": "P4",
                                                                  "queue": "first-line", "reason": "-",
                                                                  "affected_calls": 0, "calls": 0})))
    finally:
        migrations.MIGRATIONS = original
        db.close()
    with CaseStore(str(path)) as cases:
        assert cases.schema_version == 3
        assert [f.capture_name for f in cases.show("T-old").filings] == ["old.pcap"]
        with pytest.raises(Exception, match="has no stored customer reply"):
            cases.reply("T-old")
        cases.file("T-old", CLEAN)  # a new analysis has its replies
        assert cases.reply("T-old").startswith("Hello")


def test_the_package_loads_the_store_only_when_it_is_used() -> None:
    """A batch worker imports cases.summary and cases.triage for every capture; the store (sqlite3, ssl for the
    PostgreSQL driver) is loaded only when a name of it is used, and then the package's names are what they were."""
    probe = ("import sys; from sipdiag.cases import summary, triage; print('sipdiag.cases.store' in sys.modules);"
             " import sipdiag.cases as c; s = c.CaseStore; print('sipdiag.cases.store' in sys.modules,"
             " s is sys.modules['sipdiag.cases.store'].CaseStore, c.Triage is triage.Triage, 'Filing' in dir(c))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", "True", "True", "True"]
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        import sipdiag.cases

        sipdiag.cases.Nope  # noqa: B018
