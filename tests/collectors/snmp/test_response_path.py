"""The response path against a scripted agent: garbage is dropped and counted, exception
varbinds are skipped, a looping walk stops, tooBig shrinks the repetitions, hypothesis junk
never crashes the client."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.snmp.client import PacketStats, SnmpTarget
from collectors.snmp.errors import SnmpTimeout
from collectors.snmp.gufo_client import GufoClient
from pubnet.config import Credential
from tests.collectors.snmp.fake_agent import (
    END_OF_MIB_VIEW,
    GET,
    GETBULK,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    FakeAgent,
    Request,
    response,
    table_walk,
)
from tests.support import eventually

CRED = Credential(version="2c", community="fake")
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
TABLE: dict[str, object] = {f"{IF_NAME}.{i}": f"eth{i}".encode() for i in range(1, 7)}
TABLE["1.3.6.1.2.1.31.1.1.1.2.1"] = 7  # the next column: outside the walked subtree


def client(port: int, stats: PacketStats, timeout: float = 0.5, retries: int = 0
           ) -> GufoClient:
    return GufoClient(SnmpTarget("127.0.0.1", port, CRED, timeout, retries), stats)


async def test_garbage_before_the_answer_is_dropped_and_counted() -> None:
    def handler(req: Request) -> list[bytes]:
        good = response(req, [(req.oids[0], 42)])
        return [b"\x30\x05\x02\x01\x01\x04\x00", b"not snmp at all", good]

    stats = PacketStats()
    async with FakeAgent(handler) as agent, client(agent.port, stats) as c:
        assert await c.get(["1.3.6.1.2.1.1.3.0"]) == {"1.3.6.1.2.1.1.3.0": 42}
    assert stats.dropped.get("decode") == 2


async def test_answer_with_a_stale_request_id_is_dropped_and_counted() -> None:
    """gufo skips an answer whose request id is not the awaited one; seen arriving on its
    own (the usual case: the answer to an earlier, retried request), it is counted."""
    stats = PacketStats()
    async with FakeAgent(lambda req: []) as agent, client(agent.port, stats, timeout=2.0) as c:
        task = asyncio.create_task(c.get(["1.3.6.1.2.1.1.3.0"]))
        await eventually(lambda: agent.seen, within=5, what="the request")
        req, peer = agent.seen[0], agent.peers[0]
        stale = Request(req.pdu, req.request_id - 1, req.oids, 0, req.community)
        agent.send(response(stale, [(req.oids[0], 13)]), peer)
        await eventually(lambda: stats.dropped, within=5, what="the stale answer")
        agent.send(response(req, [(req.oids[0], 42)]), peer)
        assert await asyncio.wait_for(task, 5) == {"1.3.6.1.2.1.1.3.0": 42}
    assert stats.dropped == {"request_id": 1}


async def test_forged_answer_from_another_address_never_reaches_the_client() -> None:
    """The connected socket is the defence: the kernel drops datagrams from any address but
    the agent's, so a forged answer cannot stand in for the real one."""
    stats = PacketStats()
    async with FakeAgent(lambda req: []) as agent, client(agent.port, stats, timeout=2.0) as c:
        task = asyncio.create_task(c.get(["1.3.6.1.2.1.1.3.0"]))
        await eventually(lambda: agent.seen, within=5, what="the request")
        req, peer = agent.seen[0], agent.peers[0]
        loop = asyncio.get_running_loop()
        forger, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.2", 0))
        forger.sendto(response(req, [(req.oids[0], 666)]), peer)
        forger.close()
        await asyncio.sleep(0.2)
        assert not task.done()
        agent.send(response(req, [(req.oids[0], 42)]), peer)
        assert await asyncio.wait_for(task, 5) == {"1.3.6.1.2.1.1.3.0": 42}
    assert stats.dropped == {}


async def test_exception_varbinds_are_skipped_per_varbind() -> None:
    def handler(req: Request) -> list[bytes]:
        values = [5, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW]
        return [response(req, list(zip(req.oids, values, strict=True)))]

    oids = ["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.9.0", "1.3.6.1.2.1.1.5.1", "1.3.6.1.9.0"]
    async with FakeAgent(handler) as agent, client(agent.port, PacketStats()) as c:
        assert await c.get(oids) == {"1.3.6.1.2.1.1.3.0": 5}


