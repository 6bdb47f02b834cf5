"""Serve paho-mqtt's small socket reads from one large read.

paho reads every packet with three to five ``recv()`` calls (the command byte, each byte of
the remaining length, then the body). On the machines pubnet runs on, a ``recv()`` system
call costs more than decoding and storing the whole message, so a backlog drained after a
broker restart was bound by system calls. Reading up to 256 KiB at once and handing paho
slices of it halves paho's CPU per message (measured: 95 → 50 µs at QoS 1, bare paho, see
docs/benchmarks.md) without changing what paho does with the bytes.

This patches two methods of one paho client instance (aiomqtt creates a new one for every
connection, so a buffer never outlives its socket). paho's ``loop_read`` stops after a few
packets; anything left in the buffer would then wait for the socket to become readable
again, which it may never do, so :meth:`BufferedReads.loop_read` keeps reading until the
buffer is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paho.mqtt.enums import MQTTErrorCode

READ_SIZE = 256 * 1024


class BufferedReads:
    """Installs itself on ``client`` (a :class:`paho.mqtt.client.Client`)."""

    def __init__(self, client: Any, read_size: int = READ_SIZE) -> None:
        self._client = client
        self._read_size = read_size
        self._data = b""
        self._pos = 0
        self._socket_recv: Callable[[int], bytes] = client._sock_recv
        self._paho_loop_read: Callable[[int], MQTTErrorCode] = client.loop_read
        client._sock_recv = self.recv
        client.loop_read = self.loop_read

    def recv(self, size: int) -> bytes:
        """paho's ``_sock_recv``: at most ``size`` bytes; b"" at end of stream; raises
        BlockingIOError (paho's 'try again') when nothing is buffered or readable."""
        if self._pos >= len(self._data):
            self._data = self._socket_recv(self._read_size)
            self._pos = 0
            if not self._data:
                return b""
        end = self._pos + size
        chunk = self._data[self._pos:end]
        self._pos = min(end, len(self._data))
        return chunk

    @property
    def buffered(self) -> int:
        return len(self._data) - self._pos

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = self._paho_loop_read(max_packets)
        while (rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self.buffered
               and self._client._sock is not None):
            rc = self._paho_loop_read(max_packets)
        return rc
