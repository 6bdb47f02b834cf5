"""The on-disk backlog: order, accounting and the size bound, for any sequence of operations."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from exporters.influx.buffer import DiskBuffer

Op = tuple[str, int]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 40)),
        st.tuples(st.just("deliver"), st.integers(1, 60)),
        st.tuples(st.just("partial"), st.integers(1, 60)),
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=30,
)


def batch(start: int, count: int) -> bytes:
    return b"\n".join(b"m value=%d.0 %d" % (i, i) for i in range(start, start + count))


def on_disk(directory: Path) -> tuple[int, int]:
    """(bytes, points) of the segment files, points read from their names."""
    files = list(directory.glob("*.lp"))
    return (sum(p.stat().st_size for p in files),
            sum(int(p.name.split("-")[1][: -len(".lp")]) for p in files))


async def play(directory: Path, operations: list[Op], max_bytes: int) -> None:
    buffer = DiskBuffer(directory, max_bytes)
    await buffer.open()
    model: list[int] = []  # point ids in the backlog, oldest first
    next_id = 0
    dropped = 0
    for op, n in operations:
        if op == "append":
            await buffer.append(batch(next_id, n), n)
            model.extend(range(next_id, next_id + n))
            next_id += n
        elif op == "restart":
            dropped_before = buffer.dropped_points
            buffer = DiskBuffer(directory, max_bytes)
            await buffer.open()
            buffer.dropped_points = dropped_before
        elif buffer:
            segments, data = await buffer.read_oldest(n)
            got = [int(line.split(b" ")[-1]) for line in data.split(b"\n")]
            assert got == model[: len(got)], "oldest first, in order"
            if op == "deliver":
                await buffer.remove(segments)
                del model[: len(got)]
            else:  # the first half delivered, the rest kept in place
                keep = got[len(got) // 2 :]
                if keep and len(keep) < len(got):
                    await buffer.replace_oldest(segments, batch(keep[0], len(keep)), len(keep))
                    del model[: len(got) - len(keep)]
        # the bound drops oldest segments; follow it in the model
        dropped_now = buffer.dropped_points - dropped
        if dropped_now:
            del model[:dropped_now]
            dropped = buffer.dropped_points
        assert buffer.points == len(model)
        disk_bytes, disk_points = on_disk(directory)
        assert buffer.bytes == disk_bytes <= max_bytes
        assert disk_points == len(model)


@settings(max_examples=60, deadline=None)
@given(operations=ops, max_bytes=st.sampled_from([200, 2_000, 1 << 20]))
def test_backlog_matches_a_simple_model(operations: list[Op], max_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(play(Path(tmp), operations, max_bytes))
