"""A VictoriaMetrics server for tests: start, stop, start again on the same port and data."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.support import free_port, require_binary, stop_process


class Victoria:
    """VictoriaMetrics accepting InfluxDB v2 writes at ``/api/v2/write``."""

    def __init__(self, tmp_path: Path) -> None:
        self.binary = require_binary("victoria-metrics")
        self.port = free_port()
        self.data = tmp_path / "vm-data"
        self.log_path = tmp_path / "vm.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.to_thread(
                subprocess.Popen,
                [self.binary, f"-httpListenAddr=127.0.0.1:{self.port}",
                 f"-storageDataPath={self.data}", "-loggerLevel=ERROR",
                 "-retentionPeriod=100y"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.proc.poll() is None, self.log_path.read_text()
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url + "/health") as resp:
                        if resp.status == 200:
                            return
                assert time.monotonic() < deadline, "victoria-metrics did not start"
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        await asyncio.to_thread(stop_process, proc, 30)

    async def export(self, match: str = '{__name__=~"pubnet_.*"}') -> list[dict[str, Any]]:
        """Raw samples of every matching series (``values``/``timestamps`` lists)."""
        import json

        async with aiohttp.ClientSession() as http:
            async with http.get(self.url + "/internal/force_flush") as resp:
                await resp.read()
            async with http.post(self.url + "/api/v1/export", data={"match[]": match}) as resp:
                assert resp.status == 200, await resp.text()
                text = await resp.text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    async def wait_for_points(self, expected: int, within: float = 90,
                              match: str = '{__name__=~"pubnet_.*"}') -> list[dict[str, Any]]:
        """Poll the export until it holds ``expected`` samples (or more), with a deadline."""
        deadline = time.monotonic() + within
        while True:
            series = await self.export(match)
            count = sum(len(s["values"]) for s in series)
            if count >= expected:
                return series
            assert time.monotonic() < deadline, f"{count} of {expected} points arrived"
            await asyncio.sleep(0.5)
