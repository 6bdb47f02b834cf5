"""Message budgets: at most ``max_per_hour`` and ``max_per_day`` messages to one recipient.

A LINE official account has a monthly push quota and a technician's phone has one
attention span: in a mass outage, every message past a budget is held back and counted,
and the recipient gets a digest instead (:mod:`alerting.digest`). Budgets are per channel
(``budgets.channels.<name>``) and per technician (``budgets.technician``, for each
``oncall:<id>`` queue). Pure functions of a timestamp: tests set the time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from alerting.oncall import PERSONAL
from pubnet.config import AlertingConfig, BudgetLimits

HOUR = 3600.0
DAY = 86400.0


@dataclass(slots=True)
class Budget:
    """Sliding hour and day windows of one recipient's sends."""

    limits: BudgetLimits
    sent: deque[float] = field(default_factory=deque)

    def _prune(self, now: float) -> None:
        while self.sent and self.sent[0] <= now - DAY:
            self.sent.popleft()

    def allows(self, now: float, reserve: int = 0) -> bool:
        """Whether one more message fits, keeping ``reserve`` messages of each window free
        (for the digest that replaces what is held)."""
        self._prune(now)
        per_day, per_hour = self.limits.max_per_day, self.limits.max_per_hour
        if per_day is not None and len(self.sent) + reserve >= per_day:
            return False
        if per_hour is not None:
            last_hour = sum(1 for t in reversed(self.sent) if t > now - HOUR) if (
                len(self.sent) + reserve >= per_hour) else 0
            if last_hour + reserve >= per_hour:
                return False
        return True

    def spend(self, now: float) -> None:
        self.sent.append(now)


class Budgets:
    """The budget of each recipient that has one (created on first use)."""

    def __init__(self, config: AlertingConfig) -> None:
        self.config = config
        self._by_recipient: dict[str, Budget | None] = {}

    def of(self, recipient: str) -> Budget | None:
        if recipient not in self._by_recipient:
            budgets = self.config.budgets
            limits = (budgets.technician if recipient.startswith(PERSONAL)
                      else budgets.channels.get(recipient))
            self._by_recipient[recipient] = (
                Budget(limits) if limits is not None and limits.limited else None)
        return self._by_recipient[recipient]
