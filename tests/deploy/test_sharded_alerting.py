"""Issue 15, "beyond one machine", end to end in one run: a real Mosquitto, the fleet
simulator, two polling shards (``pubnet run --shard 1/2`` and ``--shard 2/2``) and one
``pubnet run --role alerting``, all real processes on loopback.

- every device is polled by exactly one shard, and the union of the shards'
  ``pubnet_device_up`` is the inventory;
- a district cut whose sites span both shards gives exactly ONE incident on the alerting
  instance (``pubnet alerts list``), which resolves when the district comes back;
- SIGKILL of one shard (its last will fires) gives exactly one ``collector_down`` incident
  naming the shard and what it watched, and no device incident for its devices;
- the shard restarted, the ``collector_down`` incident resolves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml

from inventory.generate import generate
from inventory.model import Inventory, Role
from inventory.topology import Topology
from inventory.writer import write_inventory
from pubnet.config import parse_config
from pubnet.shard import Shard, owner, select, shard_key
from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
from testbed.mosquitto import Mosquitto
from tests.support import free_port, require_binary, stop_process

pytestmark = pytest.mark.integration

T = TypeVar("T")
UP = re.compile(r'^pubnet_device_up\{[^}]*device="([^"]+)"[^}]*\} (\S+)$', re.M)
SITE_UP = re.compile(r'^pubnet_site_up\{[^}]*site="([^"]+)"[^}]*\} \S+$', re.M)
CREDENTIALS = {
    "village-v2": {"version": "2c", "community": "village-community"},
    "noc-v3": {"version": "3", "user": "noc", "auth_protocol": "sha256",
               "auth_key": "noc-auth-key-1", "priv_protocol": "aes128",
               "priv_key": "noc-priv-key-1"},
}


def snmp_only(base: Inventory) -> Inventory:
    """Every device answers SNMP (the simulator's MQTT gateways are another test's)."""
    return Inventory(base.sites, {k: d if d.profile not in ("mqtt", "icmp") else replace(
        d, profile="router", credential="village-v2") for k, d in base.devices.items()},
        base.links)


def spanning_district(inventory: Inventory) -> tuple[str, set[str]]:
    """The district router with the most downstream sites, which both shards watch, and
    every device its cut takes down (itself included)."""
    topology = Topology.build(inventory)
    routers = [d.device_id for d in inventory.devices.values()
               if d.role is Role.DISTRICT_AGGREGATION]
    spanning = [r for r in routers
                if {owner(s, 2) for s in topology.downstream_sites(r)} == {1, 2}]
    assert spanning, "no district spans both shards"
    router = max(spanning, key=lambda r: (len(topology.downstream_sites(r)), r))
    return router, {router, *topology.downstream_devices(router)}


def region(base: Inventory) -> Inventory:
    """A small fleet cut out of a national one: the largest district spanning both shards
    and a second district of its province, with the nodes above them."""
    topology = Topology.build(base)
    router, _ = spanning_district(base)
    province = base.devices[router].upstream
    other = sorted(d.device_id for d in base.devices.values()
                   if d.upstream == province and d.device_id != router
                   and d.role is Role.DISTRICT_AGGREGATION)[:1]
    keep: set[str] = set()
    node: str | None = router
    while node:
        keep.add(node)
        node = base.devices[node].upstream or None
    for top in (router, *other):
        keep |= {top, *topology.downstream_devices(top)}
    devices = {k: d for k, d in base.devices.items() if k in keep}
    sites = {k: s for k, s in base.sites.items()
             if any(d.site_id == k for d in devices.values())}
    links = {k: link for k, link in base.links.items()
             if link.a_device in devices and link.b_device in devices}
    return Inventory(sites, devices, links)


def tail(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-4000:]


def start(folder: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with (folder / "pubnet.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pubnet.cli", "run", "--config",
             str(folder / "pubnet.yaml"), *args],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)


async def until(what: str, check: Callable[[], Awaitable[T | None]], procs: dict[str, Any],
                within: float = 90) -> T:
    deadline = time.monotonic() + within
    while True:
        for name, (proc, folder) in procs.items():
            assert proc.poll() is None, f"{name} died:\n{tail(folder / 'pubnet.log')}"
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n" + "\n".join(
            f"--- {name}\n{tail(folder / 'pubnet.log')}" for name, (_, folder) in
            procs.items())
        await asyncio.sleep(0.5)


async def device_up(http: aiohttp.ClientSession, port: int) -> dict[str, float]:
    with contextlib.suppress(aiohttp.ClientError):
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            return {d: float(v) for d, v in UP.findall(await resp.text())}
    return {}


async def sites_up(http: aiohttp.ClientSession, port: int) -> list[str]:
    """The sites a process exports ``pubnet_site_up`` for (a list: a site twice shows)."""
    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        return SITE_UP.findall(await resp.text())


async def incidents(folder: Path) -> list[dict[str, Any]]:
    """``pubnet alerts list --format json`` of the alerting instance."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pubnet.cli", "alerts", "list", "--config",
        str(folder / "pubnet.yaml"), "--format", "json", cwd=folder,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    found: list[dict[str, Any]] = json.loads(out)
    return found


