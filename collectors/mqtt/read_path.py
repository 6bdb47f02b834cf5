"""How pubnet reads from the broker: large reads, and PUBLISH packets decoded here.

aiomqtt runs the connection on paho-mqtt, and paho spends far more CPU per message than
pubnet spends storing it: three to five ``recv()`` system calls per packet (the command
byte, each byte of the remaining length, then the body), a log call, an ``MQTTMessage``, a
topic-matcher walk, aiomqtt's own ``Message``, and one queued write per acknowledgement.
Draining a backlog after a broker restart was bound by that work (bench/mqtt_ingest.py:
~110 CPU µs per message, of which pubnet's own ~30 µs).

So pubnet reads the socket itself, 256 KiB at a time, and decodes the packets a drain is
made of (PUBLISH at QoS 0 and 1) right out of that buffer, handing topic and payload to the
collector and acknowledging a whole read's QoS 1 messages with one write, queued after they
are stored. Everything else (CONNACK, SUBACK, PINGRESP, QoS 2, a packet cut by the end of
a read, anything malformed) goes to paho unchanged, served from the same buffer, so paho
still owns the session, keepalive, errors and reconnects.

This patches two methods of one paho client instance (aiomqtt creates a new one per
connection, so a buffer never outlives its socket), and relies on paho 2.x internals named
below: paho-mqtt is pinned exactly, ``tests/test_library_internals.py`` fails when one of
them moves, and ``tests/collectors/mqtt/test_read_path.py`` checks the behaviour against a
real paho client.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from paho.mqtt.client import MQTTv5, time_func
from paho.mqtt.enums import MQTTErrorCode

READ_SIZE = 256 * 1024
READS_PER_EVENT = 4
"""Socket reads per readable event before yielding to the event loop (QoS 0 has no window
that would stop a flood; QoS 1 is bounded by the broker's in-flight limit anyway)."""

_PUBLISH = 0x30
_PUBACK = 0x40
_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS

PublishHandler = Callable[[str, bytes, int, bool, int], None]
"""``(topic, payload, qos, retain, packet_id)``; must not raise and must not block.
Called before the message is acknowledged."""


class ReadPath:
    """Installs itself on ``client`` (a :class:`paho.mqtt.client.Client`).

    With ``on_publish`` None, only the large reads are used and every packet goes to paho.
    """

    def __init__(self, client: Any, on_publish: PublishHandler | None = None,
                 read_size: int = READ_SIZE) -> None:
        self._client = client
        self._on_publish = on_publish
        self._read_size = read_size
        self._version5 = client._protocol == MQTTv5
        self._data = b""
        self._pos = 0
        self._eof = False
        self._error: OSError | None = None
        self._acks = bytearray()
        self.fast_packets = 0
        """PUBLISH packets decoded here rather than by paho (tests, benchmarks)."""
        self._socket_recv: Callable[[int], bytes] = client._sock_recv
        self._paho_loop_read: Callable[[int], MQTTErrorCode] = client.loop_read
        client._sock_recv = self.recv
        client.loop_read = self.loop_read

    @property
    def buffered(self) -> int:
        return len(self._data) - self._pos

    def recv(self, size: int) -> bytes:
        """paho's ``_sock_recv``: at most ``size`` bytes; b"" at end of stream; raises
        BlockingIOError (paho's 'try again') when nothing is buffered or readable."""
        if self._pos >= len(self._data):
            self._fill()
            if not self._data:
                return b""
        end = self._pos + size
        chunk = self._data[self._pos:end]
        self._pos = min(end, len(self._data))
        return chunk

    def _fill(self) -> None:
        """One socket read into the (empty) buffer. End of stream and socket errors are
        remembered, so paho's next read sees them even on a TLS socket that would not
        report them twice."""
        if self._error is not None:
            raise self._error
        if self._eof:
            self._data, self._pos = b"", 0
            return
        try:
            data = self._socket_recv(self._read_size)
        except BlockingIOError:
            raise
        except OSError as exc:
            self._error = exc
            raise
        self._data, self._pos = data, 0
        self._eof = not data

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho's ``loop_read``: process everything the socket has, in order.

        Returns only with the buffer empty, since a packet left in it would wait for the
        socket to become readable again, which it may never do.
        """
        client = self._client
        reads = 0
        while True:
            if client._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            at_boundary = client._in_packet["command"] == 0
            if at_boundary and self._on_publish is not None and self.buffered:
                self._take_publishes()
            if self.buffered or not at_boundary:
                # A packet for paho, or the rest of one it has begun.
                rc = self._paho_loop_read(max_packets)
                if rc != _SUCCESS:
                    return rc
                if not self.buffered and client._in_packet["command"] != 0:
                    return _SUCCESS  # paho waits for the rest of its packet
                continue
            if reads == READS_PER_EVENT:
                self._resume_soon()
                return _SUCCESS
            try:
                self._fill()
            except BlockingIOError:
                return _SUCCESS
            except OSError:
                return self._paho_loop_read(max_packets)  # paho reports the error
            if not self._data:
                return self._paho_loop_read(max_packets)  # paho reports the end of stream
            reads += 1

    def _resume_soon(self) -> None:
        """After the read budget: a TLS socket may hold decrypted bytes without the file
        descriptor being readable, so come back for them instead of waiting for an event."""
        sock = self._client._sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            asyncio.get_running_loop().call_soon(self.loop_read)

    def _take_publishes(self) -> None:
        """Decode the complete QoS 0/1 PUBLISH packets at the front of the buffer.

        Stops at the first packet that is anything else, incomplete or malformed: paho takes
        it from there (and reports what is wrong with it).
        """
        data, pos, end = self._data, self._pos, len(self._data)
        handler = self._on_publish
        assert handler is not None
        acks = self._acks
        version5 = self._version5
        taken = 0
        while pos < end:
            first = data[pos]
            qos = (first >> 1) & 3
            if first & 0xF0 != _PUBLISH or qos > 1:
                break
            header = _variable_int(data, pos + 1, end)
            if header is None:
                break  # the remaining length is cut off or malformed
            length, i = header
            stop = i + length
            if stop > end or i + 2 > stop:
                break
            topic_end = i + 2 + ((data[i] << 8) | data[i + 1])
            j = topic_end
            packet_id = 0
            if qos:
                packet_id = (data[j] << 8) | data[j + 1] if j + 2 <= stop else 0
                j += 2
            if version5:
                # Properties are skipped. pubnet's CONNECT allows no topic aliases, so the
                # topic is always spelled out (an empty one is counted as a bad topic).
                properties = _variable_int(data, j, stop)
                if properties is None:
                    break
                j = properties[1] + properties[0]
            if j > stop or (qos and packet_id == 0):
                break
            topic = data[i + 2:topic_end].decode("utf-8", "replace")
            self._pos = pos = stop
            taken += 1
            handler(topic, data[j:stop], qos, bool(first & 1), packet_id)
            if qos:
                acks += bytes((_PUBACK, 2, packet_id >> 8, packet_id & 0xFF))
        if taken:
            self.fast_packets += taken
            client = self._client
            # paho's keepalive watchdog must see that bytes arrived.
            client._last_bytes_received = time_func()
            if acks:
                # One queued write acknowledges the whole read, after it is stored, and
                # before paho handles (and might acknowledge) any later packet.
                client._packet_queue(_PUBACK, bytes(acks), 0, 0)
                acks.clear()


def _variable_int(data: bytes, i: int, end: int) -> tuple[int, int] | None:
    """MQTT's variable byte integer at ``data[i]`` (up to four 7-bit groups, least
    significant first): ``(value, index after it)``, or None when it runs into ``end`` or
    over four bytes."""
    value, shift = 0, 0
    while i < end and shift <= 21:
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            return value, i
        shift += 7
    return None
