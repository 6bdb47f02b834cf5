"""Simulated MQTT site gateways: telemetry, a retained ``online`` and a last will each.

The inventory's ``mqtt``-profile devices answer no SNMP: a real one is an OpenWrt-class
gateway that pushes to a broker. Each simulated gateway does what docs/mqtt.md asks of one:
it connects (MQTT 3.1.1) with a last will of ``offline`` (QoS 1, retained) on
``pubnet/v1/status/{site_id}/{device_id}``, publishes ``online`` there (retained) once
connected, and JSON telemetry on ``pubnet/v1/telemetry/{site_id}/{device_id}`` at QoS 1
every heartbeat. :meth:`MqttGateways.power_off` drops a gateway's connection without a
DISCONNECT, so the broker publishes its will, as when a village loses power.

A last will belongs to a connection, so each gateway has its own TCP connection. The client
is a few bytes of protocol on an :class:`asyncio.Protocol` (no library client per gateway:
a paho client each would cost ~100 times the memory); the topics are written here, not
imported from the MQTT collector, because components do not import each other (the tests
prove the collector reads them).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import random
import ssl
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from inventory.model import Inventory
from simulator.device import SimDevice, mix, unit

log = logging.getLogger("pubnet.simulator")

Clock = Callable[[], float]

FIRMWARE = "OpenWrt 23.05.3 (pubnet simulator)"
CONNECT_CONCURRENCY = 200
"""Connections opened at once at start (a broker takes thousands, not all in one burst)."""


def telemetry_topic(site_id: str, device_id: str) -> str:
    return f"pubnet/v1/telemetry/{site_id}/{device_id}"


def status_topic(site_id: str, device_id: str) -> str:
    return f"pubnet/v1/status/{site_id}/{device_id}"


# -- MQTT 3.1.1 packets -----------------------------------------------------------------------


def remaining_length(n: int) -> bytes:
    """MQTT's Remaining Length: 7 bits a byte, least significant first, high bit = more."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, will_topic: str, keepalive: int, username: str | None,
                   password: str | None) -> bytes:
    """CONNECT, clean session, last will ``offline`` QoS 1 retained."""
    flags = 0x02 | 0x04 | (1 << 3) | 0x20
    payload = _string(client_id.encode()) + _string(will_topic.encode()) + _string(b"offline")
    if username is not None:
        flags |= 0x80
        payload += _string(username.encode())
        if password is not None:
            flags |= 0x40
            payload += _string(password.encode())
    body = _string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return b"\x10" + remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, packet_id: int, retain: bool) -> bytes:
    """PUBLISH at QoS 1."""
    body = _string(topic.encode()) + struct.pack("!H", packet_id) + payload
    return bytes([0x32 | (1 if retain else 0)]) + remaining_length(len(body)) + body


REFUSED_FOR_GOOD = frozenset({4, 5})
"""CONNACK codes a retry cannot change (bad user name or password, not authorised)."""
DISCONNECT = b"\xe0\x00"


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where the gateways publish and how they log in."""

    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    heartbeat: float = 30.0
    """Seconds between two telemetry messages of one gateway."""

    @classmethod
    def from_url(cls, url: str, **options: object) -> BrokerSettings:
        """``mqtt://host[:port]`` or ``mqtts://host[:port]``; raises ValueError naming it."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"expected mqtt://host[:port] or mqtts://host[:port], got {url!r}")
        if parts.username or parts.password:
            raise ValueError("put the gateways' login in --mqtt-username/--mqtt-password-file,"
                             " not in the URL")
        tls = parts.scheme == "mqtts"
        return cls(host=parts.hostname, port=parts.port or (8883 if tls else 1883), tls=tls,
                   **options)  # type: ignore[arg-type]

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


@dataclass(slots=True)
class GatewayStats:
    """What the gateways did since start; logged with the SNMP counters."""

    connected: int = 0
    connects: int = 0
    connect_failures: int = 0
    published: int = 0
    acknowledged: int = 0
    refused: int = 0
    """CONNACKs with a non-zero return code (bad login, not authorised)."""


# -- one gateway ------------------------------------------------------------------------------


