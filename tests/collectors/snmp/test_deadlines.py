"""Request timeouts wait in one timer per timeout value, not one per request."""

from __future__ import annotations

import asyncio

from collectors.snmp.deadlines import Deadlines


async def test_requests_expire_in_order_with_one_timer_per_timeout() -> None:
    """Each request expires once, not before its deadline, in the order sent within one
    timeout value; whatever the number of requests, one timer per timeout value waits."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    due: dict[str, float] = {}
    expired: list[tuple[str, float]] = []

    def expire(token: object) -> None:
        expired.append((str(token), loop.time()))

    for name in ("a", "b", "c"):
        due[name] = loop.time() + 0.2
        deadlines.add(loop, 0.2, expire, name)
        await asyncio.sleep(0.02)
    due["short"] = loop.time() + 0.1
    deadlines.add(loop, 0.1, expire, "short")
    assert len(deadlines._timers) == 2
    await asyncio.sleep(0.5)
    assert sorted(name for name, _ in expired) == ["a", "b", "c", "short"]
    assert [name for name, _ in expired if name != "short"] == ["a", "b", "c"]
    assert all(at >= due[name] - 0.01 for name, at in expired)
    assert not deadlines._timers and not deadlines._queues


async def test_a_timer_from_another_loop_is_dropped() -> None:
    deadlines = Deadlines()
    fired: list[object] = []

    def other_loop() -> None:
        async def arm() -> None:
            deadlines.add(asyncio.get_running_loop(), 5.0, fired.append, "old")
        asyncio.run(arm())

    await asyncio.to_thread(other_loop)
    loop = asyncio.get_running_loop()
    deadlines.add(loop, 0.05, fired.append, "new")
    await asyncio.sleep(0.15)
    assert fired == ["new"]
