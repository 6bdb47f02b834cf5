"""Bytes per device the SNMP poller keeps between polls, and CPU per poll, at fleet scale.

``--devices`` devices of one model (4 interfaces: names, status, speed, 64-bit octet and
packet counters, 32-bit error and discard counters: 24 counters a device) are polled through
:func:`collectors.snmp.collect.collect` from an in-process agent (no sockets: this measures
what the collector keeps and its own CPU, not SNMP). The first poll walks the tables, then
``--rounds`` polls GET what the walk found, with every counter grown.

tracemalloc measures what the devices' :class:`~collectors.snmp.collect.DeviceMemory` keep
after the walk: counters, table layouts, GET lists. The counters are also measured on their
own, against a reference built in the same run from the same keys and readings: a dict per
device of one :class:`~collectors.snmp.counters.CounterState` per counter (the textbook
structure, and the poller's until it packed them in a
:class:`~collectors.snmp.counterbank.CounterBank`).

    .venv/bin/python bench/poller_memory.py --devices 20000

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.snmp.client import SnmpClient, Value
from collectors.snmp.collect import DeviceMemory, collect
from collectors.snmp.counterbank import SlotMaps
from collectors.snmp.counters import CounterState
from collectors.snmp.layout import LayoutParts
from collectors.snmp.profiles import load_profiles
from pubnet.model import SeriesKey

IF = "1.3.6.1.2.1.2.2.1."
IFX = "1.3.6.1.2.1.31.1.1.1."
INTERFACES = 4


class Agent(SnmpClient):
    """Answers GETs and walks from a dict; a walk reads its subtree in numeric OID order,
    as an agent's MIB view is ordered (sorted at the first walk: GET polls, the timed
    part, never sort)."""

    def __init__(self, oids: dict[str, Value]) -> None:
        super().__init__()
        self.values = oids
        self.order: list[str] = []

    def close(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        return {oid: self.values[oid] for oid in oids if oid in self.values}

    async def _walk(self, oid: str, max_repetitions: int, limit: tuple[int, ...] | None
                    ) -> list[tuple[str, Value]]:
        if not self.order:
            self.order = sorted(self.values, key=lambda o: tuple(map(int, o.split("."))))
        prefix = oid + "."
        return [(o, self.values[o]) for o in self.order if o.startswith(prefix)]


def agent_oids(device: int, round_: int) -> dict[str, Value]:
    """What device number ``device`` answers at poll ``round_``: counters grow each round."""
    base = 3_000_000_000 + device * 1_000 + round_ * 100_000
    oids: dict[str, Value] = {
        "1.3.6.1.2.1.1.1.0": b"RouterOS", "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.14988.1",
        "1.3.6.1.2.1.1.3.0": 100_000 + round_ * 6_000, "1.3.6.1.2.1.1.5.0": b"gw"}
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    profiles = load_profiles()
    keys: dict[SeriesKey, SeriesKey] = {}
    parts: LayoutParts = {}
    maps: SlotMaps = {}
    memories = [DeviceMemory(keys=keys, parts=parts, slot_maps=maps)
                for _ in range(args.devices)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for number, memory in enumerate(memories):  # the first poll walks the tables
        await collect(Agent(agent_oids(number, 0)), profiles, "if-mib", f"d{number}", memory,
                      1000.0)
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
    cpu = 0.0
    for round_ in range(1, args.rounds + 1):
        answers = [agent_oids(number, round_) for number in range(args.devices)]
        started = time.process_time()
        for number, memory in enumerate(memories):
            await collect(Agent(answers[number]), profiles, "if-mib", f"d{number}", memory,
                          1000.0 + 60 * round_)
        cpu += time.process_time() - started
    bank_bytes = sum(sys.getsizeof(b.raws) + sys.getsizeof(b.offsets) + sys.getsizeof(b.widths)
                     + sys.getsizeof(b) for b in (m.counters for m in memories)) + sum(
        sys.getsizeof(slots) for slots in maps.values())
    report = {
        "bench": "poller_memory", "devices": args.devices, "counters": counters,
        "memory_bytes_per_device": round(held / args.devices),
        "counter_bytes_per_counter": round(bank_bytes / counters, 1),
        "reference_bytes_per_counter": round(reference_bytes / counters, 1),
        "ratio_vs_reference": round(reference_bytes / bank_bytes, 2),
        "slot_maps": len(maps),
        "cpu_us_per_get_poll": round(cpu / (args.rounds * args.devices) * 1e6, 1),
    }
    print(f"{args.devices:,} devices, {counters:,} counters: the poller keeps "
          f"{report['memory_bytes_per_device']:,} bytes a device; counters "
          f"{report['counter_bytes_per_counter']} bytes each against "
          f"{report['reference_bytes_per_counter']} as a dict of CounterState "
          f"({report['ratio_vs_reference']}x); {report['cpu_us_per_get_poll']} us CPU a GET poll")
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
