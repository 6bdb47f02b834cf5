"""The status history in SQLite: what changed when, when pubnet was watching, daily rollups.

It lives in the alerting database (``alerting.database``, default ``pubnet.db``) beside
incidents and maintenance windows, so a report joins them without a second store and one
backup keeps everything a planner needs. Four tables:

* ``history_changes``: one row per status change of a device, site or backbone link --
  ``kind``, ``element`` (the id), ``from_status``, ``to_status``, ``at`` (Unix seconds) and
  ``incident``, the id of the incident that covered the element at that moment, if alerting
  had one. Devices keep their poll status (``ok``, ``timeout``, ...), sites and links the
  derived ``up``/``down``/``unknown`` of :mod:`pubnet.derive`.
* ``history_runs``: pubnet's own running intervals. A run ends at ``stopped_at`` on a clean
  stop, else at ``last_at``, the heartbeat the recorder writes every few seconds, so time
  when pubnet was not watching (a crash, a kill -9, the machine off) counts as unmonitored,
  never as up or down. A status holds only inside the run it was recorded in.
* ``history_first_seen``: when each element was first recorded (for sites commissioned
  during a period) without scanning the changes.
* ``history_daily`` and ``history_rollup_days``: per-site figures of one Bangkok day,
  built once the day is over, so a month's report reads 31 small rows per site rather
  than every change. A day's rollup remembers the maintenance windows it was built with
  (``maintenance_key``); a window added or ended later makes the report recompute that day
  from the changes. ``down_power`` (issue 16) came later: a database from before it gets
  the column when opened writable, and its rollups of days a ``power`` incident overlapped
  are dropped (they counted that time as equipment or upstream) to be rebuilt; opened
  read-only, such days are recomputed from the changes and the others read with no power
  time, which is what they had.

:class:`HistoryDB` is synchronous and must be used from one thread (the recorder runs it
on a dedicated writer thread). Writes are one transaction per batch in WAL mode with
``synchronous=NORMAL``: a committed batch survives the process being killed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from dashboards.reports.timeline import SUMMED, summed
from pubnet.sqlite import Database, connect, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS history_changes (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    element TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    at REAL NOT NULL,
    incident TEXT
);
CREATE INDEX IF NOT EXISTS history_changes_kind_at ON history_changes(kind, at);
CREATE INDEX IF NOT EXISTS history_changes_element ON history_changes(kind, element, at);
CREATE TABLE IF NOT EXISTS history_runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    last_at REAL NOT NULL,
    stopped_at REAL,
    version TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS history_first_seen (
    kind TEXT NOT NULL,
    element TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (kind, element)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_daily (
    day TEXT NOT NULL,
    site TEXT NOT NULL,
    monitored REAL NOT NULL,
    maintenance REAL NOT NULL,
    up REAL NOT NULL,
    down_equipment REAL NOT NULL,
    down_upstream REAL NOT NULL,
    down_unknown REAL NOT NULL,
    outages INTEGER NOT NULL,
    continued INTEGER NOT NULL,
    incidents TEXT NOT NULL,
    down_power REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, site)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_rollup_days (
    day TEXT PRIMARY KEY,
    maintenance_key TEXT NOT NULL,
    built_at REAL NOT NULL
);
"""

STATUS_UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One status change as stored."""

    kind: str
    element: str
    from_status: str
    to_status: str
    at: float
    incident: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """One interval pubnet was watching: ``[started_at, end)``."""

    started_at: float
    end: float


@dataclass(frozen=True, slots=True)
class DailyRow:
    """One site's figures over one day (see :class:`dashboards.reports.timeline.SiteTime`);
    the seconds last, in :data:`~dashboards.reports.timeline.SUMMED` order."""

    day: str
    site: str
    outages: int
    continued: bool
    incidents: tuple[str, ...]
    monitored: float
    maintenance: float
    up: float
    down_equipment: float
    down_upstream: float
    down_unknown: float
    down_power: float


@dataclass(frozen=True, slots=True)
class IncidentSpan:
    """An incident as the history needs it: what it covered and when."""

    incident_id: str
    root: str
    members: frozenset[str]
    started_at: float
    resolved_at: float | None
    kind: str = ""
    """Alerting's incident kind (``site_down``, ``power``, ...): a ``power`` incident makes
    its members' down time a power cut, whatever its root."""


def maintenance_key(windows: Iterable[tuple[int, str, float, float]]) -> str:
    """A fingerprint of maintenance windows (id, scope, start, end): a rollup built with
    other windows than the database holds now is stale."""
    digest = hashlib.sha256()
    for window in sorted(windows):
        digest.update(repr(window).encode())
    return digest.hexdigest()[:32]


