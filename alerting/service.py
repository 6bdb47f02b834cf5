"""The alerting component: state store in, incidents and outbox messages out.

One loop owns all alerting state. Each cycle it drains every batch waiting in its store
subscription (so a storm is one cycle, not thousands) into the :class:`~alerting.intake.Intake`
(attempt records and readings become down sets and conditions), reconciles incidents against
the topology, steps each incident's lifecycle (group wait, announce, repeat, escalate,
resolve, maintenance), and has :class:`~alerting.persist.Persistence` write the changed
incidents and the messages they cause to SQLite in one transaction *before* handing the
messages to the channel workers. Acknowledgements and maintenance windows written by the CLI
are read back from the database every tick, beside the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from alerting.budget import Budgets
from alerting.channels import Sender, build_senders
from alerting.compose import Composer
from alerting.correlate import OUTAGE_KINDS, Correlator
from alerting.db import AsyncIncidentDB, OutboxRow, format_incident_id
from alerting.delivery import Delivery
from alerting.digest import Gate
from alerting.impact import AlertTopology
from alerting.intake import INTAKE_METRICS, Intake
from alerting.messages import MessageBuilder
from alerting.metrics import alerting_observations
from alerting.model import Incident, MaintenanceWindow, Outgoing, State
from alerting.oncall import Oncall
from alerting.persist import Acknowledgement, Persistence
from alerting.power import PowerCuts
from alerting.routing import advance
from inventory.model import Inventory
from inventory.topology import Topology
from pubnet.config import AlertChannel, AlertingConfig, MqttConfig
from pubnet.derive import Derivation
from pubnet.state import StateStore, Subscription

log = logging.getLogger("pubnet.alerting")

SUBSCRIBER_NAME = "alerting"


@dataclass(slots=True)
class AlertingStats:
    """What the demo and the tests wait for; the NOC's figures are the metrics."""

    incidents_opened: int = 0
    messages_queued: int = 0


