"""The ``influxdb`` component: batches observations and delivers them exactly in order.

Flow: the store subscription → :class:`~exporters.influx.lineproto.LineEncoder` → batches
of ``batch_size`` points or ``flush_interval`` seconds → one sender. While the backlog on disk
is empty the sender writes batches straight to InfluxDB; a batch that meets a connection
error, a timeout, a 5xx or a 429 goes to the :class:`~exporters.influx.buffer.DiskBuffer`,
and from then on every new batch queues behind it on disk until replay (capped exponential
back-off with jitter) has drained the backlog, so points arrive in order.

A 400 or 413 is about the data: the batch is split in halves until the point InfluxDB
refuses is alone; it is dropped, counted under its status and logged once per distinct
reason, and its neighbours are delivered. Other 4xx (401, 403, 404: a token or bucket
problem) drop the batch, counted and logged: retrying cannot fix them, and a backlog that can
never drain would hold back everything behind it.

Stopping: intake stops (what the store still holds for the writer is encoded, in slices
that yield to the loop), the last partial batch is cut, and queued batches are delivered
while InfluxDB answers within ``stop_grace`` seconds of the stop; a write still waiting then
is cancelled, and its batch and everything still queued are spilled to the disk buffer in
one worker-thread call, so a restart replays them. A slow or hanging server must not hold
shutdown for the whole ``influxdb.timeout`` or for a write per queued batch (systemd and the
runtime give every component a deadline, and a kill then would lose the points).

Memory stays bounded while InfluxDB is slower than the fleet: more than
:data:`QUEUE_MAX_BATCHES` batches waiting in memory are spilled to the disk buffer, and new
batches queue behind them there (replayed in order; over ``buffer_max_bytes`` the oldest are
dropped, counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any, Protocol, TypeVar

import aiohttp
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.domain.write_precision import WritePrecision

from exporters.influx.buffer import DiskBuffer
from exporters.influx.http import HttpSink
from exporters.influx.lineproto import LineEncoder, RejectedPoint, device_tags
from inventory.model import Inventory
from pubnet.backoff import backoff
from pubnet.catalog import (
    INFLUX_BUFFER_BYTES,
    INFLUX_BUFFER_POINTS,
    INFLUX_POINTS_DROPPED,
    INFLUX_POINTS_WRITTEN,
    LABEL_REASON,
    PUBNET_DEVICE,
)
from pubnet.config import InfluxConfig
from pubnet.failures import FailureLog
from pubnet.model import Batch, Observation, Source
from pubnet.state import StateStore, Subscription

log = logging.getLogger("pubnet.exporters.influx")

STATS_INTERVAL = 5.0
BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
ENCODE_SLICE = 5_000
"""Observations encoded between yields to the event loop (a few ms of work): a backlog
taken at once, as at a stop, must not stall the collectors sharing the loop. Unless the
store's subscription is more than half full: then the writer is behind the fleet and
encodes what it took without yielding (see :meth:`InfluxWriter._take`)."""
ENCODE_SLICE_BUSY = 50_000
"""Observations encoded between yields while the loop is busy (turns of :data:`BUSY_TURN`
or more, ~70 ms of work, a fraction of such a turn): there each yield costs the writer a
whole turn, and at 5,000 a turn it encoded ~20,000 observations a second, less than a
100,000-device fleet publishes."""
QUEUE_MAX_BATCHES = 100
"""Batches waiting in memory for the sender before they are spilled to the disk buffer:
~500,000 points, ~65 MB, ten seconds of a 50,000-device fleet. Enough to ride out a burst
(the first round polls every device at once) without falling back to the slower path
through the disk, small enough to bound memory when the server is slower than the fleet."""
REQUEST_MAX_BATCHES = 8
"""Waiting batches (queued, or in the disk backlog) one request carries at most: ~40,000
points, ~5 MB at the default ``batch_size``. A writer falls behind when its loop is busy,
and on a busy loop a request's round trip costs loop turns (connect, send, read, the
buffer's thread hops), not bytes: at 100,000 devices on one core a 5,000-point request took
~6 s and the backlog drained at ~900 points/s while the fleet added ~60,000. With 200 ms
loop turns a backlog drained at ~1,600 points/s one batch per request and ~12,800 with 8
(``bench/influx_write.py --drain``). Sending 5.4 MB keeps the loop ~17 ms, the price of
a turn or two. A server that refuses the size (413) gets halves, as for a bad point."""
REQUEST_CONCURRENCY = 4
"""Requests in flight at once while the writer is behind on a busy loop: the event loop's
turns take :data:`BUSY_TURN` or more, and a full request's worth waits in memory behind
the next one (or the disk backlog fills this many requests). On a busy loop a request
costs loop turns, not bytes (2 turns with :class:`~exporters.influx.http.HttpSink`
whatever its size, 7 through influxdb-client), and one at a time a 100,000-device pubnet
(~54,000 points/s, turns of ~0.4 s) wrote 7,142 points/s and spilled the rest to disk;
four at a time carry four times as much per turn (200,000 points to VictoriaMetrics on a
loop of 0.25 s turns: 70 turns before, 16 now, ``tests/exporters/test_influx_busy_loop.py``).
A server that is slow on its own (the loop idle) still gets one request at a time: more
would load it harder, and the disk buffer is there for that. Within a request points keep
their order; between requests in flight together the server's order is its own (InfluxDB
and VictoriaMetrics take points in any order), and a request that fails while the next
one lands is replayed after it."""
BUSY_TURN = 0.15
"""Seconds per event-loop turn (the median of the last :data:`TURN_SAMPLES`, one every
:data:`TURN_EVERY` seconds) from which the writer counts as held back by the loop: a
round of requests (a few turns) then takes a second or more."""
TURN_BOUND = 3.0
"""A request that took at most this many loop turns was held by the loop, not the server:
a request costs ~2 turns of its own, so the server answered within about one turn. Only
then do requests go out several at once; a server slower than that (1 s a write) gets one
at a time, however busy the loop."""
TURN_SAMPLES = 5
TURN_EVERY = 0.5
STOP_GRACE = 2.0
"""Seconds a write in flight at shutdown may still take before it is cancelled (its batch
goes to the disk buffer). Well inside the 10 s a service manager usually allows."""


class Outcome(Enum):
    DELIVERED = auto()
    RETRY = auto()
    ABORTED = auto()
    """Cancelled (or not started) because shutdown's grace ran out; the batch is kept."""


