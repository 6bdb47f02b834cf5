"""The one back-off rule (pubnet/backoff.py), with the cases each of its callers relied on
when it had its own helper: SNMP re-checks, MQTT reconnects, alerting's channel retries and
the Influx writer's resends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pubnet.backoff import backoff


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (10, 300.0), (1000, 300.0)],
    ids=["none", "first", "second", "third", "capped", "huge"],
)
def test_backoff_doubles_and_caps(attempt: int, expected: float) -> None:
    assert backoff(attempt, initial=1.0, cap=300.0) == expected


@given(st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_backoff_jitter_bounds(attempt: int, jitter: float) -> None:
    full = backoff(attempt, initial=0.5, cap=60.0)
    got = backoff(attempt, initial=0.5, cap=60.0, jitter=jitter)
    assert 0.8 * full - 1e-9 <= got <= full


def test_snmp_recheck_doubles_up_to_the_cap() -> None:
    """A failing device is re-checked after interval × 2^(failures−1), no jitter (the
    poller's grid is spread already)."""
    delays = [backoff(n, initial=60.0, cap=300.0, spread=0.0) for n in range(1, 7)]
    assert delays == [60.0, 120.0, 240.0, 300.0, 300.0, 300.0]


@given(st.integers(min_value=0, max_value=200), st.floats(min_value=0, max_value=0.999))
def test_mqtt_reconnect_is_capped_with_equal_jitter(attempt: int, jitter: float) -> None:
    """Reconnects jitter by up to half ("equal jitter"): a floor, so never a tight loop."""
    delay = backoff(attempt + 1, initial=0.5, cap=30.0, jitter=jitter, spread=0.5)
    assert 0.25 <= delay <= 30.0
    assert delay >= min(30.0, 0.5 * 2 ** min(attempt, 32)) / 2


def test_mqtt_reconnect_grows() -> None:
    assert [backoff(n, initial=1.0, cap=8.0, spread=0.5) for n in range(1, 6)] \
        == pytest.approx([1, 2, 4, 8, 8], rel=1e-5)


@given(st.integers(1, 200), st.floats(0, 1), st.floats(0, 1))
def test_the_cap_holds_whatever_the_jitter(attempt: int, jitter: float,
                                           spread: float) -> None:
    """The Influx writer's old rule (×0.8–1.2 after capping) overshot its cap by 20 %."""
    assert 0 < backoff(attempt, initial=0.5, cap=30.0, jitter=jitter, spread=spread) <= 30.0
