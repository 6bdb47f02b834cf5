"""What a piece of code keeps allocated: the memory budgets' tests (issue 15: ~350 bytes per
series for the whole service at 100,000 devices) measure with this.

Only what this thread allocated while ``build`` ran counts, found by this module's frame in
each allocation's traceback: threads that earlier tests left running (an executor, an HTTP
poster) allocate meanwhile, and ``tracemalloc.get_traced_memory()`` counted theirs too, so
the budgets failed now and then under load."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FRAMES = 64
"""Traceback depth kept per allocation: enough to reach :func:`kept_by` from where the
code under test allocates."""


def kept_by(build: Callable[[], T]) -> tuple[T, int]:
    """What ``build`` returns, and the bytes it allocated and still holds after a full
    collection (what it returns included)."""
    gc.collect()
    tracemalloc.start(FRAMES)
    try:
        result = build()
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = snapshot.filter_traces([tracemalloc.Filter(True, __file__, all_frames=True)])
    return result, sum(trace.size for trace in mine.traces)
