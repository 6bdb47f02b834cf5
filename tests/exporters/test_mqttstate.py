"""The shard state publisher against a real Mosquitto: failures, changes and reboots are
published retained and a steady ok device is silent; a birth at connect, ``offline``
(``stopped``) at a clean stop; after a broker restart the states that changed meanwhile
are published again."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from exporters.mqttstate.publisher import StatePublisher
from pubnet.config import ClusterConfig, MqttConfig
from pubnet.model import PollStatus, Source
from pubnet.shard import Shard
from pubnet.state import StateStore
from testbed.mosquitto import Mosquitto
from tests.alerting.builders import district_inventory
from tests.support import eventually, free_port, require_binary

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(publisher: StatePublisher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(publisher.run())
    try:
        await asyncio.wait_for(publisher.ready.wait(), 20)
        yield task
    finally:
        task.cancel()
        # bounded: this test has hung until pytest's 300 s timeout twice, whose dump shows
        # threads but not where a task waits
        done, _ = await asyncio.wait({task}, timeout=20)
        if not done:
            stack = io.StringIO()
            task.print_stack(file=stack)
            raise AssertionError(f"the publisher did not stop when cancelled:\n"
                                 f"{stack.getvalue()}")
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def retained(port: int, topic: str, within: float = 2.0) -> dict[str, bytes]:
    """Every retained message under ``topic`` right now."""
    found: dict[str, bytes] = {}
    # each reader its own client id, and a bound on connecting: once a whole test hung
    # here until pytest's 300 s timeout
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"reader-{uuid.uuid4().hex[:8]}",
                              timeout=10) as client:
        await client.subscribe(topic, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                async for message in client.messages:
                    if message.retain:
                        found[message.topic.value] = bytes(message.payload)  # type: ignore[arg-type]
    return found


async def test_what_a_shard_publishes(tmp_path: Path) -> None:
    binary = require_binary("mosquitto")
    store = StateStore()
    # every step is bounded, yet the test once hung until pytest's timeout: a timeout of
    # its own raises where it waits
    async with asyncio.timeout(120):
        await _what_a_shard_publishes(binary, tmp_path, store)


async def _what_a_shard_publishes(binary: str, tmp_path: Path, store: StateStore) -> None:
    with Mosquitto(binary, tmp_path, free_port()) as broker:
        config = MqttConfig.model_validate({"url": f"mqtt://127.0.0.1:{broker.port}",
                                            "client_id": "shard-test",
                                            "reconnect_min": "50ms", "reconnect_max": "200ms"})
        inventory = district_inventory()
        publisher = StatePublisher(config, ClusterConfig(heartbeat=0.2), inventory, store,
                                   Shard(1, 2), stats_interval=0.1)
        async with running(publisher):
            store.set_status("S-1-gw", PollStatus.OK, 1.0, Source.SNMP)  # first: a change
            store.set_status("S-1-gw", PollStatus.OK, 2.0, Source.SNMP)  # steady: silent
            store.set_status("S-2-gw", PollStatus.TIMEOUT, 2.0, Source.SNMP, "no answer")
            store.set_status("S-2-gw", PollStatus.TIMEOUT, 3.0, Source.SNMP, "no answer")
            store.set_status("core-1", PollStatus.OK, 3.0, Source.SNMP, rebooted=True)
            await eventually(lambda: publisher.published == 4, 10, "four messages")
            states = await retained(broker.port, "pubnet/v1/state/#")
            shards = await retained(broker.port, "pubnet/v1/shards/+")
        assert set(states) == {"pubnet/v1/state/S-1/S-1-gw", "pubnet/v1/state/S-2/S-2-gw",
                               "pubnet/v1/state/core-1/core-1"}
        assert json.loads(states["pubnet/v1/state/S-2/S-2-gw"])["ts"] == 3.0
        assert json.loads(states["pubnet/v1/state/core-1/core-1"])["rebooted"] is True
        born = json.loads(shards["pubnet/v1/shards/1"])
        assert (born["shard"], born["state"]) == ("1/2", "online")
        stopped = json.loads((await retained(broker.port, "pubnet/v1/shards/+"))[
            "pubnet/v1/shards/1"])
        assert (stopped["state"], stopped["reason"]) == ("offline", "stopped")

        # broker down while a device recovers and another fails: caught up at reconnect
        publisher = StatePublisher(config, ClusterConfig(heartbeat=0.2), inventory, store,
                                   Shard(1, 2))
        async with running(publisher):
            broker.stop()
            store.set_status("S-2-gw", PollStatus.OK, 10.0, Source.SNMP)
            store.set_status("S-3-gw", PollStatus.TIMEOUT, 10.0, Source.SNMP)
            await asyncio.sleep(0.3)
            broker.start()
            await eventually(lambda: publisher.connected, 20, "reconnected")
            await eventually(lambda: publisher._published.get("S-2-gw") == (
                PollStatus.OK, 10.0), 20, "S-2-gw caught up")
            states = await retained(broker.port, "pubnet/v1/state/#")
        assert json.loads(states["pubnet/v1/state/S-2/S-2-gw"])["status"] == "ok"
        assert json.loads(states["pubnet/v1/state/S-3/S-3-gw"])["status"] == "timeout"
