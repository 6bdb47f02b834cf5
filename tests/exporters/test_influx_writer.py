"""The writer's delivery rules against a scripted sink: split, drop, buffer, replay, restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from influxdb_client.rest import ApiException
from pydantic import SecretStr

from exporters.influx.writer import InfluxWriter, get_or_stop
from pubnet.config import InfluxConfig
from pubnet.model import Observation, Source
from pubnet.state import StateStore
from tests.collectors.snmp.test_poller import with_fields
from tests.exporters.helpers import small_inventory
from tests.support import eventually as until


class ScriptedSink:
    """Accepts line protocol like InfluxDB would, with switchable failures."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.calls = 0
        self.down = False
        self.status_when_down = 0  # 0 = connection refused, else that HTTP status
        self.reject_marker: bytes | None = None
        self.reject_status = 400
        self.down_after_successes: int | None = None
        self.hang = False  # accept the request and never answer

    async def write(self, bucket: str, org: str = "", record: Any = b"",
                    write_precision: Any = None, **kwargs: Any) -> bool:
        self.calls += 1
        assert isinstance(record, bytes)
        if self.hang:
            await asyncio.Event().wait()
        if self.down:
            if self.status_when_down:
                raise ApiException(status=self.status_when_down, reason="unavailable")
            raise aiohttp.ClientConnectionError("connection refused")
        lines = record.split(b"\n")
        if self.reject_marker is not None and any(self.reject_marker in ln for ln in lines):
            raise ApiException(status=self.reject_status, reason="unable to parse")
        self.lines.extend(lines)
        if self.down_after_successes is not None:
            self.down_after_successes -= 1
            if self.down_after_successes <= 0:
                self.down_after_successes = None
                self.down = True
        await asyncio.sleep(0)
        return True

    def values(self) -> list[float]:
        """The value field of every ``test_seq`` point, in arrival order."""
        return [float(ln.split(b" value=")[1].split(b" ")[0])
                for ln in self.lines if ln.startswith(b"test_seq")]


def config(tmp_path: Path, **overrides: Any) -> InfluxConfig:
    values: dict[str, Any] = {
        "url": "http://127.0.0.1:1", "token": SecretStr("t0ken"), "org": "noc",
        "bucket": "pubnet", "batch_size": 10, "flush_interval": 0.05,
        "buffer_dir": tmp_path / "buffer", "buffer_max_bytes": 1 << 20,
    }
    values.update(overrides)
    return InfluxConfig.model_validate(values)


def points(start: int, count: int, device: str = "gw1") -> list[Observation]:
    return [Observation(device, "test_seq", float(i), 1_700_000_000 + i / 1000, Source.SNMP)
            for i in range(start, start + count)]


@contextlib.asynccontextmanager
async def running(writer: InfluxWriter, sink: ScriptedSink) -> AsyncIterator[None]:
    task = asyncio.create_task(writer.serve(sink))
    await asyncio.sleep(0)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # flushed, then ends cancelled
            await asyncio.wait_for(task, 30)
        assert task.cancelled()


async def test_bad_point_is_isolated_and_its_neighbours_delivered(tmp_path: Path) -> None:
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(), config(tmp_path, batch_size=8),
                          stats_interval=None)
    sink.reject_marker = b"value=5.0 "
    async with running(writer, sink):
        store.publish(points(0, 8))
        await until(lambda: len(sink.values()) == 7)
    assert sink.values() == [0, 1, 2, 3, 4, 6, 7]
    assert writer.stats.dropped == {"http_400": 1}
    assert not writer.buffer


async def test_other_4xx_drops_the_batch_counted(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(), config(tmp_path), stats_interval=None)
    sink.reject_marker, sink.reject_status = b"test_seq", 401
    with caplog.at_level(logging.WARNING, "pubnet.exporters.influx"):
        async with running(writer, sink):
            store.publish(points(0, 5))
            await until(lambda: writer.stats.dropped.get("http_401", 0) >= 5)
    assert not writer.buffer and sink.values() == []
    logged = "\n".join(with_fields(r) for r in caplog.records)
    assert "status=401" in logged and "t0ken" not in logged


