"""Benchmark: SNMP polling end to end (gufo-snmp client → profile → counters → state store).

Each device costs one GET of 6 scalars and a GETBULK walk of 6 IF-MIB columns over the
agent's interfaces (one PDU per column: 7 PDUs), against net-snmp snmpd processes listening
on many loopback addresses. The same work is also done by gufo-snmp's bare loop
(``SnmpSession.get_many`` + ``getbulk``, results discarded) in the same run: the floor.

pubnet walks a device's tables on one poll in ``snmp.rewalk_every`` (30) and GETs the rows
that walk found on the others (collectors/snmp/layout.py), so it is measured both ways:
``pubnet`` (GET polls, after a warm-up round that walks) and ``walking`` (every poll walks,
``rewalk_every: 1``); the headline weighs them 29:1, as in service.

    .venv/bin/python bench/snmp_poll.py --devices 5000 --rounds 3

``--socket-per-poll`` makes every poll borrow a pooled socket (collectors/snmp/socket_pool.py),
as ``pubnet run`` does when its devices outnumber its file descriptors (at 100,000 devices).
``--against REF`` runs the whole bench ``--repeat`` times alternately with the
``collectors/`` package of git revision ``REF`` and with this tree's, in fresh processes,
and prints the median CPU per GET poll and per walking poll of each and their ratio
(new / old):

    nice -n 10 .venv/bin/python bench/snmp_poll.py --devices 3000 --rounds 3 \
        --no-exporter --socket-per-poll --against HEAD~1 --repeat 5

``--fleet`` polls the fleet simulator's devices instead (``bench/fleet.py``'s inventory of
about ``--devices`` devices: gateways, switches and access points with their own profiles,
answers as the 100,000-device run gets them; the simulator in a child process, its CPU not
counted): the v2c devices only, GET polls after a warm-up round that walks, no references.
With ``--io-only`` it measures only the request/answer path of those GET polls: one GET poll
round records each device's GETs (their OID lists), then the rounds measured replay them
through the device's client (``async with client`` and its ``get()``s: borrowing the socket,
sending, the event loop's wake-ups, screening, decoding), with no profile, counters or store.

Prints devices/s, PDUs/s, CPU seconds per 1,000 devices, devices per CPU-second, p50/p99
latency, peak RSS and the snmpd CPU share; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import resource
import socket
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from at_revision import parse_or_compare, runs_against, this_tree_first

this_tree_first()

from collectors.snmp.layout import REWALK_EVERY  # noqa: E402
from collectors.snmp.poller import SnmpPoller  # noqa: E402
from collectors.snmp.profiles import PROFILES_DIR, load_profiles  # noqa: E402
from inventory.generate import generate  # noqa: E402
from inventory.model import Device, Inventory, Role  # noqa: E402
from pubnet.config import parse_config  # noqa: E402
from pubnet.ports import free_port  # noqa: E402
from pubnet.state import StateStore  # noqa: E402
from testbed.process import find_binary  # noqa: E402
from testbed.snmpd import COMMUNITY, run_snmpd  # noqa: E402

SCALARS = [
    "1.3.6.1.2.1.1.1.0",
    "1.3.6.1.2.1.1.2.0",
    "1.3.6.1.2.1.1.3.0",
    "1.3.6.1.2.1.1.5.0",
    "1.3.6.1.2.1.1.4.0",
    "1.3.6.1.2.1.1.6.0",
]
COLUMNS = [
    "1.3.6.1.2.1.31.1.1.1.1",  # ifName
    "1.3.6.1.2.1.2.2.1.8",  # ifOperStatus
    "1.3.6.1.2.1.31.1.1.1.15",  # ifHighSpeed
    "1.3.6.1.2.1.31.1.1.1.6",  # ifHCInOctets
    "1.3.6.1.2.1.31.1.1.1.10",  # ifHCOutOctets
    "1.3.6.1.2.1.2.2.1.14",  # ifInErrors
]
MAX_REPETITIONS = 8
BENCH_PROFILE = f"""
description: benchmark - 6 scalars, 6 interface columns
scalars:
  sysContact: 1.3.6.1.2.1.1.4.0
  sysLocation: 1.3.6.1.2.1.1.6.0
