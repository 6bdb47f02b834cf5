"""Asynchronous ICMP echo over one shared socket, for thousands of targets at once.

An unprivileged ICMP datagram socket (``SOCK_DGRAM``/``IPPROTO_ICMP``) is used when
``/proc/sys/net/ipv4/ping_group_range`` admits our group; otherwise a raw socket (needs root
or CAP_NET_RAW). Either way one socket serves every probe: replies are read by a loop reader
callback and matched to their waiting future by (address, identifier, sequence), so a probe
costs a datagram and a dict entry, never a thread or a subprocess.

:class:`Pinger` is the seam the prober depends on; tests use a fake transport for targets
that must not answer (every 127.x address answers on Linux, and traffic stays on loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import itertools
import os
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from collectors.deadline import answer_within
from collectors.receive_buffer import enlarge_receive_buffer

ECHO_REQUEST = 8
ECHO_REPLY = 0
DEST_UNREACHABLE = 3
PAYLOAD = b"pubnet-icmp-probe-0123456789abcdef"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What ``count`` echo requests to one host came back with."""

    sent: int
    received: int
    rtts: tuple[float, ...]
    """Round-trip times (seconds) of the answered requests."""
    unreachable: bool = False
    """The network said so (ICMP destination unreachable, or the send failed)."""
    error: str = ""

    @property
    def loss(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 1.0

    @property
    def rtt(self) -> float | None:
        return sum(self.rtts) / len(self.rtts) if self.rtts else None


class Pinger(Protocol):
    async def ping(self, host: str, count: int, wait: float,
                   spacing: float) -> ProbeResult:
        """Send ``count`` echo requests ``spacing`` seconds apart; wait up to ``wait``
        for each reply. Never raises for network trouble: it is in the result."""
        ...


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(identifier: int, sequence: int) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, identifier, sequence)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, checksum(header + PAYLOAD), identifier,
                       sequence) + PAYLOAD


def dgram_allowed() -> bool:
    """Whether our group may open unprivileged ICMP datagram sockets."""
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as handle:
            low, high = (int(x) for x in handle.read().split())
    except (OSError, ValueError):
        return False
    groups = {os.getgid(), *os.getgroups()}
    return any(low <= g <= high for g in groups)


