"""A simulated v3 device that reboots, or whose clock jumps, under a kept pubnet conversation.

The simulator's ``reboot`` fault does to USM what a real agent's reboot does: snmpEngineBoots
goes up by one and snmpEngineTime starts over from zero, so pubnet's kept conversation gets
a notInTimeWindow report. A clock that jumps (boots unchanged, engine time 1,000 s ahead of
what pubnet last learned) gets the same report. Either way the next poll through pubnet's
poller must end ``ok`` with one extra round trip, and a reboot must show as one.
"""

from __future__ import annotations

from typing import Any

import pytest

from collectors.snmp.poller import DevicePoller, load_configured_profiles
from pubnet.config import parse_config
from pubnet.model import Observation, PollStatus
from simulator import Fleet, plan_addresses, simulated_inventory
from tests.simulator.conftest import loopback_plan
from tests.simulator.support import small_inventory

pytestmark = pytest.mark.integration

START = 1_780_000_000.0
JUMP = 1_000.0
"""Seconds the simulated clock jumps: far outside USM's 150 s time window."""
CREDENTIALS: dict[str, dict[str, Any]] = {
    "sha-authnopriv": {"version": "3", "user": "noc", "auth_protocol": "sha",
                       "auth_key": "auth-pass-1"},
    "sha256-aes128": {"version": "3", "user": "noc", "auth_protocol": "sha256",
                      "auth_key": "auth-pass-1", "priv_protocol": "aes128",
                      "priv_key": "priv-pass-1"},
}


def value(observations: list[Observation], metric: str) -> float:
    (obs,) = [o for o in observations if o.metric == metric]
    return obs.value


def received(observations: list[Observation]) -> dict[str, float]:
    return {dict(o.labels)["ifname"]: o.value for o in observations
            if o.metric == "pubnet_interface_receive_bytes_total"}


@pytest.mark.parametrize("fault", ["reboot", "clock-jump"], ids=str)
@pytest.mark.parametrize("credential", list(CREDENTIALS), ids=str)
async def test_kept_v3_conversation_survives(credential: str, fault: str) -> None:
    now = [START]

    def clock() -> float:
        return now[0]

    config = parse_config({"credentials": {"village": CREDENTIALS[credential]},
                           "snmp": {"timeout": "3s", "retries": 0}})
    base = small_inventory()
    plan = loopback_plan()
    inventory = simulated_inventory(base, plan_addresses(base, plan))
    fleet = Fleet.from_inventory(base, plan, credentials=config.credentials, clock=clock)
    poller = DevicePoller(config, inventory, load_configured_profiles(config.snmp),
                          clock=clock)
    run = poller.prepare(inventory.devices["dist-1"])  # a router: if-mib + host
    stats = poller.stats

    def reports() -> int:
        """notInTimeWindow reports the simulator sent (usmStatsNotInTimeWindows)."""
        return fleet.agent.stats.reports["2.0"]

    async with fleet:
        try:
            status, detail, _ = await poller.poll(run)
            assert (status, detail) == (PollStatus.OK, "")
            now[0] += 30
            before = stats.requests
            status, _, observations = await poller.poll(run)
            assert status is PollStatus.OK and run.client is not None
            steady = stats.requests - before
            uptime_before = value(observations, "pubnet_device_uptime_seconds")
            received_before = received(observations)
            device = fleet.device("dist-1")
            boots = device.engine_boots
            if fault == "reboot":
                now[0] += 30
                fleet.reboot("dist-1", trap=False)
                assert device.engine_boots == boots + 1  # a real agent's reboot, as USM sees it
                assert device.engine_time(now[0]) == 0
            else:
                now[0] += JUMP
            now[0] += 5
            kept, seen_reports, before = run.client, reports(), stats.requests
            status, detail, observations = await poller.poll(run)
            assert (status, detail) == (PollStatus.OK, "")
            assert run.client is kept
            assert reports() == seen_reports + 1  # the stale request met the report
            assert stats.requests - before == steady + 1
            assert stats.retries == 0 and not stats.dropped
            uptime = value(observations, "pubnet_device_uptime_seconds")
            if fault == "reboot":
                assert uptime == pytest.approx(5, abs=0.02)  # uptime started over
                assert run.memory.reboots == 1
                # counters started over on the device; pubnet's totals never go back
                after = received(observations)
                assert after.keys() == received_before.keys() and after
                assert all(after[n] >= received_before[n] for n in after)
            else:
                assert uptime == pytest.approx(uptime_before + JUMP + 5, abs=0.02)
                assert run.memory.reboots == 0
                assert device.engine_boots == boots
            # in sync again: the next poll costs what a steady poll costs
            now[0] += 30
            before = stats.requests
            status, _, _ = await poller.poll(run)
            assert status is PollStatus.OK and stats.requests - before == steady
        finally:
            poller.close([run])
