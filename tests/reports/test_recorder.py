"""The history recorder as ``pubnet run`` starts it: store in, SQLite rows out."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dashboards.reports.recorder import HistoryRecorder, wait_closed
from inventory.model import Inventory
from pubnet.model import Observation, PollStatus, Source
from pubnet.state import StateStore
from tests.reports.fleet import fleet, site
from tests.support import eventually


def _rows(db: Path, kind: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT element, from_status, to_status FROM history_changes WHERE kind = ? "
            "ORDER BY id", (kind,))]


async def test_device_site_and_link_changes_are_recorded(tmp_path: Path) -> None:
    inv = fleet([site("S1", "5001", "บ้านหนึ่ง"), site("S2", "5001", "บ้านสอง")], aps=2)
    store = StateStore()
    db = tmp_path / "pubnet.db"
    recorder = HistoryRecorder(store, inv, db, flush_interval=0.05)
    task = asyncio.create_task(recorder.run())
    await asyncio.sleep(0.1)
    now = time.time()
    for device in ("gw-S1", "ap-S1-0", "ap-S1-1", "gw-S2", "ap-S2-0", "agg-5001", "pn-50"):
        store.set_status(device, PollStatus.OK, now, Source.SNMP)
    store.set_status("ap-S2-1", PollStatus.TIMEOUT, now, Source.SNMP)
    # the district link's a-side interface reads up
    store.publish([Observation("pn-50", "pubnet_interface_oper_up", 1.0, now, Source.SNMP,
                               (("ifname", "eth3"), ("ifindex", "3")))])
    await eventually(lambda: recorder.changes_written >= 8, 5, "first statuses written")
    store.set_status("ap-S1-0", PollStatus.TIMEOUT, now + 1, Source.SNMP)
    store.set_status("ap-S1-1", PollStatus.UNREACHABLE, now + 1, Source.SNMP)
    store.set_status("pn-50", PollStatus.TIMEOUT, now + 2, Source.SNMP)
    await eventually(lambda: recorder.changes_written >= 11, 5, "outage written")
    await wait_closed(recorder, task)

    assert _rows(db, "site") == [("S1", "unknown", "up"), ("S2", "unknown", "up"),
                                 ("S1", "up", "down")]
    assert ("ap-S2-1", "unknown", "timeout") in _rows(db, "device")
    assert ("ap-S1-1", "ok", "unreachable") in _rows(db, "device")
    assert _rows(db, "link") == [("L-agg-5001", "unknown", "up"),
                                 ("L-agg-5001", "up", "down")]
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT started_at, last_at, stopped_at FROM history_runs").fetchall()
    assert len(runs) == 1 and runs[0][2] is not None and runs[0][2] >= runs[0][0]


async def test_incident_covering_the_element_is_recorded(tmp_path: Path) -> None:
    """A recovery row names the incident alerting had open for the element."""
    from alerting.db import IncidentDB, IncidentFacts
    from alerting.model import Incident, Kind, Severity, State

    inv = fleet([site("S1", "5001", "บ้านหนึ่ง")])
    db = tmp_path / "pubnet.db"
    now = time.time()
    with IncidentDB(db) as incidents:
        incidents.save([(Incident("INC-7", Kind.DEVICE_DOWN, Severity.MINOR, "device:gw-S1",
                                  now - 5, now - 5, State.FIRING,
                                  frozenset({"device:gw-S1"})), IncidentFacts())], [], [], now)
    store = StateStore()
    recorder = HistoryRecorder(store, inv, db, flush_interval=0.05)
    task = asyncio.create_task(recorder.run())
    await asyncio.sleep(0.1)
    store.set_status("ap-S1-0", PollStatus.OK, now, Source.SNMP)
    store.set_status("gw-S1", PollStatus.OK, now, Source.SNMP)
    await eventually(lambda: recorder.changes_written >= 2, 5, "written")
    await wait_closed(recorder, task)
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT kind || ':' || element, incident FROM history_changes"))
    assert rows["device:gw-S1"] == "INC-7"
    assert rows["site:S1"] == "INC-7"
    assert rows["device:ap-S1-0"] is None


async def test_a_database_that_cannot_be_opened_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pubnet.db").mkdir()  # a folder where the file should be
    store = StateStore()
    recorder = HistoryRecorder(store, fleet([site("S1", "5001", "บ้าน")]), tmp_path / "pubnet.db")
    with pytest.raises(OSError, match=r"history database .*pubnet\.db"):
        await recorder.run()
    assert store.subscriber_stats() == []


def test_interface_readings_follow_series_that_appear_change_and_leave(
        tmp_path: Path) -> None:
    """The recorder looks a watched interface up by the key it found before: an interface
    that appears later, a new value, and series that leave are all still read."""
    inv = fleet([site("S1", "5001", "บ้านหนึ่ง")])
    store = StateStore()
    recorder = HistoryRecorder(store, inv, tmp_path / "pubnet.db")

    def publish(ts: float, *series: tuple[str, str, float]) -> None:
        store.publish([Observation("pn-50", metric, value, ts, Source.SNMP,
                                   (("ifname", ifname),)) for metric, ifname, value in series])

    def read() -> list[tuple[str, str, float | None]]:
        return [(r.device, r.ifname, r.value) for r in recorder._read_interfaces()]

    publish(1.0, ("pubnet_interface_oper_up", "eth1", 1.0),
            ("pubnet_interface_speed_bps", "eth1", 1e9))
    assert read() == [], "the link's interface (eth3) is not there yet"
    publish(2.0, ("pubnet_interface_oper_up", "eth3", 1.0))
    assert read() == [("pn-50", "eth3", 1.0)], "it appeared"
    publish(3.0, ("pubnet_interface_oper_up", "eth3", 0.0))
    assert read() == [("pn-50", "eth3", 0.0)]
    assert read() == [], "nothing changed"
    store.forget("pn-50", "pubnet_interface_oper_up")  # two series leave, two come:
    publish(4.0, ("pubnet_interface_speed_bps", "eth2", 1e9),
            ("pubnet_interface_speed_bps", "eth3", 1e9))
    assert read() == [("pn-50", "eth3", None)], "the same count, but the key is gone"
    publish(5.0, ("pubnet_interface_oper_up", "eth3", 1.0))
    assert read() == [("pn-50", "eth3", 1.0)]


class _CountingStore(StateStore):
    """A store that notes whose version is read: what a flush looks at."""

    def __init__(self) -> None:
        super().__init__()
        self.version_reads: list[str] = []

    def device_version(self, device: str) -> int:
        self.version_reads.append(device)
        return super().device_version(device)


@contextlib.asynccontextmanager
async def _counted_recorder(inv: Inventory, db: Path) -> AsyncIterator[_CountingStore]:
    """A recorder of ``inv`` into ``db`` over the :class:`_CountingStore` it yields, flushing
    every 20 ms, running and ready; stopped after its last write when the block ends."""
    store = _CountingStore()
    recorder = HistoryRecorder(store, inv, db, flush_interval=0.02)
    task = asyncio.create_task(recorder.run())
    try:
        await recorder.ready.wait()
        yield store
    finally:
        await wait_closed(recorder, task)


async def test_a_flush_reads_only_the_devices_its_batches_carried_readings_of(
        tmp_path: Path) -> None:
    """After the first flush, the recorder reads the link interfaces of the watched devices
    whose ``pubnet_interface_oper_up`` came in the store's batches (a trap's here, with no
    attempt), not every watched device at every flush (~3.5 ms at 20,000 devices)."""
    inv = fleet([site("S1", "5001", "บ้านหนึ่ง"), site("S2", "5002", "บ้านสอง"),
                 site("S3", "4001", "บ้านสาม")])
    watched = {link.a_device for link in inv.links.values()}
    assert watched == {"core", "pn-50", "pn-40"}
    link = inv.links["L-agg-4001"]
    db = tmp_path / "pubnet.db"
    async with _counted_recorder(inv, db) as store:
        await eventually(lambda: watched <= set(store.version_reads), 5, "the first flush")
        store.version_reads.clear()
        store.publish([Observation("pn-50", "pubnet_interface_speed_bps", 1e9, time.time(),
                                   Source.SNMP, (("ifname", "eth3"),))])  # not a reading
        store.publish([Observation(link.a_device, "pubnet_interface_oper_up", 0.0,
                                   time.time(), Source.TRAP, (("ifname", link.a_interface),))])
        await eventually(lambda: _rows(db, "link") == [("L-agg-4001", "unknown", "down")], 5,
                         "the trap's reading written")
        await asyncio.sleep(0.2)  # ten more flushes
    assert set(store.version_reads) == {"pn-40"}


async def test_readings_in_batches_the_store_dropped_are_still_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch the store drops for a recorder that fell behind may have carried the only
    reading of an interface: the next flush reads every watched device."""
    monkeypatch.setattr("dashboards.reports.recorder.SUBSCRIBER_CAPACITY", 2)
    inv = fleet([site("S1", "5001", "บ้านหนึ่ง"), site("S3", "4001", "บ้านสาม")])
    link = inv.links["L-agg-4001"]
    db = tmp_path / "pubnet.db"
    async with _counted_recorder(inv, db) as store:
        await eventually(lambda: store.version_reads, 5, "the first flush")
        now = time.time()
        store.publish([Observation(link.a_device, "pubnet_interface_oper_up", 0.0, now,
                                   Source.MQTT, (("ifname", name),))
                       for name in ("eth90", "eth91", link.a_interface)])  # 3 > 2: dropped
        (stats,) = store.subscriber_stats()
        assert stats.dropped == 3
        await eventually(lambda: _rows(db, "link") == [("L-agg-4001", "unknown", "down")], 5,
                         "the dropped batch's reading written")
