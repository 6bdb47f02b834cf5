"""The fleet's exposition, kept rendered between scrapes and updated incrementally.

A scrape (1) re-renders only devices whose :meth:`~pubnet.state.StateStore.device_version`
moved, on the event loop in slices that yield to it, so collectors keep running; then (2)
compresses, in worker threads, only the chunks whose bytes changed, and joins compressed
pieces. Families are blocks of per-device fragments, so all samples of a family come out
contiguous, as the text formats require, without sorting anything per scrape.

Each block is cut into chunks of about :data:`CHUNK_BYTES` of consecutive devices (in the
order they were first seen, which is about the order they are polled in, so one poll
interval's changes touch few chunks at a time). A chunk keeps only one compressed piece
with its text's CRC-32 and length (:class:`gzipper.Piece`) and its layout (which device's
fragment is where, how long), plus the fragments that changed since it was compressed; a
new piece is spliced from the old one's inflated text and those. Per device the exposition
keeps where its fragments are and their hashes (an unchanged fragment changes nothing).
Memory is about a seventh of the text (~25 bytes per series with the layouts, against ~95
when every fragment was kept); the price is an inflate per recompressed chunk (about a
third of its compression) and a plain body inflating every piece. The sample lines are the
same in both text formats, so the pieces serve both; only the family headers differ. The
background render (:meth:`MetricsService.prerender_forever`) compresses changed chunks too,
so a scrape compresses only what changed in the last two seconds.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate
from operator import itemgetter
from typing import cast

from exporters.prometheus import gzipper
from exporters.prometheus.families import Family, FamilyTable, asked_for
from exporters.prometheus.inventory_metrics import InventoryMetrics
from exporters.prometheus.render import DeviceRenderer, DropCounter, Rendered
from inventory.model import Inventory
from pubnet.catalog import LINK_UP, LINK_UTILIZATION, SITE_INFO, SITE_UP
from pubnet.derive import Derivation
from pubnet.state import SeriesView, StateStore

_FAMILY = itemgetter(0)
"""A :data:`~exporters.prometheus.render.Rendered`'s family name."""


class Format(StrEnum):
    TEXT = "text"
    OPENMETRICS = "openmetrics"

    @property
    def content_type(self) -> str:
        if self is Format.OPENMETRICS:
            return "application/openmetrics-text; version=1.0.0; charset=utf-8"
        return "text/plain; version=0.0.4; charset=utf-8"


INVENTORY_KEY = ""
"""Fragment key of inventory-derived samples inside their family block (no device is ''),
and the prefix of their slices' keys (``\\x000``, ``\\x001``…: no device id has a NUL)."""


CHUNK_BYTES = 128 * 1024
"""Text per chunk: big enough to compress well (the DEFLATE window is 32 KiB) and to keep
the per-scrape work per chunk (a CRC combine) small, small enough that a changed device
costs little recompression."""


@dataclass(frozen=True, slots=True)
class _Compressed:
    """A chunk's text of one generation, compressed, and whose fragment is where in it:
    its devices in order with their fragments' lengths, from which the next generation is
    spliced (the text itself is not kept)."""

    generation: int
    piece: gzipper.Piece
    devices: tuple[str, ...]
    lengths: array[int]

    def text(self) -> bytes:
        return gzipper.inflate_piece(self.piece.deflated)


_Change = tuple[int, bytes | None]
"""(chunk generation when it changed, the device's new fragment; None once it left)."""


@dataclass(slots=True, eq=False)
class _Chunk:
    """Consecutive devices' fragments of one family: one compressed piece, and the
    fragments that changed since it was compressed."""

    pending: dict[str, _Change] = field(default_factory=dict)
    """Changed since ``compressed``; pruned on the loop once a newer piece holds them."""
    size: int = 0
    """Bytes of text, about: where the next new device goes."""
    devices: int = 0
    generation: int = 0
    compressed: _Compressed | None = None
    """Set by a worker thread or the loop; current while its generation is the chunk's."""
    settled: int = 0
    """The generation of the piece ``pending`` was last pruned against."""

    def change(self, key: str, data: bytes | None) -> None:
        self.generation += 1
        self.pending[key] = (self.generation, data)

    def settle(self) -> None:
        """Forget the pending fragments the compressed piece holds (on the loop only)."""
        done = self.compressed
        if done is None or done.generation <= self.settled:
            return
        self.settled = limit = done.generation
        if limit >= self.generation:  # the piece holds every change: the usual case
            self.pending = {}
        else:
            self.pending = {key: change for key, change in self.pending.items()
                            if change[0] > limit}
        self.size = done.piece.length


