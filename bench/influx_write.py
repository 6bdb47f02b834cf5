"""The Influx writer's CPU per point and points per second, next to influxdb-client's own encoder.

Devices in the generator's mix (as ``bench/series_memory.py``: 47, 54 and 95 series per
poll, label tuples built afresh per poll as the collectors build them) with a generated
inventory's site and province tags. For each fleet size:

- **encode**: :class:`~exporters.influx.lineproto.LineEncoder` over two polls of every
  device (the first fills its caches, the second is the steady state), ns per point, median
  of ``--rounds``; and the encoder's memory (tracemalloc, bytes per series) after them,
  and at its peak during them (a cache cleared when full holds less after than at peak);
- **reference**: influxdb-client's ``Point(...).tag(...).field(...).time(...)
  .to_line_protocol()`` over the second poll, ns per point;
- **writer** (unless ``--no-server``): the whole ``influxdb`` component against a real
  VictoriaMetrics: every device publishes one poll into a state store, as fast as the
  process can, yielding to the loop after each (a first round's burst, the worst case for
  the store subscription), then one
  more poll per device spread over ``--spread`` seconds; points written per second, this
  process's CPU µs per point (store, encode, HTTP), and what the store's subscription
  dropped;
- **drain** (with ``--drain``; ``--against REV`` then compares the busy loop's rate
  with the ``exporters`` package at ``REV``, ``--repeat`` alternations): a disk backlog
  of ``--drain-batches`` 5,000-point batches delivered to VictoriaMetrics for
  ``--drain-seconds`` (or until drained), once on an idle loop and once on a loop whose
  every turn takes ``--busy-ms`` (tasks burning 2 ms each between yields, as polls'
  callbacks do on a saturated pubnet); each with requests of up to
  ``REQUEST_MAX_BATCHES`` batches and, as the reference, of one batch each;
- **sustain** (with ``--sustain``): the fleet at 100,000 devices as the writer meets it,
  ``--rate`` points per second (polls of the generator's mix, ~60 series each) published
  for ``--sustain-seconds`` on a loop whose every turn takes ``--busy-ms`` (a saturated
  pubnet), into the whole ``influxdb`` component and a real VictoriaMetrics; then a stop.
  Points written per second, what went to the disk buffer or was dropped, the writer's
  CPU µs per point published (the process's CPU less the busy tasks' and the producer's),
  and how long the stop took. With ``--against REV`` it runs as child processes,
  alternately with the ``exporters`` package at ``REV`` and as it is now
  (``--repeat`` times), and prints the medians and ratios.

    .venv/bin/python bench/influx_write.py                      # --devices 10000,100000
    .venv/bin/python bench/influx_write.py --devices 20000 --rounds 1 --no-server
    .venv/bin/python bench/influx_write.py --drain --no-encode --no-server
    .venv/bin/python bench/influx_write.py --devices 20000,100000 --no-server --against HEAD~1
    nice -n 10 .venv/bin/python bench/influx_write.py --sustain --against HEAD~1 --repeat 3

``--against REV`` runs the encode figures of the encoder at git revision ``REV`` too, round
for round with the current one, and prints the ratio (old ns over new ns).

The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if os.environ.get("PUBNET_BENCH_OLD_CODE") is None:  # at_revision.OLD_CODE
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from at_revision import module_at, runs_against  # noqa: E402
from influxdb_client import Point  # noqa: E402
from influxdb_client.domain.write_precision import WritePrecision  # noqa: E402
from series_memory import MIX, poll, templates  # noqa: E402

if os.environ.get("PUBNET_BENCH_OLD_CODE") is not None:  # at_revision.OLD_CODE
    # series_memory put today's tree first and imported today's exporters package (its
    # Prometheus side): the old tree goes first again and exporters is imported afresh
    sys.path.remove(str(ROOT))
    for name in [m for m in sys.modules if m == "exporters" or m.startswith("exporters.")]:
        del sys.modules[name]

from exporters.influx.buffer import DiskBuffer  # noqa: E402
from exporters.influx.lineproto import LineEncoder  # noqa: E402
from exporters.influx.writer import REQUEST_MAX_BATCHES, InfluxWriter  # noqa: E402
from inventory.model import Inventory  # noqa: E402
from pubnet.config import InfluxConfig  # noqa: E402
from pubnet.model import Observation  # noqa: E402
from pubnet.ports import free_port  # noqa: E402
from pubnet.state import StateStore  # noqa: E402

Series = list[tuple[str, list[tuple[str, str]], float]]
T0 = 1_700_000_000.0


def plan(devices: int) -> list[tuple[str, str, str, Series]]:
    """(device, site, province, series of its kind) for the fleet, as series_memory lays it."""
    kinds = templates()
    out = []
    for index in range(devices):
        share = (index % 100) / 100
        kind = "ap" if share < MIX[0][1] else "gw" if share < MIX[0][1] + MIX[1][1] else "da"
        site = f"S-{index // 3:05d}"
        out.append((f"{site}-{kind}{index % 3}", site, str(10 + index % 77), kinds[kind]))
    return out


def inventory_tags(fleet: list[tuple[str, str, str, Series]]
                   ) -> dict[str, tuple[tuple[str, str], ...]]:
    return {device: (("site", site), ("province", province))
            for device, site, province, _ in fleet}


class HeldLabels:
    """Label tuples as the SNMP poller hands them over (``--labels held``): a label set
    without a device's own values is one tuple for every device and poll (the poller's
    shared label cache), ``pubnet_device_up``'s and ``pubnet_device_info``'s one tuple per
    device kept poll after poll, and ``pubnet_interface_info``'s (ifalias, added to the
    row's labels at every poll) a new tuple each time."""

    FRESH = frozenset({"pubnet_interface_info"})

    def __init__(self) -> None:
        self._shared: dict[tuple[str, int], tuple[tuple[str, str], ...]] = {}
        self._own: dict[tuple[str, int], tuple[tuple[str, str], ...]] = {}

    def poll(self, device: str, site: str, series: Series, ts: float) -> list[Observation]:
        fresh = poll(device, site, series, ts)
        out = []
        for index, obs in enumerate(fresh):
            if obs.metric in self.FRESH:
                out.append(obs)
                continue
            own = any("{dev}" in v or "{site}" in v for _, v in series[index][1])
            held = self._own if own else self._shared
            key = (device if own else str(id(series)), index)
            labels = held.setdefault(key, obs.labels)
            out.append(obs._replace(labels=labels))
        return out


