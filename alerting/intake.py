"""Alerting's input: attempt records and readings in, facts for the correlator out.

The :class:`~pubnet.model.Attempt` a collector reported is the only thing alerting reads
about a device's status: one record per poll, probe or MQTT verdict, so nothing is
de-duplicated and nothing is read back from the store. :class:`Intake` counts consecutive
failures (``down_after``, or at once when the collector says the attempt
``counts_at_once``: a last will, missed heartbeats), tracks flapping on status changes, and
raises a reboot when the collector says the device ``rebooted`` -- unless it was just down,
because a power cut that ends is not also worth a reboot alert. The attempts of devices in a
suspected power cut are its evidence (:mod:`alerting.power`): telemetry timestamped inside
the outage means the site had power, a restart at recovery that it had none.

Interface and access-point readings become link, utilisation, error and quiet-AP conditions
through :class:`~alerting.readings.ReadingWatch`.

On the alerting instance of a sharded pubnet, ``pubnet_shard_up`` (the state feed's view of
each polling shard) is input too: a shard that goes away opens one ``collector_down``
incident naming it and what it watched (:func:`pubnet.shard.select` on this inventory),
and its devices go *stale*: their partial failure counts are dropped and attempts for them
are ignored until the shard is back, so they are never counted down for their collector's
absence. A device never heard from is unknown, never down: only attempts count.

Acknowledgements the CLI wrote (read by :mod:`alerting.persist`) are input too. Everything
it decides goes to the :class:`~alerting.correlate.Correlator`; it does no I/O and reads no
clock but the one it is given (for how long a reboot stays raised).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace

from alerting.correlate import Correlator
from alerting.detect import AttemptCounter, FlapTracker, Transition
from alerting.lifecycle import acknowledge
from alerting.model import (
    DEVICE,
    Incident,
    Kind,
    Severity,
    collector_element,
    device_element,
    link_element,
)
from alerting.persist import Acknowledgement
from alerting.readings import SUBSCRIBED_METRICS, Condition, LinkEvent, ReadingWatch
from inventory.model import Inventory
from pubnet.catalog import LABEL_SHARD, SHARD_UP
from pubnet.config import AlertingConfig
from pubnet.derive import Derivation
from pubnet.model import Attempt, Batch, Observation, PollStatus
from pubnet.shard import Shard, select

log = logging.getLogger("pubnet.alerting")

_OK = PollStatus.OK

INTAKE_METRICS = SUBSCRIBED_METRICS | {SHARD_UP}
"""The readings alerting subscribes to: the conditions' and the shards' liveness."""
COLLECTOR_SEVERITY = Severity.MAJOR


class Intake:
    """Feeds the correlator from the store's batches (see the module docstring)."""

    def __init__(self, config: AlertingConfig, inventory: Inventory, correlator: Correlator,
                 clock: Callable[[], float], derivation: Derivation | None = None) -> None:
        self.correlator = correlator
        self.counter = AttemptCounter(config.down_after)
        self.flaps = FlapTracker(config.flapping.changes, config.flapping.window)
        self.readings = ReadingWatch(inventory, config.thresholds, derivation)
        self._clock = clock
        self._reboot_hold = config.thresholds.reboot_clear
        self._devices = inventory.devices
        self._inventory = inventory
        self._shards_up: dict[str, bool] = {}
        """``collector:`` element -> whether its shard is up, as last reported."""
        self._stale_by: dict[str, frozenset[str]] = {}
        """``collector:`` element of a gone shard -> the devices it watched."""
        self.stale: set[str] = set()
        """Devices whose shard is gone: unwatched, neither up nor down."""
        self._last_down: dict[str, float] = {}
        self._reboot_clear: dict[str, float] = {}
        """Element -> when its reboot condition clears by itself."""

    def restore(self, live: Iterable[Incident], now: float) -> None:
        """Resume from incidents still live in the database after a restart."""
        live = list(live)
        for element in self.correlator.restore(live):
            if element.startswith(DEVICE):
                self.counter.assume_down(element[len(DEVICE):])
        for incident in live:
            if incident.kind is Kind.FLAPPING and incident.is_open:
                self.flaps.restore(incident.root, now)

    def ingest(self, batch: Batch) -> None:
        for attempt in batch.attempts:
            self.attempt(attempt)
        if batch.observations:
            self.readings.feed(batch.observations, self)

    def attempt(self, attempt: Attempt) -> None:
        """One attempt to hear from a device, as its collector reported it."""
        device = attempt.device
        if device not in self._devices or device in self.stale:
            return
        up = attempt.status is _OK
        power = self.correlator.power
        if power is not None and device not in power.watched:
            power = None  # not in a suspected power cut: no evidence to record
        if power is not None:
            power.telemetry(self.correlator, attempt)
        previous = attempt.previous
        if previous is not None and (previous is _OK) != up:
            self._flap(DEVICE + device, attempt.ts, down=not up)
        change = self.counter.attempt(device, up, attempt.ts,
                                      immediate=attempt.counts_at_once)
        if change is Transition.DOWN:
            since = self.counter.down_since(device)
            self._last_down[device] = attempt.ts
            self.correlator.set_down(DEVICE + device, attempt.ts if since is None else since)
        elif change is Transition.UP:
            self.correlator.set_up(DEVICE + device, attempt.ts)
            if power is not None:
                power.came_back(device, attempt.ts)
        if attempt.rebooted and up:
            if power is not None:
                power.restarted(self.correlator, attempt)
            self._rebooted(attempt)

    def upstream_in_doubt(self, element: str) -> bool:
        """Whether a device above ``element`` failed its latest attempt without being
        confirmed down yet: its outage, if confirmed, would absorb ``element``'s."""
        in_doubt = self.counter.in_doubt
        return any(node.startswith(DEVICE) and in_doubt(node[len(DEVICE):])
                   for node in self.correlator.topology.chain(element))

    def _rebooted(self, attempt: Attempt) -> None:
        device = attempt.device
        last_down = self._last_down.get(device)
        if self.counter.is_down(device) or (
                last_down is not None and attempt.ts - last_down < self._reboot_hold):
            return  # back from an outage: the outage was the news
        element = device_element(device)
        self.correlator.raise_condition(Kind.DEVICE_REBOOTED, element, attempt.ts,
                                        Severity.WARNING, attempt.detail or "restarted")
        self._reboot_clear[element] = max(attempt.ts, self._clock()) + self._reboot_hold

    def observe(self, obs: Observation) -> None:
        """A reading alerting subscribes to (:data:`INTAKE_METRICS`)."""
        self.readings.feed((obs,), self)

    # -- what the readings say (alerting.readings.ReadingSink) ------------------------------

    def link_changed(self, event: LinkEvent) -> None:
        element = link_element(event.link_id)
        self._flap(element, event.ts, down=event.down)
        if event.down:
            self.correlator.set_down(element, event.ts)
        else:
            self.correlator.set_up(element, event.ts)

    def condition(self, condition: Condition) -> None:
        if condition.transition is Transition.DOWN:
            self.correlator.raise_condition(condition.kind, condition.element, condition.ts,
                                            condition.severity, condition.detail)
        else:
            self.correlator.clear_condition(condition.kind, condition.element, condition.ts)

    def other(self, obs: Observation) -> None:
        if obs.metric == SHARD_UP:
            self.shard_state(obs)

    def shard_state(self, obs: Observation) -> None:
        """A shard's liveness (``pubnet_shard_up{shard="I/N"}``): gone opens one
        ``collector_down`` incident and makes its devices stale; back clears both."""
        spec = dict(obs.labels).get(LABEL_SHARD, "")
        try:
            shard = Shard.parse(spec)
        except ValueError:
            log.warning("shard state without a valid shard label", extra={"labels": obs.labels})
            return
        element = collector_element(shard.index)
        up = obs.value >= 1.0
        before = self._shards_up.get(element)
        if before is up:
            return
        self._shards_up[element] = up
        if up:
            self.stale -= self._stale_by.pop(element, frozenset())
            self.correlator.clear_condition(Kind.COLLECTOR_DOWN, element, obs.ts)
            if before is not None:
                log.info("shard back, its devices resume", extra={"shard": str(shard)})
            return
        watched = select(self._inventory, shard)
        devices = frozenset(watched.devices)
        sites = frozenset(watched.sites)
        self._stale_by[element] = devices
        self.stale |= devices
        for device in devices:
            self.counter.forget_failures(device)
        self.correlator.topology.set_watched(element, devices, sites)
        self.correlator.raise_condition(
            Kind.COLLECTOR_DOWN, element, obs.ts, COLLECTOR_SEVERITY,
            f"shard {shard}: {len(sites)} sites, {len(devices)} devices unwatched (stale) / "
            f"ไม่ถูกเฝ้าดู {len(sites)} ไซต์ {len(devices)} อุปกรณ์")
        log.warning("shard gone, its devices are stale", extra={
            "shard": str(shard), "sites": len(sites), "devices": len(devices)})

    def _flap(self, element: str, ts: float, *, down: bool) -> None:
        if self.flaps.change(element, ts) is Transition.DOWN:
            log.info("element flapping", extra={"element": element})
            self.correlator.start_flapping(element, ts, down=down)

    def expire(self, now: float) -> None:
        """End flapping that has gone quiet and reboots held long enough."""
        for element in self.flaps.expire(now):
            log.info("element stopped flapping", extra={"element": element})
            self.correlator.stop_flapping(element, now)
        for element, clear_at in list(self._reboot_clear.items()):
            if now >= clear_at:
                del self._reboot_clear[element]
                self.correlator.clear_condition(Kind.DEVICE_REBOOTED, element, now)

    def acknowledge(self, acks: Iterable[Acknowledgement]) -> set[str]:
        """Apply acknowledgements newer than the incident's; returns the incidents changed."""
        changed = set()
        incidents = self.correlator.incidents
        for ack in acks:
            incident = incidents.get(ack.incident_id)
            if incident is None:
                continue
            if incident.acked_at is None or ack.at > incident.acked_at:
                self.correlator.update(acknowledge(incident, ack.by, ack.note, ack.at,
                                                   ack.channel))
                changed.add(ack.incident_id)
                log.info("incident acknowledged", extra={
                    "incident": ack.incident_id, "by": ack.by, "channel": ack.channel})
            elif ack.at == incident.acked_at and incident.ack_channel != ack.channel:
                # restored from the database after a restart: only the channel is new
                self.correlator.update(replace(incident, ack_channel=ack.channel))
        return changed
