"""How many SNMP requests per CPU-second the fleet simulator answers, next to net-snmp's snmpd.

The simulator runs in its own process with a generated inventory (``--sites``; each device
on its own 127.77.x.y address). A gufo-snmp client (Rust core, so the client is not what is
measured) polls every simulated device over and over: one GET of 6 scalars and one GETBULK
of 24 ifTable varbinds, i.e. exactly 2 PDUs per poll. Sessions are opened (and, with
``--v3``, engines discovered) before the agent's CPU time is first read from /proc. In the
same run the same load goes to one snmpd (the reference).

    .venv/bin/python bench/simulator_serve.py --sites 1500 --seconds 15
    .venv/bin/python bench/simulator_serve.py --sites 500 --seconds 10 --v3

Prints both, then one JSON line: requests per CPU-second for each, their ratio, and the
share of one core the simulator needs for the demo fleet (every device polled every 30 s
with the ``router`` profile's ~7 PDUs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gufo.snmp.aio.client import SnmpSession
from gufo.snmp.user import Aes128Key, Sha256Key, User

from pubnet.ports import free_port
from testbed.process import find_binary
from testbed.snmpd import AUTH_PASS, COMMUNITY, PRIV_PASS, run_snmpd, user_name

SCALARS = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0",
           "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0", "1.3.6.1.2.1.2.1.0"]
IF_ENTRY = "1.3.6.1.2.1.2.2.1"
BULK = 24
DEMO_PDUS_PER_POLL = 7
V3_USER = user_name("sha256", "aes128")
"""The snmpd test agent's user for SHA-256 + AES-128; the simulator gets the same one."""

SessionFactory = Callable[[str, int], SnmpSession]


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(inventory: str, network: str, port: int, v3: bool, ready: Event, stop: Event,
          conn: Connection) -> None:
    """Child process: run the simulator until ``stop``; send back its request count."""
    from inventory.loader import load_inventory
    from pubnet.config import parse_config
    from simulator import AddressPlan, Fleet

    inv = load_inventory(inventory).inventory
    credentials = {}
    if v3:
        cred = {"version": "3", "user": V3_USER, "auth_protocol": "sha256",
                "auth_key": AUTH_PASS, "priv_protocol": "aes128", "priv_key": PRIV_PASS}
        names = {d.credential for d in inv.devices.values()}
        credentials = dict(parse_config({"credentials": {n: cred for n in names if n}})
                           .credentials)
    fleet = Fleet.from_inventory(inv, AddressPlan(network, port), credentials=credentials)

    async def main() -> None:
        async with fleet:
            conn.send([f"{d.host}:{d.port}" for d in fleet.devices.values()])
            ready.set()
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(main())
    conn.send(fleet.agent.stats.requests)


def session_factory(community: str, v3: bool) -> SessionFactory:
    user = User(V3_USER, auth_key=Sha256Key(AUTH_PASS.encode()),
                priv_key=Aes128Key(PRIV_PASS.encode())) if v3 else None

    def make(host: str, port: int) -> SnmpSession:
        if user is not None:
            return SnmpSession(addr=host, port=port, user=user, timeout=2.0,
                               max_repetitions=BULK)
        return SnmpSession(addr=host, port=port, community=community, timeout=2.0,
                           max_repetitions=BULK)

    return make


