"""``pubnet run --config FILE`` serves /metrics; the embedded default turns it on."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from exporters.prometheus.endpoint import PrometheusExporter
from inventory.model import Inventory
from inventory.topology import Topology
from pubnet.app import components
from pubnet.app.runtime import Context
from pubnet.config import default_config
from tests.support import free_port


def test_default_config_builds_the_exporter() -> None:
    inv = Inventory()
    ctx = Context(config=default_config(), inventory=inv, topology=Topology.build(inv))
    built = components.build(ctx)
    assert any(isinstance(c, PrometheusExporter) for c in built)
    assert "prometheus" in {p.name for p in components.plan(ctx)}


async def test_pubnet_run_serves_metrics_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "pubnet.yaml"
    config.write_text(f"prometheus:\n  listen: 127.0.0.1:{port}\n", encoding="utf-8")
    proc = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "pubnet.cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                        if resp.status == 200:
                            break
                assert time.monotonic() < deadline, "pubnet run did not serve /readyz"
                await asyncio.sleep(0.2)
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
        assert "# TYPE pubnet_exporter_scrape_duration_seconds gauge" in text
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            await asyncio.to_thread(proc.wait)
        if proc.stdout is not None:
            proc.stdout.close()


def test_influxdb_section_turns_the_writer_on(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from exporters.influx.writer import InfluxWriter
    from pubnet.config import parse_config

    monkeypatch.setenv("INFLUX_TOKEN", "s3cret-token")
    config = parse_config({"influxdb": {"url": "http://127.0.0.1:8086",
                                        "token": "${INFLUX_TOKEN}", "org": "noc",
                                        "bucket": "pubnet", "buffer_dir": "buf"}},
                          base_dir=tmp_path)
    assert config.influxdb is not None
    assert config.influxdb.buffer_dir == tmp_path / "buf"
    assert "s3cret-token" not in repr(config)
    inv = Inventory()
    ctx = Context(config=config, inventory=inv, topology=Topology.build(inv))
    assert any(isinstance(c, InfluxWriter) for c in components.build(ctx))
    assert parse_config({}).influxdb is None
