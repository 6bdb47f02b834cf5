"""``pubnet`` with its event loop timed: what holds the loop while a scrape or an alert waits.

``python bench/looptrace.py OUT [--census] run --config pubnet.yaml`` runs the CLI as usual
and times every turn of the main thread's asyncio loop (the wait in ``select`` apart from the
callbacks run) and every callback. A scrape needs four or five turns before pubnet's
handler runs (accept, the transport, the request's bytes, the handler's task), so on a
loop whose turns are long a scrape waits in proportion, whatever its own work; one slow
callback makes a long turn for everything queued behind it. Every 30 s and at exit it
writes:

- ``OUT``: turn length p50/p90/p99/max and the loop's busy share, since start and over the
  last 60 s, and the callbacks of 5 ms or more summed by what they were (a task's name and
  coroutine, and where it is suspended now; otherwise the callback's qualified name);
- ``OUT.turns.tsv``: every turn of 50 ms or more: wall time of its start, seconds running
  callbacks, seconds in ``select`` before them, callbacks run, and its callbacks of 5 ms
  or more (``what=ms``), to set beside ``samples.tsv``'s scrape times;
- ``OUT.bodies.tsv``: every ``/metrics`` body written by a worker thread: wall time the
  thread began, seconds writing it, ``sendmsg`` calls, bytes;
- ``OUT.gc.tsv``: every collection of the cyclic garbage collector of 5 ms or more, in any
  thread (it stops them all): wall time it began, generation, seconds, objects collected;
  ``OUT`` sums all of them by generation;
- ``OUT.census.txt``, with ``--census`` only: what the young and middle collections are
  about to walk, counted by type (see :class:`GcCensus`).

``bench/fleet.py --loop-trace`` uses it (``--gc-census`` with ``--census``). The timing
costs a few per cent of the loop.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import selectors
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SLOW_CALLBACK = 0.005
"""Seconds from which a callback is named in the trace."""
LONG_TURN = 0.05
"""Seconds from which a turn gets a line in ``OUT.turns.tsv``."""
WRITE_EVERY = 30.0
RECENT = 60.0
"""Seconds of turns the recent figures cover."""


def describe(handle: asyncio.Handle) -> str:
    """What a callback was: for a task's step, the task and where it waits now."""
    callback: Any = handle._callback
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro: Any = owner.get_coro()
        where = ""
        frame_owner = coro
        while frame_owner is not None:  # the innermost awaiting coroutine
            frame = getattr(frame_owner, "cr_frame", None) or getattr(frame_owner, "gi_frame",
                                                                      None)
            if frame is not None:
                where = f"{frame.f_code.co_qualname}:{frame.f_lineno}"
            frame_owner = getattr(frame_owner, "cr_await", None) or getattr(
                frame_owner, "gi_yieldfrom", None)
        name = owner.get_name()
        if name.startswith("Task-"):
            name = "Task"
        return f"{name}[{getattr(coro, '__qualname__', '?')}]@{where or 'done'}"
    return getattr(callback, "__qualname__", None) or repr(callback)


