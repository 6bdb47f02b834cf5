"""pubnet's read path against a real paho client on a socket pair: every packet reaches the
collector or paho exactly once and in order, however the stream is cut into reads, QoS 1
messages are acknowledged in order after they are handled, and what pubnet does not decode
itself (QoS 2, pings, topic aliases, malformed packets) paho still handles."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.client import Client, MQTTv5, MQTTv311
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from collectors.mqtt.read_path import ReadPath
from testbed.rawmqtt import _string, publish_packet, remaining_length

Received = tuple[str, bytes, int, bool, int]
PINGRESP = b"\xd0\x00"


def publish_v5(topic: str, payload: bytes, *, qos: int = 1, packet_id: int = 1,
               properties: bytes = b"") -> bytes:
    body = (_string(topic) + (struct.pack("!H", packet_id) if qos else b"")
            + remaining_length(len(properties)) + properties + payload)
    return bytes([0x30 | (qos << 1)]) + remaining_length(len(body)) + body


class Harness:
    """A paho client whose socket is one end of a pair; the test writes the broker's side."""

    def __init__(self, protocol: int) -> None:
        self.broker, self.client_sock = socket.socketpair()
        self.client_sock.setblocking(False)
        self.broker.settimeout(2)
        self.paho = Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=protocol)
        self.paho._sock = self.client_sock
        self.received: list[Received] = []
        self.paho.on_message = self._paho_message
        self.path = ReadPath(self.paho, self._fast_message)

    def _fast_message(self, topic: str, payload: bytes, qos: int, retain: bool,
                      packet_id: int) -> None:
        self.received.append((topic, payload, qos, retain, packet_id))

    def _paho_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self.received.append((message.topic, message.payload, message.qos, message.retain,
                              message.mid))

    def feed(self, data: bytes) -> MQTTErrorCode:
        self.broker.sendall(data)
        rc: MQTTErrorCode = self.paho.loop_read()
        return rc

    def written(self) -> bytes:
        self.broker.setblocking(False)
        out = b""
        try:
            while chunk := self.broker.recv(65536):
                out += chunk
        except BlockingIOError:
            pass
        self.broker.settimeout(2)
        return out

    def close(self) -> None:
        self.broker.close()
        self.client_sock.close()


@contextmanager
def harness(protocol: int = MQTTv311) -> Iterator[Harness]:
    h = Harness(protocol)
    try:
        yield h
    finally:
        h.close()


def puback(packet_id: int) -> bytes:
    return bytes((0x40, 2, packet_id >> 8, packet_id & 0xFF))


def stream() -> tuple[bytes, list[Received], bytes]:
    """Mixed traffic a subscriber sees, the messages it must yield, the acks it must send."""
    big = bytes(range(256)) * 3  # a two-byte remaining length
    packets = [
        (publish_packet("pubnet/v1/telemetry/S1/gw-1", b'{"a":1}', qos=1, packet_id=1),
         ("pubnet/v1/telemetry/S1/gw-1", b'{"a":1}', 1, False, 1), puback(1)),
        (publish_packet("pubnet/v1/status/S1/gw-1", b"online", qos=0, retain=True),
         ("pubnet/v1/status/S1/gw-1", b"online", 0, True, 0), b""),
        (PINGRESP, None, b""),
        (publish_packet("pubnet/v1/telemetry/S2/gw-2", big, qos=1, packet_id=300),
         ("pubnet/v1/telemetry/S2/gw-2", big, 1, False, 300), puback(300)),
        # QoS 2: paho answers PUBREC, and delivers the message on the broker's PUBREL.
        (publish_packet("pubnet/v1/telemetry/S3/ap-ไทย", b"{}", qos=2, packet_id=7),
         None, b"\x50\x02\x00\x07"),
        (b"\x62\x02\x00\x07",
         ("pubnet/v1/telemetry/S3/ap-ไทย", b"{}", 2, False, 7), b"\x70\x02\x00\x07"),
        (publish_packet("pubnet/v1/telemetry/S4/gw-4", b"", qos=1, packet_id=65535),
         ("pubnet/v1/telemetry/S4/gw-4", b"", 1, False, 65535), puback(65535)),
    ]
    data = b"".join(p for p, _, _ in packets)
    expected = [m for _, m, _ in packets if m is not None]
    acks = b"".join(a for _, _, a in packets)
    return data, expected, acks


