"""Families derived from the inventory plus live state: sites and backbone links.

``pubnet_site_info`` never changes while pubnet runs and is rendered once. ``pubnet_site_up``,
``pubnet_link_up`` and ``pubnet_link_utilization_ratio`` follow the one rule of
:mod:`pubnet.derive` (the same the reports and alerting use): a site is 1 while it is *up* by
that rule and 0 otherwise (down, or not heard from yet); a link has a sample only once its
a-side interface has been read; utilisation is the a-side byte counters' rate over capacity.
They are recomputed only for the sites and links whose devices changed since the last scrape.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping

from exporters.prometheus.render import escape_label_value, format_value
from inventory.model import Inventory, Link
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
from pubnet.model import SeriesKey
from pubnet.state import SeriesView, StateStore

_LINK_METRICS = (IF_OPER_UP, IF_RX_BYTES, IF_TX_BYTES)
"""What a link reads from its a-side interface, in the order of its cached keys."""

_KeysFound = tuple[int, SeriesKey | None, SeriesKey | None, SeriesKey | None]
"""A link's a-side series keys: (the device's series count when they were looked for,
``pubnet_interface_oper_up``, receive bytes, transmit bytes; None: the device has none)."""

_Reading = tuple[float, float]
"""A series' latest (value, time)."""

_LAST, _RATIO = 1, 2
"""Flags of a link direction's rate: a last counter reading is kept, a ratio is known."""


SLICE = 512
"""Sites or links per slice of an inventory family: each slice is a fragment of its own in
the exposition, so that the utilisation of the links whose devices were polled in the last
two seconds recompresses their chunk, not the whole family (~13 MB of text at 100,000
links, every background pass)."""


def _slices(count: int) -> int:
    return -(-count // SLICE)


def _join_slices(lines: list[str], stale: set[int], slices: list[bytes]) -> None:
    """Join again the ``stale`` slices of ``lines``."""
    for n in stale:
        slices[n] = "".join(lines[n * SLICE:(n + 1) * SLICE]).encode()


def _labels(pairs: Mapping[str, str]) -> str:
    return ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs.items())


def _link_labels(link: Link) -> dict[str, str]:
    return {"link": link.link_id, "medium": link.medium.value, "owner": link.owner}


