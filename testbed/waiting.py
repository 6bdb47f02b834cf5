"""Waiting for something a server or a component does in its own time.

A test or a benchmark that sleeps a fixed time is either slow or flaky; polling a condition
with a deadline is neither, and a timeout names what never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(condition: Callable[[], object], within: float = 20.0,
                     what: str = "condition") -> None:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.01)
