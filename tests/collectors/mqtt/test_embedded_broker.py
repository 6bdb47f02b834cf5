"""The embedded broker under hostile clients (issue 10, item 16), over real sockets.

Each test runs the embedded broker (amqtt behind pubnet's guard) on a free loopback port and
talks raw MQTT 3.1.1 to it, with a real aiomqtt subscriber watching what gets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from collectors.mqtt.broker import AMQTT_VERSION, EmbeddedBroker
from collectors.mqtt.broker_guard import BrokerGuard, Refusal
from collectors.mqtt.component import broker_guard
from pubnet.config import MqttConfig
from testbed import rawmqtt
from tests.collectors.mqtt.conftest import small_inventory
from tests.support import eventually, free_port

pytestmark = pytest.mark.integration

STATUS = "pubnet/v1/status/S0001/gw-1"
TELEMETRY = "pubnet/v1/telemetry/S0001/gw-1"


def guard(**settings: object) -> BrokerGuard:
    config = MqttConfig.model_validate({"connect_timeout": "1s", **settings})
    return broker_guard(config, small_inventory())


@contextlib.asynccontextmanager
async def embedded(the_guard: BrokerGuard | None = None) -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker(the_guard or guard(), "127.0.0.1", free_port()) as broker:
        yield broker


@contextlib.asynccontextmanager
async def watcher(port: int, topic: str = "#", **client: object
                  ) -> AsyncIterator[list[aiomqtt.Message]]:
    """A subscriber collecting what the broker passes on."""
    got: list[aiomqtt.Message] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier="watcher",  # type: ignore[arg-type]
                              protocol=aiomqtt.ProtocolVersion.V311, **client) as sub:
        await sub.subscribe(topic, qos=1)

        async def collect() -> None:
            async for message in sub.messages:
                got.append(message)

        task = asyncio.create_task(collect())
        try:
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def session(port: int, client_id: str = "hostile", **connect: object
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(rawmqtt.connect_packet(client_id, **connect))  # type: ignore[arg-type]
    await writer.drain()
    connack = await asyncio.wait_for(reader.readexactly(4), 10)
    assert connack == b"\x20\x02\x00\x00", connack
    return reader, writer


async def closed_by_broker(reader: asyncio.StreamReader, within: float = 10) -> bytes:
    """Everything the broker sent until it closed the connection (fails if it does not)."""
    data = bytearray()
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(65536):
                data += chunk
    return bytes(data)


def test_amqtt_is_the_release_the_guard_was_written_for() -> None:
    """The guard relies on how amqtt 0.12.1 reads a connection: through
    ``ReaderAdapter.read(n)``, never more than a packet at a time, a ConnectionResetError
    meaning the end of the stream, and ``Broker.external_connected`` for a socket pubnet
    accepted. If this fails, amqtt changed: re-check collectors/mqtt/broker_guard.py and
    broker.py against the new release before moving the pin in pyproject.toml."""
    import amqtt
    from amqtt.adapters import ReaderAdapter
    from amqtt.broker import Broker
    from amqtt.codecs_amqtt import read_or_raise
    from amqtt.errors import NoDataError

    assert amqtt.__version__ == AMQTT_VERSION, (
        f"amqtt {amqtt.__version__} is not {AMQTT_VERSION}: re-check the embedded broker guard")
    assert list(inspect.signature(Broker.external_connected).parameters) == [
        "self", "reader", "writer", "listener_name"]
    assert list(inspect.signature(ReaderAdapter.read).parameters) == ["self", "n"]

    class Resetting(ReaderAdapter):  # type: ignore[misc]
        async def read(self, n: int = -1) -> bytes:
            raise ConnectionResetError

        def feed_eof(self) -> None:
            pass

    with pytest.raises(NoDataError):
        asyncio.run(read_or_raise(Resetting(), 1))


async def test_an_oversized_packet_is_refused_from_its_header() -> None:
    """The broker used to read a whole 100 MB PUBLISH into memory before anyone looked at
    it; now the fixed header is enough to refuse it, and the body is never read."""
    async with embedded(guard(embedded_max_packet_bytes=65_536)) as broker, \
            watcher(broker.port) as got:
        reader, writer = await session(broker.port)
        header = b"\x32" + rawmqtt.remaining_length(100_000_000)
        writer.write(header + b"\x00\x1d" + TELEMETRY.encode() + b"\x00\x01" + b"x" * 65536)
        await closed_by_broker(reader)
        writer.close()
        # at the limit it passes
        _, writer = await session(broker.port, "fine")
        payload = b"x" * (65_536 - 2 - len(TELEMETRY) - 2 - 8)
        writer.write(rawmqtt.publish_packet(TELEMETRY, payload))
        await eventually(lambda: len(got) == 1, within=10, what="the largest packet")
        writer.close()
    assert broker.guard.refused[Refusal.OVERSIZE] == 1
    assert got[0].payload == payload


@pytest.mark.parametrize(("topic", "reason"), [
    (b"pubnet/v1/telemetry/S0001/gw-1\x00evil", Refusal.BAD_TOPIC),
    (b"pubnet/v1/telemetry/S0001/\xff\xfe", Refusal.BAD_TOPIC),
    (b"pubnet/v1/telemetry/+/gw-1", Refusal.BAD_TOPIC),
    (b"", Refusal.BAD_TOPIC),
], ids=["nul", "not-utf8", "wildcard", "empty"])
async def test_an_invalid_topic_is_refused_not_passed_on(topic: bytes, reason: Refusal) -> None:
    """A NUL or bad UTF-8 in a topic was acknowledged and passed on (as "b'...'")."""
    async with embedded() as broker, watcher(broker.port) as got:
        reader, writer = await session(broker.port)
        writer.write(rawmqtt.publish_packet(topic, b'{"uptime_s": 1}', packet_id=7))
        answer = await closed_by_broker(reader)
        writer.close()
        assert answer == b""  # no PUBACK
        await asyncio.sleep(0.2)
    assert got == []
    assert broker.guard.refused[reason] == 1


async def test_retained_messages_only_on_pubnet_status_topics() -> None:
    """Retained messages on any topic were kept for ever; now only a device's status."""
    async with embedded() as broker:
        _, writer = await session(broker.port, "gw-1")
        writer.write(rawmqtt.publish_packet(STATUS, b"online", retain=True))
        await writer.drain()
        for topic in ("spam/forever", "pubnet/v1/status/S0001/ghost",
                      "pubnet/v1/status/S0002/gw-1", TELEMETRY):
            reader, hostile = await session(broker.port)
            hostile.write(rawmqtt.publish_packet(topic, b"x" * 100, retain=True))
            assert await closed_by_broker(reader) == b""
            hostile.close()
        # a retained will outside them is refused at CONNECT (not authorised)
        reader, hostile = await asyncio.open_connection("127.0.0.1", broker.port)
        hostile.write(rawmqtt.connect_packet("will", will_topic="spam/will", will_retain=True))
        assert await closed_by_broker(reader) == b"\x20\x02\x00\x05"
        hostile.close()
        await asyncio.sleep(0.2)
        async with watcher(broker.port) as got:  # a new subscriber gets what was retained
            await eventually(lambda: got, within=10, what="the retained status")
            await asyncio.sleep(0.3)
        writer.close()
    assert [(m.topic.value, m.payload) for m in got] == [(STATUS, b"online")]
    assert broker.guard.refused[Refusal.RETAIN] == 5


