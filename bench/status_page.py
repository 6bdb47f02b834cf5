"""The status page at national scale (issue 13): API times, GeoJSON size, first render in
headless Chromium, and poll lag while 20 browsers refresh every second.

A 25,000-site inventory (``demo_inventory``: ~64,000 devices, every one SNMP) is served by
the real parts as ``pubnet run`` wires them (:func:`pubnet.app.components.build_http`: the
Prometheus exporter, the status component, the one listener) in an event loop of its own
thread, with ``--incidents`` open incidents (one per district router) for the page to list.
The state store holds a status for every device (3 % down, seeded); the devices of
the first ``--polled-sites`` sites are really polled by the SNMP poller from the same loop,
against the fleet simulator (in a second thread), so the poll lag is a real poller's.

Measured, in order:

- ``/api/v1/status`` built from scratch (the cache dropped before each build: the worst
  case a client can cause, at most twice a second), median and max of ``--rounds``; and
  the same document served from the cache over HTTP;
- the reference, in the same run: a naive handler that scans every device status, derives
  every site with :func:`pubnet.derive.site_health` and ``json.dumps`` the counts;
- ``/api/v1/sites.geojson`` built (join + gzip, in a worker thread), its plain and gzipped
  size, and ``/api/v1/site-status`` (the map's refresh);
- a national power event: 25,000 device changes fed to the running counts;
- the page's first render in Chromium (navigation start to every point drawn), best and
  worst of three fresh browser contexts;
- poll lag and event-loop stalls for ``--phase`` seconds without clients, then with
  ``--clients`` clients (a separate process) each fetching ``/api/v1/status`` and
  ``/api/v1/site-status`` every second, as the page does.

Usage: ``python bench/status_page.py [--sites 25000] [--polled-sites 400] [--clients 20]
[--phase 20]``. The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboards.status import StatusPage
from inventory.model import Inventory
from pubnet.app.components import build_http
from pubnet.app.demo import VILLAGE_COMMUNITY, demo_inventory
from pubnet.app.runtime import Readiness
from pubnet.app.web import WebServer
from pubnet.catalog import POLL_LAG, PUBNET_DEVICE
from pubnet.config import Config, parse_config
from pubnet.derive import Derivation, device_health, site_health
from pubnet.model import PollStatus, Source
from pubnet.ports import free_port, free_udp_port
from pubnet.state import StateStore

T = TypeVar("T")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
NETWORK = "127.80.0.0"


class StandingIncidents:
    """``--incidents`` open incidents, one per district router, as alerting would hold them
    during a bad night (what ``/api/v1/status`` lists and the page draws)."""

    def __init__(self, inventory: Inventory, count: int) -> None:
        from inventory.model import Role
        from inventory.topology import Topology
        from pubnet.incidents import OpenIncident

        topology = Topology.build(inventory)
        routers = sorted(d for d, dev in inventory.devices.items()
                         if dev.role is Role.DISTRICT_AGGREGATION)[:count]
        now = time.time()
        self.incidents = []
        for n, router in enumerate(routers, 1):
            site = inventory.sites.get(inventory.devices[router].site_id)
            self.incidents.append(OpenIncident(
                incident_id=f"INC-{n}", kind="device_down", severity="major",
                status="firing", root_device=router, root_link=None,
                root_site=site.site_id if site else None,
                province=site.province_code if site else "",
                district=site.district_code if site else "",
                sites=frozenset(topology.downstream_sites(router)), affected_villages=20,
                started_at=now - n, acknowledged_by=None, acknowledged_at=None,
                summary=f"district router {router}"))

    def open_incidents(self) -> list[Any]:
        return self.incidents

    async def recent_messages(self, limit: int) -> list[Any]:
        return []

    async def acknowledge(self, incident_id: str, by: str, note: str | None,
                          channel: str) -> Any:
        from pubnet.incidents import AckResult

        return AckResult.UNKNOWN


def naive_status(inventory: Inventory, derivation: Derivation, store: StateStore) -> bytes:
    """The reference: what a handler without running counts would do per request."""
    statuses = store.statuses()

    def health(device: str) -> Any:
        state = statuses.get(device)
        return device_health(state.status if state is not None else None)

    provinces: dict[str, dict[str, int]] = {}
    nation = {"up": 0, "down": 0, "unknown": 0}
    for site_id, members in derivation.sites.items():
        value = site_health(members, health).value
        nation[value] += 1
        area = provinces.setdefault(inventory.sites[site_id].province_code,
                                    {"up": 0, "down": 0, "unknown": 0})
        area[value] += 1
    devices = {"up": 0, "down": 0, "unknown": 0}
    for device in inventory.devices:
        devices[health(device).value] += 1
    return json.dumps({"sites": nation, "devices": devices, "provinces": provinces},
                      ensure_ascii=False).encode()


class Server:
    """pubnet's HTTP parts and a real SNMP poller in one event loop, in a thread."""

    def __init__(self, inventory: Inventory, polled: Inventory, generated: Inventory,
                 config: Config, plan: Any, seed: int, incidents: int) -> None:
        from simulator import Fleet

        self.incidents = incidents
        self.inventory = inventory
        self.polled = polled
        self.config = config
        self.store = StateStore()
        # addresses are planned over the whole inventory, as the poller's copy has them
        self.fleet = Fleet.from_inventory(generated, plan, seed=seed,
                                          credentials=config.credentials,
                                          devices=sorted(polled.devices))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.stalls: list[float] = []
        self.lags: list[float] = []
        self.sampling = False
        self.status: StatusPage | None = None
        self.base = ""

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 600) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        from collectors.snmp.poller import SnmpPoller

        rng = random.Random(7)
        now = time.time()
        polled = set(self.polled.devices)
        for device in self.inventory.devices:
            if device not in polled:
                status = PollStatus.TIMEOUT if rng.random() < 0.03 else PollStatus.OK
                self.store.set_status(device, status, now - rng.uniform(0, 3600), Source.SNMP)
        readiness = Readiness()
        parts = build_http(self.config, self.inventory, self.store, readiness,
                           StandingIncidents(self.inventory, self.incidents))
        await self.fleet.start()
        parts.append(SnmpPoller(self.config, self.polled, self.store))
        readiness.track(parts)
        self.parts = parts
        self.tasks = [asyncio.create_task(p.run(), name=p.name) for p in parts]
        for part in parts:
            await asyncio.wait_for(part.ready.wait(), 120)
        server = next(p for p in parts if isinstance(p, WebServer))
        self.status = next(p for p in parts if isinstance(p, StatusPage))
        assert server.bound is not None
        self.base = f"http://127.0.0.1:{server.bound.port}"
        self.sampler = asyncio.create_task(self._sample(), name="bench-sampler")

    async def _sample(self) -> None:
        """Loop stalls (a 20 ms sleep that overslept) and the poller's published lag."""
        period = 0.02
        while True:
            started = time.perf_counter()
            await asyncio.sleep(period)
            if self.sampling:
                self.stalls.append(time.perf_counter() - started - period)
                lag = self.store.latest(PUBNET_DEVICE, POLL_LAG)
                if lag is not None:
                    self.lags.append(lag.value)

    async def timed(self, coro_fn: Any, rounds: int) -> list[float]:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            await coro_fn()
            times.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
        return times

    def stop(self) -> None:
        async def _stop() -> None:
            for task in [*self.tasks, self.sampler]:
                task.cancel()
            await asyncio.gather(*self.tasks, self.sampler, return_exceptions=True)
            self.fleet.close()

        self.call(_stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def clients(base: str, count: int, seconds: float) -> None:
    """``count`` pages refreshing every second (run in a separate process)."""
    import aiohttp

    async def one(session: aiohttp.ClientSession, offset: float) -> None:
        await asyncio.sleep(offset)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            for path in ("/api/v1/status", "/api/v1/site-status"):
                async with session.get(base + path,
                                       headers={"Accept-Encoding": "gzip"}) as resp:
                    await resp.read()
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(one(session, i / count) for i in range(count)))

    asyncio.run(main())


