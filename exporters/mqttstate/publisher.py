"""The ``state-publisher`` component: a shard's device status and liveness on the broker.

What is published, and why so little: the alerting instance needs the consecutive failures
that confirm an outage, every status change (recoveries, flapping) and reboots; a device
that stays ok says nothing new, so at 100,000 devices polled every 60 s a healthy fleet
sends nothing and a district cut sends a few messages per device per interval. Each message
is QoS 1 and retained, so the broker keeps every device's last status for an alerting
instance that starts (or restarts) later.

Liveness: a retained ``online`` birth on ``pubnet/v1/shards/{I}`` at every connect, a last
will (retained ``offline``, reason ``lost``) the broker publishes if the connection dies
(a crash, SIGKILL, a network cut), an ``offline`` (reason ``stopped``) at a clean stop, and
an ``online`` heartbeat every ``cluster.heartbeat`` seconds so that a hung shard, whose
connection the kernel keeps alive, is also noticed.

While the broker is away nothing is queued here: attempts wait in the store subscription
and, at the next connect, are superseded by the store itself. Every device whose status
differs from the one last published, or which is still failing with newer attempts, is
published again, so the retained states catch up with what happened in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiomqtt

from inventory.model import Inventory
from pubnet.catalog import PUBNET_DEVICE, STATE_CONNECTED, STATE_PUBLISHED
from pubnet.config import ClusterConfig, MqttConfig
from pubnet.model import Attempt, Observation, PollStatus, Source
from pubnet.mqttclient import client_options, stay_connected
from pubnet.shard import Shard
from pubnet.state import StateStore, Subscription
from pubnet.statewire import (
    VERSION,
    ShardMessage,
    ShardState,
    encode_attempt,
    encode_shard,
    shard_topic,
    state_topic,
)

log = logging.getLogger("pubnet.mqttstate")

COMPONENT_NAME = "state-publisher"
CHUNK = 1000
"""Messages in flight at once (one PUBACK wait each); a storm goes out in chunks of this."""
STOP_PUBLISH_TIMEOUT = 1.0
"""Seconds the ``offline`` of a clean stop may take before the stop goes on without it."""
_OK = PollStatus.OK


def worth_publishing(attempt: Attempt) -> bool:
    """Whether alerting needs this attempt: a failure, a change, or a reboot (inlined in
    :meth:`StatePublisher._forward`, which runs it for every attempt of the shard)."""
    return attempt.status is not _OK or attempt.previous is not attempt.status \
        or attempt.rebooted


def _ignore(_message: aiomqtt.Message) -> None:
    """The publisher subscribes to nothing."""


class StatePublisher:
    """Publishes the shard's attempts and liveness (see the module docstring)."""

    name = COMPONENT_NAME

    def __init__(self, config: MqttConfig, cluster: ClusterConfig, inventory: Inventory,
                 store: StateStore, shard: Shard, *, stats_interval: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = store
        self.shard = shard
        self._spec = str(shard)
        self._heartbeat = cluster.heartbeat
        self._clock = clock
        self._stats_interval = stats_interval
        self._topics = {d.device_id: state_topic(d.site_id, d.device_id)
                        for d in inventory.devices.values()}
        self._sites = len(inventory.sites)
        self._published: dict[str, tuple[PollStatus, float]] = {}
        """Device -> (status, ts) last acknowledged by the broker: what it retains."""
        self.published = 0
        self.connected = False
        self.ready = asyncio.Event()
        """Set once connected and born; a later outage shows in ``pubnet_state_connected``."""

    # -- the component ----------------------------------------------------------------------

    async def run(self) -> None:
        with self.store.subscription(COMPONENT_NAME, metrics=()) as sub:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(stay_connected(
                        self.config, self._options, lambda client: self._session(client, sub),
                        log=log, what=COMPONENT_NAME, on_connected=self._set_connected),
                        name="state-publisher-connection")
                    group.create_task(self._stats_loop(), name="state-publisher-stats")
            finally:
                self._publish_stats()  # the last count; stay_connected told the disconnect

    def _options(self, context: Any) -> dict[str, Any]:
        will = aiomqtt.Will(shard_topic(self.shard), self._shard_payload(
            ShardState.OFFLINE, "lost"), qos=1, retain=True)
        options = client_options(self.config, _ignore, context,
                                 client_id=f"{self.config.client_id}-state", will=will,
                                 persistent=False)
        options["max_inflight_messages"] = CHUNK
        return options

    def _shard_payload(self, state: ShardState, reason: str = "") -> bytes:
        return encode_shard(ShardMessage(VERSION, self._spec, state, self._clock(),
                                         self._heartbeat, reason, self._sites,
                                         len(self._topics)))

    async def _session(self, client: aiomqtt.Client, sub: Subscription) -> None:
        topic = shard_topic(self.shard)
        # a storm keeps CHUNK publishes waiting for their PUBACK by design: aiomqtt would
        # log a warning per publish beyond its default of 10
        client.pending_calls_threshold = CHUNK + 10
        try:
            await client.publish(topic, self._shard_payload(ShardState.ONLINE, "birth"), qos=1,
                                 retain=True)
            sub.drain()  # queued while away: the store's statuses below supersede them
            caught_up = await self._send(client, self._catch_up())
            if caught_up:
                log.info("device states republished after connecting",
                         extra={"messages": caught_up, "shard": self._spec})
            self.ready.set()
            await self._forward(client, sub)
        except asyncio.CancelledError:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await asyncio.wait_for(client.publish(
                    topic, self._shard_payload(ShardState.OFFLINE, "stopped"), qos=1,
                    retain=True), STOP_PUBLISH_TIMEOUT)
            raise

    async def _forward(self, client: aiomqtt.Client, sub: Subscription) -> None:
        """Publish what alerting needs from each batch; a heartbeat every interval."""
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self._heartbeat
        topic = shard_topic(self.shard)
        while True:
            try:
                batches = await sub.get_all(max(0.0, next_beat - loop.time()))
            except EOFError:
                return
            wanted = [a for batch in batches for a in batch.attempts
                      if a.status is not _OK or a.previous is not a.status or a.rebooted]
            if wanted:
                await self._send(client, wanted)
            if loop.time() >= next_beat:
                next_beat = loop.time() + self._heartbeat
                await client.publish(topic, self._shard_payload(ShardState.ONLINE), qos=1,
                                     retain=True)

    def _catch_up(self) -> list[Attempt]:
        """The store's statuses the broker does not retain yet (see the module docstring)."""
        attempts = []
        published = self._published
        for device, state in self.store.statuses().items():
            if device not in self._topics or state.status is None or state.source is None:
                continue
            last = published.get(device)
            if last is not None and last[0] is state.status and (
                    state.status is _OK or last[1] >= state.last_attempt):
                continue
            attempts.append(Attempt(device, state.status, state.last_attempt, state.source,
                                    state.detail, previous=last[0] if last else None))
        return attempts

    async def _send(self, client: aiomqtt.Client, attempts: Sequence[Attempt]) -> int:
        """Publish ``attempts`` (QoS 1, retained), a chunk at a time; returns how many.
        Raises :class:`aiomqtt.MqttError` when the connection drops."""
        topics, spec, published = self._topics, self._spec, self._published
        sent = 0
        for start in range(0, len(attempts), CHUNK):
            chunk = [a for a in attempts[start:start + CHUNK] if a.device in topics]
            results = await asyncio.gather(*(
                client.publish(topics[a.device], encode_attempt(a, spec), qos=1, retain=True)
                for a in chunk), return_exceptions=True)
            failed: BaseException | None = None
            for attempt, result in zip(chunk, results, strict=True):
                if isinstance(result, BaseException):
                    failed = failed or result
                    continue
                published[attempt.device] = (attempt.status, attempt.ts)
                sent += 1
                self.published += 1
            if failed is not None:  # the connection dropped; the next connect catches up
                raise failed
        return sent

    # -- metrics ----------------------------------------------------------------------------

    def _set_connected(self, connected: bool) -> None:
        """Told by :func:`~pubnet.mqttclient.stay_connected` at each change."""
        self.connected = connected
        self._publish_stats()

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self._stats_interval)
            self._publish_stats()

    def _publish_stats(self) -> None:
        now = self._clock()
        self.store.publish([
            Observation(PUBNET_DEVICE, STATE_PUBLISHED, float(self.published), now,
                        Source.INTERNAL),
            Observation(PUBNET_DEVICE, STATE_CONNECTED, float(self.connected), now,
                        Source.INTERNAL),
        ])