async def test_a_password_is_required_when_one_is_set() -> None:
    async with embedded(guard(username="gw", password="s3cret-ลับ")) as broker:
        for credentials in ({}, {"username": "gw", "password": "wrong"},
                            {"username": "other", "password": "s3cret-ลับ"}):
            reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
            writer.write(rawmqtt.connect_packet("guess", **credentials))  # type: ignore[arg-type]
            assert await closed_by_broker(reader) == b"\x20\x02\x00\x04"
            writer.close()
        async with watcher(broker.port, username="gw", password="s3cret-ลับ") as got:
            _, writer = await session(broker.port, "gw-1", username="gw",
                                      password="s3cret-ลับ")
            writer.write(rawmqtt.publish_packet(TELEMETRY, b"{}"))
            await eventually(lambda: got, within=10, what="a logged-in publish")
            writer.close()
    assert broker.guard.refused[Refusal.AUTH] == 3


async def test_a_client_that_never_sends_connect_is_closed() -> None:
    async with embedded(guard(connect_timeout="300ms")) as broker:
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
        writer.write(b"\x10")  # the start of a CONNECT, then nothing
        await closed_by_broker(reader, within=5)
        writer.close()
    assert broker.guard.refused[Refusal.SLOW_CONNECT] == 1


async def test_the_default_broker_listens_on_loopback_only() -> None:
    config = MqttConfig()
    assert config.embedded_host == "127.0.0.1"
    async with EmbeddedBroker(broker_guard(config, small_inventory()), config.embedded_host,
                              free_port()) as broker:
        assert broker._server is not None
        addresses = {s.getsockname()[0] for s in broker._server.sockets}
    assert addresses == {"127.0.0.1"}


