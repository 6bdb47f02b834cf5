"""``/metrics`` as a part of pubnet's one HTTP listener, and the work that keeps it fast.

The exporter does not own a server: the shell's listener (:mod:`pubnet.app.web`) serves the
route this module contributes, with its connection limits, TLS and basic auth.
``/metrics`` negotiates the format (OpenMetrics when the ``Accept`` header asks for
``application/openmetrics-text``, the Prometheus text format 0.0.4 otherwise) and gzip
(``Accept-Encoding: gzip``). One lock serialises scrapes: a second scraper arriving during a
scrape waits and then reuses what the first one rendered.

On a saturated event loop (100,000 devices' polls: turns of ~0.3 s) every await of a scrape
costs a turn, and a 50 MB body written through the loop's transport goes out one socket
buffer (~4 MB) a turn: scrapes took 6 s. So a scrape there takes no turn of its own: it
takes the compressed pieces as the background render left them (:meth:`FleetExposition.
pieces`; seconds old, as a scrape out of time served them before), its head goes out on the
loop with the body's length, and a worker thread writes the pieces to the socket itself,
unjoined (:func:`send_body`). It does the same where the background render of a couple of
seconds' changes outlasts a scrape's render budget (:meth:`MetricsService.loop_saturated`).
On a loop with short turns and little to render a scrape renders and compresses what
changed first, as before; its body is written by a worker thread too.

The ``prometheus`` component keeps the background work in its own TaskGroup: devices that
changed are rendered between scrapes, and every poll's duration is counted into
``pubnet_poll_duration_seconds`` from a state-store subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from exporters.prometheus import gzipper
from exporters.prometheus.exposition import FleetExposition, Format
from exporters.prometheus.health import POLL_DURATION_SOURCE, HealthCollector
from inventory.model import Inventory
from pubnet.catalog import PUBNET_DEVICE
from pubnet.derive import Derivation
from pubnet.httpstats import HttpStats
from pubnet.state import StateStore, Subscription

OPENMETRICS_EOF = b"# EOF\n"
PRERENDER_INTERVAL = 2.0
"""Seconds between background renders of devices that changed."""
SCRAPE_RENDER_BUDGET = 0.25
SCRAPE_COMPRESS_BUDGET = 0.15
"""Seconds a scrape spends rendering (counted from its start, the wait for the lock
included) and then compressing what changed since the background render, before it serves
the rest as that render left it (seconds old, against polls a minute apart): on an event
loop saturated by 100,000 devices' polls a scrape otherwise did not finish in 120 s. With
0.4 and 0.3 s its response's head took 0.9–1.9 s at 100,000 devices, the goal being 1 s
for the whole body."""
BUSY_TURN = 0.02
"""Seconds a loop turn takes beyond which the loop counts as saturated: a gzip scrape then
serves the compressed pieces as they are (at most a background pass old, ~2–5 s, while the
passes keep up) instead of spending turns to render and compress. Such a scrape awaits
~8 times (a task, the lock, render and compress slices, two worker-thread jobs): at
100,000 devices, with 0.05 s here, those scrapes took 0.6–2.1 s, the goal being 1 s."""
PASS_SAMPLES = 3
"""Background passes whose longest turn and render :attr:`MetricsService.turn_seconds` and
:attr:`MetricsService.render_seconds` are: one pass's figures are noisy, and a short turn
between long ones sent scrapes the slow way."""
SEND_WAIT = 0.5
"""Seconds :func:`send_body` waits for room in the socket before it looks again whether the
connection was closed meanwhile (the listener's request timeout, a shutdown)."""
SEND_PARTS = 1024
"""Parts :func:`send_body` hands one ``sendmsg`` at most: Linux's ``IOV_MAX``."""


def wants_openmetrics(accept: str) -> bool:
    """prometheus-client's rule: any mention of the OpenMetrics media type selects it."""
    return any(
        part.split(";")[0].strip() == "application/openmetrics-text"
        for part in accept.split(",")
    )


def wants_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "") != "q=0"
    return False


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    body: bytes
    fmt: Format
    gzip: bool
    seconds: float


