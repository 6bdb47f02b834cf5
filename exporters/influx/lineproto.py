"""Observations as InfluxDB line protocol.

One point per observation (timestamp in nanoseconds, exact to the microsecond the float
holds): measurement = metric family (``pubnet_ap_clients``), tags =
``device`` plus the device's ``site`` and ``province`` from the inventory plus the
observation's own labels (``ifname``, ``radio``...), one float field ``value``, and the
observation's timestamp in nanoseconds. Tag keys are sorted, as InfluxDB prefers.

Escaping follows the line-protocol rules: commas, spaces and equals signs are backslash
escaped in tag keys and values, commas and spaces in measurements. A newline cannot appear in
a point at all, so it is written as the two characters ``\\n`` (and a carriage return as
``\\r``); a backslash that would otherwise escape what follows is doubled. Thai text is plain
UTF-8. Values that InfluxDB cannot store (NaN, ±Inf) and empty names are rejected with a
reason instead of corrupting the batch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from inventory.model import Inventory
from pubnet.model import Labels, Observation


class Rejected(StrEnum):
    """Why an observation was not written; the label of the drop counter."""

    NON_FINITE = "non_finite_value"
    EMPTY_NAME = "empty_name"
    RESERVED_TAG = "reserved_tag"


RESERVED_TAGS = frozenset({"_measurement", "_field", "_value", "_start", "_stop", "time"})


@dataclass(frozen=True, slots=True)
class RejectedPoint:
    reason: Rejected
    device: str
    metric: str


_TAG_SPECIAL = re.compile(r"[,= \\\n\r]")
_TAG_HARD = re.compile(r"[\\\n\r]")
_TAG_ESCAPE = re.compile(r"[,= \n\r]|\\(?=[,= \\\n\r]|\Z)")
_TAG_REPLACEMENT = {",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\n", "\r": "\\r",
                    "\\": "\\\\"}


def _escape_tag(text: str) -> str:
    """Commas, equals signs and spaces backslash escaped; a newline or carriage return
    as ``\\n``/``\\r``; a backslash doubled when it would escape what follows it (or
    ends the text)."""
    if _TAG_SPECIAL.search(text) is None:
        return text
    if _TAG_HARD.search(text) is None:  # the usual case: spaces in a description
        return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
    return _TAG_ESCAPE.sub(lambda match: _TAG_REPLACEMENT[match.group()], text)


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace(
        "\n", "\\n")


def device_tags(inventory: Inventory) -> dict[str, tuple[tuple[str, str], ...]]:
    """Inventory tags per device (site, province), resolved once at start."""
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for device in inventory.devices.values():
        province = inventory.province_of(device)  # a provincial node or core has no site
        tags = [("site", device.site_id)]
        if province:
            tags.append(("province", province))
        out[device.device_id] = tuple(tags)
    return out


_SLOTS = ("device", "province", "site")
"""Tags every point may carry besides its labels, in sorted order: the observation's device
and the device's inventory tags (see :func:`device_tags`)."""
_SLOT_SET = frozenset(_SLOTS)

_Template = tuple[str, str, str, str]
"""A series prefix around the three slots: measurement and the labels sorting before
``device``, the labels between ``device`` and ``province``, between ``province`` and
``site``, and after ``site``."""
_DeviceTags = tuple[str, str, str]
"""``,device=…``, ``,province=…``, ``,site=…`` of one device (empty when it has none)."""


