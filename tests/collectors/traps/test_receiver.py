"""The trap receiver against net-snmp's snmptrap/snmpinform, the simulator, and garbage."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.traps.receiver import TrapReceiver
from inventory.model import Device, Inventory, Role
from pubnet.config import Config, parse_config
from pubnet.model import Source
from pubnet.state import StateStore
from simulator import AddressPlan, Fleet, plan_addresses, simulated_inventory
from tests.simulator.conftest import loopback_plan
from tests.simulator.support import run_tool, small_inventory
from tests.support import eventually

pytestmark = pytest.mark.integration

ENGINE_ID = "0x80001f8804707562766e6574"
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
DROPPED = "pubnet_snmp_dropped_packets_total"


def trap_config() -> Config:
    return parse_config({
        "credentials": {
            "village": {"version": "2c", "community": "village-secret"},
            "noc-v3": {"version": "3", "user": "noc", "auth_protocol": "sha256",
                       "auth_key": "auth-pass-123", "priv_protocol": "aes128",
                       "priv_key": "priv-pass-456"},
            "legacy-v3": {"version": "3", "user": "legacy", "auth_protocol": "md5",
                          "auth_key": "legacy-auth-1"},
            "des-v3": {"version": "3", "user": "old-des", "auth_protocol": "md5",
                       "auth_key": "des-auth-pass", "priv_protocol": "des",
                       "priv_key": "des-priv-pass"},
            "aes256-v3": {"version": "3", "user": "strong", "auth_protocol": "sha512",
                          "auth_key": "strong-auth-pass", "priv_protocol": "aes256",
                          "priv_key": "strong-priv-pass"},
        },
        "traps": {"listen": "127.0.0.1:0",
                  "credentials": ["village", "noc-v3", "legacy-v3", "des-v3", "aes256-v3"],
                  "engine_ids": [ENGINE_ID]},
    })


def loopback_inventory() -> Inventory:
    """net-snmp's tools send from 127.0.0.1: that is gw-1."""
    inv = Inventory()
    inv.devices["gw-1"] = Device("gw-1", "site-1", Role.SITE_GATEWAY, "127.0.0.1", None,
                                 "if-mib", "village", "")
    return inv


async def within_a_second(check: Callable[[], object]) -> None:
    """The issue's promise: a trap reaches the store within a second, not at the next poll."""
    await eventually(check, within=1.0, what="the trap's effect on the store")


async def start(receiver: TrapReceiver) -> asyncio.Task[None]:
    task = asyncio.create_task(receiver.run())
    await asyncio.wait_for(receiver.ready.wait(), 30)
    return task


@pytest.fixture
async def receiver() -> AsyncIterator[TrapReceiver]:
    config = trap_config()
    assert config.traps is not None
    rx = TrapReceiver(config.traps, config.credentials, loopback_inventory(), StateStore())
    task = await start(rx)
    yield rx
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def target(rx: TrapReceiver) -> str:
    assert rx.address is not None
    return f"{rx.address[0]}:{rx.address[1]}"


def oper(rx: TrapReceiver, ifname: str) -> float | None:
    obs = rx.store.latest("gw-1", "pubnet_interface_oper_up", (("ifname", ifname),))
    return None if obs is None else obs.value


def drops(rx: TrapReceiver) -> dict[str, float]:
    return {dict(k[1])["reason"]: o.value
            for k, o in rx.store.device_series("pubnet").items() if k[0] == DROPPED}


async def test_v2c_link_down_reaches_the_store_within_a_second(receiver: TrapReceiver) -> None:
    code, _out, err = await run_tool(
        "snmptrap", "-v2c", "-c", "village-secret", target(receiver), "", LINK_DOWN,
        "1.3.6.1.2.1.2.2.1.1.2", "i", "2", "1.3.6.1.2.1.31.1.1.1.1.2", "s", "ether2")
    assert code == 0, err
    await within_a_second(lambda: oper(receiver, "ether2") == 0.0)
    obs = receiver.store.latest("gw-1", "pubnet_interface_oper_up", (("ifname", "ether2"),))
    assert obs is not None and obs.source is Source.TRAP
    status = receiver.store.status("gw-1")
    assert status is not None and status.last_seen > 0


async def test_v1_link_down_trap_is_translated(receiver: TrapReceiver) -> None:
    # SNMPv1 Trap-PDU: enterprise, agent-addr, generic-trap 2 (linkDown), specific 0.
    code, _out, err = await run_tool(
        "snmptrap", "-v1", "-c", "village-secret", target(receiver), "1.3.6.1.4.1.8072",
        "127.0.0.1", "2", "0", "", "1.3.6.1.2.1.2.2.1.1.5", "i", "5")
    assert code == 0, err
    await within_a_second(lambda: oper(receiver, "ifIndex=5") == 0.0)
    assert receiver.received.get("linkDown") == 1


