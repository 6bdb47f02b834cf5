"""Generating a realistic national inventory from Thailand's real administrative divisions.

Demos, load tests and benchmarks need an inventory shaped like the real programme, not
a uniform grid: sites are spread over the 77 provinces roughly by their number of
subdistricts (Bangkok, dense but well served by other networks, gets few), clustered
around district centres, mostly village Wi-Fi with schools, health centres, digital
centres and subdistrict offices mixed in, and named in Thai.

Shape of the network (every device hangs from the one above it)::

    core (4: Bangkok, Khon Kaen, Chiang Mai, Songkhla; no site, their province_code)
      provincial_node (one per province, from the nearest core; no site, its province_code)
        district_aggregation (one per district with sites, at one of its sites)
          site_gateway (one per site)
            access_point (one or two per site)

``links.csv`` has one NT link per device below the cores, from its upstream's interface
(``a``) to its own (``b``): fibre core and provincial links, fibre or microwave district
links, fibre, microwave or satellite last miles, and copper to the access points.

Output depends only on ``(sites, seed)``: all randomness comes from one
``random.Random(seed)`` and nothing iterates a set or depends on hashing. Addresses are
sequential private IPv4 addresses -- inventory data only, never contacted.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate

from inventory.geography import (
    THAILAND_BBOX,
    District,
    Province,
    districts_of,
    province_centre,
    provinces,
    subdistricts_of,
)
from inventory.model import Device, Inventory, Link, Medium, Role, Site, SiteKind
from inventory.thai_names import region_of, site_name, village_name
from inventory.writer import write_inventory

__all__ = ["CORE_NODES", "generate", "write_inventory"]

MBPS = 1_000_000
GBPS = 1_000_000_000
OWNER = "NT"
VILLAGE_CREDENTIAL = "village-v2"
NOC_CREDENTIAL = "noc-v3"


@dataclass(frozen=True, slots=True)
class CoreNode:
    device_id: str
    province_code: str


CORE_NODES = (
    CoreNode("core-bkk", "10"),
    CoreNode("core-kkn", "40"),
    CoreNode("core-cnx", "50"),
    CoreNode("core-hdy", "90"),
)
"""NT's national core, one per region; each province hangs from the nearest."""

_KINDS = (
    SiteKind.VILLAGE_WIFI,
    SiteKind.SCHOOL,
    SiteKind.HEALTH_CENTER,
    SiteKind.DIGITAL_CENTER,
    SiteKind.GOVERNMENT_OFFICE,
    SiteKind.OTHER,
)
_KIND_CUM_WEIGHTS = tuple(accumulate((70, 12, 7, 5, 5, 1)))
_HOST_KINDS = (SiteKind.GOVERNMENT_OFFICE, SiteKind.DIGITAL_CENTER)
"""Where a district's aggregation router prefers to stand: next to the district office."""

_GATEWAY_PROFILES = ("router", "mqtt", "icmp")
_GATEWAY_PROFILE_CUM_WEIGHTS = tuple(accumulate((80, 12, 8)))

_BANGKOK_WEIGHT = 0.15
_SPREAD_DEGREES: Mapping[str, float] = {
    "10": 0.12,
    "11": 0.1,
    "12": 0.08,
    "13": 0.12,
    "74": 0.08,
    "75": 0.06,
    "83": 0.1,
}
"""Radius of sites around a province centre where the default (from district count)
would spill far outside a small province."""
_REMOTE_PROVINCES = ("50", "55", "57", "58", "63", "71")
"""Mountainous border provinces where more last miles go over satellite."""


class _AddressPool:
    """Sequential IPv4 addresses, skipping the .0 and .255 of every /24, up to a limit."""

    __slots__ = ("_last", "_next")

    def __init__(self, first: tuple[int, int, int, int], last: tuple[int, int, int, int]) -> None:
        self._next = int.from_bytes(bytes(first), "big")
        self._last = int.from_bytes(bytes(last), "big")

    def take(self) -> str:
        value = self._next
        while value & 0xFF in (0, 255):
            value += 1
        if value > self._last:
            raise ValueError("too many devices for the generator's address plan")
        self._next = value + 1
        return f"{value >> 24}.{(value >> 16) & 0xFF}.{(value >> 8) & 0xFF}.{value & 0xFF}"


def _port(prefix: str, index: int, per_card: int = 48) -> str:
    """Juniper-style interface name: ``ge-<fpc>/<pic>/<port>``."""
    return f"{prefix}-{index // per_card}/0/{index % per_card}"


