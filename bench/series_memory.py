"""Bytes per series, by holder: the state store, the Prometheus render cache, the Influx encoder.

A fleet of ``--devices`` devices in the generator's mix (47 % access points, 31 % site
gateways, 22 % district and provincial routers) publishes the series a real poll of each
kind produces (taken from ``pubnet poll --format prom`` against the fleet simulator: 47, 54
and 95 series, interface and radio labels, per-device info labels), twice, with label tuples
and strings built afresh for every poll as the collectors build them. tracemalloc then
measures what each holder keeps, after garbage from the polls is gone:

- **store**: ``StateStore`` after two polls;
- **exposition**: ``FleetExposition`` after a refresh and a gzip and a plain encode;
- **influx**: the ``LineEncoder`` after encoding both polls (its caches).

    .venv/bin/python bench/series_memory.py --devices 50000

Prints bytes per series for each and in all; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporters.influx.lineproto import LineEncoder
from exporters.prometheus.exposition import FleetExposition, Format
from pubnet.model import Observation, Source
from pubnet.state import StateStore

SAMPLE = Path(__file__).with_name("series_sample.prom")
LINE = re.compile(r'^(\w+)\{device="([^"]*)"((?:,\w+="[^"]*")*)\} (\S+)$')
PAIR = re.compile(r',(\w+)="([^"]*)"')
MIX = (("ap", 0.47), ("gw", 0.31), ("da", 0.22))


def templates() -> dict[str, list[tuple[str, list[tuple[str, str]], float]]]:
    """Series of one device of each kind; the device's own name in label values is a
    placeholder (``{dev}``), as are its site and district codes."""
    out: dict[str, list[tuple[str, list[tuple[str, str]], float]]] = {}
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        metric, device, labels, value = match.groups()
        kind = "ap" if device.endswith("-ap1") else "gw" if device.endswith("-gw") else "da"
        pairs = [(k, v.replace(device, "{dev}").replace("S-1019-0001", "{site}"))
                 for k, v in PAIR.findall(labels)]
        out.setdefault(kind, []).append((metric, pairs, float(value)))
    return out


def poll(device: str, site: str, series: list[tuple[str, list[tuple[str, str]], float]],
         ts: float) -> list[Observation]:
    """One poll's observations, label tuples and strings new, as a collector builds them."""
    return [Observation(device, metric,
                        value + ts % 7, ts, Source.SNMP,
                        tuple((k, "".join(v.replace("{dev}", device).replace("{site}", site)))
                              for k, v in pairs))
            for metric, pairs, value in series]


def traced(what: str, results: dict[str, float], work: object) -> None:
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    assert callable(work)
    work()
    gc.collect()
    results[what] = tracemalloc.get_traced_memory()[0] - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=50_000)
    args = parser.parse_args()
    kinds = templates()
    plan = []
    for index in range(args.devices):
        share = (index % 100) / 100
        kind = "ap" if share < MIX[0][1] else "gw" if share < MIX[0][1] + MIX[1][1] else "da"
        site = f"S-{index // 3:05d}"
        plan.append((f"{site}-{kind}{index % 3}", site, kinds[kind]))
    tracemalloc.start()
    store = StateStore()
    results: dict[str, float] = {}

    def fill() -> None:
        for ts in (1_700_000_000.0, 1_700_000_060.0):
            for device, site, series in plan:
                store.publish(poll(device, site, series, ts))

    traced("store", results, fill)
    series = store.series_count()
    exposition = FleetExposition(store)
    started = time.perf_counter()

    def render() -> None:
        exposition.render_sync(Format.TEXT, gzip=True)
        exposition.render_sync(Format.TEXT, gzip=False)

    traced("exposition", results, render)
    render_s = time.perf_counter() - started
    encoder = LineEncoder({})

    def encode() -> None:
        for ts in (1_700_000_120.0, 1_700_000_180.0):
            for device, site, kind in plan:
                observations = poll(device, site, kind, ts)
                if hasattr(encoder, "encode_into"):
                    encoder.encode_into(observations, [])
                else:  # before the batch form
                    for obs in observations:
                        encoder.encode(obs)

    traced("influx", results, encode)
    tracemalloc.stop()
    report: dict[str, object] = {"devices": args.devices, "series": series}
    for what, size in results.items():
        report[f"{what}_bytes_per_series"] = round(size / series)
        print(f"{what:<12} {size / 1e6:8.1f} MB  {size / series:6.0f} bytes/series")
    total = sum(results.values())
    report["total_bytes_per_series"] = round(total / series)
    report["render_s"] = round(render_s, 2)
    print(f"{'total':<12} {total / 1e6:8.1f} MB  {total / series:6.0f} bytes/series "
          f"({series:,} series)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
