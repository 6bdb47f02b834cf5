"""Which routes of the one HTTP listener may receive a request body, and how large.

The listener refuses request bodies by default (an unread body is a slow client's
foothold; ``/metrics`` reads none). A part whose route must read one (the status page's
acknowledgement, a small JSON object) marks its handler with :func:`accepts_body`; the
listener then lets through a body of at most that many bytes with a ``Content-Length``
(never chunked, so its size is known before it is read) and still closes the connection of
anything else. The mark is an attribute of the handler, so it lives in the ground where
both the listener (app) and the parts (components) can reach it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

_ATTRIBUTE = "pubnet_max_body"


def accepts_body(limit: int) -> Callable[[F], F]:
    """Mark a handler as reading a request body of at most ``limit`` bytes."""

    def mark(handler: F) -> F:
        setattr(handler, _ATTRIBUTE, limit)
        return handler

    return mark


def body_limit(handler: object) -> int:
    """The largest body ``handler`` accepts (0: none)."""
    limit = getattr(handler, _ATTRIBUTE, 0)
    return limit if isinstance(limit, int) else 0


def same_limit(wrapper: F, handler: object) -> F:
    """Give a wrapping handler the mark of the one it wraps."""
    limit = body_limit(handler)
    if limit:
        setattr(wrapper, _ATTRIBUTE, limit)
    return wrapper
