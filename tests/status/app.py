"""The status page's routes served as ``pubnet run`` serves them: alerting, the Prometheus
exporter, the status component and the one HTTP listener, over a store the test drives."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt

from alerting.incident_source import AlertingIncidents
from alerting.service import AlertingService
from dashboards.status import StatusPage
from inventory.model import Inventory
from inventory.topology import Topology
from pubnet.app.components import build_http
from pubnet.app.runtime import Readiness, run_components
from pubnet.app.web import WebServer
from pubnet.config import Config, parse_config
from pubnet.state import StateStore

OPERATOR = "somchai"
PASSWORD = "ขอนแก่น-noc-2569"


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def config_for(tmp_path: Path, *, operators: bool = True, alerting: bool = True,
               readers: dict[str, str] | None = None) -> Config:
    data: dict[str, Any] = {
        "prometheus": {"listen": "127.0.0.1:0", "basic_auth_users": readers or {}},
        "history": None,
        "snmp": {"interval": 5},
        "alerting": {"database": str(tmp_path / "pubnet.db"), "down_after": 2,
                     "tick": "50ms", "group_wait": "200ms"} if alerting else None,
    }
    if operators:
        data["web"] = {"operators": {OPERATOR: hashed(PASSWORD)}}
    return parse_config(data, base_dir=tmp_path)


@dataclass
class Running:
    store: StateStore
    status: StatusPage
    alerting: AlertingService | None
    base: str
    session: aiohttp.ClientSession

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.get(self.base + path, **kwargs) as resp:
            body = await resp.read()
            if resp.content_type.endswith("json"):
                return resp.status, await resp.json(content_type=None)
            return resp.status, body

    async def post(self, path: str, data: bytes | str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.post(self.base + path, data=data, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)


@contextlib.asynccontextmanager
async def running(config: Config, inventory: Inventory) -> AsyncIterator[Running]:
    store = StateStore()
    readiness = Readiness()
    alerting = None
    parts: list[Any] = []
    if config.alerting is not None:
        alerting = AlertingService(config.alerting, inventory, Topology.build(inventory),
                                   store)
        parts.append(alerting)
    parts += build_http(config, inventory, store, readiness,
                        AlertingIncidents(alerting) if alerting is not None else None)
    readiness.track(parts)
    server = next(p for p in parts if isinstance(p, WebServer))
    status = next(p for p in parts if isinstance(p, StatusPage))
    stop = asyncio.Event()
    task = asyncio.create_task(run_components(parts, stop))
    try:
        for part in parts:
            await asyncio.wait_for(part.ready.wait(), 15)
        assert server.bound is not None
        async with aiohttp.ClientSession() as session:
            yield Running(store, status, alerting, f"http://127.0.0.1:{server.bound.port}",
                          session)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
