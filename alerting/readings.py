"""Readings that become conditions: link state, utilisation, errors, quiet APs.

Links are judged as everywhere else in pubnet (:mod:`pubnet.derive`): by their a-side
interface, utilisation as that interface's byte rate over the link's capacity.

:class:`ReadingWatch` is fed the observations alerting subscribes to and returns
:class:`Condition` events; the metric and label names the collectors publish come from
the metric catalog (:mod:`pubnet.catalog`), so it imports nothing from the collectors.
"""

from __future__ import annotations

from collections.abc import Callable
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
from pubnet.derive import Derivation, Health, derivation_for, link_health, utilisation
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


_RECEIVE = frozenset({IF_RX_BYTES, IF_RX_ERRORS})
_NO_READINGS: tuple[float | None, float | None] = (None, None)


class _BothDirections:
    """One reading of each link in both directions (rx and tx), combined into one value that
    raises ``kind`` on the link once it has stayed at or above ``threshold`` for a while."""

    def __init__(self, kind: Kind, combine: Callable[[list[float]], float], threshold: float,
                 hold_for: float, detail: Callable[[float, str], str]) -> None:
        self.kind = kind
        self._combine = combine
        self._threshold = threshold
        self._hold = Sustained(hold_for)
        self._detail = detail
        self._values: dict[str, tuple[float | None, float | None]] = {}
        """link id -> its latest (receive, transmit) reading, None until one came: a pair
        rather than a dict per link (~70 instead of ~200 bytes, 40,000 links at 20,000
        devices, for each of the two trackers)."""

    def update(self, link_id: str, metric: str, value: float, ts: float,
               ifname: str) -> Condition | None:
        rx, tx = self._values.get(link_id, _NO_READINGS)
        if metric in _RECEIVE:
            rx = value
        else:
            tx = value
        self._values[link_id] = (rx, tx)
        combined = self._combine([v for v in (rx, tx) if v is not None])
        change = self._hold.update(link_id, combined >= self._threshold, ts)
        if change is None:
            return None
        return Condition(self.kind, link_element(link_id), change, ts, Severity.MINOR,
                         self._detail(combined, ifname))


_NOT_WATCHED: tuple[tuple[str, str], list[str]] = (("", ""), [])


def label(obs: Observation, name: str) -> str | None:
    for key, value in obs.labels:
        if key == name:
            return value
    return None


class ReadingWatch:
    """Per-reading trackers over the inventory's links and access points."""

    def __init__(self, inventory: Inventory, settings: ThresholdSettings,
                 derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared with the other
        components (built here when not given)."""
        self.settings = settings
        self.derivation = derivation = derivation_for(inventory, derivation)
        self._watched: dict[tuple[str, str], tuple[tuple[str, str], list[str]]] = {}
        """(a-side device, a_interface) -> that key itself (the one copy, which rate keys
        reuse instead of a string per reading) and the links judged by that interface
        (pubnet.derive)."""
        for link_id in derivation.link_ids:
            side = derivation.link_side(link_id)
            self._watched.setdefault(side, (side, []))[1].append(link_id)
        self._capacity = {link_id: link.capacity_bps
                          for link_id, link in inventory.links.items()}
        self._aps = {d.device_id for d in inventory.devices.values()
                     if d.role is Role.ACCESS_POINT}
        self._link_down: set[str] = set()
        self._rates = RateTracker()
        self._util = _BothDirections(
            Kind.LINK_UTILISATION, max, settings.utilisation, settings.utilisation_for,
            lambda worst, _ifname: f"utilisation {worst * 100:.0f}%")
        self._errors = _BothDirections(
            Kind.INTERFACE_ERRORS, sum, settings.errors_per_second, settings.errors_for,
            lambda total, ifname: f"{total:.1f} errors/s on {ifname}")
        self._clients: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._quiet = Sustained(settings.quiet_after)

    def _links_of(self, obs: Observation) -> tuple[tuple[str, str], list[str]]:
        """(device, interface) that ``obs`` reads, as the inventory spells it, and the links
        judged by it (none for others)."""
        ifname = label(obs, LABEL_IFNAME)
        if ifname is None:
            return _NOT_WATCHED
        return self._watched.get((obs.device, ifname), _NOT_WATCHED)

    def link_state(self, obs: Observation) -> list[LinkEvent]:
        """A reading of a link's a-side interface (polled, or a linkDown/linkUp trap) judged
        by :func:`pubnet.derive.link_health`. The reading comes from a device that answers
        (alerting stops at a device it has confirmed down: that device is the root cause),
        so only the interface decides."""
        _side, links = self._links_of(obs)
        if not links:
            return []
        down = link_health(Health.UP, obs.value) is Health.DOWN
        events = []
        for link_id in links:
            if down and link_id not in self._link_down:
                self._link_down.add(link_id)
                events.append(LinkEvent(link_id, True, obs.ts))
            elif not down and link_id in self._link_down:
                self._link_down.discard(link_id)
                events.append(LinkEvent(link_id, False, obs.ts))
        return events

    def observe(self, obs: Observation) -> list[Condition]:
        metric = obs.metric
        if metric == AP_CLIENTS:
            return self._ap_clients(obs)
        side, links = self._links_of(obs)
        if not links:
            return []
        ifname = side[1]
        out: list[Condition] = []
        rate = self._rates.rate((side, metric), obs.value, obs.ts)
        if rate is None:
            return out
        for link_id in links:
            condition = None
            if metric in (IF_RX_BYTES, IF_TX_BYTES):
                ratio = utilisation(rate, self._capacity.get(link_id, 0))
                if ratio is not None:
                    condition = self._util.update(link_id, metric, ratio, obs.ts, ifname)
            elif metric in (IF_RX_ERRORS, IF_TX_ERRORS):
                condition = self._errors.update(link_id, metric, rate, obs.ts, ifname)
            if condition is not None:
                out.append(condition)
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
