"""The capacity table: the whole ``pubnet run`` against a simulated fleet, at a given size.

As a new user would run it (issue 15): a generated inventory (``pubnet inventory
generate``), the fleet simulator answering every SNMP device and sending traps, and
``pubnet run`` at a 60 s interval with everything on: SNMP poller, ICMP prober, trap
receiver, Prometheus endpoint scraped every 15 s (gzip, as Prometheus does: the whole body
is read and timed, not decompressed; pubnet's own figures come from a scrape restricted to
them, ``/metrics?name[]=…``), Influx writer to a real VictoriaMetrics, alerting with a
webhook (served here), status history.

The simulator runs in one child process (one wildcard UDP socket serves every simulated
address, so 100,000 devices need a handful of descriptors); the generator's
``mqtt``-profile gateways publish telemetry from the same process to a real Mosquitto
that pubnet subscribes to (the embedded broker is for demos and small fleets: at 50,000
devices its ~2,400 gateway connections alone saturate pubnet's event loop).

After a warm-up (first round done, plus one interval, plus until no poll is overdue by
2 s, for at most two more intervals: ``settle_s`` says how long that last part took) it
measures for ``--intervals`` intervals, then cuts one district router (the router and
every device behind it fall silent) and waits for its incident to reach the webhook.
Printed, then one JSON line:

- polls completed per interval, as a share of the SNMP devices
  (``pubnet_poll_duration_seconds_count{source="snmp"}``);
- poll lag p50/p99: ``pubnet_poll_lag_seconds`` (the most overdue scheduled poll),
  sampled at every scrape;
- pubnet's CPU (cores, /proc over the measuring window) and peak RSS (VmHWM);
- scrape time p50/max, client side, gzip (and to the response's head: what waits for
  pubnet's loop), and series exposed. The measured scrapes go in turn to curl (the
  headline ``scrape_*``: a C client, a new connection each time), a C-speed client that
  keeps its connection between scrapes as Prometheus does (``scrape_kept_alive_*``) and
  this process's aiohttp (``scrape_python_*``, the reference: on a busy machine it reads
  slower than pubnet writes);
- Influx points/s written and points buffered at the end;
- cut → the router's failed poll (detection) → webhook, in seconds;
- the machine's speed before and after the run (``reference_s``: CPU seconds of a fixed
  pure-Python workload, :func:`host_reference`), and pubnet's CPU seconds per 1,000
  polls, also in those units: the machine is shared, and runs of different days compare
  only so.

With ``--shards N`` the same fleet is watched the way docs/deployment.md advises beyond
one process: N polling shards (``shard: I/N``) and one alerting instance
(``roles: [alerting]``) fed by the shards through the broker, all on this machine. Polls,
series, Influx points and pubnet's CPU and RSS are then summed over the processes (each
one's CPU and RSS are printed too), lag and scrape times pooled over the shards, and the
webhook is the alerting instance's.

Usage: ``python bench/fleet.py --devices 10000 [--intervals 3] [--interval 60]
[--shards N] [--nice-simulator N] [--keep DIR] [--loop-trace] [--gc-census]``. A kept
folder holds, besides each process's config, log and database, ``samples.tsv`` (every
measured scrape: process, its start, seconds, lag, polls in flight, the seconds pubnet
counted for it, seconds to its response's head) and ``hooks.txt`` (what the webhook
received after the cut); with ``--loop-trace``, each process's ``looptrace.txt``
(bench/looptrace.py); with ``--gc-census`` also its ``looptrace.txt.census.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import yaml
from aiohttp import web

from inventory.generate import generate
from inventory.model import Inventory
from inventory.writer import write_inventory
from pubnet.ports import free_port
from testbed.http import serving
from testbed.mosquitto import Mosquitto
from testbed.process import find_binary, stop_process

DEVICES_PER_SITE = 2.6
"""About what ``inventory generate`` yields per site (2.55 at 50,000 devices, 2.74 at
10,000), besides ~80 provincial nodes and cores."""
SCRAPE_EVERY = 15.0
CLIENTS = ("curl", "kept-alive", "python")
"""Who takes the measured scrapes, in turn. ``curl`` (C, a new connection each time) gives
the headline figures, as in every earlier run. ``kept-alive`` scrapes as Prometheus does:
over one connection kept open between scrapes (Prometheus 2.42 sends every scrape of a
target over the same connection) and reading the body at C speed (:class:`KeptAlive`): it
spares the scrape a new connection's loop turns (the accept, the transport, aiohttp's
connection task), though at 100,000 devices in one process it was no faster than curl
(session 22), its head waiting for the turns any request needs. ``python``, this process's
aiohttp (kept alive too), is the reference: on the busy 2-core machine its reads, a loop
turn per 256 KiB, took up to half of a 1 s scrape after pubnet had written the whole body
(session 18)."""
CREDENTIALS = {
    "village-v2": {"version": "2c", "community": "village-community"},
    "noc-v3": {"version": "3", "user": "noc", "auth_protocol": "sha256",
               "auth_key": "noc-auth-key-1", "priv_protocol": "aes128",
               "priv_key": "noc-priv-key-1"},
}


# -- the simulator, in child processes -------------------------------------------------------


def simulate(inventory_dir: str, config_path: str, network: str, port: int,
             trap_port: int, conn: Connection, nice: int = 0) -> None:
    """The simulator process: serve every SNMP device; ``("mqtt", port)`` connects the MQTT
    gateways to a broker, ``("silence", [ids])`` silences devices and gateways."""
    if nice:
        os.nice(nice)
    asyncio.run(_simulate(inventory_dir, config_path, network, port, trap_port, conn))


async def _simulate(inventory_dir: str, config_path: str, network: str, port: int,
                    trap_port: int, conn: Connection) -> None:
    from inventory.loader import load_inventory
    from pubnet.config import load_config
    from simulator import AddressPlan, Fleet
    from simulator.fleet import gateway_devices
    from simulator.gateways import BrokerSettings, MqttGateways

    inventory = load_inventory(inventory_dir).inventory
    config = load_config(Path(config_path))
    plan = AddressPlan(network, port)
    fleet = Fleet.from_inventory(inventory, plan, credentials=config.credentials,
                                 trap_target=("127.0.0.1", trap_port))
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    broker: asyncio.Queue[int] = asyncio.Queue()
    gateways: list[MqttGateways] = []

    def command() -> None:
        try:
            kind, arg = conn.recv()
        except EOFError:
            done.set()
            return
        if kind == "silence":
            for dev in arg:
                if dev in fleet.devices:
                    fleet.silence(dev)
                for group in gateways:
                    if dev in group.gateways:
                        group.silence(dev)
        elif kind == "mqtt":
            broker.put_nowait(arg)
        elif kind == "stop":
            done.set()

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(fleet)
        loop.add_reader(conn.fileno(), command)
        conn.send(("ready", len(fleet.devices)))
        waiter = asyncio.ensure_future(broker.get())
        await asyncio.wait({waiter, asyncio.ensure_future(done.wait())},
                           return_when=asyncio.FIRST_COMPLETED)
        if waiter.done():
            group = MqttGateways.from_devices(
                inventory, gateway_devices(inventory, plan),
                BrokerSettings.from_url(f"mqtt://127.0.0.1:{waiter.result()}"))
            await stack.enter_async_context(group)
            gateways.append(group)
            conn.send(("mqtt", group.stats.connected))
        await done.wait()


# -- the run ---------------------------------------------------------------------------------


def build_inventory(devices: int, seed: int) -> Inventory:
    """A generated inventory of at least ``devices`` devices: the sites' mix varies with
    their number, so an estimate that falls short is topped up (``--devices 100000`` gave
    96,991 before session 21; small fleets get more than asked, 2,415 for 2,000)."""
    sites = max(1, round((devices - 80) / DEVICES_PER_SITE))
    inventory = generate(sites=sites, seed=seed)
    while len(inventory.devices) < devices:
        per_site = len(inventory.devices) / sites
        sites += max(1, math.ceil((devices - len(inventory.devices)) / per_site))
        inventory = generate(sites=sites, seed=seed)
    return inventory


def children_of(inventory: Inventory) -> dict[str, list[str]]:
    """Each device's direct downstream devices (built once: per router it took the
    bench's loop ~2 minutes at 100,000 devices, beside pubnet, during the cut)."""
    children: dict[str, list[str]] = {}
    for device in inventory.devices.values():
        children.setdefault(device.upstream, []).append(device.device_id)
    return children