async def test_non_finite_values_are_counted_never_sent(tmp_path: Path) -> None:
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(), config(tmp_path), stats_interval=None)
    async with running(writer, sink):
        store.publish([*points(0, 2),
                       Observation("gw1", "test_seq", math.nan, 1.0, Source.SNMP),
                       Observation("gw1", "test_seq", math.inf, 1.0, Source.SNMP),
                       *points(2, 2)])
        await until(lambda: len(sink.values()) == 4)
    assert sink.values() == [0, 1, 2, 3]
    assert writer.stats.dropped == {"non_finite_value": 2}


@pytest.mark.parametrize("status", [0, 503, 429], ids=["connection", "5xx", "429"])
async def test_outage_buffers_on_disk_and_replays_in_order(tmp_path: Path, status: int) -> None:
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(), config(tmp_path), backoff=(0.05, 0.2),
                          stats_interval=None)
    async with running(writer, sink):
        store.publish(points(0, 15))
        await until(lambda: len(sink.values()) == 15)
        sink.down, sink.status_when_down = True, status
        for start in range(15, 60, 5):
            store.publish(points(start, 5))
            await asyncio.sleep(0.03)
        await until(lambda: writer.buffer.points == 45)
        assert list((tmp_path / "buffer").glob("*.lp"))
        sink.down = False
        for start in range(60, 70, 5):
            store.publish(points(start, 5))
        await until(lambda: len(sink.values()) == 70)
        await until(lambda: not writer.buffer)
    assert sink.values() == list(range(70)), "every point once, in order"
    assert not list((tmp_path / "buffer").glob("*.lp"))


async def test_buffer_survives_a_restart_and_drains_after_it(tmp_path: Path) -> None:
    store, sink = StateStore(), ScriptedSink()
    sink.down = True
    first = InfluxWriter(store, small_inventory(), config(tmp_path), backoff=(0.05, 0.2),
                          stats_interval=None)
    async with running(first, sink):
        store.publish(points(0, 25))
        await until(lambda: first.buffer.points == 25)
        store.publish(points(25, 3))  # still in memory when the stop comes: persisted on stop
    assert sum(int(p.name.split("-")[1].split(".")[0])
               for p in (tmp_path / "buffer").glob("*.lp")) == 28
    # a new process: new store, new writer, same buffer folder
    store2 = StateStore()
    second = InfluxWriter(store2, small_inventory(), config(tmp_path), backoff=(0.05, 0.2),
                          stats_interval=None)
    sink.down = False
    async with running(second, sink):
        store2.publish(points(28, 2))
        await until(lambda: len(sink.values()) == 30)
    assert sink.values() == list(range(30))


async def test_full_buffer_drops_oldest_counted_and_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, sink = StateStore(), ScriptedSink()
    sink.down = True
    writer = InfluxWriter(store, small_inventory(),
                          config(tmp_path, buffer_max_bytes=1 << 16), backoff=(0.05, 0.2),
                          stats_interval=None)
    line_bytes = len(b"test_seq,device=gw1,province=40,site=S1 value=100.0 1700000000100000000")
    with caplog.at_level(logging.WARNING, "pubnet.exporters.influx"):
        async with running(writer, sink):
            total = 0
            while writer.buffer.dropped_points == 0:
                store.publish(points(total, 100))
                total += 100
                await asyncio.sleep(0.01)
            for _ in range(5):
                store.publish(points(total, 100))
                total += 100
            await until(lambda: writer.buffer.points + writer.buffer.dropped_points == total)
            assert writer.buffer.bytes <= 1 << 16
            kept = writer.buffer.points
            sink.down = False
            await until(lambda: len(sink.values()) == kept)
    assert kept >= (1 << 16) // (line_bytes + 1) - 20
    assert sink.values() == list(range(total - kept, total)), "the newest points are kept"
    assert caplog.text.count("influx buffer full") == 1


