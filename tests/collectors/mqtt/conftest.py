"""Fixtures for the MQTT collector tests: a small inventory, Mosquitto, a running collector."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collectors.mqtt.component import MqttCollector
from inventory.model import Device, Inventory, Role, Site, SiteKind
from pubnet.config import MqttConfig
from pubnet.state import StateStore
from testbed.mosquitto import Mosquitto, make_tls, password_file
from tests.support import free_port, require_binary


def small_inventory() -> Inventory:
    """Two village sites: an MQTT gateway and an SNMP access point at each."""
    inv = Inventory()
    for n, (province, name_en) in enumerate((("50", "Chiang Mai"), ("34", "Ubon Ratchathani"))):
        site = f"S{n + 1:04d}"
        inv.sites[site] = Site(site, f"หมู่บ้าน {n + 1}", SiteKind.VILLAGE_WIFI, province,
                               f"{province}01", f"{province}0101", str(n + 1), 18.0, 99.0,
                               province_name_th="เชียงใหม่", province_name_en=name_en)
        inv.devices[f"gw-{n + 1}"] = Device(f"gw-{n + 1}", site, Role.SITE_GATEWAY,
                                            "10.0.0.1", None, "mqtt", "", "")
        inv.devices[f"ap-{n + 1}"] = Device(f"ap-{n + 1}", site, Role.ACCESS_POINT,
                                            "10.0.0.2", None, "access-point", "v2",
                                            f"gw-{n + 1}")
    return inv


@pytest.fixture
def inventory() -> Inventory:
    return small_inventory()


@dataclass
class Secured:
    """A broker plus what pubnet and a gateway need to reach it."""

    broker: Mosquitto
    pubnet: dict[str, Any]
    """``collector_for`` overrides (url, credentials, CA, client certificate)."""
    gateway: dict[str, Any]
    """``aiomqtt.Client`` keyword arguments for a publishing gateway, port included."""


@pytest.fixture(params=["plain", "tls-password"])
def any_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Secured]:
    """Mosquitto twice: plain and anonymous; TLS with a client certificate and passwords."""
    binary = require_binary("mosquitto")
    folder = tmp_path / "broker"
    folder.mkdir()
    if request.param == "plain":
        with Mosquitto(binary, folder, free_port()) as broker:
            yield Secured(broker, {}, {"hostname": "127.0.0.1", "port": broker.port})
        return
    tls = make_tls(folder)
    passwords = password_file(require_binary("mosquitto_passwd"), folder / "passwd",
                              {"pubnet": "s3cret-ผ่าน", "gw-1": "gw-pass"})
    (folder / "mqtt-password").write_text("s3cret-ผ่าน\n", encoding="utf-8")
    with Mosquitto(binary, folder, free_port(), extra_ports=[free_port()], tls=tls,
                   password_file=passwords) as broker:
        yield Secured(
            broker,
            {"url": f"mqtts://127.0.0.1:{broker.port}", "username": "pubnet",
             "password": f"file:{folder / 'mqtt-password'}", "ca_file": str(tls.ca),
             "cert_file": str(tls.client_cert), "key_file": str(tls.client_key)},
            {"hostname": "127.0.0.1", "port": broker.extra_ports[0], "username": "gw-1",
             "password": "gw-pass"},
        )


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    binary = require_binary("mosquitto")
    folder = tmp_path / "broker"
    folder.mkdir()
    with Mosquitto(binary, folder, free_port()) as broker:
        yield broker


@contextlib.asynccontextmanager
async def running(collector: MqttCollector, connected: bool = True,
                  within: float = 20.0) -> AsyncIterator[MqttCollector]:
    """Run the collector in a task; wait until it is subscribed; cancel it afterwards."""
    task = asyncio.create_task(collector.run(), name="mqtt-test")
    try:
        if connected:
            await asyncio.wait_for(collector.wait_connected(), within)
        yield collector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def collector_for(port: int, inventory: Inventory, store: StateStore | None = None,
                  **overrides: Any) -> MqttCollector:
    settings: dict[str, Any] = {
        "url": f"mqtt://127.0.0.1:{port}", "client_id": "pubnet-test",
        "reconnect_min": "50ms", "reconnect_max": "300ms",
    }
    settings.update(overrides)
    config = MqttConfig.model_validate(settings)
    return MqttCollector(config, inventory, store or StateStore(), stats_interval=0.2)
