"""Panel builders the five dashboards share.

Each helper returns an SDK panel builder with the templated datasource on the panel and on
every target, ``refId``s set (the SDK leaves them empty), a description, a unit, and the
thresholds and legends an operator expects. Dashboards place the panels with
:class:`dashboards.grafana.layout.Grid`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import (
    common as common_builders,
)
from grafana_foundation_sdk.builders import (
    geomap,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import geomap as geomap_models
from grafana_foundation_sdk.models import prometheus as prom_models

from dashboards.grafana import ids

DATASOURCE = common.DataSourceRef(type_val="prometheus", uid="${" + ids.DATASOURCE_VAR + "}")
"""Every panel and target queries the dashboard's ``datasource`` variable."""

GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"


@dataclass(frozen=True, slots=True)
class Query:
    """One panel target."""

    expr: str
    legend: str = ""
    instant: bool = False
    """One value per series at the end of the range (stat panels)."""
    table: bool = False
    """An instant query in table format (table and geomap panels)."""


@dataclass(frozen=True, slots=True)
class Step:
    """A threshold step: from ``value`` up (None: the base) the colour is ``color``."""

    value: float | None
    color: str


def _targets(queries: Sequence[Query]) -> list[cogbuilder.Builder[prom_models.Dataquery]]:
    out: list[cogbuilder.Builder[prom_models.Dataquery]] = []
    for index, query in enumerate(queries):
        target = (prometheus.Dataquery().expr(query.expr).ref_id(chr(ord("A") + index))
                  .datasource(DATASOURCE).editor_mode(prom_models.QueryEditorMode.CODE))
        if query.legend:
            target = target.legend_format(query.legend)
        if query.table:
            target = target.instant().format(prom_models.PromQueryFormat.TABLE)
        elif query.instant:
            target = target.instant()
        else:
            target = target.range()
        out.append(target)
    return out


def thresholds(steps: Sequence[Step]) -> models.ThresholdsConfig:
    return models.ThresholdsConfig(
        mode=models.ThresholdsMode.ABSOLUTE,
        steps=[models.Threshold(value=s.value, color=s.color) for s in steps])


class _Thresholds(cogbuilder.Builder[models.ThresholdsConfig]):
    def __init__(self, steps: Sequence[Step]) -> None:
        self._config = thresholds(steps)

    def build(self) -> models.ThresholdsConfig:
        return self._config


def value_map(texts: Mapping[str, tuple[str, str]]) -> list[models.ValueMapping]:
    """Values shown as words: ``{"0": ("ล่ม · down", RED)}``."""
    return [models.ValueMap(options={
        value: models.ValueMappingResult(text=text, color=color, index=index)
        for index, (value, text, color) in enumerate(
            (v, t, c) for v, (t, c) in texts.items())
    })]


UP_DOWN = {"1": ("ใช้งานได้ · up", GREEN), "0": ("ล่ม · down", RED)}


def link(title: str, url: str) -> dict[str, object]:
    """A data link (``${__data.fields.x}`` and ``${var:queryparam}`` are expanded)."""
    return {"title": title, "url": url}


def links_on(field: str, data_links: Sequence[dict[str, object]]) -> tuple[str, list[
        models.DynamicConfigValue]]:
    return field, [models.DynamicConfigValue(id_val="links", value=list(data_links))]


def stat_panel(title: str, description: str, queries: Sequence[Query], *, unit: str,
               steps: Sequence[Step], decimals: int | None = 0,
               mappings: Mapping[str, tuple[str, str]] | None = None,
               graph: bool = False) -> stat.Panel:
    """A big number coloured by its thresholds (background, so it reads across the room)."""
    panel = (stat.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(list(_targets(queries))).unit(unit).thresholds(_Thresholds(steps))
             .color_mode(common.BigValueColorMode.BACKGROUND)
             .graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
             .text_mode(common.BigValueTextMode.VALUE)
             .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"])
                             .values(False)))
    if decimals is not None:
        panel = panel.decimals(decimals)
    if mappings:
        panel = panel.mappings(value_map(mappings))
    return panel


