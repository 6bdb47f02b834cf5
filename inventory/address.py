"""Parsing the ``address`` column: ``host``, ``host:port``, IPv4, ``[IPv6]:port`` or a hostname.

Called once per device at load time (a national inventory has ~250,000), so the common
case -- a dotted-quad IPv4 address -- takes a fast path through ``socket.inet_pton``,
which is strict (no leading zeros, no short forms) and about 15x cheaper than
``ipaddress.IPv4Address``. Everything else is rare and may be slow.
"""

from __future__ import annotations

import ipaddress
import re
import socket

from inventory.problems import quoted

__all__ = ["parse_address", "parse_port"]

_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)


def parse_port(text: str) -> int:
    """A TCP/UDP port, 1-65535.

    Raises:
        ValueError: with a message fit for a planner.
    """
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"port {quoted(text)} is not a number" if text else "port is empty")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    return port


def _check_host(host: str) -> None:
    try:
        socket.inet_pton(socket.AF_INET, host)
        return
    except OSError:
        pass
    if not host:
        raise ValueError("host is empty")
    if host.isascii() and host.replace(".", "").isdigit():
        # Only digits and dots: meant as IPv4 (a hostname's last label is never numeric).
        raise ValueError(f"{quoted(host)} is not a valid IPv4 address")
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{quoted(host)} is not an IPv4 address or a valid hostname")
    if labels[-1].isdigit():
        raise ValueError(f"{quoted(host)} is not a valid IPv4 address")


def parse_address(text: str) -> tuple[str, int | None]:
    """Split an inventory address into ``(host, port)``; port is None when not given.

    The host comes back without brackets, the form sockets and SNMP libraries take.

    Raises:
        ValueError: the address is malformed, with a message fit for a planner.
    """
    if not text:
        raise ValueError("address is required")
    if text[0] == "[":
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{quoted(text)}: missing ']' after the IPv6 address")
        host, rest = text[1:end], text[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{quoted(host)} is not a valid IPv6 address") from None
        if not rest:
            return host, None
        if rest[0] != ":":
            raise ValueError(f"{quoted(text)}: expected ':port' after ']'")
        return host, parse_port(rest[1:])
    host, sep, port_text = text.partition(":")
    if ":" in port_text:
        raise ValueError(
            f"{quoted(text)}: write IPv6 addresses in brackets, e.g. [2001:db8::1]:161"
        )
    _check_host(host)
    return host, (parse_port(port_text) if sep else None)
