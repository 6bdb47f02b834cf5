"""Small inventories and net-snmp command helpers shared by the simulator and trap tests."""

from __future__ import annotations

import asyncio
import os

from inventory.model import Device, Inventory, Link, Medium, Role
from testbed.inventories import village_site
from tests.support import require_binary


def small_inventory() -> Inventory:
    """One village site (AP + gateway) behind a district router (:func:`village_site`),
    with an ICMP-only CPE at the site and one backbone link."""
    inv = village_site()
    inv.devices["cpe-1"] = Device("cpe-1", "site-1", Role.ACCESS_POINT, "10.1.0.3", None,
                                  "icmp", "", "gw-1")
    inv.links["l-1"] = Link("l-1", "dist-1", "ge-0/0/7", "gw-1", "sfp1", Medium.FIBER,
                            1_000_000_000, "NT")
    return inv


async def run_tool(tool: str, *args: str, limit: float = 20.0) -> tuple[int, str, str]:
    """Run a net-snmp command without blocking the loop: (exit code, stdout, stderr)."""
    path = require_binary(tool)
    env = dict(os.environ, MIBS="", MIBDIRS="/nonexistent")
    proc = await asyncio.create_subprocess_exec(
        path, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    return proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def parse_values(text: str) -> dict[str, str]:
    """``-On -OQ -Ot -Oe`` output → {".1.3.6...": "value"} with quotes stripped."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        oid, sep, value = line.partition(" = ")
        if sep and oid.startswith("."):
            values[oid] = value.strip().strip('"')
    return values


NUMERIC = ("-On", "-OQ", "-Ot", "-Oe")
