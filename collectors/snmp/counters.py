"""Counter arithmetic: raw device counters in, monotonic totals out. Pure functions, no I/O.

The rules (issue 3): the first reading is the device's own value; each later reading adds the
delta; a 32-bit counter that went down is unwrapped modulo 2^32 when a wrap is plausible;
after a reset (the device rebooted, or the counter fell by more than a wrap at the interface's
speed could explain) the new raw value is added, never a negative or giant delta. A 64-bit
counter that goes down is always a reset. sysUpTime going backwards is a reboot, except for
its own rollover after 2^32 centiseconds (497.1 days).
"""

from __future__ import annotations

from dataclasses import dataclass

WRAP32 = 1 << 32
WRAP64 = 1 << 64
TICKS_PER_SECOND = 100
UPTIME_SLACK_TICKS = 60 * TICKS_PER_SECOND
"""How far a rolled-over sysUpTime may be from where the wall clock says it should be."""


@dataclass(slots=True)
class CounterState:
    """What we remember about one counter series between polls."""

    raw: int
    total: int
    width: int
    """32 or 64: which of the device's counters the raw value came from."""


def advance(
    state: CounterState | None,
    raw: int,
    width: int,
    *,
    reset: bool = False,
    max_delta: int | None = None,
) -> CounterState:
    """The state after reading ``raw`` from a ``width``-bit counter.

    ``reset`` says the device rebooted since the last reading (from sysUpTime).
    ``max_delta`` is the most the counter can have grown since then (e.g. interface speed ×
    elapsed time, in octets); a 32-bit decrease whose unwrapped delta exceeds it is a reset.
    Switching between the 64- and 32-bit source re-baselines without adding anything.
    Returns a new state; ``state`` is updated in place and returned when given.
    """
    if state is None:
        return CounterState(raw, raw, width)
    state.total += delta(state.raw, state.width, raw, width, reset=reset, max_delta=max_delta)
    state.raw = raw
    state.width = width
    return state


def delta(last: int, last_width: int, raw: int, width: int, *, reset: bool = False,
          max_delta: int | None = None) -> int:
    """What a reading of ``raw`` adds to a counter's total after a reading of ``last`` (the
    rules of :func:`advance`, which the SNMP poller's packed counters share)."""
    if last_width != width:
        return 0
    if reset:
        return raw
    if raw >= last:
        return raw - last
    if width == 32:
        wrapped = raw + WRAP32 - last
        return raw if (max_delta is not None and wrapped > max_delta) else wrapped
    return raw


def uptime_went_back(prev_ticks: int, ticks: int, elapsed_s: float) -> bool:
    """Whether sysUpTime says the device rebooted between two readings ``elapsed_s`` apart.

    Backwards is a reboot unless it is the 32-bit TimeTicks rollover: then the unwrapped
    advance matches the elapsed wall-clock time (within ``UPTIME_SLACK_TICKS``).
    """
    if ticks >= prev_ticks:
        return False
    advanced = ticks + WRAP32 - prev_ticks
    expected = elapsed_s * TICKS_PER_SECOND
    return abs(advanced - expected) > max(UPTIME_SLACK_TICKS, expected * 0.5)


def octet_bound(speed_bps: float | None, elapsed_s: float) -> int | None:
    """The most octets an interface of ``speed_bps`` can count in ``elapsed_s`` (+50 %)."""
    if not speed_bps or speed_bps <= 0 or elapsed_s <= 0:
        return None
    return int(speed_bps / 8.0 * elapsed_s * 1.5) + 1
