"""Every built dashboard round-trips through the SDK's models and validates against the
dashboard JSON Schema generated from them, panel options against their panel type."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as models

from dashboards.grafana import build_all, render, schema

DASHBOARDS = {d.uid: render.to_dict(d) for d in build_all()}


@pytest.mark.parametrize("uid", list(DASHBOARDS), ids=str)
def test_round_trips_through_the_sdk_models(uid: str) -> None:
    plugins.register_default_plugins()  # options and targets decode into their models
    original = DASHBOARDS[uid]
    decoded = models.Dashboard.from_json(copy.deepcopy(original))
    again = json.loads(json.dumps(decoded, cls=JSONEncoder, ensure_ascii=False))
    assert again == original


@pytest.mark.parametrize("uid", list(DASHBOARDS), ids=str)
def test_validates_against_the_schema(uid: str) -> None:
    assert schema.validate(DASHBOARDS[uid]) == []


def _first(dashboards: dict[str, dict[str, Any]], panel_type: str) -> dict[str, Any]:
    return next(p for d in dashboards.values() for p in d["panels"] if p["type"] == panel_type)


def _break_stat_options(d: dict[str, Any]) -> None:
    _first(d, "stat")["options"]["colorMode"] = "rainbow"


def _null_options(d: dict[str, Any]) -> None:
    _first(d, "stat")["options"] = None  # what the SDK's Grafana 10.1 build writes


def _unknown_panel_key(d: dict[str, Any]) -> None:
    _first(d, "table")["sortBy"] = []  # a panel-level key that belongs in options


def _unknown_target_key(d: dict[str, Any]) -> None:
    _first(d, "timeseries")["targets"][0]["legend"] = "{{site}}"  # legendFormat, really


def _string_grid(d: dict[str, Any]) -> None:
    _first(d, "stat")["gridPos"]["w"] = "6"


def _unknown_panel_type(d: dict[str, Any]) -> None:
    _first(d, "table")["type"] = "tabel"


def _missing_templating(d: dict[str, Any]) -> None:
    del d["pubnet-noc"]["templating"]


def _bad_custom(d: dict[str, Any]) -> None:
    _first(d, "timeseries")["fieldConfig"]["defaults"]["custom"]["fillOpacity"] = "10%"


def _bad_geomap_view(d: dict[str, Any]) -> None:
    _first(d, "geomap")["options"]["view"]["zoom"] = "far"


@pytest.mark.parametrize("damage", [
    _break_stat_options, _null_options, _unknown_panel_key, _unknown_target_key,
    _string_grid, _unknown_panel_type, _missing_templating, _bad_custom, _bad_geomap_view,
], ids=lambda f: f.__name__.lstrip("_"))
def test_schema_rejects_what_grafana_would(damage: Any) -> None:
    broken = copy.deepcopy(DASHBOARDS)
    damage(broken)
    problems = [p for d in broken.values() for p in schema.validate(d)]
    assert problems, f"{damage.__name__} passed validation"


def test_schema_knows_the_panel_types_used() -> None:
    generated = schema.dashboard_schema()
    panel = generated["$defs"]["dashboard.Panel"]
    used = {p["type"] for d in DASHBOARDS.values() for p in d["panels"] if p["type"] != "row"}
    assert used <= set(panel["properties"]["type"]["enum"])
    assert used == {"stat", "table", "timeseries", "state-timeline", "geomap"}
