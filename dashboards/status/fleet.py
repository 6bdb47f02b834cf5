"""The national picture, kept current change by change: what the status API answers from.

Counting 25,000 sites and 65,000 devices at every page refresh would cost tens of
milliseconds of the event loop per client; instead :class:`FleetStatus` is fed each device
status change (from a state-store subscription) and keeps every count the API shows up to
date: the nation, each province and district, each village. A change costs the few devices
of one site (the rule is :mod:`pubnet.derive`, the same one as ``pubnet_site_up``), so a
national outage of 65,000 changes is derived in a fraction of a second, and a refresh reads
finished counts.

Sites are held in one fixed order (province, district, site id): the GeoJSON features and
the compact status string (:meth:`FleetStatus.site_codes`) follow it, so a page that
fetched the map once refreshes the colours of every point from 25 KB.

Not thread-safe: the status component's event loop owns it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from inventory.model import Inventory, Site
from pubnet.derive import Derivation, DerivedState, ElementKind, Health, derivation_for
from pubnet.model import DeviceState, PollStatus

UNKNOWN, UP, DOWN = 0, 1, 2
"""Status codes of :attr:`FleetStatus.site_status` (a bytearray)."""

CODE_OF = {Health.UNKNOWN: UNKNOWN, Health.UP: UP, Health.DOWN: DOWN}
NAME_OF = ("unknown", "up", "down")
LETTER_OF = b"nud"
"""One letter per site in :meth:`FleetStatus.site_codes`: n(ot yet known), u(p), d(own)."""


@dataclass(slots=True)
class Counts:
    """Sites by status in one area."""

    up: int = 0
    down: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.up + self.down + self.unknown

    def add(self, code: int, delta: int) -> None:
        if code == UP:
            self.up += delta
        elif code == DOWN:
            self.down += delta
        else:
            self.unknown += delta

    def as_dict(self) -> dict[str, int]:
        return {"sites": self.total, "up": self.up, "down": self.down,
                "unknown": self.unknown}


@dataclass(frozen=True, slots=True)
class Area:
    """A province or district: code, names and (for a district) its province's index."""

    index: int
    code: str
    name_th: str
    name_en: str
    parent: int = -1


