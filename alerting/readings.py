"""Readings that become conditions: link state, utilisation, errors, quiet APs.

Links are judged as everywhere else in pubnet (:mod:`pubnet.derive`): by their a-side
interface, utilisation as that interface's byte rate over the link's capacity.

:class:`ReadingWatch` is fed the observations alerting subscribes to and returns
:class:`Condition` events; the metric and label names the collectors publish come from
the metric catalog (:mod:`pubnet.catalog`), so it imports nothing from the collectors.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from alerting.detect import (
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
from pubnet.derive import (
    Derivation,
    Health,
    counter_rate,
    derivation_for,
    link_health,
    utilisation,
)
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


# What alerting keeps per watched interface (a link's a-side, pubnet.derive) is, for each
# of its four counters, the last value, its time and the latest rate: twelve doubles in one
# array for all interfaces (about 100 bytes per interface, against ~1 kB when every counter
# had its own key and record: 20,000 interfaces at 20,000 devices). NaN means "none yet":
# counters are finite (the collectors make them from integers).
_COUNTER_SLOT = {IF_RX_BYTES: 0, IF_TX_BYTES: 3, IF_RX_ERRORS: 6, IF_TX_ERRORS: 9}
_PER_SIDE = 12
_RATE = 2
"""Where a counter's latest rate is, from its slot (value, time, rate)."""
_ERRORS_FROM = _COUNTER_SLOT[IF_RX_ERRORS]
"""Slots from here on are error counters; before, byte counters."""
_RX_BYTES_RATE, _TX_BYTES_RATE, _RX_ERRORS_RATE, _TX_ERRORS_RATE = (
    _COUNTER_SLOT[metric] + _RATE for metric in (IF_RX_BYTES, IF_TX_BYTES, IF_RX_ERRORS,
                                                 IF_TX_ERRORS))
_OPER = -1
_SLOT = {IF_OPER_UP: _OPER, **_COUNTER_SLOT}
"""Interface metrics by what they are to a watched interface: its status, or a counter's
place among its twelve doubles."""
_NONE = float("nan")


class _BothDirections:
    """A value per link combined from both directions' readings (receive and transmit) that
    raises ``kind`` on the link once it has stayed at or above ``threshold`` for a while."""

    def __init__(self, kind: Kind, threshold: float, hold_for: float,
                 detail: Callable[[float, str], str]) -> None:
        self.kind = kind
        self.threshold = threshold
        self._hold = Sustained(hold_for)
        self.holding = self._hold.holding
        """Links at or above the threshold now: only these can change below it."""
        self._detail = detail

    def update(self, link_id: str, combined: float, ts: float, ifname: str) -> (
        Condition | None
    ):
        change = self._hold.update(link_id, combined >= self.threshold, ts)
        if change is None:
            return None
        return Condition(self.kind, link_element(link_id), change, ts, Severity.MINOR,
                         self._detail(combined, ifname))


class ReadingSink(Protocol):
    """Where :meth:`ReadingWatch.feed` sends what it finds, in the order it finds it."""

    def link_changed(self, event: LinkEvent) -> None: ...

    def condition(self, condition: Condition) -> None: ...

    def other(self, obs: Observation) -> None:
        """A reading that is no interface's or access point's (a shard's liveness)."""


class _Collect:
    """A sink that keeps what it is sent (the one-reading methods)."""

    def __init__(self) -> None:
        self.events: list[LinkEvent] = []
        self.conditions: list[Condition] = []

    def link_changed(self, event: LinkEvent) -> None:
        self.events.append(event)

    def condition(self, condition: Condition) -> None:
        self.conditions.append(condition)

    def other(self, obs: Observation) -> None:
        return None


