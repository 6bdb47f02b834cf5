"""SQLite storage for incidents, the outbox and maintenance windows.

Why SQLite: a restart must lose no open incident and re-send nothing already delivered, and
the CLI (``pubnet alerts ack``, ``pubnet maintenance add``) must work against the same data
while the daemon runs. WAL mode lets the CLI write while the daemon reads; each daemon cycle
writes its incident changes *and* the messages they cause in one transaction, so a message
exists in the outbox before any attempt to send it, and an incident is never recorded as
announced without its messages.

:class:`IncidentDB` is synchronous and must be used from one thread; the daemon wraps it in
:class:`AsyncIncidentDB`, which runs every call on one dedicated worker thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from alerting.model import (
    Ack,
    Incident,
    Kind,
    MaintenanceWindow,
    Outgoing,
    RouteTimer,
    Severity,
    State,
    Status,
)
from pubnet.sqlite import Database, connect, transaction

if TYPE_CHECKING:
    from alerting.digest import GateChanges, GateState

T = TypeVar("T")

BUDGET_MEMORY = 86400.0
"""How long a budgeted send is kept: the longest budget window (``max_per_day``)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    root TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at REAL NOT NULL,
    created_at REAL NOT NULL,
    members TEXT NOT NULL,
    announced_at REAL,
    resolved_at REAL,
    resolved_sent INTEGER NOT NULL DEFAULT 0,
    merged_into TEXT,
    acked_by TEXT,
    acked_at REAL,
    ack_note TEXT,
    maintenance INTEGER NOT NULL DEFAULT 0,
    sequence INTEGER NOT NULL DEFAULT 0,
    timers TEXT NOT NULL DEFAULT '[]',
    routes TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT '',
    province TEXT NOT NULL DEFAULT '',
    district TEXT NOT NULL DEFAULT '',
    site TEXT NOT NULL DEFAULT '',
    affected_devices INTEGER NOT NULL DEFAULT 0,
    affected_sites INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS incidents_state ON incidents(state);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    status TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    payload TEXT NOT NULL,
    province TEXT NOT NULL DEFAULT '',
    district TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at REAL,
    last_error TEXT NOT NULL DEFAULT '',
    UNIQUE (channel, incident_id, status, sequence)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(channel, delivered_at, seq);