@dataclass(frozen=True, slots=True)
class PreparedBody:
    """A scrape's body, its length known on the loop so that the response's head goes out
    first (:meth:`MetricsService.prepare`)."""

    parts: Sequence[bytes]
    """The body, in order. A worker thread writes them to the socket as they are
    (:func:`send_body`): at 100,000 devices joining them into one 40 MB buffer took that
    thread 0.03–0.76 s, most of it waiting for the interpreter's lock beside a busy loop."""
    started: float
    """``time.perf_counter()`` when the scrape began (its duration is counted when the body
    is out: :meth:`MetricsService.built`)."""
    whole: bool = True
    """False for a scrape restricted to some sample names: not counted as a scrape."""

    @property
    def length(self) -> int:
        return sum(len(part) for part in self.parts)

    def build(self) -> bytes:
        """The body in one buffer (TLS, :meth:`MetricsService.scrape`): in a worker thread,
        a copy of a body in many parts (a body in one part is returned as it is)."""
        return b"".join(self.parts)


class MetricsService:
    """Everything ``/metrics`` needs; usable without HTTP (tests, benchmarks)."""

    def __init__(self, store: StateStore, inventory: Inventory, executor: ThreadPoolExecutor,
                 gzip_level: int = 1,
                 http: HttpStats | None = None, derivation: Derivation | None = None) -> None:
        self.executor = executor
        self.exposition = FleetExposition(
            store, inventory, executor=executor, gzip_level=gzip_level, derivation=derivation
        )
        self.health = HealthCollector(store, lambda: dict(self.exposition.drops.counts))
        if http is not None:  # counted by the shell's listener, shown here
            self.health.listener = http.listener
            self.health.auth = http.auth
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.health)
        self._lock = asyncio.Lock()
        self._scrapes_waiting = 0
        self.turn_seconds = 0.0
        """How long a turn of the event loop takes: the longest of the last
        :data:`PASS_SAMPLES` that :meth:`prerender_forever` measured."""
        self.render_seconds = 0.0
        """How long a background pass's render takes (the changes of ~2 s, the turns at
        its yields included): the longest of the last :data:`PASS_SAMPLES` passes."""
        self._turns: deque[float] = deque(maxlen=PASS_SAMPLES)
        self._renders: deque[float] = deque(maxlen=PASS_SAMPLES)

    def _tail(self, fmt: Format, names: frozenset[str] | None = None) -> bytes:
        self.health.exclude = frozenset(self.exposition.family_names())
        self.health.only = names
        if fmt is Format.OPENMETRICS:
            text: bytes = openmetrics_latest(self.registry)  # type: ignore[no-untyped-call]
            if text.endswith(OPENMETRICS_EOF):
                text = text[: -len(OPENMETRICS_EOF)]
            return text + OPENMETRICS_EOF
        return text_latest(self.registry)

    async def prerender_forever(self, interval: float = PRERENDER_INTERVAL) -> None:
        """Render changed devices between scrapes, so a scrape finds little left to do.

        Each device is still rendered once per change (once per poll), and each changed
        chunk compressed in a worker thread; this only moves the work off the scrape's
        critical path, including the first, cold one after start-up.

        A pass gives way to a scrape that waits for the lock, at its next yield: on a
        loop saturated by 100,000 devices' polls a whole pass takes minutes of loop turns,
        and scrapes waited behind it (113 s); the devices it did not reach wait for the
        scrape's own render or the next pass. A pass also stops after ``interval`` seconds
        to compress what it rendered (on a saturated loop no pass ends: scrapes, which serve
        what was compressed, would see nothing new), and the next one goes on from there
        without sleeping; the passes sleep ``interval`` once one gets through every device.
        Each round measures one turn of the loop and how long its render took (see
        :meth:`loop_saturated`).
        """
        loop = asyncio.get_running_loop()
        first = True
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0)
            turn = time.perf_counter() - started
            async with self._lock:
                rendering = time.perf_counter()
                stats = await self.exposition.refresh(budget=interval,
                                                      give_way=self._scrape_waiting)
                # the first pass renders everything, not a couple of seconds' changes
                self.note_pass(turn, 0.0 if first else time.perf_counter() - rendering)
                jobs = self.exposition.jobs(Format.TEXT)
            first = False
            # outside the lock: a scrape meanwhile compresses what it needs itself
            await loop.run_in_executor(self.executor, self.exposition.compress, jobs, False)
            self.exposition.settle(jobs)
            if stats.caught_up:
                await asyncio.sleep(interval)

    def note_pass(self, turn: float, render: float) -> None:
        """What a background pass measured: one turn of the loop, and its render, in
        seconds (see :attr:`turn_seconds`, :attr:`render_seconds`)."""
        self._turns.append(turn)
        self.turn_seconds = max(self._turns)
        self._renders.append(render)
        self.render_seconds = max(self._renders)

    def loop_saturated(self) -> bool:
        """Whether a scrape should serve the compressed pieces as they are rather than
        render and compress first: the loop's turns are long (see :data:`BUSY_TURN`), or
        a background pass's render takes longer than a scrape may spend on it (it would
        stop half-way, and serve the rest as the pieces have it anyway). At 100,000
        devices a pass renders ~3,000 devices' changes in ~0.3 s of CPU; scrapes that
        rendered and compressed took 0.6–1.6 s there, where serving the pieces took
        0.2–0.4 s."""
        return self.turn_seconds > BUSY_TURN or self.render_seconds > SCRAPE_RENDER_BUDGET

    async def scrape(self, fmt: Format, gzip: bool, names: frozenset[str] | None = None
                     ) -> ScrapeResult:
        """One exposition (:meth:`prepare`, the body built in a worker thread)."""
        prepared = await self.prepare(fmt, gzip, names)
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(self.executor, prepared.build)
        return ScrapeResult(body, fmt, gzip, self.built(prepared))

    async def prepare(self, fmt: Format, gzip: bool, names: frozenset[str] | None = None
                      ) -> PreparedBody:
        """What a scrape's body is and how long. On a saturated loop (gzip asked, every
        chunk compressed once) the compressed pieces as they are, without awaiting
        anything: a worker thread joins them. Otherwise rendered and compressed what
        changed first, under the lock; then the body is ready.

        With ``names`` (``/metrics?name[]=…``, as prometheus-client's HTTP handler
        takes them) only the families that carry one of those sample names: a look at
        a few series that does not cost a whole exposition (the capacity bench reads
        pubnet's own series so; it decompressed ~550 MB of text every 15 s beside
        pubnet at 100,000 devices). Such a scrape is not counted as one."""
        started = time.perf_counter()
        self.exposition.freshen(PUBNET_DEVICE)  # pubnet's own health, as it is now
        if gzip and self.loop_saturated():
            pieces = self.exposition.pieces(fmt, names)
            if pieces is not None:
                pieces.append(gzipper.Piece.of(self._tail(fmt, names),
                                               self.exposition.gzip_level))
                return PreparedBody(gzipper.parts(pieces), started, names is None)
        body = await asyncio.shield(self._scrape(fmt, gzip, names, started))
        return PreparedBody((body,), started, names is None)

    def built(self, prepared: PreparedBody) -> float:
        """Count a scrape whose body was built (a whole one); its duration in seconds."""
        seconds = time.perf_counter() - prepared.started
        if not prepared.whole:
            return seconds
        stats = self.health.scrape
        stats.duration = seconds
        stats.series = self.exposition.series_count()
        stats.scrapes += 1
        return seconds

    def _scrape_waiting(self) -> bool:
        return self._scrapes_waiting > 0

    async def _scrape(self, fmt: Format, gzip: bool, names: frozenset[str] | None,
                      started: float) -> bytes:
        """Shielded: a scraper that hangs up mid-scrape does not release the lock while a
        worker thread is still encoding (encodes must not overlap). ``started``: the
        scrape's ``time.perf_counter()`` at its start."""
        self._scrapes_waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._scrapes_waiting -= 1
        try:
            waited = time.perf_counter() - started
            await self.exposition.refresh(max(0.0, SCRAPE_RENDER_BUDGET - waited))
            jobs = self.exposition.jobs(fmt, gzip, names)
            if gzip:
                await self.exposition.compress_on_loop(jobs, SCRAPE_COMPRESS_BUDGET)
            tail = self._tail(fmt, names)
            loop = asyncio.get_running_loop()
            body = await loop.run_in_executor(
                self.executor, self.exposition.encode, fmt, jobs, gzip, tail
            )
            self.exposition.settle(jobs)
            return body
        finally:
            self._lock.release()


