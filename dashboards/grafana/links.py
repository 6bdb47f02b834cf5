"""Links between the dashboards, keeping the time range and the variables.

A dashboard's header has a menu of every ``pubnet`` dashboard (variables and time kept);
a site in a table opens the site dashboard for that site; a province or district in a
table narrows the dashboard it is in.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import ids
from dashboards.grafana.panels import link

_KEEP = "${__url_time_range}&${datasource:queryparam}"


def dashboards_menu() -> builders.DashboardLink:
    return (builders.DashboardLink("pubnet").type(models.DashboardLinkType.DASHBOARDS)
            .tags([ids.TAG]).as_dropdown(True).include_vars(True).keep_time(True)
            .tooltip("แดชบอร์ด pubnet อื่น · other pubnet dashboards").icon("external link")
            .target_blank(False))


def to_site(title: str = "เปิดรายละเอียดไซต์ · open site detail") -> dict[str, object]:
    """From a row with ``site``, ``province`` and ``district`` fields to the site dashboard."""
    return link(title, f"/d/{ids.SITE}?{_KEEP}&var-province=${{__data.fields.province}}"
                       f"&var-district=${{__data.fields.district}}"
                       f"&var-site=${{__data.fields.site}}")


def to_province(uid: str, title: str = "กรองจังหวัดนี้ · this province") -> dict[str, object]:
    return link(title, f"/d/{uid}?{_KEEP}&var-province=${{__data.fields.province}}")


def to_district(uid: str, title: str = "กรองอำเภอนี้ · this district") -> dict[str, object]:
    return link(title, f"/d/{uid}?{_KEEP}&var-province=${{__data.fields.province}}"
                       f"&var-district=${{__data.fields.district}}")


def to_map(title: str = "แผนที่ · map (OpenStreetMap)") -> dict[str, object]:
    """GPS of a row with ``lat`` and ``lon`` fields, on a public map in a new tab."""
    return {**link(title, "https://www.openstreetmap.org/?mlat=${__data.fields.lat}"
                          "&mlon=${__data.fields.lon}#map=16/${__data.fields.lat}/"
                          "${__data.fields.lon}"),
            "targetBlank": True}
