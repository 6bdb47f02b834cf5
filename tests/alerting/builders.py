"""A small inventory shaped like the real network, and helpers to drive the state store.

    core-1
      pn-50 (provincial node, no site)           link ln-pn-50
        da-5001 (district router, at S-1)          link ln-da-5001
          S-1-gw, S-2-gw, S-3-gw                   links ln-S-n-gw
            S-2-ap1, S-2-ap2                       links ln-S-2-ap1/2
        da-5002 (district router, at S-4)          link ln-da-5002
          S-4-gw
"""

from __future__ import annotations

from inventory.model import Device, Inventory, Link, Medium, Role, Site, SiteKind
from pubnet.model import Observation, PollStatus, Source
from pubnet.state import StateStore

DISTRICTS = {
    "5001": ("เมืองเชียงใหม่", "Mueang Chiang Mai", "500101", "ศรีภูมิ", "Si Phum"),
    "5002": ("จอมทอง", "Chom Thong", "500203", "บ้านหลวง", "Ban Luang"),
}


def site(site_id: str, district: str, n: int) -> Site:
    d_th, d_en, sub, sub_th, sub_en = DISTRICTS[district]
    return Site(
        site_id=site_id, name=f"เน็ตประชารัฐ บ้านทดสอบ {n}", kind=SiteKind.VILLAGE_WIFI,
        province_code="50", district_code=district, subdistrict_code=sub,
        village=f"บ้านทดสอบ หมู่ {n}", lat=18.7 + n / 100, lon=98.9 + n / 100,
        province_name_th="เชียงใหม่", province_name_en="Chiang Mai",
        district_name_th=d_th, district_name_en=d_en,
        subdistrict_name_th=sub_th, subdistrict_name_en=sub_en,
    )


def device(device_id: str, site_id: str, role: Role, upstream: str) -> Device:
    return Device(device_id, site_id, role, "127.0.0.1", None, "router", "c", upstream)


def link(link_id: str, a: str, a_if: str, b: str, medium: Medium = Medium.FIBER,
         capacity: int = 1_000_000_000) -> Link:
    return Link(link_id, a, a_if, b, "eth0", medium, capacity, "NT")


def district_inventory() -> Inventory:
    inv = Inventory(source="test")
    for n, district in ((1, "5001"), (2, "5001"), (3, "5001"), (4, "5002")):
        s = site(f"S-{n}", district, n)
        inv.sites[s.site_id] = s
    devices = [
        device("core-1", "", Role.CORE, ""),
        device("pn-50", "", Role.PROVINCIAL_NODE, "core-1"),
        device("da-5001", "S-1", Role.DISTRICT_AGGREGATION, "pn-50"),
        device("S-1-gw", "S-1", Role.SITE_GATEWAY, "da-5001"),
        device("S-2-gw", "S-2", Role.SITE_GATEWAY, "da-5001"),
        device("S-3-gw", "S-3", Role.SITE_GATEWAY, "da-5001"),
        device("S-2-ap1", "S-2", Role.ACCESS_POINT, "S-2-gw"),
        device("S-2-ap2", "S-2", Role.ACCESS_POINT, "S-2-gw"),
        device("da-5002", "S-4", Role.DISTRICT_AGGREGATION, "pn-50"),
        device("S-4-gw", "S-4", Role.SITE_GATEWAY, "da-5002"),
    ]
    for d in devices:
        inv.devices[d.device_id] = d
    links = [
        link("ln-pn-50", "core-1", "et-0/0/0", "pn-50"),
        link("ln-da-5001", "pn-50", "ge-0/0/1", "da-5001"),
        link("ln-da-5002", "pn-50", "ge-0/0/2", "da-5002"),
        link("ln-S-1-gw", "da-5001", "ge-0/0/1", "S-1-gw", capacity=100_000_000),
        link("ln-S-2-gw", "da-5001", "ge-0/0/2", "S-2-gw", capacity=100_000_000),
        link("ln-S-3-gw", "da-5001", "ge-0/0/3", "S-3-gw", capacity=100_000_000),
        link("ln-S-2-ap1", "S-2-gw", "ge-0/0/1", "S-2-ap1", Medium.COPPER),
        link("ln-S-2-ap2", "S-2-gw", "ge-0/0/2", "S-2-ap2", Medium.COPPER),
        link("ln-S-4-gw", "da-5002", "ge-0/0/1", "S-4-gw", capacity=100_000_000),
    ]
    for ln in links:
        inv.links[ln.link_id] = ln
    return inv


ROUTER_AND_GATEWAYS = ("da-5001", "S-1-gw", "S-2-gw", "S-3-gw")


def poll(store: StateStore, device_id: str, ok: bool, ts: float) -> None:
    """What a poller does for one attempt: a status plus ``pubnet_device_up``."""
    status = PollStatus.OK if ok else PollStatus.TIMEOUT
    store.set_status(device_id, status, ts, Source.SNMP, observations=[
        Observation(device_id, "pubnet_device_up", 1.0 if ok else 0.0, ts, Source.SNMP)])


def poll_round(store: StateStore, devices: tuple[str, ...] | list[str], ok: bool,
               ts: float) -> None:
    for device_id in devices:
        poll(store, device_id, ok, ts)


def fail_rounds(store: StateStore, devices: tuple[str, ...] | list[str], start: float,
                rounds: int = 3) -> float:
    """``rounds`` failed polls of ``devices`` a second apart after ``start`` (3 is the tests'
    ``down_after``); the time of the last one."""
    ts = start
    for _ in range(rounds):
        ts += 1.0
        poll_round(store, devices, False, ts)
    return ts
