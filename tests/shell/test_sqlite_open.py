"""Opening a database retries a "database is locked" that SQLite returns without waiting
(two components creating one new file at start), and gives up on anything else; a write
transaction commits its whole block or none of it."""

from __future__ import annotations

import asyncio
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


@pytest.mark.parametrize("error", [KeyError("bug"), asyncio.CancelledError()],
                         ids=["exception", "cancelled"])
def test_a_transaction_commits_its_block_or_rolls_all_of_it_back(
        tmp_path: Path, error: BaseException) -> None:
    conn = sqlite.connect(tmp_path / "t.db", schema="CREATE TABLE t (x INTEGER);")
    with sqlite.transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(type(error)), sqlite.transaction(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        raise error
    assert not conn.in_transaction
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    conn.close()
