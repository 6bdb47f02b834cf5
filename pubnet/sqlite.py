"""One way to open, hold and write pubnet's SQLite files.

The alerting database and the status history live in the same kind of file and are used
the same way: the daemon writes, CLI commands read (and for alerting, write) at the same
moment from other processes. So both open with autocommit (transactions are explicit,
:func:`transaction`), WAL so readers never block the writer, ``synchronous=NORMAL``
(durable at each WAL checkpoint, fast enough for a storm) and a 10 s busy timeout before
``database is locked``.
A report opens the history read-only, so a report can never create or change a file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

BUSY_TIMEOUT = 10.0
"""Seconds a statement waits for another process's lock before failing."""
OPEN_ATTEMPTS = 5
OPEN_RETRY_SECONDS = 0.2
"""Opening retries a "database is locked" that skipped the busy handler (see connect)."""


def connect(path: Path, *, schema: str = "", readonly: bool = False,
            check_same_thread: bool = True) -> sqlite3.Connection:
    """Open ``path`` (creating it, its folder and ``schema`` unless ``readonly``).

    Raises FileNotFoundError for a missing read-only file, else sqlite3.Error or OSError.
    """
    if readonly:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such database")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT,
                               isolation_level=None, check_same_thread=check_same_thread)
    else:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None,
                               check_same_thread=check_same_thread)
    try:
        for attempt in range(OPEN_ATTEMPTS):
            try:
                _prepare(conn, schema, readonly)
                break
            except sqlite3.OperationalError as exc:
                # Two components opening one new file at start (alerting and history
                # share pubnet.db) can meet SQLITE_BUSY that skips the busy handler while
                # the WAL is set up; a moment later it is gone.
                if "locked" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(OPEN_RETRY_SECONDS)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on a :func:`connect` connection: ``BEGIN IMMEDIATE`` takes the
    write lock at once (waiting out another process's lock for the busy timeout, instead
    of failing on the first write half-way through), ``COMMIT`` at the end of the block,
    ``ROLLBACK`` when anything is raised in it, cancellation included, or by the commit."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _prepare(conn: sqlite3.Connection, schema: str, readonly: bool) -> None:
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    if schema and not readonly:
        conn.executescript(schema)


class Database:
    """A synchronous handle on one SQLite file; one instance per thread.

    Subclasses implement :meth:`open` (usually :func:`connect` plus their schema) and set
    ``_conn``; this class closes it, makes the handle a context manager and refuses use
    before open.
    """

    what = "database"
    """How error messages name the file (``history database is not open``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def open(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.what} is not open")
        return self._conn
