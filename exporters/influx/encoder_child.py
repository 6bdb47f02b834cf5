"""The encoder process: observations in on stdin, line-protocol batches out on stdout.

Run by :class:`~exporters.influx.encoder_process.EncoderProcess` as
``python -m exporters.influx.encoder_child``. Encoding is a quarter of the event loop's
work at 100,000 devices in one process (docs/benchmarks.md, session 22), and the loop is
what runs out first there; shipping the observations here costs the loop a sixth of
encoding them (``bench/influx_write.py --ship``), and the encoding runs on another core.

It is a plain blocking loop, with no event loop of its own: it has one input and one
output, and waits on nothing else. It ends at the end of its input, after answering all
of it (also when its parent dies: the pipe's end closes), or when its output breaks. It
ignores SIGTERM and SIGINT, which a terminal (and a service manager unless
``KillMode=mixed``) sends to the whole group: its parent's stop takes what it holds first.

The wire format both ways is a frame: a 4-byte big-endian length, then that many bytes
of pickle. Parent to child, in order: one :data:`Tags` message, then any number of
``("obs", [Poll, ...])`` and ``("cut",)``. Child to parent: :data:`Answer` tuples. Both
ends are pubnet's own code in the same install; pickle is safe between them.
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import struct
import sys
from array import array
from collections.abc import Sequence
from itertools import repeat
from typing import BinaryIO, cast

from exporters.influx.lineproto import LineEncoder
from pubnet.model import Labels, Observation

HEADER = struct.Struct("!I")

Poll = tuple[str | tuple[str, ...], tuple[str, ...], bytes | tuple[float, ...],
             bytes | tuple[float, ...], tuple[Labels, ...]]
"""One published batch's observations, column by column: the device (one string when
they are all one device's, as a poll's are), metrics, values and times (the bytes of an
``array('d')``, or a tuple when a value is not a float), labels. Sources are left out:
line protocol does not carry them."""

Tags = tuple[str, int, dict[str, tuple[tuple[str, str], ...]]]
"""``("tags", batch_size, inventory tags per device)``: the first message."""

Answer = tuple[bytes, int, list[tuple[str, str, str]], bool]
"""``(lines, points, rejected, cut)``: a batch of ``points`` lines joined by newlines
(empty when none), the observations rejected since the last answer as (reason, device,
metric), and whether this answers a cut (everything sent before it is accounted for)."""


def poll_columns(observations: Sequence[Observation]) -> Poll:
    """One batch as a :data:`Poll`: C-level passes only, since it runs on the event loop."""
    devices, metrics, values, stamps, _sources, labels = zip(*observations, strict=True)
    device = devices[0]
    try:
        packed_values: bytes | tuple[float, ...] = array("d", values).tobytes()
        packed_stamps: bytes | tuple[float, ...] = array("d", stamps).tobytes()
    except TypeError:  # not a float: sent as it is, rejected or written by the encoder
        packed_values, packed_stamps = values, stamps
    return (device if devices.count(device) == len(devices) else devices, metrics,
            packed_values, packed_stamps, labels)


def observations_of(poll: Poll) -> list[Observation]:
    """A :data:`Poll` back as rows the encoder unpacks like observations (its source
    left empty: the encoder does not read it)."""
    device, metrics, packed_values, packed_stamps, labels = poll
    count = len(metrics)
    devices = repeat(device, count) if isinstance(device, str) else device
    values = array("d", packed_values) if isinstance(packed_values, bytes) else packed_values
    stamps = array("d", packed_stamps) if isinstance(packed_stamps, bytes) else packed_stamps
    rows = zip(devices, metrics, values, stamps, repeat(None, count), labels, strict=False)
    return cast(list[Observation], list(rows))


def write_frame(out: BinaryIO, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(HEADER.pack(len(data)))
    out.write(data)


def read_frame(source: BinaryIO) -> object | None:
    """The next message, or None at the end of the input."""
    header = source.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    size = HEADER.unpack(header)[0]
    data = source.read(size)
    if len(data) < size:
        return None
    message: object = pickle.loads(data)
    return message


def serve(source: BinaryIO, out: BinaryIO) -> None:
    """Answer every message of ``source`` on ``out`` until the input ends."""
    first = read_frame(source)
    if first is None:
        return
    kind, batch_size, tags = cast(Tags, first)
    assert kind == "tags", kind
    encoder = LineEncoder(tags)
    pending: list[str] = []
    rejected: list[tuple[str, str, str]] = []
    while (message := read_frame(source)) is not None:
        request = cast(tuple[str, list[Poll]] | tuple[str], message)
        if request[0] == "cut":
            answer(out, pending, len(pending), rejected, cut=True)
            out.flush()
            continue
        for poll in cast(tuple[str, list[Poll]], request)[1]:
            for point in encoder.encode_into(observations_of(poll), pending):
                rejected.append((point.reason.value, point.device, point.metric))
            while len(pending) >= batch_size:
                answer(out, pending, batch_size, rejected, cut=False)
        if rejected:
            answer(out, pending, 0, rejected, cut=False)
        out.flush()


def answer(out: BinaryIO, pending: list[str], points: int,
           rejected: list[tuple[str, str, str]], *, cut: bool) -> None:
    """Send the first ``points`` pending lines and the rejections so far; both are
    emptied by what was sent."""
    lines = "\n".join(pending[:points]).encode()
    del pending[:points]
    write_frame(out, (lines, points, list(rejected), cut))
    rejected.clear()


def main() -> None:
    # A stop is the parent's to make: a terminal's Ctrl-C (and systemd's SIGTERM, unless
    # KillMode=mixed) reaches the whole group, and a child that died of it would lose what
    # the parent's stop is about to take from it. The parent ends the input; a parent
    # gone ends it too.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError):  # the parent went: nothing to answer
        serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
