"""CPU per SNMP poll, end to end, against the fleet simulator: the poller's own process only.

One village site (an access point with the ``access-point`` profile, its gateway with
``if-mib``) behind a district router (``router``), served by :class:`simulator.Fleet` in a
child process over UDP on 127.0.0.0/8 (v2c). Each device is walked once, then polled
``--polls`` times in a row per block (GET polls, one in ``snmp.rewalk_every`` a walk, as in
service) through :class:`~collectors.snmp.poller.DevicePoller`, for ``--blocks`` blocks;
the median block's CPU time (``time.process_time``) per poll and the requests per poll are
printed per device. Unlike ``bench/poller_memory.py`` this includes the client (encoding,
sockets, decoding), so what a poll's number of PDUs costs shows.

``--against REF`` runs it alternately with the ``collectors/`` package of git revision
``REF`` and with this tree's, ``--repeat`` times each, and prints the ratios (new / old) of
the medians.

    nice -n 10 .venv/bin/python bench/poll_simulated.py --against 0e68c7c

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import socket
import statistics
import time
from multiprocessing.synchronize import Event
from typing import Any

from at_revision import imported_from, parse_or_compare, runs_against, this_tree_first

this_tree_first()

from collectors.snmp.poller import DevicePoller  # noqa: E402
from collectors.snmp.profiles import load_profiles  # noqa: E402
from pubnet.config import parse_config  # noqa: E402
from pubnet.ports import free_port  # noqa: E402
from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory  # noqa: E402
from testbed.inventories import village_site  # noqa: E402

CONFIG = {"credentials": {"village": {"version": "2c", "community": "public"}},
          "snmp": {"timeout": "2s", "retries": 1}}
DEVICES = ("ap-1", "gw-1", "dist-1")


def serve(plan: AddressPlan, ready: Event, stop: Event) -> None:
    async def run() -> None:
        fleet = Fleet.from_inventory(village_site(), plan,
                                     credentials=parse_config(CONFIG).credentials)
        async with fleet:
            ready.set()
            await asyncio.to_thread(stop.wait)  # the fleet serves meanwhile
    asyncio.run(run())


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    plan = AddressPlan(f"127.{random.randint(100, 250)}.0.0",
                       free_port(socket.SOCK_DGRAM, "0.0.0.0"))
    ready, stop = mp.Event(), mp.Event()
    agent = mp.Process(target=serve, args=(plan, ready, stop))
    agent.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the simulator did not start")
        config = parse_config(CONFIG)
        site = village_site()
        inv = simulated_inventory(site, plan_addresses(site, plan))
        poller = DevicePoller(config, inv, load_profiles())
        report: dict[str, Any] = {"bench": "poll_simulated",
                                  "collectors": imported_from("collectors"),
                                  "polls": args.polls, "blocks": args.blocks}
        for dev in DEVICES:
            run = poller.prepare(inv.devices[dev])
            await poller.poll(run)  # the walk
            blocks = []
            requests = poller.stats.requests
            for _ in range(args.blocks):
                started = time.process_time()
                for _ in range(args.polls):
                    status, detail, _ = await poller.poll(run)
                    if status.value != "ok":
                        raise RuntimeError(f"{dev}: {status.value} {detail}")
                blocks.append((time.process_time() - started) / args.polls * 1e6)
            report[f"{dev}_cpu_us_per_poll"] = round(statistics.median(blocks), 1)
            report[f"{dev}_requests_per_poll"] = round(
                (poller.stats.requests - requests) / (args.polls * args.blocks), 2)
            poller.close([run])
        return report
    finally:
        stop.set()
        agent.join(10)


def against(args: argparse.Namespace) -> dict[str, Any]:
    command = [__file__, "--polls", str(args.polls), "--blocks", str(args.blocks)]
    results = runs_against(args.against, "collectors", command, args.repeat)
    out: dict[str, Any] = {"bench": "poll_simulated", "against": args.against,
                           "repeat": args.repeat}
    for dev in DEVICES:
        key = f"{dev}_cpu_us_per_poll"
        old = statistics.median(r[key] for r in results["old"])
        new = statistics.median(r[key] for r in results["new"])
        out[f"{dev}_old_cpu_us_per_poll"] = old
        out[f"{dev}_new_cpu_us_per_poll"] = new
        out[f"{dev}_cpu_ratio_new_over_old"] = round(new / old, 3)
        out[f"{dev}_old_requests_per_poll"] = results["old"][0][f"{dev}_requests_per_poll"]
        out[f"{dev}_new_requests_per_poll"] = results["new"][0][f"{dev}_requests_per_poll"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--polls", type=int, default=300, help="polls a block")
    parser.add_argument("--blocks", type=int, default=7)
    args = parse_or_compare(parser, "collectors", against)
    print(json.dumps(asyncio.run(measure(args))))


if __name__ == "__main__":
    main()
