"""Alert storms on a national inventory: one incident per root cause, fast.

On a generated inventory (25,000 sites by default, ~64,000 devices) this runs the real
alerting component (state store subscription, SQLite file, outbox) with an in-memory
channel, and times:

1. **provincial cut**: the provincial node with the most sites below it (1,000+) and every
   device below it fail in one polling round. Measured: from the moment the failures are
   published to the moment the single incident's message is handed to the channels, and the
   number of incidents. Reference, same run: the same storm through the same component with
   the topology removed (every device its own root), i.e. what per-device alerting costs.
2. **25,000 changes at once**: 25,000 devices spread over the country (seeded sample) change
   to ``timeout`` in one burst. Measured from the moment the last change was published:
   (a) with the default ``group_wait`` (20 s), until every change is counted, the root causes
   found and the incidents opened; (b) with ``group_wait: 0``, until every incident is also
   written to SQLite and its message rendered, written to the outbox and handed to the
   channel. Reference: the time the state store itself took to accept the 25,000 changes.

``down_after`` is 1 so that one burst is the confirming poll; counting attempts is one
dictionary update per attempt whatever ``down_after`` is.

Usage: ``python bench/alert_storm.py [--sites 25000] [--seed 1] [--changes 25000]``.
The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from alerting.db import OutboxRow
from alerting.model import Outgoing
from alerting.service import SUBSCRIBER_NAME, AlertingService
from inventory.generate import generate
from inventory.model import Inventory, Role
from inventory.topology import Topology
from pubnet.config import AlertingConfig
from pubnet.model import Observation, PollStatus, Source
from pubnet.state import StateStore


class MemorySender:
    """A channel that accepts everything at once (we time alerting, not a network)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)

    async def aclose(self) -> None:
        return None


def config(folder: Path, name: str, group_wait: float = 0.0) -> AlertingConfig:
    return AlertingConfig.model_validate({
        "database": str(folder / f"{name}.db"),
        "down_after": 1,
        "tick": "200ms",
        "group_wait": group_wait,
        "routes": [{"match": {}, "channels": ["sink"]}],
        "channels": {"sink": {"type": "webhook", "url": "http://127.0.0.1:9/unused"}},
    })


def publish_round(store: StateStore, devices: list[str], ok: bool, ts: float) -> None:
    status = PollStatus.OK if ok else PollStatus.TIMEOUT
    value = 1.0 if ok else 0.0
    for device in devices:
        store.set_status(device, status, ts, Source.SNMP, observations=[
            Observation(device, "pubnet_device_up", value, ts, Source.SNMP)])


async def settle(store: StateStore, service: AlertingService) -> None:
    """Wait until alerting has consumed everything published and finished a cycle."""
    while True:
        pending = next((s.pending for s in store.subscriber_stats()
                        if s.name == SUBSCRIBER_NAME), 0)
        if pending == 0:
            await service.wait_cycle()
            pending = next((s.pending for s in store.subscriber_stats()
                            if s.name == SUBSCRIBER_NAME), 0)
            if pending == 0:
                return
        await asyncio.sleep(0.005)


class Run:
    """One alerting component over one inventory, with timestamps of hand-overs."""

    def __init__(self, inventory: Inventory, topology: Topology, cfg: AlertingConfig) -> None:
        self.store = StateStore()
        self.sender = MemorySender("sink")
        self.handed: list[tuple[float, int]] = []
        self.first_handed = asyncio.Event()
        self.service = AlertingService(cfg, inventory, topology, self.store,
                                       senders={"sink": self.sender},
                                       on_handed=self._on_handed)
        self.task: asyncio.Task[None] | None = None

    def _on_handed(self, rows: list[OutboxRow]) -> None:
        self.handed.append((time.perf_counter(), len(rows)))
        self.first_handed.set()

    async def __aenter__(self) -> Run:
        self.task = asyncio.create_task(self.service.run())
        await self.service.ready.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def warm(self, devices: list[str], ts: float) -> None:
        publish_round(self.store, devices, True, ts)
        await settle(self.store, self.service)


async def provincial_cut(inventory: Inventory, topology: Topology, cut: list[str],
                         folder: Path, name: str) -> dict[str, Any]:
    devices = list(inventory.devices)
    async with Run(inventory, topology, config(folder, name)) as run:
        now = time.time()
        await run.warm(devices, now - 60)
        run.handed.clear()
        run.first_handed.clear()
        t0 = time.perf_counter()
        publish_round(run.store, cut, False, now)
        await run.first_handed.wait()
        first = run.handed[0][0] - t0
        await settle(run.store, run.service)
        done = time.perf_counter() - t0
        opened = [i for i in run.service.incidents() if i.is_open]
        return {"devices_failed": len(cut), "first_handed_s": first, "all_handed_s": done,
                "incidents": len(opened), "messages": sum(n for _, n in run.handed)}


