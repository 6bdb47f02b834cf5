"""Small inventories and stores for the exporter tests."""

from __future__ import annotations

from collectors.identity import device_labels, status_observations
from inventory.model import Device, Inventory, Link, Medium, Role, Site, SiteKind
from pubnet.model import Observation, PollStatus, Source
from pubnet.state import StateStore


def site(site_id: str, name: str = "บ้านหนองบัว", province: str = "40") -> Site:
    return Site(
        site_id=site_id, name=name, kind=SiteKind.VILLAGE_WIFI, province_code=province,
        district_code=province + "01", subdistrict_code=province + "0101",
        village="หมู่ 3", lat=16.4419, lon=102.8359, province_name_en="Khon Kaen",
        province_name_th="ขอนแก่น", district_name_th="เมืองขอนแก่น",
        district_name_en="Mueang Khon Kaen", subdistrict_name_th="ในเมือง",
        subdistrict_name_en="Nai Mueang",
    )


def device(device_id: str, site_id: str, role: Role, upstream: str = "",
           profile: str = "if-mib") -> Device:
    return Device(device_id=device_id, site_id=site_id, role=role, host="127.0.0.1",
                  port=None, profile=profile, credential="v2", upstream=upstream)


def small_inventory() -> Inventory:
    """Two sites (one with APs, one gateway-only) and one backbone link."""
    inv = Inventory()
    inv.sites = {"S1": site("S1"), "S2": site("S2", 'ร้าน "ป้า" \\ ใหม่\nบ้าน', "50")}
    devices = [
        device("gw1", "S1", Role.SITE_GATEWAY, "dist1"),
        device("ap1", "S1", Role.ACCESS_POINT, "gw1"),
        device("ap2", "S1", Role.ACCESS_POINT, "gw1"),
        device("gw2", "S2", Role.SITE_GATEWAY, "dist1"),
        device("dist1", "S1", Role.DISTRICT_AGGREGATION),
    ]
    inv.devices = {d.device_id: d for d in devices}
    inv.links = {
        "L1": Link(link_id="L1", a_device="dist1", a_interface="ge-0/0/1", b_device="gw1",
                   b_interface="eth0", medium=Medium.FIBER, capacity_bps=1_000_000_000,
                   owner="NT"),
    }
    return inv


def interface(device: str, ifname: str, rx: float, tx: float, ts: float,
              oper: float = 1.0) -> list[Observation]:
    labels = (("ifname", ifname),)
    return [
        Observation(device, "pubnet_interface_receive_bytes_total", rx, ts, Source.SNMP, labels),
        Observation(device, "pubnet_interface_transmit_bytes_total", tx, ts, Source.SNMP, labels),
        Observation(device, "pubnet_interface_oper_up", oper, ts, Source.SNMP, labels),
    ]


def attempt(store: StateStore, device: str, status: PollStatus, ts: float,
            source: Source = Source.SNMP, inventory: Inventory | None = None) -> None:
    """What a collector does for one attempt: the status with its ``pubnet_device_up`` and
    ``pubnet_device_poll_status`` series (labelled from ``inventory``, default the small one)."""
    inv = inventory if inventory is not None else small_inventory()
    known = inv.devices.get(device)
    labels = device_labels(inv, known)[0] if known is not None else ()
    state = store.status(device)
    changed = state is None or state.status is not status
    store.set_status(device, status, ts, source, observations=status_observations(
        device, status, ts, source, labels, changed=changed))


def set_up(store: StateStore, device: str, up: bool, ts: float) -> None:
    attempt(store, device, PollStatus.OK if up else PollStatus.TIMEOUT, ts)
