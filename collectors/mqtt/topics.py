"""Topic schema v1: which topics pubnet reads and what their levels mean.

``pubnet/v1/telemetry/{site_id}/{device_id}`` carries JSON telemetry and
``pubnet/v1/status/{site_id}/{device_id}`` a retained ``online``/``offline``. The version is
a topic level so that a v2 can run beside v1 during a fleet upgrade.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

ROOT: Final = "pubnet"
VERSION: Final = "v1"


class Kind(StrEnum):
    TELEMETRY = "telemetry"
    STATUS = "status"


def filters(shared_group: str | None = None) -> tuple[str, ...]:
    """The subscription filters; telemetry as ``$share/<group>/...`` when a group is given.

    Status stays an ordinary subscription even then: it is a message per connect or
    disconnect, not per interval, and every instance must see every last will. Brokers also
    do not send retained messages to shared subscriptions, so a shared status filter would
    miss the ``offline`` a device left before the instance started.
    """
    telemetry = f"{ROOT}/{VERSION}/{Kind.TELEMETRY.value}/+/+"
    status = f"{ROOT}/{VERSION}/{Kind.STATUS.value}/+/+"
    if shared_group is None:
        return telemetry, status
    return f"$share/{shared_group}/{telemetry}", status


def telemetry_topic(site_id: str, device_id: str) -> str:
    return f"{ROOT}/{VERSION}/{Kind.TELEMETRY.value}/{site_id}/{device_id}"


def status_topic(site_id: str, device_id: str) -> str:
    return f"{ROOT}/{VERSION}/{Kind.STATUS.value}/{site_id}/{device_id}"


def parse_topic(topic: str) -> tuple[Kind, str, str] | None:
    """``(kind, site_id, device_id)``, or None for a topic outside schema v1."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != ROOT or parts[1] != VERSION:
        return None
    kind = parts[2]
    if kind == "telemetry":
        parsed = Kind.TELEMETRY
    elif kind == "status":
        parsed = Kind.STATUS
    else:
        return None
    site, device = parts[3], parts[4]
    if not site or not device:
        return None
    return parsed, site, device
