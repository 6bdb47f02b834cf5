"""Waiting for a device's answer with a deadline, where an answer read in the loop turn
its deadline passes still counts.

``asyncio.timeout`` (and ``wait_for``) cancel the waiting task when the deadline passes.
On a saturated event loop (turns of a second at national scale on a small server) an
answer that came back in time is often read in the very turn its deadline's timer runs:
the socket's reader resolves the future, then the timer cancels the task before it
resumes, and the answer is thrown away as a timeout. In ``bench/fleet.py`` at 100,000
devices that made ICMP-probed gateways "not answer" for a round, and technicians got
site-down and "power cut likely" incidents that resolved a minute later. The event loop
runs a turn's I/O callbacks before its timers, so a deadline that fails the future only
while it is still pending lets such an answer win. SNMP requests already wait so
(:mod:`collectors.snmp.deadlines`).
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


def _expire(future: asyncio.Future[T]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def answer_within(future: asyncio.Future[T], wait: float) -> T:
    """``future``'s result, or :class:`TimeoutError` when it is still pending ``wait``
    seconds from now. Cancelling the waiting task cancels ``future`` too (and a stop that
    meets the answer in one turn still stops the task)."""
    timer = future.get_loop().call_later(wait, _expire, future)
    try:
        return await future
    finally:
        timer.cancel()
