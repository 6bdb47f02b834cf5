"""Stop on SIGINT/SIGTERM: the one way every long-running pubnet program ends.

In the ground layer because more than the daemon needs it: ``pubnet run`` and ``pubnet
demo`` (the app) and ``python -m simulator`` (a component run as its own program) all stop
the same way, and a component may not import the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT/SIGTERM while inside the block."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
