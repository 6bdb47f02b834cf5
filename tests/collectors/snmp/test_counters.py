"""Counter semantics: monotonic totals, 32-bit wraps, resets, the 497-day uptime rollover."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.snmp.counters import (
    WRAP32,
    CounterState,
    advance,
    octet_bound,
    uptime_went_back,
)

deltas32 = st.lists(st.integers(min_value=0, max_value=WRAP32 - 1), min_size=1, max_size=50)


@given(start=st.integers(0, WRAP32 - 1), deltas=deltas32)
def test_32bit_wraps_are_unwrapped(start: int, deltas: list[int]) -> None:
    state = advance(None, start, 32)
    raw = start
    for delta in deltas:
        raw = (raw + delta) % WRAP32
        advance(state, raw, 32)
    assert state.total == start + sum(deltas)


@given(readings=st.lists(st.tuples(st.integers(0, 2**64 - 1), st.sampled_from([32, 64]),
                                   st.booleans(), st.none() | st.integers(0, 2**40)),
                         min_size=1, max_size=40))
def test_total_never_decreases(readings: list[tuple[int, int, bool, int | None]]) -> None:
    state: CounterState | None = None
    last_total = -1
    for raw, width, reset, bound in readings:
        raw = raw % (1 << width)
        state = advance(state, raw, width, reset=reset, max_delta=bound)
        assert state.total >= last_total
        last_total = state.total


@given(start=st.integers(0, 2**64 - 1), after=st.integers(0, 2**64 - 1))
def test_reset_adds_the_new_raw_value(start: int, after: int) -> None:
    state = advance(None, start, 64)
    advance(state, after, 64, reset=True)
    assert state.total == start + after


@given(start=st.integers(1, 2**64 - 1), data=st.data())
def test_64bit_decrease_is_a_reset(start: int, data: st.DataObject) -> None:
    after = data.draw(st.integers(0, start - 1))
    state = advance(None, start, 64)
    advance(state, after, 64)
    assert state.total == start + after


def test_first_reading_is_the_device_value() -> None:
    assert advance(None, 12345, 32).total == 12345


def test_32bit_drop_larger_than_the_link_could_wrap_is_a_reset() -> None:
    # 100 Mbit/s for 60 s moves at most ~1.1 GB: a wrap from 4.0e9 to 1e6 would need ~300 MB,
    # plausible; a wrap from 1e9 to 5e8 would need ~3.8 GB, impossible → reset.
    bound = octet_bound(100e6, 60.0)
    assert bound is not None
    state = advance(None, 4_000_000_000, 32)
    advance(state, 1_000_000, 32, max_delta=bound)
    assert state.total == 4_000_000_000 + (WRAP32 - 4_000_000_000) + 1_000_000
    state = advance(None, 1_000_000_000, 32)
    advance(state, 500_000_000, 32, max_delta=bound)
    assert state.total == 1_000_000_000 + 500_000_000


def test_switching_between_64_and_32_bit_rebaselines() -> None:
    state = advance(None, 10_000_000_000, 64)
    advance(state, 5, 32)
    assert state.total == 10_000_000_000
    advance(state, 105, 32)
    assert state.total == 10_000_000_100


@pytest.mark.parametrize(
    ("prev", "ticks", "elapsed", "rebooted"),
    [
        (1_000_000, 1_006_000, 60.0, False),
        (1_000_000, 500, 60.0, True),
        (WRAP32 - 3000, 3000, 60.0, False),       # the 497-day rollover
        (WRAP32 - 3000, 2_000_000, 60.0, True),   # backwards by far more than 60 s: reboot
        (WRAP32 - 100, 50, 1.5, False),
    ],
    ids=["forward", "reboot", "rollover", "reboot-near-rollover", "rollover-short-interval"],
)
def test_uptime_reboot_detection(prev: int, ticks: int, elapsed: float, rebooted: bool) -> None:
    assert uptime_went_back(prev, ticks, elapsed) is rebooted


@given(prev=st.integers(0, WRAP32 - 1), elapsed=st.floats(1.0, 86400.0))
def test_rollover_matching_wall_clock_is_never_a_reboot(prev: int, elapsed: float) -> None:
    ticks = (prev + int(elapsed * 100)) % WRAP32
    assert not uptime_went_back(prev, ticks, elapsed)
