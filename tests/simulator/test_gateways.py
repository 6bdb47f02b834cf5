"""Simulated MQTT gateways, read by pubnet's own MQTT collector through a real Mosquitto.

Before these, the ``mqtt``-profile gateways of a generated inventory (~1 site in 8) published
nothing, so pubnet showed them down after the allowed silence.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import pytest

from collectors.mqtt.names import Result
from inventory.generate import generate
from inventory.model import Inventory
from inventory.writer import write_inventory
from pubnet import catalog
from pubnet.model import PollStatus
from pubnet.state import StateStore
from simulator import AddressPlan
from simulator.fleet import gateway_devices
from simulator.gateways import BrokerSettings, MqttGateways
from testbed.mosquitto import Mosquitto, password_file
from tests.collectors.mqtt.conftest import collector_for, running
from tests.support import eventually, free_port, require_binary

pytestmark = pytest.mark.integration


def mqtt_ids(inventory: Inventory) -> list[str]:
    return sorted(d for d, dev in inventory.devices.items() if dev.profile == "mqtt")


def status_of(store: StateStore, device_id: str) -> PollStatus | None:
    state = store.status(device_id)
    return None if state is None else state.status


@pytest.fixture
def broker(tmp_path: Path) -> object:
    folder = tmp_path / "broker"
    folder.mkdir()
    passwords = password_file(require_binary("mosquitto_passwd"), folder / "passwd",
                              {"pubnet": "pubnet-pass", "gateway": "gw-pass"})
    with Mosquitto(require_binary("mosquitto"), folder, free_port(),
                   password_file=passwords) as running_broker:
        yield running_broker


async def test_collector_sees_gateways_up_and_a_powered_off_one_down(broker: Mosquitto) -> None:
    inventory = generate(sites=60, seed=2)
    ids = mqtt_ids(inventory)
    assert len(ids) >= 3
    store = StateStore()
    collector = collector_for(broker.port, inventory, store, username="pubnet",
                              password="pubnet-pass", heartbeat_interval="1s")
    settings = BrokerSettings(port=broker.port, username="gateway", password="gw-pass",
                              heartbeat=1.0)
    gateways = MqttGateways.from_devices(
        inventory, gateway_devices(inventory, AddressPlan(), seed=2), settings, seed=2)
    async with running(collector), gateways:
        assert gateways.stats.connected == len(ids)
        await eventually(lambda: all(status_of(store, d) is PollStatus.OK for d in ids),
                         what="every gateway up")
        # telemetry, not only `online`: counters and gauges reach the store
        await eventually(lambda: all(store.latest(d, catalog.DEVICE_CPU) is not None
                                     and store.latest(d, catalog.IF_RX_BYTES, (("ifname", "wan"),))
                                     is not None for d in ids), what="every gateway's telemetry")
        results = collector.ingestor.results
        assert results[Result.OK] >= 2 * len(ids)
        assert {r: n for r, n in results.items() if n and r is not Result.OK} == {}

        victim, others = ids[1], [d for d in ids if d != ids[1]]
        gateways.power_off(victim)
        await eventually(lambda: status_of(store, victim) is PollStatus.UNREACHABLE,
                         what="the will of the powered-off gateway")
        assert store.status(victim).detail == "last will: offline"  # type: ignore[union-attr]
        await asyncio.sleep(2.5)  # past down_after_missed × heartbeat for anyone silent
        assert all(status_of(store, d) is PollStatus.OK for d in others)
        assert status_of(store, victim) is PollStatus.UNREACHABLE

        gateways.power_on(victim)
        await eventually(lambda: status_of(store, victim) is PollStatus.OK, what="back up")

        # behind a cut fibre: silent, and once the broker drops the connection (its
        # keep-alive ran out) no reconnect and no `online` either until the cut is mended
        cut = others[0]
        gateways.silence(cut)
        link = gateways.gateways[cut].link
        assert link is not None and link.transport is not None
        link.transport.abort()
        await eventually(lambda: status_of(store, cut) is PollStatus.UNREACHABLE,
                         what="the will of the cut-off gateway")
        await asyncio.sleep(3.0)  # reconnect attempts would have come back by now
        assert status_of(store, cut) is PollStatus.UNREACHABLE
        gateways.silence(cut, silent=False)
        await eventually(lambda: status_of(store, cut) is PollStatus.OK,
                         what="the mended gateway back up")


async def test_cli_gateways_publish_with_a_password_file(broker: Mosquitto,
                                                         tmp_path: Path) -> None:
    """``python -m simulator --mqtt-url``: its gateways log in with the password from a file
    (never printed) and reach the collector."""
    inventory = generate(sites=30, seed=4)
    source = tmp_path / "inv"
    write_inventory(inventory, source)
    (tmp_path / "secret").write_text("gw-pass\n", encoding="utf-8")
    store = StateStore()
    collector = collector_for(broker.port, inventory, store, username="pubnet",
                              password="pubnet-pass")
    network = "127.203.0.0"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--inventory", str(source), "--network", network,
        "--port", str(free_port(socket.SOCK_DGRAM, "0.0.0.0")), "--mqtt-url",
        f"mqtt://127.0.0.1:{broker.port}", "--mqtt-username", "gateway",
        "--mqtt-password-file", str(tmp_path / "secret"), "--stats-every", "1s",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with running(collector):
            ids = mqtt_ids(inventory)
            await eventually(lambda: all(status_of(store, d) is PollStatus.OK for d in ids),
                             within=30, what="every gateway up")
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert (f'msg="mqtt gateways connected" connected={len(ids)} gateways={len(ids)} '
            .encode() in err)
    assert b"gw-pass" not in err
