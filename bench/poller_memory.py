"""Bytes per device the SNMP poller keeps between polls, and CPU per poll, at fleet scale.

``--devices`` devices of one model are polled through
:func:`collectors.snmp.collect.collect` from an in-process agent
(:class:`testbed.scripted.ScriptedClient`, no sockets: this measures what the collector
keeps and its own CPU, not SNMP). The first poll walks the tables, then
``--rounds`` polls GET what the walk found, with every counter grown. ``--profile`` picks
the model, shaped as the fleet simulator's (simulator/mib.py):

- ``if-mib`` (default): 4 interfaces (names, status, speed, 64-bit octet and packet
  counters, 32-bit error and discard counters: 24 counters a device);
- ``access-point``: the simulator's access points, 3 interfaces (eth0, wlan0, wlan1, each
  with its own ifAlias) and 2 UniFi VAPs (``radio``/``vap`` labels), 37 observations a poll;
- ``router``: a site gateway, 4 interfaces plus HOST-RESOURCES CPU and RAM.

``--hold`` keeps each device's last observations until its next poll, as the state store
does, and ``--shuffle`` polls the devices in a new random order each round, as the
scheduler's spread does: together they make a poll's allocations and reads land across a
heap the size of the fleet's, which the default (observations dropped at once, devices in
allocation order) keeps in the CPU caches. The timed polls run with the garbage collector
tuned as ``pubnet run`` tunes it after its first round (:func:`pubnet.app.startup.tune_gc`).

``--against REF`` runs the CPU measurement alternately with the ``collectors/`` package of
git revision ``REF`` and with this tree's, ``--repeat`` times each, in fresh processes, and
prints the ratio (new / old) of the best times.

tracemalloc measures what the devices' :class:`~collectors.snmp.collect.DeviceMemory` keep
after the walk: counters, table layouts, GET lists. The counters are also measured on their
own, against a reference built in the same run from the same keys and readings: a dict per
device of one :class:`~collectors.snmp.counters.CounterState` per counter (the textbook
structure, and the poller's until it packed them in a
:class:`~collectors.snmp.counterbank.CounterBank`).

    .venv/bin/python bench/poller_memory.py --devices 20000
    nice -n 19 .venv/bin/python bench/poller_memory.py --profile access-point --hold \
        --shuffle --devices 100000 --against HEAD~1

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from at_revision import imported_from, parse_or_compare, runs_against, this_tree_first

this_tree_first()

from collectors.snmp.client import Value  # noqa: E402
from collectors.snmp.collect import DeviceMemory, collect  # noqa: E402
from collectors.snmp.counterbank import SlotMaps  # noqa: E402
from collectors.snmp.counters import CounterState  # noqa: E402
from collectors.snmp.layout import LayoutParts  # noqa: E402
from collectors.snmp.profiles import load_profiles  # noqa: E402
from pubnet.app.startup import tune_gc  # noqa: E402
from pubnet.model import Observation, SeriesKey  # noqa: E402
from testbed.scripted import ScriptedClient  # noqa: E402

IF = "1.3.6.1.2.1.2.2.1."
IFX = "1.3.6.1.2.1.31.1.1.1."
INTERFACES = 4
AP_INTERFACES = (("eth0", 1_000_000_000), ("wlan0", 144_000_000), ("wlan1", 866_000_000))
UNIFI_VAP = "1.3.6.1.4.1.41112.1.6.1.2.1."
AP_RADIOS = ((1, b"ng", 6, 20), (2, b"na", 36, 23))
"""(index, band, channel, tx power) of the simulator's two radios (simulator/fleet.py)."""
HR_STORAGE = "1.3.6.1.2.1.25.2.3.1."
HR_PROCESSOR_LOAD = "1.3.6.1.2.1.25.3.3.1.2.196608"


