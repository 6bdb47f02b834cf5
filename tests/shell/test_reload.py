"""``pubnet run`` reloads config and inventory in place (issue 15): SIGHUP and
``POST /-/reload`` (only with ``web.lifecycle: true``), a rejected reload keeps the old
setup, and the state store survives.

The subprocess tests run the real ``pubnet run`` over the fleet simulator (in this test's
event loop, on a random 127.N.0.0 network) and read its ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import yaml

from inventory.model import Device, Inventory, Role, Site, SiteKind
from inventory.writer import write_inventory
from pubnet.config import Credential
from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
from tests.support import free_port, stop_process

UP = re.compile(r'^pubnet_device_up\{[^}]*device="([^"]+)"[^}]*\} (\S+)$', re.M)
RELOAD_OK = re.compile(r"^pubnet_config_last_reload_successful\{[^}]*\} (\S+)$", re.M)


def fleet_inventory(sites: int = 3) -> Inventory:
    """A core router and ``sites`` village sites (gateway and access point each); the
    last site's devices use credential ``v2b``."""
    inv = Inventory()
    inv.devices["dist-1"] = Device("dist-1", "", Role.CORE, "10.0.0.1", None,
                                   "router", "v2", "")
    for n in range(1, sites + 1):
        site = f"S-{n}"
        credential = "v2b" if n == sites else "v2"
        inv.sites[site] = Site(site, f"บ้าน {n}", SiteKind.VILLAGE_WIFI, "40", "4001",
                               "400101", str(n), 16.4, 102.8)
        inv.devices[f"gw-{n}"] = Device(f"gw-{n}", site, Role.SITE_GATEWAY, "10.1.0.1", None,
                                        "if-mib", credential, "dist-1")
        inv.devices[f"ap-{n}"] = Device(f"ap-{n}", site, Role.ACCESS_POINT, "10.1.0.2", None,
                                        "access-point", credential, f"gw-{n}")
    return inv


def loopback_plan() -> AddressPlan:
    network = f"127.{random.randint(100, 250)}.0.0"
    return AddressPlan(network, free_port(socket.SOCK_DGRAM, network[:-1] + "1"))


def config_text(port: int, *, lifecycle: bool, v2b_community: str = "public",
                **more: object) -> str:
    return yaml.safe_dump({**more,
        "inventory": "inv",
        "credentials": {"v2": {"version": "2c", "community": "public"},
                        "v2b": {"version": "2c", "community": v2b_community}},
        "snmp": {"interval": "1s", "timeout": "300ms", "retries": 0},
        "prometheus": {"listen": f"127.0.0.1:{port}"},
        "web": {"lifecycle": lifecycle},
    }, allow_unicode=True)


def reload_ok(text: str) -> list[float]:
    return [float(v) for v in RELOAD_OK.findall(text)]


def device_up(text: str) -> dict[str, float]:
    return {device: float(value) for device, value in UP.findall(text)}


