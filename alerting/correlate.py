"""Root cause: one incident per highest failed element, everything below it as impact.

The correlator keeps the set of confirmed-down elements and the open incidents. After a
batch of changes, :meth:`Correlator.reconcile` recomputes the root of every down element
(the highest down element in its upstream chain, a walk of a few hops) and brings the
incidents in line:

* a root with no incident gets a new one (``pending`` for ``group_wait``, so that an upstream
  failure confirmed a few polls later can still absorb it before anyone is told);
* an incident whose root now has a down element above it is merged into that element's
  incident (dropped silently while still pending; when it was announced, the incident it
  joins is announced at once, so that the update naming it names a stored incident);
* an incident whose root recovered is resolved, and its members that are still down fall
  into new incidents of their own (again pending first: a village gateway behind a router
  that just came back usually answers at its next poll).

Recomputing every root on each batch is O(down elements x depth); batches are drained and
processed together, so a storm of 25,000 changes costs one pass, not 25,000.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from alerting.impact import AlertTopology
from alerting.lifecycle import resolve
from alerting.model import (
    DEVICE,
    SITE,
    Incident,
    Kind,
    Severity,
    State,
    site_element,
)
from alerting.power import PowerCuts
from inventory.model import Role

OUTAGE_KINDS = frozenset({Kind.DEVICE_DOWN, Kind.SITE_DOWN, Kind.LINK_DOWN})


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What one reconcile pass changed: incidents to step and persist, pending ones dropped."""

    changed: tuple[str, ...]
    dropped: tuple[str, ...]


