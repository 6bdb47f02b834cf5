"""The receive buffer of a socket that takes every device's datagrams, and what the kernel
dropped from it.

One socket takes every ICMP device's echo replies, one every device's traps. While the
event loop is busy (a round's backlog, a big scrape) datagrams wait in the socket's buffer;
once it is full the kernel drops them, and a gateway that answered shows as a timeout, a
linkDown trap is never seen. The kernel's default buffer (~208 KiB) holds about 130 such
datagrams. So these sockets ask for :data:`RECEIVE_BUFFER`, warn once at start when the
kernel grants less, and count what it still drops in
``pubnet_socket_receive_drops_total{socket}`` (logged once per socket): nothing is lost
silently.

The drops are the kernel's own per-socket counter (``SO_MEMINFO``, Linux 4.6+): one
``getsockopt``, no /proc scan; where it is missing no series is published.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct

from pubnet.catalog import LABEL_SOCKET, PUBNET_DEVICE, SOCKET_RECEIVE_DROPS
from pubnet.model import Observation, Source
from pubnet.state import StateStore

RECEIVE_BUFFER = 4 << 20
"""Bytes of datagrams a socket may hold while the event loop is busy (the kernel doubles
it for its bookkeeping). A datagram takes ~1.6 KB of buffer, so this holds ~2,500: with
1,000 ICMP probes in flight and loop turns of 0.5 s the default buffer kept 128 of 1,000
replies (bench/fleet.py at 100,000 devices: ~100 false ICMP timeouts and a dozen false
site-down and power incidents in ten minutes)."""
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
"""Linux's receive buffer size beyond ``net.core.rmem_max`` (needs CAP_NET_ADMIN)."""
SO_MEMINFO = getattr(socket, "SO_MEMINFO", 55)
"""Linux's per-socket memory figures, which Python's socket module does not name."""
_MEMINFO = struct.Struct("@9I")
_MEMINFO_DROPS = 8
"""``SK_MEMINFO_DROPS`` (linux/sock_diag.h): datagrams dropped since the socket opened."""


def enlarge_receive_buffer(sock: socket.socket, wanted: int = RECEIVE_BUFFER) -> int:
    """Ask for ``wanted`` bytes of receive buffer, beyond ``net.core.rmem_max`` where the
    process may (root, CAP_NET_ADMIN), else up to it; the size the kernel granted (as it
    reports it: twice what it allows for data)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, wanted)
    except OSError:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def warn_if_small(log: logging.Logger, name: str, granted: int,
                  wanted: int = RECEIVE_BUFFER) -> bool:
    """Log once at start when the kernel granted less than asked; True when it did.

    ``granted`` is as the kernel reports it, twice what it allows for data."""
    if granted >= 2 * wanted:
        return False
    log.warning("receive buffer is small: on a busy event loop the kernel drops "
                "datagrams; raise net.core.rmem_max (docs/deployment.md)", extra={
                    "socket": name, "receive_buffer_bytes": granted,
                    "wanted_bytes": 2 * wanted})
    return True


def kernel_drops(sock: socket.socket) -> int | None:
    """Datagrams the kernel dropped on ``sock`` since it opened (buffer full, or bad
    checksum); None where the kernel does not say, or the socket is closed."""
    try:
        figures = sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, _MEMINFO.size)
    except OSError:
        return None
    if len(figures) < _MEMINFO.size:
        return None
    return int(_MEMINFO.unpack(figures)[_MEMINFO_DROPS])


class DropWatch:
    """One socket's kernel drops as ``pubnet_socket_receive_drops_total{socket=name}``.

    Call :meth:`publish` (or :meth:`observations`) now and then (the components do at
    their own summary period): it reads the counter, and gives the sample when it changed
    (the first time too, 0 included, so that ``rate()`` has a start), logging the first
    drops once.
    """

    def __init__(self, name: str, log: logging.Logger) -> None:
        self.name = name
        self._log = log
        self._published: int | None = None

    def observations(self, sock: socket.socket | None, now: float) -> list[Observation]:
        drops = None if sock is None else kernel_drops(sock)
        if drops is None or drops == self._published:
            return []
        if drops and not self._published:  # the kernel's count only grows: said once
            self._log.warning("the kernel dropped datagrams: the receive buffer was full "
                              "while the event loop was busy", extra={
                                  "socket": self.name, "dropped": drops})
        self._published = drops
        return [Observation(PUBNET_DEVICE, SOCKET_RECEIVE_DROPS, float(drops), now,
                            Source.INTERNAL, ((LABEL_SOCKET, self.name),))]

    def publish(self, store: StateStore, sock: socket.socket | None, now: float) -> None:
        """:meth:`observations`, published to ``store`` when there are any."""
        observations = self.observations(sock, now)
        if observations:
            store.publish(observations)
