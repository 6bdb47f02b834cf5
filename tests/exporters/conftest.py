"""Fixtures: a running exporter component, and real Prometheus / VictoriaMetrics servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from exporters.prometheus.endpoint import PrometheusExporter
from inventory.model import Inventory
from pubnet.app.components import build_http
from pubnet.app.runtime import Readiness
from pubnet.app.web import WebServer
from pubnet.config import Config, PrometheusConfig
from pubnet.state import StateStore
from tests.exporters.helpers import small_inventory


@dataclass
class RunningExporter:
    store: StateStore
    exporter: PrometheusExporter
    server: WebServer
    readiness: Readiness
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def run_exporter(
    config: PrometheusConfig, inventory: Inventory | None = None
) -> AsyncIterator[RunningExporter]:
    """The exporter and the HTTP listener serving its /metrics, wired as ``pubnet run``
    wires them."""
    inv = inventory if inventory is not None else small_inventory()
    store = StateStore()
    readiness = Readiness()
    parts = build_http(Config(prometheus=config), inv, store, readiness)
    readiness.track(parts)
    exporter, server, *_others = parts
    assert isinstance(exporter, PrometheusExporter) and isinstance(server, WebServer)
    tasks = [asyncio.create_task(part.run(), name=part.name) for part in parts]
    try:
        await asyncio.wait_for(server.ready.wait(), 30)
        assert server.bound is not None
        scheme = "https" if config.tls_cert_file else "http"
        yield RunningExporter(store, exporter, server, readiness, server.bound.port, scheme)
    finally:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def exporter_factory() -> Callable[..., contextlib.AbstractAsyncContextManager[RunningExporter]]:
    return run_exporter
