"""The metric catalog: every metric pubnet exports, described once.

Metric names are an interface (dashboards, alerting rules, reports and other people's
queries depend on them), and they used to be spelled out in about ten places, each with its
own idea of a metric's type and HELP text. This module is the one place: one :class:`Metric`
record per name with its kind, unit, HELP, label names and the parts of pubnet that produce
it.

- Producers and consumers import the names from here as plain ``str`` constants
  (``from pubnet.catalog import DEVICE_UP``): a hot path pays a global lookup per
  observation, as it did with its own literals, never an attribute lookup on a record.
- The Prometheus exporter takes each family's type and HELP from :data:`METRICS`.
- SNMP profiles are checked against it at load: a profile metric must be in the catalog,
  produced by SNMP, and of the kind written here.
- ``tests/shell/test_catalog.py`` checks the metric tables of the docs against it both ways, and
  the Grafana dashboards' lint checks every query against it.

``pubnet``'s own metrics (collectors' counters, the Influx writer's and alerting's) are
stored under the pseudo-device :data:`PUBNET_DEVICE`.

This module is part of the ground layer: it imports nothing of pubnet's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Kind(StrEnum):
    """What a metric's value means, as OpenMetrics names it."""

    COUNTER = "counter"
    """A total that never decreases while pubnet runs; the name ends in ``_total``."""
    GAUGE = "gauge"
    INFO = "info"
    """Always 1; the value is in the labels. The name ends in ``_info``. Exposed with TYPE
    ``gauge``, which both text formats accept for it."""
    HISTOGRAM = "histogram"
    """Exposed as ``_bucket``, ``_count`` and ``_sum`` series."""


class Producer(StrEnum):
    """The part of pubnet that writes a metric."""

    SNMP = "snmp"
    """The SNMP poller (``collectors/snmp``), from its profiles and its own counters."""
    TRAPS = "traps"
    ICMP = "icmp"
    MQTT = "mqtt"
    PROMETHEUS = "prometheus"
    """The Prometheus exporter: inventory-derived families, device status it derives for
    devices whose collector published none, and its own health."""
    INFLUXDB = "influxdb"
    ALERTING = "alerting"
    HISTORY = "history"
    """The status-history recorder (``dashboards/reports``) the planners' reports read."""
    RUNTIME = "runtime"
    """``pubnet run`` itself (``pubnet/app``): its reloads."""
    CLUSTER = "cluster"
    """Sharded pubnet: the shards' state publisher (``exporters/mqttstate``) and the
    alerting instance's state feed (``collectors/statefeed``)."""
    RULES = "rules"
    """Prometheus recording rules written by ``pubnet alerts rules``: Prometheus computes
    these series, pubnet names them."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family."""

    name: str
    """The sample name as scraped: a counter's ends in ``_total``, a histogram's is the
    family name (its series add ``_bucket``, ``_count``, ``_sum``)."""
    kind: Kind
    unit: str
    """The unit suffix the name carries (``seconds``, ``bytes``, ``ratio``, ...); empty for
    counts and 0/1 values."""
    help: str
    """The HELP line of the exposition."""
    labels: tuple[str, ...]
    """Every label a sample may carry (``device`` included where the series belongs to a
    device or to pubnet itself); one collector may write a subset."""
    producers: tuple[Producer, ...]


PUBNET_DEVICE: Final = "pubnet"
"""The ``device`` under which pubnet's own metrics are stored and exported."""

# -- label names ----------------------------------------------------------------------------
LABEL_DEVICE: Final = "device"
LABEL_SITE: Final = "site"
LABEL_ROLE: Final = "role"
LABEL_PROVINCE: Final = "province"
LABEL_DISTRICT: Final = "district"
LABEL_PROFILE: Final = "profile"
LABEL_SYS_NAME: Final = "sys_name"
LABEL_SYS_DESCR: Final = "sys_descr"
LABEL_STATUS: Final = "status"
LABEL_IFNAME: Final = "ifname"
LABEL_IFALIAS: Final = "ifalias"
LABEL_RADIO: Final = "radio"
LABEL_VAP: Final = "vap"
LABEL_CPU: Final = "cpu"
LABEL_REASON: Final = "reason"
LABEL_RESULT: Final = "result"
LABEL_TRAP: Final = "trap"
LABEL_CHANNEL: Final = "channel"
LABEL_SOURCE: Final = "source"
LABEL_SUBSCRIBER: Final = "subscriber"
LABEL_ERROR: Final = "error"
LABEL_LINK: Final = "link"
LABEL_DIRECTION: Final = "direction"
LABEL_SHARD: Final = "shard"
LABEL_SOCKET: Final = "socket"

