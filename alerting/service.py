"""The alerting component: state store in, incidents and outbox messages out.

One loop owns all alerting state. Each cycle it drains every batch waiting in its store
subscription (so a storm is one cycle, not thousands), counts poll attempts, updates the
down set, reconciles incidents against the topology, steps each incident's lifecycle (group
wait, announce, repeat, escalate, resolve, maintenance), and writes the changed incidents and
the messages they cause to SQLite in one transaction *before* handing the messages to the
channel workers. Acknowledgements and maintenance windows written by the CLI are read back
from the database every tick.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import aiohttp

from alerting.budget import Budgets
from alerting.channels import Sender, build_sender
from alerting.correlate import Correlator
from alerting.db import (
    AsyncIncidentDB,
    IncidentFacts,
    OutboxRow,
    format_incident_id,
)
from alerting.delivery import Delivery
from alerting.detect import AttemptCounter, FlapTracker, Transition
from alerting.digest import Gate, HeldMessage
from alerting.impact import AlertTopology, Location
from alerting.lifecycle import acknowledge, step
from alerting.messages import Language, MessageBuilder, encode
from alerting.model import (
    DEVICE,
    Incident,
    Kind,
    MaintenanceWindow,
    Outgoing,
    Send,
    State,
    Status,
    link_element,
)
from alerting.oncall import Oncall, expand
from alerting.power import PowerCuts
from alerting.readings import SUBSCRIBED_METRICS, ReadingWatch, label
from alerting.routing import in_maintenance, matching_routes, policies, recipients
from inventory.model import Inventory
from inventory.topology import Topology
from pubnet.catalog import (
    ALERT_MESSAGES_HELD,
    ALERTING_DELIVERED,
    ALERTING_DELIVERY_FAILURES,
    ALERTING_INCIDENTS_OPEN,
    ALERTING_OUTBOX_PENDING,
    DEVICE_POLL_STATUS,
    DEVICE_UP,
    IF_OPER_UP,
    LABEL_CHANNEL,
    LABEL_REASON,
    LABEL_STATUS,
    PUBNET_DEVICE,
)
from pubnet.config import AlertChannel, AlertingConfig, MqttConfig
from pubnet.model import Batch, Observation, PollStatus, Source, StatusChange
from pubnet.state import StateStore, Subscription

log = logging.getLogger("pubnet.alerting")

SUBSCRIBER_NAME = "alerting"


@dataclass(slots=True)
class AlertingStats:
    cycles: int = 0
    incidents_opened: int = 0
    messages_queued: int = 0
    last_cycle_seconds: float = 0.0


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
    ) -> None:
        self.config = config
        self.inventory = inventory
        self.store = store
        self.clock = clock
        self.broker = broker or MqttConfig()
        self._injected_senders = dict(senders) if senders is not None else None
        self._on_handed = on_handed
        self.oncall = oncall
        """Who the ``oncall`` route target reaches (:mod:`alerting.oncall`)."""
        self._personal_channels = dict(personal_channels or {})
        self.gate = Gate(config.digest_after, config.digest_window, Budgets(config),
                         config.status_url)
        """Budgets and digests (:mod:`alerting.digest`)."""
        self.topology = AlertTopology(inventory, topology)
        self.builder = MessageBuilder(self.topology, config.sites_in_payload, config.map_url)
        self.counter = AttemptCounter(config.down_after)
        self.flaps = FlapTracker(config.flapping.changes, config.flapping.window)
        self.readings = ReadingWatch(inventory, config.thresholds)
        self._next_number = 0
        power = config.power
        self.correlator = Correlator(self.topology, self._new_id, PowerCuts(
            self.topology, power.window, power.min_sites) if power is not None else None)
        self.windows: list[MaintenanceWindow] = []
        self.stats = AlertingStats()
        self.delivery: Delivery | None = None
        self._db: AsyncIncidentDB | None = None
        self._devices = inventory.devices
        self._last_down: dict[str, float] = {}
        self._reboot_clear: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._unsaved_dropped: list[str] = []
        self._unsaved_outgoing: list[Outgoing] = []
        self._save_failing = False
        self._reload_failing = False
        self.ready = asyncio.Event()
        """Set once open incidents are restored and the store is followed."""
        self._cycle_done = asyncio.Event()

    # -- ids -------------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._next_number += 1
        self.stats.incidents_opened += 1
        return format_incident_id(self._next_number)

    # -- component -------------------------------------------------------------------------

    async def run(self) -> None:
        async with AsyncIncidentDB(self.config.database) as db, aiohttp.ClientSession() as http:
            self._db = db
            senders: dict[str, Sender]
            if self._injected_senders is not None:
                senders = self._injected_senders
            else:
                senders = {name: build_sender(name, channel, http, self.broker)
                           for name, channel in (*self.config.channels.items(),
                                                 *self._personal_channels.items())}
            delivery = Delivery(db, senders,
                                initial_backoff=self.config.delivery.initial_backoff,
                                max_backoff=self.config.delivery.max_backoff, clock=self.clock)
            self.delivery = delivery
            await self._restore(db, delivery)
            with self.store.subscription(SUBSCRIBER_NAME, metrics=SUBSCRIBED_METRICS) as sub:
                self.ready.set()
                async with asyncio.TaskGroup() as group:
                    group.create_task(delivery.run(), name="alerting-delivery")
                    group.create_task(self._loop(sub, db, delivery), name="alerting-loop")

    async def wait_started(self) -> None:
        await self.ready.wait()

    async def wait_cycle(self) -> None:
        """Wait for the end of the next processing cycle (tests)."""
        self._cycle_done.clear()
        await self._cycle_done.wait()

    async def _restore(self, db: AsyncIncidentDB, delivery: Delivery) -> None:
        self._next_number = await db.call(db.sync.max_incident_number)
        live = await db.call(db.sync.load_live)
        assumed = self.correlator.restore(live)
        for element in assumed:
            if element.startswith(DEVICE):
                self.counter.assume_down(element[len(DEVICE):])
        now = self.clock()
        for incident in live:
            if incident.kind is Kind.FLAPPING and incident.is_open:
                self.flaps.restore(incident.root, now)
        queued = await delivery.load()
        self.windows = await db.call(db.sync.maintenance_windows, now)
        log.info("alerting restored open_incidents=%d undelivered_messages=%d database=%s",
                 sum(1 for i in live if i.is_open), queued, self.config.database)

    async def _loop(self, sub: Subscription, db: AsyncIncidentDB, delivery: Delivery) -> None:
        tick = self.config.tick
        next_tick = 0.0
        while True:
            batches: list[Batch] = []
            try:
                batches.append(await asyncio.wait_for(sub.get(), timeout=tick))
            except TimeoutError:
                pass
            except EOFError:
                return
            while (more := sub.get_nowait()) is not None:
                batches.append(more)
            started = time.perf_counter()
            now = self.clock()
            for batch in batches:
                self.ingest(batch)
            periodic = now >= next_tick
            if periodic:
                next_tick = now + tick
                self.scan_statuses()
                await self._reload(db, now)
            await asyncio.shield(self.cycle(now, db, delivery, step_all=periodic))
            if periodic:
                self._publish_metrics(now)
            self.stats.cycles += 1
            self.stats.last_cycle_seconds = time.perf_counter() - started
            self._cycle_done.set()

    # -- input -----------------------------------------------------------------------------

    def ingest(self, batch: Batch) -> None:
        for change in batch.status_changes:
            self._status_change(change)
        attempt = self.counter.attempt
        for obs in batch.observations:
            if obs.metric == DEVICE_UP:
                # The common case, inline: usually the same attempt as a status change.
                device = obs.device
                if device in self._devices and attempt(device, obs.value >= 0.5,
                                                       obs.ts) is not None:
                    self._confirmed(device, obs.value >= 0.5, obs.ts)
            else:
                self._observation(obs)

    def _status_change(self, change: StatusChange) -> None:
        device = change.device
        if device not in self._devices:
            return
        status = change.status
        up = status is PollStatus.OK
        previous = change.previous
        if previous is not None and (previous is PollStatus.OK) != up:
            self._flap(DEVICE + device, change.ts, down=not up)
        immediate = change.source is Source.MQTT and status in (
            PollStatus.UNREACHABLE, PollStatus.TIMEOUT)
        self._attempt(device, up, change.ts, immediate=immediate)

    def _observation(self, obs: Observation) -> None:
        metric = obs.metric
        power = self.correlator.power
        if power is not None and obs.device in power.watched:
            power.evidence(self.correlator, obs)
        if metric == DEVICE_UP:
            if obs.device in self._devices:
                self._attempt(obs.device, obs.value >= 0.5, obs.ts)
            return
        if metric == DEVICE_POLL_STATUS:
            status = label(obs, LABEL_STATUS)
            if obs.value >= 0.5 and status is not None and obs.device in self.inventory.devices:
                self._attempt(obs.device, status == PollStatus.OK.value, obs.ts)
            return
        if metric == IF_OPER_UP:
            for event in self.readings.link_state(obs):
                element = link_element(event.link_id)
                self._flap(element, event.ts, down=event.down)
                if event.down:
                    self.correlator.set_down(element, event.ts)
                else:
                    self.correlator.set_up(element, event.ts)
            return
        recently = self._last_down.get(obs.device)
        recently_down = self.counter.is_down(obs.device) or (
            recently is not None and obs.ts - recently < self.config.thresholds.reboot_clear)
        for cond in self.readings.observe(obs, recently_down=recently_down):
            if cond.transition is Transition.DOWN:
                self.correlator.raise_condition(cond.kind, cond.element, cond.ts,
                                                cond.severity, cond.detail)
                if cond.kind is Kind.DEVICE_REBOOTED:
                    self._reboot_clear[cond.element] = (
                        max(cond.ts, self.clock()) + self.config.thresholds.reboot_clear)
            else:
                self.correlator.clear_condition(cond.kind, cond.element, cond.ts)

    def _attempt(self, device: str, ok: bool, ts: float, *, immediate: bool = False) -> None:
        if self.counter.attempt(device, ok, ts, immediate=immediate) is not None:
            self._confirmed(device, ok, ts)

    def _confirmed(self, device: str, ok: bool, ts: float) -> None:
        """The attempt counter confirmed a device down (``ok`` False) or back up."""
        element = DEVICE + device
        if not ok:
            state = self.store.status(device)
            since = state.since if state is not None and state.status is not None and (
                not state.status.is_up and state.since <= ts) else ts
            self._last_down[device] = ts
            self.readings.forget_device_links(device)
            self.correlator.set_down(element, since)
        else:
            self.correlator.set_up(element, ts)
            power = self.correlator.power
            if power is not None and device in power.watched:
                power.came_back(device, ts)

    def _flap(self, element: str, ts: float, *, down: bool) -> None:
        if self.flaps.change(element, ts) is Transition.DOWN:
            log.info("element flapping element=%s", element)
            self.correlator.start_flapping(element, ts, down=down)

    def scan_statuses(self) -> None:
        """Count attempts that produced no status change and no observation we saw."""
        devices = self.inventory.devices
        last_attempt = self.counter.last_attempt
        for device, state in self.store.statuses().items():
            status = state.status
            if status is None or device not in devices:
                continue
            seen = last_attempt(device)
            if seen is None or state.last_attempt > seen:
                self._attempt(device, status.is_up, state.last_attempt)

    async def _reload(self, db: AsyncIncidentDB, now: float) -> None:
        """Pick up acknowledgements and maintenance windows written by the CLI."""
        try:
            acks = await db.call(db.sync.acknowledgements)
            self.windows = await db.call(db.sync.maintenance_windows, now)
        except (sqlite3.Error, OSError) as exc:  # a locked or damaged file: keep alerting
            if not self._reload_failing:
                self._reload_failing = True
                log.warning("cannot read acknowledgements/maintenance error=%s", exc)
            return
        self._reload_failing = False
        for incident_id, by, at, note in acks:
            incident = self.correlator.incidents.get(incident_id)
            if incident is not None and (incident.acked_at is None or at > incident.acked_at):
                self.correlator.update(acknowledge(incident, by, note, at))
                self._dirty.add(incident_id)
                log.info("incident acknowledged incident=%s by=%s", incident_id, by)

    # -- the cycle -------------------------------------------------------------------------

    async def cycle(self, now: float, db: AsyncIncidentDB, delivery: Delivery, *,
                    step_all: bool = True) -> None:
        """One pass; ``step_all`` False steps only incidents changed in this cycle (the
        periodic tick steps all of them, for repeats, escalation and group wait)."""
        for element in self.flaps.expire(now):
            log.info("element stopped flapping element=%s", element)
            self.correlator.stop_flapping(element, now)
        for element, clear_at in list(self._reboot_clear.items()):
            if now >= clear_at:
                del self._reboot_clear[element]
                self.correlator.clear_condition(Kind.DEVICE_REBOOTED, element, now)
        result = self.correlator.reconcile(now)
        changed = set(result.changed) | self._dirty
        self._dirty = set()
        outgoing: list[Outgoing] = []
        routes = self.config.routes
        incidents = self.correlator.incidents
        todo = list(incidents) if step_all else [i for i in changed if i in incidents]
        # "Merged into INC-38" goes out after INC-38's own first message.
        todo.sort(key=lambda i: incidents[i].merged_into is not None)
        for incident_id in todo:
            incident = incidents[incident_id]
            location = self.topology.location(incident.root)
            indexes = (incident.routes if incident.announced_at is not None
                       else tuple(matching_routes(routes, incident, location)))
            muted = bool(self.windows) and in_maintenance(
                self.windows, incident, location, self.topology, now)
            stepped, sends = step(incident, policies(routes, indexes), now,
                                  group_wait=self.config.group_wait, muted=muted)
            if stepped is not incident:
                self.correlator.update(stepped)
                changed.add(incident_id)
            for send in sends:
                outgoing.extend(self._render(stepped, send, now))
        outgoing.extend(self.gate.digests(now))
        dropped = [*self._unsaved_dropped, *result.dropped]
        outgoing = [*self._unsaved_outgoing, *outgoing]
        if not changed and not dropped and not outgoing:
            return
        # Pending incidents stay in memory: most of a storm's are absorbed by an upstream
        # failure within group_wait and never need a row (a restart re-detects them).
        live = self.correlator.incidents
        records = [(live[i], self._facts(live[i])) for i in sorted(changed)
                   if i in live and live[i].state is not State.PENDING]
        try:
            seqs = await db.call(db.sync.save, records, dropped, outgoing, now)
        except (sqlite3.Error, OSError) as exc:
            # Keep everything for the next cycle: nothing is handed to a channel before it
            # is in the outbox, and nothing decided is lost while the disk is unhappy.
            self._dirty |= changed
            self._unsaved_dropped, self._unsaved_outgoing = dropped, outgoing
            if not self._save_failing:
                self._save_failing = True
                log.error("cannot write the alerting database, will retry database=%s "
                          "error=%s", self.config.database, exc)
            return
        if self._save_failing:
            self._save_failing = False
            log.info("alerting database writable again database=%s", self.config.database)
        self._unsaved_dropped, self._unsaved_outgoing = [], []
        rows = [OutboxRow(seq, msg, 0) for seq, msg in zip(seqs, outgoing, strict=True) if seq]
        delivery.enqueue(rows)
        if self._on_handed is not None and rows:
            self._on_handed(rows)
        self.stats.messages_queued += len(rows)
        for incident, _facts in records:
            if incident.state is State.RESOLVED and (
                incident.resolved_sent or incident.announced_at is None
            ):
                self.correlator.forget(incident.incident_id)
        for incident_id in result.dropped:
            log.debug("pending incident dropped incident=%s", incident_id)

    def _render(self, incident: Incident, send: Send, now: float) -> list[Outgoing]:
        location = self.topology.location(incident.root)
        hint = (location.province_code, location.district_code)
        rendered: dict[Language, str] = {}
        out = []
        pairs = recipients(self.config.routes, incident, send)
        if self.oncall is not None:
            pairs = expand(self.oncall, pairs, incident, send, location, now)
        for channel, language in pairs:
            if not self.gate.admit(channel, incident.incident_id, send.status, send.reason,
                                   now, lambda: self._held(incident, location, send.status)):
                continue
            text = rendered.get(language)
            if text is None:
                text = rendered[language] = encode(self.builder.payload(
                    incident, send.status, send.reason, send.sequence, language, now))
            out.append(Outgoing(channel, incident.incident_id, send.status, send.sequence,
                                text, hint))
        if out:
            log.info("incident message queued incident=%s status=%s reason=%s kind=%s "
                     "root=%s channels=%d", incident.incident_id, send.status.value,
                     send.reason.value, incident.kind.value, incident.root, len(out))
        return out

    def _held(self, incident: Incident, location: Location, status: Status) -> HeldMessage:
        """What a digest says of a message it folds in."""
        return HeldMessage(incident.incident_id, status, location.province_code,
                           location.district_code,
                           len(self.topology.impact(incident.root).sites),
                           self.builder.describe(incident.root, "th"),
                           self.builder.describe(incident.root, "en"))

    def _facts(self, incident: Incident) -> IncidentFacts:
        location = self.topology.location(incident.root)
        impact = self.topology.impact(incident.root)
        return IncidentFacts(
            province=location.province_code,
            district=location.district_code,
            site=location.site_id,
            affected_devices=len(impact.devices),
            affected_sites=len(impact.sites),
            summary=self.builder.describe(incident.root, "en"),
        )

    # -- metrics ---------------------------------------------------------------------------

    def _publish_metrics(self, now: float) -> None:
        open_count = sum(1 for i in self.correlator.incidents.values()
                         if i.state in (State.FIRING, State.ACKNOWLEDGED))
        obs = [Observation(PUBNET_DEVICE, ALERTING_INCIDENTS_OPEN, float(open_count), now,
                           Source.INTERNAL)]
        if self.delivery is not None:
            for name, st in self.delivery.stats.items():
                labels = ((LABEL_CHANNEL, name),)
                obs.append(Observation(PUBNET_DEVICE, ALERTING_DELIVERED, float(st.delivered),
                                       now, Source.INTERNAL, labels))
                obs.append(Observation(PUBNET_DEVICE, ALERTING_DELIVERY_FAILURES,
                                       float(st.failures), now, Source.INTERNAL, labels))
                obs.append(Observation(PUBNET_DEVICE, ALERTING_OUTBOX_PENDING, float(st.pending),
                                       now, Source.INTERNAL, labels))
        for (channel, reason), held in self.gate.held_counts.items():
            obs.append(Observation(PUBNET_DEVICE, ALERT_MESSAGES_HELD, float(held), now,
                                   Source.INTERNAL, ((LABEL_CHANNEL, channel),
                                                     (LABEL_REASON, reason))))
        self.store.publish(obs)

    # -- API for the shell and tests ---------------------------------------------------------

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.correlator.incidents.values() if i.is_open]

    def incidents(self) -> Iterable[Incident]:
        return self.correlator.incidents.values()
