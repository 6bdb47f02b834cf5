"""What each exported metric family is: its type and HELP text.

The names are the interface of issue 3 (SNMP) and the MQTT collector, repeated here as data
rather than imported: exporters never import collectors. A metric the table does not know is
still exported (a collector may add one before this table learns it): it is a counter when
its name ends in ``_total`` and a gauge otherwise, with a generic HELP line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"


METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family as it appears in the exposition.

    ``name`` is the sample name (counters end in ``_total``); :attr:`openmetrics_name` is the
    family name OpenMetrics wants in HELP/TYPE lines (``_total`` stripped for counters).
    """

    name: str
    kind: Kind
    help: str

    @property
    def openmetrics_name(self) -> str:
        if self.kind is Kind.COUNTER and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        return self.name

    def header(self, openmetrics: bool) -> bytes:
        """The HELP and TYPE lines that open this family's block."""
        name = self.openmetrics_name if openmetrics else self.name
        help_text = _escape_help(self.help, openmetrics)
        return f"# HELP {name} {help_text}\n# TYPE {name} {self.kind.value}\n".encode()


def _escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    if openmetrics:
        text = text.replace('"', '\\"')
    return text


_C, _G = Kind.COUNTER, Kind.GAUGE

KNOWN: dict[str, tuple[Kind, str]] = {
    # devices (SNMP, MQTT, ICMP collectors)
    "pubnet_device_up": (_G, "1 while the device answers its polls or heartbeats."),
    "pubnet_device_poll_status": (_G, "1 for the status the last poll of the device ended in."),
    "pubnet_device_uptime_seconds": (_G, "Time since the device booted (sysUpTime)."),
    "pubnet_device_info": (_G, "Device identity from inventory and the device itself "
                                "(SNMP system group, MQTT firmware); always 1."),
    "pubnet_device_poll_duration_seconds": (_G, "How long the last poll of the device took."),
    # interfaces
    "pubnet_interface_receive_bytes_total": (_C, "Bytes received on the interface."),
    "pubnet_interface_transmit_bytes_total": (_C, "Bytes transmitted on the interface."),
    "pubnet_interface_receive_errors_total": (_C, "Inbound packets with errors."),
    "pubnet_interface_transmit_errors_total": (_C, "Outbound packets with errors."),
    "pubnet_interface_receive_discards_total": (_C, "Inbound packets discarded."),
    "pubnet_interface_transmit_discards_total": (_C, "Outbound packets discarded."),
    "pubnet_interface_oper_up": (_G, "1 while the interface's operational status is up."),
    "pubnet_interface_admin_up": (_G, "1 while the interface is administratively up."),
    "pubnet_interface_speed_bps": (_G, "Interface speed in bits per second."),
    # access points
    "pubnet_ap_clients": (_G, "Wi-Fi clients associated with the access point."),
    "pubnet_ap_radio_channel": (_G, "Channel the radio is on."),
    "pubnet_ap_radio_tx_power_dbm": (_G, "Radio transmit power in dBm."),
    "pubnet_ap_radio_noise_dbm": (_G, "Radio noise floor in dBm."),
    "pubnet_ap_radio_frequency_mhz": (_G, "Radio centre frequency in MHz."),
    "pubnet_interface_info": (_G, "Interface identity (name, alias); always 1."),
    "pubnet_device_cpu_ratio": (_G, "CPU load reported by the device, 0 to 1."),
    "pubnet_device_memory_ratio": (_G, "Memory in use reported by the device, 0 to 1."),
    "pubnet_device_signal_dbm": (_G, "Uplink signal strength reported by the device in dBm."),
    "pubnet_device_temperature_celsius": (_G, "Device temperature in degrees Celsius."),
    # hosts
    "pubnet_host_cpu_load_percent": (_G, "CPU load in percent."),
    "pubnet_host_memory_bytes": (_G, "Memory installed in bytes."),
    "pubnet_host_memory_used_bytes": (_G, "Memory in use in bytes."),
    # probes
    "pubnet_probe_rtt_seconds": (_G, "ICMP round-trip time."),
    "pubnet_probe_loss_ratio": (_G, "ICMP probe loss, 0 to 1."),
    # collector internals (stored under device "pubnet")
    "pubnet_snmp_dropped_packets_total": (_C, "SNMP packets dropped by the collector, by reason."),
    "pubnet_snmp_requests_total": (_C, "SNMP requests sent."),
    "pubnet_snmp_retries_total": (_C, "SNMP requests retried."),
    "pubnet_snmp_traps_received_total": (_C, "SNMP traps and informs received."),
    "pubnet_mqtt_connected": (_G, "1 while pubnet is connected to the MQTT broker."),
    "pubnet_mqtt_devices_watched": (_G, "Devices the MQTT collector expects telemetry from."),
    "pubnet_mqtt_messages_total": (_C, "MQTT messages received, by outcome."),
    "pubnet_mqtt_reconnects_total": (_C, "Reconnections to the MQTT broker."),
    "pubnet_mqtt_connect_failures_total": (_C, "Failed attempts to connect to the broker."),
    "pubnet_mqtt_broker_refused_total": (
        _C, "Clients the embedded MQTT broker disconnected, by reason."),
    # InfluxDB writer (stored under device "pubnet")
    "pubnet_influx_points_written_total": (_C, "Points delivered to InfluxDB."),
    "pubnet_influx_points_dropped_total": (_C, "Points not delivered to InfluxDB, by reason."),
    "pubnet_influx_buffer_bytes": (_G, "Bytes waiting in the InfluxDB on-disk buffer."),
    "pubnet_influx_buffer_points": (_G, "Points waiting in the InfluxDB on-disk buffer."),
    # inventory-derived (this exporter)
    "pubnet_site_up": (
        _G,
        "1 while the site's gateway and at least one access point are up "
        "(a site without access points follows its gateway).",
    ),
    "pubnet_site_info": (_G, "Site identity, location and Thai/English area names from the "
                             "inventory; always 1."),
    "pubnet_link_up": (_G, "1 while the link's a-side interface is operationally up; no "
                           "sample while pubnet cannot observe that interface."),
    "pubnet_link_utilization_ratio": (
        _G,
        "Link traffic over capacity, from the a-side interface byte counters.",
    ),
}


class FamilyTable:
    """Resolves a metric name to its :class:`Family`, once per name.

    Returns None for names that are not valid Prometheus metric names; callers count and
    skip those series instead of corrupting the exposition.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Family | None] = {}

    def get(self, metric: str) -> Family | None:
        try:
            return self._cache[metric]
        except KeyError:
            pass
        family: Family | None = None
        if METRIC_NAME.match(metric):
            known = KNOWN.get(metric)
            if known is not None:
                family = Family(metric, known[0], known[1])
            elif metric.endswith("_total"):
                family = Family(metric, Kind.COUNTER, f"{metric} (pubnet).")
            else:
                family = Family(metric, Kind.GAUGE, f"{metric} (pubnet).")
        self._cache[metric] = family
        return family
