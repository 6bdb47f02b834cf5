"""The simulator as net-snmp's own tools see it: values, walks and injected faults."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from pubnet.ber import Decoder, PduType, decode_value
from simulator import Fleet
from simulator.mib import (
    IF_HC_IN_OCTETS,
    IF_HIGH_SPEED,
    IF_IN_OCTETS,
    IF_NAME,
    IF_OPER_STATUS,
    SNMP_TRAP_OID,
    TRAP_LINK_DOWN,
)
from tests.simulator.support import NUMERIC, parse_values, run_tool

pytestmark = pytest.mark.integration


def dotted(oid: tuple[int, ...]) -> str:
    return "." + ".".join(map(str, oid))


def target(fleet: Fleet, device: str) -> str:
    host, port = fleet.address_of(device)
    return f"{host}:{port}"


async def get(fleet: Fleet, device: str, *oids: tuple[int, ...],
              version: str = "2c", community: str = "public") -> dict[str, str]:
    code, out, err = await run_tool("snmpget", f"-v{version}", "-c", community, *NUMERIC,
                                    "-t", "3", "-r", "1", target(fleet, device),
                                    *map(dotted, oids))
    assert code == 0, err
    return parse_values(out)


async def test_snmpget_reads_what_the_model_says(fleet: Fleet) -> None:
    gw = fleet.device("gw-1")
    oids = [(1, 3, 6, 1, 2, 1, 1, 5, 0), (1, 3, 6, 1, 2, 1, 1, 2, 0)]
    for iface in gw.interfaces:
        oids += [(*IF_NAME, iface.index), (*IF_OPER_STATUS, iface.index),
                 (*IF_HIGH_SPEED, iface.index)]
    values = await get(fleet, "gw-1", *oids)
    assert values[".1.3.6.1.2.1.1.5.0"] == "gw-1"
    assert values[".1.3.6.1.2.1.1.2.0"] == ".1.3.6.1.4.1.14988.1"
    names = [values[dotted((*IF_NAME, i.index))] for i in gw.interfaces]
    assert names[0] == "sfp1"  # the inventory link's interface comes first
    assert names[1:] == ["ether1", "ether2", "ether3"]
    for iface in gw.interfaces:
        assert values[dotted((*IF_OPER_STATUS, iface.index))] == "1"
        assert int(values[dotted((*IF_HIGH_SPEED, iface.index))]) == iface.speed_bps // 10**6
    assert gw.interfaces[0].speed_bps == 1_000_000_000  # the link's capacity


async def test_bulkwalk_counters_lie_between_model_values(fleet: Fleet) -> None:
    dist = fleet.device("dist-1")
    before = time.time()
    code, out, err = await run_tool("snmpbulkwalk", "-v2c", "-c", "public", *NUMERIC,
                                    "-Cr25", target(fleet, "dist-1"), dotted(IF_HC_IN_OCTETS))
    after = time.time()
    assert code == 0, err
    values = parse_values(out)
    assert len(values) == len(dist.interfaces)
    for iface in dist.interfaces:
        seen = int(values[dotted((*IF_HC_IN_OCTETS, iface.index))])
        assert dist.in_octets(iface, before) <= seen <= dist.in_octets(iface, after)


async def test_full_walk_is_ordered_and_complete(fleet: Fleet) -> None:
    code, out, err = await run_tool("snmpbulkwalk", "-v2c", "-c", "public", *NUMERIC,
                                    "-Cc", target(fleet, "ap-1"), ".1")
    assert code == 0, err
    oids = [tuple(int(x) for x in line.split(" = ")[0][1:].split("."))
            for line in out.splitlines()
            if line.startswith(".") and "No more variables" not in line]
    shape = fleet.shapes.get(fleet.device("ap-1"))
    assert oids == shape.oids
    assert any(o[:7] == (1, 3, 6, 1, 4, 1, 41112) for o in oids)  # the UniFi VAP table
    assert any(o[:7] == (1, 3, 6, 1, 2, 1, 25) for o in oids)  # HOST-RESOURCES


async def test_v1_skips_counter64_and_answers_no_such_name(fleet: Fleet) -> None:
    code, out, err = await run_tool("snmpwalk", "-v1", "-c", "public", *NUMERIC,
                                    target(fleet, "gw-1"), ".1.3.6.1.2.1.31")
    assert code == 0, err
    values = parse_values(out)
    assert values and not any(k.startswith(dotted(IF_HC_IN_OCTETS)) for k in values)
    code, out, err = await run_tool("snmpget", "-v1", "-c", "public", *NUMERIC,
                                    target(fleet, "gw-1"), dotted((*IF_HC_IN_OCTETS, 1)))
    assert "noSuchName" in err or "no such" in (out + err).lower()


async def test_wrong_community_is_ignored_and_counted(fleet: Fleet) -> None:
    code, _out, err = await run_tool("snmpget", "-v2c", "-c", "nope", "-t", "0.5", "-r", "0",
                                     target(fleet, "gw-1"), ".1.3.6.1.2.1.1.5.0")
    assert code != 0 and "Timeout" in err
    assert fleet.agent.stats.dropped["community"] >= 1


async def test_link_down_sets_oper_status_freezes_counters_and_sends_trap(
        fleet: Fleet) -> None:
    loop = asyncio.get_running_loop()
    received: asyncio.Queue[bytes] = asyncio.Queue()

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            received.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    try:
        fleet.trap_target = transport.get_extra_info("sockname")
        fleet.link_down("gw-1", "sfp1")
        trap = Decoder().decode(await asyncio.wait_for(received.get(), 5))
        varbinds = dict(zip(trap.oids, trap.values, strict=True))
        assert trap.pdu_type == PduType.TRAP_V2
        assert decode_value(varbinds[SNMP_TRAP_OID]) == TRAP_LINK_DOWN
        assert decode_value(varbinds[(*IF_NAME, 1)]) == b"sfp1"
        first = await get(fleet, "gw-1", (*IF_OPER_STATUS, 1), (*IF_HC_IN_OCTETS, 1))
        assert first[dotted((*IF_OPER_STATUS, 1))] == "2"
        await asyncio.sleep(0.3)
        second = await get(fleet, "gw-1", (*IF_HC_IN_OCTETS, 1))
        key = dotted((*IF_HC_IN_OCTETS, 1))
        assert first[key] == second[key]  # no traffic on a down link
        fleet.link_up("gw-1", 1)
        up = Decoder().decode(await asyncio.wait_for(received.get(), 5))
        assert decode_value(dict(zip(up.oids, up.values, strict=True))[SNMP_TRAP_OID]) == (
            1, 3, 6, 1, 6, 3, 1, 1, 5, 4)
        assert (await get(fleet, "gw-1", (*IF_OPER_STATUS, 1)))[
            dotted((*IF_OPER_STATUS, 1))] == "1"
    finally:
        transport.close()


async def test_reboot_resets_uptime_and_counters(fleet: Fleet) -> None:
    uptime = (1, 3, 6, 1, 2, 1, 1, 3, 0)
    before = await get(fleet, "dist-1", uptime, (*IF_HC_IN_OCTETS, 1))
    assert int(before[dotted(uptime)]) > 3600 * 100
    fleet.reboot("dist-1")
    after = await get(fleet, "dist-1", uptime, (*IF_HC_IN_OCTETS, 1))
    assert int(after[dotted(uptime)]) < 30 * 100
    iface = fleet.device("dist-1").interfaces[0]
    assert int(after[dotted((*IF_HC_IN_OCTETS, 1))]) < iface.in_rate * 60
    assert int(after[dotted((*IF_HC_IN_OCTETS, 1))]) < int(before[dotted((*IF_HC_IN_OCTETS, 1))])


async def test_wrap_moves_32bit_counters_past_two_to_the_32(fleet: Fleet) -> None:
    fleet.wrap("dist-1", in_seconds=1.0)
    key = dotted((*IF_IN_OCTETS, 1))
    first = int((await get(fleet, "dist-1", (*IF_IN_OCTETS, 1)))[key])
    rate = fleet.device("dist-1").interfaces[0].in_rate
    assert first > 2**32 - rate * 3
    hc = await get(fleet, "dist-1", (*IF_HC_IN_OCTETS, 1))
    assert "No Such" in hc[dotted((*IF_HC_IN_OCTETS, 1))]  # a 32-bit-only agent now
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        value = int((await get(fleet, "dist-1", (*IF_IN_OCTETS, 1)))[key])
        if value < first:
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("the 32-bit counter never wrapped")
    assert value < rate * 30  # just past zero


async def test_silent_device_times_out_then_recovers(fleet: Fleet) -> None:
    fleet.silence("gw-1")
    code, _out, err = await run_tool("snmpget", "-v2c", "-c", "public", "-t", "0.5", "-r", "0",
                                     target(fleet, "gw-1"), ".1.3.6.1.2.1.1.5.0")
    assert code != 0 and "Timeout" in err
    fleet.heal("gw-1")
    assert (await get(fleet, "gw-1", (1, 3, 6, 1, 2, 1, 1, 5, 0)))[".1.3.6.1.2.1.1.5.0"] == "gw-1"


async def test_slow_device_answers_late(fleet: Fleet) -> None:
    fleet.slow("gw-1", 1.0)
    code, _out, err = await run_tool("snmpget", "-v2c", "-c", "public", "-t", "0.3", "-r", "0",
                                     target(fleet, "gw-1"), ".1.3.6.1.2.1.1.5.0")
    assert code != 0 and "Timeout" in err
    started = time.monotonic()
    values = await get(fleet, "gw-1", (1, 3, 6, 1, 2, 1, 1, 5, 0))
    assert values[".1.3.6.1.2.1.1.5.0"] == "gw-1"
    assert time.monotonic() - started >= 0.9


async def test_malformed_answers_are_rejected_by_snmpget(fleet: Fleet) -> None:
    fleet.malform("gw-1")
    for _ in range(3):
        code, out, _err = await run_tool("snmpget", "-v2c", "-c", "public", "-t", "0.3",
                                         "-r", "0", *NUMERIC, target(fleet, "gw-1"),
                                         ".1.3.6.1.2.1.1.5.0")
        assert code != 0 and "gw-1" not in out
    assert fleet.device("gw-1").faults.malformed_count >= 3


def test_addresses_are_loopback_and_distinct() -> None:
    from simulator import AddressPlan

    plan = AddressPlan("127.1.0.0", 161)
    addresses = [plan.address(i) for i in range(5000)]
    assert len(set(addresses)) == 5000
    assert all(a[0].startswith("127.") and not a[0].endswith((".0", ".255"))
               for a in addresses)
    with pytest.raises(ValueError):
        AddressPlan("10.0.0.0")
    ports = AddressPlan("127.0.0.1", 20000, per_port=True)
    assert ports.address(3) == ("127.0.0.1", 20003)


def test_socket_binds_every_loopback_address() -> None:
    """The premise of the address plan: Linux answers for all of 127.0.0.0/8."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.201.7.9", 0))