def open_icmp_socket() -> tuple[socket.socket, bool]:
    """(socket, raw?): a datagram ICMP socket when allowed, else a raw one.

    Raises PermissionError when neither is allowed (not root, no CAP_NET_RAW, and the group
    is outside ping_group_range).
    """
    if dgram_allowed():
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP), False
        except PermissionError:
            pass
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), True


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux's option (and control message) for a datagram's arrival time, which Python's
socket module does not name: 35 on x86 and ARM (``asm-generic/socket.h``)."""
_TIMESPEC = struct.Struct("@ll")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's wall-clock time of a datagram's arrival, if it said."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and \
                len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return float(seconds + nanoseconds / 1e9)
    return None


def round_trip(read_after: float, arrived: float | None, sent_wall: float) -> float:
    """A reply's round-trip time: from the request to the reply's arrival in the kernel.

    What ``read_after`` measures (request to the reply read) includes the event loop's
    delay: on a saturated loop a whole turn, up to a second, and every ICMP device's RTT
    graph would show pubnet's load as the network's. The arrival time is wall-clock, so a
    clock step between request and reply could make it wrong: it is used only where it
    lies between 0 and ``read_after``."""
    if arrived is None:
        return read_after
    rtt = arrived - sent_wall
    return rtt if 0.0 <= rtt <= read_after else read_after


class SocketPinger:
    """The real :class:`Pinger`: one ICMP socket, replies matched by id and sequence.

    ``async with SocketPinger() as pinger`` opens and closes the socket.
    """

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._raw = False
        self._identifier = os.getpid() & 0xFFFF
        self._sequence = itertools.count(1)
        self._waiting: dict[tuple[str, int], tuple[asyncio.Future[float], float, float]] = {}
        """Per (host, sequence): the reply's future, and when the request went out
        (``perf_counter`` and wall-clock seconds)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self.receive_buffer = 0
        """Bytes of receive buffer the kernel granted (:func:`enlarge_receive_buffer`)."""

    async def __aenter__(self) -> Self:
        sock, raw = open_icmp_socket()
        sock.setblocking(False)
        if not raw:
            sock.bind(("0.0.0.0", 0))
            # The kernel puts the socket's port into the identifier field of echo requests.
            self._identifier = sock.getsockname()[1] & 0xFFFF
        self.receive_buffer = enlarge_receive_buffer(sock)
        with contextlib.suppress(OSError):  # without it, RTTs include the loop's delay
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock, self._raw = sock, raw
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._read)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
        self._sock = None
        for future, _, _ in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    @property
    def raw(self) -> bool:
        return self._raw

    @property
    def socket(self) -> socket.socket | None:
        """The open socket, for its kernel drop counter (:mod:`collectors.receive_buffer`)."""
        return self._sock

    def _read(self) -> None:
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                data, ancillary, _flags, (host, _port) = sock.recvmsg(2048, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            now = time.perf_counter()
            arrived = _arrival(ancillary)
            if self._raw:
                if len(data) < 20:
                    continue
                data = data[(data[0] & 0x0F) * 4:]
            if len(data) < 8:
                continue
            kind, _code, _sum, ident, seq = struct.unpack("!BBHHH", data[:8])
            if kind == DEST_UNREACHABLE and len(data) >= 36:
                # The offending datagram's IP header follows; its ICMP header after that.
                inner = data[8:]
                inner = inner[(inner[0] & 0x0F) * 4:]
                if len(inner) >= 8:
                    _k, _c, _s, ident, seq = struct.unpack("!BBHHH", inner[:8])
                    target = socket.inet_ntoa(data[8 + 16:8 + 20])
                    waiting = self._waiting.pop((target, seq), None)
                    if waiting is not None and not waiting[0].done():
                        waiting[0].set_exception(ConnectionRefusedError("unreachable"))
                continue
            if kind != ECHO_REPLY or (self._raw and ident != self._identifier):
                continue
            waiting = self._waiting.pop((host, seq), None)
            if waiting is not None and not waiting[0].done():
                future, sent, sent_wall = waiting
                future.set_result(round_trip(now - sent, arrived, sent_wall))

    async def _one(self, host: str, wait: float) -> float | None:
        """RTT of one echo, None on timeout; raises OSError when unreachable."""
        assert self._sock is not None and self._loop is not None
        sequence = next(self._sequence) & 0xFFFF
        future: asyncio.Future[float] = self._loop.create_future()
        key = (host, sequence)
        self._waiting[key] = (future, time.perf_counter(), time.time())
        try:
            self._sock.sendto(echo_request(self._identifier, sequence), (host, 0))
            # not asyncio.timeout: a reply read in the turn the deadline passes would be
            # lost; not wait_for: it loses a stop that meets the reply in one turn
            return await answer_within(future, wait)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(key, None)

    async def _resolve(self, host: str) -> str:
        """An IPv4 literal as is; a name through the loop's resolver (never blocking)."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            assert self._loop is not None
            infos = await self._loop.getaddrinfo(host, None, family=socket.AF_INET,
                                                 type=socket.SOCK_RAW)
            return str(infos[0][4][0])
        if address.version != 4:
            raise ValueError(f"{host}: IPv6 probes are not supported yet")
        return host

    async def ping(self, host: str, count: int, wait: float,
                   spacing: float) -> ProbeResult:
        if self._sock is None:
            raise RuntimeError("use 'async with SocketPinger()' first")
        try:
            host = await self._resolve(host)
        except (OSError, ValueError) as exc:
            return ProbeResult(0, 0, (), error=f"{type(exc).__name__}: {exc}")
        rtts: list[float] = []
        sent = 0
        for number in range(count):
            if number:
                await asyncio.sleep(spacing)
            sent += 1
            try:
                rtt = await self._one(host, wait)
            except OSError as exc:
                unreachable = isinstance(exc, ConnectionRefusedError) or exc.errno in (
                    errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL)
                return ProbeResult(sent, len(rtts), tuple(rtts), unreachable=unreachable,
                                   error=f"{type(exc).__name__}: {exc}")
            if rtt is not None:
                rtts.append(rtt)
        return ProbeResult(sent, len(rtts), tuple(rtts))


class FakePinger:
    """A :class:`Pinger` answering from a table: host → loss ratio (0 answers all, 1 none).

    For tests and demos of hosts that must not answer; unknown hosts answer everything.
    """

    def __init__(self, loss: dict[str, float] | None = None, rtt: float = 0.001,
                 unreachable: Sequence[str] = ()) -> None:
        self.loss = dict(loss or {})
        self.rtt = rtt
        self.unreachable = set(unreachable)
        self.calls: list[str] = []

    async def ping(self, host: str, count: int, wait: float,
                   spacing: float) -> ProbeResult:
        self.calls.append(host)
        if host in self.unreachable:
            return ProbeResult(1, 0, (), unreachable=True, error="host unreachable")
        lost = round(count * self.loss.get(host, 0.0))
        answered = count - lost
        if lost:
            await asyncio.sleep(min(wait, 0.01))
        return ProbeResult(count, answered, (self.rtt,) * answered)
