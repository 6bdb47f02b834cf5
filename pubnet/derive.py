"""Site and backbone-link status derived from device statuses: the one rule, in one place.

A planner's availability, the NOC's ``pubnet_site_up`` and alerting's "site down" must
agree on what "the site is up" means, so the rule lives here and everything that needs it
asks this module. It is pure (no I/O, no clock) and imports only the inventory and the
observation model, so any layer may use it.

**Device.** ``up`` while its last poll ended ``ok``; ``down`` after any other outcome
(timeout, unreachable, auth failure, ...); ``unknown`` while pubnet has no status for it
(not polled yet since pubnet started).

**Site.** A site's devices form the groups the site needs: its gateways and its access
points (a site without access points needs only its gateway; one with access points but
no gateway only them); a site with neither is judged on its other devices. A group is up
when at least one of its devices is up, down when none is up and at least one has a
status, unknown when none has a status. The site is **down** when a group it needs is down,
else **unknown** when a group is unknown, else **up**. So: up while the gateway and at least
one access point are up -- the rule ``pubnet_site_up`` has always exported -- and unknown,
not down, before pubnet has heard from the site at all. A site without any device is
always unknown.

**Backbone link.** Watched through its a-side device's interface ``a_interface``
(``pubnet_interface_oper_up``). **Unknown** while pubnet has no reading of that interface
(an ICMP- or MQTT-watched a-side, an interface name the device lacks, a device not heard
from): no sample rather than a false 0, as ``pubnet_link_up`` does. Once read, **up** while
the interface reads up (≥ 1) and the device answers, **down** otherwise. The b-side is not
read: one end decides, so the exporter's ``pubnet_link_up``, alerting's ``link_down`` and the
reports can never disagree about a link. (Alerting forgets the readings of a device it has
confirmed down, so such a link is unknown there rather than down: the device's own incident
is the root cause.)

**Link utilisation.** Per direction, the increase of the a-side interface's byte counter
between two readings, in bits per second over the link's ``capacity_bps``
(:func:`counter_rate`, :func:`utilisation`). No value from a first reading, from a reading
not newer than the previous one, from a counter that went back (the collector started over),
or for a link without a capacity.

Incremental use: :class:`Derivation` indexes the inventory once (which sites and links a
device can change); :class:`DerivedState` keeps every current status and, fed one device
status or interface reading, returns only the sites and links whose status changed.
A change costs a look at the few devices of one site and the links of one device, so a
national power event of 25,000 changes is derived in tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from inventory.model import Inventory, Role
from pubnet.catalog import IF_OPER_UP
from pubnet.model import PollStatus

__all__ = [
    "OPER_UP",
    "Derivation",
    "DerivedChange",
    "DerivedState",
    "ElementKind",
    "Health",
    "SiteMembers",
    "counter_rate",
    "derivation_for",
    "device_health",
    "link_health",
    "site_health",
    "utilisation",
]

OPER_UP = IF_OPER_UP
"""The metric a link's a-side interface is read from (label ``ifname``)."""


class Health(StrEnum):
    """The derived status of a device, site or link."""

    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"


class ElementKind(StrEnum):
    DEVICE = "device"
    SITE = "site"
    LINK = "link"


def device_health(status: PollStatus | None) -> Health:
    """``up`` for ``ok``, ``unknown`` without a status, ``down`` for anything else."""
    if status is None:
        return Health.UNKNOWN
    return Health.UP if status is PollStatus.OK else Health.DOWN


@dataclass(frozen=True, slots=True)
class SiteMembers:
    """The devices of one site, grouped the way the site rule reads them."""

    site_id: str
    gateways: tuple[str, ...] = ()
    access_points: tuple[str, ...] = ()
    others: tuple[str, ...] = ()

    @property
    def groups(self) -> tuple[tuple[str, ...], ...]:
        """The device groups the site needs (each must have one device up)."""
        if self.gateways or self.access_points:
            return tuple(g for g in (self.gateways, self.access_points) if g)
        return (self.others,) if self.others else ()

    @property
    def devices(self) -> tuple[str, ...]:
        return (*self.gateways, *self.access_points, *self.others)


def _group_health(group: Iterable[str], health: Callable[[str], Health]) -> Health:
    seen = False
    for device in group:
        value = health(device)
        if value is Health.UP:
            return Health.UP
        if value is Health.DOWN:
            seen = True
    return Health.DOWN if seen else Health.UNKNOWN


