"""SNMPv3 against the simulator, as net-snmp's tools and gufo-snmp (the poller's client)
see it: discovery, every auth/priv combination pubnet's config allows, and refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pubnet.config import parse_config
from simulator import Fleet
from tests.simulator.conftest import loopback_plan
from tests.simulator.support import NUMERIC, parse_values, run_tool, small_inventory

pytestmark = pytest.mark.integration

NET_SNMP_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256",
                 "sha384": "SHA-384", "sha512": "SHA-512"}
NET_SNMP_PRIV = {"des": "DES", "aes128": "AES", "aes192": "AES192", "aes256": "AES256"}
CASES = [(None, "none"), ("md5", "none"), ("sha", "des"), ("sha224", "aes128"),
         ("sha256", "aes128"), ("sha384", "aes192"), ("sha512", "aes256"), ("md5", "aes256")]


def credential(auth: str | None, priv: str) -> dict[str, Any]:
    cred: dict[str, Any] = {"version": "3", "user": "noc"}
    if auth:
        cred.update(auth_protocol=auth, auth_key="auth-pass-1")
    if priv != "none":
        cred.update(priv_protocol=priv, priv_key="priv-pass-1")
    return cred


def tool_args(auth: str | None, priv: str, auth_key: str = "auth-pass-1",
              user: str = "noc") -> list[str]:
    level = "noAuthNoPriv" if not auth else "authNoPriv" if priv == "none" else "authPriv"
    args = ["-v3", "-u", user, "-l", level]
    if auth:
        args += ["-a", NET_SNMP_AUTH[auth], "-A", auth_key]
    if priv != "none":
        args += ["-x", NET_SNMP_PRIV[priv], "-X", "priv-pass-1"]
    return args


async def v3_fleet(auth: str | None, priv: str) -> Fleet:
    config = parse_config({"credentials": {"village": credential(auth, priv)}})
    return Fleet.from_inventory(small_inventory(), loopback_plan(),
                                credentials=config.credentials)


@pytest.fixture
async def sha_aes() -> AsyncIterator[Fleet]:
    async with await v3_fleet("sha256", "aes128") as fleet:
        yield fleet


@pytest.mark.parametrize(("auth", "priv"), CASES, ids=[f"{a}-{p}" for a, p in CASES])
async def test_net_snmp_get_and_bulkwalk_over_v3(auth: str | None, priv: str) -> None:
    async with await v3_fleet(auth, priv) as fleet:
        host, port = fleet.address_of("gw-1")
        args = [*tool_args(auth, priv), *NUMERIC, "-t", "3", "-r", "1", f"{host}:{port}"]
        code, out, err = await run_tool("snmpget", *args, ".1.3.6.1.2.1.1.5.0")
        assert code == 0, err
        assert parse_values(out)[".1.3.6.1.2.1.1.5.0"] == "gw-1"
        code, out, err = await run_tool("snmpbulkwalk", *args, ".1.3.6.1.2.1.31.1.1.1.1")
        assert code == 0, err
        names = [v for v in parse_values(out).values() if "No more" not in v]
        assert names == [i.name for i in fleet.device("gw-1").interfaces]
        assert fleet.agent.stats.reports["4.0"] >= 1  # engine discovery happened


async def test_gufo_snmp_client_over_v3(sha_aes: Fleet) -> None:
    from gufo.snmp.aio.client import SnmpSession
    from gufo.snmp.user import Aes128Key, Sha256Key, User

    host, port = sha_aes.address_of("dist-1")
    user = User("noc", auth_key=Sha256Key(b"auth-pass-1"), priv_key=Aes128Key(b"priv-pass-1"))
    async with SnmpSession(addr=host, port=port, user=user, timeout=3) as session:
        await session.refresh()
        assert await session.get("1.3.6.1.2.1.1.5.0") == b"dist-1"
        walk = [oid async for oid, _ in session.getbulk("1.3.6.1.2.1.31.1.1.1.6")]
    assert len(walk) == len(sha_aes.device("dist-1").interfaces)


@pytest.mark.parametrize(("args", "message", "dropped"), [
    (tool_args("sha256", "aes128", auth_key="wrong-pass-1"), "Authentication failure",
     "usm_wrong_digest"),
    (tool_args("sha256", "aes128", user="mallory"), "Unknown user name",
     "usm_unknown_user"),
    (tool_args("sha256", "none"), "Unsupported security level", "usm_unsupported_sec_level"),
], ids=["wrong-key", "unknown-user", "wrong-level"])
async def test_v3_refusals_are_reported(sha_aes: Fleet, args: list[str], message: str,
                                        dropped: str) -> None:
    host, port = sha_aes.address_of("gw-1")
    code, _out, err = await run_tool("snmpget", *args, "-t", "2", "-r", "0", f"{host}:{port}",
                                     ".1.3.6.1.2.1.1.5.0")
    assert code != 0 and message.lower() in err.lower()
    assert sha_aes.agent.stats.dropped[dropped] >= 1


async def test_reboot_bumps_engine_boots(sha_aes: Fleet) -> None:
    host, port = sha_aes.address_of("gw-1")
    args = [*tool_args("sha256", "aes128"), *NUMERIC, "-t", "3", "-r", "1", f"{host}:{port}"]
    code, _out, err = await run_tool("snmpget", *args, ".1.3.6.1.2.1.1.5.0")
    assert code == 0, err
    sha_aes.reboot("gw-1", trap=False)
    assert sha_aes.device("gw-1").engine_boots == 2
    code, out, err = await run_tool("snmpget", *args, ".1.3.6.1.6.3.10.2.1.2.0",
                                    ".1.3.6.1.2.1.1.3.0")
    assert code == 0, err  # a fresh process rediscovers boots and time
    values = parse_values(out)
    assert values[".1.3.6.1.6.3.10.2.1.2.0"] == "2"
    assert int(values[".1.3.6.1.2.1.1.3.0"]) < 3000


def test_stale_engine_time_gets_an_authenticated_not_in_time_window_report() -> None:
    from pubnet.ber import Decoder, PduType, Tag, encode_int, encode_oid, tlv
    from simulator.usm import (
        FLAG_AUTH,
        FLAG_REPORTABLE,
        NOT_IN_TIME_WINDOWS,
        LocalUser,
        build_v3,
        parse_scoped,
        parse_v3,
        verify,
    )
    from tests.simulator.conftest import loopback_plan

    now = 1_780_000_000.0
    config = parse_config({"credentials": {"village": credential("sha", "none")}})
    fleet = Fleet.from_inventory(small_inventory(), loopback_plan(),
                                 credentials=config.credentials, clock=lambda: now)
    device = fleet.device("gw-1")
    user = LocalUser.build(device.users[b"noc"], device.engine_id, fleet.agent.keys)
    pdu = tlv(PduType.GET, encode_int(77) + encode_int(0) + encode_int(0) + tlv(
        Tag.SEQUENCE, tlv(Tag.SEQUENCE, encode_oid((1, 3, 6, 1, 2, 1, 1, 5, 0)) + b"\x05\x00")))
    scoped = tlv(Tag.SEQUENCE, tlv(Tag.OCTET_STRING, device.engine_id)
                 + tlv(Tag.OCTET_STRING, b"") + pdu)
    stale = build_v3(5, FLAG_AUTH | FLAG_REPORTABLE, device.engine_id, device.engine_boots,
                     device.engine_time(now) - 1000, b"noc", scoped, user)
    raw = fleet.agent.respond(device, fleet.shapes.get(device), stale, now)
    assert raw is not None
    reply = parse_v3(raw)
    assert reply.msg_id == 5 and reply.flags == FLAG_AUTH and verify(reply, user)
    report = Decoder().decode_pdu(parse_scoped(reply.data)[2])
    assert report.pdu_type == PduType.REPORT and report.oids == (NOT_IN_TIME_WINDOWS,)
    fresh = build_v3(6, FLAG_AUTH | FLAG_REPORTABLE, device.engine_id, device.engine_boots,
                     device.engine_time(now), b"noc", scoped, user)
    raw = fleet.agent.respond(device, fleet.shapes.get(device), fresh, now)
    assert raw is not None
    answer = Decoder().decode_pdu(parse_scoped(parse_v3(raw).data)[2])
    assert answer.pdu_type == PduType.RESPONSE and answer.request_id == 77
