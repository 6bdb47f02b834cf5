"""What a client may send the embedded broker: whole packets, checked before amqtt reads them.

amqtt 0.12 reads a packet's whole body before looking at it (one anonymous 100 MB PUBLISH
took pubnet from 116 MB to 497 MB of memory), keeps a retained message on any topic for
ever, and passes on a topic that is not valid UTF-8 (as ``"b'...'"``) or holds a NUL. So
each connection's bytes go through :class:`GuardedReader`, which cuts the stream into MQTT
packets itself and hands amqtt only packets that passed, through amqtt's public
``ReaderAdapter`` interface:

- a packet whose remaining length is over ``max_packet_bytes`` is refused from its fixed
  header, before its body is read;
- topic names (PUBLISH, a CONNECT's will) must be UTF-8 without NUL or wildcards, topic
  filters (SUBSCRIBE, UNSUBSCRIBE) UTF-8 without NUL — MQTT 3.1.1 §1.5.3 says to close the
  connection on anything else;
- a retained PUBLISH, or a retained will, must be on a topic ``retain_allowed`` accepts
  (pubnet's status topics of inventory devices), which bounds what the broker keeps;
- with credentials set, a CONNECT must carry them (anything else gets CONNACK 4);
- the CONNECT must arrive within ``connect_timeout``.

A refused client is disconnected (MQTT 3.1.1 has no negative acknowledgement of a PUBLISH;
§3.3.5 allows closing the connection), counted by reason in :attr:`BrokerGuard.refused`
(``pubnet_mqtt_broker_refused_total``) and logged once per reason.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from amqtt.adapters import ReaderAdapter

from pubnet.catalog import MQTT_BROKER_REFUSED

log = logging.getLogger("pubnet.mqtt")

_CONNECT, _PUBLISH, _SUBSCRIBE, _UNSUBSCRIBE = 1, 3, 8, 10
_CONNACK_BAD_CREDENTIALS = b"\x20\x02\x00\x04"
_CONNACK_NOT_AUTHORIZED = b"\x20\x02\x00\x05"


class Refusal(StrEnum):
    """Why the embedded broker closed a connection: the ``reason`` label."""

    OVERSIZE = "oversize"
    """A packet over ``mqtt.embedded_max_packet_bytes``."""
    BAD_TOPIC = "bad_topic"
    """A topic name or filter that is not UTF-8, holds a NUL, or (a name) a wildcard."""
    RETAIN = "retain"
    """A retained message (or will) outside pubnet's status topics."""
    AUTH = "auth"
    """A CONNECT without the configured username and password."""
    MALFORMED = "malformed"
    """A packet whose parts do not fit its length."""
    SLOW_CONNECT = "slow_connect"
    """No CONNECT within ``mqtt.connect_timeout``."""


class RefusedError(ConnectionResetError):
    """Raised to amqtt's reader when a connection is refused; amqtt sees the end of the
    stream (its ``read_or_raise`` turns a ConnectionResetError into "no more data")."""


@dataclass(slots=True)
class BrokerGuard:
    """The embedded broker's limits, and what they refused (shared by its connections)."""

    max_packet_bytes: int
    retain_allowed: Callable[[str], bool]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    refused: dict[Refusal, int] = field(default_factory=lambda: dict.fromkeys(Refusal, 0))
    _logged: set[Refusal] = field(default_factory=set)

    def refuse(self, reason: Refusal, peer: str, detail: str) -> RefusedError:
        self.refused[reason] += 1
        if reason not in self._logged:
            self._logged.add(reason)
            log.warning("embedded mqtt broker refused a client", extra={
                "reason": reason.value, "peer": peer, "detail": detail,
                "counted_in": MQTT_BROKER_REFUSED,
            })
        return RefusedError(f"refused: {reason.value}")

    def credentials_ok(self, username: bytes | None, password: bytes | None) -> bool:
        if self.username is None:
            return True
        if username is None or password is None or self.password is None:
            return False
        return (hmac.compare_digest(username, self.username.encode())
                and hmac.compare_digest(password, self.password.encode()))


class _Bad(Exception):
    def __init__(self, reason: Refusal, detail: str, reply: bytes = b"") -> None:
        super().__init__(detail)
        self.reason = reason
        self.reply = reply


