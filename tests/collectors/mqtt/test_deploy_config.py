"""The shipped ``deploy/mosquitto/mosquitto.conf`` runs and carries pubnet's traffic."""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path

import aiomqtt
import pytest

from collectors.mqtt.names import Result
from collectors.mqtt.topics import telemetry_topic
from inventory.model import Inventory
from pubnet import catalog
from pubnet.state import StateStore
from testbed.mosquitto import Mosquitto, make_tls, password_file
from tests.collectors.mqtt.conftest import collector_for, running
from tests.support import eventually, free_port, require_binary

SHIPPED = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto" / "mosquitto.conf"

pytestmark = pytest.mark.integration


def localised(text: str, folder: Path, tls_port: int, plain_port: int) -> str:
    """The shipped config with its container paths and ports moved into ``folder``."""
    replacements = {
        "/mosquitto/config/": f"{folder}/",
        "/mosquitto/data/": f"{folder}/",
        "listener 8883\n": f"listener {tls_port} 127.0.0.1\n",
        "listener 1883 127.0.0.1\n": f"listener {plain_port} 127.0.0.1\n",
    }
    for old, new in replacements.items():
        assert old in text, f"the shipped config no longer has {old!r}"
        text = text.replace(old, new)
    return f"user {getpass.getuser()}\n{text}"


async def test_shipped_mosquitto_config(tmp_path: Path, inventory: Inventory) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    for setting in ("persistence true", "max_queued_messages 2000000"):
        assert f"\n{setting}\n" in text
    tls = make_tls(tmp_path)
    password_file(require_binary("mosquitto_passwd"), tmp_path / "passwd",
                  {"pubnet": "pubnet-pass", "gw-1": "gw-pass"})
    tls_port, plain_port = free_port(), free_port()
    broker = Mosquitto(require_binary("mosquitto"), tmp_path, plain_port,
                       extra_ports=[tls_port],
                       config_text=localised(text, tmp_path, tls_port, plain_port))
    await asyncio.to_thread(broker.start)
    try:
        store = StateStore()
        collector = collector_for(plain_port, inventory, store, username="pubnet",
                                  password="pubnet-pass")
        async with running(collector):
            # a gateway over TLS with its own password
            async with aiomqtt.Client("127.0.0.1", tls_port, username="gw-1",
                                      password="gw-pass",
                                      tls_params=aiomqtt.TLSParameters(ca_certs=str(tls.ca))
                                      ) as gateway:
                await gateway.publish(telemetry_topic("S0001", "gw-1"),
                                      json.dumps({"uptime_s": 99}), qos=1)
            await eventually(lambda: collector.ingestor.results[Result.OK] == 1,
                             what="telemetry through the shipped config")
        assert store.latest("gw-1", catalog.DEVICE_UPTIME).value == 99  # type: ignore[union-attr]
    finally:
        await asyncio.to_thread(broker.stop)
