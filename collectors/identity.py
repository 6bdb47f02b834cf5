"""A device's own series, the same whichever collector heard it: labels, up and status.

``pubnet_device_up`` and ``pubnet_device_info`` must carry the same label names whichever
collector heard the device (SNMP, MQTT, ICMP): dashboards and alert rules join and group on
them, and Prometheus would otherwise show one device as two half-labelled series.
``pubnet_device_up`` and ``pubnet_device_poll_status`` are written here and only here
(:func:`status_observations`), from the attempt each collector reports to the store; the
exporter renders them as they are and derives nothing.
"""

from __future__ import annotations

from inventory.model import Device, Inventory
from pubnet.catalog import DEVICE_POLL_STATUS, DEVICE_UP, LABEL_STATUS
from pubnet.model import Labels, Observation, PollStatus, Source

_STATUS_LABELS = {s: ((LABEL_STATUS, s.value),) for s in PollStatus}


def device_labels(inventory: Inventory, device: Device) -> tuple[Labels, Labels]:
    """``(up labels, info labels without sys_name/sys_descr)`` from the inventory.

    ``province``/``district`` are the official codes (names live on ``pubnet_site_info``).
    """
    site = inventory.sites.get(device.site_id)
    province = inventory.province_of(device)  # a provincial node or core has no site
    district = site.district_code if site is not None else ""
    # the pairs both label sets have are the same tuples (kept per device, 100,000 of them)
    site_label = ("site", device.site_id)
    role_label = ("role", str(device.role))
    province_label = ("province", province)
    up = (site_label, role_label, province_label)
    info = (site_label, role_label, ("profile", device.profile), province_label,
            ("district", district))
    return up, info


def info_labels(base: Labels, sys_name: str, sys_descr: str) -> Labels:
    """The full ``pubnet_device_info`` label set: inventory labels plus what the device says
    about itself (SNMP's sysName/sysDescr; an MQTT gateway's firmware as ``sys_descr``)."""
    return (*base, ("sys_name", sys_name), ("sys_descr", sys_descr))


def status_observations(device: str, status: PollStatus, ts: float, source: Source,
                        up_labels: Labels, *, changed: bool) -> list[Observation]:
    """``pubnet_device_up`` and ``pubnet_device_poll_status`` for one attempt.

    When the status ``changed`` (or is not known to be the same) every status gets its
    sample, 1 for this one and 0 for the rest, so that the previous status's 1 does not
    linger; otherwise only this status's 1 is refreshed.
    """
    out = [Observation(device, DEVICE_UP, 1.0 if status is PollStatus.OK else 0.0, ts, source,
                       up_labels)]
    if changed:
        out += [Observation(device, DEVICE_POLL_STATUS, 1.0 if s is status else 0.0, ts,
                            source, labels) for s, labels in _STATUS_LABELS.items()]
    else:
        out.append(Observation(device, DEVICE_POLL_STATUS, 1.0, ts, source,
                               _STATUS_LABELS[status]))
    return out