@dataclass(slots=True)
class _Block:
    """All fragments of one family, in chunks, and its compressed headers per format."""

    family: Family
    chunks: list[_Chunk] = field(default_factory=list)
    headers: dict[Format, gzipper.Piece] = field(default_factory=dict)

    def add(self, key: str, data: bytes, alone: bool = False) -> _Chunk:
        """A fragment of a device new to this family, at the end; its chunk (a new one
        when ``alone``: an inventory slice, which may be empty now and full later)."""
        if not self.chunks or self.chunks[-1].size >= CHUNK_BYTES or alone:
            self.chunks.append(_Chunk())
        chunk = self.chunks[-1]
        chunk.devices += 1
        chunk.size += len(data)
        chunk.change(key, data)
        return chunk

    def remove(self, key: str, chunk: _Chunk) -> None:
        chunk.devices -= 1
        if chunk.devices == 0:
            self.chunks.remove(chunk)
        else:
            chunk.change(key, None)

    def header(self, fmt: Format) -> gzipper.Piece:
        piece = self.headers.get(fmt)
        if piece is None:
            piece = self.headers[fmt] = gzipper.Piece.of(
                self.family.header(fmt is Format.OPENMETRICS))
        return piece


@dataclass(slots=True, eq=False)
class _Rows:
    """Where one device's fragments are: per family (in ``families`` order) its chunk, its
    signature (see :meth:`DeviceRenderer.render_changed`; an inventory fragment's hash),
    which tells an unchanged family without keeping its text, and its lines."""

    families: tuple[str, ...]
    chunks: list[_Chunk]
    hashes: array[int]
    counts: array[int]
    lines: int


def _splice(base: _Compressed | None, pending: Mapping[str, _Change]
            ) -> tuple[bytes, tuple[str, ...], array[int]]:
    """The text of ``base`` with the ``pending`` fragments in place (new devices at the
    end, removed ones out), and its layout; runs in a worker thread or on the loop.

    Python work is per changed device, not per device of the chunk: positions and offsets
    come from C-level ``dict(zip(...))`` and ``accumulate``, unchanged runs are sliced
    out of the old text as they are, and the layout's device tuple is reused."""
    if base is None:
        fresh = [(device, data) for device, (_, data) in pending.items() if data is not None]
        return (b"".join(data for _, data in fresh), tuple(device for device, _ in fresh),
                array("I", (len(data) for _, data in fresh)))
    devices = base.devices
    position = dict(zip(devices, range(len(devices)), strict=True))
    indexes = list(map(position.get, pending))
    maybe = [change[1] for change in pending.values()]
    if None in maybe:
        return _splice_slowly(base, pending)
    datas = cast(list[bytes], maybe)
    added: list[tuple[str, bytes]] = []
    replaced: list[tuple[int, bytes]]
    if None in indexes:
        added = [(device, data) for device, index, data
                 in zip(pending, indexes, datas, strict=True) if index is None]
        replaced = sorted((index, data) for index, data in zip(indexes, datas, strict=True)
                          if index is not None)
    else:  # indexes differ: sorting never compares the bytes
        replaced = sorted(zip(cast(list[int], indexes), datas, strict=True))
    if len(replaced) == len(devices) and not added:  # every fragment new: no inflating
        return (b"".join(data for _, data in replaced), devices,
                array("I", (len(data) for _, data in replaced)))
    old = memoryview(base.text())
    lengths = array("I", base.lengths)
    starts = list(accumulate(lengths, initial=0))
    parts: list[bytes | memoryview] = []
    cut = 0
    for index, data in replaced:
        parts.append(old[cut:starts[index]])
        parts.append(data)
        cut = starts[index + 1]
        lengths[index] = len(data)
    parts.append(old[cut:])
    for _, data in added:
        parts.append(data)
        lengths.append(len(data))
    if added:
        devices = devices + tuple(device for device, _ in added)
    return b"".join(parts), devices, lengths


