"""An aiosmtpd server on loopback that closes its sessions before it stops.

aiosmtpd's ``Controller.stop()`` stops its thread's loop and closes it without closing the
sessions still open. A test sees its message at DATA, before the client's QUIT has been
answered, so a session can still be open when the test's fixture stops the server; after
STARTTLS its socket transport is then never closed, and the garbage collector reports it
(a ``ResourceWarning``, an error under the suite's ``filterwarnings``) in whichever later
test happens to collect it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

QUIT_GRACE = 2.0
"""Seconds a session still open at the stop gets to finish its QUIT before it is aborted."""


class _Session(SMTP):
    """aiosmtpd's session, telling its controller when its connection is gone."""

    def __init__(self, controller: _ClosingController, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._controller = controller

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._controller.open.add(self)
        super().connection_made(transport)

    def abort(self) -> None:
        """Drop the connection now. Not ``close()``: closing a TLS session waits for the
        client's close_notify, which a client that has gone away never sends. The socket
        is the original transport's once STARTTLS has begun, and a handshake that never
        finished never tells this session that its connection is lost."""
        for transport in (self.transport, self._original_transport):
            if transport is not None:
                transport.abort()  # type: ignore[attr-defined]

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._controller.open.discard(self)
        if not self._controller.open:
            self._controller.all_closed.set()


class _ClosingController(Controller):
    """Knows its open sessions, so that :meth:`stop` can end them first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open: set[_Session] = set()
        self.all_closed = asyncio.Event()

    def factory(self) -> SMTP:
        return _Session(self, self.handler, **self.SMTP_kwargs)

    async def _end_sessions(self) -> None:
        if not self.open:
            return
        self.all_closed.clear()
        try:
            await asyncio.wait_for(self.all_closed.wait(), QUIT_GRACE)
        except TimeoutError:
            for session in list(self.open):
                session.abort()
            # Each abort closes its socket in a callback of the loop's next turn.
            await asyncio.sleep(0.1)

    def stop(self, no_assert: bool = False) -> None:
        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._end_sessions(), self.loop).result(
                timeout=QUIT_GRACE + 10)
        super().stop(no_assert)


@contextmanager
def serve_smtp(handler: Any, port: int, **options: Any) -> Iterator[None]:
    """Serve ``handler`` (aiosmtpd's handler hooks) on ``127.0.0.1:port`` until the block
    ends; ``options`` are :class:`aiosmtpd.controller.Controller`'s (``tls_context``,
    ``authenticator``, ...)."""
    controller = _ClosingController(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield
    finally:
        controller.stop()

