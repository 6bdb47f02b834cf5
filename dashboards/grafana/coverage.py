"""Coverage and SLA (``pubnet-coverage``): for planners and the programme's reports.

Availability is the share of the dashboard range a site was up,
``avg_over_time(pubnet_site_up[$__range])``; the SLA target is the hidden constant
``sla_target`` (:data:`ids.SLA_TARGET_PERCENT`), which also sets the thresholds.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import areas, ids, variables
from dashboards.grafana.base import new_dashboard
from dashboards.grafana.layout import Grid
from dashboards.grafana.panels import (
    Query,
    bad_above,
    good_above,
    site_status_stat,
    stat_panel,
)
from dashboards.grafana.promql import RANGE, SITE_SCOPE, or_zero, sel, villages, with_site_names

SITES = sel("pubnet_site_up", SITE_SCOPE)
AVAILABILITY = f"100 * avg_over_time({SITES}[{RANGE}])"
"""Percent of the range each site was up (one series per site)."""
SLA_STEPS = good_above(ids.SLA_TARGET_PERCENT - 1, ids.SLA_TARGET_PERCENT)


def build() -> models.Dashboard:
    dashboard = new_dashboard(
        ids.COVERAGE, "ความครอบคลุมและ SLA · Coverage and SLA",
        "How available the sites were over the range, by province and district, which "
        "sites missed the SLA target, and how many villages are served.",
        [*variables.place(site=False), variables.sla_target()], time_from="now-30d",
        refresh="15m")
    grid = Grid(dashboard)

    grid.add(stat_panel(
        "ความพร้อมใช้งาน · Fleet availability",
        "Average availability of the selected sites over the dashboard range.",
        [Query(f"avg({AVAILABILITY})", instant=True)], unit="percent", decimals=2,
        steps=SLA_STEPS), 6, 4)
    grid.add(site_status_stat(
        "ต่ำกว่า SLA · Sites under the SLA target",
        f"Sites whose availability over the range is below the SLA target "
        f"(${{sla_target}} %, default {ids.SLA_TARGET_PERCENT:g} %).",
        or_zero(f"count({AVAILABILITY} < $sla_target)"), bad_when_above=True), 6, 4)
    grid.add(site_status_stat(
        "หมู่บ้านที่มีบริการ · Villages served",
        "Villages with at least one site up now.", or_zero(villages(SITES, "== 1")),
        bad_when_above=False), 6, 4)
    grid.add(site_status_stat(
        "หมู่บ้านทั้งหมด · Villages in the programme",
        "Villages with at least one site in the inventory.", or_zero(villages(SITES, ">= 0")),
        bad_when_above=False), 6, 4)

    columns = [
        areas.Column("ความพร้อม · Availability", "avg", AVAILABILITY, unit="percent",
                     steps=SLA_STEPS),
        areas.Column("ต่ำกว่า SLA · Under SLA", "count", f"{AVAILABILITY} < $sla_target",
                     steps=bad_above(1, 10)),
        areas.Column("ไซต์ · Sites", "count", SITES),
    ]
    grid.add(areas.area_table(
        areas.PROVINCE, "ความพร้อมรายจังหวัด · Availability by province",
        "Average site availability over the range per province, worst first, with the "
        "number of sites under the SLA target. Click a code to narrow the dashboard.",
        columns, sort_by="ความพร้อม · Availability", descending=False,
        link_uid=ids.COVERAGE), 12, 12)
    grid.add(areas.area_table(
        areas.DISTRICT, "ความพร้อมรายอำเภอ · Availability by district",
        "Average site availability over the range per district, worst first.",
        columns, sort_by="ความพร้อม · Availability", descending=False,
        link_uid=ids.COVERAGE), 12, 12)

    grid.add(areas.site_table(
        "20 ไซต์ที่แย่ที่สุด · The 20 worst sites",
        "The 20 sites with the lowest availability over the range. Click a site to see "
        "what failed.",
        [Query(with_site_names(f"bottomk(20, {AVAILABILITY})"), table=True)],
        values=[("Value", "ความพร้อม · Availability")],
        sort_by="ความพร้อม · Availability", descending=False,
        units={"ความพร้อม · Availability": "percent"},
        field_steps={"ความพร้อม · Availability": SLA_STEPS}), 24, 12)
    return dashboard.build()