def polls(fleet: list[tuple[str, str, str, Series]], ts: float,
          held: HeldLabels | None = None) -> Iterator[list[Observation]]:
    for device, site, _province, series in fleet:
        yield (held.poll if held is not None else poll)(device, site, series, ts)


def encode_round(encoder: LineEncoder, fleet: list[tuple[str, str, str, Series]],
                 ts: float, held: HeldLabels | None = None) -> tuple[float, int]:
    """CPU seconds spent in the encoder for one poll of every device, and points."""
    spent = 0.0
    points = 0
    for observations in polls(fleet, ts, held):
        out: list[str] = []
        started = time.perf_counter()
        encoder.encode_into(observations, out)
        spent += time.perf_counter() - started
        points += len(out)
    return spent, points


def reference_round(fleet: list[tuple[str, str, str, Series]], ts: float,
                    tags: dict[str, tuple[tuple[str, str], ...]]) -> tuple[float, int]:
    spent = 0.0
    points = 0
    for observations in polls(fleet, ts):
        started = time.perf_counter()
        for obs in observations:
            point = Point(obs.metric).tag("device", obs.device)
            for name, value in tags.get(obs.device, ()):
                point.tag(name, value)
            for name, value in obs.labels:
                point.tag(name, value)
            point.field("value", float(obs.value)).time(round(obs.ts * 1e6) * 1000,
                                                         WritePrecision.NS)
            point.to_line_protocol()
        spent += time.perf_counter() - started
        points += len(observations)
    return spent, points


def encoder_at(revision: str) -> type[LineEncoder]:
    """The ``LineEncoder`` of ``exporters/influx/lineproto.py`` at a git revision."""
    encoder: type[LineEncoder] = module_at("exporters/influx/lineproto.py",
                                           revision).LineEncoder
    return encoder


