"""What reading an answer costs (collectors/snmp/gufo_client.py, socket_pool.py), without
weakening the screen: one peeking socket object per socket, not one per answer, and the
peek offset left for gufo to move back when exactly one well-formed datagram was queued."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any

import pytest

from collectors.snmp import gufo_client, socket_pool
from collectors.snmp.client import PacketStats, SnmpTarget
from collectors.snmp.gufo_client import SO_PEEK_OFF, GufoClient
from collectors.snmp.socket_pool import SocketPool
from pubnet.config import Credential
from tests.collectors.snmp.fake_agent import FakeAgent, Request, response
from tests.collectors.snmp.test_malformed_answers import PANICS
from tests.support import eventually

CRED = Credential(version="2c", community="fake")
UPTIME = "1.3.6.1.2.1.1.3.0"


def answering(value: int) -> FakeAgent:
    return FakeAgent(lambda req: [response(req, [(req.oids[0], value)])])


def client(port: int, stats: PacketStats, pool: SocketPool | None = None,
           timeout: float = 2.0) -> GufoClient:
    return GufoClient(SnmpTarget("127.0.0.1", port, CRED, timeout, 0), stats, pool)


def peek_offset(c: GufoClient) -> int:
    """The socket's peek offset, read through a descriptor of our own."""
    with socket.socket(fileno=os.dup(c._fd)) as sock:
        return sock.getsockopt(socket.SOL_SOCKET, SO_PEEK_OFF)


def at_least(count: Callable[[], int], wanted: int) -> Callable[[], bool]:
    return lambda: count() >= wanted


@pytest.fixture
def socket_objects(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The descriptors of every peeking socket object made from now on."""
    made: list[int] = []

    class Counted(socket_pool.Borrowed):
        def __init__(self, *args: Any) -> None:
            made.append(args[3])
            super().__init__(*args)

    monkeypatch.setattr(socket_pool, "Borrowed", Counted)
    monkeypatch.setattr(gufo_client, "Borrowed", Counted)
    return made


async def test_pooled_polls_make_no_socket_object_per_answer(socket_objects: list[int]
                                                             ) -> None:
    """Six polls of two agents through one pooled socket: the socket objects are made when
    the socket is opened, none for each answer screened or each lease (one each before)."""
    stats = PacketStats()
    pool = SocketPool(stats)
    async with answering(1) as one, answering(2) as two:
        clients = {1: client(one.port, stats, pool), 2: client(two.port, stats, pool)}
        made = -1
        for _ in range(3):
            for value, c in clients.items():
                async with c:
                    assert await c.get([UPTIME]) == {UPTIME: value}
                    assert await c.get([UPTIME]) == {UPTIME: value}
            if made < 0:
                made = len(socket_objects)
        pool.close()
    assert len(socket_objects) == made <= 2
    assert stats.dropped == {}


async def test_a_kept_socket_makes_one_socket_object(socket_objects: list[int]) -> None:
    stats = PacketStats()
    async with answering(7) as agent:
        c = client(agent.port, stats)
        c.keep_open = True
        for _ in range(5):
            async with c:
                assert await c.get([UPTIME]) == {UPTIME: 7}
        c.close()
    assert len(socket_objects) == 1


@pytest.mark.parametrize("pooled", [False, True], ids=["own-socket", "pooled"])
async def test_the_peek_offset_is_back_at_the_first_datagram_after_each_answer(
        pooled: bool) -> None:
    """The screen leaves the offset past a lone well-formed answer for gufo's read to move
    back. A stale answer alone (gufo reads it and skips it), then a malformed one and the
    real answer together: the screen still sees the malformed one, from the first byte."""
    stats = PacketStats()
    pool = SocketPool(stats) if pooled else None
    async with FakeAgent(lambda req: []) as agent:
        c = client(agent.port, stats, pool)
        async with c:
            for poll in range(2):
                task = asyncio.create_task(c.get([UPTIME]))
                await eventually(at_least(lambda: len(agent.seen), poll + 1), within=5,
                                 what="the request")
                req, peer = agent.seen[poll], agent.peers[poll]
                stale = Request(req.pdu, req.request_id - 1, req.oids, 0, req.community)
                agent.send(response(stale, [(UPTIME, 13)]), peer)
                await eventually(at_least(lambda: stats.dropped.get("request_id", 0), poll + 1),
                                 within=5, what="the stale answer")
                assert peek_offset(c) == 0
                agent.send(PANICS["cut-long-length"](req), peer)
                agent.send(response(req, [(UPTIME, 42)]), peer)
                assert await asyncio.wait_for(task, 5) == {UPTIME: 42}
                assert peek_offset(c) == 0
        if pool is not None:
            pool.close()
    assert stats.dropped == {"request_id": 2, "decode": 2}
