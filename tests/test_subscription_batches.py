"""How the store's consumers (alerting, the history recorder, the status page) take what
is queued: a storm as one lump, nothing on a quiet tick, the end once closed and drained.
(The rest of the state store is tested with the shell, tests/shell/test_state.py.)"""

from __future__ import annotations

import asyncio
import time

import pytest

from pubnet.catalog import PUBNET_DEVICE
from pubnet.model import Observation, Source
from pubnet.state import StateStore


def obs(value: float) -> Observation:
    return Observation(PUBNET_DEVICE, "pubnet_test_value", value, value, Source.INTERNAL)


async def test_get_all_takes_the_first_batch_and_all_behind_it() -> None:
    store = StateStore()
    with store.subscription("alerting") as sub:
        for value in range(5):
            store.publish([obs(value)])
        batches = await sub.get_all(1.0)
        assert [b.observations[0].value for b in batches] == [0, 1, 2, 3, 4]
        assert sub.pending == 0
        assert await sub.get_all(0.01) == []  # a quiet tick: nothing, no error


async def test_drain_never_waits_and_get_all_ends_once_closed() -> None:
    store = StateStore()
    sub = store.subscribe("history")
    assert sub.drain() == []
    store.publish([obs(1)])
    store.publish([obs(2)])
    assert len(sub.drain()) == 2 and sub.pending == 0
    store.publish([obs(3)])
    store.unsubscribe(sub)
    assert len(await sub.get_all(1.0)) == 1  # what was queued still comes out
    with pytest.raises(EOFError):
        await sub.get_all(1.0)


async def test_a_batch_that_comes_in_the_turn_the_wait_times_out_is_not_left_behind() -> None:
    """On a saturated loop the timeout and the batch often fall in one turn: the batch
    goes out with this call, not a tick later (alerting's detection-to-webhook latency)."""
    store = StateStore()
    loop = asyncio.get_running_loop()
    with store.subscription("alerting") as sub:
        waiting = asyncio.create_task(sub.get_all(0.05))
        await asyncio.sleep(0)  # it waits
        loop.call_later(0.06, store.publish, [obs(1)])  # due just after the timeout
        time.sleep(0.1)  # noqa: ASYNC251 (a busy turn: both are due at the next one)
        batches = await waiting
        assert [b.observations[0].value for b in batches] == [1]
