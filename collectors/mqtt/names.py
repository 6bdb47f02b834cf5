"""Metric and label names the MQTT collector writes.

Device metrics share their names with the SNMP collector so that dashboards and alerting do
not care how a value arrived; the collector's own health metrics are stored under the
pseudo-device ``pubnet``, like the SNMP collector's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# -- shared with the SNMP collector ---------------------------------------------------------
DEVICE_UP: Final = "pubnet_device_up"
"""gauge 0/1; labels site, role, province."""
DEVICE_UPTIME: Final = "pubnet_device_uptime_seconds"
DEVICE_INFO: Final = "pubnet_device_info"
"""gauge 1; for MQTT-profile devices, sys_descr is the reported firmware."""
AP_CLIENTS: Final = "pubnet_ap_clients"
"""gauge; label radio when the payload gives clients per radio."""
IF_RX_BYTES: Final = "pubnet_interface_receive_bytes_total"
IF_TX_BYTES: Final = "pubnet_interface_transmit_bytes_total"

# -- MQTT only ------------------------------------------------------------------------------
DEVICE_SIGNAL: Final = "pubnet_device_signal_dbm"
DEVICE_CPU: Final = "pubnet_device_cpu_ratio"
DEVICE_MEMORY: Final = "pubnet_device_memory_ratio"
DEVICE_TEMPERATURE: Final = "pubnet_device_temperature_celsius"

# -- the collector itself (device "pubnet") -------------------------------------------------
COLLECTOR_DEVICE: Final = "pubnet"
MESSAGES: Final = "pubnet_mqtt_messages_total"
"""counter; label result (see :class:`Result`)."""
CONNECTED: Final = "pubnet_mqtt_connected"
"""gauge 0/1: whether the subscriber holds a connection to the broker."""
RECONNECTS: Final = "pubnet_mqtt_reconnects_total"
"""counter: connections made after the first one (each follows an outage)."""
CONNECT_FAILURES: Final = "pubnet_mqtt_connect_failures_total"
"""counter: attempts to connect that failed."""
DEVICES_WATCHED: Final = "pubnet_mqtt_devices_watched"
"""gauge: devices whose heartbeats the collector is timing."""
BROKER_REFUSED: Final = "pubnet_mqtt_broker_refused_total"
"""counter; label reason: clients the embedded broker disconnected (see
:class:`collectors.mqtt.broker_guard.Refusal`)."""

LABEL_SITE: Final = "site"
LABEL_ROLE: Final = "role"
LABEL_PROVINCE: Final = "province"
LABEL_IFNAME: Final = "ifname"
LABEL_RADIO: Final = "radio"
LABEL_RESULT: Final = "result"
LABEL_REASON: Final = "reason"

DEFAULT_IFNAME: Final = "wan"
"""The ``ifname`` of ``rx_bytes``/``tx_bytes`` when the payload gives one plain number."""


class Result(StrEnum):
    """How one received message was handled: the ``result`` label of MESSAGES."""

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
