"""The compose folder's Prometheus and Alertmanager configs, run for real against a running
pubnet on loopback: Prometheus scrapes pubnet, evaluates the rules ``pubnet alerts
export-rules`` wrote, and a site that goes dark fires ``PubnetSiteDown`` into Alertmanager,
where the exported inhibition silences the site's own device alerts.

Only what a container network decides is rewritten: host names and ports to 127.0.0.1 and
free ports, the rules folder to a temporary one, and the intervals (15 s scrapes, 1 m
topology rules, ``for: 3m``) to seconds so the test takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from alerting.rules import export_rules
from inventory.generate import generate
from inventory.model import NON_SNMP_PROFILES, Inventory
from inventory.writer import write_inventory
from pubnet.config import parse_config
from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
from simulator.fleet import gateway_devices
from simulator.gateways import BrokerSettings, MqttGateways
from tests.support import (
    find_binary,
    free_port,
    require_binary,
    simulated_fleet_config,
    stop_process,
)

pytestmark = pytest.mark.integration

FOLDER = Path(__file__).resolve().parents[2] / "deploy" / "compose"


def rewrite(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"the compose config no longer has {old!r}"
        text = text.replace(old, new)
    return text


def dark_site(inventory: Inventory) -> tuple[str, list[str]]:
    """A village site whose own devices (gateway, access points) all answer SNMP, and those
    devices: silencing them takes the site down. A district router filed under the site
    stays up, or its own alert would inhibit the site's."""
    by_site: dict[str, list[str]] = {}
    for dev in inventory.devices.values():
        if dev.site_id and dev.role.value in ("site_gateway", "access_point"):
            by_site.setdefault(dev.site_id, []).append(dev.device_id)
    for site in sorted(by_site):
        devices = by_site[site]
        if all(inventory.devices[d].profile not in NON_SNMP_PROFILES for d in devices):
            return site, devices
    raise AssertionError("no SNMP-only site")


def tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-3000:]


@contextlib.asynccontextmanager
async def process(args: list[str], log: Path, cwd: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = await asyncio.to_thread(subprocess.Popen, args, stdout=out,
                                       stderr=subprocess.STDOUT, cwd=cwd)
    try:
        yield proc
    finally:
        await asyncio.to_thread(stop_process, proc, 20)


async def until_ready(http: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes],
                      log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, tail(log)
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url) as resp:
                if resp.status == 200:
                    return
        assert time.monotonic() < deadline, f"{url} never ready"
        await asyncio.sleep(0.2)


