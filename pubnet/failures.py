"""One log line when something starts failing and one when it works again.

A channel, a database file, a broker or a polling loop that fails keeps failing on every
retry; logging each retry would bury the log. :class:`FailureLog` keeps the one flag and
start time that every such place needs (the pattern of home-assistant's
``update_coordinator``): the first failure of a run is logged with its fields, the first
success after it is logged with how long the failure lasted, everything between is quiet.
Fields go to ``extra`` as structured key/values (:mod:`pubnet.logs`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class FailureLog:
    """The failing/recovered latch of one thing that is retried (see the module docstring).

    ``failing`` is the message of the first failure (logged at ``level``), ``recovered`` the
    message when it works again, logged at info with the duration in ``duration_field``
    (seconds of ``clock``); with ``recovered`` None the end of a failure is not logged.
    ``fields`` are logged with both lines."""

    __slots__ = ("_clock", "_duration_field", "_failing", "_fields", "_level", "_log",
                 "_recovered", "since")

    def __init__(self, log: logging.Logger, failing: str, recovered: str | None = None, *,
                 level: int = logging.WARNING, duration_field: str = "failed_for_s",
                 clock: Callable[[], float] = time.monotonic, **fields: object) -> None:
        self._log = log
        self._failing, self._recovered, self._level = failing, recovered, level
        self._duration_field, self._clock = duration_field, clock
        self._fields = fields
        self.since: float | None = None
        """When the current failure began (``clock`` time), None while working."""

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(self, **fields: object) -> bool:
        """Note a failure; logs it (with ``fields`` too) when it is the first of a run and
        returns True then."""
        if self.since is not None:
            return False
        self.since = self._clock()
        self._log.log(self._level, self._failing, extra={**self._fields, **fields})
        return True

    def worked(self, **fields: object) -> bool:
        """Note a success; logs the recovery (with ``fields`` too) when it ends a failure and
        returns True then."""
        if self.since is None:
            return False
        failed_for = self._clock() - self.since
        self.since = None
        if self._recovered is not None:
            self._log.info(self._recovered, extra={
                **self._fields, **fields, self._duration_field: round(failed_for, 1)})
        return True
