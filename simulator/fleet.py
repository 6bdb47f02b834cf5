"""A fleet of simulated devices in one process: built from an inventory, served over UDP.

Each device listens on its own loopback address (``127.1.0.1:161``, ``127.1.0.2:161``...;
Linux answers for all of 127.0.0.0/8 without configuration) or on its own port of one
address, so the inventory handed to the poller looks like a real fleet. Devices sharing a
port share one socket (:mod:`simulator.sockets`), so 100,000 devices need one descriptor;
answering is synchronous in the socket's callback (no task per request), which is what lets
one core keep up with thousands of devices.

Fault injection (:meth:`Fleet.silence`, :meth:`Fleet.slow`, :meth:`Fleet.malform`,
:meth:`Fleet.reboot`, :meth:`Fleet.wrap`, :meth:`Fleet.link_down`, :meth:`Fleet.link_up`)
changes a device in place; link changes and reboots also send the standard SNMPv2 trap
(linkDown/linkUp/coldStart) from the device's own address to the configured trap receiver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import ipaddress
import logging
import resource
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self, cast

from inventory.model import NON_SNMP_PROFILES, Device, Inventory, Role
from pubnet.ber import (
    PduType,
    Tag,
    Version,
    encode_int,
    encode_message,
    encode_octets,
    encode_oid,
    encode_unsigned,
    varbind,
)
from pubnet.config import Credential
from simulator.agent import Agent
from simulator.device import (
    Faults,
    Interface,
    Radio,
    SimDevice,
    default_interfaces,
    mix,
    text_key,
    unit,
)
from simulator.mib import (
    IF_ADMIN_STATUS,
    IF_DESCR,
    IF_INDEX,
    IF_NAME,
    IF_OPER_STATUS,
    SNMP_TRAP_OID,
    SYS_UPTIME,
    TRAP_COLD_START,
    TRAP_LINK_DOWN,
    TRAP_LINK_UP,
    Shape,
    ShapeCache,
)
from simulator.sockets import DeviceSocket, PortSocket, Sender
from simulator.usm import UserSpec

log = logging.getLogger("pubnet.simulator")

Address = tuple[str, int]
Clock = Callable[[], float]

SYS_OBJECT_IDS: Mapping[Role, tuple[int, ...]] = {
    Role.ACCESS_POINT: (1, 3, 6, 1, 4, 1, 41112, 1, 6),  # Ubiquiti UniFi AP
    Role.SITE_GATEWAY: (1, 3, 6, 1, 4, 1, 14988, 1),  # MikroTik RouterOS
    Role.DISTRICT_AGGREGATION: (1, 3, 6, 1, 4, 1, 9, 1, 2494),  # Cisco ASR 920
    Role.PROVINCIAL_NODE: (1, 3, 6, 1, 4, 1, 2636, 1, 1, 1, 2, 29),  # Juniper MX
    Role.CORE: (1, 3, 6, 1, 4, 1, 2011, 2, 224, 67),  # Huawei NE40E (NT backbone)
}
"""sysObjectID per role, so the poller's ``auto`` profile can choose by vendor prefix."""

SYS_DESCRS: Mapping[Role, str] = {
    Role.ACCESS_POINT: "UAP-AC-Lite 6.6.55 Linux 3.3.8 mips (pubnet simulator)",
    Role.SITE_GATEWAY: "RouterOS RB4011iGS+ 7.14.3 (pubnet simulator)",
    Role.DISTRICT_AGGREGATION: "Cisco IOS XE Software, ASR920 16.12.4 (pubnet simulator)",
    Role.PROVINCIAL_NODE: "Juniper Networks MX204 JUNOS 22.4R3 (pubnet simulator)",
    Role.CORE: "Huawei Versatile Routing Platform NE40E V800R011 (pubnet simulator)",
}


