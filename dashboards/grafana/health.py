"""pubnet health (``pubnet-health``): is the monitoring itself keeping up?

Every metric here is pubnet's own (docs/prometheus.md "pubnet's own health", the
collectors' counters under ``device="pubnet"``): polls, the SNMP and MQTT collectors, the
state store's subscribers, the exporter and the InfluxDB writer.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import ids, variables
from dashboards.grafana.base import new_dashboard
from dashboards.grafana.layout import Grid
from dashboards.grafana.panels import (
    GREEN,
    RED,
    Query,
    bad_above,
    state_timeline_panel,
    timeseries_panel,
)
from dashboards.grafana.promql import RATE

CONNECTED = {"1": ("เชื่อมต่อ · connected", GREEN), "0": ("ขาดการเชื่อมต่อ · disconnected", RED)}


def quantile(q: float) -> Query:
    return Query(f"histogram_quantile({q:g}, sum by (le, source) "
                 f"(rate(pubnet_poll_duration_seconds_bucket[{RATE}])))",
                 legend=f"p{q * 100:g} {{{{source}}}}")


def build() -> models.Dashboard:
    dashboard = new_dashboard(
        ids.HEALTH, "สถานะระบบ pubnet · pubnet health",
        "Whether pubnet keeps up: poll durations and lag, collector errors, MQTT, the "
        "state store, the /metrics exporter and the InfluxDB writer.",
        [variables.datasource()], time_from="now-6h", refresh="30s")
    grid = Grid(dashboard)

    grid.row("การตรวจวัด · Polling")
    grid.add(timeseries_panel(
        "ระยะเวลาตรวจ · Poll duration",
        "How long polls take, answered or not, per collector (50th, 90th and 99th "
        "percentile). A p99 near the timeout means devices are failing.",
        [quantile(0.5), quantile(0.9), quantile(0.99)], unit="s"), 8, 8)
    grid.add(timeseries_panel(
        "ความล่าช้า · Poll lag",
        "How far the most overdue scheduled poll is behind its due time. Near 0 while "
        "the poller keeps up; growing means too many devices for the interval.",
        [Query("max(pubnet_poll_lag_seconds)", legend="lag")], unit="s",
        steps=bad_above(10, 60)), 8, 8)
    grid.add(timeseries_panel(
        "กำลังตรวจ · Polls in flight",
        "Devices being polled right now (at most snmp.max_in_flight).",
        [Query("sum(pubnet_polls_in_flight)", legend="in flight")], unit="none"), 8, 8)
    grid.add(timeseries_panel(
        "ผลการตรวจ · Poll statuses",
        "Devices by how their last poll ended: ok, timeout, auth_failed, unknown_user, "
        "no_such_name, unreachable, error.",
        [Query("count by (status) (pubnet_device_poll_status == 1)", legend="{{status}}")],
        unit="none", stacked=True, legend_calcs=("lastNotNull", "max")), 12, 8)
    grid.add(timeseries_panel(
        "SNMP คำขอและส่งซ้ำ · SNMP requests and retries",
        "SNMP requests sent per second and how many were retries after a timeout.",
        [Query(f"sum(rate(pubnet_snmp_requests_total[{RATE}]))", legend="requests"),
         Query(f"sum(rate(pubnet_snmp_retries_total[{RATE}]))", legend="retries")],
        unit="reqps"), 12, 8)
    grid.add(timeseries_panel(
        "SNMP ที่ทิ้ง · SNMP packets dropped",
        "SNMP datagrams and answers thrown away, by reason (decode, request_id, "
        "late_response, trap_*...), and datagrams the kernel dropped from the trap and "
        "ICMP sockets while pubnet was busy (kernel traps, kernel icmp: above 0, pubnet "
        "fell behind). Each reason is also logged once.",
        [Query(f"sum by (reason) (rate(pubnet_snmp_dropped_packets_total[{RATE}]))",
               legend="{{reason}}"),
         Query(f"sum by (socket) (rate(pubnet_socket_receive_drops_total[{RATE}]))",
               legend="kernel {{socket}}")], unit="pps"), 12, 8)

    grid.row("MQTT")
    grid.add(timeseries_panel(
        "ข้อความ MQTT · MQTT messages by result",
        "Gateway messages received per second, by how they ended (ok, malformed, stale, "
        "unknown_device, ...).",
        [Query(f"sum by (result) (rate(pubnet_mqtt_messages_total[{RATE}]))",
               legend="{{result}}")], unit="mps", stacked=True), 12, 8)
    grid.add(state_timeline_panel(
        "การเชื่อมต่อ MQTT · MQTT connection",
        "Whether pubnet is connected and subscribed to the broker.",
        [Query("max(pubnet_mqtt_connected)", legend="broker")], mappings=CONNECTED), 12, 4)
    grid.add(timeseries_panel(
        "เชื่อมต่อใหม่ · MQTT reconnects and failures",
        "Reconnections to the broker (each follows an outage) and failed attempts, per "
        "second.",
        [Query(f"sum(rate(pubnet_mqtt_reconnects_total[{RATE}]))", legend="reconnects"),
         Query(f"sum(rate(pubnet_mqtt_connect_failures_total[{RATE}]))",
               legend="failures")], unit="ops"), 12, 4)

    grid.row("การส่งออก · State store and exporters")
    grid.add(timeseries_panel(
        "คิวที่ทิ้ง · State-store drops",
        "Observations a slow subscriber (alerting, influxdb) lost per second, and what "
        "waits in its queue.",
        [Query(f"sum by (subscriber) (rate(pubnet_state_dropped_total[{RATE}]))",
               legend="dropped {{subscriber}}"),
         Query("sum by (subscriber) (pubnet_state_pending)", legend="pending {{subscriber}}")],
        unit="short"), 8, 8)
    grid.add(timeseries_panel(
        "เวลาสร้าง /metrics · Scrape duration",
        "Server time of the previous /metrics scrape (render, join, compress).",
        [Query("max(pubnet_exporter_scrape_duration_seconds)", legend="scrape")], unit="s",
        steps=bad_above(5, 10)), 8, 8)
    grid.add(timeseries_panel(
        "จำนวนซีรีส์ · Series exported",
        "Fleet series in the previous /metrics exposition.",
        [Query("max(pubnet_exporter_series)", legend="series")], unit="short"), 8, 8)
    grid.add(timeseries_panel(
        "InfluxDB เขียน · Influx points written and dropped",
        "Points delivered to InfluxDB per second, and points dropped by reason.",
        [Query(f"sum(rate(pubnet_influx_points_written_total[{RATE}]))", legend="written"),
         Query(f"sum by (reason) (rate(pubnet_influx_points_dropped_total[{RATE}]))",
               legend="dropped {{reason}}")], unit="short"), 12, 8)
    grid.add(timeseries_panel(
        "InfluxDB ค้างส่ง · Influx buffer",
        "Points (left axis) and bytes (right axis) waiting in the on-disk buffer while "
        "InfluxDB cannot take them.",
        [Query("sum(pubnet_influx_buffer_points)", legend="points"),
         Query("sum(pubnet_influx_buffer_bytes)", legend="bytes")], unit="short")
        .override_by_query("B", [
            models.DynamicConfigValue(id_val="unit", value="bytes"),
            models.DynamicConfigValue(id_val="custom.axisPlacement", value="right")]),
        12, 8)
    return dashboard.build()
