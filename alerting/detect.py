"""Turning raw poll results and readings into confirmed facts, without a clock.

Each tracker is fed ``(key, value, ts)`` and answers with a transition when one is confirmed:
a device down after ``down_after`` consecutive failed attempts (one ok attempt brings it back),
an up/down element that changes too often (flapping), a reading above a threshold for a
duration, an access point with no clients for a long time during opening hours. (Reboots are
the collectors' finding, carried by the attempt record: :mod:`alerting.intake`.) All state
is per key in dictionaries; every method is O(1), so a storm of 25,000 changes costs 25,000
dictionary updates.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, KeysView
from dataclasses import dataclass
from enum import StrEnum

from pubnet.derive import counter_rate


class Transition(StrEnum):
    DOWN = "down"
    UP = "up"


class AttemptCounter:
    """Consecutive failed attempts per device; confirms *down* at ``down_after``.

    Fed one :class:`~pubnet.model.Attempt` record per attempt, as the store publishes them:
    every call is a distinct attempt. ``immediate`` attempts (an MQTT last will, missed
    heartbeats: the collector has already decided) confirm at once.
    """

    __slots__ = ("_down", "_fails", "_since", "down_after")

    def __init__(self, down_after: int) -> None:
        self.down_after = down_after
        self._fails: dict[str, int] = {}
        self._since: dict[str, float] = {}
        """When the current run of failures began: the outage's start."""
        self._down: set[str] = set()

    def attempt(self, key: str, ok: bool, ts: float, *, immediate: bool = False) -> (
        Transition | None
    ):
        if ok:
            if self._fails.pop(key, None) is not None:
                self._since.pop(key, None)
            if key in self._down:
                self._down.discard(key)
                return Transition.UP
            return None
        fails = self._fails.get(key, 0) + 1
        self._fails[key] = fails
        if fails == 1:
            self._since[key] = ts
        if key not in self._down and (immediate or fails >= self.down_after):
            self._down.add(key)
            return Transition.DOWN
        return None

    def down_since(self, key: str) -> float | None:
        """When the current run of failed attempts began (None after an ok attempt)."""
        return self._since.get(key)

    def failures(self, key: str) -> int:
        return self._fails.get(key, 0)

    def in_doubt(self, key: str) -> bool:
        """Failed its latest attempt but not yet confirmed down (fewer than ``down_after``)."""
        return key not in self._down and key in self._fails

    def is_down(self, key: str) -> bool:
        return key in self._down

    def forget_failures(self, key: str) -> None:
        """Drop the failures counted towards ``down_after`` (a device gone stale: the next
        attempt, after its collector is back, starts the count afresh). A device already
        down stays down."""
        if key not in self._down and self._fails.pop(key, None) is not None:
            self._since.pop(key, None)

    def assume_down(self, key: str) -> None:
        """Restore a device known down before a restart: one ok attempt brings it back."""
        self._down.add(key)
        self._fails[key] = max(self._fails.get(key, 0), self.down_after)


def is_flapping(changes: deque[float] | list[float], now: float, *, limit: int,
                window: float, currently: bool) -> bool:
    """Flapping starts with more than ``limit`` changes inside ``window``; it ends once a
    whole ``window`` passes without any change."""
    recent = sum(1 for ts in changes if ts > now - window)
    return recent > 0 if currently else recent > limit


class FlapTracker:
    """Up/down changes per element within a sliding window.

    An element that ever changed keeps its recent change times: a list of a float or
    two (~90 bytes) rather than a deque (~630 bytes, its first block allocated whole),
    since over days nearly every device and link changes at least once."""

    __slots__ = ("_changes", "_flapping", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._changes: dict[str, list[float]] = {}
        self._flapping: set[str] = set()

    def change(self, key: str, ts: float) -> Transition | None:
        """Record a change; ``DOWN`` means "started flapping"."""
        times = self._changes.get(key)
        if times is None:
            times = self._changes[key] = [ts]
        else:
            times.append(ts)
        horizon = ts - self.window
        stale = 0
        while times[stale] <= horizon:  # the newest, ts, is inside: the walk stops there
            stale += 1
        if stale:
            del times[:stale]
        # after pruning, every change left is inside the window
        if len(times) > self.limit and key not in self._flapping:
            self._flapping.add(key)
            return Transition.DOWN
        return None

    def expire(self, now: float) -> list[str]:
        """Elements whose flapping ended by ``now`` (quiet for a whole window)."""
        ended = []
        for key in list(self._flapping):
            times = self._changes.get(key, [])
            if not is_flapping(times, now, limit=self.limit, window=self.window, currently=True):
                self._flapping.discard(key)
                self._changes.pop(key, None)
                ended.append(key)
        return ended

    def is_flapping(self, key: str) -> bool:
        return key in self._flapping

    def restore(self, key: str, ts: float) -> None:
        """Resume a flapping element after a restart; it ends after a quiet window."""
        self._flapping.add(key)
        self._changes.setdefault(key, []).append(ts)

    @property
    def flapping(self) -> frozenset[str]:
        return frozenset(self._flapping)


@dataclass(slots=True)
class _Held:
    since: float
    raised: bool = False


class Sustained:
    """A condition that must hold for ``duration`` before it is raised; cleared at once."""

    __slots__ = ("_held", "duration", "holding")

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self._held: dict[str, _Held] = {}
        self.holding: KeysView[str] = self._held.keys()
        """Keys whose condition holds now, raised or not yet (a live view): for any other
        key, :meth:`update` with ``holds`` False changes nothing, so a hot caller can skip
        the call."""

    def update(self, key: str, holds: bool, ts: float, *, since: float | None = None) -> (
        Transition | None
    ):
        held = self._held.get(key)
        if not holds:
            if held is None:
                return None
            del self._held[key]
            return Transition.UP if held.raised else None
        if held is None:
            held = self._held[key] = _Held(ts if since is None else since)
        elif since is not None and since > held.since:
            held.since = since
        if not held.raised and ts - held.since >= self.duration:
            held.raised = True
            return Transition.DOWN
        return None

    def is_raised(self, key: str) -> bool:
        held = self._held.get(key)
        return held is not None and held.raised


@dataclass(slots=True)
class _Counter:
    value: float
    ts: float


class RateTracker:
    """Per-second rate of a monotonic counter between consecutive readings.

    One entry per key for as long as readings come (~140,000 at 20,000 devices): the
    caller's key is kept as given (build it from objects that live anyway), and the entry
    is updated in place."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[Hashable, _Counter] = {}

    def rate(self, key: Hashable, value: float, ts: float) -> float | None:
        last = self._last.get(key)
        if last is None:
            self._last[key] = _Counter(value, ts)
            return None
        rate = counter_rate(last.value, last.ts, value, ts)
        last.value = value
        last.ts = ts
        return rate


BANGKOK_OFFSET = 7 * 3600.0
"""Thailand has no daylight saving: local time is always UTC+7."""


def opening_start(ts: float, opening_hours: tuple[int, int]) -> float | None:
    """Start of today's opening hours if ``ts`` is inside them (Bangkok time), else None."""
    local = ts + BANGKOK_OFFSET
    day_start = local - (local % 86400.0)
    start = day_start + opening_hours[0] * 3600.0
    end = day_start + opening_hours[1] * 3600.0
    if start <= local < end:
        return start - BANGKOK_OFFSET
    return None
