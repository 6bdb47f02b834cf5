"""Thousands of simulated devices in one process: all bind, all answer a poll round."""

from __future__ import annotations

import asyncio
import time

import pytest

from inventory.generate import generate
from simulator import Fleet
from tests.simulator.conftest import loopback_plan

pytestmark = pytest.mark.integration


async def test_a_generated_fleet_answers_every_device() -> None:
    from gufo.snmp.aio.client import SnmpSession

    inventory = generate(sites=600, seed=5)
    fleet = Fleet.from_inventory(inventory, loopback_plan(), seed=5)
    assert len(fleet.devices) > 1500
    started = time.monotonic()
    async with fleet:
        bound = time.monotonic() - started
        limit = asyncio.Semaphore(200)

        async def poll(device_id: str) -> bytes:
            host, port = fleet.address_of(device_id)
            async with limit, SnmpSession(addr=host, port=port, community="public",
                                          timeout=5) as session:
                values = await session.get_many(["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"])
                walk = [v async for _, v in session.getbulk("1.3.6.1.2.1.31.1.1.1.1")]
            assert len(walk) == len(fleet.device(device_id).interfaces)
            value = values["1.3.6.1.2.1.1.5.0"]
            assert isinstance(value, bytes)
            return value

        polled = time.monotonic()
        names = await asyncio.gather(*(poll(d) for d in fleet.devices))
        round_time = time.monotonic() - polled
    assert [n.decode() for n in names] == list(fleet.devices)
    assert fleet.agent.stats.dropped.total() == 0
    # Generous bounds for a loaded 2-core machine; the point is seconds, not minutes.
    assert bound < 60 and round_time < 60, (bound, round_time)
