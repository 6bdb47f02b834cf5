"""A port that was free a moment ago on a loopback address: the one helper for it; and
binding a UDP socket to a port.

The demo binds its simulated fleet and its trap receiver to such ports, and so do the tests
and the benchmarks for the servers they start; with one helper they cannot come to differ
(which family, which address, when the probe socket closes). The port is free when this
returns, not reserved: whoever binds it next gets it, so bind soon.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host`` (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


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
