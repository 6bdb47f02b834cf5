"""Small inventories that tests and benchmarks build the same way."""

from __future__ import annotations

from inventory.model import Device, Inventory, Role, Site, SiteKind


def village_site() -> Inventory:
    """One village site, ``site-1`` (Khon Kaen): an access point ``ap-1`` (profile
    ``access-point``) and its gateway ``gw-1`` (``if-mib``) behind the district router
    ``dist-1`` (``router``), all with the credential ``village``; no links."""
    inv = Inventory()
    inv.sites["site-1"] = Site(
        "site-1", "บ้านหนองบัว", SiteKind.VILLAGE_WIFI, "40", "4001", "400101", "3", 16.4,
        102.8, province_name_th="ขอนแก่น", province_name_en="Khon Kaen")
    inv.devices["ap-1"] = Device("ap-1", "site-1", Role.ACCESS_POINT, "10.1.0.2", None,
                                 "access-point", "village", "gw-1")
    inv.devices["gw-1"] = Device("gw-1", "site-1", Role.SITE_GATEWAY, "10.1.0.1", None,
                                 "if-mib", "village", "dist-1")
    inv.devices["dist-1"] = Device("dist-1", "", Role.DISTRICT_AGGREGATION, "10.0.0.9", None,
                                   "router", "village", "")
    return inv
