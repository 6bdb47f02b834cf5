"""Shard state publisher benchmark: what publishing device status to the broker costs.

Two figures, in one process with a real Mosquitto:

* **all-ok fleet**: ``set_status`` of N devices that stay ``ok`` (one attempt each, as a
  steady poll round makes), with and without the publisher's store subscription being
  followed: the extra µs per attempt is what a shard pays for being a shard when nothing
  happens (the publisher filters every attempt and sends none);
* **storm**: N devices failing at once (a national outage: every attempt a failure), each
  published QoS 1 retained, timed from the first ``set_status`` to the broker's last
  PUBACK: messages/s, and this process's CPU µs per message (store, filter, encode, paho).

    .venv/bin/python bench/state_publish.py              # N = 50,000
    .venv/bin/python bench/state_publish.py --n 10000    # quick

The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporters.mqttstate.publisher import StatePublisher  # noqa: E402
from inventory.generate import generate  # noqa: E402
from inventory.model import Inventory  # noqa: E402
from pubnet.config import ClusterConfig, MqttConfig  # noqa: E402
from pubnet.model import PollStatus, Source  # noqa: E402
from pubnet.ports import free_port  # noqa: E402
from pubnet.shard import Shard  # noqa: E402
from pubnet.state import StateStore  # noqa: E402
from testbed.mosquitto import Mosquitto  # noqa: E402
from testbed.process import find_binary  # noqa: E402
from testbed.waiting import eventually  # noqa: E402

ROUNDS = 5


def fleet(n: int) -> Inventory:
    """At least ``n`` devices (a generated national inventory, ~2.6 devices a site)."""
    inventory = generate(sites=max(1, round(n / 2.5)), seed=1)
    devices = dict(list(inventory.devices.items())[:n])
    return Inventory(inventory.sites, devices, {})


def steady_round(store: StateStore, devices: list[str], ts: float) -> float:
    """Seconds of CPU for one round of ``ok`` attempts."""
    started = time.process_time()
    for device in devices:
        store.set_status(device, PollStatus.OK, ts, Source.SNMP)
    return time.process_time() - started


async def all_ok(inventory: Inventory, config: MqttConfig) -> dict[str, float]:
    devices = list(inventory.devices)
    bare, shard = StateStore(), StateStore()
    steady_round(bare, devices, 1.0)
    steady_round(shard, devices, 1.0)
    publisher = StatePublisher(config, ClusterConfig(), inventory, shard, Shard(1, 1))
    task = asyncio.create_task(publisher.run())
    await publisher.ready.wait()
    sent_before = publisher.published
    without = sum(steady_round(bare, devices, 2.0 + n) for n in range(ROUNDS))
    started = time.process_time()
    for n in range(ROUNDS):  # each round, then the publisher drains and filters it
        steady_round(shard, devices, 2.0 + n)
        await eventually(lambda: not any(s.pending for s in shard.subscriber_stats()), 60,
                         "the publisher to drain a round")
    total = time.process_time() - started
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    attempts = ROUNDS * len(devices)
    return {
        "ok_attempt_us_without_publisher": round(without / attempts * 1e6, 3),
        "ok_attempt_us_with_publisher": round(total / attempts * 1e6, 3),
        "ok_messages_published": publisher.published - sent_before,
    }


async def storm(inventory: Inventory, config: MqttConfig) -> dict[str, float]:
    devices = list(inventory.devices)
    store = StateStore()
    steady_round(store, devices, 1.0)
    publisher = StatePublisher(config, ClusterConfig(), inventory, store, Shard(1, 1))
    task = asyncio.create_task(publisher.run())
    await publisher.ready.wait()
    before = publisher.published
    wall, cpu = time.perf_counter(), time.process_time()
    for device in devices:
        store.set_status(device, PollStatus.TIMEOUT, 2.0, Source.SNMP, "no answer in 2s")
    await eventually(lambda: publisher.published - before >= len(devices), 600,
                     "every failure published")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return {"storm_messages": len(devices), "storm_seconds": round(wall, 3),
            "storm_messages_per_s": round(len(devices) / wall),
            "storm_cpu_us_per_message": round(cpu / len(devices) * 1e6, 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="devices (default 50,000)")
    args = parser.parse_args()
    binary = find_binary("mosquitto")
    if binary is None:
        raise SystemExit("mosquitto is not installed")
    inventory = fleet(args.n)
    with tempfile.TemporaryDirectory() as folder, \
            Mosquitto(binary, Path(folder), free_port(),
                      max_queued_messages=args.n * 2) as broker:
        config = MqttConfig.model_validate({"url": f"mqtt://127.0.0.1:{broker.port}",
                                            "client_id": "bench-shard"})
        quiet = await all_ok(inventory, config)
        loud = await storm(inventory, config)
    result = {"devices": len(inventory.devices), **quiet, **loud}
    print(f"all-ok fleet: {quiet['ok_attempt_us_without_publisher']} µs per ok attempt "
          f"without the publisher, {quiet['ok_attempt_us_with_publisher']} µs with it "
          f"(messages sent: {quiet['ok_messages_published']})")
    print(f"storm: {loud['storm_messages']} failures published in {loud['storm_seconds']} s: "
          f"{loud['storm_messages_per_s']} messages/s, "
          f"{loud['storm_cpu_us_per_message']} CPU µs per message")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
