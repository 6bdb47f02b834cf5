"""From one MQTT message to observations and device status in the state store.

:class:`Ingestor` is synchronous and owns all per-device state (counters, last heard,
status as MQTT sees it); the subscriber hands it every message as it is read from the
socket, so a QoS 1 message is acknowledged only after it is in the store. It never raises:
each message ends in one :class:`~collectors.mqtt.names.Result`, counted, and a problem is
logged once per device and reason.

Liveness uses the time a message was *received*, not the device's ``ts``: village gateways
often run without a good clock, and a device whose clock is a few minutes behind must not
look dead. The device's ``ts`` (when it is within the allowed window) is the observation
timestamp, so a backlog drained after an outage keeps its real times.

Counters follow the SNMP collector's rules (:mod:`collectors.snmp.counters`, as 64-bit
counters): a value that goes down, or any value after ``uptime_s`` went backwards, is a
reset and adds the new raw value.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from typing import Final

from collectors.identity import SharedLabels, device_labels, info_labels, status_observations
from collectors.mqtt.names import DEFAULT_IFNAME, Result
from collectors.mqtt.payload import PayloadError, Telemetry, TelemetryDecoder, timestamp
from collectors.mqtt.topics import Kind, parse_topic
from collectors.snmp.counters import CounterState, advance
from inventory.model import Device, Inventory
from pubnet.catalog import (
    AP_CLIENTS,
    DEVICE_CPU,
    DEVICE_INFO,
    DEVICE_MEMORY,
    DEVICE_SIGNAL,
    DEVICE_TEMPERATURE,
    DEVICE_UPTIME,
    IF_RX_BYTES,
    IF_TX_BYTES,
    LABEL_IFNAME,
    LABEL_RADIO,
    LABEL_RESULT,
    MQTT_DEVICES_WATCHED,
    MQTT_MESSAGES,
    PUBNET_DEVICE,
)
from pubnet.config import MqttConfig
from pubnet.model import Labels, Observation, PollStatus, Source
from pubnet.state import StateStore

log = logging.getLogger("pubnet.mqtt")

MAX_LOGGED_PROBLEMS: Final = 10_000
"""Distinct (device, reason) pairs remembered for log-once; beyond it problems are only
counted, so a flood of random device ids cannot grow memory or the log without bound."""

_MQTT = Source.MQTT
_OK = PollStatus.OK


def overdue(last_heard: float, now: float, silence_allowed: float) -> bool:
    """Whether a device last heard at ``last_heard`` has missed too many heartbeats."""
    return now - last_heard > silence_allowed


class _Tracked:
    """What the collector remembers about one inventory device."""

    __slots__ = (
        "counters",
        "device_id",
        "firmware",
        "info_labels",
        "last_heard",
        "name_labels",
        "site_id",
        "status",
        "up_labels",
        "uptime",
        "watched",
    )

    def __init__(self, device: Device, inventory: Inventory, now: float,
                 shared: SharedLabels) -> None:
        self.device_id = device.device_id
        self.site_id = device.site_id
        self.up_labels, info = device_labels(inventory, device, shared)
        self.info_labels: Labels | None = info if device.profile == "mqtt" else None
        """Set when MQTT is how pubnet knows this device: its firmware then becomes
        ``pubnet_device_info`` (an SNMP-polled device's info comes from sysDescr)."""
        self.firmware: str | None = None
        watched = device.profile == "mqtt"
        self.watched = watched
        """Heartbeats are timed: an MQTT-profile device, or one that has published."""
        self.last_heard = now
        self.status: PollStatus | None = None
        self.uptime: float | None = None
        self.counters: dict[tuple[str, str], CounterState] = {}
        self.name_labels: dict[tuple[str, str], Labels] = {}

    def labels_for(self, label: str, value: str) -> Labels:
        key = (label, value)
        cached = self.name_labels.get(key)
        if cached is None:
            cached = self.name_labels[key] = ((label, value),)
        return cached


class Ingestor:
    """Turns schema-v1 messages into store updates; see the module docstring."""

    def __init__(
        self,
        store: StateStore,
        inventory: Inventory,
        config: MqttConfig,
        clock: Callable[[], float] = time.time,
        *,
        elsewhere: Collection[str] = frozenset(),
    ) -> None:
        self._store = store
        self._config = config
        self._elsewhere = elsewhere
        """Other shards' devices: a shard hears every gateway (no shared group) and drops
        these as ``unknown_device`` without a warning each (thousands at a national start)."""
        self._told_elsewhere = False
        """Payload size, clock skew, age and heartbeat limits (``mqtt:``)."""
        self._silence_allowed = config.heartbeat_interval * config.down_after_missed
        """How long a watched device may stay silent before it is down."""
        self._clock = clock
        self._decoder = TelemetryDecoder()
        now = clock()
        shared: SharedLabels = {}
        self._devices: dict[str, _Tracked] = {
            device.device_id: _Tracked(device, inventory, now, shared)
            for device in inventory.devices.values()
        }
        self.results: dict[Result, int] = dict.fromkeys(Result, 0)
        self._logged: set[tuple[str, Result]] = set()
        self._log_full = False

    # -- the hot path ---------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, retain: bool = False,
               now: float | None = None) -> Result:
        """Handle one message and return how it ended. Never raises."""
        if now is None:
            now = self._clock()
        try:
            result = self._handle(topic, payload, retain, now)
        except Exception:
            result = Result.ERROR
            key = topic[:200]
            if self._remember(key, result):
                log.exception("mqtt message handling failed", extra={"topic": key})
        self.results[result] += 1
        return result

    def _handle(self, topic: str, payload: bytes, retain: bool, now: float) -> Result:
        parsed = parse_topic(topic)
        if parsed is None:
            return self._reject(topic[:200], "", Result.BAD_TOPIC, "topic outside schema v1")
        kind, site_id, device_id = parsed
        settings = self._config
        if len(payload) > settings.max_payload_bytes:
            return self._reject(device_id, site_id, Result.OVERSIZE,
                                f"{len(payload)} bytes > {settings.max_payload_bytes}")
        dev = self._devices.get(device_id)
        if dev is None:
            if device_id in self._elsewhere:
                if not self._told_elsewhere:
                    self._told_elsewhere = True
                    log.info("mqtt messages of other shards' devices are dropped (counted "
                             "as unknown_device, not logged one by one)",
                             extra={"device": device_id[:200], "site": site_id[:200]})
                return Result.UNKNOWN_DEVICE
            return self._reject(device_id, site_id, Result.UNKNOWN_DEVICE,
                                "device not in the inventory")
        if dev.site_id != site_id:
            return self._reject(device_id, site_id, Result.UNKNOWN_DEVICE,
                                f"device belongs to site {dev.site_id}")
        if kind is Kind.STATUS:
            return self._status(dev, payload, retain, now)
        try:
            telemetry = self._decoder.decode(payload)
        except PayloadError as exc:
            return self._reject(device_id, site_id, Result.MALFORMED, str(exc))
        ts = timestamp(telemetry.ts, now)
        if ts > now + settings.max_clock_skew:
            return self._reject(device_id, site_id, Result.CLOCK_SKEW,
                                f"ts {ts - now:.0f}s in the future")
        if ts < now - settings.max_age:
            return self._reject(device_id, site_id, Result.STALE, f"ts {now - ts:.0f}s old")
        self._telemetry(dev, telemetry, min(ts, now), now)
        return Result.OK

    def _telemetry(self, dev: _Tracked, t: Telemetry, ts: float, now: float) -> None:
        device = dev.device_id
        obs: list[Observation] = []
        add = obs.append
        reset = False
        detail = ""
        if t.uptime_s is not None:
            if dev.uptime is not None and t.uptime_s < dev.uptime:
                reset = True
                detail = f"uptime {dev.uptime:.0f}s -> {t.uptime_s:.0f}s"
            dev.uptime = t.uptime_s
            add(Observation(device, DEVICE_UPTIME, t.uptime_s, ts, _MQTT))
        clients = t.clients
        if clients is not None:
            if isinstance(clients, int):
                add(Observation(device, AP_CLIENTS, float(clients), ts, _MQTT))
            else:
                for radio, count in clients.items():
                    add(Observation(device, AP_CLIENTS, float(count), ts, _MQTT,
                                    dev.labels_for(LABEL_RADIO, radio)))
        if t.rx_bytes is not None:
            self._counters(dev, IF_RX_BYTES, t.rx_bytes, ts, reset, add)
        if t.tx_bytes is not None:
            self._counters(dev, IF_TX_BYTES, t.tx_bytes, ts, reset, add)
        if t.signal_dbm is not None:
            add(Observation(device, DEVICE_SIGNAL, t.signal_dbm, ts, _MQTT))
        if t.cpu_ratio is not None:
            add(Observation(device, DEVICE_CPU, t.cpu_ratio, ts, _MQTT))
        if t.mem_ratio is not None:
            add(Observation(device, DEVICE_MEMORY, t.mem_ratio, ts, _MQTT))
        if t.temperature_c is not None:
            add(Observation(device, DEVICE_TEMPERATURE, t.temperature_c, ts, _MQTT))
        if t.firmware is not None and t.firmware != dev.firmware and dev.info_labels is not None:
            # An info series per firmware version: replace the old one, do not add to it.
            if dev.firmware is not None:
                self._store.forget(device, DEVICE_INFO)
            dev.firmware = t.firmware
            add(Observation(device, DEVICE_INFO, 1.0, ts, _MQTT,
                            info_labels(dev.info_labels, "", t.firmware)))
        dev.last_heard = now
        dev.watched = True
        if dev.status is not _OK:
            # pubnet_device_up is a gauge: written when it changes, not with every message.
            obs += status_observations(device, _OK, ts, _MQTT, dev.up_labels, changed=True)
            self._up(dev, ts, "telemetry")
        self._store.set_status(device, _OK, ts, _MQTT, detail, obs, rebooted=reset)

    def _counters(
        self,
        dev: _Tracked,
        metric: str,
        value: int | dict[str, int],
        ts: float,
        reset: bool,
        add: Callable[[Observation], None],
    ) -> None:
        items: Iterable[tuple[str, int]] = (
            ((DEFAULT_IFNAME, value),) if isinstance(value, int) else value.items()
        )
        counters = dev.counters
        for ifname, raw in items:
            key = (metric, ifname)
            state = counters.get(key)
            if state is None:
                state = counters[key] = CounterState(raw, raw, 64)
            else:
                # The SNMP collector's rule for a 64-bit counter: a decrease is a reset.
                advance(state, raw, 64, reset=reset)
            add(Observation(dev.device_id, metric, float(state.total), ts, _MQTT,
                            dev.labels_for(LABEL_IFNAME, ifname)))

    def _status(self, dev: _Tracked, payload: bytes, retain: bool, now: float) -> Result:
        text = payload.strip().lower()
        if text == b"online":
            dev.watched = True
            if retain:
                # A retained "online" only says the device connected at some time in the
                # past; time its heartbeats from now instead of calling it up.
                dev.last_heard = max(dev.last_heard, now)
                return Result.OK
            dev.last_heard = now
            changed = dev.status is not _OK
            if changed:
                self._up(dev, now, "status online")
            self._store.set_status(dev.device_id, _OK, now, _MQTT, observations=(
                status_observations(dev.device_id, _OK, now, _MQTT, dev.up_labels,
                                    changed=changed)))
            return Result.OK
        if text == b"offline":
            self._down(dev, PollStatus.UNREACHABLE, now, "last will: offline")
            return Result.OK
        return self._reject(dev.device_id, dev.site_id, Result.MALFORMED,
                            "status payload is neither online nor offline")

    # -- heartbeats -----------------------------------------------------------------------

    def check_heartbeats(self, now: float | None = None) -> list[str]:
        """Mark down every watched device silent for too long; returns their ids.

        A watched device that was never heard (an MQTT-profile device since start-up) is
        down once the allowed silence has passed since pubnet started.
        """
        if now is None:
            now = self._clock()
        allowed = self._silence_allowed
        went_down: list[str] = []
        for dev in self._devices.values():
            if not dev.watched or dev.status not in (_OK, None):
                continue
            if overdue(dev.last_heard, now, allowed):
                silent = now - dev.last_heard
                self._down(dev, PollStatus.TIMEOUT, now,
                           f"no message for {silent:.0f}s "
                           f"({self._config.down_after_missed} heartbeats missed)")
                went_down.append(dev.device_id)
        return went_down

    def grace(self, now: float) -> None:
        """Restart every device's allowance at ``now`` (after pubnet reconnects).

        While pubnet was disconnected it could not hear anyone; that silence must not
        count against the devices.
        """
        for dev in self._devices.values():
            if dev.last_heard < now:
                dev.last_heard = now

    # -- status changes -------------------------------------------------------------------

    def _up(self, dev: _Tracked, ts: float, why: str) -> None:
        if dev.status is not None:
            log.info("device up", extra={"device": dev.device_id, "site": dev.site_id,
                                         "source": "mqtt", "reason": why})
        dev.status = _OK

    def _down(self, dev: _Tracked, status: PollStatus, now: float, detail: str) -> None:
        """A last will or missed heartbeats: the collector has waited already, so the
        attempt counts at once (alerting does not wait for more attempts)."""
        changed = dev.status is not status
        if changed:
            # A device's first status is summed up by the start-up summary (pubnet.app.startup).
            level = logging.DEBUG if dev.status is None else logging.WARNING
            log.log(level, "device down", extra={"device": dev.device_id, "site": dev.site_id,
                                              "source": "mqtt", "status": status.value,
                                              "detail": detail})
        dev.status = status
        self._store.set_status(dev.device_id, status, now, _MQTT, detail, status_observations(
            dev.device_id, status, now, _MQTT, dev.up_labels, changed=changed),
            counts_at_once=True)

    # -- problems -------------------------------------------------------------------------

    def _reject(self, device: str, site: str, result: Result, detail: str) -> Result:
        key = device[:200]
        if self._remember(key, result):
            log.warning("mqtt message dropped", extra={
                "device": key, "site": site[:200], "result": result.value, "detail": detail,
            })
        return result

    def _remember(self, key: str, result: Result) -> bool:
        """True the first time a (device, reason) pair is seen: log it then."""
        pair = (key, result)
        if pair in self._logged:
            return False
        if len(self._logged) >= MAX_LOGGED_PROBLEMS:
            if not self._log_full:
                self._log_full = True
                log.warning("too many distinct mqtt problems; counting without logging",
                            extra={"limit": MAX_LOGGED_PROBLEMS})
            return False
        self._logged.add(pair)
        return True

    # -- the collector's own metrics ------------------------------------------------------

    def watched_devices(self) -> int:
        return sum(1 for dev in self._devices.values() if dev.watched)

    def stats_observations(self, now: float) -> list[Observation]:
        """``pubnet_mqtt_messages_total{result}`` and the watched-device gauge."""
        device = PUBNET_DEVICE
        obs = [
            Observation(device, MQTT_MESSAGES, float(count), now, Source.INTERNAL,
                        ((LABEL_RESULT, result.value),))
            for result, count in self.results.items()
        ]
        obs.append(Observation(device, MQTT_DEVICES_WATCHED, float(self.watched_devices()),
                               now, Source.INTERNAL))
        return obs
