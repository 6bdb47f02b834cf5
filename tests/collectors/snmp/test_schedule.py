"""Scheduling arithmetic: even spread, no drift, capped back-off."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collectors.snmp.schedule import after_failure, first_offsets, next_due, spread_order


def test_first_polls_spread_evenly_over_the_interval() -> None:
    offsets = first_offsets(4, 60.0)
    assert offsets == [0.0, 15.0, 30.0, 45.0]
    assert first_offsets(0, 60.0) == []


def test_each_kind_of_device_is_spread_over_the_interval() -> None:
    """Routers named apart from the site devices (``da-…`` sort after ``S-…``) are not
    polled back to back: each tenth of the interval gets about its share of them, and the
    order is the same whatever order the inventory lists them in."""
    sites = [f"S-{i:04d}-0001-gw" for i in range(9000)]
    routers = [f"da-{i:04d}" for i in range(1000)]
    order = spread_order(sites + routers)
    assert sorted(order) == sorted(sites + routers)
    tenth = len(order) // 10
    shares = [sum(d.startswith("da-") for d in order[k * tenth:(k + 1) * tenth])
              for k in range(10)]
    assert all(70 <= share <= 130 for share in shares), shares
    assert spread_order(reversed(sites + routers)) == order


@given(start=st.floats(0, 1e6), interval=st.floats(0.1, 3600), polls=st.integers(1, 2000),
       lateness=st.floats(0, 0.99))
def test_no_drift(start: float, interval: float, polls: int, lateness: float) -> None:
    due = start
    for _ in range(polls):
        # each poll begins on time and ends a bit after; the grid must not move
        due = next_due(due, interval, due + lateness * interval, started=due)
    assert abs(due - (start + polls * interval)) <= 1e-6 * max(1.0, due)


def test_a_slot_missed_while_busy_is_skipped_not_queued() -> None:
    assert next_due(100.0, 10.0, now=125.0, started=100.0) == 130.0
    assert next_due(100.0, 10.0, now=110.0, started=100.0) == 120.0


def test_a_poll_that_began_late_skips_the_next_round_on_its_grid() -> None:
    """When the poller is behind (a first round longer than the interval at national
    scale), a device polled 40 s late is next due in 80 s, not 20 s: the late ones shed
    load until the poller catches up, and everyone keeps its place on the grid."""
    assert next_due(10.0, 60.0, now=52.0, started=50.0) == 130.0
    assert next_due(10.0, 60.0, now=42.0, started=39.0) == 70.0  # 29 s late: not yet
    assert next_due(10.0, 60.0, now=11.0, started=10.0) == 70.0  # on time
    # a poll begun on time that lasts long (a short interval, retries) is not pushed back
    assert next_due(0.0, 10.0, now=9.0, started=0.0) == 10.0


def test_a_failing_device_keeps_its_interval_until_confirmed_down_then_backs_off() -> None:
    # down_after 3 at a 60 s interval: attempts 60 s apart until the third failure, so a
    # dead router is confirmed 120 s after its first failed poll (it was 180 s)
    waits = [after_failure(n, 60.0, 300.0, confirm_after=3) for n in range(1, 8)]
    assert waits == [60.0, 60.0, 60.0, 120.0, 240.0, 300.0, 300.0]
    assert sum(waits[:2]) == 120.0
    # confirmed at the first failure: back-off at once; a cap below the interval is the
    # interval
    assert [after_failure(n, 60.0, 300.0, confirm_after=1) for n in (1, 2, 3)] == [
        60.0, 120.0, 240.0]
    assert after_failure(9, 60.0, 10.0, confirm_after=3) == 60.0
