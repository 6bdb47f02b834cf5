"""From a detected outage to the technician's webhook, on a busy event loop.

At 100,000 devices ``pubnet run``'s event loop is saturated: each of its turns runs every
ready callback, and takes ~0.3-0.4 s (bench/fleet.py). Whatever the alerting component
does between a failed poll and the webhook's POST then costs that much per loop turn it
needs (an await on a worker thread, a connection, a read), so the latency the technician
sees is the number of turns times the turn, not the work.

This bench runs the real alerting component (:class:`alerting.service.AlertingService`,
its SQLite database, its webhook sender) over a generated inventory, with the config
``bench/fleet.py`` gives it (``down_after: 1``, ``group_wait: 0s``), and a webhook server
in a thread of its own. The loop is kept busy by one callback that spins for ``--turn``
seconds and schedules itself again (a turn is at least that long). Every device's poll
succeeds once; then a district router's poll fails (the detection) and the time until the
webhook receives its incident is measured, in seconds and in loop turns, ``--repeat`` times
(with a fresh service each time), for ``--turn 0`` (an idle loop) and the busy one.

    .venv/bin/python bench/alert_latency.py --sites 300 --turn 0.35 --repeat 3

The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerting.service import AlertingService  # noqa: E402
from inventory.generate import generate  # noqa: E402
from inventory.model import Inventory  # noqa: E402
from inventory.topology import Topology  # noqa: E402
from pubnet.config import AlertingConfig  # noqa: E402
from pubnet.model import PollStatus, Source  # noqa: E402
from pubnet.state import StateStore  # noqa: E402
from testbed.busyloop import BusyLoop, ThreadedWebhook  # noqa: E402


def district_router(inventory: Inventory) -> str:
    return min(d for d, dev in inventory.devices.items()
               if str(dev.role) == "district_aggregation")


async def one_cut(inventory: Inventory, topology: Topology, folder: Path,
                  hooks: ThreadedWebhook, turn: float) -> tuple[float, int]:
    """Seconds and loop turns from the router's failed poll to its incident's webhook."""
    cfg = AlertingConfig.model_validate({
        "database": str(folder / "alerts.db"), "down_after": 1, "group_wait": "0s",
        "tick": "1s", "channels": {"noc": {"type": "webhook", "url": hooks.url}},
        "routes": [{"channels": ["noc"]}]})
    store = StateStore()
    service = AlertingService(cfg, inventory, topology, store)
    router = district_router(inventory)
    busy = BusyLoop(turn)
    async with asyncio.TaskGroup() as group:
        task = group.create_task(service.run())
        await service.ready.wait()
        now = time.time()
        for device in inventory.devices:
            store.set_status(device, PollStatus.OK, now, Source.SNMP)
        await asyncio.sleep(1.5)  # the first cycle has seen every device up
        if turn > 0:
            busy.start()
            await asyncio.sleep(2 * turn)
        turns0 = busy.turns
        detected = time.monotonic()
        store.set_status(router, PollStatus.TIMEOUT, time.time(), Source.SNMP)
        arrived = None
        while arrived is None and time.monotonic() - detected < 60:
            await asyncio.sleep(0.01)
            arrived = hooks.first_after(detected, router)
        turns = busy.turns - turns0
        busy.stop()
        task.cancel()
    if arrived is None:
        raise SystemExit(f"no webhook for {router} within 60 s")
    return arrived - detected, turns


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    inventory = generate(args.sites, seed=1)
    topology = Topology.build(inventory)
    results: dict[str, object] = {"sites": args.sites, "devices": len(inventory.devices),
                                  "turn_s": args.turn}
    with ThreadedWebhook() as hooks:
        for label, turn in (("idle", 0.0), ("busy", args.turn)):
            seconds: list[float] = []
            turns: list[int] = []
            for run in range(args.repeat):
                with tempfile.TemporaryDirectory() as tmp:
                    took, spent = await one_cut(inventory, topology, Path(tmp), hooks, turn)
                seconds.append(took)
                turns.append(spent)
                print(f"{label} run {run + 1}: {took:.3f} s, {spent} turns", flush=True)
            results[f"{label}_s"] = round(statistics.median(seconds), 3)
            results[f"{label}_turns"] = statistics.median(turns)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--turn", type=float, default=0.35,
                        help="seconds each turn of the busy loop takes at least")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