def test_a_drain_is_decoded_by_pubnet_and_acknowledged_in_one_write() -> None:
    messages = [publish_packet(f"pubnet/v1/telemetry/S{n}/gw-{n}", b"x" * n, qos=1,
                               packet_id=n + 1) for n in range(200)]
    with harness() as h:
        assert h.feed(b"".join(messages)) == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert [m[4] for m in h.received] == list(range(1, 201))
        assert h.received[5] == ("pubnet/v1/telemetry/S5/gw-5", b"xxxxx", 1, False, 6)
        assert h.path.fast_packets == 200
        assert h.written() == b"".join(puback(n + 1) for n in range(200))
        assert h.path.buffered == 0


def test_mixed_traffic_in_one_read() -> None:
    data, expected, acks = stream()
    with harness() as h:
        assert h.feed(data) == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert h.received == expected
        assert h.written() == acks
        assert h.path.fast_packets == 4  # the QoS 2 message and the ping went to paho


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_cut_into_reads_gives_the_same_messages_and_acks(data: st.DataObject) -> None:
    stream_bytes, expected, acks = stream()
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream_bytes) - 1), max_size=12)))
    with harness() as h:
        for start, stop in zip([0, *cuts], [*cuts, len(stream_bytes)], strict=True):
            assert h.feed(stream_bytes[start:stop]) == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert h.received == expected
        assert h.written() == acks
        assert h.path.buffered == 0


def test_mqtt5_properties_are_skipped() -> None:
    props = b"\x01\x01" + b"\x26" + _string("k") + _string("v")  # format indicator, user prop
    with_alias = b"\x23\x00\x05"  # topic alias 5
    data = (publish_v5("pubnet/v1/telemetry/S1/gw-1", b"p1", packet_id=1, properties=props)
            + publish_v5("pubnet/v1/telemetry/S1/gw-1", b"p2", packet_id=2,
                         properties=with_alias)
            + publish_v5("", b"p3", packet_id=3, properties=with_alias))
    with harness(MQTTv5) as h:
        assert h.feed(data) == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert h.received == [
            ("pubnet/v1/telemetry/S1/gw-1", b"p1", 1, False, 1),
            ("pubnet/v1/telemetry/S1/gw-1", b"p2", 1, False, 2),
            ("", b"p3", 1, False, 3),  # aliases are not allowed: the ingestor rejects it
        ]
        assert h.path.fast_packets == 3
        assert h.written() == puback(1) + puback(2) + puback(3)


@pytest.mark.parametrize("packet", [
    b"\x32\x05\x00\x09abc",             # topic length past the end of the packet
    b"\x32\x02\x00\x00",                # QoS 1 without a packet id
    b"\x30\xff\xff\xff\xff\x7f",        # remaining length over four bytes
], ids=["topic-overrun", "no-packet-id", "length-too-long"])
def test_malformed_publish_goes_to_paho_which_reports_it(packet: bytes) -> None:
    good = publish_packet("pubnet/v1/telemetry/S1/gw-1", b"ok", qos=1, packet_id=9)
    with harness() as h:
        rc = h.feed(good + packet)
        assert h.received == [("pubnet/v1/telemetry/S1/gw-1", b"ok", 1, False, 9)]
        assert rc == MQTTErrorCode.MQTT_ERR_PROTOCOL


def test_end_of_stream_reaches_paho() -> None:
    with harness() as h:
        h.broker.sendall(publish_packet("pubnet/v1/telemetry/S1/gw-1", b"last", packet_id=4))
        h.broker.shutdown(socket.SHUT_WR)
        assert h.paho.loop_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST
        assert h.received == [("pubnet/v1/telemetry/S1/gw-1", b"last", 1, False, 4)]


def test_nothing_to_read_is_success_and_reads_nothing() -> None:
    with harness() as h:
        assert h.paho.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert h.received == []


def test_without_a_handler_every_packet_goes_to_paho() -> None:
    data, expected, acks = stream()
    with harness() as h:
        h.paho._sock_recv = h.path._socket_recv  # undo, then install a reads-only path
        h.paho.loop_read = h.path._paho_loop_read  # type: ignore[method-assign]
        path = ReadPath(h.paho)
        h.feed(data)
        assert h.received == expected
        assert h.written() == acks
        assert path.fast_packets == 0