def _splice_slowly(base: _Compressed, pending: Mapping[str, _Change]
                   ) -> tuple[bytes, tuple[str, ...], array[int]]:
    """:func:`_splice` when devices left the chunk (rare: a reload), device by device."""
    devices: list[str] = []
    lengths = array("I")
    parts: list[bytes | memoryview] = []
    placed: set[str] = set()
    old = memoryview(base.text())
    pos = 0
    for device, length in zip(base.devices, base.lengths, strict=True):
        change = pending.get(device)
        data = old[pos:pos + length] if change is None else change[1]
        pos += length
        if change is not None:
            placed.add(device)
        if data is not None:
            parts.append(data)
            devices.append(device)
            lengths.append(len(data))
    for device, (_, data) in pending.items():
        if data is not None and device not in placed:
            parts.append(data)
            devices.append(device)
            lengths.append(len(data))
    return b"".join(parts), tuple(devices), lengths


@dataclass(slots=True, eq=False)
class _ChunkJob:
    """One chunk as an encode needs it, copied on the loop."""

    chunk: _Chunk
    generation: int
    base: _Compressed | None
    """The chunk's piece when the job was made (maybe of an older generation): what a
    new piece is spliced from, and what a scrape out of time serves."""
    pending: dict[str, _Change] | None
    """The fragments changed since ``base``, when the chunk's text is wanted (its piece
    is stale, or a plain body is wanted); None when ``compressed`` will do."""
    compressed: _Compressed | None
    """The piece of this generation: current when the job was made, or compressed for it
    since (by whichever of the loop or a worker thread got there)."""

    def take_current(self) -> bool:
        """Adopt the chunk's piece if someone compressed this generation meanwhile."""
        current = self.chunk.compressed
        if self.compressed is None and current is not None and \
                current.generation == self.generation:
            self.compressed = current
        return self.compressed is not None

    def text(self) -> bytes:
        assert self.pending is not None
        return _splice(self.base, self.pending)[0]

    def compress(self, level: int) -> None:
        assert self.pending is not None
        text, devices, lengths = _splice(self.base, self.pending)
        done = _Compressed(self.generation, gzipper.Piece.of(text, level), devices, lengths)
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
        return all(c.pending is None for c in self.chunks)


