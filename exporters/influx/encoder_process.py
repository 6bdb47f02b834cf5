"""Line-protocol encoding in a child process, for fleets whose event loop is full.

At 100,000 devices in one process, encoding ~75,000 observations a second is a quarter of
the event loop's work, and the loop is busy 99 % (docs/benchmarks.md, session 22). Here
the writer's intake only ships each batch's columns down a pipe (~0.3 µs an observation
against ~1.3–1.6 µs to encode it: ``bench/influx_write.py --ship``), the child
(:mod:`exporters.influx.encoder_child`) encodes and cuts batches on another core, and its
answers come back as whole batches of bytes, ready to send.

The pipes are written and read by two threads of this object's own, in blocking calls
that release the GIL; the loop sees one callback per answer. Through the loop's own pipe
transports the answers (~11 MB/s at 100,000 devices) came back one read of 256 KB per loop
turn, a third of what the fleet needs on turns of 0.1 s, and the store dropped 35 M
observations for the writer in 6 minutes (bench/fleet.py, session 24).

The order of points is kept: one pipe each way, answered in order. What the child holds
is accounted for: every answer says how many observations it covers (points written plus
points rejected), and if the child dies the rest are counted lost, logged, and the writer
encodes in its own process from then on (:attr:`EncoderProcess.failed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import IO, Self, cast

from exporters.influx.encoder_child import HEADER, Answer, Poll, poll_columns, read_frame
from exporters.influx.lineproto import Rejected, RejectedPoint
from pubnet.model import Batch

log = logging.getLogger("pubnet.exporters.influx")

QUEUED_HIGH = 8 << 20
"""Bytes shipped and not yet written to the child before the intake waits for it (~250,000
observations, three seconds of a 100,000-device fleet): a child behind for longer holds
the intake, and the store's subscription then counts what it drops."""
QUEUED_LOW = 2 << 20
"""The intake goes on once the bytes waiting for the child are down to this."""
PIPE_BYTES = 1 << 20
"""Each pipe's kernel buffer (Linux's default is 64 KB; 1 MB is what an unprivileged
process may ask for by default): a few batches' worth in flight each way per wakeup of
the threads."""
FINISH_TIMEOUT = 3.0
"""Seconds the child may take to answer what it holds at a stop (a second's worth of
observations takes ~0.1 s) before it is killed and the rest counted lost: the whole stop
has 10 s."""