# -- devices (SNMP, ICMP, MQTT collectors) --------------------------------------------------
DEVICE_UP: Final = "pubnet_device_up"
DEVICE_POLL_STATUS: Final = "pubnet_device_poll_status"
DEVICE_UPTIME: Final = "pubnet_device_uptime_seconds"
DEVICE_INFO: Final = "pubnet_device_info"
DEVICE_POLL_DURATION: Final = "pubnet_device_poll_duration_seconds"
DEVICE_SIGNAL: Final = "pubnet_device_signal_dbm"
DEVICE_CPU: Final = "pubnet_device_cpu_ratio"
DEVICE_MEMORY: Final = "pubnet_device_memory_ratio"
DEVICE_TEMPERATURE: Final = "pubnet_device_temperature_celsius"

# -- interfaces -----------------------------------------------------------------------------
IF_RX_BYTES: Final = "pubnet_interface_receive_bytes_total"
IF_TX_BYTES: Final = "pubnet_interface_transmit_bytes_total"
IF_RX_ERRORS: Final = "pubnet_interface_receive_errors_total"
IF_TX_ERRORS: Final = "pubnet_interface_transmit_errors_total"
IF_RX_DISCARDS: Final = "pubnet_interface_receive_discards_total"
IF_TX_DISCARDS: Final = "pubnet_interface_transmit_discards_total"
IF_OPER_UP: Final = "pubnet_interface_oper_up"
IF_ADMIN_UP: Final = "pubnet_interface_admin_up"
IF_SPEED: Final = "pubnet_interface_speed_bps"
IF_INFO: Final = "pubnet_interface_info"

# -- access points, hosts, probes -----------------------------------------------------------
AP_CLIENTS: Final = "pubnet_ap_clients"
AP_RADIO_CHANNEL: Final = "pubnet_ap_radio_channel"
AP_RADIO_FREQUENCY: Final = "pubnet_ap_radio_frequency_mhz"
AP_RADIO_TX_POWER: Final = "pubnet_ap_radio_tx_power_dbm"
AP_RADIO_NOISE: Final = "pubnet_ap_radio_noise_dbm"
HOST_CPU_LOAD: Final = "pubnet_host_cpu_load_percent"
HOST_MEMORY_TOTAL: Final = "pubnet_host_memory_bytes"
HOST_MEMORY_USED: Final = "pubnet_host_memory_used_bytes"
PROBE_RTT: Final = "pubnet_probe_rtt_seconds"
PROBE_LOSS: Final = "pubnet_probe_loss_ratio"

# -- the collectors themselves (device "pubnet") --------------------------------------------
SNMP_REQUESTS: Final = "pubnet_snmp_requests_total"
SNMP_RETRIES: Final = "pubnet_snmp_retries_total"
SNMP_DROPPED_PACKETS: Final = "pubnet_snmp_dropped_packets_total"
POLLS_IN_FLIGHT: Final = "pubnet_polls_in_flight"
POLL_LAG: Final = "pubnet_poll_lag_seconds"
TRAPS_RECEIVED: Final = "pubnet_snmp_traps_received_total"
SOCKET_RECEIVE_DROPS: Final = "pubnet_socket_receive_drops_total"
MQTT_MESSAGES: Final = "pubnet_mqtt_messages_total"
MQTT_CONNECTED: Final = "pubnet_mqtt_connected"
MQTT_RECONNECTS: Final = "pubnet_mqtt_reconnects_total"
MQTT_CONNECT_FAILURES: Final = "pubnet_mqtt_connect_failures_total"
MQTT_DEVICES_WATCHED: Final = "pubnet_mqtt_devices_watched"
MQTT_BROKER_REFUSED: Final = "pubnet_mqtt_broker_refused_total"

