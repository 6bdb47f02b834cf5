"""File descriptors as a budget: polling first, the HTTP listener a bounded share.

A process may hold ``RLIMIT_NOFILE`` descriptors; systemd's usual soft limit is 1,024. The
SNMP poller needs one UDP socket per poll in flight (or per device, when it keeps them
open), the embedded MQTT broker one per connected device, and the ``/metrics`` listener one
per HTTP connection, which a hostile client can open at will. Unbudgeted, 900 half-open HTTP
connections took the descriptors the poller needed and devices went falsely down (issue 10).

So ``pubnet run`` first raises the soft limit to the hard one (allowed without privilege),
then splits what it has, once, before any component starts:

- ``reserved``: the process itself (stdio, logs, the event loop, SQLite and its WAL, thread
  pools, outgoing HTTP/SMTP clients, DNS) plus the ICMP and trap sockets and, with the
  embedded broker, one per MQTT device;
- ``listener``: HTTP connections ``/metrics`` may hold at once: ``prometheus.max_connections``
  but at most a quarter of what is left (and at least :data:`LISTENER_FLOOR`);
- ``poller``: everything else, for SNMP sockets. The poller keeps one socket per device
  when they all fit and otherwise bounds the polls in flight to it.

The numbers are logged at start (``file descriptors limit=… reserved=… listener=…
poller=…``) and documented in docs/prometheus.md.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory.model import Inventory
    from pubnet.config import Config

PROCESS_RESERVE = 64
"""Descriptors the process needs whatever it watches (see the module docstring)."""
MQTT_RESERVE = 16
"""The MQTT client, the broker's listeners and their spares, when MQTT is on."""
LISTENER_FLOOR = 16
"""The listener's share never drops below this, so /metrics stays reachable."""
LISTENER_SHARE = 4
"""The listener gets at most 1/LISTENER_SHARE of what the reserve leaves."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FdBudget:
    """How many descriptors each consumer may hold at once (see the module docstring).
    Keywords only: four counts in a row are easily swapped."""

    limit: int
    reserved: int
    listener: int
    poller: int


def raise_soft_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit if it is lower; return the soft
    limit in force afterwards. Never raises: a refusal leaves the limit as it was."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
        return hard
    return soft


def current_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def plan_budget(config: Config, inventory: Inventory, limit: int | None = None) -> FdBudget:
    """Split ``limit`` (default: the current soft limit) between reserve, listener and
    poller for this config and inventory. A pure function of its inputs, so the poller and
    the listener, each calling it, agree."""
    total = current_limit() if limit is None else limit
    profiles = [d.profile for d in inventory.devices.values()]
    reserved = PROCESS_RESERVE
    if "icmp" in profiles:
        reserved += 1
    if config.traps is not None:
        reserved += 1
    mqtt_devices = profiles.count("mqtt")
    if mqtt_devices or "mqtt" in config.model_fields_set:
        reserved += MQTT_RESERVE + (mqtt_devices if config.mqtt.embedded else 0)
    free = max(0, total - reserved)
    listener = 0
    if config.prometheus is not None:
        listener = min(config.prometheus.max_connections,
                       max(LISTENER_FLOOR, free // LISTENER_SHARE))
    return FdBudget(limit=total, reserved=reserved, listener=listener,
                    poller=max(0, free - listener))
