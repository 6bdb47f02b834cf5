"""The Influx writer on a saturated event loop (issue 15: 100,000 devices).

There a loop turn takes ~0.4 s and a write request costs turns, not bytes: one request at
a time through influxdb-client (~9 turns each with the writer's own hops), the writer
wrote 7,142 of ~54,000 points/s and spilled the rest to disk; and its stop waited out the
2 s grace on a request that could not finish and then spent more turns spilling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from exporters.influx.writer import InfluxWriter
from pubnet.model import Observation, Source
from pubnet.state import StateStore
from tests.collectors.snmp.test_poller import with_fields
from tests.exporters.helpers import small_inventory
from tests.exporters.test_influx_writer import ScriptedSink, config, points
from tests.exporters.victoria import Victoria
from tests.support import eventually as until

TURN = 0.25
"""Seconds each turn of the busy loop takes (tasks burning 5 ms each between yields)."""


class BusyLoop:
    """Keeps every turn of the event loop ``TURN`` long and counts the turns."""

    def __init__(self) -> None:
        self.turns = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def _burn(self) -> None:
        while True:
            end = time.perf_counter() + 0.005
            while time.perf_counter() < end:
                pass
            await asyncio.sleep(0)

    async def _count(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)

    def __enter__(self) -> BusyLoop:
        self._tasks = [asyncio.create_task(self._burn()) for _ in range(int(TURN / 0.005))]
        self._tasks.append(asyncio.create_task(self._count()))
        return self

    def __exit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()


def polls(start: int, count: int) -> Iterator[list[Observation]]:
    """``count`` points as polls of 50 series of 1,000 devices, value = sequence."""
    for first in range(start, start + count, 50):
        yield [Observation(f"ap-{i % 1000}", "test_busy", float(i),
                           1_700_000_000 + i / 1e4, Source.SNMP, (("radio", f"r{i % 50}"),))
               for i in range(first, min(first + 50, start + count))]


@pytest.mark.integration
async def test_a_busy_loop_costs_the_writer_few_turns_per_point(tmp_path: Path) -> None:
    """200,000 points (40 batches) to a real VictoriaMetrics on a loop of 0.25 s turns:
    one merged request at a time through influxdb-client took ~50 turns; requests in
    worker threads, four at once while the loop is busy, take a third of that."""
    vm = Victoria(tmp_path)
    await vm.start()
    store = StateStore()
    cfg = config(tmp_path, url=vm.url, batch_size=5000, flush_interval=0.2, timeout=30,
                 buffer_max_bytes=1 << 30)
    writer = InfluxWriter(store, small_inventory(), cfg, stats_interval=None)
    task = asyncio.create_task(writer.run())
    try:
        await asyncio.wait_for(writer.ready.wait(), 30)
        with BusyLoop() as loop:
            await asyncio.sleep(3)  # the writer sees the loop busy (a few turn samples)
            before = loop.turns
            total = 200_000
            for turn in range(10):  # 20,000 a turn: 54,000 points/s on 0.37 s turns
                for poll in polls(turn * 20_000, 20_000):
                    store.publish(poll)
                await asyncio.sleep(0)
            await until(lambda: writer.stats.points_written == total, within=60,
                        what="every point written")
            turns = loop.turns - before
        assert not writer.buffer, "nothing spilled to disk"
        assert turns <= 25, f"{turns} loop turns to write {total:,} points"
        series = await vm.wait_for_points(total, match='{__name__=~"test_busy.*"}')
        assert sorted(int(v) for s in series for v in s["values"]) == list(range(total))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        await vm.stop()


async def test_a_stop_behind_a_disk_backlog_spills_at_once(tmp_path: Path) -> None:
    """With a backlog on disk the replay in flight holds nothing that is not on disk, and
    whatever is in memory must queue behind the backlog: the stop cancels the request
    at once (it waited out the 2 s grace) and spills, losing nothing."""
    store, sink = StateStore(), ScriptedSink()
    sink.down = True
    writer = InfluxWriter(store, small_inventory(), config(tmp_path, timeout=60),
                          backoff=(0.05, 0.05), stats_interval=None)
    task = asyncio.create_task(writer.serve(sink))
    await asyncio.sleep(0)
    store.publish(points(0, 100))
    await until(lambda: writer.buffer.points == 100)
    sink.down, sink.hang = False, True  # the replay's request now never answers
    calls = sink.calls
    await until(lambda: sink.calls > calls)
    store.publish(points(100, 55))
    started = time.perf_counter()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    took = time.perf_counter() - started
    assert took < 1.0, f"the stop took {took:.2f}s"
    kept = sorted(float(line.split(b" value=")[1].split(b" ")[0])
                  for f in (tmp_path / "buffer").glob("*.lp")
                  for line in f.read_bytes().split(b"\n"))
    assert kept == [float(i) for i in range(155)], "every point kept, once"
    assert writer.buffer.points == 155


class RefusingInflux:
    """Answers writes with a fixed status and InfluxDB's JSON error body."""

    def __init__(self, status: int) -> None:
        self.status = status

    async def _write(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=self.status, content_type="application/json",
                            text=json.dumps({"code": "x", "message": f"no {self.status}"}))

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/api/v2/write", self._write)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


@pytest.mark.parametrize("status", [401, 503], ids=["refused-dropped", "unavailable-kept"])
async def test_the_http_sink_reports_refusals_as_influxdb_client_did(
        tmp_path: Path, status: int, caplog: pytest.LogCaptureFixture) -> None:
    """A 4xx drops the batch, counted under its status and logged with the server's
    message; a 5xx keeps it on disk: the error shapes the writer sorts by."""
    store = StateStore()
    async with RefusingInflux(status).serving() as url:
        writer = InfluxWriter(store, small_inventory(), config(tmp_path, url=url),
                              backoff=(5, 5), stats_interval=None)
        with caplog.at_level(logging.WARNING, "pubnet.exporters.influx"):
            task = asyncio.create_task(writer.run())
            await asyncio.wait_for(writer.ready.wait(), 10)
            store.publish(points(0, 5))
            if status == 401:
                await until(lambda: writer.stats.dropped.get("http_401") == 5)
            else:
                await until(lambda: writer.buffer.points == 5)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
    logged = "\n".join(with_fields(r) for r in caplog.records)
    if status == 401:
        assert "detail=no 401" in logged and not writer.buffer
    else:
        assert writer.stats.dropped == {} and writer.buffer.points == 5
    assert "t0ken" not in logged