class Running:
    """A ``pubnet run`` subprocess and its ``/metrics``."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def metrics(self, http: aiohttp.ClientSession) -> str:
        async with http.get(f"{self.url}/metrics") as resp:
            assert resp.status == 200
            return await resp.text()

    async def until(self, http: aiohttp.ClientSession, what: str, check: object,
                    within: float = 30.0) -> str:
        """The ``/metrics`` text once ``check(text)`` is true."""
        assert callable(check)
        deadline = time.monotonic() + within
        text = ""
        while True:
            assert self.proc.poll() is None, f"pubnet run exited:\n{self.output()}"
            with contextlib.suppress(aiohttp.ClientError):
                text = await self.metrics(http)
                if check(text):
                    return text
            assert time.monotonic() < deadline, (
                f"timed out waiting for {what}; device_up={device_up(text)}\n{self.output()}")
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def pubnet_run(config: Path, port: int) -> AsyncIterator[Running]:
    log = config.parent / "pubnet.log"
    with log.open("wb") as sink:
        proc = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, "-m", "pubnet.cli", "run", "--config",
                               str(config)], stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield Running(proc, port, log)
    finally:
        if proc.poll() is None:
            await asyncio.to_thread(stop_process, proc)


async def test_sighup_applies_an_edited_inventory_and_credentials(tmp_path: Path) -> None:
    base = fleet_inventory()
    plan = loopback_plan()
    everything = simulated_inventory(base, plan_addresses(base, plan))
    first = replace(everything, devices={k: v for k, v in everything.devices.items()
                                         if k != "ap-2"})
    write_inventory(first, tmp_path / "inv")
    port = free_port()
    config = tmp_path / "pubnet.yaml"
    config.write_text(config_text(port, lifecycle=False), encoding="utf-8")
    credentials = {"v2": _community("public"), "v2b": _community("public")}
    async with (Fleet.from_inventory(base, plan, credentials=credentials),
                pubnet_run(config, port) as run, aiohttp.ClientSession() as http):
        text = await run.until(http, "every device up", lambda t: device_up(t) == {
            d: 1.0 for d in first.devices})
        assert reload_ok(text) == [1.0]
        # ap-2 added, ap-1 removed, credential v2b's community changed (site 3 goes down)
        second = replace(everything, devices={k: v for k, v in everything.devices.items()
                                              if k != "ap-1"})
        write_inventory(second, tmp_path / "inv")
        config.write_text(config_text(port, lifecycle=False, v2b_community="changed"),
                          encoding="utf-8")
        run.proc.send_signal(signal.SIGHUP)
        wanted = {d: 0.0 if d in ("gw-3", "ap-3") else 1.0 for d in second.devices}
        text = await run.until(http, "the reloaded setup", lambda t: device_up(t) == wanted)
        assert 'device="ap-1"' not in text  # every series of a removed device is gone
        assert reload_ok(text) == [1.0]
        log = run.output()
        assert 'msg="reload requested" by=SIGHUP' in log
        assert "msg=reloaded devices=6 added=1 removed=1" in log
        # /-/reload is off without web.lifecycle
        async with http.post(f"{run.url}/-/reload") as resp:
            assert resp.status in (404, 405)
        run.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(run.proc.wait, 15) == 0


async def test_a_rejected_reload_keeps_the_running_setup(tmp_path: Path) -> None:
    base = fleet_inventory(sites=2)
    plan = loopback_plan()
    inventory = simulated_inventory(base, plan_addresses(base, plan))
    write_inventory(inventory, tmp_path / "inv")
    port = free_port()
    config = tmp_path / "pubnet.yaml"
    config.write_text(config_text(port, lifecycle=True), encoding="utf-8")
    credentials = {"v2": _community("public"), "v2b": _community("public")}
    all_up = {d: 1.0 for d in inventory.devices}
    async with (Fleet.from_inventory(base, plan, credentials=credentials),
                pubnet_run(config, port) as run, aiohttp.ClientSession() as http):
        await run.until(http, "every device up", lambda t: device_up(t) == all_up)
        # an inventory error: an unknown credential on line 3 of devices.csv
        devices_csv = tmp_path / "inv" / "devices.csv"
        good = devices_csv.read_text(encoding="utf-8")
        lines = good.splitlines()
        lines[2] = lines[2].replace(",v2,", ",nosuch,")
        devices_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        async with http.post(f"{run.url}/-/reload") as resp:
            assert resp.status == 500
            body = await resp.text()
        assert "devices.csv:3" in body and "nosuch" in body, body
        text = await run.until(http, "the rejection on /metrics",
                               lambda t: reload_ok(t) == [0.0])
        assert device_up(text) == all_up  # the old setup keeps polling
        await asyncio.sleep(1.5)  # more polls: still every device, still up
        assert device_up(await run.metrics(http)) == all_up
        assert 'msg="reload rejected" problem=' in run.output()
        assert "devices.csv:3" in run.output()
        # a config error is rejected the same way, by SIGHUP
        devices_csv.write_text(good, encoding="utf-8")
        config.write_text(config_text(port, lifecycle=True) + "snmp_typo: 1\n",
                          encoding="utf-8")
        run.proc.send_signal(signal.SIGHUP)
        await run.until(http, "a second rejection", lambda _t: run.output().count(
            'keep running" errors=') == 2)
        assert "snmp_typo: unknown key" in run.output()
        # fixed: the reload applies and the gauge is 1 again
        config.write_text(config_text(port, lifecycle=True), encoding="utf-8")
        async with http.post(f"{run.url}/-/reload") as resp:
            assert resp.status == 200, await resp.text()
        text = await run.until(http, "the successful reload",
                               lambda t: reload_ok(t) == [1.0])
        assert device_up(text) == all_up
        run.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(run.proc.wait, 15) == 0


OPEN = re.compile(r"^pubnet_alerting_incidents_open\{[^}]*\} (\S+)$", re.M)
PENDING = re.compile(r"^pubnet_alerting_outbox_pending\{[^}]*\} (\S+)$", re.M)


def total(pattern: re.Pattern[str], text: str) -> float:
    return sum(float(v) for v in pattern.findall(text))


async def test_open_incidents_and_queued_messages_survive_a_reload(tmp_path: Path) -> None:
    """A device down, its incident open and its webhook message undeliverable (nothing
    listens): after a reload the same incident is restored, not a new one opened, and the
    message is still queued."""
    base = fleet_inventory(sites=2)
    plan = loopback_plan()
    inventory = simulated_inventory(base, plan_addresses(base, plan))
    write_inventory(inventory, tmp_path / "inv")
    port = free_port()
    alerting = {"down_after": 1, "tick": "200ms", "group_wait": "0s",
                "delivery": {"initial_backoff": "30s"},
                "channels": {"noc": {"type": "webhook",
                                     "url": f"http://127.0.0.1:{free_port()}/hook"}},
                "routes": [{"channels": ["noc"]}]}
    config = tmp_path / "pubnet.yaml"
    config.write_text(config_text(port, lifecycle=True, alerting=alerting), encoding="utf-8")
    credentials = {"v2": _community("public"), "v2b": _community("public")}
    async with (Fleet.from_inventory(base, plan, credentials=credentials) as fleet,
                pubnet_run(config, port) as run, aiohttp.ClientSession() as http):
        await run.until(http, "every device up",
                        lambda t: device_up(t) == {d: 1.0 for d in inventory.devices})
        fleet.silence("gw-2")
        fleet.silence("ap-2")
        before = await run.until(http, "an open incident with a queued message",
                                 lambda t: total(OPEN, t) >= 1 and total(PENDING, t) >= 1)
        async with http.post(f"{run.url}/-/reload") as resp:
            assert resp.status == 200, await resp.text()
        after = await run.metrics(http)
        assert total(OPEN, after) == total(OPEN, before)
        assert total(PENDING, after) >= 1
        deadline = time.monotonic() + 10  # the new alerting logs once it has restored
        while True:
            log = run.output()
            restored = re.findall(r'msg="alerting restored" open_incidents=(\d+) '
                                  r"undelivered_messages=(\d+)", log)
            if len(restored) >= 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert len(restored) == 2, log
        assert int(restored[1][0]) == total(OPEN, before) and int(restored[1][1]) >= 1
        run.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(run.proc.wait, 15) == 0


def _community(text: str) -> Credential:
    return Credential.model_validate({"version": "2c", "community": text})


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp must not route loopback requests through a proxy from the environment."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
