"""Reading an inventory file without letting one absurd line cost gigabytes.

A spreadsheet export gone wrong (or a hostile file) can hold a single cell of hundreds of
megabytes. Read whole and split into cells, such a file used to cost six times its size
in memory before any check ran. :func:`read_bounded` reads in chunks instead and leaves out
every line longer than :data:`MAX_LINE_BYTES` -- replaced by an empty line, so line numbers
stay right -- returning where each was and how it began, for the caller to report. A line
that long cannot be a valid row (every cell is at most
:data:`~inventory.records.MAX_TEXT` characters), so nothing of use is lost, and memory
stays within the file's good lines plus one chunk.

Finding long lines must not slow down the 60 MB of a national inventory, so no line is
looked at one by one: within a chunk, a line longer than ``MAX_LINE_BYTES`` must contain a
whole aligned block of half that size without a newline, and only such blocks (never
there in a normal file) are examined. That is ~30 ``bytes.find`` calls per MiB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_LINE_BYTES", "LongLine", "read_bounded"]

MAX_LINE_BYTES = 65536
"""Longest line read, in bytes; room for every column at its longest in Thai (3 bytes a
character) and quoted, with plenty to spare for ignored extra columns."""

CHUNK_BYTES = 32 << 20
"""The first read: a whole national inventory file at once (then no copy is made). Later
reads take 1 MiB, so a file whose lines run long holds little more than this at a time."""
PREFIX_BYTES = 4096
"""How much of a long line is kept, to name its record and column in the message."""


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line left out: its 1-based number and its first :data:`PREFIX_BYTES` bytes."""

    line: int
    prefix: bytes


class _Reader:
    """The state of one pass over a file; see :func:`read_bounded`."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.block = max(1, max_line // 2)
        self.pieces: list[bytes | memoryview] = []
        self.size = 0  # bytes in pieces
        self.carry: list[bytes] = []  # the unfinished last line, at most max_line bytes
        self.carry_size = 0
        self.skipping = False  # inside a long line: drop bytes up to the next newline
        self.long_at: list[tuple[int, bytes]] = []  # (offset in the output, prefix)

    def emit(self, data: bytes | memoryview) -> None:
        if len(data):
            if isinstance(data, memoryview) and 2 * len(data) < len(data.obj):  # type: ignore[arg-type]
                data = bytes(data)  # do not pin a whole chunk for a few lines of it
            self.pieces.append(data)
            self.size += len(data)

    def leave_out(self, prefix: bytes) -> None:
        """The line starting at the current output position is too long: note it."""
        self.long_at.append((self.size, prefix[:PREFIX_BYTES]))

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        first = chunk.find(b"\n")
        if first < 0:  # the whole chunk continues the current line
            if self.skipping:
                return
            if self.carry_size + len(chunk) > self.max_line:
                self.leave_out(b"".join(self.carry) + chunk[:PREFIX_BYTES])
                self.carry, self.carry_size, self.skipping = [], 0, True
            else:
                self.carry.append(chunk)
                self.carry_size += len(chunk)
            return
        # The line that ends at `first`.
        start = 0
        if self.skipping:
            self.skipping, start = False, first  # keep its newline: an empty line
        elif self.carry_size + first > self.max_line:
            self.leave_out(b"".join(self.carry) + chunk[:PREFIX_BYTES])
            start = first
        else:
            for piece in self.carry:
                self.emit(piece)
        self.carry, self.carry_size = [], 0
        last = chunk.rfind(b"\n")
        # Lines wholly inside the chunk, between `first` and `last`.
        block = self.block
        position = first + 1
        while position + block <= last:
            if chunk.find(b"\n", position, position + block) >= 0:
                position += block
                continue
            begin = chunk.rfind(b"\n", 0, position) + 1
            end = chunk.find(b"\n", position + block)  # <= last
            if end - begin > self.max_line:
                self.emit(view[start:begin])
                self.leave_out(chunk[begin : begin + PREFIX_BYTES])
                start = end  # keep the newline: an empty line
            position = end + 1
        self.emit(view[start : last + 1])
        tail = len(chunk) - last - 1
        if tail > self.max_line:
            self.leave_out(chunk[last + 1 : last + 1 + PREFIX_BYTES])
            self.skipping = True
        elif tail:
            self.carry, self.carry_size = [chunk[last + 1 :]], tail

    def finish(self) -> tuple[bytes, list[LongLine]]:
        if not self.skipping:
            for piece in self.carry:
                self.emit(piece)
        data = b"".join(self.pieces)
        self.pieces = []
        longs: list[LongLine] = []
        counted, newlines = 0, 0
        for offset, prefix in self.long_at:
            newlines += data.count(b"\n", counted, offset)
            counted = offset
            longs.append(LongLine(newlines + 1, prefix))
        return data, longs


def read_bounded(path: Path, max_line: int = MAX_LINE_BYTES,
                 chunk_bytes: int = CHUNK_BYTES) -> tuple[bytes, list[LongLine]]:
    """The bytes of ``path`` with every line longer than ``max_line`` bytes left out (as an
    empty line), and those lines' numbers and beginnings.

    Raises:
        OSError: the file cannot be opened or read.
    """
    reader = _Reader(max_line)
    chunks = 0
    whole = b""
    with path.open("rb") as handle:
        # Ask for the file's size (plus one byte, to see the end) rather than a whole chunk:
        # a 32 MiB buffer for a 21 MB file costs more than the read itself.
        size = min(chunk_bytes, os.fstat(handle.fileno()).st_size + 1)
        while chunk := handle.read(size):
            reader.feed(chunk)
            chunks, whole = chunks + 1, chunk
            # Past the first read the file is either big or has a long line: smaller reads
            # keep what is held at once small.
            size = min(chunk_bytes, 1 << 20)
        del chunk
    if chunks == 1 and not reader.long_at:
        return whole, []  # the common case: one read, nothing left out, no copy
    return reader.finish()
