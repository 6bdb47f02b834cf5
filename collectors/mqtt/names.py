"""Label values of the MQTT collector's own metrics, and its default interface name.

The metric and label names it writes are in the metric catalog (:mod:`pubnet.catalog`):
device metrics share their names with the SNMP collector, so that dashboards and alerting
do not care how a value arrived, and the collector's own metrics are stored under the
pseudo-device :data:`pubnet.catalog.PUBNET_DEVICE`, like the SNMP collector's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DEFAULT_IFNAME: Final = "wan"
"""The ``ifname`` of ``rx_bytes``/``tx_bytes`` when the payload gives one plain number."""


class Result(StrEnum):
    """How one received message was handled: the ``result`` label of
    ``pubnet_mqtt_messages_total``."""

    OK = "ok"
    MALFORMED = "malformed"
    """Not JSON, wrong types or values out of range, or a status other than online/offline."""
    BAD_TOPIC = "bad_topic"
    """The topic is outside schema v1."""
    UNKNOWN_DEVICE = "unknown_device"
    """The site or device is not in the inventory, or the device is not at that site."""
    OVERSIZE = "oversize"
    STALE = "stale"
    """``ts`` is older than ``mqtt.max_age``."""
    CLOCK_SKEW = "clock_skew"
    """``ts`` is further in the future than ``mqtt.max_clock_skew``."""
    DUPLICATE = "duplicate"
    """A QoS 1 redelivery of a message already stored (see ``redelivery.py``)."""
    ERROR = "error"
    """A bug in pubnet while handling the message (logged with a traceback)."""
