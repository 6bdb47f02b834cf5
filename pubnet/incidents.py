"""What a reader of incidents needs from alerting, without importing alerting.

The status page (``dashboards/status``) shows open incidents and lets an operator
acknowledge one; alerting owns incidents. Components never import each other, so the page
asks through :class:`IncidentSource`, which alerting implements
(:mod:`alerting.incident_source`) and the app wires in. With alerting off there is no
source: the page shows no incidents and refuses acknowledgements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = ["AckResult", "IncidentSource", "OpenIncident", "SentMessage"]


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """An incident people can see (firing or acknowledged), with where it is."""

    incident_id: str
    kind: str
    severity: str
    status: str
    """``firing`` or ``acknowledged``."""
    root_device: str | None
    root_link: str | None
    root_site: str | None
    province: str
    """Province code of the root ('' for a link or node without one)."""
    district: str
    sites: frozenset[str]
    """Every site the incident takes down."""
    affected_villages: int
    started_at: float
    acknowledged_by: str | None
    acknowledged_at: float | None
    summary: str
    """One English line naming the root (as ``pubnet alerts list`` shows it)."""
    acknowledged_note: str | None = None
    """What the latest acknowledgement said (a chat button: ``ack``, ``enroute``,
    ``fixed``; from the CLI or the page, the operator's note)."""
    acknowledged_channel: str | None = None
    """Where it came from: ``cli``, ``web``, ``line``, ``telegram``."""


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One alert message from the outbox."""

    incident_id: str
    channel: str
    status: str
    language: str
    text: str
    created_at: float
    delivered_at: float | None


class AckResult(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    """No such incident shown to people."""
    CLOSED = "closed"
    """Already resolved."""


class IncidentSource(Protocol):
    """Open incidents, recent messages, and acknowledging (into the incident's history)."""

    def open_incidents(self) -> Sequence[OpenIncident]:
        """Open incidents, oldest first; cheap (from memory), called on the event loop."""
        ...

    async def recent_messages(self, limit: int) -> Sequence[SentMessage]:
        """The latest ``limit`` alert messages, newest first. Raises OSError or the
        database's error when it cannot be read."""
        ...

    async def acknowledge(self, incident_id: str, by: str, note: str | None,
                          channel: str) -> AckResult:
        """Acknowledge as ``pubnet alerts ack`` does, recording ``channel`` in the
        incident's ack history."""
        ...
