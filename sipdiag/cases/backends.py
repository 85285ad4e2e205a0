"""The two databases a case store lives in: SQLite (one file, no set-up) and PostgreSQL (a team's shared server).

One small interface over both (`Database.transaction()` yielding a cursor-like object that takes `?` parameters),
so the store's SQL is written once. Every write runs in one transaction: a crash mid-write leaves the previous
state (SQLite's journal, PostgreSQL's WAL), and concurrent writers queue instead of losing records
(SQLite: WAL mode + BEGIN IMMEDIATE + busy timeout; PostgreSQL: row locks and ON CONFLICT upserts).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import SipdiagError
from ..reports.safe import encodable

BUSY_TIMEOUT_S = 60  # a batch run with many writers queues this long before giving up


class StoreError(SipdiagError):
    """The case store cannot be opened or written."""

    hint = "Check --store / SIPDIAG_STORE (a file path, sqlite:///PATH or postgresql://USER@HOST/DB) and access."


def default_path() -> Path:
    """$XDG_DATA_HOME/sipdiag/cases.db (~/.local/share/sipdiag/cases.db): the user's data directory."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sipdiag" / "cases.db"


def resolve_url(url: str | None) -> str:
    """--store, else SIPDIAG_STORE, else the SQLite file in the user's data directory."""
    url = url or os.environ.get("SIPDIAG_STORE") or ""
    return url or f"sqlite:///{default_path()}"


class Database:
    dialect: str

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:  # pragma: no cover - interface
        raise NotImplementedError
        yield

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def _storable(value: Any) -> Any:
    """Text as a database can hold it: a lone surrogate (an octet that was not UTF-8 in a customer name or a file
    name, kept by Python's surrogateescape) cannot be encoded, so it is stored as a visible \\xNN escape."""
    return encodable(value) if isinstance(value, str) else value


class Cursor:
    """`execute(sql, params)` with `?` placeholders on either database; rows as dicts."""

    def __init__(self, raw: Any, paramstyle_percent: bool) -> None:
        self._raw = raw
        self._percent = paramstyle_percent

    def execute(self, sql: str, params: tuple | list = ()) -> Cursor:
        if self._percent:
            sql = sql.replace("?", "%s")  # the store's SQL never holds a literal '?' or '%'
        self._raw.execute(sql, tuple(_storable(p) for p in params))
        return self

    @property
    def rowcount(self) -> int:
        """The rows the last UPDATE changed."""
        return self._raw.rowcount

    def one(self) -> dict[str, Any] | None:
        row = self._raw.fetchone()
        return None if row is None else self._row(row)

    def all(self) -> list[dict[str, Any]]:
        return [self._row(r) for r in self._raw.fetchall()]

    def _row(self, row: Any) -> dict[str, Any]:
        names = [d[0] for d in self._raw.description]
        return dict(zip(names, row))


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions; each write is an explicit BEGIN IMMEDIATE, which
            # takes the write lock up front so two writers never deadlock upgrading a read lock.
            self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            self._wal()
            self._conn.execute("PRAGMA synchronous = FULL")  # a committed filing survives a power cut
            self._conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open the case store {path}: {e}") from None

    def _wal(self) -> None:
        """WAL mode: readers never block the writer. Switching a new file to WAL needs an exclusive lock that
        SQLite does not wait for (the busy handler is not called there): several processes creating one store at
        once retry here."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.01
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise StoreError(f"the case store {self.path} is not writable: {e}") from None
        try:
            yield Cursor(self._conn.cursor(), paramstyle_percent=False)
        except sqlite3.Error as e:  # a damaged file whose header is intact ("database disk image is malformed")
            self._rollback()
            raise StoreError(f"cannot read or write the case store {self.path}: {e}",
                             hint="The file is damaged: restore it from a backup, or check it with "
                                  "'sqlite3 FILE \"PRAGMA integrity_check\"'.") from None
        except BaseException:
            self._rollback()
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise StoreError(f"cannot write to the case store {self.path}: {e}") from None

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:  # nothing to roll back, or the file is past reading: the caller's error stands
            pass

    def close(self) -> None:
        self._conn.close()


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreError("PostgreSQL stores need the psycopg package",
                             hint="pip install 'psycopg[binary]' (or the sipdiag[postgresql] extra).") from None
        self._psycopg = psycopg
        self.url = url
        try:
            self._conn = psycopg.connect(url, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreError(f"cannot connect to the case store {_safe_url(url)}: {_first_line(e)}") from None

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        try:
            with self._conn.transaction():
                with self._conn.cursor() as cur:
                    yield Cursor(cur, paramstyle_percent=True)
        except self._psycopg.Error as e:
            raise StoreError(f"case store {_safe_url(self.url)}: {_first_line(e)}") from None

    def close(self) -> None:
        self._conn.close()


def connect(url: str, *, create: bool = True) -> Database:
    """The store at `url`. create=False (commands that only read or update tickets): a SQLite file that does not
    exist is an error, not a new empty store; a mistyped --store would otherwise list no tickets, as if there were
    none, and leave a stray file behind."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    if "://" in url and not url.startswith("sqlite:///"):
        raise StoreError(f"unknown case store {url!r}")
    path = Path(url[len("sqlite:///"):] if url.startswith("sqlite:///") else url)
    if not create and not path.exists():
        raise StoreError(f"no case store at {path}",
                         hint="Check --store / SIPDIAG_STORE. A store is made by the first filing: "
                              "'sipdiag analyze CAPTURE --ticket ID' or 'sipdiag batch "
                              "--ticket-from-name'.")
    return SqliteDatabase(path)


def _safe_url(url: str) -> str:
    """The URL without its password (it ends up in error lines and logs)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
