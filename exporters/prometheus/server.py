"""The HTTP side: ``/metrics``, ``/healthz`` and ``/readyz`` on aiohttp, as a component.

``/metrics`` negotiates the format (OpenMetrics when the ``Accept`` header asks for
``application/openmetrics-text``, the Prometheus text format 0.0.4 otherwise) and gzip
(``Accept-Encoding: gzip``). One lock serialises scrapes: a second scraper arriving during a
scrape waits and then reuses what the first one rendered. Basic auth (bcrypt hashes) and TLS
are optional and apply to ``/metrics``; the probes stay open for the service manager.

Connections are accepted by :mod:`exporters.prometheus.listener` (a cap, deadlines, quiet
accept errors), not aiohttp's ``TCPSite``; the cap is the smaller of
``prometheus.max_connections`` and the listener's file-descriptor share
(:mod:`pubnet.fdbudget`), so HTTP clients can never take the descriptors polling needs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from exporters.prometheus.auth import BasicAuth
from exporters.prometheus.exposition import FleetExposition, Format
from exporters.prometheus.health import POLL_DURATION_SOURCE, HealthCollector
from exporters.prometheus.listener import Limits, Listener, bind, guard_middleware
from pubnet.config import PrometheusConfig
from pubnet.fdbudget import plan_budget
from pubnet.runtime import Context
from pubnet.state import Subscription

log = logging.getLogger("pubnet.exporters.prometheus")

OPENMETRICS_EOF = b"# EOF\n"
PRERENDER_INTERVAL = 2.0
"""Seconds between background renders of devices that changed."""


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

    def __init__(self, ctx: Context, executor: ThreadPoolExecutor, gzip_level: int = 1) -> None:
        self.ctx = ctx
        self.executor = executor
        self.exposition = FleetExposition(
            ctx.store, ctx.inventory, executor=executor, gzip_level=gzip_level
        )
        self.health = HealthCollector(
            ctx.store, ctx.config.snmp.interval, lambda: dict(self.exposition.drops.counts)
        )
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.health)
        self._lock = asyncio.Lock()

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

        Each device is still rendered once per change (once per poll); this only moves the
        work off the scrape's critical path, including the first, cold one after start-up.
        """
        while True:
            async with self._lock:
                await self.exposition.refresh()
            await asyncio.sleep(interval)

    async def scrape(self, fmt: Format, gzip: bool) -> ScrapeResult:
        """One exposition. Shielded: a scraper that hangs up mid-scrape does not release
        the lock while a worker thread is still encoding (encodes must not overlap)."""
        return await asyncio.shield(self._scrape(fmt, gzip))

    async def _scrape(self, fmt: Format, gzip: bool) -> ScrapeResult:
        async with self._lock:
            start = time.perf_counter()
            await self.exposition.refresh()
            jobs = self.exposition.jobs(fmt)
            tail = self._tail(fmt)
            loop = asyncio.get_running_loop()
            body = await loop.run_in_executor(
                self.executor, self.exposition.encode, fmt, jobs, gzip, tail
            )
            seconds = time.perf_counter() - start
            stats = self.health.scrape
            stats.duration = seconds
            stats.series = self.exposition.series_count()
            stats.scrapes += 1
            return ScrapeResult(body, fmt, gzip, seconds)


def build_app(service: MetricsService, auth: BasicAuth | None,
              listener: Listener | None = None) -> web.Application:
    async def metrics(request: web.Request) -> web.StreamResponse:
        if auth is not None and not await auth.check(request.headers.get("Authorization")):
            return web.Response(
                status=401,
                text="Unauthorized\n",
                headers={"WWW-Authenticate": 'Basic realm="pubnet"'},
            )
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

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        waiting = sorted(name for name, ready in service.ctx.ready.items() if not ready)
        if waiting:
            return web.Response(status=503, text="not ready: " + ", ".join(waiting) + "\n")
        return web.Response(text="ready\n")

    app = web.Application(middlewares=[guard_middleware(listener)] if listener else [])
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def _tls_context(config: PrometheusConfig) -> ssl.SSLContext | None:
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    return context


class PrometheusExporter:
    """The ``prometheus`` component: serves until cancelled, then closes the listener."""

    name = "prometheus"

    def __init__(self, ctx: Context, config: PrometheusConfig | None = None) -> None:
        self.ctx = ctx
        cfg = config or ctx.config.prometheus
        assert cfg is not None, "prometheus is off in this config"
        self.config = cfg
        self.bound_port: int | None = None
        """The port actually listened on (useful with ``listen: 127.0.0.1:0``)."""
        self._started = asyncio.Event()

    async def wait_started(self) -> None:
        await self._started.wait()

    async def run(self) -> None:
        cfg = self.config
        self.ctx.ready[self.name] = False
        # subscribe before the first await so that no poll published meanwhile is missed
        sub = self.ctx.store.subscribe("prometheus-poll-durations",
                                       metrics=[POLL_DURATION_SOURCE])
        try:
            await self._serve(cfg, sub)
        finally:
            self.ctx.store.unsubscribe(sub)

    def limits(self) -> Limits:
        """The listener's limits: ``max_connections`` within the descriptor budget."""
        cfg = self.config
        budget = plan_budget(self.ctx.config, self.ctx.inventory)
        cap = min(cfg.max_connections, budget.listener or cfg.max_connections)
        return Limits(cap, cfg.header_timeout, cfg.request_timeout, cfg.idle_timeout)

    async def _serve(self, cfg: PrometheusConfig, sub: Subscription) -> None:
        tls = await asyncio.to_thread(_tls_context, cfg)
        auth = BasicAuth(cfg.basic_auth_users) if cfg.basic_auth_users else None
        executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pubnet-expo")
        service = MetricsService(self.ctx, executor, cfg.gzip_level)
        if auth is not None:
            service.health.auth = auth.stats
        limits = self.limits()
        runner: web.AppRunner | None = None
        try:
            sockets = await bind(cfg.host, cfg.port)
        except OSError as exc:
            log.error("prometheus exporter cannot listen address=%s port=%d error=%s "
                      "(prometheus.listen)", cfg.host, cfg.port, exc.strerror or exc)
            raise
        try:
            listener = Listener(limits, tls)
            # handler_cancellation: a client that hangs up stops waiting for its password
            # check (and its scrape, which is shielded), so a queue of abandoned bcrypt
            # checks cannot outgrow the connection cap
            runner = web.AppRunner(build_app(service, auth, listener), access_log=None,
                                   handle_signals=False, shutdown_timeout=2.0,
                                   keepalive_timeout=limits.idle_timeout,
                                   handler_cancellation=True)
            await runner.setup()
            server = runner.server
            assert server is not None
            service.health.listener = listener.stats
            self.bound_port = sockets[0].getsockname()[1]
            log.info(
                "prometheus exporter listening address=%s port=%d tls=%s auth=%s "
                "max_connections=%d", cfg.host, self.bound_port, tls is not None,
                auth is not None, limits.max_connections,
            )
            self.ctx.ready[self.name] = True
            self._started.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(listener.serve(sockets, server), name="prometheus-listener")
                group.create_task(self._observe(sub, service), name="prometheus-polls")
                group.create_task(service.prerender_forever(), name="prometheus-render")
        finally:
            self.ctx.ready[self.name] = False
            for sock in sockets:
                sock.close()
            if runner is not None:
                await runner.cleanup()
            executor.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    async def _observe(sub: Subscription, service: MetricsService) -> None:
        async for batch in sub:
            service.health.observe_batch(batch)
