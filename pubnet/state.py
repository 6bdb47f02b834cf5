"""The state store: the latest value of every series and the status of every device.

It sits in the middle of the data flow. Collectors call :meth:`StateStore.publish` and
:meth:`StateStore.set_status` (one :class:`~pubnet.model.Attempt` record per try to hear from
a device); both are plain synchronous calls that never wait, so a slow consumer can never
stall a poll. Consumers either read snapshots (the Prometheus exporter
renders per device and uses :meth:`StateStore.device_version` to re-render only what
changed) or subscribe to a bounded stream of :class:`~pubnet.model.Batch` values (alerting,
InfluxDB). A subscriber that falls behind loses whole batches, and the loss is counted on
its :class:`Subscription` and logged once per episode.

The store is owned by one event loop and is not thread-safe; everything that touches it
runs on that loop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from array import array
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter
from typing import cast

from pubnet.model import (
    Attempt,
    Batch,
    DeviceState,
    Labels,
    Observation,
    PollStatus,
    SeriesKey,
    Source,
)

log = logging.getLogger("pubnet.state")

DEFAULT_SUBSCRIBER_CAPACITY = 200_000
"""Items (observations plus attempts) a subscriber may have waiting."""

_METRIC_OF = itemgetter(1)
"""An observation's ``metric`` (a NamedTuple's attribute is a Python-level property)."""
_NOTHING = Batch()


class Views:
    """What one published batch looks like through each metric filter, worked out by the
    first subscriber with that filter and taken as it is by the others.

    pubnet's filtering subscribers (alerting's readings, Prometheus' poll durations, the
    history's interface states) each want a few metrics, and most batches (one device's
    poll) hold some of them among many others. The batch's metrics are listed once for all
    filters, and their set once: a filter that wants none of them, or all, takes the
    attempts or the whole batch without looking at each observation; only the others
    pick observations out, one C-level pass each."""

    __slots__ = ("_batch", "_by_filter", "_metrics", "_present")

    def __init__(self, batch: Batch, metrics: Sequence[str] | None = None) -> None:
        """``metrics``: each observation's metric, in order, when the caller has them."""
        self._batch = batch
        self._metrics = metrics
        self._present: frozenset[str] | None = None
        self._by_filter: dict[frozenset[str], Batch] = {}

    def through(self, wanted: frozenset[str]) -> Batch:
        """The batch with only the observations of the ``wanted`` metrics (the same batch
        when it has no others; :data:`_NOTHING` when nothing is left)."""
        view = self._by_filter.get(wanted)
        if view is None:
            view = self._by_filter[wanted] = self._filtered(wanted)
        return view

    def _filtered(self, wanted: frozenset[str]) -> Batch:
        batch = self._batch
        observations = batch.observations
        if not wanted or not observations:
            return Batch((), batch.attempts) if batch.attempts else _NOTHING
        metrics = self._metrics
        if metrics is None:
            metrics = self._metrics = tuple(map(_METRIC_OF, observations))
        present = self._present
        if present is None:
            present = self._present = frozenset(metrics)
        if present.isdisjoint(wanted):
            return Batch((), batch.attempts) if batch.attempts else _NOTHING
        if present <= wanted:
            return batch
        return Batch(tuple(compress(observations, map(wanted.__contains__, metrics))),
                     batch.attempts)


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    name: str
    pending: int
    delivered: int
    dropped: int