@dataclass(frozen=True, slots=True)
class RefreshStats:
    devices_rendered: int
    series_rendered: int
    caught_up: bool = True
    """Every device was looked at (False: stopped by its budget or to give way; the next
    refresh goes on from where this one stopped)."""


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
    YIELD_EVERY_SITES_AND_LINKS = 3_000
    """Sites and links recomputed between yields (~20 ms, as :attr:`YIELD_EVERY_SERIES`)."""
    COMPRESS_SLICE_BYTES = 1 << 20
    """Text compressed on the loop between yields by :meth:`compress_on_loop` (~7 ms)."""

    def __init__(
        self,
        store: StateStore,
        inventory: Inventory | None = None,
        *,
        executor: Executor | None = None,
        gzip_level: int = gzipper.DEFAULT_LEVEL,
        derivation: Derivation | None = None,
    ) -> None:
        """``derivation``: the app's index of ``inventory`` (shared with the other
        components; built here when not given)."""
        self._store = store
        self._families = FamilyTable()
        self.drops = DropCounter()
        inv = inventory or Inventory()
        self._renderer = DeviceRenderer(self._families, self.drops)
        self._inventory = (InventoryMetrics(inv, store, derivation)
                           if inv.sites or inv.links else None)
        self._versions: dict[str, int] = {}
        self._lap: list[str] = []
        """The devices in store order, as the current lap over them found them."""
        self._lap_at = 0
        """The next device of :attr:`_lap` to look at: a refresh stopped by its budget (or a
        scrape) goes on from here, so that on a saturated loop, where no refresh gets through
        all devices, every device still gets its turn (from the first device each time, the
        later ones were never rendered again)."""
        self._rows: dict[str, _Rows] = {}
        self._family_tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._slice_keys: list[str] = []
        self._slices_put: list[dict[str, bytes]] = []
        self._site_info_put: bytes | None = None
        self._blocks: dict[str, _Block] = {}
        self._lines = 0
        self._executor = executor
        self._gzip_level = gzip_level
        self._stopping = False
        """Set by :meth:`stop`: a background compression in a worker thread ends at its next
        chunk instead of finishing a pass (seconds at 100,000 devices) that the process,
        stopping, would wait for at exit and never serve."""

    @property
    def gzip_level(self) -> int:
        return self._gzip_level

    def stop(self) -> None:
        """End background compressions early (see :attr:`_stopping`); scrapes still work."""
        self._stopping = True

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
        """Render the devices whose version moved, going on from where the last refresh
        stopped, until a lap begun here has looked at every device (or the budget, or
        ``give_way``, stops it). Several refreshes may take turns (the background render
        waits at a yield while a scrape renders): each reads where the lap is after a
        yield."""
        versions = self._versions
        device_version = self._store.device_version
        device_series = self._store.device_series
        changed: list[str] = []
        rendered = 0
        series_rendered = 0
        since_yield = 0
        lap, at = self._lap, self._lap_at
        began = False
        caught_up = True
        while True:
            if at >= len(lap):
                if began:
                    break
                lap, at, began = self._begin_lap(), 0, True
                if not lap:
                    break
            device = lap[at]
            at += 1
            version = device_version(device)
            if versions.get(device) == version:
                continue
            series = device_series(device)
            self._render_device(device, series, version)
            changed.append(device)
            rendered += 1
            series_rendered += len(series)
            since_yield += len(series) + 1
            if since_yield >= self.YIELD_EVERY_SERIES:
                since_yield = 0
                self._lap_at = at
                if deadline is not None and time.monotonic() > deadline:
                    caught_up = False
                    break
                yield None
                lap, at = self._lap, self._lap_at  # another refresh may have gone on
                if give_way is not None and give_way():
                    caught_up = False
                    break
        self._lap_at = at
        if self._inventory is not None:
            self._inventory.changed(changed)
            if not (yield from self._recompute_inventory(deadline, give_way)):
                caught_up = False
        self._refresh_inventory()
        return RefreshStats(rendered, series_rendered, caught_up)

    def _recompute_inventory(self, deadline: float | None,
                             give_way: Callable[[], bool] | None,
                             ) -> Generator[None, None, bool]:
        """Recompute the sites and links whose devices changed, a batch between yields:
        at 100,000 devices all of them took 0.6 s in one turn of the loop. False when the
        budget or ``give_way`` stopped it; the rest waits for the next refresh."""
        inventory = self._inventory
        assert inventory is not None
        while inventory.recompute(self.YIELD_EVERY_SITES_AND_LINKS) and inventory.pending():
            if deadline is not None and time.monotonic() > deadline:
                return False
            yield None
            if give_way is not None and give_way():
                return False
        return True

    def freshen(self, device: str) -> None:
        """Render ``device`` now if it changed, and compress on the loop the chunks it has
        to itself: for pubnet's own series (its poll lag and polls in flight, the writers'
        and alerting's counters), which every scrape must show as they are. On a saturated
        loop a scrape serves the fleet's pieces as the background render left them (~90 s
        old at 100,000 devices), and the capacity bench read a poll lag of 114 s there that
        had been under 2 s for two minutes. A few dozen series: well under a millisecond.
        Chunks shared with other devices are left to the background render, and so is
        everything before the first render (a cold exposition is rendered whole)."""
        if not self._versions:
            return
        version = self._store.device_version(device)
        if self._versions.get(device) != version:
            self._render_device(device, self._store.device_series(device), version)
            if self._inventory is not None:
                self._inventory.changed([device])
        rows = self._rows.get(device)
        if rows is None:
            return
        for chunk in rows.chunks:
            if chunk.devices != 1:
                continue
            chunk.settle()
            done = chunk.compressed
            if done is None or done.generation != chunk.generation:
                _ChunkJob(chunk, chunk.generation, done, dict(chunk.pending), None).compress(
                    self._gzip_level)
                chunk.settle()

    def _begin_lap(self) -> list[str]:
        """Every device, in store order (devices never heard from after those with
        series), for a new lap; devices that left are removed first."""
        store = self._store
        statuses = store.statuses()
        devices = list(store.devices_with_series())
        present = set(devices)
        if len(statuses) > 0:  # devices never heard from: set operations in C, no loop
            without_series = statuses.keys() - present
            if without_series:
                devices.extend(d for d in list(statuses) if d in without_series)
                present.update(without_series)
        for gone in self._versions.keys() - present:
            self._remove_device(gone)
        self._lap, self._lap_at = devices, 0
        return devices

    def _render_device(self, device: str, series: SeriesView, version: int) -> None:
        rows = self._rows.get(device)
        previous = (dict(zip(rows.families, rows.hashes, strict=True)) if rows is not None
                    else {})
        self._put_rendered(device, self._renderer.render_changed(
            device, series.values_by_key, previous))
        self._versions[device] = version

    def _put(self, key: str, fragments: dict[str, bytes], alone: bool = False) -> None:
        """The fragments a key (the inventory's, or a device's when it leaves) has now."""
        self._put_rendered(key, [(name, hash(data), data.count(b"\n"), data)
                                 for name, data in fragments.items()], alone)

    def _put_rendered(self, key: str, rendered: list[Rendered], alone: bool = False) -> None:
        """The families a device (or the inventory) has now, in order, with their
        signatures (a fragment's hash, or the renderer's signature of its series); families
        it had and has not any more are removed. A family whose signature is unchanged
        changes nothing (its chunk is not compressed again, it need not be rendered)."""
        rows = self._rows.get(key)
        names = tuple(map(_FAMILY, rendered))
        if rows is not None and rows.families == names:  # the usual case: the same families
            hashes, counts, chunks = rows.hashes, rows.counts, rows.chunks
            lines = 0
            for index, (_, signature, count, data) in enumerate(rendered):
                if signature != hashes[index]:
                    assert data is not None  # None only when its signature is unchanged
                    hashes[index] = signature
                    lines += count - counts[index]
                    counts[index] = count
                    chunk = chunks[index]  # chunk.change(key, data), inlined: the hot path
                    chunk.generation = generation = chunk.generation + 1
                    chunk.pending[key] = (generation, data)
            self._lines += lines
            rows.lines += lines
            return
        known: dict[str, tuple[_Chunk, int]] = {}
        if rows is not None:
            known = {name: (chunk, digest) for name, chunk, digest
                     in zip(rows.families, rows.chunks, rows.hashes, strict=True)}
            self._lines -= rows.lines
        chunks = []
        hashes = array("q")
        counts = array("I")
        lines = 0
        for name, signature, count, data in rendered:
            old = known.pop(name, None)
            if old is None:
                assert data is not None  # a family new to the key is rendered
                chunk = self._block(name).add(key, data, alone)
            else:
                chunk = old[0]
                if signature != old[1]:
                    assert data is not None
                    chunk.change(key, data)
            chunks.append(chunk)
            hashes.append(signature)
            counts.append(count)
            lines += count
        for name, (chunk, _) in known.items():
            self._blocks[name].remove(key, chunk)
        if not rendered:
            self._rows.pop(key, None)
            return
        names = self._family_tuples.setdefault(names, names)
        self._rows[key] = _Rows(names, chunks, hashes, counts, lines)
        self._lines += lines

    def _block(self, name: str) -> _Block:
        block = self._blocks.get(name)
        if block is None:
            family = self._families.get(name)
            assert family is not None  # the renderer drops invalid names
            block = self._blocks[name] = _Block(family)
        return block

    def _remove_device(self, device: str) -> None:
        self._put(device, {})
        self._renderer.forget(device)
        self._versions.pop(device, None)

    def _refresh_inventory(self) -> None:
        """The site and link families: ``pubnet_site_info`` as one fragment, the others in
        slices (:data:`inventory_metrics.SLICE` sites or links), each slice a fragment of
        its own key, so a pass recompresses only the chunks of the slices that changed.

        A family has a fragment in every slice (some maybe empty) or, when all its slices
        are empty, in none: its slices then enter the family's block together and in
        order, and the body lists sites and links in inventory order as before; an empty
        family has no HELP and TYPE."""
        if self._inventory is None:
            return
        site_info = self._inventory.site_info
        if site_info is not self._site_info_put:  # constant: put once (~4 MB at 40k sites)
            self._site_info_put = site_info
            self._put(INVENTORY_KEY, {SITE_INFO: site_info} if site_info else {})
        link_up, link_util = self._inventory.links()
        families = [(name, slices) for name, slices in (
            (SITE_UP, self._inventory.site_up()),
            (LINK_UP, link_up),
            (LINK_UTILIZATION, link_util),
        ) if any(slices)]
        keys = self._slice_keys
        last = self._slices_put
        count = max((len(slices) for _, slices in families), default=0)
        for n in range(max(count, len(keys))):
            if n == len(keys):
                keys.append(f"{INVENTORY_KEY}\x00{n}")
                last.append({})
            fragments = {name: slices[n] for name, slices in families if n < len(slices)}
            previous = last[n]
            if fragments.keys() != previous.keys() or any(
                    data is not previous[name] for name, data in fragments.items()):
                self._put(keys[n], fragments, alone=True)  # unchanged: the same objects
                last[n] = fragments

    # -- step 2: copy on the loop, encode in a thread ----------------------------------------

    def jobs(self, fmt: Format, gzip: bool = True, names: frozenset[str] | None = None
             ) -> list[_Job]:
        """Cheap copies, on the loop, of what an encode of ``fmt`` needs: every chunk's
        current piece, and the fragments changed since of chunks whose piece is stale (of
        all chunks when the body is to be plain). With ``names``, of the families a scrape
        restricted to those sample names wants (:func:`families.asked_for`) only."""
        jobs = []
        for name in sorted(self._blocks):
            block = self._blocks[name]
            if not block.chunks or (names is not None and not asked_for(name, names)):
                continue
            chunks = []
            for chunk in block.chunks:
                chunk.settle()
                base = compressed = chunk.compressed
                if compressed is not None and compressed.generation != chunk.generation:
                    compressed = None
                pending = dict(chunk.pending) if compressed is None or not gzip else None
                chunks.append(_ChunkJob(chunk, chunk.generation, base, pending, compressed))
            jobs.append(_Job(block, block.header(fmt), chunks))
        return jobs

    def pieces(self, fmt: Format, names: frozenset[str] | None = None
               ) -> list[gzipper.Piece] | None:
        """Every family's header and every chunk's compressed piece as it is, on the loop:
        a gzip body needs nothing more than joining them (:func:`gzipper.join`, in a worker
        thread). A chunk changed since its piece was compressed is served as the piece has
        it, as a scrape out of time serves it (the background render compresses it within
        seconds). None before anything was rendered, or while a chunk has never been
        compressed (a cold start: then only :meth:`jobs` and an encode will do). With
        ``names``, as :meth:`jobs`."""
        if not self._versions:
            return None
        pieces: list[gzipper.Piece] = []
        for name in sorted(self._blocks):
            block = self._blocks[name]
            if not block.chunks or (names is not None and not asked_for(name, names)):
                continue
            pieces.append(block.header(fmt))
            for chunk in block.chunks:
                chunk.settle()
                done = chunk.compressed
                if done is None:
                    return None
                pieces.append(done.piece)
        return pieces

    @staticmethod
    def settle(jobs: list[_Job]) -> None:
        """After a compression, on the loop: the changed fragments the new pieces hold are
        let go (until then they are kept beside the older pieces)."""
        for job in jobs:
            for chunk in job.chunks:
                chunk.chunk.settle()

    def compress(self, jobs: list[_Job], parallel: bool = True) -> int:
        """Compress the chunks that have no piece of their generation yet, in the calling
        (worker) thread, and with ``parallel`` in the executor's other threads too;
        returns how many. What the loop changed since :meth:`jobs` stays stale. The
        background render compresses in one thread, so that a scrape's encode never waits
        behind it for a worker."""
        todo = [c for job in jobs for c in job.chunks
                if c.pending is not None and not c.take_current()]
        level = self._gzip_level
        if parallel and self._executor is not None and len(todo) > 1:
            list(self._executor.map(lambda c: c.compress(level), todo))
            return len(todo)
        done = 0
        for chunk in todo:
            if self._stopping and not parallel:  # a background pass: not worth the wait
                break
            chunk.compress(level)
            done += 1
        return done

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
                if chunk.pending is None or chunk.take_current():
                    continue
                if deadline is not None and chunk.base is not None and \
                        time.monotonic() > deadline:
                    chunk.compressed = chunk.base
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
                    out.append(chunk.text())
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
        return self._lines

    def render_sync(self, fmt: Format, gzip: bool, tail: bytes = b"") -> bytes:
        """Refresh and encode in the calling thread (benchmarks, tests, ``pubnet poll``)."""
        self.refresh_now()
        jobs = self.jobs(fmt, gzip)
        body = self.encode(fmt, jobs, gzip, tail)
        self.settle(jobs)
        return body

    def family_names(self) -> list[str]:
        return [name for name, block in self._blocks.items() if block.chunks]
