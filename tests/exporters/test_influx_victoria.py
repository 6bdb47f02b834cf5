"""The InfluxDB writer against a real VictoriaMetrics (its InfluxDB v2 write endpoint).

VictoriaMetrics names a series ``<measurement>_<field>`` and keeps milliseconds, so the
feeder publishes at distinct millisecond timestamps and the test compares, per series, the
exact set of (timestamp, value) pairs: every point once, none twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from exporters.influx.writer import InfluxWriter
from pubnet.config import InfluxConfig
from pubnet.model import Observation, Source
from pubnet.state import StateStore
from tests.exporters.helpers import small_inventory
from tests.exporters.victoria import Victoria

DEVICES = ("gw1", "ap1", "dist1")
IFNAME = "ge 0/1,ไทย=x"
RADIO = "wlan\n2.4 GHz"
Expected = dict[tuple[str, str], set[tuple[int, float]]]


class Feeder:
    """Publishes 2 series per device every 50 ms and remembers what it published."""

    def __init__(self) -> None:
        self.expected: Expected = {}
        self.n = 0
        self.base = round(time.time(), 3)

    def tick(self, store: StateStore) -> None:
        ts = self.base + self.n * 0.05
        obs = []
        for device in DEVICES:
            obs.append(Observation(device, "pubnet_interface_receive_bytes_total",
                                   1000.0 * self.n, ts, Source.SNMP, (("ifname", IFNAME),)))
            obs.append(Observation(device, "pubnet_ap_clients", float(self.n % 17), ts,
                                   Source.SNMP, (("radio", RADIO),)))
        bad = [Observation("gw1", "pubnet_probe_rtt_seconds", math.nan, ts, Source.ICMP),
               Observation("gw1", "pubnet_probe_rtt_seconds", math.inf, ts, Source.ICMP)]
        store.publish([*obs[:2], *bad, *obs[2:]])  # rejected points amid good ones
        for o in obs:
            key = (o.metric + "_value", device_of(o))
            self.expected.setdefault(key, set()).add((round(ts * 1000), o.value))
        self.n += 1

    async def run(self, store: StateStore, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick(store)
            await asyncio.sleep(0.05)

    @property
    def points(self) -> int:
        return sum(len(v) for v in self.expected.values())


def device_of(obs: Observation) -> str:
    return obs.device


def config(vm: Victoria, tmp_path: Path) -> InfluxConfig:
    return InfluxConfig(url=vm.url, token=SecretStr("t0ken"), org="noc", bucket="pubnet",
                        batch_size=50, flush_interval=0.2, buffer_dir=tmp_path / "buffer",
                        buffer_max_bytes=64 << 20, timeout=2.0)


@contextlib.asynccontextmanager
async def writer_running(store: StateStore, cfg: InfluxConfig) -> AsyncIterator[InfluxWriter]:
    writer = InfluxWriter(store, small_inventory(), cfg, backoff=(0.2, 1.0),
                          stats_interval=None)
    task = asyncio.create_task(writer.run())
    await asyncio.sleep(0)  # let it subscribe, as the runtime starts consumers first
    try:
        yield writer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # flushed, then ends cancelled
            await asyncio.wait_for(task, 30)


async def assert_exactly(vm: Victoria, feeder: Feeder) -> None:
    with contextlib.suppress(AssertionError):
        await vm.wait_for_points(feeder.points, within=60)
    series = await vm.export()
    got: Expected = {}
    for s in series:
        metric = s["metric"]
        key = (metric["__name__"], metric["device"])
        pairs = list(zip(s["timestamps"], s["values"], strict=True))
        assert len(pairs) == len(set(pairs)), f"duplicate points in {key}"
        got.setdefault(key, set()).update(pairs)
        if metric["__name__"] == "pubnet_interface_receive_bytes_total_value":
            assert metric["ifname"] == IFNAME
            assert metric["site"] and metric["province"]
        else:
            assert metric["radio"] == "wlan\\n2.4 GHz", "newline arrives as the two chars \\n"
    missing = {k: sorted(v - got.get(k, set()))[:5] for k, v in feeder.expected.items()
               if v - got.get(k, set())}
    extra = {k: sorted(v - feeder.expected.get(k, set()))[:5] for k, v in got.items()
             if v - feeder.expected.get(k, set())}
    assert not missing and not extra, f"missing {missing} extra {extra}"
    assert got == feeder.expected
    assert sum(len(s["values"]) for s in series) == feeder.points


@pytest.mark.integration
async def test_outage_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    vm = Victoria(tmp_path)
    await vm.start()
    store = StateStore()
    feeder = Feeder()
    try:
        async with writer_running(store, config(vm, tmp_path)) as writer:
            await feeder.run(store, 2.0)
            await vm.wait_for_points(feeder.points // 2, within=60)
            await vm.stop()
            await feeder.run(store, 12.0)  # writes continue while the database is down
            assert writer.buffer.points > 0
            await vm.start()
            await feeder.run(store, 2.0)
            await assert_exactly(vm, feeder)
            assert not writer.buffer
            assert writer.stats.dropped == {"non_finite_value": 2 * feeder.n}
    finally:
        await vm.stop()


@pytest.mark.integration
async def test_restart_while_database_down_still_delivers_buffered_points(
        tmp_path: Path) -> None:
    vm = Victoria(tmp_path)
    await vm.start()
    feeder = Feeder()
    cfg = config(vm, tmp_path)
    try:
        first_store = StateStore()
        async with writer_running(first_store, cfg):
            await feeder.run(first_store, 1.0)
            await vm.wait_for_points(feeder.points // 2, within=60)
            await vm.stop()
            await feeder.run(first_store, 2.0)
        assert list((tmp_path / "buffer").glob("*.lp")), "the stop persisted the backlog"
        # pubnet restarts while the database is still down, then the database returns
        second_store = StateStore()
        async with writer_running(second_store, cfg) as second:
            deadline = time.monotonic() + 30
            while second.buffer.points == 0:  # the backlog of the first run is indexed
                assert time.monotonic() < deadline, "backlog not found after restart"
                await asyncio.sleep(0.05)
            await feeder.run(second_store, 1.0)
            await vm.start()
            await feeder.run(second_store, 1.0)
            await assert_exactly(vm, feeder)
    finally:
        await vm.stop()
