"""A fleet simulator: thousands of SNMP devices in one process, with fault injection.

Reused by the tests, the demo and the benchmarks. Start it from an inventory::

    fleet = Fleet.from_inventory(inventory, AddressPlan("127.1.0.0", 1161), seed=1,
                                 trap_target=("127.0.0.1", 9162))
    async with fleet:
        fleet.link_down("ap-0001", "wlan0")   # oper down + linkDown trap
        ...

or from the shell: ``python -m simulator --inventory inv/ --out sim-inv/``.
See docs/simulator.md.
"""

from simulator.agent import Agent, AgentStats
from simulator.fleet import (
    AddressPlan,
    Fleet,
    build_device,
    plan_addresses,
    simulated_inventory,
)

__all__ = [
    "AddressPlan",
    "Agent",
    "AgentStats",
    "Fleet",
    "build_device",
    "plan_addresses",
    "simulated_inventory",
]
