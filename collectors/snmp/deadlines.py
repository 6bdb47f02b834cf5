"""Request timeouts of one poller in one event-loop timer per timeout value.

Every SNMP request used to arm its own ``loop.call_later`` and cancel it when the answer
came: a ``TimerHandle``, a push onto the event loop's heap (whose comparisons are Python
calls, ``TimerHandle.__lt__``, about a dozen per push with thousands of requests in
flight) and a cancellation, ~4 % of a GET poll's samples (py-spy over
``bench/snmp_poll.py``). Requests with the same timeout expire in the order they were
sent, so a first-in first-out queue per timeout value holds their deadlines and one timer
waits for the oldest. An answered request's entry stays in the queue until its deadline
passes and is skipped then: the client's :meth:`Expiring.expire` ignores a request that
is no longer awaited. An entry names the request by the client and a number, not by its
future, so that an answer is not kept alive (a future holds its result) until then.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol


class Expiring(Protocol):
    """What a deadline belongs to: a client, told which of its requests ran out of time."""

    def expire(self, request: int) -> None: ...


class Deadlines:
    """Deadlines of requests sent from one event loop (see the module docstring)."""

    __slots__ = ("_loop", "_queues", "_timers")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: dict[float, deque[tuple[float, Expiring, int]]] = {}
        self._timers: dict[float, asyncio.TimerHandle] = {}

    def add(self, loop: asyncio.AbstractEventLoop, timeout: float, owner: Expiring,
            request: int) -> None:
        """Call ``owner.expire(request)`` ``timeout`` seconds from now (unless the loop
        stops)."""
        if loop is not self._loop:
            self._forget()  # another loop (a test's): its timers are useless here
            self._loop = loop
        deadline = loop.time() + timeout
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
        queue.append((deadline, owner, request))
        if timeout not in self._timers:
            self._timers[timeout] = loop.call_at(deadline, self._fire, timeout)

    def _fire(self, timeout: float) -> None:
        loop = self._loop
        queue = self._queues.get(timeout)
        del self._timers[timeout]
        if loop is None or queue is None:
            return
        now = loop.time()
        while queue and queue[0][0] <= now:
            _, owner, request = queue.popleft()
            owner.expire(request)
        if queue:
            self._timers[timeout] = loop.call_at(queue[0][0], self._fire, timeout)
        else:
            del self._queues[timeout]

    def _forget(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._queues.clear()
