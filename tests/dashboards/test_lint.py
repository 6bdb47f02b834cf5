"""The dashboard lint: clean on what we ship, and it catches each thing it checks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from dashboards.grafana import build_all, lint, render
from dashboards.grafana.promscan import ScanError, Selector, selectors, variable_expr

KNOWN = lint.known_metric_names()
DASHBOARDS = {d.uid: render.to_dict(d) for d in build_all()}


@pytest.mark.parametrize("uid", list(DASHBOARDS), ids=str)
def test_shipped_dashboards_are_clean(uid: str) -> None:
    assert [str(p) for p in lint.lint(DASHBOARDS[uid], KNOWN)] == []


def test_known_metric_names_come_from_the_catalog() -> None:
    for name in ("pubnet_site_up", "pubnet_site_info", "pubnet_device_poll_status",
                 "pubnet_interface_receive_bytes_total", "pubnet_mqtt_messages_total",
                 "pubnet_influx_buffer_points", "pubnet_poll_duration_seconds_bucket",
                 "pubnet_state_dropped_total", "pubnet_link_utilization_ratio"):
        assert name in KNOWN, name
    assert "pubnet_site_info_bucket" not in KNOWN  # only histograms get the suffixes


def _panel(d: dict[str, Any], title_part: str) -> dict[str, Any]:
    return next(p for p in d["panels"] if title_part in p["title"])


def _expr(d: dict[str, Any], title_part: str, expr: str) -> None:
    _panel(d, title_part)["targets"][0]["expr"] = expr


MUTATIONS: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("overflow", "pubnet-noc",
     lambda d: _panel(d, "Site map")["gridPos"].update(x=20), "overflows"),
    ("overlap", "pubnet-noc",
     lambda d: _panel(d, "Sites down")["gridPos"].update(x=0), "overlaps"),
    ("no description", "pubnet-noc",
     lambda d: _panel(d, "Sites down").pop("description"), "no description"),
    ("hard-coded datasource", "pubnet-noc",
     lambda d: _panel(d, "Sites down").update(datasource={"type": "prometheus",
                                                          "uid": "prod"}),
     "datasource is not"),
    ("target datasource", "pubnet-noc",
     lambda d: _panel(d, "Sites down")["targets"][0].pop("datasource"), "datasource is not"),
    ("unknown unit", "pubnet-health",
     lambda d: _panel(d, "Poll lag")["fieldConfig"]["defaults"].update(unit="seconds"),
     "unknown unit"),
    ("raw counter", "pubnet-health",
     lambda d: _expr(d, "SNMP requests", "sum(pubnet_snmp_requests_total)"),
     "without rate"),
    ("fixed rate window", "pubnet-health",
     lambda d: _expr(d, "SNMP requests", "sum(rate(pubnet_snmp_requests_total[5m]))"),
     "$__rate_interval"),
    ("rate of a gauge", "pubnet-health",
     lambda d: _expr(d, "Poll lag", "rate(pubnet_poll_lag_seconds[$__rate_interval])"),
     "not a counter"),
    ("undocumented metric", "pubnet-noc",
     lambda d: _expr(d, "Sites down", "count(pubnet_sites_up == 0)"), "not documented"),
    ("undefined variable", "pubnet-noc",
     lambda d: _expr(d, "Sites down", 'count(pubnet_site_up{region=~"$region"} == 0)'),
     "undefined variable $region"),
    ("duplicate refId", "pubnet-health",
     lambda d: _panel(d, "SNMP requests")["targets"][1].update(refId="A"), "refIds"),
    ("duplicate title", "pubnet-noc",
     lambda d: _panel(d, "Sites up").update(title=_panel(d, "Sites down")["title"]),
     "same title"),
    ("no datasource variable", "pubnet-health",
     lambda d: d["templating"].update(list=[]), "datasource variable"),
    ("missing tag", "pubnet-site", lambda d: d.update(tags=[]), "missing tag"),
    ("variable metric", "pubnet-backbone",
     lambda d: d["templating"]["list"][1].update(query="label_values(pubnet_links_up, link)"),
     "not documented"),
]


@pytest.mark.parametrize(("uid", "mutate", "expected"),
                         [(u, m, e) for _, u, m, e in MUTATIONS],
                         ids=[name for name, *_ in MUTATIONS])
def test_lint_catches(uid: str, mutate: Callable[[dict[str, Any]], None],
                      expected: str) -> None:
    broken = copy.deepcopy(DASHBOARDS[uid])
    mutate(broken)
    problems = [str(p) for p in lint.lint(broken, KNOWN)]
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(("expr", "expected"), [
    ("pubnet_site_up", [Selector("pubnet_site_up", (), None)]),
    ('sum by (province) (pubnet_site_up{province=~"$province"})',
     [Selector("pubnet_site_up", ("sum",), None)]),
    ("histogram_quantile(0.9, sum by (le) (rate(x_bucket[$__rate_interval])))",
     [Selector("x_bucket", ("rate", "sum", "histogram_quantile"), "$__rate_interval")]),
    ("a * on (site) group_left (name, village) b",
     [Selector("a", (), None), Selector("b", (), None)]),
    ('label_join(count by (site, name) (c{d="e"}), "display", " ", "site", "name")',
     [Selector("c", ("count", "label_join"), None)]),
    ("count(x == 0) or vector(0)", [Selector("x", ("count",), None)]),
    ("min_over_time(x[1h]) == 0 and on (link) y",
     [Selector("x", ("min_over_time",), "1h"), Selector("y", (), None)]),
    ("topk(20, max by (link) (u))", [Selector("u", ("max", "topk"), None)]),
], ids=["bare", "aggregated", "histogram-quantile", "group-left", "label-join", "or-vector",
      "and-on", "topk"])
def test_selectors(expr: str, expected: list[Selector]) -> None:
    assert selectors(expr) == expected


@pytest.mark.parametrize("expr", ["sum(x", "x)", "a{b='c'", "a # b"],
                         ids=["unclosed-paren", "stray-paren", "unclosed-brace", "comment"])
def test_selectors_reject_broken_queries(expr: str) -> None:
    with pytest.raises(ScanError):
        selectors(expr)


def test_variable_queries() -> None:
    assert variable_expr("label_values(pubnet_link_up, link)") == "pubnet_link_up"
    assert variable_expr("query_result(count(x))") == "count(x)"
    assert variable_expr("label_values(site)") is None