def bad_above(warn: float, alarm: float) -> list[Step]:
    """Thresholds for what should stay low (lag, errors, things down): green, orange from
    ``warn``, red from ``alarm``."""
    return [Step(None, GREEN), Step(warn, ORANGE), Step(alarm, RED)]


def good_above(warn: float, good: float) -> list[Step]:
    """Thresholds for what should stay high (availability): red, orange from ``warn``, green
    from ``good``."""
    return [Step(None, RED), Step(warn, ORANGE), Step(good, GREEN)]


def site_status_stat(title: str, description: str, expr: str, *, bad_when_above: bool,
                     warn: float = 1, alarm: float = 10) -> stat.Panel:
    """A count of sites (or villages, links): red when many are down, green when none."""
    if bad_when_above:
        steps = bad_above(warn, alarm)
    else:
        steps = [Step(None, BLUE)]
    return stat_panel(title, description, [Query(expr, instant=True)], unit="none",
                      steps=steps)


def up_down_stat(title: str, description: str, expr: str) -> stat.Panel:
    """One thing's state in words: green "up", red "down"."""
    return stat_panel(title, description, [Query(expr, instant=True)], unit="none",
                      steps=[Step(None, RED), Step(1, GREEN)], mappings=UP_DOWN)


def _organize(hide: Sequence[str], rename: Mapping[str, str],
              order: Sequence[str]) -> models.DataTransformerConfig:
    return models.DataTransformerConfig(id_val="organize", options={
        "excludeByName": {name: True for name in ("Time", "__name__", "job", "instance",
                                                  *hide)},
        "renameByName": dict(rename),
        "indexByName": {name: i for i, name in enumerate(order)},
    })


def table_panel(title: str, description: str, queries: Sequence[Query], *,
                columns: Mapping[str, str], hide: Sequence[str] = (),
                sort_by: str | None = None, descending: bool = True,
                units: Mapping[str, str] | None = None,
                field_steps: Mapping[str, Sequence[Step]] | None = None,
                mappings: Mapping[str, Mapping[str, tuple[str, str]]] | None = None,
                data_links: Sequence[tuple[str, list[models.DynamicConfigValue]]] = (),
                ) -> table.Panel:
    """Rows from instant table queries, merged on their labels when there are several.

    ``columns`` maps field names (labels, ``Value`` or ``Value #B``) to the titles shown, in
    display order; ``units``, ``field_steps`` (coloured cells) and ``mappings`` are keyed by
    those titles. ``sort_by`` names a title (worst first by default).
    """
    panel = (table.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(list(_targets(queries))).cell_height(common.TableCellHeight.SM))
    if len(queries) > 1:
        panel = panel.with_transformation(models.DataTransformerConfig(id_val="merge",
                                                                       options={}))
    panel = panel.with_transformation(_organize(hide, columns, list(columns)))
    if sort_by is not None:
        panel = panel.sort_by([common_builders.TableSortByFieldState().display_name(sort_by)
                               .desc(descending)])
    for name, unit in (units or {}).items():
        panel = panel.override_by_name(name, [models.DynamicConfigValue(id_val="unit",
                                                                        value=unit)])
    for name, steps in (field_steps or {}).items():
        panel = panel.override_by_name(name, [
            models.DynamicConfigValue(id_val="thresholds", value=thresholds(steps).to_json()),
            models.DynamicConfigValue(id_val="custom.cellOptions",
                                      value={"type": "color-background"}),
        ])
    for name, texts in (mappings or {}).items():
        panel = panel.override_by_name(name, [
            models.DynamicConfigValue(id_val="mappings",
                                      value=[m.to_json() for m in value_map(texts)]),
            models.DynamicConfigValue(id_val="custom.cellOptions",
                                      value={"type": "color-background"}),
        ])
    for name, properties in data_links:
        panel = panel.override_by_name(name, properties)
    return panel


