"""A port that was free a moment ago on a loopback address: the one helper for it; and
binding a UDP socket to a port.

The demo binds its simulated fleet and its trap receiver to such ports, and so do the tests
and the benchmarks for the servers they start; with one helper they cannot come to differ
(which family, which address, when the probe socket closes). The port is free when this
returns, not reserved: whoever binds it next gets it, so bind soon.

It is drawn below the kernel's ephemeral range (``net.ipv4.ip_local_port_range``), where
the kernel never hands out a port on its own. A port from that range (what binding port 0
gives) could be taken, between this check and the real bind, by any socket bound to port 0
meanwhile: the SNMP poller's sockets, a client's, another test's server. That was the
"address already in use" of a simulator or snmpd started beside a running pubnet.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable

PORT_FLOOR = 20_000
"""The lowest port handed out: above the well-known and most registered services."""
TRIES = 50
EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host`` (TCP by default, UDP with SOCK_DGRAM),
    below the ephemeral range when there is room (see the module docstring)."""
    ceiling = _ephemeral_low()
    for _ in range(TRIES if ceiling > PORT_FLOOR else 0):
        port = random.randrange(PORT_FLOOR, ceiling)
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        found: int = sock.getsockname()[1]
        return found


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's default when unreadable)."""
    try:
        with open(EPHEMERAL_RANGE, encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def bind_udp(host: str, port: int, what: str,
             options: Iterable[tuple[int, int, int]] = ()) -> socket.socket:
    """A non-blocking IPv4 UDP socket bound to ``host:port``, ``options`` (level, option,
    value) set before the bind. Raises OSError (same errno) reading ``"<what>: <reason>"``,
    ``what`` naming the config key or the purpose; the socket is then closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for level, option, value in options:
            sock.setsockopt(level, option, value)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"{what}: {exc.strerror}") from None
    return sock


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port that was free a moment ago on ``host`` (agents, trap receivers)."""
    return free_port(socket.SOCK_DGRAM, host)