async def load(pid: int, targets: Sequence[tuple[str, int]], make: SessionFactory,
               v3: bool, seconds: float, concurrency: int) -> dict[str, float]:
    """Open a session per target, then poll round-robin for ``seconds``.

    Worker ``i`` owns targets i, i + concurrency, ...; the agent's CPU is read once every
    session is open (and discovered), so only polls are measured.
    """
    polls = errors = 0
    opened = 0
    all_open = asyncio.Event()
    go = asyncio.Event()
    deadline = 0.0

    async def worker(start: int) -> None:
        nonlocal polls, errors, opened
        sessions = [make(h, p) for h, p in targets[start::concurrency]]
        for session in sessions:
            await session.__aenter__()
            if v3:
                await session.refresh()
        opened += 1
        if opened == concurrency:
            all_open.set()
        await go.wait()
        try:
            position = 0
            while sessions and time.monotonic() < deadline:
                session = sessions[position % len(sessions)]
                position += 1
                try:
                    await session.get_many(SCALARS)
                    taken = 0
                    async for _oid, _value in session.getbulk(IF_ENTRY):
                        taken += 1
                        if taken >= BULK:
                            break
                    polls += 1
                except Exception:
                    errors += 1
        finally:
            for session in sessions:
                await session.__aexit__(None, None, None)

    tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
    await all_open.wait()
    cpu0, client0, started = proc_cpu(pid), time.process_time(), time.monotonic()
    deadline = started + seconds
    go.set()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - started
    cpu, client = proc_cpu(pid) - cpu0, time.process_time() - client0
    pdus = polls * 2
    return {"polls": polls, "errors": errors, "pdus": pdus, "wall": wall, "agent_cpu": cpu,
            "client_cpu": client, "pdus_per_s": pdus / wall,
            "pdus_per_cpu_s": pdus / cpu if cpu else 0.0}


def measure(label: str, pid: int, targets: Sequence[tuple[str, int]], make: SessionFactory,
            args: argparse.Namespace) -> dict[str, float]:
    result = asyncio.run(load(pid, targets, make, args.v3, args.seconds, args.concurrency))
    wall = result["wall"]
    print(f"{label:10s} {result['pdus_per_s']:9.0f} PDU/s wall  "
          f"{result['pdus_per_cpu_s']:9.0f} PDU per agent CPU-s  "
          f"agent {result['agent_cpu'] / wall:.2f} cores  "
          f"client {result['client_cpu'] / wall:.2f} cores  errors {result['errors']:.0f}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--v3", action="store_true", help="SNMPv3 SHA-256 + AES-128")
    args = parser.parse_args(argv)

    from inventory.generate import generate
    from inventory.writer import write_inventory

    snmpd = find_binary("snmpd")
    if snmpd is None:
        raise SystemExit("snmpd is not installed (apt-get install snmpd)")
    inventory = generate(sites=args.sites, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        write_inventory(inventory, tmp)
        network = "127.77.0.0"
        port = free_port(2, "127.77.0.1")
        ctx = mp.get_context("spawn")
        ready, stop = ctx.Event(), ctx.Event()
        parent, child = ctx.Pipe()
        started = time.monotonic()
        proc = ctx.Process(target=serve,
                           args=(tmp, network, port, args.v3, ready, stop, child))
        proc.start()
        if not ready.wait(120):
            raise SystemExit("simulator did not start")
        raw_targets: list[str] = parent.recv()
        print(f"simulator: {len(raw_targets)} devices listening after "
              f"{time.monotonic() - started:.1f}s ({'v3' if args.v3 else 'v2c'})")
        targets = [(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in raw_targets]
        assert proc.pid is not None
        sim = measure("simulator", proc.pid, targets, session_factory("public", args.v3), args)
        stop.set()
        served = parent.recv()
        proc.join(30)
        print(f"simulator counted {served} requests (client sent {sim['pdus']:.0f} PDUs "
              "while measured)")
    with run_snmpd(snmpd) as agents:
        agent = agents[0]
        same = [(agent.host, agent.port)] * len(targets)  # as many sessions, one address
        ref = measure("snmpd", agent.process.pid, same, session_factory(COMMUNITY, args.v3),
                      args)
    demo_rate = len(targets) * DEMO_PDUS_PER_POLL / 30.0
    headline = {
        "devices": len(targets),
        "version": "v3" if args.v3 else "v2c",
        "sim_pdus_per_cpu_s": round(sim["pdus_per_cpu_s"]),
        "snmpd_pdus_per_cpu_s": round(ref["pdus_per_cpu_s"]),
        "sim_vs_snmpd": round(sim["pdus_per_cpu_s"] / ref["pdus_per_cpu_s"], 2)
        if ref["pdus_per_cpu_s"] else None,
        "sim_pdus_per_s_wall": round(sim["pdus_per_s"]),
        "demo_fleet_pdus_per_s": round(demo_rate),
        "demo_fleet_core_share": round(demo_rate / sim["pdus_per_cpu_s"], 3)
        if sim["pdus_per_cpu_s"] else None,
    }
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
