"""On a saturated event loop a technician waits loop turns, not work: at 100,000 devices a
turn is ~0.3 s (bench/alert_latency.py, bench/fleet.py). These count the turns between a
failed poll and the webhook, and between the messages of a burst on one channel."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.alerting.builders import poll_round
from tests.alerting.conftest import StartService, alerting_config
from tests.support import eventually

TURN = 0.2
"""Long enough that the threads' waits for the GIL (~5 ms each) stay well under a turn."""
GATEWAYS = ("S-1-gw", "S-2-gw", "S-3-gw", "S-4-gw")


class Webhook:
    """A webhook in a thread of its own, so that the busy loop does not slow it down:
    records the loop turn each message arrived in."""

    def __init__(self, turns: list[int]) -> None:
        self.arrivals: list[tuple[int, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.arrivals.append((turns[0], str(body["root_device"])))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


class Spinner:
    """Keeps every turn of the running loop at least ``turn`` seconds long and counts
    them."""

    def __init__(self) -> None:
        self.turns = [0]
        self.turn = TURN
        self._on = False

    def start(self, turn: float = TURN) -> None:
        self.turn = turn
        self._on = True
        asyncio.get_running_loop().call_soon(self._spin)

    def stop(self) -> None:
        self._on = False

    def _spin(self) -> None:
        if not self._on:
            return
        self.turns[0] += 1
        until = time.perf_counter() + self.turn
        while time.perf_counter() < until:
            pass
        asyncio.get_running_loop().call_soon(self._spin)


@pytest.fixture
def spinner() -> Iterator[Spinner]:
    spin = Spinner()
    yield spin
    spin.stop()


@pytest.fixture
def webhook(spinner: Spinner) -> Iterator[Webhook]:
    hook = Webhook(spinner.turns)
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


async def test_a_failed_poll_reaches_the_webhook_within_three_turns(
    tmp_path: Path, start_service: StartService, spinner: Spinner, webhook: Webhook,
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
    spinner.start()
    await asyncio.sleep(3 * TURN)
    before = spinner.turns[0]
    poll_round(run.store, ("S-3-gw",), False, 1001.0)
    await eventually(lambda: webhook.arrivals, what="the incident's webhook")
    turn, root = webhook.arrivals[0]
    assert root == "S-3-gw"
    assert turn - before <= 3, turn - before


async def test_a_burst_on_one_channel_costs_two_turns_a_message(
    tmp_path: Path, start_service: StartService, spinner: Spinner, webhook: Webhook,
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
    spinner.start(TURN / 2)
    await asyncio.sleep(TURN)
    poll_round(run.store, GATEWAYS, False, 1001.0)
    await eventually(lambda: len(webhook.arrivals) == len(GATEWAYS), within=30,
                     what="one message per gateway")
    spinner.stop()
    assert sorted(root for _, root in webhook.arrivals) == sorted(GATEWAYS)
    first, last = webhook.arrivals[0][0], webhook.arrivals[-1][0]
    assert (last - first) / (len(GATEWAYS) - 1) <= 2.5, webhook.arrivals
    delivery = run.service.delivery
    assert delivery is not None
    await eventually(lambda: delivery.stats["noc"].delivered == len(GATEWAYS),
                     what="every delivery written")