@pytest.mark.parametrize("args", [
    ["-v3", "-e", ENGINE_ID, "-u", "noc", "-l", "authPriv", "-a", "SHA-256", "-A",
     "auth-pass-123", "-x", "AES", "-X", "priv-pass-456"],
    ["-v3", "-e", ENGINE_ID, "-u", "legacy", "-l", "authNoPriv", "-a", "MD5", "-A",
     "legacy-auth-1"],
    ["-v3", "-e", ENGINE_ID, "-u", "old-des", "-l", "authPriv", "-a", "MD5", "-A",
     "des-auth-pass", "-x", "DES", "-X", "des-priv-pass"],
    ["-v3", "-e", ENGINE_ID, "-u", "strong", "-l", "authPriv", "-a", "SHA-512", "-A",
     "strong-auth-pass", "-x", "AES256", "-X", "strong-priv-pass"],
], ids=["sha256-aes128", "md5-nopriv", "md5-des", "sha512-aes256"])
async def test_v3_traps_are_accepted(receiver: TrapReceiver, args: list[str]) -> None:
    code, _out, err = await run_tool("snmptrap", *args, target(receiver), "", LINK_DOWN,
                                     "1.3.6.1.2.1.2.2.1.1.4", "i", "4")
    assert code == 0, err
    await within_a_second(lambda: oper(receiver, "ifIndex=4") == 0.0)


async def test_v3_inform_is_acknowledged_and_cold_start_noted(receiver: TrapReceiver) -> None:
    code, _out, err = await run_tool(
        "snmpinform", "-v3", "-u", "noc", "-l", "authPriv", "-a", "SHA-256", "-A",
        "auth-pass-123", "-x", "AES", "-X", "priv-pass-456", "-t", "3", "-r", "1",
        target(receiver), "", "1.3.6.1.6.3.1.1.5.1")
    assert code == 0, err  # snmpinform exits 0 only once the receiver acknowledged
    await within_a_second(lambda: receiver.store.latest("gw-1", "pubnet_device_uptime_seconds")
                     is not None)


@pytest.mark.parametrize(("args", "reason"), [
    (["-v2c", "-c", "wrong"], "trap_bad_community"),
    (["-v3", "-e", ENGINE_ID, "-u", "noc", "-l", "authPriv", "-a", "SHA-256", "-A",
      "not-the-key", "-x", "AES", "-X", "priv-pass-456"], "trap_auth"),
    (["-v3", "-e", ENGINE_ID, "-u", "mallory", "-l", "authNoPriv", "-a", "SHA", "-A",
      "whatever-1"], "trap_unknown_user"),
], ids=["community", "v3-wrong-key", "v3-unknown-user"])
async def test_rejected_traps_are_counted(receiver: TrapReceiver, args: list[str],
                                          reason: str) -> None:
    code, _out, err = await run_tool("snmptrap", *args, target(receiver), "", LINK_DOWN)
    assert code == 0, err
    await within_a_second(lambda: drops(receiver).get(reason, 0) >= 1)
    assert oper(receiver, "ifIndex=1") is None


