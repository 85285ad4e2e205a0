"""Case-store writes under contention and on repeated commands: two writers filing the same capture under the same
ticket at once (a batch with several workers, two engineers), closing a ticket twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sipdiag.cases import CaseStore
from tests.conftest import SAMPLES

CLEAN = SAMPLES / "clean_call.pcap"


def test_the_same_capture_filed_by_two_writers_at_once_is_filed_once(postgres_server) -> None:
    # PostgreSQL runs each transaction on its own snapshot (READ COMMITTED): two writers both looking for an earlier
    # filing of the capture before either has committed found none, and both filed it (SQLite's BEGIN IMMEDIATE
    # serialises them). A third connection holding the tickets table makes both writers wait at the same point.
    import psycopg

    from tests.cases.conftest import _new_database

    url = _new_database(postgres_server)
    with CaseStore(url) as cases:
        cases.file("T-other", CLEAN)  # the schema exists, and the analysis is warm
    from sipdiag.analysis import analyze

    analysis = analyze(CLEAN)
    results, errors = [], []

    def writer() -> None:
        try:
            with CaseStore(url) as cases:
                results.append(cases.file("T-1", CLEAN, analysis=analysis))
        except Exception as e:  # pragma: no cover - reported by the assertion below
            errors.append(e)

    with psycopg.connect(url) as blocker:
        blocker.execute("LOCK TABLE tickets IN SHARE MODE")
        threads = [threading.Thread(target=writer) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # both writers wait for the lock
            with psycopg.connect(url, autocommit=True) as probe:
                waiting = probe.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]
            if waiting >= 2:
                break
            time.sleep(0.05)
        blocker.commit()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(f.duplicate_of is not None for f in results) == [False, True]
    with CaseStore(url) as cases:
        assert len(cases.show("T-1").filings) == 1


def test_closing_a_ticket_twice_keeps_the_time_it_was_closed(store_url: str) -> None:
    with CaseStore(store_url) as cases:
        cases.file("T-1", CLEAN)
        assert cases.close("T-1") is True
        first = cases.show("T-1")
        assert cases.close("T-1") is False  # closing it again overwrote closed_at (and updated_at)
        again = cases.show("T-1")
        assert (again.status, again.closed_at, again.updated_at) == ("closed", first.closed_at, first.updated_at)


def test_case_close_twice_on_the_command_line(tmp_path: Path) -> None:
    from tests.cases.test_cases import sipdiag

    store = str(tmp_path / "cases.db")
    assert sipdiag("analyze", str(CLEAN), "--ticket", "T-1", "--store", store).returncode == 0
    assert sipdiag("case", "close", "T-1", "--store", store).stdout == "Ticket T-1 closed.\n"
    with CaseStore(store) as cases:
        closed_at = cases.show("T-1").closed_at
    r = sipdiag("case", "close", "T-1", "--store", store)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"Ticket T-1 was already closed ({closed_at[:19]}).\n", "")


def test_a_store_of_a_newer_sipdiag_is_refused(store_url: str, tmp_path: Path) -> None:
    # Opened and written as if it were this version's: an older sipdiag filed into a newer schema without the
    # columns that version fills in.
    from sipdiag.cases import StoreError
    from sipdiag.cases.migrations import MIGRATIONS

    with CaseStore(store_url) as cases:
        cases.file("T-1", CLEAN)
        with cases.db.transaction() as cur:
            cur.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS) + 1,))
    with pytest.raises(StoreError) as e:
        CaseStore(store_url)
    assert str(e.value) == (f"the case store is at schema version {len(MIGRATIONS) + 1}, made by a newer sipdiag "
                            f"(this one knows up to version {len(MIGRATIONS)})")
    if store_url.startswith("postgresql"):
        return
    from tests.cases.test_cases import sipdiag

    r = sipdiag("analyze", str(CLEAN), "--ticket", "T-2", "--store", store_url)
    assert (r.returncode, r.stdout) == (3, "")
    assert r.stderr.splitlines() == [
        f"Error: {e.value}", "Hint: Upgrade sipdiag (pip install -U sipdiag), or give another store with --store."]


def test_a_ticket_id_with_surrounding_blanks_is_the_ticket_filed(tmp_path: Path) -> None:
    # `analyze --ticket 'T-1 '` (pasted from a mail) files under T-1; show, reply, close and verify looked for
    # 'T-1 ' and found no ticket.
    from tests.cases.test_cases import sipdiag

    store = str(tmp_path / "cases.db")
    r = sipdiag("analyze", str(CLEAN), "--ticket", "T-1\n", "--store", store)
    assert r.stderr == "Filed under T-1 as filing #1: P4, queue first-line, nothing above info\n"
    assert sipdiag("case", "show", " T-1 ", "--store", store).stdout.startswith("Ticket T-1  customer -  status open")
    assert sipdiag("case", "reply", "T-1 ", "--store", store).stdout.startswith("Hello")
    r = sipdiag("verify", "T-1\n", str(CLEAN), "--store", store)
    assert r.returncode == 0 and r.stdout.startswith("Ticket T-1: verification #2 against analysis #1: RESOLVED")
    assert sipdiag("case", "close", " T-1", "--store", store).stdout == "Ticket T-1 closed.\n"
    with CaseStore(store) as cases:
        assert [c.ticket for c in cases.list()] == ["T-1"] and cases.show("T-1").status == "closed"


def test_an_interrupted_verification_is_recorded_with_the_tickets_new_status(store_url: str, monkeypatch) -> None:
    # The verification was filed in one transaction and the ticket's status changed in the next: a Ctrl-C between
    # them left a passed verification on record and the ticket still open (or a failed one and its priority as
    # before). Interrupted right after the filing's commit, the status is now committed with it.
    with CaseStore(store_url) as cases:
        cases.file("T-1", SAMPLES / "nat_one_way_audio.pcap")

        read = CaseStore._filing

        def interrupted(self, filing_id: int):
            if filing_id == 2:  # the verification, read back once committed
                raise KeyboardInterrupt
            return read(self, filing_id)

        monkeypatch.setattr(CaseStore, "_filing", interrupted)
        with pytest.raises(KeyboardInterrupt):
            cases.verify("T-1", SAMPLES / "nat_symmetric_rtp.pcap")
        monkeypatch.undo()
        case = cases.show("T-1")
        assert [f.kind for f in case.filings] == ["analysis", "verification"]
        assert case.status == "resolved"
