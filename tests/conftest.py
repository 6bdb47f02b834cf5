"""Fixtures every test folder may use; helpers live in :mod:`tests.support`."""

from __future__ import annotations

import socket

import pytest

from tests.support import free_port


@pytest.fixture
def tcp_port() -> int:
    return free_port()


@pytest.fixture
def udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)
