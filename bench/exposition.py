"""Scrape time of the Prometheus exposition at national scale, next to prometheus-client.

Fills a :class:`~pubnet.state.StateStore` with N series (25 per device, the mix an access
point produces: status, info, two interfaces, clients), then times, for each size:

- cold: the first full scrape (everything rendered), plain and gzip;
- steady: a scrape after 10 % of the devices published a new poll, plain and gzip
  (median of ``--rounds``);
- prerendered: a scrape after the component's background render caught up (join and
  gzip of what changed: the usual cost of a scrape in ``pubnet run``);
- the loop's longest stall during an async steady scrape (collectors' view);
- the reference: prometheus-client's ``generate_latest`` over a registry with a custom
  collector reading the same store, plain and gzip (``gzip.compress``, as its HTTP handler
  does), measured in the same run.

Usage: ``python bench/exposition.py [--sizes 50000,250000,1000000] [--rounds 3]``.
The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from exporters.prometheus.exposition import FleetExposition, Format
from inventory.generate import generate
from inventory.model import Inventory
from pubnet.model import Observation, PollStatus, Source
from pubnet.state import StateStore

SERIES_PER_DEVICE = 25
STATUSES = [s.value for s in PollStatus]


COUNTERS = (
    ("pubnet_interface_receive_bytes_total", 10**12),
    ("pubnet_interface_transmit_bytes_total", 10**12),
    ("pubnet_interface_receive_errors_total", 100),
    ("pubnet_interface_transmit_errors_total", 100),
)
"""Each interface's counters and the largest random value they get (drawn in this order)."""


def device_observations(
    device: str, n: int, ts: float, rng: random.Random, uplink: str = "ether1"
) -> list[Observation]:
    """One poll of an access point: 25 series."""
    site = f"site-{n // 4:06d}"
    province = f"{10 + n % 77}"
    snmp = Source.SNMP
    obs = [
        Observation(
            device,
            "pubnet_device_up",
            1.0,
            ts,
            snmp,
            (("site", site), ("role", "access_point"), ("province", province)),
        ),
        Observation(device, "pubnet_device_uptime_seconds", float(rng.randint(1, 10**7)), ts, snmp),
        Observation(
            device,
            "pubnet_device_info",
            1.0,
            ts,
            snmp,
            (
                ("site", site),
                ("role", "access_point"),
                ("profile", "access-point"),
                ("province", province),
                ("district", province + "01"),
                ("sys_name", device),
                ("sys_descr", "RouterOS RB951Ui-2HnD"),
            ),
        ),
        Observation(device, "pubnet_device_poll_duration_seconds", rng.random() / 10, ts, snmp),
        Observation(
            device, "pubnet_ap_clients", float(rng.randint(0, 60)), ts, snmp, (("radio", "wlan1"),)
        ),
        Observation(device, "pubnet_ap_radio_channel", 6.0, ts, snmp, (("radio", "wlan1"),)),
    ]
    obs.extend(
        Observation(
            device,
            "pubnet_device_poll_status",
            1.0 if s == "ok" else 0.0,
            ts,
            snmp,
            (("status", s),),
        )
        for s in STATUSES
    )
    for ifname in (uplink, "wlan1"):
        labels = (("ifname", ifname),)
        obs.extend(
            Observation(device, metric, float(rng.randint(0, most)), ts, snmp, labels)
            for metric, most in COUNTERS
        )
        obs.extend(
            (
                Observation(device, "pubnet_interface_oper_up", 1.0, ts, snmp, labels),
                Observation(device, "pubnet_interface_speed_bps", 1e8, ts, snmp, labels),
            )
        )
    assert len(obs) == SERIES_PER_DEVICE
    return obs


def fill(store: StateStore, devices: int, rng: random.Random,
         inventory: Inventory | None = None) -> list[str]:
    """One poll of ``devices`` devices: the inventory's (by id) when given, else synthetic."""
    ids = sorted(inventory.devices)[:devices] if inventory is not None else []
    ids.extend(f"ap-{n:07d}" for n in range(len(ids), devices))
    uplinks: dict[str, str] = {}
    if inventory is not None:
        for link in inventory.links.values():
            uplinks.setdefault(link.a_device, link.a_interface)
    ts = time.time()
    for n, device in enumerate(ids):
        store.publish(device_observations(device, n, ts, rng, uplinks.get(device, "ether1")))
        store.set_status(device, PollStatus.OK, ts, Source.SNMP)
    return ids


def national_inventory(devices: int) -> Inventory:
    """A generated national inventory with about ``devices`` devices (2.55 per site)."""
    return generate(sites=max(1, int(devices / 2.55) + 1), seed=1)


def poll_some(store: StateStore, ids: list[str], share: float, rng: random.Random) -> None:
    """A share of the devices publish a new poll: counters move, gauges mostly stay."""
    ts = time.time()
    for device in rng.sample(ids, int(len(ids) * share)):
        series = store.device_series(device)
        new = []
        for (metric, _labels), obs in series.items():
            value = obs.value
            if metric.endswith("bytes_total"):
                value += rng.randint(1, 10**6)
            elif metric == "pubnet_device_uptime_seconds":
                value += 60
            new.append(Observation(device, metric, value, ts, obs.source, obs.labels))
        store.publish(new)


