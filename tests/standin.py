"""A stand-in component for tests of readiness (``/readyz``): a name and a ready event that
stays clear until the test sets it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class NotStarted:
    name: str
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        await asyncio.Event().wait()
