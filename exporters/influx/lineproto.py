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
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from inventory.model import Inventory
from pubnet.model import Observation


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


def _escape_tag(text: str) -> str:
    if not any(c in text for c in ",= \\\n\r"):
        return text
    out = []
    for i, ch in enumerate(text):
        if ch in ",= ":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\\" and (i + 1 == len(text) or text[i + 1] in ",= \\\n\r"):
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)


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


class LineEncoder:
    """Encodes observations; keeps no state but a cache of escaped tag prefixes."""

    CACHE_MAX = 500_000

    def __init__(self, inventory_tags: Mapping[str, tuple[tuple[str, str], ...]]) -> None:
        self._inventory_tags = inventory_tags
        self._prefix: dict[tuple[str, str, tuple[tuple[str, str], ...]], str | Rejected] = {}

    def encode(self, obs: Observation) -> str | RejectedPoint:
        """One line (without newline), or why the point was rejected."""
        value = obs.value
        if not math.isfinite(value):
            return RejectedPoint(Rejected.NON_FINITE, obs.device, obs.metric)
        key = (obs.device, obs.metric, obs.labels)
        prefix = self._prefix.get(key)
        if prefix is None:
            prefix = self._build_prefix(obs)
            if len(self._prefix) >= self.CACHE_MAX:
                self._prefix.clear()
            self._prefix[key] = prefix
        if isinstance(prefix, Rejected):
            return RejectedPoint(prefix, obs.device, obs.metric)
        # microseconds are exact in a float of Unix time; nanoseconds are not
        return f"{prefix} value={float(value)!r} {round(obs.ts * 1e6) * 1000}"

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