async def burst(inventory: Inventory, topology: Topology, chosen: list[str],
                folder: Path, group_wait: float) -> dict[str, Any]:
    devices = list(inventory.devices)
    name = f"burst-{group_wait:g}"
    async with Run(inventory, topology, config(folder, name, group_wait)) as run:
        now = time.time()
        await run.warm(devices, now - 60)
        run.handed.clear()
        t0 = time.perf_counter()
        publish_round(run.store, chosen, False, now)
        arrived = time.perf_counter()
        published = arrived - t0
        await settle(run.store, run.service)
        done = time.perf_counter() - arrived
        opened = [i for i in run.service.incidents() if i.is_open]
        return {"changes": len(chosen), "publish_s": published, "processed_s": done,
                "incidents": len(opened), "messages": sum(n for _, n in run.handed),
                "down_elements": len(run.service.correlator.down)}


def flat(inventory: Inventory) -> Inventory:
    """The same devices with no upstream and no links: per-device alerting."""
    return Inventory(
        sites=inventory.sites,
        devices={k: replace(d, upstream="") for k, d in inventory.devices.items()},
        links={}, source=inventory.source,
    )


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changes", type=int, default=25_000)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    inventory = generate(sites=args.sites, seed=args.seed)
    topology = Topology.build(inventory)
    # The inventory is long-lived: keep the cyclic GC from re-scanning it on every collection
    # (what a daemon does after loading it).
    gc.collect()
    gc.freeze()
    print(f"inventory: {len(inventory.sites)} sites, {len(inventory.devices)} devices, "
          f"{len(inventory.links)} links ({time.perf_counter() - started:.1f}s)")
    nodes = [d.device_id for d in inventory.devices.values() if d.role is Role.PROVINCIAL_NODE]
    node = max(nodes, key=lambda n: (len(topology.downstream_sites(n)), n))
    sites_below = len(topology.downstream_sites(node))
    print(f"cutting {node}: {sites_below} sites, "
          f"{len(topology.downstream_devices(node)) + 1} devices")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        failing = [node, *sorted(topology.downstream_devices(node))]
        cut = await provincial_cut(inventory, topology, failing, folder, "cut")
        print(f"provincial cut, topology-aware: first message handed after "
              f"{cut['first_handed_s'] * 1000:.0f} ms, all processed after "
              f"{cut['all_handed_s'] * 1000:.0f} ms; {cut['incidents']} incident(s), "
              f"{cut['messages']} message(s)")
        plain_inv = flat(inventory)
        plain = await provincial_cut(plain_inv, Topology.build(plain_inv), failing, folder,
                                     "flat")
        print(f"provincial cut, reference without topology: all handed after "
              f"{plain['all_handed_s'] * 1000:.0f} ms; {plain['incidents']} incidents, "
              f"{plain['messages']} messages")

        rng = random.Random(args.seed)
        candidates = sorted(inventory.devices)
        chosen = sorted(rng.sample(candidates, min(args.changes, len(candidates))))
        storm = await burst(inventory, topology, chosen, folder, group_wait=20.0)
        print(f"{storm['changes']} changes at once: store accepted them in "
              f"{storm['publish_s'] * 1000:.0f} ms (reference); alerting counted them, found "
              f"the root causes and opened {storm['incidents']} incidents (from "
              f"{storm['down_elements']} down elements) in {storm['processed_s'] * 1000:.0f} ms "
              "(group_wait 20s: they are written and sent when it ends)")
        sent = await burst(inventory, topology, chosen, folder, group_wait=0.0)
        print(f"same burst with group_wait 0: all {sent['messages']} messages rendered, "
              f"written to the outbox and handed to the channel after "
              f"{sent['processed_s'] * 1000:.0f} ms")

    headline = {
        "bench": "alert_storm",
        "sites": len(inventory.sites),
        "devices": len(inventory.devices),
        "cut_node": node,
        "cut_sites": sites_below,
        "cut_devices": cut["devices_failed"],
        "cut_incidents": cut["incidents"],
        "cut_first_handed_s": round(cut["first_handed_s"], 4),
        "cut_goal_s": 1.0,
        "reference_flat_incidents": plain["incidents"],
        "reference_flat_all_handed_s": round(plain["all_handed_s"], 4),
        "cut_vs_flat_time_ratio": round(cut["all_handed_s"] / plain["all_handed_s"], 3),
        "burst_changes": storm["changes"],
        "burst_processed_s": round(storm["processed_s"], 4),
        "burst_goal_s": 2.0,
        "burst_incidents": storm["incidents"],
        "burst_all_messages_handed_s": round(sent["processed_s"], 4),
        "reference_store_publish_s": round(storm["publish_s"], 4),
        "burst_vs_store_ratio": round(storm["processed_s"] / storm["publish_s"], 2),
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    headline["load_average_1m"] = round(load, 2)
    print(f"machine load average (1 min): {load:.2f} on {os.cpu_count()} CPUs")
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