def encode_figures(devices: int, rounds: int, reference: bool,
                   encoders: dict[str, type[LineEncoder]], held: bool = False,
                   memory: bool = True) -> dict[str, dict[str, float]]:
    """Figures per encoder class (the encoders take turns, round by round); label tuples
    held as the SNMP poller holds them with ``held`` (:class:`HeldLabels`), else new for
    every poll; without ``memory`` no tracemalloc pass."""
    fleet = plan(devices)
    labels = HeldLabels() if held else None
    tags = inventory_tags(fleet)
    cold: dict[str, list[float]] = {name: [] for name in encoders}
    steady: dict[str, list[float]] = {name: [] for name in encoders}
    ref: list[float] = []
    series = sum(len(s) for *_, s in fleet)
    for n in range(rounds):
        for name, cls in encoders.items():
            gc.collect()
            encoder = cls(tags)
            spent, points = encode_round(encoder, fleet, T0 + 60 * n, labels)
            cold[name].append(spent / points * 1e9)
            spent, points = encode_round(encoder, fleet, T0 + 60 * n + 30, labels)
            steady[name].append(spent / points * 1e9)
            del encoder
        if reference:
            spent, points = reference_round(fleet, T0 + 60 * n + 45, tags)
            ref.append(spent / points * 1e9)
    out: dict[str, dict[str, float]] = {}
    for name, cls in encoders.items():
        figures = out[name] = {
            "series": series,
            "encode_cold_ns": round(statistics.median(cold[name])),
            "encode_steady_ns": round(statistics.median(steady[name])),
        }
        if not memory:
            continue
        gc.collect()
        tracemalloc.start()  # apart: tracing slows every allocation ten-fold
        before = tracemalloc.get_traced_memory()[0]
        encoder = cls(tags)
        for ts in (T0, T0 + 30):
            encode_round(encoder, fleet, ts, labels)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del encoder
        figures["encoder_peak_bytes_per_series"] = round((peak - before) / series, 1)
        figures["encoder_bytes_per_series"] = round((current - before) / series, 1)
        if ref:
            figures["reference_ns"] = round(statistics.median(ref))
            figures["reference_vs_steady"] = round(figures["reference_ns"]
                                                   / figures["encode_steady_ns"], 1)
    return out


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def victoria(data: Path, pid: list[int] | None = None) -> AsyncIterator[str]:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        raise SystemExit("victoria-metrics not found (apt install victoria-metrics)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = await asyncio.to_thread(
        subprocess.Popen, [binary, f"-httpListenAddr=127.0.0.1:{port}",
                           f"-storageDataPath={data}", "-loggerLevel=ERROR"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if pid is not None:
        pid.append(proc.pid)
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url + "/health") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)


@contextlib.asynccontextmanager
async def running_writer(tmp: Path, tags: dict[str, tuple[tuple[str, str], ...]],
                         vm_pid: list[int] | None = None
                         ) -> AsyncIterator[tuple[StateStore, InfluxWriter, InfluxConfig,
                                                  asyncio.Task[None]]]:
    """A writer following a store of its own into a VictoriaMetrics of its own (``tmp``),
    running: ``(store, writer, config, its task)``; cancelled at the end if still running."""
    async with victoria(tmp / "vm", vm_pid) as url:
        config = InfluxConfig(url=url, token="bench", org="pubnet", bucket="pubnet",
                              buffer_dir=tmp / "buffer")
        store = StateStore()
        writer = InfluxWriter(store, Inventory(), config, stats_interval=None)
        writer.encoder = LineEncoder(tags)
        task = asyncio.create_task(writer.run(), name="influx")
        await writer.ready.wait()
        try:
            yield store, writer, config, task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def writer_figures(devices: int, spread: float) -> dict[str, float]:
    fleet = plan(devices)
    tags = inventory_tags(fleet)
    with tempfile.TemporaryDirectory(prefix="influx-bench-") as tmp:
        async with running_writer(Path(tmp), tags) as (store, writer, _config, task):
            started = time.perf_counter()
            cpu = time.process_time()
            published = 0
            for observations in polls(fleet, T0):  # the first round: as fast as it can
                store.publish(observations)
                published += len(observations)
                await asyncio.sleep(0)  # a poll's answer is one callback among others
            burst_s = time.perf_counter() - started
            step = spread / len(fleet)
            next_at = time.perf_counter()
            for observations in polls(fleet, T0 + 60):
                store.publish(observations)
                published += len(observations)
                next_at += step
                delay = next_at - time.perf_counter()
                await asyncio.sleep(max(0.0, delay))
            (sub,) = [s for s in store.subscriber_stats() if s.name == "influxdb"]
            dropped = sub.dropped
            while writer.stats.points_written + writer.buffer.points < published - dropped:
                await asyncio.sleep(0.05)
                (sub,) = [s for s in store.subscriber_stats() if s.name == "influxdb"]
                dropped = sub.dropped
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    written = writer.stats.points_written
    return {
        "published": published,
        "burst_publish_s": round(burst_s, 2),
        "written": written,
        "disk_buffered": writer.buffer.points,
        "store_dropped": dropped,
        "points_per_s": round(written / elapsed),
        "cpu_us_per_point": round(cpu / max(1, written) * 1e6, 2),
        "elapsed_s": round(elapsed, 1),
    }


