"""How many log lines a trap flood may write: the first per cause, then a summary per period.

A province losing power sends thousands of linkDown traps within seconds, and a broken or
hostile sender can send them without end; one info line each (14,001 lines for one measured
flood) buries everything else in the log. So the first trap of each cause (linkDown,
coldStart, an unknown sender, ...) in a period is logged in full, the others are counted,
and when the period ends one line says how many of each were not logged and from how many
devices. Every trap is still counted in ``pubnet_snmp_traps_received_total`` and acts on the
store; only the log is summarised.

Pure bookkeeping on timestamps passed in, so tests need no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Summary:
    """Traps of one period that were not logged one by one."""

    period_s: float
    counts: dict[str, int]
    """Cause → traps not logged."""
    devices: int
    """Distinct senders among them (devices, or addresses when unknown)."""

    def fields(self) -> dict[str, int]:
        """The summary line's fields: the period in seconds, each cause's count (the causes
        are trap kinds and receiver reasons, none a ``LogRecord`` attribute), the senders."""
        return {"period_s": round(self.period_s),
                **dict(sorted(self.counts.items())), "senders": self.devices}


@dataclass(slots=True)
class TrapLogLimiter:
    """``first(cause, sender, now)`` says whether to log a trap in full; ``summary(now)``
    closes a period that has lasted ``period`` seconds and returns what it held back.

    A period begins with the first trap after the previous one closed, so traps that come
    one at a time, minutes apart, are each logged in full.
    """

    period: float = 60.0
    max_senders: int = 100_000
    """Senders remembered per period (a spoofed flood can use any number of addresses)."""
    _counts: dict[str, int] = field(default_factory=dict)
    _senders: set[str] = field(default_factory=set)
    _started: float | None = None

    def first(self, cause: str, sender: str, now: float) -> bool:
        """Record one trap; True when it is the first of its cause this period."""
        if self._started is None:
            self._started = now
        count = self._counts.get(cause, 0)
        self._counts[cause] = count + 1
        if count and len(self._senders) < self.max_senders:
            self._senders.add(sender)
        return count == 0

    def summary(self, now: float, *, final: bool = False) -> Summary | None:
        """Close the period once it has lasted ``period`` (or at once when ``final``);
        returns the traps it held back, or None (still running, or nothing held back)."""
        started = self._started
        if started is None or (not final and now - started < self.period):
            return None
        held = {cause: count - 1 for cause, count in self._counts.items() if count > 1}
        senders = len(self._senders)
        self._counts.clear()
        self._senders.clear()
        self._started = None
        return Summary(max(now - started, 0.0), held, senders) if held else None
