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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pubnet.state import StateStore

if TYPE_CHECKING:
    from inventory.model import Inventory
    from inventory.topology import Topology
    from pubnet.config import Config

log = logging.getLogger("pubnet.runtime")

DEFAULT_STOP_DEADLINE = 15.0
"""Seconds a component gets to finish and flush after it is asked to stop."""


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

    def waiting(self) -> list[str]:
        """Names of the components whose ``ready`` is not set, sorted."""
        return sorted(c.name for c in self._components if not c.ready.is_set())


async def run_components(
    components: Sequence[Component],
    stop: asyncio.Event,
    deadline: float = DEFAULT_STOP_DEADLINE,
) -> None:
    """Run until ``stop`` is set or a component fails, then stop in reverse order.

    A component that fails takes the others down with it (TaskGroup semantics): a half
    running monitor is worse than one that restarts under systemd.
    """
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_run_one(c), name=c.name) for c in components]
        for component in components:
            log.info("component started component=%s", component.name)
        stopper = group.create_task(stop.wait(), name="stop-signal")
        done_waiter = group.create_task(_any_done(tasks), name="watch-components")
        await asyncio.wait({stopper, done_waiter}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        done_waiter.cancel()
        for component, task in reversed(list(zip(components, tasks, strict=True))):
            if task.done():
                continue
            task.cancel()
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=deadline)
            except (asyncio.CancelledError, TimeoutError):
                if not task.done():
                    log.error("component did not stop in time component=%s", component.name)
            log.info("component stopped component=%s", component.name)


class ComponentFailed(Exception):
    """A component stopped on an error, already logged; ``pubnet run`` exits 1 on it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"component {name} failed")
        self.name = name


async def _run_one(component: Component) -> None:
    """Run one component; log its failure once, as a log line rather than a traceback on
    stderr when the cause is the environment (a port in use, a file it cannot open)."""
    try:
        await component.run()
    except OSError as exc:  # the component has said what it could not do
        log.error("component failed component=%s error=%s", component.name, exc)
        raise ComponentFailed(component.name) from exc
    except Exception as exc:  # a bug: keep the traceback, in the log
        log.exception("component failed component=%s", component.name)
        raise ComponentFailed(component.name) from exc


async def _any_done(tasks: Sequence[asyncio.Task[None]]) -> None:
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
