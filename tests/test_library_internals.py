"""The private parts of libraries pubnet relies on, each with its exact pin.

pubnet reaches into three libraries where their public API is too slow or too narrow (each
place says why). That is allowed only under an exact version pin in pyproject.toml, and
this test is the alarm: it fails, naming the internal and the file that uses it, when an
installed version differs from the pin or an internal is gone or has changed shape. The
behaviour itself is tested where it is used (tests/collectors/mqtt/test_read_path.py against
a real paho client, the SNMP tests against snmpd and the simulator).

The HTTP listener's fast lane (pubnet/app/fastlane.py) reaches into asyncio's selector event
loop, which is pinned by the Python version itself; the last test here is its alarm. Where
those internals are missing it reorders nothing rather than failing.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import selectors
import socket
import tomllib
from collections import deque
from importlib.metadata import version
from pathlib import Path

import aiomqtt
import pytest
from aiohttp.web_protocol import RequestHandler
from gufo.snmp import _fast
from paho.mqtt.client import Client as PahoClient
from paho.mqtt.enums import CallbackAPIVersion

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

PINNED = {
    "gufo-snmp": "collectors/snmp/gufo_client.py uses gufo.snmp._fast",
    "aiomqtt": "collectors/mqtt/component.py uses aiomqtt.Client._client, "
               "alerting/channels.py aiomqtt.Client._disconnected",
    "paho-mqtt": "collectors/mqtt/read_path.py patches paho's read loop",
}


def pins() -> dict[str, str]:
    """``{distribution: version}`` for the exact (``==``) pins in pyproject.toml."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    out = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", requirement.strip())
        if match:
            out[match[1].lower()] = match[2]
    return out


@pytest.mark.parametrize("name", sorted(PINNED), ids=sorted(PINNED))
def test_installed_version_is_the_pinned_one(name: str) -> None:
    pinned = pins().get(name)
    assert pinned is not None, f"{name} must be pinned exactly (==): {PINNED[name]}"
    assert version(name) == pinned, (
        f"{name} {version(name)} is installed but {pinned} is pinned: {PINNED[name]}; "
        "re-check that use before moving the pin")


def test_paho_internals_the_read_path_uses() -> None:
    """collectors/mqtt/read_path.py: replaces ``_sock_recv`` and ``loop_read``, reads
    ``_sock``, ``_in_packet``, ``_protocol``, sets ``_last_bytes_received`` and queues its
    PUBACKs with ``_packet_queue``."""
    client = PahoClient(CallbackAPIVersion.VERSION2)
    assert list(inspect.signature(client._sock_recv).parameters) == ["bufsize"]
    assert list(inspect.signature(client.loop_read).parameters) == ["max_packets"]
    assert list(inspect.signature(client._packet_queue).parameters) == [
        "command", "packet", "mid", "qos", "info"]
    assert client._sock is None
    assert client._in_packet["command"] == 0
    assert isinstance(client._protocol, int)
    assert isinstance(client._last_bytes_received, float)


async def test_aiomqtt_keeps_its_paho_client_in_underscore_client() -> None:
    """collectors/mqtt/component.py installs the read path on ``client._client``."""
    client = aiomqtt.Client("127.0.0.1")
    assert isinstance(client._client, PahoClient)


async def test_aiomqtt_keeps_a_lost_connection_in_underscore_disconnected() -> None:
    """alerting/channels.py reads the error of ``client._disconnected`` when it closes a
    client whose connection was lost while idle."""
    client = aiomqtt.Client("127.0.0.1")
    assert isinstance(client._disconnected, asyncio.Future)
    assert not client._disconnected.done()


def test_gufo_fast_names_the_client_uses() -> None:
    """collectors/snmp/gufo_client.py: the Rust core's sockets, iterator and errors."""
    for name in ("SnmpV1ClientSocket", "SnmpV2cClientSocket", "SnmpV3ClientSocket",
                 "GetIter"):
        assert callable(getattr(_fast, name, None)), f"gufo.snmp._fast.{name} is gone"
    for name in ("SnmpError", "SnmpDecodeError", "SnmpAuthError", "NoSuchInstance"):
        error = getattr(_fast, name, None)
        assert isinstance(error, type) and issubclass(error, Exception), (
            f"gufo.snmp._fast.{name} is no longer an exception class")


async def test_asyncio_loop_internals_the_fast_lane_uses() -> None:
    """pubnet/app/fastlane.py: the loop's queue of ready callbacks (``_ready``, a deque of
    handles run in order), its selector (``_selector``), whose keys hold the descriptor's
    (reader, writer) handles, and aiohttp's connection task, ``RequestHandler.start``."""
    loop = asyncio.get_running_loop()
    assert isinstance(getattr(loop, "_ready", None), deque), "asyncio's _ready is gone"
    assert isinstance(getattr(loop, "_selector", None), selectors.BaseSelector)
    handle = loop.call_soon(int)
    try:
        assert loop._ready[-1] is handle  # type: ignore[attr-defined]
    finally:
        handle.cancel()
    left, right = socket.socketpair()
    with left, right:
        loop.add_reader(left.fileno(), int)
        try:
            key = loop._selector.get_key(left.fileno())  # type: ignore[attr-defined]
            reader, writer = key.data
            assert isinstance(reader, asyncio.Handle) and writer is None
        finally:
            loop.remove_reader(left.fileno())
    assert inspect.iscoroutinefunction(RequestHandler.start)