class Subscription:
    """A bounded queue of batches for one consumer.

    Iterate it with ``async for batch in subscription``. ``metrics`` restricts the
    observations it receives (``None`` = all, empty = attempts only).
    """

    def __init__(self, name: str, capacity: int, metrics: frozenset[str] | None) -> None:
        self.name = name
        self.capacity = capacity
        self.metrics = metrics
        self._queue: deque[Batch] = deque()
        self._pending = 0
        self._wakeup = asyncio.Event()
        self._closed = False
        self._dropping = False
        self.delivered = 0
        self.dropped = 0

    def offer(self, batch: Batch, views: Views | None = None) -> None:
        """Queue a batch, or drop it and count the loss when the subscriber is full.

        ``views``: the batch as seen through the filters of the subscribers it was offered
        to before (the store passes one per publish: several of pubnet's subscribers want
        attempts only, and each used to filter every observation of every batch away
        itself)."""
        metrics = self.metrics
        if metrics is not None and batch.observations:
            batch = (views if views is not None else Views(batch)).through(metrics)
        size = len(batch.observations) + len(batch.attempts)  # len(batch): a Python call
        if size == 0 or self._closed:
            return
        if self._pending + size > self.capacity:
            self.dropped += size
            if not self._dropping:
                self._dropping = True
                log.warning("subscriber falling behind, dropping batches",
                            extra={"subscriber": self.name, "capacity": self.capacity})
            return
        if self._dropping:
            self._dropping = False
            log.info("subscriber caught up",
                     extra={"subscriber": self.name, "dropped_total": self.dropped})
        self._queue.append(batch)
        self._pending += size
        self._wakeup.set()

    def get_nowait(self) -> Batch | None:
        if not self._queue:
            return None
        batch = self._queue.popleft()
        self._pending -= len(batch)
        self.delivered += len(batch)
        return batch

    def drain(self) -> list[Batch]:
        """Every batch queued right now, without waiting."""
        batches: list[Batch] = []
        while (batch := self.get_nowait()) is not None:
            batches.append(batch)
        return batches

    async def get_all(self, within: float) -> list[Batch]:
        """Wait up to ``within`` seconds for a batch, then take every batch queued behind it,
        so a consumer handles a storm as one lump; empty if none came. Raises
        :class:`EOFError` once closed and drained.

        Waits on the wakeup event itself, not through ``asyncio.wait_for(self.get())``:
        that runs ``get`` as a task of its own, which costs two more loop turns before the
        consumer sees a batch, and when the timeout fires in the turn the batch arrives it
        returned nothing and left the batch for the next call. On a saturated loop (turns
        of ~0.35 s at 100,000 devices) the two made alerting see a failed poll a second or
        more late (bench/alert_latency.py)."""
        if not self._queue:
            if self._closed:
                raise EOFError(self.name)
            self._wakeup.clear()
            try:
                async with asyncio.timeout(within):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
        batches = self.drain()
        if not batches and self._closed:
            raise EOFError(self.name)
        return batches

    async def get(self) -> Batch:
        """Wait for the next batch; raises :class:`EOFError` once closed and drained."""
        while True:
            batch = self.get_nowait()
            if batch is not None:
                return batch
            if self._closed:
                raise EOFError(self.name)
            self._wakeup.clear()
            await self._wakeup.wait()

    def wake(self) -> None:
        """End a wait in :meth:`get_all` now (with what is queued, perhaps nothing): for a
        consumer that is stopping and waits for batches without a task of its own."""
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return self._pending

    def __aiter__(self) -> AsyncIterator[Batch]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Batch]:
        while True:
            try:
                yield await self.get()
            except EOFError:
                return

    def stats(self) -> SubscriberStats:
        return SubscriberStats(self.name, self._pending, self.delivered, self.dropped)


_SOURCES: tuple[Source, ...] = tuple(Source)
_SOURCE_CODE: dict[Source, int] = {source: code for code, source in enumerate(_SOURCES)}


class _DeviceSeries:
    """One device's series, compactly: its keys in a list, and per key the latest value,
    time and source in typed arrays (8 + 8 + 1 bytes), instead of an
    :class:`~pubnet.model.Observation` (and its label tuples) per series.

    Slot ``i`` is the ``i``-th key (in the order the keys first came), so
    ``zip(keys, values)`` pairs keys with values. There is no key-to-slot dict (it cost
    ~35 bytes per series): a collector publishes a device's series in the same order at
    every poll, so :meth:`StateStore.publish` checks the slot after the previous one first
    and only searches the list (a C loop over at most a few hundred keys) when the order
    differs; readers that look one key up search it too.
    """

    __slots__ = ("keys", "sources", "stamps", "values")

    def __init__(self) -> None:
        self.keys: list[SeriesKey] = []
        self.values = array("d")
        self.stamps = array("d")
        self.sources = bytearray()

    def slot(self, key: SeriesKey) -> int:
        """The slot of ``key``, or -1."""
        try:
            return self.keys.index(key)
        except ValueError:
            return -1

    def observation(self, device: str, key: SeriesKey, slot: int) -> Observation:
        return Observation(device, key[0], self.values[slot], self.stamps[slot],
                           _SOURCES[self.sources[slot]], key[1])

    def keep(self, wanted: Callable[[SeriesKey], bool]) -> None:
        """Drop the slots whose key is not ``wanted``, keeping the order of the rest."""
        kept = [slot for slot, key in enumerate(self.keys) if wanted(key)]
        keys, values, stamps, sources = self.keys, self.values, self.stamps, self.sources
        self.keys = [keys[slot] for slot in kept]
        self.values = array("d", (values[slot] for slot in kept))
        self.stamps = array("d", (stamps[slot] for slot in kept))
        self.sources = bytearray(sources[slot] for slot in kept)


