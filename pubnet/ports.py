"""A port that was free a moment ago on a loopback address: the one helper for it.

The demo binds its simulated fleet and its trap receiver to such ports, and so do the tests
and the benchmarks for the servers they start; with one helper they cannot come to differ
(which family, which address, when the probe socket closes). The port is free when this
returns, not reserved: whoever binds it next gets it, so bind soon.
"""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host`` (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port that was free a moment ago on ``host`` (agents, trap receivers)."""
    return free_port(socket.SOCK_DGRAM, host)
