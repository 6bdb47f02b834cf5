"""HTTP POSTs made in a worker thread, for components whose event loop may be saturated.

On the event loop an aiohttp request is a chain of callbacks (connect, write, headers,
body), and on a saturated loop each one waits a turn: at 100,000 devices (turns of
~0.35 s) a technician's webhook POST took ~8 turns, ~3 s (bench/alert_latency.py). Here the
request is one blocking :mod:`http.client` exchange in a thread of the poster's own (the
GIL released while it waits on the socket): the loop sees one hand-off and one result, two
turns whatever the server does.

Each POST opens a connection of its own and closes it: alert messages are minutes apart,
and a kept-alive connection would usually meet a server that closed it while idle. A
connection problem raises :class:`OSError` (or :class:`http.client.HTTPException` for a
garbled answer), ``timeout`` seconds without progress on the socket :class:`TimeoutError`.
:meth:`ThreadPoster.aclose` shuts the socket of a request still waiting on a hanging
server, so that a stop does not wait out its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]
    """The answer's headers by lower-case name (the last of a repeated one)."""


class ThreadPoster:
    """POSTs one request at a time from a worker thread of its own (see the module
    docstring); ``name`` names the thread."""

    def __init__(self, timeout: float, name: str) -> None:
        self._timeout = timeout
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._open: http.client.HTTPConnection | None = None
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        if self._closed:
            raise ConnectionAbortedError("poster closed")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._post, url, body, dict(headers))

    async def aclose(self) -> None:
        """Stop: a request waiting on a hanging server ends at once with an OSError."""
        with self._lock:
            self._closed = True
            conn, self._open = self._open, None
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(parts.scheme, parts.hostname or "", parts.port)
        headers.setdefault("Connection", "close")
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            return Reply(response.status, answer,
                         {name.lower(): value for name, value in response.getheaders()})
        finally:
            with self._lock:
                if self._open is conn:
                    self._open = None
            conn.close()

    def _connection(self, scheme: str, host: str, port: int | None
                    ) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()  # in the thread: it reads CA files
            conn = http.client.HTTPSConnection(host, port, timeout=self._timeout,
                                               context=self._tls)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        with self._lock:
            if self._closed:
                raise ConnectionAbortedError("poster closed")
            self._open = conn
        return conn
