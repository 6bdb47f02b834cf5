"""An SNMP client answering from a dict in this process: no agent, no socket, no encoding.

What the SNMP collector makes of answers (:func:`collectors.snmp.collect.collect`, the
poller with a ``client_factory``) is tested and measured with it, apart from the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from collectors.snmp.client import SnmpClient, Value


def _numeric(item: tuple[str, Value]) -> tuple[int, ...]:
    return tuple(map(int, item[0].split(".")))


class ScriptedClient(SnmpClient):
    """Answers GETs and walks from ``oids`` (OID → value), which its user may change
    between polls. A walk gives the subtree under its OID in numeric OID order, as an
    agent's MIB view is ordered; a GET sorts nothing."""

    def __init__(self, oids: dict[str, Value]) -> None:
        super().__init__()
        self.oids = oids

    def close(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        return {o: self.oids[o] for o in oids if o in self.oids}

    async def _walk(self, oid: str, max_repetitions: int, limit: tuple[int, ...] | None
                    ) -> list[tuple[str, Value]]:
        prefix = oid + "."
        return sorted(((o, v) for o, v in self.oids.items() if o.startswith(prefix)),
                      key=_numeric)
