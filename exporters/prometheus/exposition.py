"""The fleet's exposition, kept rendered between scrapes and updated incrementally.

A scrape (1) re-renders only devices whose :meth:`~pubnet.state.StateStore.device_version`
moved, on the event loop in slices that yield to it, so collectors keep running; then (2)
compresses, in worker threads, only the chunks whose bytes changed, and joins compressed
pieces. Families are blocks of per-device fragments, so all samples of a family come out
contiguous, as the text formats require, without sorting anything per scrape.

Each block is cut into chunks of about :data:`CHUNK_BYTES` of consecutive devices (in the
order they were first seen, which is about the order they are polled in, so one poll
interval's changes touch few chunks at a time). A chunk keeps its devices' fragments and one
compressed piece with its text's CRC-32 and length (:class:`gzipper.Piece`), never its
joined text: memory is the fragments plus about a seventh for the pieces. The sample lines
are the same in both text formats, so the pieces serve both; only the family headers differ.
The background render (:meth:`MetricsService.prerender_forever`) compresses changed chunks
too, so a scrape compresses only what changed in the last two seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from enum import StrEnum

from exporters.prometheus import gzipper
from exporters.prometheus.families import Family, FamilyTable
from exporters.prometheus.inventory_metrics import InventoryMetrics
from exporters.prometheus.render import DeviceRenderer, DropCounter
from inventory.model import Inventory
from pubnet.catalog import LINK_UP, LINK_UTILIZATION, SITE_INFO, SITE_UP
from pubnet.model import SeriesKey
from pubnet.state import StateStore


class Format(StrEnum):
    TEXT = "text"
    OPENMETRICS = "openmetrics"

    @property
    def content_type(self) -> str:
        if self is Format.OPENMETRICS:
            return "application/openmetrics-text; version=1.0.0; charset=utf-8"
        return "text/plain; version=0.0.4; charset=utf-8"


INVENTORY_KEY = ""
"""Fragment key of inventory-derived samples inside their family block (no device is '')."""


CHUNK_BYTES = 128 * 1024
"""Text per chunk: big enough to compress well (the DEFLATE window is 32 KiB) and to keep
the per-scrape work per chunk (a CRC combine) small, small enough that a changed device
costs little recompression."""


@dataclass(frozen=True, slots=True)
class _Compressed:
    generation: int
    piece: gzipper.Piece


@dataclass(slots=True, eq=False)
class _Chunk:
    """Consecutive devices' fragments of one family, and their compressed piece."""

    fragments: dict[str, bytes] = field(default_factory=dict)
    size: int = 0
    generation: int = 0
    compressed: _Compressed | None = None
    """Set by a worker thread; current while its generation is the chunk's."""


@dataclass(slots=True)
class _Block:
    """All fragments of one family, in chunks, and its compressed headers per format."""

    family: Family
    chunks: list[_Chunk] = field(default_factory=list)
    where: dict[str, _Chunk] = field(default_factory=dict)
    series: int = 0
    headers: dict[Format, gzipper.Piece] = field(default_factory=dict)

    def put(self, key: str, data: bytes) -> None:
        chunk = self.where.get(key)
        if chunk is None:
            if not self.chunks or self.chunks[-1].size >= CHUNK_BYTES:
                self.chunks.append(_Chunk())
            chunk = self.where[key] = self.chunks[-1]
        else:
            old = chunk.fragments[key]
            if old == data:
                return
            self.series -= old.count(b"\n")
            chunk.size -= len(old)
        chunk.fragments[key] = data
        chunk.size += len(data)
        chunk.generation += 1
        self.series += data.count(b"\n")

    def remove(self, key: str) -> None:
        chunk = self.where.pop(key, None)
        if chunk is None:
            return
        old = chunk.fragments.pop(key)
        self.series -= old.count(b"\n")
        chunk.size -= len(old)
        chunk.generation += 1
        if not chunk.fragments:
            self.chunks.remove(chunk)

    def header(self, fmt: Format) -> gzipper.Piece:
        piece = self.headers.get(fmt)
        if piece is None:
            piece = self.headers[fmt] = gzipper.Piece.of(
                self.family.header(fmt is Format.OPENMETRICS))
        return piece


@dataclass(slots=True, eq=False)
class _ChunkJob:
    """One chunk as an encode needs it, copied on the loop."""

    chunk: _Chunk
    generation: int
    fragments: list[bytes] | None
    """The chunk's text, when it must be compressed or a plain body is wanted."""
    compressed: _Compressed | None
    """The piece of this generation: current when the job was made, or compressed for it
    since (by whichever of the loop or a worker thread got there)."""
    previous: _Compressed | None = None
    """The chunk's piece of an older generation, which a scrape out of time serves."""

    def take_current(self) -> bool:
        """Adopt the chunk's piece if someone compressed this generation meanwhile."""
        current = self.chunk.compressed
        if self.compressed is None and current is not None and \
                current.generation == self.generation:
            self.compressed = current
        return self.compressed is not None

    def compress(self, level: int) -> None:
        assert self.fragments is not None
        done = _Compressed(self.generation,
                           gzipper.Piece.of(b"".join(self.fragments), level))
        self.compressed = done
        current = self.chunk.compressed
        if current is None or current.generation < done.generation:  # never an older one
            self.chunk.compressed = done


