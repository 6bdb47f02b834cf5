"""Elements, their upstream chain and what they take down, over the inventory topology.

The chain of an element is what has to work for it to be reachable: an access point needs
its site (the synthetic "all access points dark" element), the site needs its gateway, the
gateway the backbone link to its district router, the link the router, and so on up to the
core. Alerting walks this chain to find the *highest* element that is down, which is the
root cause every lower failure is attached to.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerting.model import (
    AREA,
    COLLECTOR,
    DEVICE,
    LINK,
    SITE,
    Impact,
    Kind,
    Severity,
    device_element,
    link_element,
    site_element,
    split_element,
)
from inventory.model import Device, Inventory, Role, Site
from inventory.topology import Topology

_ROLE_SEVERITY = {
    Role.ACCESS_POINT: Severity.WARNING,
    Role.SITE_GATEWAY: Severity.MINOR,
    Role.DISTRICT_AGGREGATION: Severity.MAJOR,
    Role.PROVINCIAL_NODE: Severity.CRITICAL,
    Role.CORE: Severity.CRITICAL,
}
CRITICAL_SITES = 100
"""An outage cutting off at least this many sites is critical whatever failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """Where an element is, for routing, maintenance scopes and topic names. An empty code
    is a level the element is not in (a core router has no site, the NOC no province).
    Keywords only: three codes of one type are easily swapped."""

    site_id: str = ""
    province_code: str = ""
    district_code: str = ""