async def test_trap_from_an_unknown_address_is_counted() -> None:
    config = trap_config()
    assert config.traps is not None
    rx = TrapReceiver(config.traps, config.credentials, Inventory(), StateStore())
    task = await start(rx)
    try:
        code, _out, err = await run_tool("snmptrap", "-v2c", "-c", "village-secret",
                                         target(rx), "", LINK_DOWN)
        assert code == 0, err
        await within_a_second(lambda: drops(rx).get("trap_unknown_source", 0) == 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_simulator_link_down_trap_reaches_the_store_within_a_second() -> None:
    plan = loopback_plan()
    base = small_inventory()
    inventory = simulated_inventory(base, plan_addresses(base, plan))
    config = parse_config({"traps": {"listen": "127.0.0.1:0"}})
    assert config.traps is not None
    rx = TrapReceiver(config.traps, {}, inventory, StateStore())
    task = await start(rx)
    try:
        assert rx.address is not None
        async with Fleet.from_inventory(base, plan, trap_target=rx.address) as fleet:
            fleet.link_down("gw-1", "sfp1")
            await within_a_second(lambda: (o := rx.store.latest(
                "gw-1", "pubnet_interface_oper_up", (("ifname", "sfp1"),))) is not None
                and o.value == 0.0)
            fleet.link_up("gw-1", "sfp1")
            await within_a_second(lambda: (o := rx.store.latest(
                "gw-1", "pubnet_interface_oper_up", (("ifname", "sfp1"),))) is not None
                and o.value == 1.0)
            fleet.reboot("dist-1")
            await within_a_second(lambda: rx.store.latest("dist-1", "pubnet_device_uptime_seconds")
                             is not None)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def scapy_packets() -> list[bytes]:
    """Hand-made bad packets: truncated, wrong versions and types, lying lengths."""
    from scapy.asn1.asn1 import ASN1_OID
    from scapy.compat import raw
    from scapy.layers.snmp import SNMP, SNMPget, SNMPtrapv2, SNMPvarbind

    bind = [SNMPvarbind(oid=ASN1_OID("1.3.6.1.6.3.1.1.4.1.0"), value=ASN1_OID(LINK_DOWN))]
    good = raw(SNMP(version=1, community="village-secret",
                    PDU=SNMPtrapv2(id=7, varbindlist=bind)))
    return [
        good[:-5],  # truncated
        good[:10],
        raw(SNMP(version=7, community="village-secret", PDU=SNMPtrapv2(id=8, varbindlist=bind))),
        raw(SNMP(version=1, community="village-secret", PDU=SNMPget(id=9, varbindlist=bind))),
        b"\x30\x84\xff\xff\xff\xff" + good[2:],  # length far beyond the datagram
        good[:1] + b"\x05" + good[2:],  # length shorter than the content
        b"\x02\x01\x01",
        b"",
    ]


async def test_malformed_packets_are_dropped_counted_and_survived(
        receiver: TrapReceiver) -> None:
    assert receiver.address is not None
    packets = scapy_packets()
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, receiver.address)
            sent += 1

        @settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.binary(max_size=400) | st.binary(min_size=4, max_size=200).map(
            lambda b: b"\x30" + bytes([len(b)]) + b))
        def send(data: bytes) -> None:
            nonlocal sent
            sock.sendto(data, receiver.address)
            sent += 1

        send()
    await eventually(lambda: sum(drops(receiver).values()) >= sent, within=10)
    assert receiver.store.device_series("gw-1") == {}
    # Still alive and still working:
    code, _out, err = await run_tool("snmptrap", "-v2c", "-c", "village-secret",
                                     target(receiver), "", LINK_DOWN,
                                     "1.3.6.1.2.1.2.2.1.1.9", "i", "9")
    assert code == 0, err
    await within_a_second(lambda: oper(receiver, "ifIndex=9") == 0.0)


def test_unknown_trap_credential_is_a_config_error() -> None:
    from pubnet.config import ConfigError

    with pytest.raises(ConfigError, match=r"traps\.credentials: unknown credential 'nope'"):
        parse_config({"traps": {"credentials": ["nope"]}})
    with pytest.raises(ConfigError, match=r"traps\.listen"):
        parse_config({"traps": {"listen": "nowhere"}})


def test_address_plan_is_loopback_only() -> None:
    with pytest.raises(ValueError):
        AddressPlan("192.0.2.0")


@pytest.mark.parametrize("varbinds", [
    ("1.3.6.1.6.3.1.1.5.1", "1.3.6.1.2.1.1.3.0", "C", "18446744073709551615"),
    (LINK_DOWN, "1.3.6.1.2.1.2.2.1.1.9", "C", "18446744073709551615"),
    (LINK_DOWN, "1.3.6.1.2.1.31.1.1.1.1.4294967296", "s", "ether9"),
], ids=["uptime-as-counter64", "ifindex-2^64-1", "ifindex-in-the-oid"])
async def test_values_beyond_their_object_are_dropped_and_counted(
        receiver: TrapReceiver, varbinds: tuple[str, ...]) -> None:
    """Issue 10, item 19: a sysUpTime.0 of 2^64-1 became an uptime of 1.8e17 s, and an
    ifIndex beyond InterfaceIndex a series of its own."""
    code, _out, err = await run_tool("snmptrap", "-v2c", "-c", "village-secret",
                                     target(receiver), "", *varbinds)
    assert code == 0, err
    await within_a_second(lambda: drops(receiver).get("trap_bad_value") == 1)
    assert receiver.store.device_series("gw-1") == {}


def link_down_datagram(if_index: int) -> bytes:
    from scapy.asn1.asn1 import ASN1_INTEGER, ASN1_OID, ASN1_TIME_TICKS
    from scapy.compat import raw
    from scapy.layers.snmp import SNMP, SNMPtrapv2, SNMPvarbind

    return raw(SNMP(version=1, community="village-secret", PDU=SNMPtrapv2(id=if_index, varbindlist=[
        SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.3.0"), value=ASN1_TIME_TICKS(4242)),
        SNMPvarbind(oid=ASN1_OID("1.3.6.1.6.3.1.1.4.1.0"), value=ASN1_OID(LINK_DOWN)),
        SNMPvarbind(oid=ASN1_OID(f"1.3.6.1.2.1.2.2.1.1.{if_index}"),
                    value=ASN1_INTEGER(if_index)),
    ])))


