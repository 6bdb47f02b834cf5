"""free_port hands out ports the kernel never gives to a socket bound to port 0, so a
server started on it cannot lose it to pubnet's own sockets meanwhile."""

from __future__ import annotations

import socket

import pytest

from pubnet import ports
from pubnet.ports import free_port


def test_a_free_port_lies_below_the_ephemeral_range_and_can_be_bound() -> None:
    low = ports._ephemeral_low()
    for kind, host in ((socket.SOCK_STREAM, "127.0.0.1"), (socket.SOCK_DGRAM, "0.0.0.0")):
        port = free_port(kind, host)
        assert ports.PORT_FLOOR <= port < low
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind((host, port))


def test_a_taken_port_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", free_port(socket.SOCK_DGRAM, "0.0.0.0")))
        held = taken.getsockname()[1]
        draws = [held, held]  # the taken port comes up first, twice
        real = ports.random.randrange
        monkeypatch.setattr(ports.random, "randrange",
                            lambda low, high: draws.pop() if draws else real(low, high))
        assert free_port(socket.SOCK_DGRAM, "127.0.0.1") != held
        assert not draws


def test_without_room_below_the_range_the_kernel_chooses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "_ephemeral_low", lambda: 1024)
    assert free_port() >= 1024
