"""A kept SNMPv3 conversation across a real agent reboot (net-snmp snmpd).

pubnet keeps a v3 device's socket and the learned engine id, boots and time between polls.
When the agent reboots, snmpEngineBoots goes up and snmpEngineTime starts over, so the next
request carries a stale boots/time and the agent answers with a notInTimeWindow report.
The next poll must still end ``ok`` with the rebooted agent's values, at the cost of at most
one extra round trip, and the operator must never see ``auth_failed``.

snmpd is restarted on the same port and the same persistent folder, which is a reboot as
USM sees it; each test checks with net-snmp's own ``snmpget`` that boots really went up,
so a snmpd that did not move them fails the test instead of letting it pass vacuously.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collectors.snmp.client import PacketStats, SnmpTarget
from collectors.snmp.gufo_client import GufoClient
from collectors.snmp.poller import SnmpPoller
from pubnet.model import PollStatus
from pubnet.state import StateStore
from testbed.snmpd import AUTH_PASS, Agent, run_snmpd, user_name
from tests.collectors.snmp.fleet import make_config, make_inventory
from tests.support import free_udp_port, require_binary

pytestmark = pytest.mark.integration

ENGINE_BOOTS = "1.3.6.1.6.3.10.2.1.2.0"
ENGINE_TIME = "1.3.6.1.6.3.10.2.1.3.0"
NOT_IN_TIME_WINDOWS = "1.3.6.1.6.3.15.1.1.2.0"
"""usmStatsNotInTimeWindows.0: how many notInTimeWindow reports the agent sent."""
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
CREDENTIALS = ["v3-sha-none", "v3-sha256-aes128", "v3-md5-des"]


@contextlib.asynccontextmanager
async def snmpd_on(port: int, state: Path) -> AsyncIterator[Agent]:
    """snmpd on ``127.0.0.1:port`` keeping its persistent state (engine boots) in ``state``."""
    running = run_snmpd(require_binary("snmpd"), [("127.0.0.1", port)], state_dir=state)
    (agent,) = await asyncio.to_thread(running.__enter__)
    try:
        yield agent
    finally:
        await asyncio.to_thread(running.__exit__, None, None, None)


async def net_snmp_get(agent: Agent, *oids: str) -> dict[str, str]:
    """What net-snmp's ``snmpget`` reads over v3 authNoPriv SHA (its own discovery: a fresh
    process, unaffected by pubnet's conversation)."""
    binary = require_binary("snmpget")
    proc = await asyncio.create_subprocess_exec(
        binary, "-v3", "-l", "authNoPriv", "-u", user_name("sha", "none"), "-a", "SHA",
        "-A", AUTH_PASS, "-On", "-Oq", "-Ot", "-t", "3", "-r", "1",
        f"{agent.host}:{agent.port}", *oids,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, MIBS="", MIBDIRS="/nonexistent"))
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    values = {}
    for line in out.decode().splitlines():
        name, _, value = line.partition(" ")
        values[name.lstrip(".")] = value.strip().strip('"')
    return values


