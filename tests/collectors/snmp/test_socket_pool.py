"""Pooled sockets (collectors/snmp/socket_pool.py): polls that cannot keep a socket each
borrow one, re-connected to their own agent, and nothing of the previous agent's reaches
the next poll."""

from __future__ import annotations

import asyncio
import socket

import pytest

from collectors.snmp import socket_pool
from collectors.snmp.client import PacketStats, SnmpTarget
from collectors.snmp.errors import SnmpTimeout, SnmpUnreachable
from collectors.snmp.gufo_client import GufoClient
from collectors.snmp.socket_pool import SocketPool
from pubnet.config import Credential
from tests.collectors.snmp.fake_agent import FakeAgent, Request, response
from tests.support import eventually, free_udp_port

CRED = Credential(version="2c", community="fake")
UPTIME = "1.3.6.1.2.1.1.3.0"


def answering(value: int) -> FakeAgent:
    return FakeAgent(lambda req: [response(req, [(req.oids[0], value)])])


def client(port: int, stats: PacketStats, pool: SocketPool, timeout: float = 2.0
           ) -> GufoClient:
    return GufoClient(SnmpTarget("127.0.0.1", port, CRED, timeout, 0), stats, pool)


async def test_polls_that_do_not_keep_sockets_reuse_one() -> None:
    """Six polls of two agents, one after the other: one socket (one source port) carries
    them all, each poll answered by its own agent."""
    stats = PacketStats()
    pool = SocketPool(stats)
    async with answering(1) as one, answering(2) as two:
        clients = {1: client(one.port, stats, pool), 2: client(two.port, stats, pool)}
        for _ in range(3):
            for value, c in clients.items():
                async with c:
                    assert await c.get([UPTIME]) == {UPTIME: value}
        pool.close()
    ports = {peer[1] for peer in one.peers + two.peers}
    assert len(one.seen) == len(two.seen) == 3
    assert len(ports) == 1, f"a socket per poll: source ports {ports}"
    assert stats.dropped == {}


async def test_late_answer_to_the_previous_poll_is_counted_and_never_reaches_the_next(
) -> None:
    stats = PacketStats()
    pool = SocketPool(stats)
    async with FakeAgent(lambda req: []) as silent, answering(2) as two:
        late = client(silent.port, stats, pool, timeout=0.2)
        with pytest.raises(SnmpTimeout):
            async with late:
                await late.get([UPTIME])
        req: Request = silent.seen[0]
        silent.send(response(req, [(UPTIME, 666)]), silent.peers[0])  # to the idle socket
        await eventually(lambda: stats.dropped, within=5, what="the late answer counted")
        assert stats.dropped == {"late_response": 1}
        other = client(two.port, stats, pool)
        async with other:
            assert await other.get([UPTIME]) == {UPTIME: 2}
            silent.send(response(req, [(UPTIME, 667)]), silent.peers[0])  # now filtered
            assert await other.get([UPTIME]) == {UPTIME: 2}
        pool.close()
    assert stats.dropped == {"late_response": 1}


async def test_a_refused_poll_leaves_the_socket_good_for_the_next() -> None:
    """The previous agent's ICMP port unreachable belongs to its poll, not the next one."""
    stats = PacketStats()
    pool = SocketPool(stats)
    async with answering(2) as two:
        closed = client(free_udp_port(), stats, pool, timeout=1.0)
        with pytest.raises((SnmpUnreachable, SnmpTimeout)):
            async with closed:
                await closed.get([UPTIME])
        other = client(two.port, stats, pool)
        for _ in range(2):
            async with other:
                assert await other.get([UPTIME]) == {UPTIME: 2}
        pool.close()
    assert len({peer[1] for peer in two.peers}) == 1


async def test_the_pool_holds_no_more_sockets_than_polls_in_flight() -> None:
    stats = PacketStats()
    pool = SocketPool(stats)
    async with answering(1) as one:
        clients = [client(one.port, stats, pool) for _ in range(20)]

        async def poll(c: GufoClient) -> None:
            async with c:
                assert await c.get([UPTIME]) == {UPTIME: 1}

        for start in range(0, 20, 4):  # four at a time
            await asyncio.gather(*(poll(c) for c in clients[start:start + 4]))
        assert len({peer[1] for peer in one.peers}) == 4
        pool.close()


async def test_a_borrowed_socket_is_drained_only_when_something_waits_on_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """acquire() reads the queue only when its poll object says a datagram or an error
    waits there (a read that finds nothing cost ~1.5 µs more): an answer that came for the
    previous poll after the loop last looked, and the ICMP error of the previous agent's
    closed port, are still read and counted, never left for the next poll."""
    stats = PacketStats()
    pool = SocketPool(stats)
    drains: list[int] = []
    drain = SocketPool._drain

    def counted(self: SocketPool, sock: socket_pool.Borrowed) -> None:
        drains.append(sock.fileno())
        drain(self, sock)

    monkeypatch.setattr(SocketPool, "_drain", counted)
    key = (socket.AF_INET, "2c", "fake")
    with (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent,
          socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other,
          socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as own):
        agent.bind(("127.0.0.1", 0))
        other.bind(("127.0.0.1", 0))
        own.setblocking(False)
        closed = ("127.0.0.1", free_udp_port())

        def borrow(address: tuple[str, int]) -> socket_pool.Lease:
            return pool.acquire(key, address, lambda: (own, own.fileno()), lambda: None)

        pool.release(borrow(agent.getsockname()))
        pool.release(borrow(other.getsockname()))
        assert drains == []  # nothing queued: no read
        other.sendto(b"late", own.getsockname())  # queued at once: loopback delivers inline
        lease = borrow(agent.getsockname())  # the loop has not run meanwhile
        assert drains == [own.fileno()]
        assert stats.dropped == {"late_response": 1}
        pool.release(lease)
        lease = borrow(closed)
        own.send(b"x")  # the port unreachable error is pending on the socket
        pool.release(lease)
        borrow(agent.getsockname())
        assert len(drains) == 2
        assert stats.dropped == {"late_response": 2}
        assert own.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        with pytest.raises(BlockingIOError):
            own.recv(1)
        pool.close()
