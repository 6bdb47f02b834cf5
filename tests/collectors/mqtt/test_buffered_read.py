"""Buffered reads hand paho the same bytes in the same order, and never strand a buffered
packet waiting for a socket event that will not come."""

from __future__ import annotations

import pytest
from paho.mqtt.enums import MQTTErrorCode

from collectors.mqtt.buffered_read import BufferedReads


class FakePaho:
    """Just enough of paho's client: a socket that yields scripted chunks, and a
    ``loop_read`` that reads at most ``max_packets`` 3-byte packets per call."""

    def __init__(self, chunks: list[bytes | type[BaseException]]) -> None:
        self.chunks = chunks
        self.syscalls = 0
        self.packets: list[bytes] = []
        self._sock: object | None = object()

    def _sock_recv(self, size: int) -> bytes:
        self.syscalls += 1
        item = self.chunks.pop(0) if self.chunks else BlockingIOError
        if isinstance(item, type):
            raise item()
        return item[:size]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        for _ in range(max_packets):
            try:
                command = self._sock_recv(1)
                if not command:
                    return MQTTErrorCode.MQTT_ERR_CONN_LOST
                self.packets.append(command + self._sock_recv(2))
            except BlockingIOError:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def test_many_packets_from_one_read_all_delivered_in_order() -> None:
    client = FakePaho([b"a01b02c03d04e05"])
    BufferedReads(client)
    assert client.loop_read(1) == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert client.packets == [b"a01", b"b02", b"c03", b"d04", b"e05"]
    assert client.syscalls == 1  # one read for five packets, and no wait for another event


def test_packet_split_across_reads() -> None:
    client = FakePaho([b"a01b", b"02", BlockingIOError, b"c03"])
    reads = BufferedReads(client)
    client.loop_read(1)
    assert client.packets == [b"a01", b"b02"]
    assert reads.buffered == 0
    client.loop_read(1)  # the socket has nothing now: paho's "try again"
    assert client.packets == [b"a01", b"b02"]
    client.loop_read(1)
    assert client.packets == [b"a01", b"b02", b"c03"]


@pytest.mark.parametrize("error", [ConnectionResetError, BlockingIOError], ids=str)
def test_socket_errors_reach_paho(error: type[BaseException]) -> None:
    client = FakePaho([error])
    reads = BufferedReads(client)
    with pytest.raises(error):
        reads.recv(1)


def test_end_of_stream_is_empty_bytes() -> None:
    client = FakePaho([b""])
    BufferedReads(client)
    assert client.loop_read(1) == MQTTErrorCode.MQTT_ERR_CONN_LOST