# -- addresses ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressPlan:
    """Where device number ``i`` listens.

    ``per_port=False``: its own address ``network + i`` (skipping .0 and .255) on ``port``.
    ``per_port=True``: ``network`` itself, on port ``port + i``.
    """

    network: str = "127.1.0.0"
    port: int = 161
    per_port: bool = False

    def __post_init__(self) -> None:
        if not ipaddress.IPv4Address(self.network).is_loopback:
            raise ValueError(f"simulator addresses must be in 127.0.0.0/8, not {self.network}")

    def address(self, index: int) -> Address:
        if self.per_port:
            port = self.port + index
            if port > 65535:
                raise ValueError(f"device {index} would need port {port} (> 65535)")
            return self.network, port
        base = int(ipaddress.IPv4Address(self.network))
        value = base + (index // 254) * 256 + index % 254 + 1
        host = ipaddress.IPv4Address(value)
        if not host.is_loopback:
            raise ValueError(f"device {index} would fall outside 127.0.0.0/8 ({host})")
        return str(host), self.port


def plan_addresses(inventory: Inventory, plan: AddressPlan) -> dict[str, Address]:
    """Every inventory device → its simulator address, in sorted device-id order."""
    return {dev: plan.address(i) for i, dev in enumerate(sorted(inventory.devices))}


def simulated_inventory(inventory: Inventory, addresses: Mapping[str, Address]) -> Inventory:
    """A copy of ``inventory`` whose devices point at their simulator addresses."""
    devices = {
        dev_id: dataclasses.replace(dev, host=addresses[dev_id][0], port=addresses[dev_id][1])
        if dev_id in addresses else dev
        for dev_id, dev in inventory.devices.items()
    }
    return Inventory(sites=dict(inventory.sites), devices=devices, links=dict(inventory.links),
                     source=inventory.source)


# -- building devices ---------------------------------------------------------------------


def _community(device: Device, credentials: Mapping[str, Credential], default: bytes) -> bytes:
    credential = credentials.get(device.credential)
    if credential is None or credential.community is None:
        return default
    return credential.community.get_secret_value().encode("utf-8")


def user_spec(credential: Credential) -> UserSpec | None:
    """The SNMPv3 user a device with this credential accepts (None for v1/v2c)."""
    if credential.version != "3" or not credential.user:
        return None
    return UserSpec(
        name=credential.user.encode("utf-8"),
        auth=credential.auth_protocol,
        auth_password=credential.auth_key.get_secret_value().encode("utf-8")
        if credential.auth_key else b"",
        priv=None if credential.priv_protocol == "none" else credential.priv_protocol,
        priv_password=credential.priv_key.get_secret_value().encode("utf-8")
        if credential.priv_key else b"",
    )


LinkEnds = Mapping[str, Mapping[str, int]]
"""Device id → {interface name its links use → the link's capacity}, in link order."""


def link_ends(inventory: Inventory) -> dict[str, dict[str, int]]:
    """Every device's link interfaces in one pass over the links (scanning every link for
    every device took minutes at 100,000 devices)."""
    ends: dict[str, dict[str, int]] = {}
    for link in inventory.links.values():
        ends.setdefault(link.a_device, {}).setdefault(link.a_interface, link.capacity_bps)
        ends.setdefault(link.b_device, {}).setdefault(link.b_interface, link.capacity_bps)
    return ends


def _interfaces(device: Device, named: Mapping[str, int], seed: int,
                key: int) -> list[Interface]:
    defaults = default_interfaces(device.role)
    specs: list[tuple[str, int, int]] = [(name, 6, speed) for name, speed in named.items()]
    for name, if_type, speed in defaults:
        if len(specs) >= max(len(defaults), len(named)):
            break
        if name not in named:
            specs.append((name, if_type, speed))
    interfaces = []
    for pos, (name, if_type, speed) in enumerate(specs):
        index = pos + 1
        utilisation = 0.01 + 0.25 * unit(seed, key, index, 1)
        in_rate = speed / 8 * utilisation
        out_rate = in_rate * (0.15 + 0.5 * unit(seed, key, index, 2))
        interfaces.append(Interface(
            index=index, name=name, descr=name, alias=f"{device.device_id} {name}",
            if_type=if_type, speed_bps=speed, in_rate=in_rate, out_rate=out_rate,
            error_rate=0.002 + 0.02 * unit(seed, key, index, 3),
        ))
    return interfaces


def _radios(seed: int, key: int) -> list[Radio]:
    ch24 = (1, 6, 11)[mix(seed, key, 24) % 3]
    ch5 = (36, 40, 44, 48, 149, 153, 157, 161)[mix(seed, key, 5) % 8]
    return [
        Radio(1, "ng", ch24, 20, -95 + int(7 * unit(seed, key, 7)),
              20 + int(20 * unit(seed, key, 8))),
        Radio(2, "na", ch5, 23, -100 + int(8 * unit(seed, key, 9)),
              30 + int(30 * unit(seed, key, 10))),
    ]


def build_device(
    device: Device,
    index: int,
    address: Address,
    inventory: Inventory,
    *,
    seed: int,
    now: float,
    community: bytes,
    ends: LinkEnds | None = None,
) -> SimDevice:
    """One simulated device for one inventory device; values depend only on seed and id.

    ``ends`` is :func:`link_ends` of the inventory, computed once for a whole fleet.
    """
    if ends is None:
        ends = link_ends(inventory)
    key = text_key(device.device_id) ^ mix(index)
    site = inventory.sites.get(device.site_id)
    location = f"{site.name}, {site.province_name_en}" if site is not None else device.site_id
    uptime = 3600 + 40 * 86400 * unit(seed, key, 0)
    is_ap = device.role is Role.ACCESS_POINT or device.profile == "access-point"
    return SimDevice(
        device_id=device.device_id,
        index=index,
        role=device.role,
        profile=device.profile,
        host=address[0],
        port=address[1],
        community=community,
        sys_name=device.device_id,
        sys_descr=SYS_DESCRS[device.role],
        sys_object_id=SYS_OBJECT_IDS[device.role],
        sys_location=location,
        seed=seed,
        boot=now - uptime,
        phase=6.283 * unit(seed, key, 11),
        interfaces=_interfaces(device, ends.get(device.device_id, {}), seed, key),
        radios=_radios(seed, key) if is_ap else [],
        cpus=1 if device.role in (Role.ACCESS_POINT, Role.SITE_GATEWAY) else 2,
        ram_kb=(131_072 if is_ap else 1_048_576) * (1 + mix(seed, key, 12) % 2),
        is_ap=is_ap,
    )


def gateway_devices(inventory: Inventory, plan: AddressPlan | None = None, *, seed: int = 1,
                    clock: Clock = time.time) -> list[SimDevice]:
    """The simulated devices behind the inventory's ``mqtt``-profile gateways (they answer
    no SNMP; :class:`simulator.gateways.MqttGateways` makes them publish)."""
    addresses = plan_addresses(inventory, plan or AddressPlan())
    now = clock()
    ends = link_ends(inventory)
    return [build_device(inventory.devices[dev_id], index, addresses[dev_id], inventory,
                         seed=seed, now=now, community=b"", ends=ends)
            for index, dev_id in enumerate(sorted(inventory.devices))
            if inventory.devices[dev_id].profile == "mqtt"]


# -- serving ------------------------------------------------------------------------------


class _Route:
    """Where one device's datagrams arrive and leave: its device, its shape, its sender."""

    __slots__ = ("device", "sender", "shape")

    def __init__(self, device: SimDevice, shape: Shape) -> None:
        self.device = device
        self.shape = shape
        self.sender: Sender | None = None


class Fleet:
    """Simulated devices answering SNMP; an async context manager that owns their sockets.

    Build with :meth:`from_inventory`; ``async with fleet:`` binds every device's address and
    closes them on exit.
    """

    def __init__(
        self,
        devices: Iterable[SimDevice],
        *,
        agent: Agent | None = None,
        trap_target: Address | None = None,
        trap_community: bytes = b"public",
        clock: Clock = time.time,
    ) -> None:
        self.devices: dict[str, SimDevice] = {d.device_id: d for d in devices}
        self.agent = agent or Agent()
        self.trap_target = trap_target
        self.trap_community = trap_community
        self.clock = clock
        self.shapes = ShapeCache()
        self.traps_sent = 0
        self._routes: dict[str, _Route] = {}
        self._sockets: list[PortSocket | DeviceSocket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._trap_request_id = 1

    @classmethod
    def from_inventory(
        cls,
        inventory: Inventory,
        plan: AddressPlan | None = None,
        *,
        seed: int = 1,
        credentials: Mapping[str, Credential] | None = None,
        default_community: str = "public",
        devices: Sequence[str] | None = None,
        trap_target: Address | None = None,
        clock: Clock = time.time,
        max_response: int = 1472,
    ) -> Fleet:
        """Simulate every SNMP device of ``inventory`` (or only ``devices``).

        Devices with profile ``icmp`` or ``mqtt`` get an address (see :func:`plan_addresses`)
        but no SNMP agent. Each device answers its named credential: a v1/v2c community, or
        an SNMPv3 user (its own engine ID; MD5/SHA/SHA-2 auth, DES/AES privacy). Devices
        with a v3 or unknown credential also answer ``default_community`` over v1/v2c.
        """
        plan = plan or AddressPlan()
        addresses = plan_addresses(inventory, plan)
        wanted = set(devices) if devices is not None else None
        now = clock()
        creds = credentials or {}
        default = default_community.encode("utf-8")
        ends = link_ends(inventory)
        built = []
        for index, dev_id in enumerate(sorted(inventory.devices)):
            device = inventory.devices[dev_id]
            if device.profile in NON_SNMP_PROFILES:
                continue
            if wanted is not None and dev_id not in wanted:
                continue
            sim = build_device(device, index, addresses[dev_id], inventory, seed=seed, now=now,
                               community=_community(device, creds, default), ends=ends)
            credential = creds.get(device.credential)
            spec = user_spec(credential) if credential is not None else None
            if spec is not None:
                sim.users[spec.name] = spec
            built.append(sim)
        return cls(built, agent=Agent(max_response), trap_target=trap_target, clock=clock)

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
        await asyncio.sleep(0)  # transports release their sockets on the next loop turn

    async def start(self) -> None:
        """Open the sockets; raises OSError naming the device or port that failed.

        Devices sharing a port share one wildcard socket (:class:`PortSocket`), so a fleet
        of any size needs one file descriptor per port; devices with a port of their own
        (``per_port`` plans) get a socket each.
        """
        loop = self._loop = asyncio.get_running_loop()
        by_port: dict[int, list[SimDevice]] = {}
        for device in self.devices.values():
            by_port.setdefault(device.port, []).append(device)
        try:
            for port, devices in by_port.items():
                if len(devices) == 1:
                    await self._open_own(loop, devices[0])
                else:
                    self._open_shared(loop, port, devices)
        except BaseException:
            self.close()
            raise
        log.info("simulator listening", extra={
            "devices": len(self._routes), "sockets": len(self._sockets),
            "shapes": len(self.shapes),
            "descriptors": resource.getrlimit(resource.RLIMIT_NOFILE)[0]})

    async def _open_own(self, loop: asyncio.AbstractEventLoop, device: SimDevice) -> None:
        route = _Route(device, self.shapes.get(device))
        own = DeviceSocket(route, self._datagram, self._drop)
        try:
            await own.open(loop, device.host, device.port)
        except OSError as exc:
            raise OSError(exc.errno, f"{device.device_id}: {exc.strerror}") from None
        route.sender = own
        self._sockets.append(own)
        self._routes[device.device_id] = route

    def _open_shared(self, loop: asyncio.AbstractEventLoop, port: int,
                     devices: list[SimDevice]) -> None:
        by_address: dict[bytes, _Route] = {}
        shared = PortSocket(port, by_address, self._datagram, self._drop)
        for device in devices:
            packed = socket.inet_aton(device.host)
            if packed in by_address:
                other = by_address[packed].device.device_id
                raise OSError(errno.EADDRINUSE, f"{device.device_id}: {device.host}:{port} "
                              f"is also {other}'s address")
            route = by_address[packed] = _Route(device, self.shapes.get(device))
            route.sender = shared.sender(device.host)
            self._routes[device.device_id] = route
        shared.open(loop)
        self._sockets.append(shared)

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        self._routes.clear()

    @property
    def sockets(self) -> int:
        """Sockets open: one per shared port plus one per device with a port of its own."""
        return len(self._sockets)

    def _drop(self, reason: str) -> None:
        self.agent.stats.dropped[reason] += 1

    def _datagram(self, route: object, data: bytes, addr: Address) -> None:
        """Answer in the socket's callback: no task per request."""
        served = cast(_Route, route)
        device = served.device
        faults = device.faults
        if faults.silent:
            self.agent.stats.dropped["silent"] += 1
            return
        response = self.agent.respond(device, served.shape, data, self.clock())
        sender = served.sender
        if response is None or sender is None:
            return
        if faults.delay > 0:
            self.loop_call_later(faults.delay, sender.send, response, addr)
        else:
            sender.send(response, addr)

    def loop_call_later(self, delay: float, callback: Callable[..., object],
                        *args: object) -> None:
        loop = self._loop or asyncio.get_running_loop()
        loop.call_later(delay, callback, *args)

    # -- lookup ---------------------------------------------------------------------------

    def device(self, device_id: str) -> SimDevice:
        """Raises KeyError naming the device id when it is not simulated."""
        try:
            return self.devices[device_id]
        except KeyError:
            raise KeyError(f"no simulated device {device_id!r}") from None

    def address_of(self, device_id: str) -> Address:
        device = self.device(device_id)
        return device.host, device.port

    # -- faults ---------------------------------------------------------------------------

    def silence(self, device_id: str, silent: bool = True) -> None:
        """Stop (or resume) answering: the device looks dead to a poller."""
        self.device(device_id).faults.silent = silent

    def slow(self, device_id: str, delay: float) -> None:
        """Answer every request ``delay`` seconds late (0 = on time)."""
        self.device(device_id).faults.delay = max(0.0, delay)

    def malform(self, device_id: str, malformed: bool = True) -> None:
        """Answer with responses a client must drop (truncated, wrong id, garbage...)."""
        self.device(device_id).faults.malformed = malformed

    def heal(self, device_id: str) -> None:
        """Clear silence, delay and malformed answers."""
        self.device(device_id).faults = Faults()

    def reboot(self, device_id: str, *, trap: bool = True) -> None:
        """sysUpTime and counters restart from zero; sends coldStart when ``trap``."""
        device = self.device(device_id)
        device.reboot(self.clock())
        if trap:
            self._send_trap(device, TRAP_COLD_START, [])

    def wrap(self, device_id: str, in_seconds: float = 10.0, *, hc: bool = False) -> None:
        """Move the 32-bit octet counters to wrap past 2^32 within ``in_seconds``.

        With ``hc=False`` (default) the device also stops having ifHCIn/OutOctets, as an old
        32-bit-only agent, so a poller must unwrap the 32-bit counters itself.
        """
        device = self.device(device_id)
        device.wrap_soon(self.clock(), in_seconds)
        if device.hc != hc:
            device.hc = hc
            self._reshape(device)

    def link_down(self, device_id: str, interface: int | str, *, trap: bool = True) -> None:
        """Take an interface (ifIndex or ifName) oper-down and send linkDown."""
        self._set_link(device_id, interface, False, trap)

    def link_up(self, device_id: str, interface: int | str, *, trap: bool = True) -> None:
        """Bring an interface back oper-up and send linkUp."""
        self._set_link(device_id, interface, True, trap)

    def _set_link(self, device_id: str, interface: int | str, up: bool, trap: bool) -> None:
        device = self.device(device_id)
        iface = device.interface(interface)
        if device.set_link(iface, up, self.clock()) and trap:
            index = iface.index
            self._send_trap(device, TRAP_LINK_UP if up else TRAP_LINK_DOWN, [
                varbind(encode_oid((*IF_INDEX, index)), encode_int(index)),
                varbind(encode_oid((*IF_ADMIN_STATUS, index)),
                        encode_int(1 if iface.admin_up else 2)),
                varbind(encode_oid((*IF_OPER_STATUS, index)), encode_int(1 if up else 2)),
                varbind(encode_oid((*IF_DESCR, index)), encode_octets(iface.descr)),
                varbind(encode_oid((*IF_NAME, index)), encode_octets(iface.name)),
            ])

    def _reshape(self, device: SimDevice) -> None:
        route = self._routes.get(device.device_id)
        if route is not None:
            route.shape = self.shapes.get(device)

    # -- traps ----------------------------------------------------------------------------

    def trap_bytes(self, device: SimDevice, trap_oid: tuple[int, ...],
                   extra: Sequence[bytes]) -> bytes:
        """An SNMPv2c trap as ``device`` would send it now."""
        varbinds = b"".join([
            varbind(encode_oid(SYS_UPTIME),
                    encode_unsigned(Tag.TIMETICKS, device.uptime_ticks(self.clock()))),
            varbind(encode_oid(SNMP_TRAP_OID), encode_oid(trap_oid)),
            *extra,
        ])
        self._trap_request_id = (self._trap_request_id + 1) & 0x7FFFFFFF
        return encode_message(Version.V2C, self.trap_community, PduType.TRAP_V2,
                              self._trap_request_id, 0, 0, varbinds)

    def _send_trap(self, device: SimDevice, trap_oid: tuple[int, ...],
                   extra: Sequence[bytes]) -> None:
        if self.trap_target is None:
            return
        route = self._routes.get(device.device_id)
        if route is None or route.sender is None:
            return
        route.sender.send(self.trap_bytes(device, trap_oid, extra), self.trap_target)
        self.traps_sent += 1
