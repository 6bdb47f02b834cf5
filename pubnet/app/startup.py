"""One log line for the first round instead of one per device.

At national scale ``pubnet run`` hears from ~63,000 devices in its first minute; a line per
device (as the collectors used to write) buries everything else. The collectors now log a
device's first status at debug, and this component waits until every inventory device has
one -- or the first round's deadline passes -- and then logs the round once at info::

    first round: 62,917 devices up, 83 not answering (gw-00017, ...)

Later changes (a device going down, coming back) are still logged by the collectors, once
per change.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pubnet.model import PollStatus
from pubnet.state import StateStore

if TYPE_CHECKING:
    from inventory.model import Inventory
    from pubnet.config import Config

log = logging.getLogger("pubnet.startup")

EXAMPLES = 10
"""Device ids named in the summary line for the devices that did not answer."""


@dataclass(frozen=True, slots=True)
class FirstRound:
    """How the first round went: devices up, not answering, and not heard from yet."""

    up: int
    down: list[str]
    silent: int
    seconds: float

    def line(self) -> str:
        devices = "device" if self.up == 1 else "devices"
        text = f"first round: {self.up:,} {devices} up, {len(self.down):,} not answering"
        if self.down:
            shown = ", ".join(self.down[:EXAMPLES])
            more = ", ..." if len(self.down) > EXAMPLES else ""
            text += f" ({shown}{more})"
        if self.silent:
            text += f", {self.silent:,} not heard from yet"
        return text


def first_round_deadline(config: Config, inventory: Inventory, margin: float = 5.0) -> float:
    """Seconds by which every device should have a first status: the longest first
    interval of any collector in use plus what its last attempt may take."""
    snmp, icmp, mqtt = config.snmp, config.icmp, config.mqtt
    longest = 0.0
    for device in inventory.devices.values():
        if device.profile == "icmp":
            wait = icmp.interval + icmp.count * (icmp.timeout + icmp.spacing)
        elif device.profile == "mqtt":
            wait = mqtt.heartbeat_interval * (mqtt.down_after_missed + 1)
        else:
            wait = (snmp.interval_by_role.get(str(device.role), snmp.interval)
                    + snmp.timeout * (snmp.retries + 1))
        longest = max(longest, wait)
    return longest + margin


def count_first_round(store: StateStore, devices: Collection[str], seconds: float) -> FirstRound:
    """Tally the devices' statuses now (one pass; called once)."""
    statuses = store.statuses()
    up = silent = 0
    down: list[str] = []
    for device in devices:
        state = statuses.get(device)
        if state is None or state.status is None:
            silent += 1
        elif state.status is PollStatus.OK:
            up += 1
        else:
            down.append(device)
    return FirstRound(up, sorted(down), silent, seconds)


GC_THRESHOLDS = (50_000, 20, 100)
"""Young collections every 50,000 net new objects (not 700), a full one after 100 of the
middle generation's (not 10)."""


def tune_gc() -> None:
    """Keep the cyclic garbage collector from stalling the event loop at fleet scale.

    At 50,000 devices its full collections walked ~3 M long-lived objects (inventory,
    topology, every device's poll state and counters) every ~7 s, 1.5-2.5 s each: polls
    late, scrapes and SIGTERM waiting behind them. What exists after the first round lives
    as long as the process, so it is frozen out of the collector's sight (refcounting still
    frees it; only a cycle among those objects would stay), and the thresholds are raised so
    that the observations queued for subscribers, which survive a few young collections
    before they are consumed, do not trigger a full collection every two seconds.

    Called when the components start (the inventory, topology and config loaded are
    long-lived already), after the first round (the poll state it built), and once more
    when the devices the round had not heard from have answered, or a deadline later
    (theirs). Tuned only after the first round, the collector walked the growing state
    during that round: at 50,000 devices a pause every ~3.5 s that grew from 0.3 to 1.1 s,
    while the round itself was the backlog the poller had to drain.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class StartupSummary:
    """A component that logs :class:`FirstRound` once, freezes the long-lived state for
    the garbage collector (:func:`tune_gc`), then idles until cancelled.

    It follows the store's status changes (a subscription without observations) to know
    when every device has been heard from, and drops them once all have, or a second
    deadline after the summary has passed.
    """

    name = "startup-summary"

    def __init__(self, store: StateStore, devices: Collection[str], deadline: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.devices = devices
        self.deadline = deadline
        """Seconds after start when the summary is logged even if some devices are silent."""
        self.clock = clock
        self.summary: FirstRound | None = None
        self.ready = asyncio.Event()
        # Subscribed here, before any collector runs, so that no first status is missed.
        self._changes = store.subscribe(self.name, metrics=())

    async def run(self) -> None:
        self.ready.set()
        try:
            if self.devices:
                tune_gc()
                started = self.clock()
                wanted = set(self.devices)
                statuses = self.store.statuses()
                heard = {d for d in wanted
                         if d in statuses and statuses[d].status is not None}
                await self._hear(wanted, heard)
                self.summary = count_first_round(self.store, self.devices,
                                                 self.clock() - started)
                log.info("%s", self.summary.line(), extra={
                    "up": self.summary.up, "not_answering": len(self.summary.down),
                    "not_heard": self.summary.silent,
                    "seconds": round(self.summary.seconds, 1)})
                tune_gc()
                if len(heard) < len(wanted):
                    # The round's stragglers build their poll state after that freeze (at
                    # 100,000 devices on a busy loop, a third of the devices: ~500,000
                    # objects that every middle collection walked, 0.6-0.9 s each time).
                    await self._hear(wanted, heard)
                    tune_gc()
                    log.debug("late devices' state frozen",
                              extra={"heard": len(heard), "devices": len(wanted)})
        finally:
            self.store.unsubscribe(self._changes)
        await asyncio.Event().wait()

    async def _hear(self, wanted: set[str], heard: set[str]) -> None:
        """Add to ``heard`` the devices of ``wanted`` whose first status comes within the
        deadline."""
        try:
            async with asyncio.timeout(self.deadline):
                while len(heard) < len(wanted):
                    batch = await self._changes.get()
                    heard.update(c.device for c in batch.status_changes if c.device in wanted)
        except TimeoutError:
            pass  # summarise what there is; the silent ones are counted as such
