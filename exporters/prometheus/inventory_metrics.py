"""Families derived from the inventory plus live state: sites and backbone links.

``pubnet_site_info`` never changes while pubnet runs and is rendered once. ``pubnet_site_up``,
``pubnet_link_up`` and ``pubnet_link_utilization_ratio`` follow the one rule of
:mod:`pubnet.derive` (the same the reports and alerting use): a site is 1 while it is *up* by
that rule and 0 otherwise (down, or not heard from yet); a link has a sample only once its
a-side interface has been read; utilisation is the a-side byte counters' rate over capacity.
They are recomputed only for the sites and links whose devices changed since the last scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from exporters.prometheus.render import escape_label_value, format_value
from inventory.model import Inventory
from pubnet.catalog import (
    IF_OPER_UP,
    IF_RX_BYTES,
    IF_TX_BYTES,
    LABEL_IFNAME,
    LINK_UP,
    LINK_UTILIZATION,
    SITE_INFO,
    SITE_UP,
)
from pubnet.derive import (
    Derivation,
    Health,
    SiteMembers,
    counter_rate,
    derivation_for,
    device_health,
    link_health,
    site_health,
    utilisation,
)
from pubnet.model import Observation
from pubnet.state import StateStore

_LINK_METRICS = frozenset({IF_OPER_UP, IF_RX_BYTES, IF_TX_BYTES})


SLICE = 512
"""Sites or links per slice of an inventory family: each slice is a fragment of its own in
the exposition, so that the utilisation of the links whose devices were polled in the last
two seconds recompresses their chunk, not the whole family (~13 MB of text at 100,000
links, every background pass)."""


def _slices(count: int) -> int:
    return -(-count // SLICE)


def _join_slices(lines: list[str], dirty: Iterable[int], slices: list[bytes]) -> None:
    """Join again the slices of ``lines`` that hold a ``dirty`` index."""
    for n in {index // SLICE for index in dirty}:
        slices[n] = "".join(lines[n * SLICE:(n + 1) * SLICE]).encode()


def _labels(pairs: Mapping[str, str]) -> str:
    return ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs.items())


@dataclass(slots=True)
class _CounterSample:
    value: float
    ts: float


@dataclass(slots=True)
class _LinkRate:
    """The last two counter readings of one direction and the rate between them."""

    last: _CounterSample | None = None
    ratio: float | None = None


class InventoryMetrics:
    """Renders the site and link families from the inventory and the store."""

    def __init__(self, inventory: Inventory, store: StateStore,
                 derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared (one is built here
        when not given)."""
        self._store = store
        self.derivation = derivation = derivation_for(inventory, derivation)
        self._sites: list[tuple[str, SiteMembers]] = []
        info: list[str] = []
        for site in inventory.sites.values():
            labels = _labels(
                {
                    "site": site.site_id,
                    "province": site.province_code,
                    "district": site.district_code,
                    "kind": site.kind.value,
                }
            )
            self._sites.append((labels, derivation.sites[site.site_id]))
            info_labels = _labels(
                {
                    "site": site.site_id,
                    "name": site.name,
                    "village": site.village,
                    "subdistrict": site.subdistrict_code,
                    "district": site.district_code,
                    "province": site.province_code,
                    "province_name_en": site.province_name_en,
                    "province_name_th": site.province_name_th,
                    "district_name_en": site.district_name_en,
                    "district_name_th": site.district_name_th,
                    "subdistrict_name_en": site.subdistrict_name_en,
                    "subdistrict_name_th": site.subdistrict_name_th,
                    "lat": format_value(site.lat),
                    "lon": format_value(site.lon),
                    "kind": site.kind.value,
                }
            )
            info.append(f"{SITE_INFO}{{{info_labels}}} 1\n")
        self.site_info = "".join(info).encode()
        self._links = [
            (
                link,
                _labels({"link": link.link_id, "medium": link.medium.value, "owner": link.owner}),
                escape_label_value(link.link_id),
            )
            for link in inventory.links.values()
        ]
        self._rates: dict[tuple[str, str], _LinkRate] = {}
        self._interfaces: dict[str, tuple[int, dict[tuple[str, str], Observation]]] = {}
        self._link_ends = derivation.watched_interfaces()
        """Device -> the interfaces links are observed through: the only ones indexed."""
        # incremental state: lines per site and link, recomputed when their devices change
        self._sites_of_device: dict[str, int] = {}
        for index, (_labels_text, members) in enumerate(self._sites):
            for member in members.devices:
                self._sites_of_device[member] = index
        self._links_of_device: dict[str, list[int]] = {}
        for index, (link, _labels_text, _link_id) in enumerate(self._links):
            self._links_of_device.setdefault(link.a_device, []).append(index)
        self._site_lines = [""] * len(self._sites)
        self._dirty_sites: set[int] = set(range(len(self._sites)))
        self._site_slices = [b""] * _slices(len(self._sites))
        self._link_up_lines = [""] * len(self._links)
        self._link_util_lines = [""] * len(self._links)
        self._dirty_links: set[int] = set(range(len(self._links)))
        self._link_up_slices = [b""] * _slices(len(self._links))
        self._link_util_slices = [b""] * _slices(len(self._links))

    def _health(self, device: str) -> Health:
        state = self._store.status(device)
        return device_health(state.status if state is not None else None)

    def changed(self, devices: Iterable[str]) -> None:
        """Devices whose series or status changed: their sites and links are recomputed."""
        sites_of, links_of = self._sites_of_device, self._links_of_device
        for device in devices:
            site_index = sites_of.get(device)
            if site_index is not None:
                self._dirty_sites.add(site_index)
            links = links_of.get(device)
            if links is not None:
                self._dirty_links.update(links)

    def site_up(self) -> list[bytes]:
        """``pubnet_site_up`` in slices of :data:`SLICE` sites, in inventory order; a slice
        is joined again only when one of its sites was recomputed."""
        if self._dirty_sites:
            health = self._health
            lines = self._site_lines
            for index in self._dirty_sites:
                labels, members = self._sites[index]
                up = site_health(members, health) is Health.UP
                lines[index] = f"{SITE_UP}{{{labels}}} {1 if up else 0}\n"
            _join_slices(lines, self._dirty_sites, self._site_slices)
            self._dirty_sites.clear()
        return self._site_slices

    def _interface(self, device: str, metric: str, ifname: str) -> Observation | None:
        """The device's latest ``metric`` for ``ifname``; one scan per device version."""
        version = self._store.device_version(device)
        cached = self._interfaces.get(device)
        if cached is None or cached[0] != version:
            index: dict[tuple[str, str], Observation] = {}
            ends = self._link_ends.get(device, ())
            series = self._store.device_series(device)
            for series_key in series:  # observations built for the links' interfaces only
                name, labels = series_key
                if name in _LINK_METRICS:
                    for key, value in labels:
                        if key == LABEL_IFNAME:
                            if value in ends:
                                index[(name, value)] = series[series_key]
                            break
            cached = self._interfaces[device] = (version, index)
        return cached[1].get((metric, ifname))

    def links(self) -> tuple[list[bytes], list[bytes]]:
        """(``pubnet_link_up`` slices, ``pubnet_link_utilization_ratio`` slices), of
        :data:`SLICE` links each in inventory order (a slice may be empty).

        A link pubnet cannot observe (:func:`pubnet.derive.link_health` says unknown: an
        ICMP- or MQTT-watched a-side device has no interfaces; an interface name the device
        does not have; a device never heard from) has no ``pubnet_link_up`` sample rather
        than a false 0: unknown is not down, and the device's own ``pubnet_device_up`` tells
        its state.
        """
        if self._dirty_links:
            for index in self._dirty_links:
                self._link_up_lines[index], self._link_util_lines[index] = self._link(index)
            _join_slices(self._link_up_lines, self._dirty_links, self._link_up_slices)
            _join_slices(self._link_util_lines, self._dirty_links, self._link_util_slices)
            self._dirty_links.clear()
        return self._link_up_slices, self._link_util_slices

    def _link(self, index: int) -> tuple[str, str]:
        link, labels, link_id = self._links[index]
        up_line = ""
        oper = self._interface(link.a_device, IF_OPER_UP, link.a_interface)
        health = link_health(self._health(link.a_device), oper.value if oper else None)
        if health is not Health.UNKNOWN:
            up_line = f"{LINK_UP}{{{labels}}} {1 if health is Health.UP else 0}\n"
        util = []
        if link.capacity_bps > 0:
            for direction, metric in (("in", IF_RX_BYTES), ("out", IF_TX_BYTES)):
                ratio = self._rate(link.link_id, direction, link.a_device, metric,
                                   link.a_interface, link.capacity_bps)
                if ratio is not None:
                    util.append(
                        f'{LINK_UTILIZATION}{{link="{link_id}",'
                        f'direction="{direction}"}} {format_value(ratio)}\n'
                    )
        return up_line, "".join(util)

    def _rate(self, link_id: str, direction: str, device: str, metric: str, ifname: str,
              capacity_bps: int) -> float | None:
        """Bits per second over capacity between the last two counter readings."""
        obs = self._interface(device, metric, ifname)
        key = (link_id, direction)
        rate = self._rates.get(key)
        if rate is None:
            rate = self._rates[key] = _LinkRate()
        if obs is None:
            return rate.ratio
        last = rate.last
        if last is not None and obs.ts == last.ts:
            return rate.ratio  # nothing newer since the last scrape
        per_second = (None if last is None
                      else counter_rate(last.value, last.ts, obs.value, obs.ts))
        if per_second is not None:
            rate.ratio = utilisation(per_second, capacity_bps)
        # a first reading, or the collector started over: no rate until the next one
        rate.last = _CounterSample(obs.value, obs.ts)
        return rate.ratio