class SeriesView(Mapping[SeriesKey, Observation]):
    """A read-only mapping of one device's series to :class:`~pubnet.model.Observation`
    values, built on access from the store's compact arrays. Live: it shows what the store
    holds when read; do not keep it across awaits expecting a snapshot."""

    __slots__ = ("_device", "_series")

    def __init__(self, device: str, series: _DeviceSeries | None) -> None:
        self._device = device
        self._series = series

    def __getitem__(self, key: SeriesKey) -> Observation:
        series = self._series
        slot = -1 if series is None else series.slot(key)
        if slot < 0:
            raise KeyError(key)
        assert series is not None
        return series.observation(self._device, series.keys[slot], slot)

    def __contains__(self, key: object) -> bool:
        return self._series is not None and key in self._series.keys

    def __iter__(self) -> Iterator[SeriesKey]:
        return iter(self._series.keys if self._series is not None else ())

    def __len__(self) -> int:
        return len(self._series.keys) if self._series is not None else 0

    def values_by_key(self) -> Iterator[tuple[SeriesKey, float]]:
        """(key, latest value) of every series, without building observations: for
        renderers that need nothing else."""
        series = self._series
        if series is None:
            return iter(())
        return zip(series.keys, series.values, strict=True)

    def reading_at(self, slot: int, key: SeriesKey) -> tuple[float, float] | None:
        """(latest value, its time) of ``key`` when it is still the ``slot``-th key
        (iteration order: ``enumerate`` over the view gives each key's slot), else None:
        it moved (a metric of the device was forgotten) or left; look it up again.

        For readers that follow a few series of a device at every change: one check
        instead of a search of the device's keys, and no observation built."""
        series = self._series
        if series is None or slot >= len(series.keys) or series.keys[slot] is not key:
            return None
        return series.values[slot], series.stamps[slot]


_Columns = tuple[tuple[str, ...], tuple[str, ...], tuple[float, ...], tuple[float, ...],
                 tuple[Source, ...], tuple[Labels, ...]]
"""A batch's observations field by field: devices, metrics, values, times, sources,
labels."""


def _columns(observations: Sequence[Observation]) -> _Columns | None:
    """The observations transposed (one C-level pass), or None when there are none."""
    if not observations:
        return None
    return cast(_Columns, tuple(zip(*observations, strict=True)))


def _interned(text: str) -> str:
    """The one copy of ``text`` (a str subclass, e.g. an enum member, is kept as it is)."""
    return sys.intern(text) if type(text) is str else text