class _Link(asyncio.Protocol):
    """One gateway's connection: sends CONNECT, reads CONNACK/PUBACK, nothing else."""

    def __init__(self, gateway: Gateway, owner: MqttGateways) -> None:
        self.gateway = gateway
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.accepted = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        settings = self.owner.broker
        gateway = self.gateway
        transport.write(connect_packet(
            f"sim-{gateway.device.device_id}", status_topic(gateway.site_id,
                                                            gateway.device.device_id),
            self.owner.keepalive, settings.username, settings.password))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        buffer = self.buffer
        while len(buffer) >= 2:
            size, shift, pos = 0, 0, 1
            while True:
                if pos >= len(buffer):
                    return
                byte = buffer[pos]
                size |= (byte & 0x7F) << shift
                shift += 7
                pos += 1
                if not byte & 0x80:
                    break
            if len(buffer) < pos + size:
                return
            kind, body = buffer[0] >> 4, bytes(buffer[pos:pos + size])
            del buffer[:pos + size]
            if kind == 2 and not self.accepted.done():  # CONNACK
                self.accepted.set_result(body[1] if len(body) > 1 else 255)
            elif kind == 4:  # PUBACK
                self.owner.stats.acknowledged += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.accepted.done():
            self.accepted.set_exception(ConnectionError("the broker closed the connection"))
        self.owner.lost(self.gateway, self)

    def send(self, data: bytes) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True


