"""Capped exponential back-off with jitter: the one rule for every retry in pubnet.

The MQTT reconnect loop, the SNMP re-check of a failing device, alerting's channel retries
and the Influx writer's resends all wait by this rule, so they cannot drift apart (they
used to count from 0 or from 1, jitter up or down or both ways, and one could overshoot
its cap by 20 %). The convention, once:

- retry ``n`` (1 = the first retry after a failure) waits ``initial × 2^(n−1)``, never more
  than ``cap``; ``n < 1`` (nothing failed yet) waits 0;
- the delay is then reduced by a random fraction of at most ``spread`` of itself, so that
  many retriers that failed together (a fleet reconnecting to a recovering broker, every
  channel after an outage) do not retry together; the cap is never exceeded and the delay
  never collapses to zero.

A pure function: the caller passes the random fraction (``random.random()``), so tests need
neither sleeping nor seeding (see /work/notes/STYLE.md: timing logic as pure functions).
"""

from __future__ import annotations

from typing import Final

SPREAD: Final = 0.2
"""Default share of the delay that jitter may take away."""


def backoff(retry: int, *, initial: float, cap: float, jitter: float = 0.0,
            spread: float = SPREAD) -> float:
    """Seconds to wait before retry ``retry`` (see the module docstring).

    ``jitter`` is a random fraction in [0, 1) (clamped into it); ``spread`` in [0, 1] is how
    much of the delay the largest jitter takes away (0: no jitter).
    """
    if retry < 1:
        return 0.0
    delay = min(cap, initial * (2.0 ** min(retry - 1, 60)))
    return delay * (1.0 - spread * min(max(jitter, 0.0), 0.999))