async def test_stop_delivers_the_last_partial_batch(tmp_path: Path) -> None:
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(),
                          config(tmp_path, batch_size=1000, flush_interval=60),
                          stats_interval=None)
    async with running(writer, sink):
        store.publish(points(0, 3))
        await asyncio.sleep(0.05)
        assert sink.values() == [], "nothing is due before the flush interval"
    assert sink.values() == [0, 1, 2]
    assert not list((tmp_path / "buffer").glob("*.lp"))


async def test_partly_delivered_backlog_keeps_only_the_rest(tmp_path: Path) -> None:
    """A 400 split whose first half lands before an outage: only the rest stays buffered."""
    store, sink = StateStore(), ScriptedSink()
    sink.down = True
    writer = InfluxWriter(store, small_inventory(), config(tmp_path, batch_size=8),
                          backoff=(0.05, 0.2), stats_interval=None)
    async with running(writer, sink):
        store.publish(points(0, 8))
        await until(lambda: writer.buffer.points == 8)
        sink.reject_marker = b"value=5.0 "
        sink.down_after_successes = 1  # the first half is accepted, then the server dies
        sink.down = False
        await until(lambda: sink.values() == [0, 1, 2, 3] and writer.buffer.points == 4)
        files = list((tmp_path / "buffer").glob("*.lp"))
        assert [f.name.split("-")[1] for f in files] == ["4.lp"]
        sink.down = False
        await until(lambda: not writer.buffer)
    assert sink.values() == [0, 1, 2, 3, 4, 6, 7], "each point once, the bad one isolated"
    assert writer.stats.dropped == {"http_400": 1}


async def stuck_in_a_write(tmp_path: Path, stop_grace: float, first: int,
                           ) -> tuple[StateStore, InfluxWriter, asyncio.Task[None]]:
    """A writer whose server never answers, with its first ``first`` points in flight."""
    store, sink = StateStore(), ScriptedSink()
    sink.hang = True
    writer = InfluxWriter(store, small_inventory(), config(tmp_path, timeout=60),
                          stats_interval=None, stop_grace=stop_grace)
    task = asyncio.create_task(writer.serve(sink))
    await asyncio.sleep(0)
    store.publish(points(0, first))
    await until(lambda: sink.calls == 1)
    return store, writer, task


async def test_stop_cancels_a_hanging_write_after_the_grace_and_keeps_its_batch(
        tmp_path: Path) -> None:
    """Issue 10 item 18: a write stuck in a hanging server does not hold the stop for the
    whole ``timeout``; after ``stop_grace`` it is cancelled and its batch kept on disk."""
    _, writer, task = await stuck_in_a_write(tmp_path, stop_grace=0.3, first=4)
    started = asyncio.get_running_loop().time()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert asyncio.get_running_loop().time() - started < 1.5
    assert writer.buffer.points == 4
    files = list((tmp_path / "buffer").glob("*.lp"))
    assert [f.name.split("-")[1] for f in files] == ["4.lp"]
    assert files[0].read_bytes().count(b"test_seq") == 4


