"""How simulated devices meet the wire: one socket per port, not one per device.

A fleet of 100,000 devices with a socket each needs 100,000 file descriptors; typical limits
are 1,024 to 20,000, and the simulator died at ~19,000 devices with ``[Errno 24] Too many
open files``. So every device sharing a UDP port is served by **one** socket bound to the
wildcard address on that port: Linux delivers to it every datagram sent to any
``127.x.y.z:port``, ``IP_PKTINFO`` tells which address each datagram was sent to (the
device), and the answer leaves from that same address (``IP_PKTINFO`` on ``sendmsg``), so a
poller sees each device answer from its own address, as with a socket per device.

Datagrams to an address no device owns are dropped and counted (``no_device``): a poller
sees a timeout, as from a dead host. The wildcard bind also listens on non-loopback
interfaces; those datagrams carry a destination no device owns and are dropped the same way.

Devices that each have their own port (``AddressPlan(per_port=True)``) keep a socket each,
which the port range bounds to ~64,000 anyway.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Mapping
from typing import Protocol

from pubnet.ports import bind_udp

Address = tuple[str, int]

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
"""Linux's value; Python 3.11's socket module does not export it."""

_PKTINFO = struct.Struct("@i4s4s")
"""struct in_pktinfo: ifindex, spec_dst (source to answer from), addr (header destination)."""

_ANCILLARY = socket.CMSG_SPACE(_PKTINFO.size)

READS_PER_TURN = 512
"""Datagrams read per readiness callback before yielding to the loop (fairness)."""


class Sender(Protocol):
    """Sends a datagram from one device's address."""

    def send(self, data: bytes, addr: Address) -> None: ...


Handler = Callable[[object, bytes, Address], None]
"""Called with (the device's route, request bytes, sender address)."""


class PortSocket:
    """One wildcard UDP socket serving every device listening on ``port``.

    ``routes`` maps a device's packed IPv4 address (4 bytes) to its route object, which is
    passed to ``handle`` with each datagram addressed to it.
    """

    def __init__(self, port: int, routes: Mapping[bytes, object], handle: Handler,
                 on_drop: Callable[[str], None]) -> None:
        self.port = port
        self.routes = routes
        self.handle = handle
        self.on_drop = on_drop
        self.sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind ``0.0.0.0:port``; raises OSError naming the port."""
        # Large buffers: a poller's burst to thousands of devices lands on one socket.
        sock = bind_udp("0.0.0.0", self.port, f"cannot bind 0.0.0.0:{self.port} for the "
                        f"simulated devices on port {self.port}",
                        [(socket.IPPROTO_IP, IP_PKTINFO, 1),
                         (socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20),
                         (socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)])
        self.sock = sock
        self._loop = loop
        loop.add_reader(sock.fileno(), self._readable)

    def close(self) -> None:
        if self.sock is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.sock = None

    def sender(self, host: str) -> Sender:
        """What a device at ``host`` answers and sends traps through."""
        return _FromAddress(self, socket.inet_aton(host))

    def send_from(self, data: bytes, ancillary: list[tuple[int, int, bytes]],
                  addr: Address) -> None:
        sock = self.sock
        if sock is None:
            return
        try:
            sock.sendmsg([data], ancillary, 0, addr)
        except BlockingIOError:
            self.on_drop("send_buffer_full")
        except OSError:
            self.on_drop("socket_error")

    def _readable(self) -> None:
        sock = self.sock
        if sock is None:
            return
        routes, handle, unpack = self.routes, self.handle, _PKTINFO.unpack
        for _ in range(READS_PER_TURN):
            try:
                data, ancillary, _flags, addr = sock.recvmsg(65535, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # an ICMP error from an earlier answer (the poller went away): not ours
                self.on_drop("socket_error")
                continue
            route = None
            for level, kind, payload in ancillary:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    route = routes.get(unpack(payload[:_PKTINFO.size])[2])
                    break
            if route is None:
                self.on_drop("no_device")
                continue
            handle(route, data, addr)


class _FromAddress:
    """Sends through a shared socket with a device's address as the source."""

    __slots__ = ("ancillary", "port_socket")

    def __init__(self, port_socket: PortSocket, packed: bytes) -> None:
        self.port_socket = port_socket
        self.ancillary = [(socket.IPPROTO_IP, IP_PKTINFO,
                           _PKTINFO.pack(0, packed, b"\0\0\0\0"))]

    def send(self, data: bytes, addr: Address) -> None:
        self.port_socket.send_from(data, self.ancillary, addr)


class DeviceSocket(asyncio.DatagramProtocol):
    """A socket of one device's own (its own port): the layout of ``per_port`` plans."""

    def __init__(self, route: object, handle: Handler, on_drop: Callable[[str], None]) -> None:
        self.route = route
        self.handle = handle
        self.on_drop = on_drop
        self.transport: asyncio.DatagramTransport | None = None

    async def open(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> None:
        sock = bind_udp(host, port, f"cannot bind {host}:{port}")
        await loop.create_datagram_endpoint(lambda: self, sock=sock)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.handle(self.route, data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        self.on_drop("socket_error")

    def send(self, data: bytes, addr: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