async def _busy(burn_s: float) -> None:
    """One of the callbacks a saturated loop runs each turn."""
    while True:
        end = time.perf_counter() + burn_s
        while time.perf_counter() < end:
            pass
        await asyncio.sleep(0)


async def drain_rate(batches: int, seconds: float, busy_ms: float, per_request: int
                     ) -> float:
    """Points per second a writer delivers from a disk backlog of ``batches`` batches."""
    line = "bench,device=d{i},site=s{i} value={i} 1700000000000000000"
    data = "\n".join(line.format(i=i) for i in range(5000)).encode()
    with tempfile.TemporaryDirectory(prefix="influx-drain-") as tmp:
        async with victoria(Path(tmp) / "vm") as url:
            config = InfluxConfig(url=url, token="bench", org="pubnet", bucket="pubnet",
                                  buffer_dir=Path(tmp) / "buffer")
            backlog = DiskBuffer(config.buffer_dir, 1 << 40)
            await backlog.open()
            await backlog.append_many([(data, 5000)] * batches)
            writer = InfluxWriter(StateStore(), Inventory(), config, stats_interval=None,
                                  request_batches=per_request)
            task = asyncio.create_task(writer.run(), name="influx")
            busy = [asyncio.create_task(_busy(0.002)) for _ in range(int(busy_ms / 2))]
            await writer.ready.wait()
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                if not writer.buffer:
                    break  # drained
                await asyncio.sleep(0.02)
            rate = writer.stats.points_written / (time.perf_counter() - started)
            for one in busy:
                one.cancel()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return rate


async def drain_figures(batches: int, seconds: float, busy_ms: float, busy_only: bool = False
                        ) -> dict[str, float]:
    merged = REQUEST_MAX_BATCHES
    figures: dict[str, float] = {}
    loops = (("busy", busy_ms),) if busy_only else (("idle", 0.0), ("busy", busy_ms))
    for loop, ms in loops:
        cases = (("merged", merged),) if busy_only else (("merged", merged), ("reference", 1))
        for name, per_request in cases:
            rate = await drain_rate(batches, seconds, ms, per_request)
            figures[f"{loop}_{name}_points_per_s"] = round(rate)
            print(f"drain, {loop} loop ({ms:g} ms turns), up to {per_request} batches per "
                  f"request: {rate:,.0f} points/s", flush=True)
        if not busy_only:
            figures[f"{loop}_ratio"] = round(
                figures[f"{loop}_merged_points_per_s"]
                / max(1, figures[f"{loop}_reference_points_per_s"]), 2)
    return figures


