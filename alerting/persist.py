"""Alerting's persistence: what the cycle decided goes to SQLite before any channel sees it.

:class:`Persistence` wraps the :class:`~alerting.db.AsyncIncidentDB` for the alerting loop:
the state to resume from at start, the acknowledgements and maintenance windows the CLI
writes (read back every tick), and one transaction per cycle for the changed incidents, the
pending incidents dropped and the messages queued. A database that is locked or damaged
never stops alerting: a failed write keeps everything for the next cycle (nothing is handed
to a channel before it is in the outbox, and nothing decided is lost), a failed read keeps
the previous windows; each episode is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alerting.db import AsyncIncidentDB, IncidentFacts, OutboxRow
from alerting.digest import Gate, GateChanges
from alerting.model import Incident, Kind, MaintenanceWindow, Outgoing
from alerting.power import PowerCuts
from pubnet.failures import FailureLog

log = logging.getLogger("pubnet.alerting")

Records = list[tuple[Incident, IncidentFacts]]


@dataclass(frozen=True, slots=True)
class Resumed:
    """What a restart resumes from."""

    last_number: int
    live: list[Incident]
    windows: list[MaintenanceWindow]


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    incident_id: str
    by: str
    at: float
    note: str | None
    channel: str = "cli"


class Persistence:
    """The alerting loop's database (see the module docstring)."""

    def __init__(self, db: AsyncIncidentDB, database: Path | str,
                 gate: Gate | None = None, power: PowerCuts | None = None) -> None:
        self.db = db
        self.database = database
        self.gate = gate
        """Its held messages, digests and budgets are saved with each cycle, restored at
        :meth:`resume`."""
        self._unsaved_gate = GateChanges()
        self.power = power
        """Its evidence is saved with each power incident, preloaded at :meth:`resume`."""
        self.dirty: set[str] = set()
        """Incidents changed outside a cycle's reconcile (an acknowledgement) or not yet
        written (a failed save): the next cycle steps and writes them."""
        self._unsaved_dropped: list[str] = []
        self._unsaved_outgoing: list[Outgoing] = []
        self._save_failures = FailureLog(
            log, "cannot write the alerting database, will retry",
            "alerting database writable again", level=logging.ERROR, database=str(database))
        self._reload_failures = FailureLog(log, "cannot read acknowledgements/maintenance",
                                           database=str(database))

    async def resume(self, now: float) -> Resumed:
        db = self.db
        if self.gate is not None:
            self.gate.restore(await db.call(db.sync.load_gate, now))
        if self.power is not None:
            self.power.preload(await db.call(db.sync.power_evidence))
        return Resumed(await db.call(db.sync.max_incident_number),
                       await db.call(db.sync.load_live),
                       await db.call(db.sync.maintenance_windows, now))

    async def reload(self, now: float) -> tuple[list[Acknowledgement],
                                                list[MaintenanceWindow]] | None:
        """Acknowledgements and maintenance windows written by the CLI; None when the file
        cannot be read now (alerting keeps going with what it had)."""
        db = self.db

        def read() -> tuple[list[tuple[str, str, float, str | None, str]],
                            list[MaintenanceWindow]]:
            # one trip to the database's thread for both (each trip costs loop turns)
            return db.sync.acknowledgements(), db.sync.maintenance_windows(now)

        try:
            acks, windows = await db.call(read)
        except (sqlite3.Error, OSError) as exc:  # a locked or damaged file: keep alerting
            self._reload_failures.failed(error=str(exc))
            return None
        self._reload_failures.worked()
        return [Acknowledgement(*ack) for ack in acks], windows

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    async def save(self, changed: set[str], records: Records, dropped: list[str],
                   outgoing: list[Outgoing], now: float,
                   hand: Callable[[list[OutboxRow]], None]) -> list[OutboxRow] | None:
        """Write one cycle (with whatever an earlier failed save kept) in one transaction;
        returns the outbox rows it wrote, or None when the write failed and everything is
        kept for the next cycle.

        The rows reach ``hand`` (the channels) from the database's thread as soon as they
        are committed, at the loop's next turn: this await resumes one turn later, and on
        the saturated loop of 100,000 devices a turn is ~0.3 s of a technician's wait."""
        dropped = [*self._unsaved_dropped, *dropped]
        outgoing = [*self._unsaved_outgoing, *outgoing]
        gate = self._unsaved_gate
        if self.gate is not None:
            gate = gate.merge(self.gate.take_changes())
        if not changed and not dropped and not outgoing and not gate:
            return []
        evidence: dict[str, str] = {}
        if self.power is not None:
            for incident, _facts in records:
                saved = (self.power.evidence(incident.incident_id)
                         if incident.kind is Kind.POWER else None)
                if saved is not None:
                    evidence[incident.incident_id] = saved
        db = self.db
        loop = asyncio.get_running_loop()

        def save_and_hand() -> list[OutboxRow]:
            seqs = db.sync.save(records, dropped, outgoing, now, gate, evidence)
            rows = [OutboxRow(seq, msg, 0) for seq, msg in zip(seqs, outgoing, strict=True)
                    if seq]
            if rows:
                # A loop closed by a stop meanwhile: the rows are in the outbox, delivered
                # after the restart.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(hand, rows)
            return rows

        try:
            rows = await db.call(save_and_hand)
        except (sqlite3.Error, OSError) as exc:
            self.dirty |= changed
            self._unsaved_dropped, self._unsaved_outgoing = dropped, outgoing
            self._unsaved_gate = gate
            self._save_failures.failed(error=str(exc))
            return None
        self._save_failures.worked()
        self._unsaved_dropped, self._unsaved_outgoing = [], []
        self._unsaved_gate = GateChanges()
        return rows
