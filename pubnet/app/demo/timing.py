"""The demo's clocks: every wait and deadline follows from one polling interval, so that
``--interval`` speeds the whole scenario up or slows it down without breaking its order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timing:
    """The demo's clocks, derived from the polling interval.

    District routers are polled three times as often as the rest so that a cut router is
    confirmed down before the sites behind it; ``group_wait`` is longer than one interval
    so that, when the fibre comes back, the gateways answer their next poll before their
    own incidents would fire (``snmp.max_backoff`` = one interval keeps a failed device's
    next poll that close).
    """

    interval: float
    router_interval: float
    group_wait: float

    @classmethod
    def from_interval(cls, interval: float) -> Timing:
        return cls(interval, max(2.0, interval / 3), 1.5 * interval)

    @property
    def detect_deadline(self) -> float:
        """Cut → technician's message (router down after two failed polls, then group wait)."""
        return 4 * self.router_interval + self.group_wait + 2 * self.interval + 20

    @property
    def recover_deadline(self) -> float:
        return 3 * self.interval + self.group_wait + 20
