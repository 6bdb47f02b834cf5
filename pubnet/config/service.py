"""``shard: I/N``: which share of the sites this pubnet polls (:mod:`pubnet.shard`)."""

from __future__ import annotations


def check_shard(value: str | None) -> str | None:
    """``shard: I/N`` as written, after checking its shape (see :mod:`pubnet.shard`)."""
    if value is None:
        return None
    from pubnet.shard import Shard

    return str(Shard.parse(value))