async def test_get_or_stop_keeps_what_it_got_and_takes_nothing_when_it_loses() -> None:
    """The writer's one race (intake, sending and backing off all wait through it)."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    stop = asyncio.Event()
    queue.put_nowait(1)
    assert await get_or_stop(queue.get(), stop) == 1
    assert await get_or_stop(queue.get(), stop, within=0.01) is None  # nothing came
    stop.set()
    assert await get_or_stop(queue.get(), stop) is None  # stopped while waiting
    queue.put_nowait(2)
    assert await get_or_stop(queue.get(), stop) == 2  # both ready: the item is not dropped
    queue.put_nowait(3)
    await asyncio.sleep(0)
    assert queue.qsize() == 1  # the getters that lost took nothing from the queue


async def test_a_hard_stop_writes_what_is_queued_to_the_buffer(tmp_path: Path) -> None:
    """The runtime cancels a component a second time when its share of the stop budget is
    gone: the writer, still waiting on a hanging server within its grace, then writes
    what it holds in memory to the buffer at once instead of losing it."""
    store, _, task = await stuck_in_a_write(tmp_path, stop_grace=30, first=10)  # one batch
    store.publish(points(10, 45))  # queued behind it, and some not yet cut
    task.cancel()
    await asyncio.sleep(0.1)
    assert not task.done(), "within its grace, waiting for the write"
    task.cancel()  # the runtime's deadline
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    kept = sorted(float(line.split(b" value=")[1].split(b" ")[0])
                  for f in (tmp_path / "buffer").glob("*.lp")
                  for line in f.read_bytes().split(b"\n"))
    assert kept == [float(i) for i in range(10, 55)], "all but the batch in flight"


async def test_a_writer_behind_a_busy_loop_catches_up_instead_of_dropping(
        tmp_path: Path) -> None:
    """Each turn of a busy loop, 40 devices' polls (12,000 observations) publish: more
    than the writer encoded between two yields (5,000). Yielding regardless, it fell
    behind and the store dropped points for it (1.5 M at 50,000 devices); past half its
    subscription it now encodes what it took at once, and nothing is dropped."""
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(),
                          config(tmp_path, batch_size=5000, flush_interval=0.1,
                                 buffer_max_bytes=1 << 30),
                          stats_interval=None)
    turns, per_turn, per_device = 60, 40, 300
    async with running(writer, sink):
        for turn in range(turns):
            for device in range(per_turn):
                store.publish(points((turn * per_turn + device) * per_device, per_device,
                                     device=f"ap{device}"))
            await asyncio.sleep(0)
        (stats,) = [s for s in store.subscriber_stats() if s.name == "influxdb"]
        assert stats.dropped == 0, f"the store dropped {stats.dropped:,} for the writer"
        total = turns * per_turn * per_device
        await until(lambda: len(sink.lines) >= total, what="every point delivered")
    assert sink.values() == [float(i) for i in range(total)]


class CountingSink(ScriptedSink):
    """Records how many points each accepted request carried."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[int] = []
        self.arrived = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def write(self, bucket: str, org: str = "", record: Any = b"",
                    write_precision: Any = None, **kwargs: Any) -> bool:
        self.arrived += 1
        await self.gate.wait()
        before = len(self.lines)
        accepted = await super().write(bucket, org, record, write_precision, **kwargs)
        self.requests.append(len(self.lines) - before)
        return accepted


async def test_a_backlog_goes_out_several_batches_per_request_in_order(
        tmp_path: Path) -> None:
    """On a busy loop a request costs loop turns, not bytes: one batch per request, a
    100,000-device pubnet drained its backlog at ~900 points/s while it grew by ~60,000
    a second. Up to REQUEST_MAX_BATCHES batches now go in one request."""
    store, sink = StateStore(), CountingSink()
    sink.down = True
    writer = InfluxWriter(store, small_inventory(), config(tmp_path), backoff=(0.05, 0.2),
                          stats_interval=None)
    async with running(writer, sink):
        for start in range(0, 200, 10):
            store.publish(points(start, 10))
            await asyncio.sleep(0.01)
        await until(lambda: writer.buffer.points == 200)
        sink.down = False
        await until(lambda: not writer.buffer)
    assert sink.values() == list(range(200)), "every point once, in order"
    assert sink.requests == [80, 80, 40]


async def test_queued_batches_share_the_next_request(tmp_path: Path) -> None:
    store, sink = StateStore(), CountingSink()
    sink.gate.clear()  # the first request waits while five more batches queue behind it
    writer = InfluxWriter(store, small_inventory(), config(tmp_path), stats_interval=None)
    async with running(writer, sink):
        store.publish(points(0, 10))
        await until(lambda: sink.arrived == 1)
        for start in range(10, 60, 10):
            store.publish(points(start, 10))
        await until(lambda: writer._queue.qsize() == 5)
        sink.gate.set()
        await until(lambda: len(sink.values()) == 60)
    assert sink.values() == list(range(60))
    assert sink.requests == [10, 50]


