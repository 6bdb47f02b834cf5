"""Explicit placement on the 24-column grid (the SDK's auto-layout overflows it)."""

from __future__ import annotations

import pytest
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.builders import stat

from dashboards.grafana.layout import Grid, LayoutError


def _positions(dashboard: builders.Dashboard) -> list[tuple[str, int, int, int, int, int]]:
    built = dashboard.build()
    out = []
    for panel in built.panels or []:
        pos = panel.grid_pos
        assert pos is not None and panel.id_val is not None
        out.append((str(panel.title), panel.id_val, pos.x, pos.y, pos.w, pos.h))
    return out


def test_panels_wrap_before_they_would_overflow() -> None:
    dashboard = builders.Dashboard("t")
    grid = Grid(dashboard)
    grid.add(stat.Panel().title("a"), 16, 4)
    grid.add(stat.Panel().title("b"), 12, 6)  # 16 + 12 > 24: next line, not x=16
    grid.add(stat.Panel().title("c"), 12, 3)
    grid.row("r")
    grid.add(stat.Panel().title("d"), 24, 2)
    assert _positions(dashboard) == [
        ("a", 1, 0, 0, 16, 4), ("b", 2, 0, 4, 12, 6), ("c", 3, 12, 4, 12, 3),
        ("r", 4, 0, 10, 24, 1), ("d", 5, 0, 11, 24, 2)]
    row = dashboard.build().panels[3]  # type: ignore[index]
    assert row.collapsed is False and row.panels == []


def test_sdk_auto_layout_overflows_where_grid_does_not() -> None:
    """The pitfall the Grid exists for: the SDK places a 12-wide panel at x=16."""
    sdk = (builders.Dashboard("t").with_panel(stat.Panel().title("a").span(16))
           .with_panel(stat.Panel().title("b").span(12))).build()
    pos = sdk.panels[1].grid_pos  # type: ignore[index,union-attr]
    assert pos is not None and pos.x + pos.w > 24


@pytest.mark.parametrize(("width", "height"), [(25, 4), (0, 4), (6, 0)],
                         ids=["wider-than-the-grid", "no-width", "no-height"])
def test_a_panel_that_cannot_fit_is_an_error(width: int, height: int) -> None:
    with pytest.raises(LayoutError, match="does not fit"):
        Grid(builders.Dashboard("t")).add(stat.Panel().title("wide"), width, height)