@dataclass(slots=True)
class WriterStats:
    points_written: int = 0
    batches_written: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, points: int) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + points


class LineSink(Protocol):
    """What the writer needs of influxdb-client's async write API (a coroutine or, as
    :class:`~exporters.influx.http.HttpSink` returns, a future)."""

    def write(self, bucket: str, org: str = ..., record: Any = ...,
              write_precision: Any = ..., **kwargs: Any) -> Awaitable[bool]: ...


@dataclass(frozen=True, slots=True)
class _Batch:
    data: bytes
    points: int


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


T = TypeVar("T")


async def get_or_stop(get: Awaitable[T], stop: asyncio.Event,
                      within: float | None = None) -> T | None:
    """What ``get`` returns, or None when ``stop`` is set or ``within`` seconds pass first.

    The writer's sending loops each wait for the next batch of its queue *or* a reason to
    stop waiting; this is that race, written once (the intake waits on the store's
    subscription with ``Subscription.get_all``, which a stop wakes without a task). ``get``
    is cancelled when it loses, and a result it had when the race ended is kept, never
    dropped: it must be safe to cancel (``asyncio.Queue.get`` is: nothing is taken before
    it returns). ``get`` failing counts as no result.
    """
    getter = asyncio.ensure_future(get)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({getter, stopper}, timeout=within,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled() and getter.exception() is None:
        return getter.result()
    return None


class InfluxWriter:
    """Writes every observation of the store to InfluxDB v2 (or a compatible server)."""

    name = "influxdb"

    def __init__(self, store: StateStore, inventory: Inventory, config: InfluxConfig,
                 *, clock: Callable[[], float] = time.time,
                 backoff: tuple[float, float] = (BACKOFF_MIN, BACKOFF_MAX),
                 stats_interval: float | None = STATS_INTERVAL,
                 stop_grace: float = STOP_GRACE,
                 request_batches: int = REQUEST_MAX_BATCHES,
                 concurrency: int = REQUEST_CONCURRENCY) -> None:
        self.store = store
        self._concurrency = concurrency
        self._request_batches = request_batches
        self._stop_grace = stop_grace
        self._stats_interval = stats_interval
        self._backoff_min, self._backoff_max = backoff
        self.config = config
        self.encoder = LineEncoder(device_tags(inventory))
        self.buffer = DiskBuffer(config.buffer_dir, config.buffer_max_bytes)
        self.stats = WriterStats()
        self._clock = clock
        self._queue: asyncio.Queue[_Batch] = asyncio.Queue()
        self._pending: list[str] = []
        self._stopping = asyncio.Event()
        self._abort_writes = asyncio.Event()
        """Set ``stop_grace`` seconds into shutdown: writes in flight are cancelled."""
        self._turn = 0.0
        """The event loop's recent turn length (see :data:`BUSY_TURN`)."""
        self._request_s = 0.0
        """How long the last finished write request took, seconds."""
        self._writes: set[asyncio.Future[bool]] = set()
        """Write requests in flight, for :meth:`_abort_now` to cancel."""
        self._intake_done = asyncio.Event()
        self._logged: set[str] = set()
        self._outage = FailureLog(log, "influx unavailable, buffering on disk",
                                  "influx available again", url=config.url)
        self._sink: LineSink | None = None
        self._sub: Subscription | None = None
        self.ready = asyncio.Event()
        """Set once the buffer is open and the writer follows the store."""

    # -- component -------------------------------------------------------------------------

    async def run(self) -> None:
        """Work until cancelled; then flush (deliver or persist) and return."""
        self._subscribe()
        cfg = self.config
        async with HttpSink(cfg, threads=self._concurrency) as sink:
            await self.serve(sink)

    async def serve(self, sink: LineSink) -> None:
        """The writer's loop on a given sink until cancelled; the cancellation is the
        request to stop: it flushes (delivers or persists) and then ends cancelled."""
        sub = self._subscribe()  # before the first await: nothing published is missed
        self._sink = sink
        grace: asyncio.TimerHandle | None = None
        try:
            await self.buffer.open()
            log.info("influx writer started", extra={
                "url": self.config.url, "bucket": self.config.bucket,
                "backlog_points": self.buffer.points})
            self.ready.set()
            # The work runs in its own task, shielded: a cancellation of this one is the
            # request to stop, answered by setting _stopping (the loops then flush and end
            # on their own) rather than by cancelling the loops mid-batch.
            work = asyncio.ensure_future(self._work(sub))
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                behind = self._behind()
                log.info("influx writer stopping", extra={
                    "queued": self._queue.qsize(), "backlog_points": self.buffer.points,
                    "spill_now": behind})
                self._stopping.set()
                sub.wake()
                if behind:
                    self._abort_now()  # what is in memory goes to disk behind the backlog
                else:
                    grace = asyncio.get_running_loop().call_later(
                        self._stop_grace, self._abort_now)
                try:
                    await work  # flushed; a second cancellation stops it hard
                except asyncio.CancelledError:
                    self._spill_now(sub)
                    raise
                raise
        finally:
            if grace is not None:
                grace.cancel()
            self._sub = None
            self.store.unsubscribe(sub)
            if self._stats_interval is not None:
                self._publish_stats()

    def _behind(self) -> bool:
        """Whether the writer is behind at the stop: a disk backlog (what is in memory
        must queue behind it, so it goes to disk), more queued than one round of
        requests carries, or a busy loop (turns of :data:`BUSY_TURN` or more: a round
        of requests takes a second or more there). Then the stop spills at once instead
        of delivering for ``stop_grace``: on a saturated loop the grace ran out anyway,
        and at 100,000 devices the stop took 3.4 s of the 10 s the whole service has."""
        return bool(self.buffer) or self._turn >= BUSY_TURN or (
            self._queue.qsize() > self._request_batches * self._concurrency)

    def _abort_now(self) -> None:
        """The stop's grace is over: writes in flight are cancelled (their batches are
        kept in the disk buffer) and none start."""
        self._abort_writes.set()
        for write in self._writes:
            write.cancel()

    async def _work(self, sub: Subscription) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._intake(sub), name="influx-intake")
            group.create_task(self._send_loop(), name="influx-send")
            group.create_task(self._report(), name="influx-stats")
            group.create_task(self._watch_turns(), name="influx-turns")

    async def _watch_turns(self) -> None:
        """Sample how long a turn of the event loop takes (what one yield costs)."""
        samples: deque[float] = deque(maxlen=TURN_SAMPLES)
        while not self._stopping.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0)
            samples.append(time.perf_counter() - started)
            self._turn = statistics.median(samples)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TURN_EVERY)

    @property
    def _requests_at_once(self) -> int:
        """How many requests go out together while the writer is behind: several when the
        loop is busy and the last request took no longer than its turns (the loop held
        it back, not the server), else one."""
        if self._turn >= BUSY_TURN and self._request_s <= TURN_BOUND * self._turn:
            return self._concurrency
        return 1

    def _subscribe(self) -> Subscription:
        if self._sub is None:
            self._sub = self.store.subscribe("influxdb")
        return self._sub

    # -- intake ------------------------------------------------------------------------------

    async def _intake(self, sub: Subscription) -> None:
        interval = self.config.flush_interval
        deadline = time.monotonic() + interval
        try:
            while not self._stopping.is_set():
                # get_all waits on the subscription's wakeup itself (a stop wakes it):
                # racing a task for sub.get() against the stop event cost two or three
                # loop turns a wait, ~1 s on a saturated loop at 100,000 devices, in which
                # the polls published more than the subscription holds (bench/fleet.py
                # saw 2,970 observations dropped for the writer in one such stretch)
                batches = await sub.get_all(max(0.0, deadline - time.monotonic()))
                if batches:
                    await self._take(batches, sub)
                if time.monotonic() >= deadline:
                    self._cut(all_pending=True)
                    deadline = time.monotonic() + interval
            # stopping: whatever the store still holds for us, then the last partial batch
            await self._take(sub.drain(), sub)
            self._cut(all_pending=True)
        finally:
            self._intake_done.set()

    async def _take(self, batches: list[Batch], sub: Subscription) -> None:
        """Encode the batches' observations into pending lines, cutting full batches, and
        yield to the loop every :data:`ENCODE_SLICE` observations (on a busy loop
        :data:`ENCODE_SLICE_BUSY`) while ``sub`` is at most half full.

        On a busy loop every yield is a turn in which hundreds of devices' polls publish
        (at 50,000 devices more than a slice's worth); yielding per slice regardless, the
        writer fell behind and the store dropped 1.5 M observations for it in bursts. Past
        half full it encodes the rest of what it took at once (bounded by the
        subscription's capacity: ~0.1 s), then takes everything that came meanwhile:
        its work per turn follows the fleet's. Stopping on a busy loop (turns of
        :data:`BUSY_TURN` or more) it does not yield either: each yield would cost the
        stop a turn, and the collectors it would yield to are stopping."""
        encode = self.encoder.encode_into
        pending = self._pending
        size = self.config.batch_size
        since_yield = 0
        busy = self._turn >= BUSY_TURN
        slice_size = ENCODE_SLICE_BUSY if busy else ENCODE_SLICE
        for batch in batches:
            observations = batch.observations
            if not observations:
                continue
            for point in encode(observations, pending):
                self._reject(point)
            if len(pending) >= size:
                self._cut(all_pending=False)
            since_yield += len(observations)
            if since_yield >= slice_size and sub.pending <= sub.capacity // 2 and not (
                    busy and self._stopping.is_set()):
                since_yield = 0
                await asyncio.sleep(0)

    def _reject(self, point: RejectedPoint) -> None:
        reason = point.reason.value
        self.stats.drop(reason, 1)
        self._log_once(reason, "influx point rejected", reason=reason, device=point.device,
                       metric=point.metric)

    def _cut(self, all_pending: bool) -> None:
        size = self.config.batch_size
        pending = self._pending
        while len(pending) >= size or (all_pending and pending):
            lines = pending[:size]
            del pending[:size]
            self._queue.put_nowait(_Batch("\n".join(lines).encode(), len(lines)))

    # -- sending -----------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        retries = 0
        while True:
            if self._queue.qsize() > QUEUE_MAX_BATCHES:
                self._log_once("behind", "influx writes slower than the fleet, queueing on "
                               "disk", queued_batches=self._queue.qsize())
                await self._persist_queued()
            if self._abort_writes.is_set() and not self.buffer:
                await self._persist_queued()  # the grace is over: the rest goes to disk
            if self.buffer:
                await self._persist_queued()
                if self._stopping.is_set() and self._intake_done.is_set() and \
                        self._queue.empty():
                    return  # the backlog waits for the next start
                per_request = self.config.batch_size * self._request_batches
                at_once = self._requests_at_once
                behind = self.buffer.points >= per_request * at_once
                chunks = await self.buffer.read_chunks(per_request, at_once if behind else 1)
                results = await self._deliver_all(
                    [_Batch(data, sum(s.points for s in segments)) for segments, data in chunks])
                delivered = [seg for (segments, _), undelivered in zip(chunks, results,
                                                                        strict=True)
                             if undelivered is None for seg in segments]
                if delivered:
                    await self.buffer.remove(delivered)
                failed = False
                for (segments, _), undelivered in zip(chunks, results, strict=True):
                    if undelivered is None:
                        continue
                    failed = True
                    if undelivered.points != sum(s.points for s in segments):
                        await self.buffer.replace(segments, undelivered.data,
                                                  undelivered.points)
                if not failed:
                    retries = 0
                    continue
                retries += 1
                await self._wait_persisting(backoff(retries, initial=self._backoff_min,
                                                    cap=self._backoff_max,
                                                    jitter=random.random()))
                continue
            if self._stopping.is_set() and self._intake_done.is_set() and self._queue.empty():
                return
            batches = await self._next_batches()
            if not batches:
                continue
            kept = [b for b in await self._deliver_all(batches) if b is not None]
            if len(kept) == 1:
                await self._persist(kept[0])
            elif kept:
                lost, error = await self.buffer.append_many([(b.data, b.points) for b in kept])
                if error is not None:
                    self._disk_failed(error, lost)

    async def _deliver_all(self, batches: list[_Batch]) -> list[_Batch | None]:
        """:meth:`_deliver` each batch, the requests in flight together; results in order.

        Every request starts first, then each is finished in order: no task per request
        (a task costs a turn to start and one to report back, ~0.4 s each at 100,000
        devices), and a request that has already answered is finished without waiting."""
        writes = [self._start(batch.data) for batch in batches]
        try:
            return [await self._deliver(batch.data, batch.points, write)
                    for batch, write in zip(batches, writes, strict=True)]
        finally:
            for write in writes:
                if not write.done():  # cancelled (a hard stop): so are the others
                    write.cancel()

    async def _next_batches(self) -> list[_Batch]:
        """The next request's batch: the next batch merged with those queued behind it, up
        to :data:`REQUEST_MAX_BATCHES` by default. When a full request's worth more waits
        (the writer is behind), the rest of the queue too, in such requests, up to
        :data:`REQUEST_CONCURRENCY` in all, to be sent at once."""
        first = await self._next_batch()
        if first is None:
            return []
        batches = [first]
        queue, per_request = self._queue, self._request_batches
        at_once = self._requests_at_once
        if at_once > 1 and queue.qsize() >= per_request:
            while len(batches) < at_once and not queue.empty():
                merged = [queue.get_nowait() for _ in range(min(per_request, queue.qsize()))]
                batches.append(_Batch(b"\n".join(b.data for b in merged),
                                      sum(b.points for b in merged)))
        return batches

    async def _next_batch(self) -> _Batch | None:
        """The next batch, merged with those queued behind it (up to
        :data:`REQUEST_MAX_BATCHES` by default): one request for what waits, not one each."""
        queue = self._queue
        first = queue.get_nowait() if not queue.empty() else await get_or_stop(
            queue.get(), self._intake_done)
        if first is None or queue.empty():
            return first
        batches = [first]
        while len(batches) < self._request_batches and not queue.empty():
            batches.append(queue.get_nowait())
        return _Batch(b"\n".join(b.data for b in batches), sum(b.points for b in batches))

    async def _persist_queued(self) -> None:
        """Spill every queued batch to the disk buffer in one worker-thread call; when
        stopping, with the intake's last batches (it ends on its own): on a busy loop
        every worker-thread call costs turns the stop does not have.

        A stop that comes during the spill is a stop too: the intake then cuts what the
        store still held into the queue while the spill is on the disk, and those batches
        are spilled after it. (The send loop ends once this returns while stopping; it
        lost them, 150,000 points in tests/exporters/test_influx_stop_backlog.py.)"""
        while True:
            stopping = self._stopping.is_set()
            if stopping:
                await self._intake_done.wait()
            await self._spill()
            if stopping or not self._stopping.is_set():
                return

    def _spill_now(self, sub: Subscription) -> None:
        """The stop's deadline passed before the writer finished (a second cancellation):
        write what is still in memory to the buffer now, blocking the loop for it. The
        process is about to exit; a short block beats losing the points (at 100,000
        devices a saturated loop left 41 batches queued at that moment)."""
        for batch in sub.drain():
            for point in self.encoder.encode_into(batch.observations, self._pending):
                self._reject(point)
        self._cut(all_pending=True)
        batches: list[_Batch] = []
        while not self._queue.empty():
            batches.append(self._queue.get_nowait())
        if batches:
            lost, error = self.buffer.append_many_now([(b.data, b.points) for b in batches])
            if error is not None:
                self._disk_failed(error, lost)
            log.warning("influx writer stopped hard, queued batches written to the buffer",
                        extra={"batches": len(batches),
                               "points": sum(b.points for b in batches)})

    async def _spill(self) -> None:
        batches: list[_Batch] = []
        while not self._queue.empty():
            batches.append(self._queue.get_nowait())
        if not batches:
            return
        lost, error = await self.buffer.append_many([(b.data, b.points) for b in batches])
        if error is not None:
            self._disk_failed(error, lost)

    async def _wait_persisting(self, seconds: float) -> None:
        """Back off, persisting new batches as they come so they queue behind the backlog."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            batch = await get_or_stop(self._queue.get(), self._stopping, remaining)
            if batch is not None:
                await self._persist(batch)

    async def _persist(self, batch: _Batch) -> None:
        """Append to the disk backlog; a disk that fails loses the batch, counted."""
        try:
            await self.buffer.append(batch.data, batch.points)
        except OSError as exc:
            self._disk_failed(exc, batch.points)

    def _disk_failed(self, exc: OSError, points: int) -> None:
        self.stats.drop("buffer_write_error", points)
        self._log_once(f"disk-{exc.errno}", "influx buffer write failed, points lost",
                       dir=str(self.buffer.directory), error=exc.strerror)

    async def _deliver(self, data: bytes, points: int,
                       started: asyncio.Future[bool] | None = None) -> _Batch | None:
        """Send (or finish sending: ``started``); None when done (delivered, or bad points
        dropped), else what to retry."""
        outcome, status, detail = await self._write(data, started)
        if outcome is Outcome.ABORTED:
            self._log_once("aborted", "influx write cancelled at shutdown, batch kept in the "
                           "disk buffer", grace_s=self._stop_grace, points=points)
            return _Batch(data, points)
        if outcome is Outcome.DELIVERED:
            self._outage.worked()
            self.stats.points_written += points
            self.stats.batches_written += 1
            return None
        if status is None or status == 429 or status >= 500:
            self._outage.failed(status=status if status is not None else "connection",
                                detail=detail)
            return _Batch(data, points)
        if status in (400, 413) and points > 1:
            lines = data.split(b"\n")
            half = len(lines) // 2
            first = await self._deliver(b"\n".join(lines[:half]), half)
            if first is not None:
                rest = b"\n".join((first.data, *lines[half:]))
                return _Batch(rest, first.points + len(lines) - half)
            return await self._deliver(b"\n".join(lines[half:]), len(lines) - half)
        reason = f"http_{status}"
        self.stats.drop(reason, points)
        self._log_once(f"{reason}-{detail[:80]}", "influx refused points, dropped",
                       status=status, points=points, detail=detail,
                       first_line=data.split(b"\n", 1)[0][:200].decode(errors="replace"))
        return None

    def _start(self, data: bytes) -> asyncio.Future[bool]:
        """Start one write request (cancelled by :meth:`_abort_now`; none starts after)."""
        if self._abort_writes.is_set():
            aborted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            aborted.cancel()
            return aborted
        write = asyncio.ensure_future(self._sink_write(data))
        self._writes.add(write)
        began = time.monotonic()

        def done(write: asyncio.Future[bool]) -> None:
            self._writes.discard(write)
            if not write.cancelled():
                self._request_s = time.monotonic() - began
        write.add_done_callback(done)
        return write

    def _sink_write(self, data: bytes) -> Awaitable[bool]:
        assert self._sink is not None
        return self._sink.write(bucket=self.config.bucket, org=self.config.org, record=data,
                                write_precision=WritePrecision.NS)

    async def _write(self, data: bytes, started: asyncio.Future[bool] | None = None
                     ) -> tuple[Outcome, int | None, str]:
        """One write request (or the rest of ``started``); cancelled when shutdown's grace
        runs out (``ABORTED``)."""
        if self._abort_writes.is_set() and started is None:
            return Outcome.ABORTED, None, "shutdown"
        # Awaited directly: a future the sink's worker thread completes costs one loop turn
        # to report back (on a saturated loop each turn is ~0.4 s); the grace's end
        # cancels it from outside (:meth:`_abort_now`).
        write = started if started is not None else self._start(data)
        try:
            await write
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                write.cancel()  # the writer itself is cancelled (a hard stop)
                raise
        except Exception:  # sorted below, from the write's result
            pass
        if write.cancelled():
            return Outcome.ABORTED, None, "shutdown"
        try:
            write.result()
        except InfluxDBError as exc:
            status = _status(exc)
            return Outcome.RETRY, status, (getattr(exc, "message", None) or str(exc))[:300]
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return Outcome.RETRY, None, type(exc).__name__
        except Exception as exc:  # the client library failing: keep the points, retry later
            self._log_once(f"client-{type(exc).__name__}", "influx client error, will retry",
                           error=type(exc).__name__)
            return Outcome.RETRY, None, type(exc).__name__
        return Outcome.DELIVERED, 204, ""

    # -- own metrics -------------------------------------------------------------------------

    async def _report(self) -> None:
        if self._stats_interval is None:
            return
        while not self._stopping.is_set():
            self._publish_stats()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._stats_interval)

    def _publish_stats(self) -> None:
        now = self._clock()
        internal = Source.INTERNAL
        obs = [
            Observation(PUBNET_DEVICE, INFLUX_POINTS_WRITTEN, float(self.stats.points_written),
                        now, internal),
            Observation(PUBNET_DEVICE, INFLUX_BUFFER_BYTES, float(self.buffer.bytes), now,
                        internal),
            Observation(PUBNET_DEVICE, INFLUX_BUFFER_POINTS, float(self.buffer.points), now,
                        internal),
            Observation(PUBNET_DEVICE, INFLUX_POINTS_DROPPED, float(self.buffer.dropped_points),
                        now, internal, ((LABEL_REASON, "buffer_full"),)),
        ]
        obs.extend(
            Observation(PUBNET_DEVICE, INFLUX_POINTS_DROPPED, float(count), now, internal,
                        ((LABEL_REASON, reason),))
            for reason, count in sorted(self.stats.dropped.items())
        )
        self.store.publish(obs)

    def _log_once(self, key: str, message: str, **fields: object) -> None:
        if key in self._logged:
            return
        self._logged.add(key)
        log.warning(message, extra=fields)

