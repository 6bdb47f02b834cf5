"""What an HTTP request wakes runs next on the event loop, ahead of the callbacks waiting.

Why: asyncio runs, each turn, every callback that was ready when the turn began, in the
order they were scheduled; what they schedule waits for the next turn. At 100,000 devices
one process's loop is busy ~98 % and a turn takes 0.1–0.3 s. On Python 3.11 a request
waited for three of them before its handler ran: the turn that reads its bytes, the one
that wakes aiohttp's task for the connection, and the one that first runs the task
aiohttp creates for the request (3.12's eager tasks save that one). A kept-alive
Prometheus scrape took 0.4–1.2 s that way, where serving the compressed body takes
milliseconds.

So, while the listener (:mod:`pubnet.app.listener`) serves:

- the sockets of its connections are read first in a turn (:meth:`FastLane.read_first`):
  their readiness goes to the front of the loop's queue, where asyncio puts it behind every
  callback the previous turn scheduled;
- whatever a request's bytes wake (aiohttp's task for the connection) runs next
  (:meth:`FastLane.ahead`), and so does the first step of each task aiohttp creates for a
  connection or a request (the loop's task factory, :meth:`FastLane.installed`) and of the
  listener's own for a connection it accepted.

A kept-alive request is handled at the start of the turn after its bytes arrived (three
turns on before, at the end), a new connection's three turns later (seven before). With
turns of 0.2 s, kept-alive scrapes of a million series took 0.09 s at the median instead
of 0.69 s (``bench/exposition.py --busy``). Polls lose nothing: each callback overtaken
runs first in the next turn, the loop's work is the same, and the listener holds few
connections (its cap).

This reaches into asyncio's selector event loop: its queue of ready callbacks
(``BaseEventLoop._ready``, a deque), its selector (``_selector``) and what a selector key
holds for it (the reader's and writer's handles), all the same from 3.11 to 3.14. On
another loop (uvloop) nothing is reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
from collections import deque
from collections.abc import Coroutine, Iterator, Mapping
from types import CodeType
from typing import Any

from aiohttp.web_protocol import RequestHandler

TaskFactory = Any
"""``loop.set_task_factory``'s callable: ``(loop, coro)`` or ``(loop, coro, context=…)``."""

CONNECTION_TASK: CodeType = RequestHandler.start.__code__
"""aiohttp's task for one connection (its request loop): its first step goes to the front
of the queue, and so does the first step of every task it creates (a request's: the
middlewares, then the handler). Found by the code of a public method, not by aiohttp's
private request coroutine."""


