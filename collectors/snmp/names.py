"""Metric and label names the SNMP collector produces: an interface dashboards, alerting and
the other collectors (traps, ICMP) depend on. Change nothing here without a migration note.
"""

from __future__ import annotations

from typing import Final

# -- device level ---------------------------------------------------------------------------
DEVICE_UP: Final = "pubnet_device_up"
"""gauge 0/1; labels site, role, province (device is implicit)."""
DEVICE_POLL_STATUS: Final = "pubnet_device_poll_status"
"""gauge, 1 for the current status and 0 for the others; label status."""
DEVICE_UPTIME: Final = "pubnet_device_uptime_seconds"
DEVICE_INFO: Final = "pubnet_device_info"
"""gauge 1; labels site, role, profile, province, district, sys_name, sys_descr."""
DEVICE_POLL_DURATION: Final = "pubnet_device_poll_duration_seconds"
"""gauge: how long the last poll of the device took (answered or not)."""

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

# -- access points --------------------------------------------------------------------------
AP_CLIENTS: Final = "pubnet_ap_clients"
AP_RADIO_CHANNEL: Final = "pubnet_ap_radio_channel"
AP_RADIO_TX_POWER: Final = "pubnet_ap_radio_tx_power_dbm"
AP_RADIO_NOISE: Final = "pubnet_ap_radio_noise_dbm"

# -- hosts ----------------------------------------------------------------------------------
HOST_CPU_LOAD: Final = "pubnet_host_cpu_load_percent"
HOST_MEMORY_TOTAL: Final = "pubnet_host_memory_bytes"
HOST_MEMORY_USED: Final = "pubnet_host_memory_used_bytes"

# -- probes (ICMP collector) ----------------------------------------------------------------
PROBE_RTT: Final = "pubnet_probe_rtt_seconds"
PROBE_LOSS: Final = "pubnet_probe_loss_ratio"

# -- the collector itself (device label "pubnet", see docs/metrics.md) -----------------------
SNMP_DROPPED_PACKETS: Final = "pubnet_snmp_dropped_packets_total"
"""counter; label reason (decode, unknown_request_id, unexpected_address, ...)."""
SNMP_REQUESTS: Final = "pubnet_snmp_requests_total"
SNMP_RETRIES: Final = "pubnet_snmp_retries_total"
POLLS_IN_FLIGHT: Final = "pubnet_polls_in_flight"
"""gauge: devices being polled right now (bounded by ``snmp.max_in_flight``)."""
POLL_LAG: Final = "pubnet_poll_lag_seconds"
"""gauge: how far the most overdue scheduled poll is behind its due time; a poller that
keeps up stays near 0, one that cannot shows it here before devices show gaps."""
COLLECTOR_DEVICE: Final = "pubnet"
"""The ``device`` value under which the collector's own metrics are stored."""

# -- label names ----------------------------------------------------------------------------
LABEL_SITE: Final = "site"
LABEL_ROLE: Final = "role"
LABEL_PROVINCE: Final = "province"
LABEL_DISTRICT: Final = "district"
LABEL_PROFILE: Final = "profile"
LABEL_STATUS: Final = "status"
LABEL_IFNAME: Final = "ifname"
LABEL_RADIO: Final = "radio"
LABEL_REASON: Final = "reason"
AP_RADIO_FREQUENCY: Final = "pubnet_ap_radio_frequency_mhz"
IF_INFO: Final = "pubnet_interface_info"
"""gauge 1; labels ifname, ifalias."""
LABEL_VAP: Final = "vap"
LABEL_SYS_NAME: Final = "sys_name"
LABEL_SYS_DESCR: Final = "sys_descr"