def site_health(members: SiteMembers, health: Callable[[str], Health]) -> Health:
    """The site rule (module docstring) over ``health`` of each device."""
    groups = members.groups
    if not groups:
        return Health.UNKNOWN
    result = Health.UP
    for group in groups:
        value = _group_health(group, health)
        if value is Health.DOWN:
            return Health.DOWN
        if value is Health.UNKNOWN:
            result = Health.UNKNOWN
    return result


def link_health(a_device: Health, oper_up: float | None) -> Health:
    """The link rule: unknown without an interface reading, else up only while the
    interface reads up and its device is up."""
    if oper_up is None:
        return Health.UNKNOWN
    return Health.UP if oper_up >= 1 and a_device is Health.UP else Health.DOWN


def counter_rate(previous_value: float, previous_ts: float, value: float, ts: float) -> (
    float | None
):
    """Per-second increase of a monotonic counter between two readings; None when the
    reading is not newer or the counter went back (module docstring)."""
    if ts <= previous_ts or value < previous_value:
        return None
    return (value - previous_value) / (ts - previous_ts)


def utilisation(bytes_per_second: float, capacity_bps: int) -> float | None:
    """A byte rate as a fraction of a link's capacity (None without a capacity)."""
    if capacity_bps <= 0:
        return None
    return bytes_per_second * 8.0 / capacity_bps


@dataclass(frozen=True, slots=True)
class DerivedChange:
    """A device, site or link whose derived status changed at ``ts``."""

    kind: ElementKind
    element: str
    previous: Health
    current: Health
    ts: float


@dataclass(frozen=True, slots=True)
class _Link:
    link_id: str
    a_device: str
    a_interface: str


class Derivation:
    """The inventory indexed for the rules: members of every site, sites and links each
    device can change. Immutable after construction; safe to share between threads.

    The app builds one per loaded inventory (``pubnet.app.reload.load_setup``) and gives
    that one to every component that reads the rules (the exporter's site and link
    families, the status page, alerting's readings, the history recorder): at 20,000
    devices each copy is ~4.5 MB. Components built alone (tests, benchmarks) build their
    own (:func:`derivation_for`)."""

    __slots__ = ("_links", "_links_of", "_site_of", "_sites", "_watched", "inventory")

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        """What this indexes: components check they were given the index of their own
        inventory (:func:`derivation_for`)."""
        self._watched: Mapping[str, frozenset[str]] | None = None
        by_site: dict[str, tuple[list[str], list[str], list[str]]] = {
            site_id: ([], [], []) for site_id in inventory.sites}
        site_of: dict[str, str] = {}
        for device in inventory.devices.values():
            lists = by_site.get(device.site_id)
            if lists is None:
                continue  # a backbone node: no site
            slot = (0 if device.role is Role.SITE_GATEWAY
                    else 1 if device.role is Role.ACCESS_POINT else 2)
            lists[slot].append(device.device_id)
            site_of[device.device_id] = device.site_id
        self._sites: dict[str, SiteMembers] = {
            site_id: SiteMembers(site_id, tuple(g), tuple(a), tuple(o))
            for site_id, (g, a, o) in by_site.items()}
        self._site_of = site_of
        self._links: dict[str, _Link] = {
            link.link_id: _Link(link.link_id, link.a_device, link.a_interface)
            for link in inventory.links.values()}
        links_of: dict[str, list[str]] = {}
        for link in self._links.values():
            links_of.setdefault(link.a_device, []).append(link.link_id)
        self._links_of = {device: tuple(ids) for device, ids in links_of.items()}

    @property
    def sites(self) -> Mapping[str, SiteMembers]:
        return self._sites

    @property
    def link_ids(self) -> Iterable[str]:
        return self._links.keys()

    def site_of(self, device: str) -> str | None:
        """The site whose status ``device`` can change (None for a backbone node)."""
        return self._site_of.get(device)

    def links_of(self, device: str) -> tuple[str, ...]:
        """Links whose status ``device`` (as their a-side) can change."""
        return self._links_of.get(device, ())

    def link_side(self, link_id: str) -> tuple[str, str]:
        """(a_device, a_interface) of a link."""
        link = self._links[link_id]
        return link.a_device, link.a_interface

    def watched_interfaces(self) -> Mapping[str, frozenset[str]]:
        """a-side device → interface names the links read: what to watch for readings.

        Built on first use and kept (the exporter and the history recorder both ask);
        equal name sets are one object (most a-side devices watch one interface of a
        handful of names)."""
        watched = self._watched
        if watched is None:
            found: dict[str, set[str]] = {}
            for link in self._links.values():
                found.setdefault(link.a_device, set()).add(link.a_interface)
            shared: dict[frozenset[str], frozenset[str]] = {}
            watched = {}
            for device, names in found.items():
                key = frozenset(names)
                watched[device] = shared.setdefault(key, key)
            self._watched = watched
        return watched