@dataclass(frozen=True, slots=True)
class _Job:
    """What the worker thread needs for one family, copied on the loop."""

    block: _Block
    header: gzipper.Piece
    chunks: list[_ChunkJob]

    @property
    def fresh(self) -> bool:
        """Every chunk has its compressed piece: nothing to join or compress again."""
        return all(c.fragments is None for c in self.chunks)


@dataclass(frozen=True, slots=True)
class RefreshStats:
    devices_rendered: int
    series_rendered: int


class FleetExposition:
    """Per-device cached rendering of the whole store, assembled family by family.

    Not thread-safe on the store side: :meth:`refresh` runs on the store's loop. Calls to
    :meth:`encode` (from a worker thread) must not overlap each other; the HTTP server holds
    one lock around refresh + encode.
    """

    YIELD_EVERY_SERIES = 10_000
    """Render about this many series (~20 ms on an idle core) between yields to the loop:
    on a loop busy with 50,000 devices' polls every yield costs a turn of all their
    callbacks, so slices much smaller than this make a scrape wait on them."""
    COMPRESS_SLICE_BYTES = 1 << 20
    """Text compressed on the loop between yields by :meth:`compress_on_loop` (~7 ms)."""

    def __init__(
        self,
        store: StateStore,
        inventory: Inventory | None = None,
        *,
        executor: Executor | None = None,
        gzip_level: int = gzipper.DEFAULT_LEVEL,
    ) -> None:
        self._store = store
        self._families = FamilyTable()
        self.drops = DropCounter()
        inv = inventory or Inventory()
        self._renderer = DeviceRenderer(self._families, self.drops)
        self._inventory = InventoryMetrics(inv, store) if inv.sites or inv.links else None
        self._versions: dict[str, int] = {}
        self._device_families: dict[str, tuple[str, ...]] = {}
        self._blocks: dict[str, _Block] = {}
        self._executor = executor
        self._gzip_level = gzip_level

    # -- step 1: on the loop ---------------------------------------------------------------

    async def refresh(self, budget: float | None = None,
                      give_way: Callable[[], bool] | None = None) -> RefreshStats:
        """Re-render changed devices, yielding to the loop every few thousand series.

        With a ``budget`` (seconds) it stops rendering once that has passed, at a yield:
        the devices left keep their previous fragments until the next refresh. A scrape
        gives one, so that on a saturated loop it answers with what the background render
        has (seconds old) instead of not at all. ``give_way`` stops it likewise, at the
        first yield where it returns True: the background render gives way to a scrape
        waiting for it."""
        deadline = None if budget is None else time.monotonic() + budget
        steps = self._refresh_steps(deadline, give_way)
        while True:
            try:
                step = next(steps)
            except StopIteration as done:
                stats: RefreshStats = done.value
                return stats
            del step
            await asyncio.sleep(0)

    def refresh_now(self) -> RefreshStats:
        """:meth:`refresh` without yielding (benchmarks, tests)."""
        steps = self._refresh_steps()
        while True:
            try:
                next(steps)
            except StopIteration as done:
                stats: RefreshStats = done.value
                return stats

    def _refresh_steps(self, deadline: float | None = None,
                       give_way: Callable[[], bool] | None = None,
                       ) -> Generator[None, None, RefreshStats]:
        store = self._store
        statuses = store.statuses()
        devices = list(store.devices_with_series())
        if len(statuses) > 0:
            with_series = set(devices)
            devices.extend(d for d in list(statuses) if d not in with_series)
        versions = self._versions
        changed: list[str] = []
        rendered = 0
        series_rendered = 0
        since_yield = 0
        for device in devices:
            version = store.device_version(device)
            if versions.get(device) == version:
                continue
            series = store.device_series(device)
            self._render_device(device, series.values_by_key(), version)
            changed.append(device)
            rendered += 1
            series_rendered += len(series)
            since_yield += len(series) + 1
            if since_yield >= self.YIELD_EVERY_SERIES:
                since_yield = 0
                if deadline is not None and time.monotonic() > deadline:
                    break
                yield None
                if give_way is not None and give_way():
                    break
        if len(versions) > len(devices):
            for gone in set(versions).difference(devices):
                self._remove_device(gone)
        if self._inventory is not None:
            self._inventory.changed(changed)
        self._refresh_inventory()
        return RefreshStats(rendered, series_rendered)

    def _render_device(
        self, device: str, series: Iterable[tuple[SeriesKey, float]], version: int
    ) -> None:
        fragments = self._renderer.render(device, series)
        blocks = self._blocks
        for name, data in fragments.items():
            block = blocks.get(name)
            if block is None:
                family = self._families.get(name)
                assert family is not None  # the renderer drops invalid names
                block = blocks[name] = _Block(family)
            block.put(device, data)
        for name in self._device_families.get(device, ()):
            if name not in fragments:
                blocks[name].remove(device)
        self._device_families[device] = tuple(fragments)
        self._versions[device] = version

    def _remove_device(self, device: str) -> None:
        for name in self._device_families.pop(device, ()):
            self._blocks[name].remove(device)
        self._versions.pop(device, None)

    def _refresh_inventory(self) -> None:
        if self._inventory is None:
            return
        link_up, link_util = self._inventory.links()
        for name, data in (
            (SITE_INFO, self._inventory.site_info),
            (SITE_UP, self._inventory.site_up()),
            (LINK_UP, link_up),
            (LINK_UTILIZATION, link_util),
        ):
            block = self._blocks.get(name)
            if block is None:
                family = self._families.get(name)
                assert family is not None
                block = self._blocks[name] = _Block(family)
            if data:
                block.put(INVENTORY_KEY, data)
            else:
                block.remove(INVENTORY_KEY)

    # -- step 2: copy on the loop, encode in a thread ----------------------------------------

    def jobs(self, fmt: Format, gzip: bool = True) -> list[_Job]:
        """Cheap copies, on the loop, of what an encode of ``fmt`` needs: every chunk's
        current piece, and the fragments of chunks whose piece is stale (of all chunks
        when the body is to be plain)."""
        jobs = []
        for name in sorted(self._blocks):
            block = self._blocks[name]
            if not block.where:
                continue
            chunks = []
            for chunk in block.chunks:
                previous = compressed = chunk.compressed
                if compressed is not None and compressed.generation != chunk.generation:
                    compressed = None
                fragments = (list(chunk.fragments.values())
                             if compressed is None or not gzip else None)
                chunks.append(_ChunkJob(chunk, chunk.generation, fragments, compressed,
                                        previous))
            jobs.append(_Job(block, block.header(fmt), chunks))
        return jobs

    def compress(self, jobs: list[_Job], parallel: bool = True) -> int:
        """Compress the chunks that have no piece of their generation yet, in the calling
        (worker) thread, and with ``parallel`` in the executor's other threads too;
        returns how many. What the loop changed since :meth:`jobs` stays stale. The
        background render compresses in one thread, so that a scrape's encode never waits
        behind it for a worker."""
        todo = [c for job in jobs for c in job.chunks
                if c.fragments is not None and not c.take_current()]
        level = self._gzip_level
        if parallel and self._executor is not None and len(todo) > 1:
            list(self._executor.map(lambda c: c.compress(level), todo))
        else:
            for chunk in todo:
                chunk.compress(level)
        return len(todo)

    async def compress_on_loop(self, jobs: list[_Job], budget: float | None = None) -> int:
        """:meth:`compress` on the event loop, yielding every ~1 MiB: a scrape's way. A
        worker thread's zlib calls each wait up to the interpreter's switch interval for
        the GIL while the loop is busy polling, so the few chunks a scrape finds changed
        are cheaper here (about a millisecond each) than there.

        Past ``budget`` seconds, a stale chunk that has an older piece is served with it
        (the background render compresses it soon); only a chunk never compressed is."""
        done = 0
        since_yield = 0
        level = self._gzip_level
        deadline = None if budget is None else time.monotonic() + budget
        for job in jobs:
            for chunk in job.chunks:
                if chunk.fragments is None or chunk.take_current():
                    continue
                if deadline is not None and chunk.previous is not None and \
                        time.monotonic() > deadline:
                    chunk.compressed = chunk.previous
                    continue
                chunk.compress(level)
                done += 1
                since_yield += chunk.chunk.size
                if since_yield >= self.COMPRESS_SLICE_BYTES:
                    since_yield = 0
                    await asyncio.sleep(0)
        return done

    def encode(self, fmt: Format, jobs: list[_Job], gzip: bool, tail: bytes = b"") -> bytes:
        """The body: plain, or gzip joined from compressed pieces; runs in a worker thread
        and touches no store data.

        ``tail`` (pubnet's own health families, and ``# EOF`` for OpenMetrics) is appended
        after the fleet's families.
        """
        if not gzip:
            out: list[bytes] = []
            for job in jobs:
                out.append(job.block.family.header(fmt is Format.OPENMETRICS))
                for chunk in job.chunks:
                    assert chunk.fragments is not None
                    out.extend(chunk.fragments)
            out.append(tail)
            return b"".join(out)
        self.compress(jobs)
        pieces: list[gzipper.Piece] = []
        for job in jobs:
            pieces.append(job.header)
            for chunk in job.chunks:
                assert chunk.compressed is not None
                pieces.append(chunk.compressed.piece)
        if tail:
            pieces.append(gzipper.Piece.of(tail, self._gzip_level))
        return gzipper.join(pieces)

    # -- for health metrics ----------------------------------------------------------------

    def series_count(self) -> int:
        return sum(block.series for block in self._blocks.values())

    def render_sync(self, fmt: Format, gzip: bool, tail: bytes = b"") -> bytes:
        """Refresh and encode in the calling thread (benchmarks, tests, ``pubnet poll``)."""
        self.refresh_now()
        return self.encode(fmt, self.jobs(fmt, gzip), gzip, tail)

    def family_names(self) -> list[str]:
        return [name for name, block in self._blocks.items() if block.where]
