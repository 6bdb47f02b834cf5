"""InfluxDB v2 write requests, made in the writer's own threads.

The writer sends bytes of line protocol it has already built; all it needs is
``POST /api/v2/write?org=…&bucket=…&precision=ns`` with the token. Made on the event loop
(influxdb-client's async write API over aiohttp) a request is a chain of callbacks, and on
a saturated loop every one waits a turn: at 100,000 devices (turns of ~0.4 s) a 40,000-point
request took 7 turns through influxdb-client, 4 through aiohttp alone, and the writer fell
behind the fleet by loop turns, not bytes. Here each request is one blocking
:mod:`http.client` exchange in a worker thread (keep-alive connection per thread, the GIL
released while it waits on the socket): the loop sees one hand-off and one result, 2–3
turns whatever the request's size, and the request itself takes the time the server takes
(``bench/influx_write.py --sustain``).

Errors keep influxdb-client's shapes, which the writer sorts by: a refusal raises an
:class:`~influxdb_client.client.exceptions.InfluxDBError` with the HTTP ``status`` and
the server's ``message`` (the JSON body's ``message``, else the body, else the reason);
a connection problem raises :class:`OSError`, a timeout :class:`TimeoutError`
(``timeout`` seconds without progress on the socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from influxdb_client.client.exceptions import InfluxDBError

from pubnet.config import InfluxConfig


class WriteRefused(InfluxDBError):
    """InfluxDB answered a write with a status other than 2xx."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message=message)
        self.status = status


def _message(body: bytes, reason: str) -> str:
    text = body.decode("utf-8", errors="replace")
    if text:
        try:
            message = json.loads(text)["message"]
        except (ValueError, KeyError, TypeError):
            return text
        return str(message)
    return reason


class HttpSink:
    """Writes line protocol to ``config.url`` from up to ``threads`` worker threads at
    once (an async context manager: leaving it closes the connections, which also ends
    a request still waiting on a hanging server)."""

    def __init__(self, config: InfluxConfig, threads: int) -> None:
        url = urlsplit(config.url)
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port
        self._path = f"{url.path.rstrip('/')}/api/v2/write"
        self._headers = {"Authorization": f"Token {config.token.get_secret_value()}",
                         "Content-Type": "text/plain; charset=utf-8",
                         "Accept": "application/json"}
        self._timeout = config.timeout
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def __aenter__(self) -> HttpSink:
        if self._https:
            self._ssl = await asyncio.to_thread(ssl.create_default_context)
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="influx-http")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._pool is None:
            return
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            sock = conn.sock
            if sock is not None:  # wakes a thread blocked on a hanging server
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            conn.close()

    def write(self, bucket: str, org: str = "", record: Any = b"",
              write_precision: Any = "ns", **kwargs: Any) -> asyncio.Future[bool]:
        """POST ``record`` (bytes of line protocol) in a worker thread: a future, True once
        InfluxDB took it (a future, not a coroutine: awaiting it costs no task; cancelling
        it leaves the thread to finish or time out on its own).

        It raises :class:`WriteRefused` (an ``InfluxDBError``) on a non-2xx answer,
        :class:`OSError` when the server cannot be reached or drops the connection,
        :class:`TimeoutError` after ``timeout`` seconds without an answer."""
        assert self._pool is not None, "use HttpSink as an async context manager"
        precision = getattr(write_precision, "value", write_precision)
        query = urlencode({"org": org, "bucket": bucket, "precision": str(precision)})
        return asyncio.get_running_loop().run_in_executor(
            self._pool, self._post, f"{self._path}?{query}", bytes(record))

    def _post(self, target: str, body: bytes) -> bool:
        """One request on this thread's connection (a new one after any failure).

        A kept-alive connection that the server closed while it was idle fails at once
        (broken pipe, reset, closed without an answer): the request goes again, once, on
        a new connection, instead of InfluxDB being taken for down. Writes are idempotent
        (the same points at the same times), so a request that did arrive costs nothing
        twice. At 100,000 devices one such failure sent the writer to its disk buffer, which
        the saturated loop then never drained (bench/fleet.py)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        reused = conn is not None and not self._closed
        if conn is None or not reused:
            conn = self._connect()
        try:
            return self._exchange(conn, target, body)
        except (BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
        return self._exchange(self._connect(), target, body)

    def _exchange(self, conn: http.client.HTTPConnection, target: str, body: bytes) -> bool:
        try:
            conn.request("POST", target, body=body, headers=self._headers)
            resp = conn.getresponse()
            answer = resp.read()
        except (OSError, http.client.HTTPException):
            self._drop(conn)
            raise
        if resp.will_close:
            self._drop(conn)
        if resp.status // 100 == 2:
            return True
        raise WriteRefused(resp.status, _message(answer, resp.reason))

    def _connect(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                               context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        with self._lock:
            if self._closed:
                raise ConnectionAbortedError("influx writer stopped")
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
