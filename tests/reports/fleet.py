"""Small hand-made inventories for the report tests (no generator: every name and number is
chosen so the expected figures can be computed by hand)."""

from __future__ import annotations

from inventory.model import Device, Inventory, Link, Medium, Role, Site, SiteKind

PROVINCES = {
    "50": ("เชียงใหม่", "Chiang Mai", {"5001": ("เมืองเชียงใหม่", "Mueang Chiang Mai"),
                                         "5002": ("จอมทอง", "Chom Thong")}),
    "40": ("ขอนแก่น", "Khon Kaen", {"4001": ("เมืองขอนแก่น", "Mueang Khon Kaen")}),
}


def site(site_id: str, district: str, village: str, name: str = "", lat: float = 18.8,
         lon: float = 98.9, kind: SiteKind = SiteKind.VILLAGE_WIFI) -> Site:
    province = district[:2]
    p_th, p_en, districts = PROVINCES[province]
    d_th, d_en = districts[district]
    return Site(site_id, name or f"จุดบริการ {site_id}", kind, province, district,
                district + "01", village, lat, lon, p_th, p_en, d_th, d_en, "", "")


def fleet(sites: list[Site], aps: int = 1) -> Inventory:
    """Each site gets a gateway ``gw-<site>`` and ``aps`` access points ``ap-<site>-<n>``
    under district routers ``agg-<district>``, provincial nodes ``pn-<province>`` and one
    core; links from each router down."""
    inv = Inventory()
    inv.devices["core"] = Device("core", "", Role.CORE, "10.0.0.1", None, "router", "c", "",
                                 "10")
    n = 2
    for s in sites:
        inv.sites[s.site_id] = s
        pn, agg = f"pn-{s.province_code}", f"agg-{s.district_code}"
        if pn not in inv.devices:
            inv.devices[pn] = Device(pn, "", Role.PROVINCIAL_NODE, f"10.0.0.{n}", None,
                                     "router", "c", "core", s.province_code)
            inv.links[f"L-{pn}"] = Link(f"L-{pn}", "core", f"eth{n}", pn, "uplink",
                                        Medium.FIBER, 10**10, "NT")
            n += 1
        if agg not in inv.devices:
            inv.devices[agg] = Device(agg, s.site_id, Role.DISTRICT_AGGREGATION,
                                      f"10.0.0.{n}", None, "router", "c", pn)
            inv.links[f"L-{agg}"] = Link(f"L-{agg}", pn, f"eth{n}", agg, "uplink",
                                         Medium.FIBER, 10**9, "NT")
            n += 1
        gw = f"gw-{s.site_id}"
        inv.devices[gw] = Device(gw, s.site_id, Role.SITE_GATEWAY, f"10.1.0.{n}", None,
                                 "router", "c", agg)
        n += 1
        for i in range(aps):
            ap = f"ap-{s.site_id}-{i}"
            inv.devices[ap] = Device(ap, s.site_id, Role.ACCESS_POINT, f"10.2.0.{n}", None,
                                     "access-point", "c", gw)
            n += 1
    return inv
