"""Hand-built MQTT 3.1.1 packets over a plain socket.

The tests need a device that vanishes without a DISCONNECT (so the broker fires its last
will) and the benchmark needs a publisher that is not itself the bottleneck; both are a few
bytes of protocol, written here rather than reaching into a client library's internals.
"""

from __future__ import annotations

import socket
import struct

# The simulator's MQTT gateways encode lengths the same way: one implementation.
from simulator.gateways import remaining_length as remaining_length


def _string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, *, keepalive: int = 60, clean: bool = True,
                   will_topic: str | bytes | None = None, will_payload: bytes = b"",
                   will_qos: int = 1, will_retain: bool = True, username: str | None = None,
                   password: str | None = None) -> bytes:
    flags = 0x02 if clean else 0
    payload = _string(client_id)
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += _string(will_topic) + _string(will_payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _string(password)
    body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return b"\x10" + remaining_length(len(body)) + body


def publish_packet(topic: str | bytes, payload: bytes, *, qos: int = 1, packet_id: int = 1,
                   retain: bool = False) -> bytes:
    header = 0x30 | (qos << 1) | (1 if retain else 0)
    body = _string(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return bytes([header]) + remaining_length(len(body)) + body


DISCONNECT = b"\xe0\x00"


def read_exactly(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return bytes(data)


def open_session(port: int, packet: bytes, timeout: float = 10.0) -> socket.socket:
    """Connect, send CONNECT, and check the CONNACK; returns the socket."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(packet)
    connack = read_exactly(sock, 4)
    if connack[0] != 0x20 or connack[3] != 0:
        sock.close()
        raise ConnectionError(f"CONNACK refused: {connack!r}")
    return sock


def count_pubacks(sock: socket.socket, expected: int) -> None:
    """Read until ``expected`` PUBACKs arrived (4 bytes each, nothing else is sent to a
    client that subscribes to nothing)."""
    remaining = expected * 4
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 16))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        remaining -= len(chunk)
