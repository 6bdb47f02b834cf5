"""Both SQLite files open the one way (pubnet.sqlite): WAL and a busy timeout for the daemon
and the CLI side by side, and a report's read-only handle can neither create nor write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from alerting.db import IncidentDB
from dashboards.reports.history import HistoryDB
from pubnet.sqlite import Database


@pytest.mark.parametrize("kind", [IncidentDB, HistoryDB], ids=["incidents", "history"])
def test_writable_files_are_wal_with_a_busy_timeout(tmp_path: Path,
                                                    kind: type[Database]) -> None:
    path = tmp_path / "state" / "pubnet.db"
    with kind(path) as db:
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
        assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert path.is_file()


@pytest.mark.parametrize("kind", [IncidentDB, HistoryDB], ids=["incidents", "history"])
def test_a_closed_handle_says_so(tmp_path: Path, kind: type[Database]) -> None:
    db = kind(tmp_path / "pubnet.db")
    with pytest.raises(RuntimeError, match="database is not open"):
        _ = db.conn
    with db:
        pass
    with pytest.raises(RuntimeError, match="database is not open"):
        _ = db.conn


def test_a_read_only_history_neither_creates_nor_writes(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(FileNotFoundError, match=r"none\.db: no such database"):
        HistoryDB(missing, readonly=True).open()
    assert not missing.exists()
    path = tmp_path / "pubnet.db"
    with HistoryDB(path):
        pass
    with HistoryDB(path, readonly=True) as history:
        assert history.has_history()
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            history.conn.execute("DELETE FROM history_changes")
