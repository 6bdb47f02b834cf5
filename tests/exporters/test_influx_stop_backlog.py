"""A stop with a large backlog and a slow InfluxDB: within budget, nothing lost, loop free.

At 25,000–50,000 devices the writer used to fall behind a slow server, hold its backlog in
memory, and at SIGTERM encode what the store still held for it in one go on the event loop
and persist its queue a batch at a time; ``pubnet run`` then took 10–18 s to exit. Here a
server that takes a second per write faces 750,000 points: the writer must keep its memory
bounded (spilling to the disk buffer), stop within ``stop_grace`` plus a little, never
stall the loop for long while doing so, and keep on disk every point the server did not
take; the next start delivers exactly those to a real VictoriaMetrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from exporters.influx.writer import QUEUE_MAX_BATCHES, InfluxWriter
from pubnet.config import InfluxConfig
from pubnet.model import Observation, Source
from pubnet.state import StateStore
from tests.exporters.helpers import small_inventory
from tests.exporters.victoria import Victoria
from tests.support import eventually as until

pytestmark = pytest.mark.integration

BATCH = 5_000
STOP_GRACE = 1.0
POLL = 60
"""Observations per publish, about one poll of one device."""


class SlowInflux:
    """Answers each write after ``delay`` seconds, keeping the values it took."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.values: set[int] = set()
        self.writes = 0

    async def _write(self, request: web.Request) -> web.Response:
        self.writes += 1
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        await asyncio.sleep(self.delay)
        self.values.update(_values(body))
        return web.Response(status=204)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        app = web.Application(client_max_size=1 << 28)
        app.router.add_post("/api/v2/write", self._write)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


def _values(body: bytes) -> list[int]:
    return [int(float(line.split(b" value=")[1].split(b" ")[0]))
            for line in body.split(b"\n") if line.startswith(b"test_backlog")]


def on_disk(buffer_dir: Path) -> list[int]:
    return [v for seg in sorted(buffer_dir.glob("*.lp")) for v in _values(seg.read_bytes())]


def config(url: str, buffer_dir: Path) -> InfluxConfig:
    return InfluxConfig.model_validate({
        "url": url, "token": SecretStr("t0ken"), "org": "noc", "bucket": "pubnet",
        "batch_size": BATCH, "flush_interval": 0.2, "timeout": 30,
        "buffer_dir": buffer_dir, "buffer_max_bytes": 1 << 30})


def publish(store: StateStore, start: int, count: int) -> None:
    """``count`` points as polls of ``POLL`` series of 1,000 devices, value = sequence."""
    for first in range(start, start + count, POLL):
        store.publish([
            Observation(f"ap-{i % 1000}", "test_backlog", float(i), 1_700_000_000 + i / 1e4,
                        Source.SNMP, (("radio", f"r{i % POLL}"),))
            for i in range(first, min(first + POLL, start + count))])


class StallMeter:
    """The longest the event loop went without running a 5 ms ticker, in the loop
    thread's own CPU time: work that did not yield. Wall-clock gaps also count the
    machine's other load (this test once measured 0.31 s late in a full suite on a
    shared 2-core machine); the old stop, which encoded its whole backlog in one go on the
    loop, spent its seconds on the loop's own CPU."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_wall = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last, last_cpu = time.perf_counter(), time.thread_time()
        while True:
            await asyncio.sleep(0.005)
            now, now_cpu = time.perf_counter(), time.thread_time()
            self.worst = max(self.worst, now_cpu - last_cpu)
            self.worst_wall = max(self.worst_wall, now - last - 0.005)
            last, last_cpu = now, now_cpu

    def __enter__(self) -> StallMeter:
        self._task = asyncio.create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_stop_with_a_large_backlog_and_a_slow_server(tmp_path: Path) -> None:
    buffer_dir = tmp_path / "buffer"
    store = StateStore()
    slow = SlowInflux(delay=1.0)
    total = 0
    async with slow.serving() as url:
        writer = InfluxWriter(store, small_inventory(), config(url, buffer_dir),
                              stats_interval=None, stop_grace=STOP_GRACE)
        task = asyncio.create_task(writer.run())
        await asyncio.wait_for(writer.ready.wait(), 30)
        # the fleet outpaces the server: far more than QUEUE_MAX_BATCHES batches
        for _ in range(12):
            publish(store, total, 50_000)
            total += 50_000
            await asyncio.sleep(0.05)
        await until(lambda: writer.buffer.points > 0, within=30)
        assert writer._queue.qsize() <= QUEUE_MAX_BATCHES + 2, "the queue stays bounded"
        # and the store holds 150,000 more for the writer when the stop comes
        publish(store, total, 150_000)
        total += 150_000
        with StallMeter() as stall:
            started = time.perf_counter()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 30)
            took = time.perf_counter() - started
    kept = on_disk(buffer_dir)
    delivered = slow.values
    assert took < STOP_GRACE + 1.5, f"the stop took {took:.2f}s"
    assert stall.worst < 0.25, (f"the loop ran {stall.worst:.3f}s of work without "
                                f"yielding while stopping ({stall.worst_wall:.3f}s wall)")
    assert len(kept) == len(set(kept)), "no point kept twice"
    assert set(kept) | delivered == set(range(total)), "every point delivered or kept"
    assert writer.buffer.points == len(kept)

    # the next start delivers what was kept, to a real VictoriaMetrics
    vm = Victoria(tmp_path)
    await vm.start()
    try:
        again = InfluxWriter(StateStore(), small_inventory(), config(vm.url, buffer_dir),
                             stats_interval=None)
        task = asyncio.create_task(again.run())
        try:
            series = await vm.wait_for_points(len(kept), within=120,
                                              match='{__name__=~"test_backlog.*"}')
            await until(lambda: not again.buffer, within=60)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 30)
    finally:
        await vm.stop()
    arrived = {int(v) for s in series for v in s["values"]}
    assert arrived == set(kept)
    assert not list(buffer_dir.glob("*.lp")), "the replayed backlog was removed"
    print(f"stop {took:.2f}s, worst stall {stall.worst * 1000:.0f} ms "
          f"({stall.worst_wall * 1000:.0f} ms wall); {len(delivered)} "
          f"delivered before, {len(kept)} kept and delivered after the restart")
