"""A province with several districts, each behind its own district router, each router
with many village sites: the shape of a mass outage (a provincial power cut, a storm).

    core-1 -> pn-50 -> da-<district> (one per district, filed under the district's first
    site) -> gw-<district>-<n> -> ap-<...>
"""

from __future__ import annotations

from inventory.geography import district, province, subdistricts_of
from inventory.model import Device, Inventory, Link, Medium, Role, Site, SiteKind

DISTRICTS = ("5001", "5002", "5003", "5004")


def wide_inventory(sites_per_district: int = 8, districts: tuple[str, ...] = DISTRICTS,
                   access_points: bool = False) -> Inventory:
    inv = Inventory(source="test")
    prov = province("50")
    assert prov is not None

    def add(device: Device) -> None:
        inv.devices[device.device_id] = device

    add(Device("core-1", "", Role.CORE, "127.0.0.1", None, "router", "c", ""))
    add(Device("pn-50", "", Role.PROVINCIAL_NODE, "127.0.0.1", None, "router", "c", "core-1",
               province_code="50"))
    for code in districts:
        dist = district(code)
        assert dist is not None
        sub = subdistricts_of(code)[0]
        router = f"da-{code}"
        add(Device(router, f"S-{code}-1", Role.DISTRICT_AGGREGATION, "127.0.0.1", None,
                   "router", "c", "pn-50"))
        inv.links[f"ln-{router}"] = Link(f"ln-{router}", "pn-50", f"ge-0/0/{code[-1]}", router,
                                         "eth0", Medium.FIBER, 1_000_000_000, "NT")
        for n in range(1, sites_per_district + 1):
            site_id = f"S-{code}-{n}"
            inv.sites[site_id] = Site(
                site_id=site_id, name=f"เน็ตประชารัฐ บ้าน {n}", kind=SiteKind.VILLAGE_WIFI,
                province_code="50", district_code=code, subdistrict_code=sub.code,
                village=f"บ้าน หมู่ {n}", lat=18.7 + n / 100, lon=98.9 + n / 100,
                province_name_th=prov.name_th, province_name_en=prov.name_en,
                district_name_th=dist.name_th, district_name_en=dist.name_en,
                subdistrict_name_th=sub.name_th, subdistrict_name_en=sub.name_en)
            gateway = f"gw-{code}-{n}"
            add(Device(gateway, site_id, Role.SITE_GATEWAY, "127.0.0.1", None, "router", "c",
                       router))
            inv.links[f"ln-{gateway}"] = Link(f"ln-{gateway}", router, f"ge-1/0/{n}", gateway,
                                              "eth0", Medium.FIBER, 100_000_000, "NT")
            if access_points:
                add(Device(f"ap-{code}-{n}", site_id, Role.ACCESS_POINT, "127.0.0.1", None,
                           "router", "c", gateway))
    return inv


def gateways(inv: Inventory, districts: tuple[str, ...] = DISTRICTS) -> list[str]:
    return sorted(d for d, dev in inv.devices.items()
                  if dev.role is Role.SITE_GATEWAY and dev.upstream[3:] in districts)
