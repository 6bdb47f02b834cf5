"""A device's own series, the same whichever collector heard it: labels, up and status.

``pubnet_device_up`` and ``pubnet_device_info`` must carry the same label names whichever
collector heard the device (SNMP, MQTT, ICMP): dashboards and alert rules join and group on
them, and Prometheus would otherwise show one device as two half-labelled series.
``pubnet_device_up`` and ``pubnet_device_poll_status`` are written here and only here
(:func:`status_observations`), from the attempt each collector reports to the store; the
exporter renders them as they are and derives nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from inventory.model import Device, Inventory
from pubnet.catalog import DEVICE_POLL_STATUS, DEVICE_UP, LABEL_STATUS
from pubnet.model import Labels, Observation, PollStatus, Source

_STATUS_LABELS = {s: ((LABEL_STATUS, s.value),) for s in PollStatus}

SharedLabels = dict[Any, Any]
"""Equal label pairs and label sets, one copy each (value -> itself): a dict a collector
keeps and passes to every :func:`device_labels`/:func:`info_labels` call, so that its
100,000 devices' labels are a few hundred distinct pairs (``role``, ``province``,
``district``, ``profile``, a model's ``sys_descr``) and one ``site`` pair per site, where
each device had its own copies (~950 bytes a device at 20,000 devices)."""

SHARED_MAX = 1 << 18
"""Entries a :data:`SharedLabels` takes at most: past this a value is shared only if it is
there already (a device whose sysDescr changes at every poll must not grow it forever)."""

_T = TypeVar("_T")


def _one(shared: SharedLabels, value: _T) -> _T:
    """The shared copy of ``value`` (kept as the copy when it is the first)."""
    found: _T | None = shared.get(value)
    if found is not None:
        return found
    if len(shared) < SHARED_MAX:
        shared[value] = value
    return value


def device_labels(inventory: Inventory, device: Device,
                  shared: SharedLabels | None = None) -> tuple[Labels, Labels]:
    """``(up labels, info labels without sys_name/sys_descr)`` from the inventory.

    ``province``/``district`` are the official codes (names live on ``pubnet_site_info``).
    ``shared``: the caller's :data:`SharedLabels` (without one, only the pairs the two
    label sets have in common are shared).
    """
    if shared is None:
        shared = {}
    site = inventory.sites.get(device.site_id)
    province = inventory.province_of(device)  # a provincial node or core has no site
    district = site.district_code if site is not None else ""
    site_label = _one(shared, ("site", device.site_id))
    role_label = _one(shared, ("role", device.role.value))
    province_label = _one(shared, ("province", province))
    up = _one(shared, (site_label, role_label, province_label))
    info = _one(shared, (site_label, role_label, _one(shared, ("profile", device.profile)),
                         province_label, _one(shared, ("district", district))))
    return up, info


def info_labels(base: Labels, sys_name: str, sys_descr: str,
                shared: SharedLabels | None = None) -> Labels:
    """The full ``pubnet_device_info`` label set: inventory labels plus what the device says
    about itself (SNMP's sysName/sysDescr; an MQTT gateway's firmware as ``sys_descr``).
    ``shared``: the caller's :data:`SharedLabels`, which keeps one ``sys_descr`` pair per
    distinct text (a model and firmware) instead of one per device."""
    descr = ("sys_descr", sys_descr)
    if shared is not None:
        descr = _one(shared, descr)
    return (*base, ("sys_name", sys_name), descr)


def status_observations(device: str, status: PollStatus, ts: float, source: Source,
                        up_labels: Labels, *, changed: bool) -> list[Observation]:
    """``pubnet_device_up`` and ``pubnet_device_poll_status`` for one attempt: the first
    two, ``up`` and this status's 1, are what every attempt refreshes.

    When the status ``changed`` (or is not known to be the same) every other status gets
    its 0 after those, so that the previous status's 1 does not linger. They come last
    (and :func:`attempt_batch` keeps them last) so that an unchanged attempt's batch is
    the changed one's beginning: the state store keeps a device's series in the order of
    its first batch, and stores a batch found there, in that order, in one slice
    (``StateStore._republish``); with the zeros in the middle, no steady poll was ever
    stored so.
    """
    out = [Observation(device, DEVICE_UP, 1.0 if status is PollStatus.OK else 0.0, ts, source,
                       up_labels),
           Observation(device, DEVICE_POLL_STATUS, 1.0, ts, source, _STATUS_LABELS[status])]
    if changed:
        out += [Observation(device, DEVICE_POLL_STATUS, 0.0, ts, source, labels)
                for other, labels in _STATUS_LABELS.items() if other is not status]
    return out


def attempt_batch(observations: list[Observation], statuses: list[Observation],
                  every_time: Iterable[Observation] = ()) -> list[Observation]:
    """One attempt's batch, in ``observations``: what was read, the two statuses every
    attempt refreshes, what else the collector sends every time (the SNMP poller: the
    poll's duration and the device's info), then a change's zeros (see
    :func:`status_observations`)."""
    observations += statuses[:2]
    observations.extend(every_time)
    observations += statuses[2:]
    return observations
