"""How pubnet connects to the broker: client options, TLS and the reconnect loop.

Ground layer: the MQTT collector (``collectors/mqtt``), the state feed
(``collectors/statefeed``) and the shard state publisher (``exporters/mqttstate``) all
connect through here, and components do not import each other.

The session is persistent so that the broker queues QoS 1 messages while pubnet is away
(a restart, a deploy, a network blip) and delivers them when it is back: a fixed client
id, clean start off, and for MQTT 5 a session expiry. Reconnects wait pubnet's one capped
exponential back-off (:mod:`pubnet.backoff`) with up to half of each delay taken off at
random, so a fleet of pubnet instances does not hammer a recovering broker in step.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pubnet.backoff import backoff
from pubnet.config import MqttConfig
from pubnet.failures import FailureLog

MessageSink = Callable[[aiomqtt.Message], None]


def tls_context(config: MqttConfig) -> ssl.SSLContext:
    """The client TLS context (reads files: call it off the event loop).

    Raises :class:`OSError` or :class:`ssl.SSLError` for unreadable or invalid files.
    """
    context = ssl.create_default_context(
        cafile=str(config.ca_file) if config.ca_file is not None else None
    )
    if config.cert_file is not None and config.key_file is not None:
        context.load_cert_chain(str(config.cert_file), str(config.key_file))
    return context


def direct_queue(sink: MessageSink) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A queue class for aiomqtt's ``queue_type`` that hands each message to ``sink``.

    aiomqtt puts every message it reads into its queue and ``client.messages`` takes them
    out one per asyncio task; at thousands of messages a second that task churn costs more
    than decoding and storing the message. Handing the message over where aiomqtt reads it
    also means paho sends the QoS 1 acknowledgement only after ``sink`` has returned, i.e.
    after the message is in the state store. ``sink`` must not raise and must not block.
    """

    class DirectQueue(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            sink(item)

    return DirectQueue


async def until_disconnected(client: aiomqtt.Client) -> NoReturn:
    """Wait for the connection to drop (raises :class:`aiomqtt.MqttError` then).

    With a :func:`direct_queue` messages never come out of this iterator (the queue hands
    them to its sink as they are read), so iterating only waits for aiomqtt to report the
    disconnection.
    """
    async for _ in client.messages:
        pass
    raise aiomqtt.MqttError("message stream ended")


def refused(topics: Sequence[str], granted: Sequence[object]) -> list[str]:
    """The topic filters of a SUBSCRIBE whose SUBACK entry (``granted``, in the same
    order) is a failure, 0x80 or more: an int for MQTT 3.1.1, a ReasonCode for MQTT 5."""
    return [topic for topic, code in zip(topics, granted, strict=False)
            if _reason_value(code) >= 0x80]


def _reason_value(code: object) -> int:
    if isinstance(code, int):
        return code
    value = getattr(code, "value", 0)
    return value if isinstance(value, int) else 0


def client_options(
    config: MqttConfig,
    sink: MessageSink,
    context: ssl.SSLContext | None,
    *,
    client_id: str | None = None,
    will: aiomqtt.Will | None = None,
    persistent: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for :class:`aiomqtt.Client` (host and port included).

    ``client_id`` replaces ``mqtt.client_id`` (a second client of the same pubnet needs its
    own); ``will`` is the last will the broker publishes when the connection is lost;
    ``persistent`` False asks for a clean session (a publisher that subscribes to nothing
    has nothing for the broker to keep)."""
    version5 = config.mqtt_version == "5"
    options: dict[str, Any] = {
        "hostname": config.host,
        "port": config.port,
        "identifier": client_id or config.client_id,
        "queue_type": direct_queue(sink),
        "keepalive": max(1, round(config.keepalive)),
        "timeout": config.connect_timeout,
        "tls_context": context,
    }
    if will is not None:
        options["will"] = will
    if config.username is not None:
        options["username"] = config.username
        if config.password is not None:
            options["password"] = config.password.get_secret_value()
    if version5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        expiry = round(config.session_expiry) if persistent else 0
        properties.SessionExpiryInterval = max(0, min(0xFFFFFFFF, expiry))
        options.update(
            protocol=aiomqtt.ProtocolVersion.V5, clean_start=not persistent,
            properties=properties
        )
    else:
        options.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=not persistent)
    return options


RECONNECT_SPREAD = 0.5
"""Jitter takes up to half of each reconnect delay ("equal jitter": a floor, never 0)."""

Session = Callable[[aiomqtt.Client], Awaitable[None]]
"""What to do while connected; returns or raises :class:`aiomqtt.MqttError` when the
connection drops."""


async def stay_connected(config: MqttConfig, options: Callable[[ssl.SSLContext | None],
                                                                dict[str, Any]],
                         session: Session, *, log: logging.Logger, what: str,
                         on_connected: Callable[[bool], None] = lambda _up: None,
                         prepare: Callable[[aiomqtt.Client], None] = lambda _client: None,
                         on_connect: Session | None = None,
                         on_failed_attempt: Callable[[], None] = lambda: None,
                         jitter: Callable[[], float] = random.random) -> NoReturn:
    """Connect with ``options(tls context)``, run ``session(client)`` while connected,
    and reconnect after the capped back-off of ``mqtt.reconnect_min``/``reconnect_max``,
    forever (until cancelled). A broker that is down never raises: one warning per outage
    and one info line when it ends, both naming ``what`` and the broker.
    ``on_connected(True/False)`` is told each change, and False when cancelled while
    connected, so a component's connected gauge needs no bookkeeping of its own.

    A component whose "connected" means more than the broker's CONNACK gives the rest:
    ``prepare(client)`` runs before connecting (a read path must be in place before the
    broker delivers a persistent session's backlog); ``on_connect(client)`` runs after the
    CONNACK and before the connection counts as up (a subscription), and raising
    :class:`aiomqtt.MqttError` there makes the attempt a failed one;
    ``on_failed_attempt()`` is told each attempt that failed before counting as up."""
    broker = f"{config.host}:{config.port}"
    attempt = 0
    outage = FailureLog(log, "mqtt broker unreachable; retrying with back-off",
                        "mqtt broker reachable again", duration_field="outage_s",
                        client=what, broker=broker)
    context: ssl.SSLContext | None = None
    first = True
    connected = False

    def tell(up: bool) -> None:
        nonlocal connected
        if up != connected:
            connected = up
            on_connected(up)

    try:
        while True:
            try:
                if config.tls and context is None:
                    context = await asyncio.to_thread(tls_context, config)
                arguments = options(context)
                client = aiomqtt.Client(**arguments)
                prepare(client)
                async with client:
                    attempt = 0
                    if on_connect is not None:
                        await on_connect(client)
                    tell(True)
                    if not outage.worked() and first:
                        log.info("mqtt connected", extra={
                            "client": what, "broker": broker,
                            "client_id": arguments["identifier"],
                            "protocol": config.mqtt_version})
                    first = False
                    await session(client)
            except (aiomqtt.MqttError, OSError, ssl.SSLError, ValueError) as exc:
                # ValueError: paho rejects some option combinations at connect time.
                if not connected:
                    on_failed_attempt()
                outage.failed(error=str(exc) or type(exc).__name__)
            tell(False)
            await asyncio.sleep(backoff(attempt + 1, initial=config.reconnect_min,
                                        cap=config.reconnect_max, jitter=jitter(),
                                        spread=RECONNECT_SPREAD))
            attempt += 1
    finally:
        tell(False)
