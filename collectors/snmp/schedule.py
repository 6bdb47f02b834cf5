"""Scheduling as pure functions of time, so that tests need no sleeping.

Times are event-loop (monotonic) seconds. The first polls are spread evenly over one
interval, the devices taking their places in an order hashed from their ids
(:func:`spread_order`). A device's polls stay on the grid
``start + offset + k × interval`` (no drift however long a poll takes); a poll that comes due
while the previous one is still running is skipped, not queued, and so is the one after a
poll that began more than half an interval late (:func:`next_due`). A device that fails
keeps its interval until it is confirmed down (alerting's ``down_after`` failures), then is
re-checked after doubling intervals, capped at ``max_backoff`` (pubnet's one back-off rule,
:mod:`pubnet.backoff`, without jitter; :func:`after_failure`); the first answer puts it back
on its grid.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

from pubnet.backoff import backoff


def first_offsets(count: int, interval: float) -> list[float]:
    """Offsets that spread ``count`` first polls evenly over one interval."""
    if count <= 0:
        return []
    step = interval / count
    return [i * step for i in range(count)]


def spread_order(device_ids: Iterable[str]) -> list[str]:
    """The order in which devices take :func:`first_offsets`' places: by a stable hash of
    their id (the same at every start, on every machine), so that each kind of device is
    spread over the interval.

    In id order the kinds come in runs: the generated inventory's site devices
    (``S-…``), then its routers (``core-…``, ``da-…``, ``pn-…``), as real naming schemes
    group them too. At 100,000 devices the ~1,100 routers (SNMPv3, dozens of interfaces
    each) all came due within the same second of every interval: answering them kept the
    simulator at twice its usual CPU for ~7 s, 1,000–1,500 polls piled up in flight, and
    their answers then held pubnet's event loop in turns of 0.1–0.35 s (a scrape's head
    waited up to 0.9 s)."""
    return sorted(device_ids, key=_spread_key)


def _spread_key(device_id: str) -> tuple[bytes, str]:
    return hashlib.blake2b(device_id.encode(), digest_size=8).digest(), device_id


LATE_SPACING = 0.5
"""A poll that began late is followed by the next one at least this share of an interval
after it began (see :func:`next_due`)."""


def next_due(due: float, interval: float, now: float, started: float) -> float:
    """The next grid point after ``due`` that is not in the past at ``now`` (the poll, due at
    ``due``, began at ``started`` and ended at ``now``), nor less than half an interval after
    the poll began.

    The second condition sheds load when the poller is behind. At national scale the
    first round (walks, ~3 GET polls' work each) lasts longer than an interval, ~150 s at
    100,000 devices on 2 cores, and the next grid point of a device polled 40 s late was
    20 s later: every device stayed about as far behind as it was, and the lag drained only
    at the poller's spare pace (~8 s an interval; the capacity bench stayed 40–50 s
    behind). Now such a device skips one round, once, and its grid, spread evenly over the
    interval, stays where it was. A poll that began on time is never affected."""
    earliest = max(now, started + interval * LATE_SPACING)
    nxt = due + interval
    if nxt <= earliest:
        nxt += math.ceil((earliest - nxt) / interval) * interval
        if nxt <= earliest:
            nxt += interval
    return nxt


def after_failure(failures: int, interval: float, max_backoff: float,
                  confirm_after: int) -> float:
    """Seconds from a failed poll's due time to the device's next attempt, after its
    ``failures``-th failure in a row: one interval until ``confirm_after`` (alerting's
    ``down_after``) failures confirm it down, then doubling, capped at ``max_backoff``.

    Backing off before the confirmation only delays it: at a 60 s interval a dead district
    router's third failed poll came 180 s after its first instead of 120 s, and the sites
    behind it wait for that confirmation (alerting's ``upstream_wait``)."""
    return backoff(max(1, failures - confirm_after + 1), initial=interval,
                   cap=max(max_backoff, interval), spread=0.0)
