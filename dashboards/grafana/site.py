"""Site detail (``pubnet-site``): one site, every device on it, for the technician on the
phone with the village.

Interface, AP and probe series carry only ``device``; they are narrowed to the site through
``pubnet_device_up``, which knows every device's site (:func:`promql.of_devices`).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import ids, links, names, variables
from dashboards.grafana.base import new_dashboard
from dashboards.grafana.layout import Grid
from dashboards.grafana.panels import (
    UP_DOWN,
    Query,
    bad_above,
    links_on,
    state_timeline_panel,
    table_panel,
    timeseries_panel,
    up_down_stat,
)
from dashboards.grafana.promql import ONE_SITE, RATE, labels, of_devices, sel

GATEWAY = ONE_SITE + ', role="site_gateway"'


def traffic(metric: str, direction: str) -> Query:
    return Query(of_devices(f"8 * rate({metric}[{RATE}])", GATEWAY),
                 legend=f"{{{{device}}}} {{{{ifname}}}} {direction}")


def build() -> models.Dashboard:
    dashboard = new_dashboard(
        ids.SITE, "รายละเอียดไซต์ · Site detail",
        "One site: its place, every device's status and history, clients, WAN traffic and "
        "ping.", variables.place(site=True, single_site=True), time_from="now-24h",
        refresh="1m")
    grid = Grid(dashboard)

    grid.add(up_down_stat(
        "สถานะไซต์ · Site status",
        "Up while the gateway and at least one access point answer.",
        sel("pubnet_site_up", ONE_SITE)), 4, 7)
    site_labels = ("site", names.SITE_NAME, names.VILLAGE, "subdistrict",
                   *names.SUBDISTRICT_NAMES, "district", *names.DISTRICT_NAMES, "province",
                   *names.PROVINCE_NAMES, "kind", "lat", "lon")
    grid.add(table_panel(
        "ข้อมูลไซต์ · Site",
        "The inventory's record of the site: village, subdistrict, district, province, "
        "kind and GPS. Click the latitude or longitude for a map.",
        [Query(f"group by ({labels(site_labels)}) (pubnet_site_info{{{ONE_SITE}}})",
               table=True)],
        columns={"site": "ไซต์ · Site", names.SITE_NAME: "ชื่อ · Name",
                 names.VILLAGE: "หมู่บ้าน · Village", "subdistrict_name_th": "ตำบล",
                 "subdistrict_name_en": "Subdistrict", "subdistrict": "ต. · Subd.",
                 "district_name_th": "อำเภอ", "district_name_en": "District",
                 "province_name_th": "จังหวัด", "province_name_en": "Province",
                 "kind": "ประเภท · Kind", "lat": "lat", "lon": "lon"},
        hide=("district", "province", "Value"),
        data_links=[links_on("lat", [links.to_map()]), links_on("lon", [links.to_map()])]),
        20, 7)

    status = ("(pubnet_device_poll_status == 1)\n"
              f"* on (device) group_left (role) pubnet_device_up{{{ONE_SITE}}}")
    grid.add(table_panel(
        "อุปกรณ์ · Devices",
        "Each device of the site: its role, how its last poll ended (ok, timeout, "
        "auth_failed, ...) and how long it has been up.",
        [Query(status, table=True),
         Query(of_devices("pubnet_device_uptime_seconds", ONE_SITE), table=True)],
        columns={"device": "อุปกรณ์ · Device", "role": "บทบาท · Role",
                 "status": "ผลการตรวจ · Poll status", "Value #A": "สถานะ · State",
                 "Value #B": "เปิดมา · Uptime"},
        hide=("site",), sort_by="อุปกรณ์ · Device", descending=False,
        units={"เปิดมา · Uptime": "dtdurations"},
        mappings={"สถานะ · State": UP_DOWN}), 10, 8)
    grid.add(state_timeline_panel(
        "ประวัติสถานะ · Poll status history",
        "When each device answered (green) or not (red) over the range.",
        [Query(sel("pubnet_device_up", ONE_SITE), legend="{{device}}")],
        mappings=UP_DOWN), 14, 8)

    grid.add(timeseries_panel(
        "ผู้ใช้ Wi-Fi · AP clients by radio",
        "Wi-Fi clients associated with each access point, per radio (stacked: the "
        "site's total on top). Client devices themselves are never recorded.",
        [Query(of_devices("sum by (device, radio) (pubnet_ap_clients)", ONE_SITE),
               legend="{{device}} {{radio}}")], unit="none", stacked=True), 12, 8)
    grid.add(timeseries_panel(
        "เวลาทำงาน · Uptime",
        "Time since each device booted; a drop to zero is a reboot.",
        [Query(of_devices("pubnet_device_uptime_seconds", ONE_SITE), legend="{{device}}")],
        unit="s", legend_calcs=("lastNotNull",)), 12, 8)

    grid.add(timeseries_panel(
        "ทราฟฟิก WAN · WAN traffic",
        "Bits per second in and out of the site gateway's interfaces (the uplink is the "
        "WAN), from the byte counters.",
        [traffic("pubnet_interface_receive_bytes_total", "in"),
         traffic("pubnet_interface_transmit_bytes_total", "out")], unit="bps"), 12, 8)
    errors = [
        Query(of_devices(f"rate({metric}[{RATE}])", GATEWAY),
              legend=f"{{{{device}}}} {{{{ifname}}}} {what}")
        for metric, what in (("pubnet_interface_receive_errors_total", "errors in"),
                             ("pubnet_interface_transmit_errors_total", "errors out"),
                             ("pubnet_interface_receive_discards_total", "discards in"),
                             ("pubnet_interface_transmit_discards_total", "discards out"))]
    grid.add(timeseries_panel(
        "ข้อผิดพลาด WAN · WAN errors and discards",
        "Packets per second with errors or discarded on the gateway's interfaces: a bad "
        "cable, a duplex mismatch or a congested uplink.", errors, unit="pps"), 12, 8)

    grid.add(timeseries_panel(
        "เวลาตอบสนอง · Ping round-trip time",
        "ICMP echo round-trip time of the site's probed devices (profile icmp).",
        [Query(of_devices("pubnet_probe_rtt_seconds", ONE_SITE), legend="{{device}}")],
        unit="s", steps=bad_above(0.2, 0.5)), 12, 8)
    grid.add(timeseries_panel(
        "การสูญหาย · Ping loss",
        "Share of echo requests without a reply in each probe.",
        [Query(of_devices("pubnet_probe_loss_ratio", ONE_SITE), legend="{{device}}")],
        unit="percentunit", maximum=1,
        steps=bad_above(0.05, 0.2)), 12, 8)
    return dashboard.build()

