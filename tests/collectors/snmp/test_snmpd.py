"""The poller against a real net-snmp snmpd: what pubnet reads equals what net-snmp's own
tools read, every SNMP version and v3 auth/priv combination works, and each kind of failure
ends in its own status while the run goes on."""

from __future__ import annotations

import os
import subprocess

import pytest

from collectors.snmp.once import DeviceOutcome, poll_once
from collectors.snmp.poller import snmp_devices
from pubnet.model import Observation, PollStatus
from testbed.snmpd import AUTH_PROTOCOLS, COMMUNITY, PRIV_PROTOCOLS, Agent
from tests.collectors.snmp.fleet import make_config, make_inventory
from tests.support import require_binary

pytestmark = pytest.mark.integration

IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT = "1.3.6.1.2.1.31.1.1.1.10"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def net_snmp(tool: str, agent: Agent, oid: str) -> dict[str, str]:
    """``{index or oid: value}`` as net-snmp's ``tool`` prints it (numeric, quotes removed)."""
    binary = require_binary(tool)
    env = dict(os.environ, MIBS="", MIBDIRS="/nonexistent")
    out = subprocess.run(
        [binary, "-v2c", "-c", COMMUNITY, "-On", "-Oq", "-Oe", "-Ot", "-r", "2", "-t", "3",
         f"{agent.host}:{agent.port}", oid],
        capture_output=True, text=True, env=env, check=True, timeout=30).stdout
    values = {}
    for line in out.splitlines():
        name, _, value = line.partition(" ")
        key = name.removeprefix("." + oid + ".") if tool == "snmpbulkwalk" else name[1:]
        values[key] = value.strip().strip('"')
    return values


def by_ifname(outcome: DeviceOutcome, metric: str) -> dict[str, float]:
    return {dict(o.labels)["ifname"]: o.value for o in outcome.observations
            if o.metric == metric}


def one(outcome: DeviceOutcome, metric: str) -> Observation:
    (obs,) = [o for o in outcome.observations if o.metric == metric]
    return obs


@pytest.mark.parametrize("client", ["gufo", "pysnmp"], ids=str)
async def test_reads_equal_net_snmp_tools(snmpd_agent: Agent, client: str) -> None:
    """Both client implementations behind our interface read what net-snmp reads."""
    from collectors.snmp.gufo_client import GufoClient
    from collectors.snmp.pysnmp_client import PysnmpClient

    factory = {"gufo": GufoClient, "pysnmp": PysnmpClient}[client]
    agent = snmpd_agent
    inventory = make_inventory([("gw-1", agent.host, agent.port, "v2", "router")])
    config = make_config()
    names_before = net_snmp("snmpbulkwalk", agent, IF_NAME)
    rx_before = net_snmp("snmpbulkwalk", agent, IF_HC_IN)
    tx_before = net_snmp("snmpbulkwalk", agent, IF_HC_OUT)
    (outcome,) = await poll_once(config, inventory, snmp_devices(inventory),
                                 client_factory=factory)
    rx_after = net_snmp("snmpbulkwalk", agent, IF_HC_IN)
    tx_after = net_snmp("snmpbulkwalk", agent, IF_HC_OUT)
    oper = net_snmp("snmpbulkwalk", agent, IF_OPER)
    speed = net_snmp("snmpbulkwalk", agent, IF_HIGH_SPEED)
    sys_name = net_snmp("snmpget", agent, SYS_NAME)[SYS_NAME]

    assert outcome.status is PollStatus.OK, outcome.detail
    name_of = dict(names_before)
    assert set(by_ifname(outcome, "pubnet_interface_oper_up")) == set(name_of.values())
    assert by_ifname(outcome, "pubnet_interface_oper_up") == {
        name_of[i]: (1.0 if v == "1" else 0.0) for i, v in oper.items()}
    assert by_ifname(outcome, "pubnet_interface_speed_bps") == {
        name_of[i]: int(v) * 1_000_000.0 for i, v in speed.items()}
    for metric, before, after in (
        ("pubnet_interface_receive_bytes_total", rx_before, rx_after),
        ("pubnet_interface_transmit_bytes_total", tx_before, tx_after),
    ):
        ours = by_ifname(outcome, metric)
        for index, name in name_of.items():
            assert int(before[index]) <= ours[name] <= int(after[index]), (metric, name)
    info = one(outcome, "pubnet_device_info")
    labels = dict(info.labels)
    assert labels["sys_name"] == sys_name
    assert labels["site"] == "S-2204-0001" and labels["province"] == "22"
    assert labels["profile"] == "router" and labels["role"] == "site_gateway"
    up = one(outcome, "pubnet_device_up")
    assert up.value == 1.0
    assert dict(up.labels) == {"site": "S-2204-0001", "role": "site_gateway",
                               "province": "22"}
    assert one(outcome, "pubnet_device_uptime_seconds").value > 0
    assert any(o.metric == "pubnet_host_memory_bytes" and o.value > 0
               for o in outcome.observations)