class AlertingService:
    """The ``alerting`` component (see the module docstring)."""

    name = "alerting"

    def __init__(
        self,
        config: AlertingConfig,
        inventory: Inventory,
        topology: Topology,
        store: StateStore,
        *,
        broker: MqttConfig | None = None,
        senders: Mapping[str, Sender] | None = None,
        clock: Callable[[], float] = time.time,
        on_handed: Callable[[list[OutboxRow]], None] | None = None,
        oncall: Oncall | None = None,
        personal_channels: Mapping[str, AlertChannel] | None = None,
        derivation: Derivation | None = None,
    ) -> None:
        """``derivation``: the app's index of ``inventory``, shared with the other
        components (built by the readings' watch when not given)."""
        self.config = config
        self.inventory = inventory
        self.store = store
        self.clock = clock
        self.broker = broker or MqttConfig()
        self._injected_senders = dict(senders) if senders is not None else None
        self._on_handed = on_handed
        self._personal_channels = dict(personal_channels or {})
        """One channel per technician the ``oncall`` target reaches (:mod:`alerting.oncall`)."""
        self.topology = AlertTopology(inventory, topology)
        self.builder = MessageBuilder(self.topology, config.sites_in_payload, config.map_url)
        self.gate = Gate(config.digest_after, config.digest_window, Budgets(config),
                         config.status_url)
        self.composer = Composer(self.topology, self.builder, config.routes, self.gate, oncall)
        self._next_number = 0
        power = config.power
        self.correlator = Correlator(self.topology, self._new_id, PowerCuts(
            self.topology, power.window, power.min_sites) if power is not None else None)
        self.intake = Intake(config, inventory, self.correlator, clock, derivation)
        self.windows: list[MaintenanceWindow] = []
        self.stats = AlertingStats()
        self.delivery: Delivery | None = None
        self.ready = asyncio.Event()
        """Set once open incidents are restored and the store is followed."""
        self._cycle_done = asyncio.Event()
        self._db: AsyncIncidentDB | None = None
        self._read: tuple[list[Acknowledgement], list[MaintenanceWindow]] | None = None
        """What :meth:`_read_cli_writes` read last, until a cycle applies it."""

    # -- ids -------------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._next_number += 1
        self.stats.incidents_opened += 1
        return format_incident_id(self._next_number)

    # -- component -------------------------------------------------------------------------

    async def run(self) -> None:
        # Follow the store before the first await. The collectors start beside this
        # component, and what they publish while the database opens and the incidents are
        # restored would be lost to alerting: a gateway's last will, retained by the broker,
        # arrives milliseconds after connecting and is published once.
        with self.store.subscription(SUBSCRIBER_NAME, metrics=INTAKE_METRICS) as sub:
            async with AsyncIncidentDB(self.config.database) as db:
                self._db = db
                try:
                    await self._serve(db, sub)
                finally:
                    self._db = None

    async def _serve(self, db: AsyncIncidentDB, sub: Subscription) -> None:
        persistence = Persistence(db, self.config.database, self.gate,
                                  self.correlator.power)
        senders = self._injected_senders if self._injected_senders is not None else (
            build_senders({**self.config.channels, **self._personal_channels}, self.broker))
        delivery = Delivery(db, senders,
                            initial_backoff=self.config.delivery.initial_backoff,
                            max_backoff=self.config.delivery.max_backoff, clock=self.clock)
        self.delivery = delivery
        await self._restore(persistence, delivery)
        self.ready.set()
        async with asyncio.TaskGroup() as group:
            group.create_task(delivery.run(), name="alerting-delivery")
            group.create_task(self._loop(sub, persistence, delivery), name="alerting-loop")
            group.create_task(self._read_cli_writes(persistence), name="alerting-reads")

    async def wait_cycle(self) -> None:
        """Wait for the end of the next processing cycle (tests)."""
        self._cycle_done.clear()
        await self._cycle_done.wait()

    async def _restore(self, persistence: Persistence, delivery: Delivery) -> None:
        now = self.clock()
        resumed = await persistence.resume(now)
        self._next_number = resumed.last_number
        self.intake.restore(resumed.live, now)
        queued = await delivery.load()
        self.windows = resumed.windows
        log.info("alerting restored", extra={
            "open_incidents": sum(1 for i in resumed.live if i.is_open),
            "undelivered_messages": queued, "database": str(self.config.database)})

    async def _loop(self, sub: Subscription, persistence: Persistence,
                    delivery: Delivery) -> None:
        tick = self.config.tick
        next_tick = 0.0
        while True:
            try:
                batches = await sub.get_all(tick)
            except EOFError:
                return
            now = self.clock()
            for batch in batches:
                self.intake.ingest(batch)
            self._apply_read(persistence)
            periodic = now >= next_tick
            if periodic:
                next_tick = now + tick
            # Not shielded: a stop that cancels the cycle during its save leaves the
            # transaction to the database's one thread, which commits it before it closes
            # the file; the outbox rows are delivered after the restart. (A shield ran the
            # cycle as a task of its own: two more loop turns before every message.)
            await self.cycle(now, persistence, delivery, step_all=periodic)
            if periodic:
                self.publish_metrics(now)
            self._cycle_done.set()

    async def _read_cli_writes(self, persistence: Persistence) -> None:
        """Read acknowledgements and maintenance windows written by the CLI every tick, for
        the loop's next cycle to apply.

        A task of its own, not a step of the loop: each read is a trip to the database's
        thread, two loop turns (~0.7 s on the saturated loop of 100,000 devices), and in
        the loop it held up every failed poll that came meanwhile
        (bench/alert_latency.py)."""
        while True:
            read = await persistence.reload(self.clock())
            if read is not None:
                self._read = read
            await asyncio.sleep(self.config.tick)

    def _apply_read(self, persistence: Persistence) -> None:
        read, self._read = self._read, None
        if read is not None:
            acks, self.windows = read
            persistence.dirty |= self.intake.acknowledge(acks)

    # -- the cycle -------------------------------------------------------------------------

    def _group_wait(self, incident: Incident) -> float:
        """``group_wait``, plus ``upstream_wait`` for a pending outage below a device that is
        failing but not yet confirmed down. A gateway's last will counts at once, while its
        district router is confirmed down only at its ``down_after``-th failed poll, minutes
        later: without the extra wait every site behind a dead router is announced first,
        then merged into the router's incident, two messages a site instead of one."""
        wait = self.config.group_wait
        if (incident.state is State.PENDING and incident.kind in OUTAGE_KINDS
                and self.intake.upstream_in_doubt(incident.root)):
            wait += self.config.upstream_wait
        return wait

    async def cycle(self, now: float, persistence: Persistence, delivery: Delivery, *,
                    step_all: bool = True) -> None:
        """One pass; ``step_all`` False steps only incidents changed in this cycle (the
        periodic tick steps all of them, for repeats, escalation and group wait)."""
        self.intake.expire(now)
        result = self.correlator.reconcile(now)
        changed = set(result.changed) | persistence.take_dirty()
        outgoing: list[Outgoing] = []
        routes = self.config.routes
        incidents = self.correlator.incidents
        todo = list(incidents) if step_all else [i for i in changed if i in incidents]
        # "Merged into INC-38" goes out after INC-38's own first message.
        todo.sort(key=lambda i: incidents[i].merged_into is not None)
        told_into: set[str | None] = set()
        if todo:  # a pass over every incident: not in the many cycles that step none
            told_into = {i.merged_into for i in incidents.values()
                         if i.merged_into is not None and i.announced_at is not None}
        for incident_id in todo:
            incident = incidents[incident_id]
            stepped, sends = advance(incident, routes, self.windows, self.topology, now,
                                     group_wait=self._group_wait(incident))
            if stepped is not incident:
                self.correlator.update(stepped)
                changed.add(incident_id)
            for send in sends:
                outgoing.extend(self.composer.messages(stepped, send, now,
                                                       root_of_told=incident_id in told_into))
        outgoing.extend(self.gate.digests(now))
        # Pending incidents stay in memory: most of a storm's are absorbed by an upstream
        # failure within group_wait and never need a row (a restart re-detects them).
        live = self.correlator.incidents
        records = [(live[i], self.composer.facts(live[i])) for i in sorted(changed)
                   if i in live and live[i].state is not State.PENDING]
        rows = await persistence.save(changed, records, list(result.dropped), outgoing, now,
                                      hand=delivery.enqueue)
        if rows is None:
            return
        if self._on_handed is not None and rows:
            self._on_handed(rows)
        self.stats.messages_queued += len(rows)
        self.correlator.forget_finished(incident for incident, _facts in records)
        for incident_id in result.dropped:
            log.debug("pending incident dropped", extra={"incident": incident_id})

    # -- metrics ---------------------------------------------------------------------------

    def publish_metrics(self, now: float) -> None:
        """Publish the component's own metrics (:mod:`alerting.metrics`) to the store."""
        self.store.publish(alerting_observations(
            self.correlator.incidents.values(),
            self.delivery.stats if self.delivery is not None else {}, self.gate.held_counts, now))

    # -- API for the shell and tests ---------------------------------------------------------

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.correlator.incidents.values() if i.is_open]

    def incidents(self) -> Iterable[Incident]:
        return self.correlator.incidents.values()

    @property
    def database(self) -> AsyncIncidentDB | None:
        """The open database while the component runs (its one worker thread), else None."""
        return self._db