class GuardedReader(ReaderAdapter):  # type: ignore[misc]
    """amqtt's reader for one connection: serves bytes of checked packets only."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 guard: BrokerGuard) -> None:
        self._reader = reader
        self._writer = writer
        self._guard = guard
        peer = writer.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        self._buffer = bytearray()
        self._connected = False
        self._refused: RefusedError | None = None

    async def read(self, n: int = -1) -> bytes:
        """At most ``n`` checked bytes (exactly ``n`` unless the client went away);
        raises :class:`RefusedError` once the client has been refused."""
        if self._refused is not None:
            raise self._refused
        if n > self._guard.max_packet_bytes:
            # amqtt never asks more than a packet at once; if it did, it would buffer it
            self._refuse(_Bad(Refusal.MALFORMED, f"read of {n} bytes"))
        while len(self._buffer) < max(n, 1):
            await self._next_packet()
        if n < 0:
            n = len(self._buffer)
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    # -- framing --------------------------------------------------------------------------

    async def _next_packet(self) -> None:
        """Read one whole packet from the client, check it, append it to the buffer."""
        try:
            if self._connected:
                packet = await self._read_packet()
            else:
                try:
                    packet = await asyncio.wait_for(self._read_packet(),
                                                    self._guard.connect_timeout)
                except TimeoutError:
                    raise _Bad(Refusal.SLOW_CONNECT,
                               f"no CONNECT within {self._guard.connect_timeout:g}s") from None
            self._check(packet)
        except _Bad as bad:
            self._refuse(bad)
        self._connected = True
        self._buffer += packet

    async def _read_packet(self) -> bytes:
        """Fixed header, then the body only when its length is within the limit; raises
        IncompleteReadError when the client goes away."""
        reader = self._reader
        header = bytearray(await reader.readexactly(1))
        length, shift = 0, 0
        while True:
            byte = (await reader.readexactly(1))[0]
            header.append(byte)
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 21:
                raise _Bad(Refusal.MALFORMED, "remaining length over four bytes")
        if length > self._guard.max_packet_bytes:
            raise _Bad(Refusal.OVERSIZE, f"{length} bytes > {self._guard.max_packet_bytes}")
        return bytes(header) + await reader.readexactly(length)

    def _refuse(self, bad: _Bad) -> None:
        error = self._guard.refuse(bad.reason, self._peer, str(bad))
        self._refused = error
        transport = self._writer.transport
        if bad.reply and not transport.is_closing():
            transport.write(bad.reply)
            transport.close()  # the CONNACK goes out first
        else:
            transport.abort()  # drop what the client is still sending, unread
        raise error

    # -- checks ---------------------------------------------------------------------------

    def _check(self, packet: bytes) -> None:
        first = packet[0]
        kind = first >> 4
        body = memoryview(packet)[_body_start(packet):]
        if not self._connected:
            if kind == _CONNECT:
                self._check_connect(body)
            return  # anything else first: amqtt refuses it
        if kind == _PUBLISH:
            self._check_publish(first, body)
        elif kind in (_SUBSCRIBE, _UNSUBSCRIBE):
            self._check_filters(body, with_qos=kind == _SUBSCRIBE)

    def _check_publish(self, first: int, body: memoryview) -> None:
        topic, end = _string(body, 0)
        name = _topic_name(topic)
        qos = (first >> 1) & 3
        if qos == 3 or (qos and end + 2 > len(body)):
            raise _Bad(Refusal.MALFORMED, "bad QoS or packet id")
        if first & 1 and not self._guard.retain_allowed(name):
            raise _Bad(Refusal.RETAIN, f"retained message on {name[:200]!r}")

    def _check_filters(self, body: memoryview, *, with_qos: bool) -> None:
        pos = 2  # packet id
        if pos >= len(body):
            raise _Bad(Refusal.MALFORMED, "no topic filter")
        while pos < len(body):
            raw, pos = _string(body, pos)
            _text(raw, "topic filter")
            pos += with_qos
        if pos != len(body):
            raise _Bad(Refusal.MALFORMED, "topic filters do not fill the packet")

    def _check_connect(self, body: memoryview) -> None:
        protocol, pos = _string(body, 0)
        if bytes(protocol) != b"MQTT" or pos + 4 > len(body) or body[pos] != 4:
            return  # not MQTT 3.1.1: amqtt answers "unacceptable protocol version"
        flags = body[pos + 1]
        pos += 4  # level, flags, keep alive
        _client_id, pos = _string(body, pos)
        if flags & 0x04:  # a will
            topic, pos = _string(body, pos)
            name = _topic_name(topic)
            _message, pos = _string(body, pos)
            if flags & 0x20 and not self._guard.retain_allowed(name):
                raise _Bad(Refusal.RETAIN, f"retained will on {name[:200]!r}",
                           _CONNACK_NOT_AUTHORIZED)
        username = password = None
        if flags & 0x80:
            raw, pos = _string(body, pos)
            username = bytes(raw)
        if flags & 0x40:
            raw, pos = _string(body, pos)
            password = bytes(raw)
        if not self._guard.credentials_ok(username, password):
            raise _Bad(Refusal.AUTH, "wrong or missing username/password",
                       _CONNACK_BAD_CREDENTIALS)


def _body_start(packet: bytes) -> int:
    """Where the variable header starts: after the type byte and the remaining length."""
    pos = 1
    while packet[pos] & 0x80:
        pos += 1
    return pos + 1


def _string(body: memoryview, pos: int) -> tuple[memoryview, int]:
    """An MQTT length-prefixed string or binary at ``pos``: (bytes, position after)."""
    if pos + 2 > len(body):
        raise _Bad(Refusal.MALFORMED, "string cut off")
    end = pos + 2 + ((body[pos] << 8) | body[pos + 1])
    if end > len(body):
        raise _Bad(Refusal.MALFORMED, "string runs past the packet")
    return body[pos + 2:end], end


def _text(raw: memoryview, what: str) -> str:
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _Bad(Refusal.BAD_TOPIC, f"{what} is not UTF-8") from None
    if not text or "\x00" in text:
        raise _Bad(Refusal.BAD_TOPIC, f"{what} is empty or holds a NUL")
    return text


def _topic_name(raw: memoryview) -> str:
    name = _text(raw, "topic")
    if "+" in name or "#" in name:
        raise _Bad(Refusal.BAD_TOPIC, "topic name with a wildcard")
    return name
