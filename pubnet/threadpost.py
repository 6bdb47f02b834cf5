"""HTTP POSTs made in worker threads, for components whose event loop may be saturated.

On the event loop an aiohttp request is a chain of callbacks (connect, write, headers,
body), and on a saturated loop each one waits a turn: at 100,000 devices (turns of
~0.35 s) a technician's webhook POST took ~8 turns, ~3 s (bench/alert_latency.py), and a
40,000-point Influx write 4–7. Here a request is one blocking :mod:`http.client` exchange
in a thread of the poster's own (the GIL released while it waits on the socket): the loop
sees one hand-off and one result, two turns whatever the server does.

Two ways to hold connections, one per user:

- one connection per request, closed after (``keep_alive=False``, the alert channels):
  messages are minutes apart, and a kept-alive connection would usually meet a server
  that closed it while idle;
- a kept-alive connection per thread (``keep_alive=True``, the Influx writer's steady
  stream of writes). One that the server closed while it was idle fails at once (broken
  pipe, reset, closed without an answer), and the request goes again, once, on a new
  connection: only idempotent requests belong here. At 100,000 devices one such failure,
  taken for InfluxDB being down, sent the writer to its disk buffer for good
  (bench/fleet.py).

A connection problem raises :class:`OSError` (or :class:`http.client.HTTPException` for a
garbled answer), ``timeout`` seconds without progress on the socket :class:`TimeoutError`.
:meth:`ThreadPoster.aclose` shuts the sockets of requests still waiting on a hanging
server, so that a stop does not wait out their timeout; requests after it raise
:class:`ConnectionAbortedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

_Origin = tuple[str, str, int | None]
"""(scheme, host, port): what a kept-alive connection may be reused for."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]
    """The answer's headers by lower-case name (the last of a repeated one)."""
    reason: str = ""
    """The status line's reason phrase (Influx errors fall back to it)."""


class ThreadPoster:
    """POSTs from up to ``threads`` worker threads of its own (see the module docstring);
    ``name`` names the threads. An async context manager, or call :meth:`aclose`."""

    def __init__(self, timeout: float, name: str, *, threads: int = 1,
                 keep_alive: bool = False) -> None:
        self._timeout = timeout
        self._name = name
        self._threads = threads
        self._keep_alive = keep_alive
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()
        self._local = threading.local()
        """A thread's kept-alive connection and its origin."""
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    async def __aenter__(self) -> ThreadPoster:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        return await self.in_thread(self.exchange, url, body, headers)

    def in_thread(self, call: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """``call(*args)`` in one of the poster's threads, where it may use
        :meth:`exchange` (and turn the reply into what its caller wants): a future, not
        a coroutine, so that awaiting it costs no task. Cancelling it leaves the thread
        to finish or time out on its own. After :meth:`aclose` the future fails with
        :class:`ConnectionAbortedError`."""
        loop = asyncio.get_running_loop()
        if self._closed:
            closed: asyncio.Future[T] = loop.create_future()
            closed.set_exception(ConnectionAbortedError("poster closed"))
            return closed
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix=self._name)
        return loop.run_in_executor(self._pool, call, *args)

    async def aclose(self) -> None:
        """Stop: requests waiting on a hanging server end at once with an OSError."""
        with self._lock:
            self._closed = True
            connections, self._open = self._open, set()
        for conn in connections:
            if conn.sock is not None:  # wakes a thread blocked on a hanging server
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def exchange(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """One POST, blocking: call it in the poster's threads only (:meth:`in_thread`)."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        origin = (parts.scheme, parts.hostname or "", parts.port)
        if not self._keep_alive:
            conn = self._connect(origin)
            try:
                return self._request(conn, target, body, {**headers, "Connection": "close"})
            finally:
                self._drop(conn)
        kept: tuple[_Origin, http.client.HTTPConnection] | None = getattr(
            self._local, "kept", None)
        if kept is not None and kept[0] == origin and not self._closed:
            try:
                return self._kept(kept[1], target, body, headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed by the server while idle: once more on a new connection
        elif kept is not None:
            self._drop(kept[1])
        conn = self._connect(origin)
        self._local.kept = (origin, conn)
        return self._kept(conn, target, body, headers)

    def _kept(self, conn: http.client.HTTPConnection, target: str, body: bytes,
              headers: Mapping[str, str]) -> Reply:
        """A request on a kept-alive connection, dropped after a failure or when the
        server says it will close it."""
        try:
            reply = self._request(conn, target, body, headers)
        except (OSError, http.client.HTTPException):
            self._drop(conn)
            raise
        if conn.sock is None:  # the server said it closes it (http.client let it go)
            self._drop(conn)
        return reply

    @staticmethod
    def _request(conn: http.client.HTTPConnection, target: str, body: bytes,
                 headers: Mapping[str, str]) -> Reply:
        conn.request("POST", target, body=body, headers=dict(headers))
        response = conn.getresponse()
        answer = response.read()
        return Reply(response.status, answer,
                     {name.lower(): value for name, value in response.getheaders()},
                     response.reason)

    def _connect(self, origin: _Origin) -> http.client.HTTPConnection:
        scheme, host, port = origin
        conn: http.client.HTTPConnection
        if scheme == "https":
            with self._lock:
                if self._tls is None:  # in a thread: it reads the CA files
                    self._tls = ssl.create_default_context()
            conn = http.client.HTTPSConnection(host, port, timeout=self._timeout,
                                               context=self._tls)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        with self._lock:
            if self._closed:
                raise ConnectionAbortedError("poster closed")
            self._open.add(conn)
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        kept = getattr(self._local, "kept", None)
        if kept is not None and kept[1] is conn:
            self._local.kept = None
        with self._lock:
            self._open.discard(conn)