CREATE TABLE IF NOT EXISTS maintenance (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS acks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    acked_by TEXT NOT NULL,
    acked_at REAL NOT NULL,
    note TEXT,
    channel TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS acks_incident ON acks(incident_id, acked_at);
CREATE TABLE IF NOT EXISTS chat_events (
    event_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS digest_windows (
    recipient TEXT PRIMARY KEY,
    due REAL,
    firsts TEXT NOT NULL DEFAULT '[]',
    resolves TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS digest_held (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    status TEXT NOT NULL,
    province TEXT NOT NULL,
    district TEXT NOT NULL,
    sites INTEGER NOT NULL,
    cause_th TEXT NOT NULL,
    cause_en TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS digest_held_recipient ON digest_held(recipient, seq);
CREATE TABLE IF NOT EXISTS digest_digested (
    recipient TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    PRIMARY KEY (recipient, incident_id)
);
CREATE TABLE IF NOT EXISTS budget_sent (
    recipient TEXT NOT NULL,
    sent_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS budget_sent_at ON budget_sent(sent_at);
CREATE TABLE IF NOT EXISTS power_evidence (
    incident_id TEXT PRIMARY KEY,
    evidence TEXT NOT NULL
);
"""

SCHEMA_VERSION = 1
"""``PRAGMA user_version`` of a database this code wrote. 0: before the ``acks`` table (an
incident held only its last acknowledgement; :meth:`IncidentDB.open` copies those over)."""

_INCIDENT_COLUMNS = (
    "id, number, kind, severity, root, state, started_at, created_at, members, announced_at, "
    "resolved_at, resolved_sent, merged_into, acked_by, acked_at, ack_note, maintenance, "
    "sequence, timers, routes, detail, province, district, site, affected_devices, "
    "affected_sites, summary"
)

_UPSERT = f"""
INSERT INTO incidents ({_INCIDENT_COLUMNS})
VALUES ({", ".join("?" * 27)})
ON CONFLICT(id) DO UPDATE SET
    kind = excluded.kind, severity = excluded.severity, root = excluded.root,
    state = CASE
        WHEN incidents.acked_at IS NOT NULL AND excluded.state = 'firing' THEN 'acknowledged'
        ELSE excluded.state END,
    started_at = excluded.started_at, members = excluded.members,
    announced_at = excluded.announced_at, resolved_at = excluded.resolved_at,
    resolved_sent = excluded.resolved_sent, merged_into = excluded.merged_into,
    acked_by = CASE WHEN _newer THEN excluded.acked_by ELSE incidents.acked_by END,
    acked_at = CASE WHEN _newer THEN excluded.acked_at ELSE incidents.acked_at END,
    ack_note = CASE WHEN _newer THEN excluded.ack_note ELSE incidents.ack_note END,
    maintenance = excluded.maintenance, sequence = excluded.sequence,
    timers = excluded.timers, routes = excluded.routes, detail = excluded.detail,
    province = excluded.province, district = excluded.district, site = excluded.site,
    affected_devices = excluded.affected_devices, affected_sites = excluded.affected_sites,
    summary = excluded.summary
""".replace(
    # The daemon's copy of an incident may predate an acknowledgement the CLI just wrote:
    # the latest acknowledgement wins, whoever writes the row.
    "_newer",
    "(excluded.acked_at IS NOT NULL AND "
    "(incidents.acked_at IS NULL OR excluded.acked_at > incidents.acked_at))",
)


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """Denormalised fields stored next to an incident for ``pubnet alerts list``."""

    province: str = ""
    district: str = ""
    site: str = ""
    affected_devices: int = 0
    affected_sites: int = 0
    summary: str = ""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    message: Outgoing
    attempts: int


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident as listed by the CLI."""

    incident: Incident
    facts: IncidentFacts


def incident_number(incident_id: str) -> int:
    digits = "".join(ch for ch in incident_id if ch.isdigit())
    return int(digits) if digits else 0


def format_incident_id(number: int) -> str:
    return f"INC-{number}"


class IncidentDB(Database):
    """Synchronous access to the alerting database; one instance per thread."""

    def open(self) -> Self:
        """Open (creating the file and tables if needed). Raises sqlite3.Error, OSError."""
        self._conn = connect(self.path, schema=SCHEMA)
        self._migrate()
        return self

    def _migrate(self) -> None:
        """Bring a database written by an earlier release up to :data:`SCHEMA_VERSION`
        (once, even with the daemon and the CLI opening it at the same moment)."""
        conn = self.conn
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= SCHEMA_VERSION:
            return
        with transaction(conn):
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) < 1:
                # Acknowledgements recorded before there was a history: only the CLI wrote
                # them, and only the last one of each incident is left.
                conn.execute(
                    "INSERT INTO acks (incident_id, acked_by, acked_at, note, channel) "
                    "SELECT id, COALESCE(acked_by, ''), acked_at, ack_note, 'cli' "
                    "FROM incidents WHERE acked_at IS NOT NULL AND id NOT IN "
                    "(SELECT incident_id FROM acks)")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- incidents -----------------------------------------------------------------------

    def max_incident_number(self) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(number), 0) FROM incidents").fetchone()
        return int(row[0])

    def save(
        self,
        incidents: Sequence[tuple[Incident, IncidentFacts]],
        dropped: Iterable[str],
        outgoing: Sequence[Outgoing],
        now: float,
        gate: GateChanges | None = None,
        evidence: Mapping[str, str] | None = None,
    ) -> list[int]:
        """Write incident changes, their messages, what the digest gate decided (``gate``)
        and the evidence of open power incidents (``evidence``, id -> JSON) in one
        transaction; returns outbox seqs of the messages (in order; 0 for a message that was
        already in the outbox)."""
        conn = self.conn
        seqs: list[int] = []
        with transaction(conn):
            conn.executemany(_UPSERT, [_incident_params(i, f) for i, f in incidents])
            dropped = list(dropped)
            if dropped:
                conn.executemany(
                    "DELETE FROM incidents WHERE id = ? AND announced_at IS NULL",
                    [(d,) for d in dropped],
                )
            for msg in outgoing:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO outbox (channel, incident_id, status, sequence, "
                    "payload, province, district, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (msg.channel, msg.incident_id, msg.status.value, msg.sequence, msg.payload,
                     msg.topic_hint[0], msg.topic_hint[1], now),
                )
                seqs.append(int(cur.lastrowid or 0) if cur.rowcount else 0)
            if gate:
                self._save_gate(gate, now)
            if evidence:
                conn.executemany(
                    "INSERT INTO power_evidence (incident_id, evidence) VALUES (?, ?) "
                    "ON CONFLICT(incident_id) DO UPDATE SET evidence = excluded.evidence",
                    list(evidence.items()))
        return seqs

    def _save_gate(self, gate: GateChanges, now: float) -> None:
        """The digest gate's changes, in order (inside :meth:`save`'s transaction)."""
        from alerting.digest import Held, Spent, Summarised

        conn = self.conn
        for change in gate.changes:
            if isinstance(change, Held):
                m = change.message
                conn.execute(
                    "INSERT INTO digest_held (recipient, incident_id, status, province, "
                    "district, sites, cause_th, cause_en) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (change.recipient, m.incident_id, m.status.value, m.province, m.district,
                     m.sites, m.cause_th, m.cause_en))
                if m.status is Status.RESOLVED:
                    conn.execute("DELETE FROM digest_digested WHERE recipient = ? AND "
                                 "incident_id = ?", (change.recipient, m.incident_id))
            elif isinstance(change, Summarised):
                conn.execute("DELETE FROM digest_held WHERE recipient = ?", (change.recipient,))
                conn.executemany(
                    "INSERT OR IGNORE INTO digest_digested (recipient, incident_id) "
                    "VALUES (?, ?)", [(change.recipient, i) for i in change.digested])
            elif isinstance(change, Spent):
                conn.execute("INSERT INTO budget_sent (recipient, sent_at) VALUES (?, ?)",
                             (change.recipient, change.at))
        conn.executemany(
            "INSERT INTO digest_windows (recipient, due, firsts, resolves) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(recipient) DO UPDATE SET due = excluded.due, "
            "firsts = excluded.firsts, resolves = excluded.resolves",
            [(w.recipient, w.due, json.dumps(w.firsts), json.dumps(w.resolves))
             for w in gate.windows.values()])
        conn.execute("DELETE FROM budget_sent WHERE sent_at <= ?", (now - BUDGET_MEMORY,))

    def load_gate(self, now: float) -> GateState:
        """What the digest gate held, summarised and spent (:meth:`Gate.restore`); first
        forgets the summarised incidents that are over (nothing of theirs is to come)."""
        from alerting.digest import GateState, Held, HeldMessage, Windows

        conn = self.conn
        conn.execute(
            "DELETE FROM digest_digested WHERE incident_id NOT IN (SELECT id FROM incidents "
            "WHERE state != 'resolved' OR (announced_at IS NOT NULL AND resolved_sent = 0))")
        state = GateState()
        for recipient, due, firsts, resolves in conn.execute(
                "SELECT recipient, due, firsts, resolves FROM digest_windows"):
            state.windows.append(Windows(recipient, due, tuple(json.loads(firsts)),
                                         tuple(json.loads(resolves))))
        for r in conn.execute(
                "SELECT recipient, incident_id, status, province, district, sites, cause_th, "
                "cause_en FROM digest_held ORDER BY seq"):
            message = HeldMessage(incident_id=r[1], status=Status(r[2]), province=r[3],
                                  district=r[4], sites=int(r[5]), cause_th=r[6],
                                  cause_en=r[7])
            state.held.append(Held(r[0], message))
        for recipient, incident_id in conn.execute(
                "SELECT recipient, incident_id FROM digest_digested"):
            state.digested.setdefault(recipient, set()).add(incident_id)
        for recipient, at in conn.execute(
                "SELECT recipient, sent_at FROM budget_sent WHERE sent_at > ? "
                "ORDER BY sent_at", (now - BUDGET_MEMORY,)):
            state.sent.setdefault(recipient, []).append(float(at))
        return state

    def power_evidence(self) -> dict[str, str]:
        """The saved evidence of power incidents still open (id -> JSON)."""
        rows = self.conn.execute(
            "SELECT e.incident_id, e.evidence FROM power_evidence e JOIN incidents i "
            "ON i.id = e.incident_id WHERE i.state != 'resolved'").fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def load_live(self) -> list[Incident]:
        """Open incidents, and closed ones whose resolved message has not gone out yet."""
        rows = self.conn.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE state != 'resolved' "
            "OR (announced_at IS NOT NULL AND resolved_sent = 0) ORDER BY number"
        ).fetchall()
        return [_incident_from_row(r) for r in rows]

    def get(self, incident_id: str) -> IncidentRow | None:
        row = self.conn.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        return None if row is None else IncidentRow(_incident_from_row(row), _facts(row))

    def list_incidents(self, state: State | None = None, limit: int = 1000) -> list[IncidentRow]:
        """Incidents shown to people (never ``pending``), newest first."""
        if state is None:
            rows = self.conn.execute(
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE state != 'pending' "
                "ORDER BY number DESC LIMIT ?", (limit,)).fetchall()
        else:
            rows = self.conn.execute(
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE state = ? "
                "ORDER BY number DESC LIMIT ?", (state.value, limit)).fetchall()
        return [IncidentRow(_incident_from_row(r), _facts(r)) for r in rows]

    def acknowledge(self, incident_id: str, by: str, note: str | None, now: float,
                    channel: str = "cli", event_id: str | None = None) -> str:
        """Record an acknowledgement; returns ``ok``, ``unknown``, ``closed`` or, when
        ``event_id`` (a chat webhook's event id) was seen before, ``replayed``.

        Every acknowledgement is kept (:meth:`acks`); the incident row shows the latest.
        The daemon picks it up within a tick and stops repeats and escalation. The event id
        is recorded in the same transaction, so a redelivered event is applied once.
        """
        conn = self.conn
        with transaction(conn):
            row = conn.execute("SELECT state FROM incidents WHERE id = ?",
                               (incident_id,)).fetchone()
            if event_id is not None and conn.execute(
                    "INSERT OR IGNORE INTO chat_events (event_id, received_at) VALUES (?, ?)",
                    (event_id, now)).rowcount == 0:
                result = "replayed"
            elif row is None:
                result = "unknown"
            elif row[0] == State.RESOLVED.value:
                result = "closed"
            else:
                conn.execute(
                    "UPDATE incidents SET acked_by = ?, acked_at = ?, ack_note = ?, "
                    "state = CASE WHEN state = 'firing' THEN 'acknowledged' ELSE state END "
                    "WHERE id = ?",
                    (by, now, note, incident_id),
                )
                conn.execute(
                    "INSERT INTO acks (incident_id, acked_by, acked_at, note, channel) "
                    "VALUES (?, ?, ?, ?, ?)", (incident_id, by, now, note, channel))
                result = "ok"
        return result

    def acks(self, incident_id: str) -> list[Ack]:
        """Every acknowledgement of an incident, oldest first."""
        return self.acks_of([incident_id]).get(incident_id, [])

    def acks_of(self, incident_ids: Sequence[str]) -> dict[str, list[Ack]]:
        """Acknowledgements of several incidents (oldest first), by incident id."""
        found: dict[str, list[Ack]] = {}
        ids = list(dict.fromkeys(incident_ids))
        for start in range(0, len(ids), 500):  # well under SQLite's variable limit
            chunk = ids[start:start + 500]
            rows = self.conn.execute(
                "SELECT incident_id, acked_by, acked_at, note, channel FROM acks "
                f"WHERE incident_id IN ({', '.join('?' * len(chunk))}) ORDER BY acked_at, id",
                chunk).fetchall()
            for r in rows:
                found.setdefault(str(r[0]), []).append(
                    Ack(str(r[1]), float(r[2]), r[3], str(r[4])))
        return found

    def acknowledgements(self) -> list[tuple[str, str, float, str | None, str]]:
        """(id, by, at, note, channel) of the latest acknowledgement of each open incident
        that has one; the channel (``cli``, ``web``, ``line``, ``telegram``) from its
        history, ``cli`` for one recorded before there was a history."""
        rows = self.conn.execute(
            "SELECT id, acked_by, acked_at, ack_note, (SELECT channel FROM acks "
            "WHERE acks.incident_id = incidents.id ORDER BY acked_at DESC, acks.id DESC "
            "LIMIT 1) FROM incidents WHERE state != 'resolved' AND acked_at IS NOT NULL"
        ).fetchall()
        return [(str(r[0]), str(r[1]), float(r[2]), r[3], str(r[4] or "cli")) for r in rows]

    # -- outbox --------------------------------------------------------------------------

    def undelivered(self, channel: str | None = None) -> list[OutboxRow]:
        """Messages not yet accepted, oldest first (per channel order is by ``seq``)."""
        sql = ("SELECT seq, channel, incident_id, status, sequence, payload, province, "
               "district, attempts FROM outbox WHERE delivered_at IS NULL")
        params: tuple[Any, ...] = ()
        if channel is not None:
            sql += " AND channel = ?"
            params = (channel,)
        rows = self.conn.execute(sql + " ORDER BY seq", params).fetchall()
        return [
            OutboxRow(
                int(r[0]),
                Outgoing(r[1], r[2], Status(r[3]), int(r[4]), r[5], (r[6], r[7])),
                int(r[8]),
            )
            for r in rows
        ]

    def mark_delivered(self, seq: int, now: float, attempts: int) -> None:
        self.conn.execute(
            "UPDATE outbox SET delivered_at = ?, attempts = ?, last_error = '' WHERE seq = ?",
            (now, attempts, seq),
        )

    def mark_failed(self, seq: int, attempts: int, error: str) -> None:
        self.conn.execute(
            "UPDATE outbox SET attempts = ?, last_error = ? WHERE seq = ?",
            (attempts, error[:500], seq),
        )

    def outbox(self) -> list[tuple[int, str, str, str, int, float | None, int]]:
        """(seq, channel, incident, status, sequence, delivered_at, attempts), for tests/CLI."""
        rows = self.conn.execute(
            "SELECT seq, channel, incident_id, status, sequence, delivered_at, attempts "
            "FROM outbox ORDER BY seq"
        ).fetchall()
        return [(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5], int(r[6])) for r in rows]

    # -- maintenance ---------------------------------------------------------------------

    def add_maintenance(self, scope: str, starts_at: float, ends_at: float, note: str,
                        created_by: str, now: float) -> int:
        cur = self.conn.execute(
            "INSERT INTO maintenance (scope, starts_at, ends_at, note, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (scope, starts_at, ends_at, note, created_by, now),
        )
        return int(cur.lastrowid or 0)

    def end_maintenance(self, window_id: int, now: float) -> MaintenanceWindow | None:
        """End a window at ``now`` (one not started yet never starts); the row stays for the
        record. None when there is no such window."""
        self.conn.execute(
            "UPDATE maintenance SET ends_at = MAX(MIN(ends_at, ?), starts_at) WHERE id = ?",
            (now, window_id))
        row = self.conn.execute(
            "SELECT id, scope, starts_at, ends_at, note, created_by FROM maintenance "
            "WHERE id = ?", (window_id,)).fetchone()
        if row is None:
            return None
        return MaintenanceWindow(int(row[0]), row[1], float(row[2]), float(row[3]), row[4],
                                 row[5])

    def maintenance_windows(self, not_ended_before: float | None = None) -> (
        list[MaintenanceWindow]
    ):
        sql = "SELECT id, scope, starts_at, ends_at, note, created_by FROM maintenance"
        params: tuple[Any, ...] = ()
        if not_ended_before is not None:
            sql += " WHERE ends_at > ? AND ends_at > starts_at"  # not ended, not cancelled
            params = (not_ended_before,)
        rows = self.conn.execute(sql + " ORDER BY starts_at, id", params).fetchall()
        return [MaintenanceWindow(int(r[0]), r[1], float(r[2]), float(r[3]), r[4], r[5])
                for r in rows]


