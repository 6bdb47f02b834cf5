"""``pubnet run`` as a service: load a setup, run it, reload it in place, stop it in time.

A *setup* is what the config file and the inventory say (:func:`load_setup`: config with
its secrets, inventory validated against it, topology, this process's shard of it). The
:class:`Service` runs one setup at a time as a *generation* of components, and on SIGHUP or
``POST /-/reload`` (``web.lifecycle: true``) replaces it:

1. the new setup is loaded and checked off the event loop; a config or inventory with
   errors is rejected: each error is logged, ``pubnet_config_last_reload_successful``
   drops to 0 and the running generation is not touched;
2. the running generation's workers (collectors first, then alerting, history, Influx)
   stop as at shutdown, flushing what they hold: incidents and the alert outbox are in
   alerting's SQLite, the Influx writer's buffer on disk, MQTT messages with the broker's
   persistent session, and each new component restores them at start;
3. devices that left the inventory are dropped from the state store (their series leave
   ``/metrics``); everything else in the store stays, so statuses, counters' last values
   and ``since`` times survive;
4. the new generation starts from the new setup: added devices are polled, removed ones
   not, and changed credentials are used from the next poll (the poller is new);
5. ``/metrics`` switches to the new exporter and the old one stops. The HTTP listener
   itself is never restarted, so scrapes keep being answered throughout: a change to the
   ``prometheus`` or ``web`` sections is logged and applies at the next start.

Stopping (SIGTERM/SIGINT) stops the generation's components in reverse start order within
one budget (:func:`pubnet.app.runtime.stop_in_reverse`), then the exporter, then the
listener, and the process exits 0 within 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pubnet.app import components
from pubnet.app.runtime import (
    DEFAULT_STOP_DEADLINE,
    Component,
    Context,
    Readiness,
    run_components,
    run_one,
    still_running,
    stop_in_reverse,
)
from pubnet.catalog import CONFIG_LAST_RELOAD_SUCCESSFUL, PUBNET_DEVICE
from pubnet.config import (
    Config,
    ConfigError,
    Role,
    check_files_before_start,
    effective_roles,
    load_config,
    role_problem,
)
from pubnet.derive import Derivation
from pubnet.model import Observation, Source
from pubnet.shard import Shard, select
from pubnet.signals import StopRequest
from pubnet.state import StateStore

if TYPE_CHECKING:
    from aiohttp import web

    from exporters.prometheus.endpoint import PrometheusExporter
    from inventory.model import Inventory
    from inventory.topology import Topology
    from pubnet.app.components import OncallSetup
    from pubnet.app.web import WebServer

log = logging.getLogger("pubnet.reload")

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]

LISTENER_STOP = 2.0
"""Seconds of the stop budget kept for the HTTP listener, which stops last (a scrape in
progress is let finish)."""


# -- a setup ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sources:
    """Where a setup is read from: the command line's files and overrides."""

    config: Path | None
    inventory: Path | None = None
    """``--inventory``: overrides the config's ``inventory``."""
    shard: Shard | None = None
    """``--shard``: overrides the config's ``shard``."""
    roles: tuple[str, ...] | None = None
    """``--role``: overrides the config's ``roles``."""


@dataclass(frozen=True, slots=True)
class Setup:
    """A config and the inventory it points at, checked together."""

    config: Config
    whole: Inventory
    """The inventory as loaded."""
    inventory: Inventory
    """What this process watches: ``whole``, or its shard's part of it."""
    topology: Topology
    """The topology of :attr:`inventory`."""
    shard: Shard | None
    warnings: tuple[str, ...] = ()
    """Inventory problems that are not errors (``file:line: field: message``)."""
    directory: OncallSetup | None = None
    """The technician directory and on-call rota, read here (off the loop) once."""
    roles: frozenset[Role] = frozenset(Role)
    """What this process does (``roles:``/``--role``, :func:`pubnet.config.effective_roles`)."""
    derivation: Derivation | None = None
    """The index of :attr:`inventory` all of this setup's components share, built here
    off the loop (:func:`load_setup` always sets it); a reload's new setup has its own."""


