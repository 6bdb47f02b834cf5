"""The ``status`` component: follows device statuses in the state store and contributes the
status page and its API to pubnet's one HTTP listener.

It subscribes to status changes only (no observations), feeds them to
:class:`~dashboards.status.fleet.FleetStatus`, and yields to the loop between slices of a
large burst, so a national outage never holds polling up. Its subscription may lose batches
when it falls behind (the store never waits for a reader); the loss is noticed and the
counts are rebuilt from the store's statuses, so the page never shows a stale count for
longer than one burst.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiohttp import web

from dashboards.status.api import OperatorCheck, StatusApi
from dashboards.status.fleet import FleetStatus
from dashboards.status.service import StatusService
from inventory.model import Inventory
from pubnet.derive import Derivation
from pubnet.incidents import IncidentSource
from pubnet.state import StateStore, Subscription

log = logging.getLogger("pubnet.status")

SUBSCRIBER_NAME = "status-page"
SLICE = 500
"""Status changes applied before giving the loop a turn (~15 µs each: ~8 ms a slice)."""


class StatusPage:
    """The ``status`` component (see the module docstring)."""

    name = "status"

    def __init__(self, store: StateStore, inventory: Inventory, *,
                 incidents: IncidentSource | None = None,
                 operators: OperatorCheck | None = None, poll_interval: float = 60.0,
                 clock: Callable[[], float] = time.time,
                 derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared with the other
        components (built here when not given)."""
        self.store = store
        self.fleet = FleetStatus(inventory, derivation)
        self.service = StatusService(self.fleet, store, incidents,
                                     poll_interval=poll_interval,
                                     can_acknowledge=operators is not None, clock=clock)
        self.api = StatusApi(self.service, operators)
        self.clock = clock
        self.resyncs = 0
        self.ready = asyncio.Event()
        """Set once the counts follow the store."""

    def routes(self) -> list[web.RouteDef]:
        """What this part serves on the shell's HTTP listener."""
        return self.api.routes()

    async def run(self) -> None:
        # subscribe before reading the statuses, so no change falls between the two
        sub = self.store.subscribe(SUBSCRIBER_NAME, metrics=())
        try:
            self.fleet.sync(self.store.statuses(), self.clock())
            self.ready.set()
            await self._follow(sub)
        finally:
            self.ready.clear()
            self.store.unsubscribe(sub)

    async def _follow(self, sub: Subscription) -> None:
        fleet = self.fleet
        dropped = sub.dropped
        applied = 0
        async for batch in sub:
            for change in batch.status_changes:
                fleet.set_device(change.device, change.status, change.ts)
                applied += 1
                if applied >= SLICE:
                    applied = 0
                    await asyncio.sleep(0)
            if sub.dropped != dropped:
                # what is still queued is older than the store: drop it and read the store
                sub.drain()
                dropped = sub.dropped
                corrected = fleet.sync(self.store.statuses(), self.clock())
                self.resyncs += 1
                log.info("status page caught up after lost changes",
                         extra={"corrected_devices": corrected})