class Correlator:
    """Down elements and the incidents they form. Single-threaded, no I/O, no clock."""

    def __init__(self, topology: AlertTopology, new_id: Callable[[], str],
                 power: PowerCuts | None = None) -> None:
        self.topology = topology
        self._new_id = new_id
        self.power = power
        """Groups site outages into power incidents (:mod:`alerting.power`), when on."""
        self.down: dict[str, float] = {}
        """Confirmed-down elements (flapping ones excluded) -> since when."""
        self.incidents: dict[str, Incident] = {}
        self._by_root: dict[str, str] = {}
        self._merge_into: dict[str, str] = {}
        self._flap_by_element: dict[str, str] = {}
        self._flap_latest: dict[str, tuple[bool, float]] = {}
        self._conditions: dict[tuple[Kind, str], str] = {}
        self._aps_down: dict[str, set[str]] = {}
        self._dirty = False
        self._dropped: list[str] = []
        self._touched: set[str] = set()

    # -- input ---------------------------------------------------------------------------

    def set_down(self, element: str, since: float) -> None:
        if element in self._flap_by_element:
            self._flap_latest[element] = (False, since)
            return
        if element in self.down:
            return
        self.down[element] = since
        self._dirty = True
        self._ap_changed(element, down=True, ts=since)

    def set_up(self, element: str, ts: float) -> None:
        if element in self._flap_by_element:
            self._flap_latest[element] = (True, ts)
            return
        if self.down.pop(element, None) is None:
            return
        self._dirty = True
        self._ap_changed(element, down=False, ts=ts)

    def _ap_changed(self, element: str, *, down: bool, ts: float) -> None:
        if not element.startswith(DEVICE):
            return
        device = self.topology.inventory.devices.get(element[len(DEVICE):])
        if device is None or device.role is not Role.ACCESS_POINT:
            return
        aps = self.topology.site_access_points(device.site_id)
        if not aps:
            return
        site = site_element(device.site_id)
        dark = self._aps_down.setdefault(device.site_id, set())
        if down:
            dark.add(device.device_id)
            if len(dark) == len(aps) and site not in self.down:
                self.down[site] = ts
        else:
            dark.discard(device.device_id)
            if not dark:  # no empty set kept per site whose access points once went dark
                del self._aps_down[device.site_id]
            self.down.pop(site, None)

    def is_down(self, element: str) -> bool:
        return element in self.down

    # -- flapping ------------------------------------------------------------------------

    def start_flapping(self, element: str, now: float, *, down: bool) -> str:
        """Replace the element's up/down stream by one flapping incident; returns its id."""
        existing = self._flap_by_element.get(element)
        if existing is not None:
            return existing
        _, severity = self.topology.classify(element)
        incident = Incident(
            self._new_id(), Kind.FLAPPING, severity, element, started_at=now, created_at=now,
            members=frozenset({element}),
        )
        self._add(incident)
        self._flap_by_element[element] = incident.incident_id
        self._flap_latest[element] = (not down, now)
        if element in self.down:
            del self.down[element]
            self._ap_changed(element, down=False, ts=now)
            self._dirty = True
            root_incident = self._by_root.get(element)
            if root_incident is not None:
                self._merge_into[root_incident] = incident.incident_id
        return incident.incident_id

    def stop_flapping(self, element: str, now: float) -> None:
        """Resolve the flapping incident; a still-down element goes back to normal handling."""
        incident_id = self._flap_by_element.pop(element, None)
        if incident_id is None:
            return
        incident = self.incidents.get(incident_id)
        if incident is not None:
            self.incidents[incident_id] = resolve(incident, now)
            self._touched.add(incident_id)
        up, _ = self._flap_latest.pop(element, (True, now))
        if not up:
            self.set_down(element, now)

    def flapping_elements(self) -> set[str]:
        return set(self._flap_by_element)

    # -- conditions (reboot, thresholds, quiet access points) -----------------------------

    def raise_condition(self, kind: Kind, element: str, ts: float, severity: Severity,
                        detail: str = "") -> str | None:
        """Open an incident for a non-outage condition unless one is open already."""
        key = (kind, element)
        if key in self._conditions:
            return None
        incident = Incident(
            self._new_id(), kind, severity, element, started_at=ts, created_at=ts,
            members=frozenset({element}), detail=detail,
        )
        self._add(incident)
        self._conditions[key] = incident.incident_id
        return incident.incident_id

    def clear_condition(self, kind: Kind, element: str, ts: float) -> None:
        incident_id = self._conditions.pop((kind, element), None)
        if incident_id is not None:
            self._close(incident_id, ts, None)

    def condition_open(self, kind: Kind, element: str) -> bool:
        return (kind, element) in self._conditions

    # -- reconcile -----------------------------------------------------------------------

    def reconcile(self, now: float) -> Reconciled:
        """Bring incidents in line with the down set; see the module docstring."""
        if self._dirty:
            self._dirty = False
            self._reconcile(now)
        changed = tuple(self._touched)
        dropped = tuple(self._dropped)
        self._touched = set()
        self._dropped = []
        return Reconciled(changed, dropped)

    def _reconcile(self, now: float) -> None:
        down = self.down
        root_of = self.topology.root_of
        roots = {element: root_of(element, down) for element in down}
        groups: dict[str, set[str]] = {}
        for element, root in roots.items():
            members = groups.get(root)
            if members is None:
                groups[root] = {element}
            else:
                members.add(element)
        if self.power is not None:  # grouped roots belong to their power incident
            self.power.claim(self, groups, now)
        # 1. roots that recovered (or started flapping): resolve, or drop while pending.
        for root, root_incident in list(self._by_root.items()):
            if root not in down:
                del self._by_root[root]
                self._close(root_incident, now, self._merge_into.pop(root_incident, None))
        # 2. every current root has exactly one incident, members kept current.
        for root, members in groups.items():
            incident_id = self._by_root.get(root)
            frozen = frozenset(members)
            if incident_id is None:
                kind, severity = self.topology.classify(root)
                incident = Incident(
                    self._new_id(), kind, severity, root, started_at=down[root],
                    created_at=now, members=frozen,
                )
                self._add(incident)
                self._by_root[root] = incident.incident_id
            else:
                incident = self.incidents[incident_id]
                if incident.members != frozen:
                    self.incidents[incident_id] = replace(incident, members=frozen)
                    self._touched.add(incident_id)
        # 3. incidents whose root now hangs below another down element: merge upward.
        for root, incident_id in list(self._by_root.items()):
            top = roots.get(root, root)
            if top != root:
                del self._by_root[root]
                self._close(incident_id, now, self._by_root[top])
        if self.power is not None:
            self.power.classify(self, now, self._new_id)

    def _close(self, incident_id: str, now: float, merged_into: str | None) -> None:
        """End an incident (a root's or a condition's): one still pending that nobody was
        told of is dropped, any other resolved (into ``merged_into`` when it merged)."""
        incident = self.incidents.get(incident_id)
        if incident is None:
            return
        if incident.state is State.PENDING and incident.announced_at is None:
            self._drop(incident_id)
            return
        self.incidents[incident_id] = resolve(incident, now, merged_into)
        self._touched.add(incident_id)
        if merged_into is not None and incident.announced_at is not None:
            self._fire_now(merged_into)

    def _fire_now(self, incident_id: str) -> None:
        """End the group wait of an incident that absorbed an announced one.

        The update of the absorbed incident names this one ("merged into INC-38"), so it
        must exist for the people told (announced, stored, acknowledgeable) from the same
        cycle on -- not stay pending, in memory only, and perhaps be dropped. Waiting for
        an upstream failure to absorb it is moot once someone has been told of part of it.
        """
        target = self.incidents.get(incident_id)
        if target is not None and target.state is State.PENDING:
            self.incidents[incident_id] = replace(target, state=State.FIRING)
            self._touched.add(incident_id)

    def _add(self, incident: Incident) -> None:
        self.incidents[incident.incident_id] = incident
        self._touched.add(incident.incident_id)

    def _drop(self, incident_id: str) -> None:
        self.incidents.pop(incident_id, None)
        self._touched.discard(incident_id)
        self._dropped.append(incident_id)

    # -- for alerting.power ---------------------------------------------------------------

    def roots(self) -> dict[str, str]:
        """Root element -> its outage incident id."""
        return self._by_root

    def release(self, root: str, now: float, into: str) -> None:
        """``root`` joins incident ``into`` (a power incident): its own incident is
        dropped while pending, else merged into it."""
        incident_id = self._by_root.pop(root, None)
        if incident_id is not None:
            self._close(incident_id, now, into)

    def touch(self, incident_id: str) -> None:
        self._touched.add(incident_id)

    def mark_dirty(self) -> None:
        """Reconcile at the next pass even without a change in the down set."""
        self._dirty = True

    # -- bookkeeping for the service -----------------------------------------------------

    def update(self, incident: Incident) -> None:
        """Store a stepped incident (the service applies lifecycle steps and acks)."""
        self.incidents[incident.incident_id] = incident

    def forget_finished(self, saved: Iterable[Incident]) -> None:
        """Drop the resolved incidents of ``saved`` whose last message went out, or that were
        never announced (they live on in SQLite; memory keeps only what may still change)."""
        for incident in saved:
            if incident.state is State.RESOLVED and (
                incident.resolved_sent or incident.announced_at is None
            ):
                current = self.incidents.get(incident.incident_id)
                if current is not None and not current.is_open:
                    del self.incidents[incident.incident_id]

    def outage_for_root(self, element: str) -> Incident | None:
        incident_id = self._by_root.get(element)
        return None if incident_id is None else self.incidents.get(incident_id)

    def restore(self, incidents: Iterable[Incident]) -> set[str]:
        """Reload open incidents after a restart; returns the elements assumed down."""
        assumed: set[str] = set()
        for incident in incidents:
            self.incidents[incident.incident_id] = incident
            if not incident.is_open:
                continue
            if incident.kind in OUTAGE_KINDS:
                self._by_root[incident.root] = incident.incident_id
                self._assume_down(incident.members, incident.started_at, assumed)
            elif incident.kind is Kind.POWER and self.power is not None:
                self._assume_down(self.power.restore(incident), incident.started_at, assumed)
            elif incident.kind is Kind.FLAPPING:
                self._flap_by_element[incident.root] = incident.incident_id
                self._flap_latest[incident.root] = (True, incident.started_at)
            else:
                self._conditions[(incident.kind, incident.root)] = incident.incident_id
        self._dirty = True
        return assumed

    def _assume_down(self, members: Iterable[str], since: float, assumed: set[str]) -> None:
        """What a restored incident says is down is down ``since`` its start, and added to
        ``assumed``: its devices and links (a ``site:`` element follows from its access
        points)."""
        for element in members:
            if element.startswith(SITE):
                continue
            self.down.setdefault(element, since)
            self._ap_changed(element, down=True, ts=since)
            assumed.add(element)
