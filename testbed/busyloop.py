"""A saturated event loop, made on purpose, and a webhook it cannot hold up.

At 100,000 devices every turn of ``pubnet run``'s loop takes ~0.1-0.4 s, and whatever
waits on the loop (an alert, a scrape, a POST's answer) costs turns, not work. A
:class:`BusyLoop` spins for ``turn`` seconds in one callback that schedules itself again,
so that each turn of the running loop lasts at least that long, and counts the turns: a
measurement in turns does not depend on the machine's speed. What such a loop sends out is
received by a :class:`ThreadedWebhook`, whose threads it does not delay.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BusyLoop:
    """Keeps the running loop's turns at least ``turn`` seconds long and counts them in
    :attr:`turns` (readable from other threads)."""

    def __init__(self, turn: float) -> None:
        self.turn = turn
        self.turns = 0
        self._stopped = True

    def start(self) -> None:
        self._stopped = False
        asyncio.get_running_loop().call_soon(self._spin)

    def stop(self) -> None:
        self._stopped = True

    def _spin(self) -> None:
        if self._stopped:
            return
        self.turns += 1
        until = time.perf_counter() + self.turn
        while time.perf_counter() < until:
            pass
        asyncio.get_running_loop().call_soon(self._spin)


class ThreadedWebhook:
    """A webhook served from threads of its own, so that a busy loop does not delay it:
    every POST's body is recorded with ``stamp()`` at its arrival (a clock, or a
    :class:`BusyLoop`'s turn count). ``with ThreadedWebhook() as hook:`` serves on a free
    loopback port, at :attr:`url`."""

    def __init__(self, stamp: Callable[[], float] = time.monotonic) -> None:
        self.received: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8", "replace")
                with hook._lock:
                    hook.received.append((stamp(), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> ThreadedWebhook:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def arrivals(self) -> list[tuple[float, str]]:
        """(stamp, body) of each POST so far, in the order they came."""
        with self._lock:
            return list(self.received)

    def first_after(self, since: float, text: str) -> float | None:
        """The stamp of the first POST stamped ``since`` or later whose body has ``text``."""
        return next((t for t, body in self.arrivals() if t >= since and text in body), None)
