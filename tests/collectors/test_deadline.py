"""An answer that comes due in the same loop turn as its deadline counts, and a stop still
stops (collectors/deadline.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from collectors.deadline import answer_within


async def test_an_answer_in_the_turn_its_deadline_passes_wins() -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    waiting = asyncio.create_task(answer_within(answer, 0.05))
    await asyncio.sleep(0)  # armed
    # the answer's callback comes due just before the deadline; the loop is busy past
    # both, so they run in one turn: the answer first (as a socket's reader runs before
    # the turn's timers), the deadline after it, the waiting task in the next turn
    loop.call_at(loop.time() + 0.04, answer.set_result, "pong")
    time.sleep(0.1)  # noqa: ASYNC251 (a busy turn: both are due at the next one)
    assert await waiting == "pong"


async def test_no_answer_is_a_timeout() -> None:
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        await answer_within(answer, 0.05)
    assert 0.04 < time.perf_counter() - started < 1.0


async def test_a_stop_that_meets_the_answer_stops() -> None:
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(answer_within(answer, 5.0))
    await asyncio.sleep(0)
    answer.set_result("pong")  # the answer and the stop, in one turn
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_stop_cancels_the_answer_awaited() -> None:
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(answer_within(answer, 5.0))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert answer.cancelled()