class AlertTopology:
    """Parent of every element, impact of every element (cached), locations and ranking.

    Only what the inventory and :class:`~inventory.topology.Topology` do not answer cheaply
    is indexed up front (the link joining each device to its upstream, the access points of
    each site); chains, impacts and locations are worked out for the elements that go down,
    when they do, and kept (an index of every element was ~600 bytes per device, 60 MB at
    100,000 devices, for the few that ever fail)."""

    def __init__(self, inventory: Inventory, topology: Topology) -> None:
        self.inventory = inventory
        self.topology = topology
        self._impact: dict[str, Impact] = {}
        self._locations: dict[str, Location] = {}
        self._chains: dict[str, tuple[str, ...]] = {}
        self._link_to_parent: dict[str, str] = {}
        """Device id -> link id of the link joining it to its upstream."""
        self._site_aps: dict[str, tuple[str, ...]] = {}
        self._groups: dict[str, frozenset[str]] = {}
        """``area:`` element -> the roots it groups (a power incident's sites)."""
        self._watched: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        """``collector:`` element -> (devices, sites) its shard watched."""
        for link_id, link in inventory.links.items():
            down = topology.link_downstream_root(link_id)
            if down is None:
                continue
            up = link.a_device if down == link.b_device else link.b_device
            if topology.parent(down) == up:
                self._link_to_parent.setdefault(down, link_id)
        site_aps: dict[str, list[str]] = {}
        for device_id, device in inventory.devices.items():
            if device.role is Role.ACCESS_POINT and device.site_id in inventory.sites:
                site_aps.setdefault(device.site_id, []).append(device_id)
        self._site_aps = {site_id: tuple(aps) for site_id, aps in site_aps.items()}

    # -- chain ---------------------------------------------------------------------------

    def parent(self, element: str) -> str | None:
        """The next element up the chain, or None at a root (or for an unknown element)."""
        if element.startswith(DEVICE):
            device_id = element[len(DEVICE):]
            device = self.inventory.devices.get(device_id)
            if device is None:
                return None
            link_id = self._link_to_parent.get(device_id)
            if link_id is not None:
                return link_element(link_id)
            if device.role is Role.ACCESS_POINT and device.site_id in self._site_aps:
                return site_element(device.site_id)
            up = self.topology.parent(device_id)
            return None if up is None else device_element(up)
        if element.startswith(LINK):
            ends = self.link_ends(element[len(LINK):])
            if ends is None:
                return None
            far = self.inventory.devices.get(ends[1])
            if far is not None and far.role is Role.ACCESS_POINT and far.site_id in self._site_aps:
                return site_element(far.site_id)
            return device_element(ends[0])
        if element.startswith(SITE):
            aps = self._site_aps.get(element[len(SITE):])
            if not aps:
                return None
            up = self.topology.parent(aps[0])
            return None if up is None else device_element(up)
        return None

    def chain(self, element: str) -> tuple[str, ...]:
        """The elements above ``element``, nearest first, up to the root (cached, built from
        the nearest cached chain above). In an inventory with an upstream cycle (which
        validation rejects) the chain stops before its first repeated element."""
        chains = self._chains
        found = chains.get(element)
        if found is not None:
            return found
        pending = [element]
        node = self.parent(element)
        while node is not None and node not in chains:
            if node in pending:
                node = None
                break
            pending.append(node)
            node = self.parent(node)
        above: tuple[str, ...] = () if node is None else (node, *chains[node])
        for item in reversed(pending):
            chains[item] = above
            above = (item, *above)
        return chains[element]

    def root_of(self, element: str, down: set[str] | dict[str, float]) -> str:
        """The highest element in ``element``'s chain (itself included) that is in ``down``."""
        root = element
        for node in self.chain(element):
            if node in down:
                root = node
        return root

    def site_access_points(self, site_id: str) -> tuple[str, ...]:
        return self._site_aps.get(site_id, ())

    def link_ends(self, link_id: str) -> tuple[str, str] | None:
        """(upstream device, downstream device) of a link that cuts something off."""
        link = self.inventory.links.get(link_id)
        if link is None:
            return None
        to_parent = self._link_to_parent
        if to_parent.get(link.b_device) == link_id:  # most links: no walk in the topology
            return link.a_device, link.b_device
        if to_parent.get(link.a_device) == link_id:
            return link.b_device, link.a_device
        down = self.topology.link_downstream_root(link_id)
        if down is None:
            return None
        return (link.a_device if down == link.b_device else link.b_device), down

    # -- impact --------------------------------------------------------------------------

    def set_group(self, area: str, roots: frozenset[str]) -> None:
        """What an ``area:`` element (a power incident's root) takes down: its roots."""
        self._groups[area] = roots
        self._impact.pop(area, None)

    def set_watched(self, collector: str, devices: frozenset[str],
                    sites: frozenset[str]) -> None:
        """What a ``collector:`` element (a gone shard) watched: its devices and sites are
        what its ``collector_down`` incident counts (unwatched, not down)."""
        self._watched[collector] = (devices, sites)
        self._impact.pop(collector, None)

    def impact(self, element: str) -> Impact:
        """Devices and sites the element takes down (its own included), cached."""
        found = self._impact.get(element)
        if found is not None:
            return found
        kind, ident = split_element(element)
        topo = self.topology
        devices: set[str]
        sites: set[str]
        if kind == "collector":
            watched = self._watched.get(element, (frozenset(), frozenset()))
            devices, sites = set(watched[0]), set(watched[1])
        elif kind == "area":
            devices, sites = set(), set()
            for root in self._groups.get(element, ()):
                part = self.impact(root)
                devices |= part.devices
                sites |= part.sites
        elif kind == "device":
            if ident in self.inventory.devices:
                devices = topo.downstream_devices(ident)
                devices.add(ident)
                sites = topo.downstream_sites(ident)
            else:
                devices, sites = {ident}, set()
        elif kind == "link":
            if ident in self.inventory.links:
                devices = topo.link_downstream_devices(ident)
                sites = topo.link_downstream_sites(ident)
            else:
                devices, sites = set(), set()
        else:
            devices = set(self._site_aps.get(ident, ()))
            sites = {ident} if ident in self.inventory.sites else set()
        all_sites = self.inventory.sites
        villages: set[tuple[str, str]] = set()
        per_district: dict[str, int] = {}
        for site_id in sites:
            site = all_sites.get(site_id)
            if site is None:
                continue
            villages.add((site.subdistrict_code, site.village))
            per_district[site.district_code] = per_district.get(site.district_code, 0) + 1
        by_district = tuple(sorted(per_district.items(), key=lambda kv: (-kv[1], kv[0])))
        found = Impact(frozenset(devices), frozenset(sites), len(villages), by_district)
        self._impact[element] = found
        return found

    # -- where and how bad ---------------------------------------------------------------

    def device_of(self, element: str) -> Device | None:
        """The device an element is about: itself, or a link's far (cut-off) end."""
        kind, ident = split_element(element)
        if kind in ("site", "area", "collector"):
            return None
        if kind == "link":
            ends = self.link_ends(ident)
            link = self.inventory.links.get(ident)
            if ends is not None:
                ident = ends[1]
            elif link is not None:
                ident = link.b_device
            else:
                return None
        return self.inventory.devices.get(ident)

    def site_of(self, element: str) -> Site | None:
        """The site that names an element in messages: its own, or a link's far end's."""
        kind, ident = split_element(element)
        if kind == "site":
            return self.inventory.sites.get(ident)
        device = self.device_of(element)
        return None if device is None else self.inventory.sites.get(device.site_id)

    def location(self, element: str) -> Location:
        """The element's site, province and district. An element without a site (a
        provincial node or core, or the link to one) is in the province the inventory gives
        it; failing that, in the province/district its whole impact shares, if any."""
        found = self._locations.get(element)
        if found is not None:
            return found
        if element.startswith(COLLECTOR):  # the NOC's, wherever its sites are
            found = self._locations[element] = Location()
            return found
        if element.startswith(AREA):
            code = element[len(AREA):].partition("/")[0]
            found = self._locations[element] = Location(
                province_code=code[:2], district_code=code if len(code) == 4 else "")
            return found
        site = self.site_of(element)
        device = self.device_of(element) if site is None else None
        if site is not None:
            found = Location(site_id=site.site_id, province_code=site.province_code,
                             district_code=site.district_code)
        elif device is not None and device.province_code:
            found = Location(province_code=device.province_code)
        else:
            sites = [self.inventory.sites[s] for s in self.impact(element).sites
                     if s in self.inventory.sites]
            provinces = {s.province_code for s in sites}
            districts = {s.district_code for s in sites}
            found = Location(province_code=provinces.pop() if len(provinces) == 1 else "",
                             district_code=districts.pop() if len(districts) == 1 else "")
        self._locations[element] = found
        return found

    def devices_of(self, element: str) -> tuple[str, ...]:
        """Device ids an element is made of, for ``device:`` maintenance scopes."""
        kind, ident = split_element(element)
        if kind == "device":
            return (ident,)
        if kind == "link":
            link = self.inventory.links.get(ident)
            return () if link is None else (link.a_device, link.b_device)
        if kind in ("area", "collector"):
            return ()
        return self._site_aps.get(ident, ())

    def classify(self, element: str) -> tuple[Kind, Severity]:
        """Kind and severity of an outage rooted at ``element``."""
        kind, ident = split_element(element)
        impact = self.impact(element)
        if kind == "site":
            result = (Kind.SITE_DOWN, Severity.MINOR)
        elif kind == "link":
            ends = self.link_ends(ident)
            far = self.inventory.devices.get(ends[1]) if ends else None
            severity = _ROLE_SEVERITY.get(far.role, Severity.MAJOR) if far else Severity.MAJOR
            result = (Kind.LINK_DOWN, max(severity, Severity.MINOR, key=lambda s: s.rank))
        else:
            device = self.inventory.devices.get(ident)
            role = device.role if device is not None else None
            if role is Role.SITE_GATEWAY:
                result = (Kind.SITE_DOWN, Severity.MINOR)
            else:
                sev = _ROLE_SEVERITY.get(role, Severity.MINOR) if role else Severity.MINOR
                result = (Kind.DEVICE_DOWN, sev)
        if len(impact.sites) >= CRITICAL_SITES:
            result = (result[0], Severity.CRITICAL)
        return result
