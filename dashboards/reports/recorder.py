"""The ``history`` component: every status change of devices, sites and backbone links, and
pubnet's own running intervals, written to SQLite in batches off the event loop.

The event loop only appends the store's status changes to a list and, at each flush,
reads the link a-side interfaces of the devices whose ``pubnet_interface_oper_up`` the
store's batches carried since the last flush (polls, traps and MQTT alike). Site
and link statuses are derived (:mod:`pubnet.derive`), covering incidents looked up and
rows written on one dedicated writer thread, one transaction per flush, so a national
power event of 25,000 changes is one short transaction and never a stall of collection.

"Written" means committed: :attr:`HistoryRecorder.written` and the ``on_written`` callback
count only rows whose transaction committed (WAL, ``synchronous=NORMAL``), which survive
the process being killed. A batch whose write fails (disk full, database locked for
longer than the busy timeout) is kept and retried at the next flush; past
``MAX_PENDING`` changes the oldest are dropped, counted and logged once per episode.

Daily rollups and retention run on a second thread with their own connection, hourly, so
that rolling up a day of 25,000 sites never holds a write back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from dashboards.reports.history import STATUS_UNKNOWN, ChangeRow, HistoryDB
from inventory.model import Inventory
from pubnet import __version__
from pubnet.catalog import (
    HISTORY_DROPPED,
    HISTORY_PENDING,
    HISTORY_ROWS_WRITTEN,
    HISTORY_WRITE_ERRORS,
    PUBNET_DEVICE,
)
from pubnet.derive import OPER_UP, Derivation, DerivedState, ElementKind, derivation_for
from pubnet.failures import FailureLog
from pubnet.model import Attempt, Batch, Observation, SeriesKey, Source
from pubnet.state import SeriesView, StateStore, Subscription

log = logging.getLogger("pubnet.history")

T = TypeVar("T")

SUBSCRIBER_NAME = "history"
SUBSCRIBER_CAPACITY = 1_000_000
"""Attempts and interface readings the store may hold for the recorder while a write is in
progress (~75 s of a 100,000-device fleet)."""
MAX_PENDING = 2_000_000
"""Changes kept in memory while the database refuses writes; older ones are dropped."""
MAINTENANCE_INTERVAL = 3600.0
"""How often retention and rollups run."""
STATS_DEVICE = PUBNET_DEVICE


_Slots = tuple[int, tuple[tuple[str, int, SeriesKey | None], ...]]
"""A device's series count when its keys were scanned, and where each watched interface's
``pubnet_interface_oper_up`` was: (ifname, slot, key), key None when it had none."""


@dataclass(frozen=True, slots=True)
class _Reading:
    device: str
    ifname: str
    value: float | None
    ts: float


class _Writer:
    """Lives on the writer thread: the derived state, the incident cache, the database."""

    def __init__(self, db: HistoryDB, derivation: Derivation) -> None:
        self.db = db
        self.state = DerivedState(derivation)
        self.derivation = derivation
        self.run_id: int | None = None

    def start(self, now: float) -> None:
        self.db.open()
        self.run_id = self.db.start_run(now, __version__)

    def write(self, changes: Sequence[Attempt], readings: Sequence[_Reading],
              now: float) -> int:
        rows: list[ChangeRow] = []
        state = self.state
        for change in changes:
            rows.append(ChangeRow(
                ElementKind.DEVICE.value, change.device,
                change.previous.value if change.previous is not None else STATUS_UNKNOWN,
                change.status.value, change.ts))
            for derived in state.set_device(change.device, change.status, change.ts):
                if derived.kind is not ElementKind.DEVICE:
                    rows.append(ChangeRow(derived.kind.value, derived.element,
                                          derived.previous.value, derived.current.value,
                                          derived.ts))
        for reading in readings:
            for derived in state.set_interface(reading.device, reading.ifname, reading.value,
                                               reading.ts):
                rows.append(ChangeRow(derived.kind.value, derived.element,
                                      derived.previous.value, derived.current.value,
                                      derived.ts))
        if rows:
            rows = self._with_incidents(rows)
        self.db.write(rows, self.run_id, now)
        return len(rows)

    def _with_incidents(self, rows: list[ChangeRow]) -> list[ChangeRow]:
        """Each row with the incident covering its element (open, or resolved within the
        batch: a recovery row names the incident that covered the outage)."""
        covering = self._open_incidents(min(r.at for r in rows))
        if not covering:
            return rows
        site_members = self.derivation.sites
        out = []
        for row in rows:
            incident = covering.get(f"{row.kind}:{row.element}")
            if incident is None and row.kind == ElementKind.SITE.value:
                members = site_members.get(row.element)
                for device in members.devices if members is not None else ():
                    incident = covering.get(f"device:{device}")
                    if incident is not None:
                        break
            out.append(row if incident is None else ChangeRow(
                row.kind, row.element, row.from_status, row.to_status, row.at, incident))
        return out

    def _open_incidents(self, since: float) -> dict[str, str]:
        try:
            return self.db.covering_incidents(since - 60.0)
        except sqlite3.OperationalError:  # alerting's table is not the one we know
            return {}

    def stop(self, now: float) -> None:
        try:
            if self.run_id is not None:
                self.db.stop_run(self.run_id, now)
        finally:
            self.db.close()


class HistoryRecorder:
    """Records the history; see the module docstring."""

    name = "history"

    def __init__(self, store: StateStore, inventory: Inventory, database: Path, *,
                 flush_interval: float = 0.5, heartbeat: float = 10.0,
                 retention: float = 400 * 86400.0, rollup_after: float = 3600.0,
                 clock: Callable[[], float] = time.time,
                 on_written: Callable[[int], None] | None = None,
                 housekeeping: bool = True, derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared with the other
        components (built here when not given)."""
        self.store = store
        self.inventory = inventory
        self.database = database
        self.flush_interval = flush_interval
        self.heartbeat = heartbeat
        self.retention = retention
        self.rollup_after = rollup_after
        self._clock = clock
        self._on_written = on_written
        self._housekeeping = housekeeping
        self.derivation = derivation_for(inventory, derivation)
        self.written = 0
        """Rows committed (devices, sites and links)."""
        self.changes_written = 0
        """Device status changes committed."""
        self.dropped = 0
        self.write_errors = 0
        self._pending: list[Attempt] = []
        self._failures = FailureLog(log, "history write failed, keeping changes to retry",
                                    "history writes work again", database=str(database))
        self._watched = self.derivation.watched_interfaces()
        self._versions: dict[str, int] = {}
        self._keys: dict[str, _Slots] = {}
        """Watched device -> its series count when scanned, and (ifname, slot, series key;
        None when it has none) of each watched interface: what :meth:`_read_interfaces`
        reads."""
        self._readings: dict[tuple[str, str], float] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-db")
        self._writer = _Writer(HistoryDB(database), self.derivation)
        self.ready = asyncio.Event()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    # -- component -------------------------------------------------------------------------

    async def run(self) -> None:
        """Record until cancelled; then write what is queued and close the run."""
        sub = self.store.subscribe(SUBSCRIBER_NAME, SUBSCRIBER_CAPACITY, metrics=(OPER_UP,))
        try:
            await self._call(self._writer.start, self._clock())
        except (sqlite3.Error, OSError) as exc:
            self.store.unsubscribe(sub)
            self._executor.shutdown(wait=False)
            raise OSError(f"history database {self.database}: {exc}") from exc
        try:
            log.info("history recorder started", extra={
                "database": str(self.database), "sites": len(self.derivation.sites),
                "links": len(self._watched)})
            self.ready.set()
            async with asyncio.TaskGroup() as group:
                if self._housekeeping:
                    group.create_task(self._maintain(), name="history-maintenance")
                group.create_task(self._intake(sub), name="history-intake")
        finally:
            self.store.unsubscribe(sub)
            await asyncio.shield(self._final(sub))

    async def _final(self, sub: Subscription) -> None:
        """Whatever the store still holds, one last write, the run's end."""
        try:
            for batch in sub.drain():
                self._pending.extend(batch.status_changes)
            await self._flush()
            await self._call(self._writer.stop, self._clock())
            log.info("history recorder stopped",
                     extra={"written": self.written, "dropped": self.dropped})
        finally:
            self._executor.shutdown(wait=False)

    async def _intake(self, sub: Subscription) -> None:
        loop = asyncio.get_running_loop()
        last_beat = loop.time()
        # watched devices whose interfaces the batches since the last flush carried, in
        # the order they came; None: all of them (the first flush, or the store dropped
        # batches meant for us)
        changed: dict[str, None] | None = None
        dropped = sub.dropped
        while True:
            deadline = loop.time() + self.flush_interval
            while (remaining := deadline - loop.time()) > 0:
                batches = await sub.get_all(remaining)
                if not batches:
                    break
                for batch in batches:
                    self._pending.extend(batch.status_changes)
                    if changed is not None and batch.observations:
                        self._note(batch, changed)
            if sub.dropped != dropped:
                dropped, changed = sub.dropped, None
            readings = self._read_interfaces(changed)
            changed = {}
            if self._pending or readings or loop.time() - last_beat >= self.heartbeat:
                await self._flush(readings)
                last_beat = loop.time()

    def _note(self, batch: Batch, changed: dict[str, None]) -> None:
        """Add the watched devices of ``batch``'s interface readings to ``changed``.

        Every reading of a watched interface arrives in a batch (a poll's, a trap's, an
        MQTT message's): what changed is known from them, instead of a version check of
        every watched device per flush (~3.5 ms at 20,000 devices, 8,700 watched)."""
        watched = self._watched
        last = None
        for obs in batch.observations:  # the subscription's: pubnet_interface_oper_up
            device = obs[0]
            if device is not last:
                last = device
                if device in watched:
                    changed[device] = None

    def _read_interfaces(self, devices: Collection[str] | None = None) -> list[_Reading]:
        """Readings of link a-side interfaces that changed since the last flush, of
        ``devices`` (watched devices that may have changed) or, None, of every watched
        device whose series changed."""
        found: list[_Reading] = []
        store, versions, readings = self.store, self._versions, self._readings
        device_version = store.device_version
        watched = self._watched
        for device in watched if devices is None else devices:
            names = watched[device]
            version = device_version(device)
            if versions.get(device) == version:
                continue
            versions[device] = version
            for name, reading in self._current(device, names, store.device_series(device)):
                value = None if reading is None else reading[0]
                if readings.get((device, name)) != value:
                    if value is None:
                        readings.pop((device, name), None)
                    else:
                        readings[(device, name)] = value
                    found.append(_Reading(device, name, value,
                                          reading[1] if reading is not None else self._clock()))
        return found

    def _current(self, device: str, names: frozenset[str], view: SeriesView) -> (
        list[tuple[str, tuple[float, float] | None]]
    ):
        """(value, time) of each watched interface's latest ``pubnet_interface_oper_up``
        (None: the device has none).

        Read at the slots found by the last scan of the device's keys (a check per
        interface instead of a scan of its ~50 series at every change: ~5 % of the CPU at
        100,000 devices). The keys are scanned again when they may have changed: series
        are added by polls (the series count grows: an interface may have appeared) and
        removed only per metric or device (the count differs, or a key left its slot)."""
        cached = self._keys.get(device)
        for rescan in (False, True):
            if rescan or cached is None or cached[0] != len(view):
                cached = self._scan(device, names, view)
            current: list[tuple[str, tuple[float, float] | None]] = []
            for name, slot, key in cached[1]:
                reading = None if key is None else view.reading_at(slot, key)
                if reading is None and key is not None:
                    break  # the key moved or left: scan again
                current.append((name, reading))
            else:
                return current
        raise AssertionError("a fresh scan's slots hold their keys")

    def _scan(self, device: str, names: frozenset[str], view: SeriesView) -> _Slots:
        keys: dict[str, tuple[str, int, SeriesKey | None]] = {
            name: (name, -1, None) for name in names}
        for slot, key in enumerate(view):  # keys only: no observation is built
            metric, labels = key
            if metric != OPER_UP:
                continue
            for name, label in labels:
                if name == "ifname" and label in names:
                    keys[label] = (label, slot, key)
        cached = self._keys[device] = (len(view), tuple(keys.values()))
        return cached

    async def _flush(self, readings: Sequence[_Reading] = ()) -> None:
        batch, self._pending = self._pending, []
        try:
            rows = await self._call(self._writer.write, batch, list(readings), self._clock())
        except (sqlite3.Error, OSError) as exc:
            self.write_errors += 1
            self._failures.failed(error=str(exc))
            self._pending = batch + self._pending
            excess = len(self._pending) - MAX_PENDING
            if excess > 0:
                del self._pending[:excess]
                self.dropped += excess
                log.warning("history backlog full, oldest changes dropped",
                            extra={"dropped": excess})
            self._publish_stats()
            return
        self._failures.worked()
        self.written += rows
        self.changes_written += len(batch)
        if self._on_written is not None:
            self._on_written(self.changes_written)
        self._publish_stats()

    def _publish_stats(self) -> None:
        now = self._clock()
        internal = Source.INTERNAL
        self.store.publish([
            Observation(STATS_DEVICE, HISTORY_ROWS_WRITTEN, float(self.written),
                        now, internal),
            Observation(STATS_DEVICE, HISTORY_DROPPED, float(self.dropped),
                        now, internal),
            Observation(STATS_DEVICE, HISTORY_WRITE_ERRORS,
                        float(self.write_errors), now, internal),
            Observation(STATS_DEVICE, HISTORY_PENDING, float(len(self._pending)),
                        now, internal),
        ])

    # -- retention and rollups ---------------------------------------------------------

    async def _maintain(self) -> None:
        """Hourly on its own thread and connection: expire, then roll up finished days."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-rollup")
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await loop.run_in_executor(executor, self._housekeep, self._clock())
                except (sqlite3.Error, OSError) as exc:
                    log.warning("history housekeeping failed",
                                extra={"database": str(self.database), "error": str(exc)})
                await asyncio.sleep(MAINTENANCE_INTERVAL)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    def _housekeep(self, now: float) -> None:
        from dashboards.reports.period import days
        from dashboards.reports.source_history import rollup

        with HistoryDB(self.database) as db:
            deleted = db.expire(now - self.retention)
            if deleted:
                log.info("history expired", extra={"changes": deleted})
            runs = db.runs(now - self.retention, now, now, self.heartbeat)
            if not runs:
                return
            first = max(runs[0].started_at, now - self.retention)
            candidates = [d for d in days(first, now - self.rollup_after)
                          if d.whole and d.end <= now - self.rollup_after]
            built = db.rollup_days([d.day for d in candidates])
            for day in candidates:
                if day.day not in built:
                    count = rollup(db, self.inventory, day, now, self.heartbeat)
                    log.info("history day rolled up", extra={"day": day.day, "sites": count})


async def wait_closed(recorder: HistoryRecorder, task: asyncio.Task[None]) -> None:
    """Cancel a recorder task and wait for its last write (tests and the demo)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