tables:
  interfaces:
    walk: WALK_MODE
    row_count: 1.3.6.1.2.1.2.1.0
    max_repetitions: {MAX_REPETITIONS}
    columns:
      ifName: 1.3.6.1.2.1.31.1.1.1.1
      ifOperStatus: 1.3.6.1.2.1.2.2.1.8
      ifHighSpeed: 1.3.6.1.2.1.31.1.1.1.15
      ifHCInOctets: 1.3.6.1.2.1.31.1.1.1.6
      ifHCOutOctets: 1.3.6.1.2.1.31.1.1.1.10
      ifInErrors: 1.3.6.1.2.1.2.2.1.14
    labels:
      ifname: [ifName, index]
    metrics:
      - {{name: pubnet_interface_oper_up, type: gauge, column: ifOperStatus, enum: {{1: 1, 2: 0}}}}
      - {{name: pubnet_interface_speed_bps, type: gauge, column: ifHighSpeed, scale: 1000000}}
      - {{name: pubnet_interface_receive_bytes_total, type: counter, column: ifHCInOctets,
         width: 64}}
      - {{name: pubnet_interface_transmit_bytes_total, type: counter, column: ifHCOutOctets,
         width: 64}}
      - {{name: pubnet_interface_receive_errors_total, type: counter, column: ifInErrors,
         width: 32}}
