"""A district router and three site gateways as real net-snmp agents, watched by
``pubnet run`` (SNMP poller + alerting) in a subprocess, alerting a local webhook.

Stop all four -> exactly one incident rooted at the router with 3 sites affected; start
them -> one resolved message; stop them again and start only the router -> the gateways
that stay dead become incidents of their own.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inventory.model import Device, Inventory, Role
from inventory.writer import write_inventory
from tests.alerting.builders import link, site
from tests.alerting.conftest import SECRET, HttpReceiver
from tests.alerting.servers import SNMP_COMMUNITY, start_snmpd
from tests.support import (
    eventually,
    free_udp_port,
    require_binary,
    start_pubnet,
    stop_process,
)

CORE = "core-1"
"""Answers throughout: the inventory needs a root above the district router."""
ROUTER = "da-5001"
GATEWAYS = ("S-1-gw", "S-2-gw", "S-3-gw")

CONFIG = """\
inventory: inv
prometheus: null
credentials:
  village: {{version: 2c, community: {community}}}
snmp: {{interval: 500ms, timeout: 300ms, retries: 0}}
alerting:
  database: state/pubnet.db
  down_after: 3
  group_wait: 2s
  tick: 100ms
  delivery: {{initial_backoff: 100ms, max_backoff: 500ms}}
  routes:
    - match: {{}}
      channels: [noc]
      language: en
  channels:
    noc: {{type: webhook, url: "{url}", secret: {secret}}}
"""


def inventory(ports: dict[str, int]) -> Inventory:
    inv = Inventory(source="snmpd-test")
    for n in (1, 2, 3):
        s = site(f"S-{n}", "5001", n)
        inv.sites[s.site_id] = s
    inv.devices[CORE] = Device(CORE, "", Role.CORE, "127.0.0.1", ports[CORE], "if-mib",
                               "village", "")
    inv.devices[ROUTER] = Device(ROUTER, "S-1", Role.DISTRICT_AGGREGATION, "127.0.0.1",
                                 ports[ROUTER], "if-mib", "village", CORE)
    for n, gw in enumerate(GATEWAYS, start=1):
        inv.devices[gw] = Device(gw, f"S-{n}", Role.SITE_GATEWAY, "127.0.0.1", ports[gw],
                                 "if-mib", "village", ROUTER)
        ln = link(f"ln-{gw}", ROUTER, f"ge-0/0/{n}", gw)
        inv.links[ln.link_id] = ln
    return inv


class Agents:
    """One snmpd per device, each stoppable and restartable on its own port."""

    def __init__(self, snmpd: str, ports: dict[str, int], folder: Path) -> None:
        self.snmpd = snmpd
        self.ports = ports
        self.folder = folder
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, device: str) -> None:
        self.running[device] = start_snmpd(self.snmpd, self.folder / device,
                                           self.ports[device])

    async def start(self, *devices: str) -> None:
        await asyncio.gather(*(asyncio.to_thread(self._start, d) for d in devices))

    async def stop(self, *devices: str) -> None:
        procs = [self.running.pop(d) for d in devices]
        await asyncio.gather(*(asyncio.to_thread(stop_process, p) for p in procs))

    def close(self) -> None:
        for proc in self.running.values():
            stop_process(proc)


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Agents]:
    snmpd = require_binary("snmpd")
    ports = {d: free_udp_port() for d in (CORE, ROUTER, *GATEWAYS)}
    group = Agents(snmpd, ports, tmp_path / "agents")
    try:
        yield group
    finally:
        group.close()


def bodies(receiver: HttpReceiver) -> list[dict[str, Any]]:
    return [r.json for r in receiver.accepted]


async def test_router_and_gateways_through_real_agents(
    tmp_path: Path, receiver: HttpReceiver, agents: Agents,
) -> None:
    write_inventory(inventory(agents.ports), tmp_path / "inv")
    (tmp_path / "pubnet.yaml").write_text(CONFIG.format(
        community=SNMP_COMMUNITY, url=f"{receiver.base}/noc", secret=SECRET), encoding="utf-8")
    await agents.start(CORE, ROUTER, *GATEWAYS)
    proc = start_pubnet(tmp_path)
    try:
        db = tmp_path / "state" / "pubnet.db"
        await eventually(db.exists, within=30, what="pubnet started")
        await asyncio.sleep(2.0)  # several polling rounds with every agent answering
        assert receiver.accepted == []

        # all four stop: one incident, rooted at the router, three sites
        await agents.stop(ROUTER, *GATEWAYS)
        await eventually(lambda: len(receiver.accepted) >= 1, within=40, what="firing")
        await asyncio.sleep(3.0)  # longer than group_wait: nothing per site follows
        (firing,) = bodies(receiver)
        assert firing["status"] == "firing" and firing["root_device"] == ROUTER
        assert firing["affected_sites"] == 3 and firing["affected_devices"] == 4
        assert {s["id"] for s in firing["sites"]} == {"S-1", "S-2", "S-3"}

        # all four answer again (gateways first, so that none is briefly orphaned below a
        # dead router): one resolved message for the same incident
        await agents.start(*GATEWAYS)
        await agents.start(ROUTER)
        await eventually(lambda: len(receiver.accepted) >= 2, within=40, what="resolved")
        await asyncio.sleep(1.5)
        resolved = bodies(receiver)[1:]
        assert [(b["status"], b["incident_id"]) for b in resolved] == [
            ("resolved", firing["incident_id"])]

        # all stop again, then only the router comes back: the dead gateways are on their own
        await agents.stop(ROUTER, *GATEWAYS)
        await eventually(lambda: len(receiver.accepted) >= 3, within=40, what="second outage")
        await asyncio.sleep(1.5)
        second = bodies(receiver)[2]
        assert second["root_device"] == ROUTER and len(receiver.accepted) == 3
        await agents.start(ROUTER)
        await eventually(lambda: len(receiver.accepted) >= 7, within=40,
                         what="router resolved and three gateway incidents")
        await asyncio.sleep(1.5)
        after = bodies(receiver)[3:]
        assert len(after) == 4
        assert [b["incident_id"] for b in after if b["status"] == "resolved"] == [
            second["incident_id"]]
        children = [b for b in after if b["status"] == "firing"]
        assert sorted(b["root_device"] for b in children) == sorted(GATEWAYS)
        assert all(b["kind"] == "site_down" and b["affected_sites"] == 1 for b in children)
        assert len({b["incident_id"] for b in children}) == 3
    finally:
        stop_process(proc, 20, signal.SIGINT)
