from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator

import pytest

from simulator import AddressPlan, Fleet
from tests.simulator.support import small_inventory
from tests.support import free_port


def loopback_plan() -> AddressPlan:
    """A plan on a random 127.N.0.0 network and a UDP port free on every address (devices
    sharing a port share one wildcard socket), so parallel test runs and other suites do
    not collide."""
    network = f"127.{random.randint(100, 250)}.0.0"
    return AddressPlan(network, free_port(socket.SOCK_DGRAM, "0.0.0.0"))


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    async with Fleet.from_inventory(small_inventory(), loopback_plan(), seed=7) as running:
        yield running
