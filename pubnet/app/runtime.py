"""The runtime: start the configured components in one TaskGroup, stop them cleanly.

A component is anything with a ``name``, a ``ready`` event and an ``async run()`` that works
until it is cancelled and, on cancellation, finishes or flushes its in-flight work before
returning.
Components are started in the order given (state consumers before producers) and stopped in
reverse order, so collectors stop taking in data first and exporters flush last.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pubnet.derive import Derivation
from pubnet.state import StateStore

if TYPE_CHECKING:
    from inventory.model import Inventory
    from inventory.topology import Topology
    from pubnet.config import Config, Role
    from pubnet.shard import Shard

log = logging.getLogger("pubnet.runtime")

DEFAULT_STOP_DEADLINE = 8.0
"""Seconds all components together get to finish and flush after they are asked to stop:
systemd (and ``docker stop``) wait 10 s by default before SIGKILL, and pubnet exits 0
within that (docs/deployment.md, "Reload and stop")."""
OVERRUN_GRACE = 0.5
"""Seconds a component that overran its share gets, after a second cancellation, to let
its cancelled work unwind."""


class Component(Protocol):
    name: str
    ready: asyncio.Event
    """Set once the component does its work (listening, connected, restored, polling);
    ``/readyz`` answers 503 while any component's is clear (:class:`Readiness`)."""

    async def run(self) -> None:
        """Work until cancelled; on cancellation finish in-flight work, flush, return."""


@dataclass
class Context:
    """What the app builds components from: config, inventory, topology and the store.

    Only the app sees it; each component is given the pieces it needs
    (:mod:`pubnet.app.components`).
    """

    config: Config
    inventory: Inventory
    topology: Topology
    store: StateStore = field(default_factory=StateStore)
    roles: frozenset[Role] | None = None
    """What this process does (``roles:``/``--role``); None: both, as on one machine."""
    shard: Shard | None = None
    whole: Inventory | None = None
    """The inventory before sharding (``inventory`` is this shard's part); None: the same."""
    derivation: Derivation | None = None
    """The index of ``inventory`` every component shares (:meth:`shared_derivation`);
    None: built on first use."""

    def shared_derivation(self) -> Derivation:
        """The one :class:`~pubnet.derive.Derivation` of ``inventory`` for all the
        components built from this context (built here once when none was given)."""
        if self.derivation is None:
            self.derivation = Derivation(self.inventory)
        return self.derivation

    @property
    def polls(self) -> bool:
        return self.roles is None or any(r.value == "poll" for r in self.roles)

    @property
    def alerts(self) -> bool:
        return self.roles is None or any(r.value == "alerting" for r in self.roles)


class Readiness:
    """Which components have not started yet: what ``/readyz`` reports.

    Asked, not told: each component sets its own ``ready`` event, and this only reads them,
    so there is no shared table for components to write into.
    """

    def __init__(self, components: Sequence[Component] = ()) -> None:
        self._components: list[Component] = list(components)

    def track(self, components: Sequence[Component]) -> None:
        """Follow these components too (the app calls it once they are all built)."""
        self._components.extend(components)

    def untrack(self, components: Sequence[Component]) -> None:
        """Stop following these (a reload replaced them; the new ones are tracked next)."""
        gone = {id(c) for c in components}
        self._components = [c for c in self._components if id(c) not in gone]

    def waiting(self) -> list[str]:
        """Names of the components whose ``ready`` is not set, sorted."""
        return sorted(c.name for c in self._components if not c.ready.is_set())


async def run_components(
    components: Sequence[Component],
    stop: asyncio.Event,
    deadline: float = DEFAULT_STOP_DEADLINE,
    *,
    intake: Collection[Component] = (),
) -> None:
    """Run until ``stop`` is set or a component fails, then stop them: ``intake`` (the
    collectors) all at once, then the others in reverse order (:func:`stop_in_reverse`).

    A component that fails takes the others down with it (TaskGroup semantics): a half
    running monitor is worse than one that restarts under systemd.
    """
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(run_one(c), name=c.name) for c in components]
        for component in components:
            log.info("component started", extra={"component": component.name})
        stopper = group.create_task(stop.wait(), name="stop-signal")
        done_waiter = group.create_task(_any_done(tasks), name="watch-components")
        await asyncio.wait({stopper, done_waiter}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        done_waiter.cancel()
        await stop_in_reverse(components, tasks, deadline, intake=intake)


async def stop_in_reverse(components: Sequence[Component], tasks: Sequence[asyncio.Task[None]],
                          deadline: float, *, intake: Collection[Component] = ()) -> None:
    """Cancel the ``intake`` components together, then each other task, the last started
    first, each step within its share of ``deadline``.

    Intake stops at once: one after another, on a loop busy with 50,000 devices, the
    collectors still running kept polling for 14 s after a SIGTERM while the ones before
    them stopped. The shares: each step may take what is left of the budget divided by the
    components still to stop (a step of several counts each of them), so a collector stuck
    on in-flight polls cannot eat the time the exporters need to flush, and what quick
    components leave unused passes on to the later ones (the flushers: Influx, alerting).
    A component still running at the end of its share is cancelled again (its in-flight
    work is abandoned: the second cancellation interrupts its own graceful wait) and gets
    :data:`OVERRUN_GRACE` to unwind.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    first = {id(component) for component in intake}
    pairs = list(reversed(list(zip(components, tasks, strict=True))))
    steps = [[pair for pair in pairs if id(pair[0]) in first]]
    steps += [[pair] for pair in pairs if id(pair[0]) not in first]
    left = len(pairs)
    for step in steps:
        if step:
            share = max(0.0, end - loop.time()) * len(step) / left
            await _stop_step(step, share)
            left -= len(step)


async def _stop_step(step: Sequence[tuple[Component, asyncio.Task[None]]],
                     share: float) -> None:
    running = {task for _, task in step if not task.done()}
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=share)
    overran = [(c, task) for c, task in step if task in running and not task.done()]
    for component, task in overran:
        log.warning("component did not stop in time; cancelling its work",
                    extra={"component": component.name, "seconds": round(share, 1)})
        task.cancel()
    if overran:
        await asyncio.wait({task for _, task in overran}, timeout=OVERRUN_GRACE)
    for component, task in step:
        if task in running:
            log.info("component stopped", extra={"component": component.name})


class ComponentFailed(Exception):
    """A component stopped on an error, already logged; ``pubnet run`` exits 1 on it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"component {name} failed")
        self.name = name


async def run_one(component: Component) -> None:
    """Run one component; log its failure once, as a log line rather than a traceback on
    stderr when the cause is the environment (a port in use, a file it cannot open)."""
    try:
        await component.run()
    except OSError as exc:  # the component has said what it could not do
        log.error("component failed", extra={"component": component.name, "error": str(exc)})
        raise ComponentFailed(component.name) from exc
    except Exception as exc:  # a bug: keep the traceback, in the log
        log.exception("component failed", extra={"component": component.name})
        raise ComponentFailed(component.name) from exc


def still_running() -> str:
    """Where each task other than the caller's waits, for the one log line that says why a
    stop overran its budget (``name@file:line``, comma-separated)."""
    current = asyncio.current_task()
    where = []
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        stack = task.get_stack(limit=1)
        frame = stack[-1] if stack else None
        place = (f"{frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno}"
                 if frame is not None else "?")
        where.append(f"{task.get_name()}@{place}")
    return ",".join(sorted(where)) or "-"


async def _any_done(tasks: Sequence[asyncio.Task[None]]) -> None:
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
