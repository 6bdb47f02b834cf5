"""Opening a database retries a "database is locked" that SQLite returns without waiting
(two components creating one new file at start), and gives up on anything else."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pubnet import sqlite


def test_a_locked_open_is_retried_and_other_errors_are_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = sqlite._prepare
    failures = [sqlite3.OperationalError("database is locked")] * 2
    monkeypatch.setattr(sqlite, "OPEN_RETRY_SECONDS", 0.0)

    def flaky(conn: sqlite3.Connection, schema: str, readonly: bool) -> None:
        if failures:
            raise failures.pop()
        real(conn, schema, readonly)

    monkeypatch.setattr(sqlite, "_prepare", flaky)
    conn = sqlite.connect(tmp_path / "a.db", schema="CREATE TABLE t (x INTEGER);")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()

    def broken(conn: sqlite3.Connection, schema: str, readonly: bool) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite, "_prepare", broken)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        sqlite.connect(tmp_path / "b.db")
