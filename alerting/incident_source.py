"""Alerting as a :class:`pubnet.incidents.IncidentSource`: what the status page reads and
how it acknowledges, over the running :class:`~alerting.service.AlertingService`.

Open incidents come from the service's memory (no SQLite read per page refresh); each is
converted once per change of the incident (incidents are frozen: a change is a new object).
An acknowledgement is written the way ``pubnet alerts ack`` writes it (the incident row and
its ack history, with the channel), on the service's own database thread, and applied to the
incident in memory at once, so the page shows who took it on its next refresh instead of
after the next tick.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

from alerting.db import IncidentDB
from alerting.lifecycle import acknowledge
from alerting.model import Incident, State, split_element
from alerting.service import AlertingService
from pubnet.incidents import AckResult, OpenIncident, SentMessage

SHOWN_STATES = (State.FIRING, State.ACKNOWLEDGED)


def _recent(db: IncidentDB, limit: int) -> list[tuple[str, str, str, str, float, float | None]]:
    rows = db.conn.execute(
        "SELECT incident_id, channel, status, payload, created_at, delivered_at FROM outbox "
        "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4]),
             None if r[5] is None else float(r[5])) for r in rows]


def _message(row: tuple[str, str, str, str, float, float | None]) -> SentMessage:
    incident_id, channel, status, payload, created_at, delivered_at = row
    try:
        data = json.loads(payload)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    return SentMessage(incident_id, channel, status, str(data.get("language", "")),
                       str(data.get("message", "")), created_at, delivered_at)


class AlertingIncidents:
    """The service's incidents for readers outside alerting (see the module docstring)."""

    def __init__(self, service: AlertingService,
                 clock: Callable[[], float] = time.time) -> None:
        self._service = service
        self._clock = clock
        self._converted: dict[str, tuple[Incident, OpenIncident]] = {}

    def open_incidents(self) -> list[OpenIncident]:
        shown: list[OpenIncident] = []
        converted = self._converted
        fresh: dict[str, tuple[Incident, OpenIncident]] = {}
        for incident in self._service.incidents():
            if incident.state not in SHOWN_STATES:
                continue
            known = converted.get(incident.incident_id)
            if known is None or known[0] is not incident:
                known = (incident, self._convert(incident))
            fresh[incident.incident_id] = known
            shown.append(known[1])
        self._converted = fresh
        shown.sort(key=lambda i: (i.started_at, i.incident_id))
        return shown

    def _convert(self, incident: Incident) -> OpenIncident:
        topology = self._service.topology
        kind, ident = split_element(incident.root)
        location = topology.location(incident.root)
        impact = topology.impact(incident.root)
        return OpenIncident(
            incident_id=incident.incident_id, kind=incident.kind.value,
            severity=incident.severity.value, status=incident.state.value,
            root_device=ident if kind == "device" else None,
            root_link=ident if kind == "link" else None,
            root_site=location.site_id or None,
            province=location.province_code, district=location.district_code,
            sites=frozenset(impact.sites), affected_villages=impact.villages,
            started_at=incident.started_at, acknowledged_by=incident.acked_by,
            acknowledged_at=incident.acked_at,
            summary=self._service.builder.describe(incident.root, "en"),
            acknowledged_note=incident.ack_note, acknowledged_channel=incident.ack_channel)

    async def recent_messages(self, limit: int) -> list[SentMessage]:
        db = self._service.database
        if db is None:
            return []
        try:
            rows = await db.call(_recent, db.sync, limit)
        except RuntimeError:  # the service stopped: its database thread is gone
            return []
        return [_message(row) for row in rows]

    async def acknowledge(self, incident_id: str, by: str, note: str | None,
                          channel: str) -> AckResult:
        """Raises sqlite3.Error or OSError when the database cannot be written."""
        service = self._service
        db = service.database
        if db is None:
            return AckResult.UNKNOWN
        now = self._clock()
        try:
            result = await db.call(db.sync.acknowledge, incident_id, by, note, now, channel)
        except RuntimeError as exc:
            raise sqlite3.OperationalError("the alerting database is closed") from exc
        if result == "unknown":
            return AckResult.UNKNOWN
        if result == "closed":
            return AckResult.CLOSED
        current = service.correlator.incidents.get(incident_id)
        if current is not None and (current.acked_at is None or now > current.acked_at):
            service.correlator.update(acknowledge(current, by, note, now, channel))
        return AckResult.OK