class LineEncoder:
    """Encodes observations; keeps no state but caches of escaped tag pieces.

    Tag keys are sorted, so the device's tags (``device``, ``province``, ``site``) fall at
    fixed places among a series' labels: a prefix is a template per (metric, labels), shared
    by every device with that label set, and three pieces per device. Memory grows with the
    distinct label sets and the devices, not with the series (5 M at 100,000 devices).
    Labels that override a device tag (a label named ``site``) take the slower, per-series
    path.

    The template and per-series caches are bounded (cleared when full) at 100,000 entries,
    ~60 MB each: the label sets many devices share (``ifname="eth0"``: a few thousand in a
    national fleet) come back at once, and those one device has (``ifalias``,
    ``pubnet_device_info``'s, ``pubnet_device_up``'s site: ~8 per device) stay cached up
    to ~15,000 devices. Beyond, they are rebuilt per poll (~3 µs each) whatever the bound:
    at 500,000 entries they filled and cleared it every round at 100,000 devices, so it
    held ~600 bytes per entry (~80 bytes per series) for nothing.
    """

    CACHE_MAX = 100_000
    DEVICES_MAX = 500_000

    def __init__(self, inventory_tags: Mapping[str, tuple[tuple[str, str], ...]]) -> None:
        self._inventory_tags = inventory_tags
        self._templates: dict[tuple[str, Labels], _Template | Rejected | None] = {}
        self._devices: dict[str, _DeviceTags | Rejected] = {}
        self._prefix: dict[tuple[str, str, Labels], str | Rejected] = {}

    def encode(self, obs: Observation) -> str | RejectedPoint:
        """One line (without newline), or why the point was rejected."""
        out: list[str] = []
        rejected = self.encode_into((obs,), out)
        return rejected[0] if rejected else out[0]

    def encode_into(self, observations: Sequence[Observation],
                    out: list[str]) -> list[RejectedPoint]:
        """Append one line (without newline) per observation to ``out``, in order; return
        the observations rejected, with why."""
        rejected: list[RejectedPoint] = []
        templates = self._templates
        devices = self._devices
        isfinite = math.isfinite
        append = out.append
        last_ts = -1.0
        stamp = ""
        for obs in observations:
            device, metric, value, ts, _source, labels = obs
            if not isfinite(value):
                rejected.append(RejectedPoint(Rejected.NON_FINITE, device, metric))
                continue
            if ts != last_ts:
                last_ts = ts
                # microseconds are exact in a float of Unix time; nanoseconds are not
                stamp = str(round(ts * 1e6) * 1000)
            template = templates.get((metric, labels), False)
            if template is False:
                template = self._template(metric, labels)
            tags = devices.get(device)
            if tags is None:
                tags = self._device(device)
            if type(template) is tuple and type(tags) is tuple:
                append(f"{template[0]}{tags[0]}{template[1]}{tags[1]}{template[2]}"
                       f"{tags[2]}{template[3]} value={float(value)!r} {stamp}")
                continue
            reason = (tags if isinstance(tags, Rejected)
                      else template if isinstance(template, Rejected) else None)
            prefix = reason if reason is not None else self._series_prefix(obs)
            if isinstance(prefix, Rejected):
                rejected.append(RejectedPoint(prefix, device, metric))
                continue
            append(f"{prefix} value={float(value)!r} {stamp}")
        return rejected

    def _template(self, metric: str, labels: Labels) -> _Template | Rejected | None:
        """The template of a label set; None when a label overrides a device tag."""
        template: _Template | Rejected | None
        if not metric:
            template = Rejected.EMPTY_NAME
        else:
            template = _build_template(metric, labels)
        if len(self._templates) >= self.CACHE_MAX:
            self._templates.clear()
        self._templates[(metric, labels)] = template
        return template

    def _device(self, device: str) -> _DeviceTags | Rejected:
        tags: _DeviceTags | Rejected
        if not device:
            tags = Rejected.EMPTY_NAME
        else:
            known = dict(self._inventory_tags.get(device, ()))
            known["device"] = device
            tags = cast(_DeviceTags, tuple(
                f",{name}={_escape_tag(known[name])}" if known.get(name) else ""
                for name in _SLOTS))
        if len(self._devices) >= self.DEVICES_MAX:
            self._devices.clear()
        self._devices[device] = tags
        return tags

    def _series_prefix(self, obs: Observation) -> str | Rejected:
        key = (obs.device, obs.metric, obs.labels)
        prefix = self._prefix.get(key)
        if prefix is None:
            prefix = self._build_prefix(obs)
            if len(self._prefix) >= self.CACHE_MAX:
                self._prefix.clear()
            self._prefix[key] = prefix
        return prefix

    def _build_prefix(self, obs: Observation) -> str | Rejected:
        if not obs.metric or not obs.device:
            return Rejected.EMPTY_NAME
        tags: dict[str, str] = dict(self._inventory_tags.get(obs.device, ()))
        for name, value in obs.labels:
            if name in RESERVED_TAGS:
                return Rejected.RESERVED_TAG
            if not name:
                return Rejected.EMPTY_NAME
            tags[name] = value
        tags["device"] = obs.device
        parts = [_escape_measurement(obs.metric)]
        for name in sorted(tags):
            value = tags[name]
            if value == "":
                continue  # line protocol has no empty tag values; absent means the same
            parts.append(f"{_escape_tag(name)}={_escape_tag(value)}")
        return ",".join(parts)


def _build_template(metric: str, labels: Labels) -> _Template | Rejected | None:
    tags = dict(labels)
    if "" in tags or not RESERVED_TAGS.isdisjoint(tags) or not _SLOT_SET.isdisjoint(tags):
        return _build_template_checked(metric, labels)  # rare: say which label is wrong
    groups: tuple[list[str], list[str], list[str], list[str]] = (
        [_escape_measurement(metric)], [], [], [])
    for name in sorted(tags):
        value = tags[name]
        if value == "":
            continue  # line protocol has no empty tag values; absent means the same
        # the device's tags fall between the labels, in sorted order: device, province, site
        group = 0 if name < "device" else 1 if name < "province" else 2 if name < "site" else 3
        groups[group].append(f",{_escape_tag(name)}={_escape_tag(value)}")
    first, between_device, between_province, last = ("".join(g) for g in groups)
    return first, between_device, between_province, last


def _build_template_checked(metric: str, labels: Labels) -> Rejected | None:
    """Why a label set has no template: the first offending label, in label order."""
    for name, _ in labels:
        if name in RESERVED_TAGS:
            return Rejected.RESERVED_TAG
        if not name:
            return Rejected.EMPTY_NAME
        if name in _SLOTS:
            return None  # overrides a device tag: the per-series path
    raise AssertionError(f"{metric} {labels!r} has no offending label")