async def test_every_version_and_v3_combination_answers(snmpd_agent: Agent) -> None:
    agent = snmpd_agent
    creds = ["v1", "v2", "v3-noauth"] + [
        f"v3-{a}-{p}" for a in AUTH_PROTOCOLS for p in PRIV_PROTOCOLS]
    inventory = make_inventory([(c, agent.host, agent.port, c, "if-mib") for c in creds])
    sys_name = net_snmp("snmpget", agent, SYS_NAME)[SYS_NAME]
    outcomes = await poll_once(make_config(), inventory, snmp_devices(inventory))
    failed = {o.device.device_id: (o.status.value, o.detail) for o in outcomes
              if o.status is not PollStatus.OK}
    assert failed == {}
    for outcome in outcomes:
        assert dict(one(outcome, "pubnet_device_info").labels)["sys_name"] == sys_name
        assert len(by_ifname(outcome, "pubnet_interface_oper_up")) >= 1


async def test_each_failure_has_its_status_and_the_run_goes_on(snmpd_agent: Agent) -> None:
    agent = snmpd_agent
    from tests.support import free_udp_port

    dead_port = free_udp_port()
    devices = [
        ("ok-before", agent.host, agent.port, "v2", "if-mib"),
        ("bad-community", agent.host, agent.port, "bad-community", "if-mib"),
        ("wrong-auth-key", agent.host, agent.port, "wrong-auth-key", "if-mib"),
        ("wrong-priv-key", agent.host, agent.port, "wrong-priv-key", "if-mib"),
        ("unknown-user", agent.host, agent.port, "unknown-user", "if-mib"),
        ("dead-port", "127.0.0.1", dead_port, "v2", "if-mib"),
        ("limited-view", agent.host, agent.port, "limited", "if-mib"),
        ("ok-after", agent.host, agent.port, "v3-sha512-aes256", "if-mib"),
    ]
    inventory = make_inventory(devices)
    outcomes = await poll_once(make_config(), inventory, snmp_devices(inventory))
    status = {o.device.device_id: o.status for o in outcomes}
    assert status == {
        "ok-before": PollStatus.OK,
        "bad-community": PollStatus.TIMEOUT,  # agents stay silent (RFC 3584)
        "wrong-auth-key": PollStatus.AUTH_FAILED,
        "wrong-priv-key": PollStatus.AUTH_FAILED,
        "unknown-user": PollStatus.UNKNOWN_USER,
        "dead-port": PollStatus.UNREACHABLE,
        "limited-view": PollStatus.NO_SUCH_NAME,
        "ok-after": PollStatus.OK,
    }
    for outcome in outcomes:
        if outcome.status is PollStatus.OK:
            continue
        assert one(outcome, "pubnet_device_up").value == 0.0
        current = [o for o in outcome.observations
                   if o.metric == "pubnet_device_poll_status" and o.value == 1.0]
        assert [dict(o.labels)["status"] for o in current] == [outcome.status.value]
        assert "not-the" not in outcome.detail  # no secret in the reason


async def test_unknown_oids_are_no_such_name(snmpd_agent: Agent, tmp_path: object) -> None:
    """A scalar the agent lacks (noSuchObject) is skipped, the rest of the GET is used."""
    from pathlib import Path

    from collectors.snmp.profiles import PROFILES_DIR, load_profiles

    assert isinstance(tmp_path, Path)
    (tmp_path / "odd.yaml").write_text(
        "scalars: {missing: 1.3.6.1.4.1.99999.1.0, contact: 1.3.6.1.2.1.1.4.0}\n"
        "metrics:\n"
        "  - {name: pubnet_host_memory_used_bytes, type: gauge, scalar: missing}\n"
        "  - {name: pubnet_host_memory_bytes, type: gauge, scalar: contact}\n", encoding="utf-8")
    profiles = load_profiles(PROFILES_DIR, tmp_path)
    agent = snmpd_agent
    inventory = make_inventory([("odd", agent.host, agent.port, "v2", "odd")])
    (outcome,) = await poll_once(make_config(), inventory, snmp_devices(inventory), profiles)
    assert outcome.status is PollStatus.OK
    assert not [o for o in outcome.observations if o.metric == "pubnet_host_memory_used_bytes"]
    assert one(outcome, "pubnet_device_uptime_seconds").value > 0