def agent_oids(device: int, round_: int, profile: str = "if-mib") -> dict[str, Value]:
    """What device number ``device`` answers at poll ``round_``: counters grow each round."""
    if profile == "access-point":
        return ap_oids(device, round_)
    base = 3_000_000_000 + device * 1_000 + round_ * 100_000
    oids: dict[str, Value] = {
        "1.3.6.1.2.1.1.1.0": b"RouterOS", "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.14988.1",
        "1.3.6.1.2.1.1.3.0": 100_000 + round_ * 6_000, "1.3.6.1.2.1.1.5.0": b"gw"}
    if profile == "router":
        oids["1.3.6.1.2.1.2.1.0"] = INTERFACES
        oids.update({f"{HR_STORAGE}2.1": "1.3.6.1.2.1.25.2.1.2", f"{HR_STORAGE}4.1": 1024,
                     f"{HR_STORAGE}5.1": 262_144,
                     f"{HR_STORAGE}6.1": 90_000 + (device + round_) % 1_000,
                     HR_PROCESSOR_LOAD: (device + round_) % 100})
    for i in range(1, INTERFACES + 1):
        oids[f"{IFX}1.{i}"] = f"ether{i}".encode()
        oids[f"{IF}7.{i}"] = 1
        oids[f"{IF}8.{i}"] = 1
        oids[f"{IFX}15.{i}"] = 100
        for column in (6, 7, 10, 11):  # 64-bit octets and packets
            oids[f"{IFX}{column}.{i}"] = base * 1_000 + column * 7 + i
        for column in (13, 14, 19, 20):  # 32-bit discards and errors
            oids[f"{IF}{column}.{i}"] = (base + column) % (1 << 32)
    return oids


def ap_oids(device: int, round_: int) -> dict[str, Value]:
    """An access point as the fleet simulator answers (simulator/mib.py): ifTable and
    ifXTable of 3 interfaces with both 32- and 64-bit octets (the poll reads the 64-bit
    ones) and an ifAlias of the device's own, and UniFi's unifiVapTable of 2 radios."""
    base = 3_000_000_000 + device * 1_000 + round_ * 100_000
    oids: dict[str, Value] = {
        "1.3.6.1.2.1.1.1.0": b"UniFi AP", "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.41112.1.6",
        "1.3.6.1.2.1.1.3.0": 100_000 + round_ * 6_000, "1.3.6.1.2.1.1.5.0": b"ap",
        "1.3.6.1.2.1.2.1.0": len(AP_INTERFACES)}
    for i, (name, speed) in enumerate(AP_INTERFACES, 1):
        oids[f"{IF}2.{i}"] = name.encode()
        oids[f"{IF}5.{i}"] = min(speed, (1 << 32) - 1)
        oids[f"{IF}7.{i}"] = 1
        oids[f"{IF}8.{i}"] = 1
        oids[f"{IFX}1.{i}"] = name.encode()
        oids[f"{IFX}15.{i}"] = speed // 1_000_000
        oids[f"{IFX}18.{i}"] = f"ap{device} {name}".encode()
        for column in (6, 10):  # 64-bit octets
            oids[f"{IFX}{column}.{i}"] = base * 1_000 + column * 7 + i
        for column in (10, 13, 14, 16, 19, 20):  # 32-bit octets, discards and errors
            oids[f"{IF}{column}.{i}"] = (base + column) % (1 << 32)
    for index, band, channel, power in AP_RADIOS:
        oids[f"{UNIFI_VAP}4.{index}"] = channel
        oids[f"{UNIFI_VAP}6.{index}"] = b"PUBNET-FREE-WIFI"
        oids[f"{UNIFI_VAP}7.{index}"] = f"ath{index - 1}".encode()
        oids[f"{UNIFI_VAP}8.{index}"] = (device + round_ + index) % 40
        oids[f"{UNIFI_VAP}9.{index}"] = band
        oids[f"{UNIFI_VAP}21.{index}"] = power
    return oids