class Gateway:
    """One simulated gateway: its device, its site, its connection and its power."""

    __slots__ = ("attempts", "device", "link", "packet_id", "powered", "silent", "site_id")

    def __init__(self, device: SimDevice, site_id: str) -> None:
        self.device = device
        self.site_id = site_id
        self.link: _Link | None = None
        self.packet_id = 0
        self.powered = True
        self.silent = False
        self.attempts = 0

    def next_packet_id(self) -> int:
        self.packet_id = self.packet_id % 65535 + 1
        return self.packet_id

    def telemetry(self, now: float) -> bytes:
        """The JSON heartbeat: docs/mqtt.md's fields, values from the device's daily curve."""
        device = self.device
        wan = device.interfaces[0]
        busy = max(0.0, device.activity(now) - 0.5)
        minute = int(now // 60)
        seed, index = device.seed, device.index
        return json.dumps({
            "ts": round(now, 3),
            "uptime_s": int(device.elapsed(now)),
            "clients": {"2g": int(25 * busy + 3 * unit(seed, index, 1, minute)),
                        "5g": int(40 * busy + 3 * unit(seed, index, 2, minute))},
            "rx_bytes": {"wan": device.in_octets(wan, now)},
            "tx_bytes": {"wan": device.out_octets(wan, now)},
            "signal_dbm": round(-95 + 30 * unit(seed, index, 3) + 2 * unit(seed, index, minute),
                                1),
            "cpu_ratio": round(min(1.0, device.cpu_load(now, 1) / 100), 3),
            "mem_ratio": round(min(1.0, device.ram_used_kb(now) / device.ram_kb), 3),
            "temperature_c": round(42 + 12 * busy + 3 * unit(seed, index, 4), 1),
            "firmware": FIRMWARE,
        }, separators=(",", ":")).encode()


# -- the fleet of gateways ------------------------------------------------------------------


class MqttGateways:
    """Every ``mqtt``-profile gateway of a fleet, publishing to one broker.

    An async context manager: ``async with gateways:`` connects them all (``ready`` is set
    once each has tried once) and publishes their telemetry in one task until exit, which
    disconnects them cleanly (their wills are not published: the simulator stopped, not the
    villages). A connection the broker drops is retried with capped back-off and jitter.
    """

    name = "simulator-mqtt"

    def __init__(self, gateways: Iterable[Gateway], broker: BrokerSettings, *,
                 seed: int = 1, clock: Clock = time.time) -> None:
        self.gateways: dict[str, Gateway] = {g.device.device_id: g for g in gateways}
        self.broker = broker
        self.seed = seed
        self.clock = clock
        self.keepalive = max(60, int(2 * broker.heartbeat) + 1)
        self.stats = GatewayStats()
        self.ready = asyncio.Event()
        self._ssl = broker.ssl_context()
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._closing = False

    @classmethod
    def from_devices(cls, inventory: Inventory, devices: Sequence[SimDevice],
                     broker: BrokerSettings, *, seed: int = 1,
                     clock: Clock = time.time) -> MqttGateways:
        gateways = [Gateway(d, inventory.devices[d.device_id].site_id) for d in devices]
        return cls(gateways, broker, seed=seed, clock=clock)

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def first(gateway: Gateway) -> None:
            async with limit:
                await self._connect(gateway)

        await asyncio.gather(*(first(g) for g in self.gateways.values()))
        self._task = asyncio.create_task(self._publish_forever(), name=self.name)
        self.ready.set()
        log.info("mqtt gateways connected", extra={
            "connected": self.stats.connected, "gateways": len(self.gateways),
            "broker": f"{self.broker.host}:{self.broker.port}"})
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closing = True
        for task in (self._task, *self._pending):
            if task is not None:
                task.cancel()
        for gateway in self.gateways.values():
            link = gateway.link
            if link is not None and link.send(DISCONNECT) and link.transport is not None:
                link.transport.close()
        await asyncio.sleep(0)

    # -- power ------------------------------------------------------------------------------

    def power_off(self, device_id: str) -> None:
        """The gateway loses power: its connection drops without DISCONNECT, so the broker
        publishes its last will (``offline``); it stays off until :meth:`power_on`."""
        gateway = self._gateway(device_id)
        gateway.powered = False
        if gateway.link is not None and gateway.link.transport is not None:
            gateway.link.transport.abort()

    def power_on(self, device_id: str) -> None:
        """Power is back: the gateway reconnects and publishes ``online``."""
        gateway = self._gateway(device_id)
        if not gateway.powered:
            gateway.powered = True
            self._later(0.0, gateway)

    def silence(self, device_id: str, silent: bool = True) -> None:
        """Stop (or resume) publishing while the connection stays open, as behind a cut
        fibre: pubnet sees heartbeats stop, and a broker publishes the will only once the
        keep-alive expires (1.5 × ``keepalive`` without a packet); until resumed it cannot
        reconnect either."""
        gateway = self._gateway(device_id)
        gateway.silent = silent
        if not silent:
            self._publish(gateway, self.clock())

    def _gateway(self, device_id: str) -> Gateway:
        try:
            return self.gateways[device_id]
        except KeyError:
            raise KeyError(f"no simulated MQTT gateway {device_id!r}") from None

    # -- connections ------------------------------------------------------------------------

    async def _connect(self, gateway: Gateway) -> None:
        loop = asyncio.get_running_loop()
        if not gateway.powered or self._closing:
            return
        if gateway.silent:  # behind the cut nothing reaches the broker: try again later
            self._retry(gateway)
            return
        try:
            _transport, link = await asyncio.wait_for(loop.create_connection(
                lambda: _Link(gateway, self), self.broker.host, self.broker.port,
                ssl=self._ssl, server_hostname=self.broker.host if self._ssl else None), 10)
            code = await asyncio.wait_for(link.accepted, 10)
        except (OSError, TimeoutError, ConnectionError, ssl.SSLError) as exc:
            self.stats.connect_failures += 1
            if self.stats.connect_failures == 1:
                log.warning("mqtt gateway cannot connect", extra={
                    "device": gateway.device.device_id,
                    "broker": f"{self.broker.host}:{self.broker.port}",
                    "error": str(exc) or type(exc).__name__})
            self._retry(gateway)
            return
        if code != 0:
            self.stats.refused += 1
            if self.stats.refused == 1:
                log.warning("mqtt broker refused a gateway (login?)",
                            extra={"device": gateway.device.device_id, "connack": code})
            if link.transport is not None:
                link.transport.close()
            if code not in REFUSED_FOR_GOOD:
                self._retry(gateway)
            return
        if link.transport is None or link.transport.is_closing():
            self._retry(gateway)
            return
        gateway.link = link
        gateway.attempts = 0
        self.stats.connected += 1
        self.stats.connects += 1
        link.send(publish_packet(status_topic(gateway.site_id, gateway.device.device_id),
                                 b"online", gateway.next_packet_id(), retain=True))
        self._publish(gateway, self.clock())

    def lost(self, gateway: Gateway, link: _Link) -> None:
        if gateway.link is not link:
            return
        gateway.link = None
        self.stats.connected -= 1
        if gateway.powered and not self._closing:
            self._retry(gateway)

    def _retry(self, gateway: Gateway) -> None:
        gateway.attempts += 1
        delay = min(30.0, 0.5 * 2 ** min(gateway.attempts, 8)) * random.uniform(0.5, 1.0)
        self._later(delay, gateway)

    def _later(self, delay: float, gateway: Gateway) -> None:
        async def again() -> None:
            await asyncio.sleep(delay)
            await self._connect(gateway)

        task = asyncio.create_task(again(), name=f"mqtt-reconnect-{gateway.device.device_id}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # -- telemetry --------------------------------------------------------------------------

    def _publish(self, gateway: Gateway, now: float) -> None:
        link = gateway.link
        if link is None or gateway.silent:
            return
        topic = telemetry_topic(gateway.site_id, gateway.device.device_id)
        if link.send(publish_packet(topic, gateway.telemetry(now), gateway.next_packet_id(),
                                    retain=False)):
            self.stats.published += 1

    async def _publish_forever(self) -> None:
        """Every gateway once per heartbeat, each at its own offset within the period."""
        period = self.broker.heartbeat
        start = time.monotonic()
        due = [(start + period * (1 + unit(self.seed, 0x6A7E, mix(g.device.index))), n, g)
               for n, g in enumerate(self.gateways.values())]
        heapq.heapify(due)
        while due:
            at, n, gateway = due[0]
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(min(wait, 1.0))
                continue
            heapq.heapreplace(due, (at + period, n, gateway))
            self._publish(gateway, self.clock())
