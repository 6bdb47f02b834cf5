"""The ``state-feed`` component: the shards' device status into this pubnet's store.

Runs on the alerting instance (role ``alerting`` without ``poll``), which polls nothing: it
subscribes to the shards' state and liveness topics (:mod:`pubnet.statewire`) with a
persistent session (``mqtt.client_id`` fixed, clean start off), so QoS 1 messages sent
while it restarts wait at the broker, and the retained last status of every device arrives
at each subscription.

Each state message becomes one :meth:`~pubnet.state.StateStore.set_status` call, the same
attempt record a local collector would have made (status, ts, source, detail,
``counts_at_once``, ``rebooted``), so alerting, history and the status page work as on one
machine. A message no newer than the last one used for its device (the retained copy sent
again at a reconnect, a shard's catch-up after a broker outage) is counted as a duplicate
and not used twice. A payload that cannot be used is counted by reason in
``pubnet_state_messages_rejected_total`` and logged once per reason; nothing here raises.

Shard liveness is published as ``pubnet_shard_up{shard="I/N"}`` (and
``pubnet_shards_online``), which alerting turns into ``collector_down`` incidents.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiomqtt

from collectors.statefeed.shards import ShardChange, ShardWatch
from inventory.model import Inventory
from pubnet.catalog import (
    LABEL_REASON,
    LABEL_RESULT,
    LABEL_SHARD,
    PUBNET_DEVICE,
    SHARD_UP,
    SHARDS_ONLINE,
    STATE_CONNECTED,
    STATE_RECEIVED,
    STATE_REJECTED,
)
from pubnet.config import ClusterConfig, MqttConfig
from pubnet.model import Observation, Source
from pubnet.mqttclient import client_options, refused, stay_connected, until_disconnected
from pubnet.state import StateStore
from pubnet.statewire import (
    SHARDS_FILTER,
    SHARDS_PREFIX,
    STATE_FILTER,
    Rejected,
    WireError,
    decode_shard,
    decode_state,
    parse_shard_topic,
    parse_state_topic,
    site_segment,
)

log = logging.getLogger("pubnet.statefeed")

COMPONENT_NAME = "state-feed"
ACCEPTED = "accepted"
DUPLICATE = "duplicate"


class StateFeed:
    """Feeds the store from the shards (see the module docstring)."""

    name = COMPONENT_NAME

    def __init__(self, config: MqttConfig, cluster: ClusterConfig, inventory: Inventory,
                 store: StateStore, *, stats_interval: float = 5.0, check_interval: float = 0.5,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = store
        self._devices = inventory.devices
        self._clock = clock
        self._stats_interval = stats_interval
        self._check_interval = check_interval
        self.shards = ShardWatch(cluster.missed)
        self._last_ts: dict[str, float] = {}
        self.received: Counter[str] = Counter()
        self.rejected: Counter[Rejected] = Counter()
        self._logged: set[Rejected] = set()
        self.connected = False
        self.ready = asyncio.Event()
        """Set once subscribed the first time."""

    # -- the component ----------------------------------------------------------------------

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(stay_connected(
                self.config, self._options, self._session, log=log, what=COMPONENT_NAME,
                on_connected=self._set_connected), name="state-feed-connection")
            group.create_task(self._check_loop(), name="state-feed-shards")
            group.create_task(self._stats_loop(), name="state-feed-stats")

    def _options(self, context: Any) -> dict[str, Any]:
        return client_options(self.config, self._on_message, context)

    async def _session(self, client: aiomqtt.Client) -> None:
        granted = await client.subscribe([(STATE_FILTER, 1), (SHARDS_FILTER, 1)],
                                         timeout=math.inf)
        if refused([STATE_FILTER, SHARDS_FILTER], granted):
            raise aiomqtt.MqttError(f"broker refused the subscription to {STATE_FILTER}, "
                                    f"{SHARDS_FILTER}")
        self.ready.set()
        await until_disconnected(client)  # messages go to _on_message as they are read

    # -- messages ---------------------------------------------------------------------------

    def _on_message(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        if not isinstance(payload, bytes):
            payload = bytes(payload) if isinstance(payload, bytearray) else b""
        self.handle(message.topic.value, payload, retained=bool(message.retain))

    def handle(self, topic: str, payload: bytes, *, retained: bool = False) -> None:
        """One message from the broker; never raises. ``retained``: the broker's stored
        copy, sent because we subscribed, which says nothing of the sender being alive."""
        try:
            if topic.startswith(SHARDS_PREFIX):
                self._shard(topic, payload)
            else:
                self._state(topic, payload, live=not retained)
        except WireError as exc:
            self._reject(exc.reason, topic, str(exc))

    def _state(self, topic: str, payload: bytes, *, live: bool = False) -> None:
        site, device_id = parse_state_topic(topic)
        if not payload:
            return  # a retained state cleared (a device retired): nothing to use
        message = decode_state(payload)
        device = self._devices.get(device_id)
        if device is None:
            raise WireError(Rejected.UNKNOWN_DEVICE, f"device {device_id!r} is not in the "
                            "inventory")
        if site_segment(device_id, device.site_id) != site:
            raise WireError(Rejected.SITE_MISMATCH, f"device {device_id!r} is at site "
                            f"{site_segment(device_id, device.site_id)!r}, not {site!r}")
        if live:
            self._heard_from(message.shard)
        if message.ts <= self._last_ts.get(device_id, 0.0):
            self.received[DUPLICATE] += 1
            return
        self._last_ts[device_id] = message.ts
        self.received[ACCEPTED] += 1
        self.store.set_status(device_id, message.status, message.ts, message.source,
                              message.detail, counts_at_once=message.counts_at_once,
                              rebooted=message.rebooted)

    def _heard_from(self, shard: str) -> None:
        """The shard ``I/N`` that sent a live state is alive (see
        :mod:`collectors.statefeed.shards`); a malformed name is simply not counted."""
        index, _, _count = shard.partition("/")
        if index.isdigit():
            self.shards.heard(int(index), self._clock())

    def _shard(self, topic: str, payload: bytes) -> None:
        index = parse_shard_topic(topic)
        now = self._clock()
        if not payload:
            gone = self.shards.forget(index)
            if gone is not None:
                log.info("shard retired (its retained topic was cleared)",
                         extra={"shard": gone.spec})
                self._publish_shards(now, forget=True)
            return
        change = self.shards.message(index, decode_shard(payload), now)
        if change is not None:
            self._changed([change], now)

    def _reject(self, reason: Rejected, topic: str, error: str) -> None:
        self.rejected[reason] += 1
        if reason not in self._logged:
            self._logged.add(reason)
            log.warning("state message rejected (logged once per reason; counted in "
                        "pubnet_state_messages_rejected_total)",
                        extra={"reason": reason.value, "topic": topic, "error": error})

    # -- shards -----------------------------------------------------------------------------

    def _changed(self, changes: list[ShardChange], now: float) -> None:
        for change in changes:
            if change.online:
                log.info("shard online", extra={"shard": change.spec,
                                                "reason": change.reason})
            else:
                log.warning("shard gone", extra={"shard": change.spec,
                                                 "reason": change.reason})
        self._publish_shards(now, forget=True)

    def check(self, now: float) -> None:
        """Shards silent too long go offline (called every ``check_interval``)."""
        changes = self.shards.expire(now)
        if changes:
            self._changed(changes, now)

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval)
            self.check(self._clock())

    def _publish_shards(self, now: float, *, forget: bool = False) -> None:
        if forget:  # a shard retired or renumbered: its old series must not linger
            self.store.forget(PUBNET_DEVICE, SHARD_UP)
        views = list(self.shards.shards.values())
        self.store.publish([
            *(Observation(PUBNET_DEVICE, SHARD_UP, float(v.online), now, Source.INTERNAL,
                          ((LABEL_SHARD, v.spec),)) for v in views),
            Observation(PUBNET_DEVICE, SHARDS_ONLINE, float(self.shards.online()), now,
                        Source.INTERNAL),
        ])

    # -- metrics ----------------------------------------------------------------------------

    def _set_connected(self, connected: bool) -> None:
        """Told by :func:`~pubnet.mqttclient.stay_connected` at each change."""
        self.connected = connected
        self._publish_stats()

    async def _stats_loop(self) -> None:
        while True:
            self._publish_stats()
            self._publish_shards(self._clock())
            await asyncio.sleep(self._stats_interval)

    def _publish_stats(self) -> None:
        now = self._clock()
        self.store.publish([
            Observation(PUBNET_DEVICE, STATE_CONNECTED, float(self.connected), now,
                        Source.INTERNAL),
            *(Observation(PUBNET_DEVICE, STATE_RECEIVED, float(self.received[result]), now,
                          Source.INTERNAL, ((LABEL_RESULT, result),))
              for result in (ACCEPTED, DUPLICATE)),
            *(Observation(PUBNET_DEVICE, STATE_REJECTED, float(count), now, Source.INTERNAL,
                          ((LABEL_REASON, reason.value),))
              for reason, count in sorted(self.rejected.items())),
        ])

