"""Scheduling arithmetic: even spread, no drift, capped back-off."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collectors.snmp.schedule import after_first, first_offsets, next_due


def test_first_polls_spread_evenly_over_the_interval() -> None:
    offsets = first_offsets(4, 60.0)
    assert offsets == [0.0, 15.0, 30.0, 45.0]
    assert first_offsets(0, 60.0) == []


@given(start=st.floats(0, 1e6), interval=st.floats(0.1, 3600), polls=st.integers(1, 2000),
       lateness=st.floats(0, 0.99))
def test_no_drift(start: float, interval: float, polls: int, lateness: float) -> None:
    due = start
    for _ in range(polls):
        # each poll finishes a bit after it was due; the grid must not move
        due = next_due(due, interval, due + lateness * interval)
    assert abs(due - (start + polls * interval)) <= 1e-6 * max(1.0, due)


def test_a_slot_missed_while_busy_is_skipped_not_queued() -> None:
    assert next_due(100.0, 10.0, now=125.0) == 130.0
    assert next_due(100.0, 10.0, now=110.0) == 120.0


def test_a_first_poll_that_began_late_anchors_the_grid_where_it_began() -> None:
    """A first round longer than the interval (national scale) leaves no device behind:
    the second poll is one interval after the first began, not the next point of a grid
    that every device has already fallen behind."""
    assert after_first(due=10.0, started=100.0, interval=60.0, now=104.0) == 160.0
    assert next_due(10.0, 60.0, now=104.0) == 130.0  # the offsets' grid: 30 s after
    # on time (a few milliseconds late at most), it is the grid
    assert after_first(due=10.0, started=10.002, interval=60.0, now=10.5) == 70.002
    assert after_first(due=10.0, started=9.0, interval=60.0, now=10.5) == 70.0
    # a first poll longer than the interval still skips what it missed
    assert after_first(due=10.0, started=100.0, interval=60.0, now=170.0) == 220.0
