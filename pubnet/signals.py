"""Stop on SIGINT/SIGTERM: the one way every long-running pubnet program ends.

In the ground layer because more than the daemon needs it: ``pubnet run`` and ``pubnet
demo`` (the app) and ``python -m simulator`` (a component run as its own program) all stop
the same way, and a component may not import the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from types import FrameType


class StopRequest(asyncio.Event):
    """An event set by SIGINT/SIGTERM that remembers when the first signal arrived.

    systemd and ``docker stop`` count their 10 s from the signal, and an event loop busy
    with 100,000 devices may take seconds to run the callback that sets the event: the stop
    budget is measured from :attr:`at`, taken in the signal handler itself.
    """

    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None
        """``time.monotonic()`` (the event loop's clock) when the signal came; None before."""


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT/SIGTERM while inside the block (and, for a
    :class:`StopRequest`, note when)."""
    loop = asyncio.get_running_loop()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        # Python runs this between bytecodes of the main thread, however long the loop's
        # queue of ready callbacks; the event itself is set by the loop
        if isinstance(stop, StopRequest) and stop.at is None:
            stop.at = time.monotonic()
        loop.call_soon_threadsafe(stop.set)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: no signals here
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
