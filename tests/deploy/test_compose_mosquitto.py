"""The compose stack's Mosquitto, run for real: its start script turns the Docker secrets
into a hashed password file, the broker starts with the compose config (container paths and
the port moved into a temporary folder), pubnet's collector logs in with its password, the
simulated gateways with theirs, and an anonymous client is refused."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from inventory.generate import generate
from pubnet.model import PollStatus
from pubnet.state import StateStore
from simulator import AddressPlan
from simulator.fleet import gateway_devices
from simulator.gateways import BrokerSettings, MqttGateways
from tests.collectors.mqtt.conftest import collector_for, running
from tests.support import eventually, free_port, require_binary, stop_process

pytestmark = pytest.mark.integration

FOLDER = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "mosquitto"


def localised(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"the compose file no longer has {old!r}"
        text = text.replace(old, new)
    return text


async def test_compose_mosquitto_starts_with_passwords_from_the_secrets(
        tmp_path: Path) -> None:
    require_binary("mosquitto")
    require_binary("mosquitto_passwd")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "mqtt_password").write_text("pubnet-ผ่าน-1\n", encoding="utf-8")
    (secrets / "mqtt_gateway_password").write_text("gateway-pass-2\n", encoding="utf-8")
    shutil.copytree(FOLDER / "conf.d", tmp_path / "conf.d")  # only tls.conf.example: not loaded
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"user {getpass.getuser()}\n" + localised(
        (FOLDER / "mosquitto.conf").read_text(encoding="utf-8"), {
            "listener 1883\n": f"listener {port} 127.0.0.1\n",
            "/mosquitto/config/conf.d": str(tmp_path / "conf.d"),
            "/mosquitto/data/": f"{tmp_path}/",
            "/mosquitto/run/passwd": str(tmp_path / "run" / "passwd"),
            "log_type information\n": "",
        }), encoding="utf-8")
    script = tmp_path / "entrypoint.sh"
    script.write_text(localised((FOLDER / "entrypoint.sh").read_text(encoding="utf-8"), {
        "run=/mosquitto/run\n": f"run={tmp_path / 'run'}\n",
        "/run/secrets/": f"{secrets}/",
        "/mosquitto/config/mosquitto.conf": str(config),
    }), encoding="utf-8")
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = await asyncio.to_thread(subprocess.Popen, ["/bin/sh", str(script)], stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        passwd = tmp_path / "run" / "passwd"
        await eventually(lambda: passwd.exists() and "$7$" in passwd.read_text(), 10,
                         "a hashed password file")
        text = passwd.read_text(encoding="utf-8")
        assert "pubnet-ผ่าน-1" not in text and "gateway-pass-2" not in text
        assert sorted(line.split(":")[0] for line in text.splitlines()) == ["gateway", "pubnet"]
        assert passwd.stat().st_mode & 0o077 == 0

        inventory = generate(sites=30, seed=4)
        store = StateStore()
        collector = collector_for(port, inventory, store, username="pubnet",
                                  password="pubnet-ผ่าน-1")
        gateways = MqttGateways.from_devices(
            inventory, gateway_devices(inventory, AddressPlan(), seed=5),
            BrokerSettings(port=port, username="gateway", password="gateway-pass-2",
                           heartbeat=1.0), seed=5)
        async with running(collector, within=30), gateways:
            ids = list(gateways.gateways)
            assert gateways.stats.connected == len(ids) > 0
            await eventually(lambda: all(
                (s := store.status(d)) is not None and s.status is PollStatus.OK
                for d in ids), 20, "every gateway up through the compose broker")
            with pytest.raises(aiomqtt.MqttError):  # no password, no entry
                async with aiomqtt.Client("127.0.0.1", port, identifier="anonymous"):
                    pass
        wrong = MqttGateways.from_devices(
            inventory, gateway_devices(inventory, AddressPlan(), seed=5)[:1],
            BrokerSettings(port=port, username="gateway", password="wrong"), seed=5)
        async with wrong:
            assert (wrong.stats.connected, wrong.stats.refused) == (0, 1)
        assert proc.poll() is None
    finally:
        await asyncio.to_thread(stop_process, proc, 10)
        log.close()
