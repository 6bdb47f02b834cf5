"""Outbox workers: every message to every channel, in order, until the channel accepts it.

One worker per channel sends the oldest undelivered message and only then the next, so a
channel that is down for an hour receives everything afterwards in the original order. A
message is marked delivered only after the channel accepted it; a process killed between
the two re-sends that one message after restart, with the same ``X-Pubnet-Delivery`` key so
that the receiver can drop the duplicate. Failures back off exponentially (capped, with
jitter), never sooner than a throttling far end asked (``Retry-After``), and are logged once
when a channel starts failing and once when it recovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field

from alerting.channels import DeliveryError, Sender
from alerting.db import AsyncIncidentDB, OutboxRow
from pubnet.backoff import backoff
from pubnet.failures import FailureLog

log = logging.getLogger("pubnet.alerting.delivery")


@dataclass(slots=True)
class ChannelStats:
    delivered: int = 0
    failures: int = 0
    pending: int = 0
    last_error: str = ""


@dataclass(slots=True)
class _Queue:
    rows: deque[OutboxRow] = field(default_factory=deque)
    seqs: set[int] = field(default_factory=set)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    idle: bool = False
    """The worker waits for rows (not for a send, a back-off or the database)."""
    started: Awaitable[None] | None = None
    """The first row's send, begun by :meth:`Delivery.enqueue` for an idle worker."""


class Delivery:
    """Per-channel outbox queues fed from SQLite; :meth:`run` drains them until cancelled."""

    def __init__(
        self,
        db: AsyncIncidentDB,
        senders: Mapping[str, Sender],
        *,
        initial_backoff: float,
        max_backoff: float,
        clock: Callable[[], float] = time.time,
        on_delivered: Callable[[OutboxRow], None] | None = None,
    ) -> None:
        self.db = db
        self.senders = dict(senders)
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self.on_delivered = on_delivered
        self.stats: dict[str, ChannelStats] = {name: ChannelStats() for name in senders}
        self._queues: dict[str, _Queue] = {name: _Queue() for name in senders}
        self._unknown_logged: set[str] = set()
        self._failures = {name: FailureLog(log, "channel failing, will retry",
                                           "channel recovered", clock=clock, channel=name)
                          for name in senders}
        self._db_failures = FailureLog(log, "cannot record delivery in the alerting database",
                                       level=logging.ERROR)

    def enqueue(self, rows: Iterable[OutboxRow]) -> None:
        """Hand committed outbox rows to their channel workers (duplicates are ignored)."""
        for row in rows:
            queue = self._queues.get(row.message.channel)
            if queue is None:
                if row.message.channel not in self._unknown_logged:
                    self._unknown_logged.add(row.message.channel)
                    log.warning("outbox names a channel that is not configured, kept unsent",
                                extra={"channel": row.message.channel})
                continue
            if row.seq in queue.seqs:
                continue
            queue.seqs.add(row.seq)
            queue.rows.append(row)
            if queue.idle and queue.started is None:
                # Begun here rather than when the worker wakes: a turn sooner, ~0.3 s on
                # the saturated loop of 100,000 devices. A sender that fails to begin
                # fails again in the worker's own attempt, which reports it.
                with contextlib.suppress(Exception):
                    queue.started = self.senders[row.message.channel].send(row.message)
            self.stats[row.message.channel].pending = len(queue.rows)
            queue.wakeup.set()

    async def load(self) -> int:
        """Queue every undelivered message from the database (after a restart)."""
        rows = await self.db.call(self.db.sync.undelivered)
        self.enqueue(rows)
        return len(rows)

    def pending(self) -> int:
        return sum(len(q.rows) for q in self._queues.values())

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for name in self._queues:
                group.create_task(self._worker(name), name=f"alerting-deliver-{name}")

    async def _record(self, fn: Callable[..., None], *args: object) -> bool:
        """Write delivery bookkeeping; a database error is logged once and reported."""
        future = self.db.submit(fn, *args)
        await asyncio.wait([future])
        return self._recorded(future)

    def _recorded(self, future: asyncio.Future[None]) -> bool:
        error = future.exception()  # sqlite3.Error or OSError: locked, damaged, disk full
        if error is not None:
            self._db_failures.failed(error=str(error))
            return False
        self._db_failures.worked()
        return True

    def _record_delivered(self, name: str, row: OutboxRow, attempts: int) -> None:
        """Mark ``row`` delivered without waiting for the write (two loop turns a message
        on a saturated loop): the next message goes out meanwhile, and the database's one
        thread writes the marks in order. The channel's count moves once it is written."""

        def written(future: asyncio.Future[None]) -> None:
            if future.cancelled():
                return
            self._recorded(future)
            self.stats[name].delivered += 1
            if self.on_delivered is not None:
                self.on_delivered(row)

        self.db.submit(self.db.sync.mark_delivered, row.seq, self.clock(),
                       attempts).add_done_callback(written)

    async def _worker(self, name: str) -> None:
        queue = self._queues[name]
        sender = self.senders[name]
        stats = self.stats[name]
        failures = self._failures[name]
        try:
            while True:
                if not queue.rows:
                    queue.wakeup.clear()
                    queue.idle = True
                    try:
                        await queue.wakeup.wait()
                    finally:
                        queue.idle = False
                    continue
                row = queue.rows[0]
                attempts = row.attempts
                while True:
                    attempts += 1
                    started, queue.started = queue.started, None
                    try:
                        await (started if started is not None else sender.send(row.message))
                        break
                    except DeliveryError as exc:
                        stats.failures += 1
                        stats.last_error = str(exc)
                        failures.failed(error=str(exc), incident=row.message.incident_id)
                        await self._record(self.db.sync.mark_failed, row.seq, attempts,
                                           str(exc))
                        delay = backoff(attempts - row.attempts, initial=self.initial_backoff,
                                        cap=self.max_backoff, jitter=random.random())
                        if exc.retry_after is not None:
                            delay = max(delay, exc.retry_after)
                        await asyncio.sleep(delay)
                # Accepted: move on even if the database cannot record it right now; the
                # worst case is one duplicate after a restart, with the same delivery key.
                self._record_delivered(name, row, attempts)
                queue.rows.popleft()
                queue.seqs.discard(row.seq)
                stats.pending = len(queue.rows)
                failures.worked()
        finally:
            started, queue.started = queue.started, None
            if isinstance(started, Coroutine):  # a sender's coroutine never awaited
                started.close()
            elif isinstance(started, asyncio.Future):
                started.cancel()
            await asyncio.shield(sender.aclose())