def _incident_params(inc: Incident, facts: IncidentFacts) -> tuple[Any, ...]:
    return (
        inc.incident_id, incident_number(inc.incident_id), inc.kind.value, inc.severity.value,
        inc.root, inc.state.value, inc.started_at, inc.created_at,
        json.dumps(sorted(inc.members)), inc.announced_at, inc.resolved_at,
        int(inc.resolved_sent), inc.merged_into, inc.acked_by, inc.acked_at, inc.ack_note,
        int(inc.maintenance), inc.sequence,
        json.dumps([[t.route, t.last_sent_at, t.escalated_at, t.escalations]
                    for t in inc.timers]),
        json.dumps(list(inc.routes)), inc.detail, facts.province, facts.district, facts.site,
        facts.affected_devices, facts.affected_sites, facts.summary,
    )


def _incident_from_row(r: Sequence[Any]) -> Incident:
    return Incident(
        incident_id=r[0], kind=Kind(r[2]), severity=Severity(r[3]), root=r[4],
        state=State(r[5]), started_at=float(r[6]), created_at=float(r[7]),
        members=frozenset(json.loads(r[8])), announced_at=r[9], resolved_at=r[10],
        resolved_sent=bool(r[11]), merged_into=r[12], acked_by=r[13], acked_at=r[14],
        ack_note=r[15], maintenance=bool(r[16]), sequence=int(r[17]),
        timers=tuple(_timer(t) for t in json.loads(r[18])),
        routes=tuple(int(x) for x in json.loads(r[19])), detail=r[20],
    )


def _facts(r: Sequence[Any]) -> IncidentFacts:
    return IncidentFacts(r[21], r[22], r[23], int(r[24]), int(r[25]), r[26])


class AsyncIncidentDB:
    """Runs an :class:`IncidentDB` on one dedicated thread; ``async with`` opens/closes it."""

    def __init__(self, path: Path | str) -> None:
        self._db = IncidentDB(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerting-db")

    async def __aenter__(self) -> AsyncIncidentDB:
        await self.call(self._db.open)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.shield(self.call(self._db.close))
        finally:
            self._executor.shutdown(wait=False)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.submit(fn, *args)

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on the database's thread, after everything submitted before it: a
        future, for a caller that does not wait for the write (a delivery's bookkeeping)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    @property
    def sync(self) -> IncidentDB:
        """The underlying database, to pass bound methods to :meth:`call`."""
        return self._db


def _timer(t: list[Any]) -> RouteTimer:
    """A stored route timer; rows written before escalation steps were counted hold three
    fields (one step if it escalated)."""
    steps = int(t[3]) if len(t) > 3 else int(t[2] is not None)
    return RouteTimer(int(t[0]), float(t[1]), t[2], steps)
