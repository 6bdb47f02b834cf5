"""The fleet's exposition, kept rendered between scrapes and updated incrementally.

A scrape (1) re-renders only devices whose :meth:`~pubnet.state.StateStore.device_version`
moved, on the event loop in slices that yield to it, so collectors keep running; then (2)
joins and compresses, in a worker thread, only the families whose bytes changed. Families
are blocks of per-device fragments kept in one dict per family, so all samples of a family
come out contiguous, as the text formats require, without sorting anything per scrape.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Generator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from enum import StrEnum

from exporters.prometheus import gzipper
from exporters.prometheus.families import Family, FamilyTable
from exporters.prometheus.inventory_metrics import InventoryMetrics
from exporters.prometheus.render import DeviceRenderer, DropCounter
from inventory.model import Inventory
from pubnet.catalog import LINK_UP, LINK_UTILIZATION, SITE_INFO, SITE_UP
from pubnet.model import Observation, SeriesKey
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


@dataclass(slots=True)
class _Encoded:
    generation: int
    text: bytes
    pieces: list[bytes] | None = None


@dataclass(slots=True)
class _Block:
    """All fragments of one family, and its last joined and compressed forms per format."""

    family: Family
    fragments: dict[str, bytes] = field(default_factory=dict)
    generation: int = 0
    series: int = 0
    encoded: dict[Format, _Encoded] = field(default_factory=dict)

    def put(self, key: str, data: bytes) -> None:
        old = self.fragments.get(key)
        if old == data:
            return
        if old is not None:
            self.series -= old.count(b"\n")
        self.fragments[key] = data
        self.series += data.count(b"\n")
        self.generation += 1

    def remove(self, key: str) -> None:
        old = self.fragments.pop(key, None)
        if old is not None:
            self.series -= old.count(b"\n")
            self.generation += 1


@dataclass(frozen=True, slots=True)
class _Job:
    """What the worker thread needs for one family, copied on the loop."""

    block: _Block
    generation: int
    header: bytes
    fragments: list[bytes] | None
    """None when the cached text of this generation can be reused."""


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

    YIELD_EVERY_SERIES = 5_000
    """Render about this many series (~5 ms on an idle core) between yields to the loop."""

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

    async def refresh(self) -> RefreshStats:
        """Re-render changed devices, yielding to the loop every few thousand series."""
        steps = self._refresh_steps()
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

    def _refresh_steps(self) -> Generator[None, None, RefreshStats]:
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
            self._render_device(device, series, version)
            changed.append(device)
            rendered += 1
            series_rendered += len(series)
            since_yield += len(series) + 1
            if since_yield >= self.YIELD_EVERY_SERIES:
                since_yield = 0
                yield None
        if len(versions) > len(devices):
            for gone in set(versions).difference(devices):
                self._remove_device(gone)
        if self._inventory is not None:
            self._inventory.changed(changed)
        self._refresh_inventory()
        return RefreshStats(rendered, series_rendered)

    def _render_device(
        self, device: str, series: Mapping[SeriesKey, Observation], version: int
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

    def jobs(self, fmt: Format) -> list[_Job]:
        """Cheap copies of what changed since the last encode of ``fmt`` (run on the loop)."""
        jobs = []
        openmetrics = fmt is Format.OPENMETRICS
        for name in sorted(self._blocks):
            block = self._blocks[name]
            if not block.fragments:
                continue
            cached = block.encoded.get(fmt)
            fresh = cached is not None and cached.generation == block.generation
            jobs.append(
                _Job(
                    block,
                    block.generation,
                    block.family.header(openmetrics),
                    None if fresh else list(block.fragments.values()),
                )
            )
        return jobs

    def encode(self, fmt: Format, jobs: list[_Job], gzip: bool, tail: bytes = b"") -> bytes:
        """Join (and gzip) the exposition; runs in a worker thread, touches no store data.

        ``tail`` (pubnet's own health families, and ``# EOF`` for OpenMetrics) is appended
        after the fleet's families.
        """
        texts: list[bytes] = []
        for job in jobs:
            cached = job.block.encoded.get(fmt)
            if job.fragments is None and cached is not None:
                texts.append(cached.text)
                continue
            text = b"".join((job.header, *(job.fragments or ())))
            job.block.encoded[fmt] = _Encoded(job.generation, text)
            texts.append(text)
        if not gzip:
            return b"".join((*texts, tail))
        # compress what has no pieces for its generation yet, all slices in parallel
        todo: list[tuple[_Encoded, list[bytes]]] = []
        for job in jobs:
            encoded = job.block.encoded[fmt]
            if encoded.pieces is None:
                todo.append((encoded, gzipper.slices(encoded.text)))
        flat = [piece for _, pieces in todo for piece in pieces]
        level = self._gzip_level
        if self._executor is not None and len(flat) > 1:
            deflated = list(self._executor.map(lambda p: gzipper.deflate_piece(p, level), flat))
        else:
            deflated = [gzipper.deflate_piece(p, level) for p in flat]
        at = 0
        for encoded, pieces in todo:
            encoded.pieces = deflated[at : at + len(pieces)]
            at += len(pieces)
        crc = 0
        length = 0
        out: list[bytes] = []
        for job, text in zip(jobs, texts, strict=True):
            crc = zlib.crc32(text, crc)
            length += len(text)
            done = job.block.encoded[fmt].pieces
            assert done is not None
            out.extend(done)
        if tail:
            crc = zlib.crc32(tail, crc)
            length += len(tail)
            out.append(gzipper.deflate_piece(tail, level))
        return gzipper.assemble(out, crc, length)

    # -- for health metrics ----------------------------------------------------------------

    def series_count(self) -> int:
        return sum(block.series for block in self._blocks.values())

    def render_sync(self, fmt: Format, gzip: bool, tail: bytes = b"") -> bytes:
        """Refresh and encode in the calling thread (benchmarks, tests, ``pubnet poll``)."""
        self.refresh_now()
        return self.encode(fmt, self.jobs(fmt), gzip, tail)

    def family_names(self) -> list[str]:
        return [name for name, block in self._blocks.items() if block.fragments]
