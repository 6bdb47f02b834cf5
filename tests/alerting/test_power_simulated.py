"""A simulated provincial power cut: ``pubnet run`` polls the fleet simulator, the test
silences many village gateways under three district routers (the routers keep answering),
and the NOC receives one ``power`` incident; a district router cut afterwards is one
upstream incident, as before."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inventory.writer import write_inventory
from pubnet.config import parse_config
from simulator import Fleet, plan_addresses, simulated_inventory
from tests.alerting.conftest import SECRET, HttpReceiver
from tests.alerting.wide import gateways, wide_inventory
from tests.simulator.conftest import loopback_plan
from tests.support import eventually, start_pubnet, stop_pubnet

pytestmark = pytest.mark.integration

CONFIG = """\
inventory: inv
prometheus: null
history: null
credentials:
  c: {{version: 2c, community: village-ro}}
snmp: {{interval: 500ms, timeout: 300ms, retries: 0}}
alerting:
  database: pubnet.db
  down_after: 2
  tick: 100ms
  group_wait: 1s
  power: {{window: 3m, min_sites: 5}}
  routes:
    - {{match: {{}}, channels: [noc]}}
  channels:
    noc: {{type: webhook, url: "{url}", secret: {secret}}}
"""


async def test_provincial_power_cut_then_router_cut(tmp_path: Path,
                                                    receiver: HttpReceiver) -> None:
    base = wide_inventory(sites_per_district=5)
    plan = loopback_plan()
    write_inventory(simulated_inventory(base, plan_addresses(base, plan)), tmp_path / "inv")
    (tmp_path / "pubnet.yaml").write_text(
        CONFIG.format(url=f"{receiver.base}/noc", secret=SECRET), encoding="utf-8")
    credentials = parse_config({"credentials": {"c": {"version": "2c",
                                                      "community": "village-ro"}}}).credentials
    async with Fleet.from_inventory(base, plan, credentials=credentials) as fleet:
        proc = start_pubnet(tmp_path)
        try:
            await asyncio.sleep(3)  # a few polling rounds: everything answers
            assert receiver.accepted == []
            dark = gateways(base, ("5001", "5002", "5003"))  # 15 sites, 3 routers up
            for gateway in dark:
                fleet.silence(gateway)
            await eventually(lambda: receiver.accepted, within=60, what="the power incident")
            await asyncio.sleep(2.5)
            bodies = [r.json for r in receiver.accepted]
            assert [(b["kind"], b["status"]) for b in bodies] == [("power", "firing")]
            assert bodies[0]["affected_sites"] == 15
            for gateway in dark:
                fleet.heal(gateway)
            await eventually(lambda: len(receiver.accepted) == 2, within=60,
                             what="the power incident resolved")
            assert receiver.accepted[1].json["status"] == "resolved"

            for device in ("da-5004", *gateways(base, ("5004",))):
                fleet.silence(device)
            await eventually(lambda: len(receiver.accepted) == 3, within=60,
                             what="the router incident")
            await asyncio.sleep(2.5)
            bodies = [r.json for r in receiver.accepted[2:]]
            assert [(b["kind"], b["root_device"]) for b in bodies] == [
                ("device_down", "da-5004")]
            assert bodies[0]["affected_sites"] == 5
        finally:
            await stop_pubnet(proc)
