"""Power cut, backhaul or equipment: many dark villages whose routers still answer.

When a province's electricity fails, hundreds of village hotspots go dark within minutes
while the district routers (on batteries or generators at the exchange) stay up. Root
cause alone would open one incident per site -- a truck roll each -- though nothing is
broken. So, after each reconcile, the correlator hands its site-level outage incidents to
:meth:`PowerCuts.classify`: when at least ``min_sites`` of them in one province started
within ``window`` of each other *under at least two different upstream routers* (one
router's sites going dark together is that router's link, not the grid), they become one
incident of kind ``power`` rooted at the area (``area:<district or province code>/<id>``),
with a lower severity and its own route. A later site of the same area joins it.

Evidence corrects the classification while the incident is open, and is recorded in it:

* an MQTT gateway that delivers telemetry timestamped inside the outage (store and
  forward) had power: its site's cause is **backhaul**, and it leaves the power incident
  (if still down it becomes a site incident of its own);
* a device its collector reports ``rebooted`` as it came back lost power: **power
  confirmed**.

Both arrive as the devices' attempt records (:class:`pubnet.model.Attempt`), through
:mod:`alerting.intake`. The evidence (and what it excluded) is saved with the incident
(:meth:`PowerCuts.evidence`) and taken back with it after a restart
(:meth:`PowerCuts.preload`, :meth:`PowerCuts.restore`), so later evidence adds to it.

Single-threaded, no I/O, no clock: the correlator calls it with ``now``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from alerting.impact import AlertTopology
from alerting.lifecycle import resolve
from alerting.model import (
    AREA,
    DEVICE,
    LINK,
    SITE,
    Incident,
    Kind,
    Severity,
    State,
)
from inventory.model import Role
from pubnet.model import Attempt, PollStatus, Source

if TYPE_CHECKING:
    from alerting.correlate import Correlator

log = logging.getLogger("pubnet.alerting")

_OK = PollStatus.OK

POWER_SEVERITY = Severity.WARNING
"""No truck roll: the electricity authority restores it."""


@dataclass(slots=True)
class _Cut:
    """One open power incident's bookkeeping."""

    roots: set[str] = field(default_factory=set)
    """Site-level root elements it groups."""
    devices: dict[str, str] = field(default_factory=dict)
    """Device id -> site id, for every device its members took down (evidence)."""
    recovered: dict[str, float] = field(default_factory=dict)
    """Device id -> when it answered again."""
    power: dict[str, str] = field(default_factory=dict)
    """Site id -> the evidence that it lost power."""
    backhaul: dict[str, str] = field(default_factory=dict)
    """Site id -> the evidence that it had power (its backhaul failed)."""


