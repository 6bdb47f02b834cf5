"""Request timeouts wait in one timer per timeout value, not one per request."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from collectors.snmp.client import PacketStats, SnmpTarget
from collectors.snmp.deadlines import Deadlines
from collectors.snmp.gufo_client import GufoClient
from pubnet.config import Credential
from tests.collectors.snmp.fake_agent import FakeAgent, Request, response

CRED = Credential(version="2c", community="fake")
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


class Owner:
    """A stand-in for a client: records which requests expired."""

    def __init__(self, record: Callable[[int], object]) -> None:
        self.record = record

    def expire(self, request: int) -> None:
        self.record(request)


async def test_requests_expire_in_order_with_one_timer_per_timeout() -> None:
    """Each request expires once, not before its deadline, in the order sent within one
    timeout value; whatever the number of requests, one timer per timeout value waits."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    due: dict[int, float] = {}
    expired: list[tuple[int, float]] = []
    owner = Owner(lambda request: expired.append((request, loop.time())))

    for request in (1, 2, 3):
        due[request] = loop.time() + 0.2
        deadlines.add(loop, 0.2, owner, request)
        await asyncio.sleep(0.02)
    due[4] = loop.time() + 0.1
    deadlines.add(loop, 0.1, owner, 4)
    assert len(deadlines._timers) == 2
    await asyncio.sleep(0.5)
    assert sorted(request for request, _ in expired) == [1, 2, 3, 4]
    assert [request for request, _ in expired if request != 4] == [1, 2, 3]
    assert all(at >= due[request] - 0.01 for request, at in expired)
    assert not deadlines._timers and not deadlines._queues


async def test_a_timer_from_another_loop_is_dropped() -> None:
    deadlines = Deadlines()
    fired: list[int] = []
    owner = Owner(fired.append)

    def other_loop() -> None:
        async def arm() -> None:
            deadlines.add(asyncio.get_running_loop(), 5.0, owner, 1)
        asyncio.run(arm())

    await asyncio.to_thread(other_loop)
    loop = asyncio.get_running_loop()
    deadlines.add(loop, 0.05, owner, 2)
    await asyncio.sleep(0.15)
    assert fired == [2]


async def test_an_answered_request_leaves_nothing_of_its_answer_behind() -> None:
    """The entry of an answered request waits for its deadline, but holds neither the
    request's future nor (through it) the answer: at 6,000 polls a second and a 5 s timeout
    that kept ~40 MB of answers alive (peak RSS in bench/snmp_poll.py)."""
    deadlines = Deadlines()
    stats = PacketStats()

    def handler(req: Request) -> list[bytes]:
        return [response(req, [(req.oids[0], 42)])]

    async with FakeAgent(handler) as agent:
        client = GufoClient(SnmpTarget("127.0.0.1", agent.port, CRED, 5.0, 0), stats,
                            deadlines=deadlines)
        async with client:
            assert await client.get([SYS_UPTIME]) == {SYS_UPTIME: 42}
    (queue,) = deadlines._queues.values()
    assert [(owner, request) for _, owner, request in queue] == [(client, 1)]
    assert not any(isinstance(o, asyncio.Future) for o in gc.get_referents(*queue))