async def test_walk_stops_when_leaving_the_subtree() -> None:
    def handler(req: Request) -> list[bytes]:
        return [response(req, table_walk(TABLE, req))]

    async with FakeAgent(handler) as agent, client(agent.port, PacketStats()) as c:
        rows = await c.bulk_walk(IF_NAME, 4)
    assert [v for _, v in rows] == [f"eth{i}".encode() for i in range(1, 7)]
    assert len(agent.seen) == 2  # 4 + 2 rows, the second answer crossed the subtree's end


async def test_a_walk_that_does_not_increase_stops_and_is_counted() -> None:
    def handler(req: Request) -> list[bytes]:
        # a broken agent: always answers with the same two rows
        return [response(req, [(f"{IF_NAME}.1", b"eth1"), (f"{IF_NAME}.2", b"eth2")])]

    stats = PacketStats()
    async with FakeAgent(handler) as agent, client(agent.port, stats) as c:
        rows = await asyncio.wait_for(c.bulk_walk(IF_NAME, 2), 5)
    assert [v for _, v in rows] == [b"eth1", b"eth2"]
    assert stats.dropped.get("non_increasing_oid") == 1
    assert len(agent.seen) == 2


async def test_too_big_retries_with_fewer_repetitions() -> None:
    def handler(req: Request) -> list[bytes]:
        if req.pdu == GETBULK and req.max_repetitions > 2:
            return [response(req, [], error_status=1)]  # tooBig, no varbinds
        return [response(req, table_walk(TABLE, req))]

    stats = PacketStats()
    async with FakeAgent(handler) as agent, client(agent.port, stats) as c:
        rows = await c.bulk_walk(IF_NAME, 10)
    assert len(rows) == 6
    assert [r.max_repetitions for r in agent.seen][:2] == [10, 2]
    assert stats.dropped.get("too_big") == 1


async def test_silence_is_a_timeout_after_every_attempt() -> None:
    stats = PacketStats()
    async with FakeAgent(lambda req: []) as agent:
        c = client(agent.port, stats, timeout=0.2, retries=2)
        try:
            async with c:
                await c.get(["1.3.6.1.2.1.1.3.0"])
        except SnmpTimeout:
            pass
        else:
            raise AssertionError("expected a timeout")
    assert len(agent.seen) == 3
    assert stats.retries == 2


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(st.binary(min_size=0, max_size=80), min_size=1, max_size=4))
def test_random_datagrams_never_crash_the_client(junk: list[bytes]) -> None:
    async def scenario() -> None:
        def handler(req: Request) -> list[bytes]:
            if req.pdu == GET:
                return [*junk, response(req, [(req.oids[0], 1)])]
            return []

        stats = PacketStats()
        async with FakeAgent(handler) as agent, client(agent.port, stats, timeout=1.0) as c:
            result = await c.get(["1.3.6.1.2.1.1.3.0"])
        # junk never carries our request id: the real answer always wins
        assert result == {"1.3.6.1.2.1.1.3.0": 1}

    asyncio.run(scenario())


async def test_scapy_crafted_wrong_id_and_truncated_answers_are_dropped() -> None:
    from scapy.asn1.asn1 import ASN1_INTEGER, ASN1_OID
    from scapy.layers.snmp import SNMP, SNMPresponse, SNMPvarbind

    def crafted(req: Request, request_id: int, value: int) -> bytes:
        return bytes(SNMP(community=req.community, PDU=SNMPresponse(
            id=request_id,
            varbindlist=[SNMPvarbind(oid=ASN1_OID(req.oids[0]), value=ASN1_INTEGER(value))])))

    def handler(req: Request) -> list[bytes]:
        return [
            crafted(req, req.request_id + 1, 666),   # someone else's answer
            crafted(req, req.request_id, 777)[:-4],  # truncated
            crafted(req, req.request_id, 42),        # ours
        ]

    stats = PacketStats()
    async with FakeAgent(handler) as agent, client(agent.port, stats) as c:
        assert await c.get(["1.3.6.1.2.1.1.3.0"]) == {"1.3.6.1.2.1.1.3.0": 42}
    assert stats.dropped.get("decode") == 1
