"""Polls after the first GET the instances the last walk found: one round trip, the same
observations as a walk, and a walk again whenever the layout may be wrong."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import collectors.snmp.layout as layout_module
from collectors.snmp.client import PacketStats, SnmpTarget, Value
from collectors.snmp.collect import DeviceMemory, collect
from collectors.snmp.gufo_client import GufoClient
from collectors.snmp.layout import (
    MAX_GET_VARBINDS,
    REWALK_EVERY,
    TableLayout,
    layout_from_walk,
)
from collectors.snmp.poller import DevicePoller
from collectors.snmp.profiles import load_profiles
from inventory.model import Device as InventoryDevice
from inventory.model import Inventory, Role
from pubnet.config import Credential, parse_config
from pubnet.model import Observation, PollStatus
from testbed.scripted import ScriptedClient
from testbed.snmpd import COMMUNITY, Agent
from tests.collectors.snmp.layout_reference import column_spans, layout_columns

IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_NAME, IF_DESCR = "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.2"
IF_OPER, IF_ADMIN = "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.2.2.1.7"
IF_HC_IN, IF_IN = "1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.2.2.1.10"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
RX = "pubnet_interface_receive_bytes_total"


def interfaces(count: int, *, hc: bool = True, octets: int = 1000,
               if_number: bool = True) -> dict[str, Value]:
    oids: dict[str, Value] = {
        "1.3.6.1.2.1.1.1.0": b"RouterOS", "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.14988.1",
        "1.3.6.1.2.1.1.3.0": 100_000, "1.3.6.1.2.1.1.5.0": b"gw",
    }
    if if_number:
        oids[IF_NUMBER] = count
    for i in range(1, count + 1):
        oids[f"{IF_NAME}.{i}"] = f"ether{i}".encode()
        oids[f"{IF_DESCR}.{i}"] = f"Ethernet port {i}".encode()
        oids[f"{IF_OPER}.{i}"] = 1
        oids[f"{IF_ADMIN}.{i}"] = 1
        oids[f"{IF_HIGH_SPEED}.{i}"] = 1000
        oids[f"{IF_IN}.{i}"] = octets * i
        if hc:
            oids[f"{IF_HC_IN}.{i}"] = octets * i
    return oids


class CountingClient(ScriptedClient):
    """The scripted agent, counting GET PDUs (of at most ``MAX_GET_VARBINDS``) and walks."""

    def __init__(self, oids: dict[str, Value]) -> None:
        super().__init__(oids)
        self.gets = 0
        self.walks = 0
        self.largest_get = 0

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        self.gets += 1
        self.largest_get = max(self.largest_get, len(oids))
        return await super().get(oids)

    async def bulk_walk(self, oid: str, max_repetitions: int = 25, *,
                        stop_after: str | None = None) -> list[tuple[str, Value]]:
        self.walks += 1
        return await super().bulk_walk(oid, max_repetitions, stop_after=stop_after)


class Device:
    """One device's memory polled through the shipped if-mib profile."""

    def __init__(self, agent: CountingClient) -> None:
        self.agent = agent
        self.memory = DeviceMemory()
        self.profiles = load_profiles()
        self.ts = 1000.0

    async def poll(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        self.agent.gets = self.agent.walks = 0
        self.ts += 60
        result = await collect(self.agent, self.profiles, "if-mib", "gw", self.memory,
                               self.ts)
        return {(o.metric, o.labels): o.value for o in result.observations}

    def ifnames(self, seen: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> set[str]:
        return {dict(labels)["ifname"] for metric, labels in seen if metric == RX}


async def test_after_the_first_walk_a_poll_is_one_get_with_the_same_observations() -> None:
    device = Device(CountingClient(interfaces(4)))
    first = await device.poll()
    assert device.agent.walks > 0
    second = await device.poll()
    assert (device.agent.gets, device.agent.walks) == (1, 0)
    assert second.keys() == first.keys()
    steady = {k: v for k, v in first.items() if k[0] != "pubnet_device_uptime_seconds"}
    assert {k: second[k] for k in steady} == steady
    # only what is used is asked for: no ifDescr or 32-bit counter where better ones exist
    layout = device.memory.layouts["interfaces"]
    columns = {column for column, _, _ in layout.instances}
    assert IF_DESCR not in columns and IF_IN not in columns and not layout.probes


async def test_counters_keep_counting_through_gets() -> None:
    device = Device(CountingClient(interfaces(2, octets=1000)))
    await device.poll()
    device.agent.oids.update(interfaces(2, octets=3000))
    seen = await device.poll()
    assert device.agent.walks == 0
    assert seen[(RX, (("ifname", "ether2"),))] == 6000


async def test_a_vanished_interface_is_walked_again_in_the_same_poll() -> None:
    agent = CountingClient(interfaces(3))
    device = Device(agent)
    await device.poll()
    for oid in [o for o in agent.oids if o.endswith(".3") and not o.endswith(".0")]:
        del agent.oids[oid]  # ifNumber still says 3: only the missing instances tell
    seen = await device.poll()
    assert agent.walks > 0
    assert device.ifnames(seen) == {"ether1", "ether2"}
    await device.poll()
    assert agent.walks == 0


async def test_a_new_interface_shows_at_once_when_ifnumber_changes() -> None:
    agent = CountingClient(interfaces(2))
    device = Device(agent)
    await device.poll()
    agent.oids.update(interfaces(3))
    seen = await device.poll()
    assert agent.walks > 0
    assert device.ifnames(seen) == {"ether1", "ether2", "ether3"}


async def test_without_a_row_count_new_rows_show_within_rewalk_every_polls() -> None:
    agent = CountingClient(interfaces(2, if_number=False))
    device = Device(agent)
    await device.poll()
    agent.oids.update(interfaces(3, if_number=False))
    polls = 1
    while "ether3" not in device.ifnames(await device.poll()):
        polls += 1
        assert agent.walks == 0
    assert polls == REWALK_EVERY  # one poll in REWALK_EVERY walks


async def test_a_fleet_first_walked_together_walks_again_a_share_at_a_time() -> None:
    """Devices walked in one round (pubnet's start) walk again spread over
    ``rewalk_every`` rounds, and not before it: a round in which every device walked cost
    ~3 rounds of GET polls and left the polls late for minutes, every 30 minutes."""
    devices, every = 400, 10
    config = parse_config({"credentials": {"c": {"version": "2c", "community": "public"}},
                           "snmp": {"rewalk_every": every}})
    inv = Inventory()
    for n in range(devices):
        inv.devices[f"gw-{n}"] = InventoryDevice(f"gw-{n}", f"site-{n}", Role.SITE_GATEWAY,
                                                 f"10.0.{n // 250}.{n % 250}", None,
                                                 "if-mib", "c", "")
    agents: list[CountingClient] = []

    def factory(target: SnmpTarget, stats: PacketStats) -> CountingClient:
        agents.append(CountingClient(interfaces(2)))
        return agents[-1]

    poller = DevicePoller(config, inv, load_profiles(), client_factory=factory)
    runs = [poller.prepare(device) for device in inv.devices.values()]
    walking: list[int] = []  # per round, the devices that walked
    for _ in range(3 * every):
        for agent in agents:
            agent.walks = 0
        for run in runs:
            status, detail, _ = await poller.poll(run)
            assert status is PollStatus.OK, detail
        walking.append(sum(agent.walks > 0 for agent in agents))
    assert walking[0] == devices
    assert walking[1:every] == [0] * (every - 1)  # the start's rounds are left alone
    assert sum(walking[every:]) == 2 * devices  # every device twice in 2 * every rounds
    assert max(walking[every:]) <= 2 * devices // every
    assert sum(share > 0 for share in walking[every:]) == 2 * every


async def test_rewalk_every_1_walks_every_poll() -> None:
    agent = CountingClient(interfaces(2))
    device = Device(agent)
    device.memory.rewalk_every = 1
    for _ in range(3):
        await device.poll()
        assert agent.walks > 0


async def test_a_row_that_gains_its_64_bit_counter_is_walked_again() -> None:
    agent = CountingClient(interfaces(2, hc=False))
    device = Device(agent)
    first = await device.poll()
    layout = device.memory.layouts["interfaces"]
    assert {f"{IF_HC_IN}.1", f"{IF_HC_IN}.2"} <= set(layout.probes)
    await device.poll()
    assert agent.walks == 0  # the probes came back empty: nothing changed
    agent.oids.update(interfaces(2, hc=True, octets=5000))
    seen = await device.poll()
    assert agent.walks > 0
    # the 64-bit counter is used from now on; the total never goes backwards
    assert seen[(RX, (("ifname", "ether1"),))] >= first[(RX, (("ifname", "ether1"),))]
    assert IF_HC_IN in {c for c, _, _ in device.memory.layouts["interfaces"].instances}


async def test_a_big_table_is_fetched_in_bounded_gets() -> None:
    agent = CountingClient(interfaces(48))
    device = Device(agent)
    first = await device.poll()
    second = await device.poll()
    assert agent.walks == 0
    assert agent.largest_get <= MAX_GET_VARBINDS
    assert agent.gets == -(-(len(device.memory.layouts["interfaces"].instances) + 5)
                           // MAX_GET_VARBINDS)
    assert len(device.ifnames(second)) == 48 and second.keys() == first.keys()


class SizesClient(CountingClient):
    """The scripted agent, recording each GET's size."""

    def __init__(self, oids: dict[str, Value]) -> None:
        super().__init__(oids)
        self.sizes: list[int] = []

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        self.sizes.append(len(oids))
        return await super().get(oids)


@pytest.mark.parametrize(("interfaces_", "sizes"), [
    (7, [40]),  # 5 scalars + 5 varbinds a row
    (10, [55]),  # at most 40 a GET, this was two round trips (as an access point's 48 were)
    (12, [33, 32]),  # evenly, not 60 + 5
], ids=["40-varbinds", "55-varbinds-one-pdu", "65-varbinds-two-even-pdus"])
async def test_a_poll_gets_in_as_few_and_even_pdus_as_the_limit_allows(
        interfaces_: int, sizes: list[int]) -> None:
    agent = SizesClient(interfaces(interfaces_))
    device = Device(agent)
    first = await device.poll()
    agent.sizes.clear()
    second = await device.poll()
    assert agent.walks == 0 and second.keys() == first.keys()
    assert agent.sizes == sizes


async def test_an_agent_that_answers_toobig_gets_smaller_gets() -> None:
    class Small(CountingClient):
        """Answers tooBig (gufo: an empty answer) to GETs of more than 8 varbinds."""

        async def get(self, oids: Sequence[str]) -> dict[str, Value]:
            if len(oids) > 8:
                self.gets += 1
                return {}
            return await super().get(oids)

    agent = Small(interfaces(6))
    device = Device(agent)
    first = await device.poll()
    second = await device.poll()
    assert second.keys() == first.keys() and agent.walks == 0
    assert device.memory.max_get_varbinds <= 8
    third = await device.poll()
    assert agent.largest_get <= 40 and third.keys() == first.keys()
    asked = 5 + 1 + len(device.memory.layouts["interfaces"].instances)
    assert agent.gets == -(-asked // device.memory.max_get_varbinds)  # no more tooBig


def test_layout_prefers_ifname_and_probes_it_where_a_row_lacks_it() -> None:
    table = load_profiles().profiles["if-mib"].tables[0]
    columns: dict[str, dict[str, Value]] = {
        IF_NAME: {"1": b"ether1", "2": b""},
        IF_DESCR: {"1": b"port 1", "2": b"port 2"},
        IF_OPER: {"1": 1, "2": 2},
    }
    layout = layout_from_walk(table, columns, {"1": None, "2": None}, 2)
    oids = {oid for _, _, oid in layout.instances}
    assert f"{IF_DESCR}.2" in oids and f"{IF_DESCR}.1" not in oids
    assert f"{IF_NAME}.1" in oids and f"{IF_NAME}.2" in oids
    assert layout.probes == ()  # ifName.2 is asked for anyway; b"" is not a value


@pytest.mark.integration
async def test_against_snmpd_the_second_poll_is_one_pdu_and_reads_the_same(
        snmpd_agent: Agent) -> None:
    profiles = load_profiles()
    stats = PacketStats()
    client = GufoClient(SnmpTarget(snmpd_agent.host, snmpd_agent.port,
                                   Credential(version="2c", community=COMMUNITY)), stats)
    client.keep_open = True
    memory = DeviceMemory()
    polls: list[list[Observation]] = []
    try:
        for ts in (1000.0, 1060.0):
            before = stats.requests
            async with client:
                result = await collect(client, profiles, "router", "gw", memory, ts)
            polls.append(result.observations)
            requests = stats.requests - before
    finally:
        client.close()
    # scalars, row counts, and each table's instances: GETs of at most MAX_GET_VARBINDS
    layouts = memory.layouts.values()
    asked = 5 + 1 + sum(len(lay.instances) + len(lay.probes) + len(lay.unchanged)
                        for lay in layouts)
    assert requests == -(-asked // MAX_GET_VARBINDS)
    storage = memory.layouts["memory"]
    assert storage.unchanged and len(storage.instances) == 4  # the RAM row, in full
    steady = {"pubnet_interface_oper_up", "pubnet_interface_admin_up",
              "pubnet_interface_speed_bps"}
    first, second = ({(o.metric, o.labels): o.value for o in obs if o.metric in steady}
                     for obs in polls)
    assert first == second and len(first) >= 3
    assert {(o.metric, o.labels) for o in polls[0]} == {(o.metric, o.labels) for o in polls[1]}


def test_layouts_of_two_devices_share_their_strings_and_stay_small() -> None:
    """Every polled row of every device keeps a layout (100,000 devices): row indexes and
    instance OIDs are interned, and an instance costs three pointers, not a tuple."""
    import sys

    table = load_profiles().profiles["if-mib"].tables[0]

    def walked() -> TableLayout:
        # strings built afresh, as each device's walk decodes its own
        rows = {str(i): None for i in range(1, 9)}
        columns: dict[str, dict[str, Value]] = {
            IF_NAME: {str(i): f"ether{i}".encode() for i in range(1, 9)},
            IF_OPER: {str(i): 1 for i in range(1, 9)},
            IF_HC_IN: {str(i): 10 * i for i in range(1, 9)},
        }
        return layout_from_walk(table, columns, rows, 8)

    one, two = walked(), walked()
    assert all(a is b for a, b in zip(one.rows, two.rows, strict=True))
    assert all(a is b for a, b in zip(one.instance_oids, two.instance_oids, strict=True))
    assert all(a is b for a, b in zip(one.instance_indexes, two.instance_indexes, strict=True))
    held = sum(sys.getsizeof(t) for t in (one.rows, one.instance_columns,
                                          one.instance_indexes, one.instance_oids))
    assert held < 40 * len(one.instance_oids), f"{held} bytes for {len(one.instance_oids)}"


async def test_devices_of_one_model_share_their_layout_and_get_list(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two devices with the same interfaces hold one copy of each layout tuple and of the GET
    list between them (~900 bytes a device at 4 interfaces); past the bound a device keeps
    its own, polled the same."""
    parts: layout_module.LayoutParts = {}
    devices = [Device(CountingClient(interfaces(4))) for _ in range(3)]
    for device in devices:
        device.memory.parts = parts
    for device in devices[:2]:
        await device.poll()
        await device.poll()
    one, two = (d.memory.layouts["interfaces"] for d in devices[:2])
    assert one is not two
    for field in ("rows", "instance_columns", "instance_indexes", "instance_oids", "probes"):
        assert getattr(one, field) is getattr(two, field), field
    lists = [d.memory.get_oids for d in devices[:2]]
    assert lists[0] is not None and lists[1] is not None
    assert lists[0][1] is lists[1][1]

    monkeypatch.setattr(layout_module, "MAX_SHARED_PARTS", len(parts))
    third = devices[2]
    third.agent.oids.update({f"{IF_NAME}.4": b"wan"})
    first = await third.poll()
    second = await third.poll()
    assert (third.agent.gets, third.agent.walks) == (1, 0)
    assert second.keys() == first.keys() and (RX, (("ifname", "wan"),)) in second
    assert len(parts) == layout_module.MAX_SHARED_PARTS


async def test_the_get_list_is_rebuilt_when_the_layout_changes_or_is_due() -> None:
    """The kept GET list follows the layouts: a new walk's instances are asked for at once,
    and a layout due for its walk is no longer asked for."""
    agent = CountingClient(interfaces(2))
    device = Device(agent)
    device.memory.rewalk_every = 3
    await device.poll()
    await device.poll()
    asked = device.memory.get_oids
    assert asked is not None and f"{IF_HC_IN}.2" in asked[1]
    agent.oids.update(interfaces(3))
    await device.poll()  # ifNumber changed: walked again
    await device.poll()
    asked = device.memory.get_oids
    assert asked is not None and f"{IF_HC_IN}.3" in asked[1]
    await device.poll()
    assert agent.walks == 0
    await device.poll()  # the layout's third poll: due, walked instead of asked for
    asked = device.memory.get_oids
    assert agent.walks > 0
    assert asked is not None and f"{IF_HC_IN}.3" not in asked[1] and IF_NUMBER in asked[1]


def test_columns_rebuilt_from_runs_match_the_instances() -> None:
    """Columns are rebuilt a run of instances at a time; runs of one column that are not
    next to each other (a hand-made layout) still make one column."""
    layout = TableLayout(("1", "2"), (IF_NAME, IF_OPER, IF_NAME), ("1", "1", "2"),
                         (f"{IF_NAME}.1", f"{IF_OPER}.1", f"{IF_NAME}.2"), (), None)
    values: dict[str, Value] = {f"{IF_NAME}.1": b"a", f"{IF_OPER}.1": 1, f"{IF_NAME}.2": b"b"}
    assert column_spans(layout.instance_columns) == (
        (IF_NAME, 0, 1), (IF_OPER, 1, 2), (IF_NAME, 2, 3))
    assert layout_columns(layout, values) == {IF_NAME: {"1": b"a", "2": b"b"}, IF_OPER: {"1": 1}}
    del values[f"{IF_NAME}.2"]
    assert layout_columns(layout, values) is None