"""


FLEET_CREDENTIALS = {  # bench/fleet.py's: the generated inventory names these two
    "village-v2": {"version": "2c", "community": "village-community"},
    "noc-v3": {"version": "3", "user": "noc", "auth_protocol": "sha256",
               "auth_key": "noc-auth-key-1", "priv_protocol": "aes128",
               "priv_key": "noc-priv-key-1"},
}
FLEET_DEVICES_PER_SITE = 2.6
FLEET_NETWORK = "127.150.0.0"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of another process, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> list[float]:
    """Run ``one(i)`` for i < n with at most ``concurrency`` at once; per-call latencies."""
    latencies = [0.0] * n
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < n:
            i = next_index
            next_index += 1
            start = time.perf_counter()
            await one(i)
            latencies[i] = time.perf_counter() - start

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def addresses(count: int) -> list[str]:
    return [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(count)]


async def run_pubnet(
    hosts: Sequence[str], port: int, n: int, concurrency: int, profile_dir: Path,
    rewalk_every: int = REWALK_EVERY, keep_sockets: bool = True,
) -> tuple[SnmpPoller, Callable[[], Awaitable[list[float]]]]:
    config = parse_config(
        {
            "credentials": {"bench": {"version": "2c", "community": COMMUNITY}},
            "snmp": {"timeout": "5s", "retries": 1, "max_in_flight": concurrency,
                     "rewalk_every": rewalk_every},
        }
    )
    inventory = Inventory()
    for i in range(n):
        dev = f"d{i:06d}"
        inventory.devices[dev] = Device(
            dev, "", Role.ACCESS_POINT, hosts[i % len(hosts)], port, "bench", "bench", ""
        )
    profiles = load_profiles(PROFILES_DIR, profile_dir)
    poller = SnmpPoller(config, inventory, StateStore(), profiles=profiles)
    if not keep_sockets:
        poller.poller.keep_sockets = False
    runs = list(poller.runs.values())

    async def one(i: int) -> None:
        await poller.poll_and_publish(runs[i])

    async def round_() -> list[float]:
        return await drive(n, concurrency, one)

    return poller, round_


async def run_bare(
    hosts: Sequence[str], port: int, n: int, concurrency: int
) -> Callable[[], Awaitable[list[float]]]:
    from gufo.snmp.aio import SnmpSession

    # One session (socket) per device kept across rounds, like pubnet's kept sockets.
    sessions = [SnmpSession(addr=hosts[i % len(hosts)], port=port, community=COMMUNITY,
                            timeout=5.0) for i in range(n)]

    async def one(i: int) -> None:
        session = sessions[i]
        await session.get_many(SCALARS)
        for column in COLUMNS:
            async for _ in session.getbulk(column, MAX_REPETITIONS):
                pass

    async def round_() -> list[float]:
        return await drive(n, concurrency, one)

    return round_


def serve_fleet(sites: int, seed: int, port: int, ready: Any) -> None:
    """The simulator process of ``--fleet``: serve every device until terminated."""
    asyncio.run(_serve_fleet(sites, seed, port, ready))


async def _serve_fleet(sites: int, seed: int, port: int, ready: Any) -> None:
    from simulator import AddressPlan, Fleet

    config = parse_config({"credentials": FLEET_CREDENTIALS})
    fleet = Fleet.from_inventory(generate(sites=sites, seed=seed),
                                 AddressPlan(FLEET_NETWORK, port),
                                 credentials=config.credentials)
    async with fleet:
        ready.set()
        await asyncio.Event().wait()


async def fleet_async(args: argparse.Namespace) -> dict[str, object]:
    """``--fleet``: CPU per GET poll of the simulator's v2c devices."""
    from simulator import AddressPlan, plan_addresses, simulated_inventory

    sites = max(1, round(args.devices / FLEET_DEVICES_PER_SITE))
    port = free_port(socket.SOCK_DGRAM, "0.0.0.0")  # the simulator binds the wildcard
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=serve_fleet, args=(sites, args.seed, port, ready),
                            daemon=True)
    child.start()
    try:
        if not await asyncio.to_thread(ready.wait, 300):
            raise RuntimeError("the simulator did not start")
        inventory = generate(sites=sites, seed=args.seed)
        inventory = simulated_inventory(inventory, plan_addresses(
            inventory, AddressPlan(FLEET_NETWORK, port)))
        config = parse_config({"credentials": FLEET_CREDENTIALS, "snmp": {
            "timeout": "5s", "retries": 1, "max_in_flight": args.concurrency}})
        poller = SnmpPoller(config, inventory, StateStore(), profiles=load_profiles(PROFILES_DIR))
        poller.poller.keep_sockets = not args.socket_per_poll
        runs = [run for device_id, run in poller.runs.items()
                if inventory.devices[device_id].credential == "village-v2"]

        async def one(i: int) -> None:
            await poller.poll_and_publish(runs[i])

        measured = one
        if args.io_only:
            await drive(len(runs), args.concurrency, one)  # walks
            asked = await record_gets(runs, lambda: drive(len(runs), args.concurrency, one))

            async def replay(i: int) -> None:
                client = runs[i].client
                assert client is not None
                async with client:
                    for oids in asked[i]:
                        await client.get(oids)

            measured = replay
        cpu_per_poll = []
        for r in range(args.rounds + 1):  # round 0 walks (and opens the sockets)
            gc.collect()
            before = cpu_seconds()
            await drive(len(runs), args.concurrency, measured)
            if r:
                cpu_per_poll.append((cpu_seconds() - before) / len(runs))
                print(f"fleet#{r}: {cpu_per_poll[-1] * 1e6:6.1f} us CPU a GET poll")
        stats = poller.poller.stats
        statuses = {s.status.value if s.status else "none"
                    for s in poller.store.statuses().values()}
    finally:
        child.terminate()
        child.join(10)
    best = min(cpu_per_poll)
    print(f"{len(runs):,} simulated v2c devices: {best * 1e6:.1f} us CPU a GET poll "
          f"(best of {args.rounds}); device statuses {sorted(statuses)}")
    return {"bench": "snmp_poll", "fleet": True, "io_only": args.io_only,
            "devices": len(runs),
            "kept_sockets": not args.socket_per_poll, "rounds": args.rounds,
            "pubnet_cpu_s_per_1000": round(best * 1000, 4),
            "pubnet_requests": stats.requests, "dropped": dict(stats.dropped),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "load_average_1m": round(os.getloadavg()[0], 2)}


async def record_gets(runs: Sequence[Any], poll_round: Callable[[], Awaitable[list[float]]]
                      ) -> list[list[list[str]]]:
    """Each run's GETs (OID lists, in order) during one ``poll_round``, which must poll
    every run once, through clients of one class."""
    clients = {id(run.client): k for k, run in enumerate(runs)}
    asked: list[list[list[str]]] = [[] for _ in runs]
    cls = type(runs[0].client)
    original = cls.get

    async def get(client: Any, oids: Sequence[str]) -> Any:
        asked[clients[id(client)]].append(list(oids))
        return await original(client, oids)

    cls.get = get
    try:
        await poll_round()
    finally:
        cls.get = original
    return asked


