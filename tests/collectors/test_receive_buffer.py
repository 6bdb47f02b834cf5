"""The kernel's own count of datagrams a full receive buffer cost, read from the socket."""

from __future__ import annotations

import logging
import socket

import pytest

from collectors.receive_buffer import (
    RECEIVE_BUFFER,
    DropWatch,
    enlarge_receive_buffer,
    kernel_drops,
    warn_if_small,
)
from pubnet.state import StateStore


def flood(receiver: socket.socket, count: int) -> int:
    """Send ``count`` datagrams to ``receiver``; how many it holds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for _ in range(count):
            sender.sendto(b"x" * 100, receiver.getsockname())
    held = 0
    while True:
        try:
            receiver.recv(2048)
        except BlockingIOError:
            return held
        held += 1


def small_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


def test_what_a_full_buffer_cost_is_the_kernel_s_count() -> None:
    with small_socket() as sock:
        assert kernel_drops(sock) == 0
        held = flood(sock, 300)
        assert 0 < held < 300
        assert kernel_drops(sock) == 300 - held


def test_a_closed_socket_says_nothing() -> None:
    sock = small_socket()
    sock.close()
    assert kernel_drops(sock) is None


def test_the_buffer_asked_for_holds_a_storm() -> None:
    with small_socket() as sock:
        granted = enlarge_receive_buffer(sock)
        assert granted >= 2 * RECEIVE_BUFFER  # as root (CI): beyond net.core.rmem_max
        assert flood(sock, 2000) == 2000
        assert kernel_drops(sock) == 0


def test_drops_are_published_when_they_change_and_said_once(
        caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("pubnet.test")
    watch = DropWatch("traps", log)
    with small_socket() as sock, caplog.at_level(logging.WARNING, logger="pubnet.test"):
        (first,) = watch.observations(sock, 1.0)
        assert (first.device, first.metric, first.value, first.labels) == (
            "pubnet", "pubnet_socket_receive_drops_total", 0.0, (("socket", "traps"),))
        assert watch.observations(sock, 2.0) == []  # unchanged: nothing to publish
        held = flood(sock, 300)
        (grown,) = watch.observations(sock, 3.0)
        assert grown.value == 300 - held
        flood(sock, 300)
        (again,) = watch.observations(sock, 4.0)
        assert again.value > grown.value
    said = [r for r in caplog.records if "the kernel dropped datagrams" in r.getMessage()]
    assert len(said) == 1 and said[0].socket == "traps"  # type: ignore[attr-defined]
    assert watch.observations(None, 5.0) == []


def test_drops_reach_the_store_as_pubnets_own_series() -> None:
    store = StateStore()
    watch = DropWatch("icmp", logging.getLogger("pubnet.test"))
    with small_socket() as sock:
        watch.publish(store, sock, 1.0)
        held = flood(sock, 300)
        watch.publish(store, sock, 2.0)
    series = store.device_series("pubnet")
    key = ("pubnet_socket_receive_drops_total", (("socket", "icmp"),))
    assert series[key].value == 300 - held
    assert series[key].ts == 2.0


def test_a_grant_below_the_ask_is_said(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("pubnet.test")
    with caplog.at_level(logging.WARNING, logger="pubnet.test"):
        assert warn_if_small(log, "icmp", 2 * 212992)
        assert not warn_if_small(log, "icmp", 2 * RECEIVE_BUFFER)
    assert len(caplog.records) == 1
