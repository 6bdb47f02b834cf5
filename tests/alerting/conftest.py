"""Fixtures for alerting: a webhook receiver that checks signatures, and a running service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from alerting.channels import verify_signature
from alerting.service import AlertingService
from inventory.model import Inventory
from inventory.topology import Topology
from pubnet.config import parse_config
from pubnet.state import StateStore
from testbed.http import serving
from tests.alerting.builders import district_inventory
from tests.support import free_port

SECRET = "hook-secret-4f9a"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class HttpReceiver:
    """A local HTTP server recording requests; ``fail[path]`` status codes or whole
    responses are answered (and not recorded as accepted) before it starts accepting."""

    port: int = 0
    accepted: list[Received] = field(default_factory=list)
    attempts: list[Received] = field(default_factory=list)
    fail: dict[str, list[int | web.Response]] = field(default_factory=dict)
    bad_signatures: int = 0
    hold: asyncio.Event | None = None
    response: dict[str, Any] = field(default_factory=lambda: {"ok": True})

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.accepted if r.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        got = Received(request.path, dict(request.headers), body)
        self.attempts.append(got)
        if self.hold is not None:
            await self.hold.wait()
        failures = self.fail.get(request.path)
        if failures:
            failure = failures.pop(0)
            return failure if isinstance(failure, web.Response) else web.Response(status=failure)
        signature = request.headers.get("X-Pubnet-Signature")
        if signature is not None and not verify_signature(SECRET.encode(), body, signature):
            self.bad_signatures += 1
            return web.Response(status=401)
        self.accepted.append(got)
        return web.json_response(self.response)


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    rec = HttpReceiver(port=free_port())
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", rec.handle)
    async with serving(app, rec.port):
        try:
            yield rec
        finally:
            if rec.hold is not None:
                rec.hold.set()


def alerting_config(tmp_path: Path, routes: list[dict[str, Any]],
                    channels: dict[str, dict[str, Any]], **extra: Any) -> Any:
    section: dict[str, Any] = {
        "database": str(tmp_path / "pubnet.db"),
        "down_after": 3,
        "tick": "50ms",
        "group_wait": "300ms",
        "delivery": {"initial_backoff": "50ms", "max_backoff": "200ms"},
        "routes": routes,
        "channels": channels,
    }
    section.update(extra)
    config = parse_config({"alerting": section}, base_dir=tmp_path)
    assert config.alerting is not None
    return config


@dataclass
class Running:
    service: AlertingService
    store: StateStore
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


StartService = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_service() -> AsyncIterator[StartService]:
    running: list[Running] = []

    async def start(config: Any, inventory: Inventory | None = None,
                    store: StateStore | None = None, **kwargs: Any) -> Running:
        inv = inventory or district_inventory()
        store = store or StateStore()
        service = AlertingService(config.alerting, inv, Topology.build(inv), store,
                                  broker=config.mqtt, **kwargs)
        task = asyncio.create_task(service.run())
        started = asyncio.create_task(service.ready.wait())
        done, _ = await asyncio.wait({task, started}, timeout=15,
                                     return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        assert started in done, "alerting did not start"
        handle = Running(service, store, task)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        await handle.stop()