class ReadingWatch:
    """Per-reading trackers over the inventory's links and access points."""

    def __init__(self, inventory: Inventory, settings: ThresholdSettings,
                 derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared with the other
        components (built here when not given)."""
        self.settings = settings
        self.derivation = derivation = derivation_for(inventory, derivation)
        self._devices = inventory.devices
        self._links = inventory.links
        by_side: dict[tuple[str, str], list[str]] = {}
        for link_id in derivation.link_ids:
            by_side.setdefault(derivation.link_side(link_id), []).append(link_id)
        self._watched: dict[str, dict[str, int]] = {}
        """a-side device -> interface name -> the interface's number (:attr:`_judges`,
        :attr:`_counters`): one lookup by device sorts out the many readings of devices
        that judge no link."""
        self._judges: list[str | tuple[str, ...]] = []
        """Interface number -> the link it judges (:mod:`pubnet.derive`), or the links
        when several share it: one string, the inventory's own, for nearly all."""
        for (device, ifname), links in by_side.items():
            self._watched.setdefault(device, {})[ifname] = len(self._judges)
            self._judges.append(links[0] if len(links) == 1 else tuple(links))
        self._counters = array("d", [_NONE]) * (len(self._judges) * _PER_SIDE)
        """Interface number * 12 + counter slot (:data:`_COUNTER_SLOT`) -> the counter's
        last value, then its time, then its latest rate."""
        self._link_down: set[str] = set()
        self._util = _BothDirections(
            Kind.LINK_UTILISATION, settings.utilisation, settings.utilisation_for,
            lambda worst, _ifname: f"utilisation {worst * 100:.0f}%")
        self._errors = _BothDirections(
            Kind.INTERFACE_ERRORS, settings.errors_per_second, settings.errors_for,
            lambda total, ifname: f"{total:.1f} errors/s on {ifname}")
        self._clients: dict[str, list[object]] = {}
        """Access point -> its radios' latest client counts, flat: labels, count, labels,
        count... (a list of four instead of a dict per access point)."""
        self._quiet = Sustained(settings.quiet_after)

    def feed(self, observations: Iterable[Observation], sink: ReadingSink) -> None:
        """Readings in order: link status changes, raised and cleared conditions, and the
        readings this does not follow (:meth:`ReadingSink.other`) go to ``sink`` as found.

        The hot path of alerting (every poll's readings): a reading of a device that judges
        no link costs one dictionary lookup."""
        watched = self._watched
        slots = _SLOT
        device = sides = None  # a batch is mostly one device's: look it up once
        for obs in observations:
            slot = slots.get(obs.metric)
            if slot is None:
                if obs.metric == AP_CLIENTS:
                    condition = self._ap_clients(obs)
                    if condition is not None:
                        sink.condition(condition)
                else:
                    sink.other(obs)
                continue
            if obs.device is not device:
                device = obs.device
                sides = watched.get(device)
            if sides is None:
                continue
            for key, ifname in obs.labels:
                if key == LABEL_IFNAME:
                    side = sides.get(ifname)
                    break
            else:
                continue
            if side is None:
                continue
            judged = self._judges[side]
            links = (judged,) if isinstance(judged, str) else judged
            if slot == _OPER:
                self._link_state(links, obs, sink)
            else:
                self._counter(side * _PER_SIDE, slot, links, ifname, obs, sink)

    def _link_state(self, links: tuple[str, ...], obs: Observation, sink: ReadingSink) -> (
        None
    ):
        """A reading of a link's a-side interface (polled, or a linkDown/linkUp trap) judged
        by :func:`pubnet.derive.link_health`. The reading comes from a device that answers
        (alerting stops at a device it has confirmed down: that device is the root cause),
        so only the interface decides."""
        down = link_health(Health.UP, obs.value) is Health.DOWN
        link_down = self._link_down
        for link_id in links:
            if down and link_id not in link_down:
                link_down.add(link_id)
                sink.link_changed(LinkEvent(link_id, True, obs.ts))
            elif not down and link_id in link_down:
                link_down.discard(link_id)
                sink.link_changed(LinkEvent(link_id, False, obs.ts))

    def _counter(self, base: int, slot: int, links: tuple[str, ...], ifname: str,
                 obs: Observation, sink: ReadingSink) -> None:
        """A counter reading: its rate since the last one (:func:`pubnet.derive.counter_rate`)
        becomes the counter's latest, and the links' utilisation or error rate (both
        directions) is judged again."""
        counters = self._counters
        at = base + slot
        last, last_ts = counters[at], counters[at + 1]
        value, ts = obs.value, obs.ts
        counters[at] = value
        counters[at + 1] = ts
        if last != last:  # NaN: the first reading
            return
        rate = counter_rate(last, last_ts, value, ts)
        if rate is None:
            return
        counters[at + _RATE] = rate
        if slot < _ERRORS_FROM:
            # Utilisation: the worse direction (the larger rate has the larger share).
            rx, tx = counters[base + _RX_BYTES_RATE], counters[base + _TX_BYTES_RATE]
            worst = tx if rx != rx else rx if tx != tx or not tx > rx else tx
            util = self._util
            for link_id in links:
                ratio = utilisation(worst, self._links[link_id].capacity_bps)
                if ratio is None or (ratio < util.threshold and link_id not in util.holding):
                    continue
                condition = util.update(link_id, ratio, ts, ifname)
                if condition is not None:
                    sink.condition(condition)
        else:
            # Errors: both directions together.
            rx, tx = counters[base + _RX_ERRORS_RATE], counters[base + _TX_ERRORS_RATE]
            total = tx if rx != rx else rx if tx != tx else rx + tx
            errors = self._errors
            for link_id in links:
                if total < errors.threshold and link_id not in errors.holding:
                    continue
                condition = errors.update(link_id, total, ts, ifname)
                if condition is not None:
                    sink.condition(condition)

    def link_state(self, obs: Observation) -> list[LinkEvent]:
        """The link status changes one ``pubnet_interface_oper_up`` reading causes."""
        if obs.metric != IF_OPER_UP:
            obs = obs._replace(metric=IF_OPER_UP)
        found = _Collect()
        self.feed((obs,), found)
        return found.events

    def observe(self, obs: Observation) -> list[Condition]:
        """The conditions one counter or client reading raises or clears."""
        if obs.metric == IF_OPER_UP:
            return []
        found = _Collect()
        self.feed((obs,), found)
        return found.conditions

    def _ap_clients(self, obs: Observation) -> Condition | None:
        device = obs.device
        radios = self._clients.get(device)
        labels, value, ts = obs.labels, obs.value, obs.ts
        if radios is None:
            record = self._devices.get(device)
            if record is None or record.role is not Role.ACCESS_POINT:
                return None
            radios = self._clients[device] = [labels, value]
        else:
            for index in range(0, len(radios), 2):
                known = radios[index]
                if known is labels or known == labels:
                    radios[index + 1] = value
                    break
            else:  # a radio not seen before (a list just as long: no spare room)
                radios = self._clients[device] = [*radios, labels, value]
        total = sum(radios[1::2])  # type: ignore[arg-type]
        holds = total <= 0 and opening_start(ts, self.settings.opening_hours) is not None
        quiet = self._quiet
        if not holds and device not in quiet.holding:
            return None  # nothing to clear: the common case, without a call
        change = quiet.update(device, holds, ts)
        if change is None:
            return None
        hours = self.settings.quiet_after / 3600.0
        return Condition(Kind.QUIET_ACCESS_POINT, device_element(device), change, ts,
                         Severity.WARNING, f"0 clients for {hours:g} h in opening hours")
