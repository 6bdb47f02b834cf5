"""NOC overview (``pubnet-noc``): what is down right now, where, and since when.

Site-level panels follow the province and district variables; device-level panels (the
monitoring coverage) follow the province only, the one area label devices carry.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import areas, ids, names, variables
from dashboards.grafana.base import new_dashboard
from dashboards.grafana.layout import Grid
from dashboards.grafana.panels import (
    UP_DOWN,
    Query,
    Step,
    bad_above,
    geomap_panel,
    good_above,
    site_status_stat,
    stat_panel,
    table_panel,
)
from dashboards.grafana.promql import SITE_SCOPE, labels, or_zero, sel, villages, with_site_names

SITES = sel("pubnet_site_up", SITE_SCOPE)
DEVICES = sel("pubnet_device_up", 'province=~"$province"')
BACKBONE_ROLES = "core|provincial_node|district_aggregation"


def build() -> models.Dashboard:
    dashboard = new_dashboard(
        ids.NOC, "ภาพรวม NOC · NOC overview",
        "What is down right now, where, and since when: sites, villages, backbone links "
        "and how much of the fleet pubnet can see.",
        variables.place(site=False), time_from="now-6h", refresh="30s")
    grid = Grid(dashboard)

    grid.add(site_status_stat(
        "ไซต์ที่ใช้งานได้ · Sites up",
        "Sites whose gateway and at least one access point answer now (pubnet_site_up).",
        or_zero(f"sum({SITES})"), bad_when_above=False), 5, 4)
    grid.add(site_status_stat(
        "ไซต์ที่ล่ม · Sites down",
        "Sites without service now: gateway down, or every access point down.",
        or_zero(f"count({SITES} == 0)"), bad_when_above=True), 5, 4)
    grid.add(site_status_stat(
        "หมู่บ้านที่ไม่มีบริการ · Villages without service",
        "Villages where no site is up now (a village with a school and a village hotspot "
        "counts once, and only when both are down).",
        or_zero(villages(SITES, "== 0")), bad_when_above=True), 5, 4)
    grid.add(site_status_stat(
        "ลิงก์ที่ล่ม · Links down",
        "Backbone links whose a-side interface is down, or whose a-side device is down "
        "(pubnet_link_up == 0).",
        or_zero("count(pubnet_link_up == 0)"), bad_when_above=True, warn=1, alarm=3), 5, 4)
    grid.add(site_status_stat(
        "อุปกรณ์โครงข่ายหลักที่ล่ม · Backbone devices down",
        "Core, provincial and district routers not answering now.",
        or_zero(f'count(pubnet_device_up{{role=~"{BACKBONE_ROLES}"}} == 0)'),
        bad_when_above=True, warn=1, alarm=2), 4, 4)
    grid.add(geomap_panel(
        "แผนที่ไซต์ · Site map",
        "Where the sites are. Sites that are up are a light heatmap (one layer, fast at "
        "25,000 sites); sites that are down are red markers with their name on hover.",
        background=Query(f"group by (lat, lon) (\n  pubnet_site_info{{{SITE_SCOPE}}}\n"
                         f"  and on (site) ({SITES} == 1)\n)", table=True),
        markers=Query(
            f"group by (site, {names.SITE_NAME}, {names.VILLAGE}, province, "
            f"{labels(names.PROVINCE_NAMES)}, district, lat, lon) (\n"
            f"  pubnet_site_info{{{SITE_SCOPE}}}\n  and on (site) ({SITES} == 0)\n)",
            table=True),
        center=(13, 101), zoom=5), 10, 14)
    down_columns = [
        areas.Column("ล่ม · Down", "sum", f"1 - {SITES}",
                     steps=bad_above(1, 10)),
        areas.Column("ไซต์ · Sites", "count", SITES),
        areas.Column("ใช้งานได้ · Up %", "avg", f"100 * {SITES}", unit="percent",
                     steps=good_above(95, 99)),
    ]
    grid.add(areas.area_table(
        areas.PROVINCE, "ไซต์ที่ล่มรายจังหวัด · Down sites by province",
        "Sites down now per province, worst first. Click a code to narrow the dashboard.",
        down_columns, sort_by="ล่ม · Down", descending=True, link_uid=ids.NOC), 7, 14)
    grid.add(areas.area_table(
        areas.DISTRICT, "ไซต์ที่ล่มรายอำเภอ · Down sites by district",
        "Sites down now per district, worst first. Click a code to narrow the dashboard.",
        down_columns, sort_by="ล่ม · Down", descending=True, link_uid=ids.NOC), 7, 14)

    went_down = (f"{SITES}\nand on (site) (min_over_time({SITES}[1h]) == 0)\n"
                 f"and on (site) (max_over_time({SITES}[1h]) == 1)")
    grid.add(areas.site_table(
        "ไซต์ที่ล่มในชั่วโมงที่ผ่านมา · Sites that went down in the last hour",
        "Sites that were up and down within the last hour, and whether they are back. "
        "Click a site to open its detail.",
        [Query(with_site_names(went_down), table=True)],
        values=[("Value", "ตอนนี้ · Now")], sort_by="ตอนนี้ · Now", descending=False,
        mappings={"ตอนนี้ · Now": UP_DOWN}), 14, 9)
    grid.add(table_panel(
        "รายการลิงก์ที่ล่ม · Down links",
        "Backbone links down now, with their medium and owner.",
        [Query("pubnet_link_up == 0", table=True)],
        columns={"link": "ลิงก์ · Link", "medium": "สื่อ · Medium", "owner": "เจ้าของ · Owner",
                 "Value": "สถานะ · State"},
        mappings={"สถานะ · State": UP_DOWN}), 10, 9)

    grid.row("การตรวจวัด · Monitoring coverage")
    grid.add(stat_panel(
        "อุปกรณ์ที่ตอบ · Devices answering",
        "Share of the inventory's devices whose last poll, probe or heartbeat was answered. "
        "pubnet tries every device within one polling interval of starting, so after that "
        "the denominator is the whole inventory.",
        [Query(f"100 * avg({DEVICES})", instant=True)], unit="percent", decimals=1,
        steps=good_above(95, 99)), 5, 4)
    grid.add(stat_panel(
        "อุปกรณ์ในระบบ · Devices known",
        "Devices pubnet has tried at least once (inventory devices, once the first round "
        "of polls is over).", [Query(or_zero(f"count({DEVICES})"), instant=True)],
        unit="none", steps=[Step(None, "blue")]), 5, 4)
    grid.add(site_status_stat(
        "ไม่เคยตอบ · Devices never seen",
        "Devices that have not answered once since pubnet started: no system group, no "
        "echo reply, no telemetry. Usually a wrong address or credential in the inventory.",
        or_zero(f"count(\n  {DEVICES} == 0\n  unless on (device) (pubnet_device_info or "
                "pubnet_probe_rtt_seconds or pubnet_device_uptime_seconds)\n)"),
        bad_when_above=True), 5, 4)
    grid.add(site_status_stat(
        "ยืนยันตัวตนไม่ผ่าน · Credential failures",
        "Devices refusing pubnet's SNMPv3 credentials (auth_failed: wrong key or protocol; "
        "unknown_user: user missing on the device). A wrong v1/v2c community shows as a "
        "timeout instead.",
        or_zero('count(pubnet_device_poll_status{status=~"auth_failed|unknown_user"} == 1\n'
                f"  and on (device) {DEVICES})"),
        bad_when_above=True), 5, 4)
    grid.add(site_status_stat(
        "ข้อมูลค้าง · Stale devices",
        "Devices that count as up but whose uptime has not moved for 15 minutes: pubnet "
        "has stopped hearing from them without noticing (SNMP and MQTT devices).",
        or_zero(f"count(\n  (changes(pubnet_device_uptime_seconds[15m]) == 0)\n"
                f"  and on (device) ({DEVICES} == 1)\n)"),
        bad_when_above=True), 4, 4)
    return dashboard.build()