async def test_the_intake_takes_a_batch_in_the_turn_after_it_is_published(
        tmp_path: Path) -> None:
    """On a saturated loop each turn the intake waits is ~0.4 s of the fleet's polls
    piling up in its subscription. It waited through a task of its own racing the stop
    event, and encoded some batches two turns after they were published; at 100,000
    devices the store then dropped 2,970 observations for it (bench/fleet.py). Now a batch
    is encoded in the turn after its publish."""
    store, sink = StateStore(), ScriptedSink()
    writer = InfluxWriter(store, small_inventory(), config(tmp_path, flush_interval=30.0),
                          stats_interval=None)
    loop = asyncio.get_running_loop()
    turn = 0
    late: list[int] = []
    published_at: dict[float, int] = {}
    encode_into = writer.encoder.encode_into

    def encoding(observations: Any, out: list[str]) -> Any:
        late.extend(turn - published_at[obs.value] for obs in observations)
        return encode_into(observations, out)

    writer.encoder.encode_into = encoding  # type: ignore[method-assign]
    done = loop.create_future()

    def publish() -> None:
        nonlocal turn
        turn += 1
        if turn % 3 == 0:  # a batch every third turn: the intake waits between them
            batch = points(turn, 5)
            published_at.update((obs.value, turn) for obs in batch)
            store.publish(batch)
        if turn < 60:
            loop.call_soon(publish)
        else:
            done.set_result(None)

    async with running(writer, sink):
        await until(lambda: writer.ready.is_set())
        await asyncio.sleep(0.05)
        loop.call_soon(publish)
        await done
        await until(lambda: len(late) == 100)
    assert set(late) == {0}, late  # before the next turn's publish (it was up to 2 later)


class SlowSink(ScriptedSink):
    """Takes ``delay`` seconds to accept each write, as a loaded InfluxDB does."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.begun = 0
        """Writes begun while the server is up."""

    async def write(self, bucket: str, org: str = "", record: Any = b"",
                    write_precision: Any = None, **kwargs: Any) -> bool:
        if not self.down:
            self.begun += 1
            await asyncio.sleep(self.delay)
        return await super().write(bucket, org, record, write_precision, **kwargs)


async def test_a_stop_during_a_spill_keeps_the_intake_s_last_batches(tmp_path: Path) -> None:
    """Behind a slow server the writer spills what its intake queued, write after write.
    A stop that came while such a spill was on the disk let the send loop end right after
    it, and the batches the intake cut from what the store still held at the stop were
    neither delivered nor kept (tests/exporters/test_influx_stop_backlog.py lost the
    150,000 points published just before its stop, once in a full suite)."""
    store, sink = StateStore(), SlowSink(delay=0.1)
    writer = InfluxWriter(store, small_inventory(), config(tmp_path), backoff=(0.05, 0.05),
                          stats_interval=None, stop_grace=5, request_batches=1)
    spilling, release = asyncio.Event(), asyncio.Event()
    append_many = writer.buffer.append_many

    async def held(batches: list[tuple[bytes, int]]) -> tuple[int, OSError | None]:
        if not spilling.is_set():
            spilling.set()
            await release.wait()
        return await append_many(batches)

    task = asyncio.create_task(writer.serve(sink))
    await asyncio.sleep(0)
    sink.down = True
    store.publish(points(0, 100))
    await until(lambda: writer.buffer.points == 100, what="a backlog on disk")
    sink.down = False  # slow again: ten writes, and before each the loop spills its queue
    writer.buffer.append_many = held  # type: ignore[method-assign]
    await until(lambda: sink.begun > 0, what="a write to the slow server")
    store.publish(points(100, 10))  # cut and queued while the write takes its time
    await until(spilling.is_set, what="a spill of the queued batch, held")
    store.publish(points(110, 25))  # in the store, and some cut, when the stop comes
    task.cancel()
    await asyncio.sleep(0.1)  # the intake takes the rest and ends
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    kept = [float(line.split(b" value=")[1].split(b" ")[0])
            for f in (tmp_path / "buffer").glob("*.lp") for line in f.read_bytes().split(b"\n")
            if line.startswith(b"test_seq")]
    assert len(kept) == len(set(kept)), "no point kept twice"
    assert set(kept) | set(sink.values()) == {float(i) for i in range(135)}, \
        "every point delivered or kept"
