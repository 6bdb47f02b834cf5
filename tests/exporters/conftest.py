"""Fixtures: a running exporter component, and real Prometheus / VictoriaMetrics servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from exporters.prometheus.server import PrometheusExporter
from inventory.model import Inventory
from inventory.topology import Topology
from pubnet.config import Config, PrometheusConfig
from pubnet.app.runtime import Context
from pubnet.state import StateStore
from tests.exporters.helpers import small_inventory


@dataclass
class RunningExporter:
    ctx: Context
    component: PrometheusExporter
    port: int
    scheme: str = "http"

    @property
    def store(self) -> StateStore:
        return self.ctx.store

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def run_exporter(
    config: PrometheusConfig, inventory: Inventory | None = None
) -> AsyncIterator[RunningExporter]:
    inv = inventory if inventory is not None else small_inventory()
    ctx = Context(config=Config(prometheus=config), inventory=inv,
                  topology=Topology.build(inv))
    component = PrometheusExporter(ctx)
    task = asyncio.create_task(component.run(), name="prometheus")
    try:
        await asyncio.wait_for(component.wait_started(), 30)
        assert component.bound_port is not None
        scheme = "https" if config.tls_cert_file else "http"
        yield RunningExporter(ctx, component, component.bound_port, scheme)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def exporter_factory() -> Callable[..., contextlib.AbstractAsyncContextManager[RunningExporter]]:
    return run_exporter
