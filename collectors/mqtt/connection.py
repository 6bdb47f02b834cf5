"""How the MQTT collector connects: the client options live in the ground layer
(:mod:`pubnet.mqttclient`), shared with the shard state publisher and the state feed, so
every MQTT client of pubnet connects, authenticates and keeps its session one way."""

from __future__ import annotations

from pubnet.mqttclient import MessageSink, client_options, direct_queue, tls_context

__all__ = ["MessageSink", "client_options", "direct_queue", "tls_context"]
