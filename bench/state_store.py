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
  Prometheus exposition renders a changed device;
- **subscribed ns/poll**: a poll's ``set_status`` with its observations into a store with
  ``pubnet run``'s subscribers (Influx: everything; alerting, the history and Prometheus'
  poll durations: their metrics; three of attempts only), queues drained between rounds;
  the polls as the SNMP poller orders them, and (``zeros_between``) as it ordered them
  before session 15, in the same run. With ``--against REV`` the store at git revision
  ``REV`` is timed too, round for round, and the ratio is old over new.

    .venv/bin/python bench/state_store.py --devices 5000
    .venv/bin/python bench/state_store.py --devices 20000 --against HEAD~1

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
from at_revision import module_at

from alerting.intake import INTAKE_METRICS
from collectors.identity import attempt_batch, status_observations
from exporters.prometheus.health import POLL_DURATION_SOURCE
from pubnet.catalog import DEVICE_INFO, DEVICE_POLL_DURATION, DEVICE_POLL_STATUS, DEVICE_UP
from pubnet.derive import OPER_UP
from pubnet.model import Labels, Observation, PollStatus, SeriesKey, Source
from pubnet.state import StateStore

STATUS_SERIES = frozenset({DEVICE_UP, DEVICE_POLL_STATUS, DEVICE_POLL_DURATION, DEVICE_INFO})
"""What a collector adds to what it read (:func:`collector_poll`)."""


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


def subscribed(store: StateStore) -> tuple[StateStore, Callable[[], None]]:
    """``store`` with the subscribers ``pubnet run`` has, and a function emptying them."""
    subs = [store.subscribe("influxdb", 1 << 40),
            store.subscribe("alerting", 1 << 40, metrics=INTAKE_METRICS),
            store.subscribe("history", 1 << 40, metrics=(OPER_UP,)),
            store.subscribe("prometheus-poll-durations", 1 << 40,
                            metrics=(POLL_DURATION_SOURCE,)),
            *(store.subscribe(name, 1 << 40, metrics=())
              for name in ("mqtt-state", "status-page", "startup"))]

    def empty() -> None:
        for sub in subs:
            sub.drain()
    return store, empty


def collector_poll(device: str, site: str,
                   kind: list[tuple[str, list[tuple[str, str]], float]], ts: float,
                   changed: bool, zeros_between: bool = False) -> list[Observation]:
    """One poll as the SNMP poller hands it to ``set_status``: what it read, then its
    statuses, duration and info in :func:`~collectors.identity.attempt_batch`'s order
    (every status only when it ``changed``). With ``zeros_between``, in the order before
    session 15: a change's zeros right after the ok status, where no steady poll was
    found in the store's order (the sample exposition holds every status at every poll,
    so this bench never saw it)."""
    observations = series_memory.poll(device, site, kind, ts)
    read = [o for o in observations if o.metric not in STATUS_SERIES]
    every_time = [o for o in observations if o.metric in (DEVICE_POLL_DURATION, DEVICE_INFO)]
    up_labels = next(o.labels for o in observations if o.metric == DEVICE_UP)
    statuses = status_observations(device, PollStatus.OK, ts, Source.SNMP, up_labels,
                                   changed=changed)
    if zeros_between:
        return read + statuses + every_time
    return attempt_batch(read, statuses, every_time)


def subscribed_figures(plan: Plan, rounds: int, against: str | None) -> dict[str, float]:
    """ns per poll of ``set_status`` with observations into a subscribed store (and the
    store at ``against``), the polls in the poller's order and in the order before."""
    stores = {"new": (subscribed(StateStore()), False),
              "zeros_between": (subscribed(StateStore()), True)}
    if against:
        old: type[StateStore] = module_at("pubnet/state.py", against).StateStore
        stores = {"old": (subscribed(old()), False), **stores}
    polls = {order: [[(device, collector_poll(device, site, kind, 1_700_000_000.0,
                                              changed, order))
                      for device, site, kind in plan] for changed in (True, False)]
             for order in (False, True)}
    times: dict[str, list[float]] = {name: [] for name in stores}
    ok, snmp = PollStatus.OK, Source.SNMP
    for n in range(rounds + 1):  # the first round adds the series, every status changed
        for name, ((store, empty), order) in stores.items():
            gc.collect()
            started = time.process_time()
            for device, observations in polls[order][n > 0]:
                store.set_status(device, ok, 1_700_000_000.0 + n, snmp,
                                 observations=observations)
            spent = time.process_time() - started
            empty()
            if n:
                times[name].append(spent / len(plan) * 1e9)
    out = {f"subscribed_{name}_ns_per_poll": round(min(t), 1) for name, t in times.items()}
    out["zeros_between_ratio"] = round(min(times["zeros_between"]) / min(times["new"]), 2)
    if against:
        out["subscribed_ratio"] = round(min(times["old"]) / min(times["new"]), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", metavar="REV",
                        help="also time the subscribed store at this git revision")
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
    figures = subscribed_figures(plan, args.rounds, args.against)
    print("subscribed:", ", ".join(f"{k} {v}" for k, v in figures.items()))
    report.update(figures)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
