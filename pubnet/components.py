"""Which components a config turns on, in start order.

The one place that knows every component package: the shell may import components, the
components never import each other or the shell. Each later feature adds its factory here.
Start order is consumers first (exporters, alerting), producers last (collectors), so that
nothing a collector publishes at start-up is missed and shutdown stops intake first.
"""

from __future__ import annotations

from dataclasses import dataclass

from pubnet.runtime import Component, Context


@dataclass(frozen=True, slots=True)
class Planned:
    """A component the config enables, described for the log before it starts."""

    name: str
    detail: str


def plan(ctx: Context) -> list[Planned]:
    """What ``pubnet run`` would start for this config and inventory."""
    config = ctx.config
    planned: list[Planned] = []
    snmp_devices = [
        d for d in ctx.inventory.devices.values() if d.profile not in ("icmp", "mqtt")
    ]
    icmp_devices = [d for d in ctx.inventory.devices.values() if d.profile == "icmp"]
    mqtt_devices = [d for d in ctx.inventory.devices.values() if d.profile == "mqtt"]
    if snmp_devices:
        planned.append(
            Planned(
                "snmp-poller",
                f"devices={len(snmp_devices)} interval={config.snmp.interval:g}s "
                f"timeout={config.snmp.timeout:g}s retries={config.snmp.retries}",
            )
        )
    if icmp_devices:
        planned.append(Planned("icmp-prober", f"devices={len(icmp_devices)}"))
    if mqtt_devices:
        planned.append(Planned("mqtt-subscriber", f"devices={len(mqtt_devices)}"))
    return planned


def build(ctx: Context) -> list[Component]:
    """Instantiate the enabled components that exist so far, in start order."""
    return []