class EncoderProcess:
    """One child process encoding for one writer.

    ``on_batch(lines, points)`` receives each batch in order and ``on_reject`` each point
    refused (both called on the event loop); ``on_lost(points)`` the observations the
    child took and never answered for, when it dies."""

    def __init__(self, tags: Mapping[str, tuple[tuple[str, str], ...]], batch_size: int,
                 on_batch: Callable[[bytes, int], None],
                 on_reject: Callable[[RejectedPoint], None],
                 on_lost: Callable[[int], None]) -> None:
        self._tags = dict(tags)
        self._batch_size = batch_size
        self._on_batch = on_batch
        self._on_reject = on_reject
        self._on_lost = on_lost
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._queued = 0
        """Bytes in the outbox (the loop adds, the sending thread takes away)."""
        self._queued_lock = threading.Lock()
        self._room = asyncio.Event()
        """Set while the outbox is below :data:`QUEUED_HIGH` (or was drained to
        :data:`QUEUED_LOW` since)."""
        self._room.set()
        self._shipped = 0
        """Observations sent that no answer has covered yet (on the loop)."""
        self._ended = asyncio.Event()
        """The child exited and every answer it gave was taken."""
        self.failed = False
        """The child died (or never started): the writer encodes in its own process."""

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        try:
            self._process = await asyncio.to_thread(
                subprocess.Popen, [sys.executable, "-m", "exporters.influx.encoder_child"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        except OSError as exc:
            self.failed = True
            self._ended.set()
            log.error("influx encoder process did not start, encoding in this process",
                      extra={"error": exc.strerror or type(exc).__name__})
            return self
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        for pipe in (stdin, stdout):
            with contextlib.suppress(OSError):  # over /proc/sys/fs/pipe-max-size
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._send(("tags", self._batch_size, self._tags))
        self._threads = [
            threading.Thread(target=self._write_all, args=(stdin,), daemon=True,
                             name="influx-encoder-send"),
            threading.Thread(target=self._read_all, args=(stdout,), daemon=True,
                             name="influx-encoder-read"),
        ]
        for thread in self._threads:
            thread.start()
        log.info("influx encoder process started", extra={"pid": self._process.pid})
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.finish(FINISH_TIMEOUT if exc_type is None else 0.0)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    # -- on the loop -------------------------------------------------------------------------

    def ship(self, batches: Iterable[Batch]) -> int:
        """Send the batches' observations to the child; how many. Never waits: call
        :meth:`drain` after, which waits only while the child is far behind."""
        if self.failed:
            return 0
        polls: list[Poll] = [poll_columns(b.observations) for b in batches if b.observations]
        if not polls:
            return 0
        count = sum(len(p[1]) for p in polls)
        self._shipped += count
        self._send(("obs", polls))
        return count

    def cut(self) -> None:
        """Ask for what the child holds as a batch, however small (the flush interval)."""
        if not self.failed:
            self._send(("cut",))

    async def drain(self) -> None:
        """Wait while more than :data:`QUEUED_HIGH` bytes wait to be written to the child."""
        while not self._room.is_set() and not self.failed:
            await self._room.wait()

    async def finish(self, within: float = FINISH_TIMEOUT) -> None:
        """Cut, end the child's input, take its last answers and let it exit; kill it
        after ``within`` seconds and count what it still held as lost."""
        process = self._process
        if process is None:
            return
        if not self.failed and within > 0:
            self.cut()
        self._outbox.put(None)  # the sending thread closes the child's input after the rest
        try:
            async with asyncio.timeout(within):
                await self._ended.wait()
        except TimeoutError:
            if within > 0:
                log.warning("influx encoder process slow to finish, stopping it",
                            extra={"within_s": within, "points": self._shipped})
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            for thread in self._threads:  # both end once the child is gone
                await asyncio.to_thread(thread.join)
            self._lose()
            self._process = None

    def _send(self, message: object) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._queued_lock:
            self._queued += HEADER.size + len(data)
            if self._queued > QUEUED_HIGH:
                self._room.clear()
        self._outbox.put(HEADER.pack(len(data)) + data)

    def _take(self, answer: Answer) -> None:
        lines, points, rejected, _cut = answer
        self._shipped -= points + len(rejected)
        for reason, device, metric in rejected:
            self._on_reject(RejectedPoint(Rejected(reason), device, metric))
        if points:
            self._on_batch(lines, points)

    def _exited(self, code: int, why: str | None) -> None:
        """The child is gone and every answer before this was taken."""
        if why is not None or self._shipped or code:
            self._failed(why or f"exited with code {code}")
        self._ended.set()

    def _failed(self, why: str) -> None:
        if self.failed:
            return
        self.failed = True
        self._room.set()
        log.error("influx encoder process failed, encoding in this process from now on",
                  extra={"why": why, "points_lost": self._shipped})
        self._lose()

    def _lose(self) -> None:
        if self._shipped > 0:
            self._on_lost(self._shipped)
        self._shipped = 0

    # -- in the threads ----------------------------------------------------------------------

    def _post(self, callback: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody to tell
            self._loop.call_soon_threadsafe(callback, *args)

    def _write_all(self, stdin: IO[bytes]) -> None:
        """Write the outbox to the child until its end (None), then close its input."""
        fd = stdin.fileno()
        try:
            while (data := self._outbox.get()) is not None:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                with self._queued_lock:
                    self._queued -= len(data)
                    if self._queued <= QUEUED_LOW and not self._room.is_set():
                        self._post(self._room.set)
        except OSError:  # the child died: the reading thread reports it
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read_all(self, stdout: IO[bytes]) -> None:
        """Hand each answer to the loop, in order, until the child's output ends."""
        why: str | None = None
        with open(stdout.fileno(), "rb", buffering=PIPE_BYTES, closefd=False) as source:
            try:
                while (answer := read_frame(source)) is not None:
                    self._post(self._take, cast(Answer, answer))
            except (OSError, pickle.UnpicklingError, EOFError) as exc:
                why = f"unreadable answer: {type(exc).__name__}"
        stdout.close()
        assert self._process is not None
        if why is not None and self._process.poll() is None:
            self._process.kill()
        self._post(self._exited, self._process.wait(), why)
