"""Scheduling as pure functions of time, so that tests need no sleeping.

Times are event-loop (monotonic) seconds. A device's polls stay on the grid
``first + k × interval`` (no drift however long a poll takes), where ``first`` is when its
first poll began (its offset in the first interval, or later when the first round ran
late: :func:`after_first`); a poll that comes due while the previous one is still running
is skipped, not queued. A device that fails is
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



def after_first(due: float, started: float, interval: float, now: float) -> float:
    """The due time after a device's first poll, which was due at ``due`` and began at
    ``started``: one interval after it began.

    The first round walks every table (~3 GET polls' work each), so at national scale it
    lasts longer than an interval (~150 s at 100,000 devices on 2 cores). On the grid of
    the first offsets every device was then behind from its second poll on, and the poll
    lag drained only at the poller's spare pace (~8 s an interval with ~14 % to spare).
    Anchored where each first poll really began, the second round follows the pace the
    first one had, and no device starts out behind. On time, it is the grid itself."""
    return next_due(max(due, started), interval, now)