def send_body(sock: socket.socket, parts: Sequence[bytes],
              closing: Callable[[], bool]) -> None:
    """Write a body's parts to ``sock`` (a duplicate of a connection's socket, closed here),
    in a worker thread: each ``sendmsg`` takes what the socket buffer has room for, from
    up to :data:`SEND_PARTS` parts (the event loop's transport would take that once a
    turn), and the thread waits for room without the GIL. Stops when ``closing()`` says
    the connection was closed meanwhile. Raises :class:`ConnectionError` when the body
    could not be written whole."""
    with sock:
        pending = deque(memoryview(part) for part in parts if part)
        sock.settimeout(SEND_WAIT)
        while pending:
            if closing():
                raise ConnectionResetError("connection closed while its body was written")
            try:
                sent = sock.sendmsg(list(islice(pending, SEND_PARTS)))
            except TimeoutError:
                continue
            while sent:
                first = pending[0]
                if sent < len(first):
                    pending[0] = first[sent:]
                    break
                sent -= len(first)
                pending.popleft()


def _own_socket(request: web.Request) -> socket.socket | None:
    """A duplicate of the request's socket for :func:`send_body`, when the body may be
    written to it directly: plain TCP (TLS goes through the loop's transport), nothing of
    the response still waiting in the transport."""
    transport = request.transport
    if transport is None or transport.is_closing() or \
            transport.get_extra_info("sslcontext") is not None or \
            not isinstance(transport, asyncio.WriteTransport) or \
            transport.get_write_buffer_size() != 0:
        return None
    raw = transport.get_extra_info("socket")
    if raw is None:
        return None
    try:
        return raw.dup()  # type: ignore[no-any-return]
    except OSError:
        return None


