"""What Grafana's dashboard-linter checks, in Python (the linter is a Go tool that cannot
be installed here), plus what pubnet's dashboards promise.

- every panel and target queries the templated ``datasource`` variable;
- panels have a title (unique in the dashboard) and a description, dashboards a title, a
  description and the ``pubnet`` tag;
- units are ones Grafana knows (the SDK's ``units`` module);
- a counter is only read through ``rate``/``increase`` over ``$__rate_interval``, and
  ``rate``/``increase`` only read counters;
- panels stay inside the 24-column grid and never overlap;
- every ``$variable`` a query uses is defined (or one of Grafana's built-ins);
- every metric a query uses is in pubnet's metric catalog (:func:`known_metric_names`), which
  a test keeps in step with the docs' metric tables; a catalog counter is one for the rate
  check too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.models import units

from dashboards.grafana import ids
from dashboards.grafana.promscan import ScanError, selectors, variable_expr
from pubnet import catalog

COLUMNS = 24
RATE_FUNCTIONS = frozenset({"rate", "increase", "irate"})
COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")
BUILTIN_VARIABLES = frozenset({
    "__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
    "__from", "__to", "__dashboard", "__org", "__user", "__all", "__url_time_range"})
DATASOURCE = {"type": "prometheus", "uid": "${" + ids.DATASOURCE_VAR + "}"}


def _known_units() -> frozenset[str]:
    return frozenset(value for name, value in vars(units).items()
                     if not name.startswith("_") and isinstance(value, str))


def known_metric_names() -> frozenset[str]:
    """Metric names a query may read: every name of the metric catalog
    (:mod:`pubnet.catalog`), a histogram's ``_bucket``/``_count``/``_sum`` series included.
    ``tests/shell/test_catalog.py`` keeps the docs' metric tables in step with it."""
    return catalog.series_names()


@dataclass(frozen=True, slots=True)
class Problem:
    dashboard: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.dashboard}: {self.where}: {self.message}"


def _is_counter(metric: str) -> bool:
    """A catalog counter; other names (a histogram's series) by their suffix."""
    known = catalog.lookup(metric)
    if known is not None:
        return known.kind is catalog.Kind.COUNTER
    return metric.endswith(COUNTER_SUFFIXES)


def _variables(expr: str) -> set[str]:
    found = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}", expr))
    found.update(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", expr))
    found.update(re.findall(r"\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]", expr))
    return found


def check_expr(expr: str, known: frozenset[str] | None) -> Iterator[str]:
    """Problems of one PromQL expression (counters, rate windows, unknown metrics)."""
    try:
        found = selectors(expr)
    except ScanError as exc:
        yield f"cannot read the query: {exc}"
        return
    for sel in found:
        inner = sel.functions[0] if sel.functions else None
        if _is_counter(sel.metric):
            if inner not in RATE_FUNCTIONS:
                yield f"counter {sel.metric} is read without rate() or increase()"
            elif sel.range != "$__rate_interval":
                yield (f"{inner}({sel.metric}[{sel.range}]) should use "
                       "[$__rate_interval]")
        elif inner in RATE_FUNCTIONS:
            yield f"{inner}() of {sel.metric}, which is not a counter"
        if known is not None and sel.metric not in known:
            yield (f"metric {sel.metric} is not documented: it is not in the metric catalog "
                   "(pubnet/catalog.py)")


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row's panels


def _units(panel: dict[str, Any]) -> Iterator[str]:
    field_config = panel.get("fieldConfig", {})
    unit = field_config.get("defaults", {}).get("unit")
    if unit is not None:
        yield unit
    for override in field_config.get("overrides", []):
        for prop in override.get("properties", []):
            if prop.get("id") == "unit":
                yield prop.get("value")


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def lint(dashboard: dict[str, Any], known: frozenset[str] | None = None) -> list[Problem]:
    """Every problem of one dashboard (its JSON as written); ``known`` metric names come
    from :func:`known_metric_names` (None skips that check)."""
    uid = str(dashboard.get("uid", "?"))
    problems: list[Problem] = []

    def problem(where: str, message: str) -> None:
        problems.append(Problem(uid, where, message))

    for key in ("title", "description"):
        if not str(dashboard.get(key, "")).strip():
            problem("dashboard", f"no {key}")
    if ids.TAG not in dashboard.get("tags", []):
        problem("dashboard", f"missing tag {ids.TAG!r}")
    variables = dashboard.get("templating", {}).get("list", [])
    defined = {v.get("name") for v in variables}
    datasource_vars = [v for v in variables if v.get("name") == ids.DATASOURCE_VAR]
    if not datasource_vars or datasource_vars[0].get("type") != "datasource" or \
            datasource_vars[0].get("query") != "prometheus":
        problem("templating", f"no Prometheus datasource variable {ids.DATASOURCE_VAR!r}")
    for var in variables:
        if var.get("type") != "query":
            continue
        if var.get("datasource") != DATASOURCE:
            problem(f"variable {var.get('name')}", "does not query the datasource variable")
        expr = variable_expr(str(var.get("query", "")))
        for message in check_expr(expr or "", known):
            problem(f"variable {var.get('name')}", message)

    unit_names = _known_units()
    placed: list[tuple[str, dict[str, int]]] = []
    panel_ids: set[int] = set()
    titles: set[str] = set()
    for panel in _panels(dashboard):
        title = str(panel.get("title", ""))
        where = f"panel {title or panel.get('id')!r}"
        pos = panel.get("gridPos") or {}
        if not all(isinstance(pos.get(k), int) for k in ("x", "y", "w", "h")):
            problem(where, "no grid position")
        elif pos["x"] < 0 or pos["w"] < 1 or pos["h"] < 1 or pos["x"] + pos["w"] > COLUMNS:
            problem(where, f"overflows the {COLUMNS}-column grid: {pos}")
        else:
            for other_title, other in placed:
                if _overlap(pos, other):
                    problem(where, f"overlaps panel {other_title!r}")
            placed.append((title, pos))
        if panel.get("id") in panel_ids:
            problem(where, f"duplicate panel id {panel.get('id')}")
        panel_ids.add(panel.get("id", -1))
        if not title.strip():
            problem(where, "no title")
        elif title in titles:
            problem(where, "another panel has the same title")
        titles.add(title)
        if panel.get("type") == "row":
            continue
        if not str(panel.get("description", "")).strip():
            problem(where, "no description")
        if panel.get("datasource") != DATASOURCE:
            problem(where, f"datasource is not the {ids.DATASOURCE_VAR!r} variable")
        for unit in _units(panel):
            if unit not in unit_names:
                problem(where, f"unknown unit {unit!r}")
        targets = panel.get("targets") or []
        if not targets:
            problem(where, "no query")
        ref_ids = [t.get("refId") for t in targets]
        if any(not r for r in ref_ids) or len(set(ref_ids)) != len(ref_ids):
            problem(where, f"refIds must be set and unique: {ref_ids}")
        for target in targets:
            tw = f"{where} query {target.get('refId')}"
            if target.get("datasource") != DATASOURCE:
                problem(tw, f"datasource is not the {ids.DATASOURCE_VAR!r} variable")
            expr = str(target.get("expr", ""))
            for name in sorted(_variables(expr) - defined - BUILTIN_VARIABLES):
                problem(tw, f"uses undefined variable ${name}")
            for message in check_expr(expr, known):
                problem(tw, message)
    return problems