def exporter_module() -> dict[str, object]:
    """snmp_exporter 0.21 module doing the same GET and walks as the other two."""
    def indexed(name: str, oid: str, kind: str) -> dict[str, object]:
        return {"name": name, "oid": oid, "type": kind, "help": name,
                "indexes": [{"labelname": "ifIndex", "type": "gauge"}],
                "lookups": [{"labels": ["ifIndex"], "labelname": "ifName",
                             "oid": COLUMNS[0], "type": "DisplayString"}]}

    return {
        "version": 2, "max_repetitions": MAX_REPETITIONS, "retries": 1, "timeout": "5s",
        "auth": {"community": COMMUNITY},
        "get": SCALARS, "walk": COLUMNS,
        "metrics": [
            {"name": "sysUpTime", "oid": "1.3.6.1.2.1.1.3", "type": "gauge", "help": "up"},
            {"name": "sysName", "oid": "1.3.6.1.2.1.1.5", "type": "DisplayString",
             "help": "name"},
            {"name": "sysDescr", "oid": "1.3.6.1.2.1.1.1", "type": "DisplayString",
             "help": "descr"},
            {"name": "sysContact", "oid": "1.3.6.1.2.1.1.4", "type": "DisplayString",
             "help": "contact"},
            {"name": "sysLocation", "oid": "1.3.6.1.2.1.1.6", "type": "DisplayString",
             "help": "location"},
            {"name": "sysObjectID", "oid": "1.3.6.1.2.1.1.2", "type": "OctetString",
             "help": "oid"},
            indexed("ifOperStatus", COLUMNS[1], "gauge"),
            indexed("ifHighSpeed", COLUMNS[2], "gauge"),
            indexed("ifHCInOctets", COLUMNS[3], "counter"),
            indexed("ifHCOutOctets", COLUMNS[4], "counter"),
            indexed("ifInErrors", COLUMNS[5], "counter"),
        ],
    }


@contextlib.contextmanager
def snmp_exporter(binary: str, folder: Path) -> Iterator[tuple[int, int]]:
    """Run prometheus' snmp_exporter on a free port; yields ``(pid, port)``."""
    import subprocess

    import yaml

    config = folder / "snmp.yml"
    config.write_text(yaml.safe_dump({"bench": exporter_module()}), encoding="utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        listen = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{listen}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", listen)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("snmp_exporter did not start")
            time.sleep(0.05)
        yield proc.pid, listen
    finally:
        proc.terminate()
        proc.wait(10)


