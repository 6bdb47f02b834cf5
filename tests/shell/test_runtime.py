"""The runtime starts components together and stops them in reverse order, letting each flush."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from pubnet.app.runtime import ComponentFailed, run_components
from pubnet.signals import stop_on_signals


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
