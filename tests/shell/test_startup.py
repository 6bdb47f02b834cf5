"""The first round at start-up is one log line, not one per device (issue 10, item 13)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
from collections.abc import AsyncIterator

import pytest

from pubnet.app.startup import GC_THRESHOLDS, StartupSummary
from pubnet.logs import setup_logging
from pubnet.model import PollStatus, Source
from pubnet.state import StateStore
from tests.support import eventually


async def test_one_line_when_every_device_has_a_first_status() -> None:
    out = io.StringIO()
    setup_logging("info", "kv", stream=out)
    store = StateStore()
    devices = [f"gw-{n:05d}" for n in range(1200)]
    summary = StartupSummary(store, devices, deadline=30)
    task = asyncio.create_task(summary.run())
    await asyncio.sleep(0)
    for n, device in enumerate(devices):
        status = PollStatus.TIMEOUT if n % 100 == 7 else PollStatus.OK
        store.set_status(device, status, 1.0, Source.SNMP)
    await eventually(lambda: summary.summary is not None, 5, "the summary")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert "first round: 1,188 devices up, 12 not answering (gw-00007, gw-00107," in lines[0]
    assert "up=1188 not_answering=12 not_heard=0" in lines[0]
    assert store.subscriber_stats() == []  # the subscription is gone after the round


async def test_deadline_counts_the_silent() -> None:
    out = io.StringIO()
    setup_logging("info", "kv", stream=out)
    store = StateStore()
    summary = StartupSummary(store, ["a", "b", "c"], deadline=0.2)
    store.set_status("a", PollStatus.OK, 1.0, Source.ICMP)
    task = asyncio.create_task(summary.run())
    await eventually(lambda: summary.summary is not None, 5, "the summary")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "first round: 1 device up, 0 not answering, 2 not heard from yet" in out.getvalue()


def test_first_status_is_debug_in_the_collectors() -> None:
    """The SNMP poller logs a device's first status at debug, once."""
    from collectors.snmp.poller import SnmpPoller
    from inventory.model import Device, Inventory, Role
    from pubnet.config import parse_config

    out = io.StringIO()
    setup_logging("debug", "kv", stream=out)
    inv = Inventory()
    inv.devices["core-1"] = Device("core-1", "", Role.CORE, "127.0.0.1", 9, "router", "v2", "")
    config = parse_config({"credentials": {"v2": {"version": "2c", "community": "x"}},
                           "snmp": {"timeout": "100ms", "retries": 0}})
    poller = SnmpPoller(config, inv, StateStore())
    run = poller.runs["core-1"]

    async def polls() -> None:
        await poller.poll_and_publish(run)  # first status: timeout
        await poller.poll_and_publish(run)  # no change: nothing

    asyncio.run(polls())
    lines = [x for x in out.getvalue().splitlines() if "logger=pubnet.snmp" in x]
    assert len(lines) == 1, lines
    assert "level=debug" in lines[0] and 'msg="device first status" device=core-1' in lines[0]


@contextlib.asynccontextmanager
async def summary_running(devices: list[str], deadline: float
                          ) -> AsyncIterator[tuple[StateStore, StartupSummary]]:
    """A :class:`StartupSummary` running over a fresh store, with the collector as a
    process starts it (nothing frozen, default thresholds), and put back after."""
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    store = StateStore()
    summary = StartupSummary(store, devices, deadline=deadline)
    task = asyncio.create_task(summary.run())
    try:
        yield store, summary
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_the_long_lived_state_leaves_the_gc_at_start_and_after_the_first_round(
        ) -> None:
    """Full collections over millions of long-lived objects stalled the loop for seconds
    at 50,000 devices. When the components start, what the setup loaded is frozen and the
    thresholds are raised (tuned only after the first round, the collector paused the loop
    ~1 s every few seconds during that round); after the round, what it built is frozen
    too."""
    async with summary_running(["a"], deadline=30) as (store, summary):
        await asyncio.sleep(0)
        at_start = gc.get_freeze_count()
        assert at_start > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        built = [[n] for n in range(1000)]  # the first round's poll state, say
        store.set_status("a", PollStatus.OK, 1.0, Source.SNMP)
        await eventually(lambda: summary.summary is not None)
        assert gc.get_freeze_count() >= at_start + len(built)
        assert gc.get_threshold() == GC_THRESHOLDS


async def test_the_state_of_devices_heard_after_the_first_round_leaves_the_gc_too(
        ) -> None:
    """On a busy loop a third of 100,000 devices were first heard from after the round's
    summary: their poll state (~500,000 objects) was built after the freeze, and every
    middle collection walked it (0.6-0.9 s each time). Once the stragglers are heard from,
    what they built is frozen too."""
    async with summary_running(["a", "b"], deadline=0.3) as (store, summary):
        store.set_status("a", PollStatus.OK, 1.0, Source.SNMP)
        await eventually(lambda: summary.summary is not None)
        assert summary.summary is not None and summary.summary.silent == 1
        after_round = gc.get_freeze_count()
        late = [[n] for n in range(1000)]  # the straggler's poll state, say
        await asyncio.sleep(0.05)  # well inside the second deadline (0.3 s)
        # (frozen objects that die leave the count: it may shrink meanwhile)
        assert gc.get_freeze_count() < after_round + len(late), "frozen before it is heard"
        store.set_status("b", PollStatus.OK, 2.0, Source.SNMP)
        await eventually(lambda: gc.get_freeze_count() >= after_round + len(late))