def downstream(children: Mapping[str, list[str]], root: str) -> list[str]:
    found, todo = [], [root]
    while todo:
        dev = todo.pop()
        found.append(dev)
        todo.extend(children.get(dev, ()))
    return found


METRIC = re.compile(rb"^(pubnet_[a-z_]+)(\{[^}]*\})? (\S+)$", re.M)
SETTLED_LAG = 2.0
"""Poll lag (s) below which the warm-up counts the fleet as settled (the goal's lag p99)."""
SETTLE_INTERVALS = 2
"""Intervals the warm-up waits at most for the first round's backlog to drain."""
WANTED = (b"pubnet_poll_lag_seconds", b"pubnet_poll_duration_seconds_count",
          b"pubnet_influx_points_written_total", b"pubnet_influx_buffer_points",
          b"pubnet_exporter_series", b"pubnet_exporter_scrape_duration_seconds",
          b"pubnet_alerting_incidents_open", b"pubnet_state_dropped_total",
          b"pubnet_polls_in_flight")


def pick(text: bytes) -> dict[str, float]:
    """The few of pubnet's own metrics the table needs (summed over labels, snmp only for
    the poll count)."""
    values: dict[str, float] = {}
    for name in WANTED:
        start = 0
        while (at := text.find(b"\n" + name, start)) >= 0:
            end = text.find(b"\n", at + 1)
            line = text[at + 1:end if end >= 0 else None]
            start = at + 1
            match = METRIC.match(line)
            if match is None or match.group(1) != name:
                continue
            labels = match.group(2) or b""
            if name == b"pubnet_poll_duration_seconds_count" and b'source="snmp"' not in labels:
                continue
            values[name.decode()] = values.get(name.decode(), 0.0) + float(match.group(3))
    return values


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def log_time(log: str, pattern: str) -> float | None:
    """Epoch seconds of the first log line matching ``pattern``."""
    match = re.search(r'^ts=(\S+) [^\n]*' + pattern, log, re.M)
    if match is None:
        return None
    return datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).timestamp()