async def test_v3_session_survives_an_agent_restart(tmp_path: object) -> None:
    """A kept v3 conversation (socket, engine id, time window) goes on working when the
    agent restarts under it: the restarted agent is polled OK in the very next poll."""
    import asyncio
    from pathlib import Path

    from collectors.snmp.poller import DevicePoller, load_configured_profiles
    from testbed.snmpd import run_snmpd
    from tests.support import free_udp_port

    assert isinstance(tmp_path, Path)
    snmpd = require_binary("snmpd")
    port = free_udp_port()
    inventory = make_inventory([("gw", "127.0.0.1", port, "v3-sha256-aes256", "if-mib")])
    config = make_config()
    poller = DevicePoller(config, inventory, load_configured_profiles(config.snmp))
    run = poller.prepare(inventory.devices["gw"])
    statuses = []
    try:
        for _ in range(2):
            agent_cm = run_snmpd(snmpd, [("127.0.0.1", port)], state_dir=tmp_path)
            await asyncio.to_thread(agent_cm.__enter__)
            try:
                status, detail, _ = await poller.poll(run)
                statuses.append((status, detail))
            finally:
                await asyncio.to_thread(agent_cm.__exit__, None, None, None)
    finally:
        poller.close([run])
    assert statuses == [(PollStatus.OK, ""), (PollStatus.OK, "")]


async def test_entry_walks_and_column_walks_read_the_same(snmpd_agent: Agent,
                                                          tmp_path: object) -> None:
    """``walk: entry`` (2 walks) and ``walk: columns`` (one per column) see the same table."""
    from pathlib import Path

    from collectors.snmp.profiles import PROFILES_DIR, load_profiles

    assert isinstance(tmp_path, Path)
    shipped = (PROFILES_DIR / "if-mib.yaml").read_text(encoding="utf-8")
    reps = "    max_repetitions: 25\n"
    assert reps in shipped
    for mode in ("columns", "entry"):
        (tmp_path / f"if-{mode}.yaml").write_text(
            shipped.replace(reps, f"{reps}    walk: {mode}\n"), encoding="utf-8")
    profiles = load_profiles(PROFILES_DIR, tmp_path)
    agent = snmpd_agent
    inventory = make_inventory([("by-columns", agent.host, agent.port, "v2", "if-columns"),
                                ("by-entry", agent.host, agent.port, "v2", "if-entry")])
    outcomes = await poll_once(make_config(), inventory, snmp_devices(inventory), profiles)
    steady = {"pubnet_interface_oper_up", "pubnet_interface_admin_up",
              "pubnet_interface_speed_bps", "pubnet_interface_info",
              "pubnet_interface_receive_errors_total"}
    seen = [{(o.metric, o.labels): o.value for o in outcome.observations if o.metric in steady}
            for outcome in outcomes]
    assert seen[0] == seen[1]
    assert len(seen[0]) >= 5 * 4


async def test_pysnmp_client_statuses(snmpd_agent: Agent) -> None:
    """The pysnmp implementation maps pysnmp's error indications onto the same statuses
    (it cannot see ICMP unreachable or tell a wrong privacy key from silence: those two are
    ``timeout`` with pysnmp, which is why gufo-snmp is the poller's client)."""
    from collectors.snmp.pysnmp_client import PysnmpClient

    agent = snmpd_agent
    creds = ["v1", "v3-noauth", "v3-md5-des", "v3-sha512-aes256", "bad-community",
             "wrong-auth-key", "unknown-user", "limited"]
    inventory = make_inventory([(c, agent.host, agent.port, c, "if-mib") for c in creds])
    outcomes = await poll_once(make_config(), inventory, snmp_devices(inventory),
                               client_factory=PysnmpClient)
    assert {o.device.device_id: o.status for o in outcomes} == {
        "v1": PollStatus.OK, "v3-noauth": PollStatus.OK, "v3-md5-des": PollStatus.OK,
        "v3-sha512-aes256": PollStatus.OK, "bad-community": PollStatus.TIMEOUT,
        "wrong-auth-key": PollStatus.AUTH_FAILED, "unknown-user": PollStatus.UNKNOWN_USER,
        "limited": PollStatus.NO_SUCH_NAME,
    }