class FleetStatus:
    """Current status of every site and device, with running counts (module docstring)."""

    def __init__(self, inventory: Inventory, derivation: Derivation | None = None) -> None:
        """``derivation``: the app's index of ``inventory``, shared with the other
        components (built here when not given)."""
        self.inventory = inventory
        self.derivation = derivation_for(inventory, derivation)
        self.derived = DerivedState(self.derivation)
        ordered = sorted(inventory.sites.values(),
                         key=lambda s: (s.province_code, s.district_code, s.site_id))
        self.sites: list[Site] = ordered
        self.site_index = {site.site_id: i for i, site in enumerate(ordered)}
        provinces: dict[str, Area] = {}
        districts: dict[str, Area] = {}
        villages: dict[tuple[str, str], int] = {}
        self.site_province: list[int] = []
        self.site_district: list[int] = []
        self.site_village: list[int] = []
        for site in ordered:
            province = provinces.get(site.province_code)
            if province is None:
                province = provinces[site.province_code] = Area(
                    len(provinces), site.province_code, site.province_name_th,
                    site.province_name_en)
            district = districts.get(site.district_code)
            if district is None:
                district = districts[site.district_code] = Area(
                    len(districts), site.district_code, site.district_name_th,
                    site.district_name_en, province.index)
            village = villages.setdefault((site.subdistrict_code, site.village), len(villages))
            self.site_province.append(province.index)
            self.site_district.append(district.index)
            self.site_village.append(village)
        self.provinces = list(provinces.values())
        self.districts = list(districts.values())
        self.province_by_code = provinces
        self.district_by_code = districts
        self.districts_of: list[list[int]] = [[] for _ in self.provinces]
        for district in self.districts:
            self.districts_of[district.parent].append(district.index)
        self.sites_of_district: list[list[int]] = [[] for _ in self.districts]
        for index, district_index in enumerate(self.site_district):
            self.sites_of_district[district_index].append(index)
        # running state
        self.site_status = bytearray(len(ordered))  # all UNKNOWN
        self.site_since = [0.0] * len(ordered)
        self.nation = Counts(unknown=len(ordered))
        self.province_counts = [Counts() for _ in self.provinces]
        self.district_counts = [Counts() for _ in self.districts]
        for index in range(len(ordered)):
            self.province_counts[self.site_province[index]].unknown += 1
            self.district_counts[self.site_district[index]].unknown += 1
        self.village_up = [0] * len(villages)
        self.village_down = [0] * len(villages)
        self.villages_without_service = 0
        """Villages with a site down and none up (unknown sites do not count either way)."""
        self.devices = Counts(unknown=len(inventory.devices))
        self.version = 0
        """Changes whenever any count or status changes."""
        self.sites_version = 0
        """Changes whenever a site's status changes (the map's colours)."""

    # -- feeding ----------------------------------------------------------------------------

    def set_device(self, device: str, status: PollStatus | None, ts: float) -> None:
        """One device's latest poll outcome (None: no status any more)."""
        if device not in self.inventory.devices:
            return  # the pseudo-device "pubnet", or one that left the inventory
        for change in self.derived.set_device(device, status, ts):
            if change.kind is ElementKind.DEVICE:
                self.devices.add(CODE_OF[change.previous], -1)
                self.devices.add(CODE_OF[change.current], 1)
                self.version += 1
            elif change.kind is ElementKind.SITE:
                self._site_changed(change.element, CODE_OF[change.previous],
                                   CODE_OF[change.current], change.ts)

    def sync(self, statuses: Mapping[str, DeviceState], now: float) -> int:
        """Bring every device in line with the store's statuses (at start, and after the
        subscription lost batches); returns how many devices it corrected."""
        corrected = 0
        derived = self.derived
        for device in self.inventory.devices:
            state = statuses.get(device)
            status = state.status if state is not None else None
            health = Health.UNKNOWN if status is None else (
                Health.UP if status is PollStatus.OK else Health.DOWN)
            if derived.device(device) is not health:
                corrected += 1
                self.set_device(device, status, state.since if state is not None else now)
        return corrected

    def _site_changed(self, site_id: str, before: int, now: int, ts: float) -> None:
        index = self.site_index[site_id]
        self.site_status[index] = now
        self.site_since[index] = ts
        self.nation.add(before, -1)
        self.nation.add(now, 1)
        self.province_counts[self.site_province[index]].add(before, -1)
        self.province_counts[self.site_province[index]].add(now, 1)
        self.district_counts[self.site_district[index]].add(before, -1)
        self.district_counts[self.site_district[index]].add(now, 1)
        village = self.site_village[index]
        up, down = self.village_up[village], self.village_down[village]
        was_without = up == 0 and down > 0
        up += (now == UP) - (before == UP)
        down += (now == DOWN) - (before == DOWN)
        self.village_up[village], self.village_down[village] = up, down
        self.villages_without_service += (up == 0 and down > 0) - was_without
        self.version += 1
        self.sites_version += 1

    # -- reading ----------------------------------------------------------------------------

    def site_codes(self) -> bytes:
        """One letter per site in map order (``u``/``d``/``n``)."""
        return bytes(self.site_status.translate(_LETTERS))

    def site_health(self, index: int) -> str:
        return NAME_OF[self.site_status[index]]

    def device_health(self, device: str) -> str:
        return self.derived.device(device).value

    def devices_of(self, site_id: str) -> tuple[str, ...]:
        return self.derivation.sites[site_id].devices

    def province_sites(self, province: int) -> Iterable[int]:
        for district in self.districts_of[province]:
            yield from self.sites_of_district[district]


_LETTERS = bytes.maketrans(bytes(range(3)), LETTER_OF)
