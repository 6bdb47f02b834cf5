"""The ``mqtt-subscriber`` component: connect, subscribe, stay connected, time heartbeats.

One TaskGroup with three tasks: the connection loop (pubnet's one reconnect loop,
:func:`pubnet.mqttclient.stay_connected`: connect with a persistent session, subscribe,
wait for the connection to drop, back off, again), the heartbeat check (marks
silent devices down) and the stats task (the collector's own metrics into the store). With
no ``mqtt.url`` the embedded broker is started first and stopped last; a port it cannot
listen on stops the component (and pubnet) with an error naming the port and the setting.

A broker that is down never stops pubnet: the loop keeps retrying with capped back-off,
``pubnet_mqtt_connected`` drops to 0 and one warning is logged per outage (and one info line
when it ends). While disconnected, silence from devices is pubnet's blindness, not theirs,
so heartbeat checks pause and every device gets a fresh allowance after reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Collection

import aiomqtt

from collectors.mqtt.broker import EmbeddedBroker, EmbeddedBrokerError
from collectors.mqtt.broker_guard import BrokerGuard
from collectors.mqtt.ingest import Ingestor
from collectors.mqtt.names import Result
from collectors.mqtt.read_path import ReadPath
from collectors.mqtt.redelivery import RedeliveryFilter
from collectors.mqtt.topics import Kind, filters, parse_topic
from inventory.model import Inventory
from pubnet.catalog import (
    LABEL_REASON,
    MQTT_BROKER_REFUSED,
    MQTT_CONNECT_FAILURES,
    MQTT_CONNECTED,
    MQTT_RECONNECTS,
    PUBNET_DEVICE,
)
from pubnet.config import MqttConfig
from pubnet.model import Observation, Source
from pubnet.mqttclient import client_options, refused, stay_connected, until_disconnected
from pubnet.state import StateStore

log = logging.getLogger("pubnet.mqtt")

COMPONENT_NAME = "mqtt-subscriber"


def broker_guard(config: MqttConfig, inventory: Inventory) -> BrokerGuard:
    """The embedded broker's limits for this config and inventory.

    Retained messages are allowed on the status topic of each inventory device at its own
    site and nowhere else, so what the broker keeps is bounded by the inventory.
    """
    site_of = {device.device_id: device.site_id for device in inventory.devices.values()}

    def retain_allowed(topic: str) -> bool:
        parsed = parse_topic(topic)
        return (parsed is not None and parsed[0] is Kind.STATUS
                and site_of.get(parsed[2]) == parsed[1])

    return BrokerGuard(
        max_packet_bytes=config.embedded_max_packet_bytes,
        retain_allowed=retain_allowed,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
        connect_timeout=config.connect_timeout,
    )


class MqttCollector:
    """Subscribes to schema-v1 topics and feeds the state store (see the module docstring)."""

    name = COMPONENT_NAME

    def __init__(
        self,
        config: MqttConfig,
        inventory: Inventory,
        store: StateStore,
        *,
        stats_interval: float = 5.0,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        elsewhere: Collection[str] = frozenset(),
    ) -> None:
        """``elsewhere``: the devices other shards watch (see :class:`Ingestor`)."""
        self.config = config
        self.store = store
        self.ingestor = Ingestor(store, inventory, config, clock, elsewhere=elsewhere)
        self.broker_guard = broker_guard(config, inventory) if config.embedded else None
        self._stats_interval = stats_interval
        self._jitter = jitter
        self._clock = clock
        self.connected = False
        self.connections = 0
        """Successful connections so far; all but the first are reconnects."""
        self.connect_failures = 0
        self._connected_event = asyncio.Event()
        self.ready = asyncio.Event()
        """Set at the first connection (and subscription); a later outage shows in
        ``pubnet_mqtt_connected``, not in readiness."""
        self._redeliveries = RedeliveryFilter()

    @property
    def reconnects(self) -> int:
        return max(0, self.connections - 1)

    async def wait_connected(self) -> None:
        """Return once the subscriber is connected and subscribed (tests, start-up)."""
        await self._connected_event.wait()

    # -- the component --------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self.broker_guard is not None:
                    try:
                        await stack.enter_async_context(EmbeddedBroker(
                            self.broker_guard, self.config.embedded_host,
                            self.config.embedded_port))
                    except EmbeddedBrokerError as exc:
                        # Fatal, like any listener that cannot bind: connecting to whatever
                        # holds the port (another pubnet's broker) would leave this pubnet
                        # blind while it reported itself connected.
                        log.error("embedded mqtt broker not started, mqtt collector stops",
                                  extra={"error": str(exc)})
                        raise
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._connection_loop(), name="mqtt-connection")
                    group.create_task(self._heartbeat_loop(), name="mqtt-heartbeats")
                    group.create_task(self._stats_loop(), name="mqtt-stats")
        finally:
            self._set_connected(False)
            self._publish_stats()

    # -- connection -----------------------------------------------------------------------

    async def _connection_loop(self) -> None:
        """pubnet's one reconnect loop; this collector counts as connected once subscribed."""
        await stay_connected(
            self.config,
            lambda context: client_options(self.config, self._on_message, context),
            until_disconnected, log=log, what=COMPONENT_NAME,
            on_connected=self._told_connected, prepare=self._prepare,
            on_connect=self._subscribe_or_fail, on_failed_attempt=self._count_failure,
            jitter=self._jitter)

    def _prepare(self, client: aiomqtt.Client) -> None:
        # aiomqtt's paho client (one per connection) reads through pubnet's path.
        # ``_client`` is aiomqtt's private attribute: aiomqtt is pinned exactly
        # and tests/test_library_internals.py fails if it moves.
        ReadPath(client._client, self._on_publish)

    def _told_connected(self, connected: bool) -> None:
        if connected:
            self.connections += 1
            self.ingestor.grace(self._clock())
        self._set_connected(connected)

    def _count_failure(self) -> None:
        self.connect_failures += 1

    async def _subscribe_or_fail(self, client: aiomqtt.Client) -> None:
        """Subscribe; raises MqttError when refused or when the connection drops first.

        The connection is watched while subscribing: with a large backlog the broker sends
        queued messages first and the SUBACK only after them, so the subscription may take
        longer than any fixed timeout."""
        qos: int = self.config.qos
        topics: list[tuple[str, int]] = [(t, qos) for t in filters(self.config.shared_group)]
        watcher = asyncio.create_task(until_disconnected(client), name="mqtt-watch")
        subscribing = asyncio.create_task(client.subscribe(topics, timeout=math.inf),
                                          name="mqtt-subscribe")
        try:
            await asyncio.wait({subscribing, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not subscribing.done():
                subscribing.cancel()
            if not watcher.done():
                watcher.cancel()
        if watcher.done():
            await watcher  # the connection dropped: raises its MqttError
        if subscribing.cancelled():
            raise aiomqtt.MqttError("disconnected while subscribing")
        refusals = refused([topic for topic, _ in topics], subscribing.result())
        if refusals:
            raise aiomqtt.MqttError(f"broker refused subscription to {', '.join(refusals)}")

    def _on_message(self, message: aiomqtt.Message) -> None:
        """The messages paho decodes (QoS 2, topic aliases, ones split across reads)."""
        payload = message.payload
        if not isinstance(payload, bytes):
            payload = bytes(payload) if isinstance(payload, bytearray) else b""
        self._on_publish(message.topic.value, payload, message.qos, message.retain,
                         message.mid)

    def _on_publish(self, topic: str, payload: bytes, qos: int, retain: bool,
                    packet_id: int) -> None:
        if qos and self._redeliveries.is_redelivery(packet_id, topic, payload):
            self.ingestor.results[Result.DUPLICATE] += 1
            return
        self.ingestor.handle(topic, payload, retain)

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        if connected:
            self._connected_event.set()
            self.ready.set()
        else:
            self._connected_event.clear()
        now = self._clock()
        self.store.publish([
            Observation(PUBNET_DEVICE, MQTT_CONNECTED, float(connected), now,
                        Source.INTERNAL),
            Observation(PUBNET_DEVICE, MQTT_RECONNECTS, float(self.reconnects), now,
                        Source.INTERNAL),
        ])

    # -- heartbeats and stats -------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        period = min(5.0, max(0.05, self.config.heartbeat_interval / 4))
        while True:
            await asyncio.sleep(period)
            if self.connected:
                self.ingestor.check_heartbeats()

    async def _stats_loop(self) -> None:
        while True:
            self._publish_stats()
            await asyncio.sleep(self._stats_interval)

    def _publish_stats(self) -> None:
        now = self._clock()
        device = PUBNET_DEVICE
        obs = self.ingestor.stats_observations(now)
        obs.extend((
            Observation(device, MQTT_CONNECTED, float(self.connected), now, Source.INTERNAL),
            Observation(device, MQTT_RECONNECTS, float(self.reconnects), now,
                        Source.INTERNAL),
            Observation(device, MQTT_CONNECT_FAILURES, float(self.connect_failures), now,
                        Source.INTERNAL),
        ))
        if self.broker_guard is not None:
            obs.extend(
                Observation(device, MQTT_BROKER_REFUSED, float(count), now, Source.INTERNAL,
                            ((LABEL_REASON, reason.value),))
                for reason, count in self.broker_guard.refused.items())
        self.store.publish(obs)