class FastLane:
    """Moves the callbacks scheduled for an HTTP request to the front of one loop's queue.

    Moving callbacks forward leaves the last ones of the turn for the next, so a turn's
    callbacks may still be queued when the loop asks the selector again; asyncio never
    expects that, and would queue a descriptor's callback a second time while it still
    waits (a second ``accept`` for a future already answered: a connection taken and
    dropped). So the lane also sits in the loop's selector (:class:`_LaneSelector`) and
    leaves out what is still queued after a turn it reordered."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        ready = getattr(loop, "_ready", None)
        selector = getattr(loop, "_selector", None)
        usable = isinstance(ready, deque) and isinstance(selector, selectors.BaseSelector)
        self._ready: deque[asyncio.Handle] | None = ready if usable else None
        self._first: set[int] = set()
        """Descriptors whose readiness to read goes to the front of the queue."""
        self._installed = False
        self._depth = 0
        self._reordered = False
        """The queue was reordered since the selector was last asked."""

    @property
    def active(self) -> bool:
        """False on a loop whose queue this cannot reach: then nothing is reordered."""
        return self._ready is not None

    def read_first(self, fd: int) -> None:
        """While :meth:`installed`, ``fd``'s read callback runs first in the turn after it
        became readable. Only for a transport's socket, whose read callback stays for the
        connection's life (not a listening socket's one-shot ``accept``). Call
        :meth:`release` before the descriptor is closed."""
        self._first.add(fd)

    def release(self, fd: int) -> None:
        self._first.discard(fd)

    @contextlib.contextmanager
    def ahead(self) -> Iterator[None]:
        """Callbacks scheduled inside the block (on this thread, without awaiting) run
        before every callback already waiting, in the order they were scheduled. Only
        while :meth:`installed`; a block inside another is the outer one's."""
        ready = self._ready
        if ready is None or not self._installed or self._depth:
            yield
            return
        self._depth += 1
        before = len(ready)
        try:
            yield
        finally:
            self._depth -= 1
            added = len(ready) - before
            if added > 0:
                ready.extendleft([ready.pop() for _ in range(added)])
                self._reordered = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """While inside, aiohttp's connection and request tasks (:data:`CONNECTION_TASK`) take
        their first step ahead of the queue, :meth:`ahead` moves callbacks, and the
        descriptors given to :meth:`read_first` are read first in a turn. The loop's
        previous task factory, if any, still makes every task; it and the loop's selector
        are put back on leaving."""
        if self._ready is None or self._installed:
            yield
            return
        loop = self._loop
        previous: TaskFactory = loop.get_task_factory()
        selector: selectors.BaseSelector = loop._selector  # type: ignore[attr-defined]

        def factory(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any],
                    **options: Any) -> asyncio.Future[Any]:
            if getattr(coro, "cr_code", None) is not CONNECTION_TASK and \
                    not _in_connection_task(loop):
                return _made(previous, loop, coro, options)
            with self.ahead():
                return _made(previous, loop, coro, options)

        lane_selector = _LaneSelector(selector, self)
        loop._selector = lane_selector  # type: ignore[attr-defined]
        loop.set_task_factory(factory)  # type: ignore[arg-type]  # typeshed: no options
        self._installed = True
        try:
            yield
        finally:
            self._installed = False
            if loop.get_task_factory() is factory:
                loop.set_task_factory(previous)
            if getattr(loop, "_selector", None) is lane_selector:
                loop._selector = selector  # type: ignore[attr-defined]
            self._first.clear()

    def selected(self, events: list[tuple[selectors.SelectorKey, int]]
                 ) -> list[tuple[selectors.SelectorKey, int]]:
        """The selector's events as the loop should queue them: without the callbacks
        still queued from a reordered turn, and with the reads of :meth:`read_first`'s
        descriptors put at the front here."""
        ready = self._ready
        assert ready is not None
        queued: set[int] | None = None
        if self._reordered:
            self._reordered = False
            queued = {id(handle) for handle in ready}
        first = self._first
        if queued is None and not first:
            return events
        kept = []
        for key, mask in events:
            reader, writer = key.data  # asyncio's handles for the descriptor
            if queued is not None:
                if reader is not None and id(reader) in queued:
                    mask &= ~selectors.EVENT_READ
                if writer is not None and id(writer) in queued:
                    mask &= ~selectors.EVENT_WRITE
            if mask & selectors.EVENT_READ and key.fd in first and reader is not None \
                    and not reader.cancelled():
                ready.appendleft(reader)
                self._reordered = True
                mask &= ~selectors.EVENT_READ
            if mask:
                kept.append((key, mask))
        return kept


class _LaneSelector(selectors.BaseSelector):
    """The loop's selector, unchanged but for what :meth:`select` returns
    (:meth:`FastLane.selected`)."""

    def __init__(self, inner: selectors.BaseSelector, lane: FastLane) -> None:
        self._inner = inner
        self._lane = lane

    def select(self, timeout: float | None = None
               ) -> list[tuple[selectors.SelectorKey, int]]:
        return self._lane.selected(self._inner.select(timeout))

    def register(self, fileobj: Any, events: int, data: Any = None
                 ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def close(self) -> None:
        self._inner.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()


def _in_connection_task(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the task running now is aiohttp's for a connection."""
    task = asyncio.current_task(loop)
    return task is not None and \
        getattr(task.get_coro(), "cr_code", None) is CONNECTION_TASK


def _made(factory: TaskFactory, loop: asyncio.AbstractEventLoop,
          coro: Coroutine[Any, Any, Any], options: dict[str, Any]) -> asyncio.Future[Any]:
    """A task for ``coro`` as the loop would make it with ``factory`` (None: asyncio's).
    ``options``: what the loop passes a factory besides (3.11: ``context``; 3.13 on also
    ``name`` and ``eager_start``)."""
    if factory is None:
        return asyncio.Task(coro, loop=loop, **options)
    return factory(loop, coro, **options)  # type: ignore[no-any-return]