class LoopTrace:
    """Turns and slow callbacks of one thread's loop, kept in memory, written out by
    :meth:`write`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.thread = threading.get_ident()
        self.started = time.time()
        self.turns: list[float] = []
        self.busy = 0.0
        # Two deques of floats, not one of (wall, seconds) tuples: a tuple per turn is
        # ~60,000 objects a minute for the collector to walk, the trace inflating what
        # it measures (floats are not tracked).
        self.recent_walls: deque[float] = deque()
        self.recent: deque[float] = deque()
        self.slow: Counter[str] = Counter()
        self.slow_count: Counter[str] = Counter()
        self.lines: list[str] = []
        self._selected = 0.0
        self._callbacks = 0
        self._named: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        self.gc = GcTrace(out.with_name(out.name + ".gc.tsv"))

    def selected(self, seconds: float) -> None:
        if threading.get_ident() == self.thread:
            self._selected = seconds

    def callback(self, handle: asyncio.Handle, seconds: float) -> None:
        self._callbacks += 1
        if seconds >= SLOW_CALLBACK:
            what = describe(handle)
            self._named.append((what, seconds))
            with self._lock:
                self.slow[what] += seconds
                self.slow_count[what] += 1

    def turn(self, wall: float, seconds: float) -> None:
        """One turn ended: ``seconds`` running callbacks (its select apart)."""
        with self._lock:
            self.turns.append(seconds)
            self.busy += seconds
            self.recent_walls.append(wall)
            self.recent.append(seconds)
            while self.recent_walls and self.recent_walls[0] < wall - RECENT:
                self.recent_walls.popleft()
                self.recent.popleft()
            if seconds >= LONG_TURN:
                named = ",".join(f"{what}={ms * 1000:.0f}" for what, ms in
                                 sorted(self._named, key=lambda n: -n[1])[:8])
                self.lines.append(f"{wall:.3f}\t{seconds:.3f}\t{self._selected:.3f}\t"
                                  f"{self._callbacks}\t{named}\n")
        self._callbacks = 0
        self._named = []

    def write(self) -> None:
        with self._lock:
            turns = sorted(self.turns)
            recent = sorted(self.recent)
            busy = self.busy
            slow = self.slow.most_common(40)
            counts = dict(self.slow_count)
            lines, self.lines = self.lines, []
        elapsed = max(1e-9, time.time() - self.started)

        def quantiles(values: list[float]) -> str:
            if not values:
                return "none"
            pick = [values[min(len(values) - 1, int(q * len(values)))]
                    for q in (0.5, 0.9, 0.99)]
            return (f"{len(values)} turns, p50 {pick[0] * 1000:.1f} ms, p90 "
                    f"{pick[1] * 1000:.1f} ms, p99 {pick[2] * 1000:.1f} ms, max "
                    f"{values[-1] * 1000:.1f} ms")

        text = [f"since start ({elapsed:.0f} s): {quantiles(turns)}; busy {busy / elapsed:.0%}",
                f"last {RECENT:.0f} s: {quantiles(recent)}; busy "
                f"{sum(recent) / RECENT:.0%}",
                f"-- callbacks of {SLOW_CALLBACK * 1000:.0f} ms or more, seconds summed "
                "since start (count)"]
        text += [f"{seconds:9.3f} ({counts[what]:>6})  {what}" for what, seconds in slow]
        text += self.gc.summary()
        self.gc.write()
        self.out.write_text("\n".join(text) + "\n", encoding="utf-8")
        with self.out.with_name(self.out.name + ".turns.tsv").open("a",
                                                                    encoding="utf-8") as tsv:
            tsv.writelines(lines)


def install(trace: LoopTrace) -> None:
    """Wrap the loop's turn, its select and every callback's run."""
    run_once = asyncio.base_events.BaseEventLoop._run_once
    run_handle = asyncio.events.Handle._run
    select = selectors.EpollSelector.select
    clock = time.perf_counter

    def timed_select(self: selectors.EpollSelector, timeout: float | None = None
                     ) -> list[tuple[selectors.SelectorKey, int]]:
        started = clock()
        try:
            return select(self, timeout)
        finally:
            trace.selected(clock() - started)

    def timed_turn(self: asyncio.base_events.BaseEventLoop) -> None:
        wall = time.time()
        started = clock()
        try:
            run_once(self)
        finally:
            if threading.get_ident() == trace.thread:
                trace.turn(wall, clock() - started - trace._selected)

    def timed_run(self: asyncio.Handle) -> None:
        started = clock()
        try:
            run_handle(self)
        finally:
            if threading.get_ident() == trace.thread:
                trace.callback(self, clock() - started)

    selectors.EpollSelector.select = timed_select  # type: ignore[method-assign]
    asyncio.base_events.BaseEventLoop._run_once = timed_turn  # type: ignore[method-assign]
    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]


def trace_bodies(out: Path) -> None:
    """Time each body :func:`exporters.prometheus.endpoint.send_body` writes: when its
    worker thread started, seconds writing it, ``sendmsg`` calls."""
    from exporters.prometheus import endpoint

    def timed_send_body(sock: socket.socket, parts: Sequence[bytes],
                        closing: Callable[[], bool]) -> None:
        wall = time.time()
        started = time.perf_counter()
        calls = 0

        class Counted:
            """The socket, its ``send`` calls counted."""

            def __enter__(self) -> Counted:
                return self

            def __exit__(self, *exc: object) -> None:
                sock.close()

            def settimeout(self, seconds: float) -> None:
                sock.settimeout(seconds)

            def sendmsg(self, buffers: list[memoryview]) -> int:
                nonlocal calls
                calls += 1
                return sock.sendmsg(buffers)

        try:
            send_body(Counted(), parts, closing)  # type: ignore[arg-type]
        finally:
            with out.open("a", encoding="utf-8") as tsv:
                tsv.write(f"{wall:.3f}\t{time.perf_counter() - started:.3f}\t{calls}\t"
                          f"{sum(len(part) for part in parts)}\n")

    send_body = endpoint.send_body
    endpoint.send_body = timed_send_body  # type: ignore[assignment]


class GcTrace:
    """Every cyclic collection, timed through ``gc.callbacks``: count, seconds and the
    longest by generation; those of ``SLOW_CALLBACK`` or more also one line each."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.count: Counter[int] = Counter()
        self.seconds: dict[int, float] = {}
        self.longest: dict[int, float] = {}
        self.lines: list[str] = []
        self._started = 0.0
        self._wall = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._wall = time.time()
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        generation = info["generation"]
        self.count[generation] += 1
        self.seconds[generation] = self.seconds.get(generation, 0.0) + seconds
        self.longest[generation] = max(self.longest.get(generation, 0.0), seconds)
        if seconds >= SLOW_CALLBACK:
            self.lines.append(f"{self._wall:.3f}\t{generation}\t{seconds:.4f}\t"
                              f"{info['collected']}\n")

    def summary(self) -> list[str]:
        return [f"gc generation {g}: {self.count[g]} collections, {self.seconds[g]:.2f} s, "
                f"longest {self.longest[g] * 1000:.0f} ms" for g in sorted(self.count)]

    def write(self) -> None:
        lines, self.lines = self.lines, []
        with self.out.open("a", encoding="utf-8") as tsv:
            tsv.writelines(lines)


