"""The HTTP listener's own accept loop: a cap on connections, deadlines, quiet errors.

Why not aiohttp's ``TCPSite``: it hands accepting to asyncio's server, which accepts as long
as the process has descriptors, keeps a connection that sent half a request for as long as
the client likes (before any auth check), and, out of descriptors, reports
``socket.accept() out of system resource`` through the loop's exception handler at every
retry: 900 half-open connections under a 1,024-descriptor limit made 480,511 such lines and
devices went falsely down (issue 10). Here:

- at most ``max_connections`` connections are held (the file-descriptor budget may lower it,
  pubnet/fdbudget.py); one more is answered ``503`` and closed at once (plain HTTP) or
  just closed (TLS), so a flood costs one descriptor for an instant per attempt;
- a request's head must be complete ``header_timeout`` seconds after the connection opened
  or after the first byte of a request on a kept-alive connection (a TLS handshake gets as
  long again); from a complete head to the last byte of the response: ``request_timeout``;
  a kept-alive connection idle for ``idle_timeout`` is closed;
- a failed ``accept()`` is counted and logged once per cause (errno), then accepting pauses
  (0.1 s doubling to 1 s) instead of spinning;
- a connection closed for a reason is counted under that reason, each reason logged once.

The HTTP stays aiohttp's: each accepted socket is handed to aiohttp's protocol through
:class:`_Guarded`, which only watches the phases of the connection; the app's
:func:`guard_middleware` tells it when a request starts and when its response is sent.
What a request's bytes wake runs ahead of the loop's other callbacks
(:mod:`pubnet.app.fastlane`), so that a saturated loop answers within a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum, auto

from aiohttp import web
from aiohttp.typedefs import Middleware

from pubnet.app.fastlane import FastLane
from pubnet.backoff import backoff
from pubnet.httpbody import body_limit
from pubnet.httpstats import ListenerStats

log = logging.getLogger("pubnet.http")

ACCEPT_PAUSE_MIN = 0.1
ACCEPT_PAUSE_MAX = 1.0
BACKLOG = 512
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n"
           b"Retry-After: 1\r\n\r\n")
"""Sent to a connection over the cap (plain HTTP only) before closing it."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Phase(Enum):
    HEAD = auto()
    """Waiting for a complete request head."""
    HANDLING = auto()
    """A request is being answered."""
    IDLE = auto()
    """Kept alive between requests."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int
    header_timeout: float
    request_timeout: float
    idle_timeout: float


_QUIET = frozenset({"idle_timeout"})
"""Reasons that are routine (counted, never logged)."""


class Listener:
    """Accepts connections for a protocol factory (aiohttp's server) within ``limits``."""

    def __init__(self, limits: Limits, ssl_context: ssl.SSLContext | None = None,
                 stats: ListenerStats | None = None) -> None:
        self._factory: Callable[[], asyncio.Protocol] | None = None
        self.limits = limits
        self._ssl = ssl_context
        self.stats = stats if stats is not None else ListenerStats()
        self.stats.limit = limits.max_connections
        self._connections: dict[asyncio.BaseTransport, _Guarded] = {}
        self._starting: set[asyncio.Task[None]] = set()
        self._logged: set[str] = set()
        self.lane: FastLane | None = None
        """The loop's fast lane while serving (:meth:`serve`)."""

    # -- accepting ---------------------------------------------------------------------------

    async def serve(self, sockets: Sequence[socket.socket],
                    protocol_factory: Callable[[], asyncio.Protocol]) -> None:
        """Accept on every listening socket until cancelled; each connection is spoken to by
        a protocol from ``protocol_factory``."""
        self._factory = protocol_factory
        self.lane = FastLane(asyncio.get_running_loop())
        try:
            with self.lane.installed():
                async with asyncio.TaskGroup() as group:
                    for sock in sockets:
                        group.create_task(self._accept_forever(sock),
                                          name=f"http-accept-{sock.fileno()}")
        finally:
            self.lane = None
            for task in list(self._starting):
                task.cancel()

    async def _accept_forever(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except ConnectionAbortedError:
                continue  # the client gave up before we accepted: nothing to do
            except OSError as exc:
                name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
                self.stats.accept_errors[name] = self.stats.accept_errors.get(name, 0) + 1
                self._log_once(f"accept-{name}", "http listener cannot accept connections; "
                               "retrying, counted in pubnet_exporter_accept_errors_total",
                               error=name, detail=exc.strerror)
                failures += 1
                await asyncio.sleep(backoff(failures, initial=ACCEPT_PAUSE_MIN,
                                            cap=ACCEPT_PAUSE_MAX, spread=0.0))
                continue
            failures = 0
            if self.stats.open >= self.stats.limit:
                self._refuse(conn)
                continue
            self.stats.open += 1
            self.stats.accepted += 1
            with self.ahead():  # the connection is set up in this turn
                task = asyncio.create_task(self._start(conn, peer))
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    def ahead(self) -> contextlib.AbstractContextManager[None]:
        """What is scheduled inside runs ahead of the loop's other callbacks."""
        return self.lane.ahead() if self.lane is not None else contextlib.nullcontext()

    def _refuse(self, conn: socket.socket) -> None:
        self.closed("limit", "http listener at its connection cap, refusing new connections",
                    max_connections=self.stats.limit)
        if self._ssl is None:
            with contextlib.suppress(OSError):
                conn.send(REFUSAL)
        conn.close()

    async def _start(self, conn: socket.socket, peer: object) -> None:
        """Hand the socket to aiohttp (after the TLS handshake, when there is one)."""
        loop = asyncio.get_running_loop()
        slot = _Slot(self.stats)
        factory = self._factory
        assert factory is not None
        try:
            await loop.connect_accepted_socket(
                lambda: _Guarded(self, factory(), slot, peer), conn, ssl=self._ssl,
                ssl_handshake_timeout=self.limits.header_timeout if self._ssl else None)
        except asyncio.CancelledError:
            conn.close()
            slot.release()
            raise
        except OSError as exc:  # ssl.SSLError, a reset, a handshake timeout
            conn.close()
            slot.release()
            self.closed("tls_handshake" if self._ssl else "setup",
                        "http connection failed before its first request", peer=_peer(peer),
                        error=type(exc).__name__)

    # -- bookkeeping ---------------------------------------------------------------------------

    def connection(self, transport: asyncio.BaseTransport | None) -> _Guarded | None:
        return self._connections.get(transport) if transport is not None else None

    def closed(self, reason: str, message: str, **fields: object) -> None:
        """Count a connection pubnet closed; log the first of each reason (``fields`` are
        the log line's)."""
        self.stats.closed[reason] = self.stats.closed.get(reason, 0) + 1
        if reason not in _QUIET:
            self._log_once(reason, message + " (each such connection is counted in "
                           "pubnet_exporter_connections_closed_total by reason; logged once)",
                           reason=reason, **fields)

    def _log_once(self, key: str, message: str, **fields: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning(message, extra=fields)


class _Slot:
    """One held connection; released exactly once however the connection ends."""

    __slots__ = ("_held", "_stats")

    def __init__(self, stats: ListenerStats) -> None:
        self._stats = stats
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._stats.open -= 1


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a deadline for each phase."""

    def __init__(self, listener: Listener, inner: asyncio.Protocol, slot: _Slot,
                 peer: object) -> None:
        self._listener = listener
        self._inner = inner
        self._slot = slot
        self._peer = peer
        self._transport: asyncio.BaseTransport | None = None
        self._phase = Phase.HEAD
        self._timer: asyncio.TimerHandle | None = None
        self._fd: int | None = None

    # -- asyncio.Protocol, forwarded -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._listener._connections[transport] = self
        self._fd = _fileno(transport)
        lane = self._listener.lane
        if lane is not None and self._fd is not None:
            lane.read_first(self._fd)  # a request's bytes are read first in their turn
        self._enter(Phase.HEAD)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._phase is Phase.IDLE:
            self._enter(Phase.HEAD)  # the next request's first bytes
        with self._listener.ahead():  # aiohttp's task reads the request in this turn
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._listener._connections.pop(self._transport, None)
        lane = self._listener.lane
        if lane is not None and self._fd is not None:
            lane.release(self._fd)  # before asyncio closes it: the number is reused
        self._slot.release()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- phases ----------------------------------------------------------------------------------

    def request_started(self) -> None:
        self._enter(Phase.HANDLING)

    def response_sent(self) -> None:
        self._enter(Phase.IDLE)

    def _enter(self, phase: Phase) -> None:
        self._phase = phase
        if self._timer is not None:
            self._timer.cancel()
        limits = self._listener.limits
        timeout = {Phase.HEAD: limits.header_timeout, Phase.HANDLING: limits.request_timeout,
                   Phase.IDLE: limits.idle_timeout}[phase]
        self._timer = asyncio.get_running_loop().call_later(timeout, self._expire, phase)

    def _expire(self, phase: Phase) -> None:
        self._timer = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if phase is Phase.IDLE:
            self._listener.closed("idle_timeout", "")
            transport.close()
            return
        reason, limit = (("header_timeout", self._listener.limits.header_timeout)
                         if phase is Phase.HEAD else
                         ("request_timeout", self._listener.limits.request_timeout))
        self._listener.closed(reason, "http connection closed: its time limit passed",
                              seconds=limit, peer=_peer(self._peer))
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()  # frees the descriptor now, no lingering FIN handshake
        else:
            transport.close()


def guard_middleware(listener: Listener) -> Middleware:
    """Marks a connection's request as started and its response as sent; refuses request
    bodies (an unread body is a slow client's foothold) except, up to their limit and with
    a Content-Length, on the routes marked :func:`pubnet.httpbody.accepts_body`."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = listener.connection(request.transport)
        if conn is not None:
            conn.request_started()
        limit = body_limit(request.match_info.handler)
        length = request.content_length
        if request.body_exists and (not limit or length is None or length > limit):
            listener.closed("request_body", "http request with a body refused",
                            peer=request.remote)
            response: web.StreamResponse = web.Response(status=413,
                                                        text="no request body expected\n")
            response.force_close()
        else:
            try:
                response = await handler(request)
            except Exception:
                if conn is not None:
                    conn.response_sent()  # aiohttp writes the (small) error response
                raise
        if conn is not None:
            await response.prepare(request)
            await response.write_eof()
            conn.response_sent()
        return response

    return guard


async def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for ``host:port`` (every address a name resolves to; the first
    only for port 0, so that one port is picked). Raises OSError."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    seen: set[tuple[int, object]] = set()
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and len(infos) > 1:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.setblocking(False)
            if port == 0:
                break
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _fileno(transport: asyncio.BaseTransport) -> int | None:
    sock = transport.get_extra_info("socket")
    try:
        return sock.fileno() if sock is not None else None
    except OSError:
        return None


def _peer(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
