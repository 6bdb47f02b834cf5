"""Open v1/v2c sockets lent to one poll at a time, when devices outnumber file descriptors.

When every device's socket fits in the poller's share of descriptors (pubnet/fdbudget.py)
each device keeps its own. Beyond that (50,000 devices against a limit of 20,000) a poll
used to open a socket, register it with the event loop, and unregister and close it at the
end: ~55 µs of the ~175 µs a poll cost (``bench/snmp_poll.py``), and ~8 % of the whole
service at 50,000 devices. Here those sockets outlive their poll: a released socket waits
in the pool, registered with the loop once, and the next poll with the same credential
re-``connect()``\\ s it to its own agent (one system call). The pool never holds more sockets
than polls were in flight at once, which the poller already bounds by its descriptors.

A connected UDP socket only receives from its peer, so after the ``connect()`` nothing from
the previous agent can arrive; what was already queued (an answer that came after its poll
gave up, or the previous agent's ICMP error) is read here and counted as
``late_response``, never handed to the next poll. Whether anything is queued is asked with
``poll()`` first: nearly always nothing is, and a read that finds nothing raises, ~1.5 µs
dearer a poll. While a socket waits in the pool, what
arrives is read and counted the same way.
"""

from __future__ import annotations

import _socket
import asyncio
import select
import socket
from collections.abc import Callable
from typing import Any, Self

from collectors.snmp.client import PacketStats

PoolKey = tuple[int, str, str]
"""``(address family, SNMP version, community)``: which requests a socket can carry."""


class Borrowed(_socket.socket):
    """A socket object on a descriptor gufo-snmp owns, for peeking and draining: the
    descriptor stays gufo's, never closed from Python. Detach it when gufo's socket goes
    (leaving ``with`` does); one that is collected still attached detaches itself instead
    of closing the descriptor, as a plain socket object would.

    One is kept per descriptor for as long as gufo's socket lives rather than made per
    readable event: building and detaching it cost ~1 µs an answer, ~1 % of the service
    at 100,000 devices."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def __del__(self) -> None:
        self.detach()


class Lease:
    """One pooled socket; ``reader`` is its current poll's readable callback, ``peeker``
    a Python socket object on its descriptor (:class:`Borrowed`) for as long as it lives,
    ``waiting`` a poll object on it that tells :meth:`SocketPool.acquire` whether anything
    is queued (or an error pending) without a read that fails."""

    __slots__ = ("family", "fd", "key", "peeker", "reader", "sock", "waiting")

    def __init__(self, sock: Any, fd: int, family: int, key: PoolKey) -> None:
        self.sock = sock
        self.fd = fd
        self.family = family
        self.key = key
        self.reader: Callable[[], None] | None = None
        self.peeker = Borrowed(family, socket.SOCK_DGRAM, 0, fd)
        self.waiting = select.poll()
        self.waiting.register(fd, select.POLLIN)  # POLLERR comes unasked


class SocketPool:
    """Idle sockets by :data:`PoolKey`, for one event loop (see the module docstring)."""

    def __init__(self, stats: PacketStats) -> None:
        self._stats = stats
        self._idle: dict[PoolKey, list[Lease]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop the pool's sockets are registered with: a lease's readable events, and
        so its borrower's requests, live there."""
        self._keys: dict[PoolKey, PoolKey] = {}
        """One tuple per key, which every conversation borrowing with it keeps."""
        self._leases: set[Lease] = set()
        """Every socket the pool opened and has not closed (idle or lent)."""

    def key(self, family: int, version: str, community: str) -> PoolKey:
        """The pool key of a conversation: one tuple shared by every conversation with the
        same credential (a device's client keeps it: 8 bytes a device, not 64)."""
        key = (family, version, community)
        return self._keys.setdefault(key, key)

    def acquire(self, key: PoolKey, address: tuple[str, int],
                open_socket: Callable[[], tuple[Any, int]],
                reader: Callable[[], None]) -> Lease:
        """A socket for ``key`` connected to ``address``, whose readable events go to
        ``reader`` until :meth:`release`. ``open_socket`` makes a new one (gufo's socket,
        connected, and its descriptor) when none is idle; its errors propagate, and so do
        the ``OSError`` of connecting an idle one to ``address``."""
        idle = self._idle.get(key)
        if idle:
            lease = idle.pop()
            try:
                lease.peeker.connect(address)
                if lease.waiting.poll(0):  # rarely: the read below fails ~1.5 µs dearer
                    self._drain(lease.peeker)
            except OSError:
                self._close(lease)
                raise
        else:
            loop = asyncio.get_running_loop()
            if self.loop is not loop:
                self.close()  # sockets registered with another loop (a test's) are useless
                self.loop = loop
            gufo, fd = open_socket()
            lease = Lease(gufo, fd, key[0], key)
            self._leases.add(lease)
            loop.add_reader(fd, self._readable, lease)
        lease.reader = reader
        return lease

    def release(self, lease: Lease) -> None:
        """Take ``lease`` back; what arrives for it from now on is counted and dropped."""
        if lease.reader is None:
            return
        lease.reader = None
        if lease in self._leases:
            self._idle.setdefault(lease.key, []).append(lease)

    def close(self) -> None:
        """Unregister and drop every socket (lent ones too: at shutdown, or a new loop)."""
        for lease in list(self._leases):
            self._close(lease)
        self._idle.clear()

    def _close(self, lease: Lease) -> None:
        self._leases.discard(lease)
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(lease.fd)
        lease.peeker.detach()
        lease.sock = None  # Rust closes the descriptor when its object goes

    def _readable(self, lease: Lease) -> None:
        reader = lease.reader
        if reader is not None:
            reader()
            return
        self._drain(lease.peeker)

    def _drain(self, sock: Borrowed) -> None:
        """Read and count what is queued: answers to polls that are over (or the ICMP
        error the previous agent's address caused)."""
        while True:
            try:
                sock.recv(1)  # a datagram read in part is dropped whole
            except BlockingIOError:
                return
            except OSError:
                pass  # the pending socket error, now cleared
            self._stats.drop("late_response")
