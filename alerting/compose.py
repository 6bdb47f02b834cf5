"""What an incident says: its rendered messages per channel and the facts stored with it.

The service decides *that* an incident sends (:mod:`alerting.lifecycle`); :class:`Composer`
decides *what* goes out and to whom: the ``oncall`` target becomes the people on call now
(:mod:`alerting.oncall`), the budgets and digests (:mod:`alerting.digest`) hold back what a
recipient should not get one by one, and each recipient's channel gets the payload in the
route's language (rendered once per language, shared by every channel that wants it) with a
province/district hint for the channel's own routing, and the database row gets the facts a
report or the CLI lists without recomputing the topology.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alerting.db import IncidentFacts
from alerting.digest import Gate, HeldMessage
from alerting.impact import AlertTopology, Location
from alerting.messages import Language, MessageBuilder, encode
from alerting.model import Incident, Outgoing, Send, Status
from alerting.oncall import Oncall, expand
from alerting.routing import recipients
from pubnet.config import AlertRoute

log = logging.getLogger("pubnet.alerting")


class Composer:
    def __init__(self, topology: AlertTopology, builder: MessageBuilder,
                 routes: Sequence[AlertRoute], gate: Gate, oncall: Oncall | None = None) -> None:
        self.topology = topology
        self.builder = builder
        self.routes = routes
        self.gate = gate
        self.oncall = oncall

    def messages(self, incident: Incident, send: Send, now: float, *,
                 root_of_told: bool = False) -> list[Outgoing]:
        """One message per recipient channel of ``send``; ``root_of_told``: see
        :meth:`alerting.digest.Gate.admit`."""
        location = self.topology.location(incident.root)
        hint = (location.province_code, location.district_code)
        rendered: dict[Language, str] = {}
        out = []
        pairs = recipients(self.routes, incident, send)
        if self.oncall is not None:
            pairs = expand(self.oncall, pairs, incident, send, location, now)
        for channel, language in pairs:
            if not self.gate.admit(channel, incident.incident_id, send.status, send.reason,
                                   now, lambda: self._held(incident, location, send.status),
                                   root_of_told=root_of_told):
                continue
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

    def _held(self, incident: Incident, location: Location, status: Status) -> HeldMessage:
        """What a digest says of a message it folds in."""
        return HeldMessage(incident_id=incident.incident_id, status=status,
                           province=location.province_code,
                           district=location.district_code,
                           sites=len(self.topology.impact(incident.root).sites),
                           cause_th=self.builder.describe(incident.root, "th"),
                           cause_en=self.builder.describe(incident.root, "en"))

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
