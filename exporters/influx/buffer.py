"""A bounded on-disk backlog of line-protocol batches, oldest first.

Each batch InfluxDB could not take becomes one segment file, written once (to a temporary
name, flushed, fsynced, then renamed) and deleted once delivered:
``<sequence>-<points>.lp``. The sequence orders replay; the point count in the name lets a
restarted pubnet know its backlog without reading it. When the backlog grows past
``max_bytes`` the oldest segments are deleted, their points counted as dropped and the
episode logged once. All file work runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pubnet.exporters.influx")

_SEGMENT = re.compile(r"^(\d{20})-(\d+)\.lp$")


@dataclass(frozen=True, slots=True)
class Segment:
    seq: int
    points: int
    size: int
    path: Path


class DiskBuffer:
    """Segments in ``directory``; not shared between processes."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._segments: list[Segment] = []
        self._next_seq = 0
        self.bytes = 0
        self.points = 0
        self.dropped_points = 0
        self._dropping = False

    # -- state -------------------------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    # -- operations ----------------------------------------------------------------------

    async def open(self) -> None:
        """Create the folder, forget half-written files, index what a previous run left."""
        self._segments = await asyncio.to_thread(self._scan)
        self.bytes = sum(s.size for s in self._segments)
        self.points = sum(s.points for s in self._segments)
        self._next_seq = self._segments[-1].seq + 1 if self._segments else 0
        if self._segments:
            log.info("influx buffer has a backlog from a previous run", extra={
                "dir": str(self.directory), "segments": len(self._segments),
                "points": self.points})

    def _scan(self) -> list[Segment]:
        self.directory.mkdir(parents=True, exist_ok=True)
        found = []
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".tmp"):
                os.unlink(entry.path)
                continue
            match = _SEGMENT.match(entry.name)
            if match and entry.is_file():
                found.append(Segment(int(match.group(1)), int(match.group(2)),
                                     entry.stat().st_size, Path(entry.path)))
        found.sort(key=lambda s: s.seq)
        return found

    async def append(self, data: bytes, points: int) -> None:
        """Persist one batch at the end of the backlog; drops the oldest when over size."""
        segment = self._next_segment(data, points)
        await asyncio.to_thread(_write_atomically, segment.path, data)
        self._adopt([segment])
        await self._enforce_limit()

    def _next_segment(self, data: bytes, points: int) -> Segment:
        """The next segment's name (sequence and point count) for ``data``."""
        seq = self._next_seq
        self._next_seq += 1
        return Segment(seq, points, len(data), self.directory / f"{seq:020d}-{points}.lp")

    def _adopt(self, written: list[Segment]) -> None:
        """Count segments now on disk into the backlog."""
        for seg in written:
            self._segments.append(seg)
            self.bytes += seg.size
            self.points += seg.points

    async def append_many(self, batches: list[tuple[bytes, int]]) -> tuple[int, OSError | None]:
        """Persist several batches at the end of the backlog in one worker-thread call (a
        stop spilling its queue: one hop to the thread instead of one per batch). A disk
        error keeps the batches written before it: returns the points not written and the
        error (0 and None when all were)."""
        if not batches:
            return 0, None
        planned = [(self._next_segment(data, points), data) for data, points in batches]
        written, error = await asyncio.to_thread(_write_all, planned)
        self._adopt(written)
        await self._enforce_limit()
        return sum(points for _, points in batches[len(written):]), error

    def append_many_now(self, batches: list[tuple[bytes, int]]) -> tuple[int, OSError | None]:
        """:meth:`append_many` in the calling thread, for the last moment of a stop when
        the loop has no time left for a worker thread. Over ``max_bytes`` the next start
        drops the oldest (it indexes what is on disk)."""
        planned = [(self._next_segment(data, points), data) for data, points in batches]
        written, error = _write_all(planned)
        self._adopt(written)
        return sum(points for _, points in batches[len(written):]), error

    async def _enforce_limit(self) -> None:
        doomed: list[Segment] = []
        while self.bytes > self.max_bytes and self._segments:
            seg = self._segments.pop(0)
            doomed.append(seg)
            self.bytes -= seg.size
            self.points -= seg.points
            self.dropped_points += seg.points
        if not doomed:
            return
        if not self._dropping:
            self._dropping = True
            log.warning("influx buffer full, dropping oldest points", extra={
                "dir": str(self.directory), "max_bytes": self.max_bytes,
                "dropped": sum(s.points for s in doomed)})
        await asyncio.to_thread(_unlink_all, [s.path for s in doomed])

    async def read_oldest(self, max_points: int) -> tuple[list[Segment], bytes]:
        """The oldest segments, merged up to ``max_points`` (at least one), and their data."""
        (chunk,) = await self.read_chunks(max_points, 1)
        return chunk

    async def read_chunks(self, max_points: int, count: int
                          ) -> list[tuple[list[Segment], bytes]]:
        """Up to ``count`` requests' worth of the oldest segments, in order, each merged up
        to ``max_points`` (at least one segment), with their data: one worker-thread call
        for the requests a writer that is behind sends at once."""
        chunks: list[list[Segment]] = []
        chosen: list[Segment] = []
        total = 0
        for seg in self._segments:
            if chosen and total + seg.points > max_points:
                chunks.append(chosen)
                if len(chunks) == count:
                    chosen = []
                    break
                chosen, total = [], 0
            chosen.append(seg)
            total += seg.points
        if chosen:
            chunks.append(chosen)
        datas = await asyncio.to_thread(_read_chunks, [[s.path for s in c] for c in chunks])
        return list(zip(chunks, datas, strict=True))

    async def remove(self, segments: list[Segment]) -> None:
        """Forget delivered segments."""
        gone = {s.seq for s in segments}
        self._segments = [s for s in self._segments if s.seq not in gone]
        for seg in segments:
            self.bytes -= seg.size
            self.points -= seg.points
        await asyncio.to_thread(_unlink_all, [s.path for s in segments])
        if not self._segments and self._dropping:
            self._dropping = False
            log.info("influx buffer drained", extra={"dropped_total": self.dropped_points})

    async def replace_oldest(self, segments: list[Segment], data: bytes, points: int) -> None:
        """Partly delivered: keep only the undelivered ``data`` in place of ``segments``."""
        await self.replace(segments, data, points)

    async def replace(self, segments: list[Segment], data: bytes, points: int) -> None:
        """Partly delivered: keep only the undelivered ``data`` in place of ``segments``
        (consecutive ones), where they were in the backlog."""
        seq = segments[0].seq
        path = self.directory / f"{seq:020d}-{points}.lp"
        await asyncio.to_thread(_write_atomically, path, data)
        stale = [s for s in segments if s.path != path]
        await self.remove(stale)
        replaced = Segment(seq, points, len(data), path)
        at = next((i for i, s in enumerate(self._segments) if s.seq >= seq),
                  len(self._segments))
        if at < len(self._segments) and self._segments[at].seq == seq:
            self._segments[at] = replaced
        else:
            self._segments.insert(at, replaced)
        self.bytes += len(data) - sum(s.size for s in segments if s.path == path)
        self.points += points - sum(s.points for s in segments if s.path == path)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _write_all(planned: list[tuple[Segment, bytes]]) -> tuple[list[Segment], OSError | None]:
    """Write segments in order; stop at the first failure: those written, and the error."""
    written: list[Segment] = []
    for seg, data in planned:
        try:
            _write_atomically(seg.path, data)
        except OSError as exc:
            return written, exc
        written.append(seg)
    return written, None


def _read_chunks(chunks: list[list[Path]]) -> list[bytes]:
    return [b"\n".join(p.read_bytes() for p in paths) for paths in chunks]


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
