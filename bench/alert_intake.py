"""Alerting at rest: memory per device and CPU per poll batch when nothing changes.

What a fleet costs alerting between storms (issue 15's capacity goal): an inventory folder
(``pubnet inventory generate --sites 7700`` gives ~20,000 devices) is loaded and laid out
as ``pubnet run`` does, the alerting component (:class:`alerting.service.AlertingService`)
is constructed over it, and it is fed what its state-store subscription delivers for each
polled device: one attempt record and the readings it subscribes to (interface status,
byte and error counters of every interface the fleet simulator gives the device, clients
per radio of access points), one batch per device per round, every device up.

- ``--memory``: tracemalloc from just before the component is constructed, two rounds fed
  (counter rates need two readings), garbage collected; prints what alerting keeps, by
  file, and per device. The batches are built before tracing (in ``pubnet run`` the state
  store owns the observations; alerting only refers to them).
- ``--cpu``: after two warm-up rounds, times ``--rounds`` more rounds of
  ``Intake.ingest`` over every batch plus one cycle of the component's loop per round;
  prints microseconds per batch.
- ``--against REF``: runs the ``--cpu`` (and ``--memory``) measurement alternately with the
  ``alerting/`` package of git revision ``REF`` and with this tree's, ``--repeat`` times each,
  in fresh processes, and prints the ratio (new / old) of the best times.

    .venv/bin/pubnet inventory generate --sites 7700 --out /tmp/inv
    nice -n 19 .venv/bin/python bench/alert_intake.py --inventory /tmp/inv --memory --cpu
    nice -n 19 .venv/bin/python bench/alert_intake.py --inventory /tmp/inv --against HEAD~3

The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from at_revision import ROOT, imported_from, parse_or_compare, runs_against, this_tree_first

this_tree_first()

from alerting.service import AlertingService  # noqa: E402
from inventory.loader import load_inventory  # noqa: E402
from inventory.model import Inventory  # noqa: E402
from inventory.topology import Topology  # noqa: E402
from pubnet import catalog  # noqa: E402
from pubnet.config import AlertingConfig  # noqa: E402
from pubnet.model import Attempt, Batch, Observation, PollStatus, Source  # noqa: E402
from pubnet.state import StateStore  # noqa: E402
from simulator.fleet import build_device, link_ends  # noqa: E402

OK = PollStatus.OK
SNMP = Source.SNMP


def plan(inventory: Inventory) -> list[tuple[str, list[tuple[str, ...]], list[Any]]]:
    """Per device: its id, the label tuples of its interfaces and of its radios (shared
    between rounds, as the SNMP collector's layouts share them), and its base rates."""
    ends = link_ends(inventory)
    out = []
    for index, device in enumerate(inventory.devices.values()):
        sim = build_device(device, index, ("127.0.0.1", 0), inventory, seed=1, now=0.0,
                           community=b"", ends=ends)
        ifaces = [((catalog.LABEL_IFNAME, i.name),) for i in sim.interfaces]
        radios = [((catalog.LABEL_RADIO, r.band), (catalog.LABEL_VAP, f"ath{r.index - 1}"))
                  for r in sim.radios]
        rates = [(i.in_rate, i.out_rate) for i in sim.interfaces]
        out.append((device.device_id, [*ifaces, *radios], rates))
    return out


def batches(fleet: list[tuple[str, list[Any], list[Any]]], round_no: int,
            ts0: float = 1_780_000_000.0) -> list[Batch]:
    """One round: a batch per device, as the subscription delivers it (only the metrics
    alerting subscribes to)."""
    ts = ts0 + 60.0 * round_no
    previous = None if round_no == 0 else OK
    out = []
    for device, labels, rates in fleet:
        obs: list[Observation] = []
        n_if = len(rates)
        for pos, (rx_rate, tx_rate) in enumerate(rates):
            lab = labels[pos]
            obs.append(Observation(device, catalog.IF_OPER_UP, 1.0, ts, SNMP, lab))
            obs.append(Observation(device, catalog.IF_RX_BYTES, rx_rate * ts % 1e15, ts, SNMP, lab))
            obs.append(Observation(device, catalog.IF_TX_BYTES, tx_rate * ts % 1e15, ts, SNMP, lab))
            obs.append(Observation(device, catalog.IF_RX_ERRORS, float(round_no), ts, SNMP, lab))
            obs.append(Observation(device, catalog.IF_TX_ERRORS, 0.0, ts, SNMP, lab))
        for lab in labels[n_if:]:
            obs.append(Observation(device, catalog.AP_CLIENTS, 3.0 + round_no % 2, ts, SNMP, lab))
        out.append(Batch(tuple(obs), (Attempt(device, OK, ts, SNMP, previous=previous),)))
    return out


def service(inventory: Inventory, topology: Topology, folder: Path) -> AlertingService:
    cfg = AlertingConfig.model_validate({
        "database": str(folder / "alerts.db"),
        "routes": [{"match": {}, "channels": ["sink"]}],
        "channels": {"sink": {"type": "webhook", "url": "http://127.0.0.1:9/unused"}},
    })
    return AlertingService(cfg, inventory, topology, StateStore(), senders={})


class _NoPersistence:
    """Stands in for the database in a cycle: at rest nothing is saved."""

    def take_dirty(self) -> set[str]:
        return set()

    async def save(self, *args: object, **kwargs: object) -> list[Any]:
        return []


class _NoDelivery:
    def enqueue(self, rows: object) -> None:
        return None


def memory(inventory: Inventory, topology: Topology, rounds: list[list[Batch]],
           folder: Path) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    svc = service(inventory, topology, folder)
    for round_batches in rounds:
        for batch in round_batches:
            svc.intake.ingest(batch)
    gc.collect()
    total = tracemalloc.get_traced_memory()[0] - before
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    by_file: dict[str, int] = {}
    lines = [(stat.size, stat.count, f"{stat.traceback[0].filename.rsplit('/', 2)[-2:]}:"
              f"{stat.traceback[0].lineno}") for stat in snapshot.statistics("lineno")[:15]]
    for stat in snapshot.statistics("filename"):
        name = stat.traceback[0].filename
        rel = os.path.relpath(name, str(ROOT)) if name.startswith(str(ROOT)) else name
        if "alerting/" in name:
            rel = "alerting/" + name.rsplit("alerting/", 1)[1]
        by_file[rel] = stat.size
    alerting = sum(v for k, v in by_file.items() if k.startswith("alerting/"))
    devices = len(inventory.devices)
    top = dict(sorted(by_file.items(), key=lambda kv: -kv[1])[:12])
    del svc
    return {"devices": devices, "total_bytes": total, "alerting_bytes": alerting,
            "total_per_device": round(total / devices, 1),
            "alerting_per_device": round(alerting / devices, 1), "top": top,
            "lines": lines}


def cpu(inventory: Inventory, topology: Topology, fleet: list[Any], rounds: int,
        folder: Path) -> dict[str, Any]:
    svc = service(inventory, topology, folder)
    for round_no in (0, 1):
        for batch in batches(fleet, round_no):
            svc.intake.ingest(batch)
    feeds = [batches(fleet, round_no) for round_no in range(2, 2 + rounds)]
    persistence: Any = _NoPersistence()
    delivery: Any = _NoDelivery()
    gc.collect()
    gc.freeze()
    times = []
    ingest = svc.intake.ingest
    for feed in feeds:
        started = time.process_time()
        for batch in feed:
            ingest(batch)
        now = feed[0].attempts[0].ts
        asyncio.run(svc.cycle(now, persistence, delivery, step_all=True))
        times.append(time.process_time() - started)
    gc.unfreeze()
    n = len(fleet)
    best = min(times)
    return {"batches_per_round": n, "rounds": rounds,
            "observations_per_round": sum(len(b.observations) for b in feeds[0]),
            "best_round_s": round(best, 4), "us_per_batch": round(best / n * 1e6, 2),
            "incidents": len(list(svc.incidents()))}


def against(args: argparse.Namespace) -> dict[str, Any]:
    """The measurement with ``args.against``'s alerting/ and this tree's, alternately."""
    command = [__file__, "--inventory", args.inventory, "--rounds", str(args.rounds), "--cpu",
               *(["--memory"] if args.memory else [])]
    results = runs_against(args.against, "alerting", command, args.repeat)
    best = {w: min(r["cpu"]["us_per_batch"] for r in rs) for w, rs in results.items()}
    report: dict[str, Any] = {
        "against": args.against, "repeat": args.repeat,
        "old_us_per_batch": best["old"], "new_us_per_batch": best["new"],
        "cpu_ratio_new_over_old": round(best["new"] / best["old"], 3)}
    if args.memory:
        for which in ("old", "new"):
            mem = results[which][0]["memory"]
            report[f"{which}_alerting_per_device"] = mem["alerting_per_device"]
            report[f"{which}_total_per_device"] = mem["total_per_device"]
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", required=True, help="inventory folder or YAML file")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parse_or_compare(parser, "alerting", against, argv)
    inventory = load_inventory(args.inventory).inventory
    topology = Topology.build(inventory)
    fleet = plan(inventory)
    report: dict[str, Any] = {"alerting": imported_from("alerting")}
    with tempfile.TemporaryDirectory() as tmp:
        if args.memory:
            rounds = [batches(fleet, 0), batches(fleet, 1)]
            report["memory"] = memory(inventory, topology, rounds, Path(tmp))
            del rounds
            mem = report["memory"]
            print(f"alerting keeps {mem['alerting_bytes'] / 1e6:.1f} MB allocated in alerting/ "
                  f"({mem['alerting_per_device']} B/device), {mem['total_bytes'] / 1e6:.1f} MB "
                  f"in all ({mem['total_per_device']} B/device) at {mem['devices']} devices",
                  flush=True)
            for name, size in mem["top"].items():
                print(f"  {size / 1e6:8.2f} MB  {name}")
            for size, count, where in mem["lines"]:
                print(f"  {size / 1e6:8.2f} MB {count:8d} blocks  {where}")
        if args.cpu:
            report["cpu"] = cpu(inventory, topology, fleet, args.rounds, Path(tmp))
            c = report["cpu"]
            print(f"{c['us_per_batch']} µs CPU per batch ({c['observations_per_round']} "
                  f"observations in {c['batches_per_round']} batches per round, best of "
                  f"{c['rounds']} rounds)", flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
