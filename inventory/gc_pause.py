"""Pausing the cyclic garbage collector around bulk object construction."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while building hundreds of thousands of
    objects.

    None of them is garbage, but each allocation burst triggers a collection that walks
    the ever-growing heap; on a national inventory that doubles the load time. The
    previous state is restored on exit, so nesting and callers that disabled the
    collector themselves are unaffected. The objects are long-lived (an inventory lives
    as long as the process), so they are filed as old on the way out.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            # Promote everything built meanwhile straight to the oldest generation
            # (two list splices, no traversal): otherwise the first collection after
            # this walks all of it as "young" objects, then again as middle-aged ones.
            # Skipped when someone froze objects on purpose (e.g. before forking).
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