def _site_counts(rng: random.Random, total: int) -> dict[str, int]:
    """Sites per province code: one each first (once there are 77), the rest by size."""
    all_provinces = provinces()
    weights = [
        sum(len(subdistricts_of(d.code)) for d in districts_of(p.code))
        * (_BANGKOK_WEIGHT if p.code == "10" else 1.0)
        for p in all_provinces
    ]
    picks: list[Province] = list(all_provinces) if total >= len(all_provinces) else []
    picks += rng.choices(all_provinces, weights=weights, k=total - len(picks))
    counts = dict.fromkeys((p.code for p in all_provinces), 0)
    for p in picks:
        counts[p.code] += 1
    return counts


def _nearest_core(province_code: str) -> CoreNode:
    lat, lon = province_centre(province_code)

    def distance(core: CoreNode) -> float:
        c_lat, c_lon = province_centre(core.province_code)
        return math.hypot(lat - c_lat, (lon - c_lon) * math.cos(math.radians(lat)))

    return min(CORE_NODES, key=distance)


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


Centre = tuple[float, float, float]
"""``(lat, lon, spread)`` around which a district's sites cluster."""


class _Builder:
    """The inventory under construction and the counters that keep ids and addresses
    unique; one per :func:`generate` call."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sites: dict[str, Site] = {}
        self.devices: dict[str, Device] = {}
        self.links: dict[str, Link] = {}
        # Backbone routers in 10.0.0.0/10, site devices in 10.64.0.0/10 and up.
        self.infra_addresses = _AddressPool((10, 0, 0, 1), (10, 63, 255, 254))
        self.site_addresses = _AddressPool((10, 64, 0, 1), (10, 255, 255, 254))
        self.downlinks: dict[str, int] = {}

    def device(
        self,
        device_id: str,
        site_id: str,
        role: Role,
        address: str,
        profile: str,
        credential: str,
        upstream: str,
        province_code: str = "",
    ) -> None:
        self.devices[device_id] = Device(
            device_id, site_id, role, address, None, profile, credential, upstream, province_code
        )

    def router(self, device_id: str, site_id: str, role: Role, upstream: str,
               province_code: str = "") -> None:
        """A backbone router: the next backbone address, the ``router`` profile, the NOC's
        SNMPv3 credential."""
        self.device(device_id, site_id, role, self.infra_addresses.take(), "router",
                    NOC_CREDENTIAL, upstream, province_code)

    def link(
        self,
        up: str,
        down: str,
        up_prefix: str,
        down_interface: str,
        medium: Medium,
        capacity: int,
        per_card: int = 48,
        first_port: int = 0,
    ) -> None:
        index = self.downlinks.get(up, first_port)
        self.downlinks[up] = index + 1
        link_id = f"ln-{down}"
        self.links[link_id] = Link(
            link_id,
            up,
            _port(up_prefix, index, per_card),
            down,
            down_interface,
            medium,
            capacity,
            OWNER,
        )

    def district_centres(
        self, province_code: str, districts: tuple[District, ...]
    ) -> dict[str, Centre]:
        """Each district's :data:`Centre`."""
        rng = self.rng
        lat0, lon0 = province_centre(province_code)
        radius = _SPREAD_DEGREES.get(
            province_code, _clamp(0.11 * math.sqrt(len(districts)), 0.15, 0.8)
        )
        centres = {}
        for d in districts:
            angle = rng.uniform(0.0, 2 * math.pi)
            # The capital district (code XX01) is the province centre.
            reach = radius * math.sqrt(rng.random()) * (0.15 if d.code.endswith("01") else 0.85)
            lat = lat0 + reach * math.sin(angle)
            lon = lon0 + reach * math.cos(angle) / math.cos(math.radians(lat0))
            centres[d.code] = (lat, lon, radius * 0.12)
        return centres

    def site(self, site_id: str, province: Province, district: District, centre: Centre) -> Site:
        rng = self.rng
        subdistrict = rng.choice(subdistricts_of(district.code))
        kind = rng.choices(_KINDS, cum_weights=_KIND_CUM_WEIGHTS)[0]
        village = village_name(rng, region_of(province.code))
        moo = rng.randint(1, 15)
        lat_c, lon_c, spread = centre
        box = THAILAND_BBOX
        lat = _clamp(rng.gauss(lat_c, spread), box.min_lat + 0.01, box.max_lat - 0.01)
        lon = _clamp(rng.gauss(lon_c, spread), box.min_lon + 0.01, box.max_lon - 0.01)
        site = Site(
            site_id=site_id,
            name=site_name(kind, village, subdistrict.name_th),
            kind=kind,
            province_code=province.code,
            district_code=district.code,
            subdistrict_code=subdistrict.code,
            village=f"{village} หมู่ {moo}",
            lat=round(lat, 5),
            lon=round(lon, 5),
            province_name_th=province.name_th,
            province_name_en=province.name_en,
            district_name_th=district.name_th,
            district_name_en=district.name_en,
            subdistrict_name_th=subdistrict.name_th,
            subdistrict_name_en=subdistrict.name_en,
        )
        self.sites[site_id] = site
        return site

    def site_devices(self, site: Site, aggregation: str, remote: bool) -> None:
        rng = self.rng
        gateway = f"{site.site_id}-gw"
        profile = rng.choices(_GATEWAY_PROFILES, cum_weights=_GATEWAY_PROFILE_CUM_WEIGHTS)[0]
        credential = VILLAGE_CREDENTIAL if profile == "router" else ""
        self.device(
            gateway,
            site.site_id,
            Role.SITE_GATEWAY,
            self.site_addresses.take(),
            profile,
            credential,
            aggregation,
        )
        roll = rng.random()
        satellite_share = 0.2 if remote else 0.06
        if roll < satellite_share:
            medium, capacity = Medium.SATELLITE, rng.choice((20, 50)) * MBPS
        elif roll < satellite_share + 0.22:
            medium, capacity = Medium.MICROWAVE, rng.choice((50, 100)) * MBPS
        else:
            medium, capacity = Medium.FIBER, rng.choices((100, 1000), (6, 4))[0] * MBPS
        self.link(aggregation, gateway, "ge", "ge-0/0/0", medium, capacity)
        for n in range(1, 3 if rng.random() < 0.5 else 2):
            ap = f"{site.site_id}-ap{n}"
            self.device(
                ap,
                site.site_id,
                Role.ACCESS_POINT,
                self.site_addresses.take(),
                "access-point",
                VILLAGE_CREDENTIAL,
                gateway,
            )
            # Port 0 of the gateway is its uplink (ge-0/0/0); access points use 1 and up.
            self.link(gateway, ap, "ge", "eth0", Medium.COPPER, GBPS, per_card=8, first_port=1)