async def sustain_figures(rate: float, seconds: float, busy_ms: float,
                          devices: int = 100_000) -> dict[str, float]:
    """The writer fed ``rate`` points/s for ``seconds`` on a loop whose turns take
    ``busy_ms``, against VictoriaMetrics; then stopped (see the module docstring)."""
    fleet = plan(devices)
    tags = inventory_tags(fleet)
    burnt = [0.0]
    turns = [0]

    async def busy(burn_s: float) -> None:
        while True:
            started = time.thread_time()
            end = time.perf_counter() + burn_s
            while time.perf_counter() < end:
                pass
            burnt[0] += time.thread_time() - started
            await asyncio.sleep(0)

    async def count_turns() -> None:
        while True:
            turns[0] += 1
            await asyncio.sleep(0)

    vm_pid: list[int] = []
    with tempfile.TemporaryDirectory(prefix="influx-sustain-") as tmp:
        async with running_writer(Path(tmp), tags, vm_pid) as (store, writer, config, task):
            burners = [asyncio.create_task(busy(0.002)) for _ in range(int(busy_ms / 2))]
            burners.append(asyncio.create_task(count_turns()))
            produced = 0.0
            published = 0
            cursor = 0
            started = time.perf_counter()
            cpu = time.process_time()
            vm_cpu = cpu_seconds(vm_pid[0])
            half: tuple[float, int] | None = None
            while (now := time.perf_counter()) - started < seconds:
                if half is None and now - started >= seconds / 2:
                    half = now, writer.stats.points_written
                due = rate * (now - started)
                t0 = time.thread_time()
                while published < due:  # the polls answered since the last turn
                    device, site, _province, series = fleet[cursor % len(fleet)]
                    observations = poll(device, site, series, T0 + cursor // len(fleet) * 60)
                    cursor += 1
                    store.publish(observations)
                    published += len(observations)
                produced += time.thread_time() - t0
                await asyncio.sleep(0)
            elapsed = time.perf_counter() - started
            written = writer.stats.points_written
            assert half is not None
            steady = (written - half[1]) / (started + elapsed - half[0])
            cpu = time.process_time() - cpu - burnt[0] - produced
            vm_cpu = cpu_seconds(vm_pid[0]) - vm_cpu
            turn_ms = elapsed / max(1, turns[0]) * 1000
            (sub,) = [s for s in store.subscriber_stats() if s.name == "influxdb"]
            buffered = writer.buffer.points
            in_memory = writer._queue.qsize() * config.batch_size + sub.pending
            stop_started = time.perf_counter()
            task.cancel()  # the stop, on the same busy loop
            with contextlib.suppress(asyncio.CancelledError):
                await task
            stop_s = time.perf_counter() - stop_started
            for one in burners:
                one.cancel()
    return {
        "published": published,
        "written": written,
        "points_per_s": round(written / elapsed),
        "second_half_points_per_s": round(steady),
        "disk_buffered": buffered,
        "store_dropped": sub.dropped,
        "buffer_dropped": writer.buffer.dropped_points,
        "cpu_us_per_point": round(cpu / max(1, published) * 1e6, 2),
        "vm_cpu_us_per_point": round(vm_cpu / max(1, written) * 1e6, 2),
        "turn_ms": round(turn_ms),
        "in_memory_at_stop": in_memory,
        "stop_s": round(stop_s, 2),
        "kept_after_stop": writer.buffer.points,
        "written_after_stop": writer.stats.points_written,
    }


def sustain_against(args: argparse.Namespace) -> dict[str, object]:
    """The sustain figures with ``exporters`` at ``--against`` and now, alternately."""
    command = [str(Path(__file__).resolve()), "--sustain", "--no-encode", "--no-server",
               "--rate", str(args.rate), "--sustain-seconds", str(args.sustain_seconds),
               "--busy-ms", str(args.busy_ms)]
    results = runs_against(args.against, "exporters", command, args.repeat)
    report: dict[str, object] = {}
    for name in ("points_per_s", "second_half_points_per_s", "disk_buffered",
                 "store_dropped", "cpu_us_per_point", "turn_ms", "stop_s"):
        old = statistics.median(float(r[f"sustain_{name}"]) for r in results["old"])
        new = statistics.median(float(r[f"sustain_{name}"]) for r in results["new"])
        report[f"sustain_old_{name}"], report[f"sustain_{name}"] = old, new
        print(f"sustain {name}: old {old:g}, new {new:g}"
              + (f", new/old {new / old:.2f}" if old else ""))
    return report

def drain_against(args: argparse.Namespace) -> dict[str, object]:
    """The busy-loop drain rate with ``exporters`` at ``--against`` and now, alternately."""
    command = [str(Path(__file__).resolve()), "--drain", "--drain-busy-only", "--no-encode",
               "--no-server", "--drain-batches", str(args.drain_batches),
               "--drain-seconds", str(args.drain_seconds), "--busy-ms", str(args.busy_ms)]
    results = runs_against(args.against, "exporters", command, args.repeat)
    name = "drain_busy_merged_points_per_s"
    old = statistics.median(float(r[name]) for r in results["old"])
    new = statistics.median(float(r[name]) for r in results["new"])
    print(f"drain on a busy loop: old {old:,.0f}, new {new:,.0f} points/s, "
          f"new/old {new / max(1.0, old):.2f}")
    return {f"old_{name}": old, name: new, "drain_busy_ratio": round(new / max(1.0, old), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", default="10000,100000",
                        help="fleet sizes, comma separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--no-server", action="store_true",
                        help="encode figures only, no VictoriaMetrics")
    parser.add_argument("--writer-devices", type=int, default=20_000,
                        help="fleet size of the writer run against VictoriaMetrics")
    parser.add_argument("--spread", type=float, default=20.0,
                        help="seconds over which the second poll round is published")
    parser.add_argument("--no-encode", action="store_true", help="skip the encode figures")
    parser.add_argument("--labels", choices=("fresh", "held"), default="fresh",
                        help="encode figures: label tuples new for every poll, or held as "
                             "the SNMP poller holds them (shared ones and each device's "
                             "up/info labels the same tuple poll after poll)")
    parser.add_argument("--no-memory", action="store_true",
                        help="encode figures: skip the (slow) tracemalloc pass")
    parser.add_argument("--drain", action="store_true",
                        help="measure a disk backlog's drain rate on an idle and a busy loop")
    parser.add_argument("--drain-batches", type=int, default=1000)
    parser.add_argument("--drain-seconds", type=float, default=15.0)
    parser.add_argument("--drain-busy-only", action="store_true",
                        help="only the busy loop with merged requests (as --against runs it)")
    parser.add_argument("--busy-ms", type=float, default=200.0,
                        help="how long each turn of the busy loop takes")
    parser.add_argument("--against", metavar="REV",
                        help="also time the encoder at this git revision, round for round")
    parser.add_argument("--sustain", action="store_true",
                        help="feed --rate points/s on a busy loop into VictoriaMetrics, "
                             "then stop")
    parser.add_argument("--rate", type=float, default=54_000.0)
    parser.add_argument("--sustain-seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternations of --sustain --against")
    args = parser.parse_args()
    if args.sustain and args.against:
        print(json.dumps(sustain_against(args)))
        return
    if args.drain and args.against:
        print(json.dumps(drain_against(args)))
        return
    report: dict[str, object] = {}
    encoders = {"new": LineEncoder}
    if args.against:
        encoders = {"old": encoder_at(args.against), **encoders}
    print(f"{'devices':>8} {'encoder':>7} {'series':>10} {'cold ns':>8} {'steady ns':>9} "
          f"{'B/series':>8} {'ref ns':>7} {'ratio':>6}")
    sizes = [] if args.no_encode else [int(d) for d in args.devices.split(",")]
    for devices in sizes:
        per_encoder = encode_figures(devices, args.rounds, not args.no_reference, encoders,
                                     held=args.labels == "held", memory=not args.no_memory)
        for name, figures in per_encoder.items():
            print(f"{devices:>8} {name:>7} {figures['series']:>10,} "
                  f"{figures['encode_cold_ns']:>8} {figures['encode_steady_ns']:>9} "
                  f"{figures.get('encoder_bytes_per_series', '-'):>8} "
                  f"{figures.get('reference_ns', '-'):>7} "
                  f"{figures.get('reference_vs_steady', '-'):>6}")
        key = f"{devices // 1000}k"
        report.update({f"{key}_{name}": value for name, value in per_encoder["new"].items()})
        if "old" in per_encoder:
            old, new = per_encoder["old"], per_encoder["new"]
            ratios = {what: round(old[f"encode_{what}_ns"] / new[f"encode_{what}_ns"], 2)
                      for what in ("cold", "steady")}
            memory = "" if args.no_memory else (
                f", bytes/series {old['encoder_bytes_per_series']} -> "
                f"{new['encoder_bytes_per_series']} (peak "
                f"{old['encoder_peak_bytes_per_series']} -> "
                f"{new['encoder_peak_bytes_per_series']})")
            print(f"{devices:>8} old/new: cold {ratios['cold']}x, steady {ratios['steady']}x"
                  + memory)
            report.update({f"{key}_old_{name}": value for name, value in old.items()})
            report.update({f"{key}_{what}_ratio": value for what, value in ratios.items()})
    if not args.no_server:
        figures = asyncio.run(writer_figures(args.writer_devices, args.spread))
        print("writer:", ", ".join(f"{k} {v}" for k, v in figures.items()))
        key = f"writer_{args.writer_devices // 1000}k"
        report.update({f"{key}_{name}": value for name, value in figures.items()})
    if args.sustain:
        figures = asyncio.run(sustain_figures(args.rate, args.sustain_seconds, args.busy_ms))
        print("sustain:", ", ".join(f"{k} {v}" for k, v in figures.items()), flush=True)
        report.update({f"sustain_{name}": value for name, value in figures.items()})
    if args.drain:
        figures = asyncio.run(drain_figures(args.drain_batches, args.drain_seconds,
                                            args.busy_ms, args.drain_busy_only))
        report.update({f"drain_{name}": value for name, value in figures.items()})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
