"""Template variables: the datasource, and province → district → site chained from
``pubnet_site_info``, each option shown as its code with the Thai (then English) name.

Grafana's Prometheus ``query_result()`` returns one line per series,
``{display="50 เชียงใหม่ Chiang Mai",province="50",...} 3 1700000000000``; the variable's
regex keeps the code as the value and the ``display`` label (built with ``label_join``) as
the text. Labels come sorted, so ``display`` precedes the code label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import ids, names
from dashboards.grafana.panels import DATASOURCE
from dashboards.grafana.promql import labels

ALL = ".*"
"""The "All" value: a regex that also matches an empty label (core routers have no site)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """One level of the province → district → site chain. Keywords only: the variable's
    name and the label it filters are the same word today, but not the same thing."""

    variable: str
    """The dashboard variable (``$province``)."""
    label: str
    """The metric label it filters, and the code in its options."""
    title: str
    name_labels: tuple[str, ...]
    """The ``pubnet_site_info`` labels that name an option (Thai, English)."""
    scope: str = ""
    """Matchers of the levels above (``pubnet_site_info`` labels)."""


PROVINCE = Level(variable="province", label="province", title="จังหวัด · Province",
                 name_labels=names.PROVINCE_NAMES)
DISTRICT = Level(variable="district", label="district", title="อำเภอ · District",
                 name_labels=names.DISTRICT_NAMES, scope='province=~"$province"')
SITE = Level(variable="site", label="site", title="ไซต์ · Site", name_labels=(names.SITE_NAME,),
             scope='province=~"$province", district=~"$district"')


def option_query(level: Level) -> str:
    """The ``query_result`` whose lines carry ``display`` (code and names) and the code."""
    grouped = labels((level.label, *level.name_labels))
    selector = f"pubnet_site_info{{{level.scope}}}" if level.scope else "pubnet_site_info"
    joined = ", ".join(f'"{label}"' for label in (level.label, *level.name_labels))
    return (f'query_result(label_join(count by ({grouped}) ({selector}), "display", " ", '
            f"{joined}))")


def option_regex(level: Level) -> str:
    """Text = the display label, value = the code (JavaScript named groups)."""
    return f'/display="(?<text>[^"]*)".*[{{,]{level.label}="(?<value>[^"]*)"/'


def datasource() -> builders.DatasourceVariable:
    return (builders.DatasourceVariable(ids.DATASOURCE_VAR).label("แหล่งข้อมูล · Data source")
            .type("prometheus")
            .current(models.VariableOption(selected=True, text=ids.DATASOURCE_NAME,
                                           value=ids.DATASOURCE_UID)))


def chained(level: Level, *, include_all: bool = True,
            multi: bool = True) -> builders.QueryVariable:
    query = option_query(level)
    variable = (builders.QueryVariable(level.variable).label(level.title).datasource(DATASOURCE)
                .query(query).definition(query).regex(option_regex(level))
                .refresh(models.VariableRefresh.ON_DASHBOARD_LOAD)
                .sort(models.VariableSort.ALPHABETICAL_ASC)
                .multi(multi).include_all(include_all)
                .description(f"{level.title}: code and name, from pubnet_site_info"))
    if include_all:
        variable = variable.all_value(ALL).current(
            models.VariableOption(selected=True, text="All", value="$__all"))
    return variable


def place(*, site: bool, single_site: bool = False) -> Sequence[
        builders.QueryVariable | builders.DatasourceVariable]:
    """datasource, province, district and (when ``site``) site, chained."""
    out: list[builders.QueryVariable | builders.DatasourceVariable] = [
        datasource(), chained(PROVINCE), chained(DISTRICT)]
    if site:
        out.append(chained(SITE, include_all=not single_site, multi=not single_site))
    return out


def sla_target() -> builders.ConstantVariable:
    """Availability a site owes, in percent (hidden; change ids.SLA_TARGET_PERCENT)."""
    return (builders.ConstantVariable("sla_target").label("SLA %")
            .value(f"{ids.SLA_TARGET_PERCENT:g}")
            .description("Availability target of a site over the dashboard range, percent"))


def link_choice() -> builders.QueryVariable:
    """Backbone links, any number of them (All by default)."""
    query = "label_values(pubnet_link_up, link)"
    return (builders.QueryVariable("link").label("ลิงก์ · Link").datasource(DATASOURCE)
            .query(query).definition(query)
            .refresh(models.VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(models.VariableSort.ALPHABETICAL_ASC).multi(True).include_all(True)
            .all_value(ALL)
            .current(models.VariableOption(selected=True, text="All", value="$__all"))
            .description("Backbone links from pubnet_link_up"))
