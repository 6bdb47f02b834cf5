"""``/metrics`` as a part of pubnet's one HTTP listener, and the work that keeps it fast.

The exporter does not own a server: the shell's listener (:mod:`pubnet.app.web`) serves the
route this module contributes, with its connection limits, TLS and basic auth.
``/metrics`` negotiates the format (OpenMetrics when the ``Accept`` header asks for
``application/openmetrics-text``, the Prometheus text format 0.0.4 otherwise) and gzip
(``Accept-Encoding: gzip``). One lock serialises scrapes: a second scraper arriving during a
scrape waits and then reuses what the first one rendered.

The ``prometheus`` component keeps the background work in its own TaskGroup: devices that
changed are rendered between scrapes, and every poll's duration is counted into
``pubnet_poll_duration_seconds`` from a state-store subscription.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from exporters.prometheus.exposition import FleetExposition, Format
from exporters.prometheus.health import POLL_DURATION_SOURCE, HealthCollector
from inventory.model import Inventory
from pubnet.derive import Derivation
from pubnet.httpstats import HttpStats
from pubnet.state import StateStore, Subscription

OPENMETRICS_EOF = b"# EOF\n"
PRERENDER_INTERVAL = 2.0
"""Seconds between background renders of devices that changed."""
SCRAPE_RENDER_BUDGET = 0.4
SCRAPE_COMPRESS_BUDGET = 0.3
"""Seconds a scrape spends rendering and compressing what changed since the background
render before it serves the rest as that render left it (seconds old): on an event loop
saturated by 100,000 devices' polls a scrape otherwise did not finish in 120 s."""


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


class MetricsService:
    """Everything ``/metrics`` needs; usable without HTTP (tests, benchmarks)."""

    def __init__(self, store: StateStore, inventory: Inventory, executor: ThreadPoolExecutor,
                 poll_interval: float, gzip_level: int = 1,
                 http: HttpStats | None = None, derivation: Derivation | None = None) -> None:
        self.executor = executor
        self.exposition = FleetExposition(
            store, inventory, executor=executor, gzip_level=gzip_level, derivation=derivation
        )
        self.health = HealthCollector(
            store, poll_interval, lambda: dict(self.exposition.drops.counts)
        )
        if http is not None:  # counted by the shell's listener, shown here
            self.health.listener = http.listener
            self.health.auth = http.auth
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.health)
        self._lock = asyncio.Lock()
        self._scrapes_waiting = 0

    def _tail(self, fmt: Format) -> bytes:
        self.health.exclude = frozenset(self.exposition.family_names())
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
        scrape's own render or the next pass.
        """
        loop = asyncio.get_running_loop()
        while True:
            async with self._lock:
                await self.exposition.refresh(give_way=self._scrape_waiting)
                jobs = self.exposition.jobs(Format.TEXT)
            # outside the lock: a scrape meanwhile compresses what it needs itself
            await loop.run_in_executor(self.executor, self.exposition.compress, jobs, False)
            self.exposition.settle(jobs)
            await asyncio.sleep(interval)

    async def scrape(self, fmt: Format, gzip: bool) -> ScrapeResult:
        """One exposition. Shielded: a scraper that hangs up mid-scrape does not release
        the lock while a worker thread is still encoding (encodes must not overlap)."""
        return await asyncio.shield(self._scrape(fmt, gzip))

    def _scrape_waiting(self) -> bool:
        return self._scrapes_waiting > 0

    async def _scrape(self, fmt: Format, gzip: bool) -> ScrapeResult:
        self._scrapes_waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._scrapes_waiting -= 1
        try:
            start = time.perf_counter()
            await self.exposition.refresh(SCRAPE_RENDER_BUDGET)
            jobs = self.exposition.jobs(fmt, gzip)
            if gzip:
                await self.exposition.compress_on_loop(jobs, SCRAPE_COMPRESS_BUDGET)
            tail = self._tail(fmt)
            loop = asyncio.get_running_loop()
            body = await loop.run_in_executor(
                self.executor, self.exposition.encode, fmt, jobs, gzip, tail
            )
            self.exposition.settle(jobs)
            seconds = time.perf_counter() - start
            stats = self.health.scrape
            stats.duration = seconds
            stats.series = self.exposition.series_count()
            stats.scrapes += 1
            return ScrapeResult(body, fmt, gzip, seconds)
        finally:
            self._lock.release()


async def serve_metrics(service: MetricsService, request: web.Request) -> web.StreamResponse:
    """Answer one ``GET /metrics`` (auth, if any, was checked by the listener)."""
    fmt = (
        Format.OPENMETRICS
        if wants_openmetrics(request.headers.get("Accept", ""))
        else Format.TEXT
    )
    use_gzip = wants_gzip(request.headers.get("Accept-Encoding", ""))
    result = await service.scrape(fmt, use_gzip)
    headers = {"Content-Type": fmt.content_type}
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=result.body, headers=headers)


class PrometheusExporter:
    """The ``prometheus`` component: contributes ``/metrics`` to the listener and renders in
    the background until cancelled."""

    name = "prometheus"

    def __init__(self, store: StateStore, inventory: Inventory, *, poll_interval: float,
                 gzip_level: int = 1, http: HttpStats | None = None,
                 derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared with the other
        components (built here when not given)."""
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pubnet-expo")
        self.service = MetricsService(store, inventory, self._executor, poll_interval,
                                      gzip_level, http, derivation)
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
