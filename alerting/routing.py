"""Which routes take an incident, which channels a message goes to, and maintenance scopes.

A route matches on the province and district of the incident's root (a link counts where
it cuts off: its far end), on severity and on kind; an absent key matches everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerting.impact import AlertTopology, Location
from alerting.lifecycle import RoutePolicy, step
from alerting.messages import Language
from alerting.model import Incident, MaintenanceWindow, Reason, Send, split_element
from alerting.scopes import SCOPE_FORMS
from pubnet.config import AlertRoute

SCOPE_KINDS = ("province", "district", "site", "device")


def route_matches(route: AlertRoute, incident: Incident, location: Location) -> bool:
    match = route.match
    if match.province is not None and location.province_code not in match.province:
        return False
    if match.district is not None and location.district_code not in match.district:
        return False
    if match.severity is not None and incident.severity.value not in match.severity:
        return False
    return match.kind is None or incident.kind.value in match.kind


def matching_routes(routes: Sequence[AlertRoute], incident: Incident,
                    location: Location) -> list[int]:
    return [i for i, route in enumerate(routes) if route_matches(route, incident, location)]


def policies(routes: Sequence[AlertRoute], indexes: Sequence[int]) -> list[RoutePolicy]:
    return [
        RoutePolicy(i, routes[i].repeat, routes[i].escalate_after, routes[i].escalate_steps)
        for i in indexes
        if 0 <= i < len(routes)
    ]


def recipients(routes: Sequence[AlertRoute], incident: Incident, send: Send) -> (
    list[tuple[str, Language]]
):
    """(channel, language) pairs for one send, each channel once, in route order.

    First and resolved messages go to every matched route's channels (the resolved one also
    to escalation channels that were told); a repeat goes to its route's channels (and its
    escalation channels once escalated); an escalation to ``escalate_to`` only.
    """
    out: list[tuple[str, Language]] = []
    seen: set[str] = set()

    def add(names: Sequence[str], language: Language) -> None:
        for name in names:
            if name not in seen:
                seen.add(name)
                out.append((name, language))

    escalated = {t.route for t in incident.timers if t.escalated_at is not None}
    indexes = incident.routes if send.route is None else (send.route,)
    for index in indexes:
        if not 0 <= index < len(routes):
            continue
        route = routes[index]
        if send.reason is Reason.ESCALATE:
            add(route.escalate_to, route.language)
            continue
        add(route.channels, route.language)
        if index in escalated:
            add(route.escalate_to, route.language)
    return out


def parse_scope(text: str) -> str:
    """Validate ``province:50``-style scopes; returns it normalised, raises ValueError."""
    kind, sep, value = text.strip().partition(":")
    kind = kind.strip().lower()
    value = value.strip()
    if not sep or kind not in SCOPE_KINDS or not value:
        raise ValueError(f"invalid scope {text!r}: use {SCOPE_FORMS}")
    return f"{kind}:{value}"


def window_covers(window: MaintenanceWindow, incident: Incident, location: Location,
                  topology: AlertTopology) -> bool:
    kind, _, value = window.scope.partition(":")
    if kind == "province":
        return location.province_code == value
    if kind == "district":
        return location.district_code == value
    if kind == "site":
        if location.site_id == value:
            return True
        root_kind, ident = split_element(incident.root)
        return root_kind == "site" and ident == value
    if kind == "device":
        return value in topology.devices_of(incident.root)
    return False


def in_maintenance(windows: Sequence[MaintenanceWindow], incident: Incident,
                   location: Location, topology: AlertTopology, now: float) -> bool:
    return any(
        w.active(now) and window_covers(w, incident, location, topology) for w in windows
    )


def advance(incident: Incident, routes: Sequence[AlertRoute],
            windows: Sequence[MaintenanceWindow], topology: AlertTopology, now: float, *,
            group_wait: float) -> tuple[Incident, list[Send]]:
    """Step ``incident`` to ``now`` under its routes and the maintenance windows.

    An announced incident keeps the routes it was announced on (a config reload does not
    re-route it); a pending one takes the routes that match it now.
    """
    location = topology.location(incident.root)
    indexes = (incident.routes if incident.announced_at is not None
               else tuple(matching_routes(routes, incident, location)))
    muted = bool(windows) and in_maintenance(windows, incident, location, topology, now)
    return step(incident, policies(routes, indexes), now, group_wait=group_wait, muted=muted)