class SetupError(Exception):
    """A config or inventory that cannot run; ``problems`` are the lines that say why
    (``file: key.path: message``, ``file:line: field: message``); ``what`` is the input
    they are in: ``config``, ``inventory`` or ``profiles``."""

    def __init__(self, what: str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.what = what
        self.problems = problems


def load_setup(sources: Sources) -> Setup:
    """Read and check config and inventory (blocking: files; run it off the loop).

    Raises :class:`SetupError` listing every problem found: a config that does not
    validate, an inventory that cannot be read or has errors, a broken SNMP profile file,
    a technician directory or on-call rota with errors.
    """
    from collectors.snmp.poller import load_configured_profiles
    from collectors.snmp.profiles import ProfileError
    from inventory.loader import InventoryError, load_inventory
    from inventory.model import Inventory
    from inventory.topology import Topology
    from inventory.validate import validate
    from pubnet.config import default_config

    if sources.config is None:
        config = default_config()
    else:
        try:
            config = load_config(sources.config, resolve=True)
            check_files_before_start(config)
        except ConfigError as exc:
            raise SetupError("config", str(exc).splitlines()) from None
    shard = sources.shard
    if shard is None and config.shard is not None:
        shard = Shard.parse(config.shard)
    configured = sources.roles if sources.roles is not None else config.roles
    try:
        roles = effective_roles(configured, shard)
    except ValueError as exc:
        raise SetupError("config", [f"--role: {exc}"]) from None
    problem = role_problem(config, roles, shard, explicit=configured is not None)
    if problem is not None:
        raise SetupError("config", [problem])
    path = sources.inventory or config.inventory
    warnings: list[str] = []
    whole = Inventory()
    topology = Topology.build(whole)
    if path is not None:
        try:
            result = load_inventory(path)
        except InventoryError as exc:
            raise SetupError("inventory", [str(exc)]) from None
        try:
            profiles = load_configured_profiles(config.snmp).names()
        except ProfileError as exc:
            raise SetupError("profiles", [str(exc)]) from None
        topology = Topology.build(result.inventory)
        problems = validate(result, known_credentials=set(config.credentials),
                            extra_profiles=profiles, topology=topology)
        errors = [str(p) for p in problems if p.is_error]
        if errors:
            raise SetupError("inventory", errors)
        warnings = [str(p) for p in problems if not p.is_error]
        whole = result.inventory
    directory = _load_directory(config)
    inventory = whole
    if shard is not None and shard.count > 1:
        inventory = select(whole, shard)
        topology = Topology.build(inventory)
    return Setup(config, whole, inventory, topology, shard, tuple(warnings), directory, roles,
                 Derivation(inventory))


def _load_directory(config: Config) -> OncallSetup | None:
    """The technician directory and on-call rota (``alerting.technicians``/``oncall``)
    are inputs like the inventory: a broken one is rejected before anything starts."""
    from alerting.directory import DirectoryError

    try:
        return components.load_directory(config)
    except DirectoryError as exc:
        raise SetupError("technicians", [str(p) for p in exc.problems]) from None


# -- the service -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a reload ended: ``problems`` say why it was rejected (empty when it applied)."""

    ok: bool
    problems: tuple[str, ...] = ()


@dataclass(eq=False)
class _Generation:
    """One setup's components while they run."""

    setup: Setup
    exporter: PrometheusExporter | None
    parts: components.Workers
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    exporter_task: asyncio.Task[None] | None = None
    runner: asyncio.Task[None] | None = None

    @property
    def workers(self) -> list[Component]:
        return self.parts.components


class _Dispatch:
    """The contributed routes of the one listener, answered by the running generation.

    The listener's routing table is fixed when it starts, and a reload replaces the
    components behind the routes (the status page, the chat webhooks), so the listener
    holds one stand-in handler per route that calls the current generation's. A route a
    reload removes answers 404; one it adds applies at the next start (logged)."""

    def __init__(self, parts: components.Workers) -> None:
        self._current = self._handlers(parts)
        self._served = set(self._current)
        """The routes the listener was started with."""

    @staticmethod
    def _handlers(parts: components.Workers) -> dict[tuple[str, str], Handler]:
        return {(r.method, r.path): cast("Handler", r.handler)
                for r in (*parts.routes, *parts.signed)}

    def set(self, parts: components.Workers) -> list[str]:
        """Switch to ``parts``; returns the paths the listener does not serve."""
        self._current = self._handlers(parts)
        return [path for method, path in self._current
                if (method, path) not in self._served]

    def stand_ins(self, routes: Sequence[web.RouteDef]) -> list[web.RouteDef]:
        from aiohttp import web

        from pubnet.httpbody import same_limit

        def stand_in(key: tuple[str, str], original: object) -> Handler:
            async def handler(request: web.Request) -> web.StreamResponse:
                current = self._current.get(key)
                if current is None:
                    return web.json_response({"error": "not served since the last reload"},
                                             status=404)
                return await current(request)

            return same_limit(handler, original)

        return [web.RouteDef(r.method, r.path, stand_in((r.method, r.path), r.handler),
                             r.kwargs) for r in routes]


@dataclass(eq=False)
class _Request:
    setup: Setup
    done: asyncio.Future[Outcome]


class Service:
    """The components of ``pubnet run``, reloadable (see the module docstring)."""

    name = "service"

    def __init__(self, setup: Setup, sources: Sources, *, store: StateStore | None = None,
                 on_config: Callable[[Config], None] | None = None,
                 deadline: float = DEFAULT_STOP_DEADLINE) -> None:
        from pubnet.app.web import stats_for

        self.setup = setup
        self.sources = sources
        self.store = store if store is not None else StateStore()
        self.on_config = on_config
        """Called with each new config once it runs (``pubnet run`` re-applies logging)."""
        self.deadline = deadline
        self.readiness = Readiness()
        http = setup.config.prometheus
        self.stats = stats_for(http) if http is not None else None
        self.exporter: PrometheusExporter | None = None
        """The exporter ``/metrics`` is answered from: the running generation's."""
        self._first = self._build(setup, summary=True)
        self._current = self._first
        self._dispatch = _Dispatch(self._first.parts)
        self.listener: WebServer | None = None
        if http is not None:
            assert self.stats is not None
            parts = self._first.parts
            self.listener = components.build_listener(
                setup.config, setup.inventory,
                [*self.routes(), *self._dispatch.stand_ins(parts.routes)], self.readiness,
                self.stats, self._dispatch.stand_ins(parts.signed))
            self.readiness.track([self.listener])
        self.reloads = 0
        """Reloads applied."""
        self._lock = asyncio.Lock()
        self._requests: asyncio.Queue[_Request] = asyncio.Queue()
        self._stopping = False
        self._hup_tasks: set[asyncio.Task[Outcome]] = set()

    # -- HTTP ------------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """``/metrics`` from the current exporter, and ``POST /-/reload`` when
        ``web.lifecycle`` is on."""
        from aiohttp import web

        from exporters.prometheus.endpoint import serve_metrics

        async def metrics(request: web.Request) -> web.StreamResponse:
            exporter = self.exporter
            if exporter is None:  # between generations only when a reload failed badly
                return web.Response(status=503, text="reloading\n")
            return await serve_metrics(exporter.service, request)

        async def reload(_request: web.Request) -> web.Response:
            outcome = await self.reload("http")
            if outcome.ok:
                return web.Response(text="reloaded\n")
            return web.Response(status=500, text="reload rejected, the previous config "
                                "keeps running:\n" + "\n".join(outcome.problems) + "\n")

        routes = [web.get("/metrics", metrics)]
        if self.setup.config.web.lifecycle:
            routes.append(web.post("/-/reload", reload))
        return routes

    # -- reloading -------------------------------------------------------------------------

    async def reload(self, cause: str) -> Outcome:
        """Load the setup again and switch to it; one reload at a time. Never raises
        (except cancellation): a rejected setup is logged and returned."""
        async with self._lock:
            log.info("reload requested", extra={"by": cause})
            if self._stopping:
                return Outcome(False, ("pubnet is stopping",))
            started = time.monotonic()
            try:
                setup = await asyncio.to_thread(load_setup, self.sources)
            except SetupError as exc:
                return self._rejected(exc.problems)
            except Exception as exc:  # a bug in loading must not take the service down
                log.exception("reload failed while loading")
                return self._rejected([f"{type(exc).__name__}: {exc}"])
            request = _Request(setup, asyncio.get_running_loop().create_future())
            await self._requests.put(request)
            outcome = await request.done
            if outcome.ok:
                log.info("reload done", extra={"seconds": round(time.monotonic() - started, 2)})
            return outcome

    def _rejected(self, problems: list[str]) -> Outcome:
        for problem in problems:
            log.error("reload rejected", extra={"problem": problem})
        log.error("reload rejected; the previous config and inventory keep running",
                  extra={"errors": len(problems)})
        self._publish_status(False)
        return Outcome(False, tuple(problems))

    def _publish_status(self, ok: bool) -> None:
        self.store.publish([Observation(PUBNET_DEVICE, CONFIG_LAST_RELOAD_SUCCESSFUL,
                                        1.0 if ok else 0.0, time.time(), Source.INTERNAL)])

    @contextlib.contextmanager
    def reload_on_sighup(self) -> Iterator[None]:
        """Reload on SIGHUP while inside the block (systemd's ``ExecReload=kill -HUP``)."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        except (NotImplementedError, RuntimeError):
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)

    def _on_hup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload("SIGHUP"), name="reload")
        self._hup_tasks.add(task)
        task.add_done_callback(self._hup_tasks.discard)

    # -- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set or a component fails (raises
        :class:`~pubnet.app.runtime.ComponentFailed`, as :func:`run_components` does)."""
        loop = asyncio.get_running_loop()
        self._publish_status(True)
        listener_task: asyncio.Task[None] | None = None
        if self.listener is not None:
            listener_task = loop.create_task(run_one(self.listener), name="http")
        generation = self._start(self._first)
        try:
            while True:
                waits: set[asyncio.Future[object]] = {
                    loop.create_task(stop.wait()), loop.create_task(self._requests.get())}
                watched: set[asyncio.Future[None]] = set()
                if generation.runner is not None:
                    watched.add(generation.runner)
                if listener_task is not None:
                    watched.add(listener_task)
                done, _ = await asyncio.wait(waits | watched,
                                             return_when=asyncio.FIRST_COMPLETED)
                request: _Request | None = None
                for waiter in waits:
                    if waiter.done() and not waiter.cancelled():
                        result = waiter.result()
                        if isinstance(result, _Request):
                            request = result
                    waiter.cancel()
                if request is not None and not (stop.is_set() or done & watched):
                    generation = await self._switch(generation, request)
                    continue
                if request is not None:
                    request.done.set_result(Outcome(False, ("pubnet is stopping",)))
                break
        finally:
            self._stopping = True
            log.info("stopping")
            asked_at = stop.at if isinstance(stop, StopRequest) else None
            await self._stop(generation, listener_task, asked_at)
            log.info("stopped")
        for task in (generation.runner, listener_task):
            if task is not None and task.done() and not task.cancelled():
                error = task.exception()
                if error is not None:
                    raise error

    def _build(self, setup: Setup, *, summary: bool) -> _Generation:
        ctx = Context(config=setup.config, inventory=setup.inventory,
                      topology=setup.topology, store=self.store, roles=setup.roles,
                      shard=setup.shard, whole=setup.whole, derivation=setup.derivation)
        for planned in components.plan(ctx):
            if planned.name != "http":
                log.info("starting component=%s %s", planned.name, planned.detail)
        exporter = None
        if setup.config.prometheus is not None:
            assert self.stats is not None
            exporter = components.build_exporter(
                setup.config, components.exported_inventory(ctx), self.store, self.stats,
                components.exported_derivation(ctx))
        return _Generation(setup, exporter, components.build_workers(
            ctx, summary=summary, directory=setup.directory))

    def _serve_routes_of(self, generation: _Generation) -> None:
        unserved = self._dispatch.set(generation.parts)
        if unserved:
            log.warning("routes added by the reload are served from the next start",
                        extra={"paths": ",".join(sorted(set(unserved)))})

    @property
    def components(self) -> list[Component]:
        """The current generation's components: the exporter (when on) and the workers."""
        current = self._current
        return [*([current.exporter] if current.exporter is not None else []),
                *current.workers]

    def _start(self, generation: _Generation) -> _Generation:
        self._current = generation
        loop = asyncio.get_running_loop()
        if generation.exporter is not None:
            generation.exporter_task = loop.create_task(run_one(generation.exporter),
                                                        name="prometheus")
            self.readiness.track([generation.exporter])
        self.exporter = generation.exporter
        self.readiness.track(generation.workers)
        generation.runner = loop.create_task(
            run_components(generation.workers, generation.stop,
                           max(0.5, self.deadline - LISTENER_STOP),
                           intake=generation.parts.intake), name="components")
        return generation

    async def _switch(self, old: _Generation, request: _Request) -> _Generation:
        """Build the requested setup's components, stop ``old``'s workers, start the new
        ones, then stop ``old``'s exporter (``/metrics`` is answered throughout)."""
        setup = request.setup
        try:
            new = self._build(setup, summary=False)
        except Exception as exc:  # e.g. a profile file broken between check and build
            log.exception("reload failed while building its components")
            request.done.set_result(self._rejected([f"{type(exc).__name__}: {exc}"]))
            return old
        self._warn_about_restart_only(old.setup.config, setup.config)
        old.stop.set()
        assert old.runner is not None
        await asyncio.wait({old.runner})
        self.readiness.untrack(old.workers)
        failed = old.runner.exception()
        if failed is not None:  # a worker failed while stopping: the service fails
            request.done.set_result(Outcome(False, ("a component failed while stopping",)))
            raise failed
        before, after = old.setup.inventory.devices, setup.inventory.devices
        removed = [d for d in before if d not in after]
        for device in removed:
            self.store.drop_device(device)
        changed = sum(1 for d, dev in after.items() if d in before and before[d] != dev)
        new = self._start(new)
        self._serve_routes_of(new)
        await self._stop_exporter(old, self.deadline)
        self.setup = setup
        self.reloads += 1
        if self.on_config is not None:
            self.on_config(setup.config)
        self._publish_status(True)
        log.info("reloaded", extra={
            "devices": len(after), "added": sum(1 for d in after if d not in before),
            "removed": len(removed), "changed": changed, "sites": len(setup.inventory.sites),
            "links": len(setup.inventory.links)})
        request.done.set_result(Outcome(True))
        return new

    def _warn_about_restart_only(self, old: Config, new: Config) -> None:
        for section in ("prometheus", "web"):
            if getattr(old, section) != getattr(new, section):
                log.warning("config section changed: it applies at the next start, the "
                            "HTTP listener keeps its settings until then",
                            extra={"section": section})

    async def _stop_exporter(self, generation: _Generation, budget: float) -> None:
        task = generation.exporter_task
        if task is not None and generation.exporter is not None:
            self.readiness.untrack([generation.exporter])
            await stop_in_reverse([generation.exporter], [task], budget)

    async def _stop(self, generation: _Generation, listener_task: asyncio.Task[None] | None,
                    asked_at: float | None = None) -> None:
        """Workers (collectors at once, then the others in reverse start order, flushing),
        then the exporter, then the listener, within :attr:`deadline` in all, counted from
        ``asked_at`` (when the signal came; the loop's clock) when known."""
        loop = asyncio.get_running_loop()
        end = (asked_at if asked_at is not None else loop.time()) + self.deadline
        generation.stop.set()
        if generation.runner is not None:
            await asyncio.wait({generation.runner}, timeout=max(0.2, end - loop.time()))
            if not generation.runner.done():
                log.warning("stop budget spent, components still running",
                            extra={"tasks": still_running()})
        left = max(0.2, end - loop.time())
        await self._stop_exporter(generation, left / 2)
        for request in self._drain_requests():
            request.done.set_result(Outcome(False, ("pubnet is stopping",)))
        if listener_task is not None and self.listener is not None:
            await stop_in_reverse([self.listener], [listener_task],
                                  max(0.2, end - loop.time()))

    def _drain_requests(self) -> list[_Request]:
        drained = []
        while not self._requests.empty():
            drained.append(self._requests.get_nowait())
        return drained
