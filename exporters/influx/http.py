"""InfluxDB v2 write requests, made in the writer's own threads.

The writer sends bytes of line protocol it has already built; all it needs is
``POST /api/v2/write?org=…&bucket=…&precision=ns`` with the token. Made on the event loop
(influxdb-client's async write API over aiohttp) a request is a chain of callbacks, and on
a saturated loop every one waits a turn: at 100,000 devices (turns of ~0.4 s) a 40,000-point
request took 7 turns through influxdb-client, 4 through aiohttp alone, and the writer fell
behind the fleet by loop turns, not bytes. Here each request is one blocking
exchange in a worker thread (:class:`pubnet.threadpost.ThreadPoster`, a kept-alive
connection per thread, a write that meets a connection the server closed while idle sent
again once): the loop sees one hand-off and one result, 2–3 turns whatever the request's
size, and the request itself takes the time the server takes
(``bench/influx_write.py --sustain``).

Errors keep influxdb-client's shapes, which the writer sorts by: a refusal raises an
:class:`~influxdb_client.client.exceptions.InfluxDBError` with the HTTP ``status`` and
the server's ``message`` (the JSON body's ``message``, else the body, else the reason);
a connection problem raises :class:`OSError`, a timeout :class:`TimeoutError`
(``timeout`` seconds without progress on the socket).
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from influxdb_client.client.exceptions import InfluxDBError

from pubnet.config import InfluxConfig
from pubnet.threadpost import ThreadPoster


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
        self._url = f"{config.url.rstrip('/')}/api/v2/write"
        self._headers = {"Authorization": f"Token {config.token.get_secret_value()}",
                         "Content-Type": "text/plain; charset=utf-8",
                         "Accept": "application/json"}
        self._poster = ThreadPoster(config.timeout, "influx-http", threads=threads,
                                    keep_alive=True)

    async def __aenter__(self) -> HttpSink:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._poster.aclose()

    def write(self, bucket: str, org: str = "", record: Any = b"",
              write_precision: Any = "ns", **kwargs: Any) -> asyncio.Future[bool]:
        """POST ``record`` (bytes of line protocol) in a worker thread: a future, True once
        InfluxDB took it (a future, not a coroutine: awaiting it costs no task; cancelling
        it leaves the thread to finish or time out on its own).

        It raises :class:`WriteRefused` (an ``InfluxDBError``) on a non-2xx answer,
        :class:`OSError` when the server cannot be reached or drops the connection,
        :class:`TimeoutError` after ``timeout`` seconds without an answer."""
        precision = getattr(write_precision, "value", write_precision)
        query = urlencode({"org": org, "bucket": bucket, "precision": str(precision)})
        return self._poster.in_thread(self._post, f"{self._url}?{query}", bytes(record))

    def _post(self, url: str, body: bytes) -> bool:
        reply = self._poster.exchange(url, body, self._headers)
        if reply.status // 100 == 2:
            return True
        raise WriteRefused(reply.status, _message(reply.body, reply.reason))