async def test_two_shards_and_one_alerting_instance(tmp_path: Path) -> None:
    broker_binary = require_binary("mosquitto")
    base = region(snmp_only(generate(sites=400, seed=21)))
    router, cut = spanning_district(base)
    network = f"127.{random.randint(100, 250)}.0.0"
    plan = AddressPlan(network, free_port(socket.SOCK_DGRAM, "0.0.0.0"))
    write_inventory(simulated_inventory(base, plan_addresses(base, plan)), tmp_path / "inv")
    (tmp_path / "broker").mkdir()
    ports = {"shard-1": free_port(), "shard-2": free_port(), "alerting": free_port()}
    procs: dict[str, Any] = {}

    with Mosquitto(broker_binary, tmp_path / "broker", free_port()) as broker:
        common = {
            "inventory": "../inv", "credentials": CREDENTIALS,
            "snmp": {"interval": "1s", "timeout": "0.5s", "retries": 0, "max_backoff": "1s"},
            "mqtt": {"url": f"mqtt://127.0.0.1:{broker.port}", "reconnect_min": "100ms",
                     "reconnect_max": "1s"},
            "cluster": {"heartbeat": "1s", "missed": 3},
            "history": None,
        }
        for name, port in ports.items():
            folder = tmp_path / name
            folder.mkdir()
            config: dict[str, Any] = {**common, "prometheus": {"listen": f"127.0.0.1:{port}"}}
            if name == "alerting":
                config["roles"] = ["alerting"]
                config["alerting"] = {"down_after": 2, "group_wait": "3s", "tick": "0.5s"}
            else:
                config["shard"] = f"{name[-1]}/2"
            parse_config(config)  # the configs are valid as written
            (folder / "pubnet.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")

        def launch(name: str) -> None:
            procs[name] = (start(tmp_path / name), tmp_path / name)

        async with (Fleet.from_inventory(base, plan, credentials=parse_config(
                        {"credentials": CREDENTIALS}).credentials) as fleet,
                    aiohttp.ClientSession() as http):
            try:
                for name in ports:
                    launch(name)

                # -- every device polled by exactly one shard ----------------------------
                async def all_up() -> tuple[dict[str, float], dict[str, float]] | None:
                    one = await device_up(http, ports["shard-1"])
                    two = await device_up(http, ports["shard-2"])
                    if set(one) | set(two) == set(base.devices) and \
                            set(one.values()) | set(two.values()) == {1.0}:
                        return one, two
                    return None

                one, two = await until("both shards up", all_up, procs)
                assert not set(one) & set(two)
                assert set(one) == set(select(base, Shard(1, 2)).devices)
                assert set(two) == set(select(base, Shard(2, 2)).devices)
                alerting_log = tmp_path / "alerting" / "pubnet.log"
                assert "roles=alerting" in tail(alerting_log)
                assert "component=snmp-poller" not in alerting_log.read_text("utf-8")
                # each site's pubnet_site_up comes from the shard polling it, and only from
                # there: Prometheus scraping all three counts every site once
                exported = [*await sites_up(http, ports["shard-1"]),
                            *await sites_up(http, ports["shard-2"])]
                assert sorted(exported) == sorted(base.sites)
                assert await sites_up(http, ports["alerting"]) == []

                # -- a district cut across both shards: one incident ---------------------
                assert {owner(shard_key(base.devices[d]), 2) for d in cut} == {1, 2}
                await until("the alerting instance knows both shards", lambda: _metric(
                    http, ports["alerting"], 'pubnet_shards_online{device="pubnet"} 2.0'),
                    procs)
                for device in cut:
                    fleet.silence(device)

                async def firing() -> list[dict[str, Any]] | None:
                    found = [i for i in await incidents(tmp_path / "alerting")
                             if i["state"] == "firing"]
                    return found or None

                opened = await until("the district incident", firing, procs)
                await asyncio.sleep(4)  # group wait again: nothing else may open
                listed = await incidents(tmp_path / "alerting")
                assert len(listed) == 1, listed
                assert listed[0]["root"] == f"device:{router}", listed
                assert listed[0]["affected_devices"] == len(cut), listed
                assert opened[0]["incident_id"] == listed[0]["incident_id"]
                for device in cut:
                    fleet.silence(device, False)

                async def resolved() -> bool:
                    return all(i["state"] == "resolved"
                               for i in await incidents(tmp_path / "alerting"))

                # every device answers again (a failing device is re-checked after a
                # back-off, so the district's sites may come back after their router)
                await until("both shards up again", all_up, procs)
                await until("the district incident resolved", resolved, procs)
                await asyncio.sleep(4)  # what came back late never fires
                assert await resolved(), await incidents(tmp_path / "alerting")

                # -- one shard killed: one collector_down, no device incident ------------
                victim, _ = procs.pop("shard-2")
                victim.send_signal(signal.SIGKILL)
                victim.wait(10)

                async def collector_down() -> list[dict[str, Any]] | None:
                    found = [i for i in await incidents(tmp_path / "alerting")
                             if i["kind"] == "collector_down" and i["state"] == "firing"]
                    return found or None

                down = await until("collector_down", collector_down, procs, within=30)
                watched = select(base, Shard(2, 2))
                await asyncio.sleep(5)  # beyond down_after and group wait
                listed = await incidents(tmp_path / "alerting")
                fresh = [i for i in listed if i["state"] != "resolved"]
                assert [i["kind"] for i in fresh] == ["collector_down"], json.dumps(
                    listed, indent=1, ensure_ascii=False)
                assert fresh[0]["root"] == "collector:2"
                assert fresh[0]["affected_devices"] == len(watched.devices), fresh
                assert fresh[0]["affected_sites"] == len(watched.sites), fresh
                assert down[0]["incident_id"] == fresh[0]["incident_id"]
                assert await _metric(http, ports["alerting"],
                                     'pubnet_shard_up{device="pubnet",shard="2/2"} 0.0')

                # -- the shard comes back: the incident resolves -------------------------
                launch("shard-2")

                async def back() -> bool:
                    return all(i["state"] == "resolved"
                               for i in await incidents(tmp_path / "alerting"))

                await until("collector_down resolved", back, procs)
                listed = await incidents(tmp_path / "alerting")
                assert sorted(i["kind"] for i in listed) == ["collector_down", "device_down"], \
                    listed
            finally:
                for proc, _ in procs.values():
                    await asyncio.to_thread(stop_process, proc, 20)


async def _metric(http: aiohttp.ClientSession, port: int, line: str) -> bool:
    with contextlib.suppress(aiohttp.ClientError):
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            return line in (await resp.text()).splitlines()
    return False