async def test_a_trap_flood_writes_a_few_lines_not_one_per_trap(
        caplog: pytest.LogCaptureFixture) -> None:
    """Issue 10, item 13: 14,001 linkDown traps wrote 14,001 info lines. Now: the first in
    full, then a summary with the count; every trap still acts on the store and is counted."""
    import logging

    caplog.set_level(logging.INFO, logger="pubnet.traps")
    config = trap_config()
    assert config.traps is not None
    rx = TrapReceiver(config.traps, config.credentials, loopback_inventory(), StateStore(),
                      log_summary_every=1.0)
    task = await start(rx)
    flood = 14_001
    datagrams = [link_down_datagram(n % 48 + 1) for n in range(48)]
    try:
        assert rx.address is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sent = 0
            while sent < flood:  # in bursts the receive buffer holds
                for _ in range(min(100, flood - sent)):
                    sock.sendto(datagrams[sent % len(datagrams)], rx.address)
                    sent += 1
                await eventually(lambda s=sent: rx.received.get("linkDown", 0) >= s,  # type: ignore[misc]
                                 within=20, what=f"{sent} traps received")
        await eventually(lambda: any("traps not logged" in r.getMessage()
                                     for r in caplog.records), within=5, what="the summary")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert rx.received["linkDown"] == flood
    assert all(oper(rx, f"ifIndex={n}") == 0.0 for n in range(1, 49))
    records = [r for r in caplog.records if r.name == "pubnet.traps"
               and "listening" not in r.getMessage()]
    assert len(records) <= 2 * (1 + 30)  # a first line and a summary per second, at most
    held = sum(r.linkDown for r in records if r.getMessage() == "traps not logged one by one")
    full = sum(r.getMessage() == "interface down" for r in records)
    assert held + full == flood


def kernel_dropped(rx: TrapReceiver) -> float | None:
    obs = rx.store.latest("pubnet", "pubnet_socket_receive_drops_total", (("socket", "traps"),))
    return None if obs is None else obs.value


def burst(rx: TrapReceiver, count: int) -> None:
    """``count`` linkDown traps sent while the receiver cannot read: this blocks the loop."""
    assert rx.address is not None
    datagrams = [link_down_datagram(n % 48 + 1) for n in range(48)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for n in range(count):
            sock.sendto(datagrams[n % len(datagrams)], rx.address)


async def test_a_trap_storm_waits_in_the_socket_for_a_busy_loop() -> None:
    """A power event sends thousands of traps at once. With the kernel's default receive
    buffer (~208 KiB) a few hundred of these 2,000 survived a busy moment of the loop;
    the socket now asks for 4 MiB, and none is lost."""
    config = trap_config()
    assert config.traps is not None
    rx = TrapReceiver(config.traps, config.credentials, loopback_inventory(), StateStore(),
                      log_summary_every=0.4)
    task = await start(rx)
    try:
        burst(rx, 2000)
        await eventually(lambda: rx.received.get("linkDown", 0) == 2000, within=20,
                         what="every trap of the storm")
        await eventually(lambda: kernel_dropped(rx) == 0.0, what="drops counted, none")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_traps_the_kernel_drops_are_counted_and_said_once(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is lost silently: what a full receive buffer costs is counted, so that
    traps received plus traps the kernel dropped is every trap sent."""
    import logging

    from collectors.receive_buffer import enlarge_receive_buffer

    monkeypatch.setattr("collectors.traps.receiver.enlarge_receive_buffer",
                        lambda sock: enlarge_receive_buffer(sock, 8192))
    config = trap_config()
    assert config.traps is not None
    rx = TrapReceiver(config.traps, config.credentials, loopback_inventory(), StateStore(),
                      log_summary_every=0.4)
    with caplog.at_level(logging.WARNING, logger="pubnet.traps"):
        task = await start(rx)
        try:
            burst(rx, 1000)
            await eventually(
                lambda: rx.received.get("linkDown", 0) + (kernel_dropped(rx) or 0) == 1000,
                within=20, what="every trap received or counted as dropped")
            burst(rx, 1000)
            await eventually(
                lambda: rx.received.get("linkDown", 0) + (kernel_dropped(rx) or 0) == 2000,
                within=20, what="the second storm too")
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert 0 < rx.received["linkDown"] < 1000
    said = [r.getMessage() for r in caplog.records]
    assert sum("receive buffer is small" in m for m in said) == 1
    assert sum("the kernel dropped datagrams" in m for m in said) == 1
