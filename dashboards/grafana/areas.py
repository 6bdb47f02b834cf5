"""Per-province, per-district and per-site tables: the NOC's and the planners' main view.

Each column is an aggregation of a per-site expression (one that keeps the ``site`` label),
grouped by the area's code and its Thai and English names joined from
``pubnet_site_info``; the columns' instant queries are merged into one row per area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import table

from dashboards.grafana import links, names
from dashboards.grafana.panels import Query, Step, links_on, table_panel
from dashboards.grafana.promql import labels, with_site_names


@dataclass(frozen=True, slots=True)
class Area:
    keys: tuple[str, ...]
    """Code labels, outermost first (a district row keeps its province for links)."""
    name_labels: tuple[str, ...]
    titles: tuple[tuple[str, str], ...]
    """(label, column title) in display order."""


PROVINCE = Area(("province",), names.PROVINCE_NAMES,
                (("province", "รหัส · Code"), ("province_name_th", "จังหวัด"),
                 ("province_name_en", "Province")))
DISTRICT = Area(("province", "district"), names.DISTRICT_NAMES,
                (("district", "รหัส · Code"), ("district_name_th", "อำเภอ"),
                 ("district_name_en", "District"), ("province", "จ. · Prov.")))


@dataclass(frozen=True, slots=True)
class Column:
    """``agg by (area) (per_site)`` shown as ``title``."""

    title: str
    agg: str
    per_site: str
    unit: str = "none"
    steps: Sequence[Step] = field(default_factory=tuple)


def per_area(area: Area, agg: str, per_site: str) -> str:
    grouped = labels((*area.keys, *area.name_labels))
    joined = with_site_names(per_site, area.name_labels)
    return f"{agg} by ({grouped}) (\n{joined}\n)"


def area_table(area: Area, title: str, description: str, columns: Sequence[Column], *,
               sort_by: str, descending: bool, link_uid: str) -> table.Panel:
    """One row per area, worst first; clicking the code narrows ``link_uid`` to it."""
    queries = [Query(per_area(area, c.agg, c.per_site), table=True) for c in columns]
    shown = dict(area.titles)
    values = {("Value" if len(columns) == 1 else f"Value #{chr(ord('A') + i)}"): c.title
              for i, c in enumerate(columns)}
    to = links.to_province(link_uid) if area is PROVINCE else links.to_district(link_uid)
    code = area.keys[-1]
    return table_panel(
        title, description, queries, columns={**shown, **values}, sort_by=sort_by,
        descending=descending, units={c.title: c.unit for c in columns},
        field_steps={c.title: c.steps for c in columns if c.steps},
        data_links=[links_on(code, [to])])


def site_table(title: str, description: str, queries: Sequence[Query], *,
               values: Sequence[tuple[str, str]], sort_by: str, descending: bool,
               units: dict[str, str] | None = None,
               field_steps: dict[str, Sequence[Step]] | None = None,
               mappings: dict[str, dict[str, tuple[str, str]]] | None = None) -> table.Panel:
    """One row per site (series with ``site`` and the names of :data:`names.SITE_NAMES`);
    the site id opens the site dashboard. ``values`` maps ``Value`` fields to titles."""
    columns = {"site": "ไซต์ · Site", names.SITE_NAME: "ชื่อ · Name",
               names.VILLAGE: "หมู่บ้าน · Village", "district_name_th": "อำเภอ",
               "province_name_th": "จังหวัด", "province_name_en": "Province",
               "district": "อ. · Dist.", "province": "จ. · Prov.", **dict(values)}
    return table_panel(title, description, queries, columns=columns,
                       hide=("district_name_en", "kind"), sort_by=sort_by,
                       descending=descending, units=units, field_steps=field_steps,
                       mappings=mappings,
                       data_links=[links_on("site", [links.to_site()])])

