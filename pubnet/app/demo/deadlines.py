"""Waiting with a deadline: every step of the demo waits for something it expects, and a
wait that runs out becomes an ``ExpectationFailed`` naming what never came, which is what
makes the demo exit 1 and so double as a smoke test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pubnet.state import StateStore


class ExpectationFailed(Exception):
    """A step of the scenario did not see what it expected before its deadline."""


@contextlib.asynccontextmanager
async def deadline(seconds: float, what: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise ExpectationFailed(f"no {what} within {seconds:.0f} s") from None


async def until_store(store: StateStore, check: Callable[[], bool], seconds: float,
                      what: str, metrics: frozenset[str] = frozenset()) -> None:
    """Wait until ``check()`` holds, re-checking whenever the store publishes a status change
    (or an observation of ``metrics``); raises ExpectationFailed after ``seconds`` s."""
    with store.subscription("demo", metrics=metrics) as changes:
        async with deadline(seconds, what):
            while not check():
                await changes.get()
