"""The one HTTP listener: the shell serves it, the parts contribute their routes.

pubnet listens on one address (``prometheus.listen``; the key keeps its name because it is
an interface) with one set of protections, whoever answers the request:

- connections are accepted by :mod:`pubnet.app.listener` (a cap, deadlines, quiet accept
  errors), not aiohttp's ``TCPSite``; the cap is the smaller of
  ``prometheus.max_connections`` and the listener's file-descriptor share
  (:mod:`pubnet.fdbudget`), so HTTP clients can never take the descriptors polling needs;
- TLS (``prometheus.tls_cert_file``/``tls_key_file``) covers every route;
- basic auth (``prometheus.basic_auth_users``, bcrypt hashes, :mod:`pubnet.app.auth`)
  covers every contributed route; the probes stay open for the service manager:
  ``/healthz`` (the process runs) and ``/readyz`` (every component has started, asked of the
  runtime: :class:`pubnet.app.runtime.Readiness`).

A part contributes aiohttp route definitions and keeps its own work in its own component:
the Prometheus exporter contributes ``/metrics`` (:mod:`exporters.prometheus.endpoint`) and
renders in the background in its own TaskGroup; later parts (a status page, alerting's
hooks) add theirs the same way, in :mod:`pubnet.app.components`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from aiohttp import web

from pubnet.app.auth import BasicAuth
from pubnet.app.listener import Handler, Limits, Listener, bind, guard_middleware
from pubnet.config import PrometheusConfig
from pubnet.fdbudget import FdBudget
from pubnet.httpbody import same_limit
from pubnet.httpstats import AuthStats, HttpStats

log = logging.getLogger("pubnet.http")

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Basic realm="pubnet"'}


def limits_for(config: PrometheusConfig, budget: FdBudget) -> Limits:
    """The listener's limits: ``max_connections`` within the descriptor budget."""
    cap = min(config.max_connections, budget.listener or config.max_connections)
    return Limits(cap, config.header_timeout, config.request_timeout, config.idle_timeout)


def stats_for(config: PrometheusConfig) -> HttpStats:
    """Fresh counters for this config: auth is counted only when it is configured."""
    return HttpStats(auth=AuthStats() if config.basic_auth_users else None)


def tls_context(config: PrometheusConfig) -> ssl.SSLContext | None:
    """The server's TLS context, or None without TLS (reads files: call it off the loop)."""
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    return context


def _protected(handler: Handler, auth: BasicAuth) -> Handler:
    async def checked(request: web.Request) -> web.StreamResponse:
        if not await auth.check(request.headers.get("Authorization")):
            return web.Response(status=401, text="Unauthorized\n",
                                headers=UNAUTHORIZED_HEADERS)
        return await handler(request)

    return same_limit(checked, handler)


def build_app(routes: Sequence[web.RouteDef], auth: BasicAuth | None,
              waiting: Callable[[], Sequence[str]],
              listener: Listener | None = None,
              signed: Sequence[web.RouteDef] = ()) -> web.Application:
    """The aiohttp application: the probes, then every contributed route (behind ``auth``
    when there is one); ``waiting`` names the components that have not started yet.
    ``signed`` routes check a signature of their own (LINE's and Telegram's webhooks, which
    cannot send a password) and are served without basic auth."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        names = sorted(waiting())
        if names:
            return web.Response(status=503, text="not ready: " + ", ".join(names) + "\n")
        return web.Response(text="ready\n")

    app = web.Application(middlewares=[guard_middleware(listener)] if listener else [])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for route in routes:
        if auth is not None:
            handler = cast(Handler, route.handler)
            route = web.RouteDef(route.method, route.path, _protected(handler, auth),
                                 route.kwargs)
        route.register(app.router)
    for route in signed:
        route.register(app.router)
    return app


@dataclass(frozen=True, slots=True)
class Bound:
    """Where the server listens once started (``port`` is useful with ``listen: ...:0``)."""

    host: str
    port: int


class WebServer:
    """The ``http`` component: serves the contributed routes until cancelled, then closes
    the listener (see the module docstring)."""

    name = "http"

    def __init__(self, config: PrometheusConfig, limits: Limits,
                 routes: Sequence[web.RouteDef], waiting: Callable[[], Sequence[str]],
                 stats: HttpStats | None = None,
                 also_admitted: Mapping[str, str] | None = None,
                 signed: Sequence[web.RouteDef] = ()) -> None:
        self.config = config
        self.also_admitted = dict(also_admitted or {})
        """Users besides ``basic_auth_users`` the listener's basic auth lets in (the status
        page's operators), when basic auth is on at all."""
        self.limits = limits
        self.routes = list(routes)
        self.signed = list(signed)
        self.waiting = waiting
        self.stats = stats if stats is not None else stats_for(config)
        self.bound: Bound | None = None
        self.ready = asyncio.Event()
        """Set once listening."""

    async def run(self) -> None:
        cfg = self.config
        tls = await asyncio.to_thread(tls_context, cfg)
        auth = (BasicAuth({**self.also_admitted, **cfg.basic_auth_users}, self.stats.auth)
                if cfg.basic_auth_users else None)
        try:
            sockets = await bind(cfg.host, cfg.port)
        except OSError as exc:
            log.error("http listener cannot listen (prometheus.listen)", extra={
                "address": cfg.host, "port": cfg.port, "error": exc.strerror or str(exc)})
            raise
        runner: web.AppRunner | None = None
        try:
            listener = Listener(self.limits, tls, self.stats.listener)
            # handler_cancellation: a client that hangs up stops waiting for its password
            # check (and its scrape, which is shielded), so a queue of abandoned bcrypt
            # checks cannot outgrow the connection cap
            app = build_app(self.routes, auth, self.waiting, listener, self.signed)
            runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                   shutdown_timeout=2.0,
                                   keepalive_timeout=self.limits.idle_timeout,
                                   handler_cancellation=True)
            await runner.setup()
            server = runner.server
            assert server is not None
            self.bound = Bound(cfg.host, sockets[0].getsockname()[1])
            log.info("http listener listening", extra={
                "address": cfg.host, "port": self.bound.port, "tls": tls is not None,
                "auth": auth is not None, "max_connections": self.limits.max_connections,
                "routes": ",".join(sorted({r.path for r in (*self.routes, *self.signed)}))
                or "-"})
            self.ready.set()
            await listener.serve(sockets, server)
        finally:
            self.ready.clear()
            for sock in sockets:
                sock.close()
            if runner is not None:
                await runner.cleanup()
