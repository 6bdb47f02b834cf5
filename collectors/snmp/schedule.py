"""Scheduling as pure functions of time, so that tests need no sleeping.

Times are event-loop (monotonic) seconds. A device's polls stay on the grid
``start + offset + k × interval`` (no drift however long a poll takes); a poll that comes due
while the previous one is still running is skipped, not queued. A device that fails is
re-checked after ``interval × 2^(failures-1)``, capped at ``max_backoff`` (pubnet's one
back-off rule, :mod:`pubnet.backoff`, without jitter); the first answer puts it back on its
grid.
"""

from __future__ import annotations

import math


def first_offsets(count: int, interval: float) -> list[float]:
    """Offsets that spread ``count`` first polls evenly over one interval."""
    if count <= 0:
        return []
    step = interval / count
    return [i * step for i in range(count)]


def next_due(due: float, interval: float, now: float) -> float:
    """The next grid point after ``due`` that is not in the past at ``now``."""
    nxt = due + interval
    if nxt <= now:
        nxt += math.ceil((now - nxt) / interval) * interval
        if nxt <= now:
            nxt += interval
    return nxt

