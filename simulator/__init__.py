"""A fleet simulator: thousands of SNMP devices in one process, with fault injection.

Reused by the tests, the demo and the benchmarks. Start it from an inventory::

    fleet = Fleet.from_inventory(inventory, AddressPlan("127.1.0.0", 1161), seed=1,
                                 trap_target=("127.0.0.1", 9162))
    async with fleet:
        fleet.link_down("ap-0001", "wlan0")   # oper down + linkDown trap
        ...

Devices sharing a port share one socket, so a fleet of 100,000 needs one descriptor. The
inventory's ``mqtt``-profile gateways publish to a broker with :class:`MqttGateways`.
From the shell: ``python -m simulator --inventory inv/ --out sim-inv/ [--mqtt-url URL]``.
See docs/simulator.md.
"""

from simulator.agent import Agent, AgentStats
from simulator.fleet import (
    AddressPlan,
    Fleet,
    build_device,
    gateway_devices,
    plan_addresses,
    simulated_inventory,
)
from simulator.gateways import BrokerSettings, MqttGateways

__all__ = [
    "AddressPlan",
    "Agent",
    "AgentStats",
    "BrokerSettings",
    "Fleet",
    "MqttGateways",
    "build_device",
    "gateway_devices",
    "plan_addresses",
    "simulated_inventory",
]