# -- sharded pubnet: device status over the broker (device "pubnet") ------------------------
STATE_PUBLISHED: Final = "pubnet_state_messages_published_total"
STATE_CONNECTED: Final = "pubnet_state_connected"
STATE_RECEIVED: Final = "pubnet_state_messages_received_total"
STATE_REJECTED: Final = "pubnet_state_messages_rejected_total"
SHARD_UP: Final = "pubnet_shard_up"
SHARDS_ONLINE: Final = "pubnet_shards_online"

# -- exporters and alerting (device "pubnet") -----------------------------------------------
INFLUX_POINTS_WRITTEN: Final = "pubnet_influx_points_written_total"
INFLUX_POINTS_DROPPED: Final = "pubnet_influx_points_dropped_total"
INFLUX_BUFFER_BYTES: Final = "pubnet_influx_buffer_bytes"
INFLUX_BUFFER_POINTS: Final = "pubnet_influx_buffer_points"
ALERTING_INCIDENTS_OPEN: Final = "pubnet_alerting_incidents_open"
ALERTING_DELIVERED: Final = "pubnet_alerting_messages_delivered_total"
ALERTING_DELIVERY_FAILURES: Final = "pubnet_alerting_delivery_failures_total"
ALERTING_OUTBOX_PENDING: Final = "pubnet_alerting_outbox_pending"
ALERT_MESSAGES_HELD: Final = "pubnet_alert_messages_held_total"
ALERT_CHAT_ACTIONS: Final = "pubnet_alert_chat_actions_total"
HISTORY_ROWS_WRITTEN: Final = "pubnet_history_rows_written_total"
HISTORY_DROPPED: Final = "pubnet_history_dropped_total"
HISTORY_WRITE_ERRORS: Final = "pubnet_history_write_errors_total"
HISTORY_PENDING: Final = "pubnet_history_pending"

# -- pubnet run itself (device "pubnet") ------------------------------------------------------
CONFIG_LAST_RELOAD_SUCCESSFUL: Final = "pubnet_config_last_reload_successful"

# -- inventory-derived (the Prometheus exporter) --------------------------------------------
SITE_UP: Final = "pubnet_site_up"
SITE_INFO: Final = "pubnet_site_info"
LINK_UP: Final = "pubnet_link_up"
LINK_UTILIZATION: Final = "pubnet_link_utilization_ratio"

# -- the Prometheus exporter's own health (rendered with prometheus-client) ---------------
POLL_DURATION: Final = "pubnet_poll_duration_seconds"
STATE_DROPPED: Final = "pubnet_state_dropped_total"
STATE_PENDING: Final = "pubnet_state_pending"
EXPORTER_SCRAPE_DURATION: Final = "pubnet_exporter_scrape_duration_seconds"
EXPORTER_SERIES: Final = "pubnet_exporter_series"
EXPORTER_SCRAPES: Final = "pubnet_exporter_scrapes_total"
EXPORTER_DROPPED_SERIES: Final = "pubnet_exporter_dropped_series_total"
EXPORTER_CONNECTIONS: Final = "pubnet_exporter_connections"
EXPORTER_CONNECTIONS_LIMIT: Final = "pubnet_exporter_connections_limit"
EXPORTER_CONNECTIONS_CLOSED: Final = "pubnet_exporter_connections_closed_total"
EXPORTER_ACCEPT_ERRORS: Final = "pubnet_exporter_accept_errors_total"
EXPORTER_AUTH_FAILURES: Final = "pubnet_exporter_auth_failures_total"
EXPORTER_AUTH_CHECKS: Final = "pubnet_exporter_auth_checks_total"

# -- recording rules (`pubnet alerts rules`) ------------------------------------------------
TOPOLOGY_INFO: Final = "pubnet_topology_info"
LINK_TOPOLOGY_INFO: Final = "pubnet_link_topology_info"