class StoreCollector(Collector):
    """The plain prometheus-client way: one pass over the store per scrape."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        store = self.store
        for device in store.devices_with_series():
            for (metric, labels), obs in store.device_series(device).items():
                family = families.get(metric)
                names = ["device", *(k for k, _ in labels)]
                if family is None:
                    if metric.endswith("_total"):
                        family = CounterMetricFamily(metric, metric, labels=names)
                    else:
                        family = GaugeMetricFamily(metric, metric, labels=names)
                    families[metric] = family
                family.add_metric([device, *(v for _, v in labels)], obs.value)  # type: ignore[attr-defined]
        yield from families.values()


def timed(fn: object) -> tuple[float, bytes]:
    assert callable(fn)
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


async def stall_during_scrape(expo: FleetExposition, executor: ThreadPoolExecutor) -> float:
    """Longest gap a 1 ms ticker sees on the loop while an async gzip scrape runs."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    await expo.refresh()
    jobs = expo.jobs(Format.TEXT)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(executor, expo.encode, Format.TEXT, jobs, True, b"")
    done.set()
    await task
    return max(gaps) if gaps else 0.0


def run_size(
    series: int, rounds: int, executor: ThreadPoolExecutor, reference: bool,
    with_inventory: bool = True,
) -> dict[str, float]:
    rng = random.Random(series)
    store = StateStore()
    devices = series // SERIES_PER_DEVICE
    inventory = national_inventory(devices) if with_inventory else None
    t0 = time.perf_counter()
    ids = fill(store, devices, rng, inventory)
    fill_s = time.perf_counter() - t0
    expo = FleetExposition(store, inventory, executor=executor)
    cold_plain, body = timed(lambda: expo.render_sync(Format.TEXT, False))
    plain_mb = len(body) / 1e6
    cold_gzip, gz = timed(
        lambda: FleetExposition(store, inventory, executor=executor).render_sync(Format.TEXT, True)
    )
    assert gzip.decompress(gz) == body, "gzip body differs from plain body"
    steady: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for use_gzip in (False, True):
            poll_some(store, ids, 0.10, rng)
            dt, out = timed(lambda g=use_gzip: expo.render_sync(Format.TEXT, g))
            steady[use_gzip].append(dt)
    gz_mb = len(out) / 1e6
    # what a scrape costs once the component's background render (every 2 s) caught up
    prerendered: list[float] = []
    for _ in range(rounds):
        poll_some(store, ids, 0.10, rng)
        expo.refresh_now()
        dt, _out = timed(lambda: expo.encode(Format.TEXT, expo.jobs(Format.TEXT), True))
        prerendered.append(dt)
    poll_some(store, ids, 0.10, rng)
    stall = asyncio.run(stall_during_scrape(expo, executor))
    result = {
        "series": float(store.series_count()),
        "fill_s": fill_s,
        "cold_plain_s": cold_plain,
        "cold_gzip_s": cold_gzip,
        "steady_plain_s": statistics.median(steady[False]),
        "steady_gzip_s": statistics.median(steady[True]),
        "prerendered_gzip_s": statistics.median(prerendered),
        "max_loop_stall_s": stall,
        "plain_mb": plain_mb,
        "gzip_mb": gz_mb,
    }
    if reference:
        registry = CollectorRegistry()
        registry.register(StoreCollector(store))
        ref_plain, ref_body = timed(lambda: generate_latest(registry))
        gz_start = time.perf_counter()
        gzip.compress(ref_body)
        ref_gzip = ref_plain + time.perf_counter() - gz_start
        result["reference_plain_s"] = ref_plain
        result["reference_gzip_s"] = ref_gzip
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,250000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--no-inventory", action="store_true",
                        help="synthetic device ids, no site/link families")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    headline: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gzip") as executor:
        print(
            f"{'series':>9} {'cold':>7} {'cold gz':>7} {'steady':>7} {'stdy gz':>7} "
            f"{'pre gz':>7} {'stall':>6} {'MB':>6} {'gz MB':>6} {'ref':>7} {'ref gz':>7} "
            f"{'ratio':>6}"
        )
        for size in sizes:
            r = run_size(size, args.rounds, executor, not args.no_reference,
                         not args.no_inventory)
            ratio = r.get("reference_gzip_s", 0.0) / r["steady_gzip_s"]
            print(
                f"{int(r['series']):>9} {r['cold_plain_s']:7.3f} {r['cold_gzip_s']:7.3f} "
                f"{r['steady_plain_s']:7.3f} {r['steady_gzip_s']:7.3f} "
                f"{r['prerendered_gzip_s']:7.3f} "
                f"{r['max_loop_stall_s']:6.3f} {r['plain_mb']:6.1f} {r['gzip_mb']:6.1f} "
                f"{r.get('reference_plain_s', 0.0):7.3f} {r.get('reference_gzip_s', 0.0):7.3f} "
                f"{ratio:6.1f}",
                flush=True,
            )
            key = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
            headline[f"{key}_gzip_vs_reference"] = round(ratio, 1)
            for name in (
                "steady_gzip_s",
                "steady_plain_s",
                "prerendered_gzip_s",
                "cold_gzip_s",
                "cold_plain_s",
                "reference_plain_s",
                "reference_gzip_s",
                "max_loop_stall_s",
            ):
                if name in r:
                    headline[f"{key}_{name}"] = round(r[name], 4)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