class PowerCuts:
    """See the module docstring."""

    def __init__(self, topology: AlertTopology, window: float, min_sites: int) -> None:
        self.topology = topology
        self.window = window
        self.min_sites = min_sites
        self.cuts: dict[str, _Cut] = {}
        """Open power incident id -> bookkeeping."""
        self.root_of: dict[str, str] = {}
        """Grouped root element -> power incident id."""
        self.watched: dict[str, str] = {}
        """Device id -> power incident id, for :meth:`evidence`."""
        self.excluded: set[str] = set()
        """Roots evidence showed were powered: never grouped again while down."""
        self._saved: dict[str, str] = {}
        """Power incident id -> its evidence as saved before a restart (:meth:`preload`)."""

    # -- what may be grouped ---------------------------------------------------------------

    def upstream(self, root: str) -> str | None:
        """The router above a site-level root (a site gateway, all APs of a site, or the
        last-mile link to a gateway); None for anything else."""
        topo = self.topology
        if root.startswith(SITE):
            parent = topo.parent(root)
            device = topo.device_of(parent) if parent is not None else None
            if device is None or device.role is not Role.SITE_GATEWAY:
                return None
            return topo.inventory.devices[device.device_id].upstream or None
        if root.startswith(LINK):
            ends = topo.link_ends(root[len(LINK):])
            far = topo.inventory.devices.get(ends[1]) if ends else None
            return ends[0] if ends and far is not None and far.role is Role.SITE_GATEWAY \
                else None
        if root.startswith(DEVICE):
            device = topo.inventory.devices.get(root[len(DEVICE):])
            if device is None or device.role is not Role.SITE_GATEWAY:
                return None
            return device.upstream or None
        return None

    # -- called by the correlator ----------------------------------------------------------

    def claim(self, correlator: Correlator, groups: dict[str, set[str]], now: float) -> None:
        """Take the grouped roots out of ``groups`` (they have no incident of their own),
        keep each power incident's members current, and resolve those left empty."""
        for incident_id, cut in list(self.cuts.items()):
            members: set[str] = set()
            for root in list(cut.roots):
                found = groups.pop(root, None) if root not in self.excluded else None
                if found is None:  # recovered, below a newly down element, or powered
                    cut.roots.discard(root)
                    del self.root_of[root]
                    continue
                members |= found
            incident = correlator.incidents.get(incident_id)
            if incident is None:
                self._forget(incident_id)
                continue
            for element in members:
                for device in self._devices(element):
                    cut.devices.setdefault(device, self._site(element))
                    self.watched[device] = incident_id
            if not cut.roots:
                correlator.incidents[incident_id] = resolve(incident, now)
                correlator.touch(incident_id)
                self._forget(incident_id, keep_watch=False)
            elif incident.members != frozenset(members):
                self.topology.set_group(incident.root, frozenset(cut.roots))
                correlator.incidents[incident_id] = replace(
                    incident, members=frozenset(members), detail=self.detail(cut))
                correlator.touch(incident_id)
        self.excluded &= set(groups) | set(self.root_of)  # forget roots that recovered

    def classify(self, correlator: Correlator, now: float,
                 new_id: Callable[[], str]) -> None:
        """Group site-level outage incidents into power incidents (module docstring)."""
        by_province: dict[str, list[Incident]] = {}
        for root, incident_id in correlator.roots().items():
            incident = correlator.incidents.get(incident_id)
            if (incident is None or not incident.is_open or root in self.excluded
                    or incident.kind not in (Kind.SITE_DOWN, Kind.LINK_DOWN)
                    or self.upstream(root) is None):
                continue
            province = self.topology.location(root).province_code
            if province:
                by_province.setdefault(province, []).append(incident)
        for province, candidates in by_province.items():
            joined = self._join_open(correlator, province, candidates, now)
            rest = [c for c in candidates if c.incident_id not in joined]
            if len(rest) < self.min_sites:
                continue
            rest.sort(key=lambda i: i.started_at)
            latest = rest[-1].started_at
            cluster = [i for i in rest if i.started_at >= latest - self.window]
            upstreams = {self.upstream(i.root) for i in cluster}
            if len(cluster) < self.min_sites or len(upstreams) < 2:
                continue
            self._open(correlator, province, cluster, now, new_id)

    def _join_open(self, correlator: Correlator, province: str, candidates: list[Incident],
                   now: float) -> set[str]:
        """Candidates that join an open power incident of their province."""
        joined: set[str] = set()
        for incident_id, cut in list(self.cuts.items()):
            power = correlator.incidents.get(incident_id)
            if power is None or self.topology.location(power.root).province_code != province:
                continue
            late = [c for c in candidates if c.incident_id not in joined
                    and abs(c.started_at - power.started_at) <= self.window]
            if late:
                self._absorb(correlator, incident_id, cut, late, now)
                joined.update(c.incident_id for c in late)
        return joined

    def _open(self, correlator: Correlator, province: str, cluster: list[Incident],
              now: float, new_id: Callable[[], str]) -> None:
        districts = {self.topology.location(i.root).district_code for i in cluster}
        area = districts.pop() if len(districts) == 1 else province
        incident_id = new_id()
        root = f"{AREA}{area}/{incident_id}"
        announced = any(i.announced_at is not None for i in cluster)
        power = Incident(incident_id, Kind.POWER, POWER_SEVERITY, root,
                         started_at=min(i.started_at for i in cluster), created_at=now,
                         state=State.FIRING if announced else State.PENDING)
        correlator.incidents[incident_id] = power
        correlator.touch(incident_id)
        cut = self.cuts[incident_id] = _Cut()
        self._absorb(correlator, incident_id, cut, cluster, now)

    def _absorb(self, correlator: Correlator, incident_id: str, cut: _Cut,
                candidates: list[Incident], now: float) -> None:
        """Move the candidates' roots and members into the power incident (one update:
        a storm's thousands of sites cost one pass, not one per site)."""
        members = set(correlator.incidents[incident_id].members)
        for candidate in candidates:
            cut.roots.add(candidate.root)
            self.root_of[candidate.root] = incident_id
            correlator.release(candidate.root, now, incident_id)
            members |= candidate.members
            for element in candidate.members:
                for device in self._devices(element):
                    cut.devices.setdefault(device, self._site(element))
                    self.watched[device] = incident_id
        power = correlator.incidents[incident_id]
        self.topology.set_group(power.root, frozenset(cut.roots))
        correlator.incidents[incident_id] = replace(power, members=frozenset(members),
                                                    detail=self.detail(cut))
        correlator.touch(incident_id)

    def _forget(self, incident_id: str, keep_watch: bool = False) -> None:
        cut = self.cuts.pop(incident_id, None)
        if cut is None:
            return
        for root in cut.roots:
            self.root_of.pop(root, None)
        if not keep_watch:
            for device in cut.devices:
                if self.watched.get(device) == incident_id:
                    del self.watched[device]

    def evidence(self, incident_id: str) -> str | None:
        """An open power incident's evidence as JSON, to be saved with it (None when it is
        not open here)."""
        cut = self.cuts.get(incident_id)
        if cut is None:
            return None
        excluded = sorted(r for r in self.excluded if self._site(r) in cut.backhaul)
        return json.dumps({"power": cut.power, "backhaul": cut.backhaul,
                           "recovered": cut.recovered, "excluded": excluded},
                          ensure_ascii=False, sort_keys=True)

    def preload(self, saved: Mapping[str, str]) -> None:
        """The evidence saved with open power incidents, for :meth:`restore` (call first)."""
        self._saved = dict(saved)

    def restore(self, incident: Incident) -> set[str]:
        """Take an open power incident back after a restart, with the evidence saved for
        it; returns the elements it says are down (the grouped roots and what they took
        down)."""
        cut = self.cuts[incident.incident_id] = _Cut()
        self._restore_evidence(incident.incident_id, cut)
        for element in incident.members:
            if self.upstream(element) is not None:
                cut.roots.add(element)
                self.root_of[element] = incident.incident_id
            for device in self._devices(element):
                cut.devices.setdefault(device, self._site(element))
                self.watched[device] = incident.incident_id
        self.topology.set_group(incident.root, frozenset(cut.roots))
        return set(incident.members)

    def _restore_evidence(self, incident_id: str, cut: _Cut) -> None:
        saved = self._saved.pop(incident_id, None)
        if saved is None:
            return
        try:
            data = json.loads(saved)
            cut.power.update({str(k): str(v) for k, v in data["power"].items()})
            cut.backhaul.update({str(k): str(v) for k, v in data["backhaul"].items()})
            cut.recovered.update({str(k): float(v) for k, v in data["recovered"].items()})
            self.excluded.update(str(r) for r in data["excluded"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("power incident evidence unreadable, starting afresh",
                        extra={"incident": incident_id, "error": str(exc)})

    # -- evidence --------------------------------------------------------------------------

    def came_back(self, device: str, ts: float) -> None:
        """A watched device answers again (as of ``ts``, its own time)."""
        incident_id = self.watched.get(device)
        cut = self.cuts.get(incident_id) if incident_id is not None else None
        if cut is not None:
            cut.recovered.setdefault(device, ts)

    def telemetry(self, correlator: Correlator, attempt: Attempt) -> None:
        """An MQTT attempt timestamped inside the outage (store and forward): the device
        had power, so its site's cause is backhaul and it leaves the power incident."""
        found = self._cut_of(correlator, attempt.device)
        if found is None or attempt.source is not Source.MQTT or attempt.status is not _OK:
            return
        incident, cut = found
        site = cut.devices.get(attempt.device, "")
        recovered = cut.recovered.get(attempt.device)
        if (attempt.ts >= incident.started_at and (recovered is None or attempt.ts < recovered)
                and site not in cut.backhaul):
            cut.backhaul[site] = f"telemetry from {attempt.device} during the outage"
            cut.power.pop(site, None)
            self._release_site(correlator, cut, site)
            self._record(correlator, incident, cut)

    def restarted(self, correlator: Correlator, attempt: Attempt) -> None:
        """The collector says the device rebooted as it came back: it lost power."""
        found = self._cut_of(correlator, attempt.device)
        if found is None or attempt.device not in found[1].recovered:
            return
        incident, cut = found
        site = cut.devices.get(attempt.device, "")
        if site not in cut.power and site not in cut.backhaul:
            cut.power[site] = f"{attempt.device} restarted ({attempt.detail or 'uptime reset'})"
            self._record(correlator, incident, cut)

    def _cut_of(self, correlator: Correlator, device: str) -> tuple[Incident, _Cut] | None:
        incident_id = self.watched.get(device)
        if incident_id is None:
            return None
        cut = self.cuts.get(incident_id)
        incident = correlator.incidents.get(incident_id)
        return None if cut is None or incident is None else (incident, cut)

    def _record(self, correlator: Correlator, incident: Incident, cut: _Cut) -> None:
        correlator.incidents[incident.incident_id] = replace(incident, detail=self.detail(cut))
        correlator.touch(incident.incident_id)

    def _release_site(self, correlator: Correlator, cut: _Cut, site: str) -> None:
        """A powered site leaves the power incident (its own incident if still down)."""
        for root in list(cut.roots):
            if self._site(root) == site:
                self.excluded.add(root)
                correlator.mark_dirty()

    def detail(self, cut: _Cut) -> str:
        """The incident's evidence line (Thai and English are both in the message)."""
        parts = [f"power cut likely: {len(cut.roots)} sites dark under "
                 f"{len({self.upstream(r) for r in cut.roots})} routers that answer"]
        if cut.power:
            parts.append("power confirmed at " + ", ".join(
                f"{s} ({why})" for s, why in sorted(cut.power.items())))
        if cut.backhaul:
            parts.append("backhaul, not power, at " + ", ".join(
                f"{s} ({why})" for s, why in sorted(cut.backhaul.items())))
        return "; ".join(parts)

    # -- helpers ---------------------------------------------------------------------------

    def _devices(self, element: str) -> tuple[str, ...]:
        if element.startswith(DEVICE):
            return (element[len(DEVICE):],)
        return self.topology.devices_of(element) if element.startswith(SITE) else ()

    def _site(self, element: str) -> str:
        return self.topology.location(element).site_id