async def test_refusals_are_published_as_metrics_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from collectors.mqtt.component import MqttCollector
    from pubnet import catalog
    from pubnet.state import StateStore
    from tests.collectors.mqtt.conftest import running

    caplog.set_level(logging.INFO, logger="pubnet.mqtt")
    port = free_port()
    store = StateStore()
    config = MqttConfig(embedded_port=port, reconnect_min=0.05, reconnect_max=0.3)
    collector = MqttCollector(config, small_inventory(), store, stats_interval=0.1)
    async with running(collector):
        for _ in range(3):
            reader, writer = await session(port)
            writer.write(rawmqtt.publish_packet(b"pubnet/v1/telemetry/S0001/\x00", b"{}"))
            await closed_by_broker(reader)
            writer.close()
        await eventually(lambda: (o := store.latest(
            catalog.PUBNET_DEVICE, catalog.MQTT_BROKER_REFUSED, (("reason", "bad_topic"),)))
            is not None and o.value == 3, within=10, what="the refusal metric")
    lines = [r for r in caplog.records if r.getMessage() == "embedded mqtt broker refused a client"]
    assert len(lines) == 1 and lines[0].reason == "bad_topic"  # type: ignore[attr-defined]


async def test_guard_helpers_never_read_past_a_packet() -> None:
    """Cut and lying CONNECT/PUBLISH/SUBSCRIBE bodies end as MALFORMED, never IndexError."""
    from collectors.mqtt.broker_guard import _Bad

    the_guard = guard()

    class Writer:
        transport = None

        def get_extra_info(self, name: str) -> object:
            return ("127.0.0.1", 1)

    from collectors.mqtt.broker_guard import GuardedReader
    reader = GuardedReader(asyncio.StreamReader(), Writer(), the_guard)  # type: ignore[arg-type]
    packets = [
        rawmqtt.connect_packet("x", will_topic=STATUS, username="u", password="p"),
        rawmqtt.publish_packet(TELEMETRY, b"{}"),
    ]
    for packet in packets:
        for cut in range(2, len(packet)):
            body = packet[:cut]
            short = bytes([body[0]]) + rawmqtt.remaining_length(len(body) - 2) + body[2:]
            reader._connected = packet[0] >> 4 != 1
            with contextlib.suppress(_Bad):
                reader._check(short)
    reader._connected = True
    for body in (b"\x00\x01", b"\x00\x01\x00\x05ab", b"\x00\x01\x00\x01a"):
        with pytest.raises(_Bad):
            reader._check(b"\x82" + rawmqtt.remaining_length(len(body)) + body)

