"""The embedded broker: an in-process amqtt broker for the demo and a laptop.

With no ``mqtt.url`` pubnet runs its own broker on ``127.0.0.1`` so that one command shows
MQTT telemetry end to end. amqtt speaks MQTT 3.1.1 only (pubnet connects to it with 3.1.1)
and keeps sessions in memory, which is enough for a broker that lives and dies with pubnet.
Deployments point ``mqtt.url`` at Mosquitto or EMQX instead.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self

log = logging.getLogger("pubnet.mqtt")


class EmbeddedBrokerError(Exception):
    """The embedded broker could not start (the port is taken, most often)."""


class EmbeddedBroker:
    """``async with EmbeddedBroker("127.0.0.1", 1883):`` runs an anonymous broker."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def __aenter__(self) -> Self:
        """Start listening; raises :class:`EmbeddedBrokerError` when it cannot."""
        from amqtt.broker import Broker  # imported here: only the embedded default needs it

        amqtt_log = logging.getLogger("amqtt")
        if amqtt_log.level == logging.NOTSET:
            # amqtt logs every connection at info; pubnet logs what matters itself.
            amqtt_log.setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        broker = Broker(config)
        try:
            await broker.start()
        except Exception as exc:
            raise EmbeddedBrokerError(
                f"embedded MQTT broker cannot listen on {self.host}:{self.port}: {exc} "
                "(set mqtt.embedded_port, or mqtt.url to use another broker)"
            ) from None
        self._broker = broker
        log.info("embedded mqtt broker listening", extra={"host": self.host, "port": self.port})
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
