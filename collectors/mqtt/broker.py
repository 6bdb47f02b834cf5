"""The embedded broker: an in-process amqtt broker for the demo and a laptop.

With no ``mqtt.url`` pubnet runs its own broker (on ``127.0.0.1`` unless
``mqtt.embedded_host`` says otherwise) so that one command shows MQTT telemetry end to end.
amqtt speaks MQTT 3.1.1 only (pubnet connects to it with 3.1.1) and keeps sessions in
memory, which is enough for a broker that lives and dies with pubnet. Deployments point
``mqtt.url`` at Mosquitto or EMQX instead.

pubnet owns the listening socket and hands each connection to amqtt through its public
``Broker.external_connected`` (an amqtt "external" listener), with a reader that lets only
checked packets through (:mod:`collectors.mqtt.broker_guard`: packet size, topics, retained
messages, credentials). So a port that is taken is pubnet's own clear error, and amqtt
never buffers what the guard refuses. amqtt's own log lines (one error per client that
connects without sending CONNECT, for example) are held back to CRITICAL: pubnet counts and
logs what matters itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from typing import Any, Self

from collectors.mqtt.broker_guard import BrokerGuard, GuardedReader

log = logging.getLogger("pubnet.mqtt")

AMQTT_VERSION = "0.12.1"
"""The amqtt release this module was written against (``pyproject.toml`` pins it):
``tests/collectors/mqtt/test_embedded_broker.py`` checks the interfaces used here."""
_LISTENER = "default"  # amqtt requires a listener of that name


class EmbeddedBrokerError(OSError):
    """The embedded broker could not start (the port is taken, most often)."""


class EmbeddedBroker:
    """``async with EmbeddedBroker(guard, "127.0.0.1", 1883):`` runs the broker."""

    def __init__(self, guard: BrokerGuard, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.guard = guard
        self.host = host
        self.port = port
        self._broker: Any = None
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        """Start listening; raises :class:`EmbeddedBrokerError` when it cannot."""
        from amqtt.broker import Broker  # imported here: only the embedded default needs it

        amqtt_log = logging.getLogger("amqtt")
        if amqtt_log.level == logging.NOTSET:
            amqtt_log.setLevel(logging.CRITICAL)
        try:
            server = await asyncio.start_server(self._connected, self.host, self.port)
        except OSError as exc:
            taken = exc.errno == errno.EADDRINUSE
            raise EmbeddedBrokerError(
                f"embedded MQTT broker cannot listen on {self._address()}: "
                + ("the port is already in use (another pubnet or MQTT broker runs there); "
                   if taken else f"{exc.strerror or exc}; ")
                + "set mqtt.embedded_port to a free port, or mqtt.url to use an existing "
                  "broker"
            ) from None
        broker = Broker({
            "listeners": {_LISTENER: {"type": "external"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        })
        try:
            await broker.start()
        except Exception as exc:
            server.close()
            raise EmbeddedBrokerError(f"embedded MQTT broker cannot start: {exc}") from None
        self._server, self._broker = server, broker
        log.info("embedded mqtt broker listening", extra={
            "host": self.host, "port": self.port,
            "max_packet_bytes": self.guard.max_packet_bytes,
            "login": self.guard.username is not None,
        })
        return self

    def _address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def _connected(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        from amqtt.adapters import StreamWriterAdapter

        broker = self._broker
        try:
            if broker is not None:
                await broker.external_connected(GuardedReader(reader, writer, self.guard),
                                                StreamWriterAdapter(writer), _LISTENER)
        except Exception as exc:  # amqtt's trouble with one client is not pubnet's
            log.debug("embedded broker connection ended",
                      extra={"error": str(exc) or type(exc).__name__})
        finally:
            writer.close()

    async def __aexit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        broker, self._broker = self._broker, None
        if server is not None:
            server.close()
        if broker is not None:
            await broker.shutdown()
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)