CENSUS_EVERY = 30.0
"""Seconds between two censuses of one generation."""


class GcCensus:
    """At the start of a young or middle collection, at most every :data:`CENSUS_EVERY`
    seconds per generation, the objects of that generation counted by type (a tuple by
    its items' types), the 25 commonest written to ``out``.

    This is how session 20 found what the collections walked at 100,000 devices
    (docs/benchmarks.md): the subscribers' queued observations in the young generation, a
    template cache rebuilt every other round in the middle one. Types only: the repr of
    one sample can be hundreds of megabytes (a list of the exposition's chunks). A census
    of 200,000 objects stops every thread for ~0.1 s, and is not counted in the
    collection's time; still, a run with it is a probe, not a benchmark.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self._last: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        generation = info["generation"]
        if phase != "start" or generation > 1:
            return
        now = time.monotonic()
        if now - self._last.get(generation, -CENSUS_EVERY) < CENSUS_EVERY:
            return
        self._last[generation] = now
        counts: Counter[str] = Counter()
        for obj in gc.get_objects(generation):
            kind = type(obj)
            if kind is tuple:  # its referents: a tuple still being built has NULL items,
                # which gc.get_objects shows and indexing or slicing crashes on (a 100,000-
                # device run segfaulted so in session 24); traversal skips them
                items = gc.get_referents(obj)[::-1][:5]  # traversed last item first
                counts["tuple(" + ",".join(type(item).__name__ for item in items) + ")"] += 1
            else:
                counts[kind.__qualname__] += 1
        with self.out.open("a", encoding="utf-8") as census:
            census.write(f"== {time.time():.3f} generation {generation}: "
                         f"{counts.total()} objects\n")
            census.writelines(f"{n:9d} {what}\n" for what, n in counts.most_common(25))


def write_forever(trace: LoopTrace) -> None:
    while True:
        time.sleep(WRITE_EVERY)
        trace.write()


def main() -> int:
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    census = argv[:1] == ["--census"]
    if census:
        argv = argv[1:]
    for suffix in (".turns.tsv", ".gc.tsv", ".census.txt"):
        out.with_name(out.name + suffix).unlink(missing_ok=True)
    trace = LoopTrace(out)
    install(trace)
    if census:  # before the timing: a census is not part of the collection it precedes
        gc.callbacks.append(GcCensus(out.with_name(out.name + ".census.txt")))
    gc.callbacks.append(trace.gc)
    atexit.register(trace.write)
    threading.Thread(target=write_forever, args=(trace,), daemon=True).start()
    bodies = out.with_name(out.name + ".bodies.tsv")
    bodies.unlink(missing_ok=True)
    trace_bodies(bodies)
    from pubnet.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