def derivation_for(inventory: Inventory, shared: Derivation | None) -> Derivation:
    """``shared`` (the app's one index of ``inventory``) when given, else a new index.

    Raises ``ValueError`` when ``shared`` indexes another inventory: a component would
    judge sites and links the inventory it was given does not have."""
    if shared is None:
        return Derivation(inventory)
    if shared.inventory is not inventory:
        raise ValueError("the derivation given indexes another inventory")
    return shared


class DerivedState:
    """Current status of every device, site and link, updated change by change.

    Not thread-safe: one owner (the history recorder's writer thread, or an exporter's
    event loop) feeds it.
    """

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        self._devices: dict[str, Health] = {}
        self._interfaces: dict[tuple[str, str], float] = {}
        self._sites: dict[str, Health] = dict.fromkeys(derivation.sites, Health.UNKNOWN)
        self._links: dict[str, Health] = dict.fromkeys(derivation.link_ids, Health.UNKNOWN)

    def device(self, device: str) -> Health:
        return self._devices.get(device, Health.UNKNOWN)

    def site(self, site_id: str) -> Health:
        return self._sites[site_id]

    def link(self, link_id: str) -> Health:
        return self._links[link_id]

    def sites(self) -> Mapping[str, Health]:
        return self._sites

    def links(self) -> Mapping[str, Health]:
        return self._links

    def set_device(self, device: str, status: PollStatus | None, ts: float) -> (
        list[DerivedChange]
    ):
        """A device's new poll status; returns the device's own change (if its health
        changed) followed by the site and link changes it caused."""
        health = device_health(status)
        previous = self._devices.get(device, Health.UNKNOWN)
        if health is previous:
            return []
        if health is Health.UNKNOWN:
            del self._devices[device]
        else:
            self._devices[device] = health
        changes = [DerivedChange(ElementKind.DEVICE, device, previous, health, ts)]
        self._rederive(device, ts, changes)
        return changes

    def set_interface(self, device: str, ifname: str, oper_up: float | None, ts: float) -> (
        list[DerivedChange]
    ):
        """A reading of ``pubnet_interface_oper_up`` (None: the reading is gone)."""
        key = (device, ifname)
        if oper_up is None:
            if self._interfaces.pop(key, None) is None:
                return []
        elif self._interfaces.get(key) == oper_up:
            return []
        else:
            self._interfaces[key] = oper_up
        changes: list[DerivedChange] = []
        self._rederive_links(device, ts, changes)
        return changes

    def forget_all(self, ts: float) -> list[DerivedChange]:
        """Every device back to unknown (pubnet stopped watching): the resulting changes."""
        changes: list[DerivedChange] = []
        for device in list(self._devices):
            changes.extend(self.set_device(device, None, ts))
        self._interfaces.clear()
        for link_id in self._links:
            self._rederive_link(link_id, ts, changes)
        return changes

    def _rederive(self, device: str, ts: float, changes: list[DerivedChange]) -> None:
        site_id = self.derivation.site_of(device)
        if site_id is not None:
            now = site_health(self.derivation.sites[site_id], self.device)
            before = self._sites[site_id]
            if now is not before:
                self._sites[site_id] = now
                changes.append(DerivedChange(ElementKind.SITE, site_id, before, now, ts))
        self._rederive_links(device, ts, changes)

    def _rederive_links(self, device: str, ts: float, changes: list[DerivedChange]) -> None:
        for link_id in self.derivation.links_of(device):
            self._rederive_link(link_id, ts, changes)

    def _rederive_link(self, link_id: str, ts: float, changes: list[DerivedChange]) -> None:
        a_device, a_interface = self.derivation.link_side(link_id)
        now = link_health(self.device(a_device), self._interfaces.get((a_device, a_interface)))
        before = self._links[link_id]
        if now is not before:
            self._links[link_id] = now
            changes.append(DerivedChange(ElementKind.LINK, link_id, before, now, ts))