async def get_json(http: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with http.get(url, params=params) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_compose_prometheus_fires_an_exported_rule_into_compose_alertmanager(
        tmp_path: Path) -> None:
    prometheus = require_binary("prometheus")
    alertmanager = find_binary("prometheus-alertmanager") or require_binary("alertmanager")

    base = generate(sites=6, seed=11)
    site, devices = dark_site(base)
    network = f"127.{random.randint(100, 250)}.0.0"
    plan = AddressPlan(network, free_port(socket.SOCK_DGRAM, "0.0.0.0"))
    inventory = simulated_inventory(base, plan_addresses(base, plan))
    write_inventory(inventory, tmp_path / "inventory")

    pubnet_port, prom_port, am_port, mqtt_port = (free_port() for _ in range(4))
    config = simulated_fleet_config(pubnet_port, mqtt_port, history=None, snmp={
        "interval": "1s", "timeout": "1s", "retries": 1})
    (tmp_path / "pubnet.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")

    rules = tmp_path / "rules"
    for path in export_rules(inventory, rules):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("for: 3m", "for: 4s").replace("interval: 1m",
                                                                   "interval: 1s"))
    prom_config = rewrite((FOLDER / "prometheus" / "prometheus.yml").read_text("utf-8"), {
        "pubnet:9108": f"127.0.0.1:{pubnet_port}",
        "alertmanager:9093": f"127.0.0.1:{am_port}",
        "localhost:9090": f"127.0.0.1:{prom_port}",
        "/etc/prometheus/rules/": f"{rules}/",
        "scrape_interval: 15s": "scrape_interval: 1s",
        "scrape_timeout: 10s": "scrape_timeout: 1s",
        "evaluation_interval: 15s": "evaluation_interval: 1s",
    })
    (tmp_path / "prometheus.yml").write_text(prom_config, encoding="utf-8")

    credentials = parse_config(config).credentials
    async with (
        Fleet.from_inventory(base, plan, seed=11, credentials=credentials) as fleet,
        process([sys.executable, "-m", "pubnet.cli", "run", "--config",
                 str(tmp_path / "pubnet.yaml"), "--inventory", str(tmp_path / "inventory")],
                tmp_path / "pubnet.log", tmp_path) as pubnet,
        process([alertmanager, f"--config.file={FOLDER / 'alertmanager' / 'alertmanager.yml'}",
                 f"--storage.path={tmp_path / 'am'}",
                 f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                tmp_path / "alertmanager.log", tmp_path) as am,
        process([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                tmp_path / "prometheus.log", tmp_path) as prom,
        aiohttp.ClientSession() as http,
        contextlib.AsyncExitStack() as stack,
    ):
        prom_url, am_url = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}"
        await until_ready(http, f"http://127.0.0.1:{pubnet_port}/readyz", pubnet,
                          tmp_path / "pubnet.log")
        await until_ready(http, f"{am_url}/-/ready", am, tmp_path / "alertmanager.log")
        await until_ready(http, f"{prom_url}/-/ready", prom, tmp_path / "prometheus.log")
        # the MQTT gateways publish to pubnet's embedded broker
        gateways = MqttGateways.from_devices(
            base, gateway_devices(base, plan, seed=11),
            BrokerSettings(port=mqtt_port, heartbeat=1.0), seed=11)
        await stack.enter_async_context(gateways)
        assert gateways.stats.connected == len(gateways.gateways) > 0

        async def query(promql: str) -> list[dict[str, Any]]:
            data = await get_json(http, f"{prom_url}/api/v1/query", query=promql)
            result: list[dict[str, Any]] = data["data"]["result"]
            return result

        async def eventually(what: str, check: Any, within: float = 60) -> Any:
            deadline = time.monotonic() + within
            while not (found := await check()):
                assert pubnet.poll() is None, tail(tmp_path / "pubnet.log")
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                await asyncio.sleep(0.5)
            return found

        await eventually("every site up in Prometheus", lambda: query(
            f"count(pubnet_site_up == 1) == {len(base.sites)}"))
        async def targets() -> bool:
            data = await get_json(http, f"{prom_url}/api/v1/targets")
            return {t["labels"]["job"]: t["health"] for t in data["data"]["activeTargets"]} \
                == {"pubnet": "up", "prometheus": "up"}

        await eventually("both scrape targets up", targets)
        groups = await get_json(http, f"{prom_url}/api/v1/rules")
        assert {g["name"] for g in groups["data"]["groups"]} == {
            "pubnet-alerts", "pubnet-self", "pubnet-topology"}
        alertmanagers = await get_json(http, f"{prom_url}/api/v1/alertmanagers")
        assert [a["url"] for a in alertmanagers["data"]["activeAlertmanagers"]] == [
            f"http://127.0.0.1:{am_port}/api/v2/alerts"]

        for device_id in devices:  # the site loses power
            fleet.silence(device_id)

        async def in_alertmanager() -> dict[str, dict[str, Any]]:
            alerts = await get_json(http, f"{am_url}/api/v2/alerts")
            return {a["labels"]["alertname"] + "/" + a["labels"].get("device", ""): a
                    for a in alerts if a["labels"].get("site") == site}

        found = await eventually("PubnetSiteDown in Alertmanager",
                                 lambda: _with(in_alertmanager, "PubnetSiteDown/"), within=90)
        everything = json.dumps(await get_json(http, f"{am_url}/api/v2/alerts"))
        assert found["PubnetSiteDown/"]["status"]["state"] == "active", everything
        assert found["PubnetSiteDown/"]["labels"]["severity"] == "minor"
        found = await eventually("every device alert of the site in Alertmanager",
                                 lambda: _with(in_alertmanager, *(
                                     f"PubnetSiteDeviceDown/{d}" for d in devices
                                     if base.devices[d].role.value in (
                                         "site_gateway", "access_point"))))
        for key, alert in found.items():
            if key.startswith("PubnetSiteDeviceDown/"):
                assert alert["status"]["state"] == "suppressed", key
                assert alert["status"]["inhibitedBy"], key
        assert json.dumps(found)  # the API's answer is plain JSON


async def _with(fetch: Any, *keys: str) -> dict[str, Any] | None:
    """``fetch()``'s mapping once it holds every key, else None."""
    got: dict[str, Any] = await fetch()
    return got if all(k in got for k in keys) else None