class InventoryMetrics:
    """Renders the site and link families from the inventory and the store."""

    def __init__(self, inventory: Inventory, store: StateStore,
                 derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared (one is built here
        when not given)."""
        self._store = store
        self.derivation = derivation = derivation_for(inventory, derivation)
        self._sites: list[SiteMembers] = []
        self._site_lines: list[str] = []
        """Each site's ``pubnet_site_up`` line, initially 0: a change rewrites its last
        digit (the line is the only copy of the site's labels)."""
        self._site_index: dict[str, int] = {}
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
            self._site_index[site.site_id] = len(self._sites)
            self._sites.append(derivation.sites[site.site_id])
            self._site_lines.append(f"{SITE_UP}{{{labels}}} 0\n")
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
        self._links = list(inventory.links.values())
        self._link_up_text = [
            f"{LINK_UP}{{{_labels(_link_labels(link))}}} 1\n" for link in self._links]
        """Each link's ``pubnet_link_up`` line when up; an up link's current line is this
        same string, a down one's is it with 0, an unknown one's empty."""
        count = len(self._links)
        self._rates = array("d", bytes(8 * 6 * count))
        """Per link and direction (in, then out): the last counter reading's value and
        time, and the utilisation ratio between the last two (valid per :attr:`_rated`):
        48 bytes a link, where objects per reading cost ~390."""
        self._rated = bytearray(2 * count)
        """Per link and direction: :data:`_LAST` | :data:`_RATIO` when set."""
        self._keys: list[_KeysFound | None] = [None] * count
        """Per link: the store's keys of its a-side interface's series, read at their
        slots (:attr:`_slots`) at each change instead of a scan of the device's ~50
        series (see :meth:`_read`)."""
        self._slots = array("i", bytes(4 * 3 * count))
        """Per link: the slot of each of :attr:`_keys` in its device's series."""
        # incremental state: lines per site and link, recomputed when their devices change
        links_of: dict[str, list[int]] = {}
        for index, link in enumerate(self._links):
            links_of.setdefault(link.a_device, []).append(index)
        self._links_of_device = {device: tuple(ids) for device, ids in links_of.items()}
        self._dirty_sites: set[int] = set(range(len(self._sites)))
        self._site_slices = [b""] * _slices(len(self._sites))
        self._stale_site_slices: set[int] = set(range(len(self._site_slices)))
        """Slices holding a site whose line changed since they were last joined."""
        self._link_up_lines = [""] * len(self._links)
        self._link_util_lines = [""] * len(self._links)
        self._dirty_links: set[int] = set(range(len(self._links)))
        self._link_up_slices = [b""] * _slices(len(self._links))
        self._link_util_slices = [b""] * _slices(len(self._links))
        self._stale_link_slices: set[int] = set(range(len(self._link_up_slices)))

    def _health(self, device: str) -> Health:
        state = self._store.status(device)
        return device_health(state.status if state is not None else None)

    def changed(self, devices: Iterable[str]) -> None:
        """Devices whose series or status changed: their sites and links are recomputed."""
        site_of, site_index, links_of = (self.derivation.site_of, self._site_index,
                                         self._links_of_device)
        for device in devices:
            site_id = site_of(device)
            if site_id is not None:
                self._dirty_sites.add(site_index[site_id])
            links = links_of.get(device)
            if links is not None:
                self._dirty_links.update(links)

    def pending(self) -> int:
        """How many sites and links wait to be recomputed."""
        return len(self._dirty_sites) + len(self._dirty_links)

    def recompute(self, limit: int | None = None) -> int:
        """Recompute up to ``limit`` (None: all) of the sites and links whose devices
        changed; returns how many. A national inventory's ~140,000 take ~0.6 s when every
        device changed: the exposition recomputes them a batch between two yields to the
        loop, and a batch left undone waits, marked, for the next call. The slices they
        are in are joined again by :meth:`site_up` and :meth:`links`."""
        done = 0
        sites, links = self._dirty_sites, self._dirty_links
        if sites:
            health, lines, members = self._health, self._site_lines, self._sites
            stale = self._stale_site_slices
            while sites and (limit is None or done < limit):
                index = sites.pop()
                digit = "1" if site_health(members[index], health) is Health.UP else "0"
                line = lines[index]
                if line[-2] != digit:
                    lines[index] = f"{line[:-2]}{digit}\n"
                    stale.add(index // SLICE)
                done += 1
        if links:
            up_lines, util_lines = self._link_up_lines, self._link_util_lines
            stale = self._stale_link_slices
            while links and (limit is None or done < limit):
                index = links.pop()
                up, util = self._link(index)
                if up != up_lines[index] or util != util_lines[index]:
                    up_lines[index], util_lines[index] = up, util
                    stale.add(index // SLICE)
                done += 1
        return done

    def site_up(self) -> list[bytes]:
        """``pubnet_site_up`` in slices of :data:`SLICE` sites, in inventory order, as
        recomputed so far (see :meth:`recompute`); a slice is joined again only when one
        of its sites changed."""
        if self._stale_site_slices:
            _join_slices(self._site_lines, self._stale_site_slices, self._site_slices)
            self._stale_site_slices.clear()
        return self._site_slices

    def _find(self, index: int, view: SeriesView, ifname: str) -> _KeysFound:
        """Scan a device's series keys for one interface's link metrics; keep their keys
        and slots for link ``index``."""
        found: list[SeriesKey | None] = [None, None, None]
        slots = self._slots
        for slot, series_key in enumerate(view):
            name, labels = series_key
            if name in _LINK_METRICS:
                for key, value in labels:
                    if key == LABEL_IFNAME:
                        if value == ifname:
                            which = _LINK_METRICS.index(name)
                            found[which] = series_key
                            slots[3 * index + which] = slot
                        break
        keys = self._keys[index] = (len(view), found[0], found[1], found[2])
        return keys

    def _read(self, index: int, device: str, ifname: str) -> (
        tuple[_Reading | None, _Reading | None, _Reading | None]
    ):
        """(value, time) of the latest oper status, receive and transmit bytes of link
        ``index``'s a-side interface (None: the device has no such series).

        Read at the slots the last scan found (three checks instead of a scan of the
        device's ~50 series); the device's keys are scanned again when its series count
        changed (a series added: the interface may have appeared) or a key left its slot
        (series are removed only per metric or device)."""
        view = self._store.device_series(device)
        cached = self._keys[index]
        if cached is None or cached[0] != len(view):
            cached = self._find(index, view, ifname)
        slots, at = self._slots, 3 * index
        for _attempt in range(2):
            readings: list[_Reading | None] = []
            keys = cached[1:]
            for which in range(3):
                key = keys[which]
                reading = None if key is None else view.reading_at(slots[at + which], key)
                if reading is None and key is not None:
                    break  # the key moved or left: scan again
                readings.append(reading)
            else:
                return readings[0], readings[1], readings[2]
            cached = self._find(index, view, ifname)
        raise AssertionError("a fresh scan's slots hold their keys")

    def links(self) -> tuple[list[bytes], list[bytes]]:
        """(``pubnet_link_up`` slices, ``pubnet_link_utilization_ratio`` slices), of
        :data:`SLICE` links each in inventory order (a slice may be empty), as recomputed
        so far (see :meth:`recompute`).

        A link pubnet cannot observe (:func:`pubnet.derive.link_health` says unknown: an
        ICMP- or MQTT-watched a-side device has no interfaces; an interface name the device
        does not have; a device never heard from) has no ``pubnet_link_up`` sample rather
        than a false 0: unknown is not down, and the device's own ``pubnet_device_up`` tells
        its state.
        """
        if self._stale_link_slices:
            stale = self._stale_link_slices
            _join_slices(self._link_up_lines, stale, self._link_up_slices)
            _join_slices(self._link_util_lines, stale, self._link_util_slices)
            stale.clear()
        return self._link_up_slices, self._link_util_slices

    def _link(self, index: int) -> tuple[str, str]:
        link = self._links[index]
        up_line = ""
        oper, rx, tx = self._read(index, link.a_device, link.a_interface)
        health = link_health(self._health(link.a_device), oper[0] if oper else None)
        if health is Health.UP:
            up_line = self._link_up_text[index]
        elif health is Health.DOWN:
            up_line = self._link_up_lines[index]
            if up_line[-2:] != "0\n":
                up_line = f"{self._link_up_text[index][:-2]}0\n"
        util = []
        if link.capacity_bps > 0:
            link_id = escape_label_value(link.link_id)
            for direction, slot, latest in (("in", 2 * index, rx),
                                            ("out", 2 * index + 1, tx)):
                ratio = self._rate(slot, latest, link.capacity_bps)
                if ratio is not None:
                    util.append(
                        f'{LINK_UTILIZATION}{{link="{link_id}",'
                        f'direction="{direction}"}} {format_value(ratio)}\n'
                    )
        return up_line, "".join(util)

    def _rate(self, slot: int, latest: _Reading | None, capacity_bps: int) -> float | None:
        """Bits per second over capacity between the last two counter readings of one
        link direction (``slot``: 2 × link index, + 1 for out), ``latest`` the latest
        (value, time)."""
        rates, rated, at = self._rates, self._rated, 3 * slot
        flags = rated[slot]
        ratio = rates[at + 2] if flags & _RATIO else None
        if latest is None:
            return ratio
        value, ts = latest
        if flags & _LAST:
            if ts == rates[at + 1]:
                return ratio  # nothing newer since the last scrape
            per_second = counter_rate(rates[at], rates[at + 1], value, ts)
            if per_second is not None:
                ratio = utilisation(per_second, capacity_bps)
                if ratio is None:
                    flags &= ~_RATIO
                else:
                    rates[at + 2] = ratio
                    flags |= _RATIO
        # a first reading, or the collector started over: no rate until the next one
        rates[at], rates[at + 1] = value, ts
        rated[slot] = flags | _LAST
        return ratio
