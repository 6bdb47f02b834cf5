"""Backbone (``pubnet-backbone``): is the national operator's network carrying the load?

Utilisation is ``pubnet_link_utilization_ratio`` (traffic over the link's capacity, per
direction, from the a-side byte counters). A national inventory has ~64,000 links, so the
graphs show the busiest ones among the links chosen in the ``link`` variable.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import ids, variables
from dashboards.grafana.base import new_dashboard
from dashboards.grafana.layout import Grid
from dashboards.grafana.panels import (
    UP_DOWN,
    Query,
    bad_above,
    state_timeline_panel,
    table_panel,
    timeseries_panel,
)
from dashboards.grafana.promql import RANGE, RATE, sel

LINKS = 'link=~"$link"'
UTILISATION = sel("pubnet_link_utilization_ratio", LINKS)
BACKBONE_DEVICES = (' * on (device) group_left () group by (device) '
                    '(pubnet_device_info{role=~"core|provincial_node|district_aggregation"})')
LOAD_STEPS = bad_above(0.7, 0.9)


def build() -> models.Dashboard:
    dashboard = new_dashboard(
        ids.BACKBONE, "โครงข่ายหลัก · Backbone",
        "Backbone links against their capacity, their busiest hours, links that went down, "
        "and errors on the backbone routers.",
        [variables.datasource(), variables.link_choice()], time_from="now-24h", refresh="1m")
    grid = Grid(dashboard)

    grid.add(timeseries_panel(
        "การใช้งานลิงก์ · Utilisation per link and direction",
        "Traffic over capacity of the 20 busiest of the selected links at each moment, in "
        "(received on the a-side interface) and out. Dashed lines: 70 % and 90 %.",
        [Query(f"topk(20, {UTILISATION})", legend="{{link}} {{direction}}")],
        unit="percentunit", steps=LOAD_STEPS, legend_calcs=("mean", "max", "lastNotNull")),
        24, 10)
    grid.add(table_panel(
        "การใช้งาน p95 · p95 utilisation over the range",
        "The 95th percentile of each link and direction over the dashboard range, highest "
        "first (the 100 highest): links that run hot most of the time, not just at a peak.",
        [Query(f"topk(100, quantile_over_time(0.95, {UTILISATION}[{RANGE}]))", table=True)],
        columns={"link": "ลิงก์ · Link", "direction": "ทิศทาง · Direction",
                 "Value": "p95"},
        sort_by="p95", descending=True, units={"p95": "percentunit"},
        field_steps={"p95": LOAD_STEPS}), 12, 10)
    grid.add(table_panel(
        "ลิงก์ที่ใช้งานมากที่สุด · Top 20 busiest links",
        "The 20 links carrying the most traffic for their capacity now (the busier "
        "direction of each).",
        [Query(f"topk(20, max by (link) ({UTILISATION}))", table=True)],
        columns={"link": "ลิงก์ · Link", "Value": "ตอนนี้ · Now"},
        sort_by="ตอนนี้ · Now", descending=True, units={"ตอนนี้ · Now": "percentunit"},
        field_steps={"ตอนนี้ · Now": LOAD_STEPS}), 12, 10)

    grid.add(state_timeline_panel(
        "ลิงก์ที่ล่ม · Links down timeline",
        "When each of the selected links was down over the range; links that stayed up "
        "have no lane. (Asking each step for the series that read 0 keeps this cheap at "
        "64,000 links, where a min_over_time over the range at every step would not be.)",
        [Query(f"{sel('pubnet_link_up', LINKS)} == 0", legend="{{link}}")],
        mappings=UP_DOWN), 24, 8)

    def worst(metric: str, what: str) -> Query:
        return Query(f"topk(10, rate({metric}[{RATE}]){BACKBONE_DEVICES})",
                     legend=f"{{{{device}}}} {{{{ifname}}}} {what}")

    for kind, title, description in (
        ("errors", "ข้อผิดพลาด · Interface errors on backbone devices",
         "Packets per second with errors on core, provincial and district routers (the 10 "
         "worst interfaces per direction)."),
        ("discards", "การทิ้งแพ็กเก็ต · Interface discards on backbone devices",
         "Packets per second discarded on core, provincial and district routers, usually "
         "congestion (the 10 worst interfaces per direction)."),
    ):
        grid.add(timeseries_panel(
            title, description,
            [worst(f"pubnet_interface_receive_{kind}_total", "in"),
             worst(f"pubnet_interface_transmit_{kind}_total", "out")], unit="pps"), 12, 8)
    return dashboard.build()
