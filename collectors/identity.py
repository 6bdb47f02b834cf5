"""The inventory labels every collector puts on a device's up and info series.

``pubnet_device_up`` and ``pubnet_device_info`` must carry the same label names whichever
collector heard the device (SNMP, MQTT, ICMP): dashboards and alert rules join and group on
them, and Prometheus would otherwise show one device as two half-labelled series.
"""

from __future__ import annotations

from inventory.model import Device, Inventory
from pubnet.model import Labels


def device_labels(inventory: Inventory, device: Device) -> tuple[Labels, Labels]:
    """``(up labels, info labels without sys_name/sys_descr)`` from the inventory.

    ``province``/``district`` are the official codes (names live on ``pubnet_site_info``).
    """
    site = inventory.sites.get(device.site_id)
    province = inventory.province_of(device)  # a provincial node or core has no site
    district = site.district_code if site is not None else ""
    up = (("site", device.site_id), ("role", str(device.role)), ("province", province))
    info = (("site", device.site_id), ("role", str(device.role)),
            ("profile", device.profile), ("province", province), ("district", district))
    return up, info


def info_labels(base: Labels, sys_name: str, sys_descr: str) -> Labels:
    """The full ``pubnet_device_info`` label set: inventory labels plus what the device says
    about itself (SNMP's sysName/sysDescr; an MQTT gateway's firmware as ``sys_descr``)."""
    return (*base, ("sys_name", sys_name), ("sys_descr", sys_descr))