_C, _G, _I, _H = Kind.COUNTER, Kind.GAUGE, Kind.INFO, Kind.HISTOGRAM
_SNMP, _TRAPS, _ICMP, _MQTT = Producer.SNMP, Producer.TRAPS, Producer.ICMP, Producer.MQTT
_PROM, _INFLUX, _ALERT = Producer.PROMETHEUS, Producer.INFLUXDB, Producer.ALERTING
_HIST = Producer.HISTORY
_D = LABEL_DEVICE
_IF = (_D, LABEL_IFNAME)
_RADIO = (_D, LABEL_RADIO, LABEL_VAP)
_AREA = (LABEL_PROVINCE, LABEL_DISTRICT)

METRICS: Final[tuple[Metric, ...]] = (
    # devices
    Metric(DEVICE_UP, _G, "", "1 while the device answers its polls or heartbeats.",
           (_D, LABEL_SITE, LABEL_ROLE, LABEL_PROVINCE), (_SNMP, _ICMP, _MQTT, _PROM)),
    Metric(DEVICE_POLL_STATUS, _G, "", "1 for the status the last poll of the device ended in.",
           (_D, LABEL_STATUS), (_SNMP, _ICMP, _PROM)),
    Metric(DEVICE_POLL_DURATION, _G, "seconds", "How long the last poll of the device took.",
           (_D,), (_SNMP,)),
    Metric(DEVICE_UPTIME, _G, "seconds", "Time since the device booted (sysUpTime).",
           (_D,), (_SNMP, _TRAPS, _MQTT)),
    Metric(DEVICE_INFO, _I, "", "Device identity from inventory and the device itself "
                                "(SNMP system group, MQTT firmware); always 1.",
           (_D, LABEL_SITE, LABEL_ROLE, LABEL_PROFILE, *_AREA, LABEL_SYS_NAME, LABEL_SYS_DESCR),
           (_SNMP, _MQTT)),
    Metric(DEVICE_SIGNAL, _G, "dbm", "Uplink signal strength reported by the device in dBm.",
           (_D,), (_MQTT,)),
    Metric(DEVICE_CPU, _G, "ratio", "CPU load reported by the device, 0 to 1.", (_D,), (_MQTT,)),
    Metric(DEVICE_MEMORY, _G, "ratio", "Memory in use reported by the device, 0 to 1.", (_D,),
           (_MQTT,)),
    Metric(DEVICE_TEMPERATURE, _G, "celsius", "Device temperature in degrees Celsius.", (_D,),
           (_MQTT,)),
    # interfaces
    Metric(IF_RX_BYTES, _C, "bytes", "Bytes received on the interface.", _IF, (_SNMP, _MQTT)),
    Metric(IF_TX_BYTES, _C, "bytes", "Bytes sent on the interface.", _IF, (_SNMP, _MQTT)),
    Metric(IF_RX_ERRORS, _C, "", "Inbound packets with errors.", _IF, (_SNMP,)),
    Metric(IF_TX_ERRORS, _C, "", "Outbound packets with errors.", _IF, (_SNMP,)),
    Metric(IF_RX_DISCARDS, _C, "", "Inbound packets discarded.", _IF, (_SNMP,)),
    Metric(IF_TX_DISCARDS, _C, "", "Outbound packets discarded.", _IF, (_SNMP,)),
    Metric(IF_OPER_UP, _G, "", "1 while the interface's operational status is up.", _IF,
           (_SNMP, _TRAPS)),
    Metric(IF_ADMIN_UP, _G, "", "1 while the interface is administratively up.", _IF, (_SNMP,)),
    Metric(IF_SPEED, _G, "bps", "Interface speed in bits per second.", _IF, (_SNMP,)),
    Metric(IF_INFO, _I, "", "Interface identity (name, alias); always 1.",
           (*_IF, LABEL_IFALIAS), (_SNMP,)),
    # access points
    Metric(AP_CLIENTS, _G, "", "Wi-Fi clients associated with the access point.", _RADIO,
           (_SNMP, _MQTT)),
    Metric(AP_RADIO_CHANNEL, _G, "", "Channel the radio is on.", _RADIO, (_SNMP,)),
    Metric(AP_RADIO_FREQUENCY, _G, "mhz", "Radio centre frequency in MHz.", _RADIO, (_SNMP,)),
    Metric(AP_RADIO_TX_POWER, _G, "dbm", "Radio transmit power in dBm.", _RADIO, (_SNMP,)),
    Metric(AP_RADIO_NOISE, _G, "dbm", "Radio noise floor in dBm.", _RADIO, (_SNMP,)),
    # hosts
    Metric(HOST_CPU_LOAD, _G, "percent", "CPU load in percent.", (_D, LABEL_CPU), (_SNMP,)),
    Metric(HOST_MEMORY_TOTAL, _G, "bytes", "Memory installed in bytes.", (_D,), (_SNMP,)),
    Metric(HOST_MEMORY_USED, _G, "bytes", "Memory in use in bytes.", (_D,), (_SNMP,)),
    # probes
    Metric(PROBE_RTT, _G, "seconds", "ICMP round-trip time.", (_D,), (_ICMP,)),
    Metric(PROBE_LOSS, _G, "ratio", "ICMP probe loss, 0 to 1.", (_D,), (_ICMP,)),
    # the SNMP poller and trap receiver (device "pubnet")
    Metric(SNMP_REQUESTS, _C, "", "SNMP requests sent (retries included).", (_D,), (_SNMP,)),
    Metric(SNMP_RETRIES, _C, "", "SNMP requests re-sent after a timeout.", (_D,), (_SNMP,)),
    Metric(SNMP_DROPPED_PACKETS, _C, "", "SNMP packets dropped by the collector, by reason.",
           (_D, LABEL_REASON), (_SNMP, _TRAPS)),
    Metric(POLLS_IN_FLIGHT, _G, "", "Devices the SNMP poller is polling right now.", (_D,),
           (_SNMP,)),
    Metric(POLL_LAG, _G, "seconds",
           "How far the most overdue scheduled poll is behind its due time.", (_D,),
           (_SNMP, _PROM)),
    Metric(TRAPS_RECEIVED, _C, "", "SNMP traps and informs received, by kind.",
           (_D, LABEL_TRAP), (_TRAPS,)),
    Metric(SOCKET_RECEIVE_DROPS, _C, "",
           "Datagrams the kernel dropped from a collector's socket (its receive buffer was "
           "full while pubnet was busy), by socket (icmp, traps).", (_D, LABEL_SOCKET),
           (_TRAPS, _ICMP)),
    # the MQTT collector and embedded broker (device "pubnet")
    Metric(MQTT_MESSAGES, _C, "", "MQTT messages received, by outcome.", (_D, LABEL_RESULT),
           (_MQTT,)),
    Metric(MQTT_CONNECTED, _G, "", "1 while pubnet is connected to the MQTT broker.", (_D,),
           (_MQTT,)),
    Metric(MQTT_RECONNECTS, _C, "", "Reconnections to the MQTT broker.", (_D,), (_MQTT,)),
    Metric(MQTT_CONNECT_FAILURES, _C, "", "Failed attempts to connect to the broker.", (_D,),
           (_MQTT,)),
    Metric(MQTT_DEVICES_WATCHED, _G, "", "Devices the MQTT collector expects telemetry from.",
           (_D,), (_MQTT,)),
    Metric(MQTT_BROKER_REFUSED, _C, "",
           "Clients the embedded MQTT broker disconnected, by reason.", (_D, LABEL_REASON),
           (_MQTT,)),
    # the InfluxDB writer (device "pubnet")
    Metric(INFLUX_POINTS_WRITTEN, _C, "", "Points delivered to InfluxDB.", (_D,), (_INFLUX,)),
    Metric(INFLUX_POINTS_DROPPED, _C, "", "Points not delivered to InfluxDB, by reason.",
           (_D, LABEL_REASON), (_INFLUX,)),
    Metric(INFLUX_BUFFER_BYTES, _G, "bytes", "Bytes waiting in the InfluxDB on-disk buffer.",
           (_D,), (_INFLUX,)),
    Metric(INFLUX_BUFFER_POINTS, _G, "", "Points waiting in the InfluxDB on-disk buffer.",
           (_D,), (_INFLUX,)),
    # alerting (device "pubnet")
    Metric(ALERTING_INCIDENTS_OPEN, _G, "", "Incidents firing or acknowledged.", (_D,),
           (_ALERT,)),
    Metric(ALERTING_DELIVERED, _C, "", "Alert messages delivered, by channel.",
           (_D, LABEL_CHANNEL), (_ALERT,)),
    Metric(ALERTING_DELIVERY_FAILURES, _C, "",
           "Failed attempts to deliver an alert message, by channel.", (_D, LABEL_CHANNEL),
           (_ALERT,)),
    Metric(ALERTING_OUTBOX_PENDING, _G, "", "Alert messages waiting to be sent, by channel.",
           (_D, LABEL_CHANNEL), (_ALERT,)),
    Metric(ALERT_MESSAGES_HELD, _C, "",
           "Alert messages held back by a budget or folded into a digest, by channel.",
           (_D, LABEL_CHANNEL, LABEL_REASON), (_ALERT,)),
    Metric(ALERT_CHAT_ACTIONS, _C, "",
           "Button presses received from LINE and Telegram, by channel and result.",
           (_D, LABEL_CHANNEL, LABEL_RESULT), (_ALERT,)),
    # the status history (device "pubnet")
    Metric(HISTORY_ROWS_WRITTEN, _C, "",
           "Device, site and link status changes committed to the history database.", (_D,),
           (_HIST,)),
    Metric(HISTORY_DROPPED, _C, "",
           "Status changes dropped because the history database refused writes too long.",
           (_D,), (_HIST,)),
    Metric(HISTORY_WRITE_ERRORS, _C, "", "Failed writes to the history database.", (_D,),
           (_HIST,)),
    Metric(HISTORY_PENDING, _G, "", "Status changes waiting to be written to the history.",
           (_D,), (_HIST,)),
    # sharded pubnet (device "pubnet")
    Metric(STATE_PUBLISHED, _C, "",
           "Device status messages a shard published to the broker (failures, changes, "
           "reboots; a steady ok device sends none).", (_D,), (Producer.CLUSTER,)),
    Metric(STATE_CONNECTED, _G, "",
           "1 while the state publisher (a shard) or the state feed (the alerting instance) "
           "is connected to the broker.", (_D,), (Producer.CLUSTER,)),
    Metric(STATE_RECEIVED, _C, "",
           "Device status messages the alerting instance received, by result (accepted, "
           "duplicate).", (_D, LABEL_RESULT), (Producer.CLUSTER,)),
    Metric(STATE_REJECTED, _C, "",
           "Device status and shard messages the alerting instance could not use, by "
           "reason.", (_D, LABEL_REASON), (Producer.CLUSTER,)),
    Metric(SHARD_UP, _G, "",
           "1 while the shard is online (birth seen, heartbeats on time), 0 once its last "
           "will, clean stop or missed heartbeats say it is gone.", (_D, LABEL_SHARD),
           (Producer.CLUSTER,)),
    Metric(SHARDS_ONLINE, _G, "", "Shards online, as the alerting instance sees them.", (_D,),
           (Producer.CLUSTER,)),
    # pubnet run itself (device "pubnet")
    Metric(CONFIG_LAST_RELOAD_SUCCESSFUL, _G, "",
           "1 when the last reload of config and inventory (or the start) succeeded, 0 while "
           "a rejected one leaves the previous one running.", (_D,), (Producer.RUNTIME,)),
    # inventory-derived (the Prometheus exporter)
    Metric(SITE_UP, _G, "", "1 while the site's gateway and at least one access point are up "
                            "(a site without access points follows its gateway).",
           (LABEL_SITE, *_AREA, "kind"), (_PROM,)),
    Metric(SITE_INFO, _I, "", "Site identity, location and Thai/English area names from the "
                              "inventory; always 1.",
           (LABEL_SITE, "name", "village", "subdistrict", LABEL_DISTRICT, LABEL_PROVINCE,
            "province_name_en", "province_name_th", "district_name_en", "district_name_th",
            "subdistrict_name_en", "subdistrict_name_th", "lat", "lon", "kind"), (_PROM,)),
    Metric(LINK_UP, _G, "", "1 while the link's a-side interface is operationally up; no "
                            "sample while pubnet cannot observe that interface.",
           (LABEL_LINK, "medium", "owner"), (_PROM,)),
    Metric(LINK_UTILIZATION, _G, "ratio",
           "Link traffic over capacity, from the a-side interface byte counters.",
           (LABEL_LINK, LABEL_DIRECTION), (_PROM,)),
    # the Prometheus exporter's own health
    Metric(POLL_DURATION, _H, "seconds",
           "Duration of device polls, answered or not, by collector.", (LABEL_SOURCE,),
           (_PROM,)),
    Metric(STATE_DROPPED, _C, "",
           "Observations and status changes a slow state-store subscriber lost.",
           (LABEL_SUBSCRIBER,), (_PROM,)),
    Metric(STATE_PENDING, _G, "", "Items waiting in a state-store subscriber's queue.",
           (LABEL_SUBSCRIBER,), (_PROM,)),
    Metric(EXPORTER_SCRAPE_DURATION, _G, "seconds",
           "Server time of the previous /metrics scrape (render, join, compress).", (),
           (_PROM,)),
    Metric(EXPORTER_SERIES, _G, "", "Fleet series in the previous /metrics exposition.", (),
           (_PROM,)),
    Metric(EXPORTER_SCRAPES, _C, "", "Scrapes of /metrics served.", (), (_PROM,)),
    Metric(EXPORTER_DROPPED_SERIES, _C, "",
           "Store series left out (invalid name or label), counted at each render.",
           (LABEL_REASON,), (_PROM,)),
    Metric(EXPORTER_CONNECTIONS, _G, "", "HTTP connections the listener holds now.", (),
           (_PROM,)),
    Metric(EXPORTER_CONNECTIONS_LIMIT, _G, "",
           "HTTP connections the listener may hold (max_connections within the "
           "file-descriptor budget).", (), (_PROM,)),
    Metric(EXPORTER_CONNECTIONS_CLOSED, _C, "",
           "HTTP connections pubnet closed or refused, by reason.", (LABEL_REASON,), (_PROM,)),
    Metric(EXPORTER_ACCEPT_ERRORS, _C, "",
           "Failed accept() calls of the HTTP listener, by errno.", (LABEL_ERROR,), (_PROM,)),
    Metric(EXPORTER_AUTH_FAILURES, _C, "",
           "/metrics requests refused for missing or wrong credentials.", (), (_PROM,)),
    Metric(EXPORTER_AUTH_CHECKS, _C, "",
           "bcrypt password checks run (a remembered verdict costs none).", (), (_PROM,)),
    # recording rules
    Metric(TOPOLOGY_INFO, _I, "", "Where a device sits in the topology tree; always 1.",
           (_D, "level", "core", *_AREA), (Producer.RULES,)),
    Metric(LINK_TOPOLOGY_INFO, _I, "",
           "The device and place in the topology tree a link belongs to; always 1.",
           (LABEL_LINK, _D, "level", "core", *_AREA), (Producer.RULES,)),
)
"""Every metric, grouped as docs/metrics.md and docs/prometheus.md group them."""

BY_NAME: Final[Mapping[str, Metric]] = MappingProxyType({m.name: m for m in METRICS})
""":data:`METRICS` by sample name."""

HISTOGRAM_SUFFIXES: Final = ("_bucket", "_count", "_sum")


def lookup(name: str) -> Metric | None:
    """The catalog record for ``name``, or None when pubnet does not define it."""
    return BY_NAME.get(name)


def series_names() -> frozenset[str]:
    """Every series name a query may read: catalog names, and for histograms their
    ``_bucket``, ``_count`` and ``_sum`` series."""
    names = set(BY_NAME)
    for metric in METRICS:
        if metric.kind is Kind.HISTOGRAM:
            names.update(metric.name + suffix for suffix in HISTOGRAM_SUFFIXES)
    return frozenset(names)
