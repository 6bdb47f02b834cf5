"""What an incident says: its rendered messages per channel and the facts stored with it.

The service decides *that* an incident sends (:mod:`alerting.lifecycle`); :class:`Composer`
decides *what* goes out and to whom: each recipient route's channel gets the payload in the
route's language (rendered once per language, shared by every channel that wants it) with a
province/district hint for the channel's own routing, and the database row gets the facts a
report or the CLI lists without recomputing the topology.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alerting.db import IncidentFacts
from alerting.impact import AlertTopology
from alerting.messages import Language, MessageBuilder, encode
from alerting.model import Incident, Outgoing, Send
from alerting.routing import recipients
from pubnet.config import AlertRoute

log = logging.getLogger("pubnet.alerting")


class Composer:
    def __init__(self, topology: AlertTopology, builder: MessageBuilder,
                 routes: Sequence[AlertRoute]) -> None:
        self.topology = topology
        self.builder = builder
        self.routes = routes

    def messages(self, incident: Incident, send: Send, now: float) -> list[Outgoing]:
        """One message per recipient channel of ``send``."""
        location = self.topology.location(incident.root)
        hint = (location.province_code, location.district_code)
        rendered: dict[Language, str] = {}
        out = []
        for channel, language in recipients(self.routes, incident, send):
            text = rendered.get(language)
            if text is None:
                text = rendered[language] = encode(self.builder.payload(
                    incident, send.status, send.reason, send.sequence, language, now))
            out.append(Outgoing(channel, incident.incident_id, send.status, send.sequence,
                                text, hint))
        if out:
            log.info("incident message queued", extra={
                "incident": incident.incident_id, "status": send.status.value,
                "reason": send.reason.value, "kind": incident.kind.value,
                "root": incident.root, "channels": len(out)})
        return out

    def facts(self, incident: Incident) -> IncidentFacts:
        """Where the incident is and what it affects, as stored beside it."""
        location = self.topology.location(incident.root)
        impact = self.topology.impact(incident.root)
        return IncidentFacts(
            province=location.province_code,
            district=location.district_code,
            site=location.site_id,
            affected_devices=len(impact.devices),
            affected_sites=len(impact.sites),
            summary=self.builder.describe(incident.root, "en"),
        )
