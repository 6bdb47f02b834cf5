"""The technician's phone: alerting's webhooks land in this process, so the demo can show
the Thai and English messages as they are received and prove that each one carries a valid
``X-Pubnet-Signature`` HMAC (a message with a bad one is counted, never shown)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from pubnet.app.demo.deadlines import deadline


@dataclass(frozen=True, slots=True)
class Received:
    channel: str
    payload: dict[str, Any]
    at: float


class Inbox:
    """Receives alerting's webhooks (checking their signature against ``secret``) on a free
    loopback port."""

    def __init__(self, secret: str) -> None:
        self.messages: list[Received] = []
        self.rejected = 0
        self.url = ""
        self._secret = secret.encode()
        self._arrived = asyncio.Event()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Inbox]:
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/{channel}", self._receive)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            await web.SockSite(runner, sock).start()  # the server owns the socket from here
            yield self
        except OSError:
            sock.close()
            raise
        finally:
            await runner.cleanup()

    async def _receive(self, request: Any) -> Any:
        from aiohttp import web

        from alerting.channels import SIGNATURE_HEADER, verify_signature

        body = await request.read()
        if not verify_signature(self._secret, body, request.headers.get(SIGNATURE_HEADER)):
            self.rejected += 1
            return web.Response(status=401, text="bad signature")
        self.messages.append(Received(request.match_info["channel"], json.loads(body),
                                      time.monotonic()))
        self._arrived.set()
        return web.Response(text="ok")

    async def wait_for(self, wanted: Callable[[Received], bool], seconds: float,
                       what: str) -> Received:
        """The first message ``wanted`` accepts; raises ExpectationFailed after ``seconds``
        seconds."""
        async with deadline(seconds, what):
            while True:
                for message in self.messages:
                    if wanted(message):
                        return message
                self._arrived.clear()
                await self._arrived.wait()
