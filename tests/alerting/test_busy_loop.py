"""On a saturated event loop a technician waits loop turns, not work: at 100,000 devices a
turn is ~0.3 s (bench/alert_latency.py, bench/fleet.py). These count the turns between a
failed poll and the webhook, and between the messages of a burst on one channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.busyloop import BusyLoop, ThreadedWebhook
from tests.alerting.builders import poll_round
from tests.alerting.conftest import StartService, alerting_config
from tests.support import eventually

TURN = 0.2
"""Long enough that the threads' waits for the GIL (~5 ms each) stay well under a turn."""
GATEWAYS = ("S-1-gw", "S-2-gw", "S-3-gw", "S-4-gw")


@pytest.fixture
def busy() -> Iterator[BusyLoop]:
    """The loop made busy by the test (:meth:`BusyLoop.start`), at turns of :data:`TURN`
    unless the test sets another."""
    loop = BusyLoop(TURN)
    yield loop
    loop.stop()


@pytest.fixture
def webhook(busy: BusyLoop) -> Iterator[ThreadedWebhook]:
    """Each message stamped with the loop turn it arrived in."""
    with ThreadedWebhook(stamp=lambda: busy.turns) as hook:
        yield hook


def roots(hook: ThreadedWebhook) -> list[tuple[float, str]]:
    """(turn, root device) of each message received."""
    return [(turn, json.loads(body)["root_device"]) for turn, body in hook.arrivals()]


async def test_a_failed_poll_reaches_the_webhook_within_three_turns(
    tmp_path: Path, start_service: StartService, busy: BusyLoop, webhook: ThreadedWebhook,
) -> None:
    """The turn the poll failed in, one for it to reach alerting, one for the committed
    outbox row to reach the channel (the POST then leaves from the channel's thread). It
    took five: the cycle resumed after the save (two turns), then the channel's worker woke
    (one more)."""
    config = alerting_config(tmp_path, routes=[{"match": {}, "channels": ["noc"]}],
                             channels={"noc": {"type": "webhook", "url": webhook.url}},
                             down_after=1, group_wait="0s", tick="10s")
    run = await start_service(config)
    poll_round(run.store, ("da-5001", *GATEWAYS), True, 1000.0)
    await run.service.wait_cycle()
    busy.start()
    await asyncio.sleep(3 * TURN)
    before = busy.turns
    poll_round(run.store, ("S-3-gw",), False, 1001.0)
    await eventually(webhook.arrivals, what="the incident's webhook")
    turn, root = roots(webhook)[0]
    assert root == "S-3-gw"
    assert turn - before <= 3, turn - before


async def test_a_burst_on_one_channel_costs_two_turns_a_message(
    tmp_path: Path, start_service: StartService, busy: BusyLoop, webhook: ThreadedWebhook,
) -> None:
    """Messages go out one after another, in order: each waits for the one before to be
    accepted (the thread's answer: two turns), not also for its delivery to be written to
    the database (two more turns each, before)."""
    config = alerting_config(tmp_path, routes=[{"match": {}, "channels": ["noc"]}],
                             channels={"noc": {"type": "webhook", "url": webhook.url}},
                             down_after=1, group_wait="0s", tick="10s")
    run = await start_service(config)
    poll_round(run.store, ("da-5001", "da-5002", *GATEWAYS), True, 1000.0)
    await run.service.wait_cycle()
    busy.turn = TURN / 2
    busy.start()
    await asyncio.sleep(TURN)
    poll_round(run.store, GATEWAYS, False, 1001.0)
    await eventually(lambda: len(webhook.arrivals()) == len(GATEWAYS), within=30,
                     what="one message per gateway")
    busy.stop()
    arrivals = roots(webhook)
    assert sorted(root for _, root in arrivals) == sorted(GATEWAYS)
    first, last = arrivals[0][0], arrivals[-1][0]
    assert (last - first) / (len(GATEWAYS) - 1) <= 2.5, arrivals
    delivery = run.service.delivery
    assert delivery is not None
    await eventually(lambda: delivery.stats["noc"].delivered == len(GATEWAYS),
                     what="every delivery written")
