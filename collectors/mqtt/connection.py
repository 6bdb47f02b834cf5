"""How pubnet connects to the broker: client options and TLS.

The session is persistent so that the broker queues QoS 1 messages while pubnet is away
(a restart, a deploy, a network blip) and delivers them when it is back: a fixed client
id, clean start off, and for MQTT 5 a session expiry. Reconnects wait pubnet's one capped
exponential back-off (:mod:`pubnet.backoff`) with up to half of each delay taken off at
random, so a fleet of pubnet instances does not hammer a recovering broker in step.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pubnet.config import MqttConfig

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


def client_options(
    config: MqttConfig,
    sink: MessageSink,
    context: ssl.SSLContext | None,
) -> dict[str, Any]:
    """Keyword arguments for :class:`aiomqtt.Client` (host and port included)."""
    version5 = config.mqtt_version == "5"
    options: dict[str, Any] = {
        "hostname": config.host,
        "port": config.port,
        "identifier": config.client_id,
        "queue_type": direct_queue(sink),
        "keepalive": max(1, round(config.keepalive)),
        "timeout": config.connect_timeout,
        "tls_context": context,
    }
    if config.username is not None:
        options["username"] = config.username
        if config.password is not None:
            options["password"] = config.password.get_secret_value()
    if version5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = max(0, min(0xFFFFFFFF, round(config.session_expiry)))
        options.update(
            protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=properties
        )
    else:
        options.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False)
    return options
