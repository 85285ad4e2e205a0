"""Case-store fixtures: a SQLite file per test, and a real PostgreSQL server started for the session.

The PostgreSQL server is Debian's (package postgresql, installed by scripts/test.sh as root), started with initdb and
pg_ctl in a temporary directory on a free port; as root the server runs as the `postgres` user (PostgreSQL refuses to
run as root). Skipped with the reason where it cannot run."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """(host socket dir, port) of a running PostgreSQL server, stopped at the end of the session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[test]')")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian package postgresql; scripts/test.sh installs it "
                    "as root)")
    as_root = os.geteuid() == 0
    runner: list[str] = []
    if as_root:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        runner = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="sipdiag-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    try:
        subprocess.run([*runner, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
        subprocess.run([*runner, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(base / "log"),
                        "-o", f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off", "start"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        log = (base / "log").read_text(errors="replace")[-500:] if (base / "log").exists() else ""
        pytest.skip(f"PostgreSQL could not start: {e} {getattr(e, 'stderr', b'')!r} {log}")
    try:
        yield str(sock), port
    finally:
        subprocess.run([*runner, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _new_database(server) -> str:
    import psycopg

    host, port = server
    name = "sipdiag_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"postgresql://postgres@/postgres?host={host}&port={port}", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@/{name}?host={host}&port={port}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """A new, empty case store of each kind."""
    if request.param == "sqlite":
        return str(tmp_path / "cases.db")
    return _new_database(request.getfixturevalue("postgres_server"))
