"""SIGTERM while InfluxDB hangs: ``pubnet run`` exits within 10 s and loses nothing.

The InfluxDB stand-in accepts the write request and never answers (a server stuck behind a
full disk or a dead proxy). ``pubnet run`` must cancel the write after its short grace, keep
the batch in the disk buffer, and exit well within the 10 s a service manager allows; a
second ``pubnet run`` against a real VictoriaMetrics then delivers exactly those points.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.exporters.victoria import Victoria
from tests.support import stop_process

pytestmark = pytest.mark.integration


class HangingInflux:
    """Reads each HTTP request's head, then says nothing until the test ends."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.got_request = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head.split(b"\r\n", 1)[0])
            self.got_request.set()
            await asyncio.Event().wait()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            for writer in self._writers:
                writer.close()
            server.close()
            await server.wait_closed()


def write_config(path: Path, url: str, buffer_dir: Path) -> None:
    path.write_text(
        "prometheus: null\n"
        "influxdb:\n"
        f"  url: {url}\n"
        "  token: not-a-real-token\n"
        "  org: noc\n"
        "  bucket: pubnet\n"
        "  flush_interval: 0.2s\n"
        "  timeout: 30s\n"  # a slow link: far longer than a stop may take
        f"  buffer_dir: {buffer_dir}\n",
        encoding="utf-8",
    )


def start_pubnet(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pubnet.cli", "run", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT)


def buffered_points(buffer_dir: Path) -> set[tuple[str, int]]:
    """(measurement, timestamp in ms) of every line in the buffer's segment files."""
    found = set()
    for segment in sorted(buffer_dir.glob("*.lp")):
        for line in segment.read_bytes().decode().splitlines():
            measurement = line.split(",", 1)[0].split(" ", 1)[0]
            found.add((measurement, int(line.rsplit(" ", 1)[1]) // 1_000_000))
    return found


async def test_sigterm_with_a_hanging_influx_exits_fast_and_keeps_the_batch(
        tmp_path: Path) -> None:
    buffer_dir = tmp_path / "influx-buffer"
    config = tmp_path / "pubnet.yaml"
    log = tmp_path / "pubnet.log"
    hanging = HangingInflux()
    async with hanging.serving() as port:
        write_config(config, f"http://127.0.0.1:{port}", buffer_dir)
        proc = await asyncio.to_thread(start_pubnet, config, log)
        try:
            # the writer publishes its own counters at start: one batch, sent and stuck
            await asyncio.wait_for(hanging.got_request.wait(), 30)
            assert hanging.requests[0].startswith(b"POST /api/v2/write")
            await asyncio.sleep(0.5)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 30)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                await asyncio.to_thread(stop_process, proc)
    text = log.read_text("utf-8")
    assert code == 0, text
    assert took < 10.0, f"pubnet took {took:.1f}s to stop with InfluxDB hanging\n{text}"
    assert "influx write cancelled at shutdown" in text, text
    kept = buffered_points(buffer_dir)
    assert kept, f"the batch in flight was not kept in {buffer_dir}\n{text}"
    assert {m for m, _ in kept} >= {"pubnet_influx_points_written_total",
                                    "pubnet_influx_buffer_points"}

    # a restart against a real server delivers exactly what was kept
    vm = Victoria(tmp_path)
    await vm.start()
    try:
        write_config(config, vm.url, buffer_dir)
        second = await asyncio.to_thread(start_pubnet, config, tmp_path / "pubnet2.log")
        try:
            deadline = time.monotonic() + 60
            while True:
                series = await vm.export()
                arrived = {(s["metric"]["__name__"].removesuffix("_value"), ts)
                           for s in series for ts in s["timestamps"]}
                if kept <= arrived:
                    break
                assert second.poll() is None, (tmp_path / "pubnet2.log").read_text("utf-8")
                assert time.monotonic() < deadline, f"missing {sorted(kept - arrived)[:5]}"
                await asyncio.sleep(0.5)
        finally:
            await asyncio.to_thread(stop_process, second)
        assert not list(buffer_dir.glob("*.lp")), "the replayed backlog was removed"
    finally:
        await vm.stop()
    print(f"stop took {took:.2f}s; {len(kept)} buffered points delivered after restart")