class Scrape(NamedTuple):
    """One measured scrape of the whole body."""

    wall: float
    """Epoch seconds at its start."""
    seconds: float
    values: dict[str, float]
    """pubnet's own figures, read right after it (empty when the scrape failed)."""
    head: float
    """Seconds to the response's head: the part of a scrape that waits for pubnet's loop
    (the body comes from a worker thread)."""
    client: str


async def scrape_by_curl(url: str) -> tuple[bool, float, float]:
    """One gzip scrape by curl, its body read whole and thrown away: whether it succeeded,
    seconds to the head and in all (curl's own timers, from its connect)."""
    proc = await asyncio.create_subprocess_exec(
        find_binary("curl") or "curl", "-sS", "--max-time", "120", "-o", "/dev/null",
        "-H", "Accept-Encoding: gzip", "-w", "%{http_code} %{time_starttransfer} "
        "%{time_total} %{size_download}", url,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = await proc.communicate()
    code, head, total, _size = (out.decode().split() + ["0"] * 4)[:4]
    return proc.returncode == 0 and code == "200", float(head), float(total)


class KeptAlive:
    """A gzip scraper that keeps its connection open between scrapes, as Prometheus does,
    and reads the body whole at C speed (``http.client``, in a worker thread): what a
    Prometheus server's scrape of pubnet costs, where curl also pays for a new
    connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._conn: http.client.HTTPConnection | None = None

    def scrape(self) -> tuple[bool, float, float]:
        """One scrape: whether it succeeded, seconds to the head and in all. A connection
        pubnet closed while idle is opened again and the scrape retried once, as Go's
        HTTP client does (with 15 s between scrapes and pubnet's 75 s idle timeout, it
        should not happen)."""
        started = time.perf_counter()
        for attempt in (1, 2):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self._conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
                response = self._conn.getresponse()
                head = time.perf_counter() - started
                response.read()
                return response.status == 200, head, time.perf_counter() - started
            except (OSError, http.client.HTTPException):
                self.close()
                if not reused or attempt == 2:
                    break
        took = time.perf_counter() - started
        return False, took, took

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass
class Member:
    """One ``pubnet run`` process of the measurement: the whole service, or with
    ``--shards N`` one polling shard or the alerting instance."""

    name: str
    folder: Path
    port: int
    config: dict[str, object]
    polls: bool = True
    proc: subprocess.Popen[bytes] | None = None
    scrapes: list[Scrape] = field(default_factory=list)
    failed: list[float] = field(default_factory=list)
    cpu0: float = 0.0
    kept_alive: KeptAlive = field(init=False)

    def __post_init__(self) -> None:
        self.kept_alive = KeptAlive(self.port)

    @property
    def log_path(self) -> Path:
        return self.folder / "pubnet.log"

    @property
    def config_path(self) -> Path:
        return self.folder / "pubnet.yaml"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def good(self) -> list[Scrape]:
        return [s for s in self.scrapes if s.values] or self.scrapes

    def delta(self, name: str) -> float:
        good = self.good()
        return good[-1].values.get(name, 0.0) - good[0].values.get(name, 0.0) if good else 0.0

    def last(self, name: str) -> float:
        good = self.good()
        return good[-1].values.get(name, 0.0) if good else 0.0


def members(args: argparse.Namespace, work: Path, common: dict[str, object],
            alerting: dict[str, object], trap_port: int) -> list[Member]:
    """One process with every role, or ``--shards N`` polling shards (``shard: I/N``, only
    the first one receiving traps) and one ``roles: [alerting]`` instance, each in its own
    folder (its databases and buffers) with its own listener."""
    traps = {"listen": f"127.0.0.1:{trap_port}", "credentials": ["village-v2"]}
    if args.shards <= 1:
        return [Member("pubnet", work, port := free_port(), {
            **common, "inventory": "sim", "prometheus": {"listen": f"127.0.0.1:{port}"},
            "traps": traps, "alerting": alerting})]
    found = []
    for index in range(1, args.shards + 1):
        port = free_port()
        found.append(Member(f"shard-{index}", work / f"shard-{index}", port, {
            **common, "inventory": "../sim", "shard": f"{index}/{args.shards}",
            "prometheus": {"listen": f"127.0.0.1:{port}"},
            **({"traps": traps} if index == 1 else {})}))
    port = free_port()
    found.append(Member("alerting", work / "alerting", port, {
        "inventory": "../sim", "credentials": CREDENTIALS, "mqtt": common["mqtt"],
        "roles": ["alerting"],
        "prometheus": {"listen": f"127.0.0.1:{port}"}, "alerting": alerting}, polls=False))
    return found


async def run(args: argparse.Namespace, work: Path) -> dict[str, object]:
    inventory = build_inventory(args.devices, args.seed)
    inv_dir = work / "inv"
    write_inventory(inventory, inv_dir)
    network = f"127.{random.randint(100, 200)}.0.0"
    sim_port = free_port(socket.SOCK_DGRAM, "0.0.0.0")  # the simulator binds the wildcard
    from simulator import AddressPlan, plan_addresses, simulated_inventory

    write_inventory(simulated_inventory(inventory, plan_addresses(
        inventory, AddressPlan(network, sim_port))), work / "sim")
    trap_port, mqtt_port = free_port(socket.SOCK_DGRAM), free_port()
    hooks: list[tuple[float, str]] = []

    async def hook(request: web.Request) -> web.Response:
        hooks.append((time.time(), await request.text()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    web_sink = contextlib.AsyncExitStack()
    hook_port = await web_sink.enter_async_context(serving(app))

    vm_binary = find_binary("victoria-metrics")
    vm_port = free_port()
    vm = None
    if vm_binary is not None:
        vm = await asyncio.to_thread(
            subprocess.Popen, [vm_binary, f"-httpListenAddr=127.0.0.1:{vm_port}",
                               f"-storageDataPath={work / 'vm'}", "-loggerLevel=ERROR"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mosquitto_binary = find_binary("mosquitto")
    assert mosquitto_binary is not None, "mosquitto is needed (apt-get install mosquitto)"
    (work / "mosquitto").mkdir(exist_ok=True)
    broker = Mosquitto(mosquitto_binary, work / "mosquitto", mqtt_port,
                       max_queued_messages=2_000_000)
    await asyncio.to_thread(broker.start)
    common: dict[str, object] = {
        "credentials": CREDENTIALS,
        "snmp": {"interval": f"{args.interval}s", "timeout": "2s", "retries": 1,
                 **({"max_in_flight": args.max_in_flight} if args.max_in_flight else {})},
        "icmp": {"interval": f"{args.interval}s"},
        "mqtt": {"url": f"mqtt://127.0.0.1:{mqtt_port}"},
        "influxdb": {"url": f"http://127.0.0.1:{vm_port}", "token": "t", "org": "o",
                     "bucket": "b"},
    }
    alerting = {"down_after": 1, "group_wait": "0s", "tick": "1s",
                "channels": {"noc": {"type": "webhook",
                                     "url": f"http://127.0.0.1:{hook_port}/hook"}},
                "routes": [{"channels": ["noc"]}]}
    team = members(args, work, common, alerting, trap_port)
    pollers = [m for m in team if m.polls]
    for member in team:
        member.folder.mkdir(parents=True, exist_ok=True)
        member.config_path.write_text(yaml.safe_dump(member.config), encoding="utf-8")

    snmp_ids = sorted(d for d, dev in inventory.devices.items()
                      if dev.profile not in ("icmp", "mqtt"))
    mqtt_ids = [d for d, dev in inventory.devices.items() if dev.profile == "mqtt"]
    ctx = mp.get_context("spawn")
    sims: list[tuple[mp.process.BaseProcess, Connection]] = []
    parent, child = ctx.Pipe()
    sim = ctx.Process(target=simulate, args=(
        str(inv_dir), str(team[0].config_path), network, sim_port, trap_port, child,
        args.nice_simulator), daemon=True)
    sim.start()
    sims.append((sim, parent))
    kind, _count = await asyncio.to_thread(parent.recv)
    assert kind == "ready"
    print(f"{len(inventory.devices):,} devices ({len(snmp_ids):,} SNMP, {len(mqtt_ids):,} MQTT)"
          f" at {len(inventory.sites):,} sites; simulator ready", file=sys.stderr)

    sinks = []
    for member in team:
        sink = member.log_path.open("wb")
        sinks.append(sink)
        member.proc = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, *wrapper(args, member), "run", "--config",
                str(member.config_path)],
            stdout=sink, stderr=subprocess.STDOUT, cwd=member.folder)
    result: dict[str, object] = {}

    def alive() -> None:
        for member in team:
            assert member.proc is not None and member.proc.poll() is None, \
                f"{member.name} exited:\n{member.log()[-3000:]}"

    try:
        async with aiohttp.ClientSession(auto_decompress=False,
                                     timeout=aiohttp.ClientTimeout(total=120)) as http:

            async def scrape(member: Member, client: str) -> Scrape:
                """One scrape by ``client`` (:func:`scrape_by_curl`, or this process's
                aiohttp: ``python``); a failed one (pubnet cut it off, or it is not
                listening yet) counts with its time and no values."""
                wall = time.time()
                url = f"http://127.0.0.1:{member.port}/metrics"
                if client == "curl":
                    ok, head, took = await scrape_by_curl(url)
                elif client == "kept-alive":
                    ok, head, took = await asyncio.to_thread(member.kept_alive.scrape)
                else:
                    started = time.perf_counter()
                    head = 0.0
                    try:
                        async with http.get(url, headers={"Accept-Encoding": "gzip"}) as resp:
                            head = time.perf_counter() - started
                            await resp.read()  # the whole body, as Prometheus takes it
                            ok = resp.status == 200
                    except (aiohttp.ClientError, TimeoutError):
                        ok = False
                    took = time.perf_counter() - started
                if not ok:
                    member.failed.append(took)
                    return Scrape(wall, took, {}, head, client)
                # pubnet's own figures from a look restricted to them: decompressing and
                # searching the whole body (~550 MB of text at 100,000 devices) every 15 s
                # took this process ~0.2 cores beside pubnet on the 2-core machine
                try:
                    async with http.get(f"http://127.0.0.1:{member.port}/metrics",
                                        params=[("name[]", name.decode()) for name in WANTED],
                                        headers={"Accept-Encoding": "gzip"}) as resp:
                        own = await resp.read() if resp.status == 200 else b""
                except (aiohttp.ClientError, TimeoutError):
                    own = b""
                text = gzip.decompress(own) if own else b""
                return Scrape(wall, took, pick(text), head, client)

            async def scrape_all(client: str = "curl") -> float:
                """Every poller scraped at once, as Prometheus does; the slowest time."""
                taken = await asyncio.gather(*(scrape(m, client) for m in pollers))
                for member, sample in zip(pollers, taken, strict=True):
                    member.scrapes.append(sample)
                return max(s.seconds for s in taken)

            parent.send(("mqtt", mqtt_port))
            kind, connected = await asyncio.to_thread(parent.recv)
            print(f"{connected:,} of {len(mqtt_ids):,} MQTT gateways connected", file=sys.stderr)
            # warm-up: every poller's first round, then one more interval
            deadline = time.monotonic() + 20 * args.interval
            while not all("first round" in m.log() for m in pollers):
                alive()
                assert time.monotonic() < deadline, "no first round"
                await scrape_all()
                await asyncio.sleep(SCRAPE_EVERY)
            warm_until = time.monotonic() + args.interval
            while time.monotonic() < warm_until:
                await scrape_all()
                await asyncio.sleep(SCRAPE_EVERY)
            # ... and until the first round's backlog has drained (no poll overdue by
            # SETTLED_LAG in two scrapes running), for at most SETTLE_INTERVALS more: the
            # first round walks every table (~3x a GET poll), and measuring its tail read
            # as a straggling device (session 8's 15-24 s lag samples at 50,000 devices)
            settle_until = time.monotonic() + SETTLE_INTERVALS * args.interval
            settled = 0
            while settled < 2 and time.monotonic() < settle_until:
                await scrape_all()
                lags = [m.scrapes[-1].values.get("pubnet_poll_lag_seconds", 0.0)
                        for m in pollers]
                settled = settled + 1 if max(lags) < SETTLED_LAG else 0
                await asyncio.sleep(SCRAPE_EVERY)
            settle_s = time.monotonic() - warm_until
            # the kept-alive client's connection opened before the measuring, as a
            # Prometheus that has been scraping for a while has it
            await asyncio.gather(*(asyncio.to_thread(m.kept_alive.scrape) for m in pollers))
            for member in team:
                member.scrapes.clear()
                member.failed.clear()
                assert member.proc is not None
                member.cpu0 = proc_cpu(member.proc.pid)
            others = {name: pid for name, pid in (
                ("simulator", sim.pid), ("victoria_metrics", vm.pid if vm else None),
                ("mosquitto", broker.process.pid if broker.process else None),
                ("bench", os.getpid())) if pid is not None}
            others_cpu0 = {name: proc_cpu(pid) for name, pid in others.items()}
            wall0 = time.monotonic()
            end = wall0 + args.intervals * args.interval
            # the clients in turn, shifted by one every interval: each phase of the poll
            # interval gets both (a plain alternation put each at the same two phases)
            scrapes_per_interval = max(1, round(args.interval / SCRAPE_EVERY))
            taken = 0
            while time.monotonic() < end:
                alive()
                client = CLIENTS[(taken + taken // scrapes_per_interval) % len(CLIENTS)]
                took = await scrape_all(client)
                taken += 1
                await asyncio.sleep(max(0.0, SCRAPE_EVERY - took))
            wall = time.monotonic() - wall0
            cores = {m.name: (proc_cpu(m.proc.pid) - m.cpu0) / wall for m in team
                     if m.proc is not None}
            others_cores = {name: (proc_cpu(pid) - others_cpu0[name]) / wall
                            for name, pid in others.items()}
            rss = {m.name: peak_rss_mb(m.proc.pid) for m in team if m.proc is not None}
            spans = [m.good()[-1].wall - m.good()[0].wall for m in pollers if m.good()]
            span = min(spans) if spans else 0.0
            polls = sum(m.delta("pubnet_poll_duration_seconds_count") for m in pollers)
            per_interval = polls / (span / args.interval) if span else 0.0
            lags = sorted(s.values.get("pubnet_poll_lag_seconds", 0.0)
                          for m in pollers for s in m.good())
            times = {client: sorted(s.seconds for m in pollers for s in m.scrapes
                                    if s.client == client) or [0.0] for client in CLIENTS}
            heads = {client: sorted(s.head for m in pollers for s in m.scrapes
                                    if s.client == client and s.values) or [0.0]
                     for client in CLIENTS}
            written = sum(m.delta("pubnet_influx_points_written_total") for m in pollers)
            # the cut: a district router and everything behind it fall silent
            routers = sorted(d for d, dev in inventory.devices.items()
                             if str(dev.role) == "district_aggregation")
            children = children_of(inventory)
            router = max(routers, key=lambda r: (len(downstream(children, r)), r))
            silenced = downstream(children, router)
            cut_at = time.time()
            for _, conn in sims:
                conn.send(("silence", silenced))
            wait_until = time.monotonic() + 3 * args.interval
            arrived: float | None = None
            while time.monotonic() < wait_until and arrived is None:
                arrived = next((t for t, body in hooks if t >= cut_at and router in body),
                               None)
                await asyncio.sleep(0.1)
            if args.keep:
                # every measured scrape (member, its start, seconds, lag, polls in flight,
                # the seconds pubnet counted for it, seconds to its head, the client):
                # tells one late device from a backlog, and a scrape's wait for pubnet's
                # loop from its own work
                (work / "samples.tsv").write_text("".join(
                    f"{m.name}\t{datetime.fromtimestamp(s.wall).astimezone().isoformat()}\t"
                    f"{s.seconds:.2f}\t{s.values.get('pubnet_poll_lag_seconds', '')}\t"
                    f"{s.values.get('pubnet_polls_in_flight', '')}\t"
                    f"{s.values.get('pubnet_exporter_scrape_duration_seconds', '')}\t"
                    f"{s.head:.2f}\t{s.client}\n"
                    for m in pollers for s in m.scrapes), encoding="utf-8")
                # what the technician's webhook received after the cut
                (work / "hooks.txt").write_text("".join(
                    f"--- {datetime.fromtimestamp(t).astimezone().isoformat()}\n{body}\n"
                    for t, body in hooks if t >= cut_at), encoding="utf-8")
            found = [log_time(m.log(), rf'msg="device not answering" '
                              rf'device={re.escape(router)} ') for m in pollers]
            detected = min((t for t in found if t is not None), default=None)
            result = {
                "devices": len(inventory.devices), "snmp_devices": len(snmp_ids),
                "sites": len(inventory.sites), "interval_s": args.interval,
                "processes": ", ".join(m.name for m in team),
                **({"max_in_flight": args.max_in_flight} if args.max_in_flight else {}),
                "settle_s": round(settle_s, 1),
                "intervals": round(span / args.interval, 2),
                "polls_per_interval": round(per_interval),
                "polls_per_interval_share": round(per_interval / len(snmp_ids), 3),
                "lag_p50_s": round(_quantile(lags, 0.5), 2),
                "lag_p99_s": round(_quantile(lags, 0.99), 2),
                "cpu_cores": round(sum(cores.values()), 2),
                "peak_rss_mb": round(sum(rss.values())),
                **({"cpu_cores_each": {k: round(v, 2) for k, v in cores.items()},
                    "peak_rss_mb_each": {k: round(v) for k, v in rss.items()}}
                   if len(team) > 1 else {}),
                "other_cpu_cores": {k: round(v, 2) for k, v in others_cores.items()},
                **({"nice_simulator": args.nice_simulator} if args.nice_simulator else {}),
                "series": int(sum(m.last("pubnet_exporter_series") for m in pollers)),
                "scrape_p50_s": round(statistics.median(times["curl"]), 2),
                "scrape_max_s": round(times["curl"][-1], 2),
                "scrape_head_p50_s": round(statistics.median(heads["curl"]), 2),
                "scrape_head_max_s": round(heads["curl"][-1], 2),
                "scrape_kept_alive_p50_s": round(statistics.median(times["kept-alive"]), 2),
                "scrape_kept_alive_max_s": round(times["kept-alive"][-1], 2),
                "scrape_kept_alive_head_p50_s": round(statistics.median(heads["kept-alive"]),
                                                      2),
                "scrape_kept_alive_head_max_s": round(heads["kept-alive"][-1], 2),
                "scrape_python_p50_s": round(statistics.median(times["python"]), 2),
                "scrape_python_max_s": round(times["python"][-1], 2),
                "scrapes_failed": f"{sum(len(m.failed) for m in pollers)}/"
                                  f"{sum(len(m.scrapes) for m in pollers)}",
                "store_dropped_batches": int(sum(m.last("pubnet_state_dropped_total")
                                                 for m in team if m.polls)),
                "influx_points_per_s": round(written / span) if span else 0,
                "influx_buffered_points": int(sum(m.last("pubnet_influx_buffer_points")
                                                  for m in pollers)),
                "influx": "victoria-metrics" if vm is not None else "none (unreachable)",
                "load_avg_1m": round(os.getloadavg()[0], 1),
                "cut_router": router, "cut_devices": len(silenced),
                "cut_to_detection_s": round(detected - cut_at, 2) if detected else None,
                "detection_to_webhook_s": (round(arrived - detected, 2)
                                           if arrived and detected else None),
                "cut_to_webhook_s": round(arrived - cut_at, 2) if arrived else None,
            }
    finally:
        for member in team:
            member.kept_alive.close()
        print(f"SIGTERM at {datetime.now().astimezone().isoformat()}", file=sys.stderr)
        started = time.monotonic()
        running = [m.proc for m in team if m.proc is not None and m.proc.poll() is None]
        await asyncio.gather(*(asyncio.to_thread(stop_process, p, 30) for p in running))
        if running:
            result["sigterm_exit_s"] = round(time.monotonic() - started, 2)
            codes = {p.returncode for p in running}
            result["sigterm_exit_code"] = codes.pop() if len(codes) == 1 else sorted(codes)
        for sink in sinks:
            sink.close()
        for proc, conn in sims:
            with contextlib.suppress(OSError):
                conn.send(("stop", []))
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        if vm is not None:
            await asyncio.to_thread(stop_process, vm)
        await asyncio.to_thread(broker.stop)
        await web_sink.aclose()
    return result


REFERENCE_POINTS = 200_000


def host_reference() -> float:
    """CPU seconds this machine takes, now, for a fixed piece of pure-Python work of
    pubnet's kind: a naive line-protocol encoding of 200,000 points (f-strings, float
    repr, dict lookups), best of three. The machine is shared and its speed changes from
    day to day (on 2026-12-06 the same code completed 100 % of its polls in the afternoon
    and 67-75 % at night): pubnet's CPU per poll in these units compares runs of
    different days, where cores and poll shares alone do not."""
    tags = {f"dev-{i}": f"province={10 + i % 77},site=S-{i // 3:05d}" for i in range(1000)}
    points = [(f"dev-{i % 1000}", f"pubnet_metric_{i % 40}", i * 0.37, 1.7e9 + i)
              for i in range(REFERENCE_POINTS)]
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        lines = [f"{metric},device={device},{tags[device]} value={value!r} {int(ts * 1e9)}"
                 for device, metric, value, ts in points]
        best = min(best, time.process_time() - started)
        del lines
    return best


def wrapper(args: argparse.Namespace, member: Member) -> list[str]:
    """How a pubnet process is started: the CLI, or the CLI under a probe."""
    if args.snapshot_after is not None:
        return [str(Path(__file__).with_name("memsnap.py")), args.snapshot_after,
                str(member.folder / "tracemalloc.txt")]
    if args.loop_trace or args.gc_census:
        return [str(Path(__file__).with_name("looptrace.py")),
                str(member.folder / "looptrace.txt"), *(["--census"] if args.gc_census else [])]
    return ["-m", "pubnet.cli"]


def _quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--intervals", type=int, default=3)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shards", type=int, default=1, metavar="N",
                        help="N polling shards (pubnet run with shard: I/N) and one alerting "
                        "instance (roles: [alerting]) on this machine instead of one process; "
                        "CPU and RSS are their sums")
    parser.add_argument("--max-in-flight", type=int, metavar="N",
                        help="snmp.max_in_flight of every polling pubnet (default: the "
                        "config's default)")
    parser.add_argument("--nice-simulator", type=int, default=0, metavar="N",
                        help="run the fleet simulator at nice N (1-19): pubnet gets the CPU "
                        "first, as on its own server with the devices elsewhere (default 0: "
                        "they share this machine's cores as equals)")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temp one)")
    parser.add_argument("--snapshot-after", metavar="SECONDS[,SECONDS...]",
                        help="run pubnet under tracemalloc (bench/memsnap.py) and write its "
                        "biggest files and allocation sites to KEEP/tracemalloc.txt[.SECONDS] "
                        "SECONDS after start (0: only the GC log; stats:SECONDS,...: no "
                        "tracing, RSS split into pymalloc and malloc, see bench/memsnap.py)")
    parser.add_argument("--loop-trace", action="store_true",
                        help="time every turn and callback of pubnet's event loop "
                        "(bench/looptrace.py) into KEEP/looptrace.txt and "
                        "looptrace.txt.turns.tsv")
    parser.add_argument("--gc-census", action="store_true",
                        help="--loop-trace, and count what the garbage collector's young and "
                        "middle collections walk, by type, into KEEP/looptrace.txt.census.txt "
                        "(a probe: it slows pubnet)")
    args = parser.parse_args()
    if find_binary("curl") is None:
        parser.error("the scrapes are timed with curl: apt-get install curl")
    # a SIGTERM (``timeout``) stops the run like Ctrl-C: pubnet and the servers are stopped
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    work = args.keep or Path(tempfile.mkdtemp(prefix="pubnet-fleet-"))
    work.mkdir(parents=True, exist_ok=True)
    before = host_reference()  # the machine's speed, idle, before and after the run
    try:
        result = asyncio.run(run(args, work))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    after = host_reference()
    reference = (before + after) / 2
    result["reference_s"] = f"{before:.3f} before, {after:.3f} after"
    polls = result.get("polls_per_interval")
    cores = result.get("cpu_cores")
    if isinstance(polls, int) and polls and isinstance(cores, float):
        per_1000 = float(cores) * args.interval / polls * 1000
        result["cpu_s_per_1000_polls"] = round(per_1000, 3)
        result["cpu_per_1000_polls_in_references"] = round(per_1000 / reference, 2)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