def traced(build: Callable[[], object]) -> int:
    """Bytes ``build()`` leaves allocated."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return after - before


CHUNK = 256
"""Devices whose answers are built at a time, just before their polls (as a poll decodes
its answer just before it reads it), so 100,000 devices' answers are never all held."""


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    profiles = load_profiles()
    keys: dict[SeriesKey, SeriesKey] = {}
    parts: LayoutParts = {}
    maps: SlotMaps = {}
    shared: dict[str, Any] = {"keys": keys, "parts": parts, "slot_maps": maps}
    if "label_sets" in DeviceMemory.__dataclass_fields__:  # not in older revisions
        shared["label_sets"] = {}
    memories = [DeviceMemory(**shared) for _ in range(args.devices)]
    held_observations: list[list[Observation]] = [[] for _ in range(args.devices)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for number, memory in enumerate(memories):  # the first poll walks the tables
        await collect(ScriptedClient(agent_oids(number, 0, args.profile)), profiles, args.profile,
                      f"d{number}", memory, 1000.0)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    counters = sum(len(m.counters) for m in memories)

    def reference() -> list[dict[SeriesKey, CounterState]]:
        out = []
        for memory in memories:
            bank = memory.counters
            # fresh ints, as a decoder hands them over
            out.append({key: CounterState(int(str(bank.raws[slot])),
                                          int(str(bank.raws[slot] + 1)), bank.widths[slot])
                        for key, slot in bank.slots.items()})
        return out

    reference_bytes = traced(reference)
    thresholds = gc.get_threshold()
    order = list(range(args.devices))
    shuffler = random.Random(15)
    cpu = 0.0
    observations = 0
    tune_gc()  # as pubnet run does after its first round
    for round_ in range(1, args.rounds + 1):
        if args.shuffle:
            shuffler.shuffle(order)
        for start in range(0, args.devices, CHUNK):
            chunk = order[start:start + CHUNK]
            answers = [agent_oids(number, round_, args.profile) for number in chunk]
            started = time.process_time()
            for number, answer in zip(chunk, answers, strict=True):
                result = await collect(ScriptedClient(answer), profiles, args.profile,
                                       f"d{number}", memories[number], 1000.0 + 60 * round_)
                if args.hold:
                    held_observations[number] = result.observations
                observations += len(result.observations)
            cpu += time.process_time() - started
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    bank_bytes = sum(sys.getsizeof(b.raws) + sys.getsizeof(b.offsets) + sys.getsizeof(b.widths)
                     + sys.getsizeof(b) for b in (m.counters for m in memories)) + sum(
        sys.getsizeof(slots) for slots in maps.values())
    polls = args.rounds * args.devices
    return {
        "bench": "poller_memory", "collectors": imported_from("collectors"),
        "profile": args.profile, "hold": args.hold, "shuffle": args.shuffle,
        "devices": args.devices, "counters": counters,
        "observations_per_poll": round(observations / polls, 1),
        "memory_bytes_per_device": round(held / args.devices),
        "counter_bytes_per_counter": round(bank_bytes / counters, 1),
        "reference_bytes_per_counter": round(reference_bytes / counters, 1),
        "ratio_vs_reference": round(reference_bytes / bank_bytes, 2),
        "slot_maps": len(maps),
        "cpu_us_per_get_poll": round(cpu / polls * 1e6, 1),
    }


def against(args: argparse.Namespace) -> dict[str, Any]:
    """The CPU measurement with ``args.against``'s collectors and this tree's, alternately."""
    command = [__file__, "--devices", str(args.devices), "--rounds", str(args.rounds),
               "--profile", args.profile, *(["--hold"] if args.hold else []),
               *(["--shuffle"] if args.shuffle else [])]
    results = runs_against(args.against, "collectors", command, args.repeat)
    best = {w: min(r["cpu_us_per_get_poll"] for r in rs) for w, rs in results.items()}
    return {"bench": "poller_memory", "against": args.against, "repeat": args.repeat,
            "profile": args.profile, "devices": args.devices, "hold": args.hold,
            "shuffle": args.shuffle,
            "old_cpu_us_per_get_poll": best["old"], "new_cpu_us_per_get_poll": best["new"],
            "cpu_ratio_new_over_old": round(best["new"] / best["old"], 3),
            "old_memory_bytes_per_device": results["old"][0]["memory_bytes_per_device"],
            "new_memory_bytes_per_device": results["new"][0]["memory_bytes_per_device"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", choices=["if-mib", "access-point", "router"],
                        default="if-mib")
    parser.add_argument("--hold", action="store_true",
                        help="keep each device's last observations, as the state store does")
    parser.add_argument("--shuffle", action="store_true",
                        help="poll the devices in a new random order each round")
    args = parse_or_compare(parser, "collectors", against)
    report = asyncio.run(measure(args))
    print(f"{args.devices:,} {args.profile} devices, {report['counters']:,} counters: the "
          f"poller keeps {report['memory_bytes_per_device']:,} bytes a device; counters "
          f"{report['counter_bytes_per_counter']} bytes each against "
          f"{report['reference_bytes_per_counter']} as a dict of CounterState "
          f"({report['ratio_vs_reference']}x); {report['cpu_us_per_get_poll']} us CPU a GET "
          f"poll ({report['observations_per_poll']} observations)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
