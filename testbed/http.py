"""A small aiohttp application served on loopback: webhook receivers, calendars and fake
SaaS APIs in the tests, the webhook sink of the fleet benchmark.

One place, so that each of them does not set up and tear down its own ``AppRunner``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from pubnet.ports import free_port


@asynccontextmanager
async def serving(app: web.Application, port: int | None = None) -> AsyncIterator[int]:
    """Serve ``app`` on ``127.0.0.1:port`` (a free port when None) until the block ends;
    yields the port. No access log: the caller records what it was sent."""
    port = free_port() if port is None else port
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield port
    finally:
        await runner.cleanup()