def run_exporter(hosts: Sequence[str], port: int, n: int, concurrency: int, listen: int
                 ) -> Callable[[], Awaitable[list[float]]]:
    async def one(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", listen)
        target = f"{hosts[i % len(hosts)]}:{port}"
        writer.write(f"GET /snmp?module=bench&target={target} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        body = await reader.read()
        writer.close()
        if not body.startswith(b"HTTP/1.1 200") or b"ifHCInOctets{" not in body:
            raise RuntimeError(f"snmp_exporter scrape failed: {body[:200]!r}")

    async def round_() -> list[float]:
        return await drive(n, concurrency, one)

    return round_


@contextlib.contextmanager
def agents(snmpd: str, hosts: Sequence[str], port: int, processes: int) -> Iterator[list[int]]:
    """``processes`` snmpd processes, each answering on its share of ``hosts``."""
    with contextlib.ExitStack() as stack:
        pids = []
        for k in range(processes):
            share = [(h, port) for h in hosts[k::processes]]
            running = stack.enter_context(run_snmpd(snmpd, share))
            pids.append(running[0].process.pid)
        yield pids


def measure(
    label: str, latencies: list[float], wall: float, cpu: float, pdus: int, agent_cpu: float
) -> dict[str, float]:
    n = len(latencies)
    result = {
        "devices_per_s": n / wall,
        "pdus_per_s": pdus / wall,
        "cpu_s_per_1000_devices": cpu / n * 1000,
        "devices_per_cpu_s": n / cpu if cpu > 0 else float("inf"),
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "snmpd_cpu_share": agent_cpu / wall,
    }
    print(
        f"{label:>8}: {result['devices_per_s']:8.0f} devices/s  "
        f"{result['pdus_per_s']:8.0f} PDUs/s  "
        f"{result['cpu_s_per_1000_devices']:6.3f} CPU s/1000 devices  "
        f"{result['devices_per_cpu_s']:7.0f} devices/CPU-s  "
        f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:7.2f} ms  "
        f"snmpd CPU {result['snmpd_cpu_share']:.2f} cores"
    )
    return result


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    snmpd = find_binary("snmpd")
    if snmpd is None:
        raise SystemExit("snmpd is not installed (apt-get install snmpd)")
    hosts = addresses(args.addresses)
    port = args.port
    pdus_per_device = 1 + len(COLUMNS)
    with tempfile.TemporaryDirectory() as tmp, agents(snmpd, hosts, port, args.agents) as pids:
        (Path(tmp) / "bench.yaml").write_text(
            BENCH_PROFILE.replace("WALK_MODE", args.walk), encoding="utf-8"
        )
        poller, pubnet_round = await run_pubnet(
            hosts, port, args.devices, args.concurrency, Path(tmp),
            keep_sockets=not args.socket_per_poll,
        )
        walker, walk_round = await run_pubnet(
            hosts, port, args.devices, args.concurrency, Path(tmp), rewalk_every=1,
            keep_sockets=not args.socket_per_poll,
        )
        bare_round = await run_bare(hosts, port, args.devices, args.concurrency)
        contenders: list[tuple[str, Callable[[], Awaitable[list[float]]],
                               Callable[[], float]]] = [
            ("pubnet", pubnet_round, cpu_seconds), ("walking", walk_round, cpu_seconds),
            ("gufo", bare_round, cpu_seconds)]
        stack = contextlib.ExitStack()
        exporter_binary = find_binary("prometheus-snmp-exporter") or find_binary(
            "snmp_exporter")
        if exporter_binary is not None and not args.no_exporter:
            exporter_pid, listen = stack.enter_context(snmp_exporter(exporter_binary,
                                                                     Path(tmp)))
            contenders.append((
                "exporter", run_exporter(hosts, port, args.devices, args.concurrency, listen),
                lambda: proc_cpu(exporter_pid)))
        best: dict[str, dict[str, float]] = {}
        with stack:
            for r in range(args.rounds + 1):  # round 0 warms up (first readings, sockets)
                for label, round_, cpu_of in contenders:
                    gc.collect()
                    counted = walker if label == "walking" else poller
                    requests_before = counted.poller.stats.requests
                    agent_before = sum(proc_cpu(p) for p in pids)
                    cpu_before, wall_before = cpu_of(), time.perf_counter()
                    latencies = await round_()
                    wall = time.perf_counter() - wall_before
                    cpu = cpu_of() - cpu_before
                    agent_cpu = sum(proc_cpu(p) for p in pids) - agent_before
                    if r == 0:
                        continue
                    pdus = (
                        counted.poller.stats.requests - requests_before
                        if label in ("pubnet", "walking")
                        else args.devices * pdus_per_device
                    )
                    result = measure(f"{label}#{r}", latencies, wall, cpu, pdus, agent_cpu)
                    if label not in best or (
                        result["devices_per_cpu_s"] > best[label]["devices_per_cpu_s"]
                    ):
                        best[label] = result
        store = poller.store
        statuses = {s.status.value if s.status else "none" for s in store.statuses().values()}
        print(
            f"store: {store.series_count()} series, {store.observations_total} observations,"
            f" device statuses {sorted(statuses)}"
        )
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_rss_mb:.0f} MB")
    ours, walking, bare = best["pubnet"], best["walking"], best["gufo"]
    exporter = best.get("exporter")
    # In service one poll in REWALK_EVERY walks its tables: weigh the two kinds of poll.
    amortized = REWALK_EVERY / ((REWALK_EVERY - 1) / ours["devices_per_cpu_s"]
                                + 1 / walking["devices_per_cpu_s"])
    ratio = amortized / bare["devices_per_cpu_s"]
    print(
        f"pubnet end to end: {ours['devices_per_cpu_s']:.0f} devices per CPU-second on polls "
        f"that GET known rows, {walking['devices_per_cpu_s']:.0f} on polls that walk; "
        f"{amortized:.0f} with one walk in {REWALK_EVERY} "
        f"({ratio:.2f}× gufo-snmp bare; goal ≥ 3000 and ≥ 0.5×)"
    )
    return {
        "bench": "snmp_poll",
        "devices": args.devices,
        "concurrency": args.concurrency,
        "addresses": args.addresses,
        "snmpd_processes": args.agents,
        "walk": args.walk,
        "kept_sockets": not args.socket_per_poll,
        "gufo_pdus_per_device": pdus_per_device,
        "pubnet_pdus_per_device": round(ours["pdus_per_s"] / ours["devices_per_s"], 2),
        "pubnet_devices_per_s": round(ours["devices_per_s"]),
        "pubnet_devices_per_cpu_s": round(amortized),
        "pubnet_get_poll_devices_per_cpu_s": round(ours["devices_per_cpu_s"]),
        "pubnet_walk_poll_devices_per_cpu_s": round(walking["devices_per_cpu_s"]),
        "rewalk_every": REWALK_EVERY,
        "pubnet_cpu_s_per_1000": round(ours["cpu_s_per_1000_devices"], 4),
        "pubnet_walk_cpu_s_per_1000": round(walking["cpu_s_per_1000_devices"], 4),
        "pubnet_pdus_per_s": round(ours["pdus_per_s"]),
        "pubnet_p50_ms": round(ours["p50_ms"], 2),
        "pubnet_p99_ms": round(ours["p99_ms"], 2),
        "gufo_bare_devices_per_s": round(bare["devices_per_s"]),
        "gufo_bare_devices_per_cpu_s": round(bare["devices_per_cpu_s"]),
        "ratio_vs_gufo_bare": round(ratio, 3),
        "snmpd_cpu_share": round(ours["snmpd_cpu_share"], 2),
        "peak_rss_mb": round(peak_rss_mb),
        "snmp_exporter_devices_per_s": round(exporter["devices_per_s"]) if exporter else None,
        "snmp_exporter_devices_per_cpu_s": (round(exporter["devices_per_cpu_s"]) if exporter
                                            else None),
        "ratio_vs_snmp_exporter": (round(amortized
                                         / exporter["devices_per_cpu_s"], 3)
                                   if exporter else None),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "goal_devices_per_cpu_s": 3000,
    }