def _backbone_node(build: _Builder, province: Province) -> str:
    """The province's node, hung from the nearest core by a fibre link."""
    node = f"pn-{province.code}"
    core = _nearest_core(province.code)
    build.router(node, "", Role.PROVINCIAL_NODE, core.device_id, province.code)
    big = sum(len(subdistricts_of(d.code)) for d in districts_of(province.code)) >= 150
    build.link(
        core.device_id,
        node,
        "et" if big else "xe",
        "et-0/1/0" if big else "xe-0/1/0",
        Medium.FIBER,
        100 * GBPS if big else 10 * GBPS,
    )
    return node


def _district(build: _Builder, province: Province, district: District, node: str, n_sites: int,
              centre: Centre) -> None:
    """A district's sites, its aggregation router (at one of them) and their devices."""
    code = district.code
    placed = [
        build.site(f"S-{code}-{i:04d}", province, district, centre) for i in range(1, n_sites + 1)
    ]
    host = next((s for s in placed if s.kind in _HOST_KINDS), placed[0])
    aggregation = f"da-{code}"
    build.router(aggregation, host.site_id, Role.DISTRICT_AGGREGATION, node)
    if build.rng.random() < 0.1:
        medium, capacity = Medium.MICROWAVE, GBPS
    else:
        medium, capacity = Medium.FIBER, 10 * GBPS if n_sites > 20 else GBPS
    fast = capacity >= 10 * GBPS
    build.link(
        node,
        aggregation,
        "xe" if fast else "ge",
        "xe-0/1/0" if fast else "ge-0/1/0",
        medium,
        capacity,
    )
    remote = province.code in _REMOTE_PROVINCES
    for site in placed:
        build.site_devices(site, aggregation, remote)


def generate(sites: int, seed: int) -> Inventory:
    """A national inventory with ``sites`` sites, the same for the same ``(sites, seed)``.

    Every province has sites once ``sites >= 77``. The result passes
    :func:`inventory.validate.validate` (with credentials ``village-v2`` and ``noc-v3``).

    Raises:
        ValueError: ``sites`` is negative, or so large the address plan runs out.
    """
    if sites < 0:
        raise ValueError(f"sites must be 0 or more, got {sites}")
    rng = random.Random(seed)
    build = _Builder(rng)
    counts = _site_counts(rng, sites)
    for core in CORE_NODES:
        build.router(core.device_id, "", Role.CORE, "", core.province_code)
    for province in provinces():
        node = _backbone_node(build, province)
        if not counts[province.code]:
            continue
        districts = districts_of(province.code)
        centres = build.district_centres(province.code, districts)
        weights = [len(subdistricts_of(d.code)) for d in districts]
        per_district = Counter(rng.choices(districts, weights=weights, k=counts[province.code]))
        for district in districts:  # in code order, whatever order they were drawn in
            if per_district[district]:
                _district(
                    build, province, district, node, per_district[district], centres[district.code]
                )
    return Inventory(
        sites=build.sites,
        devices=build.devices,
        links=build.links,
        source=f"generated: sites={sites} seed={seed}",
    )