def first_render(base: str, sites: int, runs: int = 3) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            page = context.new_page()
            page.goto(base + "/")
            page.wait_for_function(f"() => document.body.dataset.rendered === '{sites}'",
                                   timeout=60_000)
            times.append(page.evaluate("() => window.pubnetFirstRender") / 1000)
            context.close()
        browser.close()
    return times


def get(url: str, gzip_ok: bool = True) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok
                                      else {})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as resp:
        size = len(resp.read())
    return time.perf_counter() - start, size


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=25_000)
    parser.add_argument("--polled-sites", type=int, default=400)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--phase", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--incidents", type=int, default=300,
                        help="open incidents listed by /api/v1/status (default 300)")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from inventory.generate import VILLAGE_CREDENTIAL
    from simulator import AddressPlan, plan_addresses, simulated_inventory

    generated = demo_inventory(args.sites, args.seed)
    plan = AddressPlan(NETWORK, free_udp_port())
    inventory = simulated_inventory(generated, plan_addresses(generated, plan))
    polled_sites = sorted(inventory.sites)[: args.polled_sites]
    wanted = set(polled_sites)
    polled_devices = {d: dev for d, dev in inventory.devices.items()
                      if dev.site_id in wanted and dev.credential == VILLAGE_CREDENTIAL}
    polled = Inventory(sites={s: inventory.sites[s] for s in polled_sites},
                       devices=polled_devices, links={}, source="bench")
    config = parse_config({
        "credentials": {VILLAGE_CREDENTIAL: {"version": "2c", "community": VILLAGE_COMMUNITY}},
        "snmp": {"interval": args.interval, "timeout": 1.0, "retries": 1},
        "prometheus": {"listen": f"127.0.0.1:{free_port()}"},
        "alerting": None, "history": None,
    })
    print(f"inventory: {len(inventory.sites):,} sites, {len(inventory.devices):,} devices; "
          f"polled for real: {len(polled_devices):,} devices every {args.interval:g} s",
          flush=True)
    server = Server(inventory, polled, generated, config, plan, args.seed, args.incidents)
    server.start()
    status = server.status
    assert status is not None
    service = status.service
    results: dict[str, Any] = {"sites": len(inventory.sites),
                               "devices": len(inventory.devices),
                               "incidents": len(status.service.open_incidents())}
    try:
        time.sleep(2)

        async def cold_status() -> None:
            service._status = None
            await service.status()

        async def cold_geojson() -> None:
            service._geojson = None
            await service.geojson()

        derivation = Derivation(inventory)

        async def reference() -> None:
            naive_status(inventory, derivation, server.store)

        async def site_codes() -> None:
            service.site_codes()

        build = server.call(server.timed(cold_status, args.rounds))
        ref = server.call(server.timed(reference, max(3, args.rounds // 3)))
        geo = server.call(server.timed(cold_geojson, max(3, args.rounds // 3)))
        codes = server.call(server.timed(site_codes, args.rounds))
        body = server.call(service.geojson())
        status_body = server.call(service.status())
        http_status = [get(server.base + "/api/v1/status")[0] for _ in range(args.rounds)]
        http_geo = [get(server.base + "/api/v1/sites.geojson")[0] for _ in range(3)]

        async def power_event() -> float:
            fleet = status.fleet
            devices = random.Random(3).sample(sorted(inventory.devices),
                                              min(25_000, len(inventory.devices)))
            start = time.perf_counter()
            for device in devices:
                fleet.set_device(device, PollStatus.UNREACHABLE, time.time())
            took = time.perf_counter() - start
            now = time.time()
            for device in devices:  # back as the store has them
                state = server.store.status(device)
                fleet.set_device(device, state.status if state else None, now)
            return took

        event = server.call(power_event())
        results.update({
            "status_build_ms": round(statistics.median(build) * 1000, 2),
            "status_build_max_ms": round(max(build) * 1000, 2),
            "status_http_cached_ms": round(statistics.median(http_status) * 1000, 2),
            "status_bytes": len(status_body.plain), "status_gzip_bytes": len(status_body.gzipped),
            "reference_ms": round(statistics.median(ref) * 1000, 1),
            "reference_ratio": round(statistics.median(ref) / statistics.median(build), 1),
            "geojson_build_ms": round(statistics.median(geo) * 1000, 1),
            "geojson_http_ms": round(statistics.median(http_geo) * 1000, 1),
            "geojson_mb": round(len(body.plain) / 1e6, 2),
            "geojson_gzip_mb": round(len(body.gzipped) / 1e6, 3),
            "site_status_ms": round(statistics.median(codes) * 1000, 3),
            "power_event_25000_ms": round(event * 1000, 1),
        })
        print(f"/api/v1/status built: median {results['status_build_ms']} ms, max "
              f"{results['status_build_max_ms']} ms ({results['status_bytes']:,} B, "
              f"{results['status_gzip_bytes']:,} B gz); served from cache over HTTP: "
              f"{results['status_http_cached_ms']} ms", flush=True)
        print(f"reference (scan + derive + json.dumps per request): "
              f"{results['reference_ms']} ms = {results['reference_ratio']}x", flush=True)
        print(f"sites.geojson built (join + gzip, worker thread): "
              f"{results['geojson_build_ms']} ms; over HTTP {results['geojson_http_ms']} ms; "
              f"{results['geojson_mb']} MB, {results['geojson_gzip_mb']} MB gzipped",
              flush=True)
        print(f"site-status: {results['site_status_ms']} ms; 25,000 device changes fed: "
              f"{results['power_event_25000_ms']} ms", flush=True)

        renders = first_render(server.base, len(inventory.sites))
        results["first_render_s"] = round(min(renders), 2)
        results["first_render_worst_s"] = round(max(renders), 2)
        print(f"first render in Chromium: best {min(renders):.2f} s, worst "
              f"{max(renders):.2f} s", flush=True)

        def phase(with_clients: bool) -> dict[str, float]:
            server.stalls.clear()
            server.lags.clear()
            server.sampling = True
            proc = None
            if with_clients:
                proc = multiprocessing.get_context("spawn").Process(
                    target=clients, args=(server.base, args.clients, args.phase))
                proc.start()
            time.sleep(args.phase)
            server.sampling = False
            if proc is not None:
                proc.join(30)
            return {"lag_mean_s": round(statistics.fmean(server.lags or [0]), 3),
                    "lag_max_s": round(max(server.lags or [0]), 3),
                    "stall_p99_ms": round(percentile(server.stalls, 0.99) * 1000, 1),
                    "stall_max_ms": round(max(server.stalls or [0]) * 1000, 1)}

        quiet = phase(False)
        busy = phase(True)
        results["poll_lag_quiet"] = quiet
        results["poll_lag_clients"] = busy
        results["load_average"] = round(os.getloadavg()[0], 2)
        print(f"poll lag without clients: {quiet}", flush=True)
        print(f"poll lag with {args.clients} clients refreshing every second: {busy}",
              flush=True)
    finally:
        server.stop()
    print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
