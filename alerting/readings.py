"""Readings that become conditions: link state, utilisation, errors, quiet APs.

:class:`ReadingWatch` is fed the observations alerting subscribes to and returns
:class:`Condition` events; the metric and label names the collectors publish come from
the metric catalog (:mod:`pubnet.catalog`), so it imports nothing from the collectors.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerting.detect import (
    RateTracker,
    Sustained,
    Transition,
    opening_start,
)
from alerting.model import Kind, Severity, device_element, link_element
from inventory.model import Inventory, Role
from pubnet.catalog import (
    AP_CLIENTS,
    IF_OPER_UP,
    IF_RX_BYTES,
    IF_RX_ERRORS,
    IF_TX_BYTES,
    IF_TX_ERRORS,
    LABEL_IFNAME,
)
from pubnet.config import ThresholdSettings
from pubnet.model import Observation

SUBSCRIBED_METRICS = frozenset({
    IF_OPER_UP, IF_RX_BYTES, IF_TX_BYTES, IF_RX_ERRORS, IF_TX_ERRORS, AP_CLIENTS,
})
"""The readings alerting follows; device status arrives as attempt records, not series."""


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition raised (``DOWN``) or cleared (``UP``) on an element."""

    kind: Kind
    element: str
    transition: Transition
    ts: float
    severity: Severity = Severity.MINOR
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LinkEvent:
    link_id: str
    down: bool
    ts: float


def label(obs: Observation, name: str) -> str | None:
    for key, value in obs.labels:
        if key == name:
            return value
    return None


class ReadingWatch:
    """Per-reading trackers over the inventory's links and access points."""

    def __init__(self, inventory: Inventory, settings: ThresholdSettings) -> None:
        self.settings = settings
        self._device_ifs: dict[str, list[str]] = {}
        self._ends: dict[tuple[str, str], list[str]] = {}
        """(device, ifname) -> links watched through that interface."""
        self._capacity: dict[str, int] = {}
        self._link_a: dict[str, tuple[str, str]] = {}
        for link_id, link in inventory.links.items():
            for device, ifname in ((link.a_device, link.a_interface),
                                   (link.b_device, link.b_interface)):
                if device and ifname:
                    self._ends.setdefault((device, ifname), []).append(link_id)
                    self._device_ifs.setdefault(device, []).append(ifname)
            self._capacity[link_id] = link.capacity_bps
            self._link_a[link_id] = (link.a_device, link.a_interface)
        self._aps = {d.device_id for d in inventory.devices.values()
                     if d.role is Role.ACCESS_POINT}
        self._oper: dict[str, dict[tuple[str, str], bool]] = {}
        self._reporting: set[str] = set()
        """Devices whose link-end oper status is currently known."""
        self._link_down: set[str] = set()
        self._rates = RateTracker()
        self._util: dict[str, dict[str, float]] = {}
        self._errors: dict[str, dict[str, float]] = {}
        self._util_hold = Sustained(settings.utilisation_for)
        self._error_hold = Sustained(settings.errors_for)
        self._clients: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._quiet = Sustained(settings.quiet_after)

    def link_state(self, obs: Observation) -> list[LinkEvent]:
        """Interface oper status on a link end (polled or from a linkDown/linkUp trap)."""
        ifname = label(obs, LABEL_IFNAME)
        if ifname is None:
            return []
        links = self._ends.get((obs.device, ifname))
        if not links:
            return []
        up = obs.value >= 0.5
        self._reporting.add(obs.device)
        events = []
        for link_id in links:
            ends = self._oper.setdefault(link_id, {})
            ends[(obs.device, ifname)] = up
            down = not all(ends.values())
            if down and link_id not in self._link_down:
                self._link_down.add(link_id)
                events.append(LinkEvent(link_id, True, obs.ts))
            elif not down and link_id in self._link_down:
                self._link_down.discard(link_id)
                events.append(LinkEvent(link_id, False, obs.ts))
        return events

    def forget_device_links(self, device: str) -> None:
        """A device stopped answering: its interface readings say nothing any more."""
        if device not in self._reporting:
            return
        self._reporting.discard(device)
        for ifname in self._device_ifs.get(device, ()):
            for link_id in self._ends.get((device, ifname), ()):
                ends = self._oper.get(link_id)
                if ends is not None:
                    ends.pop((device, ifname), None)

    def observe(self, obs: Observation) -> list[Condition]:
        metric = obs.metric
        if metric == AP_CLIENTS:
            return self._ap_clients(obs)
        ifname = label(obs, LABEL_IFNAME)
        if ifname is None:
            return []
        links = self._ends.get((obs.device, ifname))
        if not links:
            return []
        out: list[Condition] = []
        rate = self._rates.rate((f"{obs.device}|{ifname}|{metric}", ""), obs.value, obs.ts)
        if rate is None:
            return out
        for link_id in links:
            if self._link_a.get(link_id) != (obs.device, ifname):
                continue
            if metric in (IF_RX_BYTES, IF_TX_BYTES):
                capacity = self._capacity.get(link_id, 0)
                if capacity <= 0:
                    continue
                per_dir = self._util.setdefault(link_id, {})
                per_dir[metric] = rate * 8.0 / capacity
                worst = max(per_dir.values())
                change = self._util_hold.update(
                    link_id, worst >= self.settings.utilisation, obs.ts)
                if change is not None:
                    out.append(Condition(Kind.LINK_UTILISATION, link_element(link_id), change,
                                         obs.ts, Severity.MINOR,
                                         f"utilisation {worst * 100:.0f}%"))
            elif metric in (IF_RX_ERRORS, IF_TX_ERRORS):
                per_dir = self._errors.setdefault(link_id, {})
                per_dir[metric] = rate
                total = sum(per_dir.values())
                change = self._error_hold.update(
                    link_id, total >= self.settings.errors_per_second, obs.ts)
                if change is not None:
                    out.append(Condition(Kind.INTERFACE_ERRORS, link_element(link_id), change,
                                         obs.ts, Severity.MINOR,
                                         f"{total:.1f} errors/s on {ifname}"))
        return out

    def _ap_clients(self, obs: Observation) -> list[Condition]:
        if obs.device not in self._aps:
            return []
        radios = self._clients.setdefault(obs.device, {})
        radios[obs.labels] = obs.value
        total = sum(radios.values())
        opened = opening_start(obs.ts, self.settings.opening_hours)
        holds = total <= 0 and opened is not None
        change = self._quiet.update(obs.device, holds, obs.ts)
        if change is None:
            return []
        hours = self.settings.quiet_after / 3600.0
        return [Condition(Kind.QUIET_ACCESS_POINT, device_element(obs.device), change, obs.ts,
                          Severity.WARNING, f"0 clients for {hours:g} h in opening hours")]
