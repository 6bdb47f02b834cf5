"""A real Prometheus (Debian package) scrapes the exporter every second.

The store is filled by a feeder task standing in for the collectors: counters move at a
known rate, a device "reboots" (goes down for a poll, comes back, its uptime restarts; the
collector keeps the byte totals monotonic), and Prometheus must see the expected series,
values and rates with no counter reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pubnet.config import PrometheusConfig, parse_config
from pubnet.model import Observation, Source
from pubnet.state import StateStore
from tests.exporters.conftest import RunningExporter, run_exporter
from tests.exporters.helpers import interface, set_up
from tests.simulator.support import small_inventory
from tests.support import free_port, prometheus_query, require_binary, stop_process

RATE = 1000.0  # bytes per second received on gw1 eth0


@contextlib.asynccontextmanager
async def prometheus_server(tmp_path: Path, target_port: int) -> AsyncIterator[str]:
    binary = require_binary("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: pubnet\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n",
        encoding="utf-8",
    )
    log = (tmp_path / "prometheus.log").open("wb")
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url + "/-/ready") as resp:
                        if resp.status == 200:
                            break
                assert time.monotonic() < deadline, "prometheus did not become ready"
                await asyncio.sleep(0.2)
        yield url
    finally:
        await asyncio.to_thread(stop_process, proc, 20)
        log.close()


async def until(http: aiohttp.ClientSession, url: str, promql: str,
                ok: Any, within: float = 60) -> list[dict[str, Any]]:
    """Poll a query until ``ok(result)`` holds, with a deadline (the machine is loaded)."""
    deadline = time.monotonic() + within
    while True:
        result = await prometheus_query(http, url, promql)
        if ok(result):
            return result
        assert time.monotonic() < deadline, f"{promql}: last result {result}"
        await asyncio.sleep(0.5)


async def feed(store: StateStore, stop: asyncio.Event) -> None:
    start = time.time()
    rebooted = False
    while not stop.is_set():
        now = time.time()
        elapsed = now - start
        total = 5e9 + RATE * elapsed  # the collector's monotonic total
        if not rebooted and elapsed > 3:
            rebooted = True
            set_up(store, "gw1", False, now)  # missed a poll while rebooting
        set_up(store, "gw1", True, now)
        for dev in ("ap1", "gw2", "dist1"):
            set_up(store, dev, True, now)
        set_up(store, "ap2", False, now)
        uptime = elapsed - 3 if rebooted and elapsed > 3 else 1000 + elapsed
        store.publish([
            *interface("gw1", "eth0", total, 2 * total, now),
            Observation("gw1", "pubnet_device_uptime_seconds", uptime, now, Source.SNMP),
        ])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


@contextlib.asynccontextmanager
async def fed_and_scraped(tmp_path: Path) -> AsyncIterator[
        tuple[RunningExporter, str, aiohttp.ClientSession]]:
    """The exporter with :func:`feed` filling its store, a real Prometheus scraping it
    every second, and a client session for Prometheus's API."""
    async with run_exporter(PrometheusConfig(listen="127.0.0.1:0")) as exp:
        stop = asyncio.Event()
        feeder = asyncio.create_task(feed(exp.store, stop))
        try:
            async with (prometheus_server(tmp_path, exp.port) as prom,
                        aiohttp.ClientSession() as http):
                yield exp, prom, http
        finally:
            stop.set()
            await feeder


@pytest.mark.integration
async def test_real_prometheus_scrapes_site_up_counters_and_rates(tmp_path: Path) -> None:
    async with fed_and_scraped(tmp_path) as (_exp, prom, http):
        up = await until(http, prom, 'up{job="pubnet"}',
                         lambda r: r and r[0]["value"][1] == "1")
        assert up
        sites = await until(http, prom, "pubnet_site_up", lambda r: len(r) == 2)
        by_site = {r["metric"]["site"]: r["value"][1] for r in sites}
        assert by_site == {"S1": "1", "S2": "1"}
        assert sites[0]["metric"]["kind"] == "village_wifi"
        rx = await prometheus_query(http, prom, 'pubnet_interface_receive_bytes_total'
                                    '{device="gw1",ifname="eth0"}')
        assert len(rx) == 1 and float(rx[0]["value"][1]) >= 5e9
        rate = await until(
            http, prom,
            'rate(pubnet_interface_receive_bytes_total{device="gw1"}[6s])',
            lambda r: r and abs(float(r[0]["value"][1]) - RATE) < 0.25 * RATE,
        )
        assert rate
        # the reboot happened 3 s in; the series must show no counter reset
        await until(http, prom, "pubnet_device_uptime_seconds{device=\"gw1\"} < 100",
                    lambda r: len(r) == 1)
        resets = await prometheus_query(
            http, prom, 'resets(pubnet_interface_receive_bytes_total[1m])')
        assert resets and all(r["value"][1] == "0" for r in resets)
        scrape = await prometheus_query(
            http, prom, "pubnet_exporter_scrape_duration_seconds")
        assert scrape and float(scrape[0]["value"][1]) < 1.0
        info = await prometheus_query(http, prom, 'pubnet_site_info{site="S2"}')
        assert info[0]["metric"]["name"] == 'ร้าน "ป้า" \\ ใหม่\nบ้าน'