def against(args: argparse.Namespace) -> dict[str, object]:
    """The bench with ``args.against``'s collectors and this tree's, alternately."""
    command = [__file__, "--devices", str(args.devices), "--rounds", str(args.rounds),
               "--concurrency", str(args.concurrency), "--addresses", str(args.addresses),
               "--agents", str(args.agents), "--port", str(args.port), "--walk", args.walk,
               "--no-exporter", *(["--socket-per-poll"] if args.socket_per_poll else []),
               *(["--fleet", "--seed", str(args.seed)] if args.fleet else []),
               *(["--io-only"] if args.io_only else [])]
    results = runs_against(args.against, "collectors", command, args.repeat)

    def median(which: str, key: str) -> float:
        return float(statistics.median(r[key] for r in results[which]))

    summary: dict[str, object] = {"bench": "snmp_poll", "against": args.against,
                                  "repeat": args.repeat, "devices": args.devices,
                                  "kept_sockets": not args.socket_per_poll,
                                  "fleet": args.fleet, "io_only": args.io_only}
    kinds = [("get_poll", "pubnet_cpu_s_per_1000")]
    if not args.fleet:
        kinds.append(("walk_poll", "pubnet_walk_cpu_s_per_1000"))
    for kind, key in kinds:
        old, new = median("old", key), median("new", key)
        summary[f"old_cpu_us_per_{kind}"] = round(old * 1000, 1)
        summary[f"new_cpu_us_per_{kind}"] = round(new * 1000, 1)
        summary[f"cpu_ratio_new_over_old_{kind}"] = round(new / old, 3)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=200, help="devices in flight at once")
    parser.add_argument(
        "--addresses", type=int, default=200, help="loopback addresses snmpd listens on (127.0.x.y)"
    )
    parser.add_argument("--agents", type=int, default=2, help="snmpd processes")
    parser.add_argument("--port", type=int, default=16161)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--socket-per-poll", action="store_true",
                        help="no device keeps its socket, as when devices outnumber the file "
                             "descriptors (beyond ~15,000 at a limit of 20,000)")
    parser.add_argument("--no-exporter", action="store_true",
                        help="skip prometheus-snmp-exporter even when installed")
    parser.add_argument(
        "--walk",
        choices=["auto", "entry", "columns"],
        default="auto",
        help="pubnet's table walk mode (columns = the same 7 PDUs as gufo)",
    )
    parser.add_argument("--fleet", action="store_true",
                        help="poll the fleet simulator's devices instead of snmpd's")
    parser.add_argument("--seed", type=int, default=7, help="the --fleet inventory's seed")
    parser.add_argument("--io-only", action="store_true",
                        help="with --fleet: only the GET polls' requests and answers")
    args = parse_or_compare(parser, "collectors", against)
    summary = asyncio.run(fleet_async(args) if args.fleet else main_async(args))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