async def serve_metrics(service: MetricsService, request: web.Request) -> web.StreamResponse:
    """Answer one ``GET /metrics`` (auth, if any, was checked by the listener)."""
    fmt = (
        Format.OPENMETRICS
        if wants_openmetrics(request.headers.get("Accept", ""))
        else Format.TEXT
    )
    use_gzip = wants_gzip(request.headers.get("Accept-Encoding", ""))
    asked = request.query.getall("name[]", [])
    prepared = await service.prepare(fmt, use_gzip, frozenset(asked) if asked else None)
    response = web.StreamResponse(headers={"Content-Type": fmt.content_type})
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.content_length = prepared.length
    await response.prepare(request)  # the head goes out now
    loop = asyncio.get_running_loop()
    sock = _own_socket(request)
    if sock is None:
        await response.write(await loop.run_in_executor(service.executor, prepared.build))
    else:
        transport = request.transport
        assert transport is not None
        try:  # the loop's default executor: a slow client holds no exposition worker
            await loop.run_in_executor(None, send_body, sock, prepared.parts,
                                       transport.is_closing)
        except OSError:
            transport.close()  # cut short: the client must not take it for whole
    service.built(prepared)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


class PrometheusExporter:
    """The ``prometheus`` component: contributes ``/metrics`` to the listener and renders in
    the background until cancelled."""

    name = "prometheus"

    def __init__(self, store: StateStore, inventory: Inventory, *,
                 gzip_level: int = 1, http: HttpStats | None = None,
                 derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared with the other
        components (built here when not given)."""
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pubnet-expo")
        self.service = MetricsService(store, inventory, self._executor, gzip_level, http,
                                      derivation)
        self.ready = asyncio.Event()
        """Set once it follows the store (scrapes are answered from the start)."""

    def routes(self) -> list[web.RouteDef]:
        """What this part serves on the shell's HTTP listener."""

        async def metrics(request: web.Request) -> web.StreamResponse:
            return await serve_metrics(self.service, request)

        return [web.get("/metrics", metrics)]

    async def run(self) -> None:
        # subscribe before the first await so that no poll published meanwhile is missed
        sub = self.store.subscribe("prometheus-poll-durations", metrics=[POLL_DURATION_SOURCE])
        try:
            self.ready.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._observe(sub), name="prometheus-polls")
                group.create_task(self.service.prerender_forever(), name="prometheus-render")
        finally:
            self.ready.clear()
            self.store.unsubscribe(sub)
            self.service.exposition.stop()
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _observe(self, sub: Subscription) -> None:
        async for batch in sub:
            self.service.health.observe_batch(batch)
