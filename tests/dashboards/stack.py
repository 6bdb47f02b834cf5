"""A small real fleet for the dashboards' queries: the simulator, ``pubnet run``, a
VictoriaMetrics standing in for InfluxDB, MQTT telemetry from the gateways that speak it,
and a real Prometheus scraping pubnet every second.

The fleet is healthy but for four things a NOC sees every day, so that the "what is down"
panels have something to show: an access point that never answered (its site stays up on
its second AP), a provincial router whose SNMPv3 user pubnet gets wrong (unknown_user), a
backbone interface down, and a site gateway that stops answering once every site was up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import yaml

from inventory.generate import NOC_CREDENTIAL, generate
from inventory.model import Inventory, Role
from inventory.writer import write_inventory
from pubnet.app.demo import demo_credentials
from pubnet.config import parse_config
from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
from tests.exporters.test_prometheus_scrape import prometheus_server
from tests.exporters.victoria import Victoria
from tests.support import free_port, prometheus_query, simulated_fleet_config, stop_process

SITES, SEED = 8, 3
"""A generated fleet with SNMP, ICMP and MQTT site gateways (and the whole backbone)."""
WRONG_CREDENTIAL = "noc-wrong-user"


@dataclass(frozen=True, slots=True)
class Faults:
    never_seen: str
    """An access point silent from the start (a second AP keeps its site up)."""
    unknown_user: str
    """A provincial router pubnet asks with a v3 user the device does not have."""
    link_down: tuple[str, str]
    """(device, interface) taken oper-down: the a-side of a backbone link."""
    cut_gateway: str
    """A site gateway silenced once every site was seen up."""
    cut_site: str


@dataclass(frozen=True, slots=True)
class Stack:
    prometheus: str
    inventory: Inventory
    faults: Faults
    started: float
    """When Prometheus started scraping (wall clock)."""


def choose_faults(inventory: Inventory) -> Faults:
    devices = inventory.devices
    aps_by_site: dict[str, list[str]] = {}
    for dev in devices.values():
        if dev.role is Role.ACCESS_POINT:
            aps_by_site.setdefault(dev.site_id, []).append(dev.device_id)
    gateways = {d.site_id: d for d in devices.values() if d.role is Role.SITE_GATEWAY}
    never_seen = sorted(ap for aps in aps_by_site.values() if len(aps) > 1 for ap in aps)[0]
    cut = sorted(g.device_id for g in gateways.values()
                 if g.profile == "router" and g.site_id != devices[never_seen].site_id)[0]
    provincial = sorted(d.device_id for d in devices.values()
                        if d.role is Role.PROVINCIAL_NODE)
    unknown_user = provincial[0]
    link = sorted((link for link in inventory.links.values()
                   if link.a_device.startswith("core-") and link.b_device != unknown_user),
                  key=lambda link: link.link_id)[0]
    return Faults(never_seen, unknown_user, (link.a_device, link.a_interface), cut,
                  devices[cut].site_id)


def _config(tmp_path: Path, metrics_port: int, mqtt_port: int,
            victoria: Victoria) -> dict[str, Any]:
    credentials = demo_credentials()
    # the NOC's keys, asked with a user the devices do not have
    credentials[WRONG_CREDENTIAL] = {**credentials[NOC_CREDENTIAL], "user": "nobody"}
    return simulated_fleet_config(
        metrics_port, mqtt_port, credentials=credentials,
        influxdb={"url": victoria.url, "token": "dash-influx-token", "org": "noc",
                  "bucket": "pubnet", "buffer_dir": str(tmp_path / "influx-buffer"),
                  "flush_interval": "1s"})


async def _telemetry(port: int, gateways: list[tuple[str, str]], stop: asyncio.Event) -> None:
    """Every second, each MQTT gateway reports clients per radio, WAN bytes and uptime."""
    start = time.time()
    while not stop.is_set():
        try:
            async with aiomqtt.Client("127.0.0.1", port) as client:
                while not stop.is_set():
                    elapsed = time.time() - start
                    for site, device in gateways:
                        payload = {"uptime_s": 3600 + elapsed,
                                   "clients": {"2g": 4, "5g": 3},
                                   "rx_bytes": {"wan": int(1e6 + 40_000 * elapsed)},
                                   "tx_bytes": {"wan": int(5e5 + 9_000 * elapsed)},
                                   "firmware": "OpenWrt 23.05.3"}
                        await client.publish(f"pubnet/v1/telemetry/{site}/{device}",
                                             json.dumps(payload), qos=1)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
        except aiomqtt.MqttError:  # pubnet's embedded broker is not up yet
            await asyncio.sleep(0.3)


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]


async def until(http: aiohttp.ClientSession, prom: str, promql: str, within: float,
                proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``promql`` returns something (a readable failure when pubnet died)."""
    deadline = time.monotonic() + within
    while not await prometheus_query(http, prom, promql):
        assert proc.poll() is None, "pubnet run exited:\n" + _tail(log)
        assert time.monotonic() < deadline, (
            f"no result for {promql} within {within:g}s; pubnet log:\n" + _tail(log))
        await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def running_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    base = generate(sites=SITES, seed=SEED)
    faults = choose_faults(base)
    network = f"127.{random.randint(100, 250)}.0.0"
    plan = AddressPlan(network, free_port(socket.SOCK_DGRAM, network[:-1] + "1"))
    polled = dataclasses.replace(base, devices={
        **base.devices,
        faults.unknown_user: dataclasses.replace(base.devices[faults.unknown_user],
                                                 credential=WRONG_CREDENTIAL)})
    inventory = simulated_inventory(polled, plan_addresses(base, plan))
    await asyncio.to_thread(write_inventory, inventory, tmp_path / "inventory")
    victoria = Victoria(tmp_path)
    await victoria.start()
    metrics_port, mqtt_port = free_port(), free_port()
    config = _config(tmp_path, metrics_port, mqtt_port, victoria)
    config_path = tmp_path / "pubnet.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    credentials = parse_config(config).credentials
    mqtt_gateways = [(d.site_id, d.device_id) for d in base.devices.values()
                     if d.profile == "mqtt"]
    log = tmp_path / "pubnet.log"
    stop = asyncio.Event()
    try:
        async with Fleet.from_inventory(base, plan, seed=SEED, credentials=credentials) as fleet:
            fleet.silence(faults.never_seen)
            fleet.link_down(*faults.link_down, trap=False)
            with log.open("wb") as out:
                proc = await asyncio.to_thread(
                    subprocess.Popen,
                    [sys.executable, "-m", "pubnet.cli", "run", "--config", str(config_path),
                     "--inventory", str(tmp_path / "inventory")],
                    stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
            telemetry = asyncio.create_task(_telemetry(mqtt_port, mqtt_gateways, stop))
            try:
                async with (prometheus_server(tmp_path, metrics_port) as prom,
                            aiohttp.ClientSession() as http):
                    started = time.time()
                    # every site seen up, the SNMP poller's own counters published (every
                    # 10 s), rates computable, MQTT and Influx flowing
                    for promql in (f"count(pubnet_site_up == 1) == {len(base.sites)}",
                                   "pubnet_snmp_requests_total",
                                   "rate(pubnet_interface_receive_bytes_total[6s]) > 0",
                                   'pubnet_mqtt_messages_total{result="ok"} > 0',
                                   "pubnet_influx_points_written_total > 0",
                                   'pubnet_device_poll_status{status="unknown_user"} == 1',
                                   "pubnet_link_up == 0"):
                        await until(http, prom, promql, 60, proc, log)
                    fleet.silence(faults.cut_gateway)
                    await until(http, prom, f'pubnet_site_up{{site="{faults.cut_site}"}} == 0',
                                30, proc, log)
                    await asyncio.sleep(2.5)  # two more scrapes with the site down
                    yield Stack(prom, base, faults, started)
            finally:
                stop.set()
                await telemetry
                await asyncio.to_thread(stop_process, proc, 20)
    finally:
        await victoria.stop()