class StateStore:
    """Latest value per series and current status per device, with change subscriptions.

    Memory is what national scale is about (5 M series at 100,000 devices): per series the
    store keeps one pointer in its device's key list and 17 bytes of value, time and source
    (:class:`_DeviceSeries`); keys and their label pairs are interned, so a label set that
    many devices share (``ifname="eth0"``) is one tuple, however fresh the collector's copy
    is, and a label set of the device's own shares all but its own pairs.
    """

    def __init__(self) -> None:
        self._series: dict[str, _DeviceSeries] = {}
        self._keys: dict[SeriesKey, SeriesKey] = {}
        """The one copy of every key any device has (rebuilt when devices leave)."""
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        """The one copy of every label pair in those keys: a key whose labels are its own
        (``ifalias``, ``sys_name``) still shares its other pairs (``role``, ``ifname``)."""
        self._devices: dict[str, DeviceState] = {}
        self._versions: dict[str, int] = {}
        self._subscribers: list[Subscription] = []
        self.observations_total = 0

    # -- writing (collectors) -------------------------------------------------------------

    def publish(
        self,
        observations: Sequence[Observation],
        attempts: Sequence[Attempt] = (),
    ) -> None:
        """Record observations as the latest values and hand them to subscribers.

        Never waits: subscribers that are full lose the batch and count it.
        """
        columns = _columns(observations)
        if columns is None or not self._republish(columns):
            self._publish_each(observations)
        self.observations_total += len(observations)
        if self._subscribers and (observations or attempts):
            batch = Batch(tuple(observations), tuple(attempts))
            views = Views(batch, None if columns is None else columns[1])
            for sub in self._subscribers:
                sub.offer(batch, views)

    def _republish(self, columns: _Columns) -> bool:
        """The usual publish, at C speed: one device's poll, its series in the order of
        the previous one (``columns``: its observations' fields, column by column). Its
        keys are compared with the device's stored keys as one list, and values, times
        and sources stored as slices. False, having changed nothing, when the batch is
        anything else (several devices, a series new or in another order): then
        :meth:`_publish_each` goes observation by observation."""
        devices, metrics, values, stamps, sources, labels = columns
        device = devices[0]
        per_device = self._series.get(device)
        count = len(devices)
        if per_device is None or devices.count(device) != count:
            return False
        keys = per_device.keys
        new_keys = list(zip(metrics, labels, strict=True))
        start = 0
        if not keys or keys[0] != new_keys[0]:
            try:
                start = keys.index(new_keys[0])
            except ValueError:
                return False
        end = start + count
        if keys[start:end] != new_keys:
            return False
        try:
            new_values = array("d", values)
            new_stamps = array("d", stamps)
        except TypeError:  # not a float: the slow path stores (and fails) as it did
            return False
        per_device.values[start:end] = new_values
        per_device.stamps[start:end] = new_stamps
        source = sources[0]
        if sources.count(source) == count:  # an enum's hash is a Python call: once
            per_device.sources[start:end] = bytes((_SOURCE_CODE[source],)) * count
        else:
            per_device.sources[start:end] = bytes(map(_SOURCE_CODE.__getitem__, sources))
        self._versions[device] = self._versions.get(device, 0) + 1
        return True

    def _publish_each(self, observations: Sequence[Observation]) -> None:
        """Store observations one by one: any batch (several devices, new series)."""
        series = self._series
        versions = self._versions
        codes = _SOURCE_CODE
        device: str | None = None
        per_device: _DeviceSeries
        keys: list[SeriesKey]
        values: array[float]
        stamps: array[float]
        sources: bytearray
        last_source: Source | None = None
        code = 0
        count = 0
        nxt = 0
        for dev, metric, value, ts, source, labels in observations:
            if dev is not device:
                device = dev
                per_device = series.get(dev) or self._new_device(dev)
                versions[dev] = versions.get(dev, 0) + 1
                keys = per_device.keys
                count = len(keys)
                nxt = 0
                values = per_device.values
                stamps = per_device.stamps
                sources = per_device.sources
            if source is not last_source:  # an enum's hash is a Python call: once a run
                last_source = source
                code = codes[source]
            key = (metric, labels)
            if nxt < count and keys[nxt] == key:  # the usual case: the order of last poll
                slot = nxt
            else:
                try:
                    slot = keys.index(key)
                except ValueError:
                    keys.append(self._intern(key))
                    values.append(value)
                    stamps.append(ts)
                    sources.append(code)
                    count += 1
                    nxt = count
                    continue
            nxt = slot + 1
            values[slot] = value
            stamps[slot] = ts
            sources[slot] = code

    def _new_device(self, device: str) -> _DeviceSeries:
        per_device = self._series[sys.intern(device)] = _DeviceSeries()
        return per_device

    def _intern(self, key: SeriesKey) -> SeriesKey:
        known = self._keys.get(key)
        if known is not None:
            return known
        metric, labels = key
        if labels:
            pairs = self._pairs
            labels = tuple([pairs.get(pair) or pairs.setdefault(pair, pair) for pair in labels])
        key = (_interned(metric), labels)
        self._keys[key] = key
        return key

    def set_status(
        self,
        device: str,
        status: PollStatus,
        ts: float,
        source: Source,
        detail: str = "",
        observations: Sequence[Observation] = (),
        *,
        counts_at_once: bool = False,
        rebooted: bool = False,
    ) -> Attempt | None:
        """Record how the latest attempt to hear from ``device`` ended.

        Publishes one :class:`~pubnet.model.Attempt` (with the status it replaced) together
        with the attempt's ``observations``. Returns that attempt when it changed the
        device's status (callers log changes only), otherwise None.
        """
        state = self._devices.get(device)
        if state is None:
            state = self._devices[device] = DeviceState(device)
        state.last_attempt = ts
        if status is PollStatus.OK:
            state.last_seen = ts
        previous = state.status
        attempt = Attempt(device, status, ts, source, detail, counts_at_once, rebooted,
                          previous)
        if previous is not status:
            state.status = status
            state.since = ts
            self._versions[device] = self._versions.get(device, 0) + 1
        state.source = source
        state.detail = detail
        self.publish(observations, (attempt,))
        return attempt if previous is not status else None

    def touch(self, device: str, ts: float) -> None:
        """Note that a device was heard from without changing its status (e.g. a trap)."""
        state = self._devices.get(device)
        if state is None:
            state = self._devices[device] = DeviceState(device)
        state.last_seen = max(state.last_seen, ts)

    def forget(self, device: str, metric: str | None = None) -> None:
        """Remove a device's series (all, or one metric), e.g. when it leaves the inventory."""
        per_device = self._series.get(device)
        if per_device is None:
            return
        if metric is None:
            del self._series[device]
            self._prune_keys()
        else:
            per_device.keep(lambda key: key[0] != metric)
        self._versions[device] = self._versions.get(device, 0) + 1

    def _prune_keys(self) -> None:
        """Forget interned keys no device has any more, once they are a good part of the
        table (devices leave on a reload, rarely and in numbers)."""
        live = self.series_count()
        if len(self._keys) <= 2 * live + 10_000:
            return
        self._keys = {key: key for per_device in self._series.values()
                      for key in per_device.keys}
        self._pairs = {pair: pair for _metric, labels in self._keys for pair in labels}

    def drop_device(self, device: str) -> None:
        """Forget a device entirely, series and status: it left the inventory (a reload)."""
        self.forget(device)
        self._devices.pop(device, None)
        self._versions[device] = self._versions.get(device, 0) + 1

    # -- reading (exporters, alerting, CLI) -----------------------------------------------

    def latest(self, device: str, metric: str, labels: Iterable[tuple[str, str]] = ()) -> (
        Observation | None
    ):
        per_device = self._series.get(device)
        if per_device is None:
            return None
        key = (metric, tuple(labels))
        slot = per_device.slot(key)
        if slot < 0:
            return None
        return per_device.observation(device, per_device.keys[slot], slot)

    def device_series(self, device: str) -> SeriesView:
        """One device's series as a live read-only mapping of key to observation; read
        it, do not keep it."""
        return SeriesView(device, self._series.get(device))

    def devices_with_series(self) -> Iterator[str]:
        return iter(list(self._series))

    def device_version(self, device: str) -> int:
        """A number that changes whenever the device's series or status change."""
        return self._versions.get(device, 0)

    def status(self, device: str) -> DeviceState | None:
        return self._devices.get(device)

    def statuses(self) -> dict[str, DeviceState]:
        """The live mapping of device states; read it, do not keep or mutate it."""
        return self._devices

    def series_count(self) -> int:
        return sum(len(s.keys) for s in self._series.values())

    # -- subscribing (alerting, InfluxDB) -------------------------------------------------

    def subscribe(
        self,
        name: str,
        capacity: int = DEFAULT_SUBSCRIBER_CAPACITY,
        metrics: Iterable[str] | None = None,
    ) -> Subscription:
        """Register a consumer; call :meth:`unsubscribe` (or use :meth:`subscription`)."""
        sub = Subscription(name, capacity, None if metrics is None else frozenset(metrics))
        self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    @contextmanager
    def subscription(
        self,
        name: str,
        capacity: int = DEFAULT_SUBSCRIBER_CAPACITY,
        metrics: Iterable[str] | None = None,
    ) -> Iterator[Subscription]:
        sub = self.subscribe(name, capacity, metrics)
        try:
            yield sub
        finally:
            self.unsubscribe(sub)

    def subscriber_stats(self) -> list[SubscriberStats]:
        return [s.stats() for s in self._subscribers]
