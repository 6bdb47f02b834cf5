"""Which maintenance windows and which incidents apply to each site.

Both come from alerting's tables in the pubnet database, whatever the source of the
statuses (pubnet's history or Prometheus). A maintenance window applies to a site when its
scope is the site, its district, its province or one of its devices. An incident covers a
site while it is open if one of its members is the site or one of the site's devices; its
cause is ``equipment`` when its root is the site itself or one of the site's own devices
(its gateway, access points, other site equipment), and ``upstream`` when the root is above
(a backhaul, district or provincial node, a backbone link) -- also a district router that
happens to stand at this site, since the sites it serves are cut off by it, not by the
site's equipment. An incident of kind ``power`` (alerting's power cut: its root is an
area, its members the sites it grouped and what they took down) has the cause ``power``
for every site it covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dashboards.reports.history import POWER_KIND, IncidentSpan
from dashboards.reports.timeline import EQUIPMENT, POWER, UPSTREAM, Covering, Spans
from inventory.model import Inventory, Role

BACKBONE_ROLES = frozenset({Role.DISTRICT_AGGREGATION, Role.PROVINCIAL_NODE, Role.CORE})


def site_maintenance(inventory: Inventory, windows: Iterable[tuple[int, str, float, float]],
                     start: float, end: float) -> dict[str, Spans]:
    """Site id → the maintenance time that applies to it within ``[start, end)``."""
    by_scope: dict[str, list[tuple[float, float]]] = {}
    for _id, scope, begin, finish in windows:
        s, e = max(begin, start), min(finish, end)
        if e > s:
            by_scope.setdefault(scope, []).append((s, e))
    if not by_scope:
        return {}
    devices_of: dict[str, list[str]] = {}
    for device in inventory.devices.values():
        devices_of.setdefault(device.site_id, []).append(device.device_id)
    found: dict[str, Spans] = {}
    for site in inventory.sites.values():
        spans: list[tuple[float, float]] = []
        for scope in (f"site:{site.site_id}", f"district:{site.district_code}",
                      f"province:{site.province_code}",
                      *(f"device:{d}" for d in devices_of.get(site.site_id, ()))):
            spans.extend(by_scope.get(scope, ()))
        if spans:
            found[site.site_id] = Spans(spans)
    return found


def site_coverings(inventory: Inventory, incidents: Iterable[IncidentSpan],
                   now: float) -> dict[str, list[Covering]]:
    """Site id → the incidents that covered it, each with its cause; an open incident
    covers until ``now``."""
    site_of = {d.device_id: d.site_id for d in inventory.devices.values()
               if d.site_id in inventory.sites}
    own = {d: s for d, s in site_of.items() if inventory.devices[d].role not in BACKBONE_ROLES}
    found: dict[str, list[Covering]] = {}
    for incident in incidents:
        root_site = _site_of_element(incident.root, own)
        covered = {_site_of_element(m, site_of) for m in incident.members}
        covered.discard(None)
        end = incident.resolved_at if incident.resolved_at is not None else now
        for site_id in covered:
            assert site_id is not None
            if incident.kind == POWER_KIND:
                cause = POWER
            else:
                cause = EQUIPMENT if root_site == site_id else UPSTREAM
            found.setdefault(site_id, []).append(
                Covering(incident.incident_id, incident.started_at, end, cause))
    return found


def _site_of_element(element: str, site_of: Mapping[str, str]) -> str | None:
    kind, _, ident = element.partition(":")
    if kind == "site":
        return ident
    if kind == "device":
        return site_of.get(ident)
    return None
