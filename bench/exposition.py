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

``--busy`` measures instead what a Prometheus scrape waits for at 100,000 devices: the
component (``pubnet run``'s wiring: the HTTP listener, the background render, the poll
durations' subscription) serves an exposition of ``--busy-series`` series (25 per device)
on an event loop whose every turn takes ``--busy-ms`` (tasks burning ~2 ms each between
yields, as the fleet's polls do, steered so that a turn with the producer's and the
exporter's work lasts that long), while a producer publishes ``--busy-rate`` observations
a second (each device in turn, its uptime set to the time of its poll). A scraper in a
child process (its own interpreter, as Prometheus is) asks for ``/metrics`` with gzip over
one kept-alive connection every ``--busy-every`` seconds. Figures: scrape seconds p50/max
(client side), the loop turns a scrape spans, the turn length, and how old the scraped data
is (per device: scrape time less the scraped uptime; fresh data is 0 to one poll interval
old, here 59 s). ``--against REV`` runs it with the ``exporters`` package at ``REV`` and
now, alternately (``--repeat`` times each), and prints old, new and the ratio::

    nice -n 10 .venv/bin/python bench/exposition.py --busy --against fba66c0 --repeat 3

The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import gzip
import http.client
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from at_revision import runs_against
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from exporters.prometheus.endpoint import PrometheusExporter
from exporters.prometheus.exposition import FleetExposition, Format
from inventory.generate import generate
from inventory.model import Inventory
from pubnet.app.components import build_http
from pubnet.app.runtime import Readiness
from pubnet.app.web import WebServer
from pubnet.config import Config, PrometheusConfig
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


# -- --busy: a scrape on a saturated loop -------------------------------------------------

UPTIME = re.compile(rb'^pubnet_device_uptime_seconds\{device="([^"]+)"\} (\S+)$', re.M)


def busy_poll(device: str, n: int, ts: float, rng: random.Random) -> list[Observation]:
    """One poll of a device whose uptime is the poll's time: the scraped value tells how
    old the exposition's view of the device is."""
    obs = device_observations(device, n, ts, rng)
    obs[1] = obs[1]._replace(value=ts)
    return obs


def scraper_child(port: int, count: int, every: float, out: Path) -> int:
    """The scraper (``--scraper-child``): ``count`` gzip scrapes over one kept-alive
    connection, one every ``every`` seconds; prints one JSON line per scrape."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for n in range(count):
        started = time.time()
        t0 = time.perf_counter()
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        body = resp.read()
        took = time.perf_counter() - t0
        (out / f"scrape-{n}.gz").write_bytes(body)
        print(json.dumps({"n": n, "started": started, "seconds": took,
                          "status": resp.status, "bytes": len(body)}), flush=True)
        time.sleep(max(0.0, every - took))
    conn.close()
    return 0


async def busy_figures(args: argparse.Namespace) -> dict[str, float]:
    """The scrape on a loop of ``--busy-ms`` turns (see the module docstring)."""
    rng = random.Random(1)
    store = StateStore()
    devices = args.busy_series // SERIES_PER_DEVICE
    ids = [f"ap-{n:07d}" for n in range(devices)]
    started = time.perf_counter()
    ts = time.time()
    for n, device in enumerate(ids):
        store.publish(busy_poll(device, n, ts, rng))
        store.set_status(device, PollStatus.OK, ts, Source.SNMP)
    print(f"{store.series_count():,} series of {devices:,} devices in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    config = PrometheusConfig(listen="127.0.0.1:0")
    readiness = Readiness()
    parts = build_http(Config(prometheus=config), Inventory(), store, readiness)
    readiness.track(parts)
    exporter, server, *_ = parts
    assert isinstance(exporter, PrometheusExporter) and isinstance(server, WebServer)
    started = time.perf_counter()
    plain = len(exporter.service.exposition.render_sync(Format.TEXT, False))
    exporter.service.exposition.render_sync(Format.TEXT, True)
    print(f"cold render {time.perf_counter() - started:.1f} s, {plain / 1e6:.0f} MB of text",
          file=sys.stderr, flush=True)
    gc.collect()
    gc.freeze()  # as pubnet run does after its first round
    tasks = [asyncio.create_task(part.run(), name=part.name) for part in parts]
    turns: list[tuple[float, int]] = []
    burners = int(args.busy_ms / 2)
    each = [0.002]  # seconds each burner spends per turn: the turns stay --busy-ms long
    target = args.busy_ms / 1000

    async def burn() -> None:
        while True:
            end = time.perf_counter() + each[0]
            while time.perf_counter() < end:
                pass
            await asyncio.sleep(0)

    async def count_turns() -> None:
        """Counts the turns and steers the burners so that a turn, the producer's and the
        exporter's work included, lasts about ``target``."""
        count = 0
        last = time.perf_counter()
        while True:
            count += 1
            turns.append((time.time(), count))
            await asyncio.sleep(0)
            now = time.perf_counter()
            turn, last = now - last, now
            each[0] = max(0.0, each[0] + (target - turn) / burners * 0.5)

    async def produce() -> None:
        """The polls answered since the last turn, ``--busy-rate`` observations a second."""
        cursor = 0
        published = 0
        begun = time.perf_counter()
        while True:
            due = args.busy_rate * (time.perf_counter() - begun)
            now = time.time()
            while published < due:
                n = cursor % devices
                store.set_status(ids[n], PollStatus.OK, now, Source.SNMP,
                                 observations=busy_poll(ids[n], n, now, rng))
                published += SERIES_PER_DEVICE
                cursor += 1
            await asyncio.sleep(0)

    await asyncio.wait_for(server.ready.wait(), 60)
    assert server.bound is not None
    busy = [asyncio.create_task(burn()) for _ in range(burners)]
    busy += [asyncio.create_task(count_turns()), asyncio.create_task(produce())]
    await asyncio.sleep(args.busy_warmup)
    with tempfile.TemporaryDirectory(prefix="scrape-busy-") as tmp:
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--scraper-child", str(server.bound.port),
            str(args.busy_scrapes), str(args.busy_every), tmp, stdout=subprocess.PIPE)
        out, _ = await child.communicate()
        results = [json.loads(line) for line in out.decode().splitlines()]
        for one in busy:
            one.cancel()
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ages_p50: list[float] = []
        ages_max: list[float] = []
        for result in results:
            text = gzip.decompress((Path(tmp) / f"scrape-{result['n']}.gz").read_bytes())
            ages = sorted(result["started"] - float(value) for _, value in UPTIME.findall(text))
            assert len(ages) == devices, f"{len(ages)} devices scraped of {devices}"
            ages_p50.append(ages[len(ages) // 2])
            ages_max.append(ages[-1])
    stamps = [t for t, _ in turns]
    spans = [bisect.bisect_left(stamps, r["started"] + r["seconds"])
             - bisect.bisect_left(stamps, r["started"]) for r in results]
    elapsed = stamps[-1] - stamps[0]
    seconds = sorted(r["seconds"] for r in results)
    print("scrapes (s):", " ".join(f"{r['seconds']:.2f}" for r in results), file=sys.stderr)
    return {
        "scrape_p50_s": round(statistics.median(seconds), 3),
        "scrape_max_s": round(seconds[-1], 3),
        "turns_per_scrape": statistics.median(spans),
        "turn_ms": round(elapsed / max(1, len(stamps) - 1) * 1000),
        "age_p50_s": round(statistics.median(ages_p50), 1),
        "age_max_s": round(max(ages_max), 1),
        "gzip_mb": round(statistics.median(r["bytes"] for r in results) / 1e6, 1),
        "plain_mb": round(plain / 1e6),
        "series": store.series_count(),
    }


def busy_against(args: argparse.Namespace) -> dict[str, object]:
    """The busy-loop figures with ``exporters`` at ``--against`` and now, alternately."""
    command = [str(Path(__file__).resolve()), "--busy", "--busy-series", str(args.busy_series),
               "--busy-ms", str(args.busy_ms), "--busy-rate", str(args.busy_rate),
               "--busy-scrapes", str(args.busy_scrapes), "--busy-every", str(args.busy_every),
               "--busy-warmup", str(args.busy_warmup)]
    results = runs_against(args.against, "exporters", command, args.repeat)
    report: dict[str, object] = {}
    for name in ("scrape_p50_s", "scrape_max_s", "turns_per_scrape", "turn_ms", "age_p50_s",
                 "age_max_s"):
        old = statistics.median(float(r[name]) for r in results["old"])
        new = statistics.median(float(r[name]) for r in results["new"])
        report[f"old_{name}"], report[name] = old, new
        print(f"{name}: old {old:g}, new {new:g}", flush=True)
    report["scrape_p50_ratio"] = round(
        statistics.median(float(r["scrape_p50_s"]) for r in results["old"])
        / max(1e-9, statistics.median(float(r["scrape_p50_s"]) for r in results["new"])), 2)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,250000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--no-inventory", action="store_true",
                        help="synthetic device ids, no site/link families")
    parser.add_argument("--busy", action="store_true",
                        help="scrape latency on a saturated loop (see the module docstring)")
    parser.add_argument("--busy-series", type=int, default=4_200_000)
    parser.add_argument("--busy-ms", type=float, default=350.0,
                        help="how long each turn of the busy loop takes")
    parser.add_argument("--busy-rate", type=float, default=71_000.0,
                        help="observations published per second")
    parser.add_argument("--busy-scrapes", type=int, default=8)
    parser.add_argument("--busy-every", type=float, default=5.0)
    parser.add_argument("--busy-warmup", type=float, default=10.0)
    parser.add_argument("--against", metavar="REV",
                        help="with --busy: also run the exporters package at REV")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scraper-child", nargs=4, metavar=("PORT", "N", "EVERY", "DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scraper_child:
        port, count, every, out = args.scraper_child
        return scraper_child(int(port), int(count), float(every), Path(out))
    if args.busy:
        report = busy_against(args) if args.against else asyncio.run(busy_figures(args))
        print(json.dumps(report))
        return 0
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