@pytest.mark.integration
async def test_real_prometheus_scrapes_over_one_kept_alive_connection(tmp_path: Path) -> None:
    """Prometheus sends every scrape of a target over one connection, and pubnet keeps it
    open after a body its worker thread wrote to the socket (``send_body``). On a saturated
    loop a new connection costs a scrape several loop turns before its request is read
    (the accept, the transport, aiohttp's connection task): ``bench/fleet.py``'s
    kept-alive figures are what Prometheus gets only while this holds."""
    async with fed_and_scraped(tmp_path) as (exp, prom, http):
        scrapes = await until(
            http, prom, 'count_over_time(up{job="pubnet"}[1m])',
            lambda r: r and float(r[0]["value"][1]) >= 6)
        listener = exp.server.stats.listener
        # one connection for all; a second only if a scrape on a loaded machine
        # outlasted the 1 s scrape timeout (Prometheus then drops the connection)
        assert listener.accepted <= 2, (listener.accepted, scrapes)
        assert listener.open >= 1
        assert not listener.closed, listener.closed


@pytest.mark.integration
async def test_real_prometheus_scrapes_polled_simulated_devices(tmp_path: Path) -> None:
    """The whole path: simulated SNMP agents → poller → store → exporter → Prometheus."""
    from collectors.snmp.poller import SnmpPoller
    from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory

    base = small_inventory()  # its ICMP CPE is not polled here: three devices answer
    network = f"127.{random.randint(100, 250)}.0.0"
    plan = AddressPlan(network, free_port(socket.SOCK_DGRAM, network[:-1] + "1"))
    inventory = simulated_inventory(base, plan_addresses(base, plan))
    config = parse_config({
        "credentials": {"village": {"version": "2c", "community": "public"}},
        "snmp": {"interval": "1s", "timeout": "0.5s", "retries": 0},
        "prometheus": {"listen": "127.0.0.1:0"},
    })
    async with Fleet.from_inventory(base, plan, seed=3,
                                    credentials=config.credentials) as fleet:
        async with run_exporter(PrometheusConfig(listen="127.0.0.1:0"), inventory) as exp:
            poller = SnmpPoller(config, inventory, exp.store)
            poll_task = asyncio.create_task(poller.run())
            try:
                async with (prometheus_server(tmp_path, exp.port) as prom,
                            aiohttp.ClientSession() as http):
                    site = await until(http, prom, 'pubnet_site_up{site="site-1"}',
                                       lambda r: r and r[0]["value"][1] == "1")
                    assert site[0]["metric"]["province"] == "40"
                    up = await until(http, prom, "pubnet_device_up == 1",
                                     lambda r: len(r) == 3)
                    assert {r["metric"]["device"] for r in up} == {"ap-1", "gw-1", "dist-1"}
                    rate = await until(
                        http, prom,
                        'rate(pubnet_interface_receive_bytes_total{device="gw-1"}[5s]) > 0',
                        lambda r: len(r) >= 1)
                    assert all(float(r["value"][1]) > 0 for r in rate)
                    await until(http, prom, 'pubnet_link_up{link="l-1"}',
                                lambda r: r and r[0]["value"][1] == "1")
                    # a real reboot: sysUpTime and the device's counters start over
                    before = await prometheus_query(http, prom,
                                         'pubnet_device_uptime_seconds{device="gw-1"}')
                    uptime = float(before[0]["value"][1])
                    fleet.reboot("gw-1", trap=False)
                    await until(http, prom,
                                f'pubnet_device_uptime_seconds{{device="gw-1"}} < {uptime}',
                                lambda r: len(r) == 1)
                    await asyncio.sleep(2.5)  # two more scrapes after the reboot
                    resets = await prometheus_query(
                        http, prom,
                        'resets(pubnet_interface_receive_bytes_total{device="gw-1"}[2m])')
                    assert resets and all(r["value"][1] == "0" for r in resets), resets
                    await until(http, prom,
                                'pubnet_poll_duration_seconds_count{source="snmp"} > 3',
                                lambda r: len(r) == 1)
                    async with http.get(exp.url + "/metrics") as resp:
                        exposition = await resp.read()
                promtool = require_binary("promtool")
                check = await asyncio.to_thread(
                    subprocess.run, [promtool, "check", "metrics"], input=exposition,
                    capture_output=True, timeout=60)
                assert check.returncode == 0, (check.stdout + check.stderr).decode()
            finally:
                poll_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll_task
