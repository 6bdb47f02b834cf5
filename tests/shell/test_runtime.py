"""The runtime starts components together and stops them in reverse order, letting each flush."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from pubnet.app.runtime import ComponentFailed, run_components
from pubnet.signals import StopRequest, stop_on_signals


class Recorder:
    def __init__(self, name: str, log: list[str], flush_delay: float = 0.0,
                 fail_after: float | None = None) -> None:
        self.name = name
        self.log = log
        self.flush_delay = flush_delay
        self.fail_after = fail_after

    async def run(self) -> None:
        self.log.append(f"start {self.name}")
        try:
            if self.fail_after is not None:
                await asyncio.sleep(self.fail_after)
                raise RuntimeError(f"{self.name} broke")
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(self.flush_delay)  # in-flight work finishes after cancel
            self.log.append(f"flushed {self.name}")


async def test_stops_in_reverse_order_after_flushing() -> None:
    log: list[str] = []
    stop = asyncio.Event()
    components = [Recorder("exporter", log, 0.05), Recorder("collector", log, 0.01)]
    runner = asyncio.create_task(run_components(components, stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert log == ["start exporter", "start collector", "flushed collector", "flushed exporter"]


async def test_a_failing_component_stops_the_rest() -> None:
    log: list[str] = []
    stop = asyncio.Event()
    components = [Recorder("ok", log), Recorder("bad", log, fail_after=0.02)]
    with pytest.raises(ExceptionGroup) as info:
        await asyncio.wait_for(run_components(components, stop), 5)
    failed = info.value.exceptions[0]
    assert isinstance(failed, ComponentFailed) and failed.name == "bad"
    assert "bad broke" in str(failed.__cause__)
    assert "flushed ok" in log


async def test_sigterm_sets_stop() -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 2)
    assert stop.is_set()


async def test_the_stop_budget_counts_from_the_signal_not_from_a_busy_loop() -> None:
    """systemd's 10 s start at the signal; a loop busy for 0.5 s must not add 0.5 s."""
    stop = StopRequest()
    with stop_on_signals(stop):
        sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        while time.monotonic() - sent < 0.5:  # the loop is busy: no callback runs
            pass
        await asyncio.wait_for(stop.wait(), 2)
        seen = time.monotonic()
    assert stop.at is not None
    assert stop.at - sent < 0.1
    assert seen - sent >= 0.5


async def test_component_that_ignores_deadline_is_abandoned() -> None:
    log: list[str] = []

    class Stubborn:
        name = "stubborn"

        async def run(self) -> None:
            try:
                await asyncio.Event().wait()
            finally:
                log.append("asked to stop")

    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(run_components([Stubborn()], stop, deadline=0.5), 5)
    assert log == ["asked to stop"]


async def test_collectors_stop_taking_in_together_before_the_rest() -> None:
    """Each collector finishes its in-flight polls after the cancel (0.3 s here): stopped
    one after another, the last would go on taking data in while the first finish."""
    log: list[str] = []
    asked: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    class Collector(Recorder):
        async def run(self) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                asked[self.name] = loop.time()
                await asyncio.sleep(0.3)  # in-flight polls end
                log.append(f"flushed {self.name}")
                raise

    exporter = Recorder("influx", log, 0.01)
    collectors = [Collector("snmp", log), Collector("mqtt", log), Collector("traps", log)]
    stop = asyncio.Event()
    runner = asyncio.create_task(run_components([exporter, *collectors], stop,
                                                intake=collectors))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert max(asked.values()) - min(asked.values()) < 0.1, asked
    assert log[-1] == "flushed influx"
    assert sorted(log[1:-1]) == ["flushed mqtt", "flushed snmp", "flushed traps"]
