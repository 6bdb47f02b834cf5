"""The state store on its own: bytes per series, and CPU per published series and per lookup.

A fleet of ``--devices`` devices in the generator's mix (the series a real poll of each
kind produces, as ``bench/series_memory.py`` builds them: label tuples and strings new for
every poll) is published to a :class:`~pubnet.state.StateStore`, and, as the reference, to
the simplest store that could work: a dict per device of series key to
:class:`~pubnet.model.Observation` (what pubnet's store was before issue 15).

- **bytes/series**: what each keeps after two polls (tracemalloc, polls' garbage gone);
- **publish ns/series**: a steady poll (every series known), best of ``--rounds``;
- **lookup ns**: ``latest(device, metric, labels)`` of the device-info series, as the SNMP
  poller does once per poll;
- **read ns/series**: ``device_series(device).values_by_key()`` over every device, as the
  Prometheus exposition renders a changed device.

    .venv/bin/python bench/state_store.py --devices 5000

The last line is one JSON object; ratios are the reference's time over the store's.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import series_memory

from pubnet.catalog import DEVICE_INFO
from pubnet.model import Labels, Observation, SeriesKey
from pubnet.state import StateStore


class Reference:
    """A dict per device of key to observation: the store at its simplest."""

    def __init__(self) -> None:
        self.series: dict[str, dict[SeriesKey, Observation]] = {}

    def publish(self, observations: Sequence[Observation]) -> None:
        series = self.series
        for obs in observations:
            per_device = series.get(obs.device)
            if per_device is None:
                per_device = series[obs.device] = {}
            per_device[(obs.metric, obs.labels)] = obs

    def latest(self, device: str, metric: str, labels: Labels) -> Observation | None:
        return self.series[device].get((metric, labels))

    def values(self, device: str) -> list[tuple[SeriesKey, float]]:
        return [(key, obs.value) for key, obs in self.series[device].items()]


Plan = list[tuple[str, str, list[tuple[str, list[tuple[str, str]], float]]]]


def fleet(devices: int) -> Plan:
    kinds = series_memory.templates()
    plan: Plan = []
    for index in range(devices):
        share = (index % 100) / 100
        kind = "ap" if share < 0.47 else "gw" if share < 0.78 else "da"
        site = f"S-{index // 3:05d}"
        plan.append((f"{site}-{kind}{index % 3}", site, kinds[kind]))
    return plan


def traced_bytes(fill: Callable[[], object]) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = fill()
    gc.collect()
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return size, held


def best(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    plan = fleet(args.devices)

    def fill(store: StateStore | Reference) -> StateStore | Reference:
        for ts in (1_700_000_000.0, 1_700_000_060.0):
            for device, site, series in plan:
                store.publish(series_memory.poll(device, site, series, ts))
        return store

    store_bytes, held = traced_bytes(lambda: fill(StateStore()))
    assert isinstance(held, StateStore)
    store = held
    ref_bytes, held = traced_bytes(lambda: fill(Reference()))
    assert isinstance(held, Reference)
    ref = held
    series = store.series_count()
    poll = [series_memory.poll(device, site, kind, 1_700_000_120.0)
            for device, site, kind in plan]
    infos = [next(o for o in observations if o.metric == DEVICE_INFO)
             for observations in poll]
    devices = [device for device, _, _ in plan]

    def publish(target: StateStore | Reference) -> Callable[[], None]:
        def run() -> None:
            for observations in poll:
                target.publish(observations)
        return run

    def lookups(target: StateStore | Reference) -> Callable[[], None]:
        def run() -> None:
            latest = target.latest
            for obs in infos:
                latest(obs.device, obs.metric, obs.labels)
        return run

    def read_store() -> None:
        for device in devices:
            for _ in store.device_series(device).values_by_key():
                pass

    def read_ref() -> None:
        for device in devices:
            for _ in ref.values(device):
                pass

    gc.disable()
    timing = {
        "publish": (best(args.rounds, publish(store)), best(args.rounds, publish(ref))),
        "lookup": (best(args.rounds, lookups(store)), best(args.rounds, lookups(ref))),
        "read": (best(args.rounds, read_store), best(args.rounds, read_ref)),
    }
    gc.enable()
    report: dict[str, object] = {
        "devices": args.devices, "series": series,
        "store_bytes_per_series": round(store_bytes / series, 1),
        "reference_bytes_per_series": round(ref_bytes / series, 1),
    }
    print(f"{series:,} series of {args.devices:,} devices")
    print(f"{'bytes/series':<22} store {store_bytes / series:8.1f}   "
          f"reference {ref_bytes / series:8.1f}")
    for what, (mine, theirs) in timing.items():
        per = len(infos) if what == "lookup" else series
        unit = "ns/lookup" if what == "lookup" else "ns/series"
        report[f"{what}_ns"] = round(mine / per * 1e9, 1)
        report[f"{what}_reference_ns"] = round(theirs / per * 1e9, 1)
        report[f"{what}_ratio"] = round(theirs / mine, 2)
        print(f"{what + ' ' + unit:<22} store {mine / per * 1e9:8.1f}   "
              f"reference {theirs / per * 1e9:8.1f}   ratio {theirs / mine:5.2f}x")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