INCIDENT_RESOLVED_INDEX = "history_incidents_resolved_at"
COVERING_INCIDENTS = (
    "SELECT id, members FROM incidents WHERE state < 'resolved' OR state > 'resolved' "
    "OR resolved_at >= ? ORDER BY started_at")
"""Open incidents and those resolved since ``?`` (see :meth:`HistoryDB.covering_incidents`)."""
POWER_KIND = "power"
"""Alerting's ``Kind.POWER`` as stored (components do not import each other)."""


class HistoryDB(Database):
    """Synchronous access to the history tables; one instance per thread."""

    what = "history database"

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        super().__init__(path)
        self.readonly = readonly
        self._incident_index = False
        self._daily_power = True
        """Whether ``history_daily`` has ``down_power`` (a read-only legacy file has not)."""

    def open(self) -> Self:
        """Open, creating the file and tables when writable. Raises sqlite3.Error, OSError."""
        self._conn = connect(self.path, schema=SCHEMA, readonly=self.readonly,
                             check_same_thread=self.readonly)
        self._daily_power = self._has_column("history_daily", "down_power")
        if not self._daily_power and not self.readonly:
            self._add_power_column()
        return self

    def _has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` has ``column`` (true when the table does not exist yet: it
        will be created with it)."""
        names = {str(r[1]) for r in self.conn.execute(f"PRAGMA table_info({table})")}
        return not names or column in names

    def _add_power_column(self) -> None:
        """Migrate a database from before ``down_power`` (module docstring)."""
        conn = self.conn
        with transaction(conn):
            if not self._has_column("history_daily", "down_power"):  # another process?
                stale = sorted(self._power_days())
                conn.executemany("DELETE FROM history_daily WHERE day = ?",
                                 [(d,) for d in stale])
                conn.executemany("DELETE FROM history_rollup_days WHERE day = ?",
                                 [(d,) for d in stale])
                conn.execute("ALTER TABLE history_daily ADD COLUMN down_power REAL NOT NULL "
                             "DEFAULT 0")
        self._daily_power = True

    def _power_days(self) -> set[str]:
        """Bangkok days some ``power`` incident overlapped (an open one: up to today)."""
        if not self._table_exists("incidents"):
            return set()
        import time

        from dashboards.reports.period import days

        found: set[str] = set()
        for started, resolved in self.conn.execute(
                "SELECT started_at, resolved_at FROM incidents WHERE kind = ?", (POWER_KIND,)):
            end = time.time() if resolved is None else float(resolved)
            found.update(d.day for d in days(float(started), max(end, float(started) + 1.0)))
        return found

    def has_history(self) -> bool:
        """Whether the history tables exist (a database from before the recorder has none)."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='history_changes'"
        ).fetchone()
        return bool(row[0])

    # -- writing -------------------------------------------------------------------------

    def start_run(self, now: float, version: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO history_runs (started_at, last_at, version) VALUES (?, ?, ?)",
            (now, now, version))
        return int(cur.lastrowid or 0)

    def write(self, changes: Sequence[ChangeRow], run_id: int | None, now: float) -> None:
        """Store a batch of changes and the run's heartbeat in one transaction."""
        conn = self.conn
        with transaction(conn):
            if changes:
                conn.executemany(
                    "INSERT INTO history_changes (kind, element, from_status, to_status, at, "
                    "incident) VALUES (?, ?, ?, ?, ?, ?)",
                    [(c.kind, c.element, c.from_status, c.to_status, c.at, c.incident)
                     for c in changes])
                conn.executemany(
                    "INSERT OR IGNORE INTO history_first_seen (kind, element, at) "
                    "VALUES (?, ?, ?)",
                    [(c.kind, c.element, c.at) for c in changes
                     if c.to_status != STATUS_UNKNOWN])
            if run_id is not None:
                conn.execute("UPDATE history_runs SET last_at = MAX(last_at, ?) WHERE id = ?",
                             (now, run_id))

    def stop_run(self, run_id: int, now: float) -> None:
        self.conn.execute("UPDATE history_runs SET last_at = MAX(last_at, ?), stopped_at = ? "
                          "WHERE id = ?", (now, now, run_id))

    def expire(self, before: float, chunk: int = 20_000) -> int:
        """Delete what is older than ``before`` (the retention), in chunks so a writer
        waiting for the database never waits long. Returns the changes deleted.

        A change older than ``before`` is deleted only once a later change of the same
        element, also older, supersedes it: the last one is still the element's status at
        ``before`` while the run that recorded it goes on (a site up without a break for
        longer than the retention would otherwise become "never seen"). One row per element
        is kept at most."""
        conn = self.conn
        deleted = 0
        while True:
            cur = conn.execute(
                "DELETE FROM history_changes WHERE id IN (SELECT c.id FROM history_changes c "
                "WHERE c.kind IN ('device', 'site', 'link') AND c.at < ?1 AND EXISTS ("
                "SELECT 1 FROM history_changes n WHERE n.kind = c.kind "
                "AND n.element = c.element AND n.at < ?1 "
                "AND (n.at > c.at OR (n.at = c.at AND n.id > c.id))) LIMIT ?2)",
                (before, chunk))
            deleted += cur.rowcount
            if cur.rowcount < chunk:
                break
        conn.execute("DELETE FROM history_runs WHERE stopped_at IS NOT NULL AND stopped_at < ?",
                     (before,))
        conn.execute("DELETE FROM history_runs WHERE stopped_at IS NULL AND last_at < ?",
                     (before,))
        from dashboards.reports.period import day_of

        first_day = day_of(before)
        conn.execute("DELETE FROM history_daily WHERE day < ?", (first_day,))
        conn.execute("DELETE FROM history_rollup_days WHERE day < ?", (first_day,))
        return deleted

    def save_rollup(self, day: str, key: str, rows: Sequence[DailyRow], now: float) -> None:
        conn = self.conn
        with transaction(conn):
            conn.execute("DELETE FROM history_daily WHERE day = ?", (day,))
            conn.executemany(
                f"INSERT INTO history_daily (day, site, outages, continued, incidents, "
                f"{', '.join(SUMMED)}) VALUES ({', '.join('?' * (5 + len(SUMMED)))})",
                [(r.day, r.site, r.outages, int(r.continued), ",".join(r.incidents),
                  *summed(r)) for r in rows])
            conn.execute("INSERT OR REPLACE INTO history_rollup_days (day, maintenance_key, "
                         "built_at) VALUES (?, ?, ?)", (day, key, now))

    # -- reading -------------------------------------------------------------------------

    def runs(self, start: float, end: float, now: float, heartbeat: float) -> list[Run]:
        """Runs overlapping ``[start, end)``, oldest first. A run without ``stopped_at``
        whose heartbeat is recent is still going (it ends at ``now``); an older one was
        killed and ends at its last heartbeat."""
        rows = self.conn.execute(
            "SELECT started_at, last_at, stopped_at FROM history_runs WHERE started_at < ? "
            "ORDER BY started_at", (end,)).fetchall()
        runs = []
        for started, last, stopped in rows:
            if stopped is not None:
                run_end = float(stopped)
            elif float(last) >= now - 3 * heartbeat:
                run_end = now
            else:
                run_end = float(last)
            if run_end > started and run_end > start:
                runs.append(Run(float(started), run_end))
        return runs

    def any_changes(self, kind: str) -> bool:
        return self.conn.execute("SELECT 1 FROM history_changes WHERE kind = ? LIMIT 1",
                                 (kind,)).fetchone() is not None

    def changes(self, kind: str, start: float, end: float) -> Iterator[tuple[str, str, float]]:
        """(element, to_status, at) of ``kind`` in ``[start, end)``, by element then time."""
        cur = self.conn.execute(
            "SELECT element, to_status, at FROM history_changes WHERE kind = ? AND at >= ? "
            "AND at < ? ORDER BY element, at, id", (kind, start, end))
        while True:
            rows = cur.fetchmany(50_000)
            if not rows:
                return
            yield from rows

    def status_before(self, kind: str, elements: Iterable[str], at: float, since: float) -> (
        dict[str, tuple[str, float]]
    ):
        """Each element's last (status, time) before ``at`` but not before ``since`` (the
        start of the run ``at`` is in: older statuses no longer hold)."""
        found: dict[str, tuple[str, float]] = {}
        cur = self.conn.cursor()
        sql = ("SELECT to_status, at FROM history_changes WHERE kind = ? AND element = ? "
               "AND at < ? AND at >= ? ORDER BY at DESC, id DESC LIMIT 1")
        for element in elements:
            row = cur.execute(sql, (kind, element, at, since)).fetchone()
            if row is not None:
                found[element] = (str(row[0]), float(row[1]))
        return found

    def first_seen(self, kind: str) -> dict[str, float]:
        return {str(e): float(a) for e, a in self.conn.execute(
            "SELECT element, at FROM history_first_seen WHERE kind = ?", (kind,))}

    def rollup_days(self, days: Sequence[str]) -> dict[str, str]:
        """day → maintenance_key of the rollups that exist among ``days`` (on a read-only
        legacy file, not those of days a power incident overlapped: module docstring)."""
        if not days:
            return {}
        rows = self.conn.execute(
            "SELECT day, maintenance_key FROM history_rollup_days WHERE day >= ? AND day <= ?",
            (min(days), max(days))).fetchall()
        wanted = set(days)
        if not self._daily_power:
            wanted -= self._power_days()
        return {str(d): str(k) for d, k in rows if d in wanted}

    def daily_rows(self, days: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """(day, site, outages, continued, incidents, then the seconds in
        :data:`~dashboards.reports.timeline.SUMMED` order) of ``days``, as stored (fast
        path)."""
        if not days:
            return
        wanted = set(days)
        seconds = ", ".join(name if name != "down_power" or self._daily_power else "0.0"
                            for name in SUMMED)
        cur = self.conn.execute(
            f"SELECT day, site, outages, continued, incidents, {seconds} FROM history_daily "
            "WHERE day >= ? AND day <= ?", (min(days), max(days)))
        while True:
            rows = cur.fetchmany(50_000)
            if not rows:
                return
            for row in rows:
                if row[0] in wanted:
                    yield row

    def daily(self, days: Sequence[str]) -> Iterator[DailyRow]:
        """The rows of :meth:`daily_rows` as :class:`DailyRow` values."""
        for r in self.daily_rows(days):
            yield DailyRow(r[0], r[1], r[2], bool(r[3]), tuple(r[4].split(",")) if r[4] else (),
                           *r[5:])

    # -- alerting's tables (same database) ---------------------------------------------

    def _table_exists(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                 (name,)).fetchone() is not None

    def covering_incidents(self, since: float) -> dict[str, str]:
        """Element (``device:<id>``, ``site:<id>``, ...) → id of the incident covering it:
        the open incidents and those resolved at or after ``since``, later ones winning.

        The recorder asks at every flush, and alerting never deletes incidents, so this must
        not scan the table: ``state != 'resolved'`` is asked as two ranges of alerting's
        state index, and resolution times get an index of their own (created here, once,
        on a writable connection: alerting itself never looks incidents up by it). With
        500,000 incidents: 50 ms a flush scanning, 0.02 ms with the indexes."""
        if not self._table_exists("incidents"):
            return {}
        if not self._incident_index and not self.readonly:
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {INCIDENT_RESOLVED_INDEX} "
                              "ON incidents(resolved_at)")
            self._incident_index = True
        import json

        found: dict[str, str] = {}
        for incident_id, members in self.conn.execute(COVERING_INCIDENTS, (since,)):
            for element in json.loads(members):
                found[element] = str(incident_id)
        return found

    def incidents(self, start: float, end: float) -> list[IncidentSpan]:
        """Incidents that were open at some moment of ``[start, end)``."""
        if not self._table_exists("incidents"):
            return []
        import json

        rows = self.conn.execute(
            "SELECT id, root, members, started_at, resolved_at, kind FROM incidents "
            "WHERE started_at < ? AND (resolved_at IS NULL OR resolved_at > ?) "
            "ORDER BY started_at, number", (end, start)).fetchall()
        named = self._named_members(start, end)
        return [IncidentSpan(str(r[0]), str(r[1]),
                             frozenset(json.loads(r[2])) | named.get(str(r[0]), frozenset()),
                             float(r[3]), None if r[4] is None else float(r[4]), str(r[5]))
                for r in rows]

    def _named_members(self, start: float, end: float) -> dict[str, frozenset[str]]:
        """Incident id → the elements whose recorded changes in ``[start, end)`` it covered.

        Alerting stores an incident's members as they are at its last save: only what is
        still down. A site that came back early from a large outage (a power cut ending
        village by village) has left the list, but its recovery row here names the
        incident that covered it, so its outage keeps its cause."""
        named: dict[str, set[str]] = {}
        for incident, kind, element in self.conn.execute(
                "SELECT incident, kind, element FROM history_changes WHERE kind IN "
                "('device', 'site') AND at >= ? AND at < ? AND incident IS NOT NULL",
                (start, end)):
            named.setdefault(str(incident), set()).add(f"{kind}:{element}")
        return {incident: frozenset(elements) for incident, elements in named.items()}

    def maintenance(self, start: float, end: float) -> list[tuple[int, str, float, float]]:
        """(id, scope, starts_at, ends_at) of windows overlapping ``[start, end)``."""
        if not self._table_exists("maintenance"):
            return []
        rows = self.conn.execute(
            "SELECT id, scope, starts_at, ends_at FROM maintenance WHERE starts_at < ? "
            "AND ends_at > ? AND ends_at > starts_at ORDER BY starts_at, id",
            (end, start)).fetchall()
        return [(int(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]