def timeseries_panel(title: str, description: str, queries: Sequence[Query], *, unit: str,
                     stacked: bool = False, steps: Sequence[Step] | None = None,
                     minimum: float | None = 0, maximum: float | None = None,
                     legend_calcs: Sequence[str] = ("mean", "max")) -> timeseries.Panel:
    """Lines over the dashboard range, with a table legend of mean and max per series."""
    panel = (timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(list(_targets(queries))).unit(unit).fill_opacity(10).line_width(1)
             .legend(common_builders.VizLegendOptions()
                     .display_mode(common.LegendDisplayMode.TABLE)
                     .placement(common.LegendPlacement.BOTTOM).show_legend(True)
                     .calcs(list(legend_calcs)))
             .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                      .sort(common.SortOrder.DESCENDING)))
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if stacked:
        panel = (panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
                 .fill_opacity(60))
    if steps is not None:
        panel = (panel.thresholds(_Thresholds(steps))
                 .thresholds_style(common_builders.GraphThresholdsStyleConfig()
                                   .mode(common.GraphThresholdsStyleMode.DASHED)))
    return panel


def state_timeline_panel(title: str, description: str, queries: Sequence[Query], *,
                         mappings: Mapping[str, tuple[str, str]]) -> statetimeline.Panel:
    """One lane per series, coloured by the mapped state (up/down, connected/not)."""
    return (statetimeline.Panel().title(title).description(description)
            .datasource(DATASOURCE).targets(list(_targets(queries)))
            .mappings(value_map(mappings)).thresholds(_Thresholds([Step(None, BLUE)]))
            .show_value(common.VisibilityMode.NEVER).merge_values(True).fill_opacity(80)
            .line_width(0).row_height(0.8)
            .legend(common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                    .placement(common.LegendPlacement.BOTTOM).show_legend(False)))


def geomap_panel(title: str, description: str, *, background: Query, markers: Query,
                 center: tuple[int, int], zoom: int) -> geomap.Panel:
    """A map that stays usable at 25,000 sites: ``background`` (every site that is up) is
    drawn as one light heatmap layer, ``markers`` (the sites that are not up, a handful on a
    normal day) as red markers with a tooltip. Latitude and longitude arrive as the ``lat``
    and ``lon`` labels of ``pubnet_site_info`` and are turned into numbers first."""
    location = (common_builders.FrameGeometrySource().mode(common.FrameGeometrySourceMode.COORDS)
                .latitude("lat").longitude("lon"))
    heat = (common_builders.MapLayerOptions().type("heatmap").name("ใช้งานได้ · up")
            .location(location).filter_data({"id": "byRefId", "options": "A"})
            .tooltip(False).opacity(1)
            .config({"blur": 12, "radius": 4, "weight": {"fixed": 1, "min": 0, "max": 1}}))
    down = (common_builders.MapLayerOptions().type("markers").name("ล่ม · down")
            .location(location).filter_data({"id": "byRefId", "options": "B"})
            .tooltip(True).opacity(1)
            .config({"showLegend": False,
                     "style": {"color": {"fixed": RED}, "opacity": 0.9,
                               "size": {"fixed": 7, "min": 2, "max": 15},
                               "symbol": {"fixed": "img/icons/marker/circle.svg",
                                          "mode": "fixed"},
                               "symbolAlign": {"horizontal": "center",
                                               "vertical": "center"}}}))
    to_numbers = models.DataTransformerConfig(id_val="convertFieldType", options={
        "fields": {},
        "conversions": [{"targetField": "lat", "destinationType": "number"},
                        {"targetField": "lon", "destinationType": "number"}],
    })
    return (geomap.Panel().title(title).description(description).datasource(DATASOURCE)
            .targets(list(_targets([background, markers])))
            .with_transformation(to_numbers)
            .view(geomap.MapViewConfig().id("coords").lat(center[0]).lon(center[1])
                  .zoom(zoom))
            .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True)
                      .show_attribution(True))
            .basemap(common_builders.MapLayerOptions().type("default").name("Basemap"))
            .layers([heat, down])
            .tooltip(geomap.TooltipOptions().mode(geomap_models.TooltipMode.DETAILS)))
