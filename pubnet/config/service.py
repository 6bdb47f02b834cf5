"""Sections about pubnet as a service: its lifecycle endpoints and its shard.
"""

from __future__ import annotations

from pubnet.config.types import Section


class WebConfig(Section):
    """Endpoints of the HTTP listener that change what pubnet does (off by default, like
    Prometheus' ``--web.enable-lifecycle``): anyone who reaches the listener could use them."""

    lifecycle: bool = False
    """Serve ``POST /-/reload`` (the same reload as SIGHUP)."""


def check_shard(value: str | None) -> str | None:
    """``shard: I/N`` as written, after checking its shape (see :mod:`pubnet.shard`)."""
    if value is None:
        return None
    from pubnet.shard import Shard

    return str(Shard.parse(value))