@pytest.mark.parametrize("credential", CREDENTIALS, ids=str)
async def test_kept_client_resynchronises_after_snmpd_reboot(tmp_path: Path,
                                                             credential: str) -> None:
    """One GufoClient kept across the reboot: the first request after it meets the
    notInTimeWindow report, is repeated once, and reads the rebooted agent's values."""
    port = free_udp_port()
    stats = PacketStats()
    credentials = make_config().credentials
    client = GufoClient(SnmpTarget("127.0.0.1", port, credentials[credential], 3.0, 0), stats)
    try:
        async with snmpd_on(port, tmp_path):
            async with client:
                first = await client.get([ENGINE_BOOTS, SYS_UPTIME])
        first_boots = first[ENGINE_BOOTS]
        assert isinstance(first_boots, int)
        restarted = time.monotonic()
        async with snmpd_on(port, tmp_path) as agent:
            net = await net_snmp_get(agent, ENGINE_BOOTS, NOT_IN_TIME_WINDOWS, SYS_NAME)
            assert int(net[ENGINE_BOOTS]) == first_boots + 1, "snmpd did not reboot"
            before = stats.requests
            async with client:
                after = await client.get([ENGINE_BOOTS, SYS_UPTIME, SYS_NAME])
            # the request, answered by a notInTimeWindow report, and its one repetition
            assert stats.requests - before == 2
            assert stats.retries == 0 and not stats.dropped
            assert after[ENGINE_BOOTS] == int(net[ENGINE_BOOTS])
            assert after[SYS_NAME] == net[SYS_NAME].encode()
            uptime = after[SYS_UPTIME]
            assert isinstance(uptime, int)
            assert uptime / 100 <= time.monotonic() - restarted + 1  # the new agent's uptime
            reports = await net_snmp_get(agent, NOT_IN_TIME_WINDOWS)
            assert int(reports[NOT_IN_TIME_WINDOWS]) == int(net[NOT_IN_TIME_WINDOWS]) + 1
            # in sync again: the next poll costs one round trip
            before = stats.requests
            async with client:
                again = await client.get([ENGINE_BOOTS])
            assert stats.requests - before == 1 and again == {ENGINE_BOOTS: after[ENGINE_BOOTS]}
    finally:
        client.close()


async def test_poller_sees_ok_across_snmpd_reboot(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Through the poller (which keeps the v3 client between polls) into the state store:
    status stays ``ok``, nothing is logged as failing, the poll costs one extra round trip,
    and what it stores comes from the rebooted agent."""
    caplog.set_level(logging.INFO, logger="pubnet.snmp")
    port = free_udp_port()
    inventory = make_inventory([("gw", "127.0.0.1", port, "v3-sha256-aes128", "router")])
    store = StateStore()
    poller = SnmpPoller(make_config({"timeout": "3s"}), inventory, store)
    run = poller.runs["gw"]
    stats = poller.poller.stats

    def ifnames() -> dict[str, float]:
        return {dict(obs.labels)["ifname"]: obs.value
                for (metric, _), obs in store.device_series("gw").items()
                if metric == "pubnet_interface_oper_up"}

    try:
        async with snmpd_on(port, tmp_path) as agent:
            first_boots = int((await net_snmp_get(agent, ENGINE_BOOTS))[ENGINE_BOOTS])
            await poller.poll_and_publish(run)
            assert run.status is PollStatus.OK and run.client is not None
            before = stats.requests
            await poller.poll_and_publish(run)
            steady = stats.requests - before  # one GET and the walks of a kept conversation
            interfaces = ifnames()
            state = store.status("gw")
            assert state is not None and state.status is PollStatus.OK
            ok_since = state.since
        restarted = time.monotonic()
        async with snmpd_on(port, tmp_path) as agent:
            net = await net_snmp_get(agent, ENGINE_BOOTS, SYS_NAME)
            assert int(net[ENGINE_BOOTS]) == first_boots + 1, "snmpd did not reboot"
            kept = run.client
            before = stats.requests
            await poller.poll_and_publish(run)
            assert run.status is PollStatus.OK and run.client is kept
            assert stats.requests - before == steady + 1
            state = store.status("gw")
            assert state is not None and state.status is PollStatus.OK
            assert state.since == ok_since  # no status change at all, not even a brief one
            uptime = store.latest("gw", "pubnet_device_uptime_seconds")
            assert uptime is not None
            assert uptime.value <= time.monotonic() - restarted + 1  # the new agent's uptime
            assert ifnames() == interfaces and interfaces
            (info,) = [o for (m, _), o in store.device_series("gw").items()
                       if m == "pubnet_device_info"]
            assert dict(info.labels)["sys_name"] == net[SYS_NAME]
    finally:
        poller.poller.close(poller.runs.values())
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "not answering" in m or "auth" in m]
